"""The timers of a TCP connection, and what their expiry means.

Behind a connection's one deadline (``get_timer``) stand several timers: the sender's
retransmission and persist timers (:mod:`.sender`), the receiver's delayed ACK
(:mod:`.receiver`), and the connection's own, kept here by :class:`TcpTimers`: the connect
timeout, TIME-WAIT (2 MSL, RFC 9293 §3.6.1), FIN-WAIT-2 after ``close()`` and keepalive
(RFC 1122 §4.2.3.6). :meth:`TcpTimers.expired` turns what has expired into
:class:`Expiry` values, deciding when to give up (``syn_retries``, ``max_retries``,
``user_timeout``, ``keepcnt``, ``connect_timeout``); the connection acts on them.

The two rate limits on ACKs sent in answer to bad segments are clocks too and live here:
challenge ACKs (RFC 5961 §7) and answers to unacceptable segments without data (as Linux
``tcp_invalid_ratelimit``, so that two confused ends cannot ACK each other in a loop).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netstack.stacks.core.tcp.connection import TcpConfig
    from netstack.stacks.core.tcp.receiver import TcpReceiver
    from netstack.stacks.core.tcp.sender import TcpSender

__all__ = ["OOW_ACK_INTERVAL", "Expiry", "TcpTimers"]

#: at most one ACK per this interval answers unacceptable segments without data
OOW_ACK_INTERVAL = 0.5


class Expiry(enum.Enum):
    """What an expired timer asks the connection to do."""

    TIME_WAIT = "2MSL timeout"  # close cleanly
    FIN_WAIT_2 = "fin timeout"  # close cleanly
    GIVE_UP = "timeout"  # close with error "timeout"
    RETRANSMIT = "retransmission timeout"
    PERSIST = "persist"  # probe the zero window
    DELAYED_ACK = "delayed ACK"
    KEEPALIVE = "keepalive"  # send a probe


class TcpTimers:
    """The connection-level deadlines and rate limits (see the module docstring)."""

    __slots__ = (
        "_challenge_count",
        "_challenge_start",
        "_oow_at",
        "config",
        "connect",
        "fin_wait_2",
        "keep_probes",
        "keep_sent_at",
        "last_rx",
        "progress_at",
        "time_wait",
    )

    def __init__(self, config: TcpConfig) -> None:
        self.config = config
        self.connect: float | None = None  # connect_timeout after connect()
        self.time_wait: float | None = None
        self.fin_wait_2: float | None = None
        self.progress_at = 0.0  # last time SND.UNA advanced (user_timeout)
        self.last_rx = 0.0  # last acceptable segment (keepalive idle)
        self.keep_probes = 0  # keepalive probes unanswered
        self.keep_sent_at = 0.0
        self._challenge_start = float("-inf")
        self._challenge_count = 0
        self._oow_at = float("-inf")

    def heard(self, now: float) -> None:
        """An acceptable segment arrived: the peer is alive."""
        self.last_rx = now
        self.keep_probes = 0

    def start_time_wait(self, now: float) -> None:
        self.time_wait = now + 2 * self.config.msl
        self.connect = self.fin_wait_2 = None

    def clear(self) -> None:
        self.connect = self.time_wait = self.fin_wait_2 = None

    def keepalive_at(self, snd: TcpSender, keepalive_state: bool) -> float | None:
        cfg = self.config
        if not (cfg.keepalive and keepalive_state):
            return None
        if snd.max > snd.una or snd.has_unsent:
            return None  # the retransmission or persist timer watches the peer
        if self.keep_probes == 0:
            return self.last_rx + cfg.keepidle
        return self.keep_sent_at + cfg.keepintvl

    def earliest(self, snd: TcpSender, rcv: TcpReceiver, keepalive_state: bool) -> float | None:
        if self.time_wait is not None:
            return self.time_wait  # nothing else runs in TIME-WAIT
        deadlines = (
            snd.rtx_at,
            snd.persist_at,
            rcv.delack_at,
            self.connect,
            self.fin_wait_2,
            self.keepalive_at(snd, keepalive_state),
        )
        return min((d for d in deadlines if d is not None), default=None)

    def expired(
        self, now: float, snd: TcpSender, rcv: TcpReceiver, keepalive_state: bool
    ) -> list[Expiry]:
        """What is due at ``now``, in the order to act; a closing expiry comes alone."""
        cfg = self.config
        if self.time_wait is not None:
            return [Expiry.TIME_WAIT] if now >= self.time_wait else []
        if self.connect is not None and now >= self.connect:
            return [Expiry.GIVE_UP]
        if self.fin_wait_2 is not None and now >= self.fin_wait_2:
            return [Expiry.FIN_WAIT_2]
        due: list[Expiry] = []
        if snd.rtx_at is not None and now >= snd.rtx_at:
            if self._retransmissions_exhausted(now, snd):
                return [Expiry.GIVE_UP]
            due.append(Expiry.RETRANSMIT)
        if snd.persist_at is not None and now >= snd.persist_at:
            if snd.persist_probes >= cfg.max_retries:  # probes unanswered, not just sent
                return [Expiry.GIVE_UP]
            due.append(Expiry.PERSIST)
        if rcv.delack_at is not None and now >= rcv.delack_at:
            due.append(Expiry.DELAYED_ACK)
        keepalive = self.keepalive_at(snd, keepalive_state)
        if keepalive is not None and now >= keepalive:
            if self.keep_probes >= cfg.keepcnt:
                return [Expiry.GIVE_UP]
            self.keep_probes += 1
            self.keep_sent_at = now
            due.append(Expiry.KEEPALIVE)
        return due

    def _retransmissions_exhausted(self, now: float, snd: TcpSender) -> bool:
        cfg = self.config
        if snd.una == 0:  # our SYN or SYN-ACK
            return snd.retries >= cfg.syn_retries
        if cfg.user_timeout is not None and now - self.progress_at >= cfg.user_timeout:
            return True
        # Into a zero window the retransmissions are probes: no giving up while the peer
        # answers them (as Linux tcp_retransmit_timer)
        probing = snd.wnd == 0 and now - self.last_rx < cfg.rto.maximum
        return snd.retries >= cfg.max_retries and not probing

    # -- rate limits ----------------------------------------------------------------------

    def challenge_allowed(self, now: float) -> bool:
        """RFC 5961 §7: at most ``challenge_ack_limit`` challenge ACKs per second."""
        if now - self._challenge_start >= 1.0:
            self._challenge_start = now
            self._challenge_count = 0
        if self._challenge_count >= self.config.challenge_ack_limit:
            return False
        self._challenge_count += 1
        return True

    def answer_allowed(self, seg_len: int, now: float) -> bool:
        """Whether to ACK an unacceptable segment: always if it holds data, SYN or FIN
        (a retransmission whose ACK was lost), else once per ``OOW_ACK_INTERVAL``."""
        if seg_len:
            return True
        if now - self._oow_at < OOW_ACK_INTERVAL:
            return False
        self._oow_at = now
        return True
