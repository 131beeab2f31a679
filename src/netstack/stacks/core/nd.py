"""IPv6 Neighbor Discovery for hosts (RFC 4861): the neighbour cache and router lists.

- :class:`NeighborCache` does address resolution and Neighbor Unreachability Detection
  (§7.2, §7.3 and the state table of Appendix C) as a sans-I/O machine. It answers "which
  link-layer address do I send to", queues packets while resolving (bounded by bytes, per
  neighbour and in total), asks for Neighbor Solicitations through
  :meth:`~NeighborCache.solicitations_to_send` and reports the neighbours it gave up on
  from :meth:`~NeighborCache.handle_timer` with the packets still queued for them, so the
  stack can answer those with ICMPv6 address unreachable (§7.2.2).
- :class:`RouterList` is the Default Router List with default router selection (§6.3.6,
  RFC 4191 §3.2); :class:`PrefixList` the on-link prefixes (§6.3.4, RFC 5942).
- :class:`RaInfo` and its parts carry the content of a Router Advertisement as plain
  values; :class:`~netstack.stacks.core.slaac.RouterDiscovery` applies them.

Nothing here reads a clock, does I/O or touches the global ``random``; the cache draws
ReachableTime from the ``random.Random`` it is given. Addresses are 16-byte ``bytes``,
link-layer addresses ``bytes`` of the link's size (6 for Ethernet, 8 for IEEE 802.15.4).
Validating messages (hop limit 255, §6.1 and §7.1) and building packets is the stack's job.

Neighbour states change only through :data:`TRANSITIONS`, keyed by (state, input); a change
not listed there is a bug and raises ``AssertionError``. ``None`` is "no entry". Choices
the RFC leaves open:

- A REACHABLE entry becomes STALE lazily, when next looked at, so only entries with a
  retransmission or a DELAY pending wake the timer.
- ReachableTime is drawn once per interface (§6.3.2), again whenever BaseReachableTime
  changes and at least every ``reachable_time_redraw`` seconds.
- A full cache makes room by dropping the least recently used STALE entry, else REACHABLE,
  else DELAY/PROBE, else INCOMPLETE, router entries last. Packets queued on an evicted
  entry are dropped and counted.
- A neighbour that fails NUD in PROBE is removed (Appendix C) and reported like a failed
  resolution, with no packets.
"""

from __future__ import annotations

import enum
import logging
import math
import random
from collections import OrderedDict
from dataclasses import dataclass, field

__all__ = [
    "INFINITE_LIFETIME",
    "TRANSITIONS",
    "DnsslInfo",
    "NdConfig",
    "NdInput",
    "NdStats",
    "NeighborCache",
    "NeighborInfo",
    "NeighborState",
    "PrefixInfo",
    "PrefixList",
    "RaInfo",
    "RdnssInfo",
    "RouterList",
    "RouterPreference",
    "SolicitRequest",
]

log = logging.getLogger(__name__)

_UNSPECIFIED = bytes(16)
INFINITE_LIFETIME = 0xFFFFFFFF  # RFC 4861 §4.6.2: all ones means infinity


def _solicited_node(address: bytes) -> bytes:
    """RFC 4291 §2.7.1: ff02::1:ffXX:XXXX from the low 24 bits of ``address``."""
    return b"\xff\x02" + bytes(9) + b"\x01\xff" + bytes(address[13:16])


def _expiry(lifetime: int, now: float) -> float:
    return math.inf if lifetime == INFINITE_LIFETIME else now + lifetime


def _masked(prefix: bytes, length: int) -> bytes:
    """``prefix`` with the bits past ``length`` cleared."""
    value = int.from_bytes(prefix[:16].ljust(16, b"\0"))
    keep = ((1 << length) - 1) << (128 - length) if length else 0
    return (value & keep).to_bytes(16)


def _is_link_local(address: bytes) -> bool:
    """fe80::/10 (RFC 4291 §2.5.6)."""
    return address[0] == 0xFE and address[1] & 0xC0 == 0x80


# -- the neighbour cache ----------------------------------------------------------------


class NeighborState(enum.Enum):
    """RFC 4861 §7.3.2."""

    INCOMPLETE = "incomplete"
    REACHABLE = "reachable"
    STALE = "stale"
    DELAY = "delay"
    PROBE = "probe"


