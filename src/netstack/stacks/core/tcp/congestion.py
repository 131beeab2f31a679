"""Pluggable TCP congestion control: NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438).

A controller owns two numbers, ``cwnd`` and ``ssthresh`` (bytes), and changes them only
when the sender tells it what happened. It never sees segments, timers or the clock: time
arrives as the ``now`` arguments. Deciding *when* to call what is the sender's job:

``on_ack(acked, now, rtt)``
    ``acked`` bytes of new data were cumulatively acknowledged and the sender is *not* in
    loss recovery. Slow start while ``cwnd < ssthresh`` (RFC 5681 §3.1) with Appropriate
    Byte Counting, L = 2 (RFC 3465 §2.2); congestion avoidance otherwise. The sender should
    skip this call while it is application-limited (RFC 7661), so that cwnd only grows
    when it was used. ``rtt`` is a round-trip sample taken from this ACK, or None.
``on_congestion(flight_size, now)``
    Loss detected by duplicate ACKs or SACK; entering fast recovery. ssthresh is reduced
    (NewReno: RFC 5681 eq. (4); CUBIC: RFC 9438 §4.6) and **afterwards cwnd == ssthresh**,
    which is what RFC 6675 SACK recovery wants (its pipe replaces window inflation). A
    sender running RFC 6582 NewReno recovery without SACK adds the three duplicate ACKs
    itself with ``inflate(3 * mss)`` and one ``inflate(mss)`` per further duplicate ACK
    (RFC 5681 §3.2 steps 4-5), and calls ``partial_ack(acked)`` on every partial ACK
    (RFC 6582 §3.2 step 5).
``on_timeout(flight_size, now)``
    The retransmission timer expired: ssthresh reduced as above, cwnd = 1 SMSS, the loss
    window (RFC 5681 §3.1). A second timeout with no ``on_ack`` in between (the same
    segment timed out again) holds ssthresh constant, as RFC 5681 §3.1 asks.
``on_recovery_exit(flight_size, now)``
    A full ACK ended fast recovery: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS),
    the burst-avoiding choice of RFC 6582 §3.2 step 6 (option 1).
``on_idle_restart(now, rto) -> bool``
    Call before sending new data when nothing is outstanding. If more than ``rto`` seconds
    passed since the last ACK of new data the controller was told about, cwnd =
    min(IW, cwnd) (RFC 5681 §4.1 restart window) and True is returned. The last ACK of
    data is never earlier than its transmission, so this restarts at most as often as the
    RFC's "has not sent data in an interval exceeding the RTO" test.

All windows are whole bytes; CUBIC keeps the fraction of a byte it could not yet add.
"""

from __future__ import annotations

from typing import Protocol

from netstack.errors import ParameterError

#: RFC 5681 §3.1: the initial ssthresh "SHOULD be set arbitrarily high"
INITIAL_SSTHRESH = 0x7FFFFFFF
#: RFC 3465 §2.2: the slow-start increase per ACK is capped at L * SMSS, with L = 2
ABC_LIMIT = 2


def initial_window(mss: int) -> int:
    """The initial window in bytes, RFC 6928 §2: min(10*MSS, max(2*MSS, 14600))."""
    return min(10 * mss, max(2 * mss, 14600))


class CongestionControl(Protocol):
    """What the TCP sender asks of a congestion controller (see the module docstring)."""

    name: str
    mss: int
    cwnd: int  # bytes
    ssthresh: int  # bytes

    def on_ack(self, acked: int, now: float, rtt: float | None) -> None: ...

    def on_congestion(self, flight_size: int, now: float) -> None: ...

    def on_timeout(self, flight_size: int, now: float) -> None: ...

    def on_recovery_exit(self, flight_size: int, now: float) -> None: ...

    def on_idle_restart(self, now: float, rto: float) -> bool: ...

    def inflate(self, nbytes: int) -> None: ...

    def partial_ack(self, acked: int) -> None: ...


