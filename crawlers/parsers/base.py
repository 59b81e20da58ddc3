"""Shared pieces of the pure page parsers: context, results, HTML → text helpers.

A parser takes page text (HTML or JSON) and its URL and returns a `PageResult`; it never touches the network
or Scrapy objects, so each is tested on saved pages.
"""

from __future__ import annotations

import copy
import hashlib
import html as html_lib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import parse_qs, urldefrag, urljoin, urlparse

import lxml.html
from lxml.html import HtmlElement

from crawlers.dates import board_tz_from_text, parse_date
from crawlers.items import PostItem
from crawlers.parsers.selectors import compiled


@dataclass
class ParseContext:
    source: str = "adhoc"
    kind: str = "forum"
    tz: str = "Europe/Moscow"
    now: datetime | None = None
    language: str | None = None
    run_id: str | None = None
    fetched_at: str | None = None
    selectors: dict[str, str] = field(default_factory=dict)
    # "DMY"/"MDY" for all-numeric dates both orders could read ("05-06-2016"); None: the separator's default,
    # unless the page's own unambiguous dates settle it (parsers.parse_page)
    date_order: str | None = None


@dataclass
class ThreadLink:
    """A thread (or article) seen in a listing; `listing_hash` changes when its listing row changes."""

    url: str
    thread_id: str | None = None
    title: str | None = None
    replies: int | None = None
    listing_hash: str | None = None


@dataclass
class PageResult:
    items: list[PostItem] = field(default_factory=list)
    next_url: str | None = None  # next page of the same thread / listing
    thread_links: list[ThreadLink] = field(default_factory=list)
    board_links: list[str] = field(default_factory=list)
    thread_url: str | None = None
    thread_id: str | None = None
    thread_title: str | None = None
    extra_urls: list[str] = field(default_factory=list)  # engine-specific follow-ups (Discourse post chunks)


class ParseError(ValueError):
    pass


# --------------------------------------------------------------------------------------------- HTML helpers

_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "tr",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "ul",
    "ol",
    "table",
    "section",
    "article",
    "aside",
    "hr",
    "dd",
    "dt",
    "fieldset",
}
_SKIP = {"script", "style", "noscript", "template"}
_WS = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_NL = re.compile(r"\n\s*\n\s*\n+")


class _TruthyElement(HtmlElement):
    """Elements are always truthy (lxml's announced future behaviour), so `first(a) or first(b)` picks the
    first one found even when it has no children."""

    def __bool__(self) -> bool:
        return True


_PARSER = lxml.html.HTMLParser(collect_ids=False)
_PARSER.set_element_class_lookup(
    lxml.etree.ElementDefaultClassLookup(
        element=_TruthyElement,
        comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    )
)


def html_tree(html: str | bytes) -> HtmlElement:
    if isinstance(html, str):
        html = re.sub(r"^\s*<\?xml[^>]*>", "", html.lstrip("\ufeff"))
        if not html.strip():
            raise ParseError("empty page")
    try:
        return lxml.html.document_fromstring(html, parser=_PARSER)
    except (ValueError, lxml.etree.ParserError) as e:
        raise ParseError(f"not HTML: {e}") from None


def text_of(el: HtmlElement | None) -> str:
    """Visible text with line breaks for <br> and block elements; scripts/styles dropped (the element's own
    tail too, as it follows the element on the page)."""
    if el is None:
        return ""
    parts: list[str] = []
    append = parts.append

    def walk(node: HtmlElement) -> None:
        tag = node.tag
        if not isinstance(tag, str) or tag in _SKIP:  # comments, processing instructions, scripts
            tail = node.tail
            if tail:
                append(tail)
            return
        block = tag in _BLOCK
        if block:
            append("\n")
        if tag == "img":
            alt = node.get("alt")
            if alt and ("emoji" in (node.get("class") or "") or "smil" in (node.get("class") or "")):
                append(alt)
        text = node.text
        if text:
            append(text)
        for ch in node:
            walk(ch)
        if block and tag != "br":
            append("\n")
        tail = node.tail
        if tail:
            if tag == "br" and tail[:1] in "\r\n":
                # "one<br>\ntwo", how forum engines write a typed line break: the source's newline after the <br>
                # is white space where the line starts (a browser shows one break), not a second line break
                tail = tail.lstrip("\r\n")
            if tail:
                append(tail)

    walk(el)
    # _WS never matches a newline, so one pass over the whole text equals one per line
    lines = [ln.strip() for ln in _WS.sub(" ", "".join(parts)).split("\n")]
    return _NL.sub("\n\n", "\n".join(lines)).strip()


