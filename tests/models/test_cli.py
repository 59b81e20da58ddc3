from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner


def _env(monkeypatch, tiny_settings):
    monkeypatch.setenv("BRANDMON_MODELS__BACKBONE", tiny_settings.models.backbone)
    monkeypatch.setenv("BRANDMON_MODELS__SENTIMENT", tiny_settings.models.sentiment)
    monkeypatch.setenv("BRANDMON_MODELS__THREADS", "1")


# predicts and evaluates through the CLI with a scorer; test_score_models_list_activate_commands stays fast
@pytest.mark.slow
def test_predict_and_eval_commands(tiny_settings, tmp_path, monkeypatch):
    from brandmon.cli import app

    _env(monkeypatch, tiny_settings)
    f = tmp_path / "in.csv"
    pd.DataFrame(
        {
            "text": ["Посылкин потерял посылку", "ШопОк молодцы", "Банк открыл офис"],
            "brand": ["Посылкин", "ШопОк", None],
            "label": ["Negative", "POSITIVE", "neutral"],
        }
    ).to_csv(f, index=False)
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(tmp_path),
            "predict",
            str(f),
            "--text-col",
            "text",
            "--target-col",
            "brand",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert list(df.columns[:3]) == ["text", "brand", "label"]
    for c in ["sentiment", "p_negative", "p_neutral", "p_positive", "unsure", "intent"]:
        assert c in df.columns
    assert ((df.p_negative + df.p_neutral + df.p_positive - 1).abs() < 1e-3).all()

    r = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(tmp_path),
            "eval",
            str(f),
            "--task",
            "sentiment",
            "--text-col",
            "text",
            "--label-col",
            "label",
        ],
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["n"] == 3 and {
        "accuracy",
        "macro_f1",
        "f1_pos_neg_macro",
        "per_class",
        "confusion",
        "texts_per_s",
    } <= set(res)
    assert sum(map(sum, res["confusion"])) == 3


def test_score_models_list_activate_commands(tiny_settings, store, mentions_factory, monkeypatch):
    from brandmon.cli import app

    _env(monkeypatch, tiny_settings)
    mentions_factory(store, [("d1", "posylkin", "Посылкин опоздал", "Посылкин", None)])
    args = ["--data-dir", str(tiny_settings.data_dir)]
    r = CliRunner().invoke(app, args + ["score"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["scored"] == 1
    r = CliRunner().invoke(app, args + ["models", "list", "--format", "csv"])
    assert r.exit_code == 0 and "test-scorer-1" in r.stdout
    r = CliRunner().invoke(app, args + ["models", "activate", "nope"])
    assert r.exit_code == 1 and "no registered scoring model 'nope'" in r.output