class _StandardWindow:
    """What NewReno and CUBIC share: RFC 5681 slow start (with RFC 3465 ABC), the
    RFC 5681/6582 recovery and timeout arithmetic, and the RFC 5681 §4.1 restart window.
    Congestion avoidance and the ssthresh reduction are the subclasses' own.
    """

    name = ""

    def __init__(
        self, mss: int, *, initial_cwnd: int | None = None, initial_ssthresh: int | None = None
    ) -> None:
        if mss <= 0:
            raise ParameterError(f"MSS must be positive, not {mss}")
        self.mss = mss
        self.cwnd = initial_cwnd if initial_cwnd is not None else initial_window(mss)
        self.ssthresh = initial_ssthresh if initial_ssthresh is not None else INITIAL_SSTHRESH
        self._bytes_acked = 0  # RFC 3465 §2.1 counter, congestion avoidance only
        self._last_ack: float | None = None
        self._timed_out = False  # a timeout with no ACK of new data since

    def __repr__(self) -> str:
        return f"<{type(self).__name__} cwnd={self.cwnd} ssthresh={self.ssthresh}>"

    # -- growth ----------------------------------------------------------------------

    def on_ack(self, acked: int, now: float, rtt: float | None) -> None:
        if acked <= 0:
            return
        self._last_ack = now
        self._timed_out = False
        self._observe_rtt(rtt)
        acked = self._slow_start(acked)
        if acked > 0:
            self._congestion_avoidance(acked, now)

    def _observe_rtt(self, rtt: float | None) -> None:
        """Hook for controllers that use RTT samples."""

    def _slow_start(self, acked: int) -> int:
        """Grow cwnd by slow start; return the acknowledged bytes left for avoidance."""
        if self.cwnd >= self.ssthresh:
            return acked
        # RFC 5681 §3.1 eq. (2) with RFC 3465 ABC: cwnd += min(N, L*SMSS)
        increase = min(acked, ABC_LIMIT * self.mss)
        room = self.ssthresh - self.cwnd
        if increase <= room:
            self.cwnd += increase
            return 0
        # Crossing ssthresh: the bytes beyond it count towards congestion avoidance
        self.cwnd = self.ssthresh
        self._bytes_acked = 0
        return acked - room

    def _congestion_avoidance(self, acked: int, now: float) -> None:
        raise NotImplementedError

    # -- reductions ------------------------------------------------------------------

    def _reduced_ssthresh(self, flight_size: int) -> int:
        raise NotImplementedError

    def on_congestion(self, flight_size: int, now: float) -> None:
        self.ssthresh = self._reduced_ssthresh(flight_size)
        self.cwnd = self.ssthresh  # RFC 6675 §5 step (4.2); see the module docstring
        self._bytes_acked = 0

    def on_timeout(self, flight_size: int, now: float) -> None:
        if not self._timed_out:  # RFC 5681 §3.1: held constant on a repeated timeout
            self.ssthresh = self._reduced_ssthresh(flight_size)
        self.cwnd = self.mss  # RFC 5681 §3.1: the loss window, LW = 1 SMSS
        self._bytes_acked = 0
        self._timed_out = True

    def on_recovery_exit(self, flight_size: int, now: float) -> None:
        # RFC 6582 §3.2 step 6, option (1)
        self.cwnd = min(self.ssthresh, max(flight_size, self.mss) + self.mss)
        self._bytes_acked = 0

    def on_idle_restart(self, now: float, rto: float) -> bool:
        if self._last_ack is None or now - self._last_ack <= rto:
            return False
        # RFC 5681 §4.1: RW = min(IW, cwnd)
        self.cwnd = min(initial_window(self.mss), self.cwnd)
        self._bytes_acked = 0
        self._last_ack = now
        return True

    # -- fast recovery window arithmetic (RFC 5681 §3.2, RFC 6582 §3.2) ---------------

    def inflate(self, nbytes: int) -> None:
        """Artificially inflate cwnd during fast recovery (RFC 5681 §3.2 steps 4-5)."""
        self.cwnd += nbytes

    def partial_ack(self, acked: int) -> None:
        """A partial ACK during fast recovery acknowledged ``acked`` new bytes.

        RFC 6582 §3.2 step 5: deflate cwnd by the amount newly acknowledged, then add back
        one SMSS if at least one SMSS was acknowledged. cwnd never drops below one SMSS.
        """
        cwnd = self.cwnd - acked
        if acked >= self.mss:
            cwnd += self.mss
        self.cwnd = max(cwnd, self.mss)


