"""Patient-view rules: PatientFeatures -> Recommendations (clinical-logic v2 §1, §3).

One pure function per card; each returns a `Recommendation` or None. Rules decide
(topic, indicator, suggestions, flags, facts, notes, evidence); the card templates
word. `recommend` applies the principles of §1 around them:

    no foot drop (nor a coded peroneal palsy)      -> []
    under 18                                        -> []
    each card; a peroneal-palsy proxy feeds only the red-flag and work-up cards
    most urgent first; a critical card withholds the others (flag critical_withheld_others)

Choices where the spec is silent, for the docs:
- Unknown age (no birth date): only the red-flag card can fire. The population is
  adults, which cannot be confirmed, but a red flag must never be missed.
- Red-flag routing (A2): a CES-type trigger (cauda equina, sphincter or saddle finding,
  new bilateral foot drop) or any coded spinal cause routes to stat lumbar MRI and
  spinal surgery. Progression alone routes to urgent neurology when a central cause
  is coded or a peripheral lesion is *proven* (coded and NCS/EMG done since onset); a
  coded but unproven peroneal palsy does not divert it (never assume the fibular
  head). With no cause coded at all, both routes are offered.
- A pending non-stat spine referral does not silence the stat referral suggestion
  (no `update` suggestion exists for referrals; the card still proposes a stat one).
- Work-up: lumbar MRI is suggested when a spinal cause is coded or no cause at all;
  not for a peroneal palsy alone (NCS/EMG localises first, and the card carries the
  pitfall) and not when only central signs are coded (lumbar MRI does not image them;
  the card names brain/spinal cord MRI). Nerve imaging for a coded peroneal or sciatic
  lesion or nerve injury.
- FES needs no peripheral lesion coded: a peroneal, sciatic, plexus or nerve injury,
  polyneuropathy, or any coded spinal cause (L5, disc, stenosis, sciatica,
  spondylolisthesis) each exclude it, since each may mean a denervated peroneal nerve.
- Peroneal decompression: a fibular fracture also counts as traumatic (its timing
  follows the nerve-injury pathway, not compressive-palsy recovery).
- Nerve-injury referral: an undated injury is dated by the foot-drop onset.
- Disc surgery: any discectomy or lumbar decompression since the herniation, or a
  spine-surgery referral since onset, silences it.
- Palliative surgery: the onset must be a true onset (not recordedDate), the cause a
  focal peripheral lesion, and no central cause or spasticity may be coded (A6).
- Spasticity: a pending rehabilitation referral silences the botulinum referral.
- Dalfampridine: a borderline CrCl (50–60) shows the card without the drug suggestion;
  the card asks for a measured CrCl first (A8: C-G overestimates with low muscle mass).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial

from service.clinical.features.model import CareEvent, Finding, FootDrop, PatientFeatures
from service.clinical.recommendation import (
    Indicator,
    Recommendation,
    SuggestedAction,
)
from service.clinical.shared import (
    Cited,
    Context,
    cited,
    crcl_fact,
    duration_text,
    onset_notes,
    recommendation,
    renal_tests,
    seizure_verify,
)
from service.clinical.thresholds import ClinicalThresholds
from service.clinical.trace import (
    AGE_UNKNOWN,
    NO_FOOT_DROP,
    NOT_ADULT,
    PERONEAL_PALSY_ONLY,
    WITHHELD_BESIDE_CRITICAL,
    Decision,
    cards,
    rule_topic,
    stopped,
    traced,
    watch,
)

RED_FLAG = "red-flag-urgent-evaluation"
_URGENT_PRIORITIES = frozenset({"urgent", "asap", "stat"})


@dataclass(frozen=True)
class _Context(Context):
    """What every card reads: the features, the day, the thresholds, and the foot drop."""

    fd: FootDrop
    red_flag: bool = False

    def onset_within_months(self, months: int) -> bool:
        """Onset on or after `months` ago; False when unknown."""
        return self.fd.onset.date is not None and self.fd.onset.date >= self.months_ago(months)

    @property
    def first_line_indicator(self) -> Indicator:
        """Warning under 6 months from onset or when unknown; info from 6 months (A10)."""
        onset = self.fd.onset.date
        recent = onset is None or onset > self.months_ago(self.t.first_line_warning_months)
        return "warning" if recent else "info"

    # Causes, as the rules group them
    @property
    def spinal_causes(self) -> tuple[Finding, ...]:
        f = self.f
        return (
            f.l5_radiculopathy + f.disc_herniation + f.lumbar_stenosis + f.sciatica + f.spine_other
        )

    @property
    def peripheral_lesions(self) -> tuple[Finding, ...]:
        f = self.f
        return (
            f.peroneal_neuropathy + f.sciatic_neuropathy + f.lumbosacral_plexopathy + f.nerve_trauma
        )

    @property
    def proven_peripheral(self) -> bool:
        """A coded peripheral lesion with NCS/EMG done since onset."""
        return bool(self.peripheral_lesions) and any(e.state == "done" for e in self.f.ncs_emg)

    @property
    def central_suspected(self) -> bool:
        """Upper-motor-neuron signs coded without a central cause."""
        f = self.f
        return bool(f.spasticity or f.lower_limb_monoplegia) and not f.central_cause


def _base_facts(fd: FootDrop) -> dict[str, str]:
    side = {
        "right": "right side",
        "left": "left side",
        "bilateral": "both sides",
        "unspecified": "side not recorded",
    }[fd.laterality]
    onset = fd.onset.date.isoformat() if fd.onset.date else "not recorded"
    duration = duration_text(fd.duration) if fd.duration is not None else "unknown duration"
    return {"side": side, "onset": onset, "duration": duration}


def _card(
    ctx: _Context,
    topic: str,
    indicator: Indicator,
    suggestions: Sequence[SuggestedAction] = (),
    evidence: Sequence[Cited] = (),
    flags: Sequence[str] = (),
    notes: Sequence[str] = (),
    facts: dict[str, str] | None = None,
) -> Recommendation:
    """A recommendation with the foot drop's facts, onset flags/notes and evidence first."""
    onset = onset_notes(ctx.fd)
    return recommendation(
        ctx,
        topic,
        indicator,
        suggestions=suggestions,
        evidence=cited([*ctx.fd.findings, *evidence]),
        facts={**_base_facts(ctx.fd), **(facts or {})},
        flags=[*onset, *flags],
        notes=onset,
        later_notes=notes,
    )


