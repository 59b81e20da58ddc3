"""Training checkpoints: a long CPU run resumes where it stopped and ends with the same weights.

Files under ``<out>/checkpoint/``:
- ``meta.json``: fingerprints of the rows and options; a resume with other rows (or another network below the
  trained layers) is refused rather than mixing two runs, one with other training options reuses the cache.
- ``cache-NNNN.pt``: the frozen layers' output per example, in shards written as caching proceeds (caching is
  most of a run's first half hour).
- ``state.pt``: trainable weights, optimiser and scheduler, RNG states, the position in the epoch, best-so-far.

Writes go to a temporary name and are renamed into place, so a kill mid-write leaves the previous checkpoint.
The directory is removed once the scorer is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
META_FILE = "meta.json"

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """No usable checkpoint to resume from; one-line message."""


def fingerprint(parts: list[Any]) -> str:
    """sha256 of JSON-able parts (options, row texts and labels): what must match for a resume."""
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def _atomic_save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Checkpointer:
    """Writes at most every ``minutes`` (0: at every chance, as tests do); ``resume`` reads what is there.

    Two fingerprints: ``cache_fp`` (the rows and what the frozen layers compute) and ``train_fp`` (everything).
    A resume with other training options (epochs, learning rates, ...) keeps the cached layers and starts the
    training over; other rows or another network is refused."""

    def __init__(self, out_dir: Path, cache_fp: str, train_fp: str, minutes: float, resume: bool):
        self.dir = Path(out_dir) / CHECKPOINT_DIR
        self.minutes = minutes
        self.last = time.monotonic()
        self._pending: list[tuple[int, Any]] = []
        self._cpu0, self._t0 = time.process_time(), time.monotonic()
        self.spent_before = {"cpu": 0.0, "seconds": 0.0}  # caching time of earlier runs, whose shards we keep
        meta = self.dir / META_FILE
        want = {"cache": cache_fp, "train": train_fp}
        if resume:
            if not meta.exists():
                raise CheckpointError(f"--resume: no checkpoint in {self.dir}")
            have = json.loads(meta.read_text(encoding="utf-8"))
            self.spent_before = have.get("spent", self.spent_before)
            if have.get("cache") != cache_fp:
                raise CheckpointError(
                    f"--resume: the checkpoint in {self.dir} was made with other data or options; "
                    "run without --resume to start over"
                )
            if have.get("train") != train_fp:
                log.info("training options changed: the cached layers are kept, training starts over")
                (self.dir / STATE_FILE).unlink(missing_ok=True)
                meta.write_text(json.dumps({**want, "spent": self.spent_before}), encoding="utf-8")
        else:
            if meta.exists():  # an hour of caching is not thrown away by a forgotten flag
                raise CheckpointError(
                    f"{self.dir} holds an unfinished run's checkpoint: add --resume to continue it, "
                    "or delete that directory to start over"
                )
            self.dir.mkdir(parents=True, exist_ok=True)
            meta.write_text(json.dumps(want), encoding="utf-8")
        self._shards = len(list(self.dir.glob("cache-*.pt")))

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.minutes * 60

    # ---------------------------------------------------------------------------- frozen-layer cache

    def load_cache(self, examples: list) -> int:
        """Set ``hidden``/``ids_len`` of the examples cached by earlier runs; returns how many."""
        import torch

        n = 0
        for f in sorted(self.dir.glob("cache-*.pt")):
            shard = torch.load(f, weights_only=True)
            for i, h in zip(shard["idx"].tolist(), shard["hidden"]):
                examples[i].hidden, examples[i].ids_len = h, int(h.shape[0])
                n += 1
        return n

    def add_cache(self, items: list[tuple[int, Any]], force: bool = False) -> None:
        """Queue (example index, hidden) pairs; write them as a shard when due (or ``force``)."""
        import torch

        self._pending += items
        if self._pending and (force or self.due()):
            idx = torch.tensor([i for i, _ in self._pending])
            _atomic_save(
                {"idx": idx, "hidden": [h for _, h in self._pending]}, self.dir / f"cache-{self._shards:04d}.pt"
            )
            self._shards += 1
            self._pending = []
            self.last = time.monotonic()
            meta = self.dir / META_FILE
            spent = {
                "cpu": self.spent_before["cpu"] + time.process_time() - self._cpu0,
                "seconds": self.spent_before["seconds"] + time.monotonic() - self._t0,
            }
            meta.write_text(json.dumps({**json.loads(meta.read_text(encoding="utf-8")), "spent": spent}), "utf-8")

    # -------------------------------------------------------------------------------- training state

    def save_state(self, state: dict[str, Any], force: bool = False) -> bool:
        if not (force or self.due()):
            return False
        _atomic_save(state, self.dir / STATE_FILE)
        self.last = time.monotonic()
        return True

    def load_state(self) -> dict[str, Any] | None:
        import torch

        p = self.dir / STATE_FILE
        # our own file (optimiser state and Python's RNG state are plain pickles, not only tensors)
        return torch.load(p, weights_only=False) if p.exists() else None

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
