"""Writing a batch's rows: what is stored already, new and edited documents, duplicates, mentions, spam verdicts,
facts, thread context and authors, in one write transaction (redone with upserts when another writer races it)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from pipeline import facts, thread_context
from pipeline.dedup import find_duplicates
from pipeline.ingest.rows import Prep, Prepared, doc_rows, mention_rows
from pipeline.normalize import dedup_key
from pipeline.spam import spam_reasons
from pipeline.store import Store, WriteSession, utcnow

log = logging.getLogger("pipeline.ingest")


@dataclass(kw_only=True)
class Ctx(Prep):
    """The ingest's own context: rows preparation plus the store it writes to."""

    store: Store
    session: WriteSession


META = ["likes", "views", "replies", "reach"]


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


def process_batch(
    items: list[dict],
    ctx: Ctx,
    counts: Counter,
    by_brand: Counter,
    attempt: int = 0,
    prepared: Prepared | None = None,
) -> None:
    if prepared is None:
        now = utcnow()
        docs, links = doc_rows(items, ctx, now)
    else:
        now, docs, links = prepared.now, prepared.docs, prepared.links
    # what is stored already (through the session's held connection, or a read-only one)
    with ctx.session.read() as con:
        con.register("__ids", docs[["doc_id", "text_hash"] + META])
        try:
            old = con.execute(
                "SELECT d.doc_id, d.text_hash, "
                + ", ".join(f"(d.{c} IS NOT DISTINCT FROM i.{c}) AS same_{c}" for c in META)
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
    meta = docs.loc[stale_meta, ["doc_id"] + META]
    if fresh.empty and meta.empty:
        counts.update(seen)
        return
    # brand matching is the CPU-heavy part: done before the write transaction
    if prepared is None:
        mentions = mention_rows(fresh, ctx, now)
    else:
        mentions = prepared.mentions[flags(prepared.mentions["doc_id"].tolist(), set(fresh["doc_id"].tolist()))]

    # new documents go in by plain INSERT; after two lost races, upserts only
    new_ids = {d for d, o in zip(doc_ids, is_old.tolist()) if not o} if attempt < 2 else set()
    try:
        with ctx.session.write() as con:
            c, b = write_batch(
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
        process_batch(items, ctx, counts, by_brand, attempt + 1, prepared)
        return
    counts.update(seen)
    counts.update(c)
    by_brand.update(b)


def flags(values: list, members: set) -> np.ndarray:
    return np.fromiter((v in members for v in values), dtype=bool, count=len(values))


def insert_new(con, ctx: Ctx, table: str, df: pd.DataFrame, key: str, new: np.ndarray, update: list[str]) -> None:
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


def write_batch(
    con,
    ctx: Ctx,
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
    insert_new(
        con,
        ctx,
        "documents",
        fresh,
        "doc_id",
        flags(fresh_ids, new_ids),
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
        insert_new(
            con,
            ctx,
            "mentions",
            mentions,
            "mention_id",
            flags(mentions["doc_id"].tolist(), new_ids),
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
