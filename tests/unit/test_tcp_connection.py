"""The TCP connection machine (RFC 9293): handshakes and option negotiation, RSTs and the
RFC 5961 defences. Closing and the transition table: ``test_tcp_connection_close``; data
paths: ``test_tcp_connection_data``; loss recovery: ``test_tcp_connection_recovery``.

Two ways to drive it, both with an explicit clock:

- a *scripted peer*: hand-built segments fed to one :class:`TcpConnection`, whose output
  is then inspected (``feed`` and ``drain``);
- :class:`Pair`: two connections back to back over a simulated path with a one-way delay
  and optional loss, duplication and reordering, the clock jumping to the next delivery
  or timer.

Every segment in either direction goes through ``TcpHeader.build`` and ``parse`` (with
checksums), so what the tests see is what would be on the wire. The helpers here are
imported by the other ``test_tcp_connection_*`` modules.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from netstack.errors import IsConnectedError, NoConnectionError
from netstack.stacks.core.tcp.connection import (
    Closed,
    Connected,
    Readable,
    TcpConfig,
    TcpConnection,
    TcpState,
)
from netstack.wire.tcp import TcpFlags, TcpHeader, TcpOptions

A_IP = bytes((10, 0, 0, 1))
B_IP = bytes((10, 0, 0, 2))
A_PORT, B_PORT = 40000, 80
ISS_A, ISS_B = 1000, 5000
M = 0xFFFFFFFF
FIN, SYN, RST, PSH, ACK = (
    int(f) for f in (TcpFlags.FIN, TcpFlags.SYN, TcpFlags.RST, TcpFlags.PSH, TcpFlags.ACK)
)
Segment = tuple[TcpHeader, bytes]


# -- scripted peer ----------------------------------------------------------------------


def hdr(
    seq: int,
    ack: int | None = None,
    flags: int = 0,
    window: int = 65535,
    *,
    ts: tuple[int, int] | None = None,
    sack: tuple[tuple[int, int], ...] = (),
    mss: int | None = None,
    ws: int | None = None,
    sackp: bool = False,
    sport: int = B_PORT,
    dport: int = A_PORT,
) -> TcpHeader:
    """A segment from the peer; ``ack`` sets the ACK flag."""
    if ack is not None:
        flags |= ACK
    opts = None
    if ts or sack or mss or ws is not None or sackp:
        opts = TcpOptions(mss=mss, wscale=ws, sack_permitted=sackp, sack_blocks=sack, timestamp=ts)
    return TcpHeader(sport, dport, seq & M, (ack or 0) & M, flags, window, 0, opts)


def feed(conn: TcpConnection, header: TcpHeader, payload: bytes = b"", now: float = 0.0) -> None:
    """Deliver a segment from the peer, through build and parse."""
    data = header.build(payload, src=B_IP, dst=A_IP)
    parsed, body = TcpHeader.parse(data, src=B_IP, dst=A_IP)
    conn.receive(parsed, body, now)


def drain(
    conn: TcpConnection, now: float = 0.0, src: bytes = A_IP, dst: bytes = B_IP
) -> list[Segment]:
    """What the connection sends now, as parsed from the wire."""
    out = []
    for seg in conn.packets_to_send(now):
        data = seg.header.build(seg.payload, src=src, dst=dst)
        header, body = TcpHeader.parse(data, src=src, dst=dst)
        out.append((header, bytes(body)))
    return out


def events(conn: TcpConnection) -> list[object]:
    out = []
    while (event := conn.next_event()) is not None:
        out.append(event)
    return out


def flags_of(segment: Segment) -> int:
    return segment[0].flags & 0xFF


def tick(conn: TcpConnection, until: float) -> list[tuple[float, Segment]]:
    """Run only the timers up to ``until``; return what was sent and when."""
    sent: list[tuple[float, Segment]] = []
    while (deadline := conn.get_timer()) is not None and deadline <= until:
        conn.handle_timer(deadline)
        sent.extend((deadline, seg) for seg in drain(conn, deadline))
    return sent


def client(config: TcpConfig | None = None, now: float = 0.0) -> TcpConnection:
    conn = TcpConnection(A_PORT, B_PORT, ISS_A, config or TcpConfig())
    conn.connect(now)
    return conn


def established(
    config: TcpConfig | None = None,
    *,
    now: float = 0.0,
    rtt: float = 0.0,
    window: int = 65535,
    ws: int | None = 7,
    ts: bool = True,
    sackp: bool = True,
    mss: int = 1460,
) -> TcpConnection:
    """A client connection handshaken with a scripted peer (ISS_B) at ``now + rtt``; the
    peer's timestamps are 100000 + milliseconds."""
    conn = client(config, now)
    ((syn, _),) = drain(conn, now)
    t = now + rtt
    feed(
        conn,
        hdr(
            ISS_B,
            ISS_A + 1,
            SYN,
            window,
            mss=mss,
            ws=ws,
            sackp=sackp,
            ts=(peer_ts(t), syn.options.timestamp[0])
            if ts and syn.options and syn.options.timestamp
            else None,
        ),
        now=t,
    )
    assert conn.state is TcpState.ESTABLISHED
    drain(conn, t)
    events(conn)
    return conn


