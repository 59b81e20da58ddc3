"""What the on-disk embedding cache saves an hourly theme run (models/vector_cache.py).

    .venv/bin/python benchmarks/vector_cache.py [--n 600] [--new 0.1]

Three fresh processes in one run, each embedding with the default theme embedder (the e5 backbone, 128 tokens):
1. cold: `--n` citizen appeals (../shared/data/topics) into an empty cache;
2. warm: the same texts with `--new` of them replaced by unseen ones, as the next hour's window is;
3. off: that same window without the cache (`themes.embedding_cache_rows = 0`), what every run cost before.
Each reports seconds for the texts (model load excluded) and how many went through the model; warm and off get the
same texts, so `ratio_off_vs_warm` is the saving.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from models.backbone import ensure_backbone
from models.embed import TransformerEmbedder
from pipeline.config import load_settings
s = load_settings()
texts = json.loads(open(sys.argv[4], encoding="utf-8").read())
# get_embedder's embedder, with its cache file in the benchmark's folder instead of models.cache_dir
e = TransformerEmbedder(
    ensure_backbone(s),
    max_length=s.themes.max_tokens,
    batch_size=s.models.batch_size,
    threads=s.models.threads,
    disk_cache=sys.argv[2] + "/vectors.sqlite" if sys.argv[3] == "on" else None,
)
e.encode(["разогрев"])  # first call: thread pools, allocations
n0 = e.texts_encoded
t0 = time.perf_counter()
x = e.encode(texts)
print(json.dumps({"seconds": time.perf_counter() - t0, "embedded": e.texts_encoded - n0, "texts": len(texts)}))
"""


def child(cache_dir: Path, cache: str, texts_file: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(cache_dir), cache, str(texts_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    import pandas as pd

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--new", type=float, default=0.1)
    a = ap.parse_args()
    appeals = pd.read_csv(SHARED / "topics" / "citizen_appeals_topics.csv").text.drop_duplicates()
    texts = appeals.sample(a.n + int(a.n * a.new), random_state=3).tolist()
    window1 = texts[: a.n]
    n_new = int(a.n * a.new)
    window2 = texts[n_new : a.n] + texts[a.n :]

    from models.backbone import ensure_backbone
    from pipeline.config import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(tmp)
        ensure_backbone(load_settings())  # built before any timing
        f1, f2 = Path(tmp) / "w1.json", Path(tmp) / "w2.json"
        f1.write_text(json.dumps(window1, ensure_ascii=False), encoding="utf-8")
        f2.write_text(json.dumps(window2, ensure_ascii=False), encoding="utf-8")
        cold = child(cache_dir, "on", f1)
        warm = child(cache_dir, "on", f2)
        off = child(cache_dir, "off", f2)
        size = sum(p.stat().st_size for p in cache_dir.glob("vectors.sqlite*"))
    print(
        json.dumps(
            {
                "n": a.n,
                "new_share": a.new,
                "cold": cold,
                "warm": warm,
                "off": off,
                "ratio_off_vs_warm": round(off["seconds"] / warm["seconds"], 1),
                "cache_bytes_per_text": round(size / len(texts)),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
