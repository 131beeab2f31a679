"""TCP loss recovery through two connections back to back: fast retransmit and NewReno
(RFC 5681, RFC 6582), SACK-based recovery (RFC 6675), timeouts during recovery, and bulk
transfers over a lossy, reordering, duplicating path. Helpers: ``test_tcp_connection``."""

from __future__ import annotations

import hashlib
import random

import pytest
from test_tcp_connection import ISS_A, Impair, Pair, drop_once, lossy

from netstack.stacks.core.tcp.connection import TcpConfig, TcpState

MSS = 1460 - 12  # with timestamps (RFC 6691)


def _seq(index: int) -> int:
    """The wire sequence number of the client's data segment ``index`` (from 0)."""
    return ISS_A + 1 + index * MSS


def _transfer(pair: Pair, data: bytes) -> bytes:
    """Connect, send ``data`` from a to b, read it all; return what b read."""
    pair.connect()
    got = bytearray()
    sent = 0

    def pump() -> None:
        nonlocal sent
        if sent < len(data):
            sent += pair.a.send(data[sent : sent + 65536], pair.now)
        got.extend(pair.server.recv(1 << 20, pair.now))

    pair.run(
        until=lambda: len(got) == len(data) and pair.a.writable == pair.a.config.sndbuf, each=pump
    )
    return bytes(got)


def _pair(impair: Impair, *, sack: bool) -> Pair:
    return Pair(TcpConfig(sack=sack), TcpConfig(sack=sack), impair=impair)


DATA = random.Random(1).randbytes(400_000)


def test_newreno_fast_retransmit_of_a_single_loss() -> None:
    pair = _pair(drop_once("a>b", {_seq(40)}), sack=False)
    assert _transfer(pair, DATA) == DATA
    stats = pair.a.stats
    assert (stats.fast_retransmits, stats.timeouts, stats.partial_acks) == (1, 0, 0)
    assert stats.retransmissions == 1 and stats.retransmitted_bytes == MSS
    retransmitted = [h.seq for t, h, p in pair.sent("a>b", data=True) if h.seq == _seq(40)]
    assert len(retransmitted) == 2
    assert pair.server.stats.ooo_segments >= 3


def test_newreno_partial_ack_retransmits_the_next_hole() -> None:
    """RFC 6582 §3.2 step 5: two losses in one window, one fast retransmit."""
    pair = _pair(drop_once("a>b", {_seq(40), _seq(44)}), sack=False)
    assert _transfer(pair, DATA) == DATA
    stats = pair.a.stats
    assert (stats.fast_retransmits, stats.timeouts, stats.partial_acks) == (1, 0, 1)
    assert stats.retransmissions == 2 and stats.retransmitted_bytes == 2 * MSS


def test_sack_recovery_repairs_several_losses_in_one_round_trip() -> None:
    """RFC 6675: SACK says what is missing, every hole is resent once."""
    lost = {_seq(40), _seq(43), _seq(46), _seq(49)}
    pair = _pair(drop_once("a>b", lost), sack=True)
    assert _transfer(pair, DATA) == DATA
    stats = pair.a.stats
    assert (stats.sack_recoveries, stats.timeouts) == (1, 0)
    assert stats.retransmitted_bytes == 4 * MSS
    resent = [h.seq for t, h, p in pair.sent("a>b", data=True)]
    assert all(resent.count(s) == 2 for s in lost)
    assert pair.server.stats.ooo_segments > 0


def test_newreno_with_the_same_losses_takes_longer() -> None:
    lost = {_seq(40), _seq(43), _seq(46), _seq(49)}
    newreno = _pair(drop_once("a>b", lost), sack=False)
    sack = _pair(drop_once("a>b", lost), sack=True)
    assert _transfer(newreno, DATA) == DATA
    assert _transfer(sack, DATA) == DATA
    assert newreno.a.stats.partial_acks == 3
    assert newreno.now > sack.now


def test_lost_retransmission_falls_back_to_the_timer() -> None:
    seq = _seq(40)
    count = 0

    def impair(direction: str, header: object, payload: bytes) -> list[float]:
        nonlocal count
        if direction == "a>b" and payload and getattr(header, "seq", None) == seq:
            count += 1
            if count <= 2:  # the original and the fast retransmission
                return []
        return [0.0]

    for sack in (False, True):
        count = 0
        pair = _pair(impair, sack=sack)
        assert _transfer(pair, DATA) == DATA
        assert pair.a.stats.timeouts == 1 and pair.a.stats.fast_retransmits == 1


def test_timeout_go_back_n_skips_what_the_receiver_sacked() -> None:
    """After an RTO the window is resent from SND.UNA, without the SACKed ranges that
    the ACKs of the resent data report again (RFC 6675 §5.1)."""
    seq = _seq(20)
    tail = {_seq(i) for i in range(21, 60)}
    count = 0

    def impair(direction: str, header: object, payload: bytes) -> list[float]:
        nonlocal count
        hseq = getattr(header, "seq", None)
        if direction == "a>b" and payload and hseq == seq:
            count += 1
            if count <= 2:
                return []
        return [0.0]

    pair = _pair(impair, sack=True)
    assert _transfer(pair, DATA) == DATA
    assert pair.a.stats.timeouts == 1
    resent_tail = [h.seq for t, h, p in pair.sent("a>b", data=True) if h.seq in tail]
    assert len(resent_tail) - len(set(resent_tail)) < 5


@pytest.mark.parametrize(
    ("sack", "timestamps"), [(True, True), (False, True), (True, False), (False, False)]
)
def test_bulk_transfer_both_ways_over_a_lossy_path(sack: bool, timestamps: bool) -> None:
    rng = random.Random(20240501)
    impair = lossy(rng, loss=0.05, dup=0.02, reorder=0.05, jitter=0.008)
    cfg = TcpConfig(sack=sack, timestamps=timestamps, msl=1.0)
    pair = Pair(cfg, cfg, impair=impair, delay=0.01)
    up = random.Random(1).randbytes(3_000_000)
    down = random.Random(2).randbytes(2_000_000)
    pair.connect()
    got_up, got_down = bytearray(), bytearray()
    sent_up = sent_down = 0

    def pump() -> None:
        nonlocal sent_up, sent_down
        a, b, now = pair.a, pair.server, pair.now
        if sent_up < len(up) and a.writable:
            sent_up += a.send(up[sent_up : sent_up + 100_000], now)
            if sent_up == len(up):
                a.shutdown_write(now)
        if sent_down < len(down) and b.writable:
            sent_down += b.send(down[sent_down : sent_down + 100_000], now)
            if sent_down == len(down):
                b.shutdown_write(now)
        got_up.extend(b.recv(1 << 20, now))
        got_down.extend(a.recv(1 << 20, now))

    pair.run(
        until=lambda: pair.a.state is TcpState.CLOSED and pair.server.state is TcpState.CLOSED,
        each=pump,
    )
    assert hashlib.sha256(got_up).digest() == hashlib.sha256(up).digest()
    assert hashlib.sha256(got_down).digest() == hashlib.sha256(down).digest()
    assert pair.a.peer_closed and pair.server.peer_closed
    assert pair.a.error is None and pair.server.error is None
    for stats in (pair.a.stats, pair.server.stats):
        assert stats.retransmissions > 0 and stats.fast_retransmits > 0
    if sack:
        assert pair.a.stats.sack_recoveries > 0
