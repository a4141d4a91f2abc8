"""Order-select / order-sign rules: selected orders + PatientFeatures -> Recommendations.

clinical-logic v3 §4 (and safety-review A6, A7, A8, A14, A15). Each rule reacts to one
selected order (order-sign: every draft) and reads the features of the rest of the
record (`orders.OrderUnderReview.rest`): the record and the other drafts, which count
as already ordered (pending care, `CareEvent.draft`). The order itself is not in its
rest, so it is never its own duplicate, nor its own physical therapy.

    dalfampridine (any patient: the order itself is the risk)
        contraindicated (critical) · seizure-history-verify · record-incomplete · dose ·
        renal-function-needed (warning)
    foot-drop orders (an active foot drop, adult)
        stat-imaging · stat-referral (critical; a red flag needs no adult foot drop
        beyond the red-flag card's own) · add-physical-therapy · localize-before-decompression
        (warning) · premature-palliative-surgery · fusion-not-indicated ·
        duplicate-order (info)

Each rule returns a `Recommendation` or the `Stopped` condition that kept it from
firing (first the order's kind, `NOT_THIS_ORDER`, then the population, then its own);
`decide` keeps every rule's decision for every order (the rule trace), `check_orders`
the cards among them. Every card names its order in `about_order`; update and delete
suggestions target it.
Cards come most urgent first, then in the order of the selections and of the rules
below, so the same request always gives the same list.

Choices where the spec is silent, for the docs:
- The red flag is the patient-view rule's own (`patient_view.red_flag`, the card
  `recommend` gives, decided alone): stat-imaging needs its card to be critical.
  Duplicate-order stays silent for a lumbar MRI when that card fires at any level,
  when progression is possible, or when any red-flag finding is coded at all (a
  repeat scan may be indicated; an info card is not worth the risk).
- Population as in patient-view: under 18 no foot-drop order card; unknown age only
  stat-imaging. A coded common peroneal palsy stands in for foot drop for stat-imaging
  and localize-before-decompression only (the red-flag and work-up cards, §1).
- Dalfampridine checks fire at any age and without foot drop. A 4-aminopyridine order
  gets the same checks. "Another 4-aminopyridine product" is an active product of the
  other kind (dalfampridine vs other 4-AP), or another draft of either kind; the same
  product still active in the record is read as a renewal, not a contraindication.
- One message per draft (v3 §4): beside a contraindication the dose finding is a
  paragraph of the contraindication card (overriding a *probable* renal
  contraindication must not hide a 20 mg dose), not a card of its own. A dose the
  service cannot read gets no dose card (it would assert an error nobody saw).
- renal-function-needed also fires for a borderline CrCl (50–60 mL/min, A8), with no
  creatinine suggestion (a measured CrCl or cystatin C is what A8 asks for).
- add-physical-therapy is not shown for a non-ambulatory patient, as the patient-view
  PT card is not.
- fusion-not-indicated also stays silent with lumbar stenosis or a prior lumbar
  decompression coded (other lumbar diagnoses; a prior laminectomy is a recurrence and
  instability proxy like a prior discectomy).
- A draft without an id (order-sign) is still checked, is never its own duplicate, and
  gets its cards without update or delete suggestions, which need `Type/id` (C-10, H-3).
- premature-palliative-surgery needs a true onset date: a recordedDate only bounds the
  onset from above, so the foot drop is not *known* to be under 12 months. It is decided
  per side (v3 §1 Time): the episode of the side the order names, every side without one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from service.clinical import shared
from service.clinical.features.care import DALFAMPRIDINE, OTHER_4AP
from service.clinical.features.model import CareEvent, FootDrop, RenalAssessment
from service.clinical.orders import (
    ANKLE_ARTHRODESIS,
    FES,
    LUMBAR_FUSION,
    MRI_LUMBAR,
    NCS_EMG,
    ORTHOSIS,
    PERONEAL_DECOMPRESSION,
    PHYSICAL_THERAPY,
    TENDON_TRANSFER,
    OrderUnderReview,
    SelectedOrder,
)
from service.clinical.patient_view import red_flag
from service.clinical.recommendation import (
    Indicator,
    Outcome,
    Recommendation,
    Stopped,
    SuggestedAction,
)
from service.clinical.shared import Cited, stop
from service.clinical.thresholds import ClinicalThresholds
from service.clinical.trace import (
    AGE_UNKNOWN,
    NO_FOOT_DROP,
    NOT_ADULT,
    PERONEAL_PALSY_ONLY,
    Decision,
    cards,
    rule_topic,
    traced,
    watch,
)
from service.fhir.patient_data import UNKNOWN_TYPE

#: Stopping conditions every rule of its kind may name (cards/stop_reasons.toml): the
#: order is not one the rule checks; a dalfampridine draft with a contraindication gets
#: that card alone, which carries the rest (v3 §4, one message per draft).
NOT_THIS_ORDER = "not-this-order"
ONE_MESSAGE_PER_DRAFT = "one-message-per-draft"

#: Orders that may duplicate care the patient already has (§4 duplicate-order).
DUPLICABLE = (ORTHOSIS, PHYSICAL_THERAPY, NCS_EMG, MRI_LUMBAR)


@dataclass(frozen=True)
class _Context(shared.Context):
    """What every rule reads: the features of the rest, the day, the thresholds, and the
    patient-view red-flag card for them."""

    red_flag: Recommendation | None

    def foot_drop(self, *, proxy_ok: bool = False) -> FootDrop | Stopped:
        """The active foot drop when foot-drop order cards may fire, else the population
        condition that stops them (§1)."""
        fd = self.f.foot_drop
        if fd is None:
            return Stopped(NO_FOOT_DROP)
        if fd.proxy and not proxy_ok:
            return Stopped(PERONEAL_PALSY_ONLY)
        if not self.adult:
            return Stopped(AGE_UNKNOWN if self.adult is None else NOT_ADULT)
        return fd

    @property
    def red_flag_possible(self) -> bool:
        """Any red-flag card, possible progression or red-flag finding (A15)."""
        f = self.f
        findings = f.cauda_equina + f.urinary_retention + f.bowel_dysfunction
        findings += f.saddle_anesthesia + f.progression.structured + f.progression.text
        return self.red_flag is not None or bool(findings)


def _on_order(
    order: SelectedOrder, suggestion_id: str, *, recommended: bool = True
) -> list[SuggestedAction]:
    """An update or delete of the order itself; none for a draft without an id (C-10, H-3)."""
    if not order.has_id:
        return []
    return [SuggestedAction(suggestion_id, order.reference, recommended=recommended)]


def _card(
    ctx: _Context,
    order: SelectedOrder,
    topic: str,
    indicator: Indicator,
    suggestions: Sequence[SuggestedAction] = (),
    evidence: Sequence[Cited] = (),
    facts: dict[str, str] | None = None,
    flags: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Recommendation:
    """A card about `order`: the order first in the evidence (once), its display as `order`;
    a dalfampridine card also words the configured label (`shared.label_terms`)."""
    others = (
        e for e in shared.cited(evidence) if f"{e.resource_type}/{e.resource_id}" != order.reference
    )
    label_flags, label_facts = shared.label_terms(ctx.t) if order.is_dalfampridine else ([], {})
    return shared.recommendation(
        ctx,
        topic,
        indicator,
        suggestions=suggestions,
        evidence=[order.evidence, *others],
        facts={"order": order.display, **label_facts, **(facts or {})},
        flags=[*label_flags, *flags],
        notes=notes,
        about_order=order.reference,
    )


# ── dalfampridine (clinical-logic §4, A7, A8) ──────────────────────────────────────


def _conflicting_4ap(ctx: _Context, order: SelectedOrder) -> list[CareEvent]:
    """Active 4-aminopyridine products of the other kind, and other drafts of either kind.

    The same product active in the record may be renewed by this order; another draft of
    it in this session is a second, concurrent order (§4: other drafts are ordered).
    """
    f = ctx.f
    own_kind = DALFAMPRIDINE if order.has(DALFAMPRIDINE) else OTHER_4AP
    other, same = (
        (f.other_4ap, f.dalfampridine_active)
        if own_kind == DALFAMPRIDINE
        else (f.dalfampridine_active, f.other_4ap)
    )
    return [*other, *(e for e in same if e.draft)]


def _renal_reason(renal: RenalAssessment) -> str:
    """The renal contraindication in a few words, for the summary."""
    if renal.status == "known":
        if renal.method == "dialysis_or_esrd":
            return "dialysis or end-stage renal disease recorded"
        if renal.value is None:
            return "creatinine clearance 50 mL/min or less"
        return f"creatinine clearance {shared.number(renal.value)} mL/min"
    if renal.method == "egfr" and renal.value is not None:
        return f"eGFR {shared.number(renal.value)} mL/min/1.73 m², no CrCl on record"
    named = renal.evidence[-1].display if renal.evidence else "chronic kidney disease"
    return f"{named} recorded, no CrCl on record"


def dalfampridine_contraindicated(ctx: _Context, order: SelectedOrder) -> Outcome:
    """Seizure history, allergy, another 4-AP product, or CrCl ≤ 50 (probable from eGFR/CKD).

    One message per draft (v3 §4): it carries the dose card's finding and, for a
    probable renal contraindication, the tests that would settle it.
    """
    if not order.is_dalfampridine:
        return stop(NOT_THIS_ORDER)
    f, renal = ctx.f, ctx.f.renal
    named: list[str] = []
    reasons: list[str] = []
    evidence: list[Cited] = []
    notes: list[str] = []
    flags: list[str] = []
    facts: dict[str, str] = {}
    suggestions = _on_order(order, "remove-dalfampridine")
    for label, reason, items in (
        ("seizure history", "seizure history recorded", f.seizure_history),
        (
            "allergy to dalfampridine or 4-aminopyridine",
            "allergy to dalfampridine or 4-aminopyridine recorded",
            f.dalfampridine_allergy,
        ),
    ):
        named += [f"{label}: {x.evidence.describe()}" for x in items]
        reasons += [reason] if items else []
        evidence += items
        notes += ["finding_from_text"] if any(x.from_text for x in items) else []
    conflicting = _conflicting_4ap(ctx, order)
    named += [f"another 4-aminopyridine product: {e.evidence.describe()}" for e in conflicting]
    reasons += ["another 4-aminopyridine product on record"] if conflicting else []
    evidence += conflicting
    oct2 = shared.contraindicating_oct2_inhibitors(ctx.f, ctx.t)
    named += [f"a concurrent OCT2 inhibitor (EU label): {e.evidence.describe()}" for e in oct2]
    reasons += ["a concurrent OCT2 inhibitor recorded (EU label)"] if oct2 else []
    evidence += oct2
    if renal.contraindicated:
        reasons.append(_renal_reason(renal))
        named.append(renal.contraindication)
        if renal.method == "dialysis_or_esrd":
            flags.append("dialysis_or_esrd")
        if renal.status != "known":
            flags.append("probable_contraindication")
            measured = "creatinine clearance (measured, or estimated by Cockcroft-Gault)"
            facts["missing_inputs"] = "; ".join([measured, *renal.missing_inputs])
            suggestions += [*shared.renal_tests(renal), SuggestedAction("measured-crcl")]
        evidence += renal.evidence
        notes += renal.notes
    if not named:
        return stop("no-contraindication")
    if shared.febrile_neonatal_seizures_only(f) and len(named) == len(f.seizure_history):
        # The only contraindication: febrile, neonatal or provoked seizures (v3 §2).
        flags.append("seizure_febrile_neonatal_only")
    if order.dose is not None and not order.dose.as_labelled:
        flags.append("dose_outside_label")
        facts["dose_problem"] = "; ".join(order.dose.issues)
    verify_notes, verify = shared.seizure_verify(f)
    return _card(
        ctx,
        order,
        "dalfampridine-contraindicated",
        "critical",
        suggestions,
        [*evidence, *verify],
        facts={"contraindication": "; ".join(named), "reason": ", ".join(reasons), **facts},
        flags=flags,
        notes=[*notes, *verify_notes],
    )


def _contraindicated(ctx: _Context, order: SelectedOrder) -> bool:
    f = ctx.f
    return bool(
        f.seizure_history
        or f.dalfampridine_allergy
        or f.renal.contraindicated
        or _conflicting_4ap(ctx, order)
        or shared.contraindicating_oct2_inhibitors(f, ctx.t)
    )


def dalfampridine_dose(ctx: _Context, order: SelectedOrder) -> Outcome:
    """More than 10 mg a dose or 20 mg a day, not every 12 hours, not ER; never for a
    dose it cannot read, nor beside the contraindication card, which carries it (v3 §4)."""
    dose = order.dose
    if not order.is_dalfampridine:
        return stop(NOT_THIS_ORDER)
    if dose is None or dose.as_labelled:
        return stop("no-dose-problem")
    if _contraindicated(ctx, order):
        return stop(ONE_MESSAGE_PER_DRAFT)
    verify_notes, verify = shared.seizure_verify(ctx.f)
    return _card(
        ctx,
        order,
        "dalfampridine-dose",
        "warning",
        _on_order(order, "dalfampridine-correct-dose", recommended=False),
        verify,
        facts={"dose_problem": "; ".join(dose.issues)},
        notes=verify_notes,
    )


def seizure_history_verify(ctx: _Context, order: SelectedOrder) -> Outcome:
    """A "verify" seizure record (non-epileptic events only) and no contraindication:
    verify the seizure history before prescribing (v3 §4)."""
    if not order.is_dalfampridine:
        return stop(NOT_THIS_ORDER)
    if not ctx.f.seizure_verify:
        return stop("no-seizure-record-to-verify")
    if _contraindicated(ctx, order):
        return stop(ONE_MESSAGE_PER_DRAFT)
    verify_notes, verify = shared.seizure_verify(ctx.f)
    return _card(
        ctx,
        order,
        "seizure-history-verify",
        "warning",
        evidence=verify,
        notes=verify_notes,
    )


#: Resource types whose unreadable entries may hide a dalfampridine contraindication
#: (seizure history, allergy, another 4-AP product, a renal result), and how the card
#: names them; the type of an entry that could not be read at all counts too.
_MAY_HIDE_CONTRAINDICATION = {
    "Condition": "a condition",
    "AllergyIntolerance": "an allergy record",
    "MedicationRequest": "a medication order",
    "MedicationStatement": "a medication statement",
    "MedicationAdministration": "a medication administration",
    "Medication": "a medication",
    "Observation": "a laboratory result or measurement",
    UNKNOWN_TYPE: "a record of unknown type",
}


def record_incomplete(ctx: _Context, order: SelectedOrder) -> Outcome:
    """Part of the record could not be read or obtained, so a contraindication cannot be
    excluded (v3 §4); not beside a contraindication already found (one message per draft)."""
    if not order.is_dalfampridine:
        return stop(NOT_THIS_ORDER)
    if _contraindicated(ctx, order):
        return stop(ONE_MESSAGE_PER_DRAFT)
    f = ctx.f
    unread = [
        f"{_MAY_HIDE_CONTRAINDICATION[u.resource_type]} (its {u.field})"
        for u in f.unreadable
        if u.resource_type in _MAY_HIDE_CONTRAINDICATION
    ]
    unread += [f"the “{key}” data, which could not be obtained" for key in sorted(f.unavailable)]
    if not unread:
        return stop("record-read-in-full")
    return _card(
        ctx,
        order,
        "record-incomplete",
        "warning",
        facts={"unreadable": "; ".join(dict.fromkeys(unread))},
    )


def renal_function_needed(ctx: _Context, order: SelectedOrder) -> Outcome:
    """CrCl unknown, unreliable or borderline, and no contraindication found (§4, A8)."""
    if not order.is_dalfampridine:
        return stop(NOT_THIS_ORDER)
    if _contraindicated(ctx, order):
        return stop(ONE_MESSAGE_PER_DRAFT)
    renal = ctx.f.renal
    facts: dict[str, str] = {}
    flags: list[str] = []
    suggestions: list[SuggestedAction] = []
    if renal.status in ("unknown", "unreliable"):
        suggestions += shared.renal_tests(renal)
    elif renal.borderline and renal.value is not None:
        flags.append("crcl_borderline")
        facts["crcl"] = shared.crcl_fact(renal)
    else:
        return stop("renal-function-known", renal.evidence)
    verify_notes, verify = shared.seizure_verify(ctx.f)
    return _card(
        ctx,
        order,
        "renal-function-needed",
        "warning",
        suggestions,
        [*renal.evidence, *verify],
        facts=facts,
        flags=flags,
        notes=[*renal.notes, *verify_notes],
    )


# ── foot-drop orders ──────────────────────────────────────────────────────────────


def _make_stat(ctx: _Context, order: SelectedOrder, topic: str, suggestion_id: str) -> Outcome:
    """A red-flag order that is not stat while the red-flag card is critical: update it."""
    red = ctx.red_flag
    if order.priority == "stat":
        return stop("already-stat")
    if red is None or red.indicator != "critical":
        return stop("no-critical-red-flag", red.evidence if red is not None else ())
    return _card(
        ctx,
        order,
        topic,
        "critical",
        _on_order(order, suggestion_id),
        red.evidence,
        notes=red.notes,
    )


def stat_imaging(ctx: _Context, order: SelectedOrder) -> Outcome:
    """A lumbar MRI that is not stat while the red-flag card is critical (A3)."""
    if not order.has(MRI_LUMBAR):
        return stop(NOT_THIS_ORDER)
    return _make_stat(ctx, order, "stat-imaging", "mri-lumbar-make-stat")


def stat_referral(ctx: _Context, order: SelectedOrder) -> Outcome:
    """A spine-surgery referral that is not stat while the red-flag card is critical (v3 §4)."""
    if not order.is_spine_surgery_referral:
        return stop(NOT_THIS_ORDER)
    return _make_stat(ctx, order, "stat-referral", "referral-make-stat")


def add_physical_therapy(ctx: _Context, order: SelectedOrder) -> Outcome:
    """An orthosis or FES with no PT since onset done, pending or drafted (§4)."""
    if not order.has(ORTHOSIS, FES):
        return stop(NOT_THIS_ORDER)
    fd = ctx.foot_drop()
    if isinstance(fd, Stopped):
        return fd
    if ctx.f.non_ambulatory:
        return stop("non-ambulatory", ctx.f.non_ambulatory)
    if ctx.f.pt_since_onset:
        return stop("pt-since-onset", ctx.f.pt_since_onset)
    return _card(
        ctx,
        order,
        "add-physical-therapy",
        "warning",
        [SuggestedAction("pt-referral")],
        fd.findings,
        notes=shared.onset_notes(fd),
    )


def localize_before_decompression(ctx: _Context, order: SelectedOrder) -> Outcome:
    """Peroneal decompression or neurolysis with no NCS/EMG done or ordered (§4)."""
    if not order.has(PERONEAL_DECOMPRESSION):
        return stop(NOT_THIS_ORDER)
    fd = ctx.foot_drop(proxy_ok=True)
    if isinstance(fd, Stopped):
        return fd
    if ctx.f.ncs_emg:
        return stop("ncs-emg-done-or-ordered", ctx.f.ncs_emg)
    return _card(
        ctx,
        order,
        "localize-before-decompression",
        "warning",
        [SuggestedAction("ncs-emg")],
        [*fd.findings, *ctx.f.peroneal_neuropathy],
        notes=shared.onset_notes(fd),
    )


def premature_palliative_surgery(ctx: _Context, order: SelectedOrder) -> Outcome:
    """Tendon transfer or ankle arthrodesis for a foot drop known to be under 12 months (A6)."""
    if not order.has(TENDON_TRANSFER, ANKLE_ARTHRODESIS):
        return stop(NOT_THIS_ORDER)
    fd = ctx.foot_drop()
    if isinstance(fd, Stopped):
        return fd
    # Per side (v3 §1 Time): the episodes of the side the order names, every side without.
    since = ctx.months_ago(ctx.t.palliative_min_months)
    events = order.reading.events
    known = [
        e.onset.date
        for e in fd.episodes
        if e.onset.known and e.onset.date is not None
        if not events or any(x.covers(e.side) for x in events)
    ]
    if not known:
        return stop("onset-not-known", fd.findings)
    recent = [day for day in known if day > since]
    if not recent:
        return stop("long-standing", fd.findings)
    onset = max(recent)
    f = ctx.f
    suggestions = []
    if not (f.orthosis_in_use or f.fes_in_use):
        suggestions.append(SuggestedAction("orthotist-referral"))
    if not f.pt_since_onset:
        suggestions.append(SuggestedAction("pt-referral"))
    return _card(
        ctx,
        order,
        "premature-palliative-surgery",
        "info",
        suggestions,
        fd.findings,
        facts={"duration": shared.duration_text(onset, ctx.today)},
    )


def fusion_not_indicated(ctx: _Context, order: SelectedOrder) -> Outcome:
    """Lumbar fusion where disc herniation is the only lumbar diagnosis found (A14)."""
    if not order.has(LUMBAR_FUSION):
        return stop(NOT_THIS_ORDER)
    fd = ctx.foot_drop()
    if isinstance(fd, Stopped):
        return fd
    f = ctx.f
    if not f.disc_herniation:
        return stop("no-disc-herniation")
    if f.spine_other or f.lumbar_stenosis or f.discectomy or f.lumbar_decompression:
        other = [*f.spine_other, *f.lumbar_stenosis, *f.discectomy, *f.lumbar_decompression]
        return stop("other-lumbar-diagnosis", other)
    return _card(ctx, order, "fusion-not-indicated", "info", (), [*fd.findings, *f.disc_herniation])


def duplicate_order(ctx: _Context, order: SelectedOrder) -> Outcome:
    """An orthosis, PT, NCS/EMG or lumbar MRI the patient already has (§4, A15)."""
    kinds = [feature for feature in DUPLICABLE if order.has(feature)]
    if not kinds:
        return stop(NOT_THIS_ORDER)
    fd = ctx.foot_drop()
    if isinstance(fd, Stopped):
        return fd
    checked = [k for k in kinds if not (k == MRI_LUMBAR and ctx.red_flag_possible)]
    if not checked:
        return stop("repeat-mri-may-be-indicated", ctx.red_flag.evidence if ctx.red_flag else ())
    f = ctx.f
    care = {
        ORTHOSIS: f.orthosis_in_use,
        PHYSICAL_THERAPY: f.pt_since_onset,
        NCS_EMG: f.ncs_emg,
        MRI_LUMBAR: f.lumbar_mri,
    }
    existing: list[CareEvent] = []
    duplicated: list[str] = []
    for feature in checked:
        existing += care[feature]
        duplicated += [feature] if care[feature] else []
    existing = list(dict.fromkeys(existing))
    if not existing:
        return stop("no-existing-care")
    orthosis = ORTHOSIS in duplicated
    from_text = orthosis and any(e.from_text for e in f.orthosis_in_use)
    return _card(
        ctx,
        order,
        "duplicate-order",
        "info",
        (),
        existing,
        facts={"existing_order": "; ".join(e.evidence.describe() for e in existing)},
        flags=["orthosis_replacement"] if orthosis else [],
        notes=[*shared.onset_notes(fd), *(["orthosis_from_text"] if from_text else [])],
    )


#: Every §4 rule, in the order its cards come within one indicator.
RULES: tuple[Callable[[_Context, SelectedOrder], Outcome], ...] = (
    dalfampridine_contraindicated,
    stat_imaging,
    stat_referral,
    seizure_history_verify,
    record_incomplete,
    dalfampridine_dose,
    renal_function_needed,
    add_physical_therapy,
    localize_before_decompression,
    premature_palliative_surgery,
    fusion_not_indicated,
    duplicate_order,
)


def decide(
    reviews: Sequence[OrderUnderReview],
    now: datetime,
    thresholds: ClinicalThresholds,
    *,
    observe: bool = False,
) -> list[Decision]:
    """Every §4 rule's decision for each order under review, in the order of the orders and
    of `RULES`; pure and deterministic. `observe`: note the features each rule reads."""
    decisions: list[Decision] = []
    for review in reviews:
        rest = watch(review.rest) if observe else review.rest
        ctx = _Context(rest, now.date(), thresholds, red_flag(rest, now, thresholds))
        order = review.order
        decisions += [
            traced(rule_topic(rule), rest, partial(rule, ctx, order), order=order.reference)
            for rule in RULES
        ]
    return decisions


def check_orders(
    reviews: Sequence[OrderUnderReview], now: datetime, thresholds: ClinicalThresholds
) -> list[Recommendation]:
    """Every §4 card for the orders under review, most urgent first; pure and deterministic."""
    return cards(decide(reviews, now, thresholds))
