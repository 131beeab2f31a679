"""The standard library's HTTP clients and server over the stdlib facade.

Each class is the stdlib's own, changed only where it gets its socket:

- :class:`HTTPConnection` / :class:`HTTPSConnection`: ``http.client``'s connections dialling
  with :meth:`Facade.create_connection <netstack.socket.stdlib.Facade.create_connection>`
  (through a proxy's CONNECT tunnel too); the HTTPS one wraps it with the facade's TLS
  (:func:`~netstack.socket.stdlib_tls.wrap_socket`) and the connection's ``context``
  (verification and host name checking on by default, as ``http.client``'s);
- :class:`HTTPHandler` / :class:`HTTPSHandler`: ``urllib.request`` handlers opening them
  (:meth:`Facade.build_opener <netstack.socket.stdlib.Facade.build_opener>` installs both);
- :class:`ThreadingHTTPServer`: ``http.server.ThreadingHTTPServer`` whose listening socket
  is a facade socket (with ``ssl_context``, wrapped for TLS), so ``serve_forever`` and any
  ``BaseHTTPRequestHandler`` (``SimpleHTTPRequestHandler``, …) serve over netstack (an
  IPv4 address serves IPv4, an IPv6 one IPv6, ``"::"`` both).

They rely on three attributes of ``http.client``'s connections that are private but stable
since Python 3.4: ``_create_connection`` (how ``connect`` dials), ``_context`` and
``_tunnel_host``.
"""

from __future__ import annotations

import functools
import http.client
import http.server
import logging
import socket as _stdlib
import socketserver
import ssl
import sys
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from netstack.socket.stdlib_socket import socket as FacadeSocket
from netstack.socket.stdlib_tls import wrap_socket

if TYPE_CHECKING:
    from netstack.socket.stdlib import Facade

__all__ = [
    "HTTPConnection",
    "HTTPHandler",
    "HTTPSConnection",
    "HTTPSHandler",
    "ThreadingHTTPServer",
]

log = logging.getLogger(__name__)

#: create_connection's "keep the default timeout" marker (the stdlib's own object).
_DEFAULT_TIMEOUT: float | None = vars(_stdlib)["_GLOBAL_DEFAULT_TIMEOUT"]
#: What a request handler thread meets when a client goes away or fails TLS.
_CLIENT_FAILURES = (ssl.SSLError, ConnectionError, TimeoutError)


class HTTPConnection(http.client.HTTPConnection):
    """``http.client.HTTPConnection`` dialling through ``facade``."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        timeout: float | None = _DEFAULT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
        blocksize: int = 8192,
        *,
        facade: Facade,
    ) -> None:
        super().__init__(host, port, timeout, source_address, blocksize)
        self.facade = facade
        vars(self)["_create_connection"] = facade.create_connection  # what connect() dials with


class HTTPSConnection(http.client.HTTPSConnection):
    """``http.client.HTTPSConnection`` dialling through ``facade`` and speaking the facade's
    TLS with ``context`` (by default ``http.client``'s: the system's CAs, host names
    checked)."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        facade: Facade,
        context: ssl.SSLContext | None = None,
        timeout: float | None = _DEFAULT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
        blocksize: int = 8192,
    ) -> None:
        super().__init__(
            host,
            port,
            timeout=timeout,
            source_address=source_address,
            context=context,
            blocksize=blocksize,
        )
        self.facade = facade
        vars(self)["_create_connection"] = facade.create_connection

    def connect(self) -> None:
        """TCP through the facade (and a proxy's tunnel), then the TLS handshake, checking
        the host's name (the tunnelled host's, through a proxy)."""
        http.client.HTTPConnection.connect(self)
        state = vars(self)
        hostname = state.get("_tunnel_host") or self.host
        sock = cast(FacadeSocket, self.sock)
        tls = wrap_socket(sock, state["_context"], server_hostname=hostname)
        self.sock = cast(_stdlib.socket, tls)  # duck-typed, as http.client uses it


class HTTPHandler(urllib.request.HTTPHandler):
    """urllib's ``http:`` handler, opening :class:`HTTPConnection` on ``facade``."""

    def __init__(self, facade: Facade, debuglevel: int = 0) -> None:
        super().__init__(debuglevel)
        self.facade = facade

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(HTTPConnection, facade=self.facade), req)


class HTTPSHandler(urllib.request.HTTPSHandler):
    """urllib's ``https:`` handler, opening :class:`HTTPSConnection` on ``facade`` with
    ``context``."""

    def __init__(
        self, facade: Facade, context: ssl.SSLContext | None = None, debuglevel: int = 0
    ) -> None:
        super().__init__(debuglevel, context)
        self.facade = facade
        self.context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(HTTPSConnection, facade=self.facade)
        return self.do_open(connection, req, context=self.context)


class ThreadingHTTPServer(http.server.ThreadingHTTPServer):
    """``http.server.ThreadingHTTPServer`` listening on a facade socket (a thread per
    request, as the stdlib's)::

        handler = functools.partial(SimpleHTTPRequestHandler, directory="www")
        server = ThreadingHTTPServer(("10.0.0.2", 80), handler, facade=net)
        threading.Thread(target=server.serve_forever).start()

    With ``ssl_context`` (a server context with its certificate) it serves HTTPS: the
    listening socket is wrapped for TLS, and each connection handshakes in its own
    request thread, on its first read, so a slow client never stalls ``serve_forever``.
    A client that fails (TLS refused, connection lost) is logged, not printed.
    """

    def __init__(
        self,
        server_address: tuple[str, int],
        RequestHandlerClass: Callable[..., socketserver.BaseRequestHandler],
        bind_and_activate: bool = True,
        *,
        facade: Facade,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        # TCPServer.__init__ would make a kernel socket: its work is done here instead
        socketserver.BaseServer.__init__(self, server_address, RequestHandlerClass)
        if ":" in server_address[0]:  # an IPv6 address; "::" serves both families
            self.address_family = _stdlib.AF_INET6
        self.facade = facade
        self.ssl_context = ssl_context
        sock = facade.socket(self.address_family, self.socket_type)
        self.socket = cast(_stdlib.socket, sock)  # duck-typed, as socketserver uses it
        if bind_and_activate:
            try:
                self.server_bind()
                self.server_activate()
            except BaseException:
                self.server_close()
                raise

    def server_bind(self) -> None:
        """Bind (HTTPServer's, but the server's name is its address: ``getfqdn`` would
        ask the kernel's resolver about a netstack address)."""
        if self.allow_reuse_address:
            self.socket.setsockopt(_stdlib.SOL_SOCKET, _stdlib.SO_REUSEADDR, 1)
        if self.address_family == _stdlib.AF_INET6:  # dual stack, as http.server's own
            self.socket.setsockopt(_stdlib.IPPROTO_IPV6, _stdlib.IPV6_V6ONLY, 0)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def server_activate(self) -> None:
        """Listen, then (with ``ssl_context``) wrap the listening socket for TLS."""
        super().server_activate()
        if self.ssl_context is not None:
            listener = cast(FacadeSocket, self.socket)
            tls = wrap_socket(
                listener, self.ssl_context, server_side=True, do_handshake_on_connect=False
            )
            self.socket = cast(_stdlib.socket, tls)

    def handle_error(
        self, request: _stdlib.socket | tuple[bytes, _stdlib.socket], client_address: object
    ) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, _CLIENT_FAILURES):
            log.info("http server: client %s: %s", client_address, exc)
            return
        super().handle_error(request, client_address)
