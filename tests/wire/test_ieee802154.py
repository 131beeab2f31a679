"""IEEE 802.15.4 MAC frames: FCS, standard vectors, PAN ID compression, security header,
IE termination rules, beacon and command payloads, round trips and decoder fuzzing.

Wireshark's view of the same frames is checked in test_ieee802154_tshark.py.
"""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import ChecksumError, DecodeError
from netstack.wire.ieee802154 import (
    BROADCAST,
    AssociationStatus,
    AuxSecurityHeader,
    Beacon,
    Capability,
    CommandId,
    DisassociationReason,
    FrameType,
    FrameVersion,
    GtsDescriptor,
    HeaderIE,
    HeaderIEId,
    Ieee802154Frame,
    KeyIdMode,
    MacCommand,
    MlmeSubIE,
    PayloadIE,
    PayloadIEGroup,
    SecurityLevel,
    append_fcs,
    build_mlme_sub_ies,
    build_payload_ies,
    fcs16,
    fcs32,
    parse_mlme_sub_ies,
    parse_payload_ies,
)

V2003, V2006, V2015 = FrameVersion.V2003, FrameVersion.V2006, FrameVersion.V2015
EXT1 = bytes.fromhex("acde480000000001")
EXT2 = bytes.fromhex("acde480000000002")

# --- FCS --------------------------------------------------------------------------------------


def crc16_bitwise(data: bytes) -> int:
    """IEEE 802.15.4-2015 §7.2.10.1 as a shift register: x^16+x^12+x^5+1, LSB first, init 0."""
    reg = 0
    for octet in data:
        for bit in range(8):
            feedback = (reg ^ octet >> bit) & 1
            reg >>= 1
            if feedback:
                reg ^= 0x8408
    return reg


def test_fcs16_check_value() -> None:
    # The CRC-16/KERMIT check value (the 802.15.4 parameters) of "123456789".
    assert fcs16(b"123456789") == 0x2189
    assert fcs16(b"") == 0


def test_fcs32_check_value() -> None:
    assert fcs32(b"123456789") == 0xCBF43926


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_fcs16_matches_bitwise_reference(data: bytes) -> None:
    assert fcs16(data) == crc16_bitwise(data)
    assert fcs16(bytearray(data)) == fcs16(memoryview(data))


def test_imm_ack_fcs_by_hand() -> None:
    # A 2003 immediate acknowledgment for sequence number 0x56: FCF 0x0002, seq, FCS; the
    # FCS below was computed with the bitwise register above and confirmed by tshark.
    frame = bytes.fromhex("020056")
    wire = frame + struct.pack("<H", crc16_bitwise(frame))
    ack = Ieee802154Frame.parse(wire)
    assert ack == Ieee802154Frame(FrameType.ACK, V2003, 0x56)
    assert ack.build() == wire


def test_bad_fcs_raises_checksum_error() -> None:
    wire = bytearray(Ieee802154Frame(FrameType.ACK, V2003, 1).build())
    wire[-1] ^= 1
    with pytest.raises(ChecksumError):
        Ieee802154Frame.parse(wire)
    with pytest.raises(DecodeError, match="too short"):
        Ieee802154Frame.parse(wire[:3])


def test_append_fcs_matches_build() -> None:
    frame = Ieee802154Frame(FrameType.DATA, V2015, 3, 0x1234, 0x0001, None, 0x0002, payload=b"x")
    body = frame.build(fcs=False)
    assert append_fcs(body) == frame.build()
    assert append_fcs(memoryview(body), fcs32=True) == frame.build(fcs32=True)


def test_fcs32_frames() -> None:
    frame = Ieee802154Frame(FrameType.DATA, V2015, 3, 0x1234, 0x0001, None, 0x0002, payload=b"x")
    wire = frame.build(fcs32=True)
    assert struct.unpack("<I", wire[-4:])[0] == fcs32(wire[:-4])
    assert Ieee802154Frame.parse(wire, fcs32=True) == frame
    with pytest.raises(ChecksumError):
        Ieee802154Frame.parse(wire[:-1] + bytes([wire[-1] ^ 0x80]), fcs32=True)


# --- IEEE 802.15.4-2006 Annex C vectors (as reproduced in OpenThread's tests/unit/test_aes.cpp)
# Their parse and CCM* layout; the cryptography (key 0xC0..0xCF) is checked by
# tests/unit/test_mesh_security.py through netstack.stacks.mesh.security.


