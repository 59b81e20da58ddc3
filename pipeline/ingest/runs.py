"""Which runs to ingest, and ingesting them: one raw folder at a time, batch by batch."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from pipeline.brands import BrandMatcher, build_matcher
from pipeline.config import ConfigError, Settings, load_brands
from pipeline.ingest.config_sync import sync_config
from pipeline.ingest.helpers import prepared_batches
from pipeline.ingest.items import BAD_LINE_REASONS
from pipeline.ingest.quarantine import QUARANTINE, quarantine
from pipeline.ingest.reading import MAX_ERRORS_KEPT, DamagedFile, raw_files, read_batches
from pipeline.ingest.rows import about_rules
from pipeline.ingest.write import Ctx, process_batch
from pipeline.logs import log_context
from pipeline.privacy import make_masker
from pipeline.store import Store, utcnow

log = logging.getLogger("pipeline.ingest")


class IngestError(ValueError):
    """A run cannot be ingested (e.g. its raw folder does not exist)."""


def runs_to_ingest(
    settings: Settings, store: Store, run_id: str | None = None, all_runs: bool = False
) -> list[tuple[str, Path]]:
    """(run_id, raw folder) pairs: one given run, every raw folder (`all_runs`, a replay), or the finished
    runs `crawl_runs` says are not ingested yet."""
    raw_dir = Path(settings.raw_dir)
    rows = store.query("SELECT run_id, raw_path, status, finished_at, ingested_at FROM crawl_runs ORDER BY started_at")
    known = {r.run_id: r for r in rows.itertuples(index=False)}

    def folder(rid: str) -> Path:
        r = known.get(rid)
        if r is not None and isinstance(r.raw_path, str) and r.raw_path:
            p = Path(r.raw_path)
            return p if p.is_dir() else p.parent
        return raw_dir / rid

    if run_id is not None:
        p = folder(run_id)
        if not p.is_dir():
            raise IngestError(f"run {run_id!r}: raw folder {p} does not exist")
        return [(run_id, p)]
    if all_runs:
        return (
            [(p.name, p) for p in sorted(raw_dir.iterdir()) if p.is_dir() and p.name != QUARANTINE]
            if raw_dir.is_dir()
            else []
        )
    pending = rows[rows["ingested_at"].isna() & rows["finished_at"].notna() & (rows["status"] != "running")]
    return [(rid, folder(rid)) for rid in pending["run_id"]]


def ingest_run(
    settings: Settings,
    store: Store,
    run_id: str,
    run_dir: Path,
    matcher: BrandMatcher | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Ingest one raw folder; returns its counts. A `matcher` handed in must be the one `settings.brands_file`
    builds: helper processes (`ingest.helper_processes`) build theirs from that file."""
    cfg = settings.ingest
    matcher = matcher or build_matcher(load_brands(settings.brands_file), settings)
    counts: Counter = Counter()
    problems: Counter = Counter()
    by_brand: Counter = Counter()
    errors: list[str] = []
    damaged: list[DamagedFile] = []
    with log_context(stage="ingest", run_id=run_id), store.session(cfg.hold_lock_seconds) as session:
        ctx = Ctx(
            settings,
            matcher,
            make_masker(cfg.order_patterns),
            run_id,
            str(run_dir),
            about_rules(settings, set(matcher.brands)),
            store=store,
            session=session,
        )
        files = raw_files(run_dir)
        # closing(): a batch that fails stops the helpers now, not when the generator is collected
        with closing(
            prepared_batches(read_batches(files, cfg, problems, errors, damaged), ctx, cfg.helper_processes)
        ) as batches:
            for batch, prepared in batches:
                process_batch(batch, ctx, counts, by_brand, prepared=prepared)
                if progress:
                    progress(len(batch))
        # only now, with the readable lines stored: a failed write leaves the file for the next ingest
        quarantined = [f"{b.path} -> {dest}" for b in damaged if (dest := quarantine(settings, b)) is not None]
        with session.write() as con:
            con.execute("UPDATE crawl_runs SET ingested_at = ? WHERE run_id = ?", [utcnow(), run_id])
        bad = sum(problems[k] for k in BAD_LINE_REASONS)
        for e in errors:
            log.warning("bad raw input: %s", e)
        out = {
            "files": len(files),
            "lines": problems["lines"],
            "items": problems["lines"] - bad,
            "bad_lines": bad,
            **{
                k: problems[k]
                for k in (*BAD_LINE_REASONS, "repaired", "oversized", "coerced", "truncated_files", "damaged_files")
            },
            "quarantined_files": len(quarantined),
            **counts,
            "mentions_by_brand": dict(by_brand),
            "errors": errors,
            "quarantined": quarantined,
        }
        log.info(
            "ingested run: %s",
            {k: v for k, v in out.items() if k not in ("errors", "mentions_by_brand", "quarantined")},
        )
    return out


def ingest_pending(
    settings: Settings,
    store: Store,
    run_id: str | None = None,
    all_runs: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Ingest the given run, every raw folder (`all_runs`), or every finished run not ingested yet."""
    store.upgrade()
    cfg_counts = sync_config(settings, store)
    try:
        matcher = build_matcher(load_brands(settings.brands_file), settings)
    except ValueError as e:  # a brand query that does not parse
        raise ConfigError(f"{settings.brands_file}: {e}") from None
    runs = runs_to_ingest(settings, store, run_id, all_runs)
    total: Counter = Counter()
    by_brand: Counter = Counter()
    errors: list[str] = []
    quarantined: list[str] = []
    for rid, path in runs:
        r = ingest_run(settings, store, rid, path, matcher, progress)
        by_brand.update(r.pop("mentions_by_brand"))
        errors += [f"{rid}/{e}" for e in r.pop("errors")][: MAX_ERRORS_KEPT - len(errors)]
        quarantined += r.pop("quarantined")
        total.update({k: v for k, v in r.items() if isinstance(v, int)})
    return {
        "runs": len(runs),
        **dict(total),
        "brands": cfg_counts["brands"],
        "sources": cfg_counts["sources"],
        "mentions_by_brand": dict(by_brand),
        "errors": errors,
        "quarantined": quarantined,
    }
