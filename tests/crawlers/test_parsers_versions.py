"""Parsers on pages of many engine versions: real saved pages (trimmed) and pages built from engines' own
templates (see tests/crawlers/pages/SOURCES.md for which is which)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crawlers.encoding import decode_html
from crawlers.parsers import ParseContext, detect_engine, parse_any, parse_page

PAGES = Path(__file__).parent / "pages"
# the goldens' relative dates ("Сегодня, 10:00", "вчера") were read against this instant
GOLDEN_NOW = datetime(2024, 5, 5, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@dataclass
class Golden:
    idx: int
    post_id: str
    author: str
    posted_at: str | None
    text_start: str
    quoted: list = field(default_factory=list)  # [(author, post_id)]
    signature: str | None = None  # start of the signature
    reply_to: str | None = None
    likes: int | None = None
    author_url: str | None = None


@dataclass
class Page:
    url: str
    engine: str
    posts: int
    thread_id: str | None
    title: str
    golden: list[Golden]
    next_url: str | None = None
    tz: str = "Europe/Moscow"


CASES = {
    # real: vBulletin 5.5.2 (fandompost.vbulletin.net)
    "vb5_thread.html": Page(
        "https://fandompost.vbulletin.net/forum/anime-manga-discussions/general-anime-discussions/727744-isekai-quartet-discussion-thread",
        "vbulletin",
        3,
        "727744",
        "Isekai Quartet Discussion Thread",
        [
            Golden(
                0,
                "727744",
                "Buckeye",
                "2019-04-09T18:37:23+03:00",
                "異世界かるてっと\n\nA short about characters",
                signature="MyAnimeList | Avatar: Lecia Ivyred",
                author_url="https://fandompost.vbulletin.net/member/1712-buckeye",
            ),
            Golden(
                2,
                "727761",
                "General Hentai",
                "2019-04-09T21:40:18+03:00",
                "Re: Episode 1\n\nO.M.G.",
                quoted=[("Buckeye", "727754")],
                signature="My Avatar: The lovely Mikuru Asahina",
                reply_to="727754",
            ),
        ],
        next_url="https://fandompost.vbulletin.net/forum/anime-manga-discussions/general-anime-discussions/727744-isekai-quartet-discussion-thread/page2",
    ),
    # real: XenForo 2.1 (xenforo.com community)
    "xf21_thread.html": Page(
        "https://xenforo.com/community/threads/a-dark-theme-option.8276/",
        "xenforo",
        4,
        "8276",
        "a dark theme option",
        [
            Golden(
                0,
                "114253",
                "anotheralias",
                "2010-11-21T16:47:23+03:00",
                "I know what you mean dieketzer.",
                likes=1,
                author_url="https://xenforo.com/community/members/anotheralias.693/",
            ),
            Golden(2, "1091229", "Azofan", "2016-08-21T09:09:15+03:00", "+1, please do this at some point"),
            Golden(3, "1091230", "AndyB", "2016-08-21T09:22:26+03:00", "You might be interested in this add-on:"),
        ],
    ),
    # real: phpBB 3.2, subsilver-based style, saved by HTTrack; the footer's "UTC-06:00" sets the zone
    "phpbb32_subsilver_viewtopic.html": Page(
        "https://www.dostips.com/forum/viewtopic.php?t=8822",
        "phpbb",
        4,
        "8822",
        "Center Window and Move Window (yet more Powershell hybrids)",
        [
            Golden(0, "57966", "IcarusLives", "2018-09-07T07:08:00-06:00", "Haha, I guess you've got a point!"),
            Golden(
                3,
                "57972",
                "aGerman",
                "2018-09-07T14:25:00-06:00",
                "Thanks for your feedback, IcarusLives :) Much appreciated.",
                author_url="https://www.dostips.com/forum/memberlistf667.html?mode=viewprofile&u=1265",
            ),
        ],
    ),
    # real: phpBB 3.3 prosilver (Dark Edition), <time datetime>, quotes with data-post-id, ?sid= in links
    "phpbb33_prosilver_viewtopic.html": Page(
        "https://forums.nesdev.org/viewtopic.php?t=25574",
        "phpbb",
        3,
        "25574",
        "DMC/DMA timing and quirks",
        [
            Golden(
                0,
                "297120",
                "EvtimDjerekarov",
                "2024-11-12T10:43:23+00:00",
                "Hello to everyone,\n\nI have been reading",
                author_url="https://forums.nesdev.org/memberlist.php?mode=viewprofile&u=3511",
            ),
            Golden(
                1,
                "297121",
                "Fiskbit",
                "2024-11-12T12:30:43+00:00",
                "I wrote the wiki's DMA article",
                quoted=[("EvtimDjerekarov", "297120")] * 3,
                reply_to="297120",
                author_url="https://forums.nesdev.org/memberlist.php?mode=viewprofile&u=8835",
            ),
            Golden(2, "297131", "EvtimDjerekarov", "2024-11-13T10:42:32+00:00", "Thanks for the clarifications!"),
        ],
    ),
    # real: TorrentPier (phpBB 2 fork), rutracker.org, served in windows-1251; "31-Июл-08 01:24" dates, no zone stated
    "torrentpier_rutracker_ru.html": Page(
        "https://rutracker.org/forum/viewtopic.php?t=1027848",
        "phpbb",
        4,
        "1027848",
        "Стругацкие Аркадий и Борис - Стажеры [Эммануил Виторган, 2006, 192 kbps]",
        [
            Golden(
                0,
                "11299710",
                "HiAsk",
                "2008-07-31T01:24:00+04:00",
                "Стажеры\n\nГод выпуска: 2006",
                author_url="https://rutracker.org/forum/profile.php?mode=viewprofile&u=4475654",
            ),
            Golden(
                1,
                "12365155",
                "wasdzx",
                "2008-09-13T19:57:00+04:00",
                "Я думаю, что релизеру всегда приятны спасибы от качающих",
            ),
            Golden(2, "16828616", "Skorp79", "2009-01-16T19:09:00+03:00", "Спасибо обязательно скачаю."),
            Golden(3, "38601448", "PENNYWISEMAN", "2010-10-02T22:15:00+04:00", "Да, Виторган хорош"),
        ],
        next_url="https://rutracker.org/forum/viewtopic.php?t=1027848&start=30",
    ),
    # real: Invision Community 4.7 (forum.armbian.com)
    "ipb47_topic.html": Page(
        "https://forum.armbian.com/topic/34923-csc-armbian-for-rk322x-tv-box-boards/",
        "ipb",
        2,
        "34923",
        "CSC Armbian for RK322x TV box boards",
        [
            Golden(
                0,
                "92583",
                "fabiobassa",
                "2020-01-08T22:09:53+00:00",
                "@jock\n\nWell, simply speachless .",
                likes=0,
                author_url="https://forum.armbian.com/profile/13603-fabiobassa/",
            ),
            Golden(
                1,
                "93235",
                "knaerzche",
                "2020-01-18T22:12:13+00:00",
                "Hey,\n\ngreat - somebody else is working on this too",
                likes=0,
            ),
        ],
    ),
    # real posts: Discourse 3.x crawler view (discourse.threejs.org); dates only as text, read in the given zone
    "discourse_crawler_threejs.html": Page(
        "https://discourse.threejs.org/t/viewer3d-real-time-3d-warehouse-scada-30k-pallets-in-vanilla-three-js-no-framework/92418",
        "discourse",
        4,
        "92418",
        "Viewer3D — real-time 3D warehouse SCADA, ~30k pallets in vanilla three.js (no framework)",
        [
            Golden(
                0,
                "92418/1",
                "Marcomon",
                "2026-06-25T21:39:00+00:00",
                "Hi everyone!\n:waving_hand:",
                likes=8,
                author_url="https://discourse.threejs.org/u/Marcomon",
            ),
            Golden(1, "92418/2", "xjindf", "2026-06-26T02:53:00+00:00", "It’s really smooth."),
            Golden(3, "92418/4", "manthrax", "2026-06-29T17:23:00+00:00", "Very nice. Great look to it.", likes=1),
        ],
        tz="UTC",
    ),
    # real: Discourse 2.x crawler view inside <noscript> (forum.ionicframework.com, 2020): one DiscussionForumPosting
    # per post, no post_N ids, post #4 missing (deleted), a markdown blockquote
    "discourse_ionic_noscript.html": Page(
        "https://forum.ionicframework.com/t/how-to-build-an-android-apk-file-without-using-android-studio-in-a-capacitor-project/177814",
        "discourse",
        5,
        "177814",
        "How to build an Android APK file without using Android Studio in a Capacitor project?",
        [
            Golden(
                0,
                "177814/1",
                "SwapnilP133",
                "2019-11-18T06:49:00+00:00",
                "I recently came across Capacitor",
                likes=0,
                author_url="https://forum.ionicframework.com/u/SwapnilP133",
            ),
            Golden(
                3,
                "177814/5",
                "roboter",
                "2019-11-20T11:13:52+00:00",
                "Hey, did you read the question?\n\nLooking for same",
                quoted=[(None, None)],
                likes=8,
            ),
        ],
    ),
    # template: Discourse 3.x crawler view
    "discourse_crawler_ru.html": Page(
        "https://talk.example.ru/t/mobiline-double-charge/321",
        "discourse",
        3,
        "321",
        "Мобилайн: двойное списание абонентки",
        [
            Golden(
                0,
                "321/1",
                "anna_k",
                "2024-05-09T14:16:30+00:00",
                "Мобилайн второй месяц подряд списывает абонентку дважды",
                likes=4,
                author_url="https://talk.example.ru/u/anna_k",
            ),
            Golden(
                1,
                "321/2",
                "mobiline_support",
                "2024-05-09T15:02:11+00:00",
                "Анна, вернём в течение 3 дней, напишите номер в личку.",
                quoted=[("anna_k", "321/1")],
                reply_to="321/1",
                likes=0,
            ),
        ],
        next_url="https://talk.example.ru/t/mobiline-double-charge/321?page=2",
    ),
    # template: Discourse 1.x/2.0 crawler view
    "discourse_v2_ru.html": Page(
        "https://talk.example.ru/t/zerno-raf/322",
        "discourse",
        2,
        "322",
        "Кофейня Зерно: раф стал меньше",
        [
            Golden(0, "322/1", "lena_m", "2024-04-28T08:05:00+00:00", "В Зерне на Тверской раф теперь 250 мл", likes=6),
            Golden(
                1,
                "322/2",
                "barista_zerno",
                "2024-04-28T10:40:00+00:00",
                "Лена, это ошибка кассы",
                quoted=[("lena_m", "322/1")],
                reply_to="322/1",
                likes=2,
            ),
        ],
    ),
    # template: Invision Community 5 (article.ipsEntry, .ipsEntry__username)
    "ips5_topic_ru.html": Page(
        "https://forum.example.ru/topic/2201-shopok-kurer-otmenil-dostavku/",
        "ipb",
        2,
        "2201",
        "ШопОк: курьер отменил доставку без звонка",
        [
            Golden(
                0,
                "7701",
                "vera_s",
                "2024-05-16T09:10:00+00:00",
                "Заказ на ШопОк должны были привезти вчера",
                author_url="https://forum.example.ru/profile/412-vera_s/",
            ),
            Golden(
                1,
                "7706",
                "ShopOk_Support",
                "2024-05-16T10:38:00+00:00",
                "Вера, простите за ситуацию.",
                quoted=[("vera_s", "7701")],
                reply_to="7701",
            ),
        ],
    ),
    # template: MyBB 1.8 (postbit and postbit_classic)
    "mybb18_showthread_ru.html": Page(
        "https://forum.example.ru/showthread.php?tid=812",
        "mybb",
        3,
        "812",
        "ШопОк не возвращает деньги за отменённый заказ",
        [
            Golden(
                0,
                "5501",
                "olga_k",
                "2024-05-03T10:15:00+03:00",
                "Отменила заказ на ШопОк две недели назад",
                signature="Москва, ЮЗАО",
                author_url="https://forum.example.ru/member.php?action=profile&uid=77",
            ),
            # "Вчера, 12:40" with the absolute date in its title attribute
            Golden(
                1,
                "5502",
                "ShopOk_Support",
                "2024-05-03T12:40:00+03:00",
                "Ольга, добрый день!",
                quoted=[("olga_k", "5501")],
                reply_to="5501",
            ),
            Golden(
                2,
                "5507",
                "Дмитрий_К",
                "2024-05-04T09:05:00+03:00",
                "Мне так же ответили месяц назад",
                quoted=[("ShopOk_Support", "5502")],
                signature="Пишу с телефона",
                reply_to="5502",
            ),
        ],
        next_url="https://forum.example.ru/showthread.php?tid=812&page=2",
    ),
    # real: MyBB 1.8 showthread with Google SEO URLs (Thread-<slug>, thread id only in newreply.php?tid=) and a
    # theme's "classic" postbit; quote cite "(date)Wonders Wrote:" whose jump link names pid 41
    "mybb18_showthread_real.html": Page(
        "https://sinister.ly/Thread-MyBB-Forum-Setup-and-Support",
        "mybb",
        3,
        "5571",
        "MyBB Forum Setup and Support",
        [
            Golden(
                0,
                "42369",
                "Wonders",
                "2013-04-14T03:43:00+04:00",
                "Nice service you have, thanks for this",
                author_url="https://sinister.ly/User-Wonders",
            ),
            Golden(
                1,
                "42373",
                "Sunlight",
                "2013-04-14T04:06:00+04:00",
                "No problem man. I can't wait till more people",
                quoted=[("Wonders", "41")],
                reply_to="41",
            ),
            Golden(2, "42618", "Faked", "2013-04-15T19:12:00+04:00", "Great service you have here bud"),
        ],
    ),
    # template: SMF 2.1
    "smf21_topic_ru.html": Page(
        "https://forum.example.ru/index.php?topic=4471.0",
        "smf",
        3,
        "4471",
        "Ласточка Банк заблокировал карту без объяснений",
        [
            Golden(
                0,
                "30125",
                "Ирина_В",
                "2024-05-02T21:40:12+03:00",
                "Вчера Ласточка заблокировала карту прямо на кассе.",
                author_url="https://forum.example.ru/index.php?action=profile;u=318",
            ),
            Golden(
                1,
                "30131",
                "finansist",
                "2024-05-03T08:05:47+03:00",
                "Пишите заявление в отделение",
                quoted=[("Ирина_В", "30125")],
                signature="Не финансовый совет.",
                reply_to="30125",
            ),
            Golden(
                2,
                "30140",
                "Пётр",
                "2024-05-04T12:30:00+03:00",
                "А у меня в отделении сказали ждать",
                quoted=[("finansist", "30131")],
                reply_to="30131",
            ),
        ],
        next_url="https://forum.example.ru/index.php?topic=4471.20",
    ),
    # template: IP.Board 3.4
    "ipb34_topic_ru.html": Page(
        "https://forum.example.ru/index.php?showtopic=9120",
        "ipb",
        2,
        "9120",
        'Посылкин: посылка третью неделю "в пути"',
        [
            Golden(
                0,
                "120544",
                "Ольга_М",
                "2013-11-12T14:16:00+00:00",
                "Заказала через Посылкин 24 октября",
                signature="Москва, ЮЗАО",
                author_url="https://forum.example.ru/index.php?showuser=318",
            ),
            Golden(
                1,
                "120561",
                "Посылкин_Поддержка",
                "2013-11-12T15:02:00+00:00",
                "Ольга, извините за ожидание.",
                quoted=[("Ольга_М", "120544")],
                reply_to="120544",
            ),
        ],
        next_url="https://forum.example.ru/index.php?showtopic=9120&page=2",
    ),
    # hand-written: schema.org microdata on an unknown engine → generic's microdata path
    "microdata_forum_ru.html": Page(
        "https://coffee.example.ru/topics/77",
        "generic",
        3,
        None,
        "Кофейня Зерно закрывается на Арбате?",
        [
            Golden(
                0,
                "https://coffee.example.ru/topics/77#t-77",
                "kofeman",
                "2024-05-06T09:30:00+03:00",
                "Проходил мимо Зерна на Арбате",
                likes=3,
                author_url="https://coffee.example.ru/users/kofeman",
            ),
            Golden(
                1,
                "https://coffee.example.ru/topics/77#c-1201",
                "Марина",
                "2024-05-06T11:05:00+03:00",
                "Переезжают в соседний дом",
                quoted=[(None, None)],
                signature="Пью только фильтр",
            ),
            Golden(
                2,
                "https://coffee.example.ru/topics/77#c-1207",
                "Гость",
                "2024-05-07T08:00:00+03:00",
                "Жаль, лучший раф в районе был.",
                likes=1,
            ),
        ],
    ),
}


def _load(name: str) -> str:
    return decode_html((PAGES / name).read_bytes())[0]


def _parse(name: str):
    case = CASES[name]
    return parse_page(_load(name), case.url, ctx=ParseContext(now=GOLDEN_NOW, tz=case.tz))


@pytest.mark.parametrize("name", sorted(CASES))
def test_detected_as_its_engine(name):
    assert detect_engine(_load(name)) == CASES[name].engine


@pytest.mark.parametrize("name", sorted(CASES))
def test_thread_fields_and_post_count(name):
    case, res = CASES[name], _parse(name)
    assert len(res.items) == case.posts
    assert res.thread_id == case.thread_id
    assert res.thread_title == case.title
    assert res.next_url == case.next_url
    ids = [i.post_id for i in res.items]
    assert len(set(ids)) == len(ids)
    for it in res.items:
        assert it.posted_at, it.post_id  # every post dated, tz-aware ISO
        assert datetime.fromisoformat(it.posted_at).tzinfo is not None
        assert it.author and it.text
        assert it.thread_title == case.title


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_posts(name):
    res = _parse(name)
    for g in CASES[name].golden:
        it = res.items[g.idx]
        assert (it.post_id, it.author) == (g.post_id, g.author)
        assert it.posted_at == g.posted_at, it.posted_at_raw
        assert it.text.startswith(g.text_start), it.text[:80]
        assert [(q["author"], q["post_id"]) for q in it.quoted] == g.quoted
        for q in it.quoted:  # quoted words are not the author's own
            assert q["text"] and q["text"][:30] not in it.text
        if g.signature:
            assert it.signature and it.signature.startswith(g.signature)
            assert g.signature not in it.text
        else:
            assert not it.signature
        assert it.reply_to == g.reply_to
        assert it.likes == g.likes
        if g.author_url:
            assert it.author_url == g.author_url


def test_vb5_ad_markup_and_quote_kept_out_of_text():
    res = _parse("vb5_thread.html")
    first, third = res.items[0], res.items[2]
    assert "googletag" not in first.text and "Widgets Magazine" not in first.text
    assert third.quoted[0]["text"].startswith("Episode 1\n\nFour-in-one.")
    assert third.url.endswith("727744-isekai-quartet-discussion-thread?p=727761#post727761")


def test_phpbb_board_zone_only_when_stated():
    html = _load("phpbb32_subsilver_viewtopic.html")
    url = CASES["phpbb32_subsilver_viewtopic.html"].url
    assert parse_page(html, url, ctx=ParseContext(tz="Europe/Moscow")).items[0].posted_at == "2018-09-07T07:08:00-06:00"
    unstated = html.replace("All times are", "Times")
    assert (
        parse_page(unstated, url, ctx=ParseContext(tz="Europe/Moscow")).items[0].posted_at
        == "2018-09-07T07:08:00+03:00"
    )


def test_discourse_html_and_json_parse_through_one_engine():
    html = parse_page(
        _load("discourse_crawler_ru.html"), "https://talk.example.ru/t/mobiline-double-charge/321", engine="discourse"
    )
    js = parse_page(
        (PAGES / "discourse_topic.json").read_text(),
        "https://talk.example.ru/t/mobiline-double-charge/321.json",
        engine="discourse",
    )
    assert html.thread_url == js.thread_url == "https://talk.example.ru/t/mobiline-double-charge/321"
    assert html.items[1].text == js.items[1].text == "Анна, вернём в течение 3 дней, напишите номер в личку."
    assert html.items[0].url == "https://talk.example.ru/t/mobiline-double-charge/321/1"


def test_microdata_nested_comments_do_not_leak_into_the_topic_post():
    it = _parse("microdata_forum_ru.html").items[0]
    assert "Переезжают" not in it.text and "Жаль" not in it.text
    assert it.thread_url == "https://coffee.example.ru/topics/77"


def test_engines_are_not_confused(shared_data):
    """Every fixture and real page is detected as its own engine; pages of no engine stay generic."""
    own = {name: case.engine for name, case in CASES.items()}
    own.update({"ipb4_topic.html": "ipb", "xf2_thread.html": "xenforo", "telegram_channel.html": "telegram"})
    got = {name: detect_engine(_load(name)) for name in own}
    assert got == own
    real = {
        "vbulletin/nettally_vBulletin3.html": "vbulletin",
        "vbulletin/nettally_vBulletin4.html": "vbulletin",
        "phpbb2/ptforum_phpbb2_viewtopic_t805.html": "phpbb",
        "phpbb3/nettally_phpBB.html": "phpbb",
        "smf2/ptforum_smf2_topic_38573.html": "smf",
        "xenforo/nettally_Xenforo1_sufficientvelocity.html": "xenforo",
        "nodebb/nettally_NodeBB.html": "nodebb",
    }
    for f, engine in real.items():
        assert detect_engine(decode_html((shared_data / "forum_pages" / f).read_bytes())[0]) == engine, f
    plain = [
        "<html><head><title>Новости</title></head><body><article><h1>Банк снизил ставки</h1>"
        "<p>Ласточка Банк снизил ставки по вкладам.</p></article></body></html>",
        "<html><body><div class='post'><p>Просто блог: пост о кофе и выпечке, без форума.</p></div></body></html>",
    ]
    for html in plain:
        assert detect_engine(html) == "generic"


def test_generic_without_microdata_still_uses_main_text():
    html = (
        "<html><head><title>Ласточка Банк снизил ставки</title></head><body><article><h1>Ласточка Банк снизил ставки</h1>"
        + "<p>Ласточка Банк с понедельника снижает ставки по вкладам на полпроцента, сообщила пресс-служба банка. "
        "Клиенты, открывшие вклад до этой даты, сохранят прежние условия до конца срока.</p>"
        * 3
        + "</article></body></html>"
    )
    res = parse_page(html, "https://news.example.ru/a/1", engine="generic")
    assert len(res.items) == 1 and "Ласточка Банк с понедельника снижает ставки" in res.items[0].text
    assert res.items[0].post_id.startswith("u")  # one page-level item keyed by its URL, not microdata posts


def test_every_parser_survives_every_other_engines_page():
    """Forcing the wrong engine yields few or no posts, never a crash."""
    from crawlers.parsers import ENGINES, ParseError

    for name in CASES:
        html = _load(name)
        for engine in ENGINES:
            if engine == "comments":  # needs per-source selectors
                continue
            try:
                res = parse_page(html, "https://x.example/t/1", engine=engine)
            except ParseError:
                continue
            assert all(it.post_id and it.url for it in res.items), (name, engine)


def test_cli_parses_saved_files_with_the_urls_they_state(tmp_path):
    """`brandmon parse FILE` without --url: ids come from the page's canonical link or its own permalinks."""
    import json

    from typer.testing import CliRunner

    from brandmon.cli import app

    runner = CliRunner()
    expect = {
        "xf21_thread.html": ("8276", "https://xenforo.com/community/threads/a-dark-theme-option.8276/post-114253"),
        "ipb47_topic.html": (
            "34923",
            "https://forum.armbian.com/topic/34923-csc-armbian-for-rk322x-tv-box-boards/?do=findComment&comment=92583",
        ),
        "phpbb33_prosilver_viewtopic.html": ("25574", "https://forums.nesdev.org/viewtopic.php?p=297120#p297120"),
    }
    for name, (tid, first_url) in expect.items():
        saved = tmp_path / name
        saved.write_bytes((PAGES / name).read_bytes())
        r = runner.invoke(app, ["parse", str(saved)])
        assert r.exit_code == 0, r.output
        posts = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        assert len(posts) == CASES[name].posts
        assert (posts[0]["thread_id"], posts[0]["url"]) == (tid, first_url), name


