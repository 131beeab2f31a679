"""TCP headers (RFC 9293 §3.1), options (RFC 9293 §3.2, RFC 7323, RFC 2018), the checksum over
the IPv4 and IPv6 pseudo-headers, and sequence arithmetic (RFC 9293 §3.4)."""

from __future__ import annotations

import dataclasses
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import ChecksumError, DecodeError
from netstack.wire.checksum import internet_checksum, pseudo_header_sum
from netstack.wire.tcp import (
    TcpFlags,
    TcpHeader,
    TcpOptionKind,
    TcpOptions,
    seq_add,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_le,
    seq_lt,
)

IP_A = bytes((10, 88, 7, 1))  # kernel client
IP_B = bytes((10, 88, 7, 2))  # kernel server
IP_RAW = bytes((10, 88, 7, 3))  # hand-built segments from a raw socket, answered by IP_B
IP6_A = bytes.fromhex("fd880000000000000000000000000001")
IP6_B = bytes.fromhex("fd880000000000000000000000000002")
LOCALHOST = bytes((127, 0, 0, 1))

# Each vector below is one TCP segment (header | options | payload), captured from the Linux
# kernel (veth in a netns, TX checksum offload off) with tcpdump; tshark validated every
# checksum. A connection 10.88.7.1 -> 10.88.7.2:7000 with ECN requested (tcp_ecn=1):

# SYN|ECE|CWR: MSS 1460, SACK-permitted + timestamps, NOP + window scale 10.
# Captured from the Linux kernel (veth in a netns).
SYN = bytes.fromhex(
    "edd81b58e6f6f27800000000a0c2faf03ac70000 020405b40402080a004d0be5000000000103030a"
)
# SYN|ACK|ECE answering SYN. Captured from the Linux kernel (veth in a netns).
SYN_ACK = bytes.fromhex(
    "1b58edd8930cbce2e6f6f279a052fe8892620000 020405b40402080a46b10e9b004d0be50103030a"
)
# The handshake's last ACK: NOP, NOP, timestamps. Captured from the Linux kernel (veth in a netns).
ACK = bytes.fromhex("edd81b58e6f6f279930cbce38010003fbfbb0000 0101080a004d0be546b10e9b")
# PSH|ACK with 36 bytes of data. Captured from the Linux kernel (veth in a netns).
DATA = bytes.fromhex(
    "edd81b58e6f6f279930cbce38018003f08ea0000 0101080a004d0be546b10e9b"
    "68656c6c6f2066726f6d20746865206e6574737461636b207465737420636c69656e740a"
)
# send(b"!", MSG_OOB): URG|PSH|ACK, urgent pointer 1, one (odd) byte of data.
# Captured from the Linux kernel (veth in a netns).
URGENT = bytes.fromhex("edd81b58e6f6f29d930cbd048038003f9e1a0001 0101080a004d0c1746b10e9b 21")
# The client's FIN|ACK and the server's. Captured from the Linux kernel (veth in a netns).
FIN = bytes.fromhex("edd81b58e6f6f29e930cbd048011003fbeb40000 0101080a004d0c4a46b10ef6")
FIN_SERVER = bytes.fromhex("1b58edd8930cbd04e6f6f29f80110040bea80000 0101080a46b10f00004d0c4a")

# A full-sized segment from the server: 1448 bytes counting up from 0 (MSS 1460 less the
# timestamps). Captured from the Linux kernel (veth in a netns).
PATTERN = bytes(i & 0xFF for i in range(1448))
BULK = bytes.fromhex("1b58ede882cd8bdd20e76257801800406fec0000 0101080a99d17588e6ef33d0") + PATTERN

# RST|ACK from close() with SO_LINGER {1, 0}: still carries timestamps.
# Captured from the Linux kernel (veth in a netns).
RST_LINGER = bytes.fromhex("edf41b58ea18841fddbb33e38014003ff1750000 0101080a9a64ebe3f53b5da9")
# RST|ACK refusing a SYN to a closed port: seq 0, window 0, no options.
# Captured from the Linux kernel (veth in a netns).
RST_REFUSED = bytes.fromhex("1b598740000000005f719e1850140000ecfa0000")

# With net.ipv4.tcp_timestamps=0 in the client's netns: MSS, NOP, NOP, SACK-permitted,
# NOP, window scale. Captured from the Linux kernel (veth in a netns).
SYN_NO_TS = bytes.fromhex("edf61b58e2387c8c000000008002faf0e9560000 020405b4010104020103030a")
SYN_ACK_NO_TS = bytes.fromhex("1b58edf6d0d1a518e2387c8d8012faf0735b0000 020405b4010104020103030a")
# With net.ipv4.tcp_sack=0: MSS, NOP, NOP, timestamps, NOP, window scale.
# Captured from the Linux kernel (veth in a netns).
SYN_NO_SACK = bytes.fromhex(
    "ee001b588356c17600000000a002faf009a20000 020405b40101080a61307462000000000103030a"
)
SYN_ACK_NO_SACK = bytes.fromhex(
    "1b58ee004bccf2b78356c177a012fe88f0ae0000 020405b40101080a3451a274613074620103030a"
)

