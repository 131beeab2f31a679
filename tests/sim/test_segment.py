"""Virtual Ethernet segments: a learning switch and its NICs, in virtual time."""

from __future__ import annotations

import functools
import io
import struct
from pathlib import Path

import pytest

from netstack.drivers.emac.api import EMAC, RxFlags, TxOffload
from netstack.drivers.emac.virtual import VirtualEMAC, VirtualSegment
from netstack.drivers.wrappers import LinkParams
from netstack.runtime import World
from netstack.wire.checksum import ones_sum
from netstack.wire.pcap import PcapReader

BROADCAST = b"\xff" * 6
EXPERIMENTAL = 0x88B5  # IEEE 802 local experimental ethertype


def eth(dst: bytes, src: bytes, payload: bytes = b"", ethertype: int = EXPERIMENTAL) -> bytes:
    return struct.pack("!6s6sH", dst, src, ethertype) + payload.ljust(46, b"\0")


class Host:
    """A powered-up NIC recording what it receives and its link-state reports."""

    def __init__(self, nic: VirtualEMAC) -> None:
        self.nic = nic
        self.world = nic.segment.world
        self.rx: list[tuple[float, bytes]] = []
        self.states: list[bool] = []
        nic.set_link_input_cb(self._on_input)
        nic.set_link_state_cb(self.states.append)
        nic.power_up()

    def _on_input(self, frame: memoryview, flags: RxFlags) -> None:
        assert isinstance(frame, memoryview) and flags == RxFlags.NONE
        self.rx.append((self.world.now(), bytes(frame)))

    @property
    def mac(self) -> bytes:
        return self.nic.hwaddr

    def send(self, dst: bytes, payload: bytes = b"", *, src: bytes | None = None) -> bool:
        return self.nic.link_out(eth(dst, src or self.mac, payload))

    @property
    def frames(self) -> list[bytes]:
        return [f for _, f in self.rx]


def lan(n: int, seed: int = 0, **kwargs: object) -> tuple[World, VirtualSegment, list[Host]]:
    world = World.simulated(seed)
    seg = VirtualSegment(world, **kwargs)  # type: ignore[arg-type]
    return world, seg, [Host(seg.add_port()) for _ in range(n)]


def test_virtual_emac_implements_the_emac_protocol() -> None:
    _, seg, _ = lan(0)
    assert isinstance(seg.add_port(), EMAC)


def test_addresses_are_assigned_in_order_and_unique_within_a_world() -> None:
    world = World.simulated(0)
    a, b = VirtualSegment(world, "a"), VirtualSegment(world, "b")
    explicit = bytes.fromhex("020000000002")
    macs = [a.add_port().hwaddr, a.add_port(explicit).hwaddr, b.add_port().hwaddr]
    assert macs == [bytes.fromhex(m) for m in ("020000000001", "020000000002", "020000000003")]
    # Another world starts again from the beginning: addresses depend on nothing global.
    other = VirtualSegment(World.simulated(0))
    assert other.add_port().hwaddr == bytes.fromhex("020000000001")


def test_power_up_reports_link_up_from_the_loop() -> None:
    world, _, [h] = lan(1)
    assert h.states == [] and h.nic.link_up
    world.run_for(0.0)
    assert h.states == [True]


def test_delivery_never_reenters_the_sender() -> None:
    world, _, [a, b] = lan(2)
    assert a.send(BROADCAST)
    assert b.rx == []
    world.run_for(0.0)
    assert b.frames == [eth(BROADCAST, a.mac)]


def test_broadcast_floods_to_every_port_but_the_sender() -> None:
    world, seg, hosts = lan(4)
    hosts[0].send(BROADCAST, b"hello")
    world.run_for(1.0)
    assert hosts[0].rx == []
    assert all(h.frames == [eth(BROADCAST, hosts[0].mac, b"hello")] for h in hosts[1:])
    assert seg.stats["flooded"] == 1


