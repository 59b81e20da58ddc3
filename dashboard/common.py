"""What every dashboard page shares: settings, cached read-only queries, analyst actions, safe text, exports.

Reads: `q("mentions", f=...)` runs `dashboard.queries.<name>` on a read-only connection (Store.read() retries
while a writer holds the file) inside `st.cache_data` with the configured TTL. A lock that outlasts the retry
shows "database busy, retrying" and re-runs, never a traceback.
Actions: `act(fn, ...)` calls a pipeline function (pipeline.escalate / pipeline.alerts) with the analyst's name
as actor, shows `ActionError` as a warning, then clears the cache so every view shows the new state.
Scraped text is never HTML: it goes into st.dataframe cells, st.text, or markdown with every markdown character
escaped; only http(s) URLs become links.
"""

from __future__ import annotations

import hmac
import io
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import queries
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.store import Store, StoreError, StoreLockedError

if TYPE_CHECKING:
    from streamlit.runtime.caching.cache_utils import CachedFunc


# DuckDB refuses a read-only and a read-write connection to one file inside one process, and Streamlit serves
# every session from threads of one process: readers share, an analyst action waits until no reader is open.
class _ReadWriteGate:
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


_GATE = _ReadWriteGate()
_RUN = threading.local()  # the read connection of the script run on this thread
_CACHED: dict[int, CachedFunc] = {}
BUSY_RETRIES = 5

BRAND_COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777"]
SENTIMENT_COLORS = {"negative": "#dc2626", "neutral": "#94a3b8", "positive": "#16a34a", "unscored": "#e2e8f0"}


# ------------------------------------------------------------------------------------------ settings


def _config_arg(argv: list[str]) -> str | None:
    """`streamlit run dashboard/app.py -- --config FILE` (what `brandmon dashboard --config` passes)."""
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


def settings() -> Settings:
    """Settings for this run: --config after `--`, then BRANDMON_* env (BRANDMON_DB_PATH, BRANDMON_DATA_DIR …)."""
    if "_bm_settings" not in st.session_state:
        try:
            st.session_state["_bm_settings"] = load_settings(_config_arg(sys.argv[1:]))
        except ConfigError as e:
            st.error(f"Configuration error: {e}")
            st.stop()
    return st.session_state["_bm_settings"]


def write_store() -> Store:
    return Store.from_settings(settings())


# ------------------------------------------------------------------------------------------ reads


def _run_connection(db_path: str, timeout: float):
    """One read-only connection per script run, opened at the first cache miss (connecting costs more than most
    queries) and closed by `close_run_connection()` when the page is done, so writers wait only that long."""
    cur = getattr(_RUN, "state", None)
    if cur is not None and cur[0] == db_path:
        return cur[1]
    close_run_connection()
    stack = ExitStack()
    try:
        stack.enter_context(_GATE.reading())
        # the published snapshot: a pipeline run writing the database never makes a page wait
        con = stack.enter_context(Store(db_path, lock_timeout=timeout, snapshots=settings().store.snapshots).reader())
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
    if name not in ("escalation_queue", "escalation_events", "mention_detail", "mentions"):
        return out
    from pipeline.actions import overlay_history, overlay_labels, overlay_queue, unpublished

    acts = unpublished(write_store())
    if not acts:
        return out
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
        return _run_query(str(s.db_path), float(s.dashboard.read_timeout_seconds), name, kwargs)
    except StoreLockedError:
        st.warning("Database busy: a pipeline run is writing right now. Try again in a moment.")
        return None
    except StoreError as e:
        st.error(f"Cannot read the database: {e}")
        st.stop()


def clear_cache() -> None:
    for fn in _CACHED.values():
        fn.clear()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# ------------------------------------------------------------------------------------------ access, actor


def check_access() -> bool:
    """True when this session may see data: the OIDC sign-in or the password gate, as configured."""
    d = settings().dashboard
    if d.auth == "oidc":
        return _oidc_gate(d.oidc_provider)
    return check_password()


def check_password() -> bool:
    """When Settings.dashboard.password is set, nothing renders until it is entered (constant-time compare)."""
    pw = settings().dashboard.password.get_secret_value()
    if not pw or st.session_state.get("_bm_auth"):
        return True
    st.title("brandmon")
    with st.form("login"):
        given = st.text_input("Password", type="password")
        ok = st.form_submit_button("Sign in")
    if ok:
        if hmac.compare_digest(given.encode("utf-8"), pw.encode("utf-8")):
            st.session_state["_bm_auth"] = True
            st.rerun()
        st.error("Wrong password.")
    return False


OIDC_KEYS = ("client_id", "client_secret", "server_metadata_url")