# The kernel at 10.88.7.2 answering hand-built segments from 10.88.7.3:40000, whose SYN had
# ISS 0x10000000 and timestamps: after the handshake, 100-byte segments at +100, +300 and
# +500 (out of order) each drew a duplicate ACK with one more SACK block, most recent first
# (RFC 2018 §4); filling the first hole moved the ACK and left two blocks.
# Captured from the Linux kernel (veth in a netns).
SACK_1 = bytes.fromhex(
    "1b589c406b6677e010000001b0100040affd0000 0101080a59b34409000003e9 0101050a10000065100000c9"
)
SACK_2 = bytes.fromhex(
    "1b589c406b6677e010000001d01000406d2f0000 0101080a59b34409000003e9"
    "010105121000012d1000019110000065100000c9"
)
SACK_3 = bytes.fromhex(  # 40 bytes of options: the most SACK blocks that fit with timestamps
    "1b589c406b6677e010000001f010004028d10000 0101080a59b34409000003e9"
    "0101051a100001f5100002591000012d1000019110000065100000c9"
)
SACK_FILLED = bytes.fromhex(
    "1b589c406b6677e0100000c9d0100040693e0000 0101080a59b34409000003f2"
    "01010512100001f5100002591000012d10000191"
)
# The same without timestamps (ISS 0x50000000): the fourth out-of-order segment drew four
# SACK blocks. Captured from the Linux kernel (veth in a netns).
SACK_4 = bytes.fromhex(
    "1b589c4a32222d5f50000001e010003f015a0000"
    "01010522500002bd50000321500001f5500002595000012d5000019150000065500000c9"
)
# An ACK from 10.88.7.3:40002 (seq 0x20000000, ack 0x30000000) to the closed port 7002: a
# RST without ACK whose seq is the segment's ack (RFC 9293 §3.10.7.1).
# Captured from the Linux kernel (veth in a netns).
RST_NO_ACK = bytes.fromhex("1b5a9c42300000000000000050040000a58f0000")
# The SYN-ACK to a SYN with no options (ISS 0x40000000): MSS only.
# Captured from the Linux kernel (veth in a netns).
SYN_ACK_MSS_ONLY = bytes.fromhex("1b589c41486b5a87400000016012faf0dfe30000 020405b4")

# [fd88::1] -> [fd88::2]:7000 over IPv6: MSS 1440. Captured from the Linux kernel (veth in a netns).
SYN6 = bytes.fromhex(
    "b5b61b58cc56156e00000000a002fd20a6930000 020405a00402080a407ab5fa000000000103030a"
)
SYN_ACK6 = bytes.fromhex(
    "1b58b5b670f7fe5ecc56156fa012fb04f8ff0000 020405a00402080a46f4f953407ab5fa0103030a"
)
DATA6 = bytes.fromhex(
    "b5b61b58cc56156f70f7fe5f801800406bae0000 0101080a407ab5fa46f4f953"
    "68656c6c6f2066726f6d20746865206e6574737461636b207465737420636c69656e740a"
)
URGENT6 = bytes.fromhex("b5b61b58cc56159370f7fe808038004000df0001 0101080a407ab62c46f4f953 21")

# 127.0.0.1:42024 -> 127.0.0.1:7100 on loopback, where the kernel leaves the checksum to
# "offload" (CHECKSUM_PARTIAL): the field holds the folded pseudo-header sum.
# Captured from the Linux kernel (lo in a netns).
PARTIAL_SYN = bytes.fromhex(
    "a4281bbc93106bc300000000a002ffd7fe300000 0204ffd70402080a45410692000000000103030a"
)
PARTIAL_DATA = bytes.fromhex(
    "a4281bbc93106bc44961735980180040fe2a0000 0101080a4541069309a7df12 780a"
)

# (name, segment, source, destination) for every vector with a complete checksum.
CHECKED = [
    ("syn", SYN, IP_A, IP_B),
    ("syn_ack", SYN_ACK, IP_B, IP_A),
    ("ack", ACK, IP_A, IP_B),
    ("data", DATA, IP_A, IP_B),
    ("urgent", URGENT, IP_A, IP_B),
    ("fin", FIN, IP_A, IP_B),
    ("fin_server", FIN_SERVER, IP_B, IP_A),
    ("bulk", BULK, IP_B, IP_A),
    ("rst_linger", RST_LINGER, IP_A, IP_B),
    ("rst_refused", RST_REFUSED, IP_B, IP_A),
    ("syn_no_ts", SYN_NO_TS, IP_A, IP_B),
    ("syn_ack_no_ts", SYN_ACK_NO_TS, IP_B, IP_A),
    ("syn_no_sack", SYN_NO_SACK, IP_A, IP_B),
    ("syn_ack_no_sack", SYN_ACK_NO_SACK, IP_B, IP_A),
    ("sack_1", SACK_1, IP_B, IP_RAW),
    ("sack_2", SACK_2, IP_B, IP_RAW),
    ("sack_3", SACK_3, IP_B, IP_RAW),
    ("sack_filled", SACK_FILLED, IP_B, IP_RAW),
    ("sack_4", SACK_4, IP_B, IP_RAW),
    ("rst_no_ack", RST_NO_ACK, IP_B, IP_RAW),
    ("syn_ack_mss_only", SYN_ACK_MSS_ONLY, IP_B, IP_RAW),
    ("syn6", SYN6, IP6_A, IP6_B),
    ("syn_ack6", SYN_ACK6, IP6_B, IP6_A),
    ("data6", DATA6, IP6_A, IP6_B),
    ("urgent6", URGENT6, IP6_A, IP6_B),
]
CHECKED_PARAMS = [pytest.param(seg, src, dst, id=name) for name, seg, src, dst in CHECKED]
VECTORS = [pytest.param(seg, id=name) for name, seg, _, _ in CHECKED] + [
    pytest.param(PARTIAL_SYN, id="partial_syn"),
    pytest.param(PARTIAL_DATA, id="partial_data"),
]


