"""The app tunes the cycle collector for as long as it runs: a large record held through
its call is walked by few collections of the middle generation."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from bench.load import SLOT
from bench.records import generated, hook_body
from service.app import MIDDLE_GENERATION_THRESHOLD, create_app
from tests.conftest import make_settings
from tests.support.collector import collections_started

PATIENT_VIEW = "/cds-services/footdrop-patient-view"


@pytest.fixture
def collections() -> Iterator[list[int]]:
    with collections_started(this_thread_only=False) as started:
        yield started


def test_the_middle_generation_is_collected_less_often_while_the_app_runs() -> None:
    before = gc.get_threshold()
    with TestClient(create_app(make_settings())):
        young, middle, oldest = gc.get_threshold()
        assert (young, oldest) == (before[0], before[2])
        assert middle == MIDDLE_GENERATION_THRESHOLD > before[1]
    assert gc.get_threshold() == before


def test_a_large_record_is_walked_by_at_most_one_older_collection(
    client_factory: Callable[..., TestClient], collections: list[int]
) -> None:
    """10,000 resources: with CPython's default of 10 young collections per middle one, the
    call sets off three or more collections of the older generations, each walking the
    whole record."""
    record = generated(10_000, datetime.now(UTC).date())
    request = hook_body("patient-view", record.patient_id, record=record)
    client = client_factory()
    collections.clear()
    hook_instance = str(uuid.uuid4()).encode()
    response = client.post(
        PATIENT_VIEW,
        content=request.replace(SLOT.encode(), hook_instance),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert "cards" in response.json()
    older = [generation for generation in collections if generation > 0]
    assert len(collections) > 10, "the record is too small to show anything"
    assert len(older) <= 1, older
