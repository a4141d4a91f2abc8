"""The OpenAPI document describes what the service really does, and Swagger UI serves itself."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.http.errors import OperationOutcome
from service.http.openapi import hook_request_models
from tests.conftest import hook_request

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CALL = "/cds-services/{service_id}"
OUTCOME_REF = "#/components/schemas/OperationOutcome"
HOOK_STATUSES = {"400", "401", "404", "412", "413", "415", "500"}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_no_422_anywhere(document: dict[str, Any]) -> None:
    assert '"422"' not in json.dumps(document["paths"])
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_operation_documents_its_success_body(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            success = operation["responses"]["200"]
            assert success.get("content"), f"{method} {path}: no response body schema"
            for media in success["content"].values():
                assert media.get("schema"), f"{method} {path}"


def test_hook_call_body_is_one_schema_per_hook(document: dict[str, Any]) -> None:
    body = document["paths"][CALL]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {"patient-view", "order-select", "order-sign"}
    components = document["components"]["schemas"]
    for hook, ref in mapping.items():
        model = components[ref.rsplit("/", 1)[1]]
        assert model["properties"]["hook"]["const"] == hook
        assert {"hook", "hookInstance", "context"} <= set(model["required"])
    order_select = components[mapping["order-select"].rsplit("/", 1)[1]]
    context = components[order_select["properties"]["context"]["$ref"].rsplit("/", 1)[1]]
    assert {"selections", "draftOrders", "patientId", "userId"} <= set(context["required"])


def test_service_ids_are_the_configured_ones(document: dict[str, Any], client: TestClient) -> None:
    (parameter,) = document["paths"][CALL]["post"]["parameters"]
    ids = {service["id"] for service in client.get("/cds-services").json()["services"]}
    assert set(parameter["schema"]["enum"]) == ids


def test_errors_are_documented_as_operation_outcomes(document: dict[str, Any]) -> None:
    responses = document["paths"][CALL]["post"]["responses"]
    assert set(responses) == {"200", *HOOK_STATUSES}
    for status in HOOK_STATUSES:
        assert responses[status]["content"]["application/json"]["schema"]["$ref"] == OUTCOME_REF
    assert "401" in document["paths"]["/cds-services"]["get"]["responses"]
    assert "405" in document["info"]["description"]


def test_every_example_request_matches_the_documented_schema() -> None:
    models = hook_request_models()
    for path in sorted(EXAMPLES.glob("*.json")):
        body = json.loads(path.read_text())
        models[body["hook"]].model_validate(body)


def test_the_service_answers_each_documented_error_status(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(max_request_bytes=10_000)
    pv = "/cds-services/footdrop-patient-view"
    answers = {
        400: client.post(pv, json={"hook": "patient-view"}),
        404: client.post("/cds-services/none-such", json=hook_request()),
        405: client.get(pv),
        412: client.post(pv, json=hook_request()),
        413: client.post(pv, json={**hook_request(), "padding": "x" * 20_000}),
        415: client.post(
            pv, content=json.dumps(hook_request()), headers={"Content-Type": "text/plain"}
        ),
    }
    for status, response in answers.items():
        assert response.status_code == status, response.text
        OperationOutcome.model_validate(response.json())


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"],
)
def test_json_content_types_are_accepted(client: TestClient, content_type: str) -> None:
    body = json.dumps(hook_request()).encode()
    response = client.post(
        "/cds-services/footdrop-patient-view", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 412  # past the media-type check: no data to decide on


@pytest.mark.parametrize(
    "content_type",
    ["", "text/plain", "application/x-www-form-urlencoded"],
)
def test_other_content_types_are_415(client: TestClient, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(
        "/cds-services/footdrop-patient-view", content=json.dumps(hook_request()), headers=headers
    )
    assert response.status_code == 415
    assert response.json()["issue"][0]["code"] == "not-supported"


def test_clinical_page_is_html_and_markdown_on_request(client: TestClient) -> None:
    html = client.get("/docs/clinical", headers={"Accept": "text/html,application/xhtml+xml"})
    assert html.headers["content-type"].startswith("text/html")
    assert "<h1>Foot-drop CDS: clinical logic</h1>" in html.text
    assert "<table>" in html.text
    assert client.get("/docs/clinical").headers["content-type"].startswith("text/html")
    markdown = client.get("/docs/clinical", headers={"Accept": "text/markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Foot-drop CDS: clinical logic")
    assert "accept" in html.headers["vary"].lower()


def test_swagger_ui_loads_only_from_the_service(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://", page.text), "the page must not load from elsewhere"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3
    for asset in [*assets, "/openapi.json"]:
        assert asset.startswith("/")
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset
    assert '"validatorUrl": null' in page.text


def test_docs_ui_off_leaves_the_openapi_document(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(docs_ui=False)
    assert client.get("/docs").status_code == 404
    assert client.get("/docs/assets/swagger-ui.css").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs/clinical").status_code == 200


FEEDBACK = "/cds-services/{service_id}/feedback"
FEEDBACK_STATUSES = {"400", "401", "404", "413", "415", "500", "503"}
ANALYTICS_STATUSES = {"400", "401", "503"}


def component(document: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def test_feedback_documents_its_body_and_statuses(
    document: dict[str, Any], client: TestClient
) -> None:
    operation = document["paths"][FEEDBACK]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    request = component(document, body["content"]["application/json"]["schema"]["$ref"])
    assert request["required"] == ["feedback"]
    item = component(document, request["properties"]["feedback"]["items"]["$ref"])
    assert {"card", "outcome", "outcomeTimestamp"} <= set(item["required"])
    assert item["properties"]["outcome"]["enum"] == ["accepted", "overridden"]
    assert {"acceptedSuggestions", "overrideReason"} <= set(item["properties"])
    responses = operation["responses"]
    assert set(responses) == {"200", *FEEDBACK_STATUSES}
    for status in FEEDBACK_STATUSES:
        assert responses[status]["content"]["application/json"]["schema"]["$ref"] == OUTCOME_REF
    (parameter,) = operation["parameters"]
    ids = {service["id"] for service in client.get("/cds-services").json()["services"]}
    assert set(parameter["schema"]["enum"]) == ids


def test_analytics_document_their_answers(document: dict[str, Any]) -> None:
    pages = {"/analytics/cards": "application/json", "/analytics/cards.html": "text/html"}
    for path, media in pages.items():
        responses = document["paths"][path]["get"]["responses"]
        assert set(responses) == {"200", *ANALYTICS_STATUSES}, path
        assert set(responses["200"]["content"]) == {media}, path
        for status in ANALYTICS_STATUSES:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema["$ref"] == OUTCOME_REF, (path, status)
    report = document["paths"]["/analytics/cards"]["get"]["responses"]["200"]["content"]
    schema = component(document, report["application/json"]["schema"]["$ref"])
    assert set(schema["required"]) == {"generatedAt", "weeks", "rows", "totals"}
    assert "CDS_ANALYTICS_TOKEN" in document["info"]["description"]


def test_the_service_answers_each_documented_feedback_status(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory()
    feedback = "/cds-services/footdrop-patient-view/feedback"
    answers = {
        400: client.post(feedback, json={"feedback": []}),
        404: client.post("/cds-services/none-such/feedback", json={"feedback": []}),
        413: client.post(feedback, content=b" " * 1_000_001, headers=JSON),
        415: client.post(feedback, content=b"{}", headers={"Content-Type": "text/plain"}),
        401: client_factory(analytics_token="a-committee-token-of-32-characters").get(
            "/analytics/cards"
        ),
    }
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        OperationOutcome.model_validate(response.json())


JSON = {"Content-Type": "application/json"}
