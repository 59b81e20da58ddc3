"""The crawler process's name resolver (Scrapy's `TWISTED_DNS_RESOLVER`): every connection Scrapy makes gets the
addresses `crawlers.netguard.GUARD` stored and checked for its host, never a second DNS answer."""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from crawlers.netguard import GUARD, NetGuard


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str):
        self.name = name

    def cancel(self) -> None:
        pass


@implementer(IHostnameResolver)
class PinnedResolver:
    """Answers with a host's stored, checked addresses. A host no check has seen (a request that skipped the
    middlewares) is resolved once, off the reactor thread, and gets its public addresses only."""

    def __init__(self, reactor, guard: NetGuard | None = None):
        self.reactor = reactor
        self.guard = guard or GUARD

    @classmethod
    def from_crawler(cls, crawler, reactor):
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(self, receiver, hostName, portNumber=0, addressTypes=None, transportSemantics="TCP"):
        resolution = _Resolution(hostName)
        receiver.resolutionBegan(resolution)

        def deliver(addrs: list[str]) -> None:
            for a in addrs:
                addr = IPv6Address("TCP", a, portNumber, 0, 0) if ":" in a else IPv4Address("TCP", a, portNumber)
                if addressTypes is None or any(isinstance(addr, t) for t in addressTypes):
                    receiver.addressResolved(addr)
            receiver.resolutionComplete()  # no address: Twisted fails the connection with DNSLookupError

        if self.guard.answer(hostName) is not None:
            deliver(self.guard.connectable(hostName))
        else:
            d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self.guard.connectable, hostName)
            d.addCallbacks(deliver, lambda _failure: deliver([]))
        return resolution
