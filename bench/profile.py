"""Where the service's time goes: py-spy samples of the running server, grouped by stage.

py-spy samples every thread of the uvicorn process (event loop and thread pool)
without pausing it. Samples of a thread waiting (a pool thread on its queue, the
event loop in epoll) are left out, so what remains is CPU time. Each sample is
given to the innermost frame that names a stage of the request path
(docs/architecture.md), so nested stages do not count twice: the strict JSON
parse inside the body reading is "strict JSON", not "HookRequest validation".
py-spy names files from their package (`service/fhir/strict_json.py`,
`asyncio/events.py`) and methods with their class (`Store.first_use`).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.servers import CLIENT_CPU, pinned

#: (stage, function name, file path part): the first match from the innermost frame out.
STAGES: Sequence[tuple[str, str, str]] = (
    ("strict JSON parse", "", "service/fhir/strict_json.py"),
    ("HookRequest and context validation", "parse_hook_request", "service/http/body.py"),
    ("HookRequest and context validation", "parse_context", "service/cds/pipeline.py"),
    ("JWT: jti replay memory (database)", "", "service/storage/replay.py"),
    ("JWT: jti replay memory (database)", "first_use", "service/storage/store.py"),
    ("JWT: jti replay memory (database)", "first_uses", "service/storage/store.py"),
    ("JWT: signature and claims", "", "service/auth/verifier.py"),
    ("fhir.resources validation", "strictly_valid", "service/fhir/patient_data.py"),
    ("fhir.resources validation", "", "fhir/resources/"),
    ("reading the record (raw JSON readers)", "", "service/fhir/readers.py"),
    ("prefetch resolution (rest)", "", "service/cds/prefetch.py"),
    ("prefetch resolution (rest)", "", "service/fhir/patient_data.py"),
    ("feature extraction", "", "service/clinical/features/"),
    ("rules", "", "service/clinical/"),
    ("card rendering", "", "cards/"),
    ("shown-card memory (database)", "", "service/storage/store.py"),
    ("response serialisation", "_respond", "service/http/routes.py"),
    ("metrics and request log", "", "service/http/observe.py"),
    ("metrics and request log", "", "service/observability/"),
    ("service middleware and routes", "", "service/http/"),
    ("logging", "", "logging/"),
    ("HTTP stack (uvicorn, h11, Starlette, FastAPI)", "", "uvicorn/"),
    ("HTTP stack (uvicorn, h11, Starlette, FastAPI)", "", "h11/"),
    ("HTTP stack (uvicorn, h11, Starlette, FastAPI)", "", "starlette/"),
    ("HTTP stack (uvicorn, h11, Starlette, FastAPI)", "", "fastapi/"),
    ("event loop and thread hand-offs", "", "asyncio/"),
    ("event loop and thread hand-offs", "", "anyio/"),
    ("event loop and thread hand-offs", "", "threading.py"),
)
OTHER = "other"
#: Innermost frames of a thread that waits rather than works.
WAITING = frozenset({"Condition.wait", "EpollSelector.select", "Event.wait", "_worker"})


@dataclass(frozen=True)
class Profile:
    samples: int
    stages: list[tuple[str, float]]
    """(stage, share of samples), largest first."""
    hottest: list[tuple[str, float]]
    """(function, share of samples it was running itself), largest first."""


def py_spy() -> Path | None:
    found = Path(sys.executable).parent / "py-spy"
    return found if found.is_file() else None


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds` (raw collapsed stacks into `output`)."""
    spy = py_spy()
    if spy is None:
        raise RuntimeError("py-spy is not installed")
    command = [
        str(spy),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        "250",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(
        pinned(command, CLIENT_CPU), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _frame_parts(frame: str) -> tuple[str, str]:
    """`name (path:line)` → (name, path)."""
    name, _, rest = frame.partition(" (")
    return name, rest.rsplit(":", 1)[0]


def _stage(frames: Sequence[str]) -> str:
    for frame in reversed(frames):
        name, path = _frame_parts(frame)
        for stage, function, part in STAGES:
            named = not function or name == function or name.endswith("." + function)
            if named and part in path:
                return stage
    return OTHER


def summarise(raw: Path, top: int = 12) -> Profile:
    stages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if _frame_parts(frames[-1])[0] in WAITING:
            continue
        total += count
        stages[_stage(frames)] += count
        name, path = _frame_parts(frames[-1])
        leaves[f"{name} ({path})"] += count
    if not total:
        return Profile(0, [], [])
    return Profile(
        total,
        [(stage, count / total) for stage, count in stages.most_common()],
        [(leaf, count / total) for leaf, count in leaves.most_common(top)],
    )
