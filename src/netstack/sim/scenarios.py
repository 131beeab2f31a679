"""The embedded default scenario that ``netstack demo`` runs.

A switched office LAN of three chained switches (sw1 — sw2 — sw3) with five nodes, and a
router to a lab subnet reached over a slower, lossy link where an echo server lives::

    sensor-1 ─┐                 ┌─ sensor-3
    sensor-2 ─┤ sw1 ── sw2 ── sw3 ┤
              │        │          └─ display
              │     gateway ── lab (2 ms, 2% loss) ── lab-server (UDP echo)

The LAN nodes get their addresses, router and DNS server from a DHCP server on the
gateway (with RFC 5227 conflict detection); the lab server also serves DNS for the
``demo.test`` zone. Every LAN node pings every other LAN node, resolves
``echo.demo.test`` (a CNAME to the lab server) and exchanges UDP echo with it (one
datagram of 8000 bytes, fragmented and reassembled on the way); finally sensor-1 moves
1 MB over TCP through the lossy link and back, and the demo prints the goodput.

The network is dual-stack: the gateway also advertises an IPv6 prefix on each side
(2001:db8:10::/64 on the LAN, 2001:db8:9::/64 on the lab link), every node forms its
address by SLAAC with duplicate address detection, and every LAN node pings the lab server
over IPv6.

Two more links show the other media: a field unit dials into the gateway over a
115200-baud serial line (PPP with CHAP; IPCP gives it an address and the lab's DNS
server), resolves ``echo.demo.test`` and pings it through the gateway; and two meters
talk over IEEE 802.15.4 radios (the mesh stack: MAC with AES-CCM* security, 6LoWPAN),
pinging each other's link-local addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field
from pathlib import Path

from netstack.drivers.rfphy import UnitDisk, VirtualRadioMedium
from netstack.drivers.wrappers.impair import LinkParams
from netstack.errors import NetworkError, NetworkTimeoutError
from netstack.interfaces.mesh import MeshInterface
from netstack.services.dhcp_server import DhcpServer, DhcpServerConfig
from netstack.services.dns_server import DnsServer
from netstack.services.echo import UdpEchoServer
from netstack.services.ping import PingResult, ping
from netstack.services.tcp import TcpEchoServer
from netstack.sim.network import Host, Network
from netstack.socket.tcp import TCPSocket
from netstack.socket.udp import UDPSocket
from netstack.stacks.ip.dhcp_client import Lease

LAN_PORT = LinkParams(latency=20e-6, bandwidth=100e6)
TRUNK = LinkParams(latency=5e-6, bandwidth=1e9)
LAB_LINK = LinkParams(latency=2e-3, bandwidth=10e6, loss=0.02)
ECHO_SIZES = (32, 512, 1400, 8000, 64)
DIALUP_SECRETS = {"field-unit": "demo-secret"}
RADIO_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
LAN6 = "2001:db8:10::/64"
LAB6 = "2001:db8:9::/64"


@dataclass(slots=True)
class EchoResult:
    host: str
    sent: int = 0
    echoed: int = 0
    bytes_ok: int = 0
    rtts: list[float] = field(default_factory=list)


@dataclass(slots=True)
class DemoReport:
    hosts: list[Host]
    pings: dict[tuple[str, str], PingResult]
    echoes: list[EchoResult]
    simulated: float
    wall: float
    captures: list[Path]
    network: Network
    leases: dict[str, Lease] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)
    tcp: TcpResult | None = None
    #: host -> its SLAAC address; and the IPv6 pings to the lab server
    ipv6: dict[str, str] = field(default_factory=dict)
    pings6: dict[str, PingResult] = field(default_factory=dict)
    dialup: DialupResult | None = None
    radio: RadioResult | None = None


@dataclass(slots=True)
class DialupResult:
    address: str
    peer: str
    dns: str
    user: str
    resolved: str
    ping: PingResult
    bad_fcs: int


@dataclass(slots=True)
class RadioResult:
    source: str
    target: str
    ping: PingResult
    frames: int


@dataclass(slots=True)
class TcpResult:
    host: str
    size: int
    seconds: float  # simulated, from connect to the server's close
    intact: bool
    retransmissions: int


def build(seed: int, capture_dir: Path | None) -> tuple[Network, list[Host], Host]:
    net = Network(seed, capture_dir=capture_dir)
    sw1 = net.segment("sw1", LAN_PORT)
    sw2 = net.segment("sw2", LAN_PORT)
    sw3 = net.segment("sw3", LAN_PORT)
    sw1.connect(sw2, params=TRUNK)
    sw2.connect(sw3, params=TRUNK)
    lab = net.segment("lab", LAB_LINK)
    lan_hosts = [  # IPv4 addresses by DHCP, IPv6 by SLAAC
        net.host("sensor-1", sw1, ipv6="slaac"),
        net.host("sensor-2", sw1, ipv6="slaac"),
        net.host("sensor-3", sw3, ipv6="slaac"),
        net.host("display", sw3, ipv6="slaac"),
    ]
    router = net.router("gateway", [(sw2, "10.0.0.1/24"), (lab, "10.9.0.1/24")])
    server = net.host("lab-server", lab, "10.9.0.10/24", gateway="10.9.0.1", ipv6="slaac")
    net.ipv6_router(router, sw2, LAN6)
    net.ipv6_router(router, lab, LAB6)
    net.dialup("modem", router, dns=("10.9.0.10",), auth="chap", secrets=DIALUP_SECRETS,
               user="field-unit", password=DIALUP_SECRETS["field-unit"],
               bit_error_rate=1e-6)  # fmt: skip
    return net, [*lan_hosts, router], server


async def _echo_client(host: Host, server_ip: str, result: EchoResult) -> None:
    sock = UDPSocket(host)
    sock.set_timeout(0.5)
    loop = host.stack.world.loop
    try:
        for i, size in enumerate(ECHO_SIZES):
            payload = bytes((i + j) & 0xFF for j in range(size))
            for _attempt in range(3):  # the lab link loses frames: retry like a real client
                sent_at = loop.time()
                result.sent += 1
                await sock.sendto((server_ip, 7), payload)
                try:
                    data, _ = await sock.recvfrom()
                except NetworkTimeoutError:
                    continue
                result.echoed += 1
                result.rtts.append(loop.time() - sent_at)
                if data == payload:
                    result.bytes_ok += len(data)
                break
    finally:
        sock.close()


ECHO_NAME = "echo.demo.test"
ZONE = {
    "lab-server.demo.test": "10.9.0.10",
    "echo.demo.test": "CNAME lab-server.demo.test",
    "gateway.demo.test": ["10.0.0.1", "10.9.0.1"],
}
DHCP = DhcpServerConfig(
    pool_start="10.0.0.100",
    pool_end="10.0.0.199",
    router="10.0.0.1",
    dns_servers=("10.9.0.10",),
    domain="demo.test",
    lease_time=3600.0,
)


TCP_SIZE = 1_000_000


async def _tcp_transfer(client: Host, server: Host) -> TcpResult:
    """Send 1 MB over TCP to the lab server's echo service across the lossy link and read
    it back; goodput counts the data once."""
    TcpEchoServer(server).start()
    loop = client.stack.world.loop
    data = bytes((i * 7 + i // 251) & 0xFF for i in range(TCP_SIZE))
    start = loop.time()
    sock = TCPSocket(client)
    await sock.connect((server.ip, 7))

    async def reader() -> bytes:
        got = bytearray()
        while chunk := await sock.recv(65536):
            got += chunk
        return bytes(got)

    task = loop.create_task(reader())
    await sock.send(data)
    sock.shutdown()
    echoed = await task
    stats = sock._handle.conn.stats if sock._handle and sock._handle.conn else None  # type: ignore[attr-defined]
    sock.close()
    return TcpResult(
        client.name,
        TCP_SIZE,
        loop.time() - start,
        echoed == data,
        stats.retransmissions if stats is not None else 0,
    )


async def _scenario(net: Network, lan: list[Host], server: Host) -> DemoReport:
    await net.start_static()
    router = lan[-1]
    router.iface.add_dns_server("10.9.0.10")  # static hosts are told their DNS server
    dhcp = DhcpServer(router.interfaces[0], DHCP)
    dhcp.start()
    echo = UdpEchoServer(server)
    echo.start()
    dns = DnsServer(server, ZONE, origin="demo.test")
    dns.start()
    await net.start_dhcp()
    pings: dict[tuple[str, str], PingResult] = {}
    for src in lan:
        for dst in lan:
            if src is not dst:
                pings[(src.name, dst.name)] = await ping(
                    src, dst.ip, count=3, interval=0.2, timeout=0.5
                )
    echoes = []
    names: dict[str, str] = {}
    for host in lan:
        result = EchoResult(host.name)
        try:
            target = (await host.iface.gethostbyname(ECHO_NAME)).ip
        except NetworkError as exc:
            names[host.name] = f"failed: {exc}"
            echoes.append(result)
            continue
        names[host.name] = target
        await _echo_client(host, target, result)
        echoes.append(result)
    tcp = await _tcp_transfer(lan[0], server)
    addresses6: dict[str, str] = {}
    pings6: dict[str, PingResult] = {}
    server6 = await server.iface.wait_for_ipv6_address()
    addresses6[server.name] = server6.ip
    for host in lan[:-1]:
        addresses6[host.name] = (await host.iface.wait_for_ipv6_address()).ip
        pings6[host.name] = await ping(host, server6, count=3, interval=0.2, timeout=0.5)
    dialup = await _dialup(net)
    radio = await _radio(net)
    echo.stop()
    dhcp.stop()
    dns.stop()
    leases = {h.name: h.iface.lease for h in lan if h.iface.lease is not None}
    return DemoReport([*lan, server], pings, echoes, 0.0, 0.0, [], net, leases, names, tcp,
                      addresses6, pings6, dialup, radio)  # fmt: skip


async def _dialup(net: Network) -> DialupResult:
    """The field unit dials the gateway, resolves the echo server and pings it."""
    dial = net.dialups[0]
    await dial.connect()
    modem = dial.client
    target = (await modem.gethostbyname(ECHO_NAME)).ip
    result = await ping(modem, target, count=3, interval=0.2, timeout=1.0)
    dns = ",".join(d.ip for d in modem.get_dns_servers())
    done = DialupResult(modem.ip_address or "-", modem.gateway or "-", dns,
                        dial.server.peer_name, target, result,
                        modem.link.stats()["rx_bad_fcs"])  # fmt: skip
    await modem.disconnect()
    return done


def _link_local(iface: MeshInterface) -> str:
    address = iface.get_ipv6_link_local_address()
    return str(ipaddress.IPv6Address(address.packed)) if address is not None else "::"


async def _radio(net: Network) -> RadioResult:
    """Two meters on 802.15.4 radios 30 m apart ping each other's link-local address."""
    capture = net.capture_dir / "radio.pcap" if net.capture_dir is not None else None
    air = VirtualRadioMedium(net.world, UnitDisk(50.0), capture=capture)
    try:
        meters = [MeshInterface(air.add_radio((x, 0)), world=net.world, name=f"meter-{i}",
                                security_key=RADIO_KEY) for i, x in ((1, 0), (2, 30))]  # fmt: skip
        await asyncio.gather(*(m.connect() for m in meters))
        source, target = (_link_local(m) for m in meters)
        result = await ping(meters[0], f"{target}%{meters[0].netif.index}", count=3,
                            interval=0.2, timeout=1.0)  # fmt: skip
        return RadioResult(source, target, result, air.stats["frames"])
    finally:
        air.close()


