"""Lowering a writing job's CPU priority: only ever down, to the setting, inherited by the processes it starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, os, subprocess, sys
from pipeline.priority import lower_cpu_priority, niceness
start = niceness()
steps = [lower_cpu_priority(int(t)) for t in sys.argv[1:]]
child = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"], capture_output=True, text=True)
print(json.dumps({"start": start, "steps": steps, "child": int(child.stdout)}))
"""


def run_child(*targets: int, nice: int = 0) -> dict:
    # in a child process: a niceness once raised cannot be lowered again without privileges
    cmd = [sys.executable, "-c", CHILD, *map(str, targets)]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def test_raises_niceness_to_the_target_and_never_back():
    base = os.nice(0)
    r = run_child(10, 5, 0, 12)
    assert r["start"] == base
    assert r["steps"] == [max(10, base), max(10, base), max(10, base), max(12, base)]
    assert r["child"] == max(12, base)  # the crawler and worker processes a job starts inherit it


def test_a_process_started_lower_keeps_its_own_priority():
    base = os.nice(0)
    r = run_child(10, nice=15)
    assert r["start"] == min(19, base + 15)
    assert r["steps"] == [r["start"]]


def test_zero_leaves_the_process_as_it_was():
    r = run_child(0)
    assert r["steps"] == [r["start"]] == [os.nice(0)]