def oidc_config_problem(auth: Mapping[str, Any] | None, provider: str = "") -> str | None:
    """What is missing from the secrets' [auth] section for `st.login(provider)`, or None when it is complete.

    Mirrors what st.login checks, so the analyst sees one readable message instead of a traceback."""
    where = "`.streamlit/secrets.toml`"
    if not auth:
        return (
            f"OIDC sign-in is configured (dashboard.auth = oidc) but no [auth] section was found in {where} "
            "(read from the folder the dashboard was started in, dashboard/.streamlit/ and ~/.streamlit/)."
        )
    missing = [k for k in ("redirect_uri", "cookie_secret") if not auth.get(k)]
    if provider:
        if "_" in provider:
            return f"OIDC provider name {provider!r} must not contain an underscore (Streamlit refuses it)."
        section = auth.get(provider)
        if not isinstance(section, Mapping):
            return f"OIDC provider {provider!r} is configured but {where} has no [auth.{provider}] section."
        missing += [f"{provider}.{k}" for k in OIDC_KEYS if not section.get(k)]
    else:
        missing += [k for k in OIDC_KEYS if not auth.get(k)]
    if missing:
        return f"OIDC sign-in is configured but {where} [auth] lacks: " + ", ".join(missing) + "."
    return None


def _auth_secrets() -> Mapping[str, Any] | None:
    from streamlit.errors import StreamlitSecretNotFoundError

    try:
        return st.secrets["auth"] if "auth" in st.secrets else None
    except StreamlitSecretNotFoundError:  # no secrets file at all, or one that does not parse
        return None


def _signed_in() -> bool:
    return bool(st.user.get("is_logged_in"))


def signed_in_name() -> str:
    """The identity provider's name for the signed-in user (else e-mail, else subject); "" when signed out."""
    if not _signed_in():
        return ""
    for claim in ("name", "email", "preferred_username", "sub"):
        v = st.user.get(claim)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return ""


def _oidc_gate(provider: str) -> bool:
    problem = oidc_config_problem(_auth_secrets(), provider)
    if problem:
        st.title("brandmon")
        st.error(problem + " See the Dashboard section of the README.", icon=":material/key_off:")
        return False
    if _signed_in():
        return True
    st.title("brandmon")
    st.info("Sign in with your organisation account to see brand mentions and act on them.")
    if st.button("Sign in", type="primary", key="_bm_login", icon=":material/login:"):
        from streamlit.errors import StreamlitAuthError

        try:
            st.login(provider or None)
        except StreamlitAuthError as e:  # the secrets Streamlit itself reads differ from st.secrets here
            st.error(f"Cannot start the sign-in: {e}")
    return False


def actor() -> str:
    """Who is acting: the signed-in OIDC user (not editable) or the name typed in the sidebar."""
    if settings().dashboard.auth == "oidc":
        return signed_in_name()
    return (st.session_state.get("analyst") or "").strip()


def analyst_box() -> None:
    if settings().dashboard.auth == "oidc":
        st.sidebar.markdown("Signed in as **" + md_escape(signed_in_name() or "?") + "**")
        # a callback runs before the next script run, which then already sees the signed-out st.user
        st.sidebar.button("Sign out", key="_bm_logout", icon=":material/logout:", on_click=st.logout)
        return
    st.sidebar.text_input(
        "Analyst name",
        key="analyst",
        placeholder="recorded on every action",
        help="Asked once per session; written as the actor of every change you make.",
    )


def act(fn: Callable, *args: Any, success: str, **kwargs: Any) -> bool:
    """Run an analyst action as the current analyst; ActionError → warning; success → fresh data + toast."""
    who = actor()
    if not who:
        st.warning(
            "Your sign-in carries no name or e-mail, and every action records who made it."
            if settings().dashboard.auth == "oidc"
            else "Enter your name in the sidebar first: every action records who made it."
        )
        return False
    from pipeline.escalate import ActionError

    close_run_connection()  # this run's reader must not wait for itself
    try:
        with _GATE.writing():
            fn(write_store(), *args, actor=who, **kwargs)
    except ActionError as e:
        st.warning(str(e))
        return False
    except StoreLockedError:
        st.warning("Database busy: a pipeline run is writing right now. Try again in a moment.")
        return False
    clear_cache()
    for k in [k for k in st.session_state if str(k).startswith("_bm_export_")]:
        del st.session_state[k]  # prepared exports hold the rows as they were before this change
    st.session_state["_bm_flash"] = success
    st.rerun()
    return True


def flash() -> None:
    msg = st.session_state.pop("_bm_flash", None)
    if msg:
        st.success(msg)


