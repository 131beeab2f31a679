"""Shared machinery of every stack profile: IPv4, ICMP, UDP, routing, ARP, links."""
