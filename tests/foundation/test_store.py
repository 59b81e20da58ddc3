"""The DuckDB store: migrations, idempotent upserts, readers during writes, racing writers, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.schema import MIGRATIONS, TABLES
from pipeline.store import Store, StoreError, stable_id

WORKERS = Path(__file__).with_name("workers.py")


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKERS), *args], cwd=Path(__file__).resolve().parents[2])


def test_migrations_from_empty_then_noop(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    assert store.schema_version() is None
    assert store.upgrade() == [m.name for m in MIGRATIONS]
    assert store.upgrade() == []
    st = store.status()
    assert st["schema_version"] == MIGRATIONS[-1].name
    assert st["pending"] == []
    assert set(TABLES) <= set(st["counts"])
    assert all(n == 0 for n in st["counts"].values())


def test_upsert_twice_leaves_one_copy_and_updates(store):
    rows = [{"doc_id": stable_id("s", i), "source_id": "s", "text": f"t{i}", "text_hash": str(i)} for i in range(100)]
    assert store.upsert("documents", rows, key=["doc_id"]) == 100
    store.upsert("documents", rows, key=["doc_id"])
    assert store.query("SELECT count(*) n FROM documents")["n"][0] == 100
    rows[5]["text"] = "edited"
    store.upsert("documents", rows + rows[:3], key=["doc_id"])  # duplicate keys in one batch keep the last
    df = store.query("SELECT count(*) n, count(*) FILTER (WHERE text='edited') e FROM documents")
    assert (df["n"][0], df["e"][0]) == (100, 1)


def test_write_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.write() as con:
            store.upsert(
                "documents", [{"doc_id": "a", "source_id": "s", "text": "t", "text_hash": "h"}], key=["doc_id"], con=con
            )
            raise RuntimeError("boom")
    assert store.query("SELECT count(*) n FROM documents")["n"][0] == 0


def test_read_only_refuses_writes_and_missing_file(tmp_path, store):
    import duckdb

    with pytest.raises(duckdb.Error):
        store.query("DELETE FROM documents")
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing.duckdb").query("SELECT 1")


# a 10k-row writer process under a polling reader; the lock and race tests keep concurrency fast
@pytest.mark.slow
def test_reader_polls_while_writer_writes_10k_rows(store, tmp_path):
    out, stop = tmp_path / "reader.json", tmp_path / "stop"
    r = _spawn("reader", str(store.path), "120", str(out), str(stop))
    time.sleep(1.0)
    w = _spawn("writer", str(store.path), "0", "10000", "250")
    assert w.wait(timeout=120) == 0
    stop.touch()  # the reader polls until the writer is done, then stops
    assert r.wait(timeout=120) == 0
    res = json.loads(out.read_text())
    assert res["errors"] == []
    assert res["reads"] > 10
    assert store.query("SELECT count(*) n FROM documents")["n"][0] == 10000


# two writer processes; the lock timeout and one SIGKILL keep the store's concurrency in the fast tier
@pytest.mark.slow
def test_two_writers_race_on_same_rows(store, tmp_path):
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    procs = [_spawn("racer", str(store.path), tag, "15", str(o)) for tag, o in zip("AB", outs)]
    for p in procs:
        assert p.wait(timeout=180) == 0
    results = [json.loads(o.read_text()) for o in outs]
    assert sum(r["done"] + r["locked"] for r in results) == 30
    assert all(r["done"] == 15 for r in results), results  # the retry lets both finish
    df = store.query("SELECT count(*) n, count(DISTINCT text) v FROM documents")
    assert df["n"][0] == 500  # no duplicates, no lost keys
    assert df["v"][0] == 1  # every key holds the value of the same (last) committed batch


# the kill lands at the same point every time (inside the transaction, before COMMIT): a few kills show it; the
# slow tier repeats it 20 times
@pytest.mark.parametrize("kills", [3, pytest.param(20, marks=pytest.mark.slow)])
def test_sigkill_mid_transaction_never_leaves_partial_batches(store, tmp_path, kills):
    for i in range(kills):
        ready = tmp_path / f"ready{i}"
        p = _spawn("slow_batch", str(store.path), str(i), str(ready))
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert p.poll() is None and time.monotonic() < deadline, "worker died before its batch"
            time.sleep(0.02)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        assert store.query("SELECT count(*) n FROM documents")["n"][0] == 0
    # the next run completes
    w = _spawn("writer", str(store.path), "0", "1000", "500")
    assert w.wait(timeout=60) == 0
    assert store.query("SELECT count(*) n FROM documents")["n"][0] == 1000


def test_lock_held_too_long_gives_clear_error(store):
    """A writer holds the file; a reader in another process gives up after its timeout with a clear message."""
    child = (
        "import sys\n"
        "from pipeline.store import Store, StoreLockedError\n"
        "try:\n"
        "    Store(sys.argv[1], lock_timeout=0.5).query('SELECT 1')\n"
        "except StoreLockedError as e:\n"
        "    print(e); sys.exit(7)\n"
    )
    with store.write():
        # the child ends while the lock is still held here, so exit 7 means it gave up rather than waited for it
        res = subprocess.run([sys.executable, "-c", child, str(store.path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 7, res.stderr
    assert "locked by another process" in res.stdout
    assert store.query("SELECT 1 AS x")["x"][0] == 1  # released: readers get in again


_PROBE = (
    "import sys\n"
    "from pipeline.store import Store, StoreLockedError\n"
    "try:\n"
    "    print(int(Store(sys.argv[1], lock_timeout=0.3).query('SELECT count(*) AS n FROM documents')['n'][0]))\n"
    "except StoreLockedError:\n"
    "    print('locked')\n"
)


def _probe(store) -> str:
    """What another process sees: the committed row count, or 'locked'."""
    res = subprocess.run(
        [sys.executable, "-c", _PROBE, str(store.path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def _doc(i: int) -> dict:
    return {"doc_id": f"d{i}", "source_id": "s", "text": f"t{i}", "text_hash": str(i)}


def test_write_session_holds_the_file_then_releases_it(store):
    """Batches share one connection (no checkpoint per batch) until hold_seconds have passed; then another
    process can read everything committed. A failed batch rolls back and releases the file at once."""
    with store.session(hold_seconds=3600) as s:
        for i in range(3):
            with s.write() as con:
                store.upsert("documents", [_doc(i)], key=["doc_id"], con=con)
            with s.read() as con:  # the held connection sees its own commits
                assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == i + 1
        assert _probe(store) == "locked"
        with pytest.raises(RuntimeError):
            with s.write() as con:
                store.upsert("documents", [_doc(99)], key=["doc_id"], con=con)
                raise RuntimeError("batch failed half way")
        assert _probe(store) == "3"  # released on the failure, the half batch rolled back
        with s.write() as con:  # reopens
            store.upsert("documents", [_doc(3)], key=["doc_id"], con=con)
        assert _probe(store) == "locked"
    assert _probe(store) == "4"  # released on exit

    with store.session(hold_seconds=0) as s:  # 0: released after every transaction
        with s.write() as con:
            store.upsert("documents", [_doc(4)], key=["doc_id"], con=con)
        assert _probe(store) == "5"


def test_a_read_in_another_thread_waits_for_this_process_s_writer(store):
    """DuckDB refuses a read-only connection to a file its own process has open read-write ("different
    configuration"): a read on another thread (a crawl fanned out on threads, the dashboard's server) failed at once
    instead of waiting for the writer as it waits for another process's lock. The writing thread's own read still
    fails at once, with a clear message, since it would wait for itself."""
    import threading

    holding, done = threading.Event(), []

    def writer():
        with store.write() as con:
            holding.set()
            time.sleep(0.5)
            con.execute("INSERT INTO brands (brand_id, name) VALUES ('late', 'Late')")
        done.append(True)

    t = threading.Thread(target=writer)
    t.start()
    assert holding.wait(10)
    with store.read() as con:  # waits for the writer's commit, then sees it
        got = con.execute("SELECT count(*) FROM brands WHERE brand_id = 'late'").fetchone()[0]
    t.join(10)
    assert done == [True] and got == 1

    with store.write():
        with pytest.raises(StoreError, match="this thread holds the file for writing"):
            with store.read():
                pass
    with store.read() as con:  # and nothing is left marked as held
        assert con.execute("SELECT count(*) FROM brands").fetchone()[0] >= 1
