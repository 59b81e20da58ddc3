"""Imports, exports and backups, each beside a baseline measured in the same process.

    .venv/bin/python benchmarks/import_export.py [--rows 100000] [--mentions 1000000]

1. Import: a generated CSV of `--rows` review rows → raw run (`import_files`: read, check, write gzipped JSON lines),
   then the ingest of that run, then the same import again (nothing new to store). The import's own share of the
   cost is the ratio of the two.
2. Export: a store of `--mentions` mentions built in SQL, `mentions` to Parquet by DuckDB's COPY (what `brandmon
   export` runs) against the obvious baseline, the rows read into pandas and written by pyarrow; peak RSS growth of
   each (COPY streams, pandas holds everything).
3. Backup: the file copy under a read-only connection (`brandmon db backup`; writers wait for `locked_seconds`)
   against `ATTACH` + `COPY FROM DATABASE` into a new file, which holds the same lock for its whole run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "importexport"))


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


class _PeakRss:
    """Peak resident memory while the block runs, sampled every 5 ms (ru_maxrss survives fork and exec, so a
    child started by a process that already peaked would report the parent's high-water mark)."""

    def __enter__(self) -> _PeakRss:
        self.base = self.peak = _rss_now_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_now_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_now_mb())

    @property
    def rise(self) -> float:
        return self.peak - self.base


def _export(db: str, out: str, how: str) -> tuple[int, float, float]:
    """(rows, seconds, peak RSS rise in MB) of one export of `mentions`, in this (fresh) process."""
    from pipeline.exporting import export_table
    from pipeline.store import Store

    store = Store(db)
    with store.read() as con:
        con.execute("SELECT 1").fetchall()  # DuckDB loaded before the baseline
    t0 = time.perf_counter()
    with _PeakRss() as mem:
        if how == "copy":
            rows = export_table(store, "mentions", out).rows
        else:
            df = store.query("SELECT * FROM mentions")
            df.to_parquet(out)
            rows = len(df)
    return rows, time.perf_counter() - t0, mem.rise


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--mentions", type=int, default=1_000_000)
    args = ap.parse_args()

    from conftest import fill_store, review_table, write_csv  # the tests' generators

    from pipeline.backup import backup
    from pipeline.config import load_settings
    from pipeline.importing import import_files
    from pipeline.ingest import ingest_pending
    from pipeline.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        s = load_settings(
            data_dir=tmp / "data",
            brands_file=ROOT / "data" / "brands.yaml",
            sources_file=ROOT / "data" / "sources.yaml",
        )
        store = Store.from_settings(s)
        store.upgrade()
        csv = write_csv(tmp / "t.csv", review_table(args.rows))
        mapping = "id=ticket,text=body,author=user,posted_at=date,likes=likes"
        t0 = time.perf_counter()
        res = import_files(s, store, [csv], "tickets", mapping)
        t_import = time.perf_counter() - t0
        t0 = time.perf_counter()
        ing = ingest_pending(s, store, run_id=res.run_id)
        t_ingest = time.perf_counter() - t0
        t0 = time.perf_counter()
        res2 = import_files(s, store, [csv], "tickets", mapping)
        ing2 = ingest_pending(s, store, run_id=res2.run_id)
        t_again = time.perf_counter() - t0
        print(
            f"import {args.rows:,} rows ({csv.stat().st_size / 1e6:.1f} MB CSV): rows → raw run {t_import:.1f} s "
            f"({args.rows / t_import:,.0f} rows/s), ingest {t_ingest:.1f} s; import share "
            f"{t_import / (t_import + t_ingest):.0%}; documents new {ing['documents_new']:,}"
        )
        print(
            f"  again: {t_again:.1f} s ({t_again / (t_import + t_ingest):.2f}x the first), documents new "
            f"{ing2['documents_new']}, updated {ing2['documents_updated']}, "
            f"unchanged {ing2['documents_unchanged']:,}"
        )

        big = Store(tmp / "big.duckdb")
        big.upgrade()
        t0 = time.perf_counter()
        fill_store(big, args.mentions)
        print(
            f"store of {args.mentions:,} mentions built in {time.perf_counter() - t0:.1f} s, "
            f"{big.path.stat().st_size / 1e6:.0f} MB"
        )
        # each export in a fresh process, so its peak memory is its own
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            rows, t_copy, rss_copy = pool.apply(_export, (str(big.path), str(tmp / "m.parquet"), "copy"))
        with ctx.Pool(1) as pool:
            _, t_pandas, rss_pandas = pool.apply(_export, (str(big.path), str(tmp / "m_pandas.parquet"), "pandas"))
        print(
            f"export mentions → Parquet: COPY {t_copy:.2f} s ({rows:,} rows), pandas + pyarrow {t_pandas:.2f} s: "
            f"{t_pandas / t_copy:.1f}x; peak RSS rise COPY {rss_copy:.0f} MB, pandas {rss_pandas:.0f} MB"
        )

        b = backup(big, tmp / "backup.duckdb")
        import duckdb

        t0 = time.perf_counter()
        with big.read() as con:
            con.execute(f"ATTACH '{tmp / 'attached.duckdb'}' AS b (READ_WRITE)")
            con.execute("COPY FROM DATABASE big TO b")
            con.execute("DETACH b")
        t_attach = time.perf_counter() - t0
        with duckdb.connect(str(tmp / "attached.duckdb"), read_only=True) as con:
            n = con.execute("SELECT count(*) FROM mentions").fetchone()[0]
        print(
            f"backup of {b.bytes / 1e6:.0f} MB: writers kept out {b.locked_seconds:.2f} s (whole backup "
            f"{b.seconds:.2f} s, incl. checking the copy); ATTACH + COPY FROM DATABASE holds the lock "
            f"{t_attach:.2f} s ({t_attach / b.locked_seconds:.1f}x; {n:,} mentions)"
        )


if __name__ == "__main__":
    main()
