"""IPv6 (RFC 8200) on the shared core: validation, extension headers, reassembly,
fragmentation at the source, path MTU (RFC 8201), routing and forwarding.

The per-interface protocol state — addresses with their DAD and lifetimes, multicast
groups, Neighbor Discovery, router and prefix lists — lives in each interface's
:class:`~netstack.stacks.core.ipv6_interface.Ipv6Interface` (``netif.ip6``); this layer
moves packets. Upper layers register a handler per protocol number and get
``(netif, header, payload, flags)`` with the header's ``next_header`` already the
upper-layer protocol.

Extension headers (RFC 8200 §4): Hop-by-Hop and Destination Options are processed with the
two action bits of unknown options (§4.2); a Routing header with segments left is refused
with a Parameter Problem (no source routing, RFC 5095); a Fragment header goes to a bounded
reassembler keyed by (source, destination, identification), atomic fragments (RFC 6946)
pass straight through, overlapping fragments drop the datagram (RFC 5722). An unknown next
header gets a Parameter Problem code 1 pointing at the field that named it.
"""

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
from netstack.wire import DecodeError
from netstack.wire.icmpv6 import Icmpv6Type, ParameterProblemCode, TimeExceededCode
from netstack.wire.ipv6 import (
    HEADER_LEN,
    MIN_MTU,
    DestinationOptions,
    FragmentHeader,
    HopByHopOptions,
    Ipv6Header,
    OptionAction,
    RoutingHeader,
    is_link_local,
    walk_extension_headers,
)

if TYPE_CHECKING:
    from netstack.stacks.core.stack import CoreStack

log = logging.getLogger(__name__)

Ipv6Handler = Callable[[NetIf, Ipv6Header, memoryview, RxFlags], None]

ANY6 = bytes(16)
LOOPBACK6 = bytes(15) + b"\x01"
_NO_NEXT_HEADER = 59
_MAX_PAYLOAD = 65535
#: How long a learned path MTU holds before it is probed again (RFC 8201 §4: at least 5
#: minutes, 10 recommended).
PMTU_EXPIRY = 600.0
#: How many learned path MTUs are kept (the oldest is forgotten beyond that).
PMTU_CACHE_SIZE = 1024


@dataclass(slots=True)
class Ipv6Stats:
    rx_packets: int = 0
    rx_malformed: int = 0
    rx_martian: int = 0  # multicast or loopback source
    rx_not_for_us: int = 0
    rx_delivered: int = 0
    rx_unknown_header: int = 0
    rx_bad_option: int = 0
    rx_routing_refused: int = 0
    rx_fragments: int = 0
    rx_atomic_fragments: int = 0
    rx_reassembled: int = 0
    rx_no_next_header: int = 0
    tx_packets: int = 0
    tx_fragments: int = 0
    tx_dropped: int = 0
    forwarded: int = 0
    hop_limit_exceeded: int = 0
    pmtu_updates: int = 0


