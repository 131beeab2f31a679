"""TCP connection closing (RFC 9293 §3.6): FIN-WAIT, CLOSING, TIME-WAIT, half-close,
aborts; and the transition table, walked edge by edge. Helpers: ``test_tcp_connection``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import test_tcp_connection as base
from test_tcp_connection import (
    A_PORT,
    ACK,
    B_PORT,
    FIN,
    ISS_A,
    ISS_B,
    PSH,
    RST,
    SYN,
    Pair,
    client,
    drain,
    established,
    events,
    feed,
    flags_of,
    hdr,
    our_ts,
    peer_ts,
    tick,
)

from netstack.errors import NoConnectionError
from netstack.stacks.core.tcp.connection import (
    TRANSITIONS,
    Closed,
    PeerClosed,
    TcpConfig,
    TcpConnection,
    TcpState,
)

# -- closing ----------------------------------------------------------------------------------


def test_active_close_passes_fin_wait_and_time_wait_for_two_msl() -> None:
    pair = Pair(TcpConfig(msl=5.0))
    pair.connect()
    pair.a.close(pair.now)
    assert pair.a.state is TcpState.FIN_WAIT_1
    pair.run(until=lambda: pair.a.state is TcpState.FIN_WAIT_2)
    assert pair.server.state is TcpState.CLOSE_WAIT and pair.server.peer_closed
    assert pair.server.recv(10, pair.now) == b""
    assert PeerClosed() in pair.b_events
    pair.server.close(pair.now)
    assert pair.server.state is TcpState.LAST_ACK
    pair.run(until=lambda: pair.a.state is TcpState.TIME_WAIT)
    entered = pair.now
    pair.run(until=lambda: pair.server.state is TcpState.CLOSED)
    assert pair.b_events[-1] == Closed(None)
    pair.run(until=lambda: pair.a.state is TcpState.CLOSED)
    assert pair.now == pytest.approx(entered + 10.0)
    assert pair.a_events[-1] == Closed(None)
    fins = [h for _, h, _ in pair.sent("a>b") if h.flags & FIN]
    assert len(fins) == 1


def test_time_wait_acks_a_retransmitted_fin_and_restarts_the_timer() -> None:
    conn = established(TcpConfig(msl=10.0))
    conn.close(1.0)
    ((fin, _),) = drain(conn, 1.0)
    assert fin.flags & 0xFF == FIN | ACK and fin.seq == ISS_A + 1
    feed(conn, hdr(ISS_B + 1, ISS_A + 2, FIN, ts=(peer_ts(1.1), our_ts(1.0))), now=1.1)
    assert conn.state is TcpState.TIME_WAIT
    ((ack, _),) = drain(conn, 1.1)
    assert ack.flags & 0xFF == ACK and ack.ack == ISS_B + 2
    assert conn.get_timer() == pytest.approx(21.1)
    feed(conn, hdr(ISS_B + 1, ISS_A + 2, FIN, ts=(peer_ts(5.0), our_ts(1.0))), now=5.0)
    ((again, _),) = drain(conn, 5.0)
    assert again.ack == ISS_B + 2
    assert conn.get_timer() == pytest.approx(25.0)
    tick(conn, 30.0)
    assert conn.state is TcpState.CLOSED and events(conn)[-1] == Closed(None)


def test_simultaneous_close_goes_through_closing() -> None:
    pair = Pair(TcpConfig(msl=1.0), TcpConfig(msl=1.0))
    pair.connect()
    pair.a.close(pair.now)
    pair.server.close(pair.now)
    pair.step()  # both FINs leave and cross
    assert pair.a.state is pair.server.state is TcpState.CLOSING
    fins = [(d, h.flags & 0xFF) for _, d, h, _ in pair.log[-4:]]
    assert fins == [("a>b", FIN | ACK), ("b>a", FIN | ACK), ("a>b", ACK), ("b>a", ACK)]
    pair.run(until=lambda: pair.a.state is TcpState.TIME_WAIT)
    assert pair.server.state is TcpState.TIME_WAIT
    pair.run(until=lambda: pair.a.state is TcpState.CLOSED and pair.server.state is TcpState.CLOSED)
    assert pair.a_events[-1] == pair.b_events[-1] == Closed(None)


def test_fin_and_ack_together_go_from_fin_wait_1_to_time_wait() -> None:
    conn = established()
    conn.close(1.0)
    drain(conn, 1.0)
    feed(conn, hdr(ISS_B + 1, ISS_A + 2, FIN, ts=(peer_ts(1.1), our_ts(1.0))), now=1.1)
    assert conn.state is TcpState.TIME_WAIT


def test_half_close_both_ways() -> None:
    pair = Pair()
    pair.connect()
    pair.a.send(b"request", pair.now)
    pair.a.shutdown_write(pair.now)
    with pytest.raises(NoConnectionError):
        pair.a.send(b"more", pair.now)
    pair.run(until=lambda: pair.server.state is TcpState.CLOSE_WAIT)
    assert pair.server.recv(100, pair.now) == b"request"
    assert pair.server.peer_closed and pair.server.recv(100, pair.now) == b""
    # CLOSE-WAIT keeps sending, FIN-WAIT-2 keeps receiving
    for i in range(5):
        pair.server.send(b"response %d;" % i, pair.now)
        pair.run(until=lambda: pair.a.readable > 0)
        assert pair.a.recv(100, pair.now) == b"response %d;" % i
    assert pair.a.state is TcpState.FIN_WAIT_2
    pair.server.shutdown_write(pair.now)
    pair.run(
        until=lambda: pair.a.state is TcpState.TIME_WAIT and pair.server.state is TcpState.CLOSED
    )
    assert pair.a.peer_closed


def test_close_with_unread_data_resets() -> None:
    """RFC 1122 §4.2.2.13 (as Linux)."""
    conn = established()
    feed(conn, hdr(ISS_B + 1, ISS_A + 1, PSH, ts=(peer_ts(1.0), 0)), b"unread", now=1.0)
    drain(conn, 1.0)
    conn.close(1.1)
    ((rst, _),) = drain(conn, 1.1)
    assert rst.flags & RST and conn.state is TcpState.CLOSED
    assert events(conn)[-1] == Closed("aborted")


def test_data_after_close_resets() -> None:
    conn = established()
    conn.close(1.0)
    drain(conn, 1.0)
    feed(conn, hdr(ISS_B + 1, ISS_A + 2, PSH, ts=(peer_ts(1.1), our_ts(1.0))), b"late", now=1.1)
    ((rst, _),) = drain(conn, 1.1)
    assert rst.flags & RST and conn.state is TcpState.CLOSED


def test_linger_zero_aborts_with_rst() -> None:
    conn = established(TcpConfig(linger=0))
    conn.send(b"never mind", 1.0)
    conn.close(1.0)
    segments = drain(conn, 1.0)
    assert [flags_of(s) for s in segments] == [RST | ACK]
    assert events(conn) == [Closed("aborted")]


def test_fin_wait_2_after_close_times_out() -> None:
    conn = established(TcpConfig(fin_timeout=30.0))
    conn.close(1.0)
    drain(conn, 1.0)
    feed(conn, hdr(ISS_B + 1, ISS_A + 2, ts=(peer_ts(1.1), our_ts(1.0))), now=1.1)
    assert conn.state is TcpState.FIN_WAIT_2
    assert conn.get_timer() == pytest.approx(31.1)
    tick(conn, 40.0)
    assert conn.state is TcpState.CLOSED and events(conn) == [Closed(None)]


def test_shutdown_during_connect_sends_fin_once_established() -> None:
    conn = client()
    conn.send(b"early", 0.0)
    conn.shutdown_write(0.0)
    ((syn, _),) = drain(conn)
    assert syn.flags & 0xFF == SYN  # nothing but the SYN before the handshake
    feed(conn, hdr(ISS_B, ISS_A + 1, SYN, mss=1460), now=0.1)
    assert conn.state is TcpState.FIN_WAIT_1
    ((seg, body),) = drain(conn, 0.1)
    assert body == b"early" and seg.flags & FIN and seg.seq == ISS_A + 1


def test_close_in_syn_sent_just_closes() -> None:
    conn = client()
    drain(conn)
    conn.close(0.5)
    assert conn.state is TcpState.CLOSED and drain(conn, 0.5) == []
    assert events(conn) == [Closed(None)]


def test_close_in_syn_received_sends_fin_after_the_handshake() -> None:
    syn = hdr(ISS_A, None, SYN, 8192, sport=A_PORT, dport=B_PORT)
    conn = TcpConnection.accept(syn, B_PORT, ISS_B, TcpConfig(), 0.0)
    drain(conn)
    conn.close(0.05)
    assert conn.state is TcpState.FIN_WAIT_1
    assert drain(conn, 0.05) == []  # nothing before the SYN is acknowledged
    conn.receive(hdr(ISS_A + 1, ISS_B + 1, sport=A_PORT, dport=B_PORT), b"", 0.1)
    ((fin, _),) = drain(conn, 0.1)
    assert fin.flags & 0xFF == FIN | ACK and fin.seq == ISS_B + 1
    conn.receive(hdr(ISS_A + 1, ISS_B + 2, sport=A_PORT, dport=B_PORT), b"", 0.2)
    assert conn.state is TcpState.FIN_WAIT_2


# -- the transition table ---------------------------------------------------------------------


def test_every_transition_of_the_table_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Walk scenarios that together take every (state, input) of TRANSITIONS, and check
    each change against the table (the machine asserts that too)."""
    seen: set[tuple[TcpState, str]] = set()
    original = TcpConnection._transition

    def spy(self: TcpConnection, event: str, new: TcpState) -> None:
        seen.add((self.state, event))
        original(self, event, new)

    monkeypatch.setattr(TcpConnection, "_transition", spy)
    scenarios: list[Callable[[], None]] = [
        base.test_active_open_sends_syn_with_all_options_and_acks_the_syn_ack,
        base.test_passive_open_negotiates_only_what_the_syn_offered,
        base.test_simultaneous_open,
        base.test_syn_retransmissions_back_off_and_give_up,
        base.test_rst_acking_our_syn_means_refused,
        base.test_exact_rst_resets_an_established_connection,
        base.test_rst_in_syn_received_closes_a_passive_connection,
        test_active_close_passes_fin_wait_and_time_wait_for_two_msl,
        test_simultaneous_close_goes_through_closing,
        test_fin_wait_2_after_close_times_out,
        test_close_in_syn_sent_just_closes,
        test_close_in_syn_received_sends_fin_after_the_handshake,
    ]
    for scenario in scenarios:
        scenario()
    # the rest: resets, timeouts and aborts in each state
    for state_name in ("FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK"):
        for how in ("rst", "abort", "timeout"):
            _drive_to_and_end(state_name, how)
    _drive_to_and_end("SYN_RECEIVED", "abort")
    _drive_to_and_end("SYN_RECEIVED", "timeout")
    _drive_to_and_end("SYN_SENT", "abort")
    _drive_to_and_end("ESTABLISHED", "abort")
    _drive_to_and_end("ESTABLISHED", "timeout")
    _drive_to_and_end("TIME_WAIT", "abort")
    missing = set(TRANSITIONS) - seen
    assert not missing, sorted((s.value, e) for s, e in missing)


