"""LCP (RFC 1661 §5-6, RFC 1662 §7.1, RFC 1994 §3): options in both directions, magic
numbers and loopback, Echo and keepalive, Protocol-Reject — two machines back to back or
one fed crafted packets, with explicit ``now``."""

from __future__ import annotations

import random

import pytest

from netstack.stacks.ip.ppp.connection import PppConfig, PppConnection
from netstack.stacks.ip.ppp.fsm import FsmConfig, LayerFinished, State
from netstack.stacks.ip.ppp.lcp import AuthProtocol, Lcp, LcpConfig, ProtocolRejected
from netstack.stacks.ip.ppp.ncp import IpcpConfig
from netstack.wire.ppp import (
    ControlCode,
    ControlPacket,
    Deframer,
    LcpOption,
    PppHeader,
    PppProtocol,
    build_options,
    encode_frame,
    parse_options,
)
from ppp_packets import Packet, events, packet, request, sent

Options = list[tuple[int, bytes]]
PAP_OPTION = bytes.fromhex("c023")  # RFC 1334 §2.1
CHAP_MD5_OPTION = bytes.fromhex("c22305")  # RFC 1994 §3
MSCHAP_OPTION = bytes.fromhex("c22380")  # CHAP with algorithm 0x80 (MS-CHAP, RFC 2433)


def make(seed: int = 1, **config: object) -> Lcp:
    return Lcp(LcpConfig(**config), random.Random(seed))  # type: ignore[arg-type]


def start(lcp: Lcp, now: float = 0.0) -> Packet:
    lcp.open(now)
    lcp.up(now)
    (req,) = sent(lcp)
    events(lcp)
    return req


def exchange(a: Lcp, b: Lcp, now: float, limit: int = 100) -> None:
    """Deliver packets both ways until both are quiet."""
    for _ in range(limit):
        out_a, out_b = a.packets_to_send(), b.packets_to_send()
        if not out_a and not out_b:
            return
        for raw in out_a:
            b.receive(raw, now)
        for raw in out_b:
            a.receive(raw, now)
    raise AssertionError("LCP never went quiet")


def negotiate(a: Lcp, b: Lcp, until: float = 60.0) -> float:
    """Open both and run them (packets and timers) until both are Opened or time is up."""
    now = 0.0
    for m in (a, b):
        m.open(now)
        m.up(now)
    while True:
        exchange(a, b, now)
        if a.is_open and b.is_open:
            return now
        deadlines = [t for t in (a.get_timer(), b.get_timer()) if t is not None]
        if not deadlines or min(deadlines) > until:
            return now
        now = min(deadlines)
        a.handle_timer(now)
        b.handle_timer(now)


def opened_pair(
    a_config: LcpConfig | None = None, b_config: LcpConfig | None = None
) -> tuple[Lcp, Lcp]:
    a = Lcp(a_config or LcpConfig(), random.Random(1))
    b = Lcp(b_config or LcpConfig(), random.Random(2))
    negotiate(a, b)
    assert a.is_open and b.is_open
    events(a)
    events(b)
    return a, b


def magic(value: int) -> bytes:
    return value.to_bytes(4, "big")


# --- the default request ------------------------------------------------------------------


def test_default_request_asks_for_accm_0_magic_pfc_acfc_and_no_mru() -> None:
    lcp = make()
    req = start(lcp)
    kinds = [kind for kind, _ in req.options]
    assert kinds == [LcpOption.ACCM, LcpOption.MAGIC_NUMBER, LcpOption.PFC, LcpOption.ACFC]
    options = dict(req.options)
    assert options[LcpOption.ACCM] == b"\0\0\0\0"
    assert options[LcpOption.MAGIC_NUMBER] != b"\0\0\0\0"
    assert options[LcpOption.PFC] == options[LcpOption.ACFC] == b""


def test_two_defaults_open_and_agree() -> None:
    a, b = opened_pair()
    assert a.local.magic == b.peer.magic != 0
    assert b.local.magic == a.peer.magic != 0
    assert a.local.magic != b.local.magic
    assert a.local.accm == a.peer.accm == 0
    assert a.local.mru == a.peer.mru == 1500


# --- MRU ------------------------------------------------------------------------------------


def test_peer_mru_becomes_our_mtu() -> None:
    a, b = opened_pair(LcpConfig(), LcpConfig(mru=1400))
    assert a.peer.mru == 1400  # what a may send b
    assert b.local.mru == 1400
    assert a.local.mru == 1500 and b.peer.mru == 1500  # a did not ask: the default


