"""The store on a Postgres server that many machines share (`store.url = "postgresql://…"`).

`PgStore` is a `Store` whose connections are pipeline.pg's `PgConnection`s: every stage runs its DuckDB SQL
through the same calls, translated per statement. Postgres keeps readers and writers apart itself (MVCC), so there
is no read snapshot and no journal: `reader()` reads the server, an analyst action commits straight to it, and a
long job's session is one held connection that commits each transaction. The schema comes from the same migrations
as the file's (pipeline.schema, translated by pipeline.dialect).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import duckdb

from pipeline import pg
from pipeline.schema import TABLES
from pipeline.store import Store, StoreError

if TYPE_CHECKING:
    from pipeline.config import Settings


def redact(url: str) -> str:
    """`url` fit for messages: any password masked."""
    return re.sub(r"^(postgres(?:ql)?://[^/@:]*):[^/@]*@", r"\1:***@", url)


class PgStore(Store):
    """A Postgres database. `path` is only the local name for this store's in-process write gate. `reuse`: keep
    closed sessions open for the next read or write of this process (pipeline.pg, `connect(reuse=True)`)."""

    def __init__(
        self,
        url: str,
        path: Any = None,
        lock_timeout: float = 30.0,
        *,
        action_wait: float | None = None,
        reuse: bool = True,
    ):
        super().__init__(path or "postgres-store", lock_timeout, snapshots=False, action_wait=action_wait)
        self.url = url
        self.reuse = reuse

    @classmethod
    def from_settings(cls, settings: Settings) -> PgStore:
        return cls(
            settings.store.url,
            settings.db_path,
            lock_timeout=settings.lock_timeout_seconds,
            action_wait=settings.store.action_wait_seconds,
        )

    def __repr__(self) -> str:
        return f"PgStore({redact(self.url)!r})"

    def describe(self) -> str:
        return redact(self.url)

    def _connect(
        self, read_only: bool, config: dict[str, Any] | None = None, timeout: float | None = None
    ) -> duckdb.DuckDBPyConnection:
        try:
            import psycopg
            import sqlglot  # noqa: F401  (pipeline.dialect translates every statement with it)
        except ImportError as e:
            raise StoreError(
                f"store.url is a Postgres server, but {e.name} is not installed: pip install 'brandmon[team]'"
            ) from None

        # Stages' reads register frames (temporary tables), which a read-only Postgres session refuses: only a
        # read with DuckDB settings (`brandmon sql`'s sandbox) is a read-only session.
        try:
            con = pg.connect(
                self.url,
                read_only=read_only and config is not None,
                connect_timeout=self.lock_timeout,
                reuse=self.reuse,
            )
        except psycopg.Error as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StoreError(f"{redact(self.url)}: cannot connect to the Postgres server: {first}") from None
        # the stages are typed against DuckDB's connection; PgConnection answers the calls they make
        return cast(duckdb.DuckDBPyConnection, con)

    def _hold(self, con: duckdb.DuckDBPyConnection) -> None:
        pass  # nothing to tune: the server checkpoints on its own

    def schema_version(self) -> str | None:
        con = self._connect(read_only=True)
        try:
            rows = con.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
        except duckdb.CatalogException:
            return None
        finally:
            con.close()
        return rows[-1][0] if rows else None

    def tables(self) -> list[str]:
        """The base tables of the store's schema."""
        with self.read() as con:
            return [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
                ).fetchall()
            ]

    def status(self) -> dict[str, Any]:
        version = self.schema_version()
        counts: dict[str, int | None] = {t: None for t in TABLES}
        if version is not None:
            present = [t for t in TABLES if t in set(self.tables())]
            if present:
                with self.read() as con:
                    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in present)
                    counts.update({t: int(n) for t, n in con.execute(sql).fetchall()})
        return {
            "path": redact(self.url),
            "schema_version": version,
            "pending": self.pending_migrations(),
            "counts": counts,
        }
