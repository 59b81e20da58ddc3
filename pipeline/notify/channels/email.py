"""SMTP e-mail: a text part and an HTML alternative (all text escaped), the digest as an attachment.

Message-ID is the outbox id, so a message resent after an interrupted delivery carries the same id (mail stores
and clients that de-duplicate by Message-ID show it once).
"""

from __future__ import annotations

import html
import mimetypes
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from pipeline.config import NotifyChannel
from pipeline.notify.channels.base import DeliveryError, secret
from pipeline.notify.message import Message


def html_body(m: Message) -> str:
    e = html.escape
    parts = [f"<h3>{e(('Possible repeat: ' if m.repeat else '') + m.title)}</h3>"]
    parts += [f"<p>{e(f)}</p>" for f in m.facts]
    if m.why:
        parts.append(f"<p><b>Why:</b> {e(m.why)}</p>")
    if m.quote:
        parts.append(f'<blockquote style="border-left:3px solid #ccc;padding-left:8px">{e(m.quote)}</blockquote>')
    parts += [f'<p><a href="{e(url, quote=True)}">{e(label)}</a></p>' for label, url in m.links]
    return "<html><body>" + "".join(parts) + "</body></html>"


def build_email(cfg: NotifyChannel, m: Message, key: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = ("Possible repeat: " if m.repeat else "") + m.title
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{key}@brandmon>"
    msg.set_content(m.plain())
    msg.add_alternative(html_body(m), subtype="html")
    for path in m.attachments:
        p = Path(path)
        ctype = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
        main, sub = ctype.split("/", 1)
        try:
            if main == "text":  # as text with charset=utf-8: bytes would go without one and read as mojibake
                msg.add_attachment(p.read_text(encoding="utf-8"), subtype=sub, filename=p.name)
            else:
                msg.add_attachment(p.read_bytes(), maintype=main, subtype=sub, filename=p.name)
        except (OSError, UnicodeDecodeError) as e:
            raise DeliveryError(f"attachment {p.name}: {getattr(e, 'strerror', None) or e}", permanent=True) from None
    return msg


def send_email(name: str, cfg: NotifyChannel, m: Message, key: str) -> None:
    msg = build_email(cfg, m, key)
    smtp: smtplib.SMTP
    try:
        if cfg.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds)
        with smtp:
            if cfg.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, secret(name, "password", cfg.password))
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as e:
        raise DeliveryError(f"email {name}: recipients refused: {', '.join(e.recipients)}", permanent=True) from None
    except smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        raise DeliveryError(f"email {name}: SMTP {e.smtp_code} {text}", permanent=500 <= e.smtp_code < 600) from None
    except (TimeoutError, smtplib.SMTPException, OSError) as e:
        raise DeliveryError(f"email {name}: {cfg.smtp_host}:{cfg.smtp_port}: {e}") from None
