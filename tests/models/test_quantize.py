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


# quantizes the scorer three times and compares each with fp32 (a quality measurement)
@pytest.mark.slow
def test_default_int8_stays_closer_to_fp32_than_per_batch_or_unsmoothed_int8(settings, fp32_scorer, seed_inputs):
    """The default (per-token scales, smoothed) against ONNX Runtime's per-batch dynamic int8 with the smoothing it
    needed (0.8), and against per-token without smoothing; fp32 is the reference for all three."""
    from models import registry

    fp32 = fp32_scorer
    variants = {"default": ("per_token", settings.models.smooth_alpha), "plain": ("per_token", 0.0)}
    variants["per_batch"] = ("per_batch", 0.8)
    ref = _probs(fp32.net, fp32.tokenizer, seed_inputs)
    res = {}
    for name, (scheme, alpha) in variants.items():
        settings.models.int8_activations, settings.models.smooth_alpha = scheme, alpha
        sc = registry.load_scorer(settings, quantize=True)
        pr = _probs(sc.net, sc.tokenizer, seed_inputs)
        res[name] = (
            np.abs(pr.p_sentiment - ref.p_sentiment).mean(),
            np.abs(pr.p_intent - ref.p_intent).mean(),
            np.mean(pr.p_sentiment.argmax(1) == ref.p_sentiment.argmax(1)),
        )
    print(res)
    assert variants["default"] == ("per_token", 0.65)
    assert res["default"][0] < 0.7 * res["per_batch"][0] and res["default"][1] < 0.8 * res["per_batch"][1]
    assert res["default"][0] < res["plain"][0] and res["default"][1] < 1.05 * res["plain"][1]  # smoothing: no harm
    assert res["default"][2] >= max(res["plain"][2], res["per_batch"][2]) and res["default"][2] >= 0.97


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
    inode, stamp = graphs[0].stat().st_ino, graphs[0].stat().st_mtime_ns
    pf = predict_inputs(registry.load_scorer(tiny_settings, quantize=False), texts, 8)
    assert np.abs(pq.p_sentiment - pf.p_sentiment).max() < 0.05
    assert np.abs(pq.p_intent - pf.p_intent).max() < 0.05
    assert np.ptp(pf.p_sentiment[:, 0]) > 1e-3  # the rows differ, so agreement is not all-equal output

    again = registry.load_scorer(tiny_settings, quantize=True)
    assert again.net.path == graphs[0] and graphs[0].stat().st_ino == inode  # read back, not re-exported
    assert graphs[0].stat().st_mtime_ns >= stamp  # a load marks the graph as used (the cache prunes by that)
    tiny_settings.models.int8_activations = "per_batch"  # ONNX Runtime's dynamic int8: its own graph, scores too
    per_batch = registry.load_scorer(tiny_settings, quantize=True)
    assert per_batch.net.path != graphs[0]
    assert np.abs(predict_inputs(per_batch, texts, 8).p_sentiment - pf.p_sentiment).max() < 0.05
    tiny_settings.models.int8_activations = "per_token"
    tiny_settings.models.smooth_alpha = 0.0  # other smoothing, other graph
    assert registry.load_scorer(tiny_settings, quantize=True).net.path != graphs[0]


# a real ONNX export of the tiny scorer
@pytest.mark.slow
def test_int8_scores_a_text_the_same_whatever_batch_it_is_in(tiny_settings, tmp_path):
    """Re-scoring, ingest order and batch size do not move a text's int8 scores (per-token activation scales)."""
    from models import registry
    from models.scoring import predict_inputs

    tiny_settings.models.cache_dir = tmp_path / "cache"
    texts = [
        "Посылкин опять потерял мою посылку",
        "ok",
        "ВСЁ СЛОМАЛОСЬ!!! " * 12,
        "Thanks @posylkin, the courier was on time and polite, five stars",
        "Вопрос: где мой заказ 123456789? " + "Очень " * 30 + "жду.",
    ]
    q = registry.load_scorer(tiny_settings, quantize=True)
    together = predict_inputs(q, texts, 8)
    assert np.ptp(together.p_sentiment[:, 0]) > 1e-3  # the texts score differently, so equality below means something
    for i, t in enumerate(texts):
        for batch in ([t], [t, texts[(i + 2) % len(texts)]], [texts[(i + 1) % len(texts)], t, texts[2]]):
            alone = predict_inputs(q, batch, 8)
            j = batch.index(t)
            assert np.abs(alone.p_sentiment[j] - together.p_sentiment[i]).max() < 1e-5
            assert np.abs(alone.p_intent[j] - together.p_intent[i]).max() < 1e-5


