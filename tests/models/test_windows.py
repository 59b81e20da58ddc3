"""Long texts read in several windows: where the windows fall, how their verdicts combine, and that it pays off
on real long reviews."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_short_text_is_one_window_exactly_as_before():
    from models.window import model_input, model_windows

    text = "Посылкин опять потерял посылку, третий раз за месяц"
    w = model_windows(text, target="посылкин", max_chars=400, max_tokens=64, windows=4, window_tokens=128)
    assert w.inputs == [model_input(text, target="посылкин", max_chars=400)] and w.max_tokens == 64
    long = "слово " * 200
    one = model_windows(long, max_chars=400, max_tokens=64, windows=1, window_tokens=128)
    assert one.inputs == [model_input(long, max_chars=400)] and one.max_tokens == 64


def test_long_text_windows_start_at_the_mention_and_cover_the_text():
    from models.window import CLOSE, OPEN, PREFIX, model_windows

    head = " ".join(f"начало{i}" for i in range(150))
    tail = " ".join(f"конец{i}" for i in range(150))
    text = f"{head} Ласточка Банк заблокировал карту без причины. {tail}"
    w = model_windows(text, target="Ласточка Банк", max_chars=400, max_tokens=64, windows=4, window_tokens=128)
    assert len(text) > 4 * 560 and len(w.inputs) == 4 and w.max_tokens == 128
    assert f"{OPEN}Ласточка Банк{CLOSE}" in w.inputs[0]  # the mention's window comes first, marked
    assert all(x.startswith(PREFIX) and len(x) <= len(PREFIX) + 4 + 560 for x in w.inputs)
    joined = " ".join(w.inputs)
    assert "начало0 " in joined and "конец149" in joined  # the windows reach both ends of the text
    # a text of two windows' length gets two, not four
    mid = model_windows(text[:900], max_chars=400, max_tokens=64, windows=4, window_tokens=128)
    assert len(mid.inputs) == 2


def test_windows_of_one_text_are_averaged_in_logits_intent_from_the_mention_window(tiny_settings):
    from models import registry
    from models.scoring import predict_inputs, windowed_inputs

    sc = registry.load_scorer(tiny_settings, quantize=False)
    texts = [
        "Посылкин быстро привёз заказ",
        " ".join(["Посылкин долго везёт заказ, курьер не отвечает"] * 40),
        " ".join(["Посылкин вернул деньги за сломанный товар"] * 30),
    ]
    s = tiny_settings.model_copy(deep=True)
    s.models.windows, s.models.window_tokens = 4, 128  # the window arithmetic below, whatever the defaults
    inputs, groups, limits = windowed_inputs(s, sc.spec, texts, ["Посылкин"] * 3)
    assert groups[0] == 0 and groups.count(1) == 4 and groups.count(2) == 3 and len(inputs) == 8
    assert limits == [sc.spec.max_tokens] + [128] * 7
    seen: list[int] = []
    pr = predict_inputs(sc, inputs, 3, groups=groups, max_tokens=limits, progress=seen.append)
    assert pr.p_sentiment.shape == (3, 3) and sum(seen) == 3  # progress counts texts
    for i in range(3):
        rows = [j for j, g in enumerate(groups) if g == i]
        each = predict_inputs(sc, [inputs[j] for j in rows], 8, max_tokens=limits[rows[0]])
        mean_log = np.log(each.p_sentiment).mean(0)  # log-softmax differs from logits/T by a constant per row
        expect = np.exp(mean_log - mean_log.max())
        assert np.allclose(pr.p_sentiment[i], expect / expect.sum(), atol=1e-5)
        assert np.allclose(pr.p_intent[i], each.p_intent[0], atol=1e-6)
    spread = predict_inputs(sc, inputs[1:5], 8, max_tokens=128).p_sentiment
    assert np.ptp(spread[:, 0]) > 1e-4  # the windows disagree, so the mean is not any one window's


@pytest.mark.slow
def test_long_reviews_read_in_windows_score_better_than_one_window(shared_data):
    """Real long restaurant reviews (SentiRuEval-2015, ~900 characters, whole-review label), the half not used
    to choose the setting: the positive/negative F1 mean rises by more than 8 points with the default windows."""
    from models.evaluate import classification_report
    from models.scoring import predict_texts
    from models.sentiment_sources import held_out_review
    from pipeline.config import load_settings

    rows = [
        json.loads(line)
        for line in (shared_data / "aspects" / "restaurant_reviews_aspects.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    rows = [r for r in rows if r["label"] in ("positive", "negative") and held_out_review(r["id"])]
    s = load_settings()
    default = s.models.windows
    f1pn = {}
    for windows in (1, default):
        s.models.windows = windows
        pr = predict_texts(s, [r["text"] for r in rows])
        rep = classification_report([r["label"] for r in rows], pr.sentiment, ["negative", "neutral", "positive"])
        f1pn[windows] = (rep["per_class"]["positive"]["f1"] + rep["per_class"]["negative"]["f1"]) / 2
    print(f1pn)
    assert len(rows) > 150 and f1pn[default] > f1pn[1] + 0.08 and f1pn[default] > 0.8
