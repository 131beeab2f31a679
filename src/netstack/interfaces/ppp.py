"""PPPInterface: a serial port running PPP on the "ip" stack (Mbed OS ``PPPInterface``).

``PPPInterface(port, user=…, password=…, world=world)`` dials: ``connect()`` opens LCP,
authenticates if the peer asks (PAP or CHAP-MD5 with the credentials), negotiates IPCP —
our address and the DNS servers from the peer (RFC 1877) — and, with ``ipv6=True``,
IPV6CP for a link-local address; it returns once the link carries IPv4 (status
``GLOBAL_UP``) or, without IPv4, IPv6 link-local (``LOCAL_UP``). It raises
:class:`~netstack.errors.AuthFailureError` when authentication fails (either way round),
:class:`~netstack.errors.NoConnectionError` when the peer ends negotiation or stops
answering, :class:`~netstack.errors.NetworkTimeoutError` after ``connect_timeout``.
Once up, the peer is the default route (``default_route=False`` leaves routing alone), so
sockets on the stack work as over Ethernet.

As a server (an "ISP"): :meth:`PPPInterface.server` waits for a peer, authenticates it
against ``secrets`` when ``auth`` is set, gives it an address from a pool and DNS servers.
Put several on one stack with forwarding on to route between dial-up peers and a LAN.

The status follows the link: a hang-up, an LCP Terminate-Request from the peer or
unanswered echoes make it ``DISCONNECTED`` (the status callbacks say so); ``disconnect()``
ends the link gracefully (Terminate-Request and Ack).
"""

from __future__ import annotations

import dataclasses
import logging

from netstack.address import SocketAddress, parse_ipv4
from netstack.drivers.serial.api import SerialPort
from netstack.errors import (
    AuthFailureError,
    BusyError,
    IsConnectedError,
    NetworkError,
    NetworkTimeoutError,
    NoConnectionError,
)
from netstack.interfaces.base import ConnectionStatus, NetifInterface
from netstack.runtime.world import World
from netstack.stacks.core.ipv6_interface import Ipv6Config
from netstack.stacks.core.routing import Route
from netstack.stacks.ip.ppp import (
    AuthenticationFailed,
    AuthProtocol,
    IpcpConfig,
    Ipv4Down,
    Ipv4Pool,
    Ipv4Up,
    Ipv6Down,
    Ipv6Up,
    LinkTerminated,
    Phase,
    PppConfig,
    PppConnection,
    PppEvent,
)
from netstack.stacks.ip.ppp.fsm import State
from netstack.stacks.ip.ppp.link import PppLink
from netstack.stacks.ip.stack import IpStack

log = logging.getLogger(__name__)

_HOST_MASK = b"\xff\xff\xff\xff"
#: A network control protocol in these states has given up (RFC 1661 §4.2).
_FINISHED = (State.CLOSED, State.STOPPED)


