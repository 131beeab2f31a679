"""The TCP connection's data paths: retransmission timing (RFC 6298), flow control and the
persist timer, Nagle and delayed ACKs, keepalive, window scaling, timestamps and PAWS,
SACK blocks, buffers. Helpers: ``test_tcp_connection``."""

from __future__ import annotations

import itertools

import pytest
from test_tcp_connection import (
    ACK,
    FIN,
    ISS_A,
    ISS_B,
    PSH,
    Pair,
    Segment,
    drain,
    established,
    events,
    feed,
    hdr,
    our_ts,
    peer_ts,
    tick,
)

from netstack.stacks.core.tcp.connection import (
    Closed,
    Readable,
    TcpConfig,
    TcpConnection,
    TcpState,
    Writable,
)
from netstack.stacks.core.tcp.rto import RtoConfig

# -- retransmission timer (RFC 6298) --------------------------------------------------------


def _ack(
    conn: TcpConnection,
    ack: int,
    now: float,
    *,
    window: int = 65535,
    ts: tuple[int, int] | None = None,
) -> None:
    feed(conn, hdr(ISS_B + 1, ISS_A + ack, window=window, ts=ts), now=now)


def test_rto_follows_rfc_6298_by_hand() -> None:
    cfg = TcpConfig(timestamps=False, rto=RtoConfig(minimum=0.001))
    conn = established(cfg, rtt=0.1, ts=False)
    # SYN at 0, SYN-ACK at 0.1: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR (§2.2)
    assert (conn.rtt.srtt, conn.rtt.rttvar) == pytest.approx((0.1, 0.05))
    assert conn.rtt.rto == pytest.approx(0.3)
    conn.send(b"x" * 100, 1.0)
    drain(conn, 1.0)
    assert conn.get_timer() == pytest.approx(1.3)  # §5.1
    _ack(conn, 101, 1.2)
    # §2.3: RTTVAR = 3/4 0.05 + 1/4 |0.1 - 0.2|, SRTT = 7/8 0.1 + 1/8 0.2
    assert (conn.rtt.srtt, conn.rtt.rttvar) == pytest.approx((0.1125, 0.0625))
    assert conn.rtt.rto == pytest.approx(0.3625)
    assert conn.get_timer() is None  # §5.2: all acknowledged
    conn.send(b"y" * 100, 2.0)
    drain(conn, 2.0)
    assert conn.get_timer() == pytest.approx(2.3625)
    _ack(conn, 201, 2.05)
    assert (conn.rtt.srtt, conn.rtt.rttvar) == pytest.approx((0.1046875, 0.0625))
    assert conn.rtt.rto == pytest.approx(0.3546875)


def test_rto_is_floored_at_the_configured_minimum() -> None:
    conn = established(TcpConfig(timestamps=False), rtt=0.001, ts=False)
    assert conn.rtt.rto == pytest.approx(0.2)


def test_karn_no_sample_from_a_retransmitted_segment() -> None:
    conn = established(TcpConfig(timestamps=False), rtt=0.1, ts=False)
    conn.send(b"x" * 100, 1.0)
    drain(conn, 1.0)
    sent = tick(conn, 1.3)
    assert len(sent) == 1  # the retransmission at 1.3
    srtt = conn.rtt.srtt
    _ack(conn, 101, 2.0)
    assert conn.rtt.srtt == srtt
    assert conn.rtt.current == pytest.approx(2 * 0.3)  # the backoff stays until a sample


def test_timestamps_measure_rtt_even_across_retransmissions() -> None:
    """RFC 7323 §4: the echoed TSval dates the transmission that was acknowledged."""
    conn = established(rtt=0.1)
    conn.send(b"x" * 100, 1.0)
    drain(conn, 1.0)
    ((t, (seg, _)),) = tick(conn, 1.3)
    srtt = conn.rtt.srtt
    assert seg.options is not None and seg.options.timestamp is not None
    _ack(conn, 101, t + 0.1, ts=(peer_ts(t + 0.1), seg.options.timestamp[0]))
    assert conn.rtt.srtt == pytest.approx(0.875 * srtt + 0.125 * 0.1)
    assert conn.rtt.backoffs == 0


