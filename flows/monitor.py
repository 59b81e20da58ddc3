"""Prefect flows: thin wrappers over `flows.stages`.

Tasks add what Prefect is good at: retries with exponential backoff and jitter on transient errors only
(`is_transient`: locked database/write lock, network), a timeout per task, task runs visible in the UI with their
counts logged. The chain itself is `flows.stages.monitor_body`, the same code `brandmon run --no-prefect` runs.

Flow parameters are JSON (the settings as a dict, names of sources/brands/stages) so deployments can carry them.
Prefect stores parameters in its database and serves them from its API and UI, so the settings travel without their
secrets (`pipeline.config.dump_without_secrets`); the flow reads those from the environment when it rebuilds them.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.tasks import exponential_backoff

from flows import stages as st
from flows.faults import store_for
from pipeline.config import Settings, load_settings
from pipeline.logs import configure_logging


def _transient_only(task_, task_run, state) -> bool:
    exc = state.data if isinstance(getattr(state, "data", None), BaseException) else None
    return exc is not None and st.is_transient(exc)


@task(name="stage", cache_policy=NO_CACHE, retry_condition_fn=_transient_only)
def stage_task(name: str, settings: Settings, store, **kwargs: Any) -> dict:
    counts = st.run_stage(name, settings, store, **kwargs)
    get_run_logger().info("%s: %s", name, st._short(counts) or "no counts")
    return counts


@task(name="crawl-source", cache_policy=NO_CACHE, retry_condition_fn=_transient_only)
def crawl_task(settings: Settings, store, source: str, since: Any = None) -> dict:
    counts = st.crawl_source(settings, store, source, since)
    get_run_logger().info("crawl %s: %s", source, st._short(counts) or "no counts")
    return counts


def _retry_options(settings: Settings, timeout: float) -> dict:
    sch = settings.schedule
    return {
        "retries": sch.retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=sch.retry_delay_seconds),
        "retry_jitter_factor": sch.retry_jitter_factor or None,
        "timeout_seconds": timeout,
    }


def prefect_executors(settings: Settings):
    """(call_stage, call_crawl) that run each stage / source as a retrying Prefect task."""
    stage_opts = _retry_options(settings, settings.schedule.stage_timeout_seconds)
    crawl_opts = _retry_options(settings, settings.schedule.crawl_timeout_seconds)

    def call_stage(name: str, settings: Settings, store, **kwargs: Any) -> dict:
        return stage_task.with_options(name=name, task_run_name=name, **stage_opts)(name, settings, store, **kwargs)

    def call_crawl(settings: Settings, store, source: str, since: Any = None) -> dict:
        return crawl_task.with_options(task_run_name=f"crawl-{source}", **crawl_opts)(settings, store, source, since)

    return call_stage, call_crawl


def prefect_submitter(settings: Settings):
    """Submit each source's crawl task to the flow's task runner at once (None: crawl one after another).

    On when `Settings.schedule.crawl_concurrency` > 1: that many sources are crawled at a time on the flow's task
    runner (the default thread pool: each crawl is a Scrapy subprocess; a DaskTaskRunner: over a cluster).
    """
    if settings.schedule.crawl_concurrency <= 1:
        return None
    opts = _retry_options(settings, settings.schedule.crawl_timeout_seconds)

    def submit(settings: Settings, store, source: str, since: Any = None):
        future = crawl_task.with_options(task_run_name=f"crawl-{source}", **opts).submit(settings, store, source, since)
        return future.result

    return submit


def settings_from(params: dict | None) -> Settings:
    """Settings from a flow parameter (a dump of Settings without secrets, which come from the BRANDMON_* environment),
    else from env/TOML like the CLI."""
    s = Settings(**params) if params else load_settings()
    configure_logging(s.log_level, s.log_file)
    return s


def _run_id() -> str | None:
    ctx = FlowRunContext.get()  # None outside a flow run (a flow's function called directly)
    return str(ctx.flow_run.id) if ctx is not None and ctx.flow_run is not None else None


def run_chain(
    flow_name: str,
    settings: dict | None,
    sources: list[str] | None = None,
    brands: list[str] | None = None,
    stages: list[str] | None = None,
    since: str | None = None,
) -> dict:
    s = settings_from(settings)
    call_stage, call_crawl = prefect_executors(s)
    summary = st.monitor_body(
        s,
        store_for(s),
        sources=sources,
        brands=brands,
        stages=stages,
        since=since,
        flow=flow_name,
        flow_run_id=_run_id(),
        call_stage=call_stage,
        call_crawl=call_crawl,
        submit_crawl=prefect_submitter(s),
    )
    logger = get_run_logger()
    for name, r in summary["stages"].items():
        logger.info("%-9s %-7s %6.1fs %s", name, r["status"], r["seconds"], r["error"] or st._short(r["counts"]))
    return summary


@flow(
    name="monitor",
    description="Crawl the selected sources, ingest, score, cluster, escalate, find advocates and alerts.",
)
def monitor_flow(
    settings: dict | None = None,
    sources: list[str] | None = None,
    brands: list[str] | None = None,
    stages: list[str] | None = None,
    since: str | None = None,
) -> dict:
    return run_chain("monitor", settings, sources, brands, stages, since)


# One flow per stage, each also recording its own flow_runs row.
@flow(name="crawl")
def crawl_flow(settings: dict | None = None, sources: list[str] | None = None, since: str | None = None) -> dict:
    return run_chain("crawl", settings, sources=sources, stages=["crawl"], since=since)


@flow(name="ingest")
def ingest_flow(settings: dict | None = None) -> dict:
    return run_chain("ingest", settings, stages=["ingest"])


@flow(name="score")
def score_flow(settings: dict | None = None, brands: list[str] | None = None) -> dict:
    return run_chain("score", settings, brands=brands, stages=["score"])


@flow(name="themes")
def themes_flow(settings: dict | None = None) -> dict:
    return run_chain("themes", settings, stages=["themes"])


@flow(name="escalate")
def escalate_flow(settings: dict | None = None) -> dict:
    return run_chain("escalate", settings, stages=["escalate"])


@flow(name="advocates")
def advocates_flow(settings: dict | None = None) -> dict:
    return run_chain("advocates", settings, stages=["advocates"])


@flow(name="alerts")
def alerts_flow(settings: dict | None = None) -> dict:
    return run_chain("alerts", settings, stages=["alerts"])


@flow(name="rescore", description="Re-score everything when the active scoring model changed since the last rescore.")
def rescore_flow(settings: dict | None = None, force: bool = False) -> dict:
    s = settings_from(settings)
    store = store_for(s)
    store.upgrade()
    active, last = st.active_score_model(store), st.last_rescored_model(store)
    if not force and active == last:
        get_run_logger().info("active model %s unchanged since the last rescore; nothing to do", active)
        return {"status": "skipped", "model_version": active}
    call_stage, call_crawl = prefect_executors(s)
    summary = st.monitor_body(
        s,
        store,
        stages=["score", "themes", "escalate", "alerts"],
        flow="rescore",
        flow_run_id=_run_id(),
        call_stage=call_stage,
        call_crawl=call_crawl,
        extra=lambda: {"model_version": st.active_score_model(store)},
    )
    return summary


@flow(name="notify", description="Queue notifications for new escalations and alerts; deliver and retry the due ones.")
def notify_flow(settings: dict | None = None) -> dict:
    return run_chain("notify", settings, stages=["notify"])


@flow(name="digest", description="Write each brand's digest report and send it to the digest channels.")
def digest_flow(settings: dict | None = None, period: str | None = None) -> dict:
    s = settings_from(settings)
    call_stage, _ = prefect_executors(s)
    return call_stage("digest", s, store_for(s), period=period)


STAGE_FLOWS = {
    "crawl": crawl_flow,
    "ingest": ingest_flow,
    "score": score_flow,
    "themes": themes_flow,
    "escalate": escalate_flow,
    "advocates": advocates_flow,
    "alerts": alerts_flow,
    "notify": notify_flow,
}
