"""ZepRadio: the RfPhy contract over UDP (ZEP v2), and ZepHub, a relay joining many of them.

A :class:`ZepRadio` behaves toward its MAC like any radio (filtering, auto-ack, the ack
handshake and counters come from :class:`~netstack.drivers.rfphy.base.RadioBase`, shared
with the virtual medium), but its air is UDP: each frame leaves as a ZEP v2 data message
(:mod:`netstack.wire.zep`) to every peer, so Wireshark watching the interface (``udp port
17754``) dissects it live, and radios in several processes share one channel.

- **Sending**: CRC mode (ZEP LQI/CRC mode 1): the frame carries its real FCS, which is how
  Wireshark hands it to the 802.15.4 dissector with the FCS checked. Channel, device ID
  (the EUI-64's last two octets), LQI 255, the NTP timestamp of the world's clock and a
  per-radio sequence number fill the header. Timing follows the air: with ``csma`` the
  CCA (128 µs) and turnaround (192 µs), then the frame's airtime, and the datagram leaves
  at the frame's last octet — when a receiver on a real medium would get it.
- **CCA over ZEP is always clear**: nobody tells a radio what others are sending, and ZEP
  frames do not collide. Energy detection reports the noise floor (-100 dBm).
- **Receiving**: ZEP data messages on the radio's channel go through the FCS check,
  filtering and auto-ack; the Imm-Ack goes back as a ZEP frame too. A ZEP header has no
  RSSI: frames arrive with the LQI of the ZEP header and the RSSI given as ``rssi_dbm``.
  LQI-mode messages (mode 0: a CC24xx status trailer in place of the FCS) are dropped and
  counted (``zep_lqi_mode``). Datagrams arriving while the radio transmits are lost
  (``rx_aborted``), as on the air.
- **Acks** arrive after a UDP round trip and the receiver's scheduling, not 544 µs: the
  ack window is ``ack_wait`` (default 100 ms, reported in the capabilities).
- **Peers**: ``peers=[(host, port), ...]`` sends every frame to each of them (and
  :meth:`ZepRadio.add_peer`); ``group=(host, port)`` sends to a :class:`ZepHub` instead,
  which relays to everyone else registered. A radio registers with its hub at start and
  every ``keepalive`` seconds by sending a ZEP v2 *ack* message (type 2, which the hub
  does not relay).

No thread: the socket is non-blocking, read by a loop reader (at most ``max_batch``
datagrams per wake-up). :meth:`ZepRadio.close` releases it.
"""

from __future__ import annotations

import collections
import logging
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from netstack.drivers.rfphy.api import (
    CCA_DURATION,
    TURNAROUND_TIME,
    RadioCapabilities,
    RadioState,
    airtime,
)
from netstack.drivers.rfphy.base import RADIO_STAT_NAMES, RadioBase, parse_psdu
from netstack.drivers.rfphy.propagation import NOISE_FLOOR_DBM
from netstack.wire import DecodeError
from netstack.wire.zep import ZEP_PORT, ZepMessage, ZepType, ntp_from_seconds

if TYPE_CHECKING:
    import asyncio

    from netstack.runtime import World
    from netstack.wire.ieee802154 import Ieee802154Frame

log = logging.getLogger(__name__)

#: (host, port)
UdpAddress = tuple[str, int]
#: Called with every datagram a radio or hub sends or receives: (payload, source, dest).
DatagramTrace = Callable[[bytes, UdpAddress, UdpAddress], None]

DEFAULT_ZEP_ACK_WAIT = 0.1
DEFAULT_ZEP_RSSI = -60
DEFAULT_KEEPALIVE = 30.0
DEFAULT_MAX_BATCH = 64
_RECV_SIZE = 2048

ZEP_STAT_NAMES = (
    *RADIO_STAT_NAMES,
    "zep_sent",  # datagrams sent (frames, acks, registrations; once per destination)
    "zep_received",  # datagrams received
    "zep_malformed",  # not ZEP
    "zep_other_channel",  # ZEP frames for another channel
    "zep_lqi_mode",  # LQI-mode frames (no FCS), dropped
    "zep_send_errors",  # sendto failed (buffer full, unreachable)
)

