"""Any table or view of the store → a Parquet or CSV file, for BI tools.

DuckDB's `COPY (SELECT …) TO file` runs on a read-only connection: rows stream from the database into the file
without passing through Python, so a million-mention export needs no pandas and little memory. The file is
written beside its target and renamed into place, so a failed export never leaves half a file under the name.

Filters: `since` keeps rows from that time on, by the post time where the rows belong to a post (a table's own
`posted_at`, else its document's or its mention's document's), else by the table's own time column; `brand` keeps
rows of one brand (its `brand_id`, else through its mention or its document's mentions). A table that cannot be
filtered that way is refused with the reason, never exported unfiltered.

CSV text cells that start with `=`, `+`, `-`, `@`, a tab or a carriage return get a leading `'` by default: a
spreadsheet would otherwise run a post's hostile text as a formula (CSV injection). `safe_cells=False` writes them
as stored, for data tools; Parquet is always written as stored.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.store import Store

FORMATS = ("parquet", "csv")
# Own time columns tried in order when a table belongs to no post (alerts, escalation events, flow runs…).
_OWN_TIME = ("created_at", "at", "scored_at", "started_at", "first_seen", "updated_at")
_RELATIVE = re.compile(r"(\d+)\s*([dhw])")
_FORMULA_START = "('=', '+', '-', '@', chr(9), chr(13))"  # what a spreadsheet may read as a formula


class ExportError(ValueError):
    """The export cannot run as asked (unknown table, a filter the table cannot take, a bad date)."""


@dataclass
class ExportResult:
    table: str
    path: Path
    fmt: str
    rows: int
    seconds: float
    filters: list[str]


def exportable(con: Any) -> dict[str, list[str]]:
    """Tables and views of the store's main schema → their column names."""
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main' "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for t, c in rows:
        out.setdefault(t, []).append(c)
    return out


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`7d`, `24h`, `2w` before now, or an ISO date/time (naive = UTC). Raises ExportError."""
    now = now or datetime.now(UTC)
    s = value.strip()
    if m := _RELATIVE.fullmatch(s):
        n, unit = int(m.group(1)), m.group(2)
        return now - timedelta(**{{"d": "days", "h": "hours", "w": "weeks"}[unit]: n})
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ExportError(f"--since: {value!r} is not a date (2024-05-01, 2024-05-01T12:00+03:00, 7d, 24h)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _since_filter(table: str, cols: list[str]) -> tuple[str, str]:
    """(SQL condition on `?`, what it filters by) for --since."""
    if "posted_at" in cols:
        return "posted_at >= ?", f"{table}.posted_at"
    if "doc_id" in cols:
        return "doc_id IN (SELECT doc_id FROM documents WHERE posted_at >= ?)", "documents.posted_at"
    if "mention_id" in cols:
        return (
            "mention_id IN (SELECT m.mention_id FROM mentions m JOIN documents d USING (doc_id) "
            "WHERE d.posted_at >= ?)",
            "documents.posted_at",
        )
    for c in _OWN_TIME:
        if c in cols:
            return f'"{c}" >= ?', f"{table}.{c}"
    raise ExportError(f"--since: {table} has no time column to filter by")


def _brand_filter(table: str, cols: list[str]) -> tuple[str, str]:
    if "brand_id" in cols:
        return "brand_id = ?", f"{table}.brand_id"
    if "mention_id" in cols:
        return "mention_id IN (SELECT mention_id FROM mentions WHERE brand_id = ?)", "mentions.brand_id"
    if "doc_id" in cols:
        return "doc_id IN (SELECT doc_id FROM mentions WHERE brand_id = ?)", "the document's mentions"
    raise ExportError(f"--brand: {table} has no brand to filter by")


def _safe_projection(con: Any, table: str) -> str:
    """`*` with every text column's formula-looking values prefixed by `'` (the column names and order kept)."""
    cols = con.execute(f'DESCRIBE SELECT * FROM "{table}"').fetchall()
    parts = []
    for name, typ, *_ in cols:
        q = '"' + name.replace('"', '""') + '"'
        if typ == "VARCHAR":
            parts.append(f"CASE WHEN left({q}, 1) IN {_FORMULA_START} THEN '''' || {q} ELSE {q} END AS {q}")
        else:
            parts.append(q)
    return ", ".join(parts)


def _quote_path(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


def export_table(
    store: Store,
    table: str,
    out: str | Path,
    fmt: str | None = None,
    since: datetime | None = None,
    brand: str | None = None,
    safe_cells: bool = True,
) -> ExportResult:
    """Write `table` (a table or view name) to `out` as Parquet or CSV (by `fmt`, else by the file's suffix).

    `safe_cells` (CSV only): text cells a spreadsheet would read as a formula get a leading `'`."""
    out = Path(out)
    fmt = fmt or {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}.get(out.suffix.lower())
    if fmt not in FORMATS:
        raise ExportError("--format: give parquet or csv (or an --out ending in .parquet or .csv)")
    t0 = time.monotonic()
    with store.read() as con:
        tables = exportable(con)
        if table not in tables:
            raise ExportError(f"--table: no table or view {table!r}; known: {', '.join(sorted(tables))}")
        cols = tables[table]
        where: list[str] = []
        params: list[Any] = []
        filters: list[str] = []
        if since is not None:
            cond, by = _since_filter(table, cols)
            where.append(cond)
            params.append(since)
            filters.append(f"since {since.isoformat()} by {by}")
        if brand is not None:
            cond, by = _brand_filter(table, cols)
            where.append(cond)
            params.append(brand)
            filters.append(f"brand {brand} by {by}")
        projection = _safe_projection(con, table) if fmt == "csv" and safe_cells else "*"
        query = f'SELECT {projection} FROM "{table}"' + (" WHERE " + " AND ".join(where) if where else "")
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(f".{out.name}.part")
        con.execute("SET TimeZone = 'UTC'")  # CSV times in UTC whatever the machine's zone
        try:
            done = con.execute(f"COPY ({query}) TO {_quote_path(part)} ({options})", params).fetchone()
            rows = done[0] if done else 0
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, out)
    return ExportResult(table, out, fmt, int(rows), round(time.monotonic() - t0, 3), filters)
