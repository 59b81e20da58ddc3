"""Printing tables for the CLI: a rich table, or CSV/JSON for scripts."""

from __future__ import annotations

import json
import sys

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text


def print_frame(df: pd.DataFrame, fmt: str = "table", title: str | None = None, console: Console | None = None) -> None:
    fmt = fmt.lower()
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        sys.stdout.write(df.to_json(orient="records", force_ascii=False, date_format="iso", lines=True))
        sys.stdout.write("\n")
    elif fmt == "table":
        table = Table(title=title, show_lines=False)
        for c in df.columns:
            table.add_column(str(c), overflow="fold")
        for row in df.itertuples(index=False):
            # Text(), not str: scraped text must never be parsed as rich markup
            table.add_row(*[Text("" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)) for v in row])
        (console or Console()).print(table)
    else:
        raise ValueError(f"unknown format {fmt!r}; use table, csv or json")


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
