"""General markup rules of the engine parsers and the universal extractor, each on a minimal snippet of the real
markup that showed it (the corpus pages in tests/crawlers/real_pages/dev keep the whole pages)."""

from __future__ import annotations

from crawlers.parsers import ParseContext, detect_engine, parse_any, parse_page, universal
from crawlers.parsers.universal.evidence import is_profile_href, looks_like_date

CTX = ParseContext(source="t", tz="UTC")

# phpBB 3.0's subsilver2 style, trimmed from a real 2013 topic (theavalanches.com): one table.tablebg a post, the
# author in a span.postauthor beside `a[name=pN]`, "Post subject … Posted: DATE", the body in div.postbody; the
# second post's quote and signature are subsilver2's own template markup
_SS2_POST = """
<table class="tablebg" width="100%" cellspacing="1">
<tr class="row1">
  <td valign="middle"><a name="p{pid}"></a><span class="postauthor">{author}</span></td>
  <td width="100%" height="25"><table width="100%" cellspacing="0"><tr>
    <td class="gensmall" width="100%"><div style="float: left;">&nbsp;Post subject: {subject}</div>
    <div style="float: right;"><a href="./viewtopic.php?p={pid}#p{pid}"><img src="icon_post_target.gif"
      alt="Post" title="Post" /></a>Posted: {date}&nbsp;</div></td></tr></table></td>
</tr>
<tr class="row1">
  <td valign="top" class="profile"><span class="postdetails"><br /><b>Joined:</b> Tue Feb 01, 2011 10:40 am<br />
    <b>Posts:</b> 9</span></td>
  <td valign="top"><table width="100%" cellspacing="5"><tr><td>
    <div class="postbody">{body}</div>{sig}
    <br clear="all" /><br /></td></tr></table></td>
</tr>
<tr class="row1">
  <td class="profile"><a href="#wrapheader">Top</a></td>
  <td><div class="gensmall icons"><a href="./memberlist.php?mode=viewprofile&amp;u={uid}&amp;sid=0123abcd">
    <img src="icon_user_profile.gif" alt="Profile" title="Profile" /></a></div></td>
</tr>
</table>"""
SUBSILVER2 = (
    "<html><head><title>Board &bull; View topic - 2014 - Any News?</title></head><body>"
    '<div id="wrapcentre"><table class="tablebg" width="100%"><tr><td class="row1">'
    '<a href="./viewforum.php?f=1">General Discussion</a> &#187; <a href="./index.php">Board index</a></td></tr>'
    '</table><table class="tablebg"><tr><th>Author</th><th>Message</th></tr></table>'
    + _SS2_POST.format(
        pid=24054,
        author="edocronian",
        subject="2014 - Any News?",
        date="Sun Nov 24, 2013 5:28 am",
        body="2014 is nearly upon us, and still nothing on the next album. <br /><br />Let the speculation begin!",
        sig="",
        uid=50579,
    )
    + _SS2_POST.format(
        pid=24055,
        author="marc206",
        subject="Re: 2014 - Any News?",
        date="Sun Nov 24, 2013 6:50 am",
        body='<div class="quotetitle">edocronian wrote:</div><div class="quotecontent">still nothing on the next'
        " album</div><br />Here's something from a recent interview.",
        sig='<span class="postbody"><br />_________________<br />Since I left you</span>',
        uid=15,
    )
    + '<a href="./viewforum.php?f=2">Other board</a><p class="datetime">All times are UTC + 10 hours</p>'
    "<p>Powered by phpBB</p></div></body></html>"
)


