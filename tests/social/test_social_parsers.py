"""VK, YouTube and review parsers on recorded responses in the platforms' documented formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.social.reviews import ReviewConfigError, parse_rating, parse_reviews_html, parse_reviews_json
from crawlers.social.vk import parse_comments, parse_wall, vk_error
from crawlers.social.youtube import QuotaExhausted, QuotaLedger, parse_comment_threads, yt_error

REC = Path(__file__).with_name("recorded")


def load(name):
    return json.loads((REC / name).read_text(encoding="utf-8"))


def test_vk_wall_posts_authors_reach_and_skips_empty():
    items, total = parse_wall(load("vk_wall_get.json"), "vk-ufa")
    assert total == 1543
    assert [i.post_id for i in items] == ["-30022666_48211", "-30022666_48209"]  # the photo-only post is skipped
    first, second = items
    assert first.url == "https://vk.com/wall-30022666_48211"
    assert first.author == "Подслушано в Уфе" and first.is_official_answer  # the page posting on its own wall
    assert (first.likes, first.views, first.replies, first.reach) == (112, 20411, 37, 20411)
    assert first.posted_at == datetime.fromtimestamp(1732181400, UTC).isoformat()
    assert second.author == "Аня Котова" and second.author_url == "https://vk.com/anya_k"
    assert not second.is_official_answer


def test_vk_comment_tree_with_deleted_and_replies():
    items, total, deleted = parse_comments(load("vk_wall_getComments.json"), "vk-ufa", -30022666, 48211)
    assert (total, deleted) == (3, 1)
    by_id = {i.post_id: i for i in items}
    assert list(by_id) == [
        "-30022666_48211_c77001",
        "-30022666_48211_c77004",
        "-30022666_48211_c77005",
        "-30022666_48211_c77003",
    ]
    assert by_id["-30022666_48211_c77001"].reply_to == "-30022666_48211"
    assert by_id["-30022666_48211_c77004"].reply_to == "-30022666_48211_c77001"
    assert by_id["-30022666_48211_c77004"].is_official_answer
    assert by_id["-30022666_48211_c77005"].reply_to == "-30022666_48211_c77004"
    assert by_id["-30022666_48211_c77005"].author is None  # unknown author is not invented


@pytest.mark.parametrize("name,code,action", [("vk_error_6.json", 6, "retry"), ("vk_error_15.json", 15, "skip")])
def test_vk_errors_classified(name, code, action):
    err = vk_error(load(name))
    assert err.code == code and err.action == action
    assert vk_error(load("vk_wall_get.json")) is None


def test_youtube_threads_inline_replies_and_empty_skipped():
    items, threads, token = parse_comment_threads(
        load("yt_commentThreads.json"), "yt", "wtLJPvx7-ys", title="Видео", reach=1000, official={"UCshopok"}
    )
    assert token == "QURTSl9pM"
    assert [i.post_id for i in items] == ["UgzDE2tasfmrYLyNkGt4AaABAg", "UgzDE2tasfmrYLyNkGt4AaABAg.9uQ1"]
    top, reply = items
    assert top.text.endswith('"по техническим причинам"')  # textOriginal, not the HTML-escaped textDisplay
    assert top.url == "https://www.youtube.com/watch?v=wtLJPvx7-ys&lc=UgzDE2tasfmrYLyNkGt4AaABAg"
    assert (top.likes, top.replies, top.reach) == (42, 3, 1000)
    assert reply.reply_to == top.post_id and reply.is_official_answer
    assert threads[0] == ("UgzDE2tasfmrYLyNkGt4AaABAg", 3, 1)  # 2 more replies to fetch with comments.list


def test_youtube_errors_classified():
    assert yt_error(load("yt_quota_exceeded.json")).action == "stop"
    assert yt_error(load("yt_comments_disabled.json")).action == "skip"
    assert yt_error({"error": {"code": 429, "errors": [{"reason": "rateLimitExceeded"}]}}).action == "retry"


def test_quota_ledger_stops_before_overspending(tmp_path):
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    ledger = QuotaLedger(tmp_path / "q.json", daily_quota=205, now=now)
    ledger.spend("search")
    ledger.spend("search")
    for _ in range(5):
        ledger.spend("commentThreads")
    with pytest.raises(QuotaExhausted, match="only 0 of 205 remain"):
        ledger.spend("comments")
    assert QuotaLedger(tmp_path / "q.json", daily_quota=205, now=now).used == 205  # persisted for the next run
    tomorrow = datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert QuotaLedger(tmp_path / "q.json", daily_quota=205, now=tomorrow).used == 0


def test_ratings():
    assert [parse_rating(v) for v in ("4", "4,5 из 5", "★★☆☆☆", "Оценка: 3 из 5", 80, 9, "", None, "нет")] == [
        4.0,
        4.5,
        2.0,
        3.0,
        4.0,
        4.5,
        None,
        None,
        None,
    ]


SELECTORS = {
    "review": "div.rev",
    "id": "::attr(data-id)",
    "author": "b.who::text",
    "rating": "i.stars::attr(title)",
    "text": "p.body",
    "pros": "p.plus",
    "answer": "div.ans p",
    "next_page": "a.next::attr(href)",
}


def test_review_html_with_official_answer_and_hostile_text():
    html = """<html><body>
      <div class="rev" data-id="17"><b class="who">Оля</b><i class="stars" title="Оценка: 1 из 5"></i>
        <p class="body">Курьер <script>alert(1)</script> нагрубил &amp; уехал</p><p class="plus">цена</p>
        <div class="ans"><p>Ольга, разберёмся!</p></div></div>
      <div class="rev" data-id="18"><b class="who">Ян</b><i class="stars" title="5"></i><p class="body"></p></div>
      <a class="next" href="?page=2">дальше</a></body></html>"""
    items, nxt = parse_reviews_html(html, "https://reviews.example/p/1?page=1", "rv", SELECTORS, product_id="p1")
    assert nxt == "?page=2"
    assert [i.post_id for i in items] == ["17", "17-answer"]  # the empty review is skipped
    rev, ans = items
    assert rev.rating == 1.0 and rev.author == "Оля" and rev.extra["product_id"] == "p1"
    assert "нагрубил & уехал" in rev.text and "Достоинства: цена" in rev.text
    assert ans.is_official_answer and ans.reply_to == "17" and ans.text == "Ольга, разберёмся!"
    with pytest.raises(ReviewConfigError, match="selectors.review is required"):
        parse_reviews_html(html, "u", "rv", {"text": "p"})


def test_review_json_paths():
    payload = {
        "data": {
            "feedbacks": [
                {"id": 5, "text": "Отличный кофе", "productValuation": 5, "user": {"name": "Ева"}, "answer": None},
                {
                    "id": 6,
                    "text": "Вскрытая пачка",
                    "productValuation": 1,
                    "user": {"name": "Ян"},
                    "answer": {"text": "Вернём"},
                },
            ]
        },
        "next": "/api?page=2",
    }
    spec = {
        "items": "data.feedbacks",
        "next_page": "next",
        "fields": {
            "id": "id",
            "text": "text",
            "rating": "productValuation",
            "author": "user.name",
            "answer": "answer.text",
        },
    }
    items, nxt = parse_reviews_json(payload, "https://m.example/api?page=1", "mp", spec, product_id="84")
    assert nxt == "/api?page=2"
    assert [(i.post_id, i.rating, i.author, i.is_official_answer) for i in items] == [
        ("5", 5.0, "Ева", False),
        ("6", 1.0, "Ян", False),
        ("6-answer", None, "official answer", True),
    ]
    with pytest.raises(ReviewConfigError, match="not a list"):
        parse_reviews_json({"data": {"feedbacks": "oops"}}, "u", "mp", spec)
