"""Charset decisions on real saved pages, as they come and relabelled the ways the real web mislabels them.

The variants are made from the pages' own text: re-encoded (UTF-8 under the old windows-1251 meta, koi8-r and
cp866 with no declaration or a wrong one) and served with the headers servers really send. Each must parse to
exactly the posts of the correctly declared original, with no mojibake.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawlers.encoding import decode_html
from crawlers.parsers import ParseContext, parse_any

PAGES = Path(__file__).parent / "pages"
RUTRACKER = PAGES / "torrentpier_rutracker_ru.html"  # real rutracker.org topic, windows-1251 with its meta
URL = "https://rutracker.org/forum/viewtopic.php?t=1027848"
META = b'<meta charset="Windows-1251">'
MOJIBAKE = re.compile("[\ufffd]|Р[\u0400-\u045f][А-Яа-я]?Р|Ð|Ñ\u0080|[ЂЃѓЉЊЌЋЏђљњќћџ]{2}")


def _original_text() -> str:
    return RUTRACKER.read_bytes().decode("cp1251")


def _posts(body: bytes, content_type: str | None = None) -> list[tuple[str, str]]:
    text, _ = decode_html(body, content_type)
    engine, res = parse_any(text, URL, ParseContext(tz="Europe/Moscow"))
    assert engine == "phpbb"
    return [(it.author, it.text) for it in res.items]


@pytest.fixture(scope="module")
def golden() -> list[tuple[str, str]]:
    posts = _posts(RUTRACKER.read_bytes())
    assert [a for a, _ in posts] == ["HiAsk", "wasdzx", "Skorp79", "PENNYWISEMAN"]
    assert posts[1][1].startswith("Я думаю, что релизеру всегда приятны спасибы от качающих")
    return posts


def _variant(enc: str, meta: str | None) -> bytes:
    text = _original_text()
    tag = f'<meta charset="{meta}">' if meta else ""
    return text.replace('<meta charset="Windows-1251">', tag).encode(enc, errors="xmlcharrefreplace")


@pytest.mark.parametrize(
    "enc, meta, header",
    [
        # the forum moved its database to UTF-8 and kept the old template's meta (the "Р§РµСЂРЅРёРє")
        ("utf-8", "Windows-1251", None),
        ("utf-8", "Windows-1251", "text/html; charset=windows-1251"),  # ... and the old server config too
        ("cp1251", None, None),  # no declaration at all
        ("cp1251", "Windows-1251", "text/html; charset=ISO-8859-1"),  # a server's Latin-1 default over it
        ("cp1251", "utf-8", None),  # a UTF-8 template over cp1251 posts
        ("koi8-r", None, None),
        ("koi8-r", "Windows-1251", None),  # recoded on the fly, meta left behind
        ("cp866", None, None),
    ],
)
def test_mislabelled_real_page_reads_as_its_original(golden, enc, meta, header):
    body = _variant(enc, meta)
    text, used = decode_html(body, header)
    assert used == enc
    assert not MOJIBAKE.search(text), MOJIBAKE.search(text)
    assert "Стругацкие Аркадий и Борис - Стажеры" in text
    assert _posts(body, header) == golden


def test_page_with_a_utf8_block_inside_cp1251_reads_both(golden):
    """A legacy page with a UTF-8 widget pasted in (a counter, an embed): both parts readable."""
    widget = '<div class="widget">Ещё обсуждают: «Черника» — отзывы 🍇</div>'.encode()
    body = RUTRACKER.read_bytes().replace(b"<body>", b"<body>" + widget, 1)
    text, used = decode_html(body)
    assert used == "cp1251"
    assert "Ещё обсуждают: «Черника» — отзывы 🍇" in text
    assert "Стругацкие Аркадий и Борис - Стажеры" in text and "\ufffd" not in text
    assert _posts(body) == golden


def test_utf8_page_with_stray_cp1251_bytes_reads_them_as_cp1251(golden):
    """The opposite mix: a UTF-8 page whose footer still comes from a cp1251 include."""
    footer = "<p>Форум работает с 2003 года</p>".encode("cp1251")
    body = _variant("utf-8", None).replace(b"</body>", footer + b"</body>")
    text, used = decode_html(body, "text/html; charset=utf-8")
    assert used == "utf-8"
    assert "Форум работает с 2003 года" in text and "\ufffd" not in text
    assert _posts(body) == golden


@pytest.mark.parametrize(
    "file, ctype, char",
    [
        ("phpbb2/ptforum_phpbb2_viewtopic_t805.html", None, "—"),  # iso-8859-1 meta, cp1252 dash
        ("vbulletin/nettally_vBulletin3.html", "text/html; charset=ISO-8859-1", "”"),
    ],
)
def test_latin1_pages_stay_latin1(shared_data, file, ctype, char):
    body = (shared_data / "forum_pages" / file).read_bytes()
    text, used = decode_html(body, ctype)
    assert used == "cp1252" and text == body.decode("cp1252") and char in text


def test_bom_page(shared_data):
    body = (shared_data / "forum_pages" / "xenforo/nettally_Xenforo1_sufficientvelocity.html").read_bytes()
    text, used = decode_html(body, "text/html; charset=ISO-8859-1")  # the BOM outranks any header
    assert used == "utf-8-sig" and text == body[3:].decode("utf-8")


def test_brandmon_parse_file_reads_a_utf8_page_under_a_cp1251_meta(tmp_path, golden):
    page = tmp_path / "moved_forum.html"
    page.write_bytes(_variant("utf-8", "Windows-1251"))
    brandmon = Path(sys.executable).parent / "brandmon"  # the installed console script, as a user runs it
    out = subprocess.run(
        [str(brandmon), "parse", str(page), "--url", URL],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert "engine=phpbb posts=4" in out.stderr
    assert "Я думаю, что релизеру всегда приятны спасибы от качающих" in out.stdout
    assert not MOJIBAKE.search(out.stdout)


def test_crawler_reads_mislabelled_pages_from_a_real_server(tmp_path, demo_ro):
    """Scrapy responses go through the same decision: each page's post reads back exactly as served."""
    from crawlers.run import crawl_sources
    from demo.web.render_misc import ENCODING_GOLDEN, ENCODING_PAGES
    from pipeline.store import Store

    from ..helpers import NOW as DEMO_NOW
    from ..helpers import read_items
    from .conftest import crawl_settings

    names = ["utf8-labelled-cp1251.html", "cp1251-header-latin1.html", "cp866-undeclared.html", "koi8r-undeclared.html"]
    assert all(n in ENCODING_PAGES for n in names)
    # one source a page: each page's single post is "post_1", which one source would keep once
    srcs = [
        {"name": f"old-forum-{k}", "kind": "generic", "local": True, "start_urls": [f"{{demo_web}}/enc/{n}"]}
        for k, n in enumerate(names)
    ]
    s = crawl_settings(tmp_path, demo_ro.url, srcs)
    store = Store.from_settings(s)
    store.upgrade()
    res = crawl_sources(s, store, [x["name"] for x in srcs], now=DEMO_NOW)["sources"]
    for k, name in enumerate(names):
        items = read_items(res[f"old-forum-{k}"]["raw_path"])
        assert len(items) == 1, name
        text = items[0]["text"]
        assert ENCODING_GOLDEN in text, (name, text[:200])
        assert not MOJIBAKE.search(text), name
