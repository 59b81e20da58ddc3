"""Ad-hoc SQL for analysts (`brandmon sql`): read statements only, on a connection that cannot leave the database.

Two layers, so one mistake in either does not open the file system:
- `read_statements` classifies the text with DuckDB's own parser. Only statements that read pass: SELECT, WITH,
  VALUES, FROM-first queries, DESCRIBE, SHOW and SUMMARIZE (the parser files all of these as SELECT) and EXPLAIN
  [ANALYZE] of one of them. Every statement of a multi-statement text must pass.
- `run_read_query` runs them on a read-only connection opened with `enable_external_access=false` (no files, no
  extensions, no ATTACH, no COPY) and `lock_configuration=true` (no SET can turn that back on). Both are set when the
  connection opens, before any of the user's text runs, so a SELECT that names a file (`read_csv('/etc/passwd')`,
  `glob(...)`) fails with DuckDB's permission error.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

# DuckDB settings of the sandboxed connection (passed to duckdb.connect, so they hold from the first statement).
SANDBOX_CONFIG: dict[str, Any] = {"enable_external_access": False, "lock_configuration": True}

ALLOWED = "SELECT, WITH, VALUES, FROM, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN"


class SqlRefused(ValueError):
    """The text holds a statement that is not a read; the message is one line naming it."""


def _refuse(statement: duckdb.Statement) -> SqlRefused:
    kind = statement.type.name.replace("_STATEMENT", "").replace("_", " ")
    text = " ".join(statement.query.split()).rstrip(";")
    shown = text if len(text) <= 60 else text[:57] + "..."
    return SqlRefused(
        f"refused {kind} statement `{shown}`: `brandmon sql` only reads ({ALLOWED}); files come from an export"
    )


def _explained(text: str) -> str:
    """The statement an EXPLAIN statement explains: its text after EXPLAIN, ANALYZE and an (option list).

    Walks DuckDB's tokens (their offsets count UTF-8 bytes, hence the byte slicing)."""
    raw = text.encode("utf-8")
    tokens = [(off, kind) for off, kind in duckdb.tokenize(text) if kind != duckdb.token_type.comment]

    def word(i: int) -> str:
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(raw)
        return raw[tokens[i][0] : end].decode("utf-8").strip().upper()

    i = 1  # tokens[0] is EXPLAIN
    if i < len(tokens) and word(i) == "ANALYZE":
        i += 1
    if i < len(tokens) and word(i) == "(":
        depth = 0
        while i < len(tokens):
            depth += {"(": 1, ")": -1}.get(word(i), 0)
            i += 1
            if depth == 0:
                break
    return raw[tokens[i][0] :].decode("utf-8") if i < len(tokens) else ""


def read_statements(sql: str) -> list[duckdb.Statement]:
    """The statements of `sql` when every one is a read; else `SqlRefused` naming the first that is not.

    A syntax error is DuckDB's own `duckdb.ParserException`."""
    statements = duckdb.extract_statements(sql)
    if not statements:
        raise SqlRefused("no SQL statement given")
    for s in statements:
        if s.type == duckdb.StatementType.SELECT:
            continue
        if s.type == duckdb.StatementType.EXPLAIN:
            inner = duckdb.extract_statements(_explained(s.query))
            if len(inner) == 1 and inner[0].type == duckdb.StatementType.SELECT:
                continue
            if inner:
                raise _refuse(inner[0])
        raise _refuse(s)
    return statements


def run_read_query(store: Any, sql: str) -> pd.DataFrame:
    """Run `sql` (reads only) on a sandboxed read-only connection to `store`'s file; the last statement's rows.

    It reads the published snapshot (`Store.reader`): it never waits for a writer, and shows the store as of the
    last publish (a free store is copied first when it changed)."""
    statements = read_statements(sql)
    with store.reader(config=SANDBOX_CONFIG, exact=True) as con:
        for s in statements[:-1]:
            con.execute(s)
        return con.execute(statements[-1]).df()  # read_statements never returns an empty list
