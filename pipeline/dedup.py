"""Exact and near-duplicate detection across sources.

Exact: documents whose `dedup_key` (lowercase, punctuation and spacing removed) is equal.
Near: MinHash over word 3-shingles, computed for a whole batch at once with numpy (no per-document numpy
calls), with LSH banding (16 bands x 4 rows): documents sharing a band bucket are candidates, and a candidate
counts only when the exact Jaccard of the two shingle sets is >= `Settings.ingest.near_dup_threshold`.

Band buckets (and the exact key as band -1) are kept in the `doc_lsh` table, so a copy is found against
everything ingested before, not only within one batch. A copy gets `documents.dup_of` = the first document
(the earlier one; within a batch the one posted first). Scoring skips mentions of documents with `dup_of`:
the copy's mention is the same text, so the original's score stands for it.
"""

from __future__ import annotations

import hashlib
import zlib
from functools import lru_cache
from itertools import chain
from typing import Any, Sequence

import numpy as np
import pandas as pd

NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
EXACT_BAND = -1
MAX_CHECK = 2  # candidates verified per document (those sharing the most bands)
SURE_BANDS = 12  # bands shared that make a near duplicate without computing the Jaccard
MAX_BUCKET = 8  # originals indexed per near-duplicate bucket (see _cap_buckets)

_rng = np.random.default_rng(20240501)  # fixed: buckets are persisted, so the hash family must never change
_A = (_rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) | np.uint64(1)).astype(np.uint64)
_B = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64).astype(np.uint64)
_BAND_MUL = (_rng.integers(1, 2**63, ROWS, dtype=np.uint64) | np.uint64(1)).astype(np.uint64)
_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9)


def exact_bucket(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def word_hashes(key: str) -> list[int]:
    return list(map(zlib.crc32, key.encode("utf-8").split()))


@lru_cache(maxsize=50_000)
def shingles(key: str) -> frozenset[tuple[str, ...]]:
    w = key.split()
    return frozenset(zip(w, w[1:], w[2:])) if len(w) >= 3 else frozenset([tuple(w)])


def jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)  # |a ∪ b| without building the union


