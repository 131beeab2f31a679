"""IPv4 reassembly (RFC 791 §3.2, RFC 815) with hard limits, as a sans-I/O machine.

Limits: total buffered bytes, datagrams in flight, fragments per datagram, a per-datagram
timeout. At the byte or datagram limit the oldest incomplete datagram is evicted, so a
flood of fragments that never complete cannot lock out legitimate traffic. Overlapping
fragments drop the whole datagram (the rule RFC 5722 makes for IPv6, applied to IPv4 too:
overlaps are only ever seen from attackers and broken middleboxes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_DATAGRAM = 65535


@dataclass(slots=True)
class ReassemblyConfig:
    max_bytes: int = 1 << 20  # all datagrams in flight together
    max_datagrams: int = 64
    max_fragments: int = 128  # per datagram
    timeout: float = 30.0  # RFC 1122 §3.3.2 suggests 60-120 s; Linux uses 30 s


@dataclass(slots=True)
class ReassemblyStats:
    fragments: int = 0
    reassembled: int = 0
    timeouts: int = 0
    overlaps: int = 0
    limit_drops: int = 0
    invalid: int = 0


@dataclass(slots=True)
class _Datagram:
    deadline: float
    first_header: bytes = b""  # raw IPv4 header of the offset-0 fragment
    pieces: dict[int, bytes] = field(default_factory=dict)  # offset -> data
    size: int = 0  # bytes buffered
    total: int = -1  # known once the last fragment arrived


Key = tuple[bytes, bytes, int, int]


class Ipv4Reassembler:
    """Collects fragments keyed by (src, dst, protocol, id) and returns whole payloads."""

    def __init__(self, config: ReassemblyConfig | None = None) -> None:
        self.config = config or ReassemblyConfig()
        self.stats = ReassemblyStats()
        self._datagrams: dict[Key, _Datagram] = {}
        self._bytes = 0

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    @property
    def in_flight(self) -> int:
        return len(self._datagrams)

    def add(
        self, key: Key, offset: int, more: bool, data: bytes, header: bytes, now: float
    ) -> bytes | None:
        """Add one fragment; returns the reassembled payload when it completes.

        ``header`` is the fragment's raw IP header (kept from offset 0 for ICMP time
        exceeded quotes).
        """
        cfg = self.config
        stats = self.stats
        stats.fragments += 1
        end = offset + len(data)
        if end > MAX_DATAGRAM - 20 or (more and (len(data) == 0 or len(data) % 8)):
            stats.invalid += 1
            return None
        if len(data) > cfg.max_bytes:
            stats.limit_drops += 1
            return None
        dgram = self._datagrams.get(key)
        if dgram is None:
            # At a limit, the oldest datagram gives way (as Linux evicts past its high
            # threshold): a flood of never-completed fragments cannot lock out new traffic.
            while len(self._datagrams) >= cfg.max_datagrams:
                self._evict_oldest()
            dgram = _Datagram(deadline=now + cfg.timeout)
            self._datagrams[key] = dgram
        if len(dgram.pieces) >= cfg.max_fragments:
            stats.limit_drops += 1
            self._discard(key)
            return None
        while self._bytes + len(data) > cfg.max_bytes:
            if next(iter(self._datagrams)) == key and len(self._datagrams) == 1:
                stats.limit_drops += 1
                self._discard(key)
                return None
            self._evict_oldest(keep=key)
        if not more:
            if dgram.total >= 0 and dgram.total != end:
                self._overlap(key)
                return None
            if any(start + len(piece) > end for start, piece in dgram.pieces.items()):
                self._overlap(key)  # data held beyond the end the last fragment declares
                return None
            dgram.total = end
        elif dgram.total >= 0 and end > dgram.total:
            self._overlap(key)
            return None
        # Overlap check against every held piece (bounded by max_fragments).
        pieces = dgram.pieces
        if offset in pieces:
            if pieces[offset] == data:  # exact duplicate (retransmission or link dup)
                return None
            self._overlap(key)
            return None
        for start, piece in pieces.items():
            if start < end and offset < start + len(piece):
                self._overlap(key)
                return None
        pieces[offset] = data
        dgram.size += len(data)
        self._bytes += len(data)
        if offset == 0:
            dgram.first_header = header
        if dgram.total < 0 or dgram.size != dgram.total:
            return None
        # Complete: no overlaps and the sizes add up, so the pieces tile [0, total).
        del self._datagrams[key]
        self._bytes -= dgram.size
        stats.reassembled += 1
        return b"".join(pieces[k] for k in sorted(pieces))

    def _overlap(self, key: Key) -> None:
        self.stats.overlaps += 1
        self._discard(key)
        return None

    def _evict_oldest(self, keep: Key | None = None) -> None:
        for key in self._datagrams:
            if key != keep:
                self.stats.limit_drops += 1
                self._discard(key)
                return

    def _discard(self, key: Key) -> _Datagram | None:
        dgram = self._datagrams.pop(key, None)
        if dgram is not None:
            self._bytes -= dgram.size
        return dgram

    def get_timer(self) -> float | None:
        """The earliest deadline of a datagram in flight."""
        if not self._datagrams:
            return None
        return min(d.deadline for d in self._datagrams.values())

    def handle_timer(self, now: float) -> list[tuple[Key, bytes, bytes]]:
        """Expire datagrams; returns (key, first header, first fragment data) of expired ones
        that had their first fragment, for ICMP time exceeded (RFC 792, code 1)."""
        expired: list[tuple[Key, bytes, bytes]] = []
        for key in [k for k, d in self._datagrams.items() if d.deadline <= now]:
            dgram = self._discard(key)
            assert dgram is not None
            self.stats.timeouts += 1
            if dgram.first_header:
                expired.append((key, dgram.first_header, dgram.pieces.get(0, b"")))
        return expired
