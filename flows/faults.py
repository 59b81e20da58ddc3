"""Deterministic kill points for crash tests.

`BRANDMON_FLOW_PAUSE="<stage>:<n>[:before|after]"` makes the flow's store pause at the n-th write transaction of
that stage: `before` (default) inside the transaction, after the stage's statements ran but before COMMIT;
`after` right after the COMMIT. On pausing it creates the file named by `BRANDMON_FLOW_PAUSE_MARKER` and sleeps, so
a test can SIGKILL the process at exactly that point and re-run. Unset (always, outside tests) it changes nothing:
`store_for()` returns a plain `Store`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.config import Settings
from pipeline.logs import current_context
from pipeline.store import Store

PAUSE_ENV = "BRANDMON_FLOW_PAUSE"
MARKER_ENV = "BRANDMON_FLOW_PAUSE_MARKER"


def store_for(settings: Settings) -> Store:
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return Store.from_settings(settings)
    parts = spec.split(":")
    stage, n = parts[0], int(parts[1])
    when = parts[2] if len(parts) > 2 else "before"
    if when not in ("before", "after"):
        raise ValueError(f"{PAUSE_ENV}: expected <stage>:<n>[:before|after], got {spec!r}")
    return PausingStore(
        settings.db_path,
        settings.lock_timeout_seconds,
        stage=stage,
        n=n,
        when=when,
        marker=os.environ.get(MARKER_ENV),
    )


class PausingStore(Store):
    def __init__(self, path, lock_timeout: float, *, stage: str, n: int, when: str, marker: str | None):
        super().__init__(path, lock_timeout=lock_timeout)
        self.stage, self.n, self.when, self.marker = stage, n, when, marker
        self.seen = 0

    @contextmanager
    def transaction(self, con) -> Iterator[None]:
        # every write transaction, whether from Store.write() or a held WriteSession (ingest's batches)
        hit = False
        if current_context().get("stage") == self.stage:
            self.seen += 1
            hit = self.seen == self.n
        with super().transaction(con):
            yield
            if hit and self.when == "before":
                self._pause()
        if hit and self.when == "after":
            self._pause()

    def _pause(self) -> None:
        if self.marker:
            # written aside and renamed: a watcher that sees the file and kills at once reads it whole, not empty
            tmp = Path(f"{self.marker}.tmp")
            tmp.write_text(f"{self.stage}:{self.n}:{self.when} pid={os.getpid()}\n")
            os.replace(tmp, self.marker)
        while True:  # until killed
            time.sleep(1)
