"""Plain stage runners: what every flow does, without Prefect.

`run_stage(name, settings, store, **kw)` resolves a stage function by name (see `STAGES`, the contract between
areas), holds the data folder's write lock for writing stages, binds logging context, times the call and
returns its counts. `monitor_body(...)` chains the stages and records a `flow_runs` row; it takes the two
callables that execute a stage and a per-source crawl, so the Prefect flow passes retrying tasks and the plain
path (`brandmon run --no-prefect`) passes `with_retries(...)` wrappers: one chain, two executors.
"""

from __future__ import annotations

import importlib
import json
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import duckdb

from flows.locking import write_lock
from pipeline.config import Settings
from pipeline.logs import log_context
from pipeline.sources import select_sources
from pipeline.store import Store, StoreLockedError, utcnow

log = logging.getLogger("flows")

# name -> "module:function" (or a function); each is f(settings, store, **kwargs) -> dict of counts.
STAGES: dict[str, str | Callable[..., dict]] = {
    "crawl": "flows.workers:crawl_stage",  # crawlers.run.crawl_sources, on workers when configured
    "ingest": "pipeline.ingest:ingest_pending",
    "score": "flows.workers:score_stage",  # models.scoring.score_pending, on workers when configured
    "themes": "models.themes:update_themes",
    "escalate": "pipeline.escalate:escalate",
    "advocates": "pipeline.advocates:update_authors",
    "alerts": "pipeline.alerts:detect_alerts",
    "notify": "pipeline.notify:notify",
    "digest": "pipeline.report.write:digest_stage",  # its own schedule, not in the monitor chain
}
# notify goes last: it announces what escalate and alerts just found
MONITOR_STAGES: tuple[str, ...] = ("crawl", "ingest", "score", "themes", "escalate", "advocates", "alerts", "notify")
# The crawl writes only a few small rows (crawl_runs, crawl_state) in short retried transactions while it spends
# minutes on the network; holding the write lock for all that time would starve the other schedules.
WRITING_STAGES = frozenset(MONITOR_STAGES) - {"crawl"}


class StageFailed(RuntimeError):
    """A stage reported failure in its counts (e.g. a crawl whose source answered only errors)."""


def resolve_stage(name: str) -> Callable[..., dict]:
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; known: {', '.join(STAGES)}")
    target = STAGES[name]
    if callable(target):
        return target
    module, func = target.split(":")  # every stage module ships in this distribution
    return getattr(importlib.import_module(module), func)


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: a locked database or write lock, and network trouble."""
    if isinstance(exc, (StoreLockedError, ConnectionError, TimeoutError, socket.timeout)):
        return True
    if isinstance(exc, (duckdb.IOException,)) and "lock" in str(exc).lower():
        return True
    return False


def jsonable(value: Any) -> Any:
    """Counts as plain JSON types (stage functions may return numpy ints, Paths, datetimes...)."""
    return json.loads(json.dumps(value, default=_default))


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def run_stage(name: str, settings: Settings, store: Store, **kwargs: Any) -> dict:
    """Run one stage: resolve, lock (writing stages), log, time. Returns the stage's counts as JSON types."""
    fn = resolve_stage(name)
    lock = (
        write_lock(
            settings.data_dir, timeout=settings.schedule.write_lock_timeout_seconds, url=settings.store.url, stage=name
        )
        if name in WRITING_STAGES
        else nullcontext()
    )
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    with log_context(stage=name), lock:
        t0 = time.monotonic()
        counts = fn(settings, store, **kwargs)
        seconds = time.monotonic() - t0
    counts = jsonable(counts if counts is not None else {})
    log.info("stage %s done in %.1fs: %s", name, seconds, _short(counts))
    return counts


def crawl_source(settings: Settings, store: Store, source: str, since: Any = None) -> dict:
    """Crawl one source (a separate task per source, so one broken source does not stop the others).

    Raises `StageFailed` when the crawler reports the source failed, so retries and reporting see it.
    """
    counts = source_counts(run_stage("crawl", settings, store, sources=[source], since=since), source)
    status = str(counts.get("status", "")).lower()
    if status in ("failed", "error"):
        detail = counts.get("error") or counts.get("error_summary") or counts.get("error_kinds") or f"status {status}"
        raise StageFailed(f"crawl of {source!r} failed: {detail}")
    return counts


