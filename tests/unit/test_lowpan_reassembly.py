"""The 6LoWPAN reassembler: order, overlaps, limits and timeouts (RFC 4944 §5.3)."""

from __future__ import annotations

import random

from netstack.stacks.mesh.reassembly import FragmentReassembler, ReassemblyConfig

SRC, DST = b"\x02" + bytes(7), b"\x03" + bytes(7)
DATA = bytes(random.Random(1).randrange(256) for _ in range(1000))


def key(size: int = len(DATA), tag: int = 7) -> tuple[bytes, bytes, int, int]:
    return (SRC, DST, size, tag)


def pieces(step: int = 96) -> list[tuple[int, bytes]]:
    return [(o, DATA[o : o + step]) for o in range(0, len(DATA), step)]


def test_in_order_and_shuffled_give_the_datagram_once_complete() -> None:
    for order in (pieces(), list(reversed(pieces())), random.Random(2).sample(pieces(), 11)):
        r = FragmentReassembler()
        results = [r.add(key(), offset, chunk, 0.0) for offset, chunk in order]
        assert results[:-1] == [None] * (len(order) - 1)
        assert results[-1] == DATA
        assert len(r) == 0 and r.buffered_bytes == 0


def test_duplicates_and_consistent_overlaps_are_harmless() -> None:
    r = FragmentReassembler()
    assert r.add(key(), 0, DATA[:200], 0.0) is None
    assert r.add(key(), 0, DATA[:200], 0.1) is None  # a retransmitted fragment
    assert r.add(key(), 100, DATA[100:600], 0.2) is None
    assert r.add(key(), 600, DATA[600:], 0.3) == DATA


def test_an_overlap_with_other_bytes_discards_the_datagram() -> None:
    r = FragmentReassembler()
    r.add(key(), 0, DATA[:200], 0.0)
    assert r.add(key(), 96, bytes(200), 0.0) is None
    assert r.stats["overlaps"] == 1 and len(r) == 0


def test_fragments_past_the_datagram_size_are_refused() -> None:
    r = FragmentReassembler()
    assert r.add(key(size=100), 96, bytes(16), 0.0) is None
    assert r.stats["oversize"] == 1 and len(r) == 0


def test_a_datagram_is_given_up_after_the_timeout() -> None:
    r = FragmentReassembler(ReassemblyConfig(timeout=60.0))
    r.add(key(), 0, DATA[:200], 0.0)
    assert r.next_deadline() == 60.0
    r.expire(59.9)
    assert len(r) == 1
    r.expire(60.0)
    assert len(r) == 0 and r.stats["timeouts"] == 1
    # the rest arriving later starts afresh and cannot complete the old one
    assert r.add(key(), 200, DATA[200:], 61.0) is None


def test_limits_evict_the_oldest_under_a_flood_of_first_fragments() -> None:
    cfg = ReassemblyConfig(max_datagrams=4, max_bytes=5000)
    r = FragmentReassembler(cfg)
    for tag in range(1000):
        r.add(key(tag=tag), 0, DATA[:96], tag * 0.001)
        assert len(r) <= 4 and r.buffered_bytes <= 5000
    assert r.stats["evicted"] == 996
    # the newest still completes
    assert r.add(key(tag=999), 96, DATA[96:], 2.0) == DATA


def test_a_datagram_bigger_than_the_whole_budget_is_refused() -> None:
    r = FragmentReassembler(ReassemblyConfig(max_bytes=500))
    assert r.add(key(), 0, DATA[:96], 0.0) is None
    assert len(r) == 0 and r.stats["oversize"] == 1


def test_the_finisher_runs_on_the_whole_datagram() -> None:
    r = FragmentReassembler()
    seen: list[int] = []
    r.add(key(), 0, DATA[:500], 0.0, finish=lambda d: seen.append(len(d)))
    whole = r.add(key(), 500, DATA[500:], 0.0)
    assert whole == DATA and seen == [len(DATA)]
