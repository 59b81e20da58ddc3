"""Read author, date, own text, id and permalink out of records found by `records`.

Within one record there are often several author-like links (the poster, a quoted user, a "last edited by")
and several dates (the post's, the poster's join date, an edit time). Each record proposes candidates with a
local score; the markup shape (tag and classes of the candidate and its parent) that scores best summed over
all records wins, so every record is read the same way, as a template would have written it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus, urldefrag

from crawlers.parsers.base import absolute, inner_text
from crawlers.parsers.universal.evidence import (
    ANONYMOUS,
    AUTHOR_HINT,
    BYLINE,
    CHROME_HINT,
    DATE_HINT,
    DATE_RX,
    NOT_POST_DATE,
    PROFILE_HREF,
    QUOTE_HINT,
    SIGNATURE_HINT,
    date_attr,
    is_profile_href,
    looks_like_date,
    marked,
    poster_panel,
)

_UI_WORDS = re.compile(
    r"^(?:reply|quote|report|profile|pm|message|send|share|like|thanks?|edit|delete|link|permalink|top|e-?mail|"
    r"find|search|website|www|homepage|ignore|follow|subscribe|donate|contact|posts|"
    r"ответить|цитата|цитировать|профиль|лс|жалоба|поделиться|ссылка|наверх|редактировать|удалить|"
    r"#?\d+|[^\w]*)$",
    re.IGNORECASE,
)
_DROP_TAGS = {"script", "style", "noscript", "template", "button", "form", "select", "textarea", "input", "svg"}


@dataclass
class Fields:
    author: str | None
    author_url: str | None
    date_raw: str | None
    text: str
    quotes: list
    signature: str | None
    post_id: str | None
    permalink: str | None


def own_iter(rec, others: set):
    """The record's elements, not descending into other records nested in it."""
    stack = [rec]
    while stack:
        el = stack.pop()
        yield el
        kids = [c for c in el if isinstance(c.tag, str) and c not in others]
        stack.extend(reversed(kids))


def _shape(el) -> str:
    """Tag and class words of an element and its parent, digits dropped (alternating "post1"/"post2" rows)."""
    p = el.getparent()
    ptag = f"{p.tag}.{_DIGITS.sub('', ((p.get('class') or '').split() or [''])[0])}" if p is not None else ""
    return f"{ptag}>{el.tag}.{' '.join(sorted(_DIGITS.sub('', c) for c in (el.get('class') or '').split()))}"


_DIGITS = re.compile(r"[0-9]+")


def _in_marked(el, rec, rx: re.Pattern) -> bool:
    """Whether `el` (or an ancestor up to the record) is marked by `rx` (a quote, a signature)."""
    node = el
    while node is not None and node is not rec:
        if node.tag == "blockquote" and rx is QUOTE_HINT:
            return True
        if marked(node, rx):
            return True
        node = node.getparent()
    return False


def _near_hint(el, rec, rx: re.Pattern, levels: int = 3, max_text: int | None = None, first: str | None = None) -> bool:
    """Whether `el` or one of its `levels - 1` nearest ancestors inside the record is marked by `rx`; with
    `max_text`, only an ancestor holding little more than `el` itself counts (a name's wrapper, not a panel), and
    with `first`, only one whose first line it is (a name box shows the name first, a rank or title below)."""
    node = el
    for _ in range(levels):
        if node is None:
            return False
        if (marked(node, rx, CHROME_HINT) or (node.get("id") and rx.search(node.get("id")))) and (
            node is el
            or (max_text is None or len(inner_text(node)) <= max_text)
            and (first is None or _first_line(inner_text(node)) == first)
        ):
            return True
        if node is rec:
            return False
        node = node.getparent()
    return False


