"""Parse CPU per page and per post over saved pages, and a byte-exact dump of what the parsers return.

    .venv/bin/python benchmarks/parse.py save DIR [--threads N]  # demo web pages → DIR (+ manifest.json)
    .venv/bin/python benchmarks/parse.py dump DIR OUT.json       # every page's parse result, json with sorted keys
    .venv/bin/python benchmarks/parse.py bench DIR [--rounds 9]

Pages: tests/crawlers/pages, ../shared/data/forum_pages (when present; read with `parse_any`) and the demo web
pages saved by `save` (read with their source's engine and selectors, as the crawler reads them). `save` walks the
demo web (served in this process on a free port) by following the parsers' own next/thread/board links.
`bench` times only `parse_page`/`parse_any` on already decoded text: per page the least CPU time of `--rounds`
parses (other load on the machine inflates it less), summed per group, per page and per post.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import urllib.request
from collections import deque
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEMO_SOURCES = ("demo-vb", "demo-phpbb", "demo-xf", "demo-ipb", "demo-news", "demo-tg")


def _ctx(source=None):
    from crawlers.parsers import ParseContext

    if source is None:
        return ParseContext(now=NOW)
    return ParseContext(
        source=source.name,
        kind=source.kind,
        tz=source.timezone or "Europe/Moscow",
        now=NOW,
        language=source.language,
        selectors=dict(source.selectors or {}),
    )


def save(out: Path, threads: int = 0, max_pages: int = 3000) -> None:
    from crawlers.encoding import decode_html
    from crawlers.parsers import parse_page
    from crawlers.parsers.telegram import discussion_url
    from demo.web.server import DemoWebServer
    from pipeline.config import load_sources

    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    content = ROOT / "data" / "demo_web"
    if threads:  # the crawl benchmark's workload: extra long threads on each forum
        from benchmarks.crawl import enlarge

        content = out / "content"
        shutil.rmtree(content, ignore_errors=True)
        shutil.copytree(ROOT / "data" / "demo_web", content)
        enlarge(content, threads, 30)
    with DemoWebServer(content, now=NOW) as srv:
        sources = {s.name: s for s in load_sources(ROOT / "data" / "sources.yaml", srv.url)}
        for name in DEMO_SOURCES:
            src = sources[name]
            engine = src.engine if src.kind == "forum" else src.kind
            todo, seen = deque(src.start_urls), set(src.start_urls)
            while todo and len(manifest) < max_pages:
                url = todo.popleft()
                try:
                    with urllib.request.urlopen(url, timeout=10) as r:
                        body, ctype = r.read(), r.headers.get("Content-Type")
                except OSError:  # the demo's fault pages (5xx, timeouts): not parser input
                    continue
                text, _ = decode_html(body, ctype, src.encoding)
                res = parse_page(text, url, engine, _ctx(src))
                fname = f"{name}-{len(manifest):05d}.html"
                (out / fname).write_text(text, encoding="utf-8")
                manifest.append({"file": fname, "url": url, "engine": engine, "source": name})
                nxt = [res.next_url, *res.board_links, *[t.url for t in res.thread_links], *res.extra_urls]
                if engine == "telegram":
                    nxt += [discussion_url(i.url) for i in res.items if i.replies]
                for u in nxt:
                    if u and u.startswith(srv.url) and u not in seen:
                        seen.add(u)
                        todo.append(u)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(f"saved {len(manifest)} demo pages to {out}")


def pages(demo_dir: Path | None) -> list[tuple[str, str, str, object]]:
    """(name, text, url, how): how is None for parse_any, else (engine, ParseContext)."""
    from crawlers.parsers.base import saved_page_url
    from pipeline.config import load_sources

    found = []
    for d in (ROOT / "tests" / "crawlers" / "pages", ROOT.parent / "shared" / "data" / "forum_pages"):
        if d.is_dir():
            for f in sorted(d.rglob("*")):
                if f.suffix in (".html", ".htm", ".json") and f.name not in ("index.json", "manifest.json"):
                    text = f.read_bytes().decode("utf-8", errors="replace")
                    found.append(
                        (
                            str(f.relative_to(ROOT.parent)),
                            text,
                            saved_page_url(text, f"https://example.invalid/{f.name}"),
                            None,
                        )
                    )
    if demo_dir is not None:
        srcs = {s.name: s for s in load_sources(ROOT / "data" / "sources.yaml", "http://127.0.0.1:1")}
        for m in json.loads((demo_dir / "manifest.json").read_text(encoding="utf-8")):
            found.append(
                (
                    m["file"],
                    (demo_dir / m["file"]).read_text(encoding="utf-8"),
                    m["url"],
                    (m["engine"], _ctx(srcs[m["source"]])),
                )
            )
    return found


def run_one(text: str, url: str, how) -> tuple[str, object]:
    from crawlers.parsers import parse_any, parse_page

    if how is None:
        return parse_any(text, url, _ctx())
    return how[0], parse_page(text, url, how[0], how[1])


def dump(demo_dir: Path, out: Path) -> None:
    result = {}
    for name, text, url, how in pages(demo_dir):
        try:
            engine, res = run_one(text, url, how)
            result[name] = {"engine": engine, "result": asdict(res)}
        except Exception as e:  # a page that raises must keep raising the same error
            result[name] = {"error": f"{type(e).__name__}: {e}"}
    out.write_text(json.dumps(result, sort_keys=True, ensure_ascii=False, indent=0), encoding="utf-8")
    n_items = sum(len(v.get("result", {}).get("items", [])) for v in result.values())
    print(f"{len(result)} pages, {n_items} items → {out}")


def bench(demo_dir: Path, rounds: int) -> None:
    """Per page the least CPU time over `rounds` parses (another process's burst inflates single runs, never the
    minimum), summed per group."""
    import gc

    groups: dict[str, list] = {}
    for p in pages(demo_dir):
        key = p[0].split("-0")[0] if p[3] is not None else "saved pages"
        groups.setdefault(key, []).append(p)
    total_cpu = total_pages = total_posts = 0
    print(f"{'group':14s} {'pages':>5s} {'posts':>6s} {'ms/page':>8s} {'µs/post':>8s}")
    gc.collect()
    gc.disable()  # a collection would land on whichever page happens to trigger it
    try:
        for key, ps in groups.items():
            cpu = posts = 0
            for _, t, u, h in ps:
                posts += len(run_one(t, u, h)[1].items)
                best = float("inf")
                for _ in range(rounds):
                    c0 = time.process_time()
                    run_one(t, u, h)
                    best = min(best, time.process_time() - c0)
                cpu += best
            total_cpu, total_pages, total_posts = total_cpu + cpu, total_pages + len(ps), total_posts + posts
            print(f"{key:14s} {len(ps):5d} {posts:6d} {1000 * cpu / len(ps):8.2f} {1e6 * cpu / max(posts, 1):8.1f}")
    finally:
        gc.enable()
    print(
        f"{'all':14s} {total_pages:5d} {total_posts:6d} {1000 * total_cpu / total_pages:8.2f} "
        f"{1e6 * total_cpu / max(total_posts, 1):8.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save")
    s.add_argument("dir", type=Path)
    s.add_argument("--threads", type=int, default=0, help="add this many 30-post threads to each demo forum")
    d = sub.add_parser("dump")
    d.add_argument("dir", type=Path)
    d.add_argument("out", type=Path)
    b = sub.add_parser("bench")
    b.add_argument("dir", type=Path)
    b.add_argument("--rounds", type=int, default=9)
    a = ap.parse_args()
    if a.cmd == "save":
        save(a.dir, a.threads)
    elif a.cmd == "dump":
        dump(a.dir, a.out)
    else:
        bench(a.dir, a.rounds)


if __name__ == "__main__":
    main()
