"""Unknown page → the universal extractor (`crawlers.parsers.universal`): its repeated post/comment records
(microdata, JSON-LD, DOM records or a JSON state blob), or one item with its main text when it has none."""

from __future__ import annotations

from crawlers.parsers.base import PageResult, ParseContext
from crawlers.parsers.universal import parse as _universal_parse


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    return _universal_parse(html, url, ctx)
