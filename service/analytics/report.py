"""The committee's report: per topic and week, cards shown, accepted, overridden and why.

    read_report: Store ─storage.reports.weekly_outcomes→ counts ─build_report(catalogue)→ Report
      → to_json() (GET /analytics/cards, `footdrop-cds report --format json`)
      → analytics.page.html(report) (the chart page) | text_table(report)

Acceptance rate = cards accepted / cards shown (a card counts once, by its latest
feedback; cards nobody reported on count as shown only). Override reasons are
shown as reported and, where the catalogue knows them, with the HL7 CDS Hooks
3.0 standard code and category they map to, so our own codes and the standard
ones add up in one place.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cards.catalogue import CardCatalogue
from service.storage.records import week_of
from service.storage.reports import WeeklyOutcomes, weekly_outcomes
from service.storage.store import Store

#: The topic of feedback on cards the log does not hold.
UNKNOWN_CARD = "(card not in the log)"


@dataclass(frozen=True)
class ReasonCount:
    system: str | None
    code: str | None
    display: str
    standard_code: str | None
    standard_display: str | None
    category_code: str | None
    category_display: str | None
    count: int

    def to_json(self) -> dict[str, Any]:
        out = {
            "system": self.system,
            "code": self.code,
            "display": self.display,
            "standardCode": self.standard_code,
            "standardDisplay": self.standard_display,
            "categoryCode": self.category_code,
            "categoryDisplay": self.category_display,
            "count": self.count,
        }
        return {name: value for name, value in out.items() if value is not None}


@dataclass
class TopicWeek:
    week: date
    topic: str
    display: str
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    reasons: list[ReasonCount] = field(default_factory=list)

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.shown if self.shown else None

    def standard_reasons(self) -> list[tuple[str, str, int]]:
        """(standard code, display, count): our codes and the standard ones added up.

        Reasons the catalogue does not know are left out (they are in `reasons`).
        """
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for reason in self.reasons:
            if reason.standard_code and reason.standard_display:
                counts[reason.standard_code, reason.standard_display] += reason.count
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0][1]))
        return [(code, display, count) for (code, display), count in ranked]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "week": self.week.isoformat(),
            "topic": self.topic,
            "display": self.display,
            "shown": self.shown,
            "accepted": self.accepted,
            "overridden": self.overridden,
            "overrideReasons": [reason.to_json() for reason in self.reasons],
            "standardReasons": [
                {"code": code, "display": display, "count": count}
                for code, display, count in self.standard_reasons()
            ],
        }
        if self.acceptance_rate is not None:
            out["acceptanceRate"] = round(self.acceptance_rate, 4)
        return out


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    weeks: list[date]
    rows: list[TopicWeek]
    """One per topic and week that had cards or feedback, by week then topic."""

    def topics(self) -> list[tuple[str, str]]:
        """(topic, display) of every topic in the report, by display."""
        return sorted({(row.topic, row.display) for row in self.rows}, key=lambda pair: pair[1])

    def totals(self) -> list[TopicWeek]:
        """Every week of each topic summed (week = the first week of the report)."""
        merged: dict[str, TopicWeek] = {}
        for row in self.rows:
            total = merged.setdefault(row.topic, TopicWeek(self.weeks[0], row.topic, row.display))
            total.shown += row.shown
            total.accepted += row.accepted
            total.overridden += row.overridden
            total.reasons = _merge(total.reasons, row.reasons)
        return sorted(merged.values(), key=lambda row: row.display)

    def weekly_rate(self, topic: str | None = None) -> list[tuple[date, float | None]]:
        """Acceptance rate per week of the report, for one topic or all together."""
        shown: dict[date, int] = defaultdict(int)
        accepted: dict[date, int] = defaultdict(int)
        for row in self.rows:
            if topic is None or row.topic == topic:
                shown[row.week] += row.shown
                accepted[row.week] += row.accepted
        return [
            (week, accepted[week] / shown[week] if shown[week] else None) for week in self.weeks
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "generatedAt": self.generated_at.isoformat(timespec="seconds"),
            "weeks": [week.isoformat() for week in self.weeks],
            "rows": [row.to_json() for row in self.rows],
            "totals": [row.to_json() | {"week": None} for row in self.totals()],
        }


def first_week(now: datetime, weeks: int) -> date:
    """The Monday starting a report of `weeks` weeks that ends with the current week."""
    return week_of(now) - timedelta(weeks=weeks - 1)


def read_report(store: Store, catalogue: CardCatalogue, now: datetime, weeks: int) -> Report:
    """The report of the last `weeks` weeks (the current one included), from the database."""
    return build_report(weekly_outcomes(store, first_week(now, weeks)), catalogue, now, weeks)


def build_report(
    counts: WeeklyOutcomes, catalogue: CardCatalogue, now: datetime, weeks: int
) -> Report:
    start = first_week(now, weeks)
    rows: dict[tuple[date, str], TopicWeek] = {}

    def row(week: date, topic: str | None) -> TopicWeek:
        name = topic or UNKNOWN_CARD
        template = catalogue.templates.get(name)
        display = template.display if template else name
        return rows.setdefault((week, name), TopicWeek(week, name, display))

    for shown in counts.shown:
        row(shown.week, shown.topic).shown += shown.cards
    for outcome in counts.outcomes:
        target = row(outcome.week, outcome.topic)
        if outcome.outcome == "accepted":
            target.accepted += outcome.cards
            continue
        target.overridden += outcome.cards
        reason = _reason(catalogue, outcome.reason_system, outcome.reason_code, outcome.cards)
        target.reasons = _merge(target.reasons, [reason])
    return Report(
        generated_at=now,
        weeks=[start + timedelta(weeks=n) for n in range(weeks)],
        rows=[rows[key] for key in sorted(rows)],
    )


def _reason(
    catalogue: CardCatalogue, system: str | None, code: str | None, count: int
) -> ReasonCount:
    if system is None or code is None:
        return ReasonCount(None, None, "no reason chosen", None, None, None, None, count)
    meaning = catalogue.reason_meaning(system, code)
    if meaning is None:  # a reason the EHR added: reported as sent
        return ReasonCount(system, code, code, None, None, None, None, count)
    return ReasonCount(
        system,
        code,
        meaning.display,
        meaning.standard_code,
        meaning.standard_display,
        meaning.category_code,
        meaning.category_display,
        count,
    )


def _merge(reasons: list[ReasonCount], more: list[ReasonCount]) -> list[ReasonCount]:
    """Reasons with their counts added up, most frequent first."""
    counts: dict[tuple[str | None, str | None], ReasonCount] = {}
    for reason in [*reasons, *more]:
        key = (reason.system, reason.code)
        seen = counts.get(key)
        total = reason.count + (seen.count if seen else 0)
        counts[key] = ReasonCount(**{**vars(reason), "count": total})
    return sorted(counts.values(), key=lambda reason: (-reason.count, reason.display))


def text_table(report: Report) -> str:
    """The report as fixed-width text for a terminal."""
    lines = [
        f"{'week':<10}  {'topic':<32}  {'shown':>6}  {'accepted':>8}  {'overridden':>10}  "
        f"{'rate':>6}  override reasons"
    ]
    labelled = [(row.week.isoformat(), row) for row in report.rows]
    for week, item in [*labelled, *(("total", row) for row in report.totals())]:
        rate = f"{item.acceptance_rate:.0%}" if item.acceptance_rate is not None else "-"
        reasons = ", ".join(f"{reason.display} ({reason.count})" for reason in item.reasons)
        lines.append(
            f"{week:<10}  {item.display[:32]:<32}  {item.shown:>6}  {item.accepted:>8}  "
            f"{item.overridden:>10}  {rate:>6}  {reasons}"
        )
    return "\n".join(lines) + "\n"
