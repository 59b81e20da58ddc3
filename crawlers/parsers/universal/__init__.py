"""The engine-free extractor for discussion pages: any page → its posts or comments as `PageResult` items.

Sources of records, in the order they are trusted when they find as many posts as the markup does:
schema.org microdata posts, JSON-LD posts, then the repeated records mined from the DOM (`records`), whose
fields `fields` reads; a JSON state blob only when the markup shows no records (a client-side page). A page
with none of these is one item, its main text (trafilatura), as the old generic reading did.

`extract` also returns how the records were found and a confidence, for `brandmon sources probe` and for the
engine parsers' cross-check (`crawlers.parsers.cross_check`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from crawlers.parsers import microdata
from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ParseError,
    first_text,
    html_tree,
    iso_date,
    make_item,
    strip_fragment,
)
from crawlers.parsers.universal import embedded, fields, pagination, records
from crawlers.store_ids import post_id_for_url


@dataclass
class Extraction:
    result: PageResult
    method: str  # microdata | json-ld | dom | state | main-text | none
    confidence: float  # 0..1


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    return extract(html, url, ctx).result


def extract(html: str, url: str, ctx: ParseContext, with_article: bool = True) -> Extraction:
    """`with_article=False` skips reading the article above a comment thread (main-text extraction is most of
    the cost on such pages; the engine cross-check compares posts only)."""
    page = strip_fragment(url)
    res = PageResult(thread_url=page)
    try:
        root = html_tree(html)
    except ParseError:
        return Extraction(res, "none", 0.0)
    res.next_url = pagination.next_page(root, url)
    res.thread_title = _title(root)

    dom = records.find_records(root)
    if (dom is None or dom.score < 1.0) and records.wrap_separated(root):
        dom = records.find_records(root) or dom
    n_dom = len(dom.members) if dom else 0
    micro = microdata.post_scopes(root)
    n_micro = sum(1 for el, _ in micro if microdata._type_of(el) not in ("Article", "NewsArticle", "BlogPosting"))
    ld = embedded.json_ld_posts(root)
    ld_posts = [p for p in ld if p["kind"] == "post"]

    # posts the site marks up itself are trusted when they are as many as the mined ones; a Q&A page's marked
    # question and answers also when mining finds more (it counts the comments under them: posts of their own)
    qa = any(microdata._type_of(el) == "Answer" for el, _ in micro)
    if n_micro and (n_micro >= n_dom or qa and 2 * n_micro >= n_dom):
        types: list[str] = []
        microdata.parse_posts(root, url, ctx, res, types)
        _mark_articles(res.items, types, _is_qa_page(root))
        if with_article and microdata.only_comments(root):
            _prepend_article(html, url, ctx, res)
        return Extraction(res, "microdata", 0.9)
    # the site's own data, when it holds as many posts as mining finds: two or more, or one that the data lists
    # as the thread's post (a topic's data without its comments describes the topic, not the thread)
    listed = len(ld_posts) >= 2 or any(p.get("listed") for p in ld_posts)
    if ld_posts and listed and len(ld_posts) >= n_dom:
        _from_dicts(ld, url, ctx, res)
        return Extraction(res, "json-ld", 0.85)
    if dom is not None and dom.score > 0:
        _from_dom(root, dom, url, ctx, res)
        if res.items:
            conf = min(1.0, 0.3 + 0.15 * dom.score)
            if with_article and _are_comments(dom) and not res.items[0].extra.get("item_type"):
                _prepend_article(html, url, ctx, res)
            return Extraction(res, "dom", round(conf, 2))
    state = embedded.state_posts(root)
    if state:
        _from_dicts(state, url, ctx, res)
        return Extraction(res, "state", 0.6)
    if ld_posts:
        _from_dicts(ld, url, ctx, res)
        return Extraction(res, "json-ld", 0.6)
    if with_article:
        _prepend_article(html, url, ctx, res)
    return Extraction(res, "main-text" if res.items else "none", 0.2 if res.items else 0.0)


def _title(root) -> str | None:
    t = first_text(root, "h1")
    if t and len(t) < 300:
        return t
    og = root.find(".//meta[@property='og:title']")
    if og is not None and og.get("content"):
        return og.get("content").strip()
    t = first_text(root, "title")
    return t[:300] if t else None


def _mark_articles(items: list, types: list[str], qa_page: bool) -> None:
    """The thing a page's posts answer or comment on is its article: an Article beside comments, and on a Q&A
    page (schema.org QAPage) the Question beside its Answers. A forum that marks its thread up as a Question
    with Answers but not as a QAPage (medical boards do) keeps its opening post as a post."""
    heads = {"Article", "NewsArticle", "BlogPosting"} | ({"Question"} if qa_page and "Answer" in types else set())
    if len(types) > 1:
        for it, t in zip(items, types):
            if t in heads:
                it.extra["item_type"] = "article"


def _is_qa_page(root) -> bool:
    """The page declares itself a Q&A page: a schema.org QAPage, or answers scored by votes (upvoteCount)."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if (el.get("itemtype") or "").rstrip("/").endswith("QAPage") or el.get("itemprop") == "upvoteCount":
            return True
    return False


