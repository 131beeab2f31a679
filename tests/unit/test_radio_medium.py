"""VirtualRadioMedium and VirtualRadio: timing, acks, filtering, channels, collisions, CCA,
energy detection and scale, all in virtual time."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import pytest

from netstack.drivers.rfphy import (
    ACK_WAIT_DURATION,
    CCA_DURATION,
    TURNAROUND_TIME,
    LogDistance,
    RadioState,
    RfPhy,
    TxStatus,
    UnitDisk,
    VirtualRadio,
    VirtualRadioMedium,
    airtime,
)
from netstack.runtime import World
from netstack.wire.ieee802154 import (
    BROADCAST,
    Beacon,
    FrameType,
    FrameVersion,
    Ieee802154Frame,
)

PAN = 0xABCD
OTHER_PAN = 0x1234
ACK_LEN = 5  # Imm-Ack PSDU: frame control, sequence number, FCS


def data(
    seq: int = 1,
    dst: int | bytes | None = 2,
    src: int | bytes | None = 1,
    *,
    pan: int | None = PAN,
    ack: bool = True,
    payload: bytes = b"hello radio",
    version: int = FrameVersion.V2006,
    frame_type: int = FrameType.DATA,
) -> bytes:
    """A frame built by wire.ieee802154 (intra-PAN: the source PAN is compressed away)."""
    return Ieee802154Frame(
        frame_type,
        version,
        seq,
        dst_pan=pan if dst is not None else None,
        dst_addr=dst,
        src_pan=pan if dst is None else None,
        src_addr=src,
        ack_request=ack,
        payload=payload,
    ).build()


@dataclass
class Probe:
    """Records what a radio received and how its transmissions ended, with times."""

    world: World
    frames: list[tuple[float, bytes, int, int]] = field(default_factory=list)
    done: list[tuple[float, TxStatus]] = field(default_factory=list)

    def rx(self, psdu: bytes, lqi: int, rssi: int) -> None:
        self.frames.append((self.world.now(), psdu, lqi, rssi))

    def tx_done(self, status: TxStatus) -> None:
        self.done.append((self.world.now(), status))

    @property
    def statuses(self) -> list[TxStatus]:
        return [status for _, status in self.done]

    @property
    def psdus(self) -> list[bytes]:
        return [psdu for _, psdu, _, _ in self.frames]


def network(
    *positions: tuple[float, float],
    model: UnitDisk | LogDistance | None = None,
    seed: int = 1,
    **kwargs: object,
) -> tuple[World, VirtualRadioMedium, list[VirtualRadio], list[Probe]]:
    """Radios at ``positions`` in PAN 0xABCD with short addresses 1, 2, ... (UnitDisk 50 m)."""
    world = World.simulated(seed=seed)
    medium = VirtualRadioMedium(world, model or UnitDisk(50.0), **kwargs)  # type: ignore[arg-type]
    radios, probes = [], []
    for i, position in enumerate(positions):
        radio = medium.add_radio(position)
        radio.set_address_filter(PAN, i + 1, None)
        probe = Probe(world)
        radio.set_receive_cb(probe.rx)
        radios.append(radio)
        probes.append(probe)
    return world, medium, radios, probes


# --- the contract -------------------------------------------------------------------------


def test_virtual_radio_is_an_rfphy_starting_in_receive() -> None:
    _, _, (a,), _ = network((0, 0))
    assert isinstance(a, RfPhy)
    assert a.state is RadioState.RECEIVE and a.channel == 11
    assert a.eui64 == bytes.fromhex("0200000000000001")
    caps = a.capabilities
    assert (caps.mtu, caps.bitrate, caps.auto_ack) == (127, 250_000, True)
    assert caps.channels == range(11, 27)
    assert caps.ack_wait == pytest.approx(864e-6)


def test_eui64s_are_allocated_deterministically_and_must_be_unique() -> None:
    world = World.simulated()
    medium = VirtualRadioMedium(world)
    first, second = medium.add_radio(), medium.add_radio()
    assert (first.eui64.hex(), second.eui64.hex()) == ("0200000000000001", "0200000000000002")
    with pytest.raises(ValueError):
        medium.add_radio(eui64=first.eui64)
    with pytest.raises(ValueError):
        medium.add_radio(eui64=b"\x01" * 7)


def test_tx_is_refused_when_off_asleep_busy_or_oversized() -> None:
    _world, _, (a, _b), _ = network((0, 0), (10, 0))
    assert not a.tx(bytes(128))
    assert not a.tx(bytes(3))
    a.set_state(RadioState.SLEEP)
    assert not a.tx(data())
    a.set_state(RadioState.OFF)
    assert not a.tx(data())
    a.set_state(RadioState.RECEIVE)
    assert a.tx(data())
    assert not a.tx(data())  # one attempt at a time
    assert a.stats()["tx_refused"] == 5 and a.stats()["tx"] == 1


def test_set_channel_rejects_channels_outside_11_to_26() -> None:
    _, _, (a,), _ = network((0, 0))
    for bad in (10, 27, 0):
        with pytest.raises(ValueError):
            a.set_channel(bad)
    a.set_channel(26)
    a.set_state(RadioState.RECEIVE, channel=11)
    assert a.channel == 11
    with pytest.raises(ValueError):
        a.set_state(RadioState.ED)


# --- timing --------------------------------------------------------------------------------


def test_frame_is_delivered_after_its_airtime_never_inside_tx() -> None:
    world, _, (a, _b), (pa, pb) = network((0, 0), (30, 0))
    frame = data(ack=False)
    assert a.tx(frame, csma=False, done=pa.tx_done)
    assert pb.frames == [] and pa.done == []  # nothing happens inside tx()
    world.run_for(0.01)
    ((when, psdu, _, _),) = pb.frames
    assert psdu == frame
    assert when == pytest.approx(airtime(len(frame)))
    assert airtime(len(frame)) == pytest.approx((6 + len(frame)) * 32e-6)
    assert pa.statuses == [TxStatus.SUCCESS] and pa.done[0][0] == pytest.approx(when)


def test_csma_spends_the_cca_and_the_turnaround_before_the_frame() -> None:
    world, _, (a, _b), (pa, pb) = network((0, 0), (30, 0))
    frame = data(ack=False)
    a.tx(frame, done=pa.tx_done)
    world.run_for(0.01)
    expected = CCA_DURATION + TURNAROUND_TIME + airtime(len(frame))
    assert pytest.approx(320e-6) == CCA_DURATION + TURNAROUND_TIME  # one unit backoff period
    assert pb.frames[0][0] == pytest.approx(expected)


def test_ack_arrives_a_turnaround_plus_ack_airtime_after_the_frame() -> None:
    world, medium, (a, b), (pa, pb) = network((0, 0), (30, 0))
    frame = data(seq=42)
    a.tx(frame, csma=False, done=pa.tx_done)
    world.run_for(0.01)
    end = airtime(len(frame))
    assert pb.frames[0][0] == pytest.approx(end)
    assert pa.statuses == [TxStatus.SUCCESS]
    assert pa.done[0][0] == pytest.approx(end + TURNAROUND_TIME + airtime(ACK_LEN))
    assert TURNAROUND_TIME + airtime(ACK_LEN) <= ACK_WAIT_DURATION
    assert b.stats()["acks_sent"] == 1 and a.stats()["acks_received"] == 1
    assert a.stats()["tx_success"] == 1
    assert (medium.stats["frames"], medium.stats["acks"]) == (2, 1)


def test_frame_pending_in_the_ack_gives_success_pending() -> None:
    world, _, (a, b), (pa, _) = network((0, 0), (30, 0))
    b.set_frame_pending(True)
    a.tx(data(seq=1), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    b.set_frame_pending(False)
    a.tx(data(seq=2), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert pa.statuses == [TxStatus.SUCCESS_PENDING, TxStatus.SUCCESS]


def test_no_ack_when_the_receiver_is_out_of_range() -> None:
    world, _, (a, _b), (pa, pb) = network((0, 0), (80, 0))
    frame = data()
    a.tx(frame, csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert pb.frames == []
    assert pa.statuses == [TxStatus.NO_ACK]
    assert pa.done[0][0] == pytest.approx(airtime(len(frame)) + ACK_WAIT_DURATION)
    assert a.stats()["no_ack"] == 1


def test_no_ack_when_the_receiver_filters_the_frame() -> None:
    world, _, (a, b), (pa, pb) = network((0, 0), (30, 0))
    a.tx(data(dst=7), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert pa.statuses == [TxStatus.NO_ACK]
    assert pb.frames == [] and b.stats()["filtered"] == 1 and b.stats()["acks_sent"] == 0


def test_broadcast_with_ack_request_is_not_acknowledged() -> None:
    world, _, (a, b, _c), (pa, pb, pc) = network((0, 0), (30, 0), (0, 30))
    a.tx(data(dst=BROADCAST, ack=True), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert pa.statuses == [TxStatus.SUCCESS]
    assert len(pb.frames) == len(pc.frames) == 1 and b.stats()["acks_sent"] == 0


def test_a_2015_frame_is_answered_with_an_imm_ack() -> None:
    world, _medium, (a, _b, _sniffer), (pa, _, ps) = network((0, 0), (30, 0), (10, 10))
    _sniffer.set_promiscuous(True)
    a.tx(data(seq=9, version=FrameVersion.V2015), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert pa.statuses == [TxStatus.SUCCESS]
    ack = Ieee802154Frame.parse(ps.psdus[1])
    assert (ack.frame_type, ack.version, ack.seq) == (FrameType.ACK, FrameVersion.V2006, 9)


# --- filtering -------------------------------------------------------------------------------

B_EXT = bytes.fromhex("0011223344556677")


@pytest.mark.parametrize(
    ("frame", "accepted"),
    [
        (data(dst=2), True),
        (data(dst=3), False),
        (data(dst=BROADCAST, ack=False), True),
        (data(dst=2, pan=OTHER_PAN), False),
        (data(dst=2, pan=BROADCAST), True),
        (data(dst=BROADCAST, pan=BROADCAST, ack=False), True),
        (data(dst=B_EXT, src=bytes(8)), True),
        (data(dst=bytes(8), src=bytes(8)), False),
        (data(dst=None, src=1, ack=False), False),  # no destination: coordinators only
        (data(dst=None, src=1, ack=False, frame_type=FrameType.BEACON), True),
        (
            Ieee802154Frame(
                FrameType.BEACON, seq=3, src_pan=OTHER_PAN, src_addr=9, payload=Beacon().build()
            ).build(),
            False,
        ),
    ],
)
def test_address_filtering(frame: bytes, accepted: bool) -> None:
    world, _, (a, b), (_, pb) = network((0, 0), (30, 0))
    b.set_address_filter(PAN, 2, B_EXT)
    a.tx(frame, csma=False)
    world.run_for(0.01)
    assert pb.psdus == ([frame] if accepted else [])
    assert b.stats()["filtered"] == (0 if accepted else 1)


def test_a_pan_coordinator_accepts_frames_without_destination_from_its_pan() -> None:
    world, _, (a, b), (pa, pb) = network((0, 0), (30, 0))
    b.set_address_filter(PAN, 2, None, pan_coordinator=True)
    a.tx(data(dst=None, src=1, ack=True), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    a.tx(data(dst=None, src=1, pan=OTHER_PAN, ack=False), csma=False)
    world.run_for(0.01)
    assert len(pb.frames) == 1 and pa.statuses == [TxStatus.SUCCESS]


def test_extended_address_defaults_to_the_eui64() -> None:
    world, _, (a, b), (pa, pb) = network((0, 0), (30, 0))
    a.tx(data(dst=b.eui64, src=a.eui64), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert len(pb.frames) == 1 and pa.statuses == [TxStatus.SUCCESS]


def test_promiscuous_radio_receives_everything_and_acknowledges_nothing() -> None:
    world, _, (a, b, sniffer), (pa, _, ps) = network((0, 0), (30, 0), (15, 15))
    sniffer.set_promiscuous(True)
    frames = [data(seq=1, dst=2), data(seq=2, dst=99, pan=OTHER_PAN)]
    for frame in frames:
        a.tx(frame, csma=False, done=pa.tx_done)
        world.run_for(0.01)
    assert pa.statuses == [TxStatus.SUCCESS, TxStatus.NO_ACK]  # only b acknowledged
    assert sniffer.stats()["acks_sent"] == 0 and b.stats()["acks_sent"] == 1
    ack = Ieee802154Frame.parse(ps.psdus[1])
    assert ps.psdus[0] == frames[0] and ps.psdus[2] == frames[1]
    assert (ack.frame_type, ack.seq) == (FrameType.ACK, 1)
    sniffer.set_promiscuous(False)
    a.tx(frames[1], csma=False)
    world.run_for(0.01)
    assert len(ps.frames) == 3 and sniffer.stats()["filtered"] == 1


def test_a_frame_with_a_bad_fcs_is_dropped_and_counted() -> None:
    world, _, (a, b), (pa, pb) = network((0, 0), (30, 0))
    frame = data()
    bad = frame[:-1] + bytes([frame[-1] ^ 0xFF])
    a.tx(bad, csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert pb.frames == [] and b.stats()["rx_bad_fcs"] == 1
    assert pa.statuses == [TxStatus.NO_ACK]  # the sender still asked for an ack


def test_frames_without_a_receive_callback_are_counted_as_dropped() -> None:
    world, _, (a, b), _ = network((0, 0), (30, 0))
    b.set_receive_cb(None)
    a.tx(data(ack=False), csma=False)
    world.run_for(0.01)
    assert b.stats()["rx_dropped"] == 1 and b.stats()["rx"] == 0


# --- channels, half-duplex, collisions, CCA ------------------------------------------------


def test_channels_isolate_radios() -> None:
    world, _, (a, b), (pa, pb) = network((0, 0), (30, 0))
    b.set_channel(15)
    a.tx(data(), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert pb.frames == [] and pa.statuses == [TxStatus.NO_ACK]
    a.set_channel(15)
    a.tx(data(), csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert len(pb.frames) == 1 and pa.statuses[-1] is TxStatus.SUCCESS


def test_a_transmitting_radio_hears_nothing() -> None:
    world, _, (a, b, c), (pa, pb, pc) = network((0, 0), (30, 0), (15, 20))
    a.tx(data(seq=1, dst=BROADCAST, ack=False, payload=bytes(60)), csma=False)
    b.tx(data(seq=2, dst=BROADCAST, ack=False, src=2), csma=False)
    world.run_for(0.01)
    assert pa.frames == [] and pb.frames == []  # half-duplex: both were on the air
    assert pc.frames == [] and c.stats()["collisions"] == 2  # and they collided at c


def test_starting_to_transmit_aborts_a_reception() -> None:
    world, _, (a, b), (_, pb) = network((0, 0), (30, 0))
    a.tx(data(dst=BROADCAST, ack=False, payload=bytes(80)), csma=False)
    world.run_for(airtime(20))  # a's frame is on the air
    b.tx(data(dst=BROADCAST, ack=False, src=2), csma=False)
    world.run_for(0.01)
    assert pb.frames == [] and b.stats()["rx_aborted"] == 1


def test_hidden_terminals_collide_at_the_receiver_between_them() -> None:
    # a and c are both 40 m from b but 80 m from each other: out of range (50 m).
    world, medium, (a, b, c), (pa, pb, pc) = network((0, 0), (40, 0), (80, 0))
    assert medium.neighbours(a) == [b] and medium.neighbours(c) == [b]
    a.tx(data(seq=1, src=1), done=pa.tx_done)
    world.run_for(100e-6)  # c's CCA overlaps a's, but neither can hear the other
    c.tx(data(seq=2, src=3), done=pc.tx_done)
    world.run_for(0.01)
    assert pa.statuses == [TxStatus.NO_ACK] and pc.statuses == [TxStatus.NO_ACK]
    assert pb.frames == []
    assert b.stats()["collisions"] == 2 and medium.stats["collisions"] == 2
    assert a.stats()["cca_busy"] == c.stats()["cca_busy"] == 0
    # Radios in range of each other avoid the collision: c's CCA finds a on the air.
    c.move(30, 20)
    a.tx(data(seq=3, src=1), done=pa.tx_done)
    world.run_for(400e-6)
    c.tx(data(seq=4, src=3), done=pc.tx_done)
    world.run_for(0.01)
    assert pa.statuses[-1] is TxStatus.SUCCESS and pc.statuses[-1] is TxStatus.CCA_FAIL
    assert c.stats()["cca_busy"] == 1 and medium.stats["cca_busy"] == 1


def test_cca_is_busy_during_another_transmission_and_clear_after() -> None:
    world, _, (a, b), (_, pb) = network((0, 0), (30, 0))
    frame = data(dst=BROADCAST, ack=False, payload=bytes(100))
    a.tx(frame, csma=False)
    world.run_for(airtime(len(frame)) / 2)
    b.tx(data(seq=5, dst=1, src=2, ack=False), done=pb.tx_done)
    world.run_for(0.01)
    b.tx(data(seq=6, dst=1, src=2, ack=False), done=pb.tx_done)
    world.run_for(0.01)
    assert pb.statuses == [TxStatus.CCA_FAIL, TxStatus.SUCCESS]
    # Busy as well when the other frame starts during the CCA window.
    b.tx(data(seq=7, dst=1, src=2, ack=False), done=pb.tx_done)
    world.run_for(CCA_DURATION / 2)
    a.tx(frame, csma=False)
    world.run_for(0.01)
    assert pb.statuses[-1] is TxStatus.CCA_FAIL


def test_cca_threshold_is_configurable() -> None:
    # 30 m at 0 dBm under the default log-distance model: about -84 dBm, below -75 dBm.
    model = LogDistance()
    for threshold, expected in ((-75.0, TxStatus.SUCCESS), (-90.0, TxStatus.CCA_FAIL)):
        world, _, (a, b), (_, pb) = network(
            (0, 0), (30, 0), model=model, cca_threshold_dbm=threshold
        )
        a.tx(data(dst=BROADCAST, ack=False, payload=bytes(100)), csma=False)
        world.run_for(200e-6)
        b.tx(data(seq=2, src=2, dst=1, ack=False), done=pb.tx_done)
        world.run_for(0.01)
        assert pb.statuses == [expected]


@pytest.mark.parametrize("csma", [True, False])
def test_a_tx_from_the_receive_callback_starts_after_the_ack(csma: bool) -> None:
    world, _, (a, b), (pa, pb) = network((0, 0), (30, 0))
    reply = data(seq=100, dst=1, src=2)

    def answer(psdu: bytes, lqi: int, rssi: int) -> None:
        pb.rx(psdu, lqi, rssi)
        assert b.tx(reply, csma=csma, done=pb.tx_done)

    b.set_receive_cb(answer)
    request = data(seq=1)
    a.tx(request, csma=False, done=pa.tx_done)
    world.run_for(0.01)
    assert pa.statuses == [TxStatus.SUCCESS] and pb.statuses == [TxStatus.SUCCESS]
    assert pa.psdus == [reply]
    ack_end = airtime(len(request)) + TURNAROUND_TIME + airtime(ACK_LEN)
    start = ack_end + (CCA_DURATION + TURNAROUND_TIME if csma else 0.0)
    assert pa.frames[0][0] == pytest.approx(start + airtime(len(reply)))
    assert a.stats()["collisions"] == b.stats()["collisions"] == 0


def test_switching_off_aborts_the_transmission() -> None:
    world, _, (a, b), (pa, pb) = network((0, 0), (30, 0))
    a.tx(data(payload=bytes(80)), csma=False, done=pa.tx_done)
    world.run_for(airtime(10))
    a.set_state(RadioState.OFF)
    assert pa.done == []  # reported from the loop
    world.run_for(0.01)
    assert pa.statuses == [TxStatus.FAIL] and a.stats()["tx_failed"] == 1
    assert pb.frames == [] and b.stats()["rx_corrupted"] == 1


def test_retuning_drops_the_reception_and_joins_the_new_channel_mid_frame() -> None:
    world, medium, (a, b, c), (_, pb, _) = network((0, 0), (30, 0), (0, 30))
    c.set_channel(12)
    a.tx(data(seq=1, dst=BROADCAST, ack=False, payload=bytes(60)), csma=False)
    c.tx(data(seq=2, dst=BROADCAST, ack=False, src=3, payload=bytes(90)), csma=False)
    world.run_for(airtime(30))
    b.set_channel(12)  # abandons a's frame; c's is already on the air: no preamble
    assert b.stats()["rx_aborted"] == 1
    world.run_for(airtime(40))
    a.set_channel(12)
    a.tx(data(seq=3, dst=BROADCAST, ack=False), csma=False)  # overlaps c's frame at b
    world.run_for(0.01)
    assert pb.frames == [] and b.stats()["collisions"] == 1
    a.tx(data(seq=4, dst=BROADCAST, ack=False), csma=False)
    world.run_for(0.01)
    assert len(pb.frames) == 1 and medium.stats["collisions"] == 1


def test_a_removed_radio_is_gone() -> None:
    world, medium, (a, b), (_, pb) = network((0, 0), (30, 0))
    medium.remove_radio(b)
    assert medium.radios == [a] and medium.neighbours(a) == []
    assert b.state is RadioState.OFF and not b.tx(data())
    a.tx(data(ack=False), csma=False)
    world.run_for(0.01)
    assert pb.frames == []
    medium.add_radio((10, 0), eui64=b.eui64)  # its EUI-64 is free again


def test_a_radio_that_is_off_hears_nothing() -> None:
    world, _, (a, b), (_, pb) = network((0, 0), (30, 0))
    b.set_state(RadioState.OFF)
    a.tx(data(ack=False), csma=False)
    world.run_for(0.01)
    assert pb.frames == []
    b.set_state(RadioState.RECEIVE)
    a.tx(data(ack=False), csma=False)
    world.run_for(0.01)
    assert len(pb.frames) == 1


def test_moving_out_of_range_ends_the_link() -> None:
    world, medium, (a, b), (_, pb) = network((0, 0), (30, 0))
    b.move(60, 0)
    assert b.position == (60.0, 0.0) and medium.neighbours(a) == []
    a.tx(data(ack=False), csma=False)
    world.run_for(0.01)
    b.move(45, 0)
    a.tx(data(ack=False), csma=False)
    world.run_for(0.01)
    assert len(pb.frames) == 1


# --- link quality and energy ----------------------------------------------------------------


def test_rssi_and_lqi_come_from_the_link_budget() -> None:
    world, medium, (a, b), (_, pb) = network((0, 0), (20, 0), model=LogDistance())
    a.tx(data(ack=False), csma=False)
    world.run_for(0.01)
    budget = medium.link(a, b)
    assert budget is not None
    ((_, _, lqi, rssi),) = pb.frames
    assert rssi == round(budget.rssi_dbm) == round(0 - (40 + 30 * math.log10(20)))
    assert lqi == budget.lqi


def test_energy_detect_reports_the_stronger_neighbour_while_it_transmits() -> None:
    world, medium, (meter, near, far), (pm, _, _) = network(
        (0, 0), (5, 0), (0, 20), model=LogDistance()
    )
    readings: list[int] = []
    assert meter.energy_detect(0.001, readings.append)
    measuring = meter.state
    assert measuring is RadioState.ED and not meter.tx(data())
    world.run_for(0.01)
    assert readings == [-100]  # nothing on the air: the noise floor
    assert meter.state is RadioState.RECEIVE
    long = data(dst=BROADCAST, ack=False, payload=bytes(100))
    far.tx(long, csma=False)
    world.run_for(airtime(10))
    meter.energy_detect(0.001, readings.append)
    world.run_for(airtime(10))
    near.tx(long, csma=False)
    world.run_for(0.01)
    budget = medium.link(near, meter)
    assert budget is not None
    assert readings[1] == round(budget.rssi_dbm) == round(-40 - 30 * math.log10(5))
    assert pm.frames == []  # measuring, not receiving


def test_energy_detect_is_refused_unless_idle_in_receive() -> None:
    world, _, (a,), _ = network((0, 0))
    a.set_state(RadioState.SLEEP)
    assert not a.energy_detect(0.001, lambda _: None)
    a.set_state(RadioState.RECEIVE)
    a.tx(data(dst=BROADCAST, ack=False))
    assert not a.energy_detect(0.001, lambda _: None)
    world.run_for(0.01)


# --- bit errors and determinism ----------------------------------------------------------------


def test_packet_error_rate_matches_the_model() -> None:
    # A grey-zone link: sensitivity below the noise floor, SNR about -1 dB.
    model = LogDistance(sensitivity_dbm=-110.0)
    distance = 10 ** ((101 - 40) / 30)  # path loss 101 dB: RSSI -101 dBm, SNR -1 dB
    frame = data(dst=BROADCAST, ack=False, payload=bytes(20))
    per = model.frame_error_rate(distance, len(frame))
    assert 0.2 < per < 0.8
    world, _, (a, b), (_, pb) = network((0, 0), (distance, 0), model=model, seed=7)
    sent = 4000
    for _ in range(sent):
        a.tx(frame, csma=False)
        world.run_for(0.002)
    received = len(pb.frames)
    sigma = math.sqrt(sent * per * (1 - per))
    assert abs((sent - received) - sent * per) < 4 * sigma
    assert b.stats()["rx_corrupted"] == sent - received


def test_extra_loss_drops_that_share_of_frames() -> None:
    world, medium, (a, _b), (_, pb) = network((0, 0), (10, 0), model=UnitDisk(50.0, loss=0.25))
    sent = 2000
    for _ in range(sent):
        a.tx(data(dst=BROADCAST, ack=False), csma=False)
        world.run_for(0.002)
    lost = sent - len(pb.frames)
    assert abs(lost - 0.25 * sent) < 4 * math.sqrt(sent * 0.25 * 0.75)
    assert medium.stats["corrupted"] == lost


def run_scenario(seed: int) -> tuple[list[bytes], dict[str, int]]:
    """Ten radios with shadowing and loss, all broadcasting and unicasting for a while."""
    model = LogDistance(shadowing_sigma_db=6.0, loss=0.1, sensitivity_dbm=-101.0)
    world = World.simulated(seed=seed)
    medium = VirtualRadioMedium(world, model)
    rng = random.Random(99)
    radios = [medium.add_radio((rng.uniform(0, 80), rng.uniform(0, 80))) for _ in range(10)]
    received: list[bytes] = []
    for i, radio in enumerate(radios):
        radio.set_address_filter(PAN, i + 1, None)
        radio.set_receive_cb(lambda psdu, lqi, rssi: received.append(psdu + bytes([lqi])))
    for step in range(200):
        i = step % 10
        radios[i].tx(data(seq=step & 0xFF, src=i + 1, dst=(step * 7) % 11 + 1))
        world.run_for(0.0007)
    world.run_for(0.01)
    return received, medium.stats


def test_same_seed_same_run() -> None:
    first, stats = run_scenario(5)
    again, stats_again = run_scenario(5)
    assert first == again and stats == stats_again
    assert stats["collisions"] > 0 and stats["corrupted"] > 0 and stats["acks"] > 0


# --- scale ---------------------------------------------------------------------------------------


def test_cached_neighbours_match_a_scan_of_every_radio() -> None:
    model = LogDistance(shadowing_sigma_db=4.0)
    world = World.simulated(seed=3)
    medium = VirtualRadioMedium(world, model)
    rng = random.Random(3)
    radios = [
        medium.add_radio(
            (rng.uniform(0, 600), rng.uniform(0, 600)), tx_power_dbm=rng.choice([0, 5])
        )
        for _ in range(300)
    ]
    radios[5].move(10, 10)
    radios[7].tx_power_dbm = 8.0  # grows the grid's cells

    def audible(a: VirtualRadio, b: VirtualRadio) -> bool:
        budget = medium.link(a, b)
        return budget is not None and budget.audible

    for radio in radios[::7]:
        expected = {other.index for other in radios if other is not radio and audible(radio, other)}
        assert {n.index for n in medium.neighbours(radio)} == expected
    # Shadowing is symmetric: equal powers give equal RSSI both ways.
    a, b = radios[0], radios[1]
    a.tx_power_dbm = b.tx_power_dbm = 0.0
    ab, ba = medium.link(a, b), medium.link(b, a)
    assert ab is not None and ba is not None and ab.rssi_dbm == ba.rssi_dbm
