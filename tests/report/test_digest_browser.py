"""The digest of a demo brand, opened in headless Chromium: its numbers are those SQL over the same store gives,
its charts are drawn, a hostile post is shown as text and never runs, and nothing is fetched over the network."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.report import write_digest

from .conftest import NOW

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"

COUNTABLE = """NOT coalesce(d.spam, FALSE) AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
               AND NOT coalesce(d.is_official_answer, FALSE)"""


def _sql_truth(store, since, until) -> dict:
    """The same numbers from the base tables (not the report's mention_facts)."""
    q = lambda sql, p: store.query(sql, p).iloc[0].tolist()  # noqa: E731
    mentions, negative, scored = q(
        f"""
        SELECT count(*), count(*) FILTER (WHERE cs.sentiment = 'negative'), count(*) FILTER (WHERE cs.sentiment IS NOT NULL)
        FROM mentions m JOIN documents d USING (doc_id) LEFT JOIN current_scores cs USING (mention_id)
        WHERE m.brand_id = 'posylkin' AND {COUNTABLE} AND d.posted_at >= ? AND d.posted_at < ?""",
        [since, until],
    )
    received, answered = q(
        """
        SELECT count(*) FILTER (WHERE e.state <> 'dismissed'),
               count(*) FILTER (WHERE e.state <> 'dismissed' AND e.first_response_at IS NOT NULL)
        FROM escalations e JOIN mentions m USING (mention_id) JOIN documents d USING (doc_id)
        WHERE e.brand_id = 'posylkin' AND d.posted_at >= ? AND d.posted_at < ?""",
        [since, until],
    )
    worst = store.query("""SELECT round(priority, 2) AS p FROM escalations WHERE brand_id = 'posylkin'
                           AND state IN ('new', 'assigned', 'in_progress') ORDER BY priority DESC, created_at LIMIT 5""")
    theme = store.query(
        """
        SELECT t.label FROM theme_members tm JOIN themes t USING (theme_id) JOIN mentions m USING (mention_id)
        JOIN documents d USING (doc_id)
        WHERE t.brand_id = 'posylkin' AND d.posted_at >= ? AND d.posted_at < ? AND """
        + COUNTABLE
        + """
        GROUP BY t.theme_id, t.label ORDER BY count(*) DESC, t.theme_id LIMIT 1""",
        [since, until],
    )
    return {
        "mentions": int(mentions),
        "negative_share": negative / scored,
        "received": int(received),
        "answered": int(answered),
        "worst": [f"{p:.2f}" for p in worst["p"]],
        "top_theme": theme.iloc[0, 0],
    }


def test_digest_renders_in_chromium_with_the_stores_numbers(demo_store, driver, tmp_path):
    settings, store = demo_store
    path, digest = write_digest(settings, store, "posylkin", "7d", out=tmp_path / "digest.html", now=NOW)
    html = path.read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "http://" not in html.split("<main>")[0]  # nothing to run or fetch
    truth = _sql_truth(store, NOW - timedelta(days=7), NOW)
    assert truth["mentions"] > 100 and truth["received"] > 0  # the demo brand has a real week

    driver.get(path.as_uri())
    cards = driver.execute_script("""
        const out = {};
        for (const c of document.querySelectorAll('.card')) out[c.querySelector('.l').textContent] =
            [c.querySelector('.v').textContent, c.querySelector('.d').textContent];
        return out;""")
    assert cards["Mentions"][0] == f"{truth['mentions']:,}"
    assert cards["Negative share"][0] == f"{truth['negative_share']:.0%}"
    assert cards["Escalations received"][0] == f"{truth['received']:,}"
    assert cards["Response rate"][1] == f"{truth['answered']:,} answered of {truth['received']:,}"
    body = driver.find_element("tag name", "body").text
    assert "Посылкин — brand digest" in body and "What changed" in body
    assert f"Mentions: {truth['mentions']:,} (previous period" in body
    assert truth["top_theme"] in body
    rows = driver.execute_script("""return [...document.querySelectorAll('h2')].find(h => h.textContent.startsWith('Worst'))
        .nextElementSibling.querySelectorAll('tr td:first-child')""")
    assert [r.text.split("\n")[0] for r in rows] == truth["worst"]

    # charts: one bar segment per non-zero (day, sentiment), one dot per day with scored mentions
    segments = int((digest.daily[["negative", "neutral", "positive", "unscored"]] > 0).to_numpy().sum())
    assert driver.execute_script("return document.querySelectorAll('svg rect').length") == segments
    assert driver.execute_script("return document.querySelectorAll('svg circle').length") == int(
        digest.daily["negative_share"].notna().sum()
    )
    assert len(digest.daily) == 8  # 12:00 to 12:00 a week later touches 8 UTC days
    assert int(digest.daily["mentions"].sum()) == truth["mentions"]

    # the hostile post is on the page as text and nothing of it ran
    assert "<script>window.__xss = 1; alert('xss')</script>" in body
    assert driver.execute_script(
        "return window.__xss === undefined && document.scripts.length === 0 "
        "&& document.querySelectorAll('img').length === 0"
    )
    links = driver.execute_script("return [...document.querySelectorAll('a')].map(a => a.href)")
    assert all(u.startswith(("http://", "https://")) for u in links)
    worst_id = store.query("""SELECT escalation_id FROM escalations WHERE brand_id = 'posylkin'
                              AND state IN ('new', 'assigned', 'in_progress') ORDER BY priority DESC LIMIT 1""").iloc[
        0, 0
    ]
    assert f"http://dash.example:8501/queue?item={worst_id}" in links

    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1100, min(max(height + 40, 800), 4000))
    driver.save_screenshot(str(SHOTS / "digest.png"))
    assert (SHOTS / "digest.png").stat().st_size > 50_000