def _header_len(segment: bytes) -> int:
    return (segment[12] >> 4) * 4


def _rebuild(header: TcpHeader) -> TcpHeader:
    """A fresh record with the parsed fields, so nothing parse stored leaks into build."""
    return dataclasses.replace(header, checksum=0)


# --- captured vectors -----------------------------------------------------------------------


def test_parse_syn_with_every_option() -> None:
    header, payload = TcpHeader.parse(SYN, src=IP_A, dst=IP_B)
    assert header == TcpHeader(
        src_port=60888,
        dst_port=7000,
        seq=0xE6F6F278,
        ack=0,
        flags=TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR,
        window=64240,
        urgent=0,
        options=TcpOptions(mss=1460, wscale=10, sack_permitted=True, timestamp=(0x4D0BE5, 0)),
        checksum=0x3AC7,
    )
    assert header.header_len == 40
    assert header.syn and not header.has_ack and not header.fin and not header.rst
    assert header.segment_length(len(payload)) == 1
    assert len(payload) == 0


def test_syn_ack_acknowledges_the_syn() -> None:
    syn, _ = TcpHeader.parse(SYN)
    syn_ack, _ = TcpHeader.parse(SYN_ACK, src=IP_B, dst=IP_A)
    assert syn_ack.flags == TcpFlags.SYN | TcpFlags.ACK | TcpFlags.ECE
    assert syn_ack.syn and syn_ack.has_ack
    assert syn_ack.ack == seq_add(syn.seq, syn.segment_length(0))
    assert syn_ack.options is not None and syn.options is not None
    assert syn.options.timestamp is not None
    assert syn_ack.options.timestamp == (0x46B10E9B, syn.options.timestamp[0])  # TSecr = TSval


def test_parse_data_segment() -> None:
    header, payload = TcpHeader.parse(DATA, src=IP_A, dst=IP_B)
    assert (header.src_port, header.dst_port) == (60888, 7000)
    assert (header.seq, header.ack) == (0xE6F6F279, 0x930CBCE3)
    assert header.flags == TcpFlags.PSH | TcpFlags.ACK
    assert header.window == 63  # scaled by 2**10 at the receiver (RFC 7323 §2.3)
    assert header.options == TcpOptions(timestamp=(0x4D0BE5, 0x46B10E9B))
    assert header.header_len == 32
    assert isinstance(payload, memoryview)
    assert bytes(payload) == b"hello from the netstack test client\n"
    assert header.segment_length(len(payload)) == 36


def test_parse_returns_plain_ints() -> None:
    header, _ = TcpHeader.parse(SYN_ACK)
    assert type(header.flags) is int


def test_urgent_pointer() -> None:
    header, payload = TcpHeader.parse(URGENT, src=IP_A, dst=IP_B)
    assert header.flags == TcpFlags.URG | TcpFlags.PSH | TcpFlags.ACK
    assert header.urgent == 1
    assert bytes(payload) == b"!"


def test_fin_counts_in_the_segment_length() -> None:
    fin, payload = TcpHeader.parse(FIN, src=IP_A, dst=IP_B)
    assert fin.fin and fin.has_ack and not fin.syn
    assert fin.segment_length(len(payload)) == 1
    server_fin, _ = TcpHeader.parse(FIN_SERVER, src=IP_B, dst=IP_A)
    assert server_fin.ack == seq_add(fin.seq, 1)


def test_full_sized_segment() -> None:
    header, payload = TcpHeader.parse(BULK, src=IP_B, dst=IP_A)
    assert header.header_len == 32
    assert payload == PATTERN


def test_resets() -> None:
    refused, payload = TcpHeader.parse(RST_REFUSED, src=IP_B, dst=IP_A)
    assert refused.rst and refused.has_ack
    assert (refused.seq, refused.window, refused.options) == (0, 0, None)
    assert refused.header_len == 20 and len(payload) == 0
    no_ack, _ = TcpHeader.parse(RST_NO_ACK, src=IP_B, dst=IP_RAW)
    assert no_ack.flags == TcpFlags.RST
    assert (no_ack.seq, no_ack.ack) == (0x30000000, 0)  # RFC 9293 §3.10.7.1
    linger, _ = TcpHeader.parse(RST_LINGER, src=IP_A, dst=IP_B)
    assert linger.flags == TcpFlags.RST | TcpFlags.ACK
    assert linger.options is not None and linger.options.timestamp is not None


