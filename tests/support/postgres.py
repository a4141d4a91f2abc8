"""A throwaway schema on the local PostgreSQL, so tests never touch other tables.

Tests skip with the reason when no server answers on 127.0.0.1:5432 (or at
CDS_TEST_POSTGRES_URL), except in CI: there `.ci/run` sets
CDS_TEST_REQUIRE_POSTGRES=1 and an unreachable server fails the run instead of
silently testing SQLite only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

POSTGRES = os.environ.get(
    "CDS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRED = os.environ.get("CDS_TEST_REQUIRE_POSTGRES") == "1"


def url_with_schema(schema: str, base: str = POSTGRES) -> str:
    return f"{base}?options=-csearch_path%3D{schema}"


def postgres_schema() -> Iterator[str]:
    """Yield a database URL whose tables live in a new schema, dropped afterwards."""
    schema = f"feedback_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as error:
        admin.dispose()
        where = POSTGRES.rsplit("@", 1)[-1]
        reason = f"PostgreSQL at {where} is not reachable ({type(error.orig).__name__})"
        if REQUIRED:
            pytest.fail(f"{reason}, and CDS_TEST_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(reason)
    try:
        yield url_with_schema(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
