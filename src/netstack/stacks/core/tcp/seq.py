"""32-bit TCP sequence-number arithmetic (RFC 9293 §3.4).

Sequence numbers live modulo 2**32. Two numbers are ordered by the sign of their
difference read as a signed 32-bit value, which is meaningful as long as they are less
than 2**31 apart — TCP keeps every window far below that (RFC 7323 §2.3 caps the scaled
window at 2**30).
"""

from __future__ import annotations

SEQ_MOD = 1 << 32
SEQ_MASK = SEQ_MOD - 1
_HALF = 1 << 31


def seq_add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32 (``n`` may be negative)."""
    return (a + n) & SEQ_MASK


def seq_diff(a: int, b: int) -> int:
    """``a - b`` as a signed distance in ``[-2**31, 2**31)``."""
    return ((a - b + _HALF) & SEQ_MASK) - _HALF


def seq_lt(a: int, b: int) -> bool:
    """``a < b`` in sequence space."""
    return seq_diff(a, b) < 0


def seq_le(a: int, b: int) -> bool:
    """``a <= b`` in sequence space."""
    return seq_diff(a, b) <= 0


def seq_gt(a: int, b: int) -> bool:
    """``a > b`` in sequence space."""
    return seq_diff(a, b) > 0


def seq_ge(a: int, b: int) -> bool:
    """``a >= b`` in sequence space."""
    return seq_diff(a, b) >= 0


def seq_between(lo: int, x: int, hi: int) -> bool:
    """``lo <= x < hi`` in sequence space: ``x`` lies in the half-open range ``[lo, hi)``.

    Computed as an unsigned offset from ``lo``, so it is exact for any range shorter than
    2**32 (the RFC 9293 §3.4 window tests, e.g. ``RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND``).
    An empty range (``lo == hi``) contains nothing. For the inclusive upper bound of the
    ACK test ``SND.UNA < SEG.ACK =< SND.NXT`` write
    ``seq_between(seq_add(snd_una, 1), ack, seq_add(snd_nxt, 1))``.
    """
    return ((x - lo) & SEQ_MASK) < ((hi - lo) & SEQ_MASK)
