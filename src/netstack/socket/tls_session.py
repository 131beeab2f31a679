"""The TLS machine, sans I/O: :class:`TlsSession`, its errors, and credential loading.

:class:`TlsSession` wraps the standard :mod:`ssl` module's ``SSLContext.wrap_bio`` between
two :class:`ssl.MemoryBIO`: it takes received bytes (:meth:`~TlsSession.receive_data`,
:meth:`~TlsSession.receive_eof`), hands out bytes to send (:meth:`~TlsSession.data_to_send`)
and never touches a socket, a clock or a loop, so any transport can drive it — the Socket
API's :class:`~netstack.socket.tls.TLSSocket`, a blocking facade, an asyncio transport::

    tls = TlsSession(ssl.create_default_context(), server_hostname="example.test")
    tls.do_handshake()                 # False: needs the server's answer
    transport.send(tls.data_to_send()) # the ClientHello
    tls.receive_data(transport.recv()) # ... until do_handshake() is True
    tls.write(b"hello"); transport.send(tls.data_to_send())
    tls.read()                         # bytes, None (feed more) or b"" (peer closed)

Errors are each both a :class:`~netstack.errors.NetworkError` with Mbed's code and the
:mod:`ssl` exception a Python caller expects (:func:`tls_error` maps them):

- :class:`TlsCertificateError` — the peer's certificate failed verification (untrusted
  CA, wrong host name, expired): an ``ssl.SSLCertVerificationError`` and an
  ``AuthFailureError`` (``AUTH_FAILURE``);
- :class:`TlsAuthFailureError` — the peer refused our certificate, or sent none where one
  is required: an ``ssl.SSLError`` and an ``AuthFailureError``;
- :class:`TlsError` — any other TLS protocol failure: an ``ssl.SSLError`` and a
  ``DeviceError`` (``DEVICE_ERROR``, as Mbed reports TLS errors from send/recv).
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, overload

from netstack.errors import (
    AuthFailureError,
    DeviceError,
    NetworkError,
    NoConnectionError,
    ParameterError,
)

log = logging.getLogger(__name__)

#: Largest plaintext of one TLS record (RFC 8446 §5.1, RFC 5246 §6.2.1).
MAX_RECORD = 16384

CertData = str | bytes | bytearray | memoryview | os.PathLike[str]
"""A certificate or key: PEM text (str or bytes), DER bytes, or a path to a file."""


# -- errors --------------------------------------------------------------------------------
class TlsAuthFailureError(AuthFailureError, ssl.SSLError):
    """TLS authentication failed."""


class TlsCertificateError(TlsAuthFailureError, ssl.SSLCertVerificationError):
    """The peer's certificate failed verification."""


class TlsError(DeviceError, ssl.SSLError):
    """TLS protocol error."""


#: OpenSSL reasons meaning the peer refused our credentials, or we sent none when asked.
_REFUSED_REASONS = frozenset(
    {
        "PEER_DID_NOT_RETURN_A_CERTIFICATE",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
    }
)


def tls_error(exc: ssl.SSLError) -> NetworkError:
    """The netstack error for an :mod:`ssl` error (keeps ``library``, ``reason`` and, for
    a verification failure, ``verify_code`` and ``verify_message``)."""
    if isinstance(exc, NetworkError):
        return exc
    message = str(exc)
    reason = getattr(exc, "reason", None)
    error: TlsAuthFailureError | TlsError
    if isinstance(exc, ssl.SSLCertVerificationError):
        cert_error = TlsCertificateError(message)
        cert_error.verify_code = exc.verify_code
        cert_error.verify_message = exc.verify_message
        error = cert_error
    elif reason in _REFUSED_REASONS:
        error = TlsAuthFailureError(message)
    else:
        error = TlsError(message)
    error.library = getattr(exc, "library", None) or "SSL"
    error.reason = reason or ""
    return error


