"""Social and review sources (VK, YouTube, review sites): pure response parsers plus quota bookkeeping.

Parsers take the decoded API/HTML response and return PostItems plus paging information; they never do I/O,
so they are tested on recorded responses and reused by the spiders.
"""
