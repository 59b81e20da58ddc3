"""Paths of a crawl run: a source's name never takes a removal outside data/jobs/, and a relative data dir given on
the command line works from any folder (the crawler process runs in another one)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from brandmon.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BRANDS = str(ROOT / "data" / "brands.yaml")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from demo.web.server import DemoWebServer

    snap = tmp_path_factory.mktemp("demo") / "demo_web"
    shutil.copytree(ROOT / "data" / "demo_web", snap)
    with DemoWebServer(snap, now=DEMO_NOW) as srv:
        yield srv


@pytest.mark.parametrize("name", ["..", "."])
def test_a_source_name_never_removes_anything_outside_its_job_folder(tmp_path, demo, name):
    """`..` made the job folder data/jobs/.. (the data dir itself), removed after the crawl with everything in it;
    `.` made it data/jobs, removing the resume state of every other source."""
    data = tmp_path / "data"
    other = data / "jobs" / "other-source"
    other.mkdir(parents=True)
    (other / "run.json").write_text('{"run_id": "20261125T000000Z-other-source-abcd"}')
    (data / "keep.txt").write_text("analyst notes\n")
    (data / "sources.yaml").write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {"name": name, "kind": "generic", "local": True, "start_urls": [demo.url + "/xf/"], "max_pages": 2}
                ]
            }
        )
    )
    r = CliRunner().invoke(
        app, ["--data-dir", str(data), "crawl", "--source", name, "--json"], env={"BRANDMON_BRANDS_FILE": BRANDS}
    )
    assert (data / "keep.txt").read_text() == "analyst notes\n"
    assert (other / "run.json").exists() and (data / "sources.yaml").exists()
    assert not (data / "run.json").exists() and not (data / "jobs" / "run.json").exists()  # nothing written there
    assert r.exit_code == 2 and name in r.output, r.output  # a one-line refusal naming the source


@pytest.mark.parametrize("kind", ["..", "../../outside", "absolute"])
def test_the_crawl_refuses_a_name_that_got_past_the_config_check(tmp_path, demo, monkeypatch, kind):
    """The crawl's own guard, behind the config check: a source name reaching it as if that check had let it
    through is refused before anything is written, and nothing outside data/jobs/ is touched."""
    import crawlers.run as run
    from pipeline.config import SourceConfig, load_settings
    from pipeline.store import Store

    data, outside = tmp_path / "data", tmp_path / "outside"
    outside.mkdir()
    data.mkdir()
    (outside / "keep.txt").write_text("outside")
    (data / "keep.txt").write_text("data")
    name = str(outside) if kind == "absolute" else kind
    src = SourceConfig.model_construct(
        name=name, kind="generic", local=True, start_urls=[demo.url + "/xf/"], max_pages=2
    )
    monkeypatch.setattr(run, "select_sources", lambda settings, names: [src])
    settings = load_settings(data_dir=data, brands_file=BRANDS, demo_web_url=demo.url)
    store = Store.from_settings(settings)
    store.upgrade()
    try:
        run.crawl_sources(settings, store, [name], now=DEMO_NOW)
        refusal = None
    except run.CrawlError as e:
        refusal = str(e)
    assert (outside / "keep.txt").read_text() == "outside" and (data / "keep.txt").read_text() == "data"
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"] and not (data / "jobs").exists()
    assert refusal is not None and "not usable as a folder name" in refusal and repr(name) in refusal
    assert store.query("SELECT count(*) AS n FROM crawl_runs").n[0] == 0


@pytest.mark.parametrize("name", ["..", ".", "../x", "/abs", "a/../..", "x/..", ""])
def test_job_folders_of_names_outside_jobs_are_refused(tmp_path, name):
    """Names the config check should never let through, handed to the crawl as if it had."""
    from crawlers.run import CrawlError, job_dirs
    from pipeline.config import SourceConfig, load_settings

    settings = load_settings(data_dir=tmp_path / "data")
    src = SourceConfig.model_construct(name=name, kind="generic", start_urls=["http://example.org/"])
    with pytest.raises(CrawlError, match="not usable as a folder name"):
        job_dirs(settings, [src])
    ok = SourceConfig.model_construct(name="forum.example-1", kind="generic", start_urls=["http://example.org/"])
    root, dirs = job_dirs(settings, [ok])
    assert dirs == {"forum.example-1": (tmp_path / "data" / "jobs" / "forum.example-1")} and root.is_absolute()


def test_remove_tree_refuses_everything_but_a_folder_strictly_inside_its_owner(tmp_path):
    from pipeline.paths import UnsafePathError, remove_tree

    owner = tmp_path / "jobs"
    owner.mkdir()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "brandmon.duckdb").write_text("db")
    (owner / "escape").symlink_to(precious)  # a link inside that points outside
    for target in (owner / "..", owner, owner / ".", owner / "escape", owner / "a" / ".." / "..", precious, Path("/")):
        with pytest.raises(UnsafePathError):
            remove_tree(target, owner, ignore_errors=True)
    assert (precious / "brandmon.duckdb").read_text() == "db"
    (owner / "src" / "scrapy").mkdir(parents=True)
    remove_tree(owner / "src", owner)
    assert not (owner / "src").exists() and (owner / "escape").is_symlink()


# a crawl per way of naming the folder: the option stays in the fast tier, the variable runs with the slow tier
@pytest.mark.parametrize("how", ["--data-dir", pytest.param("BRANDMON_DATA_DIR", marks=pytest.mark.slow)])
def test_a_relative_data_dir_works_from_another_folder(tmp_path, demo, how):
    """Through the installed CLI in a folder of its own: the crawler process starts in the project folder, where
    the relative path named nothing (every source failed with FileNotFoundError job-000.json)."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANDMON_")}
    env.update(
        BRANDMON_DEMO_WEB_URL=demo.url,
        BRANDMON_SOURCES_FILE=str(ROOT / "data" / "sources.yaml"),
        BRANDMON_BRANDS_FILE=BRANDS,
        BRANDMON_MODELS__CACHE_DIR=os.environ.get(
            "BRANDMON_MODELS__CACHE_DIR", str(ROOT / "data" / "cache" / "models")
        ),
    )
    args = [sys.executable, "-m", "brandmon.cli"]
    if how == "--data-dir":
        args += ["--data-dir", "rel/data"]
    else:
        env["BRANDMON_DATA_DIR"] = "rel/data"
    r = subprocess.run(
        [*args, "crawl", "--source", "demo-tg", "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])["sources"]["demo-tg"]
    assert res["status"] == "ok" and res["errors"] == 0 and res["items"] > 0, res
    raw = work / "rel" / "data" / "raw" / res["run_id"]
    assert Path(res["raw_path"]) == raw and list(raw.glob("items-*.jsonl.gz"))
    assert (work / "rel" / "data" / "brandmon.duckdb").exists() and not (ROOT / "rel").exists()
