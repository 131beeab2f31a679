"""The stdlib socket facade, held to the real thing: every test body below runs three times, on
the :mod:`socket` module over the kernel's loopback (127.0.0.1 / ::1) and on
:class:`netstack.socket.stdlib.Facade` between two netstack nodes on a virtual switch in a
real-time :class:`Runtime` world, and once more between two netstack nodes joined by PPP on
a simulated serial line, so a behaviour that differs fails one of them.

A test names its server side ``env.server`` and its client side ``env.client``: the socket
module for both on the kernel, a facade per node on netstack. The last tests are the
facade's own (DNS through the stack's resolver, the loop-thread guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import hashlib
import ipaddress
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from netstack.drivers.serial import SerialLine
from netstack.interfaces import EthernetInterface
from netstack.interfaces.ppp import PPPInterface
from netstack.runtime import Runtime
from netstack.services import DnsServer
from netstack.socket.stdlib import Facade

from .helpers import runtime_pair

AF_INET, AF_INET6 = socket.AF_INET, socket.AF_INET6
FAMILIES = [pytest.param(AF_INET, id="ipv4"), pytest.param(AF_INET6, id="ipv6")]
WAIT = 5.0  # every blocking call in these tests is bounded: a hang is a failure


@dataclass
class Env:
    """One side of the comparison: where servers and clients get their sockets."""

    name: str
    server: Any  # the socket module, or a Facade
    client: Any
    server_hosts: dict[int, str]
    client_hosts: dict[int, str]

    def server_host(self, family: int) -> str:
        return self.server_hosts[family]

    def client_host(self, family: int) -> str:
        return self.client_hosts[family]


KERNEL = Env(
    "kernel",
    socket,
    socket,
    {AF_INET: "127.0.0.1", AF_INET6: "::1"},
    {AF_INET: "127.0.0.1", AF_INET6: "::1"},
)


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[Runtime, EthernetInterface, EthernetInterface]]:
    """Two netstack nodes (10.0.0.1/fd00::1 and 10.0.0.2/fd00::2) on one virtual switch, in
    a real-time world whose loop runs in the Runtime's thread."""
    runtime, a, b = runtime_pair(7, "fd00::", WAIT)
    try:
        yield runtime, a, b
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def netstack_env(nodes: tuple[Runtime, EthernetInterface, EthernetInterface]) -> Env:
    runtime, a, b = nodes
    return Env(
        "netstack",
        Facade(b, runtime),
        Facade(a, runtime),
        {AF_INET: "10.0.0.2", AF_INET6: "fd00::2"},
        {AF_INET: "10.0.0.1", AF_INET6: "fd00::1"},
    )


@pytest.fixture(scope="module")
def ppp_env() -> Iterator[Env]:
    """The same two nodes' roles over PPP instead of Ethernet: a PPP server (10.0.1.1) and
    a client it gives 10.0.1.2, on a simulated serial cable, in a real-time world; IPV6CP
    too, and fd01::1/64 and fd01::2/64 beside the link-local addresses it gives."""
    runtime = Runtime(seed=9)

    def build() -> tuple[PPPInterface, PPPInterface]:
        line = SerialLine(runtime.world, baudrate=None)
        server = PPPInterface.server(line.b, world=runtime.world, local="10.0.1.1",
                                     pool="10.0.1.2", ipv6=True)  # fmt: skip
        return server, PPPInterface(line.a, world=runtime.world, ipv6=True)

    server, client = runtime.call(build)
    try:

        async def connect() -> None:
            await asyncio.gather(server.connect(), client.connect())
            for iface, n in ((server, 1), (client, 2)):
                await iface.wait_for_ipv6_address(global_address=False, timeout=WAIT)
                assert iface.netif.ip6 is not None
                iface.netif.ip6.add_static(ipaddress.IPv6Address(f"fd01::{n}").packed, 64)

        runtime.run(connect(), timeout=WAIT)
        yield Env("netstack-ppp", Facade(server, runtime), Facade(client, runtime),
                  {AF_INET: "10.0.1.1", AF_INET6: "fd01::1"},
                  {AF_INET: "10.0.1.2", AF_INET6: "fd01::2"})  # fmt: skip
    finally:
        runtime.close()


