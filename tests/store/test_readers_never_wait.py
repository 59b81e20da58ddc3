"""Readers never wait for a writer, and an analyst's action never waits for a flow (issue 22, one machine).

Real processes on real DuckDB files: a writer process runs an ingest or holds a write session, while this process
reads through the CLI (`brandmon sql`, `brandmon queue`) and makes analyst actions through pipeline.escalate.
Readers run with a lock timeout of 0.3 s, so a read that needed the writer's lock would fail instead of waiting.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from brandmon.cli import app
from pipeline import escalate as esc
from pipeline.config import load_settings
from pipeline.journal import Journal, journal_path
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

FORMS = ["Посылкин", "Посылкина", "ШопОк", "ШопОка", "Ласточка Банк", "Мобилайн", "Мобилайна", "Кофейня Зерно"]
FILLER = ["Погода сегодня отвратительная.", "Пробки на Садовом как всегда.", "В выходные ездили на дачу."]

# the writer's settings: small batches and frequent releases, so a run of some thousand posts lets go (and
# publishes) several times
WRITER_ENV = {
    "BRANDMON_LOCK_TIMEOUT_SECONDS": "30",
    "BRANDMON_INGEST__BATCH_SIZE": "1500",
    "BRANDMON_INGEST__HOLD_LOCK_SECONDS": "0.5",
    "BRANDMON_INGEST__HELPER_PROCESSES": "0",
    "BRANDMON_STORE__PUBLISH_INTERVAL_SECONDS": "0.5",
}
# the readers' settings: a read that had to wait for the writer's lock fails after 0.3 s
READER_ENV = {"BRANDMON_LOCK_TIMEOUT_SECONDS": "0.3", "BRANDMON_INGEST__HOLD_LOCK_SECONDS": "0.1"}

SETTINGS = textwrap.dedent(f"""
    import sys
    from pipeline.config import load_settings
    s = load_settings(data_dir=sys.argv[1], brands_file={str(ROOT / "data" / "brands.yaml")!r},
                      sources_file={str(ROOT / "data" / "sources.yaml")!r})
""")

INGEST = SETTINGS + textwrap.dedent("""
    import json
    from pipeline.ingest import ingest_pending
    from pipeline.store import Store
    print("start", flush=True)
    r = ingest_pending(s, Store.from_settings(s), run_id="big")
    print(json.dumps({"mentions": r["mentions"], "documents": r["documents_new"]}), flush=True)
""")

SCORE = SETTINGS + textwrap.dedent("""
    import json
    from models.scoring import score_pending
    from pipeline.store import Store
    print("start", flush=True)
    r = score_pending(s, Store.from_settings(s))
    print(json.dumps(r), flush=True)
""")

HOLD = SETTINGS + textwrap.dedent("""
    from pipeline.store import Store
    with Store.from_settings(s).session(hold_seconds=3600) as session:  # a long stage of a flow
        with session.write() as con:
            con.execute("UPDATE sources SET enabled = enabled")
        print("holding", flush=True)
        sys.stdin.readline()  # until the test lets go
    print("released", flush=True)
""")

# an applier that dies right after the store committed an action, before the journal marks it applied
DIE_BEFORE_MARK = SETTINGS + textwrap.dedent("""
    import os
    from pipeline.journal import Journal
    from pipeline.store import Store
    Journal.mark = lambda *a, **k: os._exit(9)
    with Store.from_settings(s).write():
        pass
