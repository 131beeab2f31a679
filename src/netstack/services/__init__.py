"""Applications networks need, written on the Socket API only."""

from netstack.services.dhcp_server import DhcpServer, DhcpServerConfig
from netstack.services.dns_server import DnsServer
from netstack.services.echo import UdpDiscardServer, UdpEchoServer
from netstack.services.ping import PingResult, ping
from netstack.services.tcp import TcpChargenServer, TcpDiscardServer, TcpEchoServer

__all__ = [
    "DhcpServer",
    "DhcpServerConfig",
    "DnsServer",
    "PingResult",
    "TcpChargenServer",
    "TcpDiscardServer",
    "TcpEchoServer",
    "UdpDiscardServer",
    "UdpEchoServer",
    "ping",
]
