"""UDP echo (RFC 862) and discard (RFC 863) servers.

They run on readiness callbacks (``sigio``) and non-blocking calls, so a datagram is echoed
in the same loop turn it arrives in — no task switch per packet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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


class _UdpService:
    default_port = 0
    name = "udp"

    def __init__(self, stack: NetworkStack | HasStack, port: int | None = None) -> None:
        self._target = stack
        self.port = self.default_port if port is None else port
        self.stats = ServiceStats()
        self.socket: UDPSocket | None = None

    def start(self) -> None:
        sock = UDPSocket(self._target)
        sock.bind(self.port)
        sock.set_blocking(False)
        sock.sigio(self._readable)
        self.socket = sock

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def __enter__(self) -> _UdpService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _readable(self) -> None:
        sock = self.socket
        if sock is None or not sock.is_open:
            return
        stats = self.stats
        while sock.readable():
            try:
                data, peer = sock.recvfrom_nowait()
            except WouldBlockError:
                return
            except NetworkError as exc:  # e.g. an ICMP error reported on the socket
                stats.errors += 1
                log.debug("%s service: %s", self.name, exc)
                continue
            stats.datagrams += 1
            stats.bytes += len(data)
            self.handle(sock, data, peer)

    def handle(self, sock: UDPSocket, data: bytes, peer: object) -> None:
        raise NotImplementedError


class UdpEchoServer(_UdpService):
    """Sends every datagram back to where it came from (RFC 862)."""

    default_port = ECHO_PORT
    name = "echo"

    def handle(self, sock: UDPSocket, data: bytes, peer: object) -> None:
        try:
            sock.sendto_nowait(peer, data)  # type: ignore[arg-type]
            self.stats.replies += 1
        except NetworkError as exc:
            self.stats.errors += 1
            log.debug("echo reply to %s failed: %s", peer, exc)


class UdpDiscardServer(_UdpService):
    """Throws every datagram away (RFC 863), counting it."""

    default_port = DISCARD_PORT
    name = "discard"

    def handle(self, sock: UDPSocket, data: bytes, peer: object) -> None:
        return None
