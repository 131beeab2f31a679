"""Wireshark as the oracle for 802.15.4 frame security: frames sealed by
:func:`netstack.stacks.mesh.security.secure_frame` at every security level and key
identifier mode are written to a pcap (LINKTYPE 195) and decrypted by tshark given the
keys. Wireshark names the key it used only when decryption and the MIC check succeed, and
says "No encryption key set - can't decrypt" when no key verifies; so each frame must show
its key, its plaintext and no expert info at all. Frames sealed with a wrong key or a
damaged MIC show that the oracle can fail.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_ieee802154_tshark import TSHARK, as_int, ints, run_tshark, write_pcap

from netstack.stacks.mesh.security import secure_frame
from netstack.wire.ieee802154 import (
    AssociationStatus,
    AuxSecurityHeader,
    Beacon,
    FrameType,
    FrameVersion,
    HeaderIE,
    HeaderIEId,
    Ieee802154Frame,
    KeyIdMode,
    MacCommand,
    PayloadIE,
    PayloadIEGroup,
    SecurityLevel,
    append_fcs,
)

pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

V2006, V2015 = FrameVersion.V2006, FrameVersion.V2015
KEY_IMPLICIT = bytes.fromhex("00112233445566778899aabbccddeeff")  # key index 0 in Wireshark
KEY = bytes(range(16))  # key index 1
WRONG_KEY = bytes(range(1, 17))
NODE = bytes.fromhex("02aabbccddeeff01")
COORD = bytes.fromhex("00124b0001020304")
SHORT = 0x0042  # NODE's short address, known to Wireshark from its static address table
PAN = 0x1A2B
OUI = bytes.fromhex("c51b00")  # 00-1B-C5, least significant octet first
PAYLOAD = b"hello, secured world"

KEY_PREFS = [
    "-o",
    f'uat:ieee802154_keys:"{KEY_IMPLICIT.hex()}","0","No hash"',
    "-o",
    f'uat:ieee802154_keys:"{KEY.hex()}","1","No hash"',
    "-o",
    f'uat:802154_addresses:"0x{SHORT:04x}","0x{PAN:04x}",{NODE.hex()}',
]
FIELDS = [
    "wpan.aux_sec.sec_level",
    "wpan.aux_sec.key_id_mode",
    "wpan.key_number",
    "wpan.mic",
    "data.data",
    "wpan.payload_ie.id",
    "wpan.header_ie.id",
    "wpan.asoc.addr",
    "wpan.pending16",
    "_ws.expert.message",
    "_ws.malformed",
]


@dataclass
class Case:
    name: str
    frame: Ieee802154Frame
    key: bytes
    source: bytes | None = None

    @property
    def wire(self) -> bytes:
        return secure_frame(self.frame, self.key, source=self.source)


def _aux(level: int, mode: int, counter: int) -> AuxSecurityHeader:
    source = {KeyIdMode.SOURCE4_INDEX: bytes(4), KeyIdMode.SOURCE8_INDEX: bytes(8)}
    return AuxSecurityHeader(
        level, mode, counter, source.get(KeyIdMode(mode), b""), 1 if mode else None
    )


def cases() -> list[Case]:
    out: list[Case] = []
    for mode in KeyIdMode:
        for level in range(1, 8):
            frame = Ieee802154Frame(
                FrameType.DATA,
                V2006,
                len(out),
                PAN,
                0x0001,
                None,
                NODE,
                True,
                _aux(level, mode, 1000 + len(out)),
                ack_request=True,
                payload=PAYLOAD,
            )
            key = KEY if mode else KEY_IMPLICIT
            out.append(Case(f"data-2006-level-{level}-key-id-mode-{mode}", frame, key))
    csl = HeaderIE(HeaderIEId.CSL, struct.pack("<HH", 100, 3125))
    vendor = PayloadIE(PayloadIEGroup.VENDOR_SPECIFIC, OUI + b"pie")
    for level in range(1, 8):
        frame = Ieee802154Frame(
            FrameType.DATA,
            V2015,
            len(out),
            PAN,
            0x0001,
            None,
            NODE,
            True,
            _aux(level, KeyIdMode.INDEX, 2000 + level),
            header_ies=[csl],
            payload_ies=[vendor],
            payload=PAYLOAD,
        )
        out.append(Case(f"data-2015-ies-level-{level}", frame, KEY))
    for version in (V2006, V2015):
        frame = Ieee802154Frame(
            FrameType.DATA,
            version,
            len(out),
            PAN,
            0x0001,
            None,
            SHORT,
            True,
            _aux(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, 3000),
            payload=PAYLOAD,
        )
        out.append(Case(f"data-{version.name}-short-source", frame, KEY, NODE))
        response = MacCommand.association_response(0x0042, AssociationStatus.SUCCESS)
        frame = Ieee802154Frame(
            FrameType.MAC_COMMAND,
            version,
            len(out),
            PAN,
            NODE,
            None,
            COORD,
            True,
            _aux(SecurityLevel.ENC_MIC_64, KeyIdMode.INDEX, 4000),
            ack_request=True,
            payload=response.build(),
        )
        out.append(Case(f"association-response-{version.name}", frame, KEY))
    beacon = Beacon(
        beacon_order=6,
        superframe_order=4,
        final_cap_slot=12,
        pan_coordinator=True,
        association_permit=True,
        pending_short=[0x0007],
        payload=PAYLOAD,
    )
    for level in (SecurityLevel.MIC_64, SecurityLevel.ENC_MIC_64):
        frame = Ieee802154Frame(
            FrameType.BEACON,
            V2006,
            len(out),
            None,
            None,
            PAN,
            COORD,
            True,
            _aux(level, KeyIdMode.INDEX, 5000 + level),
            payload=beacon.build(),
        )
        out.append(Case(f"beacon-2006-level-{level}", frame, KEY))
    return out


CASES = cases()


def expert_lines(path: Path) -> list[list[str]]:
    """Per packet, the ``tshark -V`` lines of malformed packets and expert infos."""
    blocks = re.split(r"^Frame \d+: ", run_tshark(path, ["-V", *KEY_PREFS]), flags=re.M)[1:]
    return [
        [line.strip() for line in block.splitlines() if "Malformed" in line or "Expert" in line]
        for block in blocks
    ]


def decode(path: Path) -> list[dict[str, str]]:
    args = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", *KEY_PREFS]
    for name in FIELDS:
        args += ["-e", name]
    out = run_tshark(path, args)
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


@pytest.fixture(scope="module")
def decoded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, str]], list[list[str]]]:
    path = tmp_path_factory.mktemp("wpan-sec") / "secured.pcap"
    write_pcap(path, [case.wire for case in CASES])
    rows = decode(path)
    assert len(rows) == len(CASES)
    return rows, expert_lines(path)


def test_every_level_and_key_identifier_mode_is_covered() -> None:
    combos = {
        (c.frame.security.level, c.frame.security.key_id_mode) for c in CASES if c.frame.security
    }
    assert combos >= {(level, mode) for level in range(1, 8) for mode in range(4)}


@pytest.mark.parametrize(("index", "name"), [(i, c.name) for i, c in enumerate(CASES)])
def test_tshark_decrypts_and_verifies(
    decoded: tuple[list[dict[str, str]], list[list[str]]], index: int, name: str
) -> None:
    rows, problems = decoded
    case = CASES[index]
    got = rows[index]
    aux = case.frame.security
    assert aux is not None
    assert as_int(got["wpan.aux_sec.sec_level"]) == aux.level
    assert as_int(got["wpan.aux_sec.key_id_mode"]) == aux.key_id_mode
    # Wireshark names the key only once the frame decrypted and its MIC verified.
    assert got["wpan.key_number"] != "", name
    assert problems[index] == [], name
    assert got["_ws.expert.message"] == "" and got["_ws.malformed"] == "", name
    on_air = Ieee802154Frame.parse(case.wire)
    if aux.mic_length:
        assert bytes.fromhex(got["wpan.mic"]) == on_air.payload[-aux.mic_length :]
    frame_type = case.frame.frame_type
    if frame_type == FrameType.DATA:
        # The MAC payload is the last raw data (the vendor IE's content may come before it).
        assert bytes.fromhex(got["data.data"].split(",")[-1]) == PAYLOAD
        if case.frame.payload_ies:
            assert ints(got["wpan.payload_ie.id"]) == [
                PayloadIEGroup.VENDOR_SPECIFIC,
                PayloadIEGroup.TERMINATION,
            ]
            # HT1 ends the authenticated header: encrypted payload IEs follow it.
            assert ints(got["wpan.header_ie.id"]) == [HeaderIEId.CSL, HeaderIEId.HT1]
            assert on_air.payload_ies_encrypted == bool(aux.level & 4)
            assert on_air.build() == case.wire
    elif frame_type == FrameType.MAC_COMMAND:
        assert as_int(got["wpan.asoc.addr"]) == 0x0042
    else:
        assert as_int(got["wpan.pending16"]) == 0x0007
        assert bytes.fromhex(got["data.data"]) == PAYLOAD


def test_tshark_refuses_a_wrong_key_or_a_damaged_mic(tmp_path: Path) -> None:
    # The oracle can fail: the same frames with the wrong key, or one MIC bit flipped.
    chosen = [c for c in CASES if c.frame.security and c.frame.security.mic_length][:6]
    frames = [secure_frame(c.frame, WRONG_KEY, source=c.source) for c in chosen]
    for case in chosen:
        damaged = bytearray(secure_frame(case.frame, case.key, source=case.source, fcs=False))
        damaged[-1] ^= 1
        frames.append(append_fcs(damaged))
    path = tmp_path / "refused.pcap"
    write_pcap(path, frames)
    for row, problems in zip(decode(path), expert_lines(path), strict=True):
        assert row["wpan.key_number"] == ""
        assert "No encryption key set - can't decrypt" in row["_ws.expert.message"]
        assert problems != []
