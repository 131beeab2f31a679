"""The send half of a TCP connection: buffer, segmentation, ACK processing, loss recovery.

:class:`TcpSender` owns everything about the bytes we send: the send buffer (which is also
the retransmission queue: bytes stay in it from ``send()`` until they are acknowledged),
SND.UNA/SND.NXT/SND.WND, the retransmission timer (RFC 6298), the persist timer (RFC 9293
§3.8.6.1), RTT measurement, congestion control (via :mod:`.congestion`) and loss recovery:
NewReno fast recovery (RFC 5681 §3.2, RFC 6582) without SACK, and RFC 6675 SACK-based
recovery (with :class:`~.sack.SackScoreboard`) when SACK was negotiated.

Sequence numbers here are *absolute*: plain ints counted from our ISS (0 is the SYN, 1
the first data byte), so they never wrap; :meth:`TcpSender.wire` converts for the wire and
:meth:`TcpSender.unwrap` back. Segments are cut from the buffer when they are sent, so
segment boundaries are not remembered: a retransmission is whatever the buffer holds at
that sequence number, up to the MSS.

Two "next" pointers, as in BSD: ``nxt`` is the next sequence number to send and ``max``
one past the highest ever sent (RFC 9293's SND.NXT for the ACK acceptability tests). They
differ only after a retransmission timeout, when ``nxt`` goes back to ``una`` and the
window is re-sent in order (go-back-N; RFC 6298 §5.4 asks only for the first segment, the
rest follows as the restarted window grows).

Choices the RFCs leave open:

- On a timeout the SACK scoreboard is cleared (RFC 2018 §8: the receiver may have
  reneged; RFC 6675 §5.1), but SACK blocks learnt afterwards are used to skip data the
  receiver holds while the window is re-sent.
- NewReno resets the retransmission timer only on the first partial ACK of a recovery
  (RFC 6582 §4, the "Impatient" variant), so a recovery with many losses falls back to a
  timeout instead of taking one RTT per loss.
- Zero-window probes carry one byte of new data beyond the window (RFC 9293 §3.8.6.1);
  a receiver that has opened its window keeps it and ACKs past it.
- The FIN is sent even into a zero window: it needs no buffer space at the receiver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from netstack.stacks.core.tcp.congestion import CongestionControl, make_congestion_control
from netstack.stacks.core.tcp.rto import RttEstimator
from netstack.stacks.core.tcp.sack import SackScoreboard
from netstack.stacks.core.tcp.seq import SEQ_MASK, seq_diff

if TYPE_CHECKING:
    from netstack.stacks.core.tcp.connection import TcpConfig, TcpStats

__all__ = ["DUPTHRESH", "Chunk", "TcpSender"]

#: RFC 5681 §3.2: the third duplicate ACK starts fast retransmit
DUPTHRESH = 3


class Chunk(NamedTuple):
    """One segment to send: ``length`` bytes of the buffer from absolute ``seq``."""

    seq: int
    length: int
    syn: bool = False
    fin: bool = False
    retransmit: bool = False


class TcpSender:
    """Send-side state and algorithms of one connection (see the module docstring)."""

    __slots__ = (
        "buf",
        "buf_start",
        "cc",
        "config",
        "dupacks",
        "fin_queued",
        "high_rxt",
        "iss",
        "max",
        "max_segment",
        "max_wnd",
        "mss",
        "nxt",
        "partial_seen",
        "persist_at",
        "persist_probes",
        "persist_shift",
        "persisting",
        "recover",
        "recovering",
        "rescue_done",
        "retries",
        "rtt",
        "rtx_at",
        "rtx_pending",
        "sack",
        "shift",
        "stats",
        "syn_retransmitted",
        "timed_at",
        "timed_end",
        "una",
        "wl1",
        "wl2",
        "wnd",
    )

    def __init__(self, iss: int, config: TcpConfig, stats: TcpStats) -> None:
        self.iss = iss & SEQ_MASK
        self.config = config
        self.stats = stats
        self.una = 0  # SND.UNA
        self.nxt = 0  # next sequence number to send
        self.max = 0  # one past the highest sequence number sent (RFC 9293 SND.NXT)
        self.wnd = 0  # SND.WND in bytes (already scaled)
        self.wl1 = 0  # SND.WL1 (absolute receive sequence number)
        self.wl2 = 0  # SND.WL2
        self.max_wnd = 0  # largest window the peer offered (RFC 5961 §5.2 MAX.SND.WND)
        self.shift = 0  # Snd.Wind.Shift (RFC 7323 §2.2)
        self.mss = config.mss  # effective send MSS, set by the handshake
        self.max_segment: int | None = None  # segments larger than the MSS (TSO)
        self.buf = bytearray()  # unacknowledged and unsent data
        self.buf_start = 1  # absolute sequence number of buf[0]
        self.fin_queued = False
        self.cc: CongestionControl = make_congestion_control(config.congestion, self.mss)
        self.rtt = RttEstimator(config.rto)
        self.timed_end: int | None = None  # RTT timing without timestamps (Karn)
        self.timed_at = 0.0
        self.syn_retransmitted = False
        self.dupacks = 0
        self.recovering = False
        self.recover = 0  # RFC 6582 "recover", RFC 6675 RecoveryPoint
        self.partial_seen = False
        self.sack: SackScoreboard | None = None
        self.high_rxt = 0  # one past the highest octet retransmitted in this recovery
        self.rescue_done = False
        self.rtx_pending = False  # retransmit the segment at una on the next output
        self.rtx_at: float | None = None
        self.retries = 0  # consecutive timeouts of the same data
        self.persist_at: float | None = None
        self.persist_shift = 0
        self.persist_probes = 0  # probes since the last ACK
        self.persisting = False

    # -- sequence numbers and the buffer ---------------------------------------------

    def wire(self, seq: int) -> int:
        return (self.iss + seq) & SEQ_MASK

    def unwrap(self, seq: int) -> int:
        """The absolute sequence number nearest ``una`` for a 32-bit one from the wire."""
        return self.una + seq_diff(seq, (self.iss + self.una) & SEQ_MASK)

    @property
    def data_end(self) -> int:
        """One past the last byte queued by the application."""
        return self.buf_start + len(self.buf)

    @property
    def free(self) -> int:
        return max(self.config.sndbuf - len(self.buf), 0)

    @property
    def flight(self) -> int:
        return self.max - self.una

    @property
    def fin_acked(self) -> bool:
        return self.fin_queued and self.una > self.data_end

    @property
    def has_unsent(self) -> bool:
        end = self.data_end
        return self.nxt < end or (self.fin_queued and self.max <= end)

    def queue(self, data: bytes | bytearray | memoryview) -> int:
        n = min(len(data), self.free)
        if n:
            self.buf += data[:n]
        return n

    def payload(self, seq: int, length: int) -> bytes:
        off = seq - self.buf_start
        with memoryview(self.buf) as view:
            return view[off : off + length].tobytes()

    def negotiated(self, mss: int, *, sack: bool) -> None:
        """The handshake settled the MSS and SACK: (re)build what depends on them."""
        self.mss = mss
        self.cc = make_congestion_control(self.config.congestion, mss)
        self.sack = SackScoreboard(mss) if sack else None
        if self.syn_retransmitted:
            # RFC 5681 §3.1: the initial window is one segment after a lost SYN, and
            # RFC 6298 §5.7: RTO 3 s once data flows, if no RTT sample was taken
            self.cc.cwnd = mss
            if self.rtt.srtt is None:
                self.rtt.rto = max(self.rtt.rto, 3.0)
        self.rtt.reset_backoff()
        self.retries = 0

    # -- ACK processing (RFC 9293 §3.10.7.4 fifth step) --------------------------------

    def on_ack(
        self,
        ack: int,
        wnd_field: int,
        seg_seq: int,
        pure: bool,
        blocks: tuple[tuple[int, int], ...],
        ts_rtt: float | None,
        now: float,
    ) -> int:
        """Process an acceptable ACK (``una - max_wnd <= ack <= max``, absolute).

        ``seg_seq`` is the segment's absolute receive sequence number (for SND.WL1),
        ``pure`` whether it carried no data, SYN or FIN. Returns the sequence space newly
        acknowledged (0 for a duplicate or old ACK).
        """
        self.persist_probes = 0
        wnd = wnd_field << self.shift
        acked = ack - self.una
        newly_sacked = 0
        sack = self.sack
        if sack is not None and blocks and acked >= 0:
            newly_sacked = sack.update(self.wire(ack), blocks, self.wire(self.max))
        if acked > 0:
            self._new_ack(ack, ts_rtt, now)
        elif acked == 0 and self.max > self.una and self._duplicate(newly_sacked, pure, wnd):
            self._dupack(now)
        # RFC 9293 §3.10.7.4: update the window only from segments newer than the last
        if acked >= 0 and (self.wl1 < seg_seq or (self.wl1 == seg_seq and self.wl2 <= ack)):
            self.wnd = wnd
            self.wl1 = seg_seq
            self.wl2 = ack
            if wnd > self.max_wnd:
                self.max_wnd = wnd
        return max(acked, 0)

    def _duplicate(self, newly_sacked: int, pure: bool, wnd: int) -> bool:
        """A duplicate ACK: new SACK information (RFC 6675 §2), or without SACK no data,
        no SYN/FIN and the same window (RFC 5681 §2)."""
        if self.sack is not None:
            return newly_sacked > 0
        return pure and wnd == self.wnd

    def _new_ack(self, ack: int, ts_rtt: float | None, now: float) -> None:
        cc = self.cc
        was_cwnd_limited = self.flight + self.mss >= cc.cwnd
        self.una = ack
        if self.nxt < ack:
            self.nxt = ack
        acked_data = min(ack, self.data_end) - self.buf_start
        if acked_data > 0:
            del self.buf[:acked_data]  # O(1): CPython moves the start of a bytearray
            self.buf_start += acked_data
            self.stats.bytes_acked += acked_data
        self.retries = 0
        # RTT: the timestamp echo (RFC 7323 §4.1) or the timed segment (RFC 6298 §3, Karn)
        rtt = ts_rtt
        timed = self.timed_end
        if timed is not None and ack >= timed:
            if rtt is None:
                rtt = now - self.timed_at
            self.timed_end = None
        if rtt is not None:
            self.rtt.sample(rtt)
        restart = True
        if self.recovering:
            if ack >= self.recover:
                # RFC 6582 §3.2 step 6 / RFC 6675 §5: a full ACK ends the recovery
                self.recovering = False
                self.dupacks = 0
                cc.on_recovery_exit(self.flight, now)
            elif self.sack is None:
                # RFC 6582 §3.2 step 5: a partial ACK, retransmit the next hole
                self.stats.partial_acks += 1
                cc.partial_ack(acked_data)
                self.rtx_pending = True
                restart = not self.partial_seen  # RFC 6582 §4, Impatient
                self.partial_seen = True
        else:
            self.dupacks = 0
            if was_cwnd_limited:  # RFC 7661: grow cwnd only when it was used
                cc.on_ack(acked_data, now, rtt)
        # RFC 6298 §5.2-5.3
        if self.una >= self.max:
            self.rtx_at = None
        elif restart or self.rtx_at is None:
            self.rtx_at = now + self.rtt.current

    def _dupack(self, now: float) -> None:
        self.dupacks += 1
        self.stats.dupacks += 1
        sack = self.sack
        if self.recovering:
            if sack is None:
                self.cc.inflate(self.mss)  # RFC 5681 §3.2 step 4
            return
        if self.una <= self.recover:
            return  # RFC 6582 §3.2 step 2 / RFC 6675 §5.1: not after a timeout's data
        lost = self.dupacks >= DUPTHRESH
        if sack is not None and not lost:
            lost = sack.is_lost(self.wire(self.una))  # RFC 6675 §5 (IsLost(HighACK+1))
        if not lost:
            return
        # RFC 5681 §3.2 steps 2-3, RFC 6582 §3.2 step 3, RFC 6675 §5 step 4
        self.stats.fast_retransmits += 1
        self.recovering = True
        self.partial_seen = False
        self.recover = self.max
        self.cc.on_congestion(self.flight, now)
        if sack is None:
            self.cc.inflate(DUPTHRESH * self.mss)
        else:
            self.stats.sack_recoveries += 1
            self.high_rxt = self.una
            self.rescue_done = False
        self.rtx_pending = True

    # -- timers ------------------------------------------------------------------------

    def on_rto(self, now: float) -> None:
        """The retransmission timer expired (RFC 6298 §5.4-5.6, RFC 5681 §3.1)."""
        self.rtx_at = None
        self.stats.timeouts += 1
        self.retries += 1
        self.rtt.backoff()
        if self.una == 0:
            self.syn_retransmitted = True
        else:
            self.cc.on_timeout(self.flight, now)
        self.nxt = self.una
        self.timed_end = None
        self.recovering = False
        self.dupacks = 0
        # RFC 6298 §5.4: the earliest unacknowledged segment goes out whatever the windows
        self.rtx_pending = self.una > 0
        self.recover = self.max  # RFC 6582 §4.1, RFC 6675 §5.1
        if self.sack is not None:
            self.sack.clear()
        self.high_rxt = self.una

    def _persist_interval(self) -> float:
        cfg = self.rtt.config
        base = max(self.rtt.rto, cfg.minimum)
        return min(base * (1 << min(self.persist_shift, 30)), cfg.maximum)

    def on_persist(self, now: float, seg_mss: int, out: list[Chunk]) -> None:
        """The persist timer expired: probe the window (RFC 9293 §3.8.6.1)."""
        self.persist_at = None
        if not self.persisting or self.nxt >= self.data_end:
            self.persisting = False
            return
        room = self.una + self.wnd - self.nxt
        if room > 0:
            # a window too small for the SWS rules: send what fits (RFC 9293 §3.8.6.2.1)
            n = min(room, self.data_end - self.nxt, seg_mss)
            self._emit(now, self.nxt, n, False, out)
            self._leave_persist()
            return
        self.stats.zero_window_probes += 1
        self.persist_probes += 1
        out.append(Chunk(self.nxt, 1, retransmit=self.nxt < self.max))
        if self.nxt + 1 > self.max:
            self.max = self.nxt + 1
        self.persist_shift += 1
        self.persist_at = now + self._persist_interval()

    def _leave_persist(self) -> None:
        self.persisting = False
        self.persist_at = None
        self.persist_shift = 0

    # -- output ------------------------------------------------------------------------

    def output(
        self, now: float, *, allow_data: bool, nodelay: bool, seg_mss: int, out: list[Chunk]
    ) -> None:
        """Append the segments to send now to ``out``.

        ``allow_data``: the state lets data and FIN go (ESTABLISHED and later, our SYN
        acknowledged). ``seg_mss``: payload bytes per segment after this flush's options.
        """
        if self.nxt == 0:
            self._emit(now, 0, 0, False, out, syn=True)
            self.nxt = 1
            return
        if not allow_data:
            return
        sent = len(out)
        if self.rtx_pending:
            self.rtx_pending = False
            self._retransmit_head(now, seg_mss, out)
        if self.recovering and self.sack is not None:
            self._sack_output(now, out)
        else:
            self._send_window(now, nodelay, seg_mss, out)
        self._check_persist(now, len(out) > sent)

    def _emit(
        self, now: float, seq: int, n: int, fin: bool, out: list[Chunk], *, syn: bool = False
    ) -> None:
        retransmit = seq < self.max
        out.append(Chunk(seq, n, syn, fin, retransmit))
        end = seq + n + syn + fin
        if retransmit:
            self.stats.retransmissions += 1
            self.stats.retransmitted_bytes += n
            if self.timed_end is not None and seq < self.timed_end:
                self.timed_end = None  # Karn: the ACK would be ambiguous
        elif self.timed_end is None:
            self.timed_end = end
            self.timed_at = now
        if end > self.max:
            self.max = end
        if self.rtx_at is None:  # RFC 6298 §5.1
            self.rtx_at = now + self.rtt.current

    def _retransmit_head(self, now: float, seg_mss: int, out: list[Chunk]) -> None:
        """Timeout, fast retransmit, partial ACK: the segment at SND.UNA (up to the first
        SACKed byte), regardless of cwnd and window (RFC 6298 §5.4, RFC 5681 §3.2 step 2,
        RFC 6675 §5 step 4.3)."""
        una = self.una
        end = min(una + seg_mss, self.data_end)
        if self.sack is not None:
            for start, _stop in self.sack.blocks:
                edge = self.unwrap(start)
                if edge > una:
                    end = min(end, edge)
                    break
        n = end - una
        fin = self.fin_queued and end == self.data_end and self.max > end
        if n <= 0 and not fin:
            return
        if self.recovering:
            self.stats.fast_retransmit_segments += 1
        self._emit(now, una, n, fin, out)
        if self.high_rxt < una + n:
            self.high_rxt = una + n
        if self.nxt < una + n + fin:
            self.nxt = una + n + fin

    def _sack_output(self, now: float, out: list[Chunk]) -> None:
        """RFC 6675 §5 step (C): send while cwnd - pipe >= 1 SMSS."""
        sack = self.sack
        assert sack is not None
        wire, mss, cc = self.wire, self.mss, self.cc
        high_data = min(self.data_end, self.una + self.wnd)
        while True:
            una_w, max_w = wire(self.una), wire(self.max)
            if cc.cwnd - sack.pipe(una_w, max_w, wire(self.high_rxt)) < mss:
                return
            seg = sack.next_seg(una_w, max_w, wire(self.high_rxt), wire(max(high_data, self.max)))
            rescue = False
            if seg is None and not self.rescue_done:
                seg = sack.rescue_seg(una_w, max_w)  # NextSeg rule (4)
                rescue = True
            if seg is None:
                if self.fin_queued and self.max == self.data_end:
                    self._emit(now, self.max, 0, True, out)
                    self.nxt = self.max
                return
            seq = self.unwrap(seg[0])
            n = seg[1]
            if seq >= self.max:  # rule (2): new data
                fin = self.fin_queued and seq + n == self.data_end
                self._emit(now, seq, n, fin, out)
                self.nxt = self.max
                continue
            self._emit(now, seq, n, False, out)
            if rescue:
                self.rescue_done = True
            elif seq + n > self.high_rxt:
                self.high_rxt = seq + n

    def _skip_sacked(self, seq: int) -> int:
        """After a timeout: the first byte at or above ``seq`` the receiver lacks."""
        sack = self.sack
        if sack is None:
            return seq
        for start, stop in sack.blocks:
            lo, hi = self.unwrap(start), self.unwrap(stop)
            if lo > seq:
                break
            if hi > seq:
                return min(hi, self.max)
        return seq

    def _send_window(self, now: float, nodelay: bool, seg_mss: int, out: list[Chunk]) -> None:
        """Send what the windows allow, with SWS avoidance (RFC 9293 §3.8.6.2.1) and
        Nagle's algorithm (RFC 9293 §3.7.4)."""
        cc = self.cc
        data_end = self.data_end
        limit = seg_mss
        if self.max_segment is not None and self.max_segment > seg_mss:
            limit = self.max_segment - self.max_segment % seg_mss
        while True:
            nxt = self.nxt
            if nxt < self.max:
                nxt = self.nxt = self._skip_sacked(nxt)
            avail = data_end - nxt
            if avail <= 0:
                if self.fin_queued and nxt == data_end:
                    self._emit(now, nxt, 0, True, out)
                    self.nxt = nxt + 1
                return
            if nxt >= self.max and self.una == self.max:
                cc.on_idle_restart(now, self.rtt.current)  # RFC 5681 §4.1
            flight = nxt - self.una
            wnd_room = self.una + self.wnd - nxt
            cwnd_room = cc.cwnd - flight
            n = min(avail, limit, wnd_room, cwnd_room)
            if n <= 0:
                return
            if n < avail:
                if n < seg_mss:
                    # sub-MSS with more queued: only to fill at least half the largest
                    # window the receiver offered (RFC 9293 §3.8.6.2.1, Fs = 1/2)
                    if not (n == wnd_room and 2 * n >= self.max_wnd):
                        return
                elif n > seg_mss:
                    n -= n % seg_mss
            elif n < seg_mss and flight > 0 and not (nodelay or self.fin_queued or nxt < self.max):
                return  # Nagle: a small new segment waits for the outstanding ACK
            fin = self.fin_queued and nxt + n == data_end
            self._emit(now, nxt, n, fin, out)
            self.nxt = nxt + n + fin

    def _check_persist(self, now: float, sent: bool) -> None:
        """Arm the persist timer when data waits, nothing is in flight and nothing could
        be sent: only a probe can reveal a reopened window (RFC 9293 §3.8.6.1)."""
        if sent or self.nxt >= self.data_end:
            if self.persisting:
                self._leave_persist()
            return
        if self.persisting or self.una < self.max or self.rtx_at is not None:
            return
        self.persisting = True
        self.persist_shift = 0
        self.persist_at = now + self._persist_interval()
