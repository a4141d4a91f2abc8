"""Patient-view rules: PatientFeatures -> Recommendations (clinical-logic v3 §1, §3).

One pure function per card; each returns a `Recommendation`, or a `Stopped` naming the
first condition that kept it from firing (`stop("code", records)`, worded in
cards/stop_reasons.toml). Rules decide (topic, indicator, suggestions, flags, facts,
notes, evidence); the card templates word. `decide` applies the principles of §1
around them, keeping every topic's decision (the rule trace); `recommend` is the
cards among them:

    no foot drop (nor a coded peroneal palsy)      -> every topic stopped: no-foot-drop
    under 18                                        -> every topic stopped: not-adult
    each card; a peroneal-palsy proxy feeds only the red-flag and work-up cards
    most urgent first; a critical card withholds the others (flag critical_withheld_others;
    the others stopped: withheld-beside-critical)

Choices where the spec is silent, for the docs:
- Unknown age (no birth date): only the red-flag card can fire. The population is
  adults, which cannot be confirmed, but a red flag must never be missed.
- Red-flag routing (A2, v3 §3) applies to the progression trigger only: a CES-type
  trigger (cauda equina, sphincter or saddle finding, new bilateral foot drop) always
  leads with the spinal pathway. Progression with a proven cause — central: one that
  explains the foot drop (v3 §2); peripheral: a peroneal, sciatic or plexus lesion coded
  on or after an NCS/EMG done since onset, and a lumbar MRI performed after the latest
  progression finding — adds urgent neurology and drops the spine referral unless a
  spinal cause is coded; the lumbar MRI stays. An unlinked central condition or no cause
  offers both routes.
- The critical card's MRI is left out only when a lumbar MRI was performed on a later
  day than every finding's own date; a pending non-stat MRI or spine referral gets an
  update to stat. The warning tier makes one suggestion: an urgent lumbar MRI (or an
  update of a routine one to urgent).
- A red flag named only in a recent note gives the warning tier, whatever the phase.
- Work-up: lumbar MRI is suggested when a spinal cause is coded or no cause at all (an
  unlinked central condition is no cause); not for a peroneal palsy alone (NCS/EMG
  localises first, and the card carries the pitfall) and not when only central signs
  are coded (lumbar MRI does not image them; the card names brain/spinal cord MRI).
  Nerve imaging for a coded peroneal or sciatic lesion or nerve injury. A chronic
  central disease beside a foot drop of known onset under 6 months: info, a neurology
  referral first.
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

from service.clinical.features.model import (
    CareEvent,
    Episode,
    EpisodeSide,
    Finding,
    FootDrop,
    Laterality,
    PatientFeatures,
)
from service.clinical.features.onset import earliest
from service.clinical.recommendation import (
    Indicator,
    Outcome,
    Recommendation,
    SuggestedAction,
)
from service.clinical.shared import (
    Cited,
    Context,
    cited,
    contraindicating_oct2_inhibitors,
    crcl_fact,
    duration_text,
    fact_list,
    label_terms,
    onset_notes,
    plain_display,
    recommendation,
    recorded_when,
    renal_tests,
    seizure_verify,
    stop,
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

    def first_line_indicator(self, episodes: Sequence[Episode] = ()) -> Indicator:
        """Warning under 6 months from onset or when unknown; info from 6 months (A10):
        each side's episode counts (all current ones unless `episodes` are given)."""
        since = self.months_ago(self.t.first_line_warning_months)
        onsets = [e.onset.date for e in episodes or self.fd.episodes] or [self.fd.onset.date]
        recent = any(day is None or day > since for day in onsets)
        return "warning" if recent else "info"

    def sides_without(self, events: Sequence[CareEvent]) -> list[Episode]:
        """The current episodes no event covers (an event without a side covers all)."""
        return [e for e in self.fd.episodes if not any(x.covers(e.side) for x in events)]

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
    def central_explains(self) -> bool:
        """A central cause explains the foot drop (v3 §2: linked in time); it governs FES,
        red-flag routing, the work-up and the disc-surgery exclusion."""
        return bool(self.f.central.explains)

    @property
    def central_suspected(self) -> bool:
        """Upper-motor-neuron signs coded without a central cause."""
        f = self.f
        return bool(f.spasticity or f.lower_limb_monoplegia) and not f.central_cause


