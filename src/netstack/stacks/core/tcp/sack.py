"""The sender's SACK scoreboard (RFC 2018, RFC 2883) and RFC 6675 loss recovery queries.

The scoreboard remembers which sequence ranges above the cumulative ACK the receiver has
reported in SACK blocks, and answers the RFC 6675 §4 questions: IsLost, SetPipe (the
``pipe`` estimate of bytes in flight) and NextSeg (what to send next). The sender keeps the
recovery state itself (RecoveryPoint, HighRxt, RescueRxt) and passes it in.

Conventions: every range is half-open ``[start, end)``, exactly as SACK blocks appear on
the wire (RFC 2018 §3: the right edge is "the sequence number immediately following the
last sequence number of this block"). ``high_rxt`` is therefore *one past* the highest
retransmitted octet — RFC 6675's HighRxt + 1; pass ``snd_una`` when nothing has been
retransmitted. ``snd_nxt`` is one past the highest octet ever sent (HighData + 1).

Segment boundaries are not known here, so RFC 6675's "DupThresh discontiguous SACKed
sequences" is counted as SACK blocks: IsLost(seq) holds when at least ``dupthresh`` blocks
lie wholly above ``seq``, or more than ``(dupthresh - 1) * mss`` bytes above it are SACKed.
Both are constant across a hole in the scoreboard, so SetPipe's per-octet definition is
computed exactly, one hole at a time, which equals the per-segment walk.

The scoreboard is bounded: at most ``max_blocks`` (default 64) disjoint ranges are kept;
beyond that the range updated least recently is forgotten (counted in ``stats.evicted``).
Forgetting SACK information is always safe — the data only looks unacknowledged again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from netstack.errors import ParameterError
from netstack.stacks.core.tcp.seq import (
    SEQ_MASK,
    seq_add,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_le,
    seq_lt,
)

MAX_BLOCKS = 64


@dataclass(slots=True)
class SackStats:
    updates: int = 0  # update() calls
    blocks: int = 0  # SACK blocks received
    dsack: int = 0  # D-SACK blocks (RFC 2883): duplicates the receiver reported
    stale: int = 0  # non-first blocks at or below snd_una (reordered ACKs)
    invalid: int = 0  # empty, reversed or beyond snd_nxt: ignored
    evicted: int = 0  # ranges forgotten at the max_blocks limit


class SackScoreboard:
    """The SACKed ranges above ``snd_una``, sorted, merged and bounded."""

    __slots__ = ("_ranges", "_sacked", "_stamp", "_una", "dupthresh", "max_blocks", "mss", "stats")

    def __init__(self, mss: int, dupthresh: int = 3, *, max_blocks: int = MAX_BLOCKS) -> None:
        if mss <= 0 or dupthresh < 1 or max_blocks < 1:
            raise ParameterError("mss, dupthresh and max_blocks must be positive")
        self.mss = mss
        self.dupthresh = dupthresh
        self.max_blocks = max_blocks
        self.stats = SackStats()
        # [start, end, stamp] in sequence order; disjoint and never adjacent
        self._ranges: list[list[int]] = []
        self._sacked = 0
        self._stamp = 0
        self._una: int | None = None

    # -- input -----------------------------------------------------------------------

    def update(self, snd_una: int, blocks: Sequence[tuple[int, int]], snd_nxt: int) -> int:
        """Take the cumulative ACK and the SACK blocks of one ACK; return new SACKed bytes.

        Blocks must lie in ``(snd_una, snd_nxt]``: a first block at or below ``snd_una``,
        or one inside the second block, is a D-SACK (RFC 2883 §4) and only counted; a
        block straddling ``snd_una`` is clipped to it; anything else out of range is
        ignored. Everything at or below ``snd_una`` is forgotten.
        """
        stats = self.stats
        stats.updates += 1
        self._advance(snd_una)
        newly = 0
        for i, (raw_start, raw_end) in enumerate(blocks):
            stats.blocks += 1
            start = raw_start & SEQ_MASK
            end = raw_end & SEQ_MASK
            if not seq_lt(start, end):
                stats.invalid += 1
                continue
            if seq_le(end, snd_una):
                if i == 0:
                    stats.dsack += 1  # RFC 2883 §4.1.1: duplicate of acknowledged data
                else:
                    stats.stale += 1
                continue
            if i == 0 and len(blocks) > 1:
                s2, e2 = blocks[1][0] & SEQ_MASK, blocks[1][1] & SEQ_MASK
                if seq_le(s2, start) and seq_le(end, e2):
                    stats.dsack += 1  # RFC 2883 §4.1.2: inside the second block
            if seq_gt(end, snd_nxt):
                stats.invalid += 1
                continue
            if seq_lt(start, snd_una):
                start = snd_una & SEQ_MASK
            newly += self._insert(start, end)
        return newly

    def clear(self) -> None:
        """Forget all SACK information (e.g. on a retransmission timeout, RFC 6675 §5.1)."""
        self._ranges.clear()
        self._sacked = 0

    def _advance(self, snd_una: int) -> None:
        una = snd_una & SEQ_MASK
        if self._una is not None and seq_le(una, self._una):
            return
        self._una = una
        ranges = self._ranges
        drop = 0
        while drop < len(ranges) and seq_le(ranges[drop][1], una):
            self._sacked -= seq_diff(ranges[drop][1], ranges[drop][0])
            drop += 1
        if drop:
            del ranges[:drop]
        if ranges and seq_lt(ranges[0][0], una):
            self._sacked -= seq_diff(una, ranges[0][0])
            ranges[0][0] = una

    def _insert(self, start: int, end: int) -> int:
        """Merge ``[start, end)`` in; return the bytes it added."""
        ranges = self._ranges
        self._stamp += 1
        # first range that ends at or after start (touching counts: merge adjacent)
        i = 0
        while i < len(ranges) and seq_lt(ranges[i][1], start):
            i += 1
        j = i
        covered = 0
        new_start, new_end = start, end
        while j < len(ranges) and seq_le(ranges[j][0], end):
            s, e, _ = ranges[j]
            covered += seq_diff(e, s)
            if seq_lt(s, new_start):
                new_start = s
            if seq_gt(e, new_end):
                new_end = e
            j += 1
        added = seq_diff(new_end, new_start) - covered
        ranges[i:j] = [[new_start, new_end, self._stamp]]
        self._sacked += added
        while len(ranges) > self.max_blocks:
            oldest = min(range(len(ranges)), key=lambda n: ranges[n][2])
            s, e, _ = ranges.pop(oldest)
            self._sacked -= seq_diff(e, s)
            self.stats.evicted += 1
        return added

    # -- queries ---------------------------------------------------------------------

    @property
    def blocks(self) -> list[tuple[int, int]]:
        """The SACKed ranges ``(start, end)`` in sequence order, merged."""
        return [(s, e) for s, e, _ in self._ranges]

    def sacked_bytes(self) -> int:
        """Bytes above ``snd_una`` reported SACKed."""
        return self._sacked

    def highest_sacked(self) -> int | None:
        """The right edge of the highest SACK range (one past the highest SACKed octet)."""
        return self._ranges[-1][1] if self._ranges else None

    def is_sacked(self, seq: int) -> bool:
        seq &= SEQ_MASK
        return any(seq_le(s, seq) and seq_lt(seq, e) for s, e, _ in self._ranges)

    def is_lost(self, seq: int) -> bool:
        """RFC 6675 §4 IsLost(seq), with SACK blocks as the "discontiguous sequences"."""
        seq &= SEQ_MASK
        count = 0
        above = 0
        for s, e, _ in self._ranges:
            if seq_gt(s, seq):
                count += 1
                above += seq_diff(e, s)
            elif seq_gt(e, seq):
                above += seq_diff(e, seq) - 1
        return self._lost(count, above)

    def _lost(self, blocks_above: int, bytes_above: int) -> bool:
        return blocks_above >= self.dupthresh or bytes_above > (self.dupthresh - 1) * self.mss

    def _holes(self, snd_una: int, limit: int) -> Iterator[tuple[int, int, bool]]:
        """The un-SACKed ranges in ``[snd_una, limit)``, each with its IsLost verdict."""
        ranges = self._ranges
        suffix = [0] * (len(ranges) + 1)
        for n in range(len(ranges) - 1, -1, -1):
            suffix[n] = suffix[n + 1] + seq_diff(ranges[n][1], ranges[n][0])
        pos = snd_una & SEQ_MASK
        for n, (s, e, _) in enumerate(ranges):
            if seq_ge(pos, limit):
                return
            if seq_lt(pos, s):
                hole_end = s if seq_lt(s, limit) else limit
                yield pos, hole_end, self._lost(len(ranges) - n, suffix[n])
            if seq_gt(e, pos):
                pos = e
        if seq_lt(pos, limit):
            yield pos, limit & SEQ_MASK, False

    def pipe(self, snd_una: int, snd_nxt: int, high_rxt: int) -> int:
        """RFC 6675 §4 SetPipe: the sender's estimate of bytes in flight.

        Every un-SACKed octet in ``[snd_una, snd_nxt)`` counts once if it is not lost and
        once more if it was retransmitted (below ``high_rxt``).
        """
        self._advance(snd_una)
        pipe = 0
        for start, end, lost in self._holes(snd_una, snd_nxt):
            if not lost:
                pipe += seq_diff(end, start)
            if seq_gt(high_rxt, start):
                pipe += seq_diff(end if seq_lt(end, high_rxt) else high_rxt, start)
        return pipe

    def next_seg(
        self, snd_una: int, snd_nxt: int, high_rxt: int, high_data: int
    ) -> tuple[int, int] | None:
        """RFC 6675 §4 NextSeg rules (1)-(3): ``(seq, length)`` to send next, or None.

        ``high_data`` is one past the last octet the sender may send now (the end of its
        buffered data, clipped to the peer's window); rule (2) returns new data from
        ``snd_nxt`` when ``high_data`` is beyond it. Pass ``high_data=snd_nxt`` to keep
        new data to yourself: then only retransmissions are returned. Rule (4), the
        rescue retransmission, is :meth:`rescue_seg`.
        """
        self._advance(snd_una)
        top = self.highest_sacked()
        if top is not None:
            # (1) the first un-SACKed octet above HighRxt, below the highest SACK, lost
            for start, end, lost in self._holes(snd_una, top):
                first = high_rxt if seq_gt(high_rxt, start) else start
                if seq_lt(first, end) and lost:
                    return first, min(self.mss, seq_diff(end, first))
        # (2) new data, if any may be sent
        if seq_lt(snd_nxt, high_data):
            return snd_nxt & SEQ_MASK, min(self.mss, seq_diff(high_data, snd_nxt))
        if top is not None:
            # (3) as (1), without requiring IsLost
            for start, end, _ in self._holes(snd_una, top):
                first = high_rxt if seq_gt(high_rxt, start) else start
                if seq_lt(first, end):
                    return first, min(self.mss, seq_diff(end, first))
        return None

    def rescue_seg(self, snd_una: int, snd_nxt: int) -> tuple[int, int] | None:
        """RFC 6675 §4 NextSeg rule (4): one segment holding the highest un-SACKed octet.

        The sender sends it at most once per recovery (when HighACK > RescueRxt) and sets
        RescueRxt = RecoveryPoint; HighRxt is not updated.
        """
        self._advance(snd_una)
        last: tuple[int, int] | None = None
        for start, end, _ in self._holes(snd_una, snd_nxt):
            last = (start, end)
        if last is None:
            return None
        start, end = last
        length = min(self.mss, seq_diff(end, start))
        return seq_add(end, -length), length