def _pending(events: Sequence[CareEvent]) -> list[CareEvent]:
    return [e for e in events if e.state != "done"]


# ── red-flag-urgent-evaluation ────────────────────────────────────────────────────


def _decompressed_since(ctx: _Context, day: date | None) -> bool:
    surgery = ctx.f.discectomy + ctx.f.lumbar_decompression
    return any(day is None or (e.date is not None and e.date >= day) for e in surgery)


def _red_flag_tiers(ctx: _Context) -> tuple[list[Finding], list[Finding], bool]:
    """(critical findings, warning findings, whether a CES-type trigger is among them)."""
    f, fd, t, today = ctx.f, ctx.fd, ctx.t, ctx.today
    critical: list[Finding] = []
    warning: list[Finding] = []
    acute = fd.phase == "acute"
    acute_known = acute and fd.onset.known
    for ces in f.cauda_equina:
        if _decompressed_since(ctx, ces.date):
            continue
        if ces.date is not None and ces.date >= today - timedelta(days=t.cauda_equina_days):
            critical.append(ces)
        elif acute:
            warning.append(ces)
    new_since = today - timedelta(days=t.red_flag_finding_days)
    for finding in f.urinary_retention + f.bowel_dysfunction + f.saddle_anesthesia:
        if finding.date is not None and finding.date >= new_since:
            newer = fd.onset.date is not None and finding.date > fd.onset.date
            if acute_known or not fd.onset.known or newer:
                critical.append(finding)
        elif acute:
            warning.append(finding)
    ces_type = bool(critical or warning)
    bilateral = fd.bilateral_onset
    new_day = today - timedelta(weeks=t.acute_weeks)
    if bilateral is not None and bilateral.date is not None and bilateral.date > new_day:
        tier = critical if bilateral.known else warning
        tier.extend(x for x in fd.findings if x not in tier)
        ces_type = True
    critical.extend(f.progression.structured)
    warning.extend(f.progression.text)
    return critical, warning, ces_type


def _red_flag_suggestions(ctx: _Context, spinal: bool, neurology: bool) -> list[SuggestedAction]:
    f, today = ctx.f, ctx.today
    actions: list[SuggestedAction] = []
    if spinal:
        recent = today - timedelta(days=ctx.t.recent_mri_days)
        mri_recent = any(e.state == "done" and e.date and e.date >= recent for e in f.lumbar_mri)
        pending = _pending(f.lumbar_mri)
        # Only an order has a priority to update: a scheduled ImagingStudy or a registered
        # report cannot be made stat (the rendered update would be dropped), so without a
        # pending ServiceRequest a new stat MRI is proposed.
        orders = [e for e in pending if e.evidence.resource_type == "ServiceRequest"]
        if not mri_recent and not any(e.priority == "stat" for e in pending):
            if orders:
                target = next((e for e in orders if e.draft), orders[0]).reference
                actions.append(SuggestedAction("mri-lumbar-make-stat", target, recommended=True))
            else:
                actions.append(SuggestedAction("mri-lumbar-stat", recommended=True))
        if not any(e.priority == "stat" for e in _pending(f.spine_surgery_referral)):
            actions.append(SuggestedAction("spine-surgery-referral-stat", recommended=True))
    if neurology and not any(
        e.priority in _URGENT_PRIORITIES for e in _pending(f.neurology_referral)
    ):
        actions.append(SuggestedAction("neurology-referral-urgent"))
    return actions


