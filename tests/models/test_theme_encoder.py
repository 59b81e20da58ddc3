"""The theme encoder overlay (models/theme_encoder.py): training, checks on load, and the embedder that uses it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.theme_encoder import (
    MANIFEST,
    WEIGHTS,
    ThemeEncoderError,
    ThemeTrainConfig,
    apply_overlay,
    topic_groups,
    train_theme_encoder,
)

LAMP = ["Не горит фонарь на улице {}", "Уличное освещение не работает на {}", "Темно на {}, фонари выключены"]
PIT = ["Яма на дороге на улице {}", "Разбитый асфальт на {}, ямы", "Колея и выбоины на {}"]
STREETS = ["Мира", "Ленина", "Садовой", "Гагарина"]


def rows():
    texts, topics = [], []
    for topic, forms in (("lamp", LAMP), ("pit", PIT)):
        for f in forms:
            for s in STREETS:
                texts.append(f.format(s))
                topics.append(topic)
    return texts, topics


def test_topic_groups_drop_ambiguous_and_single_texts():
    g = topic_groups(["a", "b", "c", "c", "d", "e", " "], ["x", "x", "x", "y", "z", "w", "w"])
    assert g == {"x": ["a", "b"]}  # c is under two topics, z and w keep one text each (" " is empty)


def test_training_needs_two_topics(tiny_bert, tmp_path):
    with pytest.raises(ThemeEncoderError, match="at least 2 topics"):
        train_theme_encoder(tiny_bert, ["a", "b", "c"], ["x", "x", "y"], tmp_path / "o")
    texts, topics = rows()
    with pytest.raises(ThemeEncoderError, match="only 2 layers"):  # the tiny model has 2, the default trains 4
        train_theme_encoder(tiny_bert, texts, topics, tmp_path / "o")
    assert not (tmp_path / "o").exists()
    with pytest.raises(ThemeEncoderError):
        ThemeTrainConfig(steps=0)
    with pytest.raises(ThemeEncoderError, match="mix"):
        ThemeTrainConfig(mix=0)


def _embed(model_dir, texts, overlay=None):
    from models.embed import TransformerEmbedder

    return TransformerEmbedder(model_dir, overlay=overlay).encode(texts)


def _separation(E, topics):
    y = np.array(topics)
    S = E @ E.T
    same = (y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)
    return float(S[same].mean() - S[y[:, None] != y[None, :]].mean())


def test_training_pulls_a_topic_together_and_is_reproducible(tiny_bert, tmp_path):
    texts, topics = rows()
    cfg = ThemeTrainConfig(layers=2, steps=30, lr=1e-3, topics_per_batch=2, texts_per_topic=6, mix=1.0)
    man = train_theme_encoder(tiny_bert, texts, topics, tmp_path / "a", cfg)
    assert man["data"] == {"texts": 24, "topics": 2} and man["layers"] == 2
    assert man["loss_first_last"][1] < man["loss_first_last"][0]
    before = _separation(_embed(tiny_bert, texts), topics)
    after = _separation(_embed(tiny_bert, texts, tmp_path / "a"), topics)
    assert after > before + 0.05, (before, after)
    again = train_theme_encoder(tiny_bert, texts, topics, tmp_path / "b", cfg)
    assert again["weights_sha256"] == man["weights_sha256"]  # same data, config and seed: the same weights
    from safetensors.torch import load_file
    from transformers import AutoModel

    half = train_theme_encoder(
        tiny_bert, texts, topics, tmp_path / "h", ThemeTrainConfig(**{**cfg.__dict__, "mix": 0.5})
    )
    start = AutoModel.from_pretrained(str(tiny_bert)).encoder.layer.state_dict()
    full_w, half_w = load_file(str(tmp_path / "a" / WEIGHTS)), load_file(str(tmp_path / "h" / WEIGHTS))
    assert half["weights_sha256"] != man["weights_sha256"] and set(full_w) == set(half_w) == set(start)
    for k, w0 in start.items():  # halfway between the backbone's layer and the fully tuned one (fp16 rounding)
        torch.testing.assert_close(half_w[k].float(), (w0 + full_w[k].float()) / 2, atol=2e-3, rtol=2e-3)
    other = train_theme_encoder(
        tiny_bert, texts, topics, tmp_path / "c", ThemeTrainConfig(**{**cfg.__dict__, "seed": 1})
    )
    assert other["weights_sha256"] != man["weights_sha256"]


def test_a_damaged_or_foreign_overlay_is_refused(tiny_bert, tmp_path):
    from transformers import AutoModel

    texts, topics = rows()
    out = tmp_path / "o"
    train_theme_encoder(tiny_bert, texts, topics, out, ThemeTrainConfig(layers=1, steps=2))
    model = AutoModel.from_pretrained(str(tiny_bert))
    apply_overlay(model, out)  # the tiny model has no manifest, so the overlay names no backbone
    from transformers import BertConfig, BertModel

    wider = BertModel(
        BertConfig(vocab_size=100, hidden_size=48, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    )
    with pytest.raises(ThemeEncoderError, match="do not fit"):
        apply_overlay(wider, out)
    man = json.loads((out / MANIFEST).read_text())
    man["base_sha256"] = "e" * 64
    (out / MANIFEST).write_text(json.dumps(man))
    with pytest.raises(ThemeEncoderError, match="trained on backbone"):
        apply_overlay(model, out, base_sha256="f" * 64)
    data = bytearray((out / WEIGHTS).read_bytes())
    data[-1] ^= 1
    (out / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ThemeEncoderError, match="checksum"):
        apply_overlay(model, out)


def test_an_overlay_folder_is_an_embedder_of_its_own(settings, tmp_path):
    """`models.embedder = <overlay>`: the real backbone with the overlay's top layer, named and cached apart."""
    from models.backbone import ensure_backbone
    from models.embed import get_embedder

    texts, topics = rows()
    out = tmp_path / "enc"
    man = train_theme_encoder(ensure_backbone(settings), texts, topics, out, ThemeTrainConfig(layers=1, steps=3))
    plain = get_embedder(settings)
    settings.models.embedder = str(out)
    tuned = get_embedder(settings)
    assert tuned.name.endswith("+themes:" + man["weights_sha256"][:16]) and "+themes" not in plain.name
    assert tuned.disk_cache.path != plain.disk_cache.path  # their vectors never share a cache
    a, b = tuned.encode(texts[:4]), plain.encode(texts[:4])
    assert a.shape == b.shape == (4, 384) and not np.allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)


