"""The universal extractor: records, fields, nesting, embedded data and pagination on inline pages shaped as
real engines write them, and agreement with the engine parsers on the saved pages of known engines."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crawlers.encoding import decode_html
from crawlers.parsers import ParseContext, crosscheck, parse_page
from crawlers.parsers.base import saved_page_url
from crawlers.parsers.universal import extract

PAGES = Path(__file__).parent / "pages"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "forum_pages"


def _ctx(**kw) -> ParseContext:
    return ParseContext(source="t", **kw)


def _posts(res):
    return [it for it in res.items if it.extra.get("item_type") != "article"]


# a WordPress-style threaded comment list under an article: nesting gives depth and reply_to
BLOG = """<html><head><title>Обзор тарифа — Блог</title></head><body>
<article class="post-12 post type-post"><h1 class="entry-title">Обзор тарифа Мобилайн</h1>
<div class="entry-content"><p>{para}</p><p>{para}</p><p>{para}</p></div></article>
<div id="comments" class="comments-area"><h2>3 комментария</h2><ol class="comment-list">
 <li id="comment-101" class="comment even thread-even depth-1">
  <article id="div-comment-101" class="comment-body">
   <footer class="comment-meta"><div class="comment-author vcard"><b class="fn"><a href="https://ivan.example/" rel="ugc">Иван</a></b> <span class="says">пишет:</span></div>
    <div class="comment-metadata"><a href="https://blog.example/obzor/#comment-101"><time datetime="2024-05-06T10:00:00+03:00">6 мая 2024 в 10:00</time></a></div></footer>
   <div class="comment-content"><p>Мобилайн опять поднял цену, ухожу.</p></div>
   <div class="reply"><a class="comment-reply-link" href="#">Ответить</a></div>
  </article>
  <ol class="children">
   <li id="comment-102" class="comment odd alt depth-2">
    <article id="div-comment-102" class="comment-body">
     <footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Мария</b></div>
      <div class="comment-metadata"><a href="https://blog.example/obzor/#comment-102"><time datetime="2024-05-06T11:30:00+03:00">6 мая 2024 в 11:30</time></a></div></footer>
     <div class="comment-content"><blockquote><p>ухожу</p></blockquote><p>Куда, если не секрет?</p></div>
     <div class="reply"><a class="comment-reply-link" href="#">Ответить</a></div>
    </article>
   </li>
  </ol>
 </li>
 <li id="comment-103" class="comment even depth-1">
  <article id="div-comment-103" class="comment-body">
   <footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Олег</b></div>
    <div class="comment-metadata"><a href="https://blog.example/obzor/#comment-103"><time datetime="2024-05-07T09:00:00+03:00">7 мая 2024 в 09:00</time></a></div></footer>
   <div class="comment-content"><p>У меня всё работает.</p></div>
  </article>
 </li>
</ol></div></body></html>""".replace(
    "{para}",
    "Мобилайн с июня меняет тарифную линейку: абонентская плата растёт, "
    "а пакет минут остаётся прежним. Разбираемся, кому выгодно остаться. " * 2,
)


def test_threaded_comments_with_depth_reply_to_and_the_article_first():
    ext = extract(BLOG, "https://blog.example/obzor/", _ctx())
    assert ext.method == "dom"
    items = ext.result.items
    assert items[0].extra.get("item_type") == "article" and "тарифную линейку" in items[0].text
    posts = _posts(ext.result)
    assert [(p.author, p.post_id, p.reply_to, p.extra.get("depth")) for p in posts] == [
        ("Иван", "comment-101", None, None),
        ("Мария", "comment-102", "comment-101", 1),
        ("Олег", "comment-103", None, None),
    ]
    assert [p.text for p in posts] == [
        "Мобилайн опять поднял цену, ухожу.",
        "Куда, если не секрет?",
        "У меня всё работает.",
    ]
    assert posts[1].quoted == [{"author": None, "post_id": None, "text": "ухожу"}]
    assert posts[0].posted_at == "2024-05-06T10:00:00+03:00"
    assert posts[0].url == "https://blog.example/obzor/#comment-101"


# an imageboard thread: posts are siblings, the opening post styled differently, no profile links at all
BOARD = """<html><body><form id="delform"><div class="thread" id="thread-555">
<div class="post oppost" id="post-555"><div class="post-details"><span class="post-title">Тред про операторов</span>
 <span class="ananimas">Аноним</span> <span class="post-time">05/05/24 Вск 12:00:01</span>
 <a class="post-reflink" href="/b/res/555.html#555">№555</a></div>
 <blockquote class="post-message">Какой оператор сейчас лучше всего ловит за городом?</blockquote></div>
<div class="post reply" id="post-556"><div class="post-details"><span class="ananimas">Аноним</span>
 <span class="post-time">05/05/24 Вск 12:03:40</span> <a class="post-reflink" href="/b/res/555.html#556">№556</a></div>
 <blockquote class="post-message"><a class="post-reply-link" href="/b/res/555.html#555">&gt;&gt;555</a><br>Мобилайн, но только на даче.</blockquote></div>
<div class="post reply" id="post-557"><div class="post-details"><span class="ananimas">Аноним</span>
 <span class="post-time">05/05/24 Вск 12:10:12</span> <a class="post-reflink" href="/b/res/555.html#557">№557</a></div>
 <blockquote class="post-message">Связьком, без вариантов.</blockquote></div>