@pytest.fixture(params=["kernel", "netstack", "netstack-ppp"])
def env(request: pytest.FixtureRequest) -> Env:
    """The kernel, netstack over Ethernet, netstack over PPP."""
    if request.param == "kernel":
        return KERNEL
    fixture = "netstack_env" if request.param == "netstack" else "ppp_env"
    netstack: Env = request.getfixturevalue(fixture)
    return netstack


@pytest.fixture
def closing() -> Iterator[Callable[[Any], Any]]:
    """``closing(sock)`` returns ``sock`` and closes it after the test, pass or fail."""
    with contextlib.ExitStack() as stack:

        def register(sock: Any) -> Any:
            stack.callback(sock.close)
            return sock

        yield register


def listener(env: Env, closing: Callable[[Any], Any], family: int = AF_INET) -> Any:
    sock = closing(env.server.socket(family, socket.SOCK_STREAM))
    sock.bind((env.server_host(family), 0))
    sock.listen()
    return sock


def connected(env: Env, closing: Callable[[Any], Any], family: int = AF_INET) -> tuple[Any, Any]:
    """(client, server-side connection) of one TCP connection."""
    server = listener(env, closing, family)
    client = closing(env.client.create_connection(server.getsockname()[:2], timeout=WAIT))
    server.settimeout(WAIT)
    conn, _peer = server.accept()
    conn.settimeout(WAIT)
    return client, closing(conn)


def recv_all(sock: Any, size: int) -> bytes:
    """Exactly ``size`` bytes (fewer only at end of stream)."""
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_to_eof(sock: Any) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def closed_port(env: Env, kind: int = socket.SOCK_STREAM, family: int = AF_INET) -> int:
    """A port nothing listens on: bound once, then released."""
    with env.server.socket(family, kind) as sock:
        sock.bind((env.server_host(family), 0))
        port: int = sock.getsockname()[1]
    return port


# -- TCP ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_tcp_echo_round_trip_and_address_shapes(env: Env, closing, family: int) -> None:
    server = listener(env, closing, family)
    host, port = env.server_host(family), server.getsockname()[1]
    client = closing(env.client.socket(family, socket.SOCK_STREAM))
    client.settimeout(WAIT)
    client.connect((host, port))
    server.settimeout(WAIT)
    conn, peer = server.accept()
    closing(conn)

    client.sendall(b"ping")
    assert recv_all(conn, 4) == b"ping"
    conn.sendall(b"pong")
    assert recv_all(client, 4) == b"pong"

    shape = (host, port) if family == AF_INET else (host, port, 0, 0)
    assert client.getpeername() == shape
    assert conn.getsockname() == shape
    assert peer == client.getsockname() == conn.getpeername()
    assert peer[0] == env.client_host(family)
    assert (client.family, client.type, conn.family, conn.type) == (
        family, socket.SOCK_STREAM, family, socket.SOCK_STREAM,
    )  # fmt: skip
    assert f"raddr={shape}" in repr(client)


def test_fresh_sockets_report_the_wildcard_and_no_peer(env: Env, closing) -> None:
    v4 = closing(env.client.socket(AF_INET, socket.SOCK_STREAM))
    v6 = closing(env.client.socket(AF_INET6, socket.SOCK_DGRAM))
    assert v4.getsockname() == ("0.0.0.0", 0)
    assert v6.getsockname() == ("::", 0, 0, 0)
    for sock in (v4, v6):
        with pytest.raises(OSError) as exc:
            sock.getpeername()
        assert exc.value.errno == errno.ENOTCONN
    with pytest.raises(OSError) as exc:
        v4.recv(1)
    assert exc.value.errno == errno.ENOTCONN
    with pytest.raises(BrokenPipeError):
        v4.send(b"x")


def test_half_close_delivers_eof_after_the_data_and_the_reply_still_flows(env: Env, closing):
    client, conn = connected(env, closing)
    client.sendall(b"request")
    client.shutdown(socket.SHUT_WR)
    with pytest.raises(BrokenPipeError):
        client.send(b"more")
    assert read_to_eof(conn) == b"request"
    assert conn.recv(10) == b""  # end of stream stays
    conn.sendall(b"reply")
    conn.close()
    assert read_to_eof(client) == b"reply"


