"""Mesh-under forwarding (RFC 4944 §11): radios in a line, each hearing only its
neighbours, form one IPv6 link; the 6LoWPAN layer carries frames across with mesh headers
and floods multicast with LOWPAN_BC0 sequence numbers. The air capture is judged by tshark.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest

from netstack.drivers.rfphy import UnitDisk, VirtualRadioMedium
from netstack.errors import NetworkTimeoutError
from netstack.interfaces.mesh import MeshInterface
from netstack.runtime.world import World
from netstack.services.echo import UdpEchoServer
from netstack.services.ping import ping
from netstack.services.tcp import TcpEchoServer
from netstack.socket import TCPSocket, UDPSocket
from netstack.stacks.mesh.lowpan import LowpanConfig
from netstack.wire.ieee802154 import FrameType, Ieee802154Frame
from netstack.wire.pcap import read_pcap
from netstack.wire.sixlowpan import LowpanHeaders

from .helpers import echo_round_trip
from .test_mesh import KEY, connect_all, link_local

SPACING = 40.0  # metres between neighbours; the unit disk reaches 50, so only neighbours hear


def line(
    count: int,
    seed: int = 1,
    *,
    mesh_hops: int = 8,
    routes: bool = True,
    capture: Path | None = None,
    key: bytes | None = None,
) -> tuple[World, VirtualRadioMedium, list[MeshInterface]]:
    """``count`` radios in a row, mesh-under, each with routes along the row."""
    world = World.simulated(seed)
    medium = VirtualRadioMedium(world, UnitDisk(50.0), capture=capture)
    nodes = [
        MeshInterface(medium.add_radio((i * SPACING, 0)), world=world, security_key=key,
                      lowpan=LowpanConfig(mesh_under=True, mesh_hops=mesh_hops))
        for i in range(count)
    ]  # fmt: skip
    if routes:
        for i, node in enumerate(nodes):
            for j, other in enumerate(nodes):
                if abs(i - j) > 1:
                    via = nodes[i + 1 if j > i else i - 1]
                    node.link.add_mesh_route(other.phy.eui64, via.phy.eui64)
    return world, medium, nodes


def finish(world: World, medium: VirtualRadioMedium) -> None:
    medium.close()
    world.close()


def test_ping_across_three_radio_hops() -> None:
    world, medium, nodes = line(4)
    first, last = nodes[0], nodes[-1]

    async def main() -> int:
        await connect_all(nodes)
        result = await ping(first, link_local(last, first), count=5, interval=0.5)
        return result.received

    assert world.run(main()) == 5
    # the two middle radios carried every echo request and reply, three hops each way
    assert nodes[1].link.counters.mesh_forwarded >= 10
    assert nodes[2].link.counters.mesh_forwarded >= 10
    assert first.link.counters.mesh_tx_frames >= 5 and last.link.counters.mesh_tx_frames >= 5
    assert first.link.counters.rx_malformed == 0
    finish(world, medium)


def test_out_of_range_without_mesh_routes() -> None:
    """The same line without routes: frames go straight to the far radio, which never
    hears them; nothing is carried by the middle."""
    world, medium, nodes = line(3, routes=False)

    async def main() -> int:
        await connect_all(nodes)
        result = await ping(nodes[0], link_local(nodes[2], nodes[0]), count=2, timeout=1)
        return result.received

    assert world.run(main()) == 0
    assert nodes[1].link.counters.mesh_forwarded == 0
    assert nodes[0].link.counters.tx_failed > 0  # no acknowledgement from out of range
    finish(world, medium)


def test_fragments_cross_the_mesh_without_reassembly_on_the_way() -> None:
    world, medium, nodes = line(3, seed=2)
    first, middle, last = nodes
    assert fragmented_echoes(nodes, world, 3) == 3
    assert first.link.stats()["reassembly_reassembled"] == 3  # the echoes, at the ends
    assert last.link.stats()["reassembly_reassembled"] == 3
    assert middle.link.stats()["reassembly_reassembled"] == 0  # fragments pass through
    assert middle.link.counters.mesh_forwarded >= 2 * 3 * 10  # ~13 fragments each way
    finish(world, medium)


def fragmented_echoes(nodes: list[MeshInterface], world: World, count: int) -> int:
    first, last = nodes[0], nodes[-1]

    async def main() -> int:
        await connect_all(nodes)
        UdpEchoServer(last).start()
        sock = UDPSocket(first)
        sock.set_timeout(5)
        payload = hashlib.shake_128(b"paced").digest(1232)
        answered = 0
        for _ in range(count):
            await sock.sendto((link_local(last, first), 7), payload)
            with contextlib.suppress(NetworkTimeoutError):
                answered += (await sock.recvfrom())[0] == payload
        sock.close()
        return answered

    return world.run(main())


@pytest.mark.parametrize("gap", [0.0, LowpanConfig().fragment_gap], ids=["back-to-back", "paced"])
def test_paced_fragments_survive_four_hops(gap: float) -> None:
    """Back to back, a source's next fragment collides at the first relay with the
    fragment the second relay is passing on (hidden from the source); the Inter-Frame Gap
    lets each fragment clear two relays first."""
    world, medium, nodes = line(5, seed=10)
    for node in nodes:
        node.link.config.fragment_gap = gap
    answered = fragmented_echoes(nodes, world, 5)
    if gap:
        assert answered == 5
    else:
        assert answered < 5
        assert sum(n.link.counters.tx_failed for n in nodes) > 0
    finish(world, medium)


def test_tcp_across_the_mesh_with_frame_security() -> None:
    world, medium, nodes = line(3, seed=3, key=KEY)
    first, middle, last = nodes

    async def main() -> bytes:
        await connect_all(nodes)
        TcpEchoServer(last).start()
        tcp = TCPSocket(first)
        tcp.set_timeout(60)
        await tcp.connect((link_local(last, first), 7))
        data = hashlib.shake_128(b"two hops").digest(10_000)
        echoed = await echo_round_trip(tcp, data)
        tcp.close()
        return echoed

    assert world.run(main()) == hashlib.shake_128(b"two hops").digest(10_000)
    assert middle.link.counters.mesh_forwarded > 0
    assert middle.mac.stats()["rx_security_failures"] == 0  # re-secured hop by hop
    finish(world, medium)


def test_multicast_is_flooded_once_to_every_node() -> None:
    world, medium, nodes = line(5, seed=4)

    async def main() -> list[list[bytes]]:
        await connect_all(nodes)
        listeners = []
        for node in nodes[1:]:
            sock = UDPSocket(node)
            sock.bind(5683)
            listeners.append(sock)
        sender = UDPSocket(nodes[0])
        for n in range(3):
            await sender.sendto((f"ff02::1%{nodes[0].netif.index}", 5683), b"flood %d" % n)
            await asyncio.sleep(1)
        got: list[list[bytes]] = []
        for sock in listeners:
            sock.set_timeout(0)
            mine = []
            while True:
                try:
                    mine.append((await sock.recvfrom())[0])
                except (NetworkTimeoutError, BlockingIOError):
                    break
            got.append(mine)
        return got

    got = world.run(main())
    # four hops to the far end; each node takes each datagram exactly once
    assert got == [[b"flood 0", b"flood 1", b"flood 2"]] * 4
    counters = [node.link.counters for node in nodes]
    assert sum(c.rx_duplicate_broadcasts for c in counters) > 0  # neighbours' re-floods
    assert nodes[0].link.counters.mesh_echoes > 0  # its own flood heard back from node 1
    assert nodes[-1].link.counters.mesh_flooded > 0  # the end re-floods too (hops remain)
    assert all(c.mesh_forwarded == 0 for c in counters)  # no unicast mesh frames here
    finish(world, medium)


def test_hops_left_runs_out() -> None:
    """Hops Left 2 covers two transmissions: one hop through the middle is fine, two
    middles are not — the second drops the frame (RFC 4944 §5.2)."""
    world, medium, nodes = line(4, seed=5, mesh_hops=2)

    async def main() -> tuple[int, int]:
        await connect_all(nodes)
        near = await ping(nodes[0], link_local(nodes[2], nodes[0]), count=2, timeout=1)
        far = await ping(nodes[0], link_local(nodes[3], nodes[0]), count=2, timeout=1)
        return near.received, far.received

    assert world.run(main()) == (2, 0)
    assert nodes[2].link.counters.mesh_hops_exceeded >= 2
    finish(world, medium)


def test_a_routing_loop_ends_with_hops_left() -> None:
    world, medium, nodes = line(3, seed=6, mesh_hops=6)
    first, middle, last = nodes
    # a wrong route on the middle radio sends the far end's frames back to the first
    middle.link.add_mesh_route(last.phy.eui64, first.phy.eui64)

    async def main() -> int:
        await connect_all(nodes)
        return (await ping(first, link_local(last, first), count=1, timeout=2)).received

    assert world.run(main()) == 0
    # first → middle → first … : the first radio sees its own frame come back
    assert first.link.counters.mesh_echoes >= 1
    finish(world, medium)


def test_without_mesh_under_frames_for_others_are_dropped_and_counted() -> None:
    world, medium, nodes = line(3, seed=7)
    nodes[1].link.config.mesh_under = False

    async def main() -> int:
        await connect_all(nodes)
        return (await ping(nodes[0], link_local(nodes[2], nodes[0]), count=2, timeout=1)).received

    assert world.run(main()) == 0
    assert nodes[1].link.counters.rx_not_for_us >= 2
    assert nodes[1].link.counters.mesh_forwarded == 0
    finish(world, medium)


def test_same_seed_same_air(tmp_path: Path) -> None:
    def air(name: str) -> bytes:
        path = tmp_path / name
        world, medium, nodes = line(3, seed=8, capture=path)

        async def main() -> None:
            await connect_all(nodes)
            await ping(nodes[0], link_local(nodes[2], nodes[0]), count=3, interval=0.2)
            await ping(nodes[0], f"ff02::1%{nodes[0].netif.index}", count=1, timeout=1)

        world.run(main())
        finish(world, medium)
        return path.read_bytes()

    first = air("one.pcap")
    assert first == air("two.pcap")
    _linktype, frames = read_pcap(tmp_path / "one.pcap")
    data = [Ieee802154Frame.parse(f) for _t, f in frames]
    meshed = [LowpanHeaders.parse(f.payload)[0].mesh for f in data
              if f.frame_type == FrameType.DATA]  # fmt: skip
    assert any(m is not None and m.final != b"\xff\xff" for m in meshed)
    assert any(m is not None and m.final == b"\xff\xff" for m in meshed)


def test_mesh_frames_decode_in_wireshark(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.fail("tshark is not installed (make system-deps installs it)")
    path = tmp_path / "mesh.pcap"
    world, medium, nodes = line(3, seed=9, capture=path)
    first, _middle, last = nodes
    payload = b"carried by the mesh"

    async def main() -> None:
        await connect_all(nodes)
        receiver = UDPSocket(last)
        receiver.bind(7000)
        receiver.set_timeout(5)
        sender = UDPSocket(first)
        sender.bind(7001)
        await sender.sendto((link_local(last, first), 7000), payload)
        await receiver.recvfrom()
        await sender.sendto((link_local(last, first), 7000), payload * 40)  # fragmented
        await receiver.recvfrom()
        await sender.sendto((f"ff02::1%{first.netif.index}", 7000), payload)  # flooded
        await receiver.recvfrom()

    world.run(main())
    finish(world, medium)
    verbose = subprocess.run([tshark, "-r", str(path), "-V"], capture_output=True, text=True,
                             timeout=60, check=True).stdout  # fmt: skip
    problems = [line.strip() for line in verbose.splitlines()
                if "Malformed" in line or "Expert Info (Warning" in line
                or "Expert Info (Error" in line]  # fmt: skip
    assert not problems, problems[:5]
    fields = ["wpan.fcs_ok", "wpan.src64", "6lowpan.mesh.orig64", "6lowpan.mesh.dest64",
              "6lowpan.mesh.dest16", "6lowpan.mesh.hops", "6lowpan.bcast.seqnum", "ipv6.src",
              "ipv6.dst", "udp.dstport", "data.data"]  # fmt: skip
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields",
                          *[a for f in fields for a in ("-e", f)]],
                         capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    rows = [dict(zip(fields, row.split("\t"), strict=False)) for row in out.splitlines()]
    assert all(r["wpan.fcs_ok"] in ("1", "True") for r in rows)
    first_ll = first.get_ipv6_link_local_address()
    last_ll = last.get_ipv6_link_local_address()
    assert first_ll is not None and last_ll is not None
    first_text = str(ipaddress.IPv6Address(first_ll.packed))
    last_text = str(ipaddress.IPv6Address(last_ll.packed))
    eui = int.from_bytes(first.phy.eui64, "big")
    udp = [r for r in rows if r["udp.dstport"] == "7000"]
    # the addresses come from the mesh header (elided in IPHC), as Wireshark derives them
    unicast = [r for r in udp if r["ipv6.dst"] == last_text]
    assert len(unicast) >= 2 * 2  # each datagram on both hops
    assert all(r["ipv6.src"] == first_text for r in unicast)
    assert all(int(r["6lowpan.mesh.orig64"], 16) == eui for r in unicast)
    # the second hop's frames come from the middle radio, the addresses still from the first
    assert {int(r["wpan.src64"].replace(":", ""), 16) for r in unicast} == {
        int.from_bytes(n.phy.eui64, "big") for n in nodes[:2]
    }
    assert {bytes.fromhex(r["data.data"]) for r in unicast} == {payload, payload * 40}
    assert {r["6lowpan.mesh.hops"] for r in unicast} == {"8", "7"}  # decremented by the middle
    flooded = [r for r in udp if r["ipv6.dst"] == "ff02::1"]
    assert flooded and all(int(r["6lowpan.mesh.dest16"], 0) == 0xFFFF for r in flooded)
    assert all(r["6lowpan.bcast.seqnum"] for r in flooded)
    assert {bytes.fromhex(r["data.data"]) for r in flooded} == {payload}


def test_bad_routes_and_settings_are_refused() -> None:
    world, medium, (node,) = line(1)
    with pytest.raises(ValueError, match="not a unicast short address"):
        node.link.add_mesh_route(0xFFFF, 0x0001)
    with pytest.raises(ValueError, match="8 bytes"):
        node.link.add_mesh_route(b"\x01\x02\x03", 0x0001)
    node.link.add_mesh_route(0x0005, bytes(8))
    assert node.link.mesh_routes == {b"\x00\x05": bytes(8)}
    node.link.remove_mesh_route(0x0005)
    assert node.link.mesh_routes == {}
    with pytest.raises(ValueError, match="mesh_hops"):
        LowpanConfig(mesh_hops=0)
    with pytest.raises(ValueError, match="fragment_gap"):
        LowpanConfig(fragment_gap=-1)
    finish(world, medium)


def test_malformed_mesh_frames_are_dropped_and_counted() -> None:
    """Frames a relay cannot parse are counted, never forwarded, never fatal."""
    world, medium, nodes = line(3, seed=11)
    first, middle, _last = nodes

    async def main() -> None:
        await connect_all(nodes)
        for junk in (b"\x80", b"\xbf\x01\x02", b"\x8f", b"\x8a" + bytes(15), b"\x50"):
            assert first.mac.data_request(middle.phy.eui64, junk)
        await asyncio.sleep(1)

    world.run(main())
    assert middle.link.counters.rx_malformed == 5
    assert middle.link.counters.mesh_forwarded == 0
    finish(world, medium)