class NdInput(enum.Enum):
    """What moves a neighbour entry (the event column of RFC 4861 Appendix C)."""

    SEND = "packet to send"
    LLADDR = "NS, RS, RA or Redirect carrying a link-layer address"
    NA = "Neighbor Advertisement"
    CONFIRM = "upper-layer reachability confirmation"
    TIMEOUT = "timer"
    EVICT = "evicted or removed"


_N = NeighborState
_ALL: tuple[NeighborState, ...] = tuple(NeighborState)
#: (state, input) → the states an entry may be in afterwards; ``None`` is "no entry".
#: Staying put is always allowed. The source of the state diagram (RFC 4861 Appendix C).
TRANSITIONS: dict[tuple[NeighborState | None, NdInput], frozenset[NeighborState | None]] = {
    (None, NdInput.SEND): frozenset((_N.INCOMPLETE,)),
    (None, NdInput.LLADDR): frozenset((_N.STALE,)),
    (_N.INCOMPLETE, NdInput.LLADDR): frozenset((_N.STALE,)),
    (_N.INCOMPLETE, NdInput.NA): frozenset((_N.REACHABLE, _N.STALE)),
    (_N.INCOMPLETE, NdInput.TIMEOUT): frozenset((None,)),  # MAX_MULTICAST_SOLICIT reached
    (_N.REACHABLE, NdInput.TIMEOUT): frozenset((_N.STALE,)),  # ReachableTime passed
    (_N.STALE, NdInput.SEND): frozenset((_N.DELAY,)),
    (_N.DELAY, NdInput.TIMEOUT): frozenset((_N.PROBE,)),  # DELAY_FIRST_PROBE_TIME passed
    (_N.PROBE, NdInput.TIMEOUT): frozenset((None,)),  # MAX_UNICAST_SOLICIT reached
    **{(s, NdInput.LLADDR): frozenset((_N.STALE,)) for s in _ALL if s is not _N.INCOMPLETE},
    **{
        (s, NdInput.NA): frozenset((_N.REACHABLE, _N.STALE)) for s in _ALL if s is not _N.INCOMPLETE
    },
    **{(s, NdInput.CONFIRM): frozenset((_N.REACHABLE,)) for s in _ALL if s is not _N.INCOMPLETE},
    **{(s, NdInput.EVICT): frozenset((None,)) for s in _ALL},
}
del _N

#: eviction order when the cache is full: lower goes first (router entries add 4)
_EVICT_RANK = {
    NeighborState.STALE: 0,
    NeighborState.REACHABLE: 1,
    NeighborState.DELAY: 2,
    NeighborState.PROBE: 2,
    NeighborState.INCOMPLETE: 3,
}


@dataclass(slots=True)
class NdConfig:
    """Per-interface Neighbor Discovery parameters; constants from RFC 4861 §10."""

    max_entries: int = 512
    base_reachable_time: float = 30.0  # REACHABLE_TIME
    retrans_timer: float = 1.0  # RETRANS_TIMER
    delay_first_probe_time: float = 5.0  # DELAY_FIRST_PROBE_TIME
    max_multicast_solicit: int = 3  # MAX_MULTICAST_SOLICIT
    max_unicast_solicit: int = 3  # MAX_UNICAST_SOLICIT
    min_random_factor: float = 0.5  # MIN_RANDOM_FACTOR
    max_random_factor: float = 1.5  # MAX_RANDOM_FACTOR
    #: §6.3.4: ReachableTime is re-drawn "at least every few hours"
    reachable_time_redraw: float = 7200.0
    #: bytes of packets held per unresolved neighbour (Linux unres_qlen_bytes); §7.2.2
    #: asks for at least one packet
    max_queued_bytes: int = 212992
    #: bytes held across all unresolved neighbours together
    max_total_queued_bytes: int = 1 << 20


@dataclass(slots=True)
class NdStats:
    multicast_solicits: int = 0
    unicast_solicits: int = 0
    resolved: int = 0  # INCOMPLETE entries that learnt a link-layer address
    failed: int = 0  # INCOMPLETE or PROBE entries given up on
    queue_drops: int = 0  # packets dropped from (or refused by) a resolution queue
    evictions: int = 0
    advertisements_ignored: int = 0  # NAs for no entry, without a needed lladdr, or §7.2.5 I.b
    lladdr_changes: int = 0


