"""The pcap writer and reader: round trips, both byte orders and resolutions, and tshark."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from netstack.wire import DecodeError
from netstack.wire.pcap import LinkType, PcapReader, PcapWriter, read_pcap

# A broadcast ARP request for 10.0.0.2 from 02:00:00:00:00:01 (built by hand, RFC 826).
ARP_REQUEST = bytes.fromhex(
    "ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002"
)


def test_global_header_is_written_at_once_and_is_little_endian_usec() -> None:
    buf = io.BytesIO()
    PcapWriter(buf, LinkType.ETHERNET)
    # magic, version 2.4, thiszone 0, sigfigs 0, snaplen 262144, linktype 1 (Ethernet)
    assert buf.getvalue() == bytes.fromhex("d4c3b2a1 0200 0400 00000000 00000000 00000400 01000000")


def test_round_trip_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "cap.pcap"
    frames = [(0.0, ARP_REQUEST), (1.5, b"\x01" * 60), (12.000001, b"\x02" * 1514)]
    with PcapWriter(path, LinkType.ETHERNET) as writer:
        for ts, data in frames:
            writer.write(ts, data)
        assert writer.packets == 3
    linktype, records = read_pcap(path)
    assert linktype == LinkType.ETHERNET
    assert [data for _, data in records] == [data for _, data in frames]
    assert [ts for ts, _ in records] == pytest.approx([ts for ts, _ in frames], abs=1e-6)
    reader = PcapReader(path)
    assert reader.nanoseconds is False
    assert reader.snaplen == 262144


def test_round_trip_nanoseconds_keeps_nanosecond_timestamps() -> None:
    buf = io.BytesIO()
    writer = PcapWriter(buf, LinkType.RAW, nanoseconds=True)
    writer.write(3.000000007, b"\x45" + bytes(19))
    writer.close()
    data = buf.getvalue()
    assert data[:4] == struct.pack("<I", 0xA1B23C4D)
    # Record header: 3 s and 7 ns exactly.
    assert struct.unpack_from("<IIII", data, 24) == (3, 7, 20, 20)
    reader = PcapReader(data)
    assert reader.nanoseconds is True
    assert reader.linktype == LinkType.RAW
    [(ts, frame)] = list(reader)
    assert ts == pytest.approx(3.000000007, abs=1e-10)
    assert frame == b"\x45" + bytes(19)


def test_timestamps_are_rounded_not_truncated() -> None:
    buf = io.BytesIO()
    writer = PcapWriter(buf, LinkType.ETHERNET)
    # 0.1 + 0.2 = 0.30000000000000004 and 0.29999999999999999 must both give 300000 us.
    writer.write(0.1 + 0.2, b"a")
    writer.write(0.29999999999999999, b"b")
    writer.write(0.9999997, b"c")  # rounds up into the next second
    data = buf.getvalue()
    assert struct.unpack_from("<II", data, 24) == (0, 300000)
    assert struct.unpack_from("<II", data, 24 + 17) == (0, 300000)
    assert struct.unpack_from("<II", data, 24 + 34) == (1, 0)


def test_snaplen_truncates_and_keeps_original_length() -> None:
    buf = io.BytesIO()
    writer = PcapWriter(buf, LinkType.ETHERNET, snaplen=64)
    writer.write(0.0, bytes(range(200)))
    data = buf.getvalue()
    assert struct.unpack_from("<IIII", data, 24)[2:] == (64, 200)
    [(_, frame)] = list(PcapReader(data))
    assert frame == bytes(range(64))


def test_identical_clocks_give_identical_bytes() -> None:
    def capture() -> bytes:
        buf = io.BytesIO()
        writer = PcapWriter(buf, LinkType.ETHERNET)
        t = 0.0
        for i in range(100):
            t += 0.001
            writer.write(t, bytes([i]) * 60)
        return buf.getvalue()

    assert capture() == capture()


def _big_endian_file(nanoseconds: bool) -> bytes:
    """A big-endian pcap built by hand, as written on a SPARC or by a BE libpcap."""
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = struct.pack(">IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    out += struct.pack(">IIII", 10, 250, len(ARP_REQUEST), len(ARP_REQUEST)) + ARP_REQUEST
    out += struct.pack(">IIII", 11, 0, 4, 60) + b"\xde\xad\xbe\xef"
    return out


@pytest.mark.parametrize("nanoseconds", [False, True])
def test_reads_big_endian_files(nanoseconds: bool) -> None:
    reader = PcapReader(_big_endian_file(nanoseconds))
    assert reader.byteorder == "big"
    assert reader.linktype == LinkType.ETHERNET
    assert reader.snaplen == 65535
    assert reader.nanoseconds is nanoseconds
    records = list(reader)
    frac = 250e-9 if nanoseconds else 250e-6
    assert records[0][0] == pytest.approx(10 + frac)
    assert records[0][1] == ARP_REQUEST
    assert records[1] == (11.0, b"\xde\xad\xbe\xef")


def test_reads_from_a_file_object() -> None:
    reader = PcapReader(io.BytesIO(_big_endian_file(False)))
    assert len(list(reader)) == 2


def test_bad_magic_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        PcapReader(b"\x0a\x0d\x0d\x0a" + bytes(20))  # a pcapng section header


def test_every_truncation_raises_decode_error_and_nothing_else() -> None:
    data = _big_endian_file(False)
    record_boundaries = {24, 24 + 16 + len(ARP_REQUEST), len(data)}
    for cut in range(len(data)):
        if cut in record_boundaries:
            assert len(list(PcapReader(data[:cut]))) >= 0
            continue
        with pytest.raises(DecodeError):
            list(PcapReader(data[:cut]))


def test_absurd_record_length_raises_decode_error() -> None:
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    data += struct.pack("<IIII", 0, 0, 0xFFFFFFFF, 0xFFFFFFFF)
    with pytest.raises(DecodeError):
        list(PcapReader(data))


def test_write_after_close_and_negative_timestamps_are_rejected() -> None:
    writer = PcapWriter(io.BytesIO(), LinkType.ETHERNET)
    with pytest.raises(ValueError):
        writer.write(-1.0, b"x")
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError):
        writer.write(0.0, b"x")


def test_writer_leaves_a_caller_s_file_object_open() -> None:
    buf = io.BytesIO()
    PcapWriter(buf, LinkType.ETHERNET).close()
    assert not buf.closed


def test_tshark_reads_a_file_we_wrote(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    assert tshark is not None, "tshark is a test dependency (make system-deps installs it)"
    path = tmp_path / "cap.pcap"
    with PcapWriter(path, LinkType.ETHERNET, nanoseconds=True) as writer:
        writer.write(1.0, ARP_REQUEST)
        writer.write(1.25, ARP_REQUEST + bytes(18))
    out = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-e", "frame.len", "-e", "arp.dst.proto_ipv4"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.split("\n")[:2] == ["42\t10.0.0.2", "60\t10.0.0.2"]
