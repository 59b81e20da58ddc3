"""Channel kinds: each formats a `Message` with its own escaping and delivers it, raising `DeliveryError`.

`send(name, cfg, message, key)` picks the kind; `key` (the outbox id) goes with every delivery as the receiver's
idempotency key: the e-mail's Message-ID, the webhook's `Idempotency-Key` header; Telegram has none.
"""

from __future__ import annotations

from pipeline.config import NotifyChannel
from pipeline.notify.channels.base import DeliveryError
from pipeline.notify.message import Message


def send(name: str, cfg: NotifyChannel, message: Message, key: str) -> None:
    if cfg.kind == "email":
        from pipeline.notify.channels.email import send_email as fn
    elif cfg.kind == "webhook":
        from pipeline.notify.channels.webhook import send_webhook as fn
    else:
        from pipeline.notify.channels.telegram import send_telegram as fn
    fn(name, cfg, message, key)


__all__ = ["DeliveryError", "send"]
