"""IPv4 headers (RFC 791), protocol numbers and dotted-quad helpers.

Addresses are 4-byte ``bytes``. ``frag_offset`` is kept in bytes (the wire field counts
8-byte units), ``flags`` holds the 3-bit flags field (:class:`Ipv4Flags`), and ``options``
the raw option bytes as received; :func:`parse_options` splits them when someone cares.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from netstack.wire import Buffer, ChecksumError, DecodeError

__all__ = [
    "IpProto",
    "Ipv4Flags",
    "Ipv4Header",
    "ip_from_str",
    "ip_to_str",
    "parse_options",
]


class IpProto(IntEnum):
    """IP protocol numbers (IANA); also IPv6 next-header values."""

    HOPOPT = 0
    ICMP = 1
    IGMP = 2
    TCP = 6
    UDP = 17
    IPV6 = 41
    ROUTING = 43
    FRAGMENT = 44
    ESP = 50
    AH = 51
    ICMPV6 = 58
    NONE = 59
    DSTOPTS = 60


class Ipv4Flags(IntFlag):
    """The 3-bit flags field: bit 0 is More Fragments, bit 1 Don't Fragment (RFC 791 §3.1)."""

    MF = 1
    DF = 2


# version/IHL, TOS, total length, identification, flags/fragment offset, TTL, protocol,
# header checksum, source, destination (RFC 791 §3.1)
_HEADER = struct.Struct("!BBHHHBBH4s4s")
_unpack = _HEADER.unpack_from
_pack = _HEADER.pack
_from_bytes = int.from_bytes
_memoryview = memoryview

_MAX_OPTIONS = 40  # IHL is 4 bits: at most 15 words of header


