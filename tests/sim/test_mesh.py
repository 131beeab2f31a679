"""IPv6 over 6LoWPAN over 802.15.4 on the virtual radio medium: the mesh stack's bottom
half, with the Socket API unchanged on top."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from pathlib import Path

import pytest

from netstack.drivers.rfphy import UnitDisk, VirtualRadioMedium
from netstack.errors import NetworkTimeoutError
from netstack.interfaces.base import ConnectionStatus
from netstack.interfaces.mesh import MeshInterface
from netstack.runtime.world import World
from netstack.services.echo import UdpEchoServer
from netstack.services.ping import ping
from netstack.services.tcp import TcpEchoServer
from netstack.socket import TCPSocket, UDPSocket
from netstack.stacks.mesh.lowpan import mac_for_iid
from netstack.wire.pcap import read_pcap
from netstack.wire.sixlowpan import LowpanContext

from .helpers import echo_round_trip

KEY = bytes(range(16))


def radios(
    seed: int = 1,
    *,
    loss: float = 0.0,
    positions: tuple[tuple[float, float], ...] = ((0, 0), (30, 0)),
    capture: Path | None = None,
    keys: tuple[bytes | None, ...] | None = None,
) -> tuple[World, VirtualRadioMedium, list[MeshInterface]]:
    world = World.simulated(seed)
    medium = VirtualRadioMedium(world, UnitDisk(50.0, loss=loss), capture=capture)
    nodes = []
    for i, position in enumerate(positions):
        key = keys[i] if keys is not None else None
        nodes.append(MeshInterface(medium.add_radio(position), world=world, security_key=key))
    return world, medium, nodes


def link_local(node: MeshInterface, via: MeshInterface) -> str:
    """``node``'s link-local address with ``via``'s scope, for ``via``'s sockets."""
    address = node.get_ipv6_link_local_address()
    assert address is not None
    return f"{ipaddress.IPv6Address(address.packed)}%{via.netif.index}"


async def connect_all(nodes: list[MeshInterface]) -> None:
    await asyncio.gather(*(n.connect() for n in nodes))


def test_two_radio_neighbours_ping_over_link_local_addresses() -> None:
    world, medium, (a, b) = radios()

    async def main() -> None:
        await connect_all([a, b])
        assert a.status == ConnectionStatus.LOCAL_UP
        mine = a.get_ipv6_link_local_address()
        assert mine is not None
        # the link-local address is the radio's EUI-64 with the U/L bit flipped (RFC 4944 §6)
        assert mac_for_iid(mine.packed[8:]) == a.phy.eui64
        result = await ping(a, link_local(b, a), count=4, interval=0.5)
        assert result.received == 4

    world.run(main())
    stats = a.link.stats()
    assert stats["rx_datagrams"] >= 4 and stats["rx_malformed"] == 0
    medium.close()
    world.close()


def test_udp_and_tcp_work_unchanged_over_the_radio() -> None:
    world, medium, (a, b) = radios(seed=2)

    async def main() -> None:
        await connect_all([a, b])
        UdpEchoServer(b).start()
        sock = UDPSocket(a)
        sock.set_timeout(5)
        await sock.sendto((link_local(b, a), 7), b"over 6lowpan")
        assert (await sock.recvfrom())[0] == b"over 6lowpan"
        sock.close()
        TcpEchoServer(b).start()
        tcp = TCPSocket(a)
        tcp.set_timeout(60)
        await tcp.connect((link_local(b, a), 7))
        data = hashlib.shake_128(b"radio").digest(20_000)
        assert await echo_round_trip(tcp, data) == data
        tcp.close()

    world.run(main())
    assert a.link.stats()["tx_fragmented"] > 0  # TCP's segments fill 1280-byte datagrams
    medium.close()
    world.close()