# ------------------------------------------------------------------------------------------ safe text

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&\"'^%@/])")


_AUTOLINKISH = re.compile(r"(?i)\b(?:https?|ftp|www|mailto)|\.(?=\w)")


def md_escape(text: Any) -> str:
    """Escape every markdown-significant ASCII character, so scraped text renders as literal text."""
    s = "" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)
    # Streamlit's markdown links bare URLs, www. names and e-mails even when escaped: a word joiner (invisible,
    # U+2060) inside each such token keeps it plain text on screen; tables and exports keep the raw text.
    s = _AUTOLINKISH.sub("\\g<0>\u2060", s).replace("@", "\u2060@")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.replace("\r", "").replace("\n", "  \n")


def highlight(context: str, span_start: Any, span_end: Any, matched: Any = None) -> str:
    """Markdown for the scored context with the brand span in bold; every scraped character escaped."""
    ctx = context or ""
    a, b = _span(ctx, span_start, span_end, matched)
    if a is None:
        return md_escape(ctx)
    return f"{md_escape(ctx[:a])}**{md_escape(ctx[a:b])}**{md_escape(ctx[b:])}"


ABOUT_NOTE = "The post does not name the brand: its source ties it to the brand (`about` in sources.yaml)."


THREAD_NOTES = {
    "thread_title": "The post does not name the brand: it is a reply in a thread whose title names it (inherited "
    "from the thread title).",
    "opening_post": "The post does not name the brand: it is a reply in a thread whose opening post names it "
    "(inherited from the opening post).",
}


def mention_note(matched: Any, via: Any) -> str | None:
    """Why a mention whose post does not name the brand is there: inherited from its thread (`via`), or its
    source's `about`; None for a mention from the post's own words."""
    if isinstance(via, str) and via:
        return THREAD_NOTES.get(via, f"The post does not name the brand: inherited from its thread ({via}).")
    return None if named_in_text(matched) else ABOUT_NOTE


def named_in_text(matched: Any) -> bool:
    """Whether the mention came from the post's own words (a span-less one comes from its source's `about`)."""
    return isinstance(matched, str) and bool(matched)


def _span(ctx: str, a: Any, b: Any, matched: Any) -> tuple[int | None, int | None]:
    try:
        a, b = int(a), int(b)
    except (TypeError, ValueError):
        a = b = None
    if a is not None and 0 <= a < b <= len(ctx) and (not matched or ctx[a:b].lower() == str(matched).lower()):
        return a, b
    if matched and isinstance(matched, str):  # spans counted in the document, not the context window
        i = ctx.lower().find(matched.lower())
        if i >= 0:
            return i, i + len(matched)
    return None, None


def record(row: pd.Series) -> Any:
    """A row as attributes with every missing value (NaN, NA, NaT) as None, so `x or "—"` is safe."""
    from types import SimpleNamespace

    return SimpleNamespace(**{str(k): (None if _missing(v) else v) for k, v in row.items()})