# -- the protocol machine ------------------------------------------------------------------
class TlsSession:
    """One TLS connection, sans I/O: bytes in, bytes out, application data in between.

    The transport feeds what it receives (:meth:`receive_data`, :meth:`receive_eof` at its
    end of stream) when :meth:`do_handshake` or :meth:`read` need more, and sends
    :meth:`data_to_send` after every call (the handshake, writes, reads that answer the peer,
    close_notify). The session never grows the input itself: it holds what the transport fed
    it and, after :meth:`send_close_notify`, the decrypted data that was already in it.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        session: ssl.SSLSession | None = None,
        suppress_ragged_eofs: bool = True,
    ) -> None:
        if not server_side and context.check_hostname and not server_hostname:
            # wrap_bio would check nothing then, silently (ssl.SSLSocket refuses it too)
            raise ParameterError("the context checks host names: give server_hostname")
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        try:
            self._obj = context.wrap_bio(
                self._incoming,
                self._outgoing,
                server_side=server_side,
                server_hostname=server_hostname,
                session=session,
            )
        except ValueError as exc:  # no server_hostname to check, a session of another context
            raise ParameterError(str(exc)) from exc
        self.context = context
        self.server_side = server_side
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self.handshake_done = False
        self.close_notify_sent = False
        self.close_notify_received = False
        #: the transport ended (:meth:`receive_eof`)
        self.eof_received = False
        #: the transport ended without the peer's close_notify (a truncation, or a peer
        #: that does not bother; read as end of stream when ``suppress_ragged_eofs``)
        self.ragged_eof = False
        #: a fatal error happened: nothing more is sent
        self.failed = False
        self._plain = bytearray()

    # -- input and output ------------------------------------------------------------------
    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes received from the peer."""
        if data:
            self._incoming.write(data)

    def receive_eof(self) -> None:
        """The transport's end of stream (TCP FIN)."""
        if not self.eof_received:
            self.eof_received = True
            self._incoming.write_eof()

    def data_to_send(self) -> bytes:
        """Everything produced for the peer so far (and not taken yet)."""
        return self._outgoing.read()

    @property
    def output_pending(self) -> int:
        return self._outgoing.pending

    # -- handshake -------------------------------------------------------------------------
    def do_handshake(self) -> bool:
        """Advance the handshake; True once complete, False while it needs more input."""
        if self.handshake_done:
            return True
        try:
            self._obj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLError as exc:
            raise self._fail(exc) from exc
        self.handshake_done = True
        log.debug(
            "tls: handshake done (%s, %s, resumed %s)",
            self._obj.version(),
            (self._obj.cipher() or ("?",))[0],
            self._obj.session_reused,
        )
        return True

    # -- application data ------------------------------------------------------------------
    def read(self, size: int = MAX_RECORD) -> bytes | None:
        """Up to ``size`` bytes of application data; ``b""`` once the peer closed (its
        close_notify, or the transport's end when ragged EOFs are suppressed); None when
        more input is needed. Completes the handshake first if it is not done."""
        if size <= 0:
            raise ParameterError("read size must be positive")
        if self._plain:
            out = bytes(self._plain[:size])
            del self._plain[:size]
            return out
        if not self.handshake_done and not self.do_handshake():
            return None
        if self.close_notify_received or self.ragged_eof:
            return b""
        return self._read_record(size)

    def _read_record(self, size: int) -> bytes | None:
        try:
            data = self._obj.read(size)
        except ssl.SSLWantReadError:
            return None
        except ssl.SSLZeroReturnError:
            self.close_notify_received = True
            return b""
        except ssl.SSLEOFError as exc:
            if self.eof_received and self.suppress_ragged_eofs:
                self.ragged_eof = True
                return b""
            raise self._fail(exc) from exc
        except ssl.SSLError as exc:
            raise self._fail(exc) from exc
        if not data:  # _ssl answers a close_notify with b"" while we have not sent ours
            self.close_notify_received = True
        return data

    def pending(self) -> int:
        """Decrypted bytes ready to :meth:`read` without more input."""
        return len(self._plain) + self._obj.pending()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt ``data`` (all of it, in records of at most 16 KiB); returns its length.
        NoConnectionError before the handshake is done or after our close_notify."""
        if not self.handshake_done:
            raise NoConnectionError("the TLS handshake is not complete")
        if self.close_notify_sent or self.failed:
            raise NoConnectionError("TLS is closed for sending")
        if not data:
            return 0
        try:
            return self._obj.write(data)
        except ssl.SSLError as exc:
            raise self._fail(exc) from exc

    # -- closing ---------------------------------------------------------------------------
    def send_close_notify(self) -> None:
        """Queue our close_notify (RFC 8446 §6.1); reading may go on until the peer's."""
        if self.close_notify_sent:
            return
        self.close_notify_sent = True
        if not self.handshake_done or self.failed:
            return  # nothing to close at the TLS level: the transport just ends
        # OpenSSL's shutdown rejects application data it finds unread (and unwrap() tries
        # to read), so decrypt what has arrived first; :meth:`read` hands it out later.
        while not (self.close_notify_received or self.ragged_eof):
            chunk = self._read_record(MAX_RECORD)
            if not chunk:
                break
            self._plain += chunk
        try:
            self._obj.unwrap()
        except ssl.SSLWantReadError:
            pass  # sent; the peer's close_notify has not come yet
        except ssl.SSLError as exc:
            raise self._fail(exc) from exc

    @property
    def peer_closed(self) -> bool:
        """The peer's close_notify (or, suppressed, a ragged end) has been read."""
        return self.close_notify_received or self.ragged_eof

    def _fail(self, exc: ssl.SSLError) -> NetworkError:
        self.failed = True
        return tls_error(exc)

    # -- what was negotiated ---------------------------------------------------------------
    def selected_alpn_protocol(self) -> str | None:
        return self._obj.selected_alpn_protocol()

    @property
    def session(self) -> ssl.SSLSession | None:
        """The session to resume later (with TLS 1.3, known once the server's ticket has
        been read: after the handshake, with the first data received)."""
        return self._obj.session

    @property
    def session_reused(self) -> bool:
        return self._obj.session_reused

    @property
    def server_hostname(self) -> str | None:
        return self._obj.server_hostname

    @overload
    def getpeercert(self, binary_form: Literal[False] = ...) -> Mapping[str, object] | None: ...

    @overload
    def getpeercert(self, binary_form: Literal[True]) -> bytes | None: ...

    def getpeercert(self, binary_form: bool = False) -> Mapping[str, object] | bytes | None:
        if not self.handshake_done:
            return None
        return self._obj.getpeercert(binary_form)

    def cipher(self) -> tuple[str, str, int] | None:
        return self._obj.cipher()

    def version(self) -> str | None:
        return self._obj.version()


