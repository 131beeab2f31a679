"""EthernetInterface: an EMAC driver bound to the "ip" stack.

``EthernetInterface(emac, world=world)`` creates its own :class:`IpStack`; pass ``stack=`` to
put several interfaces on one stack (a router). DHCP is the default, as in Mbed:
``connect()`` obtains a lease (with RFC 5227 conflict detection on the offered address),
installs the address, gateway and DNS servers, and keeps renewing it; ``disconnect()``
releases it. :meth:`set_network` configures a static address instead (DHCP off).

IPv6 is off unless :meth:`set_ipv6` turns it on: ``"slaac"`` forms a link-local address,
solicits routers and autoconfigures global addresses from their prefixes (with Duplicate
Address Detection), ``"static"`` adds a configured address besides the link-local one.
The status is ``GLOBAL_UP`` once the interface has a usable IPv4 configuration or a
preferred global IPv6 address, ``LOCAL_UP`` when IPv6 has only its link-local address and
IPv4 is off (``set_dhcp(False)`` without :meth:`set_network`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Callable

from netstack.address import SocketAddress, netmask_to_prefix, parse_ipv4
from netstack.drivers.emac.api import EMAC
from netstack.errors import (
    BusyError,
    DhcpFailureError,
    IsConnectedError,
    NetworkTimeoutError,
    NoConnectionError,
    ParameterError,
    UnsupportedError,
)
from netstack.interfaces.base import ConnectionStatus, NetifInterface
from netstack.runtime.world import World
from netstack.stacks.core.acd import AcdConfig
from netstack.stacks.core.ethernet import EthernetLink
from netstack.stacks.core.ipv6_interface import Ipv6Config, Ipv6Interface
from netstack.stacks.core.link import NetIf
from netstack.stacks.ip.dhcp import DhcpAgent
from netstack.stacks.ip.dhcp_client import (
    DhcpConfig,
    Lease,
    LeaseAcquired,
    LeaseDeclined,
    LeaseLost,
    LeaseReleased,
)
from netstack.stacks.ip.stack import IpStack
from netstack.wire.ethernet import mac_from_str, mac_to_str


class EthernetInterface(NetifInterface):
    """An Ethernet connection: one EMAC, one stack interface."""

    #: How long ``connect()`` waits for the link (Mbed waits 60 s).
    link_timeout: float = 60.0
    #: How long ``connect()`` waits for a DHCP lease (lwIP's dhcp-timeout, 60 s).
    dhcp_timeout: float = 60.0
    #: How long ``disconnect()`` lets the DHCP RELEASE wait for address resolution.
    release_drain_time: float = 1.5
    #: How long an IPv6-only ``connect()`` waits for a global address (else LOCAL_UP).
    ipv6_timeout: float = 10.0

    def __init__(
        self,
        emac: EMAC,
        *,
        stack: IpStack | None = None,
        world: World | None = None,
        name: str | None = None,
        acd: AcdConfig | None = None,
    ) -> None:
        """``acd`` tunes RFC 5227 conflict detection of DHCP addresses (default: the RFC's
        3 probes, about 5 s before a lease is used; ``AcdConfig(probe_num=0, probe_wait=0,
        announce_wait=0)`` skips probing)."""
        if stack is None:
            if world is None:
                raise ParameterError("EthernetInterface needs a stack= or a world=")
            stack = IpStack(world)
        super().__init__(stack)
        self._ip_stack = stack
        self.emac = emac
        self.netif: NetIf = stack.add_ethernet(emac, name, acd=acd)
        self._dhcp = True
        self._static: tuple[bytes, int, bytes | None] | None = None
        self._hostname: str | None = None
        self._agent: DhcpAgent | None = None
        self._last_lease: Lease | None = None
        self._dhcp_listeners: list[Callable[[object], None]] = []
        self.dhcp_config: DhcpConfig | None = None
        self._ipv6: Ipv6Config | None = None
        self._change_waiters: list[asyncio.Future[None]] = []
        self._ipv6_static: tuple[bytes, int] | None = None
        stack.add_link_state_listener(self._on_link)

    # -- configuration -----------------------------------------------------------------------
    def set_network(
        self,
        ip_address: str | SocketAddress,
        netmask: str | SocketAddress | int,
        gateway: str | SocketAddress | None = None,
    ) -> None:
        """Static IPv4 configuration (turns DHCP off). ``netmask`` may be a prefix length."""
        ip = parse_ipv4(_text(ip_address))
        if isinstance(netmask, int):
            prefix = netmask
            if not 0 < prefix <= 32:
                raise ParameterError(f"prefix length out of range: {prefix}")
        else:
            prefix = netmask_to_prefix(_text(netmask))
        gw = parse_ipv4(_text(gateway)) if gateway else None
        self._static = (ip, prefix, gw)
        self._dhcp = False
        if self._status != ConnectionStatus.DISCONNECTED:
            self._apply_static()

    def set_dhcp(self, enabled: bool) -> None:
        if self._status != ConnectionStatus.DISCONNECTED:
            raise BusyError("disconnect before changing DHCP")
        self._dhcp = enabled
        if enabled:
            self._static = None

    @property
    def dhcp(self) -> bool:
        return self._dhcp

    def set_ipv6(
        self, mode: str = "slaac", address: str | None = None, *, stable_privacy: bool = False
    ) -> None:
        """IPv6 on this interface: ``"slaac"`` (router discovery and autoconfiguration),
        ``"static"`` with ``address`` ("2001:db8::2/64"; the link-local address is formed
        too), or ``"off"``. ``stable_privacy`` uses RFC 7217 interface identifiers instead
        of EUI-64. Set it before connecting."""
        if self._status != ConnectionStatus.DISCONNECTED:
            raise BusyError("set IPv6 before connect()")
        if mode == "off":
            self._ipv6 = None
            self._ipv6_static = None
            return
        if mode not in ("slaac", "static"):
            raise ParameterError(f"IPv6 mode {mode!r}: slaac, static or off")
        static = None
        if mode == "static":
            if address is None:
                raise ParameterError("static IPv6 needs an address such as 2001:db8::2/64")
            static = _parse_ipv6_interface(address)
        self._ipv6 = Ipv6Config(slaac=mode == "slaac", stable_privacy=stable_privacy)
        self._ipv6_static = static

    @property
    def ipv6(self) -> Ipv6Interface | None:
        """The interface's IPv6 state (addresses, neighbours, routers) once enabled."""
        return self.netif.ip6

    def set_hostname(self, hostname: str) -> None:
        """The host name sent in DHCP requests (option 12); set it before connecting."""
        if self._status != ConnectionStatus.DISCONNECTED:
            raise BusyError("set the hostname before connect()")
        labels = hostname.split(".")
        if not 0 < len(hostname) <= 63 or not all(
            0 < len(label) <= 63 and label.replace("-", "").isalnum() and label[0] != "-"
            for label in labels
        ):
            raise ParameterError(f"not a valid host name: {hostname!r}")
        self._hostname = hostname

    def get_hostname(self) -> str | None:
        return self._hostname

    @property
    def lease(self) -> Lease | None:
        """The current DHCP lease (None when static or not bound)."""
        return self._agent.lease if self._agent is not None else None

    def add_dhcp_listener(self, callback: Callable[[object], None]) -> None:
        """Called with every DHCP event: LeaseAcquired, LeaseRenewed, LeaseLost, …"""
        self._dhcp_listeners.append(callback)

    def _apply_static(self) -> None:
        assert self._static is not None
        ip, prefix, gw = self._static
        stack = self._ip_stack
        stack.set_ipv4_address(self.netif, ip, prefix)
        if gw is not None:
            stack.set_default_gateway(gw, self.netif)

    # -- lifecycle ---------------------------------------------------------------------------
    async def connect(self) -> None:
        if self._status in (ConnectionStatus.GLOBAL_UP, ConnectionStatus.LOCAL_UP):
            raise IsConnectedError("already connected")
        if self._status == ConnectionStatus.CONNECTING:
            raise BusyError("connect already in progress")
        self._set_status(ConnectionStatus.CONNECTING)
        if not self._dhcp and self._static is not None:
            self._apply_static()
        if self._ipv6 is not None:
            ip6 = self._ip_stack.enable_ipv6(self.netif, self._ipv6)
            ip6.config = self._ipv6
            ip6.clear_static()
            if self._ipv6_static is not None:
                ip6.add_static(*self._ipv6_static)
            if self._update_status not in ip6.listeners:
                ip6.listeners.append(self._update_status)
        try:
            self._ip_stack.bring_up(self.netif)
        except OSError:
            self._set_status(ConnectionStatus.DISCONNECTED)
            raise
        if self._dhcp:
            await self._connect_dhcp()
            return
        self._update_status()
        if self.get_connection_status() == ConnectionStatus.GLOBAL_UP or not self.blocking:
            return
        wanted = {ConnectionStatus.GLOBAL_UP}
        timeout = self.link_timeout
        if self._static is None and self._ipv6 is not None:
            timeout = self.ipv6_timeout  # IPv6 only: a router may never answer
        try:
            await self.wait_for_status(wanted, timeout)
        except NetworkTimeoutError:
            if self.get_connection_status() == ConnectionStatus.LOCAL_UP:
                return  # link-local IPv6 works without a router
            await self.disconnect()
            raise NoConnectionError(f"no link after {timeout} s") from None

    def _update_status(self) -> None:
        """GLOBAL_UP with a usable IPv4 configuration or a preferred global IPv6 address,
        LOCAL_UP with only IPv6 link-local (IPv4 off), CONNECTING otherwise."""
        if self._status == ConnectionStatus.DISCONNECTED:
            return
        if not self.emac.link_up:
            self._set_status(ConnectionStatus.CONNECTING)
            return
        agent = self._agent
        ipv4 = bool(self.netif.ipv4) and (
            not self._dhcp or (agent is not None and agent.lease is not None)
        )
        ip6 = self.netif.ip6
        if ipv4 or (ip6 is not None and ip6.enabled and ip6.global_address() is not None):
            self._set_status(ConnectionStatus.GLOBAL_UP)
        elif (
            ip6 is not None and ip6.enabled and ip6.link_local() is not None
            and not self._dhcp and self._static is None
        ):  # fmt: skip
            self._set_status(ConnectionStatus.LOCAL_UP)
        elif self._status != ConnectionStatus.CONNECTING:
            self._set_status(ConnectionStatus.CONNECTING)

    async def _connect_dhcp(self) -> None:
        config = self.dhcp_config or DhcpConfig()
        if self._hostname is not None and config.hostname is None:
            config = dataclasses.replace(config, hostname=self._hostname)
        agent = DhcpAgent(self._ip_stack, self.netif, config, self._on_dhcp_event)
        self._agent = agent
        agent.start(remembered=self._last_lease)
        if not self.blocking:
            return
        # wait for the lease itself: with IPv6 the status may be GLOBAL_UP before it
        deadline = self.world.now() + self.dhcp_timeout
        while agent.lease is None or self._status != ConnectionStatus.GLOBAL_UP:
            remaining = deadline - self.world.now()
            try:
                if remaining <= 0:
                    raise NetworkTimeoutError("DHCP")
                await self._wait_for_change(remaining)
            except NetworkTimeoutError:
                await self.disconnect()
                raise DhcpFailureError(f"no DHCP lease after {self.dhcp_timeout} s") from None

    async def _wait_for_change(self, timeout: float) -> None:
        """Until the next DHCP event or status change, at most ``timeout`` seconds."""
        future: asyncio.Future[None] = self.world.loop.create_future()
        self._change_waiters.append(future)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise NetworkTimeoutError("no change") from None
        finally:
            if future in self._change_waiters:
                self._change_waiters.remove(future)

    async def _drain(self, limit: float) -> None:
        """Let packets waiting for ARP (the unicast RELEASE) leave before the link goes
        down, for at most ``limit`` seconds of the world's clock."""
        link = self.netif.link
        if not isinstance(link, EthernetLink):
            return
        deadline = self.world.now() + limit
        while link.arp.queued_bytes and self.world.now() < deadline:
            await asyncio.sleep(0.005)

    def _on_dhcp_event(self, event: object) -> None:
        waiters, self._change_waiters = self._change_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        if isinstance(event, LeaseAcquired):
            self._last_lease = event.lease
            if self.emac.link_up:
                self._set_status(ConnectionStatus.GLOBAL_UP)
        elif isinstance(event, (LeaseLost, LeaseDeclined)):
            if self._status != ConnectionStatus.DISCONNECTED:
                self._set_status(ConnectionStatus.CONNECTING)
        elif isinstance(event, LeaseReleased):
            self._last_lease = None
        for listener in list(self._dhcp_listeners):
            listener(event)

    async def disconnect(self, *, release: bool = True) -> None:
        """Bring the interface down. With DHCP the lease is released (RFC 2131 §4.4.6);
        ``release=False`` keeps it, so the next ``connect()`` asks for the same address
        again (INIT-REBOOT) instead of starting a new exchange."""
        if self._status == ConnectionStatus.DISCONNECTED:
            raise NoConnectionError("not connected")
        agent, self._agent = self._agent, None
        if agent is not None:
            if agent.lease is not None and release:
                agent.release()
                await self._drain(self.release_drain_time)
            else:
                if agent.lease is not None:
                    self._last_lease = agent.lease
                agent.stop()
        self._ip_stack.bring_down(self.netif)
        self._ip_stack.clear_ipv4(self.netif)
        if self.netif.ip6 is not None:
            self.netif.ip6.clear_static()
        self._set_status(ConnectionStatus.DISCONNECTED)

    def _on_link(self, netif: NetIf, up: bool) -> None:
        if netif is not self.netif or self._status == ConnectionStatus.DISCONNECTED:
            return
        agent = self._agent
        if up and agent is not None and agent.lease is not None:
            # RFC 2131 §3.2: after the link returns, verify the lease (INIT-REBOOT); the
            # status stays CONNECTING until the server confirms it
            self._set_status(ConnectionStatus.CONNECTING)
            agent.reboot()
            return
        self._update_status()

    # -- addresses -------------------------------------------------------------------------
    def get_gateway(self) -> SocketAddress | None:
        for route in self._ip_stack.ipv4.routes:
            if route.prefix_len == 0 and route.interface is self.netif:
                return SocketAddress.from_packed(route.gateway.to_bytes(4, "big"))
        return None

    def get_mac_address(self) -> str:
        return mac_to_str(self.netif.link.hwaddr)

    @property
    def mac_address(self) -> str:
        return self.get_mac_address()

    def set_mac_address(self, mac: str | bytes) -> None:
        raise UnsupportedError("the MAC address is the driver's: set it when creating the EMAC")


def _parse_ipv6_interface(text: str) -> tuple[bytes, int]:
    """ "2001:db8::2/64" -> (16 bytes, 64)."""
    try:
        network = ipaddress.IPv6Interface(text)
    except ValueError as exc:
        raise ParameterError(f"not an IPv6 address/prefix: {text!r}") from exc
    return network.ip.packed, network.network.prefixlen


def _text(value: str | SocketAddress) -> str:
    return value.ip if isinstance(value, SocketAddress) else value


__all__ = ["EthernetInterface", "mac_from_str"]
