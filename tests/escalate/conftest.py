"""Fixtures for the escalation area: a builder that writes documents, mentions, an active scoring model and
its scores (and optionally themes) straight into a real DuckDB file, the way ingest and scoring would."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from pipeline.labels import INTENTS
from pipeline.store import Store, stable_id, text_hash

from ..helpers import NOW

BRAND_NAMES = {
    "posylkin": "Посылкин",
    "shopok": "ШопОк",
    "lastochka": "Ласточка Банк",
    "mobiline": "Мобилайн",
    "zerno": "Кофейня Зерно",
}

_SENT_P = {"negative": (0.88, 0.09, 0.03), "neutral": (0.08, 0.84, 0.08), "positive": (0.03, 0.09, 0.88)}


class World:
    """Collects posts, then `flush()` writes them in one transaction (re-flushing upserts)."""

    def __init__(self, store: Store):
        self.store = store
        self.docs: list[dict] = []
        self.mentions: list[dict] = []
        self.scores: list[dict] = []
        self.themes: list[dict] = []
        self.members: list[dict] = []
        self._n = 0

    def post(
        self,
        text: str,
        *,
        brand: str | None = "posylkin",
        sentiment: str = "neutral",
        intent: str = "other",
        source: str = "forum-a",
        thread: str = "t1",
        author: str | None = None,
        at: datetime | None = None,
        parent: str | None = None,
        likes: int = 0,
        official: bool = False,
        spam: bool = False,
        dup_of: str | None = None,
        p_neg: float | None = None,
        unsure: bool = False,
    ) -> tuple[str, str | None]:
        """Add one post; returns (doc_id, mention_id or None when `brand` is None)."""
        self._n += 1
        at = at or NOW - timedelta(hours=1)
        doc_id = stable_id(source, thread, self._n)
        self.docs.append(
            dict(
                doc_id=doc_id,
                source_id=source,
                url=f"http://127.0.0.1/{source}/{thread}#p{self._n}",
                thread_url=f"http://127.0.0.1/{source}/{thread}",
                thread_title=f"Thread {thread}",
                author=author or f"user{self._n}",
                author_url=None,
                posted_at=pd.Timestamp(at),
                fetched_at=pd.Timestamp(at),
                text=text,
                text_hash=text_hash(text),
                parent_id=parent,
                likes=likes,
                is_official_answer=official,
                dup_of=dup_of,
                spam=spam,
                ingested_at=pd.Timestamp(at),
            )
        )
        if brand is None:
            return doc_id, None
        return doc_id, self.mention(doc_id, text, brand, sentiment, intent, at, p_neg, unsure)

    def mention(
        self,
        doc_id: str,
        text: str,
        brand: str,
        sentiment: str,
        intent: str,
        at: datetime,
        p_neg: float | None = None,
        unsure: bool = False,
    ) -> str:
        """A brand mention in an existing post, scored by the fixture's stand-in model."""
        mention_id = stable_id(doc_id, brand)
        self.mentions.append(
            dict(
                mention_id=mention_id,
                doc_id=doc_id,
                brand_id=brand,
                span_start=0,
                span_end=5,
                matched=brand,
                context=text,
                context_hash=text_hash(text),
                created_at=pd.Timestamp(at),
                updated_at=pd.Timestamp(at),
            )
        )
        pn, pu, pp = _SENT_P[sentiment]
        if p_neg is not None:
            rest = 1.0 - p_neg
            pn, pu, pp = p_neg, rest * 0.7, rest * 0.3
        probs = {k: (0.7 if k == intent else 0.075) for k in INTENTS}
        self.scores.append(
            dict(
                mention_id=mention_id,
                model="test-scorer",
                model_version="v1",
                context_hash=text_hash(text),
                sentiment=sentiment,
                p_neg=pn,
                p_pos=pp,
                p_neu=pu,
                unsure=unsure,
                intent=intent,
                intent_probs_json=json.dumps(probs),
                scored_at=pd.Timestamp(at),
            )
        )
        return mention_id

    def theme(
        self,
        theme_id: str,
        brand: str,
        label: str,
        mention_ids: list[str],
        status: str = "stable",
        size: int | None = None,
        prev_size: int = 0,
        keywords: list[str] | None = None,
    ) -> None:
        self.themes.append(
            dict(
                theme_id=theme_id,
                brand_id=brand,
                label=label,
                keywords_json=json.dumps(keywords or [], ensure_ascii=False),
                first_seen=pd.Timestamp(NOW),
                last_seen=pd.Timestamp(NOW),
                size=size or len(mention_ids),
                prev_size=prev_size,
                status=status,
                updated_at=pd.Timestamp(NOW),
            )
        )
        self.members += [dict(theme_id=theme_id, mention_id=m, distance=0.1) for m in mention_ids]

    def flush(self) -> World:
        with self.store.write() as con:
            self.store.upsert(
                "brands", [dict(brand_id=k, name=v) for k, v in BRAND_NAMES.items()], ["brand_id"], con=con
            )
            self.store.upsert(
                "models",
                [
                    dict(
                        model="test-scorer", model_version="v1", task="score", active=True, created_at=pd.Timestamp(NOW)
                    )
                ],
                ["model", "model_version"],
                con=con,
            )
            if self.docs:
                df = pd.DataFrame(self.docs)
                for c in ("author_url", "parent_id", "dup_of"):
                    df[c] = df[c].astype(object)
                self.store.upsert("documents", df, ["doc_id"], con=con)
            if self.mentions:
                self.store.upsert("mentions", pd.DataFrame(self.mentions), ["mention_id"], con=con)
                self.store.upsert("scores", pd.DataFrame(self.scores), ["mention_id", "model_version"], con=con)
            if self.themes:
                self.store.upsert("themes", pd.DataFrame(self.themes), ["theme_id"], con=con)
                self.store.upsert("theme_members", pd.DataFrame(self.members), ["theme_id", "mention_id"], con=con)
        return self


@pytest.fixture
def world(store) -> World:
    return World(store)
