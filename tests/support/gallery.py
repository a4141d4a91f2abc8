"""The card gallery's example requests posted to one started app, each at its own time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

from cards.gallery import GalleryExample
from service.app import create_app
from service.settings import Settings


class ExampleClock:
    """The app's clock, set to an example's request time before its request is posted."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        assert self.now is not None, "post_example sets the time"
        return self.now


class ExampleClient:
    def __init__(self, client: TestClient, clock: ExampleClock) -> None:
        self.client, self.clock = client, clock

    def post(self, example: GalleryExample) -> httpx.Response:
        """The example's hook request, as an EHR posts it, at the example's request time."""
        self.clock.now = example.now
        return self.client.post(f"/cds-services/{example.service}", json=example.request)


@contextmanager
def example_client(**settings: Any) -> Iterator[ExampleClient]:
    clock = ExampleClock()
    app = create_app(Settings(database_url="sqlite://", **settings), clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield ExampleClient(client, clock)
