"""Multicast Listener Discovery: MLDv1 (RFC 2710) and MLDv2 (RFC 3810).

The vectors are IPv6 packets captured from the Linux kernel (6.18) with tcpdump on a veth
between network namespaces: a host fe80::ff:fe00:a and a router fe80::ff:fe00:b whose
bridge ran the MLD querier (`ip link set br0 type bridge mcast_querier 1`). Groups were
joined with IPV6_JOIN_GROUP and MCAST_JOIN_SOURCE_GROUP from Python. tshark 4.0 agrees with
every field asserted here.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import DecodeError
from netstack.wire.icmpv6 import Icmpv6Header, Icmpv6Type
from netstack.wire.ipv6 import (
    ALL_MLDV2_ROUTERS,
    ALL_NODES,
    ALL_ROUTERS,
    UNSPECIFIED,
    HopByHopOptions,
    Ipv6Header,
    Ipv6Option,
    NextHeader,
    ip6_from_str,
    walk_extension_headers,
)
from netstack.wire.mld import (
    MLD_ROUTER_ALERT,
    MldMessage,
    MldRecordType,
    Mldv1Message,
    Mldv2Query,
    Mldv2Report,
    MulticastAddressRecord,
    build_mld_packet,
    decode_max_response_code,
    decode_qqic,
    encode_max_response_code,
    encode_qqic,
    is_valid_mld_packet,
    mld_hop_by_hop,
    parse_mld,
)

HOST_LL = ip6_from_str("fe80::ff:fe00:a")
ROUTER_LL = ip6_from_str("fe80::ff:fe00:b")
ROUTER = ip6_from_str("fd00:1::1")
SSM_GROUP = ip6_from_str("ff3e::4321")
SITE_GROUP = ip6_from_str("ff05::4321")

# The router's kernel reporting its groups from :: while its link-local address was still
# tentative (RFC 3810 §5.2.13): three CHANGE_TO_EXCLUDE records with no sources.
REPORT_FROM_UNSPECIFIED = bytes.fromhex(
    "60000000 004c 00 01"
    "00000000000000000000000000000000 ff020000000000000000000000000016"
    "3a00050200000100"
    "8f00155c 0000 0003"
    "04 00 0000 ff0200000000000000000001ff1b53dc"
    "04 00 0000 ff050000000000000000000000000002"
    "04 00 0000 ff020000000000000000000000000002"
)

# MCAST_JOIN_SOURCE_GROUP (ff3e::4321, source fd00:1::1): ALLOW_NEW_SOURCES.
ALLOW_SOURCE = bytes.fromhex(
    "60000000 0034 00 01"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000016"
    "3a00050200000100"
    "8f002f90 0000 0001"
    "05 00 0001 ff3e0000000000000000000000004321 fd000001000000000000000000000001"
)

# ...and MCAST_LEAVE_SOURCE_GROUP: BLOCK_OLD_SOURCES.
BLOCK_SOURCE = bytes.fromhex(
    "60000000 0034 00 01"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000016"
    "3a00050200000100"
    "8f002e90 0000 0001"
    "06 00 0001 ff3e0000000000000000000000004321 fd000001000000000000000000000001"
)

# IPV6_JOIN_GROUP ff05::4321: CHANGE_TO_EXCLUDE with no sources ...
JOIN = bytes.fromhex(
    "60000000 0024 00 01"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000016"
    "3a00050200000100"
    "8f002ddd 0000 0001"
    "04 00 0000 ff050000000000000000000000004321"
)

# ... and IPV6_LEAVE_GROUP: CHANGE_TO_INCLUDE with no sources.
LEAVE = bytes.fromhex(
    "60000000 0024 00 01"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000016"
    "3a00050200000100"
    "8f002edd 0000 0001"
    "03 00 0000 ff050000000000000000000000004321"
)

# The answer to a general query while joined to (ff3e::4321, fd00:1::1): MODE_IS_INCLUDE
# with the source, MODE_IS_EXCLUDE for the solicited-node group.
CURRENT_STATE = bytes.fromhex(
    "60000000 0048 00 01"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000016"
    "3a00050200000100"
    "8f00336c 0000 0002"
    "01 00 0001 ff3e0000000000000000000000004321 fd000001000000000000000000000001"
    "02 00 0000 ff0200000000000000000001ff00000a"
)

# The bridge's MLDv2 general query: Maximum Response Code 10000 (10 s), QRV 2, QQIC 125.
# The bridge pads its Router Alert with two Pad1 options.
GENERAL_QUERY = bytes.fromhex(
    "60000000 0024 00 01"
    "fe80000000000000000000fffe00000b ff020000000000000000000000000001"
    "3a00050200000000"
    "8200578c 2710 0000 00000000000000000000000000000000 02 7d 0000"
)

# A multicast address specific query for ff3e::4321 (after an MLDv1 Done): code 1000,
# QRV 2, QQIC 5 (the querier ran with a 5 s query interval).
GROUP_QUERY = bytes.fromhex(
    "60000000 0024 00 01"
    "fe80000000000000000000fffe00000b ff020000000000000000000000000001"
    "3a00050200000000"
    "820038cc 03e8 0000 ff3e0000000000000000000000004321 02 05 0000"
)

# A general query with mcast_query_response_interval 6000 (60 s): the bridge writes
# 60000 (0xea60) without the RFC 3810 §5.1.3 encoding, so it reads as 3457024 ms, which is
# also what tshark shows.
UNENCODED_QUERY = bytes.fromhex(
    "60000000 0024 00 01"
    "fe80000000000000000000fffe00000b ff020000000000000000000000000001"
    "3a00050200000000"
    "820094b3 ea60 0000 00000000000000000000000000000000 02 05 0000"
)

# With `mcast_mld_version 1`: the MLDv1 general query (24 bytes, delay 2000 ms), ...
V1_QUERY = bytes.fromhex(
    "60000000 0020 00 01"
    "fe80000000000000000000fffe00000b ff020000000000000000000000000001"
    "3a00050200000000"
    "8200794d 07d0 0000 00000000000000000000000000000000"
)

# ... the host's MLDv1 report for ff3e::4321, sent to the group itself, ...
V1_REPORT = bytes.fromhex(
    "60000000 0020 00 01"
    "fe80000000000000000000fffe00000a ff3e0000000000000000000000004321"
    "3a00050200000100"
    "8300fa61 0000 0000 ff3e0000000000000000000000004321"
)

# ... and its Done when it left, sent to all routers.
V1_DONE = bytes.fromhex(
    "60000000 0020 00 01"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000002"
    "3a00050200000100"
    "84003cbd 0000 0000 ff3e0000000000000000000000004321"
)

HOST_PACKETS = [
    REPORT_FROM_UNSPECIFIED,
    ALLOW_SOURCE,
    BLOCK_SOURCE,
    JOIN,
    LEAVE,
    CURRENT_STATE,
    V1_REPORT,
    V1_DONE,
]
BRIDGE_PACKETS = [GENERAL_QUERY, GROUP_QUERY, UNENCODED_QUERY, V1_QUERY]
PACKETS = HOST_PACKETS + BRIDGE_PACKETS


def _message(packet: bytes) -> tuple[Ipv6Header, MldMessage]:
    hdr, payload = Ipv6Header.parse(packet)
    chain = walk_extension_headers(hdr.next_header, payload)
    assert chain.next_header == NextHeader.ICMPV6
    icmp, body = Icmpv6Header.parse(payload[chain.payload_offset :], src=hdr.src, dst=hdr.dst)
    assert is_valid_mld_packet(hdr, chain, icmp.type)
    return hdr, parse_mld(icmp, body)


# --- captured messages ----------------------------------------------------------------------


def test_report_from_the_unspecified_address() -> None:
    hdr, message = _message(REPORT_FROM_UNSPECIFIED)
    assert (hdr.src, hdr.dst, hdr.hop_limit) == (UNSPECIFIED, ALL_MLDV2_ROUTERS, 1)
    assert message == Mldv2Report(
        [
            MulticastAddressRecord(MldRecordType.CHANGE_TO_EXCLUDE, group)
            for group in (
                ip6_from_str("ff02::1:ff1b:53dc"),
                ip6_from_str("ff05::2"),
                ALL_ROUTERS,
            )
        ]
    )


@pytest.mark.parametrize(
    ("packet", "record_type"),
    [
        (ALLOW_SOURCE, MldRecordType.ALLOW_NEW_SOURCES),
        (BLOCK_SOURCE, MldRecordType.BLOCK_OLD_SOURCES),
    ],
)
def test_source_specific_join_and_leave(packet: bytes, record_type: int) -> None:
    hdr, message = _message(packet)
    assert hdr.src == HOST_LL
    assert message == Mldv2Report([MulticastAddressRecord(record_type, SSM_GROUP, [ROUTER])])


@pytest.mark.parametrize(
    ("packet", "record_type"),
    [(JOIN, MldRecordType.CHANGE_TO_EXCLUDE), (LEAVE, MldRecordType.CHANGE_TO_INCLUDE)],
)
def test_any_source_join_and_leave(packet: bytes, record_type: int) -> None:
    _, message = _message(packet)
    assert message == Mldv2Report([MulticastAddressRecord(record_type, SITE_GROUP)])


def test_current_state_report() -> None:
    _, message = _message(CURRENT_STATE)
    assert isinstance(message, Mldv2Report)
    assert message.records == [
        MulticastAddressRecord(MldRecordType.MODE_IS_INCLUDE, SSM_GROUP, [ROUTER]),
        MulticastAddressRecord(MldRecordType.MODE_IS_EXCLUDE, ip6_from_str("ff02::1:ff00:a")),
    ]


def test_general_query() -> None:
    hdr, message = _message(GENERAL_QUERY)
    assert (hdr.src, hdr.dst) == (ROUTER_LL, ALL_NODES)
    assert message == Mldv2Query(UNSPECIFIED, 10000, False, 2, 125, [])
    assert isinstance(message, Mldv2Query)
    assert message.is_general
    assert (message.max_response_delay, message.query_interval) == (10000, 125)
    assert message == Mldv2Query()  # the RFC 3810 §9 defaults


def test_multicast_address_specific_query() -> None:
    _, message = _message(GROUP_QUERY)
    assert message == Mldv2Query(SSM_GROUP, 1000, False, 2, 5)
    assert isinstance(message, Mldv2Query) and not message.is_general


def test_unencoded_maximum_response_code_from_the_bridge() -> None:
    _, message = _message(UNENCODED_QUERY)
    assert isinstance(message, Mldv2Query)
    assert message.max_response_code == 60000
    assert message.max_response_delay == 3457024
    # What the bridge should have sent for 60 s:
    assert encode_max_response_code(60000) == 0x8D4C
    assert decode_max_response_code(0x8D4C) == 60000


def test_mldv1_messages() -> None:
    _, query = _message(V1_QUERY)
    assert query == Mldv1Message(Icmpv6Type.MLD_QUERY, UNSPECIFIED, 2000)
    hdr, report = _message(V1_REPORT)
    assert hdr.dst == SSM_GROUP  # RFC 2710 §3: a report goes to the group it reports
    assert report == Mldv1Message(Icmpv6Type.MLD_REPORT, SSM_GROUP)
    hdr, done = _message(V1_DONE)
    assert hdr.dst == ALL_ROUTERS
    assert done == Mldv1Message(Icmpv6Type.MLD_DONE, SSM_GROUP)


@pytest.mark.parametrize("packet", PACKETS)
def test_every_vector_rebuilds_byte_exact(packet: bytes) -> None:
    hdr, payload = Ipv6Header.parse(packet)
    hop_by_hop, _ = HopByHopOptions.parse(payload)
    _, message = _message(packet)
    icmp = message.build(src=hdr.src, dst=hdr.dst)
    assert hdr.build(hop_by_hop.build(icmp)) == packet


@pytest.mark.parametrize("packet", HOST_PACKETS)
def test_build_mld_packet_writes_what_the_host_sends(packet: bytes) -> None:
    hdr, message = _message(packet)
    assert build_mld_packet(hdr.src, hdr.dst, message) == packet


@pytest.mark.parametrize("packet", BRIDGE_PACKETS)
def test_build_mld_packet_differs_from_the_bridge_only_in_padding(packet: bytes) -> None:
    hdr, message = _message(packet)
    built = build_mld_packet(hdr.src, hdr.dst, message)
    assert packet[46:48] == b"\x00\x00"  # Pad1, Pad1
    assert built[46:48] == b"\x01\x00"  # PadN of length 0
    assert built[:46] + built[48:] == packet[:46] + packet[48:]


def test_router_alert_hop_by_hop_header() -> None:
    header = mld_hop_by_hop()
    assert header.get(5) == MLD_ROUTER_ALERT.to_bytes(2, "big")
    assert header.build() == bytes.fromhex("3a00 0502 0000 0100")


def test_invalid_mld_packets_are_recognised() -> None:
    report = Mldv2Report([MulticastAddressRecord(MldRecordType.CHANGE_TO_EXCLUDE, SITE_GROUP)])
    query = Mldv2Query()

    def valid(packet: bytes) -> bool:
        hdr, payload = Ipv6Header.parse(packet)
        chain = walk_extension_headers(hdr.next_header, payload)
        icmp_type = payload[chain.payload_offset]
        return is_valid_mld_packet(hdr, chain, icmp_type)

    assert valid(build_mld_packet(HOST_LL, ALL_MLDV2_ROUTERS, report))
    assert valid(build_mld_packet(UNSPECIFIED, ALL_MLDV2_ROUTERS, report))
    assert not valid(build_mld_packet(UNSPECIFIED, ALL_NODES, query))  # §5.1.14
    assert not valid(build_mld_packet(ROUTER, ALL_MLDV2_ROUTERS, report))
    icmp = report.build(src=HOST_LL, dst=ALL_MLDV2_ROUTERS)
    hop_limit_2 = Ipv6Header(HOST_LL, ALL_MLDV2_ROUTERS, 0, hop_limit=2)
    assert not valid(hop_limit_2.build(mld_hop_by_hop().build(icmp)))
    bare = Ipv6Header(HOST_LL, ALL_MLDV2_ROUTERS, NextHeader.ICMPV6, hop_limit=1)
    assert not valid(bare.build(icmp))
    other_alert = HopByHopOptions(58, [Ipv6Option(5, b"\x00\x01")])
    with_header = Ipv6Header(HOST_LL, ALL_MLDV2_ROUTERS, 0, hop_limit=1)
    assert not valid(with_header.build(other_alert.build(icmp)))
    no_alert = HopByHopOptions(58, [Ipv6Option(1, bytes(4))])
    assert not valid(with_header.build(no_alert.build(icmp)))


def test_query_length_decides_the_version() -> None:
    icmp, body = Icmpv6Header.parse(GENERAL_QUERY[48:])
    assert isinstance(parse_mld(icmp, body[:16]), Mldv1Message)  # 24 bytes
    for size in (17, 18, 19):  # 25 to 27 bytes: neither (RFC 3810 §8.1)
        with pytest.raises(DecodeError):
            parse_mld(icmp, body[:size])
    assert isinstance(parse_mld(icmp, body), Mldv2Query)
    # A query announcing a source it does not carry.
    with pytest.raises(DecodeError):
        parse_mld(icmp, bytes(body[:18]) + b"\x00\x01")


def test_other_types_are_rejected() -> None:
    icmp, body = Icmpv6Header.parse(JOIN[48:])
    for icmp_type in (128, 133, 144):
        icmp.type = icmp_type
        with pytest.raises(DecodeError):
            parse_mld(icmp, body)
    with pytest.raises(DecodeError):
        Mldv2Report.parse(V1_DONE[48:])
    with pytest.raises(DecodeError):
        Mldv2Query.parse(V1_DONE[48:])
    with pytest.raises(DecodeError):
        Mldv1Message.parse(JOIN[48:])


@pytest.mark.parametrize("packet", PACKETS)
def test_every_truncation_raises(packet: bytes) -> None:
    message = packet[48:]
    for cut in range(len(message)):
        try:
            result = parse_mld(*Icmpv6Header.parse(message[:cut]))
        except DecodeError:
            continue
        # The one shorter form the format allows: an MLDv2 query cut to an MLDv1 query.
        assert cut == 24 and isinstance(result, Mldv1Message) and result.type == 130


def test_aux_data_is_kept() -> None:
    record = MulticastAddressRecord(MldRecordType.MODE_IS_INCLUDE, SSM_GROUP, [ROUTER], b"abcd")
    data = Mldv2Report([record, record]).build(src=HOST_LL, dst=ALL_MLDV2_ROUTERS)
    assert data[8:12] == bytes.fromhex("01 01 0001")
    assert Mldv2Report.parse(data, src=HOST_LL, dst=ALL_MLDV2_ROUTERS).records == [record] * 2
    with pytest.raises(DecodeError):
        Mldv2Report.parse(data[:-1])


def test_builders_reject_impossible_values() -> None:
    bad: list[MldMessage] = [
        Mldv1Message(131, bytes(4)),
        Mldv1Message(130, UNSPECIFIED, 1 << 16),
        Mldv2Query(bytes(4)),
        Mldv2Query(max_response_code=1 << 16),
        Mldv2Query(qrv=8),
        Mldv2Query(qqic=256),
        Mldv2Query(sources=[bytes(4)]),
        Mldv2Report([MulticastAddressRecord(1, bytes(4))]),
        Mldv2Report([MulticastAddressRecord(256, SSM_GROUP)]),
        Mldv2Report([MulticastAddressRecord(1, SSM_GROUP, aux_data=b"abc")]),
    ]
    for message in bad:
        with pytest.raises(ValueError):
            message.build(src=HOST_LL, dst=ALL_MLDV2_ROUTERS)


@pytest.mark.parametrize(
    ("delay_ms", "code"),
    [
        (0, 0),
        (10000, 10000),
        (32767, 0x7FFF),
        (32768, 0x8000),  # mant 0, exp 0: 0x1000 << 3
        (65536, 0x9000),
        (8387584, 0xFFFF),  # the largest value
        (10**9, 0xFFFF),
    ],
)
def test_maximum_response_code_encoding(delay_ms: int, code: int) -> None:
    assert encode_max_response_code(delay_ms) == code
    assert decode_max_response_code(code) == min(delay_ms, 8387584)


@pytest.mark.parametrize(
    ("interval", "code"),
    [(0, 0), (125, 125), (127, 0x7F), (128, 0x80), (256, 0x90), (31744, 0xFF), (99999, 0xFF)],
)
def test_qqic_encoding(interval: int, code: int) -> None:
    assert encode_qqic(interval) == code
    assert decode_qqic(code) == min(interval, 31744)


def test_codes() -> None:
    assert [t.value for t in MldRecordType] == [1, 2, 3, 4, 5, 6]
    assert MLD_ROUTER_ALERT == 0


# --- properties -----------------------------------------------------------------------------

addresses = st.binary(min_size=16, max_size=16)
source_lists = st.lists(addresses, max_size=4)
records = st.builds(
    MulticastAddressRecord,
    st.integers(0, 255),
    addresses,
    source_lists,
    st.integers(0, 3).map(lambda n: b"\xaa" * 4 * n),
)
messages = st.one_of(
    st.builds(Mldv1Message, st.sampled_from([130, 131, 132]), addresses, st.integers(0, 0xFFFF)),
    st.builds(
        Mldv2Query,
        addresses,
        st.integers(0, 0xFFFF),
        st.booleans(),
        st.integers(0, 7),
        st.integers(0, 255),
        source_lists,
    ),
    st.builds(Mldv2Report, st.lists(records, max_size=4)),
)


@settings(max_examples=300)
@given(messages, addresses, addresses)
def test_messages_round_trip(message: MldMessage, src: bytes, dst: bytes) -> None:
    data = message.build(src=src, dst=dst)
    icmp, body = Icmpv6Header.parse(data, src=src, dst=dst)
    assert parse_mld(icmp, body) == message
    packet = build_mld_packet(src, dst, message)
    hdr, payload = Ipv6Header.parse(packet)
    chain = walk_extension_headers(hdr.next_header, payload)
    assert bytes(payload[chain.payload_offset :]) == data


@given(st.integers(0, 10**7))
def test_maximum_response_code_rounds_down_within_an_eighth_of_a_percent(delay: int) -> None:
    code = encode_max_response_code(delay)
    assert 0 <= code <= 0xFFFF
    decoded = decode_max_response_code(code)
    assert decoded <= delay
    assert decoded == 8387584 or delay - decoded < max(delay >> 12, 1)


@given(st.integers(0, 10**5))
def test_qqic_rounds_down_within_a_sixteenth(interval: int) -> None:
    code = encode_qqic(interval)
    assert 0 <= code <= 0xFF
    decoded = decode_qqic(code)
    assert decoded <= interval
    assert decoded == 31744 or interval - decoded < max(interval >> 4, 1)


@settings(max_examples=300)
@given(st.sampled_from([130, 131, 132, 143]), st.integers(0, 0xFFFFFFFF), st.binary(max_size=90))
def test_arbitrary_messages_raise_only_decode_error(icmp_type: int, rest: int, body: bytes) -> None:
    try:
        message = parse_mld(Icmpv6Header(icmp_type, 0, rest), body)
    except DecodeError:
        return
    assert message.build(src=UNSPECIFIED, dst=UNSPECIFIED)[0] == icmp_type


@settings(max_examples=300)
@given(
    st.sampled_from(PACKETS),
    st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=4),
    st.integers(0, 120),
)
def test_mutated_vectors_raise_only_decode_error(
    packet: bytes, edits: list[tuple[int, int]], keep: int
) -> None:
    data = bytearray(packet[: 40 + keep])
    for index, value in edits:
        if index < len(data):
            data[index] = value
    try:
        hdr, payload = Ipv6Header.parse(data)
        chain = walk_extension_headers(hdr.next_header, payload)
        icmp, body = Icmpv6Header.parse(payload[chain.payload_offset :])
        message = parse_mld(icmp, body)
    except DecodeError:
        return
    is_valid_mld_packet(hdr, chain, icmp.type)  # decides without raising
    assert message.build(src=hdr.src, dst=hdr.dst)[0] == icmp.type
