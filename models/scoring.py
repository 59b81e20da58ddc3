"""Scoring stage: sentiment + intent for mentions that have no score for the model's version yet.

Only mentions whose *current* ``context_hash`` has no row for the model version are scored (so an unchanged day
costs zero model calls and does not even load the model), mentions of duplicate documents (``dup_of`` set) are
skipped, batches are sorted by length and padded per batch, inference runs under ``torch.inference_mode()``
with a fixed thread count and (by default) dynamic int8 quantisation of the Linear layers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models import registry
from models.decision import choose
from models.intent import INTENT_LABELS
from models.intent import decide as decide_intent
from models.sentiment import SENTIMENT_LABELS
from models.sentiment import decide as decide_sentiment
from models.window import model_windows

log = logging.getLogger(__name__)

# (batches, model dir) -> each batch's score rows as it is done: how workers score (flows/workers.py)
RunBatches = Callable[[list, str], Iterable[pd.DataFrame]]

_LOADED: dict[tuple, registry.Scorer] = {}
_LOCK = threading.Lock()
LOADS = {"count": 0}  # how many times a scorer was actually loaded (tests check lazy loading)


def get_scorer(settings, name_or_path: str | None = None, quantize: bool | None = None) -> registry.Scorer:
    path = registry.resolve_model_dir(settings, name_or_path)
    q = settings.models.quantize if quantize is None else quantize
    key = (
        str(path.resolve()),
        registry.model_version(path),
        q,
        q and settings.models.smooth_alpha,
        q and settings.models.int8_activations,
        q and settings.models.int8_weights,
        str(settings.models.backbone),
        settings.models.vocabulary,
        str(settings.models.cache_dir),
    )
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = registry.load_scorer(settings, str(path), quantize=q)
            LOADS["count"] += 1
        return _LOADED[key]


def set_threads(settings) -> int:
    """Set torch's intra-op threads for the configured workers; returns the number of workers."""
    import os

    import torch

    n = settings.models.threads or os.cpu_count() or 1
    w = max(1, min(settings.models.workers or n, n))
    torch.set_num_threads(max(1, n // w))
    return w


@contextmanager
def scoring_threads(settings) -> Iterator[int]:
    """`set_threads` for the duration of a scoring call, then torch's thread count as it was (themes and other
    stages later in the same process want every core inside their ops)."""
    import torch

    before = torch.get_num_threads()
    try:
        yield set_threads(settings)
    finally:
        torch.set_num_threads(before)


@dataclass
class Predictions:
    p_sentiment: np.ndarray  # [n, 3] calibrated
    p_intent: np.ndarray  # [n, 5] calibrated, independent sigmoids
    calls: int = 0
    seconds: float = 0.0
    sentiment: list[str] = field(default_factory=list)
    unsure: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # [n] bool
    intent: list[str] = field(default_factory=list)


def predict_inputs(
    scorer: registry.Scorer,
    inputs: Sequence[str],
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    unsure_threshold: float = 0.55,
    workers: int = 1,
    groups: Sequence[int] | None = None,
    max_tokens: int | Sequence[int] | None = None,
) -> Predictions:
    """Score prepared model inputs (``models.window.model_input`` strings).

    Batches of similar length run on ``workers`` threads at once (torch releases the GIL inside its kernels, and
    the network is only read), each writing its own rows of the result.

    ``groups`` (one non-decreasing row number per input, from ``model_inputs``) reads several windows as one
    text: its sentiment is the mean of its windows' logits; its intent is its first (the mention's) window's.
    ``max_tokens`` overrides the scorer's input length, for all inputs or per input.
    """
    import torch

    n = len(inputs)
    ps = np.zeros((n, len(SENTIMENT_LABELS)), np.float32)
    pi = np.zeros((n, len(INTENT_LABELS)), np.float32)
    t0 = time.time()
    spec = scorer.spec
    ts, ti = spec.tasks["sentiment"], spec.tasks["intent"]
    # Tokenize everything once (the fast tokenizer batches in Rust), then group by *token* count: sorting by
    # characters left ~30% of each batch as padding (Russian and Latin texts of one length differ in tokens).
    limits = None if max_tokens is None or isinstance(max_tokens, int) else np.asarray(max_tokens, np.int64)
    top = int(limits.max()) if limits is not None and n else (max_tokens or spec.max_tokens)
    ids = scorer.tokenizer(list(inputs), truncation=True, max_length=top)["input_ids"] if n else []
    if limits is not None:  # as the tokenizer truncates: the first limit-1 pieces, then the closing token
        ids = [x if len(x) <= k else x[: k - 1] + x[-1:] for x, k in zip(ids, limits)]
    lens = np.fromiter(map(len, ids), np.int64, n)
    order = np.argsort(lens, kind="stable")
    batches = [order[s : s + batch_size] for s in range(0, n, batch_size)]
    pad = scorer.tokenizer.pad_token_id or 0
    g = np.asarray(groups, np.int64) if groups is not None and n else None
    first = np.r_[True, g[1:] != g[:-1]] if g is not None else np.ones(n, bool)  # a text's mention window

    def run(idx: np.ndarray) -> int:
        width = int(lens[idx].max())
        x = np.full((len(idx), width), pad, np.int64)
        for r, i in enumerate(idx):
            x[r, : lens[i]] = ids[i]
        mask = (np.arange(width)[None, :] < lens[idx][:, None]).astype(np.int64)
        with torch.inference_mode():
            out = scorer.net(torch.from_numpy(x), torch.from_numpy(mask))
            ps[idx] = out["sentiment"].float().numpy()
            pi[idx] = out["intent"].float().numpy()
        return int(first[idx].sum())  # progress counts texts, not windows

    if workers > 1 and len(batches) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(workers, len(batches)), thread_name_prefix="score") as ex:
            for k in ex.map(run, batches):
                if progress:
                    progress(k)
    else:
        for idx in batches:
            k = run(idx)
            if progress:
                progress(k)
    if g is not None:
        sums = np.zeros((int(g[-1]) + 1, ps.shape[1]), np.float32)
        np.add.at(sums, g, ps)
        ps = sums / np.bincount(g, minlength=len(sums))[:, None].clip(min=1)
        pi = pi[first]
    ps = torch.softmax(torch.from_numpy(ps) / ts.temperature, -1).numpy()
    pi = torch.sigmoid(torch.from_numpy(pi) / ti.temperature).numpy()
    sent, unsure = decide_sentiment(ps, unsure_threshold)
    if ts.offsets:  # the fitted decision rule moves the label, not the calibrated probabilities
        sent = [SENTIMENT_LABELS[i] for i in choose(ps, ts.offsets)]
    return Predictions(ps, pi, len(batches), time.time() - t0, sent, unsure, decide_intent(pi, ti.threshold))


def windowed_inputs(
    settings, spec: registry.ScorerSpec, texts: Sequence[str], targets: Sequence[str | None]
) -> tuple[list[str], list[int], list[int]]:
    """Model inputs of many texts (``models.window.model_windows`` with the ``models.windows`` settings): the
    inputs, each one's text row (``groups``) and token limit, for ``predict_inputs``."""
    inputs: list[str] = []
    groups: list[int] = []
    limits: list[int] = []
    for i, (t, tg) in enumerate(zip(texts, targets)):
        w = model_windows(
            str(t or ""),
            target=tg if isinstance(tg, str) and tg else None,
            max_chars=spec.max_chars,
            max_tokens=spec.max_tokens,
            windows=settings.models.windows,
            window_tokens=settings.models.window_tokens,
        )
        inputs += w.inputs
        groups += [i] * len(w.inputs)
        limits += [w.max_tokens] * len(w.inputs)
    return inputs, groups, limits


def predict_texts(
    settings,
    texts: Sequence[str],
    targets: Sequence[str | None] | None = None,
    model: str | None = None,
    quantize: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> Predictions:
    """Batch prediction for arbitrary texts (``brandmon predict`` / ``eval``); ``targets`` marks the brand."""
    scorer = get_scorer(settings, model, quantize)
    targets = list(targets) if targets is not None else [None] * len(texts)
    inputs, groups, limits = windowed_inputs(settings, scorer.spec, texts, targets)
    with scoring_threads(settings) as workers:
        return predict_inputs(
            scorer,
            inputs,
            settings.models.batch_size,
            progress,
            settings.models.unsure_threshold,
            workers,
            groups,
            limits,
        )


# ---------------------------------------------------------------------------------------------- stage


def _pending(store, version: str, brands: list[str] | None, since=None, until=None) -> pd.DataFrame:
    where = [
        "(d.dup_of IS NULL)",
        "NOT EXISTS (SELECT 1 FROM scores s WHERE s.mention_id = m.mention_id "
        "AND s.model_version = ? AND s.context_hash = m.context_hash)",
    ]
    params: list[Any] = [version]
    if brands:
        where.append("m.brand_id IN (SELECT unnest(?))")
        params.append(list(brands))
    if since is not None:
        where.append("coalesce(d.posted_at, d.fetched_at) >= ?")
        params.append(since)
    if until is not None:
        where.append("coalesce(d.posted_at, d.fetched_at) < ?")
        params.append(until)
    sql = (
        "SELECT m.mention_id, m.context, m.context_hash, m.matched FROM mentions m "
        "JOIN documents d ON d.doc_id = m.doc_id WHERE " + " AND ".join(where)
    )
    return store.query(sql, params)


def _score_frame(
    settings,
    store,
    scorer_dir,
    pending: pd.DataFrame,
    name: str,
    version: str,
    progress: Callable[[int, int], None] | None,
    run_batches: RunBatches | None = None,
) -> tuple[int, int]:
    """Score `pending` in batches of `workers.batch_mentions`, storing each as it comes (so an interrupted run
    keeps its work): in this process one after another, or by `run_batches` (workers) in any order."""
    from models.score_batches import cut_batches, score_batch, store_scores

    done = calls = 0
    total = len(pending)
    batches = cut_batches(pending, name, version, settings.workers.batch_mentions)
    if run_batches is not None:
        results: Iterable[pd.DataFrame] = run_batches(batches, str(scorer_dir))
    else:
        results = (score_batch(b, scorer_dir, settings) for b in batches)
    with store.job():  # readers leave publishing to this run while it stores batch after batch
        for rows in results:
            calls += int(rows.attrs.get("model_calls", 0))
            store_scores(store, rows)
            done += len(rows)
            if progress:
                progress(done, total)
    return done, calls


def _model_row(store, scorer_dir) -> tuple[str, str, bool]:
    """Register the scorer dir's (name, version) without loading weights; activate it if none is active."""
    spec = registry.read_spec(scorer_dir)
    version = registry.model_version(scorer_dir)
    lite = registry.Scorer(None, None, spec, spec.name, version, scorer_dir)
    active = registry.register(store, lite)
    return spec.name, version, active


def score_pending(
    settings,
    store,
    brands: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    run_batches: RunBatches | None = None,
) -> dict:
    """Score the active model's pending mentions (registering + activating the default model if none is)."""
    from pipeline.logs import log_context

    with log_context(stage="score"):
        t0 = time.time()
        active = registry.active_model(store)
        scorer_dir = None
        if active is not None:
            row = store.query("SELECT path FROM models WHERE model = ? AND model_version = ?", list(active))
            p = row["path"].iloc[0] if len(row) else None
            try:
                cand = registry.resolve_model_dir(settings, p)
                if registry.model_version(cand) == active[1]:
                    scorer_dir = cand
            except registry.ModelError:
                scorer_dir = None
            if scorer_dir is None:
                log.warning("active model %s %s: files not found at %s; using the default", *active, p)
        if scorer_dir is None:
            scorer_dir = registry.resolve_model_dir(settings, None)
            name, version, is_active = _model_row(store, scorer_dir)
            if not is_active:
                registry.activate(store, name, version)
        else:
            assert active is not None  # scorer_dir is set above only from the active model's row
            name, version = active
        pending = _pending(store, version, brands)
        scored, calls = (0, 0)
        if len(pending):
            scored, calls = _score_frame(settings, store, scorer_dir, pending, name, version, progress, run_batches)
        counts = {
            "pending": int(len(pending)),
            "scored": scored,
            "model_calls": calls,
            "model": name,
            "model_version": version,
            "seconds": round(time.time() - t0, 2),
        }
        log.info("scored %s", counts)
        return counts


def rescore(
    settings,
    store,
    model: str,
    brands: list[str] | None = None,
    since=None,
    until=None,
    activate: bool = False,
    progress: Callable[[int, int], None] | None = None,
    run_batches: RunBatches | None = None,
) -> dict:
    """Score stored mentions with another model (a path or a name under models/weights); earlier versions'
    scores stay. The model is registered; it becomes active only with ``activate=True``."""
    t0 = time.time()
    scorer_dir = registry.resolve_model_dir(settings, model)
    spec = registry.read_spec(scorer_dir)
    version = registry.model_version(scorer_dir)
    registry.register(store, registry.Scorer(None, None, spec, spec.name, version, scorer_dir), activate_if_none=True)
    if activate:
        registry.activate(store, spec.name, version)
    pending = _pending(store, version, brands, since, until)
    scored, calls = (0, 0)
    if len(pending):
        scored, calls = _score_frame(settings, store, scorer_dir, pending, spec.name, version, progress, run_batches)
    return {
        "pending": int(len(pending)),
        "scored": scored,
        "model_calls": calls,
        "model": spec.name,
        "model_version": version,
        "seconds": round(time.time() - t0, 2),
    }
