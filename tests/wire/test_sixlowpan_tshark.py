"""6LoWPAN frames from netstack, decoded by Wireshark's dissector (tshark 4.0).

Every test writes one pcap (LINKTYPE_IEEE802_15_4_NOFCS) of 802.15.4 data frames built by a
tiny local builder, runs tshark over it once for fields and once with ``-V``, and checks
that tshark rebuilds the original IPv6/UDP packets and reports nothing malformed. tshark is
the reference: where it and netstack disagree, the test fails.
"""

from __future__ import annotations

import ipaddress
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from test_sixlowpan import CONTEXTS, DST_MAC, LL_DST, LL_SRC, SRC_MAC, VECTORS, udp6

from netstack.wire.ipv6 import (
    DestinationOptions,
    FragmentHeader,
    HopByHopOptions,
    Ipv6Header,
    Ipv6Option,
    RoutingHeader,
    ip6_from_str,
    walk_extension_headers,
)
from netstack.wire.pcap import LinkType, PcapWriter
from netstack.wire.sixlowpan import (
    BroadcastHeader,
    LowpanContext,
    LowpanHeaders,
    MeshHeader,
    compress_headers,
    compress_ipv6,
    fragment_datagram,
    link_local_from_mac,
)
from netstack.wire.udp import UdpHeader

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

PAN_ID = 0xABCD
FIELDS = (
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.flow",
    "ipv6.tclass",
    "ipv6.plen",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "udp.checksum.status",
    "data.data",
)


def mac_frame(payload: bytes, src: bytes, dst: bytes, seq: int = 0) -> bytes:
    """A minimal IEEE 802.15.4-2003 data frame without FCS: frame control (data, PAN ID
    compression, addressing modes 3 = extended or 2 = short), sequence number, destination
    PAN, destination and source addresses least significant octet first."""
    fcf = 0x0041 | (3 if len(dst) == 8 else 2) << 10 | (3 if len(src) == 8 else 2) << 14
    return struct.pack("<HBH", fcf, seq & 0xFF, PAN_ID) + dst[::-1] + src[::-1] + payload


def context_options(contexts: dict[int, LowpanContext], *, check: bool = True) -> list[str]:
    """Contexts for tshark, and UDP checksum validation unless ``check`` is false: Wireshark
    does not recompute an elided UDP checksum (it shows 0xffff, unverified), so it would call
    such a frame's checksum bad."""
    options = ["-o", f"udp.check_checksum:{'TRUE' if check else 'FALSE'}"]
    for cid, context in contexts.items():
        options += ["-o", f"6lowpan.context{cid}:{context}"]
    return options