class Ipv6Layer:
    """IPv6 packets in and out of every interface with IPv6 enabled (``netif.ip6``)."""

    def __init__(self, stack: CoreStack, reassembly: ReassemblyConfig | None = None) -> None:
        self.stack = stack
        self.world = stack.world
        self.counters = Ipv6Stats()
        #: usable unicast addresses (not tentative) -> interface
        self.local: dict[bytes, NetIf] = {}
        self.routes: RoutingTable[NetIf] = RoutingTable(bits=128)
        self.handlers: dict[int, Ipv6Handler] = {}
        self.forwarding = False
        self.default_hop_limit = 64
        self.reassembler = Ipv4Reassembler(reassembly or ReassemblyConfig(timeout=60.0))
        self._reasm_timer = DeadlineTimer(self.world, self._on_reassembly_timer)
        #: destination -> (path MTU, expiry) learned from Packet Too Big (RFC 8201)
        self._pmtu: dict[bytes, tuple[int, float]] = {}

    # -- addresses and routes ----------------------------------------------------------------
    def refresh_addresses(self, netifs: list[NetIf]) -> None:
        """Recompute :attr:`local` from the interfaces' usable addresses."""
        local: dict[bytes, NetIf] = {}
        for netif in netifs:
            ip6 = netif.ip6
            if ip6 is not None and netif.up:
                for address in ip6.usable_addresses():
                    local.setdefault(address, netif)
        self.local = local

    def add_route(self, network: bytes, prefix_len: int, netif: NetIf, gateway: bytes = ANY6,
                  metric: int = 0) -> Route[NetIf]:  # fmt: skip
        route = Route(_int(network), prefix_len, netif, _int(gateway), metric)
        self.routes.add(route)
        return route

    def remove_route(self, route: Route[NetIf]) -> bool:
        return self.routes.remove(route)

    def remove_interface_routes(self, netif: NetIf) -> None:
        self.routes.remove_interface(netif)

    def path_mtu(self, dst: bytes, netif: NetIf) -> int:
        """The MTU towards ``dst``: the interface's, or less if a router said so."""
        mtu = netif.ip6.mtu if netif.ip6 is not None else netif.mtu
        learned = self._pmtu.get(dst)
        if learned is not None:
            if learned[1] > self.world.now():
                return min(mtu, learned[0])
            del self._pmtu[dst]
        return mtu

    def learn_path_mtu(self, dst: bytes, mtu: int) -> None:
        """A Packet Too Big for ``dst`` (RFC 8201 §4): never below the IPv6 minimum."""
        mtu = max(mtu, MIN_MTU)
        current = self._pmtu.get(dst)
        if current is not None and current[0] <= mtu:
            return
        if len(self._pmtu) >= PMTU_CACHE_SIZE and current is None:
            self._pmtu.pop(next(iter(self._pmtu)))
        self._pmtu[dst] = (mtu, self.world.now() + PMTU_EXPIRY)
        self.counters.pmtu_updates += 1

    # -- routing -------------------------------------------------------------------------------
    def route(self, dst: bytes, scope_id: int = 0) -> tuple[NetIf, bytes, bytes]:
        """(interface, next hop, source address) for ``dst``; :class:`NoAddressError` if none.

        Link-local and link-scoped multicast destinations need ``scope_id`` (the interface
        index) unless only one interface has IPv6. Otherwise: the longest matching route
        (connected prefixes, on-link prefixes from RAs, static routes), then the default
        router of an interface (RFC 4861 §6.3.6)."""
        now = self.world.now()
        if dst in self.local:
            netif = self.local[dst]
            return netif, dst, dst
        if is_link_local(dst) or (dst[0] == 0xFF and dst[1] & 0x0F <= 2):
            netif = self._scoped_netif(scope_id)
            return netif, dst, self.source_for(netif, dst)
        for netif in self._ipv6_netifs():
            better = netif.ip6.redirect_for(dst) if netif.ip6 is not None else None
            if better is not None:  # RFC 4861 §8.3
                return netif, better, self.source_for(netif, dst)
        route = self.routes.lookup(_int(dst))
        if route is not None and route.prefix_len > 0:
            return self._via(route, dst)
        for netif in self._ipv6_netifs():
            ip6 = netif.ip6
            assert ip6 is not None
            if ip6.is_on_link(dst, now):
                return netif, dst, self.source_for(netif, dst)
        if route is not None:  # a static default route
            return self._via(route, dst)
        for netif in self._ipv6_netifs():
            ip6 = netif.ip6
            assert ip6 is not None
            router = ip6.default_router(now)
            if router is not None:
                return netif, router, self.source_for(netif, dst)
        raise NoAddressError(f"no IPv6 route to {_fmt(dst)}")

    def _via(self, route: Route[NetIf], dst: bytes) -> tuple[NetIf, bytes, bytes]:
        netif = route.interface
        next_hop = dst if route.gateway == 0 else route.gateway.to_bytes(16, "big")
        return netif, next_hop, self.source_for(netif, dst)

    def _ipv6_netifs(self) -> list[NetIf]:
        return [n for n in self.stack.netifs if n.up and n.ip6 is not None and n.ip6.enabled]

    def _scoped_netif(self, scope_id: int) -> NetIf:
        candidates = self._ipv6_netifs()
        if scope_id:
            for netif in candidates:
                if netif.index == scope_id:
                    return netif
            raise NoAddressError(f"no IPv6 interface with index {scope_id}")
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise NoAddressError("no interface has IPv6")
        raise NoAddressError("a link-local destination needs a scope id (interface index)")

    def source_for(self, netif: NetIf, dst: bytes) -> bytes:
        """RFC 6724 §5, simplified: same scope first, preferred before deprecated; a
        link-local destination gets the link-local address."""
        ip6 = netif.ip6
        if ip6 is None:
            raise NoAddressError(f"IPv6 is off on {netif.name}")
        chosen = ip6.select_source(dst, self.world.now())
        if chosen is None:
            raise NoAddressError(f"no usable IPv6 address on {netif.name}")
        return chosen

    # -- input ----------------------------------------------------------------------------------
    def input(self, netif: NetIf, data: memoryview, flags: RxFlags) -> None:
        c = self.counters
        c.rx_packets += 1
        ip6 = netif.ip6
        if ip6 is None or not ip6.enabled:
            c.rx_not_for_us += 1
            return
        try:
            hdr, payload = Ipv6Header.parse(data)
        except DecodeError:
            c.rx_malformed += 1
            return
        src, dst = hdr.src, hdr.dst
        if src[0] == 0xFF or src == LOOPBACK6 or dst == LOOPBACK6:  # RFC 4291 §2.5.3, §2.7
            c.rx_martian += 1
            return
        if dst[0] == 0xFF:
            if dst not in ip6.groups:
                c.rx_not_for_us += 1
                return
        elif dst not in self.local and not ip6.accepts(dst):
            if self.forwarding:
                self._forward(netif, hdr, payload, data)
            else:
                c.rx_not_for_us += 1
            return
        self._deliver(netif, hdr, payload, flags, data)

    def _deliver(
        self, netif: NetIf, hdr: Ipv6Header, payload: memoryview, flags: RxFlags, raw: memoryview
    ) -> None:
        c = self.counters
        try:
            chain = walk_extension_headers(hdr.next_header, payload)
        except DecodeError:
            c.rx_malformed += 1
            return
        for entry in chain.headers:
            header = entry.header
            if isinstance(header, HopByHopOptions | DestinationOptions):
                if not self._options_ok(netif, hdr, header, entry.offset, raw):
                    return
            elif isinstance(header, RoutingHeader) and header.segments_left:
                c.rx_routing_refused += 1  # RFC 8200 §4.4, RFC 5095: no source routing
                self._param_problem(netif, ParameterProblemCode.HEADER_FIELD,
                                    HEADER_LEN + entry.offset + 2, raw, hdr)  # fmt: skip
                return
        fragment = chain.fragment
        proto = chain.next_header
        body = payload[chain.payload_offset :]
        if fragment is not None:
            if fragment.is_atomic:
                c.rx_atomic_fragments += 1  # RFC 6946: no reassembly for these
            else:
                c.rx_fragments += 1
                # the headers up to and with the Fragment header: kept from the first
                # fragment, they and its data quote it in a Time Exceeded
                unfragmentable = bytes(raw[: HEADER_LEN + chain.payload_offset])
                whole = self.reassembler.add(
                    (hdr.src, hdr.dst, 0, fragment.ident),
                    fragment.offset,
                    fragment.more,
                    bytes(body),
                    unfragmentable,
                    self.world.now(),
                )
                self._reasm_timer.arm(self.reassembler.get_timer())
                if whole is None:
                    return
                c.rx_reassembled += 1
                flags = RxFlags.NONE  # checksum offload never covers a reassembled datagram
                try:  # headers after the Fragment header are in the reassembled data
                    rest = walk_extension_headers(fragment.next_header, whole)
                except DecodeError:
                    c.rx_malformed += 1
                    return
                for entry in rest.headers:
                    header = entry.header
                    if isinstance(header, DestinationOptions) and not self._options_ok(
                        netif, hdr, header, -1, raw
                    ):
                        return
                proto = rest.next_header
                body = memoryview(whole)[rest.payload_offset :]
                hdr = Ipv6Header(hdr.src, hdr.dst, proto, hdr.hop_limit, hdr.traffic_class,
                                 hdr.flow_label, len(body))  # fmt: skip
        if proto == _NO_NEXT_HEADER:
            c.rx_no_next_header += 1
            return
        handler = self.handlers.get(proto)
        if handler is None:
            c.rx_unknown_header += 1
            if hdr.dst[0] != 0xFF:
                self._param_problem(netif, ParameterProblemCode.NEXT_HEADER,
                                    chain.next_header_pointer, raw, hdr)  # fmt: skip
            return
        if hdr.next_header != proto:
            hdr = Ipv6Header(hdr.src, hdr.dst, proto, hdr.hop_limit, hdr.traffic_class,
                             hdr.flow_label, len(body))  # fmt: skip
        c.rx_delivered += 1
        handler(netif, hdr, body, flags)

    def _options_ok(
        self,
        netif: NetIf,
        hdr: Ipv6Header,
        options: HopByHopOptions | DestinationOptions,
        offset: int,
        raw: memoryview,
    ) -> bool:
        """RFC 8200 §4.2: what the two high bits of an unrecognised option type ask."""
        known = (0, 1, 5)  # Pad1, PadN, Router Alert (RFC 2711)
        for option, where in zip(options.options, options.option_offsets(), strict=True):
            if option.type in known:
                continue
            action = option.action
            if action == OptionAction.SKIP:
                continue
            self.counters.rx_bad_option += 1
            if action == OptionAction.DISCARD:
                return False
            if offset >= 0 and (action == OptionAction.DISCARD_SEND_ICMP or hdr.dst[0] != 0xFF):
                self._param_problem(netif, ParameterProblemCode.OPTION,
                                    HEADER_LEN + offset + where, raw, hdr)  # fmt: skip
            return False
        return True

    def _param_problem(
        self, netif: NetIf, code: int, pointer: int, raw: memoryview, hdr: Ipv6Header
    ) -> None:
        self.stack.icmpv6.send_error(Icmpv6Type.PARAMETER_PROBLEM, code, pointer, raw, hdr)

    def _on_reassembly_timer(self) -> None:
        for _key, first, data in self.reassembler.handle_timer(self.world.now()):
            # RFC 8200 §4.5: Time Exceeded (fragment reassembly) if the first fragment came
            if first:
                packet = first + data  # that first fragment again, as it arrived
                try:
                    hdr, _payload = Ipv6Header.parse(packet)
                except DecodeError:
                    continue
                self.stack.icmpv6.send_error(Icmpv6Type.TIME_EXCEEDED,
                                             TimeExceededCode.REASSEMBLY, 0,
                                             memoryview(packet), hdr)  # fmt: skip
        self._reasm_timer.arm(self.reassembler.get_timer())

    # -- forwarding ------------------------------------------------------------------------------
    def _forward(self, netif: NetIf, hdr: Ipv6Header, payload: memoryview, raw: memoryview) -> None:
        c = self.counters
        if is_link_local(hdr.src) or is_link_local(hdr.dst) or hdr.src == ANY6:
            c.rx_not_for_us += 1  # RFC 4291 §2.5.6: never forwarded off the link
            return
        if hdr.hop_limit <= 1:
            c.hop_limit_exceeded += 1
            self.stack.icmpv6.send_error(Icmpv6Type.TIME_EXCEEDED, TimeExceededCode.HOP_LIMIT,
                                         0, raw, hdr)  # fmt: skip
            return
        try:
            out, next_hop, _src = self.route(hdr.dst)
        except NoAddressError:
            self.stack.icmpv6.send_error(Icmpv6Type.DEST_UNREACHABLE, 0, 0, raw, hdr)
            return
        mtu = self.path_mtu(hdr.dst, out)
        if HEADER_LEN + len(payload) > mtu:  # routers never fragment (RFC 8200 §5)
            self.stack.icmpv6.send_error(Icmpv6Type.PACKET_TOO_BIG, 0, mtu, raw, hdr)
            return
        if out is netif and out.ip6 is not None:
            out.ip6.maybe_redirect(hdr, raw, next_hop)  # RFC 4861 §8.2
        packet = bytearray(raw[: HEADER_LEN + len(payload)])
        packet[7] = hdr.hop_limit - 1
        c.forwarded += 1
        self._link_out(out, next_hop, bytes(packet))

    # -- output -----------------------------------------------------------------------------------
    def output(
        self,
        src: bytes | None,
        dst: bytes,
        proto: int,
        payload: bytes,
        *,
        hop_limit: int | None = None,
        traffic_class: int = 0,
        netif: NetIf | None = None,
        scope_id: int = 0,
    ) -> None:
        """Route and send an upper-layer payload; fragments at the source when needed."""
        if dst in self.local or dst == LOOPBACK6:
            self._loopback(src or dst, dst, proto, payload, hop_limit)
            return
        if netif is not None:
            next_hop = dst
            if src is None:
                src = self.source_for(netif, dst)
        else:
            netif, next_hop, chosen = self.route(dst, scope_id)
            if src is None:
                src = chosen
        self.send_routed(netif, next_hop, src, dst, proto, payload, hop_limit, traffic_class)

    def send_routed(
        self,
        netif: NetIf,
        next_hop: bytes,
        src: bytes,
        dst: bytes,
        proto: int,
        payload: bytes,
        hop_limit: int | None = None,
        traffic_class: int = 0,
        dont_fragment: bool = False,
        offload: TxOffload | None = None,
    ) -> None:
        """Send on a route chosen with :meth:`route`. ``offload`` offsets count from the
        start of the frame (this header has no extension headers)."""
        if len(payload) > _MAX_PAYLOAD:
            raise MessageTooLongError(f"IPv6 payload of {len(payload)} bytes exceeds 65535")
        if hop_limit is None:
            hop_limit = self._hop_limit(netif, dst)
        hdr = Ipv6Header(src, dst, proto, hop_limit, traffic_class)
        mtu = self.path_mtu(dst, netif)
        if HEADER_LEN + len(payload) <= mtu or (offload is not None and offload.gso_type):
            self.counters.tx_packets += 1
            self._link_out(netif, next_hop, hdr.build(payload), offload)
        elif dont_fragment:
            raise MessageTooLongError(f"{len(payload)} bytes exceed the path MTU {mtu}")
        else:
            self.counters.tx_packets += 1
            self._fragment_out(netif, next_hop, hdr, proto, payload, mtu)

    def _hop_limit(self, netif: NetIf, dst: bytes) -> int:
        if dst[0] == 0xFF:
            return 1  # RFC 3493 §5.2: multicast hop limit 1 by default
        ip6 = netif.ip6
        return ip6.hop_limit if ip6 is not None and ip6.hop_limit else self.default_hop_limit

    def _fragment_out(
        self, netif: NetIf, next_hop: bytes, hdr: Ipv6Header, proto: int, payload: bytes, mtu: int
    ) -> None:
        """RFC 8200 §4.5: the whole payload is fragmentable (no extension headers are sent);
        pieces are multiples of 8 bytes; the identification is unpredictable (RFC 7739)."""
        room = (mtu - HEADER_LEN - 8) & ~7
        ident = self.world.rng.getrandbits(32)
        hdr.next_header = 44
        total = len(payload)
        pos = 0
        while pos < total:
            chunk = payload[pos : pos + room]
            more = pos + len(chunk) < total
            frag = FragmentHeader(proto, pos, more, ident)
            self.counters.tx_fragments += 1
            self._link_out(netif, next_hop, hdr.build(frag.build(chunk)))
            pos += len(chunk)

    def _link_out(
        self, netif: NetIf, next_hop: bytes, packet: bytes, offload: TxOffload | None = None
    ) -> None:
        if not netif.link.output_ipv6(packet, next_hop, offload):
            self.counters.tx_dropped += 1

    def _loopback(
        self, src: bytes, dst: bytes, proto: int, payload: bytes, hop_limit: int | None
    ) -> None:
        netif = self.local.get(dst) or next(iter(self._ipv6_netifs()), None)
        if netif is None:
            raise NoAddressError("no interface has IPv6")
        packet = Ipv6Header(src, dst, proto, hop_limit or self.default_hop_limit).build(payload)
        self.counters.tx_packets += 1
        self.world.call_soon(lambda: self.input(netif, memoryview(packet), RxFlags.NONE))


def _int(address: bytes) -> int:
    return int.from_bytes(address, "big")


def _fmt(address: bytes) -> str:
    import ipaddress

    return str(ipaddress.IPv6Address(address))
