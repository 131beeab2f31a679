"""TLSSocket between two netstack nodes on a simulated LAN (virtual time).

The certificates come from the session's test CA (tests/tls_ca.py): the server is
``server.test`` at 10.0.0.2 / 2001:db8::2, the client trusts only the test CA unless a test
says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import ssl
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from netstack.errors import (
    AuthFailureError,
    NetworkTimeoutError,
    NoConnectionError,
    ParameterError,
    WouldBlockError,
)
from netstack.services import DnsServer, HttpFileServer
from netstack.sim import Host, LinkParams, Network
from netstack.socket import (
    SOL_SOCKET,
    SocketAddress,
    SocketOption,
    TCPSocket,
    TlsAuthFailureError,
    TlsCertificateError,
    TLSSocket,
)
from tls_ca import SERVER_NAME, Pki

T = TypeVar("T")
PORT = 443


def pattern(size: int, salt: bytes) -> bytes:
    return hashlib.shake_128(salt).digest(size)


class Lan:
    """Client ``a`` (10.0.0.1, 2001:db8::1) and server ``b`` (10.0.0.2, 2001:db8::2)."""

    def __init__(self, params: LinkParams | None = None) -> None:
        self.net = Network(seed=1)
        lan = self.net.segment("lan", params)
        self.a: Host = self.net.host("a", lan, "10.0.0.1/24", ipv6="static:2001:db8::1/64")
        self.b: Host = self.net.host("b", lan, "10.0.0.2/24", ipv6="static:2001:db8::2/64")
        self.started = False

    def run(self, main: Callable[[], Awaitable[T]]) -> T:
        """Run ``main()`` (the hosts are started the first time)."""

        async def started() -> T:
            if not self.started:
                self.started = True
                await self.net.start()
            return await main()

        return self.net.run(started())

    def listen(self, context: ssl.SSLContext, port: int = PORT) -> TLSSocket:
        listener = TLSSocket(self.b, context)
        listener.bind(port)
        listener.listen()
        return listener


@pytest.fixture
def lan() -> Iterator[Lan]:
    made = Lan(LinkParams(latency=1e-3))
    yield made
    made.net.close()


def client(lan: Lan, pki: Pki, **options: object) -> TLSSocket:
    sock = TLSSocket(lan.a, **options)  # type: ignore[arg-type]
    sock.set_root_ca_cert(pki.ca.read_text())
    return sock


async def accept_failure(listener: TLSSocket) -> BaseException | None:
    """What the server's accept raised (None if the handshake succeeded)."""
    try:
        conn, _ = await listener.accept()
    except Exception as exc:
        return exc
    conn.close()
    return None


# -- handshake and data --------------------------------------------------------------------
def test_handshake_and_300_kb_each_way_byte_exact(lan: Lan, pki: Pki) -> None:
    up, down = pattern(300_000, b"up"), pattern(300_000, b"down")

    async def server(listener: TLSSocket) -> tuple[str, int]:
        conn, peer = await listener.accept()
        got = await conn.recv_exactly(len(up))
        await conn.send(down)
        assert await conn.recv() == b""
        assert conn.tls is not None and conn.tls.close_notify_received  # not a bare FIN
        await conn.aclose()
        return hashlib.sha256(got).hexdigest(), peer.port

    async def main() -> tuple[
        tuple[str, int], bytes, str | None, str | None, ssl.SSLSession | None
    ]:
        served = asyncio.ensure_future(server(lan.listen(pki.server_context())))
        sock = client(lan, pki)
        await sock.connect(("10.0.0.2", PORT))
        version = sock.version()
        await sock.send(up)
        got = await sock.recv_exactly(len(down))
        await sock.aclose()
        return await served, got, version, sock.server_hostname, sock.session

    (up_sha, port), got, version, hostname, session = lan.run(main)
    assert up_sha == hashlib.sha256(up).hexdigest()
    assert got == down
    assert version == "TLSv1.3"
    assert hostname == "10.0.0.2"  # the IP literal was checked against the certificate
    assert port >= 49152 and session is not None


