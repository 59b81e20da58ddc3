"""The digest as one self-contained HTML file: inline CSS and SVG, no script, every stored text escaped."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from pipeline.report.charts import COLORS, share_line, stacked_bars
from pipeline.report.data import Digest

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#0f172a;margin:0;background:#f8fafc}
main{max-width:980px;margin:0 auto;padding:24px 28px 40px;background:#fff}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
.sub{color:#64748b;margin:0 0 18px}.cards{display:grid;grid-template-columns:repeat(3,1fr);gap:10px}
.card{border:1px solid #e2e8f0;border-radius:8px;padding:10px 12px}.card .v{font-size:22px;font-weight:600}
.card .l{color:#64748b;font-size:12px}.card .d{font-size:12px;color:#475569}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #e2e8f0;padding:6px;text-align:left;vertical-align:top}
th{color:#475569;font-weight:600}
blockquote{margin:6px 0;padding:4px 10px;border-left:3px solid #cbd5e1;color:#334155;font-size:13px;
white-space:pre-wrap}
.badge{display:inline-block;padding:1px 6px;border-radius:10px;font-size:11px;background:#e0e7ff;color:#3730a3}
.new{background:#fee2e2;color:#991b1b}.critical{color:#b91c1c;font-weight:600}.high{color:#c2410c;font-weight:600}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.why{color:#475569;font-size:12px}footer{color:#94a3b8;font-size:11px;margin-top:30px}a{color:#1d4ed8}
"""


def _e(v: Any) -> str:
    return escape("" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))


def _link(url: Any, label: str) -> str:
    u = str(url or "")
    if not u.lower().startswith(("http://", "https://")):
        return ""
    return f'<a href="{escape(u, quote=True)}">{escape(label)}</a>'


def _when(ts: Any, tz: str) -> str:
    if ts is None or (not isinstance(ts, datetime) and pd.isna(ts)):
        return "—"
    return pd.Timestamp(ts).tz_convert(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _pct(v: Any) -> str:
    return "—" if v is None or pd.isna(v) else f"{float(v):.0%}"


def _card(label: str, value: str, delta: str = "") -> str:
    return (
        f'<div class="card"><div class="l">{_e(label)}</div><div class="v">{_e(value)}</div>'
        f'<div class="d">{_e(delta)}</div></div>'
    )


def _cards(d: Digest) -> str:
    t, p, k, pk = d.totals, d.prev_totals, d.kpis, d.prev_kpis
    ttfr = "—" if k["ttfr_median_hours"] is None else f"{k['ttfr_median_hours']:.1f} h"
    p90 = "—" if k["ttfr_p90_hours"] is None else f"{k['ttfr_p90_hours']:.1f} h"
    breaches = k["sla_breached_open"] + k["sla_answered_late"]
    return (
        '<div class="cards">'
        + "".join(
            [
                _card("Mentions", f"{t['mentions']:,}", f"previous period {p['mentions']:,}"),
                _card("Negative share", _pct(t["negative_share"]), f"previous {_pct(p['negative_share'])}"),
                _card("Escalations received", f"{k['received']:,}", f"previous {pk['received']:,}"),
                _card("Response rate", _pct(k["response_rate"]), f"{k['answered']:,} answered of {k['received']:,}"),
                _card("Time to first response", ttfr, "median; p90 " + p90),
                _card(
                    "SLA breaches",
                    f"{breaches:,}",
                    f"{k['sla_breached_open']:,} open past due, {k['sla_answered_late']:,} answered late",
                ),
            ]
        )
        + "</div>"
    )


def _themes(d: Digest) -> str:
    if not d.themes:
        return "<p>No complaint themes had mentions in this period.</p>"
    rows = []
    for th in d.themes:
        badge = '<span class="badge new">new</span>' if th["new"] else f'<span class="badge">{_e(th["status"])}</span>'
        examples = "".join(
            f"<blockquote>{_e(ex['context'])}<br>{_link(ex.get('url'), 'post ↗')}</blockquote>" for ex in th["examples"]
        )
        rows.append(
            f"<tr><td><b>{_e(th['label'])}</b> {badge}<br>"
            f"<span class='why'>{_e(', '.join(th['keywords']))}</span>"
            f"{examples}</td><td>{th['mentions']:,}</td></tr>"
        )
    return "<table><tr><th>Theme and example posts</th><th>Mentions</th></tr>" + "".join(rows) + "</table>"


def _escalations(d: Digest, dashboard_url: str, tz: str) -> str:
    if not d.escalations:
        return "<p>No open escalations.</p>"
    rows = []
    for e in d.escalations:
        in_app = _link(f"{dashboard_url.rstrip('/')}/queue?item={e['escalation_id']}", "open in brandmon")
        links = " · ".join(x for x in (in_app, _link(e.get("url"), "original post ↗")) if x)
        rows.append(
            f"<tr><td>{float(e['priority']):.2f}<br><span class='{_e(e['level'])}'>{_e(e['level'])}</span></td>"
            f"<td>{_e(e['state'])}<br>{_e(e['owner'] or 'unassigned')}</td><td>{_e(_when(e['sla_due_at'], tz))}</td>"
            f"<td><blockquote>{_e(e['context'])}</blockquote>"
            f"<div class='why'>Why: {_e(e['why'])}</div>{links}</td></tr>"
        )
    return (
        "<table><tr><th>Priority</th><th>State / owner</th><th>SLA due</th><th>Post and why</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _alerts(d: Digest, tz: str) -> str:
    if d.alerts.empty:
        return "<p>No alerts in this period.</p>"
    rows = "".join(
        f"<tr><td>{_e(_when(a.created_at, tz))}</td><td>{_e(str(a.kind).replace('_', ' '))}</td>"
        f"<td>{_e(a.explanation)}</td></tr>"
        for a in d.alerts.head(20).itertuples(index=False)
    )
    return "<table><tr><th>When</th><th>Kind</th><th>Explanation</th></tr>" + rows + "</table>"


def render_html(d: Digest, dashboard_url: str, tz: str = "UTC", generated_at: datetime | None = None) -> str:
    span = f"{_when(d.since, tz)} – {_when(d.until, tz)} ({tz})"
    legend = "".join(f'<span><i style="background:{c}"></i>{p}</span>' for p, c in COLORS.items())
    generated = _when(generated_at or d.until, tz)
    days = (d.until - d.since).days or 1
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{_e(d.brand_name)} — brandmon digest</title><style>{CSS}</style></head>
<body><main>
<h1>{_e(d.brand_name)} — brand digest</h1>
<p class="sub">{_e(span)} · compared with the {_e(days)}-day period before · generated {_e(generated)}</p>
{_cards(d)}
<h2>What changed</h2><ul>{"".join(f"<li>{_e(c)}</li>" for c in d.changes)}</ul>
<h2>Volume and sentiment</h2><div class="legend">{legend}</div>{stacked_bars(d.daily)}
<h2>Negative share per day</h2>{share_line(d.daily)}
<h2>Top complaint themes</h2>{_themes(d)}
<h2>Worst open escalations</h2>{_escalations(d, dashboard_url, tz)}
<h2>Alerts</h2>{_alerts(d, tz)}
<footer>brandmon · counts exclude spam, duplicates and the brand's own answers; negative share is of scored
mentions; an escalation is received at its post's time; SLA breaches are open items past due plus items answered
late. Posts are quoted as stored (personal data masked at ingest).</footer>
</main></body></html>
"""