""")


def _settings(data: Path, **kw):
    return load_settings(
        data_dir=data,
        brands_file=ROOT / "data" / "brands.yaml",
        sources_file=ROOT / "data" / "sources.yaml",
        **kw,
    )


@pytest.fixture
def data(tmp_path) -> Path:
    """A data folder with a synthetic store (queue items included) and its published read snapshot."""
    from demo.synthetic import make_synthetic_db

    d = tmp_path / "data"
    make_synthetic_db(d / "brandmon.duckdb", 1500, seed=3)
    assert _settings(d).store.snapshots  # the default
    assert Store(d / "brandmon.duckdb", snapshots=True).catch_up()
    return d


def _raw_run(data: Path, n: int) -> None:
    rnd = random.Random(5)
    rows = []
    for i in range(n):
        text = f"{rnd.choice(FORMS)} опять задержал заказ номер {i}, поддержка молчит. {rnd.choice(FILLER)}"
        rows.append(
            {
                "source": f"forum-{i % 5}",
                "kind": "forum",
                "post_id": str(i),
                "url": f"http://forum-{i % 5}.test/t/{i // 20}#p{i}",
                "thread_url": f"http://forum-{i % 5}.test/t/{i // 20}",
                "thread_title": "Отзывы",
                "text": text,
                "author": f"user{rnd.randint(0, 5000)}",
                "posted_at": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+03:00",
            }
        )
    run = data / "raw" / "big"
    run.mkdir(parents=True)
    with gzip.open(run / "items-0000.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _start(code: str, data: Path, first_line: str, extra_env: dict | None = None, **popen) -> subprocess.Popen:
    env = {**os.environ, **WRITER_ENV, **(extra_env or {})}
    p = subprocess.Popen(
        [sys.executable, "-c", code, str(data)], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, **popen
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == first_line
    return p


def _cli(data: Path, *args: str):
    return runner.invoke(app, ["--data-dir", str(data), *args])


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _live(data: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(data / "brandmon.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def reader_env(monkeypatch):
    for k, v in READER_ENV.items():
        monkeypatch.setenv(k, v)


@pytest.mark.slow
def test_sql_and_queue_never_fail_while_an_ingest_writes(data, reader_env):
    before = _live(data, "SELECT count(*) FROM mentions")[0][0]
    _raw_run(data, 12_000)
    writer = _start(INGEST, data, "start")
    seen: list[int] = []
    failures: list[str] = []
    queue_reads = 0
    try:
        while writer.poll() is None:
            r = _cli(data, "sql", "SELECT count(*) AS n FROM mentions", "-f", "csv")
            if r.exit_code != 0:
                failures.append(r.output.strip())
            else:
                seen.append(int(r.stdout.splitlines()[1]))
            q = _cli(data, "queue", "-f", "csv", "-n", "5")
            queue_reads += 1
            if q.exit_code != 0 or not q.stdout.startswith("escalation_id,"):
                failures.append(q.output.strip())
    finally:
        out, _ = writer.communicate(timeout=300)
    assert writer.returncode == 0
    added = json.loads(out.strip().splitlines()[-1])["mentions"]
    assert added >= 12_000
    assert failures == []
    assert len(seen) >= 5 and queue_reads >= 5
    assert seen == sorted(seen)  # each read a consistent state, never going back
    assert any(before < n < before + added for n in seen), (before, added, seen)  # published mid-ingest
    r = _cli(data, "sql", "SELECT count(*) AS n FROM mentions", "-f", "csv")
    assert r.stdout.splitlines() == ["n", str(before + added)]  # the end of the ingest is published


@pytest.mark.slow
def test_sql_and_queue_never_fail_while_scoring_writes(data, reader_env):
    """The score stage stores each batch in its own transaction and publishes as it goes: reads of the CLI never
    fail, see a growing count, and see the end."""
    count = "SELECT count(*) AS n FROM scores WHERE model_version <> 'synthetic-v1'"  # the shipped model's
    writer = _start(SCORE, data, "start", extra_env={"BRANDMON_WORKERS__BATCH_MENTIONS": "150"})
    seen: list[int] = []
    failures: list[str] = []
    try:
        while writer.poll() is None:
            r = _cli(data, "sql", count, "-f", "csv")
            if r.exit_code != 0:
                failures.append(r.output.strip())
            else:
                seen.append(int(r.stdout.splitlines()[1]))
            q = _cli(data, "queue", "-f", "csv", "-n", "5")
            if q.exit_code != 0 or not q.stdout.startswith("escalation_id,"):
                failures.append(q.output.strip())
    finally:
        out, _ = writer.communicate(timeout=600)
    assert writer.returncode == 0
    scored = json.loads(out.strip().splitlines()[-1])["scored"]
    assert scored >= 1000  # the synthetic store's mentions, new to the shipped model
    assert failures == []
    assert len(seen) >= 5
    assert seen == sorted(seen)
    assert any(0 < n < scored for n in seen), (scored, seen)  # batches published while scoring went on
    r = _cli(data, "sql", count, "-f", "csv")
    assert r.stdout.splitlines() == ["n", str(scored)]


@pytest.mark.slow
def test_an_action_during_a_flow_returns_at_once_shows_at_once_and_lands_after(data, reader_env):
    store = Store.from_settings(_settings(data, lock_timeout_seconds=3, ingest={"hold_lock_seconds": 1}))
    eid = esc.queue(store, state="new", limit=1).escalation_id[0]
    v0 = _live(data, "SELECT version FROM escalations WHERE escalation_id = ?", [eid])[0][0]
    holder = _start(HOLD, data, "holding", stdin=subprocess.PIPE)
    try:
        r = esc.assign(store, eid, "Ольга", "anna")
        r2 = esc.transition(store, eid, "in_progress", "anna", "звоним", expected_version=r["version"])
        assert holder.poll() is None  # the flow still holds the file: the actions did not wait for it
        assert r["pending"] and r2["pending"] and r2["version"] == v0 + 2
        assert [a.status for a in store.journal.pending()] == ["pending", "pending"]

        # every reader sees the clicks at once: the queue (state, owner), its history, not yet the live file
        q = _cli(data, "queue", "--state", "in_progress", "--owner", "Ольга", "-f", "json")
        assert q.exit_code == 0, q.output
        assert [(i["escalation_id"], i["version"], i["pending"]) for i in _lines(q.stdout)] == [(eid, v0 + 2, 2)]
        show = _cli(data, "queue", "show", eid[:10])
        assert "state in_progress  owner Ольга" in show.stdout
        hist = esc.history(store, eid)
        assert list(hist[["actor", "action", "version", "comment"]].tail(2).itertuples(index=False, name=None)) == [
            ("anna", "assign", v0 + 1, "(pending) assigned to Ольга"),
            ("anna", "start", v0 + 2, "(pending) звоним"),
        ]
        assert _cli(data, "queue", "--state", "new", "-f", "csv", "-n", "1000").stdout.count(eid) == 0
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(60) == 0
    # the flow's session applied them when it let go, in order, once
    assert _live(data, "SELECT state, owner, version FROM escalations WHERE escalation_id = ?", [eid]) == [
        ("in_progress", "Ольга", v0 + 2)
    ]
    events = _live(
        data, "SELECT action, actor, version FROM escalation_events WHERE actor = 'anna' ORDER BY version", []
    )
    assert events == [("assign", "anna", v0 + 1), ("start", "anna", v0 + 2)]
    assert store.journal.pending() == []
    # and the published snapshot now holds them: laid over once more they change nothing
    q = _lines(_cli(data, "queue", "--state", "in_progress", "--owner", "Ольга", "-f", "json").stdout)
    assert [(i["escalation_id"], i["version"], i["pending"]) for i in q] == [(eid, v0 + 2, 0)]


@pytest.mark.slow
def test_a_killed_flow_and_a_killed_applier_lose_nothing_and_apply_once(data, reader_env):
    s = _settings(data, lock_timeout_seconds=3, ingest={"hold_lock_seconds": 1})
    store = Store.from_settings(s)
    eid = esc.queue(store, state="new", limit=1).escalation_id[0]
    v0 = _live(data, "SELECT version FROM escalations WHERE escalation_id = ?", [eid])[0][0]
    mid = _live(data, "SELECT mention_id FROM escalations WHERE escalation_id = ?", [eid])[0][0]

    holder = _start(HOLD, data, "holding", stdin=subprocess.PIPE)
    r = esc.assign(store, eid, "Пётр", "anna")
    c = esc.correct(store, mid, "intent", "complaint", "anna")
    assert r["pending"] and c["pending"]
    holder.send_signal(signal.SIGKILL)  # the flow dies holding the file, before it applied anything
    holder.wait(60)
    journal = Journal(journal_path(data / "brandmon.duckdb"))
    assert [a.status for a in journal.pending()] == ["pending", "pending"]

    # the next writer dies right after the store committed the first action, before the journal said so
    env = {**os.environ, **WRITER_ENV}
    dead = subprocess.run([sys.executable, "-c", DIE_BEFORE_MARK, str(data)], cwd=ROOT, env=env, timeout=120)
    assert dead.returncode == 9
    assert len(journal.pending()) == 2
    assert _live(data, "SELECT owner, version FROM escalations WHERE escalation_id = ?", [eid]) == [("Пётр", v0 + 1)]

    with store.write():  # the next writer: the first action is found applied, the second is applied
        pass
    assert journal.pending() == [] and [a.status for a in journal.listing()] == ["applied", "applied"]
    assert _live(data, "SELECT state, owner, version FROM escalations WHERE escalation_id = ?", [eid]) == [
        ("assigned", "Пётр", v0 + 1)
    ]
    assert (
        _live(data, "SELECT count(*) FROM escalation_events WHERE escalation_id = ? AND action = 'assign'", [eid])[0][0]
        == 1
    )
    assert _live(data, "SELECT value, actor FROM corrections WHERE mention_id = ? AND field = 'intent'", [mid]) == [
        ("complaint", "anna")
    ]
    assert _live(data, "SELECT intent, corrected FROM current_scores WHERE mention_id = ?", [mid]) == [
        ("complaint", True)
    ]


def test_an_alert_acknowledged_during_a_flow_returns_at_once_and_lands_once(data, reader_env):
    """Acknowledging an alert used to wait for the write lock (and fail while a stage held it); it now goes through
    the actions journal: pending at once, shown acknowledged at once, stored once when the flow lets go."""
    from pipeline.alerts import acknowledge, list_alerts

    store = Store.from_settings(_settings(data, lock_timeout_seconds=3, ingest={"hold_lock_seconds": 1}))
    with duckdb.connect(str(data / "brandmon.duckdb")) as con:
        for i in (1, 2):
            con.execute(
                "INSERT INTO alerts (alert_id, kind, brand_id, explanation, created_at) "
                "VALUES (?, 'volume_spike', 'posylkin', ?, now())",
                [f"alert-{i}", f"Посылкин: всплеск {i}"],
            )
    assert store.catch_up()
    holder = _start(HOLD, data, "holding", stdin=subprocess.PIPE)
    try:
        r = acknowledge(store, "alert-1", "anna")
        assert holder.poll() is None  # the flow still holds the file: the acknowledgement did not wait for it
        assert r["pending"] and r["acknowledged_by"] == "anna" and not r["already"]
        again = acknowledge(store, "alert-1", "boris")  # the first acknowledgement counts
        assert again["already"] and again["acknowledged_by"] == "anna"
        assert [(a.kind, a.target, a.status) for a in store.journal.pending()] == [("ack", "alert-1", "pending")]
        # readers see it at once
        ours = {"alert-1", "alert-2"}  # the synthetic store has alerts of its own
        assert [i for i in list_alerts(store, unacknowledged=True, limit=1000)["alert_id"] if i in ours] == ["alert-2"]
        out = _cli(data, "alerts", "-f", "json", "-n", "1000")
        assert out.exit_code == 0, out.output
        assert {a["alert_id"]: a["acknowledged_by"] for a in _lines(out.stdout) if a["alert_id"] in ours} == {
            "alert-1": "anna",
            "alert-2": None,
        }
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(60) == 0
    assert _live(data, "SELECT acknowledged_by FROM alerts WHERE alert_id LIKE 'alert-%' ORDER BY alert_id") == [
        ("anna",),
        (None,),
    ]
    assert store.journal.pending() == []
    assert acknowledge(store, "alert-1", "boris")["already"]
    with pytest.raises(esc.ActionError, match="no alert"):
        acknowledge(store, "nope", "anna")
