"""The NetworkStack contract: what the Socket API calls, on opaque socket handles.

Modelled on Mbed OS's ``NetworkStack``: calls never block; a call that cannot proceed raises
:class:`~netstack.errors.WouldBlockError`, and the stack reports readiness through the
callback attached with :meth:`NetworkStack.socket_attach`. The Socket layer builds blocking,
timeout and async behaviour on top.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

from netstack.address import IpVersion, SocketAddress
from netstack.runtime.world import World


class SocketKind(enum.Enum):
    UDP = "udp"
    TCP = "tcp"
    ICMP = "icmp"


class SocketOption(enum.IntEnum):
    """Option names at level :data:`SOL_SOCKET` (Mbed's ``NSAPI_SOCKET`` level)."""

    REUSEADDR = 0
    KEEPALIVE = 1
    KEEPIDLE = 2
    KEEPINTVL = 3
    LINGER = 4
    SNDBUF = 5
    RCVBUF = 6
    ADD_MEMBERSHIP = 7
    DROP_MEMBERSHIP = 8
    BIND_TO_DEVICE = 9
    BROADCAST = 13
    TTL = 14
    KEEPCNT = 15
    NODELAY = 16
    #: netstack's own: the TCP congestion controller by name, ``"newreno"`` (default) or
    #: ``"cubic"`` (like Linux ``TCP_CONGESTION``); may change on an open connection.
    CONGESTION = 17


SOL_SOCKET = 7000  # NSAPI_SOCKET


class HostResolver(Protocol):
    """Name resolution a stack delegates to (the Socket API's DNS resolver)."""

    async def getaddrinfo(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> list[SocketAddress]: ...


class SocketHandle(Protocol):
    """Whatever a stack returns from ``socket_open``; only the stack looks inside."""

    closed: bool


class NetworkStack(Protocol):
    """The contract every stack (ip, mesh, external) implements for the Socket API."""

    @property
    def world(self) -> World: ...

    def socket_open(self, kind: SocketKind) -> SocketHandle: ...

    def socket_close(self, handle: SocketHandle) -> None: ...

    def socket_bind(self, handle: SocketHandle, address: SocketAddress) -> None: ...

    def socket_connect(self, handle: SocketHandle, address: SocketAddress) -> None: ...

    def socket_sendto(
        self, handle: SocketHandle, address: SocketAddress | None, data: bytes
    ) -> int: ...

    def socket_recvfrom(self, handle: SocketHandle) -> tuple[bytes, SocketAddress]:
        """One datagram; :class:`~netstack.errors.WouldBlockError` when none is queued."""
        ...

    def socket_readable(self, handle: SocketHandle) -> bool: ...

    def socket_writable(self, handle: SocketHandle) -> bool: ...

    # stream sockets
    def socket_listen(self, handle: SocketHandle, backlog: int) -> None: ...

    def socket_accept(self, handle: SocketHandle) -> tuple[SocketHandle, SocketAddress]: ...

    def socket_send(self, handle: SocketHandle, data: bytes) -> int: ...

    def socket_recv(self, handle: SocketHandle, max_bytes: int) -> bytes: ...

    def socket_shutdown(self, handle: SocketHandle, how: str) -> None: ...

    def socket_connected(self, handle: SocketHandle) -> bool: ...

    def socket_attach(self, handle: SocketHandle, callback: Callable[[], None] | None) -> None: ...

    def socket_setsockopt(
        self, handle: SocketHandle, level: int, option: int, value: object
    ) -> None: ...

    def socket_getsockopt(self, handle: SocketHandle, level: int, option: int) -> object: ...

    def socket_getsockname(self, handle: SocketHandle) -> SocketAddress: ...

    def socket_getpeername(self, handle: SocketHandle) -> SocketAddress: ...

    async def gethostbyname(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> SocketAddress: ...

    async def getaddrinfo(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> list[SocketAddress]: ...

    def add_dns_server(self, address: SocketAddress) -> None: ...

    def get_dns_servers(self) -> list[SocketAddress]: ...
