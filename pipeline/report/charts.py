"""Charts as inline SVG (no script, no network when the file is opened): daily stacked bars and a line."""

from __future__ import annotations

from html import escape

import pandas as pd

COLORS = {"negative": "#dc2626", "neutral": "#94a3b8", "positive": "#16a34a", "unscored": "#e2e8f0"}
W, H, LEFT, BOTTOM, TOP = 720, 220, 44, 28, 12


def _x_labels(days: list[pd.Timestamp], step: float) -> str:
    every = max(1, len(days) // 10)
    out = []
    for i, d in enumerate(days):
        if i % every == 0 or i == len(days) - 1:
            x = LEFT + step * (i + 0.5)
            out.append(f'<text x="{x:.1f}" y="{H - 8}" text-anchor="middle">{escape(d.strftime("%m-%d"))}</text>')
    return "".join(out)


def _frame(y_max_label: str, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="11" fill="#334155">'
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W}" y2="{H - BOTTOM}" stroke="#cbd5e1"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{W}" y2="{TOP}" stroke="#f1f5f9"/>'
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{escape(y_max_label)}</text>'
        f'<text x="{LEFT - 6}" y="{H - BOTTOM}" text-anchor="end">0</text>{body}</svg>'
    )


def stacked_bars(daily: pd.DataFrame, parts: tuple[str, ...] = ("negative", "neutral", "positive", "unscored")) -> str:
    """Mentions per day, stacked by sentiment; each segment has a tooltip with its count."""
    days = list(daily["day"])
    top = max(1, int(daily["mentions"].max() or 0)) if len(daily) else 1
    step = (W - LEFT) / max(1, len(days))
    plot_h = H - BOTTOM - TOP
    bars = []
    for i, row in enumerate(daily.itertuples(index=False)):
        y: float = H - BOTTOM
        for part in parts:
            n = int(getattr(row, part))
            if n <= 0:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(
                f'<rect x="{LEFT + step * i + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                f'height="{h:.1f}" fill="{COLORS[part]}"><title>{escape(row.day.strftime("%Y-%m-%d"))}: '
                f"{n} {part}</title></rect>"
            )
    return _frame(f"{top}", "mentions per day by sentiment", "".join(bars) + _x_labels(days, step))


def share_line(daily: pd.DataFrame, column: str = "negative_share", color: str = COLORS["negative"]) -> str:
    """A share (0-100 %) per day as a line with dots; days without scored mentions leave a gap."""
    days = list(daily["day"])
    step = (W - LEFT) / max(1, len(days))
    plot_h = H - BOTTOM - TOP
    segments: list[list[str]] = []
    current: list[str] = []
    dots: list[str] = []
    for i, row in enumerate(daily.itertuples(index=False)):
        v = getattr(row, column)
        if v is None or pd.isna(v):
            if current:
                segments.append(current)
            current = []
            continue
        x, y = LEFT + step * (i + 0.5), H - BOTTOM - plot_h * float(v)
        current.append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>'
            f"{escape(row.day.strftime('%Y-%m-%d'))}: {float(v):.0%}</title></circle>"
        )
    if current:
        segments.append(current)
    lines = "".join(
        f'<polyline points="{" ".join(s)}" fill="none" stroke="{color}" stroke-width="2"/>' for s in segments
    )
    return _frame("100%", "negative share per day", lines + "".join(dots) + _x_labels(days, step))
