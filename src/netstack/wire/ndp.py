"""Neighbor Discovery for IPv6 (RFC 4861): the five messages and their options, with the
DNS options of RFC 8106, the Route Information option of RFC 4191 and the Nonce option of
RFC 3971 (which Linux puts in DAD probes to detect looped-back solicitations, RFC 7527).

Each message is an ICMPv6 message (:class:`netstack.wire.icmpv6.Icmpv6Message`): it is
decoded from the :class:`Icmpv6Header` the IPv6 layer already parsed and that header's
payload, and encodes to a complete ICMPv6 message::

    header, payload = Icmpv6Header.parse(data, src=ip.src, dst=ip.dst)
    message = parse_nd(header, payload)          # a RouterAdvertisement, say
    data = message.build(src=ip.src, dst=ip.dst)  # the ICMPv6 message, checksum filled

``from_icmp``/``to_icmp`` give the (header, payload) pair without the checksum step, and
``parse``/``build`` of a single class handle a whole ICMPv6 message.

Decoders check what belongs to the format (RFC 4861 §6.1, §7.1): ICMP code 0, the minimum
length of each message, options with a non-zero length that fit, and the length of the
options of fixed size. The checks that need the IP header (hop limit 255, source and
destination rules) are the stack's. Options keep their order; unknown options are kept as
:class:`UnknownOption`, so every message rebuilds to the bytes it came from as long as its
reserved fields were zero.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import ClassVar, Self, TypeVar

from netstack.wire import Buffer, DecodeError
from netstack.wire.icmpv6 import Icmpv6Header, Icmpv6Message

__all__ = [
    "INFINITE_LIFETIME",
    "DnsSearchList",
    "MtuOption",
    "NdMessage",
    "NdOption",
    "NdOptionType",
    "NeighborAdvertisement",
    "NeighborSolicitation",
    "Nonce",
    "PrefixFlags",
    "PrefixInformation",
    "RaFlags",
    "RecursiveDnsServer",
    "Redirect",
    "RedirectedHeader",
    "RouteInformation",
    "RouterAdvertisement",
    "RouterPreference",
    "RouterSolicitation",
    "SourceLinkLayerAddress",
    "TargetLinkLayerAddress",
    "UnknownOption",
    "build_options",
    "parse_nd",
    "parse_options",
]


class NdOptionType(IntEnum):
    """Neighbor Discovery option types decoded here (IANA "IPv6 Neighbor Discovery Option
    Formats")."""

    SOURCE_LINK_LAYER_ADDRESS = 1  # RFC 4861 §4.6.1
    TARGET_LINK_LAYER_ADDRESS = 2  # RFC 4861 §4.6.1
    PREFIX_INFORMATION = 3  # RFC 4861 §4.6.2
    REDIRECTED_HEADER = 4  # RFC 4861 §4.6.3
    MTU = 5  # RFC 4861 §4.6.4
    NONCE = 14  # RFC 3971 §5.3.2
    ROUTE_INFORMATION = 24  # RFC 4191 §2.3
    RDNSS = 25  # RFC 8106 §5.1
    DNSSL = 31  # RFC 8106 §5.2


class RouterPreference(IntEnum):
    """The 2-bit preference of a default router or a route (RFC 4191 §2.1)."""

    MEDIUM = 0
    HIGH = 1
    RESERVED = 2  # treated as MEDIUM by receivers (RFC 4191 §2.2)
    LOW = 3


class RaFlags(IntFlag):
    """Router Advertisement flag bits (RFC 4861 §4.2; H from RFC 6275 §7.1, P from
    RFC 4389). Bits 3-4 hold the :class:`RouterPreference`."""

    MANAGED = 0x80
    OTHER = 0x40
    HOME_AGENT = 0x20
    PROXY = 0x04


class PrefixFlags(IntFlag):
    """Prefix Information flag bits (RFC 4861 §4.6.2; R from RFC 6275 §7.2)."""

    ON_LINK = 0x80
    AUTONOMOUS = 0x40
    ROUTER_ADDRESS = 0x20


INFINITE_LIFETIME = 0xFFFF_FFFF  # RFC 4861 §4.6.2, RFC 8106 §5.1

_II = struct.Struct("!II")
_unpack_ii = _II.unpack_from
_pack_ii = _II.pack
# prefix length, flags, valid lifetime, preferred lifetime, reserved, prefix (RFC 4861 §4.6.2)
_PREFIX = struct.Struct("!BBII4x16s")
_unpack_prefix = _PREFIX.unpack_from
_pack_prefix = _PREFIX.pack
_RESERVED_LIFETIME = struct.Struct("!2xI")  # RDNSS, DNSSL, MTU: reserved then 32 bits
_unpack_reserved_lifetime = _RESERVED_LIFETIME.unpack_from
_pack_reserved_lifetime = _RESERVED_LIFETIME.pack
_ROUTE = struct.Struct("!BBI")  # prefix length, flags, route lifetime (RFC 4191 §2.3)
_unpack_route = _ROUTE.unpack_from
_pack_route = _ROUTE.pack
_memoryview = memoryview
_struct_error = struct.error

_MAX_NAME = 255  # RFC 1035 §2.3.4
_MAX_LABEL = 63


# --- options --------------------------------------------------------------------------------


def _option(kind: int, body: bytes) -> bytes:
    """Type, length in 8-octet units, ``body`` zero-padded to fill the last unit."""
    size = 2 + len(body)
    pad = -size & 7
    units = (size + pad) >> 3
    if units > 0xFF:
        raise ValueError(f"ND option {kind} too long: {size} bytes")
    return bytes((kind, units)) + body + bytes(pad)


def _link_layer_address(body: Buffer) -> bytes:
    # A 6-byte MAC fills an 8-byte option exactly (RFC 2464 §6). A 16-byte option holds an
    # EUI-64 and six zero bytes (RFC 4944 §8) or a longer address; anything else is kept
    # whole, padding included, for the link to interpret.
    if len(body) == 14 and not any(body[8:]):
        return bytes(body[:8])
    return bytes(body)


@dataclass(slots=True)
class SourceLinkLayerAddress:
    """The sender's link-layer address (RFC 4861 §4.6.1): 6 bytes on Ethernet, 8 for an
    IEEE 802.15.4 EUI-64. ``build`` pads with zeros to whole 8-octet units."""

    address: bytes

    def build(self) -> bytes:
        if not self.address:
            raise ValueError("an empty link-layer address")
        return _option(1, self.address)


@dataclass(slots=True)
class TargetLinkLayerAddress:
    """The target's link-layer address (RFC 4861 §4.6.1), as :class:`SourceLinkLayerAddress`."""

    address: bytes

    def build(self) -> bytes:
        if not self.address:
            raise ValueError("an empty link-layer address")
        return _option(2, self.address)


@dataclass(slots=True)
class PrefixInformation:
    """A prefix for on-link determination and address autoconfiguration (RFC 4861 §4.6.2).
    ``flags`` is the byte of :class:`PrefixFlags`; lifetimes are seconds, 0xFFFFFFFF being
    infinity."""

    prefix_length: int
    flags: int
    valid_lifetime: int
    preferred_lifetime: int
    prefix: bytes

    @property
    def on_link(self) -> bool:
        return bool(self.flags & 0x80)

    @property
    def autonomous(self) -> bool:
        return bool(self.flags & 0x40)

    def build(self) -> bytes:
        if len(self.prefix) != 16:
            raise ValueError("the prefix field is 16 bytes")
        try:
            body = _pack_prefix(
                self.prefix_length,
                self.flags,
                self.valid_lifetime,
                self.preferred_lifetime,
                self.prefix,
            )
        except _struct_error as exc:
            raise ValueError(f"prefix information field out of range: {exc}") from exc
        return b"\x03\x04" + body


@dataclass(slots=True)
class RedirectedHeader:
    """As much of the redirected packet as fits (RFC 4861 §4.6.3). ``packet`` holds the
    bytes after the reserved field, zero padding included as received."""

    packet: bytes

    def build(self) -> bytes:
        return _option(4, bytes(6) + self.packet)


@dataclass(slots=True)
class MtuOption:
    """The link MTU a router advertises (RFC 4861 §4.6.4)."""

    mtu: int

    def build(self) -> bytes:
        try:
            return b"\x05\x01" + _pack_reserved_lifetime(self.mtu)
        except _struct_error as exc:
            raise ValueError(f"MTU {self.mtu} out of range") from exc


@dataclass(slots=True)
class Nonce:
    """A random nonce (RFC 3971 §5.3.2): at least 6 bytes, filling whole 8-octet units."""

    nonce: bytes

    def build(self) -> bytes:
        if (len(self.nonce) + 2) & 7 or not self.nonce:
            raise ValueError(f"a nonce of {len(self.nonce)} bytes does not fill 8-octet units")
        return _option(14, self.nonce)


@dataclass(slots=True)
class RouteInformation:
    """A more-specific route (RFC 4191 §2.3). ``prefix`` holds 0, 8 or 16 bytes as on the
    wire (option length 1, 2 or 3), so a /64 sent in a 24-byte option rebuilds as such;
    ``preference`` is a :class:`RouterPreference` value."""

    prefix_length: int
    preference: int
    route_lifetime: int
    prefix: bytes = b""

    @property
    def valid(self) -> bool:
        """False when RFC 4191 §2.3 says to ignore the option: a prefix length over 128 or
        longer than the prefix bytes carried."""
        return self.prefix_length <= 8 * len(self.prefix)

    def build(self) -> bytes:
        if len(self.prefix) not in (0, 8, 16):
            raise ValueError("a route information prefix is 0, 8 or 16 bytes")
        if not 0 <= self.preference <= 3:
            raise ValueError(f"route preference {self.preference} out of range")
        try:
            body = _pack_route(self.prefix_length, self.preference << 3, self.route_lifetime)
        except _struct_error as exc:
            raise ValueError(f"route information field out of range: {exc}") from exc
        return bytes((24, 1 + (len(self.prefix) >> 3))) + body + self.prefix


@dataclass(slots=True)
class RecursiveDnsServer:
    """Recursive DNS servers (RFC 8106 §5.1); ``lifetime`` in seconds."""

    lifetime: int
    addresses: list[bytes] = field(default_factory=list)

    def build(self) -> bytes:
        if not self.addresses or any(len(a) != 16 for a in self.addresses):
            raise ValueError("RDNSS needs one or more 16-byte addresses")
        try:
            head = _pack_reserved_lifetime(self.lifetime)
        except _struct_error as exc:
            raise ValueError(f"RDNSS lifetime {self.lifetime} out of range") from exc
        return _option(25, head + b"".join(self.addresses))


@dataclass(slots=True)
class DnsSearchList:
    """DNS search domains (RFC 8106 §5.2), as dotted names without the final dot;
    ``lifetime`` in seconds."""

    lifetime: int
    domains: list[str] = field(default_factory=list)

    def build(self) -> bytes:
        if not self.domains:
            raise ValueError("DNSSL needs one or more domain names")
        try:
            head = _pack_reserved_lifetime(self.lifetime)
        except _struct_error as exc:
            raise ValueError(f"DNSSL lifetime {self.lifetime} out of range") from exc
        return _option(31, head + b"".join(_encode_name(name) for name in self.domains))


@dataclass(slots=True)
class UnknownOption:
    """An option this module does not decode: its type and the bytes after the length."""

    type: int
    data: bytes

    def build(self) -> bytes:
        if (len(self.data) + 2) & 7 or not 0 <= self.type <= 0xFF:
            raise ValueError(f"option {self.type} with {len(self.data)} bytes of data")
        return _option(self.type, self.data)


NdOption = (
    SourceLinkLayerAddress
    | TargetLinkLayerAddress
    | PrefixInformation
    | RedirectedHeader
    | MtuOption
    | Nonce
    | RouteInformation
    | RecursiveDnsServer
    | DnsSearchList
    | UnknownOption
)


def _encode_name(name: str) -> bytes:
    """A domain name in DNS wire format, uncompressed (RFC 1035 §3.1, RFC 8106 §5.2)."""
    text = name[:-1] if name.endswith(".") else name
    if not text:
        raise ValueError("an empty domain name cannot be told from padding")
    parts = []
    for label in text.split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) <= _MAX_LABEL:
            raise ValueError(f"bad label {label!r} in {name!r}")
        parts.append(bytes((len(raw),)) + raw)
    parts.append(b"\0")
    wire = b"".join(parts)
    if len(wire) > _MAX_NAME:
        raise ValueError(f"domain name {name!r} longer than 255 bytes")
    return wire