def test_recv_into_and_recvfrom_fill_caller_buffers(env: Env, closing) -> None:
    client, conn = connected(env, closing)
    conn.sendall(b"0123456789")
    buf = bytearray(8)
    n = client.recv_into(buf, 3)
    assert 1 <= n <= 3 and buf[:n] == b"0123456789"[:n]
    got = bytes(buf[:n])
    view = memoryview(bytearray(16))
    while len(got) < 10:
        n = client.recv_into(view[4:])
        got += bytes(view[4 : 4 + n])
    assert got == b"0123456789"
    with pytest.raises(ValueError):
        client.recv_into(bytearray(2), 5)
    conn.sendall(b"stream")
    data, sender = client.recvfrom(100)
    assert sender is None and b"stream".startswith(data)


def test_sendall_of_4_mb_arrives_byte_exact(env: Env, closing) -> None:
    client, conn = connected(env, closing)
    data = hashlib.shake_128(b"bulk").digest(4_000_000)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_to_eof(conn)))
    reader.start()
    client.sendall(data)
    client.shutdown(socket.SHUT_WR)
    reader.join(30)
    assert not reader.is_alive()
    assert hashlib.sha256(received[0]).digest() == hashlib.sha256(data).digest()


def test_timeouts_raise_timeout_error_and_leave_the_socket_usable(env: Env, closing) -> None:
    client, conn = connected(env, closing)
    client.settimeout(0.2)
    assert client.gettimeout() == 0.2 and client.getblocking()
    with pytest.raises(socket.timeout) as exc:
        client.recv(10)
    assert str(exc.value) == "timed out"
    conn.sendall(b"late")
    client.settimeout(WAIT)
    assert recv_all(client, 4) == b"late"
    server = listener(env, closing)
    server.settimeout(0.2)
    with pytest.raises(TimeoutError):
        server.accept()
    with pytest.raises(ValueError):
        client.settimeout(-1)


def test_accepted_sockets_take_the_default_timeout(env: Env, closing) -> None:
    server = listener(env, closing)
    server.settimeout(WAIT)
    closing(env.client.create_connection(server.getsockname()[:2], timeout=WAIT))
    conn, _ = server.accept()
    closing(conn)
    assert conn.gettimeout() is None and conn.getblocking()


def test_non_blocking_calls_raise_blocking_io_error(env: Env, closing) -> None:
    client, _conn = connected(env, closing)
    client.setblocking(False)
    assert client.gettimeout() == 0.0 and not client.getblocking()
    with pytest.raises(BlockingIOError) as exc:
        client.recv(10)
    assert exc.value.errno == errno.EAGAIN
    server = listener(env, closing)
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.accept()


def test_a_full_send_buffer_blocks_until_the_peer_reads(env: Env, closing) -> None:
    client, conn = connected(env, closing)
    client.setblocking(False)
    sel = closing(selectors.DefaultSelector())
    sel.register(client, selectors.EVENT_WRITE)
    chunk, queued = bytes(65536), 0
    # nobody reads: send until the buffers stay full (on a slow link our buffer first
    # drains into the peer's window, so a first EAGAIN may not last)
    for _ in range(2000):
        try:
            queued += client.send(chunk)
        except BlockingIOError:
            if not sel.select(timeout=0.5):
                break
    else:
        pytest.fail("the send buffer never filled")
    assert sel.select(timeout=0) == []
    drained = 0
    while not sel.select(timeout=0):
        assert drained < queued, "writable again before the peer read everything"
        drained += len(conn.recv(65536))
    assert client.send(b"x") == 1


def test_connect_to_a_closed_port_is_refused(env: Env, closing) -> None:
    port = closed_port(env)
    host = env.server_host(AF_INET)
    with pytest.raises(ConnectionRefusedError):
        env.client.create_connection((host, port), timeout=WAIT)
    sock = closing(env.client.socket(AF_INET, socket.SOCK_STREAM))
    sock.settimeout(WAIT)
    assert sock.connect_ex((host, port)) == errno.ECONNREFUSED


