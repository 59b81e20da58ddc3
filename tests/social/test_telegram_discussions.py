"""Telegram discussion threads: the comments widget parser (real markup shape and the demo page), and the
spider following comment counters incrementally against the demo web."""

from __future__ import annotations

import csv

import yaml

from crawlers.parsers import parse_page
from crawlers.parsers.base import ParseContext

from ..helpers import NOW, read_items
from .conftest import ROOT, sources_settings

CTX = ParseContext(now=NOW, kind="telegram", tz="Europe/Moscow")

# The widget's shape as t.me serves it (telegram-widget.js data-telegram-discussion iframe): one
# tgme_widget_message per comment, data-post "<group>/<id>", the writer's name, a reply block for answers.
WIDGET = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Comments</title></head>
<body class="widget_frame_base tgme_widget body_widget_post emoji_image nojs">
<div class="tgme_widget_discussion_wrap"><div class="tgme_widget_discussion_header"><span class="js-header">3 comments</span></div>
<div class="tgme_widget_messages js-message_history">
<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="brandchat/5012" data-post-id="5012">
 <div class="tgme_widget_message_user"><a href="https://t.me/ivan_p"><i class="tgme_widget_message_user_photo bgcolor2" data-content="И"></i></a></div>
 <div class="tgme_widget_message_bubble">
  <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_author_name" href="https://t.me/ivan_p"><span dir="auto">Иван П.</span></a></div>
  <div class="tgme_widget_message_text js-message_text" dir="auto">Третий день жду курьера, <b>никто</b> не звонит.</div>
  <div class="tgme_widget_message_reactions"><span class="tgme_reaction"><i class="emoji"><b>👍</b></i>12</span><span class="tgme_reaction"><i class="emoji"><b>😡</b></i>3</span></div>
  <div class="tgme_widget_message_footer"><div class="tgme_widget_message_info"><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/brandchat/5012"><time datetime="2026-11-24T09:15:00+00:00" class="time">09:15</time></a></span></div></div>
 </div></div></div>
<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="brandchat/5013" data-post-id="5013">
 <div class="tgme_widget_message_bubble">
  <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_author_name" href="https://t.me/brand_support"><span dir="auto">Бренд Поддержка</span></a></div>
  <a class="tgme_widget_message_reply" href="https://t.me/brandchat/5012"><div class="tgme_widget_message_author accent_color"><span class="tgme_widget_message_author_name">Иван П.</span></div><div class="tgme_widget_message_text js-message_reply_text">Третий день жду курьера…</div></a>
  <div class="tgme_widget_message_text js-message_text" dir="auto">Иван, напишите номер заказа в личные сообщения.</div>
  <div class="tgme_widget_message_footer"><div class="tgme_widget_message_info"><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/brandchat/5013"><time datetime="2026-11-24T09:40:00+00:00" class="time">09:40</time></a></span></div></div>
 </div></div></div>
<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="brandchat/5020" data-post-id="5020">
 <div class="tgme_widget_message_bubble">
  <div class="tgme_widget_message_author accent_color"><span class="tgme_widget_message_author_name"><span dir="auto">Deleted Account</span></span></div>
  <div class="tgme_widget_message_text js-message_text" dir="auto">А у меня всё пришло вовремя.</div>
  <div class="tgme_widget_message_footer"><span class="tgme_widget_message_views">1.2K</span><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/brandchat/5020"><time datetime="2026-11-24T11:02:00+00:00" class="time">11:02</time></a></span></div>
 </div></div></div>