def test_xenforo2_quotes_without_attributes_name_author_and_post_from_the_title():
    """XF 2 renders [QUOTE] without data-quote/data-source when the source is unknown or stripped; the title
    link still says who and where (markup as XF 2's bb_code_tag_quote template renders it)."""
    html = """<html><body><div class="p-body-pageContent"><article class="message message--post js-post"
      data-author="Ольга" data-content="post-501" id="js-post-501">
      <div class="message-userContent"><article class="message-body js-selectToQuote"><div class="bbWrapper">
        <blockquote class="bbCodeBlock bbCodeBlock--expandable bbCodeBlock--quote js-expandWatch">
          <div class="bbCodeBlock-title"><a href="/goto/post?id=499" class="bbCodeBlock-sourceJump"
            data-xf-click="attribution" data-content-selector="#post-499">Дмитрий_К сказал(а):</a></div>
          <div class="bbCodeBlock-content"><div class="bbCodeBlock-expandContent js-expandContent">Посылкин опять потерял посылку</div><div class="bbCodeBlock-expandLink js-expandLink"><a role="button">Нажмите для
            раскрытия...</a></div></div>
        </blockquote>У меня тоже, уже третья неделя.
        <blockquote class="bbCodeBlock bbCodeBlock--quote"><div class="bbCodeBlock-title">Цитата:</div>
          <div class="bbCodeBlock-content">без автора</div></blockquote>
      </div></article></div>
      <time class="u-dt" datetime="2024-05-03T10:15:00+0300" data-time="1714720500">3 мая 2024</time>
    </article></div></body></html>"""
    it = parse_page(html, "https://forum.example.ru/threads/posylkin.77/", engine="xenforo").items[0]
    assert it.quoted == [
        {"author": "Дмитрий_К", "post_id": "499", "text": "Посылкин опять потерял посылку"},
        {"author": None, "post_id": None, "text": "без автора"},
    ]
    assert it.text == "У меня тоже, уже третья неделя." and it.reply_to == "499"
    assert it.posted_at == "2024-05-03T10:15:00+03:00"