def test_alpn_picks_the_servers_choice_and_sni_carries_the_hostname(lan: Lan, pki: Pki) -> None:
    server_ctx = pki.server_context()
    server_ctx.set_alpn_protocols(["http/1.1"])
    seen_sni: list[str | None] = []
    server_ctx.sni_callback = lambda _obj, name, _ctx: seen_sni.append(name)  # type: ignore[func-returns-value]

    async def main() -> tuple[str | None, str | None]:
        listener = lan.listen(server_ctx)
        accepted = asyncio.ensure_future(listener.accept())
        sock = client(lan, pki, alpn_protocols=["h2", "http/1.1"])
        sock.set_hostname(SERVER_NAME)
        await sock.connect(("10.0.0.2", PORT))
        conn, _ = await accepted
        chosen = sock.selected_alpn_protocol(), conn.selected_alpn_protocol()
        sock.close()
        conn.close()
        return chosen

    assert lan.run(main) == ("http/1.1", "http/1.1")
    assert seen_sni == [SERVER_NAME]


def test_connect_by_name_resolves_it_and_checks_it(lan: Lan, pki: Pki) -> None:
    async def main() -> tuple[str | None, str | None, str]:
        DnsServer(lan.b, {SERVER_NAME: "10.0.0.2"}, origin="test").start()
        lan.a.stack.add_dns_server(SocketAddress("10.0.0.2", 53))
        listener = lan.listen(pki.server_context())
        accepted = asyncio.ensure_future(listener.accept())
        sock = client(lan, pki)
        await sock.connect(SERVER_NAME, PORT)
        conn, _ = await accepted
        peer = sock.getpeername().ip
        sock.close()
        conn.close()
        return sock.server_hostname, sock.version(), peer

    assert lan.run(main) == (SERVER_NAME, "TLSv1.3", "10.0.0.2")


def test_ipv6_handshake_checks_the_ipv6_address_in_the_certificate(lan: Lan, pki: Pki) -> None:
    async def main() -> tuple[bytes, str]:
        listener = lan.listen(pki.server_context())
        accepted = asyncio.ensure_future(listener.accept())
        sock = client(lan, pki)
        await sock.connect(("2001:db8::2", PORT))
        conn, peer = await accepted
        await conn.send(b"over IPv6")
        got = await sock.recv()
        sock.close()
        conn.close()
        return got, peer.ip

    assert lan.run(main) == (b"over IPv6", "2001:db8::1")


# -- certificate verification --------------------------------------------------------------
@pytest.mark.parametrize(
    ("case", "verify_code", "message"),
    [
        ("wrong hostname", 62, "Hostname mismatch"),
        ("untrusted CA", 20, "unable to get local issuer certificate"),
        ("expired", 10, "certificate has expired"),
        ("system CAs only", 20, "unable to get local issuer certificate"),
    ],
)
def test_a_bad_server_certificate_fails_the_connect_with_ssl_cert_verification_error(
    lan: Lan, pki: Pki, case: str, verify_code: int, message: str
) -> None:
    cert, key = {
        "untrusted CA": (pki.rogue_cert, pki.rogue_key),
        "expired": (pki.expired_cert, pki.expired_key),
    }.get(case, (pki.server_cert, pki.server_key))

    async def main() -> tuple[BaseException, BaseException | None]:
        listener = lan.listen(pki.server_context(cert=cert, key=key))
        refused = asyncio.ensure_future(accept_failure(listener))
        sock = TLSSocket(lan.a) if case == "system CAs only" else client(lan, pki)
        if case == "wrong hostname":
            sock.set_hostname("other.test")
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            await sock.connect(("10.0.0.2", PORT))
        sock.close()
        return caught.value, await refused

    error, server_error = lan.run(main)
    assert isinstance(error, TlsCertificateError) and isinstance(error, AuthFailureError)
    assert error.nsapi_code == -3011
    assert error.verify_code == verify_code and message in error.verify_message
    assert message in str(error)
    # the client's alert told the server why (not a bare close)
    assert isinstance(server_error, TlsAuthFailureError), server_error


def test_client_certificate_required_accepted_or_refused(lan: Lan, pki: Pki) -> None:
    async def main() -> tuple[str, BaseException | None, BaseException]:
        listener = lan.listen(pki.server_context(require_client_cert=True))
        accepted = asyncio.ensure_future(listener.accept())
        good = client(lan, pki)
        good.set_client_cert_key(pki.client_cert.read_bytes(), pki.client_key.read_bytes())
        await good.connect(("10.0.0.2", PORT))
        conn, _ = await accepted
        peer_cert = conn.getpeercert()
        assert peer_cert is not None
        subject = dict(rdn[0] for rdn in peer_cert["subject"])  # type: ignore[attr-defined]
        good.close()
        conn.close()

        refused = asyncio.ensure_future(accept_failure(listener))
        anonymous = client(lan, pki)
        await anonymous.connect(("10.0.0.2", PORT))  # TLS 1.3: the client finishes first
        with pytest.raises(TlsAuthFailureError) as caught:
            await anonymous.recv()  # ... and hears the server's alert
        anonymous.close()
        return subject["commonName"], await refused, caught.value

    common_name, server_error, client_error = lan.run(main)
    assert common_name == "client.test"
    assert isinstance(server_error, TlsAuthFailureError)
    assert server_error.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert isinstance(client_error, ssl.SSLError) and client_error.nsapi_code == -3011
    assert client_error.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"


