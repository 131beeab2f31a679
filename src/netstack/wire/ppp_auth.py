"""PPP authentication packets: PAP (RFC 1334 §2.2) and CHAP (RFC 1994 §4).

Both ride in the information field of a PPP frame (protocol 0xC023 for PAP, 0xC223 for
CHAP) behind the code / identifier / length header that LCP uses too, so framing is
:class:`~netstack.wire.ppp.ControlPacket`'s; this module knows the data fields:

- PAP Authenticate-Request (code 1): Peer-ID Length, Peer-ID, Passwd-Length, Password
  (RFC 1334 §2.2.1); Authenticate-Ack (2) and Authenticate-Nak (3): Msg-Length, Message
  (§2.2.2). Octets beyond the Length field are padding and ignored (§2.2).
- CHAP Challenge (1) and Response (2): Value-Size, Value (one or more octets), Name up to
  the end of the packet (RFC 1994 §4.1); Success (3) and Failure (4): Message up to the end
  (§4.2).

:func:`chap_md5_response` is the MD5 Response Value: MD5 over the Identifier octet, the
secret and the Challenge Value (RFC 1994 §4.1, algorithm 5 of §3).

Decoders raise :class:`~netstack.wire.DecodeError` when the lengths disagree: a packet
shorter than its Length, a Peer-ID, password, message or value running past it, data left
over after the last field, a Value-Size of zero or an unknown code. One leniency, for
interoperation: an Ack or Nak whose Length ends before the Msg-Length octet reads as an
empty message (some peers send such Acks; pppd accepts them too).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from netstack.wire import Buffer, DecodeError
from netstack.wire.ppp import ControlPacket

__all__ = [
    "CHAP_MD5",
    "ChapChallenge",
    "ChapCode",
    "ChapPacket",
    "ChapResponse",
    "ChapResult",
    "PapCode",
    "PapPacket",
    "PapReply",
    "PapRequest",
    "chap_md5_response",
    "parse_chap",
    "parse_pap",
]

CHAP_MD5 = 5
"""The CHAP Algorithm octet for MD5 in the LCP Authentication-Protocol option (RFC 1994 §3)."""


class PapCode(IntEnum):
    """PAP codes (RFC 1334 §2.2)."""

    AUTHENTICATE_REQUEST = 1
    AUTHENTICATE_ACK = 2
    AUTHENTICATE_NAK = 3


class ChapCode(IntEnum):
    """CHAP codes (RFC 1994 §4)."""

    CHALLENGE = 1
    RESPONSE = 2
    SUCCESS = 3
    FAILURE = 4


def _header(data: Buffer) -> tuple[int, int, memoryview]:
    """Code, identifier and the data field (up to Length) of a PAP or CHAP packet."""
    header, body = ControlPacket.parse(data)
    return header.code, header.identifier, body


def _short_field(body: memoryview, offset: int, what: str) -> tuple[bytes, int]:
    """A field preceded by its one-octet length, at ``offset``: (field, offset after it)."""
    if offset >= len(body):
        raise DecodeError(f"{what} length octet missing")
    size = body[offset]
    end = offset + 1 + size
    if end > len(body):
        raise DecodeError(f"{what} of {size} octets runs past the packet's Length")
    return bytes(body[offset + 1 : end]), end


def _check_octet_string(value: bytes, what: str, minimum: int = 0) -> None:
    if not minimum <= len(value) <= 255:
        raise ValueError(f"{what} must be {minimum} to 255 octets, not {len(value)}")


# -- PAP --------------------------------------------------------------------------------------


@dataclass(slots=True)
class PapRequest:
    """An Authenticate-Request (RFC 1334 §2.2.1): the peer's name and password in clear."""

    code: ClassVar[PapCode] = PapCode.AUTHENTICATE_REQUEST

    identifier: int
    peer_id: bytes
    password: bytes

    @classmethod
    def parse(cls, data: Buffer) -> PapRequest:
        code, identifier, body = _header(data)
        if code != PapCode.AUTHENTICATE_REQUEST:
            raise DecodeError(f"PAP code {code} is not an Authenticate-Request")
        peer_id, offset = _short_field(body, 0, "PAP Peer-ID")
        password, offset = _short_field(body, offset, "PAP Password")
        if offset != len(body):
            raise DecodeError(f"PAP Authenticate-Request has {len(body) - offset} extra octets")
        return cls(identifier, peer_id, password)

    def build(self) -> bytes:
        _check_octet_string(self.peer_id, "PAP Peer-ID")
        _check_octet_string(self.password, "PAP Password")
        data = b"".join(
            (bytes((len(self.peer_id),)), self.peer_id, bytes((len(self.password),)), self.password)
        )
        return ControlPacket(self.code, self.identifier).build(data)