def test_non_blocking_connect_completes_or_fails_through_the_selector(env: Env, closing):
    server = listener(env, closing)
    sel = closing(selectors.DefaultSelector())
    good = closing(env.client.socket(AF_INET, socket.SOCK_STREAM))
    bad = closing(env.client.socket(AF_INET, socket.SOCK_STREAM))
    for sock, port in ((good, server.getsockname()[1]), (bad, closed_port(env))):
        sock.setblocking(False)
        assert sock.connect_ex((env.server_host(AF_INET), port)) == errno.EINPROGRESS
        sel.register(sock, selectors.EVENT_WRITE)
    outcome: dict[Any, int] = {}
    while len(outcome) < 2:
        events = sel.select(timeout=WAIT)
        assert events, "a connect never completed"
        for key, _mask in events:
            outcome[key.fileobj] = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sel.unregister(key.fileobj)
    assert outcome == {good: 0, bad: errno.ECONNREFUSED}
    assert bad.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0  # reported once
    good.setblocking(True)
    good.sendall(b"connected")


def test_dual_stack_server_sees_ipv4_peers_as_mapped_addresses(env: Env, closing) -> None:
    server = closing(env.server.create_server(("::", 0), family=AF_INET6, dualstack_ipv6=True))
    server.settimeout(WAIT)
    port = server.getsockname()[1]
    client = closing(env.client.create_connection((env.server_host(AF_INET), port), WAIT))
    conn, peer = server.accept()
    closing(conn)
    assert peer == (f"::ffff:{env.client_host(AF_INET)}", client.getsockname()[1], 0, 0)
    assert conn.getsockname() == (f"::ffff:{env.server_host(AF_INET)}", port, 0, 0)


# -- UDP ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_udp_sendto_recvfrom_and_recvfrom_into(env: Env, closing, family: int) -> None:
    host = env.server_host(family)
    server = closing(env.server.socket(family, socket.SOCK_DGRAM))
    server.bind((host, 0))
    server.settimeout(WAIT)
    client = closing(env.client.socket(family, socket.SOCK_DGRAM))
    client.settimeout(WAIT)
    assert client.sendto(b"datagram one", server.getsockname()) == 12
    data, peer = server.recvfrom(100)
    assert data == b"datagram one"
    assert peer[0] == env.client_host(family) and peer[1] == client.getsockname()[1]
    assert len(peer) == (2 if family == AF_INET else 4)
    server.sendto(b"reply", peer)
    buf = bytearray(64)
    n, sender = client.recvfrom_into(buf)
    assert (bytes(buf[:n]), sender) == (b"reply", server.getsockname())
    client.sendto(b"truncated datagram", server.getsockname())
    assert server.recv(9) == b"truncated"  # the rest of the datagram is gone
    with pytest.raises(OSError) as exc:
        client.sendto(bytes(70000), server.getsockname())
    assert exc.value.errno == errno.EMSGSIZE


def test_connected_udp_sends_to_its_peer_and_learns_of_a_closed_port(env: Env, closing):
    host = env.server_host(AF_INET)
    server = closing(env.server.socket(AF_INET, socket.SOCK_DGRAM))
    server.bind((host, 0))
    server.settimeout(WAIT)
    client = closing(env.client.socket(AF_INET, socket.SOCK_DGRAM))
    client.settimeout(WAIT)
    with pytest.raises(OSError) as exc:
        client.send(b"nowhere")
    assert exc.value.errno == errno.EDESTADDRREQ
    client.connect(server.getsockname())
    assert client.getpeername() == server.getsockname()
    client.send(b"connected")
    assert server.recv(100) == b"connected"

    lonely = closing(env.client.socket(AF_INET, socket.SOCK_DGRAM))
    lonely.settimeout(WAIT)
    lonely.connect((host, closed_port(env, socket.SOCK_DGRAM)))
    lonely.send(b"anyone?")
    with pytest.raises(ConnectionRefusedError):  # the ICMP port unreachable, as Linux
        lonely.recv(100)


def test_udp_non_blocking_and_timeout(env: Env, closing) -> None:
    sock = closing(env.client.socket(AF_INET, socket.SOCK_DGRAM))
    sock.bind((env.client_host(AF_INET), 0))
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recvfrom(10)
    sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        sock.recvfrom(10)