def _heads_name_box(el, rec, name: str) -> bool:
    """Whether `el` is the first line of a small block marked as the author's (a name box whose next lines are the
    poster's custom title or rank: "Melindeth" above "Melindeth AleLover")."""
    node = el.getparent()
    for _ in range(2):
        if node is None or node is rec:
            return False
        if marked(node, AUTHOR_HINT, CHROME_HINT):
            text = inner_text(node)
            return len(text) <= 80 and _first_line(text) == name
        node = node.getparent()
    return False


def _first_line(s: str) -> str:
    for ln in s.split("\n"):
        ln = ln.strip()
        if ln:
            return ln
    return ""


def _norm_tokens(s: str) -> list[str]:
    return [t for t in re.split(r"[\W_]+", s.lower()) if t]


def profile_names(els: list) -> tuple[list[list[str]], list[str]]:
    """What the record's profile links say about whose they are: the tokens of each link's decoded URL
    ("...getbio&UserName=Greyleef+Populus"), and the labels of the links and their icons ("Click Here to See
    the Profile for Jarvis", "Jarvis is offline")."""
    urls, labels = [], []
    for el in els:
        if el.tag == "a" and is_profile_href(el.get("href")):
            m = PROFILE_HREF.search(unquote_plus(el.get("href")))
            if m:  # the part naming the user ("UserName=WhiteFire"), not the rest ("action=donate")
                urls.append([t for t in _norm_tokens(m.group(0)) if t not in _PROFILE_WORDS])
            for x in el.iter():
                for at in ("title", "alt"):
                    v = x.get(at) if isinstance(x.tag, str) else None
                    if v:
                        labels.append(" ".join(_norm_tokens(unquote(v))))
        elif el.tag == "img" and el.get("alt") and len(el.get("alt")) < 80:
            labels.append(" ".join(_norm_tokens(unquote(el.get("alt")))))  # (some write it URL-encoded)
    return urls, labels


# the words of a profile link's address that name the kind of page, not the user ("member.php", "uid")
_PROFILE_WORDS = frozenset(
    "member members memberlist user users profile profiles userinfo showprofile viewprofile author authors people "
    "account accounts usr php html htm aspx asp cgi pl u uid id userid user_id username name mid memberid who "
    "mode action showuser".split()
)


def _named_by_profile(name: str, urls: list[list[str]], labels: list[str]) -> bool:
    toks = _norm_tokens(name)
    if not toks or len("".join(toks)) < 3:
        return False
    if any(all(t in u for t in toks) for u in urls):
        return True
    joined = " ".join(toks)
    return any(lb.endswith(" " + joined) or lb.startswith(joined + " ") for lb in labels)


