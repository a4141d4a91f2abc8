"""Auth tests run on asyncio (the service's loop) at a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.auth.harness import NoNetwork


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def no_network() -> NoNetwork:
    return NoNetwork()


@pytest.fixture
async def offline_http(no_network: NoNetwork) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=no_network) as client:
        yield client
