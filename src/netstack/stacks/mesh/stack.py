"""MeshStack: the Nanostack-class profile of the shared core — IPv6 over 6LoWPAN.

The same IPv6, ICMPv6, UDP and TCP as the "ip" stack (``stacks/core``), with the link
adaptation of IEEE 802.15.4 radios: :class:`~netstack.stacks.mesh.lowpan.LowpanLink` over
an :class:`~netstack.stacks.mesh.mac.Ieee802154Mac`. IPv6 only: nothing here configures
IPv4 and the link refuses it. 6LoWPAN-ND, RPL, Thread and Wi-SUN build on this.
"""

from __future__ import annotations

from netstack.drivers.rfphy.api import RfPhy
from netstack.stacks.core.link import NetIf
from netstack.stacks.core.stack import CoreStack
from netstack.stacks.mesh.lowpan import LowpanConfig, LowpanLink
from netstack.stacks.mesh.mac import Ieee802154Mac, MacConfig


class MeshStack(CoreStack):
    """IPv6 over 802.15.4 radios; several radio interfaces possible."""

    profile = "mesh"

    def add_lowpan(
        self,
        phy: RfPhy,
        name: str | None = None,
        *,
        mac: MacConfig | None = None,
        lowpan: LowpanConfig | None = None,
    ) -> NetIf:
        """Attach a radio through a MAC and a :class:`LowpanLink` (down until brought up)."""
        link = LowpanLink(Ieee802154Mac(phy, self.world, mac), self.world, lowpan)
        return self.add_interface(link, name or f"lowpan{len(self.netifs)}")