def test_phpbb3_subsilver2_posts_are_read_by_the_phpbb_parser():
    url = "http://forum.example.org/forum/viewtopic.php?f=1&t=2889"
    res = parse_page(SUBSILVER2, url, "auto", CTX)
    assert [(it.post_id, it.author) for it in res.items] == [("24054", "edocronian"), ("24055", "marc206")]
    first, second = res.items
    assert first.text == "2014 is nearly upon us, and still nothing on the next album.\n\nLet the speculation begin!"
    assert first.posted_at == "2013-11-24T05:28:00+10:00"  # the footer's "UTC + 10 hours"
    assert first.author_url == "http://forum.example.org/forum/memberlist.php?mode=viewprofile&u=50579"
    assert first.url == "http://forum.example.org/forum/viewtopic.php?p=24054#p24054"
    assert first.signature is None and first.quoted == []
    assert second.text == "Here's something from a recent interview."  # no quote, no "Post subject", no signature
    assert second.quoted == [{"author": "edocronian", "post_id": None, "text": "still nothing on the next album"}]
    assert second.signature == "Since I left you"
    assert second.thread_id == "2889"
    # read alone (`brandmon parse`), the engine's reading stands: the two board links do not hide its posts
    used, alone = parse_any(SUBSILVER2, url, CTX)
    assert used == "phpbb" and len(alone.items) == 2


# Invision Community 4.7, trimmed from real go-piratia.ru topics: per post an article#elComment_N with the author
# pane (mobile copy and aside.ipsComment_author) and the content column div#comment-N_wrap, whose hidden share menu
# ends in Facebook's "sharer.php?u=<the post's address>"
_IPS4_POST = """
<article id="elComment_{pid}" class="cPost ipsBox ipsComment ipsComment_parent ipsClearfix ipsColumns">
<div class="cAuthorPane_mobile ipsResponsive_showPhone"><div class="cAuthorPane_content">
  <h3 class="ipsType_sectionHead cAuthorPane_author"><a href="https://forum.example.ru/profile/{uid}-{slug}/"
    title="Go to {name}'s profile" class="ipsType_break"><span style="color:#bd08ff">{name}</span></a></h3>
  <div class="ipsType_light ipsType_reset"><a href="https://forum.example.ru/topic/180-t/?do=findComment&amp;comment={pid}"
    class="ipsType_blendLinks">Posted <time datetime="{iso}" title="{title}">{date}</time></a></div>
</div></div>
<aside class="ipsComment_author cAuthorPane ipsColumn ipsColumn_medium ipsResponsive_hidePhone">
  <h3 class="ipsType_sectionHead cAuthorPane_author"><strong><a href="https://forum.example.ru/profile/{uid}-{slug}/"
    title="Go to {name}'s profile" class="ipsType_break">{name}</a></strong></h3>
  <ul class="cAuthorPane_info ipsList_reset"><li data-role="group"><span style="color:#bd08ff">Developer</span></li>
  <li data-role="stats"><ul class="cAuthorPane_stats"><li><a href="https://forum.example.ru/profile/{uid}-{slug}/content/"
    title="38 posts" class="ipsType_blendLinks"><i class="fa fa-comment"></i> 38</a></li></ul></li></ul>
</aside>
<div class="ipsColumn ipsColumn_fluid ipsMargin:none">
<div id="comment-{pid}_wrap" data-commentid="{pid}" class="ipsComment_content ipsType_medium">
  <div class="ipsComment_meta ipsType_light"><div class="ipsType_reset ipsResponsive_hidePhone">
    <a href="https://forum.example.ru/topic/180-t/?do=findComment&amp;comment={pid}" class="ipsType_blendLinks">Posted
    <time datetime="{iso}" title="{title}">{date}</time></a></div></div>
  <div class="cPost_contentWrap"><div data-role="commentContent" class="ipsType_normal ipsType_richText">{body}</div>
    <ul class="ipsComment_controls"><li><a href="#" data-action="quoteComment">Quote</a></li></ul></div>
  <div class="ipsPadding ipsHide cPostShareMenu" id="elShareComment_{pid}_menu">
    <h5 class="ipsType_normal ipsType_reset">Link to comment</h5><h5 class="ipsType_normal">Share on other sites</h5>
    <ul><li><a href="https://twitter.com/share?url=https%3A%2F%2Fforum.example.ru%2Ftopic%2F180-t%2F%3Fdo%3DfindComment%26comment%3D{pid}"
      class="cShareLink cShareLink_twitter" title="Share on Twitter"><i class="fa fa-twitter"></i></a></li>
    <li><a href="https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fforum.example.ru%2Ftopic%2F180-t%2F%3Fdo%3DfindComment%26comment%3D{pid}"
      class="cShareLink cShareLink_facebook" title="Share on Facebook"><i class="fa fa-facebook"></i></a></li></ul>
  </div>
</div></div>
</article>"""
_IPS4_BODIES = [
    (
        "Graf",
        38,
        "<p><strong>Проблема с кодировкой</strong></p><p>При использовании файлов .txt в кодировке UTF-8"
        " русский текст отображается неверно.</p><p>Помогите найти решение, пожалуйста)</p>",
    ),
    ("Анатолий", 600, "<p>Поставил скрипты из архива, но ошибка осталась: карта не грузится после перехода.</p>"),
    ("Timurio", 3, "<p>Привет, ошибка не в ItemInfo, ты забыл добавить карты в ScriptDefine.</p>"),
]


