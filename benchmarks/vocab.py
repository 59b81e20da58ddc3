"""Memory and speed of a scoring process with the full and the cut (``ru_en``) backbone vocabulary.

    .venv/bin/python benchmarks/vocab.py [--n 2000] [--rounds 2]

Each variant runs in a fresh process (memory is per process), in alternating order, `--rounds` times: load the
shipped scorer (int8, the default), score the texts of benchmarks/score.py (tweets, car reviews, citizen appeals)
and report the resident memory after loading (after `malloc_trim`, so it counts what is in use, and before),
its peak while loading and overall, the seconds to load, texts/s, and the sentiment
probabilities. The two variants' probabilities are compared text by text (they should be equal: every text here is
Russian or English, models/vocab.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import ctypes, gc, json, resource, sys, time
import numpy as np
import psutil
sys.path.insert(0, sys.argv[1])
from benchmarks.score import load_texts
from models.scoring import get_scorer, predict_inputs
from pipeline.config import load_settings

texts = [t for t, _, _ in load_texts(int(sys.argv[3]))]
s = load_settings()
s.models.vocabulary = sys.argv[2]
rss0 = psutil.Process().memory_info().rss
t0 = time.perf_counter()
sc = get_scorer(s, None, True)
predict_inputs(sc, texts[:8], s.models.max_tokens)  # first call builds the session's buffers
load = time.perf_counter() - t0
rss_untrimmed = psutil.Process().memory_info().rss
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)  # what loading left in use, not what the allocator kept
rss_loaded = psutil.Process().memory_info().rss
peak_loading = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
out = predict_inputs(sc, texts, s.models.max_tokens)
rate = len(texts) / (time.perf_counter() - t0)
print(json.dumps({
    "vocabulary": sys.argv[2],
    "rss_before_mb": rss0 / 2**20,
    "rss_loaded_mb": rss_loaded / 2**20,
    "rss_loaded_untrimmed_mb": rss_untrimmed / 2**20,
    "peak_rss_loading_mb": peak_loading,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "load_s": load,
    "texts_per_s": rate,
    "p_sentiment": np.asarray(out.p_sentiment).round(6).tolist(),
}))
"""


def run(vocabulary: str, n: int) -> dict:
    # the first load of a vocabulary builds its backbone directory; do that outside the measured processes
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), vocabulary, str(n)], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()

    from models.backbone import ensure_backbone
    from pipeline.config import load_settings

    for vocabulary in ("full", "ru_en"):
        s = load_settings()
        s.models.vocabulary = vocabulary
        ensure_backbone(s)

    results: dict[str, list[dict]] = {"full": [], "ru_en": []}
    for r in range(a.rounds):
        for vocabulary in ("full", "ru_en") if r % 2 == 0 else ("ru_en", "full"):
            results[vocabulary].append(run(vocabulary, a.n))
    import numpy as np

    p_full = np.array(results["full"][0]["p_sentiment"])
    p_cut = np.array(results["ru_en"][0]["p_sentiment"])
    summary: dict = {"n": a.n, "rounds": a.rounds}
    for vocabulary, rows in results.items():
        summary[vocabulary] = {
            k: round(float(np.median([row[k] for row in rows])), 1)
            for k in (
                "rss_before_mb",
                "rss_loaded_mb",
                "rss_loaded_untrimmed_mb",
                "peak_rss_loading_mb",
                "peak_rss_mb",
                "load_s",
                "texts_per_s",
            )
        } | {"texts_per_s_each_round": [round(row["texts_per_s"], 1) for row in rows]}
    summary["loaded_mb_saved"] = round(summary["full"]["rss_loaded_mb"] - summary["ru_en"]["rss_loaded_mb"], 1)
    summary["ratio_texts_per_s_ru_en_vs_full"] = round(
        summary["ru_en"]["texts_per_s"] / summary["full"]["texts_per_s"], 3
    )
    summary["max_abs_diff_p_sentiment"] = float(np.abs(p_full - p_cut).max())
    summary["labels_differing"] = int((p_full.argmax(1) != p_cut.argmax(1)).sum())
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