@dataclass(slots=True)
class _Entry:
    state: NeighborState
    lladdr: bytes | None = None
    is_router: bool = False
    #: INCOMPLETE / PROBE: next retransmission; DELAY: end of the delay; REACHABLE: end of
    #: reachability; STALE: None
    deadline: float | None = None
    probes: int = 0  # solicitations sent in the current INCOMPLETE or PROBE round
    queue: list[bytes] = field(default_factory=list)
    queued_bytes: int = 0


@dataclass(frozen=True, slots=True)
class NeighborInfo:
    """A snapshot of one neighbour entry."""

    state: NeighborState
    lladdr: bytes | None
    is_router: bool


@dataclass(frozen=True, slots=True)
class SolicitRequest:
    """A Neighbor Solicitation the stack must send for ``target``.

    ``unicast_lladdr`` None: multicast to the target's solicited-node group (address
    resolution, §7.2.2); otherwise unicast to that link-layer address and to ``target``
    (NUD probe, §7.3.3). The stack picks the source address (§7.2.2) and adds the Source
    Link-Layer Address option.
    """

    target: bytes
    unicast_lladdr: bytes | None = None

    @property
    def destination(self) -> bytes:
        """The IPv6 destination: the solicited-node group, or the target itself."""
        return self.target if self.unicast_lladdr is not None else _solicited_node(self.target)


