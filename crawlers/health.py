"""Source health from `crawl_runs`: last run, items, error rate, and whether a source went silent."""

from __future__ import annotations

from typing import Any

from pipeline.config import Settings, load_sources
from pipeline.store import Store


def source_health(settings: Settings, store: Store, recent_runs: int = 5) -> list[dict]:
    """One row per configured source. error_rate = errors / (pages + errors) over the last `recent_runs` runs;
    silent = the last two finished runs found no items (a source whose markup changed looks like this)."""
    sources = load_sources(settings.sources_file, settings.demo_web_url)
    runs = None
    if store.path.exists():
        runs = store.query(
            """SELECT source_id, run_id, started_at, status, pages, items, errors,
                      row_number() OVER (PARTITION BY source_id ORDER BY started_at DESC) AS k
               FROM crawl_runs"""
        )
    out = []
    for s in sources:
        r = runs[runs.source_id == s.name].sort_values("k") if runs is not None else None
        row: dict[str, Any] = {
            "name": s.name,
            "kind": s.kind,
            "engine": s.engine,
            "enabled": s.enabled,
            "runs": 0,
            "last_run": None,
            "last_status": None,
            "last_items": None,
            "error_rate": None,
            "silent": False,
        }
        if r is not None and len(r):
            recent = r[r.k <= recent_runs]
            pages, errors = int(recent.pages.fillna(0).sum()), int(recent.errors.fillna(0).sum())
            finished = r[r.status.isin(["ok", "partial", "failed"])].head(2)
            row.update(
                runs=int(len(r)),
                last_run=r.iloc[0].started_at,
                last_status=r.iloc[0].status,
                last_items=int(r.iloc[0]["items"] or 0),
                error_rate=(errors / (pages + errors)) if pages + errors else 0.0,
                silent=len(finished) == 2 and int(finished["items"].fillna(0).sum()) == 0,
            )
        out.append(row)
    return out
