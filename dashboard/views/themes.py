"""Complaint themes: keywords, size, trend, new/growing badges, example posts; drill into the members."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.display import fmt_ts
from dashboard.reads import q
from dashboard.safe_text import highlight, md_escape
from dashboard.session import now_utc, settings
from dashboard.widgets import brand_filter, brand_names, page_header, table

BADGES = {"new": "★ new", "growing": "▲ growing", "stable": "stable", "fading": "▼ fading"}


def _keywords(js: str | None) -> str:
    try:
        kw = json.loads(js or "[]")
    except (TypeError, ValueError):
        return ""
    if not isinstance(kw, list):
        return ""
    return ", ".join(str(k[0] if isinstance(k, (list, tuple)) and k else k) for k in kw[:8])  # words or [word, score]


def main() -> None:
    page_header(
        "Complaint themes", "Recurring complaints clustered from negative mentions; ids stay stable across runs."
    )
    brands = brand_filter("th_brands")
    statuses = st.sidebar.multiselect("Status", list(BADGES), key="th_status", placeholder="Any status")
    names = brand_names()
    th = q("themes", brand_ids=brands, statuses=statuses)
    if th.empty:
        st.info("No themes yet: they appear after `brandmon themes` (or the monitor flow) has run.")
        return
    since = (now_utc() - timedelta(days=30)).replace(minute=0, second=0)
    trend = q("theme_trend", theme_ids=th["theme_id"].tolist(), since=since)
    days = pd.date_range(since.date(), now_utc().date(), freq="D", tz="UTC")
    spark = (
        trend.pivot_table(index="theme_id", columns="day", values="mentions", aggfunc="sum")
        .reindex(columns=days, fill_value=0)
        .fillna(0)
        .astype(int)
    )
    th["trend"] = th["theme_id"].map(lambda t: spark.loc[t].tolist() if t in spark.index else [0] * len(days))
    th["brand"] = th["brand_id"].map(names).fillna(th["brand_id"])
    th["keywords"] = th["keywords_json"].map(_keywords)
    th["badge"] = th["status"].map(BADGES).fillna(th["status"])

    m = st.columns(3)
    m[0].metric("Themes", len(th))
    m[1].metric("New", int((th["status"] == "new").sum()))
    m[2].metric("Growing", int((th["status"] == "growing").sum()))

    ev = table(
        th,
        "th_table",
        name="themes",
        selectable=True,
        columns=["badge", "label", "brand", "keywords", "size", "growth", "trend", "last_seen"],
        column_config={
            "badge": "Status",
            "label": "Theme",
            "growth": st.column_config.NumberColumn(
                "Growth", format="+%d", help="size now minus size at the previous run"
            ),
            "trend": st.column_config.LineChartColumn("Mentions/day, 30 days", width="medium"),
            "last_seen": st.column_config.DatetimeColumn("Last seen", format="YYYY-MM-DD HH:mm"),
        },
    )
    rows = ev.selection.rows if ev is not None and hasattr(ev, "selection") else []
    ids = th["theme_id"].tolist()
    if rows:
        st.session_state["th_selected"] = ids[rows[0]]
    if st.session_state.get("th_selected") not in ids:
        st.session_state["th_selected"] = ids[0]
    labels = dict(zip(th["theme_id"], th["label"] + " · " + th["brand"]))
    chosen = st.selectbox(
        "Theme (or click a row above)", ids, format_func=lambda i: labels.get(i, str(i)), key="th_selected"
    )
    row = th.set_index("theme_id").loc[chosen]

    st.subheader(md_escape(f"{row['label']} · {row['brand']}"))  # labels come from scraped words
    st.caption(f"{row['badge']} · {int(row['size'])} mentions · keywords: {md_escape(row['keywords'])}")
    t = trend[trend["theme_id"] == chosen]
    if not t.empty:
        fig = px.bar(t, x="day", y="mentions", color_discrete_sequence=["#dc2626"])
        fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=None, yaxis_title=None)
        st.plotly_chart(fig, width="stretch", key="th_trend", config={"displayModeBar": False})
    members = q("theme_members", theme_id=chosen, limit=settings().dashboard.page_size)
    st.markdown("**Example posts** (closest to the theme centre)")
    for r in members.head(3).itertuples():
        with st.container(border=True):
            st.markdown(highlight(r.context, r.span_start, r.span_end, r.matched))
            st.caption(md_escape(f"{r.source_id} · {fmt_ts(r.posted_at)} UTC · {r.author}"))
    st.markdown(f"**All members** ({len(members):,} shown)")
    table(
        members,
        "th_members",
        name=f"theme-{chosen}",
        columns=["posted_at", "source_id", "sentiment", "intent", "distance", "author", "context", "url"],
        column_config={
            "posted_at": st.column_config.DatetimeColumn("Posted (UTC)", format="YYYY-MM-DD HH:mm"),
            "context": st.column_config.TextColumn("Context", width="large"),
        },
    )


main()
