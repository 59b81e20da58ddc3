"""Training resumes from its checkpoint and ends with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.models.test_network_train import TRAIN_ROWS


class Interrupted(Exception):
    """Stands in for a kill: raised from the progress callback, after that point's checkpoint is written."""


def _data(tmp_path):
    brands = ["Посылкин", "ШопОк", "Мобилайн", "Ласточка", "Быстрокат", "Горсвет", "Чайхана", "Вектор"]
    rows = [(t.format(b=b), lab, "synthetic", b) for b in brands for t, lab in TRAIN_ROWS]
    f = tmp_path / "tiny.csv"
    pd.DataFrame(rows, columns=["text", "label", "source", "target"]).to_csv(f, index=False)
    return f


def _cfg(**kw):
    from models.train import TrainConfig

    base = dict(
        task="sentiment",
        split=1,
        epochs=3,
        batch_size=8,
        lr_layers=3e-3,
        lr_head=1e-2,
        patience=100,
        max_tokens=32,
        threads=1,
        seed=1,
        eval_every=4,
        checkpoint_minutes=0,
        offsets_max_drop=0.01,
    )
    return TrainConfig(**{**base, **kw})


def _stop_at(stage: str, n: int):
    def progress(s: str, done: int, total: int) -> None:
        if s.startswith(stage) and done >= n:
            raise Interrupted(f"{s} {done}/{total}")

    return progress


def test_interrupted_twice_and_resumed_equals_a_straight_run(settings, tiny_bert, tmp_path):
    from safetensors.torch import load_file

    from models import registry
    from models.checkpoint import CHECKPOINT_DIR
    from models.train import train

    settings.models.backbone = str(tiny_bert)
    data = [_data(tmp_path)]
    straight = train(settings, _cfg(), data, tmp_path / "straight", init_from=None)
    assert straight.metrics["steps"] == 30  # 80 training rows, 10 batches, 3 epochs
    assert not (tmp_path / "straight" / CHECKPOINT_DIR).exists()  # removed once the scorer is written

    out = tmp_path / "resumed"
    # killed after the first of the two caching batches: one cache shard, no training state yet
    with pytest.raises(Interrupted):
        train(settings, _cfg(), data, out, init_from=None, progress=_stop_at("cache", 1))
    ck = out / CHECKPOINT_DIR
    assert [p.name for p in sorted(ck.glob("cache-*.pt"))] == ["cache-0000.pt"]
    assert not (ck / "state.pt").exists()
    # resumed, then killed in the second epoch (step 13 of 30)
    with pytest.raises(Interrupted):
        train(settings, _cfg(), data, out, init_from=None, progress=_stop_at("epoch 2", 13), resume=True)
    assert (ck / "state.pt").exists()
    resumed = train(settings, _cfg(), data, out, init_from=None, resume=True)

    a = load_file(str(tmp_path / "straight" / registry.WEIGHTS_FILE))
    b = load_file(str(out / registry.WEIGHTS_FILE))
    assert a.keys() == b.keys()
    assert all(a[k].equal(b[k]) for k in a), [k for k in a if not a[k].equal(b[k])][:3]
    assert resumed.losses == straight.losses and len(resumed.losses) == 30
    for key in ("best_step", "steps", "temperature", "test", "offsets"):
        assert resumed.metrics[key] == straight.metrics[key], key
    assert registry.read_spec(out).tasks["sentiment"] == registry.read_spec(tmp_path / "straight").tasks["sentiment"]


def test_resume_refuses_other_rows_and_restarts_training_on_other_options(settings, tiny_bert, tmp_path):
    """Other rows or another network below the trained layers: refused. Other training options: the cached
    layers are kept and training starts over, ending as a straight run with those options."""
    from safetensors.torch import load_file

    from models import registry
    from models.train import TrainError, train

    settings.models.backbone = str(tiny_bert)
    data = [_data(tmp_path)]
    with pytest.raises(TrainError, match="no checkpoint"):
        train(settings, _cfg(), data, tmp_path / "none", init_from=None, resume=True)
    with pytest.raises(Interrupted):
        train(settings, _cfg(), data, tmp_path / "run", init_from=None, progress=_stop_at("epoch", 2))
    with pytest.raises(TrainError, match="other data or options"):
        train(settings, _cfg(max_tokens=24), data, tmp_path / "run", init_from=None, resume=True)
    with pytest.raises(TrainError, match="other data or options"):
        train(settings, _cfg(max_train=40), data, tmp_path / "run", init_from=None, resume=True)
    changed = _cfg(lr_head=5e-3, epochs=2, source_weights={"synthetic": 2.0})
    resumed = train(settings, changed, data, tmp_path / "run", init_from=None, resume=True)
    straight = train(settings, changed, data, tmp_path / "straight", init_from=None)
    assert resumed.losses == straight.losses and resumed.metrics["steps"] == 20
    a = load_file(str(tmp_path / "straight" / registry.WEIGHTS_FILE))
    b = load_file(str(tmp_path / "run" / registry.WEIGHTS_FILE))
    assert all(a[k].equal(b[k]) for k in a)


