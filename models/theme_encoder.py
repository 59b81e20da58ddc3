"""A theme encoder: the backbone with its top layers tuned so that complaints about one thing sit together.

e5 was trained to match questions with passages, so two complaints that share a tone or a street sit closer than
two about the same broken thing described differently. Training the top layers with a supervised contrastive loss
(Khosla et al., 2020: every other text of the same topic in the batch is a positive, the rest negatives) on
complaints labelled by topic moves texts about one topic together. Batches hold P topics × K texts each, so every
text has positives; only the top ``layers`` layers train, on the frozen lower layers' output computed once. The
overlay keeps a ``mix`` of the tuned weights and the rest of e5's own (weight-space ensembling, WiSE-FT): fully tuned
layers fit the training topics and lose on other kinds of complaint, a quarter of the change kept most of the gain.

An overlay is a folder with the replaced layers (``encoder.safetensors``, fp16) and ``theme_encoder.json`` (the
backbone it was trained on, the recipe, the data's size, the CPU time and the weights' sha256). It is applied on
top of the backbone when the embedder loads (14 MB for 4 layers instead of a whole model). ``brandmon train-themes``
writes one; ``models.embedder = "<folder>"`` uses it. None ships: one trained on the citizen appeals was level with
e5 on held-out appeals and a little better on the demo's brand complaints (docs/themes.md, "A theme encoder").
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.backbone import sha256_file
from pipeline.config import ConfigError

MANIFEST = "theme_encoder.json"
WEIGHTS = "encoder.safetensors"
FORMAT = 1


class ThemeEncoderError(ConfigError):
    """An overlay that is missing, damaged or made for another backbone, or data that cannot train one. A
    configuration error: `models.embedder` names the overlay, so every command reports it in one line."""


@dataclass(frozen=True)
class ThemeTrainConfig:
    layers: int = 4  # top layers trained; the rest of the backbone stays as it is
    steps: int = 40
    lr: float = 3e-5
    temperature: float = 0.05
    topics_per_batch: int = 16
    texts_per_topic: int = 4
    max_length: int = 128
    seed: int = 0
    # the share of the tuned weights kept, the rest the backbone's own (WiSE-FT, Wortsman et al., 2022): a mix
    # keeps what e5 knows of text outside the training topics, and works with the shipped clustering thresholds
    mix: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.mix <= 1:
            raise ThemeEncoderError(f"mix must be in (0, 1], got {self.mix}")
        if not 1 <= self.layers <= 12 or self.steps < 1 or self.lr <= 0 or self.temperature <= 0:
            raise ThemeEncoderError(f"invalid theme encoder training options: {self}")
        if self.topics_per_batch < 2 or self.texts_per_topic < 2:
            raise ThemeEncoderError("a batch needs at least 2 topics of at least 2 texts")


def is_overlay(path: Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path: Path) -> dict:
    try:
        return json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise ThemeEncoderError(f"{path}: no readable {MANIFEST} ({e})") from e


def overlay_id(path: Path) -> str:
    """What names the overlay's vectors (embedding caches, reference means): its weights' checksum."""
    return str(read_manifest(path)["weights_sha256"])[:16]


def apply_overlay(model, path: Path, base_sha256: str | None = None) -> dict:
    """Replace the model's top layers with the overlay's, after checking the weights and the backbone."""
    import torch
    from safetensors.torch import load_file

    from models.network import encoder_layers

    path = Path(path)
    man = read_manifest(path)
    if man.get("format") != FORMAT:
        raise ThemeEncoderError(f"{path}: overlay format {man.get('format')}, this version reads {FORMAT}")
    weights = path / WEIGHTS
    if not weights.is_file() or sha256_file(weights) != man.get("weights_sha256"):
        raise ThemeEncoderError(f"{path}: {WEIGHTS} is missing or does not match its checksum")
    if base_sha256 and man.get("base_sha256") and man["base_sha256"] != base_sha256:
        raise ThemeEncoderError(
            f"{path}: trained on backbone {man['base_sha256'][:12]}, but the configured one is {base_sha256[:12]}"
        )
    layers = encoder_layers(model)
    n = int(man["layers"])
    if n > len(layers):
        raise ThemeEncoderError(f"{path}: replaces {n} layers, the backbone has {len(layers)}")
    sd = load_file(str(weights))
    first = len(layers) - n
    try:
        with torch.no_grad():
            for i in range(n):
                own = {k.split(".", 1)[1]: v.float() for k, v in sd.items() if k.split(".", 1)[0] == str(i)}
                layers[first + i].load_state_dict(own, strict=True)
    except RuntimeError as e:  # other widths or names: made for another kind of backbone
        raise ThemeEncoderError(f"{path}: its layers do not fit this backbone ({str(e).splitlines()[0]})") from e
    return man


def supcon_loss(z, y, temperature: float):
    """Supervised contrastive loss over L2-normalised rows z with integer labels y (anchors without a positive
    in the batch are skipped)."""
    import torch

    sim = z @ z.T / temperature
    self_mask = torch.eye(len(y), dtype=torch.bool)
    sim = sim.masked_fill(self_mask, -1e9)
    pos = (y[:, None] == y[None, :]) & ~self_mask
    logp = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    has = pos.any(1)
    if not bool(has.any()):
        return sim.sum() * 0.0
    return -(logp * pos).sum(1)[has].div(pos.sum(1)[has]).mean()


def topic_groups(texts: Sequence[str], topics: Sequence[str]) -> dict[str, list[str]]:
    """Unique texts per topic, topics with at least two kept; a text under two topics is dropped (ambiguous)."""
    seen: dict[str, set[str]] = {}
    for t, y in zip(texts, topics):
        t, y = str(t or "").strip(), str(y or "").strip()
        if t and y:
            seen.setdefault(t, set()).add(y)
    groups: dict[str, list[str]] = {}
    for t, ys in seen.items():
        if len(ys) == 1:
            groups.setdefault(next(iter(ys)), []).append(t)
    return {y: sorted(ts) for y, ts in sorted(groups.items()) if len(ts) >= 2}


def train_theme_encoder(
    backbone_dir: Path | str,
    texts: Sequence[str],
    topics: Sequence[str],
    out: Path,
    cfg: ThemeTrainConfig = ThemeTrainConfig(),
    *,
    prefix: str = "query: ",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Train an overlay on (text, topic) rows and write it to ``out`` (replaced whole, atomically). Returns the
    manifest. Deterministic for a given config, data and thread count."""
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file
    from transformers import AutoModel, AutoTokenizer

    from models.network import additive_mask, encoder_layers, mean_pool, pad_hidden, run_layers
    from models.registry import base_checksum

    groups = topic_groups(texts, topics)
    if len(groups) < 2:
        raise ThemeEncoderError("training needs at least 2 topics with 2 or more distinct texts each")
    cpu0 = time.process_time()
    torch.manual_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(str(backbone_dir))
    model = AutoModel.from_pretrained(str(backbone_dir)).eval()
    layers = encoder_layers(model)
    if cfg.layers > len(layers):
        raise ThemeEncoderError(f"--layers {cfg.layers}: the backbone has only {len(layers)} layers")
    split = len(layers) - cfg.layers
    every = [t for ts in groups.values() for t in ts]
    states: dict[str, torch.Tensor] = {}
    with torch.inference_mode():  # the frozen part runs once per text
        order = sorted(every, key=len)
        for i in range(0, len(order), 32):
            batch = order[i : i + 32]
            enc = tok(
                [prefix + t for t in batch],
                padding=True,
                truncation=True,
                max_length=cfg.max_length,
                return_tensors="pt",
            )
            h = model.embeddings(input_ids=enc["input_ids"])
            h = run_layers(layers[:split], h, additive_mask(enc["attention_mask"], h.dtype))
            for j, t in enumerate(batch):
                states[t] = h[j, : int(enc["attention_mask"][j].sum())].clone()
            if progress:
                progress("frozen layers", min(i + 32, len(order)), len(order))
    top = torch.nn.ModuleList([layers[i] for i in range(split, len(layers))])
    start = {k: v.detach().clone() for k, v in top.state_dict().items()}
    opt = torch.optim.AdamW(top.parameters(), lr=cfg.lr, weight_decay=0.01)
    rng = np.random.RandomState(cfg.seed)
    keys = list(groups)
    losses = []
    top.train()
    for step in range(1, cfg.steps + 1):
        picked: list[str] = []
        ys: list[int] = []
        for k in rng.choice(len(keys), size=min(cfg.topics_per_batch, len(keys)), replace=False):
            g = groups[keys[k]]
            for i in rng.choice(len(g), size=min(cfg.texts_per_topic, len(g)), replace=False):
                picked.append(g[i])
                ys.append(int(k))
        X, M = pad_hidden([states[t] for t in picked], torch.float32)
        z = F.normalize(mean_pool(run_layers(top, X, additive_mask(M, X.dtype)), M), dim=-1)
        loss = supcon_loss(z, torch.tensor(ys), cfg.temperature)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(top.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if progress:
            progress("training", step, cfg.steps)
    sd = {  # keys "<layer>.<name>", the layer counted from the first one replaced
        k: (start[k] + cfg.mix * (v.detach() - start[k])).to(torch.float16).contiguous()
        for k, v in top.state_dict().items()
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        save_file(sd, str(tmp / WEIGHTS))
        manifest = {
            "format": FORMAT,
            "kind": "theme encoder overlay",
            "base_sha256": base_checksum(backbone_dir),
            "layers": cfg.layers,
            "prefix": prefix,
            "recipe": asdict(cfg),
            "data": {"texts": len(every), "topics": len(groups)},
            "loss_first_last": [round(np.mean(losses[:10]), 4), round(np.mean(losses[-10:]), 4)],
            "cpu_seconds": round(time.process_time() - cpu0, 1),
            "weights_sha256": sha256_file(tmp / WEIGHTS),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; an overlay is read by every process that embeds
        for f in (WEIGHTS, MANIFEST):
            os.chmod(tmp / f, 0o644)
        if out.exists():
            aside = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, aside)
            os.replace(tmp, out)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
