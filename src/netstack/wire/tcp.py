"""TCP segments: the header (RFC 9293 §3.1), its options (RFC 9293 §3.2, RFC 7323 window
scale and timestamps, RFC 2018 SACK) and 32-bit sequence arithmetic (RFC 9293 §3.4).

The checksum covers the IPv4 or IPv6 pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1) and uses
the identity ``netstack.wire.udp`` uses: a buffer read as one big-endian integer is
congruent modulo 0xFFFF to the one's-complement sum of its 16-bit words, and so is any
16- or 32-bit field, so the header sum on ``build`` is plain integer addition of the fields.

``parse`` returns plain ints (``flags`` is an ``int``, never a :class:`TcpFlags`) and skips
the option decoder when the data offset is 5, the common case on an established connection
without timestamps.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

from netstack.wire import Buffer, ChecksumError, DecodeError

__all__ = [
    "TcpFlags",
    "TcpHeader",
    "TcpOptionKind",
    "TcpOptions",
    "seq_add",
    "seq_diff",
    "seq_ge",
    "seq_gt",
    "seq_le",
    "seq_lt",
]


class TcpFlags(IntFlag):
    """The control bits (RFC 9293 §3.1; ECE and CWR from RFC 3168 §6.1)."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80


class TcpOptionKind(IntEnum):
    """Option kinds this module decodes (IANA "TCP Option Kind Numbers")."""

    EOL = 0
    NOP = 1
    MSS = 2  # RFC 9293 §3.2
    WSCALE = 3  # RFC 7323 §2
    SACK_PERMITTED = 4  # RFC 2018 §2
    SACK = 5  # RFC 2018 §3
    TIMESTAMP = 8  # RFC 7323 §3


_HEADER = struct.Struct("!HHIIBBHHH")  # ports, seq, ack, offset, flags, window, checksum, urgent
_unpack = _HEADER.unpack_from
_pack = _HEADER.pack
_WORD_II = struct.Struct("!III")  # one 4-byte option word, then two 32-bit values
_unpack_word_ii = _WORD_II.unpack_from
_pack_word_ii = _WORD_II.pack
_II = struct.Struct("!II")
_unpack_ii = _II.unpack_from
_MSS = struct.Struct("!BBH")
_pack_mss = _MSS.pack
# SACK option bodies with 1 to 4 blocks (RFC 2018 §3).
_SACK_BLOCKS = tuple(struct.Struct(f"!{2 * n}I") for n in range(5))
_from_bytes = int.from_bytes
_memoryview = memoryview
_struct_error = struct.error

_PROTO_TCP = 6
_MIN_HEADER = 20
_TS_HEADER_LEN = 32  # a header with NOP, NOP, timestamps and nothing else
_MAX_OPTIONS = 40  # data offset 15: 60-byte header (RFC 9293 §3.1)
_MAX_SACK_BLOCKS = 4  # (40 - 2) // 8 (RFC 2018 §3)
_SPLIT_AT = 512  # from this size on, _residue beats a single int.from_bytes

# Option words as Linux writes them (net/ipv4/tcp_output.c, tcp_options_write()).
_NOP_NOP_TS = 0x0101080A  # NOP, NOP, Timestamps (kind 8, length 10)
_SACKPERM_TS = 0x0402080A  # SACK-permitted (kind 4, length 2), Timestamps
_NOP_NOP_SACKPERM = b"\x01\x01\x04\x02"

_SEQ_MASK = 0xFFFF_FFFF
_SEQ_HALF = 0x8000_0000


def _residue(data: Buffer) -> int:
    """A value congruent modulo 0xFFFF to the one's-complement sum of ``data`` (zero-padded
    if odd), reduced below 0xFFFF.

    Reducing one big integer costs a division linear in its size; adding four integers cut
    at even offsets keeps the residue (each piece's place value is a power of 2**16) and
    divides a number a quarter as long. ``data`` should be a memoryview so the cuts do not
    copy.
    """
    size = len(data)
    q = (size >> 3) << 1
    r = q << 1
    last = _from_bytes(data[r + q :])
    if size & 1:
        last <<= 8
    return (
        _from_bytes(data[:q]) + _from_bytes(data[q:r]) + _from_bytes(data[r : r + q]) + last
    ) % 0xFFFF


