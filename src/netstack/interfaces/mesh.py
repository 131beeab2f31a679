"""MeshInterface: an IEEE 802.15.4 radio on the "mesh" stack (Mbed OS ``MeshInterface``).

``MeshInterface(phy, world=world, pan_id=0xABCD, channel=15)`` runs the 802.15.4 MAC on
the radio and IPv6 over 6LoWPAN on top: ``connect()`` forms the link-local address from
the radio's EUI-64 (RFC 4944 §6), checks it with Duplicate Address Detection and returns
``LOCAL_UP``; radio neighbours on the same PAN and channel are then reachable at their
own link-local addresses with the unchanged Socket API (scope id: the interface index).
``security_key`` turns on AES-CCM* frame security (level 5, key index 1) for every frame.

This is the bottom half of Nanostack's mesh: 6LoWPAN-ND bootstrap, RPL routing and the
border router (``GLOBAL_UP``) build on it.
"""

from __future__ import annotations

import dataclasses

from netstack.drivers.rfphy.api import RfPhy
from netstack.errors import BusyError, IsConnectedError, NetworkTimeoutError, NoConnectionError
from netstack.interfaces.base import ConnectionStatus, NetifInterface
from netstack.runtime.world import World
from netstack.stacks.core.ipv6_interface import Ipv6Config
from netstack.stacks.mesh.lowpan import LowpanConfig, LowpanLink
from netstack.stacks.mesh.mac import Ieee802154Mac, MacConfig, MacSecurity
from netstack.stacks.mesh.stack import MeshStack


class MeshInterface(NetifInterface):
    """An 802.15.4 radio as an IPv6 interface; see the module docstring."""

    #: How long ``connect()`` waits for the link-local address (DAD takes about a second).
    connect_timeout: float = 10.0

    def __init__(
        self,
        phy: RfPhy,
        *,
        stack: MeshStack | None = None,
        world: World | None = None,
        name: str | None = None,
        pan_id: int = 0xABCD,
        channel: int = 11,
        short_address: int | None = None,
        security_key: bytes | None = None,
        mac: MacConfig | None = None,
        lowpan: LowpanConfig | None = None,
    ) -> None:
        if stack is None:
            if world is None:
                raise ValueError("MeshInterface needs a stack= or a world=")
            stack = MeshStack(world)
        super().__init__(stack)
        config = mac or MacConfig()
        config = dataclasses.replace(config, pan_id=pan_id, channel=channel,
                                     short_address=short_address)  # fmt: skip
        if security_key is not None:
            config.security = MacSecurity(keys={1: security_key})
        self.phy = phy
        self._mesh_stack = stack
        self.netif = stack.add_lowpan(phy, name, mac=config, lowpan=lowpan)
        link = self.netif.link
        assert isinstance(link, LowpanLink)
        self.link: LowpanLink = link

    @property
    def mac(self) -> Ieee802154Mac:
        """The 802.15.4 MAC (addresses, counters)."""
        return self.link.mac

    def get_mac_address(self) -> str:
        """The radio's EUI-64, as Mbed prints it (eight colon-separated octets)."""
        return ":".join(f"{b:02x}" for b in self.link.hwaddr)

    async def connect(self) -> None:
        if self._status in (ConnectionStatus.GLOBAL_UP, ConnectionStatus.LOCAL_UP):
            raise IsConnectedError("already connected")
        if self._status == ConnectionStatus.CONNECTING:
            raise BusyError("connect already in progress")
        self._set_status(ConnectionStatus.CONNECTING)
        ip6 = self._mesh_stack.enable_ipv6(self.netif, Ipv6Config(slaac=True))
        if self._update_status not in ip6.listeners:
            ip6.listeners.append(self._update_status)
        self._mesh_stack.bring_up(self.netif)
        if not self.blocking:
            return
        try:
            await self.wait_for_status(
                {ConnectionStatus.LOCAL_UP, ConnectionStatus.GLOBAL_UP}, self.connect_timeout
            )
        except NetworkTimeoutError:
            await self.disconnect()
            raise NoConnectionError(
                f"no usable link-local address after {self.connect_timeout} s (duplicate address?)"
            ) from None

    async def disconnect(self) -> None:
        if self._status == ConnectionStatus.DISCONNECTED:
            raise NoConnectionError("not connected")
        self._mesh_stack.bring_down(self.netif)
        self._set_status(ConnectionStatus.DISCONNECTED)

    def _update_status(self) -> None:
        if self._status == ConnectionStatus.DISCONNECTED:
            return
        ip6 = self.netif.ip6
        if ip6 is None or not ip6.enabled:
            self._set_status(ConnectionStatus.CONNECTING)
        elif ip6.global_address() is not None:
            self._set_status(ConnectionStatus.GLOBAL_UP)
        elif ip6.link_local() is not None:
            self._set_status(ConnectionStatus.LOCAL_UP)
        else:
            self._set_status(ConnectionStatus.CONNECTING)