class NeighborCache:
    """One interface's Neighbor Cache (see the module docstring)."""

    def __init__(self, config: NdConfig, rng: random.Random) -> None:
        self.config = config
        self.stats = NdStats()
        self._rng = rng
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()  # least recently used first
        self._timed: set[bytes] = set()  # INCOMPLETE, DELAY and PROBE entries
        self._queued_total = 0
        self._outbox: list[SolicitRequest] = []
        self._demoted: list[bytes] = []
        self._base_reachable_time = config.base_reachable_time
        self._retrans_timer = config.retrans_timer
        self._reachable_time = self._draw_reachable_time()
        self._redraw_at: float | None = None

    # -- parameters (RFC 4861 §6.3.2) ----------------------------------------------------

    @property
    def reachable_time(self) -> float:
        """The current randomised ReachableTime."""
        return self._reachable_time

    @property
    def base_reachable_time(self) -> float:
        return self._base_reachable_time

    @property
    def retrans_timer(self) -> float:
        return self._retrans_timer

    def set_base_reachable_time(self, seconds: float) -> None:
        """A new BaseReachableTime (from an RA); ReachableTime is re-drawn if it changed."""
        if seconds > 0 and seconds != self._base_reachable_time:
            self._base_reachable_time = seconds
            self._reachable_time = self._draw_reachable_time()

    def set_retrans_timer(self, seconds: float) -> None:
        if seconds > 0:
            self._retrans_timer = seconds

    def _draw_reachable_time(self) -> float:
        cfg = self.config
        factor = self._rng.uniform(cfg.min_random_factor, cfg.max_random_factor)
        return factor * self._base_reachable_time

    # -- queries ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, address: object) -> bool:
        return address in self._entries

    def lookup(self, address: bytes, now: float) -> NeighborInfo | None:
        """The entry for ``address`` as of ``now``, without using it (no DELAY)."""
        entry = self._entries.get(address)
        if entry is None:
            return None
        self._age(entry, now)
        return NeighborInfo(entry.state, entry.lladdr, entry.is_router)

    def is_probably_reachable(self, address: bytes) -> bool:
        """§6.3.6: an entry exists and is not INCOMPLETE (REACHABLE, STALE, DELAY, PROBE)."""
        entry = self._entries.get(address)
        return entry is not None and entry.state is not NeighborState.INCOMPLETE

    @property
    def queued_bytes(self) -> int:
        return self._queued_total

    def take_demoted_routers(self) -> list[bytes]:
        """Neighbours whose IsRouter flag an NA turned off since the last call (§7.2.5);
        :class:`RouterDiscovery` drains this to drop them from the Default Router List."""
        out, self._demoted = self._demoted, []
        return out

    # -- sending (RFC 4861 §7.2.2, §7.3.3) ---------------------------------------------------

    def resolve(
        self, address: bytes, packet: bytes | bytearray | memoryview, now: float
    ) -> bytes | None:
        """The link-layer address to send ``packet`` to now, or None: the packet is queued
        and resolution started or under way."""
        entry = self._entries.get(address)
        if entry is None:
            entry = self._create(address, NdInput.SEND, NeighborState.INCOMPLETE)
            self._solicit(address, entry, None, now)
            self._enqueue(entry, packet)
            return None
        self._entries.move_to_end(address)
        self._age(entry, now)
        if entry.state is NeighborState.INCOMPLETE:
            self._enqueue(entry, packet)
            return None
        if entry.state is NeighborState.STALE:
            # §7.3.3: sending to a STALE neighbour starts the DELAY before probing
            self._enter(address, entry, NdInput.SEND, NeighborState.DELAY, now)
        return entry.lladdr

    def _enqueue(self, entry: _Entry, packet: bytes | bytearray | memoryview) -> None:
        """§7.2.2: when the queue overflows the new arrival replaces the oldest."""
        item = bytes(packet)
        size = len(item)
        cfg = self.config
        while entry.queue and (
            entry.queued_bytes + size > cfg.max_queued_bytes
            or self._queued_total + size > cfg.max_total_queued_bytes
        ):
            dropped = entry.queue.pop(0)
            entry.queued_bytes -= len(dropped)
            self._queued_total -= len(dropped)
            self.stats.queue_drops += 1
        if (
            entry.queued_bytes + size > cfg.max_queued_bytes
            or self._queued_total + size > cfg.max_total_queued_bytes
        ):
            self.stats.queue_drops += 1
            return
        entry.queue.append(item)
        entry.queued_bytes += size
        self._queued_total += size

    def _release(self, entry: _Entry) -> list[bytes]:
        queued, entry.queue = entry.queue, []
        self._queued_total -= entry.queued_bytes
        entry.queued_bytes = 0
        return queued

    def _solicit(self, address: bytes, entry: _Entry, unicast: bytes | None, now: float) -> None:
        entry.probes += 1
        entry.deadline = now + self._retrans_timer
        self._outbox.append(SolicitRequest(address, unicast))
        if unicast is None:
            self.stats.multicast_solicits += 1
        else:
            self.stats.unicast_solicits += 1

    def solicitations_to_send(self) -> list[SolicitRequest]:
        out, self._outbox = self._outbox, []
        return out

    # -- receiving -----------------------------------------------------------------------

    def on_solicitation(self, src: bytes, src_lladdr: bytes | None, now: float) -> list[bytes]:
        """A Neighbor Solicitation from ``src`` (RFC 4861 §7.2.3); returns queued packets
        now deliverable. One from the unspecified address (DAD) or without a Source
        Link-Layer Address option changes nothing."""
        if src == _UNSPECIFIED or src_lladdr is None:
            return []
        return self._learn(src, bytes(src_lladdr), None, now)

    def on_router_or_redirect(
        self, address: bytes, lladdr: bytes | None, now: float, *, is_router: bool | None = None
    ) -> list[bytes]:
        """A link-layer address learnt from an RS, RA (§6.3.4) or Redirect target (§8.3).

        ``is_router`` True for the source of an RA or a Redirect target other than the
        destination, None to leave the flag alone. Returns queued packets now deliverable.
        """
        if lladdr is None:
            entry = self._entries.get(address)
            if entry is not None and is_router is not None:
                entry.is_router = is_router  # §6.3.4: the flag is set even without the option
            return []
        return self._learn(address, bytes(lladdr), is_router, now)

    def _learn(
        self, address: bytes, lladdr: bytes, is_router: bool | None, now: float
    ) -> list[bytes]:
        """Appendix C, the rows for NS, RS, RA and Redirect."""
        entry = self._entries.get(address)
        if entry is None:
            entry = self._create(address, NdInput.LLADDR, NeighborState.STALE)
            entry.lladdr = lladdr
            entry.is_router = bool(is_router)
            return []
        if is_router is not None:
            entry.is_router = is_router
        if entry.state is NeighborState.INCOMPLETE:
            entry.lladdr = lladdr
            self.stats.resolved += 1
            self._enter(address, entry, NdInput.LLADDR, NeighborState.STALE, now)
            return self._release(entry)
        self._age(entry, now)
        if entry.lladdr != lladdr:
            entry.lladdr = lladdr
            self.stats.lladdr_changes += 1
            self._enter(address, entry, NdInput.LLADDR, NeighborState.STALE, now)
        return []

    def on_advertisement(
        self,
        target: bytes,
        lladdr: bytes | None,
        router: bool,
        solicited: bool,
        override: bool,
        now: float,
    ) -> list[bytes]:
        """A Neighbor Advertisement for ``target`` (RFC 4861 §7.2.5); returns queued packets
        now deliverable. ``lladdr`` is the Target Link-Layer Address option, if any."""
        entry = self._entries.get(target)
        if entry is None:
            # §7.2.5: no entry, no need to create one
            self.stats.advertisements_ignored += 1
            return []
        ll = None if lladdr is None else bytes(lladdr)
        if entry.state is NeighborState.INCOMPLETE:
            if ll is None:  # §7.2.5: the link has addresses, so the option is needed
                self.stats.advertisements_ignored += 1
                return []
            entry.lladdr = ll
            entry.is_router = router
            self.stats.resolved += 1
            new = NeighborState.REACHABLE if solicited else NeighborState.STALE
            self._enter(target, entry, NdInput.NA, new, now)
            return self._release(entry)
        self._age(entry, now)
        differs = ll is not None and ll != entry.lladdr
        if differs and not override:
            # §7.2.5 I: a REACHABLE entry becomes STALE and is not updated otherwise (a);
            # any other entry ignores the advertisement (b)
            if entry.state is NeighborState.REACHABLE:
                self._enter(target, entry, NdInput.NA, NeighborState.STALE, now)
            else:
                self.stats.advertisements_ignored += 1
            return []
        # §7.2.5 II: override set, same address, or no address given
        if differs:
            entry.lladdr = ll
            self.stats.lladdr_changes += 1
        if solicited:
            self._enter(target, entry, NdInput.NA, NeighborState.REACHABLE, now)
        elif differs:
            self._enter(target, entry, NdInput.NA, NeighborState.STALE, now)
        if entry.is_router and not router:
            self._demoted.append(target)  # §7.2.5: drop it from the Default Router List
        entry.is_router = router
        return []

    def confirm(self, address: bytes, now: float) -> None:
        """Upper-layer proof of forward progress (e.g. new data ACKed by TCP), §7.3.1."""
        entry = self._entries.get(address)
        if entry is not None and entry.state is not NeighborState.INCOMPLETE:
            self._enter(address, entry, NdInput.CONFIRM, NeighborState.REACHABLE, now)

    def remove(self, address: bytes) -> list[bytes]:
        """Forget ``address``; returns any packets that were queued for it."""
        entry = self._entries.get(address)
        if entry is None:
            return []
        self._delete(address, entry, NdInput.EVICT)
        return self._release(entry)

    def clear(self) -> None:
        for address in list(self._entries):
            self.remove(address)

    # -- timers ------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The next retransmission or end of a DELAY (REACHABLE ages lazily)."""
        deadlines = [self._entries[a].deadline for a in self._timed]
        return min((d for d in deadlines if d is not None), default=None)

    def handle_timer(self, now: float) -> list[tuple[bytes, list[bytes]]]:
        """Send due solicitations; returns (address, queued packets) for each neighbour
        given up on (after MAX_MULTICAST_SOLICIT or MAX_UNICAST_SOLICIT probes)."""
        failed: list[tuple[bytes, list[bytes]]] = []
        cfg = self.config
        for address in sorted(self._timed):  # sorted: bytes hashes vary between runs
            entry = self._entries[address]
            if entry.deadline is None or entry.deadline > now:
                continue
            if entry.state is NeighborState.DELAY:
                # §7.3.3: still in DELAY after DELAY_FIRST_PROBE_TIME → PROBE, unicast NS
                self._enter(address, entry, NdInput.TIMEOUT, NeighborState.PROBE, now)
                continue
            limit = (
                cfg.max_multicast_solicit
                if entry.state is NeighborState.INCOMPLETE
                else cfg.max_unicast_solicit
            )
            if entry.probes < limit:
                unicast = entry.lladdr if entry.state is NeighborState.PROBE else None
                self._solicit(address, entry, unicast, now)
                continue
            # §7.2.2 / §7.3.3: no answer after the last retransmission → remove the entry
            log.debug("ND: neighbour %s unreachable", address.hex())
            self.stats.failed += 1
            self._delete(address, entry, NdInput.TIMEOUT)
            failed.append((address, self._release(entry)))
        return failed

    # -- state changes -------------------------------------------------------------------

    def _check(self, old: NeighborState | None, event: NdInput, new: NeighborState | None) -> None:
        if old is new:
            return
        targets = TRANSITIONS.get((old, event))
        if targets is None or new not in targets:
            raise AssertionError(f"ND {old} --{event.value}--> {new} not in table")

    def _enter(
        self, address: bytes, entry: _Entry, event: NdInput, new: NeighborState, now: float
    ) -> None:
        self._check(entry.state, event, new)
        entry.state = new
        if new is NeighborState.REACHABLE:
            if self._redraw_at is None:
                self._redraw_at = now + self.config.reachable_time_redraw
            elif now >= self._redraw_at:  # §6.3.4: re-draw at least every few hours
                self._reachable_time = self._draw_reachable_time()
                self._redraw_at = now + self.config.reachable_time_redraw
            entry.deadline = now + self._reachable_time
        elif new is NeighborState.DELAY:
            entry.deadline = now + self.config.delay_first_probe_time
        elif new is NeighborState.PROBE:
            entry.probes = 0
            self._solicit(address, entry, entry.lladdr, now)
        else:  # STALE; INCOMPLETE is only entered on creation
            entry.deadline = None
        if new in (NeighborState.DELAY, NeighborState.PROBE, NeighborState.INCOMPLETE):
            self._timed.add(address)
        else:
            self._timed.discard(address)

    def _age(self, entry: _Entry, now: float) -> None:
        """§7.3.3: REACHABLE becomes STALE once ReachableTime has passed."""
        if (
            entry.state is NeighborState.REACHABLE
            and entry.deadline is not None
            and now >= entry.deadline
        ):
            self._check(entry.state, NdInput.TIMEOUT, NeighborState.STALE)
            entry.state = NeighborState.STALE
            entry.deadline = None

    def _create(self, address: bytes, event: NdInput, state: NeighborState) -> _Entry:
        self._check(None, event, state)
        self._make_room()
        entry = _Entry(state)
        self._entries[address] = entry
        if state is NeighborState.INCOMPLETE:
            self._timed.add(address)
        return entry

    def _delete(self, address: bytes, entry: _Entry, event: NdInput) -> None:
        self._check(entry.state, event, None)
        del self._entries[address]
        self._timed.discard(address)

    def _make_room(self) -> None:
        while self._entries and len(self._entries) >= self.config.max_entries:
            victim, best = b"", 99
            for address, entry in self._entries.items():  # least recently used first
                rank = _EVICT_RANK[entry.state] + (4 if entry.is_router else 0)
                if rank < best:
                    victim, best = address, rank
                    if rank == 0:
                        break
            dropped = self.remove(victim)
            self.stats.evictions += 1
            self.stats.queue_drops += len(dropped)


