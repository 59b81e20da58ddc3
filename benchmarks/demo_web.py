"""Demo web serving rate: cached pages over keep-alive connections, against a bare HTTP server in the same run.

    .venv/bin/python benchmarks/demo_web.py [--threads 4] [--requests 150] [--rounds 3]

The crawl benchmark (benchmarks/crawl.py) needs the demo web to serve well above 300 pages/s, or it measures the
server instead of the crawler. Here `--threads` client threads each send `--requests` GETs on one keep-alive
connection, alternating a XenForo board and the last page of its longest thread (both rendered and cached before
the clock starts). Baseline, same run and same clients: Python's ThreadingHTTPServer answering every GET with a
fixed body as large as those pages, which is the floor any server on http.server can reach. Best of `--rounds`.
Targets: >= 300 pages/s, and at least a third of the bare server's rate.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import sys
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.web import corpus  # noqa: E402
from demo.web.render_misc import ENTRY  # noqa: E402
from demo.web.server import DemoWebServer, renderer  # noqa: E402

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TARGET_RATE, TARGET_RATIO = 300.0, 0.33


def pages_per_second(port: int, paths: list[str], threads: int, requests: int, rounds: int) -> float:
    def worker(_):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(requests):
            conn.request("GET", paths[i % len(paths)])
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"{paths[i % len(paths)]}: HTTP {r.status}")
        conn.close()
        return requests

    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(threads) as ex:
            n = sum(ex.map(worker, range(threads)))
        best = max(best, n / (time.perf_counter() - t))
    return best


def bare_server(body: bytes) -> ThreadingHTTPServer:
    class Fixed(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # as the demo web: headers and body are two writes

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Fixed)
    httpd.daemon_threads = True
    Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--requests", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    site = corpus.load().sites["xf"]
    t = max(site.threads(), key=lambda t: len(t.posts))
    paths = [ENTRY["xenforo"].format(key="xf"), renderer("xenforo").post_url(site, t, t.posts[-1]).split("#")[0]]
    with DemoWebServer(now=NOW) as srv:
        sizes = []
        for p in paths:  # render and cache both pages before timing
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            conn.request("GET", p)
            sizes.append(len(conn.getresponse().read()))
            conn.close()
        demo = pages_per_second(srv.port, paths, args.threads, args.requests, args.rounds)
    bare = bare_server(b"x" * (sum(sizes) // len(sizes)))
    try:
        base = pages_per_second(bare.server_address[1], paths, args.threads, args.requests, args.rounds)
    finally:
        bare.shutdown()
        bare.server_close()
    ratio = demo / base
    ok = demo >= TARGET_RATE and ratio >= TARGET_RATIO
    print(
        f"{args.threads} client threads x {args.requests} keep-alive GETs, best of {args.rounds}; "
        f"pages of {sizes[0]:,} and {sizes[1]:,} bytes"
    )
    print(f"demo web      : {demo:7.0f} pages/s (target >= {TARGET_RATE:.0f})")
    print(f"bare server   : {base:7.0f} pages/s (baseline, same run)")
    print(f"ratio         : {ratio:7.2f} (target >= {TARGET_RATIO}): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
