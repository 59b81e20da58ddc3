"""Model-area fixtures: the converted backbone is shared through the cache dir set in tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def backbone_dir():
    from models.backbone import ensure_backbone
    from pipeline.config import load_settings

    return ensure_backbone(load_settings())


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A tiny randomly initialised BERT + the real tokenizer, saved as a plain local model dir.

    The tokenizer's two files are copied, not loaded and saved: building the 250k-word tokenizer in transformers
    takes seconds, and `save_pretrained` writes the same two files (same ids, length and special tokens)."""
    import shutil

    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel

    from models.backbone import ensure_backbone
    from pipeline.config import load_settings

    torch.manual_seed(0)
    backbone = ensure_backbone(load_settings())
    out = tmp_path_factory.mktemp("models") / "tiny-bert"
    out.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(backbone / name, out / name)
    cfg = BertConfig(
        vocab_size=Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab_size(with_added_tokens=True),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_bert):
    """The tiny BERT's tokenizer, loaded once: transformers takes seconds to build the 250k-word tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_bert)


def make_scorer(base_dir, out, seed: int = 0, split: int = 1):
    """A scorer dir over ``base_dir`` with seeded random task stacks (for mechanics, not quality)."""
    import torch
    from transformers import AutoModel

    from models import registry
    from models.intent import INTENT_LABELS
    from models.sentiment import SENTIMENT_LABELS

    torch.manual_seed(seed)
    base = AutoModel.from_pretrained(base_dir)
    spec = registry.ScorerSpec(
        name=f"test-scorer-{seed}",
        base=str(base_dir),
        base_sha256=None,
        split=split,
        max_tokens=48,
        tasks={
            "sentiment": registry.TaskSpec(list(SENTIMENT_LABELS)),
            "intent": registry.TaskSpec(list(INTENT_LABELS), multi_label=True),
        },
    )
    net = registry.build_net(base, spec)
    for stack in net.tasks.values():
        torch.nn.init.normal_(stack.head.weight, std=0.5)
    registry.save_scorer(net, spec, out)
    return out


@pytest.fixture
def tiny_settings(settings, tiny_bert, tmp_path):
    """Settings whose backbone is the tiny BERT and whose default scorer is a random one over it."""
    settings.models.backbone = str(tiny_bert)
    settings.models.sentiment = str(make_scorer(tiny_bert, tmp_path / "scorer-a", seed=1))
    settings.models.threads = 1
    return settings


def add_mentions(store, rows):
    """Insert documents + mentions: rows of (doc_id, brand_id, context, matched, dup_of)."""
    import pandas as pd

    from pipeline.store import stable_id, text_hash, utcnow

    now = utcnow()
    docs = pd.DataFrame(
        [
            {
                "doc_id": d,
                "source_id": "test",
                "text": c,
                "text_hash": text_hash(c),
                "dup_of": dup,
                "posted_at": now,
                "fetched_at": now,
            }
            for d, b, c, m, dup in rows
        ]
    )
    ments = pd.DataFrame(
        [
            {
                "mention_id": stable_id(d, b),
                "doc_id": d,
                "brand_id": b,
                "matched": m,
                "context": c,
                "context_hash": text_hash(c),
                "created_at": now,
            }
            for d, b, c, m, dup in rows
        ]
    )
    from pipeline import facts

    with store.write() as con:  # as ingest does: rows and their facts in one transaction
        store.upsert("documents", docs, key=["doc_id"], con=con)
        store.upsert("mentions", ments, key=["mention_id"], con=con)
        facts.refresh(con, doc_ids=docs["doc_id"])
    return list(ments["mention_id"])


@pytest.fixture
def scorer_factory():
    return make_scorer


@pytest.fixture
def mentions_factory():
    return add_mentions
