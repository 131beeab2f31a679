"""IPv6 packets (RFC 8200): the fixed header, the extension headers a host walks, and the
address arithmetic of RFC 4291 and RFC 2464.

Addresses are 16-byte ``bytes``, link-layer addresses 6-byte (or 8-byte EUI-64) ``bytes``.

Extension headers are records of their own. :func:`walk_extension_headers` decodes the
chain that follows the fixed header and reports every header with its offset, the protocol
that follows the chain and where it starts; a stack that must answer with ICMPv6 Parameter
Problem (RFC 8200 §4, RFC 4443 §3.4) finds its pointer there. Offsets are counted from the
start of the IPv6 payload; a Parameter Problem pointer counts from the start of the IPv6
header, i.e. ``HEADER_LEN`` more.

Option headers (Hop-by-Hop and Destination Options) keep their Pad1/PadN options in the
option list, in place, so that offsets stay exact and every header rebuilds byte for byte;
``build`` only appends padding when the list does not end on an 8-octet boundary.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

from netstack.wire import Buffer, DecodeError

__all__ = [
    "ALL_MLDV2_ROUTERS",
    "ALL_NODES",
    "ALL_ROUTERS",
    "HEADER_LEN",
    "LOOPBACK",
    "MIN_MTU",
    "UNSPECIFIED",
    "DestinationOptions",
    "ExtensionChain",
    "ExtensionEntry",
    "ExtensionHeader",
    "FragmentHeader",
    "HopByHopOptions",
    "Ipv6Header",
    "Ipv6Option",
    "Ipv6OptionType",
    "MulticastScope",
    "NextHeader",
    "OptionAction",
    "RoutingHeader",
    "RoutingType",
    "eui64_interface_id",
    "ip6_from_str",
    "ip6_to_str",
    "is_link_local",
    "is_loopback",
    "is_multicast",
    "is_unspecified",
    "link_local_from_mac",
    "multicast_mac",
    "multicast_scope",
    "option_action",
    "router_alert_option",
    "solicited_node_multicast",
    "walk_extension_headers",
]


class NextHeader(IntEnum):
    """Next Header values an IPv6 host meets (IANA "Assigned Internet Protocol Numbers")."""

    HOP_BY_HOP = 0
    TCP = 6
    UDP = 17
    ROUTING = 43
    FRAGMENT = 44
    ESP = 50
    AH = 51
    ICMPV6 = 58
    NO_NEXT = 59
    DEST_OPTS = 60


class Ipv6OptionType(IntEnum):
    """Hop-by-Hop and Destination option types (IANA "Destination Options and Hop-by-Hop
    Options"); the two high-order bits are the action (:class:`OptionAction`)."""

    PAD1 = 0x00  # RFC 8200 §4.2
    PADN = 0x01  # RFC 8200 §4.2
    TUNNEL_ENCAPSULATION_LIMIT = 0x04  # RFC 2473 §5.1
    ROUTER_ALERT = 0x05  # RFC 2711 §2.1
    RPL = 0x23  # RFC 9008 (skipped by nodes that do not know it)
    RPL_RFC6553 = 0x63  # RFC 6553 §3, the original value (discarded when unknown)
    JUMBO_PAYLOAD = 0xC2  # RFC 2675
    HOME_ADDRESS = 0xC9  # RFC 6275 §6.3


class OptionAction(IntEnum):
    """What a node does with an option type it does not recognise (RFC 8200 §4.2)."""

    SKIP = 0
    DISCARD = 1
    DISCARD_SEND_ICMP = 2  # Parameter Problem code 2, even for a multicast destination
    DISCARD_SEND_ICMP_UNLESS_MULTICAST = 3


class RoutingType(IntEnum):
    """Routing header types (IANA "Routing Types")."""

    SOURCE_ROUTE = 0  # deprecated by RFC 5095
    NIMROD = 1  # deprecated
    MOBILE_IPV6 = 2  # RFC 6275 §6.4
    RPL_SOURCE_ROUTE = 3  # RFC 6554
    SEGMENT_ROUTING = 4  # RFC 8754


class MulticastScope(IntEnum):
    """The scop field of a multicast address (RFC 4291 §2.7, RFC 7346)."""

    INTERFACE_LOCAL = 0x1
    LINK_LOCAL = 0x2
    REALM_LOCAL = 0x3
    ADMIN_LOCAL = 0x4
    SITE_LOCAL = 0x5
    ORGANIZATION_LOCAL = 0x8
    GLOBAL = 0xE


HEADER_LEN = 40
MIN_MTU = 1280  # RFC 8200 §5

UNSPECIFIED: bytes = bytes(16)
LOOPBACK: bytes = bytes(15) + b"\x01"
ALL_NODES: bytes = b"\xff\x02" + bytes(13) + b"\x01"  # ff02::1
ALL_ROUTERS: bytes = b"\xff\x02" + bytes(13) + b"\x02"  # ff02::2
ALL_MLDV2_ROUTERS: bytes = b"\xff\x02" + bytes(13) + b"\x16"  # ff02::16

# version/traffic class/flow label, payload length, next header, hop limit, source,
# destination (RFC 8200 §3)
_HEADER = struct.Struct("!IHBB16s16s")
_unpack = _HEADER.unpack_from
_pack = _HEADER.pack
_FRAGMENT = struct.Struct("!BBHI")  # next header, reserved, offset/res/M, identification
_unpack_fragment = _FRAGMENT.unpack_from
_pack_fragment = _FRAGMENT.pack
_memoryview = memoryview
_struct_error = struct.error

_MAX_PAYLOAD = 0xFFFF
_MAX_OPTIONS_HEADER = 2048  # Hdr Ext Len is 8 bits of 8-octet units, after the first 8
_SOLICITED_NODE_PREFIX = b"\xff\x02" + bytes(9) + b"\x01\xff"  # ff02::1:ff00:0/104
_LINK_LOCAL_PREFIX = b"\xfe\x80" + bytes(6)


# --- the fixed header -----------------------------------------------------------------------


@dataclass(slots=True)
class Ipv6Header:
    """The 40-byte IPv6 header (RFC 8200 §3). ``payload_length`` is set by ``parse``;
    ``build`` computes it from the payload and ignores the record's value."""

    src: bytes
    dst: bytes
    next_header: int
    hop_limit: int = 64
    traffic_class: int = 0
    flow_label: int = 0
    payload_length: int = 0

    @property
    def dscp(self) -> int:
        """Differentiated Services codepoint: the high 6 bits of the traffic class."""
        return self.traffic_class >> 2

    @property
    def ecn(self) -> int:
        """Explicit Congestion Notification: the low 2 bits of the traffic class."""
        return self.traffic_class & 3

    @classmethod
    def parse(cls, data: Buffer) -> tuple[Ipv6Header, memoryview]:
        """Decode the header; the payload is ``data[40:40 + payload_length]`` as a memoryview,
        so link-layer padding after the packet is dropped.

        A payload length beyond the data raises :class:`DecodeError`, and so does a zero
        payload length in front of a Hop-by-Hop header with data after it: a jumbogram
        (RFC 2675), which this module does not support.
        """
        size = len(data)
        if size < HEADER_LEN:
            raise DecodeError(f"IPv6 packet too short: {size} bytes")
        vtf, payload_length, next_header, hop_limit, src, dst = _unpack(data)
        if vtf >> 28 != 6:
            raise DecodeError(f"not IPv6: version {vtf >> 28}")
        end = HEADER_LEN + payload_length
        if end > size:
            raise DecodeError(
                f"IPv6 payload length {payload_length} exceeds the {size - 40} bytes present"
            )
        if payload_length == 0 and next_header == 0 and size > HEADER_LEN:
            raise DecodeError("IPv6 jumbograms (RFC 2675) are not supported")
        mv = data if type(data) is _memoryview else _memoryview(data)
        header = cls(
            src, dst, next_header, hop_limit, (vtf >> 20) & 0xFF, vtf & 0xFFFFF, payload_length
        )
        return header, mv[HEADER_LEN:end]

    def build(self, payload: Buffer = b"") -> bytes:
        """Header + payload (extension headers included); :class:`ValueError` when a field is
        out of range or the payload exceeds 65,535 bytes."""
        size = len(payload)
        if size > _MAX_PAYLOAD:
            raise ValueError(f"IPv6 payload too long: {size} bytes (jumbograms unsupported)")
        if len(self.src) != 16 or len(self.dst) != 16:
            raise ValueError("IPv6 addresses must be 16 bytes")
        traffic_class = self.traffic_class
        flow_label = self.flow_label
        if not 0 <= traffic_class <= 0xFF or not 0 <= flow_label <= 0xFFFFF:
            raise ValueError(
                f"traffic class {traffic_class} or flow label {flow_label} out of range"
            )
        vtf = 0x6000_0000 | traffic_class << 20 | flow_label
        try:
            header = _pack(vtf, size, self.next_header, self.hop_limit, self.src, self.dst)
        except _struct_error as exc:
            raise ValueError(f"IPv6 header field out of range: {exc}") from exc
        return header + payload


# --- options (Hop-by-Hop and Destination Options headers) -----------------------------------


def option_action(option_type: int) -> OptionAction:
    """The action the two high-order bits of an option type ask for when the type is not
    recognised (RFC 8200 §4.2)."""
    return OptionAction(option_type >> 6 & 3)


@dataclass(slots=True)
class Ipv6Option:
    """One option TLV. Pad1 is type 0 with no data (one byte on the wire); every other option,
    PadN included, is type, length, ``data``."""

    type: int
    data: bytes = b""

    @property
    def action(self) -> OptionAction:
        """The action for an unrecognised type (RFC 8200 §4.2)."""
        return OptionAction(self.type >> 6 & 3)

    @property
    def may_change(self) -> bool:
        """The third-highest bit: the data may change en route (RFC 8200 §4.2)."""
        return bool(self.type & 0x20)

    @property
    def is_padding(self) -> bool:
        return self.type <= 1

    @property
    def size(self) -> int:
        """Bytes on the wire."""
        return 1 if self.type == 0 else 2 + len(self.data)


def router_alert_option(value: int) -> Ipv6Option:
    """The Router Alert option (RFC 2711 §2.1); value 0 means MLD."""
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"router alert value {value} out of range")
    return Ipv6Option(Ipv6OptionType.ROUTER_ALERT, value.to_bytes(2, "big"))


