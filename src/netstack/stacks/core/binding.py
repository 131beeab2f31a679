"""The binding rules UDP and TCP share: which local addresses a socket may bind, and when
two bindings of one port collide. Addresses are 4 bytes (IPv4) or 16 (IPv6); either
family's wildcard binds both families (Mbed's "any address"; a dual-stack socket)."""

from __future__ import annotations

from collections.abc import Container

from netstack.errors import ParameterError

ANY4 = b"\0\0\0\0"
ANY6 = bytes(16)
LOOPBACK6 = bytes(15) + b"\x01"
WILDCARDS = frozenset({ANY4, ANY6})


def is_wildcard(ip: bytes) -> bool:
    return ip in WILDCARDS


def check_local_address(ip: bytes, local: Container[bytes]) -> None:
    """A socket binds to the wildcard, an address of this stack, or loopback."""
    if is_wildcard(ip) or ip in local:
        return
    if (len(ip) == 4 and ip[0] == 127) or ip == LOOPBACK6:
        return
    raise ParameterError(f"address {_fmt(ip)} is not ours")


def overlaps(a: bytes, b: bytes) -> bool:
    """Two bindings of one port collide when their addresses are equal or one is the
    wildcard (SO_REUSEADDR on both sides lifts that, with per-protocol exceptions)."""
    return a == b or a in WILDCARDS or b in WILDCARDS


def _fmt(ip: bytes) -> str:
    import ipaddress

    return str(ipaddress.ip_address(ip)) if len(ip) in (4, 16) else ip.hex()
