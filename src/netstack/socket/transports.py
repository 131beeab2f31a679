"""asyncio transports over netstack sockets, driven by their ``sigio`` readiness callback.

:class:`StreamTransport` (an ``asyncio.Transport`` over a connected TCPSocket) and
:class:`DatagramTransport` (an ``asyncio.DatagramTransport`` over a UDPSocket). They are
what :mod:`netstack.socket.aio` builds its streams, servers and endpoints on; see that
module for the behaviour (flow control, half-close, errors, TLS).

A socket's ``sigio`` may fire inside the stack's packet processing; the transports only
schedule themselves there (one ``call_soon`` per burst), so protocol code never runs
inside the stack. Each wake-up reads what the socket holds — bounded by its receive
buffer — and moves the write buffer into the socket's send buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket as _socket
from collections.abc import Iterable
from typing import Any, Protocol, cast

from netstack.address import IpVersion, SocketAddress
from netstack.errors import WouldBlockError
from netstack.socket.tcp import TCPSocket
from netstack.socket.udp import UDPSocket
from netstack.stacks.core.api import SOL_SOCKET, SocketOption

__all__ = ["DatagramTransport", "StreamTransport"]

log = logging.getLogger(__name__)

AddressTuple = tuple[str, int] | tuple[str, int, int, int]

HIGH_WATER = 64 * 1024  # asyncio's default write buffer limits: high, and low = high / 4
MAX_READ = 256 * 1024  # bytes per recv, as asyncio's selector transports
SEND_CHUNK = 256 * 1024  # bytes per send call (the stack copies what it takes)
MAX_DATAGRAM = 65535
_LOST_WRITES_WARNING = 5  # asyncio's LOG_THRESHOLD_FOR_CONNLOST_WRITES


class ConnectionTracker(Protocol):
    """What a server does with the transports of the connections it accepted."""

    def _attach(self, transport: StreamTransport) -> None: ...

    def _detach(self, transport: StreamTransport) -> None: ...


def address_tuple(address: SocketAddress) -> AddressTuple:
    """A SocketAddress as the stdlib spells it: (ip, port) or (ip, port, flow, scope)."""
    if address.version is IpVersion.IPV6:
        ip = _socket.inet_ntop(_socket.AF_INET6, address.packed)
        return (ip, address.port, 0, address.scope_id)
    return (address.ip, address.port)


def socket_address(address: object) -> SocketAddress:
    """An address given as asyncio code gives it: a tuple (2 or 4 items) or SocketAddress."""
    if isinstance(address, SocketAddress):
        return address
    if isinstance(address, tuple) and len(address) in (2, 4):
        scope = int(address[3]) if len(address) == 4 else 0
        return SocketAddress(str(address[0]), int(address[1]), scope_id=scope)
    raise ValueError(f"not an address: {address!r}")


def _buffer_limits(high: int | None, low: int | None) -> tuple[int, int]:
    if high is None:
        high = HIGH_WATER if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
    return high, low


# -- streams -----------------------------------------------------------------------------------
class StreamTransport(asyncio.Transport):
    """An asyncio transport over a connected :class:`TCPSocket`, driven by its ``sigio``.

    ``get_extra_info``: ``"peername"``, ``"sockname"`` (stdlib tuples) and ``"socket"`` (the
    TCPSocket, which the transport owns: read and write through the transport only).
    ``get_write_buffer_size()`` counts the transport's own buffer, not the socket's send
    buffer (as asyncio counts its buffer, not the kernel's).
    """

    _start_tls_compatible = True  # loop.start_tls() accepts it (asyncio checks this flag)

    def __init__(
        self,
        sock: TCPSocket,
        protocol: asyncio.BaseProtocol,
        *,
        server: ConnectionTracker | None = None,
        announce: bool = True,
    ) -> None:
        """With ``announce`` (the default) the protocol's ``connection_made`` is called
        soon and reading starts after it; without, the transport starts paused and silent
        (for ``loop.start_tls``, which connects its own protocol)."""
        extra: dict[str, Any] = {"socket": sock}
        for key, getter in (("sockname", sock.getsockname), ("peername", sock.getpeername)):
            try:
                extra[key] = address_tuple(getter())
            except OSError:
                extra[key] = None
        super().__init__(extra)
        self._peername = extra["peername"]
        self._loop = sock.stack.world.loop
        self._sock = sock
        self._server = server
        self._protocol = protocol
        self._buffered = False
        self.set_protocol(protocol)
        self._buffer = bytearray()
        self._high, self._low = _buffer_limits(None, None)
        self._writing_paused = False
        self._reading_paused = not announce
        self._eof = False  # write_eof() was called: FIN once the buffer is out
        self._at_eof = False  # the peer's FIN was read
        self._closing = False
        self._conn_lost = 0
        self._reset = False  # abort(): RST rather than FIN
        self._wakeup_scheduled = False
        if server is not None:
            server._attach(self)
        sock.sigio(self._wakeup)
        if announce:
            self._loop.call_soon(protocol.connection_made, self)
            self._loop.call_soon(self._wakeup)

    def __repr__(self) -> str:
        state = "closed" if self._conn_lost else "closing" if self._closing else "open"
        return f"<StreamTransport {state} peer={self._peername} bufsize={len(self._buffer)}>"

    # -- protocol ------------------------------------------------------------------------
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        self._buffered = isinstance(protocol, asyncio.BufferedProtocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    # -- readiness -----------------------------------------------------------------------
    def _wakeup(self) -> None:
        """The socket's sigio: handle it in a loop turn of its own (one per burst)."""
        if not self._wakeup_scheduled and not self._conn_lost:
            self._wakeup_scheduled = True
            self._loop.call_soon(self._ready)

    def _ready(self) -> None:
        self._wakeup_scheduled = False
        if self._conn_lost:
            return
        if not self._reading_paused and not self._closing and not self._at_eof:
            self._read()
        if self._buffer and not self._conn_lost:
            self._flush()

    # -- reading -------------------------------------------------------------------------
    def is_reading(self) -> bool:
        return not self._reading_paused and not self._closing

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        if self._reading_paused and not self._closing:
            self._reading_paused = False
            self._wakeup()  # what arrived meanwhile is waiting in the socket

    def _read(self) -> None:
        """Hand the protocol what the socket holds, until it is empty or reading pauses.
        Bounded: nothing arrives while this runs, and the receive buffer is bounded."""
        sock = self._sock
        while not self._reading_paused and not self._closing and not self._conn_lost:
            protocol = self._protocol
            try:
                if self._buffered:
                    buf = memoryview(cast(asyncio.BufferedProtocol, protocol).get_buffer(-1))
                    if not buf.nbytes:
                        raise RuntimeError("get_buffer() returned an empty buffer")
                    data = sock.recv_nowait(min(buf.nbytes, MAX_READ))
                else:
                    data = sock.recv_nowait(MAX_READ)
            except WouldBlockError:
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal read error on netstack stream transport")
                return
            if not data:
                self._read_eof()
                return
            try:
                if self._buffered:
                    buf[: len(data)] = data
                    cast(asyncio.BufferedProtocol, protocol).buffer_updated(len(data))
                else:
                    cast(asyncio.Protocol, protocol).data_received(data)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")
                return

    def _read_eof(self) -> None:
        self._at_eof = True
        try:
            keep_open = cast(asyncio.Protocol, self._protocol).eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    # -- writing -------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data:
            return
        if self._conn_lost:
            if self._conn_lost >= _LOST_WRITES_WARNING:
                log.warning("write to a netstack stream transport whose connection is lost")
            self._conn_lost += 1
            return
        if not self._buffer:
            try:
                sent = self._send(data)
            except OSError as exc:
                self._fatal_error(exc, "Fatal write error on netstack stream transport")
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        self._buffer += data
        self._maybe_pause_protocol()

    def _send(self, data: bytes | bytearray | memoryview) -> int:
        """Hand the socket as much of ``data`` as its send buffer takes now."""
        sent, total = 0, len(data)
        with memoryview(data) as view:
            while sent < total:
                chunk = bytes(view[sent : sent + SEND_CHUNK])
                try:
                    taken = self._sock.send_nowait(chunk)
                except WouldBlockError:
                    break
                sent += taken
                if taken < len(chunk):
                    break
        return sent

    def _flush(self) -> None:
        """The socket may take more: move the buffer into it (the socket said writable)."""
        try:
            sent = self._send(self._buffer)
        except OSError as exc:
            self._buffer.clear()
            self._fatal_error(exc, "Fatal write error on netstack stream transport")
            return
        if sent:
            del self._buffer[:sent]
        self._maybe_resume_protocol()  # may write more
        if not self._buffer:
            if self._closing:
                self._lose_connection(None)
            elif self._eof:
                self._shutdown()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        if self._closing or self._eof:
            return
        self._eof = True
        if not self._buffer:
            self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._sock.shutdown()
        except OSError as exc:
            self._fatal_error(exc, "Fatal error sending FIN on netstack stream transport")

    def can_write_eof(self) -> bool:
        return True

    # -- write flow control (asyncio's _FlowControlMixin contract) ------------------------
    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high, self._low = _buffer_limits(high, low)
        self._maybe_pause_protocol()

    def _maybe_pause_protocol(self) -> None:
        if len(self._buffer) <= self._high or self._writing_paused:
            return
        self._writing_paused = True
        try:
            self._protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report(exc, "protocol.pause_writing() failed")

    def _maybe_resume_protocol(self) -> None:
        if self._writing_paused and len(self._buffer) <= self._low:
            self._writing_paused = False
            try:
                self._protocol.resume_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._report(exc, "protocol.resume_writing() failed")

    # -- closing -------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop reading; send what is buffered, then FIN; ``connection_lost(None)``."""
        if self._closing:
            return
        self._closing = True
        if not self._buffer:
            self._lose_connection(None)

    def abort(self) -> None:
        """Drop what is buffered and reset the connection (RST); ``connection_lost(None)``."""
        self._reset = True
        self._force_close(None)

    def _report(self, exc: BaseException, message: str) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
        )

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if isinstance(exc, OSError):
            log.debug("%r: %s: %s", self, message, exc)
        else:
            self._report(exc, message)
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        """Close now, dropping the buffer (asyncio's name: asyncio's TLS protocol calls it)."""
        if self._conn_lost:
            return
        self._buffer.clear()
        self._closing = True
        self._lose_connection(exc)

    def _lose_connection(self, exc: BaseException | None) -> None:
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(cast(Exception | None, exc))
        finally:
            sock = self._sock
            if sock.is_open:
                if self._reset:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(SOL_SOCKET, SocketOption.LINGER, 0)
                sock.close()  # the stack sends what it holds, then FIN (or RST)
            server, self._server = self._server, None
            if server is not None:
                server._detach(self)


