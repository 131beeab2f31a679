"""The pieces of 6LoWPAN the link adapter uses around fragments and next hops."""

from __future__ import annotations

import pytest

from netstack.wire import DecodeError
from netstack.wire.ipv6 import ip6_from_str
from netstack.wire.sixlowpan import (
    Frag1Header,
    LowpanHeaders,
    compress_headers,
    decompress_first_fragment,
    fragment_datagram,
    iid_from_mac,
    mac_from_iid,
)
from netstack.wire.udp import UdpHeader

SRC = bytes.fromhex("0200000000000001")
DST = bytes.fromhex("0200000000000002")


def packet(payload: bytes) -> bytes:
    src, dst = ip6_from_str("fe80::1"), ip6_from_str("fe80::2")
    udp = UdpHeader(61616, 7).build(payload, src=src, dst=dst)
    header = bytes((0x60, 0, 0, 0)) + len(udp).to_bytes(2, "big") + bytes((17, 64))
    return header + src + dst + udp


@pytest.mark.parametrize("mac", [SRC, bytes.fromhex("00124b0001020304"), b"\x12\x34", b"\0\0"])
def test_mac_from_iid_inverts_iid_from_mac(mac: bytes) -> None:
    assert mac_from_iid(iid_from_mac(mac)) == mac


def test_mac_from_iid_wants_eight_bytes() -> None:
    with pytest.raises(ValueError):
        mac_from_iid(b"\0" * 7)


@pytest.mark.parametrize("compressed", [True, False], ids=["iphc", "uncompressed"])
def test_a_first_fragment_gives_the_datagram_from_offset_zero(compressed: bool) -> None:
    datagram = packet(bytes(range(256)) * 2)
    if compressed:
        head, consumed = compress_headers(datagram, src_mac=SRC, dst_mac=DST)
    else:
        head, consumed = b"\x41", 0
    frag1 = fragment_datagram(datagram, head, consumed, tag=9, max_size=90)[0]
    headers, payload = LowpanHeaders.parse(frag1)
    assert isinstance(headers.fragment, Frag1Header)
    data, decoded = decompress_first_fragment(
        payload, src_mac=SRC, dst_mac=DST, datagram_size=headers.fragment.datagram_size
    )
    assert datagram.startswith(data) and len(data) > 40
    assert (decoded is not None) is compressed


def test_a_first_fragment_of_something_else_is_refused() -> None:
    with pytest.raises(DecodeError):
        decompress_first_fragment(b"\x00abc", datagram_size=100)
    with pytest.raises(DecodeError):
        decompress_first_fragment(b"", datagram_size=100)
