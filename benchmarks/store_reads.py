"""Reads while an ingest writes: p95 during a big ingest against an idle store, and what a snapshot publish costs.

    .venv/bin/python benchmarks/store_reads.py [--mentions 1000000] [--posts 100000] [--db keep.duckdb] [--no-live]

Builds a synthetic store (`make_synthetic_db`, default 1M mentions) in a temporary folder. Then:
1. publish cost: `pipeline.snapshot.publish` of that file and of a 100k-mention one (copy, fsync, rename);
2. idle reads: the code paths of `brandmon sql` (`run_read_query`), `brandmon queue` (`escalate.queue`) and the
   dashboard's queue page (`queries.escalation_queue` on a `Store.reader()` connection), each on its own store
   object as a new CLI process would, one round every 0.2 s;
3. the same reads, repeatedly, while another process ingests `--posts` new posts (a raw run of synthetic forum
   posts, `ingest_pending` with the default settings, at `schedule.nice` as `brandmon ingest` runs): p95 and
   refusals, and the ingest's wall time; then while it scores `--score` of those mentions (the score stage's
   batches, one transaction each);
4. (unless --no-live) the same again with snapshots off (`store.snapshots = false`: readers open the live file
   and wait for the writer's lock, as before the snapshots), for the ratio in the same run.
Prints p50/p95 per phase, the ratio during/idle (target <= 1.5 with snapshots) and the load average.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import make_posts  # noqa: E402  (benchmarks/ingest.py: the synthetic forum posts)

from demo.synthetic import make_synthetic_db  # noqa: E402
from pipeline import snapshot  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.store import Store, StoreError  # noqa: E402

WRITER = """
import json, os, sys, time
from pipeline.config import load_settings
from pipeline.ingest import ingest_pending
from pipeline.priority import lower_cpu_priority
from pipeline.store import Store
published = []
_publish = Store.publish
def publish(self, con, force):
    took = _publish(self, con, force)
    if took is not None:
        published.append(took)
    return took
