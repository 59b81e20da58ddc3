"""Theme embeddings kept on disk: a new process embeds only what it has not seen, and gets the same vectors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "Посылкин потерял посылку, трек не обновляется неделю",
    "ШопОк не вернул деньги за отменённый заказ",
    "Мобилайн: нет связи в Подмосковье с утра",
    "Ласточка Банк заблокировал карту без объяснений",
    "Кофейня Зерно: холодный кофе и грязные столы",
]

# a separate process, as each hourly theme run is: prints how many texts went through the model, then the vectors
CHILD = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from models.embed import TransformerEmbedder
texts = sys.argv[4:]
e = TransformerEmbedder(sys.argv[2], disk_cache=sys.argv[3])
x = e.encode(texts)
np.save(sys.argv[3] + ".out.npy", x)
print(e.texts_encoded)
"""


def run_child(model: Path, cache: Path, texts: list[str]) -> tuple[int, np.ndarray]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(model), str(cache), *texts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.strip().splitlines()[-1]), np.load(str(cache) + ".out.npy")


def test_a_new_process_reads_the_vectors_it_has_and_embeds_the_rest(tiny_bert, tmp_path):
    cache = tmp_path / "vectors.sqlite"
    n, first = run_child(tiny_bert, cache, TEXTS[:3])
    assert n == 3
    n, second = run_child(tiny_bert, cache, TEXTS)  # three seen, two new, in another process
    assert n == 2
    assert np.array_equal(second[:3], first)  # bit for bit: a cached run clusters as an embedding run
    n, third = run_child(tiny_bert, cache, TEXTS[::-1] + TEXTS[:1])
    assert n == 0
    assert np.array_equal(third[:5], second[::-1]) and np.array_equal(third[5], second[0])
    # and the vectors are what the model gives without any cache
    from models.embed import TransformerEmbedder

    plain = TransformerEmbedder(tiny_bert)
    assert np.allclose(plain.encode(TEXTS), second, atol=1e-6)
    assert plain.texts_encoded == 5


def test_a_damaged_cache_file_is_moved_aside_and_rebuilt(tiny_bert, tmp_path, caplog):
    from models.embed import TransformerEmbedder

    cache = tmp_path / "vectors.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    e = TransformerEmbedder(tiny_bert, disk_cache=cache)
    with caplog.at_level("WARNING"):
        x = e.encode(TEXTS[:2])
    assert x.shape == (2, 32) and e.texts_encoded == 2
    assert "damaged" in caplog.text
    assert len(list(tmp_path.glob("vectors.sqlite.damaged-*"))) == 1
    again = TransformerEmbedder(tiny_bert, disk_cache=cache)
    assert np.array_equal(again.encode(TEXTS[:2]), x) and again.texts_encoded == 0


def test_the_oldest_rows_go_first_past_the_limit(tmp_path):
    from models.vector_cache import VectorCache

    c = VectorCache(tmp_path / "v.sqlite", dim=4, max_rows=3)
    rng = np.random.default_rng(0)
    for i in range(5):
        c.put([f"text {i}"], rng.random((1, 4), dtype=np.float32))
    kept = c.get([f"text {i}" for i in range(5)])
    assert sorted(kept) == ["text 2", "text 3", "text 4"]


def test_get_embedder_names_one_cache_per_embedder(settings, tiny_bert):
    from models.embed import get_embedder, vector_cache_path

    settings.models.embedder = str(tiny_bert)
    e = get_embedder(settings)
    assert e.disk_cache is not None
    assert e.disk_cache.path == vector_cache_path(settings, tiny_bert, settings.themes.max_tokens)
    assert vector_cache_path(settings, tiny_bert, 64) != e.disk_cache.path  # another length, other vectors
    assert e.disk_cache.path.parent == Path(settings.models.cache_dir) / "embeddings"
    settings.themes.embedding_cache_rows = 0  # off: the same model without a disk cache
    assert get_embedder(settings).disk_cache is None
    settings.themes.embedding_cache_rows = 10
    settings.models.cache_dir = str(Path(settings.models.cache_dir) / "other")  # another store's cache folder
    other = get_embedder(settings)
    assert (
        other.disk_cache is not None and other.disk_cache.path.parent == Path(settings.models.cache_dir) / "embeddings"
    )
    assert other.disk_cache.max_rows == 10


def test_a_cache_folder_that_cannot_be_made_leaves_embedding_working(tiny_bert, tmp_path, caplog):
    from models.embed import TransformerEmbedder

    (tmp_path / "not-a-folder").write_text("a file where the cache folder should be")
    e = TransformerEmbedder(tiny_bert, disk_cache=tmp_path / "not-a-folder" / "vectors.sqlite")
    with caplog.at_level("WARNING"):
        first = e.encode(TEXTS[:2])
        again = e.encode(TEXTS[2:4])
    assert first.shape == again.shape == (2, 32) and e.texts_encoded == 4
    assert caplog.text.count("unavailable") == 1  # said once, not on every batch
