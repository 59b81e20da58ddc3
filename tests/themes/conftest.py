"""Fixtures for the themes area: a real DuckDB with scored mentions, written through the store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from pipeline.store import stable_id, text_hash

from ..helpers import NOW

MODEL, VERSION = "test-scorer", "v1"


def add_scored_mentions(store, brand_id: str, items: list[tuple[str, str, str]], at: datetime = NOW) -> list[str]:
    """Insert (text, sentiment, intent) as document + mention + active-model score; returns mention ids."""
    docs, mentions, scores = [], [], []
    for i, (text, sentiment, intent) in enumerate(items):
        doc_id = stable_id("doc", brand_id, text)
        mid = stable_id(doc_id, brand_id)
        h = text_hash(text)
        docs.append(
            {
                "doc_id": doc_id,
                "source_id": "test-forum",
                "url": f"http://127.0.0.1/t/{doc_id}",
                "posted_at": at - timedelta(minutes=i),
                "fetched_at": at,
                "text": text,
                "text_hash": h,
            }
        )
        mentions.append(
            {
                "mention_id": mid,
                "doc_id": doc_id,
                "brand_id": brand_id,
                "span_start": 0,
                "span_end": 5,
                "context": text,
                "context_hash": h,
                "created_at": at,
            }
        )
        scores.append(
            {
                "mention_id": mid,
                "model": MODEL,
                "model_version": VERSION,
                "context_hash": h,
                "sentiment": sentiment,
                "p_neg": 0.9 if sentiment == "negative" else 0.05,
                "p_neu": 0.05,
                "p_pos": 0.05,
                "unsure": False,
                "intent": intent,
                "intent_probs_json": json.dumps({intent: 1.0}),
                "scored_at": at,
            }
        )
    with store.write() as con:
        store.upsert(
            "models",
            [{"model": MODEL, "model_version": VERSION, "task": "score", "active": True, "created_at": at}],
            key=["model", "model_version"],
            con=con,
        )
        store.upsert(
            "brands",
            [{"brand_id": brand_id, "name": "Посылкин", "aliases_json": json.dumps(["Посылкин", "Posylkin"])}],
            key=["brand_id"],
            con=con,
        )
        store.upsert("documents", pd.DataFrame(docs), key=["doc_id"], con=con)
        store.upsert("mentions", pd.DataFrame(mentions), key=["mention_id"], con=con)
        store.upsert("scores", pd.DataFrame(scores), key=["mention_id", "model_version"], con=con)
    return [m["mention_id"] for m in mentions]


@pytest.fixture(scope="session")
def embedder():
    """The real offline backbone (built once per machine), shared by the area's tests."""
    from models.embed import get_embedder
    from pipeline.config import load_settings

    return get_embedder(load_settings())
