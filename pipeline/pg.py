"""A Postgres connection that answers the part of DuckDB's connection API the stages use.

Stages receive a connection from `Store` and call `execute(sql, params)`, `fetchall/fetchone`, `df()/fetchdf()`,
`fetchnumpy()`, `executemany`, and `register(name, frame)` to query a pandas frame by name. `PgConnection` gives
them the same calls on a psycopg connection: the SQL goes through pipeline.dialect (DuckDB text in, Postgres text
out, cached per text), a registered frame becomes a temporary table filled with COPY, and a server error is raised
as the DuckDB exception class the callers already catch (a missing table as `CatalogException`, a violated key as
`ConstraintException`), with the server's message.

The connection runs in autocommit; `BEGIN`/`COMMIT`/`ROLLBACK` statements from `Store.transaction` make the
transactions, as on DuckDB. Sessions read and write times in UTC.

Opening a server session costs a backend process, authentication and the session settings (6 ms on a local server,
more across a network), while `Store` opens one per read and per write. So `connect(..., reuse=True)` takes an idle
session this process closed before, when it answers a round trip (`DEALLOCATE ALL`, which also forgets prepared
statements whose tables may have changed since), and `close()` keeps a clean one (no transaction, no temporary
table left) for the next. A session whose server restarted fails that round trip and is replaced by a new one.
"""

from __future__ import annotations

import atexit
import datetime as dt
import decimal
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipeline.dialect import DialectError, bind, to_postgres


def connect(url: str, *, read_only: bool = False, connect_timeout: float = 10.0, reuse: bool = False) -> PgConnection:
    """Open `url` (postgresql://…). Raises psycopg.OperationalError when the server cannot be reached.

    `reuse`: take an idle session of this process when one answers, and keep this one for the next when closed.
    Read-only sessions (`brandmon sql`'s, whose statements may change session settings) are never reused."""
    import psycopg

    reuse = reuse and not read_only
    raw = _IDLE.take(url) if reuse else None
    if raw is None:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(connect_timeout)))
        _numeric_as_number(raw)
        raw.execute("SET TimeZone = 'UTC'")
        if read_only:
            raw.execute("SET default_transaction_read_only = on")
    return PgConnection(raw, url=url, read_only=read_only, connect_timeout=connect_timeout, reuse=reuse)


class _IdleSessions:
    """Server sessions this process closed, per URL, for the next `connect(reuse=True)` of any thread.

    At most `keep` per URL (one per thread that reads or writes at the same time is plenty); a forked child forgets
    its parent's (closing them would end the parent's sessions)."""

    def __init__(self, keep: int = 4):
        self.keep = keep
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle: dict[str, list[Any]] = {}

    def _mine(self) -> dict[str, list[Any]]:
        if self._pid != os.getpid():
            self._pid, self._idle = os.getpid(), {}
        return self._idle

    def take(self, url: str) -> Any:
        """An idle session that answers a round trip, or None (a dead one is closed on the way)."""
        import psycopg

        while True:
            with self._lock:
                stack = self._mine().get(url)
                raw = stack.pop() if stack else None
            if raw is None:
                return None
            try:
                _forget_prepared(raw)
                raw.execute("DEALLOCATE ALL")  # the health check
                return raw
            except psycopg.Error:
                raw.close()

    def give(self, url: str, raw: Any) -> bool:
        """Keep `raw` for the next `take`; False when it is not reusable or enough are kept (the caller closes)."""
        from psycopg.pq import TransactionStatus

        if raw.closed or raw.broken or raw.info.transaction_status != TransactionStatus.IDLE:
            return False
        with self._lock:
            stack = self._mine().setdefault(url, [])
            if len(stack) >= self.keep:
                return False
            stack.append(raw)
            return True

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._mine(), {}
        for stack in idle.values():
            for raw in stack:
                raw.close()


_IDLE = _IdleSessions()
atexit.register(_IDLE.close_all)  # a clean goodbye to the server (a forked child's exit closes none of its parent's)