def red_flag_urgent_evaluation(ctx: _Context) -> Recommendation | None:
    """Red flags with foot drop: tiers of §3 and A1; never on incontinence codes."""
    critical, warning, ces_type = _red_flag_tiers(ctx)
    if not critical and not warning:
        return None
    f = ctx.f
    central = bool(f.central_cause)
    peripheral = ctx.proven_peripheral
    spinal = ces_type or bool(ctx.spinal_causes) or not (central or peripheral)
    no_cause = not (ctx.spinal_causes or ctx.peripheral_lesions or central)
    flags = ["spinal_cause_possible"] if spinal else []
    flags += ["central_cause"] if central else []
    flags += ["peripheral_cause"] if peripheral else []
    if not critical and set(warning) <= set(f.progression.text):
        flags.append("progression_text_only")
    found = [*critical, *(x for x in warning if x not in critical)]
    neurology = central or peripheral or (no_cause and not ces_type)
    pending_mri = _pending(f.lumbar_mri)
    return _card(
        ctx,
        RED_FLAG,
        "critical" if critical else "warning",
        _red_flag_suggestions(ctx, spinal, neurology),
        evidence=[*found, *pending_mri],
        flags=flags,
        notes=["finding_from_text"] if any(x.from_text for x in found) else [],
        facts={"findings": "; ".join(x.evidence.describe() for x in found)},
    )


# ── first-line care ────────────────────────────────────────────────────────────────


def orthosis(ctx: _Context) -> Recommendation | None:
    """AFO via an orthotist; FES only for a central cause with no peripheral lesion (A5)."""
    f = ctx.f
    if ctx.fd.proxy or f.non_ambulatory or f.orthosis_in_use or f.fes_in_use:
        return None
    peripheral = ctx.peripheral_lesions + ctx.spinal_causes + f.insensate_feet
    fes = bool(f.central_cause) and not peripheral
    suggestions = [
        SuggestedAction("orthotist-referral", recommended=True),
        SuggestedAction("afo-prefabricated"),
    ]
    flags = ["fes_needs_intact_nerve"]
    evidence: list[Finding] = [*f.insensate_feet]
    if fes:
        suggestions.append(SuggestedAction("fes"))
        flags = ["fes_offered"] + (["fes_cardiac_caution"] if f.cardiac_device else [])
        evidence += [*f.central_cause, *f.cardiac_device]
    if f.insensate_feet:
        flags.append("insensate_feet")
    return _card(ctx, "orthosis", ctx.first_line_indicator, suggestions, evidence, flags)


def _orthosis_from_text(f: PatientFeatures) -> list[str]:
    devices = f.orthosis_in_use + f.fes_in_use
    return ["orthosis_from_text"] if devices and all(e.from_text for e in devices) else []


def physical_therapy(ctx: _Context) -> Recommendation | None:
    """PT since onset for every ambulatory patient (A10)."""
    f = ctx.f
    if ctx.fd.proxy or f.non_ambulatory or f.pt_since_onset:
        return None
    return _card(
        ctx,
        "physical-therapy",
        ctx.first_line_indicator,
        [SuggestedAction("pt-referral")],
        evidence=[*f.orthosis_in_use, *f.fes_in_use],
        notes=_orthosis_from_text(f),
    )


