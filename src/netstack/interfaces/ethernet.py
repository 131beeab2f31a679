"""EthernetInterface: an EMAC driver bound to the "ip" stack.

``EthernetInterface(emac, world=world)`` creates its own :class:`IpStack`; pass ``stack=`` to
put several interfaces on one stack (a router). Static configuration with
:meth:`set_network`; DHCP is the default, as in Mbed, and arrives with the DHCP client — until
then ``connect()`` with DHCP on raises :class:`~netstack.errors.UnsupportedError`.
"""

from __future__ import annotations

from netstack.address import SocketAddress, netmask_to_prefix, parse_ipv4
from netstack.drivers.emac.api import EMAC
from netstack.errors import (
    BusyError,
    IsConnectedError,
    NetworkTimeoutError,
    NoConnectionError,
    ParameterError,
    UnsupportedError,
)
from netstack.interfaces.base import ConnectionStatus, NetworkInterface
from netstack.runtime.world import World
from netstack.stacks.core.link import NetIf
from netstack.stacks.ip.stack import IpStack
from netstack.wire.ethernet import mac_from_str, mac_to_str


class EthernetInterface(NetworkInterface):
    """An Ethernet connection: one EMAC, one stack interface."""

    #: How long ``connect()`` waits for the link (Mbed waits 60 s).
    link_timeout: float = 60.0

    def __init__(
        self,
        emac: EMAC,
        *,
        stack: IpStack | None = None,
        world: World | None = None,
        name: str | None = None,
    ) -> None:
        if stack is None:
            if world is None:
                raise ParameterError("EthernetInterface needs a stack= or a world=")
            stack = IpStack(world)
        super().__init__(stack)
        self._ip_stack = stack
        self.emac = emac
        self.netif: NetIf = stack.add_ethernet(emac, name)
        self._dhcp = True
        self._static: tuple[bytes, int, bytes | None] | None = None
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
        if self._dhcp or self._static is None:
            raise UnsupportedError(
                "DHCP is not available yet: call set_network(ip, netmask, gateway) first"
            )
        self._set_status(ConnectionStatus.CONNECTING)
        self._apply_static()
        try:
            self._ip_stack.bring_up(self.netif)
        except OSError:
            self._set_status(ConnectionStatus.DISCONNECTED)
            raise
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

    async def disconnect(self) -> None:
        if self._status == ConnectionStatus.DISCONNECTED:
            raise NoConnectionError("not connected")
        self._ip_stack.bring_down(self.netif)
        self._ip_stack.clear_ipv4(self.netif)
        self._set_status(ConnectionStatus.DISCONNECTED)

    def _on_link(self, netif: NetIf, up: bool) -> None:
        if netif is not self.netif or self._status == ConnectionStatus.DISCONNECTED:
            return
        self._set_status(ConnectionStatus.GLOBAL_UP if up else ConnectionStatus.CONNECTING)

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
