"""TLS against real peers through a TAP: netstack's TLSSocket client against
``openssl s_server`` in the test's namespace, and curl against netstack's HTTPS file service.

Certificates come from the session's test CA (tests/tls_ca.py); its server certificate
names the kernel's side (10.77.0.1) as well as netstack's (10.77.0.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_ipv4_kernel import (
    BAD_PACKETS,
    CHECKSUM_OPTS,
    OUR_IP,
    Tshark,
    netstack_command,
    netstack_on,
    run_in_netns,
)

from conftest import TapDevice
from netstack.interfaces.ethernet import EthernetInterface
from netstack.runtime import World
from netstack.socket import TlsCertificateError, TLSSocket
from tls_ca import SERVER_NAME, Pki

pytestmark = pytest.mark.interop

KERNEL_IP = "10.77.0.1"
PORT = 4433
CURL = ["curl", "--silent", "--show-error", "--noproxy", "*", "--max-time", "30"]


def pattern(size: int, salt: bytes) -> bytes:
    return hashlib.shake_128(salt).digest(size)


@contextlib.asynccontextmanager
async def s_server(
    tap: TapDevice, cert: Path, key: Path, *options: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``openssl s_server`` on the kernel's side, port 4433, until the block ends; its
    output stays readable from ``proc.stdout``."""
    proc = await asyncio.create_subprocess_exec(
        *tap.argv(["openssl", "s_server", "-4", "-accept", str(PORT), "-cert", str(cert),
                   "-key", str(key), *options]),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        while b"ACCEPT" not in (line := await asyncio.wait_for(proc.stdout.readline(), 10)):
            assert line, "openssl s_server exited before listening"
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def assert_our_packets_clean(pcap: Path, tshark: Tshark, opts: tuple[str, ...] = ()) -> None:
    """Nothing malformed, no expert warning, no bad checksum — except the kernel's resets.
    A peer that closes once it has what it wanted (curl after Content-Length bytes, curl
    refusing a certificate, s_server after "CLOSE") may leave our close_notify or the rest
    of our handshake unread, or get it after closing: its kernel answers with a reset (RFC
    1122 §4.2.2.13), which tshark rightly flags."""
    ours = f"({BAD_PACKETS}) && !(tcp.flags.reset == 1 && ip.src == {KERNEL_IP})"
    bad = tshark(pcap, ["frame.number", "_ws.col.Info"], filter=ours, opts=(*CHECKSUM_OPTS, *opts))
    assert bad == [], f"{pcap}: tshark flags {bad}"


async def tls_client(iface: EthernetInterface, pki: Pki, **options: object) -> TLSSocket:
    sock = TLSSocket(iface, **options)  # type: ignore[arg-type]
    sock.set_root_ca_cert(pki.ca)
    sock.set_timeout(20)
    return sock


def test_tls_client_against_openssl_s_server_300_kb_both_ways(
    tap: TapDevice, real_world: World, pki: Pki, tmp_path: Path, tshark: Tshark
) -> None:
    """``s_server -rev`` sends every line back reversed: 300 lines of 1 KB each way."""
    lines = [b"%05d:" % i + pattern(500, b"%d" % i).hex().encode() for i in range(300)]
    pcap = tmp_path / "tls.pcap"

    async def main() -> tuple[bytes, str | None, str | None, bool, bytes]:
        async with (
            netstack_on(tap, real_world, pcap) as iface,
            s_server(tap, pki.server_cert, pki.server_key, "-rev", "-naccept", "1"),
        ):
            sock = await tls_client(iface, pki)
            sock.set_hostname(SERVER_NAME)
            await sock.connect((KERNEL_IP, PORT))

            async def reader() -> bytes:
                got = bytearray()
                while chunk := await sock.recv():
                    got += chunk
                return bytes(got)

            reading = asyncio.ensure_future(reader())
            await sock.send(b"".join(line + b"\n" for line in lines))
            await sock.send(b"CLOSE\n")  # s_server -rev closes (with close_notify)
            echoed = await reading
            closed_cleanly = sock.tls is not None and sock.tls.close_notify_received
            cert = sock.getpeercert(binary_form=True) or b""
            version, cipher = sock.version(), (sock.cipher() or ("",))[0]
            await sock.aclose()
            return echoed, version, cipher, closed_cleanly, cert

    echoed, version, cipher, closed_cleanly, cert = real_world.run(main())
    assert echoed == b"".join(line[::-1] + b"\n" for line in lines), echoed[-200:]
    assert version == "TLSv1.3" and cipher.startswith("TLS_")
    assert closed_cleanly  # s_server's close_notify ended the stream
    assert cert == ssl.PEM_cert_to_DER_cert(pki.server_cert.read_text())
    decode_4433 = ("-d", f"tcp.port=={PORT},tls")
    assert tshark(pcap, ["frame.number"], filter="tls.handshake.type == 1", opts=decode_4433)
    assert tshark(pcap, ["frame.number"], filter="tls.app_data", opts=decode_4433)
    assert_our_packets_clean(pcap, tshark, decode_4433)


@pytest.mark.parametrize("case", ["wrong hostname", "untrusted certificate"])
def test_tls_client_refuses_a_bad_certificate_from_openssl(
    tap: TapDevice, real_world: World, pki: Pki, case: str
) -> None:
    cert, key = (
        (pki.rogue_cert, pki.rogue_key) if case == "untrusted certificate"
        else (pki.server_cert, pki.server_key)
    )  # fmt: skip

    async def main() -> tuple[BaseException, str]:
        async with (
            netstack_on(tap, real_world) as iface,
            s_server(tap, cert, key, "-rev", "-naccept", "1") as proc,
        ):
            sock = await tls_client(iface, pki)
            if case == "wrong hostname":
                sock.set_hostname("wrong.test")
            with pytest.raises(ssl.SSLCertVerificationError) as caught:
                await sock.connect((KERNEL_IP, PORT))
            sock.close()
            assert proc.stdout is not None
            log = await asyncio.wait_for(proc.stdout.read(), 10)  # -naccept 1: it exits
            return caught.value, log.decode(errors="replace")

    error, log = real_world.run(main())
    assert isinstance(error, TlsCertificateError)
    expected = "Hostname mismatch" if case == "wrong hostname" else "unable to get local issuer"
    assert expected in error.verify_message
    # our alert reached openssl: "bad certificate" / "unknown ca"
    assert "alert" in log and ("bad certificate" in log or "unknown ca" in log), log


def test_tls_client_resumes_a_session_with_openssl(
    tap: TapDevice, real_world: World, pki: Pki
) -> None:
    async def main() -> list[tuple[bool, bool]]:
        async with (
            netstack_on(tap, real_world) as iface,
            s_server(tap, pki.server_cert, pki.server_key, "-rev", "-naccept", "2"),
        ):
            context = ssl.create_default_context(cafile=pki.ca)
            results = []
            session = None
            for _ in range(2):
                sock = await tls_client(iface, pki, context=context, session=session)
                await sock.connect((KERNEL_IP, PORT))
                await sock.send(b"olleh\n")
                assert await sock.recv_exactly(6) == b"hello\n"  # the ticket came first
                session = sock.session
                results.append((sock.session_reused, session is not None and session.has_ticket))
                await sock.aclose()
            return results

    assert real_world.run(main()) == [(False, True), (True, True)]


def test_curl_downloads_over_https_from_netstack_up(
    tap: TapDevice, pki: Pki, tmp_path: Path, tshark: Tshark
) -> None:
    """``netstack up --serve https=DIR`` as a process; curl verifies it with the test CA,
    over TLS 1.3 and 1.2, byte-exact; the capture decodes cleanly as TLS."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "file.bin").write_bytes(pattern(1_000_000, b"https"))
    outs = [tmp_path / "13.out", tmp_path / "12.out"]
    pcap = tmp_path / "https.pcap"
    url = f"https://{OUR_IP}/file.bin"

    async def main() -> tuple[list[tuple[int, str]], tuple[int, str], str]:
        proc = await asyncio.create_subprocess_exec(
            *netstack_command(), "up", "--tap", tap.name, "--netns", tap.netns,
            "--ip", f"{OUR_IP}/24", "--serve", f"https={www}", "--tls-cert",
            str(pki.server_cert), "--tls-key", str(pki.server_key), "--pcap", str(pcap),
            "--duration", "60", "--stats-interval", "100",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
            assert "netstack up on" in line and "services https" in line, line
            cacert = ["--cacert", str(pki.ca), "-w", "%{http_code} %{ssl_verify_result}"]
            results = [
                await run_in_netns(
                    tap, [*CURL, "--retry", "3", "--retry-connrefused", *cacert, "-o",
                          str(outs[0]), url], 40,
                ),
                await run_in_netns(
                    tap, [*CURL, "--tls-max", "1.2", *cacert, "-o", str(outs[1]), url], 40
                ),
            ]  # fmt: skip
            # without the test CA curl refuses netstack's certificate
            untrusted = await run_in_netns(tap, [*CURL, "-o", "/dev/null", url], 40)
            proc.terminate()
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, stderr
        return results, untrusted, stdout.decode()

    results, untrusted, stdout = asyncio.run(main())
    assert results == [(0, "200 0"), (0, "200 0")], results
    for out in outs:
        assert out.read_bytes() == (www / "file.bin").read_bytes()
    assert untrusted[0] == 60, untrusted  # curl: peer certificate cannot be authenticated
    assert "tcp-https=3" in stdout, stdout
    hellos = tshark(
        pcap, ["tls.handshake.extensions.supported_version"], filter="tls.handshake.type == 2"
    )  # ServerHello: TLS 1.3 names itself in supported_versions (RFC 8446 §4.2.1)
    assert sorted(v[0] for v in hellos) == ["", "0x0304", "0x0304"], hellos
    assert len(tshark(pcap, ["frame.number"], filter="tls.app_data")) > 10
    assert_our_packets_clean(pcap, tshark)
