"""NetworkInterface: connect/disconnect, connection status and its callbacks, addresses, DNS.

An interface is also the application's DNS provider (as in Mbed): it installs the Socket
API's resolver on its stack, so interfaces sit above :mod:`netstack.socket` in the
dependency order (sockets never import interfaces; they only call ``get_stack()``).

Follows Mbed OS's ``NetworkInterface``: the status moves CONNECTING → (LOCAL_UP) →
GLOBAL_UP → … → DISCONNECTED, every change is reported to the attached callback and to
every event listener, and ``connect()`` is blocking by default — here an ``async`` call,
with :meth:`NetworkInterface.connect_blocking` for callers in other threads.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable

from netstack.address import IpVersion, SocketAddress
from netstack.errors import NetworkError, NetworkTimeoutError
from netstack.runtime.bridge import Runtime
from netstack.runtime.world import World
from netstack.socket.dns import Resolver
from netstack.stacks.core.link import NetIf
from netstack.stacks.core.stack import CoreStack


class ConnectionStatus(enum.IntEnum):
    LOCAL_UP = 0
    GLOBAL_UP = 1
    DISCONNECTED = 2
    CONNECTING = 3


class InterfaceEvent(enum.IntEnum):
    CONNECTION_STATUS_CHANGE = 0


StatusCallback = Callable[[InterfaceEvent, ConnectionStatus], None]


class NetworkInterface:
    """Base of every interface; subclasses implement :meth:`_bring_up`/:meth:`_bring_down`."""

    def __init__(self, stack: CoreStack) -> None:
        self._stack = stack
        if not isinstance(stack.resolver, Resolver):
            stack.resolver = Resolver(stack, server_source=stack.get_dns_servers)
        self._resolver: Resolver = stack.resolver
        self._dns_ops: dict[int, asyncio.Task[None]] = {}
        self._next_op = 0
        self._status = ConnectionStatus.DISCONNECTED
        self._attached: StatusCallback | None = None
        self._listeners: list[StatusCallback] = []
        self._status_waiters: list[asyncio.Future[None]] = []
        self.blocking = True

    # -- stack access ----------------------------------------------------------------------
    def get_stack(self) -> CoreStack:
        return self._stack

    @property
    def stack(self) -> CoreStack:
        return self._stack

    @property
    def world(self) -> World:
        return self._stack.world

    # -- status ----------------------------------------------------------------------------
    def get_connection_status(self) -> ConnectionStatus:
        return self._status

    @property
    def status(self) -> ConnectionStatus:
        return self._status

    def attach(self, callback: StatusCallback | None) -> None:
        """The single status callback (Mbed ``attach``)."""
        self._attached = callback

    def add_event_listener(self, callback: StatusCallback) -> None:
        self._listeners.append(callback)

    def remove_event_listener(self, callback: StatusCallback) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _set_status(self, status: ConnectionStatus) -> None:
        if status == self._status:
            return
        self._status = status
        event = InterfaceEvent.CONNECTION_STATUS_CHANGE
        if self._attached is not None:
            self._attached(event, status)
        for listener in list(self._listeners):
            listener(event, status)
        waiters, self._status_waiters = self._status_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_for_status(
        self, wanted: set[ConnectionStatus], timeout: float | None = None
    ) -> ConnectionStatus:
        """Wait (on the world's clock) until the status is one of ``wanted``."""
        loop = self.world.loop
        deadline = None if timeout is None else loop.time() + timeout
        while self._status not in wanted:
            fut: asyncio.Future[None] = loop.create_future()
            self._status_waiters.append(fut)
            timer = None
            if deadline is not None:
                if loop.time() >= deadline:
                    raise NetworkTimeoutError(f"status {self._status.name} after {timeout} s")
                timer = loop.call_at(deadline, _wake, fut)
            try:
                await fut
            finally:
                if timer is not None:
                    timer.cancel()
        return self._status

    # -- lifecycle ---------------------------------------------------------------------------
    async def connect(self) -> None:
        """Bring the interface up; returns once it is up (raises on failure)."""
        raise NotImplementedError

    async def disconnect(self) -> None:
        raise NotImplementedError

    def connect_blocking(self, runtime: Runtime, timeout: float | None = None) -> None:
        """``connect()`` for a caller in another thread than the runtime's loop."""
        runtime.run(self.connect(), timeout)

    def disconnect_blocking(self, runtime: Runtime, timeout: float | None = None) -> None:
        runtime.run(self.disconnect(), timeout)

    # -- addresses (subclasses override) -------------------------------------------------------
    def get_ip_address(self) -> SocketAddress | None:
        return None

    def get_netmask(self) -> SocketAddress | None:
        return None

    def get_gateway(self) -> SocketAddress | None:
        return None

    @property
    def ip_address(self) -> str | None:
        addr = self.get_ip_address()
        return addr.ip if addr else None

    @property
    def netmask(self) -> str | None:
        addr = self.get_netmask()
        return addr.ip if addr else None

    @property
    def gateway(self) -> str | None:
        addr = self.get_gateway()
        return addr.ip if addr else None

    # -- DNS (Mbed: a NetworkInterface is a DNS provider) -------------------------------------
    @property
    def resolver(self) -> Resolver:
        """The stack's resolver: asks the application's servers, then those learned from
        DHCP; caches answers by TTL."""
        return self._resolver

    async def gethostbyname(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> SocketAddress:
        """The first address of ``host``: a literal needs no traffic; DnsFailureError if the
        name cannot be resolved, ParameterError if it is not a valid name."""
        return await self._stack.gethostbyname(host, version)

    async def getaddrinfo(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> list[SocketAddress]:
        return await self._stack.getaddrinfo(host, version)

    def gethostbyname_async(
        self,
        host: str,
        callback: Callable[[SocketAddress | NetworkError], None],
        version: IpVersion = IpVersion.UNSPEC,
    ) -> int:
        """Mbed's callback form: returns an operation id for
        :meth:`gethostbyname_async_cancel`; ``callback`` gets the address or the error (it is
        never called for a cancelled operation)."""
        self._next_op += 1
        op = self._next_op

        async def run() -> None:
            try:
                result: SocketAddress | NetworkError = await self.gethostbyname(host, version)
            except NetworkError as exc:
                result = exc
            self._dns_ops.pop(op, None)
            callback(result)

        self._dns_ops[op] = self.world.loop.create_task(run())
        return op

    def gethostbyname_async_cancel(self, op: int) -> bool:
        task = self._dns_ops.pop(op, None)
        if task is None:
            return False
        task.cancel()
        return True

    def add_dns_server(self, address: SocketAddress | str) -> None:
        """Put a DNS server first in the list (Mbed ``add_dns_server``)."""
        self._stack.add_dns_server(
            SocketAddress(address, 53) if isinstance(address, str) else address
        )

    def get_dns_server(self, index: int) -> SocketAddress:
        """The ``index``-th server asked (ParameterError past the end)."""
        return self._resolver.get_server(index)


class NetifInterface(NetworkInterface):
    """An interface that is one :class:`~netstack.stacks.core.link.NetIf` of its stack:
    the address getters read it."""

    netif: NetIf

    def get_ip_address(self) -> SocketAddress | None:
        primary = self.netif.primary_ipv4
        return SocketAddress.from_packed(primary.address) if primary else None

    def get_netmask(self) -> SocketAddress | None:
        primary = self.netif.primary_ipv4
        return SocketAddress.from_packed(primary.netmask) if primary else None

    def get_ipv6_link_local_address(self) -> SocketAddress | None:
        """The link-local IPv6 address (with this interface as its scope), once DAD passed."""
        ip6 = self.netif.ip6
        address = ip6.link_local() if ip6 is not None else None
        if address is None:
            return None
        return SocketAddress(address, 0, scope_id=self.netif.index)

    async def wait_for_ipv6_address(
        self, *, global_address: bool = True, timeout: float = 10.0
    ) -> SocketAddress:
        """Wait (on the world's clock) until IPv6 has a usable global (or link-local)
        address; :class:`NetworkTimeoutError` if none comes in ``timeout`` seconds."""
        deadline = self.world.now() + timeout
        while True:
            found = self.get_ipv6_address() if global_address else (
                self.get_ipv6_link_local_address()
            )  # fmt: skip
            if found is not None:
                return found
            if self.world.now() >= deadline:
                raise NetworkTimeoutError(f"no IPv6 address after {timeout} s")
            await asyncio.sleep(0.05)

    def get_ipv6_address(self) -> SocketAddress | None:
        """A preferred global IPv6 address (static first), or None."""
        ip6 = self.netif.ip6
        address = ip6.global_address() if ip6 is not None else None
        return SocketAddress.from_packed(address) if address is not None else None

    def get_interface_name(self) -> str:
        return self.netif.name


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
