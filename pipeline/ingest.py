"""Raw crawl runs → documents, mentions and authors in DuckDB.

`ingest_pending(settings, store, run_id=None)` reads the raw layer (`<raw_dir>/<run_id>/items-*.jsonl.gz` or
`.jsonl`, one `crawlers.items.PostItem` dict per line) of every run that `crawl_runs` says is finished and not
yet ingested, or of one given run (a raw folder without a `crawl_runs` row is fine: that is a replay).

Per batch of `Settings.ingest.batch_size` items, in one write transaction (a run's batches share one held
connection, `pipeline.store.WriteSession`, released every `ingest.hold_lock_seconds`; with more than one batch, helper
processes prepare the next batches' rows while the current one is written):
- text is normalised (`pipeline.normalize`) and PII-masked (`pipeline.privacy`) before anything is stored;
- `documents` rows are keyed by doc_id = stable_id(source, canonical thread/url, post_id). A document whose
  text_hash is unchanged is left alone (only likes/views/replies/reach are refreshed), so re-ingesting a run
  changes nothing; an edited post updates its row and its mentions' context/context_hash, so scoring picks it
  up again (the `current_scores` view only counts a score whose context_hash matches);
- brand mentions (`pipeline.brands.BrandMatcher`), mention_id = stable_id(doc_id, brand_id), with the
  context window the models score; a brand an edited post no longer mentions loses its mention;
- duplicates (`pipeline.dedup`) get `dup_of`; spam signals (`pipeline.spam`) set `spam`;
- `authors` rows (author_key = stable_id(source, author_url or author)) get their post counts.
Every write is one vectorised INSERT … ON CONFLICT per table. Malformed lines are counted by reason and
logged with file:line; they never stop a run and never cost the good lines around them.

Hostile or damaged raw input costs only itself:
- a line is decoded leniently (`pipeline.rawlines`): a BOM, bytes that are not UTF-8 and lone surrogate escapes
  are repaired (U+FFFD) and counted as `repaired`, not dropped; a line over `rawlines.MAX_LINE_BYTES` is skipped;
- every stored string has a cap (`FIELD_CAPS`, text at `ingest.max_text_chars`); a text with nothing visible
  (spaces, zero-width characters) is skipped as `empty_text`; names and titles lose bidi controls;
- a file that cannot be read (not gzip, garbage inside the stream, a directory, no permission) is counted,
  logged with its path and moved to `<raw_dir>/quarantine/<run>/…`, after its readable lines (kept in a
  `*.salvaged.jsonl.gz` beside the others, so a replay still has them); the other files and runs go on. A gzip
  file cut short (a killed or still-running crawl) is not damaged: its lines are read and it stays.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb
import numpy as np
import pandas as pd

from pipeline import facts, thread_context
from pipeline.brands import BrandMatcher, build_matcher
from pipeline.config import ConfigError, Settings, load_brands, load_sources
from pipeline.dedup import find_duplicates
from pipeline.logs import log_context
from pipeline.normalize import clean_label, context_window, dedup_key, is_blank, normalize_text
from pipeline.privacy import make_masker
from pipeline.rawlines import FILE_ERRORS, decode_line, iter_lines, open_raw
from pipeline.spam import link_count, spam_reasons
from pipeline.store import Store, WriteSession, stable_id, text_hash, utcnow

log = logging.getLogger("pipeline.ingest")


class IngestError(ValueError):
    """A run cannot be ingested (e.g. its raw folder does not exist)."""


REQUIRED = ("source", "kind", "post_id", "url", "text")
_INT_FIELDS = ("likes", "views", "replies", "reach")
MAX_ERRORS_KEPT = 50
QUARANTINE = "quarantine"  # <raw_dir>/quarantine: raw files that could not be read, kept for a person to look at

# Every string field's cap in characters (text: Settings.ingest.max_text_chars). Real values stay far below:
# forum engines cap titles at 100-255 characters and names at 25-100; servers refuse request lines over 8 KiB
# (Scrapy itself skips URLs over 2,083). A longer value is junk or an attack, shown on every dashboard row.
MAX_TITLE_CHARS = 1_000
MAX_NAME_CHARS = 256
MAX_URL_CHARS = 8_192
MAX_TOKEN_CHARS = 256  # ids, dates, language codes, run ids
# What happens over the cap: "cut" keeps the value's head; "drop" stores NULL (a cut URL or id could point at
# something else, and these are optional); "reject" skips the row, for the fields a document's id is made of
# (a cut would merge distinct posts) — counted as `oversized_id`. Cut or dropped values count as `oversized`.
FIELD_CAPS: dict[str, tuple[int, str]] = {
    "source": (MAX_TOKEN_CHARS, "reject"),
    "post_id": (MAX_TOKEN_CHARS, "reject"),
    "url": (MAX_URL_CHARS, "reject"),
    "thread_url": (MAX_URL_CHARS, "reject"),
    "thread_title": (MAX_TITLE_CHARS, "cut"),
    "author": (MAX_NAME_CHARS, "cut"),
    "author_url": (MAX_URL_CHARS, "drop"),
    "reply_to": (MAX_TOKEN_CHARS, "drop"),
    "posted_at": (MAX_TOKEN_CHARS, "drop"),
    "fetched_at": (MAX_TOKEN_CHARS, "drop"),
    "language": (MAX_TOKEN_CHARS, "drop"),
    "run_id": (MAX_TOKEN_CHARS, "drop"),
    "thread_id": (MAX_TOKEN_CHARS, "drop"),
}
_LABELS = ("thread_title", "author")  # shown as names: cleaned of bidi controls and invisible characters
# one pass over the string fields (a number is made a string first): (field, cap, over the cap, a label)
_FIELD_RULES = tuple((f, cap, how, f in _LABELS) for f, (cap, how) in FIELD_CAPS.items())
# reasons a line gives no item; each is counted, and all of them make `bad_lines`
BAD_LINE_REASONS = ("bad_json", "wrong_type", "missing_field", "empty_text", "oversized_id", "oversized_line")


class _Rejected(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# ------------------------------------------------------------------------------------------ parsing


@lru_cache(maxsize=65_536)  # posts of one thread share its URL: parse it once
def canonical_url(url: str | None) -> str | None:
    """Scheme and host lowercased, fragment and trailing slash dropped: the same thread under two spellings."""
    if not url:
        return url
    try:
        p = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    path = p.path.rstrip("/") or "/"
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), path, p.query, ""))


def author_key(source: str, author: str | None, author_url: str | None) -> str | None:
    if not author and not author_url:
        return None
    return stable_id(source, author_url or author)


def doc_id_for(source: str, thread_url: str | None, url: str, post_id: str) -> str:
    return stable_id(source, canonical_url(thread_url) or canonical_url(url), post_id)


def check_item(obj: Any, max_chars: int, problems: Counter) -> dict:
    """A clean item dict: fixable type slips fixed, strings capped (`FIELD_CAPS`), names and titles cleaned
    (`clean_label`). Raises _Rejected (reason, message) for a line that gives no document."""
    if not isinstance(obj, dict):
        raise _Rejected("wrong_type", f"a JSON {type(obj).__name__}, not an object")
    for f in REQUIRED:
        v = obj.get(f)
        if v is None or v == "":
            raise _Rejected("missing_field", f"no {f!r}")
    if isinstance(obj["post_id"], (int, float)) and not isinstance(obj["post_id"], bool):
        obj["post_id"] = str(obj["post_id"])
    for f in REQUIRED:
        if not isinstance(obj[f], str):
            raise _Rejected("wrong_type", f"{f!r} is {type(obj[f]).__name__}, not a string")
    text = obj["text"]
    if len(text) > max_chars:
        text = obj["text"] = text[:max_chars]
        problems["oversized"] += 1
    if is_blank(text):
        raise _Rejected("empty_text", "text has no visible character")
    obj.pop("extra", None)  # not stored (and not worth sending to the helper processes)
    get = obj.get
    for f, cap, how, label in _FIELD_RULES:
        v = get(f)
        if v is None:
            continue
        if v.__class__ is not str and not isinstance(v, str):
            v = obj[f] = str(v) if isinstance(v, (int, float)) else None
            problems["coerced"] += 1
            if v is None:
                continue
        if len(v) > cap:
            if how == "reject":
                raise _Rejected("oversized_id", f"{f!r} is {len(v):,} characters (at most {cap:,})")
            v = obj[f] = v[:cap] if how == "cut" else None
            problems["oversized"] += 1
        if label and v and not v.isprintable():
            obj[f] = clean_label(v) or None
    for f in _INT_FIELDS:
        v = obj.get(f)
        if v is None or (isinstance(v, int) and not isinstance(v, bool)):
            continue
        try:
            obj[f] = int(float(str(v).replace(" ", "")))
        except (ValueError, OverflowError):
            obj[f] = None
        problems["coerced"] += 1
    r = obj.get("rating")
    if r is not None and not isinstance(r, (int, float)):
        try:
            obj["rating"] = float(r)
        except (TypeError, ValueError):
            obj["rating"] = None
        problems["coerced"] += 1
    q = obj.get("quoted")
    if q is not None and not isinstance(q, list):
        obj["quoted"] = []
        problems["coerced"] += 1
    return obj


@dataclass
class DamagedFile:
    """A raw file that raised while being read: `lines` complete lines were read before the error."""

    path: Path
    lines: int
    error: str


def read_raw(
    path: Path, max_chars: int, problems: Counter, errors: list[str], damaged: list[DamagedFile] | None = None
) -> Iterator[dict]:
    """Items of one raw file; bad lines are counted in `problems` and described in `errors`. A file that cannot
    be read to its end costs only the rest of itself: cut short (EOFError, a killed or running crawl) it counts as
    `truncated_files`; damaged otherwise (not gzip, garbage in the stream, a directory, no permission) it counts
    as `damaged_files` and is added to `damaged` for the caller to quarantine."""
    lineno = 0

    def bad(reason: str, message: str) -> None:
        problems[reason] += 1
        if len(errors) < MAX_ERRORS_KEPT:
            errors.append(f"{path.name}:{lineno}: {message}")

    try:
        with open_raw(path) as fh:
            for lineno, line in enumerate(iter_lines(fh), 1):  # noqa: B007 (read by bad() and the except)
                if line is None:
                    problems["lines"] += 1
                    bad("oversized_line", "line longer than the raw-line cap, skipped")
                    continue
                if line.isspace():  # no copy, unlike strip()
                    continue
                problems["lines"] += 1
                try:
                    obj, repaired = decode_line(line)
                except ValueError as e:
                    bad("bad_json", f"bad JSON ({str(e)[:80]})")
                    continue
                try:
                    item = check_item(obj, max_chars, problems)
                except _Rejected as e:
                    bad(e.reason, str(e)[:120])
                    continue
                if repaired:
                    problems["repaired"] += 1
                yield item
    except FILE_ERRORS as e:
        kind = type(e).__name__ if type(e).__module__ == "builtins" else f"{type(e).__module__}.{type(e).__name__}"
        what = f"{kind}: {str(e)[:80]}"
        done = lineno  # complete lines read; the one being read when it failed is lost
        if isinstance(e, EOFError):
            problems["truncated_files"] += 1
            errors.append(f"{path.name}: cut short after line {done} ({what})")
        else:
            problems["damaged_files"] += 1
            errors.append(f"{path.name}: damaged after line {done} ({what}): {path}")
            if damaged is not None:
                damaged.append(DamagedFile(path, done, what))


def raw_files(run_dir: Path) -> list[Path]:
    files = sorted(run_dir.glob("items-*.jsonl.gz")) + sorted(run_dir.glob("items-*.jsonl"))
    if not files:
        files = sorted(run_dir.glob("*.jsonl.gz")) + sorted(run_dir.glob("*.jsonl"))
    return files


# ------------------------------------------------------------------------------------------ batch → rows


@dataclass
class _Prep:
    """What turning a batch into rows needs: all a helper process has (no store, no write session)."""

    settings: Settings
    matcher: BrandMatcher
    mask: Callable[[str], str]
    run_id: str | None
    raw_path: str
    # source -> [(url prefix, brand id)]: posts there concern the brand even where they do not name it
    about: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


@dataclass(kw_only=True)
class _Ctx(_Prep):
    """The ingest's own context: rows preparation plus the store it writes to."""

    store: Store
    session: WriteSession


