"""The TCP receiver's out-of-order queue and its RFC 2018 SACK blocks."""

import random

import pytest

from netstack.errors import ParameterError
from netstack.stacks.core.tcp.reassembly import TcpReassemblyQueue
from netstack.stacks.core.tcp.seq import seq_add


class Receiver:
    """rcv_nxt bookkeeping around a queue, as the connection does it."""

    def __init__(self, isn: int = 0, **kwargs) -> None:
        self.q = TcpReassemblyQueue(**kwargs)
        self.rcv_nxt = isn
        self.data = bytearray()

    def segment(self, seq: int, payload: bytes) -> bytes:
        out = self.q.add(self.rcv_nxt, seq, payload)
        self.rcv_nxt = seq_add(self.rcv_nxt, len(out))
        self.data += out
        return out

    def sack(self, max_blocks: int = 3) -> list[tuple[int, int]]:
        return self.q.sack_blocks(self.rcv_nxt, max_blocks)


STREAM = bytes(range(256)) * 64


def test_in_order_segments_are_returned_immediately():
    r = Receiver()
    assert r.segment(0, STREAM[:100]) == STREAM[:100]
    assert r.segment(100, STREAM[100:300]) == STREAM[100:300]
    assert r.q.queued_bytes == 0 and len(r.q) == 0


def test_reverse_order_is_delivered_when_the_gap_fills():
    r = Receiver()
    pieces = [(off, STREAM[off : off + 500]) for off in range(0, 5000, 500)]
    for off, piece in reversed(pieces[1:]):
        assert r.segment(off, piece) == b""
    assert r.q.queued_bytes == 4500
    assert r.q.blocks == [(500, 5000)]
    assert r.segment(0, pieces[0][1]) == STREAM[:5000]
    assert r.rcv_nxt == 5000 and r.q.queued_bytes == 0 and len(r.q) == 0


def test_random_order_with_duplicates_and_overlaps_reconstructs_the_stream():
    rng = random.Random(7)
    data = STREAM[:8000]
    segments = []
    for _ in range(400):
        start = rng.randrange(0, len(data))
        end = min(len(data), start + rng.randrange(1, 700))
        segments.append((start, data[start:end]))
    segments += [(off, data[off : off + 536]) for off in range(0, len(data), 536)]
    rng.shuffle(segments)
    r = Receiver()
    for seq, payload in segments:
        r.segment(seq, payload)
    assert bytes(r.data) == data
    assert r.q.queued_bytes == 0


@pytest.mark.parametrize("isn", [0, 2**32 - 3000])
@pytest.mark.parametrize("seed", range(5))
def test_queue_matches_a_byte_set_model(seed, isn):
    rng = random.Random(seed)
    data = STREAM[:6000]
    r = Receiver(isn)
    received: set[int] = set()
    for _ in range(300):
        start = rng.randrange(0, len(data))
        end = min(len(data), start + rng.randrange(1, 400))
        r.segment(seq_add(isn, start), data[start:end])
        received.update(range(start, end))
        delivered = len(r.data)
        assert bytes(r.data) == data[:delivered]
        held = {n for n in received if n >= delivered}
        assert r.q.queued_bytes == len(held)
        runs = r.q.blocks
        assert sum((e - s) % 2**32 for s, e in runs) == len(held)
        for s_, e_ in runs:  # each run is received data, above rcv_nxt, not adjacent
            lo = (s_ - isn) % 2**32
            hi = lo + (e_ - s_) % 2**32
            assert lo > delivered and set(range(lo, hi)) <= held
            assert lo - 1 not in held and hi not in held
        assert len(r.sack(4)) == min(4, len(runs))
    r.segment(isn, data)
    assert bytes(r.data) == data and r.q.queued_bytes == 0


def test_bytes_below_rcv_nxt_are_trimmed():
    r = Receiver()
    r.segment(0, STREAM[:1000])
    assert r.segment(500, STREAM[500:1500]) == STREAM[1000:1500]
    assert r.segment(0, STREAM[:1500]) == b""  # wholly old
    assert r.q.stats.duplicates == 1


