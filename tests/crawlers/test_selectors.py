"""The parsers' Python selector matcher (crawlers/parsers/base.py) must answer exactly as lxml's CSSSelector."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree
from lxml.cssselect import CSSSelector

from crawlers.encoding import decode_html
from crawlers.parsers import base

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).parent / "pages"


def parser_selectors() -> list[str]:
    """Every literal selector the parsers pass to first/first_text/css, plus combinator and id shapes."""
    src = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "crawlers" / "parsers").glob("*.py"))
    found = set(re.findall(r"(?:first|first_text|css)\([a-z_]+, *f?\"([^\"]+)\"", src))
    found |= {"div a", "div p span", "li.comment", "h2.news-title a", "*", "div *", "a b", "[class]"}
    return sorted(s for s in found if "{" not in s)


def test_the_parsers_selectors_are_mostly_matched_in_python():
    sels = parser_selectors()
    simple = [s for s in sels if isinstance(base._selector(s), base._Simple)]
    assert len(sels) > 150
    assert len(simple) > 100  # tag-anchored selectors dominate; class-only ones stay on XPath
    assert not isinstance(base._selector(".username"), base._Simple)
    assert not isinstance(base._selector("article[data-x]:not([id^=a])"), base._Simple)
    assert not isinstance(base._selector("a[title='two words']"), base._Simple)


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.html")))
def test_same_elements_as_cssselect(page):
    text, _ = decode_html((PAGES / page).read_bytes(), None, None)
    root = base.html_tree(text)
    els = list(root.iter(etree.Element))
    contexts = [root, *els[:: max(1, len(els) // 15)]]
    compared = 0
    for s in parser_selectors():
        fast = base._selector(s)
        if not isinstance(fast, base._Simple):
            continue
        ref = CSSSelector(s)
        for c in contexts:
            want = ref(c)
            assert fast(c) == want, (s, c.tag)
            assert fast.first(c) is (want[0] if want else None), (s, c.tag)
            compared += 1
    assert compared > 1000


def test_class_tokens_split_on_xml_whitespace_only():
    root = base.html_tree('<html><body><p class="a\u00a0b"><i class=" x\ty\n">1</i></p><p class="b">2</p></body></html>')
    assert [e.text for e in base.css(root, "i.y")] == ["1"]
    assert [base.text_of(e) for e in base.css(root, "p.b")] == ["2"]  # "a\u00a0b" is one class, as in XPath
    assert base.first(root, "p.a") is None
    # descendant combinator: the ancestor may be the context itself, never above it
    p = base.first(root, "p")
    assert base.first(p, "p i") is not None
    i = base.first(root, "i")
    assert base.first(i, "p i") is None and base.css(i, "i") == [i]
