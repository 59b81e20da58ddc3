"""Fixtures for notifications: the three receivers, settings routing to them, a store with a critical item."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from pipeline.store import stable_id, text_hash, utcnow

from .receivers import BotApi, SmtpReceiver, WebhookReceiver

TOKEN = "123456:test-bot-token"
HOSTILE = "<script>alert('x')</script> <b>bold</b> [click](javascript:alert(1)) & <http://evil.example|here>"
LEGAL = "Посылкин потерял посылку, подам в суд и напишу в Роспотребнадзор, верните деньги!"


@pytest.fixture
def receivers():
    smtp, hook, bot = SmtpReceiver(), WebhookReceiver(), BotApi(TOKEN)
    yield {"email": smtp, "webhook": hook, "telegram": bot}
    for r in (smtp, hook, bot):
        r.close()


def notify_config(receivers: dict, **extra) -> dict:
    """[notify] for the three receivers, without the secrets (those come from the environment)."""
    return {
        "dashboard_url": "http://dash.example:8501",
        "channels": {
            "ops_mail": {
                "kind": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": receivers["email"].port,
                "security": "none",
                "sender": "brandmon@example.org",
                "to": ["support-lead@example.org"],
            },
            "team_chat": {"kind": "webhook"},
            "oncall_tg": {"kind": "telegram", "api_url": receivers["telegram"].url, "chat_id": "-100777"},
        },
        "rules": [
            {"channels": ["ops_mail", "team_chat", "oncall_tg"], "events": ["escalation"], "levels": ["critical"]}
        ],
        **extra,
    }


def secret_env(receivers: dict) -> dict[str, str]:
    return {
        "BRANDMON_NOTIFY__CHANNELS__TEAM_CHAT__URL": receivers["webhook"].url + "/hooks/T0KEN",
        "BRANDMON_NOTIFY__CHANNELS__ONCALL_TG__TOKEN": TOKEN,
    }


@pytest.fixture
def notify_settings(settings, receivers, monkeypatch):
    from pipeline.config import load_settings

    for k, v in secret_env(receivers).items():
        monkeypatch.setenv(k, v)
    return load_settings(
        data_dir=settings.data_dir,
        brands_file=settings.brands_file,
        sources_file=settings.sources_file,
        notify=notify_config(receivers),
    )


def add_posts(store, posts: list[dict]) -> dict[str, str]:
    """Scored posts written as ingest and scoring would (documents, mentions, an active model, scores, facts)."""
    from pipeline import facts

    now = utcnow()
    docs, mentions, scores, ids = [], [], [], {}
    for i, p in enumerate(posts):
        at = pd.Timestamp(now - timedelta(hours=p.get("hours_ago", 1)))
        doc_id = stable_id("forum-a", p["name"])
        text = p["text"]
        docs.append(
            dict(
                doc_id=doc_id,
                source_id="forum-a",
                url=f"http://127.0.0.1/forum-a/t{i}#p1",
                thread_url=f"http://127.0.0.1/forum-a/t{i}",
                thread_title=p.get("title", f"Thread {i}"),
                author=p.get("author", f"user{i}"),
                posted_at=at,
                fetched_at=at,
                text=text,
                text_hash=text_hash(text),
                ingested_at=at,
            )
        )
        mid = stable_id(doc_id, "posylkin")
        mentions.append(
            dict(
                mention_id=mid,
                doc_id=doc_id,
                brand_id="posylkin",
                span_start=0,
                span_end=8,
                matched="Посылкин",
                context=text,
                context_hash=text_hash(text),
                created_at=at,
                updated_at=at,
            )
        )
        pn = p.get("p_neg", 0.95)
        probs = {
            k: (0.9 if k == p.get("intent", "complaint") else 0.025)
            for k in ("question", "failure", "complaint", "praise", "other")
        }
        scores.append(
            dict(
                mention_id=mid,
                model="test-scorer",
                model_version="v1",
                context_hash=text_hash(text),
                sentiment=p.get("sentiment", "negative"),
                p_neg=pn,
                p_neu=(1 - pn) * 0.7,
                p_pos=(1 - pn) * 0.3,
                unsure=False,
                intent=p.get("intent", "complaint"),
                intent_probs_json=json.dumps(probs),
                scored_at=at,
            )
        )
        ids[p["name"]] = stable_id(mid)  # its escalation id
    with store.write() as con:
        store.upsert("brands", [dict(brand_id="posylkin", name="Посылкин")], ["brand_id"], con=con)
        store.upsert(
            "models",
            [dict(model="test-scorer", model_version="v1", task="score", active=True, created_at=pd.Timestamp(now))],
            ["model", "model_version"],
            con=con,
        )
        store.upsert("documents", pd.DataFrame(docs), ["doc_id"], con=con)
        store.upsert("mentions", pd.DataFrame(mentions), ["mention_id"], con=con)
        store.upsert("scores", pd.DataFrame(scores), ["mention_id", "model_version"], con=con)
        facts.refresh(con)
    return ids


@pytest.fixture
def critical_store(store):
    """One critical item (a legal threat) whose thread title is hostile markup, and one medium complaint."""
    ids = add_posts(
        store,
        [
            {"name": "legal", "text": LEGAL, "title": HOSTILE, "author": "<img src=x onerror=alert(1)>"},
            {"name": "late", "text": "Посылкин задержал доставку на два дня", "p_neg": 0.6, "hours_ago": 30},
        ],
    )
    store.ids = ids
    return store
