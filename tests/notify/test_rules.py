"""Routing rules and quiet hours: pure functions, and the stage holding a message until the quiet hours end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows import stages as st
from pipeline.config import ConfigError, NotifySettings, load_settings
from pipeline.notify.rules import backoff_seconds, quiet_until, routes

UTC = UTC


def _cfg(**kw) -> NotifySettings:
    base = {
        "channels": {
            "mail": {"kind": "email", "smtp_host": "h", "sender": "a@b", "to": ["c@d"]},
            "chat": {"kind": "webhook"},
            "tg": {"kind": "telegram", "chat_id": "1"},
        },
        "quiet_hours": "22:00-08:00",
        "timezone": "Europe/Moscow",
    }
    return NotifySettings.model_validate({**base, **kw})


@pytest.mark.parametrize(
    "utc_hm, until",
    [
        ("18:59", None),  # 21:59 in Moscow (UTC+3)
        ("19:00", "2026-03-11T05:00:00+00:00"),  # 22:00 Moscow: quiet until 08:00 Moscow the next day
        ("23:30", "2026-03-11T05:00:00+00:00"),  # 02:30 Moscow (the next local day)
        ("04:59", "2026-03-10T05:00:00+00:00"),  # 07:59 Moscow
        ("05:00", None),
    ],
)
def test_quiet_hours_span_midnight_in_the_configured_zone(utc_hm, until):
    h, m = map(int, utc_hm.split(":"))
    now = datetime(2026, 3, 10, h, m, tzinfo=UTC)
    got = quiet_until("22:00-08:00", "Europe/Moscow", now)
    assert (got.isoformat() if got else None) == until


def test_rules_pick_channels_by_kind_level_and_brand():
    cfg = _cfg(
        rules=[
            {"channels": ["mail"], "events": ["escalation"], "levels": ["critical", "high"]},
            {"channels": ["chat"], "events": ["alert"], "brands": ["shopok"]},
            {"channels": ["tg"], "events": ["new_theme", "escalation"], "levels": ["critical"], "quiet_hours": False},
        ]
    )
    day = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    names = lambda *a: sorted(r.channel for r in routes(cfg, *a, day))  # noqa: E731
    assert names("escalation", "critical", "posylkin") == ["mail", "tg"]
    assert names("escalation", "high", "posylkin") == ["mail"]
    assert names("escalation", "medium", "posylkin") == []
    assert names("volume_spike", None, "shopok") == ["chat"]
    assert names("volume_spike", None, "posylkin") == []
    assert names("new_theme", None, "shopok") == ["chat", "tg"]

    night = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)  # 02:00 in Moscow
    held = {r.channel: r.not_before for r in routes(cfg, "escalation", "high", "x", night)}
    assert held == {"mail": datetime(2026, 3, 11, 5, 0, tzinfo=UTC)}
    crit = {r.channel: r.not_before for r in routes(cfg, "escalation", "critical", "x", night)}
    assert crit == {"mail": None, "tg": None}  # critical bypasses; the on-call rule ignores quiet hours
    cfg.critical_bypasses_quiet_hours = False
    crit = {r.channel: r.not_before for r in routes(cfg, "escalation", "critical", "x", night)}
    assert crit == {"mail": datetime(2026, 3, 11, 5, 0, tzinfo=UTC), "tg": None}


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_seconds(n, 60, 600) for n in range(1, 7)] == [60, 120, 240, 480, 600, 600]


@pytest.mark.parametrize(
    "notify, message",
    [
        ({"rules": [{"channels": ["nope"]}]}, "notify: rules[0]: unknown channel(s) nope"),
        ({"quiet_hours": "22-8"}, "notify.quiet_hours: '22-8' is not HH:MM-HH:MM"),
        ({"channels": {"Team-Chat": {"kind": "webhook"}}}, "channel name 'Team-Chat'"),
        ({"channels": {"m": {"kind": "email"}}}, "an email channel needs smtp_host, sender and to"),
    ],
)
def test_bad_notify_settings_are_one_line_errors(notify, message):
    with pytest.raises(ConfigError) as e:
        load_settings(notify=notify)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_secrets_stay_out_of_flow_parameters(monkeypatch):
    from pipeline.config import Settings, dump_without_secrets

    monkeypatch.setenv("BRANDMON_NOTIFY__CHANNELS__CHAT__URL", "https://hooks.example/T/B/s3cret")
    s = load_settings(notify={"channels": {"chat": {"kind": "webhook"}}})
    dumped = dump_without_secrets(s)
    assert "s3cret" not in str(dumped) and "url" not in dumped["notify"]["channels"]["chat"]
    assert Settings(**dumped).notify.channels["chat"].url.get_secret_value() == "https://hooks.example/T/B/s3cret"


def test_quiet_hours_hold_a_high_item_until_morning_and_drop_it_if_closed(notify_settings, critical_store, receivers):
    from pipeline.escalate import transition

    store, s = critical_store, notify_settings
    s.notify.rules[0].levels = ["critical", "high", "medium", "low"]
    s.notify.rules[0].channels = ["team_chat"]
    st.run_stage("escalate", s, store)
    now = datetime.now(UTC)
    s.notify.timezone = "UTC"
    s.notify.quiet_hours = f"{now.hour:02d}:00-{(now.hour + 2) % 24:02d}:00"  # quiet right now
    counts = st.run_stage("notify", s, store)
    assert (counts["queued"], counts["held"], counts["sent"]) == (2, 1, 1)  # the critical one goes at once
    assert len(receivers["webhook"].requests) == 1 and "CRITICAL" in receivers["webhook"].requests[0]["text"]
    held = store.query("SELECT level, state, next_attempt_at FROM notifications WHERE level <> 'critical'")
    assert held["state"].tolist() == ["pending"]
    end = held.iloc[0]["next_attempt_at"]
    assert end.hour == (now.hour + 2) % 24 and end.minute == 0

    assert st.run_stage("notify", s, store, now=end - timedelta(minutes=1))["sent"] == 0  # still quiet
    later = st.run_stage("notify", s, store, now=end + timedelta(minutes=1))
    assert later["sent"] == 1 and "CRITICAL" not in receivers["webhook"].requests[1]["text"]

    # the same held message about an item resolved during the night is dropped, not sent in the morning
    with store.write() as con:
        con.execute("UPDATE notifications SET state = 'pending', next_attempt_at = ? WHERE level <> 'critical'", [end])
    eid = store.query("SELECT escalation_id FROM escalations WHERE level <> 'critical'").iloc[0, 0]
    transition(store, eid, "dismissed", actor="anna")
    skipped = st.run_stage("notify", s, store, now=end + timedelta(minutes=2))
    assert (skipped["sent"], skipped["skipped"]) == (0, 1) and len(receivers["webhook"].requests) == 2
    assert store.query("SELECT state, last_error FROM notifications WHERE level <> 'critical'").values.tolist() == [
        ["skipped", "closed or acknowledged before delivery"]
    ]
