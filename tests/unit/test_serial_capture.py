"""SerialCapture: PPP frames crossing a serial port, written to pcap (LINKTYPE_PPP_WITH_DIR)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netstack.drivers.serial import SerialCapture, SerialLine, SerialPort
from netstack.runtime import World
from netstack.wire.icmpv4 import Icmpv4Header
from netstack.wire.ipv4 import Ipv4Header
from netstack.wire.pcap import LinkType, PcapReader, PcapWriter
from netstack.wire.ppp import (
    ControlCode,
    ControlPacket,
    LcpOption,
    PppHeader,
    PppProtocol,
    build_options,
    encode_frame,
)

BAUD = 115200
BYTE_TIME = 10 / BAUD

# LCP Configure-Request: MRU 1500, ACCM 0, Magic-Number 0x12345678 (RFC 1661 §6, RFC 1662 §7.1)
LCP_CONF_REQ = ControlPacket(ControlCode.CONFIGURE_REQUEST, 1).build(
    build_options(
        [
            (LcpOption.MRU, (1500).to_bytes(2, "big")),
            (LcpOption.ACCM, bytes(4)),
            (LcpOption.MAGIC_NUMBER, bytes.fromhex("12345678")),
        ]
    )
)
LCP_CONF_ACK = ControlPacket(ControlCode.CONFIGURE_ACK, 1).build(LCP_CONF_REQ[4:])
# IPCP Configure-Request: IP-Address 10.0.0.1 (RFC 1332 §3.3)
IPCP_CONF_REQ = ControlPacket(ControlCode.CONFIGURE_REQUEST, 7).build(
    build_options([(3, bytes([10, 0, 0, 1]))])
)
ICMP_ECHO = Ipv4Header(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 1).build(
    Icmpv4Header.echo(0x1234, 1).build(b"ping over ppp")
)

LCP_FRAME = PppHeader.build(PppProtocol.LCP, LCP_CONF_REQ)
ACK_FRAME = PppHeader.build(PppProtocol.LCP, LCP_CONF_ACK)
IPCP_FRAME = PppHeader.build(PppProtocol.IPCP, IPCP_CONF_REQ)
IP_FRAME = PppHeader.build(PppProtocol.IPV4, ICMP_ECHO)
IP_FRAME_COMPRESSED = PppHeader.build(PppProtocol.IPV4, ICMP_ECHO, acfc=True, pfc=True)


def bad_fcs(frame: bytes) -> bytes:
    """An encoded frame with its last FCS octet changed (0x7E/0x7D avoided)."""
    wire = bytearray(encode_frame(frame))
    wire[-2] = 0x00 if wire[-2] != 0x00 else 0x01
    return bytes(wire)


class Peer:
    """The far end: what it receives, and whether it hung up."""

    def __init__(self, port: SerialPort) -> None:
        self.data = bytearray()
        self.hangups = 0
        port.set_receive_cb(self.data.extend)
        port.set_hangup_cb(self._hangup)

    def _hangup(self) -> None:
        self.hangups += 1


def exchange(
    target: Path | io.BytesIO, *, seed: int = 1, linktype: LinkType = LinkType.PPP_WITH_DIR
) -> SerialCapture:
    """LCP, IPCP and IPv4 frames both ways over a line, captured at end ``a``."""
    world = World.simulated(seed)
    line = SerialLine(world, baudrate=BAUD)
    capture = SerialCapture(line.a, world, target, linktype=linktype)
    received = bytearray()
    capture.set_receive_cb(received.extend)
    Peer(line.b)
    assert capture.write(encode_frame(LCP_FRAME))
    line.b.write(encode_frame(ACK_FRAME))
    world.run_for(0.1)
    capture.write(encode_frame(IPCP_FRAME))
    capture.write(encode_frame(IP_FRAME, accm=0))
    capture.write(encode_frame(IP_FRAME_COMPRESSED, accm=0))
    line.b.write(encode_frame(IP_FRAME))
    world.run_for(0.1)
    assert bytes(received) == encode_frame(ACK_FRAME) + encode_frame(IP_FRAME)
    return capture


def test_the_capture_is_a_serial_port() -> None:
    world = World.simulated()
    line = SerialLine(world)
    capture = SerialCapture(line.a, world, io.BytesIO())
    assert isinstance(capture, SerialPort)
    assert capture.baudrate == BAUD
    assert capture.is_open


def test_frames_both_ways_land_with_their_direction_octet() -> None:
    buf = io.BytesIO()
    capture = exchange(buf)
    assert capture.captured_frames == 6
    assert capture.bad_frames == 0
    reader = PcapReader(buf.getvalue())
    assert reader.linktype == LinkType.PPP_WITH_DIR  # 204
    records = reader.records()
    assert [data for _, data in records] == [
        b"\x01" + LCP_FRAME,
        b"\x00" + ACK_FRAME,
        b"\x01" + IPCP_FRAME,
        b"\x01" + IP_FRAME,
        b"\x01" + IP_FRAME_COMPRESSED,
        b"\x00" + IP_FRAME,
    ]
    # Sent frames are stamped when written, received ones when their last byte arrived.
    assert records[0][0] == 0.0
    ack_time = len(encode_frame(ACK_FRAME)) * BYTE_TIME
    assert records[1][0] == pytest.approx(ack_time, abs=1e-6)
    assert records[2][0] == pytest.approx(0.1, abs=1e-6)


def test_plain_ppp_link_type_has_no_direction_octet() -> None:
    buf = io.BytesIO()
    exchange(buf, linktype=LinkType.PPP)
    reader = PcapReader(buf.getvalue())
    assert reader.linktype == LinkType.PPP  # 9
    assert [data for _, data in reader.records()][:2] == [LCP_FRAME, ACK_FRAME]
    with pytest.raises(ValueError, match="PPP_WITH_DIR or PPP"):
        SerialCapture(SerialLine(World.simulated()).a, World.simulated(), io.BytesIO(),
                      linktype=LinkType.ETHERNET)  # fmt: skip


def test_bad_fcs_frames_are_skipped_and_counted() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=None)
    buf = io.BytesIO()
    capture = SerialCapture(line.a, world, buf)
    peer = Peer(line.b)
    capture.set_receive_cb(lambda data: None)
    capture.write(bad_fcs(LCP_FRAME))
    capture.write(encode_frame(IPCP_FRAME))
    line.b.write(bad_fcs(IP_FRAME))
    line.b.write(encode_frame(ACK_FRAME))
    world.run_for(1.0)
    assert bytes(peer.data) == bad_fcs(LCP_FRAME) + encode_frame(IPCP_FRAME)  # forwarded
    assert capture.bad_frames == 2
    assert [data for _, data in PcapReader(buf.getvalue())] == [
        b"\x01" + IPCP_FRAME,
        b"\x00" + ACK_FRAME,
    ]
    assert capture.stats()["bad_frames"] == 2
    assert capture.stats()["captured_frames"] == 2


def test_frames_split_across_writes_are_reassembled() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD, max_chunk=3)  # deliveries cut frames apart too
    buf = io.BytesIO()
    capture = SerialCapture(line.a, world, buf)
    Peer(line.b)
    wire = encode_frame(IP_FRAME)
    for i in range(0, len(wire), 5):
        capture.write(wire[i : i + 5])
    line.b.write(wire + wire)
    world.run_for(1.0)
    assert [data for _, data in PcapReader(buf.getvalue())] == [
        b"\x01" + IP_FRAME,
        b"\x00" + IP_FRAME,
        b"\x00" + IP_FRAME,
    ]


def test_fcs32_frames_are_captured_when_asked_for() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=None)
    buf = io.BytesIO()
    capture = SerialCapture(line.a, world, buf, fcs32=True)
    capture.write(encode_frame(IP_FRAME, fcs32=True))
    capture.write(encode_frame(IP_FRAME))  # 16-bit FCS: bad under FCS-32
    assert [data for _, data in PcapReader(buf.getvalue())] == [b"\x01" + IP_FRAME]
    assert capture.bad_frames == 1


def test_refused_writes_are_not_captured() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD, tx_buffer=16)
    buf = io.BytesIO()
    capture = SerialCapture(line.a, world, buf)
    assert not capture.write(encode_frame(IP_FRAME))
    assert PcapReader(buf.getvalue()).records() == []
    assert capture.stats()["tx_refused"] == 1


def test_hangup_and_close_are_forwarded(tmp_path: Path) -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=None)
    path = tmp_path / "ppp.pcap"
    capture = SerialCapture(line.a, world, path)
    hangups: list[float] = []
    capture.set_hangup_cb(lambda: hangups.append(world.now()))
    capture.write(encode_frame(LCP_FRAME))
    line.cut()
    world.run_for(1.0)
    assert hangups == [0.0]
    assert not capture.is_open
    capture.close()
    capture.close()
    assert capture.writer.closed
    assert [data for _, data in PcapReader(path)] == [b"\x01" + LCP_FRAME]


def test_closing_the_capture_closes_the_port() -> None:
    world = World.simulated()
    line = SerialLine(world)
    peer = Peer(line.b)
    with SerialCapture(line.a, world, io.BytesIO()) as capture:
        assert capture.write(b"~")
    assert not line.a.is_open
    world.run_for(1.0)
    assert peer.hangups == 1


def test_a_shared_writer_must_be_ppp_with_direction() -> None:
    world = World.simulated()
    line = SerialLine(world)
    with pytest.raises(ValueError, match="PPP_WITH_DIR"):
        SerialCapture(line.a, world, PcapWriter(io.BytesIO(), LinkType.PPP))
    shared = PcapWriter(io.BytesIO(), LinkType.PPP_WITH_DIR)
    capture = SerialCapture(line.a, world, shared)
    capture.write(encode_frame(LCP_FRAME))
    capture.close()
    assert not shared.closed  # not ours to close
    assert shared.packets == 1


def test_captures_are_identical_from_run_to_run() -> None:
    first, second = io.BytesIO(), io.BytesIO()
    exchange(first)
    exchange(second)
    assert first.getvalue() == second.getvalue()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_decodes_the_capture_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "ppp.pcap"
    exchange(path).close()
    tshark = shutil.which("tshark")
    assert tshark is not None
    fields = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-e", "frame.protocols", "-e", "frame.p2p_dir"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\n")
    # frame.p2p_dir: 0 = sent, 1 = received (Wireshark's P2P_DIR_SENT / P2P_DIR_RECV).
    assert [line.split("\t") for line in fields if line] == [
        ["ppp:lcp", "0"],
        ["ppp:lcp", "1"],
        ["ppp:ipcp", "0"],
        ["ppp:ip:icmp:data", "0"],
        ["ppp:ip:icmp:data", "0"],
        ["ppp:ip:icmp:data", "1"],
    ]
    verbose = subprocess.run(
        [tshark, "-r", str(path), "-V"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "PPP Link Control Protocol" in verbose
    assert "PPP IP Control Protocol" in verbose
    assert "Magic Number: 0x12345678" in verbose
    assert not re.search(r"Malformed|Expert Info \((Warning|Error)", verbose)