def _decode_names(data: Buffer) -> list[str]:
    """Names up to the zero padding (RFC 8106 §5.2); the padding must be all zero."""
    names: list[str] = []
    size = len(data)
    i = 0
    while i < size and data[i]:
        start = i
        labels: list[str] = []
        while True:
            if i >= size:
                raise DecodeError("DNSSL domain name runs past the option")
            length = data[i]
            i += 1
            if length == 0:
                break
            if length > _MAX_LABEL:
                raise DecodeError(f"DNSSL label length {length} (compression is not allowed)")
            if i + length > size:
                raise DecodeError("DNSSL label runs past the option")
            try:
                label = bytes(data[i : i + length]).decode("ascii")
            except UnicodeDecodeError as exc:
                raise DecodeError("DNSSL label is not ASCII") from exc
            if "." in label:
                raise DecodeError(f"DNSSL label {label!r} contains a dot")
            labels.append(label)
            i += length
        if i - start > _MAX_NAME:
            raise DecodeError("DNSSL domain name longer than 255 bytes")
        names.append(".".join(labels))
    if any(data[i:]):
        raise DecodeError("DNSSL padding is not zero")
    if not names:
        raise DecodeError("DNSSL option without a domain name")
    return names


def _decode_option(kind: int, body: memoryview) -> NdOption:
    """Decode one option from the bytes after its type and length."""
    size = len(body)
    if kind == 1:
        return SourceLinkLayerAddress(_link_layer_address(body))
    if kind == 2:
        return TargetLinkLayerAddress(_link_layer_address(body))
    if kind == 3:
        if size != 30:
            raise DecodeError(f"Prefix Information option of {size + 2} bytes, not 32")
        prefix_length, flags, valid, preferred, prefix = _unpack_prefix(body)
        return PrefixInformation(prefix_length, flags, valid, preferred, prefix)
    if kind == 5:
        if size != 6:
            raise DecodeError(f"MTU option of {size + 2} bytes, not 8")
        return MtuOption(_unpack_reserved_lifetime(body)[0])
    if kind == 25:
        if size < 22 or (size - 6) % 16:
            raise DecodeError(f"RDNSS option of {size + 2} bytes, not 8 + 16n (n >= 1)")
        (lifetime,) = _unpack_reserved_lifetime(body)
        addresses = [bytes(body[i : i + 16]) for i in range(6, size, 16)]
        return RecursiveDnsServer(lifetime, addresses)
    if kind == 31:
        if size < 14:
            raise DecodeError(f"DNSSL option of {size + 2} bytes, below 16")
        (lifetime,) = _unpack_reserved_lifetime(body)
        return DnsSearchList(lifetime, _decode_names(body[6:]))
    if kind == 24:
        if size > 22:
            raise DecodeError(f"Route Information option of {size + 2} bytes, above 24")
        prefix_length, flags, lifetime = _unpack_route(body)
        return RouteInformation(prefix_length, flags >> 3 & 3, lifetime, bytes(body[6:]))
    if kind == 4:
        return RedirectedHeader(bytes(body[6:]))
    if kind == 14:
        return Nonce(bytes(body))
    return UnknownOption(kind, bytes(body))


