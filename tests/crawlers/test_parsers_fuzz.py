"""Hostile and broken input never makes a parser raise anything but a clear ParseError: every engine parser and
the universal extractor on hand-made hostile pages and on real pages cut and mangled by a seeded generator."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from crawlers.parsers import ENGINES, ParseContext, ParseError, parse_any, parse_page
from crawlers.parsers.universal import extract

PAGES = Path(__file__).parent / "pages"
URL = "https://forum.example.ru/t/1"
_POST = (
    "<div class='post' id='p{n}'><a href='/members/u{n}/' class='username'>user{n}</a>"
    "<time datetime='2024-05-0{d}T10:00:00+03:00'>5 мая 2024</time><div class='content'>{body}</div></div>"
)

HOSTILE = {
    "empty": "",
    "blank": "   \n\t ",
    "nul bytes": "<html>\x00<body>\x00<div class='post'>\x00</div></body></html>",
    "binary": bytes(range(256)).decode("latin-1") * 20,
    "not html": "just some words, no markup at all " * 50,
    "unclosed everything": "<html><body>" + "<div class='post'><a href='/u/1'>x<time>" * 300,
    "deep nesting": "<div class='comment'>" * 5000 + "12.03.2021 <a href='/user/a'>a</a> text" + "</div>" * 10,
    "wide": "<body>" + "".join(_POST.format(n=n, d=n % 9 + 1, body="ok") for n in range(3000)) + "</body>",
    "script in posts": "<body>"
    + "".join(_POST.format(n=n, d=n + 1, body="<script>alert(1)</script><b>hi</b>") for n in range(3))
    + "</body>",
    "broken json-ld": '<script type=\'application/ld+json\'>{"@type": "DiscussionForumPosting", "text": </script>',
    "json-ld wrong shapes": "<script type='application/ld+json'>"
    + json.dumps(
        [
            {"@type": ["Comment", 5], "author": [None, 3], "text": {"a": 1}, "comment": "x"},
            {
                "@type": "DiscussionForumPosting",
                "author": {"name": None},
                "text": "hi",
                "datePublished": 99999999999999,
                "comment": [{"@type": "Comment", "text": None}, 7, None],
            },
            {"@graph": {"@graph": {"@graph": []}}},
        ]
    )
    + "</script>",
    "deep json-ld": "<script type='application/ld+json'>" + "[" * 100000 + "]" * 100000 + "</script>",
    "deep state blob": "<script>window.__STATE__ = " + '{"a":' * 50000 + "1" + "}" * 50000 + ";</script>",
    "unterminated state": '<script>window.__INITIAL_STATE__ = {"comments": [{"text": "a", "author": </script>',
    "state of wrong types": "<script>var s = "
    + json.dumps(
        {
            "comments": [
                {"text": ["x"], "author": {"name": ["a"]}, "created_at": {}},
                {"text": "ok", "author": 5, "date": None},
                {"body": "hi", "user": {"login": None}, "replies": {"data": "x"}, "children": [1, "a", None]},
            ]
        }
    )
    + "</script>",
    "dates out of range": "<body>"
    + "".join(
        f"<div class='comment'><a href='/user/{n}'>u{n}</a><time datetime='{d}'>{d}</time><p>text {n}</p></div>"
        for n, d in enumerate(["99.99.9999", "0000-00-00T99:99", "31 февраля 99999", "1e400", "-1"])
    )
    + "</body>",
    "hostile attributes": "<body>"
    + "".join(
        f"<div class='post' id='p{n}' data-post-id='\"><script>' title='{'x' * 10000}'><a href='javascript:alert(1)'"
        f" class='author'>\u202e{n}</a><span class='date'>вчера</span><div>body {n}</div></div>"
        for n in range(4)
    ),
    "pagination loops": "<a rel='next' href='#'>next</a><a class='next' href='javascript:void(0)'>»</a>"
    "<b>1</b><a href='?page=2'>2</a><a href='?page=2'>2</a>",
    "xml declaration": "<?xml version='1.0' encoding='koi8-r'?><html><body><p>x</p></body></html>",
    # one post, which no record set finds: its row or the two rules around its byline
    "one post row, unclosed": "<table><tr><td><b>\u202e<script>x</script>" + "<font>" * 200 + "<td>posted 99-99-2002"
    " <a href='?action=getbio&UserName=%ZZ'><img alt='Reply w/Quote'></a><hr>" + "words " * 20 + "<td><tr>" * 50,
    "one post between rules, broken": "<hr><i>Posted by <b>x on 31-02-99999 99:99 AM:<p>" + "<hr>" * 2 + "<p>a" * 300,
    # a status and its replies, a poster's column and signatures behind rules, all unclosed
    "status and replies, unclosed": "<div class='main-tweet'><div class='timeline-item'><a class='fullname'>"
    + "\u202e" * 50
    + "<span title='1/1/2020, 1:00:00'>x</span><div class='replies'>"
    + "<div class='timeline-item'><a class='fullname'>a<span title='2/1/2020, 1:00:00'>y</span><div>text" * 40,
    "ruled signatures and panels": "<table>"
    + "<tr><td><span class='name'><b>x</b><i>y</i><span>Joined: 99 Foo 2002<br>Posts: -1<td><span>Posted: 31.02.2002"
    "<tr><td><span class='postbody'><br><hr><hr><hr><div><table><tr><td>sig" * 30,
}


def _ctx() -> ParseContext:
    return ParseContext(source="fuzz")


# "wide" (3,000 posts through every parser) takes seconds; the slow tier runs it
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "wide" else n for n in sorted(HOSTILE)]
)
def test_hostile_pages_never_raise(name):
    html = HOSTILE[name]
    for engine in [e for e in ENGINES if e != "comments"] + ["auto"]:
        try:
            res = parse_page(html, URL, engine, _ctx())
        except ParseError:
            continue
        for it in res.items:
            assert isinstance(it.text, str)
    try:
        parse_any(html, URL, _ctx())
    except ParseError:
        pass
    ext = extract(html, URL, _ctx())  # the universal extractor itself: never a ParseError either
    assert ext.method in ("microdata", "json-ld", "dom", "state", "main-text", "none")


def test_hostile_text_stays_text():
    """Markup inside a post is never passed through as markup: scripts are dropped, tags become their text."""
    res = extract(HOSTILE["script in posts"], URL, _ctx()).result
    assert [it.author for it in res.items] == ["user0", "user1", "user2"]
    assert all(it.text == "hi" for it in res.items)


def _mangle(html: str, rng: random.Random) -> str:
    """One random corruption: a cut, a dropped or duplicated span, a lost '>' or quote, or tags swapped."""
    n = len(html)
    a, b = sorted(rng.randrange(n) for _ in range(2))
    kind = rng.randrange(6)
    if kind == 0:
        return html[:a]
    if kind == 1:
        return html[:a] + html[b:]
    if kind == 2:
        return html[:b] + html[a:b] * 3 + html[b:]
    if kind == 3:
        return html.replace(">", "", rng.randrange(1, 50))
    if kind == 4:
        return html.replace('"', "", rng.randrange(1, 50))
    return html.replace("</div>", "</td>", rng.randrange(1, 30)).replace("<div", "<table", rng.randrange(1, 30))


# one page per engine family stays in the fast tier; the other pages (the slowest to mangle and parse) run with the
# slow tier
FAST_FUZZ_PAGES = {
    "discourse_v2_ru.html",
    "ipb34_topic_ru.html",
    "microdata_forum_ru.html",
    "mybb18_showthread_ru.html",
    "phpbb33_prosilver_viewtopic.html",
    "smf21_topic_ru.html",
    "telegram_channel.html",
    "xf2_thread.html",
}


@pytest.mark.parametrize(
    "page",
    [
        p if p in FAST_FUZZ_PAGES else pytest.param(p, marks=pytest.mark.slow)
        for p in sorted(p.name for p in PAGES.glob("*.html"))
    ],
)
def test_mangled_real_pages_never_raise(page):
    html = (PAGES / page).read_text(encoding="utf-8", errors="replace")
    rng = random.Random(page)
    for _ in range(12):
        bad = _mangle(html, rng)
        ext = extract(bad, URL, _ctx())
        assert all(isinstance(it.author, (str, type(None))) for it in ext.result.items)
        try:
            parse_any(bad, URL, _ctx())
        except ParseError:
            pass


ONE_POST_PAGES = [
    "<html><body><table><tr><td><b>Author</b></td><td>Topic</td></tr><tr><td><b>turtle</b></td><td>"
    "<font size=1>posted 01-07-2002 06:46 PM <a href='/u.cgi?action=getbio&UserName=turtle'>p</a>"
    " <a href='/p.cgi?action=reply&replyto=0'><img alt='Reply w/Quote'></a></font><hr>"
    + "im new here and would like to know where i can find a how-to. " * 3
    + "</td></tr></table></body></html>",
    "<html><body><p><a href='/forums/'>Board</a></p><hr><i>Posted by Dolby on 09-12-2001 02:31 AM:</i>"
    "<p><b>Title</b></p><p>" + "Our prayers go out to all the victims of today. " * 3 + "</p><hr><p>All times are"
    " GMT.</p></body></html>",
    # a guest's view: no buttons, no profile link; the poster's cell beside the words, its meta set like the date
    "<html><body><table><tr><td><b>turtle</b><br>Registered: 2011-05-02<br>Posts: 41</td><td>"
    "<font size=1 color=red>posted 01-07-2002 06:46 PM</font><hr>"
    + "im new here and would like to know where i can find a how-to. " * 3
    + "<p><font size=1 color=red>IP: <a href='?action=getip'>Logged</a></font></p></td></tr></table></body></html>",
    # a board of div blocks: a post counter and a poster panel, a signature set off by a rule
    "<html><body><div class='topicbox'><div class='hd'><span>#1</span> <span>04.03.2012 18:22</span></div>"
    "<div class='bx'><div class='lft'><strong>mike_k</strong><br>Сообщений: 41</div><div class='rgt'><p>"
    + "Since the firmware update my router drops Wi-Fi every evening. " * 2
    + "</p><div><hr>my signature</div></div></div></div></body></html>",
]


@pytest.mark.parametrize("n", range(len(ONE_POST_PAGES)))
def test_mangled_one_post_pages_never_raise(n):
    """The single-record paths (a post's row, a byline between two rules) on cut and mangled copies."""
    html = ONE_POST_PAGES[n]
    assert len([it for it in extract(html, URL, _ctx()).result.items if it.extra.get("item_type") != "article"]) == 1
    rng = random.Random(n)
    for _ in range(60):
        ext = extract(_mangle(html, rng), URL, _ctx())
        assert all(isinstance(it.text, str) for it in ext.result.items)