def about_rules(settings: Settings, brand_ids: set[str]) -> dict[str, list[tuple[str, str]]]:
    """The sources' `about` entries as {source: [(url prefix, brand id)]} ("" = every post of the source).
    A brand that brands.yaml does not define is a ConfigError, not a silent miss."""
    if not Path(settings.sources_file).exists():
        return {}
    out: dict[str, list[tuple[str, str]]] = {}
    for src in load_sources(settings.sources_file, settings.demo_web_url):
        for brand, prefixes in src.about.items():
            if brand not in brand_ids:
                raise ConfigError(
                    f"{settings.sources_file}: {src.name}: about: unknown brand {brand!r} "
                    f"(brands.yaml has {', '.join(sorted(brand_ids)) or 'none'})"
                )
            out.setdefault(src.name, []).extend((p, brand) for p in (prefixes or [""]))
    return out


def _lang(text: str, given: str | None) -> str:
    if given:
        return given
    head = text[:300]
    if head.isascii():
        return "en"
    # Cyrillic letters take two bytes in UTF-8: a cheap share of non-Latin letters (no per-character loop)
    extra = len(head.encode("utf-8")) - len(head)
    return "ru" if extra * 3 >= len(head) else "en"


def _doc_rows(items: list[dict], ctx: _Prep, now) -> tuple[pd.DataFrame, dict[str, int]]:
    mask, cfg = ctx.mask, ctx.settings.ingest
    rows = []
    links: dict[str, int] = {}
    for it in items:
        src = it["source"]
        text = normalize_text(it["text"])
        if cfg.mask_pii:
            text = mask(text)
        quoted = None
        if it.get("quoted"):
            parts = [normalize_text(str(q.get("text") or "")) for q in it["quoted"] if isinstance(q, dict)]
            quoted = "\n".join(p for p in parts if p)[: cfg.max_text_chars] or None
            if quoted and cfg.mask_pii:
                quoted = mask(quoted)
        thread = it.get("thread_url")
        did = doc_id_for(src, thread, it["url"], it["post_id"])
        parent = doc_id_for(src, thread, it["url"], it["reply_to"]) if it.get("reply_to") else None
        author, author_url = it.get("author"), it.get("author_url")
        lc = link_count(text)
        if lc:
            links[did] = lc
        rows.append(
            (
                did,
                src,
                it["url"],
                thread,
                it.get("thread_title"),
                author,
                author_url,
                author_key(src, author, author_url),
                it.get("posted_at"),
                it.get("fetched_at"),
                text,
                quoted,
                text_hash(text),
                _lang(text, it.get("language")),
                parent,
                it.get("reach"),
                it.get("likes"),
                it.get("views"),
                it.get("replies"),
                it.get("rating"),
                bool(it.get("is_official_answer")),
                ctx.raw_path,
                it.get("run_id") or ctx.run_id,
                it["post_id"],
                it.get("reply_to"),
            )
        )
    df = pd.DataFrame(
        rows,
        columns=[
            "doc_id",
            "source_id",
            "url",
            "thread_url",
            "thread_title",
            "author",
            "author_url",
            "author_key",
            "posted_at",
            "fetched_at",
            "text",
            "quoted_text",
            "text_hash",
            "lang",
            "parent_id",
            "reach",
            "likes",
            "views",
            "replies",
            "rating",
            "is_official_answer",
            "raw_path",
            "run_id",
            "post_id",
            "reply_to",
        ],
    )
    for c in ("posted_at", "fetched_at"):
        df[c] = pd.to_datetime(df[c], utc=True, errors="coerce", format="ISO8601")
    for c in _INT_FIELDS:
        v = pd.to_numeric(df[c], errors="coerce")
        df[c] = v.where(v.abs() < 2**31).round().astype("Int64")
    df["rating"] = pd.to_numeric(df["rating"], errors="coerce")
    df["ingested_at"] = now
    df["updated_at"] = now
    return df.drop_duplicates("doc_id", keep="last"), links