def parse_options(data: Buffer) -> list[NdOption]:
    """Decode an option list (RFC 4861 §4.6). An option of length 0, one running past the
    data or a known option of the wrong size raises :class:`DecodeError` (RFC 4861 §6.1)."""
    mv = data if type(data) is _memoryview else _memoryview(data)
    options: list[NdOption] = []
    size = len(mv)
    i = 0
    while i < size:
        if i + 2 > size:
            raise DecodeError(f"ND option at offset {i} truncated")
        kind = mv[i]
        end = i + (mv[i + 1] << 3)
        if end == i:
            raise DecodeError(f"ND option {kind} at offset {i} has length 0")
        if end > size:
            raise DecodeError(f"ND option {kind} at offset {i} runs past the message")
        options.append(_decode_option(kind, mv[i + 2 : end]))
        i = end
    return options


def build_options(options: list[NdOption]) -> bytes:
    """Encode an option list in the given order."""
    return b"".join(option.build() for option in options)


# --- messages -------------------------------------------------------------------------------

_Option = TypeVar("_Option", bound=NdOption)


class _NdMessage(Icmpv6Message):
    """What the five messages share: an option list and lookups into it."""

    __slots__ = ()

    TYPE: ClassVar[int]
    _MIN_PAYLOAD: ClassVar[int] = 0
    options: list[NdOption]

    def option(self, kind: type[_Option]) -> _Option | None:
        """The first option of class ``kind``, or None."""
        for option in self.options:
            if isinstance(option, kind):
                return option
        return None

    @property
    def source_link_layer_address(self) -> bytes | None:
        option = self.option(SourceLinkLayerAddress)
        return None if option is None else option.address

    @property
    def target_link_layer_address(self) -> bytes | None:
        option = self.option(TargetLinkLayerAddress)
        return None if option is None else option.address

    @classmethod
    def _check(cls, header: Icmpv6Header, payload: Buffer) -> memoryview:
        if header.type != cls.TYPE:
            raise DecodeError(f"ICMPv6 type {header.type} is not a {cls.__name__}")
        if header.code != 0:  # RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1
            raise DecodeError(f"{cls.__name__} with ICMPv6 code {header.code}")
        if len(payload) < cls._MIN_PAYLOAD:
            raise DecodeError(f"{cls.__name__} truncated: {8 + len(payload)} bytes")
        return payload if type(payload) is _memoryview else _memoryview(payload)