def test_sack_blocks_most_recent_first() -> None:
    first = 0x10000001  # the raw client's ISS + 1
    expected = [
        (SACK_1, first, [(100, 200)]),
        (SACK_2, first, [(300, 400), (100, 200)]),
        (SACK_3, first, [(500, 600), (300, 400), (100, 200)]),
        (SACK_FILLED, first + 200, [(500, 600), (300, 400)]),
    ]
    for segment, ack, blocks in expected:
        header, payload = TcpHeader.parse(segment, src=IP_B, dst=IP_RAW)
        assert header.ack == ack and header.flags == TcpFlags.ACK and len(payload) == 0
        assert header.options is not None
        assert header.options.sack_blocks == tuple((first + a, first + b) for a, b in blocks)
        assert header.options.timestamp is not None


def test_four_sack_blocks_without_timestamps() -> None:
    header, _ = TcpHeader.parse(SACK_4, src=IP_B, dst=IP_RAW)
    first = 0x50000001
    assert header.header_len == 56
    assert header.options == TcpOptions(
        sack_blocks=tuple((first + a, first + a + 100) for a in (700, 500, 300, 100))
    )


def test_syn_layouts_without_timestamps_or_sack() -> None:
    no_ts, _ = TcpHeader.parse(SYN_NO_TS, src=IP_A, dst=IP_B)
    assert no_ts.options == TcpOptions(mss=1460, wscale=10, sack_permitted=True)
    no_sack, _ = TcpHeader.parse(SYN_NO_SACK, src=IP_A, dst=IP_B)
    assert no_sack.options is not None
    assert (no_sack.options.mss, no_sack.options.wscale) == (1460, 10)
    assert not no_sack.options.sack_permitted
    mss_only, _ = TcpHeader.parse(SYN_ACK_MSS_ONLY, src=IP_B, dst=IP_RAW)
    assert mss_only.options == TcpOptions(mss=1460)
    assert mss_only.header_len == 24


@pytest.mark.parametrize(("segment", "src", "dst"), CHECKED_PARAMS)
def test_captured_segments_verify_and_rebuild(segment: bytes, src: bytes, dst: bytes) -> None:
    header, payload = TcpHeader.parse(segment, src=src, dst=dst)
    assert header.header_len == _header_len(segment)
    assert len(payload) == len(segment) - header.header_len
    assert header.build(payload, src=src, dst=dst) == segment
    fresh = _rebuild(header)
    assert fresh.header_len == header.header_len
    assert fresh.build(bytes(payload), src=src, dst=dst) == segment
    assert fresh.build(bytearray(payload), src=src, dst=dst) == segment


@pytest.mark.parametrize("segment", VECTORS)
def test_kernel_option_blocks_rebuild_byte_for_byte(segment: bytes) -> None:
    block = segment[20 : _header_len(segment)]
    options = TcpOptions.parse(block)
    assert options.build() == block
    assert TcpOptions.parse(memoryview(block)) == options
    assert TcpOptions.parse(bytearray(block)) == options


def test_ipv6_pseudo_header() -> None:
    header, payload = TcpHeader.parse(DATA6, src=IP6_A, dst=IP6_B)
    assert (header.src_port, header.dst_port, header.checksum) == (46518, 7000, 0x6BAE)
    assert bytes(payload) == b"hello from the netstack test client\n"
    syn, _ = TcpHeader.parse(SYN6, src=IP6_A, dst=IP6_B)
    assert syn.options is not None and syn.options.mss == 1440  # 1500 - 40 - 20
    # (Swapping src and dst cannot be detected: the sum is commutative.)
    for src, dst in ((IP6_A, IP6_A), (IP6_B, IP6_B), (IP_A, IP_B)):
        with pytest.raises(ChecksumError):
            TcpHeader.parse(DATA6, src=src, dst=dst)


def test_partial_checksum_for_offload_matches_linux() -> None:
    for segment in (PARTIAL_SYN, PARTIAL_DATA):
        header, payload = TcpHeader.parse(segment)  # no addresses: nothing verified
        assert header.checksum == pseudo_header_sum(LOCALHOST, LOCALHOST, 6, len(segment))
        built = _rebuild(header).build(payload, src=LOCALHOST, dst=LOCALHOST, fill_checksum=False)
        assert built == segment
        with pytest.raises(ChecksumError):
            TcpHeader.parse(segment, src=LOCALHOST, dst=LOCALHOST)


