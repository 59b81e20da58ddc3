"""The cut (``ru_en``) backbone vocabulary reads Russian and English text exactly as the full one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

# text in other scripts: still read (as smaller pieces), never as <unk> where the full vocabulary had none
OTHER_SCRIPTS = [
    "#تم_اختراق_الحساب ^^ Банк УРАЛСИБ проводит акцию",
    "私の銀魂ベストソング Сбер",
    "Kapımı açın, Türk Telekom",
    "Škoda Octavia: servis v Brně",
]


@pytest.fixture(scope="module")
def both_backbones():
    from models.backbone import ensure_backbone
    from pipeline.config import load_settings

    out = {}
    for vocabulary in ("full", "ru_en"):
        s = load_settings()
        s.models.vocabulary = vocabulary
        out[vocabulary] = ensure_backbone(s)
    return out


def bundled_texts() -> list[str]:
    texts = []
    for path in sorted((ROOT / "data" / "training").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    return texts


def test_the_rule_keeps_russian_english_and_single_characters():
    from models.vocab import keep_piece, serves_char

    for piece in ("▁Сбер", "банк", "▁Nestlé", "▁Müller", "▁#", "...", "😀😀", "▁2024", "ё", "▁ї", "▁ğ", "私", "▁ت"):
        assert keep_piece(piece), piece
    for piece in ("▁Škoda", "ımı", "私の", "حساب", "▁très" + "ğ", "▁Ελλάδα"):
        assert not keep_piece(piece), piece
    assert serves_char("№") and serves_char("«") and serves_char("€") and not serves_char("ア")


def test_cut_vocabulary_tokenizes_and_embeds_russian_and_english_text_exactly(both_backbones):
    from safetensors import safe_open
    from tokenizers import Tokenizer

    from models.vocab import text_is_served

    full = Tokenizer.from_file(str(both_backbones["full"] / "tokenizer.json"))
    cut = Tokenizer.from_file(str(both_backbones["ru_en"] / "tokenizer.json"))
    assert (full.get_vocab_size(), cut.get_vocab_size()) == (250002, 145446)
    # cut id -> full id, from the pieces themselves
    full_vocab = full.get_vocab()
    to_full = np.array([full_vocab[p] for p, _ in sorted(cut.get_vocab().items(), key=lambda kv: kv[1])])
    assert (np.diff(to_full) > 0).all()  # the kept pieces stay in their order (special tokens first)

    texts = bundled_texts()
    served = [t for t in texts if text_is_served(full.normalizer.normalize_str(t))]
    assert len(texts) > 1500 and len(served) / len(texts) > 0.99
    for t, a, b in zip(served, full.encode_batch(served), cut.encode_batch(served)):
        assert a.tokens == b.tokens, t
        assert a.ids == to_full[b.ids].tolist(), t
    for t in OTHER_SCRIPTS:
        a, b = full.encode(t), cut.encode(t)
        assert b.tokens.count("<unk>") == a.tokens.count("<unk>") == 0, (t, b.tokens)
        assert "".join(b.tokens) == "".join(a.tokens)  # same text, other cuts
    assert cut.encode(OTHER_SCRIPTS[1]).tokens != full.encode(OTHER_SCRIPTS[1]).tokens

    key = "embeddings.word_embeddings.weight"
    with safe_open(str(both_backbones["full"] / "model.safetensors"), "np") as f:
        emb_full = f.get_tensor(key)
    with safe_open(str(both_backbones["ru_en"] / "model.safetensors"), "np") as f:
        emb_cut = f.get_tensor(key)
    assert emb_cut.shape == (145446, 384)
    assert np.array_equal(emb_cut, emb_full[to_full])

    # a scorer names the full weights as its base, whichever vocabulary it was trained or is loaded with
    from models.registry import base_checksum

    full_manifest = json.loads((both_backbones["full"] / "manifest.json").read_text())
    assert base_checksum(both_backbones["ru_en"]) == full_manifest["files"]["model.safetensors"]
    assert base_checksum(both_backbones["full"]) == full_manifest["files"]["model.safetensors"]


@pytest.mark.slow
def test_shipped_scorer_scores_the_same_with_either_vocabulary():
    from models.registry import load_scorer
    from models.scoring import predict_inputs
    from pipeline.config import load_settings

    texts = bundled_texts()[::10]
    probs = {}
    for vocabulary in ("full", "ru_en"):
        s = load_settings()
        s.models.vocabulary = vocabulary
        out = predict_inputs(load_scorer(s, None, quantize=False), texts, s.models.max_tokens)
        probs[vocabulary] = (np.asarray(out.p_sentiment), np.asarray(out.p_intent))
    assert len(texts) > 150
    for a, b in zip(probs["full"], probs["ru_en"]):
        assert np.abs(a - b).max() < 1e-6