def _parse_options(data: Buffer, name: str) -> list[Ipv6Option]:
    options: list[Ipv6Option] = []
    size = len(data)
    i = 0
    while i < size:
        kind = data[i]
        if kind == 0:  # Pad1 (RFC 8200 §4.2)
            options.append(Ipv6Option(0))
            i += 1
            continue
        if i + 1 == size:
            raise DecodeError(f"{name} option {kind} at offset {i + 2} has no length byte")
        end = i + 2 + data[i + 1]
        if end > size:
            raise DecodeError(f"{name} option {kind} at offset {i + 2} runs past the header")
        options.append(Ipv6Option(kind, bytes(data[i + 2 : end])))
        i = end
    return options


def _build_options(next_header: int, options: list[Ipv6Option], payload: Buffer) -> bytes:
    parts = [b""]
    size = 2
    for option in options:
        kind = option.type
        if kind == 0:
            if option.data:
                raise ValueError("a Pad1 option has no data")
            parts.append(b"\0")
            size += 1
            continue
        data = option.data
        if len(data) > 0xFF:
            raise ValueError(f"option {kind} data too long: {len(data)} bytes")
        if not 0 < kind <= 0xFF:
            raise ValueError(f"option type {kind} out of range")
        parts.append(bytes((kind, len(data))) + data)
        size += 2 + len(data)
    pad = -size & 7  # RFC 8200 §4.2: Pad1 for one octet, PadN for more
    if pad == 1:
        parts.append(b"\0")
    elif pad:
        parts.append(bytes((1, pad - 2)) + bytes(pad - 2))
    size += pad
    if size > _MAX_OPTIONS_HEADER:
        raise ValueError(f"options header of {size} bytes exceeds 2048")
    if not 0 <= next_header <= 0xFF:
        raise ValueError(f"next header {next_header} out of range")
    parts[0] = bytes((next_header, (size >> 3) - 1))
    return b"".join(parts) + payload