# -- options, files, lifecycle -------------------------------------------------------------------
def test_socket_options_round_trip(env: Env, closing) -> None:
    tcp = closing(env.client.socket(AF_INET, socket.SOCK_STREAM))
    udp = closing(env.client.socket(AF_INET, socket.SOCK_DGRAM))
    for level, option, value in [
        (socket.SOL_SOCKET, socket.SO_REUSEADDR, 1),
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30),
        (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5),
        (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 4),
    ]:
        assert tcp.getsockopt(level, option) in (0, 7200, 75, 9), (level, option)  # defaults
        tcp.setsockopt(level, option, value)
        assert tcp.getsockopt(level, option) == value, (level, option)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 5))
    assert struct.unpack("ii", tcp.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)) == (1, 5)
    assert tcp.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER) == 1  # l_onoff, as Linux
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    assert tcp.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 65536  # Linux doubles it
    assert tcp.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
    assert tcp.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    assert len(tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 4)) == 4
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    assert udp.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 1
    udp.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 7)
    assert udp.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 7
    for sock, level, option in [
        (tcp, socket.SOL_SOCKET, 9999),  # unknown
        (udp, socket.IPPROTO_TCP, socket.TCP_NODELAY),  # a TCP option on UDP
    ]:
        with pytest.raises(OSError) as exc:
            sock.setsockopt(level, option, 1)
        assert exc.value.errno == errno.ENOPROTOOPT


def test_makefile_reads_lines_and_outlives_close(env: Env, closing) -> None:
    client, conn = connected(env, closing)
    with conn.makefile("wb") as out:
        out.write(b"first line\nsecond line\n")
    text = client.makefile("r", encoding="ascii", newline="")
    binary = client.makefile("rb")
    client.close()  # the files keep the socket open (http.client relies on this)
    assert client.fileno() != -1
    assert binary.readline() == b"first line\n"
    conn.close()
    assert binary.read() == b"second line\n"
    binary.close()
    assert client.fileno() != -1  # the text file is still open
    text.close()
    assert client.fileno() == -1


def test_context_manager_closes_the_socket(env: Env) -> None:
    with env.client.socket(AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.fileno() >= 0
    assert sock.fileno() == -1
    assert "[closed]" in repr(sock)
    with pytest.raises(OSError) as exc:
        sock.recv(1)
    assert exc.value.errno == errno.EBADF
    sock.close()  # closing twice is fine


def test_selector_serves_50_connections_at_once(env: Env, closing) -> None:
    server = listener(env, closing)
    server.setblocking(False)
    sel = closing(selectors.DefaultSelector())
    sel.register(server, selectors.EVENT_READ, "listener")
    address = server.getsockname()[:2]
    clients = [closing(env.client.create_connection(address, WAIT)) for _ in range(50)]
    for i, client in enumerate(clients):
        client.sendall(b"hello %d\n" % i)
        client.shutdown(socket.SHUT_WR)
    replies = 0
    while replies < 50:  # an event loop: accept, read a line, answer it upper-case, close
        events = sel.select(timeout=WAIT)
        assert events, f"stalled after {replies} replies"
        for key, _mask in events:
            if key.data == "listener":
                conn, _ = server.accept()
                conn.setblocking(False)
                sel.register(closing(conn), selectors.EVENT_READ, bytearray())
                continue
            try:
                chunk = key.fileobj.recv(4096)
            except BlockingIOError:
                continue  # readiness may be stale, as on any selector loop
            if chunk:
                key.data.extend(chunk)
                continue
            sel.unregister(key.fileobj)
            key.fileobj.setblocking(True)
            key.fileobj.sendall(bytes(key.data).upper())
            key.fileobj.close()
            replies += 1
    answers = sorted(read_to_eof(c) for c in clients)
    assert answers == sorted(b"HELLO %d\n" % i for i in range(50))


# -- the facade's own ------------------------------------------------------------------------------
def test_blocking_calls_from_the_loop_thread_raise_instead_of_deadlocking(nodes, closing):
    runtime, a, _b = nodes
    net = Facade(a, runtime)
    sock = closing(net.socket(AF_INET, socket.SOCK_DGRAM))
    sock.bind(("", 0))
    with pytest.raises(RuntimeError, match="deadlock"):
        runtime.call(lambda: sock.recv(10))
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):  # what never waits may run on the loop
        runtime.call(lambda: sock.recv(10))


def test_connect_ex_reports_its_own_timeout_as_eagain_as_cpython_does(nodes, closing):
    runtime, a, _b = nodes
    sock = closing(Facade(a, runtime).socket(AF_INET, socket.SOCK_STREAM))
    sock.settimeout(0.2)
    assert sock.connect_ex(("10.0.0.99", 80)) == errno.EAGAIN  # nobody answers ARP


