"""The demo corpus and its answer file: consistent, big enough, and shaped like the brief (storms, advocates)."""

from __future__ import annotations

import re
import urllib.request
from collections import Counter, defaultdict

import pytest

from demo.web import answers, corpus

from ..helpers import DEMO_CONTENT, ROOT

MARKERS = {
    "vbulletin": 'id="post_{id}"',
    "phpbb": 'id="p{id}"',
    "xenforo": 'data-content="post-{id}"',
    "ipb": 'id="elComment_{id}"',
    "discourse": '"id":{id},',
    "news": 'id="comment-{id}"',
    "telegram": 'data-post="{id}"',
}
LEGAL = re.compile(
    r"суд|роспотребнадзор|верните деньги|chargeback|чарджбэк|цб|фас|прокуратур|иск|court|rospotrebnadzor|"
    r"central bank|refund",
    re.I,
)


@pytest.fixture(scope="module")
def c():
    return corpus.load(DEMO_CONTENT)


@pytest.fixture(scope="module")
def rows():
    return answers.read(DEMO_CONTENT / "answers.csv")


def test_answers_csv_is_generated_from_the_current_corpus(c):
    assert (DEMO_CONTENT / "answers.csv").read_text(encoding="utf-8") == answers.to_csv(answers.rows(c)), (
        "answers.csv is stale: run `python -m demo.web.answers`"
    )


def test_every_alias_in_a_post_has_a_row_and_every_row_names_its_brand(c):
    assert answers.check(c, ROOT / "data" / "brands.yaml") == []


def test_every_labelled_post_exists_in_the_served_markup(demo_ro, c, rows):
    engine = {k: s.engine for k, s in c.sites.items()}
    by_page = defaultdict(set)
    for r in rows:
        if r["site"] not in engine:
            continue  # API stand-in rows (vk, youtube, reviews): checked by tests/social against the spiders
        by_page[(r["site"], r["url_path"].split("#")[0])].add(r["post_id"])
    for (site, path), ids in by_page.items():
        body = urllib.request.urlopen(demo_ro.url + path).read().decode("cp1251" if site == "vb" else "utf-8")
        for pid in ids:
            marker = 'id="article-{id}"' if pid.startswith("article-") else MARKERS[engine[site]]
            assert marker.format(id=pid.removeprefix("article-")) in body, (site, path, pid)


def test_volume_and_class_balance(c, rows):
    posts = list(c.all_posts())
    s = answers.summary(rows)
    for k, v in s.items():
        print(k, dict(v))
    assert len(posts) >= 450
    per_brand_posts = Counter()
    for brand, _key in {(r["brand_id"], (r["site"], r["post_id"])) for r in rows if r["brand_id"]}:
        per_brand_posts[brand] += 1
    assert set(per_brand_posts) == {"posylkin", "shopok", "lastochka", "mobiline", "zerno"}
    assert min(per_brand_posts.values()) >= 40, per_brand_posts
    assert min(s["intent"][i] for i in corpus.INTENTS) >= 30, s["intent"]
    assert min(s["sentiment"][x] for x in ("negative", "neutral", "positive")) >= 60, s["sentiment"]
    assert s["brand"]["(none)"] >= 40  # chatter that mentions no brand
    multi = Counter((r["site"], r["post_id"]) for r in rows if r["brand_id"])
    two_brand = [k for k, n in multi.items() if n >= 2]
    mixed = [k for k in two_brand if len({r["sentiment"] for r in rows if (r["site"], r["post_id"]) == k}) > 1]
    assert len(two_brand) >= 8 and len(mixed) >= 5
    english = [p for _, _, p in posts if p.lang == "en"]
    assert len(english) >= 25


def test_complaint_storms_spike_in_the_last_days(c, rows):
    """Posylkin delivery problems spike in the last 2 days, the Lastochka app crash in the last 3."""
    day_of = {}
    for site, t, p in c.all_posts():
        pid = f"{site.board(t.board_id).slug}/{p.id}" if site.engine == "telegram" else str(p.id)
        day_of[(site.key, pid)] = p.days_ago if p.minutes_ago is None else 0

    def days(brand, topics):
        return [
            day_of[(r["site"], r["post_id"])]
            for r in rows
            if r["brand_id"] == brand and r["topic"] in topics and (r["site"], r["post_id"]) in day_of
        ]

    pos = days("posylkin", {"late_delivery", "lost_parcel"})
    recent = sum(1 for d in pos if d <= 1) / 2
    before = sum(1 for d in pos if 2 <= d <= 41) / 40
    print(f"posylkin delivery complaints/day: last 2 days {recent:.1f}, days 2-41 {before:.2f}")
    assert recent >= 8 * max(before, 0.1)
    crash = days("lastochka", {"app_crash"})
    assert len(crash) >= 20 and all(d <= 2 for d in crash)
    for brand, topic in (
        ("shopok", "refund_refused"),
        ("mobiline", "no_signal"),
        ("mobiline", "billing_error"),
        ("zerno", "cold_coffee"),
        ("zerno", "rude_staff"),
    ):
        assert len(days(brand, {topic})) >= 5, (brand, topic)