def test_completing_a_partial_checksum_gives_the_real_one() -> None:
    # What the NIC does with CHECKSUM_PARTIAL: sum from the TCP header on, seeded by the field.
    header, payload = TcpHeader.parse(DATA)
    partial = _rebuild(header).build(payload, src=IP_A, dst=IP_B, fill_checksum=False)
    assert internet_checksum(partial) == header.checksum
    assert partial[:16] + header.checksum.to_bytes(2) + partial[18:] == DATA


def test_a_sum_of_all_ones_is_sent_as_zero() -> None:
    # Constructed: choose the payload word that brings the one's-complement sum to 0xFFFF.
    # The checksum is then ~0xFFFF = 0x0000 (RFC 1071), what Linux's csum_fold() gives; TCP
    # has no "no checksum" value, so unlike UDP nothing is substituted.
    record = TcpHeader(1234, 80, 1, 2, TcpFlags.ACK, 512)
    probe = record.build(b"\0\0", src=IP_A, dst=IP_B)
    word = probe[16:18]
    segment = record.build(word, src=IP_A, dst=IP_B)
    assert segment[16:18] == b"\0\0"
    assert _reference_checksum(IP_A, IP_B, segment) == 0
    TcpHeader.parse(segment, src=IP_A, dst=IP_B)
    # 0xFFFF is the other zero of one's complement and verifies the same (RFC 1624 §3).
    TcpHeader.parse(segment[:16] + b"\xff\xff" + segment[18:], src=IP_A, dst=IP_B)


@pytest.mark.parametrize(("segment", "src", "dst"), CHECKED_PARAMS)
def test_any_flipped_bit_raises_checksum_error(segment: bytes, src: bytes, dst: bytes) -> None:
    for index in range(len(segment)):
        for bit in (0x01, 0x80):
            corrupted = bytearray(segment)
            corrupted[index] ^= bit
            # Byte 12 holds the data offset, which may now point outside the segment.
            expected = DecodeError if index == 12 else ChecksumError
            with pytest.raises(expected):
                TcpHeader.parse(corrupted, src=src, dst=dst)


def test_wrong_addresses_raise_checksum_error() -> None:
    with pytest.raises(ChecksumError):
        TcpHeader.parse(SYN, src=IP_B, dst=IP_B)
    with pytest.raises(ChecksumError):
        TcpHeader.parse(SACK_1, src=IP_B, dst=IP_A)  # sent to 10.88.7.3


def test_one_address_alone_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        TcpHeader.parse(SYN, src=IP_A)
    with pytest.raises(TypeError):
        TcpHeader.parse(SYN, dst=IP_B)


@pytest.mark.parametrize("segment", VECTORS)
def test_every_truncation_into_the_header_raises(segment: bytes) -> None:
    for cut in range(_header_len(segment)):
        with pytest.raises(DecodeError):
            TcpHeader.parse(segment[:cut])
        with pytest.raises(DecodeError):
            TcpHeader.parse(segment[:cut], src=IP_A, dst=IP_B)


@pytest.mark.parametrize(("segment", "src", "dst"), CHECKED_PARAMS)
def test_truncated_payload_fails_the_checksum(segment: bytes, src: bytes, dst: bytes) -> None:
    header_len = _header_len(segment)
    for cut in range(header_len, len(segment)):
        _, payload = TcpHeader.parse(segment[:cut])  # no length field: a shorter payload
        assert len(payload) == cut - header_len
        with pytest.raises(ChecksumError):
            TcpHeader.parse(segment[:cut], src=src, dst=dst)


@pytest.mark.parametrize("offset_words", [0, 1, 4])
def test_data_offset_below_five_raises(offset_words: int) -> None:
    data = bytearray(DATA)
    data[12] = (offset_words << 4) | (data[12] & 0x0F)
    with pytest.raises(DecodeError):
        TcpHeader.parse(data)


def test_data_offset_past_the_end_raises() -> None:
    data = bytearray(ACK)  # 32 bytes
    data[12] = (9 << 4) | (data[12] & 0x0F)  # 36
    with pytest.raises(DecodeError):
        TcpHeader.parse(data)


def test_payload_is_a_view_into_the_input() -> None:
    data = bytearray(DATA)
    header, payload = TcpHeader.parse(data, src=IP_A, dst=IP_B)
    data[header.header_len] = ord("H")
    assert payload[0] == ord("H")


def test_accepts_memoryview_slices() -> None:
    frame = memoryview(bytes(34) + URGENT + bytes(4))
    header, payload = TcpHeader.parse(frame[34 : 34 + len(URGENT)], src=IP_A, dst=IP_B)
    assert header.urgent == 1
    assert bytes(payload) == b"!"
    big = memoryview(b"\xee" * 14 + BULK)[14:]
    assert TcpHeader.parse(big, src=IP_B, dst=IP_A)[1] == PATTERN


# --- options --------------------------------------------------------------------------------


def test_option_kinds_and_flag_values() -> None:
    assert [int(k) for k in TcpOptionKind] == [0, 1, 2, 3, 4, 5, 8]
    assert int(TcpFlags.FIN | TcpFlags.SYN | TcpFlags.RST | TcpFlags.PSH) == 0x0F
    assert int(TcpFlags.ACK | TcpFlags.URG | TcpFlags.ECE | TcpFlags.CWR) == 0xF0


