"""Date parsing: the hand-written fast path against dateparser (its fallback), on the same strings in one run.

    .venv/bin/python benchmarks/dates.py [--rounds 7]

The strings are the forms forum engines print (absolute Russian and English dates in a dozen layouts, and
relative ones: "вчера в 09:05", "2 часа назад"), each read with `parse_date(..., fallback=False)` (the fast path
alone) and then with dateparser the way the fallback calls it. Per date: the least time of `--rounds` passes
(other load on the machine inflates the least one less). Target: the fast path at least 10x faster than
dateparser; every string must be read by the fast path.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawlers.dates import _parse_dateparser, parse_date  # noqa: E402

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2024, 5, 10, 15, 30, 45, tzinfo=MSK)
TARGET_RATIO = 10.0

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
RELATIVE = [
    "Сегодня, 17:16",
    "вчера в 09:05",
    "Yesterday at 5:16 PM",
    "позавчера в 10:00",
    "2 часа назад",
    "15 минут назад",
    "полчаса назад",
    "3 дня назад",
    "неделю назад",
    "Today, 08:00",
]


def strings() -> list[str]:
    out = list(RELATIVE)
    for d in (
        datetime(2013, 11, 12, 17, 16, tzinfo=MSK),
        datetime(2020, 2, 29, 23, 59, tzinfo=MSK),
        datetime(2023, 12, 31, 12, 0, tzinfo=MSK),
        datetime(2016, 6, 15, 9, 3, tzinfo=MSK),
    ):
        m = d.month - 1
        out += [
            f"{d:%d.%m.%Y %H:%M}",
            f"{d:%d.%m.%Y, %H:%M}",
            f"{d.day} {RU_GEN[m]} {d.year} в {d:%H:%M}",
            f"{EN_MON[m]} {d.day}, {d.year}, {d:%I:%M:%S %p}",
            f"{d:%m-%d-%Y}, {d:%I:%M %p}",
            f"{d:%Y-%m-%d}, {d:%H:%M}",
            d.isoformat(),
            f"{d.day} {EN_MON[m]} {d.year} {d:%H:%M}",
        ]
    return out


def per_date(fn, texts: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for s in texts:
            fn(s)
        best = min(best, time.perf_counter() - t)
    return best / len(texts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    texts = strings()
    missed = [s for s in texts if parse_date(s, "Europe/Moscow", NOW, fallback=False) is None]
    # dateparser as the fallback sees its input: whitespace collapsed and lower-cased by parse_date
    lowered = [" ".join(s.split()).lower() for s in texts]
    _parse_dateparser(lowered[0], MSK, NOW)  # its first call loads its language data
    fast = per_date(lambda s: parse_date(s, "Europe/Moscow", NOW, fallback=False), texts, args.rounds)
    slow = per_date(lambda s: _parse_dateparser(s, MSK, NOW), lowered, max(1, args.rounds // 3))
    ratio = slow / fast
    print(f"{len(texts)} date strings, least of {args.rounds} passes")
    print(f"fast path   : {fast * 1e6:8.1f} µs a date")
    print(f"dateparser  : {slow * 1e6:8.1f} µs a date (baseline, same run)")
    print(
        f"ratio       : {ratio:8.1f}x (target >= {TARGET_RATIO:.0f}x): {'met' if ratio >= TARGET_RATIO else 'NOT met'}"
    )
    if missed:
        print(f"not read by the fast path: {missed}")
    return 0 if ratio >= TARGET_RATIO and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