def _forget_prepared(raw: Any) -> None:
    """A reused session starts without prepared statements, as a new one: a table changed since (a migration in
    another process) cannot then break a statement prepared for its old columns. psycopg forgets its own record
    of them here (it does so by itself only for the first `DEALLOCATE ALL` of a session); the server's go with the
    health check's `DEALLOCATE ALL`."""
    prepared = getattr(raw, "_prepared", None)
    if prepared is not None and hasattr(prepared, "clear"):
        prepared.clear()
        getattr(prepared, "_to_flush", []).clear()  # the server's are deallocated by the health check itself
    else:  # another psycopg: no automatic preparing on a reused session
        raw.prepare_threshold = None


def close_idle() -> None:
    """Close the sessions kept for reuse (a benchmark's "before", a test's clean slate)."""
    _IDLE.close_all()


def is_postgres(con: object) -> bool:
    """True for a team server's connection: for the few statements written twice, fast DuckDB and portable."""
    return isinstance(con, PgConnection)


def _numeric_as_number(raw: Any) -> None:
    """NUMERIC (sum() of integers, a NUMERIC(20) hash) as int or float, as DuckDB returns them, not Decimal."""
    from psycopg.adapt import Loader

    class NumberLoader(Loader):
        def load(self, data: Any) -> Any:
            s = bytes(data).decode()
            if "." in s or "e" in s.lower() or s in ("NaN", "Infinity", "-Infinity"):
                return float(s)
            return int(s)

    raw.adapters.register_loader("numeric", NumberLoader)


def _duck_error(e: Exception) -> duckdb.Error:
    """The DuckDB exception class a caller catches for this server error, with the server's message."""
    import psycopg.errors as pe

    msg = str(e).strip()
    if isinstance(e, DialectError):
        return duckdb.ParserException(msg)
    if isinstance(e, (pe.UndefinedTable, pe.UndefinedColumn, pe.UndefinedFunction, pe.UndefinedObject)):
        return duckdb.CatalogException(msg)
    if isinstance(e, pe.IntegrityError):
        return duckdb.ConstraintException(msg)
    if isinstance(e, pe.TransactionRollback):  # a serialization failure or deadlock: retry the transaction
        return duckdb.TransactionException(msg)
    if isinstance(e, pe.SyntaxError):
        return duckdb.ParserException(msg)
    if isinstance(e, pe.ReadOnlySqlTransaction):
        return duckdb.InvalidInputException(msg)
    if isinstance(e, pe.DataError):
        return duckdb.ConversionException(msg)
    if isinstance(e, pe.OperationalError):
        return duckdb.ConnectionException(msg)
    return duckdb.Error(msg)


@contextmanager
def _as_duckdb_errors() -> Iterator[None]:
    """Server and translation errors raised inside come out as the DuckDB exception classes callers catch."""
    try:
        yield
    except Exception as e:
        if isinstance(e, DialectError) or type(e).__module__.startswith("psycopg"):
            raise _duck_error(e) from e
        raise


# Postgres type oid → the pandas dtypes of DuckDB's frames for it: without NULLs, with NULLs
_DTYPES = {
    21: ("int16", "Int16"),
    23: ("int32", "Int32"),
    20: ("int64", "Int64"),
    16: ("bool", "boolean"),
    700: ("float32", "float32"),
    701: ("float64", "float64"),
}
_TEXT = (25, 1043)  # text, varchar: a column of NULLs only is pandas' str, as from DuckDB

# pandas dtype kind → Postgres column type for a registered frame's temporary table
_KINDS = {"b": "BOOLEAN", "i": "BIGINT", "u": "NUMERIC(20, 0)", "f": "DOUBLE PRECISION"}


def _sql_type(col: pd.Series) -> str:
    dtype = col.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "TIMESTAMPTZ"
    if dtype.kind == "M":
        return "TIMESTAMP"
    if dtype.kind in _KINDS:
        return _KINDS[dtype.kind]
    if isinstance(dtype, pd.BooleanDtype):
        return "BOOLEAN"
    sample = col.dropna()
    v = sample.iloc[0] if len(sample) else None
    if isinstance(v, (bool, np.bool_)):
        return "BOOLEAN"
    if isinstance(v, (int, np.integer)):
        return "BIGINT"
    if isinstance(v, (float, np.floating, decimal.Decimal)):
        return "DOUBLE PRECISION"
    if isinstance(v, dt.datetime):
        return "TIMESTAMPTZ" if v.tzinfo is not None else "TIMESTAMP"
    if isinstance(v, dt.date):
        return "DATE"
    if isinstance(v, (list, tuple, np.ndarray)):
        inner = [x for x in v if x is not None]
        if inner and isinstance(inner[0], (float, np.floating)):
            return "DOUBLE PRECISION[]"
        if inner and isinstance(inner[0], (int, np.integer)):
            return "BIGINT[]"
        return "TEXT[]"
    return "TEXT"