def source_counts(counts: dict, source: str) -> dict:
    """One source's counts out of crawl_sources' result ({"sources": {name: {...}}, totals...} or flat)."""
    for holder in (counts.get("sources"), counts):
        if isinstance(holder, dict) and isinstance(holder.get(source), dict):
            return holder[source]
    return counts


def with_retries(fn: Callable[..., Any], retries: int, delay: float, jitter: float = 0.5) -> Callable[..., Any]:
    """Plain retry with exponential backoff on transient errors (the no-Prefect executor)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as e:
                if attempt >= retries or not is_transient(e):
                    raise
                wait = delay * 2**attempt * (1 + jitter * random.random())
                log.warning("transient error (%s); retry %d/%d in %.1fs", e, attempt + 1, retries, wait)
                time.sleep(wait)
                attempt += 1

    return call


def thread_submitter(call_crawl: Callable[..., dict], threads: int) -> Callable[..., Callable[[], dict]] | None:
    """`monitor_body`'s `submit_crawl` without Prefect: `threads` source crawls at a time on threads of this
    process (each waits on its Scrapy subprocess or crawl worker); None (one after another) for 1."""
    if threads <= 1:
        return None
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(threads, thread_name_prefix="crawl")

    def submit(settings: Settings, store: Store, source: str, since: Any = None) -> Callable[[], dict]:
        return pool.submit(call_crawl, settings, store, source, since).result

    return submit


# --------------------------------------------------------------------------------------------- the chain


@dataclass
class FlowSummary:
    flow_run_id: str
    flow: str
    started_at: Any = field(default_factory=utcnow)
    finished_at: Any = None
    stages: dict[str, dict] = field(default_factory=dict)  # stage -> {status, seconds, counts, error}
    sources: dict[str, dict] = field(default_factory=dict)  # source -> {status, seconds, counts, error}
    extra: dict[str, Any] = field(default_factory=dict)

    def _results(self) -> list[tuple[str, dict]]:
        """Per-source crawl results and the other stages (the merged crawl row would count twice)."""
        out = [(f"crawl {s}", r) for s, r in self.sources.items()]
        out += [(n, r) for n, r in self.stages.items() if not (n == "crawl" and self.sources)]
        return out

    @property
    def errors(self) -> list[str]:
        return [f"{n}: {r['error']}" for n, r in self._results() if r["status"] == "failed"]

    @property
    def status(self) -> str:
        if self.finished_at is None:
            return "running"
        statuses = [r["status"] for _, r in self._results()]
        failed, ran = statuses.count("failed"), statuses.count("ok")
        return "ok" if not failed else ("partial" if ran else "failed")

    def as_dict(self) -> dict:
        return {
            "flow_run_id": self.flow_run_id,
            "flow": self.flow,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "stages": self.stages,
            "sources": self.sources,
            "errors": self.errors,
            **({"extra": self.extra} if self.extra else {}),
        }


def record_flow_run(store: Store, summary: FlowSummary) -> None:
    """Upsert the run's `flow_runs` row (written at start and at the end, so a killed run shows 'running')."""
    counts = {
        "stages": summary.stages,
        "sources": summary.sources,
        **({"extra": summary.extra} if summary.extra else {}),
    }
    row = {
        "flow_run_id": summary.flow_run_id,
        "flow": summary.flow,
        "started_at": summary.started_at,
        "finished_at": summary.finished_at,
        "status": summary.status,
        "counts_json": json.dumps(counts, ensure_ascii=False, default=_default),
        "error": "; ".join(summary.errors)[:4000] or None,
    }
    store.upsert("flow_runs", [row], key=["flow_run_id"])


def _timed(call: Callable[[], dict]) -> dict:
    t0 = time.monotonic()
    try:
        counts = call()
        return {"status": "ok", "seconds": round(time.monotonic() - t0, 3), "counts": counts, "error": None}
    except Exception as e:  # reported in the summary and flow_runs; the chain goes on (stages are independent)
        log.error("%s: %s", type(e).__name__, e)
        return {
            "status": "failed",
            "seconds": round(time.monotonic() - t0, 3),
            "counts": {},
            "error": f"{type(e).__name__}: {e}"[:1000],
        }


