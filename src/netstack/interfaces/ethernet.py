"""EthernetInterface: an EMAC driver bound to the "ip" stack.

``EthernetInterface(emac, world=world)`` creates its own :class:`IpStack`; pass ``stack=`` to
put several interfaces on one stack (a router). DHCP is the default, as in Mbed:
``connect()`` obtains a lease (with RFC 5227 conflict detection on the offered address),
installs the address, gateway and DNS servers, and keeps renewing it; ``disconnect()``
releases it. :meth:`set_network` configures a static address instead (DHCP off).
"""

from __future__ import annotations

import asyncio
import dataclasses
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
from netstack.interfaces.base import ConnectionStatus, NetworkInterface
from netstack.runtime.world import World
from netstack.stacks.core.acd import AcdConfig
from netstack.stacks.core.ethernet import EthernetLink
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


class EthernetInterface(NetworkInterface):
    """An Ethernet connection: one EMAC, one stack interface."""

    #: How long ``connect()`` waits for the link (Mbed waits 60 s).
    link_timeout: float = 60.0
    #: How long ``connect()`` waits for a DHCP lease (lwIP's dhcp-timeout, 60 s).
    dhcp_timeout: float = 60.0
    #: How long ``disconnect()`` lets the DHCP RELEASE wait for address resolution.
    release_drain_time: float = 1.5

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
        if not self._dhcp:
            self._apply_static()
        try:
            self._ip_stack.bring_up(self.netif)
        except OSError:
            self._set_status(ConnectionStatus.DISCONNECTED)
            raise
        if self._dhcp:
            await self._connect_dhcp()
            return
        if self.emac.link_up:
            self._set_status(ConnectionStatus.GLOBAL_UP)
            return
        if not self.blocking:
            return
        try:
            await self.wait_for_status({ConnectionStatus.GLOBAL_UP}, self.link_timeout)
        except NetworkTimeoutError:
            await self.disconnect()
            raise NoConnectionError(f"no link after {self.link_timeout} s") from None

    async def _connect_dhcp(self) -> None:
        config = self.dhcp_config or DhcpConfig()
        if self._hostname is not None and config.hostname is None:
            config = dataclasses.replace(config, hostname=self._hostname)
        agent = DhcpAgent(self._ip_stack, self.netif, config, self._on_dhcp_event)
        self._agent = agent
        agent.start(remembered=self._last_lease)
        if not self.blocking:
            return
        try:
            await self.wait_for_status({ConnectionStatus.GLOBAL_UP}, self.dhcp_timeout)
        except NetworkTimeoutError:
            await self.disconnect()
            raise DhcpFailureError(f"no DHCP lease after {self.dhcp_timeout} s") from None

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
        configured = not self._dhcp or (agent is not None and agent.lease is not None)
        if up and configured and self.netif.ipv4:
            self._set_status(ConnectionStatus.GLOBAL_UP)
        else:
            self._set_status(ConnectionStatus.CONNECTING)

    # -- addresses -------------------------------------------------------------------------
    def get_ip_address(self) -> SocketAddress | None:
        primary = self.netif.primary_ipv4
        return SocketAddress.from_packed(primary.address) if primary else None

    def get_netmask(self) -> SocketAddress | None:
        primary = self.netif.primary_ipv4
        return SocketAddress.from_packed(primary.netmask) if primary else None

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

    def get_interface_name(self) -> str:
        return self.netif.name


def _text(value: str | SocketAddress) -> str:
    return value.ip if isinstance(value, SocketAddress) else value


__all__ = ["EthernetInterface", "mac_from_str"]
