"""Damaged raw files moved to `<raw_dir>/quarantine/`, their readable lines copied back beside the run's files."""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

from pipeline.config import Settings
from pipeline.ingest.reading import DamagedFile
from pipeline.rawlines import FILE_ERRORS, iter_lines, open_raw

log = logging.getLogger("pipeline.ingest")

QUARANTINE = "quarantine"  # <raw_dir>/quarantine: raw files that could not be read, kept for a person to look at


def _free_path(folder: Path, stem: str, suffix: str) -> Path:
    """`folder/stem+suffix`, or the first `stem-N+suffix` that does not exist (a later file of the same name)."""
    n, out = 0, folder / f"{stem}{suffix}"
    while out.exists() or out.is_symlink():
        n += 1
        out = folder / f"{stem}-{n}{suffix}"
    return out


def _split_name(name: str) -> tuple[str, str]:
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def _salvage(moved: Path, lines: int, run_dir: Path, name: str) -> Path | None:
    """The first `lines` lines of a quarantined file (those read, and stored, before the damage) copied verbatim
    into `<run_dir>/<name stem>.salvaged.jsonl.gz`, so a replay of the run still finds them."""
    if lines <= 0:
        return None
    dest = _free_path(run_dir, _split_name(name)[0] + ".salvaged", ".jsonl.gz")
    part = dest.with_name(dest.name + ".part")  # not an items file until it is complete
    n = 0
    try:
        with open_raw(moved) as src, gzip.open(part, "wb", compresslevel=5) as out:
            for line in iter_lines(src):
                if n >= lines:
                    break
                n += 1
                if line is not None:
                    out.write(line if line.endswith(b"\n") else line + b"\n")
    except FILE_ERRORS:
        pass  # the same damage again, at the same place: what was read is written
    part.replace(dest)
    return dest


def quarantine(settings: Settings, bad: DamagedFile) -> Path | None:
    """Move a damaged raw file (or whatever stands at its name) to `<raw_dir>/quarantine/<its path under
    raw_dir>`, then copy its readable lines back beside the run's other files; returns where it went (None when
    it could not be moved: the next ingest reports it again). Moving it is what keeps later ingests and replays
    from tripping on it; the quarantined original keeps every byte for a person to look at."""
    raw_dir = Path(settings.raw_dir)
    try:
        rel = bad.path.absolute().relative_to(raw_dir.absolute())
    except ValueError:  # a run folder outside raw_dir (crawl_runs.raw_path)
        rel = Path(bad.path.parent.name) / bad.path.name
    target = raw_dir / QUARANTINE / rel
    dest = _free_path(target.parent, *_split_name(target.name))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(bad.path), str(dest))
    except OSError as e:
        log.warning(
            "damaged raw file %s could not be quarantined (%s: %s); the next ingest reports it again",
            bad.path,
            type(e).__name__,
            e,
        )
        return None
    kept = ""
    try:
        salvaged = _salvage(dest, bad.lines, bad.path.parent, bad.path.name)
        kept = f"; its {bad.lines} line(s) read before the damage kept in {salvaged.name}" if salvaged else ""
    except OSError as e:
        kept = f"; its {bad.lines} line(s) read before the damage could not be copied back ({e})"
    log.warning("damaged raw file %s (%s) moved to %s%s", bad.path, bad.error, dest, kept)
    return dest
