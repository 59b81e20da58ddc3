"""The read snapshot and the actions journal, in one process on real DuckDB and SQLite files."""

from __future__ import annotations

import json
import os
import shutil

import duckdb
import pandas as pd
import pytest

from pipeline.journal import ActionRejected, Journal, apply_pending, register
from pipeline.snapshot import is_stale
from pipeline.store import Store, utcnow


def _source(store: Store, sid: str) -> None:
    with store.write() as con:
        store.upsert(
            "sources",
            [
                {
                    "source_id": sid,
                    "kind": "forum",
                    "name": sid,
                    "base_url": "x",
                    "enabled": True,
                    "updated_at": utcnow(),
                }
            ],
            ["source_id"],
            con=con,
        )


def _count(store: Store) -> int:
    with store.reader() as con:
        return con.execute("SELECT count(*) FROM sources").fetchall()[0][0]


def test_writers_publish_rate_limited_and_a_reader_catches_up_on_a_free_file(store):
    assert store.snapshots and store.snapshot.name == "brandmon.read.duckdb"
    store.publish_interval = 0.0
    _source(store, "a")  # published when the write let go
    with duckdb.connect(str(store.snapshot), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM sources").fetchall() == [(1,)]
    store.publish_interval = 3600.0
    _source(store, "b")  # within the interval: not published by the writer
    assert is_stale(store.path, store.snapshot)
    assert _count(store) == 2  # the reader found the live file free and newer, and refreshed the copy
    assert not is_stale(store.path, store.snapshot)
    mtime = os.stat(store.snapshot).st_mtime_ns
    assert _count(store) == 2 and os.stat(store.snapshot).st_mtime_ns == mtime  # nothing changed: no copy


def test_during_a_job_readers_leave_publishing_to_it_and_its_end_publishes(store):
    store.publish_interval = 0.0
    _source(store, "a")
    store.publish_interval = 3600.0
    with store.job():
        _source(store, "b")  # committed, free file, within the interval: not published
        assert is_stale(store.path, store.snapshot)
        mtime = os.stat(store.snapshot).st_mtime_ns
        assert _count(store) == 1  # the reader did not copy the file between the job's transactions
        assert os.stat(store.snapshot).st_mtime_ns == mtime
    assert not is_stale(store.path, store.snapshot)  # the job's end published
    assert _count(store) == 2


def test_a_job_killed_mid_way_leaves_readers_free_to_refresh(store, tmp_path):
    import subprocess
    import sys

    store.publish_interval = 0.0
    _source(store, "a")
    store.publish_interval = 3600.0
    _source(store, "b")  # stale copy
    code = (
        "import os, sys\n"
        "from pipeline.store import Store\n"
        "s = Store(sys.argv[1], snapshots=True)\n"
        "with s.job():\n"
        "    print('in', flush=True)\n"
        "    sys.stdin.readline()\n"
        "    os._exit(9)\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code, str(store.path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "in"
    assert _count(store) == 1  # another process's job runs: no copy
    p.communicate("\n", timeout=60)
    assert p.returncode == 9
    assert _count(store) == 2  # its flock went with it


def test_a_restored_file_older_than_the_snapshot_makes_it_stale(store, tmp_path):
    _source(store, "a")
    old = tmp_path / "old.duckdb"
    shutil.copy2(store.path, old)  # keeps the older modification time
    _source(store, "b")
    assert _count(store) == 2
    os.replace(old, store.path)  # what `brandmon db restore` does: another file, older than the snapshot
    assert os.stat(store.path).st_mtime_ns < os.stat(store.snapshot).st_mtime_ns
    assert is_stale(store.path, store.snapshot)
    assert _count(store) == 1


def test_without_snapshots_readers_read_the_live_file(settings):
    store = Store(settings.db_path)  # a bare store (a backup being checked): no copy, no journal
    store.upgrade()
    _source(store, "a")
    assert _count(store) == 1
    assert not store.snapshot.exists() and not store.journal.path.exists()


def test_journal_records_once_applies_in_order_and_rejects_with_the_reason(store, tmp_path):
    seen: list[str] = []

    @register("test_note")
    def _note(st, con, a):
        if a.payload["text"] == "bad":
            raise ActionRejected("no bad notes")
        seen.append(a.payload["text"])
        con.execute("CREATE TABLE IF NOT EXISTS notes (t VARCHAR)")
        con.execute("INSERT INTO notes VALUES (?)", [a.payload["text"]])
        return {"text": a.payload["text"]}

    j = Journal(tmp_path / "j.sqlite")
    first = j.record("test_note", "x", "anna", {"text": "one"}, action_id="a1")
    again = j.record("test_note", "x", "anna", {"text": "changed"}, action_id="a1")  # a retried click
    assert again == first and again.payload == {"text": "one"}
    j.record("test_note", "x", "anna", {"text": "bad"}, action_id="a2")
    j.record("test_note", "x", "boris", {"text": "two"}, action_id="a3")
    assert [a.action_id for a in j.pending()] == ["a1", "a2", "a3"]

    con = duckdb.connect(str(store.path))
    try:
        assert apply_pending(j, store, con, store.transaction) == {"applied": 2, "rejected": 1}
        assert con.execute("SELECT t FROM notes ORDER BY rowid").fetchall() == [("one",), ("two",)]
    finally:
        con.close()
    assert seen == ["one", "two"] and j.pending() == []
    got = {a.action_id: (a.status, a.error, a.result) for a in j.listing()}
    assert got == {
        "a1": ("applied", None, {"text": "one"}),
        "a2": ("rejected", "no bad notes", None),
        "a3": ("applied", None, {"text": "two"}),
    }


def test_an_unknown_failure_leaves_the_action_pending_for_the_next_writer(store, tmp_path):
    calls = []

    @register("test_flaky")
    def _flaky(st, con, a):
        calls.append(a.action_id)
        if len(calls) == 1:
            con.execute("SELECT * FROM no_such_table")  # a CatalogException, not a refusal
        return {}

    j = Journal(tmp_path / "j.sqlite")
    j.record("test_flaky", "x", "anna", {}, action_id="f1")
    j.record("test_flaky", "x", "anna", {}, action_id="f2")
    con = duckdb.connect(str(store.path))
    try:
        assert apply_pending(j, store, con, store.transaction) == {"applied": 0, "rejected": 0}
        assert [a.action_id for a in j.pending()] == ["f1", "f2"]  # the later one waits too: order is kept
        assert apply_pending(j, store, con, store.transaction) == {"applied": 2, "rejected": 0}
    finally:
        con.close()
    assert calls == ["f1", "f1", "f2"]


@pytest.mark.parametrize("field,value", [("sentiment", "positive"), ("intent", "praise")])
def test_labels_laid_over_follow_the_last_correction(field, value):
    from pipeline.actions import CORRECT, overlay_labels
    from pipeline.journal import Action

    def act(seq, mention, v, status="pending"):
        payload = {"field": field, "value": v}
        return Action(seq, f"a{seq}", CORRECT, mention, "anna", utcnow(), payload, status, None, None, None)

    df = pd.DataFrame({"mention_id": ["m1", "m2"], field: ["negative", "other"], "corrected": [False, False]})
    out = overlay_labels(df, [act(1, "m1", "neutral"), act(2, "m1", value), act(3, "m2", "x", "rejected")])
    assert out[field].tolist() == [value, "other"] and out["corrected"].tolist() == [True, False]
    assert df[field].tolist() == ["negative", "other"]  # the cached rows are not changed in place


def test_db_actions_applies_pending_ones_and_lists_a_refusal_with_its_reason(store, settings):
    from typer.testing import CliRunner

    from brandmon.cli import app

    payload = {"action": "assign", "to_state": "assigned", "owner": "x", "expected_version": 1}
    store.journal.record("escalation", "no-such-item", "anna", payload, action_id="r1")
    run = CliRunner().invoke
    out = run(app, ["--data-dir", str(settings.data_dir), "db", "actions", "--status", "pending", "-f", "csv"])
    assert out.exit_code == 0 and out.stdout.splitlines()[1].startswith("1,pending,escalation,no-such-item,anna,")
    out = run(app, ["--data-dir", str(settings.data_dir), "db", "actions", "--apply", "-f", "json"])
    assert out.exit_code == 0, out.output
    row = json.loads(out.stdout)
    assert (row["status"], row["error"]) == ("rejected", "no escalation 'no-such-item'")
    bad = run(app, ["--data-dir", str(settings.data_dir), "db", "actions", "--status", "done"])
    assert bad.exit_code == 2 and "expected pending, applied or rejected" in bad.stderr


def test_a_reader_applies_pending_actions_once_the_store_is_free(store):
    """An action journaled while a writer held the file, and that writer left without applying it (it died, or it
    was a short write): the next reader that finds the file free applies it."""
    payload = {"action": "assign", "to_state": "assigned", "owner": "x", "expected_version": 1}
    store.journal.record("escalation", "gone-item", "anna", payload, action_id="p1")
    assert store.journal.has_pending()
    assert _count(store) == 0
    assert not store.journal.has_pending()
    a = store.journal.get("p1")
    assert a is not None and (a.status, a.error) == ("rejected", "no escalation 'gone-item'")
