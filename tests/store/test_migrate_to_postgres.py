"""`brandmon db migrate --to postgresql://…`: a file store moved to a real Postgres server, losing nothing."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.backup import BackupError, migrate
from pipeline.pg_store import PgStore
from pipeline.store import StoreError, utcnow

from ..importexport.conftest import fill_store

HOSTILE = '<script>alert(1)</script> 😀 naïve ‘quotes’ \\ back\\slash, tab\tend; 100% "csv"\nline'


def _odd_rows(store) -> None:
    """Values that a careless copy gets wrong: a 64-bit unsigned hash, float lists, text with every kind of quote,
    empty strings next to NULLs, naive-looking timestamps."""
    with store.write() as con:
        con.execute("INSERT INTO doc_lsh VALUES (?, ?, ?), (?, ?, ?)", [-1, 2**64 - 1, "d1", 15, 0, "d2"])
        con.execute(
            "INSERT INTO themes (theme_id, brand_id, label, centroid, first_seen, size) VALUES (?, ?, ?, ?, ?, ?)",
            ["t1", "posylkin", HOSTILE, [0.25, -1.5, 3.0], utcnow(), 7],
        )
        con.execute(
            "INSERT INTO documents (doc_id, source_id, text, text_hash, author, quoted_text) VALUES (?, ?, ?, ?, ?, ?)",
            ["hostile", "src0", HOSTILE, "h", "", None],
        )


def _table(con, sql: str) -> pd.DataFrame:
    df = con.execute(sql).df().astype(object)

    def cell(v):
        if hasattr(v, "tolist") and not isinstance(v, str):
            return v.tolist()
        return None if v is None or (not isinstance(v, list) and pd.isna(v)) else v

    return df.map(cell).reset_index(drop=True)


def test_migrate_copies_every_table_and_a_second_run_writes_nothing(store, pg_url):
    fill_store(store, 2_000)
    _odd_rows(store)
    res = migrate(store, pg_url, batch_rows=700)  # several batches per table
    assert not res.already and res.copied == res.source and all(res.fingerprints_match.values())
    assert res.source["mentions"] == 2_000 and res.source["documents"] == 1_001 and res.source["doc_lsh"] == 2
    assert res.source["mention_facts"] == 2_000 and res.source["scores"] == 2_000
    pg = PgStore(pg_url)
    for sql in (
        "SELECT doc_id, source_id, url, author, posted_at, text, text_hash, quoted_text, spam FROM documents "
        "ORDER BY doc_id",
        "SELECT band, bucket, doc_id FROM doc_lsh ORDER BY band",
        "SELECT theme_id, label, centroid, size FROM themes",
        "SELECT mention_id, sentiment, day, countable, search_text FROM mention_facts ORDER BY mention_id",
    ):
        with store.read() as a, pg.read() as b:
            left, right = _table(a, sql), _table(b, sql)
        pd.testing.assert_frame_equal(left, right, check_dtype=False)
    assert pg.query("SELECT author FROM documents WHERE doc_id = 'hostile'").iloc[0, 0] == ""  # not NULL
    again = migrate(store, pg_url)
    assert again.already and again.copied == res.copied
    assert pg.status()["counts"]["mentions"] == 2_000  # the current_scores view works on the server too
    assert pg.query("SELECT count(*) AS n FROM current_scores WHERE sentiment IS NOT NULL").iloc[0, 0] == 2_000


def test_a_server_database_with_other_rows_is_refused_and_left_alone(store, pg_url):
    fill_store(store, 200)
    other = PgStore(pg_url)
    other.upgrade()
    other.upsert("sources", [{"source_id": "theirs", "kind": "forum", "name": "theirs"}], ["source_id"])
    with pytest.raises(BackupError, match="already holds 1 rows that are not this store's"):
        migrate(store, pg_url)
    assert other.status()["counts"]["documents"] == 0 and other.status()["counts"]["sources"] == 1


def test_a_failed_copy_keeps_nothing(store, pg_url):
    fill_store(store, 200)
    with store.write() as con:  # text Postgres cannot hold: the copy fails on it, in its last table
        con.execute("INSERT INTO theme_members VALUES ('t', chr(0), 0.5)")
    with pytest.raises(BackupError, match="copy failed, nothing kept"):
        migrate(store, pg_url)
    assert sum(n for n in PgStore(pg_url).status()["counts"].values() if n) == 0


def test_unreachable_server(store):
    with pytest.raises(StoreError, match="cannot connect to the Postgres server"):
        store.lock_timeout = 2
        migrate(store, "postgresql://nobody@127.0.0.1:1/brandmon")


def test_cli_prints_the_counts_per_table(tmp_path, store, pg_url):
    from brandmon.cli import app

    fill_store(store, 300)
    runner = CliRunner()
    data = ["--data-dir", str(store.path.parent)]
    res = runner.invoke(app, [*data, "db", "migrate", "--to", pg_url])
    assert res.exit_code == 0, res.output
    assert "mentions" in res.output and "300" in res.output and "match" in res.output
    assert "DIFFERS" not in res.output and "copied in" in res.output
    res = runner.invoke(app, [*data, "db", "migrate", "--to", pg_url])
    assert res.exit_code == 0 and "already holds this store; nothing written" in res.output, res.output
    res = runner.invoke(app, [*data, "db", "migrate", "--to", "postgresql://u:pw@h/db"])
    assert res.exit_code == 2 and "PGPASSWORD" in res.output