_SIDE_FACTS = {
    "right": "right side",
    "left": "left side",
    "bilateral": "both sides",
    "unspecified": "side not recorded",
}
_FOOT_DROP_WORDS = {
    "right": "Right foot drop",
    "left": "Left foot drop",
    "bilateral": "Bilateral foot drop",
    "unspecified": "Foot drop",
}


def _sides_laterality(sides: Sequence[EpisodeSide]) -> Laterality:
    named = set(sides) - {"unspecified"}
    if len(named) == 2:
        return "bilateral"
    return next(iter(named), "unspecified")


def _base_facts(ctx: _Context, episodes: Sequence[Episode] = ()) -> dict[str, str]:
    """The foot drop's side, onset and duration in words; those of `episodes` when given
    (the sides a per-side card is about)."""
    fd = ctx.fd
    laterality = _sides_laterality([e.side for e in episodes]) if episodes else fd.laterality
    onset = earliest([e.onset for e in episodes]) if episodes else fd.onset
    day = onset.date
    return {
        "side": _SIDE_FACTS[laterality],
        "foot_drop": _FOOT_DROP_WORDS[laterality],
        "onset": day.isoformat() if day else "not recorded",
        "duration": duration_text(day, ctx.today) if day else "unknown duration",
    }


def _card(
    ctx: _Context,
    topic: str,
    indicator: Indicator,
    suggestions: Sequence[SuggestedAction] = (),
    evidence: Sequence[Cited] = (),
    flags: Sequence[str] = (),
    notes: Sequence[str] = (),
    facts: dict[str, str] | None = None,
    episodes: Sequence[Episode] = (),
) -> Recommendation:
    """A recommendation with the foot drop's facts, onset flags/notes and evidence first;
    a per-side card passes the `episodes` it is about."""
    onset = onset_notes(earliest([e.onset for e in episodes]) if episodes else ctx.fd.onset)
    return recommendation(
        ctx,
        topic,
        indicator,
        suggestions=suggestions,
        evidence=cited([*ctx.fd.findings, *evidence]),
        facts={**_base_facts(ctx, episodes), **(facts or {})},
        flags=[*onset, *flags],
        notes=onset,
        later_notes=notes,
    )


def _pending(events: Sequence[CareEvent]) -> list[CareEvent]:
    return [e for e in events if e.state != "done"]


# ── red-flag-urgent-evaluation ────────────────────────────────────────────────────

#: The finding a red-flag summary leads with, most urgent first (feature -> flag).
_LEADS = (
    ("cauda_equina", "lead_cauda_equina"),
    ("urinary_retention", "lead_urinary_retention"),
    ("saddle_anesthesia", "lead_saddle_anesthesia"),
    ("bowel_dysfunction", "lead_bowel_dysfunction"),
    ("foot_drop", "bilateral_new"),
    ("possible_progression", "lead_progression"),
)
_PROGRESSION = "possible_progression"


@dataclass(frozen=True)
class _Tiers:
    """The red-flag findings by tier, and what triggered them."""

    critical: tuple[Finding, ...]
    warning: tuple[Finding, ...]
    ces_type: bool
    """A cauda equina, sphincter, saddle or new bilateral trigger: always the spinal route."""
    bilateral: bool

    @property
    def found(self) -> list[Finding]:
        return [*self.critical, *(x for x in self.warning if x not in self.critical)]