def test_options_are_none_without_option_bytes() -> None:
    header, _ = TcpHeader.parse(RST_REFUSED)
    assert header.options is None
    assert TcpHeader(1, 2, 3, 4, TcpFlags.ACK, 5).header_len == 20


def test_option_parse_skips_nop_and_unknown_kinds_and_stops_at_eol() -> None:
    block = bytes.fromhex(
        "01"  # NOP
        "1e0c 00000000000000000000"  # kind 30 (MPTCP) with length 12, skipped
        "0204 05b4"  # MSS 1460
        "22 06 aabbccdd"  # kind 34 (TCP Fast Open cookie), skipped
        "00"  # EOL: what follows is padding, even if it looks malformed
        "ff00"
    )
    assert TcpOptions.parse(block) == TcpOptions(mss=1460)
    assert TcpOptions.parse(b"\x01\x01\x01\x01") == TcpOptions()
    assert TcpOptions.parse(b"") == TcpOptions()
    assert TcpOptions.parse(b"\x00\x02\x04\x05") == TcpOptions()


def test_a_repeated_option_keeps_the_last() -> None:
    assert TcpOptions.parse(bytes.fromhex("02040100 02040200")) == TcpOptions(mss=0x200)


def test_wscale_is_reported_as_received() -> None:
    # RFC 7323 §2.3: the receiver clamps a shift above 14, the parser does not.
    assert TcpOptions.parse(b"\x01\x03\x03\x0f") == TcpOptions(wscale=15)


@pytest.mark.parametrize(
    "block",
    [
        pytest.param("02", id="kind-without-length"),
        pytest.param("0101 1e", id="unknown-kind-without-length"),
        pytest.param("0200 0000", id="length-0"),
        pytest.param("1e01 0000", id="length-1"),
        pytest.param("1e08 000000", id="past-the-end"),
        pytest.param("0203 05", id="mss-length-3"),
        pytest.param("0205 05b400", id="mss-length-5"),
        pytest.param("0302", id="wscale-length-2"),
        pytest.param("0304 0700", id="wscale-length-4"),
        pytest.param("0403 00", id="sack-permitted-length-3"),
        pytest.param("0808 0000000000000000", id="timestamps-length-8"),
        pytest.param("080c 0000000000000000 0000", id="timestamps-length-12"),
        pytest.param("0502", id="sack-no-blocks"),
        pytest.param("0509 00000000000000 00", id="sack-length-9"),
        pytest.param("052a" + "00" * 40, id="sack-five-blocks"),
    ],
)
def test_malformed_options_raise(block: str) -> None:
    data = bytes.fromhex(block)
    with pytest.raises(DecodeError):
        TcpOptions.parse(data)
    # The same options inside a header (NOPs in front to fill a word) fail the header parse.
    padded = b"\x01" * (-len(data) % 4) + data
    if len(padded) <= 40:
        segment = TcpHeader(1, 2, 3, 4, TcpFlags.ACK, 5).build(b"", src=IP_A, dst=IP_B)
        segment = segment[:12] + bytes(((20 + len(padded)) << 2,)) + segment[13:] + padded
        with pytest.raises(DecodeError):
            TcpHeader.parse(segment)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (TcpOptions(), ""),
        (TcpOptions(mss=536), "02040218"),
        (TcpOptions(wscale=7), "01030307"),
        (TcpOptions(sack_permitted=True), "01010402"),
        (TcpOptions(timestamp=(1, 2)), "0101080a 00000001 00000002"),
        (TcpOptions(sack_permitted=True, timestamp=(1, 2)), "0402080a 00000001 00000002"),
        (TcpOptions(sack_blocks=((1, 2),)), "0101050a 00000001 00000002"),
        (
            TcpOptions(mss=1460, wscale=7, sack_permitted=True, timestamp=(3, 0)),
            "020405b4 0402080a 00000003 00000000 01030307",
        ),
    ],
)
def test_options_build_in_linux_layout(options: TcpOptions, expected: str) -> None:
    # Layouts from Linux's tcp_options_write() (net/ipv4/tcp_output.c).
    assert options.build() == bytes.fromhex(expected)


@pytest.mark.parametrize(
    "options",
    [
        TcpOptions(timestamp=(1, 2), sack_blocks=((1, 2),) * 4),  # 12 + 36 bytes
        TcpOptions(mss=1460, wscale=7, timestamp=(1, 2), sack_blocks=((1, 2),) * 3),
        TcpOptions(sack_blocks=((1, 2),) * 5),
        TcpOptions(sack_blocks=((1, 2),) * 40),
        TcpOptions(mss=0x10000),
        TcpOptions(mss=-1),
        TcpOptions(wscale=256),
        TcpOptions(timestamp=(2**32, 0)),
        TcpOptions(sack_blocks=((0, 2**32),)),
    ],
)
def test_options_build_rejects_what_does_not_fit(options: TcpOptions) -> None:
    with pytest.raises(ValueError):
        options.build()