def monitor_body(
    settings: Settings,
    store: Store,
    *,
    sources: list[str] | None = None,
    brands: list[str] | None = None,
    stages: Iterable[str] | None = None,
    since: Any = None,
    flow: str = "monitor",
    flow_run_id: str | None = None,
    call_stage: Callable[..., dict] = run_stage,
    call_crawl: Callable[..., dict] = crawl_source,
    submit_crawl: Callable[..., Callable[[], dict]] | None = None,
    on_progress: Callable[[str, dict], None] | None = None,
    extra: Callable[[], dict] | None = None,
) -> dict:
    """Run `stages` (default: all, in data-flow order) and return the summary (also written to `flow_runs`).

    Every stage runs even when an earlier one failed: each works from what the database holds, so later
    stages still process earlier runs' data, and a failure is reported rather than hiding the rest.
    """
    wanted = list(stages) if stages else list(MONITOR_STAGES)
    bad = [s for s in wanted if s not in STAGES]
    if bad:
        raise ValueError(f"unknown stage(s) {', '.join(bad)}; known: {', '.join(STAGES)}")
    outside = [s for s in wanted if s not in MONITOR_STAGES]
    if outside:  # e.g. the digest: its own flow and command, never silently dropped from this one
        raise ValueError(
            f"stage(s) {', '.join(outside)} do not run in the monitor flow; its stages: {', '.join(MONITOR_STAGES)}"
        )
    order = [s for s in MONITOR_STAGES if s in wanted]
    summary = FlowSummary(flow_run_id=flow_run_id or uuid.uuid4().hex, flow=flow)
    store.upgrade()  # a fresh data folder works; a no-op when current
    record_flow_run(store, summary)
    with log_context(flow_run=summary.flow_run_id):
        for stage in order:
            if stage == "crawl":
                chosen = [s.name for s in select_sources(settings, sources)]
                # submit_crawl starts a source's crawl and returns a waiter (fan-out on a task runner), in waves
                # of `crawl_concurrency`; without it sources are crawled one after another
                wave = max(1, settings.schedule.crawl_concurrency) if submit_crawl else 1
                for i in range(0, len(chosen), wave):
                    batch = chosen[i : i + wave]
                    waiters = {src: submit_crawl(settings, store, src, since) for src in batch} if submit_crawl else {}
                    for src in batch:
                        with log_context(source=src):
                            r = _timed(waiters[src] if waiters else partial(call_crawl, settings, store, src, since))
                        summary.sources[src] = r
                        if on_progress:
                            on_progress(f"crawl:{src}", r)
                summary.stages["crawl"] = _merge_crawl(summary.sources)
            else:
                kwargs: dict[str, Any] = {"brands": brands} if stage == "score" and brands else {}
                r = _timed(partial(call_stage, stage, settings, store, **kwargs))
                summary.stages[stage] = r
                if on_progress:
                    on_progress(stage, r)
        if extra:
            summary.extra = jsonable(extra())
        summary.finished_at = utcnow()
        record_flow_run(store, summary)
    log.info("flow %s %s: %s", flow, summary.status, "; ".join(summary.errors) or "no errors")
    return summary.as_dict()


def _merge_crawl(per_source: dict[str, dict]) -> dict:
    statuses = {r["status"] for r in per_source.values()}
    totals: dict[str, float] = {}
    for r in per_source.values():
        for k, v in _flat_numbers(r["counts"]).items():
            totals[k] = round(totals.get(k, 0) + v, 3)
    status = "ok" if statuses <= {"ok"} else "failed"
    failed = [s for s, r in per_source.items() if r["status"] == "failed"]
    return {
        "status": status,
        "seconds": round(sum(r["seconds"] for r in per_source.values()), 3),
        "counts": {**totals, "sources": len(per_source), "sources_failed": len(failed)},
        "error": ("failed sources: " + ", ".join(failed)) if failed else None,
    }


def _flat_numbers(counts: dict) -> dict[str, float]:
    """Top-level numeric counts (booleans and nested details left out)."""
    return {k: v for k, v in counts.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _short(counts: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in counts.items() if not isinstance(v, (dict, list)))[:300]


def active_score_model(store: Store) -> str | None:
    """'model@version' of the active scoring model, None when there is none yet."""
    df = store.query("SELECT model, model_version FROM models WHERE task = 'score' AND active ORDER BY model LIMIT 1")
    return None if df.empty else f"{df.iloc[0, 0]}@{df.iloc[0, 1]}"


def last_rescored_model(store: Store) -> str | None:
    """The active model recorded by the last successful rescore flow run."""
    df = store.query(
        "SELECT counts_json FROM flow_runs WHERE flow = 'rescore' AND status = 'ok' ORDER BY finished_at DESC LIMIT 1"
    )
    if df.empty:
        return None
    return (json.loads(df.iloc[0, 0]).get("extra") or {}).get("model_version")
