"""Hostile and damaged raw files through the real ingest into a real DuckDB file.

A damaged file costs only itself: it is counted, named, moved to `<raw_dir>/quarantine/` and never blocks the other
files and runs (one file of gzip magic and garbage used to stop every ingest). Damaged lines are repaired rather
than dropped, every stored string has a cap, a text of invisible characters is no document, and names lose their
bidi controls. Each case was dropped, stored as given or crashed before the ingest got these guards."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.ingest import MAX_NAME_CHARS, MAX_TITLE_CHARS, ingest_pending
from pipeline.rawlines import MAX_LINE_BYTES
from pipeline.store import utcnow

THREAD = "http://forum-a.test/t/1"


def post(i: int, text: str | None = None, **kw) -> dict:
    d = {
        "source": "forum-a",
        "kind": "forum",
        "post_id": str(i),
        "url": f"{THREAD}#p{i}",
        "thread_url": THREAD,
        "text": text if text is not None else f"ШопОк опять задержал заказ, история {i}",
        "author": f"user{i}",
        "posted_at": "2024-05-03T10:00:00+03:00",
    }
    d.update(kw)
    return d


def line(d: dict) -> bytes:
    return json.dumps(d, ensure_ascii=False).encode("utf-8") + b"\n"


def write(settings, run: str, name: str, data: bytes) -> Path:
    p = Path(settings.raw_dir) / run / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return p


def finished(store, *runs: str) -> None:
    """crawl_runs rows of finished crawls: what `brandmon ingest` picks up by default."""
    now = utcnow()
    with store.write() as con:
        for r in runs:
            con.execute(
                "INSERT INTO crawl_runs (run_id, source_id, started_at, finished_at, status) "
                "VALUES (?, 'forum-a', ?, ?, 'ok')",
                [r, now, now],
            )


def docs(store, cols: str = "post_id") -> list:
    return [
        tuple(r) if len(r) > 1 else r[0]
        for r in store.query(f"SELECT {cols} FROM documents ORDER BY post_id").itertuples(index=False)
    ]


def snapshot(store) -> dict:
    return {
        t: store.query(f"SELECT * EXCLUDE (updated_at) FROM {t} ORDER BY ALL").to_csv(index=False)
        for t in ("documents", "mentions", "authors")
    }


def tree(root: Path) -> dict[str, bytes | int | None]:
    """Every path under root with its bytes (its size when unreadable; None for a folder)."""

    def content(p: Path) -> bytes | int | None:
        if not p.is_file():
            return None
        try:
            return p.read_bytes()
        except PermissionError:
            return p.stat().st_size

    return {str(p.relative_to(root)): content(p) for p in sorted(root.rglob("*"))}


# ------------------------------------------------------------------------------------------ damaged files

GOOD = b"".join(line(post(i)) for i in range(3))
NOISE = random.Random(7).randbytes(300)


def _gzip_garbage(p: Path) -> None:  # gzip's magic bytes, then noise: zlib.error inside the stream
    p.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + NOISE)


def _not_gzip(p: Path) -> None:  # a .gz name on plain binary junk: BadGzipFile
    p.write_bytes(b"\x00\x01binary junk \xff\xfe" * 40)


def _directory(p: Path) -> None:  # a folder where a file should be
    p.mkdir()
    (p / "inner.txt").write_text("x")


def _garbage_after_good_lines(p: Path) -> None:  # a valid member, then garbage: its lines are salvaged
    p.write_bytes(
        gzip.compress(b"".join(line(post(10 + i)) for i in range(2))) + b"\x1f\x8b\x08\x00" + b"\x00" * 6 + NOISE
    )


def _unreadable(p: Path) -> None:
    p.write_bytes(gzip.compress(line(post(99))))
    p.chmod(0)


def _reads_anything(folder: Path) -> bool:
    probe = folder / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    probe.write_bytes(b"x")
    probe.chmod(0)
    try:
        probe.read_bytes()
        return True
    except PermissionError:
        return False
    finally:
        probe.unlink()


DAMAGE = {
    "gzip_magic_then_garbage": _gzip_garbage,
    "binary_junk": _not_gzip,
    "directory": _directory,
    "garbage_after_good_lines": _garbage_after_good_lines,
    "no_permission": _unreadable,
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_file_is_quarantined_and_blocks_nothing(kind, settings, store):
    if kind == "no_permission" and _reads_anything(settings.data_dir):
        pytest.skip("this process reads files without permission (root with CAP_DAC_OVERRIDE)")
    raw = Path(settings.raw_dir)
    write(settings, "good", "items-000.jsonl.gz", GOOD)
    write(settings, "mixed", "items-000.jsonl.gz", line(post(20)))
    bad = raw / "mixed" / "items-001.jsonl.gz"
    DAMAGE[kind](bad)
    write(settings, "mixed", "items-002.jsonl.gz", line(post(21)))  # after the damaged file: still read
    finished(store, "good", "mixed")

    r = ingest_pending(settings, store)
    salvaged = ["10", "11"] if kind == "garbage_after_good_lines" else []
    assert docs(store) == sorted(["0", "1", "2", "20", "21", *salvaged])
    moved = raw / "quarantine" / "mixed" / "items-001.jsonl.gz"
    assert not bad.exists() and (moved.exists() or moved.is_symlink())
    assert r["runs"] == 2 and r["damaged_files"] == 1 and r["quarantined_files"] == 1
    assert r["quarantined"] == [f"{bad} -> {moved}"]
    assert any(str(bad) in e and "damaged" in e for e in r["errors"])  # the path, for the operator
    assert store.query("SELECT count(*) AS n FROM crawl_runs WHERE ingested_at IS NULL")["n"][0] == 0
    if salvaged:  # the lines stored from it stay in the raw layer, so a replay still has them
        keep = raw / "mixed" / "items-001.salvaged.jsonl.gz"
        assert [json.loads(x)["post_id"] for x in gzip.decompress(keep.read_bytes()).splitlines()] == salvaged

    # later ingests do not trip on it: a replay of every folder is clean and changes nothing
    before, files = snapshot(store), tree(raw)
    again = ingest_pending(settings, store, all_runs=True)
    assert again["runs"] == 2  # the quarantine folder is not a run
    assert again["damaged_files"] == 0 and again["bad_lines"] == 0 and again["errors"] == []
    assert again["documents_unchanged"] == len(docs(store)) and again.get("documents_new", 0) == 0
    assert snapshot(store) == before and tree(raw) == files


def test_second_damaged_file_of_the_same_name_keeps_the_first(settings, store):
    """A resumed crawl can write a file of the name a quarantined one had; both damaged copies are kept."""
    raw = Path(settings.raw_dir)
    bad = raw / "run" / "items-000.jsonl.gz"
    bad.parent.mkdir(parents=True)
    _gzip_garbage(bad)
    first = bad.read_bytes()
    ingest_pending(settings, store, run_id="run")
    _not_gzip(bad)
    r = ingest_pending(settings, store, run_id="run")
    q = raw / "quarantine" / "run"
    assert r["quarantined"] == [f"{bad} -> {q / 'items-000-1.jsonl.gz'}"]
    assert (q / "items-000.jsonl.gz").read_bytes() == first and (q / "items-000-1.jsonl.gz").exists()


def test_truncated_gzip_is_read_and_left_in_place(settings, store):
    """A gzip file cut short is what a killed crawl leaves, or one still writing (an `ingest --all` during a
    crawl): not damage. Its complete lines are stored and it stays where the crawler's resume reads it (kept
    behaviour: the guard against quarantining it)."""
    blob = gzip.compress(b"".join(line(post(i)) for i in range(3)))
    cut = Path(settings.raw_dir) / "run" / "items-000.jsonl.gz"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(blob[:-12])  # no CRC and size trailer
    r = ingest_pending(settings, store, run_id="run")
    assert r["truncated_files"] == 1 and r["damaged_files"] == 0 and r["quarantined"] == []
    assert "0" in docs(store) and cut.exists()
    assert not (Path(settings.raw_dir) / "quarantine").exists()


# the same quarantine through a `brandmon ingest` process; the in-process quarantine tests above are fast
@pytest.mark.slow
def test_cli_ingest_reports_the_quarantined_file_and_exits_0(settings, store, tmp_path):
    """`brandmon ingest` stores the good runs, prints one warning line naming the damaged file and where it went,
    and exits 0: the damage is moved aside, so a rerun (a scheduler's retry) could not do better."""
    write(settings, "good", "items-000.jsonl.gz", GOOD)
    bad = Path(settings.raw_dir) / "bad" / "items-000.jsonl.gz"
    bad.parent.mkdir(parents=True)
    _gzip_garbage(bad)
    finished(store, "good", "bad")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANDMON_")}
    env.update(
        BRANDMON_DATA_DIR=str(settings.data_dir),
        BRANDMON_BRANDS_FILE=str(settings.brands_file),
        BRANDMON_SOURCES_FILE=str(tmp_path / "none.yaml"),
        COLUMNS="400",
    )
    exe = Path(sys.executable).with_name("brandmon")
    p = subprocess.run([str(exe), "ingest"], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    warn = [x for x in p.stdout.splitlines() if x.startswith("warning: damaged raw file quarantined:")]
    assert warn == [
        f"warning: damaged raw file quarantined: {bad} -> "
        f"{Path(settings.raw_dir) / 'quarantine' / 'bad' / 'items-000.jsonl.gz'}"
    ], p.stdout
    assert "Traceback" not in p.stdout + p.stderr
    assert docs(store) == ["0", "1", "2"]
    again = subprocess.run([str(exe), "ingest", "--all"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "warning" not in again.stdout, again.stdout


def test_crawler_resume_reads_post_ids_past_damaged_files(tmp_path):
    """The crawler's resume reads the post ids already written; a damaged file must not stop the crawl."""
    from crawlers.raw import existing_post_ids

    run = tmp_path / "run"
    run.mkdir()
    (run / "items-000.jsonl.gz").write_bytes(gzip.compress(line(post(1)) + b"\xef\xbb\xbf" + line(post(5))))
    _gzip_garbage(run / "items-001.jsonl.gz")
    (run / "items-002.jsonl.gz").write_bytes(
        gzip.compress(
            line(post(2)) + b'[1, 2]\n7\n{"post_id": [1]}\n' + line(post(3, text="XX")).replace(b"XX", b"\xff")
        )
    )
    _directory(run / "items-003.jsonl.gz")
    assert existing_post_ids(run) == {"1", "2", "3", "5"}


# ------------------------------------------------------------------------------------------ damaged lines


def test_bom_at_the_start_of_a_jsonl_is_repaired(settings, store):
    write(settings, "run", "items-000.jsonl", b"\xef\xbb\xbf" + line(post(1)) + line(post(2)))
    r = ingest_pending(settings, store, run_id="run")
    assert docs(store) == ["1", "2"] and r["repaired"] == 1 and r["bad_lines"] == 0


def test_lone_surrogate_escape_becomes_a_replacement_character(settings, store):
    raw = line(post(1, text="ШопОк PLACEHOLDER вернул деньги", author="PLACEHOLDER")).replace(
        b"PLACEHOLDER", b"\\ud800"
    )
    write(settings, "run", "items-000.jsonl.gz", raw + line(post(2)))
    r = ingest_pending(settings, store, run_id="run")
    assert docs(store, "post_id, text, author")[0] == ("1", "ШопОк \ufffd вернул деньги", "\ufffd")
    assert store.query("SELECT count(*) AS n FROM mentions")["n"][0] == 2  # the repaired post is matched too
    assert r["repaired"] == 1 and r["bad_lines"] == 0


def test_invalid_utf8_inside_a_string_becomes_replacement_characters(settings, store):
    raw = line(post(1, text="ШопОк XX вернул", thread_title="Тема XX")).replace(b"XX", b"\xff\xc3(")
    write(settings, "run", "items-000.jsonl.gz", raw)
    r = ingest_pending(settings, store, run_id="run")
    assert docs(store, "text, thread_title") == [("ШопОк \ufffd\ufffd( вернул", "Тема \ufffd\ufffd(")]
    assert r["repaired"] == 1 and r["bad_lines"] == 0


def test_repair_does_not_rescue_what_is_not_json(settings, store):
    """Kept behaviour: what is not JSON (a BOM before garbage, bad bytes outside strings, 50,000 nested brackets
    that would overflow the lenient decoder's stack) is still a counted bad line, not a crash."""
    write(
        settings,
        "run",
        "items-000.jsonl.gz",
        b"\xef\xbb\xbf{not json\n" + b"\xff\xfe garbage\n" + b"[" * 50_000 + b"\n" + line(post(1)),
    )
    r = ingest_pending(settings, store, run_id="run")
    assert r["bad_json"] == 3 and r["repaired"] == 0 and docs(store) == ["1"]


# ------------------------------------------------------------------------------------------ caps


def test_two_million_character_title_is_stored_capped(settings, store):
    huge = "Заголовок " * 200_000  # 2,000,000 characters
    write(
        settings,
        "run",
        "items-000.jsonl.gz",
        line(
            post(
                1,
                thread_title=huge,
                author="A" * 2_000_000,
                author_url="http://x.test/" + "u" * 20_000,
                extra={"blob": "e" * 5_000_000},
            )
        ),
    )
    r = ingest_pending(settings, store, run_id="run")
    title, author, author_url = docs(store, "thread_title, author, author_url")[0]
    assert len(huge) == 2_000_000 and title == huge[:MAX_TITLE_CHARS]
    assert author == "A" * MAX_NAME_CHARS and author_url is None  # a cut URL could point somewhere else
    assert r["oversized"] == 3 and r["bad_lines"] == 0


def test_oversized_ids_and_lines_are_rejected_with_a_reason(settings, store):
    too_long_line = line(post(3, extra={"blob": "x" * MAX_LINE_BYTES}))
    write(
        settings,
        "run",
        "items-000.jsonl.gz",
        line(post(1, url="http://x.test/" + "a" * 10_000))
        + line(post(2, post_id="9" * 1000))
        + too_long_line
        + line(post(4)),
    )
    r = ingest_pending(settings, store, run_id="run")
    assert docs(store) == ["4"]  # and the line after the oversized one is read
    assert r["oversized_id"] == 2 and r["oversized_line"] == 1 and r["bad_lines"] == 3
    assert any(":1: 'url' is 10,014 characters (at most 8,192)" in e for e in r["errors"])
    assert any(":3: line longer than the raw-line cap" in e for e in r["errors"])


# ------------------------------------------------------------------------------------------ invisible text


@pytest.mark.parametrize(
    "text", ["\u200b\u200c\u200d", "\u2060 \ufeff", " \u200b\n\u200d ", "&#8203;&#x200B;", "\u202e\u2066"]
)
def test_text_of_only_invisible_characters_is_no_document(text, settings, store):
    write(settings, "run", "items-000.jsonl.gz", line(post(1, text=text)) + line(post(2)))
    r = ingest_pending(settings, store, run_id="run")
    assert docs(store) == ["2"] and r["empty_text"] == 1
    assert any(":1: text has no visible character" in e for e in r["errors"])


def test_bidi_controls_are_stripped_from_names_and_titles(settings, store):
    bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    write(
        settings,
        "run",
        "items-000.jsonl.gz",
        line(
            post(
                1,
                author="admin\u202egnp.exe",
                thread_title=f"Тема{bidi} про\u200b ШопОк\n\tвторая строка",
                text="ШопОк \u202eвернул\u202c деньги",
            )
        ),
    )
    ingest_pending(settings, store, run_id="run")
    author, title, text = docs(store, "author, thread_title, text")[0]
    assert author == "admingnp.exe" and title == "Тема про ШопОк вторая строка"
    assert text == "ШопОк \u202eвернул\u202c деньги"  # the post's own text is kept as written (RTL text needs them)
    assert store.query("SELECT name FROM authors")["name"].tolist() == ["admingnp.exe"]
