"""The IEEE 802.15.4 MAC over a VirtualRadioMedium, in virtual time: acknowledged and
broadcast delivery, CSMA-CA timing, retries, duplicates, hidden terminals, scans, indirect
transmission to sleepy children, frame security and determinism."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from netstack.drivers.rfphy import (
    CCA_DURATION,
    SYMBOL_TIME,
    RadioState,
    RfPhy,
    RfPhyWrapper,
    TxDoneCallback,
    TxStatus,
    UnitDisk,
    VirtualRadio,
    VirtualRadioMedium,
)
from netstack.runtime import World
from netstack.stacks.mesh.mac import (
    Ieee802154Mac,
    MacConfig,
    MacDataIndication,
    MacSecurity,
    MacStatus,
    PanDescriptor,
)
from netstack.wire import Buffer
from netstack.wire.ieee802154 import (
    BROADCAST,
    Beacon,
    CommandId,
    FrameType,
    FrameVersion,
    Ieee802154Frame,
    MacCommand,
)
from netstack.wire.pcap import read_pcap

PAN = 0xABCD
KEY = bytes(range(16))
WRONG_KEY = bytes(range(1, 17))
BACKOFF_PERIOD = 20 * SYMBOL_TIME  # aUnitBackoffPeriod: 320 us


class TxTimes(RfPhyWrapper):
    """Records when the MAC hands the radio a frame and when the radio reports back;
    ``on_done`` sees every status before the MAC does."""

    def __init__(self, inner: RfPhy, world: World) -> None:
        super().__init__(inner)
        self.world = world
        self.tx_at: list[float] = []
        self.done_at: list[tuple[float, TxStatus]] = []
        self.on_done: Callable[[TxStatus], None] | None = None

    def tx(self, psdu: Buffer, *, csma: bool = True, done: TxDoneCallback | None = None) -> bool:
        self.tx_at.append(self.world.now())

        def wrapped(status: TxStatus) -> None:
            self.done_at.append((self.world.now(), status))
            if self.on_done is not None:
                self.on_done(status)
            if done is not None:
                done(status)

        return self.inner.tx(psdu, csma=csma, done=wrapped)


@dataclass
class Node:
    mac: Ieee802154Mac
    radio: VirtualRadio
    phy: TxTimes
    got: list[MacDataIndication] = field(default_factory=list)
    statuses: list[MacStatus] = field(default_factory=list)

    @property
    def payloads(self) -> list[bytes]:
        return [ind.payload for ind in self.got]

    def send(self, dst: int | bytes, payload: bytes, **kwargs: object) -> bool:
        return self.mac.data_request(dst, payload, done=self.statuses.append, **kwargs)  # type: ignore[arg-type]


@dataclass
class Net:
    world: World
    medium: VirtualRadioMedium
    nodes: list[Node]
    capture: io.BytesIO

    def run(self, seconds: float) -> None:
        self.world.run_for(seconds)

    def psdus(self) -> list[tuple[float, bytes]]:
        """Every PSDU that went on the air, with the time of its first octet (to 1 us)."""
        return read_pcap(self.capture.getvalue())[1]

    def frames(self) -> list[tuple[float, Ieee802154Frame]]:
        return [(t, Ieee802154Frame.parse(psdu)) for t, psdu in self.psdus()]


def network(
    *positions: tuple[float, float],
    configs: list[MacConfig] | None = None,
    seed: int = 1,
    range_m: float = 50.0,
    start: bool = True,
) -> Net:
    """MACs on radios at ``positions`` (UnitDisk), short addresses 1, 2, … unless
    ``configs`` says otherwise; the medium is captured."""
    world = World.simulated(seed=seed)
    capture = io.BytesIO()
    medium = VirtualRadioMedium(world, UnitDisk(range_m), capture=capture)
    nodes = []
    for i, position in enumerate(positions):
        config = configs[i] if configs is not None else MacConfig(short_address=i + 1)
        radio = medium.add_radio(position, channel=config.channel)
        phy = TxTimes(radio, world)
        node = Node(Ieee802154Mac(phy, world, config), radio, phy)
        node.mac.set_data_indication_cb(node.got.append)
        if start:
            node.mac.start()
        nodes.append(node)
    return Net(world, medium, nodes, capture)


def jam(
    medium: VirtualRadioMedium, position: tuple[float, float], channel: int = 11
) -> VirtualRadio:
    """A radio that keeps its channel busy: 127-octet frames back to back, no CCA."""
    jammer = medium.add_radio(position, channel=channel)
    frame = Ieee802154Frame(
        FrameType.DATA,
        seq=0,
        dst_pan=0x1111,
        dst_addr=BROADCAST,
        src_addr=0x0999,
        payload=bytes(127 - 11),
    ).build()
    assert len(frame) == 127

    def again(_: TxStatus | None = None) -> None:
        jammer.tx(frame, csma=False, done=again)

    again()
    return jammer


def periods(delay: float) -> int:
    """``delay`` in whole unit backoff periods (asserting it is whole)."""
    value = delay / BACKOFF_PERIOD
    assert value == pytest.approx(round(value), abs=1e-6), delay
    return round(value)


# --- delivery ----------------------------------------------------------------------------------


def test_unicast_is_acknowledged_and_delivered() -> None:
    net = network((0, 0), (30, 0))
    a, b = net.nodes
    assert a.send(2, b"hello")
    assert a.statuses == []  # never from inside the call
    net.run(0.05)
    assert a.statuses == [MacStatus.SUCCESS]
    (ind,) = b.got
    assert (ind.src, ind.dst, ind.src_pan, ind.dst_pan) == (1, 2, PAN, PAN)
    assert (ind.payload, ind.security_level, ind.frame_pending) == (b"hello", 0, False)
    assert ind.lqi > 0 and ind.rssi < 0 and ind.seq is not None
    kinds = [(f.frame_type, f.ack_request) for _, f in net.frames()]
    assert kinds == [(FrameType.DATA, True), (FrameType.ACK, False)]
    stats = a.mac.stats()
    assert (stats["tx_frames"], stats["tx_success"], stats["tx_retries"]) == (1, 1, 0)
    assert b.mac.stats()["rx_data"] == 1


def test_broadcast_reaches_every_neighbour_unacknowledged() -> None:
    net = network((0, 0), (30, 0), (0, 30))
    a, b, c = net.nodes
    a.send(BROADCAST, b"to all", ack=True)  # an ack is never requested for a broadcast
    net.run(0.05)
    assert a.statuses == [MacStatus.SUCCESS]
    assert b.payloads == c.payloads == [b"to all"] and b.got[0].dst == BROADCAST
    ((_, frame),) = net.frames()
    assert not frame.ack_request and frame.dst_addr == BROADCAST and frame.dst_pan == PAN


def test_extended_addresses_without_a_short_address() -> None:
    configs = [MacConfig(), MacConfig()]
    net = network((0, 0), (30, 0), configs=configs)
    a, b = net.nodes
    a.send(b.mac.ext_address, b"long")
    net.run(0.05)
    assert a.statuses == [MacStatus.SUCCESS]
    assert b.got[0].src == a.mac.ext_address and b.got[0].dst == b.mac.ext_address
    assert a.mac.max_payload(b.mac.ext_address) == 127 - (2 + 1 + 2 + 8 + 8 + 2)


def test_frames_go_in_order_with_consecutive_sequence_numbers() -> None:
    net = network((0, 0), (30, 0))
    a, b = net.nodes
    for i in range(6):
        assert a.send(2, bytes([i]))
    net.run(0.2)
    assert a.statuses == [MacStatus.SUCCESS] * 6
    assert b.payloads == [bytes([i]) for i in range(6)]
    seqs = [ind.seq for ind in b.got]
    assert seqs == [(seqs[0] + i) & 0xFF for i in range(6)]  # type: ignore[operator]


def test_retries_then_no_ack_when_the_receiver_is_out_of_range() -> None:
    net = network((0, 0), (80, 0))
    a, _ = net.nodes
    a.send(2, b"anyone?")
    net.run(0.5)
    assert a.statuses == [MacStatus.NO_ACK]
    data = [f for _, f in net.frames() if f.frame_type == FrameType.DATA]
    assert len(data) == 4  # macMaxFrameRetries = 3 retransmissions
    assert len({f.seq for f in data}) == 1  # the same frame each time
    stats = a.mac.stats()
    assert (stats["tx_frames"], stats["tx_attempts"], stats["tx_retries"]) == (1, 4, 3)
    assert (stats["ack_timeouts"], stats["tx_no_ack"]) == (4, 1)


def test_the_transmit_queue_is_bounded() -> None:
    net = network(
        (0, 0),
        (30, 0),
        configs=[MacConfig(short_address=1, tx_queue_limit=4), MacConfig(short_address=2)],
    )
    a, b = net.nodes
    assert all(a.send(2, bytes([i])) for i in range(4))
    assert not a.send(2, b"one too many")
    assert a.mac.stats()["tx_queue_full"] == 1
    net.run(0.2)
    assert a.statuses == [MacStatus.SUCCESS] * 4  # the refused one never completes
    assert len(b.got) == 4


def test_bad_requests_complete_with_their_status_from_the_loop() -> None:
    net = network((0, 0), (30, 0))
    a, _ = net.nodes
    room = a.mac.max_payload(2)
    assert room == 127 - (2 + 1 + 2 + 2 + 2 + 2)
    assert a.send(2, bytes(room + 1))
    assert a.send(b"\x01\x02", b"x")
    assert a.send(BROADCAST, b"x", indirect=True)
    assert a.send(2, b"x", secure=True)  # no security configured
    assert a.statuses == []
    net.run(0.01)
    assert a.statuses == [
        MacStatus.FRAME_TOO_LONG,
        MacStatus.INVALID_PARAMETER,
        MacStatus.INVALID_PARAMETER,
        MacStatus.UNAVAILABLE_KEY,
    ]
    assert net.frames() == []


def test_stop_aborts_what_is_pending_and_start_resumes() -> None:
    net = network((0, 0), (30, 0))
    a, b = net.nodes
    for i in range(3):
        a.send(2, bytes([i]))
    net.run(0.0001)  # the first frame is in its backoff
    a.mac.stop()
    assert a.statuses == [] and not a.mac.is_up and a.radio.state is RadioState.OFF
    net.run(0.01)
    assert a.statuses == [MacStatus.ABORTED] * 3
    assert not a.send(2, b"while down")
    a.mac.start()
    a.send(2, b"again")
    net.run(0.05)
    assert a.statuses[-1] is MacStatus.SUCCESS and b.payloads[-1] == b"again"


# --- CSMA-CA ----------------------------------------------------------------------------------


def test_backoff_delays_are_whole_periods_below_2_pow_min_be() -> None:
    net = network((0, 0), (30, 0))
    a, _ = net.nodes
    count = 120

    def next_frame(status: MacStatus) -> None:
        a.statuses.append(status)
        if len(a.statuses) < count:
            a.mac.data_request(2, b"x", done=next_frame)

    a.mac.data_request(2, b"x", done=next_frame)
    net.run(2.0)
    assert a.statuses == [MacStatus.SUCCESS] * count
    # Each frame starts its backoff when the previous one is acknowledged (the first at 0).
    starts = [0.0] + [t for t, _ in a.phy.done_at[:-1]]
    delays = [periods(tx - start) for tx, start in zip(a.phy.tx_at, starts, strict=True)]
    assert set(delays) == set(range(8))  # random(2^macMinBE - 1), every value drawn


def test_a_jammed_channel_ends_in_channel_access_failure_within_the_bounds() -> None:
    net = network((0, 0), (30, 0))
    a, _ = net.nodes
    jam(net.medium, (10, 0))
    net.run(0.001)
    t0 = net.world.now()
    a.send(2, b"x")
    net.run(0.2)
    assert a.statuses == [MacStatus.CHANNEL_ACCESS_FAILURE]
    # macMaxCSMABackoffs + 1 = 5 CCAs, each after random(2^BE - 1) periods, BE 3, 4, 5, 5, 5.
    assert len(a.phy.tx_at) == 5
    assert [s for _, s in a.phy.done_at] == [TxStatus.CCA_FAIL] * 5
    starts = [t0] + [t for t, _ in a.phy.done_at[:-1]]
    for i, (tx, start) in enumerate(zip(a.phy.tx_at, starts, strict=True)):
        assert 0 <= periods(tx - start) <= (1 << min(3 + i, 5)) - 1
    for tx, (done, _) in zip(a.phy.tx_at, a.phy.done_at, strict=True):
        assert done - tx == pytest.approx(CCA_DURATION)
    stats = a.mac.stats()
    assert (stats["cca_failures"], stats["tx_channel_access_failure"]) == (5, 1)
    assert not [f for _, f in net.frames() if f.src_addr == 1]  # nothing was sent


def test_a_lost_ack_makes_a_duplicate_that_is_dropped() -> None:
    net = network((0, 0), (30, 0))
    a, b = net.nodes

    def deliver(ind: MacDataIndication) -> None:
        b.got.append(ind)
        # The frame just ended at b: take a out of range of b's ack, and back after it.
        a.radio.move(200, 0)
        net.world.call_later(600e-6, lambda: a.radio.move(0, 0))

    b.mac.set_data_indication_cb(deliver)
    a.send(2, b"once")
    net.run(0.1)
    assert a.statuses == [MacStatus.SUCCESS]
    assert b.payloads == [b"once"]
    assert a.mac.stats()["tx_retries"] == 1
    assert b.mac.stats()["rx_duplicates"] == 1 and b.radio.stats()["acks_sent"] == 2


def hidden_terminals(retries: int) -> tuple[Net, int]:
    """a and c, 80 m apart (range 50 m), neither sensing the other, each send 40 frames
    to b between them, every 10 and 11 ms; the number of frames b acknowledged."""
    configs = [MacConfig(short_address=i + 1, max_frame_retries=retries) for i in range(3)]
    net = network((0, 0), (40, 0), (80, 0), configs=configs)
    a, b, c = net.nodes
    assert net.medium.neighbours(a.radio) == [b.radio] == net.medium.neighbours(c.radio)
    for i in range(40):
        net.world.call_at(i * 0.010, functools.partial(a.send, 2, bytes([1, i]) * 5))
        net.world.call_at(i * 0.011, functools.partial(c.send, 2, bytes([3, i]) * 5))
    net.run(1.0)
    assert len(a.statuses) == len(c.statuses) == 40
    return net, sum(s is MacStatus.SUCCESS for s in a.statuses + c.statuses)


def test_hidden_terminals_collide_and_retries_deliver_most_frames() -> None:
    net, delivered = hidden_terminals(retries=3)
    a, b, c = net.nodes
    assert net.medium.stats["collisions"] > 0 and b.radio.stats()["collisions"] > 0
    assert a.mac.stats()["tx_retries"] > 0 and c.mac.stats()["tx_retries"] > 0
    assert delivered >= 0.85 * 80
    assert len(b.got) == len(set(b.payloads)) >= delivered  # no duplicates indicated
    _, without_retries = hidden_terminals(retries=0)
    assert without_retries < delivered - 5


# --- scans -----------------------------------------------------------------------------------


def coordinator(channel: int, pan: int, payload: bytes, **kwargs: object) -> MacConfig:
    return MacConfig(
        pan_id=pan,
        short_address=0,
        channel=channel,
        coordinator=True,
        beacon_payload=payload,
        **kwargs,  # type: ignore[arg-type]
    )


def test_active_scan_finds_coordinators_on_two_channels() -> None:
    configs = [
        MacConfig(short_address=5, channel=11),
        coordinator(15, 0x1111, b"first"),
        coordinator(20, 0x2222, b"second", association_permit=True),
        MacConfig(short_address=6, channel=11),
    ]
    net = network((0, 0), (20, 0), (0, 20), (20, 20), configs=configs)
    scanner, _, _, peer = net.nodes
    found: list[list[PanDescriptor]] = []
    scanner.mac.active_scan([11, 15, 20, 25], 2, found.append)
    with pytest.raises(RuntimeError):
        scanner.mac.ed_scan([11], 0.01, lambda _: None)
    net.run(1.0)
    ((first, second),) = found
    assert (first.channel, first.pan_id, first.coord_address) == (15, 0x1111, 0)
    assert (first.beacon_payload, first.permit_join) == (b"first", False)
    assert (second.channel, second.pan_id, second.beacon_payload) == (20, 0x2222, b"second")
    assert second.permit_join and second.superframe.pan_coordinator
    assert (second.superframe.beacon_order, second.superframe.superframe_order) == (15, 15)
    assert first.lqi > 0 and first.rssi < 0
    # Channel and PAN filter are back: the scanner hears its own PAN again.
    assert scanner.radio.channel == 11 and scanner.mac.channel == 11
    peer.send(5, b"after the scan")
    net.run(0.05)
    assert peer.statuses == [MacStatus.SUCCESS] and scanner.payloads == [b"after the scan"]
    requests = [
        f
        for _, f in net.frames()
        if f.frame_type == FrameType.MAC_COMMAND
        and f.payload == MacCommand(CommandId.BEACON_REQUEST).build()
    ]
    assert len(requests) == 4
    assert all(f.dst_pan == BROADCAST and f.dst_addr == BROADCAST for f in requests)


def test_active_scan_listens_for_the_duration_of_its_exponent() -> None:
    net = network((0, 0), configs=[MacConfig()])
    (node,) = net.nodes
    ended: list[float] = []
    node.mac.active_scan([12, 13], 3, lambda _: ended.append(net.world.now()))
    net.run(1.0)
    listen = 960 * (2**3 + 1) * SYMBOL_TIME  # aBaseSuperframeDuration x (2^n + 1) symbols
    (end,) = ended
    assert 2 * listen < end < 2 * listen + 0.01


def test_a_device_that_is_not_a_coordinator_sends_no_beacon() -> None:
    net = network((0, 0), (20, 0), configs=[MacConfig(), MacConfig(short_address=0)])
    found: list[list[PanDescriptor]] = []
    net.nodes[0].mac.active_scan([11], 1, found.append)
    net.run(0.5)
    assert found == [[]] and net.nodes[1].mac.stats()["rx_beacon_requests"] == 1


def test_ed_scan_sees_the_busy_channel() -> None:
    net = network((0, 0), configs=[MacConfig()])
    (node,) = net.nodes
    jam(net.medium, (10, 0), channel=17)
    energy: list[dict[int, int]] = []
    node.mac.ed_scan([16, 17, 18], 0.005, energy.append)
    net.run(0.1)
    ((levels),) = energy
    assert set(levels) == {16, 17, 18}
    noise = round(net.medium.model.noise_floor_dbm)
    assert levels[16] == levels[18] == noise and levels[17] > noise + 20
    assert node.radio.channel == 11


# --- indirect transmission -------------------------------------------------------------------


def sleepy_network(*children: tuple[float, float], **coord: object) -> Net:
    configs = [MacConfig(short_address=1, coordinator=True, **coord)]  # type: ignore[arg-type]
    configs += [MacConfig(short_address=2 + i, rx_on_when_idle=False) for i in range(len(children))]
    return network((0, 0), *children, configs=configs)


def test_a_sleepy_child_polls_for_its_frames() -> None:
    net = sleepy_network((30, 0))
    coord, child = net.nodes
    assert coord.send(2, b"one", indirect=True)
    assert coord.send(2, b"two", indirect=True)
    net.run(0.5)
    assert coord.statuses == [] and child.radio.state is RadioState.SLEEP
    polls: list[MacStatus] = []
    child.mac.poll(1, polls.append)
    net.run(0.1)
    assert polls == [MacStatus.SUCCESS] and child.payloads == [b"one"]
    assert child.got[0].frame_pending  # more is waiting
    child.mac.poll(1, polls.append)
    net.run(0.1)
    assert polls == [MacStatus.SUCCESS] * 2 and child.payloads == [b"one", b"two"]
    assert not child.got[1].frame_pending
    assert coord.statuses == [MacStatus.SUCCESS, MacStatus.SUCCESS]
    child.mac.poll(1, polls.append)  # nothing left: the ack says so
    net.run(0.1)
    assert polls == [MacStatus.SUCCESS, MacStatus.SUCCESS, MacStatus.NO_DATA]
    assert child.radio.state is RadioState.SLEEP
    # A sleeping child hears nothing sent to it directly.
    coord.send(2, b"direct")
    net.run(0.5)
    assert coord.statuses[-1] is MacStatus.NO_ACK and child.payloads == [b"one", b"two"]
    stats = coord.mac.stats()
    assert (stats["indirect_queued"], stats["indirect_sent"], stats["rx_data_requests"]) == (
        2,
        2,
        3,
    )


def test_the_beacon_lists_the_children_with_pending_frames() -> None:
    net = sleepy_network((30, 0))
    coord, _ = net.nodes
    coord.send(2, b"held", indirect=True)
    coord.send(b"\x02\x00\x00\xff\xfe\x00\x00\x09", b"held too", indirect=True)
    found: list[list[PanDescriptor]] = []
    net.nodes[1].mac.active_scan([11], 1, found.append)
    net.run(0.5)
    assert len(found[0]) == 1
    (beacon_frame,) = [f for _, f in net.frames() if f.frame_type == FrameType.BEACON]
    beacon = Beacon.parse(beacon_frame.payload)
    assert beacon.pending_short == [2]
    assert beacon.pending_extended == [b"\x02\x00\x00\xff\xfe\x00\x00\x09"]


def test_a_child_with_nothing_held_gets_an_empty_frame_when_the_ack_says_pending() -> None:
    # The radio's Frame Pending bit is one flag: while anything is held, every ack says so.
    net = sleepy_network((30, 0), (0, 30))
    coord, first, second = net.nodes
    coord.send(2, b"for the first", indirect=True)
    net.run(0.01)
    polls: list[tuple[float, MacStatus]] = []
    t0 = net.world.now()
    second.mac.poll(1, lambda s: polls.append((net.world.now(), s)))
    net.run(0.2)
    ((when, status),) = polls
    assert status is MacStatus.NO_DATA
    assert when - t0 < second.mac.max_frame_total_wait_time  # it did not wait it out
    assert coord.mac.stats()["indirect_empty_replies"] == 1
    assert second.mac.stats()["rx_empty"] == 1 and second.got == []
    first.mac.poll(1)
    net.run(0.1)
    assert first.payloads == [b"for the first"]


def test_an_indirect_frame_expires_after_the_persistence_time() -> None:
    net = sleepy_network((30, 0))
    coord, child = net.nodes
    coord.send(2, b"stale", indirect=True)
    net.run(7.6)
    assert coord.statuses == []
    net.run(0.1)
    assert coord.statuses == [MacStatus.TRANSACTION_EXPIRED]
    assert coord.mac.stats()["indirect_expired"] == 1
    polls: list[MacStatus] = []
    child.mac.poll(1, polls.append)
    net.run(0.1)
    assert polls == [MacStatus.NO_DATA] and child.got == []


def test_the_indirect_queue_overflows() -> None:
    net = sleepy_network((30, 0), indirect_limit=2)
    coord, _ = net.nodes
    assert coord.send(2, b"a", indirect=True)
    assert coord.send(2, b"b", indirect=True)
    assert coord.send(2, b"c", indirect=True)
    net.run(0.01)
    assert coord.statuses == [MacStatus.TRANSACTION_OVERFLOW]
    assert coord.mac.stats()["indirect_overflow"] == 1


def test_a_failed_indirect_delivery_waits_for_the_next_poll() -> None:
    net = sleepy_network((30, 0))
    coord, child = net.nodes
    coord.send(2, b"try again", indirect=True)

    def away(status: TxStatus) -> None:
        if status is TxStatus.SUCCESS_PENDING and not child.statuses:
            child.statuses.append(MacStatus.SUCCESS)  # only once
            child.radio.move(300, 0)  # gone before the coordinator answers

    child.phy.on_done = away
    polls: list[MacStatus] = []
    child.mac.poll(1, polls.append)
    net.run(0.2)
    assert polls == [MacStatus.NO_DATA] and coord.statuses == []
    assert coord.mac.stats()["indirect_retained"] == 1
    child.radio.move(30, 0)
    child.mac.poll(1, polls.append)
    net.run(0.2)
    assert polls[-1] is MacStatus.SUCCESS and child.payloads == [b"try again"]
    assert coord.statuses == [MacStatus.SUCCESS]


# --- security ----------------------------------------------------------------------------------


def secured(key: bytes = KEY, **kwargs: object) -> MacConfig:
    return MacConfig(security=MacSecurity(keys={1: key}, **kwargs))  # type: ignore[arg-type]


def test_a_secured_exchange_encrypts_and_authenticates() -> None:
    net = network((0, 0), (30, 0), configs=[secured(), secured()])
    a, b = net.nodes
    secret = b"the secret payload"
    a.send(b.mac.ext_address, secret)
    net.run(0.05)
    b.send(BROADCAST, b"secured broadcast")
    net.run(0.05)
    assert a.statuses == b.statuses == [MacStatus.SUCCESS]
    assert b.payloads == [secret] and b.got[0].security_level == 5
    assert a.payloads == [b"secured broadcast"]
    assert all(secret not in psdu for _, psdu in net.psdus())
    data = [f for _, f in net.frames() if f.frame_type == FrameType.DATA]
    assert all(f.security is not None and f.security.key_index == 1 for f in data)
    assert a.mac.frame_counter == 1 and b.mac.frame_counter == 1
    assert a.mac.max_payload(b.mac.ext_address) == 127 - (2 + 1 + 2 + 8 + 8 + 6 + 4 + 2)


def test_a_replayed_secured_frame_is_dropped_and_counted() -> None:
    net = network((0, 0), (30, 0), configs=[secured(), secured()])
    a, b = net.nodes
    for i in range(3):
        a.send(b.mac.ext_address, bytes([i]) * 4)
    net.run(0.1)
    assert len(b.got) == 3
    recorded = [
        psdu for _, psdu in net.psdus() if Ieee802154Frame.parse(psdu).frame_type == FrameType.DATA
    ]
    attacker = net.medium.add_radio((10, 10))
    attacker.tx(recorded[0], csma=True)  # an old frame: its counter is below the last
    net.run(0.01)
    assert b.mac.stats()["rx_replays"] == 1
    net.run(1.5)  # the duplicate table no longer vouches for the last one either
    attacker.tx(recorded[2], csma=True)
    net.run(0.01)
    assert b.mac.stats()["rx_replays"] == 2 and len(b.got) == 3


def test_a_node_with_the_wrong_key_cannot_talk() -> None:
    net = network((0, 0), (30, 0), configs=[secured(), secured(WRONG_KEY)])
    a, intruder = net.nodes
    intruder.send(a.mac.ext_address, b"let me in")
    a.send(intruder.mac.ext_address, b"who are you")
    net.run(0.1)
    assert a.got == [] and intruder.got == []
    for node in (a, intruder):
        stats = node.mac.stats()
        assert stats["rx_security_failures"] == stats["rx_security_mic_mismatch"] == 1


def test_an_unsecured_frame_is_dropped_by_a_secured_node() -> None:
    net = network((0, 0), (30, 0), configs=[secured(), MacConfig()])
    a, plain = net.nodes
    plain.send(a.mac.ext_address, b"in the clear")
    net.run(0.05)
    assert a.got == [] and a.mac.stats()["rx_unsecured_dropped"] == 1
    # and the plain node has no key for a secured one
    a.send(plain.mac.ext_address, b"secured")
    net.run(0.05)
    assert plain.got == [] and plain.mac.stats()["rx_security_unsupported_security"] == 1


def test_a_frame_below_the_minimum_level_is_dropped() -> None:
    net = network((0, 0), (30, 0), configs=[secured(level=1), secured()])
    a, b = net.nodes
    a.send(b.mac.ext_address, b"MIC only")
    net.run(0.05)
    assert b.got == [] and b.mac.stats()["rx_security_improper_security_level"] == 1


def test_a_short_source_needs_the_neighbours_extended_address() -> None:
    net = network(
        (0, 0),
        (30, 0),
        configs=[
            MacConfig(short_address=1, security=MacSecurity(keys={1: KEY})),
            MacConfig(short_address=2, security=MacSecurity(keys={1: KEY})),
        ],
    )
    a, b = net.nodes
    a.send(2, b"who is 1?")
    net.run(0.05)
    assert b.got == [] and b.mac.stats()["rx_security_missing_source"] == 1
    b.mac.add_neighbour(1, a.mac.ext_address)
    a.send(2, b"I am 1")
    net.run(0.05)
    assert b.payloads == [b"I am 1"] and b.got[0].src == 1


@pytest.mark.parametrize("version", [FrameVersion.V2006, FrameVersion.V2015])
def test_frame_versions_2006_and_2015_carry_secured_data(version: FrameVersion) -> None:
    configs = [MacConfig(frame_version=version, security=MacSecurity(keys={1: KEY})) for _ in "ab"]
    net = network((0, 0), (30, 0), configs=configs)
    a, b = net.nodes
    a.send(b.mac.ext_address, b"versioned")
    net.run(0.05)
    assert a.statuses == [MacStatus.SUCCESS] and b.payloads == [b"versioned"]
    assert net.frames()[0][1].version == version


@pytest.mark.parametrize("mode", [2, 3])
def test_key_identifier_modes_2_and_3_name_the_key_by_source_and_index(mode: int) -> None:
    source = bytes.fromhex("a1b2c3d4e5f60718")[: 4 if mode == 2 else 8]
    other = bytes(len(source))

    def config(tx_source: bytes) -> MacConfig:
        keys = {(source, 5): KEY, (other, 5): WRONG_KEY, (source, 6): WRONG_KEY}
        security = MacSecurity(key_id_mode=mode, source_keys=keys, tx_key_source=tx_source,
                               tx_key_index=5)  # fmt: skip
        return MacConfig(security=security)

    net = network((0, 0), (30, 0), (0, 30), configs=[config(source), config(source),
                                                     config(other)])  # fmt: skip
    a, b, c = net.nodes
    a.send(b.mac.ext_address, b"by source and index")
    net.run(0.05)
    assert b.payloads == [b"by source and index"] and b.got[0].security_level == 5
    aux = net.frames()[0][1].security
    assert aux is not None and aux.key_id_mode == mode
    assert aux.key_source == source and aux.key_index == 5
    # c sends under (other, 5): b holds that key too, so it verifies, and the replay table
    # keeps the two keys apart
    c.send(b.mac.ext_address, b"other source")
    net.run(0.05)
    assert b.payloads[-1] == b"other source"
    # a node that lacks the (source, index) pair cannot read a's frames
    lacking = MacSecurity(key_id_mode=mode, source_keys={(other, 5): KEY}, tx_key_source=other)
    net2 = network((0, 0), (30, 0), configs=[config(source), MacConfig(security=lacking)])
    sender, receiver = net2.nodes
    sender.send(receiver.mac.ext_address, b"unreadable")
    net2.run(0.05)
    assert receiver.got == [] and receiver.mac.stats()["rx_security_unavailable_key"] == 1


@pytest.mark.parametrize(
    ("security", "message"),
    [
        (MacSecurity(), "at least one key"),
        (MacSecurity(keys={1: KEY}, key_id_mode=2), "4-octet tx_key_source"),
        (MacSecurity(source_keys={(bytes(8), 1): KEY}, key_id_mode=3), "8-octet tx_key_source"),
        (MacSecurity(source_keys={(bytes(3), 1): KEY}, key_id_mode=2), "4 or 8 octets"),
        (
            MacSecurity(
                source_keys={(bytes(4), 1): KEY},
                key_id_mode=2,
                tx_key_source=bytes(4),
                tx_key_index=2,
            ),
            "index 2",
        ),
        (MacSecurity(source_keys={(bytes(4), 1): KEY}, key_id_mode=1), "table"),
        (MacSecurity(keys={1: KEY}, key_id_mode=4), "not 0..3"),
    ],
)
def test_security_policies_that_cannot_work_are_refused(
    security: MacSecurity, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        network((0, 0), configs=[MacConfig(security=security)])


# --- determinism -------------------------------------------------------------------------------


def scenario(seed: int) -> bytes:
    """Secured traffic over hidden terminals, a broadcast and an active scan: the capture."""
    configs = [
        MacConfig(short_address=i + 1, security=MacSecurity(keys={1: KEY})) for i in range(3)
    ]
    configs[0].coordinator = True
    configs[0].beacon_payload = b"coord"
    net = network((0, 0), (40, 0), (80, 0), configs=configs, seed=seed)
    a, b, c = net.nodes
    for node in net.nodes:
        for short, other in enumerate(net.nodes, 1):
            if other is not node:
                node.mac.add_neighbour(short, other.mac.ext_address)
    for i in range(10):
        a.send(2, bytes([i]) * 30)
        c.send(2, bytes([i]) * 30)
    b.send(BROADCAST, b"hello all")
    b.mac.active_scan([11, 12], 1, lambda _: None)
    net.run(2.0)
    assert b.got and a.statuses and c.statuses
    return net.capture.getvalue()


def test_same_seed_gives_identical_capture_bytes() -> None:
    first = scenario(7)
    assert first == scenario(7)
    assert first != scenario(8)
