"""The per-brand digest report: `digest_data` reads a period and the one before, `render_html` writes one
self-contained HTML file (inline CSS and SVG charts, no script), `write_digest` does both; `send_digest` queues
it for the notification channels (the e-mail carries the file, chats get the summary and a link)."""

from pipeline.report.data import Digest, digest_data
from pipeline.report.html import render_html
from pipeline.report.period import ReportError, parse_period
from pipeline.report.write import send_digest, write_digest

__all__ = ["Digest", "ReportError", "digest_data", "parse_period", "render_html", "send_digest", "write_digest"]
