"""UDP (RFC 768) and its checksum over the IPv4 and IPv6 pseudo-headers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import ChecksumError, DecodeError
from netstack.wire.checksum import internet_checksum, pseudo_header_sum
from netstack.wire.udp import UdpHeader

IP_A = bytes((10, 99, 0, 1))
IP_B = bytes((10, 99, 0, 2))
LOCALHOST = bytes((127, 0, 0, 1))
IP6_A = bytes.fromhex("fd000000000000000000000000000001")
IP6_B = bytes.fromhex("fd000000000000000000000000000002")

# 10.99.0.1:41096 -> 10.99.0.2:7777, "hello netstack".
# Captured from the Linux kernel (veth in a netns, TX checksum offload off).
HELLO = bytes.fromhex("a0881e6100162d78 68656c6c6f206e6574737461636b")

# 10.99.0.1:40000 -> 10.99.0.2:7777, "odd": an odd length, padded for the checksum.
# Captured from the Linux kernel (veth in a netns, TX checksum offload off).
ODD = bytes.fromhex("9c401e61000b5d09 6f6464")

# 10.99.0.1:40001 -> 10.99.0.2:7777, "no checksum", sent with SO_NO_CHECK: checksum 0.
# Captured from the Linux kernel (veth in a netns).
NO_CHECKSUM = bytes.fromhex("9c411e6100130000 6e6f20636865636b73756d")

# [fd00::1]:40000 -> [fd00::2]:7777, "hello netstack" over IPv6.
# Captured from the Linux kernel (veth in a netns, TX checksum offload off).
HELLO6 = bytes.fromhex("9c401e6100164c84 68656c6c6f206e6574737461636b")

# 127.0.0.1:33393 -> 127.0.0.1:9 as seen on loopback, where the kernel leaves checksums to
# "offload" (CHECKSUM_PARTIAL): the field holds the folded pseudo-header sum 0xfe29.
# Captured from the Linux kernel (lo in a netns).
PARTIAL = bytes.fromhex("827100090016fe29 68656c6c6f206e6574737461636b")
PARTIAL_ODD = bytes.fromhex("bf5014e9000bfe1e 6f6464")  # 127.0.0.1:48976 -> :5353, "odd"

# (datagram, source, destination) for the vectors with a complete checksum.
CHECKED = [
    (HELLO, IP_A, IP_B),
    (ODD, IP_A, IP_B),
    (NO_CHECKSUM, IP_A, IP_B),
    (HELLO6, IP6_A, IP6_B),
]
VECTORS = [HELLO, ODD, NO_CHECKSUM, HELLO6, PARTIAL, PARTIAL_ODD]


def test_parse_hello() -> None:
    hdr, payload = UdpHeader.parse(HELLO, src=IP_A, dst=IP_B)
    assert hdr == UdpHeader(41096, 7777, 22, 0x2D78)
    assert isinstance(payload, memoryview)
    assert bytes(payload) == b"hello netstack"


@pytest.mark.parametrize(("datagram", "src", "dst"), CHECKED)
def test_captured_checksums_verify_and_rebuild(datagram: bytes, src: bytes, dst: bytes) -> None:
    hdr, payload = UdpHeader.parse(datagram, src=src, dst=dst)
    assert hdr.length == len(datagram)
    if hdr.checksum:
        assert UdpHeader(hdr.src_port, hdr.dst_port).build(payload, src=src, dst=dst) == datagram


def test_odd_length_payload() -> None:
    hdr, payload = UdpHeader.parse(ODD, src=IP_A, dst=IP_B)
    assert (hdr.src_port, hdr.dst_port, hdr.length) == (40000, 7777, 11)
    assert bytes(payload) == b"odd"


def test_zero_checksum_means_none_over_ipv4() -> None:
    hdr, payload = UdpHeader.parse(NO_CHECKSUM, src=IP_A, dst=IP_B)
    assert hdr.checksum == 0
    assert bytes(payload) == b"no checksum"


def test_zero_checksum_is_an_error_over_ipv6() -> None:
    # RFC 8200 §8.1: IPv6 receivers discard UDP packets with a zero checksum.
    with pytest.raises(ChecksumError):
        UdpHeader.parse(NO_CHECKSUM, src=IP6_A, dst=IP6_B)


def test_ipv6_pseudo_header() -> None:
    hdr, payload = UdpHeader.parse(HELLO6, src=IP6_A, dst=IP6_B)
    assert (hdr.src_port, hdr.dst_port, hdr.checksum) == (40000, 7777, 0x4C84)
    assert bytes(payload) == b"hello netstack"
    with pytest.raises(ChecksumError):
        UdpHeader.parse(HELLO6, src=IP6_A, dst=IP6_A)


def test_partial_checksum_for_offload_matches_linux() -> None:
    for datagram in (PARTIAL, PARTIAL_ODD):
        hdr, payload = UdpHeader.parse(datagram)  # no addresses: no verification
        built = UdpHeader(hdr.src_port, hdr.dst_port).build(
            payload, src=LOCALHOST, dst=LOCALHOST, fill_checksum=False
        )
        assert built == datagram
        assert hdr.checksum == pseudo_header_sum(LOCALHOST, LOCALHOST, 17, hdr.length)
        with pytest.raises(ChecksumError):
            UdpHeader.parse(datagram, src=LOCALHOST, dst=LOCALHOST)


def test_completing_a_partial_checksum_gives_the_real_one() -> None:
    # What the NIC does with CHECKSUM_PARTIAL: sum from the UDP header on, seeded by the field.
    partial = UdpHeader(41096, 7777).build(
        b"hello netstack", src=IP_A, dst=IP_B, fill_checksum=False
    )
    assert internet_checksum(partial) == 0x2D78
    assert partial[:6] + (0x2D78).to_bytes(2) + partial[8:] == HELLO


def test_computed_zero_is_sent_as_ffff() -> None:
    # Payload word chosen so the one's-complement sum is 0xFFFF, i.e. the checksum is 0,
    # which RFC 768 transmits as all ones. Constructed from RFC 768.
    src, dst = bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2))
    datagram = UdpHeader(1234, 5678).build(bytes.fromhex("d0d7"), src=src, dst=dst)
    assert datagram == bytes.fromhex("04d2162e000affff d0d7")
    assert UdpHeader.parse(datagram, src=src, dst=dst)[0].checksum == 0xFFFF


@pytest.mark.parametrize(("datagram", "src", "dst"), CHECKED[:2] + CHECKED[3:])
def test_any_corrupted_byte_raises_checksum_error(datagram: bytes, src: bytes, dst: bytes) -> None:
    for index in range(len(datagram)):
        if index in (4, 5):
            continue  # the length field: corrupting it is a DecodeError or a checksum error
        corrupted = bytearray(datagram)
        corrupted[index] ^= 0x80
        with pytest.raises(ChecksumError):
            UdpHeader.parse(corrupted, src=src, dst=dst)
        UdpHeader.parse(corrupted)  # without addresses nothing is verified


def test_wrong_addresses_raise_checksum_error() -> None:
    with pytest.raises(ChecksumError):
        UdpHeader.parse(HELLO, src=IP_B, dst=IP_B)


def test_bytes_after_length_are_ignored() -> None:
    data = bytearray(HELLO + b"\xff\xff\xff")  # e.g. IP payload longer than the UDP length
    hdr, payload = UdpHeader.parse(data, src=IP_A, dst=IP_B)
    assert hdr.length == 22
    assert bytes(payload) == b"hello netstack"
    data[9] = 0x41  # and the payload is a view, not a copy
    assert payload[1] == 0x41


def test_accepts_memoryview_slices() -> None:
    segment = memoryview(bytes(20) + ODD + bytes(3))[20:]
    _, payload = UdpHeader.parse(segment, src=IP_A, dst=IP_B)
    assert bytes(payload) == b"odd"


@pytest.mark.parametrize("length", [0, 7, 23, 0xFFFF])
def test_bad_length_field_raises(length: int) -> None:
    data = HELLO[:4] + length.to_bytes(2) + HELLO[6:]
    with pytest.raises(DecodeError):
        UdpHeader.parse(data)


@pytest.mark.parametrize("vector", VECTORS)
def test_every_truncation_raises(vector: bytes) -> None:
    for cut in range(len(vector)):
        with pytest.raises(DecodeError):
            UdpHeader.parse(vector[:cut])
        with pytest.raises(DecodeError):
            UdpHeader.parse(vector[:cut], src=IP_A, dst=IP_B)


def test_one_address_alone_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        UdpHeader.parse(HELLO, src=IP_A)


def test_build_rejects_oversized_payload() -> None:
    with pytest.raises(ValueError):
        UdpHeader(1, 2).build(bytes(0xFFFF - 7), src=IP_A, dst=IP_B)


def _reference_checksum(src: bytes, dst: bytes, datagram: bytes) -> int:
    """RFC 768 with the pre-existing netstack.wire.checksum helpers."""
    zeroed = datagram[:6] + b"\0\0" + datagram[8:]
    value = internet_checksum(zeroed, pseudo_header_sum(src, dst, 17, len(datagram)))
    return value or 0xFFFF


addresses = st.sampled_from([4, 16]).flatmap(
    lambda n: st.tuples(st.binary(min_size=n, max_size=n), st.binary(min_size=n, max_size=n))
)
ports = st.integers(0, 0xFFFF)
# Sizes on both sides of the split-sum threshold, odd and even.
payloads = st.binary(max_size=64) | st.binary(min_size=500, max_size=1600)


@settings(max_examples=250)
@given(ports, ports, addresses, payloads)
def test_build_then_parse_round_trips(
    src_port: int, dst_port: int, addrs: tuple[bytes, bytes], payload: bytes
) -> None:
    src, dst = addrs
    datagram = UdpHeader(src_port, dst_port).build(payload, src=src, dst=dst)
    assert int.from_bytes(datagram[6:8]) == _reference_checksum(src, dst, datagram)
    hdr, parsed_payload = UdpHeader.parse(datagram, src=src, dst=dst)
    assert hdr == UdpHeader(src_port, dst_port, 8 + len(payload), hdr.checksum)
    assert bytes(parsed_payload) == payload


@settings(max_examples=200)
@given(ports, ports, addresses, payloads)
def test_partial_checksum_is_the_pseudo_header_sum(
    src_port: int, dst_port: int, addrs: tuple[bytes, bytes], payload: bytes
) -> None:
    src, dst = addrs
    partial = UdpHeader(src_port, dst_port).build(payload, src=src, dst=dst, fill_checksum=False)
    seed = int.from_bytes(partial[6:8])
    assert seed == pseudo_header_sum(src, dst, 17, len(partial))
    full = UdpHeader(src_port, dst_port).build(payload, src=src, dst=dst)
    assert (internet_checksum(partial) or 0xFFFF) == int.from_bytes(full[6:8])


@settings(max_examples=300)
@given(st.binary(max_size=64), st.none() | addresses)
def test_arbitrary_bytes_raise_only_decode_error(
    data: bytes, addrs: tuple[bytes, bytes] | None
) -> None:
    src, dst = addrs or (None, None)
    try:
        hdr, payload = UdpHeader.parse(data, src=src, dst=dst)
    except DecodeError:
        return
    assert len(payload) == hdr.length - 8
