"""The flows' write lock on a team server: a Postgres advisory lock, so writing stages on machines that share the
server (and not a data folder) take turns. Real processes, each with its own data folder, on a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows.locking import WriteLockTimeout, write_lock

ROOT = Path(__file__).resolve().parents[2]

# A holder on "another machine": its own data folder, the same server. It takes the lock as the `ingest` stage,
# says so, waits for a line on stdin, says it is letting go (still inside the lock) and lets go, then waits again.
HOLDER = """
import sys
from flows.locking import write_lock
with write_lock(sys.argv[1], timeout=30, url=sys.argv[2], stage="ingest"):
    print("held", flush=True)
    sys.stdin.readline()
    print("releasing", flush=True)
sys.stdin.readline()
"""


def _holder(data_dir: Path, url: str) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.kill()
    p.wait(10)


def test_writers_with_different_data_folders_take_turns_on_one_server(tmp_path, pg_url):
    p = _holder(tmp_path / "machine-a", pg_url)
    try:
        # held elsewhere: this process (another data folder) waits, then gives up naming the holder
        with pytest.raises(WriteLockTimeout, match=rf"brandmon ingest pid={p.pid}@") as e:
            with write_lock(tmp_path / "machine-b", timeout=0.6, url=pg_url, stage="score"):
                pytest.fail("got the write lock while another process held it")
        assert "advisory write lock" in str(e.value) and "since " in str(e.value)
        assert not (tmp_path / "machine-b" / ".brandmon-write.lock").exists()  # no file lock on a server store

        # the holder lets go while this process waits: it gets the lock, after the holder's last line inside it
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write("go\n")
        p.stdin.flush()
        with write_lock(tmp_path / "machine-b", timeout=20, url=pg_url, stage="score"):
            assert p.stdout.readline().strip() == "releasing"
            # and now it holds it: a third writer is kept out and told who holds it
            with pytest.raises(WriteLockTimeout, match=rf"brandmon score pid={os.getpid()}@"):
                with write_lock(tmp_path / "machine-c", timeout=0.3, url=pg_url, stage="themes"):
                    pass
        with write_lock(tmp_path / "machine-c", timeout=2, url=pg_url):  # released on exit
            pass
    finally:
        _stop(p)


def test_a_holder_killed_by_sigkill_releases_the_server_lock(tmp_path, pg_url):
    p = _holder(tmp_path / "machine-a", pg_url)
    try:
        with pytest.raises(WriteLockTimeout, match=rf"pid={p.pid}@"):
            with write_lock(tmp_path / "machine-b", timeout=0.5, url=pg_url):
                pass
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        # the kernel closes the dead holder's socket, the server ends its session and drops the lock
        with write_lock(tmp_path / "machine-b", timeout=10, url=pg_url, stage="ingest") as where:
            assert "advisory write lock" in where
    finally:
        _stop(p)


def test_each_database_has_its_own_write_lock(tmp_path, pg_server):
    one, two = pg_server.new_database(), pg_server.new_database()
    p = _holder(tmp_path / "a", one)
    try:
        with write_lock(tmp_path / "a", timeout=0.5, url=two):  # another store on the same server: not kept out
            pass
        with pytest.raises(WriteLockTimeout):
            with write_lock(tmp_path / "b", timeout=0.3, url=one):
                pass
    finally:
        _stop(p)


def test_an_unreachable_server_is_one_clear_line(tmp_path, pg_server):
    from pipeline.store import StoreError

    url = f"postgresql://brandmon@127.0.0.1:{pg_server.port}/no_such_database"
    with pytest.raises(StoreError, match=r"cannot connect to the Postgres server for the write lock: .*no_such") as e:
        with write_lock(tmp_path, timeout=1, url=url):
            pass
    assert "\n" not in str(e.value) and not isinstance(e.value, WriteLockTimeout)


def test_a_writing_stage_on_a_server_store_waits_for_another_machines_stage(tmp_path, pg_settings, pg_store):
    from flows.stages import run_stage

    pg_settings.schedule.write_lock_timeout_seconds = 0.5
    p = _holder(tmp_path / "machine-a", pg_settings.store.url)  # pg_settings has a data folder of its own
    try:
        with pytest.raises(WriteLockTimeout, match=rf"brandmon ingest pid={p.pid}@"):
            run_stage("ingest", pg_settings, pg_store)
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
        pg_settings.schedule.write_lock_timeout_seconds = 20
        counts = run_stage("ingest", pg_settings, pg_store)  # nothing crawled yet: an ingest of no runs
        assert counts["runs"] == 0, counts
    finally:
        _stop(p)