def _decompressed_since(ctx: _Context, day: date | None) -> bool:
    surgery = ctx.f.discectomy + ctx.f.lumbar_decompression
    return any(day is None or (e.date is not None and e.date >= day) for e in surgery)


def _sphincter_tiers(ctx: _Context) -> tuple[list[Finding], list[Finding]]:
    """Cauda equina (≤ 30 days, not decompressed) and sphincter/saddle findings (≤ 14 days)."""
    f, fd, t, today = ctx.f, ctx.fd, ctx.t, ctx.today
    critical: list[Finding] = []
    warning: list[Finding] = []
    acute = fd.phase == "acute"
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
            if (acute and fd.onset.known) or not fd.onset.known or newer:
                critical.append(finding)
        elif acute:
            warning.append(finding)
    warning.extend(x for x in f.red_flag_noted if x not in warning)
    return critical, warning


def _red_flag_tiers(ctx: _Context) -> _Tiers:
    """Tiers of §3: critical findings, warning findings, and the kind of trigger."""
    f, fd = ctx.f, ctx.fd
    critical, warning = _sphincter_tiers(ctx)
    ces_type = bool(critical or warning)
    bilateral = fd.bilateral_onset
    new_day = ctx.today - timedelta(weeks=ctx.t.acute_weeks)
    new_bilateral = (
        bilateral is not None and bilateral.date is not None and bilateral.date > new_day
    )
    if new_bilateral and bilateral is not None:
        tier = critical if bilateral.known else warning
        tier.extend(x for x in fd.findings if x not in tier)
        ces_type = True
    critical.extend(f.progression.structured)
    warning.extend(f.progression.text)
    return _Tiers(tuple(critical), tuple(warning), ces_type, new_bilateral)


def _mri_done_after(ctx: _Context, findings: Sequence[Finding]) -> bool:
    """A lumbar MRI performed after every red-flag finding's own date (v3 §3)."""
    days = [x.date for x in findings]
    if not days or any(day is None for day in days):
        return False
    latest = max(day for day in days if day is not None)
    return any(e.state == "done" and e.date and e.date > latest for e in ctx.f.lumbar_mri)


def _order_target(pending: Sequence[CareEvent]) -> str | None:
    """The pending order to update (a draft first). Only an order has a priority to
    update: a scheduled ImagingStudy or a registered report cannot be made stat."""
    orders = [e for e in pending if e.evidence.resource_type == "ServiceRequest"]
    return next((e for e in orders if e.draft), orders[0]).reference if orders else None


def _priority_action(
    pending: Sequence[CareEvent], enough: frozenset[str], create: str, update: str
) -> list[SuggestedAction]:
    """Nothing when a pending order already has an `enough` priority; else an update of a
    pending order; else a new one."""
    if any(e.priority in enough for e in pending):
        return []
    target = _order_target(pending)
    if target is not None:
        return [SuggestedAction(update, target, recommended=True)]
    return [SuggestedAction(create, recommended=True)]


def _critical_suggestions(
    ctx: _Context, tiers: _Tiers, spinal: bool, neurology: bool
) -> list[SuggestedAction]:
    """Stat lumbar MRI (unless performed after the findings), stat spine referral on the
    spinal route, urgent neurology when routed; pending non-stat orders are updated."""
    f = ctx.f
    stat = frozenset({"stat"})
    actions: list[SuggestedAction] = []
    if not _mri_done_after(ctx, tiers.found):
        actions += _priority_action(
            _pending(f.lumbar_mri), stat, "mri-lumbar-stat", "mri-lumbar-make-stat"
        )
    if spinal:
        actions += _priority_action(
            _pending(f.spine_surgery_referral),
            stat,
            "spine-surgery-referral-stat",
            "spine-surgery-referral-make-stat",
        )
    if neurology and not any(
        e.priority in _URGENT_PRIORITIES for e in _pending(f.neurology_referral)
    ):
        actions.append(SuggestedAction("neurology-referral-urgent"))
    return actions


