"""crawlers.dates: Russian/English absolute and relative dates to the exact instant, with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crawlers.dates import board_tz_from_text, parse_date

MSK = ZoneInfo("Europe/Moscow")
# relative dates resolve against this Friday afternoon: "вчера" is Thursday 9 May, "в пятницу" is today
FRIDAY_NOW = datetime(2024, 5, 10, 15, 30, 45, tzinfo=MSK)

RU_GEN = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]
RU_SHORT = ["янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"]
RU_WD = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"]
EN_MON = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
EN_WD = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

INSTANTS = [
    datetime(2013, 11, 12, 17, 16, tzinfo=MSK),
    datetime(2024, 5, 3, 10, 15, tzinfo=MSK),
    datetime(2019, 1, 1, 0, 5, tzinfo=MSK),
    datetime(2020, 2, 29, 23, 59, tzinfo=MSK),
    datetime(2016, 6, 15, 15, 3, tzinfo=MSK),
    datetime(2010, 6, 2, 23, 1, tzinfo=MSK),
    datetime(2023, 12, 31, 12, 0, tzinfo=MSK),
    datetime(2022, 3, 8, 9, 30, tzinfo=MSK),
    datetime(2021, 7, 21, 1, 2, tzinfo=MSK),
    datetime(2018, 9, 9, 13, 45, tzinfo=MSK),
    datetime(2015, 10, 1, 12, 0, tzinfo=MSK),
    datetime(2024, 4, 30, 21, 7, tzinfo=MSK),
]


def _ampm(d: datetime) -> str:
    h = d.hour % 12 or 12
    return f"{h}:{d:%M} {'PM' if d.hour >= 12 else 'AM'}"


def absolute_forms(d: datetime) -> list[str]:
    m = d.month - 1
    return [
        f"{d:%d.%m.%Y %H:%M}",  # vBulletin ru
        f"{d:%d.%m.%Y, %H:%M}",
        f"{d:%d.%m.%Y} в {d:%H:%M}",
        f"{d:%d.%m.%y %H:%M}",  # two-digit year
        f"{d.day} {RU_GEN[m]} {d.year} в {d:%H:%M}",  # news
        f"{d.day} {RU_GEN[m]} {d.year} г. в {d:%H:%M}",
        f"{d:%d} {RU_SHORT[m]} {d.year}, {d:%H:%M}",  # phpBB ru
        f"{RU_WD[d.weekday()]} {RU_SHORT[m]} {d.day:02d}, {d.year} {d:%H:%M}",  # phpBB ru default format
        f"{EN_WD[d.weekday()]} {EN_MON[m][:3]} {d.day:02d}, {d.year} {_ampm(d).lower()}",  # phpBB en
        f"{EN_MON[m]} {d.day}, {d.year}, {d:%I:%M:%S %p}",  # SMF
        f"{d:%m-%d-%Y}, {d:%I:%M %p}",  # vBulletin 4 en
        f"{d:%Y-%m-%d}, {d:%H:%M}",  # vBulletin 3 ISO-ish
        d.isoformat(),  # <time datetime>
        d.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        f"{d.day} {EN_MON[m]} {d.year} {d:%H:%M}",
        f"{d:%d}/{d:%m}/{d.year} {d:%H:%M}" if d.day > 12 else f"{d.day} {RU_GEN[m]} {d.year}, {d:%H:%M}",
    ]


ABSOLUTE = [(s, d) for d in INSTANTS for s in absolute_forms(d)]

DAY = timedelta(days=1)
RELATIVE = [
    ("Сегодня, 17:16", FRIDAY_NOW.replace(hour=17, minute=16, second=0)),
    ("сегодня в 09:05", FRIDAY_NOW.replace(hour=9, minute=5, second=0)),
    ("Today, 08:00", FRIDAY_NOW.replace(hour=8, minute=0, second=0)),
    ("Вчера, 09:05", (FRIDAY_NOW - DAY).replace(hour=9, minute=5, second=0)),
    ("вчера в 09:05", (FRIDAY_NOW - DAY).replace(hour=9, minute=5, second=0)),
    ("вчера в 23:59", (FRIDAY_NOW - DAY).replace(hour=23, minute=59, second=0)),
    ("Yesterday at 5:16 PM", (FRIDAY_NOW - DAY).replace(hour=17, minute=16, second=0)),
    ("Yesterday at 12:01 AM", (FRIDAY_NOW - DAY).replace(hour=0, minute=1, second=0)),
    ("позавчера в 10:00", (FRIDAY_NOW - 2 * DAY).replace(hour=10, minute=0, second=0)),
    ("2 часа назад", FRIDAY_NOW - timedelta(hours=2)),
    ("час назад", FRIDAY_NOW - timedelta(hours=1)),
    ("5 часов назад", FRIDAY_NOW - timedelta(hours=5)),
    ("21 час назад", FRIDAY_NOW - timedelta(hours=21)),
    ("1 минуту назад", FRIDAY_NOW - timedelta(minutes=1)),
    ("минуту назад", FRIDAY_NOW - timedelta(minutes=1)),
    ("3 минуты назад", FRIDAY_NOW - timedelta(minutes=3)),
    ("15 минут назад", FRIDAY_NOW - timedelta(minutes=15)),
    ("две минуты назад", FRIDAY_NOW - timedelta(minutes=2)),
    ("полчаса назад", FRIDAY_NOW - timedelta(minutes=30)),
    ("30 секунд назад", FRIDAY_NOW - timedelta(seconds=30)),
    ("3 дня назад", FRIDAY_NOW - 3 * DAY),
    ("день назад", FRIDAY_NOW - DAY),
    ("5 дней назад", FRIDAY_NOW - 5 * DAY),
    ("неделю назад", FRIDAY_NOW - 7 * DAY),
    ("2 недели назад", FRIDAY_NOW - 14 * DAY),
    ("месяц назад", datetime(2024, 4, 10, 15, 30, 45, tzinfo=MSK)),
    ("3 месяца назад", datetime(2024, 2, 10, 15, 30, 45, tzinfo=MSK)),
    ("год назад", datetime(2023, 5, 10, 15, 30, 45, tzinfo=MSK)),
    ("2 года назад", datetime(2022, 5, 10, 15, 30, 45, tzinfo=MSK)),
    ("5 лет назад", datetime(2019, 5, 10, 15, 30, 45, tzinfo=MSK)),
    ("2 hours ago", FRIDAY_NOW - timedelta(hours=2)),
    ("an hour ago", FRIDAY_NOW - timedelta(hours=1)),
    ("a minute ago", FRIDAY_NOW - timedelta(minutes=1)),
    ("10 minutes ago", FRIDAY_NOW - timedelta(minutes=10)),
    ("3 days ago", FRIDAY_NOW - 3 * DAY),
    ("1 week ago", FRIDAY_NOW - 7 * DAY),
    ("2 months ago", datetime(2024, 3, 10, 15, 30, 45, tzinfo=MSK)),
    ("только что", FRIDAY_NOW),
    ("just now", FRIDAY_NOW),
    ("3 мая", datetime(2024, 5, 3, tzinfo=MSK)),
    ("3 мая в 10:15", datetime(2024, 5, 3, 10, 15, tzinfo=MSK)),
    ("12 ноября в 17:16", datetime(2023, 11, 12, 17, 16, tzinfo=MSK)),  # no year, would be future: last year
    ("3 мая 2024", datetime(2024, 5, 3, tzinfo=MSK)),
    ("2024-05-03", datetime(2024, 5, 3, tzinfo=MSK)),
    ("1714720500", datetime(2024, 5, 3, 10, 15, tzinfo=MSK)),
    ("1714720500000", datetime(2024, 5, 3, 10, 15, tzinfo=MSK)),
    ("Posted: Wed Jun 02, 2010 11:01 pm", datetime(2010, 6, 2, 23, 1, tzinfo=MSK)),
    ("« on: September 19, 2007, 01:08:14 PM »", datetime(2007, 9, 19, 13, 8, 14, tzinfo=MSK)),
    ("Sun May 26, 2019 4:34 pm", datetime(2019, 5, 26, 16, 34, tzinfo=MSK)),
    ("06-15-2016,\u00a003:03 PM", datetime(2016, 6, 15, 15, 3, tzinfo=MSK)),
    ("Oct 30, 2014 at 10:48 PM", datetime(2014, 10, 30, 22, 48, tzinfo=MSK)),
    ("2024-05-03T10:15:00+0300", datetime(2024, 5, 3, 10, 15, tzinfo=MSK)),
    ("2019-03-24T19:54:11.505Z", datetime(2019, 3, 24, 19, 54, 11, 505000, tzinfo=ZoneInfo("UTC"))),
    ("Сообщение 12 ноября 2013, 17:16", datetime(2013, 11, 12, 17, 16, tzinfo=MSK)),
    ("Добавлено: Пн ноя 12, 2013 17:16", datetime(2013, 11, 12, 17, 16, tzinfo=MSK)),
    ("1 января 2020 г.", datetime(2020, 1, 1, tzinfo=MSK)),
    ("31 декабря 2023 в 23:59", datetime(2023, 12, 31, 23, 59, tzinfo=MSK)),
]

CASES = ABSOLUTE + RELATIVE


def test_there_are_over_two_hundred_cases():
    assert len(CASES) >= 200


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] for c in CASES])
def test_exact_instant(text, expected):
    got = parse_date(text, "Europe/Moscow", FRIDAY_NOW, fallback=False)
    assert got is not None, text
    assert got.tzinfo is not None
    assert got == expected, f"{text!r}: {got} != {expected}"


def test_source_timezone_is_used_for_naive_dates():
    got = parse_date("12.11.2013 17:16", "Asia/Yekaterinburg", FRIDAY_NOW)
    assert got.utcoffset() == timedelta(hours=6)
    assert got == datetime(2013, 11, 12, 11, 16, tzinfo=ZoneInfo("UTC"))


def test_relative_day_uses_source_day_not_utc_day():
    # 23:30 UTC on May 9 is already May 10 in Moscow: "сегодня" means May 10 there
    now = datetime(2024, 5, 9, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert parse_date("сегодня, 01:00", "Europe/Moscow", now) == datetime(2024, 5, 10, 1, 0, tzinfo=MSK)


def test_not_dates():
    for s in ("", "   ", "Гость", "Re: вопрос по тарифу", None):
        assert parse_date(s, "Europe/Moscow", FRIDAY_NOW, fallback=False) is None


def test_fallback_handles_rarer_forms():
    assert parse_date("в пятницу 10 мая 2024", "Europe/Moscow", FRIDAY_NOW, fallback=False) is None
    assert parse_date("в пятницу 10 мая 2024", "Europe/Moscow", FRIDAY_NOW) == datetime(2024, 5, 10, tzinfo=MSK)


BOARD_ZONES = [
    # vBulletin 3/4/5 footers
    ("All times are GMT -5. The time now is 07:12 AM.", "Etc/GMT+5"),
    ("All times are GMT +3. The time now is 05:23 PM.", "Etc/GMT-3"),
    ("All times are GMT. The time now is 05:23 AM.", "UTC"),
    ("All times are GMT-5. This page was generated at 07:12 AM.", "Etc/GMT+5"),
    ("Часовой пояс GMT +3, время: 17:16.", "Etc/GMT-3"),
    ("Часовой пояс GMT +4. Время: 07:12.", "Etc/GMT-4"),
    ("All times are GMT -12. The time now is 10:00.", "Etc/GMT+12"),
    ("All times are GMT +14. The time now is 10:00.", "Etc/GMT-14"),
    # phpBB 3.0, with and without DST (shown an hour ahead of the stated zone)
    ("All times are UTC + 3 hours [ DST ]", "Etc/GMT-4"),
    ("Часовой пояс: UTC + 4 часа [ Летнее время ]", "Etc/GMT-5"),
    ("All times are UTC - 5 hours", "Etc/GMT+5"),
    ("All times are UTC - 5 hours [ DST ]", "Etc/GMT+4"),
    ("All times are UTC [ DST ]", "Etc/GMT-1"),
    ("All times are UTC", "UTC"),
    ("Часовой пояс: UTC + 3 часа", "Etc/GMT-3"),
    # phpBB 3.1+ and phpBB 2
    ("All times are UTC-06:00", "Etc/GMT+6"),
    ("Часовой пояс: UTC+03:00", "Etc/GMT-3"),
    ("All times are UTC\u22123", "Etc/GMT+3"),
    ("All times are GMT + 3 Hours", "Etc/GMT-3"),
    # no zone name exists for these, or nothing is stated: the source's zone stays
    ("All times are GMT +5.5. The time now is 10:00.", None),
    ("All times are UTC + 5:30 hours", None),
    ("All times are GMT +25. The time now is 10:00.", None),
    ("All times are GMT -13.", None),
    ("All times are UTC + 14 hours [ DST ]", None),
    ("Powered by vBulletin® Version 4.2.5. The time now is 07:12 AM.", None),
    ("Время: 17:16", None),
]


@pytest.mark.parametrize("text,zone", BOARD_ZONES, ids=[c[0] for c in BOARD_ZONES])
def test_board_zone_from_footer_text(text, zone):
    assert board_tz_from_text(text) == zone
    if zone:
        ZoneInfo(zone)  # a name parse_date can use


def test_page_date_order_from_its_unambiguous_dates():
    from crawlers.dates import numeric_date_order

    # a day above 12 settles a "-" board as day first, and only then is a re-read needed
    assert numeric_date_order(["25-03-2013, 10:00", "05-04-2013, 11:00"]) == "DMY"
    assert numeric_date_order(["25-03-2013", "15-03-2013"]) is None  # nothing ambiguous to re-read
    assert numeric_date_order(["03-25-2013", "04-05-2013"]) is None  # "-" already reads month first
    assert numeric_date_order(["03/25/2013", "04/05/2013"]) == "MDY"  # "/" reads day first by default
    assert numeric_date_order(["25-03-2013", "03-25-2013", "04-05-2013"]) is None  # contradictory: leave it
    assert numeric_date_order(["Сегодня, 10:00", None, "12.11.2013 17:16"]) is None
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_date("05-04-2013, 11:00", "UTC", now).isoformat() == "2013-05-04T11:00:00+00:00"
    assert parse_date("05-04-2013, 11:00", "UTC", now, order="DMY").isoformat() == "2013-04-05T11:00:00+00:00"
    assert parse_date("05/04/2013", "UTC", now, order="MDY").isoformat() == "2013-05-04T00:00:00+00:00"
    # an order never turns a date that only one reading makes valid into another
    assert parse_date("25-04-2013", "UTC", now, order="MDY").isoformat() == "2013-04-25T00:00:00+00:00"


def test_month_only_and_spaced_half_hour():
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_date("ноябрь 2013", "Europe/Moscow", now).isoformat() == "2013-11-01T00:00:00+04:00"
    assert parse_date("March 2020", "UTC", now).isoformat() == "2020-03-01T00:00:00+00:00"
    assert (
        parse_date("пол часа назад", "UTC", now)
        == parse_date("полчаса назад", "UTC", now)
        == datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    )