def _drive_to_and_end(state_name: str, how: str) -> None:
    state = TcpState[state_name]
    cfg = TcpConfig(
        msl=1.0, max_retries=1, syn_retries=1, keepalive=True, keepidle=5, keepintvl=1, keepcnt=1
    )
    if state is TcpState.SYN_SENT:
        conn = client(cfg)
        drain(conn)
    elif state is TcpState.SYN_RECEIVED:
        conn = TcpConnection.accept(
            hdr(ISS_A, None, SYN, sport=A_PORT, dport=B_PORT), B_PORT, ISS_B, cfg, 0.0
        )
        drain(conn)
    else:
        conn = established(cfg)
        ts = (peer_ts(0.5), our_ts(0.0))
        if state in (TcpState.CLOSE_WAIT, TcpState.LAST_ACK):
            feed(conn, hdr(ISS_B + 1, ISS_A + 1, FIN, ts=ts), now=0.5)
        if state in (
            TcpState.FIN_WAIT_1,
            TcpState.FIN_WAIT_2,
            TcpState.CLOSING,
            TcpState.LAST_ACK,
            TcpState.TIME_WAIT,
        ):
            conn.shutdown_write(0.5)
            drain(conn, 0.5)
        if state in (TcpState.FIN_WAIT_2, TcpState.TIME_WAIT):
            feed(conn, hdr(ISS_B + 1, ISS_A + 2, ts=ts), now=0.5)
        if state is TcpState.CLOSING:
            feed(conn, hdr(ISS_B + 1, ISS_A + 1, FIN, ts=ts), now=0.5)
        if state is TcpState.TIME_WAIT:
            feed(conn, hdr(ISS_B + 1, ISS_A + 2, FIN, ts=ts), now=0.5)
        drain(conn, 0.5)
    assert conn.state is state, (conn.state, state)
    if how == "rst":
        feed(conn, hdr(ISS_B + 1 + conn.peer_closed, None, RST), now=0.6)
    elif how == "abort":
        conn.abort(0.6)
    else:
        tick(conn, 10_000.0)
    assert conn.state is TcpState.CLOSED, (state, how)


