"""Wireshark as the oracle for IEEE 802.15.4 frames and ZEP.

Every kind of frame this stack builds is written to one pcap (LINKTYPE 195, frames with
FCS) and decoded by a single tshark run; each test asserts the fields tshark decoded
against the record that was built, and that tshark reports no malformed packet and no
expert error or warning (a secured frame may only be "No encryption key set").
Wireshark's own heuristic payload dissectors (6LoWPAN, ZigBee, ...) are disabled so that
test payloads show as raw data.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from netstack.wire.ethernet import EthernetHeader
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
    build_mlme_sub_ies,
)
from netstack.wire.ipv4 import Ipv4Header
from netstack.wire.pcap import LinkType, PcapWriter
from netstack.wire.udp import UdpHeader
from netstack.wire.zep import ZEP_PORT, ZepMessage, ZepType, cc24xx_trailer, ntp_from_seconds

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

V2003, V2006, V2015 = FrameVersion.V2003, FrameVersion.V2006, FrameVersion.V2015
COORD = bytes.fromhex("00124b0001020304")
NODE = bytes.fromhex("02aabbccddeeff01")
PAN = 0x1A2B
DATA = b"\x00\x01\x02\x03"
KEY = bytes(range(16))
OUI = bytes.fromhex("c51b00")  # 00-1B-C5 on the air

_NO_HEURISTICS = [
    arg
    for proto in ("6lowpan", "zbee_nwk", "zbee_nwk_gp", "lwm", "thread_bcn", "zbee_beacon")
    for arg in ("--disable-protocol", proto)
]
_PREFS = ["-o", "wpan.fcs_format:ITU-T CRC-16", "-o", "wpan.802154_fcs_ok:TRUE"]
_ALLOWED_WARNINGS = (
    "No encryption key set - can't decrypt",
    "Decryption of 802.15.4-2015 with frame counter suppression is not supported",
)

FIELDS = [
    "wpan.frame_type",
    "wpan.version",
    "wpan.security",
    "wpan.pending",
    "wpan.ack_request",
    "wpan.pan_id_compression",
    "wpan.seqno_suppression",
    "wpan.ie_present",
    "wpan.dst_addr_mode",
    "wpan.src_addr_mode",
    "wpan.seq_no",
    "wpan.dst_pan",
    "wpan.dst16",
    "wpan.dst64",
    "wpan.src_pan",
    "wpan.src16",
    "wpan.src64",
    "wpan.fcs_ok",
    "wpan.aux_sec.sec_level",
    "wpan.aux_sec.key_id_mode",
    "wpan.aux_sec.frame_counter_suppression",
    "wpan.aux_sec.asn_in_nonce",
    "wpan.aux_sec.frame_counter",
    "wpan.aux_sec.key_source",
    "wpan.aux_sec.key_index",
    "wpan.mic",
    "wpan.header_ie.id",
    "wpan.payload_ie.id",
    "wpan.mlme.ie.id",
    "wpan.cmd",
    "data.data",
    "_ws.expert.severity",
    "_ws.expert.message",
    "_ws.malformed",
]


def run_tshark(path: Path, args: Sequence[str]) -> str:
    assert TSHARK is not None
    env = dict(os.environ, TZ="UTC")
    result = subprocess.run(
        [TSHARK, "-r", str(path), *_NO_HEURISTICS, *_PREFS, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    return result.stdout


def decode(path: Path, fields: Sequence[str], extra: Sequence[str] = ()) -> list[dict[str, str]]:
    """One dict per packet: field -> value (several occurrences joined by ',')."""
    args = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", *extra]
    for name in fields:
        args += ["-e", name]
    out = run_tshark(path, args)
    return [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]


def verbose_problems(path: Path, extra: Sequence[str] = ()) -> list[list[str]]:
    """Per packet, the lines of ``tshark -V`` naming a malformed packet or an expert
    error or warning, other than the expected can't-decrypt warnings."""
    blocks = re.split(r"^Frame \d+: ", run_tshark(path, ["-V", *extra]), flags=re.M)[1:]
    problems = []
    for block in blocks:
        bad = [
            line.strip()
            for line in block.splitlines()
            if (
                "Malformed" in line
                or "Expert Info (Error" in line
                or "Expert Info (Warning" in line
            )
            and not any(allowed in line for allowed in _ALLOWED_WARNINGS)
        ]
        problems.append(bad)
    return problems


