"""PPP: TCP over a pty to slirp, TCP over a simulated 115200-baud line, HDLC framing rates.

One table; every figure has a reference measured in the same run beside it.

1. **pty + slirp** (root; a namespace ``nsbppp_<pid>`` this script creates and deletes,
   holding only ``lo``): netstack's ``PPPInterface`` on a new pty pair in this process;
   Debian's ``slirp-fullbolt`` in PPP mode on the pty's slave, inside the namespace and its
   own UTS namespace named 10.0.2.2 (as ``tests/interop/test_ppp_slirp.py`` runs it), so
   TCP to 10.0.2.2 reaches the namespace's 127.0.0.1 through slirp. There a kernel-socket
   server (``KERNEL_SERVER``) runs a sink on port 9 (reads to EOF, then closes) and a
   source on port 19 (sends ``SLIRP_BYTES`` of random data, then closes). netstack sends
   ``SLIRP_BYTES`` in 64 KiB ``send`` calls to the sink and half-closes: goodput = bytes /
   (connected .. the sink's FIN); and reads from the source: bytes / (connected .. EOF).
   ``SLIRP_REPEATS`` interleaved runs each way, the fastest shown with the range. Random
   data. slirp acks netstack's receive ACCM 0 (about 0.8 % of random octets escaped) but
   asks for no ACCM itself, so what netstack sends it escapes every control octet too
   (about 13 %). In brackets: CPU of this process (netstack) and of slirp over the best
   run, as a share of one core.
   Reference: the raw pty, a child process writing (or reading) ``PTY_BYTES`` through the
   slave in 64 KiB ``os.write`` calls while this process reads (or writes) the master
   with 64 KiB ``os.read``/``os.write`` — what the pty itself carries, an upper bound for
   any PPP stack on it. slirp's own ceiling is not measured (no kernel ``pppd`` here to
   drive it at full speed): the slirp CPU column is the only hint.
2. **simulated 115200-baud line** (in-process, virtual time): ``Network.dialup`` (a
   ``SerialLine``, 8N1 so 11,520 B/s each way, no bit errors, a netstack PPP server and
   client), TCP from the client to a sink on the server, ``SIM_BYTES`` of random data.
   Goodput = bytes / virtual time (first ``send`` .. the server reads EOF), and as a share
   of the line's 11,520 B/s. Reference: the ideal goodput of full-sized segments, computed
   from the connection's negotiated payload per segment (1448 with TCP timestamps, which
   netstack offers and uses between two netstacks), 40 bytes of IPv4+TCP header, 12 of
   timestamp option, the PPP header as negotiated (1 byte with ACFC and PFC, which two
   netstacks agree on; 4 without), 2 of FCS, 2 flags, and the expected escaping of random
   octets under ACCM 0 (2 in 256). Also the wall-clock seconds the simulation took per
   simulated second.
3. **HDLC framing** (in-process): ``Deframer.feed`` (ACCM 0, as negotiated) on a stream of
   ``FRAMES`` distinct frames of a 1500- or 64-byte IP packet (IPv4 header + random
   payload), FCS-16, fed in 4 KiB chunks; and ``encode_frame(…, accm=0)`` of the same
   packets. Frames per second, best of ``REPEATS`` runs of ``RUN_SECONDS`` each. Reference:
   a naive per-byte pure-Python HDLC deframer and encoder written here (RFC 1662 Appendix
   C.2's table-driven FCS-16, one loop iteration per octet). Scapy (``scapy.layers.ppp``)
   has ``HDLC`` (address/control) and ``PPP`` (protocol) layers but no asynchronous
   framing - no flags, byte stuffing or FCS - so it has nothing comparable to time.

Run ``python benchmarks/bench_ppp.py`` (``--quick`` for a smoke run). MB = 10^6 bytes.
Without root or slirp, or when the PPP link to slirp fails, row 1 says why and the rest
still runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench_tap import (
    SetupError,
    add_netns,
    cpu_seconds,
    in_ns,
    namespaces,
    stop,
    wait_for_line,
)
from netstack.drivers.serial.tty import TtyPort, make_raw
from netstack.errors import NetworkError
from netstack.interfaces.ppp import PPPInterface
from netstack.runtime.world import World
from netstack.sim import Network
from netstack.socket import TCPSocket
from netstack.wire.ipv4 import IpProto, Ipv4Flags, Ipv4Header
from netstack.wire.ppp import Deframer, PppHeader, PppProtocol, encode_frame

SLIRP = "slirp-fullbolt"
#: slirp's options, as in the interop test: DNS and "host" are the namespace's loopback.
SLIRP_OPTIONS = ("dns 127.0.0.1", "host addr 127.0.0.1", "shell /bin/false", "nozeros",
                 "ppp_exit", "mtu 1500", "mru 1500")  # fmt: skip
SLIRP_HOST = "10.0.2.2"  # slirp on the link; forwards to the namespace's 127.0.0.1
SINK_PORT, SOURCE_PORT = 9, 19
SLIRP_BYTES = 20_000_000  # per run and direction
SLIRP_REPEATS = 3  # interleaved runs per direction (the fastest shown)
PTY_BYTES = 64_000_000  # per raw-pty run
PTY_REPEATS = 3  # raw-pty runs per direction (the fastest shown)
CHUNK = 65536
RX_ERRORS = ("rx_bad_fcs", "rx_aborted", "rx_too_long", "rx_runts", "rx_malformed")

BAUD = 115200
LINE_RATE = BAUD / 10  # 8N1: 10 bit times per byte
SIM_BYTES = 200_000

FRAME_SIZES = (1500, 64)  # IP packet sizes
FRAMES = 256  # distinct frames in the stream
FEED_CHUNK = 4096
RUN_SECONDS = 0.5
REPEATS = 3

NAIVE = "naive per-byte Python reference"

Op = Callable[[], int]

#: The kernel side in the namespace: sink (discard to EOF) and source (send N, close).
KERNEL_SERVER = r"""
import os, socket, sys, threading
total = int(sys.argv[1])
block = os.urandom(1 << 16)