</div></form></body></html>"""


def test_imageboard_posts_are_records_without_profile_links():
    res = extract(BOARD, "https://2ch.example/b/res/555.html", _ctx()).result
    assert [(p.post_id, p.author) for p in res.items] == [
        ("post-555", "Аноним"),
        ("post-556", "Аноним"),
        ("post-557", "Аноним"),
    ]
    assert res.items[2].text == "Связьком, без вариантов."
    assert res.items[0].posted_at_raw.startswith("05/05/24")


def test_json_ld_discussion_posting_with_comments():
    data = {
        "@context": "https://schema.org",
        "@type": "DiscussionForumPosting",
        "headline": "Возврат денег",
        "author": {"@type": "Person", "name": "anna"},
        "datePublished": "2024-05-01T10:00:00+03:00",
        "text": "Жду возврат третью неделю.",
        "url": "https://q.example/t/1",
        "comment": [
            {
                "@type": "Comment",
                "author": {"name": "support"},
                "text": "Напишите номер заказа.",
                "datePublished": "2024-05-01T11:00:00+03:00",
                "comment": [{"@type": "Comment", "author": "anna", "text": "Написала."}],
            },
            {"@type": "Comment", "author": {"name": "petr"}, "text": "У меня так же."},
        ],
    }
    html = f"<html><body><script type='application/ld+json'>{json.dumps(data)}</script><p>x</p></body></html>"
    ext = extract(html, "https://q.example/t/1", _ctx())
    assert ext.method == "json-ld"
    assert [(p.author, p.text, p.extra.get("depth")) for p in ext.result.items] == [
        ("anna", "Жду возврат третью неделю.", None),
        ("support", "Напишите номер заказа.", 1),
        ("anna", "Написала.", 2),
        ("petr", "У меня так же.", 1),
    ]
    assert ext.result.items[2].reply_to == ext.result.items[1].post_id
    assert ext.result.items[3].reply_to == ext.result.items[0].post_id


def test_comments_in_a_json_state_blob():
    state = {
        "page": {
            "article": {"title": "t"},
            "comments": {
                "items": [
                    {
                        "id": 71,
                        "user": {"login": "kolya"},
                        "createdAt": "2024-05-02T09:00:00Z",
                        "body": "<p>Отличный <b>банк</b></p>",
                        "replies": [
                            {
                                "id": 72,
                                "user": {"login": "vera"},
                                "createdAt": "2024-05-02T09:05:00Z",
                                "body": "Согласна",
                            }
                        ],
                    },
                    {"id": 73, "user": {"login": "max"}, "createdAt": "2024-05-02T10:00:00Z", "body": "Не согласен"},
                ]
            },
        }
    }
    html = (
        f"<html><body><div id='app'>Загрузка…</div><script>window.__INITIAL_STATE__ = {json.dumps(state)};"
        f"</script></body></html>"
    )
    ext = extract(html, "https://news.example/a/1", _ctx())
    assert ext.method == "state"
    assert [(p.post_id, p.author, p.text, p.reply_to) for p in ext.result.items] == [
        ("71", "kolya", "Отличный банк", None),
        ("72", "vera", "Согласна", "71"),
        ("73", "max", "Не согласен", None),
    ]
    assert ext.result.items[0].posted_at == "2024-05-02T09:00:00+00:00"


@pytest.mark.parametrize(
    "html,want",
    [
        ("<a href='/t/1?page=1'>1</a><b>2</b><a href='/t/1?page=3'>3</a>", "https://f.example/t/1?page=3"),
        ("<link rel='next' href='/t/1/page-2'>", "https://f.example/t/1/page-2"),
        ("<div class='pages'><a href='?p=1'>‹</a><a href='?p=3'>Следующая</a></div>", "https://f.example/t/1?p=3"),
        (
            (
                "<ul class='pagination'><li><a href='?p=1'>1</a></li><li class='active'><span>2</span></li>"
                "<li><a href='?p=3'>3</a></li></ul>"
            ),
            "https://f.example/t/1?p=3",
        ),
        ("<p>no pages here</p><a href='#'>next</a>", None),
        ("<a rel='next' href='/2016/02/08/another-post/'>Next post</a>", None),  # the next article, not a page
        ("<a href='/t/1?view=next'>Next topic</a><b>1</b>", None),
    ],
)
def test_pagination(html, want):
    assert extract(f"<html><body>{html}</body></html>", "https://f.example/t/1", _ctx()).result.next_url == want


def _pages():
    out = [(p, p.name) for p in sorted(PAGES.glob("*.html")) if "index" not in p.name]
    if SHARED.is_dir():
        out += [(p, p.name) for p in sorted(SHARED.glob("*/*.html"))]
    return out


@pytest.mark.parametrize("path", [p for p, _ in _pages()], ids=[n for _, n in _pages()])
def test_agrees_with_the_engine_parsers_on_saved_pages(path):
    """On saved pages of engines that have a parser, the engine-free reading finds the same posts (count, first
    author, the first post's opening words): nothing in it knows those engines."""
    text = decode_html(path.read_bytes(), None, None)[0]
    url = saved_page_url(text, f"http://saved.local/{path.name}")
    eng = _posts(parse_page(text, url, "auto", _ctx()))
    uni = _posts(extract(text, url, _ctx()).result)
    assert len(uni) == len(eng)
    assert (uni[0].author or "").lower() == (eng[0].author or "").lower()
    assert uni[0].text[:20] == eng[0].text[:20] or eng[0].text[:20] in uni[0].text


def test_cross_check_logs_a_disagreement_with_the_page(caplog):
    text = (PAGES / "xf2_thread.html").read_text(encoding="utf-8")
    url = "https://forum.example.ru/threads/shopok-vernul-dengi.4567/"
    res = parse_page(text, url, "xenforo", _ctx())
    with caplog.at_level(logging.WARNING, logger="crawlers.parsers.crosscheck"):
        assert crosscheck.cross_check("xenforo", res, text, url, _ctx()) is None
        assert caplog.records == []
        lost = replace(res, items=res.items[1:])  # as a parser that misses the opening post would return
        d = crosscheck.cross_check("xenforo", lost, text, url, _ctx())
    assert (d.engine_posts, d.universal_posts, d.universal_first_author) == (1, 2, "Дмитрий_К")
    assert url in caplog.text and "disagree" in caplog.text


def test_sampler_checks_the_first_page_of_each_source_per_run_and_suspects():
    s = crosscheck.Sampler()
    text = (PAGES / "xf2_thread.html").read_text(encoding="utf-8")
    res = parse_page(text, "https://f.example/threads/x.1/", "xenforo", _ctx())
    a, b = _ctx(run_id="r1"), replace(_ctx(run_id="r1"), source="other")
    assert [s.wants("xenforo", res, a), s.wants("xenforo", res, a), s.wants("xenforo", res, b)] == [True, False, True]
    assert s.wants("xenforo", res, _ctx(run_id="r2")) is True
    one = replace(res, items=res.items[:1], next_url="https://f.example/threads/x.1/page-2")
    assert [s.wants("xenforo", one, a) for _ in range(crosscheck.MAX_SUSPECT + 2)] == [
        True
    ] * crosscheck.MAX_SUSPECT + [False, False]
    assert s.wants("generic", res, _ctx(run_id="r3")) is False
    missed = replace(res, items=[], next_url=None, board_links=["https://f.example/forums/x.2/"])
    assert s.wants("xenforo", missed, _ctx(run_id="r4")) is True  # navigation only: a theme the parser misses


def test_posts_between_separators_with_bylines_in_words():
    """A printable view: no element per post, only runs between <hr> and "Posted by NAME on DATE"."""
    html = (
        "<html><body><font><p><a href='/forums/'>Board</a></p><hr>"
        + "".join(
            f"<i>Posted by {a} on 09-1{n}-2001 01:02 AM:</i><p><b>Re: raid</b></p><p>{t}</p><hr>"
            for n, (a, t) in enumerate(
                [
                    ("Kyria", "Thursday at 10PM, all welcome."),
                    ("Aideen", "I will come if I can."),
                    ("Old Shiezer", "Where is it?"),
                ]
            )
        )
        + "<p>All times are GMT.</p></font></body></html>"
    )
    posts = _posts(extract(html, "https://f.example/printthread.php?t=5", _ctx()).result)
    assert [(p.author, p.text, p.posted_at_raw) for p in posts] == [
        ("Kyria", "Thursday at 10PM, all welcome.", "09-10-2001 01:02 AM"),
        ("Aideen", "I will come if I can.", "09-11-2001 01:02 AM"),
        ("Old Shiezer", "Where is it?", "09-12-2001 01:02 AM"),
    ]
    assert posts[0].posted_at == "2001-09-10T01:02:00+04:00"


def test_microdata_question_is_the_article_of_its_answers_on_a_qa_page():
    post = (
        "<div itemscope itemtype='https://schema.org/{t}'><span itemprop='author' itemscope "
        "itemtype='https://schema.org/Person'><a itemprop='name' href='https://q.example/users/{n}/'>{a}</a>"
        "</span><time itemprop='dateCreated' datetime='2020-01-0{n}T10:00:00Z'></time>"
        "<div itemprop='text'>{body}</div></div>"
    )
    posts = "".join(
        post.format(t=t, n=n, a=a, body=b)
        for n, (t, a, b) in enumerate(
            [
                ("Question", "asker", "How do I cancel?"),
                ("Answer", "fiction", "Use the menu."),
                ("Answer", "ron", "Call support."),
            ],
            1,
        )
    )
    qa = f"<html><body><div itemscope itemtype='https://schema.org/QAPage'>{posts}</div></body></html>"
    items = extract(qa, "https://q.example/q/1", _ctx()).result.items
    assert [(it.author, it.extra.get("item_type")) for it in items] == [
        ("asker", "article"),
        ("fiction", None),
        ("ron", None),
    ]  # a name on a profile link is its text, not the URL
    # a board that marks a thread up as a Question with Answers, but is no Q&A page: the opening post is a post
    board = f"<html><body>{posts}</body></html>"
    items = extract(board, "https://q.example/posts/1", _ctx()).result.items
    assert [(it.author, it.extra.get("item_type")) for it in items] == [
        ("asker", None),
        ("fiction", None),
        ("ron", None),
    ]


def test_ips4_guest_author_is_the_name_without_the_reputation_badge():
    """IPS 4 shows a guest's name without a profile link, beside the reputation badge in the same pane."""
    html = (PAGES / "ipb4_topic.html").read_text(encoding="utf-8")
    guest = (
        "<h3 class='ipsType_sectionHead cAuthorPane_author'><strong>Unrecognized</strong>"
        "<div class='ipsRepBadge ipsRepBadge_neutral'><i class='fa fa-circle'></i> 0</div></h3>"
    )
    import re

    html2 = re.sub(r"<h3[^>]*cAuthorPane_author.*?</h3>", guest, html, count=2, flags=re.DOTALL)  # both panes of post 1
    assert html2 != html
    res = parse_page(html2, "https://forum.example.ru/topic/1234-x/", "ipb", _ctx())
    assert res.items[0].author == "Unrecognized"


def test_parse_any_prefers_the_complete_reading_when_an_engine_counts_an_advert():
    """A board theme that puts an advert in post markup: the phpBB parser counts it as a post with no author
    or date; `brandmon parse` (parse_any) then takes the universal reading, whose posts are all complete."""
    from crawlers.parsers import parse_any

    html = (PAGES / "phpbb33_prosilver_viewtopic.html").read_text(encoding="utf-8")
    at = html.index('<div id="p')
    ad = (
        '<div id="p999" class="post has-profile bg1"><div class="inner"><div class="postbody"><div class="content">'
        "Sponsored: best VPN deals, click here!</div></div></div></div>\n"
    )
    url = "https://forums.nesdev.org/viewtopic.php?t=25574"
    themed = html[:at] + ad + html[at:]
    assert len(parse_page(themed, url, "phpbb", _ctx()).items) == 4  # the engine's fast path counts the advert
    used, res = parse_any(themed, url, _ctx())
    assert (used, [it.author for it in res.items]) == ("generic", ["EvtimDjerekarov", "Fiskbit", "EvtimDjerekarov"])
    assert parse_any(html, url, _ctx())[0] == "phpbb"  # where both agree, the engine's reading stays


def test_plain_bold_names_without_any_profile_link():
    """The oldest boards print the poster's name in plain bold, with no link and no class naming it."""
    row = (
        "<table class='post' width='100%'><tr><td width='18%'><b>{a}</b><br><font size='1'>{title}</font></td>"
        "<td><font size='1'>posted {d} 04:59 PM</font><hr>{t}</td></tr></table>"
    )
    html = (
        "<html><body>"
        + "".join(
            row.format(a=a, title=ti, d=d, t=t)
            for a, ti, d, t in [
                ("WhiteFire", "Zombie", "12-06-2001", "Is it cheaper to summon a horse?"),
                ("Shade420", "Decaying Skeleton", "12-19-2001", "Nope, all summons are checked on the server."),
                ("WhiteFire", "Zombie", "12-20-2001", "Thanks, that settles it."),
            ]
        )
        + "</body></html>"
    )
    posts = _posts(extract(html, "https://f.example/ubb/Forum10/000064.html", _ctx()).result)
    assert [(p.author, p.text) for p in posts] == [
        ("WhiteFire", "Is it cheaper to summon a horse?"),
        ("Shade420", "Nope, all summons are checked on the server."),
        ("WhiteFire", "Thanks, that settles it."),
    ]


def test_comments_in_an_app_state_with_wrapped_runs_of_text():
    """A video page's state: each comment wrapped twice, its text as runs, its name and age as simple texts."""

    def thread(cid, who, runs, age):
        return {
            "commentThreadRenderer": {
                "comment": {
                    "commentRenderer": {
                        "commentId": cid,
                        "authorText": {"simpleText": who},
                        "contentText": {"runs": [{"text": r} for r in runs]},
                        "publishedTimeText": {"runs": [{"text": age}]},
                    }
                }
            }
        }

    state = {
        "contents": {
            "sections": [
                {
                    "items": [
                        thread("Ug1", "@anna", ["Лучший ", "обзор"], "2 дня назад"),
                        thread("Ug2", "@petr", ["Связьком ловит хуже"], "3 дня назад"),
                    ]
                }
            ]
        }
    }
    html = f"<html><body><div id='app'></div><script>var ytInitialData = {json.dumps(state)};</script></body></html>"
    ext = extract(html, "https://video.example/watch?v=1", _ctx(now=None))
    assert ext.method == "state"
    assert [(p.post_id, p.author, p.text, p.posted_at_raw) for p in ext.result.items] == [
        ("Ug1", "@anna", "Лучший обзор", "2 дня назад"),
        ("Ug2", "@petr", "Связьком ловит хуже", "3 дня назад"),
    ]


def test_parse_any_reads_a_theme_the_engine_parser_misses():
    """A phpBB theme that renames the post body's classes: detected as phpBB, whose parser then finds only a
    board link; `brandmon parse` takes the universal extractor's posts. A board index stays the engine's."""
    from crawlers.parsers import parse_any

    html = (PAGES / "phpbb33_prosilver_viewtopic.html").read_text(encoding="utf-8")
    themed = html.replace('class="postbody"', 'class="msgbody"').replace('class="content"', 'class="msgtext"')
    url = "https://forums.nesdev.org/viewtopic.php?t=25574"
    assert parse_page(themed, url, "phpbb", _ctx()).items == []
    used, res = parse_any(themed, url, _ctx())
    assert (used, [it.author for it in res.items]) == ("generic", ["EvtimDjerekarov", "Fiskbit", "EvtimDjerekarov"])
    index = (PAGES / "mybb18_index_real.html").read_text(encoding="utf-8")
    assert parse_any(index, "https://cs-joke.pl/", _ctx())[0] == "mybb"


VANILLA = """<html><body><div id="Content"><div class="MessageList Discussion">
<div class="Item ItemDiscussion" id="Discussion_5"><div class="Discussion"><div class="Item-Header DiscussionHeader">
 <div class="AuthorWrap"><span class="Author"><a href="/profile/anna" class="Username">anna</a></span></div>
 <div class="Meta DiscussionMeta"><span class="MItem DateCreated"><a href="/discussion/5/slow" class="Permalink">
 <time datetime="2018-03-12T10:15:00+00:00">March 2018</time></a></span></div></div>
 <div class="Item-BodyWrap"><div class="Item-Body"><div class="Message userContent">Is Mobiline down for anyone else?</div>
 </div></div></div></div></div>
<div class="CommentsWrap"><div class="DataBox DataBox-Comments"><h2 class="CommentHeading">Replies</h2>
<ul class="MessageList DataList Comments">{comments}</ul></div></div></div></body></html>"""
VANILLA_COMMENT = """<li class="Item ItemComment" id="Comment_{n}"><div class="Comment"><div class="Item-Header CommentHeader">
 <div class="AuthorWrap"><span class="Author"><a href="/profile/{a}" class="Username">{a}</a></span></div>
 <div class="Meta CommentMeta CommentInfo"><span class="MItem DateCreated"><a href="/discussion/comment/{n}/#Comment_{n}"
 class="Permalink"><time datetime="2018-03-12T1{n}:15:00+00:00">March 2018</time></a></span></div></div>
 <div class="Item-BodyWrap"><div class="Item-Body"><div class="Message userContent">{t}</div></div></div></div></li>"""


@pytest.mark.parametrize("replies", [2, 1])
def test_forum_that_calls_its_replies_comments_keeps_its_opening_post(replies):
    """Vanilla renders the opening post apart from the replies (div.ItemDiscussion, li.ItemComment) but built
    the same inside: it is a post, not the article of a comment page. With one reply, every box around it (the
    comment list, its item, the comment) scores alike: the innermost is the record."""
    comments = [(1, "bob", "Yes, down since morning."), (2, "carl", "Works for me in Moscow.")][:replies]
    html = VANILLA.replace("{comments}", "".join(VANILLA_COMMENT.format(n=n, a=a, t=t) for n, a, t in comments))
    posts = _posts(extract(html, "https://forum.example/discussion/5/slow", _ctx()).result)
    assert [(p.author, p.text) for p in posts] == [("anna", "Is Mobiline down for anyone else?")] + [
        (a, t) for _, a, t in comments
    ]


# a Russian article with a nested comment tree and relative dates, shaped as Habr's current templates render it
HABR = """<html><body><div class="tm-page"><article class="tm-article-presenter__content"><h1 class="tm-title"><span>Почему Мобилайн тормозит</span></h1>
<div class="tm-article-body"><div id="post-content-body"><p>Длинная статья про сеть оператора, вышки и перегрузку. Разбираем по пунктам, что происходит вечером в спальных районах и почему.</p><p>Ещё абзац текста статьи, чтобы она была длиннее комментариев.</p></div></div></article>
<div class="tm-comments-wrapper__wrapper"><div class="tm-comments__tree">
<section class="tm-comment-thread"><article class="tm-comment-thread__comment" id="comment_1001"><div class="tm-comment"><header class="tm-comment__header"><div class="tm-comment__header-inner"><span class="tm-user-info tm-comment__user-info"><a href="/ru/users/ivan_k/" class="tm-user-info__username">ivan_k</a></span>
<a href="/ru/articles/1/comments/#comment_1001" class="tm-comment-thread__comment-link"><time datetime="2023-05-01T10:00:00.000Z" title="2023-05-01, 13:00">час назад</time></a></div></header>
<div class="tm-comment__body-content"><div class="tm-comment__body-content">У меня то же самое, вечером всё встаёт.</div></div><div class="tm-comment-footer"><button class="tm-comment-footer__button">Ответить</button></div></div></article>
<div class="tm-comment-thread__children"><section class="tm-comment-thread"><article class="tm-comment-thread__comment" id="comment_1002"><div class="tm-comment"><header class="tm-comment__header"><div class="tm-comment__header-inner"><span class="tm-user-info tm-comment__user-info"><a href="/ru/users/olga/" class="tm-user-info__username">olga</a></span>
<a href="/ru/articles/1/comments/#comment_1002" class="tm-comment-thread__comment-link"><time datetime="2023-05-01T10:30:00.000Z">30 минут назад</time></a></div></header>
<div class="tm-comment__body-content"><div class="tm-comment__body-content">Перейдите на Связьком, у них лучше.</div></div><div class="tm-comment-footer"><button>Ответить</button></div></div></article></section></div></section>
<section class="tm-comment-thread"><article class="tm-comment-thread__comment" id="comment_1003"><div class="tm-comment"><header class="tm-comment__header"><div class="tm-comment__header-inner"><span class="tm-user-info tm-comment__user-info"><a href="/ru/users/petr/" class="tm-user-info__username">petr</a></span>
<a href="/ru/articles/1/comments/#comment_1003" class="tm-comment-thread__comment-link"><time datetime="2023-05-01T11:00:00.000Z">только что</time></a></div></header>
<div class="tm-comment__body-content"><div class="tm-comment__body-content">Статья хорошая, спасибо.</div></div></div></article></section>
</div></div></div></body></html>
"""


def test_russian_comment_tree_with_relative_dates():
    now = datetime(2023, 5, 1, 14, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    relative = re.sub(r' (?:datetime|title)="[^"]*"', "", HABR)  # only "час назад" and the like left to read
    res = extract(relative, "https://habr.example/ru/articles/1/", _ctx(now=now)).result
    assert res.items[0].extra.get("item_type") == "article" and "Длинная статья" in res.items[0].text
    posts = _posts(res)
    assert [(p.author, p.text, p.reply_to, p.posted_at_raw, p.posted_at) for p in posts] == [
        ("ivan_k", "У меня то же самое, вечером всё встаёт.", None, "час назад", "2023-05-01T13:00:00+03:00"),
        ("olga", "Перейдите на Связьком, у них лучше.", "comment_1001", "30 минут назад", "2023-05-01T13:30:00+03:00"),
        ("petr", "Статья хорошая, спасибо.", None, "только что", "2023-05-01T14:00:00+03:00"),
    ]


# a Q&A page without microdata, shaped as askbot renders one: question and answers share div.post, each carries
# comments with their own authors and dates
ASKBOT = """<html><body><div id="ContentLeft"><div class="question-page">
<h1><a href="/question/5/slow/">Why is the network slow?</a></h1>
<div class="post question" id="question-5"><div class="vote-buttons"><div class="vote-number">3</div></div>
<div class="question-content"><div class="post-body"><p>Every evening the connection drops to 1 Mbit. What can I do?</p></div>
<div class="post-update-info-container"><div class="post-update-info"><p class="tip">asked <abbr class="timeago" title="2015-03-12 10:15:00+0000">2015-03-12 10:15:00 +0000</abbr></p><a href="/users/7/anna/">anna</a></div></div>
<div class="comments" id="comments-for-question-5"><div class="comment" id="comment-21"><div class="comment-body"><p>Which provider?</p> <a class="author" href="/users/8/bob/">bob</a> (<abbr class="timeago" title="2015-03-12 10:20:00+0000">2015-03-12</abbr>)</div></div>
<div class="comment" id="comment-22"><div class="comment-body"><p>Mobiline.</p> <a class="author" href="/users/7/anna/">anna</a> (<abbr class="timeago" title="2015-03-12 10:25:00+0000">2015-03-12</abbr>)</div></div>
<div class="comment" id="comment-23"><div class="comment-body"><p>Same here.</p> <a class="author" href="/users/9/carl/">carl</a> (<abbr class="timeago" title="2015-03-12 10:30:00+0000">2015-03-12</abbr>)</div></div></div></div></div>
<h2>2 Answers</h2>
<div class="post answer" id="post-id-11"><div class="vote-buttons"><div class="vote-number">1</div></div><div class="answer-table"><div class="post-body"><p>Try a different channel on your router, it helps in crowded buildings.</p></div>
<div class="post-update-info-container"><div class="post-update-info"><p class="tip">answered <abbr class="timeago" title="2015-03-12 11:15:00+0000">2015-03-12</abbr></p><a href="/users/10/dan/">dan</a></div></div>
<div class="comments"><div class="comment" id="comment-31"><div class="comment-body"><p>Did not help.</p> <a class="author" href="/users/7/anna/">anna</a> (<abbr class="timeago" title="2015-03-12 12:20:00+0000">2015-03-12</abbr>)</div></div></div></div></div>
<div class="post answer" id="post-id-12"><div class="vote-buttons"><div class="vote-number">0</div></div><div class="answer-table"><div class="post-body"><p>Call support and ask them to check the line at the cabinet.</p></div>
<div class="post-update-info-container"><div class="post-update-info"><p class="tip">answered <abbr class="timeago" title="2015-03-12 13:15:00+0000">2015-03-12</abbr></p><a href="/users/11/eve/">eve</a></div></div></div></div>
</div></div></body></html>
"""


def test_qa_page_without_microdata_answers_are_the_posts():
    posts = _posts(extract(ASKBOT, "https://ask.example/question/5/slow/", _ctx()).result)
    assert [(p.post_id, p.author, p.text) for p in posts] == [
        ("post-id-11", "dan", "Try a different channel on your router, it helps in crowded buildings."),
        ("post-id-12", "eve", "Call support and ask them to check the line at the cabinet."),
    ]


# a thread nobody has answered yet, as the classic table layouts print it: a header row, then one row per post
# with the name in the left cell and the date, the post's buttons and its words in the right one
ONE_POST_ROW = """<html><head><title>scripting - Discussion Board</title></head><body>
<table width="95%"><tr><td><a href="/cgi-bin/Ultimate.cgi">Discussion Board</a></td></tr></table>
<table width="95%" border="0">
<tr bgcolor="#000000"><td width="18%"><b>Author</b></td><td><b>Topic: scripting</b></td></tr>
<tr bgcolor="#1f1f1f"><td width="18%" valign="top"><b>turtle</b><br><font size="1">Decaying Skeleton</font></td>
<td><font size="1" color="#32cd32">posted 01-07-2002 06:46 PM
 {profile}
 {action}</font><hr>im new here and would like to know where i can find a command reference or a how-to.
 <p align="right"><font size="1" color="#32cd32">IP: <a href="/cgi-bin/ubbmisc.cgi?action=getip&topic=000213">Logged</a></font></p>
</td></tr>
</table><p>All times are ET (US)</p></body></html>"""
REPLY_BUTTON = '<a href="/cgi-bin/postings.cgi?action=reply&topic=000213&replyto=0"><img alt="Reply w/Quote"></a>'
PROFILE = (
    '<a href="/cgi-bin/ubbmisc.cgi?action=getbio&UserName=turtle">'
    '<img src="/profile.gif" alt="Click Here to See the Profile for turtle"></a>'
)


@pytest.mark.parametrize(
    ("profile", "action"),
    [
        (PROFILE, REPLY_BUTTON),  # an icon whose request says reply
        (PROFILE, '<ul class="postactions"><li><a href="post.php?tid=5&qid=12">Quote</a></li></ul>'),  # by its words
        (PROFILE, '<a href="javascript:void(0)" title="Reply to this post"><img src="/r.gif"></a>'),  # by its title
        ("", REPLY_BUTTON),  # no profile link: the name is plain bold
        (PROFILE, ""),  # a guest's view: no buttons
        ("", ""),  # neither: the poster's name in a cell of its own beside the words
    ],
)
def test_a_thread_of_one_post_in_a_table_row(profile, action):
    """One post repeats nothing, so no record set scores; its row still holds a date, words of its own and what
    only a post has (here a button to reply to or quote it, or the poster's own cell); the footer set like the
    date line ("IP: Logged") is the post's meta, not its words."""
    url = "https://f.example/ubb/Forum9/HTML/000213.html"
    ext = extract(ONE_POST_ROW.format(profile=profile, action=action), url, _ctx(tz="America/New_York"))
    assert ext.method == "dom"
    assert [(p.author, p.posted_at, p.text) for p in _posts(ext.result)] == [
        (
            "turtle",
            "2002-01-07T18:46:00-05:00",
            "im new here and would like to know where i can find a command reference or a how-to.",
        )
    ]


def test_an_article_with_a_byline_is_not_a_thread_of_one_post():
    """A page offering no reply to or quote of the block is an article, whatever byline it has: its main text (a link
    in its words that says "quote" is not a post's quote button)."""
    article = (
        "<html><head><title>Bank cuts rates</title></head><body><article><h1>Bank cuts rates</h1>"
        "<p class='meta'>By <a href='/authors/jane-doe/'>Jane Doe</a>, 7 May 2024 at 10:00</p>"
        + "<p>The bank cuts its deposit rates by half a point from Monday, its press office said today.</p>" * 3
        + "<p>Its shares (<a href='https://finance.example/quote/LBNK'>quote</a>) fell 2%.</p>"
        + "<p><a href='/2024/05/bank-cuts-rates/#respond'>Leave a reply</a></p></article></body></html>"
    )
    ext = extract(article, "https://news.example/2024/05/bank-cuts-rates/", _ctx())
    assert (ext.method, len(ext.result.items), _posts(ext.result)) == ("main-text", 1, [])
    # an old table layout: a navigation column of links beside the article, whose words end with a "#2024" tag
    table = (
        "<html><body><table><tr><td width='20%'><a href='/'>Home</a><br><a href='/news/'>News</a><br>"
        "<a href='/sport/'>Sport</a></td><td><h1>Bank cuts rates</h1><p>By <a href='/authors/jane-doe/'>Jane Doe"
        "</a>, 07.05.2024</p>"
        + "<p>The bank cuts its deposit rates by half a point from Monday, its press office said today.</p>" * 3
        + "<p><a href='/tags/2024'>#2024</a></p></td></tr></table></body></html>"
    )
    ext = extract(table, "https://news.example/2024/05/bank-cuts-rates/", _ctx())
    assert (ext.method, len(ext.result.items), _posts(ext.result)) == ("main-text", 1, [])


# a thread of one post on a board of div blocks, as a guest sees it: no reply or quote button, no profile link,
# classes that name no post; the post header's counter and the poster panel are what only a post has
ONE_POST_DIVS = """<html><head><title>Router drops Wi-Fi every evening</title></head><body>
<div class="crumbs"><a href="index.php">Index</a> » <a href="viewforum.php?id=3">Help</a></div>
<div id="t5" class="topicbox"><div class="hd"><span class="conr">{counter}</span> <span>04.03.2012 18:22</span></div>
<div class="bx"><div class="lft"><strong>mike_k</strong><br>{panel}</div>
<div class="rgt"><h3>Router drops Wi-Fi every evening</h3><p>Since the firmware update my router drops Wi-Fi every
evening around nine, and only a reboot brings it back.</p></div></div></div>
<div class="ft">Powered by a forum</div></body></html>"""


SIDEBAR = (
    '<div class="side"><div class="news"><a href="/users/editor/">editor</a> 05.03.2012 <p>Our board moves to a new'
    " server this weekend, expect downtime.</p></div></div>"
)


@pytest.mark.parametrize(
    ("counter", "panel", "side"),
    [
        ("#1", "Member", ""),
        ("", "Registered: 2011-05-02<br>Posts: 41", ""),
        ("", "Сообщений: 41", ""),
        ("#1", "Member", SIDEBAR),  # a dated news item with a profile link beside the post shows no post's signs
    ],
)
def test_a_thread_of_one_post_without_buttons_or_profile_links(counter, panel, side):
    html = ONE_POST_DIVS.format(counter=counter, panel=panel).replace('<div class="ft">', side + '<div class="ft">')
    ext = extract(html, "https://f.example/viewtopic.php?id=5", _ctx())
    assert [(p.author, p.posted_at_raw, p.text[:40]) for p in _posts(ext.result)] == [
        ("mike_k", "04.03.2012 18:22", "Since the firmware update my router drop")
    ]
    # the same block with neither a counter nor a panel is a page's text, not a post
    bare = extract(ONE_POST_DIVS.format(counter="", panel="Member"), "https://f.example/viewtopic.php?id=5", _ctx())
    assert _posts(bare.result) == []


def test_a_printable_thread_of_one_post_between_two_rules():
    html = (
        "<html><body><font><p><b><a href='/forums/'>Guild</a></b> - <b><a href='f.php?f=19'>News</a></b></p><hr>"
        "<i>Posted by Dolby on 09-12-2001 02:31 AM:</i><p><b> Horrific events today...</b></p>"
        "<p>Our prayers go out to all that were victims of the tragic events that happened today.</p><hr>"
        "<p>All times are GMT. The time now is 07:03 PM.</p></font></body></html>"
    )
    posts = _posts(extract(html, "https://f.example/printthread.php?threadid=572", _ctx()).result)
    assert [(p.author, p.posted_at_raw, p.text) for p in posts] == [
        (
            "Dolby",
            "09-12-2001 02:31 AM",
            "Our prayers go out to all that were victims of the tragic events that happened today.",
        )
    ]
    # two rules around words that do not open with a byline are decoration, not a post
    decor = html.replace("<i>Posted by Dolby on 09-12-2001 02:31 AM:</i>", "<i>Updated 09-12-2001</i>")
    assert _posts(extract(decor, "https://f.example/about.html", _ctx()).result) == []


# a microblog status page: the status in a wrapper marked as the main one, its replies in one marked as replies,
# every entry built alike, each with a display name and an @handle linking to the same profile
STATUS = """<html><body><div class="conversation"><div class="main-thread"><div class="main-tweet">{entry}</div></div>
<div class="replies"><div class="reply thread">{entry}{entry}</div><div class="reply thread">{entry}</div></div>
</div></body></html>"""
ENTRY = """<div class="timeline-item"><a class="tweet-link" href="https://x.example/{h}/status/{n}#m"></a>
<div class="tweet-body"><div class="tweet-header"><a class="tweet-avatar" href="https://x.example/{h}"><img class="avatar"
src="https://x.example/pic/{h}.jpg" alt="Image"></a><div class="tweet-name-row"><div class="fullname-and-username">
<a class="fullname" href="https://x.example/{h}" title="{name}">{name}</a>
<a class="username" href="https://x.example/{h}" title="@{h}">@{h}</a></div><span class="tweet-date">
<a href="https://x.example/{h}/status/{n}#m" title="8/5/2020, 0{n}:17:31">May 8</a></span></div></div>
<div class="tweet-content media-body">{text}</div><div class="tweet-stats"><span class="tweet-stat">{n}</span></div>
</div></div>"""


def test_a_status_page_has_the_status_as_its_article_and_display_names_as_authors():
    people = [
        ("Aktion Unterholz", "AktionUnterholz"),
        ("Nino Pandari", "Nino_Pandari"),
        ("svenjo heyne", "svenjo2010"),
        ("Eve", "eve_says_hello"),
    ]
    html = STATUS
    for n, (name, h) in enumerate(people, 1):
        entry = ENTRY.format(name=name, h=h, n=n, text=f"Entry number {n} of this conversation, with words of its own.")
        html = html.replace("{entry}", entry, 1)
    items = extract(html, "https://x.example/aktion/status/1", _ctx()).result.items
    assert [(it.author, it.extra.get("item_type")) for it in items] == [
        ("Aktion Unterholz", "article"),
        ("Nino Pandari", None),
        ("svenjo heyne", None),
        ("Eve", None),
    ]
    # the same entries with no wrapper marked as the main one: a thread whose opening entry is a post of its own
    plain = html.replace('class="main-tweet"', 'class="first-tweet-box"').replace('class="main-thread"', "")
    assert [it.extra.get("item_type") for it in extract(plain, "https://x.example/t/1", _ctx()).result.items] == [
        None
    ] * 4


# a modded board of two posts: each a row (the poster's column: name, custom title, rank, join date, post count, a
# level bar; then the post's header, words and a signature set off by a rule), then a row of buttons only
TWO_ROWS = (
    """<html><body><table class="forumline"><tr><th>Author</th><th>Message</th></tr>{rows}</table></body></html>"""
)
TWO_ROW = """<tr><td width="150" class="row1"><span class="name"><a name="{pid}"></a><b>{name}</b>{title}</span><br />
<span class="postdetails">Princess<br />Joined: 11 Feb 2002<br />Posts: {posts}<br />Location: Right Here</span>
<span class="postdetails">Level: <b>17</b><table><tr><td>HP:</td><td><b>88 / 630</b></td><td>14%</td></tr>
<tr><td>MP:</td><td><b>301 / 301</b></td><td>100%</td></tr></table></span></td>
<td class="row1"><table width="100%"><tr><td><span class="gen"><b>Fudge Feathers</b></span><br />
<span class="postdetails">{date}</span></td></tr><tr><td><hr /></td></tr>
<tr><td><span class="postbody">{text}</span></td></tr>
<tr><td><span class="postbody"><br /><hr /><br /><div><a href="https://magelo.example/p/{pid}">{name}'s Magelo Profile</a>
</div></span></td></tr></table></td></tr>
<tr><td class="row1"><a href="#top">Back to top</a></td><td class="row1"><a href="profile.php?mode=viewprofile&u={pid}">
<img alt="View users profile" /></a></td></tr>"""


def test_two_posts_in_rows_with_button_rows_poster_columns_and_ruled_signatures():
    """Two posts are the records, not their button rows; each post's words are neither the poster's column (its
    panel and level bar hold more text than a short post) nor the signature below a rule; the name is the first
    line of the name box, not the custom title under it."""
    rows = TWO_ROW.format(
        pid=33,
        name="Melindeth",
        title="<br /><b><i>Melindeth AleLover</i></b>",
        posts=359,
        date="Tue Sep 17, 2002 8:14 am",
        text="Work Damn It",
    ) + TWO_ROW.format(
        pid=64, name="Hoss", title="", posts=12, date="Fri Oct 11, 2002 11:30 am", text="Seems to be working now!"
    )
    posts = _posts(extract(TWO_ROWS.format(rows=rows), "https://f.example/viewtopic.php?t=5", _ctx()).result)
    assert [(p.author, p.posted_at_raw, p.text) for p in posts] == [
        ("Melindeth", "Tue Sep 17, 2002 8:14 am", "Work Damn It"),
        ("Hoss", "Fri Oct 11, 2002 11:30 am", "Seems to be working now!"),
    ]


# SMF 1.1's post of a thread nobody has answered: the poster's cell and the post's cell, unclassed siblings
SMF1_ONE_POST = """<html><body><table class="bordercolor"><tr><td><a name="msg1000"></a><table><tr><td class="windowbg">
<table style="table-layout: fixed;"><tr><td valign="top" width="16%" rowspan="2">
<b><a href="https://f.example/index.php?action=profile;u=10" title="View the profile of john">john</a></b>
<div class="smalltext">Newbie<br /><br />Offline<br /><br />Posts: 12<br /></div></td>
<td valign="top" width="85%"><table><tr><td><div id="subject_1000"><a href="index.php?topic=5.msg1000#msg1000">Router
problem</a></div><div class="smalltext">&#171; <b>on:</b> March 01, 2012, 06:22:10 PM &#187;</div></td></tr></table>
<hr class="hrcolor" /><div class="post">My router drops Wi-Fi every evening since the update, anyone else?</div></td></tr>
<tr><td class="smalltext"><img src="ip.gif" alt="" />&nbsp;Logged</td></tr></table></td></tr></table></td></tr></table>
</body></html>"""


def test_the_cells_of_one_post_are_not_two_posts():
    """The poster's cell (a name) and the post's cell (a date) are siblings of one tag, but a set whose members
    hold names or dates and never both is the columns of one post: the thread of one post is read as one."""
    posts = _posts(extract(SMF1_ONE_POST, "https://f.example/index.php?topic=5.0", _ctx(tz="UTC")).result)
    assert [(p.author, p.posted_at, p.text) for p in posts] == [
        ("john", "2012-03-01T18:22:10+00:00", "My router drops Wi-Fi every evening since the update, anyone else?")
    ]


def test_a_date_inside_header_words_the_date_reader_does_not_know():
    """ "发表于 2012-3-4 18:22" ("posted at", a Discuz! header): the date inside the words is read."""
    post = (
        '<div id="post_{n}" class="plhin"><div class="authi"><a href="home.php?mod=space&uid={n}" class="xw1">'
        'user{n}</a></div><div class="authi"><em id="authorposton{n}">发表于 2012-3-{n} 18:22</em></div>'
        '<div class="t_f" id="postmessage_{n}">路由器每天晚上都会断开无线网络，第{n}次了。</div></div>'
    )
    html = "<html><body>" + "".join(post.format(n=n) for n in (4, 5, 6)) + "</body></html>"
    posts = _posts(extract(html, "https://bbs.example.cn/forum.php?mod=viewthread&tid=5", _ctx(tz="UTC")).result)
    assert [(p.author, p.posted_at_raw, p.posted_at) for p in posts] == [
        (f"user{n}", f"发表于 2012-3-{n} 18:22", f"2012-03-0{n}T18:22:00+00:00") for n in (4, 5, 6)
    ]


def _topic_ld(comments: list[tuple[str, str, str]]) -> str:
    """A forum topic's JSON-LD as Invision 4 writes it: the topic (its opening post's words, no author name) and
    every post as a comment, the opening one included (its date may be a second later)."""
    first_author, first_date, first_text = comments[0]
    data = {
        "@context": "http://schema.org",
        "@type": "DiscussionForumPosting",
        "headline": "Router drops Wi-Fi",
        "text": first_text,
        "datePublished": first_date.replace(":03+", ":02+"),
        "author": {"url": "https://f.example/profile/1-x/"},
        "comment": [
            {"@type": "Comment", "author": {"@type": "Person", "name": a}, "dateCreated": d, "text": t}
            for a, d, t in comments
        ],
    }
    return f"<html><body><script type='application/ld+json'>{json.dumps(data)}</script><p>Topic</p></body></html>"


@pytest.mark.parametrize("n", [1, 3])
def test_json_ld_topic_whose_first_comment_is_its_opening_post(n):
    comments = [
        ("onfrich", "2020-01-20T14:49:03+07:00", "Since the firmware update my router drops Wi-Fi every evening."),
        ("maria", "2020-01-20T15:10:00+07:00", "Same here, rolled back the firmware."),
        ("oleg", "2020-01-20T16:00:00+07:00", "Call support, they replaced mine."),
    ][:n]
    ext = extract(_topic_ld(comments), "https://f.example/topic/5/", _ctx())
    assert ext.method == "json-ld"
    assert [(p.author, p.text) for p in _posts(ext.result)] == [(a, t) for a, _, t in comments]


def test_a_rank_named_like_the_profile_script_is_not_the_author():
    """ "Member" under the name is the poster's rank: a profile link to member.php names the kind of page, not the
    user; nor is a poster-panel line ("Сообщений: 28") a name."""
    post = (
        '<div class="post" id="post_{n}"><div class="author_information"><strong><span class="largetext">'
        '<a href="/User-{name}">{name}</a></span></strong><br><span class="smalltext"><span class="usertitle">Member'
        '</span></span></div><div class="author_statistics">Сообщений: 28<br>'
        '<a href="member.php?action=profile&amp;uid={n}">Profile</a></div><div class="post_head">'
        '<span class="post_date">12-2{n}-2013, 02:35 PM</span></div><div class="post_body">Words of post {n}, '
        "about the router that drops Wi-Fi.</div></div>"
    )
    html = "<html><body>" + "".join(post.format(n=n, name=nm) for n, nm in ((1, "Aces"), (2, "Bo"))) + "</body></html>"
    assert [p.author for p in _posts(extract(html, "https://f.example/Thread-x", _ctx()).result)] == ["Aces", "Bo"]


def test_dash_separated_dates_with_month_names_are_post_dates():
    """TorrentPier writes "31-Июл-08 01:24" (day, short month name, year between dashes): the universal reading
    of its saved page dates every post as its engine parser does."""
    html = decode_html((PAGES / "torrentpier_rutracker_ru.html").read_bytes(), None, None)[0]  # cp1251
    url = "https://rutracker.org/forum/viewtopic.php?t=1045"
    ctx = _ctx(tz="Europe/Moscow", now=datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")))
    engine = [p.posted_at for p in parse_page(html, url, "phpbb", ctx).items]
    assert len(engine) == 4 and all(engine)
    assert [p.posted_at for p in _posts(extract(html, url, ctx).result)] == engine
