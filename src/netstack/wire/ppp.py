"""PPP over serial links: HDLC-like framing (RFC 1662), the PPP header (RFC 1661 §2, §6.5,
§6.6) and the packet format shared by LCP, IPCP and IPV6CP (RFC 1661 §5).

Framing is byte-synchronous (RFC 1662 §4): a frame is flag 0x7E, the escaped contents
(address, control, protocol, information, FCS) and a closing flag. Control Escape 0x7D
precedes an octet sent XORed with 0x20 (RFC 1662 §4.2).

Both FCSs run in C: FCS-32 is zlib's CRC-32, and FCS-16 is the reflected CCITT CRC of
:func:`netstack.wire.checksum.crc16_reflected` (the one IEEE 802.15.4 uses too).
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum

from netstack.wire import Buffer, DecodeError
from netstack.wire.checksum import crc16_reflected

__all__ = [
    "FCS16_GOOD",
    "FCS16_INIT",
    "FCS32_GOOD",
    "FCS32_INIT",
    "ControlCode",
    "ControlPacket",
    "Deframer",
    "LcpOption",
    "PppHeader",
    "PppProtocol",
    "build_options",
    "encode_frame",
    "fcs16",
    "fcs32",
    "parse_options",
]

FLAG = 0x7E
ESCAPE = 0x7D
_FLAG_BYTE = b"\x7e"
_ADDRESS_CONTROL = b"\xff\x03"  # All-Stations address, Unnumbered Information (RFC 1662 §3.1)

# RFC 1662 Appendix C.
FCS16_INIT = 0xFFFF
FCS16_GOOD = 0xF0B8
FCS32_INIT = 0xFFFFFFFF
FCS32_GOOD = 0xDEBB20E3

_CONTROL = struct.Struct("!BBH")  # code, identifier, length
_unpack_control = _CONTROL.unpack_from
_pack_control = _CONTROL.pack


class PppProtocol(IntEnum):
    """Protocol field values (RFC 1661 §2, IANA "PPP DLL Protocol Numbers")."""

    IPV4 = 0x0021
    IPV6 = 0x0057
    IPCP = 0x8021
    IPV6CP = 0x8057
    LCP = 0xC021
    PAP = 0xC023
    CHAP = 0xC223


class ControlCode(IntEnum):
    """LCP codes (RFC 1661 §5); IPCP and IPV6CP use 1 to 7."""

    CONFIGURE_REQUEST = 1
    CONFIGURE_ACK = 2
    CONFIGURE_NAK = 3
    CONFIGURE_REJECT = 4
    TERMINATE_REQUEST = 5
    TERMINATE_ACK = 6
    CODE_REJECT = 7
    PROTOCOL_REJECT = 8
    ECHO_REQUEST = 9
    ECHO_REPLY = 10
    DISCARD_REQUEST = 11


class LcpOption(IntEnum):
    """LCP configuration option types (RFC 1661 §6, RFC 1662 §7.1)."""

    MRU = 1
    ACCM = 2
    AUTH_PROTOCOL = 3
    QUALITY_PROTOCOL = 4
    MAGIC_NUMBER = 5
    PFC = 7
    ACFC = 8


def fcs16(data: Buffer, fcs: int = FCS16_INIT) -> int:
    """The running 16-bit FCS register after ``data`` (RFC 1662 §C.2 ``pppfcs16``).

    Send ``fcs16(contents) ^ 0xFFFF`` least significant octet first; over the received
    contents with their FCS the register ends at :data:`FCS16_GOOD`.
    """
    return crc16_reflected(data, fcs)


def fcs32(data: Buffer, fcs: int = FCS32_INIT) -> int:
    """The running 32-bit FCS register after ``data`` (RFC 1662 §C.3 ``pppfcs32``).

    Send ``fcs32(contents) ^ 0xFFFFFFFF`` least significant octet first; over the received
    contents with their FCS the register ends at :data:`FCS32_GOOD`.
    """
    # zlib complements the register on the way in and out.
    return zlib.crc32(data, fcs ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


@functools.lru_cache(maxsize=64)
def _escapes(accm: int) -> tuple[tuple[bytes, bytes], ...]:
    """(octet, escaped pair) for every octet to escape under ``accm`` (RFC 1662 §7.1),
    Control Escape first so the escapes added later are not escaped again."""
    octets = [ESCAPE, FLAG] + [c for c in range(0x20) if accm >> c & 1]
    return tuple((bytes((c,)), bytes((ESCAPE, c ^ 0x20))) for c in octets)


def _escape(data: bytes, accm: int) -> bytes:
    # One C-level replace per escapable octet beats a regex callback per match: an octet
    # that is absent costs a memchr.
    for octet, escaped in _escapes(accm):
        if octet in data:
            data = data.replace(octet, escaped)
    return data


def _unescape(raw: bytes) -> bytes:
    """Undo Control Escape (RFC 1662 §4.2): each 0x7D and the octet after it become that
    octet XOR 0x20. ``raw`` has no trailing lone escape (the deframer aborted those)."""
    parts = raw.split(_ESCAPE_BYTE)
    out = [parts[0]]
    for part in parts[1:]:
        if part:
            out.append(_XOR20[part[0]])
            out.append(part[1:])
    return b"".join(out)


_ESCAPE_BYTE = b"\x7d"
_XOR20 = [bytes((c ^ 0x20,)) for c in range(256)]


def encode_frame(payload: Buffer, *, accm: int = 0xFFFFFFFF, fcs32: bool = False) -> bytes:
    """One frame on the wire: flag, escaped ``payload`` + FCS, flag (RFC 1662 §3.1, §4.2).

    ``payload`` is everything the FCS covers before it: address, control, protocol and
    information (see :meth:`PppHeader.build`). Flag, Control Escape and each octet below
    0x20 whose bit is set in the async control character map ``accm`` are escaped. LCP
    packets go out with the default ACCM 0xFFFFFFFF whatever was negotiated (RFC 1662 §7.1).
    """
    if not 0 <= accm <= 0xFFFFFFFF:
        raise ValueError(f"ACCM {accm:#x} is not 32 bits")
    data = bytes(payload)
    if fcs32:
        data += (_fcs32(data) ^ 0xFFFFFFFF).to_bytes(4, "little")
    else:
        data += (fcs16(data) ^ 0xFFFF).to_bytes(2, "little")
    return _FLAG_BYTE + _escape(data, accm) + _FLAG_BYTE


_fcs32 = fcs32  # encode_frame's keyword shadows the function


class Deframer:
    """Splits a received byte stream into frames (RFC 1662 §4), keeping state across
    :meth:`feed` calls.

    Frames come out unescaped with their FCS checked and removed, starting at the address
    field (or the protocol field under ACFC). Everything else is dropped and counted:
    ``bad_fcs``; ``aborted`` (Control Escape right before the closing flag, RFC 1662 §4.4.1);
    ``too_long`` (contents beyond ``mru`` + 4 header octets + FCS, never buffered);
    ``runts`` (shorter than FCS + 2 octets, RFC 1662 §4.3). Bytes before the first flag and
    after a too-long frame are skipped until the next flag; empty frames (back-to-back flags)
    are inter-frame fill and not counted.

    ``accm`` is the receive map: octets below 0x20 flagged in it are removed before anything
    else, as intervening equipment may insert them (RFC 1662 §7.1). It defaults to all ones
    until LCP negotiates otherwise; set the attribute to change it.
    """

    __slots__ = (
        "_buf",
        "_delete",
        "_fcs_len",
        "_good",
        "_hunting",
        "_max_len",
        "aborted",
        "accm",
        "bad_fcs",
        "frames",
        "mru",
        "runts",
        "too_long",
    )

    def __init__(self, *, mru: int = 1500, fcs32: bool = False, accm: int = 0xFFFFFFFF) -> None:
        if mru < 0:
            raise ValueError(f"MRU {mru} is negative")
        self.mru = mru
        self.accm = accm
        self._fcs_len = 4 if fcs32 else 2
        self._good = FCS32_GOOD if fcs32 else FCS16_GOOD
        # Address, control and a 2-octet protocol field precede the information field.
        self._max_len = mru + 4 + self._fcs_len
        self._buf = bytearray()
        self._hunting = True
        self._delete = b""
        self.frames = 0
        self.bad_fcs = 0
        self.aborted = 0
        self.too_long = 0
        self.runts = 0

    def feed(self, data: Buffer) -> list[bytes]:
        """Take the next received bytes; return the frames they complete."""
        accm = self.accm
        delete = bytes(c for c in range(0x20) if accm >> c & 1)
        chunk = bytes(data).translate(None, delete) if delete else bytes(data)
        frames: list[bytes] = []
        start = 0
        while True:
            end = chunk.find(FLAG, start)
            if end < 0:
                self._extend(chunk[start:])
                return frames
            self._extend(chunk[start:end])
            self._close(frames)
            start = end + 1

    def iter_frames(self, data: Buffer) -> Iterator[bytes]:
        """Like :meth:`feed`, one frame at a time: :attr:`accm` is read afresh for the
        bytes after each frame, so a consumer that changes it on a frame (LCP opening the
        link) gets the frames behind it deframed with the new map (RFC 1662 §7.1)."""
        chunk = bytes(data)
        start, size = 0, len(chunk)
        while start < size:
            end = chunk.find(FLAG, start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            accm = self.accm
            if accm:
                piece = piece.translate(None, bytes(c for c in range(0x20) if accm >> c & 1))
            self._extend(piece)
            if end < 0:
                return
            found: list[bytes] = []
            self._close(found)
            yield from found
            start = end + 1

    def _extend(self, data: bytes) -> None:
        if self._hunting or not data:
            return
        buf = self._buf
        buf += data
        # Escaping at most doubles the contents: beyond twice the limit it is too long.
        if len(buf) > 2 * self._max_len:
            self.too_long += 1
            buf.clear()
            self._hunting = True

    def _close(self, frames: list[bytes]) -> None:
        """A flag arrived: finish the frame in the buffer, if any."""
        if self._hunting:
            self._hunting = False
            return
        raw = bytes(self._buf)
        self._buf.clear()
        if not raw:
            return
        # An odd run of Control Escapes at the end leaves one escaping the flag: an abort.
        trailing = len(raw) - len(raw.rstrip(b"\x7d"))
        if trailing & 1:
            self.aborted += 1
            return
        contents = _unescape(raw) if ESCAPE in raw else raw
        size = len(contents)
        if size > self._max_len:
            self.too_long += 1
        elif size < self._fcs_len + 2:
            self.runts += 1
        elif (fcs32(contents) if self._fcs_len == 4 else fcs16(contents)) != self._good:
            self.bad_fcs += 1
        else:
            self.frames += 1
            frames.append(contents[: -self._fcs_len])


def _check_protocol(protocol: int) -> None:
    # RFC 1661 §2: the protocol is odd and the low bit of its high octet is 0.
    if not 0 <= protocol <= 0xFFFF or not protocol & 1 or protocol & 0x100:
        raise ValueError(f"invalid PPP protocol {protocol:#06x}")


@dataclass(slots=True)
class PppHeader:
    """The PPP header of a deframed frame: ``acfc`` says address and control were absent,
    ``pfc`` that the protocol field was one octet."""

    protocol: int
    acfc: bool = False
    pfc: bool = False

    @classmethod
    def parse(cls, data: Buffer) -> tuple[PppHeader, memoryview]:
        """Decode the header; the information field (with any padding) is the memoryview."""
        mv = memoryview(data)
        size = len(mv)
        offset = 0
        acfc = True
        if size >= 1 and mv[0] == 0xFF:
            # RFC 1661 §6.6: a frame with an 0xFF first octet carries address and control.
            if size < 2 or mv[1] != 0x03:
                raise DecodeError("PPP address 0xff not followed by control 0x03")
            offset = 2
            acfc = False
        if size <= offset:
            raise DecodeError("PPP frame has no protocol field")
        first = mv[offset]
        if first & 1:
            # RFC 1661 §6.5: an odd first octet is a compressed (one-octet) protocol.
            return cls(first, acfc, True), mv[offset + 1 :]
        if size < offset + 2:
            raise DecodeError("PPP protocol field truncated")
        protocol = first << 8 | mv[offset + 1]
        if not protocol & 1:
            raise DecodeError(f"invalid PPP protocol {protocol:#06x}")
        return cls(protocol, acfc, False), mv[offset + 2 :]

    @classmethod
    def build(
        cls, protocol: int, payload: Buffer, *, acfc: bool = False, pfc: bool = False
    ) -> bytes:
        """Header + ``payload``, ready for :func:`encode_frame`.

        ``acfc`` omits address and control, except for LCP (RFC 1661 §6.6); ``pfc`` sends a
        protocol below 0x100 as one octet (RFC 1661 §6.5).
        """
        _check_protocol(protocol)
        head = b"" if acfc and protocol != PppProtocol.LCP else _ADDRESS_CONTROL
        if pfc and protocol < 0x100:
            return head + bytes((protocol,)) + payload
        return head + protocol.to_bytes(2, "big") + payload


@dataclass(slots=True)
class ControlPacket:
    """An LCP, IPCP or IPV6CP packet header (RFC 1661 §5). ``length`` is set by ``parse``;
    ``build`` computes it."""

    code: int
    identifier: int
    length: int = 0

    @classmethod
    def parse(cls, data: Buffer) -> tuple[ControlPacket, memoryview]:
        """Decode a packet; the data field is ``data[4:length]`` as a memoryview. Octets
        beyond ``length`` are padding and ignored (RFC 1661 §5)."""
        size = len(data)
        if size < 4:
            raise DecodeError(f"PPP control packet too short: {size} bytes")
        code, identifier, length = _unpack_control(data)
        if length < 4 or length > size:
            raise DecodeError(f"PPP control packet length {length} outside [4, {size}]")
        return cls(code, identifier, length), memoryview(data)[4:length]

    def build(self, data: Buffer = b"") -> bytes:
        """Code, identifier, length + ``data``."""
        length = 4 + len(data)
        if length > 0xFFFF:
            raise ValueError(f"PPP control packet too long: {length} bytes")
        if not 0 <= self.code <= 0xFF or not 0 <= self.identifier <= 0xFF:
            raise ValueError("PPP control code and identifier are octets")
        return _pack_control(self.code, self.identifier, length) + data


def parse_options(data: Buffer) -> list[tuple[int, bytes]]:
    """Split Configure-Request/Ack/Nak/Reject data into (type, data) options (RFC 1661 §6)."""
    mv = memoryview(data)
    size = len(mv)
    options: list[tuple[int, bytes]] = []
    offset = 0
    while offset < size:
        if size - offset < 2:
            raise DecodeError(f"PPP option truncated at offset {offset}")
        kind = mv[offset]
        length = mv[offset + 1]
        if length < 2 or offset + length > size:
            raise DecodeError(f"PPP option {kind} length {length} invalid at offset {offset}")
        options.append((kind, bytes(mv[offset + 2 : offset + length])))
        offset += length
    return options


def build_options(options: Iterable[tuple[int, Buffer]]) -> bytes:
    """Encode (type, data) options, each as type, length, data (RFC 1661 §6)."""
    out = bytearray()
    for kind, value in options:
        if not 0 <= kind <= 0xFF:
            raise ValueError(f"PPP option type {kind} is not an octet")
        if len(value) > 253:
            raise ValueError(f"PPP option {kind} data too long: {len(value)} bytes")
        out += bytes((kind, 2 + len(value)))
        out += value
    return bytes(out)
