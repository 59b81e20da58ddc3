"""What every channel shares: the error type and a JSON POST."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class DeliveryError(RuntimeError):
    """A delivery failed; `permanent` ones (a refused address, a bad token) are not retried."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def secret(name: str, field: str, value: Any) -> str:
    """A channel secret's value, or a DeliveryError naming the variable that should hold it."""
    v = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value or "")
    if not v:
        raise DeliveryError(
            f"{field} is not set (environment variable BRANDMON_NOTIFY__CHANNELS__{name.upper()}__{field.upper()})",
            permanent=True,
        )
    return v


def post_json(
    url: str, body: dict[str, Any], timeout: float, headers: dict[str, str] | None = None, shown_url: str = ""
) -> bytes:
    """POST `body` as JSON; HTTP 4xx other than 408/429 are permanent, the rest (5xx, network) transient.
    `shown_url` replaces the URL in error messages (webhook and bot URLs carry their token)."""
    req = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )
    where = shown_url or url
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        detail = e.read()[:200].decode("utf-8", "replace").strip()
        permanent = 400 <= e.code < 500 and e.code not in (408, 429)
        raise DeliveryError(f"{where}: HTTP {e.code} {detail}".strip(), permanent=permanent) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DeliveryError(f"{where}: {reason}") from None