def test_unknown_unicast_floods_then_learned_unicast_goes_to_one_port_only() -> None:
    world, seg, [a, b, c] = lan(3)
    a.send(b.mac, b"1")  # b is unknown: flooded; c's NIC filters it
    world.run_for(1.0)
    assert b.frames == [eth(b.mac, a.mac, b"1")]
    assert seg.stats["flooded"] == 1 and c.nic.stats["rx_filtered"] == 1

    b.send(a.mac, b"2")  # a was learned from the first frame
    a.send(b.mac, b"3")  # and now b is learned too
    world.run_for(1.0)
    assert a.frames == [eth(a.mac, b.mac, b"2")]
    assert b.frames[-1] == eth(b.mac, a.mac, b"3")
    assert seg.stats["forwarded"] == 2 and seg.stats["flooded"] == 1
    assert c.nic.stats["rx_filtered"] == 1  # c saw nothing more
    assert seg.mac_table == {"02:00:00:00:00:01": "seg0.p0", "02:00:00:00:00:02": "seg0.p1"}


def test_a_station_that_moves_is_relearned_on_its_new_port() -> None:
    world, seg, [a, b, c] = lan(3)
    a.send(BROADCAST)
    world.run_for(1.0)
    c.send(BROADCAST, src=a.mac)  # a's address now appears behind c's port
    world.run_for(1.0)
    b.send(a.mac, b"where?")
    world.run_for(1.0)
    assert seg.stats["moved"] == 1
    assert c.nic.stats["rx_filtered"] == 1  # delivered to c's port (and filtered by its NIC)
    assert a.frames == [eth(BROADCAST, a.mac)]  # only c's spoofed broadcast, not "where?"


def test_entries_age_out_after_300_seconds() -> None:
    world, seg, [a, b, c] = lan(3)
    a.send(BROADCAST)
    world.run_for(299.0)
    b.send(a.mac)
    world.run_for(0.0)
    assert seg.stats["forwarded"] == 1 and c.nic.stats["rx_filtered"] == 0
    world.run_for(2.0)  # a was last seen at t=0: its entry is now 301 s old
    b.send(a.mac)
    world.run_for(0.0)
    assert seg.stats["aged"] == 1
    assert seg.stats["flooded"] == 2 and c.nic.stats["rx_filtered"] == 1
    assert len(a.frames) == 2


def test_the_mac_table_is_bounded_and_unlearned_stations_are_flooded() -> None:
    world, seg, [a, b, c] = lan(3, mac_table_size=4)
    spoofed = [bytes([2, 0xAA, 0, 0, 0, i]) for i in range(6)]
    for mac in spoofed:
        a.send(BROADCAST, src=mac)
    world.run_for(1.0)
    assert len(seg.mac_table) == 4
    assert seg.stats["learned"] == 4 and seg.stats["table_full"] == 2
    b.send(spoofed[0])  # learned: forwarded to a only
    b.send(spoofed[5])  # not learned: flooded, c filters it
    world.run_for(1.0)
    assert seg.stats["forwarded"] == 1
    assert c.nic.stats["rx_filtered"] == 1
    # Once the old entries have aged, room is made for new addresses.
    world.run_for(301.0)
    b.send(BROADCAST)
    world.run_for(0.0)
    assert seg.stats["table_full"] == 4  # b's own address did not fit either
    assert seg.mac_table == {"02:00:00:00:00:02": "seg0.p1"}


def test_group_addresses_are_never_learned_as_sources() -> None:
    world, seg, [a, _] = lan(2)
    a.send(BROADCAST, src=bytes.fromhex("010203040506"))
    world.run_for(1.0)
    assert seg.mac_table == {}


def test_multicast_filter() -> None:
    world, _, [a, b] = lan(2)
    joined, other = bytes.fromhex("01005e000001"), bytes.fromhex("333300000001")
    for dst in (joined, other, BROADCAST):  # all-multicast by default
        a.send(dst)
    world.run_for(1.0)
    assert len(b.rx) == 3
    b.nic.set_all_multicast(False)
    b.nic.add_multicast_group(joined)
    for dst in (joined, other, BROADCAST):
        a.send(dst)
    world.run_for(1.0)
    assert [f[:6] for f in b.frames[3:]] == [joined, BROADCAST]
    b.nic.remove_multicast_group(joined)
    a.send(joined)
    world.run_for(1.0)
    assert len(b.rx) == 5 and b.nic.stats["rx_filtered"] == 2


