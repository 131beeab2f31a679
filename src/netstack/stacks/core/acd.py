"""IPv4 Address Conflict Detection (RFC 5227) as a sans-I/O machine.

An :class:`AddressProbe` checks one candidate address before it is used: it waits a random
PROBE_WAIT, sends PROBE_NUM ARP probes (sender IP 0.0.0.0) PROBE_MIN..PROBE_MAX apart, and
declares the address available ANNOUNCE_WAIT after the last probe if nobody answered. A
conflict is any ARP packet whose sender IP is the candidate, or another host's probe for
the same candidate (RFC 5227 §2.1.1). Defending an address already in use is the link's
job (§2.4), with :class:`DefenceTracker`.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from dataclasses import dataclass

_ZERO_IP = b"\0\0\0\0"


@dataclass(slots=True)
class AcdConfig:
    """RFC 5227 §1.1 constants (seconds)."""

    probe_wait: float = 1.0
    probe_num: int = 3
    probe_min: float = 1.0
    probe_max: float = 2.0
    announce_wait: float = 2.0
    defend_interval: float = 10.0


class ProbeState(enum.Enum):
    WAITING = "waiting"
    PROBING = "probing"
    AVAILABLE = "available"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class ProbeToSend:
    """An ARP probe for ``target_ip`` (sender IP 0.0.0.0, target MAC zero, broadcast)."""

    target_ip: bytes


@dataclass(frozen=True, slots=True)
class AddressAvailable:
    address: bytes


@dataclass(frozen=True, slots=True)
class AddressConflict:
    address: bytes
    other_mac: bytes


class AddressProbe:
    """Probes one address; events: :class:`AddressAvailable` or :class:`AddressConflict`."""

    def __init__(
        self, address: bytes, hwaddr: bytes, rng: random.Random, config: AcdConfig | None = None
    ) -> None:
        self.address = bytes(address)
        self.hwaddr = bytes(hwaddr)
        self.config = config or AcdConfig()
        self._rng = rng
        self._state = ProbeState.WAITING
        self._deadline: float | None = None
        self._sent = 0
        self._outbox: list[ProbeToSend] = []
        self._events: deque[AddressAvailable | AddressConflict] = deque()

    @property
    def state(self) -> ProbeState:
        return self._state

    @property
    def done(self) -> bool:
        return self._state in (ProbeState.AVAILABLE, ProbeState.CONFLICT)

    def start(self, now: float) -> None:
        self._deadline = now + self._rng.uniform(0.0, self.config.probe_wait)

    def receive(
        self, op: int, sender_mac: bytes, sender_ip: bytes, target_ip: bytes, now: float
    ) -> None:
        """Feed every ARP packet seen on the link while probing."""
        if self.done or sender_mac == self.hwaddr:
            return
        if sender_ip == self.address or (
            op == 1 and sender_ip == _ZERO_IP and target_ip == self.address
        ):
            self._state = ProbeState.CONFLICT
            self._deadline = None
            self._events.append(AddressConflict(self.address, bytes(sender_mac)))

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline or self.done:
            return
        cfg = self.config
        if self._sent < cfg.probe_num:
            self._state = ProbeState.PROBING
            self._outbox.append(ProbeToSend(self.address))
            self._sent += 1
            if self._sent < cfg.probe_num:
                self._deadline = now + self._rng.uniform(cfg.probe_min, cfg.probe_max)
            else:
                self._deadline = now + cfg.announce_wait
            return
        self._state = ProbeState.AVAILABLE
        self._deadline = None
        self._events.append(AddressAvailable(self.address))

    def packets_to_send(self, now: float) -> list[ProbeToSend]:
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> AddressAvailable | AddressConflict | None:
        return self._events.popleft() if self._events else None


class DefenceTracker:
    """RFC 5227 §2.4 (b): defend an address once per DEFEND_INTERVAL, give it up on a
    second conflict within that interval."""

    def __init__(self, config: AcdConfig | None = None) -> None:
        self.config = config or AcdConfig()
        self._last: dict[bytes, float] = {}

    def conflict(self, address: bytes, now: float) -> bool:
        """A conflicting ARP for ``address`` arrived; True = defend, False = give it up."""
        last = self._last.get(address)
        if last is not None and now - last < self.config.defend_interval:
            del self._last[address]
            return False
        self._last[address] = now
        return True

    def forget(self, address: bytes) -> None:
        self._last.pop(address, None)
