"""Server sessions reused across a process's reads and writes (pipeline.pg, `connect(reuse=True)`), on a real
PostgreSQL: one session serves consecutive calls, an unclean one is never handed on, and a session broken by a
server restart is replaced without the caller seeing it."""

from __future__ import annotations

import pytest

from pipeline import pg
from pipeline.pg_store import PgStore

from ..pg_server import PgServer, find_bindir


def _backend(store: PgStore) -> int:
    with store.read() as con:
        return int(con.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]


@pytest.fixture
def fresh_idle():
    pg.close_idle()
    yield
    pg.close_idle()


def test_consecutive_reads_and_writes_share_one_session(pg_store, fresh_idle):
    first = _backend(pg_store)
    with pg_store.write() as con:
        assert int(con.execute("SELECT pg_backend_pid()").fetchone()[0]) == first
        pg_store.upsert("brands", [{"brand_id": "b1", "name": "Shop"}], key=["brand_id"], con=con)
    assert [_backend(pg_store) for _ in range(5)] == [first] * 5
    # a read inside a write needs a session of its own; both are kept afterwards
    with pg_store.write() as w, pg_store.read() as r:
        pair = {
            int(w.execute("SELECT pg_backend_pid()").fetchone()[0]),
            int(r.execute("SELECT pg_backend_pid()").fetchone()[0]),
        }
    assert len(pair) == 2 and first in pair
    assert pg_store.query("SELECT name FROM brands").values.tolist() == [["Shop"]]
    # without reuse every call opens a session of its own (the old behaviour)
    plain = PgStore(pg_store.url, reuse=False)
    assert len({_backend(plain) for _ in range(3)}) == 3


def test_an_unclean_session_is_not_handed_on(pg_store, fresh_idle):
    import pandas as pd

    con = pg.connect(pg_store.url, reuse=True)
    left_in_transaction = int(con.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
    con.execute("BEGIN")
    con.close()  # closed in a transaction: not kept
    con = pg.connect(pg_store.url, reuse=True)
    with_temp = int(con.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
    con.register("brands", pd.DataFrame({"brand_id": ["shadow"]}))  # a temporary table that would shadow a table
    con.close()
    assert _backend(pg_store) not in (left_in_transaction, with_temp)
    assert pg_store.query("SELECT count(*) AS n FROM brands")["n"].tolist() == [0]
    # a read-only (`brandmon sql`) session may have changed session settings: never kept
    with pg_store.read(config={"threads": 1}) as ro:
        sandboxed = int(ro.execute("SELECT pg_backend_pid()").fetchone()[0])
    assert _backend(pg_store) != sandboxed


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_session_broken_by_a_server_restart_is_replaced(mode, fresh_idle):
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found")
    srv = PgServer(bindir).start()  # its own server: this test restarts it
    try:
        store = PgStore(srv.new_database())
        store.upgrade()
        store.upsert("brands", [{"brand_id": "b1", "name": "Shop"}], key=["brand_id"])
        before = _backend(store)
        assert _backend(store) == before  # kept open between the reads
        ctl = [str(bindir / "pg_ctl"), "-D", str(srv.data), "-l", str(srv.root / "log"), "-m", mode, "-w"]
        srv._run(*ctl, "restart")
        assert store.query("SELECT name FROM brands").values.tolist() == [["Shop"]]  # no error: a new session
        after = _backend(store)
        assert after != before and _backend(store) == after
    finally:
        srv.stop()
