"""Red-flag findings read from free text (clinical-logic v3 §2 red_flag findings)."""

from __future__ import annotations

import pytest

from tests.support.clinical import condition, days_ago, features_of, foot_drop

ACUTE = foot_drop(onset=days_ago(10))


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("acute urinary retention", "urinary_retention"),
        ("cauda equina syndrome", "cauda_equina"),
        ("faecal incontinence", "bowel_dysfunction"),
        ("saddle numbness", "saddle_anesthesia"),
    ],
)
def test_an_uncoded_problem_list_entry_is_the_finding(text: str, feature: str) -> None:
    entry = condition(None, text=text, recorded=days_ago(2))
    found = getattr(features_of(ACUTE, entry), feature)
    assert len(found) == 1
    assert found[0].from_text and found[0].date is not None
    assert found[0].evidence.value is not None
    assert found[0].evidence.value.startswith("recorded as free text")


@pytest.mark.parametrize(
    "text", ["suspected urinary retention", "?urinary retention", "r/o urinary retention"]
)
def test_suspicion_never_negates(text: str) -> None:
    entry = condition(None, text=text, recorded=days_ago(2))
    assert features_of(ACUTE, entry).urinary_retention


@pytest.mark.parametrize(
    "text", ["history of urinary retention", "h/o urinary retention", "previous urinary retention"]
)
def test_history_makes_an_older_finding(text: str) -> None:
    entry = condition(None, text=text, recorded=days_ago(2))
    found = features_of(ACUTE, entry).urinary_retention
    assert len(found) == 1 and found[0].date is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "resolved"},
        {"status": "inactive"},
        {"verification": "refuted"},
        {"verification": "entered-in-error"},
    ],
)
def test_only_active_entries_count(kwargs: dict[str, str]) -> None:
    entry = condition(None, text="urinary retention", recorded=days_ago(2), **kwargs)
    assert not features_of(ACUTE, entry).urinary_retention


def test_denied_retention_is_no_finding() -> None:
    entry = condition(None, text="no urinary retention", recorded=days_ago(2))
    assert not features_of(ACUTE, entry).urinary_retention


def test_a_coded_entry_is_not_read_again_from_its_text() -> None:
    coded = condition("R33.9", text="urinary retention", onset=days_ago(2))
    assert len(features_of(ACUTE, coded).urinary_retention) == 1


def test_a_finding_in_a_recent_foot_drop_note_is_noted_only() -> None:
    fd = foot_drop(onset=days_ago(10), notes=[("new urinary retention today", days_ago(1))])
    f = features_of(fd)
    assert not f.urinary_retention
    assert [x.feature for x in f.red_flag_noted] == ["urinary_retention"]


def test_an_old_note_is_not_read() -> None:
    fd = foot_drop(onset=days_ago(40), notes=[("urinary retention", days_ago(20))])
    assert not features_of(fd).red_flag_noted
