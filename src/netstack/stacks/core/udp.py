"""UDP (RFC 768, RFC 1122 §4.1): port demultiplexing, endpoints with bounded queues,
ephemeral ports (RFC 6056), broadcast, ICMP port unreachable."""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netstack.drivers.emac.api import RxFlags
from netstack.errors import (
    AddressInUseError,
    ConnectionRefused,
    NetworkError,
    NoAddressError,
    NoMemoryError,
    ParameterError,
)
from netstack.stacks.core.binding import ANY4, ANY6, WILDCARDS, check_local_address, overlaps
from netstack.stacks.core.link import IpHeader, NetIf
from netstack.wire import ChecksumError, DecodeError
from netstack.wire.icmpv4 import Icmpv4Type, UnreachableCode
from netstack.wire.icmpv6 import Icmpv6Type
from netstack.wire.icmpv6 import UnreachableCode as Icmpv6Unreachable
from netstack.wire.ipv4 import IpProto, Ipv4Header
from netstack.wire.ipv6 import Ipv6Header
from netstack.wire.udp import UdpHeader

if TYPE_CHECKING:
    from netstack.stacks.core.stack import CoreStack

EPHEMERAL_LOW = 49152  # RFC 6335 dynamic range, as RFC 6056 recommends
EPHEMERAL_HIGH = 65535
MAX_DATAGRAM = 65507


@dataclass(slots=True)
class UdpConfig:
    rcvbuf: int = 212992  # bytes queued per endpoint (Linux rmem_default)
    max_queue: int = 1024  # datagrams queued per endpoint


@dataclass(slots=True)
class UdpStats:
    rx_datagrams: int = 0
    rx_delivered: int = 0
    rx_malformed: int = 0
    rx_bad_checksum: int = 0
    rx_no_port: int = 0
    rx_queue_full: int = 0
    tx_datagrams: int = 0


class UdpEndpoint:
    """A bound UDP port: its receive queue, optional connected peer, readiness callback."""

    __slots__ = (
        "broadcast",
        "callback",
        "closed",
        "groups",
        "layer",
        "local_ip",
        "local_port",
        "max_queue",
        "peer_ip",
        "peer_port",
        "peer_scope",
        "pending_error",
        "queue",
        "queued_bytes",
        "rcvbuf",
        "reuse",
        "ttl",
    )

    def __init__(self, layer: UdpLayer) -> None:
        self.layer = layer
        self.local_ip = ANY4
        self.local_port = 0
        self.peer_ip: bytes | None = None
        self.peer_port = 0
        self.peer_scope = 0  # the interface of a link-local IPv6 peer
        self.queue: deque[tuple[bytes, bytes, int]] = deque()  # (data, src ip, src port)
        self.queued_bytes = 0
        self.rcvbuf = layer.config.rcvbuf
        self.max_queue = layer.config.max_queue
        self.callback: Callable[[], None] | None = None
        self.broadcast = False
        self.reuse = False
        self.closed = False
        self.ttl: int | None = None
        self.pending_error: int = 0
        #: IPv6 multicast groups joined through this socket: (group, interface index)
        self.groups: set[tuple[bytes, int]] = set()

    @property
    def bound(self) -> bool:
        return self.local_port != 0

    def deliver(self, data: bytes, src_ip: bytes, src_port: int) -> None:
        n = len(data)
        if self.queued_bytes + n > self.rcvbuf or len(self.queue) >= self.max_queue:
            self.layer.counters.rx_queue_full += 1
            return
        self.queue.append((data, src_ip, src_port))
        self.queued_bytes += n
        self.layer.counters.rx_delivered += 1
        cb = self.callback
        if cb is not None:
            cb()

    def receive(self) -> tuple[bytes, bytes, int] | None:
        """Pop the oldest datagram, or None if the queue is empty."""
        if self.pending_error:
            code, self.pending_error = self.pending_error, 0
            if code == errno.ECONNREFUSED:
                raise ConnectionRefused("port unreachable at the peer (ICMP)")
            raise NetworkError(f"ICMP error {code}")
        if not self.queue:
            return None
        item = self.queue.popleft()
        self.queued_bytes -= len(item[0])
        return item

    def readable(self) -> bool:
        return bool(self.queue) or bool(self.pending_error)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for group, index in list(self.groups):
                self.layer.membership(self, group, index, join=False)
            self.layer.unbind(self)
            self.queue.clear()
            self.queued_bytes = 0
            self.callback = None


