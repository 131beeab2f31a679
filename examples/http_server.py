"""The standard library's HTTP server on netstack, over HTTP and HTTPS (no root).

Node ``b`` (10.0.0.2) serves a folder with ``http.server``'s ThreadingHTTPServer and
SimpleHTTPRequestHandler, unchanged but for its listening socket, which comes from the
stdlib facade (``netstack.socket.stdlib_http.ThreadingHTTPServer``: ``serve_forever``
polls the facade socket's ``fileno()``). Node ``a`` (10.0.0.1) fetches from it with
``http.client`` and ``urllib.request`` through its own facade. Both nodes share a virtual
switch in a real-time world whose loop runs in a Runtime's thread; the servers and the
client are ordinary blocking code in threads of their own.

The HTTPS server is the same class with an ``ssl_context``: a throwaway CA and a
certificate for ``server.test`` (10.0.0.2) are made with the openssl command line, and the
client trusts only that CA. ``python examples/http_server.py [DIR]`` keeps them in DIR.

    python examples/http_server.py
"""

import contextlib
import functools
import http.server
import ssl
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tls_client import make_certificates  # the same throwaway CA as the TLS example

from netstack.drivers.emac.virtual import VirtualSegment
from netstack.interfaces import EthernetInterface
from netstack.runtime import Runtime
from netstack.socket.stdlib import Facade
from netstack.socket.stdlib_http import ThreadingHTTPServer


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        print(f"server: {self.client_address[0]} {format % args}")


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """``serve_forever`` in a thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def main(folder: Path) -> None:
    ca, cert, key = make_certificates(folder)
    www = folder / "www"
    www.mkdir(exist_ok=True)
    (www / "hello.txt").write_text("hello from http.server on netstack\n")

    with Runtime(seed=1) as runtime:

        def build() -> tuple[EthernetInterface, EthernetInterface]:
            lan = VirtualSegment(runtime.world, "lan")
            a = EthernetInterface(lan.add_port(), world=runtime.world)
            b = EthernetInterface(lan.add_port(), world=runtime.world)
            a.set_network("10.0.0.1", "255.255.255.0")
            b.set_network("10.0.0.2", "255.255.255.0")
            return a, b

        a, b = runtime.call(build)
        runtime.run(a.connect(), timeout=5)
        runtime.run(b.connect(), timeout=5)
        client, server = Facade(a, runtime), Facade(b, runtime)

        handler = functools.partial(Handler, directory=str(www))
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert, key)
        http_server = ThreadingHTTPServer(("10.0.0.2", 8000), handler, facade=server)
        https_server = ThreadingHTTPServer(
            ("10.0.0.2", 8443), handler, facade=server, ssl_context=server_context
        )
        with serving(http_server), serving(https_server):
            conn = client.http_connection("10.0.0.2", 8000, timeout=5)
            conn.request("GET", "/hello.txt")
            response = conn.getresponse()
            print("http.client:", response.status, response.reason, response.getheader("Server"))
            print(response.read().decode(), end="")
            conn.close()

            client_context = ssl.create_default_context(cafile=ca)  # trusts only the CA
            conn = client.https_connection("10.0.0.2", 8443, context=client_context, timeout=5)
            conn.request("GET", "/")
            version = conn.sock.version()  # the facade's SSLSocket, as ssl.SSLSocket's
            response = conn.getresponse()
            listing = response.read().decode()
            print("https:", response.status, version, "listing has hello.txt:",
                  "hello.txt" in listing)  # fmt: skip
            conn.close()

            opener = client.build_opener(urllib.request.ProxyHandler({}), context=client_context)
            with opener.open("https://10.0.0.2:8443/hello.txt", timeout=5) as page:
                print("urllib:", page.status, len(page.read()), "bytes over HTTPS")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
