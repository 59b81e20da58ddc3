"""Scraped text is data, never markup: 500 injection posts rendered, nothing becomes HTML or a javascript: link."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import duckdb
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from dashboard.safe_text import highlight, md_escape, safe_links, safe_url

UNESCAPED_LT = re.compile(r"(?<!\\)<")


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def _rendered_tags(md: str) -> list[tuple[str, list]]:
    # html=True is the worst case: a renderer that would pass raw HTML through still gets none from us.
    html = MarkdownIt("commonmark", {"html": True}).render(md)
    p = _Tags()
    p.feed(html)
    return p.tags


def _hostile_rows(path) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("""SELECT m.mention_id, m.context, m.span_start, m.span_end, m.matched, d.url,
                                     d.author, d.thread_title
                              FROM mentions m JOIN documents d USING (doc_id)""").df()
    finally:
        con.close()


def test_500_hostile_contexts_render_as_text_only(hostile_db):
    rows = _hostile_rows(hostile_db)
    assert len(rows) == 500
    assert rows["context"].str.contains("<script>|onerror=|javascript:", regex=True).sum() >= 180
    bad = []
    for r in rows.itertuples():
        for md in (
            highlight(r.context, r.span_start, r.span_end, r.matched),
            md_escape(r.author),
            md_escape(r.thread_title),
        ):
            tags = _rendered_tags(md)
            if any(t not in ("p", "strong", "br") or attrs for t, attrs in tags):
                bad.append((r.mention_id, md, tags))
    assert bad == []
    # the brand is still highlighted, and the visible text is the scraped text, character for character
    r = rows.iloc[0]
    html = MarkdownIt("commonmark").render(highlight(r.context, r.span_start, r.span_end, r.matched))
    assert f"<strong>{r.matched}</strong>" in html


def test_escaped_text_reads_back_identically():
    s = (
        '<script>alert("x")</script> **b** _i_ [l](javascript:alert(1)) :red[c] $x$ # h `c` a\\b '
        "https://evil.example/x www.evil.example me@evil.example"
    )
    html = MarkdownIt("commonmark").render(md_escape(s))
    from html import unescape

    # what is displayed is the scraped text itself (plus invisible word joiners that stop auto-linking)
    assert unescape(re.sub(r"</?p>\n?", "", html)).replace("\u2060", "") == s


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://forum.example/t/1#p2", True),
        ("http://a.example", True),
        ("HTTPS://A.EXAMPLE/x", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>", False),
        ("vbscript:msgbox(1)", False),
        ("//evil.example/x", False),
        ('https://a.example/"onmouseover=x', False),
        (" https://a.example", False),
        (None, False),
        ("", False),
        ("https://", False),
    ],
)
def test_only_http_urls_become_links(url, ok):
    assert (safe_url(url) is not None) is ok
    link = safe_links(pd.Series([url], dtype=object)).iloc[0]
    assert (isinstance(link, str) and link == url) is ok


def test_hostile_posts_in_the_app_are_escaped(hostile_db, use_db, app_test):
    use_db(hostile_db)
    for page in ("mentions", "queue", "themes", "alerts", "authors", "overview"):
        at = app_test(page)
        assert not at.exception, (page, [e.value for e in at.exception])
        texts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
        assert texts, page
        leaks = [t for t in texts if UNESCAPED_LT.search(t) or re.search(r"(?<!\\)\]\((?!\s)", t)]
        assert leaks == [], (page, leaks[:3])
        for df in at.dataframe:
            v = df.value
            if "url" in v.columns:
                urls = v["url"].dropna()
                assert urls.map(lambda u: u.lower().startswith(("http://", "https://"))).all(), page
    # the mentions page shows the hostile text itself, escaped (not dropped)
    at = app_test("mentions")
    shown = [m.value for m in at.markdown if "\\<" in m.value]
    assert shown, "the selected hostile context should be visible, escaped"
