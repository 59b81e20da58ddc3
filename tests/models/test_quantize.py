"""int8 smoothing: exact in fp32, closer to fp32 than plain int8 on real texts, calibration stored or cached."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def seed_inputs():
    from models import quantize as qz
    from models.window import model_input

    texts = qz.calibration_texts(900)  # the bundled seed set; the shipped maxima come from other texts
    return [model_input(t, max_chars=400) for t in texts[1::5][:160]]


@pytest.fixture(scope="module")
def fp32_scorer():
    from models import registry
    from pipeline.config import load_settings

    return registry.load_scorer(load_settings(), quantize=False)


def _probs(net, tok, inputs, max_tokens=64):
    from models import registry
    from models.scoring import predict_inputs

    spec = registry.ScorerSpec(
        name="x",
        base="x",
        base_sha256=None,
        split=0,
        max_tokens=max_tokens,
        tasks={
            "sentiment": registry.TaskSpec(["negative", "neutral", "positive"]),
            "intent": registry.TaskSpec(["question", "failure", "complaint", "praise", "other"], multi_label=True),
        },
    )
    return predict_inputs(registry.Scorer(net, tok, spec, "x", "x", None), inputs, 32)


def test_smoothing_changes_nothing_before_quantizing(fp32_scorer, seed_inputs):
    from models import quantize as qz

    sc = fp32_scorer
    amax = qz.load_maxima(sc.path / qz.CALIBRATION_FILE)
    net = copy.deepcopy(sc.net)
    # every encoder layer the network runs: 4 shared, sentiment's 8 and intent's own 2 (it branches off after 6)
    layers = len(net.lower) + sum(len(t.layers) for t in net.tasks.values())
    assert layers == 14 and qz.smooth(net, amax, 0.8) == layers
    enc = sc.tokenizer(seed_inputs[:24], padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.inference_mode():
        a = sc.net(enc["input_ids"], enc["attention_mask"])
        b = net(enc["input_ids"], enc["attention_mask"])
    for task in a:
        assert torch.allclose(a[task], b[task], atol=2e-4), (task, (a[task] - b[task]).abs().max())


# quantizes the scorer twice and compares both with fp32 (a quality measurement)
@pytest.mark.slow
def test_smoothed_int8_stays_closer_to_fp32_than_plain_int8(settings, fp32_scorer, seed_inputs):
    from models import registry

    fp32 = fp32_scorer
    smooth = registry.load_scorer(settings, quantize=True)
    settings.models.smooth_alpha = 0.0
    plain = registry.load_scorer(settings, quantize=True)
    ref = _probs(fp32.net, fp32.tokenizer, seed_inputs)
    res = {}
    for name, sc in (("smooth", smooth), ("plain", plain)):
        pr = _probs(sc.net, sc.tokenizer, seed_inputs)
        res[name] = (
            np.abs(pr.p_sentiment - ref.p_sentiment).mean(),
            np.abs(pr.p_intent - ref.p_intent).mean(),
            np.mean(pr.p_sentiment.argmax(1) == ref.p_sentiment.argmax(1)),
        )
    print(res)
    assert res["smooth"][0] < 0.8 * res["plain"][0]
    assert res["smooth"][1] < 0.8 * res["plain"][1]
    assert res["smooth"][2] >= res["plain"][2]
    assert res["smooth"][2] >= 0.93


def test_calibration_is_computed_once_cached_and_dropped_with_new_weights(tiny_settings):
    from models import quantize as qz
    from models import registry

    d = registry.resolve_model_dir(tiny_settings)
    assert not (d / qz.CALIBRATION_FILE).exists()
    cache = tiny_settings.models.cache_dir / "calibration"
    version = registry.model_version(d)
    for f in cache.glob(version + "-*"):  # the cache dir outlives test runs
        f.unlink()
    registry.load_scorer(tiny_settings, quantize=True)
    made = list(cache.glob(version + "-*"))
    assert len(made) == 1
    stamp = made[0].stat().st_mtime_ns
    registry.load_scorer(tiny_settings, quantize=True)
    assert made[0].stat().st_mtime_ns == stamp  # read back, not computed again
    amax = qz.load_maxima(made[0])
    assert "lower.0.intermediate.dense" in amax and amax["lower.0.output.dense"].shape == (64,)
    assert all(torch.isfinite(v).all() and (v > 0).any() for v in amax.values())

    sc = registry.load_scorer(tiny_settings, quantize=False)
    qz.save_maxima(d / qz.CALIBRATION_FILE, amax)
    registry.save_scorer(sc.net, sc.spec, d)  # new weights: stale maxima must not survive
    assert not (d / qz.CALIBRATION_FILE).exists()


# a real ONNX export and int8 run; the calibration and smoothing tests keep quantizing in the fast tier
@pytest.mark.slow
def test_int8_is_an_onnx_runtime_graph_exported_once_with_no_deprecation_warning(tiny_settings, tmp_path, caplog):
    """int8 goes through ONNX Runtime (torch's deprecated torch.ao dynamic quantization warned on every load):
    the graph is exported on first use into the cache dir, read back afterwards, and scores like fp32. The
    exporter's pass-by-pass INFO lines stay out of a caller's INFO log (a notebook's, not only the CLI's)."""
    import logging
    import warnings

    from models import quantize as qz
    from models import registry
    from models.scoring import predict_inputs

    tiny_settings.models.cache_dir = tmp_path / "cache"  # the tiny backbone is a path: only our files go here
    texts = [f"Посылкин {'очень ' * (i % 7)}долго везёт заказ {i}" for i in range(24)]
    exporters = [logging.getLogger(n) for n in ("onnx_ir", "onnxscript", "torch.onnx")]
    levels = [lg.level for lg in exporters]
    for lg in exporters:
        lg.setLevel(logging.NOTSET)  # as in a process that never ran brandmon's configure_logging
    try:
        caplog.set_level(logging.INFO)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            q = registry.load_scorer(tiny_settings, quantize=True)
            pq = predict_inputs(q, texts, 8)
        assert [lg.level for lg in exporters] == [logging.NOTSET] * 3  # given back as they were
    finally:
        for lg, level in zip(exporters, levels, strict=True):
            lg.setLevel(level)
    noisy = [r for r in caplog.records if r.name.startswith(("onnx", "torch.onnx")) and r.levelno < logging.WARNING]
    assert not noisy, noisy[:3]
    assert isinstance(q.net, qz.Int8Net)
    graphs = list((tmp_path / "cache" / "int8").glob("*.onnx"))
    assert len(graphs) == 1 and graphs[0] == q.net.path
    stamp = graphs[0].stat().st_mtime_ns
    pf = predict_inputs(registry.load_scorer(tiny_settings, quantize=False), texts, 8)
    assert np.abs(pq.p_sentiment - pf.p_sentiment).max() < 0.05
    assert np.abs(pq.p_intent - pf.p_intent).max() < 0.05
    assert np.ptp(pf.p_sentiment[:, 0]) > 1e-3  # the rows differ, so agreement is not all-equal output

    again = registry.load_scorer(tiny_settings, quantize=True)
    assert again.net.path == graphs[0] and graphs[0].stat().st_mtime_ns == stamp  # read back, not re-exported
    tiny_settings.models.smooth_alpha = 0.0  # other smoothing, other graph
    assert registry.load_scorer(tiny_settings, quantize=True).net.path != graphs[0]
