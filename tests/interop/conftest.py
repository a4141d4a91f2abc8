"""Session fixtures of the interop tier: one FHIR server, one CDS service, one EHR client.

The tier needs Node.js and the npm packages of tests/interop (`make test` installs
them with `npm ci`). Without them it is skipped with the reason, except where
`CDS_INTEROP_REQUIRED=1` (CI sets it): there a missing piece fails the run, so CI
can never pass without having run the tier.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.interop import harness
from tests.interop.harness import CdsService, Ehr, FhirServer, Node

Json = dict[str, Any]


@pytest.fixture(scope="session")
def node() -> Node:
    try:
        return harness.find_node()
    except harness.NodeUnavailable as reason:
        if os.environ.get("CDS_INTEROP_REQUIRED") == "1":
            pytest.fail(f"CDS_INTEROP_REQUIRED=1, but {reason}")
        pytest.skip(str(reason))


@pytest.fixture(scope="session")
def fhir_server(node: Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    server = harness.start_fhir_server(node, tmp_path_factory.mktemp("fhir-server"))
    try:
        yield server
    finally:
        harness.stop(server.process)


@pytest.fixture(scope="session")
def cds_service(
    fhir_server: FhirServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CdsService]:
    """The service in development mode (auth off), allowed to read the FHIR server."""
    # Medplum's memory search is a linear scan: over the Synthea charts, the service's own
    # code-filtered searches take seconds on a busy machine, near the 5 s default budget.
    service = harness.start_cds_service(
        tmp_path_factory.mktemp("cds-service"), fhir_server.base_url, fhir_timeout_s="20"
    )
    try:
        yield service
    finally:
        harness.stop(service.process)


@pytest.fixture(scope="session")
def scenarios(fhir_server: FhirServer) -> dict[str, Json]:
    """Every scenario patient (scenarios/*.json) on the FHIR server, by file stem."""
    loaded = {
        path.stem: harness.load_json(f"scenarios/{path.name}") for path in harness.SCENARIO_FILES
    }
    for scenario in loaded.values():
        fhir_server.load(scenario["record"])
    return loaded


@pytest.fixture(scope="session")
def ehr(node: Node, fhir_server: FhirServer, cds_service: CdsService) -> Ehr:
    """An EHR that does not sign its calls (the service runs with CDS_AUTH_MODE=off)."""
    return Ehr(node, fhir_server, cds_service)