@dataclass(slots=True)
class Ipv4Header:
    """An IPv4 header. ``total_length`` and ``checksum`` are set by ``parse``;
    ``build`` computes both from the payload and ignores the record's values."""

    src: bytes
    dst: bytes
    proto: int
    ttl: int = 64
    tos: int = 0
    ident: int = 0
    flags: int = 0
    frag_offset: int = 0
    options: bytes = b""
    total_length: int = 0
    checksum: int = 0

    @property
    def header_len(self) -> int:
        """20 plus the options, padded to a multiple of 4 as ``build`` writes them."""
        return 20 + ((len(self.options) + 3) & ~3)

    @property
    def more_fragments(self) -> bool:
        return bool(self.flags & 1)

    @property
    def dont_fragment(self) -> bool:
        return bool(self.flags & 2)

    @property
    def is_fragment(self) -> bool:
        """True for any fragment of a fragmented datagram (first, middle or last)."""
        return bool(self.flags & 1) or self.frag_offset != 0

    @classmethod
    def parse(cls, data: Buffer, *, verify_checksum: bool = True) -> tuple[Ipv4Header, memoryview]:
        """Decode the header; the payload is ``data[header_len:total_length]`` as a memoryview,
        so link-layer padding after the datagram is dropped."""
        size = len(data)
        if size < 20:
            raise DecodeError(f"IPv4 packet too short: {size} bytes")
        vihl, tos, total_length, ident, ff, ttl, proto, checksum, src, dst = _unpack(data)
        if vihl == 0x45:  # the common case: no options
            hl = 20
        else:
            if vihl >> 4 != 4:
                raise DecodeError(f"not IPv4: version {vihl >> 4}")
            hl = (vihl & 0x0F) << 2
            if hl < 20:
                raise DecodeError(f"IPv4 header length {hl} is below 20")
            if hl > size:
                raise DecodeError(f"IPv4 header length {hl} exceeds the {size} bytes present")
        if total_length > size or total_length < hl:
            raise DecodeError(
                f"IPv4 total length {total_length} outside [{hl}, {size}] (header..data)"
            )
        # The one's-complement sum of the header, checksum included, must be 0xFFFF
        # (RFC 791 §3.1, RFC 1071); the sum is the big-endian integer modulo 0xFFFF.
        if verify_checksum and _from_bytes(data[:hl]) % 0xFFFF:
            raise ChecksumError(f"bad IPv4 header checksum {checksum:#06x}")
        mv = data if type(data) is _memoryview else _memoryview(data)
        return cls(
            src,
            dst,
            proto,
            ttl,
            tos,
            ident,
            ff >> 13,
            (ff & 0x1FFF) << 3,
            bytes(mv[20:hl]) if hl != 20 else b"",
            total_length,
            checksum,
        ), mv[hl:total_length]

    def build(self, payload: Buffer, *, fill_checksum: bool = True) -> bytes:
        """Header + payload. Options are padded with EOL (zero) bytes to a multiple of 4.
        With ``fill_checksum=False`` the checksum field is left 0 (for offload)."""
        options = self.options
        if options:
            if len(options) & 3:
                options = bytes(options) + b"\0" * (-len(options) & 3)
            if len(options) > _MAX_OPTIONS:
                raise ValueError(f"IPv4 options too long: {len(options)} bytes (max 40)")
            hl = 20 + len(options)
        else:
            hl = 20
        total_length = hl + len(payload)
        if total_length > 0xFFFF:
            raise ValueError(f"IPv4 datagram too long: {total_length} bytes")
        frag_offset = self.frag_offset
        if frag_offset & 7:
            raise ValueError(f"fragment offset {frag_offset} is not a multiple of 8")
        if len(self.src) != 4 or len(self.dst) != 4:
            raise ValueError("IPv4 addresses must be 4 bytes")
        vihl = 0x40 | hl >> 2
        ff = self.flags << 13 | frag_offset >> 3
        src = self.src
        dst = self.dst
        tos = self.tos
        ident = self.ident
        ttl = self.ttl
        proto = self.proto
        if fill_checksum:
            # Sum the header's 16-bit words arithmetically (a 32-bit address is congruent to
            # the sum of its two words modulo 0xFFFF), then pack once with the result:
            # ~(one's-complement sum), as RFC 1071 computes it (the sum is never zero).
            total = (
                (vihl << 8 | tos)
                + total_length
                + ident
                + ff
                + (ttl << 8 | proto)
                + _from_bytes(src)
                + _from_bytes(dst)
            )
            if options:
                total += _from_bytes(options)
            checksum = -total % 0xFFFF
        else:
            checksum = 0
        header = _pack(vihl, tos, total_length, ident, ff, ttl, proto, checksum, src, dst)
        return header + options + payload if options else header + payload


def parse_options(options: Buffer) -> list[tuple[int, bytes]]:
    """Split raw IPv4 options into ``(type, value)`` pairs (RFC 791 §3.1).

    End of Option List (0) stops the walk and No Operation (1) is skipped; every other
    option is type, length (covering type and length bytes), value.
    """
    result: list[tuple[int, bytes]] = []
    size = len(options)
    i = 0
    while i < size:
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= size:
            raise DecodeError(f"IPv4 option {kind} truncated before its length")
        length = options[i + 1]
        if length < 2 or i + length > size:
            raise DecodeError(f"IPv4 option {kind} has bad length {length}")
        result.append((kind, bytes(options[i + 2 : i + length])))
        i += length
    return result


def ip_to_str(ip: bytes) -> str:
    """``b"\\x0a\\x00\\x00\\x01"`` -> ``"10.0.0.1"``; ``ValueError`` unless 4 bytes."""
    if len(ip) != 4:
        raise ValueError(f"an IPv4 address is 4 bytes, not {len(ip)}")
    return f"{ip[0]}.{ip[1]}.{ip[2]}.{ip[3]}"


def ip_from_str(text: str) -> bytes:
    """``"10.0.0.1"`` -> 4 bytes; strict dotted decimal, ``ValueError`` otherwise."""
    return ipaddress.IPv4Address(text).packed