# C.2.1: secured beacon, security level 2 (MIC-64), key identifier mode 0, frame counter 5.
ANNEX_BEACON = bytes.fromhex(
    "08d0 84 2143 010000000048deac 02 05000000 55cf 00 00 51525354 223bc1ec841ab553"
)
# C.2.2: secured data frame, security level 4 (encryption, no MIC), payload "abcd".
ANNEX_DATA = bytes.fromhex("69dc 84 2143 020000000048deac 010000000048deac 04 05000000 d43e022b")
# C.2.3: secured association request, level 6 (encryption + MIC-64), capability 0xCE.
ANNEX_COMMAND = bytes.fromhex(
    "2bdc 84 2143 020000000048deac ffff 010000000048deac 06 05000000 01 d8 4fde529061f9c6f1"
)


def test_annex_c_beacon() -> None:
    frame, layout = Ieee802154Frame.parse_with_layout(ANNEX_BEACON, fcs=False)
    assert frame.frame_type == FrameType.BEACON and frame.version == V2006
    assert (frame.seq, frame.dst_addr, frame.src_pan, frame.src_addr) == (0x84, None, 0x4321, EXT1)
    assert frame.security == AuxSecurityHeader(SecurityLevel.MIC_64, KeyIdMode.IMPLICIT, 5)
    assert not frame.pan_id_compression
    beacon = Beacon.parse(frame.payload[: -frame.mic_length])
    assert (beacon.beacon_order, beacon.superframe_order, beacon.final_cap_slot) == (5, 5, 15)
    assert beacon.pan_coordinator and beacon.association_permit
    assert not beacon.battery_life_extension and not beacon.gts and not beacon.pending_short
    assert beacon.payload == b"QRST"
    # The superframe, GTS and pending-address fields are open; the beacon payload private.
    assert (layout.header_length, layout.private_offset, layout.mic_offset) == (18, 22, 26)
    assert frame.build(fcs=False) == ANNEX_BEACON
    # 2006 §7.6.3.2: source extended address, frame counter (both MSB first), level.
    assert frame.security.nonce(EXT1) == EXT1 + bytes.fromhex("00000005 02")


def test_annex_c_data_frame() -> None:
    frame, layout = Ieee802154Frame.parse_with_layout(ANNEX_DATA, fcs=False)
    assert frame.frame_type == FrameType.DATA and frame.ack_request and frame.pan_id_compression
    assert (frame.dst_pan, frame.dst_addr, frame.src_pan, frame.src_addr) == (
        0x4321,
        EXT2,
        None,
        EXT1,
    )
    assert frame.source_pan == 0x4321
    assert frame.security == AuxSecurityHeader(SecurityLevel.ENC, KeyIdMode.IMPLICIT, 5)
    assert (layout.private_offset, layout.mic_offset, layout.length) == (26, 30, 30)
    assert frame.build(fcs=False) == ANNEX_DATA
    assert frame.security.nonce(EXT1) == EXT1 + bytes.fromhex("00000005 04")


def test_annex_c_command_frame() -> None:
    frame, layout = Ieee802154Frame.parse_with_layout(ANNEX_COMMAND, fcs=False)
    assert frame.frame_type == FrameType.MAC_COMMAND
    assert (frame.dst_pan, frame.dst_addr, frame.src_pan, frame.src_addr) == (
        0x4321,
        EXT2,
        BROADCAST,
        EXT1,
    )
    assert frame.security == AuxSecurityHeader(SecurityLevel.ENC_MIC_64, KeyIdMode.IMPLICIT, 5)
    # The command identifier stays in the clear (2006 §7.5.8.2.1): a covers it.
    assert (layout.header_length, layout.private_offset, layout.mic_offset) == (28, 29, 30)
    assert MacCommand.parse(frame.payload).command_id == CommandId.ASSOCIATION_REQUEST
    assert frame.build(fcs=False) == ANNEX_COMMAND
    assert frame.security.nonce(EXT1) == EXT1 + bytes.fromhex("00000005 06")


def test_ccm_nonce_needs_a_frame_counter_and_an_extended_address() -> None:
    aux = AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, 0x01020304, b"", 1)
    assert aux.nonce(EXT2) == EXT2 + bytes.fromhex("01020304 05")
    with pytest.raises(ValueError, match="8-octet"):
        aux.nonce(b"\x00\x01")
    for suppressed in (
        AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, None, b"", 1),
        AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, 1, b"", 1, True),
    ):
        with pytest.raises(ValueError, match="ASN"):
            suppressed.nonce(EXT1)


# --- hand-derived vectors that tshark 4.0 decodes as commented ----------------------------------


def test_2006_broadcast_data_frame_vector() -> None:
    # FCF 0x9841: data, PAN ID compression, dst short, version 2006, src short; seq 5;
    # dst PAN 0x1234, dst 0xffff, src 0x0001; payload 41 60; FCS 0xa256 ("Correct").
    wire = bytes.fromhex("4198 05 3412 ffff 0100 4160 56a2")
    frame = Ieee802154Frame.parse(wire)
    assert frame == Ieee802154Frame(
        FrameType.DATA, V2006, 5, 0x1234, BROADCAST, None, 0x0001, payload=b"\x41\x60"
    )
    assert frame.pan_id_compression and frame.source_pan == 0x1234
    assert frame.build() == wire


