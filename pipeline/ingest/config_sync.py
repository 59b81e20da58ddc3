"""`sources` and `brands` rows from sources.yaml and brands.yaml (only the rows that changed)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.config import Settings, load_brands, load_sources
from pipeline.store import Store, utcnow


def _upsert_changed(con, store: Store, table: str, df: pd.DataFrame, key: str, compare: list[str]) -> int:
    """Upsert only rows that differ from what is stored, so re-running leaves updated_at alone."""
    if df.empty:
        return 0
    old = con.execute(f"SELECT {key}, {', '.join(compare)} FROM {table}").df()
    merged = df.merge(old, on=key, how="left", suffixes=("", "__old"), indicator=True)
    differs = merged["_merge"] == "left_only"
    for c in compare:
        a, b = merged[c], merged[c + "__old"]
        differs |= ~((a == b) | (a.isna() & b.isna()))
    changed = df[differs.to_numpy()]
    if not changed.empty:
        store.upsert(table, changed, [key], con=con)
    return len(changed)


def sync_config(settings: Settings, store: Store) -> dict[str, int]:
    """Upsert `sources` rows from sources.yaml and `brands` rows from brands.yaml (changed rows only)."""
    now = utcnow()
    brands = load_brands(settings.brands_file)
    b = pd.DataFrame(
        [
            {
                "brand_id": x.id,
                "name": x.name,
                "aliases_json": json.dumps(
                    x.aliases + [a for a in x.ambiguous_aliases if a not in x.aliases], ensure_ascii=False
                ),
                "query": x.query,
                "exclusions_json": json.dumps(x.exclusions, ensure_ascii=False),
                "updated_at": now,
            }
            for x in brands
        ]
    )
    sources = []
    if Path(settings.sources_file).exists():
        sources = load_sources(settings.sources_file, settings.demo_web_url)
    s = pd.DataFrame([x.row(now) for x in sources])
    with store.write() as con:
        nb = _upsert_changed(con, store, "brands", b, "brand_id", ["name", "aliases_json", "query", "exclusions_json"])
        ns = (
            _upsert_changed(
                con, store, "sources", s, "source_id", ["kind", "base_url", "engine", "config_json", "enabled"]
            )
            if not s.empty
            else 0
        )
    return {"brands": len(b), "brands_changed": nb, "sources": len(s), "sources_changed": ns}
