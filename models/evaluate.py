"""Metrics and labelled-CSV reading for `brandmon eval` / `predict` / `train`.

The metric code is plain numpy (a test checks it equals scikit-learn's on a fixed prediction file), so reports
have one definition everywhere: accuracy, macro-F1 over the classes present in truth or predictions,
support-weighted F1, the positive/negative macro-F1 used in SentiRuEval, per-class precision/recall/F1/support
and a confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class DataError(ValueError):
    """A labelled file cannot be used; the message is one line naming the file and the problem."""


def read_labelled_csv(
    path: str | Path, text_col: str, label_col: str | None = None, keep_extra: bool = False
) -> pd.DataFrame:
    """Read a CSV with a text column (and a label column); clear one-line errors for bad files."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    try:
        df = pd.read_csv(path, encoding="utf-8", dtype=str, keep_default_na=False)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); re-save it as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except pd.errors.ParserError as e:
        raise DataError(f"{path}: not a valid CSV ({str(e).splitlines()[0]})") from None
    need = [c for c in (text_col, label_col) if c]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column {missing[0]!r} (columns: {', '.join(map(str, df.columns))})")
    if df.empty:
        raise DataError(f"{path}: no data rows")
    if not keep_extra:
        df = df[need]
    return df


def f1_from_counts(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def classification_report(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    y_true = list(map(str, y_true))
    y_pred = list(map(str, y_pred))
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    present = sorted(set(y_true) | set(y_pred))
    labels = list(labels) + [x for x in present if x not in (labels or [])] if labels else present
    idx = {lab: i for i, lab in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=int)
    for true_lab, pred_lab in zip(y_true, y_pred):
        cm[idx[true_lab], idx[pred_lab]] += 1
    per_class = {}
    f1s = []
    weighted = 0.0
    for i, lab in enumerate(labels):
        tp = cm[i, i]
        fp = cm[:, i].sum() - tp
        fn = cm[i, :].sum() - tp
        p, r, f = f1_from_counts(tp, fp, fn)
        per_class[lab] = {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "support": int(cm[i, :].sum()),
        }
        weighted += f * cm[i, :].sum()
        if lab in present:
            f1s.append(f)
    n = len(y_true)
    pn = [per_class[x]["f1"] for x in ("positive", "negative") if x in per_class and x in present]
    return {
        "n": n,
        "accuracy": round(float(np.trace(cm) / n), 4) if n else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "f1_pos_neg_macro": round(float(np.mean(pn)), 4) if pn else None,
        # support-weighted, as published Russian sentiment results are often quoted (macro stays the headline)
        "weighted_f1": round(float(weighted / n), 4) if n else 0.0,
        "per_class": per_class,
        "labels": labels,
        "confusion": cm.tolist(),
    }


def multilabel_report(
    y: np.ndarray, pred: np.ndarray, labels: Sequence[str], known: np.ndarray | None = None
) -> dict[str, Any]:
    """Per-class F1 for multi-label outputs; ``known`` masks entries whose truth is unknown."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(pred).astype(bool)
    known = np.ones_like(y, dtype=bool) if known is None else np.asarray(known).astype(bool)
    per_class = {}
    f1s = []
    for i, lab in enumerate(labels):
        k = known[:, i]
        if not k.any():
            continue
        tp = float((y[k, i] & pred[k, i]).sum())
        fp = float((~y[k, i] & pred[k, i]).sum())
        fn = float((y[k, i] & ~pred[k, i]).sum())
        p, r, f = f1_from_counts(tp, fp, fn)
        per_class[lab] = {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "support": int(y[k, i].sum()),
            "n": int(k.sum()),
        }
        if y[k, i].any():
            f1s.append(f)
    full = known.all(1)
    exact = float((y[full] == pred[full]).all(1).mean()) if full.any() else None
    return {
        "n": int(len(y)),
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "exact_match": round(exact, 4) if exact is not None else None,
        "per_class": per_class,
    }


# ------------------------------------------------------------------------------------ file evaluation

COMPLAINT_LABELS = {
    "problem": "problem",
    "noproblem": "noproblem",
    "no_problem": "noproblem",
    "complaint": "problem",
    "nocomplaint": "noproblem",
    "1": "problem",
    "0": "noproblem",
    "true": "problem",
    "false": "noproblem",
    "yes": "problem",
    "no": "noproblem",
}


def _mapped(df: pd.DataFrame, label_col: str, mapper, path) -> tuple[pd.DataFrame, list]:
    labels = [mapper(v) for v in df[label_col]]
    bad = [df[label_col].iloc[i] for i, v in enumerate(labels) if v is None]
    if bad and len(bad) == len(labels):
        raise DataError(f"{path}: column {label_col!r} has no usable labels (e.g. {bad[0]!r})")
    keep = [v is not None for v in labels]
    return df[keep], [v for v in labels if v is not None]


def evaluate_file(
    settings,
    task: str,
    path,
    text_col: str = "text",
    label_col: str = "label",
    target_col: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """`brandmon eval`: score a labelled CSV with the model and report metrics (+ texts/s)."""
    import time

    from models.intent import INTENT_LABELS
    from models.sentiment import SENTIMENT_LABELS, normalise_sentiment

    if task not in ("sentiment", "intent", "complaint", "themes"):
        raise DataError(f"unknown task {task!r}; use sentiment, intent, complaint or themes")
    df = read_labelled_csv(path, text_col, label_col, keep_extra=True)
    if target_col and target_col not in df.columns:
        raise DataError(f"{path}: missing column {target_col!r}")
    if task == "themes":
        from models.themes import evaluate_themes

        t0 = time.time()
        res = dict(evaluate_themes(df[text_col].tolist(), df[label_col].tolist(), settings))
        res.setdefault("n", len(df))
        res["texts_per_s"] = round(len(df) / max(time.time() - t0, 1e-9), 1)
        return res

    from models.scoring import predict_texts

    if task == "sentiment":
        df, y = _mapped(df, label_col, normalise_sentiment, path)
    elif task == "complaint":
        df, y = _mapped(df, label_col, lambda v: COMPLAINT_LABELS.get(str(v).strip().lower()), path)
    else:

        def intent_of(v):
            labs = [x.strip().lower() for x in str(v).replace(",", ";").split(";") if x.strip()]
            return labs if labs and all(x in INTENT_LABELS for x in labs) else None

        df, y = _mapped(df, label_col, intent_of, path)
    targets = df[target_col].tolist() if target_col else None
    t0 = time.time()
    pr = predict_texts(settings, df[text_col].tolist(), targets, model=model)
    secs = max(time.time() - t0, 1e-9)
    if task == "sentiment":
        res = classification_report(y, pr.sentiment, SENTIMENT_LABELS)
        res["unsure_share"] = round(float(pr.unsure.mean()), 4) if len(y) else 0.0
    elif task == "complaint":
        fi, ci = INTENT_LABELS.index("failure"), INTENT_LABELS.index("complaint")
        pred = ["problem" if max(r[fi], r[ci]) >= 0.5 else "noproblem" for r in pr.p_intent]
        res = classification_report(y, pred, ["problem", "noproblem"])
    else:
        Y = np.array([[lab in labs for lab in INTENT_LABELS] for labs in y])
        ml = multilabel_report(Y, pr.p_intent >= 0.5, INTENT_LABELS)
        primary = classification_report(
            [
                labs[0] if len(labs) == 1 else next((p for p in labs if p == pi), labs[0])
                for labs, pi in zip(y, pr.intent)
            ],
            pr.intent,
            INTENT_LABELS,
        )
        res = {
            **primary,
            "macro_f1": ml["macro_f1"],
            "per_class": ml["per_class"],
            "exact_match": ml["exact_match"],
            "primary_accuracy": primary["accuracy"],
            "primary_macro_f1": primary["macro_f1"],
            "accuracy": ml["exact_match"],
        }
    res["texts_per_s"] = round(len(y) / secs, 1)
    res["task"] = task
    return res