def test_vb5_channel_listing_gives_thread_links():
    """vB5 channel (forum) page rows, with the class names vB5 scrapers in public repositories select on
    (tbody.topic-list, td.cell-topic, a.topic-title.js-topic-title, div.topic-info)."""
    html = """<html><head><meta name="generator" content="vBulletin 5.6.4"></head><body>
    <table class="topic-list-container"><tbody class="topic-list ">
    <tr class=" topic-item " id="topic-8801" data-node-id="8801"><td class="cell-topic js-cell-topic">
      <a href="https://forum.example.ru/forum/dostavka/8801-posylkin-poteryal-posylku" class="topic-title js-topic-title">Посылкин потерял посылку</a>
      <div class="topic-info h-clear h-hide-on-small h-hide-on-narrow-column">Автор <a href="/member/5-olga">olga</a>, <span class="date">03.05.2024</span></div>
    </td><td class="cell-count"><div class="posts-count">12 ответов</div></td></tr>
    <tr class=" topic-item " id="topic-8790" data-node-id="8790"><td class="cell-topic js-cell-topic">
      <a href="https://forum.example.ru/forum/dostavka/8790-kurer-ne-priekhal/page3" class="topic-title js-topic-title">Курьер не приехал</a>
    </td><td class="cell-count"><div class="posts-count">1 ответ</div></td></tr>
    </tbody></table></body></html>"""
    res = parse_page(html, "https://forum.example.ru/forum/dostavka", engine="vbulletin")
    assert res.items == []
    assert [(t.thread_id, t.url, t.title, t.replies) for t in res.thread_links] == [
        (
            "8801",
            "https://forum.example.ru/forum/dostavka/8801-posylkin-poteryal-posylku",
            "Посылкин потерял посылку",
            12,
        ),
        ("8790", "https://forum.example.ru/forum/dostavka/8790-kurer-ne-priekhal", "Курьер не приехал", 1),
    ]