def _split_header(data: Buffer, name: str) -> tuple[int, int]:
    """Next header and total length of a header in the RFC 8200 §4 / RFC 6564 format."""
    size = len(data)
    if size < 8:
        raise DecodeError(f"{name} header truncated: {size} bytes")
    length = (data[1] + 1) << 3
    if length > size:
        raise DecodeError(f"{name} header of {length} bytes exceeds the {size} present")
    return data[0], length


@dataclass(slots=True)
class _OptionsHeader:
    next_header: int
    options: list[Ipv6Option] = field(default_factory=list)

    @property
    def header_len(self) -> int:
        """Bytes on the wire once ``build`` has padded the options."""
        return (2 + sum(option.size for option in self.options) + 7) & ~7

    def option_offsets(self) -> list[int]:
        """The offset of each option's type byte from the start of this header, for a
        Parameter Problem pointer (RFC 4443 §3.4)."""
        offsets = []
        offset = 2
        for option in self.options:
            offsets.append(offset)
            offset += option.size
        return offsets

    def get(self, option_type: int) -> bytes | None:
        """The data of the first option of ``option_type``, or None."""
        for option in self.options:
            if option.type == option_type:
                return option.data
        return None

    def build(self, payload: Buffer = b"") -> bytes:
        """The header, padded to a multiple of 8 octets, then ``payload``."""
        return _build_options(self.next_header, self.options, payload)


