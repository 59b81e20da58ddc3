"""Analyst actions from the pages: `act(fn, ...)` calls a pipeline function (pipeline.escalate / pipeline.alerts)
with the analyst's name as actor, shows `ActionError` as a warning, then clears the read cache so every view shows
the new state; `flash()` shows the last action's confirmation on the next run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard.auth import actor, signed_in_name
from dashboard.reads import GATE, clear_cache, close_run_connection
from dashboard.safe_text import md_escape
from dashboard.session import settings, write_store
from pipeline.store import StoreLockedError


def analyst_box() -> None:
    """The sidebar's identity: the signed-in user with a sign-out button, or the analyst's name to type."""
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
        with GATE.writing():
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
