"""Who is calling: the EHR's JWT verified on every call when `CDS_AUTH_MODE=jwt` (S-1 to S-11).

The audience a token must name is the URL invoked: `CDS_PUBLIC_BASE_URL` plus the
request path (behind a proxy the Host header says nothing reliable). Every
failure is the same 401 with a generic OperationOutcome; the reason is logged
(without the token) for the operator. Health, readiness, metrics, the docs pages
and CORS preflights never need a token.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request

from service.auth import CLIENT_MESSAGE, AuthError, bearer_token
from service.cds.errors import Unauthorized
from service.cds.models import Caller
from service.http.deps import EngineDep
from service.observability.metrics import JWT_REJECTIONS

log = logging.getLogger("service.auth")


async def verified_caller(request: Request, engine: EngineDep) -> Caller:
    if engine.verifier is None:
        return Caller()
    audience = engine.settings.public_base_url + request.url.path
    try:
        token = bearer_token(request.headers.get("authorization"))
        verified = await engine.verifier.verify(token, audience, engine.clock())
    except AuthError as error:
        log.warning("JWT refused: %s", error.reason.value)
        JWT_REJECTIONS.labels(reason=error.reason.value).inc()
        raise Unauthorized(CLIENT_MESSAGE) from None
    return Caller(issuer=verified.issuer)


CallerDep = Annotated[Caller, Depends(verified_caller)]
