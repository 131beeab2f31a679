"""ICMPSocket: echo requests out, matching replies and errors in (a Linux-style ping socket)."""

from __future__ import annotations

from netstack.address import SocketAddress
from netstack.socket.base import AddressLike, InternetSocket, to_address
from netstack.stacks.core.api import SocketKind


class ICMPSocket(InternetSocket):
    """Sends ICMP echo requests; the stack sets the identifier to the socket's own and
    delivers the replies (and ICMP errors quoting its requests) carrying it."""

    kind = SocketKind.ICMP

    def sendto_nowait(self, address: AddressLike, message: bytes) -> int:
        stack, handle = self._require()
        return stack.socket_sendto(handle, to_address(address), bytes(message))

    async def sendto(self, address: AddressLike, message: bytes) -> int:
        return self.sendto_nowait(address, message)

    def recvfrom_nowait(self) -> tuple[bytes, SocketAddress]:
        stack, handle = self._require()
        return stack.socket_recvfrom(handle)

    async def recvfrom(self) -> tuple[bytes, SocketAddress]:
        stack, handle = self._require()
        await self._wait_until(lambda: stack.socket_readable(handle), "recvfrom")
        return self.recvfrom_nowait()

    @property
    def ident(self) -> int:
        """The echo identifier this socket owns (0 until bound or first send)."""
        return self.getsockname().port
