"""InternetSocket: what every socket shares — open/close, timeouts, readiness, sigio.

Calls that would wait are coroutines and honour the socket's timeout: ``None`` waits
forever (blocking, the default), ``0`` never waits (non-blocking: raises
:class:`~netstack.errors.WouldBlockError`), a positive number waits that long on the world's
clock and then raises :class:`~netstack.errors.NetworkTimeoutError` (a ``TimeoutError``).
The ``*_nowait`` methods never wait, whatever the timeout. From another thread, run the
coroutines through :meth:`netstack.runtime.Runtime.run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, TypeVar

from netstack.address import SocketAddress
from netstack.errors import (
    NetworkTimeoutError,
    NoSocketError,
    ParameterError,
    WouldBlockError,
)
from netstack.stacks.core.api import NetworkStack, SocketHandle, SocketKind

T = TypeVar("T")
AddressLike = SocketAddress | tuple[str, int] | str


class HasStack(Protocol):
    def get_stack(self) -> NetworkStack: ...


def to_address(address: AddressLike, port: int | None = None) -> SocketAddress:
    if isinstance(address, SocketAddress):
        return address if port is None else address.with_port(port)
    if isinstance(address, tuple):
        return SocketAddress(address)
    return SocketAddress(address, port)


def host_and_port(address: AddressLike, port: int | None = None) -> tuple[str, int]:
    """The host text and port of an address given as text or a (host, port) tuple."""
    if isinstance(address, tuple):
        return str(address[0]), int(address[1])
    if isinstance(address, SocketAddress):
        return address.ip, address.port if port is None else port
    return str(address), port or 0


async def resolve_address(
    stack: NetworkStack, address: AddressLike, port: int | None = None
) -> SocketAddress:
    """``address`` as a SocketAddress: IP literals directly, host names through the stack's
    resolver (DnsFailureError when they do not resolve)."""
    try:
        return to_address(address, port)
    except ParameterError:  # not an IP literal: a name
        host, number = host_and_port(address, port)
        return (await stack.gethostbyname(host)).with_port(number)


def resolve_stack(target: NetworkStack | HasStack) -> NetworkStack:
    get_stack = getattr(target, "get_stack", None)
    if callable(get_stack):
        stack: NetworkStack = get_stack()
        return stack
    return target  # type: ignore[return-value]


class InternetSocket:
    """Base of UDPSocket, ICMPSocket (and TCPSocket later)."""

    kind: SocketKind

    def __init__(self, stack: NetworkStack | HasStack | None = None) -> None:
        self._stack: NetworkStack | None = None
        self._handle: SocketHandle | None = None
        self._timeout: float | None = None
        self._sigio: Callable[[], None] | None = None
        self._waiters: list[asyncio.Future[None]] = []
        if stack is not None:
            self.open(stack)

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, stack: NetworkStack | HasStack) -> None:
        """Open on a stack, or on an interface's stack (Mbed ``Socket::open``)."""
        if self._handle is not None:
            raise ParameterError("socket already open")
        if stack is None:
            raise ParameterError("no stack")
        resolved = resolve_stack(stack)
        self._handle = resolved.socket_open(self.kind)
        self._stack = resolved
        resolved.socket_attach(self._handle, self._event)

    def close(self) -> None:
        if self._handle is None or self._stack is None:
            raise NoSocketError("socket is not open")
        self._stack.socket_close(self._handle)
        self._handle = None
        self._sigio = None
        self._event()  # wake waiters: they raise NoSocketError

    @property
    def is_open(self) -> bool:
        return self._handle is not None and not self._handle.closed

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.is_open:
            self.close()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.is_open:
            self.close()

    def _require(self) -> tuple[NetworkStack, SocketHandle]:
        if self._handle is None or self._stack is None or self._handle.closed:
            raise NoSocketError("socket is not open")
        return self._stack, self._handle

    @property
    def stack(self) -> NetworkStack:
        return self._require()[0]

    # -- modes -----------------------------------------------------------------------------
    def set_timeout(self, seconds: float | None) -> None:
        """``None``: block forever; ``0``: non-blocking; else wait at most ``seconds``."""
        if seconds is not None and seconds < 0:
            seconds = None  # Mbed: a negative timeout means forever
        self._timeout = seconds

    def set_blocking(self, blocking: bool) -> None:
        self._timeout = None if blocking else 0.0

    @property
    def timeout(self) -> float | None:
        return self._timeout

    def sigio(self, callback: Callable[[], None] | None) -> None:
        """Called on every state change (readable, writable, error); may be spurious."""
        self._sigio = callback

    # -- address helpers -------------------------------------------------------------------
    def bind(self, address: AddressLike | int = 0, port: int | None = None) -> None:
        """Bind to a port (``bind(7)``) or an address (``bind(("10.0.0.1", 7))``)."""
        stack, handle = self._require()
        addr = SocketAddress("", address) if isinstance(address, int) else to_address(address, port)
        stack.socket_bind(handle, addr)

    def getsockname(self) -> SocketAddress:
        stack, handle = self._require()
        return stack.socket_getsockname(handle)

    def getpeername(self) -> SocketAddress:
        stack, handle = self._require()
        return stack.socket_getpeername(handle)

    def setsockopt(self, level: int, option: int, value: object) -> None:
        stack, handle = self._require()
        stack.socket_setsockopt(handle, level, option, value)

    def getsockopt(self, level: int, option: int) -> object:
        stack, handle = self._require()
        return stack.socket_getsockopt(handle, level, option)

    # -- readiness ---------------------------------------------------------------------------
    def _event(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        cb = self._sigio
        if cb is not None:
            cb()

    async def _wait_until(self, ready: Callable[[], bool], what: str) -> None:
        """Wait (per the timeout) until ``ready()`` holds."""
        if ready():
            return
        timeout = self._timeout
        if timeout == 0:
            raise WouldBlockError(f"{what} would block")
        loop = self._require()[0].world.loop
        deadline = None if timeout is None else loop.time() + timeout
        await self._wait_deadline(ready, what, deadline)

    async def _wait_deadline(
        self, ready: Callable[[], bool], what: str, deadline: float | None
    ) -> None:
        """Wait until ``ready()`` holds or the loop's clock reaches ``deadline`` (None: no
        limit), woken by the socket's readiness events."""
        loop = self._require()[0].world.loop
        while not ready():
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            timer = None
            if deadline is not None:
                if deadline <= loop.time():
                    raise NetworkTimeoutError(f"{what} timed out")
                timer = loop.call_at(deadline, _expire, fut)
            try:
                await fut
            finally:
                if timer is not None:
                    timer.cancel()
            if self._handle is None:
                raise NoSocketError("socket closed while waiting")


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