def _warning_suggestions(ctx: _Context, tiers: _Tiers) -> list[SuggestedAction]:
    """One suggestion: an urgent lumbar MRI; an urgent, asap or stat one pending
    satisfies it, a routine one is updated to urgent (v3 §3 warning tier)."""
    if _mri_done_after(ctx, tiers.found):
        return []
    return _priority_action(
        _pending(ctx.f.lumbar_mri),
        _URGENT_PRIORITIES,
        "mri-lumbar-urgent",
        "mri-lumbar-make-urgent",
    )


def _lesion_after_ncs(ctx: _Context) -> bool:
    """An NCS/EMG done since onset, with a peroneal, sciatic or plexus lesion coded after it."""
    f = ctx.f
    lesions = f.peroneal_neuropathy + f.sciatic_neuropathy + f.lumbosacral_plexopathy
    studies = [e.date for e in f.ncs_emg if e.state == "done" and e.date is not None]
    return any(x.date is not None and x.date >= day for x in lesions for day in studies)


def _proven_peripheral(ctx: _Context, progression: Sequence[Finding]) -> bool:
    """v3 §3: the lesion coded after an NCS/EMG, and a lumbar MRI performed after the
    progression was recorded (its latest date: the cautious reading)."""
    return _lesion_after_ncs(ctx) and _mri_done_after(ctx, progression)


def _routing_flags(ctx: _Context, tiers: _Tiers) -> tuple[bool, bool]:
    """(proven peripheral, proven central) cause — for a progression trigger only."""
    if tiers.ces_type:
        return False, False
    progression = [x for x in tiers.found if x.feature == _PROGRESSION]
    return _proven_peripheral(ctx, progression), ctx.central_explains


def _lead(tiers: _Tiers) -> tuple[str, Finding]:
    """The flag naming the finding the summary leads with, and that finding."""
    found = tiers.found
    for feature, flag in _LEADS:
        for finding in found:
            if finding.feature == feature and (feature != "foot_drop" or tiers.bilateral):
                return flag, finding
    return "lead_progression", found[0]


def _plain(x: Finding) -> str:
    """A finding as a clinician reads it: its name and date, no resource id."""
    return f"{plain_display(x)} ({x.evidence.date})" if x.evidence.date else plain_display(x)


def red_flag_urgent_evaluation(ctx: _Context) -> Outcome:
    """Red flags with foot drop: tiers of §3 and A1; never on incontinence codes."""
    tiers = _red_flag_tiers(ctx)
    if not tiers.critical and not tiers.warning:
        return stop("no-red-flag-finding")
    f = ctx.f
    peripheral, central = _routing_flags(ctx, tiers)
    spinal = tiers.ces_type or bool(ctx.spinal_causes) or not (central or peripheral)
    no_cause = not (ctx.spinal_causes or ctx.peripheral_lesions or f.central_cause)
    flags = ["spinal_cause_possible"] if spinal else []
    flags += ["central_cause"] if central else []
    flags += ["peripheral_cause"] if peripheral else []
    flags += ["bilateral_new"] if tiers.bilateral else []
    if not tiers.critical and set(tiers.warning) <= set(f.progression.text):
        flags.append("progression_text_only")
    if not tiers.critical and any(x in f.red_flag_noted for x in tiers.warning):
        flags.append("red_flag_in_note")
    lead, finding = _lead(tiers)
    if lead != "bilateral_new":
        flags.append(lead)
    found = tiers.found
    referrals = _pending(f.spine_surgery_referral) if tiers.critical else []
    if tiers.critical:
        routed = not tiers.ces_type and (no_cause or bool(f.central_cause))
        neurology = central or peripheral or routed
        suggestions = _critical_suggestions(ctx, tiers, spinal, neurology)
    else:
        suggestions = _warning_suggestions(ctx, tiers)
    return _card(
        ctx,
        RED_FLAG,
        "critical" if tiers.critical else "warning",
        suggestions,
        evidence=[*found, *_pending(f.lumbar_mri), *referrals],
        flags=flags,
        notes=["finding_from_text"] if any(x.from_text for x in found) else [],
        facts={
            "findings": fact_list(plain_display(x) for x in found),
            "recorded_ago": recorded_when(finding.date, ctx.today),
        },
    )