def peer_ts(now: float) -> int:
    return 100000 + int(now * 1000)


def our_ts(now: float) -> int:
    return int(now * 1000) & M


# -- two connections back to back ----------------------------------------------------------

Impair = Callable[[str, TcpHeader, bytes], list[float]]


@dataclass
class Pair:
    """Client ``a`` and server ``b`` (created by ``accept`` from a's SYN) over a path with
    one-way ``delay``. ``impair(direction, header, payload)`` ("a>b" or "b>a") returns the
    extra delays of the copies to deliver: ``[]`` drops, ``[0.0]`` delivers once,
    ``[0.0, 0.001]`` duplicates. ``log`` keeps every segment sent with its time."""

    a_config: TcpConfig = field(default_factory=TcpConfig)
    b_config: TcpConfig = field(default_factory=TcpConfig)
    delay: float = 0.005
    impair: Impair | None = None
    now: float = 0.0
    a: TcpConnection = field(init=False)
    b: TcpConnection | None = None
    log: list[tuple[float, str, TcpHeader, bytes]] = field(default_factory=list)
    a_events: list[object] = field(default_factory=list)
    b_events: list[object] = field(default_factory=list)
    _queue: list[tuple[float, int, str, bytes]] = field(default_factory=list)
    _count: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.a = TcpConnection(A_PORT, B_PORT, ISS_A, self.a_config, ts_offset=7)

    @property
    def server(self) -> TcpConnection:
        assert self.b is not None
        return self.b

    def connect(self) -> None:
        self.a.connect(self.now)
        self.run(
            until=lambda: (
                self.a.state is TcpState.ESTABLISHED
                and self.b is not None
                and self.b.state is TcpState.ESTABLISHED
            )
        )

    def flush(self) -> None:
        for name, conn in (("a>b", self.a), ("b>a", self.b)):
            if conn is None:
                continue
            src, dst = (A_IP, B_IP) if name == "a>b" else (B_IP, A_IP)
            for seg in conn.packets_to_send(self.now):
                data = seg.header.build(seg.payload, src=src, dst=dst)
                self.log.append((self.now, name, seg.header, seg.payload))
                extra = self.impair(name, seg.header, seg.payload) if self.impair else [0.0]
                for e in extra:
                    heapq.heappush(
                        self._queue, (self.now + self.delay + e, next(self._count), name, data)
                    )
            sink = self.a_events if name == "a>b" else self.b_events
            while (event := conn.next_event()) is not None:
                sink.append(event)

    def next_time(self) -> float | None:
        times = [
            t
            for t in (
                self._queue[0][0] if self._queue else None,
                self.a.get_timer(),
                self.b.get_timer() if self.b else None,
            )
            if t is not None
        ]
        return min(times) if times else None

    def step(self) -> bool:
        """Flush, then advance to the next delivery or timer and process it."""
        self.flush()
        t = self.next_time()
        if t is None:
            return False
        self.now = max(self.now, t)
        while self._queue and self._queue[0][0] <= self.now:
            _, _, name, data = heapq.heappop(self._queue)
            if name == "a>b":
                header, body = TcpHeader.parse(data, src=A_IP, dst=B_IP)
                if self.b is None:
                    if header.flags & SYN and not header.flags & ACK:
                        self.b = TcpConnection.accept(
                            header, B_PORT, ISS_B, self.b_config, self.now, ts_offset=900000
                        )
                else:
                    self.b.receive(header, body, self.now)
            else:
                header, body = TcpHeader.parse(data, src=B_IP, dst=A_IP)
                self.a.receive(header, body, self.now)
        for conn in (self.a, self.b):
            if conn is not None and (t := conn.get_timer()) is not None and t <= self.now:
                conn.handle_timer(self.now)
        self.flush()
        return True

    def run(
        self,
        until: Callable[[], bool] | None = None,
        *,
        deadline: float = 1e6,
        each: Callable[[], None] | None = None,
        max_steps: int = 1_000_000,
    ) -> None:
        for _ in range(max_steps):
            if each is not None:
                each()
            self.flush()
            if until is not None and until():
                return
            t = self.next_time()
            if t is None or t > deadline:
                self.now = max(self.now, min(deadline, self.now if t is None else deadline))
                if until is None:
                    return
                raise AssertionError(
                    f"stuck at {self.now}: a {self.a.state}, b {self.b.state if self.b else None}"
                )
            self.step()
        raise AssertionError("too many steps")

    def sent(
        self, direction: str, *, data: bool | None = None
    ) -> list[tuple[float, TcpHeader, bytes]]:
        return [
            (t, h, p)
            for t, d, h, p in self.log
            if d == direction and (data is None or bool(p) == data)
        ]


