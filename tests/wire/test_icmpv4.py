"""ICMP for IPv4 (RFC 792, RFC 1191, RFC 1812)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import ChecksumError, DecodeError
from netstack.wire.checksum import internet_checksum, verify
from netstack.wire.icmpv4 import (
    Icmpv4Header,
    Icmpv4Type,
    TimeExceededCode,
    UnreachableCode,
    error_quote,
)

# ICMP messages (IPv4 payloads) of `ping`: identifier 0x0e7a, sequence 1, a 16-byte
# timestamp, then bytes 0x10..0x37. Captured from the Linux kernel (veth in a netns).
ECHO_REQUEST = bytes.fromhex(
    "0800fcd70e7a0001 07e9056b000000001886080000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
)
ECHO_REPLY = bytes.fromhex(
    "000004d80e7a0001 07e9056b000000001886080000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
)

# `ping -p 6e657473746163` (fill pattern "netstac"). Captured from the Linux kernel (lo in a
# netns).
PATTERN_ECHO_REQUEST = bytes.fromhex(
    "0800e3990e220001 f2e8056b000000009a75030000000000"
    "74737461636e6574737461636e6574737461636e6574737461636e6574737461636e657473746163"
)

# `ping -s 1`: a 9-byte message, so the checksum pads an odd length. Captured from the
# Linux kernel (lo in a netns).
SHORT_ECHO_REQUEST = bytes.fromhex("0800e9d50e290001 00")
SHORT_ECHO_REPLY = bytes.fromhex("0000f1d50e290001 00")

# The UDP datagram 127.0.0.1:33393 -> 127.0.0.1:9 ("hello netstack") that drew
# PORT_UNREACHABLE; its UDP checksum field holds a CHECKSUM_PARTIAL seed.
# Captured from the Linux kernel (lo in a netns).
OFFENDING_DATAGRAM = bytes.fromhex(
    "4500002a370f4000401105b27f0000017f000001827100090016fe2968656c6c6f206e6574737461636b"
)
PORT_UNREACHABLE = bytes.fromhex("03037daa00000000") + OFFENDING_DATAGRAM

# Port unreachable quoting a 31-byte datagram: an odd-length ICMP message.
# Captured from the Linux kernel (lo in a netns).
PORT_UNREACHABLE_ODD = bytes.fromhex(
    "0303573400000000 4500001fd0e1400040116bea7f0000017f000001bf5014e9000bfe1e6f6464"
)

# Fragmentation needed, next-hop MTU 1400 (RFC 1191 §4: unused 16 bits, then the MTU),
# quoting an IP header plus 8 bytes (RFC 792). Constructed from the RFCs; the checksum is
# cross-checked against the reference implementation below.
FRAGMENTATION_NEEDED = bytes.fromhex(
    "03040b0c00000578 4500002a1d0b4000401108f00a6300010a630002a0881e6100162d78"
)

# Time exceeded in transit (RFC 792), same quote. Constructed from the RFC.
TIME_EXCEEDED = bytes.fromhex(
    "0b00088800000000 4500002a1d0b4000401108f00a6300010a630002a0881e6100162d78"
)

VECTORS = [
    ECHO_REQUEST,
    ECHO_REPLY,
    PATTERN_ECHO_REQUEST,
    SHORT_ECHO_REQUEST,
    SHORT_ECHO_REPLY,
    PORT_UNREACHABLE,
    PORT_UNREACHABLE_ODD,
    FRAGMENTATION_NEEDED,
    TIME_EXCEEDED,
]


def test_parse_echo_request() -> None:
    hdr, payload = Icmpv4Header.parse(ECHO_REQUEST)
    assert hdr.type == Icmpv4Type.ECHO_REQUEST
    assert hdr.code == 0
    assert hdr.checksum == 0xFCD7
    assert hdr.rest == 0x0E7A0001
    assert (hdr.ident, hdr.seq) == (0x0E7A, 1)
    assert isinstance(payload, memoryview)
    assert bytes(payload) == ECHO_REQUEST[8:]


def test_echo_constructor_matches_captured_messages() -> None:
    request, data = Icmpv4Header.parse(ECHO_REQUEST)
    assert Icmpv4Header.echo(0x0E7A, 1).build(data) == ECHO_REQUEST
    assert Icmpv4Header.echo(0x0E7A, 1, reply=True).build(data) == ECHO_REPLY
    reply, _ = Icmpv4Header.parse(ECHO_REPLY)
    assert reply.type == Icmpv4Type.ECHO_REPLY
    assert (reply.ident, reply.seq) == (request.ident, request.seq)


def test_parse_port_unreachable_quotes_the_datagram() -> None:
    hdr, payload = Icmpv4Header.parse(PORT_UNREACHABLE)
    assert hdr.type == Icmpv4Type.DEST_UNREACHABLE
    assert hdr.code == UnreachableCode.PORT
    assert hdr.rest == 0
    assert bytes(payload) == OFFENDING_DATAGRAM
    # Linux quotes the whole datagram when it fits, as error_quote does.
    assert error_quote(OFFENDING_DATAGRAM) == OFFENDING_DATAGRAM


def test_parse_fragmentation_needed_mtu() -> None:
    hdr, _ = Icmpv4Header.parse(FRAGMENTATION_NEEDED)
    assert hdr.code == UnreachableCode.FRAGMENTATION_NEEDED
    assert hdr.next_hop_mtu == 1400
    assert internet_checksum(FRAGMENTATION_NEEDED[:2] + b"\0\0" + FRAGMENTATION_NEEDED[4:]) == (
        hdr.checksum
    )


def test_parse_time_exceeded() -> None:
    hdr, payload = Icmpv4Header.parse(TIME_EXCEEDED)
    assert hdr.type == Icmpv4Type.TIME_EXCEEDED
    assert hdr.code == TimeExceededCode.TTL
    assert len(payload) == 28
    assert verify(TIME_EXCEEDED)


@pytest.mark.parametrize("vector", VECTORS)
def test_every_vector_rebuilds_byte_exact(vector: bytes) -> None:
    hdr, payload = Icmpv4Header.parse(vector)
    assert hdr.build(payload) == vector
    hdr.checksum = 0x1234  # build ignores the parsed value
    assert hdr.build(payload) == vector


@pytest.mark.parametrize("vector", VECTORS)
def test_any_corrupted_byte_raises_checksum_error(vector: bytes) -> None:
    for index in range(len(vector)):
        corrupted = bytearray(vector)
        corrupted[index] ^= 0x20
        with pytest.raises(ChecksumError):
            Icmpv4Header.parse(corrupted)
        hdr, _ = Icmpv4Header.parse(corrupted, verify_checksum=False)
        assert hdr.checksum == int.from_bytes(corrupted[2:4])


def test_build_without_checksum_leaves_zero() -> None:
    data = Icmpv4Header.echo(1, 2).build(b"abc", fill_checksum=False)
    assert data == bytes.fromhex("08000000 00010002") + b"abc"


def test_all_zero_message_gets_checksum_ffff() -> None:
    # The sum of an all-zero message is +0, so the field is ~0 = 0xFFFF (RFC 1071).
    data = Icmpv4Header(Icmpv4Type.ECHO_REPLY).build(bytes(4))
    assert data == bytes.fromhex("0000ffff00000000 00000000")
    assert Icmpv4Header.parse(data)[0].checksum == 0xFFFF
    with pytest.raises(ChecksumError):
        Icmpv4Header.parse(bytes(12))


def test_accepts_bytearray_and_memoryview_slices() -> None:
    packet = bytes(20) + ECHO_REQUEST
    for buf in (bytearray(ECHO_REQUEST), memoryview(packet)[20:]):
        hdr, payload = Icmpv4Header.parse(buf)
        assert hdr.seq == 1
        assert bytes(payload) == ECHO_REQUEST[8:]


@pytest.mark.parametrize("vector", VECTORS)
def test_every_truncation_raises_unless_the_checksum_still_holds(vector: bytes) -> None:
    # ICMP has no length field: a truncated message is caught by its checksum alone, so a
    # prefix is valid exactly when it still sums to 0xFFFF (e.g. dropping a trailing zero
    # byte, which the odd-length padding puts back).
    for cut in range(8):
        with pytest.raises(DecodeError):
            Icmpv4Header.parse(vector[:cut])
    for cut in range(8, len(vector)):
        prefix = vector[:cut]
        if verify(prefix):
            Icmpv4Header.parse(prefix)
        else:
            with pytest.raises(ChecksumError):
                Icmpv4Header.parse(prefix)


def test_short_echo_without_its_zero_byte_is_still_valid() -> None:
    hdr, payload = Icmpv4Header.parse(SHORT_ECHO_REQUEST[:8])
    assert hdr.seq == 1 and len(payload) == 0


def test_error_quote_limits_to_548_bytes() -> None:
    big = bytes.fromhex("450005dc461d20004001fa3b0a6300010a630002") + bytes(1480)
    quote = error_quote(big)
    assert len(quote) == 548  # 576 - 20 (IP header) - 8 (ICMP header), RFC 1812 §4.3.2.3
    assert quote == big[:548]
    assert error_quote(big, limit=28) == big[:28]


def test_error_quote_drops_link_padding() -> None:
    padded = OFFENDING_DATAGRAM + bytes(4)
    assert error_quote(padded) == OFFENDING_DATAGRAM
    assert error_quote(memoryview(padded)) == OFFENDING_DATAGRAM


def test_error_quote_of_garbage_just_truncates() -> None:
    assert error_quote(b"\x60" + bytes(999)) == b"\x60" + bytes(547)
    assert error_quote(b"\x45") == b"\x45"
    assert error_quote(b"") == b""


def test_codes() -> None:
    assert [t.value for t in Icmpv4Type] == [0, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14]
    assert [code.value for code in UnreachableCode] == list(range(16))
    assert UnreachableCode(4).name == "FRAGMENTATION_NEEDED"
    assert UnreachableCode(13).name == "ADMIN_PROHIBITED"
    assert [code.value for code in TimeExceededCode] == [0, 1]


@settings(max_examples=200)
@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=600),
)
def test_build_then_parse_round_trips(icmp_type: int, code: int, rest: int, payload: bytes) -> None:
    hdr = Icmpv4Header(icmp_type, code, rest)
    data = hdr.build(payload)
    assert verify(data)
    assert int.from_bytes(data[2:4]) == internet_checksum(data[:2] + b"\0\0" + data[4:])
    parsed, parsed_payload = Icmpv4Header.parse(data)
    hdr.checksum = parsed.checksum
    assert parsed == hdr
    assert bytes(parsed_payload) == payload


@settings(max_examples=200)
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.booleans())
def test_echo_fields_round_trip(ident: int, seq: int, reply: bool) -> None:
    parsed, _ = Icmpv4Header.parse(Icmpv4Header.echo(ident, seq, reply=reply).build(b""))
    assert (parsed.ident, parsed.seq) == (ident, seq)
    assert parsed.type == (Icmpv4Type.ECHO_REPLY if reply else Icmpv4Type.ECHO_REQUEST)


@settings(max_examples=300)
@given(st.binary(max_size=64), st.booleans())
def test_arbitrary_bytes_raise_only_decode_error(data: bytes, verify_checksum: bool) -> None:
    try:
        hdr, payload = Icmpv4Header.parse(data, verify_checksum=verify_checksum)
    except DecodeError:
        return
    assert hdr.build(payload, fill_checksum=False)[4:] == data[4:]


@settings(max_examples=200)
@given(st.binary(max_size=700), st.integers(0, 700))
def test_error_quote_never_exceeds_limit(data: bytes, limit: int) -> None:
    quote = error_quote(data, limit)
    assert len(quote) <= limit
    assert data.startswith(quote)
