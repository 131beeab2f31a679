"""Multicast Listener Discovery: MLDv1 (RFC 2710) and MLDv2 (RFC 3810).

Like :mod:`netstack.wire.ndp`, every message is an ICMPv6 message
(:class:`netstack.wire.icmpv6.Icmpv6Message`) decoded from a parsed :class:`Icmpv6Header`
and its payload; :func:`parse_mld` picks the record by type and, for a Query, by length
(RFC 3810 §8.1: 24 bytes is MLDv1, 28 or more MLDv2).

MLD messages travel in IPv6 packets with hop limit 1, a link-local source and a Router
Alert option in a Hop-by-Hop header (RFC 2710 §3, RFC 3810 §5): :func:`build_mld_packet`
writes such a packet and :func:`is_valid_mld_packet` checks a received one.

The Maximum Response Code and QQIC fields use a floating-point encoding for large values
(RFC 3810 §5.1.3, §5.1.9); the ``decode_``/``encode_`` functions convert. Reserved fields
are ignored on receipt and sent as zero; auxiliary data of address records is kept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Self

from netstack.wire import Buffer, DecodeError
from netstack.wire.icmpv6 import Icmpv6Header, Icmpv6Message
from netstack.wire.ipv6 import (
    UNSPECIFIED,
    ExtensionChain,
    HopByHopOptions,
    Ipv6Header,
    Ipv6Option,
    NextHeader,
    is_link_local,
    router_alert_option,
)

__all__ = [
    "MLD_ROUTER_ALERT",
    "MldMessage",
    "MldRecordType",
    "Mldv1Message",
    "Mldv2Query",
    "Mldv2Report",
    "MulticastAddressRecord",
    "build_mld_packet",
    "decode_max_response_code",
    "decode_qqic",
    "encode_max_response_code",
    "encode_qqic",
    "is_valid_mld_packet",
    "mld_hop_by_hop",
    "parse_mld",
]


class MldRecordType(IntEnum):
    """Multicast address record types (RFC 3810 §5.2.12)."""

    MODE_IS_INCLUDE = 1
    MODE_IS_EXCLUDE = 2
    CHANGE_TO_INCLUDE = 3
    CHANGE_TO_EXCLUDE = 4
    ALLOW_NEW_SOURCES = 5
    BLOCK_OLD_SOURCES = 6


MLD_ROUTER_ALERT = 0  # Router Alert value for MLD messages (RFC 2711 §2.1)

_RECORD = struct.Struct("!BBH16s")  # type, aux data length, number of sources, address
_unpack_record = _RECORD.unpack_from
_pack_record = _RECORD.pack
_QUERY = struct.Struct("!16sBBH")  # multicast address, S/QRV, QQIC, number of sources
_unpack_query = _QUERY.unpack_from
_pack_query = _QUERY.pack
_memoryview = memoryview
_struct_error = struct.error

_V1_LEN = 24
_V2_QUERY_LEN = 28
_MAX_CODE_MS = 0x1FFF << 10  # largest Maximum Response Delay, mant 0xFFF and exp 7
_MAX_QQI = 0x1F << 10  # largest Querier's Query Interval, mant 0xF and exp 7


# --- floating-point codes (RFC 3810 §5.1.3, §5.1.9) -----------------------------------------


def decode_max_response_code(code: int) -> int:
    """Maximum Response Delay in milliseconds for a Maximum Response Code (RFC 3810
    §5.1.3): the code itself below 32768, otherwise (mant | 0x1000) << (exp + 3)."""
    if code < 0x8000:
        return code
    return (code & 0x0FFF | 0x1000) << ((code >> 12 & 7) + 3)


def encode_max_response_code(delay_ms: int) -> int:
    """The Maximum Response Code for ``delay_ms`` milliseconds, rounded down to what the
    encoding can express and capped at its largest value (8,387,584 ms)."""
    if delay_ms < 0x8000:
        return max(delay_ms, 0)
    if delay_ms >= _MAX_CODE_MS:
        return 0xFFFF
    exp = delay_ms.bit_length() - 16
    return 0x8000 | exp << 12 | (delay_ms >> (exp + 3)) & 0x0FFF


def decode_qqic(code: int) -> int:
    """Querier's Query Interval in seconds for a QQIC (RFC 3810 §5.1.9): the code itself
    below 128, otherwise (mant | 0x10) << (exp + 3)."""
    if code < 0x80:
        return code
    return (code & 0x0F | 0x10) << ((code >> 4 & 7) + 3)


def encode_qqic(interval: int) -> int:
    """The QQIC for ``interval`` seconds, rounded down and capped at 31,744 s."""
    if interval < 0x80:
        return max(interval, 0)
    if interval >= _MAX_QQI:
        return 0xFF
    exp = interval.bit_length() - 8
    return 0x80 | exp << 4 | (interval >> (exp + 3)) & 0x0F


# --- messages -------------------------------------------------------------------------------


def _sources(data: memoryview, start: int, count: int, what: str) -> list[bytes]:
    end = start + 16 * count
    if end > len(data):
        raise DecodeError(f"{what}: {count} sources do not fit in {len(data) - start} bytes")
    return [bytes(data[i : i + 16]) for i in range(start, end, 16)]


def _check_addresses(addresses: list[bytes], what: str) -> None:
    if any(len(a) != 16 for a in addresses):
        raise ValueError(f"{what} addresses must be 16 bytes")
    if len(addresses) > 0xFFFF:
        raise ValueError(f"{len(addresses)} {what} addresses do not fit a 16-bit count")


@dataclass(slots=True)
class Mldv1Message(Icmpv6Message):
    """An MLDv1 Query (130, 24 bytes), Report (131) or Done (132) (RFC 2710 §3):
    ``max_response_delay`` in milliseconds (meaningful in a Query only) and the multicast
    ``address`` (:: in a General Query)."""

    type: int
    address: bytes
    max_response_delay: int = 0

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        if header.type not in (130, 131, 132):
            raise DecodeError(f"ICMPv6 type {header.type} is not an MLDv1 message")
        if len(payload) < 16:
            raise DecodeError(f"MLDv1 message truncated: {8 + len(payload)} bytes")
        return cls(header.type, bytes(payload[:16]), header.rest >> 16)

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        if len(self.address) != 16:
            raise ValueError("the multicast address is 16 bytes")
        if not 0 <= self.max_response_delay <= 0xFFFF:
            raise ValueError(f"maximum response delay {self.max_response_delay} out of range")
        return Icmpv6Header(self.type, 0, self.max_response_delay << 16), self.address


@dataclass(slots=True)
class Mldv2Query(Icmpv6Message):
    """An MLDv2 Query (RFC 3810 §5.1). ``address`` is :: for a General Query; with
    ``sources`` it is a Multicast Address and Source Specific Query.

    ``max_response_code`` and ``qqic`` are the coded fields as on the wire; the properties
    ``max_response_delay`` (ms) and ``query_interval`` (s) decode them.
    """

    TYPE: ClassVar[int] = 130

    address: bytes = UNSPECIFIED
    max_response_code: int = 10000  # RFC 3810 §9.3: Query Response Interval 10 s
    suppress: bool = False  # S flag: suppress router-side processing (§5.1.7)
    qrv: int = 2  # Querier's Robustness Variable, 3 bits (§5.1.8)
    qqic: int = 125  # Querier's Query Interval Code (§5.1.9)
    sources: list[bytes] = field(default_factory=list)

    @property
    def max_response_delay(self) -> int:
        """Milliseconds (RFC 3810 §5.1.3)."""
        return decode_max_response_code(self.max_response_code)

    @property
    def query_interval(self) -> int:
        """Seconds (RFC 3810 §5.1.9)."""
        return decode_qqic(self.qqic)

    @property
    def is_general(self) -> bool:
        return self.address == UNSPECIFIED

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        if header.type != 130:
            raise DecodeError(f"ICMPv6 type {header.type} is not an MLD Query")
        size = len(payload)
        if size < _V2_QUERY_LEN - 8:
            raise DecodeError(f"MLDv2 Query truncated: {8 + size} bytes")
        mv = payload if type(payload) is _memoryview else _memoryview(payload)
        address, flags, qqic, count = _unpack_query(mv)
        sources = _sources(mv, 20, count, "MLDv2 Query")
        return cls(address, header.rest >> 16, bool(flags & 8), flags & 7, qqic, sources)

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        if len(self.address) != 16:
            raise ValueError("the multicast address is 16 bytes")
        if not 0 <= self.max_response_code <= 0xFFFF or not 0 <= self.qrv <= 7:
            raise ValueError("maximum response code or QRV out of range")
        _check_addresses(self.sources, "source")
        flags = self.suppress << 3 | self.qrv
        try:
            head = _pack_query(self.address, flags, self.qqic, len(self.sources))
        except _struct_error as exc:
            raise ValueError(f"MLDv2 Query field out of range: {exc}") from exc
        header = Icmpv6Header(130, 0, self.max_response_code << 16)
        return header, head + b"".join(self.sources)


@dataclass(slots=True)
class MulticastAddressRecord:
    """One record of an MLDv2 Report (RFC 3810 §5.2.4): ``type`` is a
    :class:`MldRecordType`; ``aux_data`` a multiple of 4 bytes (none defined yet)."""

    type: int
    address: bytes
    sources: list[bytes] = field(default_factory=list)
    aux_data: bytes = b""

    def build(self) -> bytes:
        if len(self.address) != 16:
            raise ValueError("the multicast address is 16 bytes")
        _check_addresses(self.sources, "source")
        aux = self.aux_data
        if len(aux) & 3 or len(aux) > 0xFF * 4:
            raise ValueError(f"aux data of {len(aux)} bytes: not 32-bit words up to 1020 bytes")
        try:
            head = _pack_record(self.type, len(aux) >> 2, len(self.sources), self.address)
        except _struct_error as exc:
            raise ValueError(f"record type {self.type} out of range") from exc
        return head + b"".join(self.sources) + aux


@dataclass(slots=True)
class Mldv2Report(Icmpv6Message):
    """An MLDv2 Report (RFC 3810 §5.2): the node's multicast address records."""

    TYPE: ClassVar[int] = 143

    records: list[MulticastAddressRecord] = field(default_factory=list)

    @classmethod
    def from_icmp(cls, header: Icmpv6Header, payload: Buffer) -> Self:
        if header.type != 143:
            raise DecodeError(f"ICMPv6 type {header.type} is not an MLDv2 Report")
        mv = payload if type(payload) is _memoryview else _memoryview(payload)
        size = len(mv)
        records = []
        offset = 0
        for _ in range(header.rest & 0xFFFF):
            if offset + 20 > size:
                raise DecodeError(f"MLDv2 Report record at {8 + offset} truncated")
            record_type, aux_words, count, address = _unpack_record(mv, offset)
            sources = _sources(mv, offset + 20, count, "MLDv2 address record")
            offset += 20 + 16 * count
            end = offset + 4 * aux_words
            if end > size:
                raise DecodeError(f"MLDv2 Report aux data at {8 + offset} truncated")
            records.append(
                MulticastAddressRecord(record_type, address, sources, bytes(mv[offset:end]))
            )
            offset = end
        return cls(records)

    def to_icmp(self) -> tuple[Icmpv6Header, bytes]:
        if len(self.records) > 0xFFFF:
            raise ValueError(f"{len(self.records)} records do not fit a 16-bit count")
        payload = b"".join(record.build() for record in self.records)
        return Icmpv6Header(143, 0, len(self.records)), payload


