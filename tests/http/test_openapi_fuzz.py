"""Property-based fuzzing from the service's own OpenAPI document (schemathesis).

The document describes the real request bodies (one schema per hook) and the
real statuses; schemathesis generates requests from it — valid ones and
deliberately broken ones — and every answer must be a documented status,
never a 5xx. Run with authentication off, so the bodies reach the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def api_schema() -> Iterator[schemathesis.BaseSchema]:
    app: FastAPI = create_app(make_settings())
    with TestClient(app):  # the lifespan creates the engine the endpoints use
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations(schema: schemathesis.BaseSchema) -> list[object]:
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_describes_the_hook_calls(api_schema: schemathesis.BaseSchema) -> None:
    labels = {operation.label for operation in _operations(api_schema)}  # type: ignore[attr-defined]
    assert "POST /cds-services/{service_id}" in labels
    assert "GET /cds-services" in labels


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_generated_request_gets_a_server_error(
    api_schema: schemathesis.BaseSchema, mode: str
) -> None:
    operations = _operations(api_schema)
    generation = schemathesis.GenerationMode(mode)
    strategy = st.one_of(
        [operation.as_strategy(generation_mode=generation) for operation in operations]  # type: ignore[attr-defined]
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        response = case.call()
        assert response.status_code < 500, (case.method, case.path, response.text[:300])
        documented = case.operation.definition.raw.get("responses", {})
        assert str(response.status_code) in documented or "default" in documented, (
            f"{case.method} {case.path} answered an undocumented {response.status_code}"
        )

    check()
