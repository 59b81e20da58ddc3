from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def test_split_network_equals_library_forward(tiny_bert, tiny_tokenizer):
    """Running lower layers + a task's copy of the top layers reproduces BertModel's own output (padding too)."""
    from transformers import AutoModel

    from models.network import ScorerNet, additive_mask, run_layers

    base = AutoModel.from_pretrained(tiny_bert).eval()
    tok = tiny_tokenizer
    enc = tok(["Посылкин опять потерял посылку", "ок"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        ref = base(**enc).last_hidden_state
        net = ScorerNet(base, 1, {"x": 2}).eval()
        h = net.lower_forward(enc["input_ids"], enc["attention_mask"])
        h = run_layers(net.tasks["x"].layers, h, additive_mask(enc["attention_mask"], h.dtype))
    m = enc["attention_mask"].bool()
    assert torch.allclose(h[m], ref[m], atol=1e-5)
    # frozen parts really are frozen, the task stack is not
    assert not any(p.requires_grad for p in net.lower.parameters())
    assert all(p.requires_grad for p in net.tasks["x"].parameters())


def test_window_marks_target_and_centres_long_posts():
    from models.window import CLOSE, OPEN, model_input

    short = model_input("Вчера Посылкин снова опоздал", target="посылкин")
    assert f"{OPEN}Посылкин{CLOSE}" in short
    long = "бла " * 300 + "Ласточка Банк заблокировал карту" + " ещё" * 300
    s = model_input(long, target="Ласточка Банк", max_chars=200)
    assert f"{OPEN}Ласточка Банк{CLOSE}" in s and len(s) < 230


TRAIN_ROWS = [
    ("Отличный сервис, спасибо {b}!", "positive"),
    ("{b} лучшие, всё быстро и вежливо", "positive"),
    ("Очень доволен {b}, рекомендую", "positive"),
    ("{b} супер, молодцы", "positive"),
    ("{b} ужасно работает, верните деньги", "negative"),
    ("Ненавижу {b}, опять всё сломалось", "negative"),
    ("{b} обманули, больше никогда", "negative"),
    ("Отвратительная поддержка {b}", "negative"),
    ("{b} открыл новый офис на Ленина", "neutral"),
    ("{b} опубликовал отчёт за квартал", "neutral"),
    ("В {b} сменился директор", "neutral"),
    ("{b} перенёс время работы", "neutral"),
]


def test_training_a_few_steps_lowers_loss_and_writes_a_scorer(settings, tiny_bert, tmp_path):
    from models import registry
    from models.train import TrainConfig, train

    settings.models.backbone = str(tiny_bert)
    brands = ["Посылкин", "ШопОк", "Мобилайн", "Ласточка"]
    rows = [(t.format(b=b), lab, "synthetic", b) for b in brands for t, lab in TRAIN_ROWS]
    f = tmp_path / "tiny.csv"
    pd.DataFrame(rows, columns=["text", "label", "source", "target"]).to_csv(f, index=False)
    out = tmp_path / "trained"
    res = train(
        settings,
        TrainConfig(
            task="sentiment",
            split=1,
            epochs=12,
            batch_size=8,
            lr_layers=3e-3,
            lr_head=1e-2,
            patience=100,
            max_tokens=32,
            threads=1,
            seed=1,
        ),
        [f],
        out,
        init_from=None,
    )
    first, last = np.mean(res.losses[:4]), np.mean(res.losses[-4:])
    assert last < first * 0.85 and last < np.log(3), (first, last)  # below chance level
    spec = registry.read_spec(out)
    assert spec.tasks["sentiment"].trained and spec.tasks["sentiment"].temperature > 0
    assert res.metrics["n_train"] + res.metrics["n_val"] + res.metrics["n_test"] == len(rows)
    assert registry.model_version(out) == res.version
    assert (out / "weights.safetensors").stat().st_size < 5_000_000  # only the task parts are stored


def test_combine_stacks_trained_at_different_splits(tiny_settings, tiny_bert, scorer_factory, tmp_path):
    """Intent trained above layer 1, sentiment above layer 0: the combined scorer (split 0) gives each task
    exactly what its own scorer gave."""
    from models import registry, scoring
    from models.train import combine

    low = scorer_factory(tiny_bert, tmp_path / "low", seed=5, split=0)
    high = scorer_factory(tiny_bert, tmp_path / "high", seed=6, split=1)
    both = tmp_path / "both"
    combine({"sentiment": low, "intent": high}, both, settings=tiny_settings)
    assert registry.read_spec(both).split == 0
    card = (both / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "- frozen: the embeddings only; per task a fine-tuned copy of layers 0.." in card
    texts = ["Посылкин потерял посылку", "ШопОк молодцы, всё пришло вовремя", "Как сменить тариф в Мобилайн?"]

    def probs(path):
        sc = registry.load_scorer(tiny_settings, str(path), quantize=False)
        return scoring.predict_inputs(sc, texts, batch_size=8)

    p_both, p_low, p_high = probs(both), probs(low), probs(high)
    assert np.allclose(p_both.p_sentiment, p_low.p_sentiment, atol=2e-3)
    assert np.allclose(p_both.p_intent, p_high.p_intent, atol=2e-3)
    # the two intent stacks differ, so matching `high` is not an accident
    assert not np.allclose(p_low.p_intent, p_high.p_intent, atol=2e-3)
    # without the backbone the re-split cannot be done, and says so
    import pytest

    from models.train import TrainError

    with pytest.raises(TrainError, match="different split layers"):
        combine({"sentiment": low, "intent": high}, tmp_path / "x")


def test_rows_of_a_file_without_source_column_get_the_default_source():
    """Files concatenated with one that has a `source` column read NaN there; that is no source called "nan"."""
    from models.train import intent_examples

    seed = pd.DataFrame({"text": ["Как вернуть деньги?"], "label": ["question"], "source": ["forum"]})
    cars = pd.DataFrame({"text": ["Стучит подвеска", "Отличная машина"], "label": ["problem", "noproblem"]})
    ex = intent_examples(pd.concat([seed, cars], ignore_index=True), 400)
    assert [e.source for e in ex] == ["forum", "car_reviews", "car_reviews"]


def test_init_none_starts_from_the_backbone_not_the_shipped_scorer(tiny_settings):
    """`make scorer` rebuilds the shipped sentiment from scratch: at the shipped split, the default would start
    from the very weights it is meant to rebuild."""
    import torch

    from models.train import TrainConfig, prepare_network

    cfg = TrainConfig(task="sentiment", split=1)
    shipped = prepare_network(tiny_settings, cfg, None)
    fresh = prepare_network(tiny_settings, cfg, "none")
    assert shipped.init_version is not None and fresh.init_version is None and fresh.init_dir is None
    # the intent head the shipped scorer carries was loaded in one and not the other
    w_shipped = shipped.net.stack("intent").head.weight
    w_fresh = fresh.net.stack("intent").head.weight
    assert w_shipped.std() > 0.3 > w_fresh.std()  # make_scorer's heads are N(0, 0.5); a fresh Linear's are small
    assert not torch.equal(w_shipped, w_fresh)


def test_weight_option_sets_a_sources_loss_weight(tmp_path):
    """`--weight car_reviews=2` reweights those rows only; the defaults (RuTweetCorp 0.3) stay for the rest."""
    from models.train import TrainConfig, load_examples

    rows = [("Стучит подвеска на кочках", "problem", "car_reviews")] * 12
    rows += [("Ужас, а не банк :(", "negative", "rutweetcorp_emoticon_labels")] * 12
    rows += [("Как вернуть деньги?", "question", "forum")] * 12
    f = tmp_path / "rows.csv"
    pd.DataFrame(rows, columns=["text", "label", "source"]).to_csv(f, index=False)
    weights = {}
    for e in load_examples(TrainConfig(task="intent", source_weights={"car_reviews": 2.0}), [f], None, False):
        weights.setdefault(e.source, set()).add(e.weight)
    assert weights == {"car_reviews": {2.0}, "forum": {1.0}}  # negative/positive are not intent labels
    sent = load_examples(TrainConfig(task="sentiment"), [f], None, False)
    assert {e.source: e.weight for e in sent} == {"rutweetcorp_emoticon_labels": 0.3}
    sent = load_examples(
        TrainConfig(task="sentiment", source_weights={"rutweetcorp_emoticon_labels": 1}), [f], None, False
    )
    assert {e.source: e.weight for e in sent} == {"rutweetcorp_emoticon_labels": 1.0}  # over the default
