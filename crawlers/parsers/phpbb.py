"""phpBB 3 (prosilver and derivatives) and phpBB 2 (subSilver) viewtopic / viewforum pages, and TorrentPier (the
phpBB 2 fork behind rutracker.org and many Russian trackers: one `tbody#post_N` per post, `p.nick`, `a.p-link`,
`div.post_body`)."""

from __future__ import annotations

import copy
import re

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ThreadLink,
    absolute,
    css,
    drop,
    first,
    first_text,
    html_tree,
    inner_text,
    iso_date,
    listing_hash,
    make_item,
    query_param,
    rel_next,
    split_post,
    strip_fragment,
    text_of,
    with_board_tz,
)

_WROTE = re.compile(r"^(.*?)\s+(?:wrote|писал\(а\)|пишет|написал\(а\)|написал|писал)\s*:?\s*(?:↑)?\s*$", re.I)


def detect(html: str) -> int:
    head = html[:400000]
    score = 0
    for marker in (
        "viewtopic.php",
        "phpbb",
        "prosilver",
        'class="postbody"',
        "memberlist.php?mode=viewprofile",
        'id="topic_main"',
        'class="p-link',
    ):  # the last two: TorrentPier
        if marker in head:
            score += 1
    return score * 2


def _quote(q) -> dict:
    cite = first(q, "cite")
    author = None
    pid = None
    if cite is not None:
        link = first(cite, "a[href*='p=']")
        if link is not None:
            m = re.search(r"[?&]p=(\d+)", link.get("href", ""))
            pid = m.group(1) if m else None
        a = first(cite, "a")
        cc = copy.deepcopy(cite)
        for d in css(cc, "span.responsive-hide"):  # phpBB 3.2+ appends the quoted post's date
            d.drop_tree()
        ctext = inner_text(cc)
        m = _WROTE.match(ctext)
        author = m.group(1).strip() if m else (inner_text(a) if a is not None else ctext or None)
        qq = copy.deepcopy(q)
        for c in css(qq, "cite"):
            c.drop_tree()
        return {"author": author, "post_id": pid, "text": text_of(qq)}
    return {"author": q.get("data-author"), "post_id": None, "text": text_of(q)}


def _post_url(page_url: str, pid: str, anchor: str = "p") -> str:
    """A post's permalink beside the page's script: `…/viewtopic.php?p=ID#pID` (TorrentPier anchors `#ID`)."""
    return f"{page_url.split('?')[0].rsplit('/', 1)[0]}/viewtopic.php?p={pid}#{anchor}{pid}"


def _no_sid(url: str | None) -> str | None:
    """Drop phpBB's per-visit session id, so one member keeps one profile URL across crawls."""
    if not url or "sid=" not in url:
        return url
    return re.sub(r"[?&]$", "", re.sub(r"([?&])sid=[0-9a-f]+(&|$)", lambda m: m.group(1) if m.group(2) else "", url))


def _title_from_head(root) -> str | None:
    """ "Board :: View topic - Title" (phpBB 2), "Title - Board" (phpBB 3)."""
    t = " ".join((first_text(root, "title") or "").split())
    m = re.search(r"(?:View topic|Просмотр темы)\s*-\s*(.+)$", t)
    return m.group(1) if m else None


def _ids(root, url: str) -> tuple[str | None, str]:
    tid = query_param(url, "t")
    if tid is None:
        for a in css(root, "a[href*='viewtopic.php']"):
            tid = query_param(absolute(url, a.get("href")) or "", "t")
            if tid:
                break
    base = url.split("?")[0]
    return tid, (f"{base}?t={tid}" if tid and base.endswith("viewtopic.php") else strip_fragment(url))


