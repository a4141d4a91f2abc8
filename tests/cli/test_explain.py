"""`footdrop-cds explain REQUEST.json`: the rule trace of a request, run in-process.

Run as a user runs it (the installed command, no CDS_ settings), on the example
requests: the trace names the cards examples/README.md promises and, for every
other topic, the condition that stopped it in the words of docs/clinical.md.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_docs_and_valuesets import run
from tests.support.processes import ROOT, environment
from tests.support.trace_checks import worded
from tests.test_examples import EXPECTED

EXAMPLES = ROOT / "examples"


def explain(*arguments: str) -> subprocess.CompletedProcess[str]:
    return run("footdrop-cds", "explain", *arguments)


def trace_json(*arguments: str) -> dict[str, Any]:
    result = explain(*arguments, "--json")
    assert result.returncode == 0, result.stderr
    trace: dict[str, Any] = json.loads(result.stdout)
    return trace


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_json_trace_names_the_examples_cards_and_what_stopped_the_rest(name: str) -> None:
    trace = trace_json(str(EXAMPLES / name))
    assert {t["topic"] for t in trace["topics"] if t["fired"]} == EXPECTED[name]
    for topic in trace["topics"]:
        assert set(topic) >= {"topic", "fired", "reason", "records"}
        if not topic["fired"]:
            assert worded(topic["stopped_by"], topic["reason"]), topic
    assert {k["status"] for k in trace["prefetch"]} <= {"supplied", "not-requested"}


def test_the_red_flag_withholds_the_others_and_the_trace_says_so() -> None:
    trace = trace_json(str(EXAMPLES / "patient-view-red-flag.json"))
    topics = {t["topic"]: t for t in trace["topics"]}
    assert topics["orthosis"]["stopped_by"] == "withheld-beside-critical"
    assert topics["red-flag-urgent-evaluation"]["indicator"] == "critical"


def test_the_trace_is_printed_readably_in_colour_only_when_asked() -> None:
    plain = explain(str(EXAMPLES / "patient-view.json"))
    assert plain.returncode == 0, plain.stderr
    assert "\x1b[" not in plain.stdout, "no colour codes when the output is not a terminal"
    assert "footdrop-patient-view (patient-view): 3 cards" in plain.stdout
    assert "✔ orthosis WARNING" in plain.stdout
    assert "✘ ms-dalfampridine stopped by " in plain.stdout
    assert "records: Condition/foot-drop" in plain.stdout
    coloured = explain(str(EXAMPLES / "patient-view.json"), "--color")
    assert "\x1b[" in coloured.stdout


def test_the_request_time_can_be_given(tmp_path: Path) -> None:
    """A year after its example date the red flag is no longer new: a warning, not critical."""
    trace = trace_json(str(EXAMPLES / "patient-view-red-flag.json"), "--now", "2027-06-01T12:00:00")
    red = next(t for t in trace["topics"] if t["topic"] == "red-flag-urgent-evaluation")
    assert red.get("indicator") != "critical"


def test_a_file_that_is_not_a_request_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hook": "patient-view"}')
    result = explain(str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("footdrop-cds explain: ") and "hookInstance" in result.stderr
    missing = explain(str(tmp_path / "none.json"))
    assert missing.returncode == 1 and "not a readable JSON file" in missing.stderr


def test_help_lists_explain() -> None:
    result = subprocess.run(
        ["footdrop-cds", "--help"], env=environment(), capture_output=True, text=True, check=False
    )
    assert "explain" in result.stdout


def test_the_no_card_example_is_explained_as_its_readme_says(tmp_path: Path) -> None:
    trace = trace_json(str(EXAMPLES / "patient-view-no-card.json"))
    topics = {t["topic"]: t for t in trace["topics"]}
    readme = (EXAMPLES / "README.md").read_text()
    expected = {
        "orthosis": "orthosis-in-use",
        "physical-therapy": "pt-since-onset",
        "localization-workup": "work-up-complete",
        "palliative-surgery": "not-yet-long-standing",
    }
    for topic, condition in expected.items():
        assert topics[topic]["stopped_by"] == condition
        assert f"✘ {topic} stopped by {condition}: " in readme
    assert topics["orthosis"]["records"][0] == "DeviceUseStatement/afo-in-use"

    body = json.loads((EXAMPLES / "patient-view-no-card.json").read_text())
    body["prefetch"]["deviceUseStatements"]["entry"] = []
    without = tmp_path / "without-orthosis.json"
    without.write_text(json.dumps(body))
    fired = [t["topic"] for t in trace_json(str(without))["topics"] if t["fired"]]
    assert fired == ["orthosis"], "remove the DeviceUseStatement and orthosis fires"
