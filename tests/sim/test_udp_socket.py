"""UDPSocket semantics on the simulated ip stack."""

from __future__ import annotations

import asyncio

import pytest

from netstack.errors import (
    AddressInUseError,
    NoAddressError,
    NoSocketError,
    ParameterError,
    WouldBlockError,
)
from netstack.sim import Network
from netstack.socket import SOL_SOCKET, SocketAddress, SocketOption, UDPSocket


@pytest.fixture
def lan():
    net = Network(seed=2)
    seg = net.segment("lan")
    hosts = [net.host(n, seg, f"10.0.0.{i}/24") for i, n in enumerate("abc", start=1)]
    net.run(net.start())
    yield net, hosts
    net.close()


def test_nonblocking_recv_raises_would_block(lan):
    net, (a, _, _) = lan
    sock = UDPSocket(a)
    sock.bind(4000)
    sock.set_blocking(False)
    with pytest.raises(WouldBlockError):
        sock.recvfrom_nowait()

    async def main():
        with pytest.raises(BlockingIOError):
            await sock.recvfrom()

    net.run(main())


def test_bind_conflicts_and_reuse(lan):
    _, (a, _, _) = lan
    s1, s2 = UDPSocket(a), UDPSocket(a)
    s1.bind(5000)
    with pytest.raises(AddressInUseError):
        s2.bind(5000)
    r1, r2 = UDPSocket(a), UDPSocket(a)
    for s in (r1, r2):
        s.setsockopt(SOL_SOCKET, SocketOption.REUSEADDR, True)
        s.bind(6000)
    with pytest.raises(ParameterError):
        UDPSocket(a).bind(("10.0.0.99", 7000))  # not our address


def test_ephemeral_ports_are_in_the_dynamic_range_and_distinct(lan):
    _, (a, _, _) = lan
    ports = set()
    for _ in range(50):
        s = UDPSocket(a)
        s.bind(0)
        ports.add(s.getsockname().port)
    assert len(ports) == 50
    assert all(49152 <= p <= 65535 for p in ports)


def test_connect_sets_default_peer_and_filters_others(lan):
    net, (a, b, c) = lan

    async def main():
        rx = UDPSocket(a)
        rx.bind(7000)
        rx.connect(("10.0.0.2", 7001))
        from_b, from_c = UDPSocket(b), UDPSocket(c)
        from_b.bind(7001)
        from_c.bind(7001)
        await from_c.sendto(("10.0.0.1", 7000), b"from c")
        await from_b.sendto(("10.0.0.1", 7000), b"from b")
        rx.set_timeout(1)
        data, peer = await rx.recvfrom()
        assert (data, peer) == (b"from b", SocketAddress("10.0.0.2", 7001))
        assert rx.getpeername() == SocketAddress("10.0.0.2", 7001)
        await rx.send(b"reply")
        assert await from_b.recv() == b"reply"
        rx.connect("")  # reset the default peer
        with pytest.raises(NoAddressError):
            await rx.send(b"nowhere")

    net.run(main())


def test_broadcast_needs_the_option_and_reaches_every_host(lan):
    net, (a, b, c) = lan

    async def main():
        listeners = []
        for host in (b, c):
            s = UDPSocket(host)
            s.bind(8000)
            s.set_timeout(1)
            listeners.append(s)
        tx = UDPSocket(a)
        with pytest.raises(ParameterError):
            await tx.sendto(("255.255.255.255", 8000), b"hello all")
        tx.set_broadcast(True)
        await tx.sendto(("255.255.255.255", 8000), b"hello all")
        await tx.sendto(("10.0.0.255", 8000), b"directed")
        return [[await s.recv(), await s.recv()] for s in listeners]

    assert net.run(main()) == [[b"hello all", b"directed"]] * 2


def test_receive_queue_is_bounded_and_drops_are_counted(lan):
    net, (a, b, _) = lan

    async def main():
        rx = UDPSocket(b)
        rx.bind(9000)
        rx.setsockopt(SOL_SOCKET, SocketOption.RCVBUF, 1000)
        tx = UDPSocket(a)
        for _ in range(20):
            await tx.sendto(("10.0.0.2", 9000), b"x" * 100)
        await asyncio.sleep(0.1)
        return rx.drain()

    got = net.run(main())
    assert len(got) == 10
    assert b.stack.stats()["udp"]["rx_queue_full"] == 10


def test_sigio_fires_when_data_arrives(lan):
    net, (a, b, _) = lan
    events: list[float] = []

    async def main():
        rx = UDPSocket(b)
        rx.bind(9100)
        rx.sigio(lambda: events.append(net.now()))
        await UDPSocket(a).sendto(("10.0.0.2", 9100), b"ping")
        await asyncio.sleep(0.1)
        return rx.recvfrom_nowait()

    data, _ = net.run(main())
    assert data == b"ping" and len(events) == 1


def test_close_wakes_a_waiting_receiver_and_closed_socket_raises(lan):
    net, (a, _, _) = lan

    async def main():
        s = UDPSocket(a)
        s.bind(9200)
        waiter = asyncio.ensure_future(s.recvfrom())
        await asyncio.sleep(0.01)
        s.close()
        with pytest.raises(NoSocketError):
            await waiter
        with pytest.raises(NoSocketError):
            s.recvfrom_nowait()
        with pytest.raises(NoSocketError):
            s.close()

    net.run(main())


def test_oversized_datagram_is_refused(lan):
    _, (a, _, _) = lan
    s = UDPSocket(a)
    with pytest.raises(ParameterError):
        s.sendto_nowait(("10.0.0.2", 9), b"x" * 65508)


def test_unroutable_destination_raises_no_address(lan):
    _, (a, _, _) = lan
    with pytest.raises(NoAddressError):
        UDPSocket(a).sendto_nowait(("192.0.2.1", 9), b"x")


def test_loopback_to_own_address(lan):
    net, (a, _, _) = lan

    async def main():
        rx = UDPSocket(a)
        rx.bind(9300)
        rx.set_timeout(1)
        await UDPSocket(a).sendto(("10.0.0.1", 9300), b"self")
        return await rx.recv()

    assert net.run(main()) == b"self"
