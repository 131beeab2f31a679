"""UDP echo (RFC 862) and discard (RFC 863) servers.

They run on readiness callbacks (``sigio``) and non-blocking calls, so a datagram is echoed
in the same loop turn it arrives in — no task switch per packet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from netstack.address import SocketAddress
from netstack.errors import NetworkError, WouldBlockError
from netstack.socket.base import HasStack
from netstack.socket.udp import UDPSocket
from netstack.stacks.core.api import NetworkStack

log = logging.getLogger(__name__)

ECHO_PORT = 7
DISCARD_PORT = 9


@dataclass(slots=True)
class ServiceStats:
    datagrams: int = 0
    bytes: int = 0
    replies: int = 0
    errors: int = 0


class UdpService:
    """A UDP service on the Socket API: one socket, served from its readiness callback
    with non-blocking calls (no task switch per datagram). Subclasses handle datagrams in
    :meth:`on_datagram` and may answer with :meth:`reply`."""

    default_port = 0
    name = "udp"

    def __init__(self, stack: NetworkStack | HasStack, port: int | None = None) -> None:
        self._target = stack
        self.port = self.default_port if port is None else port
        self.socket: UDPSocket | None = None

    def start(self) -> None:
        if self.socket is not None:
            return
        sock = UDPSocket(self._target)
        self.configure(sock)
        sock.set_blocking(False)
        sock.sigio(self._readable)
        self.socket = sock

    def configure(self, sock: UDPSocket) -> None:
        """Bind (and set options on) the service's socket before it serves."""
        sock.bind(self.port)

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def __enter__(self) -> UdpService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _readable(self) -> None:
        sock = self.socket
        if sock is None or not sock.is_open:
            return
        while sock.readable():
            try:
                data, peer = sock.recvfrom_nowait()
            except WouldBlockError:
                return
            except NetworkError as exc:  # e.g. an ICMP error reported on the socket
                self.on_error(exc)
                continue
            self.on_datagram(sock, data, peer)

    def reply(self, sock: UDPSocket, peer: SocketAddress, data: bytes) -> bool:
        try:
            sock.sendto_nowait(peer, data)
        except NetworkError as exc:
            self.on_error(exc)
            return False
        return True

    def on_datagram(self, sock: UDPSocket, data: bytes, peer: SocketAddress) -> None:
        raise NotImplementedError

    def on_error(self, exc: NetworkError) -> None:
        log.debug("%s service: %s", self.name, exc)


class CountingUdpService(UdpService):
    def __init__(self, stack: NetworkStack | HasStack, port: int | None = None) -> None:
        super().__init__(stack, port)
        self.stats = ServiceStats()

    def on_error(self, exc: NetworkError) -> None:
        self.stats.errors += 1
        super().on_error(exc)

    def on_datagram(self, sock: UDPSocket, data: bytes, peer: SocketAddress) -> None:
        self.stats.datagrams += 1
        self.stats.bytes += len(data)
        self.handle(sock, data, peer)

    def handle(self, sock: UDPSocket, data: bytes, peer: SocketAddress) -> None:
        raise NotImplementedError


class UdpEchoServer(CountingUdpService):
    """Sends every datagram back to where it came from (RFC 862)."""

    default_port = ECHO_PORT
    name = "echo"

    def handle(self, sock: UDPSocket, data: bytes, peer: SocketAddress) -> None:
        if self.reply(sock, peer, data):
            self.stats.replies += 1


class UdpDiscardServer(CountingUdpService):
    """Throws every datagram away (RFC 863), counting it."""

    default_port = DISCARD_PORT
    name = "discard"

    def handle(self, sock: UDPSocket, data: bytes, peer: SocketAddress) -> None:
        return None