@dataclass(slots=True)
class HopByHopOptions(_OptionsHeader):
    """The Hop-by-Hop Options header (RFC 8200 §4.3)."""

    @classmethod
    def parse(cls, data: Buffer) -> tuple[HopByHopOptions, memoryview]:
        next_header, length = _split_header(data, "Hop-by-Hop Options")
        mv = data if type(data) is _memoryview else _memoryview(data)
        return cls(next_header, _parse_options(mv[2:length], "Hop-by-Hop")), mv[length:]


@dataclass(slots=True)
class DestinationOptions(_OptionsHeader):
    """The Destination Options header (RFC 8200 §4.6)."""

    @classmethod
    def parse(cls, data: Buffer) -> tuple[DestinationOptions, memoryview]:
        next_header, length = _split_header(data, "Destination Options")
        mv = data if type(data) is _memoryview else _memoryview(data)
        return cls(next_header, _parse_options(mv[2:length], "Destination")), mv[length:]


# --- routing and fragment headers -----------------------------------------------------------


@dataclass(slots=True)
class RoutingHeader:
    """A Routing header of any type (RFC 8200 §4.4); ``data`` is everything after the
    Segments Left field (the type-specific data, 4 bytes plus a multiple of 8)."""

    next_header: int
    routing_type: int
    segments_left: int
    data: bytes = bytes(4)

    @property
    def header_len(self) -> int:
        return 4 + len(self.data)

    @classmethod
    def parse(cls, data: Buffer) -> tuple[RoutingHeader, memoryview]:
        next_header, length = _split_header(data, "Routing")
        mv = data if type(data) is _memoryview else _memoryview(data)
        return cls(next_header, data[2], data[3], bytes(mv[4:length])), mv[length:]

    def build(self, payload: Buffer = b"") -> bytes:
        length = 4 + len(self.data)
        if length & 7 or length > _MAX_OPTIONS_HEADER:
            raise ValueError(f"routing header of {length} bytes: not a multiple of 8 up to 2048")
        try:
            head = bytes(
                (self.next_header, (length >> 3) - 1, self.routing_type, self.segments_left)
            )
        except ValueError as exc:
            raise ValueError(f"routing header field out of range: {exc}") from exc
        return head + self.data + payload