def write_pcap(
    path: Path, frames: Sequence[bytes], linktype: int = LinkType.IEEE802_15_4_WITHFCS
) -> None:
    with PcapWriter(path, linktype) as writer:
        for i, frame in enumerate(frames):
            writer.write(float(i), frame)


def as_int(text: str) -> int:
    return int(text, 0)


def as_bool(text: str) -> bool:
    return {"1": True, "0": False, "True": True, "False": False}[text]


def as_eui64(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def ints(text: str) -> list[int]:
    return [int(v, 0) for v in text.split(",")] if text else []


def expected_header_ie_ids(frame: Ieee802154Frame) -> list[int]:
    """Header IE IDs as they appear on the air: terminations by IEEE 802.15.4-2015 §7.4.1."""
    ids = [ie.element_id for ie in frame.header_ies]
    has_payload = len(frame.payload) > frame.mic_length
    if frame.payload_ies or frame.payload_ies_encrypted:
        ids.append(HeaderIEId.HT1)
    elif frame.header_ies and has_payload:
        ids.append(HeaderIEId.HT2)
    return ids


def check_frame(frame: Ieee802154Frame, got: dict[str, str]) -> None:
    """Compare tshark's decoding of ``frame`` with the record."""
    assert as_int(got["wpan.frame_type"]) == frame.frame_type
    assert as_int(got["wpan.version"]) == frame.version
    assert as_bool(got["wpan.security"]) == frame.security_enabled
    assert as_bool(got["wpan.pending"]) == frame.frame_pending
    assert as_bool(got["wpan.ack_request"]) == frame.ack_request
    assert as_bool(got["wpan.pan_id_compression"]) == frame.pan_id_compression
    assert as_int(got["wpan.dst_addr_mode"]) == frame.dst_mode
    assert as_int(got["wpan.src_addr_mode"]) == frame.src_mode
    if frame.version == V2015:
        assert as_bool(got["wpan.seqno_suppression"]) == (frame.seq is None)
        ies = bool(frame.header_ies or frame.payload_ies or frame.payload_ies_encrypted)
        assert as_bool(got["wpan.ie_present"]) == ies
    assert got["wpan.seq_no"] == ("" if frame.seq is None else str(frame.seq))
    assert got["wpan.dst_pan"] == ("" if frame.dst_pan is None else f"0x{frame.dst_pan:04x}")
    assert got["wpan.src_pan"] == ("" if frame.src_pan is None else f"0x{frame.src_pan:04x}")
    for side, addr in (("dst", frame.dst_addr), ("src", frame.src_addr)):
        short, ext = got[f"wpan.{side}16"], got[f"wpan.{side}64"]
        if addr is None:
            assert (short, ext) == ("", "")
        elif isinstance(addr, int):
            assert as_int(short) == addr
        else:
            assert as_eui64(ext.split(",")[0]) == addr
    assert as_bool(got["wpan.fcs_ok"])
    aux = frame.security
    if aux is None:
        assert got["wpan.aux_sec.sec_level"] == ""
    else:
        assert as_int(got["wpan.aux_sec.sec_level"]) == aux.level
        assert as_int(got["wpan.aux_sec.key_id_mode"]) == aux.key_id_mode
        if frame.version == V2015:
            assert as_bool(got["wpan.aux_sec.frame_counter_suppression"]) == (
                aux.frame_counter is None
            )
            assert as_bool(got["wpan.aux_sec.asn_in_nonce"]) == aux.asn_in_nonce
        counter = "" if aux.frame_counter is None else str(aux.frame_counter)
        assert got["wpan.aux_sec.frame_counter"] == counter
        if aux.key_source:
            # Wireshark shows the key source as one number, first octet most significant.
            assert as_int(got["wpan.aux_sec.key_source"]) == int.from_bytes(aux.key_source, "big")
        index = "" if aux.key_index is None else f"0x{aux.key_index:02x}"
        assert got["wpan.aux_sec.key_index"] == index
        if aux.mic_length:
            assert bytes.fromhex(got["wpan.mic"]) == frame.payload[-aux.mic_length :]
    assert ints(got["wpan.header_ie.id"]) == expected_header_ie_ids(frame)
    if frame.security is None and frame.payload_ies:
        ids = [ie.group_id for ie in frame.payload_ies]
        if frame.payload:
            ids.append(PayloadIEGroup.TERMINATION)
        assert ints(got["wpan.payload_ie.id"]) == ids
    if frame.frame_type == FrameType.MAC_COMMAND and frame.security is None:
        assert as_int(got["wpan.cmd"]) == frame.payload[0]
    if frame.frame_type == FrameType.DATA and frame.security is None and frame.payload:
        # The MAC payload is the last raw data (vendor IE content may come before it).
        assert bytes.fromhex(got["data.data"].split(",")[-1]) == frame.payload


# --- the frames ---------------------------------------------------------------------------------

N, S, E = None, 0x0002, NODE


def _kind(address: object) -> str:
    return "none" if address is None else "short" if isinstance(address, int) else "ext"


def addressing_cases() -> list[tuple[str, Ieee802154Frame]]:
    """Data frames: every addressing-mode combination with every PAN ID compression value a
    version allows (2006 §7.2.1.1.5; 2015 Table 7-2, all 18 rows)."""
    cases: list[tuple[str, Ieee802154Frame]] = []
    for version in (V2003, V2006, V2015):
        for dst in (N, S, E):
            for src in (N, 0x0003, COORD):
                for dst_pan in (True, False):
                    for src_pan in (True, False):
                        frame = Ieee802154Frame(
                            FrameType.DATA,
                            version,
                            len(cases),
                            PAN if dst_pan else None,
                            dst,
                            0x4321 if src_pan else None,
                            src,
                            payload=DATA,
                        )
                        try:
                            frame.build()
                        except ValueError:
                            continue  # a PAN combination this version cannot carry
                        pans = "D" * dst_pan + "S" * src_pan + "PAN"
                        name = f"data-{version.name}-{_kind(dst)}-{_kind(src)}-{pans}"
                        cases.append((name, frame))
    return cases


def other_cases() -> list[tuple[str, Ieee802154Frame]]:
    beacon = Beacon(
        beacon_order=6,
        superframe_order=4,
        final_cap_slot=12,
        pan_coordinator=True,
        association_permit=True,
        gts_permit=True,
        gts=[GtsDescriptor(0x0005, 13, 2, True)],
        pending_short=[0x0007],
        pending_extended=[NODE],
        payload=b"\x00\x00",
    )
    mlme = PayloadIE(
        PayloadIEGroup.MLME,
        build_mlme_sub_ies(
            [
                MlmeSubIE(0x1A, bytes.fromhex("0102030405") + b"\x01"),  # TSCH synchronization
                MlmeSubIE(0x09, b"\x07", long_format=True),  # channel hopping, sequence 7
            ]
        ),
    )
    # Vendor IEs start with the OUI, least significant octet first like every 802.15.4
    # field (Wireshark reads it so): 00-1B-C5 goes out as c5 1b 00.
    vendor_hie = HeaderIE(HeaderIEId.VENDOR_SPECIFIC, OUI + b"vendor")
    csl = HeaderIE(HeaderIEId.CSL, struct.pack("<HH", 100, 3125))
    time_correction = HeaderIE(HeaderIEId.TIME_CORRECTION, struct.pack("<H", 0x0010))
    vendor_pie = PayloadIE(PayloadIEGroup.VENDOR_SPECIFIC, OUI + b"pie")
    cases: list[tuple[str, Ieee802154Frame]] = [
        ("imm-ack-2003", Ieee802154Frame(FrameType.ACK, V2003, 0x42, frame_pending=True)),
        (
            "enh-ack-2015",
            Ieee802154Frame(FrameType.ACK, V2015, 0x43, PAN, COORD, header_ies=[time_correction]),
        ),
        (
            "beacon-2006",
            Ieee802154Frame(
                FrameType.BEACON, V2006, 1, None, None, PAN, 0x0000, payload=beacon.build()
            ),
        ),
        (
            "enhanced-beacon-2015",
            Ieee802154Frame(
                FrameType.BEACON,
                V2015,
                2,
                None,
                None,
                PAN,
                COORD,
                payload_ies=[mlme, vendor_pie],
                payload=b"\x00",
            ),
        ),
        (
            "beacon-request-2003",
            Ieee802154Frame(
                FrameType.MAC_COMMAND,
                V2003,
                3,
                BROADCAST,
                BROADCAST,
                payload=MacCommand(CommandId.BEACON_REQUEST).build(),
            ),
        ),
        (
            "data-request-2006",
            Ieee802154Frame(
                FrameType.MAC_COMMAND,
                V2006,
                4,
                PAN,
                0x0000,
                None,
                NODE,
                ack_request=True,
                payload=MacCommand(CommandId.DATA_REQUEST).build(),
            ),
        ),
        (
            "association-request-2006",
            Ieee802154Frame(
                FrameType.MAC_COMMAND,
                V2006,
                5,
                PAN,
                0x0000,
                BROADCAST,
                NODE,
                ack_request=True,
                payload=MacCommand.association_request(
                    Capability.FFD | Capability.RX_ON_WHEN_IDLE | Capability.ALLOCATE_ADDRESS
                ).build(),
            ),
        ),
        (
            "association-response-2006",
            Ieee802154Frame(
                FrameType.MAC_COMMAND,
                V2006,
                6,
                PAN,
                NODE,
                None,
                COORD,
                ack_request=True,
                payload=MacCommand.association_response(0x0042, AssociationStatus.SUCCESS).build(),
            ),
        ),
        (
            "disassociation-2006",
            Ieee802154Frame(
                FrameType.MAC_COMMAND,
                V2006,
                7,
                PAN,
                COORD,
                None,
                NODE,
                payload=MacCommand.disassociation_notification(
                    DisassociationReason.DEVICE_WISHES_TO_LEAVE
                ).build(),
            ),
        ),
        (
            "header-ies-ht2-2015",
            Ieee802154Frame(
                FrameType.DATA,
                V2015,
                8,
                PAN,
                0x0001,
                None,
                NODE,
                header_ies=[vendor_hie, csl],
                payload=DATA,
            ),
        ),
        (
            "payload-ies-pt-2015",
            Ieee802154Frame(
                FrameType.DATA,
                V2015,
                9,
                PAN,
                0x0001,
                None,
                NODE,
                header_ies=[csl],
                payload_ies=[mlme],
                payload=DATA,
            ),
        ),
        (
            "payload-ies-no-payload-2015",
            Ieee802154Frame(
                FrameType.DATA, V2015, 10, PAN, 0x0001, None, NODE, payload_ies=[vendor_pie]
            ),
        ),
        (
            "seq-suppressed-2015",
            Ieee802154Frame(FrameType.DATA, V2015, None, PAN, 0x0001, None, NODE, payload=DATA),
        ),
    ]
    for mode, source in (
        (0, b""),
        (1, b""),
        (2, bytes.fromhex("00000001")),
        (3, bytes(range(1, 9))),
    ):
        aux = AuxSecurityHeader(
            SecurityLevel.ENC_MIC_32, mode, 0x01020304 + mode, source, 1 if mode else None
        )
        frame = Ieee802154Frame(
            FrameType.DATA,
            V2006,
            20 + mode,
            PAN,
            0x0001,
            None,
            NODE,
            True,
            aux,
            payload=b"ciphertext" + b"MIC!",
        )
        cases.append((f"secured-2006-key-id-mode-{mode}", frame))
    aux = AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, 77, b"", 2)
    cases.append(
        (
            "secured-2015-header-ie-encrypted-payload-ies",
            Ieee802154Frame(
                FrameType.DATA,
                V2015,
                30,
                PAN,
                0x0001,
                None,
                NODE,
                True,
                aux,
                header_ies=[csl],
                payload_ies_encrypted=True,
                payload=b"encrypted-ies" + b"MIC!",
            ),
        )
    )
    aux = AuxSecurityHeader(
        SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, None, b"", 2, asn_in_nonce=True
    )
    cases.append(
        (
            "secured-2015-counter-suppressed-enh-ack",
            Ieee802154Frame(
                FrameType.ACK,
                V2015,
                31,
                PAN,
                COORD,
                None,
                None,
                True,
                aux,
                header_ies=[csl],
                payload=b"MIC!",
            ),
        )
    )
    return cases


