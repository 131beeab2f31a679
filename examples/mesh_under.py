"""Mesh-under forwarding in simulation: four radios in a row, one IPv6 link.

Radios 40 m apart with a 50 m range each hear only their neighbours. With
``LowpanConfig(mesh_under=True)`` and a route per far radio (next hop: the neighbour in
its direction), the 6LoWPAN layer carries frames along the row in mesh headers (RFC 4944
§11): the ends ping each other's link-local addresses three radio hops apart, a 1024-byte
UDP datagram crosses fragment by fragment, and a multicast to ff02::1 is flooded to
every radio once. Pass a folder to get ``air.pcap`` (Wireshark shows the mesh headers).
"""

import asyncio
import ipaddress
import sys

from netstack.drivers.rfphy import UnitDisk, VirtualRadioMedium
from netstack.interfaces.mesh import MeshInterface
from netstack.runtime.world import World
from netstack.services.echo import UdpEchoServer
from netstack.services.ping import ping
from netstack.socket import UDPSocket
from netstack.stacks.mesh.lowpan import LowpanConfig


def build(world: World, air: VirtualRadioMedium, count: int) -> list[MeshInterface]:
    radios = [
        MeshInterface(air.add_radio((40.0 * i, 0)), world=world,
                      lowpan=LowpanConfig(mesh_under=True))
        for i in range(count)
    ]  # fmt: skip
    for i, radio in enumerate(radios):
        for j, other in enumerate(radios):
            if abs(i - j) > 1:  # out of range: through the neighbour on that side
                via = radios[i + 1 if j > i else i - 1]
                radio.link.add_mesh_route(other.phy.eui64, via.phy.eui64)
    return radios


async def main(world: World, radios: list[MeshInterface]) -> None:
    await asyncio.gather(*(r.connect() for r in radios))
    first, last = radios[0], radios[-1]
    address = last.get_ipv6_link_local_address()
    assert address is not None
    target = f"{ipaddress.IPv6Address(address.packed)}%{first.netif.index}"
    result = await ping(first, target, count=3, interval=0.5)
    print(f"ping {target} across {len(radios) - 1} hops: {result.summary()}")

    UdpEchoServer(last).start()
    sock = UDPSocket(first)
    sock.set_timeout(5)
    datagram = bytes(range(256)) * 4
    await sock.sendto((target, 7), datagram)
    echoed, _peer = await sock.recvfrom()
    print(f"udp echo of {len(datagram)} bytes intact: {echoed == datagram}")

    listeners = []
    for radio in radios[1:]:
        listener = UDPSocket(radio)
        listener.bind(5683)
        listener.set_timeout(2)
        listeners.append(listener)
    await sock.sendto((f"ff02::1%{first.netif.index}", 5683), b"to all")
    heard = [(await listener.recvfrom())[0] == b"to all" for listener in listeners]
    print(f"ff02::1 flood heard by {sum(heard)} of {len(listeners)} radios")
    for i, radio in enumerate(radios):
        c = radio.link.counters
        print(f"radio {i}: forwarded {c.mesh_forwarded}, flooded {c.mesh_flooded}, "
              f"duplicates dropped {c.rx_duplicate_broadcasts}")  # fmt: skip


if __name__ == "__main__":
    world = World.simulated(seed=1)
    capture = f"{sys.argv[1]}/air.pcap" if len(sys.argv) > 1 else None
    air = VirtualRadioMedium(world, UnitDisk(50.0), capture=capture)
    radios = build(world, air, 4)
    world.run(main(world, radios))
    air.close()
    world.close()