def test_2015_enhanced_ack_with_time_correction_vector() -> None:
    # FCF 0x2e02: ack, IE present, dst extended, version 2015, no source; seq 3;
    # dst PAN 0xabcd; Time Correction IE (0x1e, 2 octets: +16 us, ACK); FCS 0x99d3.
    wire = bytes.fromhex("022e 03 cdab 01ffeeddccbbaa02 020f 1000 d399")
    frame = Ieee802154Frame.parse(wire)
    assert frame == Ieee802154Frame(
        FrameType.ACK,
        V2015,
        3,
        0xABCD,
        bytes.fromhex("02aabbccddeeff01"),
        header_ies=[HeaderIE(HeaderIEId.TIME_CORRECTION, b"\x10\x00")],
    )
    assert frame.build() == wire


def test_2015_frame_with_header_and_payload_ies_vector() -> None:
    # CSL IE (phase 16, period 32), HT1, MLME IE holding a TSCH Synchronization sub-IE
    # (ASN 0x0504030201, join metric 6), PT, payload 0x99; FCS 0x014a.
    wire = bytes.fromhex(
        "41ea 03 cdab 0200 01ffeeddccbbaa02 040d 10002000 003f 0888 061a 010203040506 00f8 99 4a01"
    )
    frame = Ieee802154Frame.parse(wire)
    assert frame.header_ies == [HeaderIE(HeaderIEId.CSL, bytes.fromhex("10002000"))]
    assert frame.payload_ies == [PayloadIE(PayloadIEGroup.MLME, bytes.fromhex("061a010203040506"))]
    assert parse_mlme_sub_ies(frame.payload_ies[0].content) == [
        MlmeSubIE(0x1A, bytes.fromhex("010203040506"))
    ]
    assert frame.payload == b"\x99"
    assert frame.build() == wire


# --- PAN ID compression -------------------------------------------------------------------------

N, S, E = None, 0x0002, EXT2

# IEEE 802.15.4-2015 Table 7-2, row by row: dst address, src address, dst PAN present,
# src PAN present, PAN ID Compression.
TABLE_7_2 = [
    (N, N, False, False, 0),
    (N, N, True, False, 1),
    (S, N, True, False, 0),
    (E, N, True, False, 0),
    (S, N, False, False, 1),
    (E, N, False, False, 1),
    (N, S, False, True, 0),
    (N, E, False, True, 0),
    (N, S, False, False, 1),
    (N, E, False, False, 1),
    (E, E, True, False, 0),
    (E, E, False, False, 1),
    (S, S, True, True, 0),
    (S, E, True, True, 0),
    (E, S, True, True, 0),
    (S, E, True, False, 1),
    (E, S, True, False, 1),
    (S, S, True, False, 1),
]


def _with_pans(
    version: int, dst: object, src: object, dst_pan: bool, src_pan: bool
) -> Ieee802154Frame:
    return Ieee802154Frame(
        FrameType.DATA,
        version,
        1,
        0x1111 if dst_pan else None,
        dst,  # type: ignore[arg-type]
        0x2222 if src_pan else None,
        src,  # type: ignore[arg-type]
        payload=b"p",
    )


@pytest.mark.parametrize(("dst", "src", "dst_pan", "src_pan", "compression"), TABLE_7_2)
def test_2015_pan_id_compression_table(
    dst: object, src: object, dst_pan: bool, src_pan: bool, compression: int
) -> None:
    frame = _with_pans(V2015, dst, src, dst_pan, src_pan)
    wire = frame.build(fcs=False)
    assert wire[0] >> 6 & 1 == compression
    addresses = sum(0 if a is None else 2 if isinstance(a, int) else 8 for a in (dst, src))
    assert len(wire) == 3 + addresses + 2 * (dst_pan + src_pan) + 1
    assert Ieee802154Frame.parse(wire, fcs=False) == frame


@pytest.mark.parametrize(("dst", "src"), [(d, s) for d in (N, S, E) for s in (N, S, E)])
@pytest.mark.parametrize("version", [V2003, V2006])
def test_2006_pan_id_compression(version: int, dst: object, src: object) -> None:
    # 2006 §7.2.1.1.5: a PAN identifier accompanies each address; with both addresses the
    # bit drops the source PAN. Without both addresses the bit must be 0.
    both = dst is not None and src is not None
    for src_pan in (True, False) if both else (src is not None,):
        frame = _with_pans(version, dst, src, dst is not None, src_pan)
        wire = frame.build(fcs=False)
        assert wire[0] >> 6 & 1 == (both and not src_pan)
        assert Ieee802154Frame.parse(wire, fcs=False) == frame
    with pytest.raises(ValueError, match="PAN ID Compression"):
        _with_pans(version, dst, src, dst is None, src is not None).build()