def test_names_resolve_through_the_stacks_dns_and_literals_without_it(nodes, closing):
    runtime, a, b = nodes
    runtime.call(lambda: DnsServer(b, {"www.example.test": "10.0.0.2"}).start())
    runtime.call(lambda: a.add_dns_server("10.0.0.2"))
    client, server = Facade(a, runtime), Facade(b, runtime)
    stream = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
    assert client.getaddrinfo("www.example.test", 80, type=socket.SOCK_STREAM) == [
        (*stream, ("10.0.0.2", 80))
    ]
    assert client.gethostbyname("www.example.test") == "10.0.0.2"
    with pytest.raises(socket.gaierror):
        client.getaddrinfo("nowhere.example.test", 80)
    with pytest.raises(socket.gaierror):
        client.getaddrinfo("www.example.test", 80, flags=socket.AI_NUMERICHOST)
    assert client.getaddrinfo("localhost", 7, AF_INET6, socket.SOCK_DGRAM) == [
        (AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP, "", ("::1", 7, 0, 0))
    ]
    web = closing(server.create_server(("", 0)))
    port = web.getsockname()[1]
    closing(client.create_connection(("www.example.test", port), timeout=WAIT))


def test_getaddrinfo_of_literals_matches_the_stdlib(nodes) -> None:
    runtime, a, _b = nodes
    net = Facade(a, runtime)
    for args in [
        ("10.0.0.2", 80, 0, socket.SOCK_STREAM),
        ("fd00::2", "8080", AF_INET6, 0, socket.IPPROTO_UDP),
        (None, 80, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE),
        (None, 80, 0, socket.SOCK_STREAM),
        ("10.0.0.2", 80, 0, socket.SOCK_STREAM, 0, socket.AI_CANONNAME),
    ]:
        assert net.getaddrinfo(*args) == socket.getaddrinfo(*args), args
    for args in [("10.0.0.2", 80, AF_INET6), ("10.0.0.2", 80, 99)]:
        with pytest.raises(socket.gaierror) as exc:
            socket.getaddrinfo(*args)
        with pytest.raises(socket.gaierror) as ours:
            net.getaddrinfo(*args)
        assert ours.value.errno == exc.value.errno, args


def test_a_socket_dropped_without_close_is_closed_with_a_resource_warning(nodes, closing):
    runtime, a, _b = nodes
    net = Facade(a, runtime)
    sock = net.socket(AF_INET, socket.SOCK_DGRAM)
    sock.bind(("", 0))
    port = sock.getsockname()[1]
    with pytest.warns(ResourceWarning, match="unclosed"):
        del sock
        gc.collect()
    runtime.run(asyncio.sleep(0))  # the close was scheduled on the loop; let it run
    closing(net.socket(AF_INET, socket.SOCK_DGRAM)).bind(("", port))  # the port is free


def test_a_facade_needs_the_runtime_of_its_stacks_world(nodes) -> None:
    _runtime, a, _b = nodes
    with Runtime(seed=1) as other, pytest.raises(ValueError, match="world"):
        Facade(a, other)


def test_a_polled_ipv4_listener_is_not_readable_for_an_ipv6_client(netstack_env: Env, closing):
    """netstack's wildcard serves both families: an AF_INET listener refuses an IPv6
    connection itself, and must not poll readable for it (accept() would then block)."""
    env = netstack_env
    wildcard = closing(env.server.socket(AF_INET, socket.SOCK_STREAM))
    wildcard.bind(("0.0.0.0", 0))
    wildcard.listen()
    wildcard.setblocking(False)
    port = wildcard.getsockname()[1]
    with selectors.DefaultSelector() as selector:
        selector.register(wildcard, selectors.EVENT_READ)
        stray = env.client.socket(AF_INET6, socket.SOCK_STREAM)
        with contextlib.suppress(OSError):  # accepted by the stack, then reset
            stray.settimeout(WAIT)
            stray.connect((env.server_host(AF_INET6), port))
        stray.close()
        assert selector.select(timeout=0.3) == []
        client = closing(env.client.create_connection((env.server_host(AF_INET), port), WAIT))
        assert [key.fileobj for key, _ in selector.select(timeout=WAIT)] == [wildcard]
        conn, peer = wildcard.accept()  # at once: non-blocking, no BlockingIOError
        closing(conn)
        assert peer == client.getsockname()
