"""`footdrop-cds demo` against a real server started with `footdrop-cds serve`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import jwt
import pytest

from service.cli.demo import DEMO_ISSUER, DEMO_KID, Signer, as_of_today, load_examples
from tests.conftest import PATIENT_HASH_KEY
from tests.support.processes import ROOT, Server, environment, free_port, running

DEMO_KEY = ROOT / "docker" / "demo-issuer" / "private-key.pem"
DEMO_JWKS = ROOT / "docker" / "demo-issuer" / "jwks.json"
#: What each example shows, as examples/README.md says.
EXPECTED = {
    "patient-view.json": {"orthosis", "physical-therapy", "localization-workup"},
    "patient-view-red-flag.json": {"red-flag-urgent-evaluation"},
    "patient-view-no-card.json": set(),
    "order-select.json": {"dalfampridine-contraindicated", "add-physical-therapy"},
    "order-sign.json": {"fusion-not-indicated"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port, directory = free_port(), tmp_path_factory.mktemp("demo")
    env = environment(CDS_DATABASE_URL=f"sqlite:///{directory / 'cds.db'}")
    command = ["footdrop-cds", "serve", "--port", str(port), "--workers", "1"]
    with running(command, port, env, directory / "server.log") as started:
        yield started


def demo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["footdrop-cds", "demo", *arguments],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_prints_every_example_with_its_cards(server: Server) -> None:
    result = demo("--url", server.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "\x1b[" not in out, "no colour codes when the output is not a terminal"
    for name, topics in EXPECTED.items():
        assert f"{name} → " in out
        for topic in topics:
            assert f"{topic} · " in out, (name, topic)
    assert "CRITICAL" in out and "suggestion:" in out
    assert out.index("patient-view.json") < out.index("order-select.json")


def test_demo_in_colour_when_asked(server: Server) -> None:
    result = demo("--url", server.base_url, "--color")
    assert result.returncode == 0
    assert "\x1b[" in result.stdout


def test_demo_signs_its_calls_when_given_a_key(server: Server) -> None:
    result = demo("--url", server.base_url, "--key", str(DEMO_KEY))
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_says_when_no_server_answers() -> None:
    result = demo("--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "cannot reach" in result.stdout


def test_the_demo_token_verifies_with_the_demo_issuers_key_set() -> None:
    signer = Signer.from_file(DEMO_KEY, DEMO_ISSUER, DEMO_KID)
    audience = "http://127.0.0.1:8080/cds-services/footdrop-patient-view"
    token = signer.token(audience)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES384", "kid": DEMO_KID, "typ": "JWT"}
    keys = jwt.PyJWKSet.from_json(DEMO_JWKS.read_text())
    claims = jwt.decode(
        token, keys[DEMO_KID].key, algorithms=["ES384"], audience=audience, issuer=DEMO_ISSUER
    )
    assert claims["exp"] - claims["iat"] == 300
    assert (
        claims["jti"]
        != jwt.decode(
            signer.token(audience), keys[DEMO_KID].key, algorithms=["ES384"], audience=audience
        )["jti"]
    )


def test_example_dates_move_to_today_and_nothing_else_changes() -> None:
    body = json.loads((ROOT / "examples" / "patient-view.json").read_text())
    moved = as_of_today(body, date(2026, 12, 4))  # ten days after the example date
    onset = moved["prefetch"]["conditions"]["entry"][0]["resource"]["onsetDateTime"]
    assert onset == "2026-11-12"  # 2026-11-02 + 10 days
    assert moved["prefetch"]["patient"]["birthDate"] == "1968-04-22"
    assert moved["extension"] == body["extension"]
    assert moved["hookInstance"] != body["hookInstance"]
    assert moved["context"] == body["context"]


def test_examples_come_in_hook_order(tmp_path: Path) -> None:
    hooks = [body["hook"] for _, body in load_examples(ROOT / "examples")]
    assert hooks == sorted(hooks, key=["patient-view", "order-select", "order-sign"].index)


def test_demo_against_jwt_mode_as_the_compose_example_runs_it(tmp_path: Path) -> None:
    """The compose set-up on one machine: jwt mode trusting the demo issuer's key set."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    issuers = {DEMO_ISSUER: {"jwks_file": str(DEMO_JWKS), "testing": True}}
    env = environment(
        CDS_AUTH_MODE="jwt",
        CDS_PUBLIC_BASE_URL=base,
        CDS_TRUSTED_ISSUERS=json.dumps(issuers),
        CDS_PATIENT_HASH_KEY=PATIENT_HASH_KEY,
        CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}",
    )
    command = ["footdrop-cds", "serve", "--port", str(port), "--workers", "1"]
    with running(command, port, env, tmp_path / "server.log") as server:
        assert demo("--url", base).returncode == 1, "unsigned calls are refused"
        signed = demo("--url", base, "--key", str(DEMO_KEY))
        assert signed.returncode == 0, signed.stdout + signed.stderr
        assert "red-flag-urgent-evaluation · " in signed.stdout
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        log = server.output()
    assert 'footdrop_cds_jwt_rejections_total{reason="missing_token"} 1.0' in metrics
    assert "testing issuer" in log
