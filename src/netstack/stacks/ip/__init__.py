"""The "ip" stack (lwIP class): IPv4 over Ethernet (ARP), with PPP, IPv6, DHCP and DNS to come."""

from netstack.stacks.ip.stack import IpStack

__all__ = ["IpStack"]