# where phpBB states the zone its times are shown in (3.x page footer, subsilver2's p.datetime)
_FOOTER_CSS = "#page-footer li.rightside, #page-footer, .page-footer, p.datetime, div.copyright"


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    ctx = with_board_tz(ctx, root, html, _FOOTER_CSS)
    tid, thread_url = _ids(root, url)
    title = (
        first_text(root, "h2.topic-title")
        or first_text(root, "h2 a[href*='viewtopic']")
        or first_text(root, "a.maintitle")
        or first_text(root, ".maintitle a[href*='viewtopic']")
        or first_text(root, "h2")
        or _title_from_head(root)
    )
    res = PageResult(thread_url=thread_url, thread_id=tid, thread_title=title)
    res.next_url = rel_next(root, url, ("li.next a", "a.next", "li.arrow.next a"))
    if res.next_url and "view=next" in res.next_url:  # phpBB 2 links the next *topic*, not the next page
        res.next_url = None
    posts = [p for p in css(root, "div.post[id]") if re.fullmatch(r"p\d+", p.get("id", ""))]
    if posts:
        for p in posts:
            pid = p.get("id")[1:]
            content = first(p, "div.content")
            if content is None:
                continue
            text, quotes, _ = split_post(content, "blockquote", _quote)
            sig = first_text(p, "div.signature")
            author_el = (
                first(p, "p.author a.username")
                or first(p, "p.author a.username-coloured")
                or first(p, "p.author strong a")
                or first(p, ".postprofile dt a.username")
                or first(p, ".postprofile dt a.username-coloured")
                or first(p, "p.author strong")
            )
            tm = first(p, "p.author time") or first(p, ".author time")
            if tm is not None and tm.get("datetime"):
                date_raw = tm.get("datetime")
            else:
                au = first(p, "p.author")
                raw = text_of(au) if au is not None else ""
                date_raw = re.split(r"»|&raquo;|\u00bb", raw)[-1].strip() if "»" in raw else raw
                if author_el is not None and "»" not in raw:
                    date_raw = raw.replace(text_of(author_el), "").replace("by", "").replace("Сообщение", "").strip()
            res.items.append(
                make_item(
                    ctx,
                    post_id=pid,
                    url=_post_url(url, pid),
                    text=text,
                    quoted=quotes,
                    signature=sig,
                    thread_url=thread_url,
                    thread_id=tid,
                    thread_title=title,
                    author=text_of(author_el) or None if author_el is not None else None,
                    author_url=(
                        _no_sid(absolute(url, author_el.get("href")))
                        if author_el is not None and author_el.get("href")
                        else None
                    ),
                    posted_at=iso_date(date_raw, ctx),
                    posted_at_raw=date_raw or None,
                    page_url=url,
                    reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
                )
            )
    elif css(root, "tbody[id^=post_] div.post_body"):
        _parse_torrentpier(root, url, ctx, res)
    else:
        _parse_phpbb2(root, url, ctx, res)
        if not res.items and "postauthor" in html:  # a substring test: listing pages skip the tree search
            _parse_subsilver2(root, url, ctx, res)
    if not res.items:
        _parse_listing(root, url, res)
    return res


def _tp_quote(q) -> dict:
    """TorrentPier's [quote="Name"]: <div class="q-wrap"><div class="q" head="Name">, the quoted post's id (newer
    versions) in a leading <u class="q-post">."""
    inner = first(q, "div.q") or q
    head = (inner.get("head") or "").strip()
    m = _WROTE.match(head)
    # inner_text: text_of would add the quote's words that follow the id
    pid = next((t for t in (inner_text(u) for u in css(inner, "u.q-post")) if t.isdigit()), None)
    text, _, _ = split_post(inner, None, remove_css="u.q-post")
    return {"author": (m.group(1).strip() if m else head) or None, "post_id": pid, "text": text}


def _parse_torrentpier(root, url: str, ctx: ParseContext, res: PageResult) -> None:
    """TorrentPier viewtopic: tbody#post_N > td.poster_info p.nick | td.message a.p-link (date) + div.post_body;
    the profile link sits in the post's second row (td.poster_btn)."""
    for p in css(root, "tbody[id^=post_]"):
        m = re.fullmatch(r"post_(\d+)", p.get("id", ""))
        body = first(p, "div.post_body")
        if not m or body is None:
            continue
        pid = m.group(1)
        text, quotes, _ = split_post(body, "div.q-wrap", _tp_quote)
        date_raw = first_text(p, "p.post-time a.p-link") or first_text(p, "a.p-link")
        profile = first(p, "a[href*='mode=viewprofile']")
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=_post_url(url, pid, anchor=""),
                text=text,
                quoted=quotes,
                signature=first_text(p, "div.signature"),
                thread_url=res.thread_url,
                thread_id=res.thread_id,
                thread_title=res.thread_title,
                author=first_text(p, "p.nick"),
                author_url=absolute(url, profile.get("href")) if profile is not None else None,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=date_raw,
                page_url=url,
                reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
            )
        )
    if res.next_url is None:  # "Страницы: 1, 2  След." links the next page by its words only
        nxt = next((a for a in css(root, "a.pg") if text_of(a) in ("След.", "Next")), None)
        res.next_url = absolute(url, nxt.get("href")) if nxt is not None else None


def _parse_phpbb2(root, url: str, ctx: ParseContext, res: PageResult) -> None:
    for name in css(root, "span.name"):
        anchor = first(name, "a[name]")
        if anchor is None:
            continue
        pid = anchor.get("name")
        row = next((a for a in name.iterancestors() if a.tag == "tr"), None)
        if row is None:
            continue
        body = first(row, "td.postbody") or first(row, "span.postbody")
        if body is None:
            continue
        date_raw = _phpbb2_date(row)
        # phpBB 2 appends the signature after a "_________________" line in the same cell or the next row
        text, quotes, _ = split_post(body, "table", lambda q: {"text": text_of(q)})
        sig = None
        if "_________________" in text:
            text, sig = (x.strip() for x in text.split("_________________", 1))
        else:
            nxt = row.getnext()
            gm = first(row, "td.genmed") or (first(nxt, "td.genmed") if nxt is not None else None)
            if gm is not None and "_________________" in text_of(gm):
                sig = text_of(gm).split("_________________", 1)[1].strip() or None
        # the name's first line: a MOD may print the poster's custom title under it in the same span
        author = next(iter(inner_text(first(name, "strong") or first(name, "b") or name).split("\n")), "").strip()
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=f"{url.split('?')[0]}?p={pid}#{pid}",
                text=text,
                quoted=quotes,
                signature=sig,
                thread_url=res.thread_url,
                thread_id=res.thread_id,
                thread_title=res.thread_title,
                author=author or None,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=date_raw,
                page_url=url,
            )
        )


