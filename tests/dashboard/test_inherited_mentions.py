"""A mention a reply inherits from its thread says so, with the reason, in the mention detail and the queue item."""

from __future__ import annotations

import duckdb
import streamlit as st

TITLE = "inherited from the thread title"
OPENING = "inherited from the opening post"
ABOUT = "its source ties it to the brand"


def _inherit(db, mention_id: str, via: str) -> None:
    """What pipeline/thread_context.py stores: no span, nothing matched, `via` names where the brand came from."""
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE mentions SET span_start = NULL, span_end = NULL, matched = NULL, via = ? WHERE mention_id = ?",
            [via, mention_id],
        )


def _captions(at) -> list[str]:
    return [x.value for x in at.caption]


def test_mention_detail_says_the_mention_is_inherited_from_the_thread(db, use_db, app_test):
    use_db(db)
    at = app_test("mentions")
    mid = at.selectbox(key="mx_selected").value
    assert not any(TITLE in x or ABOUT in x for x in _captions(at))
    _inherit(db, mid, "thread_title")
    st.cache_data.clear()  # the page's queries are cached for dashboard.cache_ttl_seconds
    at = app_test("mentions")
    assert at.selectbox(key="mx_selected").value == mid and not at.exception
    caps = _captions(at)
    assert any(TITLE in x for x in caps) and not any(ABOUT in x for x in caps)

    _inherit(db, mid, "opening_post")
    st.cache_data.clear()
    at = app_test("mentions")
    assert any(OPENING in x for x in _captions(at)) and not at.exception


def test_queue_item_says_the_mention_is_inherited_from_the_thread(db, use_db, app_test):
    use_db(db)
    at = app_test("queue", analyst="Игорь")
    eid = at.selectbox(key="qu_selected").value
    assert not any(TITLE in x for x in _captions(at))
    with duckdb.connect(str(db), read_only=True) as con:
        mid = con.execute("SELECT mention_id FROM escalations WHERE escalation_id = ?", [eid]).fetchone()[0]
    _inherit(db, mid, "thread_title")
    st.cache_data.clear()
    at = app_test("queue", analyst="Игорь")
    assert at.selectbox(key="qu_selected").value == eid and not at.exception
    caps = _captions(at)
    assert any(TITLE in x for x in caps) and not any(ABOUT in x for x in caps)
