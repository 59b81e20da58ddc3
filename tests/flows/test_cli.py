"""`brandmon run` from the command line (in-process via typer's runner; the real stages on an empty database)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from brandmon.cli import app

ROOT = Path(__file__).resolve().parents[2]

runner = CliRunner()


def test_run_without_prefect_prints_a_json_summary_and_records_the_run(tmp_path):
    data = tmp_path / "data"
    r = runner.invoke(app, ["--data-dir", str(data), "run", "--stages", "advocates,alerts", "--no-prefect", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout[r.stdout.index("{") :])
    assert summary["status"] == "ok"
    assert list(summary["stages"]) == ["advocates", "alerts"]
    assert summary["stages"]["alerts"]["counts"]["alerts"] == 0
    r = runner.invoke(app, ["--data-dir", str(data), "sql", "SELECT flow, status FROM flow_runs", "--format", "csv"])
    assert r.stdout.strip().splitlines() == ["flow,status", "monitor,ok"]


def test_run_rejects_unknown_stage_and_source_names(tmp_path):
    data = tmp_path / "data"
    r = runner.invoke(app, ["--data-dir", str(data), "run", "--stages", "ingest,bogus", "--no-prefect"])
    assert r.exit_code == 2 and "unknown stage(s) bogus" in r.output
    # a stage of its own flow (the digest) is refused by name, not silently left out of the chain
    r = runner.invoke(app, ["--data-dir", str(data), "run", "--stages", "ingest,digest", "--no-prefect"])
    assert r.exit_code == 2 and "digest do not run in the monitor flow" in r.output.replace("\n", "")
    env = {"BRANDMON_SOURCES_FILE": str(ROOT / "data" / "sources.yaml")}
    r = runner.invoke(app, ["--data-dir", str(data), "run", "--sources", "no-such-forum", "--no-prefect"], env=env)
    assert r.exit_code == 2 and "unknown source(s) no-such-forum" in r.output.replace("\n", "")
    assert "demo-xf" in r.output  # the known names are listed
