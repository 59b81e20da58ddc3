"""Sentence embeddings for themes (and anything else that needs text similarity).

An `Embedder` turns texts into L2-normalised float32 rows, so a dot product is a cosine similarity.
Implementations:

- `TransformerEmbedder`: any Hugging Face encoder directory with E5-style mean pooling; the default is the
  offline backbone from `models.backbone.ensure_backbone` (multilingual-e5-small). E5 wants a "query: "
  prefix for symmetric tasks such as clustering.
- `SentenceTransformerEmbedder`: a sentence-transformers model (a directory with ``modules.json``, or a name
  the user can reach).
- `TfidfEmbedder`: character n-gram TF-IDF + truncated SVD; no model at all, a baseline and a fallback.

`get_embedder(settings)` picks one from ``settings.models.embedder``: empty = backbone, ``"tfidf"`` = TF-IDF, a
folder written by ``brandmon train-themes`` = the backbone with that theme encoder's top layers
(`models/theme_encoder.py`), otherwise a path/name (sentence-transformers when it looks like one, plain transformer
otherwise).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from models.vector_cache import VectorCache

QUERY_PREFIX = "query: "  # E5's prefix for symmetric tasks such as clustering


@runtime_checkable
class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised."""
        ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.clip(n, 1e-12, None)


