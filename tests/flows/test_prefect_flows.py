"""The Prefect layer: retries as task retries, per-source tasks, flow_runs rows, rescore gating, deployments."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from pipeline.store import Store, utcnow

from .helpers import calls, flaky_stage, recording_crawl, write_sources_yaml


# under Prefect's temporary API server (its start alone takes ~15 s)
@pytest.mark.slow
def test_task_failing_twice_is_retried_by_prefect_and_the_flow_completes(
    prefect_harness, fast_settings, stages_registry, tmp_path
):
    from flows.monitor import monitor_flow

    counter = tmp_path / "calls.json"
    stages_registry["ingest"] = flaky_stage(counter, "ingest", fail_times=2)
    stages_registry["score"] = flaky_stage(counter, "score", fail_times=0)
    out = monitor_flow(settings=fast_settings.model_dump(mode="json"), stages=["ingest", "score"])
    assert calls(counter) == {"ingest": 3, "score": 1}
    assert out["status"] == "ok", out
    row = Store.from_settings(fast_settings).query("SELECT * FROM flow_runs").iloc[0]
    assert row["flow_run_id"] == out["flow_run_id"] and len(row["flow_run_id"]) == 36  # Prefect's run id
    assert row["status"] == "ok"
    assert json.loads(row["counts_json"])["stages"]["ingest"]["counts"] == {"rows": 1, "attempt": 3}


# under Prefect's temporary API server (its start alone takes ~15 s)
@pytest.mark.slow
def test_permanent_failure_in_one_source_is_reported_and_others_crawl(
    prefect_harness, fast_settings, stages_registry, tmp_path
):
    from flows.monitor import monitor_flow

    fast_settings.sources_file = write_sources_yaml(tmp_path / "sources.yaml", ["alpha", "broken", "gamma"])
    counter = tmp_path / "calls.json"
    stages_registry["crawl"] = recording_crawl(counter, broken={"broken"})
    stages_registry["ingest"] = flaky_stage(counter, "ingest", fail_times=0)
    out = monitor_flow(settings=fast_settings.model_dump(mode="json"), stages=["crawl", "ingest"])
    assert {s: r["status"] for s, r in out["sources"].items()} == {"alpha": "ok", "broken": "failed", "gamma": "ok"}
    # RuntimeError is permanent: one attempt, no retries; the others and the next stage ran
    assert calls(counter) == {"crawl:alpha": 1, "crawl:broken": 1, "crawl:gamma": 1, "ingest": 1}
    assert out["status"] == "partial"
    assert out["errors"] == ["crawl broken: RuntimeError: broken: HTTP 500 on every start URL"]
    runs = Store.from_settings(fast_settings).query("SELECT source_id FROM crawl_runs ORDER BY 1")
    assert list(runs["source_id"]) == ["alpha", "gamma"]


# under Prefect's temporary API server (its start alone takes ~15 s)
@pytest.mark.slow
def test_stage_flow_records_its_own_run(prefect_harness, fast_settings, stages_registry, tmp_path):
    from flows.monitor import STAGE_FLOWS

    counter = tmp_path / "calls.json"
    stages_registry["alerts"] = flaky_stage(counter, "alerts", fail_times=1)
    out = STAGE_FLOWS["alerts"](settings=fast_settings.model_dump(mode="json"))
    assert out["status"] == "ok" and list(out["stages"]) == ["alerts"]
    df = Store.from_settings(fast_settings).query("SELECT flow, status FROM flow_runs")
    assert df.to_dict("records") == [{"flow": "alerts", "status": "ok"}]


# under Prefect's temporary API server (its start alone takes ~15 s)
@pytest.mark.slow
def test_rescore_runs_only_when_the_active_model_changed(prefect_harness, fast_settings, stages_registry, tmp_path):
    from flows.monitor import rescore_flow

    counter = tmp_path / "calls.json"
    for name in ("score", "themes", "escalate", "alerts"):
        stages_registry[name] = flaky_stage(counter, name, fail_times=0)
    params = fast_settings.model_dump(mode="json")
    store = Store.from_settings(fast_settings)
    store.upgrade()

    def activate(version: str) -> None:
        with store.write() as con:
            con.execute("UPDATE models SET active = FALSE")
            con.execute(
                "INSERT INTO models (model, model_version, task, active, created_at) VALUES ('m', ?, 'score', TRUE, ?)",
                [version, utcnow()],
            )

    activate("v1")
    assert rescore_flow(settings=params)["status"] == "ok"
    assert calls(counter) == {"score": 1, "themes": 1, "escalate": 1, "alerts": 1}
    assert rescore_flow(settings=params) == {"status": "skipped", "model_version": "m@v1"}
    assert calls(counter)["score"] == 1
    activate("v2")
    out = rescore_flow(settings=params)
    assert out["status"] == "ok" and out["extra"] == {"model_version": "m@v2"}
    assert calls(counter)["score"] == 2


def test_deployments_carry_the_schedules_from_settings(fast_settings):
    from flows.deploy import build_deployments

    fast_settings.schedule.crawl_minutes = 20
    deps = {d.name: d for d in build_deployments(fast_settings, sources=["demo-xf"], brands=["posylkin"])}
    assert set(deps) == {"monitor", "themes", "alerts", "rescore"}
    sched = {n: d.schedules[0].schedule for n, d in deps.items()}
    assert sched["monitor"].interval == timedelta(minutes=20)
    assert sched["themes"].interval == timedelta(minutes=60)
    assert sched["alerts"].interval == timedelta(minutes=15)
    assert sched["rescore"].cron == "0 3 * * *"
    assert deps["monitor"].parameters["sources"] == ["demo-xf"]
    assert deps["monitor"].parameters["stages"] == ["crawl", "ingest", "score", "escalate", "advocates"]
    assert deps["themes"].parameters["settings"]["db_path"] == str(fast_settings.db_path)
    assert all(d.concurrency_limit == 1 for d in deps.values())


# under Prefect's temporary API server (its start alone takes ~15 s)
@pytest.mark.slow
def test_crawls_fan_out_on_the_task_runner_when_concurrency_allows(
    prefect_harness, fast_settings, stages_registry, tmp_path
):
    import time as _time

    from flows.monitor import monitor_flow

    fast_settings.sources_file = write_sources_yaml(tmp_path / "sources.yaml", ["alpha", "broken", "gamma"])
    fast_settings.schedule.crawl_concurrency = 3
    spans: dict[str, tuple[float, float]] = {}
    inner = recording_crawl(tmp_path / "calls.json", broken={"broken"})

    def slow_crawl(settings, store, sources=None, since=None):
        t0 = _time.monotonic()
        try:
            _time.sleep(1.5)
            return inner(settings, store, sources=sources, since=since)
        finally:
            spans[sources[0]] = (t0, _time.monotonic())

    stages_registry["crawl"] = slow_crawl
    out = monitor_flow(settings=fast_settings.model_dump(mode="json"), stages=["crawl"])
    assert {s: r["status"] for s, r in out["sources"].items()} == {"alpha": "ok", "broken": "failed", "gamma": "ok"}
    # all three ran at the same time: each started before any finished
    assert max(a for a, _ in spans.values()) < min(b for _, b in spans.values())
