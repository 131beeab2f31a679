"""The pure parts of the 802.15.4 MAC: unslotted CSMA-CA with retransmissions
(IEEE 802.15.4-2015 §6.2.5.1, §6.7.4.3), macMaxFrameTotalWaitTime, and the MAC's bounded
tables (duplicates, indirect queue, neighbour addresses) — no radio, explicit ``now``."""

from __future__ import annotations

import random

import pytest

from netstack.drivers.rfphy import TxStatus
from netstack.stacks.mesh.csma import (
    A_BASE_SUPERFRAME_DURATION,
    A_UNIT_BACKOFF_PERIOD,
    PHY_MAX_FRAME_DURATION,
    CsmaCa,
    CsmaOutcome,
    CsmaParameters,
    max_frame_total_wait_time,
)
from netstack.stacks.mesh.mac_tables import DuplicateFilter, IndirectQueue, NeighbourAddresses

CCA_FAIL, NO_ACK, SUCCESS = TxStatus.CCA_FAIL, TxStatus.NO_ACK, TxStatus.SUCCESS


class RecordingRandom(random.Random):
    """A seeded Random that records the bound of every backoff draw."""

    def __init__(self, seed: int = 1) -> None:
        super().__init__(seed)
        self.bounds: list[int] = []

    def randrange(self, *args: int, **kwargs: int) -> int:  # type: ignore[override]
        (stop,) = args
        self.bounds.append(stop)
        value = super().randrange(stop)
        assert 0 <= value < stop
        return value


def test_constants_are_the_standards() -> None:
    assert A_UNIT_BACKOFF_PERIOD == 20
    assert A_BASE_SUPERFRAME_DURATION == 960
    assert PHY_MAX_FRAME_DURATION == 266  # 10 + (127 + 1) * 2 symbols


def test_first_backoff_is_drawn_from_0_to_2_pow_min_be_minus_1() -> None:
    rng = RecordingRandom()
    csma = CsmaCa(CsmaParameters(), rng)
    values = {csma.start() for _ in range(400)}
    assert values == set(range(8))  # 2^3 - 1 = 7 is the largest
    assert set(rng.bounds) == {8}
    assert (csma.nb, csma.be) == (0, 3)


def test_busy_channel_raises_be_up_to_max_be_then_channel_access_failure() -> None:
    rng = RecordingRandom()
    csma = CsmaCa(CsmaParameters(min_be=3, max_be=5, max_csma_backoffs=4), rng)
    csma.start()
    steps = []
    for _ in range(4):
        assert csma.result(CCA_FAIL) is not None
        steps.append((csma.nb, csma.be))
    assert steps == [(1, 4), (2, 5), (3, 5), (4, 5)]
    assert rng.bounds == [8, 16, 32, 32, 32]
    # The fifth busy CCA exceeds macMaxCSMABackoffs: no retransmission follows.
    assert csma.result(CCA_FAIL) is None
    assert csma.outcome is CsmaOutcome.CHANNEL_ACCESS_FAILURE
    assert csma.attempts == 5 and csma.retries == 0
    with pytest.raises(RuntimeError):
        csma.result(SUCCESS)


def test_a_radio_failure_counts_as_a_busy_channel() -> None:
    csma = CsmaCa(CsmaParameters(max_csma_backoffs=0), random.Random(1))
    csma.start()
    assert csma.result(TxStatus.FAIL) is None
    assert csma.outcome is CsmaOutcome.CHANNEL_ACCESS_FAILURE


def test_missing_ack_restarts_csma_until_max_frame_retries() -> None:
    rng = RecordingRandom()
    csma = CsmaCa(CsmaParameters(max_frame_retries=3), rng)
    csma.start()
    assert csma.result(CCA_FAIL) is not None  # BE 4
    for retry in range(1, 4):
        assert csma.result(NO_ACK) is not None
        assert (csma.retries, csma.nb, csma.be) == (retry, 0, 3)
    assert csma.result(NO_ACK) is None
    assert csma.outcome is CsmaOutcome.NO_ACK and csma.retries == 4
    assert rng.bounds == [8, 16, 8, 8, 8]


def test_ack_with_frame_pending_ends_as_frame_pending() -> None:
    csma = CsmaCa(CsmaParameters(), random.Random(2))
    csma.start()
    assert csma.result(NO_ACK) is not None
    assert csma.result(TxStatus.SUCCESS_PENDING) is None
    assert csma.outcome is CsmaOutcome.FRAME_PENDING and csma.attempts == 2


def test_max_retries_override_sends_once() -> None:
    csma = CsmaCa(CsmaParameters(max_frame_retries=7), random.Random(3), max_retries=0)
    csma.start()
    assert csma.result(NO_ACK) is None and csma.outcome is CsmaOutcome.NO_ACK