class TransformerEmbedder:
    """Mean-pooled encoder embeddings; batches sorted by length so padding stays small."""

    def __init__(
        self,
        name_or_path: str | Path,
        *,
        prefix: str = QUERY_PREFIX,
        max_length: int = 128,
        batch_size: int = 32,
        threads: int = 0,
        cache_size: int = 50_000,
        disk_cache: Path | None = None,
        disk_cache_rows: int = 100_000,
        overlay: Path | None = None,
    ):
        import torch
        from transformers import AutoModel, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.name = str(name_or_path)
        self.prefix = prefix
        self.max_length = max_length
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
        self.model = AutoModel.from_pretrained(str(name_or_path))
        if overlay is not None:  # a theme encoder's top layers (models/theme_encoder.py) over this backbone
            from models.registry import base_checksum
            from models.theme_encoder import apply_overlay, overlay_id

            apply_overlay(self.model, overlay, base_checksum(name_or_path))
            self.name = f"{self.name}+themes:{overlay_id(overlay)}"
        self.model.eval()
        self.cache_size = cache_size
        self._cache: dict[str, np.ndarray] = {}
        dim = int(self.model.config.hidden_size)
        self.disk_cache = VectorCache(disk_cache, dim, disk_cache_rows) if disk_cache and disk_cache_rows else None
        self.texts_encoded = 0  # texts that went through the model (not served by a cache)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of texts; repeated texts (a theme re-run over the same lookback window) come from a
        bounded in-process cache, then from the on-disk cache (``disk_cache``, across processes), and only then
        from the model."""
        texts = [t or "" for t in texts]
        dim = self.model.config.hidden_size
        out = np.zeros((len(texts), dim), dtype=np.float32)
        uniq = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if uniq:
            found = self.disk_cache.get(uniq) if self.disk_cache else {}
            new = [t for t in uniq if t not in found]
            vecs = self._encode([self.prefix + t for t in new])
            if self.disk_cache and new:
                self.disk_cache.put(new, vecs)
            if len(self._cache) + len(uniq) > self.cache_size:
                self._cache.clear()
            self._cache.update(found)
            self._cache.update(zip(new, vecs))
        for i, t in enumerate(texts):
            out[i] = self._cache[t]
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        from models.backbone import mean_pool

        if not texts:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
        self.texts_encoded += len(texts)
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(order), self.batch_size):
                idx = order[i : i + self.batch_size]
                enc = self.tokenizer(
                    [texts[j] for j in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**enc).last_hidden_state
                out[idx] = mean_pool(hidden, enc["attention_mask"]).float().numpy()
        return l2_normalise(out)


class SentenceTransformerEmbedder:
    def __init__(self, name_or_path: str | Path, *, batch_size: int = 32, max_length: int | None = None):
        from sentence_transformers import SentenceTransformer

        self.name = str(name_or_path)
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(name_or_path), device="cpu")
        if max_length:
            self.model.max_seq_length = max_length

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            # None when the model's last module does not declare its width: then no columns either
            return np.zeros((0, self.model.get_sentence_embedding_dimension() or 0), dtype=np.float32)
        x = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True)
        return l2_normalise(x)


class TfidfEmbedder:
    """Char 2-5-gram TF-IDF (word-boundary aware, so inflected Russian forms share n-grams) reduced by SVD.

    Fitted on the texts it encodes (transductive): fine for clustering one batch, not for comparing
    embeddings across calls, so theme-id matching across runs should use a model embedder.
    """

    name = "tfidf-char-svd"

    def __init__(self, dim: int = 256):
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [t or "" for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        x = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1).fit_transform(
            [t.lower() for t in texts]
        )
        k = min(self.dim, x.shape[0] - 1, x.shape[1] - 1)
        if k < 2:
            return l2_normalise(x.toarray())
        return l2_normalise(TruncatedSVD(n_components=k, random_state=0).fit_transform(x))


def _looks_like_sentence_transformer(path: Path) -> bool:
    return (path / "modules.json").exists() or (path / "config_sentence_transformers.json").exists()


_cache: dict[tuple, Embedder] = {}  # per process: loading a 118M-parameter model once is enough


def get_embedder(settings, *, max_length: int | None = None) -> Embedder:
    """The embedder configured by ``settings.models.embedder`` (see the module docstring)."""
    cfg = (settings.models.embedder or "").strip()
    max_length = max_length or settings.themes.max_tokens
    if cfg.lower() == "tfidf":
        return TfidfEmbedder()
    from models.theme_encoder import is_overlay

    overlay: Path | None = None
    if not cfg or is_overlay(Path(cfg).expanduser()):
        from models.backbone import ensure_backbone

        target: str | Path = ensure_backbone(settings)
        if cfg:
            overlay = Path(cfg).expanduser().resolve()
    else:
        target = Path(cfg).expanduser() if Path(cfg).expanduser().exists() else cfg
    # everything the embedder is built from: two settings with other cache folders or limits (two stores in one
    # process) must not share one embedder writing to the first one's cache
    key = (
        str(target),
        str(overlay),
        max_length,
        settings.models.batch_size,
        settings.models.threads,
        str(settings.models.cache_dir),
        settings.themes.embedding_cache_rows,
    )
    if key not in _cache:
        if isinstance(target, Path) and _looks_like_sentence_transformer(target):
            _cache[key] = SentenceTransformerEmbedder(
                target, batch_size=settings.models.batch_size, max_length=max_length
            )
        elif isinstance(target, str) and cfg.startswith("st:"):
            _cache[key] = SentenceTransformerEmbedder(
                cfg[3:], batch_size=settings.models.batch_size, max_length=max_length
            )
        else:
            _cache[key] = TransformerEmbedder(
                target,
                max_length=max_length,
                batch_size=settings.models.batch_size,
                threads=settings.models.threads,
                disk_cache=vector_cache_path(settings, target, max_length, overlay),
                disk_cache_rows=settings.themes.embedding_cache_rows,
                overlay=overlay,
            )
    return _cache[key]


def vector_cache_path(settings, target: str | Path, max_length: int, overlay: Path | None = None) -> Path:
    """The on-disk cache file of one embedder: named after what decides its vectors (the weights' checksum when the
    directory has a manifest, else its path and the weights file's size and time; the overlay's checksum), the
    prefix and the length."""
    ident: list = [str(target), QUERY_PREFIX, max_length, "mean"]
    if overlay is not None:
        from models.theme_encoder import overlay_id

        ident.append(overlay_id(overlay))
    path = Path(target) if isinstance(target, Path) else None
    if path is not None and (path / "manifest.json").exists():
        ident[0] = json.loads((path / "manifest.json").read_text()).get("files", {}).get("model.safetensors", ident[0])
    elif path is not None:
        ident += [(w.name, w.stat().st_size, w.stat().st_mtime_ns) for w in sorted(path.glob("*.safetensors"))]
    digest = hashlib.sha256(json.dumps(ident, default=str).encode()).hexdigest()[:16]
    return Path(settings.models.cache_dir) / "embeddings" / f"{digest}.sqlite"


def describe(embedder: Embedder) -> str:
    return json.dumps({"embedder": type(embedder).__name__, "name": embedder.name}, ensure_ascii=False)