def _mention_rows(docs: pd.DataFrame, ctx: _Prep, now) -> pd.DataFrame:
    chars = ctx.settings.models.context_chars
    match = ctx.matcher.match
    rows: list[tuple[Any, ...]] = []
    about = ctx.about
    # plain lists: iterating Arrow-backed columns element by element costs more than the matching loop
    for did, src, text, url, thread in zip(
        docs["doc_id"].tolist(),
        docs["source_id"].tolist(),
        docs["text"].tolist(),
        docs["url"].tolist(),
        docs["thread_url"].tolist(),
    ):
        found = match(text, src)
        for m in found:
            context, _ = context_window(text, m.start, m.end, chars)
            rows.append(
                (stable_id(did, m.brand_id), did, m.brand_id, m.start, m.end, m.matched, context, text_hash(context))
            )
        rules = about.get(src)
        if rules:
            # a post on the brand's own channel, under it, or in its product's reviews: the brand without a span
            # (matched NULL), scored on the post's opening; a post that names the brand keeps its text mention
            named = {m.brand_id for m in found}
            for prefix, brand in rules:
                if brand not in named and (
                    not prefix
                    or (isinstance(url, str) and url.startswith(prefix))
                    or (isinstance(thread, str) and thread.startswith(prefix))
                ):
                    named.add(brand)
                    context, _ = context_window(text, 0, 0, 2 * chars)
                    rows.append((stable_id(did, brand), did, brand, None, None, None, context, text_hash(context)))
    df = pd.DataFrame(
        rows,
        columns=["mention_id", "doc_id", "brand_id", "span_start", "span_end", "matched", "context", "context_hash"],
    )
    df["via"] = None  # the post's own words or its source: not inherited from the thread (thread_context)
    df["created_at"] = now
    df["updated_at"] = now
    return df


