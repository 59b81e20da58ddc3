"""The link in a notification opens that item in the dashboard's queue (Streamlit AppTest on a real store)."""

from __future__ import annotations

from pathlib import Path

from flows import stages as st
from pipeline.escalate import transition

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def _queue_page(monkeypatch, store, item: str | None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BRANDMON_DB_PATH", str(store.path))
    monkeypatch.delenv("BRANDMON_CONFIG", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60)
    if item:
        at.query_params["item"] = item
    at.run()
    at.switch_page("views/queue.py").run()
    assert not at.exception, at.exception
    return at


def test_queue_opens_the_item_named_in_the_url(settings, critical_store, monkeypatch):
    store = critical_store
    st.run_stage("escalate", settings, store)
    top, other = store.ids["legal"], store.ids["late"]  # the queue lists the critical one first

    plain = _queue_page(monkeypatch, store, None)
    assert plain.selectbox(key="qu_selected").value == top

    linked = _queue_page(monkeypatch, store, other)
    assert linked.selectbox(key="qu_selected").value == other
    assert any("задержал доставку" in m.value for m in linked.markdown)

    # resolved since the message went out: still opened, with its state
    transition(store, other, "dismissed", actor="anna", comment="noise")
    import streamlit

    streamlit.cache_data.clear()  # the dashboard caches queries for a TTL; this is a new visit
    again = _queue_page(monkeypatch, store, other)
    assert again.selectbox(key="qu_selected").value == other
    assert set(again.multiselect(key="qu_states").value) >= {"dismissed"}
    assert any("dismissed" in s.value for s in again.subheader)
