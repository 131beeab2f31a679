"""The socket object of the stdlib facade: ``socket.socket``'s interface over netstack.

A :class:`socket` wraps one netstack :class:`~netstack.socket.tcp.TCPSocket` or
:class:`~netstack.socket.udp.UDPSocket` and runs every call on the world's loop thread
through its :class:`~netstack.socket.stdlib.Facade` (see that module for the model, and
docs/stdlib-sockets.md for what differs from the stdlib). It also holds the conversions
the facade shares: stdlib address tuples, option values, errors.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import os
import socket as _stdlib
import sys
import warnings
import weakref
from collections.abc import Awaitable, Callable
from io import BufferedReader, BufferedRWPair, BufferedWriter, IOBase, TextIOWrapper
from typing import TYPE_CHECKING, Literal, TypeVar, cast, overload

from netstack.address import IpVersion, SocketAddress
from netstack.errors import NetworkError, NetworkTimeoutError, ParameterError, UnsupportedError
from netstack.errors import WouldBlockError as _WouldBlock
from netstack.socket import sockopt
from netstack.socket.readiness import ReadinessFd
from netstack.socket.tcp import TCPSocket
from netstack.socket.udp import UDPSocket
from netstack.stacks.core.api import SOL_SOCKET as NS_SOL_SOCKET
from netstack.stacks.core.api import SocketOption

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from netstack.socket.stdlib import Facade

__all__ = ["AddressArg", "SockAddr", "socket"]

T = TypeVar("T")
AF_INET, AF_INET6 = _stdlib.AF_INET, _stdlib.AF_INET6
SOCK_STREAM, SOCK_DGRAM = _stdlib.SOCK_STREAM, _stdlib.SOCK_DGRAM
#: An address as the stdlib returns it: (host, port) or (host, port, flowinfo, scope_id).
SockAddr = tuple[str, int] | tuple[str, int, int, int]
#: An address as the stdlib takes it (a host name is resolved with the stack's resolver).
AddressArg = tuple[str | bytes | None, int] | tuple[str, int, int] | tuple[str, int, int, int]

_SEND_CHUNK = 65536
_MAX_DATAGRAM = 65507
_V4_MAPPED = bytes(10) + b"\xff\xff"
_NONBLOCK_FLAGS = getattr(_stdlib, "SOCK_NONBLOCK", 0)
_TYPE_FLAGS = _NONBLOCK_FLAGS | getattr(_stdlib, "SOCK_CLOEXEC", 0)
_MSG_DONTWAIT = getattr(_stdlib, "MSG_DONTWAIT", 0)


_SO_ERROR = (_stdlib.SOL_SOCKET, _stdlib.SO_ERROR)
_SO_TYPE = (_stdlib.SOL_SOCKET, _stdlib.SO_TYPE)
_SO_ACCEPTCONN = (_stdlib.SOL_SOCKET, _stdlib.SO_ACCEPTCONN)
_V6ONLY = (_stdlib.IPPROTO_IPV6, _stdlib.IPV6_V6ONLY)


def oserror(code: int) -> OSError:
    """The error the stdlib raises for ``code`` (OSError picks the subclass itself:
    BrokenPipeError for EPIPE, …)."""
    return OSError(code, os.strerror(code))


def sockaddr(family: int, address: SocketAddress) -> SockAddr:
    """The stdlib's tuple for ``address`` seen by a ``family`` socket. An AF_INET6 socket
    shows IPv4 peers as IPv4-mapped addresses, the IPv4 wildcard (unbound) as ``::``."""
    packed = address.packed
    if family != AF_INET6:
        return (address.ip.partition("%")[0] or "0.0.0.0", address.port)
    if len(packed) == 16:
        return (_stdlib.inet_ntop(AF_INET6, packed), address.port, 0, address.scope_id)
    if not any(packed):
        return ("::", address.port, 0, 0)
    return (_stdlib.inet_ntop(AF_INET6, _V4_MAPPED + packed), address.port, 0, 0)


def unmap(address: SocketAddress) -> SocketAddress:
    """An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``) as the IPv4 address it maps."""
    packed = address.packed
    if packed[:12] == _V4_MAPPED:
        return SocketAddress(packed[12:], address.port)
    return address


def check_timeout(value: float | None) -> float | None:
    """A timeout as ``settimeout`` takes it: None, or seconds >= 0."""
    if value is None:
        return None
    seconds = float(value)
    if seconds < 0:
        raise ValueError("Timeout value out of range")
    return seconds


def _refresher(sock: socket) -> Callable[[], None]:
    """The netstack socket's sigio callback: refresh ``sock``'s readiness descriptor. It
    holds ``sock`` weakly, so a socket dropped without close() can still be collected."""
    ref = weakref.ref(sock)

    def refresh() -> None:
        target = ref()
        if target is not None:
            target._refresh()

    return refresh


def _writable_view(buffer: WriteableBuffer, nbytes: int, what: str) -> memoryview:
    view = memoryview(buffer).cast("B")
    if nbytes < 0:
        raise ValueError(f"negative buffersize in {what}")
    if nbytes > len(view):
        raise ValueError("buffer too small for requested bytes")
    return view[: nbytes or len(view)]


class socket:
    """A netstack socket with the interface of ``socket.socket`` (AF_INET or AF_INET6,
    SOCK_STREAM or SOCK_DGRAM). Made by :meth:`Facade.socket` (or ``socket(family, type,
    facade=f)``), :meth:`accept` and the facade's helpers."""

    _timeout: float | None
    _pipe: ReadinessFd | None

    def __init__(
        self,
        family: int = AF_INET,
        type: int = SOCK_STREAM,
        proto: int = 0,
        fileno: None = None,
        *,
        facade: Facade,
    ) -> None:
        if fileno is not None:
            raise ValueError("a netstack socket cannot adopt a file descriptor")
        if family not in (AF_INET, AF_INET6):
            raise oserror(errno.EAFNOSUPPORT)
        kind = type & ~_TYPE_FLAGS
        if kind not in (SOCK_STREAM, SOCK_DGRAM):
            raise oserror(errno.ESOCKTNOSUPPORT)
        if proto not in (0, _stdlib.IPPROTO_TCP if kind == SOCK_STREAM else _stdlib.IPPROTO_UDP):
            raise oserror(errno.EPROTONOSUPPORT)
        self._pipe = None

        def open_socket() -> TCPSocket | UDPSocket:
            ns = TCPSocket(facade.stack) if kind == SOCK_STREAM else UDPSocket(facade.stack)
            ns.sigio(_refresher(self))
            return ns

        self._setup(facade, family, kind, proto, facade._call(open_socket))
        if type & _NONBLOCK_FLAGS:
            self._timeout = 0.0

    def _setup(
        self, facade: Facade, family: int, kind: int, proto: int, ns: TCPSocket | UDPSocket
    ) -> None:
        self._facade = facade
        self._family = _stdlib.AddressFamily(family)
        self._type = _stdlib.SocketKind(kind)
        self._proto = proto
        self._ns = ns
        self._timeout = facade.getdefaulttimeout()
        self._closed = False  # close() was called (the real close may wait for makefile())
        self._released = False  # the netstack socket is closed
        self._io_refs = 0  # open makefile() objects, counted as the stdlib's socket does
        self._peer = False  # TCP: connect started, or accepted; UDP: connected
        self._confirmed = False  # TCP: a connect() call has seen the connection established
        self._listening = False
        #: connections taken from a polled listener for this socket's family, not yet
        #: accepted (other-family ones are refused as they come, so polling stays honest)
        self._ready: collections.deque[tuple[TCPSocket, SocketAddress]] = collections.deque()
        self._shut_rd = self._shut_wr = False
        self._error_reported = False
        self._v6only = False
        self._pipe = None

    @classmethod
    def _accepted(cls, listener: socket, ns: TCPSocket) -> socket:
        """Wrap a connection the listener accepted (on the loop thread)."""
        sock = cls.__new__(cls)
        sock._setup(listener._facade, listener._family, SOCK_STREAM, listener._proto, ns)
        sock._peer = sock._confirmed = True
        ns.sigio(_refresher(sock))
        return sock

    # -- attributes ----------------------------------------------------------------------------
    @property
    def family(self) -> _stdlib.AddressFamily:
        return self._family

    @property
    def type(self) -> _stdlib.SocketKind:
        return self._type

    @property
    def proto(self) -> int:
        return self._proto

    @property
    def timeout(self) -> float | None:
        return self._timeout

    def __repr__(self) -> str:
        text = (
            f"<{self.__class__.__module__}.{self.__class__.__qualname__}"
            f"{' [closed]' if self._released else ''}"
            f"{f' fd={self._pipe.fileno()},' if self._pipe is not None else ''}"
            f" family={self._family}, type={self._type}, proto={self._proto}"
        )
        if not self._released and not self._facade.runtime.loop.is_closed():
            for label, getter in (("laddr", self.getsockname), ("raddr", self.getpeername)):
                with contextlib.suppress(OSError):
                    text += f", {label}={getter()}"
        return text + ">"

    def __enter__(self) -> socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- modes ---------------------------------------------------------------------------------
    def settimeout(self, value: float | None) -> None:
        """None: block; 0: never wait (BlockingIOError); t: TimeoutError after t seconds."""
        self._timeout = check_timeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close. While files from :meth:`makefile` are open the socket stays usable by them,
        and closes with the last one (as the stdlib's)."""
        self._closed = True
        if self._io_refs > 0 or self._released:
            return
        self._released = True
        if self._facade.runtime.loop.is_closed():  # the world is gone: nothing to tell it
            if self._pipe is not None:
                self._pipe.close()
            return
        self._facade._call(self._release)

    def __del__(self) -> None:
        """Dropped without close(): warn, as the stdlib does, and close on the loop (without
        waiting for it: a finalizer may run on any thread, even the loop's)."""
        if getattr(self, "_released", True):
            return
        self._released = True
        warnings.warn(f"unclosed netstack socket {self._type!r}", ResourceWarning, stacklevel=2)
        with contextlib.suppress(RuntimeError):  # the world's loop is already closed
            self._facade.runtime.loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        while self._ready:  # taken for a polled accept() that never came
            child, _peer = self._ready.popleft()
            if child.is_open:
                child.close()
        if self._ns.is_open:
            self._ns.close()
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def _decref_socketios(self) -> None:
        """Called by ``socket.SocketIO.close``: one makefile() object fewer."""
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    def fileno(self) -> int:
        """A descriptor for select/selectors that polls as this socket does (readable:
        data, end of stream, an error or a connection to accept; writable: a send would
        not block); -1 once closed."""
        if self._released:
            return -1
        if self._pipe is None:

            def create() -> int:
                if self._pipe is None:
                    self._pipe = ReadinessFd()
                    self._refresh()
                return self._pipe.fileno()

            return self._facade._call(create)
        return self._pipe.fileno()

    def _refresh(self) -> None:
        """Bring the readiness descriptor up to date (sigio callback; loop thread)."""
        pipe = self._pipe
        if pipe is None:
            return
        ns = self._ns
        if not ns.is_open:
            pipe.set(True, True)
        elif isinstance(ns, UDPSocket):
            pipe.set(ns.readable() or self._shut_rd, True)
        elif not self._peer and not self._listening:
            pipe.set(True, True)  # a fresh TCP socket polls as hung up, as on Linux
        elif self._listening:
            self._take_ready(ns)
            pipe.set(bool(self._ready), True)
        else:
            pipe.set(ns.readable() or self._shut_rd, ns.writable())

    def _take_ready(self, ns: TCPSocket | UDPSocket) -> None:
        """A polled listener: take queued connections (up to the backlog), refusing those
        of the family this socket does not serve, so it polls readable only for a
        connection ``accept()`` will return at once."""
        assert isinstance(ns, TCPSocket)
        while len(self._ready) < _stdlib.SOMAXCONN and ns.readable():
            try:
                child, peer = ns.accept_nowait()
            except _WouldBlock:
                return
            if self._family_ok(peer):
                self._ready.append((child, peer))
            else:
                child.setsockopt(NS_SOL_SOCKET, SocketOption.LINGER, 0)  # refused with a RST
                child.close()

    def _check_open(self) -> None:
        if self._released:
            raise oserror(errno.EBADF)

    def _tcp(self) -> TCPSocket:
        ns = self._ns
        assert isinstance(ns, TCPSocket)
        return ns

    def _udp(self) -> UDPSocket:
        ns = self._ns
        assert isinstance(ns, UDPSocket)
        return ns

    # -- running operations --------------------------------------------------------------------
    def _op(
        self,
        what: str,
        wait: Callable[[], Awaitable[T]],
        nowait: Callable[[], T],
        flags: int = 0,
    ) -> T:
        """``nowait`` on a non-blocking socket (or with MSG_DONTWAIT), else ``wait`` within
        the socket's timeout; either way the readiness descriptor is refreshed after it."""
        self._check_open()
        if flags & ~_MSG_DONTWAIT:
            raise OSError(errno.EOPNOTSUPP, f"{what}: flags {flags:#x} are not supported")
        if self._timeout == 0 or flags & _MSG_DONTWAIT:
            return self._now(nowait)
        return self._facade._run(what, self._waiting(wait, self._timeout))

    def _now(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which never waits) on the loop, then refresh the readiness."""

        def run() -> T:
            try:
                return fn()
            finally:
                self._refresh()

        return self._facade._call(run)

    async def _waiting(self, wait: Callable[[], Awaitable[T]], timeout: float | None) -> T:
        try:
            if timeout is None:
                return await wait()
            scope = asyncio.timeout(timeout)
            try:
                async with scope:
                    return await wait()
            except TimeoutError:
                if scope.expired():
                    raise NetworkTimeoutError("timed out") from None
                raise  # the connection's own verdict (ConnectionTimeoutError)
        finally:
            self._refresh()

    def _family_ok(self, peer: SocketAddress) -> bool:
        """Whether traffic from ``peer`` is for this socket: netstack's wildcard binds both
        families, so an AF_INET socket (or an AF_INET6 one with IPV6_V6ONLY) filters."""
        if self._family == AF_INET:
            return peer.version == IpVersion.IPV4
        return not (self._v6only and peer.version == IpVersion.IPV4)

    # -- connections ---------------------------------------------------------------------------
    def bind(self, address: AddressArg) -> None:
        self._check_open()
        target = self._facade._target(self._family, address, "bind")
        ns = self._ns

        def bind() -> None:
            if ns.getsockname().port:
                raise oserror(errno.EINVAL)  # already bound
            try:
                ns.bind(target)
            except ParameterError:
                raise oserror(errno.EADDRNOTAVAIL) from None

        self._facade._call(bind)

    def listen(self, backlog: int | None = None) -> None:
        self._check_open()
        if self._type != SOCK_STREAM:
            raise oserror(errno.EOPNOTSUPP)
        size = max(1, min(_stdlib.SOMAXCONN, 128) if backlog is None else backlog)
        ns = self._tcp()

        def listen() -> None:
            ns.listen(size)
            self._listening = True
            self._refresh()

        self._facade._call(listen)

    def accept(self) -> tuple[socket, SockAddr]:
        """The next connection and its peer; the new socket has the default timeout."""
        self._check_open()
        if not self._listening:
            raise oserror(errno.EINVAL)
        ns = self._tcp()

        def take(child: TCPSocket, peer: SocketAddress) -> tuple[socket, SockAddr] | None:
            if self._family_ok(peer):
                return socket._accepted(self, child), sockaddr(self._family, peer)
            child.setsockopt(NS_SOL_SOCKET, SocketOption.LINGER, 0)  # refused with a RST
            child.close()
            return None

        def nowait() -> tuple[socket, SockAddr]:
            if self._ready:
                got = take(*self._ready.popleft())
                assert got is not None
                return got
            while (got := take(*ns.accept_nowait())) is None:
                pass
            return got

        async def wait() -> tuple[socket, SockAddr]:
            if self._ready:
                return nowait()
            while (got := take(*await ns.accept())) is None:
                pass
            return got

        return self._op("accept", wait, nowait)

    def connect(self, address: AddressArg) -> None:
        """Connect (TCP) or set the default peer (UDP). A non-blocking TCP socket raises
        BlockingIOError(EINPROGRESS): wait until it is writable, then read SO_ERROR."""
        self._check_open()
        target = self._facade._target(self._family, address, "connect")
        if isinstance(self._ns, UDPSocket):
            udp = self._ns
            self._now(lambda: udp.connect(target))
            self._peer = True
            return
        ns = self._tcp()
        if self._peer:  # as Linux: established once, then EISCONN; else its error
            if not self._facade._call(ns.connected):  # raises how the attempt failed
                raise oserror(errno.EALREADY)
            if self._confirmed:
                raise oserror(errno.EISCONN)
            self._confirmed = True
            return
        self._peer = True
        if self._timeout == 0:
            try:
                self._facade._run("connect", self._start_connect(ns, target))
            except _WouldBlock:
                raise oserror(errno.EINPROGRESS) from None
        else:
            self._op("connect", lambda: ns.connect(target), lambda: None)
        self._confirmed = True

    async def _start_connect(self, ns: TCPSocket, target: SocketAddress) -> None:
        ns.set_timeout(0)  # resolved already: connect() returns or raises without suspending
        try:
            await ns.connect(target)
        finally:
            ns.set_timeout(None)
            self._refresh()

    def connect_ex(self, address: AddressArg) -> int:
        """:meth:`connect` returning 0 or the errno instead of raising (EAGAIN when the
        socket's timeout expires, as CPython's)."""
        try:
            self.connect(address)
        except _stdlib.gaierror:
            raise
        except NetworkTimeoutError:
            return errno.EAGAIN
        except OSError as exc:
            return exc.errno or errno.EIO
        return 0

    def getsockname(self) -> SockAddr:
        self._check_open()
        return sockaddr(self._family, self._facade._call(self._ns.getsockname))

    def getpeername(self) -> SockAddr:
        self._check_open()
        return sockaddr(self._family, self._facade._call(self._ns.getpeername))

    def shutdown(self, how: int) -> None:
        """SHUT_WR sends FIN after the queued data; after SHUT_RD reads end (b"") once the
        received data is read."""
        self._check_open()
        if how not in (_stdlib.SHUT_RD, _stdlib.SHUT_WR, _stdlib.SHUT_RDWR):
            raise oserror(errno.EINVAL)
        if not self._peer:
            raise oserror(errno.ENOTCONN)
        ns = self._ns

        def shutdown() -> None:
            if how != _stdlib.SHUT_RD:
                if isinstance(ns, TCPSocket) and not self._shut_wr:
                    ns.shutdown("write")
                self._shut_wr = True
            if how != _stdlib.SHUT_WR:
                self._shut_rd = True

        self._now(shutdown)

    # -- data ----------------------------------------------------------------------------------
    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        """Queue what fits, waiting (per the timeout) until something does; the number of
        bytes taken. UDP: one datagram to the connected peer."""
        view = memoryview(data).cast("B")
        if self._type == SOCK_DGRAM:
            return self._send_datagram(view, None, flags)
        return self._send_stream(view[:_SEND_CHUNK], flags, everything=False)

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        """Send all of ``data``; the timeout bounds the whole call (as CPython's)."""
        view = memoryview(data).cast("B")
        if self._type == SOCK_DGRAM:
            self._send_datagram(view, None, flags)
            return
        sent = 0
        while sent < len(view):  # one call when blocking; a chunk per call when not
            sent += self._send_stream(view[sent:], flags, everything=True)

    def _send_stream(self, view: memoryview, flags: int, *, everything: bool) -> int:
        self._check_open()
        if self._shut_wr or not self._peer:
            raise oserror(errno.EPIPE)
        ns = self._tcp()

        def nowait() -> int:
            if not ns.connected():  # raises how the connection failed
                raise _WouldBlock("still connecting")
            return ns.send_nowait(view[:_SEND_CHUNK])

        async def wait() -> int:
            sent = 0
            while sent < len(view) and (everything or not sent):
                await ns._wait_until(ns.writable, "send")
                sent += ns.send_nowait(view[sent : sent + _SEND_CHUNK])
            return sent

        return self._op("sendall" if everything else "send", wait, nowait, flags)

    @overload
    def sendto(self, data: ReadableBuffer, address: AddressArg, /) -> int: ...

    @overload
    def sendto(self, data: ReadableBuffer, flags: int, address: AddressArg, /) -> int: ...

    def sendto(
        self, data: ReadableBuffer, flags_or_address: int | AddressArg, address: object = None, /
    ) -> int:
        """One datagram to ``address`` (a connected TCP socket ignores it, as Linux)."""
        if isinstance(flags_or_address, int):
            flags, where = flags_or_address, address
        else:
            flags, where = 0, flags_or_address
        if self._type == SOCK_STREAM:
            return self.send(data, flags)
        self._check_open()
        target = self._facade._target(self._family, where, "sendto")
        return self._send_datagram(memoryview(data).cast("B"), target, flags)

    def _send_datagram(self, view: memoryview, target: SocketAddress | None, flags: int) -> int:
        self._check_open()
        if flags & ~_MSG_DONTWAIT:
            raise OSError(errno.EOPNOTSUPP, f"sendto: flags {flags:#x} are not supported")
        if self._shut_wr:
            raise oserror(errno.EPIPE)
        if len(view) > _MAX_DATAGRAM:
            raise oserror(errno.EMSGSIZE)
        ns, payload = self._udp(), bytes(view)
        return self._now(lambda: ns.sendto_nowait(target, payload))  # UDP never waits

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes (TCP: b"" at end of stream); UDP: one datagram."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        if self._type == SOCK_DGRAM:
            return self._recv_datagram(bufsize, flags)[0]
        self._check_open()
        if not self._peer:
            raise oserror(errno.ENOTCONN)
        ns = self._tcp()
        if bufsize == 0:
            return b""

        def nowait() -> bytes:
            try:
                return ns.recv_nowait(bufsize)
            except _WouldBlock:
                if self._shut_rd:
                    return b""
                raise

        async def wait() -> bytes:
            return nowait() if self._shut_rd else await ns.recv(bufsize)

        return self._op("recv", wait, nowait, flags)

    def _recv_datagram(self, bufsize: int, flags: int) -> tuple[bytes, SocketAddress | None]:
        ns = self._udp()

        def nowait() -> tuple[bytes, SocketAddress | None]:
            while True:
                try:
                    data, peer = ns.recvfrom_nowait(bufsize)
                except _WouldBlock:
                    if self._shut_rd:
                        return b"", None
                    raise
                if self._family_ok(peer):
                    return data, peer

        async def wait() -> tuple[bytes, SocketAddress | None]:
            while not self._shut_rd:
                data, peer = await ns.recvfrom(bufsize)
                if self._family_ok(peer):
                    return data, peer
            return nowait()

        return self._op("recvfrom", wait, nowait, flags)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, SockAddr | None]:
        """``(data, sender)``; a stream socket names no sender (None), as the stdlib's."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        if self._type == SOCK_STREAM:
            return self.recv(bufsize, flags), None
        data, peer = self._recv_datagram(bufsize, flags)
        return data, None if peer is None else sockaddr(self._family, peer)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        view = _writable_view(buffer, nbytes, "recv_into")
        data = self.recv(len(view), flags)
        view[: len(data)] = data
        return len(data)

    def recvfrom_into(
        self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, SockAddr | None]:
        view = _writable_view(buffer, nbytes, "recvfrom_into")
        data, peer = self.recvfrom(len(view), flags)
        view[: len(data)] = data
        return len(data), peer

    # -- options -------------------------------------------------------------------------------
    def setsockopt(
        self, level: int, optname: int, value: int | ReadableBuffer | None, optlen: int = 0, /
    ) -> None:
        """The options netstack has (see :mod:`netstack.socket.sockopt`); others raise
        OSError(ENOPROTOOPT)."""
        self._check_open()
        if value is None:
            raise oserror(errno.EINVAL)
        if (level, optname) == _V6ONLY and self._family == AF_INET6:
            self._v6only = bool(sockopt.int_value(value))
            return
        ns = self._ns
        group = None
        if self._type == SOCK_DGRAM and self._family == AF_INET6:
            group = sockopt.membership_group(level, optname, value)
        if group is not None:
            self._facade._call(lambda: ns.setsockopt(NS_SOL_SOCKET, *group))
            return
        spec = sockopt.lookup(level, optname, self._type)
        if spec is None:
            raise oserror(errno.ENOPROTOOPT)
        option, converted = spec[0], sockopt.to_netstack(spec[1], value)
        try:
            self._facade._call(lambda: ns.setsockopt(NS_SOL_SOCKET, option, converted))
        except UnsupportedError:
            raise oserror(errno.ENOPROTOOPT) from None

    @overload
    def getsockopt(self, level: int, optname: int, /) -> int: ...

    @overload
    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes: ...

    def getsockopt(self, level: int, optname: int, buflen: int | None = None, /) -> int | bytes:
        """An option's value: an int, or (with ``buflen``) at most that many raw bytes."""
        self._check_open()
        key = (level, optname)
        value: int | bytes
        if key == _SO_ERROR:
            value = self._take_error()
        elif key == _SO_TYPE:
            value = int(self._type)
        elif key == _SO_ACCEPTCONN:
            value = int(self._listening)
        elif key == _V6ONLY and self._family == AF_INET6:
            value = int(self._v6only)
        else:
            spec = sockopt.lookup(level, optname, self._type)
            if spec is None:
                raise oserror(errno.ENOPROTOOPT)
            ns, option = self._ns, spec[0]
            try:
                raw = self._facade._call(lambda: ns.getsockopt(NS_SOL_SOCKET, option))
            except UnsupportedError:
                raise oserror(errno.ENOPROTOOPT) from None
            value = sockopt.from_netstack(spec[1], raw)
        if buflen is None:
            return value if isinstance(value, int) else sockopt.int_value(value)
        if isinstance(value, int):
            value = value.to_bytes(4, sys.byteorder, signed=True)
        return value[:buflen]

    def _take_error(self) -> int:
        """SO_ERROR: how a connection attempt failed, reported once (then 0)."""
        if self._error_reported or not self._peer or self._type != SOCK_STREAM:
            return 0
        ns = self._tcp()
        try:
            self._facade._call(ns.connected)
        except NetworkError as exc:
            self._error_reported = True
            return exc.errno or errno.EIO
        return 0

    # -- files ---------------------------------------------------------------------------------
    @overload
    def makefile(
        self,
        mode: Literal["b", "rb", "br", "wb", "bw", "rwb", "rbw", "wrb", "wbr", "brw", "bwr"],
        buffering: Literal[0],
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> _stdlib.SocketIO: ...

    @overload
    def makefile(
        self,
        mode: Literal["rwb", "rbw", "wrb", "wbr", "brw", "bwr"],
        buffering: Literal[-1, 1] | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> BufferedRWPair: ...

    @overload
    def makefile(
        self,
        mode: Literal["rb", "br"],
        buffering: Literal[-1, 1] | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> BufferedReader: ...

    @overload
    def makefile(
        self,
        mode: Literal["wb", "bw"],
        buffering: Literal[-1, 1] | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> BufferedWriter: ...

    @overload
    def makefile(
        self,
        mode: Literal["b", "rb", "br", "wb", "bw", "rwb", "rbw", "wrb", "wbr", "brw", "bwr"],
        buffering: int,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> IOBase: ...

    @overload
    def makefile(
        self,
        mode: Literal["r", "w", "rw", "wr", ""] = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> TextIOWrapper: ...

    def makefile(
        self,
        mode: str = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> IOBase:
        """A file object on the socket: the stdlib's own ``socket.makefile`` (``SocketIO``
        under ``io`` buffers) run on this socket, so it reads and writes through
        :meth:`recv_into` and :meth:`send` and keeps the socket open until it closes."""
        stdlib_makefile = cast(Callable[..., IOBase], _stdlib.socket.makefile)
        return stdlib_makefile(
            self, mode, buffering, encoding=encoding, errors=errors, newline=newline
        )
