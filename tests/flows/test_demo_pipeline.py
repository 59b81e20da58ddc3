"""End to end over the demo web on 127.0.0.1: the real crawler, ingest, models, themes, escalation, alerts.

One demo site (XenForo) keeps model inference small. The uninterrupted reference run goes through the Prefect
monitor flow; the crash runs are `brandmon run` processes SIGKILLed at planted points (flows/faults.py) and re-run.
Those runs score with the real model and take minutes; with the crawl + ingest run (no model) killed inside an
ingest batch and re-run, the whole file is in the slow tier.
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("crawlers.run", reason="crawler stage (crawlers.run) not installed")
pytest.importorskip("models.scoring", reason="scoring stage (models.scoring) not installed")

from pipeline.store import Store  # noqa: E402

from .pipeline_run import (  # noqa: E402
    ROOT,
    answers,
    cli_env,
    demo_settings,
    diff_dumps,
    dump_tables,
    run_cli,
    run_until_paused_then_kill,
    source_for,
)

SITE, PREFIX = "xf", "/xf/"


@pytest.fixture(scope="module")
def sources_file(tmp_path_factory):
    """One copy of sources.yaml for a reference and its crash runs (the sources table stores its config)."""
    path = tmp_path_factory.mktemp("config") / "sources.yaml"
    shutil.copy(ROOT / "data" / "sources.yaml", path)
    return path


@pytest.fixture(scope="module")
def ingest_reference(demo_ro, sources_file, tmp_path_factory):
    """An uninterrupted `brandmon run --stages crawl,ingest` of the site: crawled, ingested, matched, no model."""
    data = tmp_path_factory.mktemp("ingest-reference") / "data"
    src = source_for(demo_settings(data, demo_ro.url, sources_file), PREFIX)
    args = ["run", "--sources", src, "--stages", "crawl,ingest", "--no-prefect"]
    done = run_cli(data, args, cli_env(demo_ro.url, sources_file))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"args": args, "dump": dump_tables(data / "brandmon.duckdb")}


# a crawl plus two `brandmon run` processes, one killed; the kill points are tested fast in
# tests/foundation/test_store.py and tests/notify/test_delivery.py, the stages in tests/flows/test_stages.py
@pytest.mark.slow
def test_run_killed_inside_an_ingest_batch_reruns_to_the_uninterrupted_tables(
    ingest_reference, demo_ro, sources_file, tmp_path
):
    ref = ingest_reference["dump"]
    assert len(ref["documents"]) == answers(SITE)["post_id"].nunique() and len(ref["mentions"]) > 0
    data, marker = tmp_path / "data", tmp_path / "paused.txt"
    pause = "ingest:3:before"  # inside ingest's first batch transaction
    env = cli_env(demo_ro.url, sources_file, BRANDMON_FLOW_PAUSE=pause, BRANDMON_FLOW_PAUSE_MARKER=str(marker))
    assert run_until_paused_then_kill(data, ingest_reference["args"], env, marker).startswith(pause)
    assert Store(data / "brandmon.duckdb").query("SELECT count(*) FROM documents").iloc[0, 0] == 0  # rolled back
    done = run_cli(data, ingest_reference["args"], cli_env(demo_ro.url, sources_file))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert diff_dumps(ref, dump_tables(data / "brandmon.duckdb")) == []


@pytest.fixture(scope="module")
def reference(prefect_harness, demo_ro, sources_file, tmp_path_factory):
    from flows.monitor import monitor_flow

    s = demo_settings(tmp_path_factory.mktemp("reference") / "data", demo_ro.url, sources_file)
    src = source_for(s, PREFIX)
    params = s.model_dump(mode="json")
    first = monitor_flow(settings=params, sources=[src])
    dump = dump_tables(s.db_path)
    second = monitor_flow(settings=params, sources=[src])
    return {
        "settings": s,
        "source": src,
        "first": first,
        "second": second,
        "dump": dump,
        "dump2": dump_tables(s.db_path),
    }


def _count(settings, sql: str) -> int:
    return int(Store.from_settings(settings).query(sql).iloc[0, 0])


@pytest.mark.slow
def test_monitor_flow_over_the_demo_web_fills_every_table(reference):
    s, first = reference["settings"], reference["first"]
    assert first["status"] == "ok", first["errors"]
    assert all(r["status"] == "ok" for r in first["stages"].values()), first["stages"]
    truth = answers(SITE)
    assert _count(s, "SELECT count(*) FROM documents") == truth["post_id"].nunique()
    # brands named in the post's own text (answers.csv `mention` = 'text'; 'thread' rows name it only in the
    # thread title, which brand matching does not see); the matcher may miss or add a few
    named = truth[(truth["brand_id"] != "") & (truth["mention"] == "text")]
    got = _count(s, "SELECT count(*) FROM mentions WHERE via IS NULL")
    assert abs(got - len(named)) <= max(2, round(0.05 * len(named))), (got, len(named))
    # replies that inherit their thread's brand ('thread' rows): most are labelled, most labelled ones found
    inherited = {
        (str(p), b)
        for p, b in Store.from_settings(s)
        .query("SELECT d.post_id, m.brand_id FROM mentions m JOIN documents d USING (doc_id) WHERE m.via IS NOT NULL")
        .values
    }
    labelled = {(str(p), b) for p, b in truth.loc[truth["brand_id"] != "", ["post_id", "brand_id"]].values}
    thread_rows = {(str(p), b) for p, b in truth.loc[truth["mention"] == "thread", ["post_id", "brand_id"]].values}
    assert inherited and len(inherited & labelled) >= 0.6 * len(inherited), (len(inherited & labelled), len(inherited))
    assert len(inherited & thread_rows) >= 0.6 * len(thread_rows), (len(inherited & thread_rows), len(thread_rows))
    per_brand = dict(
        Store.from_settings(s).query("SELECT brand_id, count(*) FROM mentions WHERE via IS NULL GROUP BY 1").values
    )
    for brand, n in named["brand_id"].value_counts().items():
        assert abs(per_brand.get(brand, 0) - n) <= max(1, round(0.1 * n)), (brand, per_brand.get(brand), n)
    # every mention of a non-duplicate document has exactly one score from the active model
    assert _count(
        s, """SELECT count(*) FROM mentions m JOIN documents d USING (doc_id) WHERE d.dup_of IS NULL"""
    ) == _count(s, "SELECT count(*) FROM current_scores WHERE sentiment IS NOT NULL AND NOT corrected")
    assert _count(s, "SELECT count(*) FROM authors") == _count(s, "SELECT count(DISTINCT author) FROM documents")
    assert _count(s, "SELECT count(*) FROM crawl_runs WHERE status = 'ok' AND ingested_at IS NOT NULL") >= 1
    # every must-escalate post that names its brand is in the queue
    must = named[named["must_escalate"] == "1"]
    queued = Store.from_settings(s).query(
        "SELECT regexp_extract(d.url, 'post-(\\d+)', 1) AS post_id, e.brand_id FROM escalations e "
        "JOIN mentions m USING (mention_id) JOIN documents d USING (doc_id)"
    )
    assert len(must) >= 1
    assert set(zip(must["post_id"], must["brand_id"])) <= set(zip(queued["post_id"], queued["brand_id"]))
    assert len(queued) < len(named)  # a queue, not every mention
    # complaint themes among the negative mentions, and their alerts
    assert _count(s, "SELECT count(*) FROM themes WHERE size > 0") >= 1
    assert _count(s, "SELECT count(DISTINCT theme_id) FROM theme_members") == _count(
        s, "SELECT count(*) FROM themes WHERE size > 0"
    )
    assert _count(s, "SELECT count(*) FROM alerts WHERE kind IN ('new_theme', 'growing_theme')") >= 1
    assert _count(s, "SELECT count(*) FROM flow_runs WHERE status = 'ok'") == 2


@pytest.mark.slow
def test_second_run_on_unchanged_sources_makes_zero_model_calls(reference):
    second = reference["second"]
    assert second["status"] == "ok", second["errors"]
    score = second["stages"]["score"]["counts"]
    assert score["model_calls"] == 0 and score["scored"] == 0, score
    assert diff_dumps(reference["dump"], reference["dump2"]) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "pause",
    [
        "ingest:3:before",  # inside ingest's first batch transaction
        "ingest:3:after",  # batch committed, run not marked ingested
        "score:1:after",  # model registered + activated, nothing scored
        "score:2:before",  # inside the transaction writing the scores
    ],
)
def test_killed_run_rerun_equals_uninterrupted_run(reference, demo_ro, tmp_path, pause):
    data = tmp_path / "data"
    marker = tmp_path / "paused.txt"
    args = ["run", "--sources", reference["source"], "--no-prefect"]
    sources_file = reference["settings"].sources_file
    env = cli_env(demo_ro.url, sources_file, BRANDMON_FLOW_PAUSE=pause, BRANDMON_FLOW_PAUSE_MARKER=str(marker))
    where = run_until_paused_then_kill(data, args, env, marker)
    assert where.startswith(pause)
    done = run_cli(data, args, cli_env(demo_ro.url, sources_file))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert diff_dumps(reference["dump"], dump_tables(data / "brandmon.duckdb")) == []
