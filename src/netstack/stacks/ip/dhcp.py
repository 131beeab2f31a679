"""DhcpAgent: runs a :class:`DhcpClient` machine for one interface of the ip stack.

The glue follows the stack's one idiom: feed input (datagrams on UDP port 68, ACD results,
timer expiries), drain ``next_event()``, flush ``packets_to_send(now)``, re-arm the single
loop timer. Before a leased address is used it is probed with RFC 5227 ARP probes through
the link adapter; a conflict declines the lease. Acquired leases configure the interface
(address, prefix, default route, DNS servers); lost ones remove that configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from netstack.address import SocketAddress
from netstack.runtime.timer import DeadlineTimer
from netstack.stacks.core.binding import ANY4
from netstack.stacks.core.link import NetIf
from netstack.stacks.ip.dhcp_client import (
    AddressCheckRequested,
    DhcpClient,
    DhcpConfig,
    Lease,
    LeaseAcquired,
    LeaseDeclined,
    LeaseLost,
    LeaseReleased,
    LeaseRenewed,
)
from netstack.wire import DecodeError
from netstack.wire.dhcpv4 import CLIENT_PORT, SERVER_PORT, DhcpMessage
from netstack.wire.ipv4 import IpProto
from netstack.wire.udp import UdpHeader

if TYPE_CHECKING:
    from netstack.stacks.core.stack import CoreStack

log = logging.getLogger(__name__)

_BROADCAST = b"\xff\xff\xff\xff"
DhcpEventCallback = Callable[[object], None]


class DhcpAgent:
    """A DHCP client bound to ``netif`` of ``stack``; reports machine events to ``on_event``."""

    def __init__(
        self,
        stack: CoreStack,
        netif: NetIf,
        config: DhcpConfig | None = None,
        on_event: DhcpEventCallback | None = None,
    ) -> None:
        self.stack = stack
        self.netif = netif
        self.world = stack.world
        self.client = DhcpClient(netif.link.hwaddr, self.world.rng, config)
        self.on_event = on_event
        self.malformed = 0
        self._endpoint = stack.udp.open()
        self._endpoint.reuse = True
        self._timer = DeadlineTimer(self.world, self._on_timer)
        self._running = False

    @property
    def lease(self) -> Lease | None:
        return self.client.lease

    def start(self, remembered: Lease | None = None) -> None:
        if self._running:
            return
        self._running = True
        self.stack.udp.bind(self._endpoint, ANY4, CLIENT_PORT)
        self._endpoint.callback = self._readable
        self.netif.on_address_conflict = self._address_conflict
        self.client.start(self.world.now(), remembered)
        self._flush()

    def reboot(self) -> None:
        """Ask for the current lease again (INIT-REBOOT), e.g. after the link returned."""
        lease = self.client.lease
        if not self._running or lease is None:
            return
        self.client.stop()
        self.client.start(self.world.now(), remembered=lease)
        self._flush()

    def release(self) -> None:
        """Give the lease back (RFC 2131 §4.4.6) and stop."""
        if not self._running:
            return
        self.client.release(self.world.now())
        self._flush()
        self.stop()

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self.client.stop()
        self._endpoint.close()
        self._endpoint = self.stack.udp.open()
        self._endpoint.reuse = True
        self.netif.on_address_conflict = None
        self._timer.cancel()

    # -- input -----------------------------------------------------------------------------
    def _readable(self) -> None:
        ep = self._endpoint
        now = self.world.now()
        while (item := ep.receive()) is not None:
            data, _src, sport = item
            if sport != SERVER_PORT:
                continue
            try:
                message = DhcpMessage.parse(data)
            except DecodeError:
                self.malformed += 1
                continue
            self.client.receive(message, now)
        self._flush()

    def _address_conflict(self, netif: NetIf, address: bytes) -> None:
        lease = self.client.lease
        if lease is not None and lease.address == address:
            self.client.address_lost(self.world.now())
            self._flush()

    def _probed(self, ok: bool, other_mac: bytes | None) -> None:
        if self._running:
            self.client.address_checked(ok, self.world.now())
            self._flush()

    def _on_timer(self) -> None:
        if self._running:
            self.client.handle_timer(self.world.now())
            self._flush()

    # -- output and events -------------------------------------------------------------------
    def _flush(self) -> None:
        now = self.world.now()
        ipv4 = self.stack.ipv4
        for tx in self.client.packets_to_send(now):
            payload = tx.message.build()
            segment = UdpHeader(CLIENT_PORT, SERVER_PORT).build(payload, src=tx.src, dst=tx.dst)
            try:
                if tx.dst == _BROADCAST:
                    ipv4.output(tx.src, tx.dst, IpProto.UDP, segment, netif=self.netif)
                else:
                    ipv4.output(tx.src, tx.dst, IpProto.UDP, segment)
            except OSError as exc:  # no route to the server any more: the machine retries
                log.debug("DHCP message not sent: %s", exc)
        while (event := self.client.next_event()) is not None:
            self._handle_event(event)
        if self._running:
            self._arm_timer()

    def _handle_event(self, event: object) -> None:
        stack = self.stack
        netif = self.netif
        if isinstance(event, AddressCheckRequested):
            netif.link.probe_address(event.lease.address, self._probed)
        elif isinstance(event, (LeaseAcquired, LeaseRenewed)):
            self._apply(event.lease)
        elif isinstance(event, (LeaseLost, LeaseDeclined, LeaseReleased)):
            stack.clear_ipv4(netif)
            stack.set_learned_dns(netif.name, [])
        if self.on_event is not None:
            self.on_event(event)

    def _apply(self, lease: Lease) -> None:
        stack = self.stack
        netif = self.netif
        current = netif.primary_ipv4
        if current is None or (current.address, current.prefix_len) != (
            lease.address,
            lease.prefix_len,
        ):
            stack.set_ipv4_address(netif, lease.address, lease.prefix_len)
        if lease.routers:
            try:
                stack.set_default_gateway(lease.routers[0], netif)
            except OSError as exc:
                log.debug("DHCP router not usable: %s", exc)
        stack.set_learned_dns(
            netif.name, [SocketAddress.from_packed(ip, 53) for ip in lease.dns_servers]
        )

    def _arm_timer(self) -> None:
        self._timer.arm(self.client.get_timer())
