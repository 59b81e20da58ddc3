"""Queue lifecycle: legal and illegal transitions, the audit trail, optimistic concurrency, a two-process race."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline import escalate as esc
from pipeline.store import stable_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def item(settings, store, world, now):
    _, mid = world.post("Посылкин потерял посылку, верните деньги", sentiment="negative", intent="complaint")
    world.flush()
    esc.escalate(settings, store, now=now)
    return stable_id(mid)


def _state(store, eid):
    r = store.query(
        "SELECT state, owner, version, first_response_at, resolved_at FROM escalations WHERE escalation_id=?", [eid]
    )
    return r.iloc[0].to_dict()


def test_happy_path_and_first_response(store, item):
    assert pd.isna(_state(store, item)["first_response_at"])
    esc.assign(store, item, "support-1", "anna")
    s = _state(store, item)
    assert (s["state"], s["owner"], s["version"]) == ("assigned", "support-1", 2)
    first = s["first_response_at"]
    assert not pd.isna(first)
    esc.transition(store, item, "in_progress", "support-1")
    esc.add_comment(store, item, "support-1", "called the customer")
    esc.transition(store, item, "resolved", "support-1", comment="refund issued")
    s = _state(store, item)
    assert (s["state"], s["version"]) == ("resolved", 5)
    assert s["first_response_at"] == first  # only the first human action counts
    assert not pd.isna(s["resolved_at"])
    esc.reopen(store, item, "anna", comment="customer wrote again")
    s = _state(store, item)
    assert (s["state"], s["owner"]) == ("assigned", "support-1") and pd.isna(s["resolved_at"])


@pytest.mark.parametrize(
    "path, bad",
    [
        ([], "resolved"),  # new → resolved skips the work
        ([("dismissed", None)], "in_progress"),
        ([("in_progress", None), ("resolved", None)], "dismissed"),
        ([("in_progress", None), ("resolved", None)], "in_progress"),
        ([("dismissed", None)], "resolved"),
        ([], "new"),
    ],
)
def test_illegal_transitions_refused_and_nothing_written(store, item, path, bad):
    for to, _ in path:
        esc.transition(store, item, to, "anna")
    before = _state(store, item)
    n_events = len(esc.history(store, item))
    with pytest.raises(esc.ActionError, match=rf"cannot move escalation {item} from \w+ to {bad}; allowed from"):
        esc.transition(store, item, bad, "anna")
    assert _state(store, item) == before
    assert len(esc.history(store, item)) == n_events


def test_other_refusals(store, item):
    esc.transition(store, item, "in_progress", "anna")
    with pytest.raises(esc.ActionError, match="has no owner; assign it to someone instead"):
        esc.transition(store, item, "assigned", "anna")
    with pytest.raises(esc.ActionError, match="unknown state 'closed'"):
        esc.transition(store, item, "closed", "anna")
    with pytest.raises(esc.ActionError, match="no escalation 'nope'"):
        esc.assign(store, "nope", "x", "anna")
    with pytest.raises(esc.ActionError, match="comment must not be empty"):
        esc.add_comment(store, item, "anna", "   ")
    esc.transition(store, item, "dismissed", "anna")
    with pytest.raises(esc.ActionError, match="reopen it before assigning"):
        esc.assign(store, item, "bob", "anna")


def test_audit_trail_replays_to_current_state(store, item):
    steps = [
        lambda: esc.assign(store, item, "bob", "anna"),
        lambda: esc.assign(store, item, "carol", "anna"),
        lambda: esc.transition(store, item, "in_progress", "carol"),
        lambda: esc.add_comment(store, item, "carol", "waiting for logs"),
        lambda: esc.transition(store, item, "assigned", "carol", comment="back to the pool"),
        lambda: esc.transition(store, item, "dismissed", "anna"),
        lambda: esc.reopen(store, item, "anna"),
        lambda: esc.transition(store, item, "in_progress", "carol"),
        lambda: esc.transition(store, item, "resolved", "carol"),
    ]
    for step in steps:
        step()
        rebuilt = esc.replay(esc.history(store, item))
        cur = _state(store, item)
        assert rebuilt == {"state": cur["state"], "owner": cur["owner"], "version": cur["version"]}
    hist = esc.history(store, item)
    assert list(hist["action"]) == [
        "create",
        "assign",
        "assign",
        "start",
        "comment",
        "hand_back",
        "dismiss",
        "reopen",
        "start",
        "resolve",
    ]
    # consecutive events chain: each from_state is the previous to_state
    assert list(hist["from_state"][1:]) == list(hist["to_state"][:-1])


def test_stale_version_refused_with_who_and_when(store, item):
    v = _state(store, item)["version"]
    esc.assign(store, item, "bob", "anna", expected_version=v)
    with pytest.raises(
        esc.ActionError, match=r"was changed by anna at \d{4}-\d\d-\d\d .*version 2, you had 1\); reload"
    ):
        esc.transition(store, item, "dismissed", "boris", expected_version=v)
    assert _state(store, item)["state"] == "assigned"


RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipeline.store import Store
    from pipeline import escalate as esc
    db, eid, me, go = sys.argv[1:5]
    store = Store(db, lock_timeout=30)
    version = int(store.query("SELECT version FROM escalations WHERE escalation_id=?", [eid])["version"][0])
    Path(go + "." + me).touch()
    while not Path(go).exists():
        time.sleep(0.005)
    try:
        esc.assign(store, eid, me, me, expected_version=version)
        print("WON")
    except esc.ActionError as e:
        print("LOST " + str(e))
    """
)


