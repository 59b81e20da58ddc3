"""Mentions explorer: filter, read the scored context with the brand highlighted, correct sentiment/intent."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard.actions import act
from dashboard.display import fmt_ts, mention_note, record
from dashboard.export import export_all
from dashboard.queries import INTENTS, SENTIMENTS, MentionFilter
from dashboard.reads import fetch, q
from dashboard.safe_text import highlight, md_escape, safe_url
from dashboard.session import now_utc, settings
from dashboard.widgets import brand_names, page_header, table

COLUMNS = [
    "posted_at",
    "brand",
    "source_id",
    "sentiment",
    "intent",
    "p_neg",
    "corrected",
    "author",
    "thread_title",
    "context",
    "url",
]


def filters() -> MentionFilter:
    names = brand_names()
    src = q("sources")
    with st.container(border=True):
        r1 = st.columns([2, 2, 2, 2])
        brands = r1[0].multiselect(
            "Brand", list(names), format_func=lambda x: names.get(x, x), key="mx_brand", placeholder="All brands"
        )
        sources = r1[1].multiselect("Source", src["source_id"].tolist(), key="mx_source", placeholder="All sources")
        sentiments = r1[2].multiselect("Sentiment", list(SENTIMENTS), key="mx_sent", placeholder="Any sentiment")
        intents = r1[3].multiselect("Intent", list(INTENTS), key="mx_intent", placeholder="Any intent")
        r2 = st.columns([2, 2, 3, 1])
        today = now_utc().date()
        dates = r2[0].date_input("Posted between", value=(today - timedelta(days=30), today), key="mx_dates")
        th = q("theme_options", brand_ids=brands)
        labels = {r.theme_id: f"{r.label} · {names.get(r.brand_id, r.brand_id)} ({r.size})" for r in th.itertuples()}
        theme = r2[1].selectbox(
            "Theme", [None, *labels], format_func=lambda x: "Any theme" if x is None else labels[x], key="mx_theme"
        )
        text = r2[2].text_input("Text search", key="mx_text", placeholder="e.g. возврат")
        corrected = r2[3].checkbox("Corrected only", key="mx_corr")
    since = until = None
    if isinstance(dates, (list, tuple)) and len(dates) >= 1:
        since = datetime.combine(dates[0], time.min, tzinfo=UTC)
        if len(dates) == 2:
            until = datetime.combine(dates[1], time.min, tzinfo=UTC) + timedelta(days=1)
    return MentionFilter(
        brand_ids=tuple(brands),
        source_ids=tuple(sources),
        since=since,
        until=until,
        sentiments=tuple(sentiments),
        intents=tuple(intents),
        theme_id=theme,
        text=text,
        corrected_only=corrected,
    )


def _save_corrections(store, mention_id: str, changed: list[tuple[str, str]], actor: str) -> None:
    from pipeline.escalate import correct

    for field, value in changed:
        correct(store, mention_id, field, value, actor)


def detail(mention_id: str) -> None:
    d = q("mention_detail", mention_id=mention_id)
    if d.empty:
        st.info("This mention no longer exists.")
        return
    r = record(d.iloc[0])
    names = brand_names()
    st.subheader("Scored context")
    st.caption(
        " · ".join(
            md_escape(x)
            for x in (
                names.get(r.brand_id, r.brand_id),
                r.source_id,
                fmt_ts(r.posted_at) + " UTC",
                f"author: {r.author}",
            )
        )
    )
    with st.container(border=True):
        st.markdown(highlight(r.context, r.span_start, r.span_end, r.matched))
    if note := mention_note(r.matched, r.via):
        st.caption(note)
    link = safe_url(r.url)
    if link:
        st.link_button("Open original post ↗", link)
    cols = st.columns(4)
    cols[0].metric("Sentiment", r.sentiment or "unscored", help="corrected by an analyst" if r.corrected else None)
    cols[1].metric("Intent", r.intent or "unscored")
    cols[2].metric("P(negative)", "—" if r.p_neg is None else f"{r.p_neg:.2f}")
    cols[3].metric("Unsure", "—" if r.unsure is None else ("yes" if r.unsure else "no"))
    st.caption(
        f"Model: {md_escape(r.model or '—')} · version {md_escape(r.model_version or '—')}"
        + (" · corrected by an analyst" if r.corrected else "")
    )

    with st.form(f"correct_{mention_id}"):
        st.markdown("**Correct this label** (stored in `corrections`, used by re-scoring and training)")
        f1, f2 = st.columns(2)
        sent = f1.selectbox(
            "Sentiment",
            list(SENTIMENTS),
            index=list(SENTIMENTS).index(r.sentiment) if r.sentiment in SENTIMENTS else 1,
            key="mx_fix_sent",
        )
        intent = f2.selectbox(
            "Intent",
            list(INTENTS),
            index=list(INTENTS).index(r.intent) if r.intent in INTENTS else 4,
            key="mx_fix_intent",
        )
        ok = st.form_submit_button("Save correction", type="primary")
    if ok:
        changed = [(f, v) for f, v, old in (("sentiment", sent, r.sentiment), ("intent", intent, r.intent)) if v != old]
        if not changed:
            st.info("Nothing changed.")
        else:
            act(_save_corrections, mention_id, changed, success="Saved: " + ", ".join(f"{f} → {v}" for f, v in changed))
    hist = q("corrections", mention_id=mention_id)
    if not hist.empty:
        st.caption("Corrections")
        st.dataframe(hist, hide_index=True, width="stretch")


def _with_brand(df: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    df.insert(2, "brand", df["brand_id"].map(names).fillna(df["brand_id"]))
    return df


def _export_rows(f: MentionFilter, limit: int, names: dict[str, str]) -> pd.DataFrame | None:
    """Every matching mention up to `limit`, in the columns (and order) of the page's own export."""
    rows = fetch("mentions_export", f=f, limit=limit)
    return None if rows is None else _with_brand(rows, names)[COLUMNS]


