"""Captures of 802.15.4 traffic: RadioCapture around a radio, and the medium's own capture,
both LINKTYPE_IEEE802_15_4_WITHFCS (195), checked by tshark."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from netstack.drivers.rfphy import (
    CCA_DURATION,
    TURNAROUND_TIME,
    LogDistance,
    RadioCapture,
    RfPhy,
    TxStatus,
    UnitDisk,
    VirtualRadioMedium,
    airtime,
)
from netstack.runtime import World
from netstack.wire.ieee802154 import (
    BROADCAST,
    Beacon,
    CommandId,
    FrameType,
    FrameVersion,
    Ieee802154Frame,
    MacCommand,
)
from netstack.wire.pcap import LinkType, PcapReader, PcapWriter

PAN = 0x0BEE
TSHARK = shutil.which("tshark")
# Random test payloads must show as data, not as whatever a heuristic dissector guesses.
NO_HEURISTICS = [
    arg
    for proto in ("6lowpan", "zbee_nwk", "zbee_nwk_gp", "lwm", "thread_bcn", "zbee_beacon")
    for arg in ("--disable-protocol", proto)
]
PREFS = ["-o", "wpan.fcs_format:ITU-T CRC-16", "-o", "wpan.802154_fcs_ok:TRUE"]


def frame(seq: int, dst: int = 2, src: int = 1, *, ack: bool = True, size: int = 20) -> bytes:
    return Ieee802154Frame(
        FrameType.DATA,
        seq=seq,
        dst_pan=PAN,
        dst_addr=dst,
        src_addr=src,
        ack_request=ack,
        payload=bytes(range(size)),
    ).build()


def pair(
    world: World, capture: PcapWriter | io.BytesIO | Path | None = None
) -> tuple[VirtualRadioMedium, RfPhy, RfPhy]:
    medium = VirtualRadioMedium(world, UnitDisk(50.0), capture=capture)  # type: ignore[arg-type]
    a, b = medium.add_radio((0, 0)), medium.add_radio((20, 0))
    a.set_address_filter(PAN, 1, None)
    b.set_address_filter(PAN, 2, None)
    return medium, a, b


def test_radio_capture_writes_what_crosses_the_contract_with_world_time() -> None:
    world = World.simulated(seed=1)
    _, a, b = pair(world)
    buf = io.BytesIO()
    tap = RadioCapture(a, buf, world)
    assert isinstance(tap, RfPhy) and tap.eui64 == a.eui64 and tap.channel == 11
    received: list[bytes] = []
    statuses: list[TxStatus] = []
    tap.set_receive_cb(lambda psdu, lqi, rssi: received.append(psdu))

    def reply(psdu: bytes, lqi: int, rssi: int) -> None:
        b.tx(frame(7, dst=1, src=2, ack=False))

    b.set_receive_cb(reply)
    out = frame(1)
    world.run_for(0.5)  # timestamps are the world's clock
    assert tap.tx(out, done=statuses.append)
    assert not tap.tx(out)  # refused: not written
    world.run_for(0.01)
    tap.close()
    assert statuses == [TxStatus.SUCCESS] and len(received) == 1
    records = PcapReader(buf.getvalue()).records()
    assert PcapReader(buf.getvalue()).linktype == LinkType.IEEE802_15_4_WITHFCS
    assert [data for _, data in records] == [out, received[0]]
    # Written at tx() time; the reply arrives after b's ack (auto-ack is not captured),
    # b's CCA and turnaround and the reply's airtime.
    first = 0.5
    end = first + CCA_DURATION + TURNAROUND_TIME + airtime(len(out))
    ack_end = end + TURNAROUND_TIME + airtime(5)
    reply_end = ack_end + CCA_DURATION + TURNAROUND_TIME + airtime(len(received[0]))
    assert records[0][0] == pytest.approx(first, abs=1e-6)
    assert records[1][0] == pytest.approx(reply_end, abs=1e-6)


def test_radio_capture_can_share_a_writer_and_rejects_other_link_types() -> None:
    world = World.simulated(seed=1)
    _, a, b = pair(world)
    buf = io.BytesIO()
    writer = PcapWriter(buf, LinkType.IEEE802_15_4_WITHFCS)
    taps = [RadioCapture(a, writer, world), RadioCapture(b, writer, world)]
    taps[1].set_receive_cb(lambda *_: None)
    taps[0].tx(frame(1, ack=False), csma=False)
    world.run_for(0.01)
    for tap in taps:
        tap.close()  # flushes, does not close the shared writer
    assert not writer.closed and writer.packets == 2
    with pytest.raises(ValueError):
        RadioCapture(a, PcapWriter(io.BytesIO(), LinkType.ETHERNET), world)


def capture_scenario(seed: int) -> bytes:
    """Radios with shadowing and loss exchanging acknowledged frames; the medium's capture."""
    world = World.simulated(seed=seed)
    buf = io.BytesIO()
    medium = VirtualRadioMedium(
        world, LogDistance(shadowing_sigma_db=6.0, loss=0.2, sensitivity_dbm=-101.0), capture=buf
    )
    rng = random.Random(1)
    radios = [medium.add_radio((rng.uniform(0, 70), rng.uniform(0, 70))) for _ in range(8)]
    for i, radio in enumerate(radios):
        radio.set_address_filter(PAN, i + 1, None)
    for step in range(120):
        radios[step % 8].tx(frame(step, dst=(step * 3) % 8 + 1, src=step % 8 + 1, size=step % 90))
        world.run_for(0.0009)
    world.run_for(0.01)
    medium.close()
    return buf.getvalue()