def test_compression_without_both_addresses_rejected_before_2015() -> None:
    wire = _with_pans(V2015, S, N, True, False).build(fcs=False)  # 2015 row 3
    patched = bytes([wire[0] | 0x40, wire[1] & 0xCF | 0x10]) + wire[2:]  # comp set, v2006
    with pytest.raises(DecodeError, match="PAN ID Compression"):
        Ieee802154Frame.parse(patched, fcs=False)


# --- header fields ----------------------------------------------------------------------------


def test_sequence_number_suppression_is_2015_only() -> None:
    frame = Ieee802154Frame(FrameType.DATA, V2015, None, 0x1234, 0x0001, payload=b"x")
    wire = frame.build(fcs=False)
    assert wire[1] & 1 and len(wire) == 2 + 4 + 1
    assert Ieee802154Frame.parse(wire, fcs=False) == frame
    with pytest.raises(ValueError, match="suppression"):
        Ieee802154Frame(FrameType.DATA, V2006, None).build()
    with pytest.raises(DecodeError, match="reserved"):
        Ieee802154Frame.parse(bytes([0x01, 0x11]) + b"x", fcs=False)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (bytes.fromhex("0100"), "truncated"),  # no sequence number
        (bytes.fromhex("010401"), "reserved"),  # dst mode 1
        (bytes.fromhex("014001"), "reserved"),  # src mode 1
        (bytes.fromhex("013001"), "reserved"),  # version 3
        (bytes.fromhex("810001"), "reserved"),  # FCF bit 7
        (bytes.fromhex("050001"), "not supported"),  # multipurpose
        (bytes.fromhex("01"), "too short"),
        (bytes.fromhex("418801 3412 0100"), "truncated"),  # src address missing
        (bytes.fromhex("09 10 01"), "truncated"),  # secured 2006, no aux header
    ],
)
def test_malformed_headers(wire: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        Ieee802154Frame.parse(wire, fcs=False)


@pytest.mark.parametrize(
    ("mode", "source", "index", "size"),
    [
        (0, b"", None, 5),
        (1, b"", 3, 6),
        (2, b"\x00\x00\x00\x01", 3, 10),
        (3, bytes(range(8)), 3, 14),
    ],
)
def test_aux_security_header_key_identifier_modes(
    mode: int, source: bytes, index: int | None, size: int
) -> None:
    aux = AuxSecurityHeader(SecurityLevel.ENC_MIC_32, mode, 0x01020304, source, index)
    assert len(aux.build()) == aux.length == size
    assert aux.build()[:5] == bytes([5 | mode << 3]) + bytes.fromhex("04030201")
    frame = Ieee802154Frame(
        FrameType.DATA, V2006, 9, 0xABCD, 2, None, EXT1, True, aux, payload=b"cipher" + b"MIC!"
    )
    wire = frame.build()
    parsed, layout = Ieee802154Frame.parse_with_layout(wire)
    assert parsed == frame
    assert layout.header_length == layout.private_offset == 3 + 4 + 8 + size
    assert layout.mic_offset == len(wire) - 2 - 4


def test_frame_counter_suppression_and_asn_in_nonce_are_2015_only() -> None:
    aux = AuxSecurityHeader(SecurityLevel.MIC_32, KeyIdMode.INDEX, None, b"", 1, asn_in_nonce=True)
    assert aux.build(V2015) == bytes([0x01 | 0x08 | 0x20 | 0x40, 1])
    frame = Ieee802154Frame(FrameType.DATA, V2015, 1, 1, 2, None, 3, True, aux, payload=b"MIC!")
    assert Ieee802154Frame.parse(frame.build()) == frame
    with pytest.raises(ValueError, match="2015"):
        aux.build(V2006)
    with pytest.raises(ValueError, match="2003"):
        aux.build(V2003)


@pytest.mark.parametrize(
    "aux",
    [
        AuxSecurityHeader(8),
        AuxSecurityHeader(5, 2, 0, b"\x01", 1),
        AuxSecurityHeader(5, 0, 0, b"", 1),
        AuxSecurityHeader(5, 1, 0, b"", None),
        AuxSecurityHeader(5, 1, 1 << 32, b"", 1),
    ],
)
def test_bad_aux_security_headers_rejected(aux: AuxSecurityHeader) -> None:
    with pytest.raises(ValueError):
        aux.build()


def test_security_flag_and_header_must_agree() -> None:
    aux = AuxSecurityHeader(SecurityLevel.MIC_32)
    with pytest.raises(ValueError, match="disagree"):
        Ieee802154Frame(FrameType.DATA, V2006, 0, 1, 2, security=aux).build()
    with pytest.raises(ValueError, match="disagree"):
        Ieee802154Frame(FrameType.DATA, V2006, 0, 1, 2, security_enabled=True).build()
    # A secured 2003 frame has no auxiliary header: its payload carries the 2003 fields.
    frame = Ieee802154Frame(FrameType.DATA, V2003, 0, 1, 2, security_enabled=True, payload=b"c")
    parsed, layout = Ieee802154Frame.parse_with_layout(frame.build(fcs=False), fcs=False)
    assert parsed == frame and layout.mic_offset == layout.length


def test_secured_reserved_control_bits_rejected() -> None:
    frame = Ieee802154Frame(
        FrameType.DATA, V2006, 0, 1, 2, None, 3, True, AuxSecurityHeader(0), payload=b""
    )
    wire = bytearray(frame.build(fcs=False))
    wire[9] |= 0x20  # frame counter suppression in a 2006 frame
    with pytest.raises(DecodeError, match="reserved"):
        Ieee802154Frame.parse(wire, fcs=False)


def test_frame_shorter_than_its_mic_rejected() -> None:
    aux = AuxSecurityHeader(SecurityLevel.MIC_128)
    wire = Ieee802154Frame(FrameType.DATA, V2006, 0, 1, 2, None, 3, True, aux).build(fcs=False)
    with pytest.raises(DecodeError, match="MIC"):
        Ieee802154Frame.parse(wire + bytes(15), fcs=False)
    assert Ieee802154Frame.parse(wire + bytes(16), fcs=False).payload == bytes(16)


@pytest.mark.parametrize(
    "frame",
    [
        Ieee802154Frame(FrameType.BEACON, 3),
        Ieee802154Frame(FrameType.MULTIPURPOSE),
        Ieee802154Frame(FrameType.DATA, seq=256),
        Ieee802154Frame(FrameType.DATA, dst_pan=0x10000, dst_addr=1),
        Ieee802154Frame(FrameType.DATA, dst_pan=1, dst_addr=0x10000),
        Ieee802154Frame(FrameType.DATA, dst_pan=1, dst_addr=b"\x01\x02"),
        Ieee802154Frame(FrameType.DATA, V2006, header_ies=[HeaderIE(1)]),
        Ieee802154Frame(FrameType.DATA, V2015, header_ies=[HeaderIE(0x7E)]),
        Ieee802154Frame(FrameType.DATA, V2015, header_ies=[HeaderIE(1, bytes(128))]),
        Ieee802154Frame(FrameType.DATA, V2015, payload_ies=[PayloadIE(0xF)]),
        Ieee802154Frame(FrameType.DATA, V2015, payload_ies=[PayloadIE(1, bytes(2048))]),
        Ieee802154Frame(
            FrameType.DATA, V2015, payload_ies=[PayloadIE(1)], payload_ies_encrypted=True
        ),
        Ieee802154Frame(FrameType.DATA, V2015, payload_ies_encrypted=True),
    ],
)
def test_unbuildable_records_raise_value_error(frame: Ieee802154Frame) -> None:
    with pytest.raises(ValueError):
        frame.build()


# --- information elements -------------------------------------------------------------------

CSL = HeaderIE(HeaderIEId.CSL, bytes.fromhex("10002000"))
MLME = PayloadIE(PayloadIEGroup.MLME, build_mlme_sub_ies([MlmeSubIE(0x1A, bytes(6))]))


def _ies_frame(
    header: list[HeaderIE],
    payload_ies: list[PayloadIE],
    payload: bytes,
    aux: AuxSecurityHeader | None = None,
    encrypted: bool = False,
) -> Ieee802154Frame:
    return Ieee802154Frame(
        FrameType.DATA,
        V2015,
        1,
        0x1234,
        0x0001,
        security_enabled=aux is not None,
        security=aux,
        header_ies=header,
        payload_ies=payload_ies,
        payload_ies_encrypted=encrypted,
        payload=payload,
    )


HT1 = "003f"
HT2 = "803f"
PT = "00f8"
CSL_HEX = "040d10002000"
MLME_HEX = "0888061a000000000000"


@pytest.mark.parametrize(
    ("header", "payload_ies", "payload", "ies_hex"),
    [
        ([CSL], [], b"", CSL_HEX),  # nothing follows: no termination
        ([CSL], [], b"\x99", CSL_HEX + HT2),  # HT2 before a MAC payload
        ([], [MLME], b"", HT1 + MLME_HEX),  # HT1 even without header IEs; no PT at the end
        ([], [MLME], b"\x99", HT1 + MLME_HEX + PT),  # PT before a MAC payload
        ([CSL], [MLME], b"\x99", CSL_HEX + HT1 + MLME_HEX + PT),
        ([], [], b"\x99", ""),  # no IEs: the IE Present bit stays clear
    ],
)
def test_ie_terminations_follow_2015_7_4_1(
    header: list[HeaderIE], payload_ies: list[PayloadIE], payload: bytes, ies_hex: str
) -> None:
    frame = _ies_frame(header, payload_ies, payload)
    wire = frame.build(fcs=False)
    assert wire[1] >> 1 & 1 == bool(ies_hex)
    assert wire[7:] == bytes.fromhex(ies_hex) + payload
    parsed, layout = Ieee802154Frame.parse_with_layout(wire, fcs=False)
    assert parsed == frame
    # Payload IEs belong to the payload: the MAC header ends after HT1 or HT2.
    terminated = bool(payload_ies) or bool(header and payload)
    assert layout.header_length == 7 + 6 * len(header) + 2 * terminated


def test_mic_only_frame_needs_no_ht2_before_the_mic() -> None:
    # Header IEs followed only by the MIC: no MAC payload, so no HT2 (the MIC is found by
    # its length, as OpenThread's enhanced acks are sent and Wireshark reads them).
    aux = AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, 7, b"", 1)
    frame = _ies_frame([CSL], [], b"MIC!", aux)
    wire = frame.build(fcs=False)
    assert wire.endswith(bytes.fromhex(CSL_HEX) + b"MIC!")
    parsed, layout = Ieee802154Frame.parse_with_layout(wire, fcs=False)
    assert parsed == frame
    assert layout.private_offset == layout.mic_offset == len(wire) - 4
    with_payload = _ies_frame([CSL], [], b"xMIC!", aux).build(fcs=False)
    assert with_payload.endswith(bytes.fromhex(CSL_HEX + HT2) + b"xMIC!")


