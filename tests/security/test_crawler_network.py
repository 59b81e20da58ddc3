"""The crawler's network rules against hostile DNS answers, non-public addresses and redirect tricks.

Real Scrapy crawler processes and a real HTTP server on 127.0.0.1. Public DNS is not reachable here, so the crawler
processes answer names from a table: a `sitecustomize` on their PYTHONPATH replaces `socket.getaddrinfo` and
`socket.gethostbyname` (the lowest seam both the address check and Twisted's resolvers use) and logs every lookup.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from brandmon.cli import app

ROOT = Path(__file__).resolve().parents[2]
# A public address: where a pinned connection to a rebinding name must go. Tests never let a packet leave this
# machine: the stubs below refuse every connection to it locally and record the attempt instead.
PUBLIC = "93.184.216.34"

STUB = r'''
import json, os, socket

_TABLE = json.loads(os.environ["BRANDMON_TEST_DNS"])
_LOG = os.environ["BRANDMON_TEST_DNS_LOG"]
_calls = {}
_gai, _ghbn = socket.getaddrinfo, socket.gethostbyname


def _answer(host):
    """The table's next answer for a name it lists (a list of addresses, or None: does not resolve)."""
    if not isinstance(host, str) or host.lower().rstrip(".") not in _TABLE:
        return False
    seq = _TABLE[host.lower().rstrip(".")]
    n = _calls[host] = _calls.get(host, 0) + 1
    got = seq[min(n, len(seq)) - 1]
    with open(_LOG, "a") as fh:
        fh.write(json.dumps([host, got]) + "\n")
    if got is None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return got


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    got = _answer(host)
    if got is False:
        return _gai(host, port, family, type, proto, flags)
    return [i for a in got for i in _gai(a, port, family, type, proto, flags)]


def gethostbyname(host):
    got = _answer(host)
    return _ghbn(host) if got is False else got[0]


socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname

# Connections to the table's public addresses are refused here and logged, so no packet leaves the machine.
_OUTSIDE = {a for seq in _TABLE.values() for ans in seq if ans for a in ans
            if not a.startswith(("127.", "10.", "100.", "169.254.", "::ffff:127"))}
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _refused(address):
    if isinstance(address, tuple) and address and address[0] in _OUTSIDE:
        with open(_LOG, "a") as fh:
            fh.write(json.dumps(["<connect>", [address[0], address[1]]]) + "\n")
        return True
    return False


def connect(self, address):
    if _refused(address):
        raise ConnectionRefusedError(111, "refused by the test's network stub")
    return _connect(self, address)


def connect_ex(self, address):
    return 111 if _refused(address) else _connect_ex(self, address)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
