"""The vectorised dedup pieces agree with their plain definitions (buckets are persisted, so they must not drift)."""

from __future__ import annotations

import random

import numpy as np

from pipeline import dedup
from pipeline.dedup import BANDS, MAX_CHECK, _batch_candidates, _ShingleSets, band_buckets, jaccard, shingles


def test_band_buckets_keep_the_persisted_hash_family():
    keys = [
        "посылкин потерял мою посылку и не вернул деньги за доставку",
        "the quick brown fox jumps over the lazy dog again",
        "слишком короткий текст",
    ]
    idx, b = band_buckets(keys, 8)
    assert idx.tolist() == [0, 1] and b.shape == (2, BANDS)
    # values from the first (matrix-based) implementation: stored doc_lsh rows depend on them
    assert [hex(x) for x in b[0, :4].tolist()] == [
        "0x9cf99c334818a083",
        "0x72704d44616d1be2",
        "0xd11e35b0d5510eb5",
        "0xfd4ee385963ff4db",
    ]
    assert [hex(x) for x in b[1, :4].tolist()] == [
        "0x7205facdadce8b3b",
        "0x9351e1f106c97279",
        "0x4a49f847bb2a32f6",
        "0xd0bddb296f7ea58b",
    ]
    # a batch gives each document the same buckets as computing it alone
    idx2, b2 = band_buckets([keys[1]], 3)
    assert np.array_equal(b2[0], b[1])


def _random_keys(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    vocab = [f"w{i}" for i in range(40)] + ["посылка", "пришла", "через", "две", "недели"]
    base = [" ".join(rnd.choices(vocab, k=rnd.randint(3, 25))) for _ in range(n // 2)]
    out = list(base)
    for k in base:  # near copies: a few words dropped, changed or added
        w = k.split()
        for _ in range(rnd.randint(0, 3)):
            op = rnd.random()
            if op < 0.4 and len(w) > 1:
                w.pop(rnd.randrange(len(w)))
            elif op < 0.8:
                w[rnd.randrange(len(w))] = rnd.choice(vocab)
            else:
                w.insert(rnd.randrange(len(w) + 1), rnd.choice(vocab))
        out.append(" ".join(w))
    return out + ["", "а", "а б", "а б в", "а б в г"]


def test_vectorised_jaccard_equals_set_jaccard():
    keys = _random_keys(400, 3)
    rnd = random.Random(5)
    n = len(keys)
    # random pairs, each text with its near copy (base i, copy 200 + i), short texts with each other
    a = np.array([rnd.randrange(n) for _ in range(3000)] + list(range(200)) + [n - 1, n - 5])
    b = np.array([rnd.randrange(n) for _ in range(3000)] + [200 + i for i in range(200)] + [n - 2, n - 5])
    got = _ShingleSets(keys).jaccard(a, b)
    want = np.array([jaccard(shingles(keys[i]), shingles(keys[j])) for i, j in zip(a, b)])
    assert np.array_equal(got, want)
    assert (want >= 0.7).sum() > 50  # the near copies are there, so the threshold side is exercised


def test_batch_candidates_match_the_per_document_definition():
    keys = _random_keys(600, 11)
    idx, buckets = band_buckets(keys, 3)
    cand, shared = _batch_candidates(buckets)
    n = len(idx)
    for r in range(n):
        reps = []
        for band in range(BANDS):
            same = np.flatnonzero(buckets[:, band] == buckets[r, band])
            reps.append(int(same.min()))
        counts: dict[int, int] = {}
        for j in reps:
            if j < r:
                counts[j] = counts.get(j, 0) + 1
        best = sorted(counts, key=lambda j: (-counts[j], j))[:MAX_CHECK]
        assert [j for j in cand[r].tolist() if j >= 0] == best
        assert [s for s, j in zip(shared[r].tolist(), cand[r].tolist()) if j >= 0] == [counts[j] for j in best]
    assert (cand[:, 0] >= 0).sum() > 100


def test_short_texts_fall_back_to_sets():
    keys = ["а б", "а б в г д е", "а б в г д ж", ""]
    s = _ShingleSets(keys)
    assert s.jaccard(np.array([0, 1, 3]), np.array([0, 2, 3])).tolist() == [
        1.0,
        3 / 5,
        1.0,
    ]  # as shingles(""): one empty shingle
    assert dedup._Words(keys).lens.tolist() == [2, 6, 6, 0]


def _words_by_python(batches):
    """The reference numbering: words coded by first appearance over all batches, str.split semantics."""
    index, lens, codes = {}, [], []
    for keys in batches:
        for k in keys:
            ws = k.split()
            lens.append(len(ws))
            codes += [index.setdefault(w, len(index)) for w in ws]
    return lens, codes, list(index)


def test_words_arrow_split_codes_like_str_split():
    import random

    rnd = random.Random(3)
    vocab = ["а", "б", "посылкин", "x_y", "ёж", "42", "ок"]
    keys = [" ".join(rnd.choice(vocab) for _ in range(rnd.randint(0, 12))) for _ in range(2000)]
    more = keys[:50] + ["новое слово", "", "ок"]
    w = dedup._Words(keys)
    w.add(more)
    lens, codes, words = _words_by_python([keys, more])
    assert w.lens.tolist() == lens and w.codes.tolist() == codes and w.vocab == words
    assert len(w.vocab) == 9  # 7 + "новое" + "слово": the second batch reuses the first one's codes
    # keys not spaced like dedup_key output take the str.split path and still agree
    odd = ["  a b", "a\tb c", "a b ", "a\u00a0b", "a b"]
    w2 = dedup._Words(odd)
    lens, codes, words = _words_by_python([odd])
    assert w2.lens.tolist() == lens == [2, 3, 2, 2, 2] and w2.codes.tolist() == codes and w2.vocab == words