def test_encrypted_payload_ies_stay_in_the_payload() -> None:
    aux = AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, 7, b"", 1)
    # What the security layer encrypts: the plaintext form with listed payload IEs.
    plain = _ies_frame([CSL], [MLME], b"\x99MIC!", aux).build(fcs=False)
    parsed, layout = Ieee802154Frame.parse_with_layout(plain, fcs=False)
    assert parsed.payload_ies == [] and parsed.payload_ies_encrypted
    assert parsed.payload == bytes.fromhex(MLME_HEX + PT) + b"\x99MIC!"
    assert plain[: layout.private_offset].endswith(bytes.fromhex(CSL_HEX + HT1))
    assert parsed.build(fcs=False) == plain
    ies, rest = parse_payload_ies(plain[layout.private_offset : layout.mic_offset])
    assert ies == [MLME] and bytes(rest) == b"\x99"
    # MIC-only levels leave payload IEs in the clear: they are parsed.
    aux.level = SecurityLevel.MIC_32
    clear = _ies_frame([CSL], [MLME], b"\x99MIC!", aux)
    assert Ieee802154Frame.parse(clear.build()) == clear


def test_lenient_ie_variants_parse() -> None:
    # HT2 with nothing after it, HT1 without payload IEs, PT with nothing after it.
    base = bytes.fromhex("012a 01 3412 0100")  # data, IE present, 2015, dst short
    assert Ieee802154Frame.parse(base + bytes.fromhex(HT2), fcs=False).header_ies == []
    assert Ieee802154Frame.parse(base + bytes.fromhex(HT1), fcs=False).payload == b""
    parsed = Ieee802154Frame.parse(base + bytes.fromhex(HT1 + MLME_HEX + PT), fcs=False)
    assert parsed.payload_ies == [MLME] and parsed.payload == b""


