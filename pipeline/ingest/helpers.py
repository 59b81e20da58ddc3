"""Helper processes that turn the next batches into rows while the ingesting process writes the current one."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import get_context
from typing import Any

from pipeline.brands import build_matcher
from pipeline.config import Settings, load_brands
from pipeline.ingest.rows import Prep, Prepared, about_rules, doc_rows, mention_rows
from pipeline.ingest.write import Ctx
from pipeline.normalize import dedup_key
from pipeline.privacy import make_masker
from pipeline.store import utcnow

log = logging.getLogger("pipeline.ingest")

_HELPER: dict[str, Any] = {}


class HelperUnavailable(RuntimeError):
    """The helper process could not set itself up (its brands file is unreadable, …)."""


def helper_init(settings: Settings) -> None:
    # an initializer that raises makes the pool log a traceback from the child and then break; keeping the reason
    # for each task to report gives the ingest's own warning instead
    try:
        brands = load_brands(settings.brands_file)
        _HELPER["ctx"] = Prep(
            settings,
            build_matcher(brands, settings),
            make_masker(settings.ingest.order_patterns),
            None,
            "",
            about_rules(settings, {b.id for b in brands}),
        )
    except Exception as e:
        _HELPER["error"] = f"{type(e).__name__}: {e}"


def helper_prepare(items: list[dict], run_id: str | None, raw_path: str) -> Prepared:
    if "ctx" not in _HELPER:
        raise HelperUnavailable(_HELPER.get("error", "not initialised"))
    ctx = replace(_HELPER["ctx"], run_id=run_id, raw_path=raw_path)
    now = utcnow()
    docs, links = doc_rows(items, ctx, now)
    keys = dict(zip(docs["doc_id"].tolist(), map(dedup_key, docs["text"].tolist())))
    return Prepared(docs, links, mention_rows(docs, ctx, now), keys, now)


def prepared_batches(
    batches: Iterator[list[dict]], ctx: Ctx, helpers: int
) -> Generator[tuple[list[dict], Prepared | None], None, None]:
    """(batch, its rows prepared ahead or None) in order. With `helpers` processes and more than one batch, the
    next batches are normalised, masked and matched in helper processes while the caller writes the current one
    (the first batch is done here while the helpers start). A helper that dies or cannot start costs nothing but
    speed: the remaining batches are prepared here."""
    first = next(batches, None)
    if first is None:
        return
    second = next(batches, None) if helpers else None
    if second is None:
        yield first, None
        yield from ((b, None) for b in batches)
        return
    pool = ProcessPoolExecutor(
        helpers, mp_context=get_context("spawn"), initializer=helper_init, initargs=(ctx.settings,)
    )
    ahead: deque[list] = deque()  # [batch, future]; a batch stays here until its rows are handed out

    def submit(b: list[dict]) -> None:
        ahead.append([b, None])
        ahead[-1][1] = pool.submit(helper_prepare, b, ctx.run_id, ctx.raw_path)

    def take() -> tuple[list[dict], Prepared]:
        prepared = ahead[0][1].result()
        return ahead.popleft()[0], prepared

    try:
        submit(second)
        yield first, None
        for b in batches:
            submit(b)
            while len(ahead) > helpers:
                yield take()
        while ahead:
            yield take()
    except (BrokenProcessPool, HelperUnavailable) as e:
        log.warning("ingest helper process failed (%s); preparing the remaining batches in this process", e)
        while ahead:
            yield ahead.popleft()[0], None
        yield from ((b, None) for b in batches)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