def py_value(v: Any) -> Any:
    """One cell as psycopg dumps it: numpy scalars and arrays to Python, missing values to None."""
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        return [py_value(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [py_value(x) for x in v]
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.to_pydatetime()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    if v is pd.NaT or v is pd.NA:
        return None
    return v


def _array_type(v: Any) -> str | None:
    if not isinstance(v, (list, tuple)) or not v:
        return None
    kinds = {type(x) for x in v if x is not None}
    if kinds <= {str}:
        return "TEXT[]"
    if kinds <= {int, bool} and bool not in kinds:
        return "BIGINT[]"
    if kinds <= {int, float}:
        return "DOUBLE PRECISION[]"
    return None


def _typed_lists(sql: str, bound: dict[str, Any] | None) -> str:
    """A list parameter with its array type (psycopg sends strings untyped, and `unnest(?)` of an untyped array is
    ambiguous to Postgres, where DuckDB knows the list's type from the value); a None one as a NULL literal."""
    for name, v in (bound or {}).items():
        if v is None:  # `? IS NULL OR col = ?`: an untyped NULL parameter is an error, a NULL literal is not
            sql = sql.replace(f"%({name})s", "NULL")
            continue
        typ = _array_type(v)
        if typ:
            sql = sql.replace(f"%({name})s", f"CAST(%({name})s AS {typ})")
    return sql


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PgConnection:
    """A psycopg connection with the DuckDB connection calls the stages make (see the module docstring)."""

    def __init__(
        self, raw: Any, *, url: str = "", read_only: bool = False, connect_timeout: float = 10.0, reuse: bool = False
    ):
        self.raw = raw
        self._opened_with = (url, read_only, connect_timeout, reuse)
        self._cur: Any = None
        self._schema_types: dict[str, str] | None = None
        self._registered: set[str] = set()  # temporary tables not dropped yet: such a session is not reused

    # --------------------------------------------------------------------------- statements

    def execute(self, sql: Any, params: Sequence[Any] | dict[str, Any] | None = None) -> PgConnection:
        if not isinstance(sql, str):  # a statement from duckdb.extract_statements (`brandmon sql`): its text
            sql = str(sql.query)
        with _as_duckdb_errors():
            stmt = to_postgres(sql)
            bound = bind(stmt, params)
            cur = self.raw.cursor()
            cur.execute(_typed_lists(stmt.sql, bound), bound)
        self._cur = cur
        return self

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> PgConnection:
        with _as_duckdb_errors():
            stmt = to_postgres(sql)
            cur = self.raw.cursor()
            cur.executemany(stmt.sql, [bind(stmt, p) for p in params])
        self._cur = cur
        return self

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        if self._cur is None or self._cur.description is None:
            return None
        return [(d.name, d.type_code, None, None, None, None, None) for d in self._cur.description]

    def _changed(self) -> list[tuple[Any, ...]] | None:
        """An INSERT/UPDATE/DELETE answers one row with the rows it changed, as on DuckDB."""
        if self._cur is not None and self._cur.description is None:
            return [] if self._cur.rowcount < 0 else [(self._cur.rowcount,)]
        return None

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._cur is None:
            return []
        changed = self._changed()
        return changed if changed is not None else [tuple(r) for r in self._cur.fetchall()]

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._cur is None:
            return None
        changed = self._changed()
        if changed is not None:
            return changed[0] if changed else None
        r = self._cur.fetchone()
        return None if r is None else tuple(r)

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._cur.fetchmany(size)] if self._cur is not None else []

    def df(self) -> pd.DataFrame:
        if self._cur is None:
            return pd.DataFrame()
        if self._cur.description is None:
            return pd.DataFrame({"Count": [n for (n,) in self._changed() or []]})
        cols = [d.name for d in self._cur.description]
        rows = self._cur.fetchall()
        if len(set(cols)) < len(cols):  # repeated names (a join's `x` twice) keep their positions
            return pd.DataFrame.from_records(rows, columns=cols, coerce_float=True)
        # column by column, so pandas infers each dtype as it does for DuckDB's frames (str, int64, datetime64)
        data = list(zip(*rows, strict=True)) if rows else [()] * len(cols)
        frame = pd.DataFrame({c: pd.Series(list(v), dtype=None if rows else object) for c, v in zip(cols, data)})
        for d in self._cur.description:  # integers and booleans as DuckDB's frames have them (nullable when NULL)
            if d.type_code in _DTYPES and rows:
                numpy, nullable = _DTYPES[d.type_code]
                frame[d.name] = frame[d.name].astype(nullable if frame[d.name].isna().any() else numpy)
            elif d.type_code in _TEXT and rows and frame[d.name].isna().all():
                frame[d.name] = frame[d.name].astype("str")
        for c in frame.columns:
            if frame[c].dtype == "object":
                s = frame[c].dropna()
                first = s.iloc[0] if len(s) else None
                if isinstance(first, dt.datetime) and first.tzinfo is not None:
                    frame[c] = pd.to_datetime(frame[c], utc=True)
                elif isinstance(first, dt.date) and not isinstance(first, dt.datetime):  # DATE: datetime64 too
                    frame[c] = pd.to_datetime(frame[c])
        return frame

    fetchdf = df

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        frame = self.df()
        return {c: frame[c].to_numpy() for c in frame.columns}

    # --------------------------------------------------------------------------- frames queried by name

    def _known_types(self) -> dict[str, str]:
        """Column name → its type in the store's tables, when every table agrees (a registered frame's all-null
        column then gets the type its target has, which Postgres does not cast from text on its own)."""
        if self._schema_types is None:
            rows = self.raw.execute(
                "SELECT column_name, format_type(a.atttypid, a.atttypmod) FROM information_schema.columns c "
                "JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || "
                "quote_ident(c.table_name))::regclass AND a.attname = c.column_name "
                "WHERE c.table_schema = current_schema()"
            ).fetchall()
            seen: dict[str, set[str]] = {}
            for name, typ in rows:
                seen.setdefault(name, set()).add(typ)
            self._schema_types = {n: next(iter(t)) for n, t in seen.items() if len(t) == 1}
        return self._schema_types

    def register(self, name: str, frame: pd.DataFrame) -> PgConnection:
        """`frame` as a temporary table `name` for the statements that follow (until `unregister`)."""
        known = self._known_types()
        cols = [str(c) for c in frame.columns]
        types = []
        for c in cols:
            guess = _sql_type(frame[c])
            if c in known and (frame[c].isna().all() or guess == "TEXT" or guess.startswith("TIMESTAMP")):
                guess = known[c]
            types.append(guess)
        q = _quote(name)
        self._registered.add(name)
        with _as_duckdb_errors():
            self.raw.execute(f"DROP TABLE IF EXISTS pg_temp.{q}")
            self.raw.execute(
                f"CREATE TEMP TABLE {q} ("
                + ", ".join(f"{_quote(c)} {t}" for c, t in zip(cols, types, strict=True))
                + ")"
            )
            if len(frame):
                with self.raw.cursor().copy(f"COPY {q} ({', '.join(_quote(c) for c in cols)}) FROM STDIN") as cp:
                    for row in frame.itertuples(index=False, name=None):
                        cp.write_row([py_value(v) for v in row])
        return self

    def unregister(self, name: str) -> PgConnection:
        from psycopg.pq import TransactionStatus

        if self.raw.info.transaction_status != TransactionStatus.INERROR:  # a failed transaction drops it on rollback
            self.raw.execute(f"DROP TABLE IF EXISTS pg_temp.{_quote(name)}")
            self._registered.discard(name)
        return self

    # --------------------------------------------------------------------------- lifetime

    def cursor(self) -> PgConnection:
        """A connection of its own to the same database (DuckDB's `cursor()`: usable from another thread)."""
        url, read_only, timeout, reuse = self._opened_with
        return connect(url, read_only=read_only, connect_timeout=timeout, reuse=reuse)

    def close(self) -> None:
        """Close the session, or keep it for the next `connect(reuse=True)` when it is clean."""
        raw, self._cur = self.raw, None
        if raw is None:
            return
        self.raw = None  # this wrapper is done with it either way
        url, _, _, reuse = self._opened_with
        if not (reuse and not self._registered and _IDLE.give(url, raw)):
            raw.close()

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