CASES = addressing_cases() + other_cases()


@pytest.fixture(scope="module")
def decoded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, str]], list[list[str]]]:
    path = tmp_path_factory.mktemp("wpan") / "frames.pcap"
    write_pcap(path, [frame.build() for _, frame in CASES])
    rows = decode(path, FIELDS)
    assert len(rows) == len(CASES)
    return rows, verbose_problems(path)


def test_every_pan_id_compression_row_is_covered() -> None:
    combos = {
        (f.dst_mode, f.src_mode, f.pan_id_compression) for _, f in CASES if f.version == V2015
    }
    assert len(combos) == 18
    assert len([c for c in CASES if c[0].startswith("data-V2006")]) == 13


@pytest.mark.parametrize(("index", "name"), [(i, name) for i, (name, _) in enumerate(CASES)])
def test_tshark_decodes_frame(
    decoded: tuple[list[dict[str, str]], list[list[str]]], index: int, name: str
) -> None:
    rows, problems = decoded
    frame = CASES[index][1]
    got = rows[index]
    check_frame(frame, got)
    assert problems[index] == [], name
    if frame.security is None:
        assert got["_ws.expert.message"] == "" and got["_ws.malformed"] == "", name
    # And our own decoder agrees with the record it was built from.
    assert Ieee802154Frame.parse(frame.build()) == frame


