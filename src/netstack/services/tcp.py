"""TCP echo (RFC 862), discard (RFC 863) and character generator (RFC 864) servers.

Each accepted connection is served by one task on the world's loop; the listener and every
connection close with the server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass

from netstack.errors import NetworkError
from netstack.socket.base import HasStack
from netstack.socket.tcp import TCPSocket
from netstack.stacks.core.api import NetworkStack

log = logging.getLogger(__name__)

#: RFC 864's 72-character lines rotating through the 95 printable ASCII characters
_PRINTABLE = bytes(range(32, 127))


_LINES = tuple((_PRINTABLE[k:] + _PRINTABLE[:k])[:72] + b"\r\n" for k in range(95))


@functools.lru_cache(maxsize=128)
def chargen_block(start: int, lines: int) -> bytes:
    """``lines`` lines of the RFC 864 pattern beginning at rotation ``start`` (cached: a
    busy chargen connection must not rebuild its pattern per send)."""
    return b"".join(_LINES[(start + i) % 95] for i in range(lines))


@dataclass(slots=True)
class TcpServiceStats:
    connections: int = 0
    active: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    errors: int = 0


class TcpService:
    default_port = 0
    name = "tcp"

    def __init__(
        self, stack: NetworkStack | HasStack, port: int | None = None, *, backlog: int = 16
    ) -> None:
        self._target = stack
        self.port = self.default_port if port is None else port
        self.backlog = backlog
        self.stats = TcpServiceStats()
        self.socket: TCPSocket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._acceptor: asyncio.Task[None] | None = None

    def start(self) -> None:
        sock = TCPSocket(self._target)
        sock.bind(self.port)
        sock.listen(self.backlog)
        self.socket = sock
        loop = sock.stack.world.loop
        self._acceptor = loop.create_task(self._accept_loop(sock))

    def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.cancel()
            self._acceptor = None
        for task in list(self._tasks):
            task.cancel()
        if self.socket is not None and self.socket.is_open:
            self.socket.close()
        self.socket = None

    async def _accept_loop(self, sock: TCPSocket) -> None:
        loop = sock.stack.world.loop
        while True:
            conn, _peer = await sock.accept()
            self.stats.connections += 1
            task = loop.create_task(self._run(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, conn: TCPSocket) -> None:
        self.stats.active += 1
        try:
            await self.serve(conn)
        except NetworkError as exc:
            self.stats.errors += 1
            log.debug("%s connection ended: %s", self.name, exc)
        finally:
            self.stats.active -= 1
            if conn.is_open:
                conn.close()

    async def serve(self, conn: TCPSocket) -> None:
        raise NotImplementedError


class TcpEchoServer(TcpService):
    """Sends back everything it receives, until the client closes (RFC 862)."""

    default_port = 7
    name = "echo"

    async def serve(self, conn: TCPSocket) -> None:
        while data := await conn.recv(65536):
            self.stats.bytes_in += len(data)
            await conn.send(data)
            self.stats.bytes_out += len(data)
        conn.shutdown()


class TcpDiscardServer(TcpService):
    """Reads and throws away everything (RFC 863)."""

    default_port = 9
    name = "discard"

    async def serve(self, conn: TCPSocket) -> None:
        while data := await conn.recv(65536):
            self.stats.bytes_in += len(data)


class TcpChargenServer(TcpService):
    """Sends the RFC 864 character pattern until the client closes or resets."""

    default_port = 19
    name = "chargen"

    async def serve(self, conn: TCPSocket) -> None:
        # whole cycles of the 95 rotations, so every block starts the pattern again
        block = chargen_block(0, 3 * len(_PRINTABLE))
        while True:
            if conn.readable() and not conn.recv_nowait(65536):
                return  # the client closed (anything it sends is discarded)
            await conn.send(block)
            self.stats.bytes_out += len(block)
