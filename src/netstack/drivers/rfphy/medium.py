"""A simulated IEEE 802.15.4 radio medium: radios at positions in one world, virtual time.

:class:`VirtualRadioMedium` holds the radios (:meth:`VirtualRadioMedium.add_radio` makes a
:class:`VirtualRadio`, an RfPhy) and carries their frames under a propagation model
(:mod:`netstack.drivers.rfphy.propagation`). The model of the air:

- **Channels**: a transmission reaches only radios tuned to its channel; radios on other
  channels neither hear it nor sense it.
- **Links**: the model gives each ordered pair of radios a link budget (RSSI, LQI, bit
  error rate) from their distance, the sender's transmit power and the pair's shadowing.
  A receiver *hears* a frame whose RSSI reaches the model's sensitivity; weaker signals
  count only for CCA and energy detection, down to the CCA threshold.
- **Timing**: a frame occupies the air for :func:`~netstack.drivers.rfphy.api.airtime`
  and is delivered at its last octet; a receiver answers an acknowledged frame with an
  Imm-Ack aTurnaroundTime (192 µs) later. A sender is back to listening at its last
  octet (the TX-to-RX turnaround is not modelled: nothing can arrive sooner than an ack).
  ``tx(csma=True)`` listens for the CCA (128 µs: sampled at its start and its end, which
  catches every frame since none is shorter than 352 µs), turns around (192 µs) and
  transmits. Nothing is ever delivered from inside ``tx``: every step is a loop callback.
- **Half-duplex**: from the end of its CCA (or the start of a transmission without CCA)
  until its last octet, and from a reception that needs an ack until the ack is sent, a
  radio hears nothing; a reception in progress is lost (``rx_aborted``). A ``tx()`` while
  an ack is due starts (its CCA, or the frame) at the ack's last octet; an ack due while
  the radio's own attempt is in its CCA ends that attempt with CCA_FAIL (the channel was
  busy: we were receiving).
- **Collisions**: a receiver locks onto the first preamble it hears while listening.
  Every audible transmission overlapping it at that receiver — before or after, whatever
  the power ratio — corrupts it, and is itself lost; each frame so lost counts once in the
  receiver's ``collisions``. There is **no capture effect**: a stronger late frame does
  not win over a weak early one (the conservative choice; real O-QPSK receivers often
  capture at 3-6 dB). Hidden terminals follow: two senders that cannot sense each other
  collide at a receiver between them.
- **Bit errors**: a frame that arrived without collision is lost (``rx_corrupted``) with
  the link's packet error rate for its length, drawn from the medium's own
  ``random.Random`` (seeded from ``world.rng`` when the medium is made); links whose
  PER stays below 1e-9 even for 127 octets count as perfect and draw nothing.
- **CCA** (energy above threshold, mode 1 of §10.2.8): busy when the strongest ongoing
  transmission on the channel reaches ``cca_threshold_dbm`` (-75 dBm by default) at the
  radio. **Energy detection** reports the strongest transmission seen during the
  measurement, or the noise floor.

Scale: each radio caches its outgoing links (only radios that can hear or sense it), built
from a spatial grid whose cells are as large as the longest possible range, so a
transmission visits only nearby radios, and a CCA only the transmissions on the air on
its channel. Moving a radio or adding one invalidates the caches around its old and new
positions. Shadowing per pair is a pure function of the medium's seed and the two radios'
indices, so it is the same whichever order links are built in and symmetric.

Capture (``capture=``): every transmission, acks and colliding frames included, once,
at its first octet, to a pcap with LINKTYPE_IEEE802_15_4_WITHFCS (195); all channels go
to one file.
"""

from __future__ import annotations

import logging
import math
import random
from typing import TYPE_CHECKING

from netstack.drivers.rfphy.api import (
    CCA_DURATION,
    MAX_PSDU,
    PHY_OVERHEAD_OCTETS,
    TURNAROUND_TIME,
    RadioCapabilities,
    RadioState,
    TxStatus,
    airtime,
)
from netstack.drivers.rfphy.base import RadioBase
from netstack.drivers.rfphy.propagation import (
    SHADOWING_LIMIT,
    LinkBudget,
    LogDistance,
    PropagationModel,
)
from netstack.wire.pcap import LinkType, PcapTarget, PcapWriter

