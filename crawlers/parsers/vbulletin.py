"""vBulletin 3, 4 and 5 (Connect) thread and forumdisplay pages."""

from __future__ import annotations

import re

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ThreadLink,
    absolute,
    by_id,
    css,
    first,
    first_text,
    html_tree,
    iso_date,
    listing_hash,
    make_item,
    parse_int,
    query_param,
    rel_next,
    split_post,
    strip_fragment,
    text_of,
    with_board_tz,
)

QUOTE_LABELS = ("quote:", "цитата:", "цитата")
# where vBulletin states the zone its times are shown in ("All times are GMT -5. The time now is …"): vB 4, vB 5, vB 3
_FOOTER_CSS = "#footer_time, #footer-current-datetime, div.smallfont[align=center]"


def detect(html: str) -> int:
    score = 0
    for marker in (
        'id="post_message_',
        "vbulletin",
        "vbmenu_register",
        "showthread.php",
        "postbitlegacy",
        "js-post__content-text",
        "data-node-publishdate",
    ):
        if marker in html[:400000]:
            score += 1
    return score * 2


def _vb3_quote(q) -> dict:
    who = first(q, "strong")
    link = first(q, "a[href*='p=']")
    pid = None
    if link is not None:
        m = re.search(r"[?&]p=(\d+)", link.get("href", ""))
        pid = m.group(1) if m else None
    body = first(q, "td.alt2") or q
    text = text_of(body)
    for prefix in ("Originally Posted by", "Сообщение от"):
        if who is not None and text.startswith(prefix):
            text = text.split("\n", 1)[1] if "\n" in text else ""
    return {"author": text_of(who) if who is not None else None, "post_id": pid, "text": text.strip()}


def _vb4_quote(q) -> dict:
    who = first(q, ".bbcode_postedby strong")
    link = first(q, ".bbcode_postedby a[href*='p=']")
    pid = None
    if link is not None:
        m = re.search(r"[?&]p=(\d+)", link.get("href", ""))
        pid = m.group(1) if m else None
    msg = first(q, ".message") or first(q, ".quote_container") or q
    return {"author": text_of(who) if who is not None else None, "post_id": pid, "text": text_of(msg)}


def _vb5_thread(root, url: str) -> tuple[str | None, str]:
    """vB5 thread URLs end in /<node id>-<slug>[/pageN]; the first post's node id is the thread's."""
    canon = first(root, "link[rel=canonical]")
    for u in (url, canon.get("href") if canon is not None else ""):
        m = re.search(r"^(.*?/(\d+)-[^/?#]+?)(?:/page\d+)?/?(?:[?#].*)?$", u or "")
        if m:
            return m.group(2), m.group(1)
    starter = first(root, "li.b-post--first[data-node-id]")
    return (starter.get("data-node-id") if starter is not None else None), strip_fragment(url)


def _parse_vb5(root, url: str, ctx: ParseContext, res: PageResult, posts) -> None:
    tid, thread_url = _vb5_thread(root, url)
    res.thread_id, res.thread_url = tid, thread_url
    res.thread_title = (
        first_text(root, "h1.main-title") or first_text(root, "li.b-post--first h2.b-post__title") or res.thread_title
    )
    if res.thread_title and res.thread_title.startswith("["):  # thread prefix link ("[Spring 2019]") before the title
        res.thread_title = re.sub(r"^\[[^\]]*\]\s*", "", res.thread_title) or res.thread_title
    for p in posts:
        pid = p.get("data-node-id")
        body = first(p, ".js-post__content-text")
        if body is None:
            continue
        text, quotes, _ = split_post(body, ".bbcode_container", _vb4_quote)
        user = first(p, ".b-userinfo__details .author a") or first(p, "[itemprop=author] [itemprop=name]")
        tm = first(p, "time[itemprop=dateCreated]") or first(p, ".b-post__timestamp time")
        # data-node-publishdate is a unix time; the <time datetime> is naive in the board's own zone
        date_raw = p.get("data-node-publishdate") or (tm.get("datetime") if tm is not None else None)
        counter = first(p, "a.b-post__count")
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=absolute(url, counter.get("href")) if counter is not None else f"{thread_url}#post{pid}",
                text=text,
                quoted=quotes,
                signature=first_text(p, ".post-signature"),
                thread_url=thread_url,
                thread_id=tid,
                thread_title=res.thread_title,
                author=text_of(user) or None if user is not None else None,
                author_url=absolute(url, user.get("href")) if user is not None and user.get("href") else None,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=(text_of(tm) or date_raw) if tm is not None else date_raw,
                likes=parse_int(first_text(p, ".b-post__like-count, .js-votecount")),
                page_url=url,
                reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
            )
        )


