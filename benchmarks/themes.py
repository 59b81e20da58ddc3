"""Complaint themes on the citizen appeals: the shipped defaults against the previous ones, in one process.

    .venv/bin/python benchmarks/themes.py [--half choosing|held-out|all] [--data ../shared/data] [--cache DIR]
        [--encoder DIR [--encoder-thresholds CUT,MERGE,ATTACH]]

The appeals (`topics/citizen_appeals_topics.csv`, 960 texts) are split by sha256(text) mod 2: 0 = the
choosing half (458 texts; every default was picked on it), 1 = the held-out half (502; reported once).
Each configuration clusters the half as one batch, exactly as `brandmon eval --task themes` does, and is
scored against the fine `topic` and the coarse `responsible` body (ARI / NMI over assigned texts, the
unassigned share, and `ari_all` with every unassigned text as its own singleton). Timings are per
configuration on the same machine in the same run, so the ratio is what to read; `--cache` keeps the
embeddings in .npy files so a re-run only clusters. `--encoder` adds a third row: the shipped settings with a theme
encoder written by `brandmon train-themes` (`make themes-encoder` trains one on the choosing half), optionally with
other cut / merge / attach thresholds; `--write-half HALF CSV` only writes that half's rows.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.embed import get_embedder  # noqa: E402
from models.keywords import lemmas  # noqa: E402
from models.themes import (  # noqa: E402
    cluster_metrics,
    fit_themes,
    reference_mean,
    shrunk_mean,
    theme_inputs,
)
from pipeline.config import load_settings  # noqa: E402

PREVIOUS = {"distance_threshold": 0.78, "merge_threshold": None, "attach_threshold": None, "clean_text": False}


def appeals_half(data: Path, half: str) -> pd.DataFrame:
    d = pd.read_csv(data / "topics" / "citizen_appeals_topics.csv")
    if half == "all":
        return d
    side = [int(hashlib.sha256(t.encode()).hexdigest(), 16) % 2 for t in d.text]
    return d[[s == (0 if half == "choosing" else 1) for s in side]].reset_index(drop=True)


def encode(embedder, texts: list[str], cache: Path | None) -> np.ndarray:
    if cache is None:
        return embedder.encode(texts)
    key = hashlib.sha256("\n".join([embedder.name, *texts]).encode()).hexdigest()[:16]
    path = cache / f"themes-emb-{key}.npy"
    if path.exists():
        return np.load(path)
    X = embedder.encode(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, X)
    return X


def run(d: pd.DataFrame, settings, embedder, cache: Path | None) -> dict:
    getattr(embedder, "_cache", {}).clear()  # both configurations embed from scratch
    t0 = time.perf_counter()
    texts = theme_inputs(d.text.tolist(), settings)
    X = encode(embedder, texts, cache)
    t1 = time.perf_counter()
    cluster_s = []
    for _ in range(3):  # the best of three: clustering takes about a second, so one run is mostly noise
        t = time.perf_counter()
        fit = fit_themes(texts, X, settings, mean=shrunk_mean(X, reference_mean(settings, embedder)))
        cluster_s.append(time.perf_counter() - t)
    fine, coarse = cluster_metrics(d.topic.tolist(), fit.labels), cluster_metrics(d.responsible.tolist(), fit.labels)
    sizes = sorted((int((fit.labels == k).sum()), k) for k in fit.names)[::-1]
    return {
        "fine": fine,
        "coarse": coarse,
        "embed_s": round(t1 - t0, 2),
        "cluster_s": round(min(cluster_s), 2),
        "largest": [(n, fit.names[k]) for n, k in sizes[:8]],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", choices=["choosing", "held-out", "all"], default="choosing")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=None, help="directory for cached embeddings (.npy)")
    ap.add_argument("--encoder", type=Path, help="a theme encoder folder (brandmon train-themes) to compare too")
    ap.add_argument(
        "--encoder-thresholds", default=None, help="its cut,merge,attach ('none' = pass off); default: the shipped ones"
    )
    ap.add_argument("--write-half", nargs=2, metavar=("HALF", "CSV"), help="only write that half to a CSV and stop")
    args = ap.parse_args(argv)
    if args.write_half:  # the theme encoder's training rows (`make themes-encoder`)
        appeals_half(args.data, args.write_half[0]).to_csv(args.write_half[1], index=False)
        return
    d = appeals_half(args.data, args.half)
    shipped = load_settings()
    shipped.themes.embedding_cache_rows = 0  # every configuration embeds from scratch: no vectors from disk either
    previous = shipped.model_copy(update={"themes": shipped.themes.model_copy(update=PREVIOUS)})
    configs = [("previous", previous), ("shipped", shipped)]
    if args.encoder:
        t = shipped.themes
        spec = args.encoder_thresholds or f"{t.distance_threshold},{t.merge_threshold},{t.attach_threshold}"
        cut, merge, attach = (None if v.strip().lower() == "none" else float(v) for v in spec.split(","))
        th = {"distance_threshold": float(cut or shipped.themes.distance_threshold), "merge_threshold": merge}
        th["attach_threshold"] = attach
        configs.append(
            (
                "encoder",
                shipped.model_copy(
                    update={
                        "themes": shipped.themes.model_copy(update=th),
                        "models": shipped.models.model_copy(update={"embedder": str(args.encoder)}),
                    }
                ),
            )
        )
    embedders = {name: get_embedder(s) for name, s in configs}
    for name, s in configs:
        reference_mean(s, embedders[name])  # computed once per embedder and cached; not part of either timing
    embedder = embedders["shipped"]
    for t in d.text:  # warm the lemmatiser's word cache and the imports: the first configuration pays no extra
        lemmas(t)
    run(d.head(40), shipped, embedder, None)
    print(f"appeals, {args.half} half: {len(d)} texts, {d.topic.nunique()} topics, {d.responsible.nunique()} bodies")
    results = {}
    for name, s in configs:
        r = results[name] = run(d, s, embedders[name], args.cache)
        f, c = r["fine"], r["coarse"]
        print(
            f"{name:9s} fine ARI {f['ari']:.3f} NMI {f['nmi']:.3f} unassigned {f['unassigned_share']:.3f} "
            f"ari_all {f['ari_all']:.3f} themes {f['n_themes']} | coarse ARI {c['ari']:.3f} NMI {c['nmi']:.3f} "
            f"| embed {r['embed_s']} s, cluster {r['cluster_s']} s"
        )
    new, old = results["shipped"], results["previous"]
    ratio = (new["embed_s"] + new["cluster_s"]) / max(old["embed_s"] + old["cluster_s"], 1e-9)
    print(
        f"stage time shipped / previous: {ratio:.2f}x (clustering alone {new['cluster_s']} s vs {old['cluster_s']} s)"
    )
    print("largest shipped themes:")
    for n, label in new["largest"]:
        print(f"  {n:4d}  {label}")


if __name__ == "__main__":
    main()
