"""The pieces every page is built from: a table with its exports, brand and period pickers, the page header."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.actions import flash
from dashboard.export import export_buttons
from dashboard.reads import q
from dashboard.safe_text import safe_links
from dashboard.session import now_utc


def table(
    df: pd.DataFrame,
    key: str,
    *,
    name: str,
    column_config: dict | None = None,
    columns: list[str] | None = None,
    height: int | None = None,
    selectable: bool = False,
):
    """A dataframe view plus its exports; `url`-like columns become http(s)-only links."""
    view = df.copy()
    cfg = dict(column_config or {})
    for c in view.columns:
        if c == "url" or c.endswith("_url"):
            view[c] = safe_links(view[c])
            cfg.setdefault(c, st.column_config.LinkColumn("Link", display_text="open ↗", width="small"))
    for c in view.columns:  # readable headers unless a page set its own
        cfg.setdefault(c, "Source" if c == "source_id" else str(c).replace("_", " ").capitalize())
    kwargs: dict[str, Any] = dict(hide_index=True, column_config=cfg, column_order=columns, key=key, width="stretch")
    if height:
        kwargs["height"] = height
    if selectable:
        kwargs.update(on_select="rerun", selection_mode="single-row")
    ev = st.dataframe(view, **kwargs)
    export_buttons(df[columns] if columns else df, name, key)
    return ev


def brand_filter(key: str, label: str = "Brands", sidebar: bool = True) -> list[str]:
    b = q("brands")
    where = st.sidebar if sidebar else st
    names = dict(zip(b["brand_id"], b["name"]))
    return where.multiselect(
        label, list(names), format_func=lambda x: names.get(x, x), key=key, placeholder="All brands"
    )


def brand_names() -> dict[str, str]:
    b = q("brands")
    return dict(zip(b["brand_id"], b["name"]))


def window_picker(key: str, default_days: int = 30) -> datetime:
    opts = {"24 hours": 1, "7 days": 7, "30 days": 30, "90 days": 90, "1 year": 365}
    label = st.sidebar.selectbox("Period", list(opts), index=list(opts.values()).index(default_days), key=key)
    return (now_utc() - timedelta(days=opts[label])).replace(minute=0, second=0)


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)
    flash()
