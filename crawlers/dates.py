"""Dates as forums show them → timezone-aware datetimes.

Handles Russian and English absolute forms ("12.11.2013, 17:16", "3 мая 2024 в 10:15", "Пн ноя 12, 2013 17:16",
"Sun May 26, 2019 4:34 pm", "06-15-2016, 03:03 PM", ISO 8601, unix timestamps) and relative ones
("Сегодня, 17:16", "вчера в 09:05", "2 часа назад", "Yesterday at 5:16 PM", "just now"). Naive values are
read in the source's time zone. `now` is injectable so relative forms are testable to the exact instant.
The hand-written path is tried first (it is ~50x faster); dateparser is only the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MONTHS = {
    # Russian: nominative, genitive, abbreviations
    "январь": 1,
    "января": 1,
    "янв": 1,
    "февраль": 2,
    "февраля": 2,
    "фев": 2,
    "февр": 2,
    "март": 3,
    "марта": 3,
    "мар": 3,
    "апрель": 4,
    "апреля": 4,
    "апр": 4,
    "май": 5,
    "мая": 5,
    "июнь": 6,
    "июня": 6,
    "июн": 6,
    "июль": 7,
    "июля": 7,
    "июл": 7,
    "август": 8,
    "августа": 8,
    "авг": 8,
    "сентябрь": 9,
    "сентября": 9,
    "сен": 9,
    "сент": 9,
    "октябрь": 10,
    "октября": 10,
    "окт": 10,
    "ноябрь": 11,
    "ноября": 11,
    "ноя": 11,
    "нояб": 11,
    "декабрь": 12,
    "декабря": 12,
    "дек": 12,
    # English
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}

NOISE_WORDS = {
    "пн",
    "вт",
    "ср",
    "чт",
    "пт",
    "сб",
    "вс",
    "понедельник",
    "вторник",
    "среда",
    "четверг",
    "пятница",
    "суббота",
    "воскресенье",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "в",
    "at",
    "on",
    "г",
    "года",
    "год",
    "гг",
    "posted",
    "опубликовано",
    "добавлено",
    "отправлено",
    "сообщение",
    "написано",
    "the",
    "of",
    "от",
    "utc",
    "мск",
    "msk",
    "gmt",
}

UNITS = {
    "s": ("сек", "секунд", "секунда", "секунду", "секунды", "second", "seconds", "sec", "secs"),
    "m": ("мин", "минут", "минута", "минуту", "минуты", "minute", "minutes", "min", "mins"),
    "h": ("ч", "час", "часа", "часов", "hour", "hours", "hr", "hrs"),
    "d": ("день", "дня", "дней", "day", "days", "сутки", "суток"),
    "w": ("неделя", "неделю", "недели", "недель", "нед", "week", "weeks"),
    "M": ("месяц", "месяца", "месяцев", "мес", "month", "months"),
    "y": ("год", "года", "лет", "year", "years"),
}
UNIT_OF = {w: u for u, ws in UNITS.items() for w in ws}

NUMBER_WORDS = {
    "один": 1,
    "одна": 1,
    "одну": 1,
    "одного": 1,
    "a": 1,
    "an": 1,
    "one": 1,
    "два": 2,
    "две": 2,
    "two": 2,
    "три": 3,
    "three": 3,
    "четыре": 4,
    "four": 4,
    "пять": 5,
    "five": 5,
    "шесть": 6,
    "six": 6,
    "семь": 7,
    "seven": 7,
    "восемь": 8,
    "eight": 8,
    "девять": 9,
    "nine": 9,
    "десять": 10,
    "ten": 10,
    "несколько": 3,
    "пару": 2,
    "пара": 2,
    "few": 3,
}

DAY_WORDS = {
    "сегодня": 0,
    "today": 0,
    "вчера": -1,
    "yesterday": -1,
    "позавчера": -2,
    "завтра": 1,
    "tomorrow": 1,
}
NOW_WORDS = ("только что", "just now", "сейчас", "now", "moments ago", "a moment ago", "несколько секунд назад")

_TIME = re.compile(r"(?<![\d.])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(a\.?m\.?|p\.?m\.?)?(?![\d])", re.I)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})?$", re.I)
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,4})([./-])(\d{1,2})\2(\d{2,4})(?!\d)")
_RELATIVE = re.compile(r"(?<![a-zа-яё\d])(?:(\d+|[a-zа-яё]+)\s*?\s)?\s*([a-zа-яё]+)\.?\s+(назад|ago)\b")
_CLEAN = re.compile(r"[«»\u00ab\u00bb|•·,;()\[\]]+")


@lru_cache(maxsize=64)
def _zone(tz: str | None) -> ZoneInfo:
    return ZoneInfo(tz or "Europe/Moscow")


def parse_date(
    text: str | None,
    tz: str | None = "Europe/Moscow",
    now: datetime | None = None,
    *,
    fallback: bool = True,
    order: str | None = None,
) -> datetime | None:
    """Parse `text` to an aware datetime in `tz` (or the offset given in the text); None when not a date.

    `order` ("DMY" or "MDY") reads an all-numeric date whose first two numbers could both be a month
    ("05-06-2016", "05/06/2016") that way; without it "-" is read month first (vBulletin's US default) and "." or
    "/" day first. A date that only one order makes valid is read that way either way."""
    if text is None:
        return None
    zone = _zone(tz)
    now = (now or datetime.now(UTC)).astimezone(zone)
    s = " ".join(str(text).replace("\u00a0", " ").replace("\u202f", " ").split()).strip().lower()
    if not s:
        return None
    out = _parse_fast(s, zone, now, order)
    if out is None and fallback:
        out = _parse_dateparser(s, zone, now)
    return out


# A board's footer stating the zone its times are shown in: phpBB 3.1+ "All times are UTC-06:00", phpBB 3.0 "All
# times are UTC + 3 hours [ DST ]" / "Часовой пояс: UTC + 4 часа [ Летнее время ]", phpBB 2 "All times are GMT + 3
# Hours", vBulletin "All times are GMT -5. The time now is …" / "Часовой пояс GMT +3, время: 17:16."; a bare
# "UTC"/"GMT" is offset zero. Minutes ("+05:30", vBulletin's "+5.5") are captured so they are not read as whole hours.
_BOARD_TZ = re.compile(
    r"(?:All times are|Часовой пояс|Все времена?|Время:?)\s*:?\s*(?:UTC|GMT)\b"
    r"(?:\s*(?P<sign>[+\-\u2212])\s*(?P<h>\d{1,2})(?:[:.,]?(?P<m>\d{1,2}))?(?!\d)|(?!\s*[+\-\u2212]\s*\d))"
    r"(?:\s*(?:hours?|час(?:а|ов)?)\b)?"
    r"(?:\s*\[\s*(?P<dst>DST|Летнее время)\s*\])?",
    re.I,
)


def board_tz_from_text(text: str) -> str | None:
    """The zone a forum footer says its times are shown in, as a name `parse_date` takes ("UTC", "Etc/GMT-3" for
    UTC+3); None when none is stated, or the offset is not whole hours or outside UTC-12..UTC+14 (zones are names
    read by ZoneInfo and dateparser, and Etc/GMT names exist only for whole hours in that range)."""
    m = _BOARD_TZ.search(text)
    if not m or int(m.group("m") or 0):
        return None
    hours = int(m.group("h") or 0) * (-1 if m.group("sign") in ("-", "\u2212") else 1)
    if m.group("dst"):
        hours += 1  # phpBB 3.0 shows times an hour ahead of the stated zone while DST is on
    if not -12 <= hours <= 14:
        return None
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"  # Etc/GMT names invert the sign


def numeric_date_order(raws: Iterable[str | None]) -> str | None:
    """The order ("DMY"/"MDY") to read a page's all-numeric dates in, when some of them can only be read one way
    ("25-03-2013" is day first), none contradicts it, and some ambiguous one ("05-03-2013") would otherwise be read
    the other way by its separator's default; else None.

    A board shows every date in one format, so one "25-03-2013" settles how its "05-03-2013" reads."""
    day_first = month_first = False
    ambiguous: set[str] = set()  # separators of dates both orders could read
    for raw in raws:
        # the date the reader (_numeric_date) takes from each string, day or month first
        m = _NUMERIC_DATE.search(raw or "")
        if m is None or len(m.group(1)) > 2:
            continue
        a, b = int(m.group(1)), int(m.group(3))
        day_first |= a > 12 >= b
        month_first |= b > 12 >= a
        if a <= 12 and b <= 12 and a != b:
            ambiguous.add(m.group(2))
    if day_first == month_first:
        return None
    if day_first and "-" in ambiguous:  # "-" reads month first by default
        return "DMY"
    if month_first and ambiguous & {"/", "."}:  # "/" and "." read day first by default
        return "MDY"
    return None


# --------------------------------------------------------------------------------------------- internals


def _parse_fast(s: str, zone: ZoneInfo, now: datetime, order: str | None = None) -> datetime | None:
    # unix timestamps (seconds or milliseconds)
    if s.isdigit() and len(s) in (10, 13):
        ts = int(s) / (1000 if len(s) == 13 else 1)
        return datetime.fromtimestamp(ts, UTC).astimezone(zone)
    if _ISO.match(s):
        iso = s.replace("z", "+00:00").replace(" ", "t", 1)
        if re.search(r"[+-]\d{4}$", iso):
            iso = iso[:-2] + ":" + iso[-2:]
        dt = datetime.fromisoformat(iso.upper())
        return dt.replace(tzinfo=zone) if dt.tzinfo is None else dt
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return datetime.fromisoformat(s).replace(tzinfo=zone)

    if any(s == w or s.startswith(w) for w in NOW_WORDS):
        return now
    s = s.replace("ё", "е").replace("пол часа", "полчаса")

    rel = _relative(s, now)
    if rel is not None:
        return rel

    # time of day, if any
    hh = mm = ss = 0
    m = _TIME.search(s)
    if m:
        hh, mm, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        ampm = (m.group(4) or "").replace(".", "")
        if ampm == "pm" and hh < 12:
            hh += 12
        elif ampm == "am" and hh == 12:
            hh = 0
        if hh > 23 or mm > 59 or ss > 59:
            return None
        s = (s[: m.start()] + " " + s[m.end() :]).strip()

    tokens = [t for t in _CLEAN.sub(" ", s).replace(" - ", " ").split() if t]
    for day_word, offset in DAY_WORDS.items():
        if day_word in tokens:
            day = (now + timedelta(days=offset)).date()
            return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=zone)

    date = _numeric_date(s, order) or _word_date(tokens, now)
    if date is None:
        return None
    y, mo, d = date
    try:
        out = datetime(y, mo, d, hh, mm, ss, tzinfo=zone)
    except ValueError:
        return None
    return out


def _relative(s: str, now: datetime) -> datetime | None:
    m = _RELATIVE.search(s)
    if not m:
        return None
    num_s, unit_s = m.group(1), m.group(2)
    unit = UNIT_OF.get(unit_s)
    if unit is None:
        # "полчаса назад", "час назад" (no number): unit word is group 2
        if unit_s == "полчаса":
            return now - timedelta(minutes=30)
        return None
    n: int | None
    if num_s is None:
        n = 1
    elif num_s.isdigit():
        n = int(num_s)
    else:
        n = NUMBER_WORDS.get(num_s)
        if n is None:
            n = 1 if num_s in ("назад", "ago") else None
        if n is None:
            return None
    if unit == "s":
        return now - timedelta(seconds=n)
    if unit == "m":
        return now - timedelta(minutes=n)
    if unit == "h":
        return now - timedelta(hours=n)
    if unit == "d":
        return now - timedelta(days=n)
    if unit == "w":
        return now - timedelta(weeks=n)
    from dateutil.relativedelta import relativedelta

    return now - (relativedelta(months=n) if unit == "M" else relativedelta(years=n))


def _year(v: int) -> int:
    if v < 100:
        return 2000 + v if v < 70 else 1900 + v
    return v


def _numeric_date(s: str, order: str | None = None) -> tuple[int, int, int] | None:
    m = _NUMERIC_DATE.search(s)
    if not m:
        return None
    a, sep, b, c = m.group(1), m.group(2), int(m.group(3)), m.group(4)
    if len(a) == 4:  # 2016-02-01, 2016.02.01
        return int(a), b, int(c)
    a_i, c_i = int(a), _year(int(c))
    if order in ("DMY", "MDY") and a_i <= 12 and b <= 12:  # both readings valid: the page's order decides
        return (c_i, b, a_i) if order == "DMY" else (c_i, a_i, b)
    if sep == "-" or (sep == "/" and a_i <= 12 and b > 12):
        # vBulletin/US style month-first "06-15-2016"; day-first if month-first is impossible
        if a_i <= 12 and b <= 31 and not (b <= 12 and sep == "/"):
            return c_i, a_i, b
    if b > 12 and a_i <= 12:
        return c_i, a_i, b
    return c_i, b, a_i


def _word_date(tokens: list[str], now: datetime) -> tuple[int, int, int] | None:
    month = None
    nums: list[int] = []
    for t in tokens:
        t = t.strip(".,:")
        if not t:
            continue
        if t in MONTHS and month is None:
            month = MONTHS[t]
        elif t[:4] in MONTHS and month is None and t.isalpha() and len(t) > 4:
            month = MONTHS[t[:4]]
        elif t[:3] in MONTHS and month is None and t.isalpha() and t not in NOISE_WORDS:
            month = MONTHS[t[:3]]
        elif num := re.fullmatch(r"(\d{1,4})(?:st|nd|rd|th)?", t):
            nums.append(int(num.group(1)))
        elif t in NOISE_WORDS:
            continue
        else:
            return None  # an unknown word: leave it to the fallback
    if month is None:
        return None
    year = next((n for n in nums if n > 31), None)
    days = [n for n in nums if 1 <= n <= 31]
    if not days:
        return None
    day = days[0]
    if year is None:
        if len(days) > 1:
            year = _year(days[1])
        else:
            # no year shown: this year, unless that would be in the future
            year = now.year
            if (month, day) > (now.month, now.day):
                year -= 1
    return year, month, day


def _parse_dateparser(s: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    try:
        import dateparser
    except ImportError:  # pragma: no cover
        return None
    dt = dateparser.parse(
        s,
        languages=["ru", "en"],
        settings={
            "TIMEZONE": zone.key,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "RELATIVE_BASE": now.replace(tzinfo=None),
            "PREFER_DATES_FROM": "past",
            "DATE_ORDER": "DMY",
            "PREFER_DAY_OF_MONTH": "first",  # "ноябрь 2013" is 1 November, not today's day of that month
        },
    )
    return dt.astimezone(zone) if dt else None
