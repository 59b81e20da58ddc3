"""Pure parsers on real saved forum pages (../shared/data/forum_pages) and inline engine fixtures."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crawlers.encoding import decode_html
from crawlers.parsers import ParseContext, ParseError, detect_engine, parse_page

PAGES = Path(__file__).parent / "pages"
# the goldens' relative dates ("Сегодня, 10:00", "вчера") were read against this instant
GOLDEN_NOW = datetime(2024, 5, 10, 15, 0, tzinfo=ZoneInfo("Europe/Moscow"))
ENGINE_OF = {
    "vbulletin": "vbulletin",
    "phpbb2": "phpbb",
    "phpbb3": "phpbb",
    "smf2": "smf",
    "xenforo": "xenforo",
    "nodebb": "nodebb",
}


def _index(shared_data):
    return json.loads((shared_data / "forum_pages" / "index.json").read_text())


def _real(shared_data, entry):
    text, enc = decode_html((shared_data / "forum_pages" / entry["file"]).read_bytes())
    return text, enc


def test_every_real_page_golden_counts_and_first_author(shared_data):
    entries = _index(shared_data)
    assert len(entries) == 7
    for e in entries:
        text, _ = _real(shared_data, e)
        assert detect_engine(text) == ENGINE_OF[e["engine"]], e["file"]
        res = parse_page(text, "https://forum.example.org/" + e["file"], ctx=ParseContext(now=GOLDEN_NOW, tz="UTC"))
        assert len(res.items) == e["posts_on_page"], e["file"]
        assert res.items[0].author == e["first_post_author"], e["file"]
        ids = [i.post_id for i in res.items]
        assert len(set(ids)) == len(ids), e["file"]
        assert all(i.posted_at for i in res.items), e["file"]
        assert all(i.text or i.quoted for i in res.items), e["file"]  # an image-only reply has only its quote


GOLDEN = {
    # file: (post index, post_id, posted_at, text start, quoted authors, signature start); read with tz="UTC"
    # unless the page states its zone: vBulletin 3 "All times are GMT -5", phpBB 3.0 "All times are UTC [ DST ]"
    # (UTC+1); vBulletin 4 states "All times are GMT"
    "vbulletin/nettally_vBulletin3.html": (
        0,
        "5768670",
        "2016-02-01T02:21:00-05:00",
        "Let me reword it from lesbians",
        ["TinyRedLeaf", None, None, "Romanticide"],
        None,
    ),
    "vbulletin/nettally_vBulletin4.html": (
        1,
        "365267",
        "2016-06-15T17:21:00+00:00",
        "Sad to read that",
        [],
        "The most important six inches",
    ),
    "phpbb3/nettally_phpBB.html": (
        0,
        "2729870",
        "2019-05-26T16:34:00+01:00",
        "Good lecture.",
        [],
        "For behold, all acts of love",
    ),
    "phpbb2/ptforum_phpbb2_viewtopic_t805.html": (
        0,
        "4513",
        "2010-06-02T23:01:00+00:00",
        "All the winter jobs",
        [],
        "George Newton",
    ),
    "smf2/ptforum_smf2_topic_38573.html": (
        0,
        "174916",
        "2007-09-19T13:08:14+00:00",
        "The developers have brought",
        [],
        "Greg Swallow",
    ),
    "xenforo/nettally_Xenforo1_sufficientvelocity.html": (
        1,
        "2146297",
        None,
        "OOC behavior? which part?",
        ["Higure", "TheBleachDoctor"],
        "Quests: Verdant Dreams",
    ),
    "nodebb/nettally_NodeBB.html": (
        0,
        "73812",
        "2019-03-24T19:54:11.505000+00:00",
        "What do you think about this chat",
        [],
        None,
    ),
}


@pytest.mark.parametrize("file", sorted(GOLDEN))
def test_golden_fields_on_real_pages(shared_data, file):
    idx, pid, posted, start, quoted, sig = GOLDEN[file]
    text, _ = decode_html((shared_data / "forum_pages" / file).read_bytes())
    it = parse_page(text, "https://forum.example.org/" + file, ctx=ParseContext(now=GOLDEN_NOW, tz="UTC")).items[idx]
    assert it.post_id == pid
    if posted:
        assert it.posted_at == posted
    assert it.text.startswith(start)
    assert [q["author"] for q in it.quoted] == quoted
    for q in it.quoted:  # quoted words are not in the author's own text
        assert q["text"][:40] not in it.text
    if sig:
        assert it.signature and it.signature.startswith(sig)
        assert sig not in it.text
    else:
        assert not it.signature


def test_vbulletin3_quote_links_reply_to(shared_data):
    text, _ = decode_html((shared_data / "forum_pages/vbulletin/nettally_vBulletin3.html").read_bytes())
    res = parse_page(text, "https://forums.animesuki.com/showthread.php?t=128882&page=152")
    assert res.thread_id == "128882"
    assert res.items[0].reply_to == "5768621"
    assert res.next_url == "https://forums.animesuki.com/showthread.php?t=128882&page=153"


def _first_post_at(text: str, file: str, idx: int = 0) -> str:
    ctx = ParseContext(now=GOLDEN_NOW, tz="Europe/Moscow")
    return parse_page(text, "https://forum.example.org/" + file, ctx=ctx).items[idx].posted_at


def test_vbulletin_footer_zone_shifts_post_times(shared_data):
    """The footer's zone, not the source's, says what the shown times mean: post 5768670 is shown "2016-02-01, 02:21"
    on a page whose footer says "All times are GMT -5", so it was posted at 07:21 UTC."""
    file = "vbulletin/nettally_vBulletin3.html"
    text, _ = decode_html((shared_data / "forum_pages" / file).read_bytes())
    assert "All times are GMT -5." in text
    assert _first_post_at(text, file) == "2016-02-01T02:21:00-05:00"
    assert (
        _first_post_at(text.replace("All times are GMT -5.", "Часовой пояс GMT +4, время:"), file)
        == "2016-02-01T02:21:00+04:00"
    )
    assert (
        _first_post_at(text.replace("All times are GMT -5.", "The time now is"), file) == "2016-02-01T02:21:00+03:00"
    )  # nothing stated: the source's zone
    # vBulletin 4 (#footer_time): "All times are GMT" shown "06-15-2016, 05:21 PM"
    file = "vbulletin/nettally_vBulletin4.html"
    text, _ = decode_html((shared_data / "forum_pages" / file).read_bytes())
    assert _first_post_at(text, file, 1) == "2016-06-15T17:21:00+00:00"
    assert (
        _first_post_at(text.replace("All times are GMT.", "All times are GMT +5.5."), file, 1)
        == "2016-06-15T17:21:00+03:00"
    )  # half-hour zones have no name: the source's zone


def test_phpbb30_footer_zone_with_dst_shifts_post_times(shared_data):
    """phpBB 3.0 shows times an hour ahead of the stated zone while DST is on: post 2729870, shown
    "Sun May 26, 2019 4:34 pm" under "All times are UTC [ DST ]", was posted at 15:34 UTC."""
    file = "phpbb3/nettally_phpBB.html"
    text, _ = decode_html((shared_data / "forum_pages" / file).read_bytes())
    stated = 'All times are UTC [ <abbr title="Daylight Saving Time">DST</abbr> ]'
    assert stated in text
    assert _first_post_at(text, file) == "2019-05-26T16:34:00+01:00"
    assert _first_post_at(text.replace(stated, "All times are UTC - 5 hours"), file) == "2019-05-26T16:34:00-05:00"
    assert (
        _first_post_at(text.replace(stated, "Часовой пояс: UTC + 4 часа [ Летнее время ]"), file)
        == "2019-05-26T16:34:00+05:00"
    )
    assert _first_post_at(text.replace(stated, ""), file) == "2019-05-26T16:34:00+03:00"


def test_latin1_declared_page_decodes(shared_data):
    entry = next(e for e in _index(shared_data) if e["engine"] == "phpbb2")
    _, enc = _real(shared_data, entry)
    assert enc == "cp1252"  # iso-8859-1 declared; decoded as its superset windows-1252 like browsers do


def test_ipb4_fixture():
    res = parse_page(
        (PAGES / "ipb4_topic.html").read_text(),
        "https://forum.example.ru/topic/1234-posylkin-poteryal-posylku/",
        ctx=ParseContext(now=GOLDEN_NOW),
    )
    assert detect_engine((PAGES / "ipb4_topic.html").read_text()) == "ipb"
    assert res.thread_title == "Посылкин потерял посылку"
    assert res.thread_id == "1234"
    assert res.next_url == "https://forum.example.ru/topic/1234-posylkin-poteryal-posylku/page/2/"
    a, b = res.items
    assert (a.post_id, a.author, a.posted_at) == ("55501", "olga_k", "2024-05-03T07:15:00+00:00")
    assert a.text.startswith("Заказала в пятницу") and "Москва, ЮЗАО" not in a.text
    assert a.signature == "Москва, ЮЗАО"
    assert b.quoted == [
        {"author": "olga_k", "post_id": "55501", "text": "Заказала в пятницу, трек не обновляется уже десять дней."}
    ]
    assert b.reply_to == "55501"
    assert b.text == "Та же история, пишите претензию через сайт — мне вернули деньги за неделю."


def test_xenforo2_fixture():
    html = (PAGES / "xf2_thread.html").read_text()
    assert detect_engine(html) == "xenforo"
    res = parse_page(
        html, "https://forum.example.ru/threads/shopok-vernul-dengi.4567/", ctx=ParseContext(now=GOLDEN_NOW)
    )
    assert res.thread_id == "4567" and res.thread_title == "ШопОк вернул деньги?"
    assert res.next_url == "https://forum.example.ru/threads/shopok-vernul-dengi.4567/page-2"
    a, b = res.items
    assert a.author == "Дмитрий_К" and a.post_id == "880011"
    assert a.posted_at == "2024-05-09T17:16:00+03:00"
    assert a.likes == 5  # two names + "и ещё 3"
    assert a.signature == "Пишу с телефона, сорри за опечатки"
    assert b.quoted == [{"author": "Дмитрий_К", "post_id": "880011", "text": "Кто-нибудь получал возврат?"}]
    assert b.text.startswith("Здравствуйте! Напишите номер заказа") and "Нажмите для раскрытия" not in b.text


def test_telegram_fixture():
    html = (PAGES / "telegram_channel.html").read_text()
    assert detect_engine(html) == "telegram"
    res = parse_page(html, "https://t.me/s/posylkin_news", ctx=ParseContext(now=GOLDEN_NOW, kind="telegram"))
    a, b = res.items
    assert (a.post_id, a.views, a.likes, a.reach) == ("posylkin_news/1201", 15400, 1412, 48300)
    assert (
        a.text
        == "Друзья, из-за снегопада возможны задержки доставки в Подмосковье 1–2 дня.\n\nСледите за статусом в приложении."
    )
    assert a.posted_at == "2024-05-10T09:05:11+00:00" and a.url == "https://t.me/posylkin_news/1201"
    assert a.author == "Посылкин | Новости" and b.author == "Анна, служба заботы"
    assert b.reply_to == "posylkin_news/1201" and b.text.startswith("Обновление: задержки до 3 дней")
    assert res.next_url == "https://t.me/s/posylkin_news?before=1201"


def test_discourse_fixtures():
    topic = (PAGES / "discourse_topic.json").read_text()
    assert detect_engine(topic) == "discourse"
    res = parse_page(
        topic, "https://talk.example.ru/t/mobiline-double-charge/321.json", ctx=ParseContext(now=GOLDEN_NOW)
    )
    a, b = res.items
    assert res.thread_title == "Мобилайн: двойное списание абонентки"
    assert (a.post_id, a.author, a.likes, a.views) == ("9001", "anna_k", 4, 57)
    assert a.posted_at == "2024-05-09T14:16:30.123000+00:00"
    assert b.reply_to == "9001" and b.quoted[0]["author"] == "anna_k"
    assert b.text == "Анна, вернём в течение 3 дней, напишите номер в личку."
    assert res.extra_urls == [
        "https://talk.example.ru/t/321/posts.json?post_ids%5B%5D=9003&post_ids%5B%5D=9004&post_ids%5B%5D=9005"
    ]
    lst = parse_page((PAGES / "discourse_latest.json").read_text(), "https://talk.example.ru/latest.json")
    assert [t.url for t in lst.thread_links] == [
        "https://talk.example.ru/t/mobiline-double-charge/321.json",
        "https://talk.example.ru/t/zerno-raf/322.json",
    ]
    assert lst.next_url == "https://talk.example.ru/latest.json?page=1"


def test_bad_input_is_a_clear_error():
    with pytest.raises(ParseError):
        parse_page("{not json", "https://x.example/t/1.json", engine="discourse")
    with pytest.raises(ParseError):
        parse_page("<html></html>", "https://x.example/", engine="nosuch")
    assert parse_page("<html><body>nothing</body></html>", "https://x.example/", engine="vbulletin").items == []
