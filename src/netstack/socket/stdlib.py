"""A blocking, stdlib-compatible socket facade: the :mod:`socket` module over netstack.

Code written against the :mod:`socket` module (``http.client``, ``urllib.request``,
``selectors`` loops, blocking servers) runs over a netstack stack unchanged
once it takes its sockets from a :class:`Facade` instead of the module::

    runtime = Runtime()                    # the world's loop, in the bridge's daemon thread
    iface = runtime.call(lambda: EthernetInterface(emac, world=runtime.world))
    runtime.call(lambda: iface.set_network("10.0.0.1", "255.255.255.0"))
    runtime.run(iface.connect())
    net = Facade(iface, runtime)           # the socket module's API over iface's stack
    with net.create_connection(("10.0.0.2", 80), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        reply = sock.makefile("rb").read()

:class:`Facade` plays the module: :meth:`~Facade.socket`, :meth:`~Facade.create_connection`,
:meth:`~Facade.create_server`, :meth:`~Facade.getaddrinfo`, :meth:`~Facade.gethostbyname`,
:meth:`~Facade.getdefaulttimeout`/:meth:`~Facade.setdefaulttimeout` and the common constants.
Its sockets (:class:`~netstack.socket.stdlib_socket.socket`) have ``socket.socket``'s
interface for AF_INET and AF_INET6, SOCK_STREAM and SOCK_DGRAM.

How calls run. Every call executes on the world's loop thread through the
:class:`~netstack.runtime.bridge.Runtime` bridge. A call that may wait runs the async Socket
API (``TCPSocket.recv``, …) there and blocks the caller until it finishes; the socket's
timeout bounds the wait on the loop's clock (``settimeout(None)`` blocks, ``0`` never
waits, ``t`` raises ``TimeoutError`` after ``t`` seconds) and a non-blocking call runs the
``*_nowait`` variant. A call that would wait, made *on* the loop thread, raises
``RuntimeError`` instead of deadlocking: code on the loop uses the async API. Errors are
the stdlib's classes — netstack's errors subclass them — with Linux ``errno`` values:
``TimeoutError``, ``BlockingIOError``, ``ConnectionRefusedError``, ``BrokenPipeError``,
``socket.gaierror`` for name resolution.

Readiness. ``fileno()`` returns a real descriptor (a :class:`~netstack.socket.readiness.
ReadinessFd`, made on first use) that ``select``/``selectors`` can watch: the loop thread
keeps it readable while data, end of stream, an error or a connection to accept waits,
and writable while a send would not block, updating it from the socket's sigio callback
and after every operation.

Names. ``getaddrinfo``/``gethostbyname`` answer IP literals and ``localhost`` without
traffic and ask the stack's resolver (the interface's DNS servers) for other names.

TLS and HTTP. :meth:`~Facade.wrap_socket` plays ``ssl.SSLContext.wrap_socket`` for facade
sockets (:mod:`netstack.socket.stdlib_tls`); :meth:`~Facade.http_connection`,
:meth:`~Facade.https_connection` and :meth:`~Facade.build_opener` give ``http.client`` and
``urllib.request`` over the facade, and :mod:`netstack.socket.stdlib_http` has
``http.server``'s ThreadingHTTPServer on a facade socket. What differs from the stdlib is
listed in docs/stdlib-sockets.md.
"""

from __future__ import annotations

import socket as _stdlib
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast

from netstack.address import IpVersion, SocketAddress, parse_literal
from netstack.errors import DnsFailureError, ParameterError
from netstack.runtime.bridge import Runtime
from netstack.socket.base import HasStack, resolve_stack
from netstack.socket.stdlib_socket import (
    AddressArg,
    SockAddr,
    check_timeout,
    sockaddr,
    socket,
    unmap,
)
from netstack.stacks.core.api import NetworkStack

if TYPE_CHECKING:
    import ssl
    from urllib.request import BaseHandler, OpenerDirector

    from netstack.socket.stdlib_http import HTTPConnection, HTTPSConnection
    from netstack.socket.stdlib_tls import SSLSocket

__all__ = ["AddrInfo", "AddressArg", "Facade", "SockAddr", "socket"]

T = TypeVar("T")
AF_INET, AF_INET6 = _stdlib.AF_INET, _stdlib.AF_INET6
SOCK_STREAM, SOCK_DGRAM = _stdlib.SOCK_STREAM, _stdlib.SOCK_DGRAM
#: One ``getaddrinfo`` answer: (family, type, proto, canonname, sockaddr).
AddrInfo = tuple[_stdlib.AddressFamily, _stdlib.SocketKind, int, str, SockAddr]
#: The socket class (inside :class:`Facade`, ``socket`` names the method).
Socket: TypeAlias = socket

