"""Scoring throughput: brandmon's batched scorer vs a plain `transformers.pipeline("text-classification")`.

    .venv/bin/python benchmarks/score.py [--n 5000] [--baseline-n 1000] [--threads 0] [--model NAME_OR_PATH]

Texts: a fixed mix of short tweets (../shared/data/sentiment), medium car reviews and long citizen appeals, so
lengths vary as on forums. All variants read the same texts in the same run, with the same weights:

1. baseline: the sentiment part of the shipped scorer (frozen lower layers + its fine-tuned top + head) wrapped as
   an ordinary sequence-classification model and run through `pipeline("text-classification")` one text at a
   time, as most tutorials do (fp32). It computes sentiment only. It runs twice: with torch's threads, and on one
   thread (`baseline_one_thread_per_s`; faster when other processes load the cores); `ratio_int8_vs_best_baseline`
   divides by the faster of the two.
2. brandmon fp32: `predict_inputs` (length-sorted batches, dynamic padding, inference_mode) - sentiment AND intent.
3. brandmon int8: the same network smoothed (`models.smooth_alpha`, models/quantize.py), exported to ONNX and
   given per-channel int8 weights on ONNX Runtime (the default); `int8_plain` is the same without smoothing.
   Activations are scaled per token (`models.int8_activations`, the default) and, as `int8_other_scheme`, per
   batch (or the other way round when the settings say so); `*_labels_moved_by_batch` re-runs both in batches of
   7 and counts the sentiment labels that changed. `int8_7bit_weights` is the default with weights in ±63, what
   `models.int8_weights = "auto"` picks on x86 CPUs without VNNI (`int8_weight_bits`: what it picks here).
   Both run batches on `models.workers` threads (one per core by default); int8 also runs once on a single
   worker using all cores inside each op, for comparison.
4. `int8_one_window`: int8 with `models.windows = 1`. brandmon reads a text longer than the scorer's 400-character
   window in up to `models.windows` (8) windows of `models.window_tokens` (64) tokens; the baseline and this
   variant read one 64-token window around the mention, so the pair shows what the extra windows cost.

Prints texts/s of each, the ratio int8/baseline, and sentiment macro-F1 of fp32 and int8 on the labelled part
(which may overlap the sample the shipped model was trained on; it compares the variants with each other).
The baseline runs on the first `--baseline-n` texts only (it is slow); its rate is per text all the same.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def load_texts(n: int, seed: int = 5):
    import pandas as pd

    if not SHARED.exists():
        raise SystemExit(f"{SHARED} not found: the benchmark needs ../shared/data beside the project")
    rng = random.Random(seed)
    sent = pd.read_csv(SHARED / "sentiment" / "train.csv")
    sent = sent[sent.source != "rutweetcorp_emoticon_labels"]
    cars = pd.read_csv(SHARED / "complaints" / "car_reviews_problem.csv")
    appeals = pd.read_csv(SHARED / "topics" / "citizen_appeals_topics.csv")
    n_sent = int(n * 0.7)
    n_car = int(n * 0.2)
    n_app = n - n_sent - n_car
    s = sent.sample(n_sent, random_state=seed)
    rows = [(t, lab, tg if isinstance(tg, str) else None) for t, lab, tg in zip(s.text, s.label, s.target)]
    rows += [(t, None, None) for t in cars.text.sample(n_car, random_state=seed, replace=len(cars) < n_car)]
    rows += [(t, None, None) for t in appeals.text.sample(n_app, random_state=seed, replace=len(appeals) < n_app)]
    rng.shuffle(rows)
    return rows


def baseline_model(scorer):
    """The scorer's sentiment path as a standard `...ForSequenceClassification`-style model for `pipeline`."""
    from transformers import BertConfig, PreTrainedModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    net = scorer.net
    spec = scorer.spec
    temp = spec.tasks["sentiment"].temperature

    class SentimentClassifier(PreTrainedModel):
        config_class = BertConfig
        base_model_prefix = "net"
        main_input_name = "input_ids"

        def __init__(self, config):
            super().__init__(config)
            self.net = net

        def forward(self, input_ids=None, attention_mask=None, **kwargs):
            h = self.net.lower_forward(input_ids, attention_mask)
            logits = self.net.tasks["sentiment"](h, attention_mask) / temp
            return SequenceClassifierOutput(logits=logits)

    config = BertConfig(
        id2label=dict(enumerate(spec.tasks["sentiment"].labels)),
        label2id={lab: i for i, lab in enumerate(spec.tasks["sentiment"].labels)},
    )
    model = SentimentClassifier(config)
    model.eval()
    return model