def lossy(
    rng: random.Random,
    *,
    loss: float = 0.0,
    dup: float = 0.0,
    reorder: float = 0.0,
    jitter: float = 0.01,
) -> Impair:
    def impair(_direction: str, _header: TcpHeader, _payload: bytes) -> list[float]:
        if rng.random() < loss:
            return []
        copies = [rng.uniform(0, jitter) if rng.random() < reorder else 0.0]
        if rng.random() < dup:
            copies.append(rng.uniform(0, jitter))
        return copies

    return impair


def drop_once(direction: str, seqs: set[int]) -> Impair:
    """Drop the first transmission of the data segments starting at these wire seqs."""
    pending = set(seqs)

    def impair(d: str, header: TcpHeader, payload: bytes) -> list[float]:
        if d == direction and payload and header.seq in pending:
            pending.discard(header.seq)
            return []
        return [0.0]

    return impair


# -- the handshake ----------------------------------------------------------------------------


def test_active_open_sends_syn_with_all_options_and_acks_the_syn_ack() -> None:
    conn = client(TcpConfig(), now=2.0)
    assert conn.state is TcpState.SYN_SENT
    ((syn, payload),) = drain(conn, 2.0)
    assert flags_of((syn, payload)) == SYN and syn.seq == ISS_A and payload == b""
    assert syn.window == 65535  # RFC 7323 §2.2: never scaled
    assert syn.options == TcpOptions(mss=1460, wscale=3, sack_permitted=True, timestamp=(2000, 0))
    assert conn.get_timer() == pytest.approx(3.0)  # RFC 6298 §2.1: 1 s
    feed(
        conn,
        hdr(ISS_B, ISS_A + 1, SYN, 29200, mss=1400, ws=7, sackp=True, ts=(777, 2000)),
        now=2.05,
    )
    assert conn.state is TcpState.ESTABLISHED
    assert events(conn) == [Connected()]
    ((ack, body),) = drain(conn, 2.05)
    assert flags_of((ack, body)) == ACK and body == b""
    assert (ack.seq, ack.ack) == (ISS_A + 1, ISS_B + 1)
    assert ack.window == 262144 >> 3
    assert ack.options == TcpOptions(timestamp=(2050, 777))
    assert conn.mss == 1400 - 12  # RFC 6691: the timestamps option comes off the MSS
    assert conn.snd_wnd == 29200  # the SYN-ACK's window is not scaled
    assert conn.negotiated == {"window_scaling": True, "sack": True, "timestamps": True}
    assert conn.rtt.srtt == pytest.approx(0.05)
    assert conn.get_timer() is None


def test_passive_open_negotiates_only_what_the_syn_offered() -> None:
    syn = hdr(ISS_A, None, SYN, 8192, mss=536, sport=A_PORT, dport=B_PORT)
    conn = TcpConnection.accept(syn, B_PORT, ISS_B, TcpConfig(), 1.0)
    assert conn.state is TcpState.SYN_RECEIVED
    ((synack, _),) = drain(conn, 1.0, src=B_IP, dst=A_IP)
    assert synack.flags & 0xFF == SYN | ACK
    assert (synack.seq, synack.ack) == (ISS_B, ISS_A + 1)
    assert synack.options == TcpOptions(mss=1460)  # no WS, SACK-permitted or TS offered
    assert conn.mss == 536
    ack = hdr(ISS_A + 1, ISS_B + 1, 0, 8192, sport=A_PORT, dport=B_PORT)
    conn.receive(ack, b"", 1.1)
    assert conn.state is TcpState.ESTABLISHED
    assert events(conn) == [Connected()]
    assert conn.snd_wnd == 8192
    assert conn.negotiated == {"window_scaling": False, "sack": False, "timestamps": False}


