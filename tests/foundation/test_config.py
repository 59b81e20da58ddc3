"""Bad configuration gives one clear line naming file and key, and nothing is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_brands, load_settings, load_sources

ROOT = Path(__file__).resolve().parents[2]

GOOD_BRAND = "brands:\n  - id: acme\n    name: Acme\n    aliases: [Acme, Акме]\n"

BAD_BRANDS = {
    "missing key": ("brands:\n  - id: acme\n    aliases: [Acme]\n", "brands[0].name: required field is missing"),
    "wrong type": ("brands:\n  - id: acme\n    name: Acme\n    aliases: 5\n", "brands[0].aliases"),
    "unknown field": (
        "brands:\n  - id: acme\n    name: Acme\n    aliases: [A]\n    colour: red\n",
        "brands[0].colour: unknown field",
    ),
    "invalid yaml": ("brands:\n  - id: acme\n    name: [Acme\n", "invalid YAML at line"),
    "no aliases": ("brands:\n  - id: acme\n    name: Acme\n", "brands[0]: a brand needs at least one alias"),
    "bad id": ("brands:\n  - id: 'a b'\n    name: A\n    aliases: [A]\n", "brands[0].id: must be a non-empty slug"),
    "duplicate id": (GOOD_BRAND + "  - id: acme\n    name: B\n    aliases: [B]\n", "duplicate brand id 'acme'"),
    "not a mapping": ("- just\n- a list\n", "expected a mapping"),
    "empty": ("", "file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_BRANDS))
def test_bad_brands_file_one_line_error(tmp_path, case):
    text, expected = BAD_BRANDS[case]
    path = tmp_path / "brands.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_brands(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(path) + ":")
    assert expected in msg


BAD_SOURCES = {
    "missing kind": (
        "sources:\n  - name: f\n    start_urls: [http://x/]\n",
        "sources[0].kind: required field is missing",
    ),
    "bad kind": ("sources:\n  - name: f\n    kind: fax\n    start_urls: [http://x/]\n", "sources[0].kind"),
    "file url": (
        "sources:\n  - name: f\n    kind: feed\n    start_urls: ['file:///etc/passwd']\n",
        "sources[0].start_urls: Value error",
    ),
    "forum without engine": (
        "sources:\n  - name: f\n    kind: forum\n    start_urls: [http://x/]\n",
        "a forum source needs `engine`",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SOURCES))
def test_bad_sources_file_one_line_error(tmp_path, case):
    text, expected = BAD_SOURCES[case]
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_sources(path)
    assert "\n" not in str(e.value)
    assert str(e.value).startswith(str(path) + ":")
    assert expected.replace("Value error", "") in str(e.value) or expected in str(e.value)


def test_shipped_configs_are_valid():
    brands = load_brands(ROOT / "data" / "brands.yaml")
    assert {b.id for b in brands} >= {"posylkin", "shopok", "lastochka", "mobiline", "zerno"}
    if (ROOT / "data" / "sources.yaml").exists():
        sources = load_sources(ROOT / "data" / "sources.yaml", "http://127.0.0.1:9")
        assert all(u.startswith("http://127.0.0.1:9") for s in sources for u in s.start_urls)


def test_settings_layering(tmp_path, monkeypatch):
    toml = tmp_path / "b.toml"
    toml.write_text('log_level = "DEBUG"\n[models]\nbatch_size = 7\nthreads = 1\n', encoding="utf-8")
    monkeypatch.setenv("BRANDMON_MODELS__THREADS", "3")
    s = load_settings(toml, data_dir=tmp_path / "d")
    assert (s.log_level, s.models.batch_size, s.models.threads) == ("DEBUG", 7, 3)  # env beats file
    assert s.db_path == tmp_path / "d" / "brandmon.duckdb"
    toml.write_text("[models]\nbatch_size = 'many'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"b\.toml: models\.batch_size: Input should be a valid integer"):
        load_settings(toml)
    with pytest.raises(ConfigError, match="settings file not found"):
        load_settings(tmp_path / "nope.toml")
    # an ingest holding the file longer than a reader waits would lock the dashboard out
    toml.write_text("lock_timeout_seconds = 20\n[ingest]\nhold_lock_seconds = 25\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"ingest\.hold_lock_seconds \(25\) must be shorter than lock_timeout_seconds \(20\)"
    ):
        load_settings(toml)


def test_cli_bad_config_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "brands.yaml"
    bad.write_text("brands:\n  - id: acme\n    aliases: [A]\n", encoding="utf-8")
    data = tmp_path / "data"
    env = {"BRANDMON_BRANDS_FILE": str(bad), "PATH": ""}
    res = subprocess.run(
        [sys.executable, "-m", "brandmon.cli", "--data-dir", str(data), "config", "check"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
        cwd=ROOT,
    )
    assert res.returncode == 2
    assert f"{bad}: brands[0].name: required field is missing" in res.stdout.replace("\n", "")
    assert not data.exists()