def author_candidates(rec, els: list) -> list[tuple[float, str, object, str, str | None]]:
    """(score, shape, element, name, profile URL) of each author-like element in the record: an itemprop
    author, a profile link, an element whose class says author/user/nick, a name the record's profile links
    name, or an engine's default name for anonymous posters."""
    out = []
    urls, labels = profile_names(els)
    for i, el in enumerate(els):
        tag = el.tag
        prop = el.get("itemprop") or ""
        score = 0.0
        link = None
        if prop in ("author", "creator"):
            name_el = next((d for d in el.iter() if isinstance(d.tag, str) and d.get("itemprop") == "name"), None)
            name = (
                (name_el.get("content") if name_el is not None else None)
                or el.get("content")
                or _first_line(inner_text(name_el if name_el is not None else el))
            )
            link = el if tag == "a" else next((d for d in el.iter("a") if d.get("href")), None)
            score = 12.0
            href = link.get("href") if link is not None else None
        elif el.text and (m := BYLINE.match(el.text)) and not _in_quote_tag(el, rec):
            name = m.group("a") or m.group("b")
            score, href = 6.0, None
        elif (
            (len(el) > 4 or any(len(c) > 2 for c in el))
            and (urls or labels)
            and el.text
            and el.text.strip()
            and el[0].tag == "br"
            and _named_by_profile(_BADGE.sub("", el.text.strip()), urls, labels)
        ):
            # a panel's first words before a line break, named by the record's avatar ("Bill Meier ♦♦<br>3.2k …"
            # beside "Bill Meier's gravatar image"): the name, though it has no element of its own
            name, score, href = el.text.strip(), 4.0, None
        else:
            if tag in _DROP_TAGS or tag in ("img", "br", "hr", "table", "tbody", "tr", "ul", "ol", "dl"):
                continue
            if not (el.text or "").strip() and len(el) == 0:
                continue
            if len(el) > 4 or any(len(c) > 2 for c in el):
                continue  # a name sits in a small element; a bigger one is a panel
            href = el.get("href") if tag == "a" else None
            profile = tag == "a" and is_profile_href(href)
            name = _first_line(inner_text(el))
            hinted = _near_hint(el, rec, AUTHOR_HINT, 3, len(name) + 12, name) or _heads_name_box(el, rec, name)
            anonymous = bool(ANONYMOUS.match(name))
            named = bool(urls or labels) and _named_by_profile(name, urls, labels)
            if not (profile or hinted or anonymous or named):
                continue
            score = (4.0 if profile else 0) + (5.0 if hinted else 0) + (4.0 if anonymous else 0) + (4.0 if named else 0)
            if tag != "a" and any(_first_line(inner_text(c)) == name for c in el if isinstance(c.tag, str)):
                score -= 1.5  # a wrapper whose child holds the same name: the child is the name's own element
            elif (
                tag != "a"
                and len(el)
                and (el.text or "").strip() != name
                and any(
                    _first_line(inner_text(c)) and name.startswith(_first_line(inner_text(c)))
                    for c in el
                    if isinstance(c.tag, str)
                )
            ):
                score -= 1.5  # "Иван пишет:": the name is the child, the rest is the template's words
            if not profile and tag != "a":
                link = next((d for d in el.iter("a") if is_profile_href(d.get("href"))), None)
                href = link.get("href") if link is not None else None
        name = _BADGE.sub("", (name or "").strip().strip(":").strip())
        if (
            name[:1] in "[("
            or not name
            or len(name) > 50
            or len(name.split()) > 5
            or _UI_WORDS.match(name)
            or DATE_RX.search(name)
            or poster_panel(name)  # "Сообщений: 28", "Posts: 41": the poster's panel, not the name
        ):
            continue
        if _in_marked(el, rec, QUOTE_HINT) or _in_marked(el, rec, SIGNATURE_HINT) or _in_quote_tag(el, rec):
            continue
        score -= 0.05 * min(i, 60) / 6
        out.append((score, _shape(el), el, name, href))
    return out or _plain_names(rec, els)


# a badge a template prints after the name, a space apart: a moderator's diamond ("scai ♦"), a star, a check mark
_BADGE = re.compile(r"\s+[\u2190-\u21ff\u2600-\u27bf\u25a0-\u25ff\u2b00-\u2bff]+$")

_INLINE_NAME_TAGS = {
    "b",
    "strong",
    "span",
    "font",
    "a",
    "cite",
    "em",
    "i",
    "h3",
    "h4",
    "h5",
    "td",
    "div",
    "dt",
    "p",
    "label",
}


def _plain_names(rec, els: list) -> list[tuple[float, str, object, str, str | None]]:
    """No author sign at all: the first short texts of the record (a name in plain bold at the head of a post,
    as the oldest boards print it), at a low score so a shape that other records name better wins."""
    out: list[tuple[float, str, object, str, str | None]] = []
    for i, el in enumerate(els[:80]):
        if el.tag not in _INLINE_NAME_TAGS or len(el) > 1 or any(len(c) for c in el):
            continue
        name = _BADGE.sub("", (el.text or "").strip() if not len(el) else _first_line(inner_text(el)))
        if (
            not name
            or name[:1] in "[("
            or len(name) > 40
            or len(name.split()) > 3
            or not re.search(r"[^\W\d_]", name)
            or _UI_WORDS.match(name)
            or DATE_RX.search(name)
            or name.endswith(":")
            or poster_panel(name)
            or _in_marked(el, rec, QUOTE_HINT)
            or _in_quote_tag(el, rec)
        ):
            continue
        out.append((1.0 - 0.01 * i, _shape(el), el, name, None))
        if len(out) == 2:
            break
    return out


