"""EmacWrapper: an EMAC that forwards the whole contract to the driver it wraps.

Wrappers (capture, impairment, tracing) subclass it and override only what they change,
so they stack freely: ``PcapTap(LinkModel(TapEMAC(...)))``.
"""

from __future__ import annotations

from netstack.drivers.emac.api import (
    EMAC,
    Capabilities,
    LinkInputCallback,
    LinkStateCallback,
    TxOffload,
)
from netstack.wire import Buffer


class EmacWrapper:
    """Forwards every EMAC call and property to ``inner``."""

    def __init__(self, inner: EMAC) -> None:
        self.inner = inner

    @property
    def hwaddr(self) -> bytes:
        return self.inner.hwaddr

    @property
    def mtu(self) -> int:
        return self.inner.mtu

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    @property
    def link_up(self) -> bool:
        return self.inner.link_up

    def power_up(self) -> bool:
        return self.inner.power_up()

    def power_down(self) -> None:
        self.inner.power_down()

    def link_out(self, frame: Buffer, offload: TxOffload | None = None) -> bool:
        return self.inner.link_out(frame, offload)

    def set_link_input_cb(self, cb: LinkInputCallback | None) -> None:
        self.inner.set_link_input_cb(cb)

    def set_link_state_cb(self, cb: LinkStateCallback | None) -> None:
        self.inner.set_link_state_cb(cb)

    def add_multicast_group(self, mac: bytes) -> None:
        self.inner.add_multicast_group(mac)

    def remove_multicast_group(self, mac: bytes) -> None:
        self.inner.remove_multicast_group(mac)

    def set_all_multicast(self, on: bool) -> None:
        self.inner.set_all_multicast(on)
