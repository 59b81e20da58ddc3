"""Notifications: critical escalations and alerts pushed to e-mail, a chat webhook or a Telegram bot.

- `rules` routes an event to channels (kinds, levels, brands, quiet hours);
- `events` reads what may be announced from the store; `message` renders it channel-neutrally;
- `outbox` is the `notifications` table; `channels` format and deliver; `deliver.notify` is the flow stage.
"""

from pipeline.notify.deliver import deliver_due, notify

__all__ = ["deliver_due", "notify"]