def test_cli_resume_and_options_fail_clearly(tiny_settings, tmp_path, monkeypatch):
    """`brandmon train`: a forgotten --resume does not wipe a checkpoint, a missing one is a one-line error."""
    from typer.testing import CliRunner

    from brandmon.cli import app
    from models.checkpoint import CHECKPOINT_DIR

    monkeypatch.setenv("BRANDMON_MODELS__BACKBONE", tiny_settings.models.backbone)
    monkeypatch.setenv("BRANDMON_MODELS__THREADS", "1")
    data = _data(tmp_path)
    out = tmp_path / "cli-run"

    def run(*extra: str):
        args = ["--data-dir", str(tmp_path), "train", "--task", "sentiment", "--data", str(data), "--out", str(out)]
        return CliRunner().invoke(app, [*args, "--init", tiny_settings.models.sentiment, *extra])

    r = run("--resume")
    assert r.exit_code == 2 and "no checkpoint" in r.output and "Traceback" not in r.output
    r = run("--cap", "synthetic")
    assert r.exit_code == 2 and "--cap must be SOURCE=N" in r.output
    for bad in ("synthetic", "synthetic=heavy", "synthetic=0", "=2"):
        r = run("--weight", bad)
        assert r.exit_code == 2 and "--weight must be SOURCE=W" in r.output, (bad, r.output)
    (out / CHECKPOINT_DIR).mkdir(parents=True)
    (out / CHECKPOINT_DIR / "meta.json").write_text('{"cache": "x", "train": "y"}')
    r = run()
    assert r.exit_code == 2 and "add --resume" in r.output, r.output
    assert (out / CHECKPOINT_DIR / "meta.json").exists()  # kept
    r = run("--resume")
    assert r.exit_code == 2 and "other data or options" in r.output


def test_a_branched_intent_head_resumes_exactly(tiny_settings, tmp_path):
    """Intent reading sentiment's stack through an MLP head (standardised on the training rows), stopped in its
    second epoch and resumed: the same weights as a straight run."""
    from safetensors.torch import load_file

    from models import registry
    from models.train import TrainConfig, train
    from tests.models.test_branch import _intent_csv

    init = tiny_settings.models.sentiment
    cfg = TrainConfig(
        task="intent",
        branch="sentiment@1",
        head_width=16,
        epochs=3,
        batch_size=8,
        lr_head=1e-2,
        patience=100,
        max_tokens=32,
        threads=1,
        seed=1,
        checkpoint_minutes=0,
    )
    data = [_intent_csv(tmp_path)]
    straight = train(tiny_settings, cfg, data, tmp_path / "straight", init_from=init)
    stop = max(2, straight.metrics["steps"] // 2)
    with pytest.raises(Interrupted):
        train(tiny_settings, cfg, data, tmp_path / "resumed", init_from=init, progress=_stop_at("epoch", stop))
    resumed = train(tiny_settings, cfg, data, tmp_path / "resumed", init_from=init, resume=True)
    assert resumed.losses == straight.losses
    a = load_file(str(tmp_path / "straight" / registry.WEIGHTS_FILE))
    b = load_file(str(tmp_path / "resumed" / registry.WEIGHTS_FILE))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def test_cache_time_of_stopped_runs_is_carried_into_the_resumed_one(tmp_path):
    """A run killed while caching spent CPU on shards the next run reads: that time is recorded with the shards
    and handed to the resumed run, which adds it to the CPU time it reports."""
    import json
    import time

    import torch

    from models.checkpoint import Checkpointer

    ck = Checkpointer(tmp_path, "c", "t", minutes=0, resume=False)
    t = time.process_time()
    while time.process_time() - t < 0.3:  # the work of a cache batch
        sum(range(10_000))
    ck.add_cache([(0, torch.zeros(3, 4, dtype=torch.float16))])
    spent = json.loads((tmp_path / "checkpoint" / "meta.json").read_text())["spent"]
    assert spent["cpu"] >= 0.3 and spent["seconds"] >= 0.3
    again = Checkpointer(tmp_path, "c", "t2", minutes=0, resume=True)  # other options: cache kept, time too
    assert again.spent_before == spent
    assert json.loads((tmp_path / "checkpoint" / "meta.json").read_text())["spent"] == spent