def test_mru_below_128_is_naked_to_128() -> None:
    lcp = make()
    start(lcp)
    lcp.receive(request(7, [(LcpOption.MRU, (64).to_bytes(2, "big"))]), 1.0)
    (nak,) = sent(lcp)
    assert (nak.code, nak.identifier) == (ControlCode.CONFIGURE_NAK, 7)
    assert nak.options == [(LcpOption.MRU, (128).to_bytes(2, "big"))]


def test_peer_asking_a_tiny_mru_settles_on_128() -> None:
    a, b = opened_pair(LcpConfig(), LcpConfig(mru=100))
    assert a.peer.mru == 128 == b.local.mru


def test_mru_nak_is_taken() -> None:
    lcp = make(mru=4000)
    req = start(lcp)
    assert dict(req.options)[LcpOption.MRU] == (4000).to_bytes(2, "big")
    nak = build_options([(LcpOption.MRU, (1500).to_bytes(2, "big"))])
    lcp.receive(packet(ControlCode.CONFIGURE_NAK, req.identifier, nak), 1.0)
    (again,) = sent(lcp)
    assert dict(again.options)[LcpOption.MRU] == (1500).to_bytes(2, "big")


# --- ACCM (RFC 1662 §7.1) -------------------------------------------------------------------


def test_accm_in_both_directions() -> None:
    a, b = opened_pair(LcpConfig(accm=0x000A0000), LcpConfig())
    assert a.local.accm == 0x000A0000 == b.peer.accm  # b escapes XON/XOFF towards a
    assert a.peer.accm == 0 == b.local.accm


def test_accm_nak_adds_the_peer_characters() -> None:
    lcp = make(accm=0x00000001)
    req = start(lcp)
    nak = build_options([(LcpOption.ACCM, magic(0x000A0000))])
    lcp.receive(packet(ControlCode.CONFIGURE_NAK, req.identifier, nak), 1.0)
    (again,) = sent(lcp)
    assert dict(again.options)[LcpOption.ACCM] == magic(0x000A0001)


def test_accm_reject_drops_it() -> None:
    lcp = make()
    req = start(lcp)
    accm = build_options([(LcpOption.ACCM, magic(0))])
    lcp.receive(packet(ControlCode.CONFIGURE_REJECT, req.identifier, accm), 1.0)
    (again,) = sent(lcp)
    assert LcpOption.ACCM not in dict(again.options)


# --- PFC and ACFC (RFC 1661 §6.5, §6.6) ------------------------------------------------------


def test_pfc_and_acfc_are_recorded_per_direction() -> None:
    a, b = opened_pair(LcpConfig(pfc=True, acfc=False), LcpConfig(pfc=False, acfc=True))
    # a asked for PFC only: b may compress the protocol field towards a.
    assert (a.local.pfc, a.local.acfc) == (True, False)
    assert (b.peer.pfc, b.peer.acfc) == (True, False)
    # b asked for ACFC only: a may drop address and control towards b.
    assert (a.peer.pfc, a.peer.acfc) == (False, True)
    assert (b.local.pfc, b.local.acfc) == (False, True)


def test_pfc_with_data_is_rejected() -> None:
    lcp = make()
    start(lcp)
    lcp.receive(request(8, [(LcpOption.PFC, b"\x01")]), 1.0)
    (rej,) = sent(lcp)
    assert (rej.code, rej.options) == (ControlCode.CONFIGURE_REJECT, [(LcpOption.PFC, b"\x01")])


def test_unknown_and_quality_options_are_rejected() -> None:
    lcp = make()
    start(lcp)
    quality = (LcpOption.QUALITY_PROTOCOL, bytes.fromhex("c02500000064"))
    lcp.receive(request(9, [quality, (0x77, b"zz")]), 1.0)
    (rej,) = sent(lcp)
    assert rej.code == ControlCode.CONFIGURE_REJECT
    assert rej.options == [quality, (0x77, b"zz")]


# --- Authentication-Protocol (RFC 1661 §6.2) -----------------------------------------------


def test_required_auth_is_acked_when_the_peer_supports_it() -> None:
    a, b = opened_pair(LcpConfig(require_auth=AuthProtocol.CHAP), LcpConfig())
    assert a.local.auth is AuthProtocol.CHAP  # b must authenticate to a with CHAP
    assert b.peer.auth is AuthProtocol.CHAP
    assert a.peer.auth is None and b.local.auth is None


