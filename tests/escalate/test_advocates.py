"""Advocates and opinion leaders on a seeded forum with planted defenders."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from pipeline.advocates import opinion_leaders, top_advocates, update_authors

PLANTED = ["Верный_Покупатель", "Маша_за_ШопОк", "dmitry_fan"]


@pytest.fixture
def forum(store, world, now):
    rnd = random.Random(7)
    complainers = [f"злой_{i}" for i in range(25)]
    bystanders = [f"читатель_{i}" for i in range(15)]
    for t in range(30):
        thread = f"s{t}"
        t0 = now - timedelta(days=30 - t)
        doc, _ = world.post(
            f"ШопОк опять прислал не тот товар, заказ {t}",
            brand="shopok",
            sentiment="negative",
            intent="complaint",
            thread=thread,
            author=rnd.choice(complainers),
            at=t0,
        )
        world.post(
            f"ШопОк и у меня так было {t}",
            brand="shopok",
            sentiment="negative",
            intent="complaint",
            thread=thread,
            author=rnd.choice(complainers),
            at=t0 + timedelta(minutes=5),
            parent=doc,
        )
        for k in range(rnd.randint(1, 3)):
            world.post(
                f"а что с возвратом в ШопОк {t}.{k}",
                brand="shopok",
                sentiment="neutral",
                intent="question",
                thread=thread,
                author=rnd.choice(bystanders),
                at=t0 + timedelta(minutes=10 + k),
                parent=doc,
            )
        if t % 10 == 0:  # the shop's own answer is not advocacy
            world.post(
                f"ШопОк: напишите нам номер заказа {t}",
                brand="shopok",
                sentiment="positive",
                intent="other",
                thread=thread,
                author="ШопОк_официально",
                official=True,
                at=t0 + timedelta(minutes=20),
            )
    # planted advocates: positive replies to complaints in several threads, plus a positive post of their own
    for i, name in enumerate(PLANTED):
        for t in range(i, 30, 7):
            world.post(
                f"Не согласен, ШопОк всегда возвращает деньги без вопросов ({name} {t})",
                brand="shopok",
                sentiment="positive",
                intent="praise",
                thread=f"s{t}",
                author=name,
                at=now - timedelta(days=30 - t) + timedelta(minutes=30),
            )
        world.post(
            f"Заказываю в ШопОк пять лет, всё отлично ({name})",
            brand="shopok",
            sentiment="positive",
            intent="praise",
            thread=f"own-{i}",
            author=name,
            at=now - timedelta(days=2),
        )
    # not advocates, or weaker ones
    world.post(
        "ШопОк норм",
        brand="shopok",
        sentiment="positive",
        intent="praise",
        thread="s3",
        author="разовый_фанат",
        at=now - timedelta(days=26, minutes=-40),
    )
    for k in range(4):
        world.post(
            f"ШопОк хорош {k}",
            brand="shopok",
            sentiment="positive",
            intent="praise",
            thread=f"m{k}",
            author="двуличный",
        )
        world.post(
            f"ШопОк ужасен {k}",
            brand="shopok",
            sentiment="negative",
            intent="complaint",
            thread=f"m{k}b",
            author="двуличный",
        )
    world.post(
        "Кофейня Зерно лучшая, капучино супер",
        brand="zerno",
        sentiment="positive",
        intent="praise",
        thread="z1",
        author="кофеман",
    )
    world.post(
        "Кофейня Зерно, снова отличный латте",
        brand="zerno",
        sentiment="positive",
        intent="praise",
        thread="z2",
        author="кофеман",
    )
    # an opinion leader: posts that draw many replies and likes across threads
    for t in range(6):
        lead, _ = world.post(
            f"Обзор доставки ШопОк, часть {t}",
            brand="shopok",
            sentiment="neutral",
            intent="other",
            thread=f"review{t}",
            author="обозреватель",
            likes=40,
        )
        for r in range(5):
            world.post(
                f"спасибо за обзор {t}.{r}", brand=None, thread=f"review{t}", author=rnd.choice(bystanders), parent=lead
            )
    world.flush()
    return store


def test_planted_advocates_rank_top(settings, forum):
    counts = update_authors(settings, forum)
    assert counts["authors"] >= 45
    top = top_advocates(forum, brand="shopok", limit=5)
    assert set(PLANTED) <= set(top["name"])
    assert set(top["name"].head(3)) == set(PLANTED)
    assert "двуличный" not in set(top["name"])  # as many complaints as praise
    assert "разовый_фанат" not in set(top["name"])  # one post is not "repeated"
    assert "ШопОк_официально" not in set(top_advocates(forum, limit=100)["name"])
    row = top.iloc[0]
    assert row["defenses"] >= 4 and row["neg"] == 0
    assert "defending it in threads with complaints" in row["explanation"] and "ШопОк" in row["explanation"]
    # brand filter: the coffee fan is an advocate of Зерно, not of ШопОк
    zerno = top_advocates(forum, brand="zerno")
    assert list(zerno["name"]) == ["кофеман"]
    assert "кофеман" not in set(top_advocates(forum, brand="shopok", limit=100)["name"])


def test_opinion_leader_by_replies_likes_threads(settings, forum):
    update_authors(settings, forum)
    leaders = opinion_leaders(forum, limit=3)
    assert leaders.iloc[0]["name"] == "обозреватель"
    assert "draws 30 replies and 240 likes across 6 threads" in leaders.iloc[0]["explanation"]
    assert 0 < leaders.iloc[0]["influence_score"] < 1


def test_rerun_upserts(settings, forum):
    update_authors(settings, forum)
    n = forum.query("SELECT count(*) n FROM authors")["n"][0]
    update_authors(settings, forum)
    assert forum.query("SELECT count(*) n FROM authors")["n"][0] == n
