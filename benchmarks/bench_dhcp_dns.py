"""DHCP lease time and DNS queries/s: netstack against dnsmasq over TAP, the kernel as reference.

Set-up (root; everything inside namespaces this script creates and deletes):

- ``nsd_<pid>``: a bridge ``nsdbr0`` (10.77.0.1/24) with two ports: a TAP ``nsdtap0``, where
  netstack runs in this process, and a veth ``nsdveth0``. dnsmasq serves DHCP
  (10.77.0.100-250, ``--no-ping``) and DNS (``--address=/bench.test/10.77.0.99``: any
  ``*.bench.test`` is answered locally, no upstream) on the bridge.
- ``nsd_<pid>_k``: the veth's other end ``nsdveth1``, where the kernel references run: a
  Linux client reaches the same dnsmasq across the same bridge as netstack (a DHCP client
  on the TAP's own kernel side could not: the kernel does not deliver what it sends on the
  TAP to its own sockets).

Measurements:

- DHCP: time from ``EthernetInterface.connect()`` to GLOBAL_UP, each run a fresh interface
  (new MAC, new lease, released afterwards), split into the exchange (connect() to the
  ACK: DISCOVER, OFFER, REQUEST, ACK) and the RFC 5227 probing of the leased address (the
  ACK to the lease being used). Three probing settings through
  ``EthernetInterface(acd=AcdConfig(...))``: the RFC's (3 probes, ANNOUNCE_WAIT 2 s), one
  probe with a 0.2 s wait, and none (``probe_num=0``, the minimum the API allows).
  Reference: busybox ``udhcpc`` on the veth, from its start (its script's ``deconfig``
  call) to its script's ``bound`` call, plain and with ``-a`` (it ARP-checks the offered
  address, waiting 2 s for an answer).
- DNS: A queries per second from netstack's resolver (``iface.gethostbyname``), servers
  learned by DHCP: distinct names (``n1.bench.test``, ``n2.bench.test``, …, so each one
  is a query on the wire) one at a time and 8 concurrently, and one name repeatedly (the
  resolver's cache). Reference: the kernel asking the same dnsmasq for the same names from
  a plain Python loop on kernel UDP sockets in ``nsd_<pid>_k`` (dnspython builds and parses
  the messages, as in netstack; a new socket per query, as a stub resolver does).

Run ``python benchmarks/bench_dhcp_dns.py`` as root (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_tap import SetupError, add_netns, in_ns, namespaces, sh, stop
from netstack.address import IpVersion, SocketAddress
from netstack.drivers.emac.tap import TapEMAC
from netstack.interfaces.base import ConnectionStatus
from netstack.interfaces.ethernet import EthernetInterface
from netstack.runtime import World
from netstack.stacks.core.acd import AcdConfig
from netstack.stacks.ip.dhcp_client import AddressCheckRequested, LeaseAcquired

BRIDGE, TAP, VETH0, VETH1 = "nsdbr0", "nsdtap0", "nsdveth0", "nsdveth1"
SERVER_IP = "10.77.0.1"
KERNEL_IP = "10.77.0.3"  # the veth end's static address in the DNS part
POOL = ("10.77.0.100", "10.77.0.250")
ANSWER = "10.77.0.99"

RUNS = 5  # fresh interfaces per DHCP case
DNS_QUERIES = 1000  # distinct names per uncached run
CACHED_QUERIES = 20_000
DNS_REPEATS = 3  # interleaved runs per DNS case; the table shows the median
CONCURRENCY = 8

#: (label, AcdConfig or None for the RFC 5227 defaults)
ACD_CASES: tuple[tuple[str, AcdConfig | None], ...] = (
    ("RFC 5227 probing (3 probes, 2 s wait)", None),
    ("1 probe, 0.2 s wait", AcdConfig(probe_num=1, probe_wait=0.0, announce_wait=0.2)),
    ("no probing (probe_num=0)", AcdConfig(probe_num=0, probe_wait=0.0, announce_wait=0.0)),
)

UDHCPC_SCRIPT = """#!/bin/sh
# Timestamps of udhcpc's script calls; the address is configured so -R can release it.
echo "event $1 $(date +%s.%N)"
case "$1" in
deconfig) ip -4 addr flush dev "$interface" ;;
bound|renew) ip addr add "$ip/$mask" dev "$interface" ;;
esac
"""

#: A kernel-socket DNS client: argv server, name prefix, count, in flight. Prints JSON.
KERNEL_DNS = r"""
import json, selectors, socket, sys, time
import dns.message, dns.rdatatype
server, prefix, count, inflight = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
names = iter(f"{prefix}{i}.bench.test" for i in range(count))
sel = selectors.DefaultSelector()
answered = wrong = lost = 0
def launch():
    name = next(names, None)
    if name is None:
        return
    query = dns.message.make_query(name, dns.rdatatype.A, use_edns=0, payload=1232)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.connect((server, 53))
    s.send(query.to_wire())
    sel.register(s, selectors.EVENT_READ, query)
