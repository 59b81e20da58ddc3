"""Small real stage functions for testing the flow machinery (they write to the real DuckDB file)."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from pipeline.store import StoreLockedError, utcnow


def write_sources_yaml(path: Path, names: list[str], base: str = "http://127.0.0.1:9") -> Path:
    lines = ["sources:"]
    for n in names:
        lines += [f"  - name: {n}", "    kind: generic", f"    start_urls: ['{base}/{n}/']", "    local: true"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bump(counter: Path, key: str) -> int:
    """Count calls across processes and retries in a JSON file; returns this call's number (1-based).

    Read-modify-write under an exclusive lock: crawls fanned out on the task runner call this at the same time,
    and a reader must never see the file half written."""
    with open(counter.with_name(counter.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(counter.read_text()) if counter.exists() else {}
        data[key] = data.get(key, 0) + 1
        counter.write_text(json.dumps(data))
        return data[key]


def calls(counter: Path) -> dict:
    return json.loads(counter.read_text()) if counter.exists() else {}


def recording_crawl(counter: Path, broken: set[str]):
    """A crawl stage: records a crawl_runs row per source; sources in `broken` fail permanently."""

    def crawl_sources(settings, store, sources=None, since=None):
        out = {}
        for src in sources or []:
            bump(counter, f"crawl:{src}")
            if src in broken:
                raise RuntimeError(f"{src}: HTTP 500 on every start URL")
            store.upsert(
                "crawl_runs",
                [{"run_id": f"run-{src}", "source_id": src, "started_at": utcnow(), "status": "ok", "items": 3}],
                key=["run_id"],
            )
            out[src] = {"status": "ok", "items": 3, "pages": 1}
        return out

    return crawl_sources


def flaky_stage(counter: Path, name: str, fail_times: int, exc: type[Exception] = StoreLockedError):
    """A stage failing `fail_times` times (transient by default), then writing a row and returning counts."""

    def stage(settings, store, **kwargs):
        n = bump(counter, name)
        if n <= fail_times:
            raise exc(f"{name}: simulated failure {n}/{fail_times}")
        store.upsert("sources", [{"source_id": f"stage-{name}", "kind": "generic", "name": name}], key=["source_id"])
        return {"rows": 1, "attempt": n}

    return stage
