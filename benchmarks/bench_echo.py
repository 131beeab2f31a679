"""The UDP echo hot path in-process: netstack's own cost per echo, without syscalls or wake-ups.

A stub EMAC feeds prebuilt Ethernet/IPv4/UDP frames (64-byte payload, real checksums) to
the stack's input callback and swallows what it sends, so one iteration is exactly what
``netstack up --serve echo`` does per datagram after ``os.read`` and before ``os.write``:
Ethernet -> IPv4 -> UDP input -> socket queue -> sigio -> ``UdpEchoServer`` ->
``recvfrom_nowait`` / ``sendto_nowait`` -> UDP -> IPv4 (route, ARP) -> Ethernet -> EMAC.
No root needed and far less noisy than the TAP benchmark: use it to track hot-path tuning.

Run ``python benchmarks/bench_echo.py`` (``--quick`` for a smoke run, ``--profile FILE``
to write a cProfile of the loop, readable with ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

from netstack.drivers.emac.api import (
    Capabilities,
    LinkInputCallback,
    LinkStateCallback,
    RxFlags,
    TxOffload,
)
from netstack.interfaces import EthernetInterface
from netstack.runtime import World
from netstack.services import UdpEchoServer
from netstack.wire import Buffer
from netstack.wire.arp import ArpOp, ArpPacket
from netstack.wire.ethernet import BROADCAST, EthernetHeader, EtherType
from netstack.wire.ipv4 import IpProto, Ipv4Flags, Ipv4Header
from netstack.wire.udp import UdpHeader

ECHOES = 100_000
PROFILED = 10_000  # echoes run under cProfile to count calls
REPEATS = 5
PAYLOAD = 64
OUR_MAC = bytes.fromhex("020000000002")
PEER_MAC = bytes.fromhex("020000000001")
OUR_IP = bytes((10, 77, 0, 2))
PEER_IP = bytes((10, 77, 0, 1))


class StubEMAC:
    """An always-up EMAC that counts the frames the stack sends."""

    def __init__(self) -> None:
        self.hwaddr = OUR_MAC
        self.mtu = 1500
        self.capabilities = Capabilities()
        self.link_up = False
        self.input_cb: LinkInputCallback | None = None
        self.sent = 0
        self.last: Buffer = b""

    def power_up(self) -> bool:
        self.link_up = True
        return True

    def power_down(self) -> None:
        self.link_up = False

    def link_out(self, frame: Buffer, offload: TxOffload | None = None) -> bool:
        self.sent += 1
        self.last = frame
        return True

    def set_link_input_cb(self, cb: LinkInputCallback | None) -> None:
        self.input_cb = cb

    def set_link_state_cb(self, cb: LinkStateCallback | None) -> None:
        pass

    def add_multicast_group(self, mac: bytes) -> None:
        pass

    def remove_multicast_group(self, mac: bytes) -> None:
        pass

    def set_all_multicast(self, on: bool) -> None:
        pass


def request(ident: int) -> bytes:
    """A UDP echo request from the peer, as the kernel would send it (DF, TTL 64)."""
    udp = UdpHeader(40000, 7).build(bytes(PAYLOAD), src=PEER_IP, dst=OUR_IP)
    ip = Ipv4Header(PEER_IP, OUR_IP, IpProto.UDP, ident=ident, flags=Ipv4Flags.DF).build(udp)
    return EthernetHeader(OUR_MAC, PEER_MAC, EtherType.IPV4).build(ip)


async def _run(echoes: int, repeats: int, profile: str | None) -> dict[str, Any]:
    world = World(asyncio.get_running_loop(), seed=1)
    emac = StubEMAC()
    iface = EthernetInterface(emac, world=world)
    iface.set_network("10.77.0.2", "255.255.255.0")
    await iface.connect()
    server = UdpEchoServer(iface)
    server.start()
    feed = emac.input_cb
    assert feed is not None
    # The peer asks for our MAC first, so its address is in the ARP cache.
    arp = ArpPacket(ArpOp.REQUEST, PEER_MAC, PEER_IP, bytes(6), OUR_IP).build()
    feed(memoryview(EthernetHeader(BROADCAST, PEER_MAC, EtherType.ARP).build(arp)), RxFlags.NONE)
    frames = [request(i) for i in range(256)]
    for frame in frames:  # warm-up
        feed(memoryview(frame), RxFlags.NONE)
    if server.stats.replies != len(frames):
        raise RuntimeError(f"expected {len(frames)} echoes, got {server.stats.replies}")
    _, packet = EthernetHeader.parse(emac.last)
    ip, rest = Ipv4Header.parse(packet)
    UdpHeader.parse(rest, src=ip.src, dst=ip.dst)  # the reply's checksums are right

    def loop(n: int = echoes) -> None:
        none = RxFlags.NONE
        for i in range(n):
            feed(memoryview(frames[i & 255]), none)

    timings = []
    gc.collect()
    for _ in range(repeats):
        sent0 = emac.sent
        start = time.perf_counter()
        loop()
        timings.append(time.perf_counter() - start)
        if emac.sent - sent0 != echoes:
            raise RuntimeError(f"{echoes} requests gave {emac.sent - sent0} replies")
    if profile is None:
        calls = _count_calls(lambda: loop(PROFILED), PROFILED)
    else:
        calls = _profile(loop, echoes, profile)
    server.stop()
    best = min(timings)
    return {
        "echoes": echoes,
        "runs": repeats,
        "rate": echoes / best,
        "us_per_echo": best / echoes * 1e6,
        "calls_per_echo": calls,
    }


def _profile(loop: Callable[[], None], echoes: int, path: str) -> float:
    profiler = cProfile.Profile()
    profiler.runcall(loop)
    profiler.dump_stats(path)
    print(f"profile of {echoes} echoes written to {path}", file=sys.stderr)
    return _calls(profiler) / echoes


def _count_calls(loop: Callable[[], None], echoes: int) -> float:
    """Python and builtin function calls per echo (one profiled run)."""
    profiler = cProfile.Profile()
    profiler.runcall(loop)
    return _calls(profiler) / echoes


def _calls(profiler: cProfile.Profile) -> int:
    stats: dict[Any, tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return sum(v[1] for v in stats.values())


def main(quick: bool = False, profile: str | None = None) -> list[dict[str, Any]]:
    echoes = ECHOES // 20 if quick else ECHOES
    repeats = 1 if quick else REPEATS
    row = asyncio.run(_run(echoes, repeats, profile))
    rows = [{"path": "UDP echo, stub EMAC", "payload": PAYLOAD, **row}]
    print(format_table(rows))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Python {sys.version.split()[0]}; in-process UDP echo (one request in, one reply out, "
        f"no syscalls), best of {rows[0]['runs']} runs of {rows[0]['echoes']:,}",
        "",
        "| path | payload | echoes/s | µs/echo | function calls/echo |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['path']} | {r['payload']} B | {r['rate']:,.0f} | {r['us_per_echo']:.2f} "
            f"| {r['calls_per_echo']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of one run")
    args = parser.parse_args()
    main(quick=args.quick, profile=args.profile)
