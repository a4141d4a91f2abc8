"""Transactions that lose a deadlock are recognised and run again; connections time out."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from service.storage.database import create_db_engine, is_retryable, retrying
from tests.support.postgres import postgres_schema


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_schema()


def test_two_transactions_locking_in_opposite_orders_both_commit(postgres_url: str) -> None:
    """A real PostgreSQL deadlock: one side is chosen as the victim, recognised, retried."""
    engine = create_db_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE pair (id int PRIMARY KEY, hits int)"))
        connection.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    both_hold_one = threading.Barrier(2, timeout=10)
    victims: list[DBAPIError] = []

    def transfer(first: int, second: int) -> None:
        attempts = 0

        def work() -> None:
            nonlocal attempts
            attempts += 1
            try:
                with engine.begin() as connection:
                    update = text("UPDATE pair SET hits = hits + 1 WHERE id = :id")
                    connection.execute(update, {"id": first})
                    if attempts == 1:
                        both_hold_one.wait()
                    connection.execute(update, {"id": second})
            except DBAPIError as error:
                victims.append(error)
                raise

        retrying(work)

    threads = [threading.Thread(target=transfer, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(victims) == 1 and is_retryable(victims[0])
    with engine.connect() as connection:
        assert connection.execute(text("SELECT sum(hits) FROM pair")).scalar() == 4
    engine.dispose()


def test_other_errors_are_not_retried() -> None:
    calls = 0

    def work() -> None:
        nonlocal calls
        calls += 1
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        retrying(work)
    assert calls == 1
