"""asyncio streams, protocols, servers and datagram endpoints on netstack, in virtual time.

Two hosts on one simulated switch, each with IPv4 and IPv6; the code under test is plain
asyncio protocol code (StreamReader/StreamWriter, Protocol, DatagramProtocol, TLS through
``ssl.SSLContext``) running over :mod:`netstack.socket.aio`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from netstack.errors import ConnectionLostError
from netstack.services.dns_server import DnsServer
from netstack.sim import LinkParams, Network
from netstack.sim.network import Host
from netstack.socket import TCPSocket
from netstack.socket.aio import (
    StreamTransport,
    _TlsGate,
    create_connection,
    create_datagram_endpoint,
    create_server,
    open_connection,
    start_server,
)

V4, V6 = "10.0.0.2", "2001:db8::2"
FAMILIES = pytest.mark.parametrize("server_ip", [V4, V6], ids=["ipv4", "ipv6"])

Net = tuple[Network, Host, Host]
T = TypeVar("T")


@pytest.fixture
def lan() -> Iterator[Net]:
    """(net, a, b): a is 10.0.0.1 / 2001:db8::1, b is 10.0.0.2 / 2001:db8::2; 100 µs links."""
    net = Network(seed=1)
    seg = net.segment("lan", LinkParams(latency=100e-6))
    a = net.host("a", seg, "10.0.0.1/24", ipv6="static:2001:db8::1/64")
    b = net.host("b", seg, "10.0.0.2/24", ipv6="static:2001:db8::2/64")
    net.run(net.start())
    yield net, a, b
    net.close()


def run(net: Network, main: Awaitable[T], timeout: float = 60.0) -> T:
    """Run ``main`` in virtual time; a hang fails after ``timeout`` simulated seconds."""
    return net.run(asyncio.wait_for(main, timeout))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let virtual time pass until ``condition()`` holds (TimeoutError after ``timeout``)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


def pattern(size: int, salt: bytes = b"aio") -> bytes:
    return hashlib.shake_128(salt).digest(size)


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


# -- streams -----------------------------------------------------------------------------------
@FAMILIES
def test_stream_echo_is_byte_exact(lan: Net, server_ip: str) -> None:
    net, a, b = lan
    data = pattern(1_000_000)

    async def main() -> tuple[bytes, Any, Any, int]:
        server = await start_server(echo, port=7, stack=b)
        async with server:
            port = server.sockets[0].getsockname().port
            reader, writer = await open_connection(server_ip, 7, stack=a)
            assert isinstance(reader, asyncio.StreamReader)
            assert isinstance(writer, asyncio.StreamWriter)

            async def send() -> None:
                writer.write(data)
                await writer.drain()
                writer.write_eof()

            sender = asyncio.ensure_future(send())
            echoed = await reader.read()  # to EOF
            await sender
            peer, local = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
            assert isinstance(writer.get_extra_info("socket"), TCPSocket)
            writer.close()
            await writer.wait_closed()
        return echoed, peer, local, port

    echoed, peer, local, port = run(net, main())
    assert echoed == data
    assert port == 7
    assert peer[:2] == (server_ip, 7)
    assert local[0] == ("10.0.0.1" if server_ip == V4 else "2001:db8::1")
    assert len(peer) == (2 if server_ip == V4 else 4)  # stdlib address tuples


def test_half_close_lets_the_server_answer_after_the_clients_eof(lan: Net) -> None:
    net, a, b = lan

    async def summarize(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read()  # everything up to the client's FIN
        assert reader.at_eof()
        writer.write(b"got %d bytes, sha256 %s" % (len(request), hashlib.sha256(request).digest()))
        await writer.drain()
        writer.close()

    async def main() -> tuple[bytes, bool]:
        server = await start_server(summarize, V4, 8000, stack=b)
        async with server:
            reader, writer = await open_connection(V4, 8000, stack=a)
            assert writer.can_write_eof()
            writer.write(b"x" * 300_000)
            writer.write_eof()  # half-close: we can still read
            with pytest.raises(RuntimeError):
                writer.write(b"late")
            answer = await reader.read()
            at_eof = reader.at_eof()
            writer.close()
            await writer.wait_closed()
        return answer, at_eof

    answer, at_eof = run(net, main())
    assert answer == b"got 300000 bytes, sha256 %s" % hashlib.sha256(b"x" * 300_000).digest()
    assert at_eof


@dataclass
class Recorder(asyncio.Protocol):
    """A protocol that writes down what the transport does to it."""

    keep_open: bool = False
    pause_on_connect: bool = False
    events: list[str] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    transport: asyncio.Transport | None = None
    lost: asyncio.Future[BaseException | None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.lost = asyncio.get_running_loop().create_future()
        self.events.append("made")
        if self.pause_on_connect:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.events.append("eof")
        return self.keep_open

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        assert self.lost is not None
        self.lost.set_result(exc)


def test_eof_received_returning_false_closes_the_transport(lan: Net) -> None:
    """As asyncio's selector transports: a falsy eof_received() closes the transport (our
    FIN follows the peer's), a true one keeps it open for writing."""
    net, a, b = lan

    async def main() -> tuple[list[str], list[str], bytes, bytes]:
        accepted: list[Recorder] = []

        def factory() -> Recorder:
            accepted.append(Recorder(keep_open=True))
            return accepted[-1]

        server = await create_server(factory, V4, 9000, stack=b)
        transport, client = await create_connection(Recorder, V4, 9000, stack=a)
        assert isinstance(client, Recorder) and isinstance(transport, StreamTransport)
        transport.write(b"ping")
        transport.write_eof()
        await until(lambda: bool(accepted) and "eof" in accepted[0].events)
        srv = accepted[0]
        assert srv.transport is not None and not srv.transport.is_closing()
        srv.transport.write(b"pong after your FIN")  # kept open: still writable
        srv.transport.write_eof()
        assert client.lost is not None and srv.lost is not None
        assert await client.lost is None  # its eof_received returned False: closed
        assert transport.is_closing()
        srv.transport.close()
        assert await srv.lost is None
        server.close()
        await server.wait_closed()
        return client.events, srv.events, bytes(client.data), bytes(srv.data)

    client_events, server_events, client_got, server_got = run(net, main())
    assert client_events == ["made", "eof", "lost"]
    assert server_events == ["made", "eof", "lost"]
    assert (client_got, server_got) == (b"pong after your FIN", b"ping")


