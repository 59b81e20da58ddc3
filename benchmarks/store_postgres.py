"""The team-server store against the file, in the same process, on a real local PostgreSQL.

    .venv/bin/python benchmarks/store_postgres.py [--posts 20000]

1. Ingest: the same raw run of `--posts` synthetic forum posts (benchmarks/ingest.py's generator) ingested into a
   fresh DuckDB file and into a fresh Postgres database (`store.url`); documents/s of each, their ratio, and whether
   the two stores hold the same rows (benchmarks/ingest.py's digest of the tables).
2. Migrate: `brandmon db migrate --to` of that file into another fresh database; rows/s, against `brandmon db backup`
   of the same file (a byte copy, the floor of any consistent copy).
3. Translation: what the DuckDB-to-Postgres translation costs per statement, first time and from the cache.
4. Sessions: reusing this process's closed server sessions (`PgStore(reuse=True)`, the default) against a new
   session per call (`reuse=False`), alternated rep by rep on one migrated synthetic store (`--mentions`): opening
   a read, a dashboard page run (one session, then every query benchmarks/dashboard.py times for that page), an
   analyst action (assign); and the ingest of step 1 into a fresh database both ways.

The server runs with fsync off (as the tests start it), on the same 2 cores as this process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))  # first: `dashboard` is the package (benchmarks/dashboard.py is loaded by path)


def _raw_run(settings, posts: list[dict]) -> None:
    run = Path(settings.raw_dir) / "bench"
    run.mkdir(parents=True)
    with gzip.open(run / "items-0000.jsonl.gz", "wb", compresslevel=1) as fh:
        fh.write(b"".join(json.dumps(p, ensure_ascii=False).encode() + b"\n" for p in posts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--mentions", type=int, default=20_000, help="the synthetic store of the sessions section")
    ap.add_argument("--reps", type=int, default=15, help="repetitions per case of the sessions section")
    args = ap.parse_args()

    from ingest import make_posts, result_digest

    from pipeline import pg
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
            for kind in ("file", "postgres", "postgres, a session per call"):
                settings = load_settings(
                    data_dir=Path(tmp) / kind,
                    brands_file=ROOT / "data" / "brands.yaml",
                    sources_file=Path(tmp) / "none.yaml",
                )
                if kind != "file":
                    settings.store.url = srv.new_database()
                _raw_run(settings, posts)
                store = Store.from_settings(settings)
                if kind != "file":
                    store.reuse = kind == "postgres"  # type: ignore[attr-defined]
                    pg.close_idle()
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
            t_new = results["postgres, a session per call"][0]
            print(
                f"ingest on postgres with sessions reused {t_pg:.1f} s, with a session per call {t_new:.1f} s: "
                f"reuse takes {t_pg / t_new:.2f}x the time"
            )

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
        sessions(srv, args.mentions, args.reps)
    finally:
        srv.stop()


def sessions(srv, mentions: int, reps: int) -> None:
    """Section 4: reused sessions against a session per call, alternated rep by rep (see the module docstring)."""
    import importlib.util

    import duckdb

    from demo.synthetic import make_synthetic_db
    from pipeline import escalate as esc
    from pipeline import pg
    from pipeline.backup import migrate
    from pipeline.pg_store import PgStore
    from pipeline.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synth.duckdb"
        make_synthetic_db(path, mentions, seed=1)
        url = srv.new_database()
        rows = sum(migrate(Store(path), url).copied.values())
    spec = importlib.util.spec_from_file_location("bench_dashboard", ROOT / "benchmarks" / "dashboard.py")
    assert spec is not None and spec.loader is not None
    bench_dashboard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_dashboard)
    cases = bench_dashboard.cases
    stores = {True: PgStore(url, reuse=True), False: PgStore(url, reuse=False)}
    pages: dict[str, list] = {}
    failing = []
    with stores[False].reader() as con:
        for name, (fn, kw) in cases(datetime.now(UTC).replace(second=0, microsecond=0)).items():
            try:
                fn(con, **kw)
            except duckdb.Error as e:  # left out of the timing, and named
                failing.append(f"{name} ({str(e).splitlines()[0]})")
                continue
            pages.setdefault(name.split(":")[0], []).append((fn, kw))
    eid = (
        stores[True]
        .query(
            "SELECT escalation_id FROM escalations WHERE state IN ('new', 'assigned') ORDER BY escalation_id LIMIT 1"
        )
        .iloc[0, 0]
    )
    owners = iter(["olga", "ivan"] * reps * 2)

    def read(store: PgStore) -> None:
        with store.read() as con:
            con.execute("SELECT 1").fetchall()

    def page_runs(store: PgStore) -> None:
        for queries in pages.values():
            with store.reader() as con:
                for fn, kw in queries:
                    fn(con, **kw)

    def action(store: PgStore) -> None:
        esc.assign(store, eid, next(owners), actor="bench")

    print(f"\nsessions: {mentions:,} synthetic mentions ({rows:,} rows) on the server, {reps} reps each way")
    for f in failing:
        print(f"  left out, fails on the server: {f}")
    for label, fn in [
        ("open a read (store.read(), SELECT 1)", read),
        (f"dashboard page runs ({len(pages)} pages, {sum(map(len, pages.values()))} queries)", page_runs),
        ("an analyst action (escalate.assign)", action),
    ]:
        pg.close_idle()
        fn(stores[True])  # warm: the server's caches, and a session to reuse
        took: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(reps):
            for reuse in (False, True):
                t = time.perf_counter()
                fn(stores[reuse])
                took[reuse].append((time.perf_counter() - t) * 1e3)
        new, kept = statistics.median(took[False]), statistics.median(took[True])
        print(f"  {label}: a session per call {new:.1f} ms, reused {kept:.1f} ms (median): {kept / new:.2f}x the time")


if __name__ == "__main__":
    main()
