"""Secrets stay secret: the dashboard password never reaches Prefect's database, logs, deployments, job files,
reprs or error messages.

The end-to-end check is the hardening probe's: `brandmon run` (crawl of a local site, then alerts) in its own
process with BRANDMON_DASHBOARD__PASSWORD set to a unique marker and Prefect's own temporary server keeping state in
a private PREFECT_HOME; then Prefect's SQLite database is read (flow_run.parameters, the log table) and every file
the run left behind is searched for the marker's bytes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.config import ConfigError, Settings, dump_without_secrets, load_settings

ROOT = Path(__file__).resolve().parents[2]
PAGE = (
    "<html><head><title>Отзывы</title></head><body><article><p>Посылкин опять потерял мою посылку, "
    "третью неделю жду ответа от поддержки.</p></article></body></html>"
).encode()


@pytest.fixture
def marker() -> str:
    return f"pw-{uuid.uuid4().hex}"


@pytest.fixture
def secret_env(monkeypatch, marker):
    monkeypatch.setenv("BRANDMON_DASHBOARD__PASSWORD", marker)
    return marker


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = PAGE if self.path == "/" else b"not here"
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


# a whole `brandmon run` under Prefect; the deployment and settings tests below check the secret fast
@pytest.mark.slow
def test_brandmon_run_leaves_the_password_in_no_prefect_parameter_log_or_file(tmp_path, site, marker):
    data, home = tmp_path / "data", tmp_path / "prefect"
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"sources:\n  - name: probe\n    kind: generic\n    local: true\n    start_urls: ['{site}/']\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BRANDMON_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        BRANDMON_DASHBOARD__PASSWORD=marker,
        BRANDMON_SOURCES_FILE=str(sources),
        BRANDMON_BRANDS_FILE=str(ROOT / "data" / "brands.yaml"),
        BRANDMON_MODELS__CACHE_DIR=os.environ["BRANDMON_MODELS__CACHE_DIR"],
    )
    res = subprocess.run(
        [sys.executable, "-m", "brandmon.cli", "--data-dir", str(data), "run", "--stages", "crawl,alerts", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    summary = json.loads(res.stdout[res.stdout.index("{") :])
    assert summary["status"] == "ok" and summary["sources"]["probe"]["counts"]["items"] >= 1, summary
    assert marker not in res.stdout + res.stderr

    db = home / "prefect.db"
    with sqlite3.connect(db) as con:
        params = [json.loads(p) for (p,) in con.execute("SELECT parameters FROM flow_run")]
        logs = [m for (m,) in con.execute("SELECT message FROM log")]
    assert len(params) == 1 and params[0]["settings"]["data_dir"] == str(data)  # the run Prefect recorded
    assert "password" not in params[0]["settings"]["dashboard"]
    assert marker not in json.dumps(params)
    assert any("alerts" in m for m in logs), logs  # the flow's own log lines reached Prefect's database
    assert not [m for m in logs if marker in m]
    # Prefect's database (with its WAL), the crawl's job files, raw runs, the DuckDB file: no copy anywhere
    assert list((data / "raw").rglob("job-*.json")), "the crawl wrote no job file"
    assert _files_holding(tmp_path, marker.encode()) == []


def test_deployments_carry_no_secret(secret_env):
    from flows.deploy import build_deployments

    s = load_settings()
    assert s.dashboard.password.get_secret_value() == secret_env
    deps = build_deployments(s, sources=["demo-xf"])
    assert {d.name for d in deps} == {"monitor", "themes", "alerts", "rescore"}
    for d in deps:
        assert d.parameters["settings"]["data_dir"] == str(s.data_dir)
        assert "password" not in d.parameters["settings"]["dashboard"]
        assert secret_env not in json.dumps(d.parameters) and secret_env not in repr(d)


def test_flow_settings_get_the_secret_back_from_the_environment(secret_env):
    from flows.monitor import settings_from

    params = json.loads(json.dumps(dump_without_secrets(load_settings(data_dir="elsewhere"))))
    rebuilt = settings_from(params)
    assert rebuilt.data_dir == Path("elsewhere")
    assert rebuilt.dashboard.password.get_secret_value() == secret_env


def test_settings_repr_and_dumps_mask_the_password(secret_env):
    s = load_settings()
    for shown in (repr(s), str(s), repr(s.dashboard), s.model_dump_json(), json.dumps(dump_without_secrets(s))):
        assert secret_env not in shown
    assert s.model_dump(mode="json")["dashboard"]["password"] == "**********"


def test_config_errors_do_not_quote_the_password(monkeypatch, secret_env, tmp_path):
    monkeypatch.setenv("BRANDMON_DASHBOARD__PORT", "not-a-port")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "dashboard.port" in str(e.value) and secret_env not in str(e.value)
    monkeypatch.delenv("BRANDMON_DASHBOARD__PORT")
    monkeypatch.delenv("BRANDMON_DASHBOARD__PASSWORD")
    for body in (
        f'[dashboard]\npassword = "{secret_env}"\nport = "x"\n',  # a bad value beside it
        f"[dashboard]\npassword = {secret_env}\n",  # the secret itself is bad TOML
        f'[dashboard]\npassword = ["{secret_env}"]\n',
    ):  # the secret has the wrong type
        toml = tmp_path / "brandmon.toml"
        toml.write_text(body)
        with pytest.raises(ConfigError) as e:
            load_settings(toml)
        assert secret_env not in str(e.value), body
    with pytest.raises(Exception) as e:  # pydantic's own message, for code that builds Settings directly
        Settings(dashboard={"password": secret_env, "port": "x"})
    assert secret_env not in str(e.value)
