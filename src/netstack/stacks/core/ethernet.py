"""EthernetLink: the link adapter for an EMAC — Ethernet framing and ARP.

Input runs straight from the driver's callback: parse the Ethernet header once, filter on
the destination, hand ARP to the cache and IPv4 to the stack. Output resolves the next hop
(queueing while ARP is in flight) and frames the packet. One loop timer serves ARP
retransmissions.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass

from netstack.drivers.emac.api import EMAC, Capabilities, RxFlags, TxOffload
from netstack.drivers.wrappers.capture import complete_checksum
from netstack.runtime.timer import DeadlineTimer
from netstack.runtime.world import World
from netstack.stacks.core.acd import (
    AcdConfig,
    AddressAvailable,
    AddressProbe,
    DefenceTracker,
)
from netstack.stacks.core.arp import ArpCache, ArpConfig, ArpRequest
from netstack.stacks.core.link import NetIf, ProbeCallback
from netstack.wire import DecodeError
from netstack.wire.arp import ArpOp, ArpPacket
from netstack.wire.ethernet import (
    BROADCAST,
    EthernetHeader,
    EtherType,
    ipv4_multicast_mac,
    ipv6_multicast_mac,
)

log = logging.getLogger(__name__)

_ZERO_MAC = b"\0" * 6
_ZERO_IP = b"\0" * 4
_LIMITED_BROADCAST = b"\xff" * 4


@dataclass(slots=True)
class EthernetStats:
    rx_frames: int = 0
    tx_frames: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_malformed: int = 0
    rx_not_for_us: int = 0
    rx_unknown_ethertype: int = 0
    tx_dropped: int = 0
    arp_rx: int = 0
    arp_tx: int = 0
    arp_replies_sent: int = 0
    arp_unresolved_drops: int = 0
    #: large (GSO) segments dropped because their next hop needed ARP resolution first
    gso_unresolved_drops: int = 0
    acd_probes_sent: int = 0
    acd_conflicts: int = 0
    acd_defences: int = 0
    acd_addresses_lost: int = 0


_ETHERNET_HEADER_LEN = 14
_HEADER_CACHE_SIZE = 256


class EthernetLink:
    """Adapts an :class:`~netstack.drivers.emac.api.EMAC` to a stack's :class:`NetIf`."""

    def __init__(
        self,
        emac: EMAC,
        world: World,
        *,
        arp: ArpConfig | None = None,
        acd: AcdConfig | None = None,
    ) -> None:
        self.emac = emac
        self.world = world
        self.arp = ArpCache(arp)
        self.acd_config = acd or AcdConfig()
        self._probes: dict[bytes, tuple[AddressProbe, ProbeCallback]] = {}
        self._defence = DefenceTracker(self.acd_config)
        self.counters = EthernetStats()
        self._netif: NetIf | None = None
        self._timer = DeadlineTimer(world, self._on_timer)
        self._announce_timer: asyncio.TimerHandle | None = None
        self._hwaddr = bytes(emac.hwaddr)
        self._multicast: set[bytes] = set()
        #: built Ethernet headers by (destination, type): one concatenation per frame
        self._headers: dict[tuple[bytes, int], bytes] = {}
        #: directed broadcast addresses of the interface, recomputed on address changes
        self._broadcasts: frozenset[bytes] = frozenset({_LIMITED_BROADCAST})

    # -- LinkAdapter contract -------------------------------------------------------------
    @property
    def mtu(self) -> int:
        return self.emac.mtu

    @property
    def hwaddr(self) -> bytes:
        return self._hwaddr

    @property
    def capabilities(self) -> Capabilities:
        return self.emac.capabilities

    @property
    def header_len(self) -> int:
        return _ETHERNET_HEADER_LEN

    @property
    def is_up(self) -> bool:
        return self.emac.link_up

    def start(self, netif: NetIf) -> None:
        self._netif = netif
        self._broadcasts = frozenset({_LIMITED_BROADCAST, *(a.broadcast for a in netif.ipv4)})
        self.emac.set_link_input_cb(self._input)
        self.emac.set_link_state_cb(self._link_state)
        if not self.emac.power_up():
            raise OSError("EMAC failed to power up")

    def stop(self) -> None:
        self.emac.set_link_input_cb(None)
        self.emac.set_link_state_cb(None)
        self.emac.power_down()
        self._timer.cancel()
        if self._announce_timer is not None:
            self._announce_timer.cancel()
            self._announce_timer = None
        self._probes.clear()
        self.arp.clear()

    def stats(self) -> dict[str, int]:
        out = asdict(self.counters)
        out.update({f"arp_{k}": v for k, v in asdict(self.arp.stats).items()})
        out["arp_entries"] = len(self.arp)
        return out

    def addresses_changed(self) -> None:
        """Announce every address: ANNOUNCE_NUM gratuitous ARPs ANNOUNCE_INTERVAL apart
        (RFC 5227 §2.3), so neighbours holding a stale mapping update it."""
        netif = self._netif
        if netif is None:
            return
        self._broadcasts = frozenset({_LIMITED_BROADCAST, *(a.broadcast for a in netif.ipv4)})
        if self._announce_timer is not None:
            self._announce_timer.cancel()
            self._announce_timer = None
        self._announce(self.arp.config.announce_count)

    def _announce(self, remaining: int) -> None:
        self._announce_timer = None
        netif = self._netif
        if netif is None or not self.is_up or not netif.ipv4 or remaining <= 0:
            return
        for addr in netif.ipv4:
            self._send_arp(ArpOp.REQUEST, BROADCAST, addr.address, _ZERO_MAC, addr.address)
        if remaining > 1:
            self._announce_timer = self.world.call_later(
                self.arp.config.announce_interval, lambda: self._announce(remaining - 1)
            )

    def join_multicast(self, group_mac: bytes) -> None:
        if group_mac not in self._multicast:
            self._multicast.add(group_mac)
            self.emac.add_multicast_group(group_mac)

    # -- output ---------------------------------------------------------------------------
    def output_ipv4(self, packet: bytes, next_hop: bytes, offload: TxOffload | None = None) -> bool:
        if next_hop in self._broadcasts:
            return self._send(BROADCAST, EtherType.IPV4, packet, offload)
        if 224 <= next_hop[0] <= 239:
            return self._send(ipv4_multicast_mac(next_hop), EtherType.IPV4, packet, offload)
        now = self.world.now()
        mac = self.arp.lookup(next_hop, now)
        if mac is None:
            if offload is not None:
                finished = self._finish_for_queue(packet, offload)
                if finished is None:
                    return False
                packet, offload = finished, None
            mac = self.arp.resolve(next_hop, packet, now)
            if mac is None:
                self._flush_arp()
                return True  # queued
        if self.arp._outbox:  # a refresh request became due
            self._flush_arp()
        return self._send(mac, EtherType.IPV4, packet, offload)

    def output_ipv6(self, packet: bytes, next_hop: bytes, offload: TxOffload | None = None) -> bool:
        if next_hop[0] == 0xFF:
            return self._send(ipv6_multicast_mac(next_hop), EtherType.IPV6, packet, offload)
        netif = self._netif
        ip6 = netif.ip6 if netif is not None else None
        if ip6 is None:
            self.counters.tx_dropped += 1
            return False
        mac = ip6.output_lladdr(next_hop)
        if mac is None:
            if offload is not None:
                finished = self._finish_for_queue(packet, offload)
                if finished is None:
                    return False
                packet, offload = finished, None
            mac = ip6.resolve(next_hop, packet)
            if mac is None:
                return True  # queued until Neighbor Discovery answers
        return self._send(mac, EtherType.IPV6, packet, offload)

    def _finish_for_queue(self, packet: bytes, offload: TxOffload) -> bytes | None:
        """A packet with an offload request must wait for address resolution, and the
        queues (ARP, neighbour cache) hold finished packets: complete its checksum here. A
        large (GSO) segment is dropped and counted; TCP resends it once the address is
        known."""
        if offload.gso_type:
            self.counters.gso_unresolved_drops += 1
            return None
        start = offload.csum_start - _ETHERNET_HEADER_LEN
        return complete_checksum(packet, TxOffload(start, offload.csum_offset))

    def join_ipv6_group(self, group: bytes) -> None:
        self.join_multicast(ipv6_multicast_mac(group))

    def leave_ipv6_group(self, group: bytes) -> None:
        mac = ipv6_multicast_mac(group)
        if mac in self._multicast:
            self._multicast.discard(mac)
            self.emac.remove_multicast_group(mac)

    def _send(
        self, dst: bytes, ethertype: int, payload: bytes, offload: TxOffload | None = None
    ) -> bool:
        key = (dst, ethertype)
        header = self._headers.get(key)
        if header is None:
            header = EthernetHeader(dst, self._hwaddr, ethertype).build(b"")
            if len(self._headers) >= _HEADER_CACHE_SIZE:
                self._headers.clear()
            self._headers[key] = header
        frame = header + payload
        if self.emac.link_out(frame, offload):
            c = self.counters
            c.tx_frames += 1
            c.tx_bytes += len(frame)
            return True
        self.counters.tx_dropped += 1
        return False

    def _send_arp(
        self, op: int, dst: bytes, sender_ip: bytes, target_mac: bytes, target_ip: bytes
    ) -> None:
        arp = ArpPacket(op, self._hwaddr, sender_ip, target_mac, target_ip)
        self.counters.arp_tx += 1
        self._send(dst, EtherType.ARP, arp.build())

    def _flush_arp(self) -> None:
        netif = self._netif
        requests: list[ArpRequest] = self.arp.requests_to_send()
        if netif is not None:
            for req in requests:
                source = self._source_for(req.target_ip)
                self._send_arp(
                    ArpOp.REQUEST, req.dst_mac or BROADCAST, source, _ZERO_MAC, req.target_ip
                )
        self._arm_timer()

    def _source_for(self, target: bytes) -> bytes:
        netif = self._netif
        if netif is None or not netif.ipv4:
            return _ZERO_IP  # RFC 5227 probe form
        t = int.from_bytes(target, "big")
        for a in netif.ipv4:
            mask = (0xFFFFFFFF << (32 - a.prefix_len)) & 0xFFFFFFFF
            if (int.from_bytes(a.address, "big") ^ t) & mask == 0:
                return a.address
        return netif.ipv4[0].address

    def _arm_timer(self) -> None:
        when = self.arp.get_timer()
        for probe, _ in self._probes.values():
            deadline = probe.get_timer()
            if deadline is not None and (when is None or deadline < when):
                when = deadline
        self._timer.arm(when)

    def _on_timer(self) -> None:
        now = self.world.now()
        if self._probes:
            self._run_probes(now, timer=True)
        failed = self.arp.handle_timer(now)
        for ip, dropped in failed:
            self.counters.arp_unresolved_drops += len(dropped)
            log.debug("ARP gave up on %s, dropped %d packets", ip.hex(), len(dropped))
        self._flush_arp()

    # -- address conflict detection (RFC 5227) -------------------------------------------
    def probe_address(self, address: bytes, callback: ProbeCallback) -> None:
        """Probe ``address`` (RFC 5227 §2.1); ``callback(ok, other_mac)`` when decided."""
        address = bytes(address)
        probe = AddressProbe(address, self._hwaddr, self.world.rng, self.acd_config)
        probe.start(self.world.now())
        self._probes[address] = (probe, callback)
        self._arm_timer()

    def _run_probes(self, now: float, *, timer: bool) -> None:
        for address, (probe, callback) in list(self._probes.items()):
            if timer:
                probe.handle_timer(now)
            for _ in probe.packets_to_send(now):
                self.counters.acd_probes_sent += 1
                self._send_arp(ArpOp.REQUEST, BROADCAST, _ZERO_IP, _ZERO_MAC, address)
            event = probe.next_event()
            if event is None:
                continue
            del self._probes[address]
            if isinstance(event, AddressAvailable):
                callback(True, None)
            else:
                self.counters.acd_conflicts += 1
                callback(False, event.other_mac)
        self._arm_timer()

    def _defend(self, netif: NetIf, address: bytes, now: float) -> None:
        """Another host claims one of our addresses (RFC 5227 §2.4 (b))."""
        if self._defence.conflict(address, now):
            self.counters.acd_defences += 1
            self._send_arp(ArpOp.REQUEST, BROADCAST, address, _ZERO_MAC, address)
            return
        self.counters.acd_addresses_lost += 1
        log.debug("address %s lost to a conflict", address.hex())
        if netif.on_address_conflict is not None:
            netif.on_address_conflict(netif, address)

    # -- input ----------------------------------------------------------------------------
    def _link_state(self, up: bool) -> None:
        netif = self._netif
        if up:
            self.addresses_changed()
        else:
            self.arp.clear()
        if netif is not None and netif.on_link_state is not None:
            netif.on_link_state(netif, up)

    def _input(self, frame: memoryview, flags: RxFlags) -> None:
        c = self.counters
        c.rx_frames += 1
        size = len(frame)
        c.rx_bytes += size
        if size < 14:
            c.rx_malformed += 1
            return
        # the untagged case inline (no header record per frame); tags take the decoder
        ethertype = frame[12] << 8 | frame[13]
        if ethertype == 0x8100 or ethertype == 0x88A8:
            try:
                eth, payload = EthernetHeader.parse(frame)
            except DecodeError:
                c.rx_malformed += 1
                return
            ethertype = eth.ethertype
        else:
            payload = frame[14:]
        dst = bytes(frame[0:6])
        if (
            dst != self._hwaddr
            and dst != BROADCAST
            and not (dst[0] & 1 and (dst in self._multicast or dst[:3] == b"\x01\x00\x5e"))
        ):
            c.rx_not_for_us += 1
            return
        netif = self._netif
        if netif is None:
            return
        if ethertype == 0x0800:
            netif.input_ipv4(netif, payload, flags)
        elif ethertype == 0x86DD:
            netif.input_ipv6(netif, payload, flags)
        elif ethertype == 0x0806:
            self._arp_input(payload, netif)
        else:
            c.rx_unknown_ethertype += 1

    def _arp_input(self, payload: memoryview, netif: NetIf) -> None:
        c = self.counters
        c.arp_rx += 1
        try:
            arp = ArpPacket.parse(payload)
        except DecodeError:
            c.rx_malformed += 1
            return
        sender_ip = arp.sender_ip
        now = self.world.now()
        if self._probes and arp.sender_mac != self._hwaddr:
            for probe, _ in self._probes.values():
                probe.receive(arp.op, arp.sender_mac, sender_ip, arp.target_ip, now)
            self._run_probes(now, timer=False)
        if arp.sender_mac == self._hwaddr or sender_ip == _ZERO_IP:
            return  # our own, or another host's RFC 5227 probe: nothing to learn
        if any(a.address == sender_ip for a in netif.ipv4):
            self._defend(netif, sender_ip, now)
            return
        ours = any(a.address == arp.target_ip for a in netif.ipv4)
        for packet in self.arp.learn(sender_ip, arp.sender_mac, now, create=ours):
            self._send(arp.sender_mac, EtherType.IPV4, packet)
        self._arm_timer()
        if ours and arp.op == ArpOp.REQUEST:
            c.arp_replies_sent += 1
            self._send_arp(ArpOp.REPLY, arp.sender_mac, arp.target_ip, arp.sender_mac, sender_ip)
