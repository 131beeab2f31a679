"""ICMPv4 (RFC 792, RFC 1122 §3.2.2): echo replies, rate-limited errors, ping endpoints.

Echo replies and errors addressed to this host are delivered to *ping endpoints* — the
model of Linux's unprivileged ICMP sockets: an endpoint binds an identifier, sends echo
requests, and receives the replies carrying that identifier.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netstack.drivers.emac.api import RxFlags
from netstack.errors import AddressInUseError, NoMemoryError
from netstack.stacks.core.link import NetIf
from netstack.stacks.core.ratelimit import TokenBucket
from netstack.wire import ChecksumError, DecodeError
from netstack.wire.icmpv4 import Icmpv4Header, Icmpv4Type, error_quote
from netstack.wire.ipv4 import IpProto, Ipv4Header

if TYPE_CHECKING:
    from netstack.stacks.core.stack import CoreStack

log = logging.getLogger(__name__)

_ERROR_TYPES = frozenset({3, 4, 5, 11, 12})


@dataclass(slots=True)
class IcmpConfig:
    error_rate: float = 100.0  # tokens per second (Linux: icmp_ratelimit ~ 1000 ms / burst)
    error_burst: int = 50
    echo_ignore_broadcasts: bool = True  # as Linux's default
    endpoint_queue: int = 64


@dataclass(slots=True)
class IcmpStats:
    rx_messages: int = 0
    rx_malformed: int = 0
    rx_bad_checksum: int = 0
    rx_echo_requests: int = 0
    rx_echo_replies: int = 0
    rx_errors: int = 0
    tx_echo_replies: int = 0
    tx_errors: int = 0
    errors_rate_limited: int = 0
    endpoint_drops: int = 0


class PingEndpoint:
    """An ICMP endpoint bound to an echo identifier; receives matching replies and errors."""

    __slots__ = ("callback", "closed", "ident", "layer", "queue")

    def __init__(self, layer: IcmpLayer, ident: int) -> None:
        self.layer = layer
        self.ident = ident
        self.queue: deque[tuple[bytes, bytes]] = deque()  # (icmp message, source ip)
        self.callback: Callable[[], None] | None = None
        self.closed = False

    def deliver(self, message: bytes, src: bytes) -> None:
        if len(self.queue) >= self.layer.config.endpoint_queue:
            self.layer.counters.endpoint_drops += 1
            return
        self.queue.append((message, src))
        if self.callback is not None:
            self.callback()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.layer.endpoints.pop(self.ident, None)


class IcmpLayer:
    def __init__(self, stack: CoreStack, config: IcmpConfig | None = None) -> None:
        self.stack = stack
        self.world = stack.world
        self.config = config or IcmpConfig()
        self.counters = IcmpStats()
        self.endpoints: dict[int, PingEndpoint] = {}
        self._errors = TokenBucket(
            self.config.error_rate, self.config.error_burst, self.world.now()
        )

    # -- endpoints ---------------------------------------------------------------------------
    def open_endpoint(self, ident: int | None = None) -> PingEndpoint:
        if ident is None:
            rng = self.world.rng
            for _ in range(64):
                candidate = rng.randrange(1, 0x10000)
                if candidate not in self.endpoints:
                    ident = candidate
                    break
            else:
                raise NoMemoryError("no free ICMP identifier")
        elif ident in self.endpoints:
            raise AddressInUseError(f"ICMP identifier {ident} in use")
        ep = PingEndpoint(self, ident)
        self.endpoints[ident] = ep
        return ep

    # -- input -----------------------------------------------------------------------------
    def input(self, netif: NetIf, ip: Ipv4Header, payload: memoryview, flags: RxFlags) -> None:
        c = self.counters
        c.rx_messages += 1
        try:
            hdr, body = Icmpv4Header.parse(payload)
        except ChecksumError:
            c.rx_bad_checksum += 1
            return
        except DecodeError:
            c.rx_malformed += 1
            return
        kind = hdr.type
        if kind == Icmpv4Type.ECHO_REQUEST:
            c.rx_echo_requests += 1
            if ip.dst not in self.stack.ipv4.local and self.config.echo_ignore_broadcasts:
                return
            reply = Icmpv4Header(Icmpv4Type.ECHO_REPLY, 0, hdr.rest).build(body)
            c.tx_echo_replies += 1
            src = ip.dst if ip.dst in self.stack.ipv4.local else None
            try:
                self.stack.ipv4.output(src, ip.src, IpProto.ICMP, reply, tos=ip.tos)
            except OSError as exc:  # no route back: count and drop
                log.debug("echo reply to %s not sent: %s", ip.src.hex(), exc)
        elif kind == Icmpv4Type.ECHO_REPLY:
            c.rx_echo_replies += 1
            ep = self.endpoints.get(hdr.ident)
            if ep is not None:
                ep.deliver(bytes(payload), ip.src)
        elif kind in _ERROR_TYPES:
            c.rx_errors += 1
            self._error_input(hdr, body, ip)

    def _error_input(self, hdr: Icmpv4Header, body: memoryview, ip: Ipv4Header) -> None:
        """Route an error to the endpoint that caused it (RFC 1122 §3.2.2)."""
        try:
            inner, inner_payload = Ipv4Header.parse(body, verify_checksum=False)
        except DecodeError:
            # The quote may be cut short of its total length; retry with the header only.
            try:
                inner, inner_payload = Ipv4Header.parse(_trim_quote(body), verify_checksum=False)
            except DecodeError:
                self.counters.rx_malformed += 1
                return
        if inner.proto == IpProto.ICMP and len(inner_payload) >= 8:
            try:
                echo, _ = Icmpv4Header.parse(inner_payload, verify_checksum=False)
            except DecodeError:
                return
            ep = self.endpoints.get(echo.ident)
            if ep is not None:
                ep.deliver(hdr.build(body), ip.src)
        elif inner.proto == IpProto.UDP:
            self.stack.udp.error_input(hdr.type, hdr.code, inner, inner_payload)

    # -- errors ----------------------------------------------------------------------------
    def send_error(
        self,
        kind: int,
        code: int,
        offending: Ipv4Header,
        payload: memoryview | bytes,
        *,
        rest: int = 0,
    ) -> None:
        """Send an ICMP error about ``offending`` unless RFC 1122 §3.2.2 forbids it."""
        c = self.counters
        ipv4 = self.stack.ipv4
        dst = offending.dst
        src = offending.src
        if (
            dst in ipv4.broadcast
            or 224 <= dst[0] <= 239
            or src == b"\0\0\0\0"
            or src in ipv4.broadcast
            or 224 <= src[0] <= 239
            or offending.frag_offset != 0
        ):
            return
        if offending.proto == IpProto.ICMP and len(payload) >= 1 and payload[0] not in (0, 8):
            return  # never an error about an error (echo request/reply are queries)
        if not self._errors.take(self.world.now()):
            c.errors_rate_limited += 1
            return
        quote = error_quote(offending.build(payload, fill_checksum=True))
        message = Icmpv4Header(kind, code, rest).build(quote)
        c.tx_errors += 1
        source = dst if dst in ipv4.local else None
        try:
            ipv4.output(source, src, IpProto.ICMP, message)
        except OSError as exc:
            log.debug("ICMP error to %s not sent: %s", src.hex(), exc)


def _trim_quote(body: memoryview) -> bytes:
    """Rewrite a truncated quote's total length so the header parses (quotes are partial)."""
    if len(body) < 20:
        return bytes(body)
    raw = bytearray(body)
    raw[2:4] = len(raw).to_bytes(2, "big")
    return bytes(raw)
