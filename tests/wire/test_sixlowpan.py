"""6LoWPAN (RFC 4944) with LOWPAN_IPHC/LOWPAN_NHC (RFC 6282): byte vectors, round trips,
fragmentation and decoder fuzzing.

The IPHC vectors below were derived by hand from the field layouts of RFC 6282 §3-§4 (the
comment above each spells the encoding bits out); the UDP checksums inside them were
computed by ``netstack.wire.udp``. ``test_sixlowpan_tshark.py`` feeds every vector to
tshark 4.0, which decodes each to the original packet and finds the checksums good.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from netstack.wire import DecodeError
from netstack.wire.ipv6 import (
    DestinationOptions,
    FragmentHeader,
    HopByHopOptions,
    Ipv6Header,
    Ipv6Option,
    RoutingHeader,
    ip6_from_str,
)
from netstack.wire.sixlowpan import (
    BroadcastHeader,
    DecompressedHeaders,
    Dispatch,
    Frag1Header,
    FragnHeader,
    LowpanContext,
    LowpanHeaders,
    MeshHeader,
    classify,
    compress_headers,
    compress_ipv6,
    decompress_iphc,
    decompress_ipv6,
    decrement_hops_left,
    fragment_datagram,
    iid_from_extended,
    iid_from_mac,
    iid_from_short,
    link_local_from_mac,
)
from netstack.wire.sixlowpan_nhc import NhcExtensionId, next_header_of
from netstack.wire.udp import UdpHeader

SRC_MAC = bytes.fromhex("0011223344556677")  # extended; IID 0211:2233:4455:6677
DST_MAC = bytes.fromhex("8899aabbccddeeff")  # extended; IID 8a99:aabb:ccdd:eeff
LL_SRC = ip6_from_str("fe80::211:2233:4455:6677")
LL_DST = ip6_from_str("fe80::8a99:aabb:ccdd:eeff")
CONTEXTS = {
    0: LowpanContext.from_string("2001:db8::/64"),
    1: LowpanContext.from_string("2001:db8:1::/64"),
    2: LowpanContext.from_string("2001:db8:2::/64"),
    3: LowpanContext.from_string("2001:db8:3::1:0/112"),
}


def addr(value: str | bytes) -> bytes:
    return ip6_from_str(value) if isinstance(value, str) else value


def udp6(
    src: str | bytes,
    dst: str | bytes,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    hlim: int = 64,
    tc: int = 0,
    fl: int = 0,
) -> bytes:
    """An IPv6/UDP packet with a correct checksum."""
    s, d = addr(src), addr(dst)
    udp = UdpHeader(sport, dport).build(payload, src=s, dst=d)
    return Ipv6Header(s, d, 17, hlim, tc, fl).build(udp)


_EXT_UDP = UdpHeader(50001, 50002).build(b"ext", src=LL_SRC, dst=LL_DST)


@dataclass(frozen=True)
class Vector:
    """A packet and its 6LoWPAN payload (LOWPAN_IPHC dispatch first)."""

    name: str
    packet: bytes
    lowpan: str
    contexts: dict[int, LowpanContext] = field(default_factory=dict)
    src_mac: bytes = SRC_MAC
    dst_mac: bytes = DST_MAC
    elide_udp_checksum: bool = False
    nhc: bool = True

    @property
    def encoded(self) -> bytes:
        return bytes.fromhex(self.lowpan)


VECTORS = [
    # 011 TF=11 NH=1 HLIM=10 | CID=0 SAC=0 SAM=11 M=0 DAC=0 DAM=11: both IIDs from the MAC
    # addresses; UDP NHC 11110 C=0 P=11, ports 0xF0B1/0xF0B2 as nibbles 1|2, checksum in-line.
    Vector(
        "link-local from MAC, UDP 4-bit ports",
        udp6(LL_SRC, LL_DST, 0xF0B1, 0xF0B2, b"hello"),
        "7e33 f3 12 1d58 68656c6c6f",
    ),
    # The same with C=1: checksum elided (the caller allowed it, RFC 6282 §4.3.2).
    Vector(
        "UDP checksum elided",
        udp6(LL_SRC, LL_DST, 0xF0B1, 0xF0B2, b"hello"),
        "7e33 f7 12 68656c6c6f",
        elide_udp_checksum=True,
    ),
    # 011 TF=00 NH=0 HLIM=00 | SAC=0 SAM=01 M=0 DAC=0 DAM=10. TF=00: ECN|DSCP = 10|001011
    # (traffic class 0x2e rotated), 4 reserved bits, flow label 0x12345; next header 17 and
    # hop limit 3 in-line; source IID (64 bits), destination fe80::ff:fe00:beef as 16 bits;
    # the UDP header follows uncompressed.
    Vector(
        "TF=00, next header and hop limit in-line, SAM=01, DAM=10",
        udp6(
            "fe80::1234:5678:9abc:def0",
            "fe80::ff:fe00:beef",
            50001,
            50002,
            b"tf00",
            hlim=3,
            tc=0x2E,
            fl=0x12345,
        ),
        "6012 8b012345 11 03 123456789abcdef0 beef c351c352000c3750 74663030",
        nhc=False,
    ),
    # 011 TF=01 NH=1 HLIM=01 | SAC=0 SAM=00 M=1 DAC=0 DAM=11. TF=01: ECN=01, 2 reserved
    # bits, flow label 0xabcde (DSCP 0 elided); full source; ff02::1 as its last octet.
    Vector(
        "TF=01, hop limit 1, source in-line, ff02::XX",
        udp6("2001:db8::1", "ff02::1", 50001, 50002, b"tf01", hlim=1, tc=0x01, fl=0xABCDE),
        "6d0b 4abcde 20010db8000000000000000000000001 01 f0 c351 c352 a7dc 74663031",
    ),
    # 011 TF=10 NH=1 HLIM=11 | SAC=0 SAM=11 M=1 DAC=0 DAM=10. TF=10: ECN|DSCP = 00|101110
    # (EF, 0xb8); ff05::1:3 as flags/scope 05 and 24 bits 010003.
    Vector(
        "TF=10, hop limit 255, ffXX::00XX:XXXX",
        udp6(LL_SRC, "ff05::1:3", 50001, 50002, b"tf10", hlim=255, tc=0xB8),
        "773a 2e 05010003 f0 c351 c352 0700 74663130",
    ),
    # 011 TF=11 NH=1 HLIM=11 | SAC=1 SAM=00 (the unspecified address) M=1 DAC=0 DAM=01:
    # ff02::1:ff00:1234 as 02 and 40 bits 01ff001234.
    Vector(
        "unspecified source, ffXX::00XX:XXXX:XXXX",
        udp6("::", "ff02::1:ff00:1234", 50001, 50002, b"dad", hlim=255),
        "7f49 02 01ff001234 f0 c351 c352 a099 646164",
    ),
    # SAC=0 SAM=11 M=1 DAC=0 DAM=00: a multicast address with no short form, in-line.
    # UDP P=01: source port in-line, destination 0xF012 as 12.
    Vector(
        "multicast in-line, UDP 8-bit destination port",
        udp6(LL_SRC, "ff0e:1::1", 50001, 0xF012, b"p01"),
        "7e38 ff0e0001000000000000000000000001 f1 c351 12 dea0 703031",
    ),
    # UDP P=10: source 0xF034 as 34, destination in-line.
    Vector(
        "UDP 8-bit source port",
        udp6(LL_SRC, LL_DST, 0xF034, 50002, b"p10"),
        "7e33 f2 34 c352 eed9 703130",
    ),
    # SAC=1 SAM=11: context 0 + IID from the MAC; DAC=1 DAM=10: context 0 + ::ff:fe00:beef.
    Vector(
        "context 0, SAM=11 and DAM=10",
        udp6("2001:db8::211:2233:4455:6677", "2001:db8::ff:fe00:beef", 50001, 50002, b"hello"),
        "7e76 beef f0 c351 c352 4ceb 68656c6c6f",
        contexts=CONTEXTS,
    ),
    # CID=1 SAC=1 SAM=01 M=0 DAC=1 DAM=10, CID octet SCI=1 DCI=2.
    Vector(
        "contexts 1 and 2 through the CID octet",
        udp6("2001:db8:1::1", "2001:db8:2::ff:fe00:2", 50001, 50002, b"cid"),
        "7ed6 12 0000000000000001 0002 f0 c351 c352 5752 636964",
        contexts=CONTEXTS,
    ),
    # Context 3 is 2001:db8:3::1:0/112: it covers IID bits, which override the
    # 0000:00ff:fe00:XXXX mapping of SAM=10 (RFC 6282 §3.1.1). SCI=3, DAM=11 stateless.
    Vector(
        "112-bit context covering IID bits",
        udp6("2001:db8:3::1:5", LL_DST, 50001, 50002, b"ctx112"),
        "7ee3 30 0005 f0 c351 c352 4ee0 637478313132",
        contexts=CONTEXTS,
    ),
    # M=1 DAC=1 DAM=00 (RFC 6282 §3.2.4): ff35:0040:<2001:db8::/64>:0000:1234 as flags/scope
    # 35, reserved/RIID 00 and group ID 00001234; prefix length and prefix from context 0.
    Vector(
        "unicast-prefix-based multicast from context 0",
        udp6("2001:db8::211:2233:4455:6677", "ff35:40:2001:db8::1234", 50001, 50002, b"rfc3306"),
        "7e7c 35 00 00001234 f0 c351 c352 fe34 72666333333036",
        contexts=CONTEXTS,
    ),
    # Short MAC addresses 0x0001 and 0x0002 give IIDs 0000:00ff:fe00:0001/2 (§3.2.2).
    Vector(
        "IIDs from short addresses",
        udp6("fe80::ff:fe00:1", "fe80::ff:fe00:2", 50001, 50002, b"short"),
        "7e33 f0 c351 c352 2750 73686f7274",
        src_mac=b"\x00\x01",
        dst_mac=b"\x00\x02",
    ),
    # Hop-by-Hop NHC 1110 000 NH=1, length 4: router alert 05 02 0000; the trailing PadN
    # (01 00) is elided and restored by the decompressor (RFC 6282 §4.2).
    Vector(
        "Hop-by-Hop options header NHC",
        Ipv6Header(LL_SRC, LL_DST, 0, 64).build(
            HopByHopOptions(17, [Ipv6Option(5, b"\0\0")]).build(_EXT_UDP)
        ),
        "7e33 e1 04 05020000 f0 c351 c352 e275 657874",
    ),
    # Destination options NHC 1110 011 NH=1, length 5: option 0x1e, 3 bytes; Pad1 elided.
    Vector(
        "Destination options header NHC",
        Ipv6Header(LL_SRC, LL_DST, 60, 64).build(
            DestinationOptions(17, [Ipv6Option(0x1E, b"\xaa\xbb\xcc")]).build(_EXT_UDP)
        ),
        "7e33 e7 05 1e03aabbcc f0 c351 c352 e275 657874",
    ),
    # Fragment NHC 1110 010 NH=0: next header 17, then the 7 octets after it (reserved,
    # offset/M, identification); fragment data (the UDP header) follows uncompressed.
    Vector(
        "Fragment header NHC",
        Ipv6Header(LL_SRC, LL_DST, 44, 64).build(
            FragmentHeader(17, 0, False, 0x12345678).build(_EXT_UDP)
        ),
        "7e33 e4 11 00 0000 12345678 c351c352000be275 657874",
    ),
    # IPv6-in-IPv6: outer context 0 SAM=01/DAM=01, NHC 1110 111 0 (EID 7), then the inner
    # header as LOWPAN_IPHC whose SAM=11/DAM=11 take the IIDs of the outer addresses.
    Vector(
        "IPv6-in-IPv6 NHC",
        Ipv6Header(ip6_from_str("2001:db8::1"), ip6_from_str("2001:db8::2"), 41, 64).build(
            udp6("fe80::1", "fe80::2", 50001, 50002, b"inner")
        ),
        "7e55 0000000000000001 0000000000000002 ee 7e33 f0 c351 c352 3257 696e6e6572",
        contexts=CONTEXTS,
    ),
]


def compress_vector(vector: Vector) -> bytes:
    return compress_ipv6(
        vector.packet,
        src_mac=vector.src_mac,
        dst_mac=vector.dst_mac,
        contexts=vector.contexts,
        nhc=vector.nhc,
        elide_udp_checksum=vector.elide_udp_checksum,
    )


def decompress_vector(vector: Vector, data: bytes) -> bytes:
    return decompress_ipv6(
        data, src_mac=vector.src_mac, dst_mac=vector.dst_mac, contexts=vector.contexts
    )


# --- IPHC vectors ---


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_vector_compresses_to_the_hand_derived_bytes(vector: Vector) -> None:
    assert compress_vector(vector).hex() == vector.encoded.hex()


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_vector_decompresses_to_the_original_packet(vector: Vector) -> None:
    assert decompress_vector(vector, vector.encoded) == vector.packet


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_vector_truncated_inside_its_headers_raises_decode_error(vector: Vector) -> None:
    encoded = vector.encoded
    decoded = decompress_iphc(
        encoded, src_mac=vector.src_mac, dst_mac=vector.dst_mac, contexts=vector.contexts
    )
    for cut in range(decoded.consumed):
        with pytest.raises(DecodeError):
            decompress_vector(vector, encoded[:cut])


def test_decompress_reports_header_and_consumed_bytes() -> None:
    vector = VECTORS[0]
    decoded = decompress_iphc(vector.encoded, src_mac=SRC_MAC, dst_mac=DST_MAC)
    assert decoded.consumed == 6  # IPHC 2, UDP NHC 1, ports 1, checksum 2
    assert decoded.header == vector.packet[:48]
    assert decoded.datagram_size == len(vector.packet)
    assert decoded.checksum_offset == -1


def test_compress_headers_reports_consumed_bytes() -> None:
    vector = VECTORS[13]  # Hop-by-Hop + UDP
    compressed, consumed = compress_headers(vector.packet, src_mac=SRC_MAC, dst_mac=DST_MAC)
    assert consumed == 40 + 8 + 8
    assert compressed + vector.packet[consumed:] == vector.encoded


def test_uncompressed_ipv6_dispatch_is_returned_as_is() -> None:
    packet = VECTORS[0].packet
    assert decompress_ipv6(b"\x41" + packet) == packet


def test_hc1_is_recognised_and_refused() -> None:
    assert classify(0x42) is Dispatch.HC1
    with pytest.raises(DecodeError, match="HC1 not supported"):
        decompress_ipv6(b"\x42\xfb" + bytes(20))
    with pytest.raises(DecodeError, match="HC1 not supported"):
        LowpanHeaders.parse(b"\x42\xfb")


# --- address choices ---


def test_hop_limits_one_64_255_are_elided_others_carried() -> None:
    for hlim, code in ((1, 1), (64, 2), (255, 3), (0, 0), (63, 0), (128, 0)):
        packet = udp6(LL_SRC, LL_DST, 1, 2, b"", hlim=hlim)
        encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC)
        assert encoded[0] & 3 == code
        assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


@pytest.mark.parametrize(
    ("tc", "fl", "tf", "inline"),
    [
        (0x00, 0, 3, ""),
        (0x01, 0, 2, "40"),  # ECN only, no flow label: TF=10 ECN|DSCP
        (0xFC, 0, 2, "3f"),
        (0x03, 0xFFFFF, 1, "cfffff"),
        (0x00, 1, 1, "000001"),
        (0xFF, 0xFFFFF, 0, "ff0fffff"),
        (0x04, 0x80000, 0, "01080000"),
    ],
)
def test_traffic_class_is_rotated_ecn_first(tc: int, fl: int, tf: int, inline: str) -> None:
    packet = udp6(LL_SRC, LL_DST, 1, 2, b"", tc=tc, fl=fl)
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC)
    assert encoded[0] >> 3 & 3 == tf
    assert encoded[2 : 2 + len(inline) // 2].hex() == inline
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


@pytest.mark.parametrize(
    ("src", "bits", "inline"),
    [
        ("fe80::211:2233:4455:6677", 0b0011, ""),
        ("fe80::ff:fe00:abcd", 0b0010, "abcd"),
        ("fe80::1", 0b0001, "0000000000000001"),
        ("fe80:1::1", 0b0000, "fe800001000000000000000000000001"),
        ("::", 0b0100, ""),
        ("2001:db8::211:2233:4455:6677", 0b0111, ""),
        ("2001:db8::ff:fe00:1", 0b0110, "0001"),
        ("2001:db8::1:2:3:4", 0b0101, "0001000200030004"),
        ("2001:db8:9::1", 0b0000, "20010db8000900000000000000000001"),
    ],
)
def test_source_modes_pick_the_shortest_encoding(src: str, bits: int, inline: str) -> None:
    contexts = {0: CONTEXTS[0]}
    packet = udp6(src, LL_DST, 1, 2, b"")
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts)
    assert encoded[1] >> 4 & 7 == bits
    assert encoded[2 : 2 + len(inline) // 2].hex() == inline
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts) == (packet)


@pytest.mark.parametrize(
    ("dst", "bits", "inline"),
    [
        ("ff02::1", 0b1011, "01"),
        ("ff02::fb", 0b1011, "fb"),
        ("ff12::1", 0b1010, "12000001"),
        ("ff05::1:3", 0b1010, "05010003"),
        ("ff02::1:ff00:1234", 0b1001, "0201ff001234"),
        ("ff0e::12:3456:789a", 0b1001, "0e123456789a"),
        ("ff35:40:2001:db8::1234", 0b1100, "350000001234"),
        ("ff35:40:2001:db9::1234", 0b1000, "ff35004020010db90000000000001234"),
        ("ff3e:30:2001:db8::1", 0b1000, "ff3e003020010db80000000000000001"),
        ("2001:db8::8a99:aabb:ccdd:eeff", 0b0111, ""),
        ("2001:db8::ff:fe00:1", 0b0110, "0001"),
        ("fe80::ff:fe00:1", 0b0010, "0001"),
        ("::", 0b0000, "00000000000000000000000000000000"),
    ],
)
def test_destination_modes_pick_the_shortest_encoding(dst: str, bits: int, inline: str) -> None:
    contexts = {0: CONTEXTS[0]}
    packet = udp6(LL_SRC, dst, 1, 2, b"")
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts)
    assert encoded[1] & 0x0F == bits
    assert encoded[2 : 2 + len(inline) // 2].hex() == inline
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts) == (packet)


def test_cid_octet_only_when_it_saves_more_than_a_byte() -> None:
    contexts = {0: CONTEXTS[0], 4: LowpanContext.from_string("2001:db8:4::/64")}
    # Context 4 would save 16 - 8 = 8 bytes for the source: worth the CID octet.
    packet = udp6("2001:db8:4::1:2:3:4", LL_DST, 1, 2, b"")
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts)
    assert encoded[1] & 0x80 and encoded[2] == 0x40
    # Context 0 and stateless forms never need it.
    packet = udp6("2001:db8::1:2:3:4", LL_DST, 1, 2, b"")
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts)
    assert not encoded[1] & 0x80
    # A context that saves nothing over stateless link-local compression is not used.
    contexts = {5: LowpanContext.from_string("fe80::/64")}
    packet = udp6("fe80::ff:fe00:1", LL_DST, 1, 2, b"")
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts)
    assert encoded[1] == 0x23


def test_context_shorter_than_64_bits_needs_zero_bits_up_to_the_iid() -> None:
    contexts = {0: LowpanContext.from_string("2001:db8::/32")}
    fits = udp6("2001:db8::1", LL_DST, 1, 2, b"")
    encoded = compress_ipv6(fits, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts)
    assert encoded[1] >> 4 == 0b0101  # SAC=1 SAM=01
    gap = udp6("2001:db8:0:1::1", LL_DST, 1, 2, b"")  # bit 63 set: not derivable
    encoded = compress_ipv6(gap, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts)
    assert encoded[1] >> 4 == 0b0000
    for packet in (fits, gap):
        assert (
            decompress_ipv6(
                compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=contexts),
                src_mac=SRC_MAC,
                dst_mac=DST_MAC,
                contexts=contexts,
            )
            == packet
        )


def test_addresses_compress_without_link_layer_addresses() -> None:
    packet = udp6(LL_SRC, LL_DST, 1, 2, b"x")
    encoded = compress_ipv6(packet)
    assert encoded[1] == 0x11  # SAM=01 DAM=01: the IIDs cannot be derived
    assert decompress_ipv6(encoded) == packet
    with pytest.raises(DecodeError, match="SAM=11 needs the link-layer source address"):
        decompress_ipv6(VECTORS[0].encoded, dst_mac=DST_MAC)
    with pytest.raises(DecodeError, match="DAM=11 needs the link-layer destination"):
        decompress_ipv6(VECTORS[0].encoded, src_mac=SRC_MAC)


# --- UDP and extension header NHC ---


def test_udp_checksum_is_elided_only_when_allowed_and_correct() -> None:
    good = udp6(LL_SRC, LL_DST, 1, 2, b"data")
    assert compress_ipv6(good, src_mac=SRC_MAC, dst_mac=DST_MAC)[2] == 0xF0
    assert compress_ipv6(good, src_mac=SRC_MAC, dst_mac=DST_MAC, elide_udp_checksum=True)[2] == (
        0xF4
    )
    for checksum in (b"\x00\x00", b"\x12\x34"):  # absent (illegal over IPv6) or wrong
        bad = good[:46] + checksum + good[48:]
        encoded = compress_ipv6(bad, src_mac=SRC_MAC, dst_mac=DST_MAC, elide_udp_checksum=True)
        assert encoded[2] == 0xF0
        assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == bad


def test_udp_checksum_0xffff_survives_elision() -> None:
    # A computed checksum of 0 goes out as 0xFFFF (RFC 768); find a payload that needs it.
    for n in range(0x10000):
        packet = udp6(LL_SRC, LL_DST, 1, 2, n.to_bytes(2, "big"))
        if packet[46:48] == b"\xff\xff":
            break
    else:  # pragma: no cover
        pytest.fail("no payload gives checksum 0xFFFF")
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, elide_udp_checksum=True)
    assert encoded[2] == 0xF4
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


def test_udp_with_a_wrong_length_is_carried_uncompressed() -> None:
    packet = bytearray(udp6(LL_SRC, LL_DST, 1, 2, b"data"))
    packet[45] -= 1  # UDP length no longer reaches the end of the packet
    encoded = compress_ipv6(bytes(packet), src_mac=SRC_MAC, dst_mac=DST_MAC)
    assert encoded[0] & 4 == 0 and encoded[2] == 17  # NH in-line
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


def test_checksum_is_never_elided_behind_a_routing_header() -> None:
    routing = RoutingHeader(17, 3, 0, bytes(4))
    packet = Ipv6Header(LL_SRC, LL_DST, 43, 64).build(routing.build(_EXT_UDP))
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, elide_udp_checksum=True)
    assert encoded[2:5].hex() == "e3 06 03".replace(" ", "")  # Routing NHC, NH=1, length 6
    assert encoded[10] == 0xF0  # after the 6-byte body; C=0
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


@pytest.mark.parametrize(
    "options",
    [
        [Ipv6Option(5, b"\0\0")],  # PadN(0) elided
        [Ipv6Option(0x1E, b"\xaa\xbb\xcc")],  # Pad1 elided
        [Ipv6Option(0x1E, b"")],  # PadN(2) elided
        [],  # PadN(4): the whole body is padding
        [Ipv6Option(0x1E, bytes(6))],  # no padding at all
        [Ipv6Option(0), Ipv6Option(0x1E, bytes(4))],  # leading Pad1 kept
        [Ipv6Option(0x1E, b"\x01"), Ipv6Option(1, b"\x00\x07")],  # non-zero PadN kept
        [Ipv6Option(0x1E, b"\x01"), Ipv6Option(0), Ipv6Option(0)],  # two Pad1: last elided
        [Ipv6Option(0x1E, bytes(250)), Ipv6Option(0x1E, bytes(250))],  # over 255: in-line
    ],
)
def test_option_headers_round_trip_with_padding_rules(options: list[Ipv6Option]) -> None:
    for kind, header in ((0, HopByHopOptions), (60, DestinationOptions)):
        packet = Ipv6Header(LL_SRC, LL_DST, kind, 64).build(header(17, options).build(_EXT_UDP))
        encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC)
        assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


def test_mobility_header_uses_eid_4() -> None:
    mobility = bytes((59, 1, 5, 0, 0, 0)) + bytes(10)  # payload proto 59, 16 bytes
    packet = Ipv6Header(LL_SRC, LL_DST, 135, 64).build(mobility)
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC)
    assert encoded[2:5].hex() == "e83b0e"  # EID 4 NH=0, next header 59, length 14
    assert next_header_of(0xE8) == 135
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


def test_ext_header_chain_ending_in_raw_payload() -> None:
    dst_opts = DestinationOptions(58, [Ipv6Option(0x1E, b"ab")])
    hbh = HopByHopOptions(60, [Ipv6Option(5, b"\0\0")])
    packet = Ipv6Header(LL_SRC, LL_DST, 0, 64).build(hbh.build(dst_opts.build(b"\x80\0icmp")))
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC)
    # HBH NH=1, then Destination Options NH=0 with next header 58 in-line.
    assert encoded[2] == 0xE1 and encoded[8:10].hex() == "e63a"
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


def test_nested_ipv6_beyond_the_limit_stays_in_line() -> None:
    packet = udp6("2001:db8::1", "2001:db8::2", 1, 2, b"deep")
    for _ in range(6):
        packet = Ipv6Header(LL_SRC, LL_DST, 41, 64).build(packet)
    encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC)
    # Four levels are compressed; the fourth carries Next Header 41 in-line (0x7a, 0x29)
    # and the rest follows uncompressed.
    assert encoded[:15].hex() == "7e33" + "ee7e33" * 3 + "ee7a3329"
    assert decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=DST_MAC) == packet


def test_nhc_extension_ids() -> None:
    assert [next_header_of(0xE0 | eid << 1) for eid in (0, 1, 2, 3, 4, 7)] == [
        0,
        43,
        44,
        60,
        135,
        41,
    ]
    assert NhcExtensionId.IPV6 == 7
    for octet in (0xEA, 0xEC, 0xF8, 0x00):
        with pytest.raises(DecodeError):
            next_header_of(octet)


# --- malformed input ---


@pytest.mark.parametrize(
    ("hexdata", "message"),
    [
        ("7a34", "reserved destination address mode"),  # M=0 DAC=1 DAM=00
        ("7a3d", "reserved destination address mode"),  # M=1 DAC=1 DAM=01
        ("7a73 11", "unknown context 0"),  # SAC=1 SAM=11 without contexts
        ("7e33", "no LOWPAN_NHC follows"),
        ("7e33 ea 11 00", "reserved"),  # EID 5
        ("7e33 e2 11 03 000000", "not a multiple of 8"),  # Routing, length 3
        ("7e33 e1 00", "LOWPAN_NHC chain ends"),
        ("7e33 c0", "unknown LOWPAN_NHC encoding"),
        ("7e33 f0 0102", "UDP LOWPAN_NHC truncated"),
        ("5e33", "not LOWPAN_IPHC"),
    ],
)
def test_malformed_iphc_raises_decode_error(hexdata: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decompress_iphc(bytes.fromhex(hexdata), src_mac=SRC_MAC, dst_mac=DST_MAC)


def test_stateful_multicast_needs_a_context_of_at_most_64_bits() -> None:
    data = bytes.fromhex("7e3c 35 00 00001234")  # DAC=1 DAM=00 with context 0
    with pytest.raises(DecodeError, match="longer than 64"):
        decompress_iphc(data, src_mac=SRC_MAC, contexts={0: CONTEXTS[3]})


def test_nesting_limit_is_enforced_when_decoding() -> None:
    data = b"\x7e\x33" + b"\xee\x7e\x33" * 8 + b"\xf0" + bytes(6)
    with pytest.raises(DecodeError, match="nested"):
        decompress_iphc(data, src_mac=SRC_MAC, dst_mac=DST_MAC)


def test_datagram_size_smaller_than_the_headers_is_refused() -> None:
    with pytest.raises(DecodeError, match="datagram size"):
        decompress_iphc(VECTORS[0].encoded, src_mac=SRC_MAC, dst_mac=DST_MAC, datagram_size=47)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"contexts": {16: CONTEXTS[0]}}, "context identifier 16"),
        ({"src_mac": b"\x01\x02\x03"}, "src_mac"),
    ],
)
def test_compress_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compress_headers(VECTORS[0].packet, **kwargs)  # type: ignore[arg-type]


def test_compress_rejects_packets_whose_payload_length_is_not_inferable() -> None:
    packet = VECTORS[0].packet
    with pytest.raises(ValueError, match="payload length"):
        compress_headers(packet + b"\0")  # link-layer padding
    with pytest.raises(ValueError, match="not an IPv6 packet"):
        compress_headers(packet[:39])
    with pytest.raises(ValueError, match="not an IPv6 packet"):
        compress_headers(b"\x45" + packet[1:])


# --- link-layer headers ---


def test_dispatch_classification() -> None:
    expected = {
        0x00: Dispatch.NALP,
        0x3F: Dispatch.NALP,
        0x40: Dispatch.ESC,
        0x41: Dispatch.IPV6,
        0x42: Dispatch.HC1,
        0x43: Dispatch.DFF,
        0x44: Dispatch.RESERVED,
        0x50: Dispatch.BC0,
        0x51: Dispatch.RESERVED,
        0x60: Dispatch.IPHC,
        0x7F: Dispatch.IPHC,  # RFC 6282 §5 took RFC 4944's ESC value
        0x80: Dispatch.MESH,
        0xBF: Dispatch.MESH,
        0xC0: Dispatch.FRAG1,
        0xC7: Dispatch.FRAG1,
        0xC8: Dispatch.RESERVED,
        0xE0: Dispatch.FRAGN,
        0xE7: Dispatch.FRAGN,
        0xE8: Dispatch.RESERVED,
        0xF0: Dispatch.PAGE,
        0xFF: Dispatch.PAGE,
    }
    for octet, kind in expected.items():
        assert classify(octet) is kind, hex(octet)


# Mesh header 10 V=1 F=1 HopsLeft=5, originator 0x0001, final 0x0002 (RFC 4944 §5.2).
MESH_SHORT = bytes.fromhex("b5 0001 0002")
# V=0 F=0, Hops Left 0xF escape + Deep Hops Left 20, two extended addresses.
MESH_DEEP = bytes.fromhex("8f 14 0011223344556677 8899aabbccddeeff")
BC0 = bytes.fromhex("50 07")  # LOWPAN_BC0, sequence 7 (RFC 4944 §11.1)
FRAG1 = bytes.fromhex("c134 1234")  # datagram_size 308, tag 0x1234 (RFC 4944 §5.3)
FRAGN = bytes.fromhex("e134 1234 09")  # ... datagram_offset 9 (72 bytes)


def test_mesh_header_vectors() -> None:
    mesh, rest = MeshHeader.parse(MESH_SHORT + b"x")
    assert mesh == MeshHeader(b"\x00\x01", b"\x00\x02", 5) and bytes(rest) == b"x"
    assert mesh.build(b"x") == MESH_SHORT + b"x" and mesh.header_len == 5
    mesh, rest = MeshHeader.parse(MESH_DEEP)
    assert mesh == MeshHeader(SRC_MAC, DST_MAC, 20) and not rest
    assert mesh.build() == MESH_DEEP and mesh.header_len == 18
    # 15 needs the escape too; an escaped small value decodes and re-encodes shortest.
    assert MeshHeader(b"\0\1", b"\0\2", 15).build()[:2] == b"\xbf\x0f"
    assert MeshHeader.parse(bytes.fromhex("bf 03 0001 0002"))[0].hops_left == 3


def test_a_relay_decrements_hops_left_in_the_form_it_came() -> None:
    assert decrement_hops_left(MESH_SHORT + b"x") == bytes.fromhex("b4 0001 0002") + b"x"
    assert decrement_hops_left(MESH_DEEP) == bytes.fromhex("8f 13") + MESH_DEEP[2:]
    escaped_one = bytes.fromhex("bf 01 0001 0002")  # the deep form stays the deep form
    assert decrement_hops_left(escaped_one) == bytes.fromhex("bf 00 0001 0002")
    for exhausted in (bytes.fromhex("b0 0001 0002"), bytes.fromhex("bf 00 0001 0002")):
        with pytest.raises(DecodeError, match="no hops left"):
            decrement_hops_left(exhausted)
    for not_mesh in (b"", BC0, b"\xbf"):
        with pytest.raises(DecodeError):
            decrement_hops_left(not_mesh)


def test_fragment_and_broadcast_header_vectors() -> None:
    assert BroadcastHeader.parse(BC0)[0] == BroadcastHeader(7)
    assert BroadcastHeader(7).build() == BC0
    assert Frag1Header.parse(FRAG1)[0] == Frag1Header(308, 0x1234)
    assert Frag1Header(308, 0x1234).build() == FRAG1
    assert FragnHeader.parse(FRAGN)[0] == FragnHeader(308, 0x1234, 72)
    assert FragnHeader(308, 0x1234, 72).build() == FRAGN


@pytest.mark.parametrize(
    ("vector", "parse"),
    [
        (MESH_SHORT, MeshHeader.parse),
        (MESH_DEEP, MeshHeader.parse),
        (BC0, BroadcastHeader.parse),
        (FRAG1, Frag1Header.parse),
        (FRAGN, FragnHeader.parse),
    ],
)
def test_every_truncated_link_header_raises_decode_error(vector: bytes, parse: object) -> None:
    assert callable(parse)
    for cut in range(len(vector)):
        with pytest.raises(DecodeError):
            parse(vector[:cut])


@pytest.mark.parametrize(
    "build",
    [
        lambda: MeshHeader(b"\0\1\2", b"\0\1", 1).build(),
        lambda: MeshHeader(b"\0\1", b"\0\1", 256).build(),
        lambda: BroadcastHeader(256).build(),
        lambda: Frag1Header(2048, 1).build(),
        lambda: Frag1Header(100, 0x10000).build(),
        lambda: FragnHeader(100, 1, 12).build(),
        lambda: FragnHeader(100, 1, 2048).build(),
    ],
)
def test_link_header_builders_reject_out_of_range_fields(build: object) -> None:
    assert callable(build)
    with pytest.raises(ValueError):
        build()


def test_header_stack_parses_in_rfc_4944_order() -> None:
    iphc = VECTORS[0].encoded
    stack = MESH_SHORT + BC0 + FRAG1 + iphc
    headers, payload = LowpanHeaders.parse(stack)
    assert headers.mesh == MeshHeader(b"\0\1", b"\0\2", 5)
    assert headers.broadcast == BroadcastHeader(7)
    assert headers.fragment == Frag1Header(308, 0x1234)
    assert bytes(payload) == iphc
    assert headers.build(payload) == stack
    headers, payload = LowpanHeaders.parse(FRAGN + b"raw data")
    assert headers.fragment == FragnHeader(308, 0x1234, 72) and bytes(payload) == b"raw data"
    headers, payload = LowpanHeaders.parse(b"\xf0" + BC0 + b"\x41" + VECTORS[0].packet)
    assert headers.broadcast == BroadcastHeader(7) and payload[0] == 0x41


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BC0 + MESH_SHORT + b"\x7e\x33", "MESH header out of order"),
        (FRAG1 + BC0 + b"\x7e\x33", "BC0 header out of order"),
        (b"\x01abc", "NALP"),
        (b"\x40\x01", "ESC"),
        (b"\xf1\x7e\x33", "page 1 not supported"),
        (MESH_SHORT, "ends before its payload"),
        (b"", "ends before its payload"),
        (FRAG1 + b"\x01", "NALP"),
    ],
)
def test_header_stack_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        LowpanHeaders.parse(data)


# --- interface identifiers ---


def test_interface_identifiers_from_link_layer_addresses() -> None:
    # RFC 6282 §3.2.2: the U/L bit of an EUI-64 is inverted; short addresses map to
    # 0000:00ff:fe00:XXXX; RFC 4944 §6 puts the PAN ID first with the U/L bit cleared.
    assert iid_from_extended(SRC_MAC).hex() == "0211223344556677"
    assert iid_from_extended(bytes.fromhex("0211223344556677")).hex() == "0011223344556677"
    assert iid_from_short(0xBEEF).hex() == "000000fffe00beef"
    assert iid_from_short(0xBEEF, pan_id=0xABCD).hex() == "a9cd00fffe00beef"
    assert iid_from_mac(b"\xbe\xef") == iid_from_short(0xBEEF)
    assert link_local_from_mac(SRC_MAC) == LL_SRC
    assert link_local_from_mac(b"\x00\x01") == ip6_from_str("fe80::ff:fe00:1")
    for bad in (lambda: iid_from_extended(b"\0" * 6), lambda: iid_from_mac(b"\0" * 6)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError):
        iid_from_short(0x10000)


def test_context_normalises_its_prefix() -> None:
    context = LowpanContext(bytes.fromhex("20010db8ffff"), 32)
    assert context.prefix == ip6_from_str("2001:db8::")
    assert str(context) == "2001:db8::/32"
    assert LowpanContext.from_string("2001:db8::1/48") == LowpanContext(
        ip6_from_str("2001:db8::"), 48
    )
    with pytest.raises(ValueError):
        LowpanContext(b"", 129)


# --- fragmentation ---


def reassemble(
    frames: list[bytes], *, src_mac: bytes, dst_mac: bytes, contexts: dict[int, LowpanContext]
) -> bytes:
    """What the reassembly machine will do: decompress FRAG1 with the datagram size, place
    every fragment at its offset, then finish an elided UDP checksum."""
    buffer = bytearray()
    decoded: DecompressedHeaders | None = None
    for frame in frames:
        headers, payload = LowpanHeaders.parse(frame)
        fragment = headers.fragment
        if isinstance(fragment, Frag1Header):
            buffer = bytearray(fragment.datagram_size)
            decoded = decompress_iphc(
                payload,
                src_mac=src_mac,
                dst_mac=dst_mac,
                contexts=contexts,
                datagram_size=fragment.datagram_size,
            )
            first = decoded.header + bytes(payload[decoded.consumed :])
            buffer[: len(first)] = first
        else:
            assert isinstance(fragment, FragnHeader)
            buffer[fragment.offset : fragment.offset + len(payload)] = payload
    assert decoded is not None
    decoded.complete(buffer)
    return bytes(buffer)


def test_fragments_cover_multiples_of_eight_and_reassemble() -> None:
    packet = udp6(LL_SRC, LL_DST, 50001, 50002, bytes(range(256)) + b"tail")
    compressed, consumed = compress_headers(
        packet, src_mac=SRC_MAC, dst_mac=DST_MAC, elide_udp_checksum=True
    )
    frames = fragment_datagram(packet, compressed, consumed, tag=0x1234, max_size=80)
    assert all(len(frame) <= 80 for frame in frames)
    assert frames[0][:4] == bytes.fromhex("c1341234")
    offsets = [FragnHeader.parse(frame)[0].offset for frame in frames[1:]]
    assert offsets == [112, 184, 256]
    first = decompress_iphc(
        frames[0][4:], src_mac=SRC_MAC, dst_mac=DST_MAC, datagram_size=len(packet)
    )
    assert first.checksum_offset == 46  # elided: computed once the datagram is whole
    out = reassemble(frames, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts={})
    assert out == packet


def test_fragmentation_refuses_headers_that_do_not_fit_the_first_fragment() -> None:
    packet = udp6("2001:db8::1", "2001:db8::2", 1, 2, bytes(100), hlim=7, tc=9, fl=9)
    compressed, consumed = compress_headers(packet)
    with pytest.raises(ValueError, match="do not fit"):
        fragment_datagram(packet, compressed, consumed, tag=1, max_size=len(compressed) + 3)
    with pytest.raises(ValueError, match="datagram size"):
        fragment_datagram(bytes(2048), b"\x41", 0, tag=1, max_size=100)


def test_uncompressed_datagram_fragments_behind_the_ipv6_dispatch() -> None:
    packet = udp6("2001:db8::1", "2001:db8::2", 1, 2, bytes(200))
    frames = fragment_datagram(packet, b"\x41", 0, tag=7, max_size=64)
    assert frames[0][4] == 0x41
    data = bytearray(len(packet))
    for frame in frames:
        headers, payload = LowpanHeaders.parse(frame)
        if isinstance(headers.fragment, Frag1Header):
            data[: len(payload) - 1] = payload[1:]
        else:
            assert isinstance(headers.fragment, FragnHeader)
            data[headers.fragment.offset : headers.fragment.offset + len(payload)] = payload
    assert data == packet


def test_complete_checks_the_datagram_size() -> None:
    decoded = DecompressedHeaders(b"", 0, 100, checksum_offset=46)
    with pytest.raises(ValueError):
        decoded.complete(bytearray(99))


# --- property tests ---

MACS = st.one_of(st.binary(min_size=8, max_size=8), st.binary(min_size=2, max_size=2))
CONTEXT_SETS = st.dictionaries(
    st.integers(0, 15),
    st.builds(LowpanContext, st.binary(min_size=16, max_size=16), st.integers(0, 128)),
    max_size=4,
)


@st.composite
def addresses(
    draw: st.DrawFn, mac: bytes, contexts: dict[int, LowpanContext], *, multicast: bool
) -> bytes:
    """An address from one of the families IPHC treats specially."""
    iid = draw(
        st.one_of(
            st.just(iid_from_mac(mac)),
            st.binary(min_size=2, max_size=2).map(lambda b: bytes.fromhex("000000fffe00") + b),
            st.binary(min_size=8, max_size=8),
        )
    )
    families = [
        st.just(link_local_from_mac(mac)),
        st.just(b"\xfe\x80" + bytes(6) + iid),
        st.binary(min_size=16, max_size=16),
        st.just(bytes(16)),
        st.binary(min_size=6, max_size=6).map(lambda b: b"\xfe\x80" + b + iid),
    ]
    if contexts:
        families.append(
            st.sampled_from(sorted(contexts.values(), key=str)).map(lambda c: c.address(iid))
        )
    if multicast:
        families += [
            st.binary(min_size=1, max_size=1).map(lambda b: b"\xff\x02" + bytes(13) + b),
            st.binary(min_size=4, max_size=4).map(lambda b: b"\xff" + b[:1] + bytes(11) + b[1:]),
            st.binary(min_size=6, max_size=6).map(lambda b: b"\xff" + b[:1] + bytes(9) + b[1:]),
            st.binary(min_size=15, max_size=15).map(lambda b: b"\xff" + b),
        ]
        for context in contexts.values():
            if context.length <= 64:
                families.append(
                    st.binary(min_size=6, max_size=6).map(
                        lambda b, c=context: (
                            b"\xff" + b[:2] + bytes((c.length,)) + c.prefix[:8] + b[2:]
                        )
                    )
                )
    return draw(st.one_of(families))


@st.composite
def ports(draw: st.DrawFn) -> int:
    return draw(
        st.one_of(
            st.integers(0, 0xFFFF),
            st.integers(0xF000, 0xF0FF),
            st.integers(0xF0B0, 0xF0BF),
        )
    )


@st.composite
def upper_layers(draw: st.DrawFn, src: bytes, dst: bytes, depth: int) -> tuple[int, bytes]:
    """(next header, payload): UDP, raw data, or an extension header chain in front of
    either, or (once) an encapsulated IPv6 packet."""
    choice = draw(st.integers(0, (4, 3)[depth] if depth < 2 else 2))
    if choice <= 1:
        udp = UdpHeader(draw(ports()), draw(ports())).build(
            draw(st.binary(max_size=60)), src=src, dst=dst
        )
        if draw(st.booleans()):
            udp = udp[:6] + draw(st.binary(min_size=2, max_size=2)) + udp[8:]
        return 17, udp
    if choice == 2:
        return draw(st.sampled_from([6, 58, 59, 253])), draw(st.binary(max_size=40))
    if choice == 4:
        inner = draw(ipv6_packets(depth=depth + 1))
        return 41, inner
    # an extension header chain
    kind, payload = draw(upper_layers(src, dst, depth + 1))
    for _ in range(draw(st.integers(1, 3))):
        header = draw(st.integers(0, 4))
        if header in (0, 1):
            options = draw(
                st.lists(
                    st.one_of(
                        st.just(Ipv6Option(0)),
                        st.builds(Ipv6Option, st.integers(1, 0xFF), st.binary(max_size=12)),
                    ),
                    max_size=4,
                )
            )
            cls = HopByHopOptions if header == 0 else DestinationOptions
            payload = cls(kind, options).build(payload)
            kind = 0 if header == 0 else 60
        elif header == 2:
            size = draw(st.integers(0, 3)) * 8 + 4
            payload = RoutingHeader(kind, 3, 1, bytes(size)).build(payload)
            kind = 43
        elif header == 3:
            fragment = FragmentHeader(kind, draw(st.integers(0, 8)) * 8, draw(st.booleans()), 7)
            payload = fragment.build(payload)
            kind = 44
        else:  # raw bytes shaped like an extension header, options possibly malformed
            body = draw(st.binary(min_size=6, max_size=6))
            payload = bytes((kind, 0)) + body + payload
            kind = draw(st.sampled_from([0, 60, 135]))
    return kind, payload


@st.composite
def ipv6_packets(draw: st.DrawFn, depth: int = 0) -> bytes:
    src_mac = draw(MACS)
    dst_mac = draw(MACS)
    contexts = draw(CONTEXT_SETS)
    src = draw(addresses(src_mac, contexts, multicast=False))
    dst = draw(addresses(dst_mac, contexts, multicast=True))
    next_header, payload = draw(upper_layers(src, dst, depth))
    header = Ipv6Header(
        src,
        dst,
        next_header,
        draw(st.sampled_from([0, 1, 2, 64, 255, 128])),
        draw(st.one_of(st.just(0), st.integers(0, 255), st.integers(0, 3))),
        draw(st.one_of(st.just(0), st.integers(0, 0xFFFFF))),
    )
    return header.build(payload)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[bytes, bytes, bytes, dict[int, LowpanContext], bool, bool]:
    src_mac = draw(MACS)
    dst_mac = draw(MACS)
    contexts = draw(CONTEXT_SETS)
    src = draw(addresses(src_mac, contexts, multicast=False))
    dst = draw(addresses(dst_mac, contexts, multicast=True))
    next_header, payload = draw(upper_layers(src, dst, 0))
    packet = Ipv6Header(
        src,
        dst,
        next_header,
        draw(st.sampled_from([0, 1, 2, 64, 255, 128])),
        draw(st.one_of(st.just(0), st.integers(0, 255), st.integers(0, 3))),
        draw(st.one_of(st.just(0), st.integers(0, 0xFFFFF))),
    ).build(payload)
    return packet, src_mac, dst_mac, contexts, draw(st.booleans()), draw(st.booleans())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_compress_then_decompress_gives_back_the_packet(
    scenario: tuple[bytes, bytes, bytes, dict[int, LowpanContext], bool, bool],
) -> None:
    packet, src_mac, dst_mac, contexts, nhc, elide = scenario
    encoded = compress_ipv6(
        packet,
        src_mac=src_mac,
        dst_mac=dst_mac,
        contexts=contexts,
        nhc=nhc,
        elide_udp_checksum=elide,
    )
    assert len(encoded) <= len(packet) + 1  # never worse than the IPv6 dispatch
    assert decompress_ipv6(encoded, src_mac=src_mac, dst_mac=dst_mac, contexts=contexts) == (packet)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(60, 127), st.integers(0, 0xFFFF))
def test_fragmented_round_trip_gives_back_the_packet(
    scenario: tuple[bytes, bytes, bytes, dict[int, LowpanContext], bool, bool],
    max_size: int,
    tag: int,
) -> None:
    packet, src_mac, dst_mac, contexts, nhc, elide = scenario
    compressed, consumed = compress_headers(
        packet,
        src_mac=src_mac,
        dst_mac=dst_mac,
        contexts=contexts,
        nhc=nhc,
        elide_udp_checksum=elide,
    )
    assume(len(compressed) + 4 + 8 <= max_size)
    frames = fragment_datagram(packet, compressed, consumed, tag=tag, max_size=max_size)
    assert all(len(frame) <= max_size for frame in frames)
    out = reassemble(frames, src_mac=src_mac, dst_mac=dst_mac, contexts=contexts)
    assert out == packet


DECODERS = [
    lambda data: decompress_iphc(data, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=CONTEXTS),
    lambda data: decompress_iphc(data, contexts={0: CONTEXTS[3]}, datagram_size=2047),
    lambda data: decompress_ipv6(data, src_mac=b"\0\1", dst_mac=DST_MAC, contexts=CONTEXTS),
    LowpanHeaders.parse,
    MeshHeader.parse,
    BroadcastHeader.parse,
    Frag1Header.parse,
    FragnHeader.parse,
]


def _decode_all(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(DecodeError):
            decode(data)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    _decode_all(data)


@settings(max_examples=1500, deadline=None)
@given(
    st.integers(0x60, 0x7F),
    st.integers(0, 0xFF),
    st.lists(st.sampled_from([0xE1, 0xE3, 0xE5, 0xE7, 0xE9, 0xEE, 0xF0, 0xF7]), max_size=4),
    st.binary(max_size=60),
)
def test_iphc_shaped_garbage_raises_only_decode_error(
    first: int, second: int, nhc: list[int], rest: bytes
) -> None:
    _decode_all(bytes((first, second)) + bytes(nhc) + rest)
    _decode_all(bytes((first | 4, second)) + bytes(nhc) + rest)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VECTORS), st.data())
def test_mutated_vectors_raise_only_decode_error(vector: Vector, data: st.DataObject) -> None:
    encoded = bytearray(vector.encoded)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(encoded) - 1))
        encoded[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    _decode_all(bytes(encoded[:cut]))
