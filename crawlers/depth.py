"""DEPTH_LIMIT over discovery hops only: a page's own next pages keep its depth.

Scrapy's DepthMiddleware adds one per request, so a 600-post thread (60 pages) stopped at page 13 and a channel's
history after 13 pages. Discovery (index → board → thread, a generic crawl's links) still counts; pagination of
the same thread, listing or channel (requests the spider marks `meta["same_depth"]`) does not. Traps and very long
histories are bounded by the source's page budget (`max_pages`, crawlers.middlewares.PageBudgetMiddleware).
"""

from __future__ import annotations

from scrapy.http import Request, Response
from scrapy.spidermiddlewares.depth import DepthMiddleware

SAME_DEPTH = "same_depth"


class DiscoveryDepthMiddleware(DepthMiddleware):
    """Scrapy's DepthMiddleware, except that a request marked `same_depth` gets its response's depth."""

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if response is not None and request.meta.pop(SAME_DEPTH, False):
            depth = response.meta.get("depth", 0)
            request.meta["depth"] = depth
            if self.prio:
                request.priority -= depth * self.prio
            self.stats.inc_value("brandmon/pagination_requests")
            return request
        return super().get_processed_request(request, response)