@pytest.mark.parametrize(
    ("ies_hex", "message"),
    [
        ("0a", "header IE truncated"),
        ("040d1000", "header IE 0x1a truncated"),
        ("0188", "payload IE among the header IEs"),
        ("013f", "termination IE with content"),
        (HT1 + "0a", "payload IE truncated"),
        (HT1 + "0488ff", "payload IE group 0x1 truncated"),
        (HT1 + "040d", "header IE among the payload IEs"),
        (HT1 + "01f8ff", "termination IE with content"),
    ],
)
def test_malformed_ies(ies_hex: str, message: str) -> None:
    base = bytes.fromhex("012a 01 3412 0100")
    with pytest.raises(DecodeError, match=message):
        Ieee802154Frame.parse(base + bytes.fromhex(ies_hex), fcs=False)


def test_mlme_sub_ies_short_and_long() -> None:
    ies = [MlmeSubIE(0x1A, bytes(6)), MlmeSubIE(0x09, b"\x01", long_format=True), MlmeSubIE(0x7F)]
    wire = build_mlme_sub_ies(ies)
    assert wire[:2] == bytes.fromhex("061a") and wire[8:10] == bytes.fromhex("01c8")
    assert parse_mlme_sub_ies(wire) == ies
    with pytest.raises(DecodeError):
        parse_mlme_sub_ies(wire[:-2] + b"\x05\x7f")
    with pytest.raises(ValueError):
        build_mlme_sub_ies([MlmeSubIE(0x10, long_format=True)])
    with pytest.raises(ValueError):
        build_mlme_sub_ies([MlmeSubIE(0x80)])