def test_syn_ack_is_retransmitted_on_timeout_and_on_a_duplicate_syn() -> None:
    syn = hdr(ISS_A, None, SYN, 8192, sport=A_PORT, dport=B_PORT)
    conn = TcpConnection.accept(syn, B_PORT, ISS_B, TcpConfig(), 0.0)
    assert len(drain(conn, 0.0)) == 1
    ((t, (again, _)),) = tick(conn, 1.5)
    assert t == pytest.approx(1.0) and again.flags & 0xFF == SYN | ACK and again.seq == ISS_B
    conn.receive(syn, b"", 1.6)  # the peer never saw it and retransmits its SYN
    ((third, _),) = drain(conn, 1.6)
    assert third.flags & 0xFF == SYN | ACK and conn.state is TcpState.SYN_RECEIVED


def test_simultaneous_open() -> None:
    """RFC 9293 §3.5 figure 8: SYNs cross, both answer SYN-ACK, both get established."""
    a = TcpConnection(A_PORT, B_PORT, ISS_A, TcpConfig())
    b = TcpConnection(B_PORT, A_PORT, ISS_B, TcpConfig())
    a.connect(0.0)
    b.connect(0.0)
    ((syn_a, _),) = drain(a)
    ((syn_b, _),) = drain(b, src=B_IP, dst=A_IP)
    a.receive(syn_b, b"", 0.01)
    b.receive(syn_a, b"", 0.01)
    assert a.state is b.state is TcpState.SYN_RECEIVED
    ((synack_a, _),) = drain(a, 0.01)
    ((synack_b, _),) = drain(b, 0.01, src=B_IP, dst=A_IP)
    assert synack_a.flags & 0xFF == SYN | ACK
    assert (synack_a.seq, synack_a.ack) == (ISS_A, ISS_B + 1)
    assert (synack_b.seq, synack_b.ack) == (ISS_B, ISS_A + 1)
    a.receive(synack_b, b"", 0.02)
    b.receive(synack_a, b"", 0.02)
    assert a.state is b.state is TcpState.ESTABLISHED
    assert events(a) == events(b) == [Connected()]
    assert (
        a.negotiated == b.negotiated == {"window_scaling": True, "sack": True, "timestamps": True}
    )
    # data flows both ways afterwards
    a.send(b"ping", 0.03)
    ((seg, body),) = drain(a, 0.03)
    b.receive(seg, body, 0.04)
    assert b.recv(100, 0.04) == b"ping"


def test_syn_retransmissions_back_off_and_give_up() -> None:
    """RFC 6298 §5.5: 1, 2, 4, ... s; syn_retries like Linux tcp_syn_retries."""
    conn = client(TcpConfig(connect_timeout=1000.0, syn_retries=6))
    drain(conn)
    sent = tick(conn, 500.0)
    assert [t for t, _ in sent] == [1, 3, 7, 15, 31, 63]
    assert all(seg[0].flags & 0xFF == SYN and seg[0].seq == ISS_A for _, seg in sent)
    assert conn.state is TcpState.CLOSED and conn.error == "timeout"
    assert events(conn) == [Closed("timeout")]
    assert conn.stats.timeouts == 6


def test_connect_timeout_caps_the_syn_retries() -> None:
    conn = client(TcpConfig(connect_timeout=20.0))
    drain(conn)
    sent = tick(conn, 500.0)
    assert [t for t, _ in sent] == [1, 3, 7, 15]
    assert conn.state is TcpState.CLOSED and events(conn) == [Closed("timeout")]


def test_lost_syn_gives_a_one_segment_window_and_a_three_second_rto() -> None:
    """RFC 5681 §3.1 and RFC 6298 §5.7 after a SYN timeout without timestamps."""
    conn = client(TcpConfig(timestamps=False))
    drain(conn)
    tick(conn, 1.0)
    feed(conn, hdr(ISS_B, ISS_A + 1, SYN, 65535, mss=1460), now=1.2)
    assert conn.state is TcpState.ESTABLISHED
    assert conn.cc.cwnd == conn.mss
    assert conn.rtt.current == 3.0


