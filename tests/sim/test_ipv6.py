"""IPv6 networks in virtual time: SLAAC behind a netstack router, RFC 7217 addresses,
Duplicate Address Detection, Neighbor Unreachability Detection, deterministic captures.

Packet-level behaviour (path MTU, fragments, extension headers, malformed input) is in
test_ipv6_packets.py.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netstack.errors import HostUnreachableError, NoAddressError
from netstack.interfaces.base import ConnectionStatus
from netstack.services import TcpEchoServer, UdpEchoServer, ping
from netstack.services.ping import PingResult
from netstack.sim import Network
from netstack.sim.network import Host
from netstack.socket import SocketAddress, TCPSocket, UDPSocket
from netstack.stacks.core.nd import NeighborInfo, NeighborState
from netstack.wire.icmpv6 import Icmpv6Type, UnreachableCode
from netstack.wire.ipv6 import Ipv6Header
from netstack.wire.pcap import PcapReader

from .helpers import RawPort, echo_round_trip

PREFIX_1, PREFIX_2 = "2001:db8:1::/64", "2001:db8:2::/64"


def ip6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def text(address: bytes) -> str:
    return str(ipaddress.IPv6Address(address))


def pattern(size: int, salt: bytes) -> bytes:
    return hashlib.shake_128(salt).digest(size)


@pytest.fixture
def networks() -> Iterator[list[Network]]:
    """Networks made by a test, closed after it (their service tasks end with the loop)."""
    made: list[Network] = []
    yield made
    for net in made:
        net.close()


def two_subnets(seed: int, capture_dir: Path | None = None) -> tuple[Network, Host, Host, Host]:
    """s1 (2001:db8:1::/64, RDNSS 2001:db8:1::53) - router - s2 (2001:db8:2::/64) with one
    SLAAC host on each side. MACs in creation order: a 02:..:01, b :02, r :03 and :04 (the
    hosts come first, yet ``start()`` brings the router up before them)."""
    net = Network(seed=seed, capture_dir=capture_dir)
    s1, s2 = net.segment("s1"), net.segment("s2")
    a = net.host("a", s1, "", ipv6="slaac")
    b = net.host("b", s2, "", ipv6="slaac")
    router = net.router("r", [(s1, "10.1.0.1/24"), (s2, "10.2.0.1/24")])
    net.ipv6_router(router, s1, PREFIX_1, dns=("2001:db8:1::53",))
    net.ipv6_router(router, s2, PREFIX_2)
    return net, router, a, b


# -- autoconfiguration and routing --------------------------------------------------------------


def test_hosts_autoconfigure_eui64_addresses_and_dns_from_the_router(networks):
    net, router, a, b = two_subnets(seed=1)
    networks.append(net)
    net.run(net.start())

    # RFC 4291 appendix A: 02:00:00:00:00:01 -> 0000:00ff:fe00:0001 (universal/local bit
    # flipped); RFC 4862 §5.5.3: the advertised /64 plus that identifier
    assert a.iface.get_ipv6_address() == SocketAddress("2001:db8:1::ff:fe00:1")
    assert b.iface.get_ipv6_address() == SocketAddress("2001:db8:2::ff:fe00:2")
    assert sorted((text(addr), plen, state) for addr, plen, state in a.iface.ipv6.addresses()) == [
        ("2001:db8:1::ff:fe00:1", 64, "preferred"),
        ("fe80::ff:fe00:1", 64, "preferred"),
    ]
    assert a.iface.get_ipv6_link_local_address() == SocketAddress(
        "fe80::ff:fe00:1", scope_id=a.iface.netif.index
    )
    for host in (a, b):
        assert host.iface.get_connection_status() == ConnectionStatus.GLOBAL_UP
        assert host.iface.ipv6.slaac.stats.dad_successes == 2
        assert host.iface.ipv6.discovery.default_router(net.now()) is not None
    # RFC 8106: only s1's advertisements carry a DNS server
    assert a.stack.get_dns_servers() == [SocketAddress("2001:db8:1::53", 53)]
    assert b.stack.get_dns_servers() == []
    assert net.now() < 10.0  # the router advertised at once: nobody waited out a timeout
    for side in router.interfaces:  # RFC 4861 §6.3.7: routers advertise, never solicit
        assert side.ipv6.stats.rs_out == 0 and side.ipv6.stats.ra_out >= 1


def test_a_router_advertises_as_soon_as_its_link_local_address_is_unique(networks):
    net = Network(seed=9)
    networks.append(net)
    lan = net.segment("lan")
    router = net.router("r", [(lan, "10.1.0.1/24")])
    net.ipv6_router(router, lan, PREFIX_1)
    listener = RawPort(lan)  # hears multicast, never solicits
    net.run(net.start())
    net.run_for(5.0)
    ras = [(ip.src, ip.hop_limit) for ip, hdr, _ in listener.icmp6() if hdr.type == 134]
    # RFC 4861 §6.2.4: the first of MAX_INITIAL_RTR_ADVERTISEMENTS, once DAD let the
    # link-local source be used (at most 1 s of delay and 1 s of RetransTimer here), not
    # lost to the tentative address and put off by MAX_INITIAL_RTR_ADVERT_INTERVAL (16 s)
    assert ras == [(ip6("fe80::ff:fe00:1"), 255)]
    assert router.iface.ipv6.stats.ra_out == 1


def test_ping_tcp_and_udp_cross_the_router(networks):
    net, router, a, b = two_subnets(seed=2)
    networks.append(net)
    data = pattern(300_000, b"across")

    async def main() -> tuple[PingResult, bytes, tuple[bytes, SocketAddress]]:
        await net.start()
        target = b.iface.get_ipv6_address()
        assert target is not None
        pinged = await ping(a, target, count=3, interval=0.1)
        TcpEchoServer(b).start()
        UdpEchoServer(b).start()
        sock = TCPSocket(a)
        await sock.connect(SocketAddress(target, 7))
        echoed = await echo_round_trip(sock, data)
        sock.close()
        udp = UDPSocket(a)
        udp.set_timeout(1.0)
        await udp.sendto(SocketAddress(target, 7), b"over the router")
        return pinged, echoed, await udp.recvfrom()

    pinged, echoed, (datagram, peer) = net.run(main())
    assert pinged.received == 3
    assert echoed == data
    assert datagram == b"over the router"
    assert peer == SocketAddress("2001:db8:2::ff:fe00:2", 7)
    counters = router.stack.ipv6.counters
    assert counters.forwarded > 2 * len(data) // 1440  # both directions went through it
    assert counters.hop_limit_exceeded == 0


def test_stable_privacy_addresses_are_opaque_and_the_same_for_the_same_secret(networks):
    def build(seed: int) -> tuple[Network, Host]:
        net = Network(seed=seed)
        networks.append(net)
        lan = net.segment("lan")
        router = net.router("r", [(lan, "10.1.0.1/24")])
        net.ipv6_router(router, lan, PREFIX_1)
        host = net.host("h", lan, "", ipv6="slaac")
        host.iface.set_ipv6("slaac", stable_privacy=True)
        return net, host

    def addresses(host: Host) -> set[bytes]:
        return {addr for addr, _, state in host.iface.ipv6.addresses() if state == "preferred"}

    async def reconnect(host: Host) -> None:
        await host.iface.disconnect()
        assert host.iface.ipv6.addresses() == []
        await host.iface.connect()

    net, host = build(seed=3)
    net.run(net.start())
    first = addresses(host)
    secret = host.iface.ipv6.slaac.secret_key
    eui64 = bytes.fromhex("000000fffe000002")  # what 02:00:00:00:00:02 would give
    assert len(first) == 2 and len(secret) == 32
    for address in first:
        prefix = address[:8]
        assert prefix in (ip6("fe80::")[:8], ip6("2001:db8:1::")[:8])
        assert address[8:] != eui64
        # RFC 7217 §5: F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key), SHA-256
        f = hashlib.sha256(prefix + b"h.lan" + b"" + b"\x00" + secret).digest()
        assert address[8:] == f[:8]
    assert host.iface.get_ipv6_address() in [SocketAddress(a) for a in first]

    net.run(reconnect(host))  # the same secret after the interface went down and up
    assert addresses(host) == first

    again_net, again = build(seed=3)  # the secret comes from the world's seeded rng
    again_net.run(again_net.start())
    assert addresses(again) == first
    other_net, other = build(seed=4)
    other_net.run(other_net.start())
    assert not addresses(other) & first


# -- Duplicate Address Detection ------------------------------------------------------------


def test_dad_finds_a_duplicate_global_address_which_is_never_used(networks, tmp_path: Path):
    net = Network(seed=5, capture_dir=tmp_path)
    networks.append(net)
    lan = net.segment("lan")
    router = net.router("r", [(lan, "10.1.0.1/24")])  # 02:00:00:00:00:01
    net.ipv6_router(router, lan, PREFIX_1)
    # a manually configured address (used at once, no DAD) that happens to be the one a's
    # MAC will autoconfigure: a real collision, started first, defends its address
    squatter = net.host("s", lan, "", ipv6="static:2001:db8:1::ff:fe00:3/64")  # :02
    a = net.host("a", lan, "", ipv6="slaac")  # 02:00:00:00:00:03
    duplicate = ip6("2001:db8:1::ff:fe00:3")

    async def main() -> PingResult:
        await net.start()
        await asyncio.sleep(5.0)  # any late retry would be done by now
        return await ping(a, SocketAddress("2001:db8:1::1"), count=2, interval=0.1)

    pinged = net.run(main())
    net.close()
    ip6a = a.iface.ipv6
    assert (duplicate, 64, "duplicate") in ip6a.addresses()
    assert ip6a.stats.dad_failures == ip6a.slaac.stats.dad_failures == 1
    assert a.stack.stats()["ipv6:a.lan"]["dad_failures"] == 1
    assert a.iface.get_ipv6_address() is None
    assert duplicate not in a.stack.ipv6.local
    assert a.iface.get_connection_status() == ConnectionStatus.LOCAL_UP
    assert squatter.iface.get_ipv6_address() == SocketAddress(duplicate)  # it kept it
    # a still talks from its link-local address, and never from the duplicate one
    assert pinged.received == 2
    sources = set()
    for _, frame in PcapReader(tmp_path / "lan.pcap"):
        if frame[6:12] == a.iface.netif.link.hwaddr and frame[12:14] == b"\x86\xdd":
            sources.add(Ipv6Header.parse(frame[14:])[0].src)
    assert sources == {bytes(16), ip6("fe80::ff:fe00:3")}  # DAD probes come from ::


def test_a_duplicate_hardware_link_local_address_disables_ipv6_on_the_interface(networks):
    net = Network(seed=6)
    networks.append(net)
    lan = net.segment("lan")
    router = net.router("r", [(lan, "10.1.0.1/24")])
    net.ipv6_router(router, lan, PREFIX_1)
    a = net.host("a", lan, "", ipv6="slaac")
    # a second NIC with a's MAC (a cloned VM): the same EUI-64 link-local address
    twin = net.host("twin", lan, "", ipv6="slaac", hwaddr=a.iface.netif.link.hwaddr)
    twin.iface.blocking = False  # connect() would wait for an address that never comes

    async def main() -> PingResult:
        await net.start()
        await asyncio.sleep(5.0)
        target = a.iface.get_ipv6_address()
        assert target is not None
        return await ping(router, target, count=2, interval=0.1)

    pinged = net.run(main())
    ip6t = twin.iface.ipv6
    # RFC 4862 §5.4.5: a duplicate link-local address formed from the hardware address
    assert not ip6t.enabled and ip6t.slaac.disabled
    assert ip6t.addresses() == [(ip6("fe80::ff:fe00:2"), 64, "duplicate")]
    assert ip6t.slaac.stats.dad_failures == 1
    assert twin.iface.get_ipv6_address() is None
    assert twin.iface.get_connection_status() == ConnectionStatus.CONNECTING
    with pytest.raises(NoAddressError):
        twin.stack.ipv6.route(ip6("2001:db8:1::1"))
    # the first owner is untouched and reachable
    assert a.iface.ipv6.slaac.stats.dad_failures == 0
    assert a.iface.get_connection_status() == ConnectionStatus.GLOBAL_UP
    assert pinged.received == 2


# -- Neighbor Unreachability Detection ---------------------------------------------------------


def test_a_vanished_neighbour_fails_nud_and_its_queued_packets_get_address_unreachable(
    networks, tmp_path: Path
):
    net, router, a, b = two_subnets(seed=7, capture_dir=tmp_path)
    networks.append(net)
    target = ip6("2001:db8:2::ff:fe00:2")

    async def main() -> tuple[PingResult, NeighborInfo | None, float]:
        await net.start()
        UdpEchoServer(b).start()
        udp = UDPSocket(a)
        udp.set_timeout(1.0)
        await udp.sendto(SocketAddress(target, 7), b"still there?")
        assert await udp.recv() == b"still there?"
        b.iface.emac.set_link(False)  # b's cable is pulled: it just goes silent
        # RFC 4861 §7.3.3: REACHABLE ages to STALE, the next packet starts DELAY, then
        # PROBE, then the entry is deleted; the next packet resolves afresh and fails
        pinged = await ping(a, SocketAddress(target), count=60, interval=1.0)
        entry = router.interfaces[1].ipv6.neighbors.lookup(target, net.now())
        start = net.now()
        sock = TCPSocket(a)
        with pytest.raises(HostUnreachableError) as refused:
            await sock.connect(SocketAddress(target, 7))
        assert refused.value.errno == errno.EHOSTUNREACH
        return pinged, entry, net.now() - start

    pinged, entry, connect_time = net.run(main())
    net.close()
    toward_b = router.interfaces[1].ipv6
    assert toward_b.neighbors.stats.failed >= 2  # the probed entry, then a resolution
    assert entry is None or entry.state is NeighborState.INCOMPLETE
    assert pinged.received == 0
    # RFC 4861 §7.2.2: every packet queued for b (echo requests, then SYNs) came back to
    # its source as an ICMPv6 address unreachable from the router
    errors = []
    for _, frame in PcapReader(tmp_path / "s1.pcap"):
        if frame[12:14] != b"\x86\xdd":
            continue
        ip, payload = Ipv6Header.parse(frame[14:])
        if ip.next_header == 58 and payload[0] < 128:
            errors.append((text(ip.src), text(ip.dst), payload[0], payload[1]))
    assert len(errors) == toward_b.stats.address_unreachable > 0
    assert set(errors) == {("2001:db8:1::1", "2001:db8:1::ff:fe00:1",
                            Icmpv6Type.DEST_UNREACHABLE, UnreachableCode.ADDRESS)}  # fmt: skip
    assert 0 < pinged.errors < len(errors)
    # the SYN waited for the router's 3 solicitations (RFC 4861 §10: MAX_MULTICAST_SOLICIT
    # x RETRANS_TIMER), then the address unreachable ended the connect (RFC 5461 §4.1)
    assert 0 < connect_time <= 3.0


# -- determinism ---------------------------------------------------------------------------------


def run_captured(seed: int, capture_dir: Path) -> dict[str, bytes]:
    """Autoconfiguration, a ping, a TCP echo and a UDP echo across the router, captured."""
    net, _, a, b = two_subnets(seed, capture_dir)

    async def main() -> None:
        await net.start()
        target = b.iface.get_ipv6_address()
        assert target is not None
        await ping(a, target, count=2, interval=0.1)
        TcpEchoServer(b).start()
        UdpEchoServer(b).start()
        sock = TCPSocket(a)
        await sock.connect(SocketAddress(target, 7))
        await echo_round_trip(sock, pattern(20_000, b"capture"))
        sock.close()
        udp = UDPSocket(a)
        udp.set_timeout(1.0)
        await udp.sendto(SocketAddress(target, 7), b"datagram")
        await udp.recv()
        await asyncio.sleep(1.0)

    try:
        net.run(main())
    finally:
        net.close()
    return {p.name: p.read_bytes() for p in sorted(capture_dir.glob("*.pcap"))}


def test_the_same_seed_gives_byte_identical_ipv6_captures(tmp_path: Path):
    first = run_captured(11, tmp_path / "one")
    # another process with another hash seed: no set or dict order leaks onto the wire
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from tests.sim.test_ipv6 import run_captured; run_captured(11, Path(sys.argv[2]))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(root), str(tmp_path / "two")],
                   check=True, env=env)  # fmt: skip
    second = {p.name: p.read_bytes() for p in sorted((tmp_path / "two").glob("*.pcap"))}
    other = run_captured(12, tmp_path / "three")
    assert first.keys() == {"s1.pcap", "s2.pcap"}
    assert first == second
    assert first != other  # the seed matters (delays, nonces, sequence numbers)
    frames = [frame for _, frame in PcapReader(tmp_path / "one" / "s2.pcap")]
    assert sum(frame[12:14] == b"\x86\xdd" for frame in frames) > 20
