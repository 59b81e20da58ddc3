"""`brandmon ingest` and `brandmon match` through the real typer app."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from typer.testing import CliRunner

from brandmon.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_ingest_command_prints_summary(settings, store, make_post, make_run):
    make_run(
        settings,
        "r1",
        [
            make_post(1, "Посылкин потерял посылку"),
            make_post(2, "ШопОк вернул деньги"),
            make_post(3, "Посылкин потерял посылку"),
        ],
        extra_lines=["{oops\n"],
    )
    base = ["--data-dir", str(settings.data_dir), "--log-level", "WARNING"]
    env = {"BRANDMON_BRANDS_FILE": str(ROOT / "data" / "brands.yaml")}
    res = runner.invoke(app, base + ["ingest", "--run", "r1"], env=env)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "documents new" in out and "mentions per brand" in out
    assert "posylkin" in out and "shopok" in out and "1 bad line(s)" in out
    n = store.query("SELECT count(*) AS n FROM mentions")["n"][0]
    assert n == 3
    # nothing pending in crawl_runs: a clear message, exit 0
    res = runner.invoke(app, base + ["ingest"], env=env)
    assert res.exit_code == 0 and "nothing to ingest" in res.output
    res = runner.invoke(app, base + ["ingest", "--run", "nope"], env=env)
    assert res.exit_code == 2 and "does not exist" in " ".join(res.output.split())
    res = runner.invoke(app, base + ["ingest", "--run", "r1", "--all"], env=env)
    assert res.exit_code == 2


def test_ingest_command_takes_turns_with_a_flow_holding_the_write_lock(settings, store, make_post, make_run):
    from flows.locking import write_lock

    make_run(settings, "r1", [make_post(1, "Посылкин потерял посылку"), make_post(2, "ШопОк вернул деньги")])
    base = ["--data-dir", str(settings.data_dir), "--log-level", "WARNING"]
    env = {
        "BRANDMON_BRANDS_FILE": str(ROOT / "data" / "brands.yaml"),
        "BRANDMON_SCHEDULE__WRITE_LOCK_TIMEOUT_SECONDS": "0.5",
    }
    with write_lock(settings.data_dir):  # a flow's stage is writing, the whole time
        res = runner.invoke(app, base + ["ingest", "--run", "r1"], env=env)
    out = " ".join(res.output.split())
    assert res.exit_code == 1, res.output
    assert "waiting for the write lock" in out and "try again later" in out
    assert store.query("SELECT count(*) AS n FROM mentions")["n"][0] == 0  # gave up before writing anything

    # the stage lets go after a second: the command waits for it, then ingests
    held, let_go = threading.Event(), []

    def stage() -> None:
        with write_lock(settings.data_dir):
            held.set()
            time.sleep(1.0)
            let_go.append(time.monotonic())

    t = threading.Thread(target=stage)
    t.start()
    held.wait(10)
    env["BRANDMON_SCHEDULE__WRITE_LOCK_TIMEOUT_SECONDS"] = "30"
    res = runner.invoke(app, base + ["ingest", "--run", "r1"], env=env)
    finished = time.monotonic()
    t.join()
    assert res.exit_code == 0, res.output
    assert "waiting for the write lock" in res.output
    assert let_go and finished > let_go[0]
    assert store.query("SELECT count(*) AS n FROM mentions")["n"][0] == 2


def test_match_command(tmp_path):
    env = {"BRANDMON_BRANDS_FILE": str(ROOT / "data" / "brands.yaml")}
    res = runner.invoke(
        app,
        [
            "--data-dir",
            str(tmp_path),
            "--log-level",
            "WARNING",
            "match",
            "Андрей Посылкин пишет, что Посылкина опять ругают",
        ],
        env=env,
    )
    assert res.exit_code == 0, res.output
    assert "posylkin" in res.output and "27-36" in res.output
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "match", "Над рекой летала ласточка"], env=env)
    assert res.exit_code == 1 and "no brand mentioned" in res.output