def _in_quote_tag(el, rec) -> bool:
    return any(a.tag == "blockquote" for a in _up_to(el.getparent(), rec)) if el.getparent() is not None else False


def date_candidates(rec, els: list) -> list[tuple[float, str, object, str]]:
    """(score, shape, element, raw date) of each date-like element in the record."""
    out = []
    for i, el in enumerate(els):
        raw = None
        score = 0.0
        v = date_attr(el)
        if el.tag == "time" or v:
            raw = v or inner_text(el)
            score = 10.0 if el.tag == "time" else 8.0
        else:
            texts = (el.text, *(c.tail for c in el if isinstance(c.tag, str)))
            # (a poster's "Joined: 11 Feb 2002" line is no post's date)
            t = next((x for x in texts if x and looks_like_date(x) and not NOT_POST_DATE.search(x[:40])), None)
            if t is None:
                continue
            whole = " ".join(inner_text(el).split()) if len(el) <= 4 and not any(True for _ in el.iter("a")) else ""
            raw = whole if whole and len(whole) <= 60 else " ".join(t.split())
            if BYLINE.match(raw) or len(raw) > 40:  # "Posted by Kyria on 09-11-2001 01:02 AM:": the date part
                m = _DATE_AND_TIME.search(raw)
                raw = m.group(0) if m else raw
            score = 5.0
        if not raw:
            continue
        if _in_marked(el, rec, QUOTE_HINT) or _in_marked(el, rec, SIGNATURE_HINT):
            continue
        label = " ".join((el.getparent().text or "").split()) if el.getparent() is not None else ""
        if NOT_POST_DATE.search(raw[:40]) or NOT_POST_DATE.search(label[-40:]) or _near_hint(el, rec, NOT_POST_DATE, 2):
            continue
        if _near_hint(el, rec, DATE_HINT, 3):
            score += 3.0
        score -= 0.05 * min(i, 60) / 6
        if len(raw) > 100:
            m = DATE_RX.search(raw)
            raw = raw[max(0, m.start() - 10) : m.end() + 12] if m else raw[:100]
        out.append((score, _shape(el), el, raw))
    return out


_DATE_AND_TIME = re.compile(
    "(?:" + DATE_RX.pattern + ")" + r"(?:\s*,?\s*(?:at\s+|в\s+)?\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?)?",
    re.IGNORECASE,
)


def date_part(raw: str | None) -> str | None:
    """The date and time inside a header's words ("发表于 2012-3-4 18:22" → "2012-3-4 18:22"), for a reader that
    does not know the words around it; None when there is no date in it."""
    m = _DATE_AND_TIME.search(raw) if raw else None
    return m.group(0) if m else None


def pick_consistent(per_record: list[list[tuple]]) -> list[tuple | None]:
    """For each record, its candidate of the shape that scores best over all records (its own best if it has
    none of that shape)."""
    totals: dict[str, float] = {}
    for cands in per_record:
        seen: dict[str, float] = {}
        for c in cands:
            seen[c[1]] = max(seen.get(c[1], -1e9), c[0])
        for shape, s in seen.items():
            totals[shape] = totals.get(shape, 0.0) + s
    out: list[tuple | None] = []
    for cands in per_record:
        if not cands:
            out.append(None)
            continue
        best_shape = max((c[1] for c in cands), key=lambda sh: totals[sh])
        same = [c for c in cands if c[1] == best_shape]
        out.append(max(same, key=lambda c: c[0]) if same else max(cands, key=lambda c: c[0]))
    return out


def _contains(a, b) -> bool:
    return b is not None and (a is b or any(x is a for x in b.iterancestors()))


