"""Dial-up in simulation: a modem on a 115200-baud line calls a netstack "ISP".

The ISP authenticates the caller with CHAP, hands it an address from its pool and a DNS
server, and routes for it to a web host on its LAN. Everything runs in virtual time, no
root; the line has bit errors, which PPP's FCS catches and TCP repairs.
"""

import hashlib
import sys

from netstack.services.ping import ping
from netstack.services.tcp import TcpEchoServer
from netstack.sim import Network
from netstack.socket import TCPSocket


async def main(net: Network) -> None:
    dial = net.dialups[0]
    await net.start()
    modem = dial.client
    dns = ", ".join(d.ip for d in modem.get_dns_servers())
    print(f"modem: {modem.ip_address} via {modem.gateway}, dns {dns}, "
          f"authenticated as {dial.server.peer_name!r} at t={net.now():.3f} s")  # fmt: skip
    result = await ping(modem, "10.1.0.2", count=3, interval=0.5)
    print(f"ping web: {result.summary()}")
    TcpEchoServer(net.hosts["web"].stack).start()
    sock = TCPSocket(modem.stack)
    await sock.connect(("10.1.0.2", 7))
    data = hashlib.shake_128(b"dial-up").digest(50_000)
    start = net.now()
    await sock.send(data)
    echoed = b""
    while len(echoed) < len(data):
        echoed += await sock.recv(65536)
    seconds = net.now() - start
    sock.close()
    stats = modem.link.stats()
    print(f"echoed {len(echoed)} bytes intact: {echoed == data}, {seconds:.1f} s simulated, "
          f"{len(data) / seconds:.0f} B/s each way on a 11520 B/s line; "
          f"{stats['rx_bad_fcs']} frames failed their FCS")  # fmt: skip
    await modem.disconnect()
    print(f"hung up: isp pool has {dial.server.ppp.config.pool.in_use} addresses in use")  # type: ignore[union-attr]


if __name__ == "__main__":
    net = Network(seed=1, capture_dir=sys.argv[1] if len(sys.argv) > 1 else None)
    lan = net.segment("lan")
    isp = net.router("isp", [(lan, "10.1.0.1/24")])
    net.host("web", lan, "10.1.0.2/24", gateway="10.1.0.1")
    net.dialup("modem", isp, dns=("10.1.0.53",), auth="chap", secrets={"alice": "wonderland"},
               user="alice", password="wonderland", bit_error_rate=1e-5)  # fmt: skip
    with net:
        net.run(main(net))
