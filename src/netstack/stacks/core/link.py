"""The link-adapter contract and the stack's network interface record.

A link adapter sits between a stack's :class:`NetIf` and a driver: it owns framing and
address resolution (ARP on Ethernet, nothing on PPP, 6LoWPAN on 802.15.4) and hands IP
packets up through the callbacks the stack installs on the NetIf. The stack never sees a
frame and a driver never sees an IP packet.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from netstack.drivers.emac.api import Capabilities, RxFlags, TxOffload

if TYPE_CHECKING:
    from netstack.stacks.core.ipv6_interface import Ipv6Interface

Ipv4Input = Callable[["NetIf", memoryview, RxFlags], None]
Ipv6Input = Callable[["NetIf", memoryview, RxFlags], None]
LinkStateHook = Callable[["NetIf", bool], None]
AddressConflictHook = Callable[["NetIf", bytes], None]
ProbeCallback = Callable[[bool, bytes | None], None]


class IpHeader(Protocol):
    """What transports read of an IPv4 or IPv6 header: the addresses (4 or 16 bytes)."""

    src: bytes
    dst: bytes


class Verdict(enum.Enum):
    """What an input handler did with a frame or packet."""

    CONSUMED = "consumed"
    PASS = "pass"
    DROP = "drop"


class LinkAdapter(Protocol):
    """One per technology: EthernetLink, PppLink, LowpanLink, the AT adapter."""

    @property
    def mtu(self) -> int: ...

    @property
    def hwaddr(self) -> bytes: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def header_len(self) -> int:
        """Bytes of link header in front of an IP packet (offload offsets count them)."""
        ...

    @property
    def is_up(self) -> bool: ...

    def start(self, netif: NetIf) -> None:
        """Bind to ``netif`` and power the driver up."""
        ...

    def stop(self) -> None: ...

    def output_ipv4(self, packet: bytes, next_hop: bytes, offload: TxOffload | None = None) -> bool:
        """Send an IPv4 packet to ``next_hop`` (an on-link address, or broadcast).

        ``offload`` (only when :attr:`capabilities` offer it) asks the driver to finish the
        transport checksum or cut a large TCP segment; its offsets count from the start of
        the frame, which puts :attr:`header_len` bytes of link header before ``packet``."""
        ...

    def output_ipv6(self, packet: bytes, next_hop: bytes, offload: TxOffload | None = None) -> bool:
        """Send an IPv6 packet to ``next_hop`` (on-link unicast, resolved through the
        interface's neighbour cache where the link needs one, or multicast)."""
        ...

    def join_ipv6_group(self, group: bytes) -> None:
        """Receive frames for an IPv6 multicast group (on Ethernet, its 33:33 MAC)."""
        ...

    def leave_ipv6_group(self, group: bytes) -> None: ...

    def addresses_changed(self) -> None:
        """The NetIf's addresses changed (announce them, e.g. gratuitous ARP)."""
        ...

    def stats(self) -> dict[str, int]: ...

    def probe_address(self, address: bytes, callback: ProbeCallback) -> None:
        """Check that ``address`` is free before use (RFC 5227 on Ethernet); ``callback``
        gets (True, None) when it is, (False, other MAC or None) on a conflict."""
        ...


@dataclass(frozen=True, slots=True)
class Ipv4Address:
    """An address assigned to an interface, with its prefix."""

    address: bytes
    prefix_len: int

    @property
    def netmask(self) -> bytes:
        return ((0xFFFFFFFF << (32 - self.prefix_len)) & 0xFFFFFFFF).to_bytes(4, "big")

    @property
    def network(self) -> bytes:
        mask = int.from_bytes(self.netmask, "big")
        return (int.from_bytes(self.address, "big") & mask).to_bytes(4, "big")

    @property
    def broadcast(self) -> bytes:
        if self.prefix_len >= 31:  # RFC 3021 point-to-point links have no broadcast
            return b"\xff\xff\xff\xff"
        mask = int.from_bytes(self.netmask, "big")
        net = int.from_bytes(self.address, "big") & mask
        return (net | (~mask & 0xFFFFFFFF)).to_bytes(4, "big")


def _ignore_input(netif: NetIf, packet: memoryview, flags: RxFlags) -> None:
    return None


@dataclass(eq=False)
class NetIf:
    """A stack's view of one network interface."""

    name: str
    link: LinkAdapter
    index: int = 0
    ipv4: list[Ipv4Address] = field(default_factory=list)
    up: bool = False
    #: Installed by the stack: where the link delivers IPv4 packets.
    input_ipv4: Ipv4Input = _ignore_input
    #: Installed by the stack: where the link delivers IPv6 packets.
    input_ipv6: Ipv6Input = _ignore_input
    #: The interface's IPv6 state (addresses, neighbours, routers); None: IPv6 is off.
    ip6: Ipv6Interface | None = None
    #: Installed by the stack: called when the link's carrier changes.
    on_link_state: LinkStateHook | None = None
    #: Installed by the stack: an address of ours was lost to a conflict (RFC 5227 §2.4).
    on_address_conflict: AddressConflictHook | None = None

    @property
    def mtu(self) -> int:
        return self.link.mtu

    @property
    def primary_ipv4(self) -> Ipv4Address | None:
        return self.ipv4[0] if self.ipv4 else None

    def __repr__(self) -> str:
        return f"NetIf({self.name!r})"
