"""Each spider against the demo web on 127.0.0.1 (real Scrapy in a subprocess, real DuckDB)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from crawlers.run import crawl_sources
from demo.web import corpus
from pipeline.store import Store

from ..helpers import NOW, read_items
from .conftest import crawl_settings, site_posts

SPIDER_SOURCES = {  # source name in data/sources.yaml -> demo site key
    "demo-xf": "xf",
    "demo-vb": "vb",
    "demo-phpbb": "phpbb",
    "demo-ipb": "ipb",
    "demo-discourse": "discourse",
    "demo-tg": "tg",
    "demo-news": "news",
}


def _crawl(tmp_path, srv, names, extra=None, **crawl):
    s = crawl_settings(tmp_path, srv.url, extra, **crawl)
    store = Store.from_settings(s)
    store.upgrade()
    res = crawl_sources(s, store, names, now=NOW)
    return s, store, res


def _golden(content_dir, site_key: str):
    """The last post of the first multi-post thread, and when the demo says it was posted."""
    site = corpus.load(content_dir).sites[site_key]
    th = next(t for t in site.threads() if len(t.posts) > 1)
    p = th.posts[-1]
    when = th.times(NOW)[-1]
    return p, when


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, demo_ro):
    """Every demo source crawled once, together (one crawler process), shared by the tests below."""
    tmp = tmp_path_factory.mktemp("crawl_all")
    present = corpus.load(demo_ro.content_dir).sites
    names = [n for n, k in SPIDER_SOURCES.items() if k in present] + ["demo-news-rss"] * ("news" in present)
    s, store, res = _crawl(tmp, demo_ro, names)
    return tmp, store, res


@pytest.mark.parametrize("source", sorted(SPIDER_SOURCES))
def test_spider_yields_every_post_with_golden_fields(crawled, demo_ro, source):
    tmp, store, res = crawled
    key = SPIDER_SOURCES[source]
    expected = site_posts(demo_ro.content_dir, key)
    if expected is None:
        pytest.skip(f"demo site {key!r} has no content yet")
    if key == "news":  # each article is an item too, besides its comments
        expected += len(corpus.load(demo_ro.content_dir).sites[key].threads())
    r = res["sources"][source]
    assert r["status"] == "ok", r
    items = read_items(r["raw_path"])
    assert len(items) == expected == r["items"]
    assert len({i["post_id"] for i in items}) == expected
    post, when = _golden(demo_ro.content_dir, key)
    got = next(i for i in items if i["text"].startswith(post.text.split("\n")[0][:40]))
    assert got["author"] == post.author
    assert datetime.fromisoformat(got["posted_at"]) == when.replace(second=0, microsecond=0)
    assert got["thread_title"] and got["url"].startswith(demo_ro.url)
    row = store.query("SELECT status, pages, items, errors FROM crawl_runs WHERE run_id = ?", [r["run_id"]])
    assert row.iloc[0].to_dict() == {"status": "ok", "pages": r["pages"], "items": expected, "errors": 0}
    meta = json.loads((tmp / "data" / "raw" / r["run_id"] / "meta.json").read_text())
    assert meta["items"] == expected and meta["status"] == "ok"


def test_posts_with_line_breaks_read_back_as_written(crawled, demo_ro):
    """The demo writes a typed line break as `<br />` plus a newline, as forum engines do: one line break, not a
    blank line."""
    tmp, store, res = crawled
    by_id = {i["post_id"]: i["text"] for r in res["sources"].values() for i in read_items(r["raw_path"])}
    multi = []
    for key, site in corpus.load(demo_ro.content_dir).sites.items():
        for t in site.threads():
            for n, p in enumerate(t.posts, 1):
                if "\n" in p.text.strip() and str(t.id * 1000 + n) in by_id:
                    multi.append((key, by_id[str(t.id * 1000 + n)], p.text.strip()))
    assert len(multi) >= 4 and {k for k, _, _ in multi} >= {"xf", "vb", "phpbb"}
    assert [(k, got) for k, got, want in multi if got != want] == []


def test_crawl_reports_cpu_per_source(crawled):
    _, _, res = crawled
    rs = [r for r in res["sources"].values() if r["pages"]]
    # each source carries its share (by pages) of its crawler process's CPU over the crawl, start-up excluded
    assert rs and all(0 < r["cpu_seconds"] < r["seconds"] for r in rs)


def test_xf_quotes_likes_and_signatures(crawled):
    _, _, res = crawled
    items = {i["post_id"]: i for i in read_items(res["sources"]["demo-xf"]["raw_path"])}
    first = items["101001"]
    assert first["author"] == "Лёха_NN" and first["likes"] == 23
    assert first["text"].startswith("Народ, у кого Мобилайн в Заречном?")
    quoting = items["101004"]  # quotes post n=3 of the thread
    assert quoting["quoted"] and quoting["quoted"][0]["author"] == "tolik_mob"
    assert quoting["reply_to"] == "101003"
    assert "Потерпите недельку" not in quoting["text"]
    sig = items["102011"]
    assert sig["signature"] == "Всё было лучше при кнопочных телефонах."
    assert sig["signature"] not in sig["text"]


def test_robots_disallowed_area_gets_zero_requests_and_private_hosts_need_local(tmp_path, demo_ro):
    demo_ro.reset_hits()
    # every demo page links to /private/ in its footer; the calendar page has few other links
    root = {
        "name": "demo-root",
        "kind": "generic",
        "start_urls": ["{demo_web}/calendar/?month=2024-05"],
        "local": True,
        "max_pages": 10,
        "max_depth": 1,
        "options": {"follow_links": True},
    }
    notlocal = {"name": "notlocal", "kind": "generic", "start_urls": ["{demo_web}/xf/"], "local": False}
    _, _, res = _crawl(tmp_path, demo_ro, ["demo-root", "notlocal"], [root, notlocal])
    r = res["sources"]["demo-root"]
    assert r["robots_forbidden"] >= 1  # links to /private/ were there and refused
    assert sum(n for p, n in demo_ro.hits.items() if p.startswith("/private/")) == 0
    assert demo_ro.hits["/robots.txt"] >= 1
    # a source not marked local may not touch 127.0.0.1: refused before any request, recorded
    n = res["sources"]["notlocal"]
    assert n["items"] == 0 and n["status"] == "failed"
    assert n["error_kinds"] == {"BlockedRequest": 1}
    assert demo_ro.hits["/xf/"] == 0


def test_crawler_runs_no_remote_code_server_and_writes_only_under_its_data_dir(tmp_path, demo_ro, monkeypatch):
    """Scrapy 2.19 turns on RemoteControl by default: per spider, a localhost HTTP server that runs any Python code
    sent with a token, the token written to the user's state dir. A crawler of untrusted pages runs neither."""
    state, home = tmp_path / "state", tmp_path / "home"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("HOME", str(home))
    _, _, res = _crawl(tmp_path, demo_ro, ["demo-tg"])
    assert res["sources"]["demo-tg"]["status"] == "ok" and res["items"] > 0
    assert [p for p in (state, home) if p.exists() and any(p.rglob("*"))] == []


