"""GNU Mailman 2 list archives (pipermail): a message page, one mail (the sender in <B>, the date in <I> above
the first rule, the body between `<!--beginarticle-->` and `<!--endarticle-->`, plain text in <PRE>), and the
month indexes (thread.html, date.html, …) that link the messages.

An engine parser because the universal extractor cannot read a message page right: it repeats nothing, and the
sender and date stand outside the message's own element, above the rule, while the body's mail attribution
("On Dec 28, 2009, X wrote:") looks like a byline. Quoted lines ("> …") go to `quoted`, the attribution names
their author; a "-- " line starts the signature, and the list footer Mailman appends is dropped.
"""

from __future__ import annotations

import re

from lxml.etree import Comment as _COMMENT

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ThreadLink,
    absolute,
    css,
    first,
    first_text,
    html_tree,
    iso_date,
    make_item,
    strip_fragment,
    text_of,
)


def detect(html: str) -> int:
    head = html[:400000]
    return 2 * sum(
        m in head
        for m in ("<!--beginarticle-->", "Messages sorted by:", "/mailman/listinfo", "pipermail", "<!--threads-->")
    )


# the attribution line a mail client writes above what it quotes: "On Mon, Dec 28, 2009, X wrote:", "X wrote:",
# "X пишет:"; the name is what follows the attribution's last comma
_ATTRIBUTION = re.compile(r"^(?:.*,\s*)?(?P<name>[^,]{1,80}?)\s+(?:wrote|writes|said|пишет|написал\(?а?\)?)\s*:\s*$")
_SEQ = re.compile(r"(?:thread|date|subject|author)\.html#(\d+)$")
_MESSAGE_HREF = re.compile(r"^(\d{6})\.html$")
# what Mailman appends to a message: the list footer (a rule of underscores, then the list's name and address) and
# the scrubber's notes on attachments ("-------------- next part --------------\nAn HTML attachment was scrubbed...")
_FOOTER = re.compile(r"(?m)^(?:_{20,}|-{5,} next part -{5,})\s*$")


def split_mail(body: str) -> tuple[str, list[dict], str | None]:
    """(own text, quoted blocks, signature) of a plain-text mail body."""
    m = _FOOTER.search(body)
    if m:
        body = body[: m.start()]
    lines = body.split("\n")
    own: list[str] = []
    quotes: list[dict] = []
    signature = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip() in ("--", "-- "):
            signature = "\n".join(lines[i + 1 :]).strip() or None
            break
        if line.lstrip().startswith(">"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith(">"):
                block.append(re.sub(r"^\s*>\s?", "", lines[i]))
                i += 1
            # the attribution is the last line written before the quote (blank lines aside)
            while own and not own[-1].strip():
                own.pop()
            author = None
            if own:
                a = _ATTRIBUTION.match(own[-1].strip())
                if a:
                    author = a.group("name").strip()
                    own.pop()
            text = "\n".join(block).strip()
            if text:
                quotes.append({"author": author, "post_id": None, "text": text})
            continue
        own.append(line)
        i += 1
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(own)).strip()
    return text, quotes, signature


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    page = strip_fragment(url)
    subject = first_text(root, "h1") or None
    res = PageResult(thread_url=page, thread_title=subject)
    body = _article(root)
    if body is not None:
        seq = next(
            (m.group(1) for a in css(root, "a[href]") if (m := _SEQ.search(a.get("href", "")))),
            None,
        )
        stem = page.rsplit("/", 1)[-1]
        pid = seq or (str(int(stem[:-5])) if _MESSAGE_HREF.match(stem) else None)  # 021281.html is message 21281
        text, quotes, sig = split_mail(body)
        date_raw = first_text(root, "body > i") or first_text(root, "i")
        author = first_text(root, "body > b") or None
        res.thread_id = pid
        res.items.append(
            make_item(
                ctx,
                post_id=pid or page,
                url=page,
                text=text,
                quoted=quotes,
                signature=sig,
                thread_url=page,
                thread_id=pid,
                thread_title=subject,
                author=author,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=date_raw,
                page_url=url,
            )
        )
        return res
    # a month's index: every message page it links is a thread of one post; the list's archive page links the months
    seen = set()
    for a in css(root, "a[href]"):
        href = a.get("href", "")
        m = _MESSAGE_HREF.match(href)
        if m and m.group(1) not in seen:
            seen.add(m.group(1))
            link = absolute(url, href)
            if link:
                res.thread_links.append(ThreadLink(url=link, thread_id=str(int(m.group(1))), title=text_of(a) or None))
        elif href.endswith("/thread.html") or href == "thread.html":
            link = absolute(url, href)
            if link and link not in res.board_links and strip_fragment(link) != page:
                res.board_links.append(link)
    return res


def _article(root) -> str | None:
    """The message body: what stands between the <!--beginarticle--> and <!--endarticle--> comments."""
    start = next((c for c in root.iter(tag=_COMMENT) if (c.text or "").strip() == "beginarticle"), None)
    if start is None:
        return None
    parts = []
    if start.tail and start.tail.strip():
        parts.append(start.tail)
    for sib in start.itersiblings():
        if not isinstance(sib.tag, str):
            if (sib.text or "").strip() == "endarticle":
                break
        else:
            pre = first(sib, "pre")  # (the element itself included)
            parts.append(_pre_text(pre) if pre is not None else text_of(sib))
        if sib.tail and sib.tail.strip():
            parts.append(sib.tail)
    return "\n".join(parts)


def _pre_text(pre) -> str:
    """A <PRE> body's lines as written (text_of would also read the <I> that pipermail wraps quoted lines in)."""
    return "".join(pre.itertext())