start = time.perf_counter()
for _ in range(inflight):
    launch()
while sel.get_map():
    events = sel.select(timeout=2.0)
    if not events:
        lost += len(sel.get_map())
        break
    for key, _ in events:
        s, query = key.fileobj, key.data
        data = s.recv(4096)
        sel.unregister(s)
        s.close()
        response = dns.message.from_wire(data)
        good = query.is_response(response) and any(
            rd.to_text() == "10.77.0.99" for rrset in response.answer for rd in rrset)
        answered += good
        wrong += not good
        launch()
elapsed = time.perf_counter() - start
print(json.dumps({"queries": count, "answered": answered, "wrong": wrong, "lost": lost,
                  "seconds": elapsed, "rate": answered / elapsed}))
"""


# --- namespaces and processes ------------------------------------------------------------


def make_segment(ns: str, ns_k: str) -> None:
    """The bridge with the TAP and one end of the veth in ``ns``, the other end in ``ns_k``."""
    add_netns(ns)
    add_netns(ns_k)
    ip = ("ip", "-n", ns)
    # A fixed bridge MAC (else it takes a port's); no STP, no multicast snooping (PEERS §6).
    sh(*ip, "link", "add", BRIDGE, "address", "02:00:00:00:99:01", "type", "bridge",
       "stp_state", "0", "mcast_snooping", "0")  # fmt: skip
    sh(*ip, "tuntap", "add", "dev", TAP, "mode", "tap")
    sh(*ip, "link", "set", TAP, "master", BRIDGE)
    sh(*ip, "link", "set", TAP, "up")
    sh("ip", "link", "add", VETH0, "netns", ns, "type", "veth", "peer", "name", VETH1,
       "netns", ns_k)  # fmt: skip
    sh(*ip, "link", "set", VETH0, "master", BRIDGE)
    sh(*ip, "link", "set", VETH0, "up")
    sh(*ip, "addr", "add", f"{SERVER_IP}/24", "dev", BRIDGE)
    sh(*ip, "link", "set", BRIDGE, "up")
    sh("ip", "-n", ns_k, "link", "set", VETH1, "up")


def start_dnsmasq(ns: str, directory: Path) -> subprocess.Popen[bytes]:
    """dnsmasq on the bridge; returns once it listens on ports 67 and 53."""
    args = [
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--port=53",
        f"--interface={BRIDGE}",
        "--bind-interfaces",
        "--user=root",
        f"--pid-file={directory / 'dnsmasq.pid'}",
        f"--dhcp-leasefile={directory / 'dnsmasq.leases'}",
        f"--log-facility={directory / 'dnsmasq.log'}",
        "--no-ping",  # else every OFFER waits 3 s for a ping check
        "--dhcp-authoritative",
        f"--dhcp-range={POOL[0]},{POOL[1]},255.255.255.0,10m",
        f"--address=/bench.test/{ANSWER}",
        "--local-ttl=300",  # else its local answers carry TTL 0: not cacheable
    ]
    cmd = in_ns(ns, "dnsmasq", *args)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 5.0
    while not _listening(proc.pid):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise SetupError(f"dnsmasq did not start: {err}")
        time.sleep(0.005)
    return proc


def _listening(pid: int) -> bool:
    """Whether ``pid`` is dnsmasq with UDP ports 53 and 67 bound (in its own namespace)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "dnsmasq":
                return False
        with open(f"/proc/{pid}/net/udp") as f:
            ports = {line.split()[1].rsplit(":", 1)[1] for line in f.readlines()[1:]}
    except (OSError, IndexError):
        return False
    return {"0035", "0043"} <= ports


