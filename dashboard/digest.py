"""The digest report from the dashboard: pick a brand and a period, download the self-contained HTML file
(rendered on click by `pipeline.report`, the same file `brandmon report` writes)."""

from __future__ import annotations

from html import escape

import streamlit as st

from dashboard.reads import GATE
from dashboard.session import now_utc, settings

PERIODS = ["24h", "7d", "30d"]


def render(brand: str, period: str) -> bytes:
    from pipeline.report import ReportError, digest_data, parse_period, render_html
    from pipeline.store import Store, StoreError, utcnow

    s = settings()
    try:
        # the gate keeps this read apart from an analyst action's write connection in this process
        with GATE.reading():
            store = (
                Store.from_settings(s)  # a team server's store
                if s.store.url
                else Store(s.db_path, lock_timeout=s.dashboard.read_timeout_seconds)
            )
            d = digest_data(store, brand, utcnow(), parse_period(period))
    except (ReportError, StoreError) as e:
        return f"<!DOCTYPE html><meta charset='utf-8'><p>No digest: {escape(str(e))}</p>".encode()
    return render_html(d, s.notify.dashboard_url, s.notify.timezone).encode("utf-8")


def digest_box(names: dict[str, str]) -> None:
    """A row on the Overview page: brand, period, and the download."""
    if not names:
        return
    with st.expander("Digest report for management (HTML)", icon=":material/summarize:"):
        a, b, d = st.columns([2, 1, 2], vertical_alignment="bottom")
        brand = a.selectbox("Brand", list(names), format_func=lambda k: names.get(k, k), key="dg_brand")
        period = b.selectbox("Period", PERIODS, index=1, key="dg_period")
        d.download_button(
            "⬇ Digest (HTML)",
            data=lambda: render(brand, period),
            file_name=f"digest-{brand}-{period}-{now_utc():%Y-%m-%d}.html",
            mime="text/html",
            key="dg_download",
            width="stretch",
            on_click="ignore",  # a rerun on click would revoke the callable the click is fetching
        )
        st.caption(
            "Volume and sentiment, complaint themes, KPIs, the worst open items and what changed against the "
            "period before; one file with no external resources, to forward or print. "
            "`brandmon report` writes the same file, and the `digest` schedule sends it."
        )
