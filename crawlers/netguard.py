"""Where the crawler may connect: each host is resolved once per process (one crawl), every address it resolves to
is checked, and connections go to exactly the addresses that were checked.

Checking a name and then letting the connection resolve it again lets a DNS server answer a public address to the
check and 127.0.0.1 to the connection (rebinding). Here the answer is kept: `SafetyMiddleware` checks a request's
host through `GUARD`, Scrapy's connections resolve through `crawlers.pinned_resolver` (the reactor's name
resolver), and `brandmon parse URL` connects through `crawlers.pinned_urllib`; all three read the same answer.

An address is public when `ipaddress` calls it global and it is in none of the ranges below (Python counts
multicast, 192.0.0.9 and IPv6 forms that embed 127.0.0.1 as global). A host that does not resolve is refused.
A source marked `local` (the demo web, tests) may reach private ranges, never a cloud metadata address.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import ParseResult, urlparse

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# cloud instance metadata services: refused even for local sources
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "fd00:ec2::254",  # AWS over IPv6
    )
)

# (network, what it is), looked up before `is_global`: these are named in refusals, and some of them Python calls
# global (multicast, parts of 192.0.0.0/24)
_RANGES = [
    (ipaddress.ip_network(n), what)
    for n, what in (
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("169.254.0.0/16", "link-local"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
        ("192.88.99.0/24", "6to4 relay"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
        ("100::/64", "discard"),
        ("2001:db8::/32", "documentation"),
        ("2001::/32", "Teredo"),
    )
]
# local sources may reach these; everything else that is not public stays refused for them too
_LOCAL_KINDS = {"loopback", "private", "link-local", "carrier-grade NAT", "site-local"}
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class NetworkRefused(OSError):
    """A connection the network rules do not allow (an OSError, so urllib reports it as the reason)."""


def _embedded_ipv4(a: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), 6to4
    (2002:aabb:ccdd::) or NAT64 (64:ff9b::a.b.c.d)."""
    if a.ipv4_mapped is not None:
        return a.ipv4_mapped
    if a.sixtofour is not None:
        return a.sixtofour
    if any(a in n for n in _NAT64) or (int(a) >> 32 == 0 and int(a) > 1):
        return ipaddress.IPv4Address(int(a) & 0xFFFFFFFF)
    return None


def address_kind(a: IPAddress) -> str | None:
    """None for a public address, else what it is ("loopback", "cloud metadata", ...)."""
    if a in METADATA:
        return "cloud metadata"
    if isinstance(a, ipaddress.IPv6Address):
        v4 = _embedded_ipv4(a)
        if v4 is not None:
            inner = address_kind(v4)
            if inner is not None:
                return f"{inner}, {v4} in IPv6 form"
            if a.ipv4_mapped is not None or any(a in n for n in _NAT64) or a.sixtofour is not None:
                return None  # the same public IPv4 host (NAT64 is how IPv6-only networks reach IPv4 sites)
            return "IPv4-compatible (deprecated)"
    for net, what in _RANGES:
        if a.version == net.version and a in net:
            return what
    return None if a.is_global else "not public"


def address_refusal(a: IPAddress, local_ok: bool) -> str | None:
    kind = address_kind(a)
    if kind is None or (local_ok and kind.split(",")[0] in _LOCAL_KINDS):
        return None
    return kind


