"""6LoWPAN: IPv6 over IEEE 802.15.4 (RFC 4944) with LOWPAN_IPHC header compression
(RFC 6282). Pure encoders and decoders; reassembly and the link adapter live elsewhere.

A 6LoWPAN frame payload is a stack of headers, each announced by its first octet, the
dispatch (RFC 4944 §5.1, RFC 6282 §5, RFC 8025)::

    [Mesh header] [BC0 broadcast header] [FRAG1 | FRAGN header] [IPv6 dispatch + packet
                                                                  | LOWPAN_IPHC + payload]

The order is fixed (RFC 4944 §5). :class:`LowpanHeaders` parses and builds that stack;
:func:`classify` names a dispatch octet. A FRAGN header is followed by raw datagram bytes.

LOWPAN_IPHC itself, with the interface identifiers and contexts it uses, is
:mod:`netstack.wire.sixlowpan_iphc`; its names are re-exported here. This module adds the
whole-payload helpers :func:`compress_ipv6` and :func:`decompress_ipv6` (unfragmented
datagrams, IPv6 dispatch or LOWPAN_IPHC) and :func:`fragment_datagram`.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from netstack.wire import Buffer, DecodeError
from netstack.wire.sixlowpan_iphc import (
    DecompressedHeaders,
    LowpanContext,
    _check_link_address,
    compress_headers,
    decompress_iphc,
    iid_from_extended,
    iid_from_mac,
    iid_from_short,
    link_local_from_mac,
    mac_from_iid,
)

__all__ = [
    "MAX_DATAGRAM_SIZE",
    "BroadcastHeader",
    "DecompressedHeaders",
    "Dispatch",
    "Frag1Header",
    "FragnHeader",
    "LowpanContext",
    "LowpanHeaders",
    "MeshHeader",
    "classify",
    "compress_headers",
    "compress_ipv6",
    "decompress_first_fragment",
    "decompress_iphc",
    "decompress_ipv6",
    "decrement_hops_left",
    "fragment_datagram",
    "iid_from_extended",
    "iid_from_mac",
    "iid_from_short",
    "link_local_from_mac",
    "mac_from_iid",
]


class Dispatch(IntEnum):
    """What the first octet of a 6LoWPAN header is (RFC 4944 §5.1, RFC 6282 §5, RFC 8025,
    IANA "Dispatch Type Field", page 0). Values are the lowest octet of each pattern."""

    NALP = 0x00  # 00xxxxxx: not a LoWPAN frame
    ESC = 0x40  # 01000000: RFC 6282 §5 moved ESC here (RFC 8066 defines its use)
    IPV6 = 0x41  # 01000001: uncompressed IPv6 header follows
    HC1 = 0x42  # 01000010: LOWPAN_HC1, obsoleted by RFC 6282 and not supported
    DFF = 0x43  # 01000011: LOWPAN_DFF (RFC 6971), not supported
    BC0 = 0x50  # 01010000: broadcast header
    IPHC = 0x60  # 011xxxxx: LOWPAN_IPHC
    MESH = 0x80  # 10xxxxxx: mesh addressing header
    FRAG1 = 0xC0  # 11000xxx: first fragment
    FRAGN = 0xE0  # 11100xxx: subsequent fragment
    PAGE = 0xF0  # 1111xxxx: page switch to page xxxx (RFC 8025 §3)
    RESERVED = 0x100  # any other value (not an octet)


def _dispatch_of(octet: int) -> Dispatch:
    if octet < 0x40:
        return Dispatch.NALP
    if octet in (0x40, 0x41, 0x42, 0x43, 0x50):
        return Dispatch(octet)
    if octet < 0x60:
        return Dispatch.RESERVED
    if octet < 0x80:
        return Dispatch.IPHC
    if octet < 0xC0:
        return Dispatch.MESH
    if octet & 0xF8 == 0xC0:
        return Dispatch.FRAG1
    if octet & 0xF8 == 0xE0:
        return Dispatch.FRAGN
    if octet >= 0xF0:
        return Dispatch.PAGE
    return Dispatch.RESERVED


_DISPATCH: tuple[Dispatch, ...] = tuple(_dispatch_of(octet) for octet in range(256))


def classify(octet: int) -> Dispatch:
    """The :class:`Dispatch` of a header's first octet."""
    return _DISPATCH[octet]


