"""The TCP connection machine (RFC 9293) as a sans-I/O object.

:class:`TcpConnection` is one connection's TCB: the state machine of RFC 9293 §3.3.2, the
segment arrival rules of §3.10.7, option negotiation (MSS with RFC 6691, window scale and
timestamps from RFC 7323, SACK from RFC 2018) and the RFC 5961 defences. Beside it:
:mod:`.sender` (send buffer, retransmission, congestion control, loss recovery, persist),
:mod:`.receiver` (receive buffer, out-of-order queue, window, delayed ACKs) and
:mod:`.timers` (the other deadlines, keepalive, giving up, ACK rate limits).

It takes parsed :class:`~netstack.wire.tcp.TcpHeader` records and the time and produces
:class:`TcpSegmentOut` records, one timer deadline and events; it never reads a clock and
does no I/O. The glue (demultiplexing, ISNs, ports, listeners, RSTs for segments that
match no connection) calls :meth:`receive`, a verb or :meth:`handle_timer`, then drains
:meth:`next_event`, flushes :meth:`packets_to_send` and re-arms :meth:`get_timer`. Data
segments are cut at flush time, so ten ``send()`` calls make one batch; ACKs that are due
at once are built when the segment arrives, so a burst of out-of-order segments handled
together still yields one duplicate ACK each (RFC 5681 §4.2).

Every state change goes through :data:`TRANSITIONS`, keyed by (state, input); a change
that is not in the table is a bug and raises ``AssertionError``.

Choices the RFCs leave open, and what this machine does:

- A non-RST segment without timestamps on a connection that negotiated them is dropped
  (RFC 7323 §3.2 SHOULD).
- RST in TIME-WAIT is ignored (RFC 1337).
- An ACK of our SYN-ACK that acknowledges nothing valid draws a RST (RFC 9293
  §3.10.7.4); a duplicate SYN in SYN-RECEIVED resends the SYN-ACK, and the peer's SYN-ACK
  in a simultaneous open (RFC 9293 figure 8) is taken as the ACK of our SYN.
- ``close()`` with unread data, or data arriving after ``close()``, aborts with RST (RFC
  1122 §4.2.2.13, as Linux). After ``close()`` FIN-WAIT-2 lasts at most ``fin_timeout``.
- A passive connection reset in SYN-RECEIVED closes (the listener is the glue's) with
  error "reset"; a simultaneous open reset there reports "refused".
- Challenge ACKs (RFC 5961 §3.2, §4.2, §5.2) are limited to
  ``challenge_ack_limit`` per second.
"""

from __future__ import annotations

import logging
from collections import deque

from netstack.errors import IsConnectedError, NoConnectionError
from netstack.stacks.core.tcp.congestion import CongestionControl, make_congestion_control
from netstack.stacks.core.tcp.receiver import TcpReceiver, window_shift
from netstack.stacks.core.tcp.records import (
    Closed,
    Connected,
    PeerClosed,
    Readable,
    TcpConfig,
    TcpSegmentOut,
    TcpState,
    TcpStats,
    Writable,
)
from netstack.stacks.core.tcp.rto import RttEstimator
from netstack.stacks.core.tcp.sender import Chunk, TcpSender
from netstack.stacks.core.tcp.seq import SEQ_MASK
from netstack.stacks.core.tcp.timers import Expiry, TcpTimers
from netstack.wire.tcp import TcpFlags, TcpHeader, TcpOptions

__all__ = [
    "TRANSITIONS",
    "Closed",
    "Connected",
    "PeerClosed",
    "Readable",
    "TcpConfig",
    "TcpConnection",
    "TcpSegmentOut",
    "TcpState",
    "TcpStats",
    "Writable",
]

log = logging.getLogger(__name__)

_FIN, _SYN, _RST, _PSH, _ACK = (
    int(f) for f in (TcpFlags.FIN, TcpFlags.SYN, TcpFlags.RST, TcpFlags.PSH, TcpFlags.ACK)
)
DEFAULT_PEER_MSS = 536  # RFC 9293 §3.7.1: the send MSS when the SYN carries no MSS option
_TS_OPTION_LEN = 12  # NOP, NOP, kind 8 length 10 (RFC 7323 appendix A)