class NewReno(_StandardWindow):
    """RFC 5681 congestion control with RFC 6582 (NewReno) recovery arithmetic.

    Congestion avoidance uses byte counting (RFC 3465 §2.1): cwnd grows by one SMSS each
    time a full cwnd of bytes has been acknowledged, i.e. by one SMSS per round trip.
    """

    name = "newreno"

    def _congestion_avoidance(self, acked: int, now: float) -> None:
        # RFC 3465 §2.1 / RFC 5681 §3.1: one SMSS per cwnd of acknowledged bytes
        self._bytes_acked += acked
        if self._bytes_acked >= self.cwnd:
            self._bytes_acked -= self.cwnd
            self.cwnd += self.mss

    def _reduced_ssthresh(self, flight_size: int) -> int:
        # RFC 5681 eq. (4)
        return max(flight_size // 2, 2 * self.mss)


class Cubic(_StandardWindow):
    """CUBIC (RFC 9438) on top of the NewReno slow start and recovery arithmetic.

    Windows are in bytes; the RFC's formulas in segments are scaled by ``mss``, so
    ``W_cubic(t) = C*(t-K)**3 * mss + W_max`` with W_max in bytes. ``t`` is measured from
    the first ACK of each congestion-avoidance stage (``epoch_start``). The "RTT" of the
    target window W_cubic(t + RTT) is the minimum RTT observed, as in Linux, because it
    does not grow with the queue CUBIC itself builds (RFC 9438 §4.2 names the smoothed
    RTT; with no sample yet, 0 is used). Not implemented: HyStart++ and the spurious
    congestion undo of RFC 9438 §4.9.
    """

    name = "cubic"
    C = 0.4  # RFC 9438 §5 recommended value
    BETA = 0.7  # beta_cubic, RFC 9438 §4.6
    ALPHA = 3 * (1 - BETA) / (1 + BETA)  # alpha_cubic, RFC 9438 §4.3

    def __init__(
        self,
        mss: int,
        *,
        initial_cwnd: int | None = None,
        initial_ssthresh: int | None = None,
        fast_convergence: bool = True,
    ) -> None:
        super().__init__(mss, initial_cwnd=initial_cwnd, initial_ssthresh=initial_ssthresh)
        self.fast_convergence = fast_convergence
        self.w_max: float | None = None  # bytes; None until the first congestion event
        self.k = 0.0  # seconds
        self.epoch_start: float | None = None  # start of this congestion-avoidance stage
        self.cwnd_epoch = 0  # cwnd at epoch_start
        self.cwnd_prior = 0  # cwnd just before the last reduction
        self.w_est = 0.0  # bytes, Reno-friendly estimate (RFC 9438 §4.3)
        self.min_rtt: float | None = None
        self._carry = 0.0  # fraction of a byte of growth not yet in cwnd
        self._reset_wmax = True  # next epoch: W_max = cwnd_epoch, K = 0 (RFC 9438 §4.8)

    def _observe_rtt(self, rtt: float | None) -> None:
        if rtt is not None and rtt > 0 and (self.min_rtt is None or rtt < self.min_rtt):
            self.min_rtt = rtt

    def w_cubic(self, t: float) -> float:
        """RFC 9438 §4.2 eq. (1), in bytes, for the current epoch."""
        w_max = self.w_max if self.w_max is not None else float(self.cwnd_epoch)
        return self.C * (t - self.k) ** 3 * self.mss + w_max

    def _start_epoch(self, now: float) -> None:
        self.epoch_start = now
        self.cwnd_epoch = self.cwnd
        if self._reset_wmax or self.w_max is None or self.w_max <= self.cwnd:
            # RFC 9438 §4.8 (after a timeout) and the no-loss-yet case: W_max is the
            # window at the start of this stage and K = 0, so growth is convex at once
            self.w_max = float(self.cwnd)
            self.k = 0.0
        else:
            # RFC 9438 §4.2 eq. (2): K = cubic_root((W_max - cwnd_epoch) / C)
            self.k = ((self.w_max - self.cwnd) / (self.C * self.mss)) ** (1 / 3)
        self._reset_wmax = False
        self.w_est = float(self.cwnd)  # RFC 9438 §4.3: W_est starts at cwnd_epoch
        self._carry = 0.0

    def _congestion_avoidance(self, acked: int, now: float) -> None:
        if self.epoch_start is None:
            self._start_epoch(now)
        assert self.epoch_start is not None
        t = max(now - self.epoch_start, 0.0)
        cwnd = self.cwnd + self._carry
        # RFC 9438 §4.3 eq. (4): W_est += alpha_cubic * segments_acked / cwnd, in bytes;
        # alpha_cubic becomes 1 once W_est reaches the window before the last reduction
        alpha = 1.0 if self.w_est >= self.cwnd_prior else self.ALPHA
        self.w_est += alpha * acked * self.mss / cwnd
        if self.w_cubic(t) < self.w_est:
            # Reno-friendly region: cwnd = W_est
            new = self.w_est
        else:
            # Concave and convex regions (RFC 9438 §4.4, §4.5): grow towards the target
            # W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd] (§4.2), by
            # (target - cwnd) / cwnd per acknowledged segment
            rtt = self.min_rtt or 0.0
            target = min(max(self.w_cubic(t + rtt), cwnd), 1.5 * cwnd)
            new = cwnd + (target - cwnd) / cwnd * acked
        if new > cwnd:
            self.cwnd = int(new)
            self._carry = new - self.cwnd

    def _reduce(self) -> None:
        """Record W_max and cwnd_prior at a congestion event (RFC 9438 §4.6, §4.7)."""
        cwnd = float(self.cwnd)
        if self.fast_convergence and self.w_max is not None and cwnd < self.w_max:
            # RFC 9438 §4.7 fast convergence: release bandwidth to newer flows
            self.w_max = cwnd * (1 + self.BETA) / 2
        else:
            self.w_max = cwnd
        self.cwnd_prior = self.cwnd
        self.epoch_start = None
        self._carry = 0.0

    def _reduced_ssthresh(self, flight_size: int) -> int:
        # RFC 9438 §4.6: ssthresh = flight_size * beta_cubic, at least 2 SMSS
        return max(round(flight_size * self.BETA), 2 * self.mss)

    def on_congestion(self, flight_size: int, now: float) -> None:
        self._reduce()
        self._reset_wmax = False
        super().on_congestion(flight_size, now)  # cwnd = ssthresh

    def on_timeout(self, flight_size: int, now: float) -> None:
        if not self._timed_out:
            self._reduce()
        self._reset_wmax = True  # RFC 9438 §4.8
        super().on_timeout(flight_size, now)  # cwnd = 1 SMSS

    def on_recovery_exit(self, flight_size: int, now: float) -> None:
        super().on_recovery_exit(flight_size, now)
        self.epoch_start = None  # congestion avoidance starts afresh from the next ACK

    def on_idle_restart(self, now: float, rto: float) -> bool:
        restarted = super().on_idle_restart(now, rto)
        if restarted:
            self.epoch_start = None
        return restarted


def make_congestion_control(name: str, mss: int) -> CongestionControl:
    """A controller by name: ``"newreno"`` or ``"cubic"``."""
    key = name.lower()
    if key == NewReno.name:
        return NewReno(mss)
    if key == Cubic.name:
        return Cubic(mss)
    raise ParameterError(f"unknown congestion control {name!r} (newreno, cubic)")
