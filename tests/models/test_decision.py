"""The sentiment decision rule: offsets fitted for SentiRuEval's metric, applied wherever labels are made."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.sentiment import SENTIMENT_LABELS as L


def _under_predicted_positive(n: int = 3000, seed: int = 0):
    """Mostly neutral rows whose positive probabilities are systematically too low (as the shipped scorer's are
    on SentiRuEval): a positive row's positive logit is only slightly above neutral's, and often below."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.2, 0.7, 0.1])
    z = rng.normal(0, 1.0, (n, 3))
    z[np.arange(n), y] += 1.5
    z[:, 2] -= 1.0  # the bias an offset can undo
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return p.astype(np.float32), y


def _f1s(y, pred):
    from models.evaluate import classification_report

    return classification_report([L[i] for i in y], [L[i] for i in pred], L)


def test_offsets_raise_positive_negative_f1_on_held_out_rows_within_the_macro_budget():
    from models.decision import choose, fit_offsets

    p, y = _under_predicted_positive(seed=1)
    off, rep = fit_offsets(p, y, L, max_drop=0.01)
    assert off[1] == 0 and off[2] > 0.3  # positive pushed up, neutral the reference
    assert rep["val_f1pn"] > rep["val_f1pn_argmax"] and rep["val_macro_f1"] >= rep["val_macro_f1_argmax"] - 0.01
    # on fresh rows from the same distribution, not the ones fitted on
    p2, y2 = _under_predicted_positive(seed=2)
    before, after = _f1s(y2, p2.argmax(1)), _f1s(y2, choose(p2, off))
    assert after["f1_pos_neg_macro"] > before["f1_pos_neg_macro"] + 0.02, (before, after)
    assert after["per_class"]["positive"]["recall"] > before["per_class"]["positive"]["recall"]
    assert after["macro_f1"] > before["macro_f1"] - 0.015


def test_no_offsets_when_argmax_is_already_best():
    from models.decision import fit_offsets

    y = np.array([0, 1, 2] * 50)
    p = np.full((150, 3), 0.1, np.float32)
    p[np.arange(150), y] = 0.8  # every row right with a wide margin
    off, rep = fit_offsets(p, y, L)
    assert off == [0.0, 0.0, 0.0] and rep["val_f1pn"] == rep["val_f1pn_argmax"] == 1.0


def test_macro_budget_binds(monkeypatch):
    """With no macro-F1 to spend, only offsets that keep macro-F1 at least as high are allowed."""
    from models.decision import choose, fit_offsets

    p, y = _under_predicted_positive(seed=3)
    off, rep = fit_offsets(p, y, L, max_drop=0.0)
    assert rep["val_macro_f1"] >= rep["val_macro_f1_argmax"]
    assert _f1s(y, choose(p, off))["macro_f1"] == pytest.approx(rep["val_macro_f1"], abs=1e-3)


@pytest.mark.parametrize("quantize", [False, pytest.param(True, marks=pytest.mark.slow)])  # int8: an export
def test_scoring_and_eval_apply_the_scorers_offsets(tiny_settings, tmp_path, quantize):
    """A scorer whose spec carries offsets labels by them in fp32 and int8, in predict_inputs and in `eval`;
    the stored probabilities stay the calibrated ones."""
    import pandas as pd

    from models import registry, scoring
    from models.decision import choose
    from models.evaluate import evaluate_file

    tiny_settings.models.cache_dir = tmp_path / "cache"
    tiny_settings.models.quantize = quantize
    texts = [f"Посылкин {'очень ' * (i % 5)}долго везёт заказ {i}" for i in range(30)]
    f = tmp_path / "labelled.csv"
    pd.DataFrame({"text": texts, "label": ["positive"] * len(texts)}).to_csv(f, index=False)
    eval_plain = evaluate_file(tiny_settings, "sentiment", f)
    plain = scoring.predict_inputs(registry.load_scorer(tiny_settings, quantize=quantize), texts, 8)
    # offsets that flip some but not all labels: the least predicted class moved up by its median margin
    lp = np.log(plain.p_sentiment)
    c = int(np.bincount(lp.argmax(1), minlength=3).argmin())
    margin = round(float(np.median(lp.max(1) - lp[:, c])) + 1e-3, 4)
    offsets = [margin if i == c else 0.0 for i in range(3)]
    d = registry.resolve_model_dir(tiny_settings)
    spec = registry.read_spec(d)
    spec.tasks["sentiment"].offsets = offsets
    (d / registry.SCORER_FILE).write_text(spec.to_json(), encoding="utf-8")
    assert json.loads((d / registry.SCORER_FILE).read_text())["tasks"]["sentiment"]["offsets"] == offsets
    shifted = scoring.predict_inputs(registry.load_scorer(tiny_settings, quantize=quantize), texts, 8)
    assert np.allclose(shifted.p_sentiment, plain.p_sentiment, atol=1e-6)
    assert shifted.sentiment == [L[i] for i in choose(plain.p_sentiment, offsets)]
    changed = sum(a != b for a, b in zip(shifted.sentiment, plain.sentiment))
    assert 0 < changed < len(texts) and shifted.sentiment.count(L[c]) > plain.sentiment.count(L[c])
    # `brandmon eval` (and `predict`, the same predict_texts) label with the offsets too
    eval_shifted = evaluate_file(tiny_settings, "sentiment", f)
    pred = [r["confusion"][2] for r in (eval_plain, eval_shifted)]  # the rows' predicted classes (truth: positive)
    assert pred[1][c] > pred[0][c], pred
