"""Scoring models: on-disk format, versions, loading, and the `models` table.

A scorer directory holds ``scorer.json`` (the spec: base backbone + its checksum, split layer, tasks with their
labels and calibration temperatures, metrics) and ``weights.safetensors`` (the task stacks and heads, fp16).
The frozen lower part comes from the backbone (``ensure_backbone``). ``model_version`` is a hash of both
files, so retraining or re-calibrating gives a new version and old scores stay attributable. An optional
``calibration.safetensors`` holds the fp32 activation maxima for int8 smoothing (``models.quantize``); it is not
part of the version because, when absent, the same numbers are computed from the same bundled texts.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import facts

log = logging.getLogger(__name__)

SCORER_FILE = "scorer.json"
WEIGHTS_FILE = "weights.safetensors"
DEFAULT_MODEL = "brandmon-scorer"
WEIGHTS_ROOT = Path(__file__).resolve().parent / "weights"


class ModelError(RuntimeError):
    """A model cannot be found, loaded or switched; the message says which and why."""


@dataclass
class TaskSpec:
    labels: list[str]
    multi_label: bool = False
    temperature: float = 1.0
    threshold: float = 0.5  # multi-label decision threshold on calibrated probabilities
    trained: bool = False
    branch_of: str | None = None  # reads this task's stack after `branch_depth` of its layers (models.network)
    branch_depth: int = 0
    head_width: int = 0  # > 0: an MLP head of this hidden width (models.network.PooledMLP) instead of a linear one
    head_members: int = 1  # > 1: the MLP head is an ensemble of this many, averaged in logits
    # single-label: per-class offsets on log-probabilities before the argmax (models.decision), None for argmax
    offsets: list[float] | None = None


@dataclass
class ScorerSpec:
    name: str
    base: str
    base_sha256: str | None
    split: int
    max_tokens: int = 96
    max_chars: int = 400
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    trained_at: str | None = None

    def to_json(self) -> str:
        d = self.__dict__.copy()
        d["tasks"] = {k: v.__dict__ for k, v in self.tasks.items()}
        return json.dumps(d, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ScorerSpec:
        d = json.loads(text)
        d["tasks"] = {k: TaskSpec(**v) for k, v in d.get("tasks", {}).items()}
        return cls(**d)


def model_version(path: Path) -> str:
    h = hashlib.sha256()
    for name in (SCORER_FILE, WEIGHTS_FILE):
        h.update((Path(path) / name).read_bytes())
    return h.hexdigest()[:12]


def resolve_model_dir(settings, name_or_path: str | None = None) -> Path:
    """A scorer dir from a path, a name under models/weights, or the configured/shipped default."""
    cand = name_or_path or settings.models.sentiment or DEFAULT_MODEL
    for p in (Path(cand).expanduser(), WEIGHTS_ROOT / cand):
        if (p / SCORER_FILE).exists():
            return p
    raise ModelError(f"model {cand!r}: no {SCORER_FILE} at that path or under {WEIGHTS_ROOT}")


def read_spec(path: Path) -> ScorerSpec:
    try:
        return ScorerSpec.from_json((Path(path) / SCORER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as e:
        raise ModelError(f"{path}/{SCORER_FILE}: unreadable scorer spec ({e})") from None


_TOKENIZERS: dict[str, Any] = {}  # building a 250k-piece Unigram tokenizer takes seconds; once per process


def load_base(settings):
    """The backbone as a plain ``AutoModel`` + ``AutoTokenizer`` (same path for shipped or configured)."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from models.backbone import ensure_backbone

    path = ensure_backbone(settings)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the load report is noise for us
    try:
        key = str(Path(path).resolve()) if Path(str(path)).exists() else str(path)
        if key not in _TOKENIZERS:
            _TOKENIZERS[key] = AutoTokenizer.from_pretrained(path)
        tok = _TOKENIZERS[key]
        base = AutoModel.from_pretrained(path, dtype="float32")
    finally:
        hf_logging.set_verbosity(verbosity)
    return base.eval(), tok, path


def base_checksum(path) -> str | None:
    """The backbone a scorer names: the full-vocabulary weights' sha256 (a cut vocabulary keeps their rows)."""
    mf = Path(path) / "manifest.json"
    if mf.exists():
        manifest = json.loads(mf.read_text())
        return manifest.get("full_model_sha256") or manifest.get("files", {}).get("model.safetensors")
    return None


@dataclass
class Scorer:
    net: Any  # models.network.ScorerNet
    tokenizer: Any
    spec: ScorerSpec
    name: str
    version: str
    path: Path


def build_net(base, spec: ScorerSpec):
    from models.network import ScorerNet

    return ScorerNet(
        base,
        spec.split,
        {t: len(s.labels) for t, s in spec.tasks.items()},
        {t: (s.branch_of, s.branch_depth) for t, s in spec.tasks.items() if s.branch_of},
        {t: s.head_width for t, s in spec.tasks.items()},
        {t: s.head_members for t, s in spec.tasks.items()},
    )


