"""RSS 2.0 and Atom feeds → entries (links to follow) with their titles and dates."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from crawlers.parsers.base import ParseError, absolute


@dataclass
class FeedEntry:
    url: str
    title: str | None
    published: str | None
    summary: str | None
    entry_id: str | None


def _t(el) -> str | None:
    return (el.text or "").strip() or None if el is not None else None


def parse_feed(body: str | bytes, url: str) -> list[FeedEntry]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True, recover=True))
    except etree.XMLSyntaxError as e:
        raise ParseError(f"not a feed: {e}") from None
    if root is None:
        raise ParseError("not a feed: empty document")
    out: list[FeedEntry] = []
    tag = etree.QName(root).localname
    if tag == "rss" or tag == "RDF":
        for it in root.iter("item", "{*}item"):
            link = _t(it.find("link")) or _t(it.find("{*}link"))
            # a javascript:/mailto: link resolves to nothing: there is no page to follow
            entry_url = absolute(url, link)
            if not entry_url:
                continue
            out.append(
                FeedEntry(
                    entry_url,
                    _t(it.find("title")),
                    _t(it.find("pubDate")) or _t(it.find("{*}date")),
                    _t(it.find("description")),
                    _t(it.find("guid")) or link,
                )
            )
    elif tag == "feed":
        for entry in root.iter("{*}entry"):
            href = None
            for ln in entry.findall("{*}link"):
                if ln.get("rel", "alternate") == "alternate":
                    href = ln.get("href")
                    break
            entry_url = absolute(url, href)
            if not entry_url:
                continue
            out.append(
                FeedEntry(
                    entry_url,
                    _t(entry.find("{*}title")),
                    _t(entry.find("{*}published")) or _t(entry.find("{*}updated")),
                    _t(entry.find("{*}summary")) or _t(entry.find("{*}content")),
                    _t(entry.find("{*}id")),
                )
            )
    else:
        raise ParseError(f"not RSS or Atom (root element <{tag}>)")
    return out
