"""The software version, as installed (pyproject.toml's `version`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def software_version() -> str:
    try:
        return version("footdrop-cds")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
