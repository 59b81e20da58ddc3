from __future__ import annotations

import json


def _scores(store):
    return store.query(
        "SELECT mention_id, model, model_version, sentiment, p_neg, p_neu, p_pos, unsure, intent, "
        "intent_probs_json FROM scores ORDER BY mention_id, model_version"
    )


ROWS = [
    ("d1", "posylkin", "Посылкин опять потерял посылку, ужас", "Посылкин", None),
    ("d2", "shopok", "Заказал в ШопОк, всё пришло вовремя, спасибо", "ШопОк", None),
    ("d3", "lastochka", "Ласточка Банк заблокировал карту без объяснений", "Ласточка Банк", None),
    ("d4", "posylkin", "Посылкин опять потерял посылку, ужас", "Посылкин", "d1"),  # duplicate document
    ("d5", "mobiline", "Мобилайн: нет связи с утра", None, None),  # no matched string: no marker
]


def test_score_pending_scores_once_and_skips_duplicates(tiny_settings, store, mentions_factory, facts_in_step):
    from models import scoring

    ids = mentions_factory(store, ROWS)
    first = scoring.score_pending(tiny_settings, store)
    assert first["scored"] == 4 and first["pending"] == 4  # d4 is a duplicate
    assert first["model_calls"] >= 1
    df = _scores(store)
    assert set(df.mention_id) == {ids[0], ids[1], ids[2], ids[4]}
    assert ((df.p_neg + df.p_neu + df.p_pos - 1).abs() < 1e-4).all()
    assert set(df.sentiment) <= {"negative", "neutral", "positive"}
    probs = json.loads(df.intent_probs_json.iloc[0])
    assert set(probs) == {"question", "failure", "complaint", "praise", "other"}
    # the default model was registered and activated, so the shared view shows these scores
    active = store.query("SELECT model, model_version FROM models WHERE active")
    assert len(active) == 1 and active.model_version[0] == first["model_version"]
    cur = store.query("SELECT * FROM current_scores WHERE sentiment IS NOT NULL")
    assert len(cur) == 4
    assert facts_in_step(store)  # the dashboard's facts got the scores in the same transactions
    assert store.query("SELECT count(sentiment) AS n FROM mention_facts")["n"][0] == 4

    loads = scoring.LOADS["count"]
    again = scoring.score_pending(tiny_settings, store)
    assert again["scored"] == 0 and again["model_calls"] == 0 and again["pending"] == 0
    assert scoring.LOADS["count"] == loads  # nothing loaded either
    assert _scores(store).equals(df)

    # an edited post changes its mention's context: only that one is scored again
    with store.write() as con:
        con.execute(
            "UPDATE mentions SET context = 'Посылкин нашёл посылку', context_hash = 'h2' WHERE mention_id = ?", [ids[0]]
        )
    third = scoring.score_pending(tiny_settings, store)
    assert third["scored"] == 1 and third["model_calls"] == 1


def test_rescore_keeps_old_versions_and_activate_switches(
    tiny_settings, store, mentions_factory, scorer_factory, tiny_bert, tmp_path, facts_in_step
):
    from models import registry, scoring

    mentions_factory(store, ROWS)
    a = scoring.score_pending(tiny_settings, store)
    other = scorer_factory(tiny_bert, tmp_path / "scorer-b", seed=2)
    b = scoring.rescore(tiny_settings, store, str(other))
    assert b["scored"] == 4 and b["model_version"] != a["model_version"]
    df = _scores(store)
    assert sorted(df.groupby("model_version").size().tolist()) == [4, 4]  # both versions kept
    # a is still the active one until switched
    assert registry.active_model(store) == (a["model"], a["model_version"])
    cur_a = store.query("SELECT mention_id, p_neg FROM current_scores WHERE p_neg IS NOT NULL ORDER BY 1")
    registry.activate(store, b["model"], b["model_version"][:6])
    assert registry.active_model(store) == (b["model"], b["model_version"])
    cur_b = store.query(
        "SELECT mention_id, p_neg, model_version FROM current_scores WHERE p_neg IS NOT NULL ORDER BY 1"
    )
    assert (cur_b.model_version == b["model_version"]).all()
    assert not (cur_a.p_neg.round(6) == cur_b.p_neg.round(6)).all()
    assert facts_in_step(store)  # activation rewrote every mention's current score in the facts
    # rescoring again is a no-op; models list shows both with their counts
    assert scoring.rescore(tiny_settings, store, str(other))["model_calls"] == 0
    lst = registry.list_models(store)
    assert sorted(lst.scores.tolist()) == [4, 4] and lst.active.sum() == 1
    # a brand filter limits rescoring
    c = scoring.rescore(
        tiny_settings, store, str(scorer_factory(tiny_bert, tmp_path / "scorer-c", seed=3)), brands=["shopok"]
    )
    assert c["scored"] == 1