MAX_DATAGRAM_SIZE = 0x7FF  # the 11-bit datagram_size field (RFC 4944 §5.3)

_MESH_EXTENDED_HOPS = 0xF  # RFC 4944 §5.2: Hops Left 0xF announces an 8-bit Deep Hops Left

_FRAG_HEAD = struct.Struct("!HH")  # dispatch + datagram_size, datagram_tag
_FRAGN_HEAD = struct.Struct("!HHB")  # ... + datagram_offset (8-octet units)


# --- link-layer headers (RFC 4944 §5.2-§5.3, §11.1) ------------------------------------------


@dataclass(slots=True)
class MeshHeader:
    """The mesh addressing header (RFC 4944 §5.2): ``10 V F HopsLeft`` then the originator
    and final destination link-layer addresses (V/F set for a 2-byte short address).

    ``hops_left`` up to 14 fits the 4-bit field; from 15 on the field holds the escape 0xF
    and an 8-bit Deep Hops Left octet follows. ``parse`` reads either form; ``build`` always
    writes the shortest.
    """

    originator: bytes
    final: bytes
    hops_left: int

    @property
    def header_len(self) -> int:
        return 1 + (self.hops_left >= _MESH_EXTENDED_HOPS) + len(self.originator) + len(self.final)

    @classmethod
    def parse(cls, data: Buffer) -> tuple[MeshHeader, memoryview]:
        size = len(data)
        if size < 1:
            raise DecodeError("mesh header missing")
        first = data[0]
        if first & 0xC0 != 0x80:
            raise DecodeError(f"not a mesh header: dispatch {first:#04x}")
        pos = 1
        hops = first & 0x0F
        if hops == _MESH_EXTENDED_HOPS:
            if size < 2:
                raise DecodeError("mesh header truncated before Deep Hops Left")
            hops = data[1]
            pos = 2
        orig_len = 2 if first & 0x20 else 8
        final_len = 2 if first & 0x10 else 8
        end = pos + orig_len + final_len
        if size < end:
            raise DecodeError(f"mesh header truncated: {size} of {end} bytes")
        mv = data if type(data) is memoryview else memoryview(data)
        return (
            cls(
                bytes(mv[pos : pos + orig_len]),
                bytes(mv[pos + orig_len : end]),
                hops,
            ),
            mv[end:],
        )

    def build(self, payload: Buffer = b"") -> bytes:
        _check_link_address(self.originator, "mesh originator")
        _check_link_address(self.final, "mesh final destination")
        hops = self.hops_left
        if not 0 <= hops <= 0xFF:
            raise ValueError(f"hops left {hops} out of range")
        first = 0x80 | (len(self.originator) == 2) << 5 | (len(self.final) == 2) << 4
        if hops < _MESH_EXTENDED_HOPS:
            head = bytes((first | hops,))
        else:
            head = bytes((first | _MESH_EXTENDED_HOPS, hops))
        return head + self.originator + self.final + payload


def decrement_hops_left(frame: Buffer) -> bytes:
    """``frame``, which starts with a mesh header whose Hops Left is at least 1, with Hops
    Left one less and every other octet as it came (a relay's rewrite, RFC 4944 §11)."""
    out = bytearray(frame)
    if not out or out[0] & 0xC0 != 0x80:
        raise DecodeError("not a mesh header")
    at = 1 if out[0] & 0x0F == _MESH_EXTENDED_HOPS else 0  # the 4-bit field, or Deep Hops Left
    if at >= len(out) or not out[at] & (0xFF if at else 0x0F):
        raise DecodeError("mesh header with no hops left to decrement")
    out[at] -= 1
    return bytes(out)


