"""The OpenAPI document, made to tell the truth about the service.

FastAPI derives most of it from the routes. This module adds what it cannot see,
because hook and feedback bodies are read by hand (size cap, strict UTF-8 JSON,
per-hook context): the request body of a service call, one schema per hook
chosen by `hook`, and of a feedback call; the configured service ids; and it
removes the 422 answers FastAPI assumes, since every invalid request is a 400
with an OperationOutcome.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, create_model
from pydantic.json_schema import models_json_schema

from service.cds.engine import Engine
from service.cds.feedback import FeedbackRequest
from service.cds.models import HOOK_CONTEXTS, HookRequest

DESCRIPTION = """\
A CDS Hooks 2.0 service for foot-drop decision support.

Every error answer is a FHIR `OperationOutcome`. Any method a path does not list
is answered 405 (with an `Allow` header); an unknown path 404. Hook calls need
`Content-Type: application/json`. With `CDS_AUTH_MODE=jwt` discovery, service
calls and feedback need `Authorization: Bearer <JWT>` (401 otherwise); `/health`,
`/ready`, `/metrics`, `/version` and the documentation pages never do. The
analytics need `Authorization: Bearer <CDS_ANALYTICS_TOKEN>`, never a JWT.
"""

REQUEST_BODY_OF = ("/cds-services/{service_id}", "post")
FEEDBACK_BODY_OF = ("/cds-services/{service_id}/feedback", "post")
_REF = "#/components/schemas/{model}"


def hook_request_models() -> dict[str, type[BaseModel]]:
    """`HookRequest` with `hook` fixed and `context` typed, for each supported hook."""
    models: dict[str, type[BaseModel]] = {}
    for hook, context in HOOK_CONTEXTS.items():
        name = "".join(part.title() for part in hook.split("-")) + "Request"
        models[hook] = create_model(
            name,
            __base__=HookRequest,
            hook=(Literal[hook], ...),  # type: ignore[arg-type]
            context=(context, ...),
        )
    return models


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes
    )
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    models = hook_request_models()
    bodies: list[type[BaseModel]] = [*models.values(), FeedbackRequest]
    refs, definitions = models_json_schema(
        [(model, "validation") for model in bodies], ref_template=_REF
    )
    schemas.update(definitions.get("$defs", {}))
    by_hook = {hook: refs[(model, "validation")]["$ref"] for hook, model in models.items()}
    schema_of = {
        REQUEST_BODY_OF: {
            "oneOf": [{"$ref": ref} for ref in by_hook.values()],
            "discriminator": {"propertyName": "hook", "mapping": by_hook},
        },
        FEEDBACK_BODY_OF: refs[(FeedbackRequest, "validation")],
    }
    engine: Engine | None = getattr(app.state, "engine", None)
    for (path, method), schema in schema_of.items():
        operation = document["paths"][path][method]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
        if engine is not None:
            _describe_service_ids(operation, engine)
    for item in document["paths"].values():
        for each in item.values():
            each.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _describe_service_ids(operation: dict[str, Any], engine: Engine) -> None:
    for parameter in operation.get("parameters", []):
        if parameter["name"] == "service_id":
            parameter["schema"]["enum"] = sorted(engine.services)
            parameter["description"] = "; ".join(
                f"`{spec.id}`: hook {spec.hook}" for spec in engine.services.values()
            )


def install_openapi(app: FastAPI) -> None:
    """Serve `build_openapi` at /openapi.json, built once (after start-up, with the services)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build_openapi(app)
        if getattr(app.state, "engine", None) is not None:
            app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
