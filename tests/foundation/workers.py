"""Child processes for the store concurrency tests (run as `python workers.py MODE DB ...`)."""

from __future__ import annotations

import json
import os
import sys
import time

from pipeline.store import Store, StoreLockedError


def writer(db: str, start: int, n: int, batch: int) -> None:
    """Write rows [start, start+n) into `documents` in batches, one short transaction each."""
    store = Store(db, lock_timeout=60)
    for b in range(start, start + n, batch):
        rows = [
            {"doc_id": f"d{i:06d}", "source_id": "s", "text": f"text {i}", "text_hash": str(i)}
            for i in range(b, min(b + batch, start + n))
        ]
        store.upsert("documents", rows, key=["doc_id"])


def reader(db: str, seconds: float, out: str, stop: str | None = None) -> None:
    """Poll counts while a writer works, for `seconds` or until the file `stop` appears; record every error."""
    store = Store(db, lock_timeout=60)
    reads, errors, last = 0, [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (stop and os.path.exists(stop)):
        try:
            n = int(store.query("SELECT count(*) AS n FROM documents")["n"][0])
            if n < last:
                errors.append(f"count went backwards {last} -> {n}")
            last = n
            reads += 1
        except Exception as e:  # noqa: BLE001 - the test counts every kind of error
            errors.append(f"{type(e).__name__}: {e}")
    with open(out, "w") as f:
        json.dump({"reads": reads, "errors": errors, "last": last}, f)


def racer(db: str, tag: str, rounds: int, out: str) -> None:
    """Upsert the same 500 keys repeatedly, each value tagged with this process and round."""
    store = Store(db, lock_timeout=60)
    done, locked = 0, 0
    for r in range(rounds):
        rows = [
            {"doc_id": f"k{i:04d}", "source_id": tag, "text": f"{tag}-{r}", "text_hash": f"{tag}{r}"}
            for i in range(500)
        ]
        try:
            store.upsert("documents", rows, key=["doc_id"])
            done += 1
        except StoreLockedError:
            locked += 1
    with open(out, "w") as f:
        json.dump({"done": done, "locked": locked}, f)


def slow_batch(db: str, batch_no: int, ready: str) -> None:
    """Insert one batch of 1000 rows in a transaction that pauses before COMMIT (to be SIGKILLed there)."""
    store = Store(db, lock_timeout=60)
    with store.write() as con:
        store.upsert(
            "documents",
            [
                {"doc_id": f"b{batch_no:03d}-{i:04d}", "source_id": "s", "text": "x", "text_hash": "h"}
                for i in range(1000)
            ],
            key=["doc_id"],
            con=con,
        )
        open(ready, "w").close()
        time.sleep(60)  # killed here, mid-transaction


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "writer":
        writer(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif mode == "reader":
        reader(args[0], float(args[1]), args[2], *args[3:4])
    elif mode == "racer":
        racer(args[0], args[1], int(args[2]), args[3])
    elif mode == "slow_batch":
        slow_batch(args[0], int(args[1]), args[2])
    else:
        sys.exit(f"unknown mode {mode}")
    sys.stdout.flush()
    os._exit(0)
