"""IPv4 headers (RFC 791), options and address text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import ChecksumError, DecodeError
from netstack.wire.checksum import verify
from netstack.wire.icmpv4 import Icmpv4Header
from netstack.wire.ipv4 import (
    IpProto,
    Ipv4Flags,
    Ipv4Header,
    ip_from_str,
    ip_to_str,
    parse_options,
)

IP_A = bytes((10, 99, 0, 1))
IP_B = bytes((10, 99, 0, 2))
LOCALHOST = bytes((127, 0, 0, 1))


def _pattern(first: int, count: int) -> bytes:
    """The data `ping` sends after its timestamp: bytes counting up from 0x10, wrapping."""
    return bytes((first + i) & 0xFF for i in range(count))


# UDP 10.99.0.1:41096 -> 10.99.0.2:7777, DF, ident 0x1d0b.
# Captured from the Linux kernel (veth in a netns).
UDP_DATAGRAM = bytes.fromhex(
    "4500002a1d0b4000401108f00a6300010a630002a0881e6100162d7868656c6c6f206e6574737461636b"
)

# ICMP echo reply 10.99.0.2 -> 10.99.0.1; the reply carries no DF.
# Captured from the Linux kernel (veth in a netns).
ECHO_REPLY = bytes.fromhex(
    "45000054a0ef00004001c4f10a6300020a630001"
    "000004d80e7a000107e9056b000000001886080000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
)

# `ping -R`: IHL 15 with NOP + Record Route (type 7, length 39, pointer 8, first slot
# filled with 10.99.0.1). Captured from the Linux kernel (veth in a netns).
RECORD_ROUTE_REQUEST = (
    bytes.fromhex("4f00007c461c40004001a3290a6300010a63000201 07 27 08 0a630001")
    + bytes(32)  # eight empty route slots
    + bytes.fromhex(
        "080082cb0e7b000107e9056b000000009291080000000000"
        "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
    )
)

# The reply to RECORD_ROUTE_REQUEST: Record Route with three slots filled, then EOL.
# Captured from the Linux kernel (veth in a netns).
RECORD_ROUTE_REPLY = (
    bytes.fromhex("4f00007ca0f00000400175820a6300020a63000107 27 10 0a630001 0a630002 0a630002")
    + bytes(25)  # six empty route slots and the EOL option
    + bytes.fromhex(
        "00008acb0e7b000107e9056b000000009291080000000000"
        "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
    )
)

# `ping -s 2000` over a 1500-byte MTU: the first fragment (MF, offset 0) and the last one
# (offset 1480) of ident 0x461d. Captured from the Linux kernel (veth in a netns); the
# ping data pattern is written as an expression rather than 2,000 hex digits.
FRAGMENT_FIRST = bytes.fromhex(
    "450005dc461d20004001fa3b0a6300010a6300020800fbaa0e7c000107e9056b00000000cc9b080000000000"
) + _pattern(0x10, 1456)
FRAGMENT_LAST = bytes.fromhex("45000224461d00b940011d3b0a6300010a630002") + _pattern(0xC0, 528)

# ICMP port unreachable from 127.0.0.1 to itself, TOS 0xc0 (precedence "internetwork
# control"), quoting a UDP datagram. Captured from the Linux kernel (lo in a netns).
PORT_UNREACHABLE = bytes.fromhex(
    "45c000462c37000040014fbe7f0000017f000001"
    "03037daa00000000"
    "4500002a370f4000401105b27f0000017f000001827100090016fe2968656c6c6f206e6574737461636b"
)

# `ping -t 7 -s 1`: TTL 7, a 9-byte ICMP message. Captured from the Linux kernel (lo in a
# netns).
TTL7_PING = bytes.fromhex("4500001d2c394000070149a57f0000017f000001 0800e9d50e29000100")

# Echo request to 224.0.0.1 with TTL 1 and ident 0 (DF set, so no ident is needed).
# Captured from the Linux kernel (veth in a netns).
MULTICAST_PING = bytes.fromhex(
    "450000540000400001018f440a630001e0000001"
    "080059f90e89000108e9056b00000000c155010000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
)

VECTORS = [
    UDP_DATAGRAM,
    ECHO_REPLY,
    RECORD_ROUTE_REQUEST,
    RECORD_ROUTE_REPLY,
    FRAGMENT_FIRST,
    FRAGMENT_LAST,
    PORT_UNREACHABLE,
    TTL7_PING,
    MULTICAST_PING,
]


def test_parse_udp_datagram() -> None:
    hdr, payload = Ipv4Header.parse(UDP_DATAGRAM)
    assert hdr.src == IP_A
    assert hdr.dst == IP_B
    assert hdr.proto == IpProto.UDP
    assert hdr.ttl == 64
    assert hdr.tos == 0
    assert hdr.ident == 0x1D0B
    assert hdr.flags == Ipv4Flags.DF
    assert hdr.dont_fragment and not hdr.more_fragments and not hdr.is_fragment
    assert hdr.frag_offset == 0
    assert hdr.options == b""
    assert hdr.header_len == 20
    assert hdr.total_length == 42
    assert hdr.checksum == 0x08F0
    assert bytes(payload) == UDP_DATAGRAM[20:]
    assert isinstance(payload, memoryview)


def test_parse_echo_reply_without_df() -> None:
    hdr, _ = Ipv4Header.parse(ECHO_REPLY)
    assert (hdr.src, hdr.dst, hdr.proto) == (IP_B, IP_A, IpProto.ICMP)
    assert hdr.flags == 0
    assert not hdr.dont_fragment
    assert hdr.ident == 0xA0EF


def test_parse_record_route_options() -> None:
    hdr, payload = Ipv4Header.parse(RECORD_ROUTE_REQUEST)
    assert hdr.header_len == 60
    assert len(hdr.options) == 40
    assert parse_options(hdr.options) == [(7, bytes.fromhex("08 0a630001") + bytes(32))]
    assert len(payload) == 64
    reply, _ = Ipv4Header.parse(RECORD_ROUTE_REPLY)
    ((kind, value),) = parse_options(reply.options)
    assert kind == 7
    pointer, route = value[0], value[1:]
    assert pointer == 16  # three 4-byte slots used (RFC 791 §3.1 "Record Route")
    assert route[:12] == IP_A + IP_B + IP_B


def test_parse_fragments() -> None:
    first, first_data = Ipv4Header.parse(FRAGMENT_FIRST)
    assert first.flags == Ipv4Flags.MF
    assert first.more_fragments and first.is_fragment
    assert first.frag_offset == 0
    last, last_data = Ipv4Header.parse(FRAGMENT_LAST)
    assert last.flags == 0
    assert last.is_fragment and not last.more_fragments
    assert last.frag_offset == 1480 == len(first_data)
    assert first.ident == last.ident == 0x461D
    # The reassembled datagram is a whole ICMP echo request with a valid checksum.
    message, data = Icmpv4Header.parse(bytes(first_data) + bytes(last_data))
    assert message.seq == 1
    assert len(data) == 2000


def test_parse_tos_and_ttl() -> None:
    hdr, _ = Ipv4Header.parse(PORT_UNREACHABLE)
    assert hdr.tos == 0xC0
    assert hdr.ttl == 64
    hdr, payload = Ipv4Header.parse(TTL7_PING)
    assert hdr.ttl == 7
    assert (hdr.src, hdr.dst) == (LOCALHOST, LOCALHOST)
    assert len(payload) == 9


@pytest.mark.parametrize("vector", VECTORS)
def test_every_vector_rebuilds_byte_exact(vector: bytes) -> None:
    hdr, payload = Ipv4Header.parse(vector)
    assert hdr.build(payload) == vector
    assert hdr.total_length == len(vector)


@pytest.mark.parametrize("vector", VECTORS)
def test_build_ignores_stale_length_and_checksum(vector: bytes) -> None:
    hdr, payload = Ipv4Header.parse(vector)
    hdr.total_length = 0
    hdr.checksum = 0x1234
    assert hdr.build(payload) == vector


def test_link_padding_is_dropped_from_payload() -> None:
    padded = UDP_DATAGRAM + bytes(4)  # a 60-byte Ethernet frame: 42 + 4 = 46 bytes of data
    hdr, payload = Ipv4Header.parse(padded)
    assert bytes(payload) == UDP_DATAGRAM[20:]
    assert hdr.total_length == 42


def test_accepts_bytearray_and_memoryview_slices() -> None:
    frame = bytes(14) + UDP_DATAGRAM
    for buf in (bytearray(UDP_DATAGRAM), memoryview(frame)[14:]):
        hdr, payload = Ipv4Header.parse(buf)
        assert hdr.proto == 17
        assert bytes(payload) == UDP_DATAGRAM[20:]


def test_bad_header_checksum_raises_checksum_error() -> None:
    for index in range(20):
        corrupted = bytearray(UDP_DATAGRAM)
        corrupted[index] ^= 0x01
        with pytest.raises(DecodeError):
            Ipv4Header.parse(corrupted)
    corrupted = bytearray(UDP_DATAGRAM)
    corrupted[8] = 1  # TTL: still a well-formed header, only the checksum is wrong
    with pytest.raises(ChecksumError):
        Ipv4Header.parse(corrupted)
    hdr, _ = Ipv4Header.parse(corrupted, verify_checksum=False)
    assert hdr.ttl == 1


def test_payload_corruption_is_not_the_ip_layers_business() -> None:
    corrupted = bytearray(UDP_DATAGRAM)
    corrupted[-1] ^= 0xFF
    Ipv4Header.parse(corrupted)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes.fromhex("6500002a1d0b4000401108f00a6300010a630002"), "version 6"),
        (bytes.fromhex("4400002a1d0b4000401108f00a6300010a630002"), "IHL 4"),
        (bytes.fromhex("4600002a1d0b4000401108f00a6300010a630002") + bytes(2), "IHL beyond data"),
        (bytes.fromhex("460000131d0b4000401108f00a6300010a63000200000000"), "total < IHL"),
        (bytes.fromhex("450000131d0b4000401108f00a6300010a630002"), "total < 20"),
        (UDP_DATAGRAM[:-1], "total beyond data"),
    ],
)
def test_malformed_headers_raise(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError):
        Ipv4Header.parse(data, verify_checksum=False)


@pytest.mark.parametrize("vector", VECTORS)
def test_every_truncation_raises(vector: bytes) -> None:
    for cut in range(len(vector)):
        with pytest.raises(DecodeError):
            Ipv4Header.parse(vector[:cut])


def test_build_computes_length_and_checksum() -> None:
    hdr = Ipv4Header(IP_A, IP_B, IpProto.UDP, ident=0x1D0B, flags=Ipv4Flags.DF)
    assert hdr.build(UDP_DATAGRAM[20:]) == UDP_DATAGRAM
    assert verify(hdr.build(b"")[:20])


def test_build_without_checksum_leaves_zero() -> None:
    hdr, payload = Ipv4Header.parse(UDP_DATAGRAM)
    data = hdr.build(payload, fill_checksum=False)
    assert data[10:12] == b"\x00\x00"
    assert data[:10] + data[12:] == UDP_DATAGRAM[:10] + UDP_DATAGRAM[12:]


def test_build_pads_options_with_end_of_list() -> None:
    router_alert = bytes.fromhex("94040000")  # RFC 2113, already 4 bytes
    hdr = Ipv4Header(IP_A, IP_B, IpProto.IGMP, ttl=1, options=router_alert)
    data = hdr.build(b"")
    assert data[0] == 0x46
    assert data[20:24] == router_alert
    odd = Ipv4Header(IP_A, IP_B, IpProto.UDP, options=bytes.fromhex("01 01 01"))
    assert odd.header_len == 24
    data = odd.build(b"x")
    assert data[0] == 0x46
    assert data[20:24] == bytes.fromhex("01010100")
    parsed, payload = Ipv4Header.parse(data)
    assert parsed.options == bytes.fromhex("01010100")
    assert bytes(payload) == b"x"


def test_build_rejects_impossible_headers() -> None:
    with pytest.raises(ValueError):
        Ipv4Header(IP_A, IP_B, 17, options=bytes(41)).build(b"")
    with pytest.raises(ValueError):
        Ipv4Header(IP_A, IP_B, 17, frag_offset=4).build(b"")
    with pytest.raises(ValueError):
        Ipv4Header(IP_A, IP_B, 17).build(bytes(65516))
    with pytest.raises(ValueError):
        Ipv4Header(IP_A, bytes(16), 17).build(b"")


def test_header_checksum_of_zero_is_sent_as_zero() -> None:
    # RFC 1071 arithmetic: when the sum is 0xFFFF the field is ~0xFFFF = 0 (Linux does so).
    # Pick the ident that makes the header's sum 0xFFFF.
    base = Ipv4Header(IP_A, IP_B, 17, ident=0).build(b"", fill_checksum=False)
    words = int.from_bytes(base) % 0xFFFF
    ident = 0xFFFF - words
    data = Ipv4Header(IP_A, IP_B, 17, ident=ident).build(b"")
    assert data[10:12] == b"\x00\x00"
    assert Ipv4Header.parse(data)[0].ident == ident


def test_parse_options_walks_nop_and_stops_at_eol() -> None:
    options = bytes.fromhex("01 01 8204 abcd 00 44 ff")  # NOP NOP Security(len 4) EOL junk
    assert parse_options(options) == [(0x82, bytes.fromhex("abcd"))]
    assert parse_options(b"") == []
    assert parse_options(bytes(4)) == []
    assert parse_options(bytes.fromhex("9404 0000")) == [(0x94, b"\x00\x00")]


@pytest.mark.parametrize(
    "options",
    [
        bytes.fromhex("07"),  # no length byte
        bytes.fromhex("0701"),  # length below 2
        bytes.fromhex("0700"),  # length 0
        bytes.fromhex("070a 0000"),  # runs past the end
        bytes.fromhex("01 01 44"),  # timestamp option cut before its length
    ],
)
def test_parse_options_rejects_bad_lengths(options: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_options(options)


def test_ip_text() -> None:
    assert ip_to_str(IP_A) == "10.99.0.1"
    assert ip_to_str(bytes((255, 255, 255, 255))) == "255.255.255.255"
    assert ip_from_str("10.99.0.2") == IP_B
    assert ip_from_str("0.0.0.0") == bytes(4)


@pytest.mark.parametrize(
    "text", ["", "10.99.0", "10.99.0.256", "10.99.0.1.2", "a.b.c.d", "10.99.0.-1", "::1"]
)
def test_ip_from_str_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError):
        ip_from_str(text)


def test_ip_to_str_rejects_bad_length() -> None:
    with pytest.raises(ValueError):
        ip_to_str(bytes(16))


def test_codes() -> None:
    assert {p.name: p.value for p in IpProto} == {
        "HOPOPT": 0,
        "ICMP": 1,
        "IGMP": 2,
        "TCP": 6,
        "UDP": 17,
        "IPV6": 41,
        "ROUTING": 43,
        "FRAGMENT": 44,
        "ESP": 50,
        "AH": 51,
        "ICMPV6": 58,
        "NONE": 59,
        "DSTOPTS": 60,
    }
    assert (Ipv4Flags.MF.value, Ipv4Flags.DF.value) == (1, 2)


addresses = st.binary(min_size=4, max_size=4)


@settings(max_examples=200)
@given(
    src=addresses,
    dst=addresses,
    proto=st.integers(0, 255),
    ttl=st.integers(0, 255),
    tos=st.integers(0, 255),
    ident=st.integers(0, 0xFFFF),
    flags=st.integers(0, 7),
    frag_units=st.integers(0, 0x1FFF),
    option_words=st.integers(0, 10),
    option_byte=st.integers(0, 255),
    payload=st.binary(max_size=80),
)
def test_build_then_parse_round_trips(
    src: bytes,
    dst: bytes,
    proto: int,
    ttl: int,
    tos: int,
    ident: int,
    flags: int,
    frag_units: int,
    option_words: int,
    option_byte: int,
    payload: bytes,
) -> None:
    options = bytes((option_byte,)) * (4 * option_words)
    hdr = Ipv4Header(src, dst, proto, ttl, tos, ident, flags, frag_units * 8, options)
    data = hdr.build(payload)
    parsed, parsed_payload = Ipv4Header.parse(data)
    assert parsed.total_length == len(data) == hdr.header_len + len(payload)
    assert verify(data[: parsed.header_len])
    hdr.total_length = parsed.total_length
    hdr.checksum = parsed.checksum
    assert parsed == hdr
    assert bytes(parsed_payload) == payload


@settings(max_examples=300)
@given(st.binary(max_size=80), st.booleans())
def test_arbitrary_bytes_raise_only_decode_error(data: bytes, verify_checksum: bool) -> None:
    try:
        hdr, payload = Ipv4Header.parse(data, verify_checksum=verify_checksum)
    except DecodeError:
        return
    assert len(payload) == hdr.total_length - hdr.header_len


@settings(max_examples=300)
@given(
    st.sampled_from(VECTORS),
    st.lists(st.tuples(st.integers(0, 59), st.integers(0, 255)), max_size=4),
    st.integers(0, 2000),
)
def test_mutated_vectors_raise_only_decode_error(
    vector: bytes, edits: list[tuple[int, int]], keep: int
) -> None:
    data = bytearray(vector[: max(keep, 1)])
    for index, value in edits:
        if index < len(data):
            data[index] = value
    for verify_checksum in (True, False):
        try:
            hdr, payload = Ipv4Header.parse(data, verify_checksum=verify_checksum)
        except DecodeError:
            continue
        assert len(payload) == hdr.total_length - hdr.header_len


@settings(max_examples=300)
@given(st.binary(max_size=44))
def test_parse_options_raises_only_decode_error(options: bytes) -> None:
    try:
        parsed = parse_options(options)
    except DecodeError:
        return
    assert sum(2 + len(value) for _, value in parsed) <= len(options)


@given(st.text(max_size=20))
def test_ip_from_str_raises_only_value_error(text: str) -> None:
    try:
        ip = ip_from_str(text)
    except ValueError:
        return
    assert ip_to_str(ip) == text