@pytest.mark.parametrize("option", [PAP_OPTION, CHAP_MD5_OPTION])
def test_auth_request_we_support_is_acked(option: bytes) -> None:
    lcp = make()
    start(lcp)
    lcp.receive(request(3, [(LcpOption.AUTH_PROTOCOL, option)]), 1.0)
    (ack,) = sent(lcp)
    assert (ack.code, ack.options) == (ControlCode.CONFIGURE_ACK, [(3, option)])


def test_mschap_is_naked_to_chap_md5() -> None:
    lcp = make()
    start(lcp)
    lcp.receive(request(4, [(LcpOption.AUTH_PROTOCOL, MSCHAP_OPTION)]), 1.0)
    (nak,) = sent(lcp)
    assert (nak.code, nak.options) == (ControlCode.CONFIGURE_NAK, [(3, CHAP_MD5_OPTION)])


def test_auth_is_naked_to_our_only_method() -> None:
    lcp = make(auth_methods=(AuthProtocol.PAP,))
    start(lcp)
    lcp.receive(request(5, [(LcpOption.AUTH_PROTOCOL, CHAP_MD5_OPTION)]), 1.0)
    (nak,) = sent(lcp)
    assert (nak.code, nak.options) == (ControlCode.CONFIGURE_NAK, [(3, PAP_OPTION)])


def test_auth_is_rejected_without_credentials() -> None:
    lcp = make(auth_methods=())
    start(lcp)
    lcp.receive(request(6, [(LcpOption.AUTH_PROTOCOL, PAP_OPTION)]), 1.0)
    (rej,) = sent(lcp)
    assert (rej.code, rej.options) == (ControlCode.CONFIGURE_REJECT, [(3, PAP_OPTION)])


def test_required_auth_naked_to_the_other_method_switches() -> None:
    a, b = opened_pair(
        LcpConfig(require_auth=AuthProtocol.PAP),
        LcpConfig(auth_methods=(AuthProtocol.CHAP,)),
    )
    assert a.local.auth is AuthProtocol.CHAP
    assert b.peer.auth is AuthProtocol.CHAP


@pytest.mark.parametrize("suggestion", [PAP_OPTION, MSCHAP_OPTION], ids=["same", "unknown"])
def test_required_auth_naked_to_something_we_do_not_take_closes(suggestion: bytes) -> None:
    lcp = make(require_auth=AuthProtocol.PAP)
    req = start(lcp)
    nak = build_options([(LcpOption.AUTH_PROTOCOL, suggestion)])
    lcp.receive(packet(ControlCode.CONFIGURE_NAK, req.identifier, nak), 1.0)
    assert lcp.state is State.CLOSING
    assert [p.code for p in sent(lcp)] == [ControlCode.TERMINATE_REQUEST]
    lcp.receive(packet(ControlCode.TERMINATE_ACK, 0), 1.1)
    (finished,) = events(lcp)
    assert isinstance(finished, LayerFinished)
    assert "authenticate" in finished.reason


def test_required_auth_rejected_closes_with_peer_refused_to_authenticate() -> None:
    a = Lcp(LcpConfig(require_auth=AuthProtocol.CHAP), random.Random(1))
    b = Lcp(LcpConfig(auth_methods=()), random.Random(2))
    negotiate(a, b, until=5.0)
    assert a.state is State.CLOSED
    finished = [e for e in events(a) if isinstance(e, LayerFinished)]
    assert [e.reason for e in finished] == ["peer refused to authenticate"]
    assert not b.is_open


# --- Magic-Number (RFC 1661 §6.4) ---------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_a_looped_back_link_is_detected_and_closed(seed: int) -> None:
    lcp = make(seed)
    lcp.open(0.0)
    lcp.up(0.0)
    now = 0.0
    finished: list[LayerFinished] = []
    for _ in range(200):  # our output is our input
        out = lcp.packets_to_send()
        for raw in out:
            lcp.receive(raw, now)
        finished += [e for e in events(lcp) if isinstance(e, LayerFinished)]
        if finished:
            break
        if not out:
            deadline = lcp.get_timer()
            assert deadline is not None
            now = deadline
            lcp.handle_timer(now)
    assert lcp.looped_back
    assert lcp.state in (State.CLOSED, State.STOPPED)
    (done,) = finished
    assert "looped back" in done.reason
    assert now < 30.0  # found by the magic numbers, not by giving up


