"""The TCP receiver's out-of-order queue and its SACK blocks (RFC 9293 §3.10.7.4, RFC 2018).

Segments above ``RCV.NXT`` wait here until the gap before them fills. The queue holds
*runs*: maximal contiguous ranges of received bytes, each a list of the byte strings that
arrived, in order. Where a new segment overlaps data already held, the data already held
wins and only the new bytes are kept (RFC 9293 lets either copy be used; keeping the first
never rewrites bytes a SACK has already reported). An in-order segment is delivered whole;
queued bytes it covers are discarded. Runs are the SACK blocks.

Limits: ``limit_bytes`` of queued data and ``limit_segments`` stored pieces; a segment
that would exceed either is dropped whole and counted — the sender retransmits it. The
caller checks the receive window first; this queue trusts the sequence numbers it is given
to lie within 2**31 of ``rcv_nxt``, and ``rcv_nxt`` only advances by the bytes it returns
(plus SYN/FIN, which carry no queued data).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field

from netstack.errors import ParameterError
from netstack.stacks.core.tcp.seq import SEQ_MASK, seq_add, seq_diff

#: out-of-order arrivals remembered for RFC 2018 §4's "most recently reported" order
HISTORY = 16


@dataclass(slots=True)
class TcpReassemblyStats:
    queued: int = 0  # out-of-order segments (or parts) stored
    duplicates: int = 0  # segments carrying no byte not already received
    overlaps: int = 0  # segments partly overlapping data held; the overlap was trimmed
    dropped: int = 0  # segments refused at the size limits
    dropped_bytes: int = 0


@dataclass(slots=True)
class _Run:
    start: int  # sequence number of the first byte
    end: int  # one past the last byte
    chunks: list[bytes] = field(default_factory=list)


class TcpReassemblyQueue:
    """Out-of-order data of one connection's receive side."""

    __slots__ = (
        "_chunks",
        "_recent",
        "_runs",
        "limit_bytes",
        "limit_segments",
        "queued_bytes",
        "stats",
    )

    def __init__(self, limit_bytes: int = 1 << 20, *, limit_segments: int = 4096) -> None:
        if limit_bytes < 0 or limit_segments < 0:
            raise ParameterError("reassembly limits must not be negative")
        self.limit_bytes = limit_bytes
        self.limit_segments = limit_segments
        self.stats = TcpReassemblyStats()
        self.queued_bytes = 0
        self._chunks = 0
        self._runs: list[_Run] = []  # sorted by distance above rcv_nxt, never adjacent
        # start sequence numbers of recent out-of-order arrivals, most recent first
        self._recent: deque[int] = deque(maxlen=HISTORY)

    def __len__(self) -> int:
        """The number of runs (contiguous blocks) queued."""
        return len(self._runs)

    def clear(self) -> None:
        self._runs.clear()
        self._recent.clear()
        self.queued_bytes = 0
        self._chunks = 0

    # -- input -----------------------------------------------------------------------

    def add(self, rcv_nxt: int, seq: int, data: bytes | bytearray | memoryview) -> bytes:
        """Take one segment's payload; return the bytes now deliverable in order.

        Bytes below ``rcv_nxt`` are trimmed off. A segment starting at ``rcv_nxt`` is
        returned together with every queued run it now reaches; anything else is queued
        (without the bytes already held) and ``b""`` is returned.
        """
        rcv_nxt &= SEQ_MASK
        self._prune(rcv_nxt)
        off = seq_diff(seq, rcv_nxt)
        size = len(data)
        if off < 0:
            if off + size <= 0:
                if size:
                    self.stats.duplicates += 1
                return b""
            data = data[-off:]
            size += off
            off = 0
        if size == 0:
            return b""
        if off == 0:
            return self._deliver(rcv_nxt, bytes(data))
        self._queue(rcv_nxt, off, data)
        return b""

    def _offset(self, seq: int, rcv_nxt: int) -> int:
        return (seq - rcv_nxt) & SEQ_MASK

    def _prune(self, rcv_nxt: int) -> None:
        """Forget queued bytes at or below ``rcv_nxt`` (only if the caller moved it on)."""
        runs = self._runs
        while runs and seq_diff(runs[0].start, rcv_nxt) < 0:
            run = runs[0]
            if seq_diff(run.end, rcv_nxt) <= 0:
                self._forget(run)
                del runs[0]
            else:
                self._skip(run, seq_diff(rcv_nxt, run.start))

    def _forget(self, run: _Run) -> None:
        self.queued_bytes -= seq_diff(run.end, run.start)
        self._chunks -= len(run.chunks)

    def _skip(self, run: _Run, nbytes: int) -> None:
        """Drop the first ``nbytes`` of ``run``."""
        chunks = run.chunks
        self.queued_bytes -= nbytes
        run.start = seq_add(run.start, nbytes)
        while nbytes:
            first = chunks[0]
            if len(first) <= nbytes:
                nbytes -= len(first)
                del chunks[0]
                self._chunks -= 1
            else:
                chunks[0] = first[nbytes:]
                nbytes = 0

    def _deliver(self, rcv_nxt: int, data: bytes) -> bytes:
        out = [data]
        reach = len(data)  # offset above rcv_nxt delivered so far
        runs = self._runs
        while runs:
            run = runs[0]
            start = self._offset(run.start, rcv_nxt)
            if start > reach:
                break
            del runs[0]
            end = self._offset(run.end, rcv_nxt)
            if end <= reach:
                self._forget(run)  # wholly covered by the new in-order data
                continue
            if start < reach:
                self._skip(run, reach - start)
            out.extend(run.chunks)
            self._forget(run)
            reach = end
        return out[0] if len(out) == 1 else b"".join(out)

    def _queue(self, rcv_nxt: int, off: int, data: bytes | bytearray | memoryview) -> None:
        stats = self.stats
        runs = self._runs
        end = off + len(data)
        # the runs that overlap or touch [off, end) form one slice runs[i:j]
        i = bisect_left(runs, off, key=lambda r: self._offset(r.end, rcv_nxt))
        j = i
        while j < len(runs) and self._offset(runs[j].start, rcv_nxt) <= end:
            j += 1
        # the pieces of data not held yet, as offsets into data
        pieces: list[tuple[int, int]] = []
        pos = off
        for run in runs[i:j]:
            run_start = self._offset(run.start, rcv_nxt)
            if run_start > pos:
                pieces.append((pos - off, run_start - off))
            pos = max(pos, self._offset(run.end, rcv_nxt))
        if pos < end:
            pieces.append((pos - off, end - off))
        new_bytes = sum(b - a for a, b in pieces)
        seq = seq_add(rcv_nxt, off)
        if new_bytes == 0:
            stats.duplicates += 1
            held = self._find(rcv_nxt, seq)
            if held is not None:
                self._remember(seq, held)
            return
        if (
            self.queued_bytes + new_bytes > self.limit_bytes
            or self._chunks + len(pieces) > self.limit_segments
        ):
            stats.dropped += 1
            stats.dropped_bytes += len(data)
            return
        if new_bytes < len(data):
            stats.overlaps += 1
        stats.queued += 1
        self.queued_bytes += new_bytes
        self._chunks += len(pieces)
        new_chunks = [bytes(data[a:b]) for a, b in pieces]
        if i == j:
            merged = _Run(seq, seq_add(seq, len(data)), new_chunks)
            runs.insert(i, merged)
        elif (
            j == i + 1
            and len(pieces) == 1
            and off + pieces[0][0] == self._offset(runs[i].end, rcv_nxt)
        ):
            # the common case: the segment extends one run at its right end
            merged = runs[i]
            merged.chunks.append(new_chunks[0])
            merged.end = seq_add(seq, len(data))
        else:
            merged = self._merge(rcv_nxt, off, end, runs[i:j], pieces, new_chunks)
            runs[i:j] = [merged]
        self._remember(seq, merged)

    def _merge(
        self,
        rcv_nxt: int,
        off: int,
        end: int,
        old: list[_Run],
        pieces: list[tuple[int, int]],
        new_chunks: list[bytes],
    ) -> _Run:
        """One run from the ``old`` runs and the new ``pieces`` between and around them."""
        chunks: list[bytes] = []
        p = 0
        for run in old:
            run_start = self._offset(run.start, rcv_nxt)
            while p < len(pieces) and off + pieces[p][0] < run_start:
                chunks.append(new_chunks[p])
                p += 1
            chunks.extend(run.chunks)
        chunks.extend(new_chunks[p:])
        first = min(off, self._offset(old[0].start, rcv_nxt))
        last = max(end, self._offset(old[-1].end, rcv_nxt))
        return _Run(seq_add(rcv_nxt, first), seq_add(rcv_nxt, last), chunks)

    def _remember(self, seq: int, run: _Run) -> None:
        """Record an out-of-order arrival for SACK ordering; one entry per run."""
        recent = self._recent
        start, end = run.start, run.end
        stale = [s for s in recent if seq_diff(s, start) >= 0 and seq_diff(s, end) < 0]
        for s in stale:
            recent.remove(s)
        recent.appendleft(seq)

    # -- SACK ------------------------------------------------------------------------

    def sack_blocks(self, rcv_nxt: int, max_blocks: int = 3) -> list[tuple[int, int]]:
        """Up to ``max_blocks`` SACK blocks ``(left, right)`` in RFC 2018 §4 order.

        First the block holding the most recently received segment (when that segment
        was queued, not delivered), then the blocks of the earlier arrivals, most recent
        first, each block once; if room is left, the remaining blocks in sequence order.
        Only blocks above ``rcv_nxt`` are reported.
        """
        rcv_nxt &= SEQ_MASK
        self._prune(rcv_nxt)
        out: list[tuple[int, int]] = []
        if max_blocks <= 0 or not self._runs:
            return out
        seen: set[int] = set()
        for seq in self._recent:
            run = self._find(rcv_nxt, seq)
            if run is None or run.start in seen:
                continue
            seen.add(run.start)
            out.append((run.start, run.end))
            if len(out) == max_blocks:
                return out
        for run in self._runs:
            if run.start not in seen and run.start != rcv_nxt:
                out.append((run.start, run.end))
                if len(out) == max_blocks:
                    break
        return out

    def _find(self, rcv_nxt: int, seq: int) -> _Run | None:
        off = self._offset(seq, rcv_nxt)
        runs = self._runs
        i = bisect_left(runs, off + 1, key=lambda r: self._offset(r.end, rcv_nxt))
        if i < len(runs):
            run = runs[i]
            if self._offset(run.start, rcv_nxt) <= off and run.start != rcv_nxt:
                return run
        return None

    @property
    def blocks(self) -> list[tuple[int, int]]:
        """All queued runs ``(start, end)`` in sequence order."""
        return [(run.start, run.end) for run in self._runs]