def test_tshark_decodes_beacon_and_command_fields(tmp_path: Path) -> None:
    by_name = dict(CASES)
    names = [
        "header-ies-ht2-2015",
        "beacon-2006",
        "association-request-2006",
        "association-response-2006",
        "disassociation-2006",
        "enhanced-beacon-2015",
    ]
    path = tmp_path / "mac.pcap"
    write_pcap(path, [by_name[n].build() for n in names])
    fields = [
        "wpan.beacon_order",
        "wpan.superframe_order",
        "wpan.cap",
        "wpan.bcn_coord",
        "wpan.assoc_permit",
        "wpan.gts.count",
        "wpan.gts.permit",
        "wpan.gts.address",
        "wpan.gts.direction",
        "wpan.pending16",
        "wpan.pending64",
        "wpan.cinfo.device_type",
        "wpan.cinfo.idle_rx",
        "wpan.cinfo.alloc_addr",
        "wpan.cinfo.power_src",
        "wpan.asoc.addr",
        "wpan.assoc.status",
        "wpan.disassoc.reason",
        "wpan.mlme.ie.id",
        "wpan.tsch.asn",
        "wpan.tsch.join_metric",
        "wpan.tsch.hopping_sequence_id",
        "wpan.payload_ie.vendor.oui",
        "wpan.header_ie.vendor_specific.vendor_oui",
        "wpan.header_ie.vendor_specific.content",
        "wpan.header_ie.csl.phase",
        "wpan.header_ie.csl.period",
    ]
    header_ies, beacon, request, response, leave, enhanced = decode(path, fields)
    assert as_int(header_ies["wpan.header_ie.vendor_specific.vendor_oui"]) == 0x001BC5
    assert bytes.fromhex(header_ies["wpan.header_ie.vendor_specific.content"]) == b"vendor"
    assert header_ies["wpan.header_ie.csl.phase"] == "100"
    assert header_ies["wpan.header_ie.csl.period"] == "3125"
    assert [beacon[f] for f in fields[:7]] == ["6", "4", "12", "1", "1", "1", "1"]
    assert as_int(beacon["wpan.gts.address"]) == 0x0005 and as_bool(beacon["wpan.gts.direction"])
    assert as_int(beacon["wpan.pending16"]) == 0x0007
    assert as_eui64(beacon["wpan.pending64"]) == NODE
    assert [as_bool(request[f]) for f in fields[11:15]] == [True, True, True, False]
    assert (
        as_int(response["wpan.asoc.addr"]) == 0x0042 and as_int(response["wpan.assoc.status"]) == 0
    )
    assert as_int(leave["wpan.disassoc.reason"]) == DisassociationReason.DEVICE_WISHES_TO_LEAVE
    assert ints(enhanced["wpan.mlme.ie.id"]) == [0x1A, 0x09]
    assert as_int(enhanced["wpan.tsch.asn"]) == 0x0504030201
    assert as_int(enhanced["wpan.tsch.join_metric"]) == 1
    assert as_int(enhanced["wpan.tsch.hopping_sequence_id"]) == 7
    assert as_int(enhanced["wpan.payload_ie.vendor.oui"]) == 0x001BC5