def inner_text(el: HtmlElement | None) -> str:
    """Like text_of but without the element's tail (the text that follows it on the page)."""
    if el is None:
        return ""
    tail, el.tail = el.tail, None
    try:
        return text_of(el)
    finally:
        el.tail = tail


def css(el: HtmlElement, expr: str) -> list[HtmlElement]:
    """Every element `expr` selects in `el` (itself included), in document order: lxml's `CSSSelector(expr)(el)`,
    with simple selectors matched in Python (crawlers/parsers/selectors.py; libxml2's XPath predicates were a
    third of parsing) and each expression compiled once."""
    return compiled(expr).all(el)


def first(el: HtmlElement, expr: str) -> HtmlElement | None:
    """The first element `expr` selects in document order; the walk stops there."""
    return compiled(expr).first(el)


# an element by a page-supplied id: one compiled XPath with the id as a variable, where an f-string CSS
# selector compiled a new selector per post (~80 µs each) and broke on an id with a quote in it
_BY_ID = lxml.etree.XPath("descendant-or-self::*[@id = $id]")
_BY_ID_A = lxml.etree.XPath("descendant-or-self::*[@id = $id]/descendant::a")


def by_id(el: HtmlElement, id_: str, link: bool = False) -> HtmlElement | None:
    """first(el, f"#{id_}"), or first(el, f"#{id_} a") with `link`."""
    found = (_BY_ID_A if link else _BY_ID)(el, id=id_)
    return found[0] if found else None


def first_text(el: HtmlElement, css: str) -> str | None:
    f = first(el, css)
    t = text_of(f) if f is not None else ""
    return t or None


def attr(el: HtmlElement | None, name: str) -> str | None:
    return el.get(name) if el is not None else None


