"""The benchmark of issue 15: the service beside a bare FastAPI floor, over real HTTP."""

import warnings

# tests.support (token signing, Synthea charts) imports FastAPI's TestClient, which warns
# about httpx; pytest silences the same warning in pyproject.toml.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
