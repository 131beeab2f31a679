"""The DHCPv4 server's address pool: pure bookkeeping, every call takes ``now``.

:class:`LeasePool` owns the addresses: which client holds, was offered, or once held which
address, which addresses are quarantined after a DECLINE, and the lowest free one. Leases
expire lazily on the caller's clock (no timer per lease): an expired lease is simply free
when the pool allocates, and :meth:`LeasePool.purge` forgets stale records.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from netstack.address import parse_ipv4
from netstack.errors import ParameterError
from netstack.wire.ethernet import mac_to_str


class LeaseState(enum.Enum):
    OFFERED = "offered"  # reserved for an OFFER, for ``offer_hold`` seconds
    BOUND = "bound"  # ACKed to the client until the lease expires
    DECLINED = "declined"  # a client found it in use (DHCPDECLINE): quarantined
    RELEASED = "released"  # given back (or offer withdrawn); remembered, but free


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """One address that is taken, as :attr:`DhcpServer.leases` reports it."""

    mac: str  # "02:00:00:00:00:01" ("" if the client's hardware address is not Ethernet)
    ip: str
    expires_at: float  # on the world's clock; ``math.inf`` for an infinite lease
    hostname: str | None
    state: LeaseState


@dataclass(slots=True)
class _Binding:
    """The pool's record of one address: who holds it, in which state, until when."""

    client: bytes
    mac: bytes | None
    ip: int
    state: LeaseState
    expires_at: float
    hostname: str | None

    def holds(self, now: float) -> bool:
        """Whether the address is still taken (by its client, or by a quarantine)."""
        return self.state is not LeaseState.RELEASED and self.expires_at > now


def _u32(ip: bytes) -> int:
    return int.from_bytes(ip, "big")


def _packed(ip: int) -> bytes:
    return ip.to_bytes(4, "big")


