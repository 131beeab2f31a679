"""Unslotted CSMA-CA and acknowledged retransmission of one frame, sans-I/O.

:class:`CsmaCa` is the channel access of IEEE 802.15.4-2015 §6.2.5.1 (unslotted, as in a
nonbeacon-enabled PAN) wrapped in the retransmissions of §6.7.4.3. It never waits and never
transmits: it says how many unit backoff periods to wait before the next attempt, and is
told how the attempt ended (a :class:`~netstack.drivers.rfphy.api.TxStatus` from the radio,
whose ``tx(csma=True)`` is one CCA and one transmission). Randomness comes from the
``random.Random`` it is given.

For each frame::

    NB = 0, BE = macMinBE
    loop:
        wait random(0 .. 2^BE - 1) unit backoff periods (aUnitBackoffPeriod = 20 symbols)
        CCA, then transmit                                  (the radio's tx(csma=True))
        channel busy: NB += 1, BE = min(BE + 1, macMaxBE)
                      NB > macMaxCSMABackoffs: CHANNEL_ACCESS_FAILURE (no retransmission)
        no ack:       retries += 1; retries > macMaxFrameRetries: NO_ACK
                      else NB = 0, BE = macMinBE and again (the same frame, same DSN)
        sent (acknowledged): SUCCESS, or FRAME_PENDING if the ack's Frame Pending bit was set

The module also holds the MAC constants and macMaxFrameTotalWaitTime (2015 §8.4.3.1,
Table 8-94) that follow from the CSMA parameters.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass

from netstack.drivers.rfphy.api import TxStatus

__all__ = [
    "A_BASE_SUPERFRAME_DURATION",
    "A_UNIT_BACKOFF_PERIOD",
    "PHY_MAX_FRAME_DURATION",
    "CsmaCa",
    "CsmaOutcome",
    "CsmaParameters",
    "max_frame_total_wait_time",
]

#: aUnitBackoffPeriod, in symbols (2015 §8.4.2, Table 8-93).
A_UNIT_BACKOFF_PERIOD = 20
#: aBaseSlotDuration x aNumSuperframeSlots = 60 x 16 symbols (Table 8-93).
A_BASE_SUPERFRAME_DURATION = 960
#: aMaxPhyPacketSize (§11.3).
A_MAX_PHY_PACKET_SIZE = 127
#: phySHRDuration of the 2.4 GHz O-QPSK PHY: 4 preamble octets and the SFD, 2 symbols each.
PHY_SHR_DURATION = 10
PHY_SYMBOLS_PER_OCTET = 2
#: phyMaxFrameDuration = phySHRDuration + ceiling((aMaxPhyPacketSize + 1) x
#: phySymbolsPerOctet), the +1 being the PHR (§11.3): 266 symbols.
PHY_MAX_FRAME_DURATION = PHY_SHR_DURATION + math.ceil(
    (A_MAX_PHY_PACKET_SIZE + 1) * PHY_SYMBOLS_PER_OCTET
)


@dataclass(frozen=True, slots=True)
class CsmaParameters:
    """The MAC PIB attributes of channel access and retransmission, with the standard's
    defaults and ranges (2015 Table 8-94)."""

    #: macMinBE, 0..macMaxBE
    min_be: int = 3
    #: macMaxBE, 3..8
    max_be: int = 5
    #: macMaxCSMABackoffs, 0..5
    max_csma_backoffs: int = 4
    #: macMaxFrameRetries, 0..7
    max_frame_retries: int = 3

    def __post_init__(self) -> None:
        if not 3 <= self.max_be <= 8:
            raise ValueError(f"macMaxBE must be 3..8, not {self.max_be}")
        if not 0 <= self.min_be <= self.max_be:
            raise ValueError(f"macMinBE must be 0..macMaxBE ({self.max_be}), not {self.min_be}")
        if not 0 <= self.max_csma_backoffs <= 5:
            raise ValueError(f"macMaxCSMABackoffs must be 0..5, not {self.max_csma_backoffs}")
        if not 0 <= self.max_frame_retries <= 7:
            raise ValueError(f"macMaxFrameRetries must be 0..7, not {self.max_frame_retries}")


def max_frame_total_wait_time(params: CsmaParameters) -> int:
    """macMaxFrameTotalWaitTime in symbols (2015 Table 8-94): the longest a device waits
    for a frame its coordinator announced (Frame Pending in the ack of a Data Request)::

        (sum_{k=0}^{m-1} 2^(macMinBE+k) + (2^macMaxBE - 1) (macMaxCSMABackoffs - m))
            x aUnitBackoffPeriod + phyMaxFrameDuration,   m = min(macMaxBE - macMinBE,
                                                              macMaxCSMABackoffs)

    1986 symbols (31.8 ms at 2.4 GHz) with the default parameters.
    """
    m = min(params.max_be - params.min_be, params.max_csma_backoffs)
    periods = sum(1 << (params.min_be + k) for k in range(m))
    periods += ((1 << params.max_be) - 1) * (params.max_csma_backoffs - m)
    return periods * A_UNIT_BACKOFF_PERIOD + PHY_MAX_FRAME_DURATION


class CsmaOutcome(enum.Enum):
    """How the transmission of one frame ended."""

    SUCCESS = "success"
    #: Acknowledged by an ack with its Frame Pending bit set.
    FRAME_PENDING = "frame_pending"
    CHANNEL_ACCESS_FAILURE = "channel_access_failure"
    NO_ACK = "no_ack"


class CsmaCa:
    """Channel access and retransmissions of one frame; see the module docstring.

    ``max_retries`` overrides macMaxFrameRetries (an indirect frame is sent once: 2015
    §6.7.4.3 keeps it queued for the next Data Request instead of retransmitting).

    :meth:`start` gives the backoff (in unit backoff periods) before the first attempt;
    :meth:`result` takes the radio's status for an attempt and gives the backoff before the
    next one, or ``None`` once :attr:`outcome` is set.
    """

    __slots__ = ("_max_retries", "_params", "_rng", "attempts", "be", "nb", "outcome", "retries")

    def __init__(
        self, params: CsmaParameters, rng: random.Random, *, max_retries: int | None = None
    ) -> None:
        self._params = params
        self._rng = rng
        self._max_retries = params.max_frame_retries if max_retries is None else max_retries
        #: NB: CCAs that found the channel busy in this attempt's channel access
        self.nb = 0
        #: BE: the backoff exponent
        self.be = params.min_be
        #: retransmissions so far (each after a missing ack)
        self.retries = 0
        #: times the radio was given the frame (CCAs performed)
        self.attempts = 0
        self.outcome: CsmaOutcome | None = None

    def _backoff(self) -> int:
        # 2015 §6.2.5.1 step (b): random(2^BE - 1) unit backoff periods.
        return self._rng.randrange(1 << self.be)

    def start(self) -> int:
        """NB = 0, BE = macMinBE; the backoff before the first attempt."""
        self.nb = 0
        self.be = self._params.min_be
        self.retries = 0
        self.attempts = 0
        self.outcome = None
        return self._backoff()

    def result(self, status: TxStatus) -> int | None:
        """The radio reported ``status`` for the attempt: the next backoff, or None (done).

        :attr:`TxStatus.FAIL` (the radio aborted or refused the attempt) counts as a busy
        channel, so it is retried within the same bounds.
        """
        if self.outcome is not None:
            raise RuntimeError("the transmission has already ended")
        self.attempts += 1
        params = self._params
        if status is TxStatus.SUCCESS:
            self.outcome = CsmaOutcome.SUCCESS
            return None
        if status is TxStatus.SUCCESS_PENDING:
            self.outcome = CsmaOutcome.FRAME_PENDING
            return None
        if status is TxStatus.NO_ACK:
            # §6.7.4.3: retransmit up to macMaxFrameRetries times, each with fresh CSMA-CA.
            self.retries += 1
            if self.retries > self._max_retries:
                self.outcome = CsmaOutcome.NO_ACK
                return None
            self.nb = 0
            self.be = params.min_be
            return self._backoff()
        # CCA_FAIL or FAIL: §6.2.5.1 step (d).
        self.nb += 1
        self.be = min(self.be + 1, params.max_be)
        if self.nb > params.max_csma_backoffs:
            self.outcome = CsmaOutcome.CHANNEL_ACCESS_FAILURE
            return None
        return self._backoff()