def test_mybb_real_board_index_gives_board_links():
    """A real MyBB 1.8 board index (cs-joke.pl, search-engine-friendly URLs): no posts, every forum linked."""
    html = _load("mybb18_index_real.html")
    assert detect_engine(html) == "mybb"
    res = parse_page(html, "http://cs-joke.pl/index.php")
    assert res.items == [] and res.thread_links == []
    assert res.board_links == [f"http://cs-joke.pl/forum-{n}.html" for n in (1, 2, 5, 6, 4)]
    # a thread's own SEO URL gives its id and canonical URL
    from crawlers.parsers.mybb import _thread

    assert _thread(None, "http://cs-joke.pl/thread-24734-page-3.html") == (
        "24734",
        "http://cs-joke.pl/thread-24734.html",
    )


def test_real_pages_titles_and_rating_addon(shared_data):
    """phpBB 2 titles from the .maintitle cell; XenForo 1 "Dark Post Rating" counts as likes with the breakdown."""
    pages = shared_data / "forum_pages"
    p2 = parse_page(
        decode_html((pages / "phpbb2/ptforum_phpbb2_viewtopic_t805.html").read_bytes())[0],
        "https://forum.example.org/viewtopic.php?t=805",
    )
    assert p2.thread_title == "back in water tomorrow"
    xf1 = parse_page(
        decode_html((pages / "xenforo/nettally_Xenforo1_sufficientvelocity.html").read_bytes())[0],
        "https://forums.sufficientvelocity.com/threads/renascence-a-homura-quest.1234/page-54",
    )
    it = next(i for i in xf1.items if i.post_id == "2146297")
    assert it.likes == 4 and it.extra == {"reactions": {"Like": 3, "Hugs": 1}}
    assert sum(1 for i in xf1.items if i.likes) >= 10