_META = ["likes", "views", "replies", "reach"]


def link_parents(con, batch: pd.DataFrame) -> int:
    """Point replies whose thread-scoped parent id matches no document at the document with that post id in
    the same source (when exactly one has it): a Telegram comment answers a channel post that lives in another
    thread. Runs both ways, so a parent ingested after its replies links them too. Returns rows changed."""
    if batch.empty:
        return 0
    con.register("__batch", batch)
    try:
        row = con.execute("""
            WITH wanted AS (
                SELECT source_id, reply_to AS post_id FROM __batch WHERE reply_to IS NOT NULL
                UNION SELECT source_id, post_id FROM __batch WHERE post_id IS NOT NULL
            ), p AS (
                SELECT d.source_id, d.post_id, min(d.doc_id) AS doc_id FROM documents d
                JOIN wanted w ON w.source_id = d.source_id AND w.post_id = d.post_id
                GROUP BY ALL HAVING count(*) = 1
            ), fix AS (
                SELECT c.doc_id, p.doc_id AS parent FROM documents c
                JOIN p ON p.source_id = c.source_id AND p.post_id = c.reply_to
                WHERE c.parent_id IS DISTINCT FROM p.doc_id AND c.doc_id <> p.doc_id
                  AND NOT EXISTS (SELECT 1 FROM documents x WHERE x.doc_id = c.parent_id)
            )
            UPDATE documents SET parent_id = fix.parent FROM fix WHERE documents.doc_id = fix.doc_id""").fetchall()
        return int(row[0][0]) if row else 0
    finally:
        con.unregister("__batch")


@dataclass
class _Prepared:
    """A batch's rows computed ahead in a helper process: every document's mentions and dedup key, not only the
    new documents'."""

    docs: pd.DataFrame
    links: dict[str, int]
    mentions: pd.DataFrame
    keys: dict[str, str]  # doc_id → dedup_key(text)
    now: Any


