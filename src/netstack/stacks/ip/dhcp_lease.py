"""The DHCP client's records: configuration, counters, the lease, events, transmissions.

Split from :mod:`netstack.stacks.ip.dhcp_client` (which re-exports every name) so the
machine's module holds only the machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from netstack.wire.dhcpv4 import DhcpMessage


@dataclass(slots=True)
class DhcpConfig:
    #: option 12 (RFC 2132 §3.14); None sends none
    hostname: str | None = None
    #: option 61 (RFC 2132 §9.14); None means 0x01 + chaddr, b"" sends none
    client_id: bytes | None = None
    #: option 60 (RFC 2132 §9.13); None sends none
    vendor_class: str | None = "netstack"
    #: option 55 (RFC 2132 §9.8)
    request_params: tuple[int, ...] = (1, 3, 6, 15, 26, 28, 51, 58, 59)
    #: option 57 (RFC 2132 §9.10): the largest DHCP datagram we accept, IP header included
    max_message_size: int = 1500
    #: RFC 2131 §4.1: first retransmission after 4 s, doubling up to 64 s, each ±1 s
    initial_timeout: float = 4.0
    max_timeout: float = 64.0
    #: DISCOVERs before giving up (DiscoveryFailed, STOPPED); None retries forever
    max_discover_attempts: int | None = None
    #: REQUESTs in REQUESTING before restarting discovery: RFC 2131 §3.1 step 5 suggests
    #: four, about 60 s in all
    max_request_attempts: int = 4
    #: REQUESTs in REBOOTING before falling back to discovery (RFC 2131 §3.2 step 3)
    max_reboot_attempts: int = 2
    #: RFC 2131 §4.4.1: wait at least 10 s after a DECLINE before restarting
    decline_wait: float = 10.0
    #: RFC 2131 §4.4.1 start-up delay before the first DISCOVER or reboot REQUEST; the RFC
    #: suggests 1-10 s, the default 0 brings interfaces up at once
    initial_delay_max: float = 0.0
    #: leases shorter than this are treated as this long (a 0 s lease would renew in a loop)
    min_lease: float = 60.0
    #: RFC 2131 §4.4.5: smallest interval between REQUESTs in RENEWING and REBINDING
    min_renew_interval: float = 60.0
    #: prefix length when the server sends no subnet mask option
    default_prefix_len: int = 24


@dataclass(slots=True)
class DhcpStats:
    """Messages sent (``discovers`` … ``releases``, retransmissions included and also
    counted in ``retransmissions``) and replies acted on (``offers``, ``acks``, ``naks``);
    ``ignored`` counts replies dropped for any reason."""

    discovers: int = 0
    requests: int = 0
    declines: int = 0
    releases: int = 0
    retransmissions: int = 0
    offers: int = 0
    acks: int = 0
    naks: int = 0
    ignored: int = 0


@dataclass(frozen=True, slots=True)
class Lease:
    """An address lease. ``lease_time``, ``t1`` and ``t2`` are durations from
    ``acquired_at`` (the world's clock); ``math.inf`` for an infinite lease."""

    address: bytes
    prefix_len: int
    server_id: bytes
    lease_time: float
    t1: float
    t2: float
    acquired_at: float
    routers: tuple[bytes, ...] = ()
    dns_servers: tuple[bytes, ...] = ()
    domain: str | None = None
    mtu: int | None = None
    broadcast: bytes | None = None

    @property
    def expires_at(self) -> float:
        return self.acquired_at + self.lease_time

    @property
    def renew_at(self) -> float:
        return self.acquired_at + self.t1

    @property
    def rebind_at(self) -> float:
        return self.acquired_at + self.t2

    @property
    def netmask(self) -> bytes:
        return ((0xFFFFFFFF << (32 - self.prefix_len)) & 0xFFFFFFFF).to_bytes(4)


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressCheckRequested:
    """An ACK arrived: check ``lease.address`` (RFC 5227) and call ``address_checked``."""

    lease: Lease


@dataclass(frozen=True, slots=True)
class LeaseAcquired:
    lease: Lease


@dataclass(frozen=True, slots=True)
class LeaseRenewed:
    """The lease was extended (RENEWING or REBINDING); other parameters may have changed."""

    lease: Lease


@dataclass(frozen=True, slots=True)
class LeaseLost:
    """Stop using ``lease.address``: it expired, was NAKed, was taken, or changed."""

    reason: str
    lease: Lease | None = None


@dataclass(frozen=True, slots=True)
class LeaseDeclined:
    """The address failed its check; a DECLINE went out (RFC 2131 §4.4.1)."""

    address: bytes


@dataclass(frozen=True, slots=True)
class LeaseReleased:
    lease: Lease


@dataclass(frozen=True, slots=True)
class NakReceived:
    """A server refused our REQUEST; ``message`` is its option 56 text, if any."""

    server: bytes | None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoveryFailed:
    """``max_discover_attempts`` DISCOVERs went unanswered; the client stopped."""

    attempts: int


@dataclass(frozen=True, slots=True)
class DhcpTransmit:
    """A message to send as UDP 68 → 67 from ``src`` to ``dst`` (broadcast: 255.255.255.255)."""

    message: DhcpMessage
    src: bytes
    dst: bytes


# -- helpers --------------------------------------------------------------------------------
