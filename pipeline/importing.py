"""Files from elsewhere (CSV, JSONL, Parquet exports of other tools, tickets, reviews) → a raw run.

An import does not write documents itself: it turns each good row into a `crawlers.items.PostItem` dict and writes
them as a raw run (`<raw_dir>/<run_id>/items-000.jsonl.gz`, the crawler's format) with a finished `crawl_runs` row, so
the normal ingest (dedup, PII masking, brand matching, idempotent upserts) stores them and the run can be replayed
like a crawl. `brandmon import FILE` ingests its run at once; a `files` source's "crawl" writes a run of the files
new or changed in its folder and the ingest stage picks it up.

A column map names which column feeds which field (`text=body,author=user,posted_at=date,url=link`). Each row is
checked on its own: a bad row costs only itself and is reported as `file:row N: field (column): problem`.

A row's post id is its mapped `id` column, else a hash of its checked fields, so importing the same file twice
stores it once; with an `id` column an edited row (same id, new text) updates its document. Without a mapped `url`
a row's url is `import:<source>/<post id>` (never rendered as a link).

Files are read in batches (pyarrow's streaming CSV reader, Parquet row groups, JSONL line by line), so a large file
never sits in memory as Python objects.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.rawlines import FILE_ERRORS, RawReader
from pipeline.store import Store, stable_id, utcnow

log = logging.getLogger("pipeline.importing")

FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# The fields a column may feed (PostItem's, with `id` for the post id). `text` is required.
TARGETS = (
    "text",
    "id",
    "author",
    "author_url",
    "posted_at",
    "url",
    "thread_url",
    "thread_id",
    "thread_title",
    "reply_to",
    "likes",
    "views",
    "replies",
    "reach",
    "rating",
    "language",
    "is_official_answer",
)
_INTS = ("likes", "views", "replies", "reach")
_URLS = ("url", "thread_url", "author_url")
BATCH_ROWS = 10_000
MAX_FIELD_CHARS = 16 * 1024 * 1024  # one CSV value (a text far over ingest's cap is cut there, not refused here)
MAX_ERRORS_KEPT = 50
RAW_NAME = "items-000.jsonl.gz"


class ImportFailed(ValueError):
    """The import cannot start (a bad column map, an unknown format, a file that is not there)."""


class RowError(ValueError):
    def __init__(self, target: str, problem: str):
        super().__init__(f"{target}: {problem}")
        self.target = target


class FileError(ValueError):
    """A whole file cannot be read (a mapped column it lacks, not UTF-8, not Parquet); the other files go on."""


# ------------------------------------------------------------------------------------------ the column map


def parse_map(spec: str | dict | list | None) -> dict[str, str]:
    """`text=body,author=user` (or a mapping, or several such strings) → {field: column}. Raises ImportFailed."""
    pairs: list[tuple[str, str]] = []
    if isinstance(spec, dict):
        pairs = [(str(k).strip(), str(v).strip()) for k, v in spec.items()]
    else:
        for part in [spec] if isinstance(spec, str) else list(spec or []):
            for item in str(part).split(","):
                if not item.strip():
                    continue
                if "=" not in item:
                    raise ImportFailed(f"--map: {item.strip()!r} is not field=column")
                k, v = item.split("=", 1)
                pairs.append((k.strip(), v.strip()))
    out: dict[str, str] = {}
    for k, v in pairs:
        if k not in TARGETS:
            raise ImportFailed(f"--map: unknown field {k!r}; fields: {', '.join(TARGETS)}")
        if not v:
            raise ImportFailed(f"--map: field {k!r} has no column")
        if k in out:
            raise ImportFailed(f"--map: field {k!r} is mapped twice")
        out[k] = v
    if "text" not in out:
        raise ImportFailed("--map: the text field needs a column (text=COLUMN)")
    return out


def files_options_problem(options: dict[str, Any]) -> str | None:
    """Why a `files` source's options cannot work, or None (sources.yaml validation calls this)."""
    if not isinstance(options.get("folder"), str) or not options["folder"].strip():
        return "a files source needs options.folder (the folder its files are dropped into)"
    try:
        parse_map(options.get("map"))
    except ImportFailed as e:
        return f"options.map: {str(e).removeprefix('--map: ')}"
    fmt = options.get("format")
    if fmt is not None and fmt not in FORMATS:
        return f"options.format: {fmt!r} is not one of {', '.join(FORMATS)}"
    return None


