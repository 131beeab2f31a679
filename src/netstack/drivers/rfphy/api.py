"""The RfPhy contract: an IEEE 802.15.4 radio moves PSDUs, one attempt at a time.

Modelled on Nanostack's RF driver API (Mbed OS ``NanostackRfPhy``): the MAC above does
CSMA-CA backoff, retries, security and everything else; the radio does one clear channel
assessment, one transmission, the acknowledgement handshake in hardware, frame filtering,
and reports each PSDU it receives with its link quality.

- A PSDU is the MAC frame *with* its 2-octet FCS (IEEE 802.15.4-2015 §7.2.10), at most
  aMaxPhyPacketSize = 127 octets (§11.3). :meth:`RfPhy.tx` takes one and reports its fate
  once, from the event loop, with a :class:`TxStatus`; the receive callback gets every
  PSDU that passed filtering with its LQI (0-255) and RSSI (dBm).
- ``csma=True``: one CCA over 8 symbol periods (:data:`CCA_DURATION`, §10.2.8), then the
  RX-to-TX turnaround (:data:`TURNAROUND_TIME`) and the transmission; a busy channel ends
  the attempt with :attr:`TxStatus.CCA_FAIL`. CCA plus turnaround is 20 symbols: one
  aUnitBackoffPeriod, so a frame the MAC sends at a backoff boundary starts at the next.
- A frame with the Ack Request bit set and a unicast destination waits up to
  macAckWaitDuration (:data:`ACK_WAIT_DURATION`, 54 symbols, §8.4.3.1 Table 8-94) after
  its last octet for an Imm-Ack with its sequence number: :attr:`TxStatus.SUCCESS`, or
  :attr:`TxStatus.SUCCESS_PENDING` if the ack's Frame Pending bit is set, else
  :attr:`TxStatus.NO_ACK`.
- Receiving (unless promiscuous): frames with a bad FCS are dropped and counted, the rest
  are filtered as IEEE 802.15.4-2015 §6.7.2 says (frame type and version, destination PAN
  equal to ours or broadcast, destination short or extended address ours or broadcast,
  beacons from our PAN), and a filtered-in frame with Ack Request set and a unicast
  destination is acknowledged after aTurnaroundTime (:data:`TURNAROUND_TIME`, 12 symbols)
  with an Imm-Ack whose Frame Pending bit is what :meth:`RfPhy.set_frame_pending` set.
- Times on the 2.4 GHz O-QPSK PHY (§12): a symbol is 16 µs, an octet 32 µs; a frame
  occupies the air for (4 preamble + 1 SFD + 1 PHR + PSDU) octets (:func:`airtime`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from netstack.wire import Buffer

#: One O-QPSK symbol at 62.5 ksymbol/s (IEEE 802.15.4-2015 §12.2.2).
SYMBOL_TIME = 16e-6
#: One octet: two symbols.
OCTET_TIME = 2 * SYMBOL_TIME
#: 250 kbit/s.
BITRATE = 250_000
#: Synchronisation header (4 preamble octets + SFD) and PHR: octets sent before the PSDU.
PHY_OVERHEAD_OCTETS = 6
#: aMaxPhyPacketSize (§11.3).
MAX_PSDU = 127
#: Shortest PSDU accepted: frame control and FCS (a 2015 frame may suppress the rest).
MIN_PSDU = 4
#: CCA detection time: 8 symbol periods (§10.2.8).
CCA_DURATION = 8 * SYMBOL_TIME
#: aTurnaroundTime: 12 symbols, RX-to-TX and TX-to-RX (§11.3).
TURNAROUND_TIME = 12 * SYMBOL_TIME
#: macAckWaitDuration for the O-QPSK PHY: aUnitBackoffPeriod + aTurnaroundTime +
#: phySHRDuration + 6 octets = 20 + 12 + 10 + 12 = 54 symbols (§8.4.3.1).
ACK_WAIT_DURATION = 54 * SYMBOL_TIME
#: Channels 11-26 of channel page 0: 2405 + 5 (k - 11) MHz (§10.1.3.3).
MIN_CHANNEL = 11
MAX_CHANNEL = 26


def airtime(psdu_length: int) -> float:
    """Seconds a PSDU of ``psdu_length`` octets occupies the air, preamble to last octet."""
    return (PHY_OVERHEAD_OCTETS + psdu_length) * OCTET_TIME


def check_channel(channel: int) -> int:
    """``channel`` if it is a 2.4 GHz O-QPSK channel (11-26), else ValueError."""
    if not MIN_CHANNEL <= channel <= MAX_CHANNEL:
        raise ValueError(
            f"channel {channel} is not a 2.4 GHz channel ({MIN_CHANNEL}-{MAX_CHANNEL})"
        )
    return channel


class TxStatus(enum.Enum):
    """How one transmission attempt ended (Nanostack's PHY_LINK_TX_* in Python)."""

    #: Sent; acknowledged if an ack was requested.
    SUCCESS = "success"
    #: Acknowledged by an ack with its Frame Pending bit set.
    SUCCESS_PENDING = "success_pending"
    #: The clear channel assessment found the channel busy; nothing was sent.
    CCA_FAIL = "cca_fail"
    #: Sent, but no ack came within macAckWaitDuration.
    NO_ACK = "no_ack"
    #: Aborted (radio switched off, channel changed) or not sendable.
    FAIL = "fail"


class RadioState(enum.Enum):
    """What the radio is doing. It transmits from :attr:`RECEIVE`."""

    OFF = "off"
    SLEEP = "sleep"
    #: Idle listening: receives, filters, acknowledges; :meth:`RfPhy.tx` works from here.
    RECEIVE = "receive"
    #: Measuring channel energy (:meth:`RfPhy.energy_detect`); not receiving.
    ED = "ed"


#: (psdu with its 2-octet FCS, LQI 0-255, RSSI in dBm)
RxCallback = Callable[[bytes, int, int], None]
TxDoneCallback = Callable[[TxStatus], None]
EnergyCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class RadioCapabilities:
    """What a radio is; the MAC adapts its timing to it."""

    phy: str = "O-QPSK 2450 MHz"
    #: Largest PSDU (FCS included).
    mtu: int = MAX_PSDU
    bitrate: int = BITRATE
    min_channel: int = MIN_CHANNEL
    max_channel: int = MAX_CHANNEL
    #: The radio acknowledges filtered-in frames itself (auto-ack).
    auto_ack: bool = True
    #: How long after its last octet a frame waits for its ack, in seconds.
    ack_wait: float = ACK_WAIT_DURATION
    cca_duration: float = CCA_DURATION
    turnaround: float = TURNAROUND_TIME
    symbol_time: float = SYMBOL_TIME

    @property
    def channels(self) -> range:
        return range(self.min_channel, self.max_channel + 1)


@runtime_checkable
class RfPhy(Protocol):
    """An IEEE 802.15.4 radio driver (Nanostack ``NanostackRfPhy`` in Python spelling)."""

    @property
    def eui64(self) -> bytes:
        """The 8-byte EUI-64, natural (big-endian) order."""
        ...

    @property
    def channel(self) -> int: ...

    @property
    def state(self) -> RadioState: ...

    @property
    def capabilities(self) -> RadioCapabilities: ...

    def set_state(self, state: RadioState, channel: int | None = None) -> None:
        """Switch to OFF, SLEEP or RECEIVE (optionally tuning to ``channel`` first).
        Leaving RECEIVE aborts a transmission in progress (:attr:`TxStatus.FAIL`)."""
        ...

    def set_channel(self, channel: int) -> None:
        """Tune to ``channel`` (ValueError outside 11-26); aborts what is in progress."""
        ...

    def tx(self, psdu: Buffer, *, csma: bool = True, done: TxDoneCallback | None = None) -> bool:
        """Start one transmission of ``psdu`` (FCS included); ``done`` gets its status from
        the loop. False if not accepted: radio not in RECEIVE, already transmitting, or a
        PSDU of more than 127 (or fewer than 4) octets."""
        ...

    def set_receive_cb(self, cb: RxCallback | None) -> None: ...

    def energy_detect(self, duration: float, done: EnergyCallback) -> bool:
        """Measure the strongest energy (dBm) on the channel over ``duration`` seconds and
        report it to ``done``. False unless the radio is idle in RECEIVE."""
        ...

    def set_address_filter(
        self,
        pan_id: int | None,
        short: int | None,
        extended: bytes | None,
        *,
        pan_coordinator: bool = False,
    ) -> None:
        """The addresses hardware filtering and auto-ack use: ``None`` PAN is 0xFFFF (not
        in a PAN), ``None`` short address accepts only broadcast, ``None`` extended is the
        radio's EUI-64. A PAN coordinator also accepts data and commands carrying no
        destination address from its PAN (§6.7.2)."""
        ...

    def set_promiscuous(self, on: bool) -> None:
        """Deliver every frame with a valid FCS, acks included; send no acks."""
        ...

    def set_frame_pending(self, on: bool) -> None:
        """The Frame Pending bit of the acks the radio sends from now on."""
        ...

    def stats(self) -> dict[str, int]: ...


__all__ = [
    "ACK_WAIT_DURATION",
    "BITRATE",
    "CCA_DURATION",
    "MAX_CHANNEL",
    "MAX_PSDU",
    "MIN_CHANNEL",
    "MIN_PSDU",
    "OCTET_TIME",
    "PHY_OVERHEAD_OCTETS",
    "SYMBOL_TIME",
    "TURNAROUND_TIME",
    "EnergyCallback",
    "RadioCapabilities",
    "RadioState",
    "RfPhy",
    "RxCallback",
    "TxDoneCallback",
    "TxStatus",
    "airtime",
    "check_channel",
]
