"""The ``netstack`` command: ``demo`` (simulated LAN, no root), ``up`` (a node on a TAP),
``resolve`` (DNS through netstack) and ``ppp`` (PPP on a serial port)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from netstack import __version__
from netstack.drivers.emac.api import EMAC
from netstack.drivers.wrappers.capture import PcapTap
from netstack.drivers.wrappers.impair import LinkModel, LinkParams
from netstack.errors import NetworkError
from netstack.interfaces.base import ConnectionStatus
from netstack.runtime.world import World
from netstack.stacks.core.acd import AcdConfig

if TYPE_CHECKING:
    from netstack.interfaces.base import NetworkInterface
    from netstack.interfaces.ppp import PPPInterface
    from netstack.services.echo import CountingUdpService as UdpService
    from netstack.services.tcp import TcpService

SERVICES = ("echo", "discard", "chargen", "http", "https", "sink")  # echo, discard: UDP and TCP


def _add_link_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("link wrappers (applied to the driver)")
    g.add_argument("--pcap", metavar="FILE", help="capture every frame to a pcap file")
    g.add_argument("--loss", type=float, default=0.0, metavar="P", help="drop probability 0..1")
    g.add_argument("--delay", type=float, default=0.0, metavar="S", help="added latency (s)")


PROBES = {
    "rfc": None,  # RFC 5227: 3 probes, about 5 s
    "fast": (1, 0.0, 0.2),  # 1 probe, 0.2 s listening
    "off": (0, 0.0, 0.0),
}


def _add_probe_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--probe",
        choices=tuple(PROBES),
        default="rfc",
        help="address conflict detection before a DHCP address is used: rfc (RFC 5227, "
        "about 5 s), fast (one probe, 0.2 s) or off",
    )


def acd_config(name: str) -> AcdConfig | None:
    probe = PROBES[name]
    if probe is None:
        return None
    count, wait, announce = probe
    return AcdConfig(probe_num=count, probe_wait=wait, announce_wait=announce)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netstack",
        description="A pure-Python layered IP stack: simulate networks or attach to a TAP.",
    )
    parser.add_argument("--version", action="version", version=f"netstack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run the default simulated network (no root, no set-up)",
        description="Simulate a switched LAN with a router and a lossy lab link: every node "
        "pings every other and exchanges UDP echo. Prints a summary and writes one pcap per "
        "switch.",
    )
    demo.add_argument("--out", default="netstack-demo", metavar="DIR", help="pcap folder")
    demo.add_argument("--seed", type=int, default=7, help="random seed (same seed, same packets)")

    up = sub.add_parser(
        "up",
        help="attach a node to an existing TAP device and serve ping and UDP services",
        description="Attach a netstack node to a TAP device (create it first, e.g. "
        "`ip tuntap add dev tap0 mode tap; ip addr add 10.0.0.1/24 dev tap0; "
        "ip link set tap0 up`). Answers ping and the chosen services until interrupted.",
    )
    up.add_argument("--tap", required=True, metavar="NAME", help="TAP device name")
    addressing = up.add_mutually_exclusive_group()
    addressing.add_argument("--ip", metavar="A.B.C.D/N", help="static address and prefix")
    addressing.add_argument("--dhcp", action="store_true", help="get an address by DHCP")
    up.add_argument(
        "--ipv6",
        default="off",
        metavar="MODE",
        help="IPv6: slaac (autoconfiguration from router advertisements), static:ADDR/N, "
        "or off (the default); without --ip/--dhcp the node is IPv6-only",
    )
    up.add_argument("--gateway", metavar="G", help="default gateway (with --ip)")
    up.add_argument("--hostname", metavar="NAME", help="host name sent to the DHCP server")
    up.add_argument(
        "--dhcp-timeout", type=float, default=60.0, metavar="S", help="give up on DHCP after S s"
    )
    _add_probe_option(up)
    _serve_help(up)
    up.add_argument("--netns", metavar="NS", help="open the TAP inside this network namespace")
    up.add_argument("--offload", action="store_true", help="use IFF_VNET_HDR checksum/TSO offloads")
    up.add_argument("--duration", type=float, metavar="S", help="exit after S seconds")
    up.add_argument("--stats-interval", type=float, default=5.0, metavar="S", help="counter period")
    up.add_argument("--seed", type=int, help="random seed for ports and identifiers")
    _add_link_options(up)

    resolve = sub.add_parser(
        "resolve",
        help="resolve a host name through netstack on a TAP device",
        description="Bring a node up on a TAP (by DHCP, or with --ip and --dns), resolve "
        "HOSTNAME with netstack's resolver and print its addresses. Exits 1 with a message "
        "when the name cannot be resolved.",
    )
    resolve.add_argument("hostname", help="the name to resolve")
    resolve.add_argument("--tap", required=True, metavar="NAME", help="TAP device name")
    how = resolve.add_mutually_exclusive_group(required=True)
    how.add_argument("--dhcp", action="store_true", help="address and DNS servers by DHCP")
    how.add_argument("--ip", metavar="A.B.C.D/N", help="static address (use with --dns)")
    resolve.add_argument(
        "--dns", action="append", default=[], metavar="SERVER", help="DNS server (repeatable)"
    )
    resolve.add_argument("--gateway", metavar="G", help="default gateway (with --ip)")
    resolve.add_argument("--netns", metavar="NS", help="open the TAP inside this namespace")
    resolve.add_argument(
        "--family", choices=("any", "4", "6"), default="any", help="address family wanted"
    )
    resolve.add_argument("--timeout", type=float, default=2.0, metavar="S", help="per query")
    resolve.add_argument("--seed", type=int, help="random seed")
    _add_probe_option(resolve)
    _add_link_options(resolve)

    ppp = sub.add_parser(
        "ppp",
        help="dial a PPP peer on a serial port, print the negotiated addresses, ping or serve",
        description="Bring up PPP on a serial device (a tty path such as /dev/ttyUSB0 or a "
        "pty, or a pyserial URL such as socket://host:port): LCP, PAP/CHAP when the peer "
        "asks, IPCP (address and DNS servers) and optionally IPV6CP. Prints the negotiated "
        "addresses, then pings (--ping) or serves (--serve) and hangs up. Exits 1 with a "
        "message when negotiation or authentication fails.",
    )
    ppp.add_argument("--device", required=True, metavar="PATH", help="serial device or URL")
    ppp.add_argument("--baud", type=int, default=115200, metavar="N", help="line rate (bit/s)")
    ppp.add_argument("--user", default="", metavar="U", help="PAP/CHAP user name")
    ppp.add_argument("--password", default="", metavar="P", help="PAP/CHAP password")
    ppp.add_argument("--ipv6", action="store_true", help="also negotiate IPV6CP (link-local)")
    ppp.add_argument("--no-ipv4", action="store_true", help="do not negotiate IPCP")
    ppp.add_argument("--ping", metavar="HOST", help="ping HOST over the link, then hang up")
    ppp.add_argument("--count", type=int, default=4, metavar="N", help="pings to send")
    ppp.add_argument("--interval", type=float, default=1.0, metavar="S", help="between pings")
    _serve_help(ppp)
    ppp.add_argument("--timeout", type=float, default=30.0, metavar="S", help="negotiation limit")
    ppp.add_argument("--duration", type=float, metavar="S", help="hang up after S seconds")
    ppp.add_argument("--pcap", metavar="FILE", help="capture the PPP frames (link type 204)")
    ppp.add_argument("--seed", type=int, help="random seed for magic numbers and ports")
    return parser


def cmd_demo(args: argparse.Namespace) -> int:
    from netstack.sim.scenarios import format_report, run_demo

    out = Path(args.out)
    report = run_demo(seed=args.seed, capture_dir=out)
    print(format_report(report))
    lost = [k for k, r in report.pings.items() if r.received != r.sent]
    return 1 if lost else 0


def parse_services(spec: str) -> list[tuple[str, str]]:
    """``--serve`` items as (name, argument): ``echo`` -> ("echo", ""), ``http=DIR`` ->
    ("http", "DIR")."""
    out: list[tuple[str, str]] = []
    for item in spec.split(","):
        if item:
            name, _, arg = item.partition("=")
            out.append((name, arg))
    return out


def http_root_and_port(arg: str, default: int = 80) -> tuple[str, int]:
    """``DIR`` or ``DIR:PORT`` (the port is the part after the last colon, if numeric)."""
    root, colon, port = arg.rpartition(":")
    if colon and port.isdigit() and root:
        return root, int(port)
    return arg, default


def real_seed(seed: int | None) -> int:
    """A real-mode world's seed: the one given (reproducible runs), else a fresh random one,
    so two nodes never share MAC addresses, DHCP transaction ids or ephemeral ports."""
    return seed if seed is not None else int.from_bytes(os.urandom(8), "big")


def wrap_driver(emac: EMAC, world: World, args: argparse.Namespace) -> EMAC:
    """Apply the --loss/--delay and --pcap wrappers, innermost first."""
    if args.loss or args.delay:
        emac = LinkModel(emac, world, LinkParams(latency=args.delay, loss=args.loss))
    if args.pcap:
        emac = PcapTap(emac, args.pcap, world)
    return emac


Servers = tuple[list["UdpService"], list["TcpService"]]


def check_services(
    args: argparse.Namespace, command: str
) -> tuple[list[tuple[str, str]], ssl.SSLContext | None] | int:
    """``--serve`` (with ``--tls-cert``/``--tls-key``) checked: the services and the TLS
    context, or the exit status after printing what is wrong."""
    wanted = parse_services(args.serve)
    unknown = {name for name, _ in wanted} - set(SERVICES)
    if unknown:
        print(f"netstack {command}: unknown service(s): {', '.join(sorted(unknown))}",
              file=sys.stderr)  # fmt: skip
        return 2
    for name, arg in wanted:
        if name in ("http", "https") and not os.path.isdir(http_root_and_port(arg)[0]):
            print(f"netstack {command}: {name}=DIR needs a directory, got {arg!r}",
                  file=sys.stderr)  # fmt: skip
            return 2
    tls = None
    if any(name == "https" for name, _ in wanted):
        if not (args.tls_cert and args.tls_key):
            print(f"netstack {command}: https needs --tls-cert and --tls-key", file=sys.stderr)
            return 2
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    return wanted, tls


def start_services(
    iface: NetworkInterface, wanted: list[tuple[str, str]], tls: ssl.SSLContext | None
) -> Servers:
    """Start the ``--serve`` services on ``iface``'s stack."""
    from netstack.services.bulk import BulkSink
    from netstack.services.echo import UdpDiscardServer, UdpEchoServer
    from netstack.services.http import HttpFileServer
    from netstack.services.tcp import TcpChargenServer, TcpDiscardServer, TcpEchoServer

    running: list[UdpService] = []
    streams: list[TcpService] = []
    tcp = {"echo": TcpEchoServer, "discard": TcpDiscardServer, "chargen": TcpChargenServer}
    for name, arg in wanted:
        if name in ("echo", "discard"):
            udp = UdpEchoServer(iface) if name == "echo" else UdpDiscardServer(iface)
            udp.start()
            running.append(udp)
        if name in ("http", "https"):
            root, port = http_root_and_port(arg, 80 if name == "http" else 443)
            stream: TcpService = HttpFileServer(
                iface, root, port, tls=tls if name == "https" else None
            )
        else:
            stream = BulkSink(iface) if name == "sink" else tcp[name](iface)
        stream.start()
        streams.append(stream)
    return running, streams


