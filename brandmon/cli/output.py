"""Printing results for the CLI: a rich table for people, CSV or JSON for scripts.

Every listing command takes the same `--format table|csv|json` option (`format_option`); a command that had `--json`
keeps it as a hidden alias (`json_alias`) so existing scripts go on working.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def format_option(default: Format = Format.table) -> Any:
    """The shared `--format/-f` option: an unknown value is a usage error (exit 2) naming the three choices."""
    return typer.Option(
        default, "--format", "-f", case_sensitive=False, help="table (for people), csv or json (for scripts)."
    )


def json_alias() -> Any:
    """`--json`, kept hidden where it existed before `--format`: the same as `--format json`."""
    return typer.Option(False, "--json", hidden=True, help="Same as --format json.")


def chosen(fmt: Format | str, as_json: bool = False) -> Format:
    return Format.json if as_json else Format(fmt)


def cell(v: Any) -> str:
    """A value as a table shows it: times to the second, floats rounded, nothing for missing values."""
    if v is None or v is pd.NaT:
        return ""
    if isinstance(v, float):  # numpy floats are floats too
        if math.isnan(v):
            return ""
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.2f}" if abs(v) >= 0.01 else f"{v:.2g}"
    if isinstance(v, datetime):  # pandas Timestamps too
        return v.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(v, timedelta):
        return str(timedelta(seconds=round(v.total_seconds())))
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):  # lists, arrays: not a single missing value
        pass
    return str(v)


def print_frame(
    df: pd.DataFrame, fmt: Format | str = Format.table, title: str | None = None, console: Console | None = None
) -> None:
    """csv: a header and one line per row; json: one JSON object per row and line; table: a rich table."""
    fmt = Format(str(getattr(fmt, "value", fmt)).lower())
    if fmt is Format.csv:
        df.to_csv(sys.stdout, index=False)
    elif fmt is Format.json:
        if not df.empty:
            sys.stdout.write(
                df.to_json(orient="records", force_ascii=False, date_format="iso", lines=True, double_precision=15)
            )
            sys.stdout.write("\n")
    else:
        table = Table(title=title, show_lines=False)
        for c in df.columns:
            table.add_column(str(c), overflow="fold")
        for row in df.itertuples(index=False):
            # Text(), not str: scraped text must never be parsed as rich markup
            table.add_row(*[Text(cell(v)) for v in row])
        (console or Console()).print(table)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def print_json_lines(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        sys.stdout.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