def test_link_down_drops_frames_both_ways_and_is_reported() -> None:
    world, _, [a, b] = lan(2)
    world.run_for(0.0)
    b.nic.set_link(False)
    assert b.states == [True, False] and not b.nic.link_up
    assert b.send(BROADCAST) is False
    assert b.nic.stats["tx_dropped"] == 1
    a.send(BROADCAST)
    world.run_for(1.0)
    assert b.rx == [] and b.nic.stats["rx_dropped"] == 1
    b.nic.set_link(True)
    a.send(BROADCAST)
    world.run_for(1.0)
    assert b.states == [True, False, True] and len(b.rx) == 1


def test_pulling_the_cable_loses_frames_on_it() -> None:
    world = World.simulated(0)
    seg = VirtualSegment(world, params=LinkParams(latency=0.01))
    a, b = Host(seg.add_port()), Host(seg.add_port())
    a.send(BROADCAST)
    a.nic.set_link(False)
    world.run_for(1.0)
    assert b.rx == []


def test_powered_down_nic_neither_sends_nor_receives() -> None:
    world, _, [a, b] = lan(2)
    b.nic.power_down()
    assert b.send(BROADCAST) is False
    a.send(BROADCAST)
    world.run_for(1.0)
    assert b.rx == []


def test_oversize_frames_are_dropped_and_counted() -> None:
    world = World.simulated(0)
    seg = VirtualSegment(world)
    a, small = Host(seg.add_port()), Host(seg.add_port(mtu=1000))
    assert a.nic.link_out(eth(BROADCAST, a.mac, bytes(1501))) is False
    assert a.nic.stats["tx_oversize"] == 1
    assert a.nic.link_out(eth(BROADCAST, a.mac, bytes(1500))) is True
    # With an 802.1Q tag a frame may carry 4 more bytes.
    tagged = struct.pack("!6s6sHHH", BROADCAST, a.mac, 0x8100, 7, EXPERIMENTAL) + bytes(1500)
    assert a.nic.link_out(tagged) is True
    assert a.nic.link_out(tagged + b"\0") is False
    a.nic.link_out(eth(BROADCAST, a.mac, bytes(1000)))
    world.run_for(1.0)
    assert small.nic.stats["rx_oversize"] == 2  # the 1500-byte ones
    assert [len(f) for f in small.frames] == [1014]
    assert a.nic.link_out(b"\x00" * 13) is False  # a runt is not a frame


def test_an_offload_request_is_completed_rather_than_sent_partial() -> None:
    world, _, [a, b] = lan(2)
    payload = bytes(range(40))
    frame = eth(BROADCAST, a.mac, payload)
    assert a.nic.link_out(frame, TxOffload(csum_start=14, csum_offset=4))
    world.run_for(1.0)
    seed = 0x0405  # what the checksum field held (in place of a pseudo-header sum)
    assert b.frames[0][18:20] != frame[18:20]
    assert ones_sum(b.frames[0][14:], seed) == 0xFFFF


def test_port_latency_and_bandwidth_give_exact_arrival_times() -> None:
    world = World.simulated(0)
    seg = VirtualSegment(world, params=LinkParams(latency=0.001))
    slow = Host(seg.add_port(params=LinkParams(bandwidth=1_000_000, latency=0.002)))
    fast, sink = Host(seg.add_port()), Host(seg.add_port())
    slow.nic.link_out(eth(sink.mac, slow.mac, bytes(1486)))  # 1500 bytes: 12 ms at 1 Mbit/s
    fast.send(sink.mac)
    world.run_for(1.0)
    assert [t for t, _ in sink.rx] == [0.001, 0.014]


def test_loss_on_a_port_is_close_to_the_configured_rate() -> None:
    world = World.simulated(7)
    seg = VirtualSegment(world)
    a, b = Host(seg.add_port(params=LinkParams(loss=0.25))), Host(seg.add_port())
    for _ in range(10_000):
        a.send(BROADCAST)
    world.run_for(1.0)
    received = len(b.rx)
    assert abs(received - 7500) <= 5 * (10_000 * 0.25 * 0.75) ** 0.5
    assert a.nic.impairment.stats["lost"] == 10_000 - received