def localization_workup(ctx: _Context) -> Recommendation | None:
    """NCS/EMG and imaging at the right level, unless a central cause explains it (A9)."""
    f = ctx.f
    spinal, peripheral = ctx.spinal_causes, ctx.peripheral_lesions
    if f.central_cause and not (spinal or peripheral):
        return None
    no_cause = not (spinal or peripheral or f.central_cause)
    items: list[str] = []
    if not f.ncs_emg:
        items.append("ncs-emg")
    if not f.lumbar_mri and (spinal or (no_cause and not ctx.central_suspected)):
        items.append("mri-lumbar")
    if f.lumbosacral_plexopathy and not f.plexus_mri:
        items.append("mri-plexus")
    if (f.peroneal_neuropathy or f.sciatic_neuropathy or f.nerve_trauma) and not f.nerve_imaging:
        items.append("nerve-imaging")
    if not items:
        return None
    only_peroneal = bool(f.peroneal_neuropathy) and not (
        spinal or f.sciatic_neuropathy or f.lumbosacral_plexopathy or f.nerve_trauma
    )
    uninvestigated = only_peroneal and not f.ncs_emg
    acute = ctx.fd.phase == "acute"
    return _card(
        ctx,
        "localization-workup",
        "warning" if acute and (no_cause or uninvestigated) else "info",
        [SuggestedAction(item) for item in items],
        evidence=[*spinal, *peripheral, *f.spasticity, *f.lower_limb_monoplegia],
        flags=["central_suspected"] if ctx.central_suspected else [],
    )


# ── referrals ──────────────────────────────────────────────────────────────────────


def peroneal_decompression(ctx: _Context) -> Recommendation | None:
    """Non-traumatic peroneal palsy within 12 months (or onset unknown), not decompressed."""
    f, fd = ctx.f, ctx.fd
    if fd.proxy or not f.peroneal_neuropathy or f.peroneal_decompression:
        return None
    if f.nerve_trauma or f.fibular_fracture:
        return None
    if fd.onset.date is not None and not ctx.onset_within_months(
        ctx.t.peroneal_decompression_max_months
    ):
        return None
    crossing = bool(f.leg_crossing)
    return _card(
        ctx,
        "peroneal-decompression",
        "info",
        [SuggestedAction("nerve-surgery-referral")],
        evidence=[*f.peroneal_neuropathy, *f.leg_crossing],
        flags=["leg_crossing_recorded" if crossing else "leg_crossing_not_recorded"],
        notes=["finding_from_text"] if crossing else [],
    )


def nerve_injury_referral(ctx: _Context) -> Recommendation | None:
    """A nerve injury within 12 months and no nerve surgery: early referral (A11)."""
    f, fd = ctx.f, ctx.fd
    if fd.proxy or f.peroneal_decompression:
        return None
    since = ctx.months_ago(ctx.t.nerve_trauma_months)
    recent = [x for x in f.nerve_trauma if (d := x.date or fd.onset.date) and d >= since]
    if not recent:
        return None
    return _card(
        ctx, "nerve-injury-referral", "warning", [SuggestedAction("nerve-surgery-referral")], recent
    )


def disc_surgery_referral(ctx: _Context) -> Recommendation | None:
    """Foot drop 4 weeks–12 months with a recent disc herniation and no other cause (A12)."""
    f, fd, t = ctx.f, ctx.fd, ctx.t
    if fd.proxy or ctx.red_flag or not f.recent_disc_herniation or fd.onset.date is None:
        return None
    if fd.onset.date > ctx.today - timedelta(weeks=t.disc_surgery_min_weeks):
        return None
    if not ctx.onset_within_months(t.disc_surgery_max_months):
        return None
    disc_day = min(x.date for x in f.recent_disc_herniation if x.date is not None)
    if _decompressed_since(ctx, disc_day) or f.spine_surgery_referral:
        return None
    if f.central_cause or (f.peroneal_neuropathy and any(e.state == "done" for e in f.ncs_emg)):
        return None
    return _card(
        ctx,
        "disc-surgery-referral",
        "info",
        [SuggestedAction("spine-surgery-referral")],
        f.recent_disc_herniation,
    )


def palliative_surgery(ctx: _Context) -> Recommendation | None:
    """Tendon transfer to discuss for long-standing peripheral foot drop (A6)."""
    f, fd = ctx.f, ctx.fd
    if fd.proxy or not fd.onset.known or fd.onset.date is None:
        return None
    if fd.onset.date > ctx.months_ago(ctx.t.palliative_min_months):
        return None
    peripheral = ctx.peripheral_lesions + f.l5_radiculopathy + f.disc_herniation
    if not peripheral or f.central_cause or f.spasticity or f.progressive_disease:
        return None
    if f.palliative_surgery:
        return None
    return _card(
        ctx,
        "palliative-surgery",
        "info",
        [SuggestedAction("foot-ankle-surgery-referral")],
        peripheral,
        notes=_orthosis_from_text(f),
    )


def spasticity_botulinum(ctx: _Context) -> Recommendation | None:
    """Lower-limb or central spasticity, no botulinum toxin in 6 months (A13)."""
    f = ctx.f
    if ctx.fd.proxy or not (f.lower_limb_spasticity or (f.spasticity and f.central_cause)):
        return None
    if f.botulinum_recent or _pending(f.rehabilitation_referral):
        return None
    return _card(
        ctx,
        "spasticity-botulinum",
        "info",
        [SuggestedAction("botulinum-evaluation-referral")],
        [*f.spasticity, *f.central_cause],
    )


