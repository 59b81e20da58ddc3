"""Find the repeated post/comment records of a page by structure alone (in the spirit of MDR/DEPTA).

Each element gets, in one bottom-up pass, its visible text length, the part of it inside links, and how many
date and author signs it holds. Candidate record sets are elements sharing a class word or an id stem (post12,
post13 → "post#") anywhere in the page, so nested comment trees form one set, and same-tag siblings with no
class under one parent. Each member is measured on its *own* content (nested members of the same set taken
out), and a set scores high when many members each carry an author and a date sign, their text is not mostly
links, and together they cover much of the page's text. The best set's members are the records; a member's
depth is how many other members enclose it.

The best-scoring set is then checked against its neighbours, each step a rule about discussion pages in
general: answers that hold comments are the posts (`_outer_posts`); an opening post numbered or built like the
replies joins them (`_with_opening_post`, `_with_opening_like_comments`); comments beside a single article are
the records (`_comments_beside`). Posts that own no element (runs between <hr>, several table rows per post)
are wrapped first, as MDR's generalized nodes (`wrap_separated`, `wrap_periodic_rows`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from crawlers.parsers.universal.evidence import (
    AUTHOR_HINT,
    BYLINE,
    CHROME_HINT,
    DATE_HINT,
    NOT_POST_DATE,
    NOT_RECORD_TAGS,
    QUOTE_HINT,
    RECORD_HINT,
    SIGNATURE_HINT,
    date_attr,
    is_profile_href,
    looks_like_date,
    marked,
    poster_panel,
)

_SKIP = {"script", "style", "noscript", "template", "svg", "head", "select", "option", "textarea"}
_STATE_TOKEN = re.compile(
    r"^(?:odd|even|alt#?|first|last|online|offline|new|unread|read|active|selected|current|"
    r"highlight\w*|clearfix|clear|row#?|col|hidden|visible|js-?\w*|is-?\w+|has-?\w+|"
    r"[a-z]{0,2}#?|bg#?|windowbg#?|\w*#\w*#\w*)$"
)
_DIGITS = re.compile(r"\d+")
LAYOUT_HINT = re.compile(
    r"section|widget|sidebar|column|container|wrapper|layout|region|^main|^page|area|grid|"
    r"^col-|^span\d|^row$|footer|header|^nav|menu",
    re.IGNORECASE,
)
COMMENT_KEY = re.compile(r"comment|коммент|cmt", re.IGNORECASE)


@dataclass
class Agg:
    """Sums over an element's subtree (its tail excluded)."""

    text: int = 0  # visible characters
    link: int = 0  # of which inside <a>
    dates: int = 0  # date signs
    authors: int = 0  # author signs
    quotes: int = 0  # text inside quote blocks


@dataclass
class RecordSet:
    key: str
    members: list = field(default_factory=list)
    score: float = 0.0
    depth: dict = field(default_factory=dict)
    inner: list = field(default_factory=list)  # comments inside the records (under a Q&A answer): not their own


def _strlen(s: str | None) -> int:
    return len(s.strip()) if s else 0


def aggregates(root) -> tuple[list, dict]:
    """(elements of the body in document order, element → Agg) in one pass from the leaves up."""
    # everything outside <head>: a broken page can leave <body> empty and its content beside it under <html>
    els = [el for el in root.iter() if isinstance(el.tag, str)]
    head = root.find("head")
    if head is not None:
        skip = set(head.iter())
        els = [el for el in els if el not in skip]
    agg: dict = {}
    for el in reversed(els):
        a = Agg()
        tag = el.tag
        if tag in _SKIP:
            agg[el] = a
            continue
        a.text = _strlen(el.text)
        text = el.text
        if text and _post_date(text):
            a.dates += 1
        for ch in el:
            tail = ch.tail
            if tail:
                n = _strlen(tail)
                a.text += n
                if n and _post_date(tail):
                    a.dates += 1
            c = agg.get(ch)
            if c is None:
                continue
            a.text += c.text
            a.link += c.link
            a.dates += c.dates
            a.authors += c.authors
            a.quotes += c.quotes
        if tag == "a":
            a.link = a.text
            if is_profile_href(el.get("href")):
                a.authors += 1
        if el.get("class") or el.get("itemprop"):
            if not a.authors and 0 < a.text <= 60 and marked(el, AUTHOR_HINT):
                a.authors += 1
            if marked(el, QUOTE_HINT):
                a.quotes = a.text
        if tag == "blockquote":
            a.quotes = a.text
        if not a.dates and (tag == "time" or date_attr(el)):
            a.dates += 1
        agg[el] = a
    return els, agg


