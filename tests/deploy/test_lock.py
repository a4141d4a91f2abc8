"""The lock files pin every dependency with hashes, and every install path uses them."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import dockerfile
from tests.support.processes import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REQUIREMENTS = ROOT / "requirements"


def pins(name: str) -> dict[str, str]:
    """package → version of a lock file, checking that every pin carries a sha256 hash."""
    text = (REQUIREMENTS / name).read_text()
    found = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", block)
        if not match:
            continue
        assert "--hash=sha256:" in block, f"{name}: {match.group(1)} has no hash"
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    requirements += [Requirement(r) for e in extras for r in project["optional-dependencies"][e]]
    requirements += [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    return requirements


def test_dev_lock_pins_every_declared_dependency_within_its_range() -> None:
    locked = pins("dev.txt")
    for requirement in declared("dev", "postgres"):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements/dev.txt: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{name} {locked[name]} is outside {requirement.specifier}: run make lock"
        )


def test_runtime_lock_is_the_runtime_part_of_the_dev_lock() -> None:
    run, dev = pins("run.txt"), pins("dev.txt")
    for requirement in declared("postgres"):
        assert canonicalize_name(requirement.name) in run
    assert all(dev[name] == version for name, version in run.items()), "locks disagree"
    for tool in ("pytest", "ruff", "mypy", "import-linter", "uv"):
        assert tool not in run, f"{tool} is a development tool"


def test_make_ci_and_the_image_install_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for lock in ("requirements/run.txt", "requirements/dev.txt"):
        assert lock in makefile
    assert makefile.count("--require-hashes") == 2
    assert re.search(r"^lock:", makefile, re.MULTILINE)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    installs = [i.arguments for i in dockerfile.instructions() if "pip install" in i.arguments]
    assert any("--require-hashes" in i and "requirements/run.txt" in i for i in installs)
    assert all("--no-deps" in i for i in installs), "nothing is resolved outside the lock"


def test_the_licence_is_an_spdx_string() -> None:
    # A licence table makes setuptools warn on every install.
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
