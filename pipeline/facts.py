"""Keep `mention_facts` (one narrow row per mention for the dashboard) in step with what it is derived from.

Every write that changes a mention's brand, document flags, post time or current score calls `refresh` inside
its own transaction, so readers never see facts older than the data. `refresh(con)` rebuilds the whole table
(model activation, repair); `refresh(con, doc_ids=…)` / `refresh(con, mention_ids=…)` redo only those rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pandas as pd

from pipeline.schema import FACTS_SELECT


def refresh(
    con: duckdb.DuckDBPyConnection, *, doc_ids: Iterable[str] | None = None, mention_ids: Iterable[str] | None = None
) -> int:
    """Recompute facts for the given documents / mentions (all rows when neither is given); returns rows written.

    Rows of mentions that no longer exist are dropped, so callers pass the ids they touched, deleted ones too.
    """
    if doc_ids is None and mention_ids is None:
        con.execute("DELETE FROM mention_facts")
        con.execute(f"INSERT INTO mention_facts {FACTS_SELECT} ORDER BY posted_at")
        return int(con.execute("SELECT count(*) FROM mention_facts").fetchall()[0][0])
    column = "doc_id" if doc_ids is not None else "mention_id"
    # a pandas Series has no truth value: test for None, never `ids or ()`
    ids: Iterable[str] = doc_ids if doc_ids is not None else (mention_ids if mention_ids is not None else ())
    keys = pd.DataFrame({"id": pd.unique(pd.Series(list(ids), dtype=object))})
    if keys.empty:
        return 0
    name = f"__facts_{column}"
    con.register(name, keys)
    try:
        con.execute(f"DELETE FROM mention_facts WHERE {column} IN (SELECT id FROM {name})")
        con.execute(f"INSERT INTO mention_facts {FACTS_SELECT} WHERE m.{column} IN (SELECT id FROM {name})")
        return int(
            con.execute(f"SELECT count(*) FROM mention_facts WHERE {column} IN (SELECT id FROM {name})").fetchall()[0][
                0
            ]
        )
    finally:
        con.unregister(name)


def check(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows that differ between the facts and a fresh derivation (0 everywhere when in step)."""
    missing, extra = con.execute(f"""
        WITH live AS ({FACTS_SELECT})
        SELECT (SELECT count(*) FROM (SELECT * FROM live EXCEPT ALL SELECT * FROM mention_facts)),
               (SELECT count(*) FROM (SELECT * FROM mention_facts EXCEPT ALL SELECT * FROM live))""").fetchall()[0]
    return {"missing_or_stale": int(missing), "extra": int(extra)}
