"""compose.yaml and the Kubernetes manifests: they parse, and what they name exists."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from service.settings import Settings
from tests.support import dockerfile
from tests.support.processes import ROOT

DOCKER = ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
K8S = {
    doc["kind"]: doc
    for path in sorted((DOCKER / "k8s").glob("*.yaml"))
    if path.name != "kustomization.yaml"
    for doc in yaml.safe_load_all(path.read_text())
}

#: Settings the deployment files set before the work that reads them is merged. The lead
#: empties this list as those branches land (each then passes and must lose its xfail).
PENDING: dict[str, str] = {}


def settings_env_names() -> set[str]:
    names = {f"CDS_{name.upper()}" for name in Settings.model_fields}
    clinical = Settings.model_fields["clinical"].annotation
    assert isinstance(clinical, type)
    names |= {f"CDS_CLINICAL__{name.upper()}" for name in clinical.model_fields}  # type: ignore[attr-defined]
    return names


def deployment_env_names() -> set[str]:
    """Every CDS_ variable the image, compose, the manifests and the README set."""
    names = {n for n in dockerfile.environment() if n.startswith("CDS_")}
    names |= set(COMPOSE["services"]["cds"]["environment"])
    names |= set(K8S["ConfigMap"]["data"]) | set(K8S["Secret"]["stringData"])
    readme = (ROOT / "README.md").read_text()
    names |= set(re.findall(r"^\| `(CDS_[A-Z_]+)`", readme, re.MULTILINE))
    return names


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=PENDING[n]))
        if n in PENDING
        else n
        for n in sorted(deployment_env_names())
    ],
)
def test_every_variable_the_deployment_sets_is_a_setting(name: str) -> None:
    assert name in settings_env_names()


def test_no_deployment_turns_the_rule_trace_on() -> None:
    """CDS_EXPLAIN answers the explain extension with record ids: for integration testing,
    never a default of the image, compose or the Kubernetes manifests."""
    assert Settings.model_fields["explain"].default is False
    for source in (
        dockerfile.environment(),
        COMPOSE["services"]["cds"]["environment"],
        K8S["ConfigMap"]["data"],
        K8S["Secret"]["stringData"],
    ):
        assert "CDS_EXPLAIN" not in source
    for path in [*DOCKER.rglob("*.yaml"), DOCKER / "Dockerfile"]:
        assert "CDS_EXPLAIN" not in path.read_text(), path


def test_compose_runs_the_service_in_jwt_mode_on_postgresql() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"cds", "postgres"}
    cds, postgres = services["cds"], services["postgres"]
    assert cds["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert (DOCKER / cds["build"]["context"] / cds["build"]["dockerfile"]).is_file()
    env = cds["environment"]
    assert env["CDS_AUTH_MODE"] == "jwt"
    assert env["CDS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert cds["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    user, password, database = (
        postgres["environment"][k] for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")
    )
    assert f"//{user}:{password}@postgres:5432/{database}" in env["CDS_DATABASE_URL"]
    assert "/tmp" in cds["tmpfs"] and cds["read_only"] is True


def test_compose_trusts_the_demo_issuer_from_the_mounted_key_set() -> None:
    cds = COMPOSE["services"]["cds"]
    (mount,) = cds["volumes"]
    source, target, _ = mount.split(":")
    assert (DOCKER / source / "jwks.json").is_file()
    issuers = json.loads(cds["environment"]["CDS_TRUSTED_ISSUERS"])
    (issuer,) = issuers.items()
    iss, config = issuer
    assert config["testing"] is True
    assert config["jwks_file"] == f"{target}/jwks.json"
    from service.cli.demo import DEMO_ISSUER

    assert iss == DEMO_ISSUER


def container(kind: str = "Deployment") -> dict[str, Any]:
    (found,) = K8S[kind]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = found
    return result


def test_kubernetes_probes_hit_endpoints_that_answer(client: TestClient) -> None:
    spec = container()
    (port,) = spec["ports"]
    assert port["containerPort"] == int(dockerfile.one("EXPOSE").arguments)
    assert spec["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/health"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http = spec[probe]["httpGet"]
        assert http["port"] == port["name"]
        assert client.get(http["path"]).status_code == 200, probe
    annotations = K8S["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert client.get(annotations["prometheus.io/path"]).status_code == 200
    assert annotations["prometheus.io/port"] == str(port["containerPort"])


def test_kubernetes_objects_refer_to_each_other() -> None:
    deployment = K8S["Deployment"]
    name = deployment["metadata"]["name"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert K8S["Service"]["spec"]["selector"].items() <= labels.items()
    (service_port,) = K8S["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == container()["ports"][0]["name"]
    assert K8S["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == name
    sources = {next(iter(ref)): ref[next(iter(ref))]["name"] for ref in container()["envFrom"]}
    assert sources == {
        "configMapRef": K8S["ConfigMap"]["metadata"]["name"],
        "secretRef": K8S["Secret"]["metadata"]["name"],
    }
    assert "CDS_DATABASE_URL" in K8S["Secret"]["stringData"]
    kustomization = yaml.safe_load((DOCKER / "k8s" / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in (DOCKER / "k8s").glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_kubernetes_pods_are_non_root_with_writable_tmp() -> None:
    spec = container()
    pod = K8S["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(dockerfile.one("USER").arguments)
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in spec["volumeMounts"]}
    assert "/tmp" in mounts
    assert dockerfile.exec_form(dockerfile.one("VOLUME"))[0] in mounts


def test_grafana_dashboard_reads_only_metrics_the_service_exposes(client: TestClient) -> None:
    dashboard = json.loads((DOCKER / "grafana" / "footdrop-cds-dashboard.json").read_text())
    exposed = set(re.findall(r"^# TYPE (\S+) (\S+)", client.get("/metrics").text, re.MULTILINE))
    series = set()
    for name, kind in exposed:
        series.add(name)
        if kind == "histogram":
            series |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= set(re.findall(r"\bfootdrop_cds_[a-z_]+", target["expr"]))
    assert used and used <= series, used - series
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in used}
    ours = {name for name, _ in exposed if name.startswith("footdrop_cds_")}
    assert ours <= families, "every metric of the service has a panel"


def test_demo_issuer_is_a_fresh_p384_key_matching_its_key_set() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt import PyJWKSet

    key = serialization.load_pem_private_key(
        (DOCKER / "demo-issuer" / "private-key.pem").read_bytes(), password=None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1"
    (jwk,) = PyJWKSet.from_json((DOCKER / "demo-issuer" / "jwks.json").read_text()).keys
    public = key.public_key().public_numbers()
    assert jwk.key.public_numbers() == public
    # The CDS Hooks sandbox's published key id: its private key must never be ours.
    assert jwk.key_id != "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
    assert httpx.__name__  # the demo signs and sends with httpx (a runtime dependency)
