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
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.pg import is_postgres

NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
EXACT_BAND = -1
MAX_CHECK = 2  # candidates verified per document (those sharing the most bands)
SURE_BANDS = 12  # bands shared that make a near duplicate without computing the Jaccard
MAX_BUCKET = 8  # originals indexed per near-duplicate bucket (see _cap_buckets)

# keys that the Arrow split on single spaces would cut differently from str.split (every str.isspace character)
_NOT_SINGLE_SPACED = (
    r"^ | $|  |[\t-\r\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)
_rng = np.random.default_rng(20240501)  # fixed: buckets are persisted, so the hash family must never change
_A = (_rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) | np.uint64(1)).astype(np.uint64)
_B = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64).astype(np.uint64)
_BAND_MUL = (_rng.integers(1, 2**63, ROWS, dtype=np.uint64) | np.uint64(1)).astype(np.uint64)
_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9)


def exact_bucket(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


@lru_cache(maxsize=50_000)
def shingles(key: str) -> frozenset[tuple[str, ...]]:
    w = key.split()
    return frozenset(zip(w, w[1:], w[2:])) if len(w) >= 3 else frozenset([tuple(w)])


def jaccard(a: AbstractSet[Any], b: AbstractSet[Any]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)  # |a ∪ b| without building the union


class _Words:
    """The words of many dedup keys as integer codes (one vocabulary for all of them): `lens[d]` words of
    key d, `codes` their codes end to end, `vocab` the words by code. Keys are `dedup_key` output (words
    separated by single spaces). `add` appends more keys to the same vocabulary."""

    def __init__(self, keys: Sequence[str]):
        self.index: dict[str, int] = {}
        self.vocab: list[str] = []
        self.lens = np.zeros(0, dtype=np.int64)
        self.codes = np.zeros(0, dtype=np.int64)
        self.add(keys)

    def add(self, keys: Sequence[str]) -> None:
        arr = pa.array(keys, type=pa.large_string())  # 64-bit offsets: a batch of long texts can pass 2 GB
        if len(keys) and pc.any(pc.match_substring_regex(arr, _NOT_SINGLE_SPACED)).as_py():
            lens, codes = self._encode_python(keys)
        else:
            lens, codes = self._encode_arrow(arr)
        self.lens = np.concatenate([self.lens, lens])
        self.codes = np.concatenate([self.codes, codes])
        self.starts = np.concatenate([[0], np.cumsum(self.lens)[:-1]]).astype(np.int64)

    def _encode_python(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        # map/chain/dict.fromkeys keep the per-word loop in C
        split = list(map(str.split, keys))
        lens = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
        toks = list(chain.from_iterable(split))
        self._codes_of(list(dict.fromkeys(toks)))
        return lens, np.fromiter(map(self.index.__getitem__, toks), dtype=np.int64, count=len(toks))

    def _encode_arrow(self, arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Keys whose words are separated by single spaces (all of `dedup_key`'s output): split and
        dictionary-encoded in Arrow, so no per-word Python runs; the dictionary lists words in order of first
        appearance, exactly as the Python path numbers them."""
        lens = np.zeros(len(arr), dtype=np.int64)
        full = np.flatnonzero(pc.not_equal(arr, "").to_numpy(zero_copy_only=False))
        if len(full) == 0:
            return lens, np.zeros(0, dtype=np.int64)
        parts = pc.split_pattern(arr.take(pa.array(full)), " ")
        lens[full] = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
        enc = pc.dictionary_encode(pc.list_flatten(parts))
        local = self._codes_of(enc.dictionary.to_pylist())
        return lens, local[enc.indices.to_numpy(zero_copy_only=False)]

    def _codes_of(self, distinct: list[str]) -> np.ndarray:
        """Codes of distinct words, numbering the unseen ones next (in the given order)."""
        index = self.index
        new = [w for w in distinct if w not in index]
        index.update(zip(new, range(len(index), len(index) + len(new))))
        self.vocab += new
        return np.fromiter(map(index.__getitem__, distinct), dtype=np.int64, count=len(distinct))

    def shingle_positions(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(word position of each 3-shingle's first word, its document) for `docs`, all with >= 3 words."""
        lens = self.lens[docs] - 2
        return _gather(self.starts[docs], lens), np.repeat(docs, lens)


def _gather(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenated ranges [starts[i], starts[i] + lens[i])."""
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lens) - lens
    return np.arange(total, dtype=np.int64) - np.repeat(offsets - starts, lens)


def _minhash_buckets(words: _Words, docs: np.ndarray) -> np.ndarray:
    """LSH band buckets, shape (len(docs), BANDS), of documents with >= 3 words."""
    if len(docs) == 0:
        return np.zeros((0, BANDS), dtype=np.uint64)
    # crc32 of each distinct word once (persisted buckets depend on exactly this hash)
    crc = np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words.vocab), dtype=np.uint64, count=len(words.vocab))
    p, _ = words.shingle_positions(docs)
    flat = crc[words.codes]
    with np.errstate(over="ignore"):
        sh = flat[p] * _M1 + flat[p + 1] * _M2 + flat[p + 2] * _M3
        sh ^= sh >> np.uint64(29)
    n_sh = words.lens[docs] - 2
    sh_starts = np.concatenate([[0], np.cumsum(n_sh)[:-1]])
    # one permutation at a time over all shingles of the batch: a 1-D reduceat over a vector that stays in
    # cache is ~20x faster than one (shingles x 64) matrix reduced along axis 0
    out = np.empty((NUM_PERM, len(docs)), dtype=np.uint64)
    v = np.empty_like(sh)
    with np.errstate(over="ignore"):
        for k in range(NUM_PERM):
            np.multiply(sh, _A[k], out=v)
            np.add(v, _B[k], out=v)
            np.right_shift(v, np.uint64(32), out=v)
            out[k] = np.minimum.reduceat(v, sh_starts)
    bands = np.ascontiguousarray(out.T).reshape(len(docs), BANDS, ROWS)
    with np.errstate(over="ignore"):
        buckets = (bands * _BAND_MUL[None, None, :]).sum(axis=2, dtype=np.uint64)
        buckets ^= np.arange(BANDS, dtype=np.uint64)[None, :] * _M3  # distinct buckets per band
    return buckets


def band_buckets(keys: Sequence[str], min_words: int) -> tuple[np.ndarray, np.ndarray]:
    """MinHash LSH buckets for many dedup keys at once.

    Returns (doc_index, buckets) where buckets has shape (len(doc_index), BANDS); documents with fewer than
    `min_words` words get none.
    """
    words = _Words(keys)
    idx = np.flatnonzero(words.lens >= max(3, min_words))
    return idx, _minhash_buckets(words, idx)


class _ShingleSets:
    """Word 3-shingle sets of many keys as sorted integer arrays, for exact Jaccard of many pairs at once.

    A shingle is its three word codes packed into one integer (exact while the vocabulary has < 2**21 words),
    then replaced by its rank among all distinct shingles so (pair, shingle) fits one int64."""

    def __init__(self, keys: Sequence[str], words: _Words | None = None):
        self.keys = keys
        w = words or _Words(keys)
        self.exact = len(w.vocab) < 2**21
        self.lens = np.zeros(len(keys), dtype=np.int64)
        self.starts = np.zeros(len(keys), dtype=np.int64)
        self.ranks = np.zeros(0, dtype=np.int64)
        self.n_ranks = 1
        self.short = w.lens < 3  # one "shingle" of the whole (short) text: left to the set-based jaccard
        docs = np.flatnonzero(~self.short)
        if not self.exact or len(docs) == 0:
            return
        p, doc_of = w.shingle_positions(docs)
        c = w.codes
        packed = (c[p] << 42) | (c[p + 1] << 21) | c[p + 2]
        # (np.unique without return_inverse takes a hash path that is ~10x slower than sorting here)
        uniq, rank = np.unique(packed, return_inverse=True)
        self.n_ranks = max(len(uniq), 1)
        key = np.sort(doc_of * self.n_ranks + rank.reshape(-1))
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]  # per document: sorted, distinct
        doc = key // self.n_ranks
        self.ranks = key % self.n_ranks
        self.starts = np.searchsorted(doc, np.arange(len(keys)), side="left").astype(np.int64)
        self.lens = np.searchsorted(doc, np.arange(len(keys)), side="right") - self.starts

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Jaccard of the shingle sets of keys a[i] and b[i], for every i (float64, as `jaccard`)."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        out = np.zeros(len(a), dtype=np.float64)
        if len(a) == 0:
            return out
        slow = self.short[a] | self.short[b] if self.exact else np.ones(len(a), dtype=bool)
        fast = np.flatnonzero(~slow)
        if len(fast):
            fa, fb = a[fast], b[fast]
            la, lb = self.lens[fa], self.lens[fb]
            pair = np.arange(len(fast), dtype=np.int64)
            ka = np.repeat(pair, la) * self.n_ranks + self.ranks[_gather(self.starts[fa], la)]
            pb = np.repeat(pair, lb)
            kb = pb * self.n_ranks + self.ranks[_gather(self.starts[fb], lb)]
            pos = np.minimum(np.searchsorted(ka, kb), max(len(ka) - 1, 0))
            hit = ka[pos] == kb if len(ka) else np.zeros(len(kb), dtype=bool)
            inter = np.bincount(pb[hit], minlength=len(fast))
            out[fast] = inter / (la + lb - inter)
        for i in np.flatnonzero(slow).tolist():
            out[i] = jaccard(shingles(self.keys[a[i]]), shingles(self.keys[b[i]]))
        return out


def _batch_candidates(buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each document (rows in batch order), the earlier documents to check: per band the earliest document
    of its bucket, ranked by how many bands it shares (ties: the earliest). Returns (cand, shared), both
    (n, MAX_CHECK); cand is -1 where there is none."""
    n = len(buckets)
    reps = np.empty((n, BANDS), dtype=np.int64)
    order_n = np.arange(n)
    for band in range(BANDS):
        _, inv = np.unique(buckets[:, band], return_inverse=True)
        inv = inv.reshape(-1)
        first = np.full(int(inv.max()) + 1, n, dtype=np.int64)
        np.minimum.at(first, inv, order_n)
        reps[:, band] = first[inv]
    same = reps[:, :, None] == reps[:, None, :]
    count = same.sum(axis=2)
    first_col = ~np.tril(same, -1).any(axis=2)  # the first column holding that document
    ok = (reps < order_n[:, None]) & first_col
    big = (BANDS + 1) * (n + 1)
    rank = np.where(ok, (BANDS - count) * (n + 1) + reps, big)
    top = np.sort(rank, axis=1)[:, :MAX_CHECK]
    valid = top < big
    cand = np.where(valid, top % (n + 1), -1)
    shared = np.where(valid, BANDS - top // (n + 1), 0)
    return cand, shared


def find_duplicates(
    con: Any, batch: pd.DataFrame, threshold: float, min_words: int
) -> tuple[dict[str, str], pd.DataFrame]:
    """Duplicates among `batch` (columns doc_id, key, order; new or changed documents only) and against every
    document already in `doc_lsh`. Returns ({doc_id: first doc_id}, the doc_lsh rows to store for the batch).

    Every candidate pair's exact Jaccard is computed up front in one vectorised step; the verdicts are then
    taken in batch order, so a copy of a copy points at the first original.
    """
    if batch.empty:
        return {}, pd.DataFrame(columns=["band", "bucket", "doc_id"])
    batch = batch.sort_values("order", kind="stable").reset_index(drop=True)
    ids = batch["doc_id"].tolist()
    keys = batch["key"].tolist()
    exact = np.fromiter((exact_bucket(k) for k in keys), dtype=np.uint64, count=len(keys))
    words = _Words(keys)
    near_idx = np.flatnonzero(words.lens >= max(3, min_words))
    near_buckets = _minhash_buckets(words, near_idx)

    # the batch's bucket rows by position in the batch (integers join and group cheaper than id strings);
    # the stored rows' doc_id column is only built at the end, for the originals
    band = np.concatenate(
        [np.full(len(ids), EXACT_BAND, dtype=np.int16), np.tile(np.arange(BANDS, dtype=np.int16), len(near_idx))]
    )
    bucket = np.concatenate([exact, near_buckets.reshape(-1)])
    pos = np.concatenate([np.arange(len(ids), dtype=np.int32), np.repeat(near_idx, BANDS).astype(np.int32)])
    dup_of: dict[str, str] = {}

    # --- against earlier documents (already stored): one join, the best few candidates per document
    con.register("__lsh_batch", pd.DataFrame({"band": band, "bucket": bucket, "i": pos}))
    con.register("__lsh_ids", pd.DataFrame({"doc_id": ids}))
    best = (
        f"""SELECT i, exact, shared, other FROM (SELECT *, row_number() OVER (PARTITION BY i
                ORDER BY exact DESC, shared DESC, other) AS rank FROM hits) r WHERE rank <= {MAX_CHECK}"""
        if is_postgres(con)  # a team server has no min_by with n
        else f"""SELECT i, unnest(min_by({{'exact': exact, 'shared': shared, 'other': other}},
                                        (NOT exact, -shared, other), {MAX_CHECK}), recursive := true)
                FROM hits GROUP BY i"""
    )
    try:
        prior = con.execute(
            f"""
            WITH hits AS (
                SELECT b.i, l.doc_id AS other, count(*) AS shared, bool_or(b.band = {EXACT_BAND}) AS exact
                FROM __lsh_batch b JOIN doc_lsh l ON l.band = b.band AND l.bucket = b.bucket
                WHERE l.doc_id NOT IN (SELECT doc_id FROM __lsh_ids)
                GROUP BY ALL
            ),
            best AS (  -- top MAX_CHECK per document (min_by with n: several times cheaper than a window)
                {best}
            )
            SELECT h.i, h.exact, h.shared, h.other, coalesce(d.dup_of, d.doc_id) AS first_id,
                   CASE WHEN NOT h.exact AND h.shared < {SURE_BANDS} THEN d.text END AS text
            FROM best h JOIN documents d ON d.doc_id = h.other
            ORDER BY h.i, h.exact DESC, h.shared DESC, h.other  -- ties: same original every run
            """
        ).fetchall()
    finally:
        con.unregister("__lsh_batch")
        con.unregister("__lsh_ids")

    # the stored texts that need an exact Jaccard (a popular original is keyed once)
    from pipeline.normalize import dedup_key

    stored_pos: dict[str, int] = {}
    stored_keys: list[str] = []
    prior_pairs: list[tuple[int, int]] = []
    for i, exact_hit, shared, other, _first, text in prior:
        if not exact_hit and shared < SURE_BANDS:
            j = stored_pos.get(other)
            if j is None:
                j = stored_pos[other] = len(keys) + len(stored_keys)
                stored_keys.append(dedup_key(text))
            prior_pairs.append((i, j))

    cand = shared_n = np.zeros((0, MAX_CHECK), dtype=np.int64)
    if len(near_idx) > 1:
        cand, shared_n = _batch_candidates(near_buckets)
    check = (cand >= 0) & (shared_n < SURE_BANDS)
    batch_a = near_idx[np.nonzero(check)[0]]
    batch_b = near_idx[cand[check]]
    words.add(stored_keys)
    sets = _ShingleSets(keys + stored_keys, words)
    prior_a = np.fromiter((a for a, _ in prior_pairs), dtype=np.int64, count=len(prior_pairs))
    prior_b = np.fromiter((b for _, b in prior_pairs), dtype=np.int64, count=len(prior_pairs))
    jac = sets.jaccard(np.concatenate([prior_a, batch_a]), np.concatenate([prior_b, batch_b])) >= threshold
    prior_ok = iter(jac[: len(prior_pairs)].tolist())
    batch_ok = np.zeros(cand.shape, dtype=bool)
    batch_ok[check] = jac[len(prior_pairs) :]

    for i, exact_hit, shared, _other, first_id, _text in prior:
        needs = not exact_hit and shared < SURE_BANDS
        ok = next(prior_ok) if needs else True
        if ids[i] not in dup_of and ok:
            dup_of[ids[i]] = first_id

    # --- within the batch, in order: exact copies first, then near ones (earlier originals sharing most bands)
    first_by_exact: dict[int, int] = {}
    for i, b in enumerate(exact.tolist()):
        if ids[i] in dup_of:
            continue
        j = first_by_exact.setdefault(b, i)
        if j != i:
            dup_of[ids[i]] = dup_of.get(ids[j], ids[j])
    if len(near_idx) > 1:
        near_list = near_idx.tolist()
        sure = shared_n >= SURE_BANDS  # 12+ of 16 bands agreeing happens by chance only for near-identical texts
        for r in np.flatnonzero(cand[:, 0] >= 0).tolist():
            i = near_list[r]
            if ids[i] in dup_of:
                continue
            for c in range(MAX_CHECK):
                j = int(cand[r, c])
                if j < 0:
                    break
                if sure[r, c] or batch_ok[r, c]:
                    first_id = ids[near_list[j]]
                    dup_of[ids[i]] = dup_of.get(first_id, first_id)
                    break
    dup_of = {k: v for k, v in dup_of.items() if v != k}
    # only originals are indexed: a copy is found through its original, and buckets stay small
    keep = np.fromiter((d not in dup_of for d in ids), dtype=bool, count=len(ids))[pos]
    rows = pd.DataFrame({"band": band[keep], "bucket": bucket[keep], "doc_id": np.array(ids, dtype=object)[pos[keep]]})
    return dup_of, _cap_buckets(con, rows)


def _cap_buckets(con: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """Index at most MAX_BUCKET originals per near-duplicate (band, bucket).

    Texts that share a band without being copies (templates, greetings, quoted boilerplate) make a few buckets
    hot; every later document landing there would be joined with all of them, which turns ingest quadratic in
    the size of the database. A true copy shares most of its 16 bands with its original, so the earliest few
    documents of a bucket are enough to find it. Exact-text buckets (band -1) hold one original each anyway.
    """
    near = (rows["band"] != EXACT_BAND).to_numpy()
    if not near.any():
        return rows
    band = rows["band"].to_numpy()[near]
    bucket = rows["bucket"].to_numpy()[near]
    # rank of each row within its (band, bucket), in row order (lexsort is stable)
    order = np.lexsort((bucket, band))
    sb, sk = band[order], bucket[order]
    new_group = np.concatenate([[True], (sb[1:] != sb[:-1]) | (sk[1:] != sk[:-1])])
    group_sorted = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - starts[group_sorted]
    group = np.empty(len(order), dtype=np.int64)
    group[order] = group_sorted
    groups = pd.DataFrame({"band": sb[starts], "bucket": sk[starts], "g": np.arange(len(starts))})
    con.register("__cap", groups)
    try:
        have = con.execute(
            "SELECT c.g, count(*) AS n FROM doc_lsh l JOIN __cap c USING (band, bucket) GROUP BY c.g"
        ).fetchnumpy()
    finally:
        con.unregister("__cap")
    stored = np.zeros(len(starts), dtype=np.int64)
    stored[np.asarray(have["g"], dtype=np.int64)] = np.asarray(have["n"], dtype=np.int64)
    keep = np.ones(len(rows), dtype=bool)
    keep[near] = rank + stored[group] < MAX_BUCKET
    return rows[keep].reset_index(drop=True)
