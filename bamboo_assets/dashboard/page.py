"""The local dashboard page (pure): the metrics table and its charts as one HTML file.

Self-contained — inline CSS and SVG, no script, no network — so it opens from disk in any
browser, and a point per day is drawn whatever the history length. The charts are the
Google Sheet's: attempts and correct attempts, then active and new learners (a hundred times
smaller, so on a chart of their own instead of a second axis).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bamboo_assets.core.metrics import METRIC_COLUMNS, DayMetrics

WIDTH, HEIGHT = 900, 280
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 40
CHARTS = (
    (
        "Attempts per day",
        (("attempts_per_day_total", "#1f6feb"), ("correct_attempts_per_day", "#2da44e")),
    ),
    ("Learners per day", (("unique_users_per_day", "#8250df"), ("new_users_per_day", "#d4a72c"))),
)
_STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 20px 0 4px; }
.legend span { margin-right: 16px; } .legend i { display: inline-block; width: 12px;
  height: 12px; margin-right: 4px; vertical-align: -1px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-size: 12px; fill: #57606a; } .grid { stroke: #d0d7de; }
table { border-collapse: collapse; margin-top: 20px; } td, th { padding: 3px 10px;
  border-bottom: 1px solid #d0d7de; text-align: right; } th { background: #f6f8fa; }
td:first-child, th:first-child { text-align: left; }
"""


def _ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above `value`: round numbers for the top gridline."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _chart(title: str, series: Sequence[tuple[str, str]], rows: Sequence[DayMetrics]) -> str:
    """One SVG line chart: a polyline and a point (with its value as a tooltip) per series."""
    index = {name: METRIC_COLUMNS.index(name) for name, _ in series}
    top = _ceiling(max([row[index[name]] for row in rows for name, _ in series] + [1]))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (inner_w * i / (len(rows) - 1) if len(rows) > 1 else inner_w / 2)

    def y(value: int) -> float:
        return TOP + inner_h * (1 - value / top)

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">']
    for tick in (0, top // 2, top):
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}"/><text x="{LEFT - 8}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:,}</text>'
        )
    labelled = sorted({0, len(rows) // 2, len(rows) - 1}) if rows else []
    for i in labelled:
        ends = len(rows) > 1 and i in (0, len(rows) - 1)
        anchor = ("start" if i == 0 else "end") if ends else "middle"
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}">{rows[i][0]}</text>'
        )
    for name, colour in series:
        points = [(x(i), y(row[index[name]]), row) for i, row in enumerate(rows)]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
        parts.append(
            f'<polyline class="line" data-series="{name}" points="{path}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts += [
            f'<circle class="point" data-series="{name}" data-day="{row[0]}" cx="{px:.1f}" '
            f'cy="{py:.1f}" r="3" fill="{colour}"><title>{row[0]}: {name} '
            f"{row[index[name]]:,}</title></circle>"
            for px, py, row in points
        ]
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{name}</span>' for name, colour in series
    )
    return f'<h2>{escape(title)}</h2><div class="legend">{legend}</div>' + "".join(parts)


def dashboard_html(metrics: Sequence[DayMetrics]) -> str:
    """The page for `metrics` (one row per day, in day order)."""
    rows = sorted(metrics)
    span = f"{rows[0][0]} to {rows[-1][0]}, {len(rows)} days" if rows else "no days loaded yet"
    header = "".join(f"<th>{name}</th>" for name in METRIC_COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{cell:,}</td>" if isinstance(cell, int) else f"<td>{cell}</td>" for cell in row
        )
        + "</tr>"
        for row in rows
    )
    charts = "".join(_chart(title, series, rows) for title, series in CHARTS) if rows else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Bamboo dashboard</title>"
        f"<style>{_STYLE}</style></head><body><h1>Bamboo dashboard</h1>"
        f"<p>public.daily_metrics: {span}.</p>{charts}"
        f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
        "</body></html>\n"
    )