@dataclass(slots=True)
class RouterSolicitation(_NdMessage):
    """Router Solicitation (RFC 4861 §4.1)."""

    TYPE: ClassVar[int] = 133

    options: list[NdOption] = field(default_factory=list)

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        mv = cls._check(header, payload)
        return cls(parse_options(mv))

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        return Icmpv6Header(133), build_options(self.options)


@dataclass(slots=True)
class RouterAdvertisement(_NdMessage):
    """Router Advertisement (RFC 4861 §4.2). ``flags`` is the byte of :class:`RaFlags` with
    the default router preference in bits 3-4; ``router_lifetime`` is in seconds,
    ``reachable_time`` and ``retrans_timer`` in milliseconds (0: unspecified)."""

    TYPE: ClassVar[int] = 134
    _MIN_PAYLOAD: ClassVar[int] = 8

    cur_hop_limit: int = 0
    flags: int = 0
    router_lifetime: int = 0
    reachable_time: int = 0
    retrans_timer: int = 0
    options: list[NdOption] = field(default_factory=list)

    @property
    def managed(self) -> bool:
        """M: addresses are available from DHCPv6."""
        return bool(self.flags & 0x80)

    @property
    def other(self) -> bool:
        """O: other configuration is available from DHCPv6."""
        return bool(self.flags & 0x40)

    @property
    def preference(self) -> int:
        """Default router preference (:class:`RouterPreference`, RFC 4191 §2.2)."""
        return self.flags >> 3 & 3

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        mv = cls._check(header, payload)
        rest = header.rest
        reachable, retrans = _unpack_ii(mv)
        return cls(
            rest >> 24, rest >> 16 & 0xFF, rest & 0xFFFF, reachable, retrans, parse_options(mv[8:])
        )

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        if not 0 <= self.cur_hop_limit <= 0xFF or not 0 <= self.flags <= 0xFF:
            raise ValueError("cur hop limit and flags are one byte each")
        if not 0 <= self.router_lifetime <= 0xFFFF:
            raise ValueError(f"router lifetime {self.router_lifetime} out of range")
        rest = self.cur_hop_limit << 24 | self.flags << 16 | self.router_lifetime
        try:
            timers = _pack_ii(self.reachable_time, self.retrans_timer)
        except _struct_error as exc:
            raise ValueError(f"router advertisement timer out of range: {exc}") from exc
        return Icmpv6Header(134, 0, rest), timers + build_options(self.options)


