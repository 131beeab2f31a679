"""LOWPAN_IPHC (RFC 6282 §3): the compressed IPv6 header of 6LoWPAN, with the interface
identifiers it derives from link-layer addresses and the shared contexts of stateful
compression. The dispatch, mesh, broadcast and fragment headers around it are
:mod:`netstack.wire.sixlowpan` (which re-exports every name here); the headers after it,
LOWPAN_NHC, are :mod:`netstack.wire.sixlowpan_nhc`.

LOWPAN_IPHC replaces the 40-byte IPv6 header with two octets of encoding bits and whatever
fields cannot be inferred, carried in-line in header order (RFC 6282 §3.1-§3.2):

- traffic class and flow label (TF: both, ECN + flow label, ECN + DSCP, or nothing; the
  traffic class is carried rotated as ECN|DSCP), Next Header (NH: in-line or LOWPAN_NHC),
  Hop Limit (HLIM: in-line, 1, 64 or 255);
- the source (SAC/SAM) and destination (M/DAC/DAM) addresses: link-local addresses down to
  64 or 16 bits or nothing when the interface identifier (IID) comes from the link-layer
  address; addresses under a shared context prefix (contexts 0-15, the CID octet naming
  them) likewise; ``::`` as SAC=1 SAM=00; multicast addresses down to 48, 32 or 8 bits,
  or 48 bits for a unicast-prefix-based address (RFC 3306) whose prefix is a context;
- the payload length, always: it comes back from the datagram size, i.e. the frame, or the
  FRAG1 header's datagram_size when the datagram is fragmented.

Link-layer addresses are ``bytes``: 8 for an extended address (an EUI-64 in its natural
order, most significant octet first, as printed; 802.15.4 sends it reversed) and 2 for a
short address (big-endian). They only serve to derive interface identifiers (RFC 6282
§3.2.2): the MAC source and destination, or the mesh header's originator and final address
when one is present.

:func:`compress_headers` turns an IPv6 packet into LOWPAN_IPHC (+ LOWPAN_NHC, see
:mod:`netstack.wire.sixlowpan_nhc`) and always chooses the shortest legal encoding of each
field; :func:`decompress_iphc` reverses it. The round trip gives back the original bytes
exactly, payload length, UDP length and checksum included: whatever the compressor could
not restore byte for byte it carries in-line.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from netstack.wire import Buffer, DecodeError
from netstack.wire.sixlowpan_nhc import (
    compress_chain,
    decompress_chain,
    next_header_of,
    udp_checksum,
)

__all__ = [
    "DecompressedHeaders",
    "LowpanContext",
    "compress_headers",
    "decompress_iphc",
    "iid_from_extended",
    "iid_from_mac",
    "iid_from_short",
    "link_local_from_mac",
]

_IPV6 = struct.Struct("!IHBB16s16s")  # RFC 8200 §3
_unpack_ipv6 = _IPV6.unpack_from
_pack_ipv6 = _IPV6.pack
_pack_u16_into = struct.Struct("!H").pack_into
_U32 = struct.Struct("!I")
_from_bytes = int.from_bytes


def _check_link_address(address: bytes, name: str) -> None:
    if len(address) not in (2, 8):
        raise ValueError(f"{name} is a 2-byte short or 8-byte extended address, not {address!r}")


# --- interface identifiers (RFC 4944 §6, RFC 6282 §3.2.2) ----------------------------------

_LINK_LOCAL_64 = b"\xfe\x80" + bytes(6)
_SHORT_IID_HEAD = b"\x00\x00\x00\xff\xfe\x00"  # 0000:00ff:fe00:XXXX
_SHORT_IID_INT = 0x0000_00FF_FE00_0000
_UNSPECIFIED = bytes(16)
_LOW64 = (1 << 64) - 1


def iid_from_extended(eui64: bytes) -> bytes:
    """The IID of an extended (EUI-64) address: the universal/local bit inverted
    (RFC 6282 §3.2.2, RFC 4291 appendix A)."""
    if len(eui64) != 8:
        raise ValueError(f"an extended address is 8 bytes, not {len(eui64)}")
    return bytes((eui64[0] ^ 0x02,)) + eui64[1:]


def iid_from_short(short: int, pan_id: int | None = None) -> bytes:
    """The IID of a 16-bit short address: ``0000:00ff:fe00:XXXX`` (RFC 6282 §3.2.2, the form
    LOWPAN_IPHC uses). With ``pan_id``, the older RFC 4944 §6 form
    ``PAN:00ff:fe00:XXXX`` with the universal/local bit cleared."""
    if not 0 <= short <= 0xFFFF:
        raise ValueError(f"short address {short} out of range")
    if pan_id is None:
        return _SHORT_IID_HEAD + short.to_bytes(2, "big")
    if not 0 <= pan_id <= 0xFFFF:
        raise ValueError(f"PAN ID {pan_id} out of range")
    return (pan_id & ~0x0200).to_bytes(2, "big") + b"\x00\xff\xfe\x00" + short.to_bytes(2, "big")


def iid_from_mac(mac: bytes) -> bytes:
    """The IID LOWPAN_IPHC derives from a link-layer address: 8 bytes extended, 2 short."""
    if len(mac) == 8:
        return bytes((mac[0] ^ 0x02,)) + mac[1:]
    if len(mac) == 2:
        return _SHORT_IID_HEAD + mac
    raise ValueError(f"a link-layer address is 2 or 8 bytes, not {len(mac)}")


def mac_from_iid(iid: bytes) -> bytes:
    """The link-layer address an IID was derived from, the inverse of :func:`iid_from_mac`:
    2 bytes for ``0000:00ff:fe00:XXXX`` (a short address, RFC 6282 §3.2.2), else the 8-byte
    extended address with the universal/local bit inverted back (RFC 4944 §6)."""
    if len(iid) != 8:
        raise ValueError(f"an interface identifier is 8 bytes, not {len(iid)}")
    if iid[:6] == _SHORT_IID_HEAD:
        return iid[6:]
    return bytes((iid[0] ^ 0x02,)) + iid[1:]


def link_local_from_mac(mac: bytes) -> bytes:
    """fe80::/64 with the IID of an extended or short link-layer address."""
    return _LINK_LOCAL_64 + iid_from_mac(mac)


# --- contexts (RFC 6282 §3.1.2) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LowpanContext:
    """A shared prefix for stateful compression (how contexts are distributed is RFC 6775's
    business). ``prefix`` may be shorter than 16 bytes; bits past ``length`` are cleared.

    In a unicast address the bits the context covers always come from it, the bits up to 64
    it does not cover are zero, and the IID bits it does not cover come from in-line bits or
    the link-layer address. A context of length up to 64 also compresses unicast-prefix-based
    multicast addresses (RFC 3306) with that prefix and prefix length.
    """

    prefix: bytes
    length: int
    _value: int = field(init=False, repr=False, compare=False)
    _mask: int = field(init=False, repr=False, compare=False)
    _head: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.length <= 128 or len(self.prefix) > 16:
            raise ValueError(f"context prefix {self.prefix!r}/{self.length} out of range")
        mask = ((1 << self.length) - 1) << (128 - self.length)
        value = _from_bytes(bytes(self.prefix).ljust(16, b"\0")) & mask
        packed = value.to_bytes(16, "big")
        object.__setattr__(self, "prefix", packed)
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_mask", mask)
        object.__setattr__(self, "_head", packed[:8])

    @classmethod
    def from_string(cls, text: str) -> LowpanContext:
        """``"2001:db8::/64"`` -> a context; host bits are cleared."""
        network = ipaddress.IPv6Network(text, strict=False)
        return cls(network.network_address.packed, network.prefixlen)

    def __str__(self) -> str:
        return f"{ipaddress.IPv6Address(self.prefix)}/{self.length}"

    def address(self, iid: bytes) -> bytes:
        """The address with this prefix and ``iid`` (8 bytes) in the bits it does not cover."""
        if self.length <= 64:
            return self._head + iid
        return (self._value | (_from_bytes(iid) & ~self._mask)).to_bytes(16, "big")

    def mode(self, address: bytes, iid: bytes | None) -> int:
        """The shortest SAM/DAM (3: 0 bits, 2: 16 bits, 1: 64 bits) that rebuilds unicast
        ``address`` from this context, or 0 if none does."""
        value = _from_bytes(address)
        mask = self._mask
        if value & mask != self._value:
            return 0
        rest = value & ~mask
        if rest >> 64:  # bits between the prefix and the IID must be zero
            return 0
        free = ~mask & _LOW64
        if iid is not None and _from_bytes(iid) & free == rest:
            return 3
        if (_SHORT_IID_INT | value & 0xFFFF) & free == rest:
            return 2
        return 1


_NO_CONTEXTS: Mapping[int, LowpanContext] = {}
_ADDRESS_SLICE = (16, 8, 2, 0)  # in-line octets of SAM/DAM 0..3 for unicast


def _check_contexts(contexts: Mapping[int, LowpanContext]) -> None:
    for cid in contexts:
        if not 0 <= cid <= 15:
            raise ValueError(f"context identifier {cid} outside 0-15")


# --- LOWPAN_IPHC compression (RFC 6282 §3) ---------------------------------------------------

_HLIM_CODE = {1: 1, 64: 2, 255: 3}
_ZERO9 = bytes(9)
_ZERO11 = bytes(11)
_ZERO13 = bytes(13)
_MAX_NESTING = 4  # IPv6-in-IPv6 levels compressed or accepted


def _best_unicast(
    address: bytes, iid: bytes | None, contexts: Mapping[int, LowpanContext], source: bool
) -> tuple[int, int, int]:
    """The shortest encodings of a unicast ``address``: (free bits, paid bits, paid context).

    Bits are AC<<2 | AM (SAC/SAM or DAC/DAM). "Free" needs no CID octet: stateless, or
    context 0. "Paid" is the best of contexts 1-15, its context identifier -1 when none
    beats the free encoding.
    """
    if address[:8] == _LINK_LOCAL_64:
        if iid is not None and address[8:] == iid:
            return 3, 0, -1  # nothing beats 0 bits
        mode = 2 if address[8:14] == _SHORT_IID_HEAD else 1
    elif source and address == _UNSPECIFIED:
        return 4, 0, -1  # SAC=1 SAM=00 (RFC 6282 §3.1.1)
    else:
        mode = 0
    free_bits = mode
    if not contexts:
        return free_bits, 0, -1
    best = _ADDRESS_SLICE[mode]
    paid_bits = 0
    paid_cid = -1
    paid_best = best
    for cid, context in contexts.items():
        mode = context.mode(address, iid)
        if not mode:
            continue
        size = _ADDRESS_SLICE[mode]
        if cid == 0:
            if size < best:
                best = size
                free_bits = 4 | mode
        elif size < paid_best:
            paid_best = size
            paid_bits = 4 | mode
            paid_cid = cid
    if paid_best >= best:
        paid_cid = -1
    return free_bits, paid_bits, paid_cid


def _multicast_encoding(
    address: bytes, contexts: Mapping[int, LowpanContext]
) -> tuple[int, int, int]:
    """As :func:`_best_unicast` for a multicast destination; bits are M<<3 | DAC<<2 | DAM
    (RFC 6282 §3.2.3, §3.2.4)."""
    if address[1] == 0x02 and address[2:15] == _ZERO13:
        return 0b1011, 0, -1  # ff02::00XX, 8 bits
    if address[2:13] == _ZERO11:
        return 0b1010, 0, -1  # ffXX::00XX:XXXX, 32 bits
    if address[2:11] == _ZERO9:
        return 0b1001, 0, -1  # ffXX::00XX:XXXX:XXXX, 48 bits
    # Unicast-prefix-based: ffXX:XXLL:PPPP:PPPP:PPPP:PPPP:XXXX:XXXX, L and P from a context.
    paid_cid = -1
    for cid, context in contexts.items():
        length = context.length
        if length <= 64 and address[3] == length and address[4:12] == context._head:
            if cid == 0:
                return 0b1100, 0, -1
            paid_cid = cid
    return 0b1000, 0b1100, paid_cid


def _inline_address(bits: int, address: bytes) -> bytes:
    """The in-line octets of an address encoded with ``bits`` (AC/AM or M/DAC/DAM)."""
    if bits & 0b1000:  # multicast
        mode = bits & 0b111
        if mode == 0:
            return address
        if mode == 0b001:
            return address[1:2] + address[11:]
        if mode == 0b010:
            return address[1:2] + address[13:]
        if mode == 0b011:
            return address[15:]
        return address[1:3] + address[12:]  # stateful, DAC=1 DAM=00
    mode = bits & 3
    if mode == 0:
        return b"" if bits & 4 else address
    return address[16 - _ADDRESS_SLICE[mode] :]


_NO_LINK_SOURCE = "SAM=11 needs the link-layer source address"
_NO_LINK_DESTINATION = "DAM=11 needs the link-layer destination address"


def _elided_iid(
    data: bytes, p: int, mode: int, link_iid: bytes | None, missing: str
) -> tuple[bytes, int]:
    """The interface identifier of a unicast address of SAM/DAM ``mode`` 1-3 (RFC 6282
    §3.1.1): 64 bits in-line, 16 bits in-line after 0000:00ff:fe00, or the link-layer
    address's; and the offset after what it read."""
    if mode == 1:
        return data[p : p + 8], p + 8
    if mode == 2:
        return _SHORT_IID_HEAD + data[p : p + 2], p + 2
    if link_iid is None:
        raise DecodeError(missing)
    return link_iid, p


