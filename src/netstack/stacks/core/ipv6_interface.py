"""One interface's IPv6: addresses (static, SLAAC with DAD), multicast groups (MLDv2),
Neighbor Discovery (RFC 4861) and, with forwarding on, the router's side (RAs, answers to
RSs, redirects).

The protocol machines are sans-I/O (:mod:`~netstack.stacks.core.nd`,
:mod:`~netstack.stacks.core.slaac`, :mod:`~netstack.stacks.core.mld`); this glue feeds
them the messages the ICMPv6 layer hands over, turns their outputs into packets and keeps
one loop timer at the earliest deadline of all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netstack.address import SocketAddress
from netstack.runtime.timer import DeadlineTimer
from netstack.stacks.core.link import NetIf
from netstack.stacks.core.mld import MldConfig, MldListener
from netstack.stacks.core.nd import (
    DnsslInfo,
    NdConfig,
    NeighborCache,
    NeighborState,
    PrefixInfo,
    RaInfo,
    RdnssInfo,
)
from netstack.stacks.core.nd import RouterPreference as NdPreference
from netstack.stacks.core.slaac import (
    AddressDeprecated,
    AddressManager,
    AddressPreferred,
    AddressRemoved,
    AddressState,
    AddressTentative,
    DadFailed,
    DadProbe,
    Ipv6Disabled,
    RouterDiscovery,
    RouterDiscoveryConfig,
    RouterSolicit,
    SlaacConfig,
)
from netstack.wire import DecodeError
from netstack.wire.icmpv6 import Icmpv6Header, Icmpv6Type, UnreachableCode
from netstack.wire.ipv6 import Ipv6Header, is_link_local, solicited_node_multicast
from netstack.wire.mld import (
    Mldv2Query,
    Mldv2Report,
    MulticastAddressRecord,
    build_mld_packet,
    parse_mld,
)
from netstack.wire.ndp import (
    DnsSearchList,
    MtuOption,
    NdOption,
    NeighborAdvertisement,
    NeighborSolicitation,
    Nonce,
    PrefixInformation,
    RecursiveDnsServer,
    Redirect,
    RedirectedHeader,
    RouterAdvertisement,
    RouterSolicitation,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    parse_nd,
)

if TYPE_CHECKING:
    from netstack.stacks.core.stack import CoreStack

log = logging.getLogger(__name__)

UNSPECIFIED = bytes(16)
ALL_NODES = b"\xff\x02" + bytes(13) + b"\x01"
ALL_ROUTERS = b"\xff\x02" + bytes(13) + b"\x02"
ALL_MLDV2_ROUTERS = b"\xff\x02" + bytes(13) + b"\x16"
ICMPV6 = 58
_ND_HOP_LIMIT = 255  # RFC 4861 §6.1, §7.1: anything else did not come from the link
MAX_RA_DELAY_TIME = 0.5  # RFC 4861 §10
MIN_DELAY_BETWEEN_RAS = 3.0
MAX_INITIAL_RTR_ADVERT_INTERVAL = 16.0
MAX_INITIAL_RTR_ADVERTISEMENTS = 3
MAX_REDIRECTS = 256


@dataclass(slots=True)
class AdvertisedPrefix:
    """A prefix a router puts in its RAs (RFC 4861 §6.2.1 AdvPrefixList)."""

    prefix: bytes
    length: int = 64
    on_link: bool = True
    autonomous: bool = True
    valid_lifetime: int = 2592000  # 30 days
    preferred_lifetime: int = 604800  # 7 days


@dataclass(slots=True)
class RouterConfig:
    """What a router advertises on an interface (RFC 4861 §6.2.1, RFC 8106)."""

    prefixes: list[AdvertisedPrefix] = field(default_factory=list)
    dns_servers: list[bytes] = field(default_factory=list)
    search_domains: list[str] = field(default_factory=list)
    mtu: int | None = None
    router_lifetime: int = 1800
    cur_hop_limit: int = 64
    min_interval: float = 200.0
    max_interval: float = 600.0
    dns_lifetime: int = 1200


@dataclass(slots=True)
class Ipv6Config:
    """How an interface gets its IPv6 addresses."""

    #: autoconfigure global addresses from RA prefixes (SLAAC); the link-local address and
    #: router discovery run either way
    slaac: bool = True
    #: RFC 7217 stable opaque interface identifiers instead of EUI-64
    stable_privacy: bool = False
    dad_transmits: int = 1
    accept_ra: bool = True
    #: the interface identifier of every address (8 bytes), instead of one derived from
    #: the hardware address — for links without one (PPP: the identifier IPV6CP agreed)
    interface_id: bytes | None = None
    nd: NdConfig = field(default_factory=NdConfig)


@dataclass(slots=True)
class Ipv6InterfaceStats:
    ns_in: int = 0
    ns_out: int = 0
    na_in: int = 0
    na_out: int = 0
    rs_in: int = 0
    rs_out: int = 0
    ra_in: int = 0
    ra_out: int = 0
    redirects_in: int = 0
    redirects_out: int = 0
    mld_queries_in: int = 0
    mld_reports_out: int = 0
    nd_invalid: int = 0
    dad_failures: int = 0
    address_unreachable: int = 0


class Ipv6Interface:
    """IPv6 state of one :class:`NetIf` (installed as ``netif.ip6``)."""

    def __init__(self, stack: CoreStack, netif: NetIf, config: Ipv6Config | None = None) -> None:
        self.stack = stack
        self.netif = netif
        self.world = stack.world
        self.config = config or Ipv6Config()
        self.stats = Ipv6InterfaceStats()
        rng = self.world.rng
        self.neighbors = NeighborCache(self.config.nd, rng)
        self.discovery = RouterDiscovery(self.neighbors, RouterDiscoveryConfig(link_mtu=netif.mtu))
        self.slaac = AddressManager(
            netif.link.hwaddr,
            rng,
            SlaacConfig(
                stable_privacy=self.config.stable_privacy,
                interface_name=netif.name,
                dup_addr_detect_transmits=self.config.dad_transmits,
                interface_id=self.config.interface_id,
            ),
        )
        self.mld = MldListener(rng, MldConfig(mtu=max(1280, netif.mtu)))
        #: manually configured addresses -> prefix length
        self.static: dict[bytes, int] = {}
        #: multicast groups this interface receives
        self.groups: set[bytes] = set()
        self.enabled = False
        self.router: RouterConfig | None = None
        self._ra_next: float | None = None
        self._ra_last = -1e9
        self._ra_initial = 0
        self._redirects: dict[bytes, bytes] = {}  # destination -> better first hop
        self._timer = DeadlineTimer(self.world, self._on_timer)
        #: called when the set of usable addresses changes (interface status)
        self.listeners: list[Callable[[], None]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.enabled or self.slaac.disabled:
            return
        self.enabled = True
        now = self.world.now()
        self.join(ALL_NODES)
        for address in self.static:
            self._join_link_group(solicited_node_multicast(address))
        self.slaac.start(now)
        if self.router is not None:
            self._start_router(now)
        self._flush()
        if self.static:
            self._changed()  # static addresses skip DAD: usable as soon as the link is up

    def stop(self) -> None:
        if not self.enabled:
            return
        self.enabled = False
        self.slaac.stop()
        self.slaac.outputs()
        self.neighbors.clear()
        for group in list(self.groups):
            self.netif.link.leave_ipv6_group(group)
        self.groups.clear()
        self._timer.cancel()
        self._changed()

    # -- configuration ------------------------------------------------------------------------
    def add_static(self, address: bytes, prefix_len: int) -> None:
        """A manually configured address (used at once, as Linux with ``nodad``) and its
        on-link prefix."""
        if len(address) != 16 or not 0 < prefix_len <= 128:
            raise ValueError("an IPv6 address is 16 bytes with a prefix length 1..128")
        self.static[bytes(address)] = prefix_len
        mask = ((1 << 128) - 1) << (128 - prefix_len) & ((1 << 128) - 1)
        network = (int.from_bytes(address, "big") & mask).to_bytes(16, "big")
        self.stack.ipv6.add_route(network, prefix_len, self.netif)
        if self.enabled:
            self._join_link_group(solicited_node_multicast(address))
            self._flush()
        self._changed()

    def clear_static(self) -> None:
        for address in list(self.static):
            self.netif.link.leave_ipv6_group(solicited_node_multicast(address))
        self.static.clear()
        for route in [r for r in self.stack.ipv6.routes if r.interface is self.netif]:
            self.stack.ipv6.remove_route(route)
        self._changed()

    def advertise(self, config: RouterConfig) -> None:
        """Act as a router on this link: send RAs for ``config``'s prefixes, answer RSs
        (the stack should forward: ``stack.forwarding = True``)."""
        self.router = config
        if self.enabled:
            self._start_router(self.world.now())
            self._flush()

    def _start_router(self, now: float) -> None:
        self.join(ALL_ROUTERS)
        self._ra_initial = 0
        self._ra_next = now + self.world.rng.uniform(0.0, MAX_RA_DELAY_TIME)

    # -- groups ---------------------------------------------------------------------------------
    def join(self, group: bytes) -> None:
        """Receive ``group`` (and report it with MLDv2)."""
        if group not in self.groups:
            self.groups.add(group)
            self.netif.link.join_ipv6_group(group)
        self.mld.join(group, self.world.now())
        self._flush()

    def leave(self, group: bytes) -> None:
        self.mld.leave(group, self.world.now())
        if not self.mld.is_joined(group) and group in self.groups and group != ALL_NODES:
            self.groups.discard(group)
            self.netif.link.leave_ipv6_group(group)
        self._flush()

    def _join_link_group(self, group: bytes) -> None:
        if group not in self.groups:
            self.groups.add(group)
            self.netif.link.join_ipv6_group(group)
        self.mld.join(group, self.world.now())

    # -- what the IPv6 layer asks -----------------------------------------------------------------
    @property
    def mtu(self) -> int:
        return min(self.discovery.mtu, self.netif.mtu)

    @property
    def hop_limit(self) -> int:
        return self.discovery.cur_hop_limit

    def usable_addresses(self) -> list[bytes]:
        now = self.world.now()
        out = list(self.static)
        for info in self.slaac.addresses(now):
            if info.state is AddressState.PREFERRED or info.state is AddressState.DEPRECATED:
                out.append(info.address)
        return out

    def addresses(self) -> list[tuple[bytes, int, str]]:
        """Every address with its prefix length and state (static ones are "static")."""
        now = self.world.now()
        out = [(a, plen, "static") for a, plen in self.static.items()]
        for info in self.slaac.addresses(now):
            out.append((info.address, info.prefix_len, info.state.name.lower()))
        return out

    def link_local(self) -> bytes | None:
        for address in self.static:
            if is_link_local(address):
                return address
        return self.slaac.link_local(self.world.now())

    def global_address(self) -> bytes | None:
        """A preferred global address, static first."""
        for address in self.static:
            if not is_link_local(address):
                return address
        return self.slaac.preferred_global(self.world.now())

    def select_source(self, dst: bytes, now: float) -> bytes | None:
        """RFC 6724 §5 in short: the destination's scope, preferred before deprecated."""
        link_scope = is_link_local(dst) or (dst[0] == 0xFF and dst[1] & 0x0F <= 2)
        preferred_global = deprecated_global = None
        link_local = None
        for address, _plen in self.static.items():
            if is_link_local(address):
                link_local = link_local or address
            elif preferred_global is None:
                preferred_global = address
        for info in self.slaac.addresses(now):
            if info.state is AddressState.PREFERRED:
                if info.link_local:
                    link_local = link_local or info.address
                elif preferred_global is None:
                    preferred_global = info.address
            elif info.state is AddressState.DEPRECATED and not info.link_local:
                deprecated_global = deprecated_global or info.address
        if link_scope:
            return link_local or preferred_global or deprecated_global
        return preferred_global or deprecated_global or link_local

    def is_on_link(self, dst: bytes, now: float) -> bool:
        if dst in self._redirects and self._redirects[dst] == dst:
            return True
        return self.discovery.is_on_link(dst, now)

    def default_router(self, now: float) -> bytes | None:
        return self.discovery.default_router(now)

    def redirect_for(self, dst: bytes) -> bytes | None:
        return self._redirects.get(dst)

    def accepts(self, dst: bytes) -> bool:
        """Unicast for us beyond :attr:`Ipv6Layer.local`: nothing (tentative addresses take
        only Neighbor Discovery, which arrives by multicast)."""
        return False

    def neighbor_lladdr(self, address: bytes) -> bytes | None:
        info = self.neighbors.lookup(address, self.world.now())
        if info is None or info.state is NeighborState.INCOMPLETE:
            return None
        return info.lladdr

    def output_lladdr(self, address: bytes) -> bytes | None:
        """The link-layer address to send to ``address`` now, or None: :meth:`resolve`
        first. Sending to a STALE neighbour starts Neighbor Unreachability Detection
        (RFC 4861 §7.3.3: STALE → DELAY, then unicast probes)."""
        info = self.neighbors.lookup(address, self.world.now())
        if info is None or info.state is NeighborState.INCOMPLETE:
            return None
        if info.state is NeighborState.STALE:
            return self.resolve(address, b"")  # the entry exists: nothing is queued
        return info.lladdr

    def resolve(self, address: bytes, packet: bytes) -> bytes | None:
        """The link-layer address for ``address``, or None with ``packet`` queued while
        Neighbor Discovery asks (RFC 4861 §7.2.2)."""
        lladdr = self.neighbors.resolve(address, packet, self.world.now())
        self._flush()
        return lladdr

    def confirm_reachable(self, address: bytes) -> None:
        """Forward progress seen by an upper layer (RFC 4861 §7.3.1), e.g. TCP ACKs."""
        self.neighbors.confirm(address, self.world.now())

    # -- input ------------------------------------------------------------------------------------
    def receive(self, ip: Ipv6Header, hdr: Icmpv6Header, body: memoryview) -> None:
        """A Neighbor Discovery or MLD message for this interface (checksum verified)."""
        if not self.enabled:
            return
        kind = hdr.type
        if kind in (130, 131, 132, 143):
            self._mld_input(ip, hdr, body)
            return
        if ip.hop_limit != _ND_HOP_LIMIT:
            self.stats.nd_invalid += 1
            return
        try:
            message = parse_nd(hdr, body)
        except DecodeError:
            self.stats.nd_invalid += 1
            return
        now = self.world.now()
        if isinstance(message, NeighborSolicitation):
            self._ns_input(ip, message, now)
        elif isinstance(message, NeighborAdvertisement):
            self._na_input(ip, message, now)
        elif isinstance(message, RouterAdvertisement):
            self._ra_input(ip, message, now)
        elif isinstance(message, RouterSolicitation):
            self._rs_input(ip, message, now)
        else:
            self._redirect_input(ip, message, now)
        self._flush()

    def _ns_input(self, ip: Ipv6Header, ns: NeighborSolicitation, now: float) -> None:
        self.stats.ns_in += 1
        target, src = ns.target, ip.src
        slla = ns.source_link_layer_address
        # RFC 4861 §7.1.1: no multicast target; from :: only to a solicited-node group
        # and without a source link-layer address option
        if target[0] == 0xFF or (src == UNSPECIFIED and (
            ip.dst[:13] != solicited_node_multicast(target)[:13] or slla is not None
        )):  # fmt: skip
            self.stats.nd_invalid += 1
            return
        if self.slaac.on_neighbor_solicitation(target, src, ns.nonce, now):
            return  # our tentative address: never answered (RFC 4862 §5.4.3)
        if target not in self.usable_addresses():
            return
        if src != UNSPECIFIED:
            self._send_packets(src, self.neighbors.on_solicitation(src, slla, now))
        # RFC 4861 §7.2.4: solicited NA to the source, or to all-nodes for a DAD probe
        dst = src if src != UNSPECIFIED else ALL_NODES
        na = NeighborAdvertisement(
            target,
            router=self.stack.ipv6.forwarding,
            solicited=src != UNSPECIFIED,
            override=True,
            options=self._own_lladdr(TargetLinkLayerAddress),
        )
        self.stats.na_out += 1
        self._send_nd(target, dst, na.build(src=target, dst=dst))

    def _na_input(self, ip: Ipv6Header, na: NeighborAdvertisement, now: float) -> None:
        self.stats.na_in += 1
        target = na.target
        # RFC 4861 §7.1.2: no multicast target; Solicited clear when sent to multicast
        if target[0] == 0xFF or (ip.dst[0] == 0xFF and na.solicited):
            self.stats.nd_invalid += 1
            return
        if self.slaac.on_neighbor_advertisement(target, now):
            self.stats.dad_failures += 1
            return
        released = self.neighbors.on_advertisement(
            target, na.target_link_layer_address, na.router, na.solicited, na.override, now
        )
        self._send_packets(target, released)

    def _ra_input(self, ip: Ipv6Header, ra: RouterAdvertisement, now: float) -> None:
        self.stats.ra_in += 1
        if not is_link_local(ip.src):  # RFC 4861 §6.1.2
            self.stats.nd_invalid += 1
            return
        if not self.config.accept_ra or self.router is not None:
            return  # a router does not learn from its peers' RAs (§6.2.7 only checks them)
        info = _ra_info(ip.src, ra)
        self._send_packets(ip.src, self.discovery.on_router_advertisement(info, now))
        if self.config.slaac:
            self.slaac.on_router_advertisement(info, now)
        servers = self.discovery.dns_servers(now)
        key = f"ra:{self.netif.name}"
        if servers:
            self.stack.learned_dns[key] = [SocketAddress.from_packed(a, 53) for a in servers]
        else:
            self.stack.learned_dns.pop(key, None)
        self.stack.ipv6.refresh_addresses(self.stack.netifs)

    def _rs_input(self, ip: Ipv6Header, rs: RouterSolicitation, now: float) -> None:
        self.stats.rs_in += 1
        slla = rs.source_link_layer_address
        if ip.src == UNSPECIFIED and slla is not None:  # RFC 4861 §6.1.1
            self.stats.nd_invalid += 1
            return
        if self.router is None:
            return  # hosts ignore RSs
        if ip.src != UNSPECIFIED:
            self._send_packets(ip.src, self.neighbors.on_solicitation(ip.src, slla, now))
        # §6.2.6: answer within MAX_RA_DELAY_TIME, at most one RA per MIN_DELAY_BETWEEN_RAS
        at = max(now + self.world.rng.uniform(0.0, MAX_RA_DELAY_TIME),
                 self._ra_last + MIN_DELAY_BETWEEN_RAS)  # fmt: skip
        if self._ra_next is None or at < self._ra_next:
            self._ra_next = at

    def _redirect_input(self, ip: Ipv6Header, redirect: Redirect, now: float) -> None:
        self.stats.redirects_in += 1
        # RFC 4861 §8.1: from the link-local address of the current first hop
        if not is_link_local(ip.src) or redirect.destination[0] == 0xFF:
            self.stats.nd_invalid += 1
            return
        if (
            self.default_router(now) != ip.src
            and self._redirects.get(redirect.destination) != ip.src
        ):
            self.stats.nd_invalid += 1
            return
        if len(self._redirects) >= MAX_REDIRECTS:
            self._redirects.pop(next(iter(self._redirects)))
        self._redirects[redirect.destination] = redirect.target
        lladdr = redirect.target_link_layer_address
        released = self.neighbors.on_router_or_redirect(
            redirect.target, lladdr, now,
            is_router=None if redirect.target == redirect.destination else True,
        )  # fmt: skip
        self._send_packets(redirect.target, released)

    def _mld_input(self, ip: Ipv6Header, hdr: Icmpv6Header, body: memoryview) -> None:
        if ip.hop_limit != 1 or not is_link_local(ip.src):
            return  # RFC 3810 §5.1.14
        try:
            message = parse_mld(hdr, body)
        except DecodeError:
            self.stats.nd_invalid += 1
            return
        if isinstance(message, Mldv2Query):
            self.stats.mld_queries_in += 1
            self.mld.on_query(message.address, message.max_response_delay / 1000.0,
                              self.world.now(), message.sources, message.qrv)  # fmt: skip
            self._flush()

    # -- router side --------------------------------------------------------------------------
    def maybe_redirect(self, hdr: Ipv6Header, raw: memoryview, next_hop: bytes) -> None:
        """RFC 4861 §8.2: a packet forwarded back out of the interface it came in on, from a
        neighbour, could have gone to ``next_hop`` directly: tell the sender."""
        src = hdr.src
        if not self.discovery.is_on_link(src, self.world.now()) and not self._static_on_link(src):
            return
        # §8.2: the target is a router's link-local address or the destination itself
        if next_hop != hdr.dst and not is_link_local(next_hop):
            return
        if not self.stack.icmpv6.take_token():  # redirects are rate-limited like errors
            return
        source = self.link_local()
        if source is None:
            return
        options: list[NdOption] = []
        lladdr = self.neighbor_lladdr(next_hop)
        if lladdr is not None:
            options.append(TargetLinkLayerAddress(lladdr))
        quote = bytes(raw[: 1280 - 40 - 40 - 8 - len(options) * 8])
        quote = quote[: len(quote) & ~7]
        options.append(RedirectedHeader(quote))
        message = Redirect(next_hop, hdr.dst, options)
        self.stats.redirects_out += 1
        self._send_nd(source, src, message.build(src=source, dst=src))

    def _static_on_link(self, address: bytes) -> bool:
        value = int.from_bytes(address, "big")
        for own, plen in self.static.items():
            shift = 128 - plen
            if value >> shift == int.from_bytes(own, "big") >> shift:
                return True
        return False

    def _send_ra(self, dst: bytes, now: float) -> None:
        config = self.router
        source = self.link_local()
        if config is None or source is None:
            return
        options = self._own_lladdr(SourceLinkLayerAddress)
        if config.mtu is not None:
            options.append(MtuOption(config.mtu))
        for p in config.prefixes:
            flags = (0x80 if p.on_link else 0) | (0x40 if p.autonomous else 0)
            options.append(PrefixInformation(p.length, flags, p.valid_lifetime,
                                             p.preferred_lifetime, p.prefix))  # fmt: skip
        if config.dns_servers:
            options.append(RecursiveDnsServer(config.dns_lifetime, list(config.dns_servers)))
        if config.search_domains:
            options.append(DnsSearchList(config.dns_lifetime, list(config.search_domains)))
        ra = RouterAdvertisement(config.cur_hop_limit, 0, config.router_lifetime, 0, 0, options)
        self.stats.ra_out += 1
        self._ra_last = now
        self._send_nd(source, dst, ra.build(src=source, dst=dst))

    # -- output -------------------------------------------------------------------------------
    def _own_lladdr(
        self, kind: type[SourceLinkLayerAddress] | type[TargetLinkLayerAddress]
    ) -> list[NdOption]:
        """Our link-layer address option, or none on a link without addresses (PPP;
        RFC 4861 §4.3-4.4 include it only where the link has addresses)."""
        hwaddr = self.netif.link.hwaddr
        return [kind(hwaddr)] if hwaddr else []

    def _send_nd(self, src: bytes, dst: bytes, message: bytes) -> None:
        try:
            self.stack.ipv6.send_routed(self.netif, dst, src, dst, ICMPV6, message,
                                        hop_limit=_ND_HOP_LIMIT)  # fmt: skip
        except OSError as exc:
            log.debug("ND message not sent on %s: %s", self.netif.name, exc)

    def _send_packets(self, next_hop: bytes, packets: list[bytes]) -> None:
        link = self.netif.link
        for packet in packets:
            link.output_ipv6(packet, next_hop)

    def _flush(self) -> None:
        if not self.enabled:
            return
        now = self.world.now()
        for request in self.neighbors.solicitations_to_send():
            source = self.select_source(request.target, now)
            if source is None:
                continue
            ns = NeighborSolicitation(request.target, self._own_lladdr(SourceLinkLayerAddress))
            dst = request.destination
            self.stats.ns_out += 1
            self._send_nd(source, dst, ns.build(src=source, dst=dst))
        changed = False
        for output in self.slaac.outputs():
            if isinstance(output, DadProbe):
                ns = NeighborSolicitation(output.target, [Nonce(output.nonce)])
                self.stats.ns_out += 1
                self._send_nd(UNSPECIFIED, output.destination,
                              ns.build(src=UNSPECIFIED, dst=output.destination))  # fmt: skip
            elif isinstance(output, AddressTentative):
                self._join_link_group(solicited_node_multicast(output.address))
            elif isinstance(output, RouterSolicit):
                if self.router is not None:
                    continue  # RFC 4861 §6.3.7: hosts solicit; a router advertises
                options: list[NdOption] = []
                if output.source != UNSPECIFIED:
                    options += self._own_lladdr(SourceLinkLayerAddress)
                rs = RouterSolicitation(options)
                self.stats.rs_out += 1
                self._send_nd(output.source, ALL_ROUTERS,
                              rs.build(src=output.source, dst=ALL_ROUTERS))  # fmt: skip
            elif isinstance(output, AddressRemoved | DadFailed):
                group = solicited_node_multicast(output.address)
                if not any(solicited_node_multicast(a) == group for a in self.usable_addresses()):
                    self.mld.leave(group, now)
                changed = True
            elif isinstance(output, AddressPreferred | AddressDeprecated):
                changed = True
                if self.router is not None and is_link_local(output.address):
                    # the RA that waited for this link-local source (below) goes now
                    self._ra_next = self._ra_next if self._ra_next is not None else now
            elif isinstance(output, Ipv6Disabled):
                log.warning("IPv6 disabled on %s: duplicate link-local address", self.netif.name)
                self.enabled = False
                changed = True
        if self.router is not None and self._ra_next is not None and self._ra_next <= now:
            if self.link_local() is None:
                # RAs come from the link-local address (RFC 4861 §4.2, §6.1.2): wait
                # until it passed DAD rather than lose an initial advertisement
                self._ra_next = None
            else:
                self._send_ra(ALL_NODES, now)
                config = self.router
                interval = self.world.rng.uniform(config.min_interval, config.max_interval)
                if self._ra_initial < MAX_INITIAL_RTR_ADVERTISEMENTS:
                    self._ra_initial += 1
                    interval = min(interval, MAX_INITIAL_RTR_ADVERT_INTERVAL)
                self._ra_next = now + interval
        for report in self.mld.reports_to_send():
            source = self.link_local() or UNSPECIFIED
            message = Mldv2Report([MulticastAddressRecord(int(r.record_type), r.group,
                                                          list(r.sources))
                                   for r in report.records])  # fmt: skip
            self.stats.mld_reports_out += 1
            packet = build_mld_packet(source, ALL_MLDV2_ROUTERS, message)
            self.netif.link.output_ipv6(packet, ALL_MLDV2_ROUTERS)
        if changed:
            self._changed()
        self._arm()

    def _arm(self) -> None:
        deadlines = [
            t
            for t in (
                self.neighbors.get_timer(),
                self.slaac.get_timer(),
                self.mld.get_timer(),
                self._ra_next if self.router is not None else None,
            )
            if t is not None
        ]
        self._timer.arm(min(deadlines) if deadlines else None)

    def _on_timer(self) -> None:
        if not self.enabled:
            return
        now = self.world.now()
        for _address, packets in self.neighbors.handle_timer(now):
            for packet in packets:  # RFC 4861 §7.2.2: address unreachable for each
                self.stats.address_unreachable += 1
                try:
                    hdr, _payload = Ipv6Header.parse(packet)
                except DecodeError:
                    continue
                self.stack.icmpv6.send_error(Icmpv6Type.DEST_UNREACHABLE,
                                             UnreachableCode.ADDRESS, 0, packet, hdr)  # fmt: skip
        self.slaac.handle_timer(now)
        self.mld.handle_timer(now)
        self._flush()

    def _changed(self) -> None:
        self.stack.ipv6.refresh_addresses(self.stack.netifs)
        for listener in list(self.listeners):
            listener()


def _ra_info(router: bytes, ra: RouterAdvertisement) -> RaInfo:
    """The content of a Router Advertisement as the sans-I/O machines take it."""
    prefixes: list[PrefixInfo] = []
    rdnss: list[RdnssInfo] = []
    dnssl: list[DnsslInfo] = []
    mtu = None
    for option in ra.options:
        if isinstance(option, PrefixInformation):
            prefixes.append(PrefixInfo(option.prefix, option.prefix_length, option.on_link,
                                       option.autonomous, option.valid_lifetime,
                                       option.preferred_lifetime))  # fmt: skip
        elif isinstance(option, MtuOption):
            mtu = option.mtu
        elif isinstance(option, RecursiveDnsServer):
            rdnss.append(RdnssInfo(option.lifetime, tuple(option.addresses)))
        elif isinstance(option, DnsSearchList):
            dnssl.append(DnsslInfo(option.lifetime, tuple(option.domains)))
    return RaInfo(
        router,
        ra.router_lifetime,
        ra.cur_hop_limit,
        ra.reachable_time,
        ra.retrans_timer,
        mtu,
        tuple(prefixes),
        tuple(rdnss),
        tuple(dnssl),
        ra.source_link_layer_address,
        NdPreference(ra.preference),
    )