# -- router discovery (RFC 4861 §6.3.4) --------------------------------------------------


class RouterPreference(enum.IntEnum):
    """RFC 4191 §2.1 Default Router Preference, as the two bits on the wire."""

    MEDIUM = 0b00
    HIGH = 0b01
    RESERVED = 0b10  # §2.2: treated as MEDIUM
    LOW = 0b11


_PREFERENCE_RANK = {
    RouterPreference.HIGH: 1,
    RouterPreference.MEDIUM: 0,
    RouterPreference.RESERVED: 0,
    RouterPreference.LOW: -1,
}


@dataclass(frozen=True, slots=True)
class PrefixInfo:
    """A Prefix Information option (RFC 4861 §4.6.2); lifetimes in seconds as sent,
    :data:`INFINITE_LIFETIME` for infinity."""

    prefix: bytes
    length: int
    on_link: bool  # L
    autonomous: bool  # A
    valid_lifetime: int
    preferred_lifetime: int


@dataclass(frozen=True, slots=True)
class RdnssInfo:
    """A Recursive DNS Server option (RFC 8106 §5.1); lifetime in seconds."""

    lifetime: int
    addresses: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class DnsslInfo:
    """A DNS Search List option (RFC 8106 §5.2); names as dotted text."""

    lifetime: int
    domains: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RaInfo:
    """The content of one valid Router Advertisement, in the units of the wire.

    Zero in ``cur_hop_limit``, ``reachable_time_ms`` or ``retrans_timer_ms`` means
    "unspecified" (§4.2); ``source_lladdr`` is the Source Link-Layer Address option.
    """

    router: bytes
    router_lifetime: int
    cur_hop_limit: int = 0
    reachable_time_ms: int = 0
    retrans_timer_ms: int = 0
    mtu: int | None = None
    prefixes: tuple[PrefixInfo, ...] = ()
    rdnss: tuple[RdnssInfo, ...] = ()
    dnssl: tuple[DnsslInfo, ...] = ()
    source_lladdr: bytes | None = None
    preference: RouterPreference = RouterPreference.MEDIUM


