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
``torch.onnx.export`` and quantized with ONNX Runtime's ``quantize_dynamic`` (per-channel int8 weights). That
happens once per (weights, maxima, alpha) and is cached under ``models.cache_dir`` like the backbone, never at
import time. torch's own ``torch.ao`` dynamic quantization is deprecated; this path is ONNX Runtime's supported one.

The activation maxima come from a calibration pass in fp32 over a few hundred texts; they depend on the weights,
so they are stored beside a scorer (``calibration.safetensors``) or computed once and cached.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from pipeline.bundled import bundled

if TYPE_CHECKING:
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


INT8_FORMAT = 1  # bump when the export or quantization changes so cached graphs rebuild


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


def int8_key(net: ScorerNet, amax: dict[str, torch.Tensor] | None, alpha: float) -> str:
    """A digest of everything the int8 graph depends on: the exported weights, the maxima, alpha, the format."""
    import hashlib

    h = hashlib.sha256(f"{INT8_FORMAT}|{alpha if amax else 0}|{','.join(net.tasks)}".encode())
    for name, t in net.state_dict().items():
        if not name.startswith("embeddings."):
            h.update(name.encode())
            h.update(t.detach().float().contiguous().numpy().tobytes())
    used = amax if amax and alpha > 0 else {}
    for name in sorted(used):
        h.update(name.encode())
        h.update(used[name].float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def export_int8(net: ScorerNet, out: Path, amax: dict[str, torch.Tensor] | None = None, alpha: float = 0.8) -> Path:
    """Smooth a copy of ``net`` (when maxima are given and ``alpha`` > 0), export it after the embedding lookup
    to ONNX and quantize its MatMuls to per-channel dynamic int8 with ONNX Runtime; written atomically to ``out``."""
    import copy
    import os
    import tempfile
    import warnings

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

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
        root, quiet = logging.getLogger(), _DropPreprocessingHint()
        root.addFilter(quiet)
        try:
            quantize_dynamic(str(fp32), str(q), per_channel=True, weight_type=QuantType.QInt8)
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

    def __init__(self, embeddings: nn.Module, path: Path, tasks: list[str]):
        self.embeddings = embeddings
        self.path = Path(path)
        self.tasks = list(tasks)
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
                self._sessions[n] = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
            return self._sessions[n]

    def __call__(self, input_ids: torch.Tensor, mask: torch.Tensor, tasks: list[str] | None = None):
        with torch.inference_mode():
            hidden = self.embeddings(input_ids=input_ids).float().numpy()
        outs = self.session().run(None, {"hidden": hidden, "attention_mask": mask.numpy().astype(np.int64)})
        res = dict(zip(self.tasks, (torch.from_numpy(o) for o in outs)))
        return {t: res[t] for t in (tasks or self.tasks)}


def load_int8(
    net: ScorerNet, cache_dir: Path, amax: dict[str, torch.Tensor] | None = None, alpha: float = 0.8
) -> Int8Net:
    """The int8 form of ``net``: the cached graph for these weights/maxima/alpha, exported first when missing."""
    from models.backbone import _file_lock

    path = Path(cache_dir) / "int8" / f"{int8_key(net, amax, alpha)}.onnx"
    if not path.exists():
        with _file_lock(path.parent / ".export.lock"):  # concurrent loaders wait for the first export
            if not path.exists():
                log.info("exporting the int8 scorer once to %s", path)
                export_int8(net, path, amax, alpha)
    return Int8Net(net.embeddings, path, list(net.tasks))


def save_maxima(path: Path, amax: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in amax.items()}, str(tmp))
    tmp.replace(path)  # atomic: a concurrent loader never reads half a file


def load_maxima(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))
