"""ICMPv6 (RFC 4443): the message header, its types and codes, the checksum over the IPv6
pseudo-header (RFC 8200 §8.1), and the quote an error message carries.

As in :mod:`netstack.wire.icmpv4`, the 32 bits after the checksum are one unsigned integer
``rest`` whose usual readings are properties (echo identifier and sequence number, the MTU
of Packet Too Big, the pointer of Parameter Problem); the payload is everything after the
first 8 bytes. Neighbor Discovery (:mod:`netstack.wire.ndp`) and MLD
(:mod:`netstack.wire.mld`) decode the payload of their types from this record.

The checksum uses the identity :mod:`netstack.wire.tcp` relies on: a buffer read as one
big-endian integer is congruent modulo 0xFFFF to the one's-complement sum of its 16-bit
words, and so is a 128-bit address or a 32-bit field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Self

from netstack.wire import Buffer, ChecksumError, DecodeError
from netstack.wire.ipv6 import HEADER_LEN, MIN_MTU

__all__ = [
    "QUOTE_LIMIT",
    "Icmpv6Header",
    "Icmpv6Message",
    "Icmpv6Type",
    "ParameterProblemCode",
    "TimeExceededCode",
    "UnreachableCode",
    "error_quote",
    "pseudo_header_total",
]


class Icmpv6Type(IntEnum):
    """ICMPv6 message types (RFC 4443 §2.1 and the IANA registry). Types below 128 are
    errors."""

    DEST_UNREACHABLE = 1
    PACKET_TOO_BIG = 2
    TIME_EXCEEDED = 3
    PARAMETER_PROBLEM = 4
    ECHO_REQUEST = 128
    ECHO_REPLY = 129
    MLD_QUERY = 130  # RFC 2710 §3, RFC 3810 §5.1
    MLD_REPORT = 131  # MLDv1 (RFC 2710 §3)
    MLD_DONE = 132  # MLDv1 (RFC 2710 §3)
    ROUTER_SOLICITATION = 133  # RFC 4861 §4.1
    ROUTER_ADVERTISEMENT = 134  # RFC 4861 §4.2
    NEIGHBOR_SOLICITATION = 135  # RFC 4861 §4.3
    NEIGHBOR_ADVERTISEMENT = 136  # RFC 4861 §4.4
    REDIRECT = 137  # RFC 4861 §4.5
    MLDV2_REPORT = 143  # RFC 3810 §5.2


class UnreachableCode(IntEnum):
    """Destination Unreachable codes (RFC 4443 §3.1; 7 from RFC 6550, 8 from RFC 8883)."""

    NO_ROUTE = 0
    ADMIN_PROHIBITED = 1
    BEYOND_SCOPE = 2
    ADDRESS = 3
    PORT = 4
    SOURCE_POLICY = 5
    REJECT_ROUTE = 6
    SOURCE_ROUTING_HEADER = 7
    HEADERS_TOO_LONG = 8


class TimeExceededCode(IntEnum):
    """Time Exceeded codes (RFC 4443 §3.3)."""

    HOP_LIMIT = 0
    REASSEMBLY = 1


class ParameterProblemCode(IntEnum):
    """Parameter Problem codes (RFC 4443 §3.4; 3 from RFC 7112, 4 from RFC 8754, 5-10 from
    RFC 8883)."""

    HEADER_FIELD = 0
    NEXT_HEADER = 1
    OPTION = 2
    FIRST_FRAGMENT_INCOMPLETE = 3
    SR_UPPER_LAYER = 4
    NEXT_HEADER_AT_INTERMEDIATE_NODE = 5
    EXTENSION_HEADER_TOO_BIG = 6
    EXTENSION_HEADER_CHAIN_TOO_LONG = 7
    TOO_MANY_EXTENSION_HEADERS = 8
    TOO_MANY_OPTIONS = 9
    OPTION_TOO_BIG = 10


_HEADER = struct.Struct("!BBHI")  # type, code, checksum, rest of header
_unpack = _HEADER.unpack_from
_pack = _HEADER.pack
_from_bytes = int.from_bytes
_memoryview = memoryview
_struct_error = struct.error

_PROTO_ICMPV6 = 58

# RFC 4443 §2.4 (c): an error message must not exceed the minimum IPv6 MTU, so after the
# 40-byte IPv6 header and the 8-byte ICMPv6 header 1232 bytes of the invoking packet fit.
QUOTE_LIMIT = MIN_MTU - HEADER_LEN - 8


def _words(data: Buffer) -> int:
    """An integer congruent (mod 0xFFFF) to the one's-complement sum of ``data``; an odd
    length counts as if padded with one zero byte."""
    if len(data) & 1:
        return _from_bytes(data) << 8
    return _from_bytes(data)


def pseudo_header_total(src: bytes, dst: bytes, length: int) -> int:
    """An integer congruent (mod 0xFFFF) to the one's-complement sum of the IPv6
    pseudo-header of an ICMPv6 message of ``length`` bytes (RFC 8200 §8.1)."""
    if len(src) != 16 or len(dst) != 16:
        raise ValueError("IPv6 addresses must be 16 bytes")
    return _from_bytes(src) + _from_bytes(dst) + length + _PROTO_ICMPV6


@dataclass(slots=True)
class Icmpv6Header:
    """The 8-byte ICMPv6 header: type, code, checksum and the 32-bit rest of header.
    ``checksum`` is set by ``parse``; ``build`` computes it and ignores the record's value."""

    type: int
    code: int = 0
    rest: int = 0
    checksum: int = 0

    @property
    def is_error(self) -> bool:
        """Error messages have types 0-127 (RFC 4443 §2.1)."""
        return self.type < 128

    @property
    def ident(self) -> int:
        """Echo identifier: the high 16 bits of ``rest`` (RFC 4443 §4.1)."""
        return self.rest >> 16

    @property
    def seq(self) -> int:
        """Echo sequence number: the low 16 bits of ``rest`` (RFC 4443 §4.1)."""
        return self.rest & 0xFFFF

    @property
    def mtu(self) -> int:
        """The MTU of a Packet Too Big message: all of ``rest`` (RFC 4443 §3.2)."""
        return self.rest

    @property
    def pointer(self) -> int:
        """The offset of the error in the invoking packet, for Parameter Problem: all of
        ``rest`` (RFC 4443 §3.4)."""
        return self.rest

    @classmethod
    def echo(cls, ident: int, seq: int, *, reply: bool = False) -> Icmpv6Header:
        """An Echo Request (or Echo Reply) header (RFC 4443 §4)."""
        return cls(129 if reply else 128, 0, (ident & 0xFFFF) << 16 | (seq & 0xFFFF))

    @classmethod
    def parse(
        cls, data: Buffer, *, src: bytes | None = None, dst: bytes | None = None
    ) -> tuple[Icmpv6Header, memoryview]:
        """Decode a whole ICMPv6 message (the upper-layer payload of its IPv6 packet).

        With the IPv6 ``src`` and ``dst`` (16 bytes each) the checksum is verified over the
        pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1) and a mismatch raises
        :class:`ChecksumError`; without them it is not checked.
        """
        size = len(data)
        if size < 8:
            raise DecodeError(f"ICMPv6 message too short: {size} bytes")
        icmp_type, code, checksum, rest = _unpack(data)
        if src is not None or dst is not None:
            if src is None or dst is None:
                raise TypeError("give both src and dst to verify the ICMPv6 checksum")
            # The pseudo-header sum is never zero (it counts the next header 58), so a
            # residue of 0 means a one's-complement sum of 0xFFFF: a good checksum.
            if (pseudo_header_total(src, dst, size) + _words(data)) % 0xFFFF:
                raise ChecksumError(f"bad ICMPv6 checksum {checksum:#06x}")
        mv = data if type(data) is _memoryview else _memoryview(data)
        return cls(icmp_type, code, rest, checksum), mv[8:]

    def build(
        self, payload: Buffer = b"", *, src: bytes, dst: bytes, fill_checksum: bool = True
    ) -> bytes:
        """Header + payload for the IPv6 addresses ``src`` and ``dst``. With
        ``fill_checksum=False`` the checksum field is left 0. Fields out of range raise
        :class:`ValueError`."""
        icmp_type = self.type
        code = self.code
        rest = self.rest
        if fill_checksum:
            total = (
                pseudo_header_total(src, dst, 8 + len(payload))
                + (icmp_type << 8 | code)
                + rest
                + _words(payload)
            )
            # ~sum in one's complement; a sum of 0xFFFF gives 0x0000 as Linux sends it.
            checksum = -total % 0xFFFF
        else:
            checksum = 0
        try:
            header = _pack(icmp_type, code, checksum, rest)
        except _struct_error as exc:
            raise ValueError(f"ICMPv6 header field out of range: {exc}") from exc
        return header + payload


