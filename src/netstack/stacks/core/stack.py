"""CoreStack: the shared IPv4/ICMP/UDP machinery of every stack profile.

It owns the interfaces, the IPv4 layer, ICMP and UDP, and implements the NetworkStack
contract on their endpoints. Profiles (``stacks.ip``, ``stacks.mesh``) add the link
adaptations they bring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, cast

from netstack.address import IpVersion, SocketAddress, parse_literal
from netstack.errors import (
    DnsFailureError,
    IsConnectedError,
    NoAddressError,
    NoConnectionError,
    NoSocketError,
    ParameterError,
    UnsupportedError,
    WouldBlockError,
)
from netstack.runtime.world import World
from netstack.stacks.core.api import (
    SOL_SOCKET,
    HostResolver,
    SocketHandle,
    SocketKind,
    SocketOption,
)
from netstack.stacks.core.binding import ANY4
from netstack.stacks.core.icmp import IcmpConfig, IcmpLayer, PingEndpoint
from netstack.stacks.core.icmpv6 import Icmpv6Layer
from netstack.stacks.core.ipv4 import Ipv4Layer
from netstack.stacks.core.ipv6 import Ipv6Layer
from netstack.stacks.core.ipv6_interface import Ipv6Config, Ipv6Interface
from netstack.stacks.core.link import Ipv4Address, LinkAdapter, NetIf
from netstack.stacks.core.reassembly import ReassemblyConfig
from netstack.stacks.core.routing import Route
from netstack.stacks.core.tcp.congestion import make_congestion_control
from netstack.stacks.core.tcp.connection import TcpConfig
from netstack.stacks.core.tcp.layer import TcpEndpoint, TcpLayer
from netstack.stacks.core.udp import UdpConfig, UdpEndpoint, UdpLayer
from netstack.wire.ipv4 import IpProto

log = logging.getLogger(__name__)

LinkStateListener = Callable[[NetIf, bool], None]

#: SOL_SOCKET options of TCP sockets, by the TcpConfig field each one sets
_TCP_OPTIONS: dict[int, str] = {
    SocketOption.NODELAY: "nodelay",
    SocketOption.KEEPALIVE: "keepalive",
    SocketOption.KEEPIDLE: "keepidle",
    SocketOption.KEEPINTVL: "keepintvl",
    SocketOption.KEEPCNT: "keepcnt",
    SocketOption.RCVBUF: "rcvbuf",
    SocketOption.SNDBUF: "sndbuf",
    SocketOption.LINGER: "linger",
    SocketOption.CONGESTION: "congestion",
}


class CoreStack:
    """IPv4 and IPv6 (dual stack) with ICMP, UDP and TCP over any number of interfaces,
    with optional forwarding."""

    profile = "core"

    def __init__(
        self,
        world: World,
        *,
        reassembly: ReassemblyConfig | None = None,
        icmp: IcmpConfig | None = None,
        udp: UdpConfig | None = None,
        tcp: TcpConfig | None = None,
    ) -> None:
        self._world = world
        self.netifs: list[NetIf] = []
        self.ipv4 = Ipv4Layer(self, reassembly)
        self.icmp = IcmpLayer(self, icmp)
        self.udp = UdpLayer(self, udp)
        self.tcp = TcpLayer(self, tcp)
        self.ipv4.handlers[IpProto.ICMP] = self.icmp.input
        self.ipv4.handlers[IpProto.UDP] = self.udp.input
        self.ipv4.handlers[IpProto.TCP] = self.tcp.input
        self.ipv6 = Ipv6Layer(self)
        self.icmpv6 = Icmpv6Layer(self)
        self.ipv6.handlers[58] = self.icmpv6.input
        self.ipv6.handlers[IpProto.UDP] = self.udp.input
        self.ipv6.handlers[IpProto.TCP] = self.tcp.input
        self._link_listeners: list[LinkStateListener] = []
        self._loopback: NetIf | None = None
        #: servers added by the application (most recent first, as Mbed's add_dns_server)
        self.dns_servers: list[SocketAddress] = []
        #: servers learned per source (DHCP on an interface, RDNSS, IPCP)
        self.learned_dns: dict[str, list[SocketAddress]] = {}
        #: name resolution (a netstack.socket.dns.Resolver, installed by the interface)
        self.resolver: HostResolver | None = None

    @property
    def world(self) -> World:
        return self._world

    # -- interfaces ------------------------------------------------------------------------
    def add_interface(self, link: LinkAdapter, name: str | None = None) -> NetIf:
        """Attach a link adapter as a new interface (down until :meth:`bring_up`)."""
        index = len(self.netifs) + 1
        netif = NetIf(name or f"if{index}", link, index=index)
        netif.input_ipv4 = self.ipv4.input
        netif.input_ipv6 = self.ipv6.input
        netif.on_link_state = self._on_link_state
        self.netifs.append(netif)
        return netif

    def bring_up(self, netif: NetIf) -> None:
        if netif.up:
            return
        netif.up = True
        netif.link.start(netif)
        if netif.ip6 is not None:
            netif.ip6.start()

    def bring_down(self, netif: NetIf) -> None:
        if not netif.up:
            return
        netif.up = False
        if netif.ip6 is not None:
            netif.ip6.stop()
        netif.link.stop()
        self.ipv6.refresh_addresses(self.netifs)

    def enable_ipv6(self, netif: NetIf, config: Ipv6Config | None = None) -> Ipv6Interface:
        """Turn IPv6 on for ``netif`` (link-local address, router discovery, SLAAC as
        configured); started with the interface."""
        if netif.ip6 is None:
            netif.ip6 = Ipv6Interface(self, netif, config)
            if netif.up:
                netif.ip6.start()
        return netif.ip6

    def remove_interface(self, netif: NetIf) -> None:
        self.bring_down(netif)
        self.ipv4.remove_interface_routes(netif)
        self.ipv6.remove_interface_routes(netif)
        if netif in self.netifs:
            self.netifs.remove(netif)
        self.ipv4.refresh_addresses(self.netifs)

    def add_link_state_listener(self, listener: LinkStateListener) -> None:
        self._link_listeners.append(listener)

    def _on_link_state(self, netif: NetIf, up: bool) -> None:
        for listener in list(self._link_listeners):
            listener(netif, up)

    def set_ipv4_address(self, netif: NetIf, address: bytes, prefix_len: int) -> None:
        """Replace the interface's IPv4 configuration with one address."""
        self.clear_ipv4(netif)
        self.add_ipv4_address(netif, address, prefix_len)

    def add_ipv4_address(self, netif: NetIf, address: bytes, prefix_len: int) -> None:
        if len(address) != 4 or not 0 < prefix_len <= 32:
            raise ParameterError("bad IPv4 address or prefix length")
        entry = Ipv4Address(bytes(address), prefix_len)
        if entry not in netif.ipv4:
            netif.ipv4.append(entry)
        self.ipv4.add_connected_route(netif, address, prefix_len)
        self.ipv4.refresh_addresses(self.netifs)
        netif.link.addresses_changed()

    def clear_ipv4(self, netif: NetIf) -> None:
        ipv4 = self.ipv4
        for route in [r for r in ipv4.routes if r.interface is netif]:
            ipv4.remove_route(route)
        netif.ipv4.clear()
        ipv4.refresh_addresses(self.netifs)
        netif.link.addresses_changed()

    def set_default_gateway(self, gateway: bytes, netif: NetIf | None = None) -> None:
        """Install (or replace) the default route via ``gateway``."""
        ipv4 = self.ipv4
        for route in [r for r in ipv4.routes if r.prefix_len == 0]:
            ipv4.remove_route(route)
        if netif is None:
            found = ipv4.routes.lookup(int.from_bytes(gateway, "big"))
            if found is None:
                raise NoAddressError("gateway is not on any connected network")
            netif = found.interface
        ipv4.add_route(Route(0, 0, netif, int.from_bytes(gateway, "big")))

    def add_route(self, network: bytes, prefix_len: int, gateway: bytes, netif: NetIf) -> None:
        self.ipv4.add_route(
            Route(int.from_bytes(network, "big"), prefix_len, netif, int.from_bytes(gateway, "big"))
        )

    def ip_layer(self, address: bytes) -> Ipv4Layer | Ipv6Layer:
        """The network layer for an address: IPv4 for 4 bytes, IPv6 for 16."""
        return self.ipv4 if len(address) == 4 else self.ipv6

    @property
    def forwarding(self) -> bool:
        return self.ipv4.forwarding

    @forwarding.setter
    def forwarding(self, on: bool) -> None:
        self.ipv4.forwarding = on
        self.ipv6.forwarding = on

    def loopback_netif(self) -> NetIf:
        if self._loopback is None:
            self._loopback = self.netifs[0] if self.netifs else None
        if self._loopback is None:
            raise NoAddressError("no interface")
        return self._loopback

    def default_netif(self, local_ip: bytes = ANY4) -> NetIf | None:
        """The interface for broadcasts: the one owning ``local_ip``, else the first up."""
        if local_ip != ANY4:
            netif = self.ipv4.local.get(local_ip)
            if netif is not None:
                return netif
        route = self.ipv4.routes.lookup(0)
        if route is not None:
            return route.interface
        for netif in self.netifs:
            if netif.up and netif.ipv4:
                return netif
        return None

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters per layer (and per interface)."""
        out: dict[str, dict[str, int]] = {
            "ipv4": asdict(self.ipv4.counters),
            "reassembly": asdict(self.ipv4.reassembler.stats),
            "icmp": asdict(self.icmp.counters),
            "udp": asdict(self.udp.counters),
            "tcp": asdict(self.tcp.counters),
            "ipv6": asdict(self.ipv6.counters),
            "icmpv6": asdict(self.icmpv6.counters),
        }
        out["reassembly"]["buffered_bytes"] = self.ipv4.reassembler.buffered_bytes
        out["reassembly"]["in_flight"] = self.ipv4.reassembler.in_flight
        for netif in self.netifs:
            out[f"link:{netif.name}"] = netif.link.stats()
            if netif.ip6 is not None:
                out[f"ipv6:{netif.name}"] = {
                    **asdict(netif.ip6.stats),
                    **{f"nd_{k}": v for k, v in asdict(netif.ip6.neighbors.stats).items()},
                }
        return out

    # -- NetworkStack contract -------------------------------------------------------------
    def socket_open(self, kind: SocketKind) -> SocketHandle:
        if kind is SocketKind.UDP:
            return self.udp.open()
        if kind is SocketKind.ICMP:
            return _IcmpHandle(self)
        if kind is SocketKind.TCP:
            return self.tcp.open()
        raise UnsupportedError(f"{kind.value} sockets are not available on this stack yet")

    def socket_close(self, handle: SocketHandle) -> None:
        _check_open(handle)
        if isinstance(handle, TcpEndpoint):
            self.tcp.close(handle)
            return
        cast(Any, handle).close()

    def socket_bind(self, handle: SocketHandle, address: SocketAddress) -> None:
        _check_open(handle)
        ip = address.packed or ANY4
        if isinstance(handle, UdpEndpoint):
            self.udp.bind(handle, ip, address.port)
        elif isinstance(handle, TcpEndpoint):
            self.tcp.bind(handle, ip, address.port)
        elif isinstance(handle, _IcmpHandle):
            handle.bind(address.port or None)
        else:
            raise ParameterError("not a socket of this stack")

    def socket_connect(self, handle: SocketHandle, address: SocketAddress) -> None:
        _check_open(handle)
        if isinstance(handle, TcpEndpoint):
            if not address:
                raise NoAddressError("no address to connect to")
            self.tcp.connect(handle, address.packed, address.port, address.scope_id)
            return
        if isinstance(handle, UdpEndpoint):
            if not address:
                handle.peer_ip = None  # Mbed: connecting to an empty address resets
                handle.peer_port = 0
                return
            if not handle.bound:
                self.udp.bind(handle, ANY4, 0)
            handle.peer_ip = address.packed
            handle.peer_scope = address.scope_id
            handle.peer_port = address.port
            handle.queue.clear()
            handle.queued_bytes = 0
        elif isinstance(handle, _IcmpHandle):
            handle.peer = address.packed or None
        else:
            raise ParameterError("not a socket of this stack")

    def socket_sendto(
        self, handle: SocketHandle, address: SocketAddress | None, data: bytes
    ) -> int:
        _check_open(handle)
        if isinstance(handle, UdpEndpoint):
            if address is None or not address:
                if handle.peer_ip is None:
                    raise NoAddressError("no destination: the socket is not connected")
                return self.udp.sendto(
                    handle, handle.peer_ip, handle.peer_port, data, handle.peer_scope
                )
            return self.udp.sendto(handle, address.packed, address.port, data, address.scope_id)
        if isinstance(handle, _IcmpHandle):
            return handle.sendto(address, data)
        raise ParameterError("not a socket of this stack")

    def socket_recvfrom(self, handle: SocketHandle) -> tuple[bytes, SocketAddress]:
        _check_open(handle)
        if isinstance(handle, UdpEndpoint):
            item = handle.receive()
            if item is None:
                raise WouldBlockError("no datagram queued")
            return item[0], SocketAddress.from_packed(item[1], item[2])
        if isinstance(handle, _IcmpHandle):
            return handle.recvfrom()
        raise ParameterError("not a socket of this stack")

    def socket_readable(self, handle: SocketHandle) -> bool:
        if isinstance(handle, TcpEndpoint):
            return self.tcp.readable(handle)
        if isinstance(handle, UdpEndpoint):
            return handle.readable()
        if isinstance(handle, _IcmpHandle):
            return handle.readable()
        return False

    # -- stream sockets ---------------------------------------------------------------------
    def _tcp(self, handle: SocketHandle) -> TcpEndpoint:
        _check_open(handle)
        if not isinstance(handle, TcpEndpoint):
            raise UnsupportedError("not a TCP socket")
        return handle

    def socket_listen(self, handle: SocketHandle, backlog: int) -> None:
        self.tcp.listen(self._tcp(handle), backlog)

    def socket_accept(self, handle: SocketHandle) -> tuple[SocketHandle, SocketAddress]:
        return self.tcp.accept(self._tcp(handle))

    def socket_send(self, handle: SocketHandle, data: bytes) -> int:
        return self.tcp.send(self._tcp(handle), data)

    def socket_recv(self, handle: SocketHandle, max_bytes: int) -> bytes:
        return self.tcp.recv(self._tcp(handle), max_bytes)

    def socket_shutdown(self, handle: SocketHandle, how: str) -> None:
        if how not in ("write", "both"):
            raise ParameterError("shutdown supports 'write' (and 'both')")
        self.tcp.shutdown_write(self._tcp(handle))

    def socket_writable(self, handle: SocketHandle) -> bool:
        if isinstance(handle, TcpEndpoint):
            return self.tcp.writable(handle)
        return not handle.closed

    def socket_connected(self, handle: SocketHandle) -> bool:
        """True once established; raises the connection's error (refused, timeout…)."""
        ep = self._tcp(handle)
        self.tcp._raise_error(ep)
        return ep.connected

    def socket_attach(self, handle: SocketHandle, callback: Callable[[], None] | None) -> None:
        _check_open(handle)
        cast(Any, handle).callback = callback

    def socket_setsockopt(
        self, handle: SocketHandle, level: int, option: int, value: object
    ) -> None:
        _check_open(handle)
        if level != SOL_SOCKET:
            raise UnsupportedError(f"option level {level}")
        if isinstance(handle, TcpEndpoint):
            self._tcp_setsockopt(handle, option, value)
            return
        if not isinstance(handle, UdpEndpoint):
            raise UnsupportedError(f"option {option} on this socket")
        if option == SocketOption.BROADCAST:
            handle.broadcast = bool(value)
        elif option == SocketOption.REUSEADDR:
            handle.reuse = bool(value)
        elif option == SocketOption.RCVBUF:
            size = _int_option(value)
            handle.rcvbuf = size
        elif option in (SocketOption.ADD_MEMBERSHIP, SocketOption.DROP_MEMBERSHIP):
            group = value if isinstance(value, SocketAddress) else SocketAddress(str(value))
            join = option == SocketOption.ADD_MEMBERSHIP
            self.udp.membership(handle, group.packed, group.scope_id, join=join)
        elif option == SocketOption.TTL:
            ttl = _int_option(value)
            if not 1 <= ttl <= 255:
                raise ParameterError("TTL must be 1..255")
            handle.ttl = ttl
        else:
            raise UnsupportedError(f"option {option} on UDP sockets")

    def _tcp_setsockopt(self, ep: TcpEndpoint, option: int, value: object) -> None:
        if option == SocketOption.REUSEADDR:
            ep.reuse = bool(value)
            return
        name = _TCP_OPTIONS.get(option)
        if name is None:
            raise UnsupportedError(f"option {option} on TCP sockets")
        if name in ("nodelay", "keepalive"):
            converted: object = bool(value)
        elif name == "linger":
            converted = None if value is None else float(_number(value))
        elif name == "congestion":
            if not isinstance(value, str):
                raise ParameterError("the congestion control is a name: 'newreno' or 'cubic'")
            converted = make_congestion_control(value, 1).name  # validates the name
            if ep.conn is not None:
                ep.conn.set_congestion_control(converted)
        elif name in ("keepidle", "keepintvl"):
            converted = float(_number(value))
        else:
            converted = _int_option(value)
        for config in (ep.config, ep.conn.config if ep.conn is not None else None):
            if config is not None:
                setattr(config, name, converted)
        if ep.conn is not None:
            self.tcp._mark(ep)

    def socket_getsockopt(self, handle: SocketHandle, level: int, option: int) -> object:
        _check_open(handle)
        if level == SOL_SOCKET and isinstance(handle, TcpEndpoint):
            if option == SocketOption.REUSEADDR:
                return handle.reuse
            name = _TCP_OPTIONS.get(option)
            if name is None:
                raise UnsupportedError(f"option {option} on TCP sockets")
            return getattr(handle.config, name)
        if level != SOL_SOCKET or not isinstance(handle, UdpEndpoint):
            raise UnsupportedError(f"option {option}")
        if option == SocketOption.BROADCAST:
            return handle.broadcast
        if option == SocketOption.REUSEADDR:
            return handle.reuse
        if option == SocketOption.RCVBUF:
            return handle.rcvbuf
        if option == SocketOption.TTL:
            return handle.ttl if handle.ttl is not None else self.ipv4.default_ttl
        raise UnsupportedError(f"option {option} on UDP sockets")

    def socket_getsockname(self, handle: SocketHandle) -> SocketAddress:
        _check_open(handle)
        if isinstance(handle, TcpEndpoint):
            return SocketAddress.from_packed(handle.local_ip, handle.local_port)
        if isinstance(handle, UdpEndpoint):
            return SocketAddress.from_packed(handle.local_ip, handle.local_port)
        if isinstance(handle, _IcmpHandle):
            return SocketAddress.from_packed(ANY4, handle.ident)
        raise ParameterError("not a socket of this stack")

    def socket_getpeername(self, handle: SocketHandle) -> SocketAddress:
        _check_open(handle)
        if isinstance(handle, UdpEndpoint) and handle.peer_ip is not None:
            return SocketAddress.from_packed(handle.peer_ip, handle.peer_port)
        if isinstance(handle, TcpEndpoint) and handle.conn is not None:
            return SocketAddress.from_packed(handle.remote_ip, handle.remote_port)
        raise NoConnectionError("socket has no peer")

    # -- DNS: the resolver is the Socket API's, installed by the interface ------------------
    async def gethostbyname(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> SocketAddress:
        """The first address of ``host`` (a literal needs no traffic)."""
        return (await self.getaddrinfo(host, version))[0]

    async def getaddrinfo(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> list[SocketAddress]:
        if self.resolver is not None:
            return await self.resolver.getaddrinfo(host, version)
        literal = parse_literal(host, version)
        if literal is None:
            raise DnsFailureError(f"cannot resolve {host!r}: no resolver on this stack")
        return [literal]

    def add_dns_server(self, address: SocketAddress) -> None:
        if not address.port:
            address = address.with_port(53)
        if address in self.dns_servers:
            self.dns_servers.remove(address)
        self.dns_servers.insert(0, address)

    def set_learned_dns(self, source: str, servers: list[SocketAddress]) -> None:
        """Replace the DNS servers learned from ``source`` (e.g. DHCP on an interface)."""
        if servers:
            self.learned_dns[source] = list(servers)
        else:
            self.learned_dns.pop(source, None)

    def get_dns_servers(self) -> list[SocketAddress]:
        """Every DNS server to try, in order: the application's, then the learned ones."""
        out = list(self.dns_servers)
        for servers in self.learned_dns.values():
            out.extend(s for s in servers if s not in out)
        return out


class _IcmpHandle:
    """Socket handle over a :class:`PingEndpoint` (bound lazily, like a Linux ping socket)."""

    def __init__(self, stack: CoreStack) -> None:
        self.stack = stack
        self.endpoint: PingEndpoint | None = None
        self.peer: bytes | None = None
        self._callback: Callable[[], None] | None = None
        self.closed = False

    @property
    def ident(self) -> int:
        return self.endpoint.ident if self.endpoint else 0

    @property
    def callback(self) -> Callable[[], None] | None:
        return self._callback

    @callback.setter
    def callback(self, cb: Callable[[], None] | None) -> None:
        self._callback = cb
        if self.endpoint is not None:
            self.endpoint.callback = cb

    def bind(self, ident: int | None) -> None:
        if self.endpoint is not None:
            raise ParameterError("socket already bound")
        self.endpoint = self.stack.icmp.open_endpoint(ident)
        self.endpoint.callback = self._callback
        # one identifier for both families: echo replies over IPv6 reach it too
        self.stack.icmpv6.endpoints[self.endpoint.ident] = self.endpoint

    def sendto(self, address: SocketAddress | None, message: bytes) -> int:
        """Send an ICMP echo request; the identifier is rewritten to the bound one."""
        from netstack.wire.icmpv4 import Icmpv4Header

        dst = address.packed if address else self.peer
        if not dst:
            raise NoAddressError("no destination")
        if self.endpoint is None:
            self.bind(None)
        assert self.endpoint is not None
        if len(dst) == 16:
            return self._sendto6(dst, address.scope_id if address else 0, message)
        hdr, body = Icmpv4Header.parse(message, verify_checksum=False)
        if hdr.type != 8:
            raise ParameterError("ICMP sockets send echo requests only")
        hdr.rest = (self.endpoint.ident << 16) | (hdr.rest & 0xFFFF)
        self.stack.ipv4.output(None, dst, IpProto.ICMP, hdr.build(body))
        return len(message)

    def _sendto6(self, dst: bytes, scope_id: int, message: bytes) -> int:
        """An ICMPv6 echo request (type 128); its checksum is computed here."""
        from netstack.wire.icmpv6 import Icmpv6Header

        assert self.endpoint is not None
        hdr, body = Icmpv6Header.parse(message)
        if hdr.type != 128:
            raise ParameterError("ICMPv6 sockets send echo requests only")
        hdr.rest = (self.endpoint.ident << 16) | (hdr.rest & 0xFFFF)
        ipv6 = self.stack.ipv6
        _netif, _hop, src = ipv6.route(dst, scope_id)
        ipv6.output(src, dst, 58, hdr.build(body, src=src, dst=dst), scope_id=scope_id)
        return len(message)

    def recvfrom(self) -> tuple[bytes, SocketAddress]:
        ep = self.endpoint
        if ep is None or not ep.queue:
            raise WouldBlockError("no ICMP message queued")
        message, src = ep.queue.popleft()
        return message, SocketAddress.from_packed(src, 0)

    def readable(self) -> bool:
        return self.endpoint is not None and bool(self.endpoint.queue)

    def close(self) -> None:
        self.closed = True
        if self.endpoint is not None:
            if self.stack.icmpv6.endpoints.get(self.endpoint.ident) is self.endpoint:
                del self.stack.icmpv6.endpoints[self.endpoint.ident]
            self.endpoint.close()


def _check_open(handle: SocketHandle) -> None:
    if handle.closed:
        raise NoSocketError("socket is closed")


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ParameterError("option value must be a non-negative number")
    return float(value)


def _int_option(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParameterError("option value must be a non-negative integer")
    return value


__all__ = ["CoreStack", "IsConnectedError"]