if TYPE_CHECKING:
    import asyncio

    from netstack.runtime import World
    from netstack.wire.ieee802154 import Ieee802154Frame

log = logging.getLogger(__name__)

DEFAULT_CCA_THRESHOLD_DBM = -75.0
#: Links that lose fewer frames than this are treated as lossless.
PERFECT_PER = 1e-9

MEDIUM_STAT_NAMES = (
    "frames",  # transmissions put on the air, acks included
    "acks",  # of which Imm-Acks sent by auto-ack
    "delivered",  # frames that reached a listening radio intact (before its filtering)
    "collisions",  # frames lost at a receiver to overlapping transmissions
    "corrupted",  # frames lost at a receiver to bit errors or extra loss
    "cca_busy",  # CCAs that found the channel busy
)

_NEG_INF = -math.inf


class _Link:
    """One direction of a pair: what ``radio`` gets from the link's owner.

    A link whose packet error rate stays below :data:`PERFECT_PER` even for a 127-octet
    frame counts as perfect: its frames draw no random number.
    """

    __slots__ = ("_log_keep_bit", "_survive_loss", "audible", "lqi", "perfect", "rssi", "rssi_dbm")

    def __init__(self, budget: LinkBudget) -> None:
        self.rssi = budget.rssi_dbm
        self.rssi_dbm = round(budget.rssi_dbm)
        self.lqi = budget.lqi
        self.audible = budget.audible
        ber = budget.bit_error_rate
        self._log_keep_bit = math.log1p(-ber) if ber < 0.5 else -math.inf
        self._survive_loss = 1.0 - budget.frame_loss
        self.perfect = self.success(MAX_PSDU) >= 1.0 - PERFECT_PER

    def success(self, psdu_length: int) -> float:
        """Probability that a frame of ``psdu_length`` octets arrives intact."""
        bits = 8 * (PHY_OVERHEAD_OCTETS + psdu_length)
        return math.exp(bits * self._log_keep_bit) * self._survive_loss


class _Transmission:
    """A frame on the air."""

    __slots__ = (
        "aborted",
        "channel",
        "end",
        "fcs_ok",
        "frame",
        "hearers",
        "is_ack",
        "psdu",
        "sender",
    )

    def __init__(
        self,
        sender: VirtualRadio,
        psdu: bytes,
        frame: Ieee802154Frame | None,
        fcs_ok: bool,
        channel: int,
        end: float,
        is_ack: bool,
    ) -> None:
        self.sender = sender
        self.psdu = psdu
        self.frame = frame
        self.fcs_ok = fcs_ok
        self.channel = channel
        self.end = end
        self.is_ack = is_ack
        self.aborted = False
        #: (radio, link, the radio's tuning epoch) for every radio that hears it
        self.hearers: list[tuple[VirtualRadio, _Link, int]] = []


def eui64_from_mac(mac: bytes) -> bytes:
    """A simulated radio's EUI-64 from the world's next MAC: 02-00-00-00 and the MAC's
    last four octets (02:00:00:00:00:00:00:01, …). Not the RFC 4291 FF-FE insertion: the
    interface identifier of 02:00:00:ff:fe:00:00:01 would be 0000:00ff:fe00:0001, which
    6LoWPAN reads as the 16-bit short address 0x0001 (RFC 6282 §3.2.2)."""
    return b"\x02\x00\x00\x00" + mac[2:]