class _Compressor:
    """One compression: the options, and the LOWPAN_IPHC step the NHC walker calls back for
    an encapsulated IPv6 header (:class:`~netstack.wire.sixlowpan_nhc.IphcEncoder`)."""

    __slots__ = ("contexts", "elide_udp_checksum", "nhc")

    def __init__(
        self, contexts: Mapping[int, LowpanContext], nhc: bool, elide_udp_checksum: bool
    ) -> None:
        self.contexts = contexts
        self.nhc = nhc
        self.elide_udp_checksum = elide_udp_checksum

    def ipv6(
        self,
        packet: bytes,
        start: int,
        end: int,
        src_iid: bytes | None,
        dst_iid: bytes | None,
        depth: int,
    ) -> tuple[bytes, int] | None:
        if depth > _MAX_NESTING or end - start < 40:
            return None
        vtf, payload_length, next_header, hop_limit, src, dst = _unpack_ipv6(packet, start)
        if vtf >> 28 != 6 or payload_length != end - start - 40:
            return None  # the payload length must be what the decompressor infers
        # RFC 6282 §3.2.1: the traffic class goes in-line rotated, ECN first.
        traffic_class = vtf >> 20 & 0xFF
        flow_label = vtf & 0xFFFFF
        ecn_dscp = (traffic_class & 3) << 6 | traffic_class >> 2
        if not flow_label:
            if traffic_class:
                tf = 2
                tf_inline = bytes((ecn_dscp,))
            else:
                tf = 3
                tf_inline = b""
        elif traffic_class >> 2:
            tf = 0
            tf_inline = _U32.pack(ecn_dscp << 24 | flow_label)
        else:
            tf = 1
            tf_inline = _U32.pack((traffic_class & 3) << 22 | flow_label)[1:]
        chain = None
        if self.nhc:
            chain = compress_chain(packet, start + 40, end, next_header, src, dst, self, depth)
        hlim = _HLIM_CODE.get(hop_limit, 0)

        contexts = self.contexts
        s_bits, s_paid, s_paid_cid = _best_unicast(src, src_iid, contexts, True)
        if dst[0] == 0xFF:
            d_bits, d_paid, d_paid_cid = _multicast_encoding(dst, contexts)
        else:
            d_bits, d_paid, d_paid_cid = _best_unicast(dst, dst_iid, contexts, False)
        cid_octet = b""
        if s_paid_cid >= 0 or d_paid_cid >= 0:
            # The CID octet (RFC 6282 §3.1.2) costs one byte for both addresses: use contexts
            # 1-15 only when they save more than that.
            s_try, sci = (s_paid, s_paid_cid) if s_paid_cid >= 0 else (s_bits, 0)
            d_try, dci = (d_paid, d_paid_cid) if d_paid_cid >= 0 else (d_bits, 0)
            saving = (
                len(_inline_address(s_bits, src))
                + len(_inline_address(d_bits, dst))
                - len(_inline_address(s_try, src))
                - len(_inline_address(d_try, dst))
            )
            if saving > 1:
                s_bits, d_bits = s_try, d_try
                cid_octet = bytes((sci << 4 | dci,))
        first = 0x60 | tf << 3 | (4 if chain is not None else 0) | hlim
        second = bool(cid_octet) << 7 | s_bits << 4 | d_bits
        parts = [bytes((first, second)), cid_octet, tf_inline]
        if chain is None:
            parts.append(bytes((next_header,)))
        if not hlim:
            parts.append(bytes((hop_limit,)))
        parts.append(_inline_address(s_bits, src))
        parts.append(_inline_address(d_bits, dst))
        if chain is None:
            return b"".join(parts), 40
        parts.append(chain[0])
        return b"".join(parts), chain[1] - start