def detect_format(path: Path, given: str | None = None) -> str:
    if given:
        if given not in FORMATS:
            raise ImportFailed(f"--format: {given!r} is not one of {', '.join(FORMATS)}")
        return given
    name = path.name.lower().removesuffix(".gz")
    fmt = _SUFFIXES.get(Path(name).suffix)
    if fmt is None:
        raise ImportFailed(f"{path}: cannot tell the format from the name; give --format {'|'.join(FORMATS)}")
    return fmt


# ------------------------------------------------------------------------------------------ reading files


@dataclass
class ReadOptions:
    fmt: str
    encoding: str = "utf-8"
    delimiter: str = ","


# What the readers yield: (where, row, problem): "row 5" or "line 301", the row's mapped {column: value}, or None
# and why the format itself refused it (a CSV record with too many fields, a JSONL line that is not an object).
Row = tuple[str, "dict[str, Any] | None", "str | None"]


def iter_rows(path: Path, columns: list[str], opts: ReadOptions) -> Iterator[Row]:
    """The file's rows, read a record or a batch at a time. Raises FileError when the file cannot be read at all
    (a mapped column it lacks, not the given encoding, not Parquet); rows already yielded stand."""
    if opts.fmt == "csv":
        return _csv_rows(path, columns, opts)
    if opts.fmt == "parquet":
        return _parquet_rows(path, columns)
    return _jsonl_rows(path)


def _missing(path: Path, wanted: list[str], have: list[str]) -> None:
    lost = [c for c in wanted if c not in have]
    if lost:
        shown = ", ".join(have[:30]) + (" …" if len(have) > 30 else "")
        raise FileError(f"{path.name}: no column {', '.join(map(repr, lost))} (the map names it); columns: {shown}")


def _csv_rows(path: Path, columns: list[str], opts: ReadOptions) -> Iterator[Row]:
    # The stdlib reader, record by record: pyarrow's streaming CSV reader cannot say which record a malformed one
    # was once values may hold newlines, and numbers every later row wrong; this one knows each record's number.
    import csv

    csv.field_size_limit(MAX_FIELD_CHARS)
    rowno = 0
    try:
        with open(path, encoding=opts.encoding, errors="strict", newline="") as fh:
            if opts.encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
                fh.reconfigure(encoding="utf-8-sig")  # a byte order mark (a file saved by Excel) is not a column
            reader = csv.reader(fh, delimiter=opts.delimiter)
            try:
                header = next(reader)
            except StopIteration:
                raise FileError(f"{path.name}: empty file (no header row)") from None
            _missing(path, columns, header)
            where = [(c, header.index(c)) for c in columns]
            width = len(header)
            while True:
                try:
                    rec = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    rowno += 1
                    yield f"row {rowno}", None, f"not CSV ({e})"
                    continue
                if not rec:  # a blank line
                    continue
                rowno += 1
                if len(rec) != width:
                    yield f"row {rowno}", None, f"{len(rec)} fields, the header has {width}"
                    continue
                yield f"row {rowno}", {c: rec[k] for c, k in where}, None
    except UnicodeDecodeError as e:
        raise FileError(
            f"{path.name}: not {opts.encoding} text after row {rowno} ({e.reason}); "
            "give the file's encoding (--encoding cp1251, …)"
        ) from None
    except LookupError:
        raise FileError(f"{path.name}: unknown encoding {opts.encoding!r}") from None
    except csv.Error as e:
        raise FileError(f"{path.name}: cannot read as CSV: {e}") from None