def main() -> None:
    page_header("Mentions explorer", "Every brand mention with its scored context; correct a wrong label here.")
    f = filters()
    page_size = settings().dashboard.page_size
    total = q("mention_count", f=f)
    df = q("mentions", f=f, limit=page_size)
    names = brand_names()
    _with_brand(df, names)
    st.markdown(f"**{total:,}** mentions match" + (f" · showing the newest {len(df):,}" if total > len(df) else ""))
    ev = table(
        df,
        "mx_table",
        name="mentions",
        columns=COLUMNS,
        height=420,
        selectable=True,
        column_config={
            "posted_at": st.column_config.DatetimeColumn("Posted (UTC)", format="YYYY-MM-DD HH:mm"),
            "p_neg": st.column_config.NumberColumn("P(neg)", format="%.2f"),
            "context": st.column_config.TextColumn("Context", width="large"),
            "thread_title": "Thread",
        },
    )
    export_all(lambda limit: _export_rows(f, limit, names), total, len(df), name="mentions", key="mx_table", token=f)
    rows = ev.selection.rows if ev is not None and hasattr(ev, "selection") else []
    options = df["mention_id"].tolist()
    if not options:
        return
    if rows:
        st.session_state["mx_selected"] = options[rows[0]]
    if st.session_state.get("mx_selected") not in options:
        st.session_state["mx_selected"] = options[0]
    preview = {
        r.mention_id: f"{fmt_ts(r.posted_at, '%m-%d %H:%M')} · {r.brand} · {str(r.context)[:70]}"
        for r in df.itertuples()
    }
    chosen = st.selectbox(
        "Mention (or click a row above)", options, format_func=lambda i: preview.get(i, str(i)), key="mx_selected"
    )
    if chosen is not None:  # never, with options to choose from
        detail(chosen)


main()