def _ips4_page(n: int) -> str:
    posts = "".join(
        _IPS4_POST.format(
            pid=370 + i,
            uid=uid,
            slug=name.lower(),
            name=name,
            body=body,
            iso=f"2023-11-2{i}T17:02:32Z",
            title=f"11/2{i}/23 05:02  PM",
            date=f"November 2{i}, 2023",
        )
        for i, (name, uid, body) in enumerate(_IPS4_BODIES[:n])
    )
    # the page's own words around the topic (the real page's chat box, rules, footer): the posts hold a small part
    rules = "<p>Правила форума: уважайте других участников, не публикуйте рекламу и ссылки на сторонние серверы.</p>"
    return (
        "<html><head><title>Проблема с кодировкой</title></head><body><h1>Проблема с кодировкой</h1>"
        f"{posts}<div class='ipsWidget'>{rules * 12}</div></body></html>"
    )


def test_a_share_link_naming_the_post_is_no_author_sign():
    """Facebook's "sharer.php?u=https%3A…" carries a query key that names users elsewhere ("?u=5"); its value is
    an address, so it is no profile link. Counted as one, it made each post's content column (which holds the share
    menu) look authored, and the universal extractor read the columns as the posts and a hidden "Link to comment"
    heading as their author."""
    assert not is_profile_href("https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fforum.example.ru%2Ft%2F")
    assert not is_profile_href("https://example.org/share.php?u=http://forum.example.ru/t/1")
    assert is_profile_href("./memberlist.php?mode=viewprofile&u=50579") and is_profile_href("/index.php?u=12")
    ext = universal.extract(_ips4_page(3), "https://forum.example.ru/topic/180-t/", CTX, with_article=False)
    assert ext.method == "dom"
    assert [(it.post_id, it.author) for it in ext.result.items] == [
        ("elComment_370", "Graf"),
        ("elComment_371", "Анатолий"),
        ("elComment_372", "Timurio"),
    ]


def test_a_single_posts_author_pane_is_not_a_comment_beside_it():
    """A topic of one post: its author pane (aside.ipsComment_author, a name and a post count) sits inside the
    post like a comment would, but a set whose class names a post's part (author, date, quote, buttons) is never
    the comments. It was, and the post came out as "Developer 38" by the pane's name, without a date."""
    ext = universal.extract(_ips4_page(1), "https://forum.example.ru/topic/180-t/", CTX, with_article=False)
    assert ext.method == "dom"
    [post] = ext.result.items
    assert (post.post_id, post.author, post.posted_at) == ("elComment_370", "Graf", "2023-11-20T17:02:32+00:00")
    assert "При использовании файлов .txt" in post.text and "Developer" not in post.text


