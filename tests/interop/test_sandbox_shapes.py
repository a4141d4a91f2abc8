"""What the CDS Hooks sandbox puts on the wire, and what the service must do with it.

The sandbox cannot be reached from here, so its shapes are fixtures built from
what it is known to send (sandbox/*.json; issue 13 item 4): no encounterId, no
fhirAuthorization, prefetch without the keys it could not resolve; an empty
MedicationRequest when the medication screen opens and a ServiceRequest with
`code.coding: [{}]` and `reasonCode: []` when the imaging screen opens;
MedicationRequest drafts without `intent`, with `category` and `reasonCode` as
single objects and doses in `{pill}`; a lumbar MRI as CPT 72148 with a SNOMED
reason; every call signed with an ES384 JWT; override feedback with a reason
code and system but no display. The calls go through `cds_client.mjs` in its
"sandbox" mode, against the scenario patients on the real FHIR server, to the
service in jwt mode trusting a sandbox-shaped test issuer.

Expectations that need work of other issues are strict xfails naming the issue,
so they turn into failures (to remove the mark) the day that work lands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import PATIENT_HASH_KEY
from tests.interop import harness
from tests.interop.harness import SANDBOX_ORIGIN, CdsService, Ehr, Exchange, FhirServer, Node
from tests.support.spec_checks import check_response
from tests.support.tokens import SANDBOX_ISSUER, SANDBOX_JKU, SigningKey, TokenFactory

Json = dict[str, Any]
SHAPES = sorted(path.stem for path in (harness.HERE / "sandbox").glob("*.json"))

#: (check, shape) -> strict xfail mark, for expectations that need other issues' work.
PENDING: dict[tuple[str, str], Any] = {}


def shapes(check: str) -> list[Any]:
    return [pytest.param(name, marks=PENDING.get((check, name), ())) for name in SHAPES]


def sandbox_call(ehr: Ehr, name: str) -> Exchange:
    shape = harness.load_json(f"sandbox/{name}.json")
    if shape["hook"] == "patient-view":
        context: Json = {"patientId": shape["patient"], **shape["context"]}
    else:
        context = harness.draft_context(shape["patient"], shape["drafts"], shape["selections"])
    return ehr.call(shape["hook"], context, "sandbox")


@pytest.fixture(scope="module")
def signer() -> TokenFactory:
    """Signs like the sandbox (its iss, kid, jku, ES384), with a P-384 key of our own."""
    return TokenFactory.sandbox_shaped()


@pytest.fixture(scope="module")
def sandbox_service(
    tmp_path_factory: pytest.TempPathFactory, fhir_server: FhirServer, signer: TokenFactory
) -> Iterator[CdsService]:
    """The service as set up for the sandbox: jwt mode, the sandbox issuer trusted with the
    test key's JWK Set file (docs/security.md), and the sandbox's origin allowed."""
    workdir = tmp_path_factory.mktemp("sandbox-service")
    jwks_file = workdir / "sandbox-test-jwks.json"
    jwks_file.write_text(json.dumps(signer.jwks()))
    issuers = {
        SANDBOX_ISSUER: {"jwks_url": SANDBOX_JKU, "jwks_file": str(jwks_file), "testing": True}
    }
    service = harness.start_cds_service(
        workdir,
        fhir_server.base_url,
        auth_mode="jwt",
        trusted_issuers=json.dumps(issuers),
        patient_hash_key=PATIENT_HASH_KEY,
        cors_origins=SANDBOX_ORIGIN,
    )
    try:
        yield service
    finally:
        harness.stop(service.process)


@pytest.fixture(scope="module")
def exchanges(
    scenarios: dict[str, Json],
    node: Node,
    fhir_server: FhirServer,
    sandbox_service: CdsService,
    signer: TokenFactory,
) -> dict[str, Exchange]:
    """Every sandbox shape sent once, signed; the scenario patients are on the FHIR server."""
    ehr = Ehr(node, fhir_server, sandbox_service, signer=signer)
    return {name: sandbox_call(ehr, name) for name in SHAPES}


def outline(exchange: Exchange) -> dict[str, str]:
    return dict(exchange.card_outline())


@pytest.mark.parametrize("name", SHAPES)
def test_the_request_has_the_sandbox_shape(name: str, exchanges: dict[str, Exchange]) -> None:
    request = exchanges[name].request
    assert "fhirAuthorization" not in request and request["fhirServer"]
    assert "encounterId" not in request["context"]
    assert None not in request["prefetch"].values()


@pytest.mark.parametrize("name", SHAPES)
def test_the_service_accepts_it(name: str, exchanges: dict[str, Exchange]) -> None:
    """Signed as the sandbox signs, verified in jwt mode, answered with cards."""
    exchange = exchanges[name]
    assert exchange.status == 200, exchange.response
    assert isinstance(exchange.response["cards"], list)


@pytest.mark.parametrize("name", shapes("fires"))
def test_the_cards_it_calls_for_are_shown(name: str, exchanges: dict[str, Exchange]) -> None:
    expect = harness.load_json(f"sandbox/{name}.json")["expect"]
    shown = outline(exchanges[name])
    assert set(expect.get("fires", [])) <= set(shown), shown
    assert all(shown[topic] == "critical" for topic in expect.get("critical", [])), shown


@pytest.mark.parametrize("name", shapes("silent"))
def test_no_card_the_specification_rules_out(name: str, exchanges: dict[str, Exchange]) -> None:
    expect = harness.load_json(f"sandbox/{name}.json")["expect"]
    assert not set(expect.get("silent", [])) & set(outline(exchanges[name]))


@pytest.mark.parametrize("name", shapes("valid"))
def test_every_resource_it_gets_back_is_valid_r4(
    name: str, exchanges: dict[str, Exchange], fhir_server: FhirServer
) -> None:
    exchange = exchanges[name]
    errors = {
        action["type"]: fhir_server.validation_errors(action["resource"])
        for card in exchange.cards
        for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"]
        if "resource" in action
    }
    assert all(found == [] for found in errors.values()), errors
    topics = {card["source"]["topic"]["code"] for card in exchange.cards}
    if "dalfampridine-dose" in topics:  # the dose correction is offered, not dropped
        assert "update" in errors
    check_response(exchange.response)  # R4B models, plus the CDS Hooks response rules


@pytest.mark.parametrize("path", ["/cds-services", "/cds-services/footdrop-order-select"])
def test_its_preflight_is_allowed(path: str, sandbox_service: CdsService) -> None:
    response = httpx.options(
        f"{sandbox_service.base_url}{path}",
        headers={
            "Origin": SANDBOX_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SANDBOX_ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_a_sandbox_shaped_token_from_another_key_is_refused(
    sandbox_service: CdsService, signer: TokenFactory, exchanges: dict[str, Exchange]
) -> None:
    impostor = SigningKey.generate("ES384", signer.key.kid)
    url = sandbox_service.url(harness.SERVICE_IDS["patient-view"])
    token = signer.token(url, datetime.now(UTC), key=impostor)
    response = httpx.post(
        url,
        json=exchanges["patient-view"].request,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_override_feedback_without_display_is_accepted(
    exchanges: dict[str, Exchange], sandbox_service: CdsService, signer: TokenFactory
) -> None:
    exchange = exchanges["patient-view"]
    card = next(card for card in exchange.cards if card.get("overrideReasons"))
    reason = card["overrideReasons"][0]
    url = f"{sandbox_service.url(exchange.service['id'])}/feedback"
    now = datetime.now(UTC)
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": reason["code"], "system": reason["system"]}},
                "outcomeTimestamp": now.isoformat(timespec="seconds"),
            }
        ]
    }
    response = httpx.post(
        url,
        json=feedback,
        headers={"Authorization": f"Bearer {signer.token(url, now)}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
