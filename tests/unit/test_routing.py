"""Longest-prefix match in the IPv4 routing table."""

import pytest

from netstack.stacks.core.routing import Route, RoutingTable, prefix_mask


def ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return a << 24 | b << 16 | c << 8 | d


def test_longest_prefix_wins():
    table: RoutingTable[str] = RoutingTable()
    table.add(Route(0, 0, "wan", gateway=ip("192.0.2.1")))
    table.add(Route(ip("10.0.0.0"), 8, "corp"))
    table.add(Route(ip("10.1.0.0"), 16, "lab"))
    table.add(Route(ip("10.1.2.0"), 24, "bench"))
    assert table.lookup(ip("10.1.2.3")).interface == "bench"  # type: ignore[union-attr]
    assert table.lookup(ip("10.1.9.9")).interface == "lab"  # type: ignore[union-attr]
    assert table.lookup(ip("10.200.0.1")).interface == "corp"  # type: ignore[union-attr]
    default = table.lookup(ip("8.8.8.8"))
    assert default is not None and default.interface == "wan" and not default.on_link


def test_lower_metric_wins_on_equal_prefix():
    table: RoutingTable[str] = RoutingTable()
    table.add(Route(ip("10.0.0.0"), 24, "slow", metric=10))
    table.add(Route(ip("10.0.0.0"), 24, "fast", metric=1))
    assert table.lookup(ip("10.0.0.5")).interface == "fast"  # type: ignore[union-attr]


def test_remove_and_empty_lookup():
    table: RoutingTable[str] = RoutingTable()
    route = Route(ip("10.0.0.0"), 24, "a")
    table.add(route)
    assert len(table) == 1
    assert table.remove(route)
    assert not table.remove(route)
    assert table.lookup(ip("10.0.0.1")) is None
    assert len(table) == 0


def test_remove_interface_drops_its_routes():
    table: RoutingTable[str] = RoutingTable()
    table.add(Route(ip("10.0.0.0"), 24, "a"))
    table.add(Route(ip("10.0.1.0"), 24, "b"))
    table.add(Route(0, 0, "a", gateway=ip("10.0.0.1")))
    table.remove_interface("a")
    assert [r.interface for r in table] == ["b"]


def test_host_bits_rejected():
    table: RoutingTable[str] = RoutingTable()
    with pytest.raises(ValueError):
        table.add(Route(ip("10.0.0.1"), 24, "a"))


def test_prefix_mask_bounds():
    assert prefix_mask(0) == 0
    assert prefix_mask(32) == 0xFFFFFFFF
    assert prefix_mask(24) == 0xFFFFFF00
    with pytest.raises(ValueError):
        prefix_mask(33)
