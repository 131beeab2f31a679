"""TCP over IPv6 across a path whose middle link has the IPv6 minimum MTU: the router's
Packet Too Big shrinks the connection's segments (RFC 8201 §5.2) instead of leaving the
sender to fragment or to wait for retransmission timeouts."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress

from netstack.services import TcpEchoServer
from netstack.sim import Network
from netstack.socket import TCPSocket


def packed(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def test_tcp_adapts_its_segments_to_a_1280_byte_path() -> None:
    net = Network(seed=2)
    try:
        lan1, mid, lan2 = net.segment("lan1"), net.segment("mid"), net.segment("lan2")
        r1 = net.router("r1", [(lan1, "10.1.0.1/24"), (mid, "10.9.0.1/24", 1280)])
        r2 = net.router("r2", [(mid, "10.9.0.2/24", 1280), (lan2, "10.2.0.1/24")])
        a = net.host("a", lan1, "", ipv6="slaac")
        b = net.host("b", lan2, "", ipv6="slaac")
        net.ipv6_router(r1, lan1, "2001:db8:1::/64")
        net.ipv6_router(r2, lan2, "2001:db8:2::/64")
        r1.interfaces[1].set_ipv6("static", "2001:db8:9::1/64")
        r2.interfaces[0].set_ipv6("static", "2001:db8:9::2/64")
        data = hashlib.shake_128(b"pmtu").digest(500_000)

        async def main() -> tuple[bytes, object, dict[str, dict[str, int]]]:
            await net.start()
            r1.stack.ipv6.add_route(packed("2001:db8:2::"), 64, r1.interfaces[1].netif,
                                    packed("2001:db8:9::2"))  # fmt: skip
            r2.stack.ipv6.add_route(packed("2001:db8:1::"), 64, r2.interfaces[0].netif,
                                    packed("2001:db8:9::1"))  # fmt: skip
            await a.iface.wait_for_ipv6_address()
            b_address = await b.iface.wait_for_ipv6_address()
            TcpEchoServer(b).start()
            sock = TCPSocket(a)
            await sock.connect(b_address.with_port(7))
            assert sock._handle.conn.mss == 1440 - 12  # type: ignore[union-attr]

            async def reader() -> bytes:
                got = bytearray()
                while len(got) < len(data):
                    got += await sock.recv(65536)
                return bytes(got)

            task = asyncio.ensure_future(reader())
            await sock.send(data)
            echoed = await task
            conn = sock._handle.conn  # type: ignore[union-attr]
            sock.close()
            return echoed, conn, a.stack.stats()

        echoed, conn, stats = net.run(main())
    finally:
        net.close()
    assert echoed == data
    assert stats["icmpv6"]["rx_packet_too_big"] > 0
    assert conn.mss == 1280 - 40 - 20 - 12  # type: ignore[attr-defined]
    assert conn.stats.mss_reductions == 1  # type: ignore[attr-defined]
    assert conn.stats.timeouts == 0  # type: ignore[attr-defined]
    assert stats["ipv6"]["tx_fragments"] == 0  # segments shrank: nothing to fragment
