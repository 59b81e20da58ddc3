"""Crawl and scoring on Dask workers that never open the database.

With `[workers] address = "tcp://host:8786"` (a running Dask scheduler) or `[workers] local = N` (a local cluster of
N worker processes, started on first use and kept for the life of this process, so each worker loads the scoring
model once), the crawl and score stages hand their work to workers:

- crawl: one task per crawler process (`crawl.processes` of them, each with its share of the sources),
  `crawlers.run.crawl_jobs(jobs)`: the worker crawls in a scratch folder, puts the raw runs under
  `workers.raw_url` (fsspec) and returns their outcomes; this process copies the run into its raw folder
  when that is elsewhere and records it (`crawl_runs`, `crawl_state`) as a local crawl would.
- score: one task per batch of `workers.batch_mentions` mention contexts, `models.score_batches.score_batch`;
  this process stores each batch's rows as they come (storing is idempotent).

A worker that dies mid-task (killed, out of memory) loses nothing: the scheduler runs its task again on another
worker, and only returned results are stored. Neither setting: every stage runs in this process as before.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd

from pipeline.config import Settings

log = logging.getLogger("flows.workers")

_CLIENTS: dict[tuple[str, int], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def client_for(settings: Settings):
    """A Dask client for `settings.workers`: connected to its scheduler, or to a local cluster of `local` worker
    processes (one thread each) started once per process."""
    from distributed import Client, LocalCluster

    w = settings.workers
    if not w.enabled:
        raise ValueError("workers: set workers.address or workers.local")
    key = (w.address, 0 if w.address else w.local)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is not None and client.status == "running":
            return client
        if w.address:
            client = Client(w.address, timeout="60s", set_as_default=False)
        else:
            cluster = LocalCluster(
                n_workers=w.local,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",  # a local cluster serves this process only
                scheduler_port=0,
                dashboard_address=":0",  # its status pages on a free port (8787 may be taken)
                silence_logs=logging.WARNING,
            )
            client = Client(cluster, set_as_default=False)
            log.info("local cluster of %d workers at %s", w.local, cluster.scheduler_address)
        _CLIENTS[key] = client
        return client


def close_clients() -> None:
    """Close the clients (and stop the local clusters) this process started."""
    with _CLIENTS_LOCK:
        for client in _CLIENTS.values():
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
        _CLIENTS.clear()


atexit.register(close_clients)


def worker_settings(settings: Settings) -> Settings:
    """The settings a worker runs with: on a local cluster the cores are shared out (one torch thread per worker
    on 2 cores), a remote worker uses its machine's cores (`models.threads` = 0 there means all)."""
    w = settings.workers
    if w.address:
        return settings
    cores = settings.models.threads or os.cpu_count() or 1
    models = settings.models.model_copy(update={"threads": max(1, cores // max(1, w.local))})
    return settings.model_copy(update={"models": models})


def warm_up(settings: Settings, model_dir: str, name: str, version: str) -> dict:
    """On a worker: load the scorer now (its first batch would), returning the seconds it took."""
    import time

    from models.score_batches import locate_model
    from models.scoring import get_scorer

    t0 = time.monotonic()
    get_scorer(settings, str(locate_model(settings, model_dir, name, version)))
    return {"pid": os.getpid(), "seconds": round(time.monotonic() - t0, 2)}


def warm_workers(settings: Settings, model_dir: str, name: str, version: str) -> dict[str, dict]:
    """Load the scorer on every worker of the cluster at once; per worker address: its pid and seconds."""
    client = client_for(settings)
    return client.run(warm_up, worker_settings(settings), model_dir, name, version)


def dask_batches(settings: Settings):
    """A `models.scoring.RunBatches` scoring each batch as a task on the workers, yielding rows as they finish."""

    def run(batches: list, model_dir: str) -> Iterator[pd.DataFrame]:
        from distributed import as_completed

        from models.score_batches import score_batch

        if not batches:
            return
        client = client_for(settings)
        ws = client.scatter(worker_settings(settings), broadcast=True)
        # longest texts first (batches come sorted by length): the short ones fill the gaps at the end, rather
        # than one worker finishing a long batch while the others wait
        futures = [
            client.submit(
                score_batch, b, model_dir, ws, key=f"score-{b.batch_id}", retries=settings.workers.retries, pure=False
            )
            for b in reversed(batches)
        ]
        try:
            for fut in as_completed(futures, loop=client.loop):
                yield fut.result()
        finally:
            client.cancel([f for f in futures if not f.done()])
            del futures

    return run


def dask_crawl(settings: Settings):
    """A `crawlers.run.RemoteCrawl` running a group of plain jobs as one task on the workers."""

    def run(jobs: list[dict]) -> list[dict]:
        from crawlers.run import crawl_jobs

        client = client_for(settings)
        key = "crawl-" + "-".join(j["run_id"] for j in jobs)
        return client.submit(crawl_jobs, jobs, key=key, retries=settings.workers.retries, pure=False).result()

    return run


# ----------------------------------------------------------------------------- the stages (flows.stages.STAGES)


def crawl_stage(settings: Settings, store, **kwargs: Any) -> dict:
    """The crawl stage: on the workers when they are configured, else in Scrapy subprocesses here."""
    from crawlers.run import crawl_sources

    remote = dask_crawl(settings) if settings.workers.enabled else None
    return crawl_sources(settings, store, run_remote=remote, **kwargs)


def score_stage(settings: Settings, store, **kwargs: Any) -> dict:
    """The score stage: batches on the workers when they are configured, else in this process."""
    from models.scoring import score_pending

    runner = dask_batches(settings) if settings.workers.enabled else None
    counts = score_pending(settings, store, run_batches=runner, **kwargs)
    if runner is not None:
        counts["workers"] = settings.workers.address or f"local:{settings.workers.local}"
    return counts