def tshark(
    tmp_path: Path,
    frames: Sequence[bytes],
    fields: Sequence[str] = FIELDS,
    options: Sequence[str] = (),
) -> list[dict[str, str]]:
    """Decode ``frames`` with tshark: one dict per frame, field -> value (the last occurrence
    when a field repeats, as for the inner header of IPv6-in-IPv6). Also fails the test if
    the verbose dissection has any malformed packet, error or warning."""
    assert TSHARK is not None
    pcap = tmp_path / "lowpan.pcap"
    with PcapWriter(pcap, LinkType.IEEE802_15_4_NOFCS) as writer:
        for i, frame in enumerate(frames):
            writer.write(float(i), frame)
    base = [TSHARK, "-n", "-r", str(pcap), *options]
    command = [*base, "-T", "fields", "-E", "occurrence=l"]
    for name in fields:
        command += ["-e", name]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    rows = [dict(zip(fields, line.split("\t"), strict=True)) for line in out.stdout.splitlines()]
    assert len(rows) == len(frames)
    verbose = subprocess.run(
        [*base, "-V"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    for bad in ("Malformed", "Expert Info (Error", "Expert Info (Warning"):
        assert bad not in verbose, verbose
    return rows


def expected_fields(packet: bytes) -> dict[str, str]:
    """What tshark should show for ``packet``: the innermost IPv6 header and its UDP."""
    header, payload = Ipv6Header.parse(packet)
    while True:
        chain = walk_extension_headers(header.next_header, payload)
        if chain.next_header != 41:
            break
        header, payload = Ipv6Header.parse(payload[chain.payload_offset :])
    fields = {
        "ipv6.src": str(ipaddress.IPv6Address(header.src)),
        "ipv6.dst": str(ipaddress.IPv6Address(header.dst)),
        "ipv6.hlim": str(header.hop_limit),
        "ipv6.flow": str(header.flow_label),
        "ipv6.tclass": str(header.traffic_class),
        "ipv6.plen": str(header.payload_length),
    }
    if chain.next_header == 17:
        udp, data = UdpHeader.parse(payload[chain.payload_offset :])
        fields |= {
            "udp.srcport": str(udp.src_port),
            "udp.dstport": str(udp.dst_port),
            "udp.length": str(udp.length),
            "data.data": bytes(data).hex(),
        }
    return fields


def assert_decoded(row: dict[str, str], packet: bytes, *, checksum_inline: bool) -> None:
    expected = expected_fields(packet)
    decoded = {name: row[name] for name in expected}
    for name in ("ipv6.flow", "ipv6.tclass"):  # tshark prints these in hex, padded
        decoded[name] = str(int(decoded[name], 16))
    assert decoded == expected
    if checksum_inline:
        assert row["udp.checksum.status"] == "1"  # Good


# --- tests ---


@pytest.mark.parametrize("elided", [False, True], ids=["checksum-inline", "checksum-elided"])
def test_hand_derived_vectors_decode_to_their_packets(tmp_path: Path, elided: bool) -> None:
    vectors = [vector for vector in VECTORS if vector.elide_udp_checksum == elided]
    frames = [
        mac_frame(vector.encoded, vector.src_mac, vector.dst_mac, i)
        for i, vector in enumerate(vectors)
    ]
    rows = tshark(tmp_path, frames, options=context_options(CONTEXTS, check=not elided))
    for vector, row in zip(vectors, rows, strict=True):
        assert_decoded(row, vector.packet, checksum_inline=not elided)


# Sources and destinations covering every SAM/DAM (stateless and context-based), :: and
# each multicast form; each is paired with a traffic class/flow label form, a hop limit and
# a port pair, cycling, so that every value of each appears.
SOURCES = [
    (LL_SRC, 0b0011),
    (ip6_from_str("fe80::ff:fe00:1234"), 0b0010),
    (ip6_from_str("fe80::1:2:3:4"), 0b0001),
    (ip6_from_str("2001:db8:9::1"), 0b0000),
    (ip6_from_str("::"), 0b0100),
    (ip6_from_str("2001:db8::211:2233:4455:6677"), 0b0111),
    (ip6_from_str("2001:db8::ff:fe00:42"), 0b0110),
    (ip6_from_str("2001:db8::1:2:3:4"), 0b0101),
    (ip6_from_str("2001:db8:2::5"), 0b0101),  # context 2, CID octet
    (ip6_from_str("2001:db8:3::1:77"), 0b0110),  # context 3 covers IID bits
]
DESTINATIONS = [
    (LL_DST, 0b0011),
    (ip6_from_str("fe80::ff:fe00:beef"), 0b0010),
    (ip6_from_str("fe80::a:b:c:d"), 0b0001),
    (ip6_from_str("2001:db8:9::2"), 0b0000),
    (ip6_from_str("2001:db8::8a99:aabb:ccdd:eeff"), 0b0111),
    (ip6_from_str("2001:db8::ff:fe00:7"), 0b0110),
    (ip6_from_str("2001:db8:1::9"), 0b0101),  # context 1, CID octet
    (ip6_from_str("ff02::1"), 0b1011),
    (ip6_from_str("ff02::1a"), 0b1011),
    (ip6_from_str("ff05::1:3"), 0b1010),
    (ip6_from_str("ff02::1:ff00:1234"), 0b1001),
    (ip6_from_str("ff0e:1::1"), 0b1000),
    (ip6_from_str("ff35:40:2001:db8::1234"), 0b1100),  # context 0
    (ip6_from_str("ff33:40:2001:db8:1:0:1:2"), 0b1100),  # context 1, CID octet
]
TRAFFIC = [(0, 0, 3), (0xB8, 0, 2), (0x01, 0x12345, 1), (0x2E, 0xFEDCB, 0)]  # tc, fl, TF
HOP_LIMITS = [(64, 2), (1, 1), (255, 3), (17, 0)]
PORTS = [(0xF0B1, 0xF0BF, 3), (50001, 0xF012, 1), (0xF0AA, 50002, 2), (50001, 50002, 0)]


def test_every_iphc_mode_decodes_in_tshark(tmp_path: Path) -> None:
    frames = []
    packets = []
    seen = set()
    count = max(len(SOURCES), len(DESTINATIONS)) * 2
    for i in range(count):
        src, src_bits = SOURCES[i % len(SOURCES)]
        dst, dst_bits = DESTINATIONS[i % len(DESTINATIONS)]
        tc, fl, tf = TRAFFIC[i % 4]
        hlim, hlim_code = HOP_LIMITS[(i // 4) % 4]
        sport, dport, mode = PORTS[(i // 2) % 4]
        payload = b"mode %d" % i
        packet = udp6(src, dst, sport, dport, payload, hlim=hlim, tc=tc, fl=fl)
        encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=CONTEXTS)
        assert (encoded[0] >> 3 & 3, encoded[0] & 3) == (tf, hlim_code)
        assert (encoded[1] >> 4 & 7, encoded[1] & 0xF) == (src_bits, dst_bits)
        # UDP NHC octet, then the ports and the 2-byte checksum, then the payload.
        nhc_at = len(encoded) - len(payload) - 2 - (4, 3, 3, 1)[mode] - 1
        assert encoded[nhc_at] == 0xF0 | mode
        seen |= {("tf", tf), ("hlim", hlim_code), ("src", src_bits), ("dst", dst_bits)}
        seen.add(("ports", mode))
        packets.append(packet)
        frames.append(mac_frame(encoded, SRC_MAC, DST_MAC, i))
    assert len(seen) == 4 + 4 + len(SOURCES) - 2 + len(DESTINATIONS) - 2 + 4
    rows = tshark(tmp_path, frames, options=context_options(CONTEXTS))
    for packet, row in zip(packets, rows, strict=True):
        assert_decoded(row, packet, checksum_inline=True)


def test_short_link_layer_addresses_and_udp_port_forms(tmp_path: Path) -> None:
    src_mac, dst_mac = b"\x12\x34", b"\x00\x02"
    frames = []
    packets = []
    for i, (sport, dport, mode) in enumerate(PORTS):
        packet = udp6(
            link_local_from_mac(src_mac), link_local_from_mac(dst_mac), sport, dport, b"p"
        )
        encoded = compress_ipv6(packet, src_mac=src_mac, dst_mac=dst_mac)
        assert encoded[:3] == bytes((0x7E, 0x33, 0xF0 | mode))
        packets.append(packet)
        frames.append(mac_frame(encoded, src_mac, dst_mac, i))
    rows = tshark(tmp_path, frames, options=context_options({}))
    for packet, row in zip(packets, rows, strict=True):
        assert_decoded(row, packet, checksum_inline=True)


def test_extension_header_nhc_decodes_in_tshark(tmp_path: Path) -> None:
    udp = UdpHeader(50001, 50002).build(b"behind", src=LL_SRC, dst=LL_DST)
    hbh = HopByHopOptions(17, [Ipv6Option(5, b"\0\0")])
    dst_opts = DestinationOptions(17, [Ipv6Option(0x1E, bytes(9))])  # PadN(3) elided
    routing = RoutingHeader(17, 3, 0, bytes(4))  # RPL source route without addresses
    inner = udp6(ip6_from_str("fe80::1"), ip6_from_str("fe80::2"), 1234, 5678, b"inner")
    packets = [
        Ipv6Header(LL_SRC, LL_DST, 0, 64).build(hbh.build(udp)),
        Ipv6Header(LL_SRC, LL_DST, 0, 64).build(
            HopByHopOptions(60, [Ipv6Option(5, b"\0\0")]).build(dst_opts.build(udp))
        ),
        Ipv6Header(LL_SRC, LL_DST, 43, 64).build(routing.build(udp)),
        Ipv6Header(LL_SRC, LL_DST, 44, 64).build(FragmentHeader(17, 0, False, 99).build(udp)),
        # Inner IIDs come from the outer addresses (RFC 6282 §3.2.2), and tshark agrees.
        Ipv6Header(ip6_from_str("2001:db8::1"), ip6_from_str("2001:db8::2"), 41, 64).build(inner),
        Ipv6Header(LL_SRC, LL_DST, 0, 64).build(
            HopByHopOptions(41, [Ipv6Option(5, b"\0\0")]).build(inner)
        ),
    ]
    nhc = [b"\xe1", b"\xe1", b"\xe3", b"\xe4", b"\xee", b"\xe1"]
    frames = []
    for i, (packet, octet) in enumerate(zip(packets, nhc, strict=True)):
        encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=CONTEXTS)
        assert octet in encoded[2:20]
        frames.append(mac_frame(encoded, SRC_MAC, DST_MAC, i))
    rows = tshark(tmp_path, frames, options=context_options(CONTEXTS))
    for packet, row in zip(packets, rows, strict=True):
        assert_decoded(row, packet, checksum_inline=True)


def test_fragments_are_reassembled_by_tshark(tmp_path: Path) -> None:
    payload = bytes(range(256)) + b"the end of a long datagram"
    first = udp6(LL_SRC, LL_DST, 50001, 50002, payload)
    second = udp6(ip6_from_str("2001:db8::1"), ip6_from_str("ff02::1"), 50003, 0xF0B7, payload)
    frames = []
    compressed, consumed = compress_headers(first, src_mac=SRC_MAC, dst_mac=DST_MAC)
    frames += fragment_datagram(first, compressed, consumed, tag=0x1234, max_size=80)
    # The same datagram sent uncompressed behind the IPv6 dispatch, another tag.
    frames += fragment_datagram(first, b"\x41", 0, tag=0x1235, max_size=96)
    compressed, consumed = compress_headers(
        second, src_mac=SRC_MAC, dst_mac=DST_MAC, contexts=CONTEXTS
    )
    frames += fragment_datagram(second, compressed, consumed, tag=0x1236, max_size=100)
    assert len(frames) == 5 + 4 + 4
    frames = [mac_frame(frame, SRC_MAC, DST_MAC, i) for i, frame in enumerate(frames)]
    rows = tshark(
        tmp_path,
        frames,
        fields=(*FIELDS, "6lowpan.reassembled.length"),
        options=context_options(CONTEXTS),
    )
    complete = [row for row in rows if row["6lowpan.reassembled.length"]]
    assert [row["6lowpan.reassembled.length"] for row in complete] == [str(len(first))] * 2 + [
        str(len(second))
    ]
    for row, packet in zip(complete, (first, first, second), strict=True):
        assert_decoded(row, packet, checksum_inline=True)


def test_mesh_and_broadcast_headers_in_front_of_iphc(tmp_path: Path) -> None:
    originator, final = b"\x00\x01", b"\x00\x02"
    # With a mesh header the IIDs come from its originator and final addresses.
    mesh_packet = udp6(link_local_from_mac(originator), ip6_from_str("ff02::1"), 1, 2, b"m")
    deep_packet = udp6(LL_SRC, LL_DST, 0xF0B1, 0xF0B2, b"deep")
    broadcast = b"\xff\xff"
    cases = [  # (headers, packet, IID sources, MAC addresses)
        (
            LowpanHeaders(MeshHeader(originator, final, 5), BroadcastHeader(7)),
            mesh_packet,
            (originator, final),
            (b"\x00\x09", broadcast),
        ),
        (
            LowpanHeaders(MeshHeader(SRC_MAC, DST_MAC, 20)),
            deep_packet,
            (SRC_MAC, DST_MAC),
            (b"\x00\x09", b"\x00\x0a"),
        ),
        (
            LowpanHeaders(broadcast=BroadcastHeader(200)),
            deep_packet,
            (SRC_MAC, DST_MAC),
            (SRC_MAC, DST_MAC),
        ),
    ]
    frames = []
    for i, (headers, packet, (src, dst), (mac_src, mac_dst)) in enumerate(cases):
        encoded = compress_ipv6(packet, src_mac=src, dst_mac=dst)
        frames.append(mac_frame(headers.build(encoded), mac_src, mac_dst, i))
    # Mesh + FRAG1/FRAGN: the fragment headers follow the mesh header (RFC 4944 §5).
    big = udp6(LL_SRC, LL_DST, 50001, 50002, bytes(200))
    compressed, consumed = compress_headers(big, src_mac=SRC_MAC, dst_mac=DST_MAC)
    mesh = MeshHeader(SRC_MAC, DST_MAC, 3)
    for fragment in fragment_datagram(big, compressed, consumed, tag=9, max_size=80 - 17):
        frames.append(mac_frame(mesh.build(fragment), b"\x00\x05", b"\x00\x06", len(frames)))
    fields = (
        *FIELDS,
        "6lowpan.mesh.hops",
        "6lowpan.mesh.hops8",
        "6lowpan.mesh.orig16",
        "6lowpan.mesh.dest16",
        "6lowpan.bcast.seqnum",
        "6lowpan.reassembled.length",
    )
    rows = tshark(tmp_path, frames, fields=fields, options=context_options({}))
    assert (rows[0]["6lowpan.mesh.hops"], rows[0]["6lowpan.mesh.orig16"]) == ("5", "0x0001")
    assert (rows[0]["6lowpan.mesh.dest16"], rows[0]["6lowpan.bcast.seqnum"]) == ("0x0002", "7")
    assert (rows[1]["6lowpan.mesh.hops"], rows[1]["6lowpan.mesh.hops8"]) == ("15", "20")
    assert rows[2]["6lowpan.bcast.seqnum"] == "200" and not rows[2]["6lowpan.mesh.hops"]
    for row, (_, packet, _, _) in zip(rows, cases, strict=False):
        assert_decoded(row, packet, checksum_inline=True)
    assert rows[-1]["6lowpan.reassembled.length"] == str(len(big))
    assert_decoded(rows[-1], big, checksum_inline=True)