def test_tshark_checks_the_32_bit_fcs(tmp_path: Path) -> None:
    frames = [f for _, f in CASES if f.version == V2015][:6]
    path = tmp_path / "fcs32.pcap"
    write_pcap(path, [f.build(fcs32=True) for f in frames])
    rows = decode(
        path, ["wpan.fcs32", "wpan.fcs_ok", "wpan.seq_no"], ["-o", "wpan.fcs_format:ITU-T CRC-32"]
    )
    for frame, row in zip(frames, rows, strict=True):
        assert as_bool(row["wpan.fcs_ok"]) and row["wpan.seq_no"] == str(frame.seq)
        assert as_int(row["wpan.fcs32"]) == struct.unpack("<I", frame.build(fcs32=True)[-4:])[0]


def test_tshark_flags_a_bad_fcs(tmp_path: Path) -> None:
    # The oracle can fail: a frame with a wrong FCS is reported as such.
    wire = bytearray(CASES[0][1].build())
    wire[-1] ^= 0xFF
    path = tmp_path / "bad.pcap"
    write_pcap(path, [bytes(wire)])
    (row,) = decode(path, ["wpan.fcs_ok", "_ws.expert.message"])
    assert not as_bool(row["wpan.fcs_ok"]) and "Bad FCS" in row["_ws.expert.message"]


