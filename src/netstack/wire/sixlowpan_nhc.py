"""6LoWPAN next header compression, LOWPAN_NHC (RFC 6282 §4): the headers that follow a
LOWPAN_IPHC header when its NH bit is set.

Two encodings exist. The IPv6 extension header encoding (§4.2) is one octet ``1110 EID NH``
followed by the extension header itself, with two changes: its Next Header octet is elided
when NH=1 (the next header is then LOWPAN_NHC-encoded too and says what it is), and its
length octet counts the octets that follow it instead of 8-octet units. EID 7 stands for an
encapsulated IPv6 header, compressed again with LOWPAN_IPHC right after the NHC octet. The
UDP encoding (§4.3) is one octet ``11110 C PP`` and the ports, compressed when they fall in
0xF0xx or 0xF0Bx, then the checksum unless C says it was elided; the UDP length is always
elided and comes back from the datagram size.

This module holds the chain walkers; :mod:`netstack.wire.sixlowpan_iphc` drives them from its
LOWPAN_IPHC codec and passes itself in (:class:`IphcEncoder`, :class:`IphcDecoder`) so that
an encapsulated IPv6 header goes back through LOWPAN_IPHC.

What the compressor chooses, so that decompression gives back the original bytes exactly:

- An extension header is compressed when it is complete and no more than 255 octets follow
  its length octet after compression (§4.2). A trailing Pad1 or PadN option (up to 7 octets,
  PadN all zero) of a Hop-by-Hop or Destination Options header is elided, since the
  decompressor must pad the header back to a multiple of 8 octets with exactly that option.
- A Fragment header is carried as its 7 octets after Next Header (Wireshark's reading: the
  reserved octet stays where a length octet would be); what follows it is fragment data, so
  the chain ends there with the next header inline.
- UDP is compressed when its length field equals the bytes that remain (the decompressor
  infers it). The checksum is elided only when the caller allows it (§4.3.2), the checksum
  is correct and non-zero, and no Routing header precedes it (the pseudo-header would then
  use the final destination, which the decompressor does not see).
- An encapsulated IPv6 packet (Next Header 41) is compressed when its payload length fills
  the rest of the datagram; its elided interface identifiers come from the outer IPv6
  addresses, as RFC 6282 §3.2.2 says for an encapsulating IPv6 header.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import Protocol

from netstack.wire import DecodeError

__all__ = [
    "NHC_EXT",
    "NHC_UDP",
    "IphcDecoder",
    "IphcEncoder",
    "NhcExtensionId",
    "compress_chain",
    "decompress_chain",
    "next_header_of",
    "udp_checksum",
]

NHC_EXT = 0xE0  # 1110 EID NH (RFC 6282 §4.2)
NHC_UDP = 0xF0  # 11110 C PP (RFC 6282 §4.3.3)
_NHC_UDP_CHECKSUM_ELIDED = 0x04
_NHC_IPV6 = 0xEE  # EID 7 with NH=0: "the NH bit ... MUST be set to zero" (RFC 6282 §4.2)


class NhcExtensionId(IntEnum):
    """The EID field of the extension header encoding (RFC 6282 §4.2); 5 and 6 are reserved."""

    HOP_BY_HOP = 0
    ROUTING = 1
    FRAGMENT = 2
    DEST_OPTS = 3
    MOBILITY = 4
    IPV6 = 7


# EID -> IPv6 Next Header value, and back for the headers carried with a length octet.
_EID_PROTO: tuple[int, ...] = (0, 43, 44, 60, 135, -1, -1, 41)
_LENGTH_EID = {0: 0, 43: 1, 60: 3, 135: 4}
_OPTIONS_HEADERS = (0, 60)
_PROTO_UDP = 17
_PROTO_ROUTING = 43
_PROTO_FRAGMENT = 44
_PROTO_IPV6 = 41

_UDP = struct.Struct("!HHHH")
_unpack_udp = _UDP.unpack_from
_pack_udp = _UDP.pack
_PORTS_8_16 = struct.Struct("!BH")
_PORTS_16_8 = struct.Struct("!HB")
_from_bytes = int.from_bytes


class IphcEncoder(Protocol):
    """What :func:`compress_chain` needs from the LOWPAN_IPHC compressor driving it."""

    elide_udp_checksum: bool

    def ipv6(
        self,
        packet: bytes,
        start: int,
        end: int,
        src_iid: bytes | None,
        dst_iid: bytes | None,
        depth: int,
    ) -> tuple[bytes, int] | None:
        """Compress the IPv6 packet ``packet[start:end]``: (compressed headers, octets of
        ``packet`` they replace), or None when it cannot be compressed losslessly."""
        ...


class IphcDecoder(Protocol):
    """What :func:`decompress_chain` needs from the LOWPAN_IPHC decompressor driving it.

    ``out`` is the uncompressed header being built. ``lengths`` collects (offset of a 16-bit
    length field in ``out``, offset it counts from), filled once the datagram size is known.
    ``udp`` is (offset of the UDP header, pseudo-header source, destination) when the UDP
    checksum was elided and must be computed.
    """

    out: bytearray
    lengths: list[tuple[int, int]]
    udp: tuple[int, bytes, bytes] | None

    def ipv6(
        self,
        data: bytes,
        pos: int,
        end: int,
        src_iid: bytes | None,
        dst_iid: bytes | None,
        depth: int,
    ) -> int:
        """Decompress a LOWPAN_IPHC header at ``data[pos:end]`` into ``out``; returns the
        position after everything it consumed."""
        ...


def next_header_of(octet: int) -> int:
    """The IPv6 Next Header value a LOWPAN_NHC octet stands for (RFC 6282 §4.1, §5)."""
    if octet & 0xF8 == NHC_UDP:
        return _PROTO_UDP
    if octet & 0xF0 == NHC_EXT:
        proto = _EID_PROTO[(octet >> 1) & 7]
        if proto >= 0:
            return proto
        raise DecodeError(f"LOWPAN_NHC extension header ID {(octet >> 1) & 7} is reserved")
    raise DecodeError(f"unknown LOWPAN_NHC encoding {octet:#04x}")


def udp_checksum(src: bytes, dst: bytes, segment: bytes | bytearray) -> int:
    """The UDP checksum over the IPv6 pseudo-header (RFC 8200 §8.1) and ``segment`` (header
    with a zero checksum field, and payload); a computed 0 is sent as 0xFFFF (RFC 768)."""
    size = len(segment)
    words = _from_bytes(segment) << 8 if size & 1 else _from_bytes(segment)
    return 0xFFFF - (_from_bytes(src) + _from_bytes(dst) + _PROTO_UDP + size + words) % 0xFFFF


# --- compression ----------------------------------------------------------------------------


def _elide_padding(body: bytes) -> bytes:
    """The options of a Hop-by-Hop or Destination Options header (``body``: everything after
    Next Header and Hdr Ext Len) without a trailing Pad1/PadN that the decompressor restores
    byte for byte (RFC 6282 §4.2); ``body`` itself when there is none or options are
    malformed."""
    size = len(body)
    i = 0
    last = -1
    while i < size:
        last = i
        if body[i] == 0:
            i += 1
            continue
        if i + 1 >= size:
            return body
        i += 2 + body[i + 1]
    if i != size or last < 0:
        return body
    pad = size - last
    kind = body[last]
    if kind == 0:
        pass  # Pad1: a single octet, which is all the decompressor adds for 1 octet
    elif kind != 1 or pad > 7 or pad < 2 or any(body[last + 2 :]):
        return body
    if (-(2 + last)) & 7 != pad:  # the decompressor pads back to this exact size
        return body
    return body[:last]


def _compress_udp(
    packet: bytes, offset: int, end: int, src: bytes, dst: bytes, elide: bool
) -> bytes | None:
    """The UDP NHC encoding (RFC 6282 §4.3.3) of the datagram at ``packet[offset:end]``, or
    None when its length field does not match (the decompressor could not restore it)."""
    if end - offset < 8:
        return None
    src_port, dst_port, length, checksum = _unpack_udp(packet, offset)
    if length != end - offset:
        return None
    if src_port & 0xFFF0 == 0xF0B0 and dst_port & 0xFFF0 == 0xF0B0:
        mode = 3
        ports = bytes(((src_port & 0xF) << 4 | (dst_port & 0xF),))
    elif dst_port & 0xFF00 == 0xF000:
        mode = 1
        ports = _PORTS_16_8.pack(src_port, dst_port & 0xFF)
    elif src_port & 0xFF00 == 0xF000:
        mode = 2
        ports = _PORTS_8_16.pack(src_port & 0xFF, dst_port)
    else:
        mode = 0
        ports = packet[offset : offset + 4]
    if elide and checksum:
        segment = packet[offset:end]
        words = _from_bytes(segment) << 8 if length & 1 else _from_bytes(segment)
        total = _from_bytes(src) + _from_bytes(dst) + _PROTO_UDP + length + words
        if total % 0xFFFF == 0:  # the checksum verifies, so the decompressor recomputes it
            return bytes((NHC_UDP | _NHC_UDP_CHECKSUM_ELIDED | mode,)) + ports
    return bytes((NHC_UDP | mode,)) + ports + packet[offset + 6 : offset + 8]


def compress_chain(
    packet: bytes,
    offset: int,
    end: int,
    next_header: int,
    src: bytes,
    dst: bytes,
    encoder: IphcEncoder,
    depth: int,
) -> tuple[bytes, int] | None:
    """LOWPAN_NHC encodings of the headers at ``packet[offset:end]``, the first of type
    ``next_header``, inside an IPv6 packet from ``src`` to ``dst``.

    Returns (encodings, offset in ``packet`` where the uncompressed rest begins), or None when
    the first header cannot be compressed (the caller then carries Next Header inline).
    """
    items: list[tuple[int, int, bytes]] = []  # (NHC octet with NH=0, next header, body)
    tail = b""
    routed = False
    kind = next_header
    while True:
        eid = _LENGTH_EID.get(kind)
        if eid is not None:
            if end - offset < 8:
                break
            size = (packet[offset + 1] + 1) << 3
            if end - offset < size:
                break
            body = packet[offset + 2 : offset + size]
            if kind in _OPTIONS_HEADERS:
                body = _elide_padding(body)
            if len(body) > 0xFF:  # RFC 6282 §4.2: at most 255 octets after the length
                break
            if kind == _PROTO_ROUTING:
                routed = True
            kind = packet[offset]
            items.append((NHC_EXT | eid << 1, kind, bytes((len(body),)) + body))
            offset += size
            continue
        if kind == _PROTO_FRAGMENT:
            if end - offset >= 8:
                kind = packet[offset]
                items.append((NHC_EXT | 2 << 1, kind, packet[offset + 1 : offset + 8]))
                offset += 8
        elif kind == _PROTO_UDP:
            udp = _compress_udp(
                packet, offset, end, src, dst, encoder.elide_udp_checksum and not routed
            )
            if udp is not None:
                tail = udp
                offset += 8
        elif kind == _PROTO_IPV6:
            inner = encoder.ipv6(packet, offset, end, src[8:], dst[8:], depth + 1)
            if inner is not None:
                tail = b"\xee" + inner[0]
                offset += inner[1]
        break
    if not items:
        return (tail, offset) if tail else None
    parts = []
    last = len(items) - 1
    for i, (octet, kind, body) in enumerate(items):
        if i < last or tail:
            parts.append(bytes((octet | 1,)))  # NH=1: the next header is NHC-encoded too
        else:
            parts.append(bytes((octet, kind)))
        parts.append(body)
    parts.append(tail)
    return b"".join(parts), offset


# --- decompression --------------------------------------------------------------------------


def _decompress_udp(
    data: bytes, pos: int, end: int, src: bytes, dst: bytes, decoder: IphcDecoder
) -> int:
    octet = data[pos]
    mode = octet & 3
    elided = octet & _NHC_UDP_CHECKSUM_ELIDED
    need = (5, 4, 4, 2)[mode] + (0 if elided else 2)
    if end - pos < need:
        raise DecodeError(f"UDP LOWPAN_NHC truncated: {end - pos} of {need} bytes")
    if mode == 0:
        src_port = data[pos + 1] << 8 | data[pos + 2]
        dst_port = data[pos + 3] << 8 | data[pos + 4]
    elif mode == 1:
        src_port = data[pos + 1] << 8 | data[pos + 2]
        dst_port = 0xF000 | data[pos + 3]
    elif mode == 2:
        src_port = 0xF000 | data[pos + 1]
        dst_port = data[pos + 2] << 8 | data[pos + 3]
    else:
        src_port = 0xF0B0 | data[pos + 1] >> 4
        dst_port = 0xF0B0 | data[pos + 1] & 0xF
    pos += need
    out = decoder.out
    start = len(out)
    checksum = 0 if elided else data[pos - 2] << 8 | data[pos - 1]
    out += _pack_udp(src_port, dst_port, 0, checksum)
    decoder.lengths.append((start + 4, start))  # RFC 6282 §4.3.3: length always elided
    if elided:
        decoder.udp = (start, src, dst)
    return pos


def decompress_chain(
    data: bytes,
    pos: int,
    end: int,
    src: bytes,
    dst: bytes,
    decoder: IphcDecoder,
    depth: int,
) -> int:
    """Decompress the LOWPAN_NHC chain at ``data[pos:end]`` that follows an IPv6 header from
    ``src`` to ``dst``, appending the uncompressed headers to ``decoder.out``; returns the
    position of the first octet after the chain (the payload)."""
    out = decoder.out
    while True:
        if pos >= end:
            raise DecodeError("LOWPAN_NHC header missing")
        octet = data[pos]
        if octet & 0xF8 == NHC_UDP:
            return _decompress_udp(data, pos, end, src, dst, decoder)
        if octet & 0xF0 != NHC_EXT:
            raise DecodeError(f"unknown LOWPAN_NHC encoding {octet:#04x}")
        proto = _EID_PROTO[(octet >> 1) & 7]
        if proto < 0:
            raise DecodeError(f"LOWPAN_NHC extension header ID {(octet >> 1) & 7} is reserved")
        if proto == _PROTO_IPV6:
            return decoder.ipv6(data, pos + 1, end, src[8:], dst[8:], depth + 1)
        pos += 1
        chained = octet & 1
        if chained:
            kind = 0  # filled from the next NHC octet below
        else:
            if pos >= end:
                raise DecodeError("LOWPAN_NHC extension header truncated before Next Header")
            kind = data[pos]
            pos += 1
        start = len(out)
        if proto == _PROTO_FRAGMENT:
            if end - pos < 7:
                raise DecodeError(f"compressed Fragment header truncated: {end - pos} of 7 bytes")
            out.append(kind)
            out += data[pos : pos + 7]
            pos += 7
        else:
            if pos >= end:
                raise DecodeError("LOWPAN_NHC extension header truncated before its length")
            length = data[pos]
            pos += 1
            if end - pos < length:
                raise DecodeError(
                    f"compressed extension header of {length} bytes, {end - pos} present"
                )
            size = (length + 9) & ~7
            pad = size - 2 - length
            if pad and proto not in _OPTIONS_HEADERS:
                raise DecodeError(
                    f"compressed extension header {proto} of {length + 2} bytes is not a "
                    "multiple of 8 octets"
                )
            out.append(kind)
            out.append((size >> 3) - 1)
            out += data[pos : pos + length]
            pos += length
            # RFC 6282 §4.2: the decompressor pads the header to a multiple of 8 octets.
            if pad == 1:
                out.append(0)  # Pad1
            elif pad:
                out += bytes((1, pad - 2)) + bytes(pad - 2)  # PadN
        if not chained:
            return pos
        if pos >= end:
            raise DecodeError("LOWPAN_NHC chain ends after an NH=1 extension header")
        out[start] = next_header_of(data[pos])