def macro_f1(y_true, y_pred):
    from models.evaluate import classification_report

    return classification_report(y_true, y_pred, ["negative", "neutral", "positive"])["macro_f1"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--baseline-n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="models.workers (default: the settings' value)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()

    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "model not supported for text-classification": it is, via its logits

    from models import quantize as qz
    from models.scoring import get_scorer, predict_inputs, set_threads, windowed_inputs
    from models.window import model_input
    from pipeline.config import load_settings

    settings = load_settings(data_dir=ROOT / "data")
    if args.threads:
        settings.models.threads = args.threads
    if args.workers is not None:
        settings.models.workers = args.workers
    torch.set_num_threads(settings.models.threads or torch.get_num_threads())
    rows = load_texts(args.n)
    res: dict = {"n": len(rows), "threads": torch.get_num_threads()}

    fp32 = get_scorer(settings, args.model, quantize=False)
    int8 = get_scorer(settings, args.model, quantize=True)
    alpha = settings.models.smooth_alpha
    settings.models.smooth_alpha = 0.0
    int8_plain = get_scorer(settings, args.model, quantize=True)
    settings.models.smooth_alpha = alpha
    scheme = settings.models.int8_activations
    other = "per_batch" if scheme == "per_token" else "per_token"
    settings.models.int8_activations = other
    int8_other = get_scorer(settings, args.model, quantize=True)
    settings.models.int8_activations = scheme
    weights = settings.models.int8_weights
    settings.models.int8_weights = "7bit"  # what "auto" picks on x86 without VNNI
    int8_7bit = get_scorer(settings, args.model, quantize=True)
    settings.models.int8_weights = weights
    res["int8_weight_bits"] = qz.weight_bits(weights)
    res["int8_scheme"], res["int8_other_scheme"] = scheme, other
    inputs = [model_input(t, target=tg, max_chars=fp32.spec.max_chars) for t, _, tg in rows]  # one window each
    windowed = windowed_inputs(settings, fp32.spec, [t for t, _, _ in rows], [tg for _, _, tg in rows])
    res["inputs_windowed"] = len(windowed[0])
    labelled = [i for i, (_, lab, _) in enumerate(rows) if lab is not None]
    y = [rows[i][1] for i in labelled]

    # 1. plain pipeline, one text at a time, sentiment only
    clf = pipeline("text-classification", model=baseline_model(fp32), tokenizer=fp32.tokenizer, device=-1)
    nb = min(args.baseline_n, len(inputs))
    t0 = time.perf_counter()
    with torch.inference_mode():
        base_out = [clf(x, truncation=True, max_length=fp32.spec.max_tokens) for x in inputs[:nb]]
    res["baseline_per_s"] = round(nb / (time.perf_counter() - t0), 1)
    res["baseline_n"] = nb
    # the same on one intra-op thread: two threads inside each op of a single text collapse when other
    # processes load the cores (1.6-3.2/s against 20-26/s on one thread, measured side by side)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x in inputs[:nb]:
            clf(x, truncation=True, max_length=fp32.spec.max_tokens)
    res["baseline_one_thread_per_s"] = round(nb / (time.perf_counter() - t0), 1)
    torch.set_num_threads(threads)

    # 2./3. brandmon batched, fp32 and int8 (both tasks), with the configured workers; then int8 on one worker
    # using every core inside each op (how it ran before workers existed)
    workers = set_threads(settings)
    res["workers"] = workers
    res["intra_op_threads"] = torch.get_num_threads()
    preds = {}
    for name, sc, w in (
        ("fp32", fp32, workers),
        ("int8", int8, workers),
        ("int8_plain", int8_plain, workers),
        ("int8_other_scheme", int8_other, workers),
        ("int8_7bit_weights", int8_7bit, workers),
        ("int8_one_window", int8, workers),
        ("int8_one_worker", int8, 1),
    ):
        if w == 1:
            torch.set_num_threads(res["threads"])
        t0 = time.perf_counter()
        if name == "int8_one_window":
            pr = predict_inputs(sc, inputs, args.batch_size, workers=w)
        else:
            pr = predict_inputs(sc, windowed[0], args.batch_size, workers=w, groups=windowed[1], max_tokens=windowed[2])
        res[f"{name}_per_s"] = round(len(inputs) / (time.perf_counter() - t0), 1)
        res[f"{name}_macro_f1"] = macro_f1(y, [pr.sentiment[i] for i in labelled])
        preds[name] = pr
        if name == "fp32":
            agree = sum(b[0]["label"] == pr.sentiment[i] for i, b in enumerate(base_out)) / max(1, nb)
            res["baseline_fp32_label_agreement"] = round(agree, 4)
            ref = pr
        else:  # how often int8 changes fp32's sentiment label, on all texts
            res[f"{name}_fp32_label_agreement"] = round(
                sum(a == b for a, b in zip(pr.sentiment, ref.sentiment)) / len(inputs), 4
            )
    # the same texts again in batches of 7: how many sentiment labels depend on which batch a text was in
    set_threads(settings)
    for name, sc in (("int8", int8), ("int8_other_scheme", int8_other)):
        pr = predict_inputs(sc, windowed[0], 7, workers=workers, groups=windowed[1], max_tokens=windowed[2])
        res[f"{name}_labels_moved_by_batch"] = sum(a != b for a, b in zip(pr.sentiment, preds[name].sentiment))
    res["ratio_int8_vs_baseline"] = round(res["int8_per_s"] / res["baseline_per_s"], 2)
    res["ratio_fp32_vs_baseline"] = round(res["fp32_per_s"] / res["baseline_per_s"], 2)
    res["ratio_int8_vs_best_baseline"] = round(
        res["int8_per_s"] / max(res["baseline_per_s"], res["baseline_one_thread_per_s"]), 2
    )
    res["ratio_int8_one_window_vs_baseline"] = round(res["int8_one_window_per_s"] / res["baseline_per_s"], 2)
    res["windows_speed_cost"] = round(1 - res["int8_per_s"] / res["int8_one_window_per_s"], 3)
    res["f1_delta_points"] = round(100 * (res["int8_macro_f1"] - res["fp32_macro_f1"]), 2)
    res["f1_delta_points_int8_plain"] = round(100 * (res["int8_plain_macro_f1"] - res["fp32_macro_f1"]), 2)
    res["labelled_n"] = len(y)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
