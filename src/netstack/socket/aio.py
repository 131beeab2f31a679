"""asyncio on netstack: transports, streams, servers and datagram endpoints.

Protocol code written for :mod:`asyncio` runs on netstack's TCP and UDP, in a simulation
(virtual time) and on a real link alike. The calls are asyncio's, with one more keyword,
``stack`` (a NetworkStack, or anything with ``get_stack()``: an interface, a simulated
host), and they hand back asyncio's own objects::

    reader, writer = await open_connection("10.0.0.2", 7, stack=iface)
    writer.write(b"hello")
    await writer.drain()
    echo = await reader.read(100)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await start_server(handle, port=7, stack=iface)
    async with server:
        await server.serve_forever()

- :func:`open_connection` / :func:`start_server` give genuine ``asyncio.StreamReader`` /
  ``asyncio.StreamWriter``; :func:`create_connection` / :func:`create_server` work at the
  protocol level; :class:`Server` behaves as ``asyncio.Server`` (``close``,
  ``wait_closed``, ``sockets``, ``serve_forever``, ``async with``).
- :class:`StreamTransport` is an ``asyncio.Transport`` over a connected
  :class:`~netstack.socket.TCPSocket`, driven by the socket's ``sigio`` readiness callback:
  no polling, no thread, no task. Callbacks are deferred by one ``call_soon`` (coalesced),
  so protocol code never runs inside the stack's packet processing. It and
  :class:`DatagramTransport` live in :mod:`netstack.socket.transports`.
- Flow control, as asyncio's selector transports: ``write()`` hands the socket what its
  send buffer takes and keeps the rest; above the high-water mark (64 KiB by default,
  ``set_write_buffer_limits``) the protocol is told ``pause_writing()`` (a StreamWriter's
  ``drain()`` then waits), at or below the low-water mark ``resume_writing()``. Reading
  stops while the protocol has paused it (a StreamReader does above twice its limit); the
  unread bytes then fill the socket's receive buffer and TCP's window closes, so a slow
  reader slows the writer down and nothing grows without bound.
- Half-close as asyncio's: ``write_eof()`` sends FIN after the buffered data; the peer's
  FIN calls ``eof_received()`` and the transport closes unless that returns true.
  ``close()`` finishes sending and closes (FIN); ``abort()`` drops the buffer and resets
  (RST). ``connection_lost(None)`` after a clean close, ``connection_lost(exc)`` with the
  netstack error (``ConnectionLostError``, a ``ConnectionResetError``) after a reset.
- TLS (``ssl=`` an ``ssl.SSLContext``, or ``True`` for a client's default context):
  ``loop.start_tls()`` over the transport, i.e. asyncio's own TLS protocol on the stdlib's
  ``ssl.MemoryBIO`` / ``SSLObject``. Certificate and host name checks are the context's
  (on for ``ssl.create_default_context()``); a client's ``server_hostname`` defaults to
  ``host``, so a name or an IP literal is checked unless ``server_hostname=""``.
- Host names: IP literals are used as they are, names go through the stack's resolver
  (``stack.getaddrinfo``), and a client tries each address in turn.
- :func:`create_datagram_endpoint` gives an ``asyncio.DatagramTransport``; on a connected
  endpoint (``remote_addr``) an ICMP port unreachable reaches ``error_received`` as a
  ``ConnectionRefusedError``, as asyncio reports it on Linux.

Everything runs on the stack's world loop: call these from coroutines running there (from
another thread, through the world's :class:`~netstack.runtime.Runtime`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl as _ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from netstack.address import SocketAddress, parse_literal
from netstack.errors import WouldBlockError
from netstack.socket.base import HasStack, resolve_stack
from netstack.socket.tcp import TCPSocket
from netstack.socket.transports import DatagramTransport, StreamTransport, socket_address
from netstack.socket.udp import UDPSocket
from netstack.stacks.core.api import SOL_SOCKET, NetworkStack, SocketOption

__all__ = [
    "DatagramTransport",
    "Server",
    "StreamTransport",
    "create_connection",
    "create_datagram_endpoint",
    "create_server",
    "open_connection",
    "start_server",
]

log = logging.getLogger(__name__)

StackLike = NetworkStack | HasStack
ClientConnected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None]
ProtocolFactory = Callable[[], asyncio.BaseProtocol]

DEFAULT_LIMIT = 2**16  # asyncio's StreamReader limit


def _loop_of(stack: NetworkStack) -> asyncio.AbstractEventLoop:
    loop = stack.world.loop
    if asyncio.get_running_loop() is not loop:
        raise RuntimeError("netstack's asyncio calls run on the loop of the stack's world")
    return loop


async def _resolve(stack: NetworkStack, host: str | None, port: int) -> list[SocketAddress]:
    """``host`` as addresses with ``port``: a literal as it is, a name through the stack's
    resolver; None or "" is the wildcard (every local address, IPv4 and IPv6)."""
    if not host:
        return [SocketAddress("", port)]
    literal = parse_literal(host)
    if literal is not None:
        return [literal.with_port(port)]
    return [address.with_port(port) for address in await stack.getaddrinfo(host)]


def _client_context(ssl: _ssl.SSLContext | bool | None) -> _ssl.SSLContext | None:
    if ssl is None or ssl is False:
        return None
    if ssl is True:
        return _ssl.create_default_context()  # verifies the chain and the host name
    if isinstance(ssl, _ssl.SSLContext):
        return ssl
    raise TypeError(f"ssl must be an SSLContext, True or None, not {type(ssl).__name__}")


# -- TLS ---------------------------------------------------------------------------------------
class _TlsGate(asyncio.Protocol):
    """The application's protocol's stand-in while ``loop.start_tls`` runs: the handshake
    completes a loop turn before ``start_tls`` returns, and whatever arrives in between is
    kept here and replayed once the application's protocol is connected."""

    def __init__(self) -> None:
        self._held: list[bytes] = []
        self._eof = False
        self._lost: list[BaseException | None] = []

    def data_received(self, data: bytes) -> None:
        self._held.append(bytes(data))

    def eof_received(self) -> None:
        self._eof = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost.append(exc)

    def hand_over(self, transport: asyncio.Transport, protocol: asyncio.BaseProtocol) -> None:
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        for data in self._held:
            _deliver(protocol, data)
        self._held.clear()
        if self._eof:
            cast(asyncio.Protocol, protocol).eof_received()
        if self._lost:
            protocol.connection_lost(cast(Exception | None, self._lost[0]))


