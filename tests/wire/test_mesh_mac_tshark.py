"""Wireshark as the oracle for the frames the 802.15.4 MAC emits on its own.

One simulated scenario makes the MAC send every kind of frame it has — acknowledged and
broadcast data, the radio's acks, Beacon Request, a beacon with its payload and pending
address list, Data Request, the indirect answer, secured unicast and broadcast data —
captured off the medium (LINKTYPE 195, FCS included). tshark, given the key, must decode
each with a good FCS, no malformed packet and no expert error or warning, decrypt the
secured ones, and show the fields the scenario put there.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from test_ieee802154_tshark import TSHARK, as_int, run_tshark

from netstack.drivers.rfphy import UnitDisk, VirtualRadioMedium
from netstack.runtime import World
from netstack.stacks.mesh.mac import Ieee802154Mac, MacConfig, MacSecurity, MacStatus
from netstack.wire.ieee802154 import BROADCAST, CommandId, FrameType, Ieee802154Frame
from netstack.wire.pcap import LinkType, read_pcap

pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

PAN = 0x1A2B
KEY = bytes.fromhex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")
KEY_PREFS = ["-o", f'uat:ieee802154_keys:"{KEY.hex()}","1","No hash"']
BEACON_PAYLOAD = b"netstack-mesh"
FIELDS = [
    "wpan.frame_type",
    "wpan.fcs_ok",
    "wpan.ack_request",
    "wpan.pending",
    "wpan.seq_no",
    "wpan.dst16",
    "wpan.src16",
    "wpan.src64",
    "wpan.cmd",
    "wpan.beacon_order",
    "wpan.superframe_order",
    "wpan.bcn_coord",
    "wpan.assoc_permit",
    "wpan.pending16",
    "wpan.aux_sec.sec_level",
    "wpan.key_number",
    "data.data",
    "_ws.expert.message",
    "_ws.malformed",
]


def scenario() -> bytes:
    """The medium's capture of a run in which the MAC sends every kind of frame it has."""
    world = World.simulated(seed=3)
    air = io.BytesIO()
    medium = VirtualRadioMedium(world, UnitDisk(50.0), capture=air)
    secured = MacSecurity(keys={1: KEY})
    configs = {
        "coord": MacConfig(
            pan_id=PAN,
            short_address=0x0001,
            coordinator=True,
            association_permit=True,
            beacon_payload=BEACON_PAYLOAD,
        ),
        "child": MacConfig(pan_id=PAN, short_address=0x0002, rx_on_when_idle=False),
        "router": MacConfig(pan_id=PAN, short_address=0x0003),
        "alice": MacConfig(pan_id=PAN, security=secured),
        "bob": MacConfig(pan_id=PAN, security=MacSecurity(keys={1: KEY})),
    }
    macs = {}
    for i, (name, config) in enumerate(configs.items()):
        mac = Ieee802154Mac(medium.add_radio((10.0 * i, 0.0)), world, config)
        mac.start()
        macs[name] = mac
    coord, child, router, alice, bob = macs.values()
    results: list[MacStatus] = []
    done: Callable[[MacStatus], None] = results.append

    def step(action: Callable[[], object], seconds: float = 0.2) -> None:
        action()
        world.run_for(seconds)

    step(lambda: coord.data_request(0x0002, b"held for the child", indirect=True, done=done))
    step(lambda: child.active_scan([11], 2, lambda found: None))
    step(lambda: child.poll(0x0001, done))
    step(lambda: coord.data_request(0x0003, b"acknowledged", done=done))
    step(lambda: router.data_request(BROADCAST, b"broadcast", done=done))
    step(lambda: alice.data_request(bob.ext_address, b"secured unicast", done=done))
    step(lambda: bob.data_request(BROADCAST, b"secured broadcast", done=done))
    assert results == [MacStatus.SUCCESS] * 6
    assert [m.stats()["rx_data"] for m in (child, router, alice, bob)] == [1, 1, 1, 1]
    medium.close()
    return air.getvalue()


Decoded = tuple[list[bytes], list[dict[str, str]], list[list[str]]]


def verbose_problems(path: Path) -> list[list[str]]:
    """Per packet, the ``tshark -V`` lines naming a malformed packet or an expert error or
    warning."""
    blocks = re.split(r"^Frame \d+: ", run_tshark(path, ["-V", *KEY_PREFS]), flags=re.M)[1:]
    return [
        [
            line.strip()
            for line in block.splitlines()
            if "Malformed" in line or "Expert Info (Error" in line or "Expert Info (Warning" in line
        ]
        for block in blocks
    ]


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory) -> Decoded:
    """The scenario's frames, tshark's fields for each, and its complaints about each."""
    capture = scenario()
    linktype, records = read_pcap(capture)
    assert linktype == LinkType.IEEE802_15_4_WITHFCS
    frames = [psdu for _, psdu in records]
    path = tmp_path_factory.mktemp("wpan-mac") / "mac.pcap"
    path.write_bytes(capture)
    args = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", *KEY_PREFS]
    for name in FIELDS:
        args += ["-e", name]
    rows = [
        dict(zip(FIELDS, line.split("\t"), strict=True))
        for line in run_tshark(path, args).splitlines()
    ]
    assert len(rows) == len(frames)
    return frames, rows, verbose_problems(path)


def kinds(frames: list[bytes]) -> list[str]:
    """A name for each frame, from our own decoding."""
    out = []
    for psdu in frames:
        frame = Ieee802154Frame.parse(psdu)
        if frame.frame_type == FrameType.MAC_COMMAND:
            out.append(CommandId(frame.payload[0]).name.lower())
        elif frame.frame_type == FrameType.DATA and frame.security_enabled:
            out.append("secured-data")
        else:
            out.append(FrameType(frame.frame_type).name.lower())
    return out


