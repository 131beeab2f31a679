"""Neighbor Discovery (RFC 4861) with the options of RFC 8106, RFC 4191 and RFC 3971.

Unless noted otherwise the vectors are IPv6 packets captured from the Linux kernel (6.18),
rdisc6/ndisc6 and radvd 2.19 with tcpdump on a veth between network namespaces: a host
fe80::ff:fe00:a / fd00:1::a (02:00:00:00:00:0a), a router fe80::ff:fe00:b / fd00:1::1
(02:00:00:00:00:0b) running radvd, and a host fd00:1::c (02:00:00:00:00:0c). tshark 4.0
agrees with every field asserted here.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import ChecksumError, DecodeError
from netstack.wire.icmpv6 import Icmpv6Header, Icmpv6Type
from netstack.wire.ipv6 import (
    ALL_NODES,
    ALL_ROUTERS,
    UNSPECIFIED,
    Ipv6Header,
    ip6_from_str,
    link_local_from_mac,
    solicited_node_multicast,
)
from netstack.wire.ndp import (
    INFINITE_LIFETIME,
    DnsSearchList,
    MtuOption,
    NdMessage,
    NdOption,
    NdOptionType,
    NeighborAdvertisement,
    NeighborSolicitation,
    Nonce,
    PrefixFlags,
    PrefixInformation,
    RaFlags,
    RecursiveDnsServer,
    Redirect,
    RedirectedHeader,
    RouteInformation,
    RouterAdvertisement,
    RouterPreference,
    RouterSolicitation,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    UnknownOption,
    build_options,
    parse_nd,
    parse_options,
)

HOST_MAC = bytes.fromhex("02000000000a")
ROUTER_MAC = bytes.fromhex("02000000000b")
PEER_MAC = bytes.fromhex("02000000000c")
HOST_LL = ip6_from_str("fe80::ff:fe00:a")
ROUTER_LL = ip6_from_str("fe80::ff:fe00:b")
PEER_LL = ip6_from_str("fe80::ff:fe00:c")
HOST = ip6_from_str("fd00:1::a")
ROUTER = ip6_from_str("fd00:1::1")
PEER = ip6_from_str("fd00:1::c")

# The kernel's Router Solicitation when the link came up, with its link-layer address.
RS_KERNEL = bytes.fromhex(
    "60000000 0010 3a ff"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000002"
    "85007b1a 00000000 010102000000000a"
)

# `rdisc6 -1 a0`: a Router Solicitation without options.
RS_RDISC6 = bytes.fromhex(
    "60041bbc 0008 3a ff"
    "fe80000000000000000000fffe00000a ff020000000000000000000000000002"
    "85007e2d 00000000"
)

# radvd's multicast Router Advertisement: hop limit 64, O flag, preference high, lifetime
# 30 s, reachable time 30 s, retrans timer 1 s; Prefix Information fd00:1::/64 (L, A,
# valid 86400 s, preferred 14400 s), Route Information fd00:2::/64 (medium, 1800 s),
# RDNSS fd00:1::53 fd00:1::54 and DNSSL netstack.test example.org (600 s), MTU 1500 and
# the router's link-layer address.
RA = bytes.fromhex(
    "60070b7e 00a8 3a ff"
    "fe80000000000000000000fffe00000b ff020000000000000000000000000001"
    "86004ec2 4048001e 00007530 000003e8"
    "0304 40c0 00015180 00003840 00000000 fd000001000000000000000000000000"
    "1803 4000 00000708 fd000002000000000000000000000000"
    "1905 0000 00000258 fd000001000000000000000000000053 fd000001000000000000000000000054"
    "1f05 0000 00000258 086e6574737461636b 0474657374 00 076578616d706c65 036f7267 00 00000000"
    "0501 0000 000005dc"
    "0101 02000000000b"
)

# radvd's reply to RS_RDISC6, sent to the host's link-local address.
RA_UNICAST = (
    bytes.fromhex(
        "600f2eac 00a8 3a ff"
        "fe80000000000000000000fffe00000b fe80000000000000000000fffe00000a"
        "8600503b 4048001e 00007530 000003e8"
    )
    + RA[56:]
)

# Duplicate Address Detection of fe80::ff:fe00:a: from ::, to the solicited-node group,
# with the Nonce option Linux adds (RFC 7527 enhanced DAD).
NS_DAD = bytes.fromhex(
    "60000000 0020 3a ff"
    "00000000000000000000000000000000 ff0200000000000000000001ff00000a"
    "8700c974 00000000 fe80000000000000000000fffe00000a 0e01fcc5410967c6"
)

# `ndisc6 -1 fd00:1::1 a0`: address resolution from the link-local address.
NS_NDISC6 = bytes.fromhex(
    "600a7e33 0020 3a ff"
    "fe80000000000000000000fffe00000a ff0200000000000000000001ff000001"
    "87007d06 00000000 fd000001000000000000000000000001 010102000000000a"
)

# The kernel resolving fd00:1::1 before `ping`, from its global address.
NS_KERNEL = bytes.fromhex(
    "60000000 0020 3a ff"
    "fd00000100000000000000000000000a ff0200000000000000000001ff000001"
    "87007d85 00000000 fd000001000000000000000000000001 010102000000000a"
)

# The router's answer to NS_NDISC6: Router, Solicited and Override with its address.
NA_ROUTER = bytes.fromhex(
    "60000000 0020 3a ff"
    "fd000001000000000000000000000001 fe80000000000000000000fffe00000a"
    "88009c07 e0000000 fd000001000000000000000000000001 020102000000000b"
)

# The host answering a unicast reachability probe: Solicited only, no option.
NA_PROBE_REPLY = bytes.fromhex(
    "60000000 0018 3a ff"
    "fe80000000000000000000fffe00000a fe80000000000000000000fffe00000b"
    "88003f0b 40000000 fe80000000000000000000fffe00000a"
)

# An unsolicited Neighbor Advertisement to all nodes (net.ipv6.conf.c0.ndisc_notify=1).
NA_UNSOLICITED = bytes.fromhex(
    "60000000 0020 3a ff"
    "fe80000000000000000000fffe00000c ff020000000000000000000000000001"
    "8800597a 20000000 fe80000000000000000000fffe00000c 020102000000000c"
)

# The router's Redirect after the host sent it an echo request for its on-link neighbour
# fd00:1::c: target = destination, the neighbour's link-layer address, and the whole
# 104-byte echo request in a Redirected Header option.
REDIRECTED_ECHO = bytes.fromhex(
    "600c2fb8 0040 3a 40"
    "fd00000100000000000000000000000a fd00000100000000000000000000000c"
    "80006d6f39bb00016f0e066b00000000a2f3070000000000101112131415161718191a1b1c1d1e1f20212223"
    "2425262728292a2b2c2d2e2f3031323334353637"
)
REDIRECT = (
    bytes.fromhex(
        "60000000 00a0 3a ff"
        "fe80000000000000000000fffe00000b fd00000100000000000000000000000a"
        "8900af8b 00000000 fd00000100000000000000000000000c fd00000100000000000000000000000c"
        "0201 02000000000c"
        "040e 000000000000"
    )
    + REDIRECTED_ECHO
)

# A Neighbor Solicitation on an IEEE 802.15.4 link: the Source Link-Layer Address option
# carries an EUI-64 in 16 bytes, six of them padding (RFC 4944 §8).
# Constructed from the RFCs; the checksum is cross-checked with an independent sum below.
NS_EUI64 = bytes.fromhex(
    "60000000 0028 3a ff"
    "fe80000000000000001122fffe334455 ff0200000000000000000001ff020304"
    "870073c4 00000000 fe8000000000000002124b0001020304"
    "0102 00124b0001020304 000000000000"
)

PACKETS = [
    RS_KERNEL,
    RS_RDISC6,
    RA,
    RA_UNICAST,
    NS_DAD,
    NS_NDISC6,
    NS_KERNEL,
    NA_ROUTER,
    NA_PROBE_REPLY,
    NA_UNSOLICITED,
    REDIRECT,
    NS_EUI64,
]


def _message(packet: bytes) -> tuple[Ipv6Header, NdMessage]:
    hdr, payload = Ipv6Header.parse(packet)
    assert (hdr.next_header, hdr.hop_limit) == (58, 255)  # RFC 4861 §6.1, §7.1
    icmp, body = Icmpv6Header.parse(payload, src=hdr.src, dst=hdr.dst)
    return hdr, parse_nd(icmp, body)


def _reference_checksum_ok(message: bytes, src: bytes, dst: bytes) -> bool:
    """RFC 1071 with a word loop over the RFC 8200 §8.1 pseudo-header."""
    data = src + dst + len(message).to_bytes(4, "big") + bytes((0, 0, 0, 58)) + message
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


# --- captured messages ----------------------------------------------------------------------


def test_kernel_router_solicitation() -> None:
    hdr, message = _message(RS_KERNEL)
    assert (hdr.src, hdr.dst) == (HOST_LL, ALL_ROUTERS)
    assert message == RouterSolicitation([SourceLinkLayerAddress(HOST_MAC)])
    assert message.source_link_layer_address == HOST_MAC
    assert message.target_link_layer_address is None


def test_rdisc6_router_solicitation_has_no_options() -> None:
    _, message = _message(RS_RDISC6)
    assert message == RouterSolicitation()
    assert message.source_link_layer_address is None


def test_router_advertisement_from_radvd() -> None:
    hdr, message = _message(RA)
    assert (hdr.src, hdr.dst) == (ROUTER_LL, ALL_NODES)
    assert isinstance(message, RouterAdvertisement)
    assert message.cur_hop_limit == 64
    assert message.flags == RaFlags.OTHER | RouterPreference.HIGH << 3
    assert (message.managed, message.other) == (False, True)
    assert message.preference == RouterPreference.HIGH
    assert message.router_lifetime == 30
    assert (message.reachable_time, message.retrans_timer) == (30000, 1000)
    assert message.options == [
        PrefixInformation(
            64, PrefixFlags.ON_LINK | PrefixFlags.AUTONOMOUS, 86400, 14400, ip6_from_str("fd00:1::")
        ),
        RouteInformation(64, RouterPreference.MEDIUM, 1800, ip6_from_str("fd00:2::")),
        RecursiveDnsServer(600, [ip6_from_str("fd00:1::53"), ip6_from_str("fd00:1::54")]),
        DnsSearchList(600, ["netstack.test", "example.org"]),
        MtuOption(1500),
        SourceLinkLayerAddress(ROUTER_MAC),
    ]
    prefix = message.option(PrefixInformation)
    assert prefix is not None and prefix.on_link and prefix.autonomous
    route = message.option(RouteInformation)
    assert route is not None and route.valid  # radvd sends a /64 in a 24-byte option
    assert message.source_link_layer_address == ROUTER_MAC


def test_unicast_advertisement_carries_the_same_body() -> None:
    hdr, unicast = _message(RA_UNICAST)
    assert hdr.dst == HOST_LL
    assert unicast == _message(RA)[1]


def test_duplicate_address_detection_probe() -> None:
    hdr, message = _message(NS_DAD)
    assert hdr.src == UNSPECIFIED
    assert hdr.dst == solicited_node_multicast(HOST_LL)
    assert isinstance(message, NeighborSolicitation)
    assert message.target == HOST_LL == link_local_from_mac(HOST_MAC)
    assert message.nonce == bytes.fromhex("fcc5410967c6")
    assert message.source_link_layer_address is None  # never from :: (RFC 4861 §4.3)


@pytest.mark.parametrize(("packet", "src"), [(NS_NDISC6, HOST_LL), (NS_KERNEL, HOST)])
def test_address_resolution_solicitations(packet: bytes, src: bytes) -> None:
    hdr, message = _message(packet)
    assert hdr.src == src
    assert hdr.dst == solicited_node_multicast(ROUTER)
    assert message == NeighborSolicitation(ROUTER, [SourceLinkLayerAddress(HOST_MAC)])
    assert isinstance(message, NeighborSolicitation) and message.nonce is None


def test_solicited_advertisement_from_the_router() -> None:
    _, message = _message(NA_ROUTER)
    assert message == NeighborAdvertisement(
        ROUTER,
        router=True,
        solicited=True,
        override=True,
        options=[TargetLinkLayerAddress(ROUTER_MAC)],
    )
    assert message.target_link_layer_address == ROUTER_MAC


def test_advertisement_answering_a_probe_has_no_option() -> None:
    _, message = _message(NA_PROBE_REPLY)
    assert message == NeighborAdvertisement(HOST_LL, solicited=True)


def test_unsolicited_advertisement() -> None:
    hdr, message = _message(NA_UNSOLICITED)
    assert hdr.dst == ALL_NODES
    assert message == NeighborAdvertisement(
        PEER_LL, override=True, options=[TargetLinkLayerAddress(PEER_MAC)]
    )


def test_redirect_to_an_on_link_neighbour() -> None:
    hdr, message = _message(REDIRECT)
    assert (hdr.src, hdr.dst) == (ROUTER_LL, HOST)  # RFC 4861 §4.5: from the link-local
    assert isinstance(message, Redirect)
    assert message.target == message.destination == PEER
    assert message.target_link_layer_address == PEER_MAC
    assert message.redirected_packet == REDIRECTED_ECHO
    inner, _ = Ipv6Header.parse(REDIRECTED_ECHO)
    assert (inner.src, inner.dst, inner.flow_label) == (HOST, PEER, 0xC2FB8)


def test_eui64_link_layer_address_option() -> None:
    hdr, message = _message(NS_EUI64)
    assert message.source_link_layer_address == bytes.fromhex("00124b0001020304")
    assert hdr.src == link_local_from_mac(bytes.fromhex("021122334455"))
    assert isinstance(message, NeighborSolicitation)
    assert hdr.dst == solicited_node_multicast(message.target)
    assert _reference_checksum_ok(NS_EUI64[40:], hdr.src, hdr.dst)
    built = NeighborSolicitation(
        ip6_from_str("fe80::212:4b00:102:304"),
        [SourceLinkLayerAddress(bytes.fromhex("00124b0001020304"))],
    ).build(src=hdr.src, dst=hdr.dst)
    assert built == NS_EUI64[40:]


@pytest.mark.parametrize("packet", PACKETS)
def test_every_vector_rebuilds_byte_exact(packet: bytes) -> None:
    hdr, message = _message(packet)
    assert hdr.build(message.build(src=hdr.src, dst=hdr.dst)) == packet


def test_messages_built_from_fields_match_the_kernels() -> None:
    ra = RouterAdvertisement(
        cur_hop_limit=64,
        flags=RaFlags.OTHER | RouterPreference.HIGH << 3,
        router_lifetime=30,
        reachable_time=30000,
        retrans_timer=1000,
        options=_message(RA)[1].options,
    )
    assert ra.build(src=ROUTER_LL, dst=ALL_NODES) == RA[40:]
    solicitation = NeighborSolicitation(ROUTER, [SourceLinkLayerAddress(HOST_MAC)])
    assert solicitation.build(src=HOST, dst=solicited_node_multicast(ROUTER)) == NS_KERNEL[40:]
    header, payload = solicitation.to_icmp()
    assert header == Icmpv6Header(Icmpv6Type.NEIGHBOR_SOLICITATION)
    assert payload == NS_KERNEL[48:]
    dad = NeighborSolicitation(HOST_LL, [Nonce(bytes.fromhex("fcc5410967c6"))])
    assert dad.build(src=UNSPECIFIED, dst=solicited_node_multicast(HOST_LL)) == NS_DAD[40:]


def test_single_class_parse_checks_type_and_checksum() -> None:
    assert RouterSolicitation.parse(RS_KERNEL[40:], src=HOST_LL, dst=ALL_ROUTERS).options
    with pytest.raises(ChecksumError):
        RouterSolicitation.parse(RS_KERNEL[40:], src=HOST, dst=ALL_ROUTERS)
    with pytest.raises(DecodeError):
        RouterAdvertisement.parse(RS_KERNEL[40:])
    icmp, body = Icmpv6Header.parse(RS_KERNEL[40:])
    with pytest.raises(DecodeError):
        NeighborSolicitation.from_icmp(icmp, body)


def test_nonzero_code_is_rejected() -> None:
    for packet in (RS_KERNEL, RA, NS_KERNEL, NA_ROUTER, REDIRECT):
        icmp, body = Icmpv6Header.parse(packet[40:])
        icmp.code = 1  # RFC 4861 §6.1.1 ff.: the ICMP code must be 0
        with pytest.raises(DecodeError):
            parse_nd(icmp, body)


def test_non_nd_types_are_rejected() -> None:
    icmp, body = Icmpv6Header.parse(RS_KERNEL[40:])
    for icmp_type in (128, 130, 143, 138):
        icmp.type = icmp_type
        with pytest.raises(DecodeError):
            parse_nd(icmp, body)


@pytest.mark.parametrize("packet", PACKETS)
def test_every_truncation_raises_or_drops_whole_options(packet: bytes) -> None:
    message = packet[40:]
    full = parse_nd(*Icmpv6Header.parse(message))
    for cut in range(len(message)):
        try:
            icmp, body = Icmpv6Header.parse(message[:cut])
            shorter = parse_nd(icmp, body)
        except DecodeError:
            continue
        # Valid only when cut at an option boundary: the same message with fewer options.
        assert shorter.options == full.options[: len(shorter.options)]
        assert len(shorter.options) < len(full.options)
        assert (
            shorter.build(src=UNSPECIFIED, dst=UNSPECIFIED, fill_checksum=False)[4:]
            == (message[4:cut])
        )


# --- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("0100 000000000000", "length 0"),
        ("0102 02000000000a", "runs past the data"),
        ("0101 02000000000a 01", "a lone type byte"),
        ("0303 " + "00" * 22, "prefix information of 24 bytes"),
        ("0502 " + "00" * 14, "MTU option of 16 bytes"),
        ("1902 0000 00000258 " + "00" * 8, "RDNSS without a whole address"),
        ("1904 0000 00000258 " + "00" * 24, "RDNSS of even length"),
        ("1f01 0000 00000258", "DNSSL of 8 bytes"),
        ("1f02 0000 00000258 c00c000000000000", "DNSSL with a compression pointer"),
        ("1f02 0000 00000258 03ff6262 00 000000", "DNSSL label not ASCII"),
        ("1f02 0000 00000258 03612e62 00 000000", "DNSSL label with a dot"),
        ("1f02 0000 00000258 0361626300 000001", "DNSSL padding not zero"),
        ("1f02 0000 00000258 0761626364656667", "DNSSL name without its end"),
        ("1f02 0000 00000258 0a61626364656667", "DNSSL label past the option"),
        ("1f02 0000 00000258 0000000000000000", "DNSSL without a name"),
        ("1804 " + "00" * 30, "route information of 32 bytes"),
    ],
)
def test_malformed_options_raise(data: str, reason: str) -> None:
    with pytest.raises(DecodeError):
        parse_options(bytes.fromhex(data))


def test_link_layer_address_lengths() -> None:
    six = parse_options(bytes.fromhex("0101 02000000000a"))
    assert six == [SourceLinkLayerAddress(HOST_MAC)]
    eui64 = parse_options(bytes.fromhex("0202 00124b0001020304 000000000000"))
    assert eui64 == [TargetLinkLayerAddress(bytes.fromhex("00124b0001020304"))]
    # Fourteen bytes that are not an EUI-64 and padding stay whole.
    other = bytes.fromhex("0102030405060708090a0b0c0d0e")
    assert parse_options(b"\x01\x02" + other) == [SourceLinkLayerAddress(other)]
    for option in (SourceLinkLayerAddress(HOST_MAC), TargetLinkLayerAddress(other)):
        assert parse_options(option.build()) == [option]
    with pytest.raises(ValueError):
        SourceLinkLayerAddress(b"").build()


def test_route_information_prefix_lengths() -> None:
    default = RouteInformation(0, RouterPreference.LOW, INFINITE_LIFETIME)
    assert default.build() == bytes.fromhex("1801 0018 ffffffff")
    assert parse_options(default.build()) == [default]
    short = RouteInformation(48, RouterPreference.HIGH, 60, bytes.fromhex("20010db800010000"))
    assert short.build()[:2] == b"\x18\x02" and short.valid
    assert parse_options(short.build()) == [short]
    # RFC 4191 §2.3: a prefix length longer than the prefix carried is to be ignored.
    bad = parse_options(bytes.fromhex("1802 4100 0000003c 20010db800010000"))[0]
    assert isinstance(bad, RouteInformation) and not bad.valid
    with pytest.raises(ValueError):
        RouteInformation(64, 0, 0, bytes(4)).build()
    with pytest.raises(ValueError):
        RouteInformation(64, 4, 0).build()


def test_unknown_options_are_preserved() -> None:
    # An Address Registration option (RFC 6775 §4.1, type 33) is not decoded here.
    data = bytes.fromhex("2102 0000 0000 0e10 00124b0001020304")
    options = parse_options(data)
    assert options == [UnknownOption(33, data[2:])]
    assert build_options(options) == data


def test_redirected_header_is_padded_on_build() -> None:
    option = RedirectedHeader(bytes(range(13)))
    data = option.build()
    assert data[:2] == b"\x04\x03" and len(data) == 24
    assert parse_options(data) == [RedirectedHeader(bytes(range(13)) + bytes(3))]


def test_option_builders_reject_impossible_values() -> None:
    bad: list[NdOption] = [
        PrefixInformation(64, 0xC0, 1, 1, bytes(8)),
        PrefixInformation(256, 0xC0, 1, 1, bytes(16)),
        MtuOption(1 << 32),
        Nonce(bytes(5)),
        RecursiveDnsServer(600, []),
        RecursiveDnsServer(600, [bytes(4)]),
        RecursiveDnsServer(-1, [bytes(16)]),
        DnsSearchList(600, []),
        DnsSearchList(600, [""]),
        DnsSearchList(600, ["a..b"]),
        DnsSearchList(600, ["x" * 64 + ".org"]),
        DnsSearchList(600, [".".join(["abcdefgh"] * 30)]),
        DnsSearchList(600, ["bücher.example"]),
        DnsSearchList(1 << 32, ["example.org"]),
        UnknownOption(33, bytes(5)),
        RedirectedHeader(bytes(2048)),
    ]
    for option in bad:
        with pytest.raises(ValueError):
            option.build()


def test_message_builders_reject_impossible_values() -> None:
    bad: list[NdMessage] = [
        RouterAdvertisement(cur_hop_limit=256),
        RouterAdvertisement(router_lifetime=1 << 16),
        RouterAdvertisement(reachable_time=1 << 32),
        NeighborSolicitation(bytes(4)),
        NeighborAdvertisement(bytes(4)),
        Redirect(bytes(16), bytes(4)),
    ]
    for message in bad:
        with pytest.raises(ValueError):
            message.build(src=HOST, dst=ROUTER)


def test_dnssl_accepts_a_final_dot() -> None:
    assert DnsSearchList(1, ["example.org."]).build() == DnsSearchList(1, ["example.org"]).build()


def test_codes() -> None:
    assert [t.value for t in NdOptionType] == [1, 2, 3, 4, 5, 14, 24, 25, 31]
    assert [p.value for p in RouterPreference] == [0, 1, 2, 3]
    assert (RaFlags.MANAGED, RaFlags.OTHER, RaFlags.HOME_AGENT, RaFlags.PROXY) == (
        0x80,
        0x40,
        0x20,
        0x04,
    )
    assert (PrefixFlags.ON_LINK, PrefixFlags.AUTONOMOUS, PrefixFlags.ROUTER_ADDRESS) == (
        0x80,
        0x40,
        0x20,
    )


# --- properties -----------------------------------------------------------------------------

addresses = st.binary(min_size=16, max_size=16)
u32 = st.integers(0, 0xFFFFFFFF)
labels = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)
options = st.lists(
    st.one_of(
        st.builds(SourceLinkLayerAddress, st.binary(min_size=6, max_size=6)),
        st.builds(TargetLinkLayerAddress, st.binary(min_size=8, max_size=8)),
        st.builds(PrefixInformation, st.integers(0, 128), st.integers(0, 255), u32, u32, addresses),
        st.builds(RedirectedHeader, st.binary(max_size=10).map(lambda b: b + bytes(-len(b) % 8))),
        st.builds(MtuOption, u32),
        st.builds(
            Nonce, st.sampled_from([6, 14]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
        ),
        st.builds(
            RouteInformation,
            st.integers(0, 255),
            st.integers(0, 3),
            u32,
            st.sampled_from([0, 8, 16]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
        ),
        st.builds(RecursiveDnsServer, u32, st.lists(addresses, min_size=1, max_size=3)),
        st.builds(DnsSearchList, u32, st.lists(domains, min_size=1, max_size=3)),
        st.builds(
            UnknownOption,
            st.sampled_from([0, 6, 33, 200, 255]),
            st.sampled_from([6, 14]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
        ),
    ),
    max_size=5,
)
messages = st.one_of(
    st.builds(RouterSolicitation, options),
    st.builds(
        RouterAdvertisement,
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 0xFFFF),
        u32,
        u32,
        options,
    ),
    st.builds(NeighborSolicitation, addresses, options),
    st.builds(
        NeighborAdvertisement, addresses, st.booleans(), st.booleans(), st.booleans(), options
    ),
    st.builds(Redirect, addresses, addresses, options),
)


@settings(max_examples=300)
@given(messages, addresses, addresses)
def test_messages_round_trip(message: NdMessage, src: bytes, dst: bytes) -> None:
    data = message.build(src=src, dst=dst)
    assert _reference_checksum_ok(data, src, dst)
    icmp, body = Icmpv6Header.parse(data, src=src, dst=dst)
    assert parse_nd(icmp, body) == message
    assert type(message).parse(data, src=src, dst=dst) == message


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_arbitrary_options_raise_only_decode_error(data: bytes) -> None:
    try:
        parsed = parse_options(data)
    except DecodeError:
        return
    assert len(build_options(parsed)) <= len(data) + 8 * len(parsed)


@settings(max_examples=300)
@given(st.integers(133, 137), u32, st.binary(max_size=80))
def test_arbitrary_messages_raise_only_decode_error(icmp_type: int, rest: int, body: bytes) -> None:
    try:
        message = parse_nd(Icmpv6Header(icmp_type, 0, rest), body)
    except DecodeError:
        return
    assert icmp_type == message.TYPE


@settings(max_examples=300)
@given(
    st.sampled_from(PACKETS),
    st.lists(st.tuples(st.integers(0, 220), st.integers(0, 255)), max_size=4),
    st.integers(0, 220),
)
def test_mutated_vectors_raise_only_decode_error(
    packet: bytes, edits: list[tuple[int, int]], keep: int
) -> None:
    data = bytearray(packet[40 : 40 + keep])
    for index, value in edits:
        if index < len(data):
            data[index] = value
    try:
        message = parse_nd(*Icmpv6Header.parse(data))
    except DecodeError:
        return
    assert data[0] == message.TYPE
