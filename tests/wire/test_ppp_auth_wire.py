"""PPP authentication packets: PAP (RFC 1334 §2.2) and CHAP (RFC 1994 §4), and CHAP-MD5."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers import ppp

from netstack.wire import DecodeError
from netstack.wire.ppp import PppProtocol
from netstack.wire.ppp_auth import (
    CHAP_MD5,
    ChapChallenge,
    ChapCode,
    ChapResponse,
    ChapResult,
    PapCode,
    PapReply,
    PapRequest,
    chap_md5_response,
    parse_chap,
    parse_pap,
)

# PAP Authenticate-Request, identifier 7, Peer-ID "bob", password "hunter2" (RFC 1334
# §2.2.1), built by hand octet by octet.
PAP_REQUEST = bytes.fromhex(
    "01 07 0010"  # code 1, identifier 7, length 16
    "03 626f62"  # Peer-ID Length 3, "bob"
    "07 68756e74657232"  # Passwd-Length 7, "hunter2"
)
# Authenticate-Ack for it, Message "Login ok" (RFC 1334 §2.2.2).
PAP_ACK = bytes.fromhex("02 07 000d 08 4c6f67696e206f6b")
# Authenticate-Nak, identifier 9, empty Message.
PAP_NAK_EMPTY = bytes.fromhex("03 09 0005 00")

# CHAP Challenge, identifier 0x2a, 16-octet value 00..0f, Name "nas" (RFC 1994 §4.1).
CHALLENGE_VALUE = bytes(range(16))
CHAP_CHALLENGE = bytes.fromhex(
    "01 2a 0018"  # code 1, identifier 42, length 24
    "10 000102030405060708090a0b0c0d0e0f"  # Value-Size 16, Value
    "6e6173"  # Name "nas"
)
# The MD5 Response Value for that challenge with the secret "S3cr3t", derived by hand from
# the RFC 1994 §4.1 formula MD5(Identifier || secret || Challenge) outside Python:
#   printf '\x2aS3cr3t\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f' | md5sum
# (GNU coreutils; `openssl dgst -md5` over the same octets agrees).
CHAP_MD5_VALUE = bytes.fromhex("50badd79e700ee5181c4f306eee8794c")
# The Response carrying it, Name "bob".
CHAP_RESPONSE = bytes.fromhex("02 2a 0018 10 50badd79e700ee5181c4f306eee8794c 626f62")
# Success with Message "Access granted"; Failure with no Message (RFC 1994 §4.2).
CHAP_SUCCESS = bytes.fromhex("03 2a 0012") + b"Access granted"
CHAP_FAILURE_EMPTY = bytes.fromhex("04 2a 0004")

ids = st.integers(0, 255)
short = st.binary(max_size=255)
values = st.binary(min_size=1, max_size=255)
VECTORS = [PAP_REQUEST, PAP_ACK, PAP_NAK_EMPTY, CHAP_CHALLENGE, CHAP_RESPONSE, CHAP_SUCCESS]


def test_protocol_numbers_and_algorithm() -> None:
    assert int(PppProtocol.PAP) == 0xC023  # RFC 1334 §2.1
    assert int(PppProtocol.CHAP) == 0xC223  # RFC 1994 §3
    assert CHAP_MD5 == 5  # RFC 1994 §3


# --- PAP ---


def test_pap_request_vector() -> None:
    record = PapRequest.parse(PAP_REQUEST)
    assert record == PapRequest(7, b"bob", b"hunter2")
    assert record.build() == PAP_REQUEST
    assert parse_pap(PAP_REQUEST) == record


def test_pap_ack_and_nak_vectors() -> None:
    ack = PapReply.parse(PAP_ACK)
    assert ack == PapReply(PapCode.AUTHENTICATE_ACK, 7, b"Login ok")
    assert ack.ack
    assert ack.build() == PAP_ACK
    nak = parse_pap(PAP_NAK_EMPTY)
    assert nak == PapReply(PapCode.AUTHENTICATE_NAK, 9, b"")
    assert isinstance(nak, PapReply) and not nak.ack
    assert nak.build() == PAP_NAK_EMPTY


def test_pap_matches_scapy_encoding() -> None:
    """An independent encoder (scapy's PPP_PAP layers) builds the same octets."""
    request = ppp.PPP_PAP_Request(id=7, username=b"bob", password=b"hunter2")
    assert bytes(request) == PAP_REQUEST
    ack = ppp.PPP_PAP_Response(code=2, id=7, message=b"Login ok")
    assert bytes(ack) == PAP_ACK


def test_pap_padding_beyond_length_ignored() -> None:
    # RFC 1334 §2.2: octets outside the Length field are Data Link Layer padding.
    assert PapRequest.parse(PAP_REQUEST + b"\0\0\0") == PapRequest(7, b"bob", b"hunter2")
    assert PapReply.parse(PAP_ACK + b"\xff").message == b"Login ok"


def test_pap_ack_without_msg_length_reads_as_empty_message() -> None:
    # Some peers send Length 4 and no Msg-Length octet; accepted as an empty message.
    assert PapReply.parse(bytes.fromhex("02 05 0004")) == PapReply(PapCode.AUTHENTICATE_ACK, 5)


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(bytes.fromhex("01 07 0004"), id="request without Peer-ID Length"),
        pytest.param(bytes.fromhex("01 07 0008 03 626f62"), id="request without Passwd-Length"),
        pytest.param(bytes.fromhex("01 07 0008 04 626f62"), id="Peer-ID past Length"),
        pytest.param(bytes.fromhex("01 07 000a 03 626f62 02 61"), id="password past Length"),
        pytest.param(bytes.fromhex("01 07 000a 01 61 01 62 ff ff"), id="request extra octets"),
        pytest.param(bytes.fromhex("01 07 0010 03 626f62"), id="Length past the data"),
        pytest.param(bytes.fromhex("02 07 0006 02 61"), id="message past Length"),
        pytest.param(bytes.fromhex("03 07 0007 01 61 62"), id="reply extra octets"),
        pytest.param(bytes.fromhex("04 07 0005 00"), id="unknown code"),
        pytest.param(bytes.fromhex("01 07 0003"), id="Length below 4"),
        pytest.param(b"", id="empty"),
    ],
)
def test_bad_pap_packets_rejected(packet: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_pap(packet)


def test_pap_parsers_reject_the_other_kind() -> None:
    with pytest.raises(DecodeError):
        PapRequest.parse(PAP_ACK)
    with pytest.raises(DecodeError):
        PapReply.parse(PAP_REQUEST)


def test_pap_build_rejects_oversize_fields() -> None:
    with pytest.raises(ValueError):
        PapRequest(1, b"x" * 256, b"").build()
    with pytest.raises(ValueError):
        PapRequest(1, b"", b"x" * 256).build()
    with pytest.raises(ValueError):
        PapReply(PapCode.AUTHENTICATE_ACK, 1, b"x" * 256).build()
    with pytest.raises(ValueError):
        PapReply(PapCode.AUTHENTICATE_REQUEST, 1).build()
    with pytest.raises(ValueError):
        PapRequest(256, b"", b"").build()


@given(ids, short, short)
def test_pap_request_round_trip(identifier: int, peer_id: bytes, password: bytes) -> None:
    record = PapRequest(identifier, peer_id, password)
    data = record.build()
    assert len(data) == 6 + len(peer_id) + len(password)
    assert parse_pap(data) == record


@given(st.sampled_from([PapCode.AUTHENTICATE_ACK, PapCode.AUTHENTICATE_NAK]), ids, short)
def test_pap_reply_round_trip(code: PapCode, identifier: int, message: bytes) -> None:
    record = PapReply(code, identifier, message)
    assert parse_pap(record.build()) == record


# --- CHAP ---


def test_chap_challenge_vector() -> None:
    record = ChapChallenge.parse(CHAP_CHALLENGE)
    assert record == ChapChallenge(0x2A, CHALLENGE_VALUE, b"nas")
    assert record.build() == CHAP_CHALLENGE
    assert parse_chap(CHAP_CHALLENGE) == record


def test_chap_response_vector() -> None:
    record = ChapResponse.parse(CHAP_RESPONSE)
    assert record == ChapResponse(0x2A, CHAP_MD5_VALUE, b"bob")
    assert record.build() == CHAP_RESPONSE
    assert parse_chap(CHAP_RESPONSE) == record


def test_chap_success_and_failure_vectors() -> None:
    success = parse_chap(CHAP_SUCCESS)
    assert success == ChapResult(ChapCode.SUCCESS, 0x2A, b"Access granted")
    assert isinstance(success, ChapResult) and success.success
    assert success.build() == CHAP_SUCCESS
    failure = ChapResult.parse(CHAP_FAILURE_EMPTY)
    assert failure == ChapResult(ChapCode.FAILURE, 0x2A)
    assert not failure.success
    assert failure.build() == CHAP_FAILURE_EMPTY


def test_chap_matches_scapy_encoding() -> None:
    """An independent encoder (scapy's PPP_CHAP layers) builds the same octets."""
    challenge = ppp.PPP_CHAP_ChallengeResponse(
        code=1, id=0x2A, value=CHALLENGE_VALUE, optional_name=b"nas"
    )
    assert bytes(challenge) == CHAP_CHALLENGE
    response = ppp.PPP_CHAP_ChallengeResponse(
        code=2, id=0x2A, value=CHAP_MD5_VALUE, optional_name=b"bob"
    )
    assert bytes(response) == CHAP_RESPONSE
    assert bytes(ppp.PPP_CHAP(code=3, id=0x2A, data=b"Access granted")) == CHAP_SUCCESS


def test_chap_padding_beyond_length_ignored() -> None:
    assert ChapChallenge.parse(CHAP_CHALLENGE + b"pad").name == b"nas"
    assert ChapResult.parse(CHAP_FAILURE_EMPTY + b"pad").message == b""


def test_chap_empty_name_accepted() -> None:
    # RFC 1994 §4.1 says one or more octets; an empty Name is tolerated on receipt.
    record = ChapChallenge(1, b"v")
    assert ChapChallenge.parse(record.build()) == record


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(bytes.fromhex("01 01 0004"), id="challenge without Value-Size"),
        pytest.param(bytes.fromhex("01 01 0005 00"), id="zero Value-Size"),
        pytest.param(bytes.fromhex("02 01 0006 02 61"), id="value past Length"),
        pytest.param(bytes.fromhex("01 01 0009 04 61"), id="Length past the data"),
        pytest.param(bytes.fromhex("05 01 0004"), id="unknown code"),
        pytest.param(bytes.fromhex("00 01 0004"), id="code 0"),
        pytest.param(bytes.fromhex("03 01 0002"), id="Length below 4"),
        pytest.param(bytes.fromhex("03 01 00"), id="header truncated"),
        pytest.param(b"", id="empty"),
    ],
)
def test_bad_chap_packets_rejected(packet: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_chap(packet)


def test_chap_parsers_reject_the_other_kinds() -> None:
    with pytest.raises(DecodeError):
        ChapChallenge.parse(CHAP_RESPONSE)
    with pytest.raises(DecodeError):
        ChapResponse.parse(CHAP_CHALLENGE)
    with pytest.raises(DecodeError):
        ChapResult.parse(CHAP_CHALLENGE)


def test_chap_build_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        ChapChallenge(1, b"").build()
    with pytest.raises(ValueError):
        ChapResponse(1, b"x" * 256).build()
    with pytest.raises(ValueError):
        ChapResult(ChapCode.CHALLENGE, 1).build()
    with pytest.raises(ValueError):
        ChapResult(ChapCode.SUCCESS, 1, b"x" * 0xFFFC).build()


@given(
    st.sampled_from([ChapChallenge, ChapResponse]), ids, st.binary(min_size=1, max_size=255), short
)
def test_chap_value_name_round_trip(
    kind: type[ChapChallenge] | type[ChapResponse], identifier: int, value: bytes, name: bytes
) -> None:
    record = kind(identifier, value, name)
    data = record.build()
    assert data[0] == kind.code
    assert parse_chap(data) == record


@given(st.sampled_from([ChapCode.SUCCESS, ChapCode.FAILURE]), ids, st.binary(max_size=300))
def test_chap_result_round_trip(code: ChapCode, identifier: int, message: bytes) -> None:
    record = ChapResult(code, identifier, message)
    assert parse_chap(record.build()) == record


# --- CHAP-MD5 ---


def test_chap_md5_fixed_vector() -> None:
    assert chap_md5_response(0x2A, b"S3cr3t", CHALLENGE_VALUE) == CHAP_MD5_VALUE


def test_chap_md5_second_fixed_vector() -> None:
    # Identifier 1, secret "secret", challenge "challenge": md5sum over the octets
    # 01 "secret" "challenge" (printf '\x01secretchallenge' | md5sum).
    expected = bytes.fromhex("46e47770030e2b4e26a0db72a7efec00")
    assert chap_md5_response(1, b"secret", b"challenge") == expected


@given(ids, st.binary(max_size=64), st.binary(min_size=1, max_size=64))
def test_chap_md5_is_the_rfc_formula(identifier: int, secret: bytes, challenge: bytes) -> None:
    # RFC 1994 §4.1: the hash over Identifier, then the secret, then the Challenge Value.
    expected = hashlib.md5(bytes([identifier]) + secret + challenge).digest()
    assert chap_md5_response(identifier, secret, challenge) == expected


def test_chap_md5_depends_on_every_input() -> None:
    base = chap_md5_response(1, b"secret", b"challenge")
    assert len(base) == 16
    assert chap_md5_response(2, b"secret", b"challenge") != base
    assert chap_md5_response(1, b"secreT", b"challenge") != base
    assert chap_md5_response(1, b"secret", b"challengE") != base


def test_chap_md5_rejects_non_octet_identifier() -> None:
    with pytest.raises(ValueError):
        chap_md5_response(256, b"", b"x")


# --- robustness ---


@pytest.mark.parametrize("vector", VECTORS)
def test_every_truncation_raises_decode_error(vector: bytes) -> None:
    parse = parse_pap if vector in (PAP_REQUEST, PAP_ACK, PAP_NAK_EMPTY) else parse_chap
    for cut in range(len(vector)):
        with pytest.raises(DecodeError):
            parse(vector[:cut])


@given(st.binary(max_size=80))
def test_parsers_raise_only_decode_error(data: bytes) -> None:
    for parse in (
        parse_pap,
        parse_chap,
        PapRequest.parse,
        PapReply.parse,
        ChapChallenge.parse,
        ChapResponse.parse,
        ChapResult.parse,
    ):
        with contextlib.suppress(DecodeError):
            parse(data)
        with contextlib.suppress(DecodeError):
            parse(memoryview(data))


@given(st.sampled_from(VECTORS), st.integers(0, 200), st.integers(0, 255))
def test_mutated_vectors_raise_only_decode_error(vector: bytes, where: int, octet: int) -> None:
    mutated = bytearray(vector)
    mutated[where % len(mutated)] = octet
    for parse in (parse_pap, parse_chap):
        with contextlib.suppress(DecodeError):
            parse(mutated)
