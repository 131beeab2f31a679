"""PPP for the "ip" stack: the RFC 1661 automaton, LCP, PAP/CHAP, IPCP, IPV6CP, the
connection that runs them over a byte stream, and the link adapter that puts it on a
serial port."""

from netstack.stacks.ip.ppp.connection import (
    Authenticated,
    AuthenticationFailed,
    Ipv4Down,
    Ipv4Pool,
    Ipv4Up,
    Ipv6Down,
    Ipv6Up,
    LinkEstablished,
    LinkTerminated,
    Phase,
    PppConfig,
    PppConnection,
    PppEvent,
)
from netstack.stacks.ip.ppp.lcp import AuthProtocol, LcpConfig
from netstack.stacks.ip.ppp.ncp import IpcpConfig, Ipv6cpConfig

__all__ = [
    "AuthProtocol",
    "Authenticated",
    "AuthenticationFailed",
    "IpcpConfig",
    "Ipv4Down",
    "Ipv4Pool",
    "Ipv4Up",
    "Ipv6Down",
    "Ipv6Up",
    "Ipv6cpConfig",
    "LcpConfig",
    "LinkEstablished",
    "LinkTerminated",
    "Phase",
    "PppConfig",
    "PppConnection",
    "PppEvent",
]