async def run_async(cmd: list[str], timeout: float = 60.0) -> str:
    """Run ``cmd`` without blocking the loop netstack runs on; its stdout (must exit 0)."""
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise SetupError(f"{' '.join(cmd)}: exit {proc.returncode}: {out.decode()}")
    return out.decode(errors="replace")


async def tap_port_ready(ns: str) -> None:
    """Until the kernel has seen the TAP's carrier and the bridge forwards on the port
    (the first frames after attaching are dropped until then; PEERS §6)."""
    deadline = time.monotonic() + 5.0
    paths = [f"/sys/class/net/{TAP}/operstate", f"/sys/class/net/{TAP}/brport/state"]
    while True:
        out = await run_async(in_ns(ns, "cat", *paths))
        if out.split() == ["up", "3"]:
            return
        if time.monotonic() > deadline:
            raise SetupError(f"{TAP} not forwarding: {out.split()}")
        await asyncio.sleep(0.01)


# --- measurements ---------------------------------------------------------------------------


async def netstack_lease(world: World, ns: str, acd: AcdConfig | None) -> dict[str, float]:
    """One connect() by DHCP on a fresh interface: total, exchange and probing seconds."""
    tap = TapEMAC(TAP, world, netns=ns)
    try:
        await tap_port_ready(ns)
        iface = EthernetInterface(tap, world=world, acd=acd)
        iface.dhcp_timeout = 30.0
        marks: dict[str, float] = {}

        def on_event(event: object) -> None:
            if isinstance(event, AddressCheckRequested):
                marks.setdefault("ack", time.perf_counter())
            elif isinstance(event, LeaseAcquired):
                marks.setdefault("bound", time.perf_counter())

        iface.add_dhcp_listener(on_event)
        start = time.perf_counter()
        await iface.connect()
        total = time.perf_counter() - start
        if iface.status != ConnectionStatus.GLOBAL_UP or not in_pool(iface.ip_address):
            raise SetupError(f"connect() gave {iface.status.name} {iface.ip_address}")
        await iface.disconnect()  # RELEASE: the pool stays free for the next runs
    finally:
        tap.close()
    return {
        "total": total,
        "exchange": marks["ack"] - start,
        "probing": marks["bound"] - marks["ack"],
    }


async def udhcpc_lease(ns_k: str, script: Path, arp_check: bool) -> dict[str, float]:
    """busybox udhcpc once on the veth: seconds from its start to its bound call."""
    cmd = ["busybox", "udhcpc", "-i", VETH1, "-f", "-q", "-n", "-R", "-t", "5", "-T", "1"]
    cmd += ["-s", str(script), *(["-a"] if arp_check else [])]
    out = await run_async(in_ns(ns_k, *cmd))
    stamps: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "event":
            stamps.setdefault(parts[1], float(parts[2]))
    if "bound" not in stamps or "deconfig" not in stamps:
        raise SetupError(f"udhcpc got no lease: {out}")
    return {"total": stamps["bound"] - stamps["deconfig"]}


def in_pool(ip: str | None) -> bool:
    if ip is None:
        return False
    first, last = (tuple(int(x) for x in a.split(".")) for a in POOL)
    return first <= tuple(int(x) for x in ip.split(".")) <= last