def test_same_seed_gives_identical_capture_bytes() -> None:
    first = capture_scenario(21)
    assert capture_scenario(21) == first
    assert capture_scenario(22) != first
    records = PcapReader(first).records()
    kinds = {Ieee802154Frame.parse(data).frame_type for _, data in records}
    assert kinds == {FrameType.DATA, FrameType.ACK}


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
def test_tshark_decodes_the_medium_capture(tmp_path: Path) -> None:
    world = World.simulated(seed=4)
    path = tmp_path / "air.pcap"
    medium, a, b = pair(world, path)
    sent = [
        frame(1),
        frame(2, dst=BROADCAST, ack=False, size=100),
        Ieee802154Frame(
            FrameType.BEACON, seq=3, src_pan=PAN, src_addr=1, payload=Beacon().build()
        ).build(),
        Ieee802154Frame(
            FrameType.MAC_COMMAND,
            seq=4,
            dst_pan=PAN,
            dst_addr=2,
            src_addr=a.eui64,
            ack_request=True,
            payload=MacCommand(CommandId.DATA_REQUEST).build(),
        ).build(),
        Ieee802154Frame(
            FrameType.DATA,
            FrameVersion.V2015,
            seq=5,
            dst_pan=PAN,
            dst_addr=b.eui64,
            src_addr=a.eui64,
            ack_request=True,
            payload=b"2015",
        ).build(),
    ]
    statuses: list[TxStatus] = []
    for psdu in sent:
        assert a.tx(psdu, done=statuses.append)
        world.run_for(0.01)
    medium.close()
    assert statuses == [TxStatus.SUCCESS] * len(sent)
    assert TSHARK is not None
    fields = ["frame.time_relative", "wpan.frame_type", "wpan.seq_no", "wpan.fcs_ok",
              "wpan.version", "_ws.malformed", "_ws.expert.message"]  # fmt: skip
    cmd = [TSHARK, "-r", str(path), *NO_HEURISTICS, *PREFS, "-T", "fields"]
    for name in fields:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    # Every data, beacon and command frame but the broadcast and the beacon is acknowledged.
    expected = [(1, 1), (2, 1), (1, 2), (0, 3), (3, 4), (2, 4), (1, 5), (2, 5)]
    got = [(int(r[1], 0), int(r[2])) for r in rows]
    assert got == expected
    assert all(r[3] == "1" for r in rows)  # FCS good
    assert [r[4] for r in rows][-2:] == ["2", "1"]  # 2015 frame, answered by a 2006 Imm-Ack
    assert all(r[5] == "" and r[6] == "" for r in rows), rows
