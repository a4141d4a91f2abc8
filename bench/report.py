"""The results as tables, and the targets of issue 15 as PASS / MISS / SKIP lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.run import FLOOR, JWT, OFF, PEER, Bench, Measurement

#: The targets (issue 15, item 2).
P50_WITHIN_FLOOR = 1.5
P95_LIMIT_MS = 10.0
THROUGHPUT_SHARE = 0.70
UNREAD_LIMIT_US = 20.0
RSS_LIMIT_MB = 150.0
LINEAR_SLACK = 1.5
"""Cost per resource at 1,000 → 10,000 may exceed that at 100 → 1,000 by this factor."""
FALLBACK_SLACK = 1.25
"""Time spent fetching may exceed the slowest query by this factor and still be "close"."""
RECORDING_LIMIT_MS = 1.0


@dataclass(frozen=True)
class Verdict:
    status: str
    target: str
    found: str

    def __str__(self) -> str:
        return f"{self.status:<5} {self.target}: {self.found}"


def _verdict(ok: bool, target: str, found: str) -> Verdict:
    return Verdict("PASS" if ok else "MISS", target, found)


def _skip(target: str, why: str) -> Verdict:
    return Verdict("SKIP", target, why)


def _p50(m: Measurement | None) -> float | None:
    return m.outcome.p50_ms if m and m.outcome and m.outcome.requests else None


def targets(
    bench: Bench, fallback: dict[str, Any], feedback: dict[str, Any] | None
) -> list[Verdict]:
    size = bench.target_size
    pv = f"patient-view generated-{size}"
    verdicts: list[Verdict] = []
    ours, floor = bench.find(pv, JWT, 1), bench.find(pv, FLOOR, 1)
    if ours and ours.outcome and floor and floor.outcome:
        ratio = ours.outcome.p50_ms / floor.outcome.p50_ms
        verdicts.append(
            _verdict(
                ratio <= P50_WITHIN_FLOOR,
                f"patient-view, {size} resources, c1: p50 within {P50_WITHIN_FLOOR}× the floor",
                f"{ours.outcome.p50_ms:.2f} ms vs floor {floor.outcome.p50_ms:.2f} ms "
                f"(×{ratio:.1f})",
            )
        )
        verdicts.append(
            _verdict(
                ours.outcome.p95_ms < P95_LIMIT_MS,
                f"patient-view, {size} resources, c1: p95 under {P95_LIMIT_MS:.0f} ms",
                f"{ours.outcome.p95_ms:.2f} ms",
            )
        )
    ours16, floor16 = bench.find(pv, JWT, 16), bench.find(pv, FLOOR, 16)
    if ours16 and ours16.outcome and floor16 and floor16.outcome:
        share = ours16.outcome.throughput / floor16.outcome.throughput
        verdicts.append(
            _verdict(
                share >= THROUGHPUT_SHARE,
                f"patient-view, {size} resources, c16: throughput ≥ {THROUGHPUT_SHARE:.0%} "
                "of the floor's",
                f"{ours16.outcome.throughput:.1f} vs {floor16.outcome.throughput:.1f} req/s "
                f"({share:.1%})",
            )
        )
        largest = [
            f"c{m.concurrency} {m.rss_mb:.0f} MB"
            for m in bench.results
            if m.workload == "patient-view generated-10000" and m.variant == JWT and m.outcome
        ]
        verdicts.append(
            _verdict(
                ours16.rss_mb < RSS_LIMIT_MB,
                f"peak RSS, {size} resources, c16: under {RSS_LIMIT_MB:.0f} MB per worker",
                f"{ours16.rss_mb:.0f} MB"
                + (f" (10,000 resources: {', '.join(largest)})" if largest else ""),
            )
        )
    verdicts.append(_linearity(bench))
    verdicts.append(_unread(bench, size))
    verdicts.append(_fallback(fallback))
    verdicts.extend(_recording(bench, feedback))
    return verdicts


def _cpu(m: Measurement | None) -> float | None:
    return m.cpu_ms if m and m.outcome and m.outcome.requests else None


def _linearity(bench: Bench) -> Verdict:
    target = "cost linear in record size (server CPU per resource, 100→1,000 vs 1,000→10,000)"
    slopes = {}
    for variant in (JWT, FLOOR):
        cpu = {
            size: _cpu(bench.find(f"patient-view generated-{size}", variant, 1))
            for size in (100, 1000, 10_000)
        }
        if any(value is None for value in cpu.values()):
            return _skip(target, "needs the 100, 1,000 and 10,000 rows (full run)")
        slopes[variant] = (
            (cpu[1000] - cpu[100]) / 900 * 1000,  # type: ignore[operator]
            (cpu[10_000] - cpu[1000]) / 9000 * 1000,  # type: ignore[operator]
        )
    first, second = slopes[JWT]
    floor_first, floor_second = slopes[FLOOR]
    return _verdict(
        second <= first * LINEAR_SLACK,
        target,
        f"{first:.0f} µs then {second:.0f} µs per resource "
        f"(the floor's: {floor_first:.0f} then {floor_second:.0f})",
    )


def _unread(bench: Bench, size: int) -> Verdict:
    target = f"each resource the rules do not read costs under {UNREAD_LIMIT_US:.0f} µs"
    label = f"patient-view generated-{size}"
    padded_label = f"{label}+{bench.padding}-unread"

    def added_us(variant: str) -> float | None:
        padded, plain = (
            _cpu(bench.find(padded_label, variant, 1)),
            _cpu(bench.find(label, variant, 1)),
        )
        if padded is None or plain is None:
            return None
        return (padded - plain) / bench.padding * 1000

    ours, floor = added_us(JWT), added_us(FLOOR)
    if ours is None or floor is None:
        return _skip(target, "padded record not measured")
    return _verdict(
        ours - floor < UNREAD_LIMIT_US,
        target + " beyond the floor's parse",
        f"{ours - floor:.0f} µs more than the floor: {ours:.0f} µs of server CPU each, "
        f"the floor's strict parse {floor:.0f} µs ({bench.padding} Encounters and Claims "
        f"added to {size} resources)",
    )


def _fallback(fallback: dict[str, Any]) -> Verdict:
    target = "FHIR fallback: queries concurrent, wall time close to the slowest, not the sum"
    wall, via_prefetch = _p50(fallback["measurement"]), _p50(fallback["prefetch"])
    spread = fallback["spread_ms"]
    if wall is None or via_prefetch is None or spread is None:
        return _skip(target, "not measured")
    fetching = wall - via_prefetch
    slowest, total = fallback["slowest_ms"], fallback["sum_ms"]
    concurrent = spread < slowest
    return _verdict(
        concurrent and fetching <= slowest * FALLBACK_SLACK,
        target,
        f"the {fallback['queries']} queries of a call reached the server within "
        f"{spread:.1f} ms of each other (p50); p50 {wall:.1f} ms, {fetching:.1f} ms more "
        f"than the same record as prefetch: ×{fetching / slowest:.2f} the slowest query "
        f"({slowest:.0f} ms), ×{fetching / total:.2f} their sum ({total:.0f} ms)",
    )


def _card_log(bench: Bench) -> Verdict:
    """The card log writer's CPU (GET /metrics) over the calls of the target workload's runs:
    the writer is a thread of the service, so its CPU is what recording cards adds."""
    target = f"recording cards adds under {RECORDING_LIMIT_MS:.0f} ms per call"
    figures = bench.card_log
    if not figures or not figures["calls"]:
        return _skip(target, "no card-log writer metric on GET /metrics (not in this version)")
    added = 1000 * figures["writer_cpu_s"] / figures["calls"]
    return _verdict(
        added < RECORDING_LIMIT_MS,
        target,
        f"{added:.3f} ms: the card log writer's CPU, {1000 * figures['writer_cpu_s']:.0f} ms "
        f"({figures['cards']:.0f} cards in {figures['batches']:.0f} batches), over the "
        f"{figures['calls']:.0f} service-jwt calls of {bench.target_label} (GET /metrics)",
    )


def _recording(bench: Bench, feedback: dict[str, Any] | None) -> list[Verdict]:
    target = f"recording feedback adds under {RECORDING_LIMIT_MS:.0f} ms per call"
    card_log = _card_log(bench)
    if feedback is None:
        return [_skip(target, "no feedback endpoint in this version"), card_log]
    label = "feedback (one accepted card)"
    floor, off, jwt = (_p50(bench.find(label, v, 1)) for v in (FLOOR, OFF, JWT))
    if floor is None or (off is None and jwt is None):
        return [_skip(target, "not measured"), card_log]
    off_result = bench.find(label, OFF, 1)
    if off is not None and off_result and off_result.outcome and not off_result.outcome.not_ok:
        added = off - floor
        how = "service-off p50 − floor p50"
    else:
        small = "patient-view generated-10"
        verify = (_p50(bench.find(small, JWT, 1)) or 0) - (_p50(bench.find(small, OFF, 1)) or 0)
        added = (jwt or 0) - floor - verify
        how = "service-jwt p50 − floor p50 − JWT verification (patient-view 10: jwt − off)"
    return [_verdict(added < RECORDING_LIMIT_MS, target, f"{added:.2f} ms ({how})"), card_log]


def table(bench: Bench) -> list[str]:
    """The results as a Markdown table (results.md, docs/performance.md)."""
    lines = [
        "| requests | resources | KiB | c | server | n | p50 ms | p95 ms | p99 ms | req/s "
        "| CPU ms/req | peak RSS MB | ×floor p50 | ×floor p95 | ×floor req/s |",
        "|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in bench.results:
        resources, kib = bench.sizes.get(m.workload, (0, 0.0))
        where = f"| {m.workload} | {resources} | {kib:.0f} | {m.concurrency} | {m.variant} "
        if m.outcome is None:
            lines.append(f"{where}| {m.note} |||||||||")
            continue
        o = m.outcome
        ratios = ["", "", ""]
        floor = bench.find(m.workload, FLOOR, m.concurrency)
        if m.variant != FLOOR and floor and floor.outcome and floor.outcome.requests:
            f = floor.outcome
            ratios = [
                f"{o.p50_ms / f.p50_ms:.1f}",
                f"{o.p95_ms / f.p95_ms:.1f}",
                f"{o.throughput / f.throughput:.2f}",
            ]
        lines.append(
            f"{where}| {o.requests} "
            f"| {o.p50_ms:.2f} | {o.p95_ms:.2f} | {o.p99_ms:.2f} | {o.throughput:.1f} "
            f"| {m.cpu_ms:.2f} | {m.rss_mb:.0f} | {' | '.join(ratios)} |"
        )
    return lines


def profile_lines(found: dict[str, Any]) -> list[str]:
    profile = found["profile"]
    lines = [
        f"## profile (py-spy): {found['workload']}, c16, {found['requests']} requests, "
        f"{found['cpu_ms']:.2f} ms server CPU per request, {profile.samples} samples"
    ]
    for stage, share in profile.stages:
        lines.append(f"  {share:6.1%}  {share * found['cpu_ms']:8.2f} ms/req  {stage}")
    lines.append("  hottest functions (self time):")
    lines.extend(f"  {share:6.1%}  {function}" for function, share in profile.hottest)
    return lines


def peer_lines(bench: Bench) -> list[str]:
    """Our figures beside the peer's, on the requests closest to its measurement."""
    lines = [f"peer: {PEER}"]
    for label in (
        "patient-view synthea-fixtures",
        "patient-view synthea-shared",
        f"patient-view generated-{bench.target_size}",
    ):
        rows = [m for m in bench.results if m.workload.startswith(label) and m.outcome]
        for variant in (JWT, FLOOR):
            c1 = next((m for m in rows if m.variant == variant and m.concurrency == 1), None)
            c16 = next((m for m in rows if m.variant == variant and m.concurrency == 16), None)
            if c1 and c1.outcome:
                text = (
                    f"  {c1.workload} {variant}: "
                    f"p50 {c1.outcome.p50_ms:.1f} ms, p95 {c1.outcome.p95_ms:.1f} ms"
                )
                if c16 and c16.outcome:
                    text += f", {c16.outcome.throughput:.0f} req/s at c16"
                lines.append(text)
    return lines