def test_retransmission_backs_off_exponentially_and_gives_up() -> None:
    cfg = TcpConfig(timestamps=False, max_retries=3, rto=RtoConfig(initial=1.0, minimum=1.0))
    conn = established(cfg, ts=False)
    assert conn.rtt.rto == 1.0
    conn.send(b"hello", 10.0)
    ((first, _),) = drain(conn, 10.0)
    sent = tick(conn, 1000.0)
    assert [t for t, _ in sent] == [11.0, 13.0, 17.0]
    assert all((seg.seq, body) == (first.seq, b"hello") for _, (seg, body) in sent)
    assert conn.state is TcpState.CLOSED and conn.error == "timeout"
    assert events(conn) == [Closed("timeout")]
    assert conn.stats.timeouts == 3 and conn.stats.retransmissions == 3


def test_rto_cwnd_drops_to_one_segment_and_goes_back_n() -> None:
    conn = established(TcpConfig(timestamps=False), ts=False)
    conn.send(bytes(20 * 1460), 1.0)
    first = drain(conn, 1.0)
    assert len(first) == 10  # RFC 6928 initial window
    sent = tick(conn, 1.2)
    assert [len(body) for _, (_, body) in sent] == [1460]
    assert sent[0][1][0].seq == ISS_A + 1
    assert conn.cc.cwnd == 1460
    _ack(conn, 1 + 1460, 1.3)  # the retransmission is acknowledged: two more go out
    again = drain(conn, 1.3)
    assert [h.seq - ISS_A - 1 for h, _ in again] == [1460, 2920]


def test_user_timeout_gives_up_before_max_retries() -> None:
    cfg = TcpConfig(timestamps=False, user_timeout=5.0, rto=RtoConfig(initial=1.0, minimum=1.0))
    conn = established(cfg, ts=False)
    conn.send(b"x", 10.0)
    drain(conn, 10.0)
    sent = tick(conn, 100.0)
    assert [t for t, _ in sent] == [11.0, 13.0]  # at 17, 17 - 10 >= 5: give up
    assert conn.state is TcpState.CLOSED and conn.error == "timeout"
    assert conn.stats.timeouts == 2


# -- flow control: window, persist, SWS --------------------------------------------------------


def test_zero_window_persist_probes_back_off_and_transfer_resumes() -> None:
    pair = Pair(b_config=TcpConfig(rcvbuf=16384))
    pair.connect()
    data = bytes(range(256)) * 400  # 102400 bytes
    assert pair.a.send(data, pair.now) == len(data)
    pair.run(deadline=60.0)
    assert pair.a.snd_wnd == 0 and pair.server.readable == 16384
    probes = [t for t, h, p in pair.sent("a>b", data=True) if len(p) == 1]
    assert len(probes) >= 6
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    for a, b in itertools.pairwise(gaps):
        assert b == pytest.approx(2 * a) or b == pytest.approx(pair.a.rtt.config.maximum)
    assert pair.a.stats.zero_window_probes == len(probes)
    assert pair.a.state is TcpState.ESTABLISHED  # probes are answered: never gives up
    got = bytearray()

    def read() -> None:
        got.extend(pair.server.recv(1 << 20, pair.now))

    pair.run(until=lambda: len(got) == len(data), each=read)
    assert bytes(got) == data
    assert pair.server.stats.window_updates > 0


def test_persist_never_gives_up_while_probes_are_answered() -> None:
    pair = Pair(TcpConfig(max_retries=3), TcpConfig(rcvbuf=4096))
    pair.connect()
    pair.a.send(bytes(10000), pair.now)
    pair.run(deadline=2000.0)
    assert pair.a.state is TcpState.ESTABLISHED
    assert pair.a.stats.zero_window_probes > 10
    assert pair.a.stats.timeouts == 0


def test_window_update_only_after_reading_enough() -> None:
    """RFC 9293 §3.8.6.2.2: no window update for a small read (receiver SWS)."""
    conn = established(TcpConfig(rcvbuf=20000, window_scaling=False), ws=None)
    seq = ISS_B + 1
    for _ in range(12):
        feed(conn, hdr(seq, ISS_A + 1, PSH, ts=(peer_ts(1.0), 0)), bytes(1448), now=1.0)
        seq += 1448
    ack, _ = drain(conn, 1.0)[-1]
    assert ack.window == 20000 - 12 * 1448
    assert conn.recv(1000, 1.1) and drain(conn, 1.1) == []  # +1000: not worth an update
    conn.recv(3000, 1.2)  # now 4000 more: >= 2 * MSS
    ((update, _),) = drain(conn, 1.2)
    assert update.window == 20000 - 12 * 1448 + 4000
    assert conn.stats.window_updates == 1


