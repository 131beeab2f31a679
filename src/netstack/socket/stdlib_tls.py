"""The TLS socket of the stdlib facade: ``ssl.SSLSocket``'s interface over netstack.

``ssl.SSLContext.wrap_socket`` needs a kernel descriptor, so it cannot wrap a facade
socket; :func:`wrap_socket` (also :meth:`Facade.wrap_socket
<netstack.socket.stdlib.Facade.wrap_socket>`) takes the same arguments and returns an
:class:`SSLSocket`, the facade's socket with the ``ssl.SSLSocket`` calls stdlib clients
and servers use::

    sock = net.create_connection(("10.0.0.2", 443), timeout=5)
    tls = net.wrap_socket(sock, ssl.create_default_context(), server_hostname="server.test")
    tls.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
    reply = tls.makefile("rb").read()

The protocol is :class:`~netstack.socket.tls_session.TlsSession` (the ``ssl`` module's own
OpenSSL between two memory BIOs). Like every facade call, each TLS call runs on the world's
loop thread through the :class:`~netstack.runtime.bridge.Runtime` bridge: the session, the
ciphertext waiting for TCP and the plaintext decrypted ahead live there, so two threads (a
reader and a writer) may share a socket without a lock. Timeouts bound the whole call on
the loop's clock, as for the facade's sockets; a non-blocking call that would wait raises
``ssl.SSLWantReadError`` or ``ssl.SSLWantWriteError``, as the stdlib's.

Readiness: ``fileno()`` is the facade socket's readiness descriptor, readable also while
decrypted data waits (what ``pending()`` counts) and writable only once the ciphertext
queued by a non-blocking send has gone to TCP.

Where it differs from ``ssl.SSLSocket`` (docs/stdlib-sockets.md has the list):
``close()`` sends close_notify (never waiting); ``shutdown(SHUT_WR)`` sends close_notify
before the FIN and keeps TLS for reading (the stdlib drops TLS and sends a bare FIN).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket as _stdlib
import ssl
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, overload

from netstack.errors import NetworkError, NetworkTimeoutError, WouldBlockError
from netstack.socket.stdlib_socket import AddressArg, SockAddr, _refresher, oserror, socket
from netstack.socket.tls_session import MAX_RECORD, TlsSession

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["SSLSocket", "wrap_socket"]

log = logging.getLogger(__name__)

#: Ciphertext taken from TCP, or handed to it, per step.
RECV_CHUNK = 65536
#: Plaintext encrypted per step of a blocking send: what waits for TCP is at most this.
SEND_CHUNK = 65536
#: Plaintext decrypted ahead of the reader (so readiness sees records already received).
PLAIN_AHEAD = 65536


def _want(what: Literal["read", "write"]) -> ssl.SSLError:
    """The error of a non-blocking TLS call that would wait (as ``ssl.SSLSocket``'s)."""
    if what == "read":
        return ssl.SSLWantReadError(
            ssl.SSL_ERROR_WANT_READ, "The operation did not complete (read)"
        )
    return ssl.SSLWantWriteError(ssl.SSL_ERROR_WANT_WRITE, "The operation did not complete (write)")


def wrap_socket(
    sock: socket,
    context: ssl.SSLContext,
    *,
    server_side: bool = False,
    server_hostname: str | None = None,
    do_handshake_on_connect: bool = True,
    suppress_ragged_eofs: bool = True,
    session: ssl.SSLSession | None = None,
) -> SSLSocket:
    """``context.wrap_socket(sock, ...)`` for a facade socket: an :class:`SSLSocket` that
    takes over ``sock`` (which is detached: closed without closing the connection). A
    connected socket handshakes now (with ``do_handshake_on_connect``, per its timeout),
    an unconnected one in :meth:`SSLSocket.connect`; a listening one accepts TLS sockets.
    Verification and host name checking follow ``context``."""
    return SSLSocket._create(
        sock,
        context,
        server_side=server_side,
        server_hostname=server_hostname,
        do_handshake_on_connect=do_handshake_on_connect,
        suppress_ragged_eofs=suppress_ragged_eofs,
        session=session,
    )


class SSLSocket(socket):
    """A facade socket speaking TLS, with ``ssl.SSLSocket``'s interface. Made by
    :func:`wrap_socket` (or :meth:`Facade.wrap_socket`) and by :meth:`accept` on a wrapped
    listening socket.

    Errors are the ``ssl`` module's: a certificate that fails verification raises
    :class:`~netstack.socket.tls_session.TlsCertificateError` (an
    ``ssl.SSLCertVerificationError``), other TLS failures an ``ssl.SSLError``
    (``TlsAuthFailureError``, ``TlsError``); transport errors stay the facade's.
    """

    _tls: TlsSession | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            f"{self.__class__.__name__} does not have a public constructor. "
            "Instances are returned by wrap_socket()."
        )

    @classmethod
    def _create(
        cls,
        sock: socket,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None,
        do_handshake_on_connect: bool,
        suppress_ragged_eofs: bool,
        session: ssl.SSLSession | None,
    ) -> SSLSocket:
        if sock.type != _stdlib.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        if isinstance(sock, SSLSocket):
            raise NotImplementedError("TLS inside TLS is not supported")
        if server_side:
            if server_hostname:
                raise ValueError("server_hostname can only be specified in client mode")
            if session is not None:
                raise ValueError("session can only be specified in client mode")
        elif context.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        sock._check_open()
        self = cls.__new__(cls)
        self._init_tls(
            context, server_side, server_hostname, session,
            do_handshake_on_connect, suppress_ragged_eofs,
        )  # fmt: skip
        connected = sock._facade._call(lambda: self._adopt(sock))
        if connected:
            try:
                self._facade._call(self._start_tls)
                if do_handshake_on_connect:
                    if self._timeout == 0:
                        raise ValueError(
                            "do_handshake_on_connect should not be specified for "
                            "non-blocking sockets"
                        )
                    self.do_handshake()
            except (OSError, ValueError):
                self.close()
                raise
        return self

    def _init_tls(
        self,
        context: ssl.SSLContext,
        server_side: bool,
        server_hostname: str | None,
        session: ssl.SSLSession | None,
        do_handshake_on_connect: bool,
        suppress_ragged_eofs: bool,
    ) -> None:
        self._context = context
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self._session = session
        self._tls = None
        self._exchanged = False  # the handshake has sent or fed bytes: the session is fixed
        self._out = bytearray()  # ciphertext TCP has not taken yet
        self._fin_pending = False  # shutdown: TCP's FIN once _out is out
        self._flush_scheduled = False
        self._plain = bytearray()  # decrypted ahead of the reader (at most PLAIN_AHEAD)
        self._eof = False  # the peer closed (close_notify, or a suppressed ragged end)
        self._error: NetworkError | None = None  # a TLS failure met reading ahead

    def _adopt(self, sock: socket) -> bool:
        """Take ``sock``'s connection, state and readiness descriptor, detaching it (loop
        thread); whether it is connected (or connecting)."""
        self._setup(sock._facade, sock._family, sock._type, sock._proto, sock._ns)
        self._timeout = sock._timeout
        self._peer, self._confirmed, self._listening = sock._peer, sock._confirmed, sock._listening
        self._shut_rd, self._shut_wr = sock._shut_rd, sock._shut_wr
        self._error_reported, self._v6only = sock._error_reported, sock._v6only
        self._pipe, sock._pipe = sock._pipe, None
        sock._released = sock._closed = True  # detached: the connection is ours now
        self._ns.sigio(_refresher(self))
        return self._peer

    # -- attributes ----------------------------------------------------------------------------
    @property
    def context(self) -> ssl.SSLContext:
        return self._context

    @property
    def session(self) -> ssl.SSLSession | None:
        """The TLS session: the one to resume before the handshake, the current one after
        (with TLS 1.3 known once the server's ticket arrived: after some data)."""
        tls = self._tls
        if tls is None:
            return self._session
        return self._facade._call(lambda: tls.session)

    @session.setter
    def session(self, session: ssl.SSLSession | None) -> None:
        if self.server_side:
            raise ValueError("Cannot set session for server-side SSLSocket.")

        def set_session() -> None:
            if self._exchanged:
                raise ValueError("Cannot set session after handshake.")
            self._session = session
            if self._tls is not None:  # not started: make it again with the session
                self._tls = None
                self._start_tls()

        self._facade._call(set_session)

    @property
    def session_reused(self) -> bool | None:
        tls = self._tls
        if tls is None:
            return None
        return self._facade._call(lambda: tls.handshake_done and tls.session_reused)

    # -- what was negotiated ---------------------------------------------------------------
    @overload
    def getpeercert(self, binary_form: Literal[False] = ...) -> Mapping[str, object] | None: ...

    @overload
    def getpeercert(self, binary_form: Literal[True]) -> bytes | None: ...

    @overload
    def getpeercert(self, binary_form: bool) -> Mapping[str, object] | bytes | None: ...

    def getpeercert(self, binary_form: bool = False) -> Mapping[str, object] | bytes | None:
        """The peer's certificate: decoded (when it was verified; else an empty dict) or
        DER with ``binary_form``; None when the peer sent none. ValueError before the
        handshake, OSError(ENOTCONN) on an unconnected socket."""
        self._check_open()
        tls = self._connected_tls()

        def get() -> Mapping[str, object] | bytes | None:
            if not tls.handshake_done:
                raise ValueError("handshake not done yet")
            return tls.getpeercert(True) if binary_form else tls.getpeercert()

        return self._facade._call(get)

    def cipher(self) -> tuple[str, str, int] | None:
        tls = self._tls
        return None if tls is None else self._facade._call(tls.cipher)

    def version(self) -> str | None:
        tls = self._tls
        return None if tls is None else self._facade._call(tls.version)

    def selected_alpn_protocol(self) -> str | None:
        tls = self._tls
        return None if tls is None else self._facade._call(tls.selected_alpn_protocol)

    def compression(self) -> str | None:
        return None  # the ssl module's contexts disable TLS compression (OP_NO_COMPRESSION)

    def pending(self) -> int:
        """Decrypted bytes a read returns without waiting."""
        tls = self._tls
        if tls is None:
            return 0
        return self._facade._call(lambda: len(self._plain) + tls.pending())

    def _connected_tls(self) -> TlsSession:
        tls = self._tls
        if tls is None:
            raise oserror(errno.ENOTCONN)
        return tls

    # -- connecting ----------------------------------------------------------------------------
    def connect(self, address: AddressArg) -> None:
        """Connect TCP, then (with ``do_handshake_on_connect``) handshake."""
        self._real_connect(address, connect_ex=False)

    def connect_ex(self, address: AddressArg) -> int:
        """:meth:`connect` returning the TCP errno instead of raising it (TLS errors are
        raised, as the stdlib's)."""
        return self._real_connect(address, connect_ex=True)

    def _real_connect(self, address: AddressArg, *, connect_ex: bool) -> int:
        if self.server_side:
            raise ValueError("can't connect in server-side mode")
        if self._peer or self._tls is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        self._check_open()
        self._facade._call(self._start_tls)
        try:
            if connect_ex:
                rc = _connect_errno(lambda: socket.connect(self, address))
            else:
                socket.connect(self, address)
                rc = 0
            if not rc and self.do_handshake_on_connect:
                self.do_handshake()
            return rc
        except (OSError, ValueError):
            self._facade._call(self._drop_tls)
            raise

    def do_handshake(self, block: bool = False) -> None:
        """Run the handshake, per the timeout (``block``: even on a non-blocking socket)."""
        self._check_open()
        tls = self._connected_tls()
        timeout = None if block and self._timeout == 0 else self._timeout

        async def wait() -> None:
            await self._handshake(tls)

        def nowait() -> None:
            self._handshake_nowait(tls)

        if timeout == 0:
            self._now(nowait)
        else:
            self._facade._run("do_handshake", self._waiting(wait, timeout))

    def accept(self) -> tuple[SSLSocket, SockAddr]:
        """The next connection as a server-side SSLSocket (handshake done unless
        ``do_handshake_on_connect`` is off; a failed handshake closes it and raises)."""
        conn, address = super().accept()
        tls = SSLSocket._create(
            conn,
            self._context,
            server_side=True,
            server_hostname=None,
            do_handshake_on_connect=self.do_handshake_on_connect,
            suppress_ragged_eofs=self.suppress_ragged_eofs,
            session=None,
        )
        return tls, address

    # -- data ----------------------------------------------------------------------------------
    def recv(self, bufsize: int = 1024, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes of application data; b"" once the peer closed."""
        if self._tls is None:
            return super().recv(bufsize, flags)
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to recv() on {type(self)}")
        data = self.read(bufsize)
        assert isinstance(data, bytes)
        return data

    def recv_into(self, buffer: WriteableBuffer, nbytes: int | None = None, flags: int = 0) -> int:
        if self._tls is None:
            return super().recv_into(buffer, nbytes or 0, flags)
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to recv_into() on {type(self)}")
        view = memoryview(buffer).cast("B")
        if nbytes is not None and nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        count = self.read(nbytes or len(view) or 1024, view)
        assert isinstance(count, int)
        return count

    @overload
    def read(self, len: int = 1024, buffer: None = None) -> bytes: ...

    @overload
    def read(self, len: int, buffer: WriteableBuffer) -> int: ...

    def read(self, len: int = 1024, buffer: WriteableBuffer | None = None) -> bytes | int:
        """Up to ``len`` bytes (into ``buffer``: their number); b"" (0) once the peer sent
        close_notify, or closed TCP without it when ``suppress_ragged_eofs``."""
        self._check_open()
        tls = self._tls
        if tls is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        view = None if buffer is None else memoryview(buffer).cast("B")
        if len < 0 and view is None:
            raise ValueError("size should not be negative")
        size = len if view is None else min(len, view.nbytes) if len > 0 else view.nbytes
        if size <= 0:
            return b"" if view is None else 0

        async def wait() -> bytes:
            await self._handshake(tls)
            while (data := self._read_now(tls, size)) is None:
                ns = self._tcp()
                await ns._wait_until(ns.readable, "read")
            return data

        def nowait() -> bytes:
            self._handshake_nowait(tls)
            data = self._read_now(tls, size)
            if data is None:
                raise _want("read")
            return data

        data = self._op("read", wait, nowait)
        return data if view is None else _copy_into(view, data)

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        """Encrypt and send ``data``: all of it when blocking (the timeout bounds the
        call); on a non-blocking socket what TCP takes now, else SSLWantWriteError."""
        if self._tls is None:
            return super().send(data, flags)
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to send() on {type(self)}")
        return self._write(memoryview(data).cast("B"), "send")

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        if self._tls is None:
            super().sendall(data, flags)
            return
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to sendall() on {type(self)}")
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):  # one call when blocking; a part per call when not
            sent += self._write(view[sent:], "sendall")

    def write(self, data: ReadableBuffer) -> int:
        """Encrypt and send ``data`` (as :meth:`send`)."""
        if self._tls is None:
            self._check_open()
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return self._write(memoryview(data).cast("B"), "write")

    def _write(self, view: memoryview, what: str) -> int:
        self._check_open()
        tls = self._connected_tls()
        if self._shut_wr:
            raise oserror(errno.EPIPE)
        if not view:
            return 0

        async def wait() -> int:
            await self._handshake(tls)
            await self._flush()
            for start in range(0, len(view), SEND_CHUNK):
                self._encrypt(tls, view[start : start + SEND_CHUNK])
                await self._flush()
            return len(view)

        def nowait() -> int:
            self._handshake_nowait(tls)
            if not self._send_out():
                raise _want("write")
            sent = 0
            while sent < len(view):  # a record at a time while TCP takes them
                piece = view[sent : sent + MAX_RECORD]
                self._encrypt(tls, piece)
                sent += len(piece)
                if not self._send_out():
                    break  # the last record waits in _out: the socket polls unwritable
            return sent

        return self._op(what, wait, nowait)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, SockAddr | None]:
        if self._tls is None:
            return super().recvfrom(bufsize, flags)
        raise ValueError(f"recvfrom not allowed on instances of {type(self)}")

    def recvfrom_into(
        self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, SockAddr | None]:
        if self._tls is None:
            return super().recvfrom_into(buffer, nbytes, flags)
        raise ValueError(f"recvfrom_into not allowed on instances of {type(self)}")

    def sendto(
        self, data: ReadableBuffer, flags_or_address: int | AddressArg, address: object = None, /
    ) -> int:
        if self._tls is not None:
            raise ValueError(f"sendto not allowed on instances of {type(self)}")
        flags = flags_or_address if isinstance(flags_or_address, int) else 0
        return super().send(data, flags)  # a stream socket ignores the address, as Linux

    # -- closing -------------------------------------------------------------------------------
    def shutdown(self, how: int) -> None:
        """SHUT_WR (or SHUT_RDWR): close_notify, then TCP's FIN once the queued ciphertext
        is out; reading goes on until the peer's close_notify (RFC 8446 §6.1)."""
        tls = self._tls
        if tls is None:
            super().shutdown(how)
            return
        self._check_open()
        if how not in (_stdlib.SHUT_RD, _stdlib.SHUT_WR, _stdlib.SHUT_RDWR):
            raise oserror(errno.EINVAL)

        def shutdown() -> None:
            if how != _stdlib.SHUT_RD and not self._shut_wr:
                self._shut_wr = True
                if tls.handshake_done and not tls.failed:
                    with contextlib.suppress(NetworkError):  # raised again by the next read
                        tls.send_close_notify()
                self._fin_pending = True
                self._queue(tls)
            if how != _stdlib.SHUT_WR:
                self._shut_rd = True

        self._now(shutdown)

    def unwrap(self) -> SSLSocket:
        """Close TLS and keep the connection: send close_notify and wait (per the timeout)
        for the peer's; application data still arriving is dropped. Returns this socket,
        plain from now on."""
        self._check_open()
        tls = self._tls
        if tls is None:
            raise ValueError(f"No SSL wrapper around {self}")

        def progress() -> Literal["read", "write"] | None:
            if not tls.handshake_done or tls.failed:
                return None  # no TLS to close
            if not tls.close_notify_sent:
                try:
                    tls.send_close_notify()
                finally:
                    self._queue(tls)
            if not self._send_out():
                return "write"
            while data := self._read_now(tls, PLAIN_AHEAD):  # b"": the peer's close_notify
                log.debug("tls: unwrap dropped %d bytes of application data", len(data))
            return None if data is not None else "read"

        async def wait() -> None:
            while (need := progress()) is not None:
                ns = self._tcp()
                await ns._wait_until(ns.readable if need == "read" else ns.writable, "unwrap")

        def nowait() -> None:
            need = progress()
            if need is not None:
                raise _want(need)

        self._op("unwrap", wait, nowait)
        self._facade._call(self._drop_tls)
        return self

    def _release(self) -> None:
        """Close (loop thread), never waiting: close_notify if the connection is alive and
        TCP takes it now; what TCP holds unread is consumed, so that the close is a FIN
        and not the reset RFC 1122 §4.2.2.13 asks for on unread data."""
        tls, ns = self._tls, self._tcp()
        if tls is not None and ns.is_open:
            with contextlib.suppress(NetworkError):  # reset, or TLS failed: nothing to say
                if tls.handshake_done and not tls.failed and ns.connected():
                    tls.send_close_notify()
                self._queue(tls)
            with contextlib.suppress(NetworkError):
                while ns.readable() and ns.recv_nowait(RECV_CHUNK):
                    pass
        self._drop_tls()
        super()._release()

    # -- the machine and its transport (loop thread) -----------------------------------------
    def _start_tls(self) -> None:
        if self._tls is None:
            self._tls = TlsSession(
                self._context,
                server_side=self.server_side,
                server_hostname=None if self.server_side else self.server_hostname,
                session=None if self.server_side else self._session,
                suppress_ragged_eofs=self.suppress_ragged_eofs,
            )

    def _drop_tls(self) -> None:
        self._tls = None
        self._out.clear()
        self._plain.clear()
        self._fin_pending = False

    async def _handshake(self, tls: TlsSession) -> None:
        """Complete the handshake, waiting for TCP as needed (a reader never waits for
        the writer's flush once it is done)."""
        if tls.handshake_done:
            return
        while not self._handshake_step(tls):
            await self._flush()
            ns = self._tcp()
            while not self._feed(tls):
                await ns._wait_until(ns.readable, "do_handshake")
        await self._flush()

    def _handshake_nowait(self, tls: TlsSession) -> None:
        while not self._handshake_step(tls):
            if self._out:
                raise _want("write")
            if not self._feed(tls):
                raise _want("read")

    def _handshake_step(self, tls: TlsSession) -> bool:
        if tls.handshake_done:
            return True
        self._exchanged = True
        try:
            done = tls.do_handshake()
        finally:
            self._queue(tls)  # also the alert that tells the peer why it failed
        if done:
            self._decrypt_ahead(tls)
        return done

    def _read_now(self, tls: TlsSession, size: int) -> bytes | None:
        """Up to ``size`` bytes of plaintext without waiting: b"" at the end, None when TLS
        needs bytes TCP does not have yet."""
        while True:
            plain = self._plain
            if plain:
                data = bytes(plain[:size])
                del plain[:size]
                if not plain:
                    self._decrypt_ahead(tls)
                return data
            if self._error is not None:
                raise self._error
            if self._eof or self._shut_rd:
                return b""
            if not self._feed(tls):
                return None
            self._decrypt_ahead(tls)

    def _decrypt_ahead(self, tls: TlsSession) -> None:
        """Decrypt the records already received into the plaintext buffer, so that what is
        readable shows as readable. A TLS failure waits in ``_error`` for the reader."""
        while len(self._plain) < PLAIN_AHEAD and not self._eof and self._error is None:
            try:
                data = tls.read(MAX_RECORD)
            except NetworkError as exc:
                self._error = exc
                data = None
            self._queue(tls)  # replies: key updates, alerts
            if data is None:
                return
            if not data:
                self._eof = True
                return
            self._plain += data

    def _feed(self, tls: TlsSession) -> bool:
        """Give TLS one chunk of what TCP holds (or its end); False if it holds nothing."""
        ns = self._tcp()
        if not ns.readable():
            return False
        try:
            data = ns.recv_nowait(RECV_CHUNK)
        except WouldBlockError:
            return False
        if data:
            tls.receive_data(data)
        else:
            tls.receive_eof()
        return True

    def _encrypt(self, tls: TlsSession, data: memoryview) -> None:
        tls.write(data)
        self._out += tls.data_to_send()

    def _queue(self, tls: TlsSession) -> None:
        """Queue what the machine produced and send what TCP takes now; a transport error
        is left to the next call that needs the transport."""
        if tls.output_pending:
            self._out += tls.data_to_send()
        if self._out or self._fin_pending:
            with contextlib.suppress(NetworkError):
                self._send_out()

    def _send_out(self) -> bool:
        """Hand queued ciphertext to TCP as far as it takes it; True when all is out (and
        then the FIN a shutdown asked for is sent)."""
        ns, out = self._tcp(), self._out
        while out:
            try:
                taken = ns.send_nowait(out[:RECV_CHUNK])
            except WouldBlockError:
                return False
            del out[:taken]
        if self._fin_pending:
            self._fin_pending = False
            ns.shutdown("write")
        return True

    async def _flush(self) -> None:
        ns = self._tcp()
        while not self._send_out():
            await ns._wait_until(ns.writable, "send")

    def _refresh(self) -> None:
        """Readiness (loop thread): readable also while decrypted data, the peer's close or
        a TLS error waits; writable once queued ciphertext is out. Ciphertext left queued
        goes out when TCP has room, from the loop (not from inside the stack's callback)."""
        tls, ns = self._tls, self._ns
        if tls is None or not ns.is_open or self._listening:
            super()._refresh()
            return
        tcp = self._tcp()
        pending = bool(self._out) or self._fin_pending
        if pending and not self._flush_scheduled and tcp.writable():
            self._flush_scheduled = True
            self._facade.stack.world.call_soon(self._background_flush)
        pipe = self._pipe
        if pipe is None:
            return
        ready = bool(self._plain) or self._eof or self._error is not None or self._shut_rd
        pipe.set(ready or tcp.readable(), not pending and tcp.writable())

    def _background_flush(self) -> None:
        self._flush_scheduled = False
        if self._released or not self._ns.is_open:
            return
        try:
            self._send_out()
        except NetworkError:  # the connection is gone: what waited will never go
            log.debug("tls: dropped %d queued bytes: connection gone", len(self._out))
            self._out.clear()
            self._fin_pending = False
        self._refresh()


def _connect_errno(connect: Callable[[], None]) -> int:
    """Run a TCP ``connect`` and return 0 or its errno, as ``connect_ex`` (EAGAIN for the
    socket's own timeout, as CPython's)."""
    try:
        connect()
    except _stdlib.gaierror:
        raise
    except NetworkTimeoutError:
        return errno.EAGAIN
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0


def _copy_into(view: memoryview, data: bytes) -> int:
    view[: len(data)] = data
    return len(data)