def compress_headers(
    packet: Buffer,
    *,
    src_mac: bytes | None = None,
    dst_mac: bytes | None = None,
    contexts: Mapping[int, LowpanContext] | None = None,
    nhc: bool = True,
    elide_udp_checksum: bool = False,
) -> tuple[bytes, int]:
    """Compress the headers of the IPv6 ``packet`` (fixed header, extension headers, UDP).

    Returns ``(compressed, consumed)``: the LOWPAN_IPHC encoding (dispatch included) and the
    number of leading bytes of ``packet`` it replaces; the datagram on the link is
    ``compressed + packet[consumed:]`` (:func:`~netstack.wire.sixlowpan.compress_ipv6`), or
    fragments of it (:func:`~netstack.wire.sixlowpan.fragment_datagram`).

    ``src_mac``/``dst_mac`` are the link-layer addresses (2 or 8 bytes) the receiver will
    derive IIDs from: the MAC addresses, or the mesh header's originator and final
    destination. ``contexts`` maps context identifiers 0-15 to prefixes. ``nhc=False``
    leaves every header after the IPv6 header uncompressed. ``elide_udp_checksum`` lets the
    compressor elide a correct UDP checksum (RFC 6282 §4.3.2: only when the upper layer
    authorises it, e.g. because it has its own integrity check).

    :class:`ValueError` if the packet is shorter than 40 bytes, not IPv6, or its payload
    length is not exactly the bytes after the header (IPHC elides it, so it must be
    inferable; trim link-layer padding first).
    """
    if type(packet) is not bytes:
        packet = bytes(packet)
    size = len(packet)
    if size < 40 or packet[0] >> 4 != 6:
        raise ValueError(f"not an IPv6 packet ({size} bytes)")
    if packet[4] << 8 | packet[5] != size - 40:
        raise ValueError(
            f"IPv6 payload length {packet[4] << 8 | packet[5]} does not match the "
            f"{size - 40} bytes after the header"
        )
    for mac, name in ((src_mac, "src_mac"), (dst_mac, "dst_mac")):
        if mac is not None:
            _check_link_address(mac, name)
    if contexts is None:
        contexts = _NO_CONTEXTS
    elif contexts:
        _check_contexts(contexts)
    compressor = _Compressor(contexts, nhc, elide_udp_checksum)
    result = compressor.ipv6(
        packet,
        0,
        size,
        None if src_mac is None else iid_from_mac(src_mac),
        None if dst_mac is None else iid_from_mac(dst_mac),
        0,
    )
    if result is None:  # pragma: no cover - the checks above make the outer header valid
        raise ValueError("IPv6 header cannot be compressed")
    return result


