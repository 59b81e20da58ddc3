"""OIDC sign-in (dashboard.auth = oidc): nothing is shown before st.user says signed in, the signed-in identity is
the actor of every action, and a missing or partial [auth] secrets section is a readable error, not a traceback.

Streamlit reads `.streamlit/secrets.toml`; the tests point its `secrets.files` option at a real file in tmp_path,
so both our check and st.login's own validation read the same TOML. AppTest emulates the identity provider's
answer through `at.user` (what the browser's identity cookie would carry).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.auth import oidc_config_problem

from .conftest import sql_rows as _sql

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"

COMPLETE = """
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "a-long-random-string-for-tests-only"
client_id = "brandmon"
client_secret = "not-a-real-secret"
server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"
"""


@pytest.fixture
def secrets_file(tmp_path):
    """Make Streamlit read secrets from one TOML file (written by the test) for the duration of a test."""
    from streamlit.runtime.secrets import secrets_singleton
    from streamlit.testing.v1.util import patch_config_options

    path = tmp_path / "secrets.toml"

    def _write(text: str | None):
        if text is None:  # no secrets file at all
            path.unlink(missing_ok=True)
        else:
            path.write_text(text, encoding="utf-8")
        secrets_singleton._reset()  # parsed secrets are cached process-wide
        return path

    with patch_config_options({"secrets.files": [str(path)]}):
        yield _write
    secrets_singleton._reset()


def _app(user: dict | None = None, session: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    if user is not None:
        at.user = user
    for k, v in (session or {}).items():
        at.session_state[k] = v
    return at


def _all_text(at) -> str:
    parts = []
    for kind in ("markdown", "caption", "text", "title", "header", "subheader", "info", "error", "warning", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [str(e.value) for e in at.sidebar.markdown]
    return "\n".join(parts)


SIGNED_IN = {"is_logged_in": True, "name": "Анна Смирнова", "email": "anna@example.org", "sub": "u-1"}


def test_signed_out_sees_only_the_sign_in_button(synth_db, use_db, secrets_file):
    secrets_file(COMPLETE)
    use_db(synth_db, BRANDMON_DASHBOARD__AUTH="oidc")
    at = _app(user={"is_logged_in": False}).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe and not at.selectbox and not at.text_input
    text = _all_text(at)
    # nothing read from the database: no brand names, counts, page titles or the sidebar's database name
    for leaked in ("Посылкин", "ШопОк", "mentions match", "Overview", "Database:", "synth"):
        assert leaked not in text, leaked
    # a deep link to a data page still lands on the gate
    at.switch_page("views/mentions.py").run()
    assert not at.dataframe and "mentions match" not in _all_text(at)
    assert [b.label for b in at.button] == ["Sign in"]


def test_sign_in_button_starts_the_redirect_without_error(synth_db, use_db, secrets_file):
    secrets_file(COMPLETE)
    use_db(synth_db, BRANDMON_DASHBOARD__AUTH="oidc")
    at = _app(user={"is_logged_in": False}).run()
    at.button(key="_bm_login").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error  # st.login accepted the same secrets our check accepted
    assert not at.metric  # still signed out until the provider calls back


def test_sign_in_refused_by_streamlit_is_shown_not_raised(synth_db, use_db, secrets_file):
    """st.login validates the secrets files itself: when they lack what our check saw (here: AppTest's own
    st.secrets has [auth], the files are empty), the analyst gets the reason on screen."""
    import tomllib

    secrets_file("")
    use_db(synth_db, BRANDMON_DASHBOARD__AUTH="oidc")
    at = _app(user={"is_logged_in": False})
    at.secrets["auth"] = tomllib.loads(COMPLETE)["auth"]
    at.run()
    assert [b.label for b in at.button] == ["Sign in"]
    at.button(key="_bm_login").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Cannot start the sign-in" in e.value for e in at.error)
    assert not at.metric


def test_signed_in_user_is_the_actor_and_cannot_be_edited(db, use_db, secrets_file):
    secrets_file(COMPLETE)
    use_db(db, BRANDMON_DASHBOARD__AUTH="oidc")
    # a name left in session state (the password mode's editable box) must not override the identity
    at = _app(user=SIGNED_IN, session={"analyst": "Mallory"}).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.metric  # the overview renders
    assert not [t for t in at.sidebar.text_input if t.label == "Analyst name"]
    assert any("Анна Смирнова" in m.value for m in at.sidebar.markdown)
    at.switch_page("views/alerts.py").run()
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert not at.exception
    assert _sql(db, "SELECT count(*) FROM alerts WHERE acknowledged_by = 'Анна Смирнова'")[0][0] == 1
    assert _sql(db, "SELECT count(*) FROM alerts WHERE acknowledged_by = 'Mallory'")[0][0] == 0


def test_email_is_the_actor_when_the_provider_sends_no_name(db, use_db, secrets_file):
    secrets_file(COMPLETE)
    use_db(db, BRANDMON_DASHBOARD__AUTH="oidc")
    at = _app(user={"is_logged_in": True, "email": "ivan@example.org"}).run()
    at.switch_page("views/queue.py").run()
    eid = at.selectbox(key="qu_selected").value
    next(t for t in at.text_input if t.label == "Assign to").input("Ольга")
    next(b for b in at.button if b.label == "Assign").click().run()
    assert not at.exception
    assert _sql(
        db, "SELECT actor, action FROM escalation_events WHERE escalation_id = ? ORDER BY event_at DESC LIMIT 1", [eid]
    ) == [("ivan@example.org", "assign")]


def test_sign_out_returns_to_the_gate(synth_db, use_db, secrets_file):
    secrets_file(COMPLETE)
    use_db(synth_db, BRANDMON_DASHBOARD__AUTH="oidc")
    at = _app(user=dict(SIGNED_IN)).run()
    assert at.metric
    at.sidebar.button(key="_bm_logout").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.user == {"is_logged_in": False}
    assert not at.metric and not at.dataframe
    assert [b.label for b in at.button] == ["Sign in"]


@pytest.mark.parametrize(
    "toml, expected",
    [
        (None, "no [auth] section was found"),
        ("", "no [auth] section was found"),
        (
            "[auth.okta]\nclient_id = 'x'\n",
            "lacks: redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url",
        ),
        (COMPLETE.replace('client_secret = "not-a-real-secret"\n', ""), "lacks: client_secret"),
        (COMPLETE.replace('cookie_secret = "a-long-random-string-for-tests-only"\n', ""), "lacks: cookie_secret"),
    ],
)
def test_missing_secrets_are_a_clear_error_and_show_no_data(toml, expected, synth_db, use_db, secrets_file):
    secrets_file(toml)
    use_db(synth_db, BRANDMON_DASHBOARD__AUTH="oidc")
    at = _app(user={"is_logged_in": True, "name": "x"}).run()  # even a (forged) signed-in user sees nothing
    assert not at.exception, [e.value for e in at.exception]
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    assert not at.metric and not at.dataframe and not at.button


def test_password_mode_is_unchanged_by_an_auth_section(synth_db, use_db, secrets_file):
    """auth = password (the default) ignores [auth] secrets and keeps the password gate."""
    secrets_file(COMPLETE)
    use_db(synth_db, BRANDMON_DASHBOARD__PASSWORD="s3cret")
    at = _app(user=SIGNED_IN).run()
    assert not at.metric and [b.label for b in at.button] == ["Sign in"]
    at.text_input[0].input("s3cret")
    at.button[0].click().run()
    assert at.metric and not at.exception
    assert [t for t in at.sidebar.text_input if t.label == "Analyst name"]


def test_config_problem_names_what_is_missing():
    full = {
        "redirect_uri": "http://x/oauth2callback",
        "cookie_secret": "s",
        "client_id": "i",
        "client_secret": "c",
        "server_metadata_url": "http://x/.well-known/openid-configuration",
    }
    assert oidc_config_problem(full) is None
    assert "no [auth] section" in oidc_config_problem(None)
    assert oidc_config_problem({**full, "client_id": ""}).endswith("lacks: client_id.")
    named = {"redirect_uri": "r", "cookie_secret": "s", "keycloak": {"client_id": "i", "client_secret": "c"}}
    assert oidc_config_problem(named, "keycloak").endswith("lacks: keycloak.server_metadata_url.")
    assert "no [auth.okta] section" in oidc_config_problem(named, "okta")
    assert "underscore" in oidc_config_problem(named, "my_idp")
