"""Plain http.client and urllib over netstack, through the stdlib socket facade (no root).

Two netstack nodes share a virtual switch in a real-time world whose loop runs in a
Runtime's thread. The server node runs netstack's HTTP file server; the client is the
standard library's http.client (and urllib.request), unchanged but for the socket it
dials: ``Facade.create_connection`` instead of ``socket.create_connection``.

    python examples/http_client.py
"""

import asyncio
import functools
import http.client
import socket
import tempfile
import urllib.request
from pathlib import Path

from netstack.drivers.emac.virtual import VirtualSegment
from netstack.interfaces import EthernetInterface
from netstack.runtime import Runtime
from netstack.services import HttpFileServer
from netstack.socket.stdlib import Facade


class NetstackHTTPConnection(http.client.HTTPConnection):
    """http.client's connection, dialling through a netstack Facade."""

    def __init__(self, host: str, port: int | None = None, *, net: Facade, **kwargs) -> None:
        super().__init__(host, port, **kwargs)
        self.net = net

    def connect(self) -> None:
        self.sock = self.net.create_connection(
            (self.host, self.port), self.timeout, self.source_address
        )
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NetstackHTTPHandler(urllib.request.HTTPHandler):
    """urllib's http:// handler, opening NetstackHTTPConnections."""

    def __init__(self, net: Facade) -> None:
        super().__init__()
        self.net = net

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(NetstackHTTPConnection, net=self.net), req)


def main() -> None:
    with tempfile.TemporaryDirectory() as root, Runtime(seed=1) as runtime:
        Path(root, "hello.txt").write_text("hello from a netstack HTTP server\n")

        def build() -> tuple[EthernetInterface, EthernetInterface, HttpFileServer]:
            lan = VirtualSegment(runtime.world, "lan")
            client = EthernetInterface(lan.add_port(), world=runtime.world)
            server = EthernetInterface(lan.add_port(), world=runtime.world)
            client.set_network("10.0.0.1", "255.255.255.0")
            server.set_network("10.0.0.2", "255.255.255.0")
            return client, server, HttpFileServer(server, root)

        client, server, web = runtime.call(build)
        runtime.run(client.connect(), timeout=5)
        runtime.run(server.connect(), timeout=5)
        runtime.call(web.start)
        net = Facade(client, runtime)  # the socket module's API over the client's stack

        conn = NetstackHTTPConnection("10.0.0.2", 80, net=net, timeout=5)
        conn.request("GET", "/hello.txt")
        response = conn.getresponse()
        print("http.client:", response.status, response.reason, response.getheader("Server"))
        print(response.read().decode(), end="")
        conn.close()

        opener = urllib.request.build_opener(
            NetstackHTTPHandler(net), urllib.request.ProxyHandler({})
        )
        with opener.open("http://10.0.0.2/hello.txt", timeout=5) as page:
            print("urllib:", page.status, len(page.read()), "bytes")

        runtime.call(web.stop)
        runtime.run(asyncio.sleep(0))  # let the server's cancelled tasks finish


if __name__ == "__main__":
    main()
