"""Simulation speed: whole stacks on a VirtualSegment in virtual time, timed on the wall clock.

- ``udp blast``: host a sends ``DATAGRAMS`` 64-byte UDP datagrams to host b with
  ``UDPSocket.sendto_nowait`` in batches of ``BATCH`` (one ``await asyncio.sleep(0)``
  between batches, so the segment delivers each batch in the next loop turn); b counts them
  from a ``sigio`` callback draining ``recvfrom_nowait``. Every datagram is the whole
  path: UDP -> IPv4 -> Ethernet/ARP -> VirtualEMAC -> switch -> VirtualEMAC -> Ethernet ->
  IPv4 -> UDP endpoint queue -> socket. Reported: datagrams delivered per wall second.
- ``ping ring``: ``HOSTS`` hosts on one segment, each pinging the next (``services.ping``,
  ``PINGS`` requests at ``PING_INTERVAL`` s of virtual time, all at once). Reported:
  simulated seconds per wall second and frames through the switch per wall second.

Run ``python benchmarks/bench_sim.py`` (``--quick`` for a smoke run); ``main()`` returns
the rows as dicts. No root, no network: everything happens inside this process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from typing import Any

from netstack.address import SocketAddress
from netstack.errors import WouldBlockError
from netstack.services.ping import ping
from netstack.sim import Network
from netstack.socket.udp import UDPSocket

DATAGRAMS = 200_000
BATCH = 64
PAYLOAD = 64
PORT = 9000
HOSTS = 50
PINGS = 500
PING_INTERVAL = 0.01
REPEATS = 3


def udp_blast(total: int, batch: int, payload_size: int) -> dict[str, Any]:
    """Time ``total`` datagrams from a to b; after one warm-up datagram resolves ARP."""
    net = Network(seed=1)
    lan = net.segment("lan")
    a = net.host("a", lan, "10.0.0.1/24")
    b = net.host("b", lan, "10.0.0.2/24")
    loop = net.world.loop
    payload = bytes(payload_size)
    dst = SocketAddress("10.0.0.2", PORT)
    received = 0

    async def scenario() -> dict[str, Any]:
        nonlocal received
        await net.start()
        rx = UDPSocket(b)
        rx.bind(PORT)
        rx.set_blocking(False)
        recv = rx.recvfrom_nowait

        def readable() -> None:
            nonlocal received
            while True:
                try:
                    recv()
                except WouldBlockError:
                    return
                received += 1

        rx.sigio(readable)
        tx = UDPSocket(a)
        tx.set_blocking(False)
        send = tx.sendto_nowait
        send(dst, payload)  # warm-up: ARP
        await asyncio.sleep(0.1)
        if received != 1:
            raise RuntimeError("warm-up datagram not received")
        received = 0
        virtual0 = loop.time()
        start = time.perf_counter()
        sent = 0
        while sent < total:
            n = min(batch, total - sent)
            for _ in range(n):
                send(dst, payload)
            sent += n
            await asyncio.sleep(0)
        await asyncio.sleep(0.001)  # virtual: lets the last batch arrive
        wall = time.perf_counter() - start
        return {
            "sent": sent,
            "received": received,
            "wall_s": wall,
            "virtual_s": loop.time() - virtual0,
            "rate": received / wall,
        }

    try:
        return net.run(scenario())
    finally:
        net.close()


def ping_ring(hosts: int, count: int, interval: float) -> dict[str, Any]:
    """Every host pings the next one (the last pings the first), all concurrently."""
    net = Network(seed=1)
    lan = net.segment("lan")
    nodes = [net.host(f"h{i}", lan, f"10.0.{i // 250}.{i % 250 + 1}/16") for i in range(hosts)]
    loop = net.world.loop

    async def scenario() -> dict[str, Any]:
        await net.start()
        await asyncio.sleep(0.5)  # gratuitous ARPs settle
        frames0 = lan.stats["frames"]
        virtual0 = loop.time()
        start = time.perf_counter()
        results = await asyncio.gather(
            *(
                ping(node, nodes[(i + 1) % hosts].ip, count=count, interval=interval)
                for i, node in enumerate(nodes)
            )
        )
        wall = time.perf_counter() - start
        virtual = loop.time() - virtual0
        frames = lan.stats["frames"] - frames0
        sent = sum(r.sent for r in results)
        return {
            "hosts": hosts,
            "pings": sent,
            "replies": sum(r.received for r in results),
            "frames": frames,
            "wall_s": wall,
            "virtual_s": virtual,
            "speedup": virtual / wall,
            "frames_per_s": frames / wall,
        }

    try:
        return net.run(scenario())
    finally:
        net.close()


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run (least wall time), with the number of runs."""
    out = dict(min(runs, key=lambda r: r["wall_s"]))
    out["runs"] = len(runs)
    return out


def main(quick: bool = False) -> list[dict[str, Any]]:
    """Measure both scenarios; print the table and return the rows."""
    repeats = 1 if quick else REPEATS
    total = DATAGRAMS // 20 if quick else DATAGRAMS
    pings = PINGS // 10 if quick else PINGS
    gc.collect()
    blast = best([udp_blast(total, BATCH, PAYLOAD) for _ in range(repeats)])
    ring = best([ping_ring(HOSTS, pings, PING_INTERVAL) for _ in range(repeats)])
    rows = [
        {"scenario": "udp blast", "batch": BATCH, "payload": PAYLOAD, **blast},
        {"scenario": "ping ring", "interval": PING_INTERVAL, **ring},
    ]
    print(format_table(rows))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Python {sys.version.split()[0]}; virtual-time simulation, best of each scenario's runs"
    ]
    for r in rows:
        if r["scenario"] == "udp blast":
            lines += [
                "",
                f"UDP blast: 2 hosts on one VirtualSegment, {r['payload']}-byte datagrams, "
                f"`sendto_nowait` in batches of {r['batch']}, receiver on sigio + "
                "`recvfrom_nowait`",
                "",
                "| datagrams sent | received | wall s | virtual s | datagrams/s (wall) "
                "| µs/datagram |",
                "|---:|---:|---:|---:|---:|---:|",
                f"| {r['sent']:,} | {r['received']:,} | {r['wall_s']:.2f} | {r['virtual_s']:.3f} "
                f"| {r['rate']:,.0f} | {1e6 / r['rate']:.2f} |",
            ]
        elif r["scenario"] == "ping ring":
            lines += [
                "",
                f"Ping ring: {r['hosts']} hosts on one VirtualSegment, each pinging the next "
                f"({r['pings'] // r['hosts']} pings every {r['interval']} s, all concurrently)",
                "",
                "| hosts | pings | replies | frames | wall s | virtual s | virtual s / wall s "
                "| frames/s (wall) |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
                f"| {r['hosts']} | {r['pings']:,} | {r['replies']:,} | {r['frames']:,} "
                f"| {r['wall_s']:.2f} | {r['virtual_s']:.2f} | {r['speedup']:.2f} "
                f"| {r['frames_per_s']:,.0f} |",
            ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    main(quick=parser.parse_args().quick)
