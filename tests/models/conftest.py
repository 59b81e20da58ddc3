"""Model-area fixtures: the converted backbone is shared through the cache dir set in tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def backbone_dir():
    from models.backbone import ensure_backbone
    from pipeline.config import load_settings

    return ensure_backbone(load_settings())


@pytest.fixture
def tiny_bert(tmp_path):
    """A tiny randomly initialised BERT + the real tokenizer, saved as a plain local model dir."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from models.backbone import ensure_backbone
    from pipeline.config import load_settings

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(ensure_backbone(load_settings()))
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    out = tmp_path / "tiny-bert"
    BertModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out
