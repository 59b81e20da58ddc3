"""`brandmon sql` reads the database and nothing else: hostile statements are refused or fail, and write nothing.

Every statement of the hardening probe (COPY TO, EXPORT DATABASE, read_csv/read_text/glob of local files, ATTACH
READ_WRITE + DROP, SET enable_external_access, INSTALL/LOAD) runs through the real CLI against a real DuckDB file;
after each, the folder holding the database, a file to steal, a second database and DuckDB's home directory is
byte-for-byte as before, no request reached a local extension repository, and the tables are all still there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from brandmon.cli import app
from pipeline.sql_sandbox import SqlRefused, read_statements
from pipeline.store import Store, utcnow

ROOT = Path(__file__).resolve().parents[2]
STOLEN = "steal-me-7f3a91"  # content of a local file no query may read
runner = CliRunner()


class _Repository(BaseHTTPRequestHandler):
    """An extension repository on 127.0.0.1 that records every request (INSTALL ... FROM it must never call)."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def repository():
    _Repository.seen = []
    srv = HTTPServer(("127.0.0.1", 0), _Repository)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", _Repository.seen
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A data folder with two sources, a file with a secret, a second database, and DuckDB's home inside tmp_path."""
    data = tmp_path / "data"
    store = Store(data / "brandmon.duckdb")
    store.upgrade()
    now = utcnow()
    store.upsert(
        "sources",
        [
            {
                "source_id": s,
                "kind": k,
                "name": s,
                "base_url": f"https://{s}.example/",
                "enabled": True,
                "updated_at": now,
            }
            for s, k in (("alpha", "forum"), ("beta", "reviews"))
        ],
        key=["source_id"],
    )
    Store(data / "brandmon.duckdb", snapshots=True).catch_up()  # the read snapshot `brandmon sql` reads
    (tmp_path / "secret.txt").write_text(f"token={STOLEN}\n")
    with duckdb.connect(str(tmp_path / "other.duckdb")) as con:
        con.execute("CREATE TABLE keep AS SELECT 1 AS a")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # where INSTALL would put extensions
    return tmp_path


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def _sql(root: Path, query: str, *opts: str):
    return runner.invoke(app, ["--data-dir", str(root / "data"), "sql", query, *opts])


