"""Whole threads and channel histories, with real Scrapy against the demo web on 127.0.0.1.

Pagination is not discovery depth: a thread's or channel's own next pages do not count toward DEPTH_LIMIT (12),
the page budget bounds them. A re-crawl goes straight to the newest page of a known thread, and a thread cut
short is re-entered where it stopped.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from crawlers.run import crawl_sources
from demo.web.corpus import add_post, add_posts, add_thread, load
from demo.web.render_tg import PER_PAGE as TG_PER_PAGE
from pipeline.store import Store

from ..helpers import NOW as DEMO_NOW
from ..helpers import read_items
from .conftest import crawl_settings, site_posts

FORUMS = {"demo-xf": "xf", "demo-phpbb": "phpbb", "demo-vb": "vb", "demo-ipb": "ipb"}


def long_thread(content_dir, site: str, posts: int) -> int:
    """A new thread of `posts` posts (first post included) on the site's first board, over the last 30 days."""
    board = load(content_dir).sites[site].boards[0].id
    tid = add_thread(
        content_dir,
        site,
        board,
        "Посылкин: доставка опять сорвана, тема для всех",
        "Автор темы",
        "Собираем здесь все истории про задержки доставки.",
        days_ago=30,
    )
    add_posts(
        content_dir,
        site,
        tid,
        [
            {
                "author": f"user{k % 7}",
                "d": 30 - (k * 30) // posts,
                "t": f"{8 + k % 12:02d}:{k % 60:02d}",
                "text": f"Ответ {k}: посылка опять задерживается, поддержка не отвечает уже {k % 9 + 1} дней.",
            }
            for k in range(posts - 1)
        ],
    )
    return tid


def thread_requests(demo, site: str, tid: int) -> int:
    """Requests the server got for any page of the thread."""
    c = load(demo.content_dir)
    first = urlsplit(demo.post_url(site, tid, c.sites[site].thread(tid).posts[0].id))
    page1 = first.path + (f"?{first.query}" if first.query else "")
    return sum(
        n
        for u, n in demo.hits_full.items()
        if u == page1 or u.startswith(page1 + "&") or (page1.endswith("/") and u.startswith(page1))
    )


def _store(s):
    store = Store.from_settings(s)
    store.upgrade()
    return store


# crawls 60 pages on each of four engines; the page-40 reply tests below keep long threads in the fast tier
@pytest.mark.slow
def test_600_post_threads_are_crawled_whole_on_every_forum_engine(tmp_path, demo, demo_dir):
    tids = {key: long_thread(demo_dir, key, 600) for key in FORUMS.values()}
    s = crawl_settings(tmp_path, demo.url)
    assert s.crawl.max_depth == 12  # the default: 60 pages of one thread are far beyond it
    res = crawl_sources(s, _store(s), list(FORUMS), now=DEMO_NOW)["sources"]
    for name, key in FORUMS.items():
        items = read_items(res[name]["raw_path"])
        ids = [i["post_id"] for i in items if i["thread_id"] == str(tids[key])]
        assert len(ids) == len(set(ids)) == 600, (name, len(ids))
        assert res[name]["items"] == site_posts(demo_dir, key), name
        assert thread_requests(demo, key, tids[key]) == 60, name  # each page once


# XenForo stays in the fast tier, phpBB runs with the slow tier
@pytest.mark.parametrize(
    "site, source", [("xf", "demo-xf"), pytest.param("phpbb", "demo-phpbb", marks=pytest.mark.slow)]
)
def test_new_reply_on_page_40_is_found_with_at_most_3_requests_for_its_thread(tmp_path, demo, demo_dir, site, source):
    tid = long_thread(demo_dir, site, 395)  # page 40 holds posts 391-395
    s = crawl_settings(tmp_path, demo.url)
    store = _store(s)
    first = crawl_sources(s, store, [source], now=DEMO_NOW)["sources"][source]
    assert first["items"] == site_posts(demo_dir, site)

    reply = add_post(
        demo_dir, site, tid, "Тестер", "Посылкин так и не привёз заказ, третья неделя пошла.", minutes_ago=5
    )
    assert demo.post_url(site, tid, reply).split("#")[0].endswith(("page-40", "start=390"))
    demo.reset_hits()
    second = crawl_sources(s, store, [source], now=DEMO_NOW)["sources"][source]
    items = read_items(second["raw_path"])
    assert [i["post_id"] for i in items] == [reply]
    assert items[0]["text"] == "Посылкин так и не привёз заказ, третья неделя пошла."
    assert 1 <= thread_requests(demo, site, tid) <= 3


# a long thread crawled twice; the page-40 reply test keeps long threads in the fast tier
@pytest.mark.slow
def test_a_reply_that_opens_a_new_page_is_found_from_the_last_known_page(tmp_path, demo, demo_dir):
    tid = long_thread(demo_dir, "xf", 400)  # exactly 40 full pages: the reply opens page 41
    s = crawl_settings(tmp_path, demo.url)
    store = _store(s)
    crawl_sources(s, store, ["demo-xf"], now=DEMO_NOW)
    reply = add_post(demo_dir, "xf", tid, "Тестер", "И у меня то же самое.", minutes_ago=2)
    demo.reset_hits()
    items = read_items(crawl_sources(s, store, ["demo-xf"], now=DEMO_NOW)["sources"]["demo-xf"]["raw_path"])
    assert [i["post_id"] for i in items] == [reply]
    pages = sorted(u for u in demo.hits_full if f".{tid}/" in u)
    assert pages == [f"/xf/threads/{load(demo_dir).sites['xf'].thread(tid).slug}.{tid}/page-{k}" for k in (40, 41)]