def test_corrections_override_model_output(tiny_settings, store, mentions_factory):
    from models import scoring
    from pipeline.store import utcnow

    ids = mentions_factory(store, ROWS[:2])
    scoring.score_pending(tiny_settings, store)
    with store.write() as con:
        con.execute("INSERT INTO corrections VALUES (?, 'sentiment', 'positive', 'anna', ?)", [ids[0], utcnow()])
    row = store.query("SELECT sentiment, corrected FROM current_scores WHERE mention_id = ?", [ids[0]])
    assert row.sentiment[0] == "positive" and bool(row.corrected[0])


def test_unknown_model_is_a_clear_error(tiny_settings, store):
    import pytest

    from models import registry, scoring

    with pytest.raises(registry.ModelError, match="no scorer.json"):
        scoring.rescore(tiny_settings, store, "no-such-model")


def test_parallel_workers_score_every_row_as_one_worker_does(tiny_settings):
    """Batches on 3 threads at once: each row gets exactly the probabilities the sequential run gives it (rows of
    different lengths land in different batches, so a mix-up would show)."""
    import numpy as np

    from models import registry, scoring

    sc = registry.load_scorer(tiny_settings, None, quantize=True)
    texts = [("Посылкин " + "очень " * (i % 9) + f"долго везёт заказ номер {i}") for i in range(40)]
    seen: list[int] = []
    one = scoring.predict_inputs(sc, texts, batch_size=4)
    many = scoring.predict_inputs(sc, texts, batch_size=4, workers=3, progress=seen.append)
    assert one.calls == many.calls == 10 and sum(seen) == 40
    assert np.allclose(one.p_sentiment, many.p_sentiment, atol=1e-6)
    assert np.allclose(one.p_intent, many.p_intent, atol=1e-6)
    assert one.sentiment == many.sentiment and one.intent == many.intent
    # the rows differ from each other, so equality above is not all-equal output
    assert np.ptp(one.p_sentiment[:, 0]) > 1e-4

    tiny_settings.models.threads, tiny_settings.models.workers = 2, 0
    assert scoring.set_threads(tiny_settings) == 2
    tiny_settings.models.workers = 1
    assert scoring.set_threads(tiny_settings) == 1


def test_scoring_gives_torch_threads_back(tiny_settings, store, mentions_factory):
    """Scoring runs one intra-op thread per worker, and afterwards torch has the thread count it had (the theme
    embedder later in the same flow wants every core)."""
    import torch

    from models import scoring

    mentions_factory(store, ROWS)
    tiny_settings.models.threads, tiny_settings.models.workers = 2, 2
    torch.set_num_threads(2)
    before = torch.get_num_threads()
    seen = []
    with scoring.scoring_threads(tiny_settings) as w:
        seen.append((w, torch.get_num_threads()))
    assert seen == [(2, 1)] and torch.get_num_threads() == before
    assert scoring.score_pending(tiny_settings, store)["scored"] == 4
    assert torch.get_num_threads() == before
