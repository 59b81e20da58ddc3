"""Writing digests to files and sending them through the notification outbox (the scheduled `digest` stage)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.notify import deliver_due, outbox
from pipeline.notify.deliver import notification_id
from pipeline.notify.message import Message
from pipeline.report.data import Digest, digest_data
from pipeline.report.html import render_html
from pipeline.report.period import parse_period
from pipeline.store import Store, utcnow

if TYPE_CHECKING:
    from pipeline.config import Settings


def default_path(settings: Settings, brand: str, until: datetime) -> Path:
    return Path(settings.data_dir) / "reports" / f"digest-{brand}-{until:%Y-%m-%d}.html"


def write_digest(
    settings: Settings,
    store: Store,
    brand: str,
    period: str = "7d",
    out: str | Path | None = None,
    now: datetime | None = None,
) -> tuple[Path, Digest]:
    """Render a brand's digest for the period ending `now` into `out` (default <data_dir>/reports/…); written
    aside and renamed, so a reader (or the mailer) never sees half a file."""
    until = now or utcnow()
    d = digest_data(store, brand, until, parse_period(period))
    html = render_html(d, settings.notify.dashboard_url, settings.notify.timezone, generated_at=utcnow())
    path = Path(out) if out else default_path(settings, brand, until)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path, d


def digest_message(settings: Settings, d: Digest, path: Path, period: str) -> Message:
    base = settings.notify.reports_url.rstrip("/")
    links = [(f"Digest {path.name}", f"{base}/{path.name}")] if base else []
    links.append(("Open brandmon", settings.notify.dashboard_url))
    return Message(
        title=f"[brandmon] {period} digest: {d.brand_name}",
        facts=list(d.changes),
        links=links,
        attachments=[str(path.resolve())],
    )


def send_digest(
    settings: Settings,
    store: Store,
    d: Digest,
    path: Path,
    period: str,
    channels: list[str],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Queue the digest for `channels` (once per brand, period and end date) and deliver what is due."""
    now = now or utcnow()
    unknown = [c for c in channels if c not in settings.notify.channels]
    if unknown:
        from pipeline.report.period import ReportError

        raise ReportError(
            f"unknown channel(s) {', '.join(unknown)}; defined: {', '.join(settings.notify.channels) or 'none'}"
        )
    key = f"digest:{d.brand_id}:{period}:{d.until:%Y-%m-%d}"
    msg = digest_message(settings, d, path, period).to_json()
    rows = [
        dict(
            notification_id=notification_id(c, key),
            channel=c,
            event_key=key,
            event_kind="digest",
            brand_id=d.brand_id,
            level=None,
            ref_id=d.brand_id,
            message_json=msg,
            state="pending",
            attempts=0,
            next_attempt_at=None,
            created_at=now,
            updated_at=now,
        )
        for c in channels
    ]
    queued = outbox.enqueue(store, rows)
    return {"queued": len(queued), **deliver_due(settings, store, now)}


def digest_stage(
    settings: Settings,
    store: Store,
    period: str | None = None,
    brands: list[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The scheduled digest: one file per brand (`notify.digest_brands`, default all) sent to `digest_channels`."""
    cfg = settings.notify
    period = period or cfg.digest_period
    chosen = brands or cfg.digest_brands or list(store.query("SELECT brand_id FROM brands ORDER BY 1")["brand_id"])
    now = now or utcnow()
    counts: dict[str, Any] = {"digests": 0, "queued": 0, "sent": 0, "failed": 0}
    for brand in chosen:
        path, d = write_digest(settings, store, brand, period, now=now)
        counts["digests"] += 1
        if cfg.digest_channels:
            r = send_digest(settings, store, d, path, period, cfg.digest_channels, now)
            for k in ("queued", "sent", "failed"):
                counts[k] += r.get(k, 0)
    return counts
