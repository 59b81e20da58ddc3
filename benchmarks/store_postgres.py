"""The team-server store against the file, in the same process, on a real local PostgreSQL.

    .venv/bin/python benchmarks/store_postgres.py [--posts 20000]

1. Ingest: the same raw run of `--posts` synthetic forum posts (benchmarks/ingest.py's generator) ingested into a
   fresh DuckDB file and into a fresh Postgres database (`store.url`); documents/s of each, their ratio, and whether
   the two stores hold the same rows (benchmarks/ingest.py's digest of the tables).
2. Migrate: `brandmon db migrate --to` of that file into another fresh database; rows/s, against `brandmon db backup`
   of the same file (a byte copy, the floor of any consistent copy).
3. Translation: what the DuckDB-to-Postgres translation costs per statement, first time and from the cache.

The server runs with fsync off (as the tests start it), on the same 2 cores as this process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _raw_run(settings, posts: list[dict]) -> None:
    run = Path(settings.raw_dir) / "bench"
    run.mkdir(parents=True)
    with gzip.open(run / "items-0000.jsonl.gz", "wb", compresslevel=1) as fh:
        fh.write(b"".join(json.dumps(p, ensure_ascii=False).encode() + b"\n" for p in posts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20_000)
    args = ap.parse_args()

    from ingest import make_posts, result_digest

    from pipeline.backup import backup, migrate
    from pipeline.config import load_settings
    from pipeline.dialect import to_postgres
    from pipeline.ingest import ingest_pending
    from pipeline.store import Store
    from tests.pg_server import PgServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries not found (apt-get install postgresql)")
    posts = make_posts(args.posts)
    srv = PgServer(bindir).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for kind in ("file", "postgres"):
                settings = load_settings(
                    data_dir=Path(tmp) / kind,
                    brands_file=ROOT / "data" / "brands.yaml",
                    sources_file=Path(tmp) / "none.yaml",
                )
                if kind == "postgres":
                    settings.store.url = srv.new_database()
                _raw_run(settings, posts)
                store = Store.from_settings(settings)
                store.upgrade()
                t = time.perf_counter()
                r = ingest_pending(settings, store, run_id="bench")
                results[kind] = (time.perf_counter() - t, r, result_digest(store), store)
            (t_file, r, d_file, file_store), (t_pg, _, d_pg, _) = results["file"], results["postgres"]
            docs = r["documents_new"]
            print(f"posts: {len(posts):,}  documents: {docs:,}  mentions: {r['mentions']:,}")
            print(
                f"ingest: file {docs / t_file:,.0f} documents/s ({t_file:.1f} s), postgres {docs / t_pg:,.0f} "
                f"documents/s ({t_pg:.1f} s): postgres takes {t_pg / t_file:.2f}x the file's time; "
                f"same tables: {d_file == d_pg}"
            )
            if d_file != d_pg:
                print("  differing:", {k: (d_file[k], d_pg.get(k)) for k in d_file if d_file[k] != d_pg.get(k)})

            t = time.perf_counter()
            b = backup(file_store, Path(tmp) / "copy.duckdb")
            t_backup = time.perf_counter() - t
            t = time.perf_counter()
            m = migrate(Store(file_store.path), srv.new_database())
            t_migrate = time.perf_counter() - t
            rows = sum(m.copied.values())
            print(
                f"migrate: {rows:,} rows in {t_migrate:.1f} s ({rows / t_migrate:,.0f} rows/s), checksums match: "
                f"{all(m.fingerprints_match.values())}; backup of the same {b.bytes / 1e6:.0f} MB file: "
                f"{t_backup:.2f} s ({t_migrate / t_backup:.0f}x less time)"
            )
            shutil.rmtree(Path(tmp) / "file", ignore_errors=True)

        stmt = """SELECT e.escalation_id, e.priority, e.state, e.owner, d.source_id, d.url, d.posted_at, d.text
            FROM escalations e JOIN mentions m USING (mention_id) LEFT JOIN documents d ON d.doc_id = m.doc_id
            WHERE e.state IN (?, ?, ?) AND (? IS NULL OR e.brand_id = ?) AND (? IS NULL OR e.owner = ?)
            ORDER BY e.priority DESC, e.created_at, e.escalation_id LIMIT ?"""  # the queue listing's shape
        to_postgres.cache_clear()
        t = time.perf_counter()
        to_postgres(stmt)
        first = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(10_000):
            to_postgres(stmt)
        cached = (time.perf_counter() - t) / 10_000
        print(
            f"translation of the queue listing's statement: {first * 1e3:.1f} ms the first time, "
            f"{cached * 1e6:.2f} µs from the cache"
        )
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
