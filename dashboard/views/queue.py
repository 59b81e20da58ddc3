"""Escalation queue: by priority with the reasons; assign, change state, comment; SLA countdown; history."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard.actions import act
from dashboard.display import mention_note, record
from dashboard.export import export_all
from dashboard.queries import OPEN_STATES, STATES
from dashboard.reads import fetch, q
from dashboard.safe_text import highlight, md_escape, safe_url
from dashboard.session import now_utc, settings
from dashboard.widgets import brand_filter, brand_names, page_header, table

LEVEL_ICONS = {
    "critical": ":material/error:",
    "high": ":material/warning:",
    "medium": ":material/info:",
    "low": ":material/low_priority:",
}


def sla_text(hours_left: float | None, breached: bool, state: str) -> str:
    if state not in OPEN_STATES:
        return "closed"
    if hours_left is None or pd.isna(hours_left):
        return "no SLA"
    if breached or hours_left < 0:
        return f"⚠ overdue {abs(hours_left):.1f} h"
    return f"{hours_left:.1f} h left"


def reasons_lines(reasons_json: str | None) -> list[str]:
    """Readable reasons from reasons_json (pipeline.escalate's factor dict; tolerate other shapes)."""
    try:
        r = json.loads(reasons_json or "{}")
    except (TypeError, ValueError):
        return [str(reasons_json)]
    out: list[str] = []
    if isinstance(r, dict) and isinstance(r.get("factors"), dict):
        for k, v in sorted(r["factors"].items(), key=lambda kv: -float(kv[1].get("contribution", 0) or 0)):
            if float(v.get("contribution", 0) or 0) > 0:
                out.append(
                    f"{k}: {float(v.get('value', 0)):.2f} × weight {float(v.get('weight', 0)):.2f} "
                    f"= {float(v.get('contribution', 0)):.3f}"
                )
        for t in r.get("threat_terms") or []:
            if isinstance(t, dict):
                out.append(f"term «{t.get('found')}» ({t.get('category')})")
        if r.get("official_answer_at"):
            out.append(f"brand answered in thread at {r['official_answer_at']}")
    elif isinstance(r, list):
        out = [", ".join(f"{k}={v}" for k, v in x.items()) if isinstance(x, dict) else str(x) for x in r]
    elif isinstance(r, dict):
        out = [f"{k}: {v}" for k, v in r.items()]
    return out


COLUMNS = ["priority", "lvl", "state", "owner", "sla", "brand", "source_id", "why", "context", "url"]


def decorate(df: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The queue's display columns: brand name, SLA text, level, the top three reasons."""
    df["brand"] = df["brand_id"].map(names).fillna(df["brand_id"])
    df["sla"] = [sla_text(h, b, s) for h, b, s in zip(df["sla_hours_left"], df["sla_breached"], df["state"])]
    df["lvl"] = df["level"]
    df["why"] = df["reasons_json"].map(lambda j: "; ".join(reasons_lines(j)[:3]))
    return df


def _export_rows(filters: dict, limit: int, names: dict[str, str]) -> pd.DataFrame | None:
    rows = fetch("escalation_queue", **filters, limit=limit)
    return None if rows is None else decorate(rows, names)[COLUMNS]


def actions(row: dict) -> None:
    from pipeline.escalate import TRANSITIONS, add_comment, assign, transition

    eid, version = row["escalation_id"], int(row["version"] or 1)
    st.markdown("**Act on it**")
    a1, a2 = st.columns(2)
    with a1.form(f"assign_{eid}", border=True):
        owners = q("owners")
        owner = st.text_input("Assign to", value=row["owner"] or "", placeholder=", ".join(owners[:3]) or "name")
        if st.form_submit_button("Assign", type="primary", disabled=row["state"] not in OPEN_STATES):
            act(assign, eid, owner.strip(), expected_version=version, success=f"Assigned to {owner.strip()}.")
    with a2.form(f"state_{eid}", border=True):
        allowed = list(TRANSITIONS.get(row["state"], ()))
        to = st.selectbox("Move to", allowed or ["—"], key=f"to_{eid}")
        note = st.text_input("Comment (optional)", key=f"tc_{eid}")
        if st.form_submit_button("Change state", disabled=not allowed):
            act(transition, eid, to, comment=note.strip() or None, expected_version=version, success=f"Moved to {to}.")
    with st.form(f"comment_{eid}", border=True, clear_on_submit=True):
        text = st.text_area("Comment", height=80, key=f"cm_{eid}")
        if st.form_submit_button("Add comment"):
            act(add_comment, eid, comment=text, success="Comment added.")


def main() -> None:
    page_header("Escalation queue", "Mentions that need a human, worst first. Every action is recorded with your name.")
    names = brand_names()
    owners = q("owners")
    linked = st.query_params.get("item")  # /queue?item=<escalation id>: the link in notifications and the digest
    # a linked item is shown whatever its state is now (it may have been resolved since the message went out)
    states = st.sidebar.multiselect(
        "State", list(STATES), default=list(STATES if linked else OPEN_STATES), key="qu_states"
    )
    owner = st.sidebar.selectbox(
        "Owner", [None, "(unassigned)", *owners], key="qu_owner", format_func=lambda x: "Anyone" if x is None else x
    )
    brands = brand_filter("qu_brands")
    now = now_utc().replace(second=0)
    filters = dict(states=states, owner=owner, brand_ids=brands, now=now)
    df = q("escalation_queue", **filters, limit=settings().dashboard.page_size)
    summary = q("escalation_summary", **filters)  # over every matching item, not only the page shown
    total = summary["matching"]
    m = st.columns(4)
    m[0].metric("Matching", f"{total:,}")
    m[1].metric("SLA breached", f"{summary['sla_breached']:,}")
    m[2].metric("Critical", f"{summary['critical']:,}")
    m[3].metric("Unassigned", f"{summary['unassigned']:,}")
    if df.empty:
        st.success("Queue is empty for these filters.")
        return
    df = decorate(df, names)
    ev = table(
        df,
        "qu_table",
        name="escalations",
        selectable=True,
        height=380,
        columns=COLUMNS,
        column_config={
            "priority": st.column_config.ProgressColumn("Priority", format="%.2f", min_value=0.0, max_value=1.0),
            "lvl": "Level",
            "sla": "SLA",
            "why": st.column_config.TextColumn("Why", width="medium"),
            "context": st.column_config.TextColumn("Post", width="large"),
        },
    )
    export_all(
        lambda limit: _export_rows(filters, limit, names),
        total,
        len(df),
        name="escalations",
        key="qu_table",
        token=(tuple(states), owner, tuple(brands)),
    )
    ids = df["escalation_id"].tolist()
    if linked and st.session_state.get("qu_linked") != linked:  # once, so picking another item afterwards works
        st.session_state["qu_linked"] = linked
        if linked in ids:
            st.session_state["qu_selected"] = linked
        else:
            st.info(f"Item {md_escape(linked[:40])} is not among the items listed with these filters.")
    rows = ev.selection.rows if ev is not None and hasattr(ev, "selection") else []
    if rows:
        st.session_state["qu_selected"] = ids[rows[0]]
    if st.session_state.get("qu_selected") not in ids:
        st.session_state["qu_selected"] = ids[0]
    labels = {
        r.escalation_id: f"{r.priority:.2f} · {r.state} · {r.brand} · {str(r.context)[:60]}" for r in df.itertuples()
    }
    eid = st.selectbox(
        "Item (or click a row above)", ids, format_func=lambda i: labels.get(i, str(i)), key="qu_selected"
    )
    row = vars(record(df[df["escalation_id"] == eid].iloc[0]))

    left, right = st.columns([3, 2])
    with left:
        st.subheader(f"{LEVEL_ICONS.get(row['level'], '')} Priority {row['priority']:.2f} · {row['state']}")
        st.caption(
            " · ".join(
                md_escape(x)
                for x in (
                    row["brand"],
                    row["source_id"],
                    f"author: {row['author']}",
                    sla_text(row["sla_hours_left"], row["sla_breached"], row["state"]),
                )
            )
        )
        with st.container(border=True):
            st.markdown(highlight(row["context"], row["span_start"], row["span_end"], row["matched"]))
        if note := mention_note(row["matched"], row["via"]):
            st.caption(note)
        link = safe_url(row["url"])
        if link:
            st.link_button("Open original post ↗", link)
        st.markdown("**Why it is here**")
        for line in reasons_lines(row["reasons_json"]):
            st.markdown("- " + md_escape(line))
    with right:
        actions(row)
    st.markdown("**History** (append-only audit trail)")
    hist = q("escalation_events", escalation_id=eid)
    table(
        hist,
        "qu_hist",
        name=f"escalation-{eid}-history",
        column_config={"event_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss")},
    )


main()
