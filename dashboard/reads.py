"""Read-only queries for the pages: cached, on one connection per script run, never a traceback on a lock.

`q("mentions", f=...)` runs `dashboard.queries.<name>` on a read-only connection (Store.read() retries while a
writer holds the file) inside `st.cache_data` with the configured TTL. A lock that outlasts the retry shows
"database busy, retrying" and re-runs the page. `GATE` keeps this process's readers and its one writer (an analyst
action, dashboard/actions.py) apart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import streamlit as st

from dashboard import queries
from dashboard.session import settings, write_store
from pipeline.store import Store, StoreError, StoreLockedError

if TYPE_CHECKING:
    from streamlit.runtime.caching.cache_utils import CachedFunc


# DuckDB refuses a read-only and a read-write connection to one file inside one process, and Streamlit serves
# every session from threads of one process: readers share, an analyst action waits until no reader is open.
class ReadWriteGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._readers:
                self._cond.wait()
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


GATE = ReadWriteGate()
_RUN = threading.local()  # the read connection of the script run on this thread
_CACHED: dict[int, CachedFunc] = {}
BUSY_RETRIES = 5


def _run_connection(db_path: str, timeout: float):
    """One read-only connection per script run, opened at the first cache miss (connecting costs more than most
    queries) and closed by `close_run_connection()` when the page is done, so writers wait only that long."""
    cur = getattr(_RUN, "state", None)
    if cur is not None and cur[0] == db_path:
        return cur[1]
    close_run_connection()
    stack = ExitStack()
    try:
        stack.enter_context(GATE.reading())
        # the published snapshot: a pipeline run writing the database never makes a page wait
        s = settings()  # a team server's store (store.url) or the file
        store = (
            Store.from_settings(s) if s.store.url else Store(db_path, lock_timeout=timeout, snapshots=s.store.snapshots)
        )
        con = stack.enter_context(store.reader())
    except BaseException:
        stack.close()
        raise
    _RUN.state = (db_path, con, stack)
    return con


def close_run_connection() -> None:
    cur = getattr(_RUN, "state", None)
    _RUN.state = None
    if cur is not None:
        cur[2].close()


def _run_query(db_path: str, timeout: float, name: str, kwargs: dict) -> Any:
    return getattr(queries, name)(_run_connection(db_path, timeout), **kwargs)


def _cached_runner(ttl: int) -> CachedFunc:
    if ttl not in _CACHED:
        _CACHED[ttl] = st.cache_data(ttl=ttl, show_spinner=False, max_entries=512)(_run_query)
    return _CACHED[ttl]


def q(name: str, **kwargs: Any) -> Any:
    """Run `dashboard.queries.<name>(con, **kwargs)` cached; on a long lock show "busy" and retry."""
    s = settings()
    runner = _cached_runner(int(s.dashboard.cache_ttl_seconds))
    try:
        out = runner(str(s.db_path), float(s.dashboard.read_timeout_seconds), name, kwargs)
    except StoreLockedError:
        _busy()
    except StoreError as e:
        st.error(f"Cannot read the database: {e}")
        st.stop()
    st.session_state["_bm_busy"] = 0
    return _laid_over(name, out, kwargs)


def _laid_over(name: str, out: Any, kwargs: dict) -> Any:
    """Analyst actions the snapshot does not hold yet (journaled or just applied) laid over a query's rows, so an
    analyst sees their click at once (pipeline.actions); outside the cache, which holds the snapshot's rows."""
    if name not in (
        "escalation_queue",
        "escalation_events",
        "mention_detail",
        "mentions",
        "mentions_export",
        "alerts",
        "latest_alerts",
    ):
        return out
    from pipeline.actions import overlay_alerts, overlay_history, overlay_labels, overlay_queue, unpublished

    acts = unpublished(write_store())
    if not acts:
        return out
    if name in ("alerts", "latest_alerts"):
        return overlay_alerts(out, acts, kwargs.get("show", "all"))
    if name == "escalation_events":
        return overlay_history(out, kwargs["escalation_id"], acts)
    if name == "escalation_queue":
        out = overlay_queue(out, acts)
    return overlay_labels(out, acts)


def _busy() -> None:
    n = st.session_state.get("_bm_busy", 0)
    st.warning("Database busy: a pipeline run is writing right now. Retrying…", icon=":material/hourglass_top:")
    if n < BUSY_RETRIES:
        st.session_state["_bm_busy"] = n + 1
        time.sleep(1.0)
        st.rerun()
    st.session_state["_bm_busy"] = 0
    st.button("Retry now", key="_bm_retry")
    st.stop()


def fetch(name: str, **kwargs: Any) -> Any:
    """`dashboard.queries.<name>(con, **kwargs)` uncached, for large one-off reads (exports) that should not sit in
    the shared cache. Returns None (with a warning) when a writer holds the database past the read timeout."""
    s = settings()
    try:
        out = _run_query(str(s.db_path), float(s.dashboard.read_timeout_seconds), name, kwargs)
    except StoreLockedError:
        st.warning("Database busy: a pipeline run is writing right now. Try again in a moment.")
        return None
    except StoreError as e:
        st.error(f"Cannot read the database: {e}")
        st.stop()
    return None if out is None else _laid_over(name, out, kwargs)  # an export holds the analyst's own clicks too


def clear_cache() -> None:
    for fn in _CACHED.values():
        fn.clear()
