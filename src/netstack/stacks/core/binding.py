"""The binding rules UDP and TCP share: which local addresses a socket may bind, and when
two bindings of one port collide."""

from __future__ import annotations

from collections.abc import Container

from netstack.errors import ParameterError

ANY4 = b"\0\0\0\0"


def check_local_address(ip: bytes, local: Container[bytes]) -> None:
    """A socket binds to the wildcard, an address of this stack, or loopback."""
    if ip != ANY4 and ip not in local and ip[0] != 127:
        raise ParameterError(f"address {'.'.join(map(str, ip))} is not ours")


def overlaps(a: bytes, b: bytes) -> bool:
    """Two bindings of one port collide when their addresses are equal or one is the
    wildcard (SO_REUSEADDR on both sides lifts that, with per-protocol exceptions)."""
    return a in (b, ANY4) or b == ANY4
