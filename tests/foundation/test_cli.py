"""The CLI: --help lists the commands, db status works on a new file, every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from brandmon.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _commands(group: typer.Typer, prefix: str = "") -> list[str]:
    names = [prefix + (c.name or c.callback.__name__.replace("_", "-")) for c in group.registered_commands]
    for sub in group.registered_groups:
        names += _commands(sub.typer_instance, prefix + sub.name + " ")
    return names


def test_help_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for name in ("db", "sql", "config"):
        assert name in res.output


def test_db_status_on_new_file(tmp_path):
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "db", "status"])
    assert res.exit_code == 0, res.output
    assert "db upgrade" in res.output
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "db", "upgrade"])
    assert res.exit_code == 0 and "applied" in res.output
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "db", "status", "--json"])
    assert '"documents": 0' in res.output


def test_sql_formats_and_read_only(tmp_path):
    runner.invoke(app, ["--data-dir", str(tmp_path), "db", "upgrade"])
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "sql", "SELECT 42 AS answer", "--format", "csv"])
    assert res.exit_code == 0 and res.output.splitlines() == ["answer", "42"]
    res = runner.invoke(app, ["--data-dir", str(tmp_path), "sql", "DROP TABLE documents"])
    assert res.exit_code == 2
    assert runner.invoke(app, ["--data-dir", str(tmp_path), "sql", "SELECT count(*) FROM documents"]).exit_code == 0


def test_db_facts_finds_hand_edits_and_rebuilds(tmp_path):
    from demo.synthetic import make_synthetic_db

    make_synthetic_db(tmp_path / "brandmon.duckdb", 300)
    base = ["--data-dir", str(tmp_path), "db", "facts"]
    assert runner.invoke(app, base).exit_code == 0
    import duckdb

    with duckdb.connect(str(tmp_path / "brandmon.duckdb")) as con:  # a SQL user flags spam by hand
        con.execute("UPDATE documents SET spam = TRUE WHERE doc_id IN (SELECT doc_id FROM documents LIMIT 7)")
    res = runner.invoke(app, base)
    assert res.exit_code == 1 and "7 missing or stale rows, 7 extra" in res.output
    res = runner.invoke(app, base + ["--rebuild"])
    assert res.exit_code == 0 and "rebuilt: 300 rows" in res.output and "in step" in res.output


def test_every_command_is_documented_in_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [c for c in _commands(app) if not re.search(r"brandmon " + re.escape(c) + r"\b", readme)]
    assert not missing, f"commands not mentioned in README.md: {missing}"
