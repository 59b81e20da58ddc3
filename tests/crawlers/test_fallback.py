"""Crawls fall back to the universal extractor where an engine parser claims a page but reads it badly: a real
Scrapy crawl of pages served on 127.0.0.1, and the one rule (`crosscheck.choose_reading`) it shares with
`brandmon parse`."""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawlers.parsers import ParseContext, crosscheck, detect_engine, parse_any, parse_page, read_page
from crawlers.run import crawl_sources
from pipeline.store import Store

from ..helpers import NOW, read_items
from .conftest import crawl_settings

PAGES = Path(__file__).parent / "pages"
THREAD = "phpbb33_prosilver_viewtopic.html"
AUTHORS = ["EvtimDjerekarov", "Fiskbit", "EvtimDjerekarov"]


def _themed(html: str) -> str:
    """A phpBB theme that renames the post body's classes: still phpBB by its markers, unreadable to its parser."""
    return html.replace('class="postbody"', 'class="msgbody"').replace('class="content"', 'class="msgtext"')


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


LISTING = """<html><head><title>Board - phpBB</title><link href="styles/prosilver/theme/stylesheet.css"></head>
<body><div class="forumbg"><ul class="topiclist topics"><li class="row"><dl><dt>
<a href="viewtopic.php?t=25574" class="topictitle">DMC DMA timing</a></dt><dd class="posts">2</dd></dl></li></ul>
</div></body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """/themed/ (phpBB markers, a thread its parser cannot read), /plain/ (the same thread in the stock theme):
    each a board's topic list (viewforum.php) linking to its thread (viewtopic.php)."""
    root = tmp_path_factory.mktemp("site")
    html = (PAGES / THREAD).read_text(encoding="utf-8")
    for sub, page in (("themed", _themed(html)), ("plain", html)):
        (root / sub).mkdir()
        (root / sub / "viewtopic.php").write_text(page, encoding="utf-8")
        (root / sub / "viewforum.php").write_text(LISTING, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _crawl(tmp_path: Path, url: str, engine: str) -> tuple[dict, Path]:
    name = "board"
    src = {"name": name, "kind": "forum", "engine": engine, "start_urls": [url], "local": True}
    s = crawl_settings(tmp_path, url, [src])
    store = Store.from_settings(s)
    store.upgrade()
    r = crawl_sources(s, store, [name], now=NOW)["sources"][name]
    return r, tmp_path / "data" / "raw" / r["run_id"]


def _session(run_dir: Path) -> dict:
    return json.loads(next(run_dir.glob("session-*.json")).read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["auto", "phpbb"])
def test_crawl_reads_a_page_its_engine_parser_cannot_with_the_universal_extractor(tmp_path, site, engine):
    """Detected (or configured) as phpBB, whose parser finds only navigation on the themed page: the crawl takes
    the universal extractor's posts, as `brandmon parse` does, and logs the page with its URL."""
    url = f"{site}/themed/viewtopic.php?t=25574"
    text = (PAGES / THREAD).read_text(encoding="utf-8")
    assert detect_engine(_themed(text)) == "phpbb" and parse_page(_themed(text), url, "phpbb").items == []
    r, run_dir = _crawl(tmp_path, f"{site}/themed/viewforum.php?f=3", engine)
    items = read_items(r["raw_path"])
    assert r["status"] == "ok" and r["items"] == 3
    assert [i["author"] for i in items] == AUTHORS
    assert [i["text"][:26] for i in items] == [
        "Hello to everyone,\n\nI have",
        "I wrote the wiki's DMA art",
        "Thanks for the clarificati",
    ]
    assert {k: _session(run_dir)[k] for k in ("universal_pages", "universal_runs")} == {
        "universal_pages": 1,
        "universal_runs": 1,  # the thread page; not the topic list, which its engine reads
    }
    log = (run_dir / "crawl.log").read_text(encoding="utf-8")
    assert f"phpbb found no posts on {url}; read with the universal extractor (dom): 3 posts" in log


@pytest.mark.slow
def test_a_crawl_started_at_a_themed_thread_page_reads_its_posts(tmp_path, site):
    """A start URL may be a thread as well as a listing: started at the themed thread itself, the crawl takes the
    universal extractor's posts (it kept the engine's empty reading, as for a board index, before)."""
    url = f"{site}/themed/viewtopic.php?t=25574"
    r, run_dir = _crawl(tmp_path, url, "phpbb")
    assert r["items"] == 3 and [i["author"] for i in read_items(r["raw_path"])] == AUTHORS
    assert _session(run_dir)["universal_pages"] == 1
    assert f"phpbb found no posts on {url}; read with the universal extractor (dom): 3 posts" in (
        run_dir / "crawl.log"
    ).read_text(encoding="utf-8")


@pytest.mark.slow
def test_crawl_keeps_the_engine_reading_where_it_reads_the_page(tmp_path, site):
    """The same thread in the stock theme: phpBB's parser reads it, the universal extractor takes nothing over."""
    r, run_dir = _crawl(tmp_path, f"{site}/plain/viewforum.php?f=3", "auto")
    assert r["items"] == 3 and [i["author"] for i in read_items(r["raw_path"])] == AUTHORS
    session = _session(run_dir)
    assert session["universal_pages"] == 0 and session["universal_runs"] == 1  # the run's first page, sampled
    assert "universal extractor" not in (run_dir / "crawl.log").read_text(encoding="utf-8")


def _ctx(**kw) -> ParseContext:
    return ParseContext(source="t", run_id=kw.pop("run_id", "r"), tz="UTC", now=NOW, **kw)


def test_universal_reading_wins_where_the_engine_finds_clearly_fewer_posts(caplog):
    """An engine parser that reads one post of three (a theme that renders replies differently): the universal
    reading wins, in a crawl as for a page read alone; one post fewer of three is not "clearly fewer"."""
    text = (PAGES / THREAD).read_text(encoding="utf-8")
    url = "https://forums.nesdev.org/viewtopic.php?t=25574"
    res = parse_page(text, url, "phpbb", _ctx())
    assert [it.author for it in res.items] == AUTHORS
    one = replace(res, items=res.items[:1])
    used, got = crosscheck.choose_reading("phpbb", one, text, url, _ctx(run_id="fewer"), role="thread")
    assert (used, [it.author for it in got.items]) == ("generic", AUTHORS)
    assert url in caplog.text
    two = replace(res, items=res.items[:2])
    assert crosscheck.choose_reading("phpbb", two, text, url, _ctx(), role="thread") == ("phpbb", two)
    # not sampled: the page's engine reading stands and the universal extractor is not run
    assert crosscheck.choose_reading("phpbb", one, text, url, _ctx(), role="thread", check=False) == ("phpbb", one)


def test_a_source_whose_engine_lost_once_has_every_page_checked():
    text = (PAGES / THREAD).read_text(encoding="utf-8")
    url = "https://forums.nesdev.org/viewtopic.php?t=25574"
    ctx = _ctx(run_id="sticky")
    assert read_page(text, url, "phpbb", ctx)[0] == "phpbb"  # the run's first page is checked, and agrees
    assert crosscheck.SAMPLER.wants("phpbb", parse_page(text, url, "phpbb", ctx), ctx) is False
    assert read_page(_themed(text), url, "phpbb", ctx, "thread")[0] == "generic"
    assert crosscheck.SAMPLER.wants("phpbb", parse_page(text, url, "phpbb", ctx), ctx) is True


def test_an_empty_page_of_an_engine_stays_empty_in_a_crawl_but_is_read_alone():
    """A news article linking to a phpBB board scores as phpBB and has no posts: a crawl keeps it empty (its main
    text is not a post), `brandmon parse` shows its text."""
    para = (
        "<p>Пользователи форума phpbb-клуба жалуются: Посылкин третью неделю не доставляет посылки в Заречный, "
        "а горячая линия не отвечает. Компания обещает компенсации.</p>"
    )
    html = (
        f"<html><head><title>Посылкин задерживает посылки</title></head><body><article><h1>Посылкин задерживает"
        f" посылки</h1>{para * 3}<p>Обсуждение: <a href='https://forum.example.ru/viewtopic.php?t=5'>тема на "
        f"форуме</a>.</p></article></body></html>"
    )
    url = "https://news.example.ru/a/2"
    assert detect_engine(html) == "phpbb"
    assert read_page(html, url, "auto", _ctx(run_id="empty")) == ("phpbb", parse_page(html, url, "phpbb", _ctx()))
    used, res = parse_any(html, url, _ctx())
    assert used == "generic" and "Посылкин третью неделю не доставляет" in res.items[0].text


def test_a_board_index_stays_the_engines_in_a_crawl():
    """A board index has navigation only, and its board rows look like records to the universal extractor: read as
    a crawl's listing page it stays the engine's (its board links are the crawl's way in); the themed thread page,
    read as a thread page, is the universal extractor's."""
    index = (PAGES / "mybb18_index_real.html").read_text(encoding="utf-8")
    for role in ("listing", "start"):  # a start URL may be either; its board rows are about as many as its boards
        used, res = read_page(index, "https://cs-joke.pl/", "auto", _ctx(run_id="index"), role)
        assert used == "mybb" and res.board_links and not res.items
    themed = _themed((PAGES / THREAD).read_text(encoding="utf-8"))
    url = "https://forums.nesdev.org/viewtopic.php?t=25574"
    assert read_page(themed, url, "phpbb", _ctx(run_id="index"), "listing")[1].items == []
    for role in ("thread", "start"):
        used, res = read_page(themed, url, "phpbb", _ctx(run_id="index"), role)
        assert (used, [it.author for it in res.items]) == ("generic", AUTHORS)
