"""Deployments with schedules from `Settings.schedule`, served by `brandmon serve`.

| deployment | flow | schedule |
|---|---|---|
| monitor | crawl → ingest → score → escalate → advocates | every `crawl_minutes` (30) |
| themes | themes | every `themes_minutes` (60) |
| alerts | alerts | every `alerts_minutes` (15) |
| rescore | score → themes → escalate → alerts, only when the active model changed | cron `rescore_cron` (03:00) |
| notify | deliver notifications, retry failed ones (when `[notify]` has rules) | every `notify.every_minutes` (5) |
| digest | each brand's digest report, sent to `notify.digest_channels` (when set) | cron `notify.digest_cron` |

Each deployment allows one run at a time (`concurrency_limit=1`); across deployments the data folder's write lock
(flows/locking.py) keeps writing stages one at a time.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from pipeline.config import Settings, dump_without_secrets

log = logging.getLogger("flows")

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
    from flows.monitor import alerts_flow, digest_flow, monitor_flow, notify_flow, rescore_flow, themes_flow

    # Prefect keeps parameters in its database and serves them without a login: never the secrets
    params = {"settings": dump_without_secrets(settings)}
    sch = settings.schedule
    extra = []
    if settings.notify.rules:
        extra.append(
            notify_flow.to_deployment(
                "notify",
                interval=timedelta(minutes=settings.notify.every_minutes),
                parameters=params,
                concurrency_limit=1,
                tags=["brandmon"],
            )
        )
    if settings.notify.digest_channels:
        extra.append(
            digest_flow.to_deployment(
                "digest", cron=settings.notify.digest_cron, parameters=params, concurrency_limit=1, tags=["brandmon"]
            )
        )
    return extra + [
        monitor_flow.to_deployment(
            "monitor",
            interval=timedelta(minutes=sch.crawl_minutes),
            parameters={**params, "sources": sources, "brands": brands, "stages": MONITOR_SCHEDULED_STAGES},
            concurrency_limit=1,
            tags=["brandmon"],
        ),
        themes_flow.to_deployment(
            "themes",
            interval=timedelta(minutes=sch.themes_minutes),
            parameters=params,
            concurrency_limit=1,
            tags=["brandmon"],
        ),
        alerts_flow.to_deployment(
            "alerts",
            interval=timedelta(minutes=sch.alerts_minutes),
            parameters=params,
            concurrency_limit=1,
            tags=["brandmon"],
        ),
        rescore_flow.to_deployment(
            "rescore",
            cron=sch.rescore_cron,
            parameters=params,
            concurrency_limit=1,
            tags=["brandmon"],
        ),
    ]


@contextmanager
def local_server(settings: Settings, port: int | None = None, startup_timeout: float = 240.0) -> Iterator[str | None]:
    """A Prefect server for this process when none is configured (PREFECT_API_URL unset).

    Prefect's *temporary* server (what plain flow runs get) does not run the scheduler service, so schedules
    would never fire; `brandmon serve` therefore starts `prefect server start` on 127.0.0.1 as a child process
    (state in PREFECT_HOME beside the data, UI included) and stops it on exit. Yields the API URL, or None when
    an external server is configured.
    """
    prefect_env(settings)
    if os.environ.get("PREFECT_API_URL"):
        yield None
        return
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log_path = Path(os.environ["PREFECT_HOME"]) / "server.log"
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--analytics-off",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
        # Its own session: Ctrl-C in the terminal must reach the runner first (it pauses the deployments through
        # this server on shutdown); the server is stopped below, after the runner.
        start_new_session=True,
    )
    try:
        _wait_healthy(url, proc, startup_timeout, log_path)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with code {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"prefect server did not answer at {url} within {timeout:.0f}s; see {log_path}")


def serve(
    settings: Settings, sources: list[str] | None = None, brands: list[str] | None = None, limit: int = 2
) -> None:
    """Block serving the deployments (Ctrl-C or SIGTERM stops). `limit` caps concurrent flow runs in this process."""
    _stop_on_sigterm()
    with local_server(settings) as url:
        if url:
            log.info("Prefect server (UI and API) at %s", url.removesuffix("/api"))
        from prefect import serve as prefect_serve

        prefect_serve(*build_deployments(settings, sources, brands), limit=limit)


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, docker stop, kill) stops like Ctrl-C until Prefect's runner installs its own graceful
    handler: Python's default would end the process during the server's start-up, skipping the cleanup that stops
    the Prefect server child (its own session, so it would live on)."""
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