def _two_layer_graph(k: int = 48, n: int = 32):
    """x -> (x @ A, x @ B) -> relu(x @ A) @ C + x @ B: two MatMuls share an input, a third reads a computed one."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    a, b, c = (rng.normal(size=s).astype(np.float32) for s in ((k, n), (k, n), (n, n)))
    nodes = [
        helper.make_node("MatMul", ["x", "A"], ["xa"]),
        helper.make_node("MatMul", ["x", "B"], ["xb"]),
        helper.make_node("Relu", ["xa"], ["h"]),
        helper.make_node("MatMul", ["h", "C"], ["hc"]),
        helper.make_node("Add", ["hc", "xb"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, n])],
        [numpy_helper.from_array(v, name) for v, name in ((a, "A"), (b, "B"), (c, "C"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    onnx.checker.check_model(model)
    return model, lambda x: np.maximum(x @ a, 0) @ c + x @ b


def _session(data: bytes, disabled=()):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # as Int8Net runs it
    opts.log_severity_level = 3
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"], disabled_optimizers=list(disabled))


def test_per_token_int8_scores_a_row_the_same_whatever_else_is_in_its_batch(tmp_path):
    """Per-token scales: a row's int8 output is close to float and bit-for-bit the same alone or beside a row 100x
    larger. ONNX Runtime's per-batch dynamic int8 on the same graph coarsens the small row's scale instead."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from models import quantize as qz

    model, reference = _two_layer_graph()
    (tmp_path / "fp32.onnx").write_bytes(model.SerializeToString())
    assert qz.per_token_int8(model) == 3
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MatMulIntegerToFloat") == 3 and "MatMul" not in ops
    assert ops.count("QuantizeLinear") == 2  # x is quantized once for both of its MatMuls
    per_token = _session(model.SerializeToString(), qz.PER_TOKEN_DISABLED_OPTIMIZERS)
    quantize_dynamic(str(tmp_path / "fp32.onnx"), str(tmp_path / "dyn.onnx"), weight_type=QuantType.QInt8)
    per_batch = _session(onnx.load(str(tmp_path / "dyn.onnx")).SerializeToString())

    rng = np.random.default_rng(4)
    small = rng.normal(size=(1, 5, 48)).astype(np.float32)
    big = 100 * rng.normal(size=(1, 5, 48)).astype(np.float32)
    ref = reference(small)[0]
    err = {}
    for name, sess in (("per_token", per_token), ("per_batch", per_batch)):
        alone = sess.run(None, {"x": small})[0][0]
        beside = sess.run(None, {"x": np.concatenate([small, big])})[0][0]
        err[name] = (np.abs(alone - ref).max(), np.abs(beside - ref).max(), np.abs(alone - beside).max())
    scale = np.abs(ref).max()
    assert err["per_token"][0] < 0.03 * scale  # int8 close to float
    assert err["per_token"][2] == 0.0  # the big row changes nothing
    assert err["per_batch"][1] > 10 * err["per_token"][1]  # one scale for both rows: the small one loses
    assert err["per_batch"][2] > 0.1 * scale


def test_unknown_int8_activation_scheme_is_refused(tmp_path):
    from models import quantize as qz

    with pytest.raises(ValueError, match="per_token, per_batch"):
        qz.load_int8(None, tmp_path, None, 0.8, "per_tensor")  # type: ignore[arg-type]