def absolute(base: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if href.startswith(("javascript:", "mailto:", "#")) and not href.startswith("#"):
        return None
    return urljoin(base, href)


def drop(el: HtmlElement) -> None:
    """Remove an element but keep its tail text (the author's words after a quote)."""
    el.drop_tree()


def split_post(
    body: HtmlElement,
    quote_css: str | None,
    quote_info: Callable[[HtmlElement], dict] | None = None,
    signature_css: str | None = None,
    remove_css: str | None = None,
) -> tuple[str, list[dict], str | None]:
    """(own text, quoted posts, signature) from a post body; the input tree is not modified."""
    b = copy.deepcopy(body)
    quotes: list[dict] = []
    signature = None
    if remove_css:
        for r in css(b, remove_css):
            drop(r)
    if signature_css:
        sigs = css(b, signature_css)
        if sigs:
            signature = "\n".join(filter(None, (text_of(s) for s in sigs))) or None
            for s in sigs:
                drop(s)
    if quote_css:
        # outermost quotes only: nested quotes belong to the outer quote's text
        found = css(b, quote_css)
        outer = [q for q in found if not any(o is not q and q in o.iterdescendants() for o in found)]
        for q in outer:
            info = quote_info(q) if quote_info else {}
            info.setdefault("text", text_of(q))
            quotes.append({"author": info.get("author"), "post_id": info.get("post_id"), "text": info["text"]})
            drop(q)
    return text_of(b), quotes, signature


def parse_int(text: str | None) -> int | None:
    """'1 234', '1,234', '1.2K', '3M', '12 просмотров' → int."""
    if not text:
        return None
    t = text.strip().lower().replace("\u00a0", " ")
    m = re.search(r"(\d+(?:[.,]\d+)?)\s*([kкmм]|тыс)?", t)
    if not m:
        return None
    num, suf = m.group(1), m.group(2)
    if suf:
        v = float(num.replace(",", "."))
        return int(round(v * (1000 if suf in ("k", "к", "тыс") else 1_000_000)))
    m2 = re.search(r"\d[\d\s,.]*", t)
    digits = re.sub(r"\D", "", m2.group()) if m2 else ""
    return int(digits) if digits else None


def query_param(url: str, name: str) -> str | None:
    v = parse_qs(urlparse(url).query).get(name)
    return v[0] if v else None


def strip_fragment(url: str) -> str:
    return urldefrag(url)[0]


def listing_hash(el: HtmlElement) -> str:
    return hashlib.sha1(text_of(el).encode("utf-8")).hexdigest()[:16]


def iso_date(raw: str | None, ctx: ParseContext) -> str | None:
    if not raw:
        return None
    try:
        dt = parse_date(raw, ctx.tz, ctx.now, order=ctx.date_order)
    except (ValueError, OverflowError, OSError):  # a page's impossible date ("0000-00-00T99:99"): no date
        return None
    return dt.isoformat() if dt else None


def with_board_tz(ctx: ParseContext, root: HtmlElement, html: str, footer_css: str) -> ParseContext:
    """`ctx` reading dates in the zone the board's footer (the elements `footer_css` selects) says its times are
    shown in; `ctx` as it is when the footer states none. The footer wins over `ctx.tz`: that is the source's
    configured zone or the crawl default (the spider merges the two, so they are not told apart), and either is
    only a guess for the page, while the footer describes the page's own times.

    A page that never says UTC or GMT is answered without the selectors (they scan the whole tree, ~0.4 ms a page;
    a substring test is microseconds)."""
    if not any(w in html for w in ("UTC", "GMT", "utc", "gmt", "Utc", "Gmt")):
        return ctx
    for el in css(root, footer_css):
        tz = board_tz_from_text(text_of(el))
        if tz:
            return replace(ctx, tz=tz)
    return ctx


def make_item(ctx: ParseContext, **kw) -> PostItem:
    kw.setdefault("language", ctx.language)
    return PostItem(source=ctx.source, kind=ctx.kind, run_id=ctx.run_id, fetched_at=ctx.fetched_at, **kw)


_CANONICAL = re.compile(r"<link\b[^>]*\brel=[\"']?canonical\b[^>]*>", re.I)
_OG_URL = re.compile(r"<meta\b[^>]*\bproperty=[\"']og:url[\"'][^>]*>", re.I)
_ATTR = {
    "href": re.compile(r"\bhref=[\"']([^\"']+)[\"']", re.I),
    "content": re.compile(r"\bcontent=[\"']([^\"']+)[\"']", re.I),
}


def saved_page_url(html: str, fallback: str) -> str:
    """The URL a saved page was fetched from, as the page itself states it (<link rel=canonical>, then og:url):
    thread and post ids are read from URLs, so a saved file parses like the live page. A relative canonical
    (as mirrors rewrite them) resolves against `fallback`."""
    head = html[:200000]
    for rx, attr in ((_CANONICAL, "href"), (_OG_URL, "content")):
        tag = rx.search(head)
        m = _ATTR[attr].search(tag.group(0)) if tag else None
        if m and m.group(1).strip():
            return urljoin(fallback, html_lib.unescape(m.group(1).strip()))
    return fallback


def rel_next(root: HtmlElement, url: str, extra_css: Iterable[str] = ()) -> str | None:
    for css in ("link[rel=next]", "a[rel=next]", *extra_css):
        el = first(root, css)
        if el is not None and el.get("href"):
            return absolute(url, el.get("href"))
    return None