class VirtualRadioMedium:
    """The air shared by :class:`VirtualRadio` s in one world; see the module docstring."""

    def __init__(
        self,
        world: World,
        model: PropagationModel | None = None,
        *,
        capture: PcapTarget | None = None,
        cca_threshold_dbm: float = DEFAULT_CCA_THRESHOLD_DBM,
        name: str = "air0",
    ) -> None:
        self.world = world
        self.name = name
        self.model: PropagationModel = model if model is not None else LogDistance()
        self.cca_threshold_dbm = cca_threshold_dbm
        self.stats: dict[str, int] = dict.fromkeys(MEDIUM_STAT_NAMES, 0)
        self.radios: list[VirtualRadio] = []
        self._loop = world.loop
        self._rng = random.Random(world.rng.getrandbits(64))
        self._shadow_seed = self._rng.getrandbits(64)
        #: links are kept down to the weaker of sensitivity and CCA threshold
        self._floor = min(self.model.sensitivity_dbm, cca_threshold_dbm)
        self._eui64s: set[bytes] = set()
        self._next_index = 0
        self._active: dict[int, list[_Transmission]] = {}
        self._grid: dict[tuple[int, int], list[VirtualRadio]] = {}
        self._grid_power = -math.inf
        self._cell = 1.0
        self._capture: PcapWriter | None = None
        if capture is not None:
            self._capture = PcapWriter(capture, LinkType.IEEE802_15_4_WITHFCS)

    # --- building ----------------------------------------------------------------------

    def add_radio(
        self,
        position: tuple[float, float] = (0.0, 0.0),
        eui64: bytes | None = None,
        tx_power_dbm: float = 0.0,
        *,
        channel: int = 11,
        name: str | None = None,
    ) -> VirtualRadio:
        """A new radio at ``position`` (metres), listening on ``channel``. Without
        ``eui64`` it gets one made from the world's next free MAC (02:00:00:00:00:00:00:01,
        …), so addresses depend only on the order radios are made in."""
        if eui64 is None:
            eui64 = eui64_from_mac(self.world.allocate_hwaddr())
        else:
            eui64 = bytes(eui64)
            if len(eui64) != 8:
                raise ValueError(f"eui64 must be 8 bytes, got {len(eui64)}")
        if eui64 in self._eui64s:
            raise ValueError(f"EUI-64 {eui64.hex(':')} is already on this medium")
        index = self._next_index
        self._next_index += 1
        radio = VirtualRadio(
            self,
            index,
            eui64,
            position=(float(position[0]), float(position[1])),
            tx_power_dbm=float(tx_power_dbm),
            channel=channel,
            name=name or f"{self.name}.r{index}",
        )
        self._eui64s.add(eui64)
        self.radios.append(radio)
        if not self._ensure_grid(radio.tx_power_dbm):
            self._grid.setdefault(self._cell_of(radio.x, radio.y), []).append(radio)
            self._invalidate_near(radio.x, radio.y)
        return radio

    def remove_radio(self, radio: VirtualRadio) -> None:
        """Take ``radio`` off the medium: it is switched off and nobody hears it again."""
        radio.set_state(RadioState.OFF)
        self.radios.remove(radio)
        self._eui64s.discard(radio.eui64)
        self._grid[self._cell_of(radio.x, radio.y)].remove(radio)
        self._invalidate_near(radio.x, radio.y)
        radio._detached = True

    def close(self) -> None:
        """Close the capture."""
        if self._capture is not None:
            self._capture.close()
            self._capture = None

    # --- inspection ----------------------------------------------------------------------

    def link(self, sender: VirtualRadio, receiver: VirtualRadio) -> LinkBudget | None:
        """The budget of the link from ``sender`` to ``receiver`` (None: nothing arrives)."""
        distance = math.hypot(sender.x - receiver.x, sender.y - receiver.y)
        return self.model.link(
            distance, sender.tx_power_dbm, self._shadowing(sender.index, receiver.index)
        )

    def neighbours(self, radio: VirtualRadio) -> list[VirtualRadio]:
        """Radios that hear ``radio`` (RSSI at or above the sensitivity)."""
        return [other for other, link in self._links_of(radio).items() if link.audible]

    # --- geometry --------------------------------------------------------------------------

    def _cell_of(self, x: float, y: float) -> tuple[int, int]:
        cell = self._cell
        return (math.floor(x / cell), math.floor(y / cell))

    def _nearby(self, x: float, y: float) -> list[VirtualRadio]:
        cx, cy = self._cell_of(x, y)
        grid = self._grid
        found: list[VirtualRadio] = []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                members = grid.get((cx + dx, cy + dy))
                if members:
                    found.extend(members)
        return found

    def _invalidate_near(self, x: float, y: float) -> None:
        for radio in self._nearby(x, y):
            radio._links = None

    def _ensure_grid(self, tx_power_dbm: float) -> bool:
        """Grow the grid's cells if ``tx_power_dbm`` reaches farther than they allow;
        True if the grid was rebuilt (all links invalidated)."""
        if tx_power_dbm <= self._grid_power:
            return False
        self._grid_power = tx_power_dbm
        self._cell = max(self.model.max_range(tx_power_dbm, self._floor), 1e-3)
        grid: dict[tuple[int, int], list[VirtualRadio]] = {}
        for radio in self.radios:
            grid.setdefault(self._cell_of(radio.x, radio.y), []).append(radio)
            radio._links = None
        self._grid = grid
        return True

    def _move(self, radio: VirtualRadio, x: float, y: float) -> None:
        old = self._cell_of(radio.x, radio.y)
        self._invalidate_near(radio.x, radio.y)
        self._grid[old].remove(radio)
        radio.x, radio.y = x, y
        self._grid.setdefault(self._cell_of(x, y), []).append(radio)
        self._invalidate_near(x, y)

    def _shadowing(self, a: int, b: int) -> float:
        """The pair's shadowing in dB: drawn from a generator seeded by the medium's seed
        and the pair, so it does not depend on the order links are built in."""
        sigma = self.model.shadowing_sigma_db
        if sigma <= 0.0:
            return 0.0
        lo, hi = (a, b) if a < b else (b, a)
        value = random.Random(self._shadow_seed << 64 | lo << 32 | hi).gauss(0.0, sigma)
        limit = SHADOWING_LIMIT * sigma
        return -limit if value < -limit else limit if value > limit else value

    def _links_of(self, sender: VirtualRadio) -> dict[VirtualRadio, _Link]:
        links = sender._links
        if links is not None:
            return links
        links = {}
        model = self.model
        floor = self._floor
        x, y, power, index = sender.x, sender.y, sender.tx_power_dbm, sender.index
        for other in self._nearby(x, y):
            if other is sender:
                continue
            budget = model.link(
                math.hypot(x - other.x, y - other.y), power, self._shadowing(index, other.index)
            )
            if budget is not None and budget.rssi_dbm >= floor:
                links[other] = _Link(budget)
        sender._links = links
        return links

    # --- the air ---------------------------------------------------------------------------

    def _energy_at(self, radio: VirtualRadio) -> float:
        """The strongest transmission on ``radio``'s channel at its position (dBm)."""
        best = _NEG_INF
        for t in self._active.get(radio._tuned, ()):
            sender = t.sender
            if sender is radio:
                continue
            link = self._links_of(sender).get(radio)
            if link is not None and link.rssi > best:
                best = link.rssi
        return best

    def _begin(
        self,
        sender: VirtualRadio,
        psdu: bytes,
        frame: Ieee802154Frame | None,
        fcs_ok: bool,
        *,
        is_ack: bool,
    ) -> _Transmission:
        """``sender`` puts ``psdu`` on the air now: every radio in range on the channel
        registers the signal, locks onto it or loses it to a collision."""
        now = self._loop.time()
        channel = sender._tuned
        t = _Transmission(sender, psdu, frame, fcs_ok, channel, now + airtime(len(psdu)), is_ack)
        active = self._active.get(channel)
        if active is None:
            active = self._active[channel] = []
        active.append(t)
        stats = self.stats
        stats["frames"] += 1
        if is_ack:
            stats["acks"] += 1
        if self._capture is not None:
            self._capture.write(now, psdu)
        hearers = t.hearers
        collisions = 0
        for radio, link in self._links_of(sender).items():
            if radio._tuned != channel:
                continue
            if radio._ed_level is not None and link.rssi > radio._ed_level:
                radio._ed_level = link.rssi
            if not link.audible:
                continue
            hearers.append((radio, link, radio._epoch))
            if radio._signals:
                if radio._listening:
                    # Another signal is on the air here: the new frame is lost, and so is
                    # the frame this radio has locked onto, if any.
                    collisions += 1
                    radio._stats["collisions"] += 1
                    if radio._rx is not None and radio._rx_ok:
                        radio._rx_ok = False
                        collisions += 1
                        radio._stats["collisions"] += 1
            elif radio._listening:
                radio._rx = t
                radio._rx_ok = True
            radio._signals += 1
        stats["collisions"] += collisions
        self._loop.call_at(t.end, self._end, t)
        return t

    def _end(self, t: _Transmission) -> None:
        """The last octet of ``t``: receivers that kept it intact get it."""
        self._active[t.channel].remove(t)
        sender = t.sender
        if sender._air is t:
            sender._air = None
            sender._update_listening()
        delivered: list[tuple[VirtualRadio, _Link]] = []
        rng = self._rng
        corrupted = 0
        size = len(t.psdu)
        for radio, link, epoch in t.hearers:
            if radio._epoch != epoch:
                continue  # retuned since: this signal no longer counts there
            radio._signals -= 1
            if radio._rx is not t:
                continue
            radio._rx = None
            if not radio._rx_ok:
                continue  # collided: counted when it happened
            if t.aborted or not (link.perfect or rng.random() < link.success(size)):
                corrupted += 1
                radio._stats["rx_corrupted"] += 1
                continue
            delivered.append((radio, link))
        self.stats["corrupted"] += corrupted
        self.stats["delivered"] += len(delivered)
        psdu, frame, fcs_ok = t.psdu, t.frame, t.fcs_ok
        for radio, link in delivered:
            if radio._listening:
                radio._receive(psdu, frame, fcs_ok, link.lqi, link.rssi_dbm)
        if t.is_ack:
            sender._ack_done()
        elif not t.aborted:
            sender._tx_ended()

    def _retune(self, radio: VirtualRadio) -> None:
        """``radio`` changed channel: it now hears what is on the air on the new one."""
        radio._epoch += 1
        radio._signals = 0
        radio._tuned = channel = radio._channel
        epoch = radio._epoch
        for t in self._active.get(channel, ()):
            link = self._links_of(t.sender).get(radio)
            if link is not None and link.audible and t.sender is not radio:
                t.hearers.append((radio, link, epoch))
                radio._signals += 1

    def __repr__(self) -> str:
        return f"<VirtualRadioMedium {self.name} radios={len(self.radios)}>"


