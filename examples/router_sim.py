"""Two subnets joined by a netstack router; ping and fragmented UDP across it, with pcaps."""

import sys
import tempfile
from pathlib import Path

from netstack.services import UdpEchoServer, ping
from netstack.sim import LinkParams, Network
from netstack.socket import UDPSocket


def main(out: Path) -> None:
    net = Network(seed=42, capture_dir=out)
    office = net.segment("office", LinkParams(latency=50e-6, bandwidth=100e6))
    lab = net.segment("lab", LinkParams(latency=2e-3, bandwidth=10e6, loss=0.01))
    laptop = net.host("laptop", office, "10.0.0.10/24", gateway="10.0.0.1")
    net.router("router", [(office, "10.0.0.1/24"), (lab, "10.9.0.1/24")])
    server = net.host("server", lab, "10.9.0.5/24", gateway="10.9.0.1")

    async def scenario() -> None:
        await net.start()
        UdpEchoServer(server).start()
        result = await ping(laptop, "10.9.0.5", count=5, interval=0.2)
        print("ping:", result.summary())
        sock = UDPSocket(laptop)
        sock.set_timeout(1.0)
        for attempt in range(1, 6):  # the lab link loses 1% of frames: retry like a client
            await sock.sendto(("10.9.0.5", 7), bytes(5000))  # four fragments each way
            try:
                data = await sock.recv()
            except TimeoutError:
                continue
            print(f"echoed {len(data)} bytes across the router (attempt {attempt})")
            break

    net.run(scenario())
    net.close()
    print("captures:", ", ".join(str(p) for p in sorted(out.glob("*.pcap"))))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