def test_transitions_table_matches_rfc_9293_diagram() -> None:
    s = TcpState
    edges = {(a.value, e, b.value) for (a, e), targets in TRANSITIONS.items() for b in targets}
    for edge in [
        ("CLOSED", "connect", "SYN-SENT"),
        ("LISTEN", "rcv SYN", "SYN-RECEIVED"),
        ("SYN-SENT", "rcv SYN", "SYN-RECEIVED"),
        ("SYN-SENT", "rcv SYN-ACK", "ESTABLISHED"),
        ("SYN-RECEIVED", "rcv ACK of SYN", "ESTABLISHED"),
        ("SYN-RECEIVED", "close", "FIN-WAIT-1"),
        ("ESTABLISHED", "close", "FIN-WAIT-1"),
        ("ESTABLISHED", "rcv FIN", "CLOSE-WAIT"),
        ("FIN-WAIT-1", "rcv ACK of FIN", "FIN-WAIT-2"),
        ("FIN-WAIT-1", "rcv FIN", "CLOSING"),
        ("FIN-WAIT-2", "rcv FIN", "TIME-WAIT"),
        ("CLOSE-WAIT", "close", "LAST-ACK"),
        ("CLOSING", "rcv ACK of FIN", "TIME-WAIT"),
        ("LAST-ACK", "rcv ACK of FIN", "CLOSED"),
        ("TIME-WAIT", "2MSL timeout", "CLOSED"),
    ]:
        assert edge in edges
    assert all(targets for targets in TRANSITIONS.values())
    assert (s.TIME_WAIT, "rcv RST") not in TRANSITIONS  # RFC 1337


def test_time_wait_accepts_a_newer_syn_for_a_new_connection() -> None:
    """RFC 6191 §2: the glue may reopen a TIME-WAIT 4-tuple for a newer SYN."""
    for ts in (True, False):
        conn = established(TcpConfig(), ts=ts)
        conn.close(1.0)
        drain(conn, 1.0)
        stamp = (peer_ts(1.1), our_ts(1.0)) if ts else None
        feed(conn, hdr(ISS_B + 1, ISS_A + 2, FIN, ts=stamp), now=1.1)
        assert conn.state is TcpState.TIME_WAIT
        newer = hdr(ISS_B + 100_000, None, SYN, ts=(peer_ts(2.0), 0) if ts else None)
        older = hdr(ISS_B - 100_000, None, SYN, ts=(peer_ts(0.5), 0) if ts else None)
        assert conn.accepts_new_syn(newer)
        assert not conn.accepts_new_syn(older)
        assert not conn.accepts_new_syn(hdr(ISS_B + 100_000, ISS_A, SYN))