# ── first-line care ────────────────────────────────────────────────────────────────


def orthosis(ctx: _Context) -> Outcome:
    """AFO via an orthotist; FES only for a central cause with no peripheral lesion (A5).

    Per side (v3 §1 Time): the sides whose current episode no orthosis or FES covers."""
    f = ctx.f
    if ctx.fd.proxy:
        return stop(PERONEAL_PALSY_ONLY)
    if f.non_ambulatory:
        return stop("non-ambulatory", f.non_ambulatory)
    sides = ctx.sides_without(f.orthosis_in_use + f.fes_in_use)
    if not sides:
        return stop("orthosis-in-use", f.orthosis_in_use, f.fes_in_use)
    peripheral = ctx.peripheral_lesions + ctx.spinal_causes + f.insensate_feet
    fes = ctx.central_explains and not peripheral
    suggestions = [
        SuggestedAction("orthotist-referral", recommended=True),
        SuggestedAction("afo-prefabricated"),
    ]
    flags = ["fes_needs_intact_nerve"]
    evidence: list[Cited] = [*f.insensate_feet]
    if fes:
        suggestions.append(SuggestedAction("fes"))
        flags = ["fes_offered"] + (["fes_cardiac_caution"] if f.cardiac_device else [])
        evidence += [*f.central.explains, *f.cardiac_device]
    if f.insensate_feet:
        flags.append("insensate_feet")
    covered = [*f.orthosis_in_use, *f.fes_in_use]
    if covered:
        flags.append("orthosis_other_side")
        evidence += covered
    return _card(
        ctx,
        "orthosis",
        ctx.first_line_indicator(sides),
        suggestions,
        evidence,
        flags,
        episodes=sides,
    )


def _orthosis_from_text(f: PatientFeatures) -> list[str]:
    devices = f.orthosis_in_use + f.fes_in_use
    return ["orthosis_from_text"] if devices and all(e.from_text for e in devices) else []


def physical_therapy(ctx: _Context) -> Outcome:
    """PT since onset for every ambulatory patient (A10)."""
    f = ctx.f
    if ctx.fd.proxy:
        return stop(PERONEAL_PALSY_ONLY)
    if f.non_ambulatory:
        return stop("non-ambulatory", f.non_ambulatory)
    if f.pt_since_onset:
        return stop("pt-since-onset", f.pt_since_onset)
    return _card(
        ctx,
        "physical-therapy",
        ctx.first_line_indicator(),
        [SuggestedAction("pt-referral")],
        evidence=[*f.orthosis_in_use, *f.fes_in_use],
        notes=_orthosis_from_text(f),
    )


def _workup_items(ctx: _Context, no_cause: bool) -> list[str]:
    f = ctx.f
    spinal = ctx.spinal_causes
    items: list[str] = []
    if not f.ncs_emg:
        items.append("ncs-emg")
    if not f.lumbar_mri and (spinal or (no_cause and not ctx.central_suspected)):
        items.append("mri-lumbar")
    if f.lumbosacral_plexopathy and not f.plexus_mri:
        items.append("mri-plexus")
    if (f.peroneal_neuropathy or f.sciatic_neuropathy or f.nerve_trauma) and not f.nerve_imaging:
        items.append("nerve-imaging")
    return items