async def netstack_queries(
    iface: EthernetInterface, names: list[str], concurrency: int
) -> dict[str, float]:
    """Resolve ``names`` (A) with ``concurrency`` lookups in flight; the rate of answers."""
    pending = iter(names)
    answered = wrong = 0
    expected = SocketAddress(ANSWER, 0)

    async def worker() -> None:
        nonlocal answered, wrong
        for name in pending:
            address = await iface.gethostbyname(name, IpVersion.IPV4)
            if address == expected:
                answered += 1
            else:
                wrong += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"rate": answered / elapsed, "answered": answered, "wrong": wrong, "seconds": elapsed}


async def kernel_queries(ns_k: str, prefix: str, count: int, concurrency: int) -> dict[str, float]:
    out = await run_async(
        in_ns(ns_k, sys.executable, "-c", KERNEL_DNS, SERVER_IP, prefix, str(count),
              str(concurrency))
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


async def measure(world: World, ns: str, ns_k: str, tmp: Path, quick: bool) -> list[dict[str, Any]]:
    runs = 2 if quick else RUNS
    rows: list[dict[str, Any]] = []
    script = tmp / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)

    # DHCP: netstack with each probing setting, then udhcpc, each run on a fresh client.
    for label, acd in ACD_CASES:
        results = [
            await netstack_lease(world, ns, acd)
            for _ in range(1 if quick and acd is None else runs)
        ]
        row: dict[str, Any] = {"section": "dhcp", "client": "netstack over TAP", "case": label}
        row["runs"] = len(results)
        for part in ("total", "exchange", "probing"):
            row[part] = spread([r[part] for r in results])
        rows.append(row)
    for label, arp_check in (("udhcpc", False), ("udhcpc -a (ARP check of the offer)", True)):
        results = [await udhcpc_lease(ns_k, script, arp_check) for _ in range(runs)]
        rows.append(
            {
                "section": "dhcp",
                "client": "kernel: busybox udhcpc over veth",
                "case": label,
                "runs": len(results),
                "total": spread([r["total"] for r in results]),
            }
        )

    # DNS: one netstack interface whose resolver learned dnsmasq from DHCP; the kernel
    # client on a static address.
    await run_async(in_ns(ns_k, "ip", "-4", "addr", "flush", "dev", VETH1))
    await run_async(in_ns(ns_k, "ip", "addr", "add", f"{KERNEL_IP}/24", "dev", VETH1))
    count = 100 if quick else DNS_QUERIES
    cached = 1000 if quick else CACHED_QUERIES
    repeats = 1 if quick else DNS_REPEATS
    tap = TapEMAC(TAP, world, netns=ns)
    dns: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        await tap_port_ready(ns)
        iface = EthernetInterface(tap, world=world, acd=ACD_CASES[-1][1])
        await iface.connect()
        servers = iface.resolver.all_servers()
        if servers != [SocketAddress(SERVER_IP, 53)]:
            raise SetupError(f"DNS servers from DHCP: {servers}")
        for r in range(repeats):
            for mode, concurrency in (
                ("sequential", 1),
                (f"{CONCURRENCY} concurrent", CONCURRENCY),
            ):
                prefix = f"r{r}{'s' if concurrency == 1 else 'c'}n"
                names = [f"{prefix}{i}.bench.test" for i in range(count)]
                iface.resolver.cache_clear()
                dns.setdefault(("netstack resolver over TAP", mode), []).append(
                    await netstack_queries(iface, names, concurrency)
                )
                dns.setdefault(("kernel: Python loop on UDP sockets over veth", mode), []).append(
                    await kernel_queries(ns_k, prefix, count, concurrency)
                )
            iface.resolver.cache_clear()
            names = ["cached.bench.test"] * cached
            dns.setdefault(("netstack resolver over TAP", "cached (one name)"), []).append(
                await netstack_queries(iface, names, 1)
            )
        stats = iface.resolver.stats
        await iface.disconnect()
    finally:
        tap.close()
    for (client, mode), results in dns.items():
        rows.append(
            {
                "section": "dns",
                "client": client,
                "mode": mode,
                "queries": int(results[0].get("queries", results[0]["answered"])),
                "runs": len(results),
                "rate": spread([r["rate"] for r in results]),
                "failed": sum(r.get("wrong", 0) + r.get("lost", 0) for r in results),
            }
        )
    rows.append(
        {
            "section": "info",
            "text": "udhcpc's time is mostly its own set-up rather than the exchange: under "
            "strace each bind of one of its AF_PACKET sockets took "
            "12-16 ms here, and it forks its script before and after.",
        }
    )
    rows.append(
        {
            "section": "info",
            "text": f"netstack resolver counters at the end: {stats.queries_sent} queries sent, "
            f"{stats.responses} responses, {stats.timeouts} timeouts, {stats.cache_hits} cache "
            f"hits, {stats.cache_misses} misses",
        }
    )
    return rows


