"""Intent and problem-report quality of several scorers on the same held-out test split, per source.

The split is the one `brandmon train --task intent` makes of the same files (seed 13, fixed `split` columns
win), so a candidate and the shipped scorer are compared on rows neither trained on:

    python -m models.intent_eval --data data/training/intent_seed.csv --data car_reviews_problem.csv \\
        --data restaurants.csv --model brandmon-scorer --model runs/intent-v2

Per source: macro-F1 over the labels that source is annotated for, and the problem-report F1 that
`brandmon eval --task complaint` computes (problem = failure or complaint at 0.5 or above).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.evaluate import f1_from_counts, multilabel_report
from models.intent import INTENT_LABELS

PROBLEM = [INTENT_LABELS.index("failure"), INTENT_LABELS.index("complaint")]


def problem_truth(y: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is a problem report, is that known) per row: a known positive failure or complaint makes one; a row is
    a known non-problem only when every known problem label is negative and at least one is known."""
    yk = (y[:, PROBLEM] > 0.5) & (known[:, PROBLEM] > 0.5)
    pos = np.asarray(yk.any(1))
    return pos, np.asarray(pos | (known[:, PROBLEM] > 0.5).any(1))


def problem_f1(probs: np.ndarray, y: np.ndarray, known: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    truth, has = problem_truth(y, known)
    pred = probs[:, PROBLEM].max(1) >= threshold
    t, p = truth[has], pred[has]
    prec, rec, f = f1_from_counts(float((t & p).sum()), float((~t & p).sum()), float((t & ~p).sum()))
    return {
        "n": int(has.sum()),
        "support": int(t.sum()),
        "precision": round(prec, 4),
        "recall": round(rec, 4),
        "f1": round(f, 4),
    }


def report(probs: np.ndarray, y: np.ndarray, known: np.ndarray, sources: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    src = np.asarray(sources)
    for name in ["all", *sorted(set(sources))]:
        idx = np.ones(len(src), bool) if name == "all" else src == name
        ml = multilabel_report(y[idx], probs[idx] >= 0.5, INTENT_LABELS, known=known[idx])
        out[name] = {
            "n": int(idx.sum()),
            "macro_f1": ml["macro_f1"],
            "per_class_f1": {k: v["f1"] for k, v in ml["per_class"].items()},
            "problem": problem_f1(probs[idx], y[idx], known[idx]),
        }
    return out


def evaluate(
    settings, data: list[Path], models: list[str], quantize: bool | None = None, part: str = "test"
) -> dict[str, Any]:
    from models.scoring import get_scorer, predict_inputs, scoring_threads
    from models.train import TrainConfig, load_examples

    cfg = TrainConfig(task="intent")
    test = [e for e in load_examples(cfg, data, None, False) if e.part == part]
    y = np.stack([e.y for e in test])
    known = np.stack([e.mask for e in test])
    groups = [f"{files.get(e.text, '?')}/{e.source}" for e in test] if (files := _file_of(data, cfg)) else []
    res: dict[str, Any] = {}
    for m in models:
        scorer = get_scorer(settings, m, quantize)
        with scoring_threads(settings) as workers:
            pr = predict_inputs(scorer, [e.text for e in test], settings.models.batch_size, workers=workers)
        res[m] = report(pr.p_intent, y, known, [e.source for e in test])
        # a file's rows together (the seed set's test split spans five sources)
        by_file = report(pr.p_intent, y, known, [g.split("/")[0] for g in groups])
        res[m].update({f"file:{k}": v for k, v in by_file.items() if k != "all"})
    return res


def _file_of(data: list[Path], cfg) -> dict[str, str]:
    """Model input -> the name of the file it came from."""
    from models.train import read_training_csv
    from models.window import model_input

    out: dict[str, str] = {}
    for p in data:
        for t in read_training_csv(Path(p))["text"]:
            out.setdefault(model_input(str(t), max_chars=cfg.max_chars), Path(p).stem)
    return out


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import load_settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, action="append", required=True)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--fp32", action="store_true", help="score in fp32 (default: as configured, int8)")
    ap.add_argument("--part", default="test", choices=["test", "val"], help="val: to choose between candidates")
    a = ap.parse_args(argv)
    print(json.dumps(evaluate(load_settings(), a.data, a.model, False if a.fp32 else None, a.part), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
