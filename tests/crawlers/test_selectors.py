"""crawlers/parsers/selectors.py matches what lxml's CSSSelector (cssselect's XPath) matches, element for element
and in the same order: on the edge cases of its translation, and for every selector the parsers use on the saved
pages of the tests, on the elements they used it on and on the whole page."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest
from cssselect import SelectorError
from lxml.cssselect import CSSSelector

from crawlers.encoding import decode_html
from crawlers.parsers import ParseContext, parse_any, parse_page
from crawlers.parsers import base as parser_base
from crawlers.parsers.base import html_tree, saved_page_url
from crawlers.parsers.selectors import Selector

HERE = Path(__file__).parent
DOC = """<html><head><link rel="next" href="/p2"><meta property="og:title" content="T"></head><body>
<div id="main" class="a b\tc\nd\re\x0cf" data-x="" lang="en-GB">
  <!-- a comment --><?pi x?>
  <p class="a" title="hello world">one <span class=" a  b ">two</span><span class="ab">x</span></p>
  <div class="b"><p class=""><span class="c" data-role="memberSignature">deep</span></p></div>
  <DIV class="Upper">upper-case source tag</DIV>
  <a rel="next" href="/p2?x=1" class="pageNav-jump pageNav-jump--next">next</a>
  <a rel="nofollow next" href="/post-7" id="post-7">post</a>
  <ul><li class="message" id="post-1"><b>1</b></li><li class="message x" id="post-2">2</li>
      <li class="messageX" id="postx-3">3</li></ul>
  <span class="a\xa0b">nbsp</span><span class="reactionsBar-link">r</span><span class="reactionsBar">r2</span>
  <table><tr><td class="row1">c</td></tr></table>
</div></body></html>"""

# fmt: off
SELECTORS = [
    # types, universal, classes (XPath's normalize-space splits on space, tab, CR, LF only)
    "p", "span", "div", "DIV", "Div", "*", "li", "td", "nosuchtag",
    ".a", ".b", ".c", ".d", ".e", ".f", ".e\\c f", ".ab", ".Upper", ".upper", ".a.b", "span.a.b", "p.a", "a.a",
    ".reactionsBar-link, .reactionsBar", ".reactionsBar, .reactionsBar-link", ".message", "li.message", ".x",
    # ids and attributes, every operator, empty values
    "#main", "#post-7", "a#post-7", "#nope", "[data-x]", "[data-x='']", "[data-x!='']", "[data-x!=a]", "[lang|=en]",
    "[lang|=en-GB]", "[lang|=e]", "[lang='']", "[title~=hello]", "[title~=world]", "[title~='hello world']",
    "[title~='']", "[rel~=next]", "a[rel=next]", "link[rel=next]", "[rel=next]", "[href^='/p']", "[href^='']",
    "[href$='=1']", "[href$='']", "[href*='/post']", "[href*='']", "a[href*='/post'], a[href*='/posts/']",
    "li.message[id^=post-]", "[id^=post-]", "meta[property='og:title']", "[data-role=memberSignature]",
    "[class~=a]", "[class*=a]",
    # descendant combinators and groups (scope: the element searched from may be the left-hand side)
    "div span", "div p span", "div div span", "body div p span", "p span", "li b", "div .c", "#main .c", ".b span",
    "div *", "* span", "ul li.message b", "table td", "div span, p", "span, p, div", "li, b",
    # not matched in Python: lxml's XPath answers them
    "div > p", "p + div", "p ~ div", "li:first-child", "li:not(.x)", "p:empty", "*|span", "[*|lang]",
    "[lang='EN-gb' i]", "p::text", "li:nth-child(2)",
]
# fmt: on


def _ids(els) -> list[int]:
    return [id(e) for e in els]


@pytest.mark.parametrize("expr", SELECTORS)
def test_matches_cssselect_on_every_element_of_a_tricky_page(expr):
    root = lxml.html.document_fromstring(DOC)
    try:
        want_all = CSSSelector(expr)
    except SelectorError:
        with pytest.raises(SelectorError):
            Selector(expr)
        return
    sel = Selector(expr)
    keep = list(root.iter())  # lxml proxies stay the same objects while referenced
    checked = 0
    for el in keep:
        if not isinstance(el.tag, str):
            continue
        want = want_all(el)
        assert _ids(sel.all(el)) == _ids(want), (expr, el.tag, el.get("class"))
        assert sel.first(el) is (want[0] if want else None), (expr, el.tag)
        checked += 1
    assert checked > 20


def test_rejects_what_cssselect_rejects():
    for bad in ("p[", "..a", "a >", ":nosuchpseudo", "#"):
        with pytest.raises(SelectorError):
            CSSSelector(bad)
        with pytest.raises(SelectorError):
            Selector(bad)


GROUPS = {
    "pages": (sorted((HERE / "pages").glob("*.html")), 15, 500),
    "real_pages": (sorted((HERE / "real_pages" / "dev").glob("*/*/*.html")), 80, 5000),
}


@pytest.mark.parametrize(
    "group",
    ["pages", pytest.param("real_pages", marks=pytest.mark.slow)],  # the dev corpus: ~25 s
)
def test_parsers_selectors_match_cssselect_on_the_saved_pages(monkeypatch, group):
    """Every (element, selector) the parsers and the universal extractor look up while reading the saved pages of
    the tests, and each selector over the whole page, against lxml's CSSSelector."""
    pages, min_pages, min_lookups = GROUPS[group]
    assert len(pages) > min_pages
    calls: list = []
    real = parser_base.compiled

    def recording(expr: str):
        sel = real(expr)
        return _Recorder(sel, calls)

    monkeypatch.setattr(parser_base, "compiled", recording)
    lookups = exprs_total = 0
    for path in pages:
        text = decode_html(path.read_bytes(), None, None)[0]
        url = saved_page_url(text, "http://saved.local/" + path.name)
        calls.clear()
        ctx = ParseContext(source="t", tz="Europe/Moscow")
        parse_any(text, url, ctx)
        for engine in ("xenforo", "vbulletin", "phpbb", "ipb", "smf", "mybb"):  # each engine's selectors
            try:
                parse_page(text, url, engine, ctx)
            except Exception:  # noqa: BLE001 - an engine that refuses the page has looked up what it looked up
                pass
        seen = set()
        for el, expr in calls:
            if (id(el), expr) in seen:
                continue
            seen.add((id(el), expr))
            want = CSSSelector(expr)(el)
            assert _ids(real(expr).all(el)) == _ids(want), (path.name, expr)
            lookups += 1
        root = html_tree(text)
        for expr in {e for _, e in calls}:
            want = CSSSelector(expr)(root)
            got = real(expr)
            assert _ids(got.all(root)) == _ids(want), (path.name, expr)
            assert got.first(root) is (want[0] if want else None), (path.name, expr)
            exprs_total += 1
    assert lookups > min_lookups and exprs_total > min_lookups // 5, (lookups, exprs_total)


class _Recorder:
    """A compiled selector that notes each element it is asked about (kept alive, so ids stay unique)."""

    def __init__(self, sel: Selector, calls: list) -> None:
        self.sel, self.calls = sel, calls

    def first(self, el):
        self.calls.append((el, self.sel.expr))
        return self.sel.first(el)

    def all(self, el):
        self.calls.append((el, self.sel.expr))
        return self.sel.all(el)
