"""RadioCapture: an RfPhy wrapper that writes every PSDU the MAC sends or receives to pcap.

The capture uses LINKTYPE_IEEE802_15_4_WITHFCS (195): each record is the PSDU with its
FCS, as the radio carries it, so Wireshark checks the FCS (``wpan.fcs_ok``). Timestamps
come from the world's clock, so a simulation's capture is byte-identical from run to run.

What the wrapper sees is what crosses the contract: a transmission is written when the
radio accepts it (``tx`` returned True), before its CCA — also if the CCA then fails or no
ack comes — and a reception when the radio hands it up. Acks the radio sends and consumes
by itself (auto-ack) never cross the contract and are not written; in promiscuous mode the
received acks are. To see exactly what went over the air, capture the medium instead
(``VirtualRadioMedium(capture=...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netstack.drivers.capture_file import PcapOutput
from netstack.drivers.rfphy.api import RfPhy, RxCallback, TxDoneCallback
from netstack.drivers.rfphy.base import RfPhyWrapper
from netstack.wire import Buffer
from netstack.wire.pcap import LinkType, PcapTarget, PcapWriter

if TYPE_CHECKING:
    from netstack.runtime import World


class RadioCapture(PcapOutput, RfPhyWrapper):
    """Wraps an RfPhy and captures its traffic (IEEE 802.15.4 with FCS).

    ``target`` is a path, a binary file object, or an existing :class:`PcapWriter` of link
    type 195 (to share one capture between several radios). :meth:`close` closes a writer
    this wrapper created.
    """

    def __init__(self, inner: RfPhy, target: PcapTarget | PcapWriter, world: World) -> None:
        super().__init__(inner)
        self._world = world
        self._open_capture(target, LinkType.IEEE802_15_4_WITHFCS)
        self._rx_cb: RxCallback | None = None
        inner.set_receive_cb(self._on_receive)

    def tx(self, psdu: Buffer, *, csma: bool = True, done: TxDoneCallback | None = None) -> bool:
        accepted = self.inner.tx(psdu, csma=csma, done=done)
        if accepted and not self.writer.closed:
            self.writer.write(self._world.now(), psdu)
        return accepted

    def set_receive_cb(self, cb: RxCallback | None) -> None:
        self._rx_cb = cb

    def _on_receive(self, psdu: bytes, lqi: int, rssi: int) -> None:
        if not self.writer.closed:
            self.writer.write(self._world.now(), psdu)
        cb = self._rx_cb
        if cb is not None:
            cb(psdu, lqi, rssi)


__all__ = ["RadioCapture"]