class PPPInterface(NetifInterface):
    """A PPP connection over one serial port; see the module docstring."""

    #: How long ``connect()`` waits for the link to carry IP (None: as long as it takes —
    #: a server waiting for its caller).
    connect_timeout: float | None = 30.0
    #: How long ``disconnect()`` waits for the peer's Terminate-Ack.
    disconnect_timeout: float = 10.0

    def __init__(
        self,
        port: SerialPort,
        *,
        user: str | None = None,
        password: str | None = None,
        stack: IpStack | None = None,
        world: World | None = None,
        name: str | None = None,
        config: PppConfig | None = None,
        ipv4: bool | None = None,
        ipv6: bool | None = None,
        default_route: bool = True,
        tx_queue_limit: int | None = None,
    ) -> None:
        if stack is None:
            if world is None:
                raise ValueError("PPPInterface needs a stack= or a world=")
            stack = IpStack(world)
        super().__init__(stack)
        cfg = config or PppConfig()
        changes: dict[str, object] = {}
        if user is not None:
            changes["user"] = user
        if password is not None:
            changes["password"] = password
        if ipv4 is not None:
            changes["ipv4"] = ipv4
        if ipv6 is not None:
            changes["ipv6"] = ipv6
        if changes:
            cfg = dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]
        self.config = cfg
        self.port = port
        self._ip_stack = stack
        self.netif = stack.add_ppp(port, name, cfg, tx_queue_limit=tx_queue_limit)
        link = self.netif.link
        assert isinstance(link, PppLink)
        self.link: PppLink = link
        link.listeners.append(self._on_event)
        self.default_route = default_route
        self._failure: NetworkError | None = None
        self.peer_address: bytes | None = None
        self.dns_servers: list[bytes] = []
        self.peer_name = ""

    @classmethod
    def server(
        cls,
        port: SerialPort,
        *,
        local: str,
        pool: Ipv4Pool | str,
        dns: tuple[str, ...] = (),
        auth: str | None = None,
        secrets: dict[str, str] | None = None,
        stack: IpStack | None = None,
        world: World | None = None,
        name: str | None = None,
        ipv6: bool = False,
    ) -> PPPInterface:
        """The answering side: our address ``local``, the peer's from ``pool`` (an
        :class:`Ipv4Pool`, or one address as text), ``dns`` servers to hand out, and
        ``auth`` ("pap" or "chap") to require the peer to authenticate against
        ``secrets`` (user -> password). Its ``connect()`` waits for a caller however long
        it takes (LCP's passive option); after a caller hangs up, ``connect()`` again
        waits for the next."""
        if isinstance(pool, str):
            pool = Ipv4Pool(parse_ipv4(pool), 1)
        config = PppConfig(
            require_auth=AuthProtocol(auth) if auth else None,
            secrets=secrets,
            ipv6=ipv6,
            ipcp=IpcpConfig(local=parse_ipv4(local), dns=tuple(parse_ipv4(d) for d in dns)),
            pool=pool,
            passive=True,
        )
        iface = cls(port, stack=stack, world=world, name=name, config=config, default_route=False)
        iface.connect_timeout = None
        return iface

    # -- configuration ---------------------------------------------------------------------
    def set_credentials(self, user: str, password: str) -> None:
        """The user name and password for PAP/CHAP (Mbed ``set_credentials``); before
        connecting."""
        if self._status != ConnectionStatus.DISCONNECTED:
            raise BusyError("set the credentials before connect()")
        self.config.user = user
        self.config.password = password

    @property
    def last_error(self) -> NetworkError | None:
        """Why the link last went down or failed to come up (None while it never did)."""
        return self._failure

    @property
    def ppp(self) -> PppConnection:
        """The PPP machine (phase, LCP/IPCP state and options, counters)."""
        return self.link.connection

    # -- lifecycle -------------------------------------------------------------------------
    async def connect(self) -> None:
        if self._status in (ConnectionStatus.GLOBAL_UP, ConnectionStatus.LOCAL_UP):
            raise IsConnectedError("already connected")
        if self._status == ConnectionStatus.CONNECTING:
            raise BusyError("connect already in progress")
        if not self.port.is_open:
            raise NoConnectionError("the serial port is closed")
        self._failure = None
        self._set_status(ConnectionStatus.CONNECTING)
        self._ip_stack.bring_up(self.netif)
        if not self.blocking:
            return
        wanted = {ConnectionStatus.GLOBAL_UP, ConnectionStatus.DISCONNECTED}
        if not self.config.ipv4:
            wanted.add(ConnectionStatus.LOCAL_UP)
        try:
            await self.wait_for_status(wanted, self.connect_timeout)
        except NetworkTimeoutError:
            phase = self.ppp.phase.value
            self._teardown()
            raise NetworkTimeoutError(
                f"PPP negotiation did not finish in {self.connect_timeout} s (phase {phase})"
            ) from None
        if self._status == ConnectionStatus.DISCONNECTED:
            raise self._failure or NoConnectionError("the PPP link went down")

    async def disconnect(self) -> None:
        """End the link gracefully: LCP Terminate-Request, then the peer's Ack (at most
        ``disconnect_timeout`` seconds)."""
        if self._status == ConnectionStatus.DISCONNECTED:
            raise NoConnectionError("not connected")
        self._failure = NoConnectionError("disconnected")
        self.link.close()
        if self.get_connection_status() != ConnectionStatus.DISCONNECTED:
            try:
                await self.wait_for_status({ConnectionStatus.DISCONNECTED}, self.disconnect_timeout)
            except NetworkTimeoutError:
                log.debug("PPP: no Terminate-Ack; dropping the link")
        self._teardown()

    def _teardown(self) -> None:
        self._ip_stack.bring_down(self.netif)
        self._ip_stack.clear_ipv4(self.netif)
        self._ip_stack.set_learned_dns(f"ipcp:{self.netif.name}", [])
        self.peer_address = None
        self.dns_servers = []
        self._set_status(ConnectionStatus.DISCONNECTED)

    # -- PPP events ------------------------------------------------------------------------
    def _on_event(self, event: PppEvent) -> None:
        if isinstance(event, Ipv4Up):
            self._ipv4_up(event)
        elif isinstance(event, Ipv4Down):
            self._ip_stack.clear_ipv4(self.netif)
            if self.ppp.phase is Phase.NETWORK:  # else LinkTerminated follows
                self._update_status()
        elif isinstance(event, Ipv6Up):
            config = Ipv6Config(slaac=True, interface_id=event.local_iid, dad_transmits=0)
            ip6 = self._ip_stack.enable_ipv6(self.netif, config)
            ip6.config = config
            if self._update_status not in ip6.listeners:
                ip6.listeners.append(self._update_status)
            if not ip6.enabled:
                ip6.start()
            self._update_status()
        elif isinstance(event, Ipv6Down):
            if self.netif.ip6 is not None:
                self.netif.ip6.stop()
            self._update_status()
        elif isinstance(event, AuthenticationFailed):
            who = "the peer refused our credentials" if event.ours else "the peer failed"
            self._failure = AuthFailureError(f"PPP authentication failed ({who}): {event.reason}")
        elif isinstance(event, LinkTerminated):
            if self._failure is None:
                self._failure = NoConnectionError(f"PPP link down: {event.reason}")
            if self._status != ConnectionStatus.DISCONNECTED:
                self._teardown()

    def _ipv4_up(self, event: Ipv4Up) -> None:
        stack = self._ip_stack
        netif = self.netif
        self.peer_address = event.peer
        self.dns_servers = list(event.dns)
        if event.local is not None:
            stack.set_ipv4_address(netif, event.local, 32)
        ipv4 = stack.ipv4
        if event.peer is not None:
            ipv4.add_route(Route(int.from_bytes(event.peer, "big"), 32, netif))
        if self.default_route:
            for route in [r for r in ipv4.routes if r.prefix_len == 0]:
                ipv4.remove_route(route)
            ipv4.add_route(Route(0, 0, netif))  # point-to-point: the peer is on-link
        stack.set_learned_dns(
            f"ipcp:{netif.name}", [SocketAddress.from_packed(d, 53) for d in event.dns]
        )
        self.peer_name = self.ppp.peer_name
        self._update_status()

    def _update_status(self) -> None:
        if self._status == ConnectionStatus.DISCONNECTED:
            return
        if self.netif.ipv4:
            self._set_status(ConnectionStatus.GLOBAL_UP)
            return
        ip6 = self.netif.ip6
        if ip6 is not None and ip6.enabled:
            if ip6.global_address() is not None:
                self._set_status(ConnectionStatus.GLOBAL_UP)
                return
            ipv4_coming = self.config.ipv4 and self.ppp.ipcp.state not in _FINISHED
            if ip6.link_local() is not None and not ipv4_coming:
                self._set_status(ConnectionStatus.LOCAL_UP)
                return
        self._set_status(ConnectionStatus.CONNECTING)

    # -- addresses -------------------------------------------------------------------------
    def get_netmask(self) -> SocketAddress | None:
        return SocketAddress.from_packed(_HOST_MASK) if self.netif.ipv4 else None

    def get_gateway(self) -> SocketAddress | None:
        """The peer's address (the other end of the link), when it told us."""
        peer = self.peer_address
        return SocketAddress.from_packed(peer) if peer is not None else None

    def get_dns_servers(self) -> list[SocketAddress]:
        """The DNS servers IPCP gave us (RFC 1877)."""
        return [SocketAddress.from_packed(d, 53) for d in self.dns_servers]