@dataclass(slots=True)
class TcpOptions:
    """The options a TCP implementation acts on; anything else is skipped when parsing.

    ``wscale`` is the shift count as received: the caller clamps it to 14 (RFC 7323 §2.3).
    ``sack_blocks`` are (left edge, right edge) sequence numbers, most recent first as the
    receiver reports them (RFC 2018 §4). ``timestamp`` is (TSval, TSecr) (RFC 7323 §3.2).
    """

    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    sack_blocks: tuple[tuple[int, int], ...] = ()
    timestamp: tuple[int, int] | None = None

    @classmethod
    def parse(cls, data: Buffer) -> TcpOptions:
        """Decode an option list (RFC 9293 §3.2).

        End-of-List stops the list, NOP is skipped and unknown kinds are skipped by their
        length. A length below 2 or running past the end, or a known kind with the wrong
        length, raises :class:`DecodeError`. When a kind repeats, the last one counts.
        """
        size = len(data)
        if size == 12:
            # Every segment of a connection with timestamps: NOP, NOP, TS (RFC 7323 App. A).
            word, tsval, tsecr = _unpack_word_ii(data)
            if word == _NOP_NOP_TS:
                return cls(None, None, False, (), (tsval, tsecr))
        mss: int | None = None
        wscale: int | None = None
        sack_permitted = False
        sack_blocks: tuple[tuple[int, int], ...] = ()
        timestamp: tuple[int, int] | None = None
        i = 0
        while i < size:
            kind = data[i]
            if kind == 1:  # NOP
                i += 1
                continue
            if kind == 0:  # EOL: the rest is padding (RFC 9293 §3.2)
                break
            if i + 1 == size:
                raise DecodeError(f"TCP option {kind} at offset {i} has no length byte")
            length = data[i + 1]
            end = i + length
            if length < 2 or end > size:
                raise DecodeError(f"TCP option {kind} at offset {i}: bad length {length}")
            if kind == 8:
                if length != 10:
                    raise DecodeError(f"TCP timestamps option length {length}, not 10")
                timestamp = _unpack_ii(data, i + 2)
            elif kind == 2:
                if length != 4:
                    raise DecodeError(f"TCP MSS option length {length}, not 4")
                mss = (data[i + 2] << 8) | data[i + 3]
            elif kind == 5:
                count, rest = divmod(length - 2, 8)
                if rest or not 1 <= count <= _MAX_SACK_BLOCKS:
                    raise DecodeError(f"TCP SACK option length {length}, not 2 + 8n (n 1..4)")
                edges = _SACK_BLOCKS[count].unpack_from(data, i + 2)
                sack_blocks = tuple(zip(edges[::2], edges[1::2], strict=True))
            elif kind == 3:
                if length != 3:
                    raise DecodeError(f"TCP window scale option length {length}, not 3")
                wscale = data[i + 2]
            elif kind == 4:
                if length != 2:
                    raise DecodeError(f"TCP SACK-permitted option length {length}, not 2")
                sack_permitted = True
            i = end
        return cls(mss, wscale, sack_permitted, sack_blocks, timestamp)

    def build(self) -> bytes:
        """Encode in the order and alignment Linux uses, so every option block the kernel
        sends re-encodes byte for byte: MSS; timestamps after two NOPs, or after
        SACK-permitted in the SYN; otherwise SACK-permitted after two NOPs; NOP and window
        scale; two NOPs and the SACK blocks. Each group fills whole 4-byte words, so no
        padding is ever needed. More than 40 bytes raises :class:`ValueError`.
        """
        timestamp = self.timestamp
        mss = self.mss
        wscale = self.wscale
        sack_permitted = self.sack_permitted
        blocks = self.sack_blocks
        try:
            if mss is None and wscale is None and not blocks and not sack_permitted:
                # The data segment of a connection with timestamps, or no options at all.
                if timestamp is None:
                    return b""
                return _pack_word_ii(_NOP_NOP_TS, timestamp[0], timestamp[1])
            parts: list[bytes] = []
            if mss is not None:
                parts.append(_pack_mss(2, 4, mss))
            if timestamp is not None:
                word = _SACKPERM_TS if sack_permitted else _NOP_NOP_TS
                parts.append(_pack_word_ii(word, timestamp[0], timestamp[1]))
            elif sack_permitted:
                parts.append(_NOP_NOP_SACKPERM)
            if wscale is not None:
                parts.append(bytes((1, 3, 3, wscale)))
            if blocks:
                count = len(blocks)
                if count > _MAX_SACK_BLOCKS:
                    raise ValueError(f"{count} SACK blocks: at most 4 fit (RFC 2018 §3)")
                parts.append(bytes((1, 1, 5, 2 + 8 * count)))
                parts.append(
                    _SACK_BLOCKS[count].pack(*[edge for block in blocks for edge in block])
                )
        except _struct_error as exc:
            raise ValueError(f"TCP option value out of range: {exc}") from exc
        options = b"".join(parts)
        if len(options) > _MAX_OPTIONS:
            raise ValueError(f"TCP options take {len(options)} bytes, more than 40")
        return options


