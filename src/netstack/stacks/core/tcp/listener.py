"""Listening sockets: a bounded SYN queue, a bounded accept queue, and SYN cookies.

A SYN for a listening port creates a half-open :class:`TcpConnection` in the SYN queue.
When the queue is full (a SYN flood), the listener answers statelessly with a SYN cookie
(RFC 4987 §3.6): the SYN-ACK's sequence number encodes a keyed hash of the connection, a
64-second time counter and the peer's MSS, so a legitimate client's ACK rebuilds the
connection with no state kept in between. Established and new legitimate connections
keep being served during a flood.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

_COOKIE_MSS = (536, 1220, 1440, 1460)
_COUNTER_PERIOD = 64.0

Key = tuple[bytes, int, bytes, int]


@dataclass(slots=True)
class ListenerStats:
    syns: int = 0
    syn_queue_full: int = 0
    cookies_sent: int = 0
    cookies_accepted: int = 0
    cookies_rejected: int = 0
    accept_queue_full: int = 0
    accepted: int = 0


class SynCookies:
    """Encode and check SYN cookies (5-bit time counter, 3-bit MSS index, 24-bit hash)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _hash(self, key4: Key, counter: int, client_isn: int) -> int:
        local, lport, remote, rport = key4
        data = b"".join(
            (
                local,
                lport.to_bytes(2, "big"),
                remote,
                rport.to_bytes(2, "big"),
                counter.to_bytes(1, "big"),
                client_isn.to_bytes(4, "big"),
            )
        )
        digest = hashlib.blake2s(data, key=self._key, digest_size=3).digest()
        return int.from_bytes(digest, "big")

    def make(self, key4: Key, client_isn: int, peer_mss: int, now: float) -> tuple[int, int]:
        """The cookie (our ISN) and the MSS it promises (the largest table value ≤ peer's)."""
        index = max(i for i, m in enumerate(_COOKIE_MSS) if m <= max(peer_mss, _COOKIE_MSS[0]))
        counter = int(now / _COUNTER_PERIOD) & 0x1F
        cookie = (counter << 27) | (index << 24) | self._hash(key4, counter, client_isn)
        return cookie, _COOKIE_MSS[index]

    def check(self, key4: Key, client_isn: int, cookie: int, now: float) -> int | None:
        """The MSS encoded in a valid cookie no older than two periods, else None."""
        counter = cookie >> 27
        current = int(now / _COUNTER_PERIOD) & 0x1F
        if (current - counter) & 0x1F > 1:
            return None
        index = (cookie >> 24) & 0x7
        if index >= len(_COOKIE_MSS) or cookie & 0xFFFFFF != self._hash(key4, counter, client_isn):
            return None
        return _COOKIE_MSS[index]


class TcpListener:
    """The listening half of a TCP socket; holds no connection machine itself."""

    def __init__(
        self,
        local_ip: bytes,
        port: int,
        backlog: int,
        *,
        max_syn_queue: int = 256,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.local_ip = local_ip
        self.port = port
        self.backlog = max(1, backlog)
        self.max_syn_queue = max_syn_queue
        self.syn_queue: set[Key] = set()
        self.accept_queue: deque[object] = deque()
        self.stats = ListenerStats()
        self.on_ready = on_ready
        self.closed = False

    @property
    def syn_queue_full(self) -> bool:
        return len(self.syn_queue) >= self.max_syn_queue

    @property
    def accept_queue_full(self) -> bool:
        return len(self.accept_queue) >= self.backlog

    def established(self, endpoint: object) -> bool:
        """A handshake completed; False if the accept queue is full (the caller drops it)."""
        if self.accept_queue_full:
            self.stats.accept_queue_full += 1
            return False
        self.accept_queue.append(endpoint)
        if self.on_ready is not None:
            self.on_ready()
        return True

    def pop(self) -> object | None:
        if not self.accept_queue:
            return None
        self.stats.accepted += 1
        return self.accept_queue.popleft()