def test_payload_ie_helpers() -> None:
    wire = build_payload_ies([MLME], terminate=True) + b"rest"
    ies, rest = parse_payload_ies(wire)
    assert ies == [MLME] and bytes(rest) == b"rest"
    assert build_payload_ies([], terminate=True) == b""


# --- beacons and MAC commands ---------------------------------------------------------------


def test_beacon_payload_round_trip() -> None:
    beacon = Beacon(
        beacon_order=6,
        superframe_order=4,
        final_cap_slot=12,
        battery_life_extension=True,
        pan_coordinator=True,
        association_permit=False,
        gts_permit=True,
        gts=[GtsDescriptor(0x0001, 13, 2, True), GtsDescriptor(0x0002, 15, 1)],
        pending_short=[0x0003],
        pending_extended=[EXT1],
        payload=b"beacon",
    )
    wire = beacon.build()
    # superframe 0x5c46, GTS spec 0x82, directions 0x01, descriptors, pending spec 0x11.
    assert wire[:6] == bytes.fromhex("465c 82 01 0100")
    assert wire[6] == 13 | 2 << 4 and wire[10] == 0x11
    assert wire[11:13] == b"\x03\x00" and wire[13:21] == EXT1[::-1]
    assert Beacon.parse(wire) == beacon
    frame = Ieee802154Frame(FrameType.BEACON, V2006, 1, None, None, 0x1234, 0x0000, payload=wire)
    parsed, layout = Ieee802154Frame.parse_with_layout(frame.build())
    assert parsed == frame and layout.private_offset == layout.header_length + len(wire) - 6
    for cut in range(4, 21):
        with pytest.raises(DecodeError):
            Beacon.parse(wire[:cut])


def test_beacon_build_limits() -> None:
    with pytest.raises(ValueError):
        Beacon(beacon_order=16).build()
    with pytest.raises(ValueError):
        Beacon(pending_short=[1] * 8).build()
    with pytest.raises(ValueError):
        Beacon(gts=[GtsDescriptor(1, 16, 1)]).build()
    with pytest.raises(ValueError):
        Beacon(pending_short=[0x10000]).build()


def test_mac_commands() -> None:
    request = MacCommand.association_request(Capability.FFD | Capability.ALLOCATE_ADDRESS)
    assert request.build() == b"\x01\x82"
    assert (
        MacCommand.parse(request.build()).capability == Capability.FFD | Capability.ALLOCATE_ADDRESS
    )
    response = MacCommand.association_response(0x1234, AssociationStatus.SUCCESS)
    assert response.build() == bytes.fromhex("02 3412 00")
    assert MacCommand.parse(response.build()).association_result == (0x1234, 0)
    leave = MacCommand.disassociation_notification(DisassociationReason.DEVICE_WISHES_TO_LEAVE)
    assert leave.build() == b"\x03\x02" and leave.disassociation_reason == 2
    realign = MacCommand.coordinator_realignment(0x1234, 0x0000, 15, 0x0005)
    assert realign.build() == bytes.fromhex("08 3412 0000 0f 0500")
    assert MacCommand.coordinator_realignment(1, 2, 3, 4, page=0).build()[-1] == 0
    assert MacCommand(CommandId.DATA_REQUEST).build() == b"\x04"
    assert MacCommand(CommandId.BEACON_REQUEST).build() == b"\x07"
    with pytest.raises(DecodeError):
        MacCommand.parse(b"")
    with pytest.raises(DecodeError, match="not ASSOCIATION_REQUEST"):
        _ = response.capability
    with pytest.raises(DecodeError, match="truncated"):
        _ = MacCommand(CommandId.ASSOCIATION_RESPONSE, b"\x01").association_result
    with pytest.raises(ValueError):
        MacCommand.association_response(0x10000, 0)


# --- round trips and fuzzing --------------------------------------------------------------------

shorts = st.integers(0, 0xFFFF)
extendeds = st.binary(min_size=8, max_size=8)
addresses = st.one_of(st.none(), shorts, extendeds)
header_ies = st.builds(
    HeaderIE,
    st.integers(0, 0xFF).filter(lambda i: i not in (0x7E, 0x7F)),
    st.binary(max_size=20),
)
payload_ie_lists = st.lists(
    st.builds(PayloadIE, st.integers(0, 14), st.binary(max_size=30)), max_size=3
)


def _kind(address: object) -> str:
    return "N" if address is None else "S" if isinstance(address, int) else "E"


