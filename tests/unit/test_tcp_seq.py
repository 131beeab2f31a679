"""32-bit sequence arithmetic (RFC 9293 §3.4), including wraparound."""

import pytest

from netstack.stacks.core.tcp.seq import (
    seq_add,
    seq_between,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_le,
    seq_lt,
)

TOP = 2**32 - 1


def test_add_wraps_modulo_2_32():
    assert seq_add(TOP, 1) == 0
    assert seq_add(TOP - 9, 20) == 10
    assert seq_add(5, -10) == 2**32 - 5


@pytest.mark.parametrize(
    ("a", "b", "diff"),
    [(10, 3, 7), (3, 10, -7), (0, TOP, 1), (TOP, 0, -1), (5, TOP - 4, 10), (7, 7, 0)],
)
def test_diff_is_signed_distance(a, b, diff):
    assert seq_diff(a, b) == diff


def test_comparisons_across_wraparound():
    assert seq_lt(TOP, 0) and seq_le(TOP, 0)
    assert seq_gt(0, TOP) and seq_ge(0, TOP)
    assert seq_lt(TOP - 100, 100)
    assert not seq_lt(100, TOP - 100)
    assert seq_le(42, 42) and seq_ge(42, 42)
    assert not seq_lt(42, 42) and not seq_gt(42, 42)


def test_order_holds_up_to_half_the_space():
    assert seq_lt(0, 2**31 - 1)
    assert seq_gt(0, 2**31 + 1)


def test_between_is_half_open_and_wraps():
    assert seq_between(10, 10, 20)
    assert seq_between(10, 19, 20)
    assert not seq_between(10, 20, 20)
    assert not seq_between(10, 9, 20)
    assert not seq_between(10, 10, 10)
    assert seq_between(TOP - 5, TOP, 5)
    assert seq_between(TOP - 5, 0, 5)
    assert seq_between(TOP - 5, 4, 5)
    assert not seq_between(TOP - 5, 5, 5)
    assert not seq_between(TOP - 5, TOP - 6, 5)


def test_between_ack_acceptability_with_inclusive_right_edge():
    # RFC 9293 §3.10.7.4: SND.UNA < SEG.ACK =< SND.NXT, here across the wrap
    snd_una, snd_nxt = TOP - 1, 3
    candidates = [seq_add(snd_una, n) for n in range(-2, 8)]
    accepted = [
        ack for ack in candidates if seq_between(seq_add(snd_una, 1), ack, seq_add(snd_nxt, 1))
    ]
    assert accepted == [TOP, 0, 1, 2, 3]
