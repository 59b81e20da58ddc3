"""A critical escalation reaches each channel kind within one flow run, exactly once, with real local receivers
(aiosmtpd, an HTTP webhook, a Telegram Bot API stand-in); a failing channel is recorded, retried, and blocks
nothing; a run killed around a delivery is re-run without losing or (where the receiver has a key) repeating it."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from flows import stages as st
from pipeline.escalate import explain
from pipeline.notify.deliver import notification_id
from pipeline.store import utcnow

from .conftest import LEGAL, notify_config, secret_env

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "flows"))
CHAIN = ["escalate", "alerts", "notify"]


def _chain(settings, store) -> dict:
    out = st.monitor_body(settings, store, stages=CHAIN)
    assert out["status"] == "ok", out["errors"]
    return out


def _critical(store) -> dict:
    rows = store.query("SELECT escalation_id, level, reasons_json FROM escalations WHERE level = 'critical'")
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def _outbox(store) -> dict[str, tuple]:
    df = store.query("SELECT channel, state, attempts, last_error FROM notifications ORDER BY channel")
    return {r.channel: (r.state, r.attempts, r.last_error) for r in df.itertuples()}


def test_critical_escalation_reaches_each_channel_exactly_once(notify_settings, critical_store, receivers):
    store, s = critical_store, notify_settings
    out = _chain(s, store)
    item = _critical(store)
    assert item["escalation_id"] == store.ids["legal"]
    assert store.query("SELECT count(*) AS n FROM escalations").iloc[0, 0] == 2  # the medium one is not announced
    assert out["stages"]["notify"]["counts"]["sent"] == 3
    link = f"http://dash.example:8501/queue?item={item['escalation_id']}"
    why = explain(item["reasons_json"])
    assert "суд (legal)" in why

    mails = receivers["email"].messages
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == "[brandmon] CRITICAL escalation: Посылкин on forum-a"
    assert mail["To"] == "support-lead@example.org"
    assert (
        mail["Message-ID"]
        == f"<{notification_id('ops_mail', 'escalation:' + item['escalation_id'] + ':critical')}@brandmon>"
    )
    text = mail.get_body(("plain",)).get_content()
    assert (
        "Why: " + why in text and link in text and LEGAL in text and "entered the escalation queue as critical" in text
    )
    page = mail.get_body(("html",)).get_content()
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img" not in page and f'href="{link}"' in page

    hooks = receivers["webhook"].requests
    assert len(hooks) == 1 and hooks[0]["path"] == "/hooks/T0KEN"
    body = hooks[0]["text"]
    assert body.startswith("*[brandmon] CRITICAL escalation: Посылкин on forum-a*")
    assert f"<{link}|Open in brandmon>" in body and "*Why:* " + why in body
    # scraped markup cannot become a Slack link or tag
    assert "<script>" not in body and "&lt;http://evil.example|here&gt;" in body and "<http://evil" not in body

    tg = receivers["telegram"].requests
    assert len(tg) == 1
    assert tg[0]["chat_id"] == "-100777" and tg[0]["parse_mode"] == "HTML"
    assert f'<a href="{link}">Open in brandmon</a>' in tg[0]["text"]
    assert "&lt;script&gt;" in tg[0]["text"] and "<script>" not in tg[0]["text"] and "<img" not in tg[0]["text"]
    assert _outbox(store) == {c: ("sent", 1, None) for c in ("oncall_tg", "ops_mail", "team_chat")}

    again = _chain(s, store)  # re-run: nothing new anywhere
    assert again["stages"]["notify"]["counts"] == {
        "events": 2,
        "queued": 0,
        "held": 0,
        "sent": 0,
        "resent": 0,
        "failed": 0,
        "dead": 0,
        "skipped": 0,
        "deferred": 0,
    }
    assert (
        len(receivers["email"].messages),
        len(receivers["webhook"].requests),
        len(receivers["telegram"].requests),
    ) == (1, 1, 1)


def test_a_failing_channel_is_recorded_retried_later_and_blocks_nothing(notify_settings, critical_store, receivers):
    store, s = critical_store, notify_settings
    receivers["webhook"].fail_with = 500
    out = _chain(s, store)
    assert out["stages"]["notify"]["status"] == "ok"
    counts = out["stages"]["notify"]["counts"]
    assert (counts["sent"], counts["failed"]) == (2, 1)
    assert "HTTP 500" in counts["errors"]["team_chat"] and "T0KEN" not in counts["errors"]["team_chat"]
    assert len(receivers["email"].messages) == 1 and len(receivers["telegram"].requests) == 1
    state, attempts, error = _outbox(store)["team_chat"]
    assert (state, attempts) == ("failed", 1) and "HTTP 500" in error
    due = store.query("SELECT next_attempt_at - last_attempt_at AS wait FROM notifications WHERE channel = 'team_chat'")
    assert due.iloc[0, 0].total_seconds() == pytest.approx(60, abs=5)  # retry_base_seconds

    receivers["webhook"].fail_with = None
    _chain(s, store)  # within the backoff: not tried yet
    assert receivers["webhook"].requests == [] and _outbox(store)["team_chat"][:2] == ("failed", 1)

    counts = st.run_stage("notify", s, store, now=utcnow() + timedelta(seconds=61))  # the next run after the backoff
    assert counts["sent"] == 1
    assert len(receivers["webhook"].requests) == 1
    assert (len(receivers["email"].messages), len(receivers["telegram"].requests)) == (1, 1)
    assert _outbox(store)["team_chat"] == ("sent", 2, None)


def test_missing_secret_and_refusal_are_permanent(notify_settings, critical_store, receivers, monkeypatch):
    store, s = critical_store, notify_settings
    s.notify.channels["team_chat"].url = type(s.notify.channels["team_chat"].url)("")
    s.notify.channels["oncall_tg"].token = type(s.notify.channels["oncall_tg"].token)("wrong")
    out = _chain(s, store)
    counts = out["stages"]["notify"]["counts"]
    assert (counts["sent"], counts["dead"]) == (1, 2)
    box = _outbox(store)
    assert box["team_chat"][0] == "dead" and "BRANDMON_NOTIFY__CHANNELS__TEAM_CHAT__URL" in box["team_chat"][2]
    assert box["oncall_tg"][0] == "dead" and "HTTP 401" in box["oncall_tg"][2] and "wrong" not in box["oncall_tg"][2]


# ------------------------------------------------------------------------------ killed runs (real CLI processes)


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _cli_setup(store, receivers, tmp_path) -> tuple[Path, dict]:
    cfg = notify_config(receivers)
    toml = tmp_path / "brandmon.toml"
    toml.write_text("[notify]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in cfg.items()) + "\n", encoding="utf-8")
    env = dict(
        os.environ,
        BRANDMON_CONFIG=str(toml),
        BRANDMON_BRANDS_FILE=str(ROOT / "data" / "brands.yaml"),
        BRANDMON_SOURCES_FILE=str(ROOT / "data" / "sources.yaml"),
        **secret_env(receivers),
    )
    env.pop("BRANDMON_FLOW_PAUSE", None)
    return store.path.parent, env


@pytest.mark.parametrize(
    "pause, webhook_posts",
    [
        # killed before the outbox rows were committed: everything goes once (a second process run: slow tier)
        pytest.param("notify:1:before", 1, marks=pytest.mark.slow),
        ("notify:7:before", 2),  # killed after the webhook accepted, before `sent` was committed: resent with its key
    ],
)
def test_killed_run_is_rerun_without_losing_a_notification(critical_store, receivers, tmp_path, pause, webhook_posts):
    from pipeline_run import run_cli, run_until_paused_then_kill

    data_dir, env = _cli_setup(critical_store, receivers, tmp_path)
    marker = tmp_path / "paused"
    args = ["run", "--stages", "escalate,notify", "--no-prefect"]
    run_until_paused_then_kill(
        data_dir,
        args,
        dict(env, BRANDMON_FLOW_PAUSE=pause, BRANDMON_FLOW_PAUSE_MARKER=str(marker)),
        marker,
        timeout=300,
    )
    killed_at = {c: s for c, (s, _, _) in _outbox(critical_store).items()}
    r = run_cli(data_dir, args, env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    box = _outbox(critical_store)
    assert {c: s for c, (s, _, _) in box.items()} == {"oncall_tg": "sent", "ops_mail": "sent", "team_chat": "sent"}
    hook = receivers["webhook"]
    assert len(hook.requests) == webhook_posts
    assert len(hook.unique()) == 1  # a receiver honouring Idempotency-Key keeps one
    assert len(receivers["email"].messages) == 1 and len(receivers["telegram"].requests) == 1
    if webhook_posts == 2:
        assert killed_at == {"oncall_tg": "sent", "ops_mail": "sent", "team_chat": "sending"}
        assert hook.requests[1]["text"].startswith("*Possible repeat: [brandmon] CRITICAL")
        assert box["team_chat"][1] == 2
    else:
        assert killed_at == {} and not hook.requests[0]["text"].startswith("*Possible repeat")


# starts Prefect's temporary server; delivery itself is tested fast above
@pytest.mark.slow
def test_notify_flow_under_prefect_takes_secrets_from_the_environment(notify_settings, critical_store, receivers):
    """The Prefect flow gets the settings without their secrets (Prefect stores parameters) and still delivers."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.monitor import notify_flow
    from pipeline.config import dump_without_secrets

    st.run_stage("escalate", notify_settings, critical_store)
    params = dump_without_secrets(notify_settings)
    assert "T0KEN" not in json.dumps(params) and "test-bot-token" not in json.dumps(params)
    with prefect_test_harness(server_startup_timeout=120):
        out = notify_flow(settings=params)
    assert out["status"] == "ok" and out["stages"]["notify"]["counts"]["sent"] == 3
    assert (
        len(receivers["email"].messages),
        len(receivers["webhook"].requests),
        len(receivers["telegram"].requests),
    ) == (1, 1, 1)