def ms_dalfampridine(ctx: _Context) -> Recommendation | None:
    """Dalfampridine to discuss in MS, only with no contraindication found (A7, A8)."""
    f = ctx.f
    if ctx.fd.proxy or not f.multiple_sclerosis:
        return None
    if f.dalfampridine_active or f.dalfampridine_past_course or f.other_4ap:
        return None
    renal = f.renal
    if f.seizure_history or f.dalfampridine_allergy or renal.contraindicated:
        return None
    flags: list[str] = []
    facts: dict[str, str] = {}
    suggestions: list[SuggestedAction] = []
    if renal.status == "known" and renal.value is not None:
        flags.append("crcl_known")
        facts["crcl"] = crcl_fact(renal)
        flags += ["crcl_51_80"] if renal.mild else []
        if renal.borderline:
            flags.append("crcl_borderline")
        else:
            suggestions.append(SuggestedAction("dalfampridine-er-10mg"))
    else:
        flags.append("crcl_unknown")
        facts["missing_inputs"] = ", ".join(renal.missing_inputs) or "creatinine clearance"
        suggestions += renal_tests(renal)
    verify_notes, verify = seizure_verify(f)
    return _card(
        ctx,
        "ms-dalfampridine",
        "info",
        suggestions,
        [*f.multiple_sclerosis, *renal.evidence, *verify],
        flags,
        notes=[*renal.notes, *verify_notes],
        facts=facts,
    )


#: Every card but the red flag, in the order of §3 (the order within one indicator).
CARDS: tuple[Callable[[_Context], Recommendation | None], ...] = (
    orthosis,
    physical_therapy,
    localization_workup,
    peroneal_decompression,
    nerve_injury_referral,
    disc_surgery_referral,
    palliative_surgery,
    spasticity_botulinum,
    ms_dalfampridine,
)
#: Cards a coded peroneal palsy without a foot-drop code may trigger (§1 Trigger).
PROXY_CARDS = frozenset({localization_workup})


def decide(
    features: PatientFeatures,
    now: datetime,
    thresholds: ClinicalThresholds,
    *,
    observe: bool = False,
) -> list[Decision]:
    """Every patient-view topic's decision, the red flag first, then in the order of §3.

    The population stops every topic at once; a critical card withholds the others.
    `observe`: note the features each rule reads (for the rule trace).
    """
    f = watch(features) if observe else features
    topics = [RED_FLAG, *(rule_topic(card) for card in CARDS)]
    fd = f.foot_drop
    if fd is None:
        return stopped(topics, NO_FOOT_DROP, f, ["foot_drop"])
    ctx = _Context(f, now.date(), thresholds, fd)
    population = ("foot_drop", "age_years")
    if ctx.adult is False:
        return stopped(topics, NOT_ADULT, f, population)
    red = traced(RED_FLAG, f, partial(red_flag_urgent_evaluation, ctx), before=population)
    if ctx.adult is None:
        return [red, *stopped(topics[1:], AGE_UNKNOWN, f, population)]
    ctx = replace(ctx, red_flag=red.fired)
    decisions = [red]
    for card in CARDS:
        if fd.proxy and card not in PROXY_CARDS:
            decisions += stopped([rule_topic(card)], PERONEAL_PALSY_ONLY, f, population)
        else:
            decisions.append(traced(rule_topic(card), f, partial(card, ctx), before=population))
    return _critical_alone(decisions)


def _critical_alone(decisions: list[Decision]) -> list[Decision]:
    """A critical card stands alone: the others are withheld, and it says so."""
    fired = [d.outcome for d in decisions if isinstance(d.outcome, Recommendation)]
    critical = [rec for rec in fired if rec.indicator == "critical"]
    if not critical or len(critical) == len(fired):
        return decisions

    def alone(d: Decision) -> Decision:
        rec = d.outcome
        if not isinstance(rec, Recommendation):
            return d
        if rec.indicator != "critical":
            return d.stop(WITHHELD_BESIDE_CRITICAL)
        return replace(d, outcome=replace(rec, flags=rec.flags | {"critical_withheld_others"}))

    return [alone(d) for d in decisions]


def recommend(
    features: PatientFeatures, now: datetime, thresholds: ClinicalThresholds
) -> list[Recommendation]:
    """All patient-view recommendations, most urgent first; a critical one stands alone."""
    return cards(decide(features, now, thresholds))
