"""Network interfaces: the application's control API (connect, status, addresses)."""

from netstack.interfaces.base import ConnectionStatus, NetworkInterface
from netstack.interfaces.ethernet import EthernetInterface

__all__ = ["ConnectionStatus", "EthernetInterface", "NetworkInterface"]
