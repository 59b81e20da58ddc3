"""The demo web through to the queue on a real Postgres server gives the same rows as on the DuckDB file."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest

from pipeline.pg_store import PgStore

from ..flows.pipeline_run import ROOT, SKIP_COLUMNS, cli_env, demo_settings, dump_tables, run_cli, source_for

pytest.importorskip("crawlers.run", reason="crawler stage (crawlers.run) not installed")
pytest.importorskip("models.scoring", reason="scoring stage (models.scoring) not installed")

COMPARED = (
    "documents",
    "doc_lsh",
    "mentions",
    "mention_facts",
    "scores",
    "themes",
    "theme_members",
    "escalations",
    "escalation_events",
    "author_brands",
    "authors",
    "alerts",
    "notifications",
)


def _canon(v) -> str:
    if v is None or (not isinstance(v, (list, str)) and pd.isna(v)):
        return ""
    if isinstance(v, pd.Timestamp):
        return v.tz_convert("UTC").isoformat() if v.tzinfo else v.isoformat()
    if hasattr(v, "item") and not hasattr(v, "__len__"):  # numpy scalars
        v = v.item()
    if isinstance(v, float):  # a nullable integer column is float64 in one frame, object in the other
        return str(int(v)) if v.is_integer() else repr(round(v, 9)) if not math.isnan(v) else ""
    return str(v)


def _timeless(reasons: str) -> str:
    r = json.loads(reasons)
    r["age_hours"] = r["priority"] = None
    r["factors"].pop("recency", None)
    return json.dumps(r, sort_keys=True)


def _rows(df: pd.DataFrame, columns: list[str]) -> list[tuple[str, ...]]:
    df = df.copy()
    if "reasons_json" in df:  # an item's age (and so its recency) is measured from each run's wall clock
        df["reasons_json"] = df["reasons_json"].map(_timeless)
        df["priority"] = df["priority"].round(2)
    return sorted(tuple(_canon(v) for v in r) for r in df[columns].astype(object).itertuples(index=False))


def _pg_dump(url: str, like: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    store = PgStore(url)
    out = {}
    for t in COMPARED:
        cols = ", ".join(f'"{c}"' for c in like[t].columns)
        out[t] = store.query(f"SELECT {cols} FROM {t}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "pg_extra",
    [
        pytest.param([], id="one-process"),
        # the team server with two local Dask workers crawling and scoring (they never open a store)
        pytest.param(["--workers", "2"], id="two-workers"),
    ],
)
def test_demo_run_gives_the_same_tables_on_postgres_as_on_the_file(demo_ro, pg_url, tmp_path, pg_extra):
    sources = tmp_path / "sources.yaml"
    shutil.copy(ROOT / "data" / "sources.yaml", sources)  # the sources table stores its config: one copy for both
    src = source_for(demo_settings(tmp_path / "x", demo_ro.url, sources), "/xf/")
    args = ["run", "--sources", src, "--no-prefect"]  # every monitor stage
    file_run = run_cli(tmp_path / "file", args, cli_env(demo_ro.url, sources))
    assert file_run.returncode == 0, file_run.stdout[-3000:] + file_run.stderr[-3000:]
    if pg_extra:
        pytest.importorskip("distributed", reason="distributed not installed")
    pg_run = run_cli(tmp_path / "pg", args + pg_extra, cli_env(demo_ro.url, sources, BRANDMON_STORE__URL=pg_url))
    assert pg_run.returncode == 0, pg_run.stdout[-3000:] + pg_run.stderr[-3000:]
    assert not (tmp_path / "pg" / "brandmon.duckdb").exists()  # every stage wrote to the server
    if pg_extra:  # the stages really ran on the workers
        assert "local:2" in pg_run.stdout + pg_run.stderr, pg_run.stdout[-2000:]

    ref = dump_tables(tmp_path / "file" / "brandmon.duckdb")
    got = _pg_dump(pg_url, ref)
    assert len(ref["documents"]) > 50 and len(ref["mentions"]) > 50 and len(ref["escalations"]) > 10
    assert len(ref["themes"]) > 0 and len(ref["theme_members"]) > 0 and len(ref["alerts"]) > 0
    for t in COMPARED:
        cols = [c for c in ref[t].columns if c not in SKIP_COLUMNS and c != "scored_at"]
        assert len(got[t]) == len(ref[t]), t
        a, b = _rows(got[t], cols), _rows(ref[t], cols)
        diff = [(t, c, x[i], y[i]) for x, y in zip(a, b, strict=True) for i, c in enumerate(cols) if x[i] != y[i]]
        assert diff == [], diff[:3]

    # the queue lists the same items in the same order on both stores
    env = cli_env(demo_ro.url, sources)
    q_file = run_cli(tmp_path / "file", ["queue", "--format", "csv", "--limit", "100"], env)
    q_pg = run_cli(
        tmp_path / "pg", ["queue", "--format", "csv", "--limit", "100"], {**env, "BRANDMON_STORE__URL": pg_url}
    )
    assert q_file.returncode == 0 and q_pg.returncode == 0, q_pg.stderr[-2000:]
    ids = [pd.read_csv(pd.io.common.StringIO(q.stdout))["escalation_id"].tolist() for q in (q_file, q_pg)]
    assert ids[0] == ids[1] and len(ids[0]) == len(ref["escalations"])