# -- credentials ---------------------------------------------------------------------------
def _read_credential(data: CertData) -> bytes:
    if isinstance(data, os.PathLike):
        try:
            return Path(data).read_bytes()
        except OSError as exc:
            raise ParameterError(f"cannot read {os.fspath(data)!s}: {exc.strerror}") from exc
    if isinstance(data, str):
        if "-----BEGIN" not in data:
            raise ParameterError("not PEM text (pass a pathlib.Path to read a file)")
        return data.encode("ascii", "replace")
    return bytes(data)


def _is_pem(raw: bytes) -> bool:
    return b"-----BEGIN" in raw


def ca_data(data: CertData) -> str | bytes:
    """Certificates as ``load_verify_locations(cadata=...)`` takes them: PEM text or DER
    bytes. ParameterError if they do not parse."""
    raw = _read_credential(data)
    cadata: str | bytes = raw.decode("ascii", "replace") if _is_pem(raw) else raw
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=cadata)
    except (ssl.SSLError, ValueError) as exc:
        raise ParameterError(f"not a certificate: {exc}") from exc
    return cadata


def _pem_cert(raw: bytes) -> bytes:
    return raw if _is_pem(raw) else ssl.DER_cert_to_PEM_cert(raw).encode("ascii")


def _pem_key(raw: bytes) -> bytes:
    if _is_pem(raw):
        return raw
    # DER: taken as PKCS#8, the form `openssl pkcs8 -outform DER` and mbedtls write
    body = ssl.DER_cert_to_PEM_cert(raw).split("\n", 1)[1].rsplit("-----END", 1)[0]
    return f"-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n".encode("ascii")


def load_cert_key(
    context: ssl.SSLContext, cert: CertData, key: CertData, password: str | None = None
) -> None:
    """``context.load_cert_chain`` from data as well as files (PEM or DER; the standard
    library reads only files, so data goes through a private temporary directory that is
    removed at once). ParameterError if they do not load or do not match."""
    try:
        if isinstance(cert, os.PathLike) and isinstance(key, os.PathLike):
            context.load_cert_chain(cert, key, password)
            return
        with tempfile.TemporaryDirectory(prefix="netstack-tls-") as tmp:  # mode 0700
            cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert_path.write_bytes(_pem_cert(_read_credential(cert)))
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "wb") as f:
                f.write(_pem_key(_read_credential(key)))
            context.load_cert_chain(cert_path, key_path, password)
    except (ssl.SSLError, ValueError) as exc:
        raise ParameterError(f"certificate and key do not load: {exc}") from exc
    except OSError as exc:
        raise ParameterError(f"certificate and key do not load: {exc.strerror}") from exc
