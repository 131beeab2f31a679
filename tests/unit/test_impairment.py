"""The impairment engine and the EMAC wrappers (LinkModel, PcapTap), in virtual time."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from netstack.drivers.emac.api import (
    EMAC,
    Capabilities,
    GsoType,
    LinkInputCallback,
    LinkStateCallback,
    RxFlags,
    TxOffload,
)
from netstack.drivers.wrappers import Impairment, LinkModel, LinkParams, PcapTap
from netstack.runtime import World
from netstack.wire.checksum import internet_checksum, ones_sum, pseudo_header_sum
from netstack.wire.pcap import LinkType, PcapReader

MAC_A = bytes.fromhex("020000000a01")
MAC_B = bytes.fromhex("020000000b01")


def eth(dst: bytes, src: bytes, payload: bytes, ethertype: int = 0x88B5) -> bytes:
    """An Ethernet II frame (0x88B5: IEEE 802 local experimental ethertype)."""
    return struct.pack("!6s6sH", dst, src, ethertype) + payload


def numbered(i: int, size: int = 60) -> bytes:
    return eth(MAC_B, MAC_A, struct.pack("!I", i).ljust(size - 14, b"\0"))


def seq_of(frame: bytes) -> int:
    return int(struct.unpack_from("!I", frame, 14)[0])


class Recorder:
    """Collects (virtual time, frame) of every delivery."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.got: list[tuple[float, bytes]] = []

    def __call__(self, frame: bytes) -> None:
        self.got.append((self.world.now(), frame))

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.got]

    @property
    def frames(self) -> list[bytes]:
        return [f for _, f in self.got]


def engine(params: LinkParams, seed: int = 1) -> tuple[World, Impairment, Recorder]:
    world = World.simulated(seed)
    rec = Recorder(world)
    return world, Impairment(world, params, rec), rec


def send_at(world: World, when: float, imp: Impairment, frame: bytes) -> None:
    world.call_at(when, lambda: imp.submit(frame))


# --- parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency": -0.001},
        {"jitter": -1.0},
        {"bandwidth": 0.0},
        {"bandwidth": -5.0},
        {"loss": 1.5},
        {"duplicate": -0.1},
        {"reorder": 2.0},
        {"corrupt": 1.01},
        {"queue_limit": 0},
        {"reorder_delay": -1.0},
        {"loss": math.nan},
    ],
)
def test_link_params_reject_out_of_range_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LinkParams(**kwargs)  # type: ignore[arg-type]


def test_default_reorder_delay_is_latency_plus_one_millisecond() -> None:
    assert LinkParams(latency=0.01).effective_reorder_delay == pytest.approx(0.011)
    assert LinkParams(reorder_delay=0.5).effective_reorder_delay == 0.5
    assert LinkParams().ideal and not LinkParams(loss=0.1).ideal


# --- timing ----------------------------------------------------------------------------


def test_ideal_link_never_delivers_synchronously_but_on_the_next_loop_turn() -> None:
    world, imp, rec = engine(LinkParams())
    assert imp.submit(numbered(1)) is True
    assert imp.submit(numbered(2)) is True
    assert rec.got == []
    world.run_for(0.0)
    assert rec.frames == [numbered(1), numbered(2)]
    assert rec.times == [0.0, 0.0]


def test_latency_is_exact() -> None:
    world, imp, rec = engine(LinkParams(latency=0.005))
    send_at(world, 0.0, imp, numbered(1))
    send_at(world, 1.0, imp, numbered(2))
    world.run_for(2.0)
    assert rec.times == [0.005, 1.005]


def test_bandwidth_serialisation_delay_is_exact() -> None:
    # 1500 bytes at 1 Mbit/s take 12 ms on the wire.
    world, imp, rec = engine(LinkParams(bandwidth=1_000_000))
    imp.submit(numbered(1, 1500))
    world.run_for(1.0)
    assert rec.times == [0.012]


def test_frames_queue_behind_each_other_at_the_link_rate() -> None:
    world, imp, rec = engine(LinkParams(bandwidth=1_000_000, latency=0.002))
    for i in range(3):
        imp.submit(numbered(i, 1500))
    send_at(world, 0.100, imp, numbered(3, 125))  # an idle link again: 1 ms for 125 bytes
    world.run_for(1.0)
    assert rec.times == pytest.approx([0.014, 0.026, 0.038, 0.103], abs=1e-12)
    assert [seq_of(f) for f in rec.frames] == [0, 1, 2, 3]