@dataclass(slots=True)
class BroadcastHeader:
    """The LOWPAN_BC0 broadcast header (RFC 4944 §11.1): dispatch 0x50 and an 8-bit sequence
    number for duplicate suppression of mesh broadcasts."""

    sequence: int

    header_len = 2

    @classmethod
    def parse(cls, data: Buffer) -> tuple[BroadcastHeader, memoryview]:
        if len(data) < 2:
            raise DecodeError(f"broadcast header truncated: {len(data)} bytes")
        if data[0] != Dispatch.BC0:
            raise DecodeError(f"not a broadcast header: dispatch {data[0]:#04x}")
        mv = data if type(data) is memoryview else memoryview(data)
        return cls(data[1]), mv[2:]

    def build(self, payload: Buffer = b"") -> bytes:
        if not 0 <= self.sequence <= 0xFF:
            raise ValueError(f"broadcast sequence number {self.sequence} out of range")
        return bytes((Dispatch.BC0, self.sequence)) + payload


def _check_fragment_fields(size: int, tag: int) -> None:
    if not 0 <= size <= MAX_DATAGRAM_SIZE:
        raise ValueError(f"datagram size {size} out of range (11 bits)")
    if not 0 <= tag <= 0xFFFF:
        raise ValueError(f"datagram tag {tag} out of range")


@dataclass(slots=True)
class Frag1Header:
    """The first fragment header (RFC 4944 §5.3): ``11000``, the 11-bit datagram_size (the
    whole IPv6 packet, uncompressed) and the 16-bit datagram_tag. What follows is the
    datagram's first bytes, its headers possibly compressed."""

    datagram_size: int
    datagram_tag: int

    header_len = 4

    @classmethod
    def parse(cls, data: Buffer) -> tuple[Frag1Header, memoryview]:
        if len(data) < 4:
            raise DecodeError(f"FRAG1 header truncated: {len(data)} bytes")
        first, tag = _FRAG_HEAD.unpack_from(data)
        if first & 0xF800 != 0xC000:
            raise DecodeError(f"not a FRAG1 header: dispatch {first >> 8:#04x}")
        mv = data if type(data) is memoryview else memoryview(data)
        return cls(first & MAX_DATAGRAM_SIZE, tag), mv[4:]

    def build(self, payload: Buffer = b"") -> bytes:
        _check_fragment_fields(self.datagram_size, self.datagram_tag)
        return _FRAG_HEAD.pack(0xC000 | self.datagram_size, self.datagram_tag) + payload


@dataclass(slots=True)
class FragnHeader:
    """A subsequent fragment header (RFC 4944 §5.3): ``11100``, datagram_size,
    datagram_tag and datagram_offset. ``offset`` is in bytes of the uncompressed datagram, a
    multiple of 8 (the wire field counts 8-octet units)."""

    datagram_size: int
    datagram_tag: int
    offset: int

    header_len = 5

    @classmethod
    def parse(cls, data: Buffer) -> tuple[FragnHeader, memoryview]:
        if len(data) < 5:
            raise DecodeError(f"FRAGN header truncated: {len(data)} bytes")
        first, tag, offset = _FRAGN_HEAD.unpack_from(data)
        if first & 0xF800 != 0xE000:
            raise DecodeError(f"not a FRAGN header: dispatch {first >> 8:#04x}")
        mv = data if type(data) is memoryview else memoryview(data)
        return cls(first & MAX_DATAGRAM_SIZE, tag, offset << 3), mv[5:]

    def build(self, payload: Buffer = b"") -> bytes:
        _check_fragment_fields(self.datagram_size, self.datagram_tag)
        offset = self.offset
        if offset & 7 or not 0 <= offset <= 0xFF << 3:
            raise ValueError(f"fragment offset {offset} is not a multiple of 8 up to 2040")
        return (
            _FRAGN_HEAD.pack(0xE000 | self.datagram_size, self.datagram_tag, offset >> 3) + payload
        )


