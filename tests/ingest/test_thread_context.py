"""Replies inherit the brand their thread's title or opening post names (pipeline/thread_context.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.thread_context import Post, Rule, content_words, inherit

T = "http://forum-a.test/t/7"


def _posts(*texts, official=(), named=None):
    named = named or {}
    return [
        Post(f"d{i}", t, frozenset(named.get(i, ())), frozenset(named.get(i, ())), i in official)
        for i, t in enumerate(texts)
    ]


def test_the_rule_on_one_thread(matcher):
    posts = _posts(
        "Третий день жду посылку, статус не меняется.",  # opening post (names nothing)
        "У меня так же, трек стоит на месте.",  # reply 1: inherits
        "ШопОк тоже задерживает, кстати.",  # names another brand: not this one
        "Здравствуйте! Напишите номер в личные сообщения.",  # official answer
        "А журналист там Андрей Посылкин, однофамилец.",  # a namesake (brands.yaml exclusion)
        "Спасибо, дочка!",  # reply 5: late, shares nothing
        "Посылку так и не привезли, статус тот же.",  # reply 6: late, shares посылка/статус
        named={2: {"shopok"}},
        official={3},
    )
    got = inherit("Посылкин — посылка застряла, что делать?", posts, matcher, Rule(first_replies=3))
    assert got == [("d1", "posylkin", "thread_title"), ("d6", "posylkin", "thread_title")]
    # with every reply allowed, the late one that shares nothing inherits too, the rest still do not
    wide = inherit("Посылкин — посылка застряла, что делать?", posts, matcher, Rule(first_replies=100))
    assert [d for d, *_ in wide] == ["d1", "d5", "d6"]


def test_opening_post_names_the_brand_and_title_does_not(matcher):
    posts = _posts(
        "Заказал на ШопОк телефон, пришёл не тот цвет.", "Верните, это брак продавца.", named={0: {"shopok"}}
    )
    assert inherit("Купил телефон — стоит ли?", posts, matcher) == [("d1", "shopok", "opening_post")]
    # a thread about nothing configured gives nothing; an opening post alone gives nothing
    assert inherit("Погода", _posts("Дождь", "Снег"), matcher) == []
    assert inherit("Посылкин", _posts("Дождь"), matcher) == []


def test_content_words_are_lemmas_without_function_words():
    assert content_words("Посылку так и не привезли") == content_words("посылка привезти")
    assert content_words("это только если когда") == set()
    assert "deliveri" in content_words("The delivery is late") and "this" not in content_words("this")


# ------------------------------------------------------------------------------------------ through the ingest


def _mentions(store):
    return store.query(
        "SELECT d.post_id, m.mention_id, m.brand_id, m.via, m.span_start, m.matched, m.context "
        "FROM mentions m JOIN documents d USING (doc_id) ORDER BY d.post_id, m.brand_id"
    )


THREAD = [
    (1, "Вторую неделю жду посылку, трекинг молчит. Что делать?"),
    (2, "Пишите претензию, у меня через неделю нашли."),
    (3, "Мобилайн тоже тупит со связью, не до посылок."),
    (4, "Спасибо, попробую."),
    (5, "Спасибо!"),
    (6, "Ага."),
    (7, "Претензию отправил, жду ответа по посылке."),
]


@pytest.fixture
def ingest(settings, store, make_post, make_run):
    from pipeline.ingest import ingest_pending

    def run(run_id, texts, title="Посылкин потерял посылку", **kw):
        make_run(settings, run_id, [make_post(i, t, thread=T, thread_title=title, **kw) for i, t in texts])
        return ingest_pending(settings, store, run_id=run_id)

    return run


def test_replies_inherit_the_thread_brand_without_a_span_and_reingest_changes_nothing(ingest, store, facts_in_step):
    r = ingest("run-1", THREAD)
    m = _mentions(store)
    inherited = m[m["via"].notna()]
    # the opening post names nothing itself, the title does; reply 3 names another brand (Мобилайн); 2 and 4 are
    # among the first three replies; 5 and 6 share no content word with the title and opening post, 7 does
    # (посылка, ждать)
    assert sorted(inherited["post_id"]) == ["2", "4", "7"]
    assert set(inherited["brand_id"]) == {"posylkin"} and set(inherited["via"]) == {"thread_title"}
    assert inherited["span_start"].isna().all() and inherited["matched"].isna().all()
    # scored on the reply's own words
    assert inherited.set_index("post_id").loc["7", "context"] == THREAD[6][1]
    assert r["mentions_inherited"] == 3 and facts_in_step(store)
    assert store.query("SELECT count(*) AS n FROM mention_facts WHERE brand_id = 'posylkin'")["n"][0] == 3
    before = _mentions(store).to_dict("records")
    r2 = ingest("run-1", THREAD)
    assert r2.get("mentions_inherited_written", 0) == 0 and _mentions(store).to_dict("records") == before


def test_an_edit_that_names_the_brand_keeps_the_mention_id(ingest, store, facts_in_step):
    ingest("run-1", THREAD)
    m = _mentions(store).set_index("post_id")
    mid2, mid7 = m.loc["2", "mention_id"], m.loc["7", "mention_id"]
    edited = dict(THREAD)
    edited[2] = "Пишите претензию в Посылкин, у меня через неделю нашли."  # now names it
    edited[7] = "Претензию отправил, а ШопОк вернул деньги за день."  # now names another brand
    edited[4] = "Спасибо, попробую. Уже написал."  # still inherits, new context
    ingest("run-2", sorted(edited.items()))
    m = _mentions(store)
    by = {(p, b): r for p, b, r in zip(m["post_id"], m["brand_id"], m.to_dict("records"))}
    assert by[("2", "posylkin")]["mention_id"] == mid2 and pd.isna(by[("2", "posylkin")]["via"])
    assert by[("2", "posylkin")]["matched"] == "Посылкин"
    assert ("7", "posylkin") not in by and pd.isna(by[("7", "shopok")]["via"]) and mid7 not in set(m["mention_id"])
    assert by[("4", "posylkin")]["via"] == "thread_title"
    assert by[("4", "posylkin")]["context"] == edited[4]
    assert facts_in_step(store)


def test_an_opening_post_from_an_earlier_run_and_a_source_that_opts_out(tmp_path, settings, make_post, make_run):
    import yaml

    from pipeline.config import load_settings
    from pipeline.ingest import ingest_pending
    from pipeline.store import Store

    sources = {
        "sources": [
            {"name": "forum-a", "kind": "forum", "engine": "phpbb", "start_urls": ["http://forum-a.test/"]},
            {
                "name": "forum-b",
                "kind": "forum",
                "engine": "phpbb",
                "start_urls": ["http://forum-b.test/"],
                "thread_context": False,
            },
        ]
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(sources), encoding="utf-8")
    s = load_settings(data_dir=tmp_path / "d", brands_file=settings.brands_file, sources_file=path)
    store = Store.from_settings(s)
    store.upgrade()
    tb = "http://forum-b.test/t/1"
    make_run(
        s,
        "run-op",
        [
            make_post(1, "Кто пробовал кэшбэк Ласточка Банка?", thread=T, thread_title="Кэшбэк"),
            make_post(1, "Кто пробовал кэшбэк Ласточка Банка?", source="forum-b", thread=tb, thread_title="Кэшбэк"),
        ],
    )
    ingest_pending(s, store, run_id="run-op")
    # the replies come in a later run (an incremental crawl of the thread's newest page)
    make_run(
        s,
        "run-replies",
        [
            make_post(2, "Пять процентов на кафе, пришёл в срок.", thread=T),
            make_post(2, "Пять процентов на кафе, пришёл в срок.", source="forum-b", thread=tb),
        ],
    )
    ingest_pending(s, store, run_id="run-replies")
    got = store.query(
        "SELECT d.source_id, d.post_id, m.brand_id, m.via FROM mentions m JOIN documents d "
        "USING (doc_id) WHERE m.via IS NOT NULL"
    )
    assert got.to_dict("records") == [
        {"source_id": "forum-a", "post_id": "2", "brand_id": "lastochka", "via": "opening_post"}
    ]
    # turned off everywhere: nothing is inherited
    s.ingest.thread_context = False
    make_run(s, "run-more", [make_post(3, "А у меня не пришёл.", thread=T)])
    ingest_pending(s, store, run_id="run-more")
    assert (
        store.query("SELECT count(*) AS n FROM mentions m JOIN documents d USING (doc_id) WHERE d.post_id = '3'")["n"][
            0
        ]
        == 0
    )
