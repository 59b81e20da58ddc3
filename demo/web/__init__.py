"""A local demo web: forums of several engines, a news site, feeds and Telegram pages about the demo brands."""
