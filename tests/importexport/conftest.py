"""Fixtures for imports, exports, backups: generated files and stores built in SQL."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = (
    "доставка посылка курьер заказ пункт выдачи трек номер неделю жду приложение карта банк кэшбэк вклад "
    "оператор поддержка ответили вернули деньги отменили перенесли опоздал быстро медленно удобно плохо "
    "отлично ужасно снова опять вчера сегодня утром вечером магазин склад отделение коробка упаковка"
).split()


def review_table(n: int, seed: int = 7, bad_every: int = 0) -> dict[str, list]:
    """`n` review rows: a ticket id, a text of random words (every 5th names Посылкин), an author, a local time.
    With `bad_every`, that row's text is blank (a row import must reject)."""
    rnd = random.Random(seed)
    texts = []
    for i in range(n):
        words = rnd.choices(WORDS, k=14)
        if i % 5 == 0:
            words.insert(rnd.randrange(len(words)), "Посылкин")
        texts.append(" ".join(words) + f" ({i})")
        if bad_every and i % bad_every == bad_every - 1:
            texts[-1] = "   "
    return {
        "ticket": [f"T-{i}" for i in range(n)],
        "body": texts,
        "user": [f"user{i % 997}" for i in range(n)],
        "date": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}" for i in range(n)],
        "likes": [str(i % 50) for i in range(n)],
    }


def write_csv(path: Path, table: dict[str, list]) -> Path:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    pcsv.write_csv(pa.table(table), path)
    return path


BRANDS = ("posylkin", "shopok", "lastochka")


def fill_store(store, n: int, docs_per_mention: float = 0.5) -> None:
    """`n` mentions over n/2 documents (posted one a minute back from 2024-12-31), three brands, a score each from
    an active model, and their mention_facts: a store of that size in a few seconds of SQL."""
    from pipeline import facts

    d = max(1, int(n * docs_per_mention))
    with store.write() as con:
        con.execute(f"""
            INSERT INTO documents (doc_id, source_id, url, author, posted_at, text, text_hash, spam)
            SELECT 'd' || i, 'src' || (i % 7), 'https://f.test/t/' || i, 'user' || (i % 5000),
                   TIMESTAMPTZ '2024-12-31 00:00:00+00' - to_minutes(i), 'текст поста ' || i, md5(i::VARCHAR), false
            FROM range({d}) r(i)""")
        con.execute(f"""
            INSERT INTO mentions (mention_id, doc_id, brand_id, span_start, span_end, context, context_hash)
            SELECT 'm' || i, 'd' || (i % {d}),
                   ['{BRANDS[0]}', '{BRANDS[1]}', '{BRANDS[2]}'][1 + i % 3], i % 200, i % 200 + 8,
                   'контекст ' || i, md5('c' || i)
            FROM range({n}) r(i)""")
        con.execute("INSERT INTO models (model, model_version, task, active) VALUES ('scorer', 'v1', 'score', true)")
        con.execute("""
            INSERT INTO scores (mention_id, model, model_version, context_hash, sentiment, p_neg, p_neu, p_pos)
            SELECT mention_id, 'scorer', 'v1', context_hash,
                   ['negative', 'neutral', 'positive'][1 + (hash(mention_id) % 3)::BIGINT], 0.2, 0.3, 0.5
            FROM mentions""")
        facts.refresh(con)