def _post_date(text: str) -> bool:
    """A date that may be a post's own: not one its words label as something else ("Registered: 2011-05-02", a
    poster's join date, is no post's)."""
    return looks_like_date(text) and not NOT_POST_DATE.search(text[:40])


def _keys(el) -> list[str]:
    """Set keys this element joins: one per class word (state words dropped, digits folded) and its id stem."""
    out = []
    tag = el.tag
    for c in (el.get("class") or "").split():
        c = _DIGITS.sub("#", c.lower())
        if not _STATE_TOKEN.match(c):
            out.append(f"{tag}.{c}")
    i = el.get("id")
    if i and _DIGITS.search(i):
        out.append(f"{tag}#{_DIGITS.sub('#', i.lower())}")
    for a in ("data-post-id", "data-comment-id", "data-postid", "data-id", "data-cid", "data-pid"):
        if el.get(a):
            out.append(f"{tag}[{a}]")
    return out


def candidate_sets(els) -> dict[str, list]:
    sets: dict[str, list] = {}
    for el in els:
        if el.tag in NOT_RECORD_TAGS:
            continue
        for k in _keys(el):
            sets.setdefault(k, []).append(el)
        # same-tag siblings with no class: old table layouts (each post one <table>), plain <li> comment lists
        if not el.get("class"):
            parent = el.getparent()
            if parent is not None:
                sets.setdefault(f"{id(parent)}>{el.tag}", []).append(el)
    return sets


def _own(members: list, agg: dict) -> tuple[list[Agg], dict]:
    """Each member's Agg minus that of the members nested in it (outermost ones), and each member's depth."""
    mset = set(members)
    depth = {}
    nested: dict = {m: [] for m in members}
    for m in members:
        d = 0
        inner = True
        for anc in m.iterancestors():
            if anc in mset:
                if inner:
                    nested[anc].append(m)
                    inner = False
                d += 1
        depth[m] = d
    out = []
    for m in members:
        a = agg[m]
        o = Agg(a.text, a.link, a.dates, a.authors, a.quotes)
        for n in nested[m]:
            b = agg[n]
            o.text -= b.text
            o.link -= b.link
            o.dates -= b.dates
            o.authors -= b.authors
            o.quotes -= b.quotes
        out.append(o)
    return out, depth


def _hinted(key: str) -> bool:
    return bool(RECORD_HINT.search(key.split(".", 1)[-1].split("#", 1)[-1].split("[", 1)[-1]))


