"""The universal extractor's cost beside the engine parsers', measured in one process, and what the crawl's
cross-check sample adds to a crawl's parsing.

    .venv/bin/python benchmarks/universal.py [--rounds 5]

Pages: the saved real and template pages of known engines (tests/crawlers/pages, ../shared/data/forum_pages) and
the demo web's pages (saved here as `benchmarks/parse.py save` does). Per page the least CPU time of `--rounds`
parses with its engine parser and with `universal.extract` (no article extraction, as the cross-check runs it).
A crawl cross-checks the first page with posts of each source (and a few suspect pages), so its extra parse CPU
is about one universal parse per source; the last line puts that beside the engine parsing of the demo crawl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _least(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def _saved_pages() -> list[tuple[str, str, str]]:
    """(text, url, engine) of the saved pages whose engine is known."""
    from crawlers.encoding import decode_html
    from crawlers.parsers import detect_engine
    from crawlers.parsers.base import saved_page_url

    paths = sorted((ROOT / "tests" / "crawlers" / "pages").glob("*.html"))
    shared = ROOT.parent / "shared" / "data" / "forum_pages"
    if shared.is_dir():
        paths += sorted(shared.glob("*/*.html"))
    out = []
    for p in paths:
        text = decode_html(p.read_bytes(), None, None)[0]
        engine = detect_engine(text)
        if engine != "generic":
            out.append((text, saved_page_url(text, f"http://saved.local/{p.name}"), engine))
    return out


def _demo_pages(tmp: Path) -> list[tuple[str, str, str]]:
    from benchmarks.parse import save

    save(tmp)
    manifest = json.loads((tmp / "manifest.json").read_text(encoding="utf-8"))
    return [
        ((tmp / e["file"]).read_text(encoding="utf-8"), e["url"], e["engine"])
        for e in manifest
        if e["engine"] not in ("comments", "generic")
    ]


def measure(pages, rounds: int) -> tuple[float, float]:
    from crawlers.parsers import ParseContext, engine_module
    from crawlers.parsers.universal import extract

    eng = uni = 0.0
    for text, url, engine in pages:
        parse = engine_module(engine).parse
        eng += _least(lambda p=parse, t=text, u=url: p(t, u, ParseContext()), rounds)
        uni += _least(lambda t=text, u=url: extract(t, u, ParseContext(), with_article=False), rounds)
    return eng / len(pages), uni / len(pages)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        groups = {"saved pages of known engines": _saved_pages(), "demo web pages": _demo_pages(Path(tmp))}
        for name, pages in groups.items():
            e, u = measure(pages, args.rounds)
            print(
                f"{name:30} {len(pages):4} pages: engine parser {e * 1000:6.2f} ms/page, universal "
                f"{u * 1000:6.2f} ms/page ({u / e:.1f}x)"
            )
        sources, crawl_pages = 4, 1325  # the crawl benchmark's forums and its default page count
        share = sources * u / (crawl_pages * e + sources * u)
        print(
            f"cross-check sample: {sources} checks in a {crawl_pages}-page demo crawl add {sources * u * 1000:.0f} ms "
            f"to {crawl_pages * e * 1000:.0f} ms of engine parsing ({share:.1%} of the crawl's parse CPU)"
        )


if __name__ == "__main__":
    main()
