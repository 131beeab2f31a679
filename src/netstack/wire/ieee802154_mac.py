"""IEEE 802.15.4 MAC payloads: the beacon payload of 2003/2006 beacons and the MAC
commands a mesh node meets (IEEE 802.15.4-2006 §7.2.2.1, §7.3; 2015 §7.5).

These are the contents of :attr:`netstack.wire.ieee802154.Ieee802154Frame.payload` for
beacon and MAC command frames; the frame itself (header, security header, IEs, FCS) is
:mod:`netstack.wire.ieee802154`, which re-exports every name here. Multi-octet fields are
little-endian; extended addresses are 8 ``bytes`` in natural order (reversed on the air),
as in that module.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

from netstack.wire import Buffer, DecodeError

__all__ = [
    "AssociationStatus",
    "Beacon",
    "Capability",
    "CommandId",
    "DisassociationReason",
    "GtsDescriptor",
    "MacCommand",
]

_U16 = struct.Struct("<H")
_unpack_u16 = _U16.unpack_from
_pack_u16 = _U16.pack


def _u16(value: int) -> bytes:
    """A 16-bit field from a caller's value (ValueError, not struct.error, when too big)."""
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"16-bit field out of range: {value}")
    return _pack_u16(value)


class CommandId(IntEnum):
    """MAC command identifiers (2015 Table 7-49)."""

    ASSOCIATION_REQUEST = 0x01
    ASSOCIATION_RESPONSE = 0x02
    DISASSOCIATION_NOTIFICATION = 0x03
    DATA_REQUEST = 0x04
    PAN_ID_CONFLICT_NOTIFICATION = 0x05
    ORPHAN_NOTIFICATION = 0x06
    BEACON_REQUEST = 0x07
    COORDINATOR_REALIGNMENT = 0x08
    GTS_REQUEST = 0x09
    TRLE_MANAGEMENT_REQUEST = 0x0A
    TRLE_MANAGEMENT_RESPONSE = 0x0B
    DSME_ASSOCIATION_REQUEST = 0x13
    DSME_ASSOCIATION_RESPONSE = 0x14
    DSME_GTS_REQUEST = 0x15
    DSME_GTS_RESPONSE = 0x16
    DSME_GTS_NOTIFY = 0x17
    DSME_INFORMATION_REQUEST = 0x18
    DSME_INFORMATION_RESPONSE = 0x19
    DSME_BEACON_ALLOCATION_NOTIFICATION = 0x1A
    DSME_BEACON_COLLISION_NOTIFICATION = 0x1B
    DSME_LINK_REPORT = 0x1C
    RIT_DATA_REQUEST = 0x20
    DBS_REQUEST = 0x21
    DBS_RESPONSE = 0x22
    RIT_DATA_RESPONSE = 0x23
    VENDOR_SPECIFIC = 0x24


# --- beacon payload (2003/2006 beacons) ---------------------------------------------------


@dataclass(slots=True)
class GtsDescriptor:
    """A GTS descriptor (2006 §7.2.2.1.6): device, starting slot, length in slots, and the
    direction (``receive``: a receive-only GTS for the device; else transmit-only)."""

    short_addr: int
    start_slot: int
    length: int
    receive: bool = False


@dataclass(slots=True)
class Beacon:
    """The MAC payload of a 2003/2006 beacon (2006 §7.2.2.1): superframe specification,
    GTS fields, pending addresses, and the beacon payload. Reserved bits are ignored on
    parse and written as zero. Enhanced beacons (2015) carry IEs instead."""

    beacon_order: int = 15
    superframe_order: int = 15
    final_cap_slot: int = 15
    battery_life_extension: bool = False
    pan_coordinator: bool = False
    association_permit: bool = False
    gts_permit: bool = False
    gts: list[GtsDescriptor] = field(default_factory=list)
    pending_short: list[int] = field(default_factory=list)
    pending_extended: list[bytes] = field(default_factory=list)
    payload: bytes = b""

    @staticmethod
    def open_length(mv: memoryview) -> int:
        """The length of the fields before the beacon payload, or of all of ``mv``: what
        CCM* leaves in the clear in a secured 2006 beacon (2006 §7.5.8.2.1)."""
        size = len(mv)
        if size < 4:
            return size
        count = mv[2] & 7
        off = 3 + (1 + 3 * count if count else 0)
        if off >= size:
            return size
        pending = mv[off]
        return min(size, off + 1 + 2 * (pending & 7) + 8 * (pending >> 4 & 7))

    @classmethod
    def parse(cls, data: Buffer) -> Beacon:
        mv = memoryview(data)
        size = len(mv)
        if size < 4:
            raise DecodeError(f"beacon payload too short: {size} bytes")
        spec = _unpack_u16(mv)[0]
        gts_spec = mv[2]
        count = gts_spec & 7
        beacon = cls(
            spec & 0xF,
            spec >> 4 & 0xF,
            spec >> 8 & 0xF,
            bool(spec & 0x1000),
            bool(spec & 0x4000),
            bool(spec & 0x8000),
            bool(gts_spec & 0x80),
        )
        off = 3
        if count:
            if size < off + 2 + 3 * count:
                raise DecodeError("beacon GTS list truncated")
            directions = mv[off]
            off += 1
            for i in range(count):
                slot = mv[off + 2]
                beacon.gts.append(
                    GtsDescriptor(
                        _unpack_u16(mv, off)[0], slot & 0xF, slot >> 4, bool(directions >> i & 1)
                    )
                )
                off += 3
        if off >= size:
            raise DecodeError("beacon pending address specification missing")
        pending = mv[off]
        n_short, n_ext = pending & 7, pending >> 4 & 7
        off += 1
        if size < off + 2 * n_short + 8 * n_ext:
            raise DecodeError("beacon pending address list truncated")
        for _ in range(n_short):
            beacon.pending_short.append(_unpack_u16(mv, off)[0])
            off += 2
        for _ in range(n_ext):
            beacon.pending_extended.append(bytes(mv[off : off + 8])[::-1])
            off += 8
        beacon.payload = bytes(mv[off:])
        return beacon

    def build(self) -> bytes:
        for value in (self.beacon_order, self.superframe_order, self.final_cap_slot):
            if not 0 <= value <= 15:
                raise ValueError(f"superframe specification field out of range: {value}")
        if len(self.gts) > 7 or len(self.pending_short) > 7 or len(self.pending_extended) > 7:
            raise ValueError("at most 7 GTS descriptors and 7 pending addresses of each kind")
        spec = (
            self.beacon_order
            | self.superframe_order << 4
            | self.final_cap_slot << 8
            | self.battery_life_extension << 12
            | self.pan_coordinator << 14
            | self.association_permit << 15
        )
        out = bytearray(_pack_u16(spec))
        out.append(len(self.gts) | self.gts_permit << 7)
        if self.gts:
            out.append(sum(gts.receive << i for i, gts in enumerate(self.gts)))
            for gts in self.gts:
                if not 0 <= gts.start_slot <= 15 or not 0 <= gts.length <= 15:
                    raise ValueError(f"GTS slot fields out of range: {gts}")
                out += _u16(gts.short_addr)
                out.append(gts.start_slot | gts.length << 4)
        out.append(len(self.pending_short) | len(self.pending_extended) << 4)
        for short in self.pending_short:
            out += _u16(short)
        for ext in self.pending_extended:
            if len(ext) != 8:
                raise ValueError("pending extended addresses have 8 bytes")
            out += ext[::-1]
        return bytes(out) + self.payload