S = TcpState
_SYNCHRONIZED = (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK)
_CLOSED = frozenset((S.CLOSED,))
#: (state, input) → the states the machine may be in afterwards. The source of the
#: state diagram; a change of state not listed here raises AssertionError.
TRANSITIONS: dict[tuple[TcpState, str], frozenset[TcpState]] = {
    (S.CLOSED, "connect"): frozenset((S.SYN_SENT,)),
    (S.LISTEN, "rcv SYN"): frozenset((S.SYN_RECEIVED,)),
    (S.SYN_SENT, "rcv SYN"): frozenset((S.SYN_RECEIVED,)),  # simultaneous open
    (S.SYN_SENT, "rcv SYN-ACK"): frozenset((S.ESTABLISHED,)),
    (S.SYN_SENT, "rcv RST"): _CLOSED,
    (S.SYN_SENT, "close"): _CLOSED,
    (S.SYN_RECEIVED, "rcv ACK of SYN"): frozenset((S.ESTABLISHED,)),
    (S.SYN_RECEIVED, "close"): frozenset((S.FIN_WAIT_1,)),
    (S.ESTABLISHED, "close"): frozenset((S.FIN_WAIT_1,)),
    (S.ESTABLISHED, "rcv FIN"): frozenset((S.CLOSE_WAIT,)),
    (S.FIN_WAIT_1, "rcv ACK of FIN"): frozenset((S.FIN_WAIT_2,)),
    (S.FIN_WAIT_1, "rcv FIN"): frozenset((S.CLOSING,)),  # simultaneous close
    (S.FIN_WAIT_2, "rcv FIN"): frozenset((S.TIME_WAIT,)),
    (S.FIN_WAIT_2, "fin timeout"): _CLOSED,
    (S.CLOSE_WAIT, "close"): frozenset((S.LAST_ACK,)),
    (S.CLOSING, "rcv ACK of FIN"): frozenset((S.TIME_WAIT,)),
    (S.LAST_ACK, "rcv ACK of FIN"): _CLOSED,
    (S.TIME_WAIT, "2MSL timeout"): _CLOSED,
    **{(s, "rcv RST"): _CLOSED for s in (S.SYN_RECEIVED, *_SYNCHRONIZED)},
    **{(s, "timeout"): _CLOSED for s in (S.SYN_SENT, S.SYN_RECEIVED, *_SYNCHRONIZED)},
    **{(s, "abort"): _CLOSED for s in (S.SYN_SENT, S.SYN_RECEIVED, *_SYNCHRONIZED, S.TIME_WAIT)},
}
_DATA_STATES = frozenset((S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK))
_TEXT_STATES = frozenset((S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2))
_SEND_STATES = frozenset((S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT))
_KEEPALIVE_STATES = frozenset((S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_2))
_RST_ON_ABORT = frozenset((S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT))
del S


