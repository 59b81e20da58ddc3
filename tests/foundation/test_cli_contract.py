"""The contract every `brandmon` command keeps: --format table|csv|json on listings, one-line errors with the
documented exit codes (2 usage/config, 3 database), --version, shell completion, readable tables."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brandmon.cli import app

ROOT = Path(__file__).resolve().parents[2]

runner = CliRunner()

# Every command that lists rows or prints a result a script may want to read.
LISTINGS = [
    ["sql", "SELECT 1"],
    ["queue"],
    ["themes"],
    ["models", "list"],
    ["crawl", "--all"],
    ["sources"],
    ["sources", "probe", "http://example.org/"],
    ["run"],
    ["kpis"],
    ["alerts"],
    ["advocates"],
    ["db", "status"],
    ["notify", "status"],
]


def _words(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith(("SELECT", "http", "--all"))]


def _complete(words: str) -> list[str]:
    """What bash completion offers after `words` (the last word is the one being completed)."""
    env = {"_BRANDMON_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    res = runner.invoke(app, [], env=env, prog_name="brandmon")
    assert res.exit_code == 0, res.output
    return res.stdout.split()


@pytest.mark.parametrize("args", LISTINGS, ids=lambda a: " ".join(_words(a)))
def test_every_listing_takes_the_same_format_option(args):
    words = " ".join(["brandmon", *_words(args)])
    assert "--format" in _complete(words + " --"), f"{words} has no --format"
    assert _complete(words + " --format ") == ["table", "csv", "json"]
    assert _complete(words + " -f ") == ["table", "csv", "json"]


@pytest.mark.parametrize("args", LISTINGS, ids=lambda a: " ".join(_words(a)))
def test_a_bad_format_is_a_one_line_usage_error(tmp_path, args):
    res = runner.invoke(app, ["--data-dir", str(tmp_path), *args, "--format", "xml"])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: Invalid value for '--format'")
    assert "'table', 'csv', 'json'" in lines[0] and "--help" in lines[0]
    assert "Traceback" not in res.output


def test_other_bad_values_and_unknown_commands_are_one_line_too(tmp_path):
    for args in (["sql", "SELECT 1", "--limit", "many"], ["no-such-command"], ["queue", "--no-such-option"]):
        res = runner.invoke(app, ["--data-dir", str(tmp_path), *args])
        assert res.exit_code == 2, (args, res.output)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_json_is_a_hidden_alias_of_format_json(tmp_path):
    base = ["--data-dir", str(tmp_path)]
    env = {"BRANDMON_SOURCES_FILE": str(ROOT / "data" / "sources.yaml")}
    assert runner.invoke(app, [*base, "db", "upgrade"]).exit_code == 0
    for args in (["kpis", "--since", "2026-01-01", "--until", "2026-02-01"], ["db", "status"], ["sources"]):
        old, new = (runner.invoke(app, [*base, *args, *fmt], env=env) for fmt in (["--json"], ["--format", "json"]))
        assert old.exit_code == new.exit_code == 0, old.output + new.output
        same = [re.sub(r"\d\d:\d\d\.\d+", "", r.stdout) for r in (old, new)]  # kpis says when it ran
        assert same[0] == same[1] and old.stdout.strip()
        assert "--json" not in runner.invoke(app, [*base, *args, "--help"]).stdout
    assert json.loads(runner.invoke(app, [*base, "kpis", "--json"]).stdout)["summary"]["received"] == 0


def test_csv_and_json_of_a_listing(tmp_path):
    base = ["--data-dir", str(tmp_path)]
    runner.invoke(app, [*base, "db", "upgrade"])
    res = runner.invoke(app, [*base, "db", "status", "--format", "csv"])
    assert res.exit_code == 0 and res.stdout.splitlines()[0] == "table,rows"
    assert "documents,0" in res.stdout.splitlines()
    res = runner.invoke(app, [*base, "alerts", "--format", "csv"])  # an empty listing: the header only
    assert res.exit_code == 0 and res.stdout.splitlines()[0].startswith("alert_id,kind,brand_id")
    assert runner.invoke(app, [*base, "alerts", "-f", "json"]).stdout == ""


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.stdout.strip() == f"brandmon {version('brandmon')}"


def test_shell_completion_completes_commands_and_format_values():
    assert _complete("brandmon que") == ["queue"]
    assert _complete("brandmon queue --format ") == ["table", "csv", "json"]
    assert set(_complete("brandmon models ")) >= {"list", "activate"}
    # the script a user installs, from the console script in a fresh process (as `--install-completion` runs it)
    exe = Path(sys.executable).with_name("brandmon")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_BRANDMON", "COMP_"))}
    # typer detects the calling shell and ignores the name given; under make (sh) it refuses "sh". Its own switch
    # for tests turns detection off, so the script for the shell asked for is printed
    env["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"
    script = subprocess.run(
        [str(exe), "--show-completion", "bash"], capture_output=True, text=True, timeout=120, env=env
    )
    assert script.returncode == 0 and "_brandmon_completion" in script.stdout, script.stderr[-2000:]


def test_a_locked_database_is_exit_3_with_one_line(tmp_path):
    """Another process holds the file read-write past lock_timeout_seconds: `sql` (and every reader) gives up
    with one line and exit code 3, whichever way the CLI is run."""
    base = ["--data-dir", str(tmp_path)]
    assert runner.invoke(app, [*base, "db", "upgrade"]).exit_code == 0
    # no read snapshot yet, so readers open the live file (with one they do not wait at all: tests/store)
    (tmp_path / "brandmon.read.duckdb").unlink()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(tmp_path / "brandmon.duckdb")!r})
            print("held", flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        env = {"BRANDMON_LOCK_TIMEOUT_SECONDS": "1", "BRANDMON_INGEST__HOLD_LOCK_SECONDS": "0.5"}
        for args in (["sql", "SELECT 1"], ["queue"], ["db", "status"]):
            res = runner.invoke(app, [*base, *args], env=env)
            assert res.exit_code == 3, (args, res.output)
            lines = res.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("database error:") and "locked" in lines[0], res.stderr
    finally:
        holder.communicate("", timeout=30)
    assert runner.invoke(app, [*base, "sql", "SELECT 1"]).exit_code == 0  # free again


def test_a_config_error_is_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "brandmon.toml"
    bad.write_text("lock_timeout_seconds = 'soon'\n", encoding="utf-8")
    res = runner.invoke(app, ["--config", str(bad), "--data-dir", str(tmp_path), "db", "status"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error:") and "lock_timeout_seconds" in lines[0]


def test_tables_show_times_to_the_second_and_rounded_floats(tmp_path):
    base = ["--data-dir", str(tmp_path)]
    runner.invoke(app, [*base, "db", "upgrade"])
    query = (
        "SELECT 56.96626581529776::DOUBLE AS hours, 0.0012345::DOUBLE AS small, 3.0::DOUBLE AS whole, "
        "TIMESTAMPTZ '2026-03-01 09:00:05.123456+00' AS at, NULL::DOUBLE AS missing"
    )
    res = runner.invoke(app, [*base, "sql", query], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    row = [c.strip() for c in res.stdout.splitlines()[3].split("│")[1:-1]]
    assert row[0] == "56.97" and row[1] == "0.0012" and row[2] == "3" and row[4] == ""
    assert re.fullmatch(r"2026-03-01 \d\d:00:05([+-]\d\d:\d\d)?", row[3]), row[3]
    # scripts still get every digit
    res = runner.invoke(app, [*base, "sql", query, "--format", "json"])
    assert json.loads(res.stdout)["hours"] == 56.96626581529776


def test_themes_table_lists_keywords_as_words(tmp_path):
    import duckdb

    base = ["--data-dir", str(tmp_path)]
    runner.invoke(app, [*base, "db", "upgrade"])
    with duckdb.connect(str(tmp_path / "brandmon.duckdb")) as con:
        con.execute(
            "INSERT INTO themes (theme_id, brand_id, label, keywords_json, size, prev_size, status, "
            "first_seen, last_seen) VALUES ('th1', 'posylkin', 'Задержки', ?, 5, 3, 'growing', "
            "TIMESTAMPTZ '2026-03-01 09:00:05.5+00', TIMESTAMPTZ '2026-03-02 10:11:12.75+00')",
            [json.dumps(["задержка", "посылка", "трек"], ensure_ascii=False)],
        )
    res = runner.invoke(app, [*base, "themes"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "задержка, посылка, трек" in res.stdout and '["' not in res.stdout
    assert ".5" not in res.stdout and ".75" not in res.stdout
    res = runner.invoke(app, [*base, "themes", "--format", "json"])  # scripts keep the stored JSON array
    assert json.loads(json.loads(res.stdout)[0]["keywords"]) == ["задержка", "посылка", "трек"]


def _commands(cmd, path=()):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_texts_keep_their_bracketed_words():
    """Rich reads `[workers]` in a help text as markup and drops it ("0: as  says")."""
    import typer

    bad = []
    for path, cmd in _commands(typer.main.get_command(app)):
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        bad += [(" ".join(path), t) for t in texts if re.search(r"(?<!\\)\[[a-z_.]+\]", t)]
    assert not bad, bad
    out = runner.invoke(app, ["rescore", "--help"], env={"COLUMNS": "200"}).stdout
    assert "0: as the workers settings say" in out, out
