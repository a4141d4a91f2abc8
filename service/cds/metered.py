"""The FHIR transport with its calls, failures and latency recorded for /metrics.

A wrapper rather than code in the FHIR client, so every transport (the pooled
one, or a test's) is measured the same way and the client stays about FHIR.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from service.fhir.transport import (
    FhirTransport,
    ResponseTooLarge,
    TransportError,
    TransportResponse,
)
from service.observability.metrics import FHIR_REQUEST_SECONDS


def outcome_of(status: int) -> str:
    if status == 200:
        return "ok"
    return "http_4xx" if 400 <= status < 500 else "http_5xx" if status >= 500 else "http_other"


@dataclass(frozen=True)
class MeteredTransport:
    inner: FhirTransport

    async def get(
        self, url: str, headers: Mapping[str, str], timeout_s: float
    ) -> TransportResponse:
        started = time.perf_counter()
        outcome = "unreachable"
        try:
            response = await self.inner.get(url, headers, timeout_s)
            outcome = outcome_of(response.status)
            return response
        except ResponseTooLarge:
            outcome = "too_large"
            raise
        except TransportError:
            outcome = "unreachable"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"  # the request's FHIR time budget ran out
            raise
        finally:
            FHIR_REQUEST_SECONDS.labels(outcome=outcome).observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self.inner.aclose()
