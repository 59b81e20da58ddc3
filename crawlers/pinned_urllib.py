"""A urllib opener under the crawler's network rules (`brandmon parse URL`): each connection, redirects included,
is checked by `crawlers.netguard` before it is made and goes to the addresses that were checked; no proxies, no
scheme but http(s)."""

from __future__ import annotations

import http.client
import socket
import urllib.request
from functools import partial

from crawlers.netguard import GUARD, NetGuard, NetworkRefused


def _connect(guard: NetGuard, local_ok: bool, address, timeout, source_address=None):
    # http.client always passes its timeout (a number, None or socket's private "global default" sentinel)
    host, port = address
    why = guard.refusal(host, local_ok)
    if why:
        raise NetworkRefused(why)
    err: OSError = NetworkRefused(f"host {host}: no address to connect to")
    for a in guard.connectable(host):
        try:
            return socket.create_connection((a, port), timeout, source_address)
        except OSError as e:
            err = e
    raise err


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *a, guard: NetGuard, local_ok: bool, **kw):
        super().__init__(*a, **kw)
        self._create_connection = partial(_connect, guard, local_ok)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *a, guard: NetGuard, local_ok: bool, **kw):
        super().__init__(*a, **kw)  # TLS still checks the certificate against the host name
        self._create_connection = partial(_connect, guard, local_ok)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """http(s) redirects only (urllib's own follows ftp:// too, through a handler that is not pinned)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not newurl.lower().startswith(("http://", "https://")):
            raise NetworkRefused(f"redirect to {newurl}: not http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def pinned_opener(local_ok: bool, guard: NetGuard | None = None) -> urllib.request.OpenerDirector:
    g = guard or GUARD

    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(partial(_PinnedHTTPConnection, guard=g, local_ok=local_ok), req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req):
            kw = {"context": self._context}
            if getattr(self, "_check_hostname", None) is not None:  # Python 3.11 still passes it
                kw["check_hostname"] = self._check_hostname
            return self.do_open(partial(_PinnedHTTPSConnection, guard=g, local_ok=local_ok), req, **kw)

    opener = urllib.request.OpenerDirector()
    for h in (
        HTTP(),
        HTTPS(),
        _RedirectHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(h)
    return opener
