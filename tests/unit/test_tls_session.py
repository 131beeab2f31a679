"""TlsSession, the sans-I/O TLS machine: two sessions wired back to back, bytes moved by hand."""

from __future__ import annotations

import ssl

import pytest

from netstack.errors import AuthFailureError, DeviceError, NoConnectionError, ParameterError
from netstack.socket.tls_session import (
    TlsAuthFailureError,
    TlsCertificateError,
    TlsError,
    TlsSession,
    ca_data,
    load_cert_key,
)
from tls_ca import SERVER_NAME, Pki


def exchange(client: TlsSession, server: TlsSession) -> None:
    """Move bytes both ways until neither side has anything to send."""
    for _ in range(20):
        to_server, to_client = client.data_to_send(), server.data_to_send()
        if not to_server and not to_client:
            return
        server.receive_data(to_server)
        client.receive_data(to_client)


def handshake(client: TlsSession, server: TlsSession) -> None:
    for _ in range(10):
        done = client.do_handshake() & server.do_handshake()
        exchange(client, server)
        if done:
            return
    raise AssertionError("the handshake did not finish")


def pair(pki: Pki, **client_options: object) -> tuple[TlsSession, TlsSession]:
    client = TlsSession(pki.client_context(), server_hostname=SERVER_NAME, **client_options)  # type: ignore[arg-type]
    server = TlsSession(pki.server_context(), server_side=True)
    handshake(client, server)
    return client, server


def read_all(session: TlsSession) -> bytes:
    out = b""
    while chunk := session.read(100_000):
        out += chunk
    return out


def test_handshake_then_data_both_ways(pki: Pki) -> None:
    client, server = pair(pki)
    assert client.version() == server.version() == "TLSv1.3"
    client.write(b"ping" * 10_000)
    server.receive_data(client.data_to_send())
    assert read_all(server) == b"ping" * 10_000
    server.write(b"pong")
    client.receive_data(server.data_to_send())
    assert client.read() == b"pong"
    assert client.read() is None  # nothing more: feed more input
    assert client.getpeercert() is not None
    assert dict(x[0] for x in client.getpeercert()["subject"])["commonName"] == SERVER_NAME  # type: ignore[index]


def test_write_before_the_handshake_is_no_connection(pki: Pki) -> None:
    client = TlsSession(pki.client_context(), server_hostname=SERVER_NAME)
    assert client.do_handshake() is False
    assert client.data_to_send().startswith(b"\x16\x03")  # a handshake record: ClientHello
    with pytest.raises(NoConnectionError):
        client.write(b"too early")


def test_close_notify_reads_as_end_of_stream_and_the_other_side_may_still_send(
    pki: Pki,
) -> None:
    client, server = pair(pki)
    client.send_close_notify()
    server.receive_data(client.data_to_send())
    assert server.read() == b""
    assert server.close_notify_received and server.peer_closed
    server.write(b"last words")  # RFC 8446 §6.1: the other direction stays open
    server.send_close_notify()
    client.receive_data(server.data_to_send())
    assert client.read() == b"last words"
    assert client.read() == b""
    with pytest.raises(NoConnectionError):
        client.write(b"after close_notify")


def test_close_notify_keeps_data_that_had_arrived_unread(pki: Pki) -> None:
    """OpenSSL's shutdown fails on unread application data; the session decrypts it first
    and hands it out afterwards."""
    client, server = pair(pki)
    for letter in b"ABC":
        server.write(bytes([letter]) * 100)
    wire = server.data_to_send()
    client.receive_data(wire[:-30])  # the last record only in part
    assert client.read(50) == b"A" * 50
    client.send_close_notify()
    client.receive_data(wire[-30:])
    assert read_all(client) == b"A" * 50 + b"B" * 100 + b"C" * 100
    assert client.read() is None  # the peer has not closed
    server.receive_data(client.data_to_send())
    assert server.read() == b""


def test_transport_end_without_close_notify_is_end_of_stream_or_an_error(pki: Pki) -> None:
    client, _ = pair(pki)
    client.receive_eof()
    assert client.read() == b""
    assert client.ragged_eof and not client.close_notify_received
    strict, _ = pair(pki, suppress_ragged_eofs=False)
    strict.receive_eof()
    with pytest.raises(TlsError) as caught:
        strict.read()
    assert isinstance(caught.value, ssl.SSLError) and isinstance(caught.value, DeviceError)


def test_untrusted_certificate_is_a_certificate_error_and_the_server_hears_why(
    pki: Pki,
) -> None:
    client = TlsSession(pki.client_context(), server_hostname=SERVER_NAME)
    server = TlsSession(
        pki.server_context(cert=pki.rogue_cert, key=pki.rogue_key), server_side=True
    )
    with pytest.raises(TlsCertificateError) as caught:
        handshake(client, server)
    error = caught.value
    assert isinstance(error, ssl.SSLCertVerificationError) and isinstance(error, AuthFailureError)
    assert error.nsapi_code == -3011 and error.verify_code == 20  # unable to get local issuer
    assert error.reason == "CERTIFICATE_VERIFY_FAILED"
    assert client.failed
    server.receive_data(client.data_to_send())  # the client's alert
    with pytest.raises(TlsAuthFailureError) as refused:
        server.do_handshake()
    assert refused.value.reason == "TLSV1_ALERT_UNKNOWN_CA"
    assert not isinstance(refused.value, ssl.SSLCertVerificationError)


def test_garbage_from_the_peer_is_a_tls_error(pki: Pki) -> None:
    server = TlsSession(pki.server_context(), server_side=True)
    server.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    with pytest.raises(TlsError) as caught:
        server.do_handshake()
    assert caught.value.nsapi_code == -3012 and caught.value.reason == "HTTP_REQUEST"


def test_a_hostname_is_required_when_the_context_checks_it(pki: Pki) -> None:
    with pytest.raises(ParameterError):
        TlsSession(pki.client_context())


def test_credentials_load_from_pem_der_and_files_and_bad_data_is_a_parameter_error(
    pki: Pki,
) -> None:
    pem = pki.ca.read_text()
    der = ssl.PEM_cert_to_DER_cert(pem)
    assert ca_data(pem) == pem and ca_data(der) == der and ca_data(pki.ca) == pem
    with pytest.raises(ParameterError):
        ca_data("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ParameterError):
        ca_data("ca.pem")  # a str that is not PEM: a file must be given as a Path
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    load_cert_key(context, pki.server_cert.read_bytes(), pki.server_key.read_text())
    with pytest.raises(ParameterError):
        load_cert_key(context, pki.server_cert, pki.client_key)  # key does not match