def localization_workup(ctx: _Context) -> Outcome:
    """NCS/EMG and imaging at the right level, unless a central cause explains it (A9, v3
    §2): an unlinked central condition is named as a possible cause; a chronic central
    disease beside a foot drop of known onset under 6 months is named first (info)."""
    f = ctx.f
    spinal, peripheral = ctx.spinal_causes, ctx.peripheral_lesions
    if ctx.central_explains and not (spinal or peripheral):
        return stop("central-cause-explains", f.central.explains)
    possible = () if ctx.central_explains else f.central.possible
    chronic_first = bool(f.central.chronic_recent) and not ctx.central_explains
    no_cause = not (spinal or peripheral or ctx.central_explains)
    items = _workup_items(ctx, no_cause)
    if chronic_first and not f.neurology_referral:
        items.insert(0, "neurology-referral")
    if not items:
        done = [*f.ncs_emg, *f.lumbar_mri, *f.plexus_mri, *f.nerve_imaging]
        return stop("work-up-complete", done, f.neurology_referral)
    only_peroneal = bool(f.peroneal_neuropathy) and not (
        spinal or f.sciatic_neuropathy or f.lumbosacral_plexopathy or f.nerve_trauma
    )
    uninvestigated = only_peroneal and not f.ncs_emg
    acute = ctx.fd.phase == "acute"
    warning = acute and (no_cause or uninvestigated) and not chronic_first
    flags = ["central_suspected"] if ctx.central_suspected else []
    flags += ["central_chronic_first"] if chronic_first else []
    flags += ["central_possible"] if possible and not chronic_first else []
    facts = {"possible_cause": _names(possible)} if possible else {}
    return _card(
        ctx,
        "localization-workup",
        "warning" if warning else "info",
        [SuggestedAction(item) for item in items],
        evidence=[*spinal, *peripheral, *possible, *f.spasticity, *f.lower_limb_monoplegia],
        flags=flags,
        facts=facts,
    )


def _names(findings: Sequence[Finding]) -> str:
    """The conditions' names with their dates, each once."""
    return fact_list(_plain(x) for x in findings)


# ── referrals ──────────────────────────────────────────────────────────────────────


def peroneal_decompression(ctx: _Context) -> Outcome:
    """Non-traumatic peroneal palsy within 12 months (or onset unknown), not decompressed."""
    f, fd = ctx.f, ctx.fd
    if fd.proxy:
        return stop(PERONEAL_PALSY_ONLY)
    if not f.peroneal_neuropathy:
        return stop("no-peroneal-neuropathy")
    if f.peroneal_decompression:
        return stop("nerve-surgery-done", f.peroneal_decompression)
    if f.nerve_trauma or f.fibular_fracture:
        return stop("traumatic-cause", f.nerve_trauma, f.fibular_fracture)
    if fd.onset.date is not None and not ctx.onset_within_months(
        ctx.t.peroneal_decompression_max_months
    ):
        return stop("onset-too-long-ago", fd.findings)
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


def nerve_injury_referral(ctx: _Context) -> Outcome:
    """A nerve injury within 12 months and no nerve surgery: early referral (A11)."""
    f, fd = ctx.f, ctx.fd
    if fd.proxy:
        return stop(PERONEAL_PALSY_ONLY)
    if f.peroneal_decompression:
        return stop("nerve-surgery-done", f.peroneal_decompression)
    since = ctx.months_ago(ctx.t.nerve_trauma_months)
    recent = [x for x in f.nerve_trauma if (d := x.date or fd.onset.date) and d >= since]
    if not recent:
        return stop("no-recent-nerve-injury", f.nerve_trauma)
    dated = [d for x in recent if (d := x.date) is not None]
    when = f"{duration_text(max(dated), ctx.today)} ago" if dated else "date not recorded"
    return _card(
        ctx,
        "nerve-injury-referral",
        "warning",
        [SuggestedAction("nerve-surgery-referral")],
        recent,
        facts={"injury_when": when},
    )


