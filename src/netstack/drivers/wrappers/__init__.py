"""Wrappers around any EMAC: capture (:class:`PcapTap`) and impairment (:class:`LinkModel`).

Each implements the EMAC contract of the driver it wraps, so they stack freely::

    PcapTap(LinkModel(TapEMAC("tap0", world), world, LinkParams(loss=0.01)), "cap.pcap", world)

:class:`Impairment` is the reusable engine behind :class:`LinkModel`; virtual segments use
it on their ports and trunks.
"""

from netstack.drivers.wrappers.capture import PcapTap, complete_checksum
from netstack.drivers.wrappers.impair import Impairment, LinkModel, LinkParams

__all__ = ["Impairment", "LinkModel", "LinkParams", "PcapTap", "complete_checksum"]