@dataclass(slots=True)
class _Router:
    expires: float
    preference: int  # rank: 1 high, 0 medium, -1 low


class RouterList:
    """The Default Router List (§6.3.4) and default router selection (§6.3.6)."""

    def __init__(self, max_routers: int = 8) -> None:
        self.max_routers = max_routers
        self._routers: dict[bytes, _Router] = {}  # in order of arrival
        self._current: bytes | None = None
        self._last_round_robin: bytes | None = None

    def update(
        self,
        address: bytes,
        lifetime: int,
        now: float,
        preference: RouterPreference = RouterPreference.MEDIUM,
    ) -> bool:
        """Apply an RA's Router Lifetime: add, refresh or (with 0) remove. False when a new
        router did not fit."""
        self._purge(now)
        if lifetime == 0:
            self.remove(address)
            return True
        router = self._routers.get(address)
        rank = _PREFERENCE_RANK[preference]
        if router is None:
            if len(self._routers) >= self.max_routers:
                return False
            self._routers[address] = _Router(now + lifetime, rank)
        else:
            router.expires = now + lifetime  # 16-bit field: never "infinite"
            router.preference = rank
        return True

    def remove(self, address: bytes) -> None:
        self._routers.pop(address, None)

    def routers(self, now: float) -> list[bytes]:
        self._purge(now)
        return list(self._routers)

    def select(self, now: float, cache: NeighborCache) -> bytes | None:
        """§6.3.6: prefer routers that are reachable or probably reachable (their entry
        exists and is not INCOMPLETE), the highest RFC 4191 preference among them, and keep
        the router chosen last while it qualifies; when none qualifies, go round-robin."""
        self._purge(now)
        if not self._routers:
            return None
        usable = [a for a in self._routers if cache.is_probably_reachable(a)]
        if usable:
            best = max(self._routers[a].preference for a in usable)
            top = [a for a in usable if self._routers[a].preference == best]
            chosen = self._current if self._current in top else top[0]
            self._current = chosen
            return chosen
        order = list(self._routers)
        last = self._last_round_robin
        index = order.index(last) + 1 if last in self._routers else 0
        chosen = order[index % len(order)]
        self._last_round_robin = self._current = chosen
        return chosen

    def _purge(self, now: float) -> None:
        for address in [a for a, r in self._routers.items() if r.expires <= now]:
            del self._routers[address]


