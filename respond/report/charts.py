"""Inline SVG charts from the report's frames, in plain Python.

Every text that reaches the SVG goes through :func:`markupsafe.escape`; the charts carry
``data-*`` attributes with the counts they draw, so a test can read them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final

import polars as pl
from markupsafe import Markup, escape

from respond.report.summary import SEVERITY_LABELS, STATES

__all__ = [
    "SEVERITY_COLORS",
    "STATE_COLORS",
    "heat_color",
    "severity_state_chart",
    "timeline_chart",
]

SEVERITY_COLORS: Final = {
    "critical": "#b71c1c",
    "high": "#e65100",
    "medium": "#f9a825",
    "low": "#1565c0",
    "informational": "#607d8b",
}
STATE_COLORS: Final = {"open": "#c62828", "acknowledged": "#f9a825", "closed": "#2e7d32"}


def heat_color(count: int, top: int) -> str:
    """A background from pale to dark red for ``count`` out of ``top``.

    >>> heat_color(0, 10), heat_color(10, 10)
    ('#ffffff', '#b71c1c')
    """
    if count <= 0 or top <= 0:
        return "#ffffff"
    share = min(count / top, 1.0) ** 0.5
    low, high = (255, 224, 178), (183, 28, 28)
    red, green, blue = (round(a + (b - a) * share) for a, b in zip(low, high, strict=True))
    return f"#{red:02x}{green:02x}{blue:02x}"


def severity_state_chart(counts: pl.DataFrame, words: Mapping[str, str]) -> Markup:
    """One horizontal bar per severity, split by state (``severity, state, count`` in)."""
    table = {(s, st): n for s, st, n in counts.iter_rows()}
    top = max([sum(table.get((s, st), 0) for st in STATES) for s in SEVERITY_LABELS] + [1])
    label_width, bar_width, row = 150, 420, 28
    height = row * len(SEVERITY_LABELS) + 30
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {label_width + bar_width + 60} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, severity in enumerate(SEVERITY_LABELS):
        y = index * row + 4
        total = sum(table.get((severity, st), 0) for st in STATES)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(words[severity])}</text>"
        )
        x = float(label_width)
        for state in STATES:
            count = table.get((severity, state), 0)
            if not count:
                continue
            width = bar_width * count / top
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="20" '
                f'fill="{STATE_COLORS[state]}" data-severity="{severity}" data-state="{state}" '
                f'data-count="{count}"><title>{escape(words[state])}: {count}</title></rect>'
            )
            x += width
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{total}</text>')
    legend_y = row * len(SEVERITY_LABELS) + 20
    for index, state in enumerate(STATES):
        x = label_width + index * 140
        parts.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" '
            f'fill="{STATE_COLORS[state]}"/>'
            f'<text x="{x + 16}" y="{legend_y}">{escape(words[state])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _width_text(width: timedelta, words: Mapping[str, str]) -> str:
    seconds = int(width.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} {words['minutes']}"
    if seconds < 86400:
        return f"{seconds // 3600} {words['hours']}"
    return f"{seconds // 86400} {words['days']}"


def timeline_chart(width: timedelta, bars: pl.DataFrame, words: Mapping[str, str]) -> Markup:
    """Stacked bars of alerts per time bucket, coloured by severity."""
    if bars.height == 0:
        return Markup(f"<p>{escape(words['none'])}</p>")
    starts = bars["start"].unique().sort().to_list()
    first, last = starts[0], starts[-1]
    slots = int((last - first) / width) + 1
    per_start = bars.group_by("start").agg(pl.col("count").sum())
    top = int(per_start["count"].max() or 1)  # type: ignore[arg-type]
    left, plot_width, plot_height = 40, 760, 180
    step = plot_width / slots
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {left + plot_width + 10} '
        f'{plot_height + 50}" width="100%" xmlns="http://www.w3.org/2000/svg" '
        f'data-alerts="{int(bars["count"].sum())}">',
        f'<text x="{left - 6}" y="12" text-anchor="end">{top}</text>',
        f'<text x="{left - 6}" y="{plot_height}" text-anchor="end">0</text>',
        f'<line x1="{left}" y1="{plot_height}" x2="{left + plot_width}" y2="{plot_height}" '
        'stroke="#999"/>',
    ]
    stacked: dict[object, float] = {}
    order = {label: i for i, label in enumerate(reversed(SEVERITY_LABELS))}
    rows = sorted(bars.iter_rows(), key=lambda r: (r[0], order[r[1]]))
    for start, severity, count in rows:
        slot = int((start - first) / width)
        height = plot_height * count / top
        base = stacked.get(start, 0.0)
        stacked[start] = base + height
        stamp = start.strftime("%Y-%m-%d %H:%M")
        parts.append(
            f'<rect x="{left + slot * step + 1:.1f}" y="{plot_height - base - height:.1f}" '
            f'width="{max(step - 2, 1):.1f}" height="{height:.1f}" '
            f'fill="{SEVERITY_COLORS[severity]}" data-severity="{severity}" '
            f'data-count="{count}"><title>{stamp} {escape(words[severity])}: {count}'
            "</title></rect>"
        )
    parts.append(
        f'<text x="{left}" y="{plot_height + 18}">{first:%Y-%m-%d %H:%M}</text>'
        f'<text x="{left + plot_width}" y="{plot_height + 18}" text-anchor="end">'
        f"{last:%Y-%m-%d %H:%M}</text>"
        f'<text x="{left}" y="{plot_height + 40}">{escape(words["bucket"])} '
        f"{escape(_width_text(width, words))} (UTC)</text>"
    )
    for index, severity in enumerate(SEVERITY_LABELS):
        x = left + 260 + index * 100
        parts.append(
            f'<rect x="{x}" y="{plot_height + 30}" width="12" height="12" '
            f'fill="{SEVERITY_COLORS[severity]}"/>'
            f'<text x="{x + 16}" y="{plot_height + 40}">{escape(words[severity])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
