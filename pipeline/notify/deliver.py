"""The `notify` stage: queue new events in the outbox, then deliver what is due.

Exactly once, and where that ends: a notification's id is stable (channel + event), so a re-run never queues or
sends it twice. Its row says `sending` (committed) before the message leaves and `sent` (committed) after the
receiver accepted it. A run killed between those two commits (a window of milliseconds per message) leaves
`sending`, and the next run cannot know whether the receiver got it, so it sends again (at-least-once) with the
same idempotency key (the e-mail's Message-ID, the webhook's Idempotency-Key header) and marked as a possible
repeat; Telegram's Bot API has no such key, so a chat may then show it twice. Missing a critical item is worse
than seeing it twice.

A failing channel never blocks the pipeline: the failure is recorded on the row (`failed`, `last_error`) and
retried on later runs after a backoff (1, 2, 4, … minutes up to `retry_max_seconds`); after `max_attempts`, or
at once for a permanent refusal (HTTP 4xx, SMTP 5xx, a missing secret), the row is `dead`. After a transient
failure the rest of that channel's messages wait for the next run instead of each waiting out a timeout, and the
other channels deliver as usual.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.notify import outbox
from pipeline.notify.channels import DeliveryError, send
from pipeline.notify.events import Event, recent_events, still_relevant
from pipeline.notify.message import Message, alert_message, escalation_message
from pipeline.notify.rules import backoff_seconds, routes
from pipeline.store import Store, stable_id, utcnow

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)


def notification_id(channel: str, event_key: str) -> str:
    return stable_id("notify", channel, event_key, length=24)


def outbox_rows(settings: Settings, events: list[Event], now: datetime) -> list[dict[str, Any]]:
    cfg = settings.notify
    rows = []
    for ev in events:
        rs = routes(cfg, ev.kind, ev.level, ev.brand_id, now)
        if not rs:
            continue
        msg = (
            escalation_message(ev.row, cfg.dashboard_url, cfg.timezone)
            if ev.kind == "escalation"
            else alert_message(ev.row, cfg.dashboard_url, cfg.timezone)
        )
        for r in rs:
            rows.append(
                dict(
                    notification_id=notification_id(r.channel, ev.key),
                    channel=r.channel,
                    event_key=ev.key,
                    event_kind=ev.kind,
                    brand_id=ev.brand_id,
                    level=ev.level,
                    ref_id=ev.ref_id,
                    message_json=msg.to_json(),
                    state="pending",
                    attempts=0,
                    next_attempt_at=r.not_before,
                    created_at=now,
                    updated_at=now,
                )
            )
    return rows


def notify(settings: Settings, store: Store, now: datetime | None = None) -> dict[str, Any]:
    """Stage function: queue notifications for recent events that match a rule, then deliver the due ones."""
    cfg = settings.notify
    now = now or utcnow()
    counts: dict[str, Any] = {"events": 0, "queued": 0, "held": 0}
    if cfg.enabled and cfg.rules:
        events = recent_events(store, now, cfg.lookback_hours)
        rows = outbox_rows(settings, events, now)
        new = set(outbox.enqueue(store, rows))
        counts.update(
            events=len(events),
            queued=len(new),
            held=sum(1 for r in rows if r["notification_id"] in new and r["next_attempt_at"] is not None),
        )
    counts.update(deliver_due(settings, store, now) if cfg.enabled else {})
    return counts


def deliver_due(settings: Settings, store: Store, now: datetime | None = None) -> dict[str, Any]:
    """Try every due outbox row once; returns counts (sent, resent, failed, dead, skipped, deferred, errors)."""
    cfg = settings.notify
    now = now or utcnow()
    counts: dict[str, Any] = {"sent": 0, "resent": 0, "failed": 0, "dead": 0, "skipped": 0, "deferred": 0}
    errors: dict[str, str] = {}
    due = outbox.due(store, now)
    if due.empty:
        return counts
    gone = [r.notification_id for r in due.itertuples() if r.channel not in cfg.channels]
    outbox.mark_skipped(store, gone, "channel no longer configured", now)
    late = [
        r.notification_id for r in due.itertuples() if r.channel in cfg.channels and (r.attempts or r.created_at < now)
    ]
    if late:  # a held or retried message about an item closed (or an alert acknowledged) since is not news any more
        with store.read() as con:
            keep = still_relevant(con, late)
        stale = [i for i in late if i not in keep]
        outbox.mark_skipped(store, stale, "closed or acknowledged before delivery", now)
        gone += stale
    counts["skipped"] = len(gone)
    down: dict[str, str] = {}  # channel -> the transient error it gave in this run
    for r in due.itertuples():
        if r.notification_id in gone:
            continue
        ch = cfg.channels[r.channel]
        if not ch.enabled or r.channel in down:
            counts["deferred"] += 1
            continue
        msg = Message.from_json(r.message_json)
        msg.repeat = r.state == "sending"  # the last run died between sending and recording it
        attempt = outbox.mark_sending(store, r.notification_id, utcnow())
        try:
            send(r.channel, ch, msg, r.notification_id)
        except Exception as e:  # any channel bug is that channel's failure, never the pipeline's
            err = e if isinstance(e, DeliveryError) else DeliveryError(f"{type(e).__name__}: {e}")
            dead = err.permanent or attempt >= cfg.max_attempts
            wait = backoff_seconds(attempt, cfg.retry_base_seconds, cfg.retry_max_seconds)
            outbox.mark_failed(
                store, r.notification_id, utcnow(), str(err), None if dead else utcnow() + timedelta(seconds=wait)
            )
            counts["dead" if dead else "failed"] += 1
            errors[r.channel] = str(err)
            if not err.permanent:
                down[r.channel] = str(err)
            log.warning("notify: %s %s (attempt %d): %s", r.channel, "gave up" if dead else "failed", attempt, err)
            continue
        outbox.mark_sent(store, r.notification_id, utcnow())
        counts["resent" if msg.repeat else "sent"] += 1
    if errors:
        counts["errors"] = errors
    return counts
