"""`brandmon import` and the `files` source: rows → raw run → the real ingest, checked row by row, idempotent."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.config import ConfigError, load_sources
from pipeline.importing import import_files
from pipeline.ingest import ingest_pending
from pipeline.store import Store

from .conftest import review_table, write_csv

MAP = "id=ticket,text=body,author=user,posted_at=date,likes=likes"


def _import(settings, store, files, source="tickets", mapping=MAP, **kw):
    res = import_files(settings, store, [Path(f) for f in files], source, mapping, **kw)
    return res, ingest_pending(settings, store, run_id=res.run_id)


def _count(store, sql="SELECT count(*) FROM documents"):
    with store.read() as con:
        return con.execute(sql).fetchone()[0]


@pytest.mark.parametrize("n", [pytest.param(100_000, marks=pytest.mark.slow), 10_000])
def test_csv_imported_twice_is_stored_once(settings, store, tmp_path, n):
    """Importing a 100k-row CSV twice stores it once (10k in the fast tier)."""
    table = review_table(n, bad_every=1000)
    csv = write_csv(tmp_path / "tickets.csv", table)
    good = n - n // 1000
    named = sum("Посылкин" in t for t in table["body"])

    res1, ing1 = _import(settings, store, [csv])
    assert (res1.rows, res1.items, res1.bad_rows) == (n, good, n // 1000)
    assert res1.counts == {"text": n // 1000}
    assert ing1["documents_new"] == good
    assert _count(store) == good
    mentions = _count(store, "SELECT count(*) FROM mentions WHERE brand_id = 'posylkin'")
    assert mentions == named

    res2, ing2 = _import(settings, store, [csv])
    assert res2.run_id == res1.run_id  # the same files and map: the same raw run, rewritten, not a second one
    assert (ing2["documents_new"], ing2["documents_updated"], ing2["documents_unchanged"]) == (0, 0, good)
    assert ing2.get("mentions", 0) == 0 and ing2.get("mentions_removed", 0) == 0
    assert _count(store) == good
    assert _count(store, "SELECT count(*) FROM mentions WHERE brand_id = 'posylkin'") == mentions
    assert len([p for p in Path(settings.raw_dir).iterdir() if p.is_dir()]) == 1
    # the stored text is the ingest's: normalised and PII-masked like a crawled post
    assert _count(store, "SELECT count(*) FROM documents WHERE source_id = 'tickets' AND post_id = 'T-5'") == 1


def test_rows_are_checked_one_by_one(settings, store, tmp_path):
    csv = tmp_path / "rev.csv"
    csv.write_text(
        "ticket,body,user,date,link,stars\n"
        '1,"Посылкин потерял заказ, звоните +7 (912) 345-67-89",ivan,2024-05-01 10:00,https://x.test/1,1\n'
        '2,"Посылкин доставил\nбыстро",olga,01.05.2024 11:30,,5\n'
        "3,,petr,2024-05-02,,3\n"
        "4,Посылкин норм,anna,вчера,,4\n"
        "5,Посылкин ok,kim,2024-05-03T10:00:00+03:00,ftp://bad,4\n"
        "6,Посылкин,kim,2024-05-03,,пять\n"
        "7,Посылкин,kim,2024-05-03,,4,extra\n"
        ",Посылкин без номера,kim,2024-05-03,,4\n"
        "9,Посылкин снова,kim,1714557600,,4.5\n",
        encoding="utf-8",
    )
    res, ing = _import(
        settings, store, [csv], mapping="id=ticket,text=body,author=user,posted_at=date,url=link,rating=stars"
    )
    assert res.errors == [
        "rev.csv:row 3: text (body): empty",
        "rev.csv:row 4: posted_at (date): 'вчера' is not a date",
        "rev.csv:row 5: url (link): 'ftp://bad' is not an http(s) URL",
        "rev.csv:row 6: rating (stars): 'пять' is not a number",
        "rev.csv:row 7: 7 fields, the header has 6",
        "rev.csv:row 8: id (ticket): empty",
    ]
    assert (res.rows, res.items, res.bad_rows) == (9, 3, 6)
    assert res.counts == {"text": 1, "posted_at": 1, "url": 1, "rating": 1, "id": 1, "malformed": 1}
    assert ing["documents_new"] == 3
    df = store.query("SELECT post_id, url, text, posted_at, rating FROM documents ORDER BY post_id")
    assert df["post_id"].tolist() == ["1", "2", "9"]
    assert df["text"][0] == "Посылкин потерял заказ, звоните [PHONE]"  # masked by the ingest
    assert df["text"][1] == "Посылкин доставил\nбыстро"  # a quoted value's newline: one record, kept
    assert df["url"].tolist() == ["https://x.test/1", "import:tickets/2", "import:tickets/9"]
    # naive times are read in the default zone (Moscow, +03:00); epoch seconds are UTC
    assert [t.isoformat() for t in df["posted_at"].dt.tz_convert("UTC")] == [
        "2024-05-01T07:00:00+00:00",
        "2024-05-01T08:30:00+00:00",
        "2024-05-01T10:00:00+00:00",
    ]
    assert df["rating"].tolist() == [1.0, 5.0, 4.5]
    run = store.query("SELECT status, items, errors FROM crawl_runs WHERE run_id = ?", [res.run_id])
    assert run.iloc[0].tolist() == ["partial", 3, 6]


def test_parquet_and_jsonl_rows_are_the_csv_rows(settings, store, tmp_path):
    """The same rows as CSV, as Parquet (typed columns) and as JSONL get the same post ids: no id column is mapped,
    so the id is the hash of the checked fields, and a re-export in another format stores nothing new."""
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    t = review_table(300)
    mapping = "text=body,author=user,posted_at=date,likes=likes"
    _, ing_csv = _import(settings, store, [write_csv(tmp_path / "a.csv", t)], mapping=mapping)
    assert ing_csv["documents_new"] == 300

    dates = [datetime.strptime(d, "%Y-%m-%d %H:%M") for d in t["date"]]
    pq.write_table(
        pa.table(
            {
                "body": t["body"],
                "user": t["user"],
                "date": pa.array(dates, pa.timestamp("s")),
                "likes": pa.array([int(x) for x in t["likes"]], pa.int64()),
            }
        ),
        tmp_path / "a.parquet",
        row_group_size=64,
    )
    res_pq, ing_pq = _import(settings, store, [tmp_path / "a.parquet"], mapping=mapping)
    assert (res_pq.items, ing_pq["documents_new"], ing_pq["documents_unchanged"]) == (300, 0, 300)

    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as fh:
        for i in range(300):
            fh.write(
                json.dumps(
                    {"body": t["body"][i], "user": t["user"][i], "date": t["date"][i], "likes": int(t["likes"][i])},
                    ensure_ascii=False,
                )
                + "\n"
            )
        fh.write("{not json\n[1, 2]\n")
    res_j, ing_j = _import(settings, store, [tmp_path / "a.jsonl.gz"], mapping=mapping)
    assert (res_j.items, res_j.counts["malformed"]) == (300, 2)
    assert res_j.errors[0].startswith("a.jsonl.gz:line 301: bad JSON (unexpected character")
    assert res_j.errors[1:] == ["a.jsonl.gz:line 302: a JSON list, not an object"]
    assert (ing_j["documents_new"], ing_j["documents_unchanged"]) == (0, 300)
    assert _count(store) == 300


def test_an_edited_row_updates_its_document(settings, store, tmp_path):
    t = review_table(50)
    _import(settings, store, [write_csv(tmp_path / "v1.csv", t)])
    t["body"][3] = "Посылкин вернул деньги за потерянную посылку"
    t["body"][4] = "Совсем другой текст без бренда"
    _, ing = _import(settings, store, [write_csv(tmp_path / "v2.csv", t)])  # renamed file: ids come from the rows
    assert (ing["documents_new"], ing["documents_updated"], ing["documents_unchanged"]) == (0, 2, 48)
    assert ing["mentions_removed"] == 0 and _count(store) == 50
    df = store.query("SELECT text FROM documents WHERE post_id = 'T-3'")
    assert df["text"][0] == "Посылкин вернул деньги за потерянную посылку"


def test_a_file_without_a_mapped_column_is_refused_whole(settings, store, tmp_path):
    good = write_csv(tmp_path / "good.csv", review_table(5))
    bad = tmp_path / "other.csv"
    bad.write_text("id,comment\n1,Посылкин\n", encoding="utf-8")
    res, ing = _import(settings, store, [bad, good])
    assert res.file_errors == [
        "other.csv: no column 'ticket', 'body', 'user', 'date', 'likes' (the map names it); columns: id, comment"
    ]
    assert (res.files, res.items, res.status) == (1, 5, "partial")
    assert ing["documents_new"] == 5


def test_cli_import(settings, tmp_path, monkeypatch):
    from brandmon.cli import app

    csv = write_csv(tmp_path / "t.csv", review_table(20, bad_every=10))
    args = ["--data-dir", str(settings.data_dir), "import", str(csv), "--source", "tickets", "--map", MAP]
    monkeypatch.setenv("BRANDMON_BRANDS_FILE", str(settings.brands_file))
    monkeypatch.setenv("BRANDMON_SOURCES_FILE", str(settings.sources_file))
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert (out["import"]["items"], out["import"]["bad_rows"], out["ingest"]["documents_new"]) == (18, 2, 18)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "rows imported" in r.stdout and "t.csv:row 10: text (body): empty" in r.stdout
    r = CliRunner().invoke(app, [*args[:-1], "text=body,mood=x"])
    assert r.exit_code == 2 and "--map: unknown field 'mood'" in r.stderr


# ------------------------------------------------------------------------------------------ the files source


def _files_source(tmp_path, settings, folder: Path, settle: float = 0):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        "  - name: drop\n"
        "    kind: files\n"
        "    options:\n"
        f"      folder: '{folder}'\n"
        "      pattern: '*.csv'\n"
        f"      settle_seconds: {settle}\n"
        f"      map: {{id: ticket, text: body, author: user, posted_at: date}}\n",
        encoding="utf-8",
    )
    return settings.model_copy(update={"sources_file": sources})


def test_files_source_through_the_flow(settings, tmp_path):
    """Files dropped into a files source's folder are read by the monitor's crawl stage and stored by its ingest
    stage; an unchanged file is never read again, a changed one is."""
    from flows.stages import monitor_body, run_stage

    folder = tmp_path / "drop"
    folder.mkdir()
    s = _files_source(tmp_path, settings, folder)
    store = Store.from_settings(s)
    write_csv(folder / "a.csv", review_table(40))
    (folder / "b.csv.part").write_text("still being copied", encoding="utf-8")

    first = monitor_body(s, store, stages=["crawl", "ingest"])
    assert first["status"] == "ok", first["errors"]
    crawl = first["sources"]["drop"]["counts"]
    assert (crawl["files"], crawl["items"], crawl["status"]) == (1, 40, "ok")
    assert first["stages"]["ingest"]["counts"]["documents_new"] == 40
    assert store.query("SELECT kind, base_url FROM sources WHERE source_id = 'drop'").iloc[0].tolist() == [
        "files",
        str(folder),
    ]

    again = run_stage("crawl", s, store, sources=["drop"])["sources"]["drop"]
    assert (again["run_id"], again["items"], again["unchanged_files"]) == (None, 0, 1)

    t = review_table(40)
    t["body"][0] = "Посылкин: правка"
    write_csv(folder / "a.csv", t)
    c = review_table(10, seed=8)
    write_csv(folder / "c.csv", {**c, "ticket": [f"C-{i}" for i in range(10)]})
    second = monitor_body(s, store, stages=["crawl", "ingest"])
    assert second["sources"]["drop"]["counts"]["files"] == 2
    ing = second["stages"]["ingest"]["counts"]
    assert (ing["documents_new"], ing["documents_updated"], ing["documents_unchanged"]) == (10, 1, 39)
    assert _count(store) == 50
    runs = store.query("SELECT status, ingested_at IS NOT NULL AS done FROM crawl_runs WHERE source_id = 'drop'")
    assert len(runs) == 2 and runs["done"].all()


def test_files_source_waits_for_a_file_to_settle(tmp_path):
    from pipeline.importing import folder_files

    (tmp_path / "new.csv").write_text("x", encoding="utf-8")
    (tmp_path / "old.csv").write_text("x", encoding="utf-8")
    (tmp_path / ".hidden.csv").write_text("x", encoding="utf-8")
    past = time.time() - 60
    os.utime(tmp_path / "old.csv", (past, past))
    assert [p.name for p in folder_files(tmp_path, "*.csv", 5)] == ["old.csv"]
    assert [p.name for p in folder_files(tmp_path, "*.csv", 0)] == ["old.csv", "new.csv"]


@pytest.mark.parametrize(
    "entry, message",
    [
        ("    options: {map: {text: body}}\n", "a files source needs options.folder"),
        ("    options: {folder: /tmp/x, map: {author: user}}\n", "options.map: the text field needs a column"),
        ("    options: {folder: /tmp/x, map: {text: body, mood: m}}\n", "options.map: unknown field 'mood'"),
    ],
)
def test_files_source_config_errors(tmp_path, entry, message):
    f = tmp_path / "sources.yaml"
    f.write_text("sources:\n  - name: drop\n    kind: files\n" + entry, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_sources(f)
    assert str(e.value).startswith(f"{f}: sources[0]: ") and message in str(e.value)
    assert "\n" not in str(e.value)


def test_other_sources_still_need_start_urls(tmp_path):
    f = tmp_path / "sources.yaml"
    f.write_text("sources:\n  - name: f\n    kind: feed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="start_urls: at least one start URL is needed"):
        load_sources(f)