def test_mbed_credential_setters_der_path_and_append(lan: Lan, pki: Pki, tmp_path: Path) -> None:
    cas = tmp_path / "cas"
    cas.mkdir()
    (cas / "README").write_text("not a certificate")
    (cas / "ca.der").write_bytes(ssl.PEM_cert_to_DER_cert(pki.ca.read_text()))

    async def connect(setup: Callable[[TLSSocket], None]) -> str | None:
        sock = TLSSocket(lan.a)
        setup(sock)
        try:
            await sock.connect(("10.0.0.2", PORT))
        except TlsCertificateError:
            return None
        finally:
            sock.close()
        return sock.version()

    async def main() -> list[str | None]:
        listener = lan.listen(pki.server_context())
        server = asyncio.ensure_future(serve_forever(listener))
        results = [
            await connect(
                lambda s: s.set_root_ca_cert(ssl.PEM_cert_to_DER_cert(pki.ca.read_text()))
            ),
            await connect(lambda s: s.set_root_ca_cert_path(cas)),
            await connect(lambda s: s.append_root_ca_cert(pki.ca)),  # system CAs + ours
            await connect(lambda s: s.set_root_ca_cert(pki.rogue_ca)),  # only the rogue one
            await connect(
                lambda s: (s.append_root_ca_cert(pki.ca), s.set_root_ca_cert(pki.rogue_ca))
            ),
        ]
        server.cancel()
        return results

    assert lan.run(main) == ["TLSv1.3", "TLSv1.3", "TLSv1.3", None, None]
    sock = TLSSocket(lan.a)
    with pytest.raises(ParameterError):
        sock.set_root_ca_cert("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----")
    with pytest.raises(ParameterError):
        sock.set_root_ca_cert_path(tmp_path)  # holds no certificate file
    with pytest.raises(ParameterError):
        sock.set_client_cert_key(pki.client_cert, pki.server_key)
    sock.close()


async def serve_forever(listener: TLSSocket) -> None:
    """Accept and close connections, ignoring failed handshakes."""
    while True:
        try:
            conn, _ = await listener.accept()
        except (ssl.SSLError, NoConnectionError):
            continue
        conn.close()


# -- session resumption --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "tickets"),
    [
        pytest.param(ssl.TLSVersion.TLSv1_3, True, id="tls1.3-ticket"),
        pytest.param(ssl.TLSVersion.TLSv1_2, True, id="tls1.2-ticket"),
        pytest.param(ssl.TLSVersion.TLSv1_2, False, id="tls1.2-session-id"),
    ],
)
def test_a_reconnecting_client_resumes_its_session(
    lan: Lan, pki: Pki, version: ssl.TLSVersion, tickets: bool
) -> None:
    server_ctx = pki.server_context()
    if not tickets:
        server_ctx.options |= ssl.OP_NO_TICKET  # RFC 5246 §7.4.1.2 session ids, cached
    client_ctx = pki.client_context()
    client_ctx.maximum_version = version

    async def main() -> list[tuple[bool, bool, str | None, bool]]:
        listener = lan.listen(server_ctx)
        results = []
        session = None
        for _ in range(3):
            accepted = asyncio.ensure_future(listener.accept())
            sock = TLSSocket(lan.a, client_ctx, session=session)
            await sock.connect(("10.0.0.2", PORT))
            conn, _ = await accepted
            await conn.send(b"hello")  # with TLS 1.3 the ticket comes with the first data
            assert await sock.recv() == b"hello"
            session = sock.session
            assert session is not None
            results.append(
                (sock.session_reused, conn.session_reused, sock.version(), session.has_ticket)
            )
            await sock.aclose()
            conn.close()
        return results

    results = lan.run(main)
    name = "TLSv1.3" if version is ssl.TLSVersion.TLSv1_3 else "TLSv1.2"
    assert results == [(False, False, name, tickets)] + [(True, True, name, tickets)] * 2


