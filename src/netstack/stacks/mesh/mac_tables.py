"""The bounded tables the IEEE 802.15.4 MAC keeps, sans-I/O (time is passed in as ``now``).

- :class:`DuplicateFilter`: the last sequence number (and frame counter) of acknowledged
  frames per source, to drop retransmissions whose ack was lost (2015 §6.7.5).
- :class:`IndirectQueue`: frames held for sleepy children until they poll, each for
  macTransactionPersistenceTime (2015 §6.7.3.3).
- :class:`NeighbourAddresses`: short address <-> extended address of neighbours; the CCM*
  nonce of a secured frame with a short source address needs the extended one.

Every table has a size limit; the oldest entry makes room for a new one.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["DuplicateFilter", "IndirectQueue", "NeighbourAddresses"]

T = TypeVar("T")


class DuplicateFilter:
    """Per source, the sequence number and frame counter of the last acknowledged frame.

    A frame is a duplicate when it repeats both (a retransmission carries the same DSN and,
    if secured, the same frame counter) within ``lifetime`` seconds: a DSN is only 8 bits
    and shared by all of the sender's destinations, so an old entry says nothing. At most
    ``size`` sources are remembered; the least recently seen is forgotten first.
    """

    __slots__ = ("_entries", "evictions", "lifetime", "size")

    def __init__(self, size: int = 64, lifetime: float = 1.0) -> None:
        if size < 1:
            raise ValueError("the duplicate table needs room for one source")
        self.size = size
        self.lifetime = lifetime
        self.evictions = 0
        self._entries: OrderedDict[Hashable, tuple[int, int | None, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def is_duplicate(self, source: Hashable, seq: int, counter: int | None, now: float) -> bool:
        entry = self._entries.get(source)
        if entry is None:
            return False
        last_seq, last_counter, when = entry
        return last_seq == seq and last_counter == counter and now - when <= self.lifetime

    def record(self, source: Hashable, seq: int, counter: int | None, now: float) -> None:
        entries = self._entries
        if source in entries:
            entries.move_to_end(source)
        elif len(entries) >= self.size:
            entries.popitem(last=False)
            self.evictions += 1
        entries[source] = (seq, counter, now)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(slots=True)
class _Pending(Generic[T]):
    expires: float
    order: int
    destination: Hashable
    item: T

    def key(self) -> tuple[float, int]:
        return (self.expires, self.order)


class IndirectQueue(Generic[T]):
    """Frames waiting for their destination to ask for them, oldest first.

    Each is held ``persistence`` seconds (macTransactionPersistenceTime) from when it was
    added; at most ``limit`` are held in all (2015 §6.7.3.3: TRANSACTION_OVERFLOW beyond
    that, TRANSACTION_EXPIRED when the time is up). Destinations are any hashable keys;
    :meth:`pop` takes one key or several aliases of one device (short and extended address).
    """

    __slots__ = ("_entries", "_order", "limit", "persistence")

    def __init__(self, limit: int = 16, persistence: float = 7.68) -> None:
        if limit < 1:
            raise ValueError("the indirect queue needs room for one frame")
        self.limit = limit
        self.persistence = persistence
        self._entries: list[_Pending[T]] = []  # by expiry
        self._order = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[tuple[Hashable, T]]:
        return ((e.destination, e.item) for e in self._entries)

    @property
    def full(self) -> bool:
        return len(self._entries) >= self.limit

    def add(self, destination: Hashable, item: T, now: float) -> bool:
        """Hold ``item`` for ``destination``; False if the queue is full."""
        if self.full:
            return False
        self._order += 1
        self._entries.append(_Pending(now + self.persistence, self._order, destination, item))
        return True

    def pop(self, *destinations: Hashable) -> tuple[T, float] | None:
        """The oldest item for any of ``destinations`` and its expiry time, taken out."""
        for i, entry in enumerate(self._entries):
            if entry.destination in destinations:
                del self._entries[i]
                return entry.item, entry.expires
        return None

    def restore(self, destination: Hashable, item: T, expires: float) -> None:
        """Put back an item :meth:`pop` took (its delivery failed), keeping its place and
        its expiry. It is put back even if that overfills the queue by one."""
        self._order += 1
        entry = _Pending(expires, -self._order, destination, item)
        keys = [e.key() for e in self._entries]
        self._entries.insert(bisect.bisect_left(keys, entry.key()), entry)

    def count(self, *destinations: Hashable) -> int:
        return sum(1 for e in self._entries if e.destination in destinations)

    def destinations(self) -> list[Hashable]:
        """Destinations with something held, each once, oldest first."""
        return list(dict.fromkeys(e.destination for e in self._entries))

    def next_expiry(self) -> float | None:
        return self._entries[0].expires if self._entries else None

    def expire(self, now: float) -> list[T]:
        """Take out and return the items whose time is up at ``now``."""
        entries = self._entries
        n = 0
        while n < len(entries) and entries[n].expires <= now:
            n += 1
        gone = [e.item for e in entries[:n]]
        del entries[:n]
        return gone

    def drain(self) -> list[T]:
        """Take out everything."""
        items = [e.item for e in self._entries]
        self._entries.clear()
        return items


class NeighbourAddresses:
    """Short address <-> extended address of neighbours, at most ``size`` of them (the
    least recently learned is forgotten first). Short addresses are per PAN; the MAC keeps
    one table for the PAN it is in."""

    __slots__ = ("_by_ext", "_by_short", "size")

    def __init__(self, size: int = 256) -> None:
        if size < 1:
            raise ValueError("the neighbour table needs room for one neighbour")
        self.size = size
        self._by_short: OrderedDict[int, bytes] = OrderedDict()
        self._by_ext: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._by_short)

    def learn(self, short: int, extended: bytes) -> None:
        if not 0 <= short <= 0xFFFD:
            raise ValueError(f"not a unicast short address: {short:#06x}")
        if len(extended) != 8:
            raise ValueError(f"an extended address has 8 bytes, not {len(extended)}")
        extended = bytes(extended)
        self.forget(short)
        old_short = self._by_ext.get(extended)
        if old_short is not None:
            self.forget(old_short)
        table = self._by_short
        if len(table) >= self.size:
            _, gone = table.popitem(last=False)
            del self._by_ext[gone]
        table[short] = extended
        self._by_ext[extended] = short

    def forget(self, short: int) -> None:
        extended = self._by_short.pop(short, None)
        if extended is not None:
            del self._by_ext[extended]

    def extended(self, short: int) -> bytes | None:
        return self._by_short.get(short)

    def short(self, extended: bytes) -> int | None:
        return self._by_ext.get(extended)

    def clear(self) -> None:
        self._by_short.clear()
        self._by_ext.clear()