def stop_services(running: list[UdpService], streams: list[TcpService]) -> None:
    for server in running:
        server.stop()
    for stream in streams:
        stream.stop()


def stop_event(duration: float | None) -> asyncio.Event:
    """Set by SIGINT/SIGTERM, or after ``duration`` seconds."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    return stop


def _serve_help(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--serve",
        default="",
        metavar="LIST",
        help=f"comma-separated services: {','.join(SERVICES)}; http=DIR serves DIR over "
        "HTTP/1.0 on port 80 (http=DIR:PORT on another port), https=DIR over TLS on 443 "
        "(with --tls-cert and --tls-key), sink counts bulk TCP on 5001",
    )
    p.add_argument("--tls-cert", metavar="PEM", help="certificate (chain) for https")
    p.add_argument("--tls-key", metavar="PEM", help="private key for https")


async def run_up(args: argparse.Namespace) -> int:
    from netstack.address import parse_ipv4_interface
    from netstack.drivers.emac.tap import TapEMAC
    from netstack.interfaces.ethernet import EthernetInterface

    checked = check_services(args, "up")
    if isinstance(checked, int):
        return checked
    wanted, tls = checked
    services = [name for name, _ in wanted]
    ipv6_mode, _, ipv6_address = args.ipv6.partition(":")
    if ipv6_mode not in ("off", "slaac", "static") or (ipv6_mode == "static") != bool(ipv6_address):
        print(f"netstack up: --ipv6 {args.ipv6!r}: slaac, static:ADDR/N or off", file=sys.stderr)
        return 2
    if not (args.ip or args.dhcp) and ipv6_mode == "off":
        print("netstack up: give --ip, --dhcp or --ipv6", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    world = World(loop, seed=real_seed(args.seed))
    tap = TapEMAC(args.tap, world, offload=args.offload, netns=args.netns)
    emac = wrap_driver(tap, world, args)
    iface = EthernetInterface(emac, world=world, name=args.tap, acd=acd_config(args.probe))
    if ipv6_mode != "off":
        iface.set_ipv6(ipv6_mode, ipv6_address or None)
        iface.ipv6_timeout = 4.0  # a router answers a solicitation within about a second
    if not (args.ip or args.dhcp):
        iface.set_dhcp(False)  # IPv6 only
    elif args.dhcp:
        if args.hostname:
            iface.set_hostname(args.hostname)
        iface.dhcp_timeout = args.dhcp_timeout
        iface.add_dhcp_listener(lambda event: print(describe_dhcp_event(event), flush=True))
    else:
        ip, prefix = parse_ipv4_interface(args.ip)
        iface.set_network(".".join(map(str, ip)), prefix, args.gateway)
    await iface.connect()
    if ipv6_mode != "off":
        with contextlib.suppress(OSError):  # DAD of the link-local address takes ~1 s
            await iface.wait_for_ipv6_address(global_address=False, timeout=5.0)
    primary = iface.netif.primary_ipv4
    prefix = primary.prefix_len if primary else 0
    running, streams = start_services(iface, wanted, tls)
    ipv4 = f"{iface.ip_address}/{prefix}" if iface.ip_address else "no-ipv4"
    print(
        f"netstack up on {args.tap}: {ipv4} mac {iface.mac_address}"
        f" gateway {iface.gateway or '-'} status {iface.status.name}"
        f" services {','.join(services) or '-'}",
        flush=True,
    )
    if iface.ipv6 is not None:
        for address, plen, state in iface.ipv6.addresses():
            print(f"ipv6 {ipaddress.IPv6Address(address)}/{plen} {state}", flush=True)
    stop = stop_event(args.duration)
    stack = iface.stack
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), args.stats_interval)
        s = stack.stats()
        link = s[f"link:{iface.get_interface_name()}"]
        served = " ".join(
            [f"{srv.name}={srv.stats.datagrams}" for srv in running]
            + [f"tcp-{srv.name}={srv.stats.connections}" for srv in streams]
        )
        print(
            f"rx {link['rx_frames']} tx {link['tx_frames']} frames | ip rx "
            f"{s['ipv4']['rx_packets']} tx {s['ipv4']['tx_packets']} | ipv6 rx "
            f"{s['ipv6']['rx_packets']} tx {s['ipv6']['tx_packets']} | icmp echo "
            f"{s['icmp']['rx_echo_requests']}+{s['icmpv6']['rx_echo_requests']} | udp "
            f"{s['udp']['rx_datagrams']} | arp "
            f"{link['arp_entries']} entries {served}",
            flush=True,
        )
    stop_services(running, streams)
    await iface.disconnect()
    if isinstance(emac, PcapTap):
        emac.close()
    return 0


def _ips(addresses: Sequence[bytes]) -> str:
    return ",".join(".".join(map(str, ip)) for ip in addresses) or "-"


def describe_dhcp_event(event: object) -> str:
    """One line for a DHCP client event (``netstack up --dhcp`` prints them as they come)."""
    from netstack.stacks.ip.dhcp_client import Lease

    lease = getattr(event, "lease", None)
    name = type(event).__name__
    if isinstance(lease, Lease):
        return (
            f"dhcp {name}: {_ips([lease.address])}/{lease.prefix_len} "
            f"router {_ips(lease.routers)} dns {_ips(lease.dns_servers)} "
            f"domain {lease.domain or '-'} lease {lease.lease_time:.0f} s "
            f"server {_ips([lease.server_id])}"
        )
    return f"dhcp {name}"


async def run_resolve(args: argparse.Namespace) -> int:
    from netstack.address import IpVersion, SocketAddress, parse_ipv4_interface
    from netstack.drivers.emac.tap import TapEMAC
    from netstack.interfaces.ethernet import EthernetInterface

    if args.ip and not args.dns:
        print("netstack resolve: --ip needs at least one --dns SERVER", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    world = World(loop, seed=real_seed(args.seed))
    tap = TapEMAC(args.tap, world, netns=args.netns)
    emac = wrap_driver(tap, world, args)
    iface = EthernetInterface(emac, world=world, name=args.tap, acd=acd_config(args.probe))
    if args.ip:
        ip, prefix = parse_ipv4_interface(args.ip)
        iface.set_network(".".join(map(str, ip)), prefix, args.gateway)
    iface.resolver.config.timeout = args.timeout
    try:
        await iface.connect()
        for server in reversed(args.dns):
            iface.add_dns_server(SocketAddress(server, 53))
        version = {"any": IpVersion.UNSPEC, "4": IpVersion.IPV4, "6": IpVersion.IPV6}
        addresses = await iface.getaddrinfo(args.hostname, version[args.family])
    finally:
        if iface.status.name != "DISCONNECTED":
            await iface.disconnect()
        if isinstance(emac, PcapTap):
            emac.close()
        tap.close()
    for address in addresses:
        print(address.ip)
    return 0


async def run_ppp(args: argparse.Namespace) -> int:
    from netstack.drivers.serial import SerialCapture, SerialPort, open_serial
    from netstack.interfaces.ppp import PPPInterface
    from netstack.services.ping import PingReply, ping

    checked = check_services(args, "ppp")
    if isinstance(checked, int):
        return checked
    wanted, tls = checked
    if args.no_ipv4 and not args.ipv6:
        print("netstack ppp: --no-ipv4 needs --ipv6", file=sys.stderr)
        return 2
    world = World(asyncio.get_running_loop(), seed=real_seed(args.seed))
    port: SerialPort = open_serial(world, args.device, baudrate=args.baud)
    capture = SerialCapture(port, world, args.pcap) if args.pcap else None
    iface = PPPInterface(
        capture or port,
        world=world,
        user=args.user,
        password=args.password,
        ipv4=not args.no_ipv4,
        ipv6=args.ipv6,
    )
    iface.connect_timeout = args.timeout
    try:
        await iface.connect()
        link = iface.ppp
        dns = " ".join(d.ip for d in iface.get_dns_servers()) or "-"
        print(
            f"ppp up on {args.device}: local {iface.ip_address or '-'} peer "
            f"{iface.gateway or '-'} dns {dns} mtu {link.mtu}"
            + (f" authenticated by {iface.peer_name}" if iface.peer_name else ""),
            flush=True,
        )
        if args.ipv6:
            with contextlib.suppress(OSError):
                local = await iface.wait_for_ipv6_address(global_address=False, timeout=2.0)
                print(f"ipv6 {local.ip} peer fe80::{_iid_text(link.ipv6cp.peer_iid)}")
        status = 0
        if args.ping:

            def show(reply: PingReply) -> None:
                print(f"{reply.size + 8} bytes from {reply.source}: icmp_seq={reply.seq} "
                      f"time={reply.rtt * 1e3:.2f} ms", flush=True)  # fmt: skip

            result = await ping(
                iface, args.ping, count=args.count, interval=args.interval, on_reply=show
            )
            print(result.summary(), flush=True)
            status = 0 if result.received else 1
        if wanted or not args.ping:
            running, streams = start_services(iface, wanted, tls)
            stop = stop_event(args.duration)
            down = asyncio.ensure_future(iface.wait_for_status({ConnectionStatus.DISCONNECTED}))
            waiting = asyncio.ensure_future(stop.wait())
            await asyncio.wait({down, waiting}, return_when=asyncio.FIRST_COMPLETED)
            down.cancel()
            waiting.cancel()
            stop_services(running, streams)
            if iface.status == ConnectionStatus.DISCONNECTED:
                print(f"netstack ppp: {iface.last_error}", file=sys.stderr)
                return 1
        print(f"ppp stats: {_ppp_counters(iface)}", flush=True)
        return status
    finally:
        if iface.status != ConnectionStatus.DISCONNECTED:
            await iface.disconnect()
        if capture is not None:
            capture.close()
        port.close()


def _iid_text(iid: bytes | None) -> str:
    if iid is None:
        return "?"
    return ":".join(f"{int.from_bytes(iid[i : i + 2], 'big'):x}" for i in range(0, 8, 2))


def _ppp_counters(iface: PPPInterface) -> str:
    stats = iface.link.stats()
    keys = ("rx_frames", "tx_frames", "rx_bad_fcs", "rx_discarded", "tx_queue_drops")
    return " ".join(f"{k} {stats[k]}" for k in keys)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "up":
            return asyncio.run(run_up(args))
        if args.command == "resolve":
            return asyncio.run(run_resolve(args))
        if args.command == "ppp":
            return asyncio.run(run_ppp(args))
    except (NetworkError, OSError) as exc:
        print(f"netstack {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
