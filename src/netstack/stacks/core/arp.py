"""The ARP cache (RFC 826, RFC 1122 §2.3.2) as a sans-I/O machine.

Entries are INCOMPLETE (a request is out; packets wait in a bounded queue) or REACHABLE
(until ``reachable_time`` passes). A REACHABLE entry used in its last ``refresh_time``
seconds is re-confirmed with a unicast request, as lwIP does, so busy flows never stall on
expiry. The table has a size limit; the least recently confirmed entry gives way.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field


class ArpState(enum.Enum):
    INCOMPLETE = "incomplete"
    REACHABLE = "reachable"


@dataclass(slots=True)
class ArpConfig:
    max_entries: int = 256
    reachable_time: float = 300.0  # lwIP ARP_MAXAGE
    refresh_time: float = 15.0  # re-request this long before expiry when in use
    request_interval: float = 1.0
    max_requests: int = 3
    #: bytes of packets held per unresolved address (Linux unres_qlen_bytes); RFC 1122
    #: asks for at least one packet, a 64 KiB datagram in fragments needs ~45
    max_queued_bytes: int = 212992
    #: bytes held across all unresolved addresses together
    max_total_queued_bytes: int = 1 << 20
    announce_count: int = 2  # RFC 5227 §2.3 ANNOUNCE_NUM
    announce_interval: float = 2.0  # RFC 5227 §2.3 ANNOUNCE_INTERVAL


@dataclass(slots=True)
class ArpStats:
    requests_sent: int = 0
    resolved: int = 0
    failed: int = 0
    queue_drops: int = 0
    evictions: int = 0


@dataclass(slots=True)
class ArpEntry:
    state: ArpState
    mac: bytes = b""
    expires: float = 0.0  # REACHABLE: end of validity; INCOMPLETE: next request time
    requests: int = 0
    refreshing: bool = False
    queue: list[bytes] = field(default_factory=list)
    queued_bytes: int = 0


@dataclass(frozen=True, slots=True)
class ArpRequest:
    """An ARP request the link must send; ``dst_mac`` is None for broadcast."""

    target_ip: bytes
    dst_mac: bytes | None = None


class ArpCache:
    """Maps IPv4 addresses to MAC addresses; queues packets while resolving."""

    def __init__(self, config: ArpConfig | None = None) -> None:
        self.config = config or ArpConfig()
        self.stats = ArpStats()
        self._entries: OrderedDict[bytes, ArpEntry] = OrderedDict()
        self._queued_total = 0
        self._outbox: list[ArpRequest] = []
        self._incomplete: set[bytes] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> dict[bytes, ArpEntry]:
        return dict(self._entries)

    def lookup(self, ip: bytes, now: float) -> bytes | None:
        """The MAC for ``ip`` if resolved and fresh (refreshing it if close to expiry)."""
        entry = self._entries.get(ip)
        if entry is None or entry.state is not ArpState.REACHABLE:
            return None
        if now >= entry.expires:
            del self._entries[ip]
            return None
        if not entry.refreshing and entry.expires - now < self.config.refresh_time:
            entry.refreshing = True
            self._outbox.append(ArpRequest(ip, entry.mac))
            self.stats.requests_sent += 1
        return entry.mac

    def resolve(self, ip: bytes, item: bytes, now: float) -> bytes | None:
        """Return the MAC for ``ip``, or queue the packet ``item`` and start resolution."""
        mac = self.lookup(ip, now)
        if mac is not None:
            return mac
        entry = self._entries.get(ip)
        if entry is None:
            self._make_room()
            entry = ArpEntry(ArpState.INCOMPLETE, expires=now + self.config.request_interval)
            entry.requests = 1
            self._entries[ip] = entry
            self._incomplete.add(ip)
            self._outbox.append(ArpRequest(ip))
            self.stats.requests_sent += 1
        size = len(item)
        cfg = self.config
        while entry.queue and (
            entry.queued_bytes + size > cfg.max_queued_bytes
            or self._queued_total + size > cfg.max_total_queued_bytes
        ):
            dropped = entry.queue.pop(0)  # keep the newest, as Linux and lwIP do
            entry.queued_bytes -= len(dropped)
            self._queued_total -= len(dropped)
            self.stats.queue_drops += 1
        if self._queued_total + size > cfg.max_total_queued_bytes:
            self.stats.queue_drops += 1
            return None
        entry.queue.append(item)
        entry.queued_bytes += size
        self._queued_total += size
        return None

    def learn(self, ip: bytes, mac: bytes, now: float, *, create: bool) -> list[bytes]:
        """Record ``ip`` → ``mac``; returns queued items now deliverable.

        ``create`` follows RFC 826's merge rule: new entries are only made when the
        packet was addressed to us; existing entries are always updated.
        """
        entry = self._entries.get(ip)
        if entry is None:
            if not create:
                return []
            self._make_room()
            entry = ArpEntry(ArpState.REACHABLE)
            self._entries[ip] = entry
        queued = entry.queue
        if entry.state is ArpState.INCOMPLETE:
            self.stats.resolved += 1
            self._incomplete.discard(ip)
        entry.state = ArpState.REACHABLE
        entry.mac = bytes(mac)
        entry.expires = now + self.config.reachable_time
        entry.requests = 0
        entry.refreshing = False
        entry.queue = []
        self._queued_total -= entry.queued_bytes
        entry.queued_bytes = 0
        self._entries.move_to_end(ip)
        return queued

    def remove(self, ip: bytes) -> None:
        entry = self._entries.pop(ip, None)
        if entry is not None:
            self._incomplete.discard(ip)
            self._queued_total -= entry.queued_bytes

    def clear(self) -> None:
        self._entries.clear()
        self._incomplete.clear()
        self._queued_total = 0

    @property
    def queued_bytes(self) -> int:
        return self._queued_total

    def _make_room(self) -> None:
        while len(self._entries) >= self.config.max_entries:
            ip, entry = self._entries.popitem(last=False)
            self._incomplete.discard(ip)
            self._queued_total -= entry.queued_bytes
            self.stats.evictions += 1

    def requests_to_send(self) -> list[ArpRequest]:
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        """Next retransmission of an outstanding request (expiry of others is lazy)."""
        if not self._incomplete:
            return None
        return min(self._entries[ip].expires for ip in self._incomplete)

    def handle_timer(self, now: float) -> list[tuple[bytes, list[bytes]]]:
        """Retransmit due requests; returns (ip, dropped packets) for addresses given up on."""
        failed: list[tuple[bytes, list[bytes]]] = []
        cfg = self.config
        for ip in sorted(self._incomplete):
            entry = self._entries[ip]
            if entry.expires > now:
                continue
            if entry.requests >= cfg.max_requests:
                self._incomplete.discard(ip)
                del self._entries[ip]
                self._queued_total -= entry.queued_bytes
                self.stats.failed += 1
                failed.append((ip, entry.queue))
                continue
            entry.requests += 1
            entry.expires = now + cfg.request_interval
            self._outbox.append(ArpRequest(ip))
            self.stats.requests_sent += 1
        return failed
