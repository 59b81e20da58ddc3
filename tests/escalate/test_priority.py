"""escalate(): who gets into the queue, in which order, why; idempotence; dismissal and reopening."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from pipeline import escalate as esc
from pipeline.store import stable_id


def _mixed(world, now):
    w = world
    ids = {}
    _, ids["legal"] = w.post(
        "Посылкин потерял посылку, подам в суд и напишу в Роспотребнадзор, верните деньги!",
        sentiment="negative",
        intent="complaint",
        thread="t1",
        at=now - timedelta(hours=2),
    )
    _, ids["failure"] = w.post(
        "У Посылкин приложение падает при оплате, третий день не могу отправить",
        sentiment="negative",
        intent="failure",
        thread="t2",
        at=now - timedelta(hours=3),
    )
    _, ids["old_complaint"] = w.post(
        "Посылкин задержал доставку на неделю, безобразие",
        sentiment="negative",
        intent="complaint",
        thread="t3",
        at=now - timedelta(days=20),
    )
    _, ids["question"] = w.post(
        "Подскажите, Посылкин возит в Казань?", sentiment="neutral", intent="question", thread="t4"
    )
    _, ids["praise"] = w.post("Посылкин доставил за день, спасибо", sentiment="positive", intent="praise", thread="t4")
    _, ids["praise_refund"] = w.post(
        "Посылкин сделал возврат за 5 минут, супер", sentiment="positive", intent="praise", thread="t5"
    )
    _, ids["spam"] = w.post(
        "Посылкин обманщики!!! заходите на наш сайт", sentiment="negative", intent="complaint", spam=True, thread="t6"
    )
    dup_doc, ids["original"] = w.post(
        "Посылкин потерял мою посылку, верните деньги", sentiment="negative", intent="complaint", thread="t7"
    )
    _, ids["dup"] = w.post(
        "Посылкин потерял мою посылку, верните деньги",
        sentiment="negative",
        intent="complaint",
        thread="t8",
        dup_of=dup_doc,
    )
    _, ids["official"] = w.post(
        "Посылкин: приносим извинения, напишите в личку номер заказа",
        sentiment="negative",
        intent="complaint",
        official=True,
        thread="t2",
        at=now - timedelta(hours=1),
    )
    w.flush()
    return ids


def test_queue_order_reasons_and_exclusions(settings, store, world, now):
    ids = _mixed(world, now)
    counts = esc.escalate(settings, store, now=now)
    assert counts["scored"] == 7  # 10 posts; spam, duplicate and the official answer never count
    q = esc.queue(store, now=now)
    queued = dict(zip(q["mention_id"], q["priority"]))
    for name in ("spam", "dup", "official", "question", "praise", "praise_refund"):
        assert ids[name] not in queued, name
    for name in ("legal", "failure", "old_complaint", "original"):
        assert ids[name] in queued, name
    assert q.iloc[0]["mention_id"] == ids["legal"]
    assert q.iloc[0]["level"] == "critical"
    # recency: the same kind of complaint 20 days old ranks below a fresh one
    assert queued[ids["original"]] > queued[ids["old_complaint"]]

    r = json.loads(q.iloc[0]["reasons_json"])
    total = sum(f["contribution"] for f in r["factors"].values())
    assert total == pytest.approx(r["priority"], abs=1e-3)
    assert r["factors"]["threat"]["weight"] == settings.escalation.weights["threat"]
    assert {t["term"] for t in r["threat_terms"]} >= {"суд", "роспотребнадзор*", "вернуть деньга"}
    assert "суд (legal)" in q.iloc[0]["why"]

    # the official answer in thread t2 counts as the first response to the failure report
    row = q[q["mention_id"] == ids["failure"]].iloc[0]
    assert not pd.isna(row["first_response_at"])
    assert (now - row["first_response_at"].to_pydatetime()) == timedelta(hours=1)
    hist = esc.history(store, row["escalation_id"])
    assert list(hist["action"]) == ["create", "official_answer"]


def test_weights_and_thresholds_come_from_settings(settings, store, world, now):
    ids = _mixed(world, now)
    esc.escalate(settings, store, now=now)
    q = esc.queue(store, now=now).set_index("mention_id")
    before = json.loads(q.loc[ids["legal"], "reasons_json"])
    threat = before["factors"]["threat"]["contribution"]
    assert threat > 0.15

    settings.escalation.weights["threat"] = 0.0
    settings.escalation.level_thresholds = {"critical": 0.95, "high": 0.9, "medium": 0.85}
    esc.escalate(settings, store, now=now)
    after = esc.queue(store, now=now).set_index("mention_id")
    assert after.loc[ids["legal"], "priority"] == pytest.approx(before["priority"] - threat, abs=1e-3)
    assert set(after["level"]) == {"low"}

    settings.escalation.min_priority = 0.99  # nothing qualifies: no new item, untouched new ones leave
    _, fresh = world.post("Посылкин снова потерял посылку", sentiment="negative", intent="complaint", thread="new")
    world.flush()
    c = esc.escalate(settings, store, now=now)
    assert (c["created"], c["auto_dismissed"], c["open"]) == (0, 4, 0)
    assert fresh not in set(esc.queue(store, state=list(esc.STATES), now=now)["mention_id"])


def test_rerun_is_idempotent_and_updates_open_priority(settings, store, world, now):
    ids = _mixed(world, now)
    first = esc.escalate(settings, store, now=now)
    n_items = store.query("SELECT count(*) n FROM escalations")["n"][0]
    n_events = store.query("SELECT count(*) n FROM escalation_events")["n"][0]
    before = store.query("SELECT priority FROM escalations WHERE mention_id = ?", [ids["failure"]])["priority"][0]
    second = esc.escalate(settings, store, now=now + timedelta(hours=24))
    assert first["created"] == n_items == 4 and second["created"] == 0
    assert store.query("SELECT count(*) n FROM escalations")["n"][0] == n_items
    assert store.query("SELECT count(*) n FROM escalation_events")["n"][0] == n_events
    after = store.query("SELECT priority, version FROM escalations WHERE mention_id = ?", [ids["failure"]])
    assert after["priority"][0] < before  # a day older: recency fell
    assert after["version"][0] == 1  # a refresh does not invalidate an analyst's open form


def test_dismissed_stays_dismissed_until_new_negative_reply(settings, store, world, now):
    w = world
    doc, mid = w.post(
        "Посылкин опять потерял посылку, верните деньги",
        sentiment="negative",
        intent="complaint",
        thread="hot",
        at=now - timedelta(hours=5),
    )
    w.flush()
    esc.escalate(settings, store, now=now)
    eid = stable_id(mid)
    esc.transition(store, eid, "dismissed", "anna", comment="troll")
    dismissed_at = store.query("SELECT max(event_at) t FROM escalation_events WHERE to_state='dismissed'")["t"][0]

    # a neutral reply and a positive one do not reopen it, nor does re-running
    w.post(
        "Посылкин, а номер заказа какой?",
        sentiment="neutral",
        intent="question",
        thread="hot",
        at=dismissed_at + timedelta(minutes=5),
    )
    w.post(
        "У меня с Посылкин всё ок",
        sentiment="positive",
        intent="praise",
        thread="hot",
        at=dismissed_at + timedelta(minutes=6),
    )
    # a negative reply in ANOTHER thread does not either
    w.post(
        "Посылкин ужасен",
        sentiment="negative",
        intent="complaint",
        thread="other",
        at=dismissed_at + timedelta(minutes=7),
    )
    w.flush()
    assert esc.escalate(settings, store, now=now)["reopened"] == 0
    assert store.query("SELECT state FROM escalations WHERE escalation_id=?", [eid])["state"][0] == "dismissed"

    w.post(
        "Посылкин и мне не вернул деньги, тоже жду месяц",
        sentiment="negative",
        intent="complaint",
        thread="hot",
        at=dismissed_at + timedelta(minutes=30),
    )
    w.flush()
    c = esc.escalate(settings, store, now=now)
    assert c["reopened"] == 1
    assert store.query("SELECT state FROM escalations WHERE escalation_id=?", [eid])["state"][0] == "new"
    last = esc.history(store, eid).iloc[-1]
    assert (last["action"], last["actor"], last["from_state"], last["to_state"]) == (
        "reopen",
        "system",
        "dismissed",
        "new",
    )
    assert "1 new negative reply" in last["comment"]
    assert esc.escalate(settings, store, now=now)["reopened"] == 0  # once


def test_correction_to_positive_takes_untouched_item_out(settings, store, world, now):
    _, mid = world.post("Посылкин опоздал на день, плохо", sentiment="negative", intent="complaint", thread="x")
    world.flush()
    esc.escalate(settings, store, now=now)
    esc.correct(store, mid, "sentiment", "positive", "anna")
    esc.correct(store, mid, "intent", "praise", "anna")
    c = esc.escalate(settings, store, now=now)
    assert c["auto_dismissed"] == 1
    row = store.query("SELECT state, priority FROM escalations WHERE mention_id=?", [mid])
    assert row["state"][0] == "dismissed" and row["priority"][0] < settings.escalation.min_priority
    cs = store.query("SELECT sentiment, intent, corrected FROM current_scores WHERE mention_id=?", [mid])
    assert (cs["sentiment"][0], cs["intent"][0], bool(cs["corrected"][0])) == ("positive", "praise", True)
    actions = list(esc.history(store, stable_id(mid))["action"])
    assert actions == ["create", "correct", "correct", "auto_dismiss"]


def test_correct_rejects_bad_input(store, world):
    _, mid = world.post("Посылкин ок", sentiment="neutral")
    world.flush()
    with pytest.raises(esc.ActionError, match="sentiment must be one of"):
        esc.correct(store, mid, "sentiment", "angry", "anna")
    with pytest.raises(esc.ActionError, match="cannot correct"):
        esc.correct(store, mid, "topic", "x", "anna")
    with pytest.raises(esc.ActionError, match="no mention"):
        esc.correct(store, "nope", "intent", "praise", "anna")
    assert store.query("SELECT count(*) n FROM corrections")["n"][0] == 0


def test_item_leaves_when_post_is_later_flagged_spam(settings, store, world, now):
    doc, mid = world.post(
        "Посылкин верните деньги, ссылка в профиле", sentiment="negative", intent="complaint", thread="s"
    )
    _, kept = world.post("Посылкин потерял посылку", sentiment="negative", intent="complaint", thread="s2")
    world.flush()
    esc.escalate(settings, store, now=now)
    esc.assign(store, stable_id(kept), "bob", "anna")
    with store.write() as con:  # what a later ingest does when the author turns out to be a spammer
        con.execute("UPDATE documents SET spam = TRUE")
    c = esc.escalate(settings, store, now=now)
    assert c["auto_dismissed"] == 1
    assert store.query("SELECT state FROM escalations WHERE mention_id=?", [mid])["state"][0] == "dismissed"
    assert "marked as spam" in esc.history(store, stable_id(mid))["comment"].iloc[-1]
    # an item a human already owns is left to the human
    assert store.query("SELECT state FROM escalations WHERE mention_id=?", [kept])["state"][0] == "assigned"
    assert esc.escalate(settings, store, now=now)["auto_dismissed"] == 0


def test_empty_database(settings, store, now):
    c = esc.escalate(settings, store, now=now)
    assert c["scored"] == 0 and c["created"] == 0 and c["open"] == 0
    assert esc.queue(store, now=now).empty


@pytest.mark.parametrize("sla_from", ["queued", "posted"])
def test_sla_clock(settings, store, world, now, sla_from):
    settings.escalation.sla_from = sla_from
    _, mid = world.post(
        "Посылкин, подам в суд, верните деньги", sentiment="negative", intent="complaint", at=now - timedelta(days=3)
    )
    world.flush()
    esc.escalate(settings, store, now=now)
    r = store.query("SELECT level, sla_due_at, created_at FROM escalations WHERE mention_id=?", [mid]).iloc[0]
    hours = settings.escalation.sla_hours[r["level"]]
    start = r["created_at"] if sla_from == "queued" else pd.Timestamp(now - timedelta(days=3))
    assert r["sla_due_at"] == start + pd.Timedelta(hours=hours)
    esc.escalate(settings, store, now=now)  # a refresh keeps the clock
    assert (
        store.query("SELECT sla_due_at FROM escalations WHERE mention_id=?", [mid])["sla_due_at"][0] == r["sla_due_at"]
    )


def test_unsure_model_output_is_flagged(settings, store, world, now):
    _, mid = world.post(
        "Посылкин ну конечно, как всегда вовремя", sentiment="negative", intent="complaint", p_neg=0.9, unsure=True
    )
    world.flush()
    esc.escalate(settings, store, now=now)
    q = esc.queue(store, now=now)
    assert json.loads(q.iloc[0]["reasons_json"])["model_unsure"] is True
    assert q.iloc[0]["why"].endswith("model unsure: check the sentiment")