# Secured frames decrypted by tshark: test_mesh_security_tshark.py (sealed by the mesh
# stack's CCM*, over the byte ranges FrameLayout reports).


# --- ZEP ------------------------------------------------------------------------------------------


def _udp(payload: bytes) -> bytes:
    src, dst = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
    datagram = UdpHeader(ZEP_PORT, ZEP_PORT).build(payload, src=src, dst=dst)
    packet = Ipv4Header(src, dst, 17).build(datagram)
    return EthernetHeader(b"\x02\x00\x00\x00\x00\x02", b"\x02\x00\x00\x00\x00\x01", 0x0800).build(
        packet
    )


def test_tshark_decodes_zep(tmp_path: Path) -> None:
    inner = dict(CASES)["payload-ies-pt-2015"]
    wire = inner.build()
    messages = [
        ZepMessage(
            channel=15,
            device_id=0x1234,
            timestamp=ntp_from_seconds(1_700_000_000.25),
            sequence=77,
            frame=wire,
        ),
        ZepMessage(
            crc_mode=False, lqi=200, sequence=78, frame=wire[:-2] + cc24xx_trailer(-40, 100)
        ),
        ZepMessage(ZepType.ACK, sequence=79),
        ZepMessage(version=1, channel=20, device_id=7, frame=wire),
    ]
    path = tmp_path / "zep.pcap"
    write_pcap(path, [_udp(m.build()) for m in messages], LinkType.ETHERNET)
    zep_fields = [
        "zep.version",
        "zep.type",
        "zep.channel_id",
        "zep.device_id",
        "zep.lqi_mode",
        "zep.lqi",
        "zep.time",
        "zep.seqno",
        "zep.length",
        "wpan.rssi",
        "wpan.correlation",
    ]
    fields = zep_fields + FIELDS
    crc, lqi, ack, v1 = decode(path, fields)
    assert [crc[f] for f in fields[:5]] == ["2", "1", "15", "4660", "1"]
    assert crc["zep.time"].startswith("Nov 14, 2023 22:13:20.25")
    assert crc["zep.seqno"] == "77" and crc["zep.length"] == str(len(wire))
    for row in (crc, lqi, v1):
        check_frame(inner, row)
    assert (lqi["zep.lqi_mode"], lqi["zep.lqi"], lqi["wpan.rssi"], lqi["wpan.correlation"]) == (
        "0",
        "200",
        "-40",
        "100",
    )
    assert (ack["zep.type"], ack["zep.seqno"], ack["wpan.seq_no"]) == ("2", "79", "")
    assert (v1["zep.version"], v1["zep.channel_id"], v1["zep.device_id"]) == ("1", "20", "7")
    for row in (crc, lqi, ack, v1):
        assert row["_ws.expert.message"] == "" and row["_ws.malformed"] == ""
    assert verbose_problems(path) == [[]] * 4