@dataclass(slots=True)
class FragmentHeader:
    """The Fragment header (RFC 8200 §4.5). ``offset`` is in bytes (the wire field counts
    8-octet units); the reserved fields are ignored on receipt and sent as zero."""

    next_header: int
    offset: int
    more: bool
    ident: int

    @property
    def header_len(self) -> int:
        return 8

    @property
    def is_atomic(self) -> bool:
        """An atomic fragment (RFC 6946): offset 0 and no more fragments."""
        return self.offset == 0 and not self.more

    @classmethod
    def parse(cls, data: Buffer) -> tuple[FragmentHeader, memoryview]:
        if len(data) < 8:
            raise DecodeError(f"Fragment header truncated: {len(data)} bytes")
        next_header, _, offset_flags, ident = _unpack_fragment(data)
        mv = data if type(data) is _memoryview else _memoryview(data)
        return cls(next_header, offset_flags & 0xFFF8, bool(offset_flags & 1), ident), mv[8:]

    def build(self, payload: Buffer = b"") -> bytes:
        offset = self.offset
        if offset & 7 or not 0 <= offset <= 0xFFF8:
            raise ValueError(f"fragment offset {offset} is not a multiple of 8 below 65536")
        try:
            header = _pack_fragment(self.next_header, 0, offset | bool(self.more), self.ident)
        except _struct_error as exc:
            raise ValueError(f"fragment header field out of range: {exc}") from exc
        return header + payload


# --- the extension header chain -------------------------------------------------------------

ExtensionHeader = HopByHopOptions | DestinationOptions | RoutingHeader | FragmentHeader


class ExtensionEntry(NamedTuple):
    """One header of the chain: its Next Header value, record and offset in the payload."""

    type: int
    header: ExtensionHeader
    offset: int


@dataclass(slots=True)
class ExtensionChain:
    """The result of :func:`walk_extension_headers`.

    ``next_header`` is the protocol after the last header walked and ``payload_offset``
    where it starts, counted from the start of the IPv6 payload. When the chain holds a
    Fragment header the walk ends there: what follows is fragment data, to be reassembled
    before the walk goes on from ``fragment.next_header``.
    """

    headers: list[ExtensionEntry]
    next_header: int
    payload_offset: int

    @property
    def fragment(self) -> FragmentHeader | None:
        if self.headers:
            last = self.headers[-1].header
            if isinstance(last, FragmentHeader):
                return last
        return None

    @property
    def next_header_pointer(self) -> int:
        """The Parameter Problem pointer (from the start of the IPv6 header) to the Next
        Header field that named ``next_header``, for "unrecognized Next Header type"
        (RFC 8200 §4, RFC 4443 §3.4 code 1)."""
        if not self.headers:
            return 6
        return HEADER_LEN + self.headers[-1].offset


def walk_extension_headers(next_header: int, payload: Buffer) -> ExtensionChain:
    """Walk the extension headers at the start of ``payload`` (an IPv6 payload whose fixed
    header said ``next_header``), in the order they appear (RFC 8200 §4.1).

    Hop-by-Hop, Routing, Fragment and Destination Options headers are decoded. The walk ends
    at the first other value (an upper-layer protocol, No Next Header, ESP, AH or any
    unknown type), after a Fragment header, and at a Hop-by-Hop header that is not first:
    RFC 8200 §4.1 treats that like an unrecognised Next Header, so it is returned as the
    ``next_header`` with its offset. A truncated header raises :class:`DecodeError`.
    """
    mv = payload if type(payload) is _memoryview else _memoryview(payload)
    headers: list[ExtensionEntry] = []
    offset = 0
    while True:
        rest = mv[offset:]
        header: ExtensionHeader
        if next_header == 0:
            if headers:
                break  # Hop-by-Hop only directly after the IPv6 header (RFC 8200 §4.3)
            header, after = HopByHopOptions.parse(rest)
        elif next_header == 60:
            header, after = DestinationOptions.parse(rest)
        elif next_header == 43:
            header, after = RoutingHeader.parse(rest)
        elif next_header == 44:
            header, after = FragmentHeader.parse(rest)
            headers.append(ExtensionEntry(44, header, offset))
            return ExtensionChain(headers, header.next_header, offset + 8)
        else:
            break
        headers.append(ExtensionEntry(next_header, header, offset))
        offset += len(rest) - len(after)
        next_header = header.next_header
    return ExtensionChain(headers, next_header, offset)


