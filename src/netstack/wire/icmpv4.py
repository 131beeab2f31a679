"""ICMP for IPv4 (RFC 792, with the codes of RFC 1122, RFC 1191 and RFC 1812).

The record keeps the 4-byte field after the checksum ("rest of header") as one unsigned
integer; the properties read its usual interpretations (echo identifier and sequence
number, next-hop MTU). Everything after the first 8 bytes is payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from netstack.wire import Buffer, ChecksumError, DecodeError

__all__ = [
    "Icmpv4Header",
    "Icmpv4Type",
    "TimeExceededCode",
    "UnreachableCode",
    "error_quote",
]


class Icmpv4Type(IntEnum):
    ECHO_REPLY = 0
    DEST_UNREACHABLE = 3
    SOURCE_QUENCH = 4
    REDIRECT = 5
    ECHO_REQUEST = 8
    ROUTER_ADVERTISEMENT = 9
    ROUTER_SOLICITATION = 10
    TIME_EXCEEDED = 11
    PARAMETER_PROBLEM = 12
    TIMESTAMP = 13
    TIMESTAMP_REPLY = 14


class UnreachableCode(IntEnum):
    """Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1)."""

    NET = 0
    HOST = 1
    PROTOCOL = 2
    PORT = 3
    FRAGMENTATION_NEEDED = 4  # with the next-hop MTU (RFC 1191 §4)
    SOURCE_ROUTE_FAILED = 5
    NET_UNKNOWN = 6
    HOST_UNKNOWN = 7
    SOURCE_HOST_ISOLATED = 8
    NET_PROHIBITED = 9
    HOST_PROHIBITED = 10
    NET_TOS = 11
    HOST_TOS = 12
    ADMIN_PROHIBITED = 13
    HOST_PRECEDENCE_VIOLATION = 14
    PRECEDENCE_CUTOFF = 15


class TimeExceededCode(IntEnum):
    TTL = 0
    REASSEMBLY = 1


_HEADER = struct.Struct("!BBHI")  # type, code, checksum, rest of header
_unpack = _HEADER.unpack_from
_pack = _HEADER.pack
_from_bytes = int.from_bytes
_memoryview = memoryview

# RFC 1812 §4.3.2.3: an ICMP error datagram SHOULD NOT exceed 576 bytes; with a 20-byte IP
# header and the 8-byte ICMP header that leaves 548 bytes for the quoted datagram.
_QUOTE_LIMIT = 576 - 20 - 8


def _ones_total(data: Buffer) -> int:
    """An integer congruent (mod 0xFFFF) to the one's-complement sum of ``data``, zero only
    if ``data`` is all zeros. An odd length counts as if padded with one zero byte."""
    if len(data) & 1:
        return _from_bytes(data) << 8
    return _from_bytes(data)


@dataclass(slots=True)
class Icmpv4Header:
    """The 8-byte ICMP header: type, code, checksum and the 32-bit rest of header."""

    type: int
    code: int = 0
    rest: int = 0
    checksum: int = 0

    @property
    def ident(self) -> int:
        """Echo / timestamp identifier: the high 16 bits of ``rest``."""
        return self.rest >> 16

    @property
    def seq(self) -> int:
        """Echo / timestamp sequence number: the low 16 bits of ``rest``."""
        return self.rest & 0xFFFF

    @property
    def next_hop_mtu(self) -> int:
        """Next-hop MTU of a Fragmentation Needed message (RFC 1191 §4): low 16 bits."""
        return self.rest & 0xFFFF

    @classmethod
    def echo(cls, ident: int, seq: int, *, reply: bool = False) -> Icmpv4Header:
        """An Echo Request (or Echo Reply) header (RFC 792)."""
        return cls(0 if reply else 8, 0, (ident & 0xFFFF) << 16 | (seq & 0xFFFF))

    @classmethod
    def parse(
        cls, data: Buffer, *, verify_checksum: bool = True
    ) -> tuple[Icmpv4Header, memoryview]:
        """Decode a whole ICMP message (the IPv4 payload); the checksum covers all of it."""
        if len(data) < 8:
            raise DecodeError(f"ICMP message too short: {len(data)} bytes")
        icmp_type, code, checksum, rest = _unpack(data)
        if verify_checksum:
            total = _ones_total(data)
            if total == 0 or total % 0xFFFF:
                raise ChecksumError(f"bad ICMP checksum {checksum:#06x}")
        mv = data if type(data) is _memoryview else _memoryview(data)
        return cls(icmp_type, code, rest, checksum), mv[8:]

    def build(self, payload: Buffer, *, fill_checksum: bool = True) -> bytes:
        """Header + payload. With ``fill_checksum=False`` the checksum field is left 0."""
        if not fill_checksum:
            return _pack(self.type, self.code, 0, self.rest) + payload
        total = (self.type << 8 | self.code) + self.rest + _ones_total(payload)
        checksum = -total % 0xFFFF if total else 0xFFFF
        return _pack(self.type, self.code, checksum, self.rest) + payload


def error_quote(ip_packet: Buffer, limit: int = _QUOTE_LIMIT) -> bytes:
    """The part of an offending datagram an ICMP error carries: its IP header and as much
    data as fits in a 576-byte error datagram (RFC 1812 §4.3.2.3), i.e. ``limit`` bytes.

    Link-layer padding beyond the IPv4 total length is not quoted.
    """
    end = len(ip_packet)
    if end >= 4 and ip_packet[0] >> 4 == 4:
        total_length = ip_packet[2] << 8 | ip_packet[3]
        if 20 <= total_length < end:
            end = total_length
    return bytes(ip_packet[: min(end, limit)])
