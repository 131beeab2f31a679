"""Two hosts on a simulated switch: UDP echo in virtual time (runs as written, no root)."""

from netstack.drivers.emac.virtual import VirtualSegment
from netstack.interfaces import EthernetInterface
from netstack.runtime import World
from netstack.services import UdpEchoServer
from netstack.socket import UDPSocket


async def main(world: World) -> bytes:
    lan = VirtualSegment(world, "lan")
    client = EthernetInterface(lan.add_port(), world=world)
    server = EthernetInterface(lan.add_port(), world=world)
    client.set_network("10.0.0.1", "255.255.255.0")
    server.set_network("10.0.0.2", "255.255.255.0")
    await client.connect()
    await server.connect()
    UdpEchoServer(server).start()  # RFC 862, port 7

    sock = UDPSocket(client)
    sock.set_timeout(1.0)
    await sock.sendto(("10.0.0.2", 7), b"hello, netstack")
    data, peer = await sock.recvfrom()
    print(f"{peer} echoed {data!r} at t={world.now() * 1e3:.3f} ms (simulated)")
    return data


if __name__ == "__main__":
    world = World.simulated(seed=1)
    world.run(main(world))
