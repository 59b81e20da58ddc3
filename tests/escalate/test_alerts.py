"""Spike detection: a planted 4x spike is found; a flat noisy series stays quiet for 90 days, day by day."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from pipeline.alerts import acknowledge, detect_alerts, fetch_inputs, find_alerts, list_alerts, lookback, spike_test
from pipeline.escalate import ActionError

DAY = timedelta(days=1)


def test_spike_test_on_synthetic_series():
    rng = np.random.default_rng(1)
    series = rng.poisson(20, size=104).astype(float)
    # flat with noise: no day of the last 90 raises an alert against its previous 14 days
    fired = [d for d in range(14, 104) if spike_test(series[d - 14 : d], series[d]).is_spike]
    assert fired == []
    # a planted 4x spike on one day is found, and only that day
    spiked = series.copy()
    spiked[80] = 80
    fired = [d for d in range(14, 104) if spike_test(spiked[d - 14 : d], spiked[d]).is_spike]
    assert fired == [80]
    t = spike_test(spiked[66:80], 80)
    assert t.expected == pytest.approx(np.median(spiked[66:80])) and t.z > 8 and t.ratio > 3


def test_guards():
    assert not spike_test([0] * 14, 4, min_count=5).is_spike  # too few to matter
    assert spike_test([0] * 14, 6, min_count=5).is_spike
    # z is high against a very steady baseline but the ratio guard holds
    assert not spike_test([100, 101, 100, 99, 100, 100, 101] * 2, 150, min_ratio=2.0).is_spike
    assert spike_test([100, 101, 100, 99, 100, 100, 101] * 2, 150, min_ratio=1.3).is_spike


def _daily(world, now, days, per_day, neg_share, rng, brand="posylkin", source="forum-a"):
    for d in range(days, 0, -1):
        day_end = now - (d - 1) * DAY
        for i in range(rng.poisson(per_day)):
            neg = rng.random() < neg_share
            world.post(
                f"Посылкин пост {d}.{i}",
                brand=brand,
                source=source,
                thread=f"d{d}-{i % 5}",
                sentiment="negative" if neg else "neutral",
                intent="complaint" if neg else "other",
                at=day_end - timedelta(minutes=int(rng.integers(1, 1439))),
            )


# 90 days of detection over 6,000 posts; the planted spike below is the fast check
@pytest.mark.slow
def test_flat_series_no_alert_over_90_days(settings, store, world, now):
    rng = np.random.default_rng(5)
    _daily(world, now, 104, 60, 1 / 3, rng)
    world.flush()
    # the real query once over the whole range, then the detector at the end of each of the last 90 days
    inputs = fetch_inputs(settings, store, now - 90 * DAY - lookback(settings), now)
    assert len(inputs["rows"]) > 5000
    fired = {d: find_alerts(settings, inputs, now - d * DAY) for d in range(89, -1, -1)}
    assert {d: a for d, a in fired.items() if a} == {}
    # the same through detect_alerts (fetch + detect + upsert) on a few of those days
    for d in (89, 45, 0):
        assert detect_alerts(settings, store, now=now - d * DAY)["alerts"] == 0
    assert list_alerts(store).empty
    # the same data with a 4x day planted on day -30 fires there (brand, and brand on its source), not around it
    spike_day = now - 30 * DAY
    for i in range(180):
        world.post(f"Посылкин сбой {i}", at=spike_day - timedelta(minutes=5 + 7 * i), sentiment="neutral")
    world.flush()
    inputs = fetch_inputs(settings, store, now - 90 * DAY - lookback(settings), now)
    fired = {d: sorted(a["kind"] for a in find_alerts(settings, inputs, now - d * DAY)) for d in range(40, 19, -1)}
    assert {d: k for d, k in fired.items() if k} == {30: ["volume_spike", "volume_spike"]}


def test_planted_spike_found_explained_deduplicated_acknowledged(settings, store, world, now):
    rng = np.random.default_rng(11)
    _daily(world, now - DAY, 15, 10, 0.2, rng)
    for i in range(40):  # 4x the usual volume in the last 24 h, mostly complaints about late delivery
        world.post(
            f"Посылкин опять задержал доставку на неделю, {i}",
            sentiment="negative",
            intent="complaint",
            thread=f"late{i % 4}",
            at=now - timedelta(minutes=10 + 30 * i),
            likes=i,
        )
    world.flush()
    c = detect_alerts(settings, store, now=now)
    assert c["volume_spike"] == 2  # the brand, and the brand on forum-a
    assert c["negativity_spike"] == 2
    assert c["hot_thread"] == 4  # 10 negative mentions in each of the 4 threads; the usual thread had 1-2 a day
    alerts = list_alerts(store)
    hot = alerts[alerts["kind"] == "hot_thread"].sort_values("source_id")
    assert set(hot["observed"]) == {10} and hot["expected"].max() <= 2
    assert any(
        x.startswith(
            "Посылкин in the thread «Thread late3» on forum-a: 10 negative mentions in 24 h; its threads "
            "there usually get up to "
        )
        and x.endswith("; http://127.0.0.1/forum-a/late3")
        for x in hot["explanation"]
    )
    vol = alerts[(alerts["kind"] == "volume_spike") & alerts["source_id"].isna()].iloc[0]
    assert vol["brand_id"] == "posylkin" and vol["observed"] == 40
    assert 7 <= vol["expected"] <= 13
    assert vol["explanation"].startswith("Посылкин: 40 mentions in 24 h vs ")
    assert (
        "per day over 14 days" in vol["explanation"]
        and "top posts: «Посылкин опять задержал доставку на неделю, 39»" in vol["explanation"]
    )

    again = detect_alerts(settings, store, now=now + timedelta(minutes=15))
    assert again["alerts"] == 8 and again["new"] == 0
    assert len(list_alerts(store)) == 8

    r = acknowledge(store, vol["alert_id"], "anna")
    assert r["acknowledged_by"] == "anna" and not r["already"]
    detect_alerts(settings, store, now=now + timedelta(minutes=30))
    assert list_alerts(store, unacknowledged=True)["alert_id"].tolist().count(vol["alert_id"]) == 0
    assert acknowledge(store, vol["alert_id"], "boris")["already"]
    with pytest.raises(ActionError, match="no alert"):
        acknowledge(store, "nope", "anna")


def test_theme_alerts(settings, store, world, now):
    rng = np.random.default_rng(3)
    base = []
    for d in range(15, 0, -1):
        for i in range(2):
            _, m = world.post(
                f"Посылкин курьер хамит {d}.{i}",
                sentiment="negative",
                intent="complaint",
                at=now - d * DAY - timedelta(hours=int(rng.integers(1, 20))),
            )
            base.append(m)
    burst = [
        world.post(
            f"Посылкин курьер нахамил сегодня {i}",
            sentiment="negative",
            intent="complaint",
            at=now - timedelta(hours=i + 1),
        )[1]
        for i in range(12)
    ]
    world.theme(
        "th-rude",
        "posylkin",
        "грубые курьеры",
        base + burst,
        status="growing",
        prev_size=20,
        keywords=["курьер", "хамить"],
    )
    world.theme("th-new", "shopok", "подмена товара", [], status="new", size=7, keywords=["подмена", "товар"])
    world.theme("th-old", "shopok", "старое", [], status="stable", size=50)
    world.flush()
    c = detect_alerts(settings, store, now=now)
    assert (c["theme_spike"], c["growing_theme"], c["new_theme"]) == (1, 1, 1)
    a = list_alerts(store).set_index("kind")
    assert a.loc["theme_spike", "explanation"].startswith(
        "Посылкин, complaints about «грубые курьеры»: 12 mentions in 24 h vs 2±1.4 per day"
    )
    assert (
        a.loc["new_theme", "explanation"]
        == "ШопОк: new complaint theme «подмена товара» (7 mentions; keywords: подмена, товар)"
    )
    assert "grew from 20 to 42 mentions" in a.loc["growing_theme", "explanation"]
    # a new theme alerts once, whatever the window
    assert detect_alerts(settings, store, now=now + 3 * DAY)["new"] == 1  # only the next slot's growing_theme


def test_hot_thread_against_the_brands_usual_threads_and_its_own_history(settings, store, world, now):
    """A busy complaints thread is measured against itself, a new one against the brand's usual threads."""
    rng = np.random.default_rng(3)
    _daily(world, now - DAY, 15, 20, 0.25, rng)  # 5 threads a day, ~1 negative mention each
    for d in range(1, 15):  # a long-running complaints thread: 6-8 negative mentions every day
        for i in range(6 + d % 3):
            world.post(
                f"Посылкин потерял посылку {d}.{i}",
                sentiment="negative",
                intent="complaint",
                thread="megathread",
                at=now - d * DAY - timedelta(minutes=30 + 40 * i),
            )
    for i in range(8):  # today: the megathread as busy as ever, a new thread with 6, another with 4
        world.post(
            f"Посылкин опять {i}", sentiment="negative", thread="megathread", at=now - timedelta(minutes=20 + 9 * i)
        )
    for i in range(6):
        world.post(
            f"Посылкин списал деньги дважды {i}",
            sentiment="negative",
            thread="charged-twice",
            at=now - timedelta(minutes=15 + 11 * i),
            likes=i,
        )
    for i in range(4):
        world.post(
            f"Посылкин курьер хамит {i}", sentiment="negative", thread="rude", at=now - timedelta(minutes=25 + 13 * i)
        )
    world.flush()
    hot = [
        a
        for a in find_alerts(settings, fetch_inputs(settings, store, now - lookback(settings), now), now)
        if a["kind"] == "hot_thread"
    ]
    assert [a["explanation"].rsplit("; ", 1)[1] for a in hot] == ["http://127.0.0.1/forum-a/charged-twice"]
    a = hot[0]
    assert a["observed"] == 6 and a["source_id"] == "forum-a" and a["brand_id"] == "posylkin"
    assert "top posts: «Посылкин списал деньги дважды 5»" in a["explanation"]

    # the megathread doubling its usual day is hot too; the same slot keeps one alert per thread
    for i in range(10):
        world.post(
            f"Посылкин вообще не отвечает {i}",
            sentiment="negative",
            thread="megathread",
            at=now - timedelta(minutes=100 + 5 * i),
        )
    world.flush()
    c = detect_alerts(settings, store, now=now)
    assert c["hot_thread"] == 2
    assert detect_alerts(settings, store, now=now + timedelta(minutes=15))["new"] == 0
    rows = list_alerts(store)
    mega = rows[rows["explanation"].str.endswith("/megathread")].iloc[0]
    assert mega["observed"] == 18 and mega["expected"] == 8
    assert ", this thread at most 8;" in mega["explanation"]
