"""While another process holds the database in a write transaction, the queue page reads the published snapshot
(no "busy"), an analyst's assignment returns at once and shows in the page's history as pending, and once the
writer has let go the next page run applies it to the database."""

from __future__ import annotations

import subprocess
import sys

from pipeline.store import Store

from .conftest import sql_rows

HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN; UPDATE sources SET enabled = enabled")
print("holding", flush=True)
sys.stdin.readline()
con.execute("COMMIT")
con.close()
"""


def test_assign_while_a_writer_holds_the_file_is_pending_then_applied(db, use_db, app_test):
    use_db(db, BRANDMON_DASHBOARD__READ_TIMEOUT_SECONDS="0.3")
    assert Store(db, snapshots=True).catch_up()  # what the last writer published
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    try:
        at = app_test("queue", analyst="Игорь")
        assert not at.exception and not [w.value for w in at.warning if "busy" in w.value.lower()]
        eid = at.selectbox(key="qu_selected").value
        next(t for t in at.text_input if t.label == "Assign to").input("Ольга")
        next(b for b in at.button if b.label == "Assign").click().run()
        assert not at.exception and not [w.value for w in at.warning if "busy" in w.value.lower()]
        assert holder.poll() is None  # the writer still holds the file: the action did not wait for it
        hist = [d.value for d in at.dataframe if "actor" in d.value.columns][-1]
        last = hist.iloc[-1]
        assert (last.actor, last.action, last.to_state, last.owner) == ("Игорь", "assign", "assigned", "Ольга")
        assert str(last.comment).startswith("(pending)")
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(60) == 0
    at.run()  # the next page run finds the file free and applies the journal
    assert sql_rows(db, "SELECT state, owner FROM escalations WHERE escalation_id = ?", [eid]) == [
        ("assigned", "Ольга")
    ]
    assert sql_rows(
        db, "SELECT count(*) FROM escalation_events WHERE escalation_id = ? AND actor = 'Игорь'", [eid]
    ) == [(1,)]
    hist = [d.value for d in at.dataframe if "actor" in d.value.columns][-1]
    assert hist.iloc[-1].actor == "Игорь" and not str(hist.iloc[-1].comment).startswith("(pending)")
