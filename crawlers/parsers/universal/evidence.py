"""Signs that a piece of markup is a date, an author or page chrome, shared by record mining and field reading.

Every rule here is about the shape of the web in general (a profile link's URL, a date's wording, a class name
saying "author" or "quote"), never about one site.
"""

from __future__ import annotations

import re
from functools import lru_cache

from crawlers.dates import MONTHS, UNIT_OF

# month names of other languages forums and blogs are written in: only to see that a text is a date (the
# date itself is read by crawlers.dates, whose fallback knows these languages)
_MORE_MONTHS = (
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre "  # es
    "januar februar märz mai juni juli oktober dezember jän "  # de
    "janvier février fevrier mars avril juin juillet août aout septembre octobre novembre décembre "  # fr
    "gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre "  # it
    "janeiro fevereiro março maio junho julho setembro outubro novembro dezembro "  # pt
    "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада грудня "  # uk
    "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada grudnia"  # pl
).split()
_MONTH = "|".join(sorted({re.escape(m) for m in (*MONTHS, *_MORE_MONTHS)}, key=len, reverse=True))
_UNIT = "|".join(sorted((re.escape(u) for u in UNIT_OF if len(u) > 1), key=len, reverse=True))

# a date as a post header shows it; a bare time or a bare number is not enough
DATE_RX = re.compile(
    r"(?<!\d)\d{4}([-/.])\d{1,2}\1\d{1,2}(?!\d)"
    r"|(?<![\d.])\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})(?![\d.])"
    r"|(?<![\w])\d{1,2}(?:st|nd|rd|th|\.)?\s+(?:de\s+)?(?:" + _MONTH + r")\.?,?\s+(?:de\s+)?"
    r"(?:\d{4}|['’]\d{2}(?!\d)|(?:в\s+|at\s+)?\d{1,2}:\d{2})"  # '12: a year as Q&A sites shorten it ("27 Jul '12")
    r"|(?<![\w])(?:" + _MONTH + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+(?:\d{4}|['’]\d{2}(?!\d)|(?:at\s+)?\d{1,2}:\d{2})"
    r"|(?<![\w])\d{1,2}-(?:" + _MONTH + r")-(?:\d{4}|\d{2})(?![\w])"  # "31-Jul-08", "23-Июн-26" (TorrentPier)
    r"|(?<![\w])(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+\d{1,2}(?:st|nd|rd|th)?\s+(?:" + _MONTH + r")(?![\w])"
    r"|(?<![\w])(?:понедельник|вторник|среда|четверг|пятница|суббота|воскресенье),?\s+\d{1,2}\s+(?:" + _MONTH + r")"
    r"(?![\w])"
    r"|(?<![\w])(?:today|yesterday|сегодня|вчера)(?![\w'’])[,\s]{0,3}(?:at\s+|в\s+)?\d{1,2}:\d{2}"
    r"|(?<![\w])(?:(?:\d+|an?|one|few|одну|один|несколько)\s+)?(?:" + _UNIT + r")\.?\s+(?:ago|назад)(?![\w])"
    r"|(?<![\w])(?:just now|только что)(?![\w])",
    re.IGNORECASE,
)

# labels that turn a date into something other than the post's own date (a profile's join date, an edit note)
NOT_POST_DATE = re.compile(
    r"join|regist|member since|since:|зарегистр|регистрац|с нами|last (?:seen|visit|active|edited)|edited|"
    r"изменен|отредакт|редактир|был[ао]? в сети|birthday|день рождения|последн",
    re.IGNORECASE,
)

# a link to a user's page: a path segment or query key naming users, or an @handle; a key whose value is an
# address names a page to share, not a user ("facebook.com/sharer/sharer.php?u=https%3A%2F%2F…")
PROFILE_HREF = re.compile(
    r"(?:^|/)(?:users?|members?|profiles?|authors?|people|u|usr|accounts?|user-?profile|userinfo)/[^/?#]+"
    r"|[?&;](?:u|uid|user|userid|user_id|username|showuser|member|memberid|mid|who)=(?!(?:https?|ftp)(?::|%3a))[^&#]+"
    r"|(?:^|/)(?:users?|members?|profiles?|u)(?:\.\w+)?\?(?:id|name|u|user|uid)=[^&#]+"
    r"|(?:member|profile|userinfo|showprofile|viewprofile|user)\.(?:php|aspx?|cgi|pl|html?)"
    r"|mode=viewprofile|action=profile|showuser=|/@[\w.-]+/?$|/~[\w.-]+/?$|/id\d+/?$"
    r"|^(?:https?:)?//[^/]+/(?:profile|userinfo|about-?me)/?$",  # a blog host's own profile page (name.host/profile)
    re.IGNORECASE,
)

AUTHOR_HINT = re.compile(
    r"author|user-?name|user_name|nick|poster|creator|byline|commenter|\blogin\b|^fn$|"
    r"(?:^|[-_])user$|^[a-z]{1,3}user$|"
    r"(?:^|[-_])name(?:$|[-_])|^name$|^user$|^username$|postername|membername|^full-?name$|display-?name",
    re.IGNORECASE,
)
# a byline written out in words: "Posted by Kyria on 09-11-2001", "Автор: Иван", "anna wrote:"
BYLINE = re.compile(
    r"^\s*(?:(?:posted|written|submitted|sent|reply|comment)\s+by|by|автор|от|отправлено|написал[аи]?)\s*:?\s+"
    r"(?P<a>[^\s:,;]{2,40}(?:\s(?!(?:on|at|в)\s)[^\s:,;]{2,20})?)\s+(?:on|at|@|»|-|—|,|в|\d)"
    r"|^\s*(?P<b>[^\s:,;]{2,40})\s+(?:wrote|writes|said|says|пишет|написал[аи]?)\b",
    re.IGNORECASE,
)

# the names an engine gives a poster who did not sign in
ANONYMOUS = re.compile(
    r"^(?:аноним(?:ус)?|anonymous|anon|guest|гость|безымянный|unknown|unregistered|"
    r"незарегистрированный)$",
    re.IGNORECASE,
)
DATE_HINT = re.compile(r"date|time|posted|published|created|stamp|ago|когда", re.IGNORECASE)
# a quote block's class: a word of it starts with "quote" ("bbCodeQuote", "quotecontent", "post-quote"), but
# not an action on quotes ("SelectQuoteContainer", "multiquote" buttons)
QUOTE_HINT = re.compile(
    r"^(?!select|multi|insert|reply|add|do|js)(?:[a-z]*[-_])*(?:[a-z]*[a-z](?=Q))?"
    r"(?:quote|Quote|QUOTE|citation|цитат)|^cite$|^blockquote$|^bbcode_?q",
    re.IGNORECASE,
)
SIGNATURE_HINT = re.compile(r"signature|^sig$|^sig[-_]|подпис", re.IGNORECASE)
CHROME_HINT = re.compile(
    r"button|btn|toolbar|actions?$|controls?$|reply-?link|share|^like|likes-?bar|vote|"
    r"report|menu|footer|social|rating|reactions?|karma|reputation|avatar|badge|rank|"
    r"^meta$|^hidden$|sr-only|visually-?hidden|tooltip|popup|modal|dropdown",
    re.IGNORECASE,
)
# a poster panel's lines: how many posts the poster wrote, since when they are a member ("Posts: 41", "Joined: Mar
# 2011", "Сообщений: 12", "Зарегистрирован: 02.05.2011"); an article's byline says neither, nor do a post's words
_PANEL_LINE = re.compile(
    r"^\s*(?:posts|messages|total posts|joined|registered|member since|"
    r"сообщений|сообщения|зарегистрирован\w*|регистрация|с нами)\s*:?\s*\S",
    re.IGNORECASE,
)


def poster_panel(text: str) -> bool:
    """Whether a text has a line of a poster panel: the poster's post count or membership date, with a number."""
    return any(len(line) < 60 and _PANEL_LINE.match(line) and re.search(r"\d", line) for line in text.split("\n"))


RECORD_HINT = re.compile(r"post|comment|message|msg|reply|repl|answer|entry|note|review|cmt|коммент", re.IGNORECASE)
# a record's own wrapper kinds that are never one post: page furniture
NOT_RECORD_TAGS = {
    "html",
    "head",
    "body",
    "form",
    "select",
    "option",
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "button",
    "a",
    "img",
    "br",
    "hr",
    "input",
    "label",
    "svg",
    "path",
    "time",
    "abbr",
    "b",
    "i",
    "strong",
    "em",
    "span",
    "font",
    "small",
    "sup",
    "sub",
    "u",
    "s",
    "code",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "cite",
    "blockquote",
    "q",
    "iframe",
    "noscript",
    "thead",
}
DATE_ATTRS = (
    "datetime",
    "data-time",
    "data-timestamp",
    "data-datetime",
    "data-date",
    "data-utime",
    "data-created",
    "data-published",
    "content",
)


def classes(el) -> list[str]:
    """Class words that describe what an element is: "js-*" words only hook up scripts ("js-selectToQuote")."""
    return [c for c in (el.get("class") or "").split() if not c.startswith("js")]


def marked(el, rx: re.Pattern, unless: re.Pattern | None = None) -> bool:
    """Whether one of the element's class words (or its itemprop) matches `rx` (and not `unless`: an
    "author_buttons" bar is buttons, not an author)."""
    c = el.get("class")
    if c and any(rx.search(t) and not (unless and unless.search(t)) for t in c.split() if not t.startswith("js")):
        return True
    p = el.get("itemprop")
    return bool(p and rx.search(p))


def hint_of(el) -> str:
    """The words an element's markup uses about itself: classes, id, itemprop, role, data-role."""
    return " ".join(
        filter(None, (el.get("class"), el.get("id"), el.get("itemprop"), el.get("role"), el.get("data-role")))
    )


def any_token(el, rx: re.Pattern) -> bool:
    return (
        any(rx.search(t) for t in classes(el))
        or bool(el.get("itemprop") and rx.search(el.get("itemprop")))
        or bool(el.get("id") and rx.search(el.get("id")))
    )


_PROFILE_PRE = re.compile(
    r"user|member|profile|author|people|/u/|u=|uid|who=|mid=|/@|/~|/id\d|account|usr", re.IGNORECASE
)
# every date form above has a digit or one of these words: a cheap test first (most text is not a date)
_DATE_PRE = re.compile(r"\d|ago\b|назад|just now|только что", re.IGNORECASE)


@lru_cache(maxsize=8192)
def is_profile_href(href: str | None) -> bool:
    if not href:
        return False
    return (
        not href.startswith(("javascript:", "mailto:"))
        and bool(_PROFILE_PRE.search(href))
        and bool(PROFILE_HREF.search(href))
    )


def looks_like_date(s: str | None) -> bool:
    if not s:
        return False
    return len(s) < 120 and bool(_DATE_PRE.search(s)) and bool(DATE_RX.search(s))


def date_attr(el) -> str | None:
    """A date an element carries in an attribute (<time datetime>, data-timestamp, title="12.03.2021 14:00")."""
    for a in DATE_ATTRS:
        v = el.get(a)
        if v and (a != "content" or el.get("itemprop", "").startswith("date")):
            v = v.strip()
            if re.fullmatch(r"\d{10}(?:\d{3})?", v) or looks_like_date(v) or re.match(r"\d{4}-\d{2}-\d{2}", v):
                return v
    t = el.get("title")
    if t and looks_like_date(t):
        return t.strip()
    return None