def test_three_switch_topology_forwards_and_learns_across_trunks() -> None:
    world = World.simulated(0)
    s1, s2, s3 = (VirtualSegment(world, f"s{i}") for i in (1, 2, 3))
    s1.connect(s2, params=LinkParams(latency=0.010))
    s2.connect(s3, params=LinkParams(latency=0.020))
    a, b = Host(s1.add_port()), Host(s1.add_port())
    m = Host(s2.add_port())
    z = Host(s3.add_port())
    a.send(BROADCAST, b"who?")
    world.run_for(1.0)
    assert [t for t, _ in b.rx] == [0.0]
    assert [t for t, _ in m.rx] == [0.010]
    assert [t for t, _ in z.rx] == [0.030]
    world.call_at(2.0, lambda: z.send(a.mac, b"me"))
    world.run_for(2.0)
    assert a.rx == [(2.030, eth(a.mac, z.mac, b"me"))]
    assert b.nic.stats["rx_filtered"] == 0 and m.nic.stats["rx_filtered"] == 0  # not flooded
    assert s3.stats["forwarded"] == s2.stats["forwarded"] == s1.stats["forwarded"] == 1
    assert s1.mac_table[":".join(f"{x:02x}" for x in z.mac)] == "s1->s2"


def test_connecting_segments_of_different_worlds_or_to_itself_is_refused() -> None:
    a = VirtualSegment(World.simulated(0))
    with pytest.raises(ValueError):
        a.connect(a)
    with pytest.raises(ValueError):
        a.connect(VirtualSegment(World.simulated(0)))


def test_capture_writes_each_frame_entering_the_switch_once(tmp_path: Path) -> None:
    path = tmp_path / "seg.pcap"
    world, seg, [a, b, _] = lan(3, capture=path)
    a.send(BROADCAST, b"1")
    world.call_at(0.5, lambda: b.send(a.mac, b"2"))
    world.run_for(1.0)
    seg.close()
    records = list(PcapReader(path))
    assert records == [(0.0, eth(BROADCAST, a.mac, b"1")), (0.5, eth(a.mac, b.mac, b"2"))]


def test_capture_can_be_started_later() -> None:
    world, seg, [a, b] = lan(2)
    a.send(BROADCAST)
    world.run_for(1.0)
    buf = io.BytesIO()
    seg.capture(buf)
    b.send(BROADCAST)
    world.run_for(1.0)
    assert [f for _, f in PcapReader(buf.getvalue())] == [eth(BROADCAST, b.mac)]


def _impaired_run(seed: int) -> tuple[list[tuple[str, float, bytes]], bytes]:
    world = World.simulated(seed)
    params = LinkParams(
        latency=0.002,
        jitter=0.003,
        loss=0.1,
        duplicate=0.05,
        reorder=0.1,
        corrupt=0.02,
        bandwidth=10e6,
    )
    buf = io.BytesIO()
    s1 = VirtualSegment(world, "s1", params=params, capture=buf)
    s2 = VirtualSegment(world, "s2", params=params)
    s1.connect(s2, params=LinkParams(latency=0.001, loss=0.05))
    hosts = [Host(s1.add_port()) for _ in range(3)] + [Host(s2.add_port()) for _ in range(3)]
    for i in range(300):
        src = hosts[i % 6]
        dst = BROADCAST if i % 7 == 0 else hosts[(i * 5 + 1) % 6].mac
        world.call_at(i * 0.0007, functools.partial(src.send, dst, i.to_bytes(2, "big")))
    world.run_for(5.0)
    deliveries = [(h.nic.name, t, f) for h in hosts for t, f in h.rx]
    return deliveries, buf.getvalue()


def test_same_seed_gives_identical_deliveries_and_identical_capture_bytes() -> None:
    first, second = _impaired_run(1234), _impaired_run(1234)
    assert first == second
    assert len(first[0]) > 300
    other = _impaired_run(4321)
    assert other[0] != first[0] and other[1] != first[1]
