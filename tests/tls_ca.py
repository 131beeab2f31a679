"""A throwaway PKI for the TLS tests, made with the ``openssl`` command line in a folder.

- ``ca``: the test CA (EC P-256, ``CA:TRUE``) every good certificate chains to;
- ``server_cert``/``server_key``: ``CN=server.test`` with subjectAltName ``server.test`` and
  the addresses the tests serve from: 10.0.0.2 and 2001:db8::2 (simulation), 10.77.0.2
  and fd77::2 (netstack on a TAP), 10.77.0.1 and fd77::1 (the kernel's side of the TAP);
- ``client_cert``/``client_key``: ``CN=client.test`` for TLS client authentication;
- ``expired_cert``/``expired_key``: like the server's, but past its validity;
- ``rogue_ca`` and ``rogue_cert``/``rogue_key``: a second CA nobody trusts and a
  ``server.test`` certificate from it.

The ``pki`` fixture (tests/conftest.py) makes one per session; ``make_pki`` takes about
0.1 s.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

SERVER_NAME = "server.test"
SERVER_SAN = (
    f"DNS:{SERVER_NAME},IP:10.0.0.2,IP:2001:db8::2,IP:10.77.0.2,IP:fd77::2,IP:10.77.0.1,IP:fd77::1"
)
_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True, slots=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    expired_cert: Path
    expired_key: Path
    rogue_ca: Path
    rogue_cert: Path
    rogue_key: Path

    def server_context(
        self, *, require_client_cert: bool = False, cert: Path | None = None,
        key: Path | None = None,
    ) -> ssl.SSLContext:  # fmt: skip
        """A server context with the server's certificate (or ``cert``/``key``); with
        ``require_client_cert`` it asks for a client certificate from the test CA."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert or self.server_cert, key or self.server_key)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=self.ca)
        return ctx

    def client_context(self, *, with_cert: bool = False) -> ssl.SSLContext:
        """A client context trusting only the test CA (optionally with the client's
        certificate)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        if with_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


def _openssl(*args: str | Path) -> None:
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is not installed (make system-deps installs it)")
    proc = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, timeout=30, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{proc.stderr}")


def _ca(directory: Path, name: str, subject: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", *_EC, "-keyout", key, "-out", cert, "-days", "3650", "-subj", subject,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


def _leaf(
    directory: Path, name: str, subject: str, issuer: tuple[Path, Path], extensions: str,
    days: str = "3650",
) -> tuple[Path, Path]:  # fmt: skip
    cert, key, csr = directory / f"{name}.pem", directory / f"{name}.key", directory / "req.csr"
    ext = directory / f"{name}.cnf"
    ext.write_text(
        "[v3]\nbasicConstraints=critical,CA:FALSE\nsubjectKeyIdentifier=hash\n"
        f"authorityKeyIdentifier=keyid\n{extensions}\n"
    )
    _openssl("req", *_EC, "-keyout", key, "-out", csr, "-subj", subject)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", issuer[0], "-CAkey", issuer[1], "-set_serial",
        str(zlib.crc32(name.encode()) + 1), "-days", days, "-out", cert,
        "-extfile", ext, "-extensions", "v3",
    )  # fmt: skip
    csr.unlink()
    return cert, key


def make_pki(directory: Path) -> Pki:
    """Write a CA, certificates and keys (PEM) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(directory, "ca", "/CN=netstack test CA")
    rogue = _ca(directory, "rogue-ca", "/CN=rogue CA")
    server_ext = (
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        f"subjectAltName={SERVER_SAN}"
    )
    client_ext = (
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
        "subjectAltName=DNS:client.test"
    )
    subject = f"/CN={SERVER_NAME}"
    server = _leaf(directory, "server", subject, ca, server_ext)
    client = _leaf(directory, "client", "/CN=client.test", ca, client_ext)
    # notAfter a day before now: expired (OpenSSL 3.0 has no option for a past notBefore)
    expired = _leaf(directory, "expired", subject, ca, server_ext, days="-1")
    rogue_server = _leaf(directory, "rogue-server", subject, rogue, server_ext)
    return Pki(
        ca=ca[0],
        server_cert=server[0],
        server_key=server[1],
        client_cert=client[0],
        client_key=client[1],
        expired_cert=expired[0],
        expired_key=expired[1],
        rogue_ca=rogue[0],
        rogue_cert=rogue_server[0],
        rogue_key=rogue_server[1],
    )