'''

DNS = {
    "rebind.test": [[PUBLIC], ["127.0.0.1"]],  # public to the first question, loopback to any later one
    "mixed.test": [[PUBLIC, "127.0.0.1"]],  # one answer, one of its addresses loopback
    "cgnat.test": [["100.64.12.34"]],
    "metadata.test": [["169.254.169.254"]],
    "alibaba-meta.test": [["100.100.100.200"]],
    "mapped.test": [["::ffff:127.0.0.1"]],
    "nx.test": [None],
}


class _Site(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def do_GET(self):
        with self.lock:
            self.hits[self.path] = self.hits.get(self.path, 0) + 1
        p = self.path
        if p == "/robots.txt":
            return self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if p == "/loop/a":
            return self._redirect("/loop/b")
        if p == "/loop/b":
            return self._redirect("/loop/a")
        if p == "/self":
            return self._redirect("/self")
        if p.startswith("/far/"):
            return self._redirect(f"/far/{int(p.rsplit('/', 1)[1]) + 1}")
        if p == "/to-metadata":
            return self._redirect("http://169.254.169.254/latest/meta-data/")
        if p == "/huge":
            return self._send(200, b"<html><body>" + b"x" * 200_000 + b"</body></html>", "text/html")
        return self._send(200, b"<html><head><title>t</title></head><body><p>hello</p></body></html>", "text/html")

    def _send(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, to):
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def site():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    _Site.hits.clear()
    yield srv.server_address[1], _Site.hits
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def dns_stub(tmp_path, monkeypatch):
    """Crawler processes started from here resolve the names in DNS from the table; returns the lookup log."""
    stub = tmp_path / "dnsstub"
    stub.mkdir()
    (stub / "sitecustomize.py").write_text(STUB, encoding="utf-8")
    log = tmp_path / "dns.log"
    log.touch()
    monkeypatch.setenv("PYTHONPATH", str(stub))
    monkeypatch.setenv("BRANDMON_TEST_DNS", json.dumps(DNS))
    monkeypatch.setenv("BRANDMON_TEST_DNS_LOG", str(log))
    return lambda: [tuple(json.loads(x)) for x in log.read_text().splitlines()]


def _crawl_cli(tmp_path, sources: list[dict], names: list[str], **crawl) -> tuple[dict, dict]:
    """`brandmon crawl --json` over these sources; returns the result and each run's stored error summary."""
    src = tmp_path / "sources.yaml"
    src.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    env = {
        "BRANDMON_SOURCES_FILE": str(src),
        "BRANDMON_BRANDS_FILE": str(ROOT / "data" / "brands.yaml"),
        **{f"BRANDMON_CRAWL__{k.upper()}": str(v) for k, v in crawl.items()},
    }
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "crawl", *[a for n in names for a in ("--source", n)], "--json"]
    r = CliRunner().invoke(app, args, env=env)
    assert r.exit_code in (0, 1), r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    import duckdb

    con = duckdb.connect(str(data / "brandmon.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT source_id, status, errors, error_summary_json FROM crawl_runs").fetchall()
    finally:
        con.close()
    stored = {sid: {"status": st, "errors": n, **json.loads(js)} for sid, st, n, js in rows}
    return res, stored


# ------------------------------------------------------------------------------------------ the address rules


@pytest.mark.parametrize(
    "addr, kind",
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("192.0.0.9", "IETF protocol assignments"),  # Python calls it global
        ("224.0.0.1", "multicast"),  # Python calls it global
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback, 127.0.0.1 in IPv6 form"),
        ("::127.0.0.1", "loopback, 127.0.0.1 in IPv6 form"),  # IPv4-compatible; Python calls it global
        ("64:ff9b::7f00:1", "loopback, 127.0.0.1 in IPv6 form"),  # NAT64; Python calls it global
        ("2002:7f00:1::", "loopback, 127.0.0.1 in IPv6 form"),  # 6to4; Python calls it global
        ("::ffff:100.100.100.200", "cloud metadata, 100.100.100.200 in IPv6 form"),
        ("240.0.0.1", "reserved"),
        ("2001:db8::1", "documentation"),
        (PUBLIC, None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_address_kinds(addr, kind):
    from crawlers.netguard import address_kind, address_refusal

    a = ipaddress.ip_address(addr)
    assert address_kind(a) == kind
    assert (address_refusal(a, local_ok=False) is None) == (kind is None)
    # a local source (the demo web) may reach this machine and private ranges, never a metadata service
    local_allowed = kind is None or kind.split(",")[0] in ("loopback", "private", "link-local", "carrier-grade NAT")
    assert (address_refusal(a, local_ok=True) is None) == local_allowed


def test_one_lookup_per_host_and_the_resolver_hands_out_only_that_answer():
    """Rebinding at the seam: the second DNS answer (loopback) is never asked for nor used."""
    from twisted.internet.address import IPv4Address

    from crawlers.netguard import NetGuard
    from crawlers.pinned_resolver import PinnedResolver

    answers = {"rebind.test": [[PUBLIC], ["127.0.0.1"]], "nx.test": [[]], "lo.test": [["127.0.0.1"]]}
    asked: list[str] = []

    def resolve(host):
        asked.append(host)
        return answers[host][min(asked.count(host), len(answers[host])) - 1]

    g = NetGuard(resolve=resolve)
    assert g.refusal("rebind.test", local_ok=False) is None
    assert g.refusal("nx.test", local_ok=True) == "host nx.test does not resolve"
    assert "loopback" in g.refusal("lo.test", local_ok=False)

    class Receiver:
        def __init__(self):
            self.got, self.done = [], False

        def resolutionBegan(self, r):
            pass

        def addressResolved(self, a):
            self.got.append(a)

        def resolutionComplete(self):
            self.done = True

    res = PinnedResolver(reactor=None, guard=g)
    for _ in range(3):
        rcv = Receiver()
        res.resolveHostName(rcv, "rebind.test", 8080)
        assert rcv.done and rcv.got == [IPv4Address("TCP", PUBLIC, 8080)]
    rcv = Receiver()
    res.resolveHostName(rcv, "lo.test", 80)  # checked and refused for a non-local source: nothing to connect to
    assert rcv.done and rcv.got == []
    assert g.refusal("lo.test", local_ok=True) is None  # a local source's check lets its connection through
    rcv = Receiver()
    res.resolveHostName(rcv, "lo.test", 80)
    assert rcv.got == [IPv4Address("TCP", "127.0.0.1", 80)]
    assert asked == ["rebind.test", "nx.test", "lo.test"]


# ------------------------------------------------------------------------------------------ real crawls


def test_crawler_refuses_rebinding_cgnat_metadata_mapped_and_unresolvable(tmp_path, site, dns_stub):
    port, hits = site
    hits.clear()

    def src(name, url, local=False):
        return {"name": name, "kind": "generic", "start_urls": [url], "local": local}

    refused = {  # source -> words its refusal names
        "mixed": (f"http://mixed.test:{port}/page", "resolves to 127.0.0.1, a private address (loopback)"),
        "cgnat-ip": (f"http://100.64.0.1:{port}/page", "carrier-grade NAT"),
        "cgnat-name": (f"http://cgnat.test:{port}/page", "resolves to 100.64.12.34, a private address (carrier"),
        "metadata-ip": ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),
        "metadata-name": ("http://metadata.test/latest/meta-data/", "resolves to 169.254.169.254"),
        "mapped-ip": (f"http://[::ffff:127.0.0.1]:{port}/page", "127.0.0.1 in IPv6 form"),
        "mapped-name": (f"http://mapped.test:{port}/page", "127.0.0.1 in IPv6 form"),
        "nat64-ip": (f"http://[64:ff9b::7f00:1]:{port}/page", "127.0.0.1 in IPv6 form"),
        "unresolvable": (f"http://nx.test:{port}/page", "host nx.test does not resolve"),
    }
    sources = [src(n, u) for n, (u, _) in refused.items()] + [
        src("rebind", f"http://rebind.test:{port}/page"),
        src("local-meta", "http://alibaba-meta.test/latest/", local=True),  # local allows 127.0.0.1, not this
        src("local-ok", f"http://127.0.0.1:{port}/page", local=True),
    ]
    res, stored = _crawl_cli(tmp_path, sources, [s["name"] for s in sources], retry_times=0, download_timeout=3)
    # the local source, the only one allowed here, is the only one that reached the server: the rebinding name
    # was resolved once, to the public address, and its connections went there
    assert hits == {"/robots.txt": 1, "/page": 1}, hits
    assert [a for h, a in dns_stub() if h == "rebind.test"] == [[PUBLIC]]
    assert {a[0] for h, a in dns_stub() if h == "<connect>"} == {PUBLIC}  # tried there (refused by the stub)
    assert res["sources"]["rebind"]["items"] == 0
    # every other one was refused before any connection, and the run's error summary says why
    blocked = [*refused, "local-meta"]
    assert {n: (stored[n]["status"], stored[n]["errors"], stored[n]["kinds"]) for n in blocked} == {
        n: ("failed", 1, {"BlockedRequest": 1}) for n in blocked
    }
    for name, (url, words) in refused.items():
        sample = stored[name]["samples"][0]
        assert sample["url"] == url and words in sample["message"], (name, sample)
    assert "cloud metadata" in stored["local-meta"]["samples"][0]["message"]


# a crawl of several refusing hosts; the rebinding and metadata refusals stay in the fast tier
@pytest.mark.slow
def test_redirect_loops_and_refused_requests_are_in_the_error_summary(tmp_path, site):
    port, hits = site
    base = f"http://127.0.0.1:{port}"
    sources = [
        {"name": n, "kind": "generic", "local": True, "start_urls": [base + p]}
        for n, p in (
            ("loop", "/loop/a"),
            ("self", "/self"),
            ("far", "/far/0"),
            ("robots-only", "/private/page"),
            ("to-metadata", "/to-metadata"),
            ("huge", "/huge"),
        )
    ]
    res, stored = _crawl_cli(tmp_path, sources, [s["name"] for s in sources], retry_times=0, max_page_bytes=100_000)
    loop, self_loop = stored["loop"], stored["self"]
    assert (loop["status"], loop["errors"], loop["kinds"]) == ("failed", 1, {"RedirectLoop": 1})
    assert loop["samples"][0]["message"] == f"redirect loop: {base}/loop/a -> {base}/loop/b -> {base}/loop/a"
    assert (self_loop["status"], self_loop["kinds"]) == ("failed", {"RedirectLoop": 1})
    assert res["sources"]["loop"]["status"] == "failed" and res["sources"]["loop"]["errors"] == 1
    far = stored["far"]
    assert (far["status"], far["kinds"]) == ("failed", {"TooManyRedirects": 1})
    assert far["samples"][0]["message"] == f"more than 20 redirects from {base}/far/0"
    # robots.txt: a rule kept, not an error, but recorded; a run that fetched nothing but refusals failed
    rob = stored["robots-only"]
    assert (rob["status"], rob["errors"], rob["refused"]) == ("failed", 0, {"robots.txt": 1})
    assert hits.get("/private/page", 0) == 0
    meta = stored["to-metadata"]  # a redirect hop is a new request, refused before it is sent
    assert meta["kinds"] == {"BlockedRequest": 1}
    assert meta["samples"][0]["url"] == "http://169.254.169.254/latest/meta-data/"
    huge = stored["huge"]
    assert huge["status"] == "failed" and huge["errors"] == 1 and "/huge" in huge["samples"][0]["url"]


# ------------------------------------------------------------------------------------------ brandmon parse URL


def test_parse_url_pins_the_checked_address_and_checks_redirect_hops(site, monkeypatch):
    """`brandmon parse URL` fetches with urllib, under the same rules as the crawler."""
    import socket

    port, hits = site
    hits.clear()
    name = f"rebind-{uuid.uuid4().hex[:8]}.test"  # the guard remembers answers for the process: a fresh name
    asked: list[str] = []
    real = socket.getaddrinfo

    def fake(host, *a, **kw):
        if host == name:
            asked.append(host)
            return real(PUBLIC if len(asked) == 1 else "127.0.0.1", *a, **kw)
        return real(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    tried: list[str] = []
    real_connect = socket.socket.connect

    def connect(sock, address):  # no packet leaves the machine: the public address refuses locally
        if address[0] == PUBLIC:
            tried.append(address[0])
            raise ConnectionRefusedError(111, "refused by the test")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    runner = CliRunner()
    env = {"BRANDMON_CRAWL__DOWNLOAD_TIMEOUT": "2"}
    runner.invoke(app, ["parse", f"http://{name}:{port}/page"], env=env)
    assert hits == {} and asked == [name] and tried == [PUBLIC]  # one lookup; connected where it said
    for url, words in (
        (f"http://[::ffff:127.0.0.1]:{port}/page", "127.0.0.1 in IPv6 form"),
        ("http://100.100.100.200/latest/", "cloud metadata"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
    ):
        r = runner.invoke(app, ["parse", url], env=env)
        assert r.exit_code == 2 and "refusing" in r.output and words in r.output, r.output
    # --local reaches this machine, but a redirect to a metadata address is refused before it is connected to
    r = runner.invoke(app, ["parse", "--local", f"http://127.0.0.1:{port}/to-metadata"], env=env)
    assert r.exit_code == 2 and "cloud metadata" in r.output, r.output
    assert hits == {"/to-metadata": 1}
