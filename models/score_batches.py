"""Scoring in three plain steps, so batches can be scored by processes that never open the database.

1. `cut_batches` (the writer): the pending mention contexts, length-sorted, cut into `ScoreBatch`es: plain data
   (ids, window texts, brand marks, model name and version), picklable, small.
2. `score_batch(batch, model_dir, settings)` (anywhere): the scores of one batch as a DataFrame. It reads the model
   weights, not the database; the scorer is loaded once per process and kept (`models.scoring.get_scorer`).
3. `store_scores` (the writer): stores a batch's rows. Rows already stored for the same context, and rows for a
   context the mention no longer has, are left out, so a batch stored twice (a retried or duplicated task)
   changes nothing and a late result never overwrites a newer context's score.

The single-process scoring stage runs these same steps one after another (`models.scoring._score_frame`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models import registry
from models.intent import INTENT_LABELS
from pipeline import facts
from pipeline.store import stable_id, utcnow

SCORE_COLUMNS = [
    "mention_id",
    "model",
    "model_version",
    "context_hash",
    "sentiment",
    "p_neg",
    "p_neu",
    "p_pos",
    "unsure",
    "intent",
    "intent_probs_json",
]


@dataclass(frozen=True)
class ScoreBatch:
    """Mention contexts to score with one model version; plain data that travels to a worker."""

    batch_id: str
    model: str
    model_version: str
    mention_ids: list[str]
    contexts: list[str]
    context_hashes: list[str]
    matched: list[str | None]

    def __len__(self) -> int:
        return len(self.mention_ids)


def cut_batches(pending: pd.DataFrame, model: str, version: str, size: int = 512) -> list[ScoreBatch]:
    """`pending` (mention_id, context, context_hash, matched) cut into batches of `size`, sorted by length (a batch
    of similar lengths pads little), then by id: the same mentions make the same batches whatever order the query
    returned them in. That matters: int8 inference quantizes activations per call, so a mention's probabilities
    move in the third decimal with the texts it shares a call with."""
    size = max(1, size)
    lengths = pending["context"].fillna("").str.len().to_numpy()
    order = np.lexsort((pending["mention_id"].astype(str).to_numpy(), lengths))
    pending = pending.iloc[order]
    out = []
    for s in range(0, len(pending), size):
        part = pending.iloc[s : s + size]
        ids = [str(x) for x in part["mention_id"]]
        hashes = [str(x) for x in part["context_hash"]]
        out.append(
            ScoreBatch(
                batch_id=stable_id(version, *ids, *hashes),
                model=model,
                model_version=version,
                mention_ids=ids,
                contexts=[str(x) if isinstance(x, str) else "" for x in part["context"]],
                context_hashes=hashes,
                matched=[x if isinstance(x, str) and x else None for x in part["matched"]],
            )
        )
    return out


_DIRS: dict[tuple[str, str, str], Path] = {}
_DIRS_LOCK = threading.Lock()


def locate_model(settings, model_dir: str | Path, name: str, version: str) -> Path:
    """The scorer folder holding exactly `version`: `model_dir` as the writer named it, else the model `name`
    under this machine's configured places (a worker on another host has its own copy of the weights)."""
    key = (str(model_dir), name, version)
    with _DIRS_LOCK:
        if key in _DIRS:
            return _DIRS[key]
    found = None
    for cand in (str(model_dir), name):
        try:
            p = registry.resolve_model_dir(settings, cand)
        except registry.ModelError:
            continue
        if registry.model_version(p) == version:
            found = p
            break
    if found is None:
        raise registry.ModelError(
            f"model {name} version {version}: not at {model_dir} nor under this machine's model folders "
            "(copy the scorer folder there)"
        )
    with _DIRS_LOCK:
        _DIRS[key] = found
    return found


def score_batch(batch: ScoreBatch, model_dir: str | Path, settings) -> pd.DataFrame:
    """One batch's score rows (`SCORE_COLUMNS`). Needs the model weights and settings, no database."""
    from models.scoring import get_scorer, predict_inputs, scoring_threads, windowed_inputs

    path = locate_model(settings, model_dir, batch.model, batch.model_version)
    scorer = get_scorer(settings, str(path))  # loaded once per process
    inputs, groups, limits = windowed_inputs(settings, scorer.spec, batch.contexts, batch.matched)
    with scoring_threads(settings) as workers:
        pr = predict_inputs(
            scorer,
            inputs,
            settings.models.batch_size,
            None,
            settings.models.unsure_threshold,
            workers,
            groups,
            limits,
        )
    rows = pd.DataFrame(
        {
            "mention_id": batch.mention_ids,
            "model": batch.model,
            "model_version": batch.model_version,
            "context_hash": batch.context_hashes,
            "sentiment": pr.sentiment,
            "p_neg": pr.p_sentiment[:, 0].astype(float),
            "p_neu": pr.p_sentiment[:, 1].astype(float),
            "p_pos": pr.p_sentiment[:, 2].astype(float),
            "unsure": pr.unsure.astype(bool),
            "intent": pr.intent,
            "intent_probs_json": [
                json.dumps({k: round(float(v), 4) for k, v in zip(INTENT_LABELS, row)}) for row in pr.p_intent
            ],
        },
        columns=SCORE_COLUMNS,
    )
    rows.attrs["model_calls"] = pr.calls
    return rows


_FRESH_SQL = """
SELECT i.* FROM __score_rows i
JOIN mentions m ON m.mention_id = i.mention_id AND m.context_hash = i.context_hash
WHERE NOT EXISTS (
    SELECT 1 FROM scores s
    WHERE s.mention_id = i.mention_id AND s.model_version = i.model_version AND s.context_hash = i.context_hash
)
"""


def store_scores(store, rows: pd.DataFrame) -> int:
    """Store one batch's rows in one transaction (with their facts); returns the rows written.

    Only rows for a mention's current context that are not stored yet are written: storing the same batch again
    writes nothing."""
    if rows.empty:
        return 0
    rows = rows[SCORE_COLUMNS]
    with store.write() as con:
        con.register("__score_rows", rows)
        try:
            fresh = con.execute(_FRESH_SQL).df()
        finally:
            con.unregister("__score_rows")
        if fresh.empty:
            return 0
        fresh["scored_at"] = utcnow()
        store.upsert("scores", fresh, key=["mention_id", "model_version"], con=con)
        facts.refresh(con, mention_ids=fresh["mention_id"].tolist())
    return len(fresh)