def test_start_resets_a_finished_transmission() -> None:
    csma = CsmaCa(CsmaParameters(), random.Random(4))
    csma.start()
    csma.result(SUCCESS)
    csma.start()
    assert csma.outcome is None and csma.attempts == 0


def test_same_seed_same_backoffs() -> None:
    def run(seed: int) -> list[int | None]:
        csma = CsmaCa(CsmaParameters(), random.Random(seed))
        out: list[int | None] = [csma.start()]
        out += [csma.result(status) for status in (CCA_FAIL, NO_ACK, CCA_FAIL, CCA_FAIL)]
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_be": 2}, "macMaxBE"),
        ({"max_be": 9}, "macMaxBE"),
        ({"min_be": 6, "max_be": 5}, "macMinBE"),
        ({"max_csma_backoffs": 6}, "macMaxCSMABackoffs"),
        ({"max_frame_retries": 8}, "macMaxFrameRetries"),
    ],
)
def test_parameters_outside_the_standards_ranges_are_refused(
    kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CsmaParameters(**kwargs)


@pytest.mark.parametrize(
    ("params", "symbols"),
    [
        # m = 2: (8 + 16 + 31 * 2) * 20 + 266
        (CsmaParameters(), 1986),
        # m = 0: 31 * 4 * 20 + 266
        (CsmaParameters(min_be=5, max_be=5), 2746),
        # m = min(8 - 0, 5) = 5: (1 + 2 + 4 + 8 + 16) * 20 + 266
        (CsmaParameters(min_be=0, max_be=8, max_csma_backoffs=5), 886),
    ],
)
def test_max_frame_total_wait_time(params: CsmaParameters, symbols: int) -> None:
    assert max_frame_total_wait_time(params) == symbols


# --- the MAC's tables ---------------------------------------------------------------------------


def test_duplicate_filter_matches_sequence_and_counter_within_its_lifetime() -> None:
    dups = DuplicateFilter(size=2, lifetime=1.0)
    dups.record("a", 7, None, now=10.0)
    assert dups.is_duplicate("a", 7, None, now=10.5)
    assert not dups.is_duplicate("a", 8, None, now=10.5)
    assert not dups.is_duplicate("a", 7, None, now=11.5)  # stale: the DSN may have wrapped
    assert not dups.is_duplicate("b", 7, None, now=10.5)
    dups.record("s", 1, 100, now=0.0)
    assert dups.is_duplicate("s", 1, 100, now=0.0)
    assert not dups.is_duplicate("s", 1, 101, now=0.0)  # a new secured frame, same DSN


def test_duplicate_filter_forgets_the_least_recent_source() -> None:
    dups = DuplicateFilter(size=2)
    dups.record("a", 1, None, 0.0)
    dups.record("b", 1, None, 0.0)
    dups.record("a", 2, None, 0.0)  # a is now the most recent
    dups.record("c", 1, None, 0.0)
    assert len(dups) == 2 and dups.evictions == 1
    assert not dups.is_duplicate("b", 1, None, 0.0)
    assert dups.is_duplicate("a", 2, None, 0.0)


def test_indirect_queue_is_bounded_fifo_per_destination_and_expires() -> None:
    queue: IndirectQueue[str] = IndirectQueue(limit=3, persistence=7.5)
    assert queue.add(1, "one-a", now=0.0)
    assert queue.add(2, "two", now=1.0)
    assert queue.add(1, "one-b", now=2.0)
    assert not queue.add(3, "three", now=2.0) and queue.full
    assert queue.destinations() == [1, 2]
    assert queue.count(1) == 2 and queue.next_expiry() == pytest.approx(7.5)
    assert queue.pop(1) == ("one-a", 7.5)
    assert queue.pop(9) is None
    queue.restore(1, "one-a", 7.5)  # delivery failed: back in front, same expiry
    assert list(queue) == [(1, "one-a"), (2, "two"), (1, "one-b")]
    assert queue.expire(8.0) == ["one-a"]
    assert queue.expire(8.51) == ["two"]
    assert queue.pop("ext", 1) == ("one-b", 9.5)  # any alias matches
    assert len(queue) == 0 and queue.next_expiry() is None


def test_neighbour_addresses_map_both_ways_and_stay_bounded() -> None:
    table = NeighbourAddresses(size=2)
    e1, e2, e3 = (bytes([i]) * 8 for i in (1, 2, 3))
    table.learn(1, e1)
    table.learn(2, e2)
    table.learn(1, e3)  # 1 moved to another device
    assert table.extended(1) == e3 and table.short(e1) is None and table.short(e3) == 1
    table.learn(3, e1)
    assert len(table) == 2 and table.extended(2) is None  # the least recent went
    with pytest.raises(ValueError):
        table.learn(0xFFFE, e1)
    with pytest.raises(ValueError):
        table.learn(4, b"\x00" * 7)
