"""Ethernet II framing, the 802.1Q tag and the MAC address helpers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import DecodeError
from netstack.wire.ethernet import (
    BROADCAST,
    EthernetHeader,
    EtherType,
    ipv4_multicast_mac,
    ipv6_multicast_mac,
    is_multicast,
    mac_from_str,
    mac_to_str,
)

# ARP who-has 10.99.0.2 from 02:00:00:00:00:01 to the broadcast address; 42 bytes, veth
# does not pad. Captured from the Linux kernel (veth in a netns).
ARP_REQUEST = bytes.fromhex(
    "ffffffffffff020000000001 08060001080006040001020000000001 0a630001 000000000000 0a630002"
)

# UDP 10.99.0.1:41096 -> 10.99.0.2:7777, "hello netstack".
# Captured from the Linux kernel (veth in a netns).
UDP_FRAME = bytes.fromhex(
    "020000000002020000000001 0800"
    "4500002a1d0b4000401108f00a6300010a630002"
    "a0881e6100162d78 68656c6c6f206e6574737461636b"
)

# ICMP echo request to 224.0.0.1: destination is the group's MAC 01:00:5e:00:00:01.
# Captured from the Linux kernel (veth in a netns).
MULTICAST_PING = bytes.fromhex(
    "01005e000001020000000001 0800"
    "450000540000400001018f440a630001e0000001"
    "080059f90e89000108e9056b00000000c155010000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
)

# IPv6 Neighbor Solicitation (DAD) for fe80::ff:fe00:1, sent to the solicited-node group
# ff02::1:ff00:1 whose MAC is 33:33:ff:00:00:01. Captured from the Linux kernel (veth in a
# netns).
NEIGHBOR_SOLICITATION = bytes.fromhex(
    "3333ff000001020000000001 86dd"
    "6000000000203aff00000000000000000000000000000000ff0200000000000000000001ff000001"
    "8700e8ad00000000fe80000000000000000000fffe0000010e016dce3d8edb11"
)

# Loopback in a netns: all-zero addresses. Captured from the Linux kernel (lo in a netns).
LOOPBACK_UDP = bytes.fromhex(
    "000000000000000000000000 0800"
    "4500002a370f4000401105b27f0000017f000001827100090016fe2968656c6c6f206e6574737461636b"
)

# UDP_FRAME with an IEEE 802.1Q tag inserted after the source address: TPID 0x8100,
# TCI 0x6005 = PCP 3, DEI 0, VID 5. Constructed from IEEE 802.1Q §9.6.
TAGGED_UDP_FRAME = UDP_FRAME[:12] + bytes.fromhex("8100 6005") + UDP_FRAME[12:]

# Double-tagged (802.1ad): outer S-tag TPID 0x88a8 TCI 0x0064 (VID 100), inner C-tag VID 5.
# Only the outer tag is parsed; the payload starts at the inner tag.
# Constructed from IEEE 802.1Q §9.5/§9.6.
QINQ_UDP_FRAME = UDP_FRAME[:12] + bytes.fromhex("88a8 0064 8100 6005") + UDP_FRAME[12:]

VECTORS = [
    ARP_REQUEST,
    UDP_FRAME,
    MULTICAST_PING,
    NEIGHBOR_SOLICITATION,
    LOOPBACK_UDP,
    TAGGED_UDP_FRAME,
]

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def test_parse_arp_request_broadcast() -> None:
    hdr, payload = EthernetHeader.parse(ARP_REQUEST)
    assert hdr == EthernetHeader(BROADCAST, MAC_A, EtherType.ARP)
    assert hdr.vlan is None and hdr.vid is None and hdr.pcp is None
    assert hdr.header_len == 14
    assert bytes(payload) == ARP_REQUEST[14:]
    assert hdr.build(payload) == ARP_REQUEST


@pytest.mark.parametrize("frame", VECTORS)
def test_every_vector_rebuilds_byte_exact(frame: bytes) -> None:
    hdr, payload = EthernetHeader.parse(frame)
    assert isinstance(payload, memoryview)
    assert hdr.build(payload) == frame


def test_parse_udp_frame_fields() -> None:
    hdr, payload = EthernetHeader.parse(UDP_FRAME)
    assert hdr.dst == MAC_B
    assert hdr.src == MAC_A
    assert hdr.ethertype == EtherType.IPV4
    assert len(payload) == 42


def test_payload_is_a_zero_copy_view_of_the_input() -> None:
    frame = bytearray(UDP_FRAME)
    _, payload = EthernetHeader.parse(frame)
    frame[14] = 0x46
    assert payload[0] == 0x46


def test_accepts_memoryview_and_bytearray() -> None:
    for buf in (memoryview(UDP_FRAME), bytearray(UDP_FRAME), memoryview(b"xx" + UDP_FRAME)[2:]):
        hdr, payload = EthernetHeader.parse(buf)
        assert hdr.ethertype == 0x0800
        assert bytes(payload) == UDP_FRAME[14:]


def test_parse_ipv6_multicast_frame() -> None:
    hdr, _ = EthernetHeader.parse(NEIGHBOR_SOLICITATION)
    assert hdr.ethertype == EtherType.IPV6
    assert is_multicast(hdr.dst)
    assert hdr.dst == ipv6_multicast_mac(NEIGHBOR_SOLICITATION[14 + 24 : 14 + 40])


def test_parse_ipv4_multicast_frame() -> None:
    hdr, payload = EthernetHeader.parse(MULTICAST_PING)
    group = bytes(payload[16:20])
    assert group == bytes((224, 0, 0, 1))
    assert hdr.dst == ipv4_multicast_mac(group)
    assert mac_to_str(hdr.dst) == "01:00:5e:00:00:01"


def test_parse_802_1q_tag() -> None:
    hdr, payload = EthernetHeader.parse(TAGGED_UDP_FRAME)
    assert hdr.ethertype == EtherType.IPV4
    assert hdr.vlan == 0x6005
    assert hdr.vid == 5
    assert hdr.pcp == 3
    assert hdr.header_len == 18
    assert bytes(payload) == UDP_FRAME[14:]
    assert hdr.build(payload) == TAGGED_UDP_FRAME


def test_parse_qinq_reads_outer_tag_only() -> None:
    hdr, payload = EthernetHeader.parse(QINQ_UDP_FRAME)
    assert hdr.vid == 100
    assert hdr.pcp == 0
    assert hdr.ethertype == EtherType.VLAN
    assert bytes(payload[:4]) == bytes.fromhex("6005 0800")
    # the inner tag parses like a single-tagged frame once the outer tag is removed
    inner, inner_payload = EthernetHeader.parse(QINQ_UDP_FRAME[:12] + QINQ_UDP_FRAME[16:])
    assert inner.vid == 5
    assert bytes(inner_payload) == UDP_FRAME[14:]


def test_build_tagged_frame_with_priority_and_dei() -> None:
    hdr = EthernetHeader(MAC_B, MAC_A, EtherType.IPV6, vlan=(7 << 13) | (1 << 12) | 4094)
    frame = hdr.build(b"payload")
    assert frame[12:18] == bytes.fromhex("8100 fffe 86dd")
    parsed, payload = EthernetHeader.parse(frame)
    assert parsed == hdr
    assert (parsed.pcp, parsed.vid) == (7, 4094)
    assert bytes(payload) == b"payload"


def test_trailing_padding_stays_in_payload() -> None:
    padded = ARP_REQUEST + bytes(18)  # padded to the 60-byte minimum as NICs do
    _, payload = EthernetHeader.parse(padded)
    assert len(payload) == 46


def test_build_rejects_bad_address_length() -> None:
    with pytest.raises(ValueError):
        EthernetHeader(b"\x01\x02", MAC_A, 0x0800).build(b"")


@pytest.mark.parametrize("frame", VECTORS)
def test_every_truncation_below_the_header_raises(frame: bytes) -> None:
    header_len = 18 if frame[12:14] == b"\x81\x00" else 14
    for cut in range(header_len):
        with pytest.raises(DecodeError):
            EthernetHeader.parse(frame[:cut])
    # A shorter payload is still a valid frame: Ethernet has no length field.
    for cut in range(header_len, len(frame) + 1):
        _, payload = EthernetHeader.parse(frame[:cut])
        assert len(payload) == cut - header_len


def test_mac_to_str() -> None:
    assert mac_to_str(MAC_A) == "02:00:00:00:00:01"
    assert mac_to_str(BROADCAST) == "ff:ff:ff:ff:ff:ff"


@pytest.mark.parametrize(
    "text", ["02:00:00:00:00:01", "02-00-00-00-00-01", "02:00:00:00:00:01".upper()]
)
def test_mac_from_str_accepts_colons_and_dashes(text: str) -> None:
    assert mac_from_str(text) == MAC_A


@pytest.mark.parametrize(
    "text",
    [
        "",
        "02:00:00:00:00",
        "02:00:00:00:00:01:02",
        "02:00:00:00:00:0g",
        "2:00:00:00:00:001",
        "02:00-00:00:00:01",
        "0200.0000.0001",
        "02:00:00:00:00:+1",
        "02:00:00:00:00: 1",
    ],
)
def test_mac_from_str_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError):
        mac_from_str(text)


def test_is_multicast_reads_the_group_bit() -> None:
    assert is_multicast(BROADCAST)
    assert is_multicast(bytes.fromhex("01005e000001"))
    assert is_multicast(bytes.fromhex("333300000001"))
    assert not is_multicast(MAC_A)
    assert not is_multicast(bytes.fromhex("fe0000000001"))


def test_ipv4_multicast_mac_keeps_low_23_bits() -> None:
    # RFC 1112 §6.4: 224.128.0.1 and 224.0.0.1 share a MAC
    assert ipv4_multicast_mac(bytes((239, 255, 255, 250))) == bytes.fromhex("01005e7ffffa")
    assert ipv4_multicast_mac(bytes((224, 128, 0, 1))) == bytes.fromhex("01005e000001")


def test_ipv6_multicast_mac_keeps_low_32_bits() -> None:
    all_nodes = bytes.fromhex("ff020000000000000000000000000001")
    assert ipv6_multicast_mac(all_nodes) == bytes.fromhex("333300000001")
    solicited = bytes.fromhex("ff0200000000000000000001ff123456")
    assert ipv6_multicast_mac(solicited) == bytes.fromhex("3333ff123456")


def test_ethertype_values() -> None:
    assert {t.name: t.value for t in EtherType} == {
        "IPV4": 0x0800,
        "ARP": 0x0806,
        "VLAN": 0x8100,
        "IPV6": 0x86DD,
        "QINQ": 0x88A8,
    }


macs = st.binary(min_size=6, max_size=6)
# Any type except the two tag TPIDs, which would make the frame read as tagged.
ethertypes = st.integers(0, 0xFFFF).filter(lambda t: t not in (0x8100, 0x88A8))


@settings(max_examples=200)
@given(
    macs,
    macs,
    ethertypes,
    st.none() | st.integers(0, 0xFFFF),
    st.binary(max_size=64),
)
def test_build_then_parse_round_trips(
    dst: bytes, src: bytes, ethertype: int, vlan: int | None, payload: bytes
) -> None:
    hdr = EthernetHeader(dst, src, ethertype, vlan)
    frame = hdr.build(payload)
    assert len(frame) == hdr.header_len + len(payload)
    parsed, parsed_payload = EthernetHeader.parse(frame)
    assert parsed == hdr
    assert bytes(parsed_payload) == payload


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        hdr, payload = EthernetHeader.parse(data)
    except DecodeError:
        return
    assert len(payload) == len(data) - hdr.header_len


@given(st.text(max_size=20))
def test_mac_from_str_raises_only_value_error(text: str) -> None:
    try:
        mac = mac_from_str(text)
    except ValueError:
        return
    assert mac_to_str(mac) == text.lower().replace("-", ":")
