"""Layer-wise learning-rate decay (``--lr-decay``): lower layers move less than the top one."""

from __future__ import annotations

import pytest

from tests.models.test_resume import _data
from tests.models.test_soup import _cfg, _stack


def _moved(run, ref, layer: int) -> float:
    keys = [k for k in ref if f".layers.{layer}." in k]
    assert keys
    return float(sum((run[k] - ref[k]).abs().mean() for k in keys) / len(keys))


def test_lower_layers_learn_at_a_decayed_rate(settings, tiny_bert, tmp_path):
    from models.train import TrainConfig, TrainError, train

    settings.models.backbone = str(tiny_bert)
    data = [_data(tmp_path)]
    # the tiny backbone has 2 layers; split 0 trains both. A near-zero rate leaves them as they started.
    runs = {
        name: _stack(train(settings, _cfg(split=0, **kw), data, tmp_path / name, init_from="none").out_dir)
        for name, kw in {"start": {"lr_layers": 1e-12}, "flat": {}, "decayed": {"lr_decay": 1e-3}}.items()
    }
    start, flat, decayed = runs["start"], runs["flat"], runs["decayed"]
    assert _moved(flat, start, 0) > 1e-3 and _moved(flat, start, 1) > 1e-3
    # the top layer learns at --lr-layers either way; the one below at a thousandth of it
    assert _moved(decayed, start, 1) > 0.5 * _moved(flat, start, 1)
    assert _moved(decayed, start, 0) < 0.02 * _moved(flat, start, 0)

    with pytest.raises(TrainError, match="--lr-decay must be in"):
        TrainConfig(task="sentiment", lr_decay=0)
