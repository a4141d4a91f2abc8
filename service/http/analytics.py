"""The CDS committee's analytics: `GET /analytics/cards` (JSON) and `/analytics/cards.html`.

Protected by a bearer token the committee holds (`CDS_ANALYTICS_TOKEN`), compared
in constant time. An EHR's JWT grants nothing here, and with no token configured
nobody can read the analytics: every request gets the same generic 401.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from service.analytics import page
from service.analytics.report import Report, read_report
from service.cds.errors import ServiceUnavailable, Unauthorized
from service.http.deps import EngineDep
from service.storage.database import DatabaseUnavailable

log = logging.getLogger("service.auth")

router = APIRouter(prefix="/analytics")

#: Longest wait for the analytics queries (their statement timeout is 60 s).
REPORT_BUDGET_S = 65.0


def committee(request: Request, engine: EngineDep) -> None:
    """The caller holds the analytics token, or 401."""
    expected = engine.settings.analytics_token
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    granted = (
        expected is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), expected.get_secret_value().encode())
    )
    if not granted:
        log.warning("analytics refused: %s", "no token configured" if expected is None else "token")
        raise Unauthorized("a valid analytics token is required")


Committee = Depends(committee)
Weeks = Annotated[int, Query(ge=1, le=260, description="weeks up to and including this one")]


async def _report(engine: EngineDep, weeks: int) -> Report:
    now = engine.clock()
    try:
        return await engine.guard.run(
            "analytics",
            lambda: read_report(engine.store, engine.catalogue, now, weeks),
            budget_s=REPORT_BUDGET_S,
            fail_fast=False,
        )
    except DatabaseUnavailable:
        raise ServiceUnavailable("the analytics database is unavailable; try again later") from None


@router.get("/cards", dependencies=[Committee])
async def cards(engine: EngineDep, weeks: Weeks = 12) -> JSONResponse:
    """Cards shown, accepted and overridden, with override reasons, per topic and week."""
    return JSONResponse((await _report(engine, weeks)).to_json())


@router.get("/cards.html", dependencies=[Committee])
async def cards_page(engine: EngineDep, weeks: Weeks = 12) -> HTMLResponse:
    """The same as a self-contained page with a chart of acceptance over time."""
    return HTMLResponse(
        page.html(await _report(engine, weeks)),
        # The page is self-contained: it may load nothing and run nothing.
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )
