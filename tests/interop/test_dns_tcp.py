"""DNS over TCP after a truncated UDP answer (RFC 7766 §5 / RFC 1035 §4.2.2), for real:
netstack's resolver against dnsmasq, through netstack's own TCP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_ipv4_kernel import netstack_on

from conftest import Dnsmasq, TapDevice
from netstack.address import IpVersion, SocketAddress
from netstack.runtime import World

pytestmark = pytest.mark.interop

#: 150 A records: about 2.4 kB, more than the 1232-byte EDNS payload the resolver offers
BIG = [f"10.77.{1 + i // 200}.{1 + i % 200}" for i in range(150)]


def test_truncated_answer_is_fetched_again_over_tcp(
    tap: TapDevice, real_world: World, dnsmasq: Callable[..., Dnsmasq]
) -> None:
    server = dnsmasq(*(f"--host-record=big.example.test,{ip}" for ip in BIG))

    async def main() -> tuple[list[SocketAddress], int, int]:
        async with netstack_on(tap, real_world) as iface:
            iface.add_dns_server("10.77.0.1")
            got = await iface.getaddrinfo("big.example.test", IpVersion.IPV4)
            stats = iface.resolver.stats
            return got, stats.truncated, iface.stack.stats()["tcp"]["connections_opened"]

    got, truncated, tcp_opened = real_world.run(main())
    assert sorted(a.ip for a in got) == sorted(BIG)
    assert truncated >= 1  # the UDP answer was truncated ...
    assert tcp_opened >= 1  # ... and the full one came over a netstack TCP connection
    assert "big.example.test" in server.log()
