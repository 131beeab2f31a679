"""LowpanLink: IPv6 over IEEE 802.15.4 (RFC 4944, RFC 6282), the mesh stack's link adapter.

Between a stack's NetIf and an :class:`~netstack.stacks.mesh.mac.Ieee802154Mac`:

- Output: the next hop's link-layer address is derived from its interface identifier —
  an EUI-64 with the U/L bit flipped back, or ``0000:00ff:fe00:XXXX`` for a 16-bit short
  address (RFC 4944 §6, RFC 6282 §3.2.2); multicast goes to the broadcast address 0xFFFF
  (RFC 4944 §9). Headers are compressed with LOWPAN_IPHC and LOWPAN_NHC against the
  configured contexts; a datagram that does not fit one frame is cut into FRAG1/FRAGN
  fragments sharing a datagram tag (RFC 4944 §5.3). A next hop whose address is not
  derived from a link-layer address is dropped and counted: 6LoWPAN-ND (the next layer
  up) registers such addresses.
- Input: mesh and broadcast headers are taken off (a broadcast sequence number seen
  recently from the same originator is a duplicate), fragments go to a bounded, timed
  :class:`FragmentReassembler`, and the datagram is decompressed with the frame's (or mesh
  header's) addresses and handed to the stack. Malformed frames are dropped and counted.
- Mesh-under forwarding (RFC 4944 §11), with ``LowpanConfig(mesh_under=True)``: the
  whole mesh is one IPv6 link. A datagram for a final destination that has an entry in
  :attr:`LowpanLink.mesh_routes` leaves with a mesh header (originator, final destination,
  Hops Left) to that entry's next hop, each fragment on its own; a node that receives a
  frame whose mesh header names someone else decrements Hops Left, drops it at zero, and
  sends it on — to its own route's next hop, or straight to the final destination when it
  has none (the last hop) — without reassembling it. Multicast is flooded: a mesh header
  to 0xFFFF and a LOWPAN_BC0 sequence number on every frame; each node delivers a frame
  once and broadcasts it again while Hops Left lasts; frames a radio originated are never
  taken back. The fragments of a multi-hop datagram are paced ``fragment_gap`` apart
  (RFC 8931's Inter-Frame Gap): back to back, the source's next fragment collides at the
  first relay with the previous one being passed on two hops away. Without
  ``mesh_under`` a frame for another final destination is dropped and counted
  (``rx_not_for_us``).
- A frame that ends CHANNEL_ACCESS_FAILURE is requested again (``channel_access_retries``).

The link carries only IPv6; its MTU is 1280 (RFC 4944 §4).
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial

from netstack.drivers.emac.api import Capabilities, RxFlags, TxOffload
from netstack.runtime.timer import DeadlineTimer
from netstack.runtime.world import World
from netstack.stacks.core.link import NetIf, ProbeCallback
from netstack.stacks.mesh.mac import Ieee802154Mac, MacDataIndication, MacStatus
from netstack.stacks.mesh.reassembly import FragmentReassembler, ReassemblyConfig
from netstack.wire import DecodeError
from netstack.wire.sixlowpan import (
    BroadcastHeader,
    Dispatch,
    Frag1Header,
    FragnHeader,
    LowpanContext,
    LowpanHeaders,
    MeshHeader,
    compress_headers,
    decompress_first_fragment,
    decompress_ipv6,
    decrement_hops_left,
    fragment_datagram,
    mac_from_iid,
)

log = logging.getLogger(__name__)

IPV6_MTU = 1280
_CAPABILITIES = Capabilities(medium="ieee802154", mtu=IPV6_MTU)
BROADCAST = 0xFFFF
#: "no compression": the uncompressed IPv6 dispatch, then the packet (RFC 4944 §5.1)
_UNCOMPRESSED = bytes((Dispatch.IPV6,))


@dataclass(slots=True)
class LowpanConfig:
    """Compression contexts (0-15), whether to use IPHC at all, reassembly limits."""

    contexts: Mapping[int, LowpanContext] = field(default_factory=dict)
    compress: bool = True
    reassembly: ReassemblyConfig = field(default_factory=ReassemblyConfig)
    #: broadcast sequence numbers remembered per originator (duplicate suppression)
    broadcast_memory: int = 64
    #: forward frames for other nodes and flood multicast (RFC 4944 §11); see the module
    mesh_under: bool = False
    #: the Hops Left an originator writes in its mesh headers (RFC 4944 §5.2: up to 255)
    mesh_hops: int = 8
    #: a frame the MAC could not get onto a busy channel (CHANNEL_ACCESS_FAILURE) is
    #: requested again up to this many times: one lost fragment loses its whole datagram,
    #: and a relay forwarding fragments contends with the source sending the next ones
    channel_access_retries: int = 2
    #: seconds between the fragments of a datagram sent with a mesh header (RFC 8931's
    #: Inter-Frame Gap), about three frame airtimes: a fragment clears the next two relays
    #: before the source sends another (0: back to back)
    fragment_gap: float = 0.012
    #: fragments waiting for their turn (a datagram that would exceed it is dropped)
    paced_limit: int = 160

    def __post_init__(self) -> None:
        if self.fragment_gap < 0 or self.paced_limit < 1:
            raise ValueError("fragment_gap must be >= 0 and paced_limit >= 1")
        if not 1 <= self.mesh_hops <= 0xFF:
            raise ValueError(f"mesh_hops {self.mesh_hops} out of range 1-255")


@dataclass(slots=True)
class LowpanStats:
    tx_datagrams: int = 0
    tx_frames: int = 0
    tx_fragmented: int = 0
    tx_failed: int = 0
    tx_channel_access_retries: int = 0
    tx_paced_overflow: int = 0
    tx_not_ipv6: int = 0
    tx_too_big: int = 0
    rx_frames: int = 0
    rx_datagrams: int = 0
    rx_malformed: int = 0
    rx_not_for_us: int = 0
    rx_duplicate_broadcasts: int = 0
    mesh_tx_frames: int = 0  # frames we originated with a mesh header
    mesh_forwarded: int = 0  # unicast frames for others sent on
    mesh_flooded: int = 0  # broadcast frames of others broadcast again
    mesh_hops_exceeded: int = 0  # frames for others dropped when Hops Left ran out
    mesh_echoes: int = 0  # our own mesh frames heard back (a neighbour's flood, a loop)


def mac_for_iid(iid: bytes) -> int | bytes:
    """The MAC address an interface identifier was derived from (RFC 4944 §6): a short
    address for ``0000:00ff:fe00:XXXX`` (RFC 6282 §3.2.2), else the EUI-64."""
    mac = mac_from_iid(iid)
    return int.from_bytes(mac, "big") if len(mac) == 2 else mac


def _link_bytes(address: int | bytes) -> bytes:
    """The 2- or 8-byte form :mod:`netstack.wire.sixlowpan` takes."""
    return address.to_bytes(2, "big") if isinstance(address, int) else address


def _link_address(address: bytes) -> int | bytes:
    """The MAC's form of a 2- or 8-byte link-layer address (a short address is an int)."""
    return int.from_bytes(address, "big") if len(address) == 2 else address


