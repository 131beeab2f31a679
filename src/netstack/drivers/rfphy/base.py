"""What every radio shares, whatever carries its frames: :class:`RadioBase`.

A radio's behaviour toward the MAC is the same on a simulated medium
(:class:`~netstack.drivers.rfphy.medium.VirtualRadio`) and over UDP
(:class:`~netstack.drivers.rfphy.zep.ZepRadio`): accepting a transmission, the ack
handshake, hardware filtering, auto-ack, energy detection bookkeeping and the counters.
This module holds that logic once; a transport subclass only moves octets and says when
they leave and arrive:

- :meth:`RadioBase._start_tx` (subclass): carry out the accepted attempt (CCA,
  transmission) and call :meth:`RadioBase._tx_ended` when the last octet has left, or
  :meth:`RadioBase._finish_tx` with :attr:`TxStatus.CCA_FAIL`.
- :meth:`RadioBase._receive` (called by the subclass): a PSDU arrived intact at the
  antenna; FCS check, ack matching, filtering, auto-ack and delivery happen here.
- :meth:`RadioBase._send_ack` (subclass): put an Imm-Ack (PSDU and its record) on the air
  after aTurnaroundTime, counting ``acks_sent`` when it goes.
- :meth:`RadioBase._abort` (subclass): stop what is on the air or about to be (a state
  or channel change), and :meth:`RadioBase._start_ed` to measure energy.

Auto-ack answers every acknowledged frame with an Imm-Ack (IEEE 802.15.4-2015 §7.3.3):
a 2003 or 2006 frame gets an ack of its own frame version, a 2015 frame an Imm-Ack of
version 2006 — a real 2015 device answers 2015 frames with an Enh-Ack (§7.3.4.2), which
TSCH, CSL and Wi-SUN need; this radio does not build Enh-Acks. Frames whose sequence
number is suppressed are never acknowledged (an Imm-Ack names its frame by sequence
number only). The ack's Frame Pending bit is the value of :meth:`RadioBase.set_frame_pending`
for every ack (radios with source-address matching set it per child; the MAC can emulate
that by toggling it).

:class:`RfPhyWrapper` forwards the whole contract to an inner radio; wrappers such as
:class:`~netstack.drivers.rfphy.capture.RadioCapture` override what they change.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from netstack.drivers.rfphy.api import (
    MIN_PSDU,
    EnergyCallback,
    RadioCapabilities,
    RadioState,
    RfPhy,
    RxCallback,
    TxDoneCallback,
    TxStatus,
    check_channel,
)
from netstack.wire import Buffer, ChecksumError, DecodeError
from netstack.wire.ieee802154 import (
    BROADCAST,
    FrameType,
    FrameVersion,
    Ieee802154Frame,
)

if TYPE_CHECKING:
    import asyncio

    from netstack.runtime import World

log = logging.getLogger(__name__)

RADIO_STAT_NAMES = (
    "tx",  # attempts accepted by tx()
    "tx_refused",  # tx() returned False
    "tx_success",  # SUCCESS or SUCCESS_PENDING
    "cca_busy",  # CCA_FAIL
    "no_ack",  # NO_ACK
    "tx_failed",  # FAIL: aborted by a state or channel change
    "rx",  # delivered to the receive callback
    "rx_dropped",  # passed filtering but no receive callback is set
    "rx_bad_fcs",  # arrived with a bad FCS
    "rx_corrupted",  # lost to bit errors (packet error rate) or extra loss
    "rx_aborted",  # reception cut short by this radio (transmitting, retuning, switching off)
    "collisions",  # frames lost at this radio because transmissions overlapped
    "filtered",  # rejected by address filtering (including overheard acks)
    "acks_sent",
    "acks_received",
)

_BROADCAST_PAN = BROADCAST


def parse_psdu(psdu: bytes) -> tuple[Ieee802154Frame | None, bool]:
    """(frame, FCS valid) for a PSDU: the frame is None if its header does not decode.

    With a bad FCS the header is still decoded (FCS octets as payload), so a sender knows
    whether it asked for an ack.
    """
    try:
        return Ieee802154Frame.parse(psdu), True
    except ChecksumError:
        try:
            return Ieee802154Frame.parse(psdu, fcs=False), False
        except DecodeError:
            return None, False
    except DecodeError:
        return None, True


def wants_ack(frame: Ieee802154Frame | None) -> bool:
    """An Imm-Ack answers this frame: Ack Request set, a sequence number, not broadcast."""
    return (
        frame is not None
        and frame.ack_request
        and frame.seq is not None
        and frame.frame_type != FrameType.ACK
        and frame.dst_addr != BROADCAST
    )


def imm_ack(frame: Ieee802154Frame, pending: bool) -> Ieee802154Frame:
    """The Imm-Ack answering ``frame`` (§7.3.3; version 2006 for a 2015 frame)."""
    version = frame.version if frame.version <= FrameVersion.V2006 else FrameVersion.V2006
    return Ieee802154Frame(FrameType.ACK, FrameVersion(version), frame.seq, frame_pending=pending)


class RadioBase:
    """Contract bookkeeping, filtering and auto-ack shared by every radio transport."""

    def __init__(
        self,
        world: World,
        eui64: bytes,
        channel: int,
        capabilities: RadioCapabilities,
        *,
        name: str,
        stat_names: tuple[str, ...] = RADIO_STAT_NAMES,
    ) -> None:
        eui64 = bytes(eui64)
        if len(eui64) != 8:
            raise ValueError(f"eui64 must be 8 bytes, got {len(eui64)}")
        self.name = name
        self._world = world
        self._eui64 = eui64
        self._channel = check_channel(channel)
        self._capabilities = capabilities
        self._state = RadioState.RECEIVE
        self._stats: dict[str, int] = dict.fromkeys(stat_names, 0)
        self._rx_cb: RxCallback | None = None
        # Address filtering (§6.7.2); macPanId and macShortAddress default to 0xFFFF.
        self._pan_id = _BROADCAST_PAN
        self._short: int | None = None
        self._extended = eui64
        self._pan_coordinator = False
        self._promiscuous = False
        self._frame_pending = False
        # The attempt in progress: from an accepted tx() until its done callback.
        self._tx_busy = False
        self._tx_done: TxDoneCallback | None = None
        self._ack_seq: int | None = None  # the sequence number an ack must carry
        self._awaiting_ack = False  # the frame has left; its ack window is open
        self._ack_timer: asyncio.TimerHandle | None = None
        # Energy detection in progress.
        self._ed_done: EnergyCallback | None = None
        self._ed_timer: asyncio.TimerHandle | None = None

    # --- RfPhy -------------------------------------------------------------------------

    @property
    def eui64(self) -> bytes:
        return self._eui64

    @property
    def channel(self) -> int:
        return self._channel

    @property
    def state(self) -> RadioState:
        return self._state

    @property
    def capabilities(self) -> RadioCapabilities:
        return self._capabilities

    @property
    def transmitting(self) -> bool:
        """An attempt is in progress (CCA, on the air, or waiting for its ack)."""
        return self._tx_busy

    def set_state(self, state: RadioState, channel: int | None = None) -> None:
        if state is RadioState.ED:
            raise ValueError("energy detection is started with energy_detect()")
        if channel is not None:
            self.set_channel(channel)
        if state is self._state:
            return
        self._stop_activity()
        self._state = state
        self._radio_changed()

    def set_channel(self, channel: int) -> None:
        check_channel(channel)
        if channel == self._channel:
            return
        self._stop_activity()
        if self._state is RadioState.ED:
            self._state = RadioState.RECEIVE
        self._channel = channel
        self._radio_changed()

    def tx(self, psdu: Buffer, *, csma: bool = True, done: TxDoneCallback | None = None) -> bool:
        size = len(psdu)
        if (
            self._state is not RadioState.RECEIVE
            or self._tx_busy
            or not MIN_PSDU <= size <= self._capabilities.mtu
        ):
            self._stats["tx_refused"] += 1
            return False
        data = bytes(psdu)
        frame, fcs_ok = parse_psdu(data)
        self._tx_busy = True
        self._tx_done = done
        self._ack_seq = frame.seq if frame is not None and wants_ack(frame) else None
        self._stats["tx"] += 1
        self._start_tx(data, frame, fcs_ok, csma)
        return True

    def set_receive_cb(self, cb: RxCallback | None) -> None:
        self._rx_cb = cb

    def energy_detect(self, duration: float, done: EnergyCallback) -> bool:
        if self._state is not RadioState.RECEIVE or self._tx_busy or not duration >= 0:
            return False
        self._state = RadioState.ED
        self._radio_changed()
        self._ed_done = done
        self._ed_timer = self._world.call_later(duration, self._ed_finished)
        self._start_ed()
        return True

    def set_address_filter(
        self,
        pan_id: int | None,
        short: int | None,
        extended: bytes | None,
        *,
        pan_coordinator: bool = False,
    ) -> None:
        if pan_id is not None and not 0 <= pan_id <= 0xFFFF:
            raise ValueError(f"PAN identifier out of range: {pan_id}")
        if short is not None and not 0 <= short <= 0xFFFF:
            raise ValueError(f"short address out of range: {short}")
        if extended is not None and len(extended) != 8:
            raise ValueError(f"extended address must be 8 bytes, got {len(extended)}")
        self._pan_id = _BROADCAST_PAN if pan_id is None else pan_id
        self._short = short
        self._extended = self._eui64 if extended is None else bytes(extended)
        self._pan_coordinator = pan_coordinator

    def set_promiscuous(self, on: bool) -> None:
        self._promiscuous = on

    def set_frame_pending(self, on: bool) -> None:
        self._frame_pending = on

    def stats(self) -> dict[str, int]:
        return dict(self._stats)

    # --- for transports ------------------------------------------------------------------

    def _start_tx(
        self, psdu: bytes, frame: Ieee802154Frame | None, fcs_ok: bool, csma: bool
    ) -> None:
        raise NotImplementedError

    def _send_ack(self, psdu: bytes, frame: Ieee802154Frame) -> None:
        raise NotImplementedError

    def _abort(self) -> None:
        """Stop the transmission on the air or about to be; the transport's part."""

    def _radio_changed(self) -> None:
        """State or channel changed: the transport updates what it listens to."""

    def _start_ed(self) -> None:
        """Energy detection started: the transport begins measuring."""

    def _measured_energy(self) -> int:
        """The strongest energy (dBm) seen since :meth:`_start_ed`."""
        raise NotImplementedError

    def _tx_ended(self) -> None:
        """The transport sent the last octet: open the ack window, or report success."""
        if not self._tx_busy:
            return
        if self._ack_seq is None:
            self._finish_tx(TxStatus.SUCCESS)
            return
        self._awaiting_ack = True
        self._ack_timer = self._world.call_later(self._capabilities.ack_wait, self._ack_timeout)

    def _ack_timeout(self) -> None:
        self._ack_timer = None
        self._finish_tx(TxStatus.NO_ACK)

    def _finish_tx(self, status: TxStatus) -> None:
        """End the attempt with ``status``: count it, call its done callback."""
        if not self._tx_busy:
            return
        self._tx_busy = False
        self._awaiting_ack = False
        self._ack_seq = None
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        done = self._tx_done
        self._tx_done = None
        stats = self._stats
        if status is TxStatus.SUCCESS or status is TxStatus.SUCCESS_PENDING:
            stats["tx_success"] += 1
        elif status is TxStatus.CCA_FAIL:
            stats["cca_busy"] += 1
        elif status is TxStatus.NO_ACK:
            stats["no_ack"] += 1
        else:
            stats["tx_failed"] += 1
        if done is not None:
            done(status)

    def _stop_activity(self) -> None:
        """A state or channel change: abort the attempt (done gets FAIL from the loop) and
        any energy detection (done gets what was measured so far, from the loop)."""
        if self._tx_busy:
            self._abort()
            done = self._tx_done
            self._tx_done = None
            self._finish_tx(TxStatus.FAIL)
            if done is not None:
                self._world.loop.call_soon(done, TxStatus.FAIL)
        if self._ed_timer is not None:
            self._ed_timer.cancel()
            self._ed_timer = None
            ed_done = self._ed_done
            self._ed_done = None
            if ed_done is not None:
                self._world.loop.call_soon(ed_done, self._measured_energy())

    def _ed_finished(self) -> None:
        self._ed_timer = None
        value = self._measured_energy()
        done = self._ed_done
        self._ed_done = None
        self._state = RadioState.RECEIVE
        self._radio_changed()
        if done is not None:
            done(value)

    def _receive(
        self, psdu: bytes, frame: Ieee802154Frame | None, fcs_ok: bool, lqi: int, rssi: int
    ) -> None:
        """A PSDU arrived at a listening radio: ``frame``/``fcs_ok`` as :func:`parse_psdu`
        gives them (a medium parses once for all receivers)."""
        stats = self._stats
        if not fcs_ok:
            stats["rx_bad_fcs"] += 1
            return
        if frame is None:  # valid FCS, undecodable header: reserved type or version
            if self._promiscuous:
                self._deliver(psdu, lqi, rssi)
            else:
                stats["filtered"] += 1
            return
        if frame.frame_type == FrameType.ACK:
            if self._awaiting_ack and frame.seq == self._ack_seq:
                stats["acks_received"] += 1
                self._finish_tx(
                    TxStatus.SUCCESS_PENDING if frame.frame_pending else TxStatus.SUCCESS
                )
                if self._promiscuous:
                    self._deliver(psdu, lqi, rssi)
            elif self._promiscuous:
                self._deliver(psdu, lqi, rssi)
            else:
                stats["filtered"] += 1
            return
        if self._promiscuous:
            self._deliver(psdu, lqi, rssi)
            return
        if not self._accepts(frame):
            stats["filtered"] += 1
            return
        if wants_ack(frame):
            # Before delivery: the ack occupies the radio, so a tx() from the receive
            # callback starts after it. The transport counts acks_sent when it sends.
            ack = imm_ack(frame, self._frame_pending)
            self._send_ack(ack.build(), ack)
        self._deliver(psdu, lqi, rssi)

    def _deliver(self, psdu: bytes, lqi: int, rssi: int) -> None:
        cb = self._rx_cb
        if cb is None:
            self._stats["rx_dropped"] += 1
            return
        self._stats["rx"] += 1
        cb(psdu, lqi, rssi)

    def _accepts(self, frame: Ieee802154Frame) -> bool:
        """Third-level filtering, IEEE 802.15.4-2015 §6.7.2 (2006 §7.5.6.2)."""
        pan_id = self._pan_id
        frame_type = frame.frame_type
        if (
            frame_type == FrameType.BEACON
            and pan_id != _BROADCAST_PAN
            and frame.source_pan != pan_id
        ):
            return False
        dst_pan = frame.dst_pan
        if dst_pan is not None and dst_pan != _BROADCAST_PAN and dst_pan != pan_id:
            return False
        dst = frame.dst_addr
        if dst is None:
            if frame_type == FrameType.DATA or frame_type == FrameType.MAC_COMMAND:
                # Only the PAN coordinator takes frames with just a source address.
                return self._pan_coordinator and frame.source_pan == pan_id
            return True
        if isinstance(dst, int):
            return dst == BROADCAST or dst == self._short
        return dst == self._extended

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} ch{self._channel} {self._state.value}>"


