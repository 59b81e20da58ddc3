"""KPIs on a hand-built queue whose right answers are worked out by hand in the comments."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from pipeline.kpis import compute_kpis
from pipeline.store import stable_id

H = timedelta(hours=1)

#  (brand, posted hours ago, level, state, first response hours after post or None)
ITEMS = [
    ("posylkin", 30, "high", "resolved", 1),  # due 8 h: on time
    ("posylkin", 30, "medium", "in_progress", 2),  # due 24 h: on time
    ("posylkin", 20, "high", "assigned", 10),  # due 8 h: answered late
    ("posylkin", 10, "critical", "new", None),  # due 2 h: open past due
    ("posylkin", 1, "low", "new", None),  # due 72 h: fine
    ("posylkin", 5, "medium", "dismissed", None),  # noise: not "received"
    ("shopok", 50, "high", "resolved", 3),
]
SLA = {"critical": 2, "high": 8, "medium": 24, "low": 72}


@pytest.fixture
def queue_world(store, world, now):
    rows = []
    for i, (brand, ago, level, state, resp) in enumerate(ITEMS):
        posted = now - ago * H
        _, mid = world.post(
            f"{brand} жалоба номер {i}",
            brand=brand,
            sentiment="negative",
            intent="complaint",
            thread=f"k{i}",
            at=posted,
        )
        rows.append(
            dict(
                escalation_id=stable_id(mid),
                mention_id=mid,
                brand_id=brand,
                priority=0.7,
                level=level,
                reasons_json="{}",
                state=state,
                owner=None if state == "new" else "support",
                sla_due_at=pd.Timestamp(posted + SLA[level] * H),
                first_response_at=pd.Timestamp(posted + resp * H) if resp is not None else pd.NaT,
                resolved_at=pd.NaT,
                version=1,
                created_at=pd.Timestamp(posted + 0.1 * H),
                updated_at=pd.Timestamp(now),
            )
        )
    for j in range(3):
        world.post(
            f"Посылкин хороший {j}",
            sentiment="positive",
            intent="praise",
            source="forum-b",
            thread=f"p{j}",
            at=now - 2 * H,
        )
    world.flush()
    df = pd.DataFrame(rows)
    for c in ("first_response_at", "resolved_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    df["owner"] = df["owner"].astype(object)
    store.upsert("escalations", df, ["escalation_id"])
    return store


def test_summary_all_time(queue_world, now):
    k = compute_kpis(queue_world, now=now)
    s = k["summary"]
    assert (s["received"], s["answered"], s["dismissed"], s["resolved"]) == (6, 4, 1, 2)
    assert s["response_rate"] == pytest.approx(4 / 6, abs=1e-4)
    assert s["ttfr_median_hours"] == pytest.approx(2.5)  # responses 1, 2, 3, 10 h
    assert s["ttfr_p90_hours"] == pytest.approx(7.9)  # linear interpolation between 3 and 10
    assert s["sla_breached_open"] == 1
    assert s["sla_answered_late"] == 1
    by = k["by_brand"].set_index("brand_id")
    assert by.loc["shopok", "response_rate"] == 1.0 and by.loc["posylkin", "received"] == 5


def test_backlog_by_age_and_level(queue_world, now):
    b = compute_kpis(queue_world, now=now)["backlog"].set_index("age")
    assert b.loc["<2h", "low"] == 1
    assert b.loc["8-24h", "critical"] == 1 and b.loc["8-24h", "high"] == 1
    assert b.loc["1-3d", "medium"] == 1
    assert b["total"].sum() == 4  # open items only: new, assigned, in_progress
    assert list(b.index) == ["<2h", "2-8h", "8-24h", "1-3d", "3-7d", ">7d"]


def test_window_and_brand_filters(queue_world, now):
    s = compute_kpis(queue_world, since=now - 24 * H, until=now, now=now)["summary"]
    assert (s["received"], s["answered"]) == (3, 1)
    assert s["ttfr_median_hours"] == pytest.approx(10.0)
    s = compute_kpis(queue_world, brand="shopok", now=now)["summary"]
    assert (s["received"], s["answered"], s["response_rate"]) == (1, 1, 1.0)
    empty = compute_kpis(queue_world, since=now + H, now=now)["summary"]
    assert empty["received"] == 0 and empty["response_rate"] is None and empty["ttfr_median_hours"] is None


def test_negative_share_by_brand_and_source(queue_world, now):
    k = compute_kpis(queue_world, now=now)
    nb = k["negative_by_brand"].set_index("brand_id")
    assert (nb.loc["posylkin", "mentions"], nb.loc["posylkin", "negative"]) == (9, 6)
    assert nb.loc["posylkin", "negative_share"] == pytest.approx(0.6667)
    assert nb.loc["shopok", "negative_share"] == 1.0
    ns = k["negative_by_source"].set_index("source_id")
    assert ns.loc["forum-b", "negative_share"] == 0.0 and ns.loc["forum-a", "negative"] == 7
