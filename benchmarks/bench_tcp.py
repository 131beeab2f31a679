"""TCP over a TAP and in simulation: goodput, connections/s and memory per idle connection.

Bulk goodput and connections/s against the Linux kernel over a TAP (with kernel-to-kernel
and PyTCP references), goodput between two simulated nodes, memory per idle connection.

Over a TAP (root; everything inside namespaces this script creates and deletes):

- ``nsbtcp_<pid>``: a TAP ``nsbtap0`` with 10.77.0.1/24; ``netstack up`` runs in a separate
  process (so the kernel-side client has the other core) on 10.77.0.2/24 serving TCP echo
  (7), discard (9) and chargen (19), no offloads (MTU 1500, MSS 1448 with timestamps).
- ``nsbtcp_<pid>_tso``: the same with ``netstack up --offload``: the TAP's virtio-net
  header, so the kernel checksums and cuts netstack's 64 KiB TCP segments (TSO) and hands
  it coalesced ones (GRO); bulk goodput only.
- ``nsbtcp_<pid>_v1`` / ``_v2``: a veth pair (10.88.0.1 / 10.88.0.2) with
  ``tcp_load.py server`` on 10.88.0.2 — the same three services on kernel sockets, a
  single-threaded Python ``selectors`` loop — the kernel-to-kernel reference. The veth keeps
  its default offloads (TSO/GSO, checksum), so it moves 64 KiB super-segments.
- ``nsbtcp_<pid>_py``: a TAP ``tap77`` with PyTCP 3.0.9 (PyPI ``pytcp``, another pure-Python
  stack) on 10.77.0.2/24: its daemon (``pytcp_peer.py daemon``, as in ``bench_tap.py``) and
  ``pytcp_tcp_peer.py serve``, the same three services on its ``pytcp.client`` socket API.
  Where its runtime (``pytcp_runtime.py``, ``.venv/pytcp``) is missing its rows say so.

The kernel side always runs the same Python client (``tcp_load.py``), so the tool's cost is
the same on every path:

- bulk, stack receives: ``send`` — ``sendall`` of 64 KiB chunks to discard (9) for
  ``SECONDS``, then half-close and wait for the server's FIN (a discard server closes only
  once it has read everything): goodput = bytes sent / (connect .. FIN).
- bulk, stack sends: ``recv`` — connect to chargen (19) and read for ``SECONDS``;
  goodput = bytes read / time.
- connections/s: ``cps`` — connect, send 32 bytes to echo (7), read them back, close; in a
  closed loop with 1 and 8 connections open at a time, for ``CPS_SECONDS``. The client
  namespaces set ``net.ipv4.tcp_max_tw_buckets=0`` (the client is the active closer: no
  TIME-WAIT state kept, the FIN exchange on the wire is unchanged) and widen the ephemeral
  port range, so the kernel's port search does not become the bottleneck.

Bulk cases run ``REPEATS`` times, interleaved (the median is shown); connections/s once.
Server CPU is read from ``/proc/PID/stat`` over each run (PyTCP: daemon and app together):
its share of a core, and its cost per full-sized segment (payload / 1448) or per connection.
Both processes are placed by the scheduler on the machine's 2 cores.

In this process, virtual time (no root needed):

- sim goodput: two hosts on one ``VirtualSegment`` (MTU 1500), ``TCPSocket.send`` of
  ``SIM_BYTES`` in 64 KiB calls, the other end ``recv(65536)`` to EOF; wall-clock MB/s.
  Both ends run in this one process, on one core. Ideal link (``bandwidth=None``) and
  10 Gbit/s; the fastest of ``SIM_REPEATS`` runs.
- memory: ``MEM_CONNECTIONS`` connections between two simulated hosts, accepted and idle
  (1 s of virtual time after the last one), measured with ``tracemalloc`` (traced memory
  difference / (2 x N): per endpoint, sockets included). The clients bind explicit ports:
  the ephemeral-port search builds a 16,384-entry list per connect, which is transient but
  costs ~20 ms per connect under ``tracemalloc``.

Run ``python benchmarks/bench_tcp.py`` (``--quick`` for a smoke run). ``--profile FILE``
runs netstack under cProfile while the kernel sends to its discard server (``--direction
tx``: reads from its chargen) and prints the top functions in µs per segment.
MB = 10^6 bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench_tap
from bench_tap import (
    NETSTACK_IP,
    PYTCP_IP,
    PYTCP_MAC,
    PYTCP_PEER,
    PYTCP_TAP,
    SetupError,
    cpu_seconds,
    find_pytcp,
    in_ns,
    make_tap_ns,
    missing_requirements,
    namespaces,
    sh,
    stop,
    wait_for_line,
)
from netstack.sim import LinkParams, Network
from netstack.socket import TCPSocket

HERE = Path(__file__).resolve().parent
TCP_LOAD = HERE / "tcp_load.py"
PYTCP_TCP_PEER = HERE / "pytcp_tcp_peer.py"

VETH1, VETH2 = "nsbtveth1", "nsbtveth2"
VETH1_IP, VETH2_IP = "10.88.0.1", "10.88.0.2"
ECHO_PORT, DISCARD_PORT, CHARGEN_PORT = 7, 9, 19

NETSTACK_PATH = "netstack over TAP"
NETSTACK_TSO_PATH = "netstack over TAP, offloads"
PYTCP_PATH = "PyTCP over TAP"
KERNEL_PATH = "kernel over veth"

SECONDS = 2.5  # per bulk run
CPS_SECONDS = 2.0  # per connections/s run
REPEATS = 3  # interleaved runs per bulk case (median shown)
SIM_REPEATS = 3  # runs per simulated link (the fastest shown)
CONCURRENCY = (1, 8)
REQUEST = 32  # bytes per connections/s request
MSS = 1448  # payload of a full-sized segment: MTU 1500 - 40 - 12 (timestamps)
SIM_BYTES = 20 * 1024 * 1024 + 65536 * 2  # >= 20 MB (10^6): 322 sends of 64 KiB
#: (label, bandwidth in bit/s or None for unlimited, NICs with checksum offload)
SIM_LINKS: tuple[tuple[str, float | None, bool], ...] = (
    ("ideal", None, False),
    ("ideal, checksum offload", None, True),
    ("10 Gbit/s", 10e9, False),
)
MEM_CONNECTIONS = 500
MEM_PORT_BASE = 40000

#: The project's targets: checked in the table, never asserted.
TARGET_TAP_MBPS = 30.0
TARGET_TSO_MBPS = 100.0
TARGET_CPS = 2000.0
TARGET_SIM_MBPS = 50.0
TARGET_KB_PER_CONN = 20.0

#: What a capture of PyTCP's chargen connection showed (tcpdump on its TAP, PyTCP 3.0.9).
PYTCP_TX_NOTE = (
    "¹ PyTCP can send, but keeps one segment in flight: a capture on its TAP shows each "
    "1448-byte segment waiting for the kernel's ACK before the next leaves (~2 ms apart, "
    "then ~44 ms apart once the kernel's delayed ACK kicks in), whatever its application "
    "has queued. So its sending goodput is set by its sender, not by CPU."
)

DIRECTIONS = (("rx", "kernel → stack (stack receives)"), ("tx", "stack → kernel (stack sends)"))


# --- set-up ----------------------------------------------------------------------------------


def client_ns_sysctls(ns: str) -> None:
    """The kernel client's namespace: no TIME-WAIT buckets, a wide ephemeral range."""
    sh(*in_ns(ns, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=0"))
    sh(*in_ns(ns, "sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"))


def make_veth_pair(ns1: str, ns2: str) -> None:
    bench_tap.make_veth_pair(ns1, ns2, (VETH1, VETH2), (f"{VETH1_IP}/24", f"{VETH2_IP}/24"))


def start_netstack(
    ns: str, duration: float, profile: str | None = None, offload: bool = False
) -> subprocess.Popen[bytes]:
    """``netstack up`` on the TAP with TCP echo, discard and chargen; once it is up."""
    extra = ("--offload",) if offload else ()
    return bench_tap.start_netstack(ns, duration, profile, "echo,discard,chargen", extra)


def start_kernel_server(ns: str) -> subprocess.Popen[bytes]:
    cmd = in_ns(ns, sys.executable, str(TCP_LOAD), "server", VETH2_IP)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_line(proc, b"ready", 10.0)
    except BaseException:
        stop(proc)
        raise
    return proc


def spawn_pytcp_daemon(ns: str, python: str, ipc_socket: str) -> subprocess.Popen[bytes]:
    """PyTCP's daemon on ``PYTCP_TAP``; not waited for (its boot probes the address)."""
    return subprocess.Popen(
        in_ns(ns, python, str(PYTCP_PEER), "daemon", "--tap", PYTCP_TAP, "--ip",
              f"{PYTCP_IP}/24", "--mac", PYTCP_MAC, "--ipc-socket", ipc_socket),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip


def start_pytcp_services(
    daemon: subprocess.Popen[bytes], python: str, ipc_socket: str
) -> subprocess.Popen[bytes]:
    wait_for_line(daemon, b"pytcp up", 60.0)
    app = subprocess.Popen(
        [python, str(PYTCP_TCP_PEER), "serve", "--ipc-socket", ipc_socket],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_line(app, b"ready", 30.0)
    except BaseException:
        stop(app)
        raise
    return app


# --- measurements over the TAP ---------------------------------------------------------------


def run_client(
    ns: str, args: Sequence[str], seconds: float, server_pids: Sequence[int]
) -> dict[str, Any]:
    """``tcp_load.py ARGS`` in ``ns``; its JSON plus the server's CPU seconds over the run."""
    cmd = in_ns(ns, sys.executable, str(TCP_LOAD), *args, "--seconds", str(seconds))
    cpu0 = sum(cpu_seconds(pid) for pid in server_pids)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90, check=False)
    cpu1 = sum(cpu_seconds(pid) for pid in server_pids)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise SetupError(f"tcp_load {' '.join(args)}: exit {proc.returncode}: {why}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["server_cpu_s"] = cpu1 - cpu0
    return result


def bulk(
    ns: str, host: str, direction: str, seconds: float, server_pids: Sequence[int]
) -> dict[str, Any]:
    if direction == "rx":
        args = ["send", host, str(DISCARD_PORT)]
    else:
        args = ["recv", host, str(CHARGEN_PORT)]
    r = run_client(ns, args, seconds, server_pids)
    segments = max(1, r["bytes"] / MSS)
    return {
        "run_s": seconds,
        "mbps": r["rate"] / 1e6,
        "bytes": r["bytes"],
        "seconds": r["seconds"],
        "server_cpu": r["server_cpu_s"] / r["seconds"],
        "server_us_per_seg": r["server_cpu_s"] / segments * 1e6,
        "client_cpu": r["client_cpu_s"] / r["seconds"],
    }


def connections(
    ns: str, host: str, concurrency: int, seconds: float, server_pids: Sequence[int]
) -> dict[str, Any]:
    args = ["cps", host, str(ECHO_PORT), "--concurrency", str(concurrency), "--size",
            str(REQUEST)]  # fmt: skip
    r = run_client(ns, args, seconds, server_pids)
    n = max(1, r["connections"])
    return {
        "run_s": seconds,
        "rate": r["rate"],
        "connections": r["connections"],
        "errors": r["errors"],
        "median_ms": r["median_ms"],
        "seconds": r["seconds"],
        "server_cpu": r["server_cpu_s"] / r["seconds"],
        "server_us_per_conn": r["server_cpu_s"] / n * 1e6,
        "client_cpu": r["client_cpu_s"] / r["seconds"],
    }


def median_row(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run with the median ``key`` (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r[key])
    out = dict(ordered[(len(ordered) - 1) // 2])
    out["runs"] = len(runs)
    out[f"{key}_min"] = ordered[0][key]
    out[f"{key}_max"] = ordered[-1][key]
    return out


# --- in-process measurements (virtual time) --------------------------------------------------


def sim_goodput(total: int, bandwidth: float | None, offload: bool = False) -> dict[str, Any]:
    """a sends ``total`` bytes to b over one segment; wall-clock time until b reads EOF.
    ``offload``: the segment's NICs offload checksums (as a veth does)."""
    net = Network(seed=1)
    lan = net.segment("lan", LinkParams(bandwidth=bandwidth), offload=offload)
    a = net.host("a", lan, "10.0.0.1/24")
    b = net.host("b", lan, "10.0.0.2/24")
    loop = net.world.loop

    async def scenario() -> dict[str, Any]:
        await net.start()
        listener = TCPSocket(b)
        listener.bind(5001)
        listener.listen(4)
        tx = TCPSocket(a)
        await tx.connect(("10.0.0.2", 5001))
        rx, _ = await listener.accept()
        chunk = bytes(65536)

        async def sender() -> None:
            sent = 0
            while sent < total:
                await tx.send(chunk)
                sent += len(chunk)
            tx.shutdown()

        got = 0
        virtual0 = loop.time()
        start = time.perf_counter()
        task = asyncio.ensure_future(sender())
        while data := await rx.recv(65536):
            got += len(data)
        await task
        wall = time.perf_counter() - start
        rx_stats = rx._handle.conn.stats  # type: ignore[union-attr]
        tx_stats = tx._handle.conn.stats  # type: ignore[union-attr]
        return {
            "bytes": got,
            "wall_s": wall,
            "virtual_s": loop.time() - virtual0,
            "mbps": got / wall / 1e6,
            "data_segments": tx_stats.segments_out,
            "acks": rx_stats.segments_out,
            "retransmissions": tx_stats.retransmissions,
            "us_per_seg": wall / max(1, tx_stats.segments_out) * 1e6,
        }

    try:
        return net.run(scenario())
    finally:
        net.close()


def idle_connection_memory(n: int) -> dict[str, Any]:
    """``n`` established, accepted, idle connections between two simulated hosts: traced
    memory per endpoint, and the allocation sites that hold most of it."""
    net = Network(seed=1)
    lan = net.segment("lan")
    a = net.host("a", lan, "10.0.0.1/24")
    b = net.host("b", lan, "10.0.0.2/24")

    async def scenario() -> dict[str, Any]:
        await net.start()
        listener = TCPSocket(b)
        listener.bind(5001)
        listener.listen(n + 8)
        kept: list[tuple[TCPSocket, TCPSocket]] = []

        async def one(port: int) -> None:
            client = TCPSocket(a)
            client.bind(port)
            await client.connect(("10.0.0.2", 5001))
            server, _ = await listener.accept()
            kept.append((client, server))

        await one(MEM_PORT_BASE - 1)  # warm-up: ARP, first-use allocations
        await asyncio.sleep(1.0)
        gc.collect()
        tracemalloc.start(1)
        try:
            before = tracemalloc.take_snapshot()
            traced0 = tracemalloc.get_traced_memory()[0]
            for i in range(n):
                await one(MEM_PORT_BASE + i)
            await asyncio.sleep(1.0)  # virtual: delayed ACKs and handshake timers done
            gc.collect()
            traced1 = tracemalloc.get_traced_memory()[0]
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        established = sum(c.connected() and s.connected() for c, s in kept)
        endpoints = 2 * n
        top = []
        root = str(HERE.parent / "src") + os.sep
        for stat in after.compare_to(before, "lineno")[:8]:
            frame = stat.traceback[0]
            where = frame.filename.replace(root, "")
            if "site-packages" in where or "lib/python" in where:
                where = "stdlib " + Path(frame.filename).name
            top.append((f"{where}:{frame.lineno}", stat.size_diff / endpoints,
                        stat.count_diff / endpoints))  # fmt: skip
        return {
            "connections": n,
            "established": established - 1,
            "bytes_per_endpoint": (traced1 - traced0) / endpoints,
            "top": top,
        }

    try:
        return net.run(scenario())
    finally:
        net.close()


# --- the benchmark ---------------------------------------------------------------------------


def main(quick: bool = False) -> list[dict[str, Any]]:
    """Measure; print the table and return the rows."""
    seconds = 0.8 if quick else SECONDS
    cps_seconds = 0.8 if quick else CPS_SECONDS
    repeats = 1 if quick else REPEATS
    sim_repeats = 1 if quick else SIM_REPEATS
    sim_bytes = SIM_BYTES // 10 if quick else SIM_BYTES
    mem_n = MEM_CONNECTIONS // 5 if quick else MEM_CONNECTIONS
    rows: list[dict[str, Any]] = []
    why = missing_requirements()
    if why is not None:
        rows.append({"section": "skipped", "reason": why})
        rows.extend(in_process(sim_bytes, mem_n, sim_repeats))
        rows.extend(target_rows(rows))
        print(format_table(rows))
        return rows
    pid = os.getpid()
    ns_tap, ns_v1, ns_v2, ns_py, ns_tso = (
        f"nsbtcp_{pid}{s}" for s in ("", "_v1", "_v2", "_py", "_tso")
    )
    pytcp_python, pytcp_info = find_pytcp()
    netstack = netstack_tso = kernel = pytcp_daemon = pytcp_app = None
    final = pytcp_final = ""
    missing: dict[str, str] = {}
    with namespaces(ns_tap, ns_v1, ns_v2, ns_py, ns_tso), tempfile.TemporaryDirectory() as tmp:
        try:
            ipc_socket = os.path.join(tmp, "pytcp.sock")
            if pytcp_python is None:
                missing[PYTCP_PATH] = pytcp_info
            else:
                make_tap_ns(ns_py, PYTCP_TAP)
                client_ns_sysctls(ns_py)
                # It boots (RFC 5227 probes) while the rest is set up and measured.
                pytcp_daemon = spawn_pytcp_daemon(ns_py, pytcp_python, ipc_socket)
            make_veth_pair(ns_v1, ns_v2)
            client_ns_sysctls(ns_v1)
            make_tap_ns(ns_tap)
            client_ns_sysctls(ns_tap)
            kernel = start_kernel_server(ns_v2)
            netstack = start_netstack(ns_tap, duration=900)
            make_tap_ns(ns_tso)
            client_ns_sysctls(ns_tso)
            netstack_tso = start_netstack(ns_tso, duration=900, offload=True)
            rows.extend(in_process(sim_bytes, mem_n, sim_repeats))
            if pytcp_daemon is not None and pytcp_python is not None:
                try:
                    pytcp_app = start_pytcp_services(pytcp_daemon, pytcp_python, ipc_socket)
                except SetupError as exc:
                    missing[PYTCP_PATH] = f"failed to start: {exc}"
            paths: list[tuple[str, str, str, tuple[int, ...]]] = [
                (NETSTACK_PATH, ns_tap, NETSTACK_IP, (netstack.pid,)),
                (NETSTACK_TSO_PATH, ns_tso, NETSTACK_IP, (netstack_tso.pid,)),
                (KERNEL_PATH, ns_v1, VETH2_IP, (kernel.pid,)),
                (PYTCP_PATH, ns_py, PYTCP_IP, ()),
            ]
            if pytcp_app is not None and pytcp_daemon is not None:
                paths[3] = (PYTCP_PATH, ns_py, PYTCP_IP, (pytcp_daemon.pid, pytcp_app.pid))
            bulk_runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for _ in range(repeats):  # interleaved: slow phases of the machine hit all alike
                for direction, _label in DIRECTIONS:
                    for path, ns, host, server_pids in paths:
                        runs = bulk_runs.setdefault((direction, path), [])
                        if path not in missing:
                            runs.append(bulk(ns, host, direction, seconds, server_pids))
            for (direction, path), runs in bulk_runs.items():
                row: dict[str, Any] = {"section": "bulk", "direction": direction, "path": path}
                if path in missing:
                    row["missing"] = missing[path]
                else:
                    row.update(median_row(runs, "mbps"))
                rows.append(row)
            for concurrency in CONCURRENCY:
                for path, ns, host, server_pids in paths:
                    if path == NETSTACK_TSO_PATH:
                        continue  # one small segment per request: offloads change nothing
                    row = {"section": "cps", "concurrency": concurrency, "path": path}
                    if path in missing:
                        row["missing"] = missing[path]
                    else:
                        row.update(connections(ns, host, concurrency, cps_seconds, server_pids))
                    rows.append(row)
        finally:
            final = stop(netstack)
            stop(netstack_tso)
            stop(kernel)
            stop(pytcp_app)
            pytcp_final = stop(pytcp_daemon)
    stats = [line for line in final.splitlines() if line.startswith("rx ")]
    if stats:
        rows.append({"section": "info", "text": f"netstack counters at exit: {stats[-1]}"})
    if PYTCP_PATH not in missing:
        rows.append({"section": "info", "text": f"{PYTCP_PATH}: {pytcp_info}; its daemon "
                     "owns the TAP, the services are a separate process on `pytcp.client` "
                     "(`pytcp_tcp_peer.py`); server CPU counts both."})  # fmt: skip
        tail = pytcp_final.strip().splitlines()[-2:]
        if tail:
            rows.append({"section": "info", "text": "PyTCP daemon said at exit: " +
                         " / ".join(tail)})  # fmt: skip
    rows.extend(target_rows(rows))
    print(format_table(rows))
    return rows


def in_process(sim_bytes: int, mem_n: int, repeats: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for label, bandwidth, offload in SIM_LINKS:
        runs = []
        for _ in range(repeats):
            gc.collect()
            runs.append(sim_goodput(sim_bytes, bandwidth, offload))
        best = max(runs, key=lambda r: r["mbps"])
        rows.append({"section": "sim", "link": label, "runs": repeats, **best})
    gc.collect()
    rows.append({"section": "memory", **idle_connection_memory(mem_n)})
    return rows


def target_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The project's targets against what was measured."""
    out: list[dict[str, Any]] = []

    def add(name: str, goal: str, measured: str, met: bool | None) -> None:
        out.append({"section": "target", "name": name, "target": goal, "measured": measured,
                    "met": met})  # fmt: skip

    for r in rows:
        if r["section"] == "bulk" and r["path"] == NETSTACK_PATH and "missing" not in r:
            label = dict(DIRECTIONS)[r["direction"]].split(" (")[0]
            add(f"TCP goodput over TAP, no offloads, {label}", f">= {TARGET_TAP_MBPS:g} MB/s",
                f"{r['mbps']:.1f} MB/s", r["mbps"] >= TARGET_TAP_MBPS)  # fmt: skip
    for r in rows:
        if r["section"] == "bulk" and r["path"] == NETSTACK_TSO_PATH and "missing" not in r:
            label = dict(DIRECTIONS)[r["direction"]].split(" (")[0]
            add(f"TCP goodput over TAP with offloads, {label}", f">= {TARGET_TSO_MBPS:g} MB/s",
                f"{r['mbps']:.1f} MB/s", r["mbps"] >= TARGET_TSO_MBPS)  # fmt: skip
    for r in rows:
        if r["section"] == "cps" and r["path"] == NETSTACK_PATH and "missing" not in r:
            rate = r["rate"]
            add(f"TCP connections/s over TAP ({r['concurrency']} at a time)",
                f">= {TARGET_CPS:,.0f}/s", f"{rate:,.0f}/s", rate >= TARGET_CPS)  # fmt: skip
    for r in rows:
        if r["section"] == "sim" and r["link"].startswith("ideal"):  # the target's setting
            add(f"TCP goodput between two nodes on a virtual segment ({r['link']})",
                f">= {TARGET_SIM_MBPS:g} MB/s", f"{r['mbps']:.1f} MB/s",
                r["mbps"] >= TARGET_SIM_MBPS)  # fmt: skip
        if r["section"] == "memory":
            kb = r["bytes_per_endpoint"] / 1000
            goal = TARGET_KB_PER_CONN
            add("memory per idle established connection (per endpoint)",
                f"<= {goal:g} kB", f"{kb:.1f} kB", kb <= goal)  # fmt: skip
    return out


def mb(rate: float) -> str:
    return f"{rate:,.1f}" if rate >= 1 else f"{rate:.3f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    skipped = [r for r in rows if r["section"] == "skipped"]
    if skipped:
        lines += [f"TAP measurements skipped: {skipped[0]['reason']}", ""]
    bulk_rows = [r for r in rows if r["section"] == "bulk"]
    if bulk_rows:
        runs = max(r.get("runs", 0) for r in bulk_rows)
        secs = next((r["run_s"] for r in bulk_rows if "run_s" in r), SECONDS)
        lines += [
            f"Bulk TCP goodput, {secs:g} s of sending/reading per run"
            + (f", median of {runs} interleaved runs (range in brackets)" if runs > 1 else "")
            + ". Kernel side: `tcp_load.py` (`send`: `sendall` 64 KiB chunks to discard/9 "
            "until the server's FIN; `recv`: `recv_into` 64 KiB from chargen/19). "
            f"CPU = share of one core; µs/seg = server CPU per {MSS}-byte segment of payload "
            "(the veth moves 64 KiB TSO/GSO super-segments, so its figure is per 1448 B of "
            "payload, not per packet).",
            "",
            "| direction | path | MB/s | bytes | server CPU | server µs/seg | client CPU |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in bulk_rows:
            label = dict(DIRECTIONS)[r["direction"]]
            if "missing" in r:
                lines.append(f"| {label} | {r['path']} | {r['missing']} | | | | |")
                continue
            rng = f" [{mb(r['mbps_min'])}-{mb(r['mbps_max'])}]" if r.get("runs", 1) > 1 else ""
            path = r["path"] + (" ¹" if r["path"] == PYTCP_PATH and r["direction"] == "tx" else "")
            lines.append(
                f"| {label} | {path} | {mb(r['mbps'])}{rng} | {r['bytes']:,} "
                f"| {r['server_cpu'] * 100:.0f} % | {r['server_us_per_seg']:.1f} "
                f"| {r['client_cpu'] * 100:.0f} % |"
            )
        if any(r["path"] == PYTCP_PATH and "missing" not in r for r in bulk_rows):
            lines += ["", PYTCP_TX_NOTE]
    cps_rows = [r for r in rows if r["section"] == "cps"]
    if cps_rows:
        secs = next((r["run_s"] for r in cps_rows if "run_s" in r), CPS_SECONDS)
        lines += [
            "",
            f"TCP connections per second, {secs:g} s per run: `tcp_load.py cps` (kernel "
            f"client, one `selectors` loop) connects, sends {REQUEST} B to echo/7, reads "
            "them back and closes (client closes first), with 1 or 8 connections open at a "
            "time. µs/conn = server CPU per connection; median = connect-to-close time.",
            "",
            "| at a time | path | connections/s | connections | errors | median ms "
            "| server CPU | server µs/conn | client CPU |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in cps_rows:
            if "missing" in r:
                lines.append(f"| {r['concurrency']} | {r['path']} | {r['missing']} "
                             "| | | | | | |")  # fmt: skip
                continue
            lines.append(
                f"| {r['concurrency']} | {r['path']} | {r['rate']:,.0f} | {r['connections']:,} "
                f"| {r['errors']} | {r['median_ms']:.2f} | {r['server_cpu'] * 100:.0f} % "
                f"| {r['server_us_per_conn']:.0f} | {r['client_cpu'] * 100:.0f} % |"
            )
    sim_rows = [r for r in rows if r["section"] == "sim"]
    if sim_rows:
        lines += [
            "",
            "TCP between two netstack nodes on a VirtualSegment (MTU 1500), in-process, "
            "virtual time: `TCPSocket.send` of 64 KiB calls, `recv(65536)` to EOF; both ends "
            "and the segment share this process (one core). Fastest of "
            f"{sim_rows[0]['runs']} runs. µs/seg = wall time per data segment (sender, "
            "receiver and its ACK together).",
            "",
            "| link | bytes | wall s | virtual s | MB/s (wall) | data segments | ACKs "
            "| retransmissions | µs/seg |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sim_rows:
            lines.append(
                f"| {r['link']} | {r['bytes']:,} | {r['wall_s']:.2f} | {r['virtual_s']:.4f} "
                f"| {r['mbps']:.1f} | {r['data_segments']:,} | {r['acks']:,} "
                f"| {r['retransmissions']} | {r['us_per_seg']:.1f} |"
            )
    for r in rows:
        if r["section"] != "memory":
            continue
        lines += [
            "",
            f"Memory per idle established TCP connection: {r['connections']} connections "
            "between two simulated nodes, accepted, idle 1 s (virtual); `tracemalloc` "
            "difference / (2 x N) = per endpoint (TCPSocket, handle, connection, buffers, "
            f"demux entries). {r['established']} of {r['connections']} established at the "
            "snapshot.",
            "",
            f"**{r['bytes_per_endpoint']:,.0f} B per endpoint "
            f"({r['bytes_per_endpoint'] / 1024:.2f} KiB)**; the largest allocation sites:",
            "",
            "| site | B/endpoint | blocks/endpoint |",
            "|---|---:|---:|",
        ]
        for where, size, count in r["top"]:
            lines.append(f"| {where} | {size:,.0f} | {count:.2f} |")
    targets = [r for r in rows if r["section"] == "target"]
    if targets:
        lines += ["", "| target | goal | measured | met |", "|---|---|---:|---|"]
        for r in targets:
            met = "-" if r["met"] is None else ("yes" if r["met"] else "**no**")
            lines.append(f"| {r['name']} | {r['target']} | {r['measured']} | {met} |")
    for r in rows:
        if r["section"] == "info":
            lines += ["", r["text"]]
    return "\n".join(lines)


# --- profiling --------------------------------------------------------------------------------


def profile_bulk(path: str, direction: str, seconds: float, top: int, offload: bool) -> None:
    """netstack under cProfile, loaded only by one bulk transfer; top functions per segment."""
    why = missing_requirements()
    if why is not None:
        raise SystemExit(f"bench_tcp: {why}")
    ns = f"nsbtcp_{os.getpid()}"
    netstack = None
    with namespaces(ns):
        try:
            make_tap_ns(ns)
            netstack = start_netstack(ns, seconds + 120, path, offload)
            row = bulk(ns, NETSTACK_IP, direction, seconds, (netstack.pid,))
        finally:
            print(stop(netstack).strip())
    segments = row["bytes"] / MSS
    print(json.dumps(row))
    print(f"profile written to {path}; {segments:,.0f} segments of {MSS} B\n")
    stats = pstats.Stats(path)
    entries = stats.stats  # type: ignore[attr-defined]
    ordered = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    print("| function | calls/seg | tottime µs/seg | cumtime µs/seg |")
    print("|---|---:|---:|---:|")
    for (file, line, name), (_cc, nc, tt, ct, _callers) in ordered:
        where = f"{Path(file).name}:{line}({name})" if line else name
        print(f"| {where} | {nc / segments:.2f} | {tt / segments * 1e6:.2f} "
              f"| {ct / segments * 1e6:.2f} |")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--profile", metavar="FILE", help="cProfile netstack under bulk TCP")
    parser.add_argument("--direction", choices=("rx", "tx"), default="rx", help="with --profile")
    parser.add_argument("--seconds", type=float, default=5.0, help="with --profile")
    parser.add_argument("--top", type=int, default=30, help="with --profile: rows shown")
    parser.add_argument("--offload", action="store_true", help="with --profile: TAP offloads")
    args = parser.parse_args()
    if args.profile:
        profile_bulk(args.profile, args.direction, args.seconds, args.top, args.offload)
    else:
        main(quick=args.quick)
