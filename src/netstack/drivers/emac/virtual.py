"""Virtual Ethernet: learning switches (segments) and the NICs plugged into them.

A :class:`VirtualSegment` is a learning Ethernet switch living in one world. Each
:meth:`VirtualSegment.add_port` plugs in a :class:`VirtualEMAC`, which implements the EMAC
contract, so any stack runs on it unchanged. Switches join with trunks
(:meth:`VirtualSegment.connect`) into larger topologies.

Path of a frame::

    VirtualEMAC.link_out -> port impairment (LinkParams) -> switch ingress:
        capture, learn source, forward to the learned port or flood
    -> egress to other NICs (their input callback) or across a trunk (trunk impairment)
       to the next switch's ingress

- The impairment is on a port's way *into* the switch (the cable from the NIC), so a frame
  between two NICs is impaired once, by its sender's port (and once per trunk it crosses).
  A port's own ``params`` override the segment's default ``params``.
- Delivery always goes through the loop: a frame never reaches another NIC while its
  sender is still inside ``link_out``.
- Learning: source MAC -> ingress port, in a table of at most ``mac_table_size`` entries
  with ``ageing_time`` seconds of ageing on the world clock (IEEE 802.1D §7.9 ageing,
  default 300 s). When the table is full and nothing has aged out, new addresses are not
  learned and frames to them are flooded, as hardware switches do.
- Flooding: broadcast, multicast and unknown unicast go to every port but the ingress port.
- There is no spanning tree: **topologies must be trees**. A loop of trunks makes
  broadcasts circulate forever.
- Capture (``capture=`` or :meth:`VirtualSegment.capture`) writes every frame entering the
  switch, after the impairment, once per frame, with world-clock timestamps.

A :class:`VirtualEMAC` filters like a real NIC: unicast to its own address, broadcast, and
multicast either all (the default, all-multicast mode) or only joined groups after
``set_all_multicast(False)``. Frames longer than ``mtu + 14`` (``+ 4`` with an 802.1Q tag)
are dropped and counted, on send and on receive.

Checksum offload (``offload=True`` on the segment or a port), as a veth has it: the NIC
advertises ``tx_checksum``/``rx_checksum``, a stack may hand it frames whose transport
checksum holds only the pseudo-header sum, and an offloading receiver gets them flagged
:attr:`~netstack.drivers.emac.api.RxFlags.CSUM_VALID` without anyone summing the payload.
Whatever must look like a wire finishes the checksum first: the segment's capture, a
``PcapTap`` on either NIC, a corrupting impairment (so corruption is still detected), and a
receiving port without the offload.
"""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING, Protocol

from netstack.drivers.emac.api import (
    Capabilities,
    LinkInputCallback,
    LinkStateCallback,
    RxFlags,
    TxOffload,
)
from netstack.drivers.wrappers.capture import PartialChecksumFrame, complete_checksum, finished
from netstack.drivers.wrappers.impair import Impairment, LinkParams
from netstack.wire import Buffer
from netstack.wire.pcap import LinkType, PcapTarget, PcapWriter

if TYPE_CHECKING:
    from netstack.runtime import World

log = logging.getLogger(__name__)

BROADCAST = b"\xff\xff\xff\xff\xff\xff"
ETH_HEADER_LEN = 14
VLAN_TAG_LEN = 4
_TPID_8021Q = b"\x81\x00"

DEFAULT_MAC_TABLE_SIZE = 4096
DEFAULT_AGEING_TIME = 300.0

SEGMENT_STAT_NAMES = (
    "frames",  # entered the switch
    "forwarded",  # sent out of exactly one port
    "flooded",  # sent out of every other port
    "filtered",  # destination learned on the ingress port: not sent anywhere
    "dropped",  # runt frames (shorter than an Ethernet header)
    "learned",  # new table entries
    "moved",  # an address seen on a different port
    "aged",  # entries removed by ageing
    "table_full",  # source addresses not learned for lack of room
)

PORT_STAT_NAMES = (
    "tx_frames",
    "tx_dropped",  # powered down, link down, runt, or the port's queue full
    "tx_oversize",
    "rx_frames",
    "rx_dropped",  # powered down, link down or no input callback
    "rx_filtered",  # not for this NIC (unicast to another, or an unjoined group)
    "rx_oversize",
    "rx_csum_offloaded",  # delivered flagged CSUM_VALID: the checksum was never summed
)