def _checked_link_bytes(address: int | bytes, what: str) -> bytes:
    if isinstance(address, int):
        if not 0 <= address < 0xFFFE:
            raise ValueError(f"{what}: {address:#x} is not a unicast short address")
        return address.to_bytes(2, "big")
    if len(address) != 8:
        raise ValueError(f"{what}: an EUI-64 has 8 bytes, not {len(address)}")
    return bytes(address)


class LowpanLink:
    """Adapts an :class:`Ieee802154Mac` to a stack's NetIf; see the module docstring."""

    def __init__(
        self, mac: Ieee802154Mac, world: World, config: LowpanConfig | None = None
    ) -> None:
        self.mac = mac
        self.world = world
        self.config = config or LowpanConfig()
        self.counters = LowpanStats()
        self.reassembler = FragmentReassembler(self.config.reassembly)
        self._netif: NetIf | None = None
        self._tag = world.rng.randrange(0x10000)
        self._broadcasts: OrderedDict[tuple[bytes, int], None] = OrderedDict()
        self._timer = DeadlineTimer(world, self._on_timer)
        #: mesh-under routes: final destination → next hop (2- or 8-byte link addresses)
        self.mesh_routes: dict[bytes, bytes] = {}
        self._broadcast_sequence = world.rng.randrange(0x100)
        self._paced: deque[tuple[int | bytes, bytes, MeshHeader]] = deque()
        self._pacing = False
        self._pacer = DeadlineTimer(world, self._pace_next)

    # -- mesh-under routes --------------------------------------------------------------------
    def add_mesh_route(self, final: int | bytes, next_hop: int | bytes) -> None:
        """Send datagrams for ``final`` through radio neighbour ``next_hop`` (each an EUI-64
        or a 16-bit short address); takes effect with ``LowpanConfig(mesh_under=True)``."""
        key = _checked_link_bytes(final, "mesh route destination")
        self.mesh_routes[key] = _checked_link_bytes(next_hop, "mesh route next hop")

    def remove_mesh_route(self, final: int | bytes) -> None:
        self.mesh_routes.pop(_checked_link_bytes(final, "mesh route destination"), None)

    # -- LinkAdapter contract -----------------------------------------------------------------
    @property
    def mtu(self) -> int:
        return IPV6_MTU

    @property
    def hwaddr(self) -> bytes:
        return self.mac.ext_address

    @property
    def capabilities(self) -> Capabilities:
        return _CAPABILITIES

    @property
    def header_len(self) -> int:
        return 0

    @property
    def is_up(self) -> bool:
        return self.mac.is_up

    def start(self, netif: NetIf) -> None:
        self._netif = netif
        self.mac.set_data_indication_cb(self._input)
        self.mac.start()

    def stop(self) -> None:
        self.mac.set_data_indication_cb(None)
        self.mac.stop()
        self.reassembler.clear()
        self._timer.cancel()
        self._paced.clear()
        self._pacer.cancel()
        self._pacing = False

    def output_ipv4(self, packet: bytes, next_hop: bytes, offload: TxOffload | None = None) -> bool:
        self.counters.tx_not_ipv6 += 1
        return False

    def output_ipv6(self, packet: bytes, next_hop: bytes, offload: TxOffload | None = None) -> bool:
        dst = BROADCAST if next_hop[0] == 0xFF else mac_for_iid(next_hop[8:])
        return self._send_datagram(bytes(packet), dst)

    def join_ipv6_group(self, group: bytes) -> None:
        return None  # multicast arrives as broadcast frames

    def leave_ipv6_group(self, group: bytes) -> None:
        return None

    def addresses_changed(self) -> None:
        return None

    def probe_address(self, address: bytes, callback: ProbeCallback) -> None:
        callback(True, None)

    def stats(self) -> dict[str, int]:
        out = asdict(self.counters)
        out.update({f"reassembly_{k}": v for k, v in self.reassembler.stats.items()})
        out.update({f"mac_{k}": v for k, v in self.mac.stats().items()})
        return out

    # -- output -------------------------------------------------------------------------------
    def _send_datagram(self, packet: bytes, dst: int | bytes) -> bool:
        counters = self.counters
        counters.tx_datagrams += 1
        src, final = _link_bytes(self._source_address()), _link_bytes(dst)
        hop = dst  # the radio neighbour the frames go to
        mesh: MeshHeader | None = None
        if self.config.mesh_under:
            if dst == BROADCAST:
                mesh = MeshHeader(src, final, self.config.mesh_hops)
            elif (route := self.mesh_routes.get(final)) is not None and route != final:
                mesh = MeshHeader(src, final, self.config.mesh_hops)
                hop = _link_address(route)
        try:
            if self.config.compress:
                compressed, consumed = compress_headers(
                    packet, src_mac=src, dst_mac=final, contexts=self.config.contexts
                )
            else:
                compressed, consumed = _UNCOMPRESSED, 0
        except ValueError as exc:
            log.debug("6LoWPAN: cannot compress: %s", exc)
            compressed, consumed = _UNCOMPRESSED, 0
        room = self.mac.max_payload(hop)
        if mesh is not None:
            # the mesh header, and for a flood the LOWPAN_BC0 header (RFC 4944 §5 order)
            room -= mesh.header_len + (BroadcastHeader.header_len if dst == BROADCAST else 0)
        if len(compressed) + len(packet) - consumed <= room:
            return self._send_frame(hop, compressed + packet[consumed:], mesh)
        self._tag = (self._tag + 1) & 0xFFFF
        try:
            fragments = fragment_datagram(packet, compressed, consumed, tag=self._tag,
                                          max_size=room)  # fmt: skip
        except ValueError as exc:
            counters.tx_too_big += 1
            log.debug("6LoWPAN: cannot fragment: %s", exc)
            return False
        counters.tx_fragmented += 1
        if mesh is not None and self.config.fragment_gap > 0:
            return self._send_paced(hop, fragments, mesh)
        ok = True
        for fragment in fragments:
            ok = self._send_frame(hop, fragment, mesh) and ok
        return ok

    def _send_frame(self, dst: int | bytes, payload: bytes, mesh: MeshHeader | None) -> bool:
        return self._request(dst, self._framed(dst, payload, mesh), None)

    def _framed(self, dst: int | bytes, payload: bytes, mesh: MeshHeader | None) -> bytes:
        """``payload`` behind the mesh header (and for a flood, a fresh LOWPAN_BC0)."""
        if mesh is None:
            return payload
        self.counters.mesh_tx_frames += 1
        if dst == BROADCAST:  # each flooded frame gets its own sequence number
            sequence = self._broadcast_sequence = (self._broadcast_sequence + 1) & 0xFF
            payload = BroadcastHeader(sequence).build(payload)
        return mesh.build(payload)

    def _request(
        self, dst: int | bytes, payload: bytes, then: Callable[[], None] | None, retries: int = -1
    ) -> bool:
        """Hand a frame to the MAC (``retries`` < 0: a new frame, counted, with the
        configured retries); ``then`` runs once it has gone (or failed) for good."""
        if retries < 0:
            self.counters.tx_frames += 1
            retries = self.config.channel_access_retries
        done = partial(self._sent, dst, payload, then, retries)
        if self.mac.data_request(dst, payload, done=done):
            return True
        self.counters.tx_failed += 1
        return False

    def _sent(
        self,
        dst: int | bytes,
        payload: bytes,
        then: Callable[[], None] | None,
        retries: int,
        status: MacStatus,
    ) -> None:
        if status is MacStatus.CHANNEL_ACCESS_FAILURE and retries > 0 and self.mac.is_up:
            self.counters.tx_channel_access_retries += 1
            if self._request(dst, payload, then, retries - 1):
                return
        elif status is not MacStatus.SUCCESS:
            self.counters.tx_failed += 1
        if then is not None:
            then()

    # -- pacing of multi-hop fragments (RFC 8931's Inter-Frame Gap) ---------------------------
    def _send_paced(self, hop: int | bytes, fragments: list[bytes], mesh: MeshHeader) -> bool:
        """Queue the fragments of a datagram that travels more than one hop; they go one
        at a time, each ``fragment_gap`` seconds after the previous one left, so a relay
        can pass a fragment on before the next one arrives (back-to-back fragments collide
        with their own forwarding two hops on, where the source cannot hear it)."""
        paced = self._paced
        if len(paced) + len(fragments) > self.config.paced_limit:
            self.counters.tx_paced_overflow += 1
            return False
        paced.extend((hop, fragment, mesh) for fragment in fragments)
        if not self._pacing:
            self._pace_next()
        return True

    def _pace_next(self) -> None:
        while self._paced:
            hop, fragment, mesh = self._paced.popleft()
            if self._request(hop, self._framed(hop, fragment, mesh), self._paced_sent):
                self._pacing = True
                return
        self._pacing = False

    def _paced_sent(self) -> None:
        self._pacer.arm(self.world.now() + self.config.fragment_gap)

    def _source_address(self) -> int | bytes:
        short = self.mac.short_address
        return short if short is not None and short < 0xFFFE else self.mac.ext_address

    # -- input --------------------------------------------------------------------------------
    def _input(self, indication: MacDataIndication) -> None:
        counters = self.counters
        counters.rx_frames += 1
        try:
            headers, payload = LowpanHeaders.parse(indication.payload)
        except DecodeError as exc:
            counters.rx_malformed += 1
            log.debug("6LoWPAN: malformed frame dropped: %s", exc)
            return
        src, dst = _link_bytes(indication.src), _link_bytes(indication.dst)
        mesh = headers.mesh
        if mesh is not None:
            if self._is_mine(mesh.originator):  # our own frame, flooded or looped back
                counters.mesh_echoes += 1
                return
            if not self._for_us(mesh.final):
                if self.config.mesh_under:
                    self._forward(indication.payload, mesh, _link_address(mesh.final))
                else:
                    counters.rx_not_for_us += 1
                return
            src, dst = mesh.originator, mesh.final
        if headers.broadcast is not None:
            if self._seen_broadcast(src, headers.broadcast.sequence):
                counters.rx_duplicate_broadcasts += 1
                return
            if mesh is not None and self.config.mesh_under:
                self._forward(indication.payload, mesh, BROADCAST)  # flood it on
        fragment = headers.fragment
        try:
            if fragment is None:
                datagram = decompress_ipv6(payload, src_mac=src, dst_mac=dst,
                                           contexts=self.config.contexts)  # fmt: skip
            else:
                whole = self._reassemble(fragment, payload, src, dst)
                if whole is None:
                    return
                datagram = bytes(whole)
        except (DecodeError, ValueError) as exc:
            counters.rx_malformed += 1
            log.debug("6LoWPAN: undecodable datagram dropped: %s", exc)
            return
        counters.rx_datagrams += 1
        netif = self._netif
        if netif is not None:
            netif.input_ipv6(netif, memoryview(datagram), RxFlags.NONE)

    def _reassemble(
        self, fragment: Frag1Header | FragnHeader, payload: memoryview, src: bytes, dst: bytes
    ) -> bytearray | None:
        key = (src, dst, fragment.datagram_size, fragment.datagram_tag)
        now = self.world.now()
        if isinstance(fragment, Frag1Header):
            data, decoded = decompress_first_fragment(
                payload, src_mac=src, dst_mac=dst, contexts=self.config.contexts,
                datagram_size=fragment.datagram_size,
            )  # fmt: skip
            finish = decoded.complete if decoded is not None else None
            whole = self.reassembler.add(key, 0, data, now, finish)
        else:
            whole = self.reassembler.add(key, fragment.offset, bytes(payload), now)
        self._timer.arm(self.reassembler.next_deadline())
        return whole

    def _on_timer(self) -> None:
        self.reassembler.expire(self.world.now())
        self._timer.arm(self.reassembler.next_deadline())

    def _for_us(self, address: bytes) -> bool:
        return self._is_mine(address) or address == b"\xff\xff"

    def _is_mine(self, address: bytes) -> bool:
        if len(address) == 8:
            return address == self.mac.ext_address
        return int.from_bytes(address, "big") == self.mac.short_address

    def _forward(self, frame: bytes, mesh: MeshHeader, final: int | bytes) -> None:
        """Send a frame for ``final`` on with Hops Left one less (RFC 4944 §11)."""
        counters = self.counters
        if mesh.hops_left <= 1:  # decremented to zero: not forwarded any further
            counters.mesh_hops_exceeded += 1
            return
        if final == BROADCAST:
            hop: int | bytes = BROADCAST
            counters.mesh_flooded += 1
        else:
            route = self.mesh_routes.get(mesh.final)
            hop = final if route is None else _link_address(route)
            counters.mesh_forwarded += 1
        self._request(hop, decrement_hops_left(frame), None)

    def _seen_broadcast(self, originator: bytes, sequence: int) -> bool:
        key = (originator, sequence)
        if key in self._broadcasts:
            return True
        self._broadcasts[key] = None
        if len(self._broadcasts) > self.config.broadcast_memory:
            self._broadcasts.popitem(last=False)
        return False
