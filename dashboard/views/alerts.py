"""Alerts: spikes and new/growing themes, with their explanation; acknowledge to clear them."""

from __future__ import annotations

import streamlit as st

from dashboard.actions import act
from dashboard.display import fmt_ts, record
from dashboard.reads import q
from dashboard.safe_text import md_escape
from dashboard.widgets import brand_filter, brand_names, page_header, table

KIND_ICONS = {
    "volume_spike": ":material/trending_up:",
    "negativity_spike": ":material/sentiment_dissatisfied:",
    "hot_thread": ":material/forum:",
    "theme_spike": ":material/stacked_bar_chart:",
    "new_theme": ":material/fiber_new:",
    "growing_theme": ":material/stacked_line_chart:",
}


def _ack(store, alert_id: str, actor: str) -> None:
    from pipeline.alerts import acknowledge

    acknowledge(store, alert_id, actor)


def main() -> None:
    page_header(
        "Alerts",
        "Volume and negativity spikes against the baseline, threads turning hot, new and growing complaint themes.",
    )
    show = st.sidebar.radio("Show", ["open", "acknowledged", "all"], key="al_show", horizontal=True)
    brands = brand_filter("al_brands")
    names = brand_names()
    al = q("alerts", show=show, brand_ids=brands)
    st.markdown(f"**{len(al):,}** {show if show != 'all' else ''} alerts")
    if al.empty:
        st.success("Nothing to look at." if show == "open" else "No alerts.")
        return
    for _, row in al.head(20).iterrows():
        r = record(row)
        with st.container(border=True):
            top = st.columns([6, 1])
            brand = names.get(r.brand_id, r.brand_id) if r.brand_id else "all brands"
            icon = KIND_ICONS.get(r.kind, ":material/notifications:")
            top[0].markdown(
                f"{icon} **{md_escape(r.kind.replace('_', ' '))}** · "
                f"{md_escape(brand)} · {fmt_ts(r.created_at)} UTC" + (f" · z = {r.z:.1f}" if r.z is not None else "")
            )
            top[0].markdown(md_escape(r.explanation))
            if r.acknowledged_by:
                top[1].caption(":material/check: " + md_escape(r.acknowledged_by))
            elif top[1].button("Acknowledge", key=f"ack_{r.alert_id}"):
                act(_ack, r.alert_id, success="Alert acknowledged.")
    al["brand"] = al["brand_id"].map(names).fillna(al["brand_id"])
    with st.expander("Table view and export"):
        table(
            al,
            "al_table",
            name="alerts",
            columns=["created_at", "kind", "brand", "observed", "expected", "z", "explanation", "acknowledged_by"],
        )


main()