def _process_batch(
    items: list[dict],
    ctx: _Ctx,
    counts: Counter,
    by_brand: Counter,
    attempt: int = 0,
    prepared: _Prepared | None = None,
) -> None:
    if prepared is None:
        now = utcnow()
        docs, links = _doc_rows(items, ctx, now)
    else:
        now, docs, links = prepared.now, prepared.docs, prepared.links
    # what is stored already (through the session's held connection, or a read-only one)
    with ctx.session.read() as con:
        con.register("__ids", docs[["doc_id", "text_hash"] + _META])
        try:
            old = con.execute(
                "SELECT d.doc_id, d.text_hash, "
                + ", ".join(f"(d.{c} IS NOT DISTINCT FROM i.{c}) AS same_{c}" for c in _META)
                + " FROM documents d JOIN __ids i USING (doc_id)"
            ).fetchall()
        finally:
            con.unregister("__ids")
    # plain lists and sets: element-wise pandas operations on Arrow-backed strings cost more than the work
    old_hash = {r[0]: r[1] for r in old}
    same_meta = {r[0] for r in old if all(r[2:])}
    doc_ids = docs["doc_id"].tolist()
    is_old = np.fromiter((d in old_hash for d in doc_ids), dtype=bool, count=len(doc_ids))
    unchanged = is_old.copy()
    if old_hash:
        unchanged &= np.fromiter(
            (old_hash.get(d) == h for d, h in zip(doc_ids, docs["text_hash"].tolist())), dtype=bool, count=len(doc_ids)
        )
    fresh = docs[~unchanged]
    changed_ids = {d for d, o, u in zip(doc_ids, is_old.tolist(), unchanged.tolist()) if o and not u}
    seen = Counter(
        documents_new=int((~is_old).sum()), documents_updated=len(changed_ids), documents_unchanged=int(unchanged.sum())
    )
    stale_meta = unchanged & np.fromiter((d not in same_meta for d in doc_ids), dtype=bool, count=len(doc_ids))
    meta = docs.loc[stale_meta, ["doc_id"] + _META]
    if fresh.empty and meta.empty:
        counts.update(seen)
        return
    # brand matching is the CPU-heavy part: done before the write transaction
    if prepared is None:
        mentions = _mention_rows(fresh, ctx, now)
    else:
        mentions = prepared.mentions[_flags(prepared.mentions["doc_id"].tolist(), set(fresh["doc_id"].tolist()))]

    # new documents go in by plain INSERT; after two lost races, upserts only
    new_ids = {d for d, o in zip(doc_ids, is_old.tolist()) if not o} if attempt < 2 else set()
    try:
        with ctx.session.write() as con:
            c, b = _write_batch(
                con,
                ctx,
                fresh,
                meta,
                mentions,
                changed_ids,
                new_ids,
                links,
                now,
                prepared.keys if prepared is not None else None,
            )
    except duckdb.ConstraintException:
        # another writer stored some of these documents since the read above; the transaction rolled back:
        # read again and redo the batch (those documents now count as stored)
        log.info("batch raced another writer; redoing it")
        _process_batch(items, ctx, counts, by_brand, attempt + 1, prepared)
        return
    counts.update(seen)
    counts.update(c)
    by_brand.update(b)


def _flags(values: list, members: set) -> np.ndarray:
    return np.fromiter((v in members for v in values), dtype=bool, count=len(values))


def _insert_new(con, ctx: _Ctx, table: str, df: pd.DataFrame, key: str, new: np.ndarray, update: list[str]) -> None:
    """Rows flagged `new` (their key was not stored when the batch was read) by a plain INSERT, about three
    times cheaper in DuckDB than INSERT … ON CONFLICT; the others by an upsert. A key stored meanwhile by
    another writer raises duckdb.ConstraintException, and the caller redoes the batch with upserts only."""
    fresh_rows = df[new]
    if not fresh_rows.empty:
        cols = ", ".join(f'"{c}"' for c in fresh_rows.columns)
        con.register("__insert_df", fresh_rows)
        # no try/finally: after a failed statement DuckDB refuses even unregister() until the rollback,
        # which would hide the ConstraintException; the connection is closed with the transaction anyway
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM __insert_df")
        con.unregister("__insert_df")
    rest = df[~new]
    if not rest.empty:
        ctx.store.upsert(table, rest, [key], con=con, update=update)