# GNU Mailman 2's pipermail message page (article.html template), trimmed from a real Twisted-Python message, with
# a signature and the list footer Mailman appends added as its archives show them
PIPERMAIL = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2//EN">
<HTML><HEAD><TITLE> [Twisted-Python] how manual run LoopingCall.f</TITLE>
   <LINK REL="Index" HREF="index.html" >
   <LINK REL="made" HREF="mailto:twisted-python%40twistedmatrix.com?Subject=Re&In-Reply-To=d59a9487%40mail.gmail.com">
   <LINK REL="Previous"  HREF="021280.html"><LINK REL="Next"  HREF="021282.html">
 </HEAD><BODY BGCOLOR="#ffffff">
   <H1>[Twisted-Python] how manual run LoopingCall.f</H1>
    <B>Glyph Lefkowitz</B>
    <A HREF="mailto:twisted-python%40twistedmatrix.com?Subject=Re&In-Reply-To=d59a9487%40mail.gmail.com"
       TITLE="[Twisted-Python] how manual run LoopingCall.f">glyph at example.org
       </A><BR>
    <I>Fri Jan  1 05:10:25 EST 2010</I>
    <P><UL>
        <LI>Previous message: <A HREF="021280.html">[Twisted-Python] Lore to Sphinx Conversion</A></li>
        <LI>Next message: <A HREF="021282.html">[Twisted-Python] Problem fetching page with getPage</A></li>
         <LI> <B>Messages sorted by:</B>
              <a href="date.html#21281">[ date ]</a> <a href="thread.html#21281">[ thread ]</a>
         </LI>
       </UL>
    <HR>
<!--beginarticle-->
<PRE>
On Dec 28, 2009, at 8:05 AM, ploutosss ploutosss wrote:

&gt;<i> When I need to perform some function with a time interval of less than
</I>&gt;<i> one second, LoopingCall too slow.
</I>
LoopingCall was originally designed for playback of voice samples.

&gt;<i>        looping_instance = self.looping
</I>
You should be using its &quot;start&quot; method.

Good luck!
--\x20
Glyph
-------------- next part --------------
An HTML attachment was scrubbed...
URL: http://twistedmatrix.com/pipermail/twisted-python/attachments/20100101/0e2a/attachment.htm
_______________________________________________
Twisted-Python mailing list
<A HREF="http://twistedmatrix.com/cgi-bin/mailman/listinfo/twisted-python">http://twistedmatrix.com/cgi-bin/mailman/listinfo/twisted-python</A>
</PRE>
<!--endarticle-->
    <HR>
    <P><UL>
        <!--threads-->
	<LI>Previous message: <A HREF="021280.html">[Twisted-Python] Lore to Sphinx Conversion</A></li>
       </UL>