def disc_surgery_referral(ctx: _Context) -> Outcome:
    """Foot drop 4 weeks–12 months with a recent disc herniation and no other cause (A12)."""
    f, fd, t = ctx.f, ctx.fd, ctx.t
    if fd.proxy:
        return stop(PERONEAL_PALSY_ONLY)
    if ctx.red_flag:
        return stop("red-flag-first")
    if not f.recent_disc_herniation:
        return stop("no-recent-disc-herniation", f.disc_herniation)
    if fd.onset.date is None:
        return stop("onset-unknown", fd.findings)
    if fd.onset.date > ctx.today - timedelta(weeks=t.disc_surgery_min_weeks):
        return stop("too-early", fd.findings)
    if not ctx.onset_within_months(t.disc_surgery_max_months):
        return stop("too-late", fd.findings)
    disc_day = min(x.date for x in f.recent_disc_herniation if x.date is not None)
    if _decompressed_since(ctx, disc_day) or f.spine_surgery_referral:
        surgery = [*f.discectomy, *f.lumbar_decompression]
        return stop("spine-surgery-done-or-referred", surgery, f.spine_surgery_referral)
    proven_peroneal = [e for e in f.ncs_emg if e.state == "done"] if f.peroneal_neuropathy else []
    if ctx.central_explains or proven_peroneal:
        return stop("other-cause-proven", f.central.explains, f.peroneal_neuropathy)
    return _card(
        ctx,
        "disc-surgery-referral",
        "info",
        [SuggestedAction("spine-surgery-referral")],
        f.recent_disc_herniation,
    )


def palliative_surgery(ctx: _Context) -> Outcome:
    """Tendon transfer to discuss for long-standing peripheral foot drop (A6), per side:
    a side whose current episode has a true onset 12 months ago or more and no tendon
    transfer or arthrodesis on that side (v3 §1 Time)."""
    f, fd = ctx.f, ctx.fd
    if fd.proxy:
        return stop(PERONEAL_PALSY_ONLY)
    peripheral = ctx.peripheral_lesions + f.l5_radiculopathy + f.disc_herniation
    if not peripheral:
        return stop("no-peripheral-cause")
    if f.central_cause or f.spasticity or f.progressive_disease:
        return stop("central-or-progressive", f.central_cause, f.spasticity, f.progressive_disease)
    known = [e for e in fd.episodes if e.onset.known and e.onset.date is not None]
    if not known:
        return stop("onset-not-known", fd.findings)
    since = ctx.months_ago(ctx.t.palliative_min_months)
    long_standing = [e for e in known if e.onset.date is not None and e.onset.date <= since]
    if not long_standing:
        return stop("not-yet-long-standing", fd.findings)
    sides = [e for e in ctx.sides_without(f.palliative_surgery) if e in long_standing]
    if not sides:
        return stop("palliative-surgery-done", f.palliative_surgery)
    return _card(
        ctx,
        "palliative-surgery",
        "info",
        [SuggestedAction("foot-ankle-surgery-referral")],
        [*peripheral, *f.palliative_surgery],
        notes=_orthosis_from_text(f),
        episodes=sides,
    )


def spasticity_botulinum(ctx: _Context) -> Outcome:
    """Lower-limb or central spasticity, no botulinum toxin in 6 months (A13)."""
    f = ctx.f
    if ctx.fd.proxy:
        return stop(PERONEAL_PALSY_ONLY)
    if not (f.lower_limb_spasticity or (f.spasticity and f.central_cause)):
        return stop("no-spasticity", f.spasticity)
    if f.botulinum_recent:
        return stop("botulinum-recent", f.botulinum_recent)
    if pending := _pending(f.rehabilitation_referral):
        return stop("rehabilitation-referral-pending", pending)
    return _card(
        ctx,
        "spasticity-botulinum",
        "info",
        [SuggestedAction("botulinum-evaluation-referral")],
        [*f.spasticity, *f.central_cause],
    )


