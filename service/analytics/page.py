"""The report as one self-contained HTML page: a chart of acceptance over time, then tables.

No script, no stylesheet or font from elsewhere (hospital networks block CDNs,
and the page is often mailed as a file): the chart is inline SVG, one line per
topic plus a thick line for all topics, and every text is escaped.
"""

from __future__ import annotations

from html import escape

from service.analytics.report import Report, TopicWeek

WIDTH, HEIGHT = 960, 380
LEFT, RIGHT, TOP, BOTTOM = 56, 240, 24, 48
#: Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
ALL_TOPICS = "All topics"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0 2rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
td.n { text-align: right; }
svg text { font-size: 12px; fill: #222; }
"""


def html(report: Report) -> str:
    first, last = report.weeks[0], report.weeks[-1]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Foot-drop CDS: card acceptance</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Foot-drop CDS: card acceptance</h1>",
        f"<p>Weeks {first.isoformat()} to {last.isoformat()} (weeks start on Monday, UTC); "
        f"generated {escape(report.generated_at.isoformat(timespec='seconds'))}. "
        "Acceptance rate = cards accepted / cards shown; a card counts once, by its latest "
        "feedback.</p>",
        chart(report),
        "<h2>Per topic, all weeks</h2>",
        _table(report.totals(), with_week=False),
        "<h2>Per topic and week</h2>",
        _table(report.rows, with_week=True),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def chart(report: Report) -> str:
    """Inline SVG: acceptance rate (0–100 %) per week, a line per topic and one for all."""
    weeks = report.weeks
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + (plot_w * index / (len(weeks) - 1) if len(weeks) > 1 else plot_w / 2)

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - rate)

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Acceptance rate per week">'
    ]
    for percent in range(0, 101, 25):
        level = y(percent / 100)
        svg.append(
            f'<line x1="{LEFT}" y1="{level:.1f}" x2="{LEFT + plot_w}" y2="{level:.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{LEFT - 8}" y="{level + 4:.1f}" text-anchor="end">{percent}%</text>'
        )
    step = -(-len(weeks) // 7)  # at most 7 labels, so they never overlap
    for index in range(0, len(weeks), step):
        svg.append(
            f'<text x="{x(index):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
            f"{weeks[index].strftime('%d %b %Y')}</text>"
        )
    svg.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        "Week (starting Monday)</text>"
    )
    series = [(ALL_TOPICS, None, "#222", 3.5)] + [
        (display, topic, PALETTE[n % len(PALETTE)], 1.8)
        for n, (topic, display) in enumerate(report.topics())
    ]
    for n, (label, topic, colour, width) in enumerate(series):
        points = [
            (x(index), y(rate), week, rate)
            for index, (week, rate) in enumerate(report.weekly_rate(topic))
            if rate is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
            svg.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{width}"/>'
            )
        for px, py, week, rate in points:
            svg.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{width + 1:.1f}" fill="{colour}">'
                f"<title>{escape(label)}, week of {week.isoformat()}: {rate:.0%}</title></circle>"
            )
        legend_y = TOP + 16 * n
        svg.append(
            f'<rect x="{WIDTH - RIGHT + 16}" y="{legend_y}" width="12" height="12" '
            f'fill="{colour}"/>'
            f'<text x="{WIDTH - RIGHT + 34}" y="{legend_y + 10}">{escape(label[:30])}</text>'
        )
    svg.append("</svg>")
    return "\n".join(svg)


def _table(rows: list[TopicWeek], *, with_week: bool) -> str:
    head = ["Week"] if with_week else []
    head += ["Topic", "Shown", "Accepted", "Overridden", "Acceptance", "Override reasons"]
    head += ["Standard reasons (HL7 CDS Hooks)"]
    lines = ["<table><tr>" + "".join(f"<th>{name}</th>" for name in head) + "</tr>"]
    for row in rows:
        rate = f"{row.acceptance_rate:.0%}" if row.acceptance_rate is not None else "–"
        reasons = "<br>".join(
            escape(f"{reason.display} ({reason.count})")
            + (
                f" <small>→ {escape(reason.standard_display)}</small>"
                if reason.standard_display and reason.standard_display != reason.display
                else ""
            )
            for reason in row.reasons
        )
        standard = "<br>".join(
            escape(f"{display} ({count})") for _, display, count in row.standard_reasons()
        )
        cells = [row.week.isoformat()] if with_week else []
        cells.append(escape(row.display))
        numbers = [str(row.shown), str(row.accepted), str(row.overridden), rate]
        lines.append(
            "<tr>"
            + "".join(f"<td>{cell}</td>" for cell in cells)
            + "".join(f'<td class="n">{cell}</td>' for cell in numbers)
            + f"<td>{reasons}</td><td>{standard}</td></tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)
