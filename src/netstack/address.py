"""SocketAddress: an IP address (v4 or v6) and a port — the value type of the Socket API.

It lives at the top of the package, beside :mod:`netstack.errors`, because every layer
above the wire speaks it (interfaces report addresses, sockets send to them). It wraps the
packed form (4 or 16 bytes) so the stack never re-parses text on the data path.
"""

from __future__ import annotations

import enum
import ipaddress
import socket as _socket

from netstack.errors import DnsFailureError, ParameterError


class IpVersion(enum.IntEnum):
    UNSPEC = 0
    IPV4 = 4
    IPV6 = 6


class SocketAddress:
    """An IP address with a port; immutable and hashable.

    ``SocketAddress("10.0.0.1", 7)``, ``SocketAddress(b"\\x0a\\0\\0\\x01", 7)``,
    ``SocketAddress("fe80::1%2", 7)`` (scope id), ``SocketAddress(("10.0.0.1", 7))``.
    An empty ``SocketAddress()`` is falsy, as in Mbed.
    """

    __slots__ = ("_packed", "_port", "_scope_id")

    _packed: bytes
    _port: int
    _scope_id: int

    def __init__(
        self,
        ip: str | bytes | SocketAddress | tuple[str, int] | None = None,
        port: int | None = None,
        *,
        scope_id: int = 0,
    ) -> None:
        if isinstance(ip, SocketAddress):
            packed, p, scope_id = ip._packed, ip._port, ip._scope_id
            port = p if port is None else port
        elif isinstance(ip, tuple):
            if port is not None:
                raise ParameterError("port given twice")
            host, port = ip[0], ip[1]
            packed, scope_id = _pack_text(host, scope_id)
        elif isinstance(ip, (bytes, bytearray, memoryview)):
            packed = bytes(ip)
            if len(packed) not in (0, 4, 16):
                raise ParameterError(f"an IP address is 4 or 16 bytes, not {len(packed)}")
        elif isinstance(ip, str):
            packed, scope_id = _pack_text(ip, scope_id)
        elif ip is None:
            packed = b""
        else:
            raise ParameterError(f"not an IP address: {ip!r}")
        port = 0 if port is None else int(port)
        if not 0 <= port <= 0xFFFF:
            raise ParameterError(f"port out of range: {port}")
        self._packed = packed
        self._port = port
        self._scope_id = scope_id

    @classmethod
    def from_packed(cls, packed: bytes, port: int = 0) -> SocketAddress:
        """Fast constructor for the data path (no validation)."""
        self = cls.__new__(cls)
        self._packed = packed
        self._port = port
        self._scope_id = 0
        return self

    @property
    def packed(self) -> bytes:
        """The address in network byte order (4 or 16 bytes; empty if unset)."""
        return self._packed

    @property
    def ip(self) -> str:
        """The address as text ("" if unset)."""
        n = len(self._packed)
        if n == 4:
            return _socket.inet_ntop(_socket.AF_INET, self._packed)
        if n == 16:
            text = _socket.inet_ntop(_socket.AF_INET6, self._packed)
            return f"{text}%{self._scope_id}" if self._scope_id else text
        return ""

    @property
    def port(self) -> int:
        return self._port

    @property
    def scope_id(self) -> int:
        return self._scope_id

    @property
    def version(self) -> IpVersion:
        n = len(self._packed)
        return IpVersion.IPV4 if n == 4 else IpVersion.IPV6 if n == 16 else IpVersion.UNSPEC

    def with_port(self, port: int) -> SocketAddress:
        return SocketAddress(self, port)

    # Mbed spellings
    def get_ip_address(self) -> str:
        return self.ip

    def get_port(self) -> int:
        return self._port

    def get_ip_version(self) -> IpVersion:
        return self.version

    def get_ip_bytes(self) -> bytes:
        return self._packed

    def is_unspecified(self) -> bool:
        return not any(self._packed)

    def __bool__(self) -> bool:
        return bool(self._packed) and any(self._packed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SocketAddress):
            return NotImplemented
        return (self._packed, self._port, self._scope_id) == (
            other._packed,
            other._port,
            other._scope_id,
        )

    def __hash__(self) -> int:
        return hash((self._packed, self._port, self._scope_id))

    def __iter__(self):  # type: ignore[no-untyped-def]
        """Unpacks as ``(ip, port)`` like a stdlib address tuple."""
        yield self.ip
        yield self._port

    def __str__(self) -> str:
        if len(self._packed) == 16:
            return f"[{self.ip}]:{self._port}"
        return f"{self.ip}:{self._port}"

    def __repr__(self) -> str:
        return f"SocketAddress({self.ip!r}, {self._port})"


def _pack_text(text: str, scope_id: int) -> tuple[bytes, int]:
    if text == "":
        return b"", 0
    host = text
    if "%" in host:
        host, _, scope = host.partition("%")
        try:
            scope_id = int(scope)
        except ValueError:
            raise ParameterError(f"scope id must be numeric: {text!r}") from None
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ParameterError(f"not an IP address literal: {text!r}") from None
    return bytes(addr.packed), scope_id


def parse_ipv4(text: str | bytes) -> bytes:
    """A dotted-quad (or 4 packed bytes) as 4 bytes; :class:`ParameterError` otherwise."""
    if isinstance(text, bytes):
        if len(text) != 4:
            raise ParameterError("an IPv4 address is 4 bytes")
        return text
    try:
        return bytes(ipaddress.IPv4Address(text).packed)
    except ValueError:
        raise ParameterError(f"not an IPv4 address: {text!r}") from None


def parse_ipv4_interface(text: str) -> tuple[bytes, int]:
    """``"10.0.0.1/24"`` → (packed address, prefix length)."""
    try:
        iface = ipaddress.IPv4Interface(text)
    except ValueError:
        raise ParameterError(f"not an IPv4 address/prefix: {text!r}") from None
    return iface.ip.packed, iface.network.prefixlen


def netmask_to_prefix(netmask: str | bytes) -> int:
    """``"255.255.255.0"`` → 24; rejects non-contiguous masks."""
    value = int.from_bytes(parse_ipv4(netmask), "big")
    prefix = bin(value).count("1")
    if value != (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF:
        raise ParameterError(f"netmask is not contiguous: {netmask!r}")
    return prefix


def parse_literal(host: str, version: IpVersion = IpVersion.UNSPEC) -> SocketAddress | None:
    """``host`` as an IP address literal, parsed without traffic (as Mbed's
    ``gethostbyname``); None if it is a name. A literal of the wrong family for ``version``
    is a DnsFailureError, an empty host a ParameterError."""
    if not isinstance(host, str) or not host:
        raise ParameterError("empty host name")
    try:
        address = SocketAddress(host)
    except ParameterError:
        return None
    if version != IpVersion.UNSPEC and address.version != version:
        raise DnsFailureError(f"{host!r} is not an {version.name} address")
    return address