def _write_batch(
    con,
    ctx: _Ctx,
    fresh: pd.DataFrame,
    meta: pd.DataFrame,
    mentions: pd.DataFrame,
    changed_ids: set[str],
    new_ids: set[str],
    links: dict[str, int],
    now,
    keys: dict[str, str] | None = None,
) -> tuple[Counter, Counter]:
    """The write half of a batch, inside one transaction; returns (counts, mentions by brand)."""
    cfg = ctx.settings.ingest
    counts: Counter = Counter()
    by_brand: Counter = Counter()
    if not meta.empty:
        ctx.store.upsert("documents", meta, ["doc_id"], con=con)
    if fresh.empty:
        return counts, by_brand

    # duplicates: new and edited documents against everything stored and each other
    order = fresh["posted_at"].rank(method="first", na_option="bottom").fillna(0)
    fresh_ids = fresh["doc_id"].tolist()
    keyed = [keys[d] for d in fresh_ids] if keys is not None else [dedup_key(t) for t in fresh["text"].tolist()]
    dd = pd.DataFrame({"doc_id": fresh_ids, "key": keyed, "order": order.to_numpy()})
    if changed_ids:
        con.register("__chg", pd.DataFrame({"doc_id": sorted(changed_ids)}))
        con.execute("DELETE FROM doc_lsh WHERE doc_id IN (SELECT doc_id FROM __chg)")
    dup_of, lsh_rows = find_duplicates(con, dd, cfg.near_dup_threshold, cfg.near_dup_min_words)
    fresh = fresh.assign(dup_of=pd.Series([dup_of.get(d) for d in fresh_ids], index=fresh.index, dtype="str"))
    counts["duplicates"] += len(dup_of)
    # a document keeps its old spam verdict until spam_reasons() recomputes it below
    _insert_new(
        con,
        ctx,
        "documents",
        fresh,
        "doc_id",
        _flags(fresh_ids, new_ids),
        [c for c in fresh.columns if c not in ("doc_id", "ingested_at")],
    )
    con.register("__lsh", lsh_rows)
    con.execute("INSERT INTO doc_lsh SELECT band, bucket, doc_id FROM __lsh")
    con.unregister("__lsh")
    counts["parents_linked"] += link_parents(con, fresh[["doc_id", "source_id", "post_id", "reply_to"]])

    if changed_ids:
        keep = mentions.loc[mentions["doc_id"].isin(changed_ids), "mention_id"]
        con.register("__keep", pd.DataFrame({"mention_id": keep.tolist() or ["\x00"]}))
        removed = con.execute(
            "DELETE FROM mentions WHERE doc_id IN (SELECT doc_id FROM __chg) AND via IS NULL "
            "AND mention_id NOT IN (SELECT mention_id FROM __keep)"
        ).fetchone()
        counts["mentions_removed"] += int(removed[0]) if removed else 0
        con.unregister("__keep")
        con.unregister("__chg")
    if not mentions.empty:
        # a new document's mentions are new too (mention_id = stable_id(doc_id, brand_id))
        _insert_new(
            con,
            ctx,
            "mentions",
            mentions,
            "mention_id",
            _flags(mentions["doc_id"].tolist(), new_ids),
            ["span_start", "span_end", "matched", "context", "context_hash", "via", "updated_at"],
        )
    counts["mentions"] += len(mentions)
    by_brand.update(mentions["brand_id"].tolist())
    counts["mentions_of_duplicates"] += sum(d in dup_of for d in mentions["doc_id"].tolist())

    verdicts = spam_reasons(con, fresh_ids, links, ctx.settings)
    verdict_ids = verdicts["doc_id"].tolist() if not verdicts.empty else []
    if verdict_ids:  # every verdict is for a stored document: an UPDATE, cheaper than an upsert
        con.register("__verdicts", verdicts)
        try:
            con.execute(
                "UPDATE documents SET spam = v.spam, spam_reasons_json = v.spam_reasons_json "
                "FROM __verdicts v WHERE documents.doc_id = v.doc_id"
            )
        finally:
            con.unregister("__verdicts")
        fresh_set = set(fresh_ids)
        counts["spam"] += sum(bool(v) for d, v in zip(verdict_ids, verdicts["spam"].tolist()) if d in fresh_set)
    facts.refresh(con, doc_ids=fresh_ids + verdict_ids)
    # replies inherit the brand their thread names, now that this batch's posts and mentions are stored
    counts.update(thread_context.refresh(con, ctx.settings, ctx.matcher, fresh, now))

    keys = fresh["author_key"].dropna().unique().tolist()
    if keys:
        con.register("__authors", pd.DataFrame({"author_key": keys}))
        con.execute(
            """
            INSERT INTO authors (author_key, source_id, name, url, posts, updated_at)
            SELECT d.author_key, any_value(d.source_id), max(d.author), max(d.author_url), count(*), ?
            FROM documents d JOIN __authors USING (author_key) GROUP BY d.author_key
            ON CONFLICT (author_key) DO UPDATE SET
                posts = excluded.posts, name = excluded.name, url = excluded.url,
                updated_at = excluded.updated_at
            """,
            [now],
        )
        con.unregister("__authors")
        counts["authors"] += len(keys)
    return counts, by_brand


# ------------------------------------------------------------------------------------------ config sync


def _upsert_changed(con, store: Store, table: str, df: pd.DataFrame, key: str, compare: list[str]) -> int:
    """Upsert only rows that differ from what is stored, so re-running leaves updated_at alone."""
    if df.empty:
        return 0
    old = con.execute(f"SELECT {key}, {', '.join(compare)} FROM {table}").df()
    merged = df.merge(old, on=key, how="left", suffixes=("", "__old"), indicator=True)
    differs = merged["_merge"] == "left_only"
    for c in compare:
        a, b = merged[c], merged[c + "__old"]
        differs |= ~((a == b) | (a.isna() & b.isna()))
    changed = df[differs.to_numpy()]
    if not changed.empty:
        store.upsert(table, changed, [key], con=con)
    return len(changed)


def sync_config(settings: Settings, store: Store) -> dict[str, int]:
    """Upsert `sources` rows from sources.yaml and `brands` rows from brands.yaml (changed rows only)."""
    now = utcnow()
    brands = load_brands(settings.brands_file)
    b = pd.DataFrame(
        [
            {
                "brand_id": x.id,
                "name": x.name,
                "aliases_json": json.dumps(
                    x.aliases + [a for a in x.ambiguous_aliases if a not in x.aliases], ensure_ascii=False
                ),
                "query": x.query,
                "exclusions_json": json.dumps(x.exclusions, ensure_ascii=False),
                "updated_at": now,
            }
            for x in brands
        ]
    )
    sources = []
    if Path(settings.sources_file).exists():
        sources = load_sources(settings.sources_file, settings.demo_web_url)
    s = pd.DataFrame([x.row(now) for x in sources])
    with store.write() as con:
        nb = _upsert_changed(con, store, "brands", b, "brand_id", ["name", "aliases_json", "query", "exclusions_json"])
        ns = (
            _upsert_changed(
                con, store, "sources", s, "source_id", ["kind", "base_url", "engine", "config_json", "enabled"]
            )
            if not s.empty
            else 0
        )
    return {"brands": len(b), "brands_changed": nb, "sources": len(s), "sources_changed": ns}


# ------------------------------------------------------------------------------------------ damaged files


def _free_path(folder: Path, stem: str, suffix: str) -> Path:
    """`folder/stem+suffix`, or the first `stem-N+suffix` that does not exist (a later file of the same name)."""
    n, out = 0, folder / f"{stem}{suffix}"
    while out.exists() or out.is_symlink():
        n += 1
        out = folder / f"{stem}-{n}{suffix}"
    return out


