"""IPv6 packets in virtual time: path MTU discovery through a 1280-byte link, bounded
reassembly under a fragment flood, extension headers that draw Parameter Problems,
malformed input, hop limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from netstack.drivers.emac.api import RxFlags
from netstack.services import TcpEchoServer, UdpEchoServer, ping
from netstack.services.ping import PingResult
from netstack.sim import Network
from netstack.sim.network import Host
from netstack.socket import SOL_SOCKET, SocketAddress, SocketOption, TCPSocket, UDPSocket
from netstack.wire import DecodeError
from netstack.wire.icmpv6 import (
    Icmpv6Header,
    Icmpv6Type,
    ParameterProblemCode,
    TimeExceededCode,
)
from netstack.wire.ipv6 import (
    DestinationOptions,
    FragmentHeader,
    HopByHopOptions,
    Ipv6Header,
    Ipv6Option,
    RoutingHeader,
)
from netstack.wire.ndp import (
    NeighborAdvertisement,
    NeighborSolicitation,
    TargetLinkLayerAddress,
    parse_nd,
)
from netstack.wire.pcap import PcapReader
from netstack.wire.udp import UdpHeader

from .helpers import RawPort, echo_round_trip

UDP, ICMPV6, NO_NEXT = 17, 58, 59


def ip6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


@pytest.fixture
def networks() -> Iterator[list[Network]]:
    made: list[Network] = []
    yield made
    for net in made:
        net.close()


# -- path MTU discovery (RFC 8201) ---------------------------------------------------------------


def test_packet_too_big_lowers_the_path_mtu_and_the_source_fragments(networks):
    net = Network(seed=1)
    networks.append(net)
    lan, wan = net.segment("lan"), net.segment("wan")
    router = net.router("r", [(lan, "10.1.0.1/24"), (wan, "10.2.0.1/24", 1280)])
    net.ipv6_router(router, lan, "2001:db8:1::/64")
    net.ipv6_router(router, wan, "2001:db8:2::/64")
    a = net.host("a", lan, "", ipv6="slaac")
    b = net.host("b", wan, "", ipv6="slaac", mtu=1280)
    target = ip6("2001:db8:2::ff:fe00:4")
    datagram = bytes(range(256)) * 12  # 3072 bytes: 3 fragments at either MTU
    stream = hashlib.shake_128(b"wan").digest(200_000)

    async def main() -> tuple[PingResult, int, list[bytes], bytes]:
        await net.start()
        netif = a.iface.netif
        assert a.stack.ipv6.path_mtu(target, netif) == 1500
        # the first request's 1500-byte fragments die at the router, which says why
        pinged = await ping(a, SocketAddress(target), count=4, interval=0.2, size=3000)
        learned = a.stack.ipv6.path_mtu(target, netif)
        UdpEchoServer(b).start()
        sock = UDPSocket(a)
        sock.set_timeout(1.0)
        echoed = []
        for _ in range(3):
            await sock.sendto(SocketAddress(target, 7), datagram)
            echoed.append(await sock.recv())
        TcpEchoServer(b).start()  # b's MSS (1220) fits the link from the start
        conn = TCPSocket(a)
        await conn.connect(SocketAddress(target, 7))
        streamed = await echo_round_trip(conn, stream)
        conn.close()
        return pinged, learned, echoed, streamed

    pinged, learned, echoed, streamed = net.run(main())
    assert learned == 1280
    assert pinged.received == 3  # all but the first
    assert echoed == [datagram] * 3
    assert streamed == stream
    r, sa, sb = router.stack, a.stack.stats(), b.stack.stats()
    # two 1500-byte fragments of the first request were too big (not its short third)
    assert r.icmpv6.counters.tx_errors == 2
    assert a.stack.icmpv6.counters.rx_packet_too_big == 2
    assert sa["ipv6"]["pmtu_updates"] == 1
    # then 3 echo requests + 3 datagrams, 3 fragments of at most 1280 bytes each; TCP
    # segments were never fragmented
    assert sa["ipv6"]["tx_fragments"] == 3 + 3 * 3 + 3 * 3
    assert sb["ipv6"]["rx_reassembled"] == 3 + 3
    assert sb["reassembly"]["buffered_bytes"] == 0
    assert r.ipv6.counters.forwarded > 0


def test_tcp_is_byte_exact_across_a_1280_byte_link_between_two_routers(networks):
    """a (1500) - r1 - 1280-byte link - r2 - b (1500): both ends offer a 1440-byte MSS, so
    only Packet Too Big from r1 tells a that its segments do not fit."""
    net = Network(seed=2)
    networks.append(net)
    lan, narrow, far = net.segment("lan"), net.segment("narrow"), net.segment("far")
    r1 = net.router("r1", [(lan, "10.1.0.1/24"), (narrow, "10.9.0.1/24", 1280)])
    r2 = net.router("r2", [(narrow, "10.9.0.2/24", 1280), (far, "10.2.0.1/24")])
    net.ipv6_router(r1, lan, "2001:db8:1::/64")
    net.ipv6_router(r2, far, "2001:db8:2::/64")
    r1.interfaces[1].set_ipv6("static", "2001:db8:ff::1/64")
    r2.interfaces[0].set_ipv6("static", "2001:db8:ff::2/64")
    a = net.host("a", lan, "", ipv6="slaac")
    b = net.host("b", far, "", ipv6="slaac")
    data = hashlib.shake_128(b"narrow").digest(300_000)

    async def main() -> tuple[bytes, int, int]:
        await net.start()
        r1.stack.ipv6.add_route(ip6("2001:db8:2::"), 64, r1.interfaces[1].netif,
                                ip6("2001:db8:ff::2"))  # fmt: skip
        r2.stack.ipv6.add_route(bytes(16), 0, r2.interfaces[0].netif, ip6("2001:db8:ff::1"))
        target = b.iface.get_ipv6_address()
        assert target is not None
        TcpEchoServer(b).start()
        sock = TCPSocket(a)
        await sock.connect(SocketAddress(target, 7))
        echoed = await echo_round_trip(sock, data)
        reductions = sock._handle.conn.stats.mss_reductions  # type: ignore[union-attr]
        sock.close()
        return echoed, a.stack.ipv6.path_mtu(target.packed, a.iface.netif), reductions

    echoed, path_mtu, reductions = net.run(main())
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
    assert path_mtu == 1280
    assert reductions == 1  # RFC 8201 §5.2: TCP cut its segments to fit, once
    assert r1.stack.icmpv6.counters.tx_errors >= 1  # Packet Too Big
    assert a.stack.icmpv6.counters.rx_packet_too_big >= 1
    assert r1.stack.ipv6.counters.forwarded > 2 * len(data) // 1440


# -- raw packets at one host -------------------------------------------------------------------

VICTIM, PEER, ATTACKER = ip6("2001:db8:1::2"), ip6("2001:db8:1::1"), ip6("2001:db8:1::99")


class Attacker(RawPort):
    """A raw port that owns ATTACKER: it answers Neighbor Solicitations for it (RFC 4861
    §7.2.4), so what the victim sends back reaches it."""

    def _input(self, frame: memoryview, flags: RxFlags) -> None:
        super()._input(frame, flags)
        if bytes(frame[12:14]) != b"\x86\xdd":
            return
        try:
            ip, payload = Ipv6Header.parse(frame[14:])
            if ip.next_header != ICMPV6:
                return
            hdr, body = Icmpv6Header.parse(payload, src=ip.src, dst=ip.dst)
            ns = parse_nd(hdr, body) if hdr.type == Icmpv6Type.NEIGHBOR_SOLICITATION else None
        except DecodeError:
            return
        if isinstance(ns, NeighborSolicitation) and ns.target == ATTACKER:
            na = NeighborAdvertisement(ATTACKER, solicited=True, override=True,
                                       options=[TargetLinkLayerAddress(self.mac)])  # fmt: skip
            reply = Ipv6Header(ATTACKER, ip.src, ICMPV6, 255).build(
                na.build(src=ATTACKER, dst=ip.src)
            )
            self.send_ip6(bytes(frame[6:12]), reply)


def lan_with_attacker(seed: int) -> tuple[Network, Host, Host, Attacker]:
    """A victim and a peer with static addresses, and an attacker sending hand-made
    packets."""
    net = Network(seed=seed)
    lan = net.segment("lan")
    victim = net.host("victim", lan, "", ipv6="static:2001:db8:1::2/64")
    peer = net.host("peer", lan, "", ipv6="static:2001:db8:1::1/64")
    attacker = Attacker(lan)
    net.run(net.start())
    return net, victim, peer, attacker


def udp_to_victim(data: bytes = b"payload", port: int = 7) -> bytes:
    return UdpHeader(40000, port).build(data, src=ATTACKER, dst=VICTIM)


def exchange(
    net: Network, victim: Host, raw: Attacker, packet: bytes
) -> list[tuple[int, int, int]]:
    """Send ``packet`` to the victim; the ICMPv6 errors it answered with, as (type, code,
    pointer), each checked to quote the packet."""
    raw.frames.clear()
    raw.send_ip6(victim.iface.netif.link.hwaddr, packet)
    net.run_for(0.1)
    out = []
    for ip, hdr, body in raw.icmp6():
        if ip.dst == ATTACKER and hdr.is_error:
            assert ip.src == VICTIM
            assert body == packet[: len(body)] and len(body) == min(len(packet), 1232)
            out.append((hdr.type, hdr.code, hdr.rest))
    return out


def udp_received(raw: RawPort) -> list[bytes]:
    out = []
    for frame in raw.frames:
        if frame[12:14] == b"\x86\xdd":
            ip, payload = Ipv6Header.parse(frame[14:])
            if ip.next_header == UDP:
                out.append(bytes(payload[8:]))
    return out


def test_fragment_flood_stays_bounded_while_real_fragments_get_through(networks):
    net, victim, peer, raw = lan_with_attacker(seed=3)
    networks.append(net)
    reasm = victim.stack.ipv6.reassembler
    cfg = reasm.config
    mac = victim.iface.netif.link.hwaddr
    rng = net.world.rng
    highest: list[tuple[int, int]] = []

    async def flood() -> None:
        # 10,000 first fragments of datagrams that never complete, 20 every millisecond
        for ident in range(10_000):
            packet = Ipv6Header(ATTACKER, VICTIM, 44).build(
                FragmentHeader(UDP, 0, True, ident).build(rng.randbytes(1024))
            )
            raw.send_ip6(mac, packet)
            if ident % 20 == 19:
                highest.append((reasm.in_flight, reasm.buffered_bytes))
                await asyncio.sleep(0.001)

    async def main() -> list[bytes]:
        UdpEchoServer(victim).start()
        attack = asyncio.ensure_future(flood())
        sock = UDPSocket(peer)
        sock.set_timeout(1.0)
        echoed = []
        for i in range(5):
            await asyncio.sleep(0.05)
            await sock.sendto(SocketAddress(VICTIM, 7), bytes([i]) * 4000)
            echoed.append(await sock.recv())
        await attack
        await asyncio.sleep(cfg.timeout + 1)  # then every leftover times out
        return echoed

    echoed = net.run(main())
    assert echoed == [bytes([i]) * 4000 for i in range(5)]
    assert len(highest) == 500
    assert max(n for n, _ in highest) <= cfg.max_datagrams
    assert max(size for _, size in highest) <= cfg.max_bytes
    assert reasm.in_flight == 0 and reasm.buffered_bytes == 0
    stats = victim.stack.stats()
    assert stats["ipv6"]["rx_fragments"] == 10_000 + 5 * 3
    assert stats["ipv6"]["rx_reassembled"] == 5
    assert reasm.stats.limit_drops >= 10_000 - cfg.max_datagrams
    # RFC 8200 §4.5: Time Exceeded (reassembly) for the ones that timed out, rate limited
    errors = {(hdr.type, hdr.code) for _, hdr, _ in raw.icmp6() if hdr.is_error}
    assert errors == {(Icmpv6Type.TIME_EXCEEDED, TimeExceededCode.REASSEMBLY)}


def options(*types: int) -> list[Ipv6Option]:
    return [Ipv6Option(t, b"\0\0\0\0") for t in types]


@pytest.mark.parametrize(
    ("build", "pointer"),
    [
        # RFC 8200 §4, RFC 4443 §3.4: code 1 points at the Next Header field naming it
        (lambda: Ipv6Header(ATTACKER, VICTIM, 253).build(bytes(16)), 6),
        (lambda: Ipv6Header(ATTACKER, VICTIM, 60).build(
            DestinationOptions(253, options(1)).build(bytes(16))), 40),
        # RFC 8200 §4.1: a Hop-by-Hop header anywhere but first is an unknown one
        (lambda: Ipv6Header(ATTACKER, VICTIM, 0).build(HopByHopOptions(60, []).build(
            DestinationOptions(0, []).build(HopByHopOptions(UDP, []).build(
                udp_to_victim())))), 48),
    ],
    ids=["after-the-header", "after-destination-options", "hop-by-hop-not-first"],
)  # fmt: skip
def test_unknown_next_header_draws_parameter_problem_code_1(networks, build, pointer):
    net, victim, _, raw = lan_with_attacker(seed=4)
    networks.append(net)
    answers = exchange(net, victim, raw, build())
    assert answers == [(Icmpv6Type.PARAMETER_PROBLEM, ParameterProblemCode.NEXT_HEADER, pointer)]
    assert victim.stack.ipv6.counters.rx_unknown_header == 1


def test_unknown_options_follow_their_action_bits(networks):
    net, victim, _, raw = lan_with_attacker(seed=5)
    networks.append(net)
    UdpEchoServer(victim).start()
    counters = victim.stack.ipv6.counters

    def with_options(*types: int, dst: bytes = VICTIM) -> bytes:
        udp = UdpHeader(40000, 7).build(b"opt", src=ATTACKER, dst=dst)
        body = DestinationOptions(UDP, [Ipv6Option(1, b"\0\0"), *options(*types)]).build(udp)
        return Ipv6Header(ATTACKER, dst, 60).build(body)

    # RFC 8200 §4.2, action 10: discard, Parameter Problem code 2 at the option type byte
    # (40-byte header, 2 bytes of the options header, a 4-byte PadN before it)
    problem = (Icmpv6Type.PARAMETER_PROBLEM, ParameterProblemCode.OPTION, 46)
    assert exchange(net, victim, raw, with_options(0x9E)) == [problem]
    # ... even to a multicast destination; action 11 only to a unicast one
    all_nodes = ip6("ff02::1")
    raw.frames.clear()
    raw.send_ip6(b"\x33\x33\0\0\0\x01", with_options(0x9E, dst=all_nodes))
    raw.send_ip6(b"\x33\x33\0\0\0\x01", with_options(0xDE, dst=all_nodes))
    net.run_for(0.1)
    answers = [(ip.src, h.type, h.code, h.rest) for ip, h, _ in raw.icmp6() if h.is_error]
    assert answers == [(VICTIM, *problem), (PEER, *problem)]  # both are on ff02::1
    assert exchange(net, victim, raw, with_options(0xDE)) == [problem]
    # action 01: discard silently; action 00: skip the option, deliver the datagram
    assert exchange(net, victim, raw, with_options(0x5E)) == []
    assert counters.rx_bad_option == 5
    delivered = counters.rx_delivered
    assert exchange(net, victim, raw, with_options(0x1E)) == []
    assert counters.rx_delivered == delivered + 1
    assert udp_received(raw) == [b"opt"]  # the echo came back


def test_routing_header_type_0_with_segments_left_draws_parameter_problem_code_0(networks):
    net, victim, _, raw = lan_with_attacker(seed=6)
    networks.append(net)
    UdpEchoServer(victim).start()
    counters = victim.stack.ipv6.counters
    via = bytes(4) + ip6("2001:db8:9::9")  # reserved word, one address

    def routed(segments_left: int) -> bytes:
        rh0 = RoutingHeader(UDP, 0, segments_left, via)
        return Ipv6Header(ATTACKER, VICTIM, 43).build(rh0.build(udp_to_victim(b"rh0")))

    # RFC 5095 §3 (deprecated type 0 is an unrecognised type), RFC 8200 §4.4: code 0
    # pointing at the Routing Type field
    assert exchange(net, victim, raw, routed(1)) == [
        (Icmpv6Type.PARAMETER_PROBLEM, ParameterProblemCode.HEADER_FIELD, 42)
    ]
    assert counters.rx_routing_refused == 1
    # with no segments left the header is ignored and the datagram delivered
    assert exchange(net, victim, raw, routed(0)) == []
    assert udp_received(raw) == [b"rh0"]


def test_malformed_ipv6_packets_are_counted_and_never_crash(networks):
    net, victim, peer, raw = lan_with_attacker(seed=7)
    networks.append(net)
    failures: list[object] = []
    net.world.loop.set_exception_handler(lambda loop, ctx: failures.append(ctx))
    UdpEchoServer(victim).start()
    counters = victim.stack.ipv6.counters
    good = Ipv6Header(ATTACKER, VICTIM, UDP).build(udp_to_victim())
    dst_opts = DestinationOptions(UDP, options(1)).build(udp_to_victim())

    def patched(packet: bytes, at: int, value: bytes) -> bytes:
        return packet[:at] + value + packet[at + len(value) :]

    cases = {
        "rx_malformed": [
            good[:39],  # shorter than the fixed header
            patched(good, 0, b"\x40"),  # version 4 behind the IPv6 EtherType
            patched(good, 4, b"\x01\x00"),  # payload length beyond the frame
            Ipv6Header(ATTACKER, VICTIM, 60).build(b"\x11\x00\x01"),  # cut options header
            Ipv6Header(ATTACKER, VICTIM, 60).build(dst_opts[:3] + b"\x09" + dst_opts[4:]),
            Ipv6Header(ATTACKER, VICTIM, 44).build(b"\x11\x00\x00"),  # cut Fragment header
            Ipv6Header(ATTACKER, VICTIM, 43).build(b"\x11\x04\x00\x01"),  # cut Routing hdr
        ],
        "rx_martian": [patched(good, 8, ip6("ff02::1"))],  # multicast source
        "rx_no_next_header": [Ipv6Header(ATTACKER, VICTIM, NO_NEXT).build(b"")],
    }
    for counter, packets in cases.items():
        for packet in packets:
            before = getattr(counters, counter)
            assert exchange(net, victim, raw, packet) == []
            assert getattr(counters, counter) == before + 1, (counter, packet.hex())

    # then a few thousand random mutations of valid packets
    rng = random.Random(7)
    samples = [good, Ipv6Header(ATTACKER, VICTIM, 60).build(dst_opts),
               Ipv6Header(ATTACKER, VICTIM, 44).build(FragmentHeader(UDP, 0, True, 1).build(
                   udp_to_victim(bytes(16))))]  # fmt: skip
    mac = victim.iface.netif.link.hwaddr
    for i in range(3000):
        mutant = bytearray(rng.choice(samples))
        if i % 3 == 0:
            del mutant[rng.randrange(len(mutant)) :]
        elif i % 3 == 1:
            mutant[rng.randrange(len(mutant))] ^= 1 << rng.randrange(8)
        else:
            mutant[40:] = rng.randbytes(rng.randrange(64))
            mutant[4:6] = (len(mutant) - 40).to_bytes(2, "big")
            mutant[6] = rng.choice([0, 43, 44, 60, UDP, ICMPV6])
        raw.send_ip6(mac, bytes(mutant))
    net.run_for(1.0)

    async def still_alive() -> PingResult:
        return await ping(peer, SocketAddress(VICTIM), count=2, interval=0.1)

    assert net.run(still_alive()).received == 2
    assert failures == []
    assert counters.rx_malformed > 500


def test_hop_limit_exhaustion_at_the_router_draws_time_exceeded(networks, tmp_path: Path):
    net = Network(seed=8, capture_dir=tmp_path)
    networks.append(net)
    lan, lab = net.segment("lan"), net.segment("lab")
    router = net.router("r", [(lan, "10.1.0.1/24"), (lab, "10.2.0.1/24")])
    net.ipv6_router(router, lan, "2001:db8:1::/64")
    net.ipv6_router(router, lab, "2001:db8:2::/64")
    a = net.host("a", lan, "", ipv6="slaac")
    b = net.host("b", lab, "", ipv6="slaac")

    async def main() -> bytes:
        await net.start()
        UdpEchoServer(b).start()
        target = SocketAddress("2001:db8:2::ff:fe00:4", 7)
        sock = UDPSocket(a)
        sock.set_timeout(1.0)
        sock.setsockopt(SOL_SOCKET, SocketOption.TTL, 1)
        await sock.sendto(target, b"probe")
        await asyncio.sleep(0.1)
        sock.setsockopt(SOL_SOCKET, SocketOption.TTL, 2)  # enough for one router
        await sock.sendto(target, b"probe")
        return await sock.recv()

    assert net.run(main()) == b"probe"
    net.close()
    assert router.stack.ipv6.counters.hop_limit_exceeded == 1
    assert a.stack.icmpv6.counters.rx_errors == 1
    assert b.stack.stats()["udp"]["rx_datagrams"] == 1
    errors = []
    for _, frame in PcapReader(tmp_path / "lan.pcap"):
        if frame[12:14] == b"\x86\xdd":
            ip, payload = Ipv6Header.parse(frame[14:])
            if ip.next_header == ICMPV6 and payload[0] < 128:
                hdr, quote = Icmpv6Header.parse(payload, src=ip.src, dst=ip.dst)
                errors.append((ip.src, ip.dst, hdr.type, hdr.code, Ipv6Header.parse(quote)[0]))
    # RFC 4443 §3.3: code 0 from the router's address on a's link, quoting the packet as
    # it arrived (hop limit 1)
    [(src, dst, kind, code, quoted)] = errors
    assert (src, dst) == (ip6("2001:db8:1::1"), ip6("2001:db8:1::ff:fe00:3"))
    assert (kind, code) == (Icmpv6Type.TIME_EXCEEDED, TimeExceededCode.HOP_LIMIT)
    assert (quoted.hop_limit, quoted.dst) == (1, ip6("2001:db8:2::ff:fe00:4"))
