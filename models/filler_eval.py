"""How much one unrelated sentence moves a scorer's sentiment: the held-out split of the training files, read
plain and with a neutral sentence beside each text, per source group.

    python -m models.filler_eval --part val --data train.csv --data brand_sentiment.csv \\
        --model brandmon-scorer --model runs/candidate

The filler sentences are neutral rows of the same held-out part (never trained on by any scorer of that split,
as text or as filler), without a marked brand or a link, 20-120 characters; each text gets one, after it or,
when short, before it (``models.augment``'s rules), the same for every scorer. Reported: macro-F1 and F1 pos/neg
plain and with the filler, and the share of labels the filler changed.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

GROUPS = {
    "banks+telecom": lambda s: s.startswith("sentirueval2016"),
    "rusentitweet": lambda s: s == "rusentitweet",
    "brand_seed": lambda s: s == "brand_seed",
    "all": lambda s: True,
}


def with_fillers(texts: list[str], fillers: list[str], seed: int = 5) -> list[str]:
    from models.augment import beside, body_of

    rng = random.Random(seed)
    out = []
    for t in texts:
        f = rng.choice(fillers)
        out.append(beside(body_of(t), f, rng.random() < 0.5))
    return out


def _scores(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    from models.evaluate import classification_report
    from models.sentiment import SENTIMENT_LABELS as L

    r = classification_report([L[i] for i in y], [L[i] for i in pred], L)
    pc = r["per_class"]
    return round(r["macro_f1"], 4), round((pc["positive"]["f1"] + pc["negative"]["f1"]) / 2, 4)


def evaluate(settings, data: list[Path], models: list[str], part: str = "val", caps: dict | None = None) -> dict:
    from models.augment import filler_pool
    from models.scoring import get_scorer, predict_inputs, scoring_threads
    from models.train import TrainConfig, load_examples

    cfg = TrainConfig(task="sentiment", max_per_source=caps or {})
    examples = load_examples(cfg, data, None, False)
    rows = [e for e in examples if e.part == part]
    pool = filler_pool(rows, "sentiment", part)  # the training pool's rules, on this held-out part
    texts = [e.text for e in rows]
    filled = with_fillers(texts, pool)
    y = np.array([e.y for e in rows])
    src = [e.source for e in rows]
    res: dict[str, Any] = {"n_fillers": len(pool)}
    for m in models:
        scorer = get_scorer(settings, m)
        with scoring_threads(settings) as workers:
            a = predict_inputs(scorer, texts, settings.models.batch_size, workers=workers).p_sentiment.argmax(1)
            b = predict_inputs(scorer, filled, settings.models.batch_size, workers=workers).p_sentiment.argmax(1)
        res[m] = {}
        for g, f in GROUPS.items():
            idx = np.array([i for i, s in enumerate(src) if f(s)])
            if not len(idx):
                continue
            res[m][g] = {
                "n": len(idx),
                "plain": _scores(y[idx], a[idx]),
                "with_filler": _scores(y[idx], b[idx]),
                "changed": round(float((a[idx] != b[idx]).mean()), 4),
            }
    return res


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import load_settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, action="append", required=True)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--part", default="val", choices=["test", "val"])
    ap.add_argument("--cap", action="append", default=[], help="SOURCE=N as in brandmon train")
    a = ap.parse_args(argv)
    caps = {k: int(v) for k, _, v in (c.partition("=") for c in a.cap)}
    print(json.dumps(evaluate(load_settings(), a.data, a.model, a.part, caps), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
