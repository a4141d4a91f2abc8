"""The benchmark: the service beside the floor, on the same requests, in one run.

Three servers run side by side on the server CPU for the whole run: the floor
(bench/floor.py), the service as deployed (CDS_AUTH_MODE=jwt with a test
issuer, SQLite, INFO logging) and the service with authentication off. For
each set of requests the three are measured in turn, at concurrency 1, then
16, so a change in the machine's background load touches all three alike. A
stand-in FHIR server with a delay per query (bench/upstream.py) serves the
FHIR-fallback measurement. Then the targets of issue 15 are checked and
printed as PASS / MISS lines, and py-spy says where the service's time goes.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench import profile, records
from bench.load import SLOT, Call, LoadGenerator, Outcome, PythonClient, Wrk
from bench.servers import (
    CLIENT_CPU,
    FLOOR_APP,
    SERVICE_APP,
    UPSTREAM_APP,
    Launch,
    Server,
    running,
)
from bench.upstream import ARRIVALS_PATH, ROUTES_VARIABLE
from service.cds.pipeline import SUPPRESS_REPEATS
from tests.conftest import discovery_queries
from tests.support.tokens import TokenFactory

PUBLIC_BASE_URL = "https://footdrop-cds.bench.example"
ISSUER = "https://ehr.bench.example"
SERVICES = {
    "patient-view": "/cds-services/footdrop-patient-view",
    "order-select": "/cds-services/footdrop-order-select",
    "order-sign": "/cds-services/footdrop-order-sign",
}
FEEDBACK_PATH = SERVICES["patient-view"] + "/feedback"
FLOOR, JWT, OFF = "floor", "service-jwt", "service-off"
VARIANTS = (FLOOR, JWT, OFF)
PEER = (
    "AHRQ CQL Services (published, as issue 15 states them): "
    "p50 ~80 ms, p95 115 ms, ~10 req/s under load on 2 cores"
)
#: Delay of each FHIR query in the fallback measurement (seconds; other keys get the default).
FALLBACK_DELAYS_S = {"patient": 0.010, "conditions": 0.040, "observations": 0.100}
FALLBACK_DEFAULT_DELAY_S = 0.025
FALLBACK_SIZE = 100
UNREAD_PADDING = 1000
TARGET_SIZE = 300
#: Shared Synthea charts used when ../shared is present (the issue's sample of 20).
SHARED_CHARTS = 20
#: A run lasts at least this many rounds of requests (one per connection, each as long as
#: a request alone takes times the concurrency), so the largest records get answers.
MIN_RUN_IN_REQUESTS = 2.5
#: A first request slower than this is the estimate itself (no more warm-up requests).
SLOW_REQUEST_S = 1.0


@dataclass(frozen=True)
class Budget:
    """How long each timed run lasts: a number of answers, or `max_s`, whichever comes first."""

    sizes: tuple[int, ...]
    requests_c1: int
    requests_c16: int
    max_s: float
    c16_limit_s: float
    """Concurrency 16 is skipped when 16 requests at once would take longer than this."""
    profile_s: float
    synthea_shared: bool

    def requests(self, concurrency: int) -> int:
        return self.requests_c1 if concurrency == 1 else self.requests_c16


FULL = Budget(
    sizes=(10, 100, TARGET_SIZE, 1000, 10_000),
    requests_c1=400,
    requests_c16=800,
    max_s=10.0,
    c16_limit_s=45.0,
    profile_s=10.0,
    synthea_shared=True,
)
QUICK = Budget(
    sizes=(10, 100),
    requests_c1=20,
    requests_c16=40,
    max_s=1.5,
    c16_limit_s=5.0,
    profile_s=0.0,
    synthea_shared=False,
)


@dataclass(frozen=True)
class Workload:
    """A set of requests measured on every server: one row group of the table."""

    label: str
    calls: tuple[Call, ...]
    resources: int
    """Resources per request (the median when the calls differ)."""
    concurrencies: tuple[int, ...] = (1, 16)

    @property
    def body_kib(self) -> float:
        return statistics.median(len(call.body) for call in self.calls) / 1024


@dataclass(frozen=True)
class Measurement:
    """One timed run of one workload on one server (no outcome: skipped, `note` says why)."""

    workload: str
    variant: str
    concurrency: int
    outcome: Outcome | None
    cpu_ms: float = 0.0
    """Server CPU time per request: the figure other load on the machine touches least."""
    rss_mb: float = 0.0
    """Peak RSS of the server process tree during this run."""
    note: str = ""


@dataclass
class Signer:
    """The test EHR: pre-signs one ES384 token per request, for the URL it will call."""

    factory: TokenFactory = field(default_factory=lambda: TokenFactory(ISSUER))

    def write_jwks(self, path: Path) -> str:
        path.write_text(json.dumps(self.factory.jwks()))
        return json.dumps({ISSUER: {"jwks_file": str(path)}})

    def tokens(self, paths: Sequence[str], count: int) -> dict[str, list[str]]:
        now = datetime.now(UTC)
        return {
            path: [self.factory.token(PUBLIC_BASE_URL + path, now) for _ in range(count)]
            for path in dict.fromkeys(paths)
        }

    def header(self, path: str) -> dict[str, str]:
        token = self.tokens([path], 1)[path][0]
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


class Bench:
    def __init__(
        self, workdir: Path, budget: Budget, *, say: Callable[[str], None] = print
    ) -> None:
        self.workdir = workdir
        self.budget = budget
        self.say = say
        self.signer = Signer()
        self.loadgen: LoadGenerator = Wrk(workdir) if Wrk.available() else PythonClient()
        self.servers: dict[str, Server] = {}
        self.results: list[Measurement] = []
        self.per_request_s: dict[tuple[str, str], float] = {}
        self.sizes: dict[str, tuple[int, float]] = {}
        """Per workload: resources per request and body KiB (medians)."""
        self.notes: list[str] = []
        self.upstream: Server | None = None
        self.card_log: dict[str, float] | None = None
        """The card log's figures (`card_log_figures`) over the target workload's runs."""
        self.today = datetime.now(UTC).date()

    # -- servers ---------------------------------------------------------------------------

    def environment(self, auth_mode: str, upstream: Launch) -> dict[str, str]:
        return {
            "CDS_AUTH_MODE": auth_mode,
            "CDS_TRUSTED_ISSUERS": self.signer.write_jwks(self.workdir / "ehr-jwks.json"),
            "CDS_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "CDS_DATABASE_URL": f"sqlite:///{self.workdir / auth_mode}.db",
            # jwt mode requires it (the card log's patient hash); a fixed one for the bench.
            "CDS_PATIENT_HASH_KEY": "footdrop-cds-bench-patient-hash-key",
            "CDS_FHIR_ALLOWLIST": upstream.base_url + "/fhir",
            "CDS_LOG_LEVEL": "INFO",
        }

    @contextlib.contextmanager
    def started(self) -> Iterator[None]:
        """The stand-in FHIR server (client CPU) and the three servers under test."""
        routes = self.workdir / "upstream-routes.json"
        routes.write_text(json.dumps(fallback_routes(records.generated(FALLBACK_SIZE, self.today))))
        upstream = Launch(
            UPSTREAM_APP, {ROUTES_VARIABLE: str(routes)}, self.workdir / "upstream.log", CLIENT_CPU
        )
        launches = {
            variant: Launch(app, self.environment(mode, upstream), self.workdir / f"{variant}.log")
            for variant, app, mode in (
                (FLOOR, FLOOR_APP, "off"),
                (JWT, SERVICE_APP, "jwt"),
                (OFF, SERVICE_APP, "off"),
            )
        }
        with running(upstream, *launches.values()) as servers:
            self.upstream = servers[0]
            self.servers = dict(zip(launches, servers[1:], strict=True))
            yield

    def probe(self, variant: str, path: str, body: bytes) -> httpx.Response:
        """One request with a fresh token and hookInstance (warm-up, checks)."""
        body = body.replace(SLOT.encode(), str(uuid.uuid4()).encode(), 1)
        return httpx.post(
            self.servers[variant].base_url + path,
            content=body,
            headers=self.signer.header(path),
            timeout=600,
        )

    # -- measuring -------------------------------------------------------------------------

    def estimate(self, variant: str, workload: Workload) -> float:
        """Seconds one request takes alone (after one warm-up request), checking the answer."""
        timings: list[float] = []
        for number in range(3):
            call = workload.calls[number % len(workload.calls)]
            started = time.perf_counter()
            response = self.probe(variant, call.path, call.body)
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(
                    f"{variant} answered {response.status_code} to {workload.label}: "
                    f"{response.text[:300]}"
                )
            if timings[0] > SLOW_REQUEST_S:
                return timings[0]
        return statistics.median(timings[1:])

    def measure(self, workload: Workload) -> None:
        self.sizes[workload.label] = (workload.resources, workload.body_kib)
        target = workload.label == self.target_label
        before = self.card_log_figures() if target else None
        for variant in VARIANTS:
            self.per_request_s[(workload.label, variant)] = self.estimate(variant, workload)
        for concurrency in workload.concurrencies:
            for variant in VARIANTS:
                if variant == OFF and concurrency > 1 and not target:
                    continue  # off mode under load only where the targets are read: time
                self.results.append(self.timed(workload, variant, concurrency))
                self.say(self.line(self.results[-1]))
        if before is not None:
            self.servers[JWT].wait_idle()  # the card log has written the last calls' cards
            after = self.card_log_figures()
            self.card_log = after and {name: after[name] - before[name] for name in after}

    def timed(self, workload: Workload, variant: str, concurrency: int) -> Measurement:
        per_request_s = self.per_request_s[(workload.label, variant)]
        if concurrency > 1 and per_request_s * concurrency > self.budget.c16_limit_s:
            note = (
                f"skipped: {concurrency} requests of {per_request_s:.1f} s at once "
                f"> {self.budget.c16_limit_s:.0f} s budget"
            )
            return Measurement(workload.label, variant, concurrency, None, note=note)
        limit = self.budget.requests(concurrency)
        tokens, wrap = self.tokens_for(variant, workload, limit + concurrency)
        seconds = max(self.budget.max_s, per_request_s * concurrency * MIN_RUN_IN_REQUESTS)
        outcome, cpu_ms, rss_mb = self.run_load(
            self.servers[variant], workload, tokens, concurrency, seconds, limit, wrap
        )
        return Measurement(
            workload.label, variant, concurrency, outcome, cpu_ms=cpu_ms, rss_mb=rss_mb
        )

    def run_load(
        self,
        server: Server,
        workload: Workload,
        tokens: dict[str, list[str]],
        concurrency: int,
        seconds: float,
        limit: int,
        wrap: bool = False,
    ) -> tuple[Outcome, float, float]:
        """One timed run on an idle server; its outcome, CPU ms per request and peak RSS.

        The server's CPU is counted until it is idle again, over the answered requests
        and those still in flight when the client stopped (one per connection): the
        server finishes them all the same.
        """
        server.wait_idle()
        server.reset_peak_rss()
        cpu_before = server.cpu_seconds()
        outcome = self.loadgen.run(
            server.base_url, workload.calls, tokens, concurrency, seconds, limit, wrap=wrap
        )
        server.wait_idle()
        cpu_s = server.cpu_seconds() - cpu_before
        return outcome, 1000 * cpu_s / (outcome.requests + concurrency), server.peak_rss_mb()

    def tokens_for(
        self, variant: str, workload: Workload, count: int
    ) -> tuple[dict[str, list[str]], bool]:
        """Tokens for a run, and whether they may be reused: only the JWT service checks them."""
        paths = [call.path for call in workload.calls]
        if variant == JWT:
            return self.signer.tokens(paths, count), False
        return self.signer.tokens(paths, 16), True

    def find(self, workload: str, variant: str, concurrency: int) -> Measurement | None:
        for result in self.results:
            if (result.workload, result.variant, result.concurrency) == (
                workload,
                variant,
                concurrency,
            ):
                return result
        return None

    # -- workloads -------------------------------------------------------------------------

    def templates(self) -> dict[str, str]:
        discovery = httpx.get(
            self.servers[JWT].base_url + "/cds-services",
            headers=self.signer.header("/cds-services"),
            timeout=30,
        ).json()
        found: dict[str, str] = discovery["services"][0]["prefetch"]
        return found

    def workloads(self) -> Iterator[Workload]:
        """Smallest first, the Synthea charts before the largest records: a peak RSS reading
        starts from the memory the process kept, which the largest records inflate."""
        small = [size for size in self.budget.sizes if size <= self.target_size]
        for size in small:
            yield from self.generated_workloads(size)
        yield from self.synthea_workloads()
        for size in self.budget.sizes:
            if size not in small:
                yield from self.generated_workloads(size)

    def generated_workloads(self, size: int) -> Iterator[Workload]:
        pv = SERVICES["patient-view"]
        record = records.generated(size, self.today)
        body = records.hook_body("patient-view", record.patient_id, record=record)
        yield Workload(f"patient-view {record.name}", (Call(pv, body),), record.resources)
        if size == self.target_size:
            yield from self.order_workloads(record)
            padded = records.generated(size, self.today, unread=self.padding)
            body = records.hook_body("patient-view", padded.patient_id, record=padded)
            yield Workload(f"patient-view {padded.name}", (Call(pv, body),), padded.resources, (1,))

    def synthea_workloads(self) -> Iterator[Workload]:
        pv = SERVICES["patient-view"]
        charts = [("synthea-fixtures", records.fixture_chart_paths())]
        if self.budget.synthea_shared and records.shared_chart_paths():
            charts.append(("synthea-shared", records.shared_chart_paths()))
        templates = self.templates()
        for name, paths in charts:
            found = list(records.synthea(paths, templates, self.today))[:SHARED_CHARTS]
            calls = tuple(
                Call(pv, records.hook_body("patient-view", r.patient_id, record=r)) for r in found
            )
            sizes = sorted(r.resources for r in found)
            yield Workload(
                f"patient-view {name} ({len(found)} charts)", calls, sizes[len(sizes) // 2]
            )

    @property
    def target_label(self) -> str:
        return f"patient-view generated-{self.target_size}"

    @property
    def target_size(self) -> int:
        return TARGET_SIZE if TARGET_SIZE in self.budget.sizes else self.budget.sizes[0]

    @property
    def padding(self) -> int:
        return UNREAD_PADDING if self.target_size == TARGET_SIZE else 100

    def order_workloads(self, record: records.Record) -> Iterator[Workload]:
        orders = records.orders_for(record.patient_id)
        select = records.hook_body("order-select", record.patient_id, record=record, context=orders)
        sign = records.hook_body(
            "order-sign",
            record.patient_id,
            record=record,
            context={"draftOrders": orders["draftOrders"]},
            extension={SUPPRESS_REPEATS: True},
        )
        yield Workload(
            f"order-select {record.name}",
            (Call(SERVICES["order-select"], select),),
            record.resources,
        )
        yield Workload(
            f"order-sign {record.name}", (Call(SERVICES["order-sign"], sign),), record.resources
        )

    # -- the extra measurements ------------------------------------------------------------

    def fallback(self) -> dict[str, Any]:
        """patient-view without prefetch: every query goes to the delayed stand-in server."""
        assert self.upstream is not None
        record = records.generated(FALLBACK_SIZE, self.today)
        body = records.hook_body(
            "patient-view",
            record.patient_id,
            fhirServer=self.upstream.base_url + "/fhir",
            fhirAuthorization={
                "access_token": "bench-access-token",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "footdrop-cds",
                "patient": record.patient_id,
            },
        )
        workload = Workload(
            f"patient-view fhir-fallback {record.name}",
            (Call(SERVICES["patient-view"], body),),
            record.resources,
            (1,),
        )
        response = self.probe(JWT, SERVICES["patient-view"], body)
        cards = [card["source"]["topic"]["code"] for card in response.json().get("cards", [])]
        self.sizes[workload.label] = (workload.resources, workload.body_kib)
        self.per_request_s[(workload.label, JWT)] = self.estimate(JWT, workload)
        self.arrivals()
        result = self.timed(workload, JWT, 1)
        arrivals = self.arrivals()
        self.results.append(result)
        self.say(self.line(result))
        delays = [FALLBACK_DELAYS_S.get(key, FALLBACK_DEFAULT_DELAY_S) for key in record.prefetch]
        calls = [
            arrivals[start : start + len(delays)]
            for start in range(0, len(arrivals) - len(delays) + 1, len(delays))
        ]
        return {
            "measurement": result,
            "slowest_ms": 1000 * max(delays),
            "sum_ms": 1000 * sum(delays),
            "queries": len(delays),
            "spread_ms": 1000 * statistics.median(c[-1] - c[0] for c in calls) if calls else None,
            "cards": cards,
            "prefetch": self.find(f"patient-view {record.name}", JWT, 1),
        }

    def arrivals(self) -> list[float]:
        """When the stand-in FHIR server saw each query since the last call (sorted)."""
        assert self.upstream is not None
        seen: list[float] = httpx.get(self.upstream.base_url + ARRIVALS_PATH, timeout=30).json()
        return sorted(seen)

    def feedback(self, cards_body: bytes) -> dict[str, Any] | None:
        """The feedback endpoint, if this version has one, beside the floor."""
        answer = self.probe(JWT, SERVICES["patient-view"], cards_body).json()
        card = (answer.get("cards") or [{}])[0]
        body = json.dumps(
            {
                "feedback": [
                    {
                        "card": card.get("uuid", str(uuid.uuid4())),
                        "outcome": "accepted",
                        "acceptedSuggestions": [
                            {"id": s["uuid"]} for s in card.get("suggestions", [])[:1]
                        ],
                        "outcomeTimestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                    }
                ]
            }
        ).encode()
        probe = self.probe(JWT, FEEDBACK_PATH, body)
        if probe.status_code in (404, 405):
            self.say(
                f"feedback: skipped, POST {FEEDBACK_PATH} answers {probe.status_code} "
                "(not in this version)"
            )
            return None
        if probe.status_code != 200:
            self.say(
                f"feedback: skipped, the probe was answered {probe.status_code}: {probe.text[:200]}"
            )
            return None
        workload = Workload("feedback (one accepted card)", (Call(FEEDBACK_PATH, body),), 0)
        self.measure(workload)
        return {
            "c1": self.find(workload.label, JWT, 1),
            "floor": self.find(workload.label, FLOOR, 1),
        }

    def client_check(self, workload: Workload) -> str:
        """Both clients on the floor at concurrency 16, back to back: is the client the limit?"""
        if not isinstance(self.loadgen, Wrk):
            used = self.find(workload.label, FLOOR, 16)
            rate = used.outcome.throughput if used and used.outcome else 0.0
            return (
                f"load generator check: wrk is not installed; {self.loadgen.name} drives the "
                f"floor at {rate:.0f} req/s ({workload.label}, c16): rates near that are the "
                "client's limit, not the server's"
            )
        chosen = self.loadgen
        rates = []
        for generator in (chosen, PythonClient()):
            self.loadgen = generator
            try:
                check = self.timed(workload, FLOOR, 16)
            finally:
                self.loadgen = chosen
            rate = check.outcome.throughput if check.outcome else 0.0
            rates.append(f"{generator.name.split()[0]} {rate:.0f} req/s")
        return f"load generator check ({workload.label}, floor, c16, back to back): " + ", ".join(
            rates
        )

    def card_log_figures(self) -> dict[str, float] | None:
        """From the JWT service's GET /metrics: the card log writer's CPU seconds, the batches
        and cards it wrote, and the hook calls answered; None without the writer's metric."""
        response = httpx.get(self.servers[JWT].base_url + "/metrics", timeout=10)
        if response.status_code != 200:
            return None
        samples = [
            sample
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        ]

        def total(name: str, counted: Callable[[dict[str, str]], bool] = lambda _: True) -> float:
            return sum(
                s.value for s in samples if s.name == f"footdrop_cds_{name}" and counted(s.labels)
            )

        if not any(s.name == "footdrop_cds_card_log_writer_cpu_seconds_total" for s in samples):
            return None
        return {
            "writer_cpu_s": total("card_log_writer_cpu_seconds_total"),
            "batches": total("card_log_batch_cards_count"),
            "cards": total("card_log_batch_cards_sum"),
            "calls": total(
                "http_request_duration_seconds_count",
                lambda labels: labels.get("service", "none") != "none",
            ),
        }

    def metrics_present(self) -> str:
        response = httpx.get(self.servers[JWT].base_url + "/metrics", timeout=10)
        if response.status_code == 200:
            return "on (GET /metrics answers 200)"
        return f"absent in this version (GET /metrics answers {response.status_code})"

    def profile(self, workload: Workload) -> dict[str, Any] | None:
        if not self.budget.profile_s:
            return None
        if profile.py_spy() is None:
            self.say("profile: skipped, py-spy is not installed (make install brings it)")
            return None
        server = self.servers[JWT]
        seconds = self.budget.profile_s
        limit = self.budget.requests_c16
        tokens, _ = self.tokens_for(JWT, workload, limit + 16)
        raw = self.workdir / f"profile-{workload.label.replace(' ', '-')}.txt"
        server.wait_idle()
        spy = profile.record(server.pid, seconds + 1, raw)
        time.sleep(0.5)  # py-spy attaches before the load starts
        outcome, cpu_ms, _ = self.run_load(server, workload, tokens, 16, seconds, limit)
        spy.wait()
        return {
            "workload": workload.label,
            "requests": outcome.requests,
            "cpu_ms": cpu_ms,
            "profile": profile.summarise(raw),
        }

    # -- output ----------------------------------------------------------------------------

    def line(self, m: Measurement) -> str:
        head = f"{m.workload:<44} c{m.concurrency:<3}{m.variant:<12}"
        if m.outcome is None:
            return head + m.note
        o = m.outcome
        text = (
            f"{head}n={o.requests:<6} p50 {o.p50_ms:8.2f}  p95 {o.p95_ms:8.2f}  "
            f"p99 {o.p99_ms:8.2f} ms  {o.throughput:8.1f} req/s  "
            f"cpu {m.cpu_ms:7.2f} ms/req  RSS {m.rss_mb:5.0f} MB"
        )
        floor = self.find(m.workload, FLOOR, m.concurrency)
        if m.variant != FLOOR and floor and floor.outcome and floor.outcome.requests:
            f = floor.outcome
            text += (
                f"  ×floor p50 {o.p50_ms / f.p50_ms:6.1f} p95 {o.p95_ms / f.p95_ms:6.1f} "
                f"req/s {o.throughput / f.throughput:5.2f}"
            )
        problems = [
            f"{count} {what}"
            for count, what in (
                (o.not_ok, "not 200"),
                (o.failed, "failed"),
                (o.replayed, "token reuses"),
            )
            if count
        ]
        return text + (f"  !! {', '.join(problems)}" if problems else "")


def fallback_routes(record: records.Record) -> dict[str, dict[str, Any]]:
    """The stand-in FHIR server's answers for `record`, each with its delay.

    The stand-in routes by path: the keys one type is split across (`procedures`,
    `procedures2`, ...) are answered together, with the first key's delay.
    """
    queries = discovery_queries()
    routes: dict[str, dict[str, Any]] = {}
    for key, value in record.prefetch.items():
        delay_s = FALLBACK_DELAYS_S.get(key, FALLBACK_DEFAULT_DELAY_S)
        if key == "patient":
            routes[f"/fhir/Patient/{record.patient_id}"] = {"delay_s": delay_s, "body": value}
            continue
        path = "/fhir/" + queries[key].split("?")[0]
        route = routes.setdefault(path, {"delay_s": delay_s, "body": {**value, "entry": []}})
        route["body"]["entry"] += value.get("entry", [])
    return routes


def machine() -> list[str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"machine: nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"load average at start (1, 5, 15 min): {load}; this run's nice value {os.nice(0)}",
    ]