def _ss2_quote(q) -> dict:
    """subsilver2's quote: `div.quotetitle` ("Name wrote:") right before its `div.quotecontent`."""
    title = q.getprevious()
    author = None
    if title is not None and "quotetitle" in (title.get("class") or ""):
        m = _WROTE.match(text_of(title))
        author = m.group(1).strip() if m else None
        drop(title)
    return {"author": author, "post_id": None, "text": text_of(q)}


def _parse_subsilver2(root, url: str, ctx: ParseContext, res: PageResult) -> None:
    """phpBB 3.0's subsilver2 style (table layout): a post opens with a row holding `a[name=pN]` and the author
    (`b.postauthor`, `span.postauthor` in some themes) beside "Post subject: … Posted: DATE"; the rows after it,
    up to the next post's, hold the profile column, `div.postbody` (quotes are `div.quotetitle` +
    `div.quotecontent`), the signature (a `span.postbody` after "_________________") and the profile button."""
    heads: list[tuple] = []
    for name in css(root, ".postauthor"):
        cell = name.getparent()
        row = next((a for a in name.iterancestors() if a.tag == "tr"), None)
        if cell is None:
            continue
        pid = next((a.get("name")[1:] for a in css(cell, "a[name]") if re.fullmatch(r"p\d+", a.get("name"))), None)
        if row is not None and pid and (not heads or heads[-1][0] is not row):
            heads.append((row, pid, name))
    starts = {id(h[0]) for h in heads}
    for row, pid, name in heads:
        rows = [row]
        for sib in row.itersiblings("tr"):
            if id(sib) in starts:
                break
            rows.append(sib)
        body = next((b for r in rows for b in css(r, "div.postbody")), None)
        if body is None:
            continue
        text, quotes, _ = split_post(body, "div.quotecontent", _ss2_quote)
        sig = next(
            (text_of(s) for r in rows for s in css(r, "span.postbody") if "_________________" in text_of(s)), None
        )
        if sig is not None:
            sig = sig.split("_________________", 1)[1].strip() or None
        m = _POSTED.search(text_of(row))
        date_raw = m.group(1).strip() if m else None
        profile = next((a for r in rows for a in css(r, "a[href*='mode=viewprofile']")), None)
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=_post_url(url, pid),
                text=text,
                quoted=quotes,
                signature=sig,
                thread_url=res.thread_url,
                thread_id=res.thread_id,
                thread_title=res.thread_title,
                author=text_of(name) or None,
                author_url=_no_sid(absolute(url, profile.get("href"))) if profile is not None else None,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=date_raw,
                page_url=url,
            )
        )


_POSTED = re.compile(r"(?:Posted|Добавлено|Отправлено):\s*(.+?)(?:\s+(?:Post subject|Заголовок).*)?$", re.S)


def _phpbb2_date(row) -> str | None:
    """The post's date: the "Posted: …" details, else details that are a date; the profile column's details
    (also `span.postdetails`, first in the row: "Joined: 11 Feb 2002", "Posts: 359") are not it."""
    from crawlers.parsers.universal.evidence import NOT_POST_DATE, looks_like_date

    plain = None
    for details in css(row, "td.postdetails, span.postdetails"):
        t = text_of(details)
        m = _POSTED.search(t)
        if m:
            return m.group(1).strip()
        if plain is None and looks_like_date(t) and not NOT_POST_DATE.search(t):
            plain = t.strip()
    return plain


def _parse_listing(root, url: str, res: PageResult) -> None:
    seen = set()
    for a in css(root, "a.topictitle"):
        href = absolute(url, a.get("href"))
        tid = query_param(href or "", "t")
        if not href or not tid or tid in seen:
            continue
        seen.add(tid)
        row = next((anc for anc in a.iterancestors() if anc.tag in ("li", "tr")), a)
        replies = None
        dd = first(row, "dd.posts")
        if dd is not None:
            from crawlers.parsers.base import parse_int

            replies = parse_int(text_of(dd))
        res.thread_links.append(
            ThreadLink(
                url=f"{href.split('?')[0]}?t={tid}",
                thread_id=tid,
                title=text_of(a),
                replies=replies,
                listing_hash=listing_hash(row),
            )
        )
    for a in css(root, "a.forumtitle, a[href*='viewforum.php']"):
        href = absolute(url, a.get("href"))
        if href and query_param(href, "f") and href not in res.board_links:
            res.board_links.append(href)
