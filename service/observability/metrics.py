"""The Prometheus metrics of the service, defined once per process.

Every layer records into these module-level metrics; `/metrics` exposes them.
Labels hold only bounded, non-identifying values (service ids, topics, status
codes, reason codes), never patient data or request input.

With several uvicorn workers each process keeps its own values, so
`footdrop-cds serve` points prometheus-client at a shared directory
(`PROMETHEUS_MULTIPROC_DIR`, prometheus-client's own variable, read by it at
import) and the exposition sums the workers' files.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# `*_created` timestamps double the series and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "footdrop_cds"

HTTP_REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time from request to the end of the response, by endpoint, CDS service and status.",
    ["endpoint", "service", "status"],
    namespace=NAMESPACE,
)

CARDS_ISSUED = Counter(
    "cards_issued",
    "Cards returned to a CDS client, by service, card topic and indicator.",
    ["service", "topic", "indicator"],
    namespace=NAMESPACE,
)

FHIR_REQUEST_SECONDS = Histogram(
    "fhir_request_duration_seconds",
    "GETs to a FHIR server, by outcome (ok, http_4xx, http_5xx, unreachable, too_large, "
    "cancelled); the _count series are the calls, outcomes other than ok the failures.",
    ["outcome"],
    namespace=NAMESPACE,
)

JWT_REJECTIONS = Counter(
    "jwt_rejections",
    "Calls refused with 401 because of their JWT, by reason code (docs/security.md).",
    ["reason"],
    namespace=NAMESPACE,
)

DATABASE_ERRORS = Counter(
    "database_errors",
    "Errors raised by the service's database, by SQLAlchemy exception class.",
    ["kind"],
    namespace=NAMESPACE,
)

DATABASE_UNAVAILABLE = Counter(
    "database_unavailable",
    "Database work of a request that failed, timed out or was skipped, by operation "
    "(shown-card memory, snoozes, jwt replay memory, feedback, analytics) and kind (timeout, "
    "busy, skipped or the error class): hooks answered without it, feedback and analytics 503.",
    ["operation", "kind"],
    namespace=NAMESPACE,
)

CARD_LOG_CARDS = Counter(
    "card_log_cards",
    "Cards handed to the card log, by outcome: written; refused (its queue was full or the "
    "service shutting down); lost (accepted, not written by the end of the shutdown drain).",
    ["outcome"],
    namespace=NAMESPACE,
)

CARD_LOG_BATCH_SECONDS = Histogram(
    "card_log_batch_duration_seconds",
    "Wall time of each card-log batch written (one transaction: the cards and their snoozes).",
    namespace=NAMESPACE,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

CARD_LOG_BATCH_CARDS = Histogram(
    "card_log_batch_cards",
    "Cards in each card-log batch written (the calls of up to 50 ms, at most 200 calls).",
    namespace=NAMESPACE,
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)

CARD_LOG_WRITER_CPU_SECONDS = Counter(
    "card_log_writer_cpu_seconds",
    "CPU time of the card log's writer thread, failed attempts included: what recording "
    "cards costs the service's processes (the database server's own CPU is not in it).",
    namespace=NAMESPACE,
)

BUILD_INFO = Gauge(
    "build_info",
    "Always 1; the labels name the software and clinical content versions running.",
    ["version", "content_version"],
    namespace=NAMESPACE,
    multiprocess_mode="max",
)


def exposition() -> tuple[bytes, str]:
    """The metrics in the Prometheus text format, summed over workers when there are several."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