@pytest.mark.parametrize(
    "header",
    [
        TcpHeader(0x10000, 2, 3, 4, TcpFlags.ACK, 5),
        TcpHeader(1, 2, 2**32, 4, TcpFlags.ACK, 5),
        TcpHeader(1, 2, 3, -1, TcpFlags.ACK, 5),
        TcpHeader(1, 2, 3, 4, 0x1000, 5),
        TcpHeader(1, 2, 3, 4, TcpFlags.ACK, 0x10000),
        TcpHeader(1, 2, 3, 4, TcpFlags.URG, 5, urgent=0x10000),
        TcpHeader(1, 2, 3, 4, TcpFlags.SYN, 5, options=TcpOptions(wscale=300)),
    ],
)
def test_header_build_rejects_out_of_range_fields(header: TcpHeader) -> None:
    with pytest.raises(ValueError):
        header.build(b"", src=IP_A, dst=IP_B)


def test_reserved_bits_round_trip_in_flags() -> None:
    # Bits 8-11 of flags are the header's four reserved bits; bit 8 is AccECN's AE (RFC 9768).
    header = TcpHeader(1, 2, 3, 4, 0x100 | TcpFlags.ACK, 5)
    segment = header.build(b"x", src=IP_A, dst=IP_B)
    assert segment[12:14] == bytes((0x51, 0x10))
    parsed, _ = TcpHeader.parse(segment, src=IP_A, dst=IP_B)
    assert parsed.flags == 0x110 and parsed.has_ack


def test_segment_length_counts_syn_and_fin() -> None:
    header = TcpHeader(1, 2, 3, 4, TcpFlags.SYN | TcpFlags.FIN | TcpFlags.ACK, 5)
    assert header.segment_length(10) == 12
    assert TcpHeader(1, 2, 3, 4, TcpFlags.ACK | TcpFlags.PSH, 5).segment_length(10) == 10


# --- properties -----------------------------------------------------------------------------


def _reference_checksum(src: bytes, dst: bytes, segment: bytes) -> int:
    """RFC 9293 §3.1 with the pre-existing netstack.wire.checksum helpers."""
    zeroed = segment[:16] + b"\0\0" + segment[18:]
    return internet_checksum(zeroed, pseudo_header_sum(src, dst, 6, len(segment)))


u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 0xFFFF)
addresses = st.sampled_from([4, 16]).flatmap(
    lambda n: st.tuples(st.binary(min_size=n, max_size=n), st.binary(min_size=n, max_size=n))
)
# Sizes on both sides of the split-sum threshold, odd and even.
payloads = st.binary(max_size=64) | st.binary(min_size=500, max_size=1600)
options_strategy = st.builds(
    TcpOptions,
    mss=st.none() | u16,
    wscale=st.none() | st.integers(0, 255),
    sack_permitted=st.booleans(),
    sack_blocks=st.lists(st.tuples(u32, u32), max_size=4).map(tuple),
    timestamp=st.none() | st.tuples(u32, u32),
)


def _options_size(options: TcpOptions) -> int:
    size = 4 * (options.mss is not None) + 4 * (options.wscale is not None)
    if options.timestamp is not None:
        size += 12
    elif options.sack_permitted:
        size += 4
    if options.sack_blocks:
        size += 4 + 8 * len(options.sack_blocks)
    return size


@settings(max_examples=300)
@given(options_strategy)
def test_options_round_trip(options: TcpOptions) -> None:
    size = _options_size(options)
    if size > 40:
        with pytest.raises(ValueError):
            options.build()
        return
    block = options.build()
    assert len(block) == size and size % 4 == 0
    assert TcpOptions.parse(block) == options


headers = st.builds(
    TcpHeader,
    src_port=u16,
    dst_port=u16,
    seq=u32,
    ack=u32,
    flags=st.integers(0, 0xFFF),
    window=u16,
    urgent=u16,
    options=st.none() | options_strategy.filter(lambda o: _options_size(o) <= 40),
)


@settings(max_examples=300)
@given(headers, addresses, payloads)
def test_header_round_trips(header: TcpHeader, addrs: tuple[bytes, bytes], payload: bytes) -> None:
    src, dst = addrs
    segment = header.build(payload, src=src, dst=dst)
    assert int.from_bytes(segment[16:18]) == _reference_checksum(src, dst, segment)
    parsed, parsed_payload = TcpHeader.parse(segment, src=src, dst=dst)
    expected_options = header.options
    if expected_options is not None and _options_size(expected_options) == 0:
        expected_options = None  # nothing to send, so nothing is parsed
    assert parsed == dataclasses.replace(header, options=expected_options, checksum=parsed.checksum)
    assert parsed.header_len == header.header_len == len(segment) - len(payload)
    assert parsed_payload == payload
    assert parsed.build(parsed_payload, src=src, dst=dst) == segment


