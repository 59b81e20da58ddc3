"""Mentions a reply inherits from its thread: replies in a thread about a brand rarely repeat its name.

A reply mentions the brand its thread's title or opening post names when all of these hold:
- it names none of the configured brands itself (a reply that names another brand is about that one; one that
  names this brand has its own text mention);
- it is not an official answer (the brand's own account answering is a response, not a mention);
- it does not name one of the brand's exclusions (a namesake: "Андрей Посылкин" under a Посылкин thread);
- it is one of the thread's first `ingest.thread_context_first_replies` replies, or it shares at least
  `ingest.thread_context_min_shared_words` content words (nouns, verbs, adjectives, by lemma) with the title and
  opening post: the replies further down that share nothing are mostly side talk ("thanks!", an off-topic
  question, a greeting to another member).

Such a mention has no span (`span_start`, `matched` NULL) and `via` says where the brand came from
('thread_title' or 'opening_post'); like a source's `about` mention it is scored on the opening of the reply's own
text. mention_id = stable_id(doc_id, brand_id) as for a text mention, so an edit that names the brand turns it
into a text mention in place and an edit that names another brand removes it.

`inherit` is the pure rule; `refresh` recomputes the inherited mentions of the threads a batch touched, inside the
batch's write transaction. A source turns it off with `thread_context: false` in sources.yaml, every source with
`ingest.thread_context: false`. The thresholds were chosen on the demo web's answer file (see docs/ingest.md): they
are tuned on the demo, not on real forums.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline import facts
from pipeline.brands import BrandMatcher, _morph_analyzer, skeleton
from pipeline.normalize import context_window
from pipeline.store import stable_id, text_hash

if TYPE_CHECKING:
    from pipeline.config import Settings

VIA_TITLE = "thread_title"
VIA_OPENING = "opening_post"

_WORD = re.compile(r"[^\W\d_]{3,}")
_CYR = re.compile(r"[а-яё]")
_CONTENT_POS = frozenset({"NOUN", "ADJF", "ADJS", "VERB", "INFN", "PRTF", "PRTS"})
# English has no tagger here: words of 4+ letters minus the commonest function words
_EN_STOP = frozenset(
    "this that with have what they about there their from were been would could should will your just like does "
    "into than then them some when also only very much more most other such here over after before because while "
    "which where thanks thank".split()
)


@lru_cache(maxsize=100_000)
def _word_key(word: str) -> str | None:
    if _CYR.search(word):
        p = _morph_analyzer().parse(word)[0]
        return skeleton(p.normal_form) if p.tag.POS in _CONTENT_POS else None
    return skeleton(word) if len(word) >= 4 and word not in _EN_STOP else None


def content_words(text: str | None) -> set[str]:
    """Lemma keys of the content words of a text (Озона, озон → one key; function words dropped)."""
    if not isinstance(text, str):
        return set()
    return {k for w in _WORD.findall(text.lower()) if (k := _word_key(w)) is not None}


@dataclass(frozen=True)
class Rule:
    first_replies: int = 3  # the first N replies inherit without sharing a word
    min_shared_words: int = 1  # later ones need this many content words in common with title + opening post

    @classmethod
    def from_settings(cls, settings: Settings) -> Rule:
        cfg = settings.ingest
        return cls(cfg.thread_context_first_replies, cfg.thread_context_min_shared_words)


@dataclass(frozen=True)
class Post:
    doc_id: str
    text: str
    named: frozenset[str] = frozenset()  # brands its own words name (text mentions)
    present: frozenset[str] = frozenset()  # brands it has a mention of in any way (text, `about`)
    official: bool = False


def thread_brands(
    title: str | None, opening: Post | None, matcher: BrandMatcher, source: str | None = None
) -> dict[str, str]:
    """{brand id: via} the thread is about: brands its title names, then those only its opening post names."""
    out = {m.brand_id: VIA_TITLE for m in matcher.match(title, source)} if isinstance(title, str) else {}
    if opening is not None:
        for b in sorted(opening.named):
            out.setdefault(b, VIA_OPENING)
    return out


def inherit(
    title: str | None, posts: Sequence[Post], matcher: BrandMatcher, rule: Rule = Rule(), source: str | None = None
) -> list[tuple[str, str, str]]:
    """(doc_id, brand_id, via) for each reply that inherits a brand. `posts` in thread order; the first is the
    opening post (it never inherits: what it names is the thread's topic)."""
    if len(posts) < 2:
        return []
    opening = posts[0]
    brands = thread_brands(title, opening, matcher, source)
    if not brands:
        return []
    topic: set[str] | None = None  # computed only when a reply past the first ones needs it
    out: list[tuple[str, str, str]] = []
    for i, p in enumerate(posts[1:], 1):
        if p.named or p.official:
            continue
        wanted = [
            (b, via) for b, via in brands.items() if b not in p.present and not _names_namesake(matcher, b, p.text)
        ]
        if not wanted:
            continue
        if i > rule.first_replies:
            if topic is None:
                topic = content_words(title) | content_words(opening.text)
            if len(content_words(p.text) & topic) < rule.min_shared_words:
                continue
        out.extend((p.doc_id, b, via) for b, via in wanted)
    return out


def _names_namesake(matcher: BrandMatcher, brand_id: str, text: str) -> bool:
    return matcher.names_exclusion(text, brand_id)


# ------------------------------------------------------------------------------------------ store


def _disabled_sources(con) -> set[str]:
    rows = con.execute("SELECT source_id, config_json FROM sources").fetchall()
    off = set()
    for sid, cfg in rows:
        try:
            if json.loads(cfg or "{}").get("thread_context") is False:
                off.add(sid)
        except ValueError:
            continue
    return off


def refresh(con, settings: Settings, matcher: BrandMatcher, touched: pd.DataFrame, now: Any) -> Counter:
    """Recompute the inherited mentions of the threads of `touched` (rows with source_id, thread_url) inside the
    caller's transaction: insert new ones, drop those that no longer hold, leave the rest as they are (created_at
    and context_hash unchanged, so scores stay current). Returns counts."""
    counts: Counter = Counter()
    if not settings.ingest.thread_context or touched.empty:
        return counts
    threads = touched[["source_id", "thread_url"]].dropna().drop_duplicates()
    threads = threads[~threads["source_id"].isin(_disabled_sources(con))]
    if threads.empty:
        return counts
    con.register("__threads", threads)
    try:
        docs = con.execute("""
            SELECT d.doc_id, d.source_id, d.thread_url, d.thread_title, d.text, coalesce(d.is_official_answer, FALSE)
            FROM documents d JOIN __threads t USING (source_id, thread_url)
            ORDER BY d.source_id, d.thread_url, d.posted_at NULLS LAST, d.ingested_at, d.doc_id""").fetchall()
        ments = con.execute("""
            SELECT m.mention_id, m.doc_id, m.brand_id, m.matched, m.via, m.context_hash
            FROM mentions m JOIN documents d USING (doc_id)
            JOIN __threads t USING (source_id, thread_url)""").fetchall()
    finally:
        con.unregister("__threads")
    named: dict[str, set[str]] = {}
    present: dict[str, set[str]] = {}
    stored: dict[str, tuple[str, str, str]] = {}  # inherited mention_id -> (doc_id, via, context_hash)
    for mid, did, bid, matched, via, chash in ments:
        if via is not None:
            stored[mid] = (did, via, chash)
            continue
        present.setdefault(did, set()).add(bid)
        if matched:
            named.setdefault(did, set()).add(bid)
    rule = Rule.from_settings(settings)
    chars = settings.models.context_chars
    want: dict[str, tuple] = {}
    for (src, _url), group in _groups(docs):
        posts = [
            Post(did, text, frozenset(named.get(did, ())), frozenset(present.get(did, ())), bool(off))
            for did, _s, _u, _t, text, off in group
        ]
        texts = {p.doc_id: p.text for p in posts}
        for did, bid, via in inherit(group[0][3], posts, matcher, rule, src):
            context, _ = context_window(texts[did], 0, 0, 2 * chars)
            want[stable_id(did, bid)] = (did, bid, via, context, text_hash(context))
    gone = [mid for mid in stored if mid not in want]
    # new, or stored with another `via` or (an edited reply) another context
    put = [mid for mid, w in want.items() if stored.get(mid) != (w[0], w[2], w[4])]
    changed_docs = {stored[mid][0] for mid in gone} | {want[mid][0] for mid in put}
    if gone:
        con.register("__gone", pd.DataFrame({"mention_id": gone}))
        con.execute("DELETE FROM mentions WHERE mention_id IN (SELECT mention_id FROM __gone)")
        con.unregister("__gone")
    if put:
        df = pd.DataFrame(
            [(mid, *want[mid], now, now) for mid in put],
            columns=["mention_id", "doc_id", "brand_id", "via", "context", "context_hash", "created_at", "updated_at"],
        )
        con.register("__inherited", df)
        cols = ", ".join(df.columns)  # named, not BY NAME: the same statement runs on a Postgres store
        # a stored row with this id is an inherited one (text mentions are never wanted): created_at stays
        con.execute(f"""
            INSERT INTO mentions ({cols}) SELECT {cols} FROM __inherited
            ON CONFLICT (mention_id) DO UPDATE SET via = excluded.via, context = excluded.context,
                context_hash = excluded.context_hash, updated_at = excluded.updated_at""")
        con.unregister("__inherited")
    if changed_docs:
        facts.refresh(con, doc_ids=sorted(changed_docs))
    counts["mentions_inherited"] += len(want)
    counts["mentions_inherited_written"] += len(put)
    counts["mentions_inherited_removed"] += len(gone)
    return counts


def _groups(rows: Iterable[tuple]):
    """Consecutive rows of one (source_id, thread_url), as ((source, url), [rows])."""
    key: tuple | None = None
    group: list[tuple] = []
    for r in rows:
        k = (r[1], r[2])
        if k != key and group:
            yield key, group
            group = []
        key = k
        group.append(r)
    if group:
        yield key, group