def lookup(host: str) -> list[str]:
    """The addresses a name resolves to (the system resolver); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return list(dict.fromkeys(str(ai[4][0]) for ai in infos))  # SOCK_STREAM over IPv4/IPv6: (host, port, ...)


@lru_cache(maxsize=4096)
def host_key(host: str) -> str:
    """One spelling per host: lower case, brackets off, IDNA (Twisted hands the resolver the Unicode form)."""
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _parse(addr: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(addr.split("%")[0])
    except ValueError:
        return None


def _stored(addr: str) -> IPAddress:
    """An address from a stored answer: `resolve` keeps only the ones that parse."""
    return ipaddress.ip_address(addr.split("%")[0])


class NetGuard:
    """Per-process store of each host's one DNS answer, and the checks made on it.

    `resolve` is the seam to the system resolver (a test may pass its own). The first answer stored for a host
    is the one every later check and connection uses."""

    def __init__(self, resolve: Callable[[str], list[str]] | None = None):
        self._resolve = resolve
        self._answers: dict[str, tuple[str, ...]] = {}
        self._local: set[str] = set()  # hosts a local source was allowed to reach at non-public addresses
        self._verdicts: dict[tuple[str, bool], str | None] = {}  # (host, local_ok) -> refusal: one check a host
        self._lock = threading.Lock()

    def answer(self, host: str) -> tuple[str, ...] | None:
        """The stored answer for a host, or None when it was not resolved yet."""
        key = host_key(host)
        got = self._answers.get(key)
        if got is None and _parse(key) is not None:  # an address needs no DNS
            got = self._answers[key] = (key,)
        return got

    def resolve(self, host: str) -> tuple[str, ...]:
        """The host's addresses: resolved on first use (blocking), the stored answer after that."""
        got = self.answer(host)
        if got is not None:
            return got
        key = host_key(host)
        if key == "localhost" or key.endswith(".localhost"):
            addrs: Iterable[str] = ["127.0.0.1", "::1"]  # RFC 6761: never asks DNS
        else:
            addrs = (self._resolve or lookup)(key)
        with self._lock:  # a racing lookup may have stored its answer first: that one stays
            return self._answers.setdefault(key, tuple(a for a in addrs if _parse(a) is not None))

    def refusal(self, host: str, local_ok: bool) -> str | None:
        """Why a connection to this host is not allowed, or None (resolves the host on first use)."""
        key = host_key(host)
        try:
            return self._verdicts[(key, local_ok)]
        except KeyError:
            pass
        addrs = self.resolve(host)
        why = None if addrs else f"host {host} does not resolve"
        for a in addrs:
            kind = address_refusal(_stored(a), local_ok)
            if kind is not None:
                why = (
                    f"host {host} is a private address ({kind})"
                    if a == key
                    else f"host {host} resolves to {a}, a private address ({kind})"
                )
                break
        if why is None and local_ok and any(address_kind(_stored(a)) is not None for a in addrs):
            self._local.add(key)
        self._verdicts[(key, local_ok)] = why
        return why

    def connectable(self, host: str) -> list[str]:
        """The addresses a connection to this host may use: the stored answer's, filtered by the rules the host
        was checked under (a host no local source was allowed to reach gets public addresses only)."""
        key = host_key(host)
        local_ok = key in self._local
        return [a for a in self.resolve(host) if address_refusal(_stored(a), local_ok) is None]


GUARD = NetGuard()  # one per process: a crawler process is one crawl


def url_refusal(url: str, allowed_hosts: set[str], parsed: ParseResult | None = None) -> str | None:
    """Why this URL must not be fetched, judged without DNS (scheme, host, the source's hosts), or None."""
    try:
        u = parsed or urlparse(url)
        host = (u.hostname or "").lower()
    except ValueError as e:
        return f"bad URL ({e})"
    if u.scheme not in ("http", "https"):
        return f"scheme {u.scheme or '(none)'!r} is not http(s)"
    if not host:
        return "no host"
    if allowed_hosts and not any(host == h or host.endswith("." + h) for h in allowed_hosts):
        return f"host {host} is not allowed for this source"
    return None


def check_url(url: str, allowed_hosts: set[str], local_ok: bool, guard: NetGuard | None = None) -> str | None:
    """Why this URL must not be fetched, or None when it is fine (resolves the host once, then remembers)."""
    return url_refusal(url, allowed_hosts) or (guard or GUARD).refusal(urlparse(url).hostname or "", local_ok)