def test_slow_reader_applies_back_pressure_and_buffers_stay_bounded(lan: Net) -> None:
    """50 MB from a writer that only waits in drain() to a reader taking 64 KiB per
    millisecond: the writer is held back, and what is buffered anywhere (the writer's
    transport and send buffer, the reader's receive buffer and StreamReader; sampled every
    0.2 ms) stays within 1 MiB, the sum of their bounds — it does not grow with the amount
    sent."""
    net, a, b = lan
    total, chunk = 50_000_000, 65536
    peaks: dict[str, int] = {}
    state: dict[str, Any] = {}

    def sample() -> None:
        sizes = {}
        writer = state.get("writer")
        if writer is not None:
            conn = writer.get_extra_info("socket")._handle.conn
            sizes["transport"] = writer.transport.get_write_buffer_size()
            sizes["send buffer"] = conn.config.sndbuf - conn.writable
        reader, rconn = state.get("reader"), state.get("rconn")
        if reader is not None:
            sizes["stream reader"] = len(reader._buffer)
            sizes["receive buffer"] = rconn.readable
        sizes["total"] = sum(sizes.values())
        for name, size in sizes.items():
            peaks[name] = max(peaks.get(name, 0), size)
        if not state.get("done"):
            net.world.call_later(0.0002, sample)

    async def slow_reader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["reader"] = reader
        state["rconn"] = writer.get_extra_info("socket")._handle.conn
        got, digest = 0, hashlib.sha256()
        while data := await reader.read(chunk):
            got += len(data)
            digest.update(data)
            await asyncio.sleep(0.001)
        state["received"] = (got, digest.hexdigest())
        writer.close()

    async def main() -> tuple[int, float]:
        server = await start_server(slow_reader, V4, 5001, stack=b)
        reader, writer = await open_connection(V4, 5001, stack=a)
        state["writer"] = writer
        sample()
        block, blocked = pattern(chunk), 0
        start = net.now()
        for _ in range(total // chunk):
            writer.write(block)
            before = net.now()
            await writer.drain()
            blocked += net.now() > before  # drain() waited for the reader
        writing = net.now() - start
        writer.write_eof()
        assert await reader.read() == b""
        state["done"] = True
        writer.close()
        server.close()
        await server.wait_closed()
        return blocked, writing

    blocked, writing = run(net, main())
    sent, writes = total // chunk * chunk, total // chunk
    assert state["received"] == (sent, hashlib.sha256(pattern(chunk) * writes).hexdigest())
    # the writer went at the reader's pace (64 KiB/ms), held back in drain()
    assert writing >= 0.9 * (sent - 1_048_576) / chunk * 0.001
    assert blocked > writes // 4
    # every buffer within its bound, whatever the amount sent
    assert peaks["transport"] <= 65536 + chunk  # high-water mark plus one write
    assert peaks["send buffer"] <= 262144 and peaks["receive buffer"] <= 262144  # SNDBUF, RCVBUF
    assert peaks["stream reader"] <= 2 * 65536 + 262144  # pauses above 2 x limit; one recv
    assert peaks["total"] <= 1_048_576, peaks


def test_pause_reading_closes_the_window_and_resume_delivers_everything(lan: Net) -> None:
    """Protocol level: a receiver that pauses reading makes the sender's transport buffer
    pass its high-water mark (pause_writing); resuming drains it (resume_writing). The
    sender closes with most of it still buffered: it is all sent before the FIN."""
    net, a, b = lan
    data = pattern(2_000_000)

    async def main() -> tuple[Recorder, Recorder, tuple[int, int]]:
        accepted: list[Recorder] = []
        server = await create_server(
            lambda: accepted.append(Recorder(pause_on_connect=True)) or accepted[-1],
            V4,
            9001,
            stack=b,
        )
        transport, client = await create_connection(Recorder, V4, 9001, stack=a)
        assert isinstance(client, Recorder) and isinstance(transport, asyncio.Transport)
        transport.set_write_buffer_limits(high=100_000)
        limits = transport.get_write_buffer_limits()
        transport.write(data)
        await asyncio.sleep(0.05)
        srv = accepted[0]
        assert srv.transport is not None and not srv.transport.is_reading()
        assert srv.data == b"" and client.events == ["made", "pause"]
        assert transport.get_write_buffer_size() > 1_000_000  # the rest waits in the transport
        srv.transport.resume_reading()
        transport.close()  # with 1.5 MB still in the transport
        assert transport.is_closing()
        assert client.lost is not None and await client.lost is None
        assert srv.lost is not None and await srv.lost is None  # its EOF after the data
        server.close()
        await server.wait_closed()
        return client, srv, limits

    client, srv, limits = run(net, main())
    assert limits == (25_000, 100_000)  # (low, high); low defaults to high / 4
    assert bytes(srv.data) == data
    assert client.events == ["made", "pause", "resume", "lost"]
    assert srv.events == ["made", "eof", "lost"]


def test_reset_raises_connection_reset_in_the_reader(lan: Net) -> None:
    net, a, b = lan

    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(5)
        writer.transport.abort()  # RST

    async def main() -> BaseException:
        server = await start_server(rude, V4, 7000, stack=b)
        reader, writer = await open_connection(V4, 7000, stack=a)
        writer.write(b"hello")
        with pytest.raises(ConnectionResetError) as caught:
            await reader.read(100)
        writer.close()
        server.close()
        await server.wait_closed()
        return caught.value

    error = run(net, main())
    assert isinstance(error, ConnectionLostError)  # the netstack error, as asyncio would see


def test_connection_to_a_closed_port_is_refused(lan: Net) -> None:
    net, a, _ = lan

    async def main() -> None:
        with pytest.raises(ConnectionRefusedError):
            await open_connection(V6, 4444, stack=a)

    run(net, main())


def test_server_close_stops_accepting_and_wait_closed_waits_for_its_connections(
    lan: Net,
) -> None:
    net, a, b = lan

    async def main() -> list[str]:
        log: list[str] = []
        server = await start_server(echo, port=7, stack=b)
        assert server.is_serving()
        forever = asyncio.ensure_future(server.serve_forever())
        reader, writer = await open_connection(V4, 7, stack=a)
        writer.write(b"accepted?")
        log.append((await reader.readexactly(9)).decode())  # the server took it
        server.close()
        assert server.sockets == () and not server.is_serving()
        with pytest.raises(ConnectionRefusedError):
            await open_connection(V4, 7, stack=a)
        closed = asyncio.ensure_future(server.wait_closed())
        writer.write(b"still served")
        log.append((await reader.readexactly(12)).decode())
        assert not closed.done() and not forever.done()  # a connection is still open
        writer.write_eof()
        await reader.read()
        writer.close()
        await closed
        with pytest.raises(asyncio.CancelledError):  # close() ended serve_forever()
            await forever
        log.append("closed")
        return log

    assert run(net, main()) == ["accepted?", "still served", "closed"]


def test_host_names_resolve_through_the_stacks_resolver(lan: Net) -> None:
    net, a, b = lan
    DnsServer(b, {"echo.test": [V4, V6]}).start()
    for host in (a, b):
        host.iface.add_dns_server(V4)

    async def main() -> tuple[bytes, str]:
        server = await start_server(echo, "echo.test", 7, stack=b)
        async with server:
            reader, writer = await open_connection("echo.test", 7, stack=a)
            writer.write(b"by name\n")
            line = await reader.readline()
            peer = writer.get_extra_info("peername")[0]
            writer.close()
            await writer.wait_closed()
        return line, peer

    line, peer = run(net, main())
    assert line == b"by name\n"
    assert peer in (V4, V6)


def test_the_calls_must_run_on_the_stacks_world_loop(lan: Net) -> None:
    _, a, _ = lan

    async def elsewhere() -> None:
        await open_connection(V4, 7, stack=a)

    with pytest.raises(RuntimeError, match="loop of the stack's world"):
        asyncio.run(elsewhere())


# -- HTTP/1.1 ----------------------------------------------------------------------------------
async def read_message(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes] | None:
    """One HTTP/1.1 message (start line, headers, Content-Length body); None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        assert exc.partial == b""
        return None
    start, *lines = head[:-4].decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return start, headers, body


async def http_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while (message := await read_message(reader)) is not None:
        start, headers, body = message
        method, target, _ = start.split(" ")
        payload = f"{method} {target} {len(body)} {hashlib.sha256(body).hexdigest()}".encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
            % (len(payload), payload)
        )
        await writer.drain()
        if headers.get("connection") == "close":
            break
    writer.close()


@FAMILIES
def test_http_1_1_exchange_over_one_persistent_connection(lan: Net, server_ip: str) -> None:
    net, a, b = lan
    upload = pattern(200_000, b"upload")

    async def main() -> list[tuple[str, dict[str, str], bytes]]:
        server = await start_server(http_server, port=80, stack=b)
        async with server:
            reader, writer = await open_connection(server_ip, 80, stack=a)
            host = server_ip if server_ip == V4 else f"[{server_ip}]"
            writer.write(f"GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            writer.write(
                f"POST /upload HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(upload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + upload
            )  # pipelined
            await writer.drain()
            responses = []
            while (message := await read_message(reader)) is not None:
                responses.append(message)
            writer.close()
            await writer.wait_closed()
        return responses

    responses = run(net, main())
    assert [r[0] for r in responses] == ["HTTP/1.1 200 OK"] * 2
    assert responses[0][2] == f"GET /hello 0 {hashlib.sha256(b'').hexdigest()}".encode()
    assert responses[1][2] == f"POST /upload 200000 {hashlib.sha256(upload).hexdigest()}".encode()
    assert responses[1][1]["content-type"] == "text/plain"


# -- datagrams ---------------------------------------------------------------------------------
class DatagramRecorder(asyncio.DatagramProtocol):
    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.transport: asyncio.DatagramTransport | None = None
        self.datagrams: list[tuple[bytes, Any]] = []
        self.errors: list[Exception] = []
        self.arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.append((data, addr))
        if self.echo and self.transport is not None:
            self.transport.sendto(data, addr)
        self.arrived.set()

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)
        self.arrived.set()


@FAMILIES
def test_datagram_endpoint_echo(lan: Net, server_ip: str) -> None:
    net, a, b = lan
    wildcard = "0.0.0.0" if server_ip == V4 else "::"

    async def main() -> tuple[list[tuple[bytes, Any]], list[tuple[bytes, Any]], Any]:
        server_t, server = await create_datagram_endpoint(
            lambda: DatagramRecorder(echo=True), local_addr=(wildcard, 7), stack=b
        )
        client_t, client = await create_datagram_endpoint(
            DatagramRecorder, remote_addr=(server_ip, 7), stack=a
        )
        assert isinstance(server, DatagramRecorder) and isinstance(client, DatagramRecorder)
        for n in (1, 1400, 5000):  # the last one is fragmented
            client.arrived.clear()
            client_t.sendto(bytes([n % 251]) * n)
            await asyncio.wait_for(client.arrived.wait(), 1.0)
        with pytest.raises(ValueError):
            client_t.sendto(b"x", ("10.0.0.99", 7))  # connected: only to the peer
        peer = client_t.get_extra_info("peername")
        client_t.close()
        server_t.close()
        await asyncio.sleep(0)
        assert client_t.is_closing()
        return client.datagrams, server.datagrams, peer

    client_got, server_got, peer = run(net, main())
    assert [d for d, _ in client_got] == [bytes([n % 251]) * n for n in (1, 1400, 5000)]
    assert {addr[:2] for _, addr in client_got} == {(server_ip, 7)}
    assert [len(d) for d, _ in server_got] == [1, 1400, 5000]
    assert peer[:2] == (server_ip, 7)


def test_datagram_error_received_for_a_closed_port(lan: Net) -> None:
    net, a, _ = lan

    async def main() -> list[Exception]:
        transport, protocol = await create_datagram_endpoint(
            DatagramRecorder, remote_addr=(V4, 9999), stack=a
        )
        assert isinstance(protocol, DatagramRecorder)
        transport.sendto(b"anyone?")
        await asyncio.wait_for(protocol.arrived.wait(), 1.0)
        transport.close()
        return protocol.errors

    errors = run(net, main())
    assert len(errors) == 1 and isinstance(errors[0], ConnectionRefusedError)


# -- TLS ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Certs:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self, ca: Path | None = None) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(ca or self.ca))


def openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> Path:
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return directory / f"{name}.pem"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A test CA (made here with the openssl command line) and a server certificate it
    signed for server.test, 10.0.0.2 and 2001:db8::2; and a second, unrelated CA."""
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d, "test-ca")
    other = make_ca(d, "other-ca")
    (d / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName=DNS:server.test,IP:{V4},IP:{V6}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=server.test", cwd=d,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", ca, "-CAkey", d / "test-ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=d,
    )  # fmt: skip
    return Certs(ca, other, d / "server.pem", d / "server.key")


