"""Incremental re-crawl (only changed pages, exactly the new posts) and resume after an interrupted crawl."""

from __future__ import annotations

import os
import signal

import pytest

from crawlers.run import crawl_sources
from demo.web.corpus import add_post, add_thread
from pipeline.store import Store

from ..helpers import NOW, read_items
from .conftest import crawl_settings, site_posts


def test_second_crawl_fetches_changed_pages_and_yields_exactly_the_new_posts(tmp_path, demo, demo_dir):
    s = crawl_settings(tmp_path, demo.url)
    store = Store.from_settings(s)
    store.upgrade()
    first = crawl_sources(s, store, ["demo-xf"], now=NOW)["sources"]["demo-xf"]
    assert first["items"] == site_posts(demo_dir, "xf")

    # thread 101 had exactly one full page; the reply opens page 2. Plus a brand-new thread.
    reply_id = add_post(
        demo_dir, "xf", 101, "Тестер", "Связь в Заречном так и не появилась, Мобилайн молчит.", minutes_ago=5
    )
    new_tid = add_thread(
        demo_dir,
        "xf",
        2,
        "Мобилайн: роуминг в Казахстане",
        "Путешественник",
        "Кто ездил с Мобилайн в Казахстан, сколько стоит роуминг?",
    )
    demo.reset_hits()
    second = crawl_sources(s, store, ["demo-xf"], now=NOW)["sources"]["demo-xf"]
    items = read_items(second["raw_path"])
    assert second["status"] == "ok"
    assert sorted(i["post_id"] for i in items) == sorted([reply_id, f"{new_tid * 1000 + 1}"])
    reply = next(i for i in items if i["post_id"] == reply_id)
    assert reply["text"] == "Связь в Заречном так и не появилась, Мобилайн молчит."
    assert reply["thread_id"] == "101"

    threads = {p: n for p, n in demo.hits.items() if "/threads/" in p}
    untouched = [p for p in threads if ".101/" not in p and f".{new_tid}/" not in p]
    assert untouched == [], f"unchanged threads were fetched again: {untouched}"
    assert any(".101/page-2" in p for p in threads)
    # only the last known page of thread 101 was re-read, not the whole thread
    assert sum(n for p, n in threads.items() if ".101/" in p) == 2

    third = crawl_sources(s, store, ["demo-xf"], now=NOW)["sources"]["demo-xf"]
    assert third["items"] == 0 and third["status"] == "ok"


# two crawls of the demo web around an interruption; the second-crawl test keeps incremental crawls fast
@pytest.mark.slow
def test_interrupted_crawl_resumes_with_nothing_lost_or_duplicated(tmp_path, demo, demo_dir):
    expected = site_posts(demo_dir, "xf")
    extra = [
        {
            "name": "slow-xf",
            "kind": "forum",
            "engine": "xenforo",
            "start_urls": ["{demo_web}/xf/"],
            "local": True,
            "download_delay": 0.2,
        }
    ]
    s = crawl_settings(tmp_path, demo.url, extra, concurrent_requests_per_domain=1)
    store = Store.from_settings(s)
    store.upgrade()
    killed = []

    def stop_early(name, c):
        if c["items"] > 0 and not killed:
            os.kill(c["pid"], signal.SIGTERM)  # what Ctrl-C / a stopped container sends
            killed.append(c["items"])

    first = crawl_sources(s, store, ["slow-xf"], progress=stop_early, now=NOW)["sources"]["slow-xf"]
    assert killed and first["status"] == "interrupted"
    assert 0 < first["items"] < expected
    assert (tmp_path / "data" / "jobs" / "slow-xf" / "scrapy").exists()

    second = crawl_sources(s, store, ["slow-xf"], now=NOW)["sources"]["slow-xf"]
    assert second["resumed"] and second["run_id"] == first["run_id"]
    assert second["status"] == "ok"
    items = read_items(second["raw_path"])
    ids = [i["post_id"] for i in items]
    assert len(ids) == len(set(ids)) == expected  # 0 duplicate, 0 lost
    assert not (tmp_path / "data" / "jobs" / "slow-xf").exists()
    row = store.query("SELECT status, items FROM crawl_runs WHERE run_id=?", [first["run_id"]]).iloc[0]
    assert row["status"] == "ok" and row["items"] == expected
