"""`brandmon sources probe URL` and `brandmon sources add URL` through the real CLI, against a real HTTP server on
127.0.0.1 serving saved pages (a real phpBB 3.3 thread, a page of no known engine) and a robots.txt."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from brandmon.cli import app
from crawlers.probe import entry_yaml, name_from_host, robots_allow

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "tests" / "crawlers" / "pages"
runner = CliRunner()

USER_FILE = """\
# Our sources. Comments and layout must survive `brandmon sources add`.
sources:
  # the team's own forum
  - name: our-forum
    kind: forum
    engine: phpbb   # checked by hand
    start_urls: ["https://forum.example.org/"]
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A real HTTP server: /board/viewtopic.php (phpBB), /comments/item.html (no engine), /private/… (robots)."""
    root = tmp_path_factory.mktemp("site")
    (root / "board").mkdir()
    shutil.copy(PAGES / "phpbb33_prosilver_viewtopic.html", root / "board" / "viewtopic.php")
    (root / "comments").mkdir()
    shutil.copy(PAGES / "microdata_forum_ru.html", root / "comments" / "item.html")
    (root / "private").mkdir()
    shutil.copy(PAGES / "phpbb33_prosilver_viewtopic.html", root / "private" / "viewtopic.php")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(USER_FILE, encoding="utf-8")
    return {
        "BRANDMON_SOURCES_FILE": str(sources),
        "BRANDMON_BRANDS_FILE": str(ROOT / "data" / "brands.yaml"),
        "BRANDMON_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
    }


def _probe(env, *args):
    return runner.invoke(app, ["sources", "probe", *args], env=env)


def test_probe_a_phpbb_thread(site, env):
    url = site + "/board/viewtopic.php?t=25574"
    r = _probe(env, url, "--local", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["engine"] == "phpbb" and got["method"] == "engine markup" and got["confidence"] == 1.0
    assert got["detector_scores"]["phpbb"] == 10 and got["posts"] == 3
    assert got["preview"][0]["author"] == "EvtimDjerekarov" and got["preview"][0]["posted_at"].startswith("20")
    assert got["entry"] == {
        "name": "127-0-0-1",
        "kind": "forum",
        "engine": "phpbb",
        "start_urls": [url],
        "local": True,
        "language": "en",
    }
    # the table view: engine, confidence, the preview and the entry as text
    r = _probe(env, url, "--local", "--name", "nesdev")
    assert r.exit_code == 0, r.output
    assert "phpbb (engine markup), confidence 1.00" in r.stdout and "EvtimDjerekarov" in r.stdout
    assert '- name: "nesdev"' in r.stdout and "next page: —" in r.stdout


def test_probe_a_page_of_no_known_engine(site, env):
    r = _probe(env, site + "/comments/item.html", "--local", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["engine"] == "generic" and got["method"] == "microdata" and got["confidence"] == 0.9
    assert got["posts"] == 3 and got["detector_scores"] == {}
    assert got["entry"]["kind"] == "forum" and got["entry"]["engine"] == "auto" and got["entry"]["language"] == "ru"


def test_probe_respects_robots_txt_and_local(site, env):
    r = _probe(env, site + "/private/viewtopic.php?t=1", "--local")
    assert r.exit_code == 2 and "robots.txt disallows it" in r.output
    r = _probe(env, site + "/board/viewtopic.php?t=25574")
    assert r.exit_code == 2 and "--local" in r.output


def test_add_appends_the_entry_keeping_comments_and_refuses_duplicates(site, env):
    path = Path(env["BRANDMON_SOURCES_FILE"])
    url = site + "/board/viewtopic.php?t=25574"
    r = runner.invoke(app, ["sources", "add", url, "--local", "--name", "nesdev"], env=env)
    assert r.exit_code == 0, r.output
    text = path.read_text(encoding="utf-8")
    assert text.startswith(USER_FILE)  # the user's file, comments and all, untouched
    loaded = yaml.safe_load(text)["sources"]
    assert [s["name"] for s in loaded] == ["our-forum", "nesdev"]
    assert loaded[1] == {
        "name": "nesdev",
        "kind": "forum",
        "engine": "phpbb",
        "start_urls": [url],
        "local": True,
        "language": "en",
    }
    check = runner.invoke(app, ["config", "check"], env=env)
    assert check.exit_code == 0, check.output
    # the same name, or the same start URL under another name: refused, the file as it was
    for args in (["--name", "nesdev"], ["--name", "other"]):
        again = runner.invoke(app, ["sources", "add", url, "--local", *args], env=env)
        assert again.exit_code == 1 and "already" in again.output
        assert path.read_text(encoding="utf-8") == text
    # `brandmon sources` with no subcommand is still the health table, now listing the new source
    health = runner.invoke(app, ["sources", "--json"], env=env)
    assert health.exit_code == 0, health.output
    assert [json.loads(x)["name"] for x in health.stdout.splitlines()] == ["our-forum", "nesdev"]


def test_add_refuses_a_result_config_check_rejects(site, env):
    path = Path(env["BRANDMON_SOURCES_FILE"])
    broken = USER_FILE + "  - name: bad\n    kind: forum\n    engine: auto\n    start_urls: []\n"
    path.write_text(broken, encoding="utf-8")
    r = runner.invoke(app, ["sources", "add", site + "/comments/item.html", "--local"], env=env)
    assert r.exit_code != 0 and "start URL" in r.output
    assert path.read_text(encoding="utf-8") == broken
    # a file whose non-empty list is written flow-style cannot take an appended item: config check refuses it
    flow = 'sources: [{name: a, kind: forum, engine: auto, start_urls: ["https://a.example/"]}]\n'
    path.write_text(flow, encoding="utf-8")
    r = runner.invoke(app, ["sources", "add", site + "/comments/item.html", "--local"], env=env)
    assert r.exit_code == 2 and "config check failed" in r.output and path.read_text(encoding="utf-8") == flow
    assert not list(path.parent.glob(".sources.yaml.*"))  # no temporary file left behind


@pytest.mark.parametrize(
    "start",
    ["", "sources: []\n", "# ours\nsources: [ ]  # none yet\n", "sources:\n", "# only a comment\n", "sources: []"],
)
def test_add_to_a_file_without_sources_yet(site, env, start):
    path = Path(env["BRANDMON_SOURCES_FILE"])
    path.write_text(start, encoding="utf-8")
    url = site + "/comments/item.html"
    r = runner.invoke(app, ["sources", "add", url, "--local", "--name", "first"], env=env)
    assert r.exit_code == 0, r.output
    text = path.read_text(encoding="utf-8")
    assert [s["name"] for s in yaml.safe_load(text)["sources"]] == ["first"]
    for comment in ("# ours", "# none yet", "# only a comment"):
        assert (comment in text) == (comment in start)
    r = runner.invoke(
        app, ["sources", "add", site + "/board/viewtopic.php?t=1", "--local", "--name", "second"], env=env
    )
    assert r.exit_code == 0, r.output
    assert [s["name"] for s in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]] == ["first", "second"]


def test_entry_text_is_yaml_whatever_it_holds():
    entry = {"name": "x", "kind": "forum", "engine": "auto", "start_urls": ['https://e.org/a?b=1&c="d"#: x']}
    assert yaml.safe_load("sources:\n" + entry_yaml(entry, 2, "a comment: with # signs"))["sources"] == [entry]
    assert name_from_host("https://www.Forum.Example.co.uk/t/1") == "forum-example-co-uk"
    assert robots_allow(None, "https://e.org/x") and not robots_allow("User-agent: *\nDisallow: /", "https://e.org/x")