def test_int8_cache_keeps_recent_graphs_and_removes_long_unused_ones(tmp_path):
    """Each retrained scorer or export change leaves a 20-45 MB graph behind; after an export the cache keeps the
    four most recently used graphs and any used within a week, and removes the rest."""
    import os
    import time

    from models.quantize import prune_int8_cache

    now = time.time()
    ages_days = {"a": 0, "b": 1, "c": 2, "d": 20, "e": 3, "f": 30, "g": 8, "h": 6.5}
    for name, age in ages_days.items():
        p = tmp_path / f"{name}.onnx"
        p.write_bytes(b"graph")
        os.utime(p, (now - age * 86400, now - age * 86400))
    (tmp_path / ".export.lock").write_bytes(b"")
    removed = prune_int8_cache(tmp_path, keep=4, idle_days=7)
    # newest four: a b c e; of the rest, h (6.5 days) was used within the week; g, d, f were not
    assert sorted(p.stem for p in removed) == ["d", "f", "g"]
    assert sorted(p.stem for p in tmp_path.glob("*.onnx")) == ["a", "b", "c", "e", "h"]
    assert (tmp_path / ".export.lock").exists()
    assert prune_int8_cache(tmp_path, keep=4, idle_days=7) == []  # idempotent
    assert len(prune_int8_cache(tmp_path, keep=0, idle_days=0)) == 5 and not list(tmp_path.glob("*.onnx"))


def _maddubs_sum(q: np.ndarray, w: np.ndarray) -> np.ndarray:
    """u8 rows x s8 columns as x86 kernels without VNNI add them: pairs of products into a saturating int16
    (``vpmaddubsw``), then int32."""
    prod = q.astype(np.int32)[:, :, None] * w.astype(np.int32)[None, :, :]  # [rows, K, N]
    pairs = prod[:, 0::2] + prod[:, 1::2]
    return np.clip(pairs, -32768, 32767).sum(1)


def test_int8_weights_are_7_bit_where_u8_s8_pairs_could_saturate():
    from onnx import numpy_helper

    from models import quantize as qz

    vnni = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512bw avx512_vnni\n"
    no_vnni = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512bw\n"
    assert qz.weight_bits("auto", vnni, "x86_64") == 8
    assert qz.weight_bits("auto", "flags : avx2 avx_vnni", "x86_64") == 8
    assert qz.weight_bits("auto", no_vnni, "x86_64") == 7
    assert qz.weight_bits("auto", no_vnni, "aarch64") == 8  # ARM's dot products accumulate in int32
    assert qz.weight_bits("7bit", vnni, "x86_64") == 7 and qz.weight_bits("8bit", no_vnni, "x86_64") == 8
    with pytest.raises(ValueError):
        qz.weight_bits("6bit")

    eight, reference = _two_layer_graph()
    seven, _ = _two_layer_graph()
    assert qz.per_token_int8(eight) == qz.per_token_int8(seven, weight_bits=7) == 3
    for model, top in ((eight, 127), (seven, 63)):
        wq = [numpy_helper.to_array(i) for i in model.graph.initializer if i.name.endswith("wq")]
        assert len(wq) == 3 and max(int(np.abs(w).max()) for w in wq) == top
    # an input row at the top of its range, as per-token scales make every row's largest value
    w8 = numpy_helper.to_array(next(i for i in eight.graph.initializer if i.name == "pt0_wq"))
    w7 = numpy_helper.to_array(next(i for i in seven.graph.initializer if i.name == "pt0_wq"))
    q = np.where(w8[:, :1].T > 0, 255, 0).astype(np.uint8)  # large where the first column's weights are positive
    # kernels subtract the zero point as a separate correction term; the saturating part is the u8 x s8 product
    assert (_maddubs_sum(q, w8) != q.astype(np.int64) @ w8).any()  # 8-bit weights: clipped pair sums
    assert (_maddubs_sum(q, w7) == q.astype(np.int64) @ w7).all()  # 7-bit: 2 x 255 x 63 fits in int16
    # and the 7-bit graph still runs close to float on ONNX Runtime
    sess = _session(seven.SerializeToString(), qz.PER_TOKEN_DISABLED_OPTIMIZERS)
    x = np.random.default_rng(5).normal(size=(2, 5, 48)).astype(np.float32)
    ref = reference(x)
    assert np.abs(sess.run(None, {"x": x})[0] - ref).max() < 0.05 * np.abs(ref).max()