def run_demo(seed: int = 7, capture_dir: Path | None = None) -> DemoReport:
    """Build and run the default scenario; returns what happened."""
    net, lan, server = build(seed, capture_dir)
    wall_start = time.perf_counter()
    report = net.run(_scenario(net, lan, server))
    report.wall = time.perf_counter() - wall_start
    report.simulated = net.now()
    net.close()
    if capture_dir is not None:
        report.captures = sorted(capture_dir.glob("*.pcap"))
    return report


def format_report(report: DemoReport) -> str:
    lines = ["netstack demo — a simulated switched LAN, a router and a lossy lab link", ""]
    lines.append("Nodes")
    for host in report.hosts:
        for iface in host.interfaces:
            primary = iface.netif.primary_ipv4
            cidr = f"{iface.ip_address}/{primary.prefix_len if primary else 0}"
            lines.append(
                f"  {host.name:<11} {iface.get_interface_name():<16} {cidr:<16} {iface.mac_address}"
            )
    lines.append("")
    lines.append("DHCP leases (from the gateway's DHCP server, after RFC 5227 probing)")
    for name, lease in report.leases.items():
        leased = ".".join(map(str, lease.address))
        dns = ",".join(".".join(map(str, d)) for d in lease.dns_servers)
        lines.append(
            f"  {name:<11} {leased}/{lease.prefix_len} router "
            f"{'.'.join(map(str, lease.routers[0])) if lease.routers else '-'} dns {dns} "
            f"domain {lease.domain} lease {lease.lease_time:.0f} s"
        )
    lines.append("")
    lines.append(f"DNS: {ECHO_NAME} (CNAME to lab-server.demo.test) via the lab server")
    for name, answer in report.resolved.items():
        lines.append(f"  {name:<11} -> {answer}")
    lines.append("")
    lines.append("Ping (3 echoes each, RTT min/avg/max in ms)")
    for (src, dst), res in report.pings.items():
        rtt = (
            f"{res.rtt_min * 1e3:.3f}/{res.rtt_avg * 1e3:.3f}/{res.rtt_max * 1e3:.3f}"
            if res.rtts
            else "-"
        )
        lines.append(f"  {src:>9} -> {dst:<9} {res.received}/{res.sent} replies  {rtt}")
    lines.append("")
    lines.append(f"UDP echo with {ECHO_NAME} (sizes {', '.join(map(str, ECHO_SIZES))} bytes)")
    for echo in report.echoes:
        avg = sum(echo.rtts) / len(echo.rtts) * 1e3 if echo.rtts else float("nan")
        lines.append(
            f"  {echo.host:>9}: {echo.echoed}/{len(ECHO_SIZES)} echoed intact "
            f"({echo.sent} sent incl. retries), {echo.bytes_ok} bytes, avg RTT {avg:.3f} ms"
        )
    if report.tcp is not None:
        t = report.tcp
        lines.append("")
        lines.append(
            f"TCP: {t.host} -> lab-server echo, {t.size:,} bytes each way over the lossy link"
        )
        lines.append(
            f"  {'intact' if t.intact else 'CORRUPTED'} in {t.seconds:.3f} s simulated: "
            f"goodput {t.size * 8 / t.seconds / 1e6:.2f} Mbit/s, "
            f"{t.retransmissions} retransmissions"
        )
    if report.ipv6:
        lines.append("")
        lines.append(f"IPv6 (SLAAC from the gateway's advertisements of {LAN6} and {LAB6})")
        for name, address in report.ipv6.items():
            res6 = report.pings6.get(name)
            result = (
                f"ping lab-server {res6.received}/{res6.sent}, avg {res6.rtt_avg * 1e3:.3f} ms"
                if res6 is not None and res6.rtts
                else ""
            )
            lines.append(f"  {name:<11} {address:<28} {result}")
    if report.dialup is not None:
        d = report.dialup
        lines.append("")
        lines.append("Dial-up (PPP over a simulated 115200-baud line: LCP, CHAP, IPCP)")
        lines.append(f"  modem       {d.address} peer {d.peer} dns {d.dns}, "
                     f"authenticated as {d.user!r}")  # fmt: skip
        rtt = f", avg {d.ping.rtt_avg * 1e3:.1f} ms" if d.ping.rtts else ""
        lines.append(f"  modem -> {ECHO_NAME} ({d.resolved}) {d.ping.received}/{d.ping.sent} "
                     f"replies{rtt}; {d.bad_fcs} frames failed their FCS")  # fmt: skip
    if report.radio is not None:
        r = report.radio
        lines.append("")
        lines.append("Radio (IEEE 802.15.4: MAC with AES-CCM* security, 6LoWPAN)")
        rtt = f", avg {r.ping.rtt_avg * 1e3:.1f} ms" if r.ping.rtts else ""
        lines.append(f"  meter-1 {r.source} -> meter-2 {r.target}: "
                     f"{r.ping.received}/{r.ping.sent} replies{rtt}, {r.frames} frames on the "
                     "air (acks included), all secured")  # fmt: skip
    lines.append("")
    lines.append("Counters")
    for host in report.hosts:
        stats = host.stack.stats()
        ip = stats["ipv4"]
        arp_req = sum(
            v.get("arp_requests_sent", 0) for k, v in stats.items() if k.startswith("link:")
        )
        lines.append(
            f"  {host.name:>10}: ip rx {ip['rx_packets']} tx {ip['tx_packets']} "
            f"fwd {ip['forwarded']} frags tx {ip['tx_fragments']} reasm {ip['rx_reassembled']}"
            f" | icmp echo rx {stats['icmp']['rx_echo_requests']} | udp rx "
            f"{stats['udp']['rx_datagrams']} | arp req {arp_req}"
        )
    for name, seg in report.network.segments.items():
        s = seg.stats
        lines.append(
            f"  switch {name:>4}: {s['frames']} frames, {s['forwarded']} forwarded, "
            f"{s['flooded']} flooded"
        )
    lines.append("")
    speedup = report.simulated / report.wall if report.wall else float("inf")
    lines.append(
        f"Time: {report.simulated:.3f} s simulated in {report.wall:.3f} s wall "
        f"({speedup:.0f}x real time)"
    )
    if report.captures:
        lines.append("Captures (open with Wireshark or tshark -r):")
        lines.extend(f"  {p}" for p in report.captures)
    return "\n".join(lines)
