"""UDPSocket: datagrams over any stack (Mbed ``UDPSocket`` in Python spelling)."""

from __future__ import annotations

from netstack.address import SocketAddress
from netstack.errors import WouldBlockError
from netstack.socket.base import AddressLike, InternetSocket, resolve_address, to_address
from netstack.stacks.core.api import SOL_SOCKET, SocketKind, SocketOption

Datagram = tuple[bytes, SocketAddress]


class UDPSocket(InternetSocket):
    """A UDP socket. ``connect`` sets the default peer and filters what is received.

    >>> sock = UDPSocket(interface)             # doctest: +SKIP
    >>> sock.bind(7)                            # doctest: +SKIP
    >>> data, peer = await sock.recvfrom()      # doctest: +SKIP
    >>> await sock.sendto(peer, data)           # doctest: +SKIP
    """

    kind = SocketKind.UDP

    def connect(self, address: AddressLike, port: int | None = None) -> None:
        """Set the default peer; an empty address (``""``) removes it."""
        stack, handle = self._require()
        stack.socket_connect(handle, to_address(address, port))

    def sendto_nowait(self, address: AddressLike | None, data: bytes) -> int:
        """Send one datagram now (UDP never waits for buffer space)."""
        stack, handle = self._require()
        addr = None if address is None else to_address(address)
        return stack.socket_sendto(handle, addr, bytes(data))

    def recvfrom_nowait(self, bufsize: int = 65535) -> Datagram:
        """The oldest queued datagram (truncated to ``bufsize``), or WouldBlockError."""
        stack, handle = self._require()
        data, addr = stack.socket_recvfrom(handle)
        return (data if len(data) <= bufsize else data[:bufsize]), addr

    async def sendto(self, address: AddressLike, data: bytes) -> int:
        """Send a datagram; a host name is resolved first (the ``_nowait`` form takes IP
        addresses only)."""
        stack, _handle = self._require()
        return self.sendto_nowait(await resolve_address(stack, address), data)

    async def send(self, data: bytes) -> int:
        return self.sendto_nowait(None, data)

    async def recvfrom(self, bufsize: int = 65535) -> Datagram:
        """Wait (per the socket's timeout) for a datagram."""
        stack, handle = self._require()
        await self._wait_until(lambda: stack.socket_readable(handle), "recvfrom")
        return self.recvfrom_nowait(bufsize)

    async def recv(self, bufsize: int = 65535) -> bytes:
        return (await self.recvfrom(bufsize))[0]

    def readable(self) -> bool:
        stack, handle = self._require()
        return stack.socket_readable(handle)

    def set_broadcast(self, on: bool = True) -> None:
        self.setsockopt(SOL_SOCKET, SocketOption.BROADCAST, on)

    def join_multicast_group(self, address: AddressLike) -> None:
        """Receive an IPv6 multicast group (``"ff02::1:2"``, with ``%scope`` for one
        interface); the interfaces announce it with MLDv2. Left on close."""
        self.setsockopt(SOL_SOCKET, SocketOption.ADD_MEMBERSHIP, to_address(address))

    def leave_multicast_group(self, address: AddressLike) -> None:
        self.setsockopt(SOL_SOCKET, SocketOption.DROP_MEMBERSHIP, to_address(address))

    def drain(self) -> list[Datagram]:
        """Every queued datagram, without waiting."""
        out: list[Datagram] = []
        while True:
            try:
                out.append(self.recvfrom_nowait())
            except WouldBlockError:
                return out
