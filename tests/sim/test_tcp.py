"""TCP through the whole stack on simulated networks (virtual time)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from netstack.errors import ConnectionRefused, NetworkTimeoutError
from netstack.services import TcpChargenServer, TcpDiscardServer, TcpEchoServer
from netstack.sim import LinkParams, Network
from netstack.socket import SOL_SOCKET, SocketOption, TCPSocket
from netstack.wire.ethernet import EthernetHeader, EtherType
from netstack.wire.ipv4 import IpProto, Ipv4Header
from netstack.wire.tcp import TcpFlags, TcpHeader, TcpOptions

from .helpers import RawPort, echo_round_trip


@pytest.fixture
def pair():
    """make(params, seed) -> (net, lan, a, b); every network is closed after the test, so
    its service tasks end while their loop still exists."""
    made: list[Network] = []

    def make(params: LinkParams | None = None, seed: int = 1):
        net = Network(seed=seed)
        made.append(net)
        lan = net.segment("lan", params)
        a = net.host("a", lan, "10.0.0.1/24")
        b = net.host("b", lan, "10.0.0.2/24")
        return net, lan, a, b

    yield make
    for net in made:
        net.close()


def pattern(size: int, salt: int) -> bytes:
    return hashlib.shake_128(salt.to_bytes(4, "big")).digest(size)


@pytest.mark.parametrize("seed", [1, 2])
def test_bulk_echo_is_byte_exact_over_a_lossy_reordering_duplicating_link(pair, seed: int):
    params = LinkParams(latency=2e-3, bandwidth=50e6, loss=0.05, reorder=0.02, duplicate=0.01)
    net, _, a, b = pair(params, seed)
    data = pattern(2_000_000, seed)

    async def main():
        await net.start()
        TcpEchoServer(b).start()
        sock = TCPSocket(a)
        await sock.connect(("10.0.0.2", 7))
        echoed = await echo_round_trip(sock, data)
        stats = sock._handle.conn.stats  # type: ignore[union-attr]
        sock.close()
        return echoed, stats

    echoed, stats = net.run(main())
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
    assert stats.retransmissions > 0  # the link really lost segments: they were resent


def test_hundred_concurrent_connections(pair):
    net, _, a, b = pair(LinkParams(latency=1e-3, bandwidth=100e6))

    async def client(i: int) -> bool:
        sock = TCPSocket(a)
        await sock.connect(("10.0.0.2", 7))
        data = pattern(5000 + i, i)
        ok = await echo_round_trip(sock, data) == data
        sock.close()
        return ok

    async def main():
        await net.start()
        server = TcpEchoServer(b, backlog=128)
        server.start()
        results = await asyncio.gather(*(client(i) for i in range(100)))
        return results, server.stats.connections

    results, connections = net.run(main())
    assert all(results) and len(results) == 100
    assert connections == 100


def test_connect_to_a_closed_port_is_refused(pair):
    net, _, a, _b = pair()

    async def main():
        await net.start()
        sock = TCPSocket(a)
        with pytest.raises(ConnectionRefused):
            await sock.connect(("10.0.0.2", 4444))

    net.run(main())


def test_connect_to_a_silent_host_times_out_on_the_socket_timeout(pair):
    net, _, a, _b = pair()

    async def main():
        await net.start()
        sock = TCPSocket(a)
        sock.set_timeout(5.0)
        start = net.now()
        with pytest.raises(NetworkTimeoutError):
            await sock.connect(("10.0.0.77", 80))  # nobody has this address
        return net.now() - start

    assert net.run(main()) == pytest.approx(5.0)


def test_receiver_that_stops_reading_stalls_the_sender_until_it_reads_again(pair):
    net, _, a, b = pair(LinkParams(latency=1e-3, bandwidth=100e6))
    data = pattern(1_000_000, 9)

    async def main():
        await net.start()
        listener = TCPSocket(b)
        listener.bind(5000)
        listener.listen(1)
        sender = TCPSocket(a)
        await sender.connect(("10.0.0.2", 5000))
        receiver, _ = await listener.accept()
        send_task = asyncio.ensure_future(sender.send(data))
        await asyncio.sleep(5.0)  # the receiver reads nothing: windows fill up
        assert not send_task.done()
        probes_before = sender._handle.conn.stats.zero_window_probes  # type: ignore[union-attr]
        await asyncio.sleep(30.0)
        probes = sender._handle.conn.stats.zero_window_probes - probes_before  # type: ignore[union-attr]
        got = []
        total = 0
        while total < len(data):  # reading again reopens the window
            chunk = await receiver.recv(65536)
            got.append(chunk)
            total += len(chunk)
        await send_task
        return b"".join(got), probes

    received, probes = net.run(main())
    assert received == data
    assert probes >= 1  # the sender probed the zero window while it waited


def test_half_close_both_ways_and_services(pair):
    net, _, a, b = pair()

    async def main():
        await net.start()
        TcpDiscardServer(b).start()
        TcpChargenServer(b).start()
        discard = TCPSocket(a)
        await discard.connect(("10.0.0.2", 9))
        await discard.send(b"x" * 100_000)
        discard.shutdown()  # half-close: the server sees EOF, we can still read
        assert await discard.recv() == b""  # ... and it closes its side
        chargen = TCPSocket(a)
        await chargen.connect(("10.0.0.2", 19))
        first = await chargen.recv_exactly(74 * 3)
        chargen.close()
        return first

    first = net.run(main())
    lines = first.split(b"\r\n")
    assert lines[0] == bytes(range(32, 104))  # RFC 864: 72 characters from ' '
    assert lines[1] == bytes(range(33, 105))


def test_socket_options_reach_the_connection(pair):
    net, _, a, b = pair()

    async def main():
        await net.start()
        TcpEchoServer(b).start()
        sock = TCPSocket(a)
        sock.setsockopt(SOL_SOCKET, SocketOption.NODELAY, True)
        sock.setsockopt(SOL_SOCKET, SocketOption.KEEPALIVE, True)
        await sock.connect(("10.0.0.2", 7))
        return sock, sock.getsockopt(SOL_SOCKET, SocketOption.NODELAY)

    sock, nodelay = net.run(main())
    assert nodelay is True
    assert sock._handle.conn.config.keepalive is True  # type: ignore[union-attr]


def test_syn_flood_is_answered_with_cookies_while_service_continues(pair):
    net, lan, a, b = pair(LinkParams(latency=1e-3, bandwidth=100e6))
    attacker = RawPort(lan)
    data = pattern(300_000, 3)

    async def main():
        await net.start()
        TcpEchoServer(b, backlog=8).start()
        established = TCPSocket(a)
        await established.connect(("10.0.0.2", 7))
        transfer = asyncio.ensure_future(echo_round_trip(established, data))
        mac = b.iface.netif.link.hwaddr
        rng = net.world.rng
        for i in range(3000):  # SYNs from spoofed sources that never answer
            src = bytes([10, 0, 0, 100 + i % 100])
            syn = TcpHeader(1024 + i, 7, rng.getrandbits(32), 0, TcpFlags.SYN, 65535,
                            options=TcpOptions(mss=1460))  # fmt: skip
            segment = syn.build(b"", src=src, dst=b"\x0a\0\0\x02")
            packet = Ipv4Header(src, b"\x0a\0\0\x02", IpProto.TCP).build(segment)
            attacker.send(EthernetHeader(mac, attacker.mac, EtherType.IPV4).build(packet))
            if i % 100 == 0:
                await asyncio.sleep(0.001)
        fresh = TCPSocket(a)  # a new legitimate connection during the flood
        await fresh.connect(("10.0.0.2", 7))
        ok_fresh = await echo_round_trip(fresh, b"still here") == b"still here"
        return await transfer, ok_fresh

    echoed, ok_fresh = net.run(main())
    assert echoed == data and ok_fresh
    tcp = b.stack.stats()["tcp"]
    assert tcp["syn_cookies_sent"] > 0
    assert len(b.stack.tcp.connections) <= 256 + 4  # the SYN queue stayed bounded


def test_new_syn_reopens_a_connection_in_time_wait(pair):
    net, _, a, b = pair()

    async def main():
        await net.start()
        listener = TCPSocket(b)
        listener.bind(8000)
        listener.listen(4)
        results = []
        for round_ in range(2):
            client = TCPSocket(a)
            client.setsockopt(SOL_SOCKET, SocketOption.REUSEADDR, True)
            client.bind(40000)  # the same 4-tuple both times
            start = net.now()
            await client.connect(("10.0.0.2", 8000))
            results.append(net.now() - start)
            conn, _ = await listener.accept()
            conn.close()  # the server closes first: its side goes to TIME-WAIT
            assert await client.recv() == b""
            client.close()
            await asyncio.sleep(1.0)  # well within 2*MSL
            assert round_ or b.stack.tcp.connections  # the server side sits in TIME-WAIT
        return results, b.stack.tcp.counters.connections_accepted

    connect_times, accepted = net.run(main())
    assert accepted == 2
    # RFC 6191: the second SYN (newer timestamps) reopened the TIME-WAIT 4-tuple at once
    # instead of waiting out 2*MSL behind retransmitted SYNs
    assert connect_times[1] < 0.1


def test_unknown_socket_options_are_unsupported_both_ways(pair):
    from netstack.errors import UnsupportedError

    net, _, a, _b = pair()
    net.run(net.start())
    sock = TCPSocket(a)
    with pytest.raises(UnsupportedError):
        sock.setsockopt(SOL_SOCKET, 999, 1)
    with pytest.raises(UnsupportedError):
        sock.getsockopt(SOL_SOCKET, 999)
    sock.setsockopt(SOL_SOCKET, SocketOption.KEEPIDLE, 30)
    assert sock.getsockopt(SOL_SOCKET, SocketOption.KEEPIDLE) == 30.0
