"""Small helpers for simulation tests: a raw port to inject and watch frames."""

from __future__ import annotations

import asyncio
from typing import Any

from netstack.drivers.emac.api import RxFlags
from netstack.drivers.emac.virtual import VirtualEMAC, VirtualSegment
from netstack.runtime import Runtime
from netstack.socket import TCPSocket
from netstack.wire import DecodeError
from netstack.wire.ethernet import EthernetHeader, EtherType
from netstack.wire.icmpv6 import Icmpv6Header
from netstack.wire.ipv4 import IpProto, Ipv4Header
from netstack.wire.ipv6 import Ipv6Header
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

    def send_ip6(self, dst_mac: bytes, packet: bytes) -> None:
        """An IPv6 packet (header included, as built: possibly malformed) in a frame."""
        self.send(EthernetHeader(dst_mac, self.mac, EtherType.IPV6).build(packet))

    def icmp6(self) -> list[tuple[Ipv6Header, Icmpv6Header, bytes]]:
        """The ICMPv6 messages received so far: (IPv6 header, ICMPv6 header, body)."""
        out = []
        for frame in self.frames:
            if frame[12:14] != b"\x86\xdd":
                continue
            try:
                ip, payload = Ipv6Header.parse(frame[14:])
                if ip.next_header != IpProto.ICMPV6:
                    continue
                hdr, body = Icmpv6Header.parse(payload, src=ip.src, dst=ip.dst)
            except DecodeError:
                continue
            out.append((ip, hdr, bytes(body)))
        return out


def udp_packet(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    return UdpHeader(sport, dport).build(data, src=src, dst=dst)


IP = IpProto


async def echo_round_trip(sock: TCPSocket, data: bytes) -> bytes:
    """Send ``data`` on ``sock`` while reading back as many bytes (an echo server's)."""

    async def reader() -> bytes:
        chunks, got = [], 0
        while got < len(data):
            chunk = await sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    task = asyncio.ensure_future(reader())
    await sock.send(data)
    return await task


def runtime_pair(seed: int, ipv6_prefix: str, wait: float) -> tuple[Runtime, Any, Any]:
    """Two connected netstack nodes, 10.0.0.1 / ``ipv6_prefix``1 and 10.0.0.2 /
    ``ipv6_prefix``2, on one virtual switch in a real-time world run by a Runtime's thread
    (for the blocking facade's tests). Close the runtime when done."""
    from netstack.interfaces import EthernetInterface

    runtime = Runtime(seed=seed)

    def build() -> tuple[EthernetInterface, EthernetInterface]:
        lan = VirtualSegment(runtime.world, "lan")
        a = EthernetInterface(lan.add_port(), world=runtime.world)
        b = EthernetInterface(lan.add_port(), world=runtime.world)
        for iface, n in ((a, 1), (b, 2)):
            iface.set_network(f"10.0.0.{n}", "255.255.255.0")
            iface.set_ipv6("static", f"{ipv6_prefix}{n}/64")
        return a, b

    a, b = runtime.call(build)
    runtime.run(a.connect(), timeout=wait)
    runtime.run(b.connect(), timeout=wait)
    return runtime, a, b
