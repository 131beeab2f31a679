"""TCP and UDP sockets take host names where they take addresses: the stack's resolver
turns them into addresses first (the *_nowait forms take IP addresses only)."""

from __future__ import annotations

import pytest

from netstack.errors import DnsFailureError
from netstack.services import DnsServer, TcpEchoServer, UdpEchoServer
from netstack.sim import Network
from netstack.socket import TCPSocket, UDPSocket


def test_tcp_connect_and_udp_sendto_resolve_host_names() -> None:
    net = Network(seed=8)
    try:
        lan = net.segment("lan")
        a = net.host("a", lan, "10.0.0.1/24")
        b = net.host("b", lan, "10.0.0.2/24")

        async def main() -> tuple[bytes, bytes, str]:
            await net.start()
            DnsServer(b, {"echo.test": "10.0.0.2"}, origin="test").start()
            TcpEchoServer(b).start()
            UdpEchoServer(b).start()
            a.iface.add_dns_server("10.0.0.2")
            tcp = TCPSocket(a)
            await tcp.connect(("echo.test", 7))
            await tcp.send(b"by name")
            echoed = await tcp.recv_exactly(7)
            tcp.close()
            udp = UDPSocket(a)
            udp.set_timeout(2)
            await udp.sendto(("echo.test", 7), b"datagram")
            datagram, _peer = await udp.recvfrom()
            udp.close()
            lost = TCPSocket(a)
            lost.set_timeout(5)
            with pytest.raises(DnsFailureError) as failure:
                await lost.connect(("nowhere.test", 7))
            lost.close()
            return echoed, datagram, str(failure.value)

        echoed, datagram, why = net.run(main())
    finally:
        net.close()
    assert echoed == b"by name" and datagram == b"datagram"
    assert "nowhere.test" in why
