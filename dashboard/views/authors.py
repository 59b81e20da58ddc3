"""Advocates and opinion leaders: who defends the brand, whose posts travel."""

from __future__ import annotations

import streamlit as st

from dashboard.reads import q
from dashboard.session import settings
from dashboard.widgets import page_header, table

ORDERS = {
    "Advocates (defend the brand)": "advocate_score",
    "Opinion leaders (influence)": "influence_score",
    "Most active": "posts",
}


def main() -> None:
    page_header(
        "Advocates & opinion leaders",
        "Authors ranked from their posts: positive stance and defending the brand, or reach across threads.",
    )
    src = q("sources")
    order_label = st.sidebar.radio("Rank by", list(ORDERS), key="au_order")
    sources = st.sidebar.multiselect("Source", src["source_id"].tolist(), key="au_sources", placeholder="All sources")
    df = q("authors", order=ORDERS[order_label], source_ids=sources, limit=settings().dashboard.page_size)
    if df.empty:
        st.info("No authors yet: they appear after `brandmon advocates` (or the monitor flow) has run.")
        return
    m = st.columns(3)
    m[0].metric("Authors shown", f"{len(df):,}")
    m[1].metric("Advocates (score > 0)", f"{int((df['advocate_score'] > 0).sum()):,}")
    m[2].metric("Posts by them", f"{int(df['posts'].sum()):,}")
    table(
        df,
        "au_table",
        name="authors",
        height=560,
        columns=["name", "source_id", "posts", "pos", "neg", "advocate_score", "influence_score", "explanation", "url"],
        column_config={
            "name": "Author",
            "pos": "Positive",
            "neg": "Negative",
            "advocate_score": st.column_config.ProgressColumn(
                "Advocate", format="%.2f", min_value=0.0, max_value=max(1.0, float(df["advocate_score"].max() or 1))
            ),
            "influence_score": st.column_config.NumberColumn("Influence", format="%.2f"),
            "explanation": st.column_config.TextColumn("Why", width="large"),
        },
    )


main()