def test_a_session_resumes_only_with_the_context_that_made_it(lan: Lan, pki: Pki) -> None:
    async def main() -> ssl.SSLSession | None:
        listener = lan.listen(pki.server_context())
        accepted = asyncio.ensure_future(listener.accept())
        first = client(lan, pki)
        await first.connect(("10.0.0.2", PORT))
        conn, _ = await accepted
        await conn.send(b"x")
        await first.recv()
        first.close()
        conn.close()
        return first.session

    session = lan.run(main)
    other = client(lan, pki, session=session)  # its own default context: not the first's
    with pytest.raises(ParameterError, match="different SSLContext"):
        lan.run(lambda: other.connect(("10.0.0.2", PORT)))
    other.close()


# -- closing -------------------------------------------------------------------------------
def test_close_notify_is_end_of_stream_for_the_peer_which_may_still_answer(
    lan: Lan, pki: Pki
) -> None:
    async def main() -> tuple[bytes, bytes, bytes, bytes]:
        listener = lan.listen(pki.server_context())
        accepted = asyncio.ensure_future(listener.accept())
        sock = client(lan, pki)
        await sock.connect(("10.0.0.2", PORT))
        conn, _ = await accepted
        await sock.send(b"request")
        sock.shutdown()  # close_notify, then FIN
        got = await conn.recv_exactly(7)
        at_server = await conn.recv()
        await conn.send(b"answer after your close_notify")
        await conn.aclose()
        answer = await sock.recv_exactly(30)
        at_client = await sock.recv()
        sock.close()
        return got, at_server, answer, at_client

    assert lan.run(main) == (b"request", b"", b"answer after your close_notify", b"")


def test_closing_with_the_peers_close_notify_unread_is_a_fin_not_a_reset(
    lan: Lan, pki: Pki
) -> None:
    async def main() -> tuple[bytes, bool, int]:
        listener = lan.listen(pki.server_context())
        accepted = asyncio.ensure_future(listener.accept())
        sock = client(lan, pki)
        await sock.connect(("10.0.0.2", PORT))
        conn, _ = await accepted
        await conn.send(b"never read")
        conn.shutdown()
        await asyncio.sleep(0.05)  # data, close_notify and FIN wait in the client's TCP
        resets = lan.a.stack.stats()["tcp"]["tx_resets"]
        sock.close()
        at_server = await conn.recv()  # the client's close_notify, then its FIN
        closed_cleanly = conn.tls is not None and conn.tls.close_notify_received
        conn.close()
        return at_server, closed_cleanly, lan.a.stack.stats()["tcp"]["tx_resets"] - resets

    assert lan.run(main) == (b"", True, 0)


def test_close_after_the_peer_vanished_never_hangs(pki: Pki) -> None:
    """Mbed #15209: close_notify on a dead link. The server's NIC goes down; the client
    fills its send buffer, then closes: aclose waits at most its timeout of the world's
    clock, close not at all, and the socket is released."""
    lan = Lan(LinkParams(latency=1e-3))

    async def main() -> tuple[float, float, bool]:
        listener = lan.listen(pki.server_context())
        accepted = asyncio.ensure_future(listener.accept())
        sock = client(lan, pki)
        await sock.connect(("10.0.0.2", PORT))
        await accepted
        lan.b.iface.emac.set_link(False)  # type: ignore[attr-defined]
        sock.set_timeout(2.0)
        with pytest.raises(NetworkTimeoutError):
            await sock.send(pattern(4_000_000, b"into the void"))
        assert not sock.writable()
        start = lan.net.now()
        await sock.aclose(timeout=1.5)
        waited = lan.net.now() - start
        second = client(lan, pki)
        await asyncio.sleep(0)
        start = lan.net.now()
        second.close()  # never connected: nothing to say, nothing to wait for
        return waited, lan.net.now() - start, sock.is_open

    try:
        waited, second_wait, still_open = lan.run(main)
    finally:
        lan.net.close()
    assert 1.5 <= waited < 1.6  # the bound, on the world's clock
    assert second_wait == 0.0 and not still_open


