"""`brandmon demo`: the command `make demo` runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from brandmon.cli import app
from flows.demo import port_in_use

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_refuses_a_port_taken_by_another_program(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {"BRANDMON_DEMO_WEB_URL": f"http://127.0.0.1:{port}"}
        r = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), "demo", "--no-dashboard"], env=env)
    assert r.exit_code == 1
    assert f"port {port} on 127.0.0.1 is taken by another program" in " ".join(r.output.split())
    assert (tmp_path / "data" / "brandmon.duckdb").exists()  # db upgrade ran first


def test_demo_in_another_data_dir_gets_the_bundled_sources_and_brands_and_keeps_the_users_own(tmp_path):
    # sources.yaml and brands.yaml default to files inside the data dir; a fresh one has neither
    data = tmp_path / "elsewhere"
    mine = tmp_path / "mine.yaml"
    mine.write_text((ROOT / "data" / "brands.yaml").read_text(encoding="utf-8") + "\n# mine\n", encoding="utf-8")
    with socket.socket() as squatter:  # stops the command right after the seeding, before any crawl
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        env = {
            "BRANDMON_DEMO_WEB_URL": f"http://127.0.0.1:{squatter.getsockname()[1]}",
            "BRANDMON_BRANDS_FILE": str(mine),
            "BRANDMON_SOURCES_FILE": None,
        }
        r = CliRunner().invoke(app, ["--data-dir", str(data), "demo", "--no-dashboard"], env=env)
    assert r.exit_code == 1 and "is taken by another program" in " ".join(r.output.split())
    assert (data / "sources.yaml").read_bytes() == (ROOT / "data" / "sources.yaml").read_bytes()
    assert "bundled demo's sources.yaml" in " ".join(r.output.split())
    assert not (data / "brands.yaml").exists() and mine.read_text(encoding="utf-8").endswith("# mine\n")


@pytest.mark.slow
def test_demo_runs_the_pipeline_over_the_demo_web_and_stops_it(tmp_path):
    pytest.importorskip("models.scoring")
    # one demo site keeps model inference short; the command is the same
    all_sources = yaml.safe_load((ROOT / "data" / "sources.yaml").read_text(encoding="utf-8"))["sources"]
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump({"sources": [s for s in all_sources if s["name"] == "demo-xf"]}), encoding="utf-8"
    )
    port = _free_port()
    env = dict(
        os.environ,
        BRANDMON_DEMO_WEB_URL=f"http://127.0.0.1:{port}",
        BRANDMON_SOURCES_FILE=str(sources),
        BRANDMON_BRANDS_FILE=str(ROOT / "data" / "brands.yaml"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    r = subprocess.run(
        [sys.executable, "-m", "brandmon.cli", "--data-dir", str(tmp_path / "data"), "demo", "--no-dashboard"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = " ".join(r.stdout.split())
    assert f"demo web: http://127.0.0.1:{port}" in out
    assert "monitor ok" in out
    for table in ("documents", "mentions", "scores", "escalations", "authors"):
        assert f"│ {table} " in r.stdout
    assert not port_in_use("127.0.0.1", port)  # the demo web stopped with the command