def _thread_ids(root, url: str) -> tuple[str | None, str]:
    tid = query_param(url, "t")
    if tid is None:
        m = re.search(r"showthread\.php/(\d+)", url) or re.search(r"/threads?/(\d+)", url)
        tid = m.group(1) if m else None
    if tid is None:
        for a in css(root, "a[href*='showthread.php?t='], a[href*='threadid=']"):
            m = re.search(r"(?:[?&]t=|threadid=)(\d+)", a.get("href", ""))
            if m:
                tid = m.group(1)
                break
    base = url.split("?")[0]
    thread_url = (
        f"{base}?t={tid}" if tid and "showthread.php" in base and "showthread.php/" not in url else strip_fragment(url)
    )
    return tid, thread_url


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    ctx = with_board_tz(ctx, root, html, _FOOTER_CSS)
    tid, thread_url = _thread_ids(root, url)
    title = (
        first_text(root, "span.threadtitle")
        or first_text(root, "#pagetitle .threadtitle")
        or first_text(root, "td.navbar strong")
        or " ".join((first_text(root, "title") or "").split()).split(" - ")[0]
        or None
    )
    res = PageResult(thread_url=thread_url, thread_id=tid, thread_title=title)
    res.next_url = rel_next(root, url)
    vb5 = css(root, "li.b-post[data-node-id]")
    if vb5:
        _parse_vb5(root, url, ctx, res, vb5)
        return res

    posts = css(root, "li.postcontainer[id^=post_], li[id^=post_].postbit, li[id^=post_].postbitlegacy")
    if posts:
        for p in posts:
            pid = p.get("id").split("_", 1)[1]
            user = first(p, ".username") or first(p, "a.username")
            date_raw = first_text(p, "span.date") or first_text(p, ".postdate")
            body = by_id(p, f"post_message_{pid}") or first(p, ".postcontent")
            if body is None:
                continue
            text, quotes, _ = split_post(body, ".bbcode_container", _vb4_quote)
            sig = first_text(p, ".signature") or None
            counter = first(p, "a.postcounter")
            likes = parse_int(first_text(p, ".vbseo_liked, .postlikes, .likes"))
            res.items.append(
                make_item(
                    ctx,
                    post_id=pid,
                    url=(
                        absolute(url, counter.get("href"))
                        if counter is not None
                        else f"{strip_fragment(url)}#post{pid}"
                    ),
                    text=text,
                    quoted=quotes,
                    signature=sig,
                    thread_url=thread_url,
                    thread_id=tid,
                    thread_title=title,
                    author=text_of(user) or None if user is not None else None,
                    author_url=absolute(url, user.get("href")) if user is not None else None,
                    posted_at=iso_date(date_raw, ctx),
                    posted_at_raw=date_raw,
                    likes=likes,
                    page_url=url,
                    reply_to=quotes[0]["post_id"] if quotes else None,
                )
            )
    else:
        for p in css(root, "table[id^=post]"):
            m = re.fullmatch(r"post(\d+)", p.get("id", ""))
            if not m:
                continue
            pid = m.group(1)
            body = by_id(p, f"post_message_{pid}")
            if body is None:
                continue
            user = first(p, "a.bigusername") or by_id(p, f"postmenu_{pid}", link=True) or by_id(p, f"postmenu_{pid}")
            head = first(p, "td.thead")
            date_raw = None
            if head is not None:
                date_raw = " ".join(t.strip() for t in head.xpath("./text()") if t.strip()) or None
            quote_css = "div[style*='margin:20px']"
            text, quotes, _ = split_post(body, quote_css, _vb3_quote)
            sig_el = p.xpath(".//comment()[contains(., 'sig')]/following-sibling::div[1]")
            sig = text_of(sig_el[0]).lstrip("_").strip() if sig_el else None
            res.items.append(
                make_item(
                    ctx,
                    post_id=pid,
                    url=(
                        f"{url.split('?')[0]}?p={pid}#post{pid}"
                        if "showthread.php" in url
                        else f"{strip_fragment(url)}#post{pid}"
                    ),
                    text=text,
                    quoted=quotes,
                    signature=sig or None,
                    thread_url=thread_url,
                    thread_id=tid,
                    thread_title=title,
                    author=text_of(user) or None if user is not None else None,
                    author_url=absolute(url, user.get("href")) if user is not None and user.get("href") else None,
                    posted_at=iso_date(date_raw, ctx),
                    posted_at_raw=date_raw,
                    page_url=url,
                    reply_to=quotes[0]["post_id"] if quotes else None,
                )
            )
    if not res.items:
        _parse_listing(root, url, res)
    return res


def _parse_vb5_listing(root, url: str, res: PageResult) -> None:
    """vB5 channel pages: tbody.topic-list rows with a.topic-title.js-topic-title links to /<node id>-<slug>."""
    seen = set()
    for a in css(root, "a.topic-title"):
        href = absolute(url, a.get("href"))
        m = re.search(r"^(.*?/(\d+)-[^/?#]+?)(?:/page\d+)?/?(?:[?#].*)?$", href or "")
        if not m or m.group(2) in seen:
            continue
        seen.add(m.group(2))
        row = next((anc for anc in a.iterancestors() if anc.tag == "tr"), a)
        replies = parse_int(first_text(row, ".posts-count, td.cell-count"))
        res.thread_links.append(
            ThreadLink(
                url=m.group(1), thread_id=m.group(2), title=text_of(a), replies=replies, listing_hash=listing_hash(row)
            )
        )


def _parse_listing(root, url: str, res: PageResult) -> None:
    if css(root, "a.topic-title.js-topic-title"):
        _parse_vb5_listing(root, url, res)
        return
    seen = set()
    for a in css(root, "a[id^=thread_title_], a.title[href*='showthread.php'], h3.threadtitle a.title"):
        href = absolute(url, a.get("href"))
        m = re.search(r"(?:[?&]t=|showthread\.php/)(\d+)", href or "")
        if not href or not m or m.group(1) in seen:
            continue
        seen.add(m.group(1))
        row = next((anc for anc in a.iterancestors() if anc.tag in ("li", "tr")), a)
        replies = None
        stats = first_text(row, ".threadstats li, td.alt2 a[href*='misc.php?do=whoposted']")
        if stats:
            replies = parse_int(stats)
        tid = m.group(1)
        res.thread_links.append(
            ThreadLink(
                url=f"{href.split('?')[0]}?t={tid}" if "showthread.php?" in href else href,
                thread_id=tid,
                title=text_of(a),
                replies=replies,
                listing_hash=listing_hash(row),
            )
        )
    for a in css(root, "a[href*='forumdisplay.php']"):
        href = absolute(url, a.get("href"))
        if href and query_param(href, "f") and href not in res.board_links:
            res.board_links.append(href)