def _deliver(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buf = memoryview(protocol.get_buffer(len(view)))
            n = min(buf.nbytes, len(view))
            buf[:n] = view[:n]
            protocol.buffer_updated(n)
            view = view[n:]
    else:
        cast(asyncio.Protocol, protocol).data_received(data)


async def _transport_for(
    sock: TCPSocket,
    protocol: asyncio.BaseProtocol,
    sslcontext: _ssl.SSLContext | None,
    *,
    server_side: bool,
    server_hostname: str | None,
    server: Server | None,
    ssl_handshake_timeout: float | None,
    ssl_shutdown_timeout: float | None,
) -> asyncio.Transport:
    """Wrap a connected socket (the transport owns it from then on: on failure it is
    reset); with TLS, return once the handshake is done."""
    loop = sock.stack.world.loop
    if sslcontext is None:
        transport = StreamTransport(sock, protocol, server=server)
        made = loop.create_future()
        loop.call_soon(_set_result, made)  # after connection_made, as asyncio does
        try:
            await made
        except BaseException:
            transport.abort()
            raise
        return transport
    raw = StreamTransport(sock, asyncio.Protocol(), server=server, announce=False)
    gate = _TlsGate()
    try:
        tls = await loop.start_tls(
            raw,
            gate,
            sslcontext,
            server_side=server_side,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
    except BaseException:
        raw.abort()
        raise
    if tls is None:  # pragma: no cover - start_tls returns a transport once it succeeded
        raw.abort()
        raise ConnectionError("TLS handshake gave no transport")
    gate.hand_over(tls, protocol)
    return tls


def _set_result(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


# -- clients -----------------------------------------------------------------------------------
async def create_connection(
    protocol_factory: ProtocolFactory,
    host: str,
    port: int,
    *,
    stack: StackLike,
    ssl: _ssl.SSLContext | bool | None = None,
    server_hostname: str | None = None,
    local_addr: tuple[str, int] | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    """Connect over TCP (``loop.create_connection`` on netstack): ``(transport, protocol)``.

    ``host`` is an IP literal or a name (resolved by the stack; each address is tried in
    turn). With ``ssl`` the connection is TLS and ``server_hostname`` (default: ``host``)
    is the name the certificate must carry.
    """
    net = resolve_stack(stack)
    _loop_of(net)
    sslcontext = _client_context(ssl)
    if server_hostname is not None and sslcontext is None:
        raise ValueError("server_hostname is only meaningful with ssl")
    if sslcontext is not None and server_hostname is None:
        server_hostname = host
    errors: list[OSError] = []
    for address in await _resolve(net, host, port):
        sock = TCPSocket(net)
        try:
            if local_addr is not None:
                sock.bind(socket_address(local_addr))
            await sock.connect(address)
        except OSError as exc:
            sock.close()
            errors.append(exc)
            continue
        except BaseException:
            sock.close()
            raise
        break
    else:
        if len(errors) == 1:
            raise errors[0]
        raise OSError(f"Multiple exceptions: {', '.join(str(e) for e in errors)}")
    try:
        protocol = protocol_factory()
    except BaseException:
        sock.close()
        raise
    transport = await _transport_for(  # from here on, the transport owns the socket
        sock,
        protocol,
        sslcontext,
        server_side=False,
        server_hostname=server_hostname or None,
        server=None,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout,
    )
    return transport, protocol


async def open_connection(
    host: str,
    port: int,
    *,
    stack: StackLike,
    limit: int = DEFAULT_LIMIT,
    ssl: _ssl.SSLContext | bool | None = None,
    server_hostname: str | None = None,
    local_addr: tuple[str, int] | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` on netstack: a genuine (StreamReader, StreamWriter)."""
    loop = _loop_of(resolve_stack(stack))
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await create_connection(
        lambda: protocol,
        host,
        port,
        stack=stack,
        ssl=ssl,
        server_hostname=server_hostname,
        local_addr=local_addr,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout,
    )
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


# -- servers -----------------------------------------------------------------------------------
class Server(asyncio.AbstractServer):
    """What :func:`create_server` / :func:`start_server` return; as ``asyncio.Server``.

    ``sockets`` are the listening :class:`TCPSocket` s (``getsockname()`` tells the port
    picked for port 0). ``wait_closed()`` returns once ``close()`` was called and every
    connection the server accepted is gone (asyncio 3.12's meaning).
    ``handshake_failures`` counts TLS handshakes that failed (logged at debug).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: list[TCPSocket],
        protocol_factory: ProtocolFactory,
        sslcontext: _ssl.SSLContext | None,
        backlog: int,
        ssl_handshake_timeout: float | None,
        ssl_shutdown_timeout: float | None,
    ) -> None:
        self._loop = loop
        self._sockets: list[TCPSocket] | None = sockets
        self._protocol_factory = protocol_factory
        self._sslcontext = sslcontext
        self._backlog = backlog
        self._ssl_handshake_timeout = ssl_handshake_timeout
        self._ssl_shutdown_timeout = ssl_shutdown_timeout
        self._serving = False
        self._serving_forever: asyncio.Future[None] | None = None
        self._transports: dict[StreamTransport, None] = {}
        self._handshakes: set[asyncio.Task[None]] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._accept_scheduled: set[TCPSocket] = set()
        self.handshake_failures = 0

    def __repr__(self) -> str:
        return f"<netstack Server sockets={self.sockets!r}>"

    @property
    def sockets(self) -> tuple[TCPSocket, ...]:
        return () if self._sockets is None else tuple(self._sockets)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    def _start_serving(self) -> None:
        if self._serving or self._sockets is None:
            return
        self._serving = True
        for sock in self._sockets:
            sock.listen(self._backlog)
            sock.sigio(functools.partial(self._accept_soon, sock))
            self._accept_soon(sock)

    async def start_serving(self) -> None:
        self._start_serving()
        await asyncio.sleep(0)

    def _accept_soon(self, sock: TCPSocket) -> None:
        if sock not in self._accept_scheduled:
            self._accept_scheduled.add(sock)
            self._loop.call_soon(self._accept, sock)

    def _accept(self, sock: TCPSocket) -> None:
        """Take every queued connection (the accept queue is bounded by the backlog)."""
        self._accept_scheduled.discard(sock)
        while self._serving and sock.is_open:
            try:
                conn, _peer = sock.accept_nowait()
            except WouldBlockError:
                return
            except OSError as exc:
                log.debug("accept on %s failed: %s", sock.getsockname(), exc)
                return
            self._connection(conn)

    def _connection(self, conn: TCPSocket) -> None:
        try:
            protocol = self._protocol_factory()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            conn.close()
            self._loop.call_exception_handler(
                {"message": "protocol factory failed", "exception": exc, "server": self}
            )
            return
        if self._sslcontext is None:
            StreamTransport(conn, protocol, server=self)
            return
        task = self._loop.create_task(self._tls_accept(conn, protocol))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    async def _tls_accept(self, conn: TCPSocket, protocol: asyncio.BaseProtocol) -> None:
        try:
            peer: object = conn.getpeername()
        except OSError:
            peer = None
        try:
            await _transport_for(
                conn,
                protocol,
                self._sslcontext,
                server_side=True,
                server_hostname=None,
                server=self,
                ssl_handshake_timeout=self._ssl_handshake_timeout,
                ssl_shutdown_timeout=self._ssl_shutdown_timeout,
            )
        except OSError as exc:  # ssl.SSLError, a reset, the handshake timeout
            self.handshake_failures += 1
            log.debug("TLS handshake with %s failed: %s", peer, exc)

    def _attach(self, transport: StreamTransport) -> None:
        self._transports[transport] = None

    def _detach(self, transport: StreamTransport) -> None:
        self._transports.pop(transport, None)
        if not self._transports and self._sockets is None:
            self._wakeup()

    def _wakeup(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            _set_result(waiter)

    def close(self) -> None:
        """Stop listening (established connections stay: see :meth:`close_clients`)."""
        sockets = self._sockets
        if sockets is None:
            return
        self._sockets = None
        self._serving = False
        for sock in sockets:
            if sock.is_open:
                sock.close()
        fut = self._serving_forever
        if fut is not None and not fut.done():
            fut.cancel()
        if not self._transports:
            self._wakeup()

    def close_clients(self) -> None:
        """Close every connection the server accepted (asyncio 3.13)."""
        for transport in list(self._transports):
            transport.close()

    def abort_clients(self) -> None:
        """Reset every connection the server accepted (asyncio 3.13)."""
        for transport in list(self._transports):
            transport.abort()

    async def wait_closed(self) -> None:
        if self._sockets is None and not self._transports:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter

    async def serve_forever(self) -> None:
        if self._serving_forever is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._sockets is None:
            raise RuntimeError(f"server {self!r} is closed")
        self._start_serving()
        self._serving_forever = self._loop.create_future()
        try:
            await self._serving_forever
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever = None


async def create_server(
    protocol_factory: ProtocolFactory,
    host: str | Sequence[str] | None = None,
    port: int = 0,
    *,
    stack: StackLike,
    backlog: int = 100,
    ssl: _ssl.SSLContext | None = None,
    reuse_address: bool | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    start_serving: bool = True,
) -> Server:
    """``loop.create_server`` on netstack. ``host`` None (or "") listens on every address,
    IPv4 and IPv6, with one socket; a name listens on each of its addresses."""
    net = resolve_stack(stack)
    loop = _loop_of(net)
    if ssl is not None and not isinstance(ssl, _ssl.SSLContext):
        raise TypeError(f"ssl must be an SSLContext, not {type(ssl).__name__}")
    hosts: list[str | None] = [host] if host is None or isinstance(host, str) else list(host)
    addresses: list[SocketAddress] = []
    for name in hosts:
        addresses += [a for a in await _resolve(net, name, port) if a not in addresses]
    sockets: list[TCPSocket] = []
    try:
        for address in addresses:
            sock = TCPSocket(net)
            sockets.append(sock)
            if reuse_address:
                sock.setsockopt(SOL_SOCKET, SocketOption.REUSEADDR, True)
            sock.bind(address)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    server = Server(
        loop, sockets, protocol_factory, ssl, backlog, ssl_handshake_timeout, ssl_shutdown_timeout
    )
    if start_serving:
        server._start_serving()
        await asyncio.sleep(0)
    return server


async def start_server(
    client_connected_cb: ClientConnected,
    host: str | Sequence[str] | None = None,
    port: int = 0,
    *,
    stack: StackLike,
    limit: int = DEFAULT_LIMIT,
    backlog: int = 100,
    ssl: _ssl.SSLContext | None = None,
    reuse_address: bool | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    start_serving: bool = True,
) -> Server:
    """``asyncio.start_server`` on netstack: ``client_connected_cb(reader, writer)`` for
    each connection (a coroutine function runs as a task)."""
    loop = _loop_of(resolve_stack(stack))

    def factory() -> asyncio.BaseProtocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

    return await create_server(
        factory,
        host,
        port,
        stack=stack,
        backlog=backlog,
        ssl=ssl,
        reuse_address=reuse_address,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout,
        start_serving=start_serving,
    )


async def create_datagram_endpoint(
    protocol_factory: Callable[[], asyncio.DatagramProtocol],
    local_addr: tuple[str, int] | None = None,
    remote_addr: tuple[str, int] | None = None,
    *,
    stack: StackLike,
    allow_broadcast: bool | None = None,
    reuse_port: bool | None = None,
) -> tuple[DatagramTransport, asyncio.DatagramProtocol]:
    """``loop.create_datagram_endpoint`` on netstack: ``(transport, protocol)``.

    ``local_addr`` binds (port 0: an ephemeral port); ``remote_addr`` connects: the default
    destination, a filter on what is received, and ICMP errors reported to
    ``error_received``. Host names are resolved through the stack's resolver.
    """
    net = resolve_stack(stack)
    loop = _loop_of(net)
    sock = UDPSocket(net)
    peer: SocketAddress | None = None
    try:
        if allow_broadcast:
            sock.set_broadcast(True)
        if reuse_port:
            sock.setsockopt(SOL_SOCKET, SocketOption.REUSEADDR, True)
        if local_addr is not None:
            sock.bind((await _resolve(net, local_addr[0], local_addr[1]))[0])
        if remote_addr is not None:
            peer = (await _resolve(net, remote_addr[0], remote_addr[1]))[0]
            sock.connect(peer)
        elif local_addr is None:
            sock.bind(0)
        protocol = protocol_factory()
    except BaseException:
        sock.close()
        raise
    transport = DatagramTransport(sock, protocol, peer)
    made: asyncio.Future[None] = loop.create_future()
    loop.call_soon(_set_result, made)  # after connection_made
    await made
    return transport, protocol
