"""IpStack: the lwIP-class profile of the shared core, for Ethernet and PPP links."""

from __future__ import annotations

from netstack.drivers.emac.api import EMAC
from netstack.drivers.serial.api import SerialPort
from netstack.stacks.core.acd import AcdConfig
from netstack.stacks.core.arp import ArpConfig
from netstack.stacks.core.ethernet import EthernetLink
from netstack.stacks.core.link import NetIf
from netstack.stacks.core.stack import CoreStack
from netstack.stacks.ip.ppp.connection import PppConfig
from netstack.stacks.ip.ppp.link import PppLink


class IpStack(CoreStack):
    """IPv4 (and IPv6) over EMAC drivers and PPP serial links; several interfaces;
    forwarding switchable on."""

    profile = "ip"

    def add_ethernet(
        self,
        emac: EMAC,
        name: str | None = None,
        *,
        arp: ArpConfig | None = None,
        acd: AcdConfig | None = None,
    ) -> NetIf:
        """Attach an EMAC driver through an :class:`EthernetLink` (down until brought up)."""
        link = EthernetLink(emac, self.world, arp=arp, acd=acd)
        return self.add_interface(link, name or f"en{len(self.netifs)}")

    def add_ppp(
        self,
        port: SerialPort,
        name: str | None = None,
        config: PppConfig | None = None,
        *,
        tx_queue_limit: int | None = None,
    ) -> NetIf:
        """Attach a serial port through a :class:`PppLink` (down until brought up)."""
        link = (
            PppLink(port, self.world, config)
            if tx_queue_limit is None
            else PppLink(port, self.world, config, tx_queue_limit=tx_queue_limit)
        )
        return self.add_interface(link, name or f"ppp{len(self.netifs)}")
