"""Network: a few lines to build a simulated network and run it in virtual time.

>>> net = Network(seed=1)
>>> lan = net.segment("lan")
>>> a = net.host("a", lan, "10.0.0.1/24")
>>> b = net.host("b", lan, "10.0.0.2/24")
>>> net.run(net.start())

Everything shares one :class:`~netstack.runtime.World`: one virtual clock, one seeded random
generator. The same seed gives the same packets, bit for bit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from netstack.address import parse_ipv4, parse_ipv4_interface
from netstack.drivers.emac.virtual import VirtualSegment
from netstack.drivers.serial.api import SerialPort
from netstack.drivers.serial.capture import SerialCapture
from netstack.drivers.serial.line import SerialLine
from netstack.drivers.wrappers.impair import LinkParams
from netstack.interfaces.ethernet import EthernetInterface
from netstack.interfaces.ppp import PPPInterface
from netstack.runtime.world import World
from netstack.stacks.core.ipv6_interface import AdvertisedPrefix, RouterConfig
from netstack.stacks.ip.ppp import Ipv4Pool
from netstack.stacks.ip.stack import IpStack

T = TypeVar("T")


@dataclass
class DialUp:
    """A dial-up link: a serial line between a client and an ISP's PPP server."""

    line: SerialLine
    client: PPPInterface
    server: PPPInterface
    captures: list[SerialCapture]

    async def connect(self) -> None:
        """Bring both ends up (the server answers, the client dials)."""
        await asyncio.gather(self.server.connect(), self.client.connect())


class Host:
    """A node: one stack with one or more Ethernet interfaces."""

    def __init__(self, name: str, stack: IpStack) -> None:
        self.name = name
        self.stack = stack
        self.interfaces: list[EthernetInterface] = []

    @property
    def iface(self) -> EthernetInterface:
        """The first interface."""
        return self.interfaces[0]

    @property
    def ip(self) -> str:
        return self.iface.ip_address or ""

    def get_stack(self) -> IpStack:
        return self.stack

    async def start(self) -> None:
        for iface in self.interfaces:
            await iface.connect()

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {[i.ip_address for i in self.interfaces]})"


