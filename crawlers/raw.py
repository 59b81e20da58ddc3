"""Reading the raw layer (<raw_dir>/<run_id>/items-NNN.jsonl.gz) without importing Scrapy."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator


def iter_items(run_dir: Path) -> Iterator[dict]:
    """Items of one run in file order; a file cut short by a hard kill yields what was readable."""
    for f in sorted(Path(run_dir).glob("items-*.jsonl.gz")):
        try:
            with gzip.open(f, "rt", encoding="utf-8") as fh:
                for line in fh:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue
        except (EOFError, OSError):
            continue


def existing_post_ids(run_dir: Path) -> set[str]:
    """Post ids already written in this run's files (a resumed crawl must not write them again)."""
    return {d["post_id"] for d in iter_items(run_dir) if "post_id" in d}