def band_buckets(keys: Sequence[str], min_words: int) -> tuple[np.ndarray, np.ndarray]:
    """MinHash LSH buckets for many dedup keys at once.

    Returns (doc_index, buckets) where buckets has shape (len(doc_index), BANDS); documents with fewer than
    `min_words` words get none.
    """
    hashes: list[list[int]] = []
    idx: list[int] = []
    for i, k in enumerate(keys):
        h = word_hashes(k)
        if len(h) >= max(3, min_words):
            hashes.append(h)
            idx.append(i)
    if not idx:
        return np.zeros(0, dtype=np.int64), np.zeros((0, BANDS), dtype=np.uint64)
    lens = np.fromiter(map(len, hashes), dtype=np.int64, count=len(hashes))
    flat = np.array(list(chain.from_iterable(hashes)), dtype=np.uint64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    # 3-shingle hash at every position that has two more words in the same document
    pos = np.arange(len(flat))
    doc_of = np.repeat(np.arange(len(lens)), lens)
    ok = pos + 2 < (starts + lens)[doc_of]
    p = pos[ok]
    with np.errstate(over="ignore"):
        sh = flat[p] * _M1 + flat[p + 1] * _M2 + flat[p + 2] * _M3
        sh ^= sh >> np.uint64(29)
    sh_doc = doc_of[ok]
    sh_starts = np.concatenate([[0], np.cumsum(np.bincount(sh_doc, minlength=len(lens)))[:-1]])
    out = np.empty((len(lens), NUM_PERM), dtype=np.uint64)
    chunk = 200_000  # shingles per matrix: bounds memory at ~100 MB
    # process whole documents per chunk so reduceat never spans a chunk edge
    d0 = 0
    while d0 < len(lens):
        s0 = sh_starts[d0]
        d1 = int(np.searchsorted(sh_starts, s0 + chunk, side="right"))
        d1 = max(d1, d0 + 1)
        s1 = sh_starts[d1] if d1 < len(lens) else len(sh)
        with np.errstate(over="ignore"):
            mat = (sh[s0:s1, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
        out[d0:d1] = np.minimum.reduceat(mat, sh_starts[d0:d1] - s0, axis=0)
        d0 = d1
    bands = out.reshape(len(lens), BANDS, ROWS)
    with np.errstate(over="ignore"):
        buckets = (bands * _BAND_MUL[None, None, :]).sum(axis=2, dtype=np.uint64)
        buckets ^= np.arange(BANDS, dtype=np.uint64)[None, :] * _M3  # distinct buckets per band
    return np.asarray(idx, dtype=np.int64), buckets


def find_duplicates(con: Any, batch: pd.DataFrame, threshold: float, min_words: int) -> tuple[dict[str, str], pd.DataFrame]:
    """Duplicates among `batch` (columns doc_id, key, order; new or changed documents only) and against every
    document already in `doc_lsh`. Returns ({doc_id: first doc_id}, the doc_lsh rows to store for the batch).
    """
    if batch.empty:
        return {}, pd.DataFrame(columns=["band", "bucket", "doc_id"])
    batch = batch.sort_values("order", kind="stable").reset_index(drop=True)
    ids = batch["doc_id"].tolist()
    keys = batch["key"].tolist()
    exact = np.fromiter((exact_bucket(k) for k in keys), dtype=np.uint64, count=len(keys))
    near_idx, near_buckets = band_buckets(keys, min_words)

    rows = pd.DataFrame(
        {
            "band": np.concatenate([np.full(len(ids), EXACT_BAND, dtype=np.int16),
                                    np.tile(np.arange(BANDS, dtype=np.int16), len(near_idx))]),
            "bucket": np.concatenate([exact, near_buckets.reshape(-1)]),
            "doc_id": ids + [ids[i] for i in np.repeat(near_idx, BANDS)],
        }
    )
    dup_of: dict[str, str] = {}

    # --- against earlier documents (already stored): one join, the best few candidates per document
    con.register("__lsh_batch", rows)
    try:
        prior = con.execute(
            f"""
            WITH hits AS (
                SELECT b.doc_id, l.doc_id AS other, count(*) AS shared, bool_or(b.band = {EXACT_BAND}) AS exact
                FROM __lsh_batch b JOIN doc_lsh l ON l.band = b.band AND l.bucket = b.bucket
                WHERE l.doc_id NOT IN (SELECT doc_id FROM __lsh_batch)
                GROUP BY ALL
            ),
            best AS (
                SELECT * FROM hits
                QUALIFY row_number() OVER (PARTITION BY doc_id ORDER BY exact DESC, shared DESC, other) <= {MAX_CHECK}
            )
            SELECT h.doc_id, h.exact, h.shared, h.other, coalesce(d.dup_of, d.doc_id) AS first_id, d.text
            FROM best h JOIN documents d ON d.doc_id = h.other
            ORDER BY h.doc_id, h.exact DESC, h.shared DESC, h.other  -- ties: same original every run
            """
        ).df()
    finally:
        con.unregister("__lsh_batch")
    if not prior.empty:
        from pipeline.normalize import dedup_key

        key_of = dict(zip(ids, keys))
        stored: dict[str, frozenset] = {}  # a popular original is a candidate of many documents: key it once
        for doc_id, exact_hit, shared, other, first_id, text in prior.itertuples(index=False):
            if doc_id in dup_of:
                continue
            if exact_hit or shared >= SURE_BANDS:
                dup_of[doc_id] = first_id
                continue
            theirs = stored.get(other)
            if theirs is None:
                theirs = stored[other] = shingles(dedup_key(text))
            if jaccard(shingles(key_of[doc_id]), theirs) >= threshold:
                dup_of[doc_id] = first_id

    # --- within the batch, in order: a document is compared with the earlier originals sharing most bands
    first_by_exact: dict[int, int] = {}
    for i, b in enumerate(exact.tolist()):
        if ids[i] in dup_of:
            continue
        j = first_by_exact.setdefault(b, i)
        if j != i:
            dup_of[ids[i]] = dup_of.get(ids[j], ids[j])
    if len(near_idx) > 1:
        # per band, the earliest document in each bucket (numpy); a document's candidates are the earliest
        # documents of its 16 buckets, ranked by how many bands they share
        n = len(near_idx)
        reps = np.empty((n, BANDS), dtype=np.int64)
        order_n = np.arange(n)
        for band in range(BANDS):
            _, inv = np.unique(near_buckets[:, band], return_inverse=True)
            first = np.full(int(inv.max()) + 1, n, dtype=np.int64)
            np.minimum.at(first, inv, order_n)
            reps[:, band] = first[inv]
        has_earlier = (reps < order_n[:, None]).any(axis=1)
        cache: dict[int, frozenset] = {}

        def sh(r: int) -> frozenset:
            if r not in cache:
                cache[r] = shingles(keys[near_idx[r]])
            return cache[r]

        near_list = near_idx.tolist()
        for r in np.flatnonzero(has_earlier).tolist():
            i = near_list[r]
            if ids[i] in dup_of:
                continue
            shared: dict[int, int] = {}
            for j in reps[r].tolist():
                if j < r:
                    shared[j] = shared.get(j, 0) + 1
            for j in sorted(shared, key=lambda j: (-shared[j], j))[:MAX_CHECK]:
                # 12+ of 16 bands agreeing happens by chance only for near-identical texts
                if shared[j] >= SURE_BANDS or jaccard(sh(r), sh(j)) >= threshold:
                    first_id = ids[near_list[j]]
                    dup_of[ids[i]] = dup_of.get(first_id, first_id)
                    break
    dup_of = {k: v for k, v in dup_of.items() if v != k}
    # only originals are indexed: a copy is found through its original, and buckets stay small
    rows = rows[~rows["doc_id"].isin(dup_of.keys())].reset_index(drop=True)
    return dup_of, _cap_buckets(con, rows)


def _cap_buckets(con: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """Index at most MAX_BUCKET originals per near-duplicate (band, bucket).

    Texts that share a band without being copies (templates, greetings, quoted boilerplate) make a few buckets
    hot; every later document landing there would be joined with all of them, which turns ingest quadratic in
    the size of the database. A true copy shares most of its 16 bands with its original, so the earliest few
    documents of a bucket are enough to find it. Exact-text buckets (band -1) hold one original each anyway.
    """
    near = rows["band"] != EXACT_BAND
    if not near.any():
        return rows
    con.register("__cap", rows.loc[near, ["band", "bucket"]].drop_duplicates())
    try:
        have = con.execute(
            "SELECT l.band, l.bucket, count(*) AS n FROM doc_lsh l JOIN __cap c USING (band, bucket) GROUP BY ALL"
        ).df()
    finally:
        con.unregister("__cap")
    r = rows.loc[near].copy()
    r["rank"] = r.groupby(["band", "bucket"]).cumcount()
    if not have.empty:
        r = r.merge(have.astype({"band": r["band"].dtype, "bucket": r["bucket"].dtype}), on=["band", "bucket"],
                    how="left")
        r["rank"] += r["n"].fillna(0).astype("int64")
    kept = r.loc[r["rank"] < MAX_BUCKET, ["band", "bucket", "doc_id"]]
    return pd.concat([rows.loc[~near], kept], ignore_index=True)

