"""A TLS client on netstack: HTTPS from one simulated node to another (no root).

A throwaway CA and a certificate for ``server.test`` (10.0.0.2) are made with the openssl
command line; node ``b`` serves a folder over HTTPS with that certificate, node ``a``
fetches a file with a TLSSocket that trusts only the CA, then reconnects resuming the
session. ``python examples/tls_client.py [DIR]`` keeps the certificates in DIR.
"""

import asyncio
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

from netstack.services import HttpFileServer
from netstack.sim import LinkParams, Network
from netstack.socket import TLSSocket


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signed: (ca.pem, server.pem, server.key)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    ext = folder / "server.cnf"
    ext.write_text("subjectAltName=DNS:server.test,IP:10.0.0.2\nextendedKeyUsage=serverAuth\n")
    for args in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "30",
         "-subj", "/CN=example CA"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=server.test"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", "1",
         "-days", "30", "-out", cert, "-extfile", ext],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    return ca, cert, key


async def fetch(sock: TLSSocket, address: tuple[str, int], path: str) -> bytes:
    """GET ``path`` over HTTP/1.0 on a fresh TLS connection; the whole answer."""
    await sock.connect(address)
    await sock.send(f"GET {path} HTTP/1.0\r\nHost: server.test\r\n\r\n".encode())
    answer = b""
    while chunk := await sock.recv():  # b"" once the server's close_notify arrived
        answer += chunk
    await sock.aclose()  # close_notify back; never waits more than close_timeout
    return answer


def main(folder: Path) -> None:
    ca, cert, key = make_certificates(folder)
    www = folder / "www"
    www.mkdir(exist_ok=True)
    (www / "hello.txt").write_text("hello over TLS\n")

    net = Network(seed=1)
    lan = net.segment("lan", LinkParams(latency=5e-3))
    a = net.host("a", lan, "10.0.0.1/24")
    b = net.host("b", lan, "10.0.0.2/24")

    async def scenario() -> None:
        await net.start()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert, key)
        HttpFileServer(b, www, tls=server_context).start()  # HTTPS on port 443

        sock = TLSSocket(a)  # verifies certificates and host names by default
        sock.set_root_ca_cert(ca)  # ... against this CA only (Mbed's setter)
        sock.set_hostname("server.test")  # SNI and the name checked
        start = net.now()
        answer = await fetch(sock, ("10.0.0.2", 443), "/hello.txt")
        head, _, body = answer.partition(b"\r\n\r\n")
        print(f"{head.splitlines()[0].decode()}: {body!r}")
        cipher = (sock.cipher() or ("?",))[0]
        print(f"{sock.version()} {cipher}, {(net.now() - start) * 1e3:.1f} ms")

        again = TLSSocket(a, sock.context, session=sock.session)  # resume the session
        again.set_hostname("server.test")
        await fetch(again, ("10.0.0.2", 443), "/hello.txt")
        print(f"session resumed: {again.session_reused}")
        await asyncio.sleep(0.1)  # the server's lingering close ends

    try:
        net.run(scenario())
    finally:
        net.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