def score_set(key: str, members: list, agg: dict, page_text: int) -> tuple[float, list, dict]:
    """(score, members kept, depth) for one candidate set; 0 when it does not look like posts."""
    own, depth = _own(members, agg)
    kept = [(m, o) for m, o in zip(members, own) if o.text > 0 and (o.dates or o.authors)]
    n = len(kept)
    if not n:
        return 0.0, [], depth
    dated = sum(1 for _, o in kept if o.dates)
    if dated and not any(o.dates and o.authors for _, o in kept) and any(o.authors for _, o in kept):
        return 0.0, [], depth  # names in some members, dates in the others: the cells of one post, not posts
    if n >= 3 and dated >= 0.8 * n:
        # the template dates every post: an undated short member is a header row or a stray box, not a post
        kept = [(m, o) for m, o in kept if o.dates or o.text - o.link >= 40]
        n = len(kept)
    elif dated >= 2:
        # an undated member of links alone ("Back to top", a profile icon) is a post's button row, not a post
        kept = [(m, o) for m, o in kept if o.dates or o.text - o.link >= 10]
        n = len(kept)
    text = sum(o.text for _, o in kept)
    link = sum(o.link for _, o in kept)
    quotes = sum(o.quotes for _, o in kept)
    fd = sum(1 for _, o in kept if o.dates) / n
    fa = sum(1 for _, o in kept if o.authors) / n
    ld = link / max(text, 1)
    if ld > 0.65 or text - link - quotes < 3 * n:
        return 0.0, [], depth
    cov = text / max(page_text, 1)
    # a member holding many dates or author links is several records (a whole thread list), not one
    crowd = sorted(o.dates + o.authors for _, o in kept)[n // 2]
    crowd_pen = 1.0 if crowd <= 8 else 8.0 / crowd
    hinted = _hinted(key) or SEGMENT in key  # runs this module wrapped as records are records by construction
    bonus = 1.4 if hinted else 1.0
    if ">" in key:
        bonus *= 0.6  # plain same-tag siblings: weaker evidence than a shared class or id stem
    if _names_a_part(key):
        bonus *= 0.3
    if not hinted and LAYOUT_HINT.search(key.split(".", 1)[-1].split("#", 1)[-1]):
        bonus *= 0.3  # page furniture: a blog's sections and sidebar widgets hold dates and names too
    if n == 1 and not hinted:
        return 0.0, [], depth
    score = (n**0.5) * (0.3 + fd) * (0.3 + fa) * (1 - ld) * (0.2 + min(cov, 1.0)) * crowd_pen * bonus
    return score, [m for m, _ in kept], depth


def _names_a_part(key: str) -> bool:
    """The set's class or id names a part of a post (its author box, date, quote, signature, buttons)."""
    return any(
        CHROME_HINT.search(p)
        or QUOTE_HINT.search(p)
        or SIGNATURE_HINT.search(p)
        or AUTHOR_HINT.search(p)
        or DATE_HINT.search(p)
        for p in re.split(r"[.#>\[]", key)[1:]
        if p
    )


def find_records(root) -> RecordSet | None:
    """The page's best record set, or None when nothing repeats like posts do."""
    els, agg = aggregates(root)
    if not els:
        return None
    if wrap_periodic_rows(els, agg):
        els, agg = aggregates(root)
    page_text = agg[els[0]].text
    scored: list[RecordSet] = []
    for key, members in candidate_sets(els).items():
        s, kept, depth = score_set(key, members, agg, page_text)
        if s > 0:
            scored.append(RecordSet(key, kept, s, {m: depth[m] for m in kept}))
    if not scored:
        return single_record(els, agg)
    # unclassed sibling blocks that hold an element named as a post or comment are the page's columns
    # (a named set scoring at least half as well; a post's own "postdetails" cell does not make its row a column)
    named: dict = {}
    for r in scored:
        if ">" not in r.key and _hinted(r.key):
            for m in r.members:
                named[m] = max(named.get(m, 0.0), r.score)
    scored = [
        r
        for r in scored
        if ">" not in r.key
        or not any(named.get(d, 0.0) >= 0.5 * r.score for m in r.members for d in m.iterdescendants() if d in named)
    ] or scored
    scored.sort(key=lambda r: -r.score)
    best = _tightest(scored[0], scored[1:40], agg)
    best = _outer_posts(best, scored[1:40], agg) or best
    best = _with_opening_post(best, scored[1:40], agg)
    best = _comments_without_opening(best, scored[1:40]) or best
    if len(best.members) == 1:
        best = _tightest(_comments_beside(best, scored, agg) or best, scored, agg)
    if COMMENT_KEY.search(best.key.split(".", 1)[-1].split("#", 1)[-1]):
        best = _with_opening_like_comments(best, els, agg)
    best = _answers_over_question(best, scored) or best
    best.inner = _comments_inside(best, scored, agg)
    return best


def _tightest(best: RecordSet, others: list[RecordSet], agg: dict) -> RecordSet:
    """One record wrapped in several named boxes (a comment list of one comment: the wrapper with its heading,
    the list, its item, the comment) is found at every level: the innermost box holding the same author and date
    signs and most of the words is the record itself."""
    if len(best.members) != 1:
        return best
    outer = agg[best.members[0]]
    inner = [
        c
        for c in others
        if len(c.members) == 1
        and best.members[0] in c.members[0].iterancestors()
        and agg[c.members[0]].dates == outer.dates
        and agg[c.members[0]].authors == outer.authors
        and agg[c.members[0]].text - agg[c.members[0]].link >= 0.5 * (outer.text - outer.link)
    ]
    return max(inner, key=lambda c: len(list(c.members[0].iterancestors())), default=best)


def _key_words(key: str) -> str:
    return key.split(".", 1)[-1].split("#", 1)[-1]


def _answers_over_question(best: RecordSet, scored: list[RecordSet]) -> RecordSet | None:
    """A Q&A page whose posts share a class (askbot's div.post) with the question first, marked as the question,
    and the rest as answers: the answers are the records and the question is the article."""
    if len(best.members) < 2:
        return None
    first = best.members[0]
    if not re.search(r"question", " ".join(filter(None, (first.get("class"), first.get("id")))), re.IGNORECASE):
        return None
    rest = set(best.members[1:])
    for cand in scored:
        if cand is not best and "answer" in _key_words(cand.key).lower() and set(cand.members) == rest:
            return cand
    return None


def _comments_inside(best: RecordSet, scored: list[RecordSet], agg: dict) -> list:
    """Members of a comment set that sit inside the records (comments under each answer): they have authors
    and dates of their own, which are not the records'. Only where each record holding some keeps an author, a
    date and words of its own without them (a post's own "comment content" block is the post)."""
    if COMMENT_KEY.search(_key_words(best.key)):
        return []
    mine = set(best.members)
    out: list = []
    for cand in scored:
        if cand is best or not COMMENT_KEY.search(_key_words(cand.key)) or any(m in mine for m in cand.members):
            continue
        inside = [m for m in cand.members if any(a in mine for a in m.iterancestors())]
        holders: dict = {}
        for m in inside:
            holder = next(a for a in m.iterancestors() if a in mine)
            holders.setdefault(holder, []).append(m)
        keeps = 0
        for holder, ms in holders.items():
            tops = [m for m in ms if not any(a in set(ms) for a in m.iterancestors())]
            a = agg[holder]
            # the holder's author may show no sign of its own (a name in plain text where an archive dropped the
            # profile links) when every comment in it names its own author and date: those are comments still
            signed = all(agg[m].authors and agg[m].dates for m in tops)
            keeps += (
                a.dates - sum(agg[m].dates for m in tops) > 0
                and (a.authors - sum(agg[m].authors for m in tops) > 0 or signed)
                and a.text - a.link - sum(agg[m].text - agg[m].link for m in tops) > 20
            )
        if holders and keeps >= 0.8 * len(holders):
            out.extend(inside)
    return out


def _inner_shape(el) -> set[str]:
    return {
        f"{d.tag}.{_DIGITS.sub('#', c.lower())}"
        for d in el.iterdescendants()
        if isinstance(d.tag, str)
        for c in (d.get("class") or "").split()
    }


def _with_opening_like_comments(best: RecordSet, els: list, agg: dict) -> RecordSet:
    """A forum that calls its replies comments (Vanilla: the opening post in div.ItemDiscussion, the replies in
    li.ItemComment): an element before the first comment, built inside like the comments (their class words,
    mostly) and with an author and a date of its own, is the opening post. A story or question above comments is
    built otherwise (Hacker News, Q&A) and stays the article."""
    first = best.members[0]
    like = _inner_shape(first)
    if len(like) < 4:
        return best
    members = set(best.members)
    ancestors = set(first.iterancestors())
    best_el, best_sim = None, 0.0
    for el in els:
        if el is first:
            break
        if el in ancestors or el in members or not (agg[el].dates and agg[el].authors):
            continue
        shape = _inner_shape(el)
        if not shape:
            continue
        sim = len(shape & like) / len(shape | like)
        if sim > best_sim or (sim == best_sim and best_el is not None and best_el in el.iterancestors()):
            best_el, best_sim = el, sim
    if best_el is None or best_sim < 0.6:
        return best
    depth = dict(best.depth)
    depth[best_el] = 0
    return RecordSet(best.key, [best_el, *best.members], best.score, depth)


def _comments_without_opening(best: RecordSet, others: list[RecordSet]) -> RecordSet | None:
    """A comment set that holds all of `best`'s members but the first one or two (old Reddit: every entry is
    a record, the link post's too, while the comments are the entries' comment wrappers): the comments, with
    what opens the page left to be its article."""
    if COMMENT_KEY.search(best.key.split(".", 1)[-1].split("#", 1)[-1]):
        return None
    for cand in others:
        if (
            len(cand.members) < 2
            or cand.score < 0.5 * best.score
            or not COMMENT_KEY.search(cand.key.split(".", 1)[-1].split("#", 1)[-1])
        ):
            continue
        mine = set(cand.members)
        held = [m for m in best.members if m in mine or any(a in mine for a in m.iterancestors())]
        left = [m for m in best.members if m not in set(held)]
        if len(held) >= len(cand.members) and 1 <= len(left) <= 2 and best.members[: len(left)] == left:
            return cand
    return None


def _comments_beside(best: RecordSet, scored: list[RecordSet], agg: dict) -> RecordSet | None:
    """A page whose best set is one element (an article) and that also has comments beside it, each with an
    author and words of its own: the comments are the records, the article is what they are under. Of nested comment
    sets (the list, the item, the item's body) the one whose members carry both signs most tightly wins."""
    if COMMENT_KEY.search(_key_words(best.key)):
        return None  # the one record is a comment itself, not an article (a thread of one comment)
    article = best.members[0]
    found = None
    for cand in scored:
        if cand is best or not COMMENT_KEY.search(cand.key.split(".", 1)[-1].split("#", 1)[-1]):
            continue
        if _names_a_part(cand.key):
            continue  # a post's own author pane or date line ("ipsComment_author"), not comments
        if any(m is article or m in article.iterancestors() for m in cand.members):
            continue  # (comments may sit inside the article's wrapper, as Blogger puts them)
        if not all(agg[m].authors and agg[m].text - agg[m].link > 0 for m in cand.members):
            continue
        if (
            found is None
            or len(cand.members) > len(found.members)
            or (len(cand.members) == len(found.members) and cand.score > found.score)
        ):
            found = cand
    return found


def _with_opening_post(best: RecordSet, others: list[RecordSet], agg: dict) -> RecordSet:
    """A set holding all of `best` and one or two more dated members (an imageboard's opening post, styled
    apart from the replies but numbered like them, "r4003068" beside "r4003077"): the bigger set. Not for a
    set of comments: what opens a comment page (a link, a question) is its article."""
    if COMMENT_KEY.search(best.key.split(".", 1)[-1].split("#", 1)[-1]):
        return best  # what opens a comment page (a link, a question) is its article, not one of the comments
    mine = set(best.members)
    for cand in others:
        extra = len(cand.members) - len(best.members)
        if not 1 <= extra <= 2 or cand.score < 0.6 * best.score or not mine.issubset(cand.members):
            continue
        if all(agg[m].dates for m in cand.members if m not in mine):
            return cand
    return best


def _outer_posts(best: RecordSet, others: list[RecordSet], agg: dict) -> RecordSet | None:
    """A set whose members hold many of `best`'s members (a third or more: the question above them holds the
    rest) and still carry an author and a date of their own (answers on a Q&A page, each with its comments):
    those are the posts, and `best` their comments."""
    inner = set(best.members)
    for cand in others:
        n = len(cand.members)
        if n < 2 or n >= len(best.members) or any(m in inner for m in cand.members):
            continue
        mine = set(cand.members)
        held = [m for m in best.members if any(a in mine for a in m.iterancestors())]
        if len(held) < 0.3 * len(best.members):
            continue
        held_set = set(held)
        own_ok = 0
        for m in cand.members:
            a = agg[m]
            tops = [
                h
                for h in m.iter()
                if h in held_set
                and not any(x in held_set for x in h.iterancestors() if x is not m and m in x.iterancestors())
            ]
            dates = a.dates - sum(agg[h].dates for h in tops)
            authors = a.authors - sum(agg[h].authors for h in tops)
            text = a.text - a.link - sum(agg[h].text - agg[h].link for h in tops)
            own_ok += dates > 0 and authors > 0 and text > 20
        if own_ok >= 0.8 * n and cand.score >= 0.2 * best.score:
            return cand
    return None


SEGMENT = "universal-segment"


def wrap_separated(root) -> int:
    """Posts with no element of their own, only runs of siblings between <hr> separators (printable views, the
    oldest boards): each run between two separators is wrapped in a new element so it can be a record.
    Returns how many runs were wrapped."""
    from lxml.html import Element

    wrapped = 0
    for parent in list(root.iter()):
        if not isinstance(parent.tag, str) or parent.tag in ("head", "select", "table", "tr", "ul", "ol"):
            continue
        kids = [c for c in parent if isinstance(c.tag, str)]
        hrs = sum(1 for c in kids if c.tag == "hr")
        if hrs < 2:
            continue
        runs: list[list] = [[]]
        for c in list(parent):
            if isinstance(c.tag, str) and c.tag == "hr":
                runs.append([])
            else:
                runs[-1].append(c)
        if hrs == 2 and not _opens_with_byline(runs[1]):
            continue  # two rules around a byline are one post (a printable thread of one); around anything else, decor
        # the runs between the first and last separator; what comes before and after is page furniture
        for run in runs[1:-1]:
            if not run:
                continue
            box = Element("div", {"class": SEGMENT})
            run[0].addprevious(box)
            for c in run:
                box.append(c)  # moves the node, its tail text with it
            wrapped += 1
    return wrapped


def _opens_with_byline(run: list) -> bool:
    """A run whose first words say who wrote it and when ("Posted by Kyria on 09-02-2001 09:28 PM:")."""
    from crawlers.parsers.base import inner_text

    for c in run:
        words = (inner_text(c) if isinstance(c.tag, str) else "").strip() or (c.tail or "").strip()
        if words:
            line = words.split("\n", 1)[0]
            return bool(BYLINE.match(line) and looks_like_date(line))
    return False


# a post's own actions: answering or quoting that post, as a request ("posting.php?mode=quote&p=5", "newreply.php",
# "action=reply", "replyto=0", "quote=12") or as a button's label ("Reply w/Quote", "Quote Post", "Цитата"); not a
# link in the words that merely says "quote" ("/quote/AAPL", "quote-of-the-day")
_ACTION_HREF = re.compile(
    r"[?&;](?:\w+=)?(?:new)?(?:reply|quote)\w*(?:[=&;]|$)|(?:^|/)(?:new)?reply\.\w+(?:\?|$)", re.IGNORECASE
)
_ACTION_LABEL = re.compile(
    r"^\W*(?:reply|quote|ответить|цитата|цитировать)"
    r"(?:\s*(?:w/|with)\s*quote|\s+(?:to\s+)?(?:this\s+)?(?:post|message|comment))?\W*$",
    re.IGNORECASE,
)


def _offers_reply(rec) -> bool:
    """Whether the element links to replying to or quoting it: a post's own button, by its request or by its label
    (an icon's alt text, or the words of a link that stands alone, not one inside a sentence). A bare "#respond"
    jump to a blog's comment form is not one, and "Leave a reply" is the article's invitation, not a post's action."""
    for a in rec.iter("a", "button"):
        href = (a.get("href") or "").split("#", 1)[0]
        if _ACTION_HREF.search(href):
            return True
        labels = [a.get("title"), *(i.get("alt") for i in a.iter("img"))]
        if not _in_words(a):
            labels.append("".join(a.itertext()))
        if any(x and _ACTION_LABEL.match(x) for x in labels):
            return True
    return False


_WORD = re.compile(r"[^\W\d_]{2,}")


def _in_words(el) -> bool:
    """Whether an inline element sits inside a sentence: its parent has words of its own around it."""
    parent = el.getparent()
    if parent is None:
        return False
    around = " ".join(filter(None, [parent.text, *(c.tail for c in parent)]))
    return len(_WORD.findall(around)) > 2


def single_record(els: list, agg: dict) -> RecordSet | None:
    """A thread of one post (nobody has answered yet) or a single-post view repeats nothing, so no set scores. Its
    post is still one element with a date and words of its own, and something only a post has: a link to reply to
    or quote it, a poster panel ("Posts: 41", "Registered: 2011-05-02"), a post counter ("#1"), or, in a table
    layout, the poster's name in a cell of its own beside the words. The element is the innermost such one holding
    an author sign too (a profile link, an author-named element), else the innermost holding a date and words
    (a name in plain bold, a guest's view without profile links); exactly one (several are not one post). A table
    cell stands for its row (a table layout spends a row on a post: the author in one cell, the words in the next).
    An article offers none of these (a blog's "Leave a reply" jump to its comment form does not count), so a page
    of one article stays the main-text reading."""
    for need_author in (True, False):
        found = [
            el
            for el in els
            if el.tag not in NOT_RECORD_TAGS
            and el.tag not in _SKIP
            and agg[el].dates
            and (agg[el].authors or not need_author)
            and agg[el].dates + agg[el].authors <= 8
            and agg[el].text - agg[el].link - agg[el].quotes >= 40
        ]
        if not found:
            continue
        qualified = set(found)
        outer = {x for el in found for x in el.iterancestors() if x in qualified}
        inner = [el for el in found if el not in outer]
        # of several, the one that shows a post's signs (a sidebar's dated news item beside the post shows none)
        posts = [rec for rec in map(_row_of, inner) if _post_signs(rec, agg)]
        if len(posts) > 1 or len(inner) > 3:
            return None  # several posts that repeat nothing, or a list of dated items: not one post
        if not posts:
            continue  # (the post may have no author sign: a guest's view, a name in plain bold)
        return RecordSet((_keys(posts[0]) or [posts[0].tag])[0], posts, 0.5, {posts[0]: 0})
    return None


def _row_of(el):
    """A table cell stands for its row."""
    parent = el.getparent()
    return parent if el.tag in ("td", "th") and parent is not None and parent.tag == "tr" else el


def _post_signs(rec, agg: dict) -> bool:
    return _offers_reply(rec) or _poster_panel(rec) or _post_counter(rec) or _name_cell(rec, agg)


_COUNTER = re.compile(r"^(?:post|сообщение|msg|reply)?\s*#\s*\d+$|^№\s*\d+$", re.IGNORECASE)


def _poster_panel(rec) -> bool:
    """A line of a poster panel, stating the poster's post count or membership date with a number."""
    from crawlers.parsers.base import inner_text

    return poster_panel(inner_text(rec))


def _post_counter(rec) -> bool:
    """A post's number in its header ("#1", "Post #1", "№ 1"), as threads number their posts: before the words
    (a "#2024" tag among an article's words is not one)."""
    for el in rec.iter():
        if not isinstance(el.tag, str):
            continue
        if len(el) <= 1:
            t = "".join(el.itertext()).strip()
            if t and len(t) < 16 and _COUNTER.match(t):
                return True
        if _strlen(el.text) >= 40 or _strlen(el.tail) >= 40:
            return False  # the words have begun
    return False


def _name_cell(rec, agg: dict) -> bool:
    """A table row of two or three cells with the words and the date in one, and the poster in the first: a short
    undated cell whose first line is a name, not mostly links (a page's navigation column is links)."""
    if rec.tag != "tr":
        return False
    cells = [c for c in rec if isinstance(c.tag, str) and c.tag in ("td", "th")]
    if not 2 <= len(cells) <= 3:
        return False
    from crawlers.parsers.base import inner_text

    for c in cells[:1]:  # the poster's column comes first, as in every classic board
        a = agg.get(c)
        if a is None or a.dates or not 2 <= a.text <= 120 or a.link > 0.5 * a.text:
            continue
        first = next((ln.strip() for ln in inner_text(c).split("\n") if ln.strip()), "")
        if 2 <= len(first) <= 40 and len(first.split()) <= 3 and re.search(r"[^\W\d_]", first):
            return True
    return False


def wrap_periodic_rows(els: list, agg: dict) -> int:
    """Table layouts that spend several rows on one post (phpBB 2: the name and words, then the profile
    buttons, then a spacer): where dated rows recur every k > 1 rows, each run from a dated row to the next is
    wrapped in a <tbody> of its own, so one post is one record (as MDR's generalized nodes). Returns how many."""
    from lxml.html import Element

    wrapped = 0
    for parent in [el for el in els if el.tag in ("table", "tbody")]:
        rows = [c for c in parent if isinstance(c.tag, str) and c.tag == "tr"]
        wrapped += _wrap_split_rows(rows, agg, page_dates=agg[els[0]].dates)
        if len(rows) < 6:
            continue
        dated = [i for i, r in enumerate(rows) if agg.get(r) is not None and agg[r].dates]
        gaps = [b - a for a, b in pairwise(dated)]
        if len(dated) < 3 or not gaps:
            continue
        k = max(set(gaps), key=gaps.count)
        if k < 2 or gaps.count(k) < 0.7 * len(gaps):
            continue
        # runs of k rows from the first dated one; a date quoted in a post's words does not start a run
        starts = list(range(dated[0], len(rows), k))
        if sum(1 for i in starts if i in dated) < 0.8 * len(starts):
            continue
        for start in starts:
            run = rows[start : start + k]
            box = Element("tbody", {"class": SEGMENT})
            run[0].addprevious(box)
            for r in run:
                box.append(r)
            wrapped += 1
    return wrapped


def _wrap_split_rows(rows: list, agg: dict, page_dates: int) -> int:
    """A post whose date sits in one row and its author and words in the next (vBulletin 3: a header row, then
    the post row): where no row has both, each dated row and the authored row after it are wrapped together;
    in a table of several such posts, or in the one table of a single-post page (a table per post is a record
    already)."""
    from lxml.html import Element

    def sign(r):
        a = agg.get(r)
        return ("D" if a.dates else "") + ("A" if a.authors else "") if a is not None else ""

    signs = [sign(r) for r in rows]
    if "DA" in signs or signs.count("D") == 0 or signs.count("D") != signs.count("A"):
        return 0
    pairs = [(i, i + 1) for i, s in enumerate(signs[:-1]) if s == "D" and signs[i + 1] == "A"]
    if len(pairs) != signs.count("D"):
        return 0
    parent = rows[0].getparent()
    if len(pairs) == 1 and (parent is None or agg[parent].dates < page_dates):
        return 0
    for i, j in pairs:
        box = Element("tbody", {"class": SEGMENT})
        rows[i].addprevious(box)
        box.append(rows[i])
        box.append(rows[j])
    return len(pairs)
