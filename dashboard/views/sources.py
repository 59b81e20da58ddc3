"""Sources health: last crawl, items, errors, and gaps (a source silent longer than expected)."""

from __future__ import annotations

import streamlit as st

from dashboard.display import fmt_ts
from dashboard.reads import q
from dashboard.safe_text import md_escape
from dashboard.session import now_utc, settings
from dashboard.widgets import page_header, table


def main() -> None:
    s = settings()
    hours = s.dashboard.silent_after_hours
    page_header(
        "Sources health",
        f"A source is flagged when it has had no successful crawl or no new post for "
        f"{hours:g} hours (Settings.dashboard.silent_after_hours).",
    )
    now = now_utc().replace(second=0)
    df = q("sources_health", now=now, silent_after_hours=hours)
    if df.empty:
        st.info("No sources or crawl runs yet: run `brandmon crawl`.")
        return
    gaps = df[df["gap"]]
    m = st.columns(4)
    m[0].metric("Sources", len(df))
    m[1].metric("Silent (gap)", len(gaps))
    m[2].metric("Items, 24 h", f"{int(df['items_24h'].sum()):,}")
    m[3].metric("Errors, 24 h", f"{int(df['errors_24h'].sum()):,}")
    for r in gaps.itertuples():
        st.error(
            f"{md_escape(r.source_id)} has been silent for {r.silent_hours:.0f} h "
            f"(last successful crawl: {fmt_ts(r.last_success) if r.last_success is not None else 'never'} UTC).",
            icon=":material/notifications_off:",
        )
    df["health"] = df["gap"].map({True: "✖ gap", False: "✔ ok"})
    table(
        df,
        "src_table",
        name="sources-health",
        columns=[
            "health",
            "source_id",
            "name",
            "kind",
            "last_status",
            "last_crawl",
            "last_success",
            "runs_24h",
            "items_24h",
            "errors_24h",
            "failed_7d",
            "newest_post",
            "silent_hours",
            "documents",
        ],
        column_config={
            k: st.column_config.DatetimeColumn(k.replace("_", " ").capitalize(), format="YYYY-MM-DD HH:mm")
            for k in ("last_crawl", "last_success", "newest_post")
        },
    )
    st.subheader("Crawl runs")
    sid = st.selectbox("Source", df["source_id"].tolist(), key="src_pick")
    runs = q("crawl_runs", source_id=sid)
    table(
        runs,
        "src_runs",
        name=f"crawl-runs-{sid}",
        column_config={
            k: st.column_config.DatetimeColumn(k.replace("_", " ").capitalize() + " (UTC)", format="YYYY-MM-DD HH:mm")
            for k in ("started_at", "finished_at")
        },
    )


main()