def _table_pans(version: int, dst: object, src: object, compression: bool) -> tuple[bool, bool]:
    """Which PAN fields are present, from TABLE_7_2 (2015) or 2006 §7.2.1.1.5."""
    if version == V2015:
        for d, s, dst_pan, src_pan, c in TABLE_7_2:
            if (_kind(d), _kind(s), c) == (_kind(dst), _kind(src), compression):
                return dst_pan, src_pan
        raise AssertionError("every 2015 combination is in Table 7-2")
    if dst is not None and src is not None:
        return True, not compression
    return dst is not None, src is not None


@st.composite
def frames(draw: st.DrawFn) -> Ieee802154Frame:
    version = draw(st.sampled_from([V2003, V2006, V2015]))
    frame_type = draw(st.sampled_from(list(FrameType)[:4]))
    dst = draw(addresses)
    src = draw(addresses)
    both = dst is not None and src is not None
    compression = draw(st.booleans()) if version == V2015 or both else False
    dst_pan, src_pan = _table_pans(version, dst, src, compression)
    seq = draw(
        st.one_of(st.none(), st.integers(0, 255)) if version == V2015 else st.integers(0, 255)
    )
    secured = draw(st.booleans())
    aux = None
    mic = 0
    if secured and version != V2003:
        mode = draw(st.integers(0, 3))
        aux = AuxSecurityHeader(
            draw(st.integers(0, 7)),
            mode,
            draw(
                st.one_of(st.integers(0, 0xFFFFFFFF), st.none())
                if version == V2015
                else st.integers(0, 0xFFFFFFFF)
            ),
            draw(st.binary(min_size=(0, 0, 4, 8)[mode], max_size=(0, 0, 4, 8)[mode])),
            draw(st.integers(0, 255)) if mode else None,
            draw(st.booleans()) if version == V2015 else False,
        )
        mic = aux.mic_length
    hies: list[HeaderIE] = []
    pies: list[PayloadIE] = []
    encrypted = False
    if version == V2015:
        hies = draw(st.lists(header_ies, max_size=3))
        if aux is not None and aux.level & 4:
            encrypted = draw(st.booleans())
        else:
            pies = draw(payload_ie_lists)
    return Ieee802154Frame(
        frame_type,
        version,
        seq,
        draw(shorts) if dst_pan else None,
        dst,
        draw(shorts) if src_pan else None,
        src,
        secured,
        aux,
        draw(st.booleans()),
        draw(st.booleans()),
        hies,
        pies,
        encrypted,
        draw(st.binary(max_size=40)) + draw(st.binary(min_size=mic, max_size=mic)),
    )


@settings(max_examples=500)
@given(frames(), st.booleans())
def test_round_trip(frame: Ieee802154Frame, use_fcs32: bool) -> None:
    wire = frame.build(fcs32=use_fcs32)
    parsed = Ieee802154Frame.parse(wire, fcs32=use_fcs32)
    assert parsed == frame
    assert parsed.build(fcs32=use_fcs32) == wire
    assert Ieee802154Frame.parse(memoryview(wire), fcs32=use_fcs32) == frame


@settings(max_examples=300)
@given(frames())
def test_layout_is_consistent(frame: Ieee802154Frame) -> None:
    wire = frame.build(fcs=False)
    _, layout = Ieee802154Frame.parse_with_layout(wire, fcs=False)
    assert 0 < layout.header_length <= layout.private_offset <= layout.mic_offset <= layout.length
    assert layout.length == len(wire)
    assert wire[layout.mic_offset :] == (frame.payload[len(frame.payload) - frame.mic_length :])


def _parse_or_decode_error(data: bytes, fcs: bool) -> Ieee802154Frame | None:
    try:
        return Ieee802154Frame.parse(data, fcs=fcs)
    except DecodeError:
        return None


@settings(max_examples=1000)
@given(st.binary(max_size=80), st.booleans())
def test_random_bytes_raise_only_decode_error(data: bytes, fcs: bool) -> None:
    frame = _parse_or_decode_error(data, fcs)
    if frame is not None:
        # Whatever parses, rebuilds into a frame that parses to the same record.
        assert Ieee802154Frame.parse(frame.build(fcs=fcs), fcs=fcs) == frame


@settings(max_examples=500)
@given(
    frames(),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    st.integers(0, 200),
)
def test_mutated_frames_raise_only_decode_error(
    frame: Ieee802154Frame, flips: list[tuple[int, int]], cut: int
) -> None:
    wire = bytearray(frame.build(fcs=False))
    for pos, value in flips:
        if pos < len(wire):
            wire[pos] = value
    mutated = bytes(wire[: max(cut, 0)])
    parsed = _parse_or_decode_error(mutated, False)
    if parsed is not None:
        assert Ieee802154Frame.parse(parsed.build(fcs=False), fcs=False) == parsed
    for data in (mutated, bytes(wire)):
        for decode in (Beacon.parse, MacCommand.parse, parse_mlme_sub_ies, parse_payload_ies):
            with contextlib.suppress(DecodeError):
                decode(data)
