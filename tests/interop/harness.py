"""The interop tier's moving parts as real processes on loopback ports.

- `FhirServer`: Medplum's FHIR R4 repository and router behind `fhir_server.mjs`.
- `CdsService`: this service as uvicorn starts it (`--factory service.app:create_app`).
- `Ehr`: `cds_client.mjs`, Medplum's CDS Hooks client, calling one against the other.

Each process is started by its fixture in `conftest.py` and stopped by it; every port
is chosen by the OS (bound to port 0), so tiers running in parallel never collide.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.support.tokens import TokenFactory

Json = dict[str, Any]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCENARIO_FILES = sorted((HERE / "scenarios").glob("*.json"))
#: Bounds for start-up, far above what is needed (about 1 s each): a hung process fails
#: the tier instead of hanging it; no test depends on how fast anything is.
START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0
#: The lowest Node.js the tier runs on; Medplum 5.x declares >= 22.18 but runs on 20.
NODE_MIN_MAJOR = 20
SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
#: The services the README documents, by hook: what a registered EHR calls.
SERVICE_IDS = {
    "patient-view": "footdrop-patient-view",
    "order-select": "footdrop-order-select",
    "order-sign": "footdrop-order-sign",
}
UVICORN = (sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app")
DAYS_AGO = re.compile(r"^@days-ago:(\d+)$")


class NodeUnavailable(Exception):
    """Why the tier cannot run here (said as the skip reason)."""


class ProcessFailed(Exception):
    """A process of the tier exited or did not become ready; carries its output."""


@dataclass(frozen=True)
class Node:
    """The Node.js executable and the flags Medplum needs on it."""

    executable: str
    flags: tuple[str, ...]

    def command(self, script: str) -> list[str]:
        return [self.executable, *self.flags, str(HERE / script)]


def find_node() -> Node:
    """Node.js on PATH with the npm packages installed, or `NodeUnavailable` saying why."""
    executable = shutil.which("node")
    if executable is None or shutil.which("npm") is None:
        raise NodeUnavailable(
            "node and npm are not both on PATH: interop tier (tests/interop) skipped"
        )
    version = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    if major < NODE_MIN_MAJOR:
        raise NodeUnavailable(
            f"Node.js {version} is older than {NODE_MIN_MAJOR}: interop tier skipped"
        )
    if not (HERE / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise NodeUnavailable(
            "npm packages of tests/interop are not installed: run `make test` "
            "(or `npm ci` in tests/interop)"
        )
    # Medplum's client needs a global WebSocket, which Node has without a flag from 22 on.
    flags = ("--experimental-websocket",) if major < 22 else ()
    return Node(executable, flags)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def resolve_dates(value: Any, today: datetime | None = None) -> Any:
    """Scenario files write dates as "@days-ago:N", so a chart never ages."""
    today = today or datetime.now(UTC)
    if isinstance(value, str):
        match = DAYS_AGO.match(value)
        return (today - timedelta(days=int(match.group(1)))).date().isoformat() if match else value
    if isinstance(value, list):
        return [resolve_dates(item, today) for item in value]
    if isinstance(value, dict):
        return {key: resolve_dates(item, today) for key, item in value.items()}
    return value


@dataclass
class FhirServer:
    """Medplum's in-memory FHIR R4 server; `base_url` ends in /fhir/R4."""

    process: subprocess.Popen[str]
    base_url: str

    @property
    def log_url(self) -> str:
        return self.base_url.removesuffix("/fhir/R4") + "/__log"

    def load(self, bundle: Json) -> Json:
        """Post a transaction Bundle; every entry must succeed."""
        response = httpx.post(
            self.base_url,
            json=resolve_dates(bundle),
            headers={"Content-Type": "application/fhir+json"},
            timeout=CALL_TIMEOUT_S,
        )
        assert response.status_code == 200, response.text
        result: Json = response.json()
        statuses = [entry["response"]["status"] for entry in result["entry"]]
        assert all(status.startswith("2") for status in statuses), statuses
        return result

    def validation_errors(self, resource: Json) -> list[str]:
        """What Medplum's R4 validator ($validate) finds wrong in `resource`."""
        response = httpx.post(
            f"{self.base_url}/{resource['resourceType']}/$validate",
            json=resource,
            headers={"Content-Type": "application/fhir+json"},
            timeout=CALL_TIMEOUT_S,
        )
        assert response.status_code == 200, response.text
        return [
            f"{', '.join(issue.get('expression', []))}: {issue['details']['text']}"
            for issue in response.json()["issue"]
            if issue["severity"] in {"error", "fatal"}
        ]

    def requests_seen(self) -> list[Json]:
        """Every request the server got since the last `clear_log` (method, path, bearer)."""
        log: list[Json] = httpx.get(self.log_url, timeout=CALL_TIMEOUT_S).json()
        return log

    def clear_log(self) -> None:
        httpx.delete(self.log_url, timeout=CALL_TIMEOUT_S)