@dataclass(slots=True)
class LowpanHeaders:
    """The headers in front of a 6LoWPAN payload, in their RFC 4944 §5 order: mesh,
    broadcast, fragment. Each is optional.

    ``parse`` returns the record and the payload: after a FRAGN header, datagram bytes;
    otherwise it starts with the dispatch of the (first part of the) IPv6 datagram, which
    must be IPv6 (0x41) or LOWPAN_IPHC. A page switch to page 0 (0xF0, RFC 8025 §3) is
    skipped; every other page, LOWPAN_HC1, ESC, NALP, a reserved value or a header out of
    order raises :class:`DecodeError`.
    """

    mesh: MeshHeader | None = None
    broadcast: BroadcastHeader | None = None
    fragment: Frag1Header | FragnHeader | None = None

    @classmethod
    def parse(cls, data: Buffer) -> tuple[LowpanHeaders, memoryview]:
        mv = data if type(data) is memoryview else memoryview(data)
        headers = cls()
        rank = 0  # 1 after mesh, 2 after broadcast
        while True:
            if not mv:
                raise DecodeError("6LoWPAN frame ends before its payload")
            kind = _DISPATCH[mv[0]]
            if kind is Dispatch.IPHC or kind is Dispatch.IPV6:
                return headers, mv
            if kind is Dispatch.MESH and rank < 1:
                headers.mesh, mv = MeshHeader.parse(mv)
                rank = 1
            elif kind is Dispatch.BC0 and rank < 2:
                headers.broadcast, mv = BroadcastHeader.parse(mv)
                rank = 2
            elif kind is Dispatch.FRAG1:
                headers.fragment, mv = Frag1Header.parse(mv)
                rank = 3
            elif kind is Dispatch.FRAGN:
                headers.fragment, mv = FragnHeader.parse(mv)
                return headers, mv
            elif kind is Dispatch.PAGE and mv[0] == 0xF0:
                mv = mv[1:]
            else:
                raise DecodeError(_unsupported(mv[0], kind, rank))
            if rank == 3 and mv and _DISPATCH[mv[0]] not in (Dispatch.IPHC, Dispatch.IPV6):
                raise DecodeError(_unsupported(mv[0], _DISPATCH[mv[0]], rank))

    def build(self, payload: Buffer = b"") -> bytes:
        if self.fragment is not None:
            payload = self.fragment.build(payload)
        if self.broadcast is not None:
            payload = self.broadcast.build(payload)
        if self.mesh is not None:
            payload = self.mesh.build(payload)
        return bytes(payload)


def _unsupported(octet: int, kind: Dispatch, rank: int) -> str:
    if kind is Dispatch.HC1:
        return "LOWPAN_HC1 not supported (HC1 is obsoleted by RFC 6282)"
    if kind is Dispatch.NALP:
        return f"not a LoWPAN frame (NALP dispatch {octet:#04x})"
    if kind is Dispatch.PAGE:
        return f"6LoWPAN dispatch page {octet & 0x0F} not supported"
    if kind in (Dispatch.MESH, Dispatch.BC0, Dispatch.FRAG1):
        return f"6LoWPAN {kind.name} header out of order (RFC 4944 §5)"
    return f"6LoWPAN dispatch {octet:#04x} ({kind.name}) not supported"