# --- LOWPAN_IPHC decompression ---------------------------------------------------------------

_TF_SIZE = (4, 3, 1, 0)
_SRC_SIZE = (16, 8, 2, 0, 0, 8, 2, 0)  # SAC<<2 | SAM
_DST_SIZE = (16, 8, 2, 0, -1, 8, 2, 0, 16, 6, 4, 1, 6, -1, -1, -1)  # M<<3 | DAC<<2 | DAM
_HOP_LIMITS = (0, 1, 64, 255)


@dataclass(slots=True)
class DecompressedHeaders:
    """What :func:`decompress_iphc` rebuilt.

    ``header`` is the uncompressed IPv6 header with every extension, encapsulated IPv6 and
    UDP header that was compressed; ``consumed`` the compressed octets it came from. The
    datagram is ``header`` followed by the rest of the input (and, when fragmented, by the
    later fragments): ``datagram_size`` bytes.

    When the UDP checksum was elided but the datagram was not all there (a FRAG1),
    ``checksum_offset`` is where it goes in the datagram: call :meth:`complete` on the
    reassembled datagram. Otherwise it is -1 and ``header`` is final.
    """

    header: bytes
    consumed: int
    datagram_size: int
    checksum_offset: int = -1
    checksum_src: bytes = b""
    checksum_dst: bytes = b""

    def complete(self, datagram: bytearray) -> None:
        """Fill in an elided UDP checksum (RFC 6282 §4.3.2) in the reassembled datagram."""
        at = self.checksum_offset
        if at < 0:
            return
        if len(datagram) != self.datagram_size:
            raise ValueError(f"datagram of {len(datagram)} bytes, expected {self.datagram_size}")
        datagram[at : at + 2] = b"\0\0"
        checksum = udp_checksum(self.checksum_src, self.checksum_dst, datagram[at - 6 :])
        _pack_u16_into(datagram, at, checksum)