<hr>
<a href="http://twistedmatrix.com/cgi-bin/mailman/listinfo/twisted-python">More information about the list</a><br>
</body></html>"""

# a month's thread index as pipermail writes it (thread.html), trimmed
PIPERMAIL_INDEX = """<html><head><title>The Twisted-Python January 2010 Archive by thread</title></head><body>
<h1>January 2010 Archives by thread</h1>
<ul><li> <b>Messages sorted by:</b> <a href="subject.html#start">[ subject ]</a> <a href="date.html#start">[ date ]</a></li>
<li><b><a href="http://twistedmatrix.com/cgi-bin/mailman/listinfo/twisted-python">More info on this list...</a></b></li>
</ul><p><b>Starting:</b> <i>Fri Jan  1 05:10:25 EST 2010</i><br></p><ul>
<!--threads-->
<!--0 01262325025.21281- -->
<LI><A HREF="021281.html">[Twisted-Python] how manual run LoopingCall.f
</A><A NAME="21281">&nbsp;</A>
<I>Glyph Lefkowitz
</I>
<UL><!--1 01262325025.21281-01262400000.21290- -->
<LI><A HREF="021290.html">[Twisted-Python] how manual run LoopingCall.f
</A><A NAME="21290">&nbsp;</A>
<I>ploutosss ploutosss
</I></UL>
</ul></body></html>"""


def test_pipermail_message_page_reads_sender_date_and_own_words():
    url = "http://twistedmatrix.com/pipermail/twisted-python/2010-January/021281.html"
    assert detect_engine(PIPERMAIL) == "pipermail"
    used, res = parse_any(PIPERMAIL, url, CTX)
    assert used == "pipermail" and res.next_url is None  # "Next message" is the next mail by date, not a page
    [post] = res.items
    assert (post.post_id, post.author, post.posted_at) == ("21281", "Glyph Lefkowitz", "2010-01-01T10:10:25+00:00")
    assert post.thread_title == "[Twisted-Python] how manual run LoopingCall.f"
    # the attribution and the quoted lines are quotes; the signature and the list footer are not the words
    assert post.text == (
        "LoopingCall was originally designed for playback of voice samples.\n\n"
        'You should be using its "start" method.\n\nGood luck!'
    )
    assert [(q["author"], q["text"]) for q in post.quoted] == [
        (
            "ploutosss ploutosss",
            "When I need to perform some function with a time interval of less than\none second, LoopingCall too slow.",
        ),
        (None, "looping_instance = self.looping"),
    ]
    assert post.signature == "Glyph"


def test_pipermail_month_index_links_its_messages():
    url = "http://twistedmatrix.com/pipermail/twisted-python/2010-January/thread.html"
    assert detect_engine(PIPERMAIL_INDEX) == "pipermail"
    res = parse_page(PIPERMAIL_INDEX, url, "auto", CTX)
    assert res.items == []
    assert [(t.url.rsplit("/", 1)[-1], t.thread_id) for t in res.thread_links] == [
        ("021281.html", "21281"),  # the message pages' own ids
        ("021290.html", "21290"),
    ]


# OSQA (help.openstreetmap.org as a static archive keeps it: user links dropped, names in plain spans), trimmed
# from a real question page: per answer its body, a user card ("answered <strong>27 Jul '12, 13:19</strong>", the
# name with a moderator's diamond, reputation) and comments each with an age and a user of their own
_OSQA_CARD = """<div class="post-update-info-container"><div class="post-update-info post-update-info-user">
<p>{verb} <strong>{date}</strong></p>
<img src="https://secure.gravatar.com/avatar/52d3?s=32" class="gravatar" width="32" height="32" alt="{name}'s gravatar image" />
<p><span>{name}</span><br /><span class="score" title="33317 reputation points"><span>33.3k</span></span>
<span title="21 badges"><span class="badge1">●</span><span class="badgecount">21</span></span><br />
<span class="accept_rate" title="Rate of the user's accepted answers">accept rate:</span> <span>23%</span></p>
</div></div>"""
_OSQA_COMMENT = """<span id="{cid}"></span><div id="comment-{cid}" class="comment">
<div id="post-{cid}-score" class="comment-score">2</div>
<div class="comment-text"><p>{text}</p></div>
<div id="comment-{cid}-info" class="comment-info"><span class="comment-age">({date})</span>
<span class="comment-user userinfo">{user}</span></div></div>"""


def _osqa_answer(aid: int, name: str, date: str, body: str, comments: list[tuple]) -> str:
    return (
        f'<span id="{aid}"></span><div id="answer-container-{aid}" class="answer"><table style="width:100%;"><tbody>'
        f'<tr><td><div class="vote-buttons"><div id="post-{aid}-score" class="post-score">8</div></div></td>'
        f'<td><div class="item-right"><div class="answer-body">{body}</div>'
        f'<div class="answer-controls post-controls">&#10;</div>'
        + _OSQA_CARD.format(verb="answered", date=date, name=name)
        + f'<div id="comments-container-{aid}" class="comments-container">'
        + "".join(_OSQA_COMMENT.format(cid=c, text=t, date=d, user=u) for c, t, d, u in comments)
        + "</div></div></td></tr></tbody></table></div>"
    )


OSQA = (
    "<div class='headNormal'><h1>Is it possible to get a list of objects with two specific tags?</h1></div>"
    "<div id='main-body'><table id='question-table'><tbody><tr><td><div class='vote-buttons'>3</div></td><td>"
    "<div id='item-right'><div class='question-body'><p>For example, I might want a list of rail trails: objects"
    " tagged highway=cycleway and railway=abandoned.</p></div>"
    + _OSQA_CARD.format(verb="asked", date="22 Jul '10, 02:06", name="NE2")
    + "</div></td></tr></tbody></table><div class='tabBar'><h2>2 Answers:</h2></div>"
    + _osqa_answer(
        14649,
        "scai ♦",
        "27 Jul '12, 13:19",
        "<p>Meanwhile there is the new Overpass API allowing to search for objects with two or more tags.</p>",
        [
            (
                40239,
                "In the meantime it is even simpler: go to overpass-turbo, open the wizard and enter the query.",
                "12 Jan '15, 12:52",
                "aseerel4c26 ♦",
            )
        ],
    )
    + _osqa_answer(
        419,
        "Frederik Ramm ♦",
        "22 Jul '10, 09:23",
        "<p>No, it is currently not possible. XAPI as well as the API only support searching for one tag.</p>",
        [
            (888, "How do I search even for one tag? For example: name=Metuje. Thanks.", "21 Sep '10, 16:47", "Kozuch"),
            (920, "@Kozuch: see the Xapi page on the wiki.", "24 Sep '10, 23:47", "Mormegil"),
        ],
    )
    + "</div>"
)


def test_osqa_answers_read_with_short_year_dates_plain_names_and_their_comments_apart():
    """Three general rules on one Q&A page: a date with its year shortened ("27 Jul '12", "Jul 27 '12") is a date;
    comments inside a post, each with its own user and age, are not the post's words or author even when the
    post's own name shows no author sign (a plain span); and a badge a space after a name ("scai ♦") is not part
    of it. Before: every answer was by its "answered …" line, undated, and the first one's words were its comment."""
    assert looks_like_date("27 Jul '12, 13:19") and looks_like_date("asked Jul 27 '12 at 13:19")
    assert not looks_like_date("rock 'n' roll 5 May '123")
    ext = universal.extract(OSQA, "https://help.openstreetmap.org/questions/417/", CTX, with_article=False)
    posts = [it for it in ext.result.items if (it.extra or {}).get("item_type") != "article"]
    assert [(p.author, p.posted_at) for p in posts] == [
        ("scai", "2012-07-27T13:19:00+00:00"),
        ("Frederik Ramm", "2010-07-22T09:23:00+00:00"),
    ]
    assert (
        posts[0].text == "Meanwhile there is the new Overpass API allowing to search for objects with two or more tags."
    )
    assert "Kozuch" not in posts[1].text and posts[1].text.startswith("No, it is currently not possible.")