def _split_name(name: str) -> tuple[str, str]:
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def _salvage(moved: Path, lines: int, run_dir: Path, name: str) -> Path | None:
    """The first `lines` lines of a quarantined file (those read, and stored, before the damage) copied verbatim
    into `<run_dir>/<name stem>.salvaged.jsonl.gz`, so a replay of the run still finds them."""
    if lines <= 0:
        return None
    dest = _free_path(run_dir, _split_name(name)[0] + ".salvaged", ".jsonl.gz")
    part = dest.with_name(dest.name + ".part")  # not an items file until it is complete
    n = 0
    try:
        with open_raw(moved) as src, gzip.open(part, "wb", compresslevel=5) as out:
            for line in iter_lines(src):
                if n >= lines:
                    break
                n += 1
                if line is not None:
                    out.write(line if line.endswith(b"\n") else line + b"\n")
    except FILE_ERRORS:
        pass  # the same damage again, at the same place: what was read is written
    part.replace(dest)
    return dest


def quarantine(settings: Settings, bad: DamagedFile) -> Path | None:
    """Move a damaged raw file (or whatever stands at its name) to `<raw_dir>/quarantine/<its path under
    raw_dir>`, then copy its readable lines back beside the run's other files; returns where it went (None when
    it could not be moved: the next ingest reports it again). Moving it is what keeps later ingests and replays
    from tripping on it; the quarantined original keeps every byte for a person to look at."""
    raw_dir = Path(settings.raw_dir)
    try:
        rel = bad.path.absolute().relative_to(raw_dir.absolute())
    except ValueError:  # a run folder outside raw_dir (crawl_runs.raw_path)
        rel = Path(bad.path.parent.name) / bad.path.name
    target = raw_dir / QUARANTINE / rel
    dest = _free_path(target.parent, *_split_name(target.name))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(bad.path), str(dest))
    except OSError as e:
        log.warning(
            "damaged raw file %s could not be quarantined (%s: %s); the next ingest reports it again",
            bad.path,
            type(e).__name__,
            e,
        )
        return None
    kept = ""
    try:
        salvaged = _salvage(dest, bad.lines, bad.path.parent, bad.path.name)
        kept = f"; its {bad.lines} line(s) read before the damage kept in {salvaged.name}" if salvaged else ""
    except OSError as e:
        kept = f"; its {bad.lines} line(s) read before the damage could not be copied back ({e})"
    log.warning("damaged raw file %s (%s) moved to %s%s", bad.path, bad.error, dest, kept)
    return dest


# ------------------------------------------------------------------------------------------ runs


def runs_to_ingest(
    settings: Settings, store: Store, run_id: str | None = None, all_runs: bool = False
) -> list[tuple[str, Path]]:
    """(run_id, raw folder) pairs: one given run, every raw folder (`all_runs`, a replay), or the finished
    runs `crawl_runs` says are not ingested yet."""
    raw_dir = Path(settings.raw_dir)
    rows = store.query("SELECT run_id, raw_path, status, finished_at, ingested_at FROM crawl_runs ORDER BY started_at")
    known = {r.run_id: r for r in rows.itertuples(index=False)}

    def folder(rid: str) -> Path:
        r = known.get(rid)
        if r is not None and isinstance(r.raw_path, str) and r.raw_path:
            p = Path(r.raw_path)
            return p if p.is_dir() else p.parent
        return raw_dir / rid

    if run_id is not None:
        p = folder(run_id)
        if not p.is_dir():
            raise IngestError(f"run {run_id!r}: raw folder {p} does not exist")
        return [(run_id, p)]
    if all_runs:
        return (
            [(p.name, p) for p in sorted(raw_dir.iterdir()) if p.is_dir() and p.name != QUARANTINE]
            if raw_dir.is_dir()
            else []
        )
    pending = rows[rows["ingested_at"].isna() & rows["finished_at"].notna() & (rows["status"] != "running")]
    return [(rid, folder(rid)) for rid in pending["run_id"]]


def _batches(
    files: list[Path], cfg: Any, problems: Counter, errors: list[str], damaged: list[DamagedFile]
) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for f in files:
        for item in read_raw(f, cfg.max_text_chars, problems, errors, damaged):
            batch.append(item)
            if len(batch) >= cfg.batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


# ------------------------------------------------------------------------------------------ helper process

_HELPER: dict[str, Any] = {}


class HelperUnavailable(RuntimeError):
    """The helper process could not set itself up (its brands file is unreadable, …)."""


def _helper_init(settings: Settings) -> None:
    # an initializer that raises makes the pool log a traceback from the child and then break; keeping the reason
    # for each task to report gives the ingest's own warning instead
    try:
        brands = load_brands(settings.brands_file)
        _HELPER["ctx"] = _Prep(
            settings,
            build_matcher(brands, settings),
            make_masker(settings.ingest.order_patterns),
            None,
            "",
            about_rules(settings, {b.id for b in brands}),
        )
    except Exception as e:
        _HELPER["error"] = f"{type(e).__name__}: {e}"


def _helper_prepare(items: list[dict], run_id: str | None, raw_path: str) -> _Prepared:
    if "ctx" not in _HELPER:
        raise HelperUnavailable(_HELPER.get("error", "not initialised"))
    ctx = replace(_HELPER["ctx"], run_id=run_id, raw_path=raw_path)
    now = utcnow()
    docs, links = _doc_rows(items, ctx, now)
    keys = dict(zip(docs["doc_id"].tolist(), map(dedup_key, docs["text"].tolist())))
    return _Prepared(docs, links, _mention_rows(docs, ctx, now), keys, now)


