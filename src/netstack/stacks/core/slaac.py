"""IPv6 host configuration from Router Advertisements, as sans-I/O machines.

- :class:`AddressManager` is Stateless Address Autoconfiguration (RFC 4862) for one
  interface: the link-local address formed at :meth:`~AddressManager.start`, a global
  address for every /64 prefix an RA offers with the A flag (§5.5.3), Duplicate Address
  Detection for each (§5.4) and the Router Solicitations a host sends at start-up (RFC 4861
  §6.3.7). It takes the time, RA content (:class:`~netstack.stacks.core.nd.RaInfo`) and the
  ND messages that concern its tentative addresses, and produces output records, one timer
  deadline and queries.
- :class:`RouterDiscovery` applies the rest of an RA (RFC 4861 §6.3.4): the Default Router
  List, the Prefix List, MTU, hop limit, the neighbour cache's BaseReachableTime and
  RetransTimer, and the RDNSS / DNSSL lists (RFC 8106 §5.3). Give every valid RA to both.

Neither reads a clock; every random delay, nonce and secret comes from the
``random.Random`` given to the machine.

Glue duties:

- on :class:`AddressTentative`, join the address's solicited-node group (§5.4.2); on
  :class:`DadFailed` and :class:`AddressRemoved`, leave it and stop using the address;
- send each :class:`DadProbe` as a Neighbor Solicitation from ``::`` to the target's
  solicited-node group with the target, no Source Link-Layer Address option and a Nonce
  option (RFC 3971 §5.3.2) holding ``nonce``;
- send each :class:`RouterSolicit` from ``source`` to ff02::2 (with the Source
  Link-Layer Address option unless ``source`` is ``::``);
- use an address as a source once :class:`AddressPreferred` or :class:`AddressDeprecated`
  says DAD is done (deprecated addresses only for existing flows, RFC 4862 §5.5.4);
- pass every NS whose target is one of this interface's addresses to
  :meth:`~AddressManager.on_neighbor_solicitation` (with the nonce it carried) and drop it
  when that returns True; pass every NA to :meth:`~AddressManager.on_neighbor_advertisement`;
- on :class:`Ipv6Disabled`, stop IPv6 on the interface (§5.4.5).

SLAAC address states change only through :data:`TRANSITIONS`; ``None`` is "removed".
Choices the RFCs leave open:

- Every DAD starts after a random delay in [0, ``max_dad_delay``] (§5.4.2 asks it only
  for the first message after initialisation; Linux delays every address this way).
- Our own NS looped back by the link is recognised by its nonce, as Enhanced DAD does
  (RFC 7527 §4): any other NS from ``::`` for a tentative address is a duplicate.
- With RFC 7217 identifiers a duplicate gets a fresh identifier from the next DAD_Counter,
  up to ``idgen_retries`` times (RFC 7217 §6). Only a link-local address whose identifier
  comes from the hardware address disables IPv6 when it is a duplicate (§5.4.5).
- A duplicate that is not retried stays listed as DUPLICATE until its valid lifetime
  ends (or :meth:`~AddressManager.stop`), so the prefix does not form it again.
- RSs stop on an RA with a non-zero Router Lifetime (RFC 4861 §6.3.7).
- Router, prefix and DNS lists expire lazily: queries take ``now`` and skip what expired.
- The neighbour cache's IsRouter changes (RFC 4861 §7.2.5) are drained by the
  :class:`RouterDiscovery` that owns the cache, which drops those routers.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from netstack.stacks.core.nd import (
    INFINITE_LIFETIME,
    NeighborCache,
    PrefixInfo,
    PrefixList,
    RaInfo,
    RouterList,
)

__all__ = [
    "TRANSITIONS",
    "AddressDeprecated",
    "AddressInfo",
    "AddressInput",
    "AddressManager",
    "AddressPreferred",
    "AddressRemoved",
    "AddressState",
    "AddressTentative",
    "DadFailed",
    "DadProbe",
    "Ipv6Disabled",
    "RaStats",
    "RouterDiscovery",
    "RouterDiscoveryConfig",
    "RouterSolicit",
    "SlaacConfig",
    "SlaacOutput",
    "SlaacStats",
]

log = logging.getLogger(__name__)

_UNSPECIFIED = bytes(16)
_LINK_LOCAL_PREFIX = b"\xfe\x80" + bytes(6)  # fe80::/64 (RFC 4291 §2.5.6)
TWO_HOURS = 7200.0  # RFC 4862 §5.5.3 e)
_MIN_LINK_MTU = 1280  # RFC 8200 §5
_T = TypeVar("_T")


def _solicited_node(address: bytes) -> bytes:
    """RFC 4291 §2.7.1: ff02::1:ffXX:XXXX from the low 24 bits of ``address``."""
    return b"\xff\x02" + bytes(9) + b"\x01\xff" + bytes(address[13:16])


def _eui64_iid(lladdr: bytes) -> bytes:
    """RFC 4291 Appendix A (48-bit MAC) and RFC 4944 §6 (EUI-64): the modified EUI-64
    interface identifier, with the universal/local bit inverted."""
    if len(lladdr) == 6:
        eui = lladdr[:3] + b"\xff\xfe" + lladdr[3:]
    elif len(lladdr) == 8:
        eui = lladdr
    else:
        raise ValueError("need a 6- or 8-byte link-layer address for an EUI-64 identifier")
    return bytes((eui[0] ^ 0x02,)) + eui[1:]


def _reserved_iid(iid: bytes) -> bool:
    """RFC 5453 reserved identifiers: zero, proxy mobile IPv6 02-00-5e-ff-fe-xx-xx-xx and
    the subnet anycast range fdff:ffff:ffff:ff80 - fdff:ffff:ffff:ffff."""
    return (
        iid == bytes(8)
        or iid[:5] == b"\x02\x00\x5e\xff\xfe"
        or (iid[:7] == b"\xfd\xff\xff\xff\xff\xff\xff" and iid[7] >= 0x80)
    )


def _stable_iid(prefix: bytes, name: str, network_id: bytes, counter: int, key: bytes) -> bytes:
    """RFC 7217 §5: F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key) with SHA-256,
    the first 64 bits. DAD_Counter is encoded as one byte."""
    data = prefix[:8] + name.encode() + network_id + bytes((counter & 0xFF,)) + key
    return hashlib.sha256(data).digest()[:8]


def _lifetime(seconds: int) -> float:
    return math.inf if seconds == INFINITE_LIFETIME else float(seconds)


class AddressState(enum.Enum):
    """RFC 4862 §2 address states (optimistic DAD is not supported)."""

    TENTATIVE = "tentative"
    PREFERRED = "preferred"
    DEPRECATED = "deprecated"
    DUPLICATE = "duplicate"


class AddressInput(enum.Enum):
    DAD_DONE = "DAD found no duplicate"
    DAD_CONFLICT = "DAD found a duplicate"
    PREFERRED_EXPIRED = "preferred lifetime ended"
    PREFERRED_RENEWED = "preferred lifetime renewed"
    VALID_EXPIRED = "valid lifetime ended"
    STOP = "interface stopped or IPv6 disabled"


_A = AddressState
#: (state, input) → the states an address may be in afterwards; ``None`` is "removed".
#: Staying put is always allowed.
TRANSITIONS: dict[tuple[AddressState, AddressInput], frozenset[AddressState | None]] = {
    (_A.TENTATIVE, AddressInput.DAD_DONE): frozenset((_A.PREFERRED, _A.DEPRECATED)),
    (_A.TENTATIVE, AddressInput.DAD_CONFLICT): frozenset((_A.DUPLICATE,)),
    (_A.PREFERRED, AddressInput.PREFERRED_EXPIRED): frozenset((_A.DEPRECATED,)),
    (_A.DEPRECATED, AddressInput.PREFERRED_RENEWED): frozenset((_A.PREFERRED,)),
    **{(s, AddressInput.VALID_EXPIRED): frozenset((None,)) for s in AddressState},
    **{(s, AddressInput.STOP): frozenset((None,)) for s in AddressState},
}
del _A


# -- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressTentative:
    """A new address under DAD: join its solicited-node group, do not use it yet."""

    address: bytes
    prefix_len: int


@dataclass(frozen=True, slots=True)
class DadProbe:
    """A DAD Neighbor Solicitation for ``target`` from ``::`` with a Nonce option."""

    target: bytes
    nonce: bytes

    @property
    def destination(self) -> bytes:
        return _solicited_node(self.target)


@dataclass(frozen=True, slots=True)
class AddressPreferred:
    """The address passed DAD (or got a new preferred lifetime): use it."""

    address: bytes
    prefix_len: int


@dataclass(frozen=True, slots=True)
class AddressDeprecated:
    """The preferred lifetime ended (or was zero when DAD finished): assigned, but new
    flows should pick another source (RFC 4862 §5.5.4)."""

    address: bytes
    prefix_len: int


@dataclass(frozen=True, slots=True)
class AddressRemoved:
    """The valid lifetime ended or the manager stopped: remove the address."""

    address: bytes
    prefix_len: int


@dataclass(frozen=True, slots=True)
class DadFailed:
    """Another node uses the tentative ``address`` (§5.4.5); it will not be assigned."""

    address: bytes
    prefix_len: int


@dataclass(frozen=True, slots=True)
class Ipv6Disabled:
    """The hardware-derived link-local address is a duplicate: stop IPv6 (§5.4.5)."""


@dataclass(frozen=True, slots=True)
class RouterSolicit:
    """A Router Solicitation to ff02::2 from ``source`` (``::`` while no address is
    assigned, RFC 4861 §6.3.7)."""

    source: bytes


SlaacOutput = (
    AddressTentative
    | DadProbe
    | AddressPreferred
    | AddressDeprecated
    | AddressRemoved
    | DadFailed
    | Ipv6Disabled
    | RouterSolicit
)


@dataclass(frozen=True, slots=True)
class AddressInfo:
    """A snapshot of one address; times are absolute (``math.inf`` for infinite)."""

    address: bytes
    prefix_len: int
    state: AddressState
    preferred_until: float
    valid_until: float

    @property
    def link_local(self) -> bool:
        return self.address[:8] == _LINK_LOCAL_PREFIX


# -- configuration -----------------------------------------------------------------------


@dataclass(slots=True)
class SlaacConfig:
    dup_addr_detect_transmits: int = 1  # RFC 4862 §5.1 DupAddrDetectTransmits
    retrans_timer: float = 1.0  # RFC 4861 §10 RETRANS_TIMER; an RA may change it
    max_dad_delay: float = 1.0  # RFC 4862 §5.4.2 (MAX_RTR_SOLICITATION_DELAY)
    max_rtr_solicitation_delay: float = 1.0  # RFC 4861 §10
    rtr_solicitation_interval: float = 4.0  # RFC 4861 §10
    max_rtr_solicitations: int = 3  # RFC 4861 §10
    #: RFC 7217 stable opaque identifiers instead of EUI-64
    stable_privacy: bool = False
    interface_name: str = ""  # RFC 7217 Net_Iface
    network_id: bytes = b""  # RFC 7217 Network_ID (e.g. the SSID); optional
    #: RFC 7217 secret_key; None draws 32 bytes from the rng at construction (keep
    #: :attr:`AddressManager.secret_key` to get the same addresses after a restart)
    secret_key: bytes | None = None
    idgen_retries: int = 3  # RFC 7217 §6 IDGEN_RETRIES
    #: an explicit 8-byte interface identifier (e.g. configured), instead of EUI-64
    interface_id: bytes | None = None
    max_addresses: int = 16  # link-local included
    nonce_len: int = 6  # RFC 3971 §5.3.2 minimum; Linux sends 6 bytes


@dataclass(slots=True)
class SlaacStats:
    dad_probes: int = 0
    dad_successes: int = 0
    dad_failures: int = 0
    looped_back_probes: int = 0  # our own NS seen again (nonce match)
    conflicts_after_dad: int = 0  # NAs for an assigned address (§5.4.4 "log an error")
    prefixes_ignored: int = 0  # §5.5.3 a)-d) rejections and a full address table
    router_solicits: int = 0


@dataclass(slots=True)
class _Address:
    address: bytes
    state: AddressState
    preferred_until: float
    valid_until: float
    link_local: bool
    stable: bool  # RFC 7217 identifier (retry on conflict)
    dad_counter: int = 0
    probes_sent: int = 0
    dad_at: float | None = None  # next DAD step while TENTATIVE
    nonces: tuple[bytes, ...] = ()


class AddressManager:
    """SLAAC, DAD and router solicitation for one interface (see the module docstring)."""

    PREFIX_LEN = 64  # RFC 4291 §2.5.1: 64-bit interface identifiers

    def __init__(
        self, lladdr: bytes, rng: random.Random, config: SlaacConfig | None = None
    ) -> None:
        self.config = config or SlaacConfig()
        self.stats = SlaacStats()
        self._rng = rng
        cfg = self.config
        self._hardware_iid = cfg.interface_id is None and not cfg.stable_privacy
        if cfg.interface_id is not None:
            if len(cfg.interface_id) != 8:
                raise ValueError("interface_id must be 8 bytes")
            self._iid = bytes(cfg.interface_id)
        elif cfg.stable_privacy:
            self._iid = b""
        else:
            self._iid = _eui64_iid(bytes(lladdr))
        self._secret = b""
        if cfg.stable_privacy:
            self._secret = cfg.secret_key if cfg.secret_key is not None else rng.randbytes(32)
        self._retrans_timer = cfg.retrans_timer
        self._addresses: dict[bytes, _Address] = {}  # by 8-byte prefix
        self._outbox: list[SlaacOutput] = []
        self._running = False
        self._disabled = False
        self._rs_at: float | None = None
        self._rs_sent = 0

    # -- verbs ------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Interface up: form the link-local address, start DAD and router solicitation."""
        if self._running or self._disabled:
            return
        self._running = True
        self._add(_LINK_LOCAL_PREFIX, math.inf, math.inf, now, link_local=True)
        # RFC 4861 §6.3.7: delay the first RS by a random time up to the maximum
        self._rs_at = now + self._rng.uniform(0.0, self.config.max_rtr_solicitation_delay)
        self._rs_sent = 0

    def stop(self) -> None:
        """Interface down: every address is removed and timers stop. A later
        :meth:`start` begins afresh, even after IPv6 was disabled."""
        for prefix, entry in list(self._addresses.items()):
            self._remove(prefix, entry, AddressInput.STOP)
        self._running = False
        self._disabled = False
        self._rs_at = None

    def set_retrans_timer(self, seconds: float) -> None:
        if seconds > 0:
            self._retrans_timer = seconds

    # -- inputs -----------------------------------------------------------------------------

    def on_router_advertisement(self, ra: RaInfo, now: float) -> None:
        """Apply the RA's autoconfiguration content (valid per RFC 4861 §6.1.2)."""
        if not self._running:
            return
        if ra.router_lifetime != 0:
            self._rs_at = None  # RFC 4861 §6.3.7: desist from sending solicitations
        if ra.retrans_timer_ms:
            self.set_retrans_timer(ra.retrans_timer_ms / 1000.0)
        for info in ra.prefixes:
            self.on_prefix_information(info, now)

    def on_prefix_information(self, info: PrefixInfo, now: float) -> None:
        """RFC 4862 §5.5.3 for one Prefix Information option."""
        if not self._running or not info.autonomous:  # a)
            return
        if info.prefix[:2] == b"\xfe\x80" or info.preferred_lifetime > info.valid_lifetime:
            self.stats.prefixes_ignored += 1  # b) link-local prefix, c) preferred > valid
            return
        if info.length != self.PREFIX_LEN:
            # d) prefix length + interface identifier length must be 128
            log.debug("SLAAC: ignoring /%d prefix %s", info.length, info.prefix.hex())
            self.stats.prefixes_ignored += 1
            return
        prefix = bytes(info.prefix[:8])
        valid = _lifetime(info.valid_lifetime)
        preferred = _lifetime(info.preferred_lifetime)
        entry = self._addresses.get(prefix)
        if entry is None:  # d) a new prefix
            if valid == 0:
                return
            if len(self._addresses) >= self.config.max_addresses:
                self.stats.prefixes_ignored += 1
                return
            self._add(prefix, now + preferred, now + valid, now, link_local=False)
            return
        # e) a prefix we already formed an address from
        entry.preferred_until = now + preferred
        remaining = entry.valid_until - now
        if valid > TWO_HOURS or valid > remaining:  # e) 1.
            entry.valid_until = now + valid
        elif remaining > TWO_HOURS:  # e) 3.; e) 2. (≤ two hours left) leaves it alone
            entry.valid_until = now + TWO_HOURS
        entry.preferred_until = min(entry.preferred_until, entry.valid_until)
        self._update_preference(entry, now)

    def on_neighbor_solicitation(
        self, target: bytes, source: bytes, nonce: bytes | None, now: float
    ) -> bool:
        """An NS for ``target`` arrived. True when ``target`` is tentative here: the stack
        must not answer it (RFC 4862 §5.4.3)."""
        entry = self._by_address(target)
        if entry is None or entry.state is not AddressState.TENTATIVE:
            return False
        if source != _UNSPECIFIED:
            return True  # address resolution by someone else: silently ignored
        if nonce is not None and nonce in entry.nonces:
            self.stats.looped_back_probes += 1  # our own probe, looped back (RFC 7527 §4)
            return True
        log.debug("SLAAC: DAD NS from another node for %s", target.hex())
        self._dad_failed(entry, now)
        return True

    def on_neighbor_advertisement(self, target: bytes, now: float) -> bool:
        """An NA for ``target`` arrived (any flags). True when it proved a tentative
        address a duplicate (RFC 4862 §5.4.4)."""
        entry = self._by_address(target)
        if entry is None:
            return False
        if entry.state is AddressState.TENTATIVE:
            log.debug("SLAAC: DAD NA for %s", target.hex())
            self._dad_failed(entry, now)
            return True
        if entry.state is not AddressState.DUPLICATE:
            # §5.4.4: a duplicate DAD did not catch; the RFC asks only for a log entry
            self.stats.conflicts_after_dad += 1
            log.debug("SLAAC: NA from another node for our address %s", target.hex())
        return False

    # -- queries ---------------------------------------------------------------------------

    @property
    def disabled(self) -> bool:
        """True once IPv6 was disabled by a duplicate hardware link-local (§5.4.5)."""
        return self._disabled

    @property
    def secret_key(self) -> bytes:
        """The RFC 7217 secret in use (empty unless ``stable_privacy``)."""
        return self._secret

    def addresses(self, now: float) -> list[AddressInfo]:
        """Every address not yet removed, whatever its state, as of ``now``."""
        out = []
        for entry in self._addresses.values():
            if entry.valid_until <= now:
                continue
            state = entry.state
            if state is AddressState.PREFERRED and entry.preferred_until <= now:
                state = AddressState.DEPRECATED
            out.append(
                AddressInfo(
                    entry.address,
                    self.PREFIX_LEN,
                    state,
                    entry.preferred_until,
                    entry.valid_until,
                )
            )
        return out

    def link_local(self, now: float) -> bytes | None:
        """The link-local address once DAD passed."""
        for info in self.addresses(now):
            if info.link_local and info.state in (
                AddressState.PREFERRED,
                AddressState.DEPRECATED,
            ):
                return info.address
        return None

    def preferred_global(self, now: float) -> bytes | None:
        """A preferred global address, the one preferred the longest (first on ties)."""
        best: AddressInfo | None = None
        for info in self.addresses(now):
            if info.link_local or info.state is not AddressState.PREFERRED:
                continue
            if best is None or info.preferred_until > best.preferred_until:
                best = info
        return None if best is None else best.address

    def is_tentative(self, address: bytes) -> bool:
        entry = self._by_address(address)
        return entry is not None and entry.state is AddressState.TENTATIVE

    def outputs(self) -> list[SlaacOutput]:
        """Drain the output records, in the order they arose."""
        out, self._outbox = self._outbox, []
        return out

    # -- timers -------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        deadlines = [] if self._rs_at is None else [self._rs_at]
        for entry in self._addresses.values():
            if entry.dad_at is not None:
                deadlines.append(entry.dad_at)
            if entry.state is AddressState.PREFERRED:
                deadlines.append(entry.preferred_until)
            deadlines.append(entry.valid_until)
        due = min(deadlines, default=math.inf)
        return None if due == math.inf else due

    def handle_timer(self, now: float) -> None:
        for prefix, entry in list(self._addresses.items()):
            if entry.valid_until <= now:
                self._remove(prefix, entry, AddressInput.VALID_EXPIRED)
                continue
            if entry.dad_at is not None and entry.dad_at <= now:
                self._dad_step(entry, now)
            self._update_preference(entry, now)
        if self._rs_at is not None and self._rs_at <= now:
            self._outbox.append(RouterSolicit(self.link_local(now) or _UNSPECIFIED))
            self.stats.router_solicits += 1
            self._rs_sent += 1
            cfg = self.config
            more = self._rs_sent < cfg.max_rtr_solicitations
            self._rs_at = now + cfg.rtr_solicitation_interval if more else None

    # -- DAD (RFC 4862 §5.4) ---------------------------------------------------------------

    def _add(
        self, prefix: bytes, preferred: float, valid: float, now: float, *, link_local: bool
    ) -> None:
        address, counter = self._form(prefix, 0)
        entry = _Address(
            address,
            AddressState.TENTATIVE,
            min(preferred, valid),
            valid,
            link_local=link_local,
            stable=self.config.stable_privacy,
            dad_counter=counter,
        )
        self._addresses[prefix] = entry
        self._start_dad(entry, now)

    def _form(self, prefix: bytes, counter: int) -> tuple[bytes, int]:
        """prefix + interface identifier; RFC 7217 identifiers skip reserved values by
        moving on to the next counter."""
        cfg = self.config
        if not cfg.stable_privacy:
            return prefix + self._iid, counter
        while True:
            iid = _stable_iid(prefix, cfg.interface_name, cfg.network_id, counter, self._secret)
            if not _reserved_iid(iid):
                return prefix + iid, counter
            counter += 1

    def _start_dad(self, entry: _Address, now: float) -> None:
        self._outbox.append(AddressTentative(entry.address, self.PREFIX_LEN))
        entry.probes_sent = 0
        entry.nonces = ()
        if self.config.dup_addr_detect_transmits <= 0:
            self._dad_done(entry, now)  # §5.4: DAD disabled, the address is unique
            return
        entry.dad_at = now + self._rng.uniform(0.0, self.config.max_dad_delay)

    def _dad_step(self, entry: _Address, now: float) -> None:
        if entry.probes_sent < self.config.dup_addr_detect_transmits:
            # §5.4.2: DupAddrDetectTransmits solicitations, RetransTimer apart
            nonce = self._rng.randbytes(self.config.nonce_len)
            entry.nonces += (nonce,)
            entry.probes_sent += 1
            entry.dad_at = now + self._retrans_timer
            self._outbox.append(DadProbe(entry.address, nonce))
            self.stats.dad_probes += 1
            return
        # RetransTimer after the last probe and no conflict: the address is unique
        self._dad_done(entry, now)

    def _dad_done(self, entry: _Address, now: float) -> None:
        entry.dad_at = None
        self.stats.dad_successes += 1
        if entry.preferred_until > now:
            self._set(entry, AddressInput.DAD_DONE, AddressState.PREFERRED)
            self._outbox.append(AddressPreferred(entry.address, self.PREFIX_LEN))
        else:  # §5.5.3 d): a zero preferred lifetime makes a deprecated address
            self._set(entry, AddressInput.DAD_DONE, AddressState.DEPRECATED)
            self._outbox.append(AddressDeprecated(entry.address, self.PREFIX_LEN))

    def _dad_failed(self, entry: _Address, now: float) -> None:
        """§5.4.5, with RFC 7217 §6 retries."""
        entry.dad_at = None
        self._set(entry, AddressInput.DAD_CONFLICT, AddressState.DUPLICATE)
        self.stats.dad_failures += 1
        self._outbox.append(DadFailed(entry.address, self.PREFIX_LEN))
        prefix = entry.address[:8]
        if entry.stable and entry.dad_counter < self.config.idgen_retries:
            address, counter = self._form(prefix, entry.dad_counter + 1)
            retry = _Address(
                address,
                AddressState.TENTATIVE,
                entry.preferred_until,
                entry.valid_until,
                link_local=entry.link_local,
                stable=True,
                dad_counter=counter,
            )
            self._addresses[prefix] = retry
            self._start_dad(retry, now)
        elif entry.link_local and self._hardware_iid:
            self._disable()

    def _disable(self) -> None:
        """§5.4.5: IP operation on the interface SHOULD be disabled."""
        log.debug("SLAAC: duplicate hardware link-local address, disabling IPv6")
        for prefix, entry in list(self._addresses.items()):
            if not entry.link_local:
                self._remove(prefix, entry, AddressInput.STOP)
        self._disabled = True
        self._running = False
        self._rs_at = None
        self._outbox.append(Ipv6Disabled())

    # -- lifetimes (RFC 4862 §5.5.4) ------------------------------------------------------

    def _update_preference(self, entry: _Address, now: float) -> None:
        if entry.state is AddressState.PREFERRED and entry.preferred_until <= now:
            self._set(entry, AddressInput.PREFERRED_EXPIRED, AddressState.DEPRECATED)
            self._outbox.append(AddressDeprecated(entry.address, self.PREFIX_LEN))
        elif entry.state is AddressState.DEPRECATED and entry.preferred_until > now:
            self._set(entry, AddressInput.PREFERRED_RENEWED, AddressState.PREFERRED)
            self._outbox.append(AddressPreferred(entry.address, self.PREFIX_LEN))

    def _remove(self, prefix: bytes, entry: _Address, event: AddressInput) -> None:
        self._check(entry.state, event, None)
        del self._addresses[prefix]
        if entry.state is not AddressState.DUPLICATE:  # DadFailed already said so
            self._outbox.append(AddressRemoved(entry.address, self.PREFIX_LEN))

    def _by_address(self, address: bytes) -> _Address | None:
        entry = self._addresses.get(bytes(address[:8]))
        return entry if entry is not None and entry.address == address else None

    @staticmethod
    def _check(old: AddressState, event: AddressInput, new: AddressState | None) -> None:
        if old is new:
            return
        targets = TRANSITIONS.get((old, event))
        if targets is None or new not in targets:
            raise AssertionError(f"SLAAC {old} --{event.value}--> {new} not in table")

    def _set(self, entry: _Address, event: AddressInput, new: AddressState) -> None:
        self._check(entry.state, event, new)
        log.debug("SLAAC %s %s --%s--> %s", entry.address.hex(), entry.state, event, new)
        entry.state = new


