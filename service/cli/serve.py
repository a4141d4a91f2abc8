"""`footdrop-cds serve`: uvicorn with the factory, CDS_WORKERS processes, JSON logs.

The settings are checked here first, so a configuration error is one line from
the command rather than one per worker. With several workers, metrics are kept
in a directory shared by them (prometheus-client's multiprocess mode) so that
/metrics, whichever worker answers it, reports the whole server.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import uvicorn

from service.app import settings_or_exit
from service.observability.logs import configure_logging
from service.observability.metrics import MULTIPROCESS_DIR

APP = "service.app:create_app"


def serve(host: str, port: int, workers: int | None) -> None:
    settings = settings_or_exit()
    configure_logging(settings.log_level)
    count = workers or settings.workers
    metrics_dir = None
    if count > 1 and not os.environ.get(MULTIPROCESS_DIR):
        metrics_dir = tempfile.mkdtemp(prefix="footdrop-cds-metrics-")
        os.environ[MULTIPROCESS_DIR] = metrics_dir  # inherited by the workers, read at import
    try:
        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=count,
            log_config=None,  # our JSON lines (configure_logging), not uvicorn's text format
            access_log=False,  # one line per request comes from the app, with its CDS facts
            server_header=False,
            limit_concurrency=settings.limit_concurrency,
            timeout_keep_alive=settings.keep_alive_s,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