def _parquet_rows(path: Path, columns: list[str]) -> Iterator[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise FileError(f"{path.name}: not a readable Parquet file ({str(e)[:120]})") from None
    _missing(path, columns, pf.schema_arrow.names)
    rowno = 0
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            for row in batch.to_pylist():
                rowno += 1
                yield f"row {rowno}", row, None
    except (pa.ArrowException, OSError) as e:
        raise FileError(f"{path.name}: damaged Parquet data ({str(e)[:120]})") from None


def _jsonl_rows(path: Path) -> Iterator[Row]:
    reader = RawReader(path)
    try:
        for line in reader:
            where = f"line {line.number}"
            if line.problem == "oversized_line":
                yield where, None, "longer than the line cap"
            elif line.problem == "bad_json":
                yield where, None, f"bad JSON ({line.message})"
            elif not isinstance(line.value, dict):
                yield where, None, f"a JSON {type(line.value).__name__}, not an object"
            else:
                yield where, line.value, None
    except FILE_ERRORS as e:
        raise FileError(
            f"{path.name}: unreadable after line {reader.lines_read} ({type(e).__name__}: {str(e)[:80]})"
        ) from None


# ------------------------------------------------------------------------------------------ checking a row

_DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d")


def parse_when(value: Any, tz: ZoneInfo) -> str:
    """An ISO 8601 time with offset from a datetime, a date, epoch seconds (or milliseconds), an ISO string or
    `DD.MM.YYYY[ HH:MM[:SS]]`; naive times are read in `tz`. Raises ValueError."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        or (isinstance(value, str) and value.strip().isdigit() and len(value.strip()) >= 9)
    ):
        n = float(value)
        if not math.isfinite(n):
            raise ValueError("not a date")
        dt = datetime.fromtimestamp(n / 1000 if n > 1e11 else n, UTC)
    else:
        s = str(value).strip()
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            for f in _DATE_FORMATS:
                try:
                    dt = datetime.strptime(s, f)
                    break
                except ValueError:
                    continue
            else:
                raise ValueError("not a date") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.isoformat()


def _text(v: Any) -> str | None:
    if v is None:
        return None
    s = v if isinstance(v, str) else str(v)
    return s if s.strip() else None


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, int):
        n = v
    else:
        f = float(str(v).replace(" ", "").replace("\u00a0", ""))
        if not math.isfinite(f) or f != int(f):
            raise ValueError
        n = int(f)
    if n < 0:
        raise ValueError
    return n


def _q(v: Any) -> str:
    """A value as an error message quotes it."""
    return repr(v)[:60]


@dataclass
class RowContext:
    source: str
    kind: str
    mapping: dict[str, str]
    tz: ZoneInfo
    run_id: str
    fetched_at: str


def row_item(row: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    """A PostItem dict from one row's mapped columns. Raises RowError naming the field and the problem."""
    item: dict[str, Any] = {}
    for target, column in ctx.mapping.items():
        v = row.get(column)
        if v is None or (isinstance(v, str) and not v.strip()):
            if target in ("text", "id"):
                raise RowError(f"{target} ({column})", "empty")
            continue
        if target == "posted_at":
            try:
                item["posted_at"] = parse_when(v, ctx.tz)
            except (ValueError, OverflowError, OSError):
                raise RowError(f"posted_at ({column})", f"{_q(v)} is not a date") from None
        elif target in _INTS:
            try:
                item[target] = _int(v)
            except (ValueError, OverflowError):
                raise RowError(f"{target} ({column})", f"{_q(v)} is not a whole number ≥ 0") from None
        elif target == "rating":
            try:
                r = float(str(v).replace(",", "."))
            except ValueError:
                raise RowError(f"rating ({column})", f"{_q(v)} is not a number") from None
            if not math.isfinite(r):
                raise RowError(f"rating ({column})", f"{_q(v)} is not a number")
            item["rating"] = r
        elif target == "is_official_answer":
            s = str(v).strip().lower()
            if s not in ("true", "false", "1", "0", "yes", "no"):
                raise RowError(f"is_official_answer ({column})", f"{_q(v)} is not true/false")
            item[target] = s in ("true", "1", "yes")
        else:
            t = _text(v)
            if t is None:
                continue
            s = t.strip() if target != "text" else t
            if target in _URLS and not s.lower().startswith(("http://", "https://")):
                raise RowError(f"{target} ({column})", f"{_q(v)} is not an http(s) URL")
            item[target] = s
    post_id = item.pop("id", None)
    if post_id is None:
        # the checked fields themselves: the same row from a CSV and from a Parquet file gets the same id
        post_id = "h" + stable_id(*(f"{k}={item[k]}" for k in sorted(item)))
    item.update(source=ctx.source, kind=ctx.kind, post_id=post_id, run_id=ctx.run_id, fetched_at=ctx.fetched_at)
    item.setdefault("url", f"import:{ctx.source}/{post_id}")
    return item


# ------------------------------------------------------------------------------------------ writing a run


def file_sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ImportResult:
    run_id: str
    raw_path: Path
    files: int = 0
    rows: int = 0
    items: int = 0
    counts: Counter = field(default_factory=Counter)  # bad rows by field
    errors: list[str] = field(default_factory=list)  # the first MAX_ERRORS_KEPT problems, `file:row N: …`
    file_errors: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)  # file (absolute) -> sha1, of files read through

    @property
    def bad_rows(self) -> int:
        return sum(self.counts.values())

    @property
    def status(self) -> str:
        if self.file_errors and not self.items:
            return "failed"
        return "partial" if self.file_errors or self.bad_rows else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "raw_path": str(self.raw_path),
            "status": self.status,
            "files": self.files,
            "rows": self.rows,
            "items": self.items,
            "bad_rows": self.bad_rows,
            "bad_rows_by_field": dict(self.counts),
            "file_errors": self.file_errors,
            "errors": self.errors,
        }


