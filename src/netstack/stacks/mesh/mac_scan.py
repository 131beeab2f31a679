"""Channel scans of the IEEE 802.15.4 MAC (IEEE 802.15.4-2015 §6.3.1-§6.3.2), and the
beacon a coordinator answers an active scan with.

:class:`ChannelScan` steps through a list of channels on the radio the MAC lends it:

- **active**: macPanId is 0xFFFF during the scan (beacons of every PAN pass the radio's
  filter); on each channel a Beacon Request goes out (broadcast, destination PAN 0xFFFF,
  through the MAC's CSMA-CA), then the radio listens aBaseSuperframeDuration x
  (2^duration + 1) symbols; each beacon heard becomes a :class:`PanDescriptor`, one per
  (channel, PAN, coordinator), at most :data:`MAX_PAN_DESCRIPTORS`.
- **energy detection**: ``energy_detect`` for ``duration`` seconds on each channel; the
  peak in dBm per channel.

The MAC keeps its transmit queue waiting while a scan runs, passes it the beacons it
receives, and restores its channel and address filter when the scan reports back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from netstack.drivers.rfphy.api import RfPhy
from netstack.runtime.timer import DeadlineTimer
from netstack.runtime.world import World
from netstack.stacks.mesh.csma import A_BASE_SUPERFRAME_DURATION
from netstack.stacks.mesh.mac_api import Address, MacConfig, PanDescriptor, SuperframeSpec
from netstack.wire import DecodeError
from netstack.wire.ieee802154 import Beacon, Ieee802154Frame

__all__ = ["MAX_PAN_DESCRIPTORS", "ChannelScan", "beacon_payload"]

log = logging.getLogger(__name__)

#: How many PAN descriptors one active scan keeps.
MAX_PAN_DESCRIPTORS = 32
#: At most seven short and seven extended pending addresses fit a beacon (2006 §7.2.2.1.6).
_MAX_PENDING = 7


def beacon_payload(config: MacConfig, pending: list[Hashable]) -> bytes:
    """The MAC payload of a coordinator's beacon in a nonbeacon-enabled PAN (2006
    §7.2.2.1): beacon and superframe order 15, no GTS, the addresses in ``pending`` (the
    first seven of each kind) and ``config.beacon_payload``."""
    short: list[int] = []
    extended: list[bytes] = []
    for dst in pending:
        if isinstance(dst, int) and len(short) < _MAX_PENDING:
            short.append(dst)
        elif isinstance(dst, bytes) and len(extended) < _MAX_PENDING:
            extended.append(dst)
    return Beacon(
        beacon_order=15,
        superframe_order=15,
        final_cap_slot=15,
        pan_coordinator=config.coordinator,
        association_permit=config.association_permit,
        pending_short=short,
        pending_extended=extended,
        payload=config.beacon_payload,
    ).build()


#: ``send_request(sent)``: put a Beacon Request on the air; ``sent(ok)`` once it went.
SendRequest = Callable[[Callable[[bool], None]], None]


class ChannelScan:
    """One active or energy-detection scan; see the module docstring.

    ``stats`` is the MAC's counter dict (``beacons_found``, ``rx_scan_dropped``,
    ``rx_malformed``, ``scan_results_dropped``). ``finished(scan)`` is called once every
    channel is done; :meth:`report` then hands the results to ``done_active`` or
    ``done_ed``.
    """

    def __init__(
        self,
        phy: RfPhy,
        world: World,
        *,
        active: bool,
        channels: list[int],
        duration: float,
        send_request: SendRequest,
        finished: Callable[[ChannelScan], None],
        stats: dict[str, int],
    ) -> None:
        self.phy = phy
        self.world = world
        self.active = active
        self.channels = channels
        self.duration = duration
        self.running = False
        self.found: list[PanDescriptor] = []
        self.energy: dict[int, int] = {}
        self.done_active: Callable[[list[PanDescriptor]], None] | None = None
        self.done_ed: Callable[[dict[int, int]], None] | None = None
        self._send_request = send_request
        self._finished = finished
        self._stats = stats
        self._index = -1
        self._cancelled = False
        self._seen: set[tuple[int, int, Address]] = set()
        self._timer = DeadlineTimer(world, self._next)
        self._listen_time = 0.0
        if active:
            symbols = A_BASE_SUPERFRAME_DURATION * ((1 << int(duration)) + 1)
            self._listen_time = symbols * phy.capabilities.symbol_time

    def begin(self) -> None:
        """Start on the first channel (the radio is the scan's until it finishes)."""
        self.running = True
        if self.active:
            # 2015 §6.3.1.2: macPanId is 0xffff while scanning, so every PAN's beacons pass.
            self.phy.set_address_filter(None, None, None)
        self._next()

    def cancel(self) -> None:
        """Stop where it is; :meth:`report` gives what was found so far."""
        self._cancelled = True
        self.running = False
        self._timer.cancel()

    def report(self) -> None:
        """Hand the results to the caller's callback."""
        if self.done_active is not None:
            self.done_active(list(self.found))
        if self.done_ed is not None:
            self.done_ed(dict(self.energy))

    def _next(self) -> None:
        if self._cancelled:
            return
        self._index += 1
        if self._index >= len(self.channels):
            self.running = False
            self._finished(self)
            return
        channel = self.channels[self._index]
        self.phy.set_channel(channel)
        if self.active:
            self._send_request(self._listen)
            return

        def measured(dbm: int) -> None:
            if not self._cancelled:
                self.energy[channel] = dbm
                self._next()

        if not self.phy.energy_detect(self.duration, measured):
            log.debug("radio refused energy detection on channel %d", channel)
            self._timer.arm(self.world.now())  # skip the channel, from the loop

    def _listen(self, sent: bool) -> None:
        """The Beacon Request went (or failed channel access: then go on at once)."""
        if not self._cancelled:
            self._timer.arm(self.world.now() + (self._listen_time if sent else 0.0))

    def beacon(self, frame: Ieee802154Frame, lqi: int, rssi: int) -> None:
        """A beacon frame arrived during the scan."""
        stats = self._stats
        coord = frame.src_addr
        pan = frame.source_pan
        if not self.active or frame.security_enabled or coord is None or pan is None:
            stats["rx_scan_dropped"] += 1
            return
        try:
            beacon = Beacon.parse(frame.payload)
        except DecodeError as exc:
            stats["rx_malformed"] += 1
            log.debug("undecodable beacon: %s", exc)
            return
        channel = self.phy.channel
        key = (channel, pan, coord)
        if key in self._seen:
            return
        if len(self.found) >= MAX_PAN_DESCRIPTORS:
            stats["scan_results_dropped"] += 1
            return
        self._seen.add(key)
        stats["beacons_found"] += 1
        superframe = SuperframeSpec(
            beacon.beacon_order,
            beacon.superframe_order,
            beacon.final_cap_slot,
            beacon.battery_life_extension,
            beacon.pan_coordinator,
            beacon.association_permit,
        )
        self.found.append(
            PanDescriptor(
                channel,
                coord,
                pan,
                lqi,
                rssi,
                superframe,
                beacon.payload,
                beacon.association_permit,
            )
        )
