"""The CDS committee's analytics: `GET /analytics/cards` (JSON) and `/analytics/cards.html`.

Protected by a bearer token the committee holds (`CDS_ANALYTICS_TOKEN`), compared
in constant time. An EHR's JWT grants nothing here, and with no token configured
nobody can read the analytics: every request gets the same generic 401.

The models below describe the JSON body (`Report.to_json`) for the OpenAPI
document; a test holds every answer to them.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from service.analytics import page
from service.analytics.report import Report, read_report
from service.cds.errors import ServiceUnavailable, Unauthorized
from service.http.deps import EngineDep
from service.http.routes import error
from service.storage.database import DatabaseUnavailable

log = logging.getLogger("service.auth")

router = APIRouter(prefix="/analytics", tags=["analytics"])

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


class _Described(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonCount(_Described):
    """An override reason as reported, with the standard code it maps to where known."""

    system: str | None = None
    code: str | None = None
    display: str
    standardCode: str | None = None
    standardDisplay: str | None = None
    categoryCode: str | None = None
    categoryDisplay: str | None = None
    count: int


class StandardReasonCount(_Described):
    """Our codes and the HL7 CDS Hooks 3.0 ones added up by standard code."""

    code: str
    display: str
    count: int


class TopicWeek(_Described):
    week: str | None
    """The Monday (UTC) of the week; null in `totals`."""
    topic: str
    display: str
    shown: int
    accepted: int
    overridden: int
    overrideReasons: list[ReasonCount]
    standardReasons: list[StandardReasonCount]
    acceptanceRate: float | None = None
    """accepted / shown; absent when nothing was shown."""


class CardAnalytics(_Described):
    generatedAt: str
    weeks: list[str]
    rows: list[TopicWeek]
    """One per topic and week that had cards or feedback, by week then topic."""
    totals: list[TopicWeek]
    """Every week of each topic summed."""


ERRORS: dict[int | str, dict[str, Any]] = {
    400: error("`weeks` is not a whole number from 1 to 260"),
    401: error("No valid analytics token (or none is configured)"),
    503: error("The database cannot answer now; try again later"),
}

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


@router.get(
    "/cards",
    dependencies=[Committee],
    response_model=CardAnalytics,
    responses=ERRORS,
    summary="Card analytics for the CDS committee",
)
async def cards(engine: EngineDep, weeks: Weeks = 12) -> JSONResponse:
    """Cards shown, accepted and overridden, with override reasons, per topic and week."""
    return JSONResponse((await _report(engine, weeks)).to_json())


@router.get(
    "/cards.html",
    dependencies=[Committee],
    # Response, not HTMLResponse: the errors stay documented as JSON OperationOutcomes.
    response_class=Response,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **ERRORS},
    summary="Card analytics as a page with a chart",
)
async def cards_page(engine: EngineDep, weeks: Weeks = 12) -> HTMLResponse:
    """The same as a self-contained page with a chart of acceptance over time."""
    return HTMLResponse(
        page.html(await _report(engine, weeks)),
        # The page is self-contained: it may load nothing and run nothing.
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )
