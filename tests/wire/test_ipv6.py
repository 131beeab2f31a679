"""IPv6 headers (RFC 8200), extension headers and address helpers (RFC 4291, RFC 2464).

Unless noted otherwise, the vectors were captured from the Linux kernel (6.18) with tcpdump
on a veth between two network namespaces, fd00:1::a (02:00:00:00:00:0a) and a router
fd00:1::1 (02:00:00:00:00:0b, a bridge with fd00:2::/64 behind it), and checked against
tshark 4.0.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import DecodeError
from netstack.wire.icmpv6 import Icmpv6Header
from netstack.wire.ipv6 import (
    ALL_MLDV2_ROUTERS,
    ALL_NODES,
    ALL_ROUTERS,
    HEADER_LEN,
    LOOPBACK,
    MIN_MTU,
    UNSPECIFIED,
    DestinationOptions,
    ExtensionChain,
    FragmentHeader,
    HopByHopOptions,
    Ipv6Header,
    Ipv6Option,
    Ipv6OptionType,
    MulticastScope,
    NextHeader,
    OptionAction,
    RoutingHeader,
    RoutingType,
    eui64_interface_id,
    ip6_from_str,
    ip6_to_str,
    is_link_local,
    is_loopback,
    is_multicast,
    is_unspecified,
    link_local_from_mac,
    multicast_mac,
    multicast_scope,
    option_action,
    router_alert_option,
    solicited_node_multicast,
    walk_extension_headers,
)

HOST = ip6_from_str("fd00:1::a")
ROUTER = ip6_from_str("fd00:1::1")
FAR_HOST = ip6_from_str("fd00:2::c")
HOST_MAC = bytes.fromhex("02000000000a")


def _pattern(first: int, count: int) -> bytes:
    """The data `ping` sends after its timestamp: byte i of the data is i mod 256."""
    return bytes((first + i) & 0xFF for i in range(count))


# `ping -6 fd00:1::1`: echo request and reply, flow labels from the kernel's auto flow labels.
ECHO_REQUEST = bytes.fromhex(
    "600aa1c0 0040 3a 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "8000883e27370001d90b066b0000000034b6030000000000101112131415161718191a1b1c1d1e1f20212223"
    "2425262728292a2b2c2d2e2f3031323334353637"
)
ECHO_REPLY = bytes.fromhex(
    "600224d6 0040 3a 40"
    "fd000001000000000000000000000001 fd00000100000000000000000000000a"
    "8100873e27370001d90b066b0000000034b6030000000000101112131415161718191a1b1c1d1e1f20212223"
    "2425262728292a2b2c2d2e2f3031323334353637"
)

# `ping -6 -Q 0xb8 -F 0x12345`: traffic class 0xb8 (DSCP EF) and flow label 0x12345.
TCLASS_ECHO_REQUEST = bytes.fromhex(
    "6b812345 0040 3a 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "80006a3227380001d90b066b0000000052c1030000000000101112131415161718191a1b1c1d1e1f20212223"
    "2425262728292a2b2c2d2e2f3031323334353637"
)

# `echo hello | socat - UDP6:[fd00:1::1]:9` (the UDP checksum is a CHECKSUM_PARTIAL seed).
UDP_DATAGRAM = bytes.fromhex(
    "600d8451 000e 11 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "e8dc0009000efa2d68656c6c6f0a"
)

# `ping -6 -s 4000 fd00:1::1` over a 1500-byte MTU: three fragments of ident 0xa28d3a25 at
# offsets 0, 1448 and 2896; the ping data pattern is written as an expression.
FRAGMENT_FIRST = bytes.fromhex(
    "600aa1c0 05b0 2c 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "3a000001a28d3a25 80008afc27390001d90b066b000000000ccc030000000000"
) + _pattern(0x10, 1424)
FRAGMENT_MIDDLE = bytes.fromhex(
    "600aa1c0 05b0 2c 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "3a0005a9a28d3a25"
) + _pattern(0xA0, 1448)
FRAGMENT_LAST = bytes.fromhex(
    "600aa1c0 0460 2c 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "3a000b50a28d3a25"
) + _pattern(0x48, 1112)

# UDP to port 9 with a Destination Options header from sendmsg(IPV6_DSTOPTS): an unknown
# option 0x9e (action 10: discard and send Parameter Problem) with four data bytes.
DEST_OPTS_UNKNOWN = bytes.fromhex(
    "6000557b 0018 3c 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "11009e0401020304 dc29000900106ee76e6574737461636b"
)

# The same with option 0x1e (action 00: skip) and a PadN of six zero bytes.
DEST_OPTS_PADN = bytes.fromhex(
    "600e5bea 0020 3c 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "11011e0401020304 0106000000000000 98a400090010b26c6e6574737461636b"
)

# UDP with a Hop-by-Hop header from sendmsg(IPV6_HOPOPTS): option 0x3e (skip, may change)
# and a PadN of length 0.
HOP_BY_HOP_UDP = bytes.fromhex(
    "60022320 0018 00 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "11003e0212340100 df39000900106bd76e6574737461636b"
)

# A type 0 Routing header (segments left 1, via fd00:2::c) and No Next Header, built by
# hand and sent through an IPPROTO_RAW socket (the kernel no longer writes type 0).
ROUTING_TYPE0 = bytes.fromhex(
    "60000000 0018 2b 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "3b02000100000000 fd00000200000000000000000000000c"
)

# `ping -6 fd00:2::c` through `ip route add fd00:2::c/128 encap seg6 mode inline segs
# fd00:1::1`: a Segment Routing Header (type 4, segments left 1, last entry 1, segment list
# fd00:2::c, fd00:1::1) inserted by the kernel; the destination is the first segment.
SRH_ECHO_REQUEST = bytes.fromhex(
    "600d0537 0068 2b 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "3a04040101000000 fd00000200000000000000000000000c fd000001000000000000000000000001"
    "8000ff70281c0001de0b066b00000000ae920c0000000000101112131415161718191a1b1c1d1e1f20212223"
    "2425262728292a2b2c2d2e2f3031323334353637"
)

# A raw socket of protocol 253 (RFC 3692 experimentation) sending "netstac".
UNKNOWN_PROTOCOL = bytes.fromhex(
    "600801d2 0007 fd 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "6e657473746163"
)

# An MLDv2 report from fe80::ff:fe00:a: Hop-by-Hop with Router Alert (MLD) and PadN(0), as
# the Linux host stack pads it.
MLD_REPORT_PADN = bytes.fromhex(
    "60000000 0034 00 01"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000016"
    "3a00050200000100 8f002f900000000105000001ff3e0000000000000000000000004321"
    "fd000001000000000000000000000001"
)

# An MLDv2 general query from the Linux bridge's querier: Router Alert and two Pad1, as
# the bridge pads it.
MLD_QUERY_PAD1 = bytes.fromhex(
    "60000000 0024 00 01"
    "fe80000000000000000000fffe00000b ff020000000000000000000000000001"
    "3a00050200000000 820094b3ea6000000000000000000000000000000000000002050000"
)

# A first fragment (ident 0x12345678, more fragments) built by hand and sent through an
# IPPROTO_RAW socket with 8 bytes more than its payload length says; the kernel quoted only
# the 64 bytes the header claims in its reassembly timeout (see test_icmpv6).
FIRST_FRAGMENT_ONLY = bytes.fromhex(
    "60000000 0018 2c 40"
    "fd00000100000000000000000000000a fd000001000000000000000000000001"
    "3a00000112345678 80000000123400016365747374616368 6e6574737461636b"
)

VECTORS = [
    ECHO_REQUEST,
    ECHO_REPLY,
    TCLASS_ECHO_REQUEST,
    UDP_DATAGRAM,
    FRAGMENT_FIRST,
    FRAGMENT_MIDDLE,
    FRAGMENT_LAST,
    DEST_OPTS_UNKNOWN,
    DEST_OPTS_PADN,
    HOP_BY_HOP_UDP,
    ROUTING_TYPE0,
    SRH_ECHO_REQUEST,
    UNKNOWN_PROTOCOL,
    MLD_REPORT_PADN,
    MLD_QUERY_PAD1,
]


def _rebuild(data: bytes) -> bytes:
    """Parse the header and the extension header chain, then build them all again."""
    hdr, payload = Ipv6Header.parse(data)
    chain = walk_extension_headers(hdr.next_header, payload)
    out = bytes(payload[chain.payload_offset :])
    for entry in reversed(chain.headers):
        out = entry.header.build(out)
    return hdr.build(out)


# --- the fixed header -----------------------------------------------------------------------


def test_parse_echo_request_header() -> None:
    hdr, payload = Ipv6Header.parse(ECHO_REQUEST)
    assert hdr.src == HOST
    assert hdr.dst == ROUTER
    assert hdr.next_header == NextHeader.ICMPV6
    assert hdr.hop_limit == 64
    assert hdr.traffic_class == 0
    assert hdr.flow_label == 0xAA1C0
    assert hdr.payload_length == 64
    assert isinstance(payload, memoryview)
    assert bytes(payload) == ECHO_REQUEST[40:]


def test_parse_traffic_class_and_flow_label() -> None:
    hdr, _ = Ipv6Header.parse(TCLASS_ECHO_REQUEST)
    assert hdr.traffic_class == 0xB8
    assert (hdr.dscp, hdr.ecn) == (46, 0)  # Expedited Forwarding
    assert hdr.flow_label == 0x12345


@pytest.mark.parametrize("vector", VECTORS)
def test_every_vector_rebuilds_byte_exact(vector: bytes) -> None:
    assert _rebuild(vector) == vector


def test_build_ignores_stale_payload_length() -> None:
    hdr, payload = Ipv6Header.parse(UDP_DATAGRAM)
    hdr.payload_length = 999
    assert hdr.build(payload) == UDP_DATAGRAM
    fresh = Ipv6Header(HOST, ROUTER, NextHeader.UDP, flow_label=0xD8451)
    assert fresh.build(UDP_DATAGRAM[40:]) == UDP_DATAGRAM


def test_bytes_beyond_the_payload_length_are_dropped() -> None:
    hdr, payload = Ipv6Header.parse(FIRST_FRAGMENT_ONLY)
    assert hdr.payload_length == 24
    assert bytes(payload) == FIRST_FRAGMENT_ONLY[40:64]
    _, payload = Ipv6Header.parse(UDP_DATAGRAM + bytes(6))  # Ethernet minimum-size padding
    assert bytes(payload) == UDP_DATAGRAM[40:]


def test_accepts_bytearray_and_memoryview_slices() -> None:
    frame = bytes(14) + ECHO_REPLY
    for buf in (bytearray(ECHO_REPLY), memoryview(frame)[14:]):
        hdr, payload = Ipv6Header.parse(buf)
        assert hdr.src == ROUTER
        assert bytes(payload) == ECHO_REPLY[40:]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes(39), "shorter than the header"),
        (b"\x40" + ECHO_REQUEST[1:], "version 4"),
        (ECHO_REQUEST[:-1], "payload length beyond the data"),
        (bytes.fromhex("60000000 0000 00 40") + bytes(32) + bytes(16), "a jumbogram"),
    ],
)
def test_malformed_headers_raise(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError):
        Ipv6Header.parse(data)


def test_zero_payload_length_with_padding_is_not_a_jumbogram() -> None:
    data = Ipv6Header(HOST, ROUTER, NextHeader.NO_NEXT).build()
    hdr, payload = Ipv6Header.parse(data + bytes(6))
    assert hdr.payload_length == 0
    assert len(payload) == 0


@pytest.mark.parametrize("vector", VECTORS)
def test_every_truncation_raises(vector: bytes) -> None:
    for cut in range(len(vector)):
        with pytest.raises(DecodeError):
            Ipv6Header.parse(vector[:cut])


def test_build_rejects_impossible_headers() -> None:
    with pytest.raises(ValueError):
        Ipv6Header(HOST, ROUTER, 17).build(bytes(65536))
    with pytest.raises(ValueError):
        Ipv6Header(HOST, bytes(4), 17).build()
    with pytest.raises(ValueError):
        Ipv6Header(HOST, ROUTER, 17, flow_label=1 << 20).build()
    with pytest.raises(ValueError):
        Ipv6Header(HOST, ROUTER, 17, traffic_class=256).build()
    with pytest.raises(ValueError):
        Ipv6Header(HOST, ROUTER, 256).build()
    with pytest.raises(ValueError):
        Ipv6Header(HOST, ROUTER, 17, hop_limit=-1).build()


# --- extension headers ----------------------------------------------------------------------


def test_fragments_of_a_large_ping_reassemble() -> None:
    pieces = []
    for vector, offset, more in (
        (FRAGMENT_FIRST, 0, True),
        (FRAGMENT_MIDDLE, 1448, True),
        (FRAGMENT_LAST, 2896, False),
    ):
        hdr, payload = Ipv6Header.parse(vector)
        assert hdr.next_header == NextHeader.FRAGMENT
        chain = walk_extension_headers(hdr.next_header, payload)
        fragment = chain.fragment
        assert fragment is not None
        assert [entry.type for entry in chain.headers] == [NextHeader.FRAGMENT]
        assert chain.headers[0].offset == 0
        assert (fragment.offset, fragment.more, fragment.ident) == (offset, more, 0xA28D3A25)
        assert not fragment.is_atomic
        assert chain.next_header == fragment.next_header == NextHeader.ICMPV6
        assert chain.payload_offset == 8
        pieces.append(bytes(payload[8:]))
    whole = b"".join(pieces)
    assert len(whole) == 8 + 4000
    message, data = Icmpv6Header.parse(whole, src=HOST, dst=ROUTER)
    assert (message.type, message.ident, message.seq) == (128, 0x2739, 1)
    assert bytes(data[16:]) == _pattern(0x10, 3984)


def test_destination_options_with_an_unknown_option() -> None:
    hdr, payload = Ipv6Header.parse(DEST_OPTS_UNKNOWN)
    chain = walk_extension_headers(hdr.next_header, payload)
    ((kind, header, offset),) = chain.headers
    assert (kind, offset) == (NextHeader.DEST_OPTS, 0)
    assert isinstance(header, DestinationOptions)
    assert header.next_header == NextHeader.UDP
    assert header.options == [Ipv6Option(0x9E, bytes.fromhex("01020304"))]
    option = header.options[0]
    assert option.action == OptionAction.DISCARD_SEND_ICMP
    assert not option.may_change
    # The Parameter Problem pointer Linux sent for it (test_icmpv6) is 40 + 0 + 2.
    assert HEADER_LEN + offset + header.option_offsets()[0] == 42
    assert (chain.next_header, chain.payload_offset) == (NextHeader.UDP, 8)
    assert chain.fragment is None


def test_destination_options_keep_their_padding() -> None:
    _, payload = Ipv6Header.parse(DEST_OPTS_PADN)
    header, rest = DestinationOptions.parse(payload)
    assert header.options == [Ipv6Option(0x1E, bytes.fromhex("01020304")), Ipv6Option(1, bytes(6))]
    assert header.options[0].action == OptionAction.SKIP
    assert header.options[1].is_padding
    assert header.get(0x1E) == bytes.fromhex("01020304")
    assert header.get(0x05) is None
    assert header.header_len == 16
    assert header.option_offsets() == [2, 8]
    assert bytes(rest) == DEST_OPTS_PADN[56:]
    assert header.build(rest) == DEST_OPTS_PADN[40:]


def test_hop_by_hop_options() -> None:
    hdr, payload = Ipv6Header.parse(HOP_BY_HOP_UDP)
    assert hdr.next_header == NextHeader.HOP_BY_HOP
    chain = walk_extension_headers(hdr.next_header, payload)
    header = chain.headers[0].header
    assert isinstance(header, HopByHopOptions)
    assert header.options == [Ipv6Option(0x3E, b"\x12\x34"), Ipv6Option(Ipv6OptionType.PADN)]
    assert header.options[0].may_change
    assert header.options[0].action == OptionAction.SKIP
    assert chain.next_header == NextHeader.UDP


def test_router_alert_padding_of_host_and_bridge() -> None:
    _, payload = Ipv6Header.parse(MLD_REPORT_PADN)
    host, _ = HopByHopOptions.parse(payload)
    alert = router_alert_option(0)
    assert host.options == [alert, Ipv6Option(1)]
    _, payload = Ipv6Header.parse(MLD_QUERY_PAD1)
    bridge, _ = HopByHopOptions.parse(payload)
    assert bridge.options == [alert, Ipv6Option(0), Ipv6Option(0)]
    assert bridge.options[1].size == 1
    # Without explicit padding, build pads as the host does: PadN for two octets.
    assert HopByHopOptions(58, [alert]).build() == MLD_REPORT_PADN[40:48]


def test_build_pads_with_pad1_or_padn() -> None:
    one_short = HopByHopOptions(17, [Ipv6Option(0x3E, bytes(3))])  # 2 + 5 = 7 octets
    assert one_short.build() == bytes.fromhex("11003e0300000000")
    assert one_short.header_len == 8
    exact = HopByHopOptions(17, [Ipv6Option(0x3E, bytes(4))])
    assert exact.build() == bytes.fromhex("11003e0400000000")
    longer = DestinationOptions(6, [Ipv6Option(0x1E, bytes(7))])  # 11 octets: PadN(3)
    assert longer.build() == bytes.fromhex("06011e07 00000000000000 0103000000")
    assert DestinationOptions(59).build() == bytes.fromhex("3b00010400000000")


def test_routing_header_type0() -> None:
    hdr, payload = Ipv6Header.parse(ROUTING_TYPE0)
    chain = walk_extension_headers(hdr.next_header, payload)
    header = chain.headers[0].header
    assert header == RoutingHeader(
        NextHeader.NO_NEXT, RoutingType.SOURCE_ROUTE, 1, bytes(4) + FAR_HOST
    )
    assert header.header_len == 24
    assert (chain.next_header, chain.payload_offset) == (NextHeader.NO_NEXT, 24)


def test_segment_routing_header_and_the_final_destination_checksum() -> None:
    hdr, payload = Ipv6Header.parse(SRH_ECHO_REQUEST)
    chain = walk_extension_headers(hdr.next_header, payload)
    header = chain.headers[0].header
    assert isinstance(header, RoutingHeader)
    assert (header.routing_type, header.segments_left) == (RoutingType.SEGMENT_ROUTING, 1)
    assert header.data[:4] == bytes.fromhex("01000000")  # last entry 1, flags, tag
    assert header.data[4:] == FAR_HOST + ROUTER
    assert (chain.next_header, chain.payload_offset) == (NextHeader.ICMPV6, 40)
    message = payload[chain.payload_offset :]
    # RFC 8200 §8.1: the pseudo-header carries the final destination, not the first segment.
    Icmpv6Header.parse(message, src=HOST, dst=FAR_HOST)
    with pytest.raises(DecodeError):
        Icmpv6Header.parse(message, src=HOST, dst=hdr.dst)


def test_unknown_upper_layer_protocol_ends_the_walk() -> None:
    hdr, payload = Ipv6Header.parse(UNKNOWN_PROTOCOL)
    chain = walk_extension_headers(hdr.next_header, payload)
    assert chain == ExtensionChain([], 253, 0)
    assert chain.next_header_pointer == 6  # Linux's Parameter Problem pointer (test_icmpv6)


def test_hop_by_hop_after_another_header_ends_the_walk() -> None:
    payload = DestinationOptions(NextHeader.HOP_BY_HOP).build(HopByHopOptions(59).build())
    chain = walk_extension_headers(NextHeader.DEST_OPTS, payload)
    assert [entry.type for entry in chain.headers] == [NextHeader.DEST_OPTS]
    assert (chain.next_header, chain.payload_offset) == (NextHeader.HOP_BY_HOP, 8)
    assert chain.next_header_pointer == 40  # the Next Header field of the options header


@pytest.mark.parametrize("last", [NextHeader.NO_NEXT, NextHeader.ESP, NextHeader.AH, 135])
def test_walk_stops_at_headers_it_does_not_decode(last: int) -> None:
    payload = RoutingHeader(last, 4, 0).build(b"\xff" * 16)
    chain = walk_extension_headers(NextHeader.ROUTING, payload)
    assert (chain.next_header, chain.payload_offset) == (last, 8)


def test_walk_continues_after_reassembly() -> None:
    inner = DestinationOptions(NextHeader.UDP).build(b"udp")
    chain = walk_extension_headers(
        NextHeader.HOP_BY_HOP,
        HopByHopOptions(44).build(FragmentHeader(60, 0, False, 7).build(inner)),
    )
    assert [entry.offset for entry in chain.headers] == [0, 8]
    fragment = chain.fragment
    assert fragment is not None and fragment.is_atomic
    assert chain.payload_offset == 16
    rest = walk_extension_headers(fragment.next_header, inner)
    assert (rest.next_header, rest.payload_offset) == (NextHeader.UDP, 8)


@pytest.mark.parametrize(
    "vector",
    [FRAGMENT_FIRST, DEST_OPTS_PADN, HOP_BY_HOP_UDP, ROUTING_TYPE0, SRH_ECHO_REQUEST],
)
def test_walk_raises_on_every_truncation_inside_the_chain(vector: bytes) -> None:
    hdr, payload = Ipv6Header.parse(vector)
    end = walk_extension_headers(hdr.next_header, payload).payload_offset
    for cut in range(end):
        with pytest.raises(DecodeError):
            walk_extension_headers(hdr.next_header, payload[:cut])
    chain = walk_extension_headers(hdr.next_header, payload[:end])
    assert chain.payload_offset == end


@pytest.mark.parametrize(
    "options",
    [
        "0000000000 3e",  # five Pad1, then a type without its length byte
        "3e05 00000000",  # five bytes of data announced, four present
        "0103000000 3e",  # PadN(3), then a type without its length byte
    ],
)
def test_bad_options_raise(options: str) -> None:
    with pytest.raises(DecodeError):
        HopByHopOptions.parse(bytes.fromhex("1100" + options))


def test_header_length_beyond_the_data_raises() -> None:
    with pytest.raises(DecodeError):
        DestinationOptions.parse(bytes.fromhex("1101") + bytes(6))
    with pytest.raises(DecodeError):
        RoutingHeader.parse(bytes.fromhex("3b02000100000000") + bytes(15))
    with pytest.raises(DecodeError):
        FragmentHeader.parse(bytes(7))


def test_option_action_bits() -> None:
    assert option_action(0x00) == OptionAction.SKIP
    assert option_action(0x5E) == OptionAction.DISCARD
    assert option_action(0x9E) == OptionAction.DISCARD_SEND_ICMP
    assert option_action(Ipv6OptionType.JUMBO_PAYLOAD) == (
        OptionAction.DISCARD_SEND_ICMP_UNLESS_MULTICAST
    )
    assert Ipv6Option(Ipv6OptionType.RPL).action == OptionAction.SKIP  # RFC 9008
    assert Ipv6Option(Ipv6OptionType.RPL_RFC6553).action == OptionAction.DISCARD


def test_extension_header_builders_reject_impossible_values() -> None:
    with pytest.raises(ValueError):
        FragmentHeader(58, 12, False, 1).build()
    with pytest.raises(ValueError):
        FragmentHeader(58, 65536, False, 1).build()
    with pytest.raises(ValueError):
        FragmentHeader(58, 0, False, 1 << 32).build()
    with pytest.raises(ValueError):
        RoutingHeader(58, 0, 0, bytes(5)).build()
    with pytest.raises(ValueError):
        RoutingHeader(58, 256, 0).build()
    with pytest.raises(ValueError):
        HopByHopOptions(58, [Ipv6Option(0, b"x")]).build()
    with pytest.raises(ValueError):
        HopByHopOptions(58, [Ipv6Option(5, bytes(256))]).build()
    with pytest.raises(ValueError):
        HopByHopOptions(58, [Ipv6Option(5, bytes(255))] * 9).build()
    with pytest.raises(ValueError):
        router_alert_option(1 << 16)


# --- addresses ------------------------------------------------------------------------------


def test_solicited_node_and_multicast_mac_match_a_captured_dad_probe() -> None:
    # Linux's DAD probe for fd00:1::a went to ff02::1:ff00:a at 33:33:ff:00:00:0a.
    group = solicited_node_multicast(HOST)
    assert group == ip6_from_str("ff02::1:ff00:a")
    assert multicast_mac(group) == bytes.fromhex("3333ff00000a")
    assert multicast_mac(ALL_MLDV2_ROUTERS) == bytes.fromhex("333300000016")
    assert solicited_node_multicast(ip6_from_str("2001:db8::abcd:1234:5678")) == ip6_from_str(
        "ff02::1:ff34:5678"
    )


def test_link_local_from_mac_matches_the_kernels_address() -> None:
    assert eui64_interface_id(HOST_MAC) == bytes.fromhex("000000fffe00000a")
    assert link_local_from_mac(HOST_MAC) == ip6_from_str("fe80::ff:fe00:a")
    assert link_local_from_mac(bytes.fromhex("525400123456")) == ip6_from_str(
        "fe80::5054:ff:fe12:3456"
    )


def test_eui64_of_an_ieee_802_15_4_address_flips_the_universal_local_bit() -> None:
    eui64 = bytes.fromhex("00124b0001020304")
    assert eui64_interface_id(eui64) == bytes.fromhex("02124b0001020304")
    assert link_local_from_mac(eui64) == ip6_from_str("fe80::212:4b00:102:304")
    with pytest.raises(ValueError):
        eui64_interface_id(bytes(7))


def test_address_predicates() -> None:
    assert is_multicast(ALL_NODES) and not is_multicast(HOST)
    assert multicast_scope(ALL_NODES) == MulticastScope.LINK_LOCAL
    assert multicast_scope(ip6_from_str("ff05::2")) == MulticastScope.SITE_LOCAL
    assert multicast_scope(ip6_from_str("ff3e::4321")) == MulticastScope.GLOBAL
    with pytest.raises(ValueError):
        multicast_scope(HOST)
    assert is_link_local(ip6_from_str("fe80::1"))
    assert is_link_local(ip6_from_str("febf::1"))
    assert not is_link_local(ip6_from_str("fec0::1"))
    assert not is_link_local(HOST)
    assert is_unspecified(UNSPECIFIED) and not is_unspecified(LOOPBACK)
    assert is_loopback(LOOPBACK) and not is_loopback(UNSPECIFIED)


def test_address_constants_and_text() -> None:
    assert ip6_from_str("ff02::1") == ALL_NODES
    assert ip6_from_str("ff02::2") == ALL_ROUTERS
    assert ip6_from_str("ff02::16") == ALL_MLDV2_ROUTERS
    assert ip6_from_str("::") == UNSPECIFIED
    assert ip6_from_str("::1") == LOOPBACK
    assert ip6_to_str(HOST) == "fd00:1::a"
    assert ip6_to_str(link_local_from_mac(HOST_MAC)) == "fe80::ff:fe00:a"
    with pytest.raises(ValueError):
        ip6_from_str("fe80::1::2")
    with pytest.raises(ValueError):
        solicited_node_multicast(bytes(4))
    with pytest.raises(ValueError):
        multicast_mac(bytes(4))


def test_codes() -> None:
    assert {n.name: n.value for n in NextHeader} == {
        "HOP_BY_HOP": 0,
        "TCP": 6,
        "UDP": 17,
        "ROUTING": 43,
        "FRAGMENT": 44,
        "ESP": 50,
        "AH": 51,
        "ICMPV6": 58,
        "NO_NEXT": 59,
        "DEST_OPTS": 60,
    }
    assert [a.value for a in OptionAction] == [0, 1, 2, 3]
    assert (HEADER_LEN, MIN_MTU) == (40, 1280)


# --- properties -----------------------------------------------------------------------------

addresses = st.binary(min_size=16, max_size=16)
options = st.lists(st.builds(Ipv6Option, st.integers(2, 255), st.binary(max_size=20)), max_size=6)


@settings(max_examples=200)
@given(
    src=addresses,
    dst=addresses,
    next_header=st.integers(0, 255),
    hop_limit=st.integers(0, 255),
    traffic_class=st.integers(0, 255),
    flow_label=st.integers(0, 0xFFFFF),
    payload=st.binary(max_size=100),
)
def test_header_build_then_parse_round_trips(
    src: bytes,
    dst: bytes,
    next_header: int,
    hop_limit: int,
    traffic_class: int,
    flow_label: int,
    payload: bytes,
) -> None:
    hdr = Ipv6Header(src, dst, next_header, hop_limit, traffic_class, flow_label)
    parsed, parsed_payload = Ipv6Header.parse(hdr.build(payload))
    hdr.payload_length = len(payload)
    assert parsed == hdr
    assert bytes(parsed_payload) == payload


@settings(max_examples=200)
@given(st.booleans(), st.integers(0, 255), options, st.binary(max_size=30))
def test_options_headers_round_trip(
    hop_by_hop: bool, next_header: int, option_list: list[Ipv6Option], payload: bytes
) -> None:
    cls = HopByHopOptions if hop_by_hop else DestinationOptions
    header = cls(next_header, option_list)
    data = header.build(payload)
    assert len(data) == header.header_len + len(payload)
    assert header.header_len % 8 == 0
    parsed, rest = cls.parse(data)
    assert bytes(rest) == payload
    assert parsed.next_header == next_header
    assert parsed.options[: len(option_list)] == option_list
    assert all(option.is_padding for option in parsed.options[len(option_list) :])
    # Parsed again, the padding is part of the list and nothing more is added.
    assert parsed.build(payload) == data
    offsets = parsed.option_offsets()
    for option, offset in zip(parsed.options, offsets, strict=True):
        assert data[offset] == option.type


@settings(max_examples=200)
@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 30).map(lambda n: 4 + 8 * n),
    st.binary(max_size=20),
)
def test_routing_header_round_trips(
    next_header: int, routing_type: int, segments_left: int, size: int, payload: bytes
) -> None:
    header = RoutingHeader(next_header, routing_type, segments_left, b"\xab" * size)
    parsed, rest = RoutingHeader.parse(header.build(payload))
    assert parsed == header
    assert bytes(rest) == payload


@settings(max_examples=200)
@given(st.integers(0, 255), st.integers(0, 0x1FFF), st.booleans(), st.integers(0, 0xFFFFFFFF))
def test_fragment_header_round_trips(next_header: int, units: int, more: bool, ident: int) -> None:
    header = FragmentHeader(next_header, units * 8, more, ident)
    parsed, rest = FragmentHeader.parse(header.build(b"data"))
    assert parsed == header
    assert bytes(rest) == b"data"


_KINDS = {HopByHopOptions: 0, DestinationOptions: 60, RoutingHeader: 43}
extension_headers = st.one_of(
    st.builds(HopByHopOptions, st.just(0), options),
    st.builds(DestinationOptions, st.just(0), options),
    st.builds(RoutingHeader, st.just(0), st.integers(0, 255), st.integers(0, 255)),
)


@settings(max_examples=200)
@given(
    st.lists(extension_headers, max_size=5),
    st.sampled_from([6, 17, 58, 59]),
    st.binary(max_size=20),
)
def test_walk_finds_every_header_it_was_given(
    headers: list[HopByHopOptions | DestinationOptions | RoutingHeader], upper: int, body: bytes
) -> None:
    # Hop-by-Hop only first, as RFC 8200 §4.1 allows.
    headers = [h for i, h in enumerate(headers) if i == 0 or not isinstance(h, HopByHopOptions)]
    kinds = [_KINDS[type(h)] for h in headers]
    data = body
    for index in reversed(range(len(headers))):
        headers[index].next_header = kinds[index + 1] if index + 1 < len(headers) else upper
        data = headers[index].build(data)
    first = kinds[0] if headers else upper
    chain = walk_extension_headers(first, data)
    assert [entry.type for entry in chain.headers] == kinds
    assert (chain.next_header, bytes(data[chain.payload_offset :])) == (upper, body)
    offset = 0
    for entry in chain.headers:
        assert entry.offset == offset
        offset += entry.header.header_len


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        hdr, payload = Ipv6Header.parse(data)
    except DecodeError:
        return
    assert len(payload) == hdr.payload_length


@settings(max_examples=300)
@given(st.sampled_from([0, 43, 44, 60]), st.binary(max_size=80))
def test_walk_of_arbitrary_bytes_raises_only_decode_error(next_header: int, data: bytes) -> None:
    try:
        chain = walk_extension_headers(next_header, data)
    except DecodeError:
        return
    assert chain.payload_offset <= len(data)


@settings(max_examples=300)
@given(
    st.sampled_from(VECTORS),
    st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=4),
    st.integers(0, 1600),
)
def test_mutated_vectors_raise_only_decode_error(
    vector: bytes, edits: list[tuple[int, int]], keep: int
) -> None:
    data = bytearray(vector[:keep])
    for index, value in edits:
        if index < len(data):
            data[index] = value
    try:
        hdr, payload = Ipv6Header.parse(data)
        chain = walk_extension_headers(hdr.next_header, payload)
    except DecodeError:
        return
    assert chain.payload_offset <= len(payload)


@given(st.binary(min_size=6, max_size=6))
def test_link_local_from_mac_embeds_the_mac(mac: bytes) -> None:
    address = link_local_from_mac(mac)
    assert is_link_local(address)
    iid = address[8:]
    assert iid[3:5] == b"\xff\xfe"
    assert bytes((iid[0] ^ 2,)) + iid[1:3] + iid[5:] == mac


@given(addresses)
def test_solicited_node_group_keeps_the_low_24_bits(address: bytes) -> None:
    group = solicited_node_multicast(address)
    assert is_multicast(group)
    assert multicast_scope(group) == MulticastScope.LINK_LOCAL
    assert group[13:] == address[13:]
    assert ip6_to_str(group).startswith("ff02::1:ff")
