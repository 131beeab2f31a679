"""RDNSS (RFC 8106) feeds the resolver: a host on an IPv6-only link learns its DNS server
from the router's advertisements and resolves names through it over IPv6."""

from __future__ import annotations

from netstack.address import SocketAddress
from netstack.services import DnsServer
from netstack.sim import Network


def test_rdnss_server_answers_the_hosts_queries_over_ipv6() -> None:
    net = Network(seed=6)
    try:
        lan = net.segment("lan")
        router = net.router("r", [(lan, "10.1.0.1/24")])
        dns_host = net.host("dns", lan, "", ipv6="static:2001:db8:1::53/64")
        client = net.host("client", lan, "", ipv6="slaac")
        net.ipv6_router(router, lan, "2001:db8:1::/64", dns=("2001:db8:1::53",))

        async def main() -> tuple[list[SocketAddress], list[SocketAddress], int]:
            await net.start()
            server = DnsServer(
                dns_host, {"www.v6.test": "2001:db8:1::80", "v4only.v6.test": "10.9.9.9"},
                origin="v6.test",
            )  # fmt: skip
            server.start()
            await client.iface.wait_for_ipv6_address()
            learned = client.stack.get_dns_servers()
            answers = await client.iface.getaddrinfo("www.v6.test")
            return learned, answers, server.stats.answered

        learned, answers, answered = net.run(main())
    finally:
        net.close()
    assert learned == [SocketAddress("2001:db8:1::53", 53)]
    assert SocketAddress("2001:db8:1::80") in [SocketAddress(a.packed) for a in answers]
    assert answered >= 1  # the query went to the RDNSS server, over IPv6