def test_train_themes_command(tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from brandmon.cli import app

    texts, topics = rows()
    good, one = tmp_path / "good.csv", tmp_path / "one.csv"
    pd.DataFrame({"body": texts, "theme": topics}).to_csv(good, index=False)
    pd.DataFrame({"body": texts[:6], "theme": ["lamp"] * 6}).to_csv(one, index=False)
    base = ["--data-dir", str(tmp_path / "d"), "train-themes"]
    out = tmp_path / "enc"
    r = CliRunner().invoke(app, [*base, str(one), "--text-col", "body", "--label-col", "theme", "--out", str(out)])
    assert r.exit_code == 2 and "at least 2 topics" in r.output and not out.exists()
    r = CliRunner().invoke(app, [*base, str(good), "--text-col", "text", "--label-col", "theme", "--out", str(out)])
    assert r.exit_code == 2 and "missing column 'text'" in r.output
    r = CliRunner().invoke(
        app,
        [*base, str(good), "--text-col", "body", "--label-col", "theme", "--out", str(out), "--steps", "2"]
        + ["--layers", "1"],
    )
    assert r.exit_code == 0, r.output
    man = json.loads((out / MANIFEST).read_text())
    assert man["data"] == {"texts": 24, "topics": 2} and man["recipe"]["steps"] == 2 and (out / WEIGHTS).is_file()
    assert "models.embedder" in r.output
    from pipeline.logs import configure_logging

    configure_logging("INFO")  # the CLI bound the log handler to the runner's closed stderr


def test_a_damaged_configured_overlay_is_one_line_error(tmp_path):
    """`brandmon cluster` with `models.embedder` naming a damaged overlay: a config error (exit 2), no traceback."""
    import pandas as pd
    from typer.testing import CliRunner

    from brandmon.cli import app

    texts, topics = rows()
    out = tmp_path / "enc"
    (out).mkdir()
    (out / MANIFEST).write_text(json.dumps({"format": 1, "layers": 1, "weights_sha256": "0" * 64}))
    (out / WEIGHTS).write_bytes(b"not weights")
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": texts}).to_csv(src, index=False)
    r = CliRunner(env={"BRANDMON_MODELS__EMBEDDER": str(out)}).invoke(
        app, ["--data-dir", str(tmp_path / "d"), "cluster", str(src), "--out", str(tmp_path / "o.csv")]
    )
    assert r.exit_code == 2, r.output
    assert "config error" in r.output and "does not match its checksum" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o.csv").exists()
    from pipeline.logs import configure_logging

    configure_logging("INFO")