def _from_dom(root, dom: records.RecordSet, url: str, ctx: ParseContext, res: PageResult) -> None:
    members = dom.members
    others_all = set(members) | set(dom.inner)
    own = []
    for rec in members:
        others = others_all - {rec}
        own.append(list(fields.own_iter(rec, others)))
    authors = fields.pick_consistent([fields.author_candidates(rec, els) for rec, els in zip(members, own)])
    dates = fields.pick_consistent([fields.date_candidates(rec, els) for rec, els in zip(members, own)])
    bodies = fields.pick_consistent(
        fields.discount_template_text(
            [
                fields.body_candidates(rec, els, a[2] if a else None, d[2] if d else None, others_all - {rec})
                for rec, els, a, d in zip(members, own, authors, dates)
            ],
            dates,
        )
    )
    ids: dict = {}
    page = strip_fragment(url)
    for n, (rec, els, a, d, b) in enumerate(zip(members, own, authors, dates, bodies), 1):
        others = others_all - {rec}
        author_el = a[2] if a else None
        date_el = d[2] if d else None
        body = fields.body_of(rec, b)
        text, quotes, sig = fields.clean_text(body, rec, others, author_el, date_el)
        pid, link = fields.id_and_link(rec, els, url)
        if not pid:
            pid = f"{post_id_for_url(page)}-{n}"
            link = f"{page}#{n}"
        ids[rec] = pid
        parent = next((ids.get(x) for x in rec.iterancestors() if x in ids), None)
        date_raw = d[3] if d else None
        extra: dict[str, object] = {"extractor": "universal"}
        if dom.depth.get(rec):
            extra["depth"] = dom.depth[rec]
        if n == 1 and (_opening_of_comments(dom) or _replied_to(dom)):
            extra["item_type"] = "article"
        res.items.append(
            make_item(
                ctx,
                post_id=str(pid),
                url=link,
                text=text,
                quoted=quotes,
                signature=sig,
                thread_url=res.thread_url,
                thread_title=res.thread_title,
                author=a[3] if a else None,
                author_url=fields.absolute(url, a[4]) if a and a[4] else None,
                posted_at=iso_date(date_raw, ctx) or iso_date(fields.date_part(date_raw), ctx),
                posted_at_raw=date_raw,
                reply_to=parent,
                page_url=url,
                extra=extra,
            )
        )


_OPENING = re.compile(r"first|opening|original|description|^op$|topic-?starter|starter", re.IGNORECASE)


def _opening_of_comments(dom: records.RecordSet) -> bool:
    """A comment list whose first entry the page marks as the opening one (a bug's description shown as comment
    0, "bz_first_comment"): that entry is what the others comment on, the page's article."""
    if not _are_comments(dom) or len(dom.members) < 2:
        return False
    first, rest = dom.members[0], dom.members[1:]
    others = {w for m in rest for w in (m.get("class") or "").split()}
    return any(_OPENING.search(w) for w in (first.get("class") or "").split() if w not in others)