def test_queue_limit_drops_and_counts() -> None:
    world, imp, rec = engine(LinkParams(bandwidth=8_000, queue_limit=3))  # 60 bytes: 60 ms
    results = [imp.submit(numbered(i)) for i in range(5)]
    assert results == [True, True, True, False, False]
    assert imp.stats["queue_drops"] == 2
    # Once the first frame has left, there is room again.
    send_at(world, 0.061, imp, numbered(5))
    world.run_for(1.0)
    assert [seq_of(f) for f in rec.frames] == [0, 1, 2, 5]
    assert rec.times == pytest.approx([0.06, 0.12, 0.18, 0.24], abs=1e-12)


def test_jitter_delays_within_bounds_and_never_reorders() -> None:
    world, imp, rec = engine(LinkParams(latency=0.010, jitter=0.050))
    for i in range(200):
        send_at(world, i * 0.001, imp, numbered(i))
    world.run_for(2.0)
    assert [seq_of(f) for f in rec.frames] == list(range(200))
    delays = [t - seq_of(f) * 0.001 for t, f in rec.got]
    assert all(d >= 0.010 - 1e-12 for d in delays)
    assert max(delays) <= 0.060 + 0.001 * 200
    assert len(set(delays)) > 100  # really jittered


# --- loss, duplication, corruption, reordering ----------------------------------------------


