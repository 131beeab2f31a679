"""IP stacks: ``core`` (shared IPv4/IPv6/ICMP/UDP/TCP machinery) and the profiles built on it."""