HUB_STAT_NAMES = (
    "received",
    "forwarded",  # datagrams sent on, once per destination
    "registrations",  # new senders
    "malformed",
    "expired",  # senders forgotten after peer_timeout
    "refused",  # senders not registered: max_peers reached
    "send_errors",
)


def _open_socket(local: UdpAddress) -> socket.socket:
    family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind(local)
    except OSError:
        sock.close()
        raise
    return sock


def _address(raw: tuple[object, ...]) -> UdpAddress:
    return (str(raw[0]), int(str(raw[1])))


class ZepRadio(RadioBase):
    """An RfPhy whose air is ZEP v2 over UDP; see the module docstring."""

    def __init__(
        self,
        world: World,
        *,
        eui64: bytes,
        channel: int = 11,
        local: UdpAddress = ("127.0.0.1", 0),
        peers: Iterable[UdpAddress] = (),
        group: UdpAddress | None = None,
        ack_wait: float = DEFAULT_ZEP_ACK_WAIT,
        rssi_dbm: int = DEFAULT_ZEP_RSSI,
        keepalive: float = DEFAULT_KEEPALIVE,
        max_batch: int = DEFAULT_MAX_BATCH,
        name: str | None = None,
    ) -> None:
        if not ack_wait > 0:
            raise ValueError(f"ack_wait must be > 0, got {ack_wait!r}")
        if not keepalive > 0:
            raise ValueError(f"keepalive must be > 0, got {keepalive!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        super().__init__(
            world,
            eui64,
            channel,
            RadioCapabilities(ack_wait=ack_wait),
            name=name or f"zep-{bytes(eui64).hex()}",
            stat_names=ZEP_STAT_NAMES,
        )
        self._loop = world.loop
        self._rssi = rssi_dbm
        self._device_id = int.from_bytes(self._eui64[6:], "big")
        self._zep_seq = 0
        self._max_batch = max_batch
        self._peers: list[UdpAddress] = [(str(h), int(p)) for h, p in peers]
        self._group = group
        self._keepalive = keepalive
        self._trace: DatagramTrace | None = None
        self._sock = _open_socket(local)
        self._local = _address(self._sock.getsockname())
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        self._closed = False
        self._on_air = False
        self._tx_psdu = b""
        self._tx_csma = True
        self._tx_deferred = False  # tx() came while an ack was due: start after it
        self._timer: asyncio.TimerHandle | None = None
        self._autoack_timer: asyncio.TimerHandle | None = None
        self._keepalive_timer: asyncio.Handle | None = None
        if group is not None:
            self._keepalive_timer = self._loop.call_soon(self._register)

    # --- UDP side ------------------------------------------------------------------------------

    @property
    def address(self) -> UdpAddress:
        """The local (host, port) the radio sends from and listens on."""
        return self._local

    @property
    def peers(self) -> list[UdpAddress]:
        """Where frames go: the peers, or the hub."""
        return [self._group] if self._group is not None else list(self._peers)

    def add_peer(self, address: UdpAddress) -> None:
        peer = (str(address[0]), int(address[1]))
        if peer not in self._peers:
            self._peers.append(peer)

    def remove_peer(self, address: UdpAddress) -> None:
        peer = (str(address[0]), int(address[1]))
        if peer in self._peers:
            self._peers.remove(peer)

    def set_datagram_trace(self, trace: DatagramTrace | None) -> None:
        """Call ``trace(payload, source, destination)`` for every datagram in or out."""
        self._trace = trace

    def close(self) -> None:
        """Release the socket and timers; an attempt in progress is abandoned. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._state = RadioState.OFF  # tx() and energy_detect() are refused from now on
        for timer in (self._timer, self._autoack_timer, self._keepalive_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._autoack_timer = self._keepalive_timer = None
        self._finish_tx_silently()
        if not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    def _finish_tx_silently(self) -> None:
        self._tx_done = None
        if self._tx_busy:
            self._abort()
            self._tx_busy = False
            self._awaiting_ack = False
            self._ack_seq = None

    def _register(self) -> None:
        self._keepalive_timer = self._loop.call_later(self._keepalive, self._register)
        if self._group is not None:
            self._sendto(ZepMessage(ZepType.ACK, sequence=0).build(), self._group)

    def _sendto(self, payload: bytes, address: UdpAddress) -> None:
        if self._closed:
            return
        try:
            self._sock.sendto(payload, address)
        except OSError as exc:  # BlockingIOError included: a full buffer loses the frame
            self._stats["zep_send_errors"] += 1
            log.debug("%s: sendto %s failed: %s", self.name, address, exc)
            return
        self._stats["zep_sent"] += 1
        if self._trace is not None:
            self._trace(payload, self._local, address)

    def _send_frame(self, psdu: bytes) -> None:
        self._zep_seq = (self._zep_seq + 1) & 0xFFFF_FFFF
        payload = ZepMessage(
            ZepType.DATA,
            channel=self._channel,
            device_id=self._device_id,
            crc_mode=True,
            lqi=0xFF,
            timestamp=ntp_from_seconds(self._world.now()),
            sequence=self._zep_seq,
            frame=psdu,
        ).build()
        for peer in self.peers:
            self._sendto(payload, peer)

    def _on_readable(self) -> None:
        stats = self._stats
        for _ in range(self._max_batch):
            if self._closed:
                return
            try:
                data, raw = self._sock.recvfrom(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable reported on the socket
                log.debug("%s: recvfrom failed: %s", self.name, exc)
                continue
            stats["zep_received"] += 1
            if self._trace is not None:
                self._trace(data, _address(raw), self._local)
            self._datagram(data)

    def _datagram(self, data: bytes) -> None:
        stats = self._stats
        try:
            msg = ZepMessage.parse(data)
        except DecodeError:
            stats["zep_malformed"] += 1
            return
        if msg.type != ZepType.DATA:
            return  # ZEP acks: registrations and keepalives
        if msg.channel != self._channel:
            stats["zep_other_channel"] += 1
            return
        if not msg.crc_mode:
            stats["zep_lqi_mode"] += 1
            return
        if self._state is not RadioState.RECEIVE:
            return
        if self._on_air or self._autoack_timer is not None:
            stats["rx_aborted"] += 1
            return
        frame, fcs_ok = parse_psdu(msg.frame)
        self._receive(msg.frame, frame, fcs_ok, msg.lqi, self._rssi)

    # --- RadioBase transport ---------------------------------------------------------------

    def _start_tx(
        self, psdu: bytes, frame: Ieee802154Frame | None, fcs_ok: bool, csma: bool
    ) -> None:
        self._tx_psdu = psdu
        self._tx_csma = csma
        if self._autoack_timer is not None:
            self._tx_deferred = True  # an ack is due: start after it has left
        else:
            self._go()

    def _go(self) -> None:
        # CCA over ZEP is always clear: only its duration and the turnaround are spent.
        delay = CCA_DURATION + TURNAROUND_TIME if self._tx_csma else 0.0
        self._timer = self._loop.call_later(delay, self._begin_air)

    def _begin_air(self) -> None:
        self._on_air = True
        self._timer = self._loop.call_later(airtime(len(self._tx_psdu)), self._end_air)

    def _end_air(self) -> None:
        self._timer = None
        self._on_air = False
        self._send_frame(self._tx_psdu)
        self._tx_ended()

    def _abort(self) -> None:
        self._tx_deferred = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._on_air = False

    def _send_ack(self, psdu: bytes, frame: Ieee802154Frame) -> None:
        if self._autoack_timer is not None:
            self._autoack_timer.cancel()
        self._autoack_timer = self._loop.call_later(
            TURNAROUND_TIME + airtime(len(psdu)), self._ack_sent, psdu
        )

    def _ack_sent(self, psdu: bytes) -> None:
        self._autoack_timer = None
        if self._state is RadioState.RECEIVE and not self._on_air and not self._closed:
            self._stats["acks_sent"] += 1
            self._send_frame(psdu)
        if self._tx_deferred:
            self._tx_deferred = False
            self._go()

    def _radio_changed(self) -> None:
        if self._autoack_timer is not None:  # owed on the old channel, in RECEIVE only
            self._autoack_timer.cancel()
            self._autoack_timer = None

    def _measured_energy(self) -> int:
        return round(NOISE_FLOOR_DBM)

    def __repr__(self) -> str:
        return f"<ZepRadio {self.name} {self._local[0]}:{self._local[1]} ch{self._channel}>"


class ZepHub:
    """A UDP relay: every ZEP data message from one registered sender goes to all others.

    A sender registers by sending anything (a :class:`ZepRadio` sends a ZEP ack message at
    start and every keepalive); senders silent for ``peer_timeout`` seconds are forgotten.
    At most ``max_peers`` senders are registered; datagrams from others are still relayed.
    The hub does not look at channels: radios drop frames for other channels themselves.
    """

    def __init__(
        self,
        world: World,
        port: int = ZEP_PORT,
        *,
        host: str = "127.0.0.1",
        max_peers: int = 64,
        peer_timeout: float = 120.0,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_peers < 1:
            raise ValueError(f"max_peers must be >= 1, got {max_peers}")
        if not peer_timeout > 0:
            raise ValueError(f"peer_timeout must be > 0, got {peer_timeout!r}")
        self.world = world
        self.max_peers = max_peers
        self.peer_timeout = peer_timeout
        self.stats: dict[str, int] = dict.fromkeys(HUB_STAT_NAMES, 0)
        self._max_batch = max_batch
        self._loop = world.loop
        #: sender -> last heard; least recently heard first
        self._peers: collections.OrderedDict[UdpAddress, float] = collections.OrderedDict()
        self._trace: DatagramTrace | None = None
        self._sock = _open_socket((host, port))
        self._local = _address(self._sock.getsockname())
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        self._closed = False

    @property
    def address(self) -> UdpAddress:
        return self._local

    @property
    def peers(self) -> list[UdpAddress]:
        """Registered senders, least recently heard first."""
        return list(self._peers)

    def set_datagram_trace(self, trace: DatagramTrace | None) -> None:
        self._trace = trace

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    def _on_readable(self) -> None:
        for _ in range(self._max_batch):
            if self._closed:
                return
            try:
                data, raw = self._sock.recvfrom(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("hub: recvfrom failed: %s", exc)
                continue
            self._relay(data, _address(raw))

    def _relay(self, data: bytes, source: UdpAddress) -> None:
        stats = self.stats
        stats["received"] += 1
        if self._trace is not None:
            self._trace(data, source, self._local)
        self._refresh(source)
        try:
            msg = ZepMessage.parse(data)
        except DecodeError:
            stats["malformed"] += 1
            return
        if msg.type != ZepType.DATA:
            return  # a registration or keepalive
        for peer in self._peers:
            if peer == source:
                continue
            try:
                self._sock.sendto(data, peer)
            except OSError as exc:
                stats["send_errors"] += 1
                log.debug("hub: sendto %s failed: %s", peer, exc)
                continue
            stats["forwarded"] += 1
            if self._trace is not None:
                self._trace(data, self._local, peer)

    def _refresh(self, source: UdpAddress) -> None:
        now = self._loop.time()
        peers = self._peers
        # Forget the senders that have gone quiet (they are at the front).
        limit = now - self.peer_timeout
        while peers:
            _, seen = next(iter(peers.items()))
            if seen >= limit:
                break
            peers.popitem(last=False)
            self.stats["expired"] += 1
        if source in peers:
            peers[source] = now
            peers.move_to_end(source)
        elif len(peers) < self.max_peers:
            peers[source] = now
            self.stats["registrations"] += 1
        else:
            self.stats["refused"] += 1

    def __repr__(self) -> str:
        return f"<ZepHub {self._local[0]}:{self._local[1]} peers={len(self._peers)}>"


__all__ = [
    "DEFAULT_ZEP_ACK_WAIT",
    "DatagramTrace",
    "UdpAddress",
    "ZepHub",
    "ZepRadio",
]
