"""`crawl_sources(settings, store, sources=None, since=None)`: crawl sources in Scrapy subprocesses.

The sources are dealt over `crawl.processes` subprocesses (their spiders side by side in each one's reactor).

Per source: pick (or resume) a run id, hand the subprocess the incremental state read from `crawl_state`, read
its progress lines, then record the `crawl_runs` row, the state it learned, and `meta.json` in the run's raw
directory. The parent does every database write, so the crawl itself never holds the DuckDB file.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.config import Settings, SourceConfig, dump_without_secrets
from pipeline.logs import log_context
from pipeline.paths import UnsafePathError, child, remove_tree
from pipeline.sources import select_sources
from pipeline.store import Store, utcnow

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]

Progress = Callable[[str, dict], None]
THREAD_SUFFIX = "#thread"


class CrawlError(RuntimeError):
    pass


def new_run_id(source: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{source}-{secrets.token_hex(2)}"


def load_states(con, source_ids: list[str]) -> dict[str, dict]:
    """The incremental state of each source (what its threads and pages looked like when last crawled)."""
    rows = con.execute(
        "SELECT source_id, url, kind, last_post_id, pages, etag, last_modified, content_hash, last_page_url "
        "FROM crawl_state WHERE source_id IN (SELECT unnest(?))",
        [list(source_ids)],
    ).fetchall()
    out: dict[str, dict[str, dict[str, Any]]] = {sid: {"pages": {}, "threads": {}} for sid in source_ids}
    for sid, url, kind, last_post_id, pages, etag, last_modified, content_hash, last_page_url in rows:
        if kind == "thread":
            out[sid]["threads"][url.removesuffix(THREAD_SUFFIX)] = {
                "last_post_id": last_post_id,
                "pages": pages,
                "content_hash": content_hash,
                "last_page_url": last_page_url,
            }
        else:
            out[sid]["pages"][url] = {"etag": etag, "last_modified": last_modified, "content_hash": content_hash}
    return out


def state_rows(source_id: str, updates: dict[str, dict], now: datetime) -> list[dict]:
    """`crawl_state` rows for what one crawl learned about a source's pages and threads."""
    rows = []
    for url, u in updates.items():
        kind = u.get("kind", "page")
        # a thread's first page and the thread itself share a URL; the fragment keeps their rows apart
        rows.append(
            {
                "source_id": source_id,
                "url": url + THREAD_SUFFIX if kind == "thread" else url,
                "kind": kind,
                "last_post_id": u.get("last_post_id"),
                "pages": u.get("pages"),
                "etag": u.get("etag"),
                "last_modified": u.get("last_modified"),
                "content_hash": u.get("content_hash"),
                "last_page_url": u.get("last_page_url"),
                "updated_at": now,
            }
        )
    return rows


def count_items(run_dir: Path) -> int:
    from crawlers.raw import existing_post_ids

    return len(existing_post_ids(run_dir))


def absolute_paths(settings: Settings) -> Settings:
    """The settings with every path made absolute against this process's working directory: the crawler process
    runs in another one, and a relative data dir would point it elsewhere."""
    top = {
        k: Path(v).absolute()
        for k in ("data_dir", "db_path", "raw_dir", "brands_file", "sources_file", "log_file")
        if (v := getattr(settings, k)) is not None
    }
    models = settings.models
    if models.cache_dir is not None:
        models = models.model_copy(update={"cache_dir": Path(models.cache_dir).absolute()})
    return settings.model_copy(update={**top, "models": models})


def job_dirs(settings: Settings, sources: list[SourceConfig]) -> tuple[Path, dict[str, Path]]:
    """`data_dir/jobs` and each source's folder in it (its Scrapy JOBDIR lives there and is removed after a
    finished run): a name that would put that folder anywhere but strictly inside jobs/ is refused."""
    root = Path(settings.data_dir).absolute() / "jobs"
    out = {}
    for source in sources:
        try:
            out[source.name] = child(root, source.name)
        except UnsafePathError:
            raise CrawlError(
                f"source {source.name!r}: not usable as a folder name (its job folder must stay "
                f"inside {root}); rename it in {settings.sources_file}"
            ) from None
    return root, out