def _max_frame(mtu: int, frame: Buffer) -> int:
    if frame[12:14] == _TPID_8021Q:
        return mtu + ETH_HEADER_LEN + VLAN_TAG_LEN
    return mtu + ETH_HEADER_LEN


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


class _SwitchPort(Protocol):
    """Where a switch sends a frame out: a NIC or a trunk to another switch."""

    name: str

    def egress(self, frame: bytes) -> None: ...


class VirtualSegment:
    """A learning Ethernet switch in a world; see the module docstring."""

    def __init__(
        self,
        world: World,
        name: str = "seg0",
        *,
        params: LinkParams | None = None,
        capture: PcapTarget | None = None,
        mac_table_size: int = DEFAULT_MAC_TABLE_SIZE,
        ageing_time: float = DEFAULT_AGEING_TIME,
        offload: bool = False,
    ) -> None:
        if mac_table_size < 1:
            raise ValueError(f"mac_table_size must be >= 1, got {mac_table_size}")
        if not ageing_time > 0:
            raise ValueError(f"ageing_time must be > 0, got {ageing_time}")
        self.world = world
        self.name = name
        self.params = params or LinkParams()
        #: the default for new ports: checksum offload (see :class:`VirtualEMAC`)
        self.offload = offload
        self.mac_table_size = mac_table_size
        self.ageing_time = ageing_time
        self.stats: dict[str, int] = dict.fromkeys(SEGMENT_STAT_NAMES, 0)
        self.ports: list[VirtualEMAC] = []
        self._egress_ports: list[_SwitchPort] = []
        self._trunks: list[_Trunk] = []
        #: MAC -> (port, last seen); ordered from least to most recently seen.
        self._table: collections.OrderedDict[bytes, tuple[_SwitchPort, float]] = (
            collections.OrderedDict()
        )
        self._capture: PcapWriter | None = None
        self._owns_capture = False
        if capture is not None:
            self.capture(capture)

    # --- building ----------------------------------------------------------------------

    def add_port(
        self,
        hwaddr: bytes | None = None,
        *,
        params: LinkParams | None = None,
        mtu: int = 1500,
        offload: bool | None = None,
    ) -> VirtualEMAC:
        """Plug a new NIC into the switch. Without ``hwaddr`` it gets the world's next free
        locally administered address (02:00:00:00:00:01, …). ``offload`` (default: the
        segment's) gives the NIC checksum offload."""
        if hwaddr is None:
            hwaddr = self.world.allocate_hwaddr()
        else:
            hwaddr = bytes(hwaddr)
            if len(hwaddr) != 6:
                raise ValueError(f"hwaddr must be 6 bytes, got {len(hwaddr)}")
            self.world.reserve_hwaddr(hwaddr)
        if mtu < 68:
            raise ValueError(f"mtu too small: {mtu}")
        port = VirtualEMAC(
            self,
            hwaddr,
            mtu=mtu,
            params=params if params is not None else self.params,
            name=f"{self.name}.p{len(self.ports)}",
            offload=self.offload if offload is None else offload,
        )
        self.ports.append(port)
        self._egress_ports.append(port)
        return port

    def remove_port(self, port: VirtualEMAC) -> None:
        """Unplug a NIC: it goes link-down and its table entries are forgotten."""
        port.set_link(False)
        self.ports.remove(port)
        self._egress_ports.remove(port)
        self._forget(port)

    def connect(self, other: VirtualSegment, *, params: LinkParams | None = None) -> None:
        """Join this switch to ``other`` with a trunk; ``params`` impair both directions.

        The topology of connected segments must stay a tree (no loop detection).
        """
        if other is self:
            raise ValueError("cannot connect a segment to itself")
        if other.world is not self.world:
            raise ValueError("segments of different worlds cannot be connected")
        trunk_params = params or LinkParams()
        here = _Trunk(self, other, trunk_params)
        there = _Trunk(other, self, trunk_params)
        here.peer, there.peer = there, here
        self._trunks.append(here)
        self._egress_ports.append(here)
        other._trunks.append(there)
        other._egress_ports.append(there)

    def capture(self, target: PcapTarget) -> PcapWriter:
        """Capture every frame entering this switch to a pcap (replacing any capture)."""
        self._close_capture()
        self._capture = PcapWriter(target, LinkType.ETHERNET)
        self._owns_capture = True
        return self._capture

    def close(self) -> None:
        """Close the capture and drop frames in flight on ports and trunks."""
        self._close_capture()
        for port in self.ports:
            port.impairment.cancel()
        for trunk in self._trunks:
            trunk.impairment.cancel()

    def _close_capture(self) -> None:
        if self._capture is not None and self._owns_capture:
            self._capture.close()
        self._capture = None

    # --- inspection ----------------------------------------------------------------------

    @property
    def mac_table(self) -> dict[str, str]:
        """Learned, unexpired entries: MAC (aa:bb:…) -> port name."""
        now = self.world.now()
        return {
            format_mac(mac): port.name
            for mac, (port, seen) in self._table.items()
            if now - seen <= self.ageing_time
        }

    # --- switching ---------------------------------------------------------------------

    def _ingress(self, port: _SwitchPort, frame: bytes) -> None:
        """A frame has arrived on ``port`` (after the impairment of its cable)."""
        stats = self.stats
        stats["frames"] += 1
        now = self.world.now()
        capture = self._capture
        if capture is not None:
            capture.write(now, finished(frame))
        if len(frame) < ETH_HEADER_LEN:
            stats["dropped"] += 1
            return
        src = frame[6:12]
        if not src[0] & 1:  # a group address is never a source
            self._learn(src, port, now)
        dst = frame[0:6]
        if dst[0] & 1:
            self._flood(port, frame)
            return
        entry = self._table.get(dst)
        if entry is not None:
            out, seen = entry
            if now - seen <= self.ageing_time:
                if out is port:
                    stats["filtered"] += 1
                else:
                    stats["forwarded"] += 1
                    out.egress(frame)
                return
            del self._table[dst]
            stats["aged"] += 1
        self._flood(port, frame)

    def _flood(self, ingress: _SwitchPort, frame: bytes) -> None:
        self.stats["flooded"] += 1
        for port in self._egress_ports:
            if port is not ingress:
                port.egress(frame)

    def _learn(self, src: bytes, port: _SwitchPort, now: float) -> None:
        table = self._table
        entry = table.get(src)
        if entry is not None:
            if entry[0] is not port:
                self.stats["moved"] += 1
            table[src] = (port, now)
            table.move_to_end(src)
            return
        if len(table) >= self.mac_table_size:
            # The front is the least recently seen: expired entries are all there.
            limit = now - self.ageing_time
            while table:
                oldest = next(iter(table.values()))
                if oldest[1] >= limit:
                    break
                table.popitem(last=False)
                self.stats["aged"] += 1
            if len(table) >= self.mac_table_size:
                self.stats["table_full"] += 1
                return
        table[src] = (port, now)
        self.stats["learned"] += 1

    def _forget(self, port: _SwitchPort) -> None:
        for mac in [mac for mac, (p, _) in self._table.items() if p is port]:
            del self._table[mac]

    def __repr__(self) -> str:
        return f"<VirtualSegment {self.name} ports={len(self.ports)} trunks={len(self._trunks)}>"


