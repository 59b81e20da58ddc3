"""Runs of one recipe that differ only in their order (``--order-seed``) averaged into one scorer (``--soup``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.models.test_resume import _cfg as _resume_cfg
from tests.models.test_resume import _data


@pytest.fixture
def rows_csv(tmp_path):
    return _data(tmp_path)


def _cfg(**kw):
    """test_resume's tiny run without its checkpoints, offsets and frequent validation."""
    base = dict(epochs=4, eval_every=None, checkpoint_minutes=5.0, offsets_max_drop=None)
    return _resume_cfg(**{**base, **kw})


def _stack(path):
    from safetensors.torch import load_file

    return {
        k: v.float()
        for k, v in load_file(str(path / "weights.safetensors")).items()
        if k.startswith("tasks.sentiment.")
    }


def test_order_seed_keeps_the_split_and_changes_the_run(settings, tiny_bert, rows_csv, tmp_path):
    from models.train import load_examples, train

    settings.models.backbone = str(tiny_bert)
    parts = [[e.part for e in load_examples(_cfg(order_seed=s), [rows_csv], None, False)] for s in (None, 1, 2)]
    assert parts[0] == parts[1] == parts[2]  # the same held-out rows whatever the order

    a = train(settings, _cfg(order_seed=1), [rows_csv], tmp_path / "a", init_from="none")
    a2 = train(settings, _cfg(order_seed=1), [rows_csv], tmp_path / "a2", init_from="none")
    b = train(settings, _cfg(order_seed=2), [rows_csv], tmp_path / "b", init_from="none")
    assert a.losses == a2.losses  # an order seed is a seed: the same one repeats the run
    assert a.losses[0] == pytest.approx(b.losses[0], rel=0.5) and a.losses != b.losses
    wa, wb = _stack(tmp_path / "a"), _stack(tmp_path / "b")
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)


def test_soup_averages_runs_and_reports_their_cost(settings, tiny_bert, rows_csv, tmp_path):
    from models import registry, scoring
    from models.train import train

    settings.models.backbone = str(tiny_bert)
    settings.models.threads = 1
    runs = [train(settings, _cfg(order_seed=s), [rows_csv], tmp_path / f"r{s}", init_from="none") for s in (1, 2)]
    dirs = [r.out_dir for r in runs]
    soup = train(settings, _cfg(soup=[str(d) for d in dirs]), [rows_csv], tmp_path / "soup", init_from=str(dirs[0]))

    ws = [_stack(d) for d in dirs]
    mean = {k: (ws[0][k] + ws[1][k]) / 2 for k in ws[0]}
    got = _stack(tmp_path / "soup")
    assert got.keys() == mean.keys()
    assert all(torch.allclose(got[k], mean[k], atol=2e-3) for k in mean)  # fp16 on disk
    assert not torch.allclose(got["tasks.sentiment.head.weight"], ws[0]["tasks.sentiment.head.weight"], atol=1e-3)

    m = soup.metrics
    assert [i["version"] for i in m["soup"]] == [r.version for r in runs]
    # the report rounds to 0.1 s: compare with the rounded sum (0.1 + 0.2 is 0.30000000000000004 in floats)
    assert m["steps"] == 0 and m["cpu_seconds"] >= round(sum(r.metrics["cpu_seconds"] for r in runs), 1)
    assert m["n_test"] == runs[0].metrics["n_test"]  # reported on the runs' own held-out rows
    card = (tmp_path / "soup" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "the average of 2 runs of one recipe (a model soup)" in card and runs[1].version in card

    sc = registry.load_scorer(settings, str(tmp_path / "soup"), quantize=False)
    p = scoring.predict_inputs(sc, ["[[Посылкин]] молодцы", "[[ШопОк]] обманули"], batch_size=2).p_sentiment
    assert np.isfinite(p).all() and np.allclose(p.sum(1), 1, atol=1e-4)


def test_soup_refuses_runs_of_another_recipe(settings, tiny_bert, rows_csv, tmp_path):
    from models.train import TrainError, train

    settings.models.backbone = str(tiny_bert)
    lin = train(settings, _cfg(epochs=1), [rows_csv], tmp_path / "lin", init_from="none").out_dir
    mlp = train(settings, _cfg(epochs=1, head_width=8), [rows_csv], tmp_path / "mlp", init_from="none").out_dir
    with pytest.raises(TrainError, match="only runs of one recipe"):
        train(settings, _cfg(soup=[str(lin), str(mlp)]), [rows_csv], tmp_path / "x", init_from=str(lin))
    with pytest.raises(TrainError, match="at least two"):
        train(settings, _cfg(soup=[str(lin)]), [rows_csv], tmp_path / "y", init_from=str(lin))
    with pytest.raises(TrainError, match="unreadable scorer spec"):
        train(settings, _cfg(soup=[str(lin), str(tmp_path)]), [rows_csv], tmp_path / "z", init_from=str(lin))
    assert not (tmp_path / "x").exists() or not (tmp_path / "x" / "weights.safetensors").exists()
