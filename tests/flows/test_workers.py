"""Crawl and scoring on two Dask workers (a real LocalCluster of two processes) against the single-process run.

The demo web's XenForo and phpBB sites are crawled, ingested, scored and escalated once in this process and once
with `workers.local = 2`; every table (documents, mentions, scores, the queue, ...) must hold the same rows. A
worker SIGKILLed while it scores a batch must lose nothing, and a batch stored twice must change nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="distributed not installed")

from flows import stages as st  # noqa: E402
from pipeline.store import Store  # noqa: E402

from ..helpers import NOW  # noqa: E402
from .pipeline_run import ROOT, demo_settings, diff_dumps, dump_tables, source_for  # noqa: E402

PREFIXES = ("/xf/", "/phpbb/")


def _settings(data, demo_url, sources_file, workers: int = 0, batch: int = 8):
    s = demo_settings(data, demo_url, sources_file)
    s.workers.local = workers
    s.workers.batch_mentions = batch
    return s


def _run(settings, stages, sources=None) -> dict:
    store = Store.from_settings(settings)
    store.upgrade()
    out = {}
    for stage in stages:
        if stage == "ingest":
            out[stage] = _ingest_in_order(settings, store)
            continue
        # the queue's priorities decay with age: every run escalates as of the demo web's clock
        kw = {"sources": sources} if stage == "crawl" else {"now": NOW} if stage == "escalate" else {}
        out[stage] = st.run_stage(stage, settings, store, **kw)
    return out


def _ingest_in_order(settings, store) -> list[dict]:
    """Ingest the runs one by one in the order of their source names: which of two cross-posted texts is the
    original follows the order runs are ingested in, and runs started together have no order of their own."""
    runs = store.query("SELECT run_id FROM crawl_runs WHERE ingested_at IS NULL ORDER BY source_id")
    return [st.run_stage("ingest", settings, store, run_id=rid) for rid in runs["run_id"]]


@pytest.fixture(scope="module")
def sources_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "sources.yaml"
    shutil.copy(ROOT / "data" / "sources.yaml", path)
    return path


@pytest.fixture(scope="module")
def ingested(demo_ro, sources_file, tmp_path_factory):
    """The two sites crawled and ingested in this process (no workers): a template data folder."""
    data = tmp_path_factory.mktemp("ingested") / "data"
    s = _settings(data, demo_ro.url, sources_file)
    names = [source_for(s, p) for p in PREFIXES]
    counts = _run(s, ["crawl", "ingest"], names)
    assert counts["crawl"]["items"] > 0, counts
    yield {"data": data, "sources": names}
    from flows.workers import close_clients

    close_clients()


def _copy(template, dest):
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("jobs"))
    return dest


@pytest.fixture(scope="module")
def single(ingested, demo_ro, sources_file, tmp_path_factory):
    """The single-process reference: the template scored and escalated here."""
    data = _copy(ingested["data"], tmp_path_factory.mktemp("single") / "data")
    s = _settings(data, demo_ro.url, sources_file)
    counts = _run(s, ["score", "escalate"])
    return {"settings": s, "counts": counts, "dump": dump_tables(s.db_path)}


@pytest.mark.slow
def test_monitor_flow_on_two_workers_gives_the_single_process_tables(
    prefect_harness, single, ingested, demo_ro, sources_file, tmp_path
):
    """The Prefect monitor flow with `workers.local = 2`: both sites crawled at once on the workers, their raw
    runs put in a shared folder apart from the data folder, ingested from there, scored in batches on the
    workers by the score flow, then escalated: the same rows in every table as the single-process run."""
    from flows.monitor import monitor_flow
    from pipeline.config import dump_without_secrets

    shared = tmp_path / "shared-raw"
    s = _settings(tmp_path / "data", demo_ro.url, sources_file, workers=2)
    s.workers.raw_url = shared.as_uri()
    s.schedule.crawl_concurrency = 2
    params = dump_without_secrets(s)
    crawled = monitor_flow(settings=params, sources=ingested["sources"], stages=["crawl"])
    assert crawled["status"] == "ok", crawled["errors"]
    _run(s, ["ingest"])
    scored = monitor_flow(settings=params, stages=["score"])
    assert scored["status"] == "ok", scored["errors"]
    _run(s, ["escalate"])
    score = scored["stages"]["score"]["counts"]
    assert score["workers"] == "local:2" and score["scored"] == single["counts"]["score"]["scored"]
    assert score["scored"] > 2 * s.workers.batch_mentions  # several batches, spread over both workers
    ref, got = single["dump"], dump_tables(s.db_path)
    for table in ("documents", "mentions", "scores", "escalations"):
        assert len(got[table]) == len(ref[table]) > 0, table
    diffs = diff_dumps(ref, got)
    assert diffs == [], "\n".join(diffs)
    # each source's raw run went to the shared folder, was copied into the data folder and ingested
    runs = Store.from_settings(s).query("SELECT run_id, source_id, status, items, ingested_at FROM crawl_runs")
    assert sorted(runs["source_id"]) == sorted(ingested["sources"])
    assert (runs["status"] == "ok").all() and runs["ingested_at"].notna().all() and (runs["items"] > 0).all()
    for run_id in runs["run_id"]:
        put = sorted(p.name for p in (shared / run_id).glob("items-*.jsonl.gz"))
        assert put and put == sorted(p.name for p in (s.raw_dir / run_id).glob("items-*.jsonl.gz"))


def _executing(dask_worker) -> tuple[int, list[str]]:
    """On a worker: its pid and the keys of the tasks it is running now."""
    return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]


@pytest.mark.slow
def test_worker_killed_mid_batch_loses_nothing(single, ingested, demo_ro, sources_file, tmp_path):
    import cloudpickle

    from flows.workers import client_for

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # _executing runs on the workers
    data = _copy(ingested["data"], tmp_path / "data")
    s = _settings(data, demo_ro.url, sources_file, workers=2)
    client = client_for(s)
    client.restart()  # fresh worker processes: the first batch on each loads the model, a wide window to kill in
    before = set(client.run(os.getpid).values())
    result: dict = {}
    stage = threading.Thread(target=lambda: result.update(_run(s, ["score"])), daemon=True)
    stage.start()
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and stage.is_alive() and time.monotonic() < deadline:
        for pid, keys in client.run(_executing).values():
            if any(k.startswith("score-") for k in keys):
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        else:
            time.sleep(0.05)
    assert killed is not None, "no batch seen running"
    stage.join(600)
    assert not stage.is_alive()
    assert killed in before and killed not in set(client.run(os.getpid).values())  # really gone, replaced
    assert result["score"]["scored"] == single["counts"]["score"]["scored"]
    _run(s, ["escalate"])
    assert diff_dumps(single["dump"], dump_tables(s.db_path)) == []


@pytest.mark.slow  # the module fixture crawls and ingests two sites (~12 s)
def test_a_batch_stored_twice_changes_nothing(ingested, demo_ro, sources_file, tmp_path):
    """Rows as a worker returns them, stored twice (a retried or duplicated task): the second store writes
    nothing, not even a newer `scored_at`; a row for a context the mention no longer has is left out."""
    import json

    import pandas as pd

    from models.score_batches import SCORE_COLUMNS, cut_batches, store_scores
    from models.scoring import _pending

    data = _copy(ingested["data"], tmp_path / "data")
    store = Store.from_settings(_settings(data, demo_ro.url, sources_file))
    pending = _pending(store, "v-test", None)
    batch = cut_batches(pending, "m", "v-test", 64)[0]
    n = len(batch)
    rows = pd.DataFrame(
        {
            "mention_id": batch.mention_ids,
            "model": "m",
            "model_version": "v-test",
            "context_hash": batch.context_hashes,
            "sentiment": ["negative"] * n,
            "p_neg": [0.7] * n,
            "p_neu": [0.2] * n,
            "p_pos": [0.1] * n,
            "unsure": [False] * n,
            "intent": ["complaint"] * n,
            "intent_probs_json": [json.dumps({"complaint": 0.9})] * n,
        },
        columns=SCORE_COLUMNS,
    )
    stale = rows.iloc[:1].assign(mention_id=rows["mention_id"].iloc[0], context_hash="not-the-current-context")
    assert store_scores(store, rows) == n
    sql = "SELECT * FROM scores ORDER BY mention_id"
    first = store.query(sql)
    facts = store.query("SELECT count(*) FROM mention_facts").iloc[0, 0]
    assert len(first) == n
    assert store_scores(store, rows) == 0
    assert store_scores(store, stale) == 0
    pd.testing.assert_frame_equal(store.query(sql), first)  # scored_at included
    assert store.query("SELECT count(*) FROM mention_facts").iloc[0, 0] == facts


@pytest.mark.slow
def test_cli_workers_option_crawls_and_scores_to_the_single_process_tables(
    single, ingested, demo_ro, sources_file, tmp_path
):
    """`brandmon run --no-prefect --workers 2` (both sources at once, each on a worker) and
    `brandmon score --workers 2`, each starting its own two-process cluster."""
    import json

    from .pipeline_run import cli_env, run_cli

    data = tmp_path / "data"
    env = cli_env(demo_ro.url, sources_file, BRANDMON_WORKERS__BATCH_MENTIONS="8")
    args = ["run", "--no-prefect", "--workers", "2", "--stages", "crawl", "--sources", ",".join(ingested["sources"])]
    done = run_cli(data, [*args, "--format", "json"], env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert {r["status"] for r in json.loads(done.stdout)["sources"].values()} == {"ok"}
    s = _settings(data, demo_ro.url, sources_file)
    _run(s, ["ingest"])
    done = run_cli(data, ["score", "--workers", "2"], env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    counts = json.loads(done.stdout)
    assert counts["workers"] == "local:2" and counts["scored"] == single["counts"]["score"]["scored"]
    _run(s, ["escalate"])
    diffs = diff_dumps(single["dump"], dump_tables(s.db_path))
    assert diffs == [], "\n".join(diffs)


def test_the_same_pending_mentions_make_the_same_batches_in_any_row_order():
    """Which texts share an inference call moves int8 probabilities in the third decimal: a store whose query
    returns the pending rows in another order (another ingest, another worker run) must score the same batches."""
    import pandas as pd

    from models.score_batches import cut_batches

    n = 60
    pending = pd.DataFrame(
        {
            "mention_id": [f"m{i:02d}" for i in range(n)],
            "context": ["слово " * (i % 4) for i in range(n)],  # many equal lengths
            "context_hash": [f"h{i}" for i in range(n)],
            "matched": ["Посылкин"] * n,
        }
    )
    first = cut_batches(pending, "m", "v1", 8)
    assert [len(b) for b in first] == [8] * 7 + [4]
    for seed in (1, 2, 3):
        assert cut_batches(pending.sample(frac=1, random_state=seed), "m", "v1", 8) == first


def test_a_worker_finds_the_batch_model_by_name_and_refuses_another_version(settings, tmp_path):
    """The writer's model folder may not exist on a worker's machine: the worker looks the model up by name under
    its own model folders, and refuses a batch of a version it does not have, with a message that says so."""
    from models import registry
    from models.score_batches import locate_model

    here = registry.resolve_model_dir(settings, None)
    name, version = registry.read_spec(here).name, registry.model_version(here)
    elsewhere = str(tmp_path / "writer-host" / name)  # no such folder on this machine
    assert locate_model(settings, elsewhere, name, version) == here
    with pytest.raises(registry.ModelError, match=r"version 0000deadbeef: not at .* \(copy the scorer folder there\)"):
        locate_model(settings, elsewhere, name, "0000deadbeef")


@pytest.mark.slow
def test_workers_started_with_the_dask_command_score_like_this_process(
    single, ingested, demo_ro, sources_file, tmp_path
):
    """The documented setup for other machines: `dask scheduler` and two `dask worker` processes started on their
    own, `workers.address` pointing at the scheduler."""
    import json
    import subprocess

    from flows.workers import close_clients

    dask = Path(sys.executable).with_name("dask")
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                str(dask),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                ":0",
                "--scheduler-file",
                str(info),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    try:
        deadline = time.monotonic() + 120
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [str(dask), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        data = _copy(ingested["data"], tmp_path / "data")
        s = _settings(data, demo_ro.url, sources_file)
        s.workers.address = address
        s.models.threads = 1  # two workers on this machine's two cores
        from flows.workers import client_for

        client_for(s).wait_for_workers(2, timeout=120)
        counts = _run(s, ["score", "escalate"])
        assert counts["score"]["workers"] == address
        assert counts["score"]["scored"] == single["counts"]["score"]["scored"]
        diffs = diff_dumps(single["dump"], dump_tables(s.db_path))
        assert diffs == [], "\n".join(diffs)
    finally:
        close_clients()
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(30)
