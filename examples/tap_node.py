"""A netstack node on a real TAP device, answering ping and UDP echo (root needed).

Set up the TAP first (the kernel side is 10.0.0.1):

    ip tuntap add dev tap0 mode tap
    ip addr add 10.0.0.1/24 dev tap0
    ip link set tap0 up

then run ``python examples/tap_node.py tap0 10.0.0.2`` and, from another shell,
``ping 10.0.0.2`` or ``echo hi | socat - UDP:10.0.0.2:7``.
"""

import asyncio
import sys

from netstack.drivers.emac.tap import TapEMAC
from netstack.interfaces import EthernetInterface
from netstack.runtime import World
from netstack.services import UdpEchoServer, ping


async def main(tap: str, address: str, seconds: float) -> None:
    world = World(asyncio.get_running_loop(), seed=1)
    iface = EthernetInterface(TapEMAC(tap, world), world=world)
    iface.set_network(address, "255.255.255.0")
    await iface.connect()
    UdpEchoServer(iface).start()
    print(f"up: {iface.ip_address} ({iface.mac_address}) on {tap}", flush=True)
    peer = address.rsplit(".", 1)[0] + ".1"
    result = await ping(iface, peer, count=3, interval=0.2)
    print("ping", peer, "->", result.summary(), flush=True)
    await asyncio.sleep(seconds)
    await iface.disconnect()


if __name__ == "__main__":
    tap_name = sys.argv[1] if len(sys.argv) > 1 else "tap0"
    addr = sys.argv[2] if len(sys.argv) > 2 else "10.0.0.2"
    duration = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    asyncio.run(main(tap_name, addr, duration))