def serve(port, handler):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    while True:
        conn, _ = ls.accept()
        handler(conn)
        conn.close()

def sink(conn):
    while conn.recv(1 << 16):
        pass

def source(conn):
    left = total
    while left > 0:
        left -= conn.send(block[: min(left, len(block))])
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(1 << 16):
        pass

threading.Thread(target=serve, args=(9, sink), daemon=True).start()
threading.Thread(target=serve, args=(19, source), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

#: The far side of the raw-pty reference: opens the slave, then writes or reads on "go".
PTY_PEER = r"""
import os, sys
path, mode, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
block = memoryview(os.urandom(1 << 16))
print("ready", flush=True)
sys.stdin.readline()
if mode == "write":
    left = total
    while left > 0:
        left -= os.write(fd, block[: min(left, len(block))])
    sys.stdin.readline()  # until the parent has read it all
else:
    got = 0
    while got < total:
        got += len(os.read(fd, 1 << 16))
    print("done", flush=True)
"""


# --- 1. pty + slirp -------------------------------------------------------------------------


def slirp_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (a network namespace for slirp)"
    for tool in ("ip", "unshare", SLIRP):
        if shutil.which(tool) is None:
            return f"{tool} not found (make test installs slirp)"
    return None


def pty_raw(direction: str, total: int) -> float:
    """Bytes/s through a fresh raw pty pair: ``tx`` master -> slave (this process writes
    the master, a child reads the slave), ``rx`` slave -> master."""
    master, slave = os.openpty()
    child: subprocess.Popen[bytes] | None = None
    try:
        make_raw(master)
        make_raw(slave)
        mode = "read" if direction == "tx" else "write"
        child = subprocess.Popen(
            [sys.executable, "-c", PTY_PEER, os.ttyname(slave), mode, str(total)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert child.stdin is not None
        wait_for_line(child, b"ready", 10.0)
        block = memoryview(os.urandom(CHUNK))
        child.stdin.write(b"go\n")
        child.stdin.flush()
        start = time.perf_counter()
        if direction == "tx":
            left = total
            while left > 0:
                left -= os.write(master, block[: min(left, CHUNK)])
            wait_for_line(child, b"done", 60.0)
        else:
            got = 0
            while got < total:
                got += len(os.read(master, CHUNK))
        elapsed = time.perf_counter() - start
        if direction == "rx":
            child.stdin.write(b"end\n")  # the child may exit now
            child.stdin.flush()
        return total / elapsed
    finally:
        stop(child)
        os.close(master)
        os.close(slave)


def slirp_argv(ns: str, tty: str) -> list[str]:
    """slirp in ``ns``, in its own UTS namespace named 10.0.2.2 (slirp takes its address
    from the host name); each program ``exec``s the next, so the PID is slirp's."""
    return in_ns(ns, "unshare", "--uts", "sh", "-c", 'hostname 10.0.2.2 && exec "$0" "$@"',
                 SLIRP, "ppp", *SLIRP_OPTIONS, f"tty {tty}")  # fmt: skip


def tcp_details(sock: TCPSocket) -> dict[str, Any]:
    """What the connection negotiated, and its retransmissions (before ``close``)."""
    conn = sock._handle.conn  # type: ignore[union-attr]
    return {"mss": conn.mss, "timestamps": conn.negotiated["timestamps"],
            "retransmissions": conn.stats.retransmissions}  # fmt: skip


async def tcp_send(iface: PPPInterface, total: int) -> dict[str, Any]:
    """Send ``total`` bytes to the sink, half-close, wait for its FIN (it has read
    everything); seconds from connected to that FIN."""
    sock = TCPSocket(iface)
    sock.set_timeout(60)
    await sock.connect((SLIRP_HOST, SINK_PORT))
    block = memoryview(os.urandom(CHUNK))
    start = time.perf_counter()
    left = total
    while left > 0:
        n = min(left, CHUNK)
        await sock.send(block[:n])
        left -= n
    sock.shutdown()
    while await sock.recv(CHUNK):
        pass
    elapsed = time.perf_counter() - start
    details = tcp_details(sock)
    sock.close()
    return {"seconds": elapsed, **details}


async def tcp_recv(iface: PPPInterface, total: int) -> dict[str, Any]:
    """Read from the source to EOF; seconds from connected to EOF."""
    sock = TCPSocket(iface)
    sock.set_timeout(60)
    await sock.connect((SLIRP_HOST, SOURCE_PORT))
    start = time.perf_counter()
    got = 0
    while data := await sock.recv(CHUNK):
        got += len(data)
    elapsed = time.perf_counter() - start
    details = tcp_details(sock)
    sock.close()
    if got != total:
        raise SetupError(f"read {got:,} bytes from the source, expected {total:,}")
    return {"seconds": elapsed, **details}


def slirp_rows(total: int, repeats: int, pty_bytes: int, pty_repeats: int) -> list[dict[str, Any]]:
    """Both TCP directions through slirp, and the raw pty in both directions."""
    pty = {d: max(pty_raw(d, pty_bytes) for _ in range(pty_repeats)) for d in ("tx", "rx")}
    ns = f"nsbppp_{os.getpid()}"
    rows: list[dict[str, Any]] = []
    server = slirp = None
    loop = asyncio.new_event_loop()
    world = World(loop, seed=1)
    port: TtyPort | None = None
    with namespaces(ns), tempfile.TemporaryDirectory() as home:
        try:
            add_netns(ns)
            server = subprocess.Popen(
                in_ns(ns, sys.executable, "-c", KERNEL_SERVER, str(total)),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
            wait_for_line(server, b"ready", 10.0)
            port = TtyPort.open_pty(world)
            assert port.slave_path is not None
            slirp = subprocess.Popen(
                slirp_argv(ns, port.slave_path),
                env={**os.environ, "HOME": home},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            iface = PPPInterface(port, world=world)
            iface.connect_timeout = 15
            world.run(iface.connect())
            port.release_slave()  # slirp has the slave open: its exit is a hang-up now
            lcp = iface.ppp.lcp
            runs: dict[str, list[dict[str, Any]]] = {"tx": [], "rx": []}
            for _ in range(repeats):  # interleaved: slow phases of the machine hit both alike
                for direction, measure in (("tx", tcp_send), ("rx", tcp_recv)):
                    gc.collect()
                    cpu0, slirp0 = time.process_time(), cpu_seconds(slirp.pid)
                    r = world.run(measure(iface, total))
                    cpu1, slirp1 = time.process_time(), cpu_seconds(slirp.pid)
                    elapsed = r["seconds"]
                    r["mbps"] = total / elapsed / 1e6
                    r["netstack_cpu"] = (cpu1 - cpu0) / elapsed
                    r["slirp_cpu"] = (slirp1 - slirp0) / elapsed
                    runs[direction].append(r)
            for direction, results in runs.items():
                best = max(results, key=lambda r: r["mbps"])
                rows.append({
                    "section": "slirp", "direction": direction, "bytes": total, **best,
                    "runs": len(results), "low": min(r["mbps"] for r in results),
                    "retransmissions": sum(r["retransmissions"] for r in results),
                    "pty_mbps": pty[direction] / 1e6, "pty_bytes": pty_bytes,
                    "pty_runs": pty_repeats,
                })  # fmt: skip
            retx = ", ".join(f"{r['direction']} {r['retransmissions']}" for r in rows)
            text = (
                f"pty link to slirp: slirp acked netstack's receive ACCM {lcp.local.accm:#x} "
                "but asked for none itself, so netstack's frames to slirp use ACCM "
                f"{lcp.peer.accm:#x} (every octet below 0x20 escaped as well: about 13 % of "
                f"random octets); ACFC {lcp.peer.acfc}, PFC {lcp.peer.pfc}, MRU "
                f"{lcp.peer.mru}. TCP through slirp: payload per segment {best['mss']} B, "
                f"timestamps {best['timestamps']}; retransmissions over all runs: {retx}."
            )
            rows.append({"section": "info", "text": text})
            stats = iface.link.stats()
            errors = ", ".join(f"{k} {stats.get(k, 0)}" for k in RX_ERRORS)
            text = f"pty link, frames netstack received in error (all runs): {errors}."
            rows.append({"section": "info", "text": text})
            world.run(iface.disconnect())
        except (SetupError, NetworkError) as exc:
            rows.append({"section": "slirp", "skipped": f"{type(exc).__name__}: {exc}"})
        finally:
            if port is not None:
                port.close()
            stop(slirp)
            stop(server)
            world.close()
    return rows


# --- 2. simulated dial-up ---------------------------------------------------------------------


def ideal_goodput(payload: int, timestamps: bool, ppp_header: int) -> dict[str, float]:
    """Goodput of back-to-back full-sized segments over PPP on an 8N1 line (ACCM 0)."""
    headers = 40 + (12 if timestamps else 0)
    contents = ppp_header + headers + payload + 2  # PPP header; IP packet; FCS-16
    escaped = contents * 2 / 256  # 0x7D and 0x7E, each sent as two octets
    wire = contents + escaped + 2  # opening and closing flag
    return {"ideal_bps": LINE_RATE * payload / wire, "ideal_wire": wire}


def sim_dialup(total: int) -> dict[str, Any]:
    net = Network(seed=1)
    dial = net.dialup("modem", baudrate=BAUD)
    data = random.Random(1).randbytes(total)

    async def scenario() -> dict[str, Any]:
        await net.start()
        listener = TCPSocket(dial.server.stack)
        listener.bind(SINK_PORT)
        listener.listen(1)
        tx = TCPSocket(dial.client.stack)
        await tx.connect(("10.64.0.1", SINK_PORT))
        rx, _ = await listener.accept()
        line0 = dial.line.a.stats()["tx_bytes"] - dial.line.a.write_pending

        async def sender() -> None:
            view = memoryview(data)
            for i in range(0, total, 8192):
                await tx.send(view[i : i + 8192])
            tx.shutdown()

        virtual0 = net.now()
        wall0 = time.perf_counter()
        task = asyncio.ensure_future(sender())
        got = 0
        while chunk := await rx.recv(65536):
            got += len(chunk)
        await task
        wall = time.perf_counter() - wall0
        virtual = net.now() - virtual0
        line1 = dial.line.a.stats()["tx_bytes"] - dial.line.a.write_pending
        conn = tx._handle.conn  # type: ignore[union-attr]
        stats = conn.stats
        lcp = dial.client.ppp.lcp.peer  # what the server accepts: how the client frames
        return {
            "section": "sim", "bytes": got, "virtual_s": virtual, "wall_s": wall,
            "bps": got / virtual, "line_share": got / virtual / LINE_RATE,
            "line_busy": (line1 - line0) / virtual / LINE_RATE,
            "payload": conn.mss, "timestamps": conn.negotiated["timestamps"],
            "ppp_header": (0 if lcp.acfc else 2) + (1 if lcp.pfc else 2),
            "data_segments": stats.segments_out, "retransmissions": stats.retransmissions,
            "tx_queue_drops": dial.client.link.counters["tx_queue_drops"],
        }  # fmt: skip

    try:
        row = net.run(scenario())
    finally:
        net.close()
    row.update(ideal_goodput(row["payload"], row["timestamps"], row["ppp_header"]))
    row["ideal4_bps"] = ideal_goodput(row["payload"], row["timestamps"], 4)["ideal_bps"]
    return row


# --- 3. framing -------------------------------------------------------------------------------

FCS16_TABLE: list[int] = []
for _b in range(256):
    _v = _b
    for _ in range(8):
        _v = (_v >> 1) ^ 0x8408 if _v & 1 else _v >> 1
    FCS16_TABLE.append(_v)


class NaiveDeframer:
    """The naive per-byte Python reference: one loop iteration per octet, unescaping and
    the table-driven FCS-16 of RFC 1662 Appendix C.2 as each octet arrives."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.fcs = 0xFFFF
        self.escaped = False
        self.hunting = True

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        table = FCS16_TABLE
        buf = self.buf
        fcs = self.fcs
        escaped = self.escaped
        for octet in data:
            if octet == 0x7E:
                if not self.hunting and len(buf) >= 4 and fcs == 0xF0B8 and not escaped:
                    frames.append(bytes(buf[:-2]))
                self.hunting = False
                buf.clear()
                fcs = 0xFFFF
                escaped = False
            elif self.hunting:
                continue
            elif octet == 0x7D:
                escaped = True
            else:
                if escaped:
                    octet ^= 0x20
                    escaped = False
                buf.append(octet)
                fcs = (fcs >> 8) ^ table[(fcs ^ octet) & 0xFF]
        self.fcs = fcs
        self.escaped = escaped
        return frames


def naive_encode(payload: bytes, accm: int = 0) -> bytes:
    """The naive per-byte Python reference encoder: FCS-16 and escaping octet by octet."""
    table = FCS16_TABLE
    fcs = 0xFFFF
    for octet in payload:
        fcs = (fcs >> 8) ^ table[(fcs ^ octet) & 0xFF]
    fcs ^= 0xFFFF
    out = bytearray(b"\x7e")
    for octet in (*payload, fcs & 0xFF, fcs >> 8):
        if octet in (0x7D, 0x7E) or (octet < 0x20 and accm >> octet & 1):
            out.append(0x7D)
            out.append(octet ^ 0x20)
        else:
            out.append(octet)
    out.append(0x7E)
    return bytes(out)


def ip_packets(size: int, count: int) -> list[bytes]:
    """``count`` IPv4 packets of ``size`` bytes: a real header, random payload."""
    rng = random.Random(size)
    out = []
    for i in range(count):
        header = Ipv4Header(bytes((10, 0, 2, 15)), bytes((10, 0, 2, 2)), IpProto.TCP,
                            ident=i, flags=Ipv4Flags.DF)  # fmt: skip
        out.append(header.build(rng.randbytes(size - 20)))
    return out


def best_rate(op: Op, seconds: float, repeats: int) -> float:
    """Items per second: ``op`` returns how many it did; best of ``repeats`` timed runs."""
    best = 0.0
    for _ in range(repeats):
        gc.collect()
        done = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            done += op()
        best = max(best, done / elapsed)
    return best


def feeder(make: Callable[[], Deframer | NaiveDeframer], chunks: list[bytes]) -> Op:
    """Feed the whole stream, chunk by chunk, to a fresh deframer; the frames out."""

    def run() -> int:
        deframer = make()
        return sum(len(deframer.feed(c)) for c in chunks)

    return run


def encoder(encode: Callable[[bytes], bytes], payloads: list[bytes]) -> Op:
    """Frame every payload once; how many."""

    def run() -> int:
        for p in payloads:
            encode(p)
        return len(payloads)

    return run


def framing_rows(seconds: float, repeats: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for size in FRAME_SIZES:
        payloads = [PppHeader.build(PppProtocol.IPV4, p) for p in ip_packets(size, FRAMES)]
        frames = [encode_frame(p, accm=0) for p in payloads]
        stream = b"".join(frames)
        chunks = [stream[i : i + FEED_CHUNK] for i in range(0, len(stream), FEED_CHUNK)]
        unescaped = sum(len(p) + 2 + 2 for p in payloads)  # + FCS + flags
        escapes = (len(stream) - unescaped) / (unescaped - 4 * len(payloads))

        # The references must agree with netstack before anything is timed.
        assert [naive_encode(p) for p in payloads] == frames
        assert Deframer(accm=0).feed(stream) == payloads
        naive_out: list[bytes] = []
        naive = NaiveDeframer()
        for c in chunks:
            naive_out += naive.feed(c)
        assert naive_out == payloads

        wire = len(stream) / len(frames)
        for op, ours, ref in (
            ("deframe", feeder(lambda: Deframer(mru=1500, accm=0), chunks),
             feeder(NaiveDeframer, chunks)),
            ("encode", encoder(lambda p: encode_frame(p, accm=0), payloads),
             encoder(naive_encode, payloads)),
        ):  # fmt: skip
            rate = best_rate(ours, seconds, repeats)
            ref_rate = best_rate(ref, seconds / 2, repeats)
            rows.append({"section": "framing", "op": op, "size": size, "rate": rate,
                         "ref_rate": ref_rate, "wire_bytes": wire,
                         "escapes": escapes})  # fmt: skip
    return rows


# --- the benchmark ----------------------------------------------------------------------------


def main(quick: bool = False) -> list[dict[str, Any]]:
    """Measure; print the table and return the rows."""
    slirp_bytes = SLIRP_BYTES // 10 if quick else SLIRP_BYTES
    slirp_repeats = 1 if quick else SLIRP_REPEATS
    pty_bytes = PTY_BYTES // 8 if quick else PTY_BYTES
    pty_repeats = 1 if quick else PTY_REPEATS
    sim_bytes = SIM_BYTES // 4 if quick else SIM_BYTES
    seconds = 0.1 if quick else RUN_SECONDS
    repeats = 1 if quick else REPEATS
    rows: list[dict[str, Any]] = []
    why = slirp_missing()
    if why is not None:
        rows.append({"section": "slirp", "skipped": why})
    else:
        rows.extend(slirp_rows(slirp_bytes, slirp_repeats, pty_bytes, pty_repeats))
    gc.collect()
    rows.append(sim_dialup(sim_bytes))
    rows.extend(framing_rows(seconds, repeats))
    print(format_table(rows))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| # | measurement | netstack | reference (same run) | reference is |",
        "|---|---|---:|---:|---|",
    ]
    notes: list[str] = []
    framing = 0
    for r in rows:
        if r["section"] == "slirp" and "skipped" in r:
            lines.append(f"| 1 | pty + slirp, TCP | skipped: {r['skipped']} | | |")
        elif r["section"] == "slirp":
            sends = r["direction"] == "tx"
            size = f"{r['bytes'] / 1e6:g} MB"
            peer = (
                f"sends {size} to a kernel sink"
                if sends
                else f"receives {size} from a kernel source"
            )
            cpu = f"CPU: netstack {r['netstack_cpu']:.0%}, slirp {r['slirp_cpu']:.0%}"
            best = f", best of {r['runs']}" if r["runs"] > 1 else ""
            what = f"pty + slirp, TCP: netstack {peer}{best} ({cpu})"
            ref = "raw pty, master → slave" if sends else "raw pty, slave → master"
            rng = f" [{r['low']:.2f}-{r['mbps']:.2f}]" if r["runs"] > 1 else ""
            lines.append(
                f"| 1{'a' if sends else 'b'} | {what} | **{r['mbps']:.2f} MB/s**{rng} "
                f"| {r['pty_mbps']:,.0f} MB/s | {ref}, 64 KiB os.write/os.read, "
                f"{r['pty_bytes'] / 1e6:g} MB, best of {r['pty_runs']}: the ceiling for any "
                "PPP stack on this pty ¹ |"
            )
        elif r["section"] == "sim":
            ts = " + 12 timestamps" if r["timestamps"] else ""
            hdr = " (ACFC+PFC)" if r["ppp_header"] == 1 else ""
            lines.append(
                f"| 2a | simulated {BAUD}-baud line (8N1: {LINE_RATE:,.0f} B/s), TCP "
                f"{r['bytes'] / 1e3:g} kB client → server, random data; goodput in "
                "virtual time, share of the line rate "
                f"| **{r['bps']:,.0f} B/s ({r['line_share']:.1%})** "
                f"| {r['ideal_bps']:,.0f} B/s ({r['ideal_bps'] / LINE_RATE:.1%}) "
                f"| ideal: {r['payload']} B payload per {r['ideal_wire']:,.1f} B on the "
                f"line (40 IP/TCP{ts} + {r['ppp_header']} PPP header{hdr} + 2 FCS + 2 flags + "
                "2/256 escaped) ² |"
            )
            lines.append(
                f"| 2b | … wall-clock seconds per simulated second (that run: "
                f"{r['wall_s']:.2f} s wall for {r['virtual_s']:.1f} s simulated) "
                f"| {r['wall_s'] / r['virtual_s']:.3f} | | |"
            )
            notes.append(
                f"² The line was busy {r['line_busy']:.1%} of the time client → server; "
                f"{r['data_segments']} data segments, {r['retransmissions']} retransmitted, "
                f"{r['tx_queue_drops']} packets dropped at the link's transmit queue limit. "
                f"Without ACFC/PFC (4-byte PPP header) the ideal would be "
                f"{r['ideal4_bps']:,.0f} B/s ({r['ideal4_bps'] / LINE_RATE:.1%})."
            )
        elif r["section"] == "framing":
            if r["op"] == "deframe":
                what = (f"`Deframer.feed`, {r['size']}-byte IP packets "
                        f"({r['wire_bytes']:,.0f} B framed), 4 KiB chunks")  # fmt: skip
            else:
                what = f"`encode_frame`, {r['size']}-byte IP packets"
            num = f"3{'abcdefgh'[framing]}"
            framing += 1
            mbps = r["rate"] * r["wire_bytes"] / 1e6
            lines.append(
                f"| {num} | {what} | **{r['rate']:,.0f} frames/s** ({mbps:,.1f} MB/s framed) "
                f"| {r['ref_rate']:,.0f} frames/s | {NAIVE} "
                f"(netstack {r['rate'] / r['ref_rate']:,.1f}x faster) ³ |"
            )
    escapes = [r["escapes"] for r in rows if r["section"] == "framing" and r["size"] == 1500]
    notes.insert(
        0,
        "¹ slirp's own ceiling is unknown: nothing here drives it at full speed (no kernel "
        "pppd); the CPU shares say which process was busy.",
    )
    notes.append(
        "³ ACCM 0 (what netstack asks for, and slirp acks, for its receive direction): only "
        "0x7D and 0x7E are escaped"
        + (f", {escapes[0]:.2%} of the octets of these frames" if escapes else "")
        + ". Scapy (`scapy.layers.ppp`) has `HDLC` (address/control) and `PPP` layers but "
        "no asynchronous framing (flags, byte stuffing, FCS): nothing comparable to time."
    )
    for r in rows:
        if r["section"] == "info":
            notes.append(r["text"])
    return "\n".join([*lines, "", *notes])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    main(quick=parser.parse_args().quick)
