"""IPv4 (RFC 791, RFC 1122 §3.2, RFC 1812 §5): input validation, local delivery,
forwarding, fragmentation on output and bounded reassembly on input."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netstack.drivers.emac.api import RxFlags, TxOffload
from netstack.errors import MessageTooLongError, NoAddressError
from netstack.runtime.timer import DeadlineTimer
from netstack.stacks.core.link import NetIf
from netstack.stacks.core.reassembly import Ipv4Reassembler, ReassemblyConfig
from netstack.stacks.core.routing import Route, RoutingTable
from netstack.wire import ChecksumError, DecodeError
from netstack.wire.icmpv4 import Icmpv4Type, TimeExceededCode, UnreachableCode
from netstack.wire.ipv4 import Ipv4Header

if TYPE_CHECKING:
    from netstack.stacks.core.stack import CoreStack

log = logging.getLogger(__name__)

#: A transport's input: (netif, header, payload, flags) -> handled?  False = unknown protocol.
ProtocolHandler = Callable[[NetIf, Ipv4Header, memoryview, RxFlags], None]

LIMITED_BROADCAST = b"\xff\xff\xff\xff"
ANY = b"\x00\x00\x00\x00"
MAX_PAYLOAD = 65535 - 20


@dataclass(slots=True)
class Ipv4Stats:
    rx_packets: int = 0
    rx_delivered: int = 0
    rx_malformed: int = 0
    rx_bad_checksum: int = 0
    rx_not_for_us: int = 0
    rx_martian: int = 0
    rx_unknown_protocol: int = 0
    rx_fragments: int = 0
    rx_reassembled: int = 0
    tx_packets: int = 0
    tx_fragments: int = 0
    tx_no_route: int = 0
    tx_dropped: int = 0
    forwarded: int = 0
    ttl_exceeded: int = 0


class Ipv4Layer:
    """The IPv4 network layer of one stack (all its interfaces)."""

    def __init__(self, stack: CoreStack, reassembly: ReassemblyConfig | None = None) -> None:
        self.stack = stack
        self.world = stack.world
        self.routes: RoutingTable[NetIf] = RoutingTable()
        self.reassembler = Ipv4Reassembler(reassembly)
        self.counters = Ipv4Stats()
        self.handlers: dict[int, ProtocolHandler] = {}
        self.forwarding = False
        self.default_ttl = 64
        #: unicast address -> interface holding it
        self.local: dict[bytes, NetIf] = {}
        #: broadcast addresses we accept (limited + directed of each interface)
        self.broadcast: set[bytes] = {LIMITED_BROADCAST}
        #: joined multicast groups
        self.multicast: set[bytes] = {b"\xe0\x00\x00\x01"}  # all-systems (RFC 1112)
        self._ident = self.world.rng.randrange(0x10000)
        #: destination -> (interface, next hop, source); cleared on any route or address change
        self._route_cache: dict[bytes, tuple[NetIf, bytes, bytes]] = {}
        self._reasm_timer = DeadlineTimer(self.world, self._on_reassembly_timer)

    # -- configuration ---------------------------------------------------------------------
    def refresh_addresses(self, netifs: list[NetIf]) -> None:
        """Rebuild the local and broadcast address sets and connected routes."""
        self._route_cache.clear()
        self.local = {}
        self.broadcast = {LIMITED_BROADCAST}
        for netif in netifs:
            for addr in netif.ipv4:
                self.local[addr.address] = netif
                if addr.prefix_len < 31:
                    self.broadcast.add(addr.broadcast)

    def add_connected_route(self, netif: NetIf, address: bytes, prefix_len: int) -> None:
        mask = (0xFFFFFFFF << (32 - prefix_len)) & 0xFFFFFFFF
        net = int.from_bytes(address, "big") & mask
        self.add_route(Route(net, prefix_len, netif))

    def add_route(self, route: Route[NetIf]) -> None:
        self.routes.add(route)
        self._route_cache.clear()

    def remove_route(self, route: Route[NetIf]) -> bool:
        self._route_cache.clear()
        return self.routes.remove(route)

    def remove_interface_routes(self, netif: NetIf) -> None:
        self._route_cache.clear()
        self.routes.remove_interface(netif)

    # -- input -----------------------------------------------------------------------------
    def input(self, netif: NetIf, data: memoryview, flags: RxFlags) -> None:
        c = self.counters
        c.rx_packets += 1
        try:
            hdr, payload = Ipv4Header.parse(data)
        except ChecksumError:
            c.rx_bad_checksum += 1
            return
        except DecodeError:
            c.rx_malformed += 1
            return
        src = hdr.src
        # RFC 1122 §3.2.1.3: a source must not be broadcast or multicast.
        if src == LIMITED_BROADCAST or 224 <= src[0] <= 239:
            c.rx_martian += 1
            return
        dst = hdr.dst
        if dst in self.local or dst in self.broadcast or dst in self.multicast:
            self._deliver(netif, hdr, payload, flags, data)
        elif 224 <= dst[0] <= 239:
            c.rx_not_for_us += 1
        elif self.forwarding:
            self._forward(netif, hdr, payload, data)
        else:
            c.rx_not_for_us += 1

    def _deliver(
        self, netif: NetIf, hdr: Ipv4Header, payload: memoryview, flags: RxFlags, raw: memoryview
    ) -> None:
        c = self.counters
        if hdr.flags & 1 or hdr.frag_offset:
            c.rx_fragments += 1
            whole = self.reassembler.add(
                (hdr.src, hdr.dst, hdr.proto, hdr.ident),
                hdr.frag_offset,
                bool(hdr.flags & 1),
                bytes(payload),
                bytes(raw[: hdr.header_len]),
                self.world.now(),
            )
            self._arm_reassembly_timer()
            if whole is None:
                return
            c.rx_reassembled += 1
            hdr.flags = 0
            hdr.frag_offset = 0
            hdr.total_length = hdr.header_len + len(whole)
            payload = memoryview(whole)
            flags = RxFlags.NONE  # checksum offload never covers a reassembled datagram
        handler = self.handlers.get(hdr.proto)
        if handler is None:
            c.rx_unknown_protocol += 1
            if hdr.dst in self.local:
                self.stack.icmp.send_error(
                    Icmpv4Type.DEST_UNREACHABLE, UnreachableCode.PROTOCOL, hdr, payload
                )
            return
        c.rx_delivered += 1
        handler(netif, hdr, payload, flags)

    def _arm_reassembly_timer(self) -> None:
        self._reasm_timer.arm(self.reassembler.get_timer())

    def _on_reassembly_timer(self) -> None:
        for _key, raw_header, first in self.reassembler.handle_timer(self.world.now()):
            try:
                hdr, _ = Ipv4Header.parse(raw_header + first[:8], verify_checksum=False)
            except DecodeError:
                continue
            # RFC 792: time exceeded, fragment reassembly time exceeded
            self.stack.icmp.send_error(
                Icmpv4Type.TIME_EXCEEDED, TimeExceededCode.REASSEMBLY, hdr, memoryview(first)
            )
        self._arm_reassembly_timer()

    # -- forwarding (RFC 1812 §5.3) -------------------------------------------------------
    def _forward(self, netif: NetIf, hdr: Ipv4Header, payload: memoryview, raw: memoryview) -> None:
        c = self.counters
        icmp = self.stack.icmp
        if hdr.ttl <= 1:
            c.ttl_exceeded += 1
            icmp.send_error(Icmpv4Type.TIME_EXCEEDED, TimeExceededCode.TTL, hdr, payload)
            return
        route = self.routes.lookup(int.from_bytes(hdr.dst, "big"))
        if route is None:
            c.tx_no_route += 1
            icmp.send_error(Icmpv4Type.DEST_UNREACHABLE, UnreachableCode.NET, hdr, payload)
            return
        out = route.interface
        next_hop = hdr.dst if route.on_link else route.gateway.to_bytes(4, "big")
        hdr.ttl -= 1
        c.forwarded += 1
        if hdr.header_len + len(payload) > out.mtu:
            if hdr.flags & 2:  # DF: RFC 1191 fragmentation needed, with the next-hop MTU
                hdr.ttl += 1
                icmp.send_error(
                    Icmpv4Type.DEST_UNREACHABLE,
                    UnreachableCode.FRAGMENTATION_NEEDED,
                    hdr,
                    payload,
                    rest=out.mtu & 0xFFFF,
                )
                return
            self._fragment_out(out, next_hop, hdr, bytes(payload))
            return
        self._link_out(out, next_hop, hdr.build(payload))

    # -- output ----------------------------------------------------------------------------
    def route(self, dst: bytes) -> tuple[NetIf, bytes, bytes]:
        """(interface, next hop, source address) for ``dst``; NoAddressError if unroutable."""
        cached = self._route_cache.get(dst)
        if cached is not None:
            return cached
        route = self.routes.lookup(int.from_bytes(dst, "big"))
        if route is None or not route.interface.ipv4:
            self.counters.tx_no_route += 1
            raise NoAddressError(f"no route to {'.'.join(map(str, dst))}")
        netif = route.interface
        next_hop = dst if route.on_link else route.gateway.to_bytes(4, "big")
        result = (netif, next_hop, self.source_for(netif, dst))
        if len(self._route_cache) >= 1024:
            self._route_cache.clear()
        self._route_cache[dst] = result
        return result

    @staticmethod
    def source_for(netif: NetIf, dst: bytes) -> bytes:
        """The interface address on ``dst``'s subnet, else its primary address."""
        d = int.from_bytes(dst, "big")
        for a in netif.ipv4:
            mask = (0xFFFFFFFF << (32 - a.prefix_len)) & 0xFFFFFFFF
            if (int.from_bytes(a.address, "big") ^ d) & mask == 0:
                return a.address
        return netif.ipv4[0].address

    def output(
        self,
        src: bytes | None,
        dst: bytes,
        proto: int,
        payload: bytes,
        *,
        ttl: int | None = None,
        tos: int = 0,
        dont_fragment: bool = False,
        netif: NetIf | None = None,
    ) -> None:
        """Send a transport payload; fragments when larger than the interface MTU."""
        if len(payload) > MAX_PAYLOAD:
            raise MessageTooLongError(f"IPv4 payload of {len(payload)} bytes exceeds 65515")
        if dst in self.local or dst[0] == 127:
            self._loopback(src or dst, dst, proto, payload, ttl, tos)
            return
        if netif is not None and (dst == LIMITED_BROADCAST or 224 <= dst[0] <= 239):
            next_hop = dst
            if src is None:
                src = netif.ipv4[0].address if netif.ipv4 else ANY
        else:
            netif, next_hop, chosen = self.route(dst)
            if src is None:
                src = chosen
        self.send_routed(netif, next_hop, src, dst, proto, payload, ttl, tos, dont_fragment)

    def send_routed(
        self,
        netif: NetIf,
        next_hop: bytes,
        src: bytes,
        dst: bytes,
        proto: int,
        payload: bytes,
        ttl: int | None = None,
        tos: int = 0,
        dont_fragment: bool = False,
        offload: TxOffload | None = None,
    ) -> None:
        """Send on a route already chosen with :meth:`route` (transports that need the
        source address for their checksum route once and call this).

        ``offload`` (offsets from the start of the frame; this IPv4 header has no options)
        is for links whose capabilities accept it; a GSO request may exceed the MTU."""
        ident = self._ident
        if offload is not None and offload.gso_type:
            # the driver numbers the segments it cuts ident, ident + 1, …
            data = len(payload) - (offload.hdr_len - offload.csum_start)
            self._ident = (ident - (-data // offload.gso_size)) & 0xFFFF
        else:
            self._ident = (ident + 1) & 0xFFFF
        hdr = Ipv4Header(
            src,
            dst,
            proto,
            ttl=self.default_ttl if ttl is None else ttl,
            tos=tos,
            ident=ident,
            flags=2 if dont_fragment else 0,
        )
        if 20 + len(payload) <= netif.mtu or (offload is not None and offload.gso_type):
            self.counters.tx_packets += 1
            if not netif.link.output_ipv4(hdr.build(payload), next_hop, offload):
                self.counters.tx_dropped += 1
        elif dont_fragment:
            raise MessageTooLongError(f"{len(payload)} bytes exceed the MTU with DF set")
        else:
            self.counters.tx_packets += 1
            self._fragment_out(netif, next_hop, hdr, payload)

    def _fragment_out(self, netif: NetIf, next_hop: bytes, hdr: Ipv4Header, payload: bytes) -> None:
        """RFC 791 §3.2 fragmentation; copies only the options marked 'copied' after the first."""
        mtu = netif.mtu
        base_offset = hdr.frag_offset
        last_has_more = bool(hdr.flags & 1)
        first_options = hdr.options
        later_options = _copied_options(first_options)
        pos = 0
        total = len(payload)
        while pos < total:
            options = first_options if pos == 0 else later_options
            room = (mtu - 20 - len(options)) & ~7
            if room <= 0:
                self.counters.tx_dropped += 1
                return
            chunk = payload[pos : pos + room]
            more = pos + len(chunk) < total or last_has_more
            frag = Ipv4Header(
                hdr.src,
                hdr.dst,
                hdr.proto,
                ttl=hdr.ttl,
                tos=hdr.tos,
                ident=hdr.ident,
                flags=(hdr.flags & 2) | (1 if more else 0),
                frag_offset=base_offset + pos,
                options=options,
            )
            self.counters.tx_fragments += 1
            self._link_out(netif, next_hop, frag.build(chunk))
            pos += len(chunk)

    def _link_out(self, netif: NetIf, next_hop: bytes, packet: bytes) -> None:
        if not netif.link.output_ipv4(packet, next_hop):
            self.counters.tx_dropped += 1

    def _loopback(
        self, src: bytes, dst: bytes, proto: int, payload: bytes, ttl: int | None, tos: int
    ) -> None:
        hdr = Ipv4Header(src, dst, proto, ttl=ttl or self.default_ttl, tos=tos)
        packet = hdr.build(payload)
        netif = self.local.get(dst) or self.stack.loopback_netif()
        self.counters.tx_packets += 1
        self.world.call_soon(lambda: self.input(netif, memoryview(packet), RxFlags.NONE))


def _copied_options(options: bytes) -> bytes:
    """The options with the 'copied' flag (RFC 791), for fragments after the first."""
    out = bytearray()
    i = 0
    n = len(options)
    while i < n:
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= n:
            break
        length = options[i + 1]
        if length < 2:
            break
        if kind & 0x80:
            out += options[i : i + length]
        i += length
    while len(out) % 4:
        out.append(0)
    return bytes(out)