@dataclass(slots=True)
class NeighborSolicitation(_NdMessage):
    """Neighbor Solicitation (RFC 4861 §4.3)."""

    TYPE: ClassVar[int] = 135
    _MIN_PAYLOAD: ClassVar[int] = 16

    target: bytes
    options: list[NdOption] = field(default_factory=list)

    @property
    def nonce(self) -> bytes | None:
        """The Nonce option's value (RFC 3971 §5.3.2, RFC 7527), if present."""
        option = self.option(Nonce)
        return None if option is None else option.nonce

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        mv = cls._check(header, payload)
        return cls(bytes(mv[:16]), parse_options(mv[16:]))

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        if len(self.target) != 16:
            raise ValueError("the target address is 16 bytes")
        return Icmpv6Header(135), self.target + build_options(self.options)


@dataclass(slots=True)
class NeighborAdvertisement(_NdMessage):
    """Neighbor Advertisement (RFC 4861 §4.4) with its Router, Solicited and Override
    flags."""

    TYPE: ClassVar[int] = 136
    _MIN_PAYLOAD: ClassVar[int] = 16

    target: bytes
    router: bool = False
    solicited: bool = False
    override: bool = False
    options: list[NdOption] = field(default_factory=list)

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        mv = cls._check(header, payload)
        rest = header.rest
        return cls(
            bytes(mv[:16]),
            bool(rest & 0x8000_0000),
            bool(rest & 0x4000_0000),
            bool(rest & 0x2000_0000),
            parse_options(mv[16:]),
        )

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        if len(self.target) != 16:
            raise ValueError("the target address is 16 bytes")
        rest = self.router << 31 | self.solicited << 30 | self.override << 29
        return Icmpv6Header(136, 0, rest), self.target + build_options(self.options)