class _Trunk:
    """One end of a trunk: frames this switch sends out of it reach ``remote``'s ingress."""

    def __init__(self, local: VirtualSegment, remote: VirtualSegment, params: LinkParams) -> None:
        self.name = f"{local.name}->{remote.name}"
        self.local = local
        self.remote = remote
        self.impairment = Impairment(local.world, params, self._arrive)
        self.peer: _Trunk | None = None

    def egress(self, frame: bytes) -> None:
        self.impairment.submit(frame)

    def _arrive(self, frame: bytes) -> None:
        # A frame arrives on the remote switch through the remote's end of this trunk.
        assert self.peer is not None
        self.remote._ingress(self.peer, frame)


class VirtualEMAC:
    """A NIC plugged into a :class:`VirtualSegment`; implements the EMAC contract.

    Create it with :meth:`VirtualSegment.add_port`. The cable starts plugged in
    (:meth:`set_link` pulls and replugs it); the NIC reports link up from
    :meth:`power_up` on, through the link-state callback, from the loop.
    """

    def __init__(
        self,
        segment: VirtualSegment,
        hwaddr: bytes,
        *,
        mtu: int,
        params: LinkParams,
        name: str,
        offload: bool = False,
    ) -> None:
        self.segment = segment
        self.name = name
        self._world = segment.world
        self._hwaddr = hwaddr
        self._mtu = mtu
        self._offload = offload
        self._capabilities = Capabilities(mtu=mtu, tx_checksum=offload, rx_checksum=offload)
        self.impairment = Impairment(segment.world, params, self._enter_switch)
        self.stats: dict[str, int] = dict.fromkeys(PORT_STAT_NAMES, 0)
        self._powered = False
        self._cable = True
        self._input_cb: LinkInputCallback | None = None
        self._state_cb: LinkStateCallback | None = None
        self._all_multicast = True
        self._groups: set[bytes] = set()

    # --- EMAC ---------------------------------------------------------------------------

    @property
    def hwaddr(self) -> bytes:
        return self._hwaddr

    @property
    def mtu(self) -> int:
        return self._mtu

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def link_up(self) -> bool:
        return self._powered and self._cable

    def power_up(self) -> bool:
        if not self._powered:
            self._powered = True
            if self._cable:
                self._world.call_soon(self._report_up)
        return True

    def power_down(self) -> None:
        self._powered = False

    def set_link_input_cb(self, cb: LinkInputCallback | None) -> None:
        self._input_cb = cb

    def set_link_state_cb(self, cb: LinkStateCallback | None) -> None:
        self._state_cb = cb

    def add_multicast_group(self, mac: bytes) -> None:
        self._groups.add(bytes(mac))

    def remove_multicast_group(self, mac: bytes) -> None:
        self._groups.discard(bytes(mac))

    def set_all_multicast(self, on: bool) -> None:
        self._all_multicast = on

    def link_out(self, frame: Buffer, offload: TxOffload | None = None) -> bool:
        stats = self.stats
        if not (self._powered and self._cable) or len(frame) < ETH_HEADER_LEN:
            stats["tx_dropped"] += 1
            return False
        if len(frame) > _max_frame(self._mtu, frame):
            stats["tx_oversize"] += 1
            return False
        if offload is not None and offload.csum_start > 0:
            if self._offload:
                frame = PartialChecksumFrame.of(frame, offload)
            else:
                # No offload here (see capabilities): finish the checksum rather than send
                # a partial one if a stack asks anyway.
                frame = complete_checksum(frame, offload)
        if not self.impairment.submit(frame):
            stats["tx_dropped"] += 1
            return False
        stats["tx_frames"] += 1
        return True

    # --- simulation controls -------------------------------------------------------------

    def set_link(self, up: bool) -> None:
        """Plug (True) or pull (False) the cable. Frames still on a pulled cable are lost.

        A powered-up NIC reports the change to its link-state callback at once.
        """
        if up == self._cable:
            return
        self._cable = up
        if not up:
            self.impairment.cancel()
        if self._powered and self._state_cb is not None:
            self._state_cb(up)

    # --- switch side ---------------------------------------------------------------------

    def _report_up(self) -> None:
        if self._powered and self._cable and self._state_cb is not None:
            self._state_cb(True)

    def _enter_switch(self, frame: bytes) -> None:
        self.segment._ingress(self, frame)

    def egress(self, frame: bytes) -> None:
        """The switch sends ``frame`` out of this port: receive it like a NIC would."""
        stats = self.stats
        if not (self._powered and self._cable):
            stats["rx_dropped"] += 1
            return
        if len(frame) > _max_frame(self._mtu, frame):
            stats["rx_oversize"] += 1
            return
        dst = frame[0:6]
        if dst[0] & 1:
            if not self._all_multicast and dst != BROADCAST and dst not in self._groups:
                stats["rx_filtered"] += 1
                return
        elif dst != self._hwaddr:
            stats["rx_filtered"] += 1
            return
        cb = self._input_cb
        if cb is None:
            stats["rx_dropped"] += 1
            return
        stats["rx_frames"] += 1
        if type(frame) is PartialChecksumFrame:
            if self._offload:  # the "hardware" vouches for the checksum it never computed
                stats["rx_csum_offloaded"] += 1
                cb(memoryview(frame), RxFlags.CSUM_VALID)
                return
            frame = finished(frame)
        cb(memoryview(frame), RxFlags.NONE)

    def __repr__(self) -> str:
        return f"<VirtualEMAC {self.name} {format_mac(self._hwaddr)}>"


__all__ = ["VirtualEMAC", "VirtualSegment", "format_mac"]