HOSTILE = [
    "COPY sources TO '{root}/copy.csv'",
    "COPY (SELECT * FROM sources) TO '{root}/copy.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{root}/export'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv('{root}/secret.txt')",
    "SELECT content FROM read_text('{root}/secret.txt')",
    "SELECT * FROM read_blob('{root}/secret.txt')",
    "SELECT * FROM glob('{root}/*')",
    "SELECT * FROM glob('/root/*')",
    "SELECT * FROM '{root}/secret.txt'",
    "ATTACH '{root}/other.duckdb' AS other (READ_WRITE); DROP TABLE other.keep",
    "ATTACH '{root}/other.duckdb' AS other",
    "SET enable_external_access = true; SELECT content FROM read_text('{root}/secret.txt')",
    "SET enable_external_access = false",
    "RESET enable_external_access",
    "SET lock_configuration = false",
    "SET home_directory = '{root}'",
    "INSTALL httpfs FROM '{repo}'",
    "FORCE INSTALL httpfs FROM '{repo}'",
    "LOAD httpfs",
    "LOAD '{root}/secret.txt'",
    "DROP TABLE sources",
    "SELECT 1; DROP TABLE sources",
    "DELETE FROM sources",
    "WITH gone AS (SELECT 'alpha' AS id) DELETE FROM sources WHERE source_id IN (SELECT id FROM gone)",
    "CREATE TABLE copied AS SELECT * FROM sources",
    "EXPLAIN ANALYZE COPY sources TO '{root}/explained.csv'",
    "CHECKPOINT",
    "PRAGMA enable_profiling",
    "CALL pragma_table_info('sources')",
    "DETACH brandmon",
    "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_statement_is_refused_and_writes_nothing(sandbox, repository, template):
    repo, seen = repository
    query = template.format(root=sandbox, repo=repo)
    before = _tree(sandbox)
    res = _sql(sandbox, query, "--format", "csv")
    assert res.exit_code == 2, (query, res.output)
    assert res.stdout == ""  # nothing but the error
    assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr
    assert STOLEN not in res.output and "root:x:0:0" not in res.output
    assert _tree(sandbox) == before  # no file or folder written anywhere in the sandbox (DuckDB's home included)
    assert seen == []  # no download attempted
    assert Store(sandbox / "data" / "brandmon.duckdb").query("SELECT count(*) FROM sources").iloc[0, 0] == 2
    with duckdb.connect(str(sandbox / "other.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM keep").fetchone() == (1,)


@pytest.mark.parametrize(
    "query, kind",
    [
        ("COPY sources TO 'x.csv'", "COPY"),
        ("EXPORT DATABASE 'x'", "EXPORT"),
        ("ATTACH 'x.duckdb' (READ_WRITE)", "ATTACH"),
        ("SET enable_external_access = true", "SET"),
        ("INSTALL httpfs", "LOAD"),
        ("SELECT 1;\n  DROP TABLE sources", "DROP"),
        ("EXPLAIN ANALYZE COPY sources TO 'x.csv'", "COPY"),
        ("/* кириллица */ EXPLAIN (FORMAT json) DELETE FROM sources", "DELETE"),
    ],
)
def test_refusal_names_the_statement_in_one_line(query, kind):
    with pytest.raises(SqlRefused) as e:
        read_statements(query)
    msg = str(e.value)
    assert msg.startswith(f"refused {kind} statement `") and "\n" not in msg and "export" in msg


def test_analysts_reads_still_work(sandbox):
    def csv(query: str) -> list[str]:
        res = _sql(sandbox, query, "--format", "csv")
        assert res.exit_code == 0, (query, res.output)
        return res.stdout.splitlines()

    assert csv("SELECT kind, count(*) AS n FROM sources GROUP BY kind ORDER BY kind") == [
        "kind,n",
        "forum,1",
        "reviews,1",
    ]
    assert csv("WITH f AS (SELECT name FROM sources WHERE kind = 'forum') SELECT name FROM f") == ["name", "alpha"]
    assert csv("FROM sources SELECT name ORDER BY name") == ["name", "alpha", "beta"]
    assert csv("VALUES (1, 'a'), (2, 'b')") == ["col0,col1", "1,a", "2,b"]
    described = csv("DESCRIBE sources")
    assert described[0].startswith("column_name,column_type") and any(
        r.startswith("source_id,VARCHAR") for r in described
    )
    summary = csv("SUMMARIZE sources")
    assert len(summary) - 1 == len(described) - 1  # one summary row per column
    assert "documents" in csv("SHOW TABLES")
    assert csv("SELECT 1 AS a; SELECT count(*) AS n FROM sources") == ["n", "2"]  # the last statement's rows
    assert csv("EXPLAIN SELECT * FROM sources")[0] == "explain_key,explain_value"
    assert csv("/* двое */ EXPLAIN ANALYZE SELECT count(*) FROM sources")[0] == "explain_key,explain_value"
    assert csv("SELECT count(*) AS n FROM pragma_table_info('sources')") != ["n", "0"]


def test_syntax_error_is_one_line_exit_2(sandbox):
    res = _sql(sandbox, "SELEC 1")
    assert res.exit_code == 2 and res.stderr.startswith("error: Parser Error") and "Traceback" not in res.stderr
    res = _sql(sandbox, "  ;  ")
    assert res.exit_code == 2 and "no SQL statement" in res.stderr


_HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN; INSERT INTO sources (source_id, kind, name, base_url, enabled) VALUES ('gamma', 'feed', 'gamma', 'x', true)")
print("holding", flush=True)
sys.stdin.readline()  # until the test says so
con.execute("COMMIT")
con.close()
"""


def _writer(db: Path) -> subprocess.Popen:
    """Another process holding the database file in a write transaction until its stdin gets a line."""
    p = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert p.stdout.readline().strip() == "holding"
    return p


def _release(p: subprocess.Popen) -> None:
    p.stdin.write("\n")
    p.stdin.close()
    assert p.wait(60) == 0


def test_a_query_during_a_writer_reads_the_snapshot_then_the_commit(sandbox):
    """While another process writes, the sandbox reads the published snapshot at once (the committed state before
    the writer); once the writer has committed and let go, the next query sees its row."""
    writer = _writer(sandbox / "data" / "brandmon.duckdb")
    try:
        during = _sql(sandbox, "SELECT count(*) AS n FROM sources", "-f", "csv")
    finally:
        _release(writer)
    assert during.exit_code == 0, during.output
    assert during.stdout.splitlines() == ["n", "2"]  # did not wait for the lock
    after = _sql(sandbox, "SELECT count(*) AS n FROM sources", "-f", "csv")
    assert after.exit_code == 0, after.output
    assert after.stdout.splitlines() == ["n", "3"]  # the writer's committed row is there


def test_a_query_gives_up_on_a_long_writer_with_exit_3_as_before(sandbox):
    """With no snapshot yet it reads the live file: after the lock timeout, exit 3 (database error) with a one-line
    reason, no DuckDB traceback."""
    (sandbox / "data" / "brandmon.read.duckdb").unlink()
    writer = _writer(sandbox / "data" / "brandmon.duckdb")
    env = dict(os.environ, BRANDMON_LOCK_TIMEOUT_SECONDS="1", BRANDMON_INGEST__HOLD_LOCK_SECONDS="0.5")
    try:
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "brandmon.cli",
                "--data-dir",
                str(sandbox / "data"),
                "sql",
                "SELECT count(*) FROM sources",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        _release(writer)
    assert res.returncode == 3, res.stderr
    assert "database is locked by another process" in " ".join(res.stderr.split()) and "Traceback" not in res.stderr
