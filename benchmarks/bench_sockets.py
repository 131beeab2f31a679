"""HTTP requests/s and TLS handshakes/s through netstack's stdlib socket facade over a TAP,
beside the same client code on the kernel's sockets across a veth pair, in one run.

Namespaces (root; created and deleted here):

- ``nsbs_<pid>``: a TAP ``nsbtap0`` with 10.77.0.1/24 and the servers bound there: the
  stdlib's ``python3 -m http.server`` (threaded) serving a 1 KiB ``small.txt``, and
  ``openssl s_server -www`` with a certificate for ``bench.test`` from a CA made here. The
  netstack client (``sockets_load.py netstack``, its own process) attaches to the TAP as
  10.77.0.2 and dials through ``Facade`` — ``http.client`` over its sockets, TLS through
  ``Facade.wrap_socket``.
- ``nsbs_<pid>_v1`` / ``_v2``: a veth pair with the same two servers on 10.88.0.2 and the
  same client code on kernel sockets in ``_v1``: the reference.

Each figure is the median of 3 closed-loop runs of 2 s (one connection at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import bench_tap
from bench_tap import (
    SetupError,
    in_ns,
    make_tap_ns,
    make_veth_pair,
    missing_requirements,
    namespaces,
    stop,
)

HERE = Path(__file__).resolve().parent
LOAD = HERE / "sockets_load.py"
HTTP_PORT, TLS_PORT = 8080, 8443
SECONDS = 2.0
REPEATS = 3


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for bench.test (EC P-256), with openssl."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=DNS:bench.test\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for cmd in (
        ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=netstack bench CA"],
        ["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=bench.test"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext],
    ):  # fmt: skip
        subprocess.run([str(c) for c in cmd], check=True, capture_output=True)
    return ca, cert, key


def start_servers(ns: str, address: str, root: Path, cert: Path, key: Path) -> list[Any]:
    http = subprocess.Popen(
        in_ns(ns, sys.executable, "-m", "http.server", str(HTTP_PORT), "--bind", address,
              "--directory", str(root)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    tls = subprocess.Popen(
        in_ns(ns, "openssl", "s_server", "-accept", f"{address}:{TLS_PORT}", "-cert",
              str(cert), "-key", str(key), "-www", "-quiet", "-no_ticket"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return [http, tls]


def client(ns: str | None, argv: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(LOAD), *argv, "--seconds", str(SECONDS)]
    if ns is not None:
        cmd = in_ns(ns, *cmd)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, env=env)
    if proc.returncode != 0:
        raise SetupError(f"sockets_load {argv[:2]}: {proc.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(quick: bool = False) -> list[dict[str, Any]]:
    why = missing_requirements()
    if why is not None:
        print(f"socket facade measurements skipped: {why}")
        return [{"section": "skipped", "reason": why}]
    pid = os.getpid()
    ns_tap, ns_v1, ns_v2 = (f"nsbs_{pid}{s}" for s in ("", "_v1", "_v2"))
    repeats = 1 if quick else REPEATS
    rows: list[dict[str, Any]] = []
    servers: list[Any] = []
    with namespaces(ns_tap, ns_v1, ns_v2), tempfile.TemporaryDirectory() as tmp:
        try:
            directory = Path(tmp)
            (directory / "small.txt").write_bytes(b"x" * 1024)
            ca, cert, key = make_certificates(directory)
            make_tap_ns(ns_tap)
            make_veth_pair(ns_v1, ns_v2)
            servers += start_servers(ns_tap, bench_tap.TAP_HOST_IP, directory, cert, key)
            servers += start_servers(ns_v2, bench_tap.VETH2_IP, directory, cert, key)
            import time

            time.sleep(1.0)  # the servers bind
            tap_args = ["--tap", bench_tap.TAP, "--netns", ns_tap, "--ip",
                        f"{bench_tap.NETSTACK_IP}/24", "--cafile", str(ca)]  # fmt: skip
            paths = [
                ("netstack facade over TAP", None, "netstack", bench_tap.TAP_HOST_IP, tap_args),
                ("kernel sockets over veth", ns_v1, "kernel", bench_tap.VETH2_IP,
                 ["--cafile", str(ca)]),
            ]  # fmt: skip
            for what, port in (("http", HTTP_PORT), ("tls", TLS_PORT)):
                for label, ns, stack, host, extra in paths:
                    rates = [
                        client(ns, [stack, what, host, str(port), *extra])["rate"]
                        for _ in range(repeats)
                    ]
                    rows.append({"what": what, "path": label, "rate": statistics.median(rates),
                                 "low": min(rates), "high": max(rates)})  # fmt: skip
        except (SetupError, subprocess.CalledProcessError) as exc:
            rows.append({"section": "skipped", "reason": str(exc)})
        finally:
            for proc in servers:
                stop(proc)
    print(format_table(rows, repeats))
    return rows


def format_table(rows: list[dict[str, Any]], repeats: int) -> str:
    lines = [
        f"Closed-loop clients, one connection at a time, median of {repeats} runs of "
        f"{SECONDS:g} s (range): `http.client` GET of 1 KiB from the stdlib's threaded "
        "http.server; a full TLS 1.3 handshake (P-256 certificate, no resumption) with "
        "`openssl s_server`.",
        "",
        "| figure | path | per second |",
        "|---|---|---:|",
    ]
    names = {"http": "HTTP requests", "tls": "TLS handshakes"}
    for r in rows:
        if "what" not in r:
            lines.insert(0, f"skipped: {r.get('reason')}\n")
            continue
        lines.append(
            f"| {names[r['what']]} | {r['path']} | **{r['rate']:,.0f}** "
            f"[{r['low']:,.0f}-{r['high']:,.0f}] |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    main(quick=parser.parse_args().quick)
