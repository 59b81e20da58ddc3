"""The dashboard's pages over a Postgres store: a synthetic file store migrated to the server, every page rendered."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.backup import migrate
from pipeline.store import Store

from ..dashboard.conftest import APP

PAGES = ["overview", "mentions", "themes", "queue", "alerts", "authors", "sources"]


@pytest.fixture(scope="module")
def synth_on_pg(pg_server, tmp_path_factory):
    from demo.synthetic import make_synthetic_db

    path = tmp_path_factory.mktemp("dash_pg") / "synth.duckdb"
    make_synthetic_db(path, 1500, seed=7)
    url = pg_server.new_database()
    migrate(Store(path), url)
    return path, url


def _app(page, monkeypatch, path, url=None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BRANDMON_DB_PATH", str(path))
    monkeypatch.delenv("BRANDMON_CONFIG", raising=False)
    if url:
        monkeypatch.setenv("BRANDMON_STORE__URL", url)
    else:
        monkeypatch.delenv("BRANDMON_STORE__URL", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    if page != "overview":
        at.switch_page(f"views/{page}.py").run()
    return at


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_the_same_numbers_from_the_server(page, synth_on_pg, monkeypatch, tmp_path):
    path, url = synth_on_pg
    on_pg = _app(page, monkeypatch, tmp_path / "absent.duckdb", url)  # no file: everything comes from the server
    assert not on_pg.exception, [e.value for e in on_pg.exception][:1]
    on_file = _app(page, monkeypatch, path)
    # rolling windows ("Items, 24 h", "Silent (gap)") move between the two renders: their labels only
    moving = ("24 h", "gap")
    assert [(m.label, m.value if not any(w in m.label for w in moving) else "") for m in on_pg.metric] == [
        (m.label, m.value if not any(w in m.label for w in moving) else "") for m in on_file.metric
    ]
    assert [len(d.value) for d in on_pg.dataframe] == [len(d.value) for d in on_file.dataframe]
    assert not (tmp_path / "absent.duckdb").exists()


def test_analyst_actions_commit_straight_to_the_server(synth_on_pg, pg_server):
    from pipeline import escalate as esc
    from pipeline.pg_store import PgStore

    path, _ = synth_on_pg
    url = pg_server.new_database()  # a private copy: this test writes
    migrate(Store(path), url)
    store = PgStore(url)
    item = store.query("SELECT escalation_id, version FROM escalations WHERE state = 'new' ORDER BY escalation_id")
    eid, version = item.iloc[0, 0], int(item.iloc[0, 1])
    res = esc.assign(store, eid, "olga", actor="olga", expected_version=version)
    assert res["state"] == "assigned" and res["version"] == version + 1 and not res.get("pending")
    row = store.query("SELECT state, owner, version FROM escalations WHERE escalation_id = ?", [eid])
    assert row.values.tolist() == [["assigned", "olga", version + 1]]  # committed: another connection sees it
    with pytest.raises(esc.ActionError):  # a click made against the old version is refused
        esc.transition(store, eid, "resolved", actor="ivan", expected_version=version)
    esc.transition(store, eid, "resolved", actor="olga", comment="refunded", expected_version=version + 1)
    hist = esc.history(store, eid)
    tail = hist[["action", "to_state", "owner", "version"]].values.tolist()[-2:]
    assert tail == [["assign", "assigned", "olga", version + 1], ["resolve", "resolved", "olga", version + 2]]
    assert hist["to_state"].tolist()[-1] == "resolved" and hist["comment"].tolist()[-1] == "refunded"
    mid = store.query("SELECT mention_id FROM escalations WHERE escalation_id = ?", [eid]).iloc[0, 0]
    esc.correct(store, mid, "sentiment", "positive", actor="olga")
    facts = store.query("SELECT sentiment, corrected FROM mention_facts WHERE mention_id = ?", [mid])
    assert facts.values.tolist() == [["positive", True]]  # the dashboard's facts follow the correction
    assert not store.journal.path.exists()  # no journal on a server store


def test_brandmon_sql_reads_the_server_and_refuses_writes(synth_on_pg, tmp_path):
    from typer.testing import CliRunner

    from brandmon.cli import app

    path, url = synth_on_pg
    runner = CliRunner(env={"BRANDMON_STORE__URL": url})
    res = runner.invoke(
        app, ["--data-dir", str(tmp_path), "sql", "SELECT count(*) AS n FROM mentions", "--format", "csv"]
    )
    want = Store(path).query("SELECT count(*) AS n FROM mentions").iloc[0, 0]
    assert res.exit_code == 0 and res.output.split() == ["n", str(want)], res.output
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "sql", "DELETE FROM mentions"])
    assert res.exit_code == 2
    assert Store.query(Store(path), "SELECT count(*) FROM mentions").iloc[0, 0] == want


def test_the_digest_reads_the_same_from_the_server(synth_on_pg):
    from dataclasses import asdict
    from datetime import UTC, datetime, timedelta

    from pipeline.pg_store import PgStore
    from pipeline.report import digest_data

    path, url = synth_on_pg
    brand = Store(path).query("SELECT brand_id FROM brands ORDER BY brand_id").iloc[0, 0]
    until = datetime.now(UTC).replace(microsecond=0)
    on_file = asdict(digest_data(Store(path), brand, until, timedelta(days=30)))
    on_pg = asdict(digest_data(PgStore(url), brand, until, timedelta(days=30)))
    assert on_pg.keys() == on_file.keys()
    for k, want in on_file.items():
        if isinstance(want, pd.DataFrame):
            pd.testing.assert_frame_equal(
                on_pg[k].reset_index(drop=True), want.reset_index(drop=True), check_dtype=False
            )
        else:
            assert on_pg[k] == want, k
    assert min(len(on_file[k]) for k in ("daily", "themes", "escalations", "alerts")) > 0  # not an empty digest


def test_a_text_search_finds_the_same_mentions_on_the_server(synth_on_pg):
    """The mentions page's text filter is DuckDB's contains(); Postgres has no such function and the search failed
    there ("function contains(text, unknown) does not exist")."""
    from dashboard import queries
    from pipeline.pg_store import PgStore

    path, url = synth_on_pg
    with Store(path).read() as con:
        word = con.execute("SELECT lower(split_part(search_text, ' ', 1)) FROM mention_facts LIMIT 1").fetchone()[0]
    f = queries.MentionFilter(text=word)
    with Store(path).read() as con:
        on_file = queries.mentions(con, f, limit=1000)
        n_file = queries.mention_count(con, f)
    with PgStore(url).read() as con:
        on_pg = queries.mentions(con, f, limit=1000)
        n_pg = queries.mention_count(con, f)
    assert n_pg == n_file > 0
    assert sorted(on_pg["mention_id"]) == sorted(on_file["mention_id"])
