"""Bulk transfer, iperf-style: a sink that counts what it receives, and a sender.

``BulkSink`` (port 5001, iperf's) reads every connection to its end and records, per
finished connection, how many bytes came and for how long on the world's clock (from the
accept to the client's FIN). ``bulk_send`` connects, sends ``size`` bytes of a fixed
pattern, half-closes and waits for the sink to close in turn — which it does only once it
has read everything — so the time it reports covers delivery of the last byte.

On a simulated world the times are virtual, so the figures measure the modelled network and
the stack's TCP, not the host computer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

from netstack.address import SocketAddress
from netstack.errors import ParameterError
from netstack.services.tcp import TcpService
from netstack.socket.base import AddressLike, HasStack, resolve_stack, to_address
from netstack.socket.tcp import TCPSocket
from netstack.stacks.core.api import NetworkStack

log = logging.getLogger(__name__)

DEFAULT_PORT = 5001
#: The repeating payload: 0, 1, …, 255, 0, 1, … (so a capture shows where a segment sits)
_PATTERN = bytes(range(256)) * 256


@dataclass(slots=True, frozen=True)
class SinkTransfer:
    """One connection the sink read to its end."""

    peer: SocketAddress
    bytes: int
    seconds: float

    @property
    def goodput_bps(self) -> float:
        return 8 * self.bytes / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True, frozen=True)
class BulkResult:
    """What ``bulk_send`` measured: application bytes delivered, seconds on the world's
    clock from the established connection to the sink's close, and their ratio in bit/s."""

    bytes: int
    seconds: float
    goodput_bps: float


class BulkSink(TcpService):
    """Reads and counts; keeps the last ``history`` finished transfers in :attr:`finished`."""

    default_port = DEFAULT_PORT
    name = "sink"

    def __init__(
        self,
        stack: NetworkStack | HasStack,
        port: int | None = None,
        *,
        backlog: int = 16,
        history: int = 1024,
    ) -> None:
        super().__init__(stack, port, backlog=backlog)
        self.finished: deque[SinkTransfer] = deque(maxlen=history)
        self.completed = 0  # every transfer read to its end, also those history dropped
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def serve(self, conn: TCPSocket) -> None:
        now = conn.stack.world.now
        peer = conn.getpeername()
        start = now()
        received = 0
        while data := await conn.recv(65536):
            received += len(data)
            self.stats.bytes_in += len(data)
        transfer = SinkTransfer(peer, received, now() - start)
        self.finished.append(transfer)
        self.completed += 1
        log.debug("sink: %s sent %d bytes in %.6f s", peer, received, transfer.seconds)
        waiting, self._waiters = self._waiters, []
        for count, fut in waiting:
            if self.completed >= count:
                if not fut.done():
                    fut.set_result(None)
            else:
                self._waiters.append((count, fut))
        # returning closes our side: the sender's wait for our FIN ends there

    async def wait_completed(self, count: int = 1) -> list[SinkTransfer]:
        """Wait until ``count`` transfers in all have finished; the ones kept so far."""
        if self.completed < count:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((count, fut))
            await fut
        return list(self.finished)


async def bulk_send(
    stack: NetworkStack | HasStack,
    address: AddressLike,
    size: int,
    *,
    port: int | None = None,
    chunk: int = 65536,
    timeout: float | None = None,
) -> BulkResult:
    """Send ``size`` bytes to a :class:`BulkSink` at ``address`` (port 5001 unless the
    address or ``port`` says otherwise) and measure how long delivery took.

    ``timeout`` is the socket timeout of every wait (None: wait forever)."""
    if size < 0 or chunk <= 0:
        raise ParameterError("size must be >= 0 and chunk > 0")
    target = to_address(address, port)
    if not target.port:
        target = target.with_port(DEFAULT_PORT)
    now = resolve_stack(stack).world.now
    block = (_PATTERN * (chunk // len(_PATTERN) + 1))[:chunk]
    sock = TCPSocket(stack)
    sock.set_timeout(timeout)
    try:
        await sock.connect(target)
        start = now()
        left = size
        while left > 0:
            piece = block if left >= chunk else block[:left]
            await sock.send(piece)
            left -= len(piece)
        sock.shutdown()
        while await sock.recv(65536):
            pass  # the sink sends nothing; wait for its FIN
        seconds = now() - start
    finally:
        if sock.is_open:
            sock.close()
    goodput = 8 * size / seconds if seconds > 0 else 0.0
    return BulkResult(size, seconds, goodput)
