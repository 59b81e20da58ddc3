"""Simple Machines Forum 1.x, 2.0 and 2.1 topic and board pages."""

from __future__ import annotations

import copy
import re

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ThreadLink,
    absolute,
    css,
    first,
    first_text,
    html_tree,
    inner_text,
    iso_date,
    listing_hash,
    make_item,
    rel_next,
    split_post,
    strip_fragment,
    text_of,
)


def detect(html: str) -> int:
    head = html[:400000]
    return 2 * sum(
        m in head
        for m in ("smf_", "index.php?topic=", "Simple Machines", 'class="post_wrapper"', "quoteheader", 'id="msg_')
    )


def _topic_id(url: str) -> str | None:
    m = re.search(r"topic[=,](\d+)", url)
    return m.group(1) if m else None


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    tid = _topic_id(url)
    title = first_text(root, "#top_subject")
    if title:
        title = re.sub(r"^(Topic|Тема):\s*", "", title)
        title = re.sub(r"\s*\((Read|Прочитано)[^)]*\)\s*$", "", title).strip()
    res = PageResult(thread_id=tid, thread_title=title, thread_url=strip_fragment(url))
    res.next_url = rel_next(root, url, ("div.pagelinks strong + a", "a.navPages + a.navPages"))
    if res.next_url and "prev_next" in res.next_url:  # <link rel=next> names the next *topic* in SMF
        res.next_url = None
    for inner in css(root, "div.inner[id^=msg_], div.post div[id^=msg_]"):
        m = re.fullmatch(r"msg_(\d+)", inner.get("id", ""))
        if not m:
            continue
        pid = m.group(1)
        wrapper = next(
            (
                a
                for a in inner.iterancestors()
                if "post_wrapper" in (a.get("class") or "") or re.search(r"\bwindowbg2?\b", a.get("class") or "")
            ),
            None,
        )
        if wrapper is None:
            continue
        # quotes: the header div and the blockquote that follows it
        quotes = []
        for hdr in css(inner, "div.quoteheader"):
            bq = hdr.getnext()
            while bq is not None and bq.tag != "blockquote":
                bq = bq.getnext()
            htxt = text_of(hdr)
            am = re.search(r"(?:Quote from|Цитата:?\s*)\s*:?\s*(.+?)(?:\s+(?:on|от)\s+.*)?$", htxt)
            link = first(hdr, "a[href*='msg']")
            qm = re.search(r"msg(\d+)", link.get("href", "")) if link is not None else None
            qpid = qm.group(1) if qm else None
            quotes.append(
                {
                    "author": am.group(1).strip() if am else None,
                    "post_id": qpid,
                    "text": text_of(bq) if bq is not None else "",
                }
            )
        # SMF 2.1: <blockquote class="bbc_standard_quote"><cite><a href="…msg123#msg123">Quote from: X on …</a></cite>…
        for bq in css(inner, "blockquote"):
            cite = next((c for c in bq if c.tag == "cite"), None)
            if cite is None or any(bq in q.iterdescendants() for q in css(inner, "blockquote") if q is not bq):
                continue
            ctext = inner_text(cite)
            am = re.search(r"(?:Quote from|Цитата)\s*:?\s*(.+?)(?:\s+(?:on|от)\s+.*)?$", ctext)
            link = first(cite, "a[href*='msg']")
            lm = re.search(r"msg(\d+)", link.get("href", "")) if link is not None else None
            body = copy.deepcopy(bq)
            for c in body:
                if c.tag == "cite":
                    c.drop_tree()
                    break
            quotes.append(
                {
                    "author": am.group(1).strip() if am else None,
                    "post_id": lm.group(1) if lm else None,
                    "text": text_of(body),
                }
            )
        text, _, _ = split_post(
            inner, "div.quoteheader, blockquote, div.quotefooter, div.topslice_quote, div.botslice_quote"
        )
        author_el = first(wrapper, "div.poster h4 a") or first(wrapper, "div.poster h4")
        keyinfo = first(wrapper, "div.keyinfo div.smalltext") or first(wrapper, "div.keyinfo")
        date_raw = None
        info = first(wrapper, "div.postinfo a.smalltext") or first(wrapper, "div.postinfo a[title]")
        if info is not None:  # SMF 2.1: the date is the post link's text
            date_raw = text_of(info) or None
        elif keyinfo is not None:
            t = text_of(keyinfo)
            t = re.sub(r"^.*?\b(?:on|от|в)\s*:\s*", "", t.replace("«", "").replace("»", "").strip(), count=1)
            date_raw = t.strip() or None
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=f"{strip_fragment(url)}#msg{pid}",
                text=text,
                quoted=quotes,
                signature=first_text(wrapper, "div.signature"),
                thread_url=res.thread_url,
                thread_id=tid,
                thread_title=title or first_text(wrapper, "h5"),
                author=text_of(author_el) or None if author_el is not None else None,
                author_url=(
                    absolute(url, author_el.get("href")) if author_el is not None and author_el.get("href") else None
                ),
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=date_raw,
                page_url=url,
                reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
            )
        )
    if not res.items:
        seen = set()
        for a in css(root, "span[id^=msg_] a, td.subject a[href*='topic=']"):
            href = absolute(url, a.get("href"))
            topic = _topic_id(href) if href else None
            if href and topic and topic not in seen:
                seen.add(topic)
                row = next((anc for anc in a.iterancestors() if anc.tag in ("tr", "li", "div")), a)
                res.thread_links.append(
                    ThreadLink(url=href, thread_id=topic, title=text_of(a), listing_hash=listing_hash(row))
                )
    return res