_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "legend", "caption", "thead", "label"}


def _text_lengths(els: list, others: set) -> dict:
    """Element → characters of its own visible text (link text counted half: a post may be one link)."""
    lens: dict = {}
    for el in reversed(els):
        if el.tag in _DROP_TAGS or el.tag in _HEADINGS:  # a post's title is not its words
            lens[el] = 0
            continue
        n = len((el.text or "").strip()) * (0.5 if el.tag == "a" else 1)
        for ch in el:
            if ch.tail:
                n += len(ch.tail.strip())
            if ch in others or not isinstance(ch.tag, str):
                continue
            n += lens.get(ch, 0)
        lens[el] = n
    return lens


def body_candidates(rec, els: list, author_el, date_el, others: set) -> list[tuple[float, str, object, int]]:
    """(score, shape, element, text length) of the elements that may hold the post's words: neither the author
    nor the date inside (those sit in the header beside the body), not a heading, quote or signature. Of an
    element and a child holding all its text the outer one comes first (a sort keeps document order), so a body
    that is one <blockquote> (as some engines write every post) is read with its wrapper."""
    lens = _text_lengths(els, others)
    panel = _author_panel(rec, author_el, date_el)
    out = []
    for el in els:
        if el is rec or el.tag in _DROP_TAGS or el.tag in _HEADINGS:
            continue
        n = lens.get(el, 0)
        if n <= 0 or _contains(el, author_el):
            continue
        if _in_marked(el, rec, SIGNATURE_HINT):
            continue
        quoted = [x for x in _up_to(el, rec) if marked(x, QUOTE_HINT)]
        if quoted and (
            quoted != [el]
            or any(marked(x, QUOTE_HINT) for x in el.iterancestors() if x is not rec and rec in x.iterancestors())
        ):
            continue  # inside a quote
        # a block classed as a quote is a quote inside a post, unless it stands alone as the post's words (the
        # futaba family's div.quote); it competes at a lower weight, so a body holding a quote and a reply wins
        score = n * (0.6 if quoted else 1.0)
        if _contains(el, date_el):
            # a date line above the words in the same cell ("posted 12-06-2001<hr>text"): the date is taken out
            # of the text later; an inner block with most of the words still wins
            score = 0.5 * (n - lens.get(date_el, 0))
        if panel is not None and _contains(panel, el):
            score *= 0.3  # the poster's column (rank, stats, a level bar), beside the words
        out.append((score, _shape(el), el, int(n)))
    out.sort(key=lambda c: -c[0])
    # a block that opens with a signature line ("__________") is the signature (vBulletin 2 gives it its own <p>);
    # a block holding a poster panel's lines ("Posts: 359", "Joined: 11 Feb 2002") is the panel or holds it
    # a block that opens with a rule after a block like it with words (the post's words, then "<hr>" and the
    # signature in a second block of the same kind) is the signature; a rule opening the first one only sets the
    # words off from the post's header (SMF)
    pos = {el: i for i, el in enumerate(els)}
    ruled = [
        c[2]
        for c in out
        if len(c[2])
        and _opens_with_rule(c[2])
        and any(x[1] == c[1] and pos[x[2]] < pos[c[2]] and not _contains(x[2], c[2]) for x in out)
    ]
    top = []
    for c in out[:40]:
        t = inner_text(c[2])
        if _SIG_LINE.match(t.lstrip()) or any(_contains(r, c[2]) for r in ruled):
            continue
        top.append((c[0] * 0.2, *c[1:]) if poster_panel(t) else c)
    top.sort(key=lambda c: -c[0])
    return top


_RULED = {"div", "span", "td", "tr", "font", "p"}
_RULE_WRAPPERS = {"br", "p", "div", "span", "font", "center", "td", "tr", "tbody"}


