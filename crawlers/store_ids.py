"""Stable ids for things that have no engine id (articles, generic pages)."""

from __future__ import annotations

import hashlib


def post_id_for_url(url: str) -> str:
    return "u" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]
