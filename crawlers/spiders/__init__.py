"""Spiders: one per engine or source kind; all share `SourceSpider`'s crawl loop."""

from __future__ import annotations

from crawlers.spiders.base import SourceSpider
from crawlers.spiders.kinds import (
    CommentsSpider,
    DiscourseSpider,
    FeedSpider,
    ForumSpider,
    GenericSpider,
    IpbSpider,
    PhpbbSpider,
    SmfSpider,
    TelegramSpider,
    VBulletinSpider,
    XenforoSpider,
)

# The API/review spiders (crawlers.spiders.social) are imported only for their sources: they pull in
# pipeline.store and with it pandas, ~0.9 s of start-up in every crawler process that never uses them.
SPIDERS = {
    s.name: s
    for s in (
        ForumSpider,
        VBulletinSpider,
        PhpbbSpider,
        XenforoSpider,
        IpbSpider,
        SmfSpider,
        DiscourseSpider,
        CommentsSpider,
        FeedSpider,
        TelegramSpider,
        GenericSpider,
    )
}


def spider_for(source) -> type[SourceSpider]:
    """The spider class for a source: forums by engine, other kinds by kind."""
    if source.kind == "forum":
        aliases = {"phpbb2": "phpbb", "phpbb3": "phpbb", "xf": "xenforo", "invision": "ipb"}
        eng = aliases.get(source.engine, source.engine)
        return SPIDERS.get(eng or "", ForumSpider)
    if source.kind in ("vk", "youtube", "reviews"):  # API/review spiders live in their own module
        from crawlers.spiders import social

        return {"vk": social.VkSpider, "youtube": social.YoutubeSpider, "reviews": social.ReviewsSpider}[source.kind]
    return SPIDERS.get(source.kind, GenericSpider)


__all__ = ["SPIDERS", "SourceSpider", "spider_for"]
