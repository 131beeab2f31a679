"""Small helpers for simulation tests: a raw port to inject and watch frames."""

from __future__ import annotations

from netstack.drivers.emac.api import RxFlags
from netstack.drivers.emac.virtual import VirtualEMAC, VirtualSegment
from netstack.wire.ethernet import EthernetHeader, EtherType
from netstack.wire.ipv4 import IpProto, Ipv4Header
from netstack.wire.udp import UdpHeader


class RawPort:
    """A NIC with no stack: sends hand-built frames, records what it receives."""

    def __init__(self, segment: VirtualSegment) -> None:
        self.emac: VirtualEMAC = segment.add_port()
        self.frames: list[bytes] = []
        self.emac.set_link_input_cb(self._input)
        self.emac.power_up()

    @property
    def mac(self) -> bytes:
        return self.emac.hwaddr

    def _input(self, frame: memoryview, flags: RxFlags) -> None:
        self.frames.append(bytes(frame))

    def send(self, frame: bytes) -> None:
        assert self.emac.link_out(frame)

    def send_ip(self, dst_mac: bytes, header: Ipv4Header, payload: bytes) -> None:
        packet = header.build(payload)
        self.send(EthernetHeader(dst_mac, self.mac, EtherType.IPV4).build(packet))


def udp_packet(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    return UdpHeader(sport, dport).build(data, src=src, dst=dst)


IP = IpProto