def fragment_datagram(
    packet: Buffer, compressed: bytes, consumed: int, *, tag: int, max_size: int
) -> list[bytes]:
    """Split a datagram into FRAG1 and FRAGN payloads of at most ``max_size`` bytes each
    (the room an 802.15.4 frame leaves after its MAC header and any mesh/broadcast header).

    ``packet`` is the uncompressed IPv6 packet and ``compressed``/``consumed`` what
    :func:`compress_headers` returned for it (``b"\\x41"`` and 0 to send it uncompressed).
    The first fragment carries the compressed headers whole, so that they can be
    decompressed from it alone (RFC 6282 §4.2 forbids compressing a header that does not fit
    in it: :class:`ValueError` if they do not). Offsets and sizes count uncompressed bytes
    and every fragment but the last covers a multiple of 8 of them (RFC 4944 §5.3).
    """
    size = len(packet)
    _check_fragment_fields(size, tag)
    if not 0 <= consumed <= size:
        raise ValueError(f"consumed {consumed} outside the {size}-byte packet")
    covered = (consumed + max_size - 4 - len(compressed)) & ~7
    if covered < consumed:
        raise ValueError(
            f"{len(compressed)} bytes of compressed headers do not fit in a "
            f"{max_size}-byte first fragment"
        )
    step = (max_size - 5) & ~7
    covered = min(covered, size)
    if covered < size and step <= 0:
        raise ValueError(f"max_size {max_size} leaves no room in subsequent fragments")
    mv = packet if type(packet) is memoryview else memoryview(packet)
    frames = [_FRAG_HEAD.pack(0xC000 | size, tag) + compressed + mv[consumed:covered]]
    head = 0xE000 | size
    offset = covered
    while offset < size:
        end = min(offset + step, size)
        frames.append(_FRAGN_HEAD.pack(head, tag, offset >> 3) + mv[offset:end])
        offset = end
    return frames


# --- whole 6LoWPAN payloads (unfragmented datagrams) -----------------------------------------


def compress_ipv6(
    packet: Buffer,
    *,
    src_mac: bytes | None = None,
    dst_mac: bytes | None = None,
    contexts: Mapping[int, LowpanContext] | None = None,
    nhc: bool = True,
    elide_udp_checksum: bool = False,
) -> bytes:
    """The whole 6LoWPAN payload for ``packet`` unfragmented: compressed headers and the rest
    of the packet (see :func:`compress_headers` for the arguments)."""
    compressed, consumed = compress_headers(
        packet,
        src_mac=src_mac,
        dst_mac=dst_mac,
        contexts=contexts,
        nhc=nhc,
        elide_udp_checksum=elide_udp_checksum,
    )
    return compressed + bytes(packet[consumed:])


def decompress_ipv6(
    payload: Buffer,
    *,
    src_mac: bytes | None = None,
    dst_mac: bytes | None = None,
    contexts: Mapping[int, LowpanContext] | None = None,
) -> bytes:
    """The IPv6 packet carried whole in a 6LoWPAN payload that starts at its dispatch:
    LOWPAN_IPHC (decompressed) or IPv6 0x41 (returned as is). LOWPAN_HC1 and anything else
    raise :class:`DecodeError`."""
    if not payload:
        raise DecodeError("empty 6LoWPAN payload")
    kind = _DISPATCH[payload[0]]
    if kind is Dispatch.IPV6:
        return bytes(payload[1:])
    if kind is not Dispatch.IPHC:
        raise DecodeError(_unsupported(payload[0], kind, 0))
    decoded = decompress_iphc(payload, src_mac=src_mac, dst_mac=dst_mac, contexts=contexts)
    return decoded.header + bytes(payload[decoded.consumed :])


def decompress_first_fragment(
    payload: Buffer,
    *,
    src_mac: bytes | None = None,
    dst_mac: bytes | None = None,
    contexts: Mapping[int, LowpanContext] | None = None,
    datagram_size: int,
) -> tuple[bytes, DecompressedHeaders | None]:
    """The datagram bytes a FRAG1 payload carries, from offset 0: its headers decompressed
    (LOWPAN_IPHC, knowing the whole ``datagram_size``) or as sent (IPv6 0x41). With IPHC the
    :class:`DecompressedHeaders` come too: their ``complete`` fills an elided UDP checksum
    into the reassembled datagram."""
    if not payload:
        raise DecodeError("empty first fragment")
    kind = _DISPATCH[payload[0]]
    if kind is Dispatch.IPV6:
        return bytes(payload[1:]), None
    if kind is not Dispatch.IPHC:
        raise DecodeError(_unsupported(payload[0], kind, 3))
    decoded = decompress_iphc(payload, src_mac=src_mac, dst_mac=dst_mac, contexts=contexts,
                              datagram_size=datagram_size)  # fmt: skip
    return decoded.header + bytes(payload[decoded.consumed :]), decoded
