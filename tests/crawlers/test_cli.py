"""`brandmon parse`, `brandmon crawl`, `brandmon sources` through the real CLI app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from brandmon.cli import app

from .conftest import ROOT, site_posts

runner = CliRunner()


def _lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def test_parse_every_saved_real_page(shared_data):
    index = json.loads((shared_data / "forum_pages" / "index.json").read_text())
    for e in index:
        r = runner.invoke(app, ["parse", str(shared_data / "forum_pages" / e["file"])])
        assert r.exit_code == 0, r.output
        posts = _lines(r.stdout)
        assert len(posts) == e["posts_on_page"], e["file"]
        assert posts[0]["author"] == e["first_post_author"]


def test_parse_with_engine_and_encoding_options(tmp_path):
    page = tmp_path / "page.html"
    html = (ROOT / "tests/crawlers/pages/xf2_thread.html").read_text(encoding="utf-8")
    page.write_bytes(html.replace('<meta charset="utf-8" />', "").encode("cp1251", errors="xmlcharrefreplace"))
    r = runner.invoke(app, ["parse", str(page), "--engine", "xenforo", "--encoding", "cp1251"])
    assert r.exit_code == 0, r.output
    posts = _lines(r.stdout)
    assert [p["author"] for p in posts] == ["Дмитрий_К", "ShopOk_Support"]
    bad = runner.invoke(app, ["parse", str(page), "--engine", "nosuch"])
    assert bad.exit_code == 2 and "unknown engine" in bad.output
    missing = runner.invoke(app, ["parse", str(tmp_path / "none.html")])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_parse_url_of_the_demo(demo_ro):
    url = demo_ro.url + "/xf/threads/kakoy-operator-vybrat-dlya-dachi-pod-tveryu.103/"
    refused = runner.invoke(app, ["parse", url])
    assert refused.exit_code == 2 and "private" in refused.output
    r = runner.invoke(app, ["parse", url, "--local"])
    assert r.exit_code == 0, r.output
    posts = _lines(r.stdout)
    assert len(posts) == 4 and posts[0]["author"] == "Ольга Петровна"


def test_crawl_then_sources_health(tmp_path, demo_ro):
    env = {
        "BRANDMON_DEMO_WEB_URL": demo_ro.url,
        "BRANDMON_SOURCES_FILE": str(ROOT / "data" / "sources.yaml"),
        "BRANDMON_BRANDS_FILE": str(ROOT / "data" / "brands.yaml"),
    }
    data = ["--data-dir", str(tmp_path / "data")]
    r = runner.invoke(app, data + ["crawl", "--source", "demo-xf", "--json"], env=env)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    expected = site_posts(demo_ro.content_dir, "xf")
    assert res["items"] == expected and res["sources"]["demo-xf"]["status"] == "ok"
    r = runner.invoke(app, data + ["sources", "--json"], env=env)
    assert r.exit_code == 0, r.output
    rows = {x["name"]: x for x in _lines(r.stdout)}
    assert rows["demo-xf"]["last_status"] == "ok" and rows["demo-xf"]["last_items"] == expected
    assert rows["demo-xf"]["error_rate"] == 0.0 and rows["demo-vb"]["runs"] == 0
    r = runner.invoke(app, data + ["crawl", "--source", "no-such-source"], env=env)
    assert r.exit_code == 2 and "unknown source" in r.output
    r = runner.invoke(app, data + ["crawl"], env=env)
    assert r.exit_code == 2 and "--all" in r.output