def run_tls(
    net: Network, b: Host, certs: Certs, client: Callable[[], Awaitable[Any]]
) -> tuple[Any, int]:
    """Run ``client()`` against a TLS echo server on b:443; (its result, failed handshakes)."""

    async def main() -> tuple[Any, int]:
        server = await start_server(echo, port=443, stack=b, ssl=certs.server_context())
        async with server:
            result = await client()
        return result, server.handshake_failures

    return run(net, main())


@FAMILIES
def test_tls_stream_handshake_and_data_both_ways(lan: Net, certs: Certs, server_ip: str) -> None:
    net, a, b = lan
    data = pattern(500_000, b"tls")

    async def client() -> tuple[bytes, Any, Any]:
        reader, writer = await open_connection(server_ip, 443, stack=a, ssl=certs.client_context())
        writer.write(data)
        await writer.drain()
        echoed = await reader.readexactly(len(data))
        info = writer.get_extra_info("peercert"), writer.get_extra_info("cipher")
        writer.close()
        await writer.wait_closed()
        return echoed, *info

    (echoed, peercert, cipher), failures = run_tls(net, b, certs, client)
    assert echoed == data
    assert dict(x[0] for x in peercert["subject"])["commonName"] == "server.test"
    assert cipher[1].startswith("TLSv1.")
    assert failures == 0