def _opens_with_rule(el) -> bool:
    """A block whose first thing is a horizontal rule, before any text: a signature set off from the post (a
    post's words do not begin with a rule)."""
    if (el.text or "").strip():
        return False
    for d in el.iterdescendants():
        if not isinstance(d.tag, str):
            continue
        if d.tag == "hr":
            return True
        if d.tag not in _RULE_WRAPPERS or (d.text or "").strip() or (d.tail or "").strip():
            return False
    return False


_ROWS = {"tr", "tbody", "thead", "table"}


def _words_before(body, el, header: tuple) -> bool:
    """Whether the body has words of its own before `el` (a signature follows the post's words; the post's
    `header` elements, its author and date, are not its words)."""
    n = len((body.text or "").strip())
    for x in body.iterdescendants():
        if x is el:
            return n > 0
        if not isinstance(x.tag, str) or x.tag in _DROP_TAGS:
            continue
        if not any(_contains(h, x) for h in header if h is not None):
            n += len((x.text or "").strip())
        if not _contains(x, el) and not any(_contains(h, x) and h is not x for h in header if h is not None):
            n += len((x.tail or "").strip())
    return False


def _author_panel(rec, author_el, date_el):
    """The poster's own column of the record: the outermost block around the author that holds no date (a table
    layout's left cell, a profile sidebar), or None when the date sits with the name or either is unknown."""
    if author_el is None or date_el is None:
        return None
    panel = None
    for node in _up_to(author_el, rec):
        if _contains(node, date_el):
            break
        panel = node
    # a column is a cell or a block; a table row holding the name holds the words beside it too (vBulletin 3)
    return panel if panel is not author_el and panel is not None and panel.tag not in _ROWS else None


def _up_to(el, rec):
    node = el
    while node is not None and node is not rec:
        yield node
        node = node.getparent()


def _lines(text: str) -> list[str]:
    return [_DIGITS.sub("#", ln.strip().lower()) for ln in text.split("\n") if ln.strip()]


def discount_template_text(per_record: list[list[tuple]], dates: list | None = None) -> list[list[tuple]]:
    """Lower the score of candidates whose lines repeat in the same shape across records, digits aside (a
    profile panel's "Posts: 25", "Группа: Пользователи"): a post's own lines differ from record to record, a
    template's do not (its words may repeat; a thread's posts share many words). The record's date line
    (`dates`: each record's chosen date candidate) is not counted: a block holding it is lowered for it already."""
    n = len(per_record)
    if n < 3:
        return per_record
    dates = dates or [None] * n

    def lines_of(el, d):
        ls = _lines(inner_text(el))
        if d is not None and _contains(el, d[2]):
            drop = set(_lines(inner_text(d[2])))
            ls = [x for x in ls if x not in drop]
        return ls

    lines: list[list[list[str]]] = [[lines_of(c[2], d) for c in cands] for cands, d in zip(per_record, dates)]
    seen: dict[str, dict[str, int]] = {}
    for cands, ls in zip(per_record, lines):
        by_shape: dict[str, set] = {}
        for c, lsx in zip(cands, ls):
            by_shape.setdefault(c[1], set()).update(lsx)
        for shape, w in by_shape.items():
            counter = seen.setdefault(shape, {})
            for x in w:
                counter[x] = counter.get(x, 0) + 1
    need = max(3, int(0.6 * n))
    out = []
    for cands, ls in zip(per_record, lines):
        row = []
        for c, lsx in zip(cands, ls):
            if lsx:
                template = [x for x in lsx if seen[c[1]].get(x, 0) >= need]
                # the template's share of the lines comes off and its letters count against the block, so of a
                # row holding the panel and the words, the words' own block wins
                c = (c[0] * (1.0 - len(template) / len(lsx)) - 1.5 * sum(len(x) for x in template), *c[1:])
            row.append(c)
        out.append(row)
    return out


def body_of(rec, cand):
    """The chosen candidate's element, or the record itself when it has no text block of its own."""
    return cand[2] if cand is not None and cand[0] > 0 else rec