def _prepare(
    settings: Settings, store: Store, sources: list[SourceConfig], since: datetime | None, now: datetime | None
) -> list[dict]:
    """Pick (or resume) each source's run id, register the runs, write the job files the crawler processes read.

    All sources' rows go in one transaction: each connection opened and closed costs a checkpoint (~0.1 s a source
    when done one by one)."""
    settings = absolute_paths(settings)
    jobs_root, jobdirs = job_dirs(settings, sources)  # every name checked before anything is written
    jobs = []
    for source in sources:
        jobdir = jobdirs[source.name]
        marker = jobdir / "run.json"
        resumed = marker.exists()
        if resumed:
            run_id = json.loads(marker.read_text())["run_id"]
        else:
            run_id = new_run_id(source.name)
            jobdir.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"run_id": run_id}))
        run_dir = Path(settings.raw_dir) / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        jobs.append(
            {
                "source": source,
                "run_id": run_id,
                "run_dir": run_dir,
                "jobdir": jobdir,
                "jobs_root": jobs_root,
                "resumed": resumed,
                "since": since.isoformat() if since else None,
            }
        )
    started = utcnow()
    with store.write() as con:
        store.upsert("sources", [j["source"].row(started) for j in jobs], key=["source_id"], con=con)
        store.upsert(
            "crawl_runs",
            [
                {
                    "run_id": j["run_id"],
                    "source_id": j["source"].name,
                    "started_at": started,
                    "status": "running",
                    "raw_path": str(j["run_dir"]),
                }
                for j in jobs
                if not j["resumed"]
            ],
            key=["run_id"],
            con=con,
        )
        resumed_ids = [j["run_id"] for j in jobs if j["resumed"]]
        if resumed_ids:
            con.execute("UPDATE crawl_runs SET status='running' WHERE run_id IN (SELECT unnest(?))", [resumed_ids])
        states = load_states(con, [j["source"].name for j in jobs])
    for j in jobs:
        source, run_dir = j["source"], j["run_dir"]
        job = {
            "settings": dump_without_secrets(settings),
            "source": source.model_dump(mode="json"),
            "run_id": j["run_id"],
            "run_dir": str(run_dir),
            "jobdir": str(j["jobdir"] / "scrapy"),
            "state": states[source.name],
            "since": j["since"],
            "now": now.isoformat() if now else None,
        }
        job_path = run_dir / f"job-{len(list(run_dir.glob('job-*.json'))):03d}.json"
        job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
        j.update(started=started, job_path=job_path, sessions_before=len(list(run_dir.glob("session-*.json"))))
    return jobs


def split_jobs(jobs: list[dict], processes: int, weights: list[float] | None = None) -> list[list[dict]]:
    """Spread the sources over at most `processes` crawler processes (each reactor uses one core).

    `weights` (e.g. pages of each source's last run) balance the load: heaviest first, each to the process with
    the least so far, so one big forum does not share a process with the other big ones while another idles.
    Without weights (or with equal ones) this deals round-robin. Each group keeps the jobs' given order."""
    n = max(1, min(processes, len(jobs)))
    w = list(weights) if weights is not None else [1.0] * len(jobs)
    load = [0.0] * n
    slot = [0] * len(jobs)
    for i in sorted(range(len(jobs)), key=lambda i: -w[i]):  # stable: equal weights keep their order
        p = min(range(n), key=lambda k: (load[k], k))
        slot[i] = p
        load[p] += w[i]
    return [[j for i, j in enumerate(jobs) if slot[i] == p] for p in range(n)]