def test_data_beyond_the_window_is_trimmed() -> None:
    conn = established(TcpConfig(rcvbuf=3000, window_scaling=False), ws=None)
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, PSH, ts=(peer_ts(1.0), 0)), bytes(5000), now=1.0)
    assert conn.readable == 3000


def test_sender_sws_avoidance_waits_for_a_useful_window() -> None:
    """RFC 9293 §3.8.6.2.1: a sub-MSS segment only when it fills half the largest window
    the peer offered; the persist timer overrides."""
    conn = established(TcpConfig(timestamps=False, nodelay=True), ts=False, window=10000, ws=None)
    conn.send(bytes(20000), 1.0)
    assert [len(p) for _, p in drain(conn, 1.0)] == [1460] * 6  # not the 1240 left over
    _ack(conn, 1 + 8760, 1.1, window=1000)
    assert drain(conn, 1.1) == []  # 1000 < MSS and < 10000 / 2
    _ack(conn, 1 + 8760, 1.2, window=5000)
    assert [len(p) for _, p in drain(conn, 1.2)] == [1460] * 3  # 620 more would be silly
    _ack(conn, 1 + 8760 + 4380, 1.3, window=1000)
    assert drain(conn, 1.3) == []
    assert conn.get_timer() == pytest.approx(1.3 + conn.rtt.rto)  # persist: the override
    ((_, (seg, body)),) = tick(conn, 1.3 + conn.rtt.rto)
    assert len(body) == 1000 and seg.seq == ISS_A + 1 + 8760 + 4380


# -- Nagle and delayed ACKs --------------------------------------------------------------------


def _small_writes(nodelay: bool) -> list[int]:
    pair = Pair(TcpConfig(nodelay=nodelay))
    pair.connect()
    start = len(pair.log)
    for _ in range(3):
        pair.a.send(b"x", pair.now)
        pair.flush()
    return [len(p) for _, d, _, p in pair.log[start:] if d == "a>b"]


def test_nagle_holds_small_segments_while_data_is_unacknowledged() -> None:
    assert _small_writes(nodelay=False) == [1]


def test_nodelay_sends_small_segments_at_once() -> None:
    assert _small_writes(nodelay=True) == [1, 1, 1]


def test_nagle_sends_the_held_bytes_when_the_ack_arrives() -> None:
    conn = established(TcpConfig(timestamps=False), ts=False)
    conn.send(b"a", 1.0)
    drain(conn, 1.0)
    conn.send(b"bc", 1.0)
    conn.send(b"d", 1.0)
    assert drain(conn, 1.0) == []
    _ack(conn, 2, 1.05)
    ((seg, body),) = drain(conn, 1.05)
    assert body == b"bcd" and seg.flags & PSH


def test_delayed_ack_fires_after_the_configured_delay() -> None:
    conn = established(TcpConfig(delayed_ack=0.04))
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, PSH, ts=(peer_ts(1.0), 0)), b"hi", now=1.0)
    assert drain(conn, 1.0) == []
    assert conn.get_timer() == pytest.approx(1.04)
    sent = tick(conn, 2.0)
    assert [(t, seg[0].ack) for t, seg in sent] == [(pytest.approx(1.04), ISS_B + 3)]
    assert conn.stats.delayed_acks == 1


def test_every_second_full_segment_is_acked_at_once() -> None:
    conn = established()
    seq = ISS_B + 1
    acks = []
    for _ in range(6):
        feed(conn, hdr(seq, ISS_A + 1, ts=(peer_ts(1.0), 0)), bytes(conn.mss), now=1.0)
        seq += conn.mss
        acks.append([h.ack for h, _ in drain(conn, 1.0)])
    assert acks == [
        [],
        [ISS_B + 1 + 2 * conn.mss],
        [],
        [ISS_B + 1 + 4 * conn.mss],
        [],
        [ISS_B + 1 + 6 * conn.mss],
    ]


