"""ingest_pending on raw run folders written here the way the crawler writes them (real DuckDB file)."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from pipeline.ingest import IngestError, doc_id_for, ingest_pending
from pipeline.store import stable_id, utcnow

LONG = (
    "Посылкин третий раз подряд теряет мои посылки, поддержка отвечает шаблонами, курьер не звонит, "
    "а деньги за доставку так и не вернули. Больше никогда не буду пользоваться их услугами."
)


def _snapshot(store):
    out = {}
    for table, key in (
        ("documents", "doc_id"),
        ("mentions", "mention_id"),
        ("authors", "author_key"),
        ("doc_lsh", "doc_id, band, bucket"),
        ("brands", "brand_id"),
    ):
        out[table] = store.query(f"SELECT * FROM {table} ORDER BY {key}").to_csv(index=False)
    return out


def test_reingest_changes_nothing(settings, store, make_post, make_run):
    items = [
        make_post(i, t)
        for i, t in enumerate(
            [
                LONG,
                "ШопОк вернул деньги, спасибо!",
                "Ласточка Банк заблокировал карту",
                "Над рекой летала ласточка",
                "В Зерне вкусный капучино",
                "Просто болтаю о погоде",
            ]
        )
    ]
    make_run(settings, "run-1", items)
    first = ingest_pending(settings, store, run_id="run-1")
    assert first["documents_new"] == 6 and first["documents_updated"] == 0
    assert first["mentions_by_brand"] == {"posylkin": 1, "shopok": 1, "lastochka": 1, "zerno": 1}
    before = _snapshot(store)
    again = ingest_pending(settings, store, run_id="run-1")
    assert again["documents_new"] == 0 and again["documents_updated"] == 0 and again["documents_unchanged"] == 6
    assert again.get("mentions", 0) == 0
    assert _snapshot(store) == before
    # the same run replayed with --all changes nothing either
    ingest_pending(settings, store, all_runs=True)
    assert _snapshot(store) == before


def test_edited_post_updates_row_and_mention_context(settings, store, make_post, make_run, facts_in_step):
    make_run(settings, "run-1", [make_post(1, "Посылкин потерял посылку. Ласточка Банк тоже подвёл.")])
    ingest_pending(settings, store, run_id="run-1")
    did = doc_id_for("forum-a", "http://forum-a.test/t/1", "http://forum-a.test/t/1#p1", "1")
    m = store.query("SELECT mention_id, brand_id, context_hash FROM mentions ORDER BY brand_id")
    assert m["brand_id"].tolist() == ["lastochka", "posylkin"]
    old_hash = dict(zip(m["brand_id"], m["context_hash"]))
    pos_id = stable_id(did, "posylkin")
    # a score for the old context, from the active model
    with store.write() as con:
        con.execute("INSERT INTO models (model, model_version, task, active) VALUES ('m', 'v1', 'score', TRUE)")
        con.execute(
            "INSERT INTO scores (mention_id, model, model_version, context_hash, sentiment) "
            "VALUES (?, 'm', 'v1', ?, 'negative')",
            [pos_id, old_hash["posylkin"]],
        )
    assert (
        store.query("SELECT sentiment FROM current_scores WHERE mention_id = ?", [pos_id])["sentiment"][0] == "negative"
    )

    make_run(settings, "run-2", [make_post(1, "Посылкин всё-таки нашёл посылку и извинился.")])
    r = ingest_pending(settings, store, run_id="run-2")
    assert r["documents_updated"] == 1 and r["documents_new"] == 0
    assert r["mentions_removed"] == 1  # the edit no longer mentions the bank
    doc = store.query("SELECT text, run_id FROM documents WHERE doc_id = ?", [did])
    assert doc["text"][0] == "Посылкин всё-таки нашёл посылку и извинился." and doc["run_id"][0] == "run-2"
    m2 = store.query("SELECT mention_id, brand_id, context, context_hash FROM mentions")
    assert m2["brand_id"].tolist() == ["posylkin"] and m2["mention_id"][0] == pos_id
    assert m2["context_hash"][0] != old_hash["posylkin"] and "извинился" in m2["context"][0]
    # the stale score no longer counts: the mention is waiting to be scored again
    assert store.query("SELECT sentiment FROM current_scores WHERE mention_id = ?", [pos_id])["sentiment"].isna().all()
    # the dashboard's facts followed: the bank's mention is gone, the edited one is unscored
    assert facts_in_step(store)
    f = store.query("SELECT mention_id, sentiment FROM mention_facts")
    assert f["mention_id"].tolist() == [pos_id] and f["sentiment"].isna().all()


def test_near_duplicates_across_sources_collapse(settings, store, make_post, make_run, facts_in_step):
    a = make_post(1, LONG, source="forum-a", posted_at="2024-05-01T10:00:00+03:00")
    copy = make_post(
        7,
        LONG.replace("третий раз подряд", "третий раз").replace("!", "") + " #репост",
        source="vk-b",
        thread="http://vk-b.test/wall/5",
        posted_at="2024-05-01T12:00:00+03:00",
    )
    exact = make_post(
        8, LONG.upper(), source="tg-c", thread="http://tg-c.test/ch", posted_at="2024-05-01T13:00:00+03:00"
    )
    other = make_post(
        9,
        "Посылкин доставил быстро, курьер вежливый, упаковка целая, всем советую эту службу доставки.",
        source="vk-b",
        thread="http://vk-b.test/wall/6",
    )
    make_run(settings, "run-1", [a])
    ingest_pending(settings, store, run_id="run-1")
    make_run(settings, "run-2", [copy, exact, other])
    r = ingest_pending(settings, store, run_id="run-2")
    assert r["duplicates"] == 2
    docs = store.query("SELECT source_id, doc_id, dup_of FROM documents ORDER BY source_id")
    first = docs.loc[docs["source_id"] == "forum-a", "doc_id"].iloc[0]
    dup = dict(zip(docs["doc_id"], docs["dup_of"].fillna("")))
    assert dup[first] == ""
    copies = docs[docs["source_id"].isin(["tg-c"])]["doc_id"].tolist() + [
        doc_id_for("vk-b", "http://vk-b.test/wall/5", "", "7")
    ]
    assert all(dup[c] == first for c in copies)
    assert dup[doc_id_for("vk-b", "http://vk-b.test/wall/6", "", "9")] == ""
    assert facts_in_step(store)
    countable = store.query("SELECT doc_id, countable FROM mention_facts")
    assert not countable.loc[countable["doc_id"].isin(copies), "countable"].any()  # copies are not counted twice


def test_near_duplicates_within_one_batch(settings, store, make_post, make_run):
    items = [
        make_post(
            i,
            LONG + f" Подпись {i}.",
            source=f"s{i}",
            thread=f"http://s{i}.test/t",
            posted_at=f"2024-05-0{i + 1}T10:00:00+03:00",
        )
        for i in range(3)
    ]
    make_run(settings, "run-1", list(reversed(items)))  # file order must not decide which is the first
    ingest_pending(settings, store, run_id="run-1")
    docs = store.query("SELECT source_id, dup_of FROM documents ORDER BY source_id")
    first = doc_id_for("s0", "http://s0.test/t", "", "0")
    assert docs["dup_of"].fillna("").tolist() == ["", first, first]


def test_malformed_lines_are_counted_and_good_lines_kept(settings, store, make_post, make_run):
    good = [make_post(i, f"Мобилайн пост номер {i}: связь пропала опять") for i in range(5)]
    bad_lines = [
        b"{not json at all\n",
        b"\xff\xfe garbage bytes\n",
        json.dumps({"source": "forum-a", "kind": "forum", "url": "http://x"}).encode() + b"\n",  # no post_id/text
        json.dumps({**make_post(90, "x"), "text": 12345}).encode() + b"\n",  # text of the wrong type
        json.dumps([1, 2, 3]).encode() + b"\n",  # not an object
        json.dumps({**make_post(91, "   ")}).encode() + b"\n",  # empty text
    ]
    fixable = [
        {**make_post(92, "ШопОк: пост с числовым id"), "post_id": 92},
        {**make_post(93, "ШопОк: лайки строкой"), "likes": "12", "views": "много", "author": 777},
        {**make_post(94, "ШопОк огромный пост " + "бла " * 2_700_000)},  # ~10.8 MB
    ]
    make_run(settings, "run-1", good[:2] + fixable, extra_lines=bad_lines)
    make_run(settings, "run-1", good[2:], name="items-0002.jsonl")  # plain JSONL next to gzip
    # a gzip file cut short (crawler killed mid-write): the lines before the cut still count
    full = b"".join(json.dumps(make_post(50 + i, f"Зерно кофе латте {i}")).encode() + b"\n" for i in range(3))
    blob = gzip.compress(full)
    (settings.raw_dir / "run-1" / "items-0003.jsonl.gz").write_bytes(blob[: len(blob) - 12])

    r = ingest_pending(settings, store, run_id="run-1")
    assert r["bad_json"] == 2 and r["missing_field"] == 1 and r["empty_text"] == 1 and r["wrong_type"] == 2
    assert r["bad_lines"] == 6
    assert r["oversized"] == 1 and r["coerced"] >= 2 and r["truncated_files"] == 1
    assert any("items-0001.jsonl.gz:" in e for e in r["errors"])
    docs = store.query(
        "SELECT post_id_text, likes, views, author, length(text) AS n FROM ("
        "SELECT split_part(url, '#p', 2) AS post_id_text, * FROM documents) ORDER BY n DESC"
    )
    got = set(docs["post_id_text"])
    assert {"0", "1", "2", "3", "4", "92", "93", "94"} <= got
    assert settings.ingest.max_text_chars - 5 <= docs["n"].iloc[0] <= settings.ingest.max_text_chars
    assert "50" in got  # lines before the cut of the truncated gzip file
    row93 = docs[docs["post_id_text"] == "93"].iloc[0]
    assert row93["likes"] == 12 and row93["views"] is None or str(row93["views"]) == "<NA>"
    assert row93["author"] == "777"


def test_pending_runs_follow_crawl_runs(settings, store, make_post, make_run):
    make_run(settings, "done", [make_post(1, "ШопОк снова задержал заказ")])
    make_run(settings, "busy", [make_post(2, "Мобилайн не ловит")])
    now = utcnow()
    with store.write() as con:
        con.execute(
            "INSERT INTO crawl_runs (run_id, source_id, started_at, finished_at, status) VALUES "
            "('done', 'forum-a', ?, ?, 'ok'), ('busy', 'forum-a', ?, NULL, 'running')",
            [now, now, now],
        )
    r = ingest_pending(settings, store)
    assert r["runs"] == 1 and r["documents_new"] == 1 and r["mentions_by_brand"] == {"shopok": 1}
    runs = store.query("SELECT run_id, ingested_at FROM crawl_runs ORDER BY run_id")
    assert runs.set_index("run_id")["ingested_at"].isna().to_dict() == {"busy": True, "done": False}
    assert ingest_pending(settings, store)["runs"] == 0
    with pytest.raises(IngestError, match="does not exist"):
        ingest_pending(settings, store, run_id="no-such-run")


def test_pii_is_masked_before_storage(settings, store, make_post, make_run):
    make_run(
        settings,
        "run-1",
        [
            make_post(
                1,
                "ШопОк, верните деньги! Звоните +7 (912) 345-67-89 или ivan@mail.ru, заказ №123456789",
                quoted=[{"text": "мой номер 8 916 111 22 33"}],
            )
        ],
    )
    ingest_pending(settings, store, run_id="run-1")
    d = store.query("SELECT text, quoted_text FROM documents")
    assert d["text"][0] == "ШопОк, верните деньги! Звоните [PHONE] или [EMAIL], заказ №[ORDER]"
    assert d["quoted_text"][0] == "мой номер [PHONE]"
    assert "[PHONE]" in store.query("SELECT context FROM mentions")["context"][0]


def test_spam_signals(settings, store, make_post, make_run):
    same = "Лучшие кредиты без отказа в Ласточка Банк, пишите в личку, одобрим всем за пять минут"
    items = [make_post(i, same, author=f"bot{i}") for i in range(3)]
    items.append(make_post(10, "ШопОк скидки тут http://a.test http://b.test www.c.test", author="farm"))
    items += [
        make_post(100 + i, f"Мобилайн пост {i}", author="flooder", posted_at=f"2024-05-03T10:{i * 2:02d}:00+03:00")
        for i in range(25)
    ]
    items.append(make_post(200, "Мобилайн нормальный оператор, пользуюсь давно", author="human"))
    make_run(settings, "run-1", items)
    r = ingest_pending(settings, store, run_id="run-1")
    d = store.query("SELECT author, spam, spam_reasons_json FROM documents")
    by = d.groupby("author")
    assert d[d["author"].str.startswith("bot")]["spam_reasons_json"].tolist() == ['["same_text_many_authors"]'] * 3
    assert by.get_group("farm")["spam_reasons_json"].tolist() == ['["link_farm"]']
    assert by.get_group("flooder")["spam"].all()
    assert not by.get_group("human")["spam"].any()
    assert r["spam"] == 3 + 1 + 25


def test_spam_verdict_on_older_posts_reaches_the_facts(settings, store, make_post, make_run, facts_in_step):
    same = "Лучшие кредиты без отказа в Ласточка Банк, пишите в личку, одобрим всем за пять минут"
    make_run(settings, "run-1", [make_post(i, same, author=f"bot{i}") for i in range(2)])
    ingest_pending(settings, store, run_id="run-1")
    # the third copy (from another author, a later run) makes all three spam, the first two included
    make_run(settings, "run-2", [make_post(2, same, author="bot2")])
    ingest_pending(settings, store, run_id="run-2")
    assert store.query("SELECT bool_and(spam) AS s FROM documents")["s"][0]
    assert facts_in_step(store)
    f = store.query("SELECT count(*) AS n, count(*) FILTER (WHERE countable) AS c FROM mention_facts")
    assert (f["n"][0], f["c"][0]) == (3, 0)


def test_authors_and_config_rows(settings, store, make_post, make_run):
    items = [make_post(i, "Посылкин ок", author="alice") for i in range(3)] + [make_post(9, "ШопОк ок", author="bob")]
    make_run(settings, "run-1", items)
    ingest_pending(settings, store, run_id="run-1")
    a = store.query("SELECT name, posts FROM authors ORDER BY name")
    assert a.values.tolist() == [["alice", 3], ["bob", 1]]
    # documents carry the same author_key as authors rows (others join on it)
    j = store.query("SELECT count(*) AS n FROM documents d JOIN authors a USING (author_key)")
    assert j["n"][0] == 4
    b = store.query("SELECT brand_id FROM brands ORDER BY brand_id")["brand_id"].tolist()
    assert b == ["lastochka", "mobiline", "posylkin", "shopok", "zerno"]


@pytest.mark.parametrize("parent_first", [True, False])
def test_reply_in_another_thread_finds_its_parent(settings, store, make_post, make_run, parent_first):
    """A Telegram discussion comment (thread = the channel post's page) answers the channel post (thread = the
    channel): the thread-scoped parent id misses, the (source, post id) lookup finds it, in either order."""
    chan = "https://t.me/s/pokupki"
    channel_post = make_post(
        "pokupki/42",
        "Посылкин запустил доставку за час",
        source="tg",
        thread=chan,
        posted_at="2024-05-03T10:00:00+03:00",
    )
    comment = make_post(
        "pokupki_chat/7",
        "Посылкин, а в регионах когда?",
        source="tg",
        thread=f"{chan}/42",
        reply_to="pokupki/42",
        posted_at="2024-05-03T10:05:00+03:00",
    )
    answer = make_post(
        "pokupki_chat/8",
        "Посылкин обещал к весне",
        source="tg",
        thread=f"{chan}/42",
        reply_to="pokupki_chat/7",
        posted_at="2024-05-03T10:07:00+03:00",
    )
    runs = [[channel_post], [comment, answer]] if parent_first else [[comment, answer], [channel_post]]
    for i, items in enumerate(runs):
        make_run(settings, f"run-{i}", items)
        ingest_pending(settings, store, run_id=f"run-{i}")
    ids = {
        p["post_id"]: doc_id_for("tg", p["thread_url"], p["url"], p["post_id"]) for p in (channel_post, comment, answer)
    }
    parent = dict(store.query("SELECT doc_id, parent_id FROM documents").itertuples(index=False))
    assert parent[ids["pokupki_chat/7"]] == ids["pokupki/42"]  # across threads, by post id
    assert parent[ids["pokupki_chat/8"]] == ids["pokupki_chat/7"]  # same thread: the doc id already matched
    assert pd.isna(parent[ids["pokupki/42"]])


def test_many_small_batches_through_the_helper_process(settings, store, make_post, make_run, facts_in_step):
    """Batches after the first are normalised and matched in a helper process one step ahead of the writes:
    copies, edits and mentions must still land as if each batch were processed alone, in order."""
    brands = ["Посылкин", "ШопОк", "Мобилайн"]
    texts = [
        f"{brands[i % 3]} сегодня снова удивил, история номер {words}: курьер, сроки и поддержка"
        for i, words in enumerate(
            ["один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять", "десять"]
        )
    ]
    items = [make_post(i, t) for i, t in enumerate(texts)]
    # 3rd batch: a copy of a 2nd-batch post, and an edit of one (so the 3rd batch's read of what is stored must
    # come after the 2nd batch's commit, although its rows were built while that batch was being written)
    items.append(make_post(10, texts[6], source="forum-b", thread="http://forum-b.test/t/9"))
    items.append(make_post(5, texts[5] + " Обновлено: ШопОк всё вернул."))
    make_run(settings, "run-small", items)
    settings.ingest.batch_size = 4
    seen = []
    r = ingest_pending(settings, store, run_id="run-small", progress=seen.append)
    assert seen == [4, 4, 4]
    assert (r["documents_new"], r["documents_updated"], r["duplicates"]) == (11, 1, 1)
    # the edited post's two mentions count again in the batch that edits it
    assert r["mentions"] == 13 and r["mentions_by_brand"] == {"posylkin": 5, "shopok": 4, "mobiline": 4}
    copy_id = doc_id_for("forum-b", "http://forum-b.test/t/9", "", "10")
    first_id = doc_id_for("forum-a", "http://forum-a.test/t/1", "", "6")
    assert store.query("SELECT dup_of FROM documents WHERE doc_id = ?", [copy_id])["dup_of"].tolist() == [first_id]
    edited = doc_id_for("forum-a", "http://forum-a.test/t/1", "", "5")
    ctx = store.query("SELECT context FROM mentions WHERE doc_id = ? ORDER BY brand_id", [edited])["context"].tolist()
    assert len(ctx) == 2 and all("Обновлено" in c for c in ctx)  # the old brand's context updated, the new brand
    assert store.query("SELECT count(*) AS n FROM documents")["n"].iloc[0] == 11
    assert facts_in_step(store)


def test_spam_verdicts_rewrite_only_what_changes(settings, store, make_post, make_run, facts_in_step):
    from pipeline.spam import spam_reasons

    same = "Лучшие кредиты без отказа в Ласточка Банк, пишите в личку, одобрим всем за пять минут"
    make_run(settings, "run-1", [make_post(i, same, author=f"bot{i}") for i in range(3)])
    ingest_pending(settings, store, run_id="run-1")
    make_run(settings, "run-2", [make_post(3, same, author="bot3")])
    ingest_pending(settings, store, run_id="run-2")  # a fourth copy: the first three stay spam, same reason
    assert store.query("SELECT count(*) FILTER (WHERE spam) AS n FROM documents")["n"][0] == 4
    assert facts_in_step(store)
    ids = store.query("SELECT doc_id FROM documents ORDER BY post_id")["doc_id"].tolist()
    with store.write() as con:
        # the same verdict for the three older copies: only the batch's own document comes back
        v = spam_reasons(con, [ids[3]], {}, settings)
        assert v["doc_id"].tolist() == [ids[3]] and v["spam_reasons_json"].tolist() == ['["same_text_many_authors"]']
        # an older copy whose stored reasons lack the group reason changes, so it is written again
        con.execute(
            "UPDATE documents SET spam = true, spam_reasons_json = '[\"link_farm\"]' WHERE doc_id = ?", [ids[0]]
        )
        v = spam_reasons(con, [ids[3]], {}, settings)
        assert dict(zip(v["doc_id"], v["spam_reasons_json"])) == {
            ids[0]: '["link_farm", "same_text_many_authors"]',
            ids[3]: '["same_text_many_authors"]',
        }


def _content(store) -> dict[str, list]:
    """Every stored row of the ingest tables without the wall-clock columns (ingested_at, ...) and raw_path."""
    out = {}
    for table, key in (
        ("documents", "doc_id"),
        ("mentions", "mention_id"),
        ("authors", "author_key"),
        ("doc_lsh", "doc_id, band, bucket"),
        ("mention_facts", "mention_id"),
    ):
        df = store.query(f"SELECT * FROM {table} ORDER BY {key}")
        keep = [
            c for c in df.columns if c != "raw_path" and (not c.endswith("_at") or c in ("posted_at", "fetched_at"))
        ]
        out[table] = df[keep].astype(str).values.tolist()
    return out


def _mixed_run(make_post):
    """Four batches of 5 with mentions, copies across batches, an edit and plain chatter."""
    brands = ["Посылкин", "ШопОк", "Мобилайн", "Ласточка Банк", "кофейня Зерно"]
    items = [
        make_post(
            i,
            f"{brands[i % 5]} опять: история {i}, курьер опоздал, поддержка молчит, деньги не вернули"
            + (" Пишите на ivan@mail.ru" if i % 4 == 0 else ""),
        )
        for i in range(14)
    ]
    items += [make_post(100 + i, items[i]["text"], source="forum-b", thread="http://forum-b.test/t/2") for i in (1, 7)]
    items += [
        make_post(3, items[3]["text"] + " Обновлено: ШопОк всё решил."),
        make_post(50, "Просто погода, без брендов"),
    ]
    items += [
        make_post(60 + i, f"Мобилайн {i}: связь пропала на весь день, техподдержка не отвечает") for i in range(2)
    ]
    return items


# two ingests of a mixed run each (with and without a helper process that dies);
# test_many_small_batches_through_the_helper_process keeps the helper process in the fast tier
@pytest.mark.slow
@pytest.mark.parametrize("broken_helper", [False, True])
def test_helper_process_stores_exactly_what_one_process_stores(
    tmp_path, settings, make_post, make_run, broken_helper, capfd, caplog
):
    """A multi-batch run ingested with a helper process equals the same run ingested in one process, row for row.
    A helper that cannot start (here: its brands file is gone; a crash the same) costs speed, not data: the
    batches it was given are prepared in the ingesting process."""
    from pipeline.brands import build_matcher
    from pipeline.config import load_brands, load_settings
    from pipeline.ingest import ingest_run
    from pipeline.store import Store

    items = _mixed_run(make_post)
    results = {}
    for helpers in (0, 1):
        s = load_settings(
            data_dir=tmp_path / f"h{helpers}", brands_file=settings.brands_file, sources_file=settings.sources_file
        )
        s.ingest.batch_size, s.ingest.helper_processes = 5, helpers
        run_dir = make_run(s, "run-mixed", items)
        store = Store.from_settings(s)
        store.upgrade()
        matcher = build_matcher(load_brands(s.brands_file), s)
        if broken_helper and helpers:
            s.brands_file = tmp_path / "gone.yaml"  # the helper builds its matcher from this; the caller has one
        r = ingest_run(s, store, "run-mixed", run_dir, matcher)
        assert (r["lines"], r["documents_new"], r["documents_updated"]) == (len(items), len(items) - 1, 1)
        results[helpers] = (r["mentions"], r["duplicates"], r["mentions_by_brand"], _content(store))
    assert results[0][0] == 20 and results[0][1] == 2  # 14 + 2 copies + the edit (2 brands) + 2
    assert results[1] == results[0]
    failed = [r.getMessage() for r in caplog.records if "helper process failed" in r.getMessage()]
    # one warning naming the cause, and no traceback from the helper process on stderr
    assert len(failed) == (1 if broken_helper else 0)
    assert not broken_helper or "gone.yaml" in failed[0]
    assert "Traceback" not in capfd.readouterr().err


def test_posts_under_a_sources_about_urls_mention_its_brand_without_naming_it(tmp_path, settings, make_post, make_run):
    """A source's `about` ties posts to a brand: reviews on its product page, its channel and the comments under
    its posts rarely repeat the name. Such a mention has no span; a post that names the brand keeps its text one."""
    import yaml

    from pipeline.config import ConfigError, load_settings, load_sources
    from pipeline.store import Store

    sources = {
        "sources": [
            {
                "name": "shop-reviews",
                "kind": "reviews",
                "start_urls": ["http://r.test/shopok"],
                "about": {"shopok": []},
            },
            {
                "name": "chan",
                "kind": "telegram",
                "start_urls": ["http://t.test/s/posylkin_express"],
                "about": {"posylkin": ["http://t.test/posylkin_express/"]},
            },
        ]
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    s = load_settings(data_dir=tmp_path / "d", brands_file=settings.brands_file, sources_file=path)
    store = Store.from_settings(s)
    store.upgrade()
    review = "Вернули деньги за брак, но ждала две недели. Больше там не покупаю."
    items = [
        make_post(1, review, source="shop-reviews", thread="http://r.test/shopok"),
        make_post(2, "ШопОк молодцы, а Посылкин опять опоздал", source="shop-reviews", thread="http://r.test/shopok"),
        make_post(
            "posylkin_chat/5",
            "Посылка не найдена уже 6 дней, пойду в суд",
            source="chan",
            thread="http://t.test/posylkin_express/7",
            url="http://t.test/posylkin_chat/5",
        ),
        make_post(
            "zhaloby/3",
            "Жду возврата уже месяц",
            source="chan",
            thread="http://t.test/s/zhaloby",
            url="http://t.test/zhaloby/3",
        ),
        make_post(5, "Жду возврата уже месяц", source="forum-a"),
    ]
    make_run(s, "run-about", items)
    r = ingest_pending(s, store, run_id="run-about")
    got = store.query(
        "SELECT d.post_id, m.brand_id, m.span_start, m.matched, m.context FROM mentions m "
        "JOIN documents d USING (doc_id) ORDER BY 1, 2"
    )
    rows = [
        (p, b, None if pd.isna(a) else int(a), None if pd.isna(m) else m)
        for p, b, a, m in zip(got["post_id"], got["brand_id"], got["span_start"], got["matched"])
    ]
    assert rows == [
        ("1", "shopok", None, None),
        ("2", "posylkin", 17, "Посылкин"),
        ("2", "shopok", 0, "ШопОк"),
        ("posylkin_chat/5", "posylkin", None, None),
    ]
    assert r["mentions_by_brand"] == {"shopok": 2, "posylkin": 2}
    assert got.loc[got["post_id"] == "1", "context"].item() == review  # scored on the post itself

    before = _snapshot(store)
    assert ingest_pending(s, store, run_id="run-about").get("mentions", 0) == 0 and _snapshot(store) == before

    # the review edited to name the brand: the same mention, now with its span
    make_run(s, "run-edit", [make_post(1, "ШопОк: " + review, source="shop-reviews", thread="http://r.test/shopok")])
    ingest_pending(s, store, run_id="run-edit")
    m = store.query(
        "SELECT mention_id, span_start, matched FROM mentions m JOIN documents d USING (doc_id) WHERE d.post_id = '1'"
    )
    assert len(m) == 1 and m["matched"].item() == "ШопОк" and m["span_start"].item() == 0
    assert m["mention_id"].item() == stable_id(
        doc_id_for("shop-reviews", "http://r.test/shopok", "http://r.test/shopok#p1", "1"), "shopok"
    )

    # a brand brands.yaml does not know is a config error, and so is a prefix that is not a URL
    sources["sources"][0]["about"] = {"shopokk": []}
    path.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="shop-reviews: about: unknown brand 'shopokk'"):
        ingest_pending(s, store, run_id="run-about")
    sources["sources"][0]["about"] = {"shopok": ["r.test/shopok"]}
    path.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="about: shopok: 'r.test/shopok' is not an http"):
        load_sources(path)