class TcpConnection:
    """One TCP connection (see the module docstring)."""

    def __init__(
        self,
        local_port: int,
        remote_port: int,
        iss: int,
        config: TcpConfig,
        *,
        ts_offset: int = 0,
    ) -> None:
        self.local_port = local_port
        self.remote_port = remote_port
        self.config = config
        self.stats = TcpStats()
        self._state = TcpState.CLOSED
        self._snd = TcpSender(iss, config, self.stats)
        self._rcv = TcpReceiver(config, self.stats)
        self._ts_offset = ts_offset
        self._error: str | None = None
        self._events: deque[object] = deque()
        self._outbox: list[TcpSegmentOut] = []
        self._passive = False
        self._user_closed = False  # close() was called: the application reads no more
        self._want_writable = False
        # negotiated options
        self._ws_ok = False
        self._sack_ok = False
        self._ts_ok = False
        self._timers = TcpTimers(config)

    # -- read-only views -------------------------------------------------------------

    @property
    def state(self) -> TcpState:
        return self._state

    @property
    def readable(self) -> int:
        return self._rcv.readable

    @property
    def writable(self) -> int:
        if self._state not in _SEND_STATES or self._snd.fin_queued:
            return 0
        return self._snd.free

    @property
    def peer_closed(self) -> bool:
        return self._rcv.fin_done

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def mss(self) -> int:
        """The effective send MSS: payload bytes per full segment."""
        return self._snd.mss

    @property
    def rtt(self) -> RttEstimator:
        return self._snd.rtt

    @property
    def cc(self) -> CongestionControl:
        return self._snd.cc

    @property
    def snd_wnd(self) -> int:
        return self._snd.wnd

    @property
    def rcv_wnd(self) -> int:
        return self._rcv.window

    @property
    def max_segment(self) -> int | None:
        """Largest payload per segment handed to the glue (a multiple of the MSS, for TSO);
        None means the MSS."""
        return self._snd.max_segment

    @max_segment.setter
    def max_segment(self, value: int | None) -> None:
        self._snd.max_segment = value

    def path_mtu_changed(self, room: int) -> bool:
        """The path MTU fell so that ``room`` bytes of TCP header and data fit in a packet
        (RFC 8201 §5.2, RFC 1191 §6.5): later segments are cut to fit, and what is in
        flight is sent again at once, as the router dropped the larger segments. True if
        the MSS shrank."""
        snd = self._snd
        mss = max(room - 20 - (_TS_OPTION_LEN if self._ts_ok else 0), 64)
        if mss >= snd.mss or snd.una == 0:
            return False
        snd.mss = mss
        snd.cc.mss = mss
        if snd.sack is not None:
            snd.sack.mss = mss
        if snd.nxt > snd.una:
            snd.nxt = snd.una  # resend the outstanding data in smaller segments
        self.stats.mss_reductions += 1
        return True

    @property
    def congestion_control(self) -> CongestionControl:
        return self._snd.cc

    def set_congestion_control(self, name: str) -> None:
        """Switch controllers (``"newreno"``, ``"cubic"``); an open connection keeps its
        current window and slow-start threshold."""
        old = self._snd.cc
        new = make_congestion_control(name, old.mss)
        new.cwnd, new.ssthresh = old.cwnd, old.ssthresh
        self.config.congestion = new.name
        self._snd.cc = new

    @property
    def negotiated(self) -> dict[str, bool]:
        return {"window_scaling": self._ws_ok, "sack": self._sack_ok, "timestamps": self._ts_ok}

    def accepts_new_syn(self, syn: TcpHeader) -> bool:
        """In TIME-WAIT, whether a new SYN on this 4-tuple may open a new connection (the
        glue then ends this one and hands the SYN to its listener): its timestamp is
        newer than TS.Recent, or without timestamps its sequence number is above RCV.NXT
        (RFC 6191 §2, RFC 1122 §4.2.2.13)."""
        if self._state is not TcpState.TIME_WAIT or not syn.flags & _SYN or syn.flags & _ACK:
            return False
        rcv = self._rcv
        opts = syn.options
        if self._ts_ok and opts is not None and opts.timestamp is not None:
            return (
                rcv.ts_recent is not None
                and 0 < (opts.timestamp[0] - rcv.ts_recent) & SEQ_MASK < 1 << 31
            )
        return rcv.unwrap(syn.seq) > rcv.nxt

    # -- opening -----------------------------------------------------------------------

    def connect(self, now: float) -> None:
        """Active open: the SYN goes out with the next flush."""
        if self._state is not TcpState.CLOSED or self._snd.max:
            raise IsConnectedError("connection already in use")
        self._transition("connect", TcpState.SYN_SENT)
        self._timers.connect = now + self.config.connect_timeout

    @classmethod
    def accept(
        cls,
        syn: TcpHeader,
        local_port: int,
        iss: int,
        config: TcpConfig,
        now: float,
        *,
        ts_offset: int = 0,
    ) -> TcpConnection:
        """Passive open from a listener's SYN: SYN-RECEIVED, the SYN-ACK goes out with the
        next flush, options negotiated from the SYN (RFC 9293 §3.10.7.2)."""
        conn = cls(local_port, syn.src_port, iss, config, ts_offset=ts_offset)
        conn._state = TcpState.LISTEN
        conn._passive = True
        conn._synchronize(syn, now)
        conn._transition("rcv SYN", TcpState.SYN_RECEIVED)
        return conn

    def _synchronize(self, syn: TcpHeader, now: float) -> None:
        """Take the peer's SYN: IRS, its window and the options (RFC 7323 §2.2, §3.2,
        RFC 2018 §2, RFC 9293 §3.7.1)."""
        cfg, snd, rcv = self.config, self._snd, self._rcv
        opts = syn.options or TcpOptions()
        rcv.synchronize(syn.seq)
        self._ws_ok = cfg.window_scaling and opts.wscale is not None
        if self._ws_ok:
            snd.shift = min(opts.wscale or 0, 14)  # RFC 7323 §2.3
            rcv.shift = window_shift(cfg.rcvbuf)
        self._sack_ok = cfg.sack and opts.sack_permitted
        self._ts_ok = cfg.timestamps and opts.timestamp is not None
        if opts.timestamp is not None and self._ts_ok:
            rcv.ts_recent, rcv.ts_recent_at = opts.timestamp[0], now
        mss = max(min(opts.mss or DEFAULT_PEER_MSS, cfg.mss), 64)
        snd.negotiated(mss - (_TS_OPTION_LEN if self._ts_ok else 0), sack=self._sack_ok)  # RFC 6691
        snd.wnd = snd.max_wnd = syn.window  # never scaled in a SYN (RFC 7323 §2.2)
        self._timers.heard(now)

    # -- API verbs ---------------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview, now: float) -> int:
        """Queue up to the free send-buffer space; return the bytes taken (0: would
        block). Data queued before the handshake completes waits for it."""
        if self._state not in _SEND_STATES or self._snd.fin_queued:
            raise NoConnectionError(f"cannot send in {self._state.value}")
        n = self._snd.queue(data)
        if n < len(data) or self._snd.free == 0:  # the next send would block: notify later
            self._want_writable = True
        return n

    def recv(self, max_bytes: int, now: float) -> bytes:
        """Up to ``max_bytes`` of received data; b"" when none (EOF if ``peer_closed``)."""
        return self._rcv.read(max_bytes)

    def shutdown_write(self, now: float) -> None:
        """Send a FIN after the queued data (half-close); reading goes on."""
        state = self._state
        if self._snd.fin_queued:
            return
        if state is TcpState.SYN_SENT:
            self._snd.fin_queued = True  # sent once ESTABLISHED (RFC 9293 §3.10.4)
        elif state in (TcpState.SYN_RECEIVED, TcpState.ESTABLISHED, TcpState.CLOSE_WAIT):
            self._snd.fin_queued = True
            target = TcpState.LAST_ACK if state is TcpState.CLOSE_WAIT else TcpState.FIN_WAIT_1
            self._transition("close", target)
        else:
            raise NoConnectionError(f"cannot shut down in {state.value}")

    def close(self, now: float) -> None:
        """Close gracefully; abort with RST if ``linger == 0`` or data is left unread
        (RFC 1122 §4.2.2.13)."""
        state = self._state
        if state is TcpState.CLOSED:
            return
        self._user_closed = True
        if state is TcpState.SYN_SENT:
            self._enter_closed("close", None)
            return
        if state in _RST_ON_ABORT and (self.config.linger == 0 or self._rcv.readable):
            self.abort(now)
            return
        if not self._snd.fin_queued:
            self.shutdown_write(now)
        if self._state is TcpState.FIN_WAIT_2 and self._timers.fin_wait_2 is None:
            self._timers.fin_wait_2 = now + self.config.fin_timeout

    def abort(self, now: float) -> None:
        """Reset the connection (RFC 9293 §3.10.5): RST in the synchronized states."""
        state = self._state
        if state is TcpState.CLOSED:
            return
        if state in _RST_ON_ABORT:
            self._send_rst(self._snd.wire(self._snd.max), ack=True)
        self._enter_closed("abort", "aborted")

    # -- output, timers, events ----------------------------------------------------------

    def packets_to_send(self, now: float) -> list[TcpSegmentOut]:
        out, self._outbox = self._outbox, []
        state = self._state
        if state is TcpState.CLOSED or state is TcpState.LISTEN:
            return out
        snd, rcv = self._snd, self._rcv
        if state is not TcpState.TIME_WAIT:
            blocks = self._sack_blocks()
            seg_mss = self.mss - (4 + 8 * len(blocks) if blocks else 0)
            chunks: list[Chunk] = []
            idle = snd.max == snd.una
            snd.output(
                now,
                allow_data=state in _DATA_STATES and snd.una > 0,
                nodelay=self.config.nodelay,
                seg_mss=seg_mss,
                out=chunks,
            )
            if chunks and idle:
                self._timers.progress_at = now
            for chunk in chunks:
                out.append(self._chunk_segment(chunk, now, blocks))
        if rcv.ack_now and rcv.nxt:
            out.append(self._ack_segment(now))
        return out

    def get_timer(self) -> float | None:
        """The earliest deadline: retransmission, delayed ACK, persist, keepalive,
        TIME-WAIT, FIN-WAIT-2, connect timeout."""
        if self._state is TcpState.CLOSED:
            return None
        return self._timers.earliest(self._snd, self._rcv, self._state in _KEEPALIVE_STATES)

    def handle_timer(self, now: float) -> None:
        if self._state is TcpState.CLOSED:
            return
        snd, rcv = self._snd, self._rcv
        for expiry in self._timers.expired(now, snd, rcv, self._state in _KEEPALIVE_STATES):
            if expiry is Expiry.TIME_WAIT or expiry is Expiry.FIN_WAIT_2:
                self._enter_closed(expiry.value, None)
            elif expiry is Expiry.GIVE_UP:
                self._enter_closed("timeout", "timeout")
            elif expiry is Expiry.RETRANSMIT:
                snd.on_rto(now)
            elif expiry is Expiry.PERSIST:
                chunks: list[Chunk] = []
                snd.on_persist(now, self.mss, chunks)
                self._outbox.extend(self._chunk_segment(chunk, now, []) for chunk in chunks)
            elif expiry is Expiry.DELAYED_ACK:
                rcv.delack_at = None
                rcv.ack_now = True
                self.stats.delayed_acks += 1
            else:  # RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1, no data: the peer must ACK
                self.stats.keepalive_probes += 1
                self._outbox.append(self._ack_segment(now, snd.wire(snd.max - 1)))

    def next_event(self) -> object | None:
        return self._events.popleft() if self._events else None

    # -- segment arrival (RFC 9293 §3.10.7) ------------------------------------------

    def receive(self, header: TcpHeader, payload: bytes | memoryview, now: float) -> None:
        self.stats.segments_in += 1
        state = self._state
        if header.flags & _RST:
            self.stats.resets_in += 1
        if state is TcpState.CLOSED:
            self._reply_closed(header, len(payload))
            return
        if state is TcpState.SYN_SENT:
            self._receive_syn_sent(header, payload, now)  # its ACK may carry data: flush
            return
        if state is not TcpState.LISTEN:
            self._receive_synchronized(header, payload, now)
        # An ACK due now is built now, not at the flush: a burst of out-of-order segments
        # processed together still makes one duplicate ACK each (RFC 5681 §4.2).
        if self._rcv.ack_now and self._rcv.nxt and self._state is not TcpState.CLOSED:
            self._outbox.append(self._ack_segment(now))

    def _reply_closed(self, header: TcpHeader, length: int) -> None:
        """RFC 9293 §3.10.7.1: a RST answers everything but a RST."""
        flags = header.flags
        if flags & _RST:
            return
        if flags & _ACK:
            self._send_rst(header.ack)
        else:
            seg_len = length + (flags & _SYN and 1) + (flags & _FIN and 1)
            self._send_rst(0, ack=True, ack_value=(header.seq + seg_len) & SEQ_MASK)

    def _receive_syn_sent(self, header: TcpHeader, payload: bytes | memoryview, now: float) -> None:
        """RFC 9293 §3.10.7.3."""
        flags, snd = header.flags, self._snd
        ack = 0
        if flags & _ACK:
            ack = snd.unwrap(header.ack)
            if not 0 < ack <= snd.max:  # ISS < SEG.ACK =< SND.NXT
                if not flags & _RST:
                    self._send_rst(header.ack)
                self.stats.dropped += 1
                return
        if flags & _RST:
            # RFC 5961 §3.2 / RFC 9293: acceptable only if it acknowledges our SYN
            if flags & _ACK:
                self._enter_closed("rcv RST", "refused")
            return
        if not flags & _SYN:
            self.stats.dropped += 1
            return
        self._synchronize(header, now)
        if not flags & _ACK:
            # simultaneous open: SYN-ACK from ISS (RFC 9293 §3.10.7.3 fourth step)
            snd.nxt = 0
            self._transition("rcv SYN", TcpState.SYN_RECEIVED)
            return
        snd.wl1, snd.wl2 = 0, ack
        snd.on_ack(ack, header.window, 0, False, (), self._ts_rtt(header, now), now)
        snd.wnd = snd.max_wnd = header.window  # the SYN-ACK's window is not scaled
        self._transition("rcv SYN-ACK", TcpState.ESTABLISHED)
        self._established(now)
        self._rcv.ack_now = True
        if payload or flags & _FIN:
            self._text(1, payload, bool(flags & _FIN), now)

    def _receive_synchronized(
        self, header: TcpHeader, payload: bytes | memoryview, now: float
    ) -> None:
        """RFC 9293 §3.10.7.4 with RFC 5961 and RFC 7323 for every state after SYN-SENT."""
        flags, snd, rcv, stats = header.flags, self._snd, self._rcv, self.stats
        rst, syn, fin = flags & _RST, flags & _SYN, bool(flags & _FIN)
        opts = header.options
        ts = opts.timestamp if opts is not None else None
        if self._ts_ok and not rst:
            if ts is None:  # RFC 7323 §3.2
                stats.dropped += 1
                return
            if rcv.paws_reject(ts[0], now):  # RFC 7323 §5.3 R1
                stats.paws_rejected += 1
                rcv.ack_now = self._timers.answer_allowed(header.segment_length(len(payload)), now)
                return
        seq = rcv.unwrap(header.seq)
        if syn and seq == 0 and snd.una == 0:
            if not flags & _ACK:
                snd.nxt = 0  # a retransmitted SYN: our SYN-ACK was lost, send it again
                return
            syn, seq = 0, 1  # the peer's SYN-ACK of a simultaneous open (RFC 9293 fig. 8)
        seg_len = len(payload) + (1 if syn else 0) + fin
        # first: the sequence number (acceptability) test
        if not rcv.acceptable(seq, seg_len):
            stats.out_of_window += 1
            if rst or not self._timers.answer_allowed(seg_len, now):
                return
            rcv.ack_now = True
            if rcv.window or seq != rcv.nxt:
                if self._state is TcpState.TIME_WAIT and fin:
                    self._timers.start_time_wait(now)  # RFC 9293 §3.10.7.4
                return
            # zero window: take the ACK of a probe at RCV.NXT, not its data (§3.10.7.4)
            fin = fin and not payload
            payload = payload[:0]
        self._timers.heard(now)
        # second: RST (RFC 5961 §3.2)
        if rst:
            if seq != rcv.nxt:
                self._challenge_ack(now)
            elif self._state is not TcpState.TIME_WAIT:  # RFC 1337
                refused = self._state is TcpState.SYN_RECEIVED and not self._passive
                self._enter_closed("rcv RST", "refused" if refused else "reset")
            return
        if ts is not None and self._ts_ok:
            rcv.update_ts_recent(ts[0], seq, now)  # RFC 7323 §4.3
        # fourth: SYN in a synchronized state (RFC 5961 §4.2)
        if syn:
            self._challenge_ack(now)
            return
        # fifth: the ACK field
        if not flags & _ACK:
            stats.dropped += 1
            return
        ack = snd.unwrap(header.ack)
        if snd.una == 0 and not 0 < ack <= snd.max:
            self._send_rst(header.ack)  # RFC 9293 §3.10.7.4, SYN-RECEIVED
            return
        if ack > snd.max:  # acknowledges something not yet sent: ACK and drop
            rcv.ack_now = True
            stats.dropped += 1
            return
        if ack < snd.una - snd.max_wnd:  # RFC 5961 §5.2
            self._challenge_ack(now)
            return
        blocks = opts.sack_blocks if opts is not None and self._sack_ok else ()
        pure = not payload and not fin
        syn_unacked = snd.una == 0
        acked = snd.on_ack(ack, header.window, seq, pure, blocks, self._ts_rtt(header, now), now)
        if acked:
            self._timers.progress_at = now
            if syn_unacked:  # in SYN-RECEIVED, or FIN-WAIT-1 after a close there
                if self._state is TcpState.SYN_RECEIVED:
                    self._transition("rcv ACK of SYN", TcpState.ESTABLISHED)
                self._established(now)
            self._acked_fin(now)
            if self._state is TcpState.CLOSED:
                return
            if self._want_writable and snd.free >= min(
                self.config.sndbuf, max(self.mss, self.config.sndbuf // 4)
            ):
                self._want_writable = False
                self._event(Writable())
        # sixth (URG) is not supported; seventh and eighth: text and FIN
        if payload or fin:
            self._text(seq, payload, fin, now)

    def _acked_fin(self, now: float) -> None:
        if not self._snd.fin_acked:
            return
        state = self._state
        if state is TcpState.FIN_WAIT_1:
            self._transition("rcv ACK of FIN", TcpState.FIN_WAIT_2)
            if self._user_closed:
                self._timers.fin_wait_2 = now + self.config.fin_timeout
        elif state is TcpState.CLOSING:
            self._transition("rcv ACK of FIN", TcpState.TIME_WAIT)
            self._enter_time_wait(now)
        elif state is TcpState.LAST_ACK:
            self._enter_closed("rcv ACK of FIN", None)

    def _text(self, seq: int, payload: bytes | memoryview, fin: bool, now: float) -> None:
        """RFC 9293 §3.10.7.4 seventh and eighth steps."""
        rcv = self._rcv
        if self._state not in _TEXT_STATES:
            rcv.ack_now = True  # the FIN is in already: ignore the text, ACK it again
            return
        if payload and self._user_closed and seq + len(payload) > rcv.nxt:
            self.abort(now)  # RFC 1122 §4.2.2.13: nobody will read this data
            return
        delivered, fin_now = rcv.accept(seq, payload, fin, now)
        if delivered and not (self._events and isinstance(self._events[-1], Readable)):
            self._event(Readable())
        if fin_now:
            self._event(PeerClosed())
            state = self._state
            if state is TcpState.ESTABLISHED:
                self._transition("rcv FIN", TcpState.CLOSE_WAIT)
            elif state is TcpState.FIN_WAIT_1:
                self._transition("rcv FIN", TcpState.CLOSING)
            else:
                self._transition("rcv FIN", TcpState.TIME_WAIT)
                self._enter_time_wait(now)

    def _ts_rtt(self, header: TcpHeader, now: float) -> float | None:
        """RTTM (RFC 7323 §4): the age of the echoed timestamp; the sender uses it only
        for ACKs of new data."""
        opts = header.options
        if not self._ts_ok or opts is None or opts.timestamp is None or not opts.timestamp[1]:
            return None
        age = (self._tsval(now) - opts.timestamp[1]) & SEQ_MASK
        return age / 1000.0 if age < 1 << 31 else None

    # -- state changes -----------------------------------------------------------------

    def _transition(self, event: str, new: TcpState) -> None:
        targets = TRANSITIONS.get((self._state, event))
        if targets is None or new not in targets:
            raise AssertionError(f"TCP {self._state.value} --{event}--> {new.value} not in table")
        log.debug("TCP :%d %s --%s--> %s", self.local_port, self._state.value, event, new.value)
        self._state = new

    def _established(self, now: float) -> None:
        self._timers.connect = None
        self._timers.progress_at = now
        if not self._user_closed:
            self._event(Connected())
        if self._snd.fin_queued and self._state is TcpState.ESTABLISHED:
            self._transition("close", TcpState.FIN_WAIT_1)  # shutdown during SYN-SENT

    def _enter_time_wait(self, now: float) -> None:
        snd = self._snd
        snd.rtx_at = snd.persist_at = None
        self._timers.start_time_wait(now)

    def _enter_closed(self, event: str, error: str | None) -> None:
        self._transition(event, TcpState.CLOSED)
        snd, rcv = self._snd, self._rcv
        snd.rtx_at = snd.persist_at = None
        rcv.delack_at = None
        rcv.ack_now = False
        self._timers.clear()
        snd.buf.clear()
        if error is not None:
            rcv.buf.clear()
            rcv.ooo.clear()
        self._error = error
        self._event(Closed(error))

    def _event(self, event: object) -> None:
        self._events.append(event)

    def _challenge_ack(self, now: float) -> None:
        """RFC 5961 §7: at most ``challenge_ack_limit`` challenge ACKs per second."""
        if not self._timers.challenge_allowed(now):
            self.stats.challenge_acks_suppressed += 1
            return
        self.stats.challenge_acks += 1
        self._rcv.ack_now = True

    # -- building segments -------------------------------------------------------------

    def _tsval(self, now: float) -> int:
        return (int(now * 1000) + self._ts_offset) & SEQ_MASK

    def _sack_blocks(self) -> list[tuple[int, int]]:
        if not self._sack_ok:
            return []
        return self._rcv.sack_blocks(3 if self._ts_ok else 4)  # RFC 2018 §3

    def _options(self, now: float, blocks: list[tuple[int, int]]) -> TcpOptions | None:
        if not self._ts_ok and not blocks:
            return None
        ts = (self._tsval(now), self._rcv.ts_recent or 0) if self._ts_ok else None
        return TcpOptions(sack_blocks=tuple(blocks), timestamp=ts)

    def _syn_options(self, now: float) -> TcpOptions:
        """RFC 9293 §3.7.1 MSS; RFC 7323 §2.2, §3.2 and RFC 2018 §2 offers: all we want in
        a SYN, only what the peer offered in a SYN-ACK."""
        cfg = self.config
        offer = not self._rcv.nxt  # our SYN, not a SYN-ACK
        ws = cfg.window_scaling if offer else self._ws_ok
        ts = cfg.timestamps if offer else self._ts_ok
        return TcpOptions(
            mss=cfg.mss,
            wscale=window_shift(cfg.rcvbuf) if ws else None,
            sack_permitted=cfg.sack if offer else self._sack_ok,
            timestamp=(self._tsval(now), self._rcv.ts_recent or 0) if ts else None,
        )

    def _out(
        self, seq: int, ack: int, flags: int, window: int, options: TcpOptions | None,
        payload: bytes = b"",
    ) -> TcpSegmentOut:  # fmt: skip
        self.stats.segments_out += 1
        self.stats.bytes_out += len(payload)
        header = TcpHeader(self.local_port, self.remote_port, seq, ack, flags, window, 0, options)
        mss = self._snd.mss
        # a larger segment has no SACK blocks (below), so each cut carries a full MSS
        return TcpSegmentOut(header, payload, mss if len(payload) > mss else 0)

    def _chunk_segment(
        self, chunk: Chunk, now: float, blocks: list[tuple[int, int]]
    ) -> TcpSegmentOut:
        snd, rcv = self._snd, self._rcv
        payload = snd.payload(chunk.seq, chunk.length) if chunk.length else b""
        synced = rcv.nxt > 0
        flags = _ACK if synced else 0
        options: TcpOptions | None
        if chunk.syn:
            window = rcv.advertise(syn=True)
            options = self._syn_options(now)
            flags |= _SYN
        else:
            window = rcv.advertise()
            if blocks and chunk.length > self.mss - (4 + 8 * len(blocks)):
                blocks = []  # a full segment has no room for them
            options = self._options(now, blocks)
            if chunk.fin:
                flags |= _FIN
            if payload and chunk.seq + chunk.length >= snd.data_end:
                flags |= _PSH
        ack = rcv.wire(rcv.nxt) if synced else 0
        if synced:
            rcv.acked()
        return self._out(snd.wire(chunk.seq), ack, flags, window, options, payload)

    def _ack_segment(self, now: float, seq: int | None = None) -> TcpSegmentOut:
        """A pure ACK. Its sequence number is SND.NXT, or the right edge of the peer's
        window if that is lower (a FIN or probe beyond a zero window), so that the peer
        finds it acceptable (as Linux tcp_acceptable_seq)."""
        rcv, snd = self._rcv, self._snd
        if seq is None:
            seq = snd.wire(min(snd.max, snd.una + snd.wnd))
        window = rcv.advertise()
        rcv.acked()
        options = self._options(now, self._sack_blocks())
        return self._out(seq, rcv.wire(rcv.nxt), _ACK, window, options)

    def _send_rst(self, seq: int, *, ack: bool = False, ack_value: int | None = None) -> None:
        """<SEQ=seq><CTL=RST>, or with ``ack`` <ACK=RCV.NXT or ack_value><CTL=RST,ACK>."""
        self.stats.resets_out += 1
        if not ack:
            self._outbox.append(self._out(seq & SEQ_MASK, 0, _RST, 0, None))
            return
        rcv = self._rcv
        ack_field = ack_value if ack_value is not None else rcv.wire(rcv.nxt)
        self._outbox.append(self._out(seq & SEQ_MASK, ack_field, _RST | _ACK, 0, None))
