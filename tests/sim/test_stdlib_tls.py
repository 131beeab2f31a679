"""TLS in the stdlib facade, held to the real thing: every test body below runs twice, with
the :mod:`ssl` module over the kernel's loopback (``SSLContext.wrap_socket``) and with
:meth:`Facade.wrap_socket` between two netstack nodes on a virtual switch in a real-time
:class:`Runtime` world, so a behaviour that differs fails one of the two.

Certificates come from the session's test CA (tests/tls_ca.py); clients check the name
``server.test`` (the kernel's loopback is not in the certificate). The last tests are the
facade's own: ``http.client``/``urllib`` over HTTPS against the stdlib's HTTP server on a
facade socket, and what only netstack's TLS socket does (close_notify on close).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import selectors
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netstack.interfaces import EthernetInterface
from netstack.runtime import Runtime
from netstack.socket.stdlib import Facade
from netstack.socket.stdlib_http import ThreadingHTTPServer
from netstack.socket.stdlib_tls import SSLSocket
from tls_ca import SERVER_NAME, Pki

from .helpers import runtime_pair

AF_INET, AF_INET6 = socket.AF_INET, socket.AF_INET6
FAMILIES = [pytest.param(AF_INET, id="ipv4"), pytest.param(AF_INET6, id="ipv6")]
WAIT = 5.0  # every blocking call in these tests is bounded: a hang is a failure


@dataclass
class Env:
    """One side of the comparison: where sockets come from, and how they get TLS."""

    name: str
    server: Any  # the socket module, or a Facade
    client: Any
    server_hosts: dict[int, str]
    wrap: Callable[..., Any]  # (sock, context, **wrap_socket's keywords) -> TLS socket

    def server_host(self, family: int) -> str:
        return self.server_hosts[family]


def kernel_wrap(sock: socket.socket, context: ssl.SSLContext, **kwargs: Any) -> ssl.SSLSocket:
    return context.wrap_socket(sock, **kwargs)


KERNEL = Env("kernel", socket, socket, {AF_INET: "127.0.0.1", AF_INET6: "::1"}, kernel_wrap)


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[Runtime, EthernetInterface, EthernetInterface]]:
    """Client 10.0.0.1/2001:db8::1 and server 10.0.0.2/2001:db8::2 (the addresses of the
    test certificate) on one virtual switch, in a real-time world in a Runtime's thread."""
    runtime, a, b = runtime_pair(11, "2001:db8::", WAIT)
    try:
        yield runtime, a, b
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def netstack_env(nodes: tuple[Runtime, EthernetInterface, EthernetInterface]) -> Env:
    runtime, a, b = nodes
    server, client = Facade(b, runtime), Facade(a, runtime)
    return Env(
        "netstack", server, client, {AF_INET: "10.0.0.2", AF_INET6: "2001:db8::2"},
        client.wrap_socket,
    )  # fmt: skip


@pytest.fixture(params=["kernel", "netstack"])
def env(request: pytest.FixtureRequest) -> Env:
    if request.param == "kernel":
        return KERNEL
    netstack: Env = request.getfixturevalue("netstack_env")
    return netstack


@pytest.fixture
def closing() -> Iterator[Callable[[Any], Any]]:
    """``closing(sock)`` returns ``sock`` and closes it after the test, pass or fail."""
    with contextlib.ExitStack() as stack:

        def register(sock: Any) -> Any:
            stack.callback(sock.close)
            return sock

        yield register


