"""The TCP connection's records: states, configuration, output segments, events, counters.

Split from :mod:`netstack.stacks.core.tcp.connection` (which re-exports every name) so
that module holds only the machine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from netstack.stacks.core.tcp.rto import RtoConfig
from netstack.wire.tcp import TcpHeader


class TcpState(enum.Enum):
    """RFC 9293 §3.3.2."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"


@dataclass(slots=True)
class TcpConfig:
    mss: int = 1460  # our MSS to advertise (the glue derives it from the MTU)
    rcvbuf: int = 262144
    sndbuf: int = 262144
    nodelay: bool = False  # Nagle off when True
    delayed_ack: float = 0.04  # RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2 (< 0.5 s)
    keepalive: bool = False
    keepidle: float = 7200.0  # RFC 1122 §4.2.3.6: no less than two hours by default
    keepintvl: float = 75.0
    keepcnt: int = 9
    msl: float = 30.0  # TIME-WAIT lasts 2 * MSL
    connect_timeout: float = 75.0
    syn_retries: int = 6  # like Linux tcp_syn_retries (also for SYN-ACKs)
    max_retries: int = 15  # like Linux tcp_retries2
    rto: RtoConfig = field(default_factory=RtoConfig)
    window_scaling: bool = True
    timestamps: bool = True
    sack: bool = True
    congestion: str = "newreno"
    ooo_limit: int = 262144
    linger: float | None = None  # SO_LINGER: None graceful; 0 abort with RST on close
    user_timeout: float | None = None  # give up when data stays unacknowledged this long
    fin_timeout: float = 60.0  # FIN-WAIT-2 after close() (Linux tcp_fin_timeout)
    challenge_ack_limit: int = 10  # per second (RFC 5961 §7)


@dataclass(frozen=True, slots=True)
class TcpSegmentOut:
    """A segment to send: ports, seq/ack, flags, window (already scaled) and options are
    filled; the glue adds the addresses and builds it. ``gso_size`` is non-zero for a
    segment larger than the MSS (see ``TcpConnection.max_segment``): the link cuts it into
    segments of that many payload bytes, each with a copy of the header."""

    header: TcpHeader
    payload: bytes
    gso_size: int = 0


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake completed: ESTABLISHED."""


@dataclass(frozen=True, slots=True)
class Readable:
    """New data is in the receive buffer."""


@dataclass(frozen=True, slots=True)
class Writable:
    """Send buffer space was freed after a ``send()`` could not take everything."""


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The peer's FIN arrived: after the buffered data, ``recv()`` returns b""."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection reached CLOSED. ``error``: None (clean), "refused", "reset",
    "timeout" or "aborted"."""

    error: str | None


@dataclass(slots=True)
class TcpStats:
    segments_in: int = 0
    segments_out: int = 0
    bytes_in: int = 0  # payload delivered in order
    bytes_out: int = 0  # payload sent, retransmissions included
    bytes_acked: int = 0
    retransmissions: int = 0  # segments
    retransmitted_bytes: int = 0
    timeouts: int = 0
    fast_retransmits: int = 0  # loss recoveries entered on duplicate ACKs / SACK
    fast_retransmit_segments: int = 0  # head-of-window retransmissions in them
    partial_acks: int = 0  # RFC 6582
    sack_recoveries: int = 0  # RFC 6675
    dupacks: int = 0
    ooo_segments: int = 0
    delayed_acks: int = 0  # ACKs sent by the delayed-ACK timer
    window_updates: int = 0
    zero_window_probes: int = 0
    keepalive_probes: int = 0
    challenge_acks: int = 0
    challenge_acks_suppressed: int = 0
    paws_rejected: int = 0
    out_of_window: int = 0  # unacceptable segments (answered with an ACK)
    dropped: int = 0  # segments ignored for other reasons
    resets_in: int = 0
    resets_out: int = 0
    mss_reductions: int = 0  # the path MTU fell (RFC 8201 §5.2, RFC 1191 §6.5)