def test_overlapping_segments_keep_the_data_already_held():
    r = Receiver()
    r.segment(1000, b"A" * 500)  # [1000, 1500)
    r.segment(2000, b"B" * 500)  # [2000, 2500)
    # [1200, 2700) overlaps both: only [1500, 2000) and [2500, 2700) are new
    assert r.segment(1200, b"C" * 1500) == b""
    assert r.q.stats.overlaps == 1
    assert r.q.queued_bytes == 500 + 500 + 500 + 200
    assert r.q.blocks == [(1000, 2700)]
    out = r.segment(0, b"D" * 1000)
    assert out == b"D" * 1000 + b"A" * 500 + b"C" * 500 + b"B" * 500 + b"C" * 200


def test_in_order_segment_overlapping_queued_data():
    r = Receiver()
    r.segment(500, b"x" * 500)  # [500, 1000)
    r.segment(1500, b"y" * 500)  # [1500, 2000)
    # an in-order segment covering the first run and half of the gap after it
    assert r.segment(0, b"z" * 1200) == b"z" * 1200
    assert r.q.blocks == [(1500, 2000)] and r.q.queued_bytes == 500
    # the in-order segment is delivered whole; queued bytes it covers are discarded
    assert r.segment(1200, b"w" * 400) == b"w" * 400 + b"y" * 400
    assert r.rcv_nxt == 2000


def test_exact_duplicate_out_of_order_segment_is_dropped():
    r = Receiver()
    r.segment(1000, b"a" * 100)
    r.segment(1000, b"a" * 100)
    r.segment(1020, b"a" * 50)
    assert r.q.stats.duplicates == 2
    assert r.q.queued_bytes == 100
    assert r.q.stats.queued == 1


def test_segments_adjacent_on_both_sides_join_one_block():
    r = Receiver()
    r.segment(1000, b"a" * 100)
    r.segment(1200, b"c" * 100)
    r.segment(1100, b"b" * 100)
    assert r.q.blocks == [(1000, 1300)]
    assert r.segment(0, b"0" * 1000) == b"0" * 1000 + b"a" * 100 + b"b" * 100 + b"c" * 100


def test_sequence_wraparound():
    isn = 2**32 - 700
    r = Receiver(isn)
    data = STREAM[:3000]
    # segments of 500 bytes from isn; the stream wraps after 700 bytes
    pieces = [(seq_add(isn, off), data[off : off + 500]) for off in range(0, 3000, 500)]
    for seq, piece in pieces[2:]:
        r.segment(seq, piece)
    assert r.sack() == [(seq_add(isn, 1000), seq_add(isn, 3000))]
    r.segment(*pieces[1])
    assert r.q.blocks == [(2**32 - 200, 2300)]
    r.segment(*pieces[0])
    assert bytes(r.data) == data
    assert r.rcv_nxt == 2300


def test_segment_straddling_the_wrap_below_rcv_nxt_is_trimmed():
    r = Receiver(20)
    payload = bytes(range(100))  # covers [2**32 - 50, 50)
    assert r.segment(2**32 - 50, payload) == payload[70:]
    assert r.rcv_nxt == 50
    assert r.segment(2**32 - 50, payload) == b""
    assert r.q.stats.duplicates == 1


def test_byte_limit_drops_the_whole_segment():
    r = Receiver(limit_bytes=3000)
    r.segment(1000, b"a" * 1000)
    r.segment(3000, b"b" * 1000)
    r.segment(5000, b"c" * 1500)  # would make 3500
    assert r.q.stats.dropped == 1 and r.q.stats.dropped_bytes == 1500
    assert r.q.queued_bytes == 2000 and r.q.blocks == [(1000, 2000), (3000, 4000)]
    # an overlapping segment is charged only for its new bytes
    r.segment(1500, b"d" * 1500)  # 1000 new bytes -> exactly 3000
    assert r.q.queued_bytes == 3000 and r.q.stats.dropped == 1
    # in-order data is never refused, and drains the queue
    assert r.segment(0, b"z" * 1000) == b"z" * 1000 + b"a" * 1000 + b"d" * 1000 + b"b" * 1000
    assert r.q.queued_bytes == 0


