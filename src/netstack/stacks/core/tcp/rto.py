"""Retransmission timeout estimation (RFC 6298), sans-I/O.

The estimator only does arithmetic on the round-trip samples it is given; which samples
are valid (Karn's algorithm, RFC 6298 §3, or any ACK with a timestamp echo, RFC 7323 §4)
and when the timer runs are the connection's business.

``RtoConfig.minimum`` defaults to 0.2 s, Linux's ``TCP_RTO_MIN``, not the 1 s that RFC
6298 §2.4 asks for: the 1 s floor dates from coarse clocks, makes every tail loss on a LAN
cost a full second, and all major stacks ignore it (Linux 200 ms, Windows 300 ms, FreeBSD
30 ms). Set ``minimum=1.0`` for the letter of the RFC.
"""

from __future__ import annotations

from dataclasses import dataclass

from netstack.errors import ParameterError

#: backoff() stops doubling past this count; the value is then pinned at ``maximum``
_MAX_SHIFT = 64


@dataclass(slots=True)
class RtoConfig:
    initial: float = 1.0  # RFC 6298 §2.1
    minimum: float = 0.2  # Linux TCP_RTO_MIN; RFC 6298 §2.4 says 1 s (see module docstring)
    maximum: float = 120.0  # RFC 6298 §2.5 allows any maximum of at least 60 s; Linux 120 s
    granularity: float = 0.001  # G: the clock granularity of the `now` values
    alpha: float = 1 / 8  # RFC 6298 §2.3
    beta: float = 1 / 4
    k: int = 4


class RttEstimator:
    """SRTT, RTTVAR and RTO of one connection, with exponential backoff.

    ``rto`` is the base value from the samples; ``current`` is what the retransmission
    timer uses, ``rto * 2**backoffs`` capped at ``config.maximum``.
    """

    __slots__ = ("backoffs", "config", "rto", "rttvar", "srtt")

    def __init__(self, config: RtoConfig | None = None) -> None:
        cfg = config or RtoConfig()
        if not 0 < cfg.minimum <= cfg.maximum or cfg.initial <= 0:
            raise ParameterError("RTO limits must satisfy 0 < minimum <= maximum, initial > 0")
        self.config = cfg
        self.srtt: float | None = None
        self.rttvar: float | None = None
        self.rto: float = cfg.initial  # RFC 6298 §2.1
        self.backoffs: int = 0

    def sample(self, rtt: float) -> None:
        """Feed one round-trip measurement in seconds; resets the backoff."""
        cfg = self.config
        if rtt < 0:
            raise ParameterError("negative RTT sample")
        if self.srtt is None or self.rttvar is None:
            # RFC 6298 §2.2: the first measurement
            self.srtt = rtt
            self.rttvar = rtt / 2
        else:
            # RFC 6298 §2.3: RTTVAR first, with the SRTT from before this sample
            self.rttvar = (1 - cfg.beta) * self.rttvar + cfg.beta * abs(self.srtt - rtt)
            self.srtt = (1 - cfg.alpha) * self.srtt + cfg.alpha * rtt
        rto = self.srtt + max(cfg.granularity, cfg.k * self.rttvar)
        # RFC 6298 §2.4 (floor) and §2.5 (ceiling)
        self.rto = min(max(rto, cfg.minimum), cfg.maximum)
        self.backoffs = 0

    def backoff(self) -> None:
        """The retransmission timer expired: double the timeout (RFC 6298 §5.5)."""
        self.backoffs += 1

    def reset_backoff(self) -> None:
        """Drop the backoff without a new sample (e.g. a new connection attempt)."""
        self.backoffs = 0

    @property
    def current(self) -> float:
        """The timeout to arm now: ``rto`` doubled once per backoff, at most ``maximum``."""
        return min(self.rto * (1 << min(self.backoffs, _MAX_SHIFT)), self.config.maximum)