# XenForo 2.2, trimmed from a real pkodev.com thread: a code block carries its language as a title row
XF2_CODE = """<html><head><title>Ник и уровень | PKOdev</title></head><body><div class="block-body">
<article class="message message--post js-post" data-author="Grim4ik" data-content="post-146" id="js-post-146">
<div class="message-inner"><div class="message-cell message-cell--user"><h4 class="message-name">
<a href="https://pkodev.com/members/grim4ik.9/" class="username" data-user-id="9">Grim4ik</a></h4></div>
<div class="message-cell message-cell--main"><header class="message-attribution"><ul class="message-attribution-main">
<li><a href="/threads/121/post-146"><time class="u-dt" datetime="2024-03-01T12:00:00+0300" data-timestamp="1709283600">
Mar 1, 2024</time></a></li></ul></header>
<div class="message-content"><article class="message-body js-selectToQuote"><div class="bbWrapper">
Открываем <b>UIHeadSay.cpp</b><br><br>Находим:<br><br><div class="bbCodeBlock bbCodeBlock--screenLimited bbCodeBlock--code">
<div class="bbCodeBlock-title">C++:</div><div class="bbCodeBlock-content" dir="ltr">
<pre class="bbCodeCode" dir="ltr" data-lang="cpp"><code>for (int i(0); i&lt;NAME_PART_NUM; i++)</code></pre></div></div>
</div></article></div></div></div></article></div><p>Powered by XenForo</p></body></html>"""


