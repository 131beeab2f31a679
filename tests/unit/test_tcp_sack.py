"""The sender's SACK scoreboard: RFC 2018 blocks, RFC 2883 D-SACK, RFC 6675 queries."""

import random
from bisect import bisect_right

import pytest

from netstack.errors import ParameterError
from netstack.stacks.core.tcp.sack import SackScoreboard
from netstack.stacks.core.tcp.seq import seq_add

MSS = 1000


def board(*blocks: tuple[int, int], una: int = 0, nxt: int = 10_000) -> SackScoreboard:
    sb = SackScoreboard(MSS)
    sb.update(una, list(blocks), nxt)
    return sb


# -- update ---------------------------------------------------------------------------


def test_update_merges_blocks_and_returns_new_bytes():
    sb = SackScoreboard(MSS)
    assert sb.update(0, [(2000, 3000)], 10_000) == 1000
    assert sb.update(0, [(4000, 5000), (2000, 3000)], 10_000) == 1000
    assert sb.blocks == [(2000, 3000), (4000, 5000)]
    # a block bridging both, overlapping each: only the 1000-byte gap is new
    assert sb.update(0, [(2500, 4500)], 10_000) == 1000
    assert sb.blocks == [(2000, 5000)]
    # adjacent blocks merge
    assert sb.update(0, [(5000, 6000)], 10_000) == 1000
    assert sb.blocks == [(2000, 6000)]
    assert sb.sacked_bytes() == 4000
    assert sb.highest_sacked() == 6000
    assert sb.update(0, [(2000, 6000)], 10_000) == 0


def test_update_forgets_everything_below_the_cumulative_ack():
    sb = board((2000, 3000), (4000, 6000))
    assert sb.update(5000, [], 10_000) == 0
    assert sb.blocks == [(5000, 6000)]
    assert sb.sacked_bytes() == 1000
    assert not sb.is_sacked(4500)
    assert sb.update(7000, [], 10_000) == 0
    assert sb.blocks == [] and sb.highest_sacked() is None


def test_blocks_beyond_snd_nxt_or_reversed_are_ignored():
    sb = SackScoreboard(MSS)
    assert sb.update(0, [(9000, 11_000), (3000, 2000), (5000, 5000)], 10_000) == 0
    assert sb.blocks == []
    assert sb.stats.invalid == 3
    # the right edge may equal snd_nxt
    assert sb.update(0, [(9000, 10_000)], 10_000) == 1000


def test_block_straddling_snd_una_is_clipped():
    sb = SackScoreboard(MSS)
    assert sb.update(3000, [(2000, 4000)], 10_000) == 1000
    assert sb.blocks == [(3000, 4000)]


def test_dsack_blocks_are_counted_not_stored():
    sb = SackScoreboard(MSS)
    # RFC 2883 §4.1.1: first block below the cumulative ACK
    assert sb.update(4000, [(1000, 2000), (5000, 6000)], 10_000) == 1000
    assert sb.stats.dsack == 1
    assert sb.blocks == [(5000, 6000)]
    # RFC 2883 §4.1.2: first block inside the second one
    sb.update(4000, [(5000, 5500), (5000, 7000)], 10_000)
    assert sb.stats.dsack == 2
    assert sb.blocks == [(5000, 7000)]
    # an old non-first block below snd_una is stale, not a D-SACK
    sb.update(4000, [(8000, 9000), (1000, 2000)], 10_000)
    assert sb.stats.dsack == 2 and sb.stats.stale == 1


def test_scoreboard_works_across_sequence_wraparound():
    una = 2**32 - 1500
    nxt = seq_add(una, 10_000)
    sb = SackScoreboard(MSS)
    assert sb.update(una, [(seq_add(una, 1000), seq_add(una, 3000))], nxt) == 2000
    assert sb.blocks == [(2**32 - 500, 1500)]
    assert sb.is_sacked(2**32 - 1) and sb.is_sacked(0) and not sb.is_sacked(1500)
    assert sb.highest_sacked() == 1500
    sb.update(una, [(seq_add(una, 4000), seq_add(una, 5000))], nxt)
    assert sb.blocks == [(2**32 - 500, 1500), (2500, 3500)]
    assert sb.update(1000, [], nxt) == 0
    assert sb.blocks == [(1000, 1500), (2500, 3500)]


