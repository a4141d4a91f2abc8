"""The rule trace: every topic's decision, kept by the same functions that make the cards.

The population (§1) and the critical card stop topics before or after their rules;
the features a rule read are observed on the features themselves, and the records
listed are theirs.
"""

from __future__ import annotations

from cards.catalogue import CardCatalogue
from service.cds.explain import setting_values
from service.clinical import order_checks, patient_view, trace
from service.clinical.features.model import Evidence
from service.clinical.recommendation import Recommendation, Stopped
from service.clinical.trace import Decision, cards, watch
from tests.support import drafts
from tests.support.clinical import (
    NOW,
    PERONEAL,
    THRESHOLDS,
    condition,
    days_ago,
    decisions,
    features_of,
    foot_drop,
    patient,
    recommendations,
)
from tests.support.trace_checks import rule_conditions

CATALOGUE = CardCatalogue.load()
URGENT_RETENTION = condition("R33.9", onset=days_ago(2))
PATIENT_VIEW_TOPICS = [
    patient_view.RED_FLAG,
    *(trace.rule_topic(card) for card in patient_view.CARDS),
]


def test_every_patient_view_topic_is_decided_in_order_and_each_rule_names_a_template() -> None:
    assert list(decisions(foot_drop())) == PATIENT_VIEW_TOPICS
    order_topics = [trace.rule_topic(rule) for rule in order_checks.RULES]
    for topic in [*PATIENT_VIEW_TOPICS, *order_topics]:
        assert topic in CATALOGUE.templates, topic


def test_the_cards_are_the_decisions_that_fired() -> None:
    record = (foot_drop(), condition("M54.17", onset=days_ago(20)))
    decided = decisions(*record)
    fired = [d.outcome for d in decided.values() if isinstance(d.outcome, Recommendation)]
    assert recommendations(*record) == cards(decided.values())
    assert {r.topic for r in fired} == {r.topic for r in recommendations(*record)}
    for topic, decision in decided.items():
        assert decision.fired == (topic in {r.topic for r in fired})
        assert decision.fired or decision.stopped_by in CATALOGUE.stops.root


def test_no_foot_drop_stops_every_topic_before_any_rule() -> None:
    decided = decisions(URGENT_RETENTION)
    assert {d.stopped_by for d in decided.values()} == {trace.NO_FOOT_DROP}
    assert all(d.read == ("foot_drop",) for d in decided.values())


def test_under_18_stops_every_topic_and_cites_the_patient() -> None:
    decided = decisions(patient(birth="2010-01-01"), foot_drop(), URGENT_RETENTION)
    assert {d.stopped_by for d in decided.values()} == {trace.NOT_ADULT}
    assert "Patient/pat-1" in decided["orthosis"].records


def test_unknown_age_lets_only_the_red_flag_decide() -> None:
    decided = decisions(patient(birth=None), foot_drop(), URGENT_RETENTION)
    assert decided[patient_view.RED_FLAG].fired
    others = [d for topic, d in decided.items() if topic != patient_view.RED_FLAG]
    assert {d.stopped_by for d in others} == {trace.AGE_UNKNOWN}


def test_a_peroneal_palsy_alone_stops_the_cards_it_does_not_feed() -> None:
    decided = decisions(condition(PERONEAL["right"], onset=days_ago(5)))
    assert decided["localization-workup"].fired
    assert decided["orthosis"].stopped_by == trace.PERONEAL_PALSY_ONLY
    assert decided["physical-therapy"].stopped_by == trace.PERONEAL_PALSY_ONLY


def test_a_critical_card_withholds_the_others_which_keep_their_evidence() -> None:
    record = (foot_drop(), URGENT_RETENTION)
    decided = decisions(*record)
    red = decided[patient_view.RED_FLAG]
    assert isinstance(red.outcome, Recommendation) and red.outcome.indicator == "critical"
    assert "critical_withheld_others" in red.outcome.flags
    orthosis = decided["orthosis"]
    assert orthosis.stopped_by == trace.WITHHELD_BESIDE_CRITICAL
    assert orthosis.outcome.evidence, "the card it would have been still cites its records"
    assert [r.topic for r in recommendations(*record)] == [patient_view.RED_FLAG]