class _Decompressor:
    """One decompression: the output being built and the LOWPAN_IPHC step that the NHC
    walker calls back for an encapsulated IPv6 header (its ``IphcDecoder``)."""

    __slots__ = ("contexts", "lengths", "out", "udp")

    def __init__(self, contexts: Mapping[int, LowpanContext]) -> None:
        self.contexts = contexts
        self.out = bytearray()
        self.lengths: list[tuple[int, int]] = []
        self.udp: tuple[int, bytes, bytes] | None = None

    def _context(self, cid: int) -> LowpanContext:
        context = self.contexts.get(cid)
        if context is None:
            raise DecodeError(f"LOWPAN_IPHC refers to unknown context {cid}")
        return context

    def ipv6(
        self,
        data: bytes,
        pos: int,
        end: int,
        src_iid: bytes | None,
        dst_iid: bytes | None,
        depth: int,
    ) -> int:
        if depth > _MAX_NESTING:
            raise DecodeError(f"more than {_MAX_NESTING} nested compressed IPv6 headers")
        if end - pos < 2:
            raise DecodeError(f"LOWPAN_IPHC truncated: {end - pos} bytes")
        first = data[pos]
        second = data[pos + 1]
        if first & 0xE0 != 0x60:
            raise DecodeError(f"not LOWPAN_IPHC: dispatch {first:#04x}")
        tf = first >> 3 & 3
        dst_size = _DST_SIZE[second & 0x0F]
        if dst_size < 0:
            raise DecodeError(
                f"reserved destination address mode M={second >> 3 & 1} DAC=1 "
                f"DAM={second & 3:02b} (RFC 6282 §3.1.1)"
            )
        need = (
            2
            + (second >> 7)
            + _TF_SIZE[tf]
            + (not first & 4)
            + (not first & 3)
            + _SRC_SIZE[second >> 4 & 7]
            + dst_size
        )
        if end - pos < need:
            raise DecodeError(f"LOWPAN_IPHC truncated: {end - pos} of {need} bytes")
        p = pos + 2
        if second & 0x80:
            sci = data[p] >> 4
            dci = data[p] & 0x0F
            p += 1
        else:
            sci = dci = 0
        # Traffic class and flow label (RFC 6282 §3.2.1), in-line as ECN|DSCP.
        if tf == 3:
            traffic_class = flow_label = 0
        elif tf == 2:
            octet = data[p]
            traffic_class = (octet & 0x3F) << 2 | octet >> 6
            flow_label = 0
            p += 1
        elif tf == 1:
            traffic_class = data[p] >> 6
            flow_label = (data[p] & 0x0F) << 16 | data[p + 1] << 8 | data[p + 2]
            p += 3
        else:
            octet = data[p]
            traffic_class = (octet & 0x3F) << 2 | octet >> 6
            flow_label = (data[p + 1] & 0x0F) << 16 | data[p + 2] << 8 | data[p + 3]
            p += 4
        if first & 4:
            next_header = -1
        else:
            next_header = data[p]
            p += 1
        if first & 3:
            hop_limit = _HOP_LIMITS[first & 3]
        else:
            hop_limit = data[p]
            p += 1
        # Source address (RFC 6282 §3.1.1, SAC/SAM).
        sam = second >> 4 & 3
        if sam == 0:
            if second & 0x40:
                src = _UNSPECIFIED
            else:
                src = data[p : p + 16]
                p += 16
        else:
            iid, p = _elided_iid(data, p, sam, src_iid, _NO_LINK_SOURCE)
            src = self._context(sci).address(iid) if second & 0x40 else _LINK_LOCAL_64 + iid
        # Destination address (RFC 6282 §3.1.1, M/DAC/DAM).
        dam = second & 3
        if second & 0x08:
            if second & 0x04:  # RFC 6282 §3.2.4, ffXX:XXLL:PPPP:PPPP:PPPP:PPPP:XXXX:XXXX
                context = self._context(dci)
                if context.length > 64:
                    raise DecodeError(f"context {dci} is longer than 64 bits: no multicast prefix")
                dst = (
                    b"\xff"
                    + data[p : p + 2]
                    + bytes((context.length,))
                    + context._head
                    + data[p + 2 : p + 6]
                )
            elif dam == 0:
                dst = data[p : p + 16]
            elif dam == 1:
                dst = b"\xff" + data[p : p + 1] + _ZERO9 + data[p + 1 : p + 6]
            elif dam == 2:
                dst = b"\xff" + data[p : p + 1] + _ZERO11 + data[p + 1 : p + 4]
            else:
                dst = b"\xff\x02" + _ZERO13 + data[p : p + 1]
            p += dst_size
        elif dam == 0:
            dst = data[p : p + 16]
            p += 16
        else:
            iid, p = _elided_iid(data, p, dam, dst_iid, _NO_LINK_DESTINATION)
            dst = self._context(dci).address(iid) if second & 0x04 else _LINK_LOCAL_64 + iid
        if next_header < 0:
            if p >= end:
                raise DecodeError("LOWPAN_IPHC says NH=1 but no LOWPAN_NHC follows")
            next_header = next_header_of(data[p])
        out = self.out
        start = len(out)
        out += _pack_ipv6(
            0x6000_0000 | traffic_class << 20 | flow_label,
            0,
            next_header,
            hop_limit,
            src,
            dst,
        )
        self.lengths.append((start + 4, start + 40))  # payload length, always elided
        if first & 4:
            p = decompress_chain(data, p, end, src, dst, self, depth)
        return p


