"""A closed-loop client for ``bench_sockets.py``: HTTP requests or TLS handshakes per second,
on the kernel's sockets or on netstack's stdlib facade, with the same client code.

    sockets_load.py kernel http HOST PORT [--seconds S]
    sockets_load.py netstack tls HOST PORT --tap NAME --netns NS --ip A.B.C.D/N --cafile CA

``http``: a new ``http.client.HTTPConnection`` per request (``GET /small.txt``, body read,
connection closed — HTTP/1.0 servers close anyway). ``tls``: connect, full TLS handshake
(no session resumption), close. Prints one JSON line: the count, the seconds and the rate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl
import sys
import time
from collections.abc import Callable
from typing import Any

SERVER_NAME = "bench.test"  # the name in the benchmark's server certificate


def kernel_dialer() -> Callable[[str, int], Any]:
    return lambda host, port: socket.create_connection((host, port), timeout=5)


def netstack_dialer(args: argparse.Namespace) -> tuple[Callable[[str, int], Any], Any]:
    from netstack.drivers.emac.tap import TapEMAC
    from netstack.interfaces.ethernet import EthernetInterface
    from netstack.runtime.bridge import Runtime
    from netstack.socket.stdlib import Facade

    runtime = Runtime(seed=1)
    address, _, prefix = args.ip.partition("/")

    def attach() -> EthernetInterface:
        emac = TapEMAC(args.tap, runtime.world, netns=args.netns)
        iface = EthernetInterface(emac, world=runtime.world)
        iface.set_network(address, int(prefix))
        return iface

    iface = runtime.call(attach)
    runtime.run(iface.connect(), timeout=10)
    net = Facade(iface, runtime)
    return (lambda host, port: net.create_connection((host, port), timeout=5)), net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", choices=("kernel", "netstack"))
    parser.add_argument("what", choices=("http", "tls"))
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--tap")
    parser.add_argument("--netns")
    parser.add_argument("--ip")
    parser.add_argument("--cafile")
    args = parser.parse_args()
    facade = None
    if args.stack == "kernel":
        dial = kernel_dialer()
    else:
        dial, facade = netstack_dialer(args)
    context = ssl.create_default_context(cafile=args.cafile) if args.what == "tls" else None

    def once() -> None:
        sock = dial(args.host, args.port)
        try:
            if args.what == "http":
                conn = http.client.HTTPConnection(args.host, args.port, timeout=5)
                conn.sock = sock  # the connection uses our dialled socket
                conn.request("GET", "/small.txt")
                response = conn.getresponse()
                body = response.read()
                if response.status != 200 or not body:
                    raise RuntimeError(f"HTTP {response.status}")
                conn.close()
            else:
                assert context is not None
                if facade is None:
                    tls = context.wrap_socket(sock, server_hostname=SERVER_NAME)
                else:
                    tls = facade.wrap_socket(sock, context, server_hostname=SERVER_NAME)
                tls.close()
        finally:
            sock.close()

    once()  # warm-up: ARP, the server's first connection
    count = 0
    start = time.perf_counter()
    deadline = start + args.seconds
    while time.perf_counter() < deadline:
        once()
        count += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"count": count, "seconds": seconds, "rate": count / seconds}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
