"""Hostile configuration through the real CLI: `brandmon config check` refuses, with exit code 2 and one line that
names the file and the problem, everything ingest or crawl would later stop on (or be hurt by), and never prints a
traceback. Each case was accepted or crashed before the config files got their guards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD_BRANDS = "brands:\n  - id: acme\n    name: Acme\n    aliases: [Acme, Акме]\n"


def source(
    name: str = "forum-a",
    extra: str = "",
    kind: str = "forum",
    engine: str | None = "phpbb",
    urls: str = '["http://127.0.0.1:9/forum/"]',
) -> str:
    lines = ["sources:", f"  - name: {name}", f"    kind: {kind}", f"    start_urls: {urls}", "    local: true"]
    if engine:
        lines.append(f"    engine: {engine}")
    return "\n".join(lines) + "\n" + extra


def billion_laughs() -> str:
    """Nine levels of ten aliases: 10^9 strings when expanded, a few hundred bytes as written."""
    lines = ["    options:", '      l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*l{i - 1}"] * 10)
        lines.append(f"      l{i}: &l{i} [{refs}]")
    return source(kind="generic", engine=None, extra="\n".join(lines) + "\n")


def run_check(
    tmp_path: Path,
    brands: str = GOOD_BRANDS,
    sources: str | None = None,
    timeout: float = 120,
    settings_toml: str | None = None,
    **env_extra: str,
):
    bf, sf = tmp_path / "brands.yaml", tmp_path / "sources.yaml"
    bf.write_text(brands, encoding="utf-8")
    sf.write_text(sources if sources is not None else source(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANDMON_")}
    env.update(BRANDMON_BRANDS_FILE=str(bf), BRANDMON_SOURCES_FILE=str(sf), COLUMNS="80", **env_extra)
    exe = Path(sys.executable).with_name("brandmon")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "brandmon.cli"]
    if settings_toml is not None:
        (tmp_path / "brandmon.toml").write_text(settings_toml, encoding="utf-8")
        cmd += ["--config", str(tmp_path / "brandmon.toml")]
    res = subprocess.run(
        cmd + ["--data-dir", str(tmp_path / "data"), "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=timeout,
    )
    return res, bf, sf


def assert_refused(res, file: Path, *expected: str) -> str:
    """Exit 2, no traceback, and exactly one output line names `file` and says every `expected` part."""
    out = res.stdout + res.stderr
    assert res.returncode == 2, out[-2000:]
    assert "Traceback" not in out and "RecursionError" not in out, out[-2000:]
    lines = [ln for ln in out.splitlines() if str(file) in ln]
    assert len(lines) == 1, out[-2000:]
    for part in expected:
        assert part in lines[0], lines[0]
    assert len(lines[0]) < 400, lines[0]  # one readable line, not the offending text echoed back
    return lines[0]


def test_good_files_pass(tmp_path):
    about = '    about:\n      acme: ["http://127.0.0.1:9/forum/acme/"]\n'
    res, _, _ = run_check(tmp_path, sources=source(extra=about + "    timezone: Asia/Yekaterinburg\n"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "brands: 1 ok" in res.stdout and "sources: 1 ok" in res.stdout


SOURCE_CASES = {
    "billion laughs": (billion_laughs(), ["aliases expand", "limit"]),
    "deep yaml nesting": (
        source(kind="generic", engine=None, extra="    options:\n      x: " + "[" * 20000 + "]" * 20000 + "\n"),
        ["nested deeper than"],
    ),
    "negative max_pages": (source(extra="    max_pages: -5\n"), ["sources[0].max_pages", "greater than or equal to 0"]),
    "negative download_delay": (
        source(extra="    download_delay: -0.5\n"),
        ["sources[0].download_delay", "greater than or equal to 0"],
    ),
    "unknown timezone": (
        source(extra="    timezone: Mars/Olympus\n"),
        ["sources[0].timezone", "'Mars/Olympus' is not a known time zone"],
    ),
    "unknown engine": (source(engine="fooboard"), ["forum-a", "engine 'fooboard'", "phpbb"]),
    "url without host": (source(urls='["http://"]'), ["sources[0].start_urls", "'http://' has no host"]),
    "about unknown brand": (source(extra="    about:\n      nobody: []\n"), ["forum-a", "about", "'nobody'", "acme"]),
    "duplicate key": (source(extra="    max_pages: 10\n    max_pages: 20\n"), ["duplicate key 'max_pages'", "line 8"]),
    "name ..": (source(name="'..'"), ["sources[0].name", "'..'"]),
    "name .hidden": (source(name=".hidden"), ["sources[0].name", "'.hidden'"]),
    "name a/b": (source(name="a/b"), ["sources[0].name", "'a/b'"]),
}


# one CLI process per case: these four stay in the fast tier (a YAML bomb, deep nesting, a duplicate key, a path
# name), the others run with the slow tier
FAST_SOURCE_CASES = {"billion laughs", "deep yaml nesting", "duplicate key", "name .."}


@pytest.mark.parametrize(
    "case", [c if c in FAST_SOURCE_CASES else pytest.param(c, marks=pytest.mark.slow) for c in sorted(SOURCE_CASES)]
)
def test_hostile_sources_refused(tmp_path, case):
    text, expected = SOURCE_CASES[case]
    res, _, sf = run_check(tmp_path, sources=text)
    line = assert_refused(res, sf, *expected)
    assert line.startswith(str(sf) + ":"), line


BRAND_CASES = {
    "broken query": (
        GOOD_BRANDS + "  - id: widgets\n    name: Widgets\n    query: '(widget OR gadget'\n",
        ["brands[1].query", "brand 'widgets'", "missing ')'"],
    ),
    "nested query": (
        GOOD_BRANDS + "  - id: deep\n    name: Deep\n    query: '" + "(" * 20000 + "deep" + ")" * 20000 + "'\n",
        ["brand 'deep'", "nested deeper than"],
    ),
    "duplicate key": (
        "brands:\n  - id: acme\n    name: Acme\n    aliases: [Acme]\n    name: Other\n",
        ["duplicate key 'name'", "line 5"],
    ),
}


@pytest.mark.parametrize("case", sorted(BRAND_CASES))
def test_hostile_brands_refused(tmp_path, case):
    text, expected = BRAND_CASES[case]
    res, bf, _ = run_check(tmp_path, brands=text)
    assert_refused(res, bf, *expected)


def test_huge_brands_file_refused_by_size(tmp_path):
    """29 MB of valid-looking brands is refused by its size before any of it is parsed (it took minutes)."""
    alias = "    - " + "Акме" * 5 + "\n"
    n = 29 * 2**20 // len(alias.encode("utf-8"))
    text = "brands:\n  - id: acme\n    name: Acme\n    aliases:\n" + alias * n
    res, bf, _ = run_check(tmp_path, brands=text, timeout=60)
    assert_refused(res, bf, "29.0 MiB", "5 MiB")


def test_negative_crawl_settings_refused(tmp_path):
    """The same limits in the settings file: a negative delay or page budget is refused, in one unwrapped line."""
    res, _, _ = run_check(tmp_path, settings_toml="[crawl]\ndownload_delay = -1.0\n")
    assert_refused(res, tmp_path / "brandmon.toml", "crawl.download_delay", "greater than or equal to 0")
    res, _, _ = run_check(tmp_path, settings_toml="[crawl]\nmax_pages_per_source = -5\n")
    assert_refused(res, tmp_path / "brandmon.toml", "crawl.max_pages_per_source", "greater than or equal to 0")


def test_settings_value_is_not_read_as_markup(tmp_path):
    """A value quoted back in the error is printed as text: '[/x]' once crashed the error printer itself."""
    res, _, _ = run_check(tmp_path, BRANDMON_CRAWL__DEFAULT_TIMEZONE="[/x]")
    out = res.stdout + res.stderr
    assert res.returncode == 2 and "Traceback" not in out, out[-2000:]
    assert out.strip() == (
        "config error: settings: crawl.default_timezone: '[/x]' is not a known time zone "
        "(an IANA name such as Europe/Moscow)"
    )


def test_yaml_limits_keep_ordinary_anchors():
    """The limits refuse hostile shapes only: shared anchors, merge keys and overriding a merged key still load."""
    from pipeline.yaml_load import YamlError, loads

    text = "base: &b {delay: 1, depth: 2}\n" + "".join(f"s{i}: {{<<: *b, depth: {i}}}\n" for i in range(300))
    data = loads(text)
    assert data["s7"] == {"delay": 1, "depth": 7} and len(data) == 301
    with pytest.raises(YamlError, match="an alias refers to its own anchor"):
        loads("a: &a [1, *a]\n")
    with pytest.raises(YamlError, match=r"line 3: duplicate key 'a' \(first at line 1\)"):
        loads("a: 1\nb: 2\na: 3\n")