def start_fhir_server(node: Node, workdir: Path) -> FhirServer:
    """Start the server; its diagnostics go to a file, so a full pipe can never block it."""
    log_path = workdir / "fhir-server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            node.command("fhir_server.mjs"), cwd=HERE, stdout=subprocess.PIPE, stderr=log, text=True
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if not line:
        stop(process)
        raise ProcessFailed(f"the FHIR server did not start: {log_path.read_text()[-3000:]}")
    return FhirServer(process, json.loads(line)["fhirBase"])


@dataclass
class CdsService:
    """The service under test, as `uvicorn --factory service.app:create_app` runs it."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/cds-services"

    def url(self, service_id: str) -> str:
        return f"{self.discovery_url}/{service_id}"


def start_cds_service(workdir: Path, fhir_base: str, **settings: str) -> CdsService:
    """Start the service with its own SQLite file; `settings` are extra CDS_* variables."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "CDS_DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite'}",
        "CDS_FHIR_ALLOWLIST": fhir_base,
        "CDS_PUBLIC_BASE_URL": base_url,
        "CDS_AUTH_MODE": "off",
        **{f"CDS_{name.upper()}": value for name, value in settings.items()},
    }
    log_path = workdir / "uvicorn.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*UVICORN, "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            # Any answer means the app is up: discovery is 401 without a token in jwt mode.
            if httpx.get(f"{base_url}/cds-services", timeout=1).status_code < 500:
                return CdsService(process, base_url, log_path)
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    stop(process)
    raise ProcessFailed(f"the CDS service did not start:\n{log_path.read_text()[-3000:]}")


@dataclass
class Exchange:
    """One hook call as the client made it: what it discovered, sent and got back."""

    service: Json
    request: Json
    status: int
    response: Json

    @property
    def cards(self) -> list[Json]:
        assert self.status == 200, self.response
        cards: list[Json] = self.response["cards"]
        return cards

    def card_outline(self) -> set[tuple[str, str]]:
        """(topic, indicator) of every card: what must agree between prefetch and fetch."""
        return {(card["source"]["topic"]["code"], card["indicator"]) for card in self.cards}


@dataclass
class Ehr:
    """The EHR: Medplum's CDS Hooks client, its own FHIR token and the one it grants."""

    node: Node
    fhir: FhirServer
    service: CdsService
    user: str = "Practitioner/interop-doc"
    ehr_token: str = "ehr-session-token"
    service_token: str = "token-granted-to-footdrop-cds"
    #: Signs every call to the service (discovery and hook) as the sandbox does; None: unsigned.
    signer: TokenFactory | None = None

    def tokens(self, hook: str) -> dict[str, str]:
        """A fresh JWT for each URL the client will call for `hook` (aud = that URL)."""
        if self.signer is None:
            return {}
        now = datetime.now(UTC)
        urls = (self.service.discovery_url, self.service.url(SERVICE_IDS[hook]))
        return {url: self.signer.token(url, now) for url in urls}

    def call(self, hook: str, context: Json, mode: str) -> Exchange:
        """Run one hook call; `mode` is "prefetch", "fhir-server" or "sandbox" (cds_client.mjs)."""
        call = {
            "cdsServices": self.service.discovery_url,
            "fhirBase": self.fhir.base_url,
            "ehrToken": self.ehr_token,
            "serviceToken": self.service_token,
            "hook": hook,
            "user": self.user,
            "context": resolve_dates({"userId": self.user, **context}),
            "mode": mode,
            "tokens": self.tokens(hook),
        }
        finished = subprocess.run(
            self.node.command("cds_client.mjs"),
            cwd=HERE,
            input=json.dumps(call),
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT_S,
        )
        if finished.returncode != 0:
            raise ProcessFailed(f"cds_client.mjs failed: {finished.stderr}")
        out = json.loads(finished.stdout)
        return Exchange(out["service"], out["request"], out["status"], out["response"])


def draft_context(patient: str, drafts: list[Json], selections: list[str] | None) -> Json:
    """order-select / order-sign context: the drafts as a Bundle, and the selections if any."""
    context: Json = {
        "patientId": patient,
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft} for draft in drafts],
        },
    }
    if selections is not None:
        context["selections"] = selections
    return context


def load_json(relative: str) -> Json:
    data: Json = json.loads((HERE / relative).read_text())
    return data