def test_close_after_a_reset_skips_close_notify(lan: Lan, pki: Pki) -> None:
    async def main() -> tuple[float, int]:
        listener = lan.listen(pki.server_context())
        accepted = asyncio.ensure_future(listener.accept())
        sock = client(lan, pki)
        await sock.connect(("10.0.0.2", PORT))
        conn, _ = await accepted
        conn.setsockopt(SOL_SOCKET, SocketOption.LINGER, 0)
        conn.close()  # linger 0: RST, no close_notify
        await asyncio.sleep(0.1)
        tcp = lan.a.stack.stats()["tcp"]
        sent_before = tcp["tx_segments"]
        start = lan.net.now()
        await sock.aclose()
        await asyncio.sleep(0.1)
        return lan.net.now() - start - 0.1, lan.a.stack.stats()["tcp"]["tx_segments"] - sent_before

    waited, sent = lan.run(main)
    assert waited == pytest.approx(0.0, abs=1e-9) and sent == 0


# -- modes and the Socket API --------------------------------------------------------------
def test_non_blocking_calls_raise_would_block_until_a_record_is_in(lan: Lan, pki: Pki) -> None:
    async def main() -> tuple[bytes, int, bool]:
        listener = lan.listen(pki.server_context())
        accepted = asyncio.ensure_future(listener.accept())
        sock = client(lan, pki)
        await sock.connect(("10.0.0.2", PORT))
        conn, _ = await accepted
        sock.set_blocking(False)
        with pytest.raises(WouldBlockError):
            await sock.recv()
        events: list[bool] = []
        sock.sigio(lambda: events.append(sock.readable()))
        await conn.send(b"wake up")
        got = None
        while got is None:  # readiness may be spurious (a record still in part)
            await asyncio.sleep(0.001)
            with contextlib.suppress(WouldBlockError):
                got = sock.recv_nowait()
        sent = sock.send_nowait(b"y" * 100_000)  # what fits now, at least one record
        sock.close()
        conn.close()
        return got, sent, any(events)

    got, sent, signalled = lan.run(main)
    assert got == b"wake up" and 16384 <= sent <= 100_000 and signalled


def test_accept_nowait_leaves_the_handshake_to_the_first_call(lan: Lan, pki: Pki) -> None:
    async def main() -> tuple[bool, bytes, str | None]:
        listener = lan.listen(pki.server_context())
        sock = client(lan, pki)
        connecting = asyncio.ensure_future(sock.connect(("10.0.0.2", PORT)))
        while not listener.readable():
            await asyncio.sleep(0.001)
        conn, _ = listener.accept_nowait()
        before = conn.tls is None
        await conn.send(b"first words")  # the handshake, then the data
        await connecting
        got = await sock.recv()
        sock.close()
        conn.close()
        return before, got, conn.version()

    assert lan.run(main) == (True, b"first words", "TLSv1.3")


def test_send_before_connect_is_no_connection(lan: Lan, pki: Pki) -> None:
    sock = client(lan, pki)
    with pytest.raises(NoConnectionError):
        lan.run(lambda: sock.send(b"x"))
    sock.close()


def test_tls_socket_overrides_every_tcp_socket_call_that_moves_data() -> None:
    """TLSSocket inherits from TCPSocket; an inherited call that sent or read the TCP
    stream directly would bypass TLS. Only these are inherited as they are."""
    safe = {
        "bind", "connected", "getpeername", "getsockname", "getsockopt", "is_open", "open",
        "recv_exactly", "set_blocking", "set_timeout", "setsockopt", "sigio", "stack",
        "timeout", "kind",
    }  # fmt: skip
    inherited = {
        name
        for name, _ in inspect.getmembers(TCPSocket)
        if not name.startswith("_") and name not in TLSSocket.__dict__
    }
    assert inherited <= safe, inherited - safe


# -- HTTPS ---------------------------------------------------------------------------------
def test_https_file_server_answers_a_tls_client(lan: Lan, pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "file.bin").write_bytes(pattern(200_000, b"file"))

    async def main() -> tuple[bytes, dict[int, int], int]:
        server = HttpFileServer(lan.b, tmp_path, tls=pki.server_context())
        server.start()
        sock = client(lan, pki)
        await sock.connect(("10.0.0.2", server.port))
        await sock.send(b"GET /file.bin HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := await sock.recv():
            reply += chunk
        await sock.aclose()
        await asyncio.sleep(0.1)
        server.stop()
        return reply, server.stats.by_status, server.port

    reply, by_status, port = lan.run(main)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK") and b"Content-Length: 200000" in head
    assert body == pattern(200_000, b"file")
    assert by_status == {200: 1} and port == 443
