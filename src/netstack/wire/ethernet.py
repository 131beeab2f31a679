"""Ethernet II frames (IEEE 802.3 with EtherType) and one IEEE 802.1Q / 802.1ad tag.

The record carries addresses as 6-byte ``bytes`` and the EtherType as a plain ``int``;
:class:`EtherType` names the common values. Frames are handled without FCS and without
minimum-size padding: the padding of short frames is left in the payload for the layer
above to trim (IPv4 does so using its total length).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from netstack.wire import Buffer, DecodeError

__all__ = [
    "BROADCAST",
    "EtherType",
    "EthernetHeader",
    "ipv4_multicast_mac",
    "ipv6_multicast_mac",
    "is_multicast",
    "mac_from_str",
    "mac_to_str",
]


class EtherType(IntEnum):
    IPV4 = 0x0800
    ARP = 0x0806
    VLAN = 0x8100  # IEEE 802.1Q customer tag
    IPV6 = 0x86DD
    QINQ = 0x88A8  # IEEE 802.1ad service tag


BROADCAST: bytes = b"\xff" * 6

_HEADER = struct.Struct("!6s6sH")
_TAG = struct.Struct("!HH")  # TCI, inner EtherType
_TAGGED = struct.Struct("!6s6sHHH")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def mac_to_str(mac: bytes) -> str:
    """``b"\\x02\\0\\0\\0\\0\\x01"`` -> ``"02:00:00:00:00:01"``."""
    return mac.hex(":")


def mac_from_str(text: str) -> bytes:
    """Parse ``"02:00:00:00:00:01"`` or ``"02-00-00-00-00-01"``; ``ValueError`` if malformed."""
    sep = "-" if "-" in text else ":"
    groups = text.split(sep)
    if len(groups) != 6 or not all(len(g) == 2 and _HEX_DIGITS.issuperset(g) for g in groups):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes.fromhex("".join(groups))


def is_multicast(mac: bytes) -> bool:
    """True for group addresses (the I/G bit, IEEE 802 §8.2); broadcast included."""
    return bool(mac[0] & 1)


def ipv4_multicast_mac(ip: bytes) -> bytes:
    """The MAC for an IPv4 group: 01:00:5e + the low 23 bits of the address (RFC 1112 §6.4)."""
    return b"\x01\x00\x5e" + bytes((ip[1] & 0x7F, ip[2], ip[3]))


def ipv6_multicast_mac(ip: bytes) -> bytes:
    """The MAC for an IPv6 group: 33:33 + the low 32 bits of the address (RFC 2464 §7)."""
    return b"\x33\x33" + bytes(ip[12:16])


@dataclass(slots=True)
class EthernetHeader:
    """An Ethernet II header, optionally with one VLAN tag.

    ``ethertype`` is the type of the payload (the inner type when tagged). ``vlan`` is the
    16-bit tag control information (PCP:3 | DEI:1 | VID:12) when the frame carried a tag
    with TPID 0x8100 or 0x88A8; only the outermost tag is parsed, so for a double-tagged
    frame ``ethertype`` is 0x8100 and the payload starts at the inner tag. ``build`` always
    writes TPID 0x8100.
    """

    dst: bytes
    src: bytes
    ethertype: int
    vlan: int | None = None

    @property
    def vid(self) -> int | None:
        """VLAN identifier (12 bits), or None when untagged."""
        return None if self.vlan is None else self.vlan & 0x0FFF

    @property
    def pcp(self) -> int | None:
        """Priority code point (IEEE 802.1p, 3 bits), or None when untagged."""
        return None if self.vlan is None else self.vlan >> 13

    @property
    def header_len(self) -> int:
        return 14 if self.vlan is None else 18

    @classmethod
    def parse(cls, data: Buffer) -> tuple[EthernetHeader, memoryview]:
        """Split a frame (no FCS) into header and payload (a memoryview of ``data``)."""
        if len(data) < 14:
            raise DecodeError(f"Ethernet frame too short: {len(data)} bytes")
        dst, src, ethertype = _header_unpack(data)
        mv = data if type(data) is memoryview else memoryview(data)
        if ethertype != 0x8100 and ethertype != 0x88A8:
            return cls(dst, src, ethertype, None), mv[14:]
        if len(data) < 18:
            raise DecodeError(f"VLAN-tagged Ethernet frame too short: {len(data)} bytes")
        tci, ethertype = _tag_unpack(data, 14)
        return cls(dst, src, ethertype, tci), mv[18:]

    def build(self, payload: Buffer) -> bytes:
        """Header + payload; no padding to the 60-byte minimum and no FCS."""
        if len(self.dst) != 6 or len(self.src) != 6:
            raise ValueError("Ethernet addresses must be 6 bytes")
        if self.vlan is None:
            return _header_pack(self.dst, self.src, self.ethertype) + payload
        return _tagged_pack(self.dst, self.src, 0x8100, self.vlan, self.ethertype) + payload


_header_unpack = _HEADER.unpack_from
_header_pack = _HEADER.pack
_tag_unpack = _TAG.unpack_from
_tagged_pack = _TAGGED.pack