class PrefixList:
    """The Prefix List of on-link prefixes (§6.3.4, §5.2); link-local is always on-link."""

    def __init__(self, max_prefixes: int = 16) -> None:
        self.max_prefixes = max_prefixes
        self._prefixes: dict[tuple[bytes, int], float] = {}

    def update(self, prefix: bytes, length: int, valid_lifetime: int, now: float) -> bool:
        """A Prefix Information option with the L flag (§6.3.4). False when ignored."""
        if not 0 < length <= 128 or _is_link_local(prefix):
            return False  # "If the prefix is the link-local prefix, silently ignore"
        self._purge(now)
        key = (_masked(prefix, length), length)
        if valid_lifetime == 0:
            self._prefixes.pop(key, None)  # "time-out the prefix immediately"
            return True
        if key not in self._prefixes and len(self._prefixes) >= self.max_prefixes:
            return False
        self._prefixes[key] = _expiry(valid_lifetime, now)
        return True

    def is_on_link(self, address: bytes, now: float) -> bool:
        if _is_link_local(address):
            return True
        self._purge(now)
        return any(_masked(address, length) == p for (p, length) in self._prefixes)

    def prefixes(self, now: float) -> list[tuple[bytes, int]]:
        self._purge(now)
        return list(self._prefixes)

    def _purge(self, now: float) -> None:
        for key in [k for k, expires in self._prefixes.items() if expires <= now]:
            del self._prefixes[key]