def test_data_is_acked_by_the_reply_it_rides_on() -> None:
    conn = established()
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, PSH, ts=(peer_ts(1.0), 0)), b"question", now=1.0)
    conn.send(b"answer", 1.001)
    ((seg, body),) = drain(conn, 1.001)
    assert body == b"answer" and seg.ack == ISS_B + 9
    assert conn.get_timer() != pytest.approx(1.04)


def test_out_of_order_data_is_acked_at_once_with_sack_blocks() -> None:
    conn = established()
    base = ISS_B + 1
    ts = (peer_ts(1.0), 0)
    feed(conn, hdr(base + 1000, ISS_A + 1, ts=ts), bytes(500), now=1.0)
    ((ack, _),) = drain(conn, 1.0)
    assert ack.ack == base and ack.options.sack_blocks == ((base + 1000, base + 1500),)
    feed(conn, hdr(base + 2000, ISS_A + 1, ts=ts), bytes(500), now=1.0)
    feed(conn, hdr(base + 3000, ISS_A + 1, ts=ts), bytes(500), now=1.0)
    feed(conn, hdr(base + 4000, ISS_A + 1, ts=ts), bytes(500), now=1.0)
    acks = drain(conn, 1.0)
    assert len(acks) == 3 and all(h.ack == base for h, _ in acks)  # one each
    ack, _ = acks[-1]
    # RFC 2018 §4: the most recent block first; three blocks fit beside timestamps
    assert ack.options.sack_blocks == (
        (base + 4000, base + 4500),
        (base + 3000, base + 3500),
        (base + 2000, base + 2500),
    )
    assert conn.stats.ooo_segments == 4
    feed(conn, hdr(base, ISS_A + 1, ts=ts), bytes(1000), now=1.0)  # fills the first hole
    ((ack, _),) = drain(conn, 1.0)
    assert ack.ack == base + 1500 and conn.readable == 1500


# -- keepalive (RFC 1122 §4.2.3.6) ----------------------------------------------------------


def test_keepalive_probes_a_silent_peer_then_times_out() -> None:
    cfg = TcpConfig(keepalive=True, keepidle=100.0, keepintvl=10.0, keepcnt=3)
    conn = established(cfg)
    sent = tick(conn, 1000.0)
    assert [t for t, _ in sent] == [100.0, 110.0, 120.0]
    for _, (seg, body) in sent:
        assert seg.seq == ISS_A and body == b"" and seg.flags & 0xFF == ACK  # SND.NXT - 1
    assert conn.state is TcpState.CLOSED and events(conn) == [Closed("timeout")]
    assert conn.stats.keepalive_probes == 3


def test_answered_keepalives_keep_the_connection() -> None:
    cfg = TcpConfig(keepalive=True, keepidle=100.0, keepintvl=10.0, keepcnt=3)
    pair = Pair(cfg)
    pair.connect()
    pair.run(deadline=1000.0)
    assert pair.a.state is TcpState.ESTABLISHED
    # one per keepidle after the answer to the last: at 100, 200.01, 300.02, ...
    assert pair.a.stats.keepalive_probes == 9


def test_keepalive_idle_counts_from_the_last_segment() -> None:
    cfg = TcpConfig(keepalive=True, keepidle=100.0)
    conn = established(cfg)
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, PSH, ts=(peer_ts(50.0), 0)), b"x", now=50.0)
    assert min(t for t in [conn.get_timer() or 0, 150.0] if t > 51) == pytest.approx(150.0)


# -- options ------------------------------------------------------------------------------------


def test_window_scaling_negotiated_scales_the_window_field() -> None:
    pair = Pair(TcpConfig(rcvbuf=1 << 20), TcpConfig(rcvbuf=1 << 20))
    pair.connect()
    syn = pair.log[0][2]
    assert syn.options.wscale == 5 and syn.window == 65535  # 2**20 >> 5 < 65536
    pair.a.send(bytes(100000), pair.now)
    pair.run(until=lambda: pair.a.writable == pair.a.config.sndbuf)  # all acknowledged
    last = [h for _, h, _ in pair.sent("b>a")][-1]
    assert last.window == ((1 << 20) - 100000) >> 5  # the right edge has not moved
    assert pair.a.snd_wnd == last.window << 5


