"""Each channel's formatting keeps scraped text inert: no links, tags or formatting it did not have as text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from pipeline.config import NotifyChannel
from pipeline.notify.channels.email import build_email
from pipeline.notify.channels.telegram import LIMIT, telegram_text
from pipeline.notify.channels.webhook import webhook_body
from pipeline.notify.message import Message

EVIL = "[click](javascript:alert(1)) <b>x</b> **bold** <http://evil.example|here> @channel & co"


def _msg(quote: str = EVIL) -> Message:
    return Message(
        title="[brandmon] CRITICAL escalation: Посылкин",
        facts=[f"by {EVIL}"],
        why="threat 0.98×0.20=0.20",
        quote=quote,
        links=[("Open in brandmon", "http://dash.example/queue?item=ab|cd")],
    )


def test_mattermost_markdown_cannot_form_links_or_emphasis():
    text = webhook_body(NotifyChannel(kind="webhook", flavor="mattermost"), _msg())["text"]
    links = re.findall(r"(?<!\\)\[([^\]]*)\]\(([^)]*)\)", text)
    assert links == [("Open in brandmon", "http://dash.example/queue?item=ab%7Ccd")]
    assert r"\*\*bold\*\*" in text and r"\<b\>x\</b\>" in text


def test_slack_text_has_only_our_link():
    text = webhook_body(NotifyChannel(kind="webhook"), _msg())["text"]
    assert re.findall(r"<([^>]*)>", text) == ["http://dash.example/queue?item=ab%7Ccd|Open in brandmon"]


def test_telegram_html_is_valid_and_a_long_post_is_cut_inside_the_quote():
    text = telegram_text(_msg(quote="жалоба " * 2000))
    assert len(text) <= LIMIT and text.count("<blockquote>") == text.count("</blockquote>") == 1
    tags = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append(tag)

    P().feed(text)
    assert sorted(set(tags)) == ["a", "b", "blockquote"]  # the post's <b> is text, not a tag
    assert text.count("<a ") == 1 and "&lt;b&gt;x&lt;/b&gt;" in text


def test_email_html_part_escapes_and_the_text_part_is_verbatim():
    cfg = NotifyChannel(kind="email", smtp_host="h", sender="a@example.org", to=["b@example.org", "c@example.org"])
    mail = build_email(cfg, _msg(), "k123")
    assert mail["To"] == "b@example.org, c@example.org" and mail["Message-ID"] == "<k123@brandmon>"
    assert EVIL in mail.get_body(("plain",)).get_content()
    page = mail.get_body(("html",)).get_content()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page and page.count("<a ") == 1