Store.publish = publish
s = load_settings(data_dir=sys.argv[1], brands_file=sys.argv[2], sources_file=sys.argv[3])
# as `brandmon ingest` does in its own process: the default schedule.nice unless --writer-nice says otherwise
nice = lower_cpu_priority(s.schedule.nice if sys.argv[5] == "default" else int(sys.argv[5]))
print("start", nice, flush=True)
t = time.perf_counter()
r = ingest_pending(s, Store.from_settings(s), run_id=sys.argv[4])
out = {"seconds": time.perf_counter() - t, "mentions": r["mentions"], "publishes": published}
print(json.dumps(out), flush=True)
"""


# the score stage's code path (`brandmon score`), on the first N mentions that the shipped model has not scored
SCORER = """
import json, sys, time
from models import registry, scoring
from pipeline.config import load_settings
from pipeline.priority import lower_cpu_priority
from pipeline.store import Store
s = load_settings(data_dir=sys.argv[1], brands_file=sys.argv[2], sources_file=sys.argv[3])
nice = lower_cpu_priority(s.schedule.nice if sys.argv[5] == "default" else int(sys.argv[5]))
store = Store.from_settings(s)
scorer_dir = registry.resolve_model_dir(s, None)
name, version, _ = scoring._model_row(store, scorer_dir)
pending = scoring._pending(store, version, None).head(int(sys.argv[6]))
print("start", nice, flush=True)
t = time.perf_counter()
done, _ = scoring._score_frame(s, store, scorer_dir, pending, name, version, None)
print(json.dumps({"seconds": time.perf_counter() - t, "mentions": done, "publishes": []}), flush=True)
"""


def settings_for(data: Path, snapshots: bool):
    return load_settings(
        data_dir=data,
        brands_file=ROOT / "data" / "brands.yaml",
        sources_file=data / "none.yaml",
        store={"snapshots": snapshots},
    )


def one_round(settings) -> dict[str, float]:
    """One read of each kind, each on a fresh Store as a new process would have; seconds per kind."""
    from dashboard import queries
    from pipeline import escalate as esc
    from pipeline.sql_sandbox import run_read_query

    out = {}
    t = time.perf_counter()
    run_read_query(Store.from_settings(settings), "SELECT count(*) AS n FROM mentions")
    out["sql"] = time.perf_counter() - t
    t = time.perf_counter()
    esc.queue(Store.from_settings(settings), limit=30)
    out["queue"] = time.perf_counter() - t
    t = time.perf_counter()
    with Store.from_settings(settings).reader() as con:
        queries.escalation_queue(con, states=["new", "assigned", "in_progress"], limit=500)
    out["dashboard queue page"] = time.perf_counter() - t
    return out


CATCH_UPS = {"n": 0}
_catch_up = Store.catch_up


def counted_catch_up(self: Store, exact: bool = False) -> bool:
    done = _catch_up(self, exact)
    CATCH_UPS["n"] += done
    return done


Store.catch_up = counted_catch_up  # type: ignore[method-assign]  # how often a reader copied the file itself


def reads(settings, until, every: float = 0.2) -> tuple[list[dict[str, float]], int, list[str]]:
    """Rounds of reads until `until()` is true; (latencies, rounds, errors)."""
    rounds: list[dict[str, float]] = []
    errors: list[str] = []
    while not until():
        t = time.perf_counter()
        try:
            rounds.append(one_round(settings))
        except StoreError as e:
            errors.append(str(e).splitlines()[0])
        time.sleep(max(0.0, every - (time.perf_counter() - t)))
    return rounds, len(rounds) + len(errors), errors


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summary(rounds: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    kinds = rounds[0].keys() if rounds else []
    return {k: (p([r[k] for r in rounds], 50), p([r[k] for r in rounds], 95)) for k in kinds}


def raw_run(data: Path, run_id: str, posts: list[dict]) -> None:
    run = data / "raw" / run_id
    run.mkdir(parents=True)
    with gzip.open(run / "items-0000.jsonl.gz", "wb", compresslevel=1) as fh:
        for q in posts:
            q = {**q, "post_id": f"{run_id}-{q['post_id']}", "url": f"{q['url']}-{run_id}"}
            fh.write(json.dumps(q, ensure_ascii=False).encode() + b"\n")


WRITER_NICE = {"n": 0}  # the niceness the ingest process ran at


def during_ingest(
    data: Path, run_id: str, snapshots: bool, nice: int | None, read: bool = True, score: int = 0
) -> tuple[list[dict[str, float]], int, list[str], dict]:
    """Reads while another process ingests raw run `run_id` (or, with `score`, scores that many mentions)."""
    env = {**os.environ, "BRANDMON_STORE__SNAPSHOTS": "true" if snapshots else "false"}
    args = [str(data), str(ROOT / "data" / "brands.yaml"), str(data / "none.yaml"), run_id]
    args += ["default" if nice is None else str(nice), str(score)]
    code = SCORER if score else WRITER
    w = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert w.stdout is not None
    started = w.stdout.readline().split()
    assert started[0] == "start", started
    WRITER_NICE["n"] = int(started[1])
    rounds, n, errors = reads(settings_for(data, snapshots), lambda: w.poll() is not None) if read else ([], 0, [])
    out, _ = w.communicate()
    if w.returncode != 0:
        raise SystemExit(f"the ingest failed (exit {w.returncode})")
    return rounds, n, errors, json.loads(out.strip().splitlines()[-1])


def publish_cost(path: Path, reps: int = 3) -> tuple[float, float]:
    """(MB, median seconds) of publishing `path`'s snapshot (the file is checkpointed and nobody writes it)."""
    snap = snapshot.snapshot_path(path)
    times = [snapshot.publish(path, snap) for _ in range(reps)]
    return path.stat().st_size / 1e6, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--idle-rounds", type=int, default=40)
    ap.add_argument("--score", type=int, default=3000, help="then read while scoring this many new mentions (0: no)")
    ap.add_argument("--db", type=Path, help="reuse (or build once and keep) the synthetic store at this path")
    ap.add_argument("--no-live", action="store_true", help="skip the phase with snapshots off")
    ap.add_argument(
        "--writer-nice",
        type=int,
        default=None,
        help="run the ingest process at this niceness (default: schedule.nice, as `brandmon ingest` takes it)",
    )
    ap.add_argument(
        "--no-reads", action="store_true", help="only time the ingest with snapshots on and off, nobody reading"
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "none.yaml").write_text("sources: []\n")
        db = data / "brandmon.duckdb"
        if args.db and args.db.exists():
            shutil.copyfile(args.db, db)
        else:
            make_synthetic_db(db, args.mentions, seed=1)
            if args.db:
                shutil.copyfile(db, args.db)
        Store(db).upgrade()

        small = Path(tmp) / "small.duckdb"
        make_synthetic_db(small, 100_000, seed=2)
        costs = [publish_cost(small), publish_cost(db)]
        (Path(tmp) / snapshot.snapshot_path(small).name).unlink()

        posts = make_posts(args.posts)
        raw_run(data, "snap", posts)
        if not args.no_live or args.no_reads:
            raw_run(data, "live", posts)

        if args.no_reads:
            ing = {
                on: during_ingest(data, run, on, args.writer_nice, read=False)[3]
                for on, run in [(True, "snap"), (False, "live")]
            }
            for on, r in ing.items():
                pub = r["publishes"]
                print(
                    f"ingest of {args.posts:,} posts into {args.mentions:,} mentions, "
                    f"snapshots {'on' if on else 'off'}: {r['seconds']:.1f} s"
                    + (f"; {len(pub)} publishes, {sum(pub):.1f} s in all" if pub else "")
                )
            print(
                f"load average (1, 5, 15 min): {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
            )
            return
        s_on = settings_for(data, True)
        Store.from_settings(s_on).catch_up()
        idle_on = [one_round(s_on) for _ in range(args.idle_rounds)]
        CATCH_UPS["n"] = 0
        on, n_on, err_on, ing_on = during_ingest(data, "snap", True, args.writer_nice)
        catch_ups = CATCH_UPS["n"]
        if args.score:
            idle_sc = [one_round(s_on) for _ in range(args.idle_rounds)]
            sc, n_sc, err_sc, ing_sc = during_ingest(data, "snap", True, args.writer_nice, score=args.score)

        if not args.no_live:
            s_off = settings_for(data, False)
            idle_off = [one_round(s_off) for _ in range(args.idle_rounds)]
            off, n_off, err_off, ing_off = during_ingest(data, "live", False, args.writer_nice)
        load = os.getloadavg()

    print(
        f"store: {args.mentions:,} synthetic mentions; ingest of {args.posts:,} posts in another process"
        + f" at niceness {WRITER_NICE['n']}"
    )
    for mb, sec in costs:
        print(f"snapshot publish (copy + fsync + rename): {mb:,.0f} MB in {sec:.2f} s ({mb / sec:,.0f} MB/s)")
    phases = [("snapshots on", idle_on, on, n_on, err_on, ing_on)]
    if args.score:
        phases.append(("snapshots on, scoring", idle_sc, sc, n_sc, err_sc, ing_sc))
    if not args.no_live:
        phases.append(("snapshots off (live file, as before)", idle_off, off, n_off, err_off, ing_off))
    print(f"with snapshots on, readers refreshed the snapshot themselves {catch_ups} times during the ingest")
    for name, idle, during, n, errors, ing in phases:
        print(
            f"\n{name}: {'scoring' if 'scoring' in name else 'ingest'} {ing['seconds']:.1f} s "
            f"({ing['mentions']:,} mentions); reads during it: "
            f"{n} rounds, {len(errors)} failed" + (f" (first: {errors[0][:100]})" if errors else "")
        )
        if ing["publishes"]:
            pub = ing["publishes"]
            print(f"  the ingest published {len(pub)} snapshots, {sum(pub):.1f} s in all ({max(pub):.2f} s at most)")
        si, sd = summary(idle), summary(during)
        for k in si:
            (i50, i95), (d50, d95) = si[k], sd.get(k, (float("nan"), float("nan")))
            print(
                f"  {k:22s} idle p50 {i50 * 1000:7.0f} ms  p95 {i95 * 1000:7.0f} ms | during it "
                f"p50 {d50 * 1000:7.0f} ms  p95 {d95 * 1000:7.0f} ms  ratio p95 {d95 / i95:.2f}x"
            )
    print(
        f"\nload average at the end (1, 5, 15 min): {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
