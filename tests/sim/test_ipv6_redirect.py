"""Redirects (RFC 4861 §8): a router that forwards a packet back out of the interface it
came in on tells the sender about the better first hop, and the sender uses it."""

from __future__ import annotations

from netstack.services.ping import ping
from netstack.sim import Network


def test_router_redirects_a_host_to_the_better_router_on_its_link() -> None:
    net = Network(seed=5)
    try:
        lan, far = net.segment("lan"), net.segment("far")
        r1 = net.router("r1", [(lan, "10.1.0.1/24")])
        r2 = net.router("r2", [(lan, "10.1.0.2/24"), (far, "10.2.0.1/24")])
        a = net.host("a", lan, "", ipv6="slaac")
        b = net.host("b", far, "", ipv6="slaac")
        net.ipv6_router(r1, lan, "2001:db8:1::/64")  # a's default router
        net.ipv6_router(r2, far, "2001:db8:2::/64")
        r2.interfaces[0].set_ipv6("static", "2001:db8:1::2/64")

        async def main() -> tuple[int, int, bytes | None, bytes, int]:
            await net.start()
            r2_ll = r2.interfaces[0].get_ipv6_link_local_address()
            assert r2_ll is not None
            far_prefix = bytes.fromhex("20010db8000200000000000000000000")
            r1.stack.ipv6.add_route(far_prefix, 64, r1.interfaces[0].netif, r2_ll.packed)
            await a.iface.wait_for_ipv6_address()
            b_address = await b.iface.wait_for_ipv6_address()
            first = await ping(a, b_address, count=1)
            forwarded_before = r1.stack.ipv6.counters.forwarded
            later = await ping(a, b_address, count=5, interval=0.1)
            a6 = a.iface.ipv6
            assert a6 is not None
            better = a6.redirect_for(b_address.packed)
            redirects = r1.stack.stats()[f"ipv6:{r1.interfaces[0].netif.name}"]["redirects_out"]
            forwarded_after = r1.stack.ipv6.counters.forwarded - forwarded_before
            return (
                first.received + later.received,
                redirects,
                better,
                r2_ll.packed,
                (forwarded_after),
            )

        received, redirects, better, r2_ll, forwarded_after = net.run(main())
    finally:
        net.close()
    assert received == 6
    assert redirects == 1
    assert better == r2_ll  # a now sends to b through r2 directly
    assert forwarded_after == 0  # r1 is out of the path after the redirect