class RfPhyWrapper:
    """Forwards every RfPhy call and property to ``inner``; wrappers override what they
    change, so they stack freely."""

    def __init__(self, inner: RfPhy) -> None:
        self.inner = inner

    @property
    def eui64(self) -> bytes:
        return self.inner.eui64

    @property
    def channel(self) -> int:
        return self.inner.channel

    @property
    def state(self) -> RadioState:
        return self.inner.state

    @property
    def capabilities(self) -> RadioCapabilities:
        return self.inner.capabilities

    def set_state(self, state: RadioState, channel: int | None = None) -> None:
        self.inner.set_state(state, channel)

    def set_channel(self, channel: int) -> None:
        self.inner.set_channel(channel)

    def tx(self, psdu: Buffer, *, csma: bool = True, done: TxDoneCallback | None = None) -> bool:
        return self.inner.tx(psdu, csma=csma, done=done)

    def set_receive_cb(self, cb: RxCallback | None) -> None:
        self.inner.set_receive_cb(cb)

    def energy_detect(self, duration: float, done: EnergyCallback) -> bool:
        return self.inner.energy_detect(duration, done)

    def set_address_filter(
        self,
        pan_id: int | None,
        short: int | None,
        extended: bytes | None,
        *,
        pan_coordinator: bool = False,
    ) -> None:
        self.inner.set_address_filter(pan_id, short, extended, pan_coordinator=pan_coordinator)

    def set_promiscuous(self, on: bool) -> None:
        self.inner.set_promiscuous(on)

    def set_frame_pending(self, on: bool) -> None:
        self.inner.set_frame_pending(on)

    def stats(self) -> dict[str, int]:
        return self.inner.stats()


__all__ = ["RADIO_STAT_NAMES", "RadioBase", "RfPhyWrapper", "imm_ack", "parse_psdu", "wants_ack"]
