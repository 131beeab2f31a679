"""IEEE 802.15.4 radio drivers: the RfPhy contract, a virtual radio medium, ZEP over UDP,
and a capture wrapper.

- :mod:`~netstack.drivers.rfphy.api`: the contract (:class:`RfPhy`, :class:`TxStatus`,
  :class:`RadioState`, :class:`RadioCapabilities`) and the PHY's timing constants.
- :mod:`~netstack.drivers.rfphy.medium`: :class:`VirtualRadioMedium` and its
  :class:`VirtualRadio` s, in virtual time, under a model of
  :mod:`~netstack.drivers.rfphy.propagation` (:class:`LogDistance`, :class:`UnitDisk`).
- :mod:`~netstack.drivers.rfphy.zep`: :class:`ZepRadio` (the same radio over UDP, ZEP v2)
  and :class:`ZepHub`.
- :mod:`~netstack.drivers.rfphy.capture`: :class:`RadioCapture`, pcap of any RfPhy.

A first example::

    from netstack.drivers.rfphy import UnitDisk, VirtualRadioMedium
    from netstack.runtime import World
    from netstack.wire.ieee802154 import FrameType, Ieee802154Frame

    world = World.simulated(seed=1)
    air = VirtualRadioMedium(world, UnitDisk(50.0), capture="air.pcap")
    a, b = air.add_radio((0, 0)), air.add_radio((30, 0))
    b.set_address_filter(0xABCD, 0x0002, None)
    b.set_receive_cb(lambda psdu, lqi, rssi: print(psdu.hex(), lqi, rssi))
    frame = Ieee802154Frame(FrameType.DATA, seq=1, dst_pan=0xABCD, dst_addr=0x0002,
                            src_addr=0x0001, ack_request=True, payload=b"hello")
    a.tx(frame.build(), done=print)  # TxStatus.SUCCESS once b's ack is in
    world.run_for(0.01)
    air.close()
"""

from netstack.drivers.rfphy.api import (
    ACK_WAIT_DURATION,
    CCA_DURATION,
    MAX_PSDU,
    SYMBOL_TIME,
    TURNAROUND_TIME,
    EnergyCallback,
    RadioCapabilities,
    RadioState,
    RfPhy,
    RxCallback,
    TxDoneCallback,
    TxStatus,
    airtime,
)
from netstack.drivers.rfphy.base import RadioBase, RfPhyWrapper
from netstack.drivers.rfphy.capture import RadioCapture
from netstack.drivers.rfphy.medium import VirtualRadio, VirtualRadioMedium
from netstack.drivers.rfphy.propagation import LinkBudget, LogDistance, PropagationModel, UnitDisk
from netstack.drivers.rfphy.zep import ZepHub, ZepRadio

__all__ = [
    "ACK_WAIT_DURATION",
    "CCA_DURATION",
    "MAX_PSDU",
    "SYMBOL_TIME",
    "TURNAROUND_TIME",
    "EnergyCallback",
    "LinkBudget",
    "LogDistance",
    "PropagationModel",
    "RadioBase",
    "RadioCapabilities",
    "RadioCapture",
    "RadioState",
    "RfPhy",
    "RfPhyWrapper",
    "RxCallback",
    "TxDoneCallback",
    "TxStatus",
    "UnitDisk",
    "VirtualRadio",
    "VirtualRadioMedium",
    "ZepHub",
    "ZepRadio",
    "airtime",
]