def _prepared_batches(
    batches: Iterator[list[dict]], ctx: _Ctx, helpers: int
) -> Generator[tuple[list[dict], _Prepared | None], None, None]:
    """(batch, its rows prepared ahead or None) in order. With `helpers` processes and more than one batch, the
    next batches are normalised, masked and matched in helper processes while the caller writes the current one
    (the first batch is done here while the helpers start). A helper that dies or cannot start costs nothing but
    speed: the remaining batches are prepared here."""
    first = next(batches, None)
    if first is None:
        return
    second = next(batches, None) if helpers else None
    if second is None:
        yield first, None
        yield from ((b, None) for b in batches)
        return
    pool = ProcessPoolExecutor(
        helpers, mp_context=get_context("spawn"), initializer=_helper_init, initargs=(ctx.settings,)
    )
    ahead: deque[list] = deque()  # [batch, future]; a batch stays here until its rows are handed out

    def submit(b: list[dict]) -> None:
        ahead.append([b, None])
        ahead[-1][1] = pool.submit(_helper_prepare, b, ctx.run_id, ctx.raw_path)

    def take() -> tuple[list[dict], _Prepared]:
        prepared = ahead[0][1].result()
        return ahead.popleft()[0], prepared

    try:
        submit(second)
        yield first, None
        for b in batches:
            submit(b)
            while len(ahead) > helpers:
                yield take()
        while ahead:
            yield take()
    except (BrokenProcessPool, HelperUnavailable) as e:
        log.warning("ingest helper process failed (%s); preparing the remaining batches in this process", e)
        while ahead:
            yield ahead.popleft()[0], None
        yield from ((b, None) for b in batches)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ingest_run(
    settings: Settings,
    store: Store,
    run_id: str,
    run_dir: Path,
    matcher: BrandMatcher | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Ingest one raw folder; returns its counts. A `matcher` handed in must be the one `settings.brands_file`
    builds: helper processes (`ingest.helper_processes`) build theirs from that file."""
    cfg = settings.ingest
    matcher = matcher or build_matcher(load_brands(settings.brands_file), settings)
    counts: Counter = Counter()
    problems: Counter = Counter()
    by_brand: Counter = Counter()
    errors: list[str] = []
    damaged: list[DamagedFile] = []
    with log_context(stage="ingest", run_id=run_id), store.session(cfg.hold_lock_seconds) as session:
        ctx = _Ctx(
            settings,
            matcher,
            make_masker(cfg.order_patterns),
            run_id,
            str(run_dir),
            about_rules(settings, set(matcher.brands)),
            store=store,
            session=session,
        )
        files = raw_files(run_dir)
        # closing(): a batch that fails stops the helpers now, not when the generator is collected
        with closing(
            _prepared_batches(_batches(files, cfg, problems, errors, damaged), ctx, cfg.helper_processes)
        ) as batches:
            for batch, prepared in batches:
                _process_batch(batch, ctx, counts, by_brand, prepared=prepared)
                if progress:
                    progress(len(batch))
        # only now, with the readable lines stored: a failed write leaves the file for the next ingest
        quarantined = [f"{b.path} -> {dest}" for b in damaged if (dest := quarantine(settings, b)) is not None]
        with session.write() as con:
            con.execute("UPDATE crawl_runs SET ingested_at = ? WHERE run_id = ?", [utcnow(), run_id])
        bad = sum(problems[k] for k in BAD_LINE_REASONS)
        for e in errors:
            log.warning("bad raw input: %s", e)
        out = {
            "files": len(files),
            "lines": problems["lines"],
            "items": problems["lines"] - bad,
            "bad_lines": bad,
            **{
                k: problems[k]
                for k in (*BAD_LINE_REASONS, "repaired", "oversized", "coerced", "truncated_files", "damaged_files")
            },
            "quarantined_files": len(quarantined),
            **counts,
            "mentions_by_brand": dict(by_brand),
            "errors": errors,
            "quarantined": quarantined,
        }
        log.info(
            "ingested run: %s",
            {k: v for k, v in out.items() if k not in ("errors", "mentions_by_brand", "quarantined")},
        )
    return out


def ingest_pending(
    settings: Settings,
    store: Store,
    run_id: str | None = None,
    all_runs: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Ingest the given run, every raw folder (`all_runs`), or every finished run not ingested yet."""
    store.upgrade()
    cfg_counts = sync_config(settings, store)
    try:
        matcher = build_matcher(load_brands(settings.brands_file), settings)
    except ValueError as e:  # a brand query that does not parse
        raise ConfigError(f"{settings.brands_file}: {e}") from None
    runs = runs_to_ingest(settings, store, run_id, all_runs)
    total: Counter = Counter()
    by_brand: Counter = Counter()
    errors: list[str] = []
    quarantined: list[str] = []
    for rid, path in runs:
        r = ingest_run(settings, store, rid, path, matcher, progress)
        by_brand.update(r.pop("mentions_by_brand"))
        errors += [f"{rid}/{e}" for e in r.pop("errors")][: MAX_ERRORS_KEPT - len(errors)]
        quarantined += r.pop("quarantined")
        total.update({k: v for k, v in r.items() if isinstance(v, int)})
    return {
        "runs": len(runs),
        **dict(total),
        "brands": cfg_counts["brands"],
        "sources": cfg_counts["sources"],
        "mentions_by_brand": dict(by_brand),
        "errors": errors,
        "quarantined": quarantined,
    }