def test_generic_article_with_microdata_comments_keeps_the_article():
    """Blog/news themes mark up comments (schema.org Comment, as GeneratePress-style themes do) but not the
    article: the article's main text comes first, then each comment as its own item."""
    para = (
        "<p>Ласточка Банк с понедельника снижает ставки по вкладам на полпроцента, сообщила пресс-служба банка. "
        "Клиенты, открывшие вклад до этой даты, сохранят прежние условия до конца срока.</p>"
    )
    html = f"""<html><head><title>Ласточка Банк снизил ставки — Новости</title></head><body>
    <article class="post"><h1 class="entry-title">Ласточка Банк снизил ставки</h1>
      <div class="entry-content">{para * 3}</div></article>
    <div class="comments-area"><ol class="comment-list">
      <li id="comment-51" class="comment"><article class="comment-body" id="div-comment-51" itemprop="comment" itemscope itemtype="https://schema.org/Comment">
        <footer class="comment-meta"><div class="comment-author-info"><cite itemprop="name" class="fn">Игорь</cite>
          <div class="entry-meta comment-metadata"><a href="https://news.example.ru/a/1#comment-51"><time datetime="2024-05-06T10:00:00+03:00" itemprop="datePublished">6 мая 2024 в 10:00</time></a></div></div></footer>
        <div class="comment-content" itemprop="text"><p>Опять Ласточка режет проценты, переведу вклад.</p></div>
      </article></li>
    </ol></div></body></html>"""
    res = parse_page(html, "https://news.example.ru/a/1", engine="generic")
    assert len(res.items) == 2
    article, comment = res.items
    assert "Ласточка Банк с понедельника снижает ставки" in article.text and "переведу вклад" not in article.text
    assert comment.text == "Опять Ласточка режет проценты, переведу вклад."
    assert (comment.post_id, comment.posted_at) == (
        "https://news.example.ru/a/1#div-comment-51",
        "2024-05-06T10:00:00+03:00",
    )
    assert detect_engine(html) == "generic"


