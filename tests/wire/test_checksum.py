"""The Internet checksum (RFC 1071) and the checksums of the formats that use it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import ChecksumError
from netstack.wire.checksum import internet_checksum, ones_sum, pseudo_header_sum, verify
from netstack.wire.icmpv4 import Icmpv4Header
from netstack.wire.ipv4 import Ipv4Header
from netstack.wire.udp import UdpHeader

# RFC 1071 §3 "Numerical Examples": the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
RFC1071_EXAMPLE = bytes.fromhex("0001f203f4f5f6f7")

# IPv4 header of a UDP datagram 10.99.0.1 -> 10.99.0.2, checksum 0x08f0.
# Captured from the Linux kernel (veth in a netns).
IPV4_HEADER = bytes.fromhex("4500002a1d0b4000401108f00a6300010a630002")

# The UDP datagram inside it, checksum 0x2d78.
# Captured from the Linux kernel (veth in a netns, TX checksum offload off).
UDP_DATAGRAM = bytes.fromhex("a0881e6100162d7868656c6c6f206e6574737461636b")
IP_A = bytes((10, 99, 0, 1))
IP_B = bytes((10, 99, 0, 2))

# ICMP echo request, checksum 0xfcd7. Captured from the Linux kernel (veth in a netns).
ICMP_ECHO = bytes.fromhex(
    "0800fcd70e7a000107e9056b000000001886080000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
)


def _reference_sum(data: bytes) -> int:
    """RFC 1071 §4.1, literally: add 16-bit words, fold the carries (zero-padded if odd)."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_rfc1071_example() -> None:
    assert ones_sum(RFC1071_EXAMPLE) == 0xDDF2
    assert internet_checksum(RFC1071_EXAMPLE) == 0x220D
    assert verify(RFC1071_EXAMPLE + (0x220D).to_bytes(2))


def test_byte_order_independence() -> None:
    # RFC 1071 §2(B): summing byte-swapped words gives the byte-swapped sum.
    swapped = bytes(RFC1071_EXAMPLE[i ^ 1] for i in range(len(RFC1071_EXAMPLE)))
    assert ones_sum(swapped) == 0xF2DD


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x01", 0x0100),  # odd length: padded with a zero byte on the right
        (b"\x00\x01\xf2", 0xF201),
        (bytes.fromhex("0001f203f4"), 0x0001 + 0xF203 + 0xF400 - 0xFFFF),
        (b"\xff", 0xFF00),
    ],
)
def test_odd_lengths_pad_with_zero(data: bytes, expected: int) -> None:
    assert ones_sum(data) == expected
    assert ones_sum(data) == ones_sum(data + b"\0")


def test_zeros() -> None:
    assert ones_sum(b"") == 0
    assert ones_sum(bytes(10)) == 0
    assert internet_checksum(b"") == 0xFFFF
    assert internet_checksum(bytes(3)) == 0xFFFF
    assert not verify(bytes(8))  # +0 is not a valid sum; the field would be 0xffff


def test_negative_zero_and_end_around_carry() -> None:
    assert ones_sum(b"\xff\xff") == 0xFFFF
    assert internet_checksum(b"\xff\xff") == 0
    assert ones_sum(b"\xff\xff\x00\x01") == 0x0001  # 0x10000 folds to 1
    assert ones_sum(b"\x80\x00\x80\x00") == 0x0001


def test_initial_value_is_added() -> None:
    assert ones_sum(b"\x00\x01", 0x0002) == 0x0003
    assert ones_sum(b"\xff\xfe", 0x0001) == 0xFFFF


def test_captured_headers_verify() -> None:
    assert verify(IPV4_HEADER)
    assert verify(ICMP_ECHO)
    assert verify(UDP_DATAGRAM, pseudo_header_sum(IP_A, IP_B, 17, len(UDP_DATAGRAM)))


def test_pseudo_header_sum() -> None:
    # 0x0a63 + 0x0001 + 0x0a63 + 0x0002 + 17 + 22, no carry
    assert pseudo_header_sum(IP_A, IP_B, 17, 22) == 0x14C9 + 17 + 22
    # The Linux loopback CHECKSUM_PARTIAL seed for 127.0.0.1 -> 127.0.0.1, UDP length 22.
    localhost = bytes((127, 0, 0, 1))
    assert pseudo_header_sum(localhost, localhost, 17, 22) == 0xFE29


def test_udp_computed_zero_is_sent_as_ffff() -> None:
    # A datagram whose sum (pseudo-header included) is 0xFFFF: internet_checksum is 0,
    # which RFC 768 sends as 0xFFFF because 0 means "no checksum".
    src, dst = bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2))
    zeroed = bytes.fromhex("04d2162e000a0000d0d7")
    assert internet_checksum(zeroed, pseudo_header_sum(src, dst, 17, 10)) == 0
    datagram = UdpHeader(1234, 5678).build(zeroed[8:], src=src, dst=dst)
    assert datagram[6:8] == b"\xff\xff"
    assert verify(datagram, pseudo_header_sum(src, dst, 17, 10))
    UdpHeader.parse(datagram, src=src, dst=dst)


def test_corrupted_ipv4_header_raises_checksum_error() -> None:
    for index in (1, 4, 5, 8, 10, 11, 12, 19):  # fields that leave the header well-formed
        corrupted = bytearray(IPV4_HEADER + UDP_DATAGRAM)
        corrupted[index] ^= 0x04
        assert not verify(corrupted[:20])
        with pytest.raises(ChecksumError):
            Ipv4Header.parse(corrupted)


def test_corrupted_icmp_raises_checksum_error() -> None:
    for index in range(len(ICMP_ECHO)):
        corrupted = bytearray(ICMP_ECHO)
        corrupted[index] ^= 0x01
        with pytest.raises(ChecksumError):
            Icmpv4Header.parse(corrupted)


def test_corrupted_udp_raises_checksum_error() -> None:
    for index in (0, 1, 2, 3, 6, 7, 8, len(UDP_DATAGRAM) - 1):
        corrupted = bytearray(UDP_DATAGRAM)
        corrupted[index] ^= 0x10
        with pytest.raises(ChecksumError):
            UdpHeader.parse(corrupted, src=IP_A, dst=IP_B)


def test_swapping_words_is_not_detected() -> None:
    # A known blind spot of the Internet checksum (RFC 1071 §2(A) commutativity).
    swapped = IPV4_HEADER[:12] + IPV4_HEADER[16:20] + IPV4_HEADER[12:16]
    assert verify(swapped)


@settings(max_examples=300)
@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_ones_sum_matches_the_word_loop(data: bytes, initial: int) -> None:
    padded = data + b"\0" if len(data) % 2 else data
    expected = _reference_sum(padded + initial.to_bytes(2))
    assert ones_sum(data, initial) == expected
    assert internet_checksum(data, initial) == ~expected & 0xFFFF


@settings(max_examples=300)
@given(st.binary(min_size=2, max_size=300).filter(lambda d: any(d)))
def test_appending_the_checksum_verifies(data: bytes) -> None:
    if len(data) % 2:
        data += b"\0"
    assert verify(data + internet_checksum(data).to_bytes(2))
