"""RFC 5227 probing and defence, with an explicit clock."""

import itertools
import random

from netstack.stacks.core.acd import (
    AcdConfig,
    AddressAvailable,
    AddressConflict,
    AddressProbe,
    DefenceTracker,
    ProbeState,
    ProbeToSend,
)

IP = b"\x0a\0\0\x07"
OURS = b"\x02\0\0\0\0\x01"
OTHER = b"\x02\0\0\0\0\x09"


def run_until_done(probe: AddressProbe) -> tuple[list[float], float]:
    sent: list[float] = []
    now = 0.0
    while (when := probe.get_timer()) is not None:
        now = when
        probe.handle_timer(now)
        if probe.packets_to_send(now) == [ProbeToSend(IP)]:
            sent.append(now)
    return sent, now


def test_three_probes_then_available_after_announce_wait():
    probe = AddressProbe(IP, OURS, random.Random(1))
    probe.start(0.0)
    sent, done_at = run_until_done(probe)
    cfg = AcdConfig()
    assert len(sent) == 3
    assert 0.0 <= sent[0] <= cfg.probe_wait  # PROBE_WAIT
    for a, b in itertools.pairwise(sent):
        assert cfg.probe_min <= b - a <= cfg.probe_max  # PROBE_MIN..PROBE_MAX apart
    assert done_at == sent[-1] + cfg.announce_wait  # ANNOUNCE_WAIT
    assert probe.next_event() == AddressAvailable(IP)
    assert probe.state is ProbeState.AVAILABLE


def test_reply_from_another_host_is_a_conflict():
    probe = AddressProbe(IP, OURS, random.Random(1))
    probe.start(0.0)
    probe.handle_timer(probe.get_timer() or 0.0)
    probe.receive(2, OTHER, IP, b"\0\0\0\0", 1.5)
    assert probe.next_event() == AddressConflict(IP, OTHER)
    assert probe.get_timer() is None and probe.done


def test_simultaneous_probe_from_another_host_is_a_conflict():
    probe = AddressProbe(IP, OURS, random.Random(2))
    probe.start(0.0)
    probe.receive(1, OTHER, b"\0\0\0\0", IP, 0.5)  # RFC 5227 §2.1.1
    assert probe.next_event() == AddressConflict(IP, OTHER)


def test_our_own_probes_and_unrelated_traffic_are_ignored():
    probe = AddressProbe(IP, OURS, random.Random(3))
    probe.start(0.0)
    probe.receive(1, OURS, b"\0\0\0\0", IP, 0.1)
    probe.receive(1, OTHER, b"\x0a\0\0\x08", b"\x0a\0\0\x01", 0.2)
    _, _ = run_until_done(probe)
    assert probe.next_event() == AddressAvailable(IP)


def test_defend_once_per_interval_then_give_up():
    tracker = DefenceTracker(AcdConfig(defend_interval=10.0))
    assert tracker.conflict(IP, 0.0) is True  # defend
    assert tracker.conflict(IP, 15.0) is True  # a new interval: defend again
    assert tracker.conflict(IP, 20.0) is False  # second conflict within 10 s: give up