def write_run(files: list[Path], ctx: RowContext, read: dict[Path, ReadOptions], run_dir: Path) -> ImportResult:
    """Rows of `files` → `run_dir/items-000.jsonl.gz` (written aside and renamed, so ingest never reads half)."""
    import orjson

    res = ImportResult(ctx.run_id, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    part = run_dir / (RAW_NAME + ".part")
    columns = list(dict.fromkeys(ctx.mapping.values()))

    def note(msg: str) -> None:
        if len(res.errors) < MAX_ERRORS_KEPT:
            res.errors.append(msg)

    pending: list[bytes] = []  # written a batch at a time: one gzip call per row cost a fifth of the import

    with gzip.open(part, "wb", compresslevel=5) as out:

        def flush() -> None:
            if pending:
                out.write(b"\n".join(pending) + b"\n")
                pending.clear()

        for path in files:
            try:
                digest = file_sha1(path)
                for where, row, problem in iter_rows(path, columns, read[path]):
                    res.rows += 1
                    if row is None:
                        res.counts["malformed"] += 1
                        note(f"{path.name}:{where}: {problem}")
                        continue
                    try:
                        item = row_item(row, ctx)
                    except RowError as e:
                        res.counts[e.target.split(" ")[0]] += 1
                        note(f"{path.name}:{where}: {e}")
                        continue
                    pending.append(orjson.dumps(item))
                    res.items += 1
                    if len(pending) >= BATCH_ROWS:
                        flush()
            except FileError as e:
                res.file_errors.append(str(e))
                note(str(e))
                continue
            except OSError as e:
                res.file_errors.append(f"{path.name}: cannot read: {e.strerror or e}")
                note(res.file_errors[-1])
                continue
            res.files += 1
            res.hashes[str(path.absolute())] = digest
        flush()
    if not res.counts["malformed"]:
        del res.counts["malformed"]
    part.replace(run_dir / RAW_NAME)
    meta = {
        "run_id": ctx.run_id,
        "source": ctx.source,
        "kind": ctx.kind,
        "map": ctx.mapping,
        "files": res.hashes,
        **{k: v for k, v in res.as_dict().items() if k not in ("run_id", "raw_path")},
    }
    (run_dir / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    for problem in res.errors:
        log.warning("import %s: %s", ctx.source, problem)
    return res


def _run_row(res: ImportResult, source: str, started: datetime, finished: datetime) -> dict[str, Any]:
    summary = {
        "kinds": dict(res.counts) | ({"file": len(res.file_errors)} if res.file_errors else {}),
        "samples": [{"error": "ImportRow", "message": e} for e in res.errors[:20]],
        "refused": {},
    }
    return {
        "run_id": res.run_id,
        "source_id": source,
        "started_at": started,
        "finished_at": finished,
        "status": res.status,
        "pages": res.files,
        "items": res.items,
        "errors": res.bad_rows + len(res.file_errors),
        "error_summary_json": json.dumps(summary, ensure_ascii=False),
        "raw_path": str(res.raw_path),
        "ingested_at": None,
    }


def _tz(settings: Any, source: Any) -> ZoneInfo:
    return ZoneInfo(getattr(source, "timezone", None) or settings.crawl.default_timezone)


def _source_of(settings: Any, name: str) -> Any:
    from pipeline.config import load_sources

    if not Path(settings.sources_file).exists():
        return None
    return next((s for s in load_sources(settings.sources_file, settings.demo_web_url) if s.name == name), None)


def import_files(
    settings: Any,
    store: Store,
    paths: list[Path],
    source: str,
    mapping: str | dict | list | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> ImportResult:
    """Files given by hand → one raw run with a finished `crawl_runs` row, ready for `ingest_pending(run_id=…)`.

    The run id is a hash of the files' contents and the options, so importing the same files again rewrites the
    same run (the raw layer does not grow) and its ingest changes nothing. A source named in sources.yaml lends
    its kind, time zone and `files` options (map, format, encoding, delimiter) as defaults."""
    from pipeline.config import SOURCE_NAME

    if not SOURCE_NAME.fullmatch(source):
        raise ImportFailed(f"--source: {source[:80]!r} is not a safe source name (letters, digits, '-', '_')")
    cfg = _source_of(settings, source)
    opts = dict(cfg.options) if cfg is not None and cfg.kind == "files" else {}
    m = parse_map(mapping if mapping else opts.get("map"))
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise ImportFailed(f"{missing[0]}: no such file")
    paths = [Path(p) for p in paths]
    read = {
        p: ReadOptions(
            detect_format(p, fmt or opts.get("format")),
            encoding or opts.get("encoding", "utf-8"),
            delimiter or opts.get("delimiter", ","),
        )
        for p in paths
    }
    key = stable_id(json.dumps(m, sort_keys=True), *(f"{file_sha1(p)}:{read[p]}" for p in paths), length=12)
    run_id = f"import-{source}-{key}"
    started = utcnow()
    ctx = RowContext(
        source, cfg.kind if cfg is not None else "files", m, _tz(settings, cfg), run_id, started.isoformat()
    )
    res = write_run(paths, ctx, read, Path(settings.raw_dir) / run_id)
    with store.write() as con:
        if cfg is None:  # a source only the command line names: its row, so readers can name it
            store.upsert(
                "sources",
                [
                    {
                        "source_id": source,
                        "kind": "files",
                        "name": source,
                        "base_url": None,
                        "engine": None,
                        "config_json": json.dumps({"map": m}, ensure_ascii=False),
                        "enabled": True,
                        "updated_at": started,
                    }
                ],
                key=["source_id"],
                con=con,
            )
        store.upsert("crawl_runs", [_run_row(res, source, started, utcnow())], key=["run_id"], con=con)
    return res


# ------------------------------------------------------------------------------------------ a `files` source


def new_run_id(source: str, now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{source}-{secrets.token_hex(2)}"


def folder_files(folder: Path, pattern: str, settle_seconds: float, now: float | None = None) -> list[Path]:
    """Files in `folder` matching `pattern`, oldest first: not hidden, not partial (`.part`, `.tmp`, `~`), and not
    modified in the last `settle_seconds` (a file still being copied in is read next time)."""
    now = time.time() if now is None else now
    out = []
    for p in folder.glob(pattern):
        name = p.name
        if name.startswith(".") or name.endswith((".part", ".tmp", "~")) or not p.is_file():
            continue
        try:
            mtime = p.stat().st_mtime
        except OSError:
            continue
        if now - mtime >= settle_seconds:
            out.append((mtime, name, p))
    return [p for _, _, p in sorted(out)]


def collect_folder(settings: Any, store: Store, source: Any) -> dict[str, Any]:
    """A `files` source's crawl: the files in its folder that are new or changed since they were last read become
    one raw run (a finished `crawl_runs` row the ingest stage picks up); each file's hash goes to `crawl_state`
    (kind 'file'), so an unchanged file is never read twice. The result has the crawl's per-source keys."""
    opts = source.options
    folder = Path(opts["folder"]).expanduser()
    out: dict[str, Any] = {
        "run_id": None,
        "status": "ok",
        "pages": 0,
        "items": 0,
        "errors": 0,
        "files": 0,
        "rows": 0,
        "bad_rows": 0,
        "raw_path": "",
        "error_kinds": {},
        "refused": {},
    }
    if not folder.is_dir():
        out.update(
            status="failed",
            errors=1,
            error=f"options.folder {str(folder)!r} is not a folder",
            error_kinds={"FolderMissing": 1},
        )
        return out
    files = folder_files(folder, opts.get("pattern", "*"), float(opts.get("settle_seconds", 5)))
    seen = dict(
        store.query(
            "SELECT url, content_hash FROM crawl_state WHERE source_id = ? AND kind = 'file'", [source.name]
        ).itertuples(index=False, name=None)
    )
    fresh = []
    for p in files:
        try:
            digest = file_sha1(p)
        except OSError:
            continue  # gone or unreadable now: looked at again next time
        if seen.get(str(p.absolute())) != digest:
            fresh.append(p)
    out["unchanged_files"] = len(files) - len(fresh)
    if not fresh:
        return out
    m = parse_map(opts.get("map"))
    read = {}
    for p in fresh:
        try:
            read[p] = ReadOptions(
                detect_format(p, opts.get("format")), opts.get("encoding", "utf-8"), opts.get("delimiter", ",")
            )
        except ImportFailed as e:
            out["errors"] += 1
            out.setdefault("file_errors", []).append(str(e))
    fresh = [p for p in fresh if p in read]
    started = utcnow()
    run_id = new_run_id(source.name, started)
    ctx = RowContext(source.name, source.kind, m, _tz(settings, source), run_id, started.isoformat())
    res = write_run(fresh, ctx, read, Path(settings.raw_dir) / run_id)
    finished = utcnow()
    state = [
        {"source_id": source.name, "url": f, "kind": "file", "content_hash": h, "updated_at": finished}
        for f, h in res.hashes.items()
    ]
    with store.write() as con:
        store.upsert("sources", [source.row(started)], key=["source_id"], con=con)
        store.upsert("crawl_runs", [_run_row(res, source.name, started, finished)], key=["run_id"], con=con)
        store.upsert("crawl_state", state, key=["source_id", "url"], con=con)
    d = res.as_dict()
    out.update(
        run_id=run_id,
        status=d["status"],
        pages=res.files,
        items=res.items,
        files=res.files,
        rows=res.rows,
        bad_rows=res.bad_rows,
        raw_path=str(res.raw_path),
        errors=out["errors"] + res.bad_rows + len(res.file_errors),
        error_kinds=d["bad_rows_by_field"],
        samples=res.errors[:20],
        file_errors=out.get("file_errors", []) + res.file_errors,
    )
    if d["status"] == "failed":
        out["error"] = "; ".join(res.file_errors)[:500]
    log.info(
        "files source %s: %d new/changed file(s), %d rows, %d items, %d bad rows",
        source.name,
        res.files,
        res.rows,
        res.items,
        res.bad_rows,
    )
    return out


__all__ = [
    "FORMATS",
    "TARGETS",
    "FileError",
    "ImportFailed",
    "ImportResult",
    "RowError",
    "collect_folder",
    "detect_format",
    "files_options_problem",
    "folder_files",
    "import_files",
    "iter_rows",
    "parse_map",
    "parse_when",
    "row_item",
    "write_run",
]
