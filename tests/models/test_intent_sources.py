"""Intent rows from sets annotated for only some labels: the `known` column, the restaurant-review converter and
the per-source problem-report F1 that compares scorers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.intent import INTENT_LABELS


def _vec(labels):
    return [float(x in labels) for x in INTENT_LABELS]


def test_known_column_masks_the_labels_a_set_was_not_annotated_for():
    from models.train import intent_examples

    seed = pd.DataFrame({"text": ["Приложение вылетает, верните деньги"], "label": ["failure;complaint"]})
    rest = pd.DataFrame(
        {
            "text": ["Официант нагрубил, суп холодный", "Кухня отличная", "Зашли в пятницу", "Было ничего"],
            "label": ["complaint", "praise", "other", "none"],
            "known": ["complaint;praise;other"] * 3 + ["complaint;praise"],
            "source": ["restaurants"] * 4,
        }
    )
    ex = intent_examples(pd.concat([seed, rest], ignore_index=True), 400)
    assert [e.source for e in ex] == ["seed"] + ["restaurants"] * 4
    assert ex[0].y.tolist() == _vec({"failure", "complaint"}) and ex[0].mask.tolist() == [1.0] * 5
    assert ex[1].y.tolist() == _vec({"complaint"})
    assert ex[1].mask.tolist() == _vec({"complaint", "praise", "other"})
    assert ex[3].y.tolist() == _vec({"other"})
    assert ex[4].y.tolist() == [0.0] * 5 and ex[4].mask.tolist() == _vec({"complaint", "praise"})


def test_rows_whose_labels_are_outside_known_or_unknown_are_skipped():
    from models.train import intent_examples

    df = pd.DataFrame(
        {
            "text": ["a", "b", "c", "d"],
            "label": ["failure", "complaint", "bogus", "none"],
            "known": ["complaint;praise", "complaint;nonsense", "complaint", ""],
        }
    )
    assert intent_examples(df, 400) == []


def test_restaurant_sentences_take_their_labels_from_the_relevant_aspects():
    from models.intent_sources import restaurant_rows, split_of

    text = "Официант нагрубил и принёс холодный суп. Зато десерт был прекрасен! Зашли туда в пятницу вечером. Ок."
    a = text.index("Официант")
    d = text.index("десерт")
    p = text.index("пятницу")

    def asp(term, at, sentiment, mark="Rel"):
        return {"term": term, "from": str(at), "to": str(at + len(term)), "sentiment": sentiment, "mark": mark}

    rec = {
        "id": "7",
        "text": text,
        "aspects": [
            asp("Официант", a, "negative"),
            asp("десерт", d, "positive"),
            asp("пятницу", p, "negative", mark="Irr"),  # not about this restaurant: ignored
        ],
    }
    df = restaurant_rows([rec])
    assert df["text"].tolist() == [
        "Официант нагрубил и принёс холодный суп.",
        "Зато десерт был прекрасен!",
        "Зашли туда в пятницу вечером.",
    ]  # "Ок." is shorter than the minimum
    assert df["label"].tolist() == ["complaint", "praise", "other"]
    assert set(df["known"]) == {"complaint;praise;other"} and set(df["source"]) == {"restaurants"}
    assert set(df["split"]) == {split_of("restaurant:7")}  # one review, one split


def test_review_split_is_stable_and_near_its_shares():
    from models.intent_sources import split_of

    parts = [split_of(f"restaurant:{i}") for i in range(2000)]
    assert parts == [split_of(f"restaurant:{i}") for i in range(2000)]
    share = {k: parts.count(k) / len(parts) for k in ("train", "val", "test")}
    assert abs(share["test"] - 0.2) < 0.03 and abs(share["val"] - 0.1) < 0.03


def test_problem_f1_counts_failure_or_complaint_among_known_labels():
    from models.intent_eval import problem_f1, report

    y = np.array([_vec({"failure"}), _vec({"complaint"}), _vec({"praise"}), _vec(set()), _vec({"complaint"})])
    known = np.array(
        [
            _vec({"failure"}),  # car review: only failure known
            _vec({"complaint", "praise", "other"}),
            _vec({"complaint", "praise", "other"}),
            _vec({"question"}),  # nothing about problems known: not counted
            [1.0] * 5,
        ]
    )
    probs = np.zeros((5, 5))
    probs[0, INTENT_LABELS.index("complaint")] = 0.9  # problem caught by the other problem label
    probs[2, INTENT_LABELS.index("failure")] = 0.7  # false alarm
    probs[3, INTENT_LABELS.index("failure")] = 0.9  # unknown row: ignored
    # rows 1 and 4 missed
    got = problem_f1(probs, y, known)
    assert (got["n"], got["support"]) == (4, 3)
    assert (got["precision"], got["recall"]) == (0.5, round(1 / 3, 4))
    assert got["f1"] == 0.4
    rep = report(probs, y, known, ["cars", "rest", "rest", "x", "seed"])
    assert rep["cars"]["problem"]["f1"] == 1.0 and rep["rest"]["problem"]["f1"] == 0.0
    assert rep["all"]["n"] == 5


def test_retraining_intent_keeps_the_initial_scorers_int8_maxima_outside_intent(tmp_path):
    """Maxima measured on the new training texts would move sentiment's int8 smoothing, and so its int8
    probabilities; intent's own layers are measured anew."""
    import torch

    from models import quantize as qz
    from models.train import Run, keep_init_maxima

    qz.save_maxima(
        tmp_path / qz.CALIBRATION_FILE,
        {
            "layers.10.q": torch.tensor([1.0, 2.0]),
            "tasks.sentiment.head": torch.tensor([3.0]),
            "tasks.intent.head.mlp.0": torch.tensor([4.0]),
        },
    )
    new = {
        "layers.10.q": torch.tensor([9.0, 9.0]),
        "tasks.sentiment.head": torch.tensor([9.0]),
        "tasks.intent.head.mlp.0": torch.tensor([7.0]),
        "tasks.intent.head.mlp.3": torch.tensor([8.0]),
    }
    run = Run(None, None, None, None, "intent", "57a36db6d4f7", tmp_path)
    got = keep_init_maxima(run, new)
    assert {k: v.tolist() for k, v in got.items()} == {
        "layers.10.q": [1.0, 2.0],
        "tasks.sentiment.head": [3.0],
        "tasks.intent.head.mlp.0": [7.0],
        "tasks.intent.head.mlp.3": [8.0],
    }
    # sentiment changes what intent reads; a scorer trained from the backbone shares nothing with the initial one
    assert keep_init_maxima(Run(None, None, None, None, "sentiment", "v", tmp_path), new) is new
    assert keep_init_maxima(Run(None, None, None, None, "intent", None, tmp_path), new) is new