def test_discourse_html_listing_gives_thread_links():
    """The crawler view of a category or /latest lists topics as tr.topic-list-item rows (markup as on the saved
    discourse.threejs.org page's topic table)."""
    html = """<html><head><meta name="generator" content="Discourse 3.2.1 - https://github.com/discourse/discourse">
    <link rel="next" href="/c/svyaz/5?page=1"></head><body class="crawler"><div id="main-outlet" class="wrap">
    <div class="topic-list-container" itemscope="" itemtype="http://schema.org/ItemList"><table class="topic-list">
    <tbody>
    <tr id="topic-list-item-321" class="topic-list-item">
    <td class="main-link" itemprop="itemListElement" itemscope="" itemtype="http://schema.org/ListItem"><span class="link-top-line"> <a
    href="https://talk.example.ru/t/mobiline-double-charge/321" class="title raw-link raw-topic-link" itemprop="url">Мобилайн: двойное списание абонентки</a> </span></td>
    <td class="replies"><span class="posts" title="сообщения">14</span></td></tr>
    <tr id="topic-list-item-322" class="topic-list-item">
    <td class="main-link"><span class="link-top-line"><a href="/t/zerno-raf/322" class="title raw-link raw-topic-link" itemprop="url">Кофейня Зерно: раф стал меньше</a></span></td>
    <td class="replies"><span class="posts" title="сообщения">2</span></td></tr>
    </tbody></table></div></div></body></html>"""
    assert detect_engine(html) == "discourse"
    res = parse_page(html, "https://talk.example.ru/c/svyaz/5")
    assert res.items == []
    assert [(t.thread_id, t.url, t.title, t.replies) for t in res.thread_links] == [
        ("321", "https://talk.example.ru/t/mobiline-double-charge/321", "Мобилайн: двойное списание абонентки", 14),
        ("322", "https://talk.example.ru/t/zerno-raf/322", "Кофейня Зерно: раф стал меньше", 2),
    ]
    assert res.next_url == "https://talk.example.ru/c/svyaz/5?page=1"


