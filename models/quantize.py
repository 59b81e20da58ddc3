"""Dynamic int8 for the scorer on ONNX Runtime, with SmoothQuant-style smoothing of activation outliers.

Dynamic int8 quantizes each MatMul's input with one scale per batch. The e5 backbone's residual stream and FFN
activations have a few outlier channels (input maxima of 20-33 against a median of 1-2), so that one scale
leaves the ordinary channels a handful of int8 steps; plain per-channel int8 changed 9% of sentiment labels
against fp32 and cost 2.4 macro-F1 points. Smoothing (Xiao et al., 2023) divides each input channel by
``s = act_max**alpha / w_max**(1 - alpha)`` and multiplies the weight's column by the same ``s``: the product is
unchanged in exact arithmetic, while the outliers move into the weights, which int8 holds per output channel.

Where a scale can be folded into an earlier weight exactly it is (the attention output's input is a mix of
value vectors, so its scale goes into the value projection); elsewhere one elementwise multiply per input
(query/key/value share theirs).

The int8 network is an ONNX graph of everything after the embedding lookup (the 250k x 384 table stays in
torch, so the graph is ~23 MB instead of ~470 MB): the smoothed fp32 network is exported with
``torch.onnx.export``; its MatMuls then get per-channel int8 weights. That happens once per (weights, maxima,
alpha, activation scheme) and is cached under ``models.cache_dir`` like the backbone, never at import time. torch's
own ``torch.ao`` dynamic quantization is deprecated; this path runs on standard ONNX operators and ONNX Runtime's
``MatMulIntegerToFloat``.

Activations are quantized per token by default (``per_token_int8``): each row of a MatMul's input gets its own
scale, so a text's scores do not depend on the other texts in its batch. ONNX Runtime's ``quantize_dynamic`` uses
one scale per batch (``per_batch``); there a long or unusual text in the batch coarsens everyone's scale, and 48 of
4,843 validation labels changed between batches of 64 and of 7 (probabilities up to 0.27 apart). Per token runs
about as fast (docs/models.md).

The activation maxima come from a calibration pass in fp32 over a few hundred texts; they depend on the weights,
so they are stored beside a scorer (``calibration.safetensors``) or computed once and cached.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from pipeline.bundled import bundled

if TYPE_CHECKING:
    import onnx

    from models.network import ScorerNet

log = logging.getLogger(__name__)

CALIBRATION_FILE = "calibration.safetensors"
# bundled, varied short texts (tweets, forum posts, reviews, chat): the calibration set of any scorer
CALIBRATION_TEXTS = bundled("training", "intent_seed.csv")
CALIBRATION_N = 256


class ScaleInput(nn.Module):
    """``inner(x * inv)``: a Linear (or attention block) that sees its input divided per channel."""

    def __init__(self, inner: nn.Module, inv: torch.Tensor):
        super().__init__()
        self.inner = inner
        self.register_buffer("inv", inv)

    def forward(self, hidden_states, *args, **kwargs):
        return self.inner(hidden_states * self.inv, *args, **kwargs)


def activation_maxima(net: nn.Module, run: Callable[[], object]) -> dict[str, torch.Tensor]:
    """Per input channel, the largest |activation| each Linear of ``net`` sees while ``run()`` runs."""
    amax: dict[str, torch.Tensor] = {}

    def hook(name):
        def h(_mod, inp):
            x = inp[0].detach()
            m = x.abs().reshape(-1, x.shape[-1]).amax(0).float()
            amax[name] = torch.maximum(amax[name], m) if name in amax else m

        return h

    handles = [m.register_forward_pre_hook(hook(n)) for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    try:
        with torch.inference_mode():
            run()
    finally:
        for h in handles:
            h.remove()
    return amax


def calibrate(net: nn.Module, tokenizer, texts: Iterable[str], max_tokens: int, batch_size: int = 32):
    texts = list(texts)

    def run():
        for s in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[s : s + batch_size], padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
            )
            net(enc["input_ids"], enc["attention_mask"])

    return activation_maxima(net, run)


def calibration_texts(n: int = CALIBRATION_N) -> list[str]:
    """Every k-th text of the bundled seed set (fixed order, so every install computes the same maxima)."""
    import csv

    if not CALIBRATION_TEXTS.exists():
        return []
    with open(CALIBRATION_TEXTS, encoding="utf-8", newline="") as f:
        rows = [r["text"] for r in csv.DictReader(f) if r.get("text")]
    step = max(1, len(rows) // n)
    return rows[::step][:n]


def _scale(act: torch.Tensor, weights: list[torch.Tensor], alpha: float) -> torch.Tensor:
    w = torch.stack([x.detach().abs().amax(0) for x in weights]).amax(0)
    return (act.clamp(min=1e-5) ** alpha / w.clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)


def _bert_parts(
    layer: nn.Module,
) -> tuple[nn.Module, nn.Linear, nn.Linear, nn.Linear, nn.Linear, Any, nn.Linear, Any] | None:
    """(self-attention, q, k, v, attention-output dense, intermediate, output) of a BERT-style layer, or None."""
    bert: Any = layer  # submodules found by name: torch's ``__getattr__`` types them tensor-or-module
    try:
        att = bert.attention.self
        parts = (
            att,
            att.query,
            att.key,
            att.value,
            bert.attention.output.dense,
            bert.intermediate,
            bert.intermediate.dense,
            bert.output,
        )
    except AttributeError:
        return None
    return (
        parts
        if all(isinstance(p, nn.Linear) for p in (parts[1], parts[2], parts[3], parts[4], parts[6], parts[7].dense))
        else None
    )


@torch.no_grad()
def smooth(net: nn.Module, amax: dict[str, torch.Tensor], alpha: float) -> int:
    """Smooth every BERT-style encoder layer of ``net`` in place (names as in ``amax``); returns layers done."""
    done = 0
    for name, layer in list(net.named_modules()):
        parts = _bert_parts(layer)
        if parts is None:
            continue
        att, q, k, v, att_out, inter, inter_dense, out = parts
        p = f"{name}." if name else ""
        keys = [p + "attention.self.query", p + "attention.output.dense", p + "intermediate.dense", p + "output.dense"]
        if not all(key in amax for key in keys):
            continue
        # query/key/value read the same input: one scale for the three, one multiply
        s = _scale(amax[keys[0]], [q.weight, k.weight, v.weight], alpha)
        for lin in (q, k, v):
            lin.weight.mul_(s[None, :])
        layer.attention.self = ScaleInput(att, 1 / s)
        # attention output reads softmax-weighted value vectors: fold its scale into the value projection
        s = _scale(amax[keys[1]], [att_out.weight], alpha)
        v.weight.div_(s[:, None])
        if v.bias is not None:
            v.bias.div_(s)
        att_out.weight.mul_(s[None, :])
        s = _scale(amax[keys[2]], [inter_dense.weight], alpha)
        inter_dense.weight.mul_(s[None, :])
        inter.dense = ScaleInput(inter_dense, 1 / s)
        s = _scale(amax[keys[3]], [out.dense.weight], alpha)
        out.dense.weight.mul_(s[None, :])
        out.dense = ScaleInput(out.dense, 1 / s)
        done += 1
    return done


INT8_FORMAT = 3  # bump when the export or quantization changes so cached graphs rebuild
ACTIVATIONS = ("per_token", "per_batch")
# ONNX Runtime's optimizer fuses an int8 product and the multiplications after it into MatMulIntegerToFloat, whose
# input scale is one number. A first per_token_int8 (MatMulInteger, Cast, Mul by row x column scales) was fused so
# and then scaled rows wrongly (errors as large as the outputs). The graph now calls MatMulIntegerToFloat itself and
# applies the row scale after it; the fusion pass stays off for per-token graphs all the same.
PER_TOKEN_DISABLED_OPTIMIZERS = ("MatMulIntegerToFloatFusion",)


class _FromEmbeddings(nn.Module):
    """The exported part: embeddings in, one logits output per task (in ``tasks`` order)."""

    def __init__(self, net: ScorerNet, tasks: list[str]):
        super().__init__()
        self.net = net
        self.tasks = tasks

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor):
        out = self.net.from_embeddings(hidden, mask, self.tasks)
        return tuple(out[t] for t in self.tasks)


# The exporter's own loggers: torch.onnx notes skipped ops ("torchvision is not installed. Skipping
# torchvision::nms"), onnx_ir and onnxscript log every optimisation pass (hundreds of "Replaced initializer" lines)
# at INFO. Nothing to act on; quieted here so a notebook with INFO logging is spared them too, not only the CLI.
_EXPORT_LOGGERS = {"torch.onnx": logging.ERROR, "onnx_ir": logging.WARNING, "onnxscript": logging.WARNING}


@contextmanager
def _quiet_exporter():
    saved = {name: logging.getLogger(name).level for name in _EXPORT_LOGGERS}
    try:
        for name, level in _EXPORT_LOGGERS.items():
            logger = logging.getLogger(name)
            logger.setLevel(max(level, logger.level))
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class _DropPreprocessingHint(logging.Filter):
    """The quantizer logs per-tensor notes and a shape pre-processing hint straight on the root logger (we clear
    the exporter's shapes ourselves); its warnings and errors still pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING and "pre-processing before quantization" not in record.getMessage()


def cpu_has_vnni(cpuinfo: str | None = None, machine: str | None = None) -> bool:
    """Whether int8 products run on VNNI (or are not x86 at all). Without it, x86 kernels multiply u8 x s8 with
    ``vpmaddubsw``, which adds two products into a saturating int16: 2 x 255 x 127 = 64,770 overflows it, so full
    8-bit weights can clip sums where an activation and its neighbour are both large."""
    import platform

    if (machine or platform.machine()).lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return True  # ARM's int8 dot products accumulate in int32
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False  # unknown: the safe range
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


def weight_bits(setting: str = "auto", cpuinfo: str | None = None, machine: str | None = None) -> int:
    """``models.int8_weights`` as a bit count: 7 where u8 x s8 pairs could saturate (see ``cpu_has_vnni``),
    8 elsewhere; "8bit"/"7bit" force one."""
    if setting == "auto":
        return 8 if cpu_has_vnni(cpuinfo, machine) else 7
    if setting not in ("8bit", "7bit"):
        raise ValueError(f"int8 weights must be auto, 8bit or 7bit, not {setting!r}")
    return int(setting[0])


def int8_key(
    net: ScorerNet,
    amax: dict[str, torch.Tensor] | None,
    alpha: float,
    activations: str = "per_token",
    weight_bits: int = 8,
) -> str:
    """A digest of everything the int8 graph depends on: the exported weights, the maxima, alpha, the activation
    scheme, the weight range, the format."""
    import hashlib

    head = f"{INT8_FORMAT}|{activations}|{alpha if amax else 0}|{','.join(net.tasks)}"
    h = hashlib.sha256((head + ("|w7" if weight_bits == 7 else "")).encode())  # 8-bit keeps its earlier key
    for name, t in net.state_dict().items():
        if not name.startswith("embeddings."):
            h.update(name.encode())
            h.update(t.detach().float().contiguous().numpy().tobytes())
    used = amax if amax and alpha > 0 else {}
    for name in sorted(used):
        h.update(name.encode())
        h.update(used[name].float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _check_activations(activations: str) -> None:
    if activations not in ACTIVATIONS:
        raise ValueError(f"int8 activations must be one of {', '.join(ACTIVATIONS)}, not {activations!r}")


def per_token_int8(model: onnx.ModelProto, weight_bits: int = 8) -> int:
    """Rewrite, in place, every MatMul by a constant weight ``W`` [K, N] into int8 arithmetic with a scale per
    input row: ``s = max|x| / 127`` over the row, ``q = round(x / s) + 128`` (uint8, the fast u8 x s8 kernels),
    ``y = (q - 128) @ Wq * sw * s`` with ``Wq, sw`` symmetric per output column (``Wq`` in ±127, or ±63 with
    ``weight_bits`` 7, see ``cpu_has_vnni``). Inputs shared by several MatMuls (query, key, value) are quantized
    once. Returns how many MatMuls were rewritten.

    The input is flattened to [rows, K] so that one per-axis ``QuantizeLinear`` divides, rounds and shifts each row
    with its own scale in a single pass (blocked quantization of the 3-D input was slower), and the row maximum is
    read as max and -min (no |x| tensor written): together 10% faster than Abs, ReduceMax, Div, QuantizeLinear
    with the same numbers."""
    from onnx import helper, numpy_helper

    if weight_bits not in (7, 8):
        raise ValueError(f"int8 weights are 7 or 8 bits, not {weight_bits}")
    levels = 2 ** (weight_bits - 1) - 1  # 127 or 63: 2 x 255 x 63 = 32,130 fits a saturating int16 pair sum
    zero_point = numpy_helper.from_array(np.array([128], np.uint8))

    def const(value, dtype, name: str):
        extra.append(numpy_helper.from_array(np.array(value, dtype), name))

    g = model.graph
    weights = {i.name: i for i in g.initializer}
    nodes: list = []
    extra: list = []
    const([1], np.int64, "pt_axis1")
    const([-1, 1], np.int64, "pt_column")
    const([0], np.int64, "pt_0")
    const([-1], np.int64, "pt_last")
    const(1e-12, np.float32, "pt_eps")
    const(1 / 127, np.float32, "pt_inv127")
    const(1.0, np.float32, "pt_one")
    const(128, np.uint8, "pt_zero_x")
    const(0, np.int8, "pt_zero_w")
    quantized: dict[str, tuple[str, str, str]] = {}  # input name -> its uint8 rows, row scales, leading dims
    done = 0
    for n in g.node:
        if n.op_type != "MatMul" or n.input[1] not in weights:
            nodes.append(n)
            continue
        w = numpy_helper.to_array(weights[n.input[1]]).astype(np.float32)
        k, cols = w.shape
        sw = (np.maximum(np.abs(w).max(0), 1e-12) / levels).astype(np.float32)
        p = f"pt{done}_"
        const(np.clip(np.round(w / sw), -levels, levels), np.int8, p + "wq")
        const(sw, np.float32, p + "sw")
        const([cols], np.int64, p + "cols")
        x = n.input[0]
        if x not in quantized:
            const([-1, k], np.int64, p + "rows")
            nodes += [
                helper.make_node("Reshape", [x, p + "rows"], [p + "x2"]),
                helper.make_node("ReduceMax", [p + "x2", "pt_axis1"], [p + "hi"], keepdims=0),
                helper.make_node("ReduceMin", [p + "x2", "pt_axis1"], [p + "lo"], keepdims=0),
                helper.make_node("Neg", [p + "lo"], [p + "neg_lo"]),
                helper.make_node("Max", [p + "hi", p + "neg_lo", "pt_eps"], [p + "amax"]),
                helper.make_node("Mul", [p + "amax", "pt_inv127"], [p + "sx"]),
                # per-axis QuantizeLinear wants a zero point per row too: 128 each
                helper.make_node("Shape", [p + "sx"], [p + "n_rows"]),
                helper.make_node("ConstantOfShape", [p + "n_rows"], [p + "zp"], value=zero_point),
                helper.make_node("QuantizeLinear", [p + "x2", p + "sx", p + "zp"], [p + "xq"], axis=0),
                helper.make_node("Reshape", [p + "sx", "pt_column"], [p + "sx_col"]),
                helper.make_node("Shape", [x], [p + "shape"]),
                helper.make_node("Slice", [p + "shape", "pt_0", "pt_last"], [p + "lead"]),
            ]
            quantized[x] = (p + "xq", p + "sx_col", p + "lead")
        xq, sx, lead = quantized[x]
        nodes += [
            # ONNX Runtime's fused int8 product with the column scales applied in its epilogue (input scale 1)
            helper.make_node(
                "MatMulIntegerToFloat",
                [xq, p + "wq", "pt_one", p + "sw", "pt_zero_x", "pt_zero_w"],
                [p + "y_cols"],
                domain="com.microsoft",
            ),
            helper.make_node("Mul", [p + "y_cols", sx], [p + "y2"]),
            helper.make_node("Concat", [lead, p + "cols"], [p + "out_shape"], axis=0),
            helper.make_node("Reshape", [p + "y2", p + "out_shape"], [n.output[0]]),
        ]
        done += 1
    used = {i for nd in nodes for i in nd.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + [e for e in extra if e.name in used])
    if done and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return done


def export_int8(
    net: ScorerNet,
    out: Path,
    amax: dict[str, torch.Tensor] | None = None,
    alpha: float = 0.65,
    activations: str = "per_token",
    weight_bits: int = 8,
) -> Path:
    """Smooth a copy of ``net`` (when maxima are given and ``alpha`` > 0), export it after the embedding lookup
    to ONNX and quantize its MatMuls to per-channel int8 weights, with activations scaled per token
    (``per_token_int8``) or per batch (ONNX Runtime's ``quantize_dynamic``); written atomically to ``out``."""
    import copy
    import os
    import tempfile
    import warnings

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    _check_activations(activations)
    net = copy.deepcopy(net).eval()
    if amax and alpha > 0:
        n = smooth(net, amax, alpha)
        log.debug("smoothed %d encoder layers (alpha %.2f)", n, alpha)
    tasks = list(net.tasks)
    ids = torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    with torch.no_grad():
        hidden = net.embeddings(input_ids=ids)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".int8-") as tmp, _quiet_exporter():
        fp32 = Path(tmp) / "fp32.onnx"
        batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens", max=4096)
        with warnings.catch_warnings():
            # notes on the exporter's own internals and on our shared batch/token dims: nothing to act on here
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r".*axis name: .* will not be used", category=UserWarning)
            torch.onnx.export(
                _FromEmbeddings(net, tasks).eval(),
                (hidden, mask),
                str(fp32),
                input_names=["hidden", "attention_mask"],
                output_names=tasks,
                dynamic_shapes={"hidden": {0: batch, 1: tokens}, "mask": {0: batch, 1: tokens}},
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        model = onnx.load(str(fp32))
        del model.graph.value_info[:]  # the exporter's shape notes trip ONNX Runtime's re-inference
        onnx.save(model, str(fp32))
        q = Path(tmp) / "int8.onnx"
        if activations == "per_token":
            per_token_int8(model, weight_bits)
            onnx.save(model, str(q))
        else:
            root, quiet = logging.getLogger(), _DropPreprocessingHint()
            root.addFilter(quiet)
            try:
                quantize_dynamic(
                    str(fp32), str(q), per_channel=True, weight_type=QuantType.QInt8, reduce_range=weight_bits == 7
                )
            finally:
                root.removeFilter(quiet)
        os.chmod(q, 0o644)
        os.replace(q, out)  # atomic: a concurrent loader never reads half a file
    return out


class Int8Net:
    """The int8 scorer: ``net(ids, mask) -> {task: logits}`` like ``ScorerNet``. The embedding lookup runs in
    torch (fp32), the rest in ONNX Runtime. One session per intra-op thread count, created on first use with
    torch's current count (``models.scoring.set_threads``), so parallel workers each run single-threaded ops;
    ``InferenceSession.run`` releases the GIL and is safe to call from several threads."""

    def __init__(self, embeddings: nn.Module, path: Path, tasks: list[str], disabled_optimizers: Iterable[str] = ()):
        self.embeddings = embeddings
        self.path = Path(path)
        self.tasks = list(tasks)
        self.disabled_optimizers = list(disabled_optimizers)
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()

    def session(self, threads: int | None = None):
        import onnxruntime as ort

        n = threads or torch.get_num_threads()
        with self._lock:
            if n not in self._sessions:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = n
                opts.inter_op_num_threads = 1
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                opts.log_severity_level = 3
                self._sessions[n] = ort.InferenceSession(
                    str(self.path),
                    opts,
                    providers=["CPUExecutionProvider"],
                    disabled_optimizers=self.disabled_optimizers or None,
                )
            return self._sessions[n]

    def __call__(self, input_ids: torch.Tensor, mask: torch.Tensor, tasks: list[str] | None = None):
        with torch.inference_mode():
            hidden = self.embeddings(input_ids=input_ids).float().numpy()
        outs = self.session().run(None, {"hidden": hidden, "attention_mask": mask.numpy().astype(np.int64)})
        res = dict(zip(self.tasks, (torch.from_numpy(o) for o in outs)))
        return {t: res[t] for t in (tasks or self.tasks)}


def load_int8(
    net: ScorerNet,
    cache_dir: Path,
    amax: dict[str, torch.Tensor] | None = None,
    alpha: float = 0.65,
    activations: str = "per_token",
    weight_bits: int = 8,
) -> Int8Net:
    """The int8 form of ``net``: the cached graph for these weights/maxima/alpha/activation scheme/weight range,
    exported first when missing."""
    from models.backbone import _file_lock

    _check_activations(activations)
    path = Path(cache_dir) / "int8" / f"{int8_key(net, amax, alpha, activations, weight_bits)}.onnx"
    if path.exists():
        _mark_used(path)
    else:
        with _file_lock(path.parent / ".export.lock"):  # concurrent loaders wait for the first export
            if not path.exists():
                log.info("exporting the int8 scorer once to %s", path)
                export_int8(net, path, amax, alpha, activations, weight_bits)
                prune_int8_cache(path.parent)
    disabled = PER_TOKEN_DISABLED_OPTIMIZERS if activations == "per_token" else ()
    return Int8Net(net.embeddings, path, list(net.tasks), disabled)


INT8_CACHE_KEEP = 4  # graphs kept whatever their age: the active scorer, one being compared, a rescore
INT8_CACHE_IDLE_DAYS = 7.0  # beyond those, graphs nobody loaded for this long are removed


def _mark_used(path: Path) -> None:
    """A load refreshes the graph's mtime, which the pruning below reads as its last use."""
    try:
        os.utime(path)
    except OSError:  # a read-only cache still loads
        pass


def prune_int8_cache(folder: Path, keep: int = INT8_CACHE_KEEP, idle_days: float = INT8_CACHE_IDLE_DAYS) -> list[Path]:
    """Remove cached int8 graphs beyond the ``keep`` most recently used that were not loaded for ``idle_days``.

    Every retrained scorer, smoothing change or export-format bump leaves a 20-45 MB graph behind. Called under
    the export lock after an export; a graph in use was loaded (and marked) recently, so it is never removed."""
    graphs = sorted(Path(folder).glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    cutoff = time.time() - idle_days * 86400
    removed = []
    for p in graphs[keep:]:
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
                removed.append(p)
        except FileNotFoundError:  # another process removed it first
            continue
    if removed:
        log.info("removed %d int8 graphs unused for %g days from %s", len(removed), idle_days, folder)
    return removed


def save_maxima(path: Path, amax: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in amax.items()}, str(tmp))
    tmp.replace(path)  # atomic: a concurrent loader never reads half a file


def load_maxima(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))
