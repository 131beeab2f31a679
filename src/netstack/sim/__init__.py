"""Building simulated networks: segments, hosts, routers, captures — in virtual time."""

from netstack.drivers.wrappers.impair import LinkParams
from netstack.sim.network import Host, Network

__all__ = ["Host", "LinkParams", "Network"]