# six budgeted crawls of a 600-post thread; the page-40 reply tests keep long threads in the fast tier
@pytest.mark.slow
def test_page_budget_bounds_a_long_thread_and_the_next_crawl_resumes_where_it_stopped(tmp_path, demo, demo_dir):
    tid = long_thread(demo_dir, "xf", 600)
    budget = {
        "name": "xf-budget",
        "kind": "forum",
        "engine": "xenforo",
        "start_urls": ["{demo_web}/xf/"],
        "local": True,
        "max_pages": 40,
    }
    s = crawl_settings(tmp_path, demo.url, [budget])
    store = _store(s)
    seen: list[str] = []
    for _ in range(6):
        res = crawl_sources(s, store, ["xf-budget"], now=DEMO_NOW)["sources"]["xf-budget"]
        assert res["pages"] <= 40
        seen += [i["post_id"] for i in read_items(res["raw_path"]) if i["thread_id"] == str(tid)]
    assert len(seen) == len(set(seen)) == 600  # every post exactly once over the budgeted crawls
    page1 = f"/xf/threads/{load(demo_dir).sites['xf'].thread(tid).slug}.{tid}/"
    assert demo.hits_full[page1] == 1  # resumed at the page it stopped before, never from page 1 again


# a long thread crawled twice; the page-40 reply test keeps long threads in the fast tier
@pytest.mark.slow
def test_a_remembered_page_that_is_gone_reads_the_thread_again_from_its_first_page(tmp_path, demo, demo_dir):
    tid = long_thread(demo_dir, "xf", 35)  # 4 pages
    s = crawl_settings(tmp_path, demo.url)
    store = _store(s)
    crawl_sources(s, store, ["demo-xf"], now=DEMO_NOW)
    slug = load(demo_dir).sites["xf"].thread(tid).slug
    # as if the thread had been longer when last crawled (posts deleted since): its remembered page 9 is a 404
    with store.write() as con:
        n = con.execute(
            "UPDATE crawl_state SET last_page_url = ?, pages = 9, content_hash = NULL "
            "WHERE source_id = 'demo-xf' AND url LIKE ? RETURNING url",
            [f"{demo.url}/xf/threads/{slug}.{tid}/page-9", f"%.{tid}/#thread"],
        ).fetchall()
    assert len(n) == 1
    reply = add_post(demo_dir, "xf", tid, "Тестер", "Всё ещё жду.", minutes_ago=1)
    res = crawl_sources(s, store, ["demo-xf"], now=DEMO_NOW)["sources"]["demo-xf"]
    assert [i["post_id"] for i in read_items(res["raw_path"])] == [reply]
    assert res["status"] == "ok" and res["errors"] == 0


# a long thread crawled twice; the page-40 reply test keeps long threads in the fast tier
@pytest.mark.slow
def test_depth_counts_index_board_thread_hops_not_a_threads_pages(tmp_path, demo, demo_dir):
    """index (0) -> board (1) -> thread (2): max_depth 2 reads a 60-page thread whole, max_depth 1 none of it."""
    tid = long_thread(demo_dir, "xf", 600)
    srcs = [
        {
            "name": f"xf-depth{d}",
            "kind": "forum",
            "engine": "xenforo",
            "start_urls": ["{demo_web}/xf/"],
            "local": True,
            "max_depth": d,
        }
        for d in (1, 2)
    ]
    s = crawl_settings(tmp_path, demo.url, srcs)
    store = _store(s)
    deep = crawl_sources(s, store, ["xf-depth2"], now=DEMO_NOW)["sources"]["xf-depth2"]
    posts = [i for i in read_items(deep["raw_path"]) if i["thread_id"] == str(tid)]
    assert len(posts) == 600
    demo.reset_hits()
    shallow = crawl_sources(s, store, ["xf-depth1"], now=DEMO_NOW)["sources"]["xf-depth1"]
    assert shallow["items"] == 0 and thread_requests(demo, "xf", tid) == 0
    assert any("/forums/" in u for u in demo.hits_full)  # the boards (one hop) were read


# writes and crawls a 5,000-post channel; tests/social/test_telegram_discussions.py reads channels fast
@pytest.mark.slow
def test_5000_post_channel_is_read_whole_on_its_first_crawl(tmp_path, demo, demo_dir):
    channel = load(demo_dir).sites["tg"].boards[0]
    before = len(channel.threads[0].posts)
    n = 5000
    add_posts(
        demo_dir,
        "tg",
        channel.threads[0].id,
        [
            {
                "author": channel.title,
                "d": 400 - (k * 400) // n,
                "t": f"{8 + k % 12:02d}:{k % 60:02d}",
                "text": f"Пост {k}: новая жалоба подписчика на доставку, разбираемся.",
            }
            for k in range(n)
        ],
    )
    total = before + n
    assert total // TG_PER_PAGE > 12 * 20  # some 250 pages of history, far past the depth limit
    s = crawl_settings(tmp_path, demo.url)
    res = crawl_sources(s, _store(s), ["demo-tg"], now=DEMO_NOW)["sources"]["demo-tg"]
    items = read_items(res["raw_path"])
    mine = {i["post_id"] for i in items if i["post_id"].startswith(channel.slug + "/")}
    assert len(mine) == total
    assert res["items"] == site_posts(demo_dir, "tg")