def test_connect_twice_is_an_error() -> None:
    conn = client()
    with pytest.raises(IsConnectedError):
        conn.connect(0.0)


# -- RSTs and RFC 5961 ---------------------------------------------------------------------


def test_rst_acking_our_syn_means_refused() -> None:
    conn = client()
    drain(conn)
    feed(conn, hdr(0, None, RST), now=0.1)  # no ACK: not acceptable in SYN-SENT
    assert conn.state is TcpState.SYN_SENT
    feed(conn, hdr(0, ISS_A + 1, RST), now=0.1)
    assert conn.state is TcpState.CLOSED and conn.error == "refused"
    assert events(conn) == [Closed("refused")]
    assert drain(conn) == []


def test_syn_ack_with_a_bad_ack_draws_a_reset() -> None:
    """RFC 9293 §3.10.7.3: <SEQ=SEG.ACK><CTL=RST> for an unacceptable ACK in SYN-SENT."""
    conn = client()
    drain(conn)
    feed(conn, hdr(ISS_B, ISS_A + 77, SYN), now=0.1)
    ((rst, _),) = drain(conn)
    assert rst.flags & 0xFF == RST and rst.seq == ISS_A + 77
    assert conn.state is TcpState.SYN_SENT


def test_exact_rst_resets_an_established_connection() -> None:
    conn = established()
    feed(conn, hdr(ISS_B + 1, None, RST), now=1.0)
    assert conn.state is TcpState.CLOSED and conn.error == "reset"
    assert events(conn) == [Closed("reset")]
    assert drain(conn, 1.0) == []
    with pytest.raises(NoConnectionError):
        conn.send(b"x", 1.0)


def test_in_window_rst_not_at_rcv_nxt_draws_a_challenge_ack() -> None:
    """RFC 5961 §3.2."""
    conn = established()
    feed(conn, hdr(ISS_B + 1 + 1000, None, RST), now=1.0)
    assert conn.state is TcpState.ESTABLISHED
    ((ack, body),) = drain(conn, 1.0)
    assert flags_of((ack, body)) == ACK and (ack.seq, ack.ack) == (ISS_A + 1, ISS_B + 1)
    assert conn.stats.challenge_acks == 1


def test_out_of_window_rst_is_ignored() -> None:
    conn = established()
    feed(conn, hdr(ISS_B + 1 + 10_000_000, None, RST), now=1.0)
    feed(conn, hdr(ISS_B - 5, None, RST), now=1.0)
    assert conn.state is TcpState.ESTABLISHED
    assert drain(conn, 1.0) == []


def test_syn_in_established_draws_a_challenge_ack() -> None:
    """RFC 5961 §4.2: whatever its sequence number."""
    conn = established()
    feed(conn, hdr(ISS_B + 100, None, SYN, ts=(peer_ts(1.0), 0)), now=1.0)
    assert conn.state is TcpState.ESTABLISHED
    ((ack, _),) = drain(conn, 1.0)
    assert ack.flags & 0xFF == ACK and ack.ack == ISS_B + 1
    assert conn.stats.challenge_acks == 1


def test_challenge_acks_are_rate_limited() -> None:
    conn = established(TcpConfig(challenge_ack_limit=10))
    for i in range(25):
        feed(conn, hdr(ISS_B + 1 + 100 * (i + 1), None, RST), now=1.0)
    assert len(drain(conn, 1.0)) == 10
    assert conn.stats.challenge_acks == 10 and conn.stats.challenge_acks_suppressed == 15
    feed(conn, hdr(ISS_B + 1 + 100, None, RST), now=2.5)
    assert conn.stats.challenge_acks == 11


def test_ack_of_unsent_data_is_answered_and_dropped() -> None:
    conn = established()
    feed(conn, hdr(ISS_B + 1, ISS_A + 500, PSH, ts=(peer_ts(1.0), 0)), b"data", now=1.0)
    ((ack, _),) = drain(conn, 1.0)
    assert ack.ack == ISS_B + 1  # the data was not taken
    assert conn.readable == 0


