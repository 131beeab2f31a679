"""The stdlib's HTTPS over netstack against the kernel, through the facade's TLS.

- ``http.client.HTTPSConnection`` and ``urllib.request`` dial from a netstack node on a TAP
  (10.77.0.2, fd77::2) through the stdlib facade and its TLS to a Python ``http.server``
  wrapped with ``ssl`` on the kernel's side (10.77.0.1, fd77::1), inside the test's
  namespace;
- curl from the kernel's side downloads, with ``--cacert``, from the stdlib's
  ThreadingHTTPServer on netstack, served over the facade's TLS (server side).

Certificates come from the session's test CA (tests/tls_ca.py): its server certificate
names both sides of the TAP. netstack runs in a :class:`Runtime`, so the HTTP code is
ordinary blocking code in the test's threads.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_ipv4_kernel import OUR_IP

from conftest import serving
from netstack.socket.stdlib import Facade
from netstack.socket.stdlib_http import ThreadingHTTPServer
from netstack.socket.stdlib_tls import SSLSocket
from tls_ca import Pki

if TYPE_CHECKING:
    from conftest import TapDevice

pytestmark = pytest.mark.interop

KERNEL_IP, KERNEL_IP6 = "10.77.0.1", "fd77::1"
PORT = 8443
BIG = 2_000_000
CURL = ["curl", "--silent", "--show-error", "--noproxy", "*", "--max-time", "30"]

#: A Python HTTPS file server (dual stack) for the kernel's side: argv cert key dir port.
KERNEL_HTTPS = """
import functools, http.server, socket, ssl, sys
cert, key, root, port = sys.argv[1:]
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.socket.bind(self.server_address)
        self.server_name, self.server_port = "kernel", self.socket.getsockname()[1]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = Server(("::", int(port)), handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


@pytest.fixture
def www(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    (root / "big.bin").write_bytes(hashlib.shake_128(b"big").digest(BIG))
    (root / "hello.txt").write_text("hello over https\n")
    return root


@pytest.fixture
def kernel_https(tap: TapDevice, www: Path, pki: Pki) -> Iterator[subprocess.Popen[bytes]]:
    """The Python HTTPS server on [::]:8443 in the TAP's namespace."""
    argv = [sys.executable, "-c", KERNEL_HTTPS, str(pki.server_cert), str(pki.server_key)]
    with serving(tap, [*argv, str(www), str(PORT)], PORT, "the HTTPS server") as proc:
        yield proc


def test_https_connection_downloads_from_the_kernels_https_server(
    net: Facade, kernel_https, www: Path, pki: Pki
) -> None:
    conn = net.https_connection(KERNEL_IP, PORT, context=pki.client_context(), timeout=10)
    with contextlib.closing(conn):
        conn.request("GET", "/big.bin")
        sock = conn.sock
        assert isinstance(sock, SSLSocket)
        assert sock.getpeername() == (KERNEL_IP, PORT)
        assert sock.version() == "TLSv1.3"
        assert sock.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(
            pki.server_cert.read_text()
        )
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200
        assert int(response.getheader("Content-Length", "-1")) == BIG
        assert (
            hashlib.sha256(body).digest() == hashlib.sha256((www / "big.bin").read_bytes()).digest()
        )


def test_https_connection_refuses_the_kernel_server_without_its_ca(
    net: Facade, kernel_https, pki: Pki
) -> None:
    untrusting = ssl.create_default_context(cafile=pki.rogue_ca)
    conn = net.https_connection(KERNEL_IP, PORT, context=untrusting, timeout=10)
    with contextlib.closing(conn), pytest.raises(ssl.SSLCertVerificationError) as exc:
        conn.request("GET", "/hello.txt")
    assert exc.value.verify_code == 20  # unable to get local issuer certificate


def test_urllib_opens_https_urls_over_ipv4_and_ipv6(net: Facade, kernel_https, pki: Pki):
    opener = net.build_opener(urllib.request.ProxyHandler({}), context=pki.client_context())
    for host in (KERNEL_IP, f"[{KERNEL_IP6}]"):
        with opener.open(f"https://{host}:{PORT}/hello.txt", timeout=10) as page:
            assert (page.status, page.read()) == (200, b"hello over https\n"), host
    with pytest.raises(urllib.error.HTTPError) as missing:
        opener.open(f"https://{KERNEL_IP}:{PORT}/nope", timeout=10)
    assert missing.value.code == 404
    missing.value.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def netstack_https(net: Facade, www: Path, pki: Pki) -> Iterator[ThreadingHTTPServer]:
    """The stdlib's ThreadingHTTPServer on netstack, [::]:8443, over the facade's TLS."""
    handler = functools.partial(QuietHandler, directory=str(www))
    server = ThreadingHTTPServer(
        ("::", PORT), handler, facade=net, ssl_context=pki.server_context()
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def test_curl_downloads_over_https_from_the_stdlib_server_on_netstack(
    tap: TapDevice, netstack_https, www: Path, pki: Pki, tmp_path: Path
) -> None:
    """curl verifies netstack's server with the test CA, over IPv4 and IPv6, TLS 1.3 and
    1.2, byte-exact; without the CA it refuses the certificate."""
    cacert = ["--cacert", str(pki.ca), "-w", "%{http_code} %{ssl_verify_result}"]
    cases = [
        ([], f"https://{OUR_IP}:{PORT}/big.bin"),
        (["--tls-max", "1.2"], f"https://{OUR_IP}:{PORT}/big.bin"),
        ([], f"https://[fd77::2]:{PORT}/big.bin"),
    ]
    for i, (options, url) in enumerate(cases):
        out = tmp_path / f"{i}.out"
        result = tap.run([*CURL, *options, *cacert, "-o", str(out), url], check=False)
        assert (result.returncode, result.stdout) == (0, "200 0"), (url, result.stderr)
        assert out.read_bytes() == (www / "big.bin").read_bytes(), url
    untrusted = tap.run([*CURL, "-o", "/dev/null", f"https://{OUR_IP}:{PORT}/"], check=False)
    assert untrusted.returncode == 60, untrusted.stderr  # peer certificate not trusted
    after = tap.run([*CURL, *cacert, f"https://{OUR_IP}:{PORT}/hello.txt"], check=False)
    assert after.stdout == "hello over https\n200 0", after.stderr  # the server survived