def clean_text(body, rec, others: set, author_el, date_el) -> tuple[str, list, str | None]:
    """(own text, quotes, signature) of a body: quotes, signatures, buttons and nested records taken out."""
    marks = {id(x) for x in others}
    all_nodes = list(body.iter())
    titles = _leading_headings(body)
    body_len = len(inner_text(body)) - sum(len(inner_text(h)) for h in titles)
    # mark the nodes to drop on the original, then drop them in a copy (copies keep the order of iteration)
    drop_idx, quote_idx, sig_idx = set(), set(), set()
    meta_style = _style(date_el) if date_el is not None and not _contains(date_el, body) else None
    for i, el in enumerate(all_nodes):
        if not isinstance(el.tag, str):
            continue
        if el is not body and (id(el) in marks or el is author_el or el is date_el):
            drop_idx.add(i)
            continue
        if meta_style and el is not body and _style(el) == meta_style and len(inner_text(el)) <= 60:
            drop_idx.add(i)  # set like the post's date line: the post's meta ("IP: Logged", an edit note)
            continue
        if el is body:
            continue
        if el in titles:
            drop_idx.add(i)  # a title line above the post's words
        elif marked(el, QUOTE_HINT) or (el.tag == "blockquote" and not _holds_all(el, body, body_len)):
            quote_idx.add(i)
        elif marked(el, SIGNATURE_HINT) or (
            len(el) and el.tag in _RULED and _opens_with_rule(el) and _words_before(body, el, (author_el, date_el))
        ):
            sig_idx.add(i)  # (a block opening with a rule after the words: the signature)
        elif el.tag in _DROP_TAGS or (marked(el, CHROME_HINT) and len(inner_text(el)) < 80):
            drop_idx.add(i)
    b = copy.deepcopy(body)
    b.tail = None
    nodes = list(b.iter())
    pos = {id(n): i for i, n in enumerate(all_nodes)}

    def ancestors(i):
        node = all_nodes[i].getparent()
        while node is not None and id(node) in pos:
            yield pos[id(node)]
            node = node.getparent()

    quotes, sigs = [], []
    for i in sorted(quote_idx):
        if not any(a in quote_idx or a in drop_idx for a in ancestors(i)):
            quotes.append({"author": None, "post_id": None, "text": inner_text(nodes[i]).strip()})
    for i in sorted(sig_idx):
        if not any(a in sig_idx for a in ancestors(i)):
            sigs.append(inner_text(nodes[i]))
    for i in sorted(drop_idx | quote_idx | sig_idx, reverse=True):
        n = nodes[i]
        if n.getparent() is not None:
            n.drop_tree()
    text = inner_text(b)
    m = _SIG_LINE.search(text)
    if m:  # "__________" or "-- " on a line of its own: what follows is the signature (vBulletin 2, phpBB 2, mail)
        sigs.insert(0, text[m.end() :].strip())
        text = text[: m.start()].rstrip()
    return text, [q for q in quotes if q["text"]], "\n".join(s for s in sigs if s) or None


_SIG_LINE = re.compile(r"(?m)^(?:_{6,}|-- ?)$")
# attributes that name or point at one element, not how the template sets it
_OWN_ATTRS = {"id", "name", "href", "src", "alt", "title", "datetime", "content", "itemprop", "onclick"}


def _style(el) -> tuple | None:
    """How the template sets an element (its tag with its class and presentational attributes: a meta line's
    small coloured font), or None when it carries none or is a link (its own target, not a style)."""
    if not isinstance(el.tag, str) or el.tag in ("a", "time"):
        return None
    attrs = tuple(
        sorted(
            (k.lower(), v) for k, v in el.attrib.items() if k.lower() not in _OWN_ATTRS and not k.startswith("data-")
        )
    )
    return (el.tag, attrs) if attrs else None


_TITLE_HINT = re.compile(r"title|subject|topic-?name", re.IGNORECASE)
_COUNTER = re.compile(r"^(?:post|сообщение|msg)?\s*#\s*\d+$|^№\s*\d+$", re.IGNORECASE)


