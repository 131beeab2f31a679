"""IPv6 beside IPv4, in one run: ICMP echo RTT and bulk TCP goodput over a TAP (netstack)
and over a veth pair (the kernel on both ends).

Namespaces (root; created and deleted here):

- ``nsb6_<pid>``: a TAP ``nsbtap0`` with 10.77.0.1/24 and fd77::1/64 (no DAD); ``netstack
  up --ip 10.77.0.2/24 --ipv6 static:fd77::2/64`` in its own process serving TCP echo,
  discard and chargen, no offloads. The kernel tools run in this namespace.
- ``nsb6_<pid>_tso``: the same with ``--offload`` (TSO/GRO through the virtio-net
  header), for the TCP rows.
- ``nsb6_<pid>_v1`` / ``_v2``: a veth pair, 10.88.0.1 / 10.88.0.2 and fd88::1 / fd88::2,
  with ``tcp_load.py server`` on both of 10.88.0.2 and fd88::2 — the kernel reference.

Pings: ``ping -i 0.002 -q`` of 56 B (1000) and 8000 B (200: six fragments each way with
either family). TCP: ``tcp_load.py send`` to discard (the stack receives) and ``recv`` from
chargen (the stack sends), median of 3 interleaved runs. PyTCP is not measured here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from typing import Any

import bench_tap
from bench_tap import (
    SetupError,
    in_ns,
    make_tap_ns,
    missing_requirements,
    namespaces,
    ping,
    sh,
    stop,
    wait_for_line,
)
from bench_tcp import TCP_LOAD, bulk, client_ns_sysctls

TAP_HOST_IP6 = "fd77::1"
NETSTACK_IP6 = "fd77::2"
VETH1, VETH2 = "nsb6veth1", "nsb6veth2"
VETH = (("10.88.0.1", "10.88.0.2"), ("fd88::1", "fd88::2"))
PINGS = ((56, 1000), (8000, 200))
SECONDS = 2.5
REPEATS = 3
DIRECTIONS = (("rx", "kernel → stack"), ("tx", "stack → kernel"))
TSO_PATH = "netstack over TAP, offloads"


def make_veth6(ns1: str, ns2: str) -> None:
    addresses = (f"{VETH[0][0]}/24", f"{VETH[0][1]}/24", f"{VETH[1][0]}/64", f"{VETH[1][1]}/64")
    bench_tap.make_veth_pair(ns1, ns2, (VETH1, VETH2), addresses)


def kernel_server(ns: str, address: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(in_ns(ns, sys.executable, str(TCP_LOAD), "server", address),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    wait_for_line(proc, b"ready", 10.0)
    return proc


def main(quick: bool = False) -> list[dict[str, Any]]:
    why = missing_requirements()
    if why is not None:
        print(f"IPv6 measurements skipped: {why}")
        return [{"section": "skipped", "reason": why}]
    pid = os.getpid()
    ns_tap, ns_v1, ns_v2, ns_tso = (f"nsb6_{pid}{s}" for s in ("", "_v1", "_v2", "_tso"))
    seconds = 0.8 if quick else SECONDS
    repeats = 1 if quick else REPEATS
    pings = tuple((size, max(20, count // 10) if quick else count) for size, count in PINGS)
    rows: list[dict[str, Any]] = []
    procs: list[subprocess.Popen[bytes] | None] = []
    with namespaces(ns_tap, ns_v1, ns_v2, ns_tso):
        try:
            for ns in (ns_tap, ns_tso):
                make_tap_ns(ns)
                sh("ip", "-n", ns, "addr", "add", f"{TAP_HOST_IP6}/64", "dev", bench_tap.TAP,
                   "nodad")  # fmt: skip
                client_ns_sysctls(ns)
            make_veth6(ns_v1, ns_v2)
            client_ns_sysctls(ns_v1)
            netstack = bench_tap.start_netstack(
                ns_tap, 900, None, "echo,discard,chargen",
                ("--ipv6", f"static:{NETSTACK_IP6}/64"),
            )  # fmt: skip
            procs.append(netstack)
            offloaded = bench_tap.start_netstack(
                ns_tso, 900, None, "echo,discard,chargen",
                ("--ipv6", f"static:{NETSTACK_IP6}/64", "--offload"),
            )  # fmt: skip
            procs.append(offloaded)
            kernels = [kernel_server(ns_v2, address) for address in (VETH[0][1], VETH[1][1])]
            procs.extend(kernels)
            paths = [
                ("netstack over TAP", "IPv4", ns_tap, bench_tap.NETSTACK_IP, (netstack.pid,)),
                ("netstack over TAP", "IPv6", ns_tap, NETSTACK_IP6, (netstack.pid,)),
                ("kernel over veth", "IPv4", ns_v1, VETH[0][1], (kernels[0].pid,)),
                ("kernel over veth", "IPv6", ns_v1, VETH[1][1], (kernels[1].pid,)),
            ]
            bulk_paths = [
                *paths[:2],
                (TSO_PATH, "IPv4", ns_tso, bench_tap.NETSTACK_IP, (offloaded.pid,)),
                (TSO_PATH, "IPv6", ns_tso, NETSTACK_IP6, (offloaded.pid,)),
                *paths[2:],
            ]
            for size, count in pings:
                for path, family, ns, host, _pids in paths:
                    rows.append({"section": "ping", "path": path, "family": family,
                                 "size": size, **ping(ns, host, count, size)})  # fmt: skip
            runs: dict[tuple[str, str, str], list[float]] = {}
            for _ in range(repeats):
                for direction, _label in DIRECTIONS:
                    for path, family, ns, host, pids in bulk_paths:
                        r = bulk(ns, host, direction, seconds, pids)
                        runs.setdefault((direction, path, family), []).append(r["mbps"])
            for (direction, path, family), values in runs.items():
                rows.append({"section": "tcp", "direction": direction, "path": path,
                             "family": family, "mbps": statistics.median(values),
                             "low": min(values), "high": max(values)})  # fmt: skip
        except SetupError as exc:
            rows.append({"section": "skipped", "reason": str(exc)})
        finally:
            for proc in procs:
                stop(proc)
    print(format_table(rows, repeats))
    return rows


def format_table(rows: list[dict[str, Any]], repeats: int) -> str:
    lines = [
        "ICMP echo RTT, ms (`ping -i 0.002 -q` from the kernel side; 8000 B = 6 fragments "
        "each way)",
        "",
        "| payload | path | family | pings | min | avg | max | mdev | loss |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["section"] == "skipped":
            lines.insert(0, f"skipped: {r['reason']}\n")
        if r["section"] != "ping":
            continue
        lines.append(
            f"| {r['size']} B | {r['path']} | {r['family']} | {r['count']} | {r['min_ms']:.3f} "
            f"| **{r['avg_ms']:.3f}** | {r['max_ms']:.3f} | {r['mdev_ms']:.3f} "
            f"| {r['loss'] * 100:.0f} % |"
        )
    lines += [
        "",
        f"Bulk TCP goodput, MB/s, median of {repeats} runs of `tcp_load.py` (range in "
        "brackets); netstack without and with the TAP's offloads (TSO/GRO)",
        "",
        "| direction | path | IPv4 | IPv6 |",
        "|---|---|---:|---:|",
    ]
    tcp = {(r["direction"], r["path"], r["family"]): r for r in rows if r["section"] == "tcp"}
    for direction, label in DIRECTIONS:
        for path in ("netstack over TAP", TSO_PATH, "kernel over veth"):
            cells = []
            for family in ("IPv4", "IPv6"):
                r = tcp.get((direction, path, family))
                cells.append(f"{r['mbps']:,.1f} [{r['low']:,.1f}-{r['high']:,.1f}]" if r else "-")
            lines.append(f"| {label} | {path} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    main(quick=parser.parse_args().quick)