# --- MAC commands ---------------------------------------------------------------------------


class Capability(IntFlag):
    """Capability Information of an association request (2015 §7.5.2, Figure 7-64)."""

    ALTERNATE_PAN_COORDINATOR = 0x01
    FFD = 0x02  # device type: full-function device
    MAINS_POWERED = 0x04
    RX_ON_WHEN_IDLE = 0x08
    FAST_ASSOCIATION = 0x10  # 2015: association type
    SECURITY_CAPABLE = 0x40
    ALLOCATE_ADDRESS = 0x80


class AssociationStatus(IntEnum):
    """Association Status of an association response (2015 Table 7-51)."""

    SUCCESS = 0x00
    PAN_AT_CAPACITY = 0x01
    PAN_ACCESS_DENIED = 0x02
    HOPPING_SEQUENCE_OFFSET_DUPLICATION = 0x03
    FAST_ASSOCIATION_SUCCESSFUL = 0x80


class DisassociationReason(IntEnum):
    """Disassociation Reason (2015 Table 7-52)."""

    COORDINATOR_WISHES_DEVICE_TO_LEAVE = 1
    DEVICE_WISHES_TO_LEAVE = 2


@dataclass(slots=True)
class MacCommand:
    """The MAC payload of a command frame: command identifier and content (2015 §7.5).

    The constructors and accessors cover the commands a mesh node meets; data request,
    beacon request, orphan notification and PAN ID conflict notification have no content.
    """

    command_id: int
    content: bytes = b""

    @classmethod
    def parse(cls, payload: Buffer) -> MacCommand:
        if not len(payload):
            raise DecodeError("MAC command without command identifier")
        return cls(payload[0], bytes(payload[1:]))

    def build(self) -> bytes:
        if not 0 <= self.command_id <= 0xFF:
            raise ValueError(f"command identifier out of range: {self.command_id}")
        return bytes((self.command_id,)) + self.content

    @classmethod
    def association_request(cls, capability: int) -> MacCommand:
        return cls(CommandId.ASSOCIATION_REQUEST, bytes((capability,)))

    @classmethod
    def association_response(cls, short_addr: int, status: int) -> MacCommand:
        """``short_addr`` 0xFFFE: associated without a short address; 0xFFFF: failed."""
        return cls(CommandId.ASSOCIATION_RESPONSE, _u16(short_addr) + bytes((status,)))

    @classmethod
    def disassociation_notification(cls, reason: int) -> MacCommand:
        return cls(CommandId.DISASSOCIATION_NOTIFICATION, bytes((reason,)))

    @classmethod
    def coordinator_realignment(
        cls, pan_id: int, coord_short: int, channel: int, short_addr: int, page: int | None = None
    ) -> MacCommand:
        """2006 §7.3.8; the channel page is present only when it is not the default."""
        content = _u16(pan_id) + _u16(coord_short) + bytes((channel,))
        content += _u16(short_addr) + (b"" if page is None else bytes((page,)))
        return cls(CommandId.COORDINATOR_REALIGNMENT, content)

    def _expect(self, command_id: int, size: int) -> None:
        if self.command_id != command_id:
            raise DecodeError(f"command {self.command_id:#x} is not {CommandId(command_id).name}")
        if len(self.content) < size:
            raise DecodeError(f"{CommandId(command_id).name} truncated")

    @property
    def capability(self) -> Capability:
        """The Capability Information of an association request."""
        self._expect(CommandId.ASSOCIATION_REQUEST, 1)
        return Capability(self.content[0])

    @property
    def association_result(self) -> tuple[int, int]:
        """``(short address, association status)`` of an association response."""
        self._expect(CommandId.ASSOCIATION_RESPONSE, 3)
        return _unpack_u16(self.content)[0], self.content[2]

    @property
    def disassociation_reason(self) -> int:
        self._expect(CommandId.DISASSOCIATION_NOTIFICATION, 1)
        return self.content[0]
