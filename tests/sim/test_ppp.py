"""PPP in simulation: a client dialling a netstack "ISP" over a simulated serial line.

The line has a real serial timing model (10 bit times per byte at the baud rate) and
independent bit errors, so FCS failures, retransmitted negotiation packets and TCP
recovery all happen for real.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from pathlib import Path

import pytest

from netstack.drivers.serial.line import SerialLine
from netstack.errors import AuthFailureError, NetworkTimeoutError, NoConnectionError
from netstack.interfaces.base import ConnectionStatus
from netstack.interfaces.ppp import PPPInterface
from netstack.runtime.world import World
from netstack.services.echo import UdpEchoServer
from netstack.services.ping import ping
from netstack.services.tcp import TcpEchoServer
from netstack.sim.network import DialUp, Network
from netstack.socket import TCPSocket, UDPSocket
from netstack.stacks.ip.ppp import AuthProtocol, LcpConfig, PppConfig
from netstack.wire.pcap import read_pcap

from .helpers import echo_round_trip

SECRETS = {"alice": "wonderland"}


def isp_network(
    seed: int = 1, capture_dir: Path | None = None, **dial: object
) -> tuple[Network, DialUp]:
    """An ISP router with a LAN (web server 10.1.0.2) and one dial-up client."""
    net = Network(seed=seed, capture_dir=capture_dir)
    lan = net.segment("lan")
    isp = net.router("isp", [(lan, "10.1.0.1/24")])
    net.host("web", lan, "10.1.0.2/24", gateway="10.1.0.1")
    dial.setdefault("dns", ("10.1.0.53",))
    dialup = net.dialup("modem", isp, **dial)  # type: ignore[arg-type]
    return net, dialup


def test_dialup_gets_address_dns_and_reaches_the_isp_lan() -> None:
    net, dial = isp_network(auth="chap", secrets=SECRETS, user="alice", password="wonderland")
    with net:

        async def main() -> None:
            await net.start()
            client = dial.client
            assert client.status == ConnectionStatus.GLOBAL_UP
            assert client.ip_address == "10.64.0.10"
            assert client.gateway == "10.64.0.1"
            assert client.netmask == "255.255.255.255"
            assert [d.ip for d in client.get_dns_servers()] == ["10.1.0.53"]
            assert dial.server.peer_name == "alice"
            assert dial.server.gateway == "10.64.0.10"
            result = await ping(client, "10.1.0.2", count=3, interval=0.5)
            assert result.received == 3
            # the client's default route is the link; the web host answers through the ISP
            echo = TcpEchoServer(net.hosts["web"].stack)
            echo.start()
            sock = TCPSocket(client.stack)
            await sock.connect(("10.1.0.2", 7))
            data = hashlib.shake_128(b"ppp").digest(30_000)
            assert await echo_round_trip(sock, data) == data
            sock.close()

        net.run(main())


def test_tcp_byte_exact_over_a_noisy_line() -> None:
    """About one frame in eight is corrupted (1e-5 bit errors, 1500-byte frames): the FCS
    catches each, TCP retransmits, the data arrives intact."""
    net, dial = isp_network(seed=3, bit_error_rate=1e-5)
    with net:

        async def main() -> None:
            await net.start()
            echo = TcpEchoServer(dial.server.stack, 7)
            echo.start()
            sock = TCPSocket(dial.client.stack)
            await sock.connect(("10.64.0.1", 7))
            data = hashlib.shake_128(b"noisy").digest(200_000)
            assert await echo_round_trip(sock, data) == data
            sock.close()

        net.run(main())
        corrupted = dial.client.link.stats()["rx_bad_fcs"] + dial.server.link.stats()["rx_bad_fcs"]
        assert corrupted > 10
        assert dial.line.a.stats()["bit_errors"] + dial.line.b.stats()["bit_errors"] > 10


def test_throughput_is_most_of_the_line_rate() -> None:
    net, dial = isp_network(seed=4)
    with net:

        async def main() -> float:
            await net.start()
            echo = TcpEchoServer(dial.server.stack, 7)
            echo.start()
            sock = TCPSocket(dial.client.stack)
            await sock.connect(("10.64.0.1", 7))
            data = bytes(100_000)
            start = net.now()
            assert await echo_round_trip(sock, data) == data
            sock.close()
            return len(data) / (net.now() - start)

        rate = net.run(main())
        # 11,520 bytes/s of line; PPP, IP and TCP headers and escaping take their share
        assert 0.6 * 11520 < rate <= 11520


@pytest.mark.parametrize("auth", ["pap", "chap"])
def test_wrong_password_is_an_auth_failure_on_both_sides(auth: str) -> None:
    net, dial = isp_network(auth=auth, secrets=SECRETS, user="alice", password="rabbit")
    with net:

        async def main() -> tuple[BaseException | None, BaseException | None]:
            await net.start_static()
            results = await asyncio.gather(
                dial.client.connect(), dial.server.connect(), return_exceptions=True
            )
            return results[0], results[1]

        client_error, server_error = net.run(main())
        assert isinstance(client_error, AuthFailureError)
        assert "refused our credentials" in str(client_error)
        assert isinstance(server_error, AuthFailureError)
        assert "alice" in str(server_error)
        assert dial.client.status == ConnectionStatus.DISCONNECTED
        assert not dial.client.netif.ipv4


def test_client_without_credentials_is_refused() -> None:
    net, dial = isp_network(auth="pap", secrets=SECRETS)
    with net:

        async def main() -> None:
            await net.start_static()
            server = asyncio.ensure_future(dial.server.connect())
            with pytest.raises(AuthFailureError):
                await dial.client.connect()
            with pytest.raises(AuthFailureError):
                await server

        net.run(main())


def test_ipv6_link_local_over_ppp() -> None:
    net, dial = isp_network(ipv6=True)
    with net:

        async def main() -> None:
            await net.start()
            client, server = dial.client, dial.server
            mine = client.get_ipv6_link_local_address()
            theirs = server.get_ipv6_link_local_address()
            assert mine is not None and theirs is not None
            assert mine.ip.startswith("fe80::") and mine.ip != theirs.ip
            # the identifiers IPV6CP agreed are the ones each side uses
            assert mine.packed[8:] == client.ppp.ipv6cp.local_iid
            assert theirs.packed[8:] == client.ppp.ipv6cp.peer_iid
            target = f"{ipaddress.IPv6Address(theirs.packed)}%{client.netif.index}"
            result = await ping(client, target, count=2, interval=0.2)
            assert result.received == 2
            echo = UdpEchoServer(server.stack)
            echo.start()
            sock = UDPSocket(client.stack)
            sock.set_timeout(5)
            await sock.sendto((target, 7), b"over ipv6cp")
            data, _ = await sock.recvfrom()
            assert data == b"over ipv6cp"
            sock.close()

        net.run(main())


def test_ipv6_only_link_is_local_up() -> None:
    world = World.simulated(seed=2)
    line = SerialLine(world, baudrate=None)
    server = PPPInterface(line.b, world=world, ipv4=False, ipv6=True)
    client = PPPInterface(line.a, world=world, ipv4=False, ipv6=True)

    async def main() -> None:
        await asyncio.gather(server.connect(), client.connect())
        assert client.status == ConnectionStatus.LOCAL_UP
        assert client.ip_address is None
        assert client.get_ipv6_link_local_address() is not None

    world.run(main())
    world.close()


def test_ipv6_refused_by_an_ipv4_only_peer_leaves_ipv4_up() -> None:
    world = World.simulated(seed=2)
    line = SerialLine(world, baudrate=None)
    server = PPPInterface.server(line.b, world=world, local="10.9.0.1", pool="10.9.0.2")
    client = PPPInterface(line.a, world=world, ipv6=True)

    async def main() -> None:
        await asyncio.gather(server.connect(), client.connect())
        await asyncio.sleep(1)
        assert client.status == ConnectionStatus.GLOBAL_UP
        assert client.ip_address == "10.9.0.2"
        assert client.get_ipv6_link_local_address() is None
        # the server Protocol-Rejected IPV6CP: the client gave IPv6 up, not the link
        assert server.link.stats()["rx_unknown_protocol"] >= 1

    world.run(main())
    world.close()


def test_disconnect_terminates_both_ends_and_frees_the_address() -> None:
    net, dial = isp_network()
    events: list[ConnectionStatus] = []
    dial.server.attach(lambda _event, status: events.append(status))
    with net:

        async def main() -> None:
            await net.start()
            assert dial.server.ppp.config.pool is not None
            assert dial.server.ppp.config.pool.in_use == 1
            await dial.client.disconnect()
            await dial.server.wait_for_status({ConnectionStatus.DISCONNECTED}, timeout=10)
            assert dial.server.ppp.config.pool.in_use == 0
            assert isinstance(dial.server.last_error, NoConnectionError)
            assert "Terminate" in str(dial.server.last_error) or "terminated" in str(
                dial.server.last_error
            )
            # and the client can dial again
            await dial.connect()
            assert dial.client.ip_address == "10.64.0.10"

        net.run(main())
        assert events[-1] == ConnectionStatus.GLOBAL_UP
        assert ConnectionStatus.DISCONNECTED in events


def test_hangup_reports_disconnected() -> None:
    net, dial = isp_network()
    seen: list[ConnectionStatus] = []
    dial.client.add_event_listener(lambda _e, status: seen.append(status))
    with net:

        async def main() -> None:
            await net.start()
            dial.line.cut()
            await dial.client.wait_for_status({ConnectionStatus.DISCONNECTED}, timeout=1)

        net.run(main())
        assert seen == [ConnectionStatus.CONNECTING, ConnectionStatus.GLOBAL_UP,
                        ConnectionStatus.DISCONNECTED]  # fmt: skip
        assert "hung up" in str(dial.client.last_error)


def test_silent_peer_is_detected_by_lcp_echo() -> None:
    world = World.simulated(seed=5)
    line = SerialLine(world, baudrate=None)
    fast_echo = LcpConfig(echo_interval=2.0, echo_failures=3)
    # the server keeps the default keepalive (30 s)
    server = PPPInterface.server(line.b, world=world, local="10.0.0.1", pool="10.0.0.2")
    client = PPPInterface(line.a, world=world, config=PppConfig(lcp=fast_echo))

    async def main() -> float:
        await asyncio.gather(server.connect(), client.connect())
        line.b.set_receive_cb(None)  # the server goes deaf without a word
        start = world.now()
        await client.wait_for_status({ConnectionStatus.DISCONNECTED}, timeout=30)
        return world.now() - start

    took = world.run(main())
    # three unanswered echoes two seconds apart, then two unanswered Terminate-Requests
    # three seconds apart (RFC 1661 Max-Terminate)
    assert 12.0 <= took <= 14.0
    assert "Echo" in str(client.last_error)
    world.close()


def test_negotiation_timeout_without_a_peer() -> None:
    world = World.simulated(seed=6)
    line = SerialLine(world, baudrate=None)
    client = PPPInterface(line.a, world=world)  # nobody on line.b

    async def main() -> None:
        with pytest.raises((NoConnectionError, NetworkTimeoutError)) as info:
            await client.connect()
        assert "no answer" in str(info.value) or "did not finish" in str(info.value)

    world.run(main())
    # RFC 1661 §4.6: Max-Configure (10) requests, Restart timer 3 s apart
    assert client.ppp.lcp.stats["tx"] == 10
    world.close()


def test_two_way_authentication_with_chap() -> None:
    """Each side requires the other to authenticate (both authenticator and peer)."""
    world = World.simulated(seed=8)
    line = SerialLine(world, baudrate=None)
    a_cfg = PppConfig(user="a", password="pa", require_auth=AuthProtocol.CHAP,
                      secrets={"b": "pb"})  # fmt: skip
    a_cfg.ipcp.local, a_cfg.ipcp.peer = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    b_cfg = PppConfig(user="b", password="pb", require_auth=AuthProtocol.CHAP,
                      secrets={"a": "pa"})  # fmt: skip
    a = PPPInterface(line.a, world=world, config=a_cfg)
    b = PPPInterface(line.b, world=world, config=b_cfg)

    async def main() -> None:
        await asyncio.gather(a.connect(), b.connect())
        assert (a.peer_name, b.peer_name) == ("b", "a")
        assert b.ip_address == "10.0.0.2"

    world.run(main())
    world.close()


def test_same_seed_same_capture(tmp_path: Path) -> None:
    def capture(seed: int, where: Path) -> bytes:
        net, dial = isp_network(seed=seed, capture_dir=where, bit_error_rate=1e-5)
        with net:

            async def main() -> None:
                await net.start()
                await ping(dial.client, "10.1.0.2", count=3, interval=0.3)

            net.run(main())
        return (where / "modem.pcap").read_bytes()

    first = capture(11, tmp_path / "one")
    again = capture(11, tmp_path / "two")
    other = capture(12, tmp_path / "three")
    assert first == again
    assert first != other
    linktype, frames = read_pcap(tmp_path / "one" / "modem.pcap")
    assert linktype == 204 and len(frames) > 10


def test_a_server_waits_passively_for_a_late_caller() -> None:
    """The server's Configure-Requests go unanswered for minutes (RFC 1661 passive option:
    it then waits in Stopped); a caller arriving later still gets through."""
    world = World.simulated(seed=9)
    line = SerialLine(world, baudrate=None)
    server = PPPInterface.server(line.b, world=world, local="10.9.0.1", pool="10.9.0.2")
    client = PPPInterface(line.a, world=world)

    async def main() -> None:
        waiting = asyncio.ensure_future(server.connect())
        await asyncio.sleep(300)
        assert not waiting.done() and server.status == ConnectionStatus.CONNECTING
        await client.connect()
        await waiting
        assert client.ip_address == "10.9.0.2"

    world.run(main())
    assert server.ppp.lcp.stats["tx"] >= 10  # its own requests, before it went quiet
    world.close()