def test_xenforo2_code_block_title_is_not_the_posters_words():
    res = parse_page(XF2_CODE, "https://pkodev.com/threads/121/", "xenforo", CTX)
    [post] = res.items
    assert post.author == "Grim4ik"
    assert post.text == "Открываем UIHeadSay.cpp\n\nНаходим:\n\nfor (int i(0); i<NAME_PART_NUM; i++)"


def test_a_name_written_as_a_panels_first_words_is_read_when_the_avatar_names_it():
    """ask.wireshark.org's OSQA archive writes the poster as the first words of the card's panel, before a line
    break, with no element of its own ("Bill Meier ♦♦<br>3.2k …"); the avatar's alt names the same user, URL-encoded
    ("Bill%20Meier's gravatar image"). Before, the answers were by their reputation ("3.2k")."""
    page = OSQA.replace("<p><span>scai ♦</span><br />", "<p>Bill Meier ♦♦<br />").replace(
        'alt="scai ♦\'s gravatar image"', 'alt="Bill%20Meier\'s gravatar image"'
    )
    page = page.replace("<p><span>Frederik Ramm ♦</span><br />", "<p>SYN-bit ♦♦<br />").replace(
        'alt="Frederik Ramm ♦\'s gravatar image"', 'alt="SYN-bit\'s gravatar image"'
    )
    assert "Bill%20Meier's" in page and "<span>" + "scai" not in page
    ext = universal.extract(page, "https://ask.wireshark.org/questions/12360/", CTX, with_article=False)
    posts = [it for it in ext.result.items if (it.extra or {}).get("item_type") != "article"]
    assert [(p.author, p.posted_at) for p in posts] == [
        ("Bill Meier", "2012-07-27T13:19:00+00:00"),
        ("SYN-bit", "2010-07-22T09:23:00+00:00"),
    ]


# a static archive of an SMF board (opendcl.com), trimmed: the post opens with a bold "Question:" label
STATIC_QA = """<html><head><title>Modal form pick point</title></head><body><main><h1>Modal form pick point</h1>
<article class="post" id="msg5675"><div class="post-head"><span class="post-author">fred_tomke</span>
<span class="post-date muted">2009-12-14 11:18 UTC</span></div>
<div class="post-body"><strong>Question:</strong><br>
I want to pick a point in AutoCAD while a modal form is showing.<br><br><strong>Answer:</strong><br>
You can hide the form, pick the point and show the form again.</div></article>
<article class="post" id="msg5676"><div class="post-head"><span class="post-author">owenwengerd</span>
<span class="post-date muted">2009-12-14 15:02 UTC</span></div>
<div class="post-body"><strong>Quote:</strong><br><blockquote>pick a point</blockquote>Use the form's hide method,
then show it again when the point is picked.</div></article></main></body></html>"""


def test_a_bold_label_ending_in_a_colon_is_the_posters_words_unless_it_heads_a_quote():
    ext = universal.extract(STATIC_QA, "https://forums.example.com/topic/1080/", CTX, with_article=False)
    first, second = ext.result.items
    assert first.author == "fred_tomke"
    assert first.text.startswith("Question:\nI want to pick a point in AutoCAD")
    assert second.text.startswith("Use the form's hide method") and "Quote:" not in second.text