def test_parse_any_falls_back_to_generic_when_the_detected_engine_finds_nothing():
    """A news article that links to a phpBB board scores as phpBB; with no posts or links of that engine on it,
    `brandmon parse` (parse_any) reads it as an unknown page instead of printing nothing."""
    para = (
        "<p>Пользователи форума phpbb-клуба жалуются: Посылкин третью неделю не доставляет посылки в Заречный, "
        "а горячая линия не отвечает. Компания обещает компенсации.</p>"
    )
    html = (
        f"<html><head><title>Посылкин задерживает посылки</title></head><body><article><h1>Посылкин задерживает"
        f" посылки</h1>{para * 3}<p>Обсуждение: <a href='https://forum.example.ru/viewtopic.php?t=5'>тема на "
        f"форуме</a>.</p></article></body></html>"
    )
    from crawlers.parsers import parse_any

    assert detect_engine(html) == "phpbb"
    assert parse_page(html, "https://news.example.ru/a/2").items == []  # crawls: an empty page stays empty
    used, res = parse_any(html, "https://news.example.ru/a/2")
    assert used == "generic"
    assert len(res.items) == 1 and "Посылкин третью неделю не доставляет" in res.items[0].text
    assert (
        parse_any(_load("phpbb33_prosilver_viewtopic.html"), "https://forums.nesdev.org/viewtopic.php?t=25574")[0]
        == "phpbb"
    )


def test_every_page_fixture_states_its_origin():
    """Each saved or built page under tests/crawlers/pages has a row in SOURCES.md (origin, real or template)."""
    sources = (PAGES / "SOURCES.md").read_text(encoding="utf-8")
    for f in sorted(PAGES.glob("*.html")):
        assert f"`{f.name}`" in sources, f.name
        assert f.stat().st_size < 60_000, f.name


def test_a_day_first_board_reads_its_ambiguous_dates_day_first():
    """vBulletin reads "05-04-2013" month first (its US default); on a board whose other post says "25-03-2013",
    the same format is day first, so the page's ambiguous dates are read that way."""
    from crawlers.parsers import parse_any, parse_page

    def post(pid: int, date: str) -> str:
        return (
            f'<li class="postcontainer" id="post_{pid}"><div class="posthead"><span class="date">{date}</span></div>'
            f'<a class="username" href="member.php?u=1">Пётр</a>'
            f'<div class="postcontent" id="post_message_{pid}">Посылкин опять задержал заказ {pid}</div></li>'
        )

    html = (
        '<html><head><script src="clientscript/vbulletin_core.js"></script><title>Задержки - Форум</title></head>'
        '<body><ol id="posts">'
        + post(101, "25-03-2013, 10:00")
        + post(102, "05-04-2013, 11:00")
        + "</ol></body></html>"
    )
    ctx = ParseContext(tz="UTC")
    got = [it.posted_at for it in parse_page(html, "http://f.test/showthread.php?t=7", "vbulletin", ctx).items]
    assert got == ["2013-03-25T10:00:00+00:00", "2013-04-05T11:00:00+00:00"]
    assert [it.posted_at for it in parse_any(html, "http://f.test/showthread.php?t=7", ctx)[1].items] == got
    # without the unambiguous post, the page keeps vBulletin's month-first reading
    alone = html.replace(post(101, "25-03-2013, 10:00"), "")
    assert [it.posted_at for it in parse_page(alone, "http://f.test/showthread.php?t=7", "vbulletin", ctx).items] == [
        "2013-05-04T11:00:00+00:00"
    ]


