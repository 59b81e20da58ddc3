"""`brandmon demo-web` as a real process: serves, answers, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from ..helpers import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_web_command_serves_until_interrupted(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "brandmon.cli", "--data-dir", str(tmp_path), "demo-web", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # the CLI imports every area; slow on a loaded box
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/robots.txt", timeout=2).read()
            except OSError:
                time.sleep(0.2)
        assert body is not None and b"Disallow: /private/" in body
        assert (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/vb/", timeout=5).headers.get_content_charset()
            == "windows-1251"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}" in out and "7 sites" in out and "stopped" in out


def test_demo_web_command_reports_a_busy_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "brandmon.cli", "--data-dir", str(tmp_path), "demo-web", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
