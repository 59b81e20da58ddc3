"""The crawler's cheaper paths do what Scrapy's own would: page batches, the JOBDIR request queue."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.http import FormRequest
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler

from crawlers.batch import PageItems
from crawlers.items import PostItem
from crawlers.pipelines import WRITTEN_STAT, RawWriterPipeline
from crawlers.queues import PickleLifoDiskQueue, request_dict
from crawlers.spiders.kinds import XenforoSpider

from ..helpers import read_items


@pytest.fixture
def spider():
    return XenforoSpider(source={"name": "x", "kind": "forum", "engine": "xenforo", "start_urls": ["http://a.test/"]})


def test_request_dict_is_scrapys_to_dict(spider):
    reqs = [
        spider.request("http://a.test/t/1", spider.parse_page, role="thread", page_no=2, listing_hash="h"),
        Request("http://a.test/x"),
        Request("http://a.test/y", callback=spider.parse_page, priority=3, dont_filter=True),
        FormRequest("http://a.test/f", formdata={"a": "б"}, callback=spider.parse_page, errback=spider.on_error),
    ]
    for r in reqs:
        assert request_dict(r, spider) == r.to_dict(spider=spider)
    assert request_dict(reqs[3], spider)["_class"] == "scrapy.http.request.form.FormRequest"
    odd = Request("http://a.test/z", callback=lambda r: None)  # not a spider method: refused as Scrapy refuses it
    with pytest.raises(ValueError):
        odd.to_dict(spider=spider)
    with pytest.raises(ValueError):
        request_dict(odd, spider)


def test_jobdir_queue_round_trip(tmp_path, spider):
    crawler = get_crawler(type(spider))
    crawler.spider = spider
    q = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    sent = [spider.request(f"http://a.test/t/{i}", spider.parse_page, role="thread", page_no=i) for i in range(3)]
    for r in sent:
        q.push(r)
    q.close()
    q = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))  # as a resumed crawl reopens it
    got = [q.pop() for _ in range(3)]
    assert q.pop() is None
    assert [g.url for g in got] == [r.url for r in reversed(sent)]  # LIFO
    for g, r in zip(got, reversed(sent)):
        assert g.callback == spider.parse_page and g.errback == spider.on_error
        assert g.meta == r.meta
        assert request_from_dict(r.to_dict(spider=spider), spider=spider).meta == g.meta


def test_page_batch_writes_one_line_per_post_and_drops_bad_posts_alone(tmp_path):
    crawler = get_crawler(
        settings_dict={"BRANDMON_RUN_DIR": str(tmp_path / "run"), "BRANDMON_KEEP_ORIGINAL_TEXT": True}
    )
    crawler.stats.open_spider()
    writer = RawWriterPipeline.from_crawler(crawler)
    writer.spider_opened(None)

    def post(pid, url="http://a.test/t#p"):
        return PostItem(source="s", kind="forum", post_id=pid, url=url, text=f"текст {pid}")

    batch = PageItems([post("1"), post("2"), post("1"), post("3", url=""), post("4")], page_url="http://a.test/t")
    assert writer.process_item(batch) is batch
    writer.process_item(PageItems([post("4"), post("5")]))
    writer.close_file()
    lines = read_items(tmp_path / "run")
    assert [d["post_id"] for d in lines] == ["1", "2", "4", "5"]
    assert lines[0] == post("1").to_dict()
    stats = crawler.stats.get_stats()
    assert stats[WRITTEN_STAT] == 4
    assert stats["item_dropped_count"] == 3  # the repeated 1, the url-less 3, the repeated 4
    assert writer.dropped == {"duplicate": 2, "missing_fields": 1}


def test_raw_lines_are_the_same_json_as_json_dumps():
    import json

    from crawlers.pipelines import json_line

    d = PostItem(
        source="s",
        kind="forum",
        post_id="1",
        url="http://a.test/t#1",
        text='Привет "мир" \\ 😀\n',
        quoted=[{"author": "Анна", "post_id": None, "text": "x"}],
        likes=3,
        rating=4.5,
        extra={"big": 2**70, "nested": {"k": [1, None, True]}},
    ).to_dict()
    line = json_line(d)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == d  # the 2**70 falls back to json, which writes big integers
    small = {**d, "extra": {}}
    assert json.loads(json_line(small)) == small
    assert "Привет".encode() in json_line(small)  # UTF-8, not \u escapes


def _meta_refresh_pages() -> list[tuple[str, bytes, str]]:
    """(name, body, charset): refreshes in several spellings and encodings, and pages without one."""
    refresh = '<meta http-equiv="refresh" content="0; url=/moved">'
    pages = [
        ("none", "<html><head><title>Форум</title></head><body>нет</body></html>", "utf-8"),
        ("plain", f"<html><head>{refresh}</head><body>x</body></html>", "utf-8"),
        ("upper", '<HTML><HEAD><META HTTP-EQUIV="REFRESH" CONTENT="1;URL=/moved"></HEAD></HTML>', "utf-8"),
        ("content first", '<meta content="2; url=/moved" http-equiv="Refresh">', "utf-8"),
        ("too slow", '<meta http-equiv="refresh" content="500; url=/moved">', "utf-8"),
        ("in a script", f"<script>var s = '{refresh}';</script>", "utf-8"),
        ("cp1251", f"<html><head><title>Привет</title>{refresh}</head></html>", "cp1251"),
        ("utf-16", f"<html><head>{refresh}</head></html>", "utf-16"),
        # 4096 characters of Cyrillic (8 KiB in UTF-8) before the refresh: Scrapy's scan ends before it
        ("late", "<html><head><title>" + "ж" * 4100 + f"</title>{refresh}</head></html>", "utf-8"),
        ("just in", "<html><head><title>" + "ж" * 3000 + f"</title>{refresh}</head></html>", "utf-8"),
    ]
    return [(n, t.encode(c), c) for n, t, c in pages]


@pytest.mark.parametrize("name,body,charset", _meta_refresh_pages(), ids=[p[0] for p in _meta_refresh_pages()])
def test_meta_refresh_middleware_decides_as_scrapys(name, body, charset):
    from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as Scrapys
    from scrapy.http import HtmlResponse

    from crawlers.middlewares import MetaRefreshMiddleware

    crawler = get_crawler()
    ours, theirs = MetaRefreshMiddleware.from_crawler(crawler), Scrapys.from_crawler(crawler)
    req = Request("http://a.test/page")

    def decide(mw):
        resp = HtmlResponse(
            "http://a.test/page", body=body, headers={"Content-Type": f"text/html; charset={charset}"}, request=req
        )
        out = mw.process_response(req, resp)
        return out.url if isinstance(out, Request) else None

    assert decide(ours) == decide(theirs)
    if name in ("none", "too slow", "late"):
        assert decide(ours) is None
    elif name != "in a script":  # Scrapy's call, whichever it is
        assert decide(ours) == "http://a.test/moved"


def _utf8_hint_samples() -> list[bytes]:
    """Bytes around the UTF-8 pre-check's edges: hints at the start and the end, cut hints, legacy text with and
    without UTF-8 runs, and pages with more continuation bytes than the windowed scan takes."""
    import random

    ru = "Посылка опять задерживается, «ёлка» №5 — В\u00a0пути".encode("cp1251")
    samples = [
        b"",
        b"\xc3",
        b"\xc3\xa9",  # one 2-byte character: no hint
        b"\xc3\xa9\xc3",  # 2c2 ending the body
        b"\xc3\xa9\xc3\xa9",
        b"\xe2\x80\x94\xd0\x9f",  # 3cc2
        b"\xe2\x80\x94",  # a lone 3-byte character
        b"\xf0\x9f\x98\x80",  # an emoji: 4ccc
        b"\xf0\x9f\x98",  # cut emoji
        b"\x80\xc3\xa9\xc3",  # a continuation first
        ru,
        ru + "ещё".encode() + ru,
        ru * 40 + "Привет".encode() + ru * 40,
        "éè".encode() * 300,  # continuation bytes above the windowed scan's limit, no hint
        "é".encode() * 300 + "Жж".encode(),
        "€".encode("cp1252") * 500,
    ]
    rnd = random.Random(20)
    pool = [rnd.randrange(128), 0x80, 0xA9, 0xBF, 0xC3, 0xD0, 0xE2, 0xF0, 0xF4, 0xFF]
    for _ in range(3000):
        samples.append(bytes(rnd.choice(pool) for _ in range(rnd.randint(1, 40))))
    return samples


def test_utf8_text_precheck_is_the_seven_substring_searches():
    from crawlers.encoding import _CLASSES, _UTF8_TEXT_HINTS, _may_hold_utf8_text

    for body in _utf8_hint_samples():
        classes = body.translate(_CLASSES)
        assert _may_hold_utf8_text(body) == any(h in classes for h in _UTF8_TEXT_HINTS), body[:60]


def test_mostly_legacy_pages_decode_as_before():
    """The cheaper 'some character is neither ASCII nor U+FFFD' test in decode: same text and charset as the
    replace-and-isascii test it replaced, on legacy pages with and without embedded UTF-8."""
    from crawlers import encoding

    ru = "Посылка опять задерживается, «ёлка» №5 — В\u00a0пути. "
    bodies = [
        ru.encode("cp1251") * 20,
        ru.encode("cp1251") * 10 + "Привет из UTF-8".encode() + ru.encode("cp1251") * 10,
        ru.encode("koi8-r", "replace") * 20 + "😀".encode(),
        ru.encode("cp866", "replace") * 20,
        "Ça coûte 5 €, déjà payé".encode("cp1252") * 20 + "\ufffd".encode(),
    ]
    for body in bodies:
        for ctype in (None, "text/html; charset=windows-1251", "text/html; charset=ISO-8859-1"):
            as_utf8 = body.decode("utf-8", errors="replace")
            assert (len(as_utf8) - len(as_utf8.encode("ascii", "ignore")) > as_utf8.count("\ufffd")) == (
                not as_utf8.replace("\ufffd", "").isascii()
            )
            text, charset = encoding.decode(body, ctype)
            if b"d\xe9j\xe0" in body:
                assert "déjà" in text or ctype and "1251" in ctype  # a French page under a Cyrillic label
            else:
                assert "Посылка" in text, (ctype, text[:40], charset)


def test_crawler_process_imports_its_parsers_before_the_crawl():
    """What a crawl's first pages would import (the engine parser, the universal extractor that checks the first
    page with posts) is imported at start-up; reading and cross-checking a page then imports nothing. In a fresh
    interpreter, as a crawler process starts."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import sys
from crawlers.runner import preload
from crawlers.parsers import DETECTABLE, ParseContext, read_page
page = open(sys.argv[1], encoding="utf-8").read()
preload({"discourse"})
assert "crawlers.parsers.discourse" in sys.modules and "crawlers.parsers.universal" not in sys.modules
preload({"xf"})
before = set(sys.modules)
read_page(page, "https://forum.example/threads/t.1/", "xenforo", ParseContext(source="s", run_id="r"))
late = sorted(m for m in set(sys.modules) - before if m.startswith("crawlers"))
assert not late, late
preload({"auto"})
assert all("crawlers.parsers." + e in sys.modules for e in DETECTABLE)
print("ok")
"""
    page = Path(__file__).parent / "pages" / "xf2_thread.html"
    out = subprocess.run([sys.executable, "-c", code, str(page)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
