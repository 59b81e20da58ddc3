"""One page's posts as one Scrapy item.

Scrapy moves each yielded item through the spider-middleware chain, the item-pipeline chain, a signal and the
stats one by one; at ~9 posts a page that bookkeeping cost more than parsing the page. Spiders yield a
`PageItems` per page instead; the raw writer still writes one `PostItem` per line, so the raw layer and
everything downstream see no difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crawlers.items import PostItem


@dataclass
class PageItems:
    items: list[PostItem] = field(default_factory=list)
    page_url: str | None = None

    def __len__(self) -> int:
        return len(self.items)
