"""ZepRadio and ZepHub over real UDP on 127.0.0.1, on a world driven by the standard loop.

The datagrams a radio sends are written to a pcap as Ethernet/IPv4/UDP and decoded by
tshark's own ZEP and 802.15.4 dissectors (decode-as on the radios' ephemeral ports).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netstack.drivers.rfphy import RadioState, RfPhy, TxStatus, ZepHub, ZepRadio
from netstack.runtime import World
from netstack.wire.ethernet import EthernetHeader
from netstack.wire.ieee802154 import BROADCAST, FrameType, Ieee802154Frame
from netstack.wire.ipv4 import Ipv4Header
from netstack.wire.pcap import LinkType, PcapWriter
from netstack.wire.udp import UdpHeader
from netstack.wire.zep import ZepMessage, ZepType

pytestmark = pytest.mark.interop

#: Most any step may take on the wall clock before the test fails (never a timing claim).
TIMEOUT = 10.0
#: The ack window: generous, so a loaded machine does not turn an ack into NO_ACK.
ACK_WAIT = 2.0
PAN = 0x7E57
LOOPBACK = bytes([127, 0, 0, 1])
TSHARK = shutil.which("tshark")

Datagram = tuple[float, bytes, tuple[str, int], tuple[str, int]]


def frame(seq: int, dst: int, src: int, *, ack: bool = True, payload: bytes = b"zep") -> bytes:
    return Ieee802154Frame(
        FrameType.DATA,
        seq=seq,
        dst_pan=PAN,
        dst_addr=dst,
        src_addr=src,
        ack_request=ack,
        payload=payload,
    ).build()


def eui64(n: int) -> bytes:
    return bytes.fromhex("02005a4550000000")[:7] + bytes([n])


class Node:
    """A ZepRadio with its received frames and a way to await one transmission."""

    def __init__(self, world: World, radio: ZepRadio, short: int) -> None:
        self.world = world
        self.radio = radio
        self.frames: list[bytes] = []
        self.arrived = asyncio.Event()
        radio.set_address_filter(PAN, short, None)
        radio.set_receive_cb(self._rx)

    def _rx(self, psdu: bytes, lqi: int, rssi: int) -> None:
        self.frames.append(psdu)
        self.arrived.set()

    async def send(self, psdu: bytes, *, csma: bool = True) -> TxStatus:
        done: asyncio.Future[TxStatus] = self.world.loop.create_future()
        assert self.radio.tx(psdu, csma=csma, done=done.set_result)
        return await asyncio.wait_for(done, TIMEOUT)

    async def receive(self, count: int) -> None:
        while len(self.frames) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), TIMEOUT)


@pytest.fixture
def radios(real_world: World) -> Iterator[list[ZepRadio]]:
    """ZepRadios made by the test, closed afterwards."""
    made: list[ZepRadio] = []
    yield made
    for radio in made:
        radio.close()


def udp_frame(payload: bytes, src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    datagram = UdpHeader(src[1], dst[1]).build(payload, src=LOOPBACK, dst=LOOPBACK)
    packet = Ipv4Header(LOOPBACK, LOOPBACK, 17).build(datagram)
    return EthernetHeader(bytes(6), bytes(6), 0x0800).build(packet)


def test_two_zep_radios_exchange_acknowledged_frames(
    real_world: World, radios: list[ZepRadio], tmp_path: Path
) -> None:
    world = real_world
    a = ZepRadio(world, eui64=eui64(1), channel=20, ack_wait=ACK_WAIT)
    b = ZepRadio(world, eui64=eui64(2), channel=20, ack_wait=ACK_WAIT)
    radios += [a, b]
    assert isinstance(a, RfPhy) and a.capabilities.ack_wait == ACK_WAIT
    a.add_peer(b.address)
    b.add_peer(a.address)
    sent_by_a: list[Datagram] = []
    a.set_datagram_trace(
        lambda data, src, dst: (
            sent_by_a.append((world.now(), data, src, dst)) if src == a.address else None
        )
    )
    na, nb = Node(world, a, 1), Node(world, b, 2)

    async def scenario() -> list[TxStatus]:
        statuses = [await na.send(frame(1, dst=2, src=1))]
        await nb.receive(1)
        statuses.append(await nb.send(frame(2, dst=1, src=2), csma=False))
        statuses.append(await na.send(frame(3, dst=BROADCAST, src=1, ack=False)))
        statuses.append(await na.send(frame(4, dst=9, src=1)))  # nobody has short address 9
        await nb.receive(2)
        b.set_channel(21)  # another channel: b no longer hears a
        statuses.append(await na.send(frame(5, dst=2, src=1)))
        return statuses

    statuses = world.run(scenario())
    assert statuses == [
        TxStatus.SUCCESS,
        TxStatus.SUCCESS,
        TxStatus.SUCCESS,
        TxStatus.NO_ACK,
        TxStatus.NO_ACK,
    ]
    assert nb.frames == [frame(1, dst=2, src=1), frame(3, dst=BROADCAST, src=1, ack=False)]
    assert na.frames == [frame(2, dst=1, src=2)]
    assert a.stats()["acks_received"] == 1 and a.stats()["acks_sent"] == 1
    assert b.stats()["acks_sent"] == 1 and b.stats()["filtered"] == 1
    assert b.stats()["zep_other_channel"] == 1

    messages = [ZepMessage.parse(data) for _, data, _, _ in sent_by_a]
    assert all(m.type == ZepType.DATA and m.channel == 20 and m.crc_mode for m in messages)
    assert [m.sequence for m in messages] == list(range(1, len(messages) + 1))
    # a sent frames 1, 3, 4 and 5 and its ack of frame 2.
    seqs = [Ieee802154Frame.parse(m.frame).seq for m in messages]
    assert seqs == [1, 2, 3, 4, 5]

    if TSHARK is None:
        pytest.fail("tshark is not installed (make system-deps installs it)")
    path = tmp_path / "zep.pcap"
    with PcapWriter(path, LinkType.ETHERNET) as writer:
        for when, data, src, dst in sent_by_a:
            writer.write(when, udp_frame(data, src, dst))
    fields = ["zep.version", "zep.type", "zep.channel_id", "zep.device_id", "zep.lqi_mode",
              "zep.seqno", "wpan.frame_type", "wpan.seq_no", "wpan.dst16", "wpan.fcs_ok",
              "_ws.malformed", "_ws.expert.message"]  # fmt: skip
    cmd = [TSHARK, "-r", str(path), "-d", f"udp.port=={b.address[1]},zep",
           "--disable-protocol", "6lowpan", "-o", "wpan.fcs_format:ITU-T CRC-16",
           "-T", "fields"]  # fmt: skip
    for name in fields:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == 5
    for i, row in enumerate(rows):
        assert row[:4] == ["2", "1", "20", str(0x0001)]
        assert row[4] == "1"  # the LQI/CRC mode field: 1, CRC mode (the frame has its FCS)
        assert row[5] == str(i + 1)
        assert row[7] == str(seqs[i]) and row[9] == "1"
        assert row[10] == "" and row[11] == ""
    assert [int(r[6], 0) for r in rows] == [1, 2, 1, 1, 1]  # the ack is type 2


def test_a_hub_joins_radios_into_one_medium(real_world: World, radios: list[ZepRadio]) -> None:
    world = real_world
    hub = ZepHub(world, port=0)
    try:
        nodes = []
        for n in (1, 2, 3):
            radio = ZepRadio(world, eui64=eui64(n), group=hub.address, ack_wait=ACK_WAIT)
            radios.append(radio)
            nodes.append(Node(world, radio, n))
        a, b, c = nodes

        async def scenario() -> list[TxStatus]:
            while len(hub.peers) < 3:  # the radios register when the loop runs
                await asyncio.sleep(0.001)
            statuses = [await a.send(frame(1, dst=BROADCAST, src=1, ack=False))]
            await b.receive(1)
            await c.receive(1)
            statuses.append(await a.send(frame(2, dst=3, src=1)))
            await c.receive(2)
            c.radio.set_state(RadioState.OFF)
            statuses.append(await a.send(frame(3, dst=3, src=1)))
            return statuses

        statuses = world.run(asyncio.wait_for(scenario(), TIMEOUT))
        assert statuses == [TxStatus.SUCCESS, TxStatus.SUCCESS, TxStatus.NO_ACK]
        assert len(b.frames) == 1 and len(c.frames) == 2
        assert b.radio.stats()["filtered"] >= 2  # frame 2 and c's ack, not for b
        assert sorted(hub.peers) == sorted(n.radio.address for n in nodes)
        assert hub.stats["registrations"] == 3 and hub.stats["forwarded"] >= 8
    finally:
        hub.close()
