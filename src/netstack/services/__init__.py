"""Applications networks need, written on the Socket API only."""

from netstack.services.bulk import BulkResult, BulkSink, SinkTransfer, bulk_send
from netstack.services.dhcp_server import DhcpServer, DhcpServerConfig
from netstack.services.dns_server import DnsServer
from netstack.services.echo import UdpDiscardServer, UdpEchoServer
from netstack.services.http import HttpFileServer, HttpStats
from netstack.services.ping import PingResult, ping
from netstack.services.tcp import TcpChargenServer, TcpDiscardServer, TcpEchoServer

__all__ = [
    "BulkResult",
    "BulkSink",
    "DhcpServer",
    "DhcpServerConfig",
    "DnsServer",
    "HttpFileServer",
    "HttpStats",
    "PingResult",
    "SinkTransfer",
    "TcpChargenServer",
    "TcpDiscardServer",
    "TcpEchoServer",
    "UdpDiscardServer",
    "UdpEchoServer",
    "bulk_send",
    "ping",
]
