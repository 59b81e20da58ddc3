"""Overview: volume and sentiment per brand, share of negative, rising themes, queue health, latest alerts."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard.digest import digest_box
from dashboard.display import BRAND_COLORS, SENTIMENT_COLORS, fmt_ts, record
from dashboard.reads import q
from dashboard.safe_text import md_escape
from dashboard.session import now_utc
from dashboard.widgets import brand_filter, brand_names, page_header, table, window_picker


def main() -> None:
    page_header("Overview", "Did anything spike, which complaints grew, is the queue under control?")
    since = window_picker("ov_window", 30)
    brands = brand_filter("ov_brands")
    names = brand_names()
    now = now_utc().replace(second=0)
    k = q("overview_kpis", since=since, brand_ids=brands, now=now)

    m = st.columns(6)
    m[0].metric("Mentions", f"{k['mentions']:,}")
    m[1].metric("Negative share", "—" if k["negative_share"] is None else f"{k['negative_share']:.0%}")
    m[2].metric("Open escalations", f"{k['open_escalations']:,}")
    m[3].metric("SLA breaches", f"{k['sla_breaches']:,}", delta=None)
    m[4].metric(
        "Response rate",
        "—" if k["response_rate"] is None else f"{k['response_rate']:.0%}",
        help=f"{k['answered']:,} answered of {k['received']:,} escalations received in the period",
    )
    m[5].metric(
        "Time to first response",
        "—" if k["ttfr_hours"] is None else f"{k['ttfr_hours']:.1f} h",
        help="Median hours from escalation to first response",
    )

    ts = q("mentions_over_time", since=since, brand_ids=brands)
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Mentions per day")
        if ts.empty:
            st.info("No mentions in this period.")
        else:
            per_brand = ts.groupby(["day", "brand_id"], as_index=False)["mentions"].sum()
            per_brand["brand"] = per_brand["brand_id"].map(names).fillna(per_brand["brand_id"])
            fig = px.line(
                per_brand, x="day", y="mentions", color="brand", markers=False, color_discrete_sequence=BRAND_COLORS
            )
            fig.update_layout(
                height=320,
                margin=dict(l=10, r=10, t=30, b=10),
                legend_title_text="",
                legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
                xaxis_title=None,
                yaxis_title=None,
            )
            st.plotly_chart(fig, width="stretch", key="ov_volume", config={"displayModeBar": False})
    with right:
        st.subheader("Sentiment per day")
        if not ts.empty:
            per_sent = ts.groupby(["day", "sentiment"], as_index=False)["mentions"].sum()
            fig = px.bar(
                per_sent,
                x="day",
                y="mentions",
                color="sentiment",
                color_discrete_map=SENTIMENT_COLORS,
                category_orders={"sentiment": ["negative", "neutral", "positive", "unscored"]},
            )
            fig.update_layout(
                height=320,
                margin=dict(l=10, r=10, t=30, b=10),
                legend_title_text="",
                legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
                xaxis_title=None,
                yaxis_title=None,
                bargap=0.1,
            )
            st.plotly_chart(fig, width="stretch", key="ov_sentiment", config={"displayModeBar": False})

    a, b = st.columns(2)
    with a:
        st.subheader("Share of negative by brand")
        share = q("negative_share_by_brand", since=since, brand_ids=brands)
        share.insert(0, "brand", share["brand_id"].map(names).fillna(share["brand_id"]))
        table(
            share,
            "ov_share",
            name="negative-share",
            columns=["brand", "mentions", "negative", "negative_share"],
            column_config={
                "negative_share": st.column_config.ProgressColumn(
                    "Negative share", format="percent", min_value=0.0, max_value=1.0
                )
            },
        )
    with b:
        st.subheader("Rising complaint themes")
        rising = q("rising_themes", brand_ids=brands, limit=8)
        if rising.empty:
            st.info("No new or growing themes.")
        else:
            rising.insert(0, "brand", rising["brand_id"].map(names).fillna(rising["brand_id"]))
            table(
                rising,
                "ov_rising",
                name="rising-themes",
                columns=["label", "brand", "status", "size", "growth"],
                column_config={"label": "Theme", "growth": st.column_config.NumberColumn("Growth", format="+%d")},
            )

    st.subheader("Latest alerts")
    al = q("latest_alerts", limit=5, brand_ids=brands)
    if al.empty:
        st.info("No alerts.")
    for _, row in al.iterrows():
        r = record(row)
        icon = ":material/check_circle:" if r.acknowledged_by else ":material/notifications_active:"
        st.markdown(
            f"{icon} **{md_escape(r.kind)}** · {md_escape(names.get(r.brand_id, r.brand_id))} · "
            f"{fmt_ts(r.created_at)} UTC — {md_escape(r.explanation)}"
        )
    digest_box(names)


main()