def test_tls_checks_the_name_given_as_server_hostname(lan: Net, certs: Certs) -> None:
    net, a, b = lan

    async def client() -> bytes:
        reader, writer = await open_connection(
            V6, 443, stack=a, ssl=certs.client_context(), server_hostname="server.test"
        )
        writer.write(b"named\n")
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return line

    assert run_tls(net, b, certs, client) == (b"named\n", 0)


@pytest.mark.parametrize(
    ("hostname", "trust", "reason"),
    [
        ("wrong.test", "test-ca", "Hostname mismatch"),
        (None, "other-ca", "unable to get local issuer certificate"),
    ],
    ids=["wrong-hostname", "untrusted-ca"],
)
def test_tls_verification_failures_raise(
    lan: Net, certs: Certs, hostname: str | None, trust: str, reason: str
) -> None:
    net, a, b = lan
    context = certs.client_context(certs.ca if trust == "test-ca" else certs.other_ca)

    async def client() -> ssl.SSLCertVerificationError:
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            await open_connection(V4, 443, stack=a, ssl=context, server_hostname=hostname)
        await asyncio.sleep(0.01)  # the server sees the handshake fail
        return caught.value

    error, failures = run_tls(net, b, certs, client)
    assert reason in str(error)
    assert failures == 1


def test_what_arrives_before_the_tls_handshake_returns_is_kept_for_the_protocol() -> None:
    """``loop.start_tls`` finishes the handshake a loop turn before it returns; data, EOF
    and a loss reported in between are replayed to the application's protocol."""

    class Transport(asyncio.Transport):
        protocol: asyncio.BaseProtocol | None = None

        def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
            self.protocol = protocol

    async def main() -> tuple[Recorder, Transport]:
        gate = _TlsGate()
        gate.data_received(b"early ")
        gate.data_received(b"bytes")
        gate.eof_received()
        gate.connection_lost(None)
        transport, protocol = Transport(), Recorder()
        gate.hand_over(transport, protocol)
        return protocol, transport

    protocol, transport = asyncio.run(main())
    assert transport.protocol is protocol
    assert bytes(protocol.data) == b"early bytes"
    assert protocol.events == ["made", "eof", "lost"]


def test_starttls_upgrades_an_open_stream(lan: Net, certs: Certs) -> None:
    """StreamWriter.start_tls() (loop.start_tls over our transport), as SMTP's STARTTLS."""
    net, a, b = lan

    async def upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"GO\n")
        await writer.drain()
        await writer.start_tls(certs.server_context())
        await echo(reader, writer)

    async def main() -> tuple[bytes, bool]:
        server = await start_server(upgrade, port=25, stack=b)
        async with server:
            reader, writer = await open_connection(V4, 25, stack=a)
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"GO\n"
            await writer.start_tls(certs.client_context())
            writer.write(b"secret\n")
            line = await reader.readline()
            over_tls = writer.get_extra_info("ssl_object") is not None
            writer.close()
            await writer.wait_closed()
        return line, over_tls

    assert run(net, main()) == (b"secret\n", True)
