"""Throughput on Dask workers against this process: scoring mentions/s and crawling pages/s, 1 and 2 workers.

    .venv/bin/python benchmarks/workers.py [--score-posts 3000] [--batch 512] [--threads 100] [--posts 30]

All variants run in one run on the same data, each on a fresh copy of the data folder:

1. Scoring. `--score-posts` synthetic forum posts (benchmarks/ingest.py's generator) are ingested once; then the
   score stage scores every mention (a) in this process (`models.threads` / `models.workers` as configured: all
   cores), (b) on a local cluster of 1 worker process (all cores), (c) on one of 2 worker processes (one core
   each), this process storing the rows as batches come back. The scorer is loaded before timing, here and on
   every worker (`flows.workers.warm_workers`); its load time per worker is printed apart.
2. Crawling. The demo web with `--threads` threads of `--posts` replies added to each forum site (as
   benchmarks/crawl.py), served from this process after a warm-up crawl has rendered every page. The crawl stage
   crawls every demo source (a) in `crawl.processes` = 2 Scrapy subprocesses here, (b) on 1 worker (both crawler
   processes' jobs one after the other), (c) on 2 workers; raw runs go to a shared folder (`workers.raw_url`)
   and are copied into the data folder. pages/s is pages over the stage's wall time.

Each variant runs `--rounds` times, interleaved with the others; prints one JSON line per run, then the ratios of
each variant's best run against this process's best. On a 2-core machine the workers share the
cores with this process (which stores the rows, or serves the demo web): the ratios show what spreading the work
costs there; on machines of their own each worker adds its cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _settings(data: Path, **extra):
    from pipeline.config import load_settings

    return load_settings(
        data_dir=data,
        brands_file=ROOT / "data" / "brands.yaml",
        sources_file=ROOT / "data" / "sources.yaml",
        models={"cache_dir": ROOT / "data" / "cache" / "models"},  # the converted backbone, built once
        **extra,
    )


def score_template(tmp: Path, n_posts: int) -> Path:
    """A data folder with `n_posts` synthetic posts ingested and nothing scored."""
    from benchmarks.ingest import make_posts
    from benchmarks.store_reads import raw_run
    from pipeline.ingest import ingest_pending
    from pipeline.store import Store

    data = tmp / "score-template"
    raw_run(data, "synthetic", make_posts(n_posts))
    s = _settings(data)
    store = Store.from_settings(s)
    store.upgrade()
    ingest_pending(s, store, run_id="synthetic")
    return data


def time_scoring(template: Path, dest: Path, workers: int, batch: int) -> dict:
    from flows.workers import close_clients, score_stage, warm_workers
    from models import registry
    from models.scoring import get_scorer
    from pipeline.store import Store

    shutil.copytree(template, dest)
    s = _settings(dest, workers={"local": workers, "batch_mentions": batch})
    store = Store.from_settings(s)
    model_dir = registry.resolve_model_dir(s, None)
    spec, version = registry.read_spec(model_dir), registry.model_version(model_dir)
    t0 = time.monotonic()
    if workers:
        loads = {w: r["seconds"] for w, r in warm_workers(s, str(model_dir), spec.name, version).items()}
    else:
        get_scorer(s, str(model_dir))
        loads = {"here": round(time.monotonic() - t0, 2)}
    import models.score_batches as sb

    store_seconds: list[float] = []
    plain_store = sb.store_scores

    def timed_store(store, rows):  # the writer's share: how many workers one writer can keep busy
        t = time.monotonic()
        try:
            return plain_store(store, rows)
        finally:
            store_seconds.append(time.monotonic() - t)

    sb.store_scores = timed_store
    t = time.monotonic()
    try:
        counts = score_stage(s, store)
    finally:
        sb.store_scores = plain_store
    seconds = time.monotonic() - t
    close_clients()
    return {
        "variant": f"score on {workers} workers" if workers else "score in this process",
        "mentions": counts["scored"],
        "seconds": round(seconds, 2),
        "mentions_per_s": round(counts["scored"] / seconds, 1),
        "model_load_seconds": loads,
        "writer_store_seconds_per_batch": round(sum(store_seconds) / max(1, len(store_seconds)), 3),
    }


def time_crawls(tmp: Path, threads: int, posts: int, rounds: int = 1) -> list[dict]:
    from benchmarks.crawl import FORUMS, NOW, OTHERS, enlarge
    from crawlers.run import crawl_sources
    from demo.web.server import DemoWebServer
    from flows.workers import close_clients, crawl_stage
    from pipeline.store import Store

    content = tmp / "demo_web"
    shutil.copytree(ROOT / "data" / "demo_web", content, ignore=shutil.ignore_patterns("added.jsonl"))
    enlarge(content, threads, posts)
    names = [*FORUMS, *OTHERS]
    out = []
    with DemoWebServer(content, now=NOW) as srv:

        def fresh(name: str, workers: int = 0):
            extra = {"raw_url": (tmp / f"{name}-shared").as_uri()} if workers else {}
            s = _settings(
                tmp / name,
                demo_web_url=srv.url,
                crawl={"autothrottle": False, "processes": 2},
                workers={"local": workers, **extra},
            )
            store = Store.from_settings(s)
            store.upgrade()
            return s, store

        warm = fresh("crawl-warmup")
        crawl_sources(*warm, names, now=NOW)  # the server renders and caches every page once
        for k, workers in [(k, w) for k in range(rounds) for w in (0, 1, 2)]:
            s, store = fresh(f"crawl-{workers}-{k}", workers)
            if workers:
                from flows.workers import client_for

                client_for(s)  # the cluster's start-up is not the crawl's
            t = time.monotonic()
            res = crawl_stage(s, store, sources=names, now=NOW)
            seconds = time.monotonic() - t
            close_clients()
            pages = sum(r["pages"] for r in res["sources"].values())
            out.append(
                {
                    "variant": f"crawl on {workers} workers"
                    if workers
                    else "crawl in this process (2 Scrapy processes)",
                    "pages": pages,
                    "items": res["items"],
                    "errors": res["errors"],
                    "seconds": round(seconds, 2),
                    "pages_per_s": round(pages / seconds, 1),
                }
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--score-posts", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=512, help="workers.batch_mentions")
    ap.add_argument("--threads", type=int, default=100, help="synthetic threads added to each demo forum")
    ap.add_argument("--posts", type=int, default=30, help="replies in each synthetic thread")
    ap.add_argument("--rounds", type=int, default=2, help="each variant this often, interleaved; the best counts")
    ap.add_argument("--skip-crawl", action="store_true")
    ap.add_argument("--skip-score", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="brandmon-workers-"))
    try:
        if not args.skip_score:
            template = score_template(tmp, args.score_posts)
            runs = [
                time_scoring(template, tmp / f"score-{w}-{k}", w, args.batch)
                for k in range(args.rounds)
                for w in (0, 1, 2)
            ]
            for r in runs:
                print(json.dumps(r), flush=True)
            rows = [
                max((r for r in runs if r["variant"] == v), key=lambda r: r["mentions_per_s"])
                for v in dict.fromkeys(r["variant"] for r in runs)
            ]
            here = rows[0]["mentions_per_s"]
            print(
                json.dumps(
                    {
                        f"score_ratio_{r['variant'].split()[2]}_workers": round(r["mentions_per_s"] / here, 2)
                        for r in rows[1:]
                    }
                ),
                flush=True,
            )
        if not args.skip_crawl:
            runs = time_crawls(tmp, args.threads, args.posts, args.rounds)
            for r in runs:
                print(json.dumps(r), flush=True)
            rows = [
                max((r for r in runs if r["variant"] == v), key=lambda r: r["pages_per_s"])
                for v in dict.fromkeys(r["variant"] for r in runs)
            ]
            here = rows[0]["pages_per_s"]
            print(
                json.dumps(
                    {
                        f"crawl_ratio_{r['variant'].split()[2]}_workers": round(r["pages_per_s"] / here, 2)
                        for r in rows[1:]
                    }
                ),
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
