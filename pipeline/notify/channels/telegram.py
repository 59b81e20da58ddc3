"""The Telegram Bot API: `sendMessage` with parse_mode HTML (every piece of text HTML-escaped).

The Bot API has no idempotency key: a message resent after an interrupted delivery says it may be a repeat.
"""

from __future__ import annotations

import html
import json

from pipeline.config import NotifyChannel
from pipeline.notify.channels.base import DeliveryError, post_json, secret
from pipeline.notify.message import Message

LIMIT = 4096  # the Bot API's message length


def telegram_text(m: Message) -> str:
    e = html.escape
    lines = [f"<b>{e(('Possible repeat: ' if m.repeat else '') + m.title)}</b>"] + [e(f) for f in m.facts]
    if m.why:
        lines.append(f"<b>Why:</b> {e(m.why)}")
    if m.quote:
        lines.append(f"<blockquote>{e(m.quote)}</blockquote>")
    lines += [f'<a href="{e(url, quote=True)}">{e(label)}</a>' for label, url in m.links]
    text = "\n".join(lines)
    if len(text) > LIMIT:  # cut the quote, never a tag
        keep = max(0, len(m.quote) - (len(text) - LIMIT) - 2)
        return telegram_text(Message(**{**m.__dict__, "quote": m.quote[:keep] + "…"}))
    return text


def send_telegram(name: str, cfg: NotifyChannel, m: Message, key: str) -> None:
    token = secret(name, "token", cfg.token)
    body = {
        "chat_id": cfg.chat_id,
        "text": telegram_text(m),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    raw = post_json(
        f"{cfg.api_url.rstrip('/')}/bot{token}/sendMessage", body, cfg.timeout_seconds, shown_url=f"telegram {name}"
    )
    try:
        answer = json.loads(raw)
    except ValueError:
        raise DeliveryError(f"telegram {name}: the Bot API answered something that is not JSON") from None
    if not answer.get("ok"):
        raise DeliveryError(f"telegram {name}: {answer.get('description', 'not ok')}")