SCRAPY_SECONDS_PER_PAGE = 0.003  # Scrapy's own CPU per fetched page, parsing aside (benchmarks/crawl.py's baseline)


def last_runs(store: Store, names: list[str]) -> dict[str, tuple[int, float | None]]:
    """(pages, parse seconds or None) of each source's latest finished run: what its next incremental crawl is
    likely to cost. Parse seconds come from the run's meta.json (None when the raw folder is gone)."""
    if not names:
        return {}
    rows = store.query(
        "SELECT source_id, pages, raw_path FROM crawl_runs WHERE finished_at IS NOT NULL AND pages IS NOT NULL "
        "AND source_id IN (SELECT unnest(?)) "
        "QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY finished_at DESC) = 1",
        [list(names)],
    )
    out: dict[str, tuple[int, float | None]] = {}
    for src, pages, raw_path in zip(rows["source_id"], rows["pages"], rows["raw_path"]):
        parse = None
        try:
            parse = float(json.loads((Path(raw_path) / "meta.json").read_text(encoding="utf-8"))["parse_seconds"])
        except (TypeError, ValueError, KeyError, OSError):
            pass
        out[src] = (int(pages), parse)
    return out


def job_weights(store: Store, jobs: list[dict]) -> list[float]:
    """Each job's expected crawler CPU in seconds: its last run's pages at Scrapy's per-page cost plus that run's
    parse time, so a forum whose pages parse slowly (XenForo, vBulletin: ~5 ms against phpBB's ~2.6) weighs more
    than one with as many cheap pages. A run without a parse time is assumed to parse at the known sources' median
    rate; a source never crawled weighs the mean of the known ones (1 page's cost if none is known)."""
    known = last_runs(store, [j["source"].name for j in jobs])
    rates = sorted(parse / pages for pages, parse in known.values() if parse is not None and pages)
    rate = rates[len(rates) // 2] if rates else SCRAPY_SECONDS_PER_PAGE
    cost = {
        src: pages * SCRAPY_SECONDS_PER_PAGE + (parse if parse is not None else pages * rate)
        for src, (pages, parse) in known.items()
    }
    default = sum(cost.values()) / len(cost) if cost else SCRAPY_SECONDS_PER_PAGE
    return [float(cost.get(j["source"].name, default)) or SCRAPY_SECONDS_PER_PAGE for j in jobs]


def _run_process(settings: Settings, jobs: list[dict], progress: Progress | None) -> int:
    """One crawler process for all jobs (their spiders run side by side in one reactor)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    by_name = {j["source"].name: j for j in jobs}
    log_path = jobs[0]["run_dir"] / "crawl.log"
    with open(log_path, "ab") as errlog:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawlers.runner", *[str(j["job_path"]) for j in jobs]],
            cwd=str(ROOT),
            stdout=subprocess.PIPE,
            stderr=errlog,
            env=env,
            text=True,
            bufsize=1,
        )
        killer = threading.Timer(settings.crawl.crawl_timeout_seconds, proc.terminate)
        killer.daemon = True
        killer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                j = by_name.get(msg.get("source"))
                if progress and msg.get("progress") and j is not None:
                    progress(j["source"].name, {**msg, "pid": proc.pid, "run_id": j["run_id"]})
            rc = proc.wait()
        finally:
            killer.cancel()
    for j in jobs[1:]:  # every run directory gets the shared log's path in its own crawl.log
        (j["run_dir"] / "crawl.log").write_text(f"see {log_path}\n", encoding="utf-8")
    return rc


def _outcome(j: dict, rc: int) -> dict:
    """What one source's crawl came to, read from its run directory's session files after the process ended."""
    run_dir = j["run_dir"]
    sessions = sorted(run_dir.glob("session-*.json"))[j["sessions_before"] :]
    summary = json.loads(sessions[-1].read_text(encoding="utf-8")) if sessions else None
    all_sessions = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(run_dir.glob("session-*.json"))]
    pages = sum(s.get("pages", 0) for s in all_sessions)
    errors = [e for s in all_sessions for e in s.get("error_samples", [])]
    n_errors = sum(s.get("errors", 0) for s in all_sessions)
    kinds: dict[str, int] = {}
    for s in all_sessions:
        for k, v in s.get("error_kinds", {}).items():
            kinds[k] = kinds.get(k, 0) + v
    # every attempt that wrote its summary counted the posts it wrote (its writer skips ids already in the run's
    # files), so their sum is the run's count; an attempt without one (killed hard) may have written lines that
    # only the files know of
    if (
        all_sessions
        and len(all_sessions) == len(list(run_dir.glob("job-*.json")))
        and all(isinstance(s.get("items"), int) for s in all_sessions)
    ):
        items = sum(s["items"] for s in all_sessions)
    else:
        items = count_items(run_dir)
    # requests robots.txt forbade: a politeness rule, not an error (a forum's robots.txt forbids its search and
    # member pages, which links point to everywhere), but recorded; a run that fetched nothing else failed
    refused = {"robots.txt": n} if (n := sum(s.get("robots_forbidden", 0) for s in all_sessions)) else {}
    reason = summary.get("finish_reason") if summary else None
    if summary is None:
        status = "failed"
        kinds["CrawlerCrashed"] = kinds.get("CrawlerCrashed", 0) + 1
        n_errors += 1
        errors.append(
            {"error": "CrawlerCrashed", "message": f"crawler exited with code {rc}; see {run_dir / 'crawl.log'}"}
        )
    elif reason == "finished":
        status = "ok" if n_errors == 0 else ("partial" if items or pages > n_errors else "failed")
        if status == "ok" and not pages and refused:
            status = "failed"
    else:
        status = "interrupted"  # JOBDIR kept: the next crawl of this source resumes this run
    return {
        "summary": summary,
        "status": status,
        "pages": pages,
        "items": items,
        "errors": n_errors,
        "kinds": kinds,
        "samples": errors[:20],
        "refused": refused,
        "reason": reason,
        "sessions": len(all_sessions),
        "parse_seconds": round(sum(s.get("parse_seconds") or 0 for s in all_sessions), 4),
    }


def _finish(store: Store, jobs: list[dict], rc: int, outcomes: list[dict] | None = None) -> list[dict]:
    """Record the crawl_runs rows, the learned state and meta.json of one crawler process's sources
    (`outcomes`: as a crawl worker reported them; else read from the run folders here).

    One transaction for all of them; meta.json and the JOBDIR's removal follow the commit, so a crash before it
    leaves the run to be resumed, not a finished run without its rows."""
    outcomes_given = outcomes is not None
    outcomes = outcomes if outcomes is not None else [_outcome(j, rc) for j in jobs]
    finished = utcnow()
    state = [
        row
        for j, o in zip(jobs, outcomes)
        if o["summary"] is not None
        for kind in ("state_updates", "thread_updates")
        for row in state_rows(j["source"].name, o["summary"].get(kind, {}), finished)
    ]
    with store.write() as con:
        store.upsert("crawl_state", state, key=["source_id", "url"], con=con)  # all sources in one statement
        for j, o in zip(jobs, outcomes):
            con.execute(
                "UPDATE crawl_runs SET finished_at=?, status=?, pages=?, items=?, errors=?, error_summary_json=?, "
                "raw_path=? WHERE run_id=?",
                [
                    finished,
                    o["status"],
                    o["pages"],
                    o["items"],
                    o["errors"],
                    json.dumps(
                        {"kinds": o["kinds"], "samples": o["samples"], "refused": o["refused"]}, ensure_ascii=False
                    ),
                    str(j["run_dir"]),
                    j["run_id"],
                ],
            )
    results = []
    for j, o in zip(jobs, outcomes):
        source = j["source"]
        meta = {
            "run_id": j["run_id"],
            "source": source.name,
            "kind": source.kind,
            "engine": source.engine,
            "started_at": j["started"].isoformat(),
            "finished_at": finished.isoformat(),
            "status": o["status"],
            "pages": o["pages"],
            "items": o["items"],
            "errors": o["errors"],
            "error_kinds": o["kinds"],
            "refused": o["refused"],
            "sessions": o["sessions"],
            "finish_reason": o["reason"],
            "since": j["since"],
            "parse_seconds": o["parse_seconds"],
        }
        (j["run_dir"] / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        if o["status"] != "interrupted" or outcomes_given:  # a worker's run cannot be resumed here
            remove_tree(j["jobdir"], j["jobs_root"], ignore_errors=True)
        last = o["summary"] or {}
        results.append(
            {
                "run_id": j["run_id"],
                "status": o["status"],
                "pages": o["pages"],
                "items": o["items"],
                "errors": o["errors"],
                "resumed": j["resumed"],
                "requests": last.get("requests", 0),
                "robots_forbidden": last.get("robots_forbidden", 0),
                "blocked": last.get("blocked", 0),
                "unchanged": last.get("unchanged", 0),
                "crawl_seconds": last.get("elapsed_seconds"),
                "parse_seconds": last.get("parse_seconds"),
                "cpu_seconds": last.get("cpu_seconds"),
                "raw_path": str(j["run_dir"]),
                "error_kinds": o["kinds"],
                "refused": o["refused"],
            }
        )
    return results


# ------------------------------------------------------------------------------------- crawls on workers

RemoteCrawl = Callable[[list[dict]], list[dict]]


def raw_url(settings: Settings) -> str:
    """Where crawl workers put raw runs: `workers.raw_url`, else this machine's raw folder as a file:// URL."""
    return settings.workers.raw_url or Path(settings.raw_dir).absolute().as_uri()


def plain_job(j: dict, settings: Settings) -> dict:
    """A prepared job as plain data for a worker: its job file's content, without this machine's folders."""
    job = json.loads(Path(j["job_path"]).read_text(encoding="utf-8"))
    return {k: v for k, v in job.items() if k not in ("run_dir", "jobdir")} | {"raw_url": raw_url(settings)}


def _url_fs(url: str):
    import fsspec

    return fsspec.core.url_to_fs(url)


def crawl_jobs(jobs: list[dict]) -> list[dict]:
    """A crawl worker's task: crawl plain jobs (`plain_job`) in a Scrapy subprocess in a scratch folder, put each
    run's files under its `raw_url`, return each run's outcome. Opens no database."""
    import shutil
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="brandmon-crawl-"))
    try:
        local = []
        for job in jobs:
            run_dir = scratch / job["run_id"]
            run_dir.mkdir(parents=True)
            job_path = run_dir / "job-000.json"
            body = {k: v for k, v in job.items() if k != "raw_url"}
            body.update(run_dir=str(run_dir), jobdir=str(scratch / "jobs" / job["run_id"]))
            job_path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
            source = SourceConfig.model_validate(job["source"])
            local.append(
                {
                    "source": source,
                    "run_id": job["run_id"],
                    "run_dir": run_dir,
                    "job_path": job_path,
                    "sessions_before": 0,
                }
            )
        settings = Settings.model_validate(jobs[0]["settings"])
        rc = _run_process(settings, local, None)
        outcomes = [_outcome(j, rc) for j in local]
        for job, j in zip(jobs, local):
            put_run(j["run_dir"], job["raw_url"], job["run_id"])
        return outcomes
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def put_run(run_dir: Path, url: str, run_id: str) -> int:
    """Copy a run folder's files to `<url>/<run_id>/` (any fsspec location); returns the files copied."""
    fs, root = _url_fs(url)
    target = f"{root.rstrip('/')}/{run_id}"
    files = [p for p in sorted(run_dir.rglob("*")) if p.is_file()]
    for p in files:
        dest = f"{target}/{p.relative_to(run_dir).as_posix()}"
        fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(p), dest)
    return len(files)