def test_too_old_ack_draws_a_challenge_ack() -> None:
    """RFC 5961 §5.2: SEG.ACK below SND.UNA - MAX.SND.WND."""
    conn = established(window=1000, ws=None)
    feed(conn, hdr(ISS_B + 1, ISS_A - 100_000, ts=(peer_ts(1.0), 0)), b"x", now=1.0)
    assert conn.stats.challenge_acks == 1 and conn.readable == 0


def test_unacceptable_ack_in_syn_received_draws_a_reset() -> None:
    syn = hdr(ISS_A, None, SYN, 8192, sport=A_PORT, dport=B_PORT)
    conn = TcpConnection.accept(syn, B_PORT, ISS_B, TcpConfig(), 0.0)
    drain(conn)
    conn.receive(hdr(ISS_A + 1, ISS_B + 9, sport=A_PORT, dport=B_PORT), b"", 0.1)
    ((rst, _),) = drain(conn, 0.1)
    assert rst.flags & 0xFF == RST and rst.seq == ISS_B + 9
    assert conn.state is TcpState.SYN_RECEIVED


def test_rst_in_syn_received_closes_a_passive_connection() -> None:
    syn = hdr(ISS_A, None, SYN, 8192, sport=A_PORT, dport=B_PORT)
    conn = TcpConnection.accept(syn, B_PORT, ISS_B, TcpConfig(), 0.0)
    drain(conn)
    conn.receive(hdr(ISS_A + 1, None, RST, sport=A_PORT, dport=B_PORT), b"", 0.1)
    assert conn.state is TcpState.CLOSED and events(conn) == [Closed("reset")]


def test_a_closed_connection_answers_with_rst() -> None:
    """RFC 9293 §3.10.7.1."""
    conn = established()
    conn.abort(1.0)
    ((rst, _),) = drain(conn, 1.0)
    assert rst.flags & 0xFF == RST | ACK and rst.seq == ISS_A + 1
    feed(conn, hdr(ISS_B + 1, ISS_A + 1), b"late", now=2.0)
    ((rst, _),) = drain(conn, 2.0)
    assert rst.flags & 0xFF == RST and rst.seq == ISS_A + 1
    feed(conn, hdr(ISS_B + 9, None, FIN), now=2.0)
    ((rst, _),) = drain(conn, 2.0)
    assert rst.flags & 0xFF == RST | ACK and (rst.seq, rst.ack) == (0, ISS_B + 10)
    feed(conn, hdr(ISS_B + 9, None, RST), now=2.0)
    assert drain(conn, 2.0) == []


def test_rst_in_time_wait_is_ignored() -> None:
    """RFC 1337."""
    pair = Pair(TcpConfig(msl=1.0))
    pair.connect()
    pair.a.close(pair.now)
    pair.run(until=lambda: pair.a.state is TcpState.FIN_WAIT_2)
    pair.server.close(pair.now)
    pair.run(until=lambda: pair.a.state is TcpState.TIME_WAIT)
    fin = next(h for _, h, _ in pair.sent("b>a") if h.flags & FIN)
    feed(pair.a, hdr(fin.seq + 1, None, RST), now=pair.now)  # exactly RCV.NXT
    assert pair.a.state is TcpState.TIME_WAIT
    assert pair.a.stats.resets_in == 1 and pair.a_events[-1] != Closed("reset")


def test_readable_events_coalesce_until_drained() -> None:
    conn = established()
    for i in range(3):
        feed(conn, hdr(ISS_B + 1 + i, ISS_A + 1, PSH, ts=(peer_ts(1.0), 0)), b"x", now=1.0)
    assert events(conn) == [Readable()]
    assert conn.recv(10, 1.0) == b"xxx"


def test_shutdown_in_syn_received_still_reports_the_connection() -> None:
    a = TcpConnection(A_PORT, B_PORT, ISS_A, TcpConfig())
    a.connect(0.0)
    drain(a)
    feed(a, hdr(ISS_B, None, SYN, mss=1460), now=0.01)  # simultaneous open
    assert a.state is TcpState.SYN_RECEIVED
    a.shutdown_write(0.02)
    assert a.state is TcpState.FIN_WAIT_1
    drain(a, 0.02)
    feed(a, hdr(ISS_B + 1, ISS_A + 1), now=0.03)
    assert events(a) == [Connected()]
    ((fin, _),) = drain(a, 0.03)
    assert fin.flags & FIN and fin.seq == ISS_A + 1