def test_two_processes_race_for_one_item(store, item, tmp_path):
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(store.path), item, who, str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("alice", "bob")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"go.{w}").exists() for w in ("alice", "bob")):
        assert time.monotonic() < deadline, "racers did not start"
        time.sleep(0.01)
    go.touch()  # both have read version 1; release them together
    outs = [p.communicate(timeout=60) for p in procs]
    results = [o[0].strip() for o in outs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert sorted(r.split()[0] for r in results) == ["LOST", "WON"], results
    winner = "alice" if results[0] == "WON" else "bob"
    loser_msg = results[1] if winner == "alice" else results[0]
    assert f"was changed by {winner}" in loser_msg and "reload" in loser_msg
    s = _state(store, item)
    assert (s["state"], s["owner"], s["version"]) == ("assigned", winner, 2)
    assert list(esc.history(store, item)["action"]) == ["create", "assign"]


ESCALATOR = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from pipeline.config import load_settings
    from pipeline.store import Store
    from pipeline import escalate as esc
    from pathlib import Path
    data_dir, db, now, ready = sys.argv[1:5]
    s = load_settings(data_dir=data_dir, db_path=db)
    for i in range(4):
        esc.escalate(s, Store(db, lock_timeout=60), now=datetime.fromisoformat(now))
        Path(ready).touch()
    print("DONE")
    """
)


# a second process refreshing in a loop; test_two_processes_race_for_one_item is the fast check
@pytest.mark.slow
def test_escalate_runs_while_analysts_act(settings, store, world, now, tmp_path):
    """A pipeline run in another process refreshes priorities while an analyst works the queue: no lost update."""
    mids = [
        world.post(
            f"Посылкин потерял посылку {i}, верните деньги", sentiment="negative", intent="complaint", thread=f"r{i}"
        )[1]
        for i in range(4)
    ]
    world.flush()
    esc.escalate(settings, store, now=now)
    eids = [stable_id(m) for m in mids]
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", ESCALATOR, str(settings.data_dir), str(store.path), now.isoformat(), str(ready)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():  # act while the other process is between and inside its runs
        assert time.monotonic() < deadline and proc.poll() is None, (
            proc.stderr.read() if proc.poll() is not None else "slow"
        )
        time.sleep(0.01)
    for eid in eids:
        esc.assign(store, eid, "bob", "anna")
        esc.transition(store, eid, "in_progress", "bob")
    esc.transition(store, eids[0], "resolved", "bob")
    esc.transition(store, eids[1], "dismissed", "bob")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "DONE" in out, err
    states = {eid: _state(store, eid) for eid in eids}
    assert [states[e]["state"] for e in eids] == ["resolved", "dismissed", "in_progress", "in_progress"]
    for eid in eids:
        rebuilt = esc.replay(esc.history(store, eid))
        assert rebuilt == {
            "state": states[eid]["state"],
            "owner": states[eid]["owner"],
            "version": states[eid]["version"],
        }
    assert store.query("SELECT count(*) n FROM escalations")["n"][0] == 4