def fetch_run(url: str, run_id: str, run_dir: Path) -> int:
    """The writer's copy of a run a worker put at `<url>/<run_id>/` (nothing to copy when that is `run_dir`)."""
    fs, root = _url_fs(url)
    source = f"{root.rstrip('/')}/{run_id}"
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" in protocols and Path(source).resolve() == Path(run_dir).resolve():
        return 0  # the worker wrote straight into this machine's raw folder
    n = 0
    for path in fs.find(source):
        dest = Path(run_dir) / path[len(source) :].lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(path, str(dest))
        n += 1
    return n


def crawl_sources(
    settings: Settings,
    store: Store,
    sources: list[str] | None = None,
    since: Any = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    run_remote: RemoteCrawl | None = None,
) -> dict:
    """Crawl the named sources (default: every enabled one). Returns per-source counts and totals.

    `run_remote(plain_jobs) -> outcomes`: run each crawler process's sources on a worker (`crawl_jobs` there)
    instead of a subprocess here; the raw runs come back through `settings.workers.raw_url` and are recorded
    here."""
    if isinstance(since, str):
        from crawlers.dates import parse_date

        since = parse_date(since, settings.crawl.default_timezone)
        if since is None:
            raise CrawlError("--since: not a date")
    chosen = select_sources(settings, sources)
    out: dict[str, Any] = {"sources": {}, "pages": 0, "items": 0, "errors": 0}
    # a `files` source fetches nothing: its new files become a raw run here (pipeline/importing.py)
    for source in [s for s in chosen if s.kind == "files"]:
        from pipeline.importing import collect_folder

        t_files = time.monotonic()
        with log_context(stage="crawl", source=source.name):
            r = out["sources"][source.name] = collect_folder(settings, store, source)
        r["seconds"] = round(time.monotonic() - t_files, 2)
        for k in ("pages", "items", "errors"):
            out[k] += r[k]
    chosen = [s for s in chosen if s.kind != "files"]
    if not chosen:
        return out
    t0 = time.monotonic()
    with log_context(stage="crawl"):
        jobs = _prepare(settings, store, chosen, since, now)
        # `crawl.processes` Scrapy processes, here or each a task on the workers. One source needs no weights: no
        # read then, which matters when flows crawl sources side by side on threads of one process (a read of the
        # file while another thread writes it fails in DuckDB instead of waiting)
        several = len(jobs) > 1 and settings.crawl.processes > 1
        groups = split_jobs(jobs, settings.crawl.processes, job_weights(store, jobs) if several else None)
        done: dict[str, dict] = {}
        one_writer = threading.Lock()

        def crawl_group(group: list[dict]) -> None:
            outcomes = None
            if run_remote is None:
                rc = _run_process(settings, group, progress)
            else:
                rc, outcomes = 0, run_remote([plain_job(j, settings) for j in group])
                url = raw_url(settings)
                for j in group:
                    fetch_run(url, j["run_id"], j["run_dir"])
            # the first process to end is recorded while the others still crawl; one writer at a time
            with one_writer:
                for j, r in zip(group, _finish(store, group, rc, outcomes)):
                    r["seconds"] = round(time.monotonic() - t0, 2)
                    log.info(
                        "crawled %s: %s pages, %s items, %s errors (%s)",
                        j["source"].name,
                        r["pages"],
                        r["items"],
                        r["errors"],
                        r["status"],
                    )
                    done[j["source"].name] = r

        with ThreadPoolExecutor(len(groups)) as pool:  # each thread waits on its own crawler process
            list(pool.map(crawl_group, groups))
        for j in jobs:
            r = out["sources"][j["source"].name] = done[j["source"].name]
            for k in ("pages", "items", "errors"):
                out[k] += r[k]
    return out
