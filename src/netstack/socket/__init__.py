"""The Socket API: UDPSocket, ICMPSocket, SocketAddress and the error family.

Sockets open on any NetworkStack (or a NetworkInterface, which provides one) and talk to it
only through the NetworkStack contract.
"""

from netstack.address import IpVersion, SocketAddress
from netstack.socket.base import InternetSocket
from netstack.socket.dns import Resolver, ResolverConfig
from netstack.socket.icmp import ICMPSocket
from netstack.socket.tcp import TCPSocket
from netstack.socket.tls import (
    TlsAuthFailureError,
    TlsCertificateError,
    TlsError,
    TlsSession,
    TLSSocket,
)
from netstack.socket.udp import UDPSocket
from netstack.stacks.core.api import SOL_SOCKET, NetworkStack, SocketOption

__all__ = [
    "SOL_SOCKET",
    "ICMPSocket",
    "InternetSocket",
    "IpVersion",
    "NetworkStack",
    "Resolver",
    "ResolverConfig",
    "SocketAddress",
    "SocketOption",
    "TCPSocket",
    "TLSSocket",
    "TlsAuthFailureError",
    "TlsCertificateError",
    "TlsError",
    "TlsSession",
    "UDPSocket",
]
