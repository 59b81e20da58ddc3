"""The store on a real PostgreSQL server: the same migrations, the DuckDB connection calls the stages make, the CLI."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.dialect import to_postgres
from pipeline.schema import MIGRATIONS
from pipeline.store import Store, StoreError, utcnow


def _columns_duckdb(store: Store) -> dict[str, list[str]]:
    with store.read() as con:
        rows = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for t, c in rows:
        out.setdefault(t, []).append(c)
    return out


def _columns_pg(store: Store) -> dict[str, list[str]]:
    with store.read() as con:
        rows = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for t, c in rows:
        out.setdefault(t, []).append(c)
    return out


def test_the_same_migrations_build_the_same_tables_and_columns(store, pg_settings):
    pg = Store.from_settings(pg_settings)
    assert type(pg).__name__ == "PgStore"
    assert pg.schema_version() is None and pg.pending_migrations() == [m.name for m in MIGRATIONS]
    assert pg.upgrade() == [m.name for m in MIGRATIONS]
    assert pg.upgrade() == []  # idempotent
    assert pg.schema_version() == MIGRATIONS[-1].name
    file_cols, pg_cols = _columns_duckdb(store), _columns_pg(pg)
    assert len(file_cols) >= 21 and file_cols == pg_cols  # tables, views and column order alike
    assert pg.status()["counts"]["documents"] == 0


def test_types_postgres_lacks_keep_their_values(pg_store):
    big = 2**64 - 5  # an unsigned 64-bit LSH bucket: NUMERIC(20) on the server
    with pg_store.write() as con:
        con.execute("INSERT INTO doc_lsh VALUES (?, ?, ?)", [3, big, "d1"])
        con.execute(
            "INSERT INTO themes (theme_id, centroid, first_seen) VALUES (?, ?, ?)", ["t1", [0.5, -1.25], utcnow()]
        )
    with pg_store.read() as con:
        assert con.execute("SELECT band, bucket, doc_id FROM doc_lsh").fetchall() == [(3, big, "d1")]
        assert con.execute("SELECT centroid FROM themes").fetchone() == ([0.5, -1.25],)


def _docs(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "doc_id": [f"d{i}" for i in range(start, start + n)],
            "source_id": "s1",
            "text": [f"post {i} with 100% of the % signs" for i in range(start, start + n)],
            "text_hash": "h",
            "posted_at": pd.Timestamp("2026-01-02 03:04:05", tz="UTC"),
            "reach": range(start, start + n),
            "rating": [None] * n,  # all null: takes the target column's type
            "spam": False,
        }
    )


def test_upsert_through_a_registered_frame_inserts_then_updates(pg_store):
    assert pg_store.upsert("documents", _docs(50), ["doc_id"]) == 50
    changed = _docs(10, start=45).assign(text_hash="h2")  # 5 existing, 5 new
    assert pg_store.upsert("documents", changed, ["doc_id"]) == 10
    got = pg_store.query(
        "SELECT count(*) AS n, count(*) FILTER (WHERE text_hash = 'h2') AS changed, sum(reach) AS reach, "
        "max(posted_at) AS at FROM documents"
    )
    assert got.loc[0, "n"] == 55 and got.loc[0, "changed"] == 10
    assert got.loc[0, "reach"] == sum(range(55))  # NUMERIC sum comes back as an int, as on DuckDB
    assert got.loc[0, "at"] == pd.Timestamp("2026-01-02 03:04:05", tz="UTC")
    rows = pg_store.query("SELECT text FROM documents WHERE text LIKE ? AND doc_id = ?", ["%100\\%%", "d7"])
    assert rows["text"].tolist() == ["post 7 with 100% of the % signs"]


def test_repeated_and_numbered_parameters(pg_store):
    with pg_store.read() as con:
        # sqlglot writes list_contains' argument twice; named parameters keep the order
        assert con.execute("SELECT list_contains([1, 2, 3], ?), ? AS b", [2, "x"]).fetchone() == (True, "x")
        assert con.execute("SELECT $2 || $1 || $2", ["a", "b"]).fetchone() == ("bab",)
    assert to_postgres("SELECT ? LIKE '%a'").sql == "SELECT %(p0)s LIKE '%%a'"


def test_server_errors_arrive_as_the_duckdb_exceptions_callers_catch(pg_store):
    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        pg_store.query("SELECT * FROM no_such_table")
    pg_store.upsert("documents", _docs(1), ["doc_id"])
    with pytest.raises(duckdb.ConstraintException):
        with pg_store.write() as con:
            con.execute("INSERT INTO documents (doc_id, source_id, text, text_hash) VALUES ('d9', 's', 't', 'h')")
            con.execute("INSERT INTO documents (doc_id, source_id, text, text_hash) VALUES ('d0', 's', 't', 'h')")
    assert pg_store.query("SELECT count(*) AS n FROM documents").loc[0, "n"] == 1  # d9 rolled back with it
    with pytest.raises(duckdb.Error, match="read-only"):  # `brandmon sql`'s sandboxed reads refuse writes
        with pg_store.reader(config={"enable_external_access": False}) as con:
            con.execute("DELETE FROM documents")


def test_a_session_commits_each_transaction_on_one_connection(pg_store):
    with pg_store.session(hold_seconds=60) as sess:
        for i in range(3):
            with sess.write() as con:
                pg_store.upsert("documents", _docs(2, start=2 * i), ["doc_id"], con=con)
            # another connection sees each commit at once: no snapshot, no lock
            assert pg_store.query("SELECT count(*) AS n FROM documents").loc[0, "n"] == 2 * (i + 1)


def test_unreachable_server_is_one_clear_error(settings):
    settings.store.url = "postgresql://nobody@127.0.0.1:1/none"
    settings.lock_timeout_seconds = 2
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1/none: cannot connect to the Postgres server"):
        Store.from_settings(settings).upgrade()


def test_a_password_in_the_url_is_refused():
    from pydantic import ValidationError

    from pipeline.config import StoreSettings

    with pytest.raises(ValidationError, match="PGPASSWORD"):
        StoreSettings(url="postgresql://u:secret@db.example/brandmon")
    with pytest.raises(ValidationError, match="expected empty"):
        StoreSettings(url="mysql://db.example/brandmon")


def test_db_upgrade_and_status_against_a_postgres_url(tmp_path, pg_url):
    from brandmon.cli import app

    runner = CliRunner(env={"BRANDMON_STORE__URL": pg_url})
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "db", "status"])
    assert res.exit_code == 0, res.output
    assert "run `brandmon db upgrade`" in res.output
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "db", "upgrade"])
    assert res.exit_code == 0 and "applied 0001_initial" in res.output, res.output
    assert pg_url.split("@")[1] in res.output
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "db", "status", "--format", "csv"])
    assert res.exit_code == 0 and "documents,0" in res.output, res.output
    assert not (tmp_path / "brandmon.duckdb").exists()  # nothing went to a local file
    bad = CliRunner(env={"BRANDMON_STORE__URL": "postgresql://nobody@127.0.0.1:1/x"})
    res = bad.invoke(app, ["--data-dir", str(tmp_path), "db", "upgrade"])
    assert res.exit_code == 3 and "cannot connect to the Postgres server" in res.output, res.output


def test_duckdb_constructs_the_stages_use_run_on_the_server(pg_store):
    pg_store.upsert("documents", _docs(6), ["doc_id"])
    with pg_store.read() as con:
        # `?` bound in text order although sqlglot's tree holds the LIMIT first
        rows = con.execute("SELECT doc_id FROM documents WHERE reach >= ? ORDER BY doc_id LIMIT ?", [2, 3]).fetchall()
        assert rows == [("d2",), ("d3",), ("d4",)]
        # GROUP BY ALL, any_value, an optional filter's NULL parameter, a list parameter, to_microseconds
        got = con.execute(
            """SELECT source_id, any_value(text_hash) AS h, count(*) AS n FROM documents
               WHERE (? IS NULL OR author = ?) AND doc_id IN (SELECT unnest(?))
                 AND posted_at > ? - to_microseconds(CAST(? * 3600000000 AS BIGINT))
               GROUP BY ALL""",
            [None, None, ["d1", "d2", "d5"], pd.Timestamp("2026-01-02 04:00", tz="UTC"), 1.5],
        ).fetchall()
        assert got == [("s1", "h", 3)]
        assert con.execute("UPDATE documents SET likes = 1 WHERE reach < ?", [4]).fetchone() == (4,)


def test_page_and_report_constructs_and_frames_match_duckdb(store, pg_store):
    docs = _docs(8).assign(likes=[None, 1, 2, 3, None, 5, 6, 7], spam=[True, False] * 4)
    for s in (store, pg_store):
        s.upsert("documents", docs, ["doc_id"])
    sql = """SELECT source_id, arg_max(doc_id, reach) AS top, arg_min(doc_id, reach) FILTER (WHERE spam) AS low,
                    round(avg(reach), 2) AS mean, count(*) AS n
             FROM (SELECT * FROM documents WHERE posted_at > ? - to_days(1)) GROUP BY ALL ORDER BY ALL"""
    at = pd.Timestamp("2026-01-02 12:00", tz="UTC")
    with store.read() as a, pg_store.read() as b:
        want, got = a.execute(sql, [at]).df(), b.execute(sql, [at]).df()
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        assert got.values.tolist() == [["s1", "d7", "d0", 3.5, 8]]
        # frames carry DuckDB's dtypes: nullable integers stay integers, as stages and pages expect
        cols = "doc_id, reach, likes, spam, rating, posted_at"
        fa, fb = (c.execute(f"SELECT {cols} FROM documents ORDER BY doc_id").df() for c in (a, b))
        assert {c: str(t).replace("Etc/UTC", "UTC") for c, t in fb.dtypes.items()} == {
            c: str(t).replace("Etc/UTC", "UTC") for c, t in fa.dtypes.items()
        }
        assert str(fb["likes"].dtype) == "Int32" and fb["likes"].isna().sum() == 2


def test_a_server_url_without_the_team_extra_says_what_to_install(settings, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    settings.store.url = "postgresql://brandmon@127.0.0.1:1/brandmon"
    with pytest.raises(StoreError, match=r"psycopg is not installed: pip install 'brandmon\[team\]'"):
        Store.from_settings(settings).upgrade()


def test_reads_and_analyst_actions_go_on_while_a_stage_holds_a_transaction(pg_store):
    from pipeline import escalate as esc

    now = utcnow()
    pg_store.upsert("documents", _docs(3), ["doc_id"])
    pg_store.upsert(
        "escalations",
        [
            {"escalation_id": "e1", "mention_id": "m1", "priority": 0.9, "state": "new", "version": 1},
            {"escalation_id": "e2", "mention_id": "m2", "priority": 0.5, "state": "new", "version": 1},
        ],
        ["escalation_id"],
    )
    with pg_store.session(hold_seconds=60) as sess:
        with sess.write() as con:  # a stage's open transaction: rows written, not yet committed
            pg_store.upsert("documents", _docs(100, start=3), ["doc_id"], con=con)
            con.execute("UPDATE escalations SET priority = 0.95, updated_at = ? WHERE escalation_id = 'e2'", [now])
            # another connection reads the last committed state at once (no snapshot, no lock to wait for)
            assert pg_store.query("SELECT count(*) AS n FROM documents").loc[0, "n"] == 3
            res = esc.assign(pg_store, "e1", "olga", actor="olga", expected_version=1)
            assert res["state"] == "assigned" and not res.get("pending")
            assert pg_store.query("SELECT owner FROM escalations WHERE escalation_id = 'e1'").iloc[0, 0] == "olga"
    # both survive: the stage's rows and the analyst's action
    assert pg_store.query("SELECT count(*) AS n FROM documents").loc[0, "n"] == 103
    got = pg_store.query(
        "SELECT escalation_id, coalesce(owner, '-') AS owner, state, priority FROM escalations ORDER BY escalation_id"
    )
    assert got.values.tolist() == [["e1", "olga", "assigned", 0.9], ["e2", "-", "new", 0.95]]
