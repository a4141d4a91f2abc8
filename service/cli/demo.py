"""`footdrop-cds demo`: the example requests against a running service, cards printed readably.

Each file of examples/ is a hook request an EHR could send. Its dates were written
relative to the day in its extension `org.footdrop-cds.example-date`; the demo moves
every date by the days since then, so "a foot drop that started three weeks ago"
is three weeks old whenever the demo runs. The service is found by the request's
hook in discovery. With `--key`, every call carries a JWT signed with that key, as
an EHR's would (the compose example's demo issuer).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

EXAMPLE_DATE = "org.footdrop-cds.example-date"
DEMO_ISSUER = "urn:footdrop-cds:demo-ehr"
DEMO_KID = "footdrop-cds-demo-1"
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(.*)$", re.DOTALL)
STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "bold cyan"}

Json = dict[str, Any]


@dataclass(frozen=True)
class Signer:
    """Signs one short-lived JWT per call, claims as CDS Hooks requires (aud = the URL called)."""

    key: Any
    algorithm: str
    issuer: str
    kid: str

    @classmethod
    def from_file(cls, path: Path, issuer: str, kid: str) -> Signer:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            algorithm = {"secp384r1": "ES384", "secp256r1": "ES256"}[key.curve.name]
        elif isinstance(key, rsa.RSAPrivateKey):
            algorithm = "RS384"
        else:
            raise ValueError(f"{path}: not an EC P-384/P-256 or RSA private key")
        return cls(key, algorithm, issuer, kid)

    def token(self, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.kid, "typ": "JWT"}
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers=headers)


HOOK_ORDER = ("patient-view", "order-select", "order-sign")


def load_examples(directory: Path) -> list[tuple[str, Json]]:
    """The example requests in the order a clinician meets the hooks, then by file name."""
    examples = [(path.name, json.loads(path.read_text())) for path in directory.glob("*.json")]

    def position(example: tuple[str, Json]) -> tuple[int, str]:
        hook = example[1].get("hook")
        return (HOOK_ORDER.index(hook) if hook in HOOK_ORDER else len(HOOK_ORDER), example[0])

    return sorted(examples, key=position)


def shift_dates(value: Any, days: int) -> Any:
    """Every ISO date or dateTime in `value`, `days` later (times and offsets kept)."""
    if isinstance(value, dict):
        return {key: shift_dates(item, days) for key, item in value.items()}
    if isinstance(value, list):
        return [shift_dates(item, days) for item in value]
    if isinstance(value, str) and (match := _DATE.match(value)):
        try:
            moved = date.fromisoformat(match.group(1)) + timedelta(days=days)
        except ValueError:
            return value
        return moved.isoformat() + match.group(2)
    return value


def as_of_today(body: Json, today: date) -> Json:
    """The request with its dates moved from its example date to `today`."""
    written = (body.get("extension") or {}).get(EXAMPLE_DATE)
    if not isinstance(written, str):
        return body
    days = (today - date.fromisoformat(written)).days
    extension = body["extension"]
    moved: Json = shift_dates({k: v for k, v in body.items() if k != "extension"}, days)
    moved["extension"] = extension
    moved["hookInstance"] = str(uuid.uuid4())  # a fresh call each time, as an EHR's would be
    return moved


def run_demo(
    url: str,
    examples: Path,
    signer: Signer | None,
    audience_base: str | None,
    color: bool | None,
) -> int:
    console = Console(
        highlight=False,
        force_terminal=True if color else None,
        no_color=color is False,
    )
    requests = load_examples(examples)
    if not requests:
        console.print(f"no example requests (*.json) in {examples}")
        return 1
    audience = (audience_base or url).rstrip("/")

    def headers(path: str) -> dict[str, str]:
        if signer is None:
            return {}
        return {"Authorization": f"Bearer {signer.token(audience + path)}"}

    today = datetime.now(UTC).date()
    with httpx.Client(base_url=url, timeout=30) as client:
        try:
            discovery = client.get("/cds-services", headers=headers("/cds-services"))
        except httpx.HTTPError as error:
            console.print(f"cannot reach {url}: {type(error).__name__}: {error}")
            return 1
        if discovery.status_code != 200:
            console.print(f"{url}/cds-services answered {discovery.status_code}: {discovery.text}")
            return 1
        by_hook = {s["hook"]: s["id"] for s in reversed(discovery.json()["services"])}
        failures = 0
        for name, body in requests:
            service = by_hook.get(str(body.get("hook")))
            if service is None:
                console.print(f"{name}: no service for hook {body.get('hook')!r} at {url}")
                failures += 1
                continue
            path = f"/cds-services/{service}"
            response = client.post(path, json=as_of_today(body, today), headers=headers(path))
            failures += not _print_response(console, name, service, response)
    return 1 if failures else 0


def _print_response(console: Console, name: str, service: str, response: httpx.Response) -> bool:
    heading = Text(f"{name} → {service}: ", style="bold")
    if response.status_code != 200:
        console.print(heading + Text(f"HTTP {response.status_code} {response.text}", "red"))
        return False
    cards: list[Json] = response.json()["cards"]
    console.rule(heading + Text(f"{len(cards)} card{'s' * (len(cards) != 1)}"))
    for card in cards:
        console.print(_card_panel(card))
    return True


def _card_panel(card: Json) -> Panel:
    indicator = str(card["indicator"])
    topic = (card.get("source", {}).get("topic") or {}).get("code", "")
    title = Text(f" {indicator.upper()} ", STYLE.get(indicator, "bold"))
    parts: list[Any] = [Text(card["summary"], "bold"), Text("")]
    if card.get("detail"):
        parts.append(Markdown(card["detail"]))
    for suggestion in card.get("suggestions", []):
        mark = " (recommended)" if suggestion.get("isRecommended") else ""
        parts.append(Text(f"▸ suggestion: {suggestion['label']}{mark}", "green"))
    for link in card.get("links", []):
        parts.append(Text(f"↗ {link['label']}: {link['url']}", "blue"))
    subtitle = f"{topic} · {card['source']['label']}"
    return Panel(
        Group(*parts),
        title=title,
        title_align="left",
        subtitle=subtitle,
        subtitle_align="right",
        border_style=STYLE.get(indicator, "white").split()[-1],
    )
