"""Filler sentences beside training rows (``--filler-rate``): labels and held-out rows unchanged, deterministic."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from models.window import OPEN, PREFIX

ROOT = Path(__file__).resolve().parents[2]
SENTIMENT = [ROOT / "data/training/brand_sentiment.csv", ROOT / "data/training/intent_seed.csv"]
INTENT = [ROOT / "data/training/intent_seed.csv", ROOT / "data/training/brand_intent.csv"]


def _examples(task: str, files: list[Path]):
    from models.train import TrainConfig, load_examples

    return load_examples(TrainConfig(task=task), files, None, False)


@pytest.mark.parametrize("task,files", [("sentiment", SENTIMENT), ("intent", INTENT)])
def test_fillers_change_training_rows_only(task, files):
    from models.augment import PREPEND_BELOW, add_fillers, filler_pool
    from models.intent import INTENT_LABELS
    from models.sentiment import SENTIMENT_LABELS

    before = _examples(task, files)
    pool = filler_pool(before, task)
    assert len(pool) >= 40
    train_texts = {e.text[len(PREFIX) :] for e in before if e.part == "train"}
    for f in pool:
        assert OPEN not in f and 20 <= len(f) <= 120
        assert f in train_texts  # taken from training rows
    by_text = {e.text[len(PREFIX) :]: e for e in before if e.part == "train"}
    for f in pool:  # neutral, or only `other` with every label annotated
        e = by_text[f]
        if task == "sentiment":
            assert e.y == SENTIMENT_LABELS.index("neutral")
        else:
            assert [INTENT_LABELS[i] for i, v in enumerate(e.y) if v > 0.5] == ["other"]

    after = copy.deepcopy(before)
    n = add_fillers(after, task, 0.5, seed=13)
    n_train = sum(e.part == "train" for e in before)
    assert 0.4 * n_train < n < 0.6 * n_train
    changed = 0
    for a, b in zip(before, after):
        assert (a.part, a.source, a.weight) == (b.part, b.source, b.weight)
        assert a.y == b.y if task == "sentiment" else list(a.y) == list(b.y)
        if a.part != "train":
            assert a.text == b.text
            continue
        if a.text == b.text:
            continue
        changed += 1
        body, new = a.text[len(PREFIX) :], b.text[len(PREFIX) :]
        assert b.text.startswith(PREFIX)
        if new.startswith(body + " "):
            assert new[len(body) + 1 :] in pool
        else:
            assert new.endswith(" " + body) and new[: -len(body) - 1] in pool
            assert len(body) < PREPEND_BELOW  # a long text keeps its brand at the start of the window
    assert changed == n
    # the same seed gives the same rows the same fillers; rate 0 changes nothing
    again = copy.deepcopy(before)
    add_fillers(again, task, 0.5, seed=13)
    assert [e.text for e in again] == [e.text for e in after]
    untouched = copy.deepcopy(before)
    assert add_fillers(untouched, task, 0.0, seed=13) == 0
    assert [e.text for e in untouched] == [e.text for e in before]


def test_filler_rate_out_of_range_is_refused(tmp_path):
    from typer.testing import CliRunner

    from brandmon.cli import app
    from models.train import TrainConfig, TrainError

    with pytest.raises(TrainError, match="--filler-rate must be in"):
        TrainConfig(task="sentiment", filler_rate=1.5)
    args = ["--data-dir", str(tmp_path), "train", "--task", "sentiment", "--data", str(SENTIMENT[0])]
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o"), "--filler-rate", "2"])
    assert r.exit_code == 2
    assert "filler-rate" in r.output


def test_a_run_with_fillers_trains_on_them_and_holds_out_the_same_rows(settings, tiny_bert, tmp_path):
    import pandas as pd

    from models.train import train
    from tests.models.test_resume import _data
    from tests.models.test_soup import _cfg, _stack

    settings.models.backbone = str(tiny_bert)
    neutral = [f"Сегодня в городе {w} прошёл обычный день без происшествий" for w in "абвгдежзиклмнопрст"]
    extra = tmp_path / "neutral.csv"
    pd.DataFrame({"text": neutral, "label": "neutral", "source": "chatter"}).to_csv(extra, index=False)
    data = [_data(tmp_path), extra]
    runs = {
        r: train(settings, _cfg(split=0, filler_rate=r), data, tmp_path / str(r), init_from="none") for r in (0.0, 0.5)
    }
    plain, filled = (runs[r].metrics for r in (0.0, 0.5))
    assert (plain["n_train"], plain["n_val"], plain["n_test"]) == (filled["n_train"], filled["n_val"], filled["n_test"])
    a, b = (_stack(runs[r].out_dir) for r in (0.0, 0.5))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) > 1e-4  # the fillers changed what it learned


def test_filler_eval_takes_its_fillers_from_its_own_held_out_part():
    """`models.filler_eval` reads held-out rows with fillers from the same held-out part, never training rows."""
    from models.augment import filler_pool

    rows = _examples("sentiment", SENTIMENT)
    by_part = {p: {e.text[len(PREFIX) :] for e in rows if e.part == p} for p in ("train", "val", "test")}
    val = filler_pool(rows, "sentiment", "val")
    assert len(val) >= 5 and set(val) <= by_part["val"]
    assert not set(val) & set(filler_pool(rows, "sentiment"))