def test_magic_clash_between_two_peers_is_resolved_by_nak() -> None:
    rng_a, rng_b = random.Random(7), random.Random(7)
    a = Lcp(LcpConfig(), rng_a)
    b = Lcp(LcpConfig(), rng_b)
    a.open(0.0)
    b.open(0.0)  # both drew the same magic number
    rng_b.seed(99)  # from here on their generators differ, as two real peers' would
    a.up(0.0)
    b.up(0.0)
    (req_a,) = a.packets_to_send()
    (req_b,) = b.packets_to_send()
    magic_a = dict(parse_options(ControlPacket.parse(req_a)[1]))[LcpOption.MAGIC_NUMBER]
    magic_b = dict(parse_options(ControlPacket.parse(req_b)[1]))[LcpOption.MAGIC_NUMBER]
    assert magic_a == magic_b
    a.receive(req_b, 0.0)
    b.receive(req_a, 0.0)
    exchange(a, b, 0.0)
    assert a.is_open and b.is_open
    assert a.local.magic != b.local.magic
    assert a.local.magic == b.peer.magic and b.local.magic == a.peer.magic
    assert not a.looped_back and not b.looped_back
    assert a.stats["naks_sent"] >= 1 and b.stats["naks_sent"] >= 1


def test_zero_magic_is_naked() -> None:
    lcp = make()
    start(lcp)
    lcp.receive(request(9, [(LcpOption.MAGIC_NUMBER, magic(0))]), 1.0)
    (nak,) = sent(lcp)
    assert nak.code == ControlCode.CONFIGURE_NAK
    ((kind, value),) = nak.options
    assert kind == LcpOption.MAGIC_NUMBER and value != magic(0)


def test_echo_requests_with_our_magic_close_the_link_as_looped() -> None:
    a, _ = opened_pair()
    ours = magic(a.local.magic)
    for ident in range(a.config.max_failure):
        a.receive(packet(ControlCode.ECHO_REQUEST, ident, ours), 5.0)
    assert a.looped_back
    assert a.state is State.CLOSING
    assert all(p.code != ControlCode.ECHO_REPLY for p in sent(a))


# --- Echo and Discard (RFC 1661 §5.8, §5.9) -------------------------------------------------


def test_echo_request_is_answered_with_our_magic() -> None:
    a, b = opened_pair()
    a.receive(packet(ControlCode.ECHO_REQUEST, 0x42, magic(b.local.magic) + b"ping"), 5.0)
    (reply,) = sent(a)
    assert (reply.code, reply.identifier) == (ControlCode.ECHO_REPLY, 0x42)
    assert reply.data == magic(a.local.magic) + b"ping"
    assert a.is_open


def test_echo_reply_and_discard_are_not_answered() -> None:
    a, b = opened_pair()
    a.receive(packet(ControlCode.ECHO_REPLY, 0x43, magic(b.local.magic)), 5.0)
    a.receive(packet(ControlCode.DISCARD_REQUEST, 0x44, magic(b.local.magic) + b"x"), 5.0)
    assert sent(a) == []
    assert a.stats["echo_replies_received"] == 1
    assert a.is_open


def test_two_peers_do_not_ping_pong_echoes() -> None:
    a, b = opened_pair(LcpConfig(echo_interval=0), LcpConfig(echo_interval=0))
    a.receive(packet(ControlCode.ECHO_REQUEST, 1, magic(b.local.magic)), 5.0)
    exchanged = 0
    for _ in range(10):
        out_a, out_b = a.packets_to_send(), b.packets_to_send()
        if not out_a and not out_b:
            break
        exchanged += len(out_a) + len(out_b)
        for raw in out_a:
            b.receive(raw, 5.0)
        for raw in out_b:
            a.receive(raw, 5.0)
    assert exchanged == 1  # a's one Echo-Reply; b does not answer it


def test_echo_request_before_opened_is_not_answered() -> None:
    lcp = make()
    start(lcp)
    lcp.receive(packet(ControlCode.ECHO_REQUEST, 1, magic(5)), 1.0)
    assert sent(lcp) == []


def test_echo_without_magic_is_malformed() -> None:
    a, _ = opened_pair()
    a.receive(packet(ControlCode.ECHO_REQUEST, 1, b"\x01"), 5.0)
    assert a.stats["malformed"] == 1
    assert sent(a) == [] and a.is_open


# --- keepalive ------------------------------------------------------------------------------


