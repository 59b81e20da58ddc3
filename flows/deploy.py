"""Deployments with schedules from `Settings.schedule`, served by `brandmon serve`.

| deployment | flow | schedule |
|---|---|---|
| monitor | crawl → ingest → score → escalate → advocates | every `crawl_minutes` (30) |
| themes | themes | every `themes_minutes` (60) |
| alerts | alerts | every `alerts_minutes` (15) |
| rescore | score → themes → escalate → alerts, only when the active model changed | cron `rescore_cron` (03:00) |

Each deployment allows one run at a time (`concurrency_limit=1`); across deployments the data folder's write lock
(flows/locking.py) keeps writing stages one at a time.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from pipeline.config import Settings

MONITOR_SCHEDULED_STAGES = ["crawl", "ingest", "score", "escalate", "advocates"]


def prefect_env(settings: Settings) -> None:
    """Defaults for Prefect's own state, set before prefect is imported.

    Without a configured server (PREFECT_API_URL) Prefect runs a temporary local server backed by SQLite in
    PREFECT_HOME; keeping that beside the data folder means two brandmon installs never share (and lock) it.
    """
    home = Path(os.environ.setdefault("PREFECT_HOME", str(Path(settings.data_dir).resolve() / "prefect")))
    home.mkdir(parents=True, exist_ok=True)
    # The temporary server can take a while to start on a busy small machine (default 20 s).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def build_deployments(settings: Settings, sources: list[str] | None = None, brands: list[str] | None = None) -> list:
    from flows.monitor import alerts_flow, monitor_flow, rescore_flow, themes_flow

    params = {"settings": settings.model_dump(mode="json")}
    sch = settings.schedule
    return [
        monitor_flow.to_deployment(
            "monitor",
            interval=timedelta(minutes=sch.crawl_minutes),
            parameters={**params, "sources": sources, "brands": brands, "stages": MONITOR_SCHEDULED_STAGES},
            concurrency_limit=1,
            tags=["brandmon"],
        ),
        themes_flow.to_deployment(
            "themes", interval=timedelta(minutes=sch.themes_minutes), parameters=params, concurrency_limit=1,
            tags=["brandmon"],
        ),
        alerts_flow.to_deployment(
            "alerts", interval=timedelta(minutes=sch.alerts_minutes), parameters=params, concurrency_limit=1,
            tags=["brandmon"],
        ),
        rescore_flow.to_deployment(
            "rescore", cron=sch.rescore_cron, parameters=params, concurrency_limit=1, tags=["brandmon"],
        ),
    ]


def serve(settings: Settings, sources: list[str] | None = None, brands: list[str] | None = None, limit: int = 2) -> None:
    """Block serving the deployments (Ctrl-C stops). `limit` caps concurrent flow runs in this process."""
    prefect_env(settings)
    from prefect import serve as prefect_serve

    prefect_serve(*build_deployments(settings, sources, brands), limit=limit)