def _social_texts() -> dict:
    """(site, post_id) -> text for the VK / YouTube / review stand-in content."""
    from demo.standins import SocialApis

    apis, out = SocialApis(DEMO_CONTENT / "social"), {}
    for owner, posts in apis.vk["walls"].items():
        for p in posts:
            out[("vk", f"{owner}_{p['id']}")] = p["text"]
            out.update({("vk", f"{owner}_{p['id']}_c{k['id']}"): k.get("text", "") for k in p.get("comments", [])})
    for v in apis.yt["videos"]:
        out.update({("youtube", k["id"]): k["text"] for t in v["threads"] for k in [t, *t.get("replies", [])]})
    out.update({("reviews", r["id"]): r["text"] for p in apis.reviews["html_products"] for r in p["reviews"]})
    out.update({("marketplace", f["id"]): f["text"] for p in apis.reviews["json_products"] for f in p["feedbacks"]})
    return out


def test_must_escalate_posts_carry_legal_or_refund_threats(c, rows):
    text = {}
    for site, t, p in c.all_posts():
        pid = f"{site.board(t.board_id).slug}/{p.id}" if site.engine == "telegram" else str(p.id)
        text[(site.key, pid)] = p.text
    text.update(_social_texts())
    esc = [r for r in rows if r["must_escalate"] == "1"]
    assert len(esc) >= 10
    for r in esc:
        assert r["sentiment"] == "negative" and LEGAL.search(text[(r["site"], r["post_id"])]), r


def test_planted_advocates_defend_their_brand_where_others_complain(c):
    assert 3 <= len(c.advocates) <= 5
    for name, brand in c.advocates.items():
        defended = 0
        for _site, t, p in c.all_posts():
            if p.author != name:
                continue
            mine = [lab for lab in p.labels if lab.brand == brand]
            if not mine or mine[0].sentiment != "positive":
                continue
            others_neg = any(
                lab.brand == brand and lab.sentiment == "negative"
                for q in t.posts
                if q.author != name
                for lab in q.labels
            )
            defended += others_neg
        assert defended >= 3, (name, brand, defended)


def test_homonyms_and_exclusions_are_not_brand_rows(c, rows):
    traps = [(site.key, p) for site, t, p in c.all_posts() if p.hard_negative]
    assert len(traps) >= 8
    assert all(not any(lab.brand for lab in p.labels) for _, p in traps)
    andrey = [p for _, _, p in c.all_posts() if "Андре" in p.text and "Посылкин" in p.text]
    assert andrey and all(not any(lab.brand == "posylkin" for lab in p.labels) for p in andrey)


def test_high_reach_authors_exist(c):
    likes = Counter()
    for _, _, p in c.all_posts():
        likes[p.author] += p.likes
    top = likes.most_common(3)
    assert top[0][1] >= 300, top


def test_posts_past_the_999th_keep_ids_of_their_own(demo_dir):
    """Post ids were thread * 1000 + n, so post 1001 of thread 7 took the id of post 1 of thread 8."""
    c0 = corpus.load(demo_dir)
    site = next(s for s in c0.sites.values() if s.engine == "phpbb")
    board = site.boards[0].id
    first = corpus.add_thread(demo_dir, site.key, board, "Длинная тема", "автор", "Первое сообщение")
    corpus.add_posts(demo_dir, site.key, first, [{"author": f"u{i}", "text": f"ответ {i}"} for i in range(1200)])
    nxt = corpus.add_thread(demo_dir, site.key, board, "Следующая тема", "автор", "Другое сообщение")
    c1 = corpus.load(demo_dir)
    ids = [p.id for t in c1.sites[site.key].threads() for p in t.posts]
    assert len(ids) == len(set(ids))  # every post of the site has its own id
    long_ids = [p.id for p in c1.sites[site.key].thread(first).posts]
    assert long_ids[:2] == [first * 1000 + 1, first * 1000 + 2]  # short threads' ids are as before
    assert c1.sites[site.key].thread(nxt).posts[0].id == nxt * 1000 + 1
    assert len(long_ids) == 1201 and long_ids[-1] > 10**9