</div></div></body></html>"""


def test_parse_discussion_widget_markup():
    url = "https://t.me/brandnews/812?embed=1&discussion=1&comments_limit=100"
    res = parse_page(WIDGET, url, "telegram", CTX)
    assert [i.post_id for i in res.items] == ["brandchat/5012", "brandchat/5013", "brandchat/5020"]
    first, answer, third = res.items
    assert first.reply_to == "brandnews/812"  # a top-level comment answers the channel post
    assert answer.reply_to == "brandchat/5012"  # a reply answers the comment it quotes
    assert third.reply_to == "brandnews/812"
    assert {i.thread_url for i in res.items} == {"https://t.me/brandnews/812"}
    assert {i.thread_id for i in res.items} == {"brandnews/812"}
    assert first.text == "Третий день жду курьера, никто не звонит."
    assert answer.text == "Иван, напишите номер заказа в личные сообщения."  # the quoted preview is not its text
    assert (first.author, first.author_url) == ("Иван П.", "https://t.me/ivan_p")
    assert (third.author, third.author_url) == ("Deleted Account", None)
    assert first.likes == 15 and answer.likes is None
    assert third.views == 1200
    assert first.posted_at.startswith("2026-11-24T09:15")
    assert first.url == "https://t.me/brandchat/5012"
    assert res.next_url is None


def test_channel_page_comment_counter_and_demo_widget(demo):
    import urllib.request

    html = urllib.request.urlopen(f"{demo.url}/tg/s/posylkin_express").read().decode()
    res = parse_page(html, f"{demo.url}/tg/s/posylkin_express", "telegram", CTX)
    counters = {i.post_id: i.replies for i in res.items if i.replies}
    assert counters == {"posylkin_express/6": 4, "posylkin_express/7": 4, "posylkin_express/8": 2}

    url = f"{demo.url}/tg/posylkin_express/7?embed=1&discussion=1&comments_limit=100"
    res = parse_page(urllib.request.urlopen(url).read().decode(), url, "telegram", CTX)
    got = {i.post_id: i.reply_to for i in res.items}
    assert got == {
        "posylkin_chat/5": "posylkin_express/7",
        "posylkin_chat/6": "posylkin_chat/5",
        "posylkin_chat/7": "posylkin_express/7",
        "posylkin_chat/8": "posylkin_express/7",
    }
    official = next(i for i in res.items if i.post_id == "posylkin_chat/6")
    assert official.author == "Посылкин Экспресс" and official.thread_url == f"{demo.url}/tg/posylkin_express/7"
    assert next(i for i in res.items if i.post_id == "posylkin_chat/5").likes == 64
    # comments_limit keeps the newest N, as the widget does
    url2 = url.replace("comments_limit=100", "comments_limit=2")
    res2 = parse_page(urllib.request.urlopen(url2).read().decode(), url2, "telegram", CTX)
    assert [i.post_id for i in res2.items] == ["posylkin_chat/7", "posylkin_chat/8"]


def _settings(tmp_path, url):
    return sources_settings(tmp_path, url, ["demo-tg"])


def _widget_hits(demo) -> dict[str, int]:
    return {k: v for k, v in demo.hits_full.items() if "discussion=1" in k}


def test_spider_crawls_discussions_incrementally(tmp_path, demo):
    from crawlers.run import crawl_sources
    from demo.web import corpus
    from pipeline.store import Store

    settings = _settings(tmp_path, demo.url)
    store = Store.from_settings(settings)
    store.upgrade()
    res = crawl_sources(settings, store, ["demo-tg"], now=NOW)["sources"]["demo-tg"]
    items = {i["post_id"]: i for i in read_items(res["raw_path"])}
    with open(ROOT / "data" / "demo_web" / "answers.csv", encoding="utf-8") as f:
        expected = {r["post_id"] for r in csv.DictReader(f) if r["post_id"].startswith("posylkin_chat/")}
    comments = {k: v for k, v in items.items() if k.startswith("posylkin_chat/")}
    assert set(comments) == expected and len(expected) == 10  # every labelled comment, once
    assert comments["posylkin_chat/1"]["reply_to"] == "posylkin_express/6"
    assert comments["posylkin_chat/4"]["reply_to"] == "posylkin_chat/3"
    assert comments["posylkin_chat/10"]["reply_to"] == "posylkin_chat/9"
    assert comments["posylkin_chat/9"]["thread_url"] == f"{demo.url}/tg/posylkin_express/8"
    assert comments["posylkin_chat/9"]["thread_title"].startswith("Посылкин Экспресс: Статус на утро: обработано 70%")
    assert comments["posylkin_chat/6"]["is_official_answer"]  # the brand answering in its own comments
    assert not comments["posylkin_chat/5"]["is_official_answer"]
    assert len(_widget_hits(demo)) == 3  # the three posts with a counter

    # a new comment under post 7 only: the next crawl fetches that post's widget and yields just the comment
    new_id = corpus.add_post(
        demo.content_dir,
        "tg",
        4,
        "Светлана",
        "Посылкин, где моя посылка? Трек молчит.",
        comment_on=7,
        minutes_ago=2,
        labels="posylkin - complaint late_delivery",
    )
    assert new_id == "11"
    demo.reset_hits()
    res2 = crawl_sources(settings, store, ["demo-tg"], now=NOW)["sources"]["demo-tg"]
    new = read_items(res2["raw_path"])
    assert [i["post_id"] for i in new] == ["posylkin_chat/11"]
    assert new[0]["reply_to"] == "posylkin_express/7"
    assert list(_widget_hits(demo)) == ["/tg/posylkin_express/7?embed=1&discussion=1&comments_limit=100"]

    # nothing changed: no widget is fetched at all
    demo.reset_hits()
    res3 = crawl_sources(settings, store, ["demo-tg"], now=NOW)["sources"]["demo-tg"]
    assert read_items(res3["raw_path"]) == [] and _widget_hits(demo) == {}


def test_discussions_off_by_default(tmp_path, demo):
    from crawlers.run import crawl_sources
    from pipeline.store import Store

    settings = _settings(tmp_path, demo.url)
    data = yaml.safe_load(settings.sources_file.read_text(encoding="utf-8"))
    data["sources"][0]["options"].pop("discussions")
    settings.sources_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    store = Store.from_settings(settings)
    store.upgrade()
    res = crawl_sources(settings, store, ["demo-tg"], now=NOW)["sources"]["demo-tg"]
    assert not any(i["post_id"].startswith("posylkin_chat/") for i in read_items(res["raw_path"]))
    assert _widget_hits(demo) == {}
