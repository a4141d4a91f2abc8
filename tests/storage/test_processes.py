"""The database under real server processes: two workers, a SIGKILL, start-up failures.

Every server here is `uvicorn --factory service.app:create_app` on a free port, in
jwt mode, on a SQLite file or the real PostgreSQL (`shared_database_url`).
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from service.storage.store import Store
from tests.storage.service_under_test import (
    ORDER_SELECT,
    ORDER_SIGN,
    PATIENT_VIEW,
    SignedHttp,
    a_card_uuid,
    jwt_settings,
    log_dir,
    order_body,
    overridden,
    patient_view_body,
)
from tests.support.ehr import Ehr
from tests.support.processes import finished, free_port
from tests.support.service_process import UVICORN, service_process


def count(database_url: str, table: str) -> int:
    store = Store.open(database_url, migrate_schema=False)
    try:
        with store.engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        store.close()


def test_two_workers_under_concurrent_load_answer_every_call_and_lose_nothing(
    shared_database_url: str, tmp_path: Path
) -> None:
    """The review's deadlock: two workers, concurrent order-selects updating the same
    shown-card rows. Every call must be a 200, every card logged, every feedback kept."""
    ehr = Ehr(tmp_path)
    # A generous budget: this test is about lost writes and deadlocks, not a slow machine.
    settings = jwt_settings(ehr, shared_database_url, CDS_DATABASE_HOOK_BUDGET_S="10")
    statuses: Counter[int] = Counter()
    signed_topics: Counter[str] = Counter()
    cards_returned: list[str] = []
    feedback_sent: set[str] = set()
    lock = threading.Lock()

    def one_round(seed: int) -> None:
        client = SignedHttp(server.base_url, ehr)
        shuffle = random.Random(seed)
        responses = [
            client.post(ORDER_SELECT, order_body("order-select", shuffle)),
            client.post(ORDER_SELECT, order_body("order-select", shuffle)),
            client.post(PATIENT_VIEW, patient_view_body()),
        ]
        sign = order_body("order-sign", shuffle)
        sign["extension"] = {"org.footdrop-cds.suppress-repeated-cards": True}
        responses.append(client.post(ORDER_SIGN, sign))
        uuids = [c["uuid"] for r in responses if r.status_code == 200 for c in r.json()["cards"]]
        items = [overridden(uuid) for uuid in uuids[:2]] + [overridden(a_card_uuid())]
        responses.append(client.post(f"{PATIENT_VIEW}/feedback", {"feedback": items}))
        with lock:
            statuses.update(r.status_code for r in responses)
            if responses[3].status_code == 200:
                signed_topics.update(
                    c["source"]["topic"]["code"] for c in responses[3].json()["cards"]
                )
            cards_returned.extend(uuids)
            if responses[-1].status_code == 200:
                feedback_sent.update(item["card"] for item in items)

    with service_process(log_dir(tmp_path) / "workers.log", settings, workers=2) as server:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one_round, range(64)))
        output = server.output()
    assert statuses == Counter({200: 64 * 5}), output[-3000:]
    assert output.count("Started server process") >= 2  # the load met two workers
    assert "internal error" not in output
    # Every order-select's memory was written (a deadlocked or failed write would let
    # order-sign repeat the warning): only the critical card is shown again.
    warnings = [line for line in output.splitlines() if "database unavailable" in line]
    assert signed_topics == Counter({"dalfampridine-contraindicated": 64}), warnings[:10]
    assert "database unavailable" not in output
    # Shutdown drained each worker's card log: every card returned is in it, once.
    assert count(shared_database_url, "issued_cards") == len(set(cards_returned))
    assert count(shared_database_url, "feedback") == len(feedback_sent)


def test_feedback_acknowledged_before_a_sigkill_is_there_after_restart(
    shared_database_url: str, tmp_path: Path
) -> None:
    ehr = Ehr(tmp_path)
    settings = jwt_settings(ehr, shared_database_url)
    logs = log_dir(tmp_path)
    acknowledged: list[str] = []
    with service_process(logs / "before.log", settings) as server:
        client = SignedHttp(server.base_url, ehr)
        card = client.post(PATIENT_VIEW, patient_view_body()).json()["cards"][0]["uuid"]
        for card_uuid in [card, *(a_card_uuid() for _ in range(19))]:
            response = client.post(
                f"{PATIENT_VIEW}/feedback", {"feedback": [overridden(card_uuid)]}
            )
            assert response.status_code == 200
            acknowledged.append(card_uuid)
        server.kill()  # no shutdown handler, no flush: only what was committed survives
    with service_process(logs / "after.log", settings) as server:
        report = SignedHttp(server.base_url, ehr).analytics()
    overridden_total = sum(row["overridden"] for row in report["totals"])
    assert overridden_total == len(acknowledged) == count(shared_database_url, "feedback")


class NeverAnswers:
    """A TCP listener that accepts connections and never says a word (a hung database)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for held in self.held:
            held.close()


def start(settings: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """Start the server and expect it to end by itself (a refused start-up)."""
    return finished([*UVICORN, "--port", str(free_port())], timeout_s, **settings)


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("footdrop-cds:")]
    assert len(lines) == 1, result.stderr
    for part in expected:
        assert part in lines[0]
    return lines[0]


def test_start_up_against_a_database_that_never_answers_fails_fast_with_one_line(
    tmp_path: Path,
) -> None:
    hung = NeverAnswers()
    try:
        url = f"postgresql+psycopg://postgres:secret@127.0.0.1:{hung.port}/test"
        settings = {"CDS_DATABASE_URL": url, "CDS_DATABASE_TIMEOUT_S": "2"}
        # The subprocess timeout is the proof: the old start-up hung here forever.
        line = assert_one_line(start(settings, timeout_s=30), f"127.0.0.1:{hung.port}/test")
        assert "secret" not in line and "***" in line
    finally:
        hung.close()


def test_start_up_against_a_database_that_is_down_fails_with_one_line() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    assert_one_line(start({"CDS_DATABASE_URL": url}, timeout_s=30), "database")


def test_jwt_mode_without_a_patient_hash_key_fails_with_one_line(tmp_path: Path) -> None:
    settings = jwt_settings(Ehr(tmp_path), f"sqlite:///{tmp_path / 'cds.db'}")
    del settings["CDS_PATIENT_HASH_KEY"]
    assert_one_line(start(settings), "CDS_PATIENT_HASH_KEY")
    settings["CDS_PATIENT_HASH_KEY"] = "too-short"
    line = assert_one_line(start(settings), "CDS_PATIENT_HASH_KEY", "at least 32")
    assert "too-short" not in line


def test_migrations_on_start_or_by_command(tmp_path: Path, shared_database_url: str) -> None:
    checking = {"CDS_DATABASE_URL": shared_database_url, "CDS_DATABASE_MIGRATE": "check"}
    assert_one_line(start(checking), "footdrop-cds migrate")
    migrate = finished(
        [str(Path(UVICORN[0]).with_name("footdrop-cds")), "migrate"], timeout=60, **checking
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "schema up to date" in migrate.stdout
    with service_process(tmp_path / "checked.log", checking) as server:
        assert server.process.poll() is None
