"""The JOBDIR request queue (`SCHEDULER_DISK_QUEUE`): Scrapy's pickle LIFO disk queue, cheaper per request.

Scrapy's own queue turns each request into a dict with `Request.to_dict(spider=...)`, which finds the
callback's and errback's names by listing every attribute of the spider (`inspect.getmembers`), twice per
request: ~0.2 ms each, more than pickling and writing the request. Our callbacks are the spider's own methods,
found under their own names, so the name is checked directly; anything else goes the Scrapy way. The dict
written is the one `Request.to_dict` makes, so a resumed crawl reads it back with Scrapy's `request_from_dict`.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.squeues import PickleLifoDiskQueue as _ScrapyPickleLifoDiskQueue


def _own_method_name(spider: Any, func: Any) -> str | None:
    """`func`'s name when it is `spider`'s method reachable under that name (or None for no callback)."""
    name = getattr(func, "__name__", None)
    if name and getattr(func, "__self__", None) is spider and getattr(spider, name, None) == func:
        return name
    raise LookupError


def request_dict(request: Request, spider: Any) -> dict[str, Any]:
    """`request.to_dict(spider=spider)`, without the attribute scan when the callbacks are plain methods."""
    try:
        cb = None if request.callback is None else _own_method_name(spider, request.callback)
        eb = None if request.errback is None else _own_method_name(spider, request.errback)
    except LookupError:
        return request.to_dict(spider=spider)
    d: dict[str, Any] = {"url": request.url, "callback": cb, "errback": eb, "headers": dict(request.headers)}
    for attr in request.attributes:
        d.setdefault(attr, getattr(request, attr))
    if type(request) is not Request:  # same marker as Request.to_dict for subclasses
        d["_class"] = request.__module__ + "." + request.__class__.__name__
    return d


# Scrapy builds its queue classes with factory functions, so to mypy the base is a variable, not a class
class PickleLifoDiskQueue(_ScrapyPickleLifoDiskQueue):  # type: ignore[valid-type,misc]
    def push(self, request: Request) -> None:
        # skip Scrapy's to_dict step, keep its serialisation layer (pickle) and disk queue
        super(_ScrapyPickleLifoDiskQueue, self).push(request_dict(request, self.spider))  # type: ignore[misc]
