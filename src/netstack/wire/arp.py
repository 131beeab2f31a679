"""ARP for IPv4 over Ethernet (RFC 826).

Only the Ethernet/IPv4 flavour exists in practice, so the record holds just the operation
and the four addresses; parsing rejects any other hardware or protocol type.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from netstack.wire import Buffer, DecodeError

__all__ = ["ArpOp", "ArpPacket"]


class ArpOp(IntEnum):
    REQUEST = 1
    REPLY = 2


# htype, ptype, hlen, plen, op, sha, spa, tha, tpa
_PACKET = struct.Struct("!HHBBH6s4s6s4s")
_unpack = _PACKET.unpack_from
_pack = _PACKET.pack

_HTYPE_ETHERNET = 1
_PTYPE_IPV4 = 0x0800


@dataclass(slots=True)
class ArpPacket:
    """An Ethernet/IPv4 ARP packet: MACs are 6 bytes, IPv4 addresses 4 bytes."""

    op: int
    sender_mac: bytes
    sender_ip: bytes
    target_mac: bytes
    target_ip: bytes

    @classmethod
    def parse(cls, data: Buffer) -> ArpPacket:
        """Decode the 28-byte packet; trailing bytes (Ethernet padding) are ignored."""
        if len(data) < 28:
            raise DecodeError(f"ARP packet too short: {len(data)} bytes")
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _unpack(data)
        # RFC 826 "Packet Reception": drop unless hardware and protocol types are known.
        if htype != _HTYPE_ETHERNET or hlen != 6:
            raise DecodeError(f"ARP hardware type {htype} / length {hlen} is not Ethernet")
        if ptype != _PTYPE_IPV4 or plen != 4:
            raise DecodeError(f"ARP protocol type {ptype:#06x} / length {plen} is not IPv4")
        return cls(op, sha, spa, tha, tpa)

    def build(self) -> bytes:
        """The 28-byte packet (the Ethernet layer pads the frame to its minimum size)."""
        if len(self.sender_mac) != 6 or len(self.target_mac) != 6:
            raise ValueError("ARP hardware addresses must be 6 bytes")
        if len(self.sender_ip) != 4 or len(self.target_ip) != 4:
            raise ValueError("ARP protocol addresses must be 4 bytes")
        return _pack(
            _HTYPE_ETHERNET,
            _PTYPE_IPV4,
            6,
            4,
            self.op,
            self.sender_mac,
            self.sender_ip,
            self.target_mac,
            self.target_ip,
        )