def missing_requirements() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, TAP)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    for tool in ("ip", "dnsmasq", "busybox"):
        if shutil.which(tool) is None:
            return f"{tool} not found (make system-deps installs it)"
    return None


def main(quick: bool = False) -> list[dict[str, Any]]:
    """Measure; print the table and return the rows."""
    why = missing_requirements()
    if why is not None:
        rows: list[dict[str, Any]] = [{"section": "skipped", "reason": why}]
        print(format_table(rows))
        return rows
    pid = os.getpid()
    ns, ns_k = f"nsd_{pid}", f"nsd_{pid}_k"
    dnsmasq = None
    loop = asyncio.new_event_loop()
    world = World(loop, seed=int.from_bytes(os.urandom(8), "big"))  # fresh MACs every run
    with namespaces(ns, ns_k), tempfile.TemporaryDirectory() as tmp:
        try:
            make_segment(ns, ns_k)
            dnsmasq = start_dnsmasq(ns, Path(tmp))
            rows = loop.run_until_complete(measure(world, ns, ns_k, Path(tmp), quick))
        finally:
            stop(dnsmasq)
            world.close()
    print(format_table(rows))
    return rows


def _ms(spread: dict[str, float]) -> str:
    return f"{spread['median'] * 1e3:,.1f} [{spread['min'] * 1e3:,.1f}-{spread['max'] * 1e3:,.1f}]"


def format_table(rows: list[dict[str, Any]]) -> str:
    skipped = [r for r in rows if r["section"] == "skipped"]
    if skipped:
        return f"bench_dhcp_dns skipped: {skipped[0]['reason']}"
    lines = [
        "DHCP: time to a usable lease from dnsmasq (`--no-ping`), ms, median [min-max] over "
        "fresh clients. netstack: `connect()` to GLOBAL_UP = exchange (DISCOVER…ACK) + "
        "RFC 5227 probing (ACK to the address being used). udhcpc: its script's `deconfig` "
        "call (start) to its `bound` call.",
        "",
        "| client | probing | runs | total | exchange | probing |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["section"] != "dhcp":
            continue
        exchange = _ms(r["exchange"]) if "exchange" in r else "-"
        probing = _ms(r["probing"]) if "probing" in r else "-"
        lines.append(
            f"| {r['client']} | {r['case']} | {r['runs']} | {_ms(r['total'])} | {exchange} "
            f"| {probing} |"
        )
    lines += [
        "",
        "DNS: A lookups answered per second by dnsmasq (`--address`, no upstream); distinct "
        "names unless cached; median [min-max] of interleaved runs.",
        "",
        "| client | mode | queries/run | runs | lookups/s | failed |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["section"] == "dns":
            rate = r["rate"]
            lines.append(
                f"| {r['client']} | {r['mode']} | {r['queries']:,} | {r['runs']} "
                f"| {rate['median']:,.0f} [{rate['min']:,.0f}-{rate['max']:,.0f}] "
                f"| {r['failed']} |"
            )
    for r in rows:
        if r["section"] == "info":
            lines += ["", r["text"]]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    main(quick=parser.parse_args().quick)