def load_scorer(settings, name_or_path: str | None = None, quantize: bool | None = None) -> Scorer:
    from safetensors.torch import load_file

    path = resolve_model_dir(settings, name_or_path)
    spec = read_spec(path)
    base, tok, base_path = load_base(settings)
    have = base_checksum(base_path)
    if spec.base_sha256 and have and have != spec.base_sha256:
        raise ModelError(
            f"{path}: trained on backbone {spec.base_sha256[:12]}, but the configured backbone is {have[:12]}"
        )
    net = build_net(base, spec)
    state = {k: v.float() for k, v in load_file(str(path / WEIGHTS_FILE)).items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if k.startswith("tasks.")]
    if missing or unexpected:
        raise ModelError(f"{path}: weights do not fit the network (missing {missing[:3]}, extra {unexpected[:3]})")
    net.eval()
    if settings.models.quantize if quantize is None else quantize:
        from models import quantize as qz

        alpha = settings.models.smooth_alpha
        amax = activation_maxima(settings, path, net, tok, spec, have) if alpha > 0 else None
        net = qz.load_int8(
            net,
            Path(settings.models.cache_dir),
            amax,
            alpha,
            settings.models.int8_activations,
            weight_bits=qz.weight_bits(settings.models.int8_weights),
        )
    return Scorer(net, tok, spec, spec.name, model_version(path), path)


def activation_maxima(settings, path: Path, net, tok, spec: ScorerSpec, base_sha: str | None):
    """The fp32 activation maxima int8 smoothing needs: shipped beside the scorer, else computed once on the
    bundled calibration texts and cached (same texts everywhere, so every install gets the same numbers)."""
    from models import quantize as qz

    shipped = path / qz.CALIBRATION_FILE
    if shipped.exists():
        return qz.load_maxima(shipped)
    cached = (
        Path(settings.models.cache_dir) / "calibration" / f"{model_version(path)}-{(base_sha or '-')[:12]}.safetensors"
    )
    if cached.exists():
        return qz.load_maxima(cached)
    from models.window import model_input

    texts = [model_input(t, max_chars=spec.max_chars) for t in qz.calibration_texts()]
    if not texts:
        log.warning("no calibration texts (%s): int8 without smoothing", qz.CALIBRATION_TEXTS)
        return None
    amax = qz.calibrate(net, tok, texts, spec.max_tokens)
    qz.save_maxima(cached, amax)
    return amax


def save_scorer(net, spec: ScorerSpec, out_dir: Path) -> str:
    import torch
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in net.task_state_dict().items()}
    save_file(state, str(out_dir / WEIGHTS_FILE), metadata={"format": "pt"})
    (out_dir / SCORER_FILE).write_text(spec.to_json(), encoding="utf-8")
    from models.quantize import CALIBRATION_FILE

    (out_dir / CALIBRATION_FILE).unlink(missing_ok=True)  # measured on other weights; the caller may write anew
    return model_version(out_dir)


# ---------------------------------------------------------------------------------------- models table


def register(store, scorer: Scorer, activate_if_none: bool = True) -> bool:
    """Insert the scorer's (model, version) row; activate it when no scoring model is active. Returns active."""
    from pipeline.store import utcnow

    with store.write() as con:
        con.execute(
            "INSERT INTO models (model, model_version, task, path, active, metrics_json, created_at) "
            "VALUES (?, ?, 'score', ?, FALSE, ?, ?) ON CONFLICT DO NOTHING",
            [scorer.name, scorer.version, str(scorer.path), json.dumps(scorer.spec.metrics), utcnow()],
        )
        n_active = con.execute("SELECT count(*) FROM models WHERE task='score' AND active").fetchone()[0]
        if n_active == 0 and activate_if_none:
            con.execute(
                "UPDATE models SET active = TRUE WHERE model = ? AND model_version = ?",
                [scorer.name, scorer.version],
            )
            facts.refresh(con)
        row = con.execute(
            "SELECT active FROM models WHERE model = ? AND model_version = ?", [scorer.name, scorer.version]
        ).fetchone()
    return bool(row[0])


def active_model(store) -> tuple[str, str] | None:
    with store.read() as con:
        row = con.execute(
            "SELECT model, model_version FROM models WHERE task='score' AND active ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    return (row[0], row[1]) if row else None


def list_models(store):
    return store.query(
        "SELECT m.model, m.model_version, m.active, m.path, m.created_at, "
        "(SELECT count(*) FROM scores s WHERE s.model = m.model AND s.model_version = m.model_version) AS scores "
        "FROM models m WHERE m.task = 'score' ORDER BY m.created_at"
    )


def activate(store, model: str, version: str | None = None) -> tuple[str, str]:
    """Make one (model, version) the active scorer; ``version`` may be a prefix, or omitted for the newest."""
    with store.write() as con:
        rows = con.execute(
            "SELECT model, model_version FROM models WHERE task='score' AND model = ? "
            "AND (? IS NULL OR starts_with(model_version, ?)) ORDER BY created_at DESC",
            [model, version, version],
        ).fetchall()
        if not rows:
            raise ModelError(f"no registered scoring model {model!r}" + (f" version {version!r}" if version else ""))
        if version and len(rows) > 1:
            raise ModelError(f"version prefix {version!r} of {model!r} is ambiguous ({len(rows)} matches)")
        m, v = rows[0]
        con.execute("UPDATE models SET active = (model = ? AND model_version = ?) WHERE task = 'score'", [m, v])
        facts.refresh(con)  # every mention's current score changes with the active model
    return m, v