def true(value: str) -> bool:
    return {"1": True, "True": True, "0": False, "False": False}[value]


def test_the_scenario_has_every_frame_kind_the_mac_emits(decoded: Decoded) -> None:
    assert set(kinds(decoded[0])) == {
        "data",
        "ack",
        "beacon_request",
        "beacon",
        "data_request",
        "secured-data",
    }


def test_every_frame_decodes_cleanly(decoded: Decoded) -> None:
    frames, rows, complaints = decoded
    for row, problems, name in zip(rows, complaints, kinds(frames), strict=True):
        assert true(row["wpan.fcs_ok"]), name
        assert row["_ws.malformed"] == "" and row["_ws.expert.message"] == "", (name, row)
        assert problems == [], (name, problems)


def test_tshark_sees_the_fields_the_mac_set(decoded: Decoded) -> None:
    frames, rows, _ = decoded
    by_kind: dict[str, list[dict[str, str]]] = {}
    for row, name in zip(rows, kinds(frames), strict=True):
        by_kind.setdefault(name, []).append(row)
    (request,) = by_kind["beacon_request"]
    assert as_int(request["wpan.cmd"]) == CommandId.BEACON_REQUEST
    assert as_int(request["wpan.dst16"]) == BROADCAST and not true(request["wpan.ack_request"])
    (beacon,) = by_kind["beacon"]
    assert (beacon["wpan.beacon_order"], beacon["wpan.superframe_order"]) == ("15", "15")
    assert true(beacon["wpan.bcn_coord"]) and true(beacon["wpan.assoc_permit"])
    assert as_int(beacon["wpan.src16"]) == 0x0001
    assert as_int(beacon["wpan.pending16"]) == 0x0002  # the child's frame is held
    assert bytes.fromhex(beacon["data.data"]) == BEACON_PAYLOAD
    (data_request,) = by_kind["data_request"]
    assert as_int(data_request["wpan.cmd"]) == CommandId.DATA_REQUEST
    assert as_int(data_request["wpan.src16"]) == 0x0002 and true(data_request["wpan.ack_request"])
    payloads = {bytes.fromhex(row["data.data"]): row for row in by_kind["data"]}
    held = payloads[b"held for the child"]
    assert as_int(held["wpan.dst16"]) == 0x0002
    assert true(payloads[b"acknowledged"]["wpan.ack_request"])
    broadcast = payloads[b"broadcast"]
    assert as_int(broadcast["wpan.dst16"]) == BROADCAST
    assert not true(broadcast["wpan.ack_request"])
    # The ack of the Data Request says a frame is pending; the others do not.
    acks = by_kind["ack"]
    assert [true(row["wpan.pending"]) for row in acks].count(True) == 1
    secured = by_kind["secured-data"]
    assert len(secured) == 2
    for row in secured:
        assert as_int(row["wpan.aux_sec.sec_level"]) == 5
        assert row["wpan.key_number"] != ""  # decrypted, MIC verified
    assert {bytes.fromhex(row["data.data"]) for row in secured} == {
        b"secured unicast",
        b"secured broadcast",
    }


@pytest.mark.parametrize("mode", [2, 3])
def test_key_identifier_modes_2_and_3_decrypt_in_wireshark(tmp_path: Path, mode: int) -> None:
    """The MAC's frames under a key named by key source and index: tshark, holding the key
    for index 5, decrypts them (MIC verified) and reads the key source the MAC wrote."""
    source = bytes.fromhex("a1b2c3d4e5f60718")[: 4 if mode == 2 else 8]
    world = World.simulated(seed=4)
    air = io.BytesIO()
    medium = VirtualRadioMedium(world, UnitDisk(50.0), capture=air)
    security = MacSecurity(key_id_mode=mode, source_keys={(source, 5): KEY},
                           tx_key_source=source)  # fmt: skip
    macs = [
        Ieee802154Mac(medium.add_radio((x, 0)), world, MacConfig(pan_id=PAN, security=security))
        for x in (0, 20)
    ]
    got: list[bytes] = []
    macs[1].set_data_indication_cb(lambda ind: got.append(ind.payload))
    for mac in macs:
        mac.start()
    payloads = [b"keyed by source", b"and by index"]
    for payload in payloads:
        assert macs[0].data_request(macs[1].ext_address, payload)
        world.run_for(0.05)
    medium.close()
    assert got == payloads
    path = tmp_path / "modes.pcap"
    path.write_bytes(air.getvalue())
    prefs = ["-o", f'uat:ieee802154_keys:"{KEY.hex()}","5","No hash"']
    fields = ["wpan.aux_sec.key_id_mode", "wpan.aux_sec.key_source", "wpan.aux_sec.key_index",
              "wpan.key_number", "data.data", "_ws.expert.message"]  # fmt: skip
    args = ["-Y", "wpan.frame_type == 1", "-T", "fields", *prefs]
    for name in fields:
        args += ["-e", name]
    rows = [dict(zip(fields, line.split("\t"), strict=True))
            for line in run_tshark(path, args).splitlines()]  # fmt: skip
    assert len(rows) == len(payloads)
    for row, payload in zip(rows, payloads, strict=True):
        assert as_int(row["wpan.aux_sec.key_id_mode"]) == mode
        assert as_int(row["wpan.aux_sec.key_source"]) == int.from_bytes(source, "big")
        assert as_int(row["wpan.aux_sec.key_index"]) == 5
        assert row["wpan.key_number"] != ""  # a key from the table decrypted it
        assert bytes.fromhex(row["data.data"]) == payload
        assert row["_ws.expert.message"] == ""
