"""The EMAC contract: an Ethernet driver moves frames and reports link state, nothing more.

Modelled on Mbed OS's ``EMAC``: the stack powers the driver up, registers an input callback
and a link-state callback, and hands it whole Ethernet frames with :meth:`EMAC.link_out`.
A driver never looks inside a frame beyond its Ethernet header, so one driver serves every
stack profile.

Offloads (a TAP with ``IFF_VNET_HDR``) are described by :class:`Capabilities`; a stack that
wants them passes a :class:`TxOffload` with a frame, and learns from :class:`RxFlags` that
a received frame's transport checksum was already validated (or is a partial checksum from
the local host) or that the frame is a coalesced, larger-than-MTU segment.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class RxFlags(enum.IntFlag):
    NONE = 0
    #: The transport checksum needs no verification (validated by hardware, or a partial
    #: checksum of a frame the local host generated).
    CSUM_VALID = 1
    #: The frame is a coalesced segment and may exceed the MTU.
    GSO = 2


class GsoType(enum.IntEnum):
    NONE = 0
    TCPV4 = 1
    UDP = 3
    TCPV6 = 4


@dataclass(frozen=True, slots=True)
class TxOffload:
    """Work a frame asks the driver (or the kernel behind it) to finish.

    ``csum_start``/``csum_offset``: fill the one's-complement checksum over
    ``frame[csum_start:]`` into ``frame[csum_start + csum_offset]`` (the field holds the
    pseudo-header sum). ``gso_type``/``gso_size``/``hdr_len``: cut the frame's transport
    payload into segments of ``gso_size`` bytes.
    """

    csum_start: int = 0
    csum_offset: int = 0
    gso_type: GsoType = GsoType.NONE
    gso_size: int = 0
    hdr_len: int = 0


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a driver can do; the stack adapts to it with no special cases."""

    medium: str = "ethernet"
    mtu: int = 1500
    #: The driver accepts frames with a :class:`TxOffload` checksum request.
    tx_checksum: bool = False
    #: The driver accepts oversized TCP frames with a :class:`TxOffload` GSO request.
    tx_tso: bool = False
    #: Frames may arrive flagged :attr:`RxFlags.CSUM_VALID`.
    rx_checksum: bool = False
    #: Frames may arrive coalesced beyond the MTU (:attr:`RxFlags.GSO`).
    rx_gso: bool = False
    #: Largest frame the driver takes or delivers with GSO.
    gso_max_size: int = 0


LinkInputCallback = Callable[[memoryview, RxFlags], None]
LinkStateCallback = Callable[[bool], None]


@runtime_checkable
class EMAC(Protocol):
    """An Ethernet MAC driver (Mbed OS ``EMAC`` in Python spelling)."""

    @property
    def hwaddr(self) -> bytes:
        """The 6-byte MAC address."""
        ...

    @property
    def mtu(self) -> int:
        """Largest IP packet the link carries (1500 on Ethernet)."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def power_up(self) -> bool:
        """Start the driver; link state and frames are reported from now on."""
        ...

    def power_down(self) -> None: ...

    def link_out(
        self, frame: bytes | bytearray | memoryview, offload: TxOffload | None = None
    ) -> bool:
        """Send one frame. Returns False if it was dropped (link down, queue full)."""
        ...

    def set_link_input_cb(self, cb: LinkInputCallback | None) -> None: ...

    def set_link_state_cb(self, cb: LinkStateCallback | None) -> None: ...

    @property
    def link_up(self) -> bool: ...

    def add_multicast_group(self, mac: bytes) -> None: ...

    def remove_multicast_group(self, mac: bytes) -> None: ...

    def set_all_multicast(self, on: bool) -> None: ...
