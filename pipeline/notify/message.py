"""A notification's content, independent of the channel: what happened, why, the post, and links.

Events become a `Message` once, when queued in the outbox (stored as JSON, so a retry sends the same words);
each channel formats it with its own escaping at send time (`pipeline.notify.channels`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.escalate import explain

QUOTE_CHARS = 400


@dataclass
class Message:
    title: str
    facts: list[str] = field(default_factory=list)  # what happened, one line each
    why: str = ""  # the queue's explanation
    quote: str = ""  # the customer's words (scraped: always escaped by the formatter)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, http(s) url)
    attachments: list[str] = field(default_factory=list)  # file paths (e-mail only)
    repeat: bool = False  # set on a resend after an interrupted delivery

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Message:
        d = json.loads(text)
        d["links"] = [tuple(x) for x in d.get("links", [])]
        return cls(**d)

    def plain(self) -> str:
        """The text body (e-mail's text part, and the reference every formatter follows)."""
        lines = [("Possible repeat (an earlier delivery was interrupted): " if self.repeat else "") + self.title, ""]
        lines += self.facts
        if self.why:
            lines += ["", "Why: " + self.why]
        if self.quote:
            lines += ["", "«" + self.quote + "»"]
        if self.links:
            lines += [""] + [f"{label}: {url}" for label, url in self.links]
        return "\n".join(lines).strip() + "\n"


def _clip(text: Any, n: int = QUOTE_CHARS) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


def _local(ts: Any, tz: str) -> str:
    if ts is None or (hasattr(ts, "__class__") and str(ts) in ("NaT", "nan")):
        return "—"
    t = ts.to_pydatetime() if hasattr(ts, "to_pydatetime") else ts
    if not isinstance(t, datetime):
        return str(t)
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def _safe_url(u: Any) -> str | None:
    s = str(u or "")
    return s if s.lower().startswith(("http://", "https://")) else None


def escalation_message(e: dict[str, Any], dashboard_url: str, tz: str) -> Message:
    brand = e.get("brand_name") or e.get("brand_id") or "?"
    level = str(e.get("level") or "").upper()
    where = e.get("source_id") or "?"
    thread = _clip(e.get("thread_title"), 120)
    facts = [
        f"{brand}: a post on {where}"
        + (f" in «{thread}»" if thread else "")
        + (f" by {_clip(e.get('author'), 60)}" if e.get("author") else "")
        + f" entered the escalation queue as {level.lower()} (priority {float(e['priority']):.2f}).",
        f"State: {e.get('state')}; SLA due {_local(e.get('sla_due_at'), tz)}; posted {_local(e.get('posted_at'), tz)}.",
    ]
    links = [("Open in brandmon", f"{dashboard_url.rstrip('/')}/queue?item={e['escalation_id']}")]
    if url := _safe_url(e.get("url")):
        links.append(("Original post", url))
    return Message(
        title=f"[brandmon] {level} escalation: {brand} on {where}",
        facts=facts,
        why=explain(e.get("reasons_json")),
        quote=_clip(e.get("context")),
        links=links,
    )


def alert_message(a: dict[str, Any], dashboard_url: str, tz: str) -> Message:
    brand = a.get("brand_name") or a.get("brand_id") or "all brands"
    kind = str(a["kind"]).replace("_", " ")
    facts = [
        f"{brand}: {kind} alert raised {_local(a.get('created_at'), tz)}"
        + (f" (z {float(a['z']):.1f})" if a.get("z") is not None and str(a.get("z")) != "nan" else "")
        + "."
    ]
    return Message(
        title=f"[brandmon] {kind}: {brand}",
        facts=facts,
        why=_clip(a.get("explanation"), 1000),
        links=[("Open alerts in brandmon", f"{dashboard_url.rstrip('/')}/alerts")],
    )
