"""The queue and the advocates over the demo web's corpus, with the answer file's LABELS standing in for the
scoring model (the test isolates escalation from model quality): posts, threads, reply links, likes, official
answers and times come from data/demo_web exactly as the demo site serves them."""

from __future__ import annotations

import pytest

from pipeline import escalate as esc
from pipeline.advocates import top_advocates, update_authors

corpus_mod = pytest.importorskip("demo.web.corpus")


@pytest.fixture
def labelled_demo(store, world, now):
    """The demo corpus written as posts, its answer labels standing in as scores; (corpus, labels by mention)."""
    c = corpus_mod.load()
    truth: dict[str, dict] = {}  # mention_id -> labels
    for key, site in c.sites.items():
        for t in site.threads():
            times = t.times(now)
            by_n: dict[int, str] = {}
            for p, at in zip(t.posts, times):
                parent_n = p.reply_to or p.quote
                labels = [lb for lb in p.labels if lb.brand]
                doc_id, _ = world.post(
                    p.text,
                    brand=None,
                    source=f"demo-{key}",
                    thread=str(t.id),
                    author=p.author,
                    at=at,
                    parent=by_n.get(parent_n),
                    likes=p.likes,
                    official=p.official,
                )
                by_n[p.n] = doc_id
                for lb in labels:
                    mid = world.mention(doc_id, p.text, lb.brand, lb.sentiment, lb.intent, at)
                    truth[mid] = {
                        "escalate": lb.escalate,
                        "sentiment": lb.sentiment,
                        "intent": lb.intent,
                        "official": p.official,
                        "text": p.text,
                    }
    world.flush()
    return c, truth


def _relevant(lab: dict) -> bool:
    """Deserves a human: labelled must-escalate, or a negative complaint / failure report."""
    return lab["escalate"] or (lab["sentiment"] == "negative" and lab["intent"] in ("complaint", "failure"))


def test_queue_precision_at_20_and_must_escalate_in_top_50_with_label_scores(settings, store, labelled_demo, now):
    _, truth = labelled_demo
    esc.escalate(settings, store, now=now)
    q = esc.queue(store, limit=1000, now=now)
    top20 = q.head(20)["mention_id"].tolist()
    precision = sum(_relevant(truth[m]) for m in top20) / 20
    must = {m for m, lab in truth.items() if lab["escalate"] and not lab["official"]}
    assert len(must) >= 10
    top50 = set(q.head(50)["mention_id"])
    missing = [truth[m]["text"][:60] for m in must - top50]
    print(f"precision@20={precision:.2f} must_escalate_in_top50={len(must & top50)}/{len(must)} queue={len(q)}")
    assert precision >= 0.8
    assert not missing, missing


def test_planted_advocates_rank_top_5_with_label_scores(settings, store, labelled_demo):
    c, _ = labelled_demo
    update_authors(settings, store)
    overall = top_advocates(store, limit=5)
    ranks = {}
    for name, brand in c.advocates.items():
        per_brand = top_advocates(store, brand=brand, limit=5)
        assert name in set(per_brand["name"]), (name, brand, per_brand[["name", "advocate_score"]].to_dict("records"))
        ranks[name] = list(per_brand["name"]).index(name) + 1
    print("per-brand ranks of planted advocates:", ranks, "overall top 5:", list(overall["name"]))
    assert len(set(c.advocates) & set(overall["name"])) >= 4