@dataclass(slots=True)
class TcpHeader:
    """A TCP header (RFC 9293 §3.1).

    ``flags`` holds the eight control bits of :class:`TcpFlags` and, in bits 8-11, the four
    bits RFC 9293 reserves (bit 8 is AccECN's AE, RFC 9768), so that parse and build are
    exact inverses. ``options`` is ``None`` when the header has none (data offset 5).
    ``checksum`` is set by ``parse``; ``build`` computes it and ignores the record's value.
    """

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    urgent: int = 0
    options: TcpOptions | None = None
    checksum: int = 0
    _parsed_len: int = field(default=0, init=False, repr=False, compare=False)

    @property
    def header_len(self) -> int:
        """Bytes of header: the data offset * 4 this record was parsed with, otherwise the
        length ``build`` emits for the current options."""
        if self._parsed_len:
            return self._parsed_len
        options = self.options
        return _MIN_HEADER if options is None else _MIN_HEADER + len(options.build())

    @property
    def syn(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def fin(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def rst(self) -> bool:
        return bool(self.flags & 0x04)

    @property
    def has_ack(self) -> bool:
        """The ACK control bit (``ack`` is the acknowledgment number)."""
        return bool(self.flags & 0x10)

    def segment_length(self, payload_len: int) -> int:
        """SEG.LEN (RFC 9293 §3.4): the octets of data plus one each for SYN and FIN."""
        flags = self.flags
        return payload_len + (flags & 1) + ((flags >> 1) & 1)

    @classmethod
    def parse(
        cls, data: Buffer, *, src: bytes | None = None, dst: bytes | None = None
    ) -> tuple[TcpHeader, memoryview]:
        """Decode a segment: ``data`` is the whole IP payload, the payload returned is
        ``data[header_len:]`` as a memoryview (no copy).

        With the network-layer ``src`` and ``dst`` (4 or 16 bytes each) the checksum is
        verified over the pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1) and a mismatch raises
        :class:`ChecksumError`. Malformed options raise :class:`DecodeError`.
        """
        size = len(data)
        if size < _MIN_HEADER:
            raise DecodeError(f"TCP segment too short: {size} bytes")
        src_port, dst_port, seq, ack, offset, flags, window, checksum, urgent = _unpack(data)
        header_len = (offset >> 2) & 0x3C  # data offset in 32-bit words
        if header_len < _MIN_HEADER or header_len > size:
            raise DecodeError(f"TCP data offset {header_len} bytes outside [20, {size}]")
        mv = data if type(data) is _memoryview else _memoryview(data)
        if src is not None or dst is not None:
            if src is None or dst is None:
                raise TypeError("give both src and dst to verify the TCP checksum")
            if size < _SPLIT_AT:
                words = _from_bytes(data) << 8 if size & 1 else _from_bytes(data)
            else:
                words = _residue(mv)
            if (_from_bytes(src) + _from_bytes(dst) + _PROTO_TCP + size + words) % 0xFFFF:
                raise ChecksumError(f"bad TCP checksum {checksum:#06x}")
        options: TcpOptions | None = None
        if header_len == _TS_HEADER_LEN:
            word, tsval, tsecr = _unpack_word_ii(data, _MIN_HEADER)
            if word == _NOP_NOP_TS:  # NOP, NOP, TS: the usual data segment (RFC 7323 App. A)
                options = TcpOptions(None, None, False, (), (tsval, tsecr))
            else:
                options = TcpOptions.parse(mv[_MIN_HEADER:header_len])
        elif header_len != _MIN_HEADER:
            options = TcpOptions.parse(mv[_MIN_HEADER:header_len])
        header = cls(
            src_port,
            dst_port,
            seq,
            ack,
            ((offset & 0x0F) << 8) | flags,
            window,
            urgent,
            options,
            checksum,
        )
        header._parsed_len = header_len
        return header, mv[header_len:]

    def build(
        self, payload: Buffer, *, src: bytes, dst: bytes, fill_checksum: bool = True
    ) -> bytes:
        """Header, options and payload, for the network-layer addresses ``src`` and ``dst``.

        ``fill_checksum=True`` writes the checksum. ``fill_checksum=False`` leaves the folded,
        non-inverted pseudo-header sum in the field, which is what checksum offload (Linux
        ``CHECKSUM_PARTIAL``, virtio-net ``NEEDS_CSUM``) completes by summing from the TCP
        header to the end. Field values out of range raise :class:`ValueError`.
        """
        opts = self.options
        options = b"" if opts is None else opts.build()
        header_len = _MIN_HEADER + len(options)
        size = len(payload)
        length = header_len + size
        flags = self.flags
        if not 0 <= flags <= 0xFFF:
            raise ValueError(f"TCP flags {flags:#x} do not fit in 12 bits")
        offset = (header_len << 2) | (flags >> 8)
        flags &= 0xFF
        src_port = self.src_port
        dst_port = self.dst_port
        seq = self.seq
        ack = self.ack
        window = self.window
        urgent = self.urgent
        pseudo = _from_bytes(src) + _from_bytes(dst) + _PROTO_TCP + length
        if fill_checksum:
            if size < _SPLIT_AT:
                words = _from_bytes(payload) << 8 if size & 1 else _from_bytes(payload)
            else:
                words = _residue(payload if type(payload) is _memoryview else _memoryview(payload))
            # A 32-bit field is two 16-bit words and congruent to their sum mod 0xFFFF.
            total = (
                pseudo
                + src_port
                + dst_port
                + seq
                + ack
                + (offset << 8)
                + flags
                + window
                + urgent
                + _from_bytes(options)
                + words
            )
            # ~sum in one's complement: a sum of 0xFFFF (residue 0) gives 0x0000, as Linux.
            checksum = -total % 0xFFFF
        else:
            checksum = pseudo % 0xFFFF or 0xFFFF
        try:
            header = _pack(src_port, dst_port, seq, ack, offset, flags, window, checksum, urgent)
        except _struct_error as exc:
            raise ValueError(f"TCP header field out of range: {exc}") from exc
        if options:
            return header + options + payload
        return header + payload


# --- sequence number arithmetic (RFC 9293 §3.4), modulo 2**32 -------------------------------
#
# As Linux's before(): a is "less than" b when (a - b) mod 2**32, read as a signed 32-bit
# number, is negative, and every comparison is the sign of seq_diff(a, b). Numbers exactly
# 2**31 apart (RFC 1982 leaves them undefined) are each less than the other.


def seq_diff(a: int, b: int) -> int:
    """``a - b`` as a signed 32-bit number, in [-2**31, 2**31 - 1]."""
    return ((a - b + _SEQ_HALF) & _SEQ_MASK) - _SEQ_HALF


def seq_add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32 (``n`` may be negative)."""
    return (a + n) & _SEQ_MASK


def seq_lt(a: int, b: int) -> bool:
    """``a < b``: ``seq_diff(a, b) < 0``."""
    return (a - b) & _SEQ_MASK >= _SEQ_HALF


def seq_le(a: int, b: int) -> bool:
    """``a =< b``: ``seq_diff(a, b) <= 0``."""
    return (a - b - 1) & _SEQ_MASK >= _SEQ_HALF - 1


def seq_gt(a: int, b: int) -> bool:
    """``a > b``: ``seq_diff(a, b) > 0``."""
    return (a - b - 1) & _SEQ_MASK < _SEQ_HALF - 1


def seq_ge(a: int, b: int) -> bool:
    """``a >= b``: ``seq_diff(a, b) >= 0``."""
    return (a - b) & _SEQ_MASK < _SEQ_HALF