@settings(max_examples=200)
@given(headers, addresses, payloads)
def test_partial_checksum_is_the_pseudo_header_sum(
    header: TcpHeader, addrs: tuple[bytes, bytes], payload: bytes
) -> None:
    src, dst = addrs
    partial = header.build(payload, src=src, dst=dst, fill_checksum=False)
    assert int.from_bytes(partial[16:18]) == pseudo_header_sum(src, dst, 6, len(partial))
    full = header.build(payload, src=src, dst=dst)
    assert internet_checksum(partial) == int.from_bytes(full[16:18])


@settings(max_examples=500)
@given(st.binary(max_size=80), st.none() | addresses)
def test_arbitrary_bytes_raise_only_decode_error(
    data: bytes, addrs: tuple[bytes, bytes] | None
) -> None:
    src, dst = addrs or (None, None)
    try:
        header, payload = TcpHeader.parse(data, src=src, dst=dst)
    except DecodeError:
        return
    assert 20 <= header.header_len <= 60
    assert len(payload) == len(data) - header.header_len


@settings(max_examples=500)
@given(st.integers(6, 15), st.binary(min_size=40, max_size=40))
def test_arbitrary_option_bytes_in_a_header_raise_only_decode_error(
    offset_words: int, noise: bytes
) -> None:
    # A valid fixed header, so the fuzzing reaches the option decoder every time.
    block = noise[: offset_words * 4 - 20]
    segment = bytearray(SYN[:20]) + block
    segment[12] = offset_words << 4
    try:
        header, _ = TcpHeader.parse(segment)
    except DecodeError:
        return
    assert header.options is not None


@settings(max_examples=500)
@given(
    st.lists(
        st.sampled_from([b"\x00", b"\x01", b"\x02\x04\x05\xb4", b"\x03\x03\x07", b"\x04\x02"])
        | st.sampled_from([b"\x08\x0a" + bytes(range(8)), b"\x05\x0a" + bytes(8), b"\x1e\x03\x00"])
        | st.binary(max_size=6),
        max_size=10,
    ).map(b"".join)
)
def test_arbitrary_option_lists_raise_only_decode_error(block: bytes) -> None:
    try:
        options = TcpOptions.parse(block)
    except DecodeError:
        return
    try:
        rebuilt = options.build()
    except ValueError:
        return  # Linux's layout can take more room than a tightly packed list
    assert TcpOptions.parse(rebuilt) == options


# --- sequence arithmetic --------------------------------------------------------------------


def _signed32(value: int) -> int:
    result: int = struct.unpack("!i", (value & 0xFFFFFFFF).to_bytes(4))[0]
    return result


def test_sequence_comparisons_across_the_wrap() -> None:
    top = 2**32 - 1
    assert seq_lt(top, 0) and seq_le(top, 0) and not seq_gt(top, 0) and not seq_ge(top, 0)
    assert seq_gt(0, top) and seq_ge(0, top) and not seq_lt(0, top)
    assert seq_lt(0xFFFFFF00, 0x100) and seq_gt(0x100, 0xFFFFFF00)
    assert seq_le(5, 5) and seq_ge(5, 5) and not seq_lt(5, 5) and not seq_gt(5, 5)
    assert seq_lt(0, 2**31 - 1) and seq_gt(2**31 - 1, 0)
    # 2**31 apart the order is undefined (RFC 1982 §3.2); as Linux's before(), each is less.
    assert seq_lt(0, 2**31) and seq_lt(2**31, 0)
    assert not seq_gt(0, 2**31) and not seq_gt(2**31, 0)


def test_sequence_add_and_diff_wrap() -> None:
    assert seq_add(2**32 - 1, 1) == 0
    assert seq_add(2**32 - 10, 20) == 10
    assert seq_add(0, -1) == 2**32 - 1
    assert seq_diff(0, 2**32 - 1) == 1
    assert seq_diff(2**32 - 1, 0) == -1
    assert seq_diff(10, 2**32 - 10) == 20
    assert seq_diff(2**31 - 1, 0) == 2**31 - 1
    assert seq_diff(2**31, 0) == -(2**31)


def test_acceptability_window_across_the_wrap() -> None:
    # RFC 9293 §3.10.7.4: RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND, with RCV.NXT near 2**32.
    rcv_nxt, rcv_wnd = 2**32 - 1000, 65535
    right = seq_add(rcv_nxt, rcv_wnd)
    for seg_seq, acceptable in [
        (rcv_nxt, True),
        (0, True),
        (seq_add(right, -1), True),
        (right, False),
        (rcv_nxt - 1, False),
    ]:
        assert (seq_le(rcv_nxt, seg_seq) and seq_lt(seg_seq, right)) is acceptable


@settings(max_examples=500)
@given(u32, u32 | st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1]))
def test_sequence_comparisons_are_signed_32_bit_differences(a: int, b: int) -> None:
    diff = _signed32(a - b)
    assert seq_diff(a, b) == diff
    assert seq_lt(a, b) is (diff < 0)
    assert seq_le(a, b) is (diff <= 0)
    assert seq_gt(a, b) is (diff > 0)
    assert seq_ge(a, b) is (diff >= 0)
    assert seq_add(b, seq_diff(a, b)) == a
    assert seq_add(a, 2**32) == a
