"""Applications networks need, written on the Socket API only."""

from netstack.services.echo import UdpDiscardServer, UdpEchoServer
from netstack.services.ping import PingResult, ping

__all__ = ["PingResult", "UdpDiscardServer", "UdpEchoServer", "ping"]
