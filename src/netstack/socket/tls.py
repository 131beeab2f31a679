"""TLSSocket: TLS over a TCPSocket, with the Socket API's calls and timeouts.

Mbed's ``TLSSocket`` (a ``TLSSocketWrapper`` around its own ``TCPSocket``) in this
package's async spelling: ``await sock.connect(address)`` connects TCP, then handshakes;
``send``/``recv``/``recv_exactly`` carry application data; the socket's timeout bounds every
call as on TCPSocket. Certificates are verified and host names checked by default
(``ssl.create_default_context()``). The protocol itself is the sans-I/O
:class:`~netstack.socket.tls_session.TlsSession`; errors are its
:class:`TlsCertificateError` (an ``ssl.SSLCertVerificationError``, Mbed's
``AUTH_FAILURE``), :class:`TlsAuthFailureError` and :class:`TlsError` (an
``ssl.SSLError``, Mbed's ``DEVICE_ERROR``).

The peer's close_notify makes ``recv`` return ``b""``. Closing never waits on the network
(Mbed issue #15209: ``close()`` hung sending close_notify after the link dropped):
:meth:`TLSSocket.close` queues close_notify if the transport takes it now and closes;
:meth:`TLSSocket.aclose` waits for it at most ``close_timeout`` seconds of the world's clock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Literal, overload

from netstack.address import SocketAddress
from netstack.errors import (
    IsConnectedError,
    NetworkError,
    NoConnectionError,
    ParameterError,
    WouldBlockError,
)
from netstack.socket.base import AddressLike, HasStack, host_and_port, resolve_address
from netstack.socket.tcp import TCPSocket
from netstack.socket.tls_session import (
    MAX_RECORD,
    CertData,
    TlsAuthFailureError,
    TlsCertificateError,
    TlsError,
    TlsSession,
    ca_data,
    load_cert_key,
)
from netstack.stacks.core.api import NetworkStack, SocketHandle

__all__ = [
    "CertData",
    "TLSSocket",
    "TlsAuthFailureError",
    "TlsCertificateError",
    "TlsError",
    "TlsSession",
]

log = logging.getLogger(__name__)

#: Plaintext encrypted per step of a blocking send: what waits for the TCP send buffer is
#: at most this much ciphertext (plus record overhead).
SEND_CHUNK = 65536
#: Bytes taken from TCP per read of the transport.
RECV_CHUNK = 65536


# -- the socket ----------------------------------------------------------------------------
class TLSSocket(TCPSocket):
    """TLS over a TCP connection, with the Socket API's calls and timeouts.

    Client::

        sock = TLSSocket(iface)                     # ssl.create_default_context()
        sock.set_root_ca_cert(ca_pem)               # trust only this CA (Mbed semantics)
        await sock.connect(("10.0.0.2", 443))       # host name checked: the IP literal
        await sock.send(b"GET / HTTP/1.0\\r\\n\\r\\n")
        reply = await sock.recv(4096)               # b"" after the peer's close_notify
        await sock.aclose()                         # close_notify, bounded wait

    Server: ``listener = TLSSocket(iface, server_context); listener.bind(443);
    listener.listen()``; ``conn, peer = await listener.accept()`` returns a TLSSocket
    whose handshake is done (``accept_nowait`` leaves it to the first call). An accepted
    plain TCPSocket is taken over with ``await TLSSocket.wrap(tcp, ctx, server_side=True)``.

    The credential setters (Mbed's) configure the socket's own default context, built at
    the handshake; on a context passed in they add to it. ``alpn_protocols`` is set on the
    context (shared if passed in). To resume a session, give the next socket the same
    context and the previous socket's :attr:`session`.
    """

    def __init__(
        self,
        stack: NetworkStack | HasStack | None = None,
        context: ssl.SSLContext | None = None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        alpn_protocols: Iterable[str] | None = None,
        session: ssl.SSLSession | None = None,
        suppress_ragged_eofs: bool = True,
        close_timeout: float = 5.0,
    ) -> None:
        self._context = context
        self._server_side = server_side
        self._hostname = server_hostname
        self._alpn = list(alpn_protocols) if alpn_protocols is not None else None
        self._session = session
        self._suppress_ragged_eofs = suppress_ragged_eofs
        #: longest wait of :meth:`aclose` for close_notify to go out (world's clock)
        self.close_timeout = close_timeout
        self._roots: list[str | bytes] = []
        self._replace_roots = False
        self._cert_key: tuple[CertData, CertData, str | None] | None = None
        self._tls: TlsSession | None = None
        self._out = bytearray()  # ciphertext the TCP send buffer has not taken yet
        self._fin_after_flush = False
        self._flushing = False
        if context is not None and self._alpn is not None:
            context.set_alpn_protocols(self._alpn)
        super().__init__(stack)

    # -- credentials (Mbed TLSSocketWrapper) -----------------------------------------------
    def set_hostname(self, hostname: str) -> None:
        """The server's name: sent as SNI and checked against its certificate."""
        self._before_handshake()
        self._hostname = hostname

    def set_root_ca_cert(self, cert: CertData) -> None:
        """Trust only these CA certificates (PEM, possibly several, or DER; data or a
        Path) instead of the system's. On a context passed in, they are added to it."""
        self._set_roots([ca_data(cert)], replace=True)

    def append_root_ca_cert(self, cert: CertData) -> None:
        """Trust these CA certificates too."""
        self._set_roots([ca_data(cert)], replace=False)

    def set_root_ca_cert_path(self, directory: str | os.PathLike[str]) -> None:
        """Trust the CA certificates in every file of ``directory`` (PEM or DER); files
        that hold no certificate are skipped. ParameterError if none is found."""
        try:
            files = sorted(p for p in Path(directory).iterdir() if p.is_file())
        except OSError as exc:
            raise ParameterError(f"cannot list {os.fspath(directory)!s}: {exc}") from exc
        roots: list[str | bytes] = []
        for path in files:
            try:
                roots.append(ca_data(path))
            except ParameterError:
                log.debug("tls: %s holds no certificate, skipped", path)
        if not roots:
            raise ParameterError(f"no CA certificate in {os.fspath(directory)!s}")
        self._set_roots(roots, replace=True)

    def set_client_cert_key(
        self, cert: CertData, key: CertData, password: str | None = None
    ) -> None:
        """This end's certificate (chain) and private key: the client's, or on a server
        socket the server's (Mbed's name is the client's)."""
        self._before_handshake()
        load_cert_key(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), cert, key, password)
        if self._context is not None:
            load_cert_key(self._context, cert, key, password)
        else:
            self._cert_key = (cert, key, password)

    def _set_roots(self, roots: list[str | bytes], *, replace: bool) -> None:
        self._before_handshake()
        if self._context is not None:
            for cadata in roots:
                self._context.load_verify_locations(cadata=cadata)
            return
        if replace:
            self._roots, self._replace_roots = roots, True
        else:
            self._roots.extend(roots)

    def _before_handshake(self) -> None:
        if self._tls is not None:
            raise ParameterError("TLS credentials must be set before the handshake")

    @property
    def context(self) -> ssl.SSLContext:
        """The SSLContext (the socket's own is built on first use)."""
        if self._context is None:
            self._context = self._build_context()
        return self._context

    def _build_context(self) -> ssl.SSLContext:
        server = self._server_side
        purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
        roots = list(self._roots)
        if self._replace_roots:  # Mbed's set_root_ca_cert: these and not the system's
            ctx = ssl.create_default_context(purpose, cadata=roots.pop(0))
        else:
            ctx = ssl.create_default_context(purpose)
        for cadata in roots:
            ctx.load_verify_locations(cadata=cadata)
        if self._cert_key is not None:
            load_cert_key(ctx, *self._cert_key)
        if self._alpn is not None:
            ctx.set_alpn_protocols(self._alpn)
        return ctx

    # -- what was negotiated ---------------------------------------------------------------
    @property
    def tls(self) -> TlsSession | None:
        """The TLS machine (None before the handshake starts)."""
        return self._tls

    @property
    def server_hostname(self) -> str | None:
        return self._hostname

    def selected_alpn_protocol(self) -> str | None:
        return self._tls.selected_alpn_protocol() if self._tls is not None else None

    @property
    def session(self) -> ssl.SSLSession | None:
        """The TLS session: the one to resume before connecting, the current one after.
        With TLS 1.3 the server's ticket arrives after the handshake, so a client's session
        is resumable once it has received some data."""
        return self._tls.session if self._tls is not None else self._session

    @session.setter
    def session(self, session: ssl.SSLSession | None) -> None:
        self._before_handshake()
        self._session = session

    @property
    def session_reused(self) -> bool:
        return self._tls is not None and self._tls.handshake_done and self._tls.session_reused

    @overload
    def getpeercert(self, binary_form: Literal[False] = ...) -> Mapping[str, object] | None: ...

    @overload
    def getpeercert(self, binary_form: Literal[True]) -> bytes | None: ...

    def getpeercert(self, binary_form: bool = False) -> Mapping[str, object] | bytes | None:
        """The peer's certificate (decoded when verified, DER with ``binary_form``)."""
        if self._tls is None:
            return None
        return self._tls.getpeercert(True) if binary_form else self._tls.getpeercert()

    def cipher(self) -> tuple[str, str, int] | None:
        return self._tls.cipher() if self._tls is not None else None

    def version(self) -> str | None:
        return self._tls.version() if self._tls is not None else None

    # -- client ----------------------------------------------------------------------------
    async def connect(self, address: AddressLike, port: int | None = None) -> None:
        """Connect TCP, then handshake (one deadline for both, per the timeout). The host
        name to check is :meth:`set_hostname`'s, else the host given here (a name or an IP
        literal). TlsCertificateError if the server's certificate does not verify."""
        stack, handle = self._require()
        if self._tls is not None:
            raise IsConnectedError("TLS socket already connected")
        deadline = self._deadline()
        host = host_and_port(address, port)[0]
        target = await resolve_address(stack, address, port)
        if self._hostname is None:
            self._hostname = host.split("%", 1)[0]  # no zone in SNI or the name check
        stack.socket_connect(handle, target)
        await self._wait_for(lambda: stack.socket_connected(handle), "connect", deadline)
        await self._handshake(deadline)

    async def do_handshake(self) -> None:
        """Run (or finish) the handshake of a connected socket, per the timeout."""
        await self._handshake(self._deadline())

    # -- server ----------------------------------------------------------------------------
    def listen(self, backlog: int = 8) -> None:
        self._server_side = True
        super().listen(backlog)

    def accept_nowait(self) -> tuple[TLSSocket, SocketAddress]:
        """A connection whose handshake runs in its first call (or :meth:`do_handshake`)."""
        stack, handle = self._require()
        child, peer = stack.socket_accept(handle)
        sock = TLSSocket(
            context=self.context,
            server_side=True,
            suppress_ragged_eofs=self._suppress_ragged_eofs,
            close_timeout=self.close_timeout,
        )
        sock._attach(stack, child)
        return sock, peer

    async def accept(self) -> tuple[TLSSocket, SocketAddress]:
        """The next connection, handshake done (one deadline for both). A handshake that
        fails closes that connection and raises its error. The handshake runs inline: a
        server of many clients takes connections with :meth:`accept_nowait` (or plain TCP
        and :meth:`wrap`) and handshakes in a task per client, so that a silent client
        cannot hold up the others."""
        stack, handle = self._require()
        deadline = self._deadline()
        await self._wait_for(lambda: stack.socket_readable(handle), "accept", deadline)
        sock, peer = self.accept_nowait()
        try:
            await sock._handshake(deadline)
        except BaseException:
            sock.close()
            raise
        return sock, peer

    @classmethod
    async def wrap(
        cls,
        sock: TCPSocket,
        context: ssl.SSLContext | None = None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        alpn_protocols: Iterable[str] | None = None,
        session: ssl.SSLSession | None = None,
        suppress_ragged_eofs: bool = True,
    ) -> TLSSocket:
        """Take over a connected TCPSocket (it is closed for its old owner) and handshake,
        per its timeout (Mbed's ``TLSSocketWrapper``). A client checks ``server_hostname``,
        by default the peer's IP address. On failure the connection is closed."""
        stack, handle = sock._require()
        if not server_side and server_hostname is None:
            server_hostname = stack.socket_getpeername(handle).ip
        tls = cls(
            context=context,
            server_side=server_side,
            server_hostname=server_hostname,
            alpn_protocols=alpn_protocols,
            session=session,
            suppress_ragged_eofs=suppress_ragged_eofs,
        )
        tls._timeout = sock.timeout
        sock._handle = None  # the connection is the TLS socket's now
        sock._stack = None
        sock._sigio = None
        sock._event()  # its waiters, if any, end with NoSocketError
        tls._attach(stack, handle)
        try:
            await tls.do_handshake()
        except BaseException:
            tls.close()
            raise
        return tls

    def _attach(self, stack: NetworkStack, handle: SocketHandle) -> None:
        self._stack = stack
        self._handle = handle
        stack.socket_attach(handle, self._event)

    # -- data ------------------------------------------------------------------------------
    async def send(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt and send all of ``data`` (per the timeout); returns its length. What was
        encrypted before a timeout stays queued and goes out first. Non-blocking sockets
        send what fits, as :meth:`send_nowait`."""
        if self._timeout == 0:
            return self.send_nowait(data)
        view = memoryview(data).cast("B")
        deadline = self._deadline()
        tls = await self._handshaken(deadline)
        await self._flush(deadline)
        for start in range(0, len(view), SEND_CHUNK):
            tls.write(view[start : start + SEND_CHUNK])
            self._out += tls.data_to_send()
            await self._flush(deadline)
        return len(view)

    sendall = send

    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt what the TCP send buffer takes now, a record at a time (the last record
        may wait in the socket for room); WouldBlockError if nothing could be taken."""
        view = memoryview(data).cast("B")
        tls = self._handshaken_nowait()
        if not self._flush_nowait():
            raise WouldBlockError("send buffer full")
        sent = 0
        while sent < len(view):
            piece = view[sent : sent + MAX_RECORD]
            tls.write(piece)
            sent += len(piece)
            self._out += tls.data_to_send()
            if not self._flush_nowait():
                break
        return sent

    async def recv(self, bufsize: int = 65536) -> bytes:
        """Up to ``bufsize`` bytes of application data (per the timeout); ``b""`` once the
        peer sent close_notify (or, with ``suppress_ragged_eofs``, closed TCP without it)."""
        if self._timeout == 0:
            return self.recv_nowait(bufsize)
        deadline = self._deadline()
        tls = await self._handshaken(deadline)
        while True:
            data = tls.read(bufsize)
            self._send_replies(tls)
            if data is not None:
                return data
            await self._fill(tls, deadline, "recv")

    def recv_nowait(self, bufsize: int = 65536) -> bytes:
        """Application data decryptable now; WouldBlockError if no whole record is in."""
        stack, handle = self._require()
        tls = self._handshaken_nowait()
        while True:
            data = tls.read(bufsize)
            self._send_replies(tls)
            if data is not None:
                return data
            if not stack.socket_readable(handle):
                raise WouldBlockError("no complete TLS record yet")
            self._feed(tls, stack.socket_recv(handle, RECV_CHUNK))

    def shutdown(self, how: str = "write") -> None:
        """Send close_notify, then TCP's FIN (once queued ciphertext is out); reading goes
        on until the peer's close_notify (RFC 8446 §6.1 allows the half-close)."""
        self._require()
        if how not in ("write", "both"):
            raise ParameterError("shutdown supports 'write' (and 'both')")
        tls = self._tls
        if tls is not None:
            tls.send_close_notify()
            self._out += tls.data_to_send()
        self._fin_after_flush = True
        self._flush_nowait()

    def readable(self) -> bool:
        """Decrypted data or the peer's close is waiting, or TCP has bytes (which may not
        make a whole record yet: readiness may be spurious, as sigio's)."""
        stack, handle = self._require()
        tls = self._tls
        if tls is not None and (tls.pending() or tls.peer_closed):
            return True
        return stack.socket_readable(handle)

    def writable(self) -> bool:
        return not self._out and super().writable()

    # -- closing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close now, never waiting: close_notify is queued if the connection is alive
        and TCP takes it at once (then TCP closes gracefully on its own timers)."""
        if self._handle is not None and self._stack is not None and not self._handle.closed:
            with contextlib.suppress(NetworkError):
                self._queue_close_notify()
                self._flush_nowait()
            with contextlib.suppress(NetworkError):
                self._discard_input()
        self._out.clear()
        super().close()

    async def aclose(self, timeout: float | None = None) -> None:
        """Send close_notify, wait at most ``timeout`` (default :attr:`close_timeout`)
        seconds of the world's clock for TCP to take it, then close. Skipped when the
        connection is already gone (reset, or failed)."""
        stack, _ = self._require()
        limit = self.close_timeout if timeout is None else timeout
        deadline = stack.world.now() + max(0.0, limit)
        with contextlib.suppress(NetworkError):
            self._queue_close_notify()
            await self._flush(deadline, wait=True)
        if self.is_open:
            self.close()

    async def __aexit__(self, *exc: object) -> None:
        if self.is_open:
            await self.aclose()

    def _queue_close_notify(self) -> None:
        tls = self._tls
        if tls is None or tls.close_notify_sent or tls.failed or not tls.handshake_done:
            return
        stack, handle = self._require()
        if not stack.socket_connected(handle):  # raises when reset, refused or timed out
            return
        tls.send_close_notify()
        self._out += tls.data_to_send()

    def _discard_input(self) -> None:
        """Read what TCP holds (the peer's close_notify, tickets), so that closing is a FIN
        and not the reset RFC 1122 §4.2.2.13 asks for when data is left unread."""
        stack, handle = self._require()
        while stack.socket_readable(handle) and stack.socket_recv(handle, RECV_CHUNK):
            pass

    # -- the transport ---------------------------------------------------------------------
    def _start_tls(self) -> TlsSession:
        tls = self._tls
        if tls is not None:
            return tls
        stack, handle = self._require()
        if not stack.socket_connected(handle):
            raise NoConnectionError("socket is not connected")
        server = self._server_side
        tls = TlsSession(
            self.context,
            server_side=server,
            server_hostname=None if server else self._hostname,
            session=None if server else self._session,
            suppress_ragged_eofs=self._suppress_ragged_eofs,
        )
        self._tls = tls
        return tls

    async def _handshake(self, deadline: float | None) -> TlsSession:
        tls = self._start_tls()
        while True:
            try:
                done = tls.do_handshake()
            except NetworkError:
                self._send_replies(tls)  # the alert that tells the peer why
                raise
            self._out += tls.data_to_send()
            await self._flush(deadline)
            if done:
                return tls
            await self._fill(tls, deadline, "TLS handshake")

    async def _handshaken(self, deadline: float | None) -> TlsSession:
        tls = self._tls
        if tls is not None and tls.handshake_done:
            return tls
        return await self._handshake(deadline)

    def _handshaken_nowait(self) -> TlsSession:
        stack, handle = self._require()
        tls = self._start_tls()
        while not tls.handshake_done:
            try:
                done = tls.do_handshake()
            finally:
                self._send_replies(tls)
            if done:
                break
            if not stack.socket_readable(handle):
                raise WouldBlockError("TLS handshake in progress")
            self._feed(tls, stack.socket_recv(handle, RECV_CHUNK))
        return tls

    def _feed(self, tls: TlsSession, data: bytes) -> None:
        if data:
            tls.receive_data(data)
        else:
            tls.receive_eof()

    async def _fill(self, tls: TlsSession, deadline: float | None, what: str) -> None:
        """Wait for TCP data (or its end) and give it to the TLS machine."""
        stack, handle = self._require()
        await self._wait_for(lambda: stack.socket_readable(handle), what, deadline)
        try:
            data = stack.socket_recv(handle, RECV_CHUNK)
        except WouldBlockError:
            return
        self._feed(tls, data)

    def _send_replies(self, tls: TlsSession) -> None:
        """Queue what the machine produced while reading (alerts, key updates) and send
        what TCP takes now; the rest goes when it becomes writable."""
        if tls.output_pending:
            self._out += tls.data_to_send()
        if self._out:
            with contextlib.suppress(NetworkError):
                self._flush_nowait()

    def _flush_nowait(self) -> bool:
        """Hand queued ciphertext to TCP as far as it takes it; True when all is out (and
        then the FIN a shutdown asked for)."""
        stack, handle = self._require()
        out = self._out
        while out:
            try:
                taken = stack.socket_send(handle, bytes(out[:RECV_CHUNK]))
            except WouldBlockError:
                return False
            del out[:taken]
        if self._fin_after_flush:
            self._fin_after_flush = False
            stack.socket_shutdown(handle, "write")
        return True

    async def _flush(self, deadline: float | None, *, wait: bool = False) -> None:
        stack, handle = self._require()
        while not self._flush_nowait():
            await self._wait_for(lambda: stack.socket_writable(handle), "send", deadline, wait)

    def _event(self) -> None:
        if self._out and not self._flushing and self._handle is not None:
            stack = self._stack
            if stack is not None:  # flush from the loop, not from inside the stack's call
                self._flushing = True
                stack.world.call_soon(self._background_flush)
        super()._event()

    def _background_flush(self) -> None:
        self._flushing = False
        if self.is_open and self._out:
            with contextlib.suppress(NetworkError):
                self._flush_nowait()

    # -- waiting ---------------------------------------------------------------------------
    def _deadline(self) -> float | None:
        timeout = self._timeout
        if timeout is None:
            return None
        return self._require()[0].world.now() + timeout

    async def _wait_for(
        self,
        ready: Callable[[], bool],
        what: str,
        deadline: float | None,
        wait: bool = False,
    ) -> None:
        """Wait until ``ready()`` or the deadline (one for a whole call, however many
        transport waits it takes); ``wait`` waits even on a non-blocking socket."""
        if ready():
            return
        if self._timeout == 0 and not wait:
            raise WouldBlockError(f"{what} would block")
        await self._wait_deadline(ready, what, deadline)