# -- router discovery (RFC 4861 §6.3.4, RFC 8106) ----------------------------------------


class _LifetimeList(Generic[_T]):
    """RFC 8106 §5.3.1: items with lifetimes; 0 deletes; when full, the item that expires
    first makes way for a new one."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[_T, float] = {}

    def update(self, items: Iterable[_T], lifetime: int, now: float) -> None:
        self._purge(now)
        for item in items:
            if lifetime == 0:
                self._items.pop(item, None)
                continue
            expires = now + _lifetime(lifetime)
            if item not in self._items and len(self._items) >= self.limit:
                soonest = min(self._items, key=self._items.__getitem__)
                if self._items[soonest] >= expires:
                    continue
                del self._items[soonest]
            self._items[item] = expires

    def current(self, now: float) -> list[_T]:
        self._purge(now)
        return list(self._items)

    def _purge(self, now: float) -> None:
        for item in [i for i, expires in self._items.items() if expires <= now]:
            del self._items[item]


@dataclass(slots=True)
class RouterDiscoveryConfig:
    #: the link's own MTU: an RA may lower the MTU, never raise it past this (§6.3.4)
    link_mtu: int = 1500
    cur_hop_limit: int = 64  # the default until an RA says otherwise (RFC 8200 §3)
    max_routers: int = 8
    max_prefixes: int = 16
    max_dns_servers: int = 3  # RFC 8106 §5.3.1 suggests three
    max_search_domains: int = 6


@dataclass(slots=True)
class RaStats:
    advertisements: int = 0
    routers_ignored: int = 0  # new routers that found the list full
    prefixes_ignored: int = 0
    mtu_ignored: int = 0  # MTU options outside [1280, link_mtu]


class RouterDiscovery:
    """What a host learns from Router Advertisements on one interface (RFC 4861 §6.3.4)."""

    def __init__(self, cache: NeighborCache, config: RouterDiscoveryConfig | None = None) -> None:
        self.config = config or RouterDiscoveryConfig()
        self.stats = RaStats()
        self.cache = cache
        self.routers = RouterList(self.config.max_routers)
        self.prefixes = PrefixList(self.config.max_prefixes)
        self.mtu = self.config.link_mtu
        self.cur_hop_limit = self.config.cur_hop_limit
        self._dns_servers: _LifetimeList[bytes] = _LifetimeList(self.config.max_dns_servers)
        self._search_domains: _LifetimeList[str] = _LifetimeList(self.config.max_search_domains)

    def on_router_advertisement(self, ra: RaInfo, now: float) -> list[bytes]:
        """Apply one RA (already validated per §6.1.2). Returns packets that were queued
        for the router's address and can now go to its link-layer address."""
        self.stats.advertisements += 1
        self._drop_demoted()
        # §6.3.4: Router Lifetime, with the RFC 4191 preference
        if not self.routers.update(ra.router, ra.router_lifetime, now, ra.preference):
            self.stats.routers_ignored += 1
        if ra.cur_hop_limit:
            self.cur_hop_limit = ra.cur_hop_limit
        if ra.reachable_time_ms:
            self.cache.set_base_reachable_time(ra.reachable_time_ms / 1000.0)
        if ra.retrans_timer_ms:
            self.cache.set_retrans_timer(ra.retrans_timer_ms / 1000.0)
        if ra.mtu is not None:
            if _MIN_LINK_MTU <= ra.mtu <= self.config.link_mtu:
                self.mtu = ra.mtu
            else:
                self.stats.mtu_ignored += 1
        for info in ra.prefixes:
            if info.on_link and not self.prefixes.update(
                info.prefix, info.length, info.valid_lifetime, now
            ):
                self.stats.prefixes_ignored += 1
        for rdnss in ra.rdnss:
            self._dns_servers.update(rdnss.addresses, rdnss.lifetime, now)
        for dnssl in ra.dnssl:
            self._search_domains.update(dnssl.domains, dnssl.lifetime, now)
        # §6.3.4: record the router's link-layer address; IsRouter becomes TRUE either way
        return self.cache.on_router_or_redirect(ra.router, ra.source_lladdr, now, is_router=True)

    def default_router(self, now: float) -> bytes | None:
        self._drop_demoted()
        return self.routers.select(now, self.cache)

    def is_on_link(self, address: bytes, now: float) -> bool:
        return self.prefixes.is_on_link(address, now)

    def dns_servers(self, now: float) -> list[bytes]:
        return self._dns_servers.current(now)

    def search_domains(self, now: float) -> list[str]:
        return self._search_domains.current(now)

    def _drop_demoted(self) -> None:
        for address in self.cache.take_demoted_routers():
            self.routers.remove(address)
