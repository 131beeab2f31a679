"""ICMPv6 (RFC 4443): echo, rate-limited errors, Packet Too Big into the path MTU cache,
and the hand-off of Neighbor Discovery and MLD messages to their interface.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netstack.drivers.emac.api import RxFlags
from netstack.stacks.core.link import NetIf
from netstack.stacks.core.ratelimit import TokenBucket
from netstack.wire import ChecksumError, DecodeError
from netstack.wire.icmpv6 import QUOTE_LIMIT, Icmpv6Header, Icmpv6Type, ParameterProblemCode
from netstack.wire.ipv6 import HEADER_LEN, Ipv6Header

if TYPE_CHECKING:
    from netstack.stacks.core.icmp import PingEndpoint
    from netstack.stacks.core.stack import CoreStack

log = logging.getLogger(__name__)

PROTO_ICMPV6 = 58
#: Neighbor Discovery and MLD: their interface's business (RFC 4861, RFC 3810).
_LINK_TYPES = frozenset({130, 131, 132, 133, 134, 135, 136, 137, 143})


@dataclass(slots=True)
class Icmpv6Config:
    error_rate: float = 100.0  # tokens per second (RFC 4443 §2.4 (f))
    error_burst: int = 50
    echo_ignore_multicast: bool = False  # Linux answers echo to multicast by default


@dataclass(slots=True)
class Icmpv6Stats:
    rx_messages: int = 0
    rx_malformed: int = 0
    rx_bad_checksum: int = 0
    rx_echo_requests: int = 0
    rx_echo_replies: int = 0
    rx_errors: int = 0
    rx_packet_too_big: int = 0
    rx_neighbor_discovery: int = 0
    tx_echo_replies: int = 0
    tx_errors: int = 0
    errors_rate_limited: int = 0


class Icmpv6Layer:
    def __init__(self, stack: CoreStack, config: Icmpv6Config | None = None) -> None:
        self.stack = stack
        self.world = stack.world
        self.config = config or Icmpv6Config()
        self.counters = Icmpv6Stats()
        self._errors = TokenBucket(self.config.error_rate, self.config.error_burst,
                                   self.world.now())  # fmt: skip
        #: echo identifier -> endpoint for echo replies (ICMP sockets over IPv6)
        self.endpoints: dict[int, PingEndpoint] = {}

    # -- input -------------------------------------------------------------------------------
    def input(self, netif: NetIf, ip: Ipv6Header, payload: memoryview, flags: RxFlags) -> None:
        c = self.counters
        c.rx_messages += 1
        try:
            hdr, body = Icmpv6Header.parse(payload, src=ip.src, dst=ip.dst)
        except ChecksumError:
            c.rx_bad_checksum += 1
            return
        except DecodeError:
            c.rx_malformed += 1
            return
        kind = hdr.type
        if kind == Icmpv6Type.ECHO_REQUEST:
            c.rx_echo_requests += 1
            self._echo_reply(ip, hdr, body)
        elif kind == Icmpv6Type.ECHO_REPLY:
            c.rx_echo_replies += 1
            ep = self.endpoints.get(hdr.ident)
            if ep is not None:
                ep.deliver(bytes(payload), ip.src)
        elif kind in _LINK_TYPES:
            c.rx_neighbor_discovery += 1
            if netif.ip6 is not None:
                netif.ip6.receive(ip, hdr, body)
        elif hdr.is_error:
            c.rx_errors += 1
            self._error_input(ip, hdr, body)

    def _echo_reply(self, ip: Ipv6Header, hdr: Icmpv6Header, body: memoryview) -> None:
        ipv6 = self.stack.ipv6
        multicast = ip.dst[0] == 0xFF
        if multicast and self.config.echo_ignore_multicast:
            return
        src = None if multicast else ip.dst  # RFC 4443 §4.2: a unicast source of ours
        try:
            if src is None:
                _netif, _hop, src = ipv6.route(ip.src)
            reply = Icmpv6Header(Icmpv6Type.ECHO_REPLY, 0, hdr.rest).build(body, src=src,
                                                                          dst=ip.src)  # fmt: skip
            ipv6.output(src, ip.src, PROTO_ICMPV6, reply, traffic_class=ip.traffic_class)
            self.counters.tx_echo_replies += 1
        except OSError as exc:
            log.debug("echo reply not sent: %s", exc)

    def _error_input(self, ip: Ipv6Header, hdr: Icmpv6Header, body: memoryview) -> None:
        """Route an error to what caused it (RFC 4443 §3, §2.4 (e))."""
        try:
            inner, inner_payload = Ipv6Header.parse(_trim_quote(body))
        except DecodeError:
            self.counters.rx_malformed += 1
            return
        if hdr.type == Icmpv6Type.PACKET_TOO_BIG:
            self.counters.rx_packet_too_big += 1
            self.stack.ipv6.learn_path_mtu(inner.dst, hdr.mtu)  # RFC 8201 §4
            if inner.next_header == 6:
                self.stack.tcp.path_mtu_changed(inner.dst)
            return
        if inner.next_header == 17:
            self.stack.udp.error_input6(hdr.type, hdr.code, inner, inner_payload)
        elif inner.next_header == 6:
            self.stack.tcp.error_input6(hdr.type, inner, inner_payload)
        elif inner.next_header == PROTO_ICMPV6 and len(inner_payload) >= 8:
            ident = int.from_bytes(inner_payload[4:6], "big")
            ep = self.endpoints.get(ident)
            if ep is not None:
                ep.deliver(hdr.build(body, src=ip.src, dst=ip.dst, fill_checksum=False), ip.src)

    # -- errors ------------------------------------------------------------------------------
    def take_token(self) -> bool:
        """One message of the error budget (errors and redirects share it)."""
        if self._errors.take(self.world.now()):
            return True
        self.counters.errors_rate_limited += 1
        return False

    def send_error(
        self, kind: int, code: int, rest: int, invoking: memoryview | bytes, hdr: Ipv6Header
    ) -> None:
        """An error about the packet ``invoking`` (its header ``hdr``) unless RFC 4443
        §2.4 (e) forbids it; rate limited (§2.4 (f))."""
        c = self.counters
        src, dst = hdr.src, hdr.dst
        if src[0] == 0xFF or src == bytes(16):
            return  # (e.6): not to a multicast or unspecified source
        multicast_ok = kind == Icmpv6Type.PACKET_TOO_BIG or (
            kind == Icmpv6Type.PARAMETER_PROBLEM and code == ParameterProblemCode.OPTION
        )
        if dst[0] == 0xFF and not multicast_ok:
            return  # (e.3)
        if (
            hdr.next_header == PROTO_ICMPV6
            and len(invoking) > HEADER_LEN
            and invoking[HEADER_LEN] < 128
        ):
            return  # (e.1): never an error about an error
        if not self.take_token():
            return
        ipv6 = self.stack.ipv6
        try:
            source = dst if dst in ipv6.local else ipv6.route(src)[2]
            quote = bytes(invoking[:QUOTE_LIMIT])
            message = Icmpv6Header(kind, code, rest).build(quote, src=source, dst=src)
            ipv6.output(source, src, PROTO_ICMPV6, message)
            c.tx_errors += 1
        except OSError as exc:
            log.debug("ICMPv6 error not sent: %s", exc)


def _trim_quote(body: memoryview) -> bytes:
    """A quoted packet is usually cut short: make its payload length fit what is there."""
    if len(body) < HEADER_LEN:
        return bytes(body)
    raw = bytearray(body)
    raw[4:6] = (len(raw) - HEADER_LEN).to_bytes(2, "big")
    return bytes(raw)