@dataclass(slots=True)
class PapReply:
    """An Authenticate-Ack or Authenticate-Nak (RFC 1334 §2.2.2) with its human-readable
    Message; the Identifier is the request's."""

    code: PapCode
    identifier: int
    message: bytes = b""

    @property
    def ack(self) -> bool:
        return self.code == PapCode.AUTHENTICATE_ACK

    @classmethod
    def parse(cls, data: Buffer) -> PapReply:
        code, identifier, body = _header(data)
        if code not in (PapCode.AUTHENTICATE_ACK, PapCode.AUTHENTICATE_NAK):
            raise DecodeError(f"PAP code {code} is not an Authenticate-Ack or -Nak")
        if not body:
            # No Msg-Length octet at all: read as an empty message (see the module docs).
            return cls(PapCode(code), identifier)
        message, offset = _short_field(body, 0, "PAP Message")
        if offset != len(body):
            raise DecodeError(f"PAP Authenticate-Ack/Nak has {len(body) - offset} extra octets")
        return cls(PapCode(code), identifier, message)

    def build(self) -> bytes:
        if self.code not in (PapCode.AUTHENTICATE_ACK, PapCode.AUTHENTICATE_NAK):
            raise ValueError(f"PAP code {self.code} is not an Authenticate-Ack or -Nak")
        _check_octet_string(self.message, "PAP Message")
        data = bytes((len(self.message),)) + self.message
        return ControlPacket(self.code, self.identifier).build(data)


PapPacket = PapRequest | PapReply


def parse_pap(data: Buffer) -> PapPacket:
    """Any PAP packet, by its code."""
    if len(data) >= 1 and data[0] == PapCode.AUTHENTICATE_REQUEST:
        return PapRequest.parse(data)
    return PapReply.parse(data)


# -- CHAP -------------------------------------------------------------------------------------


def _parse_value_name(body: memoryview, what: str) -> tuple[bytes, bytes]:
    value, offset = _short_field(body, 0, f"CHAP {what} Value")
    if not value:
        raise DecodeError(f"CHAP {what} Value-Size is 0 (RFC 1994 §4.1: one or more octets)")
    return value, bytes(body[offset:])


def _build_value_name(code: ChapCode, identifier: int, value: bytes, name: bytes) -> bytes:
    _check_octet_string(value, f"CHAP {code.name.title()} Value", minimum=1)
    data = bytes((len(value),)) + value + name
    return ControlPacket(code, identifier).build(data)


@dataclass(slots=True)
class ChapChallenge:
    """A Challenge (RFC 1994 §4.1): the authenticator's random Value and its Name."""

    code: ClassVar[ChapCode] = ChapCode.CHALLENGE

    identifier: int
    value: bytes
    name: bytes = b""

    @classmethod
    def parse(cls, data: Buffer) -> ChapChallenge:
        code, identifier, body = _header(data)
        if code != ChapCode.CHALLENGE:
            raise DecodeError(f"CHAP code {code} is not a Challenge")
        return cls(identifier, *_parse_value_name(body, "Challenge"))

    def build(self) -> bytes:
        return _build_value_name(self.code, self.identifier, self.value, self.name)


@dataclass(slots=True)
class ChapResponse:
    """A Response (RFC 1994 §4.1): the hash Value (16 octets for MD5) and the peer's Name;
    the Identifier is the Challenge's."""

    code: ClassVar[ChapCode] = ChapCode.RESPONSE

    identifier: int
    value: bytes
    name: bytes = b""

    @classmethod
    def parse(cls, data: Buffer) -> ChapResponse:
        code, identifier, body = _header(data)
        if code != ChapCode.RESPONSE:
            raise DecodeError(f"CHAP code {code} is not a Response")
        return cls(identifier, *_parse_value_name(body, "Response"))

    def build(self) -> bytes:
        return _build_value_name(self.code, self.identifier, self.value, self.name)


@dataclass(slots=True)
class ChapResult:
    """A Success or Failure (RFC 1994 §4.2) with its human-readable Message; the Identifier
    is the Response's."""

    code: ChapCode
    identifier: int
    message: bytes = b""

    @property
    def success(self) -> bool:
        return self.code == ChapCode.SUCCESS

    @classmethod
    def parse(cls, data: Buffer) -> ChapResult:
        code, identifier, body = _header(data)
        if code not in (ChapCode.SUCCESS, ChapCode.FAILURE):
            raise DecodeError(f"CHAP code {code} is not a Success or Failure")
        return cls(ChapCode(code), identifier, bytes(body))

    def build(self) -> bytes:
        if self.code not in (ChapCode.SUCCESS, ChapCode.FAILURE):
            raise ValueError(f"CHAP code {self.code} is not a Success or Failure")
        return ControlPacket(self.code, self.identifier).build(self.message)


ChapPacket = ChapChallenge | ChapResponse | ChapResult


def parse_chap(data: Buffer) -> ChapPacket:
    """Any CHAP packet, by its code."""
    code = data[0] if len(data) >= 1 else 0
    if code == ChapCode.CHALLENGE:
        return ChapChallenge.parse(data)
    if code == ChapCode.RESPONSE:
        return ChapResponse.parse(data)
    return ChapResult.parse(data)


def chap_md5_response(identifier: int, secret: bytes, challenge: bytes) -> bytes:
    """The MD5 Response Value: MD5(Identifier || secret || Challenge Value), RFC 1994 §4.1."""
    if not 0 <= identifier <= 0xFF:
        raise ValueError(f"CHAP identifier {identifier} is not an octet")
    digest = hashlib.md5(bytes((identifier,)))
    digest.update(secret)
    digest.update(challenge)
    return digest.digest()