class Background:
    """Run ``fn`` in a thread: ``result()`` joins it and returns (or raises) what it did."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._outcome: list[Any] = []

        def run() -> None:
            try:
                self._outcome.append((True, fn()))
            except BaseException as exc:
                self._outcome.append((False, exc))

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self) -> Any:
        self._thread.join(WAIT * 2)
        assert not self._thread.is_alive(), "the background call never returned"
        ok, value = self._outcome[0]
        if not ok:
            raise value
        return value


def tls_listener(
    env: Env, closing: Callable[[Any], Any], context: ssl.SSLContext, family: int = AF_INET
) -> Any:
    """A listening socket wrapped for TLS: ``accept()`` returns TLS sockets."""
    sock = closing(env.server.socket(family, socket.SOCK_STREAM))
    sock.bind((env.server_host(family), 0))
    sock.listen()
    sock.settimeout(WAIT)
    return closing(env.wrap(sock, context, server_side=True))


def tls_pair(
    env: Env,
    closing: Callable[[Any], Any],
    pki: Pki,
    *,
    family: int = AF_INET,
    client_context: ssl.SSLContext | None = None,
    server_context: ssl.SSLContext | None = None,
    **client_options: Any,
) -> tuple[Any, Any]:
    """(client, server-side connection) of one TLS connection, handshakes done."""
    listener = tls_listener(env, closing, server_context or pki.server_context(), family)
    accepting = Background(listener.accept)
    client = tls_client(
        env, closing, listener.getsockname(), client_context or pki, **client_options
    )
    conn, _peer = accepting.result()
    conn.settimeout(WAIT)
    return client, closing(conn)


def tls_client(
    env: Env,
    closing: Callable[[Any], Any],
    address: tuple[Any, ...],
    context: ssl.SSLContext | Pki,
    **options: Any,
) -> Any:
    if isinstance(context, Pki):
        context = context.client_context()
    options.setdefault("server_hostname", SERVER_NAME)
    sock = closing(env.client.create_connection(address[:2], timeout=WAIT))
    return closing(env.wrap(sock, context, **options))


def read_to_eof(sock: Any) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def recv_all(sock: Any, size: int) -> bytes:
    got = b""
    while len(got) < size and (chunk := sock.recv(size - len(got))):
        got += chunk
    return got


# -- handshake and data ------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_handshake_and_data_both_ways(env: Env, closing, pki: Pki, family: int) -> None:
    client, conn = tls_pair(env, closing, pki, family=family)
    client.sendall(b"ping over tls")
    assert recv_all(conn, 13) == b"ping over tls"
    assert conn.send(b"pong") == 4
    assert recv_all(client, 4) == b"pong"

    assert client.version() == conn.version() == "TLSv1.3"
    assert client.cipher()[0].startswith("TLS_") and client.cipher() == conn.cipher()
    assert (client.server_side, conn.server_side) == (False, True)
    assert (client.server_hostname, conn.server_hostname) == (SERVER_NAME, None)
    assert dict(client.getpeercert()["subject"][0]) == {"commonName": SERVER_NAME}
    der = ssl.PEM_cert_to_DER_cert(pki.server_cert.read_text())
    assert client.getpeercert(binary_form=True) == der
    assert conn.getpeercert() is None  # no client certificate asked for
    assert client.getpeername()[:2] == conn.getsockname()[:2]
    assert client.selected_alpn_protocol() is None
    assert client.pending() == 0


def test_wrapping_takes_the_socket_over(env: Env, closing, pki: Pki) -> None:
    listener = tls_listener(env, closing, pki.server_context())
    accepting = Background(listener.accept)
    sock = closing(env.client.create_connection(listener.getsockname()[:2], timeout=WAIT))
    descriptor = sock.fileno()
    client = closing(env.wrap(sock, pki.client_context(), server_hostname=SERVER_NAME))
    closing(accepting.result()[0])
    assert sock.fileno() == -1  # detached
    assert client.fileno() == descriptor
    assert client.gettimeout() == WAIT  # the socket's timeout carries over
    with pytest.raises(OSError):
        sock.send(b"x")


def test_sendall_of_1_mb_each_way_arrives_byte_exact(env: Env, closing, pki: Pki) -> None:
    client, conn = tls_pair(env, closing, pki)
    up = hashlib.shake_128(b"up").digest(1_000_000)
    down = hashlib.shake_128(b"down").digest(1_000_000)

    def serve() -> bytes:
        got = recv_all(conn, len(up))
        conn.sendall(down)
        return got

    serving = Background(serve)
    client.sendall(up)
    assert recv_all(client, len(down)) == down
    assert serving.result() == up


def test_makefile_reads_lines(env: Env, closing, pki: Pki) -> None:
    client, conn = tls_pair(env, closing, pki)
    with conn.makefile("wb") as out:
        out.write(b"first line\nsecond line\nrest")
    conn.close()
    binary = client.makefile("rb")
    text = client.makefile("r", encoding="ascii", newline="")
    client.close()  # the files keep it open
    assert binary.readline() == b"first line\n"
    assert binary.read() == b"second line\nrest"
    binary.close()
    assert text.read() == ""  # the end stays the end
    text.close()
    assert client.fileno() == -1


def test_unconnected_socket_handshakes_in_connect(env: Env, closing, pki: Pki) -> None:
    listener = tls_listener(env, closing, pki.server_context())
    accepting = Background(listener.accept)
    raw = env.client.socket(AF_INET, socket.SOCK_STREAM)
    raw.settimeout(WAIT)
    client = closing(env.wrap(raw, pki.client_context(), server_hostname=SERVER_NAME))
    assert client.version() is None and client.cipher() is None
    with pytest.raises(OSError):
        client.getpeercert()  # not connected
    client.connect(listener.getsockname()[:2])
    conn = closing(accepting.result()[0])
    assert client.version() == "TLSv1.3"
    client.sendall(b"after connect")
    assert recv_all(conn, 13) == b"after connect"
    with pytest.raises(ValueError, match="already-connected"):
        client.connect(listener.getsockname()[:2])


# -- verification ------------------------------------------------------------------------------
def test_wrong_hostname_raises_cert_verification_error(env: Env, closing, pki: Pki) -> None:
    listener = tls_listener(env, closing, pki.server_context())
    accepting = Background(listener.accept)
    with pytest.raises(ssl.SSLCertVerificationError) as exc:
        tls_client(env, closing, listener.getsockname(), pki, server_hostname="wrong.test")
    assert exc.value.verify_code == 62  # X509_V_ERR_HOSTNAME_MISMATCH
    assert "Hostname mismatch" in exc.value.verify_message
    with pytest.raises(ssl.SSLError):  # the client's alert ends the server's handshake
        accepting.result()


def test_untrusted_ca_raises_cert_verification_error(env: Env, closing, pki: Pki) -> None:
    rogue = pki.server_context(cert=pki.rogue_cert, key=pki.rogue_key)
    listener = tls_listener(env, closing, rogue)
    accepting = Background(listener.accept)
    with pytest.raises(ssl.SSLCertVerificationError) as exc:
        tls_client(env, closing, listener.getsockname(), pki)
    assert exc.value.verify_code == 20  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    with pytest.raises(ssl.SSLError):
        accepting.result()


def test_check_hostname_requires_a_server_hostname(env: Env, closing, pki: Pki) -> None:
    sock = closing(env.client.socket(AF_INET, socket.SOCK_STREAM))
    with pytest.raises(ValueError, match="server_hostname"):
        env.wrap(sock, pki.client_context())
    with pytest.raises(ValueError, match="server_hostname"):
        env.wrap(sock, pki.server_context(), server_side=True, server_hostname="x.test")


def test_a_required_client_certificate_missing_fails_the_clients_first_read(
    env: Env, closing, pki: Pki
) -> None:
    """TLS 1.3: the client's handshake is done before the server checks its certificate;
    the server's alert shows at the client's next read."""
    listener = tls_listener(env, closing, pki.server_context(require_client_cert=True))
    accepting = Background(listener.accept)
    client = tls_client(env, closing, listener.getsockname(), pki)
    with pytest.raises(ssl.SSLError):
        accepting.result()
    with pytest.raises(ssl.SSLError) as exc:
        client.recv(10)
    assert not isinstance(exc.value, ssl.SSLCertVerificationError)


def test_client_certificate_is_seen_by_the_server(env: Env, closing, pki: Pki) -> None:
    client, conn = tls_pair(
        env, closing, pki,
        client_context=pki.client_context(with_cert=True),
        server_context=pki.server_context(require_client_cert=True),
    )  # fmt: skip
    client.sendall(b"me")
    assert recv_all(conn, 2) == b"me"
    assert dict(conn.getpeercert()["subject"][0]) == {"commonName": "client.test"}


# -- negotiation -------------------------------------------------------------------------------
def test_alpn_selects_the_servers_choice(env: Env, closing, pki: Pki) -> None:
    client_context, server_context = pki.client_context(), pki.server_context()
    client_context.set_alpn_protocols(["h2", "http/1.1"])
    server_context.set_alpn_protocols(["http/1.1"])
    client, conn = tls_pair(
        env, closing, pki, client_context=client_context, server_context=server_context
    )
    assert client.selected_alpn_protocol() == conn.selected_alpn_protocol() == "http/1.1"


def test_a_session_resumes_with_the_same_context(env: Env, closing, pki: Pki) -> None:
    server_context = pki.server_context()
    listener = tls_listener(env, closing, server_context)
    context = pki.client_context()
    reused, session = [], None
    for _ in range(2):
        accepting = Background(listener.accept)
        client = tls_client(env, closing, listener.getsockname(), context, session=session)
        conn = closing(accepting.result()[0])
        conn.sendall(b"ticket first")  # TLS 1.3: the tickets come before this
        assert recv_all(client, 12) == b"ticket first"
        session = client.session
        assert session is not None and session.has_ticket
        reused.append(client.session_reused)
    assert reused == [False, True]


# -- timeouts, non-blocking, readiness ------------------------------------------------------------
def test_timeouts_raise_timeout_error_and_leave_the_socket_usable(env: Env, closing, pki: Pki):
    client, conn = tls_pair(env, closing, pki)
    client.settimeout(0.2)
    with pytest.raises(TimeoutError):
        client.recv(10)
    conn.sendall(b"late")
    client.settimeout(WAIT)
    assert recv_all(client, 4) == b"late"


def test_non_blocking_reads_want_read_until_the_selector_says_readable(
    env: Env, closing, pki: Pki
) -> None:
    client, conn = tls_pair(env, closing, pki)
    client.setblocking(False)
    with pytest.raises(ssl.SSLWantReadError):
        client.recv(10)
    sel = closing(selectors.DefaultSelector())
    sel.register(client, selectors.EVENT_READ)
    assert sel.select(timeout=0) == []
    conn.sendall(b"a" * 1000 + b"b" * 1000)
    got = b""
    while len(got) < 2000:  # in pieces: the stdlib's descriptor does not poll readable for
        if not client.pending():  # a record already decrypted, so pending() comes first
            assert sel.select(timeout=WAIT), "never readable"
        try:
            got += client.recv(700)
        except ssl.SSLWantReadError:
            continue  # readiness may be stale (a partial record), as on any selector loop
    assert got == b"a" * 1000 + b"b" * 1000
    assert client.pending() == 0


def test_decrypted_data_keeps_the_descriptor_readable(netstack_env: Env, closing, pki: Pki) -> None:
    """Better than ssl.SSLSocket: what is decrypted already polls as readable."""
    client, conn = tls_pair(netstack_env, closing, pki)
    client.setblocking(False)
    sel = closing(selectors.DefaultSelector())
    sel.register(client, selectors.EVENT_READ)
    conn.sendall(bytes(3000))  # one record
    got = 0
    while not got:  # (the session tickets may make it readable first)
        assert sel.select(timeout=WAIT)
        with contextlib.suppress(ssl.SSLWantReadError):
            got += len(client.recv(1000))
    while got < 3000:  # the rest of the record is decrypted: readable with TCP empty
        assert client.pending() and sel.select(timeout=0), f"unreadable after {got} bytes"
        got += len(client.recv(1000))
    assert client.pending() == 0
    assert sel.select(timeout=0.05) == []  # nothing left to read


def test_non_blocking_handshake_driven_by_a_selector(env: Env, closing, pki: Pki) -> None:
    listener = tls_listener(env, closing, pki.server_context())

    def serve() -> Any:
        with pytest.raises((ssl.SSLError, OSError)):
            listener.accept()  # the first client is closed, refused a blocking handshake
        return closing(listener.accept()[0])

    accepting = Background(serve)
    sock = closing(env.client.create_connection(listener.getsockname()[:2], timeout=WAIT))
    sock.setblocking(False)
    with pytest.raises(ValueError, match="non-blocking"):
        env.wrap(sock, pki.client_context(), server_hostname=SERVER_NAME)
    assert sock.fileno() == -1  # taken over, then closed
    sock = closing(env.client.create_connection(listener.getsockname()[:2], timeout=WAIT))
    sock.setblocking(False)
    client = closing(
        env.wrap(
            sock, pki.client_context(), server_hostname=SERVER_NAME,
            do_handshake_on_connect=False,
        )
    )  # fmt: skip
    sel = closing(selectors.DefaultSelector())
    sel.register(client, selectors.EVENT_READ)
    while True:
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            assert sel.select(timeout=WAIT), "the handshake stalled"
    assert client.version() == "TLSv1.3" and client.gettimeout() == 0
    conn = accepting.result()
    conn.sendall(b"done")
    got = b""
    while not got:  # (the session tickets may make it readable first)
        assert sel.select(timeout=WAIT), "never readable"
        with contextlib.suppress(ssl.SSLWantReadError):
            got = client.recv(4)
    assert got == b"done"


# -- closing -------------------------------------------------------------------------------------
def test_unwrap_exchanges_close_notify_and_leaves_plain_tcp(env: Env, closing, pki: Pki) -> None:
    client, conn = tls_pair(env, closing, pki)

    def server_unwraps() -> bytes:
        plain = conn.unwrap()  # close_notify, then waits for the client's
        plain.sendall(b"plain again")
        return recv_all(plain, 5)

    unwrapping = Background(server_unwraps)
    assert client.recv(100) == b""  # the server's close_notify
    plain = client.unwrap()  # ours back: both sides are done with TLS
    assert recv_all(plain, 11) == b"plain again"
    plain.sendall(b"clear")
    assert unwrapping.result() == b"clear"
    assert plain.version() is None
    with pytest.raises(ValueError):
        plain.unwrap()


def test_close_of_the_peer_reads_as_end_of_stream(env: Env, closing, pki: Pki) -> None:
    client, conn = tls_pair(env, closing, pki)
    conn.sendall(b"last words")
    conn.close()
    assert read_to_eof(client) == b"last words"
    assert client.recv(10) == b""


def test_server_side_shutdown_then_close_ends_the_clients_stream(
    env: Env, closing, pki: Pki
) -> None:
    """What socketserver does after each request: shutdown(SHUT_WR), then close."""
    client, conn = tls_pair(env, closing, pki)
    conn.sendall(b"response")
    conn.shutdown(socket.SHUT_WR)
    conn.close()
    assert read_to_eof(client) == b"response"


# -- the facade's own --------------------------------------------------------------------------
def test_close_sends_close_notify(netstack_env: Env, closing, pki: Pki) -> None:
    """Unlike ssl.SSLSocket, close() says goodbye: a peer that does not suppress ragged
    EOFs still reads a clean end."""
    client, conn = tls_pair(netstack_env, closing, pki, suppress_ragged_eofs=False)
    conn.sendall(b"bye")
    conn.close()
    assert read_to_eof(client) == b"bye"


def test_shutdown_sends_close_notify_and_keeps_reading(netstack_env: Env, closing, pki: Pki):
    """Unlike ssl.SSLSocket (which drops TLS and sends a bare FIN), a TLS half-close: the
    peer reads the end of the request, and its reply still arrives decrypted."""
    client, conn = tls_pair(netstack_env, closing, pki, suppress_ragged_eofs=False)
    client.sendall(b"request")
    client.shutdown(socket.SHUT_WR)
    with pytest.raises(BrokenPipeError):
        client.send(b"more")
    assert read_to_eof(conn) == b"request"
    conn.sendall(b"reply")
    conn.close()
    assert read_to_eof(client) == b"reply"


def test_ip_literal_server_hostname_is_checked_against_the_certificates_addresses(
    netstack_env: Env, closing, pki: Pki
) -> None:
    listener = tls_listener(netstack_env, closing, pki.server_context())
    accepting = Background(listener.accept)
    client = tls_client(
        netstack_env, closing, listener.getsockname(), pki, server_hostname="10.0.0.2"
    )
    closing(accepting.result()[0])
    assert isinstance(client, SSLSocket) and client.version() == "TLSv1.3"
    accepting = Background(listener.accept)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_client(netstack_env, closing, listener.getsockname(), pki, server_hostname="10.0.0.9")
    with pytest.raises(ssl.SSLError):
        accepting.result()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def https_server(
    nodes: tuple[Runtime, EthernetInterface, EthernetInterface], pki: Pki, tmp_path: Path
) -> Iterator[tuple[ThreadingHTTPServer, Path]]:
    """The stdlib's ThreadingHTTPServer + SimpleHTTPRequestHandler serving ``tmp_path`` over
    HTTPS from node b (10.0.0.2), on a facade socket wrapped for TLS."""
    runtime, _a, b = nodes
    (tmp_path / "hello.txt").write_text("hello over https\n")
    (tmp_path / "big.bin").write_bytes(hashlib.shake_128(b"big").digest(300_000))

    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(
        ("10.0.0.2", 0), handler, facade=Facade(b, runtime), ssl_context=pki.server_context()
    )
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        yield server, tmp_path
    finally:
        server.shutdown()
        serving.join(WAIT)
        server.server_close()


def test_https_connection_gets_from_the_stdlib_http_server_over_netstack(
    nodes, https_server, pki: Pki
) -> None:
    runtime, a, _b = nodes
    server, root = https_server
    net = Facade(a, runtime)
    conn = net.https_connection("10.0.0.2", server.server_port, context=pki.client_context())
    with contextlib.closing(conn):
        conn.request("GET", "/big.bin")
        assert isinstance(conn.sock, SSLSocket)
        assert conn.sock.version() == "TLSv1.3"
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == (root / "big.bin").read_bytes()
        conn.request("GET", "/hello.txt")  # HTTP/1.0 server: a new connection
        assert conn.getresponse().read() == b"hello over https\n"


def test_urllib_opens_https_urls_and_refuses_an_untrusted_server(
    nodes, https_server, pki: Pki
) -> None:
    runtime, a, _b = nodes
    server, _root = https_server
    net = Facade(a, runtime)
    url = f"https://10.0.0.2:{server.server_port}/hello.txt"
    opener = net.build_opener(urllib.request.ProxyHandler({}), context=pki.client_context())
    with opener.open(url, timeout=WAIT) as page:
        assert (page.status, page.read()) == (200, b"hello over https\n")
    with pytest.raises(urllib.error.HTTPError) as missing:
        opener.open(f"https://10.0.0.2:{server.server_port}/nope", timeout=WAIT)
    assert missing.value.code == 404
    missing.value.close()
    untrusting = net.build_opener(
        urllib.request.ProxyHandler({}),
        context=ssl.create_default_context(cafile=pki.rogue_ca),
    )
    with pytest.raises(urllib.error.URLError) as refused:
        untrusting.open(url, timeout=WAIT)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)


def test_http_connection_and_urllib_over_plain_http(nodes, tmp_path: Path) -> None:
    runtime, a, b = nodes
    (tmp_path / "plain.txt").write_text("plain http\n")
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("::", 0), handler, facade=Facade(b, runtime))  # dual stack
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        net = Facade(a, runtime)
        conn = net.http_connection("10.0.0.2", server.server_port, timeout=WAIT)
        with contextlib.closing(conn):
            conn.request("GET", "/plain.txt")
            assert conn.getresponse().read() == b"plain http\n"
        opener = net.build_opener(urllib.request.ProxyHandler({}))
        url = f"http://[2001:db8::2]:{server.server_port}/plain.txt"
        with opener.open(url, timeout=WAIT) as page:
            assert page.read() == b"plain http\n"
    finally:
        server.shutdown()
        serving.join(WAIT)
        server.server_close()


def test_tls_calls_that_may_wait_refuse_the_loop_thread(
    nodes, netstack_env: Env, closing, pki: Pki
) -> None:
    runtime = nodes[0]
    client, _conn = tls_pair(netstack_env, closing, pki)
    with pytest.raises(RuntimeError, match="deadlock"):
        runtime.call(lambda: client.recv(1))
    client.setblocking(False)
    with pytest.raises(ssl.SSLWantReadError):  # what never waits may run on the loop
        runtime.call(lambda: client.recv(1))


def test_an_unconnected_tls_socket_acts_as_the_plain_one(netstack_env: Env, closing, pki: Pki):
    sock = closing(netstack_env.client.socket(AF_INET, socket.SOCK_STREAM))
    tls = closing(netstack_env.wrap(sock, pki.client_context(), server_hostname=SERVER_NAME))
    with pytest.raises(TypeError):
        SSLSocket()
    with pytest.raises(OSError):  # not connected: the plain socket's ENOTCONN
        tls.recv(1)
    assert tls.pending() == 0 and tls.session is None and tls.session_reused is None
    with pytest.raises(ValueError, match="unwrapped"):
        tls.read(1)
