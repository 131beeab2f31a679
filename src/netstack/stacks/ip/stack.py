"""IpStack: the lwIP-class profile of the shared core, for Ethernet (and later PPP) links."""

from __future__ import annotations

from netstack.drivers.emac.api import EMAC
from netstack.stacks.core.acd import AcdConfig
from netstack.stacks.core.arp import ArpConfig
from netstack.stacks.core.ethernet import EthernetLink
from netstack.stacks.core.link import NetIf
from netstack.stacks.core.stack import CoreStack


class IpStack(CoreStack):
    """IPv4 with ARP over EMAC drivers; several interfaces; forwarding switchable on."""

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