def test_torrentpier_quote_is_kept_out_of_the_text():
    """TorrentPier's [quote="Name"] markup (div.q-wrap > div.q[head]), with the quoted post's id in u.q-post."""

    def post(pid: int, nick: str, body: str) -> str:
        return (
            f'<tbody id="post_{pid}"><tr><td class="poster_info"><p class="nick">{nick}</p></td>'
            f'<td class="message"><p class="post-time"><a class="p-link small" href="viewtopic.php?p={pid}#{pid}">'
            f'01-Авг-08 10:{pid % 60:02d}</a></p><div class="post_body">{body}</div></td></tr>'
            f'<tr><td class="poster_btn"><a href="profile.php?mode=viewprofile&u=5">[Профиль]</a></td></tr></tbody>'
        )

    html = (
        '<html><head><title>Раздача :: RuTracker.org</title></head><body><div id="topic_main">'
        '<table class="topic">'
        + post(1001, "Раздающий", "Посылкин привёз диск за неделю.")
        + post(
            1002,
            "Критик",
            '<div class="q-wrap"><div class="q" head="Раздающий писал(а):"><u class="q-post">1001'
            "</u>Посылкин привёз диск за неделю.</div></div>А мне Посылкин так и не привёз.",
        )
        + "</table></div></body></html>"
    )
    engine, res = parse_any(html, "https://rutracker.org/forum/viewtopic.php?t=77", ParseContext(tz="Europe/Moscow"))
    assert engine == "phpbb" and [it.author for it in res.items] == ["Раздающий", "Критик"]
    reply = res.items[1]
    assert reply.text == "А мне Посылкин так и не привёз."
    assert reply.quoted == [{"author": "Раздающий", "post_id": "1001", "text": "Посылкин привёз диск за неделю."}]
    assert reply.reply_to == "1001" and reply.posted_at == "2008-08-01T10:42:00+04:00"


# phpBB 2 subSilver's post row, as its viewtopic_body.tpl writes it: the profile column's details are a
# span.postdetails too, before the post header's "Posted: …" one; a MOD prints a custom title under the name
PHPBB2_ROWS = """<html><head><title>Board :: View topic - Fudge</title></head><body>
<table class="forumline"><tr><th class="thLeft">Author</th><th class="thRight">Message</th></tr>{rows}</table>
<p>Powered by phpBB 2.0.3 &copy; 2001 phpBB Group</p></body></html>"""
PHPBB2_ROW = """<tr><td width="150" class="row1"><span class="name"><a name="{pid}"></a><b>{name}</b>{title}</span><br />
<span class="postdetails">Adventurer<br /><br />Joined: 25 Dec 2002<br />Posts: 43<br /></span></td>
<td class="row1" width="100%"><table width="100%"><tr><td width="100%"><a href="viewtopic.php?p={pid}#{pid}">
<img src="templates/subSilver/images/icon_minipost.gif" alt="Post" /></a><span class="postdetails">Posted: {date}
<span class="gen">&nbsp;</span>&nbsp; &nbsp;Post subject: Fudge</span></td>
<td><a href="posting.php?mode=quote&amp;p={pid}"><img alt="Reply with quote" /></a></td></tr>
<tr><td colspan="2"><hr /></td></tr><tr><td colspan="2"><span class="postbody">{text}</span></td></tr></table></td></tr>
<tr><td class="row1"><a href="#top">Back to top</a></td><td class="row1"><a href="profile.php?mode=viewprofile&amp;u=5">
<img alt="View users profile" /></a></td></tr>"""


def test_phpbb2_post_date_is_the_post_headers_not_the_profile_columns():
    rows = PHPBB2_ROW.format(
        pid=33,
        name="Melindeth",
        title="<br /><b><i>Melindeth AleLover</i></b>",
        date="Tue Sep 17, 2002 8:14 am",
        text="Work Damn It",
    ) + PHPBB2_ROW.format(pid=64, name="Hoss", title="", date="Fri Oct 11, 2002 11:30 am", text="It works now.")
    res = parse_page(
        PHPBB2_ROWS.format(rows=rows),
        "https://f.example/phpBB2/viewtopic.php?t=5",
        "phpbb",
        ParseContext(source="t", tz="UTC"),
    )
    assert [(p.post_id, p.author, p.posted_at, p.text) for p in res.items] == [
        ("33", "Melindeth", "2002-09-17T08:14:00+00:00", "Work Damn It"),
        ("64", "Hoss", "2002-10-11T11:30:00+00:00", "It works now."),
    ]
