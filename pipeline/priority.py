"""CPU priority of long writing jobs, so that readers on the same machine stay quick.

Readers (the dashboard, `brandmon sql`, `brandmon queue`) no longer wait for the writer's lock; what slows them
during an ingest is sharing the cores with it. A writer at niceness 10 gives way to them and loses nothing on an
idle machine (docs/deployment.md, "One machine: readers never wait").
"""

from __future__ import annotations

import os


def niceness() -> int:
    """This process's niceness (0 where the platform has none)."""
    return os.nice(0) if hasattr(os, "nice") else 0


def lower_cpu_priority(target: int) -> int:
    """Raise this process's niceness to at least `target` and return it. Never raises the priority back:
    a process started at a higher niceness keeps it, and `target` 0 leaves the process as it is. Child processes
    (crawlers, local workers, the flow server) inherit it."""
    now = niceness()
    if target > now and hasattr(os, "nice"):
        try:
            now = os.nice(target - now)
        except OSError:  # a sandbox that forbids it: run at the priority we have
            pass
    return now
