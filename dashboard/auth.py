"""Who may see the dashboard and who is acting: the password gate or OIDC sign-in (`dashboard.auth`), and the
analyst's name every action records."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.session import settings


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