def test_window_scaling_needs_both_sides() -> None:
    pair = Pair(TcpConfig(rcvbuf=1 << 20), TcpConfig(rcvbuf=1 << 20, window_scaling=False))
    pair.connect()
    assert pair.a.negotiated["window_scaling"] is False
    assert pair.log[1][2].options.wscale is None  # the SYN-ACK does not echo it
    pair.a.send(bytes(200000), pair.now)
    pair.run(until=lambda: pair.server.readable == 200000)
    assert all(h.window <= 65535 for _, h, _ in pair.sent("b>a"))
    assert pair.a.snd_wnd <= 65535


def test_timestamps_off_when_the_peer_does_not_offer_them() -> None:
    conn = established(ts=False)
    conn.send(b"x", 1.0)
    ((seg, _),) = drain(conn, 1.0)
    assert seg.options is None and conn.mss == 1460


def test_paws_drops_an_old_duplicate() -> None:
    """RFC 7323 §5.3: a segment with a TSval older than TS.Recent is dropped and ACKed."""
    conn = established()
    base = ISS_B + 1
    feed(conn, hdr(base, ISS_A + 1, PSH, ts=(peer_ts(2.0), 0)), b"new!", now=2.0)
    assert conn.recv(100, 2.0) == b"new!"
    drain(conn, 2.1)
    # an old segment, same sequence space as fresh data, older timestamp
    feed(conn, hdr(base + 4, ISS_A + 1, PSH, ts=(peer_ts(1.0), 0)), b"old!", now=2.2)
    assert conn.readable == 0 and conn.stats.paws_rejected == 1
    ((ack, _),) = drain(conn, 2.2)
    assert ack.ack == base + 4
    feed(conn, hdr(base + 4, ISS_A + 1, PSH, ts=(peer_ts(2.2), 0)), b"ok!!", now=2.2)
    assert conn.recv(100, 2.2) == b"ok!!"


def test_paws_is_skipped_after_24_idle_days() -> None:
    conn = established()
    later = 25 * 24 * 3600.0
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, PSH, ts=(5, 0)), b"late", now=later)
    assert conn.readable == 4


def test_segments_without_timestamps_are_dropped_once_negotiated() -> None:
    """RFC 7323 §3.2."""
    conn = established()
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, PSH), b"bare", now=1.0)
    assert conn.readable == 0 and conn.stats.dropped == 1


def test_ts_recent_follows_the_in_sequence_segments() -> None:
    conn = established()
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, ts=(peer_ts(1.0), 0)), b"a", now=1.0)
    conn.send(b"x", 1.0)
    ((seg, _),) = drain(conn, 1.0)
    assert seg.options.timestamp == (our_ts(1.0), peer_ts(1.0))


# -- buffers ------------------------------------------------------------------------------------


def test_send_buffer_bounds_send_and_writable_follows_acks() -> None:
    conn = established(TcpConfig(sndbuf=10000, timestamps=False), ts=False)
    assert conn.send(bytes(15000), 1.0) == 10000
    assert conn.writable == 0 and conn.send(b"more", 1.0) == 0
    drain(conn, 1.0)
    _ack(conn, 1 + 5840, 1.1)
    assert conn.writable == 5840
    assert events(conn) == [Writable()]


def test_large_segments_for_segmentation_offload() -> None:
    conn = established(TcpConfig(timestamps=False), ts=False, window=65535, ws=4)
    conn.max_segment = 4 * conn.mss + 100
    conn.send(bytes(12 * 1460), 1.0)
    segs = drain(conn, 1.0)
    assert [len(p) for _, p in segs] == [4 * 1460, 4 * 1460, 2 * 1460]  # cwnd: 10 MSS


def test_recv_returns_eof_after_the_data() -> None:
    conn = established()
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, FIN | PSH, ts=(peer_ts(1.0), 0)), b"bye", now=1.0)
    assert conn.state is TcpState.CLOSE_WAIT and conn.peer_closed is not False
    assert events(conn)[0] == Readable()
    assert conn.recv(100, 1.0) == b"bye"
    assert conn.recv(100, 1.0) == b"" and conn.peer_closed


def test_fin_out_of_order_waits_for_the_data_before_it() -> None:
    conn = established()
    ts = (peer_ts(1.0), 0)
    feed(conn, hdr(ISS_B + 6, ISS_A + 1, FIN, ts=ts), b"world", now=1.0)
    assert conn.state is TcpState.ESTABLISHED and not conn.peer_closed
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, ts=ts), b"hello", now=1.0)
    assert conn.state is TcpState.CLOSE_WAIT
    assert conn.recv(100, 1.0) == b"helloworld" and conn.peer_closed
    acks: list[Segment] = drain(conn, 1.0)
    assert acks[-1][0].ack == ISS_B + 12


