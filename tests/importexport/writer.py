"""A writer process for the backup tests: commits numbered (document, mention) pairs, one transaction each, until
told to stop. Usage: writer.py DB STOP_FILE PROGRESS_FILE. The progress file holds the last committed number."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pipeline.store import Store


def main(db: str, stop: str, progress: str) -> None:
    store = Store(db, lock_timeout=60)
    i = 0
    while not Path(stop).exists():
        with store.write() as con:  # both rows or neither: a consistent copy never holds half of a pair
            con.execute(
                "INSERT INTO documents (doc_id, source_id, text, text_hash) VALUES (?, 'w', ?, ?)",
                [f"w{i}", f"post {i}", str(i)],
            )
            con.execute(
                "INSERT INTO mentions (mention_id, doc_id, brand_id, context, context_hash) "
                "VALUES (?, ?, 'posylkin', ?, ?)",
                [f"wm{i}", f"w{i}", f"post {i}", str(i)],
            )
        i += 1
        Path(progress).write_text(str(i))
        time.sleep(0.002)


if __name__ == "__main__":
    main(*sys.argv[1:4])
