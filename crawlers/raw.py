"""Reading the raw layer (<raw_dir>/<run_id>/items-NNN.jsonl.gz) without importing Scrapy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.rawlines import FILE_ERRORS, RawReader


def iter_items(run_dir: Path) -> Iterator[dict]:
    """Items of one run in file order, decoded as ingest decodes them (a BOM, invalid UTF-8 or a lone surrogate is
    repaired). A file cut short by a hard kill yields what was readable; a damaged one (garbage in the gzip
    stream, not gzip at all, a directory, no permission) yields what came before the damage."""
    for f in sorted(Path(run_dir).glob("items-*.jsonl.gz")):
        try:
            for line in RawReader(f):
                if line.problem is None and isinstance(line.value, dict):
                    yield line.value
        except FILE_ERRORS:
            continue


def existing_post_ids(run_dir: Path) -> set[str]:
    """Post ids already written in this run's files (a resumed crawl must not write them again)."""
    # as the writer stored them (a spider may give numbers); a list or object is no id and would not hash
    return {d["post_id"] for d in iter_items(run_dir) if isinstance(d.get("post_id"), (str, int, float))}