# -- regressions found by randomized runs ------------------------------------------------------


def test_pure_acks_after_a_timeout_carry_the_highest_sequence_sent() -> None:
    """After go-back-N, SND.NXT is below what the peer holds; an ACK with that sequence
    number would be unacceptable there (and two such ends ACK each other forever)."""
    conn = established(TcpConfig(timestamps=False), ts=False)
    conn.send(bytes(5 * 1460), 1.0)
    assert len(drain(conn, 1.0)) == 5
    tick(conn, 1.2)  # the timeout resends the first segment only (cwnd = 1 MSS)
    feed(conn, hdr(ISS_B + 1 + 500, ISS_A + 1), b"ooo", now=1.3)  # out of order: ACK now
    ((ack, body),) = drain(conn, 1.3)
    assert body == b"" and ack.seq == ISS_A + 1 + 5 * 1460


def test_answers_to_unacceptable_pure_segments_are_rate_limited() -> None:
    conn = established(TcpConfig(timestamps=False), ts=False)
    for _ in range(5):
        feed(conn, hdr(ISS_B + 1 + 10_000_000, ISS_A + 1), now=1.0)
    assert len(drain(conn, 1.0)) == 1
    for _ in range(3):  # an old data segment is always answered: its ACK may be lost
        feed(conn, hdr(ISS_B - 100, ISS_A + 1), b"old", now=1.1)
    assert len(drain(conn, 1.1)) == 3
    feed(conn, hdr(ISS_B + 1 + 10_000_000, ISS_A + 1), now=1.6)
    assert len(drain(conn, 1.6)) == 1


def test_timeout_retransmits_the_head_into_a_shrunken_window() -> None:
    """RFC 6298 §5.4: the first unacknowledged segment goes out, SWS rules or not."""
    conn = established(TcpConfig(timestamps=False), ts=False, window=10000, ws=None)
    conn.send(bytes(20000), 1.0)
    assert len(drain(conn, 1.0)) == 6
    _ack(conn, 1 + 1460, 1.1, window=700)  # the peer shrinks its window below an MSS
    sent = tick(conn, 2.0)
    assert sent and sent[0][1][0].seq == ISS_A + 1 + 1460


def test_retransmissions_into_a_zero_window_are_probes_while_answered() -> None:
    cfg = TcpConfig(
        timestamps=False, max_retries=2, rto=RtoConfig(initial=1.0, minimum=1.0, maximum=10.0)
    )
    conn = established(cfg, ts=False)
    conn.send(b"x" * 100, 1.0)
    drain(conn, 1.0)
    _ack(conn, 1, 1.05, window=0)  # the window closes with our data in flight
    now = 1.05
    for _ in range(6):  # each retransmission is answered: keep going past max_retries
        deadline = conn.get_timer()
        assert deadline is not None
        now = deadline
        conn.handle_timer(now)
        assert drain(conn, now)
        _ack(conn, 1, now + 0.05, window=0)
    assert conn.state is TcpState.ESTABLISHED and conn.stats.timeouts == 6
    tick(conn, now + 100.0)  # silence: give up once nothing was heard for RTO max
    assert conn.state is TcpState.CLOSED and conn.error == "timeout"


def test_four_sack_blocks_without_timestamps() -> None:
    """RFC 2018 §3: four blocks fit in the 40 option bytes when timestamps are off."""
    conn = established(ts=False)
    base = ISS_B + 1
    for i in range(5):
        feed(conn, hdr(base + 1000 * (i + 1), ISS_A + 1), bytes(100), now=1.0)
    ack, _ = drain(conn, 1.0)[-1]
    assert ack.options is not None and len(ack.options.sack_blocks) == 4
    assert ack.options.sack_blocks[0] == (base + 5000, base + 5100)


def test_a_fin_is_acked_at_once() -> None:
    conn = established()
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, FIN, ts=(peer_ts(1.0), 0)), now=1.0)
    ((ack, _),) = drain(conn, 1.0)
    assert ack.ack == ISS_B + 2 and conn.get_timer() is None
