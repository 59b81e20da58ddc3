"""brandmon crawlers."""