# --- addresses (RFC 4291, RFC 2464) ---------------------------------------------------------


def _check16(addr: bytes) -> None:
    if len(addr) != 16:
        raise ValueError(f"an IPv6 address is 16 bytes, not {len(addr)}")


def solicited_node_multicast(addr: bytes) -> bytes:
    """ff02::1:ffXX:XXXX with the low 24 bits of ``addr`` (RFC 4291 §2.7.1)."""
    _check16(addr)
    return _SOLICITED_NODE_PREFIX + addr[13:16]


def multicast_mac(addr: bytes) -> bytes:
    """The Ethernet address of an IPv6 multicast address: 33:33 and its low 32 bits
    (RFC 2464 §7)."""
    _check16(addr)
    return b"\x33\x33" + addr[12:16]


def eui64_interface_id(mac: bytes) -> bytes:
    """The modified EUI-64 interface identifier of a 48-bit MAC (ff:fe inserted in the
    middle) or of an EUI-64, with the universal/local bit inverted (RFC 4291 §2.5.1,
    appendix A)."""
    if len(mac) == 6:
        return bytes((mac[0] ^ 0x02, mac[1], mac[2], 0xFF, 0xFE, mac[3], mac[4], mac[5]))
    if len(mac) == 8:
        return bytes((mac[0] ^ 0x02,)) + mac[1:]
    raise ValueError(f"a MAC is 6 bytes and an EUI-64 8 bytes, not {len(mac)}")


def link_local_from_mac(mac: bytes) -> bytes:
    """fe80::/64 with the modified EUI-64 interface identifier of ``mac`` (RFC 4862 §5.3,
    RFC 2464 §5)."""
    return _LINK_LOCAL_PREFIX + eui64_interface_id(mac)


def is_multicast(addr: bytes) -> bool:
    """ff00::/8 (RFC 4291 §2.7)."""
    return addr[0] == 0xFF


def multicast_scope(addr: bytes) -> int:
    """The 4-bit scop field of a multicast address (:class:`MulticastScope`, RFC 4291 §2.7);
    :class:`ValueError` for a unicast address."""
    if addr[0] != 0xFF:
        raise ValueError("not a multicast address")
    return addr[1] & 0x0F


def is_link_local(addr: bytes) -> bool:
    """Link-local unicast, fe80::/10 (RFC 4291 §2.5.6)."""
    return addr[0] == 0xFE and addr[1] & 0xC0 == 0x80


def is_unspecified(addr: bytes) -> bool:
    """:: (RFC 4291 §2.5.2)."""
    return addr == UNSPECIFIED


def is_loopback(addr: bytes) -> bool:
    """::1 (RFC 4291 §2.5.3)."""
    return addr == LOOPBACK


def ip6_to_str(addr: bytes) -> str:
    """16 bytes -> the RFC 5952 text form (``"fe80::1"``); for logs and tests."""
    return str(ipaddress.IPv6Address(bytes(addr)))


def ip6_from_str(text: str) -> bytes:
    """``"fe80::1"`` -> 16 bytes; :class:`ValueError` if malformed (no zone index)."""
    return ipaddress.IPv6Address(text).packed
