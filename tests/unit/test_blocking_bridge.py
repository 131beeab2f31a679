"""Blocking callers in another thread drive a real-mode world through the Runtime bridge."""

from __future__ import annotations

import threading

import pytest

from netstack.drivers.emac.virtual import VirtualSegment
from netstack.errors import NetworkTimeoutError
from netstack.interfaces import ConnectionStatus, EthernetInterface
from netstack.runtime import Runtime
from netstack.services import UdpEchoServer
from netstack.socket import UDPSocket


def test_connect_blocking_and_udp_round_trip_from_a_thread():
    with Runtime(seed=3) as rt:

        def build() -> tuple[EthernetInterface, EthernetInterface]:
            lan = VirtualSegment(rt.world, "lan")
            a = EthernetInterface(lan.add_port(), world=rt.world)
            b = EthernetInterface(lan.add_port(), world=rt.world)
            a.set_network("10.0.0.1", 24)
            b.set_network("10.0.0.2", 24)
            return a, b

        a, b = rt.call(build)
        a.connect_blocking(rt, timeout=5)
        b.connect_blocking(rt, timeout=5)
        assert a.get_connection_status() is ConnectionStatus.GLOBAL_UP
        rt.call(lambda: UdpEchoServer(b).start())

        results: list[bytes] = []

        def worker() -> None:  # an embedded-style application thread
            sock = rt.call(lambda: UDPSocket(a))
            sock.set_timeout(2.0)
            for i in range(20):
                payload = f"msg {i}".encode()
                rt.run(sock.sendto(("10.0.0.2", 7), payload), timeout=5)
                results.append(rt.run(sock.recv(), timeout=5))
            rt.call(sock.close)

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(20)
        assert results == [f"msg {i}".encode() for i in range(20)]
        a.disconnect_blocking(rt, timeout=5)
        assert a.status is ConnectionStatus.DISCONNECTED


def test_socket_timeout_reaches_the_blocking_caller():
    with Runtime(seed=3) as rt:

        def build() -> EthernetInterface:
            lan = VirtualSegment(rt.world, "lan")
            a = EthernetInterface(lan.add_port(), world=rt.world)
            a.set_network("10.0.0.1", 24)
            return a

        iface = rt.call(build)
        iface.connect_blocking(rt, timeout=5)
        sock = rt.call(lambda: UDPSocket(iface))
        rt.call(lambda: sock.bind(4000))  # stack calls run on the loop's thread
        sock.set_timeout(0.05)  # the socket's own timeout, on the loop's (real) clock
        with pytest.raises(NetworkTimeoutError):
            rt.run(sock.recvfrom(), timeout=5)


def test_a_timeout_the_coroutine_raises_reaches_the_caller_unchanged():
    # concurrent.futures.TimeoutError is builtins.TimeoutError: the bridge must not take
    # the coroutine's own TimeoutError (a ConnectionTimeoutError here) for its wait expiring
    from netstack.errors import ConnectionTimeoutError

    async def gives_up() -> None:
        raise ConnectionTimeoutError("no answer to the SYNs")

    with Runtime(seed=3) as rt, pytest.raises(ConnectionTimeoutError, match="no answer to"):
        rt.run(gives_up(), timeout=5)