def error_quote(packet: Buffer, limit: int = QUOTE_LIMIT) -> bytes:
    """The part of an invoking packet an ICMPv6 error carries: as much as fits without the
    error packet exceeding the minimum MTU of 1280 bytes (RFC 4443 §2.4 (c)), i.e. ``limit``
    bytes after a 40-byte IPv6 header and the 8-byte ICMPv6 header.

    Link-layer padding beyond the IPv6 payload length is not quoted.
    """
    end = len(packet)
    if end >= HEADER_LEN and packet[0] >> 4 == 6:
        payload_length = packet[4] << 8 | packet[5]
        # A zero payload length before a Hop-by-Hop header is a jumbogram (RFC 2675).
        if payload_length or packet[6] != 0:
            end = min(end, HEADER_LEN + payload_length)
    return bytes(packet[: min(end, limit)])


class Icmpv6Message:
    """Base of the records that are a whole ICMPv6 message of one family (Neighbor
    Discovery, MLD): each decodes itself from a parsed :class:`Icmpv6Header` and its
    payload (``from_icmp``) and encodes back to them (``to_icmp``); ``parse`` and ``build``
    go through :class:`Icmpv6Header` for the checksum."""

    __slots__ = ()

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        """Decode from the ICMPv6 header and the payload after its first 8 bytes."""
        raise NotImplementedError

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        """The ICMPv6 header (checksum not yet computed) and the payload."""
        raise NotImplementedError

    @classmethod
    def parse(cls, data: Buffer, *, src: bytes | None = None, dst: bytes | None = None) -> Self:
        """Decode a whole ICMPv6 message, verifying its checksum when ``src`` and ``dst``
        are given (see :meth:`Icmpv6Header.parse`)."""
        header, payload = Icmpv6Header.parse(data, src=src, dst=dst)
        return cls.from_icmp(header, payload)

    def build(self, *, src: bytes, dst: bytes, fill_checksum: bool = True) -> bytes:
        """The whole ICMPv6 message with its checksum for the IPv6 ``src`` and ``dst``."""
        header, payload = self.to_icmp()
        return header.build(payload, src=src, dst=dst, fill_checksum=fill_checksum)
