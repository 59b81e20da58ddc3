"""Reading a run's raw files into checked items and batches; bad lines and damaged files are counted, never fatal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.ingest.items import Rejected, check_item
from pipeline.rawlines import FILE_ERRORS, RawReader

MAX_ERRORS_KEPT = 50


@dataclass
class DamagedFile:
    """A raw file that raised while being read: `lines` complete lines were read before the error."""

    path: Path
    lines: int
    error: str


def read_raw(
    path: Path, max_chars: int, problems: Counter, errors: list[str], damaged: list[DamagedFile] | None = None
) -> Iterator[dict]:
    """Items of one raw file; bad lines are counted in `problems` and described in `errors`. A file that cannot
    be read to its end costs only the rest of itself: cut short (EOFError, a killed or running crawl) it counts as
    `truncated_files`; damaged otherwise (not gzip, garbage in the stream, a directory, no permission) it counts
    as `damaged_files` and is added to `damaged` for the caller to quarantine."""

    def bad(lineno: int, reason: str, message: str) -> None:
        problems[reason] += 1
        if len(errors) < MAX_ERRORS_KEPT:
            errors.append(f"{path.name}:{lineno}: {message}")

    reader = RawReader(path)
    try:
        for line in reader:
            problems["lines"] += 1
            if line.problem == "oversized_line":
                bad(line.number, "oversized_line", "line longer than the raw-line cap, skipped")
                continue
            if line.problem == "bad_json":
                bad(line.number, "bad_json", f"bad JSON ({line.message})")
                continue
            try:
                item = check_item(line.value, max_chars, problems)
            except Rejected as e:
                bad(line.number, e.reason, str(e)[:120])
                continue
            if line.repaired:
                problems["repaired"] += 1
            yield item
    except FILE_ERRORS as e:
        kind = type(e).__name__ if type(e).__module__ == "builtins" else f"{type(e).__module__}.{type(e).__name__}"
        what = f"{kind}: {str(e)[:80]}"
        done = reader.lines_read  # complete lines read; the one being read when it failed is lost
        if isinstance(e, EOFError):
            problems["truncated_files"] += 1
            errors.append(f"{path.name}: cut short after line {done} ({what})")
        else:
            problems["damaged_files"] += 1
            errors.append(f"{path.name}: damaged after line {done} ({what}): {path}")
            if damaged is not None:
                damaged.append(DamagedFile(path, done, what))


def raw_files(run_dir: Path) -> list[Path]:
    files = sorted(run_dir.glob("items-*.jsonl.gz")) + sorted(run_dir.glob("items-*.jsonl"))
    if not files:
        files = sorted(run_dir.glob("*.jsonl.gz")) + sorted(run_dir.glob("*.jsonl"))
    return files


def read_batches(
    files: list[Path], cfg: Any, problems: Counter, errors: list[str], damaged: list[DamagedFile]
) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for f in files:
        for item in read_raw(f, cfg.max_text_chars, problems, errors, damaged):
            batch.append(item)
            if len(batch) >= cfg.batch_size:
                yield batch
                batch = []
    if batch:
        yield batch
