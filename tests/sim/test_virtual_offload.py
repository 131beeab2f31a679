"""Checksum offload on a virtual segment: skipped work, never skipped checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

from netstack.sim import LinkParams, Network
from netstack.socket import TCPSocket
from netstack.wire.ethernet import EthernetHeader, EtherType
from netstack.wire.ipv4 import IpProto, Ipv4Header
from netstack.wire.pcap import PcapReader
from netstack.wire.tcp import TcpHeader


def transfer(net: Network, a_name: str, b_name: str, size: int) -> tuple[bytes, bytes]:
    """``a`` sends ``size`` bytes to ``b`` over TCP; returns (sent, received)."""
    a, b = net.hosts[a_name], net.hosts[b_name]
    data = hashlib.shake_128(b"offload").digest(size)

    async def main() -> bytes:
        await net.start()
        listener = TCPSocket(b)
        listener.bind(5001)
        listener.listen(1)
        client = TCPSocket(a)
        await client.connect(("10.0.0.2", 5001))
        server, _ = await listener.accept()
        await client.send(data)
        client.shutdown()
        got = bytearray()
        while chunk := await server.recv(65536):
            got += chunk
        for sock in (client, server, listener):
            sock.close()
        return bytes(got)

    return data, net.run(main())


def tcp_segments(pcap: Path) -> list[tuple[Ipv4Header, memoryview]]:
    out = []
    for _ts, frame in PcapReader(pcap):
        eth, payload = EthernetHeader.parse(frame)
        if eth.ethertype == EtherType.IPV4:
            ip, segment = Ipv4Header.parse(payload)
            if ip.proto == IpProto.TCP:
                out.append((ip, segment))
    return out


def test_offloading_nics_skip_the_sum_and_the_capture_still_shows_real_checksums(
    tmp_path: Path,
) -> None:
    net = Network(seed=3, capture_dir=tmp_path)
    try:
        lan = net.segment("lan", offload=True)
        net.host("a", lan, "10.0.0.1/24")
        net.host("b", lan, "10.0.0.2/24")
        sent, got = transfer(net, "a", "b", 300_000)
        caps = net.hosts["a"].iface.emac.capabilities
        offloaded = net.hosts["b"].iface.emac.stats["rx_csum_offloaded"]  # type: ignore[attr-defined]
    finally:
        net.close()
    assert got == sent
    assert caps.tx_checksum and caps.rx_checksum and not caps.tx_tso
    assert offloaded > 200  # b took a's data segments without summing them
    segments = tcp_segments(tmp_path / "lan.pcap")
    assert len(segments) > 200
    for ip, segment in segments:  # every checksum verifies, as on a wire
        TcpHeader.parse(segment, src=ip.src, dst=ip.dst)


def test_a_port_without_offload_gets_finished_checksums() -> None:
    net = Network(seed=4)
    try:
        lan = net.segment("lan", offload=True)
        net.host("a", lan, "10.0.0.1/24")
        b = net.host("b", lan, "10.0.0.2/24", offload=False)  # b's NIC verifies everything
        sent, got = transfer(net, "a", "b", 100_000)
        tcp_b = b.stack.stats()["tcp"]
        offloaded = b.iface.emac.stats["rx_csum_offloaded"]  # type: ignore[attr-defined]
    finally:
        net.close()
    assert got == sent
    assert tcp_b["rx_bad_checksum"] == 0 and offloaded == 0


def test_corruption_is_still_caught_with_offload() -> None:
    net = Network(seed=5)
    try:
        lan = net.segment("lan", LinkParams(corrupt=0.05), offload=True)
        net.host("a", lan, "10.0.0.1/24")
        b = net.host("b", lan, "10.0.0.2/24")
        sent, got = transfer(net, "a", "b", 200_000)
        stats = b.stack.stats()
    finally:
        net.close()
    assert got == sent
    caught = stats["tcp"]["rx_bad_checksum"] + stats["ipv4"]["rx_bad_checksum"]
    assert caught > 0
