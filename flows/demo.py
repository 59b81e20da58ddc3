"""The demo: serve the bundled demo web, run the monitor flow over it, summarise what landed.

Plain functions; `brandmon demo` (brandmon/cli/flow_cmds.py) adds printing and the dashboard.
"""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from pipeline.bundled import bundled
from pipeline.config import Settings
from pipeline.store import Store


def demo_port(settings: Settings) -> tuple[str, int]:
    u = urlparse(settings.demo_web_url)
    return u.hostname or "127.0.0.1", u.port or 80


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def demo_web_answers(url: str) -> bool:
    """Whether something at `url` looks like the demo web (robots.txt answers)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/robots.txt", timeout=3) as r:
            return r.status == 200
    except Exception:
        return False


def seed_demo_config(settings: Settings) -> list[Path]:
    """Copy the bundled demo's sources.yaml and brands.yaml to where `settings` looks for them, when nothing is
    there yet (a demo in another data dir: both default to files inside it). A file already there is the user's
    and is left alone. Returns the paths written."""
    import shutil

    written = []
    for want, shipped in (
        (settings.sources_file, bundled("sources.yaml")),
        (settings.brands_file, bundled("brands.yaml")),
    ):
        if not want.exists():
            want.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shipped, want)
            written.append(want)
    return written


def start_demo_web(settings: Settings, content_dir: Path | None = None):
    """Start the demo web on Settings.demo_web_url's port in a background thread.

    Returns the server, or None when a demo web already answers there (e.g. `brandmon demo-web` in another
    terminal). Raises RuntimeError when the port is taken by something else.
    """
    from demo.web.server import DemoWebServer

    host, port = demo_port(settings)
    if port_in_use(host, port):
        if demo_web_answers(settings.demo_web_url):
            return None
        raise RuntimeError(
            f"port {port} on {host} is taken by another program; set BRANDMON_DEMO_WEB_URL=http://127.0.0.1:<free port>"
        )
    if content_dir is None:  # the server's own default: the bundled demo web
        return DemoWebServer(host=host, port=port).start()
    return DemoWebServer(content_dir, host=host, port=port).start()


def use_demo_credentials() -> dict[str, str]:
    """Give the demo's VK and YouTube sources the local stand-ins' token and key, unless the environment already
    names real ones. Only `brandmon demo` calls this; real sources read their secrets from the environment."""
    from demo.standins import VK_TOKEN, YT_KEY

    set_now = {}
    for var, value in (("BRANDMON_VK_TOKEN", VK_TOKEN), ("BRANDMON_YOUTUBE_API_KEY", YT_KEY)):
        if not os.environ.get(var):
            os.environ[var] = set_now[var] = value
    return set_now


def table_counts(store: Store) -> dict[str, int]:
    return {t: n for t, n in store.status()["counts"].items() if n is not None}


def top_escalations(store: Store, limit: int = 10) -> pd.DataFrame:
    return store.query(
        """
        SELECT e.level, round(e.priority, 2) AS priority, e.brand_id AS brand, d.source_id AS source,
               left(regexp_replace(d.text, '\\s+', ' ', 'g'), 90) AS text
        FROM escalations e JOIN mentions m USING (mention_id) JOIN documents d USING (doc_id)
        WHERE e.state NOT IN ('resolved', 'dismissed')
        ORDER BY e.priority DESC, e.escalation_id LIMIT ?
        """,
        [limit],
    )


def latest_alerts(store: Store, limit: int = 10) -> pd.DataFrame:
    return store.query(
        "SELECT kind, brand_id AS brand, left(explanation, 120) AS explanation FROM alerts "
        "ORDER BY created_at DESC, alert_id LIMIT ?",
        [limit],
    )
