"""TCPSocket: a byte stream over any stack (Mbed ``TCPSocket`` in Python spelling).

Client: ``await sock.connect(("10.0.0.2", 7))``, ``await sock.send(data)`` (all of it, as
Mbed's blocking send), ``await sock.recv(4096)`` (``b""`` at end of stream). Server:
``sock.bind(7); sock.listen(8); conn, peer = await sock.accept()``. The socket's timeout
applies to every call that waits; ``*_nowait`` calls never wait.
"""

from __future__ import annotations

from netstack.address import SocketAddress
from netstack.errors import WouldBlockError
from netstack.socket.base import AddressLike, InternetSocket, resolve_address
from netstack.stacks.core.api import NetworkStack, SocketHandle, SocketKind


class TCPSocket(InternetSocket):
    """A TCP socket: connect or listen/accept, then a reliable byte stream."""

    kind = SocketKind.TCP

    @classmethod
    def _adopt(cls, stack: NetworkStack, handle: SocketHandle) -> TCPSocket:
        sock = cls()
        sock._stack = stack
        sock._handle = handle
        stack.socket_attach(handle, sock._event)
        return sock

    # -- client ----------------------------------------------------------------------------
    async def connect(self, address: AddressLike, port: int | None = None) -> None:
        """Open the connection; ConnectionRefused / ConnectionTimeoutError on failure."""
        stack, handle = self._require()
        addr = await resolve_address(stack, address, port)
        stack.socket_connect(handle, addr)
        await self._wait_until(lambda: stack.socket_connected(handle), "connect")

    def connected(self) -> bool:
        stack, handle = self._require()
        return stack.socket_connected(handle)

    # -- server ----------------------------------------------------------------------------
    def listen(self, backlog: int = 8) -> None:
        stack, handle = self._require()
        stack.socket_listen(handle, backlog)

    def accept_nowait(self) -> tuple[TCPSocket, SocketAddress]:
        stack, handle = self._require()
        child, peer = stack.socket_accept(handle)
        return TCPSocket._adopt(stack, child), peer

    async def accept(self) -> tuple[TCPSocket, SocketAddress]:
        stack, handle = self._require()
        await self._wait_until(lambda: stack.socket_readable(handle), "accept")
        return self.accept_nowait()

    # -- data ------------------------------------------------------------------------------
    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """Queue what fits in the send buffer now; WouldBlockError if nothing fits."""
        stack, handle = self._require()
        return stack.socket_send(handle, bytes(data))

    async def send(self, data: bytes | bytearray | memoryview) -> int:
        """Send all of ``data`` (waiting for buffer space per the timeout); returns its length.
        Non-blocking sockets send what fits (WouldBlockError if nothing does), as Mbed."""
        stack, handle = self._require()
        view = memoryview(bytes(data))
        if self._timeout == 0:
            return self.send_nowait(view)
        sent = 0
        while sent < len(view):
            await self._wait_until(lambda: stack.socket_writable(handle), "send")
            try:
                sent += stack.socket_send(handle, bytes(view[sent : sent + 65536]))
            except WouldBlockError:
                continue
        return sent

    sendall = send

    def recv_nowait(self, bufsize: int = 65536) -> bytes:
        """Bytes available now (``b""`` at end of stream); WouldBlockError if none yet."""
        stack, handle = self._require()
        return stack.socket_recv(handle, bufsize)

    async def recv(self, bufsize: int = 65536) -> bytes:
        stack, handle = self._require()
        await self._wait_until(lambda: stack.socket_readable(handle), "recv")
        return self.recv_nowait(bufsize)

    async def recv_exactly(self, size: int) -> bytes:
        """Exactly ``size`` bytes; ConnectionLostError-free EOF raises EOFError."""
        chunks: list[bytes] = []
        got = 0
        while got < size:
            chunk = await self.recv(min(65536, size - got))
            if not chunk:
                raise EOFError(f"connection closed after {got} of {size} bytes")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def shutdown(self, how: str = "write") -> None:
        """Half-close: ``"write"`` sends FIN after the queued data (Mbed/stdlib SHUT_WR)."""
        stack, handle = self._require()
        stack.socket_shutdown(handle, how)

    def readable(self) -> bool:
        """Data, end of stream or an error is waiting (or, listening, a connection)."""
        stack, handle = self._require()
        return stack.socket_readable(handle)

    def writable(self) -> bool:
        stack, handle = self._require()
        return stack.socket_writable(handle)
