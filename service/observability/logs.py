"""Logs as one JSON object per line, for a log pipeline to index without parsing text.

A record carries its message and, from `extra={"fields": {...}}`, structured fields.
Exceptions are logged as their type and stack frames only: an exception's message
can quote the request (patient data), so it is never written.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

#: Loggers of libraries that, at DEBUG or INFO, write URLs (with patient ids) or SQL.
QUIET_LIBRARIES = (
    "httpx",
    "httpcore",
    "urllib3",
    "sqlalchemy",
    "alembic",
    "jwt",
    "asyncio",
    "multipart",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["stack"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(entry, default=str)


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler this module installs on the root logger (found again by type)."""


def configure_logging(level: str) -> None:
    """JSON lines on stderr at `level`; noisy libraries at WARNING whatever the level."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _JsonHandler)), None)
    if handler is None:
        handler = _JsonHandler(sys.stderr)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter())
    root.setLevel(level)
    logging.getLogger("service").setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
