"""General markup rules of the engine parsers and the universal extractor, each on a minimal snippet of the real
markup that showed it (the corpus pages in tests/crawlers/real_pages/dev keep the whole pages)."""

from __future__ import annotations

from crawlers.parsers import ParseContext, parse_any, parse_page

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
