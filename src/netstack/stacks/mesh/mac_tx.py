"""The transmit path of the IEEE 802.15.4 MAC: one frame at a time through CSMA-CA on the
radio (IEEE 802.15.4-2015 §6.2.5.1 channel access, §6.7.4.3 retransmissions).

:class:`Transmitter` takes a :class:`TxJob` when the MAC's queue hands it one, has the MAC
build its PSDU (sequence number, security) the first time it goes out, and then drives a
:class:`~netstack.stacks.mesh.csma.CsmaCa` with the loop's timers: wait the backoff, give
the frame to the radio (``tx(csma=True)``: one CCA, one transmission, the ack), feed back
how it went, until the frame is acknowledged, sent, or given up. Retransmissions repeat
the PSDU octet for octet (same DSN, same frame counter). The job's ``done`` then gets a
:class:`~netstack.stacks.mesh.mac_api.MacStatus` and whether the ack had Frame Pending set.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from netstack.drivers.rfphy.api import RfPhy, TxStatus
from netstack.runtime.timer import DeadlineTimer
from netstack.runtime.world import World
from netstack.stacks.mesh.csma import A_UNIT_BACKOFF_PERIOD, CsmaCa, CsmaOutcome, CsmaParameters
from netstack.stacks.mesh.mac_api import MacStatus
from netstack.wire.ieee802154 import Ieee802154Frame

__all__ = ["JobDone", "Transmitter", "TxJob", "TxKind"]

log = logging.getLogger(__name__)

#: ``done(status, frame_pending)``: how the job ended, and the ack's Frame Pending bit.
JobDone = Callable[[MacStatus, bool], None]

_OUTCOMES = {
    CsmaOutcome.SUCCESS: (MacStatus.SUCCESS, False),
    CsmaOutcome.FRAME_PENDING: (MacStatus.SUCCESS, True),
    CsmaOutcome.CHANNEL_ACCESS_FAILURE: (MacStatus.CHANNEL_ACCESS_FAILURE, False),
    CsmaOutcome.NO_ACK: (MacStatus.NO_ACK, False),
}


class TxKind(enum.Enum):
    """What a job sends; the value is the counter it adds to."""

    DATA = "tx_data"
    INDIRECT = "tx_indirect"
    BEACON = "tx_beacons"
    BEACON_REQUEST = "tx_beacon_requests"
    DATA_REQUEST = "tx_data_requests"


@dataclass(slots=True, eq=False)
class TxJob:
    """A frame to send. ``frame`` is built (sequence number, security) into ``psdu`` when
    it first goes out; ``max_retries`` None is macMaxFrameRetries."""

    kind: TxKind
    frame: Ieee802154Frame
    secure: bool
    done: JobDone | None
    max_retries: int | None = None
    psdu: bytes | None = None
    csma: CsmaCa | None = None
    #: indirect frames: the destination it is held for, and when it expires
    holder: Hashable = None
    expires: float = 0.0


class Transmitter:
    """Sends one :class:`TxJob` at a time; see the module docstring.

    ``build(job)`` gives a job its PSDU (or returns the status that ends it);
    ``finished()`` is called after each job's ``done``, so the MAC can hand over the next.
    ``stats`` is the MAC's counter dict.
    """

    def __init__(
        self,
        phy: RfPhy,
        world: World,
        params: CsmaParameters,
        rng: random.Random,
        stats: dict[str, int],
        *,
        build: Callable[[TxJob], MacStatus | None],
        finished: Callable[[], None],
    ) -> None:
        self.phy = phy
        self.world = world
        self.params = params
        self.current: TxJob | None = None
        self._rng = rng
        self._stats = stats
        self._build = build
        self._finished = finished
        self._period = A_UNIT_BACKOFF_PERIOD * phy.capabilities.symbol_time
        self._attempt = 0  # names the radio attempt whose completion is expected
        self._timer = DeadlineTimer(world, self._on_backoff)

    def send(self, job: TxJob) -> bool:
        """Start ``job`` (nothing else may be in flight). False if it could not be built:
        its ``done`` has then been called already, and ``finished`` has not."""
        assert self.current is None
        if job.psdu is None:
            status = self._build(job)
            if status is not None:
                if job.done is not None:
                    job.done(status, False)
                return False
        assert job.psdu is not None
        self.current = job
        stats = self._stats
        stats["tx_frames"] += 1
        stats["tx_bytes"] += len(job.psdu)
        stats[job.kind.value] += 1
        job.csma = CsmaCa(self.params, self._rng, max_retries=job.max_retries)
        self._backoff(job.csma.start())
        return True

    def abort(self) -> TxJob | None:
        """Drop the job in flight (its ``done`` is not called) and return it; a completion
        the radio reports for it later is ignored."""
        self._attempt += 1
        self._timer.cancel()
        job, self.current = self.current, None
        return job

    def _backoff(self, periods: int) -> None:
        self._timer.arm(self.world.now() + periods * self._period)

    def _on_backoff(self) -> None:
        job = self.current
        if job is None or job.psdu is None:
            return
        self._attempt += 1
        attempt = self._attempt
        self._stats["tx_attempts"] += 1

        def tx_done(status: TxStatus) -> None:
            self._on_tx_done(attempt, status)

        if not self.phy.tx(job.psdu, csma=True, done=tx_done):
            log.debug("radio refused a transmission in state %s", self.phy.state)
            self._on_tx_done(attempt, TxStatus.FAIL)

    def _on_tx_done(self, attempt: int, status: TxStatus) -> None:
        job = self.current
        if attempt != self._attempt or job is None or job.csma is None:
            return  # stale: aborted since
        stats = self._stats
        if status is TxStatus.NO_ACK:
            stats["ack_timeouts"] += 1
        elif status is TxStatus.CCA_FAIL or status is TxStatus.FAIL:
            stats["cca_failures"] += 1
        periods = job.csma.result(status)
        if periods is not None:
            if status is TxStatus.NO_ACK:
                stats["tx_retries"] += 1
            self._backoff(periods)
            return
        assert job.csma.outcome is not None
        mac_status, pending = _OUTCOMES[job.csma.outcome]
        self.current = None
        if mac_status is MacStatus.SUCCESS:
            stats["tx_success"] += 1
        elif mac_status is MacStatus.NO_ACK:
            stats["tx_no_ack"] += 1
        else:
            stats["tx_channel_access_failure"] += 1
        if job.done is not None:
            job.done(mac_status, pending)
        self._finished()