MldMessage = Mldv1Message | Mldv2Query | Mldv2Report


def parse_mld(header: Icmpv6Header, payload: Buffer) -> MldMessage:
    """Decode the MLD message of a parsed ICMPv6 header: a Query of 24 bytes is MLDv1, of
    28 or more MLDv2, other lengths raise :class:`DecodeError` (RFC 3810 §8.1); Report and
    Done of MLDv1 and the MLDv2 Report by type. Other types raise :class:`DecodeError`."""
    icmp_type = header.type
    if icmp_type == 143:
        return Mldv2Report.from_icmp(header, payload)
    if icmp_type == 130:
        length = 8 + len(payload)
        if length == _V1_LEN:
            return Mldv1Message.from_icmp(header, payload)
        if length >= _V2_QUERY_LEN:
            return Mldv2Query.from_icmp(header, payload)
        raise DecodeError(f"MLD Query of {length} bytes is neither MLDv1 nor MLDv2")
    if icmp_type == 131 or icmp_type == 132:
        return Mldv1Message.from_icmp(header, payload)
    raise DecodeError(f"ICMPv6 type {icmp_type} is not an MLD message")


# --- the IPv6 packet around an MLD message (RFC 3810 §5, RFC 2710 §3) -----------------------


def mld_hop_by_hop(next_header: int = NextHeader.ICMPV6) -> HopByHopOptions:
    """The Hop-by-Hop header every MLD message carries: Router Alert with value 0 (MLD,
    RFC 2711) and a PadN to 8 octets, as Linux writes it."""
    return HopByHopOptions(next_header, [router_alert_option(MLD_ROUTER_ALERT), Ipv6Option(1)])