class VirtualRadio(RadioBase):
    """A radio on a :class:`VirtualRadioMedium`; implements the RfPhy contract.

    Made by :meth:`VirtualRadioMedium.add_radio`; starts in RECEIVE. :meth:`move` and
    :attr:`tx_power_dbm` change its links.
    """

    def __init__(
        self,
        medium: VirtualRadioMedium,
        index: int,
        eui64: bytes,
        *,
        position: tuple[float, float],
        tx_power_dbm: float,
        channel: int,
        name: str,
    ) -> None:
        super().__init__(medium.world, eui64, channel, RadioCapabilities(), name=name)
        self.medium = medium
        self.index = index
        self.x, self.y = position
        self._tx_power = tx_power_dbm
        self._loop = medium.world.loop
        self._detached = False
        #: outgoing links, built lazily by the medium (None: to be rebuilt)
        self._links: dict[VirtualRadio, _Link] | None = None
        #: the channel the medium counts this radio's signals on
        self._tuned = channel
        self._epoch = 0
        #: audible transmissions on the air here (this radio's own excluded)
        self._signals = 0
        #: the transmission this radio has locked onto, and whether it is still intact
        self._rx: _Transmission | None = None
        self._rx_ok = False
        self._listening = True
        #: the strongest energy seen during an energy detection, None when not measuring
        self._ed_level: float | None = None
        # The attempt in progress.
        self._air: _Transmission | None = None
        self._tx_psdu = b""
        self._tx_frame: Ieee802154Frame | None = None
        self._tx_fcs_ok = True
        self._in_cca = False
        self._cca_busy = False
        self._turning = False  # between a clear CCA and the first octet
        self._timer: asyncio.TimerHandle | None = None
        # A pending auto-ack.
        self._autoack_timer: asyncio.TimerHandle | None = None
        self._ack_psdu = b""
        self._ack_frame: Ieee802154Frame | None = None
        self._tx_csma = True
        self._tx_deferred = False  # tx() came while an ack was due: start after it

    # --- simulation controls -------------------------------------------------------------

    @property
    def position(self) -> tuple[float, float]:
        return (self.x, self.y)

    def move(self, x: float, y: float) -> None:
        """Move to (``x``, ``y``) metres; frames already on the air are unaffected."""
        self.medium._move(self, float(x), float(y))

    @property
    def tx_power_dbm(self) -> float:
        return self._tx_power

    @tx_power_dbm.setter
    def tx_power_dbm(self, dbm: float) -> None:
        self._tx_power = float(dbm)
        if not self.medium._ensure_grid(self._tx_power):
            self._links = None

    # --- RadioBase transport ---------------------------------------------------------------

    def _update_listening(self) -> None:
        listening = (
            self._state is RadioState.RECEIVE
            and self._air is None
            and not self._turning
            and self._autoack_timer is None
            and not self._detached
        )
        if not listening and self._rx is not None:
            self._rx = None
            self._stats["rx_aborted"] += 1
        self._listening = listening

    def _radio_changed(self) -> None:
        retuned = self._tuned != self._channel
        if retuned or self._state is not RadioState.RECEIVE:
            # An ack is owed on the old channel, in RECEIVE, only; one on the air is cut.
            if self._autoack_timer is not None:
                self._autoack_timer.cancel()
                self._autoack_timer = None
            if self._air is not None:
                self._air.aborted = True
                self._air = None
        if retuned:
            if self._rx is not None:
                self._rx = None
                self._stats["rx_aborted"] += 1
            self.medium._retune(self)
        if self._state is not RadioState.ED:
            self._ed_level = None
        self._update_listening()

    def _start_tx(
        self, psdu: bytes, frame: Ieee802154Frame | None, fcs_ok: bool, csma: bool
    ) -> None:
        self._tx_psdu = psdu
        self._tx_frame = frame
        self._tx_fcs_ok = fcs_ok
        self._tx_csma = csma
        if self._autoack_timer is not None or self._air is not None:
            self._tx_deferred = True  # an ack is due or on the air: start when it is done
        else:
            self._go()

    def _go(self) -> None:
        if self._tx_csma:
            self._cca_begin()  # sampling the channel calls nobody back
        else:
            self._timer = self._loop.call_at(self._loop.time(), self._on_air)

    def _ack_done(self) -> None:
        """The auto-ack has left (or was not sent): start a deferred attempt."""
        if self._tx_deferred:
            self._tx_deferred = False
            self._go()

    def _cca_begin(self) -> None:
        self._timer = self._loop.call_at(self._loop.time() + CCA_DURATION, self._cca_end)
        self._in_cca = True
        self._cca_busy = self.medium._energy_at(self) >= self.medium.cca_threshold_dbm

    def _cca_end(self) -> None:
        self._timer = None
        self._in_cca = False
        medium = self.medium
        if self._cca_busy or medium._energy_at(self) >= medium.cca_threshold_dbm:
            medium.stats["cca_busy"] += 1
            self._finish_tx(TxStatus.CCA_FAIL)
            return
        self._turning = True
        self._update_listening()
        self._timer = self._loop.call_at(self._loop.time() + TURNAROUND_TIME, self._on_air)

    def _on_air(self) -> None:
        self._timer = None
        self._turning = False
        self._air = self.medium._begin(
            self, self._tx_psdu, self._tx_frame, self._tx_fcs_ok, is_ack=False
        )
        self._update_listening()

    def _abort(self) -> None:
        self._tx_deferred = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._in_cca = self._turning = False
        air = self._air
        if air is not None:
            # The energy stays on the air until the frame's planned end; nobody receives it.
            air.aborted = True
            self._air = None

    def _send_ack(self, psdu: bytes, frame: Ieee802154Frame) -> None:
        at = self._loop.time() + TURNAROUND_TIME
        self._ack_psdu = psdu
        self._ack_frame = frame
        if self._autoack_timer is not None:
            self._autoack_timer.cancel()
        self._autoack_timer = self._loop.call_at(at, self._ack_on_air)
        self._update_listening()
        if self._in_cca:
            # We were receiving during our own CCA: the channel was busy.
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._in_cca = False
            self.medium.stats["cca_busy"] += 1
            self._finish_tx(TxStatus.CCA_FAIL)

    def _ack_on_air(self) -> None:
        self._autoack_timer = None
        if self._state is RadioState.RECEIVE and self._air is None and not self._detached:
            self._stats["acks_sent"] += 1
            self._air = self.medium._begin(self, self._ack_psdu, self._ack_frame, True, is_ack=True)
            self._update_listening()
        else:
            self._update_listening()
            self._ack_done()

    def _start_ed(self) -> None:
        self._ed_level = self.medium._energy_at(self)

    def _measured_energy(self) -> int:
        level = self._ed_level
        floor = self.medium.model.noise_floor_dbm
        if level is None or level < floor:
            level = floor
        return round(level)

    def __repr__(self) -> str:
        return (
            f"<VirtualRadio {self.name} {self._eui64.hex(':')} ch{self._channel}"
            f" at ({self.x:g}, {self.y:g})>"
        )


__all__ = ["DEFAULT_CCA_THRESHOLD_DBM", "VirtualRadio", "VirtualRadioMedium", "eui64_from_mac"]