def ms_dalfampridine(ctx: _Context) -> Outcome:
    """Dalfampridine to discuss in MS, only with no contraindication found (A7, A8, v3 §3).

    No card when contraindicated: seizure history, allergy, CrCl at the label's limit
    (dialysis or ESRD included; the EU label's < 80 too) or probably so, or, under the EU
    label, a concurrent OCT2 inhibitor. A "verify" seizure record withholds the drug
    suggestion: the card asks for the record to be verified first.
    """
    f = ctx.f
    if ctx.fd.proxy:
        return stop(PERONEAL_PALSY_ONLY)
    if not f.multiple_sclerosis:
        return stop("no-multiple-sclerosis")
    if f.dalfampridine_active or f.dalfampridine_past_course or f.other_4ap:
        taken = [*f.dalfampridine_active, *f.dalfampridine_past_course, *f.other_4ap]
        return stop("dalfampridine-known", taken)
    renal = f.renal
    if f.seizure_history or f.dalfampridine_allergy or renal.contraindicated:
        renal_limit = renal.evidence if renal.contraindicated else ()
        named = [*f.seizure_history, *f.dalfampridine_allergy]
        return stop("contraindication-recorded", named, renal_limit)
    if oct2 := contraindicating_oct2_inhibitors(f, ctx.t):
        return stop("oct2-inhibitor", oct2)
    verify_notes, verify = seizure_verify(f)
    flags, facts = label_terms(ctx.t)
    flags += ["seizure_verify"] if verify else []
    flags += ["oct2_inhibitor"] if f.oct2_inhibitor else []
    suggestions: list[SuggestedAction] = []
    if renal.status == "known" and renal.value is not None:
        flags.append("crcl_known")
        facts["crcl"] = crcl_fact(renal)
        flags += ["crcl_51_80"] if renal.mild else []
        if renal.borderline:
            flags.append("crcl_borderline")
        elif not verify:
            suggestions.append(SuggestedAction("dalfampridine-er-10mg"))
    else:
        flags.append("crcl_unknown")
        facts["missing_inputs"] = ", ".join(renal.missing_inputs) or "creatinine clearance"
        suggestions += renal_tests(renal)
    return _card(
        ctx,
        "ms-dalfampridine",
        "info",
        suggestions,
        [*f.multiple_sclerosis, *renal.evidence, *verify, *f.oct2_inhibitor],
        flags,
        notes=[*renal.notes, *verify_notes],
        facts=facts,
    )


#: Every card but the red flag, in the order of §3 (the order within one indicator).
CARDS: tuple[Callable[[_Context], Outcome], ...] = (
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
    ctx = _population(f, now, thresholds)
    population = ("foot_drop", "age_years")
    if isinstance(ctx, str):
        return stopped(topics, ctx, f, ["foot_drop"] if ctx == NO_FOOT_DROP else population)
    fd = ctx.fd
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


def _population(
    features: PatientFeatures, now: datetime, thresholds: ClinicalThresholds
) -> _Context | str:
    """What the rules read, or the condition that stops every topic (§1 Population: a foot
    drop, and an adult or a patient of unknown age)."""
    fd = features.foot_drop
    if fd is None:
        return NO_FOOT_DROP
    ctx = _Context(features, now.date(), thresholds, fd)
    return NOT_ADULT if ctx.adult is False else ctx


def red_flag(
    features: PatientFeatures, now: datetime, thresholds: ClinicalThresholds
) -> Recommendation | None:
    """The red-flag card of `recommend`, decided alone: what the order checks need (its
    indicator, evidence and notes) without deciding the nine other cards. It lacks only the
    flag `critical_withheld_others`, which the card gets beside others (`_critical_alone`)."""
    ctx = _population(features, now, thresholds)
    if isinstance(ctx, str):
        return None
    outcome = red_flag_urgent_evaluation(ctx)
    return outcome if isinstance(outcome, Recommendation) else None


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
