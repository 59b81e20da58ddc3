"""Routing: which channels an event goes to, and when (quiet hours). Pure functions over settings and a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.config import NotifySettings


@dataclass(frozen=True)
class Route:
    channel: str
    not_before: datetime | None  # the end of quiet hours when the message is held, else None


def _hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def quiet_until(quiet_hours: str, tz: str, now: datetime) -> datetime | None:
    """When the quiet window that `now` falls in ends (UTC), or None outside it. "22:00-08:00" spans midnight."""
    if not quiet_hours:
        return None
    start, end = (_hm(x) for x in quiet_hours.split("-"))
    local = now.astimezone(ZoneInfo(tz))
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside or start == end:
        return None
    end_day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
    end_at = datetime.combine(end_day, end, tzinfo=ZoneInfo(tz))
    return end_at.astimezone(now.tzinfo)


def routes(cfg: NotifySettings, event_kind: str, level: str | None, brand_id: str | None, now: datetime) -> list[Route]:
    """The channels whose rules match the event, each once (the earliest delivery time wins when rules disagree)."""
    held = quiet_until(cfg.quiet_hours, cfg.timezone, now)
    out: dict[str, datetime | None] = {}
    for rule in cfg.rules:
        if not _kind_matches(rule.events, event_kind):
            continue
        if event_kind == "escalation" and level not in rule.levels:
            continue
        if rule.brands and brand_id not in rule.brands:
            continue
        bypass = not rule.quiet_hours or (level == "critical" and cfg.critical_bypasses_quiet_hours)
        when = None if bypass else held
        for ch in rule.channels:
            if not cfg.channels[ch].enabled:
                continue
            if ch not in out:
                out[ch] = when
            elif (prev := out[ch]) is not None and (when is None or when < prev):  # the earlier delivery wins
                out[ch] = when
    return [Route(ch, when) for ch, when in out.items()]


def _kind_matches(wanted: list[str], kind: str) -> bool:
    if kind in wanted:
        return True
    return kind not in ("escalation", "digest") and "alert" in wanted  # "alert" = every alert kind


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Wait before the next try after `attempts` failed ones: base, 2·base, 4·base, … capped."""
    return min(cap, base * 2 ** max(0, attempts - 1))