def test_keepalive_sends_echo_requests_and_closes_after_unanswered_ones() -> None:
    a, b = opened_pair(LcpConfig(echo_interval=10.0, echo_failures=3), LcpConfig(echo_interval=0))
    assert a.get_timer() == 10.0
    answered_until = 50.0
    times: list[float] = []
    closed_at = None
    while (deadline := a.get_timer()) is not None and deadline <= 200.0:
        now = deadline
        a.handle_timer(now)
        out = sent(a)
        echoes = [p for p in out if p.code == ControlCode.ECHO_REQUEST]
        for echo in echoes:
            assert echo.data == magic(a.local.magic)
            times.append(now)
            if now <= answered_until:  # b answers while the line works
                b.receive(packet(echo.code, echo.identifier, echo.data), now)
                for raw in b.packets_to_send():
                    a.receive(raw, now)
        if any(p.code == ControlCode.TERMINATE_REQUEST for p in out):
            closed_at = now
            assert b"Echo" in out[0].data
            break
    assert times == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
    assert closed_at == 90.0  # after 3 unanswered requests
    assert a.state is State.CLOSING
    assert a.stats["echo_requests_sent"] == 8
    assert a.stats["echo_replies_received"] == 5


def test_no_keepalive_timer_with_echo_interval_zero() -> None:
    a, _ = opened_pair(LcpConfig(echo_interval=0), LcpConfig(echo_interval=0))
    assert a.get_timer() is None


# --- Protocol-Reject (RFC 1661 §5.7) -------------------------------------------------------


def test_received_protocol_reject_is_reported() -> None:
    a, _ = opened_pair()
    a.receive(packet(ControlCode.PROTOCOL_REJECT, 1, bytes.fromhex("8057") + b"\x01\x02"), 5.0)
    assert list(a.rejects) == [ProtocolRejected(PppProtocol.IPV6CP)]
    assert a.stats["protocol_rejects_rx"] == 1
    assert a.is_open  # RXJ+: the link stays


def test_protocol_reject_of_lcp_is_catastrophic() -> None:
    a, _ = opened_pair()
    a.receive(packet(ControlCode.PROTOCOL_REJECT, 1, bytes.fromhex("c021")), 5.0)
    assert a.state is State.STOPPING


def test_protocol_reject_before_opened_is_ignored() -> None:
    lcp = make()
    start(lcp)
    lcp.receive(packet(ControlCode.PROTOCOL_REJECT, 1, bytes.fromhex("8021")), 1.0)
    assert list(lcp.rejects) == []
    assert lcp.state is State.REQ_SENT


def test_protocol_reject_without_protocol_is_malformed() -> None:
    a, _ = opened_pair()
    a.receive(packet(ControlCode.PROTOCOL_REJECT, 1, b"\x80"), 5.0)
    assert a.stats["malformed"] == 1 and list(a.rejects) == []


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    for frame in Deframer().feed(data):
        header, info = PppHeader.parse(frame)
        out.append((header.protocol, bytes(info)))
    return out


def _pump(a: PppConnection, b: PppConnection, now: float) -> None:
    for _ in range(50):
        da, db = a.data_to_send(), b.data_to_send()
        if not da and not db:
            return
        b.receive_data(da, now)
        a.receive_data(db, now)
    raise AssertionError("never quiet")


def test_connection_sends_protocol_reject_for_unknown_protocols_only_when_opened() -> None:
    a = PppConnection(PppConfig(), random.Random(1))
    server = IpcpConfig(local=bytes([10, 0, 0, 1]), peer=bytes([10, 0, 0, 2]))
    b = PppConnection(PppConfig(ipcp=server), random.Random(2))
    unknown = encode_frame(PppHeader.build(0x80FD, b"\x01\x02\x00\x04"))  # CCP
    a.open(0.0)
    first = a.data_to_send()
    a.receive_data(unknown, 0.0)  # LCP not Opened yet
    assert _frames(a.data_to_send()) == []
    assert a.stats["rx_discarded"] == 1
    b.open(0.0)
    b.receive_data(first, 0.0)
    _pump(a, b, 0.0)
    assert a.lcp.is_open
    a.receive_data(unknown, 1.0)
    ((protocol, info),) = _frames(a.data_to_send())
    assert protocol == PppProtocol.LCP
    header, data = ControlPacket.parse(info)
    assert header.code == ControlCode.PROTOCOL_REJECT
    assert bytes(data) == bytes.fromhex("80fd") + b"\x01\x02\x00\x04"
    assert a.stats["rx_unknown_protocol"] == 1


def test_lcp_config_restart_applies() -> None:
    lcp = make(fsm=FsmConfig(restart=1.5))
    start(lcp)
    assert lcp.get_timer() == 1.5
