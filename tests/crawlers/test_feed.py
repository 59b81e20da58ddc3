"""RSS and Atom entries: only links that lead to a page become entries."""

from crawlers.parsers.feed import parse_feed

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>script</title><link>javascript:alert(1)</link></item>
<item><title>mail</title><link>mailto:editor@example.org</link></item>
<item><title>real</title><link>/t/2</link><pubDate>Tue, 10 Jun 2025 04:00:00 GMT</pubDate></item>
</channel></rss>"""

ATOM = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>script</title><link href="javascript:void(0)"/><id>1</id></entry>
<entry><title>real</title><link rel="alternate" href="https://news.example.org/a/3"/><id>3</id></entry>
</feed>"""


def test_javascript_and_mailto_links_are_not_entries():
    # before, each became an entry with url None, and requesting None failed the crawl of that feed
    assert [e.url for e in parse_feed(RSS, "http://news.example.org/rss.xml")] == ["http://news.example.org/t/2"]
    assert [e.url for e in parse_feed(ATOM, "http://news.example.org/atom.xml")] == ["https://news.example.org/a/3"]