def fmt_ts(ts: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "—" if ts is None or _missing(ts) else pd.Timestamp(ts).strftime(fmt)


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # lists/arrays are values, not missing
        return False


_HTTP = re.compile(r"^https?://[^\s/?#\\]+", re.IGNORECASE)


def safe_url(u: Any) -> str | None:
    return u if isinstance(u, str) and _HTTP.match(u) and not any(c in u for c in "\r\n\t <>\"'`") else None


def safe_links(s: pd.Series) -> pd.Series:
    """Only http(s) URLs survive as links; anything else (javascript:, data:, //host) becomes empty."""
    ok = s.astype("string").str.match(_HTTP.pattern, case=False).fillna(False)
    bad_chars = s.astype("string").str.contains(r"[\s<>\"'`]", regex=True).fillna(True)
    return s.where(ok & ~bad_chars, None)


# ------------------------------------------------------------------------------------------ tables and exports


def _for_export(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_convert("UTC").dt.tz_localize(None)  # Excel has no time zones; all UTC
        elif out[c].dtype == object:
            # A cell starting with = + - @ is a formula to Excel/LibreOffice: keep it text.
            out[c] = out[c].map(lambda v: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v)
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    return _for_export(df).to_csv(index=False).encode("utf-8-sig")  # BOM: Excel opens Cyrillic CSV correctly


def to_xlsx_bytes(df: pd.DataFrame, sheet: str = "brandmon") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        _for_export(df).to_excel(xw, index=False, sheet_name=sheet[:31])
    return buf.getvalue()


EXCEL_MAX_ROWS = 1_048_576  # a worksheet's rows, the header included


def export_buttons(df: pd.DataFrame, name: str, key: str, note: str = "") -> None:
    """CSV and Excel downloads of exactly `df` (generated on click); `note` is appended to the labels."""
    c1, c2, _ = st.columns([1, 1, 4])
    stamp = now_utc().strftime("%Y%m%d-%H%M")
    c1.download_button(
        "⬇ CSV" + note,
        data=lambda: to_csv_bytes(df),
        file_name=f"{name}-{stamp}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        width="stretch",
    )
    if len(df) >= EXCEL_MAX_ROWS:
        c2.caption("Too many rows for Excel: use CSV")
        return
    c2.download_button(
        "⬇ Excel" + note,
        data=lambda: to_xlsx_bytes(df, name),
        file_name=f"{name}-{stamp}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        width="stretch",
    )


def export_all(
    fetch_rows: Callable[[int], pd.DataFrame | None], total: int, shown: int, *, name: str, key: str, token: Any
) -> None:
    """Export every matching row when a view shows only the first `shown` of `total`.

    Rows are fetched only when the analyst presses the button (page loads stay one page), at most
    `dashboard.export_limit` of them (a note says so when the filter matches more). The prepared rows are kept
    for this session while `token` (the view's filter) stays the same, and dropped when it changes."""
    if total <= shown:
        return
    limit = max(1, int(settings().dashboard.export_limit))
    slot = f"_bm_export_{key}"
    held = st.session_state.get(slot)
    if held is not None and held[0] != token:
        del st.session_state[slot]
        held = None
    with st.container(border=True):
        st.markdown(
            f"The table shows the first {shown:,} of **{total:,}** matching rows; the buttons under it "
            f"export those {shown:,}."
        )
        if total > limit:
            st.warning(
                f"Exports are capped at {limit:,} rows (dashboard.export_limit): the export holds the first "
                f"{limit:,} of {total:,}. Narrow the filters to export the rest.",
                icon=":material/content_cut:",
            )
        slot_button = st.empty()  # emptied once pressed, so the ready export replaces it in the same run
        if held is None and slot_button.button(
            f"Prepare export of all {min(total, limit):,} matching rows",
            key=f"{key}_all_prepare",
            icon=":material/download:",
        ):
            slot_button.empty()
            rows = fetch_rows(limit)
            if rows is not None:
                held = (token, rows)
                st.session_state[slot] = held
        if held is not None:
            rows = held[1]
            st.caption(
                f"Export ready: {len(rows):,} rows"
                + (f" (capped at export_limit {limit:,})" if len(rows) >= limit and total > limit else "")
            )
            export_buttons(rows, f"{name}-all", f"{key}_all", note=f" · all {len(rows):,}")


def table(
    df: pd.DataFrame,
    key: str,
    *,
    name: str,
    column_config: dict | None = None,
    columns: list[str] | None = None,
    height: int | None = None,
    selectable: bool = False,
):
    """A dataframe view plus its exports; `url`-like columns become http(s)-only links."""
    view = df.copy()
    cfg = dict(column_config or {})
    for c in view.columns:
        if c == "url" or c.endswith("_url"):
            view[c] = safe_links(view[c])
            cfg.setdefault(c, st.column_config.LinkColumn("Link", display_text="open ↗", width="small"))
    for c in view.columns:  # readable headers unless a page set its own
        cfg.setdefault(c, "Source" if c == "source_id" else str(c).replace("_", " ").capitalize())
    kwargs: dict[str, Any] = dict(hide_index=True, column_config=cfg, column_order=columns, key=key, width="stretch")
    if height:
        kwargs["height"] = height
    if selectable:
        kwargs.update(on_select="rerun", selection_mode="single-row")
    ev = st.dataframe(view, **kwargs)
    export_buttons(df[columns] if columns else df, name, key)
    return ev


def brand_filter(key: str, label: str = "Brands", sidebar: bool = True) -> list[str]:
    b = q("brands")
    where = st.sidebar if sidebar else st
    names = dict(zip(b["brand_id"], b["name"]))
    return where.multiselect(
        label, list(names), format_func=lambda x: names.get(x, x), key=key, placeholder="All brands"
    )


def brand_names() -> dict[str, str]:
    b = q("brands")
    return dict(zip(b["brand_id"], b["name"]))


def window_picker(key: str, default_days: int = 30) -> datetime:
    opts = {"24 hours": 1, "7 days": 7, "30 days": 30, "90 days": 90, "1 year": 365}
    label = st.sidebar.selectbox("Period", list(opts), index=list(opts.values()).index(default_days), key=key)
    return (now_utc() - timedelta(days=opts[label])).replace(minute=0, second=0)


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)
    flash()
