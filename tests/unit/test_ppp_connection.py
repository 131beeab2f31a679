"""PppConnection (RFC 1661 §3): two connections back to back through an in-test byte pump
with a fake clock — every byte one side writes is delivered to the other (unless the test
drops or garbles it), and timers fire in deadline order."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from netstack.stacks.ip.ppp.connection import (
    Authenticated,
    AuthenticationFailed,
    Ipv4Down,
    Ipv4Pool,
    Ipv4Up,
    Ipv6Up,
    LinkEstablished,
    LinkTerminated,
    Phase,
    PppConfig,
    PppConnection,
    PppEvent,
)
from netstack.stacks.ip.ppp.fsm import State
from netstack.stacks.ip.ppp.lcp import AuthProtocol, LcpConfig
from netstack.stacks.ip.ppp.ncp import IpcpConfig
from netstack.wire.ppp import (
    ControlCode,
    ControlPacket,
    Deframer,
    PppHeader,
    PppProtocol,
    build_options,
    encode_frame,
    fcs16,
)


def ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def server_ipcp() -> IpcpConfig:
    return IpcpConfig(local=ip("10.0.0.1"), peer=ip("10.0.0.2"), dns=(ip("10.0.0.53"),))


SECRETS = {"alice": "wonderland"}
# An IPv4 header's first octets (RFC 791): enough for the link, which does not look inside.
IPV4_PACKET = bytes.fromhex("4500001c00010000401100000a0000020a000001") + b"payload!"
IPV6_PACKET = bytes.fromhex("6000000000083a40") + bytes(32) + b"icmpv6!!"

# (sender "a"/"b", index of the frame among all frames sent both ways, now) -> lose it
Drop = Callable[[str, int, float], bool]
Garble = Callable[[bytes], bytes]


def split_frames(data: bytes) -> list[bytes]:
    """The frames of a ``data_to_send()`` chunk, each with its flags (RFC 1662 §4)."""
    return [b"\x7e" + f + b"\x7e" for f in data.split(b"\x7e") if f]


class Pump:
    """Joins two connections: a fake clock, a byte pump, and what each side saw."""

    def __init__(
        self,
        a: PppConnection,
        b: PppConnection,
        *,
        drop: Drop | None = None,
        garble: Garble | None = None,
    ) -> None:
        self.conns = {"a": a, "b": b}
        self.now = 0.0
        self.drop = drop
        self.garble = garble
        self.events: dict[str, list[PppEvent]] = {"a": [], "b": []}
        self.packets: dict[str, list[tuple[int, bytes]]] = {"a": [], "b": []}
        self.wire: dict[str, bytearray] = {"a": bytearray(), "b": bytearray()}
        self.frames_sent = 0

    @property
    def a(self) -> PppConnection:
        return self.conns["a"]

    @property
    def b(self) -> PppConnection:
        return self.conns["b"]

    def open(self) -> Pump:
        self.a.open(self.now)
        self.b.open(self.now)
        return self

    def _collect(self) -> None:
        for name, conn in self.conns.items():
            while (event := conn.next_event()) is not None:
                self.events[name].append(event)

    def _transfer(self, src: str, dst: str) -> bool:
        data = self.conns[src].data_to_send()
        if not data:
            return False
        self.wire[src] += data
        delivered = bytearray()
        for frame in split_frames(data):
            index = self.frames_sent
            self.frames_sent += 1
            if self.drop is not None and self.drop(src, index, self.now):
                continue
            delivered += self.garble(frame) if self.garble is not None else frame
        if delivered:
            self.deliver(dst, bytes(delivered))
        return True

    def deliver(self, dst: str, data: bytes) -> None:
        for protocol, packet in self.conns[dst].receive_data(data, self.now):
            self.packets[dst].append((protocol, bytes(packet)))
        self._collect()

    def run(self, until: float, max_steps: int = 20_000) -> Pump:
        """Move bytes until both are quiet, then fire the next timer; stop at ``until``."""
        for _ in range(max_steps):
            moved = self._transfer("a", "b")
            moved = self._transfer("b", "a") or moved
            self._collect()
            if moved:
                continue
            deadlines = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            if not deadlines or min(deadlines) > until:
                self.now = max(self.now, until) if deadlines else self.now
                return self
            self.now = min(deadlines)
            for conn in self.conns.values():
                conn.handle_timer(self.now)
            self._collect()
        raise AssertionError("the link never went quiet")

    def kinds(self, name: str) -> list[type]:
        return [type(e) for e in self.events[name]]

    def first(self, name: str, kind: type) -> PppEvent:
        return next(e for e in self.events[name] if isinstance(e, kind))


def client_server(
    client: PppConfig | None = None,
    server: PppConfig | None = None,
    seeds: tuple[int, int] = (1, 2),
    **pump: object,
) -> Pump:
    a = PppConnection(client or PppConfig(), random.Random(seeds[0]))
    b = PppConnection(server or PppConfig(ipcp=server_ipcp()), random.Random(seeds[1]))
    return Pump(a, b, **pump).open()  # type: ignore[arg-type]


def control_frames(data: bytes) -> list[tuple[int, int]]:
    """(protocol, code) of each frame in a byte stream."""
    out = []
    for frame in Deframer(accm=0).feed(data):  # delete nothing: frames of any map
        header, info = PppHeader.parse(frame)
        code = ControlPacket.parse(info)[0].code if header.protocol > 0x3FFF else -1
        out.append((header.protocol, code))
    return out


# --- bringing the link up ------------------------------------------------------------------


def test_no_auth_client_gets_address_and_dns() -> None:
    link = client_server().run(until=0.0)  # a clean line: all at once, no retransmission
    assert link.kinds("a") == [LinkEstablished, Ipv4Up]
    assert link.events["a"][0] == LinkEstablished(1500)
    assert link.events["a"][1] == Ipv4Up(ip("10.0.0.2"), ip("10.0.0.1"), (ip("10.0.0.53"),))
    assert link.kinds("b") == [LinkEstablished, Ipv4Up]
    assert link.events["b"][1] == Ipv4Up(ip("10.0.0.1"), ip("10.0.0.2"), ())
    for conn in (link.a, link.b):
        assert conn.phase is Phase.NETWORK and conn.is_up
        assert conn.mtu == 1500
        # The IPCP request right behind the LCP Ack uses the new ACCM: it must survive.
        assert conn.deframer.bad_fcs == 0
        assert conn.lcp.stats["retransmits"] == conn.ipcp.stats["retransmits"] == 0


@pytest.mark.parametrize("auth", [AuthProtocol.PAP, AuthProtocol.CHAP])
def test_authentication_events_on_both_sides(auth: AuthProtocol) -> None:
    client = PppConfig(user="alice", password="wonderland")
    server = PppConfig(require_auth=auth, secrets=SECRETS, ipcp=server_ipcp())
    link = client_server(client, server).run(until=10.0)
    assert link.kinds("a") == [LinkEstablished, Authenticated, Ipv4Up]
    assert link.first("a", Authenticated) == Authenticated("")
    assert link.kinds("b") == [LinkEstablished, Authenticated, Ipv4Up]
    assert link.first("b", Authenticated) == Authenticated("alice")
    assert link.b.peer_name == "alice"
    assert link.b.lcp.local.auth is auth and link.a.lcp.peer.auth is auth
    protocol = PppProtocol.PAP if auth is AuthProtocol.PAP else PppProtocol.CHAP
    assert protocol in {p for p, _ in control_frames(bytes(link.wire["a"]))}


@pytest.mark.parametrize("auth", [AuthProtocol.PAP, AuthProtocol.CHAP])
def test_wrong_password_fails_on_both_sides_and_terminates(auth: AuthProtocol) -> None:
    client = PppConfig(user="alice", password="looking-glass")
    server = PppConfig(require_auth=auth, secrets=SECRETS, ipcp=server_ipcp())
    link = client_server(client, server).run(until=30.0)
    failed_a = link.first("a", AuthenticationFailed)
    failed_b = link.first("b", AuthenticationFailed)
    assert isinstance(failed_a, AuthenticationFailed) and failed_a.ours is True
    assert isinstance(failed_b, AuthenticationFailed) and failed_b.ours is False
    for name in ("a", "b"):
        assert link.kinds(name)[-1] is LinkTerminated
        assert Ipv4Up not in link.kinds(name)
        assert link.conns[name].phase is Phase.DEAD
    terminated = link.first("b", LinkTerminated)
    assert isinstance(terminated, LinkTerminated) and "authentication failed" in terminated.reason
    assert link.packets == {"a": [], "b": []}


def test_two_way_pap_each_side_authenticates_the_other() -> None:
    a = PppConfig(
        user="alice",
        password="wonderland",
        require_auth=AuthProtocol.PAP,
        secrets={"bob": "builder"},
        ipcp=server_ipcp(),
    )
    b = PppConfig(user="bob", password="builder", require_auth=AuthProtocol.PAP, secrets=SECRETS)
    link = client_server(b, a).run(until=10.0)
    assert link.first("a", Authenticated) == Authenticated("alice")
    assert link.first("b", Authenticated) == Authenticated("bob")
    assert link.kinds("a") == link.kinds("b") == [LinkEstablished, Authenticated, Ipv4Up]


def test_two_way_pap_with_one_bad_password_fails() -> None:
    a = PppConfig(
        user="alice",
        password="wonderland",
        require_auth=AuthProtocol.PAP,
        secrets={"bob": "builder"},
        ipcp=server_ipcp(),
    )
    b = PppConfig(user="bob", password="wrong", require_auth=AuthProtocol.PAP, secrets=SECRETS)
    link = client_server(b, a).run(until=30.0)
    assert AuthenticationFailed in link.kinds("a") and AuthenticationFailed in link.kinds("b")
    assert Ipv4Up not in link.kinds("a") + link.kinds("b")
    assert link.kinds("a")[-1] is LinkTerminated and link.kinds("b")[-1] is LinkTerminated


def test_ipv4_and_ipv6() -> None:
    server = PppConfig(ipv6=True, ipcp=server_ipcp())
    link = client_server(PppConfig(ipv6=True), server).run(until=10.0)
    assert set(link.kinds("a")) == {LinkEstablished, Ipv4Up, Ipv6Up}
    up_a, up_b = link.first("a", Ipv6Up), link.first("b", Ipv6Up)
    assert isinstance(up_a, Ipv6Up) and isinstance(up_b, Ipv6Up)
    assert up_a.local_iid == up_b.peer_iid and up_b.local_iid == up_a.peer_iid
    assert up_a.local_iid != up_b.local_iid


def test_ipv6_only() -> None:
    config = PppConfig(ipv4=False, ipv6=True)
    link = client_server(config, PppConfig(ipv4=False, ipv6=True)).run(until=10.0)
    assert link.kinds("a") == link.kinds("b") == [LinkEstablished, Ipv6Up]
    protocols = {p for p, _ in control_frames(bytes(link.wire["a"] + link.wire["b"]))}
    assert PppProtocol.IPCP not in protocols and PppProtocol.IPV6CP in protocols


def test_peer_without_ipv6cp_protocol_rejects_it_and_ipv4_stays_up() -> None:
    link = client_server(PppConfig(ipv6=True)).run(until=40.0)
    assert link.kinds("a") == [LinkEstablished, Ipv4Up]
    assert link.a.is_up and link.b.is_up
    assert link.a.ipv6cp.state is State.STOPPED
    assert link.a.lcp.is_open
    assert link.b.stats["rx_unknown_protocol"] >= 1
    assert (PppProtocol.LCP, ControlCode.PROTOCOL_REJECT) in control_frames(bytes(link.wire["b"]))


def test_pool_address_is_allocated_and_released() -> None:
    pool = Ipv4Pool(ip("10.64.0.10"), 2)

    def server() -> PppConfig:
        return PppConfig(ipcp=IpcpConfig(local=ip("10.64.0.1")), pool=pool)

    first = client_server(PppConfig(), server(), seeds=(1, 2)).run(until=5.0)
    second = client_server(PppConfig(), server(), seeds=(3, 4)).run(until=5.0)
    up1, up2 = first.first("a", Ipv4Up), second.first("a", Ipv4Up)
    assert isinstance(up1, Ipv4Up) and isinstance(up2, Ipv4Up)
    assert (up1.local, up2.local) == (ip("10.64.0.10"), ip("10.64.0.11"))
    assert pool.in_use == 2
    first.a.close(first.now, "bye")
    first.run(until=first.now + 10.0)
    assert first.kinds("a")[-1] is LinkTerminated and first.kinds("b")[-1] is LinkTerminated
    assert pool.in_use == 1
    assert pool.allocate() == ip("10.64.0.10")  # free again


def test_graceful_close_terminates_both_ends_with_the_reason() -> None:
    link = client_server().run(until=5.0)
    link.a.close(link.now, "user hung up")
    link.run(until=link.now + 10.0)
    assert link.kinds("a")[-2:] == [Ipv4Down, LinkTerminated]
    assert link.kinds("b")[-2:] == [Ipv4Down, LinkTerminated]
    assert link.events["a"][-1] == LinkTerminated("user hung up")
    terminated = link.events["b"][-1]
    assert isinstance(terminated, LinkTerminated) and "user hung up" in terminated.reason
    assert link.a.phase is link.b.phase is Phase.DEAD
    assert link.a.get_timer() is None and link.b.get_timer() is None


def test_lower_down_reports_termination_without_goodbyes() -> None:
    link = client_server().run(until=5.0)
    link.a.lower_down(link.now, "modem hung up")
    assert link.a.data_to_send() == b""
    events = []
    while (event := link.a.next_event()) is not None:
        events.append(event)
    assert events == [Ipv4Down(), LinkTerminated("modem hung up")]
    assert link.a.phase is Phase.DEAD and not link.a.is_up


def test_hang_up_while_closing_still_reports_the_end() -> None:
    link = client_server().run(until=5.0)
    link.a.close(link.now, "bye")
    link.a.data_to_send()  # the Terminate-Request never arrives: the modem hangs up
    link.a.lower_down(link.now + 1.0, "modem hung up")
    link.run(until=link.now + 1.0)
    assert link.kinds("a")[-2:] == [Ipv4Down, LinkTerminated]
    assert link.events["a"][-1] == LinkTerminated("modem hung up")
    assert link.a.phase is Phase.DEAD and link.a.get_timer() is None


def test_hang_up_after_the_end_is_not_reported_twice() -> None:
    link = client_server(drop=lambda src, index, now: True).run(until=100.0)
    assert link.kinds("a") == [LinkTerminated]
    link.a.lower_down(link.now, "modem hung up")
    link.run(until=link.now)
    assert link.kinds("a") == [LinkTerminated]
    assert link.a.phase is Phase.DEAD


# --- what passes in which phase (RFC 1661 §3.4-3.6) ---------------------------------------


def ipcp_request_frame() -> bytes:
    options = build_options([(3, ip("10.0.0.9"))])
    info = ControlPacket(ControlCode.CONFIGURE_REQUEST, 0x55).build(options)
    return encode_frame(PppHeader.build(PppProtocol.IPCP, info))


def test_network_frames_are_discarded_in_the_establish_phase() -> None:
    conn = PppConnection(PppConfig(), random.Random(1))
    conn.open(0.0)
    conn.data_to_send()
    ipv4 = encode_frame(PppHeader.build(PppProtocol.IPV4, IPV4_PACKET))
    assert conn.receive_data(ipcp_request_frame() + ipv4, 0.0) == []
    assert conn.stats["rx_discarded"] == 2
    assert conn.data_to_send() == b""  # no answer, no Protocol-Reject
    assert conn.ipcp.state is State.INITIAL


def test_ipcp_is_discarded_in_the_authenticate_phase() -> None:
    def lose_pap(frame: bytes) -> bytes:
        is_pap = [p for p, _ in control_frames(frame)] == [PppProtocol.PAP]
        return b"" if is_pap else frame  # the PAP request never arrives

    client = PppConfig(user="alice", password="wonderland")
    server = PppConfig(require_auth=AuthProtocol.PAP, secrets=SECRETS, ipcp=server_ipcp())
    link = client_server(client, server, garble=lose_pap).run(until=1.0)
    assert link.b.phase is Phase.AUTHENTICATE
    before = link.b.stats["rx_discarded"]
    link.deliver("b", ipcp_request_frame())
    assert link.b.stats["rx_discarded"] == before + 1
    assert link.b.ipcp.state is State.INITIAL
    assert link.b.data_to_send() == b""


def test_ip_frames_are_counted_and_dropped_when_their_ncp_is_not_open() -> None:
    link = client_server().run(until=5.0)
    assert link.a.frame_packet(PppProtocol.IPV6, IPV6_PACKET) is None  # no IPV6CP here
    assert link.a.stats["tx_discarded"] == 1
    # The peer terminates IPCP on a only: a keeps LCP but drops IPv4 both ways.
    terminate = ControlPacket(ControlCode.TERMINATE_REQUEST, 0x77).build(b"")
    link.deliver("a", encode_frame(PppHeader.build(PppProtocol.IPCP, terminate)))
    assert link.kinds("a")[-1] is Ipv4Down and not link.a.is_up
    assert link.a.frame_packet(PppProtocol.IPV4, IPV4_PACKET) is None
    assert link.a.stats["tx_discarded"] == 2
    frame = link.b.frame_packet(PppProtocol.IPV4, IPV4_PACKET)
    assert frame is not None
    before = link.a.stats["rx_discarded"]
    assert link.a.receive_data(frame, link.now) == []
    assert link.a.stats["rx_discarded"] == before + 1


def test_ip_packets_flow_both_ways_once_up() -> None:
    link = client_server(PppConfig(ipv6=True), PppConfig(ipv6=True, ipcp=server_ipcp()))
    link.run(until=5.0)
    frame4 = link.a.frame_packet(PppProtocol.IPV4, IPV4_PACKET)
    frame6 = link.b.frame_packet(PppProtocol.IPV6, IPV6_PACKET)
    assert frame4 is not None and frame6 is not None
    link.deliver("b", frame4)
    link.deliver("a", frame6)
    assert link.packets["b"] == [(PppProtocol.IPV4, IPV4_PACKET)]
    assert link.packets["a"] == [(PppProtocol.IPV6, IPV6_PACKET)]


# --- framing with the negotiated options (RFC 1661 §6.5, §6.6; RFC 1662 §7.1) --------------


def expected_frame(contents: bytes, escaped: set[int]) -> bytes:
    """An independent encoder: FCS-16 low octet first, then escape the set (RFC 1662 §4.2)."""
    fcs = fcs16(contents) ^ 0xFFFF
    raw = contents + bytes((fcs & 0xFF, fcs >> 8))
    body = bytearray()
    for octet in raw:
        if octet in escaped or octet in (0x7D, 0x7E):
            body += bytes((0x7D, octet ^ 0x20))
        else:
            body.append(octet)
    return b"\x7e" + bytes(body) + b"\x7e"


def test_frames_use_pfc_and_acfc_after_negotiation() -> None:
    link = client_server().run(until=5.0)
    assert link.a.lcp.peer.pfc and link.a.lcp.peer.acfc and link.a.lcp.peer.accm == 0
    frame4 = link.a.frame_packet(PppProtocol.IPV4, IPV4_PACKET)
    assert frame4 == expected_frame(b"\x21" + IPV4_PACKET, set())
    assert frame4 is not None and frame4[:3] == bytes.fromhex("7e2145")


def test_frames_are_uncompressed_when_the_peer_did_not_ask() -> None:
    plain = LcpConfig(pfc=False, acfc=False, accm=0xFFFFFFFF)  # asks for nothing
    link = client_server(PppConfig(), PppConfig(lcp=plain, ipcp=server_ipcp())).run(until=5.0)
    frame = link.a.frame_packet(PppProtocol.IPV4, IPV4_PACKET)
    escape_all = set(range(0x20))
    assert frame == expected_frame(bytes.fromhex("ff030021") + IPV4_PACKET, escape_all)
    assert frame is not None and frame[:7] == bytes.fromhex("7eff7d237d2021")
    # b was asked for compression by a, so b compresses towards a
    back = link.b.frame_packet(PppProtocol.IPV4, IPV4_PACKET)
    assert back == expected_frame(b"\x21" + IPV4_PACKET, set())


def test_negotiated_accm_escapes_the_peers_characters() -> None:
    xon_xoff = LcpConfig(accm=0x000A0000)
    link = client_server(PppConfig(), PppConfig(lcp=xon_xoff, ipcp=server_ipcp())).run(until=5.0)
    packet = IPV4_PACKET + bytes((0x11, 0x13, 0x01))
    frame = link.a.frame_packet(PppProtocol.IPV4, packet)
    assert frame == expected_frame(b"\x21" + packet, {0x11, 0x13})


def test_lcp_frames_keep_full_header_and_default_accm_when_compressing() -> None:
    link = client_server().run(until=31.0)  # the first keepalive Echo-Request at 30 s
    frames = split_frames(bytes(link.wire["a"]))
    lcp_after = [f for f in frames[-2:] if f.startswith(bytes.fromhex("7eff7d23c021"))]
    assert lcp_after, frames[-2:]
    # IPCP after LCP is Opened: ACFC applies (only LCP keeps address and control)
    ipcp = [f for f in frames if f.startswith(bytes.fromhex("7e8021"))]
    assert ipcp


# --- a bad line -----------------------------------------------------------------------------


def garbage_between_frames(seed: int) -> Garble:
    rng = random.Random(seed)

    def garble(frame: bytes) -> bytes:
        noise = bytes(rng.choice([0x00, 0x41, 0x7D, 0xFF, 0x13]) for _ in range(rng.randrange(6)))
        bad_fcs = bytes.fromhex("7eff03c0210101000400007e")  # a runt-free frame, wrong FCS
        return noise + bad_fcs + noise.replace(b"\x7d", b"") + frame

    return garble


def test_garbage_and_bad_fcs_between_frames_do_not_break_negotiation() -> None:
    client = PppConfig(user="alice", password="wonderland", ipv6=True)
    server = PppConfig(
        require_auth=AuthProtocol.CHAP, secrets=SECRETS, ipv6=True, ipcp=server_ipcp()
    )
    link = client_server(client, server, garble=garbage_between_frames(5)).run(until=20.0)
    assert {Ipv4Up, Ipv6Up} <= set(link.kinds("a")) and {Ipv4Up, Ipv6Up} <= set(link.kinds("b"))
    assert link.a.deframer.bad_fcs > 5 and link.b.deframer.bad_fcs > 5


# Every 2nd or 3rd frame lost resonates with the RFC 1661 automaton itself: a retransmitted
# Configure-Request reaching an Opened peer restarts its negotiation (RCR+ in Opened:
# tld,scr,sca), which needs three frames in a row to settle again.
@pytest.mark.parametrize("nth", [5, 7, 9])
def test_dropping_every_nth_frame_still_converges(nth: int) -> None:
    def lossy(src: str, index: int, now: float) -> bool:
        return index % nth == nth - 1

    link = client_server(drop=lossy).run(until=60.0)
    assert Ipv4Up in link.kinds("a") and Ipv4Up in link.kinds("b")
    assert link.a.is_up and link.b.is_up
    retransmits = sum(
        c.lcp.stats["retransmits"] + c.ipcp.stats["retransmits"] for c in link.conns.values()
    )
    assert retransmits > 0


def test_a_dead_line_for_ten_seconds_still_converges() -> None:
    def outage(src: str, index: int, now: float) -> bool:
        return now < 10.0

    client = PppConfig(user="alice", password="wonderland")
    server = PppConfig(require_auth=AuthProtocol.PAP, secrets=SECRETS, ipcp=server_ipcp())
    link = client_server(client, server, drop=outage).run(until=60.0)
    up = link.first("a", Ipv4Up)
    assert isinstance(up, Ipv4Up) and up.local == ip("10.0.0.2")
    assert link.a.lcp.stats["retransmits"] >= 3


def test_nobody_answering_terminates_after_max_configure() -> None:
    link = client_server(drop=lambda src, index, now: True).run(until=100.0)
    terminated = link.first("a", LinkTerminated)
    assert isinstance(terminated, LinkTerminated) and "no answer" in terminated.reason
    assert link.a.phase is Phase.DEAD and link.a.get_timer() is None
    requests = [f for f in control_frames(bytes(link.wire["a"])) if f == (PppProtocol.LCP, 1)]
    assert len(requests) == 10  # Max-Configure (RFC 1661 §4.6)


# --- determinism ---------------------------------------------------------------------------


def full_session(seeds: tuple[int, int]) -> tuple[bytes, bytes]:
    client = PppConfig(user="alice", password="wonderland", ipv6=True)
    server = PppConfig(
        require_auth=AuthProtocol.CHAP, secrets=SECRETS, ipv6=True, ipcp=server_ipcp()
    )
    link = client_server(client, server, seeds=seeds, drop=lambda s, i, n: i % 4 == 3)
    link.run(until=40.0)
    link.a.close(link.now)
    link.run(until=link.now + 10.0)
    return bytes(link.wire["a"]), bytes(link.wire["b"])


def test_same_seed_gives_identical_byte_streams() -> None:
    assert full_session((7, 8)) == full_session((7, 8))
    assert full_session((7, 8)) != full_session((9, 10))