# a bold label that heads a quote or code block ("Quote:", "Code:", "Anna wrote:"); another label ending in a colon
# ("Question:", "Update:") introduces the poster's own words after it, so it is not a title line
_QUOTE_LABEL = re.compile(
    r"^(?:quote|цитата|code|код|spoiler|спойлер)\b|(?:wrote|писал\(?а?\)?|написал\(?а?\)?|пишет|said)\s*:$",
    re.IGNORECASE,
)


def _leading_headings(body) -> list:
    """Title lines before any other text of the body: headings, and a short bold or title-classed line or a
    post counter ("Re: ...", "Post# 1") when the words that follow are longer; they are the post's head, not
    its words."""
    out: list = []
    soft: list = []
    skip: set = set()
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag in _DROP_TAGS or el is body:
            if el is body and (el.text or "").strip():
                break
            continue
        if any(a in skip for a in el.iterancestors()):
            continue
        text = inner_text(el) if (el.text or "").strip() or len(el) else ""
        if el.tag in _HEADINGS or (
            text
            and len(text) <= 100
            and "\n" not in text
            and (
                el.tag in ("b", "strong")
                and not (text.endswith(":") and not _QUOTE_LABEL.search(text))
                or marked(el, _TITLE_HINT)
                or _COUNTER.match(text)
            )
        ):
            (out if el.tag in _HEADINGS else soft).append(el)
            skip.add(el)
            if (el.tail or "").strip():
                break
            continue
        if (el.text or "").strip() or (el.tail or "").strip():
            break
    if soft:
        rest = len(inner_text(body)) - sum(len(inner_text(x)) for x in out + soft)
        if rest >= 2 * sum(len(inner_text(x)) for x in soft):
            out += soft
    return out


def _holds_all(el, body, body_len: int) -> bool:
    """A <blockquote> holding nearly all of the body is the post's own text block, not a quote."""
    return body_len > 0 and len(inner_text(el)) >= 0.9 * body_len


_ID_ATTRS = (
    "data-post-id",
    "data-comment-id",
    "data-postid",
    "data-pid",
    "data-cid",
    "data-id",
    "data-post",
    "data-comment",
)
_ANCHOR = re.compile(r"#([A-Za-z_-]*\d+[\w-]*)$")


def id_and_link(rec, els: list, page_url: str) -> tuple[str | None, str | None]:
    """(post id, permalink) from the record's id, a data-* id, an anchor, or a link to the post itself."""
    pid = None
    parent = rec.getparent()
    # the record's own box, or the box it alone fills (a comment list's item around the comment)
    boxes = [rec] + ([parent] if parent is not None and len([c for c in parent if isinstance(c.tag, str)]) == 1 else [])
    for box in boxes:
        for a in _ID_ATTRS:
            if box.get(a):
                pid = box.get(a).strip()
                break
        rid = box.get("id") or ""
        if not pid and re.search(r"\d", rid):
            pid = rid
        if pid:
            break
    if not pid:
        for el in els[:12]:
            nm = el.get("name") or (el.get("id") if el.tag == "a" else None)
            if nm and re.search(r"\d", nm):
                pid = nm
                break
    page = urldefrag(page_url)[0]
    link = None
    for el in els:
        if el.tag != "a":
            continue
        href = el.get("href") or ""
        m = _ANCHOR.search(href)
        if not m:
            continue
        if pid and (m.group(1) == pid or re.sub(r"\D", "", m.group(1)) == re.sub(r"\D", "", pid)):
            link = absolute(page_url, href)
            break
        if not pid and re.search(r"post|comment|msg|reply|^p\d|^c\d|^\d", m.group(1), re.IGNORECASE):
            pid, link = m.group(1), absolute(page_url, href)
            break
    if pid and not link:
        link = f"{page}#{pid}"
    return pid, link
