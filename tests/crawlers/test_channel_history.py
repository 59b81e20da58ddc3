"""A channel history longer than the page budget, read over several crawls (real Scrapy against the demo web on
127.0.0.1): each crawl reads what is new, then continues the history from where the last one stopped, oldest
direction, until it is whole."""

from __future__ import annotations

import pytest

from crawlers.run import crawl_sources
from demo.web.corpus import add_post, add_posts, load
from demo.web.render_tg import PER_PAGE
from pipeline.store import Store

from ..helpers import NOW, read_items
from .conftest import crawl_settings

BUDGET = 4  # pages a crawl of the channel may fetch


@pytest.mark.slow
def test_a_history_longer_than_the_budget_is_continued_by_the_next_crawls_until_whole(tmp_path, demo, demo_dir):
    channel = load(demo_dir).sites["tg"].boards[0]
    thread = channel.threads[0]
    add_posts(
        demo_dir,
        "tg",
        thread.id,
        [
            {"author": channel.title, "d": 300 - k, "t": "10:00", "text": f"Пост {k}: жалоба на доставку."}
            for k in range(260)
        ],
    )
    total = len(load(demo_dir).sites["tg"].boards[0].threads[0].posts)
    assert total > 3 * BUDGET * PER_PAGE  # more than three crawls can read
    src = {
        "name": "tg-budget",
        "kind": "telegram",
        "start_urls": [f"{{demo_web}}/tg/s/{channel.slug}"],
        "local": True,
        "max_pages": BUDGET,
    }
    s = crawl_settings(tmp_path, demo.url, [src])
    store = Store.from_settings(s)
    store.upgrade()

    def crawl() -> tuple[dict, list[str]]:
        r = crawl_sources(s, store, ["tg-budget"], now=NOW)["sources"]["tg-budget"]
        assert r["status"] == "ok" and r["pages"] <= BUDGET
        return r, [i["post_id"] for i in read_items(r["raw_path"]) if i["post_id"].startswith(channel.slug + "/")]

    seen: list[str] = []
    r, got = crawl()
    assert len(got) == BUDGET * PER_PAGE  # the newest pages; the cut is remembered as a gap
    seen += got
    new = add_post(demo_dir, "tg", thread.id, channel.title, "Новый пост после первого обхода.")
    r, got = crawl()
    assert f"{channel.slug}/{new}" in got and len(got) == 1 + (BUDGET - 1) * PER_PAGE  # what is new, then the gap
    seen += got
    # more new posts than a crawl may read: the walk from the top is cut too, which leaves a second gap
    burst = add_posts(
        demo_dir,
        "tg",
        thread.id,
        [{"author": channel.title, "m": 100 - k, "text": f"Срочно {k}: задержки по всей сети."} for k in range(100)],
    )
    r, got = crawl()
    assert sorted(got) == sorted(f"{channel.slug}/{p}" for p in burst[-BUDGET * PER_PAGE :])
    seen += got
    for _ in range(total // PER_PAGE):
        r, got = crawl()
        seen += got
        if not got:
            break
    assert len(seen) == len(set(seen)) == total + 1 + 100  # every post once, over budgeted crawls
    assert r["items"] == 0 and r["pages"] == 1  # the history is whole: a crawl reads its newest page only
    gaps = store.query(
        "SELECT url, last_page_url FROM crawl_state WHERE source_id = 'tg-budget' AND url LIKE '%#gap:%'"
    )
    assert len(gaps) == 2 and gaps["last_page_url"].isna().all()  # the first crawl's cut and the burst's, closed