def test_scoreboard_is_bounded_and_forgets_the_least_recent_range():
    sb = SackScoreboard(MSS, max_blocks=4)
    for n in range(6):
        sb.update(0, [(1000 + 2000 * n, 1500 + 2000 * n)], 100_000)
    assert sb.blocks == [(5000, 5500), (7000, 7500), (9000, 9500), (11_000, 11_500)]
    assert sb.stats.evicted == 2
    assert sb.sacked_bytes() == 4 * 500
    # refreshing a range makes it recent
    sb.update(0, [(5000, 5500)], 100_000)
    sb.update(0, [(20_000, 20_500)], 100_000)
    assert (5000, 5500) in sb.blocks and (7000, 7500) not in sb.blocks


def test_default_bound_is_64_ranges():
    sb = SackScoreboard(MSS)
    for n in range(100):
        sb.update(0, [(1000 + 2000 * n, 1500 + 2000 * n)], 1_000_000)
    assert len(sb.blocks) == 64
    assert sb.sacked_bytes() == sum(e - s for s, e in sb.blocks) == 64 * 500


@pytest.mark.parametrize("una0", [0, 2**32 - 5000])
@pytest.mark.parametrize("seed", range(5))
def test_scoreboard_matches_a_byte_set_model(seed, una0):
    rng = random.Random(seed)
    sb = SackScoreboard(MSS)
    model: set[int] = set()
    una = 0
    for _ in range(200):
        if rng.random() < 0.1:
            una = min(una + rng.randrange(0, 3000), 15_000)
        blocks = []
        for _ in range(rng.randrange(0, 4)):
            start = rng.randrange(una, 20_000)
            blocks.append((start, min(start + rng.randrange(1, 1500), 20_000)))
        model = {n for n in model if n >= una}
        before = len(model)
        for s, e in blocks:
            model.update(range(s, e))
        wire = [(seq_add(una0, s), seq_add(una0, e)) for s, e in blocks]
        assert sb.update(seq_add(una0, una), wire, seq_add(una0, 20_000)) == len(model) - before
        assert sb.sacked_bytes() == len(model)
        ordered = sorted(model)
        starts = [n for n in ordered if n - 1 not in model]
        for probe in rng.sample(range(una, 20_000), 20):
            assert sb.is_sacked(seq_add(una0, probe)) == (probe in model)
            # RFC 6675 IsLost from the model: runs wholly above, or bytes above
            runs_above = len(starts) - bisect_right(starts, probe)
            bytes_above = len(ordered) - bisect_right(ordered, probe)
            lost = runs_above >= 3 or bytes_above > 2 * MSS
            assert sb.is_lost(seq_add(una0, probe)) == lost
    # RFC 6675 SetPipe, octet by octet, from the model (suffix counts from the top down)
    high_rxt = una + 700
    expected = 0
    runs_above = bytes_above = 0
    for n in range(19_999, una - 1, -1):
        if n in model:
            bytes_above += 1
            if n - 1 not in model:
                runs_above += 1
            continue
        lost = runs_above >= 3 or bytes_above > 2 * MSS
        expected += (not lost) + (n < high_rxt)
    assert sb.pipe(seq_add(una0, una), seq_add(una0, 20_000), seq_add(una0, high_rxt)) == expected


def test_clear_drops_all_ranges():
    sb = board((2000, 3000))
    sb.clear()
    assert sb.blocks == [] and sb.sacked_bytes() == 0 and not sb.is_sacked(2500)


def test_invalid_parameters():
    with pytest.raises(ParameterError):
        SackScoreboard(0)
    with pytest.raises(ParameterError):
        SackScoreboard(MSS, dupthresh=0)


# -- IsLost ---------------------------------------------------------------------------


def test_is_lost_by_three_discontiguous_blocks_above():
    sb = board((1000, 1100), (2000, 2100), (3000, 3100))
    assert sb.is_lost(0)  # three SACKed sequences above, only 300 bytes
    assert sb.is_lost(999)
    assert not sb.is_lost(1500)  # two blocks above
    assert not sb.is_lost(3500)


def test_is_lost_by_more_than_dupthresh_minus_one_segments_of_bytes():
    assert not board((1000, 3000)).is_lost(0)  # exactly 2 * SMSS: not more than
    assert board((1000, 3001)).is_lost(0)
    assert board((1000, 2000), (2500, 4000)).is_lost(0)
    # bytes inside a block above seq count from seq + 1
    sb = board((1000, 4000))
    assert sb.is_lost(999)
    assert sb.is_lost(1998)  # 2001 bytes above
    assert not sb.is_lost(1999)  # 2000 bytes above


def test_dupthresh_is_configurable():
    sb = SackScoreboard(MSS, dupthresh=2)
    sb.update(0, [(1000, 1100), (2000, 2100)], 10_000)
    assert sb.is_lost(0)


