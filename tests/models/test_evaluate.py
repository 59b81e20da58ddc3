from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).parent


def test_metrics_equal_scikit_learn_on_fixed_predictions():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    from models.evaluate import classification_report

    df = pd.read_csv(HERE / "data" / "fixed_predictions.csv")
    labels = ["negative", "neutral", "positive"]
    rep = classification_report(df.label, df.pred, labels)
    assert rep["n"] == 20
    assert rep["accuracy"] == pytest.approx(accuracy_score(df.label, df.pred), abs=1e-4)
    assert rep["macro_f1"] == pytest.approx(f1_score(df.label, df.pred, average="macro"), abs=1e-4)
    assert rep["weighted_f1"] == pytest.approx(f1_score(df.label, df.pred, average="weighted"), abs=1e-4)
    assert rep["f1_pos_neg_macro"] == pytest.approx(
        f1_score(df.label, df.pred, labels=["positive", "negative"], average="macro"), abs=1e-4
    )
    p, r, f, s = precision_recall_fscore_support(df.label, df.pred, labels=labels, zero_division=0)
    for i, lab in enumerate(labels):
        assert rep["per_class"][lab]["precision"] == pytest.approx(p[i], abs=1e-4)
        assert rep["per_class"][lab]["recall"] == pytest.approx(r[i], abs=1e-4)
        assert rep["per_class"][lab]["f1"] == pytest.approx(f[i], abs=1e-4)
        assert rep["per_class"][lab]["support"] == s[i]
    assert rep["confusion"] == confusion_matrix(df.label, df.pred, labels=labels).tolist()
    assert rep["macro_f1"] == pytest.approx(0.6496, abs=1e-4)  # pinned: the file is fixed


def test_multilabel_report_matches_scikit_learn_and_respects_unknowns():
    from sklearn.metrics import f1_score

    from models.evaluate import multilabel_report

    rng = np.random.default_rng(0)
    y = rng.random((50, 4)) > 0.6
    pred = rng.random((50, 4)) > 0.5
    rep = multilabel_report(y, pred, ["a", "b", "c", "d"])
    assert rep["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-4)
    known = np.ones_like(y)
    known[:25, 0] = 0  # first half's label "a" unknown: only rows 25.. count for it
    rep2 = multilabel_report(y, pred, ["a", "b", "c", "d"], known=known)
    assert rep2["per_class"]["a"]["f1"] == pytest.approx(f1_score(y[25:, 0], pred[25:, 0]), abs=1e-4)
    assert rep2["per_class"]["a"]["n"] == 25


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"", "file is empty"),
        (b"text,label\n", "no data rows"),
        ("body,label\nПривет,positive\n".encode(), "missing column 'text'"),
        ("text,label\nПлохой банк,negative\n".encode("cp1251"), "not UTF-8"),
    ],
)
def test_bad_csv_gives_one_line_error(tmp_path, content, needle):
    from models.evaluate import DataError, read_labelled_csv

    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    with pytest.raises(DataError) as e:
        read_labelled_csv(f, "text", "label")
    assert needle in str(e.value) and "\n" not in str(e.value) and str(f) in str(e.value)


def test_eval_cli_bad_csv_exits_with_clear_message(tmp_path):
    from typer.testing import CliRunner

    from brandmon.cli import app

    f = tmp_path / "x.csv"
    f.write_text("body,label\nhi,positive\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "eval", str(f), "--task", "sentiment"])
    assert res.exit_code == 2
    assert "missing column 'text'" in res.output


def test_label_mapping_is_case_insensitive():
    from models.sentiment import normalise_sentiment

    assert [normalise_sentiment(x) for x in ["Negative", " POSITIVE", "neutral", "pos", "junk"]] == [
        "negative",
        "positive",
        "neutral",
        "positive",
        None,
    ]