class LeasePool:
    """The addresses a DHCP server hands out, and to whom; every method takes ``now``.

    Clients are identified by an opaque key (the server uses the client-identifier option,
    else the hardware address); ``mac`` is the Ethernet address, used for static leases and
    reports. Addresses are 4-byte packed IPv4 addresses.

    Memory is bounded by the number of addresses (dynamic plus static): there is at most one
    record per address, and a client's record is dropped when its address goes to another.
    Allocation is O(log n): never-used addresses come from a rising cursor, addresses that
    became free again from a min-heap, expiries from a second heap — all checked lazily.
    """

    def __init__(
        self,
        first: bytes,
        last: bytes,
        *,
        static: Mapping[bytes, bytes] | None = None,
        exclude: Iterable[bytes] = (),
    ) -> None:
        lo, hi = _u32(parse_ipv4(first)), _u32(parse_ipv4(last))
        if lo > hi:
            raise ParameterError("the pool's first address is above its last")
        self._lo = lo
        self._hi = hi
        self._static: dict[bytes, int] = {}  # MAC -> address
        self._static_owner: dict[int, bytes] = {}  # address -> MAC
        for mac, ip in (static or {}).items():
            addr = _u32(parse_ipv4(ip))
            if addr in self._static_owner:
                raise ParameterError(f"static address {_text(addr)} given twice")
            self._static[bytes(mac)] = addr
            self._static_owner[addr] = bytes(mac)
        self._excluded: set[int] = {_u32(parse_ipv4(ip)) for ip in exclude}
        self._by_ip: dict[int, _Binding] = {}
        self._by_client: dict[bytes, _Binding] = {}
        self._next_fresh = lo  # every dynamic address below it has been handed out once
        self._returned: list[int] = []  # min-heap: addresses that became free again
        self._in_returned: set[int] = set()
        self._expiry: list[tuple[float, int]] = []  # min-heap of (expires_at, address)
        self._queued: dict[int, float] = {}  # address -> its live entry in ``_expiry``

    # -- queries -------------------------------------------------------------------------------
    def __contains__(self, ip: object) -> bool:
        """Whether ``ip`` is one of the dynamic (pool) addresses."""
        if not isinstance(ip, bytes) or len(ip) != 4:
            return False
        return self._dynamic(_u32(ip))

    @property
    def size(self) -> int:
        """How many addresses the pool can hand out dynamically."""
        lo, hi = self._lo, self._hi
        taken = sum(1 for a in self._excluded | set(self._static_owner) if lo <= a <= hi)
        return hi - lo + 1 - taken

    def available(self, client: bytes, mac: bytes | None, ip: bytes, now: float) -> bool:
        """Whether ``client`` may have ``ip``: its own (static, offered, leased) or free."""
        return self._usable(_u32(ip), client, mac, now)

    def address_of(self, client: bytes) -> bytes | None:
        """The address the client holds or last held (if nobody took it since)."""
        binding = self._by_client.get(client)
        return None if binding is None else _packed(binding.ip)

    def state_of(self, client: bytes, now: float) -> LeaseState | None:
        """The state of the client's lease; None if it holds no address now."""
        binding = self._by_client.get(client)
        if binding is None or not binding.holds(now):
            return None
        return binding.state

    def select(
        self, client: bytes, mac: bytes | None, requested: bytes | None, now: float
    ) -> bytes | None:
        """The address to offer (RFC 2131 §4.3.1), or None when the pool is exhausted.

        In order: the static address for ``mac``; the client's current or previous address
        if still free; the requested address if in the pool and free; the lowest free one.
        Nothing is reserved until :meth:`offer`.
        """
        if mac is not None and mac in self._static:
            ip = self._static[mac]
            return _packed(ip) if self._usable(ip, client, mac, now) else None
        binding = self._by_client.get(client)
        if binding is not None and self._usable(binding.ip, client, mac, now):
            return _packed(binding.ip)
        if requested is not None and len(requested) == 4:
            ip = _u32(requested)
            if self._dynamic(ip) and self._usable(ip, client, mac, now):
                return requested
        lowest = self._lowest_free(now)
        return None if lowest is None else _packed(lowest)

    def leases(self, now: float) -> list[LeaseRecord]:
        """Every address taken now (offered, bound or quarantined), by address."""
        out = []
        for ip in sorted(self._by_ip):
            b = self._by_ip[ip]
            if b.holds(now):
                mac = mac_to_str(b.mac) if b.mac is not None else ""
                out.append(LeaseRecord(mac, _text(ip), b.expires_at, b.hostname, b.state))
        return out

    # -- changes ---------------------------------------------------------------------------------
    def exclude(self, ip: bytes) -> None:
        """Never hand ``ip`` out dynamically (the server's own address, the router's)."""
        self._excluded.add(_u32(parse_ipv4(ip)))

    def offer(
        self,
        client: bytes,
        mac: bytes | None,
        ip: bytes,
        now: float,
        hold: float,
        hostname: str | None = None,
    ) -> bool:
        """Reserve ``ip`` for the client for ``hold`` seconds; False if it is not free.

        A client's current lease is offered back as it is (still bound, same expiry).
        """
        addr = _u32(ip)
        if not self._usable(addr, client, mac, now):
            return False
        b = self._by_ip.get(addr)
        if b is not None and b.client == client and b.state is LeaseState.BOUND and b.holds(now):
            return True
        self._commit(client, mac, addr, LeaseState.OFFERED, now + hold, hostname)
        return True

    def bind(
        self,
        client: bytes,
        mac: bytes | None,
        ip: bytes,
        now: float,
        lease: float,
        hostname: str | None = None,
    ) -> bool:
        """Lease ``ip`` to the client (or extend its lease) for ``lease`` seconds."""
        addr = _u32(ip)
        if not self._usable(addr, client, mac, now):
            return False
        self._commit(client, mac, addr, LeaseState.BOUND, now + lease, hostname)
        return True

    def release(self, client: bytes, ip: bytes, now: float) -> bool:
        """The client gives ``ip`` back (DHCPRELEASE); False if it was not the client's."""
        b = self._by_client.get(client)
        if b is None or b.ip != _u32(ip) or b.state is LeaseState.DECLINED or not b.holds(now):
            return False
        self._free(b, now)  # the record stays, so the client gets the address back if free
        return True

    def cancel_offer(self, client: bytes, now: float) -> bool:
        """Withdraw an outstanding offer (the client chose another server)."""
        b = self._by_client.get(client)
        if b is None or b.state is not LeaseState.OFFERED or not b.holds(now):
            return False
        self._free(b, now)
        return True

    def decline(self, client: bytes, mac: bytes | None, ip: bytes, now: float, hold: float) -> bool:
        """Quarantine ``ip`` for ``hold`` seconds (DHCPDECLINE: it is in use by someone).

        Refused (False) for an address that another client holds, or that is not ours.
        """
        addr = _u32(ip)
        if addr not in self._static_owner and not self._dynamic(addr):
            return False
        b = self._by_ip.get(addr)
        if b is not None and b.holds(now) and b.client != client:
            return False
        if b is not None and self._by_client.get(b.client) is b:
            del self._by_client[b.client]
        # Nobody's binding (client b""), so no client gets it back as its "previous" address.
        self._by_ip[addr] = _Binding(b"", mac, addr, LeaseState.DECLINED, now + hold, None)
        self._queue_expiry(addr, now + hold)
        return True

    def purge(self, now: float) -> int:
        """Forget every record that no longer holds its address; returns how many."""
        self._expire(now)
        stale = [b for b in self._by_ip.values() if not b.holds(now)]
        for b in stale:
            del self._by_ip[b.ip]
            if self._by_client.get(b.client) is b:
                del self._by_client[b.client]
            self._push_returned(b.ip)
        return len(stale)

    # -- internals -----------------------------------------------------------------------------
    def _dynamic(self, ip: int) -> bool:
        return (
            self._lo <= ip <= self._hi and ip not in self._excluded and ip not in self._static_owner
        )

    def _usable(self, ip: int, client: bytes, mac: bytes | None, now: float) -> bool:
        owner = self._static_owner.get(ip)
        if owner is not None:
            if owner != mac:
                return False
        elif not self._dynamic(ip):
            return False
        b = self._by_ip.get(ip)
        return b is None or b.client == client or not b.holds(now)

    def _is_free(self, ip: int, now: float) -> bool:
        if not self._dynamic(ip):
            return False
        b = self._by_ip.get(ip)
        return b is None or not b.holds(now)

    def _lowest_free(self, now: float) -> int | None:
        self._expire(now)
        returned = self._returned
        best: int | None = None
        while returned:
            ip = returned[0]
            if self._is_free(ip, now):
                best = ip
                break
            heapq.heappop(returned)
            self._in_returned.discard(ip)
        while self._next_fresh <= self._hi and not self._is_free(self._next_fresh, now):
            self._next_fresh += 1  # if a skipped address frees up, it is pushed to _returned
        if self._next_fresh <= self._hi and (best is None or self._next_fresh < best):
            best = self._next_fresh
        return best

    def _expire(self, now: float) -> None:
        """Move addresses whose lease or quarantine ran out onto the free heap."""
        heap = self._expiry
        while heap and heap[0][0] <= now:
            when, ip = heapq.heappop(heap)
            if self._queued.get(ip) != when:
                continue  # superseded by an earlier entry for the same address
            del self._queued[ip]
            b = self._by_ip.get(ip)
            if b is not None and b.holds(now):
                self._queue_expiry(ip, b.expires_at)  # extended since: look again then
            else:
                self._push_returned(ip)

    def _queue_expiry(self, ip: int, when: float) -> None:
        queued = self._queued.get(ip)
        if queued is None or when < queued:
            self._queued[ip] = when
            heapq.heappush(self._expiry, (when, ip))

    def _push_returned(self, ip: int) -> None:
        if ip not in self._in_returned and self._dynamic(ip):
            self._in_returned.add(ip)
            heapq.heappush(self._returned, ip)

    def _free(self, b: _Binding, now: float) -> None:
        b.state = LeaseState.RELEASED
        b.expires_at = now
        self._push_returned(b.ip)

    def _commit(
        self,
        client: bytes,
        mac: bytes | None,
        ip: int,
        state: LeaseState,
        expires_at: float,
        hostname: str | None,
    ) -> None:
        old = self._by_client.get(client)
        if old is not None and old.ip != ip:
            # One address per client: moving frees (and forgets) the one it had.
            del self._by_client[client]
            if self._by_ip.get(old.ip) is old:
                del self._by_ip[old.ip]
            self._push_returned(old.ip)
        b = self._by_ip.get(ip)
        if b is not None and b.client != client:
            # A free address remembered for another client (or an ended quarantine).
            if self._by_client.get(b.client) is b:
                del self._by_client[b.client]
            b = None
        if b is None:
            b = _Binding(client, mac, ip, state, expires_at, hostname)
            self._by_ip[ip] = b
        else:
            b.state = state
            b.expires_at = expires_at
            b.mac = mac if mac is not None else b.mac
            b.hostname = hostname if hostname is not None else b.hostname
        self._by_client[client] = b
        self._queue_expiry(ip, expires_at)


def _text(ip: int) -> str:
    return ".".join(str(b) for b in _packed(ip))
