"""AppTest over a synthetic database: every page renders, filters change counts, actions write audit rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from dashboard import queries

from .conftest import sql_rows as _sql

PAGES = {
    "overview": "Overview",
    "mentions": "Mentions explorer",
    "themes": "Complaint themes",
    "queue": "Escalation queue",
    "alerts": "Alerts",
    "authors": "Advocates & opinion leaders",
    "sources": "Sources health",
}


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _matches(at) -> int:
    text = next(m.value for m in at.markdown if "mentions match" in m.value)
    return int(re.match(r"\*\*([\d,]+)\*\*", text).group(1).replace(",", ""))


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders(page, synth_db, use_db, app_test):
    use_db(synth_db)
    at = app_test(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == PAGES[page]
    assert len(at.dataframe) >= 1 or page == "alerts"


def test_overview_numbers_match_sql_and_brand_filter_narrows(synth_db, use_db, app_test):
    use_db(synth_db)
    at = app_test()
    all_mentions = int(_metric(at, "Mentions").replace(",", ""))
    since = datetime.now(UTC) - timedelta(days=30)
    expected = _sql(
        synth_db, "SELECT count(*) FROM mentions m JOIN documents d USING (doc_id) WHERE d.posted_at >= ?", [since]
    )[0][0]
    assert abs(all_mentions - expected) <= 15  # the window starts at the top of the hour
    open_esc = _sql(synth_db, "SELECT count(*) FROM escalations WHERE state IN ('new','assigned','in_progress')")[0][0]
    assert int(_metric(at, "Open escalations").replace(",", "")) == open_esc
    assert _metric(at, "Response rate").endswith("%")

    at.sidebar.multiselect(key="ov_brands").set_value(["zerno"]).run()
    zerno = int(_metric(at, "Mentions").replace(",", ""))
    assert 0 < zerno < all_mentions
    assert not at.exception


def test_mentions_filters_change_counts(synth_db, use_db, app_test):
    use_db(synth_db)
    at = app_test("mentions")
    total = _matches(at)
    assert total > 2000
    at.multiselect(key="mx_sent").set_value(["negative"]).run()
    neg = _matches(at)
    assert 0 < neg < total
    at.multiselect(key="mx_brand").set_value(["posylkin"]).run()
    neg_p = _matches(at)
    assert 0 < neg_p < neg
    con = duckdb.connect(str(synth_db), read_only=True)
    f = queries.MentionFilter(
        brand_ids=("posylkin",),
        sentiments=("negative",),
        since=datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=30),
    )
    assert queries.mention_count(con, f) == neg_p
    con.close()
    at.text_input(key="mx_text").input("трубку").run()
    rude = _matches(at)
    assert 0 < rude < neg_p
    assert all("трубку" in m.value for m in at.markdown if "**Посылкин**" in m.value)
    theme = "th-posylkin-delay"
    at.text_input(key="mx_text").input("").run()
    at.selectbox(key="mx_theme").set_value(theme).run()
    in_theme = _matches(at)
    members = _sql(
        synth_db,
        "SELECT count(*) FROM theme_members tm JOIN mentions m USING (mention_id) "
        "JOIN documents d USING (doc_id) WHERE theme_id = ? AND d.posted_at >= ?",
        [theme, f.since],
    )[0][0]
    assert in_theme == members
    assert not at.exception


def test_correction_is_stored_with_actor(db, use_db, app_test):
    use_db(db)
    at = app_test("mentions", analyst="Анна")
    mid = at.selectbox(key="mx_selected").value
    current = _sql(db, "SELECT sentiment FROM current_scores WHERE mention_id = ?", [mid])[0][0]
    new = "positive" if current != "positive" else "negative"
    at.selectbox(key="mx_fix_sent").set_value(new)
    at.button[0]  # the form has one submit button
    next(b for b in at.button if b.label == "Save correction").click().run()
    assert not at.exception
    rows = _sql(db, "SELECT field, value, actor FROM corrections WHERE mention_id = ?", [mid])
    assert rows == [("sentiment", new, "Анна")]
    assert _sql(db, "SELECT sentiment, corrected FROM current_scores WHERE mention_id = ?", [mid])[0] == (new, True)
    # the facts every list and chart reads changed in the same transaction
    assert _sql(db, "SELECT sentiment, corrected FROM mention_facts WHERE mention_id = ?", [mid]) == [(new, True)]
    assert any("Saved" in s.value for s in at.success)


def test_a_mention_its_source_ties_to_the_brand_says_so(db, use_db, app_test):
    use_db(db)
    at = app_test("mentions")
    mid = at.selectbox(key="mx_selected").value
    assert not any("does not name the brand" in x.value for x in at.caption)
    with duckdb.connect(str(db)) as con:  # what an `about` source's post stores: no span, nothing matched
        con.execute(
            "UPDATE mentions SET span_start = NULL, span_end = NULL, matched = NULL WHERE mention_id = ?", [mid]
        )
    import streamlit as st

    st.cache_data.clear()  # the page's queries are cached for dashboard.cache_ttl_seconds
    at = app_test("mentions")
    assert at.selectbox(key="mx_selected").value == mid and not at.exception
    assert any("does not name the brand" in x.value for x in at.caption)


def test_action_without_analyst_name_is_refused(db, use_db, app_test):
    use_db(db)
    at = app_test("alerts")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert any("Enter your name" in w.value for w in at.warning)
    assert _sql(db, "SELECT count(*) FROM alerts WHERE acknowledged_by IS NOT NULL")[0][0] == 6


def test_queue_assign_transition_comment_write_audit_rows(db, use_db, app_test):
    use_db(db)
    at = app_test("queue", analyst="Игорь")
    assert not at.exception
    eid = at.selectbox(key="qu_selected").value
    state0, v0 = _sql(db, "SELECT state, version FROM escalations WHERE escalation_id = ?", [eid])[0]
    assert state0 == "new"  # the default view is sorted by priority; the top synthetic item is new or open
    events0 = _sql(db, "SELECT count(*) FROM escalation_events WHERE escalation_id = ?", [eid])[0][0]

    at.text_input(key=None) if False else None
    assign_box = next(t for t in at.text_input if t.label == "Assign to")
    assign_box.input("Ольга (юристы)")
    next(b for b in at.button if b.label == "Assign").click().run()
    assert not at.exception
    assert _sql(db, "SELECT state, owner, version FROM escalations WHERE escalation_id = ?", [eid])[0] == (
        "assigned",
        "Ольга (юристы)",
        v0 + 1,
    )
    ev = _sql(
        db,
        "SELECT actor, action, from_state, to_state FROM escalation_events WHERE escalation_id = ? "
        "ORDER BY event_at DESC LIMIT 1",
        [eid],
    )[0]
    assert ev == ("Игорь", "assign", "new", "assigned")

    at.selectbox(key="qu_selected").set_value(eid).run()
    at.selectbox(key=f"to_{eid}").set_value("in_progress")
    at.text_input(key=f"tc_{eid}").input("звоним клиенту")
    next(b for b in at.button if b.label == "Change state").click().run()
    assert _sql(db, "SELECT state FROM escalations WHERE escalation_id = ?", [eid])[0][0] == "in_progress"

    at.text_area(key=f"cm_{eid}").input("клиент перезвонит завтра")
    next(b for b in at.button if b.label == "Add comment").click().run()
    rows = _sql(
        db, "SELECT actor, action, comment FROM escalation_events WHERE escalation_id = ? ORDER BY event_at", [eid]
    )
    assert len(rows) == events0 + 3
    assert rows[-1] == ("Игорь", "comment", "клиент перезвонит завтра")
    assert rows[-2][2] == "звоним клиенту"
    hist = [d for d in at.dataframe if "actor" in d.value.columns]
    assert hist and len(hist[-1].value) == events0 + 3


def test_stale_version_and_illegal_transition_show_warnings(db, use_db, app_test):
    from pipeline.escalate import assign
    from pipeline.store import Store

    use_db(db)
    at = app_test("queue", analyst="Игорь")
    eid = at.selectbox(key="qu_selected").value
    assign(Store(db), eid, "Анна (поддержка)", actor="другой аналитик")  # someone else acts first
    next(t for t in at.text_input if t.label == "Assign to").input("Игорь")
    next(b for b in at.button if b.label == "Assign").click().run()
    assert not at.exception
    assert any("changed by другой аналитик" in w.value for w in at.warning)
    assert _sql(db, "SELECT owner FROM escalations WHERE escalation_id = ?", [eid])[0][0] == "Анна (поддержка)"


def test_queue_filters(synth_db, use_db, app_test):
    use_db(synth_db)
    at = app_test("queue")
    n_open = int(_metric(at, "Matching").replace(",", ""))
    assert (
        n_open
        == _sql(synth_db, "SELECT count(*) FROM escalations WHERE state IN ('new','assigned','in_progress')")[0][0]
    )
    # the headline counts cover every matching item, not only the rows on the page
    breached = _sql(
        synth_db,
        "SELECT count(*) FROM escalations WHERE state IN ('new','assigned','in_progress') "
        "AND first_response_at IS NULL AND sla_due_at < now()",
    )[0][0]
    assert int(_metric(at, "SLA breached").replace(",", "")) == breached > 0
    at.sidebar.selectbox(key="qu_owner").set_value("(unassigned)").run()
    unassigned = int(_metric(at, "Matching").replace(",", ""))
    assert (
        unassigned
        == _sql(
            synth_db,
            "SELECT count(*) FROM escalations WHERE owner IS NULL AND state IN ('new','assigned','in_progress')",
        )[0][0]
    )
    at.sidebar.multiselect(key="qu_states").set_value(["resolved"]).run()
    assert int(_metric(at, "Matching").replace(",", "")) == 0  # resolved items always have an owner
    at.sidebar.selectbox(key="qu_owner").set_value(None).run()
    assert (
        int(_metric(at, "Matching").replace(",", ""))
        == _sql(synth_db, "SELECT count(*) FROM escalations WHERE state = 'resolved'")[0][0]
    )


def test_alert_acknowledged(db, use_db, app_test):
    use_db(db)
    at = app_test("alerts", analyst="Анна")
    assert at.markdown[0].value.startswith("**6**")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert not at.exception
    assert _sql(db, "SELECT count(*) FROM alerts WHERE acknowledged_by = 'Анна'")[0][0] == 1
    assert at.markdown[0].value.startswith("**5**")


def test_sources_health_flags_the_silent_source(synth_db, use_db, app_test):
    use_db(synth_db)
    at = app_test("sources")
    assert _metric(at, "Silent (gap)") == "1"
    assert any("vk\\-gorod" in e.value and "silent" in e.value for e in at.error)


def test_themes_drill_down(synth_db, use_db, app_test):
    use_db(synth_db)
    at = app_test("themes")
    assert int(_metric(at, "New")) >= 1
    at.selectbox(key="th_selected").set_value("th-posylkin-delay").run()
    members = [d for d in at.dataframe if "distance" in d.value.columns][0].value
    n = _sql(synth_db, "SELECT count(*) FROM theme_members WHERE theme_id = 'th-posylkin-delay'")[0][0]
    assert len(members) == min(n, 500)
    at.sidebar.multiselect(key="th_status").set_value(["growing"]).run()
    assert set(at.dataframe[0].value["badge"]) == {"▲ growing"}


def test_password_gate(synth_db, use_db, app_test):
    use_db(synth_db, BRANDMON_DASHBOARD__PASSWORD="s3cret")
    at = app_test()
    assert not at.metric and not at.dataframe  # nothing but the form
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert any("Wrong password" in e.value for e in at.error) and not at.metric
    at.text_input[0].input("s3cret")
    at.button[0].click().run()
    assert at.metric and not at.exception


def test_every_page_renders_on_an_empty_database(store, use_db, app_test):
    """A fresh `brandmon db upgrade` file: pages explain what is missing instead of failing."""
    use_db(store.path)
    at = app_test()
    assert not at.exception, [e.value for e in at.exception]
    assert _metric(at, "Mentions") == "0"
    for page in PAGES:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