# -- SetPipe --------------------------------------------------------------------------


def test_pipe_counts_unsacked_not_lost_octets_and_retransmissions():
    # 10 segments out; segments 2-4 SACKed; segment 1 is lost (3 segments above)
    sb = board((1000, 4000))
    assert sb.pipe(0, 10_000, high_rxt=0) == 6000  # segments 5-10 still in flight
    # segment 1 retransmitted: counted once more (RFC 6675 SetPipe step (b))
    assert sb.pipe(0, 10_000, high_rxt=1000) == 7000
    # with no SACK information everything outstanding is in the pipe
    assert SackScoreboard(MSS).pipe(0, 10_000, high_rxt=0) == 10_000


def test_pipe_counts_retransmitted_octets_that_are_not_lost_twice():
    sb = board((5000, 6000))  # one block: nothing is lost yet
    assert sb.pipe(0, 10_000, 0) == 9000
    assert sb.pipe(0, 10_000, 2000) == 11_000  # 2000 retransmitted bytes counted again


def test_pipe_per_octet_matches_the_rfc_definition():
    blocks = [(1000, 2000), (3000, 3500), (5000, 7000), (8000, 8200)]
    sb = board(*blocks)
    high_rxt = 2600
    expected = 0
    for octet in range(0, 10_000):  # RFC 6675 §4 SetPipe, one octet at a time
        if sb.is_sacked(octet):
            continue
        if not sb.is_lost(octet):
            expected += 1
        if octet < high_rxt:
            expected += 1
    assert sb.pipe(0, 10_000, high_rxt) == expected


# -- NextSeg --------------------------------------------------------------------------


def test_next_seg_rule_1_retransmits_the_first_lost_hole():
    sb = board((1000, 4000))
    assert sb.next_seg(0, 10_000, high_rxt=0, high_data=10_000) == (0, 1000)
    # once retransmitted, nothing else below the highest SACK is lost
    assert sb.next_seg(0, 10_000, high_rxt=1000, high_data=10_000) is None


def test_next_seg_rule_1_segments_a_long_hole_into_mss_pieces():
    sb = board((3000, 6000))
    assert sb.next_seg(0, 10_000, 0, 10_000) == (0, 1000)
    assert sb.next_seg(0, 10_000, 1000, 10_000) == (1000, 1000)
    assert sb.next_seg(0, 10_000, 2000, 10_000) == (2000, 1000)
    assert sb.next_seg(0, 10_000, 2500, 10_000) == (2500, 500)


def test_next_seg_prefers_lost_data_then_new_data_then_unsacked_data():
    # hole [0, 2000) lost (three blocks above), hole [2500, 3000) not lost (2 above)
    sb = board((2000, 2500), (3000, 3100), (3500, 3600))
    assert sb.next_seg(0, 5000, 0, high_data=8000) == (0, 1000)  # rule (1)
    assert sb.next_seg(0, 5000, 2000, high_data=8000) == (5000, 1000)  # rule (2)
    assert sb.next_seg(0, 5000, 2000, high_data=5600) == (5000, 600)
    # rule (3): no new data may be sent; the first un-SACKed octet above HighRxt
    assert sb.next_seg(0, 5000, 2000, high_data=5000) == (2500, 500)
    assert sb.next_seg(0, 5000, 2700, high_data=5000) == (2700, 300)
    assert sb.next_seg(0, 5000, 3100, high_data=5000) == (3100, 400)
    # nothing below the highest SACK left to (re)send
    assert sb.next_seg(0, 5000, 3600, high_data=5000) is None


def test_next_seg_without_sack_information_only_offers_new_data():
    sb = SackScoreboard(MSS)
    assert sb.next_seg(0, 5000, 0, 5000) is None
    assert sb.next_seg(0, 5000, 0, 9000) == (5000, 1000)


def test_next_seg_across_wraparound():
    una = 2**32 - 2000
    nxt = seq_add(una, 10_000)
    sb = SackScoreboard(MSS)
    sb.update(una, [(seq_add(una, 1000), seq_add(una, 4000))], nxt)
    assert sb.next_seg(una, nxt, una, nxt) == (una, 1000)
    assert sb.pipe(una, nxt, una) == 6000


def test_rescue_seg_covers_the_highest_unsacked_octet():
    sb = board((1000, 4000))
    assert sb.rescue_seg(0, 10_000) == (9000, 1000)
    sb = board((1000, 4000), (4500, 10_000))
    assert sb.rescue_seg(0, 10_000) == (4000, 500)
    assert board((0, 10_000)).rescue_seg(0, 10_000) is None
