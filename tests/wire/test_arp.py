"""ARP packets (RFC 826)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import DecodeError
from netstack.wire.arp import ArpOp, ArpPacket

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
IP_A = bytes((10, 99, 0, 1))
IP_B = bytes((10, 99, 0, 2))

# "Who has 10.99.0.2? Tell 10.99.0.1" (the ARP payload of the broadcast frame).
# Captured from the Linux kernel (veth in a netns).
REQUEST = bytes.fromhex("0001 0800 06 04 0001 020000000001 0a630001 000000000000 0a630002")

# "10.99.0.2 is at 02:00:00:00:00:02", the answer to REQUEST.
# Captured from the Linux kernel (veth in a netns).
REPLY = bytes.fromhex("0001 0800 06 04 0002 020000000002 0a630002 020000000001 0a630001")

# REPLY as it arrives from a NIC that pads the frame to 60 bytes: 18 bytes of padding
# after the 28-byte packet. Constructed (IEEE 802.3 minimum frame size).
PADDED_REPLY = REPLY + bytes(18)

VECTORS = [REQUEST, REPLY]


def test_parse_request() -> None:
    pkt = ArpPacket.parse(REQUEST)
    assert pkt.op == ArpOp.REQUEST
    assert pkt.sender_mac == MAC_A
    assert pkt.sender_ip == IP_A
    assert pkt.target_mac == bytes(6)
    assert pkt.target_ip == IP_B
    assert pkt.build() == REQUEST


def test_parse_reply() -> None:
    pkt = ArpPacket.parse(REPLY)
    assert pkt == ArpPacket(ArpOp.REPLY, MAC_B, IP_B, MAC_A, IP_A)
    assert pkt.build() == REPLY


def test_padding_after_the_packet_is_ignored() -> None:
    assert ArpPacket.parse(PADDED_REPLY) == ArpPacket.parse(REPLY)
    assert ArpPacket.parse(memoryview(PADDED_REPLY)).build() == REPLY


def test_reply_answers_request() -> None:
    request = ArpPacket.parse(REQUEST)
    reply = ArpPacket(ArpOp.REPLY, MAC_B, request.target_ip, request.sender_mac, request.sender_ip)
    assert reply.build() == REPLY


def test_op_is_kept_as_received() -> None:
    # RFC 826 leaves unknown opcodes to the receiver (RFC 903 RARP uses 3 and 4).
    data = REQUEST[:6] + b"\x00\x03" + REQUEST[8:]
    assert ArpPacket.parse(data).op == 3


@pytest.mark.parametrize(
    ("offset", "value"),
    [
        (0, b"\x00\x06"),  # hardware type IEEE 802
        (2, b"\x86\xdd"),  # protocol type IPv6
        (4, b"\x08"),  # hardware address length
        (5, b"\x10"),  # protocol address length
    ],
)
def test_rejects_other_hardware_or_protocol(offset: int, value: bytes) -> None:
    data = REQUEST[:offset] + value + REQUEST[offset + len(value) :]
    with pytest.raises(DecodeError):
        ArpPacket.parse(data)


@pytest.mark.parametrize("vector", VECTORS)
def test_every_truncation_raises(vector: bytes) -> None:
    for cut in range(len(vector)):
        with pytest.raises(DecodeError):
            ArpPacket.parse(vector[:cut])


def test_build_rejects_bad_address_lengths() -> None:
    with pytest.raises(ValueError):
        ArpPacket(ArpOp.REQUEST, MAC_A[:5], IP_A, MAC_B, IP_B).build()
    with pytest.raises(ValueError):
        ArpPacket(ArpOp.REQUEST, MAC_A, IP_A, MAC_B, bytes(16)).build()


@settings(max_examples=200)
@given(
    st.integers(0, 0xFFFF),
    st.binary(min_size=6, max_size=6),
    st.binary(min_size=4, max_size=4),
    st.binary(min_size=6, max_size=6),
    st.binary(min_size=4, max_size=4),
)
def test_build_then_parse_round_trips(
    op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes
) -> None:
    pkt = ArpPacket(op, sha, spa, tha, tpa)
    data = pkt.build()
    assert len(data) == 28
    assert ArpPacket.parse(data) == pkt


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        pkt = ArpPacket.parse(data)
    except DecodeError:
        return
    assert pkt.build() == data[:28]


@settings(max_examples=300)
@given(st.sampled_from(VECTORS), st.integers(0, 27), st.integers(0, 255), st.integers(0, 30))
def test_mutated_vectors_raise_only_decode_error(
    vector: bytes, index: int, value: int, cut: int
) -> None:
    data = (vector[:index] + bytes((value,)) + vector[index + 1 :])[: 28 - cut]
    try:
        pkt = ArpPacket.parse(data)
    except DecodeError:
        return
    assert pkt.build() == data
