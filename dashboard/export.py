"""CSV and Excel downloads of what a table shows, and of every matching row on request.

A cell starting with = + - @ stays text in Excel and LibreOffice; times are written in UTC without a zone."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.session import now_utc, settings


def _for_export(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_convert("UTC").dt.tz_localize(None)  # Excel has no time zones; all UTC
        elif out[c].dtype == object:
            # A cell starting with = + - @ is a formula to Excel/LibreOffice: keep it text.
            out[c] = out[c].map(lambda v: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v)
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    return _for_export(df).to_csv(index=False).encode("utf-8-sig")  # BOM: Excel opens Cyrillic CSV correctly


def to_xlsx_bytes(df: pd.DataFrame, sheet: str = "brandmon") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        _for_export(df).to_excel(xw, index=False, sheet_name=sheet[:31])
    return buf.getvalue()


EXCEL_MAX_ROWS = 1_048_576  # a worksheet's rows, the header included


def export_buttons(df: pd.DataFrame, name: str, key: str, note: str = "") -> None:
    """CSV and Excel downloads of exactly `df` (generated on click); `note` is appended to the labels."""
    c1, c2, _ = st.columns([1, 1, 4])
    stamp = now_utc().strftime("%Y%m%d-%H%M")
    c1.download_button(
        "⬇ CSV" + note,
        data=lambda: to_csv_bytes(df),
        file_name=f"{name}-{stamp}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        width="stretch",
        on_click="ignore",  # a rerun on click would revoke the callable the click is fetching
    )
    if len(df) >= EXCEL_MAX_ROWS:
        c2.caption("Too many rows for Excel: use CSV")
        return
    c2.download_button(
        "⬇ Excel" + note,
        data=lambda: to_xlsx_bytes(df, name),
        file_name=f"{name}-{stamp}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        width="stretch",
        on_click="ignore",
    )


def export_all(
    fetch_rows: Callable[[int], pd.DataFrame | None], total: int, shown: int, *, name: str, key: str, token: Any
) -> None:
    """Export every matching row when a view shows only the first `shown` of `total`.

    Rows are fetched only when the analyst presses the button (page loads stay one page), at most
    `dashboard.export_limit` of them (a note says so when the filter matches more). The prepared rows are kept
    for this session while `token` (the view's filter) stays the same, and dropped when it changes."""
    if total <= shown:
        return
    limit = max(1, int(settings().dashboard.export_limit))
    slot = f"_bm_export_{key}"
    held = st.session_state.get(slot)
    if held is not None and held[0] != token:
        del st.session_state[slot]
        held = None
    with st.container(border=True):
        st.markdown(
            f"The table shows the first {shown:,} of **{total:,}** matching rows; the buttons under it "
            f"export those {shown:,}."
        )
        if total > limit:
            st.warning(
                f"Exports are capped at {limit:,} rows (dashboard.export_limit): the export holds the first "
                f"{limit:,} of {total:,}. Narrow the filters to export the rest.",
                icon=":material/content_cut:",
            )
        slot_button = st.empty()  # emptied once pressed, so the ready export replaces it in the same run
        if held is None and slot_button.button(
            f"Prepare export of all {min(total, limit):,} matching rows",
            key=f"{key}_all_prepare",
            icon=":material/download:",
        ):
            slot_button.empty()
            rows = fetch_rows(limit)
            if rows is not None:
                held = (token, rows)
                st.session_state[slot] = held
        if held is not None:
            rows = held[1]
            st.caption(
                f"Export ready: {len(rows):,} rows"
                + (f" (capped at export_limit {limit:,})" if len(rows) >= limit and total > limit else "")
            )
            export_buttons(rows, f"{name}-all", f"{key}_all", note=f" · all {len(rows):,}")