@dataclass(slots=True)
class Redirect(_NdMessage):
    """Redirect (RFC 4861 §4.5): ``target`` is the better first hop for ``destination``
    (equal to it when the destination is on-link)."""

    TYPE: ClassVar[int] = 137
    _MIN_PAYLOAD: ClassVar[int] = 32

    target: bytes
    destination: bytes
    options: list[NdOption] = field(default_factory=list)

    @property
    def redirected_packet(self) -> bytes | None:
        """The quoted packet of the Redirected Header option, if present."""
        option = self.option(RedirectedHeader)
        return None if option is None else option.packet

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        mv = cls._check(header, payload)
        return cls(bytes(mv[:16]), bytes(mv[16:32]), parse_options(mv[32:]))

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        if len(self.target) != 16 or len(self.destination) != 16:
            raise ValueError("the target and destination addresses are 16 bytes")
        return Icmpv6Header(137), self.target + self.destination + build_options(self.options)


NdMessage = (
    RouterSolicitation
    | RouterAdvertisement
    | NeighborSolicitation
    | NeighborAdvertisement
    | Redirect
)

_MESSAGES: dict[
    int,
    type[RouterSolicitation]
    | type[RouterAdvertisement]
    | type[NeighborSolicitation]
    | type[NeighborAdvertisement]
    | type[Redirect],
] = {
    133: RouterSolicitation,
    134: RouterAdvertisement,
    135: NeighborSolicitation,
    136: NeighborAdvertisement,
    137: Redirect,
}


def parse_nd(header: Icmpv6Header, payload: Buffer) -> NdMessage:
    """Decode the Neighbor Discovery message of a parsed ICMPv6 header (types 133-137);
    any other type raises :class:`DecodeError`."""
    cls = _MESSAGES.get(header.type)
    if cls is None:
        raise DecodeError(f"ICMPv6 type {header.type} is not a Neighbor Discovery message")
    return cls.from_icmp(header, payload)
