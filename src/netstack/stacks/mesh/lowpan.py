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
- Input: mesh and broadcast headers are taken off (a frame whose mesh header names
  another final destination is dropped and counted: there is no mesh-under forwarding
  here; a broadcast sequence number seen recently from the same originator is a
  duplicate), fragments go to a bounded, timed :class:`FragmentReassembler`, and the
  datagram is decompressed with the frame's (or mesh header's) addresses and handed to the
  stack. Malformed frames are dropped and counted.

The link carries only IPv6; its MTU is 1280 (RFC 4944 §4).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

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
    compress_headers,
    decompress_first_fragment,
    decompress_ipv6,
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


@dataclass(slots=True)
class LowpanStats:
    tx_datagrams: int = 0
    tx_frames: int = 0
    tx_fragmented: int = 0
    tx_failed: int = 0
    tx_not_ipv6: int = 0
    tx_too_big: int = 0
    rx_frames: int = 0
    rx_datagrams: int = 0
    rx_malformed: int = 0
    rx_not_for_us: int = 0
    rx_duplicate_broadcasts: int = 0


def mac_for_iid(iid: bytes) -> int | bytes:
    """The MAC address an interface identifier was derived from (RFC 4944 §6): a short
    address for ``0000:00ff:fe00:XXXX`` (RFC 6282 §3.2.2), else the EUI-64."""
    mac = mac_from_iid(iid)
    return int.from_bytes(mac, "big") if len(mac) == 2 else mac


def _link_bytes(address: int | bytes) -> bytes:
    """The 2- or 8-byte form :mod:`netstack.wire.sixlowpan` takes."""
    return address.to_bytes(2, "big") if isinstance(address, int) else address


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
        src = self._source_address()
        try:
            if self.config.compress:
                compressed, consumed = compress_headers(
                    packet,
                    src_mac=_link_bytes(src),
                    dst_mac=_link_bytes(dst),
                    contexts=self.config.contexts,
                )
            else:
                compressed, consumed = _UNCOMPRESSED, 0
        except ValueError as exc:
            log.debug("6LoWPAN: cannot compress: %s", exc)
            compressed, consumed = _UNCOMPRESSED, 0
        room = self.mac.max_payload(dst)
        if len(compressed) + len(packet) - consumed <= room:
            return self._send_frame(dst, compressed + packet[consumed:])
        self._tag = (self._tag + 1) & 0xFFFF
        try:
            fragments = fragment_datagram(packet, compressed, consumed, tag=self._tag,
                                          max_size=room)  # fmt: skip
        except ValueError as exc:
            counters.tx_too_big += 1
            log.debug("6LoWPAN: cannot fragment: %s", exc)
            return False
        counters.tx_fragmented += 1
        ok = True
        for fragment in fragments:
            ok = self._send_frame(dst, fragment) and ok
        return ok

    def _send_frame(self, dst: int | bytes, payload: bytes) -> bool:
        self.counters.tx_frames += 1
        if self.mac.data_request(dst, payload, done=self._sent):
            return True
        self.counters.tx_failed += 1
        return False

    def _sent(self, status: MacStatus) -> None:
        if status is not MacStatus.SUCCESS:
            self.counters.tx_failed += 1

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
            if not self._for_us(mesh.final):
                counters.rx_not_for_us += 1  # no mesh-under forwarding on this link
                return
            src, dst = mesh.originator, mesh.final
        if headers.broadcast is not None and self._seen_broadcast(src, headers.broadcast):
            counters.rx_duplicate_broadcasts += 1
            return
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
        if len(address) == 8:
            return address == self.mac.ext_address
        short = int.from_bytes(address, "big")
        return short == BROADCAST or short == self.mac.short_address

    def _seen_broadcast(self, originator: bytes, header: BroadcastHeader) -> bool:
        key = (originator, header.sequence)
        if key in self._broadcasts:
            return True
        self._broadcasts[key] = None
        if len(self._broadcasts) > self.config.broadcast_memory:
            self._broadcasts.popitem(last=False)
        return False