def within(observed: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """Observed count within ``sigmas`` standard deviations of a binomial(n, p) mean."""
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_loss_rate_matches_the_configured_probability() -> None:
    n = 10_000
    world, imp, rec = engine(LinkParams(loss=0.1))
    for i in range(n):
        imp.submit(numbered(i))
    world.run_for(1.0)
    lost = imp.stats["lost"]
    assert within(lost, n, 0.1), lost
    assert len(rec.got) == n - lost == imp.stats["delivered"]
    assert imp.stats["submitted"] == n


def test_duplication_delivers_adjacent_copies() -> None:
    n = 10_000
    world, imp, rec = engine(LinkParams(duplicate=0.2))
    for i in range(n):
        imp.submit(numbered(i))
    world.run_for(1.0)
    dup = imp.stats["duplicated"]
    assert within(dup, n, 0.2), dup
    seqs = [seq_of(f) for f in rec.frames]
    assert len(seqs) == n + dup
    assert sorted(set(seqs)) == list(range(n))
    assert seqs == sorted(seqs)  # copies follow their original


def test_corruption_flips_exactly_one_bit() -> None:
    world, imp, rec = engine(LinkParams(corrupt=1.0))
    original = numbered(7, 200)
    for _ in range(50):
        imp.submit(original)
    world.run_for(1.0)
    assert imp.stats["corrupted"] == 50
    for frame in rec.frames:
        diff = int.from_bytes(frame, "big") ^ int.from_bytes(original, "big")
        assert len(frame) == len(original)
        assert diff.bit_count() == 1
    assert len(set(rec.frames)) > 10


def test_reordered_frames_are_overtaken_by_later_ones() -> None:
    n = 1000
    world, imp, rec = engine(LinkParams(latency=0.005, reorder=0.1))
    for i in range(n):
        send_at(world, i * 0.0001, imp, numbered(i))
    world.run_for(2.0)
    seqs = [seq_of(f) for f in rec.frames]
    assert sorted(seqs) == list(range(n))  # nothing lost
    assert within(imp.stats["reordered"], n, 0.1)
    overtaken = [i for i, s in enumerate(seqs) if any(later < s for later in seqs[i + 1 : i + 2])]
    assert len(overtaken) > 0
    # A held-back frame arrives reorder_delay (latency + 1 ms) after its normal time.
    sent = {seq_of(f): t for t, f in rec.got}
    extra = sorted(round(t - s * 0.0001, 9) for s, t in sent.items())
    assert extra[0] == pytest.approx(0.005) and extra[-1] == pytest.approx(0.011)


def test_cancel_drops_frames_in_flight() -> None:
    world, imp, rec = engine(LinkParams(latency=0.1, reorder=0.5))
    for i in range(20):
        imp.submit(numbered(i))
    assert imp.pending == 20
    assert imp.cancel() == 20
    world.run_for(1.0)
    assert rec.got == []


def test_a_callback_that_raises_does_not_stall_the_link() -> None:
    world = World.simulated(0)
    got: list[int] = []

    def deliver(frame: bytes) -> None:
        got.append(seq_of(frame))
        if seq_of(frame) == 1:
            raise RuntimeError("boom")

    errors: list[object] = []
    world.loop.set_exception_handler(lambda loop, ctx: errors.append(ctx.get("exception")))
    imp = Impairment(world, LinkParams(latency=0.01), deliver)
    for i in range(3):
        imp.submit(numbered(i))
    world.run_for(1.0)
    assert got == [0, 1, 2]
    assert len(errors) == 1


def test_same_seed_same_outcome_and_other_seed_differs() -> None:
    params = LinkParams(
        latency=0.003,
        jitter=0.002,
        bandwidth=10e6,
        loss=0.05,
        duplicate=0.05,
        reorder=0.05,
        corrupt=0.02,
    )

    def run(seed: int) -> tuple[list[tuple[float, bytes]], dict[str, int]]:
        world, imp, rec = engine(params, seed)
        for i in range(2000):
            send_at(world, i * 0.0005, imp, numbered(i, 100 + i % 500))
        world.run_for(5.0)
        return rec.got, dict(imp.stats)

    assert run(42) == run(42)
    assert run(42)[0] != run(43)[0]


def test_a_zero_probability_draws_no_random_numbers() -> None:
    world, imp, _ = engine(LinkParams(latency=0.01, bandwidth=1e6))
    state = world.rng.getstate()
    for i in range(10):
        imp.submit(numbered(i))
    assert world.rng.getstate() == state


# --- wrappers ------------------------------------------------------------------------------


class FakeEMAC:
    """A minimal EMAC recording what it is asked to send."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sent: list[tuple[float, bytes, TxOffload | None]] = []
        self.input_cb: LinkInputCallback | None = None
        self.state_cb: LinkStateCallback | None = None
        self.powered = False
        self.groups: set[bytes] = set()
        self.all_multicast = True

    hwaddr = MAC_A
    mtu = 1500
    capabilities = Capabilities(tx_checksum=True, rx_checksum=True)

    @property
    def link_up(self) -> bool:
        return self.powered

    def power_up(self) -> bool:
        self.powered = True
        return True

    def power_down(self) -> None:
        self.powered = False

    def link_out(
        self, frame: bytes | bytearray | memoryview, offload: TxOffload | None = None
    ) -> bool:
        self.sent.append((self.world.now(), bytes(frame), offload))
        return True

    def set_link_input_cb(self, cb: LinkInputCallback | None) -> None:
        self.input_cb = cb

    def set_link_state_cb(self, cb: LinkStateCallback | None) -> None:
        self.state_cb = cb

    def add_multicast_group(self, mac: bytes) -> None:
        self.groups.add(mac)

    def remove_multicast_group(self, mac: bytes) -> None:
        self.groups.discard(mac)

    def set_all_multicast(self, on: bool) -> None:
        self.all_multicast = on

    def receive(self, frame: bytes, flags: RxFlags = RxFlags.NONE) -> None:
        assert self.input_cb is not None
        self.input_cb(memoryview(frame), flags)


def test_wrappers_implement_the_emac_protocol() -> None:
    world = World.simulated(0)
    inner = FakeEMAC(world)
    assert isinstance(inner, EMAC)
    assert isinstance(LinkModel(inner, world, LinkParams()), EMAC)
    assert isinstance(PcapTap(inner, io.BytesIO(), world), EMAC)


def test_link_model_delays_output_and_keeps_offload_metadata() -> None:
    world = World.simulated(0)
    inner = FakeEMAC(world)
    model = LinkModel(inner, world, LinkParams(latency=0.02))
    model.power_up()
    offload = TxOffload(csum_start=34, csum_offset=6, gso_type=GsoType.TCPV4, gso_size=1448)
    assert model.link_out(numbered(1)) is True
    assert model.link_out(numbered(2), offload) is True
    assert inner.sent == []
    world.run_for(1.0)
    assert inner.sent == [(0.02, numbered(1), None), (0.02, numbered(2), offload)]


def test_link_model_forwards_everything_else_to_the_inner_driver() -> None:
    world = World.simulated(0)
    inner = FakeEMAC(world)
    model = LinkModel(inner, world, LinkParams())
    assert (model.hwaddr, model.mtu, model.capabilities) == (
        inner.hwaddr,
        inner.mtu,
        inner.capabilities,
    )
    assert model.link_up is False
    assert model.link_out(numbered(1)) is False  # link down
    model.power_up()
    assert model.link_up is True
    states: list[bool] = []
    model.set_link_state_cb(states.append)
    assert inner.state_cb is not None
    model.add_multicast_group(b"\x01\x00\x5e\x00\x00\x01")
    model.set_all_multicast(False)
    assert inner.groups == {b"\x01\x00\x5e\x00\x00\x01"} and inner.all_multicast is False
    model.remove_multicast_group(b"\x01\x00\x5e\x00\x00\x01")
    assert inner.groups == set()
    got: list[bytes] = []
    model.set_link_input_cb(lambda f, fl: got.append(bytes(f)))
    inner.receive(numbered(5))  # no rx impairment: straight through
    assert got == [numbered(5)]
    model.power_down()
    assert inner.powered is False


def test_link_model_impairs_received_frames_with_rx_params_and_keeps_flags() -> None:
    world = World.simulated(0)
    inner = FakeEMAC(world)
    model = LinkModel(inner, world, LinkParams(), rx_params=LinkParams(latency=0.5))
    got: list[tuple[float, bytes, RxFlags]] = []
    model.set_link_input_cb(lambda f, fl: got.append((world.now(), bytes(f), fl)))
    model.power_up()
    inner.receive(numbered(1), RxFlags.CSUM_VALID)
    inner.receive(numbered(2))
    assert got == []
    world.run_for(1.0)
    assert got == [(0.5, numbered(1), RxFlags.CSUM_VALID), (0.5, numbered(2), RxFlags.NONE)]


def test_link_model_power_down_drops_frames_in_flight() -> None:
    world = World.simulated(0)
    inner = FakeEMAC(world)
    model = LinkModel(inner, world, LinkParams(latency=0.5))
    model.power_up()
    model.link_out(numbered(1))
    model.power_down()
    world.run_for(1.0)
    assert inner.sent == []


def udp_frame_with_partial_checksum() -> tuple[bytes, TxOffload]:
    """Ethernet/IPv4/UDP with the UDP checksum field holding only the pseudo-header sum,
    as a stack using checksum offload hands it to the driver."""
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    payload = b"hello, offload"
    udp_len = 8 + len(payload)
    seed = pseudo_header_sum(src, dst, 17, udp_len)
    udp = struct.pack("!HHHH", 40000, 7, udp_len, seed) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
    frame = eth(MAC_B, MAC_A, ip + udp, ethertype=0x0800)
    return frame, TxOffload(csum_start=14 + 20, csum_offset=6)


def test_pcap_tap_captures_both_directions_with_world_timestamps() -> None:
    world = World.simulated(0, start=100.0)
    inner = FakeEMAC(world)
    buf = io.BytesIO()
    tap = PcapTap(inner, buf, world)
    got: list[bytes] = []
    tap.set_link_input_cb(lambda f, fl: got.append(bytes(f)))
    tap.power_up()
    assert tap.link_out(numbered(1))
    world.call_later(0.25, lambda: inner.receive(numbered(2)))
    world.run_for(1.0)
    tap.close()
    reader = PcapReader(buf.getvalue())
    assert reader.linktype == LinkType.ETHERNET
    assert list(reader) == [(100.0, numbered(1)), (100.25, numbered(2))]
    assert got == [numbered(2)]
    assert [f for _, f, _ in inner.sent] == [numbered(1)]


def test_pcap_tap_writes_offloaded_checksums_completed() -> None:
    world = World.simulated(0)
    inner = FakeEMAC(world)
    buf = io.BytesIO()
    tap = PcapTap(inner, buf, world)
    frame, offload = udp_frame_with_partial_checksum()
    tap.link_out(frame, offload)
    # The driver still gets the partial checksum; the capture shows the final one.
    assert inner.sent[0][1] == frame and inner.sent[0][2] == offload
    [(_, captured)] = list(PcapReader(buf.getvalue()))
    assert captured[:40] == frame[:40] and captured[42:] == frame[42:]
    assert captured[40:42] != frame[40:42]
    udp = captured[34:]
    assert ones_sum(udp, pseudo_header_sum(captured[26:30], captured[30:34], 17, len(udp))) == (
        0xFFFF
    )


def test_tshark_validates_the_completed_checksum(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    assert tshark is not None, "tshark is a test dependency"
    world = World.simulated(0)
    path = tmp_path / "offload.pcap"
    tap = PcapTap(FakeEMAC(world), path, world)
    frame, offload = udp_frame_with_partial_checksum()
    tap.link_out(frame, offload)
    tap.close()
    out = subprocess.run(
        [
            tshark,
            "-r",
            str(path),
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "udp.checksum.status",
            "-e",
            "ip.checksum.status",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.strip() == "1\t1"  # 1 = good