class UdpLayer:
    def __init__(self, stack: CoreStack, config: UdpConfig | None = None) -> None:
        self.stack = stack
        self.world = stack.world
        self.config = config or UdpConfig()
        self.counters = UdpStats()
        self.ports: dict[int, list[UdpEndpoint]] = {}

    def open(self) -> UdpEndpoint:
        return UdpEndpoint(self)

    # -- binding -----------------------------------------------------------------------------
    def bind(self, ep: UdpEndpoint, ip: bytes, port: int) -> None:
        if ep.bound:
            raise ParameterError("socket already bound")
        check_local_address(ip, self.stack.ip_layer(ip).local)
        if port == 0:
            port = self._ephemeral(ip)
        else:
            for other in self.ports.get(port, ()):
                if overlaps(other.local_ip, ip) and not (ep.reuse and other.reuse):
                    raise AddressInUseError(f"UDP port {port} in use")
        ep.local_ip = ip
        ep.local_port = port
        self.ports.setdefault(port, []).append(ep)

    def _ephemeral(self, ip: bytes) -> int:
        """RFC 6056 algorithm 1: a random start, then the next free port."""
        span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1
        start = self.world.rng.randrange(span)
        for i in range(span):
            port = EPHEMERAL_LOW + (start + i) % span
            if port not in self.ports:
                return port
        raise NoMemoryError("no free ephemeral UDP port")

    def unbind(self, ep: UdpEndpoint) -> None:
        eps = self.ports.get(ep.local_port)
        if eps and ep in eps:
            eps.remove(ep)
            if not eps:
                del self.ports[ep.local_port]

    def membership(self, ep: UdpEndpoint, group: bytes, index: int, *, join: bool) -> None:
        """Join or leave an IPv6 multicast group on one interface (``index``) or on every
        interface with IPv6 (0); the interfaces report it with MLDv2 (RFC 3810)."""
        if len(group) != 16 or group[0] != 0xFF:
            raise ParameterError("not an IPv6 multicast group (IPv4 multicast is not supported)")
        netifs = [n for n in self.stack.netifs if n.ip6 is not None and n.ip6.enabled]
        if index:
            netifs = [n for n in netifs if n.index == index]
        if not netifs:
            raise NoAddressError("no interface with IPv6 for the group")
        key = (group, index)
        if join == (key in ep.groups):
            return
        for netif in netifs:
            ip6 = netif.ip6
            assert ip6 is not None
            if join:
                ip6.join(group)
            else:
                ip6.leave(group)
        if join:
            ep.groups.add(key)
        else:
            ep.groups.discard(key)

    # -- input -----------------------------------------------------------------------------
    def input(self, netif: NetIf, ip: IpHeader, payload: memoryview, flags: RxFlags) -> None:
        c = self.counters
        c.rx_datagrams += 1
        src = ip.src
        dst = ip.dst
        try:
            if flags and flags & RxFlags.CSUM_VALID:  # IntFlag '&' is slow: test 0 first
                hdr, data = UdpHeader.parse(payload)
            else:
                hdr, data = UdpHeader.parse(payload, src=src, dst=dst)
        except ChecksumError:
            c.rx_bad_checksum += 1
            return
        except DecodeError:
            c.rx_malformed += 1
            return
        eps = self.ports.get(hdr.dst_port)
        local = self.stack.ip_layer(dst).local
        if eps:
            unicast = dst in local
            if len(eps) == 1 and unicast:
                ep = eps[0]
                if (ep.local_ip == dst or ep.local_ip in WILDCARDS) and (
                    ep.peer_ip is None or (ep.peer_ip == src and ep.peer_port == hdr.src_port)
                ):
                    ep.deliver(bytes(data), src, hdr.src_port)
                    return
            else:
                delivered = False
                for ep in list(eps):
                    if ep.local_ip not in WILDCARDS and ep.local_ip != dst and unicast:
                        continue
                    if ep.peer_ip is not None and (
                        ep.peer_ip != src or ep.peer_port != hdr.src_port
                    ):
                        continue
                    ep.deliver(bytes(data), src, hdr.src_port)
                    delivered = True
                    if unicast:
                        break
                if delivered:
                    return
        c.rx_no_port += 1
        if dst not in local:
            return
        if isinstance(ip, Ipv4Header):
            self.stack.icmp.send_error(
                Icmpv4Type.DEST_UNREACHABLE, UnreachableCode.PORT, ip, payload
            )
        elif isinstance(ip, Ipv6Header):
            self.stack.icmpv6.send_error(
                Icmpv6Type.DEST_UNREACHABLE, Icmpv6Unreachable.PORT, 0, ip.build(payload), ip
            )

    def error_input(
        self, kind: int, code: int, inner: Ipv4Header, inner_payload: memoryview
    ) -> None:
        """An ICMP error quoting one of our datagrams: report it to a connected endpoint."""
        if kind == Icmpv4Type.DEST_UNREACHABLE and code in (2, 3):
            self._refused(inner.dst, inner_payload)

    def error_input6(
        self, kind: int, code: int, inner: Ipv6Header, inner_payload: memoryview
    ) -> None:
        """An ICMPv6 error quoting one of our datagrams (RFC 4443 §3.1 port unreachable)."""
        if kind == Icmpv6Type.DEST_UNREACHABLE and code == Icmpv6Unreachable.PORT:
            self._refused(inner.dst, inner_payload)

    def _refused(self, peer: bytes, quoted: memoryview) -> None:
        if len(quoted) < 4:
            return
        src_port = int.from_bytes(quoted[0:2], "big")
        dst_port = int.from_bytes(quoted[2:4], "big")
        for ep in self.ports.get(src_port, ()):
            if ep.peer_ip == peer and ep.peer_port == dst_port:
                ep.pending_error = errno.ECONNREFUSED
                if ep.callback is not None:
                    ep.callback()

    # -- output ----------------------------------------------------------------------------
    def sendto(
        self, ep: UdpEndpoint, dst_ip: bytes, dst_port: int, data: bytes, scope_id: int = 0
    ) -> int:
        if len(data) > MAX_DATAGRAM:
            raise ParameterError(f"UDP datagram of {len(data)} bytes exceeds {MAX_DATAGRAM}")
        if dst_port == 0:
            raise NoAddressError("destination port 0")
        if len(dst_ip) == 16:
            return self._sendto6(ep, dst_ip, dst_port, data, scope_id)
        ipv4 = self.stack.ipv4
        broadcast = dst_ip == b"\xff\xff\xff\xff" or dst_ip in ipv4.broadcast
        if broadcast and not ep.broadcast:
            raise ParameterError("broadcast needs SO_BROADCAST")
        local = ep.local_ip
        if len(local) == 16 and local not in WILDCARDS:
            raise ParameterError("an IPv6-bound socket cannot send to IPv4")
        if not ep.bound:
            self.bind(ep, ANY4, 0)
        if dst_ip in ipv4.local or dst_ip[0] == 127 or dst_ip[0] >= 224 or broadcast:
            # loopback, multicast and broadcast go through the general output path
            netif = None
            src = dst_ip if local in WILDCARDS else local
            if dst_ip == b"\xff\xff\xff\xff" or dst_ip[0] >= 224:
                netif = self.stack.default_netif(local)
                if netif is None:
                    raise NoAddressError("no interface for broadcast")
                if local in WILDCARDS:
                    src = netif.ipv4[0].address if netif.ipv4 else ANY4
            elif broadcast and local in WILDCARDS:
                src = ipv4.route(dst_ip)[2]
            segment = UdpHeader(ep.local_port, dst_port).build(data, src=src, dst=dst_ip)
            ipv4.output(src, dst_ip, IpProto.UDP, segment, ttl=ep.ttl, netif=netif)
        else:
            out, next_hop, src = ipv4.route(dst_ip)
            if local not in WILDCARDS:
                src = local
            segment = UdpHeader(ep.local_port, dst_port).build(data, src=src, dst=dst_ip)
            ipv4.send_routed(out, next_hop, src, dst_ip, IpProto.UDP, segment, ep.ttl)
        self.counters.tx_datagrams += 1
        return len(data)

    def _sendto6(
        self, ep: UdpEndpoint, dst_ip: bytes, dst_port: int, data: bytes, scope_id: int
    ) -> int:
        ipv6 = self.stack.ipv6
        local = ep.local_ip
        if not ep.bound:
            self.bind(ep, ANY6, 0)
        if len(local) == 4 and local not in WILDCARDS:
            raise ParameterError("an IPv4-bound socket cannot send to IPv6")
        netif, next_hop, src = ipv6.route(dst_ip, scope_id)
        if local not in WILDCARDS:
            src = local
        segment = UdpHeader(ep.local_port, dst_port).build(data, src=src, dst=dst_ip)
        if dst_ip in ipv6.local:
            ipv6.output(src, dst_ip, IpProto.UDP, segment, hop_limit=ep.ttl)
        else:
            ipv6.send_routed(netif, next_hop, src, dst_ip, IpProto.UDP, segment, ep.ttl)
        self.counters.tx_datagrams += 1
        return len(data)
