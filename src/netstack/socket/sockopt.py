"""The stdlib's socket option names and value formats, mapped to netstack's options.

``setsockopt(level, option, value)`` in the stdlib takes an int or the bytes of a C
structure; netstack's options (:class:`~netstack.stacks.core.api.SocketOption`, level
:data:`~netstack.stacks.core.api.SOL_SOCKET`) take Python values. :func:`lookup` finds the
netstack option for a stdlib (level, option) pair on a socket type; :func:`to_netstack`
and :func:`from_netstack` convert the values.

==========================  ===========  ==========================================
stdlib                      socket type  netstack value
==========================  ===========  ==========================================
SO_REUSEADDR                both         bool
SO_KEEPALIVE, TCP_NODELAY   stream       bool
SO_RCVBUF                   both         bytes (an int; read back as set)
SO_SNDBUF                   stream       bytes
SO_LINGER                   stream       ``struct linger`` <-> None or seconds
TCP_KEEPIDLE/INTVL/CNT      stream       seconds / seconds / count
SO_BROADCAST                datagram     bool
IP_TTL                      datagram     hops
IPV6_JOIN/LEAVE_GROUP       datagram     ``struct ipv6_mreq`` -> SocketAddress
==========================  ===========  ==========================================
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import sys
from typing import TYPE_CHECKING

from netstack.address import SocketAddress
from netstack.stacks.core.api import SocketOption

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["Codec", "from_netstack", "int_value", "lookup", "membership_group", "to_netstack"]

Codec = str  # "bool", "int" or "linger"


class _Linger(ctypes.Structure):
    """``struct linger`` of <sys/socket.h>: SO_LINGER's value."""

    _fields_ = (("l_onoff", ctypes.c_int), ("l_linger", ctypes.c_int))
    l_onoff: int
    l_linger: int


class _Ipv6Mreq(ctypes.Structure):
    """``struct ipv6_mreq`` of <netinet/in.h>: IPV6_JOIN_GROUP's value."""

    _fields_ = (("multiaddr", ctypes.c_ubyte * 16), ("interface", ctypes.c_uint))
    multiaddr: ctypes.Array[ctypes.c_ubyte]
    interface: int


_STREAM, _DGRAM = frozenset({socket.SOCK_STREAM}), frozenset({socket.SOCK_DGRAM})
_BOTH = _STREAM | _DGRAM
_S, _T = socket.SOL_SOCKET, socket.IPPROTO_TCP
#: stdlib (level, option) -> (netstack option, the socket types it applies to, codec)
_OPTIONS: dict[tuple[int, int], tuple[SocketOption, frozenset[int], Codec]] = {
    (_S, socket.SO_REUSEADDR): (SocketOption.REUSEADDR, _BOTH, "bool"),
    (_S, socket.SO_KEEPALIVE): (SocketOption.KEEPALIVE, _STREAM, "bool"),
    (_S, socket.SO_RCVBUF): (SocketOption.RCVBUF, _BOTH, "int"),
    (_S, socket.SO_SNDBUF): (SocketOption.SNDBUF, _STREAM, "int"),
    (_S, socket.SO_LINGER): (SocketOption.LINGER, _STREAM, "linger"),
    (_S, socket.SO_BROADCAST): (SocketOption.BROADCAST, _DGRAM, "bool"),
    (_T, socket.TCP_NODELAY): (SocketOption.NODELAY, _STREAM, "bool"),
    (_T, socket.TCP_KEEPIDLE): (SocketOption.KEEPIDLE, _STREAM, "int"),
    (_T, socket.TCP_KEEPINTVL): (SocketOption.KEEPINTVL, _STREAM, "int"),
    (_T, socket.TCP_KEEPCNT): (SocketOption.KEEPCNT, _STREAM, "int"),
    (socket.IPPROTO_IP, socket.IP_TTL): (SocketOption.TTL, _DGRAM, "int"),
}
_MEMBERSHIP = {
    (socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP): SocketOption.ADD_MEMBERSHIP,
    (socket.IPPROTO_IPV6, socket.IPV6_LEAVE_GROUP): SocketOption.DROP_MEMBERSHIP,
}


def _invalid() -> OSError:
    return OSError(errno.EINVAL, os.strerror(errno.EINVAL))


def lookup(level: int, option: int, kind: int) -> tuple[SocketOption, Codec] | None:
    """The netstack option for a stdlib option on a socket of type ``kind``, or None."""
    spec = _OPTIONS.get((level, option))
    if spec is None or kind not in spec[1]:
        return None
    return spec[0], spec[2]


def int_value(value: int | ReadableBuffer) -> int:
    """An int option value, given as an int or as a C int's bytes."""
    if isinstance(value, int):
        return value
    raw = bytes(value)
    if len(raw) < 4:
        raise _invalid()
    return int.from_bytes(raw[:4], sys.byteorder, signed=True)


def to_netstack(codec: Codec, value: int | ReadableBuffer) -> object:
    """A stdlib option value as the netstack option takes it."""
    if codec == "linger":
        raw = b"" if isinstance(value, int) else bytes(value)
        if len(raw) < ctypes.sizeof(_Linger):
            raise _invalid()
        linger = _Linger.from_buffer_copy(raw[: ctypes.sizeof(_Linger)])
        return float(max(0, linger.l_linger)) if linger.l_onoff else None
    number = int_value(value)
    if number < 0:
        raise _invalid()
    return bool(number) if codec == "bool" else number


def from_netstack(codec: Codec, value: object) -> int | bytes:
    """A netstack option value as the stdlib's getsockopt returns it (SO_LINGER: the
    ``struct linger`` bytes)."""
    if codec == "linger":
        seconds = value if isinstance(value, int | float) else None
        return bytes(_Linger(int(seconds is not None), int(seconds or 0)))
    if not isinstance(value, int | float):
        raise _invalid()
    return int(value)


def membership_group(level: int, option: int, value: int | ReadableBuffer) -> (
    tuple[SocketOption, SocketAddress] | None
):  # fmt: skip
    """IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP as (netstack option, group with its interface
    as scope id); None for other options."""
    netstack_option = _MEMBERSHIP.get((level, option))
    if netstack_option is None:
        return None
    raw = b"" if isinstance(value, int) else bytes(value)
    if len(raw) != ctypes.sizeof(_Ipv6Mreq):
        raise _invalid()
    mreq = _Ipv6Mreq.from_buffer_copy(raw)
    return netstack_option, SocketAddress(bytes(mreq.multiaddr), 0, scope_id=mreq.interface)