_MAIN = re.compile(r"^main|focal|^op$|opening|original", re.IGNORECASE)
_REPLIES = re.compile(r"repl|comment|коммент|answer|ответ", re.IGNORECASE)


def _replied_to(dom: records.RecordSet) -> bool:
    """A status page (a microblog post and its replies): the first record alone in a wrapper marked as the main
    one ("main-tweet", "focal-status") and the others in a wrapper marked as replies. The first record is what they
    answer, the page's article. A forum's opening post sits with its replies or is marked as a post of its own."""
    if len(dom.members) < 2:
        return False
    first, rest = dom.members[0], dom.members[1:]
    shared = set(first.iterancestors()) & set(rest[0].iterancestors())
    own = [a for a in first.iterancestors() if a not in shared]
    theirs = [a for a in rest[0].iterancestors() if a not in shared]
    if not any(w and _MAIN.search(w) for a in own for w in ((a.get("class") or "").split() + [a.get("id") or ""])):
        return False
    return any(_REPLIES.search(w) for a in theirs for w in ((a.get("class") or "").split() + [a.get("id") or ""]))


def _are_comments(dom: records.RecordSet) -> bool:
    """Records named comments sit under something else (an article, a video) that is not one of them."""
    key = dom.key.lower()
    return "comment" in key or "коммент" in key or "cmt" in key


def _from_dicts(posts: list[dict], url: str, ctx: ParseContext, res: PageResult) -> None:
    page = strip_fragment(url)
    stack: list[tuple[int, str]] = []
    for n, p in enumerate(posts, 1):
        pid = p.get("id") or (post_id_for_url(p["url"]) if p.get("url") else f"{post_id_for_url(page)}-{n}")
        depth = p.get("depth") or 0
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack and depth else None
        stack.append((depth, pid))
        extra: dict[str, object] = {"extractor": "universal"}
        if p["kind"] == "article":
            extra["item_type"] = "article"
        if depth:
            extra["depth"] = depth
        date = p.get("date")
        res.items.append(
            make_item(
                ctx,
                post_id=str(pid),
                url=p.get("url") or f"{page}#{pid}",
                text=p.get("text") or "",
                thread_url=res.thread_url,
                thread_title=res.thread_title,
                author=p.get("author"),
                posted_at=iso_date(str(date), ctx) if date else None,
                posted_at_raw=str(date) if date else None,
                reply_to=parent if p["kind"] == "post" else None,
                page_url=url,
                extra=extra,
            )
        )


def _prepend_article(html: str, url: str, ctx: ParseContext, res: PageResult) -> None:
    """The page's main text (trafilatura) as the first item, marked as the article: the article the comments are
    under, or a page of no records (an article without comments, a board's "topic does not exist" box), which
    then has no posts."""
    import trafilatura

    try:
        # htmldate's extensive search read every date-like string of an old board's page for seconds (10 s on one)
        raw = trafilatura.extract(
            html,
            url=url,
            output_format="json",
            with_metadata=True,
            include_comments=False,
            favor_precision=True,
            fast=True,
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception:  # noqa: BLE001 - a third-party extractor on hostile input; the records stand without it
        raw = None
    if not raw:
        return
    meta = json.loads(raw)
    text = (meta.get("text") or "").strip()
    if not text:
        return
    page = strip_fragment(url)
    res.thread_title = res.thread_title or meta.get("title")
    res.items.insert(
        0,
        make_item(
            ctx,
            post_id=post_id_for_url(page),
            url=page,
            text=text,
            thread_url=res.thread_url,
            thread_title=meta.get("title") or res.thread_title,
            author=meta.get("author"),
            posted_at=iso_date(meta.get("date"), ctx),
            posted_at_raw=meta.get("date"),
            page_url=url,
            language=meta.get("language") or ctx.language,
            extra={"item_type": "article"},
        ),
    )