def build_mld_packet(src: bytes, dst: bytes, message: MldMessage) -> bytes:
    """The IPv6 packet for an MLD message: hop limit 1, the Router Alert Hop-by-Hop header,
    the ICMPv6 message with its checksum (RFC 3810 §5, RFC 2710 §3). ``src`` is a
    link-local address, or :: for an MLDv2 Report sent before the interface has one
    (RFC 3810 §5.2.13)."""
    icmp = message.build(src=src, dst=dst)
    header = Ipv6Header(src, dst, NextHeader.HOP_BY_HOP, hop_limit=1)
    return header.build(mld_hop_by_hop().build(icmp))


def is_valid_mld_packet(header: Ipv6Header, chain: ExtensionChain, icmp_type: int) -> bool:
    """Whether a received MLD message of ``icmp_type`` came in the packet RFC 3810 §5 (and
    RFC 2710 §3) prescribe: hop limit 1, a Hop-by-Hop header with Router Alert value 0 and
    a link-local source (§5.1.14), or :: for an MLDv2 Report (§5.2.13). A node silently
    discards a message that does not."""
    if header.hop_limit != 1 or not chain.headers:
        return False
    first = chain.headers[0].header
    if not isinstance(first, HopByHopOptions):
        return False
    if first.get(5) != MLD_ROUTER_ALERT.to_bytes(2, "big"):
        return False
    if is_link_local(header.src):
        return True
    return icmp_type == 143 and header.src == UNSPECIFIED
