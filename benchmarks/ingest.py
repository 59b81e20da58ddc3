"""Ingest throughput: documents/s and mentions/s on synthetic Russian forum posts, end to end.

    .venv/bin/python benchmarks/ingest.py [--posts 200000] [--baseline-posts 5000]

Writes a raw run of gzipped JSONL PostItems (brand names in inflected and transliterated forms, PII, reposts)
to a temporary folder, then times `ingest_pending` on it (read, validate, normalise, mask PII, match brands,
dedup, spam, upsert into a fresh DuckDB file). Then the storage floor: DuckDB alone inserting the finished tables
again into a fresh file, what any ingest writing these rows needs at least. For comparison it times, in the same
run, the brand matching alone and a naive matcher that lemmatizes every word with pymorphy3 (with the same LRU
cache) on a sample, and prints the ratio.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FORMS = {
    "posylkin": [
        "Посылкин",
        "Посылкина",
        "Посылкину",
        "Посылкиным",
        "Посылкине",
        "посылкинский",
        "Posylkin",
        "Посылкин Экспресс",
    ],
    "shopok": ["ШопОк", "ШопОка", "ШопОку", "ШопОком", "ШопОке", "Шопок", "ShopOk", "shopok.ru"],
    "lastochka": [
        "Ласточка Банк",
        "Ласточка Банка",
        "Ласточка Банке",
        "банк Ласточка",
        "банка Ласточка",
        "Lastochka Bank",
    ],
    "mobiline": ["Мобилайн", "Мобилайна", "Мобилайну", "Мобилайном", "Мобилайне", "Mobiline", "mobiline.ru"],
    "zerno": ["Кофейня Зерно", "кофейне Зерно", "кофейню Зерно", "Zerno Coffee"],
}
OPENERS = [
    "Вчера",
    "Сегодня утром",
    "На прошлой неделе",
    "Опять",
    "Третий раз за месяц",
    "Короче,",
    "Люди,",
    "Всем привет.",
    "Не знаю, к кому ещё обратиться.",
    "Пишу сюда, потому что поддержка молчит.",
]
PARTS = [
    "{b} потерял мою посылку",
    "у {b} опять сломалось приложение",
    "{b} списал деньги дважды",
    "в {b} нахамили по телефону",
    "{b} вернул деньги за два дня",
    "хочу сказать спасибо {b}",
    "через {b} доставка заняла неделю",
    "поддержка {b} не отвечает",
    "{b} поднял цены",
    "кто-нибудь пользовался {b}?",
    "{b} работает без нареканий",
    "курьер {b} опоздал на три часа",
]
FILLER = [
    "Погода сегодня отвратительная, дождь весь день.",
    "Пробки на Садовом как всегда.",
    "В выходные ездили на дачу, шашлыки удались.",
    "Сын пошёл в первый класс, все волнуются.",
    "Котик опять разбил чашку.",
    "Купил новый ноутбук, пока доволен.",
    "На работе аврал до пятницы.",
    "Ремонт в подъезде никак не закончат.",
    "Цены в магазинах растут каждый месяц.",
    "Соседи сверху снова сверлят в восемь утра.",
]
TAILS = [
    "Больше не буду пользоваться.",
    "Всем советую.",
    "Что делать?",
    "Посоветуйте альтернативу.",
    "Номер заказа 12345678, звоните +7 912 345-67-89.",
    "Пишите на ivan.petrov@mail.ru.",
    "",
    "Спасибо, что дочитали.",
    "Цена вопроса 1 500 рублей.",
    "Жалобу уже написал.",
]


def make_posts(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    brands = list(FORMS)
    posts = []
    for i in range(n):
        if posts and rnd.random() < 0.04:  # repost of an earlier post in another source
            src = dict(rnd.choice(posts[-2000:]))
            text = src["text"] + (" #репост" if rnd.random() < 0.5 else "")
        else:
            k = rnd.choices([0, 1, 2], weights=[2, 6, 2])[0]
            sents = [rnd.choice(OPENERS)]
            for b in rnd.sample(brands, k):
                sents.append(rnd.choice(PARTS).format(b=rnd.choice(FORMS[b])) + ".")
            sents += rnd.sample(FILLER, rnd.randint(1, 3))
            sents.append(rnd.choice(TAILS))
            rnd.shuffle(sents[1:])
            text = " ".join(s for s in sents if s)
        source = f"forum-{i % 7}"
        posts.append(
            {
                "source": source,
                "kind": "forum",
                "post_id": str(i),
                "url": f"http://{source}.test/t/{i // 20}#p{i}",
                "thread_url": f"http://{source}.test/t/{i // 20}",
                "thread_title": "Отзывы",
                "text": text,
                "author": f"user{rnd.randint(0, 20000)}",
                "posted_at": f"2024-0{1 + i % 9}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+03:00",
                "likes": rnd.randint(0, 50),
            }
        )
    return posts


class NaiveMatcher:
    """Baseline: lemmatize every word with pymorphy3, then look lemmas up in an alias table."""

    def __init__(self, brands):
        from functools import lru_cache

        import pymorphy3

        self.m = pymorphy3.MorphAnalyzer()
        self.lemma = lru_cache(maxsize=200_000)(lambda w: self.m.parse(w)[0].normal_form)
        self.aliases = {}
        for b in brands:
            for a in b.aliases:
                words = tuple(self.lemma(w.lower()) for w in re.findall(r"\w+", a))
                self.aliases.setdefault(words[0], []).append((b.id, words))

    def match(self, text):
        words = [self.lemma(w.lower()) for w in re.findall(r"\w+", text)]
        found = set()
        for i, w in enumerate(words):
            for bid, al in self.aliases.get(w, ()):
                if tuple(words[i : i + len(al)]) == al:
                    found.add(bid)
        return found


def result_digest(store) -> dict[str, str | int]:
    """Counts and content hashes of what ingest stored (timestamps left out): two runs of different code on the
    same posts must print the same line."""
    import hashlib

    out: dict[str, str | int] = {}
    q = store.query("""
        SELECT count(*) AS docs, count(dup_of) AS dups, count(*) FILTER (WHERE spam) AS spam,
               count(*) FILTER (WHERE text LIKE '%[EMAIL]%') AS email,
               count(*) FILTER (WHERE text LIKE '%[PHONE]%') AS phone,
               count(*) FILTER (WHERE text LIKE '%[ORDER]%') AS "order",
               count(*) FILTER (WHERE text LIKE '%[CARD]%') AS card,
               (SELECT count(*) FROM doc_lsh) AS lsh_rows, (SELECT count(*) FROM authors) AS authors
        FROM documents""")
    out.update({k: int(v) for k, v in q.iloc[0].items()})
    for name, sql in (
        (
            "documents",
            "SELECT doc_id, text, text_hash, lang, dup_of, spam, spam_reasons_json, author_key, parent_id "
            "FROM documents ORDER BY doc_id",
        ),
        (
            "mentions",
            "SELECT mention_id, doc_id, brand_id, span_start, span_end, matched, context_hash "
            "FROM mentions ORDER BY mention_id",
        ),
        ("doc_lsh", "SELECT band, bucket, doc_id FROM doc_lsh ORDER BY ALL"),
        ("authors_rows", "SELECT author_key, source_id, name, posts FROM authors ORDER BY author_key"),
    ):
        out[name] = hashlib.sha1(store.query(sql).to_csv(index=False).encode()).hexdigest()[:12]
    return out


STORED = ("documents", "mentions", "doc_lsh", "mention_facts", "authors")


def storage_floor(store, path: Path, batch_size: int) -> float:
    """Seconds DuckDB alone needs to store what the ingest stored: the finished tables' rows inserted again into a
    fresh database with the same schema, batch by batch (the ingest's batch size, each a transaction) on one
    held connection with one checkpoint at the end, the cheapest way to get them there. No Python work at all:
    an upper bound for any ingest that writes these rows."""
    from pipeline.store import Store

    with store.read() as con:
        tables = {t: con.sql(f"SELECT * FROM {t}").to_arrow_table() for t in STORED}
    fresh = Store(path)
    fresh.upgrade()
    n = tables["documents"].num_rows
    t0 = time.perf_counter()
    with fresh.session(hold_seconds=float("inf")) as session:  # released (the one checkpoint) on exit
        for b in range(0, n, batch_size):
            with session.write() as con:
                for name, tab in tables.items():
                    lo, hi = tab.num_rows * b // n, tab.num_rows * min(n, b + batch_size) // n
                    con.register("__part", tab.slice(lo, hi - lo))
                    con.execute(f"INSERT INTO {name} SELECT * FROM __part")
                    con.unregister("__part")
    return time.perf_counter() - t0


def profile_stages() -> dict[str, float]:
    """Wrap the stage functions ingest calls with wall-time accumulators; returns the (live) totals."""
    import functools

    from pipeline import facts
    from pipeline.ingest import write
    from pipeline.store import Store

    totals: dict[str, float] = {}

    def wrap(owner, attr, name):
        fn = getattr(owner, attr)

        @functools.wraps(fn)
        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                totals[name] = totals.get(name, 0.0) + time.perf_counter() - t0

        setattr(owner, attr, timed)

    # the names as pipeline.ingest.write looks them up (rows prepared in helper processes are not timed here)
    for attr in ("doc_rows", "mention_rows", "find_duplicates", "spam_reasons", "link_parents", "insert_new"):
        wrap(write, attr, attr)
    wrap(facts, "refresh", "facts")
    wrap(Store, "upsert", "upserts")
    return totals


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--baseline-posts", type=int, default=5_000)
    ap.add_argument(
        "--real-texts",
        type=int,
        default=5_000,
        help="also compare the matchers on this many real tweets from ../shared/data (if present)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="time each ingest stage (perf_counter around the stage functions; adds a little overhead)",
    )
    args = ap.parse_args()

    from pipeline.brands import build_matcher
    from pipeline.config import load_brands, load_settings
    from pipeline.ingest import ingest_pending
    from pipeline.store import Store

    posts = make_posts(args.posts)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp) / "data", brands_file=ROOT / "data" / "brands.yaml", sources_file=Path(tmp) / "none.yaml"
        )
        run = Path(settings.raw_dir) / "bench"
        run.mkdir(parents=True)
        per_file = 50_000
        for f in range(0, len(posts), per_file):
            with gzip.open(run / f"items-{f // per_file:04d}.jsonl.gz", "wb", compresslevel=1) as fh:
                fh.write(b"".join(json.dumps(p, ensure_ascii=False).encode() + b"\n" for p in posts[f : f + per_file]))
        store = Store.from_settings(settings)
        store.upgrade()

        brands = load_brands(settings.brands_file)
        sample = [p["text"] for p in posts[: args.baseline_posts]]
        fast = build_matcher(brands, settings)
        fast.match(sample[0])  # load the morphology dictionaries outside the timing
        naive = NaiveMatcher(brands)
        naive.match(sample[0])
        t = time.process_time()
        n_fast = sum(len(fast.match(s)) for s in sample)
        t_fast = time.process_time() - t
        t = time.process_time()
        n_naive = sum(len(naive.match(s)) for s in sample)
        t_naive = time.process_time() - t

        stages = profile_stages() if args.profile else None
        t, c = time.perf_counter(), time.process_time()
        r = ingest_pending(settings, store, run_id="bench")
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
        digests = result_digest(store)
        floor = storage_floor(store, Path(tmp) / "floor.duckdb", settings.ingest.batch_size)

    real = ROOT.parent / "shared" / "data" / "sentiment" / "train.csv"
    if args.real_texts and real.exists():
        import csv

        with open(real, encoding="utf-8", newline="") as fh:
            texts = [row["text"] for _, row in zip(range(args.real_texts), csv.DictReader(fh))]
        for name, m in (("brandmon", build_matcher(brands, settings)), ("naive", NaiveMatcher(brands))):
            t = time.process_time()
            n = sum(len(m.match(x)) for x in texts)
            dt = time.process_time() - t
            print(
                f"matching only (CPU time), {len(texts):,} real tweets (cold caches, a real vocabulary): "
                f"{name} {len(texts) / dt:,.0f} texts/s ({n} mentions)"
            )

    docs = r["documents_new"]
    print(
        f"posts: {len(posts):,}  documents: {docs:,}  mentions: {r['mentions']:,}  duplicates: "
        f"{r['duplicates']:,}  spam: {r['spam']:,}"
    )
    print(
        f"end to end: {elapsed:.1f} s wall  ->  {docs / elapsed:,.0f} documents/s, "
        f"{r['mentions'] / elapsed:,.0f} mentions/s"
    )
    # on a shared machine wall time includes waiting for the CPU; CPU time of this process is the fairer number
    print(
        f"end to end: {cpu:.1f} s CPU   ->  {docs / cpu:,.0f} documents/s, {r['mentions'] / cpu:,.0f} mentions/s "
        f"per CPU-second (DuckDB's own threads add to this)"
    )
    print(
        f"storage alone: {floor:.1f} s  ->  {r['mentions'] / floor:,.0f} mentions/s at most for any ingest "
        f"writing these rows (DuckDB inserting the finished tables again, no Python work); "
        f"ingest takes {elapsed / floor:.1f}x that"
    )
    print("mentions by brand:", dict(sorted(r["mentions_by_brand"].items())))
    print("result:", "  ".join(f"{k}={v}" for k, v in digests.items()))
    if stages:
        print(
            "stages (wall s):",
            "  ".join(f"{k} {v:.1f}" for k, v in sorted(stages.items(), key=lambda x: -x[1])),
            f" other {elapsed - sum(stages.values()):.1f}",
        )
    print(
        f"matching only (CPU time), {len(sample):,} posts: brandmon {len(sample) / t_fast:,.0f} posts/s "
        f"({n_fast} mentions), naive lemmatize-every-word {len(sample) / t_naive:,.0f} posts/s ({n_naive} mentions)"
        f"  ->  {t_naive / t_fast:.1f}x faster"
    )


if __name__ == "__main__":
    main()