def test_a_rule_lists_the_features_it_read_and_their_records() -> None:
    device = {
        "resourceType": "DeviceUseStatement",
        "id": "afo-1",
        "status": "active",
        "subject": {"reference": "Patient/pat-1"},
        "device": {"display": "Ankle-foot orthosis"},
    }
    decided = decisions(foot_drop(rid="fd-9"), device)
    orthosis = decided["orthosis"]
    assert orthosis.stopped_by == "orthosis-in-use"
    assert orthosis.read[:2] == ("foot_drop", "age_years")
    assert "orthosis_in_use" in orthosis.read
    assert "multiple_sclerosis" not in orthosis.read  # read by another rule, not this one
    # What stopped it first, then the rest of what it read.
    assert orthosis.records == ("DeviceUseStatement/afo-1", "Condition/fd-9", "Patient/pat-1")


def test_watching_changes_no_value_and_notes_each_read_once() -> None:
    features = features_of(foot_drop())
    watched = watch(features)
    assert watched is watch(watched)
    mark = watched.mark
    assert watched.foot_drop == features.foot_drop and watched.age_years == features.age_years
    assert watched.foot_drop is features.foot_drop
    assert watched.reads_since(mark) == ("foot_drop", "age_years")
    assert patient_view.recommend(watched, NOW, THRESHOLDS) == patient_view.recommend(
        features, NOW, THRESHOLDS
    )


def test_a_suppressed_decision_cites_what_it_rested_on() -> None:
    evidence = Evidence("Condition", "x", "Foot drop")
    rec = Recommendation("orthosis", "warning", evidence=(evidence,))
    decision = Decision("orthosis", rec, features_of(foot_drop()))
    snoozed = decision.stop(trace.SNOOZED)
    assert snoozed.outcome == Stopped(trace.SNOOZED, (evidence,))
    assert not snoozed.fired and snoozed.records == ("Condition/x",)


def test_order_checks_decide_every_rule_for_every_order() -> None:
    afo, mri = drafts.afo("dev-1"), drafts.mri_lumbar("sr-1")
    data = drafts.patient_data(foot_drop(), drafts=(afo, mri))
    decided = order_checks.decide(drafts.reviews(data, None), NOW, THRESHOLDS, observe=True)
    rules = [trace.rule_topic(rule) for rule in order_checks.RULES]
    assert [(d.order, d.topic) for d in decided] == [
        (order, topic)
        for order in ("DeviceRequest/dev-1", "ServiceRequest/sr-1")
        for topic in rules
    ]
    assert cards(decided) == order_checks.check_orders(drafts.reviews(data, None), NOW, THRESHOLDS)
    fired = {(d.order, d.topic) for d in decided if d.fired}
    assert ("DeviceRequest/dev-1", "add-physical-therapy") in fired


def _named_conditions() -> set[str]:
    """Every condition code the clinical Python names: the trace's constants (population,
    pipeline) and each rule's own."""
    names = {
        value
        for name, value in vars(trace).items()
        if name.isupper() and isinstance(value, str) and name != "FEATURES"
    }
    return names.union(*rule_conditions().values())


def test_every_condition_named_is_worded_and_every_worded_one_is_named() -> None:
    assert _named_conditions() == set(CATALOGUE.stops.root)


def test_every_sentence_names_only_settings_and_shows_the_configured_values() -> None:
    assert CATALOGUE.stops.placeholders() <= set(setting_values(THRESHOLDS))
    for code in CATALOGUE.stops.root:
        assert "{" not in CATALOGUE.stops.reason(code, setting_values(THRESHOLDS)), code
    later = setting_values(THRESHOLDS.model_copy(update={"disc_surgery_min_weeks": 6}))
    assert "under 6 weeks old" in CATALOGUE.stops.reason("too-early", later)
    eu = setting_values(THRESHOLDS.model_copy(update={"label_jurisdiction": "EU"}))
    assert "below 80 mL/min" in CATALOGUE.stops.reason("contraindication-recorded", eu)


def test_each_rule_condition_lists_the_topics_whose_rules_name_it() -> None:
    """docs/clinical.md lists a rule's conditions under its card from `topics`."""
    by_rule = rule_conditions()
    for code, stop in CATALOGUE.stops.of_kind("rule").items():
        naming = {topic for topic, codes in by_rule.items() if code in codes}
        assert set(stop.topics) == naming, code