# -- datagrams ---------------------------------------------------------------------------------
class DatagramTransport(asyncio.DatagramTransport):
    """An ``asyncio.DatagramTransport`` over a :class:`UDPSocket`, driven by its ``sigio``.

    Addresses in ``datagram_received`` are stdlib tuples; ``sendto`` takes a tuple or a
    SocketAddress (IP literals: UDP cannot wait for a resolver). Send errors and ICMP errors
    reported on the socket go to ``error_received``.
    """

    def __init__(
        self, sock: UDPSocket, protocol: asyncio.BaseProtocol, peer: SocketAddress | None
    ) -> None:
        super().__init__(
            {
                "socket": sock,
                "sockname": address_tuple(sock.getsockname()),
                "peername": None if peer is None else address_tuple(peer),
            }
        )
        self._loop = sock.stack.world.loop
        self._sock = sock
        self._peer = peer
        self._protocol = protocol
        self._closing = False
        self._conn_lost = 0
        self._wakeup_scheduled = False
        sock.sigio(self._wakeup)
        self._loop.call_soon(protocol.connection_made, self)
        self._loop.call_soon(self._wakeup)

    def __repr__(self) -> str:
        return f"<DatagramTransport socket={self._sock!r} peer={self._peer}>"

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def _datagram_protocol(self) -> asyncio.DatagramProtocol:
        return cast(asyncio.DatagramProtocol, self._protocol)

    def _wakeup(self) -> None:
        if not self._wakeup_scheduled and not self._conn_lost:
            self._wakeup_scheduled = True
            self._loop.call_soon(self._ready)

    def _ready(self) -> None:
        """Deliver every queued datagram (the queue is bounded by the socket's RCVBUF)."""
        self._wakeup_scheduled = False
        sock = self._sock
        while not self._closing and sock.is_open:
            try:
                data, source = sock.recvfrom_nowait(MAX_DATAGRAM)
            except WouldBlockError:
                return
            except OSError as exc:  # an ICMP error reported on the socket
                self._datagram_protocol().error_received(exc)
                continue
            self._datagram_protocol().datagram_received(data, address_tuple(source))

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be a bytes-like object, not {type(data).__name__!r}")
        target = None if addr is None else socket_address(addr)
        if self._peer is not None:
            if target is not None and target != self._peer:
                raise ValueError(f"Invalid address: must be None or {self._peer}")
            target = None
        elif target is None:
            raise ValueError("the endpoint is not connected: sendto() needs an address")
        if self._conn_lost:
            if self._conn_lost >= _LOST_WRITES_WARNING:
                log.warning("sendto on a closed netstack datagram transport")
            self._conn_lost += 1
            return
        try:
            self._sock.sendto_nowait(target, bytes(data))
        except OSError as exc:
            self._datagram_protocol().error_received(exc)

    def get_write_buffer_size(self) -> int:
        return 0  # UDP never waits for buffer space: a datagram is sent or dropped at once

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, None)

    def abort(self) -> None:
        self.close()

    def _call_connection_lost(self, exc: Exception | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            if self._sock.is_open:
                self._sock.close()
