"""Helpers for the end-to-end flow tests: demo settings, running the CLI in a subprocess, table dumps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = ROOT / "data" / "demo_web" / "answers.csv"

# Left out of the comparison: bookkeeping of *how* a run went (crawl_runs, crawl_state, flow_runs) and values
# that record *when* something was written (timestamps and ids derived from them).
SKIP_TABLES = {"crawl_runs", "crawl_state", "flow_runs", "schema_migrations", "models"}
SKIP_COLUMNS = {"run_id", "raw_path", "event_id", "alert_id", "first_seen", "last_seen", "window_start", "window_end"}


def demo_settings(data_dir: Path, demo_url: str, sources_file: Path = ROOT / "data" / "sources.yaml"):
    from pipeline.config import load_settings

    return load_settings(
        data_dir=data_dir,
        brands_file=ROOT / "data" / "brands.yaml",
        sources_file=sources_file,
        demo_web_url=demo_url,
    )


def source_for(settings, path_prefix: str) -> str:
    """The sources.yaml entry crawling the demo site under `path_prefix` (e.g. '/xf/')."""
    from pipeline.config import load_sources

    for s in load_sources(settings.sources_file, settings.demo_web_url):
        if any(path_prefix in u for u in s.start_urls):
            return s.name
    raise LookupError(f"no source in {settings.sources_file} crawls {path_prefix}")


def answers(site: str) -> pd.DataFrame:
    df = pd.read_csv(ANSWERS, dtype=str, keep_default_na=False)
    return df[df["site"] == site]


def cli_env(demo_url: str, sources_file: Path = ROOT / "data" / "sources.yaml", **extra: str) -> dict:
    env = dict(os.environ)
    env.update(
        BRANDMON_DEMO_WEB_URL=demo_url,
        BRANDMON_BRANDS_FILE=str(ROOT / "data" / "brands.yaml"),
        BRANDMON_SOURCES_FILE=str(sources_file),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    env.pop("BRANDMON_FLOW_PAUSE", None)
    env.update(extra)
    return env


def run_cli(data_dir: Path, args: list[str], env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "brandmon.cli", "--data-dir", str(data_dir), *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def run_until_paused_then_kill(data_dir: Path, args: list[str], env: dict, marker: Path, timeout: float = 600) -> str:
    """Start the CLI, wait until it pauses at the planted point, SIGKILL its whole process group."""
    cmd = [sys.executable, "-m", "brandmon.cli", "--data-dir", str(data_dir), *args]
    log = open(data_dir.parent / f"killed-{marker.stem}.log", "w")
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not marker.exists():
            if p.poll() is not None:
                raise AssertionError(f"finished (rc={p.returncode}) before reaching the kill point; see {log.name}")
            if time.monotonic() > deadline:
                raise AssertionError("kill point not reached in time")
            time.sleep(0.1)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(30)
        assert p.returncode == -signal.SIGKILL
        return marker.read_text()
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(30)
        log.close()


def dump_tables(db_path: Path) -> dict[str, pd.DataFrame]:
    """Every table's rows minus volatile columns, sorted, for row-by-row comparison."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema='main' AND table_type='BASE TABLE'"
            ).fetchall()
        ]
        out = {}
        for t in sorted(set(tables) - SKIP_TABLES):
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [t],
            ).fetchall()
            keep = [
                c
                for c, typ in cols
                if c not in SKIP_COLUMNS and not (c.endswith("_at") and c != "posted_at") and "[]" not in typ
            ]
            df = con.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in keep)} FROM {t}").df()
            df = df.sort_values(list(df.columns), kind="mergesort", na_position="first").reset_index(drop=True)
            out[t] = df
        return out
    finally:
        con.close()


# JSON keys that record the wall clock at the time of writing (an escalation's age in hours)
CLOCK_JSON_KEYS = {"age_hours"}


def _same_json(u, v, atol: float) -> bool:
    if u is None or v is None or (isinstance(u, float) and np.isnan(u)):
        return (u is None or isinstance(u, float)) and (v is None or isinstance(v, float))
    try:
        return _close(json.loads(u), json.loads(v), atol)
    except (TypeError, ValueError):
        return u == v


def _close(u, v, atol: float) -> bool:
    if isinstance(u, dict) and isinstance(v, dict):
        keys = (set(u) | set(v)) - CLOCK_JSON_KEYS
        return all(k in u and k in v and _close(u[k], v[k], atol) for k in keys)
    if isinstance(u, list) and isinstance(v, list):
        return len(u) == len(v) and all(_close(p, q, atol) for p, q in zip(u, v))
    if isinstance(u, (int, float)) and isinstance(v, (int, float)) and not isinstance(u, bool):
        return abs(u - v) <= atol
    return u == v


def diff_dumps(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame], atol: float = 2e-3) -> list[str]:
    """Differences between two dumps: row counts, then values (floats within `atol`, JSON compared parsed).

    The tolerance absorbs what moves with the wall clock between two runs minutes apart: the recency factor of
    an escalation's priority decays with a 72 h half-life (2e-3 covers about an hour).
    """
    problems = []
    for t in sorted(set(a) | set(b)):
        if t not in a or t not in b:
            problems.append(f"{t}: only in one database")
            continue
        x, y = a[t], b[t]
        if len(x) != len(y):
            problems.append(f"{t}: {len(x)} rows vs {len(y)}")
            continue
        floats = [c for c in x.columns if pd.api.types.is_float_dtype(x[c])]
        others = [c for c in x.columns if c not in floats]
        if others:
            x = x.sort_values(others, kind="mergesort", na_position="first").reset_index(drop=True)
            y = y.sort_values(others, kind="mergesort", na_position="first").reset_index(drop=True)
        for c in others:
            if c.endswith("_json"):
                bad = [i for i, (u, v) in enumerate(zip(x[c], y[c])) if not _same_json(u, v, atol)]
                if bad:
                    problems.append(
                        f"{t}.{c}: {len(bad)} rows differ, e.g. {x[c].iloc[bad[0]]!r} vs {y[c].iloc[bad[0]]!r}"
                    )
                continue
            ne = ~((x[c] == y[c]) | (x[c].isna() & y[c].isna()))
            if ne.any():
                i = int(np.flatnonzero(ne.to_numpy())[0])
                problems.append(f"{t}.{c}: {int(ne.sum())} rows differ, e.g. {x[c].iloc[i]!r} vs {y[c].iloc[i]!r}")
        for c in floats:
            close = np.isclose(x[c].to_numpy(float), y[c].to_numpy(float), atol=atol, equal_nan=True)
            if not close.all():
                i = int(np.flatnonzero(~close)[0])
                problems.append(f"{t}.{c}: {int((~close).sum())} values differ, e.g. {x[c].iloc[i]} vs {y[c].iloc[i]}")
    return problems
