"""The receive half of a TCP connection: window, in-order buffer, out-of-order queue, ACKs.

:class:`TcpReceiver` owns RCV.NXT and RCV.WND, the receive buffer (bytes in order, not yet
read by the application, at most ``rcvbuf`` of them), the out-of-order queue
(:class:`~.reassembly.TcpReassemblyQueue`, at most ``ooo_limit`` bytes), the peer's FIN,
the SACK blocks we report (RFC 2018), TS.Recent (RFC 7323 §4.3) and the decision when to
acknowledge: every second full-sized segment at once, otherwise after ``delayed_ack``
(RFC 9293 §3.8.6.3, RFC 5681 §4.2), and at once for out-of-order data, for data that
fills a gap and for a FIN.

Sequence numbers are absolute, counted from the peer's ISN (0 is its SYN, 1 its first
data byte), like the sender's.

The advertised window follows RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): the right
edge moves only when it can move by min(rcvbuf / 2, MSS), and never moves left; a scaled
window field is rounded down (RFC 7323 §2.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netstack.stacks.core.tcp.reassembly import TcpReassemblyQueue
from netstack.stacks.core.tcp.seq import SEQ_MASK, seq_diff

if TYPE_CHECKING:
    from netstack.stacks.core.tcp.connection import TcpConfig, TcpStats

__all__ = ["PAWS_IDLE", "TcpReceiver", "window_shift"]

#: RFC 7323 §5.5: TS.Recent older than 24 days is invalid
PAWS_IDLE = 24 * 24 * 3600.0
_TS_HALF = 1 << 31


def window_shift(rcvbuf: int) -> int:
    """The window scale shift that lets ``rcvbuf`` be advertised (RFC 7323 §2.3, <= 14)."""
    shift = 0
    while shift < 14 and (rcvbuf >> shift) > 0xFFFF:
        shift += 1
    return shift


class TcpReceiver:
    """Receive-side state of one connection (see the module docstring)."""

    __slots__ = (
        "ack_now",
        "adv_right",
        "buf",
        "config",
        "delack_at",
        "fin_done",
        "fin_seq",
        "irs",
        "last_ack_sent",
        "nxt",
        "ooo",
        "rcv_mss",
        "shift",
        "stats",
        "ts_recent",
        "ts_recent_at",
        "unacked",
    )

    def __init__(self, config: TcpConfig, stats: TcpStats) -> None:
        self.config = config
        self.stats = stats
        self.irs = 0
        self.nxt = 0  # RCV.NXT
        self.adv_right = 0  # RCV.NXT + RCV.WND as last advertised
        self.shift = 0  # Rcv.Wind.Shift
        self.buf = bytearray()
        self.ooo = TcpReassemblyQueue(config.ooo_limit)
        self.fin_seq: int | None = None  # where the peer's FIN is, once seen
        self.fin_done = False  # the FIN is in sequence: RCV.NXT is past it
        self.rcv_mss = min(536, config.mss)  # the largest segment seen (delayed ACKs)
        self.unacked = 0  # bytes received in order since our last ACK
        self.ack_now = False
        self.delack_at: float | None = None
        self.last_ack_sent = 0  # RFC 7323 Last.ACK.sent
        self.ts_recent: int | None = None
        self.ts_recent_at = 0.0

    # -- sequence numbers ----------------------------------------------------------------

    def synchronize(self, irs: int) -> None:
        """The peer's SYN arrived: RCV.NXT = IRS + 1."""
        self.irs = irs & SEQ_MASK
        self.nxt = 1
        # what our SYN or SYN-ACK advertises (or will): never scaled (RFC 7323 §2.2)
        self.adv_right = 1 + min(max(self.config.rcvbuf - len(self.buf), 0), 0xFFFF)

    def wire(self, seq: int) -> int:
        return (self.irs + seq) & SEQ_MASK

    def unwrap(self, seq: int) -> int:
        return self.nxt + seq_diff(seq, (self.irs + self.nxt) & SEQ_MASK)

    @property
    def window(self) -> int:
        """RCV.WND: what we last advertised, as it stands now."""
        return max(self.adv_right - self.nxt, 0)

    @property
    def readable(self) -> int:
        return len(self.buf)

    # -- timestamps (RFC 7323) ---------------------------------------------------------

    def paws_reject(self, tsval: int, now: float) -> bool:
        """RFC 7323 §5.3 R1: an older TSval than TS.Recent marks an old duplicate, unless
        TS.Recent went stale after 24 idle days (§5.5)."""
        recent = self.ts_recent
        if recent is None or (tsval - recent) & SEQ_MASK < _TS_HALF:
            return False
        if now - self.ts_recent_at > PAWS_IDLE:
            self.ts_recent = None
            return False
        return True

    def update_ts_recent(self, tsval: int, seq: int, now: float) -> None:
        """RFC 7323 §4.3 (3): TS.Recent = SEG.TSval if SEG.TSval >= TS.Recent and
        SEG.SEQ <= Last.ACK.sent."""
        recent = self.ts_recent
        if seq <= self.last_ack_sent and (recent is None or (tsval - recent) & SEQ_MASK < _TS_HALF):
            self.ts_recent = tsval
            self.ts_recent_at = now

    # -- segment text (RFC 9293 §3.10.7.4 steps one, seven and eight) ---------------------

    def acceptable(self, seq: int, seg_len: int) -> bool:
        """The RFC 9293 §3.10.7.4 acceptability table."""
        nxt = self.nxt
        wnd = self.window
        if seg_len == 0:
            return seq == nxt if wnd == 0 else nxt <= seq < nxt + wnd
        if wnd == 0:
            return False
        right = nxt + wnd
        return nxt <= seq < right or nxt <= seq + seg_len - 1 < right

    def accept(self, seq: int, data: bytes | memoryview, fin: bool, now: float) -> tuple[int, bool]:
        """Take the text and FIN of an acceptable segment whose data starts at ``seq``.

        Trims what lies outside the window, delivers in-order bytes to the buffer, queues
        the rest and schedules the ACK. Returns (bytes now readable that were not, whether
        the FIN just came into sequence).
        """
        nxt = self.nxt
        end = seq + len(data)
        if seq < nxt:  # RFC 9293 §3.10.7.4: trim what was received already
            data = data[nxt - seq :] if end > nxt else data[:0]
            seq = nxt
        right = max(self.adv_right, nxt)
        if self.fin_seq is not None:
            right = min(right, self.fin_seq)
        if end > right:  # ...and what lies beyond the window; the FIN goes with it
            data = data[: max(right - seq, 0)]
            end = seq + len(data)
            fin = fin and not data and seq == nxt and self.fin_seq is None
        if fin and self.fin_seq is None:
            self.fin_seq = end
        delivered = 0
        if data:
            filling = len(self.ooo) > 0
            if seq == nxt and not filling:
                self.buf += data
                delivered = len(data)
            else:
                ready = self.ooo.add(self.wire(nxt), self.wire(seq), data)
                if ready:
                    self.buf += ready
                    delivered = len(ready)
                else:
                    self.stats.ooo_segments += 1
                self.ack_now = True  # RFC 5681 §4.2: out of order, or filling a gap
            self.nxt = nxt + delivered
            if len(data) > self.rcv_mss:
                self.rcv_mss = min(len(data), self.config.mss)
        fin_now = False
        if self.fin_seq is not None and not self.fin_done and self.nxt == self.fin_seq:
            self.nxt += 1
            self.fin_done = fin_now = True
            self.ack_now = True
        if delivered:
            self.stats.bytes_in += delivered
            self.unacked += delivered
            # RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK every second full-sized segment
            if self.unacked >= 2 * self.rcv_mss:
                self.ack_now = True
            elif self.delack_at is None:
                self.delack_at = now + self.config.delayed_ack
        return delivered, fin_now

    def read(self, max_bytes: int) -> bytes:
        """Take up to ``max_bytes`` from the buffer; ask for a window update when the
        window can grow by min(2 * MSS, rcvbuf / 2)."""
        n = min(max_bytes, len(self.buf))
        if n <= 0:
            return b""
        with memoryview(self.buf) as view:
            data = view[:n].tobytes()
        del self.buf[:n]
        free = self.config.rcvbuf - len(self.buf)
        # No update once the peer's FIN is in: it sends nothing more, and an ACK after its
        # connection is gone draws a RST (Linux sends none either).
        if self.fin_seq is None and free - self.window >= min(
            2 * self.config.mss, self.config.rcvbuf // 2
        ):
            self.ack_now = True
            self.stats.window_updates += 1
        return data

    # -- what goes into our segments -----------------------------------------------------

    def advertise(self, *, syn: bool = False) -> int:
        """The window field for a segment sent now; remembers the right edge."""
        free = max(self.config.rcvbuf - len(self.buf), 0)
        if syn:  # RFC 7323 §2.2: the window of a SYN is never scaled
            wnd = min(free, 0xFFFF)
            self.adv_right = self.nxt + wnd
            return wnd
        cur = self.window
        # RFC 9293 §3.8.6.2.2: move the right edge only by a worthwhile amount
        wnd = free if free - cur >= min(self.config.rcvbuf // 2, self.config.mss) else cur
        shift = self.shift
        field = min(wnd >> shift, 0xFFFF)
        if field == 0xFFFF:
            wnd = min(wnd, 0xFFFF << shift)
        # The right edge we commit to is exact and never moves left; the field rounds
        # down, which may show the peer a window up to 2**shift - 1 smaller than before
        # (RFC 7323 §2.4), but never one beyond the buffer.
        self.adv_right = max(self.adv_right, self.nxt + wnd)
        return field

    def acked(self) -> None:
        """A segment carrying our ACK of RCV.NXT is being sent."""
        self.last_ack_sent = self.nxt
        self.unacked = 0
        self.ack_now = False
        self.delack_at = None

    def sack_blocks(self, max_blocks: int) -> list[tuple[int, int]]:
        if not len(self.ooo):
            return []
        return self.ooo.sack_blocks(self.wire(self.nxt), max_blocks)
