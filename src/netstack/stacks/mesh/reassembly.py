"""Reassembly of 6LoWPAN fragments (RFC 4944 §5.3), bounded and timed.

A datagram is identified by its link-layer source, destination, datagram_size and
datagram_tag. Its FRAG1 carries the compressed headers: the caller decompresses them
(knowing the datagram size) and hands the uncompressed bytes in at offset 0; FRAGNs carry
datagram bytes at their offset. The datagram is complete when every byte is covered.

Limits, so a flood of first fragments cannot exhaust memory: at most ``max_datagrams``
in progress and ``max_bytes`` of buffers over all of them (the oldest is dropped to make
room), and each is given up ``timeout`` seconds after its first fragment (RFC 4944 §5.3
allows up to 60). A fragment that overlaps another with different bytes or runs past the
datagram size discards the datagram (RFC 4944 §5.3: overlapping fragments of a datagram
in progress mean its sender restarted it with the same tag).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

DatagramKey = tuple[bytes, bytes, int, int]  # source, destination, size, tag


@dataclass(slots=True)
class ReassemblyConfig:
    timeout: float = 60.0
    max_datagrams: int = 8
    max_bytes: int = 16 * 1280


@dataclass(slots=True)
class _Datagram:
    buffer: bytearray
    deadline: float
    #: (start, end) of the bytes received, unsorted
    pieces: list[tuple[int, int]] = field(default_factory=list)
    covered: int = 0
    #: called on the reassembled datagram (an elided UDP checksum to fill in)
    finish: Callable[[bytearray], None] | None = None


class FragmentReassembler:
    """Datagrams in progress; :meth:`add` returns a datagram once it is whole."""

    def __init__(self, config: ReassemblyConfig | None = None) -> None:
        self.config = config or ReassemblyConfig()
        self._datagrams: OrderedDict[DatagramKey, _Datagram] = OrderedDict()
        self._bytes = 0
        self.stats = {
            "fragments": 0,
            "reassembled": 0,
            "timeouts": 0,
            "evicted": 0,
            "overlaps": 0,
            "oversize": 0,
        }

    def __len__(self) -> int:
        return len(self._datagrams)

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    def add(
        self,
        key: DatagramKey,
        offset: int,
        data: bytes,
        now: float,
        finish: Callable[[bytearray], None] | None = None,
    ) -> bytearray | None:
        """One fragment's datagram bytes at ``offset``; the whole datagram once complete."""
        self.expire(now)
        self.stats["fragments"] += 1
        size = key[2]
        end = offset + len(data)
        if end > size or not data:
            self.stats["oversize"] += 1
            self._drop(key)
            return None
        entry = self._datagrams.get(key)
        if entry is None:
            entry = self._start(key, size, now)
            if entry is None:
                return None
        for start, stop in entry.pieces:
            if start < end and offset < stop:  # overlap: the bytes must agree
                lo, hi = max(start, offset), min(stop, end)
                if entry.buffer[lo:hi] != data[lo - offset : hi - offset]:
                    self.stats["overlaps"] += 1
                    self._drop(key)
                    return None
        entry.buffer[offset:end] = data
        entry.pieces.append((offset, end))
        entry.covered = _covered(entry.pieces)
        if finish is not None:
            entry.finish = finish
        if entry.covered < size:
            return None
        self._drop(key)
        self.stats["reassembled"] += 1
        if entry.finish is not None:
            entry.finish(entry.buffer)
        return entry.buffer

    def _start(self, key: DatagramKey, size: int, now: float) -> _Datagram | None:
        cfg = self.config
        if size > cfg.max_bytes:
            self.stats["oversize"] += 1
            return None
        while self._datagrams and (
            len(self._datagrams) >= cfg.max_datagrams or self._bytes + size > cfg.max_bytes
        ):
            oldest = next(iter(self._datagrams))
            self._drop(oldest)
            self.stats["evicted"] += 1
        entry = _Datagram(bytearray(size), now + cfg.timeout)
        self._datagrams[key] = entry
        self._bytes += size
        return entry

    def _drop(self, key: DatagramKey) -> None:
        entry = self._datagrams.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.buffer)

    def expire(self, now: float) -> None:
        """Give up on datagrams whose time ran out."""
        while self._datagrams:
            key, entry = next(iter(self._datagrams.items()))
            if entry.deadline > now:
                break
            self._drop(key)
            self.stats["timeouts"] += 1

    def next_deadline(self) -> float | None:
        for entry in self._datagrams.values():
            return entry.deadline
        return None

    def clear(self) -> None:
        self._datagrams.clear()
        self._bytes = 0


def _covered(pieces: list[tuple[int, int]]) -> int:
    total, reach = 0, 0
    for start, stop in sorted(pieces):
        if stop <= reach:
            continue
        total += stop - max(start, reach)
        reach = stop
    return total
