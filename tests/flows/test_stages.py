"""The plain flow machinery (no Prefect): write lock, retries, per-source failures, flow_runs records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import stages as st
from flows.locking import WriteLockTimeout, write_lock
from pipeline.config import ConfigError

from .helpers import calls, flaky_stage, recording_crawl, write_sources_yaml

ROOT = Path(__file__).resolve().parents[2]


def _plain(settings, **kw):
    sch = settings.schedule
    return st.monitor_body(
        settings,
        __import__("pipeline.store", fromlist=["Store"]).Store.from_settings(settings),
        call_stage=st.with_retries(st.run_stage, sch.retries, sch.retry_delay_seconds, 0),
        call_crawl=st.with_retries(st.crawl_source, sch.retries, sch.retry_delay_seconds, 0),
        **kw,
    )


def test_write_lock_blocks_a_second_process_and_dies_with_its_holder(tmp_path):
    code = (
        "import sys, time\nfrom flows.locking import write_lock\n"
        "with write_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with pytest.raises(WriteLockTimeout, match=f"pid={p.pid}"):
            with write_lock(tmp_path, timeout=0.6):
                pass
        assert time.monotonic() - t0 >= 0.6
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        with write_lock(tmp_path, timeout=2):  # the kernel released the dead holder's lock
            pass
    finally:
        if p.poll() is None:
            p.kill()


def test_transient_failures_are_retried_with_backoff_then_the_run_completes(fast_settings, stages_registry, tmp_path):
    counter = tmp_path / "calls.json"
    stages_registry["ingest"] = flaky_stage(counter, "ingest", fail_times=2)
    t0 = time.monotonic()
    out = _plain(fast_settings, stages=["ingest"])
    elapsed = time.monotonic() - t0
    assert calls(counter) == {"ingest": 3}
    assert out["status"] == "ok"
    assert out["stages"]["ingest"]["counts"] == {"rows": 1, "attempt": 3}
    assert elapsed >= 0.05 + 0.10  # backoff 0.05 s then 0.10 s
    row = st.Store.from_settings(fast_settings).query("SELECT * FROM flow_runs").iloc[0]
    assert row["status"] == "ok" and row["flow"] == "monitor" and row["error"] is None
    counts = json.loads(row["counts_json"])
    assert counts["stages"]["ingest"]["counts"]["attempt"] == 3


def test_a_permanent_error_is_not_retried_and_is_reported(fast_settings, stages_registry, tmp_path):
    counter = tmp_path / "calls.json"
    stages_registry["ingest"] = flaky_stage(counter, "ingest", fail_times=5, exc=ValueError)
    stages_registry["score"] = flaky_stage(counter, "score", fail_times=0)
    out = _plain(fast_settings, stages=["ingest", "score"])
    assert calls(counter) == {"ingest": 1, "score": 1}  # not retried; later stage still ran
    assert out["status"] == "partial"
    assert out["stages"]["ingest"]["status"] == "failed"
    assert "ValueError: ingest: simulated failure 1/5" in out["stages"]["ingest"]["error"]
    assert out["stages"]["score"]["status"] == "ok"
    assert st.Store.from_settings(fast_settings).query("SELECT status FROM flow_runs").iloc[0, 0] == "partial"


def test_a_broken_source_does_not_stop_the_others(fast_settings, stages_registry, tmp_path):
    fast_settings.sources_file = write_sources_yaml(tmp_path / "sources.yaml", ["alpha", "broken", "gamma"])
    counter = tmp_path / "calls.json"
    stages_registry["crawl"] = recording_crawl(counter, broken={"broken"})
    stages_registry["ingest"] = flaky_stage(counter, "ingest", fail_times=0)
    out = _plain(fast_settings, stages=["crawl", "ingest"])
    assert {s: r["status"] for s, r in out["sources"].items()} == {"alpha": "ok", "broken": "failed", "gamma": "ok"}
    assert calls(counter) == {"crawl:alpha": 1, "crawl:broken": 1, "crawl:gamma": 1, "ingest": 1}
    assert out["stages"]["crawl"]["counts"]["sources_failed"] == 1
    assert out["stages"]["crawl"]["counts"]["items"] == 6
    assert out["stages"]["ingest"]["status"] == "ok"
    assert out["status"] == "partial"
    assert out["errors"] == ["crawl broken: RuntimeError: broken: HTTP 500 on every start URL"]
    store = st.Store.from_settings(fast_settings)
    assert sorted(store.query("SELECT source_id FROM crawl_runs")["source_id"]) == ["alpha", "gamma"]
    assert "crawl broken" in store.query("SELECT error FROM flow_runs").iloc[0, 0]


def test_crawl_counts_saying_failed_count_as_a_failure(fast_settings, stages_registry, tmp_path):
    fast_settings.sources_file = write_sources_yaml(tmp_path / "sources.yaml", ["alpha"])
    stages_registry["crawl"] = lambda settings, store, sources=None, since=None: {
        "alpha": {"status": "failed", "error": "503 x3", "items": 0}
    }
    out = _plain(fast_settings, stages=["crawl"])
    assert out["sources"]["alpha"]["status"] == "failed"
    assert "503 x3" in out["sources"]["alpha"]["error"]


def test_a_stage_that_cannot_import_fails_and_says_why(fast_settings, stages_registry):
    stages_registry["themes"] = "no_such_package.themes:update_themes"
    out = _plain(fast_settings, stages=["themes"])
    assert out["stages"]["themes"]["status"] == "failed"
    assert "No module named 'no_such_package'" in out["stages"]["themes"]["error"]


def test_unknown_names_are_clear_errors(fast_settings, tmp_path):
    fast_settings.sources_file = write_sources_yaml(tmp_path / "sources.yaml", ["alpha"])
    with pytest.raises(ConfigError, match="unknown source.*nope.*known: alpha"):
        _plain(fast_settings, stages=["crawl"], sources=["nope"])
    with pytest.raises(ValueError, match="unknown stage.*bogus"):
        _plain(fast_settings, stages=["bogus"])


def test_writing_stages_wait_for_the_write_lock(fast_settings, stages_registry, tmp_path):
    counter = tmp_path / "calls.json"
    stages_registry["ingest"] = flaky_stage(counter, "ingest", fail_times=0)
    fast_settings.schedule.write_lock_timeout_seconds = 0.3
    fast_settings.schedule.retries = 1
    with write_lock(fast_settings.data_dir):
        out = _plain(fast_settings, stages=["ingest"])
    # held by "another flow" the whole time: one retry, then reported as a lock timeout; the stage never ran
    assert out["stages"]["ingest"]["status"] == "failed"
    assert "WriteLockTimeout" in out["stages"]["ingest"]["error"]
    assert calls(counter) == {}
