"""A chat webhook with a Slack-compatible JSON body ({"text": ...}), which Mattermost accepts as well.

Scraped text cannot form links or mentions: Slack's control characters (&, <, >) are escaped, and for Mattermost,
which renders Markdown, every Markdown character is backslash-escaped.
"""

from __future__ import annotations

import re

from pipeline.config import NotifyChannel
from pipeline.notify.channels.base import post_json, secret
from pipeline.notify.message import Message

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_escape(text: str) -> str:
    return _MD.sub(r"\\\1", text)


def webhook_body(cfg: NotifyChannel, m: Message) -> dict:
    esc = slack_escape if cfg.flavor == "slack" else md_escape
    bold = (lambda s: f"*{s}*") if cfg.flavor == "slack" else (lambda s: f"**{s}**")
    lines = [bold(esc(("Possible repeat: " if m.repeat else "") + m.title))] + [esc(f) for f in m.facts]
    if m.why:
        lines.append(bold("Why:") + " " + esc(m.why))
    if m.quote:
        lines.append("> " + esc(m.quote))
    for label, url in m.links:
        safe = url.replace("|", "%7C").replace(" ", "%20").replace(")", "%29")  # would end the link early
        lines.append(f"<{slack_escape(safe)}|{esc(label)}>" if cfg.flavor == "slack" else f"[{esc(label)}]({safe})")
    return {"text": "\n".join(lines)}


def send_webhook(name: str, cfg: NotifyChannel, m: Message, key: str) -> None:
    url = secret(name, "url", cfg.url)
    post_json(
        url, webhook_body(cfg, m), cfg.timeout_seconds, headers={"Idempotency-Key": key}, shown_url=f"webhook {name}"
    )