def test_a_1280_byte_datagram_is_fragmented_and_reassembled_under_ten_percent_loss() -> None:
    world, medium, (a, b) = radios(seed=3, loss=0.10)

    async def main() -> int:
        await connect_all([a, b])
        UdpEchoServer(b).start()
        sock = UDPSocket(a)
        sock.set_timeout(3)
        payload = hashlib.shake_128(b"1280").digest(1280 - 48)  # a full IPv6 MTU
        answered = 0
        for _ in range(10):
            await sock.sendto((link_local(b, a), 7), payload)
            try:
                data, _peer = await sock.recvfrom()
            except NetworkTimeoutError:
                continue
            assert data == payload
            answered += 1
        sock.close()
        return answered

    answered = world.run(main())
    # each 1280-byte datagram is ~13 frames each way; the MAC's retries recover the losses
    assert answered >= 8
    stats_a, stats_b = a.link.stats(), b.link.stats()
    assert stats_b["reassembly_reassembled"] >= 8 and stats_a["reassembly_reassembled"] >= 8
    assert stats_a["mac_tx_retries"] + stats_b["mac_tx_retries"] > 0
    medium.close()
    world.close()


def test_context_based_compression_with_a_shared_context() -> None:
    from netstack.stacks.mesh.lowpan import LowpanConfig

    world = World.simulated(4)
    medium = VirtualRadioMedium(world, UnitDisk(50.0))
    contexts = {0: LowpanContext.from_string("2001:db8:1::/64")}
    a, b = (MeshInterface(medium.add_radio((x, 0)), world=world,
                          lowpan=LowpanConfig(contexts=contexts)) for x in (0, 20))  # fmt: skip

    async def main() -> None:
        await connect_all([a, b])
        for node in (a, b):
            assert node.netif.ip6 is not None
            iid = node.link.hwaddr
            node.netif.ip6.add_static(
                b"\x20\x01\x0d\xb8\x00\x01\0\0" + bytes((iid[0] ^ 2,)) + iid[1:], 64
            )
        target = b.netif.ip6.static  # type: ignore[union-attr]
        address = ipaddress.IPv6Address(next(iter(target)))
        assert (await ping(a, str(address), count=2, interval=0.3)).received == 2

    world.run(main())
    medium.close()
    world.close()


def test_secured_link_works_and_a_node_with_the_wrong_key_cannot_talk() -> None:
    world, medium, (a, b, c) = radios(
        seed=5, positions=((0, 0), (20, 0), (10, 10)), keys=(KEY, KEY, bytes(16))
    )

    async def main() -> tuple[int, int]:
        await connect_all([a, b, c])
        good = await ping(a, link_local(b, a), count=3, interval=0.3)
        bad = await ping(c, link_local(a, c), count=3, interval=0.3, timeout=1)
        return good.received, bad.received

    good, bad = world.run(main())
    assert good == 3 and bad == 0
    assert a.link.stats()["mac_rx_security_failures"] > 0
    medium.close()
    world.close()


def test_same_seed_same_air(tmp_path: Path) -> None:
    def run(seed: int, name: str) -> bytes:
        path = tmp_path / f"{name}.pcap"
        world, medium, (a, b) = radios(seed, capture=path)

        async def main() -> None:
            await connect_all([a, b])
            await ping(a, link_local(b, a), count=3, interval=0.2, size=200)

        world.run(main())
        medium.close()
        world.close()
        return path.read_bytes()

    first, again, other = run(7, "one"), run(7, "two"), run(8, "three")
    assert first == again and first != other
    linktype, frames = read_pcap(tmp_path / "one.pcap")
    assert linktype == 195 and len(frames) > 10


@pytest.mark.parametrize("size", [40, 200, 1000])
def test_ping_sizes_with_and_without_fragmentation(size: int) -> None:
    world, medium, (a, b) = radios(seed=6)

    async def main() -> int:
        await connect_all([a, b])
        return (await ping(a, link_local(b, a), count=2, interval=0.3, size=size)).received

    assert world.run(main()) == 2
    medium.close()
    world.close()
