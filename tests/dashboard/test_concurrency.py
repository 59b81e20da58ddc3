"""The dashboard reads while pipeline processes write: short write transactions never surface as errors, and a
lock that outlasts the retry shows a friendly "database busy" message instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

WRITER = textwrap.dedent("""
    import os, sys, time
    import pandas as pd
    from pipeline.store import Store, utcnow
    store = Store(sys.argv[1], lock_timeout=30)
    seconds, hold = float(sys.argv[2]), float(sys.argv[3])
    release = sys.argv[4] if len(sys.argv) > 4 else None  # a file whose creation ends a hold early
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        with store.write() as con:
            if i == 0:
                print("locked", flush=True)
            now = pd.Timestamp(utcnow())
            docs = pd.DataFrame({"doc_id": [f"w{i}-{k}" for k in range(50)], "source_id": "forum-mnogo",
                                 "posted_at": now, "text": "Посылкин опять опоздал", "text_hash": "h"})
            store.upsert("documents", docs, ["doc_id"], con=con)
            ments = pd.DataFrame({"mention_id": docs["doc_id"], "doc_id": docs["doc_id"], "brand_id": "posylkin",
                                  "context": "Посылкин опять опоздал", "context_hash": "h"})
            store.upsert("mentions", ments, ["mention_id"], con=con)
            until = time.monotonic() + hold
            while time.monotonic() < until and not (release and os.path.exists(release)):
                time.sleep(0.01)
        i += 1
        time.sleep(0.02)
    print(f"batches {i}", flush=True)
""")


def _writer(db, seconds: float, hold: float, release=None) -> subprocess.Popen:
    extra = [str(release)] if release else []
    p = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(seconds), str(hold), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline().strip() == "locked", p.stderr.read()
    return p


def _mentions(db) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM mentions").fetchall()[0][0]
    finally:
        con.close()


# a 6 s writer process under repeated page runs; the busy-lock test below is the fast check
@pytest.mark.slow
def test_reads_during_a_writer_process_show_no_error(db, use_db, app_test):
    from dashboard import reads

    use_db(db)
    before = _mentions(db)
    writer = _writer(db, seconds=6.0, hold=0.05)
    runs = 0
    try:
        while writer.poll() is None:
            for page in ("mentions", "queue", None):
                reads.clear_cache()  # force real reads, not the TTL cache
                at = app_test(page)
                runs += 1
                assert not at.exception, [e.value for e in at.exception]
                assert not [w.value for w in at.warning if "busy" in w.value]
                assert not [e.value for e in at.error if "database" in e.value.lower()]
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    batches = int(out.split()[-1])
    assert batches >= 5 and runs >= 3
    assert _mentions(db) == before + 50 * batches


def test_a_lock_outlasting_the_retry_shows_busy_not_a_traceback(db, use_db, app_test, monkeypatch, tmp_path):
    from dashboard import reads

    monkeypatch.setattr(reads, "BUSY_RETRIES", 0)
    use_db(db, BRANDMON_DASHBOARD__READ_TIMEOUT_SECONDS="0.3")
    reads.clear_cache()
    release = tmp_path / "release"
    writer = _writer(db, seconds=0.1, hold=300.0, release=release)  # one transaction holding the file until released
    try:
        at = app_test()
        assert writer.poll() is None  # the page came back while the file was still locked: it did not wait
        assert not at.exception
        assert any("Database busy" in w.value for w in at.warning)
        assert not at.metric
    finally:
        release.touch()
        writer.communicate(timeout=60)
    at.run()  # the writer is gone: the same session now shows the data
    assert not at.exception and at.metric
