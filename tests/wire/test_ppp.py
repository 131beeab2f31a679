"""PPP: HDLC-like framing (RFC 1662), the PPP header and control packets (RFC 1661)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import DecodeError
from netstack.wire.ppp import (
    FCS16_GOOD,
    FCS32_GOOD,
    ControlCode,
    ControlPacket,
    Deframer,
    LcpOption,
    PppHeader,
    PppProtocol,
    build_options,
    encode_frame,
    fcs16,
    fcs32,
    parse_options,
)


def bitwise_fcs16(data: bytes) -> int:
    """Independent reference: reflected CRC-16, poly 0x8408, one bit at a time, complemented
    (RFC 1662 §C.2 without the table)."""
    fcs = 0xFFFF
    for octet in data:
        fcs ^= octet
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs ^ 0xFFFF


def bitwise_fcs32(data: bytes) -> int:
    """Independent reference: reflected CRC-32, poly 0xEDB88320, complemented (RFC 1662 §C.3)."""
    fcs = 0xFFFFFFFF
    for octet in data:
        fcs ^= octet
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0xEDB88320 if fcs & 1 else fcs >> 1
    return fcs ^ 0xFFFFFFFF


# LCP Configure-Request, id 1: ACCM 0x00000000, Magic-Number 0x12345678 (RFC 1661 §5.1,
# §6.4; RFC 1662 §7.1). Built by hand, octet by octet.
LCP_CONFREQ = bytes.fromhex(
    "ff03"  # address, control (RFC 1662 §3.1)
    "c021"  # protocol: LCP
    "01 01 0010"  # Configure-Request, identifier 1, length 16
    "02 06 00000000"  # ACCM
    "05 06 12345678"  # Magic-Number
)
# The same frame on the wire with the default ACCM: every octet below 0x20 escaped
# (0x7D, octet ^ 0x20), FCS-16 0xf0a4 sent low octet first (RFC 1662 §4.2, §C.2).
LCP_CONFREQ_WIRE = bytes.fromhex(
    "7e"  # flag
    " ff 7d23 c021"  # address, escaped control 0x03, protocol
    " 7d21 7d21 7d20 7d30"  # code, identifier, length 0x0010
    " 7d22 7d26 7d20 7d20 7d20 7d20"  # ACCM option
    " 7d25 7d26 7d32 34 56 78"  # Magic-Number option
    " a4 f0"  # FCS
    " 7e"  # flag
)

accms = st.integers(0, 0xFFFFFFFF)
payloads = st.binary(max_size=300)


# --- FCS ---


def test_fcs16_check_value() -> None:
    # RFC 1662 §C.2 FCS-16 (CRC-16/X-25), check over "123456789": 0x906E sent complemented.
    assert bitwise_fcs16(b"123456789") == 0x906E
    assert fcs16(b"123456789") ^ 0xFFFF == 0x906E


def test_fcs32_check_value() -> None:
    # RFC 1662 §C.3 FCS-32 (CRC-32), check over "123456789".
    assert bitwise_fcs32(b"123456789") == 0xCBF43926
    assert fcs32(b"123456789") ^ 0xFFFFFFFF == 0xCBF43926


@settings(max_examples=300)
@given(payloads)
def test_fcs_matches_bitwise_reference_and_leaves_good_residue(data: bytes) -> None:
    sent16 = fcs16(data) ^ 0xFFFF
    assert sent16 == bitwise_fcs16(data)
    assert fcs16(data + sent16.to_bytes(2, "little")) == FCS16_GOOD
    sent32 = fcs32(data) ^ 0xFFFFFFFF
    assert sent32 == bitwise_fcs32(data)
    assert fcs32(data + sent32.to_bytes(4, "little")) == FCS32_GOOD


@given(payloads, st.integers(0, 300))
def test_fcs_runs_across_pieces(data: bytes, cut: int) -> None:
    assert fcs16(data[cut:], fcs16(data[:cut])) == fcs16(data)
    assert fcs32(data[cut:], fcs32(data[:cut])) == fcs32(data)


# --- encode_frame ---


def test_lcp_configure_request_frame_by_hand() -> None:
    assert bitwise_fcs16(LCP_CONFREQ) == 0xF0A4
    assert encode_frame(LCP_CONFREQ) == LCP_CONFREQ_WIRE
    deframer = Deframer()
    assert deframer.feed(LCP_CONFREQ_WIRE) == [LCP_CONFREQ]
    assert deframer.frames == 1


def test_lcp_configure_request_decodes_to_options() -> None:
    (frame,) = Deframer().feed(LCP_CONFREQ_WIRE)
    header, info = PppHeader.parse(frame)
    assert header == PppHeader(PppProtocol.LCP, acfc=False, pfc=False)
    packet, data = ControlPacket.parse(info)
    assert packet == ControlPacket(ControlCode.CONFIGURE_REQUEST, 1, 16)
    options = parse_options(data)
    assert options == [
        (LcpOption.ACCM, bytes(4)),
        (LcpOption.MAGIC_NUMBER, bytes.fromhex("12345678")),
    ]
    rebuilt = PppHeader.build(PppProtocol.LCP, ControlPacket(1, 1).build(build_options(options)))
    assert rebuilt == LCP_CONFREQ


def test_fcs32_frame_carries_four_fcs_octets() -> None:
    wire = encode_frame(b"\xff\x03\x00\x21abc", fcs32=True)
    assert wire[0] == wire[-1] == 0x7E
    assert Deframer(fcs32=True).feed(wire) == [b"\xff\x03\x00\x21abc"]
    # A 16-bit receiver sees a bad FCS.
    deframer = Deframer()
    assert deframer.feed(wire) == []
    assert deframer.bad_fcs == 1


@pytest.mark.parametrize("octet", range(0x20))
def test_control_character_escaped_only_when_its_accm_bit_is_set(octet: int) -> None:
    payload = bytes((0x41, octet, 0x42))
    escaped = encode_frame(payload, accm=1 << octet)
    assert escaped[1:5] == bytes((0x41, 0x7D, octet ^ 0x20, 0x42))
    clear = encode_frame(payload, accm=0xFFFFFFFF & ~(1 << octet))
    assert clear[1:4] == payload


@given(accms)
def test_flag_and_escape_always_escaped(accm: int) -> None:
    wire = encode_frame(b"\x7e\x7d", accm=accm)
    assert wire[1:5] == b"\x7d\x5e\x7d\x5d"


@settings(max_examples=300)
@given(payloads, accms)
def test_encoded_frame_has_flags_only_at_ends_and_no_unescaped_accm_octets(
    payload: bytes, accm: int
) -> None:
    wire = encode_frame(payload, accm=accm)
    body = wire[1:-1]
    assert wire[0] == wire[-1] == 0x7E
    assert 0x7E not in body
    escaped_next = False
    for octet in body:
        if not escaped_next:
            assert not (octet < 0x20 and accm >> octet & 1)
        escaped_next = not escaped_next and octet == 0x7D
    assert not escaped_next


@settings(max_examples=300)
@given(st.lists(payloads, max_size=5), accms, st.booleans())
def test_round_trip(frames: list[bytes], accm: int, use_fcs32: bool) -> None:
    wire = b"".join(encode_frame(p, accm=accm, fcs32=use_fcs32) for p in frames)
    deframer = Deframer(fcs32=use_fcs32, accm=accm, mru=300)
    # Empty payloads are runts: below the minimum frame size (RFC 1662 §4.3).
    expected = [p for p in frames if len(p) >= 2]
    assert deframer.feed(wire) == expected
    assert deframer.frames == len(expected)
    assert deframer.runts == len(frames) - len(expected)
    assert deframer.bad_fcs == deframer.aborted == deframer.too_long == 0


def test_encode_rejects_accm_wider_than_32_bits() -> None:
    with pytest.raises(ValueError):
        encode_frame(b"ab", accm=1 << 32)


# --- Deframer ---

STREAM_FRAMES = [LCP_CONFREQ, b"\xff\x03\x00\x21\x7e\x7d\x00\x1f", b"\x21hello", b"\xff\x03"]
STREAM = b"".join(encode_frame(f) for f in STREAM_FRAMES)


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_stream_cut_at_every_byte_boundary(cut: int) -> None:
    deframer = Deframer()
    out = deframer.feed(STREAM[:cut]) + deframer.feed(STREAM[cut:])
    assert out == STREAM_FRAMES
    assert deframer.frames == len(STREAM_FRAMES)


def test_stream_fed_one_byte_at_a_time() -> None:
    deframer = Deframer()
    out: list[bytes] = []
    for i in range(len(STREAM)):
        out += deframer.feed(STREAM[i : i + 1])
    assert out == STREAM_FRAMES


def test_shared_and_repeated_flags() -> None:
    # RFC 1662 §4.4.1: one flag may close a frame and open the next; extra flags are fill.
    a, b = encode_frame(b"\x21one"), encode_frame(b"\x21two")
    deframer = Deframer()
    assert deframer.feed(b"\x7e\x7e\x7e" + a[:-1] + b + b"\x7e\x7e") == [b"\x21one", b"\x21two"]
    assert (deframer.bad_fcs, deframer.runts, deframer.aborted) == (0, 0, 0)


def test_bytes_before_the_first_flag_are_skipped() -> None:
    deframer = Deframer()
    assert deframer.feed(b"line noise\x00\xff" + encode_frame(b"\x21ok")) == [b"\x21ok"]
    assert (deframer.frames, deframer.bad_fcs, deframer.runts) == (1, 0, 0)


def test_garbage_between_frames_is_counted_and_the_next_frame_survives() -> None:
    deframer = Deframer()
    wire = encode_frame(b"\x21a") + b"junk junk" + encode_frame(b"\x21b")
    # The junk sits between two flags, so it looks like a frame with a bad FCS.
    assert deframer.feed(wire) == [b"\x21a", b"\x21b"]
    assert deframer.bad_fcs == 1


def test_bad_fcs_counted() -> None:
    wire = bytearray(encode_frame(b"\xff\x03\x00\x21data"))
    wire[-2] ^= 0x01  # an FCS octet that needs no escaping
    deframer = Deframer()
    assert deframer.feed(bytes(wire)) == []
    assert (deframer.bad_fcs, deframer.frames) == (1, 0)


def test_truncated_frame_counted_and_next_frame_survives() -> None:
    full = encode_frame(b"\xff\x03\x00\x21truncated payload")
    deframer = Deframer()
    out = deframer.feed(full[:12] + encode_frame(b"\x21next"))
    assert out == [b"\x21next"]
    assert deframer.bad_fcs == 1


def test_runt_counted() -> None:
    deframer = Deframer()
    assert deframer.feed(b"\x7e\x21\x7e\x21\x22\x23\x7e") == []
    assert deframer.runts == 2


def test_escape_before_flag_aborts_frame() -> None:
    # RFC 1662 §4.4.1: Control Escape followed by the flag aborts the frame.
    frame = encode_frame(b"\x21aborted")
    deframer = Deframer()
    out = deframer.feed(frame[:-1] + b"\x7d\x7e" + encode_frame(b"\x21next"))
    assert out == [b"\x21next"]
    assert (deframer.aborted, deframer.bad_fcs) == (1, 0)


def test_escaped_escape_before_flag_is_not_an_abort() -> None:
    # 7d 5d is an escaped 0x7d: the run of escapes before the flag is even.
    payload = b"\x21\x7d"
    fcs = (fcs16(payload) ^ 0xFFFF).to_bytes(2, "little")
    assert encode_frame(payload) == b"\x7e" + b"\x21\x7d\x5d" + fcs + b"\x7e"
    deframer = Deframer()
    deframer.feed(b"\x7e\x21\x22\x23\x7d\x5d\x7e")
    assert (deframer.aborted, deframer.bad_fcs) == (0, 1)


def test_escape_split_across_feeds() -> None:
    wire = encode_frame(b"\x21\x7e\x7d")
    cut = wire.index(0x7D) + 1
    deframer = Deframer()
    assert deframer.feed(wire[:cut]) == []
    assert deframer.feed(wire[cut:]) == [b"\x21\x7e\x7d"]


def test_over_long_frame_counted_without_buffering_it() -> None:
    deframer = Deframer(mru=10)
    fits = b"\xff\x03\x00\x21" + bytes(range(0x40, 0x4A))
    assert deframer.feed(encode_frame(fits)) == [fits]
    big = encode_frame(fits + b"x")
    assert deframer.feed(big) == []
    assert deframer.too_long == 1
    # A frame without an end is dropped once it passes twice the limit; the one after lives.
    deframer.feed(b"\x7e" + b"\x7d\x20" * 200)
    assert deframer.too_long == 2
    assert len(deframer._buf) == 0
    assert deframer.feed(encode_frame(fits)) == [fits]
    assert deframer.frames == 2


def test_receive_accm_drops_inserted_control_characters() -> None:
    # RFC 1662 §7.1: flagged octets below 0x20 are removed, as equipment may insert them.
    wire = encode_frame(b"\x21xon")
    noisy = wire[:2] + b"\x11\x13" + wire[2:]
    assert Deframer().feed(noisy) == [b"\x21xon"]
    deframer = Deframer(accm=0)
    assert deframer.feed(noisy) == []
    assert deframer.bad_fcs == 1


@settings(max_examples=300)
@given(st.binary(max_size=600), st.integers(0, 200), accms, st.booleans())
def test_random_bytes_never_raise_only_count(
    noise: bytes, mru: int, accm: int, use_fcs32: bool
) -> None:
    deframer = Deframer(mru=mru, accm=accm, fcs32=use_fcs32)
    out = deframer.feed(noise[: len(noise) // 2]) + deframer.feed(noise[len(noise) // 2 :])
    assert len(out) == deframer.frames
    assert all(len(f) <= mru + 4 for f in out)


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=300), st.binary(max_size=100), accms)
def test_a_frame_survives_noise_before_it(payload: bytes, noise: bytes, accm: int) -> None:
    payload = b"\x21" + payload
    deframer = Deframer(accm=accm, mru=400)
    assert deframer.feed(noise + encode_frame(payload, accm=accm))[-1:] == [payload]


# --- PppHeader ---


@pytest.mark.parametrize(
    ("frame", "header", "info"),
    [
        (b"\xff\x03\xc0\x21\x01", PppHeader(0xC021, False, False), b"\x01"),
        (b"\x80\x21\x01", PppHeader(0x8021, True, False), b"\x01"),
        (b"\xff\x03\x00\x21\x45", PppHeader(0x0021, False, False), b"\x45"),
        (b"\xff\x03\x21\x45", PppHeader(0x0021, False, True), b"\x45"),
        (b"\x21\x45", PppHeader(0x0021, True, True), b"\x45"),
        (b"\x57", PppHeader(0x0057, True, True), b""),
        (b"\x80\x57\x01", PppHeader(PppProtocol.IPV6CP, True, False), b"\x01"),
    ],
)
def test_header_compression_variants(frame: bytes, header: PppHeader, info: bytes) -> None:
    parsed, rest = PppHeader.parse(frame)
    assert parsed == header
    assert isinstance(rest, memoryview)
    assert bytes(rest) == info
    assert PppHeader.build(header.protocol, info, acfc=header.acfc, pfc=header.pfc) == frame


def test_lcp_never_sent_with_address_and_control_compressed() -> None:
    # RFC 1661 §6.6: LCP packets always carry address and control.
    assert PppHeader.build(PppProtocol.LCP, b"", acfc=True, pfc=True) == b"\xff\x03\xc0\x21"


def test_pfc_only_compresses_protocols_below_0x100() -> None:
    assert PppHeader.build(PppProtocol.IPCP, b"", pfc=True) == b"\xff\x03\x80\x21"


@pytest.mark.parametrize(
    "frame", [b"", b"\xff", b"\xff\x02\x00\x21", b"\xff\x03", b"\x00", b"\x00\x20", b"\xc0"]
)
def test_bad_headers_rejected(frame: bytes) -> None:
    with pytest.raises(DecodeError):
        PppHeader.parse(frame)


@pytest.mark.parametrize("protocol", [0x0020, 0x0121, 0x10000, -1])
def test_build_rejects_invalid_protocols(protocol: int) -> None:
    with pytest.raises(ValueError):
        PppHeader.build(protocol, b"")


def test_protocol_numbers() -> None:
    assert [int(p) for p in PppProtocol] == [
        0x0021,
        0x0057,
        0x8021,
        0x8057,
        0xC021,
        0xC023,
        0xC223,
    ]


# --- ControlPacket and options ---


def test_control_packet_padding_ignored() -> None:
    # RFC 1661 §5: octets beyond Length are padding. LCP Echo-Request, id 7, magic 0.
    packet, data = ControlPacket.parse(bytes.fromhex("09 07 0008 00000000 eeee"))
    assert packet == ControlPacket(ControlCode.ECHO_REQUEST, 7, 8)
    assert bytes(data) == bytes(4)
    assert packet.build(data) == bytes.fromhex("09 07 0008 00000000")


@pytest.mark.parametrize(
    "packet", [b"", b"\x01\x01\x00", b"\x01\x01\x00\x03", b"\x01\x01\x00\x09abcd"]
)
def test_bad_control_packets_rejected(packet: bytes) -> None:
    with pytest.raises(DecodeError):
        ControlPacket.parse(packet)


@pytest.mark.parametrize(
    "data", [b"\x01", b"\x01\x00", b"\x01\x01", b"\x01\x06abc", b"\x05\x06\x00\x00\x00\x00\x07"]
)
def test_bad_options_rejected(data: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_options(data)


def test_build_options_rejects_oversize_values() -> None:
    with pytest.raises(ValueError):
        build_options([(1, bytes(254))])
    with pytest.raises(ValueError):
        build_options([(256, b"")])


@given(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=253)), max_size=6))
def test_options_round_trip(options: list[tuple[int, bytes]]) -> None:
    assert parse_options(build_options(options)) == options


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300))
def test_control_packet_round_trip(code: int, identifier: int, data: bytes) -> None:
    wire = ControlPacket(code, identifier).build(data)
    packet, rest = ControlPacket.parse(wire)
    assert (packet.code, packet.identifier, packet.length) == (code, identifier, len(wire))
    assert bytes(rest) == data


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_parsers_raise_only_decode_error(data: bytes) -> None:
    for parse in (PppHeader.parse, ControlPacket.parse, parse_options):
        with contextlib.suppress(DecodeError):
            parse(data)


def test_iter_frames_reads_the_accm_afresh_after_each_frame() -> None:
    """The consumer changes the receive map on the first frame; the second, sent raw
    with ACCM 0 and containing control octets, survives (RFC 1662 §7.1)."""
    first = encode_frame(b"\xff\x03\xc0\x21\x02\x01\x00\x04")
    second = encode_frame(b"\xff\x03\x00\x21\x01\x02\x03\x11\x13", accm=0)
    deframer = Deframer()
    got = []
    for frame in deframer.iter_frames(first + second):
        got.append(frame)
        deframer.accm = 0
    assert got == [b"\xff\x03\xc0\x21\x02\x01\x00\x04", b"\xff\x03\x00\x21\x01\x02\x03\x11\x13"]
    # feed() applies one map to the whole chunk: the raw control octets are deleted
    assert len(Deframer().feed(first + second)) == 1
