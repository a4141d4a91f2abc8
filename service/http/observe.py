"""One JSON log line and one latency observation per HTTP request.

An ASGI middleware around the whole app: it gives each request an id (the
client's `X-Request-ID` when it is a plain token, a fresh UUID otherwise, echoed
in the response), times it, and at the end writes what the endpoint left in
`request.state` (`RequestFacts`): the CDS service, hookInstance and card counts.
Nothing from the body or the path is logged apart from known service ids, so no
patient data can reach the log.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from service.http.middleware import HttpMiddleware
from service.observability.metrics import HTTP_REQUEST_SECONDS

log = logging.getLogger("service.request")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_FACTS = "request_facts"


@dataclass
class RequestFacts:
    """What an endpoint tells the request log about its call."""

    service: str | None = None
    hook_instance: str | None = None
    cards: Counter[str] = field(default_factory=Counter)
    """Cards returned, by indicator."""


def facts(request: Request) -> RequestFacts:
    """The facts record of this request, for the endpoint to fill in."""
    found: RequestFacts = request.scope.setdefault("state", {}).setdefault(_FACTS, RequestFacts())
    return found


class RequestObserver(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        offered = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = offered if _CLIENT_REQUEST_ID.match(offered) else str(uuid.uuid4())
        record = scope.setdefault("state", {}).setdefault(_FACTS, RequestFacts())
        status = 500  # unless a response starts: an exception escaped every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "name", None) or "unmatched"
            if scope["method"] == "OPTIONS":
                endpoint = "preflight"
            HTTP_REQUEST_SECONDS.labels(
                endpoint=endpoint, service=record.service or "none", status=str(status)
            ).observe(seconds)
            fields: dict[str, object] = {
                "request_id": request_id,
                "method": scope["method"],
                "endpoint": endpoint,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            }
            if record.service:
                fields["service"] = record.service
            if record.hook_instance:
                fields["hookInstance"] = record.hook_instance
            if record.service and status == 200:
                fields["cards"] = sum(record.cards.values())
                fields["cards_by_indicator"] = dict(record.cards)
            log.info("request", extra={"fields": fields})
