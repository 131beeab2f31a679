"""Unmodified stdlib HTTP clients over netstack against the kernel: ``http.client`` and
``urllib.request`` dial through the stdlib socket facade from a netstack node on a TAP
(10.77.0.2, fd77::2) to ``python3 -m http.server`` on the kernel's side of it
(10.77.0.1, fd77::1), inside the test's namespace.

netstack runs in a :class:`Runtime` (its loop in the bridge's thread), so the HTTP clients
are ordinary blocking code in the test's thread.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import serving
from netstack.socket.stdlib import Facade

if TYPE_CHECKING:
    from conftest import TapDevice

pytestmark = pytest.mark.interop

PORT = 8000
BIG = 2_000_000


class NetstackHTTPConnection(http.client.HTTPConnection):
    """http.client's connection, dialling through a netstack Facade."""

    def __init__(self, host: str, port: int | None = None, *, net: Facade, **kwargs: Any):
        super().__init__(host, port, **kwargs)
        self.net = net

    def connect(self) -> None:
        self.sock = self.net.create_connection(
            (self.host, self.port), self.timeout, self.source_address
        )
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NetstackHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, net: Facade) -> None:
        super().__init__()
        self.net = net

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(NetstackHTTPConnection, net=self.net), req)


@pytest.fixture
def www(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    (root / "big.bin").write_bytes(hashlib.shake_128(b"big").digest(BIG))
    (root / "hello.txt").write_text("hello from the kernel\n")
    return root


@pytest.fixture
def http_server(tap: TapDevice, www: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python3 -m http.server`` on [::]:8000 (dual stack) in the TAP's namespace."""
    argv = [sys.executable, "-m", "http.server", "--bind", "::", "--directory", str(www)]
    with serving(tap, [*argv, str(PORT)], PORT, "http.server") as proc:
        yield proc


def test_http_client_gets_from_the_kernels_http_server(net: Facade, http_server, www: Path):
    conn = NetstackHTTPConnection("10.77.0.1", PORT, net=net, timeout=10)
    with contextlib.closing(conn):
        conn.request("GET", "/big.bin")
        assert conn.sock is not None and conn.sock.getpeername() == ("10.77.0.1", PORT)
        response = conn.getresponse()  # closes conn.sock (Connection: close); the response
        body = response.read()  # reads on through its makefile(), which keeps it open
        assert response.status == 200
        assert int(response.getheader("Content-Length", "-1")) == BIG
        assert (
            hashlib.sha256(body).digest()
            == hashlib.sha256(www.joinpath("big.bin").read_bytes()).digest()
        )

    conn = NetstackHTTPConnection("10.77.0.1", PORT, net=net, timeout=10)
    with contextlib.closing(conn):
        conn.request("HEAD", "/missing")
        assert conn.getresponse().status == 404


def test_urllib_opens_urls_over_ipv4_and_ipv6(net: Facade, http_server) -> None:
    opener = urllib.request.build_opener(NetstackHTTPHandler(net), urllib.request.ProxyHandler({}))
    for url in (f"http://10.77.0.1:{PORT}/hello.txt", f"http://[fd77::1]:{PORT}/hello.txt"):
        with opener.open(url, timeout=10) as page:
            assert (page.status, page.read()) == (200, b"hello from the kernel\n"), url
    with pytest.raises(urllib.error.HTTPError) as exc:
        opener.open(f"http://10.77.0.1:{PORT}/nope", timeout=10)
    assert exc.value.code == 404
    exc.value.close()
