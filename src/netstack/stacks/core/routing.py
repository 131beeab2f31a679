"""Routing tables (IPv4 and IPv6): connected routes, gateways, longest-prefix match.

Routes are kept in one dict per prefix length, so a lookup is at most one dict probe per
distinct prefix length in use (a handful), never a scan of all routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

IfT = TypeVar("IfT")


def prefix_mask(prefix_len: int, bits: int = 32) -> int:
    """The netmask of a prefix length, for ``bits``-bit addresses (32: IPv4, 128: IPv6)."""
    if not 0 <= prefix_len <= bits:
        raise ValueError(f"prefix length out of range: {prefix_len} (of {bits} bits)")
    full = (1 << bits) - 1
    return (full << (bits - prefix_len)) & full


@dataclass(frozen=True, slots=True)
class Route(Generic[IfT]):
    """``network/prefix_len`` reached through ``interface``, via ``gateway`` (0 = on-link)."""

    network: int
    prefix_len: int
    interface: IfT
    gateway: int = 0
    metric: int = 0

    @property
    def on_link(self) -> bool:
        return self.gateway == 0


class RoutingTable(Generic[IfT]):
    """Longest-prefix-match table of :class:`Route` (lower metric wins on equal prefixes),
    for ``bits``-bit addresses as integers."""

    def __init__(self, bits: int = 32) -> None:
        self.bits = bits
        self._full = (1 << bits) - 1
        self._by_len: dict[int, dict[int, list[Route[IfT]]]] = {}
        self._lengths: list[int] = []  # descending

    def add(self, route: Route[IfT]) -> None:
        mask = prefix_mask(route.prefix_len, self.bits)
        if route.network & ~mask & self._full:
            raise ValueError("route network has host bits set")
        table = self._by_len.setdefault(route.prefix_len, {})
        routes = table.setdefault(route.network, [])
        if route in routes:
            return
        routes.append(route)
        routes.sort(key=lambda r: r.metric)
        self._lengths = sorted(self._by_len, reverse=True)

    def remove(self, route: Route[IfT]) -> bool:
        table = self._by_len.get(route.prefix_len)
        routes = table.get(route.network) if table else None
        if not routes or route not in routes:
            return False
        routes.remove(route)
        if not routes:
            del table[route.network]  # type: ignore[union-attr]
            if not table:
                del self._by_len[route.prefix_len]
                self._lengths = sorted(self._by_len, reverse=True)
        return True

    def remove_interface(self, interface: IfT) -> None:
        for route in [r for r in self if r.interface is interface]:
            self.remove(route)

    def lookup(self, dst: int) -> Route[IfT] | None:
        by_len = self._by_len
        full = self._full
        bits = self.bits
        for length in self._lengths:
            routes = by_len[length].get(dst & (full << (bits - length)) & full)
            if routes:
                return routes[0]
        return None

    def __iter__(self):  # type: ignore[no-untyped-def]
        for length in self._lengths:
            for routes in self._by_len[length].values():
                yield from routes

    def __len__(self) -> int:
        return sum(len(r) for t in self._by_len.values() for r in t.values())
