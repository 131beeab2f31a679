"""Ethernet MAC drivers: the EMAC contract, virtual segments and Linux TAP devices."""

from netstack.drivers.emac.api import (
    EMAC,
    Capabilities,
    LinkInputCallback,
    LinkStateCallback,
    RxFlags,
    TxOffload,
)

__all__ = [
    "EMAC",
    "Capabilities",
    "LinkInputCallback",
    "LinkStateCallback",
    "RxFlags",
    "TxOffload",
]