def test_faults_retry_then_record(tmp_path, demo):
    src = {
        "name": "faults",
        "kind": "generic",
        "local": True,
        "start_urls": [
            "{demo_web}/faults/flaky?key=t1",
            "{demo_web}/faults/always500",
            "{demo_web}/faults/huge",
            "{demo_web}/faults/gzipbomb",
        ],
    }
    _, store, res = _crawl(tmp_path, demo, ["faults"], [src], retry_times=2)
    r = res["sources"]["faults"]
    assert demo.hits_full["/faults/flaky?key=t1"] == 2  # 503 once, then 200
    assert demo.hits["/faults/always500"] == 3  # first try + 2 retries, then given up
    row = store.query("SELECT status, errors, error_summary_json FROM crawl_runs WHERE run_id=?", [r["run_id"]])
    summary = json.loads(row.iloc[0]["error_summary_json"])
    failed = {e["url"].split("/faults/")[1]: e for e in summary["samples"]}
    assert set(failed) == {"always500", "huge", "gzipbomb"}  # flaky recovered; the rest recorded, not dropped
    assert failed["always500"]["status"] == 500 and failed["always500"]["retries"] == 2
    assert row.iloc[0]["errors"] == 3 and row.iloc[0]["status"] == "partial"


def test_calendar_trap_stops_at_the_page_bound(tmp_path, demo_ro):
    demo_ro.reset_hits()
    src = {
        "name": "trap",
        "kind": "generic",
        "local": True,
        "start_urls": ["{demo_web}/calendar/?month=2024-05"],
        "max_pages": 12,
        "max_depth": 50,
        "options": {"follow_links": True},
    }
    _, _, res = _crawl(tmp_path, demo_ro, ["trap"], [src])
    assert res["sources"]["trap"]["status"] == "ok"
    assert 1 < demo_ro.hits["/calendar/"] <= 12


def test_slow_page_times_out_then_is_recorded(tmp_path, demo_ro):
    demo_ro.reset_hits()
    src = {"name": "slow", "kind": "generic", "local": True, "start_urls": ["{demo_web}/faults/slow?seconds=4"]}
    _, _, res = _crawl(tmp_path, demo_ro, ["slow"], [src], retry_times=1, download_timeout=1.0)
    r = res["sources"]["slow"]
    assert r["items"] == 0 and r["status"] == "failed"
    assert r["error_kinds"] == {"DownloadTimeoutError": 1}
    assert demo_ro.hits["/faults/slow"] == 2  # the try and one retry, each cut at the 1 s limit


def test_an_environment_proxy_is_used_only_when_settings_ask(tmp_path, demo_ro, monkeypatch):
    """Through an http_proxy the proxy resolves host names, past the crawler's address checks: a proxy in the
    environment is ignored unless `crawl.use_env_proxy` is set."""
    import http.server
    import threading

    seen: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            seen.append(self.path)
            self.send_error(502)

        def log_message(self, *a):
            pass

    def _mk(d):
        d.mkdir()
        return d

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for k in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(k, raising=False)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_port}")
        _, _, res = _crawl(_mk(tmp_path / "plain"), demo_ro, ["demo-tg"])
        assert res["sources"]["demo-tg"]["status"] == "ok" and res["items"] > 0
        assert seen == []  # straight to the checked address
        _, _, res = _crawl(_mk(tmp_path / "proxied"), demo_ro, ["demo-tg"], retry_times=0, use_env_proxy=True)
        assert seen and all(p.startswith(demo_ro.url) for p in seen)  # the proxy got the absolute URLs
        assert res["items"] == 0
    finally:
        proxy.shutdown()