def decompress_iphc(
    data: Buffer,
    *,
    src_mac: bytes | None = None,
    dst_mac: bytes | None = None,
    contexts: Mapping[int, LowpanContext] | None = None,
    datagram_size: int | None = None,
) -> DecompressedHeaders:
    """Decompress the LOWPAN_IPHC header (and its LOWPAN_NHC chain) at the start of ``data``.

    ``src_mac``/``dst_mac`` are the addresses elided IIDs derive from (see
    :func:`compress_headers`); a missing one raises :class:`DecodeError` only if the header
    needs it. Lengths that IPHC elides come from the datagram size: ``datagram_size`` from
    the FRAG1 header when ``data`` is a first fragment's payload, None when ``data`` is the
    whole datagram. Malformed input raises :class:`DecodeError`.
    """
    if type(data) is not bytes:
        data = bytes(data)
    decoder = _Decompressor(_NO_CONTEXTS if contexts is None else contexts)
    try:
        src_iid = None if src_mac is None else iid_from_mac(src_mac)
        dst_iid = None if dst_mac is None else iid_from_mac(dst_mac)
    except ValueError as exc:
        raise ValueError(f"bad link-layer address: {exc}") from exc
    consumed = decoder.ipv6(data, 0, len(data), src_iid, dst_iid, 0)
    header = decoder.out
    present = len(header) + len(data) - consumed
    if datagram_size is None:
        size = present
    else:
        size = datagram_size
        if size < present:
            raise DecodeError(f"datagram size {size} smaller than the {present} bytes decompressed")
    for at, base in decoder.lengths:
        length = size - base
        if length > 0xFFFF:
            raise DecodeError(f"datagram of {size} bytes too long for IPv6 without jumbograms")
        _pack_u16_into(header, at, length)
    result = DecompressedHeaders(b"", consumed, size)
    if decoder.udp is not None:
        at, src, dst = decoder.udp
        if size == present:
            segment = header[at:] + data[consumed:]
            _pack_u16_into(header, at + 6, udp_checksum(src, dst, segment))
        else:
            result.checksum_offset = at + 6
            result.checksum_src = src
            result.checksum_dst = dst
    result.header = bytes(header)
    return result