#: create_connection's "keep the default timeout" marker: the stdlib's own object, so the
#: default of http.client and friends passes through (it is not in the type stubs).
_DEFAULT_TIMEOUT: object = vars(_stdlib)["_GLOBAL_DEFAULT_TIMEOUT"]
_LOCALHOST = frozenset({"localhost", "localhost."})
_VERSIONS = {0: IpVersion.UNSPEC, AF_INET: IpVersion.IPV4, AF_INET6: IpVersion.IPV6}
_KINDS = ((SOCK_STREAM, _stdlib.IPPROTO_TCP), (SOCK_DGRAM, _stdlib.IPPROTO_UDP))
_EAI_ADDRFAMILY: int = vars(_stdlib).get("EAI_ADDRFAMILY", _stdlib.EAI_FAMILY)


class Facade:
    """The :mod:`socket` module's API over one netstack stack (or an interface's), for
    blocking callers in threads other than the loop's; ``runtime`` runs the stack's world."""

    AF_INET = AF_INET
    AF_INET6 = AF_INET6
    AF_UNSPEC = _stdlib.AF_UNSPEC
    SOCK_STREAM = SOCK_STREAM
    SOCK_DGRAM = SOCK_DGRAM
    SOL_SOCKET = _stdlib.SOL_SOCKET
    IPPROTO_IP = _stdlib.IPPROTO_IP
    IPPROTO_IPV6 = _stdlib.IPPROTO_IPV6
    IPPROTO_TCP = _stdlib.IPPROTO_TCP
    IPPROTO_UDP = _stdlib.IPPROTO_UDP
    SHUT_RD, SHUT_WR, SHUT_RDWR = _stdlib.SHUT_RD, _stdlib.SHUT_WR, _stdlib.SHUT_RDWR
    AI_PASSIVE = _stdlib.AI_PASSIVE
    AI_NUMERICHOST = _stdlib.AI_NUMERICHOST
    AI_CANONNAME = _stdlib.AI_CANONNAME
    error = OSError
    timeout = TimeoutError
    gaierror = _stdlib.gaierror

    def __init__(self, target: NetworkStack | HasStack, runtime: Runtime) -> None:
        stack = resolve_stack(target)
        if stack.world is not runtime.world:
            raise ValueError("the stack lives in another world than the runtime's")
        self.stack = stack
        self.runtime = runtime
        self._default_timeout: float | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.Facade over {type(self.stack).__name__}>"

    # -- the module's functions ----------------------------------------------------------------
    def socket(self, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0) -> Socket:
        """A new socket on this stack (``socket.socket(family, type, proto)``)."""
        return socket(family, type, proto, facade=self)

    def getdefaulttimeout(self) -> float | None:
        return self._default_timeout

    def setdefaulttimeout(self, timeout: float | None) -> None:
        """The timeout of the sockets made from now on (``socket.setdefaulttimeout``)."""
        self._default_timeout = check_timeout(timeout)

    def has_dualstack_ipv6(self) -> bool:
        return True

    def create_connection(
        self,
        address: tuple[str | None, int],
        timeout: float | object | None = _DEFAULT_TIMEOUT,
        source_address: AddressArg | None = None,
        *,
        all_errors: bool = False,
    ) -> Socket:
        """Connect to ``(host, port)``, trying each address of ``host`` in turn (as
        ``socket.create_connection``): the first error is raised, or all of them in an
        ExceptionGroup with ``all_errors``."""
        host, port = address
        errors: list[OSError] = []
        for family, kind, proto, _name, sa in self.getaddrinfo(host, port, 0, SOCK_STREAM):
            sock = None
            try:
                sock = self.socket(family, kind, proto)
                if timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(cast(float | None, timeout))
                if source_address:
                    sock.bind(source_address)
                sock.connect(sa)
                return sock
            except OSError as exc:
                errors.append(exc)
                if sock is not None:
                    sock.close()
        if not errors:
            raise OSError("getaddrinfo returns an empty list")
        if all_errors:
            raise ExceptionGroup("create_connection failed", errors)
        raise errors[0]

    def create_server(
        self,
        address: AddressArg,
        *,
        family: int = AF_INET,
        backlog: int | None = None,
        reuse_port: bool = False,
        dualstack_ipv6: bool = False,
    ) -> Socket:
        """A listening TCP socket on ``address`` (as ``socket.create_server``); with
        ``dualstack_ipv6`` an AF_INET6 server takes IPv4 peers as IPv4-mapped addresses."""
        if reuse_port:
            raise ValueError("SO_REUSEPORT not supported on this platform")
        if dualstack_ipv6 and family != AF_INET6:
            raise ValueError("dualstack_ipv6 requires AF_INET6 family")
        sock = self.socket(family, SOCK_STREAM)
        try:
            sock.setsockopt(_stdlib.SOL_SOCKET, _stdlib.SO_REUSEADDR, 1)
            if family == AF_INET6:
                sock.setsockopt(_stdlib.IPPROTO_IPV6, _stdlib.IPV6_V6ONLY, int(not dualstack_ipv6))
            try:
                sock.bind(address)
            except OSError as exc:
                message = f"{exc.strerror} (while attempting to bind on address {address!r})"
                raise OSError(exc.errno, message) from None
            sock.listen(backlog)
            return sock
        except OSError:
            sock.close()
            raise

    # -- TLS and HTTP ----------------------------------------------------------------------------
    def wrap_socket(
        self,
        sock: Socket,
        context: ssl.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        session: ssl.SSLSession | None = None,
    ) -> SSLSocket:
        """``context.wrap_socket(sock, ...)`` for a facade socket: an
        :class:`~netstack.socket.stdlib_tls.SSLSocket` (``ssl.SSLSocket``'s interface) that
        takes ``sock`` over. Verification and host name checking follow ``context``."""
        from netstack.socket.stdlib_tls import wrap_socket

        return wrap_socket(
            sock,
            context,
            server_side=server_side,
            server_hostname=server_hostname,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            session=session,
        )

    def http_connection(
        self,
        host: str,
        port: int | None = None,
        *,
        timeout: float | None = cast(float | None, _DEFAULT_TIMEOUT),
        source_address: tuple[str, int] | None = None,
    ) -> HTTPConnection:
        """An ``http.client.HTTPConnection`` dialling through this facade."""
        from netstack.socket.stdlib_http import HTTPConnection

        return HTTPConnection(host, port, timeout, source_address, facade=self)

    def https_connection(
        self,
        host: str,
        port: int | None = None,
        *,
        context: ssl.SSLContext | None = None,
        timeout: float | None = cast(float | None, _DEFAULT_TIMEOUT),
        source_address: tuple[str, int] | None = None,
    ) -> HTTPSConnection:
        """An ``http.client.HTTPSConnection`` dialling through this facade and speaking its
        TLS with ``context`` (default: ``http.client``'s, the system's CAs)."""
        from netstack.socket.stdlib_http import HTTPSConnection

        return HTTPSConnection(
            host, port, facade=self, context=context, timeout=timeout,
            source_address=source_address,
        )  # fmt: skip

    def build_opener(
        self, *handlers: BaseHandler | type[BaseHandler], context: ssl.SSLContext | None = None
    ) -> OpenerDirector:
        """``urllib.request.build_opener`` whose ``http:`` and ``https:`` URLs open over this
        facade (``https:`` with ``context``). Proxies from the environment apply unless a
        ``ProxyHandler({})`` is given."""
        import urllib.request

        from netstack.socket.stdlib_http import HTTPHandler, HTTPSHandler

        return urllib.request.build_opener(
            HTTPHandler(self), HTTPSHandler(self, context), *handlers
        )

    def getaddrinfo(
        self,
        host: str | bytes | None,
        port: str | bytes | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[AddrInfo]:
        """``socket.getaddrinfo`` over the stack's resolver, one entry per address and per
        socket type (SOCK_STREAM, SOCK_DGRAM), in the resolver's order."""
        if family not in _VERSIONS:
            raise _stdlib.gaierror(_stdlib.EAI_FAMILY, "ai_family not supported")
        version = _VERSIONS[family]
        kinds = [(k, p) for k, p in _KINDS if type in (0, k) and proto in (0, p)]
        if not kinds:
            raise _stdlib.gaierror(_stdlib.EAI_SOCKTYPE, "ai_socktype not supported")
        number = _service(port, kinds[0][0], flags)
        if host is None:  # the wildcard for a server, loopback for a client (stdlib order)
            texts = ("0.0.0.0", "::") if flags & _stdlib.AI_PASSIVE else ("::1", "127.0.0.1")
            addresses = [SocketAddress(t) for t in texts]
            addresses = [a for a in addresses if version in (IpVersion.UNSPEC, a.version)]
            canonical = ""
        else:
            name = host.decode("ascii") if isinstance(host, bytes) else host
            numeric = bool(flags & _stdlib.AI_NUMERICHOST)
            addresses = self._lookup(name, version, numeric=numeric)
            canonical = name if flags & _stdlib.AI_CANONNAME else ""
        out: list[AddrInfo] = []
        for address in addresses:
            af = AF_INET if address.version == IpVersion.IPV4 else AF_INET6
            for kind, protocol in kinds:
                label = "" if out else canonical  # the first entry carries the canonical name
                out.append((af, kind, protocol, label, sockaddr(af, address.with_port(number))))
        return out

    def gethostbyname(self, hostname: str) -> str:
        """The first IPv4 address of ``hostname``, as text."""
        return self._lookup(hostname, IpVersion.IPV4)[0].ip

    # -- what the sockets share -------------------------------------------------------------------
    def _lookup(
        self, host: str, version: IpVersion, *, numeric: bool = False
    ) -> list[SocketAddress]:
        """The addresses of ``host`` (port 0): a literal, ``localhost`` (RFC 6761 §6.3: never
        asked of DNS) or, unless ``numeric``, what the stack's resolver answers."""
        try:
            literal = parse_literal(host, version)
        except DnsFailureError:
            raise _stdlib.gaierror(
                _EAI_ADDRFAMILY, "Address family for hostname not supported"
            ) from None
        except ParameterError:  # the empty name
            raise _stdlib.gaierror(_stdlib.EAI_NONAME, "Name or service not known") from None
        if literal is not None:
            return [literal]
        if numeric:
            raise _stdlib.gaierror(_stdlib.EAI_NONAME, "Name or service not known")
        if host.lower() in _LOCALHOST:
            loopback = [SocketAddress("127.0.0.1"), SocketAddress("::1")]
            return [a for a in loopback if version in (IpVersion.UNSPEC, a.version)]
        try:
            return self._run("getaddrinfo", self.stack.getaddrinfo(host, version))
        except TimeoutError:
            raise _stdlib.gaierror(
                _stdlib.EAI_AGAIN, "Temporary failure in name resolution"
            ) from None
        except (DnsFailureError, ParameterError) as exc:
            raise _stdlib.gaierror(
                _stdlib.EAI_NONAME, f"Name or service not known ({exc})"
            ) from None

    def _target(self, family: int, address: object, what: str) -> SocketAddress:
        """A stdlib address tuple as the stack's address: names resolved, ``""`` the
        wildcard, ``"<broadcast>"`` 255.255.255.255, IPv4-mapped IPv6 as IPv4."""
        if family == AF_INET:
            if not isinstance(address, tuple) or len(address) != 2:
                raise TypeError("AF_INET address must be a pair (host, port)")
        elif not isinstance(address, tuple) or not 2 <= len(address) <= 4:
            raise TypeError("AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])")
        host, port = address[0], address[1]
        scope_id = address[3] if len(address) == 4 else 0
        if not isinstance(port, int) or not isinstance(scope_id, int):
            raise TypeError("the port and scope id must be integers")
        if not 0 <= port <= 0xFFFF:
            raise OverflowError(f"{what}(): port must be 0-65535.")
        if isinstance(host, bytes | bytearray):
            host = bytes(host).decode("ascii")
        if not isinstance(host, str):
            raise TypeError(f"str, bytes or bytearray expected, not {host.__class__.__name__}")
        if host == "":
            found = SocketAddress("0.0.0.0" if family == AF_INET else "::")
        elif host == "<broadcast>" and family == AF_INET:
            found = SocketAddress("255.255.255.255")
        else:
            version = IpVersion.IPV4 if family == AF_INET else IpVersion.IPV6
            found = self._lookup(host, version)[0]
        return unmap(SocketAddress(found.packed, port, scope_id=scope_id or found.scope_id))

    def _run(self, what: str, coro: Coroutine[object, object, T]) -> T:
        """Run ``coro`` on the loop and wait for it — never from the loop thread itself."""
        if self.runtime.in_loop_thread():
            coro.close()
            raise RuntimeError(
                f"socket.{what}() may wait, and was called on the netstack loop's own thread, "
                "where waiting would deadlock: call it from another thread, or use the async "
                "Socket API (TCPSocket, UDPSocket) in code that runs on the loop"
            )
        return self.runtime.run(coro)

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, which never waits, on the loop thread (inline on that thread)."""
        return self.runtime.call(fn)


def _service(port: str | bytes | int | None, kind: int, flags: int) -> int:
    """A port number, or a service name looked up in the local services database."""
    if port is None:
        return 0
    if isinstance(port, int):
        if not 0 <= port <= 0xFFFF:
            raise _stdlib.gaierror(_stdlib.EAI_SERVICE, "Servname not supported for ai_socktype")
        return port
    text = port.decode("ascii") if isinstance(port, bytes) else port
    if text.isdigit():
        return _service(int(text), kind, flags)
    if flags & _stdlib.AI_NUMERICSERV:
        raise _stdlib.gaierror(_stdlib.EAI_NONAME, "Name or service not known")
    try:  # /etc/services: a local file, no traffic
        return _stdlib.getservbyname(text, "tcp" if kind == SOCK_STREAM else "udp")
    except OSError:
        raise _stdlib.gaierror(
            _stdlib.EAI_SERVICE, "Servname not supported for ai_socktype"
        ) from None