class Network:
    """A simulated world with segments and hosts; optional pcap per segment."""

    def __init__(self, seed: int = 0, *, capture_dir: str | os.PathLike[str] | None = None) -> None:
        self.world = World.simulated(seed)
        self.segments: dict[str, VirtualSegment] = {}
        self.hosts: dict[str, Host] = {}
        self.capture_dir = Path(capture_dir) if capture_dir is not None else None
        self._advertisers: list[tuple[EthernetInterface, RouterConfig]] = []
        self.dialups: list[DialUp] = []
        if self.capture_dir is not None:
            self.capture_dir.mkdir(parents=True, exist_ok=True)

    def segment(
        self, name: str, params: LinkParams | None = None, *, offload: bool = False
    ) -> VirtualSegment:
        """A new switch; captured to ``<capture_dir>/<name>.pcap`` if capturing. With
        ``offload`` its NICs have checksum offload (see :class:`VirtualSegment`)."""
        if name in self.segments:
            raise ValueError(f"segment {name!r} exists")
        capture = self.capture_dir / f"{name}.pcap" if self.capture_dir is not None else None
        seg = VirtualSegment(self.world, name, params=params, capture=capture, offload=offload)
        self.segments[name] = seg
        return seg

    def host(
        self,
        name: str,
        segment: VirtualSegment,
        address: str | None = None,
        *,
        gateway: str | None = None,
        params: LinkParams | None = None,
        mtu: int = 1500,
        offload: bool | None = None,
        ipv6: str | None = None,
        hwaddr: bytes | None = None,
    ) -> Host:
        """A host with one interface on ``segment``: static ``address`` ("10.0.0.1/24"),
        or DHCP when ``address`` is None (its ``start()`` then waits for a lease); with
        ``address=""`` no IPv4 at all. ``offload``: checksum offload on its NIC (default:
        the segment's). ``ipv6``: ``"slaac"`` or ``"static:2001:db8::2/64"``. ``hwaddr``: the
        NIC's MAC (default: the world's next free one; a duplicate is taken as given)."""
        if name in self.hosts:
            raise ValueError(f"host {name!r} exists")
        host = Host(name, IpStack(self.world))
        iface = self._attach(host, segment, address, params, gateway, mtu, offload, hwaddr)
        if ipv6 is not None:
            mode, _, static = ipv6.partition(":")
            iface.set_ipv6(mode, static or None)
        self.hosts[name] = host
        return host

    def router(
        self, name: str, links: list[tuple[VirtualSegment, str] | tuple[VirtualSegment, str, int]]
    ) -> Host:
        """A host with an interface on each segment (optionally with an MTU) and forwarding on."""
        host = Host(name, IpStack(self.world))
        for link in links:
            mtu = link[2] if len(link) == 3 else 1500
            self._attach(host, link[0], link[1], None, None, mtu)
        host.stack.forwarding = True
        self.hosts[name] = host
        return host

    def _attach(
        self,
        host: Host,
        segment: VirtualSegment,
        address: str | None,
        params: LinkParams | None,
        gateway: str | None,
        mtu: int,
        offload: bool | None = None,
        hwaddr: bytes | None = None,
    ) -> EthernetInterface:
        emac = segment.add_port(hwaddr, params=params, mtu=mtu, offload=offload)
        iface = EthernetInterface(emac, stack=host.stack, name=f"{host.name}.{segment.name}")
        if address == "":
            iface.set_dhcp(False)  # no IPv4
        elif address is not None:
            ip, prefix = parse_ipv4_interface(address)
            iface.set_network(".".join(map(str, ip)), prefix, gateway)
        else:
            iface.set_hostname(host.name)
        host.interfaces.append(iface)
        return iface

    def add_route(self, host: Host, network: str, gateway: str) -> None:
        """A static route on ``host``: ``network`` ("10.1.0.0/24") via ``gateway``."""
        net, prefix = parse_ipv4_interface(network)
        gw = parse_ipv4(gateway)
        route = host.stack.ipv4.routes.lookup(int.from_bytes(gw, "big"))
        if route is None:
            raise ValueError(f"{gateway} is not on a network of {host.name}")
        host.stack.add_route(net, prefix, gw, route.interface)

    def ipv6_router(
        self,
        router: Host,
        segment: VirtualSegment,
        prefix: str,
        *,
        dns: tuple[str, ...] = (),
        mtu: int | None = None,
    ) -> None:
        """Make ``router``'s interface on ``segment`` an IPv6 router for ``prefix``
        ("2001:db8:1::/64"): it takes the prefix's ::1 and advertises the prefix (with
        ``dns`` as RDNSS and ``mtu`` as the MTU option) once started; forwarding goes on."""
        network = ipaddress.IPv6Network(prefix)
        iface = next(i for i in router.interfaces if i.netif.name.endswith(f".{segment.name}"))
        iface.set_ipv6("static", f"{network.network_address + 1}/{network.prefixlen}")
        config = RouterConfig(
            prefixes=[AdvertisedPrefix(network.network_address.packed, network.prefixlen)],
            dns_servers=[ipaddress.IPv6Address(a).packed for a in dns],
            mtu=mtu,
        )
        self._advertisers.append((iface, config))
        router.stack.forwarding = True

    def dialup(
        self,
        name: str,
        isp: Host | None = None,
        *,
        local: str = "10.64.0.1",
        pool: str = "10.64.0.10",
        pool_size: int = 16,
        dns: tuple[str, ...] = (),
        auth: str | None = None,
        secrets: dict[str, str] | None = None,
        user: str = "",
        password: str = "",
        ipv6: bool = False,
        baudrate: int | None = 115200,
        bit_error_rate: float = 0.0,
        delay: float = 0.0,
    ) -> DialUp:
        """A client dialling into ``isp`` (a host whose stack routes for it: forwarding goes
        on) over a simulated serial line: PPP with ``auth`` ("pap"/"chap") against
        ``secrets``, the client's address from a pool starting at ``pool``, ``dns`` handed
        out by IPCP. Captured to ``<capture_dir>/<name>.pcap`` (link type 204, from the
        client's side) if capturing. :meth:`start` connects it after the static hosts."""
        world = self.world
        line = SerialLine(world, baudrate=baudrate, bit_error_rate=bit_error_rate,
                          delay=delay, name=name)  # fmt: skip
        client_port: SerialPort = line.a
        captures = []
        if self.capture_dir is not None:
            capture = SerialCapture(line.a, world, self.capture_dir / f"{name}.pcap")
            captures.append(capture)
            client_port = capture
        server_stack = isp.stack if isp is not None else IpStack(world)
        server_stack.forwarding = True
        server = PPPInterface.server(
            line.b,
            stack=server_stack,
            name=f"{name}.isp",
            local=local,
            pool=Ipv4Pool(parse_ipv4(pool), pool_size),
            dns=dns,
            auth=auth,
            secrets=secrets,
            ipv6=ipv6,
        )
        client = PPPInterface(client_port, world=world, name=name, user=user,
                              password=password, ipv6=ipv6)  # fmt: skip
        dial = DialUp(line, client, server, captures)
        self.dialups.append(dial)
        return dial

    async def start(self) -> None:
        """Connect every interface of every host: static ones first (servers and routers),
        then the DHCP clients, together. To start services (a DHCP server) in between, call
        :meth:`start_static` and :meth:`start_dhcp` yourself."""
        await self.start_static()
        await asyncio.gather(*(dial.connect() for dial in self.dialups))
        await self.start_dhcp()

    async def start_static(self) -> None:
        """Connect every statically configured interface, IPv6 routers first: they
        advertise at once, so an IPv6-only host's ``connect()`` finds its router instead
        of waiting out ``ipv6_timeout``."""
        routers = {id(iface) for iface, _config in self._advertisers}
        hosts = sorted(
            self.hosts.values(), key=lambda h: not any(id(i) in routers for i in h.interfaces)
        )
        for host in hosts:
            for iface in host.interfaces:
                if not iface.dhcp:
                    await iface.connect()
            for iface, config in self._advertisers:
                ip6 = iface.ipv6
                if ip6 is not None and ip6.router is None:
                    ip6.advertise(config)

    async def start_dhcp(self) -> None:
        """Connect every DHCP interface, concurrently; returns when all are bound."""
        await asyncio.gather(
            *(i.connect() for h in self.hosts.values() for i in h.interfaces if i.dhcp)
        )

    def run(self, main: Awaitable[T]) -> T:
        return self.world.run(main)

    def run_for(self, seconds: float) -> None:
        self.world.run_for(seconds)

    def now(self) -> float:
        return self.world.now()

    def close(self) -> None:
        for seg in self.segments.values():
            seg.close()
        for dial in self.dialups:
            for capture in dial.captures:
                capture.close()
        self.world.close()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