def test_segment_count_limit():
    r = Receiver(limit_segments=3)
    for n in range(5):
        r.segment(1000 + 200 * n, b"s" * 100)
    assert len(r.q) == 3 and r.q.stats.dropped == 2


def test_limits_are_validated():
    with pytest.raises(ParameterError):
        TcpReassemblyQueue(-1)


def test_clear_empties_the_queue():
    r = Receiver()
    r.segment(1000, b"a" * 10)
    r.q.clear()
    assert r.q.queued_bytes == 0 and r.sack() == []


# -- RFC 2018 §4 SACK block order -------------------------------------------------------


def test_sack_blocks_follow_rfc2018_case_3():
    # RFC 2018 §6, Case 3: 8 segments of 500 bytes from 5000; the 2nd, 4th, 6th and 8th
    # are dropped. Each row: the triggering segment, the ACK and the blocks sent.
    r = Receiver(5000)
    seg = {n: (5000 + 500 * (n - 1), bytes([n]) * 500) for n in range(1, 9)}
    r.segment(*seg[1])
    assert (r.rcv_nxt, r.sack()) == (5500, [])
    r.segment(*seg[3])
    assert (r.rcv_nxt, r.sack()) == (5500, [(6000, 6500)])
    r.segment(*seg[5])
    assert (r.rcv_nxt, r.sack()) == (5500, [(7000, 7500), (6000, 6500)])
    r.segment(*seg[7])
    assert (r.rcv_nxt, r.sack()) == (5500, [(8000, 8500), (7000, 7500), (6000, 6500)])
    # "Suppose at this point, the 4th packet is received out of order"
    r.segment(*seg[4])
    assert (r.rcv_nxt, r.sack()) == (5500, [(6000, 7500), (8000, 8500)])
    # "Suppose at this point, the 2nd segment is received"
    r.segment(*seg[2])
    assert (r.rcv_nxt, r.sack()) == (7500, [(8000, 8500)])


def test_first_block_holds_the_latest_segment_even_when_it_is_a_duplicate():
    r = Receiver()
    for seq in (1000, 3000, 5000, 7000):
        r.segment(seq, b"x" * 500)
    assert r.sack() == [(7000, 7500), (5000, 5500), (3000, 3500)]
    r.segment(1000, b"x" * 500)  # duplicate of the oldest block
    assert r.sack() == [(1000, 1500), (7000, 7500), (5000, 5500)]
    assert r.sack(max_blocks=4) == [(1000, 1500), (7000, 7500), (5000, 5500), (3000, 3500)]


def test_growing_block_is_reported_whole_and_once():
    r = Receiver()
    r.segment(1000, b"x" * 500)
    r.segment(3000, b"x" * 500)
    r.segment(1500, b"x" * 500)  # extends the first block
    assert r.sack() == [(1000, 2000), (3000, 3500)]
    r.segment(2000, b"x" * 1000)  # joins both
    assert r.sack() == [(1000, 3500)]


def test_in_order_segment_does_not_claim_the_first_block():
    r = Receiver()
    r.segment(2000, b"x" * 100)
    r.segment(4000, b"x" * 100)
    r.segment(0, b"x" * 500)  # advances the ACK; does not reach the queue
    assert r.sack() == [(4000, 4100), (2000, 2100)]


def test_blocks_not_recently_reported_fill_remaining_room():
    r = Receiver()
    for n in range(20):  # more arrivals than the history remembers
        r.segment(1000 + 1000 * n, b"x" * 100)
    blocks = r.sack(max_blocks=4)
    assert blocks[:3] == [(20_000, 20_100), (19_000, 19_100), (18_000, 18_100)]
    assert len(blocks) == 4 and len(set(blocks)) == 4


def test_sack_blocks_only_above_rcv_nxt():
    r = Receiver()
    r.segment(1000, b"x" * 500)
    r.segment(3000, b"x" * 500)
    r.segment(0, b"x" * 1000)
    assert r.rcv_nxt == 1500
    assert r.sack() == [(3000, 3500)]
    assert r.sack(max_blocks=0) == []
