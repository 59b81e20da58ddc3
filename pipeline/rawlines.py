"""The raw layer's files and lines: opening a run's file, reading bounded lines, decoding JSON leniently.

Ingest, the file importer and the crawler's resume read the raw layer through `RawReader` (stdlib and orjson only,
no pandas or DuckDB); `REQUIRED_FIELDS` is the item contract between the crawlers and ingest.
A line is decoded by orjson first; only when that fails does `decode_line` try the repairs a damaged line needs,
so the common line costs nothing extra:
- a UTF-8 byte order mark (a file saved by an editor) is dropped;
- bytes that are not UTF-8 become U+FFFD;
- a lone surrogate escape (`"\\ud800"`, valid JSON but not a character) becomes U+FFFD.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

_fast_loads: Callable[[bytes], Any] | None
try:
    import orjson

    _fast_loads = orjson.loads
except ImportError:  # pragma: no cover
    _fast_loads = None

# What reading a damaged file raises: OSError covers a bad gzip header (gzip.BadGzipFile), a directory, a missing
# permission and I/O errors; EOFError a gzip stream cut short; zlib.error garbage inside a gzip stream.
FILE_ERRORS = (OSError, EOFError, zlib.error)

# One JSON line. The crawler's largest page is 8 MiB (`crawl.max_page_bytes`) and a post's text, title and quotes
# come from one page, so a real line stays well under this; a longer one is skipped without being parsed, which
# keeps a hostile file from costing gigabytes (it also bounds `extra`, which ingest does not store).
MAX_LINE_BYTES = 32 * 1024 * 1024

# The fields every raw item must have, non-empty: the contract between the crawlers and ingest.
REQUIRED_FIELDS = ("source", "kind", "post_id", "url", "text")

_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")


def open_raw(path: Path) -> io.BufferedIOBase:
    """A raw file opened for binary reading (gzip by its name)."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def iter_lines(fh: io.BufferedIOBase, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
    """The file's lines; None for a line longer than `limit` bytes (read past in pieces, never held whole)."""
    readline = fh.readline
    while True:
        line = readline(limit)
        if not line:
            return
        if len(line) == limit and not line.endswith(b"\n"):
            while True:
                rest = readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def _scrub(obj: Any) -> Any:
    """Lone surrogates in every string of a decoded value replaced by U+FFFD."""
    if isinstance(obj, str):
        return _SURROGATE.sub("\ufffd", obj)
    if isinstance(obj, dict):
        return {_scrub(k): _scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


def repair_line(line: bytes) -> Any:
    """The value of a line the strict decoder refused: BOM dropped, bad bytes and lone surrogates as U+FFFD.
    Raises ValueError when it is not JSON even so."""
    if line.startswith(_BOM):
        line = line[3:]
    try:
        obj = json.loads(line.decode("utf-8", "replace"))
    except RecursionError:  # nesting deeper than the interpreter's stack: not a post
        raise ValueError("nested too deeply") from None
    return _scrub(obj)


def decode_line(line: bytes) -> tuple[Any, bool]:
    """(value, repaired): orjson's strict decoding, and the lenient one only when that fails.
    Raises ValueError (the strict decoder's message) when the line is not JSON even after repair."""
    if _fast_loads is None:  # pragma: no cover
        return repair_line(line), False
    try:
        return _fast_loads(line), False
    except ValueError as e:
        first = e
    try:
        return repair_line(line), True
    except ValueError:
        raise first from None


class RawLine(NamedTuple):
    """One non-blank line of a raw file: its decoded value, or why it has none (`problem`)."""

    number: int  # 1-based, blank lines counted
    value: Any  # None when `problem` is set
    repaired: bool  # decoded only after `repair_line`
    problem: str | None  # None, "oversized_line" (over the line cap, not read) or "bad_json"
    message: str  # the decoder's message for bad JSON, else ""


class RawReader:
    """The decoded lines of one raw file (blank lines skipped). Reading raises `FILE_ERRORS` where the file is cut
    short or damaged; `lines_read` then says how many complete lines came before."""

    def __init__(self, path: Path):
        self.path = path
        self.lines_read = 0

    def __iter__(self) -> Iterator[RawLine]:
        with open_raw(self.path) as fh:
            for self.lines_read, line in enumerate(iter_lines(fh), 1):
                if line is None:
                    yield RawLine(self.lines_read, None, False, "oversized_line", "")
                    continue
                if line.isspace():  # no copy, unlike strip()
                    continue
                try:
                    value, repaired = decode_line(line)
                except ValueError as e:
                    yield RawLine(self.lines_read, None, False, "bad_json", str(e)[:80])
                    continue
                yield RawLine(self.lines_read, value, repaired, None, "")
