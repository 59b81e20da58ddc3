"""The queue commands end to end on a real database file, through the typer app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from brandmon.cli import app
from pipeline.store import stable_id

runner = CliRunner()


def _run(settings, *args):
    return runner.invoke(app, ["--data-dir", str(settings.data_dir), *args])


def test_queue_workflow(settings, store, world):
    _, legal = world.post(
        "Посылкин, подам в суд и в Роспотребнадзор, верните деньги",
        sentiment="negative",
        intent="complaint",
        thread="c1",
    )
    world.post("Посылкин ок", sentiment="positive", intent="praise", thread="c2")
    world.flush()
    eid = stable_id(legal)

    res = _run(settings, "escalate")
    assert res.exit_code == 0, res.output
    assert "created=1" in res.output

    res = _run(settings, "queue", "--format", "json")
    rows = [json.loads(x) for x in res.output.splitlines() if x.strip()]
    assert [r["escalation_id"] for r in rows] == [eid]
    assert rows[0]["level"] == "high" and "суд (legal)" in rows[0]["why"]

    assert _run(settings, "queue", "assign", eid[:8], "bob", "--actor", "anna").exit_code == 0
    res = _run(settings, "queue", "--owner", "bob", "--format", "csv")
    assert eid in res.output and ",assigned,bob," in res.output
    assert _run(settings, "queue", "start", eid[:6], "--actor", "bob").exit_code == 0
    res = _run(settings, "queue", "resolve", eid[:6], "--comment", "вернули деньги", "--actor", "bob")
    assert res.exit_code == 0 and "resolved" in res.output

    res = _run(settings, "queue", "start", eid[:6], "--actor", "bob")
    assert res.exit_code == 1
    assert "cannot move escalation" in res.output and "from resolved to in_progress" in res.output

    res = _run(settings, "queue", "show", eid[:6])
    assert res.exit_code == 0, res.output
    for word in ("negativity", "threat", "роспотребнадзор*", "history", "assign", "start", "resolve"):
        assert word in res.output, word

    assert _run(settings, "queue", "reopen", eid[:6], "--actor", "anna").exit_code == 0
    assert _run(settings, "queue", "comment", eid[:6], "звоним клиенту", "--actor", "anna").exit_code == 0
    assert _run(settings, "queue", "dismiss", eid[:6], "--actor", "anna").exit_code == 0
    states = store.query("SELECT state, owner, version FROM escalations WHERE escalation_id = ?", [eid]).iloc[0]
    assert (states["state"], states["owner"], states["version"]) == ("dismissed", "bob", 7)
    assert _run(settings, "queue", "show", "zzzz").exit_code == 1

    res = _run(settings, "correct", legal, "--sentiment", "neutral", "--actor", "anna")
    assert res.exit_code == 0 and "negative → neutral" in res.output
    assert _run(settings, "correct", legal, "--sentiment", "furious").exit_code == 1
    assert _run(settings, "correct", legal).exit_code == 2


def test_kpis_advocates_alerts_commands(settings, store, world):
    world.post("Посылкин потерял посылку", sentiment="negative", intent="complaint", thread="k1")
    world.flush()
    _run(settings, "escalate")
    res = _run(settings, "kpis", "--json")
    assert res.exit_code == 0, res.output
    k = json.loads(res.output)
    assert k["summary"]["received"] == 1 and k["summary"]["answered"] == 0
    res = _run(settings, "kpis", "--since", "2020-01-01", "--brand", "posylkin")
    assert res.exit_code == 0 and "received 1" in res.output
    assert _run(settings, "kpis", "--since", "yesterday").exit_code == 2
    res = _run(settings, "advocates", "--leaders")
    assert res.exit_code == 0
    res = _run(settings, "alerts", "--detect")
    assert res.exit_code == 0 and "alerts=0" in res.output and "no alerts" in res.output
    assert _run(settings, "alerts", "--ack", "abcd").exit_code == 1


def test_writing_commands_take_turns_with_a_flow_and_listings_do_not_wait(settings, store, world):
    from flows.locking import write_lock

    world.post("Посылкин потерял посылку, подам в суд", sentiment="negative", intent="complaint", thread="w1")
    world.flush()
    env = {"BRANDMON_SCHEDULE__WRITE_LOCK_TIMEOUT_SECONDS": "0.3"}
    with write_lock(settings.data_dir):  # a flow's stage is writing
        res = runner.invoke(app, ["--data-dir", str(settings.data_dir), "escalate"], env=env)
        assert res.exit_code == 1 and "waiting for the write lock" in res.output
        assert store.query("SELECT count(*) AS n FROM escalations")["n"][0] == 0
        # advocates refreshes author scores before listing; during a flow it lists the last scores at once
        res = runner.invoke(app, ["--data-dir", str(settings.data_dir), "advocates"], env=env)
        assert res.exit_code == 0 and "a flow is writing" in " ".join(res.output.split())
        assert store.query("SELECT count(*) AS n FROM authors WHERE advocate_score IS NOT NULL")["n"][0] == 0
    res = runner.invoke(app, ["--data-dir", str(settings.data_dir), "escalate"], env=env)
    assert res.exit_code == 0 and "created=1" in res.output
    res = runner.invoke(app, ["--data-dir", str(settings.data_dir), "advocates"], env=env)
    assert res.exit_code == 0 and "a flow is writing" not in res.output
    assert store.query("SELECT count(*) AS n FROM authors WHERE advocate_score IS NOT NULL")["n"][0] > 0
