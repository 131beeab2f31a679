"""A DHCPv4 server (RFC 2131, options per RFC 2132), written on the Socket API.

Two parts:

- :class:`~netstack.services.dhcp_pool.LeasePool` (its own module) owns the addresses.
  It is pure — every call takes ``now`` — so it is unit-tested without a network.
- :class:`DhcpServer` is the service: one UDP socket on port 67 (SO_BROADCAST and
  SO_REUSEADDR), served from its readiness callback with non-blocking calls, like the echo
  service. :meth:`DhcpServer.respond` maps one request to at most one reply (again with an
  explicit ``now``); the socket glue only parses, calls it and sends.

Leases expire on the world's clock without a timer per lease: the pool looks at expiry
times when it allocates (an expired lease is simply free), and :meth:`DhcpServer.purge`
forgets the records of expired leases.

Where replies go (RFC 2131 §4.1): through a relay (``giaddr`` set) to the relay's port 67;
to ``ciaddr`` port 68 when the client already has an address (RENEWING, INFORM); otherwise
broadcast to 255.255.255.255 port 68. A server on a kernel unicasts an OFFER/ACK to a client
without an address by writing the client's MAC into the ARP cache by hand; the Socket API has
no such call, and RFC 2131 allows broadcasting instead — every client accepts broadcast
replies whatever its BROADCAST flag says. A DHCPNAK is always broadcast when ``giaddr`` is 0.

The server serves one subnet (the one holding the pool). Through the Socket API it cannot
tell which interface a broadcast arrived on, so on a multi-homed host give it the interface
(it then binds to that interface's address, so its broadcasts leave through it) and do not
run it where clients of another subnet can reach it without a relay.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from netstack.address import SocketAddress, netmask_to_prefix, parse_ipv4
from netstack.errors import NetworkError, ParameterError, WouldBlockError
from netstack.services.dhcp_pool import (
    LeasePool,
    LeaseRecord,
    LeaseState,
    _packed,
    _text,
    _u32,
)
from netstack.socket import SOL_SOCKET, SocketOption
from netstack.socket.base import HasStack, resolve_stack
from netstack.socket.udp import UDPSocket
from netstack.stacks.core.api import NetworkStack
from netstack.wire import DecodeError
from netstack.wire.dhcpv4 import (
    BROADCAST_FLAG,
    CLIENT_PORT,
    SERVER_PORT,
    DhcpMessage,
    DhcpMessageType,
    DhcpOp,
    DhcpOption,
)
from netstack.wire.ethernet import mac_from_str

log = logging.getLogger(__name__)

__all__ = [
    "DhcpReply",
    "DhcpServer",
    "DhcpServerConfig",
    "DhcpServerStats",
    "LeasePool",
    "LeaseRecord",
    "LeaseState",
]

ZERO4 = b"\0\0\0\0"
LIMITED_BROADCAST = b"\xff\xff\xff\xff"
INFINITE_LEASE = 0xFFFFFFFF  # RFC 2132 §9.2: all ones means "infinity"
MAX_BATCH = 64  # datagrams handled per readiness callback; the rest on the next loop turn


# -- the pool ------------------------------------------------------------------------------------
# -- the service ---------------------------------------------------------------------------------
@dataclass(slots=True)
class DhcpServerConfig:
    """What the server hands out. Addresses are dotted quads."""

    pool_start: str
    pool_end: str
    netmask: str = "255.255.255.0"
    router: str | None = None
    dns_servers: tuple[str, ...] = ()
    domain: str | None = None
    lease_time: float = 3600.0  # seconds; math.inf for an infinite lease
    t1: float | None = None  # renewal time; default 0.5 * lease_time (RFC 2131 §4.4.5)
    t2: float | None = None  # rebinding time; default 0.875 * lease_time
    mtu: int | None = None
    static_leases: dict[str, str] = field(default_factory=dict)  # MAC -> address
    offer_hold: float = 30.0  # an offered address stays reserved this long
    decline_hold: float | None = None  # quarantine after DECLINE; default lease_time (≤ 1 day)
    server_id: str | None = None  # default: the interface's address
    authoritative: bool = True  # NAK requests for addresses not ours / on the wrong subnet


@dataclass(slots=True)
class DhcpServerStats:
    discovers: int = 0
    offers: int = 0
    requests: int = 0
    acks: int = 0
    naks: int = 0
    declines: int = 0
    releases: int = 0
    informs: int = 0
    malformed: int = 0  # undecodable datagrams and requests missing what they need
    pool_exhausted: int = 0  # DISCOVERs left unanswered for want of an address
    ignored: int = 0  # well-formed but not for us: BOOTP, replies, other subnets/servers
    errors: int = 0  # replies that could not be sent, socket errors


@dataclass(frozen=True, slots=True)
class DhcpReply:
    """A reply and where it goes."""

    message: DhcpMessage
    address: SocketAddress


class DhcpServer:
    """A DHCPv4 server on one subnet.

    >>> server = DhcpServer(host.iface, DhcpServerConfig("10.0.0.100", "10.0.0.199"))
    ...                                                              # doctest: +SKIP
    >>> server.start()                                                # doctest: +SKIP
    """

    def __init__(self, stack_or_iface: NetworkStack | HasStack, config: DhcpServerConfig) -> None:
        self._target = stack_or_iface
        self._stack = resolve_stack(stack_or_iface)
        self.config = config
        self.stats = DhcpServerStats()
        self.socket: UDPSocket | None = None
        self._resume_pending = False
        self._exhausted_logged = False

        mask = parse_ipv4(config.netmask)
        netmask_to_prefix(config.netmask)  # rejects a non-contiguous mask
        self._mask = _u32(mask)
        first, last = parse_ipv4(config.pool_start), parse_ipv4(config.pool_end)
        self._network = _u32(first) & self._mask
        if _u32(last) & self._mask != self._network:
            raise ParameterError("the pool must lie in one subnet")
        broadcast = self._network | (~self._mask & 0xFFFFFFFF)
        static: dict[bytes, bytes] = {}
        for mac_text, ip_text in config.static_leases.items():
            try:
                mac = mac_from_str(mac_text.lower())
            except ValueError:
                raise ParameterError(f"not a MAC address: {mac_text!r}") from None
            ip = parse_ipv4(ip_text)
            if not self._in_subnet(ip):
                raise ParameterError(f"static lease {ip_text} is not in the pool's subnet")
            static[mac] = ip
        exclude = [_packed(self._network), _packed(broadcast)]
        self._router = parse_ipv4(config.router) if config.router else None
        if self._router is not None:
            exclude.append(self._router)
        self.pool = LeasePool(first, last, static=static, exclude=exclude)
        self._server_id: bytes | None = None
        if config.server_id is not None:
            self._set_server_id(parse_ipv4(config.server_id))

        if not config.lease_time > 0:
            raise ParameterError("lease_time must be positive")
        if not config.offer_hold > 0:
            raise ParameterError("offer_hold must be positive")
        lease = config.lease_time
        t1 = config.t1 if config.t1 is not None else 0.5 * lease
        t2 = config.t2 if config.t2 is not None else 0.875 * lease
        if not 0 < t1 <= t2 <= lease:
            raise ParameterError("need 0 < t1 <= t2 <= lease_time")
        self._decline_hold = (
            config.decline_hold if config.decline_hold is not None else min(lease, 86400.0)
        )
        # RFC 2132 §9.2, §9.11, §9.12: times in whole seconds; T1/T2 only for finite leases.
        self._lease_options: dict[int, bytes] = {DhcpOption.LEASE_TIME: _seconds(lease)}
        if math.isfinite(lease):
            self._lease_options[DhcpOption.RENEWAL_TIME] = _seconds(t1)
            self._lease_options[DhcpOption.REBINDING_TIME] = _seconds(t2)
        # RFC 2132 §3.3, §3.5, §3.8, §3.17, §5.1, §5.3: what a client may ask for.
        opts: dict[int, bytes] = {DhcpOption.SUBNET_MASK: mask}
        if self._router is not None:
            opts[DhcpOption.ROUTER] = self._router
        if config.dns_servers:
            opts[DhcpOption.DNS_SERVERS] = b"".join(parse_ipv4(s) for s in config.dns_servers)
        if config.domain:
            domain = config.domain.encode("ascii")
            if not 0 < len(domain) <= 255:
                raise ParameterError("domain name too long for option 15")
            opts[DhcpOption.DOMAIN_NAME] = domain
        if config.mtu is not None:
            if not 68 <= config.mtu <= 0xFFFF:
                raise ParameterError("mtu must be 68..65535")
            opts[DhcpOption.INTERFACE_MTU] = config.mtu.to_bytes(2, "big")
        opts[DhcpOption.BROADCAST_ADDRESS] = _packed(broadcast)
        self._config_options = opts

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open the socket on port 67 and serve."""
        if self.socket is not None:
            raise ParameterError("DHCP server already started")
        iface_ip = self._interface_address()
        if self._server_id is None:
            if iface_ip is None:
                raise ParameterError("no server_id configured and no interface address known")
            self._set_server_id(iface_ip)
        sock = UDPSocket(self._target)
        try:
            sock.setsockopt(SOL_SOCKET, SocketOption.REUSEADDR, True)
            sock.set_broadcast(True)
            # Bound to the interface's address, broadcasts leave through that interface.
            sock.bind((_text(_u32(iface_ip)) if iface_ip else "", SERVER_PORT))
            sock.set_blocking(False)
            sock.sigio(self._readable)
        except NetworkError:
            sock.close()
            raise
        self.socket = sock
        log.info(
            "DHCP server %s serving %s-%s",
            self.server_id,
            self.config.pool_start,
            self.config.pool_end,
        )

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def __enter__(self) -> DhcpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def server_id(self) -> str | None:
        """Our address as sent in option 54."""
        return None if self._server_id is None else _text(_u32(self._server_id))

    @property
    def leases(self) -> list[LeaseRecord]:
        """Addresses taken now (offered, bound, quarantined)."""
        return self.pool.leases(self._stack.world.now())

    def purge(self) -> int:
        """Forget expired and released leases; returns how many were dropped."""
        return self.pool.purge(self._stack.world.now())

    # -- socket glue ---------------------------------------------------------------------------
    def _readable(self) -> None:
        """Readiness callback: handle up to MAX_BATCH datagrams; never raises."""
        self._resume_pending = False
        sock = self.socket
        if sock is None or not sock.is_open:
            return
        for _ in range(MAX_BATCH):
            if self.socket is not sock or not sock.readable():
                return
            try:
                data, _peer = sock.recvfrom_nowait()
            except WouldBlockError:
                return
            except NetworkError as exc:  # an ICMP error reported on the socket
                self.stats.errors += 1
                log.debug("DHCP server socket: %s", exc)
                continue
            try:
                self._datagram(sock, data)
            except Exception:  # a bug must not take the service down; it is logged, not hidden
                self.stats.errors += 1
                log.exception("DHCP server failed on a %d-byte datagram", len(data))
        if sock.is_open and sock.readable() and not self._resume_pending:
            self._resume_pending = True  # a flood: let timers and output run first
            self._stack.world.call_soon(self._readable)

    def _datagram(self, sock: UDPSocket, data: bytes) -> None:
        try:
            message = DhcpMessage.parse(data)
        except DecodeError as exc:
            self.stats.malformed += 1
            log.debug("DHCP server: malformed datagram: %s", exc)
            return
        reply = self.respond(message, self._stack.world.now())
        if reply is None:
            return
        try:
            sock.sendto_nowait(reply.address, reply.message.build())
        except (NetworkError, ValueError) as exc:
            self.stats.errors += 1
            log.debug("DHCP server: reply to %s failed: %s", reply.address, exc)

    # -- protocol ----------------------------------------------------------------------------
    def respond(self, request: DhcpMessage, now: float) -> DhcpReply | None:
        """The reply to ``request`` at time ``now`` (RFC 2131 §4.3), or None; updates stats."""
        if self._server_id is None:
            raise ParameterError("server_id unknown: start() the server first")
        stats = self.stats
        if request.op != DhcpOp.BOOTREQUEST:
            stats.ignored += 1
            return None
        if request.hlen > 16 or (request.hlen == 0 and DhcpOption.CLIENT_ID not in request.options):
            stats.malformed += 1  # no way to tell who the client is
            return None
        if request.giaddr != ZERO4 and not self._in_subnet(request.giaddr):
            stats.ignored += 1  # relayed from a subnet we do not serve
            return None
        try:
            kind = request.message_type
            handler = _HANDLERS.get(kind) if kind is not None else None
            if handler is None:
                stats.ignored += 1  # BOOTP, or a server's message
                return None
            return handler(self, request, now)
        except DecodeError as exc:  # an option with a malformed value
            stats.malformed += 1
            log.debug("DHCP server: malformed option: %s", exc)
            return None

    def _discover(self, req: DhcpMessage, now: float) -> DhcpReply | None:
        self.stats.discovers += 1
        client, mac = _client_key(req), _mac(req)
        ip = self.pool.select(client, mac, req.ip_option(DhcpOption.REQUESTED_IP), now)
        if ip is None or not self.pool.offer(
            client, mac, ip, now, self.config.offer_hold, _hostname(req)
        ):
            self.stats.pool_exhausted += 1
            if not self._exhausted_logged:
                self._exhausted_logged = True
                log.warning(
                    "DHCP pool %s-%s exhausted", self.config.pool_start, self.config.pool_end
                )
            return None
        self._exhausted_logged = False
        self.stats.offers += 1
        return self._ack_like(req, DhcpMessageType.OFFER, ip)

    def _request(self, req: DhcpMessage, now: float) -> DhcpReply | None:
        self.stats.requests += 1
        pool = self.pool
        client, mac = _client_key(req), _mac(req)
        server_id = req.ip_option(DhcpOption.SERVER_ID)
        requested = req.ip_option(DhcpOption.REQUESTED_IP)
        hostname = _hostname(req)
        lease = self.config.lease_time

        if server_id is not None:  # SELECTING (RFC 2131 §4.3.2)
            if server_id != self._server_id:
                # The client took another server's offer: ours is free again.
                if pool.cancel_offer(client, now):
                    log.debug("DHCP client %s chose another server", _key_text(client))
                self.stats.ignored += 1
                return None
            ip = requested if requested is not None else req.ciaddr
            if ip == ZERO4:
                self.stats.malformed += 1
                return None
            if pool.bind(client, mac, ip, now, lease, hostname):
                return self._ack_like(req, DhcpMessageType.ACK, ip)
            return self._nak(req, "requested address not available")

        if requested is not None and req.ciaddr == ZERO4:  # INIT-REBOOT
            known = pool.address_of(client) is not None
            if not self.config.authoritative and not known:
                self.stats.ignored += 1  # §4.3.2: no record of this client: remain silent
                return None
            if not self._in_subnet(requested):
                return self._nak(req, "wrong network")
            if pool.bind(client, mac, requested, now, lease, hostname):
                return self._ack_like(req, DhcpMessageType.ACK, requested)
            return self._nak(req, "requested address not available")

        if req.ciaddr != ZERO4:  # RENEWING (unicast) or REBINDING (broadcast)
            ip = req.ciaddr
            ours = pool.address_of(client) == ip
            if (ours or self.config.authoritative) and pool.bind(
                client, mac, ip, now, lease, hostname
            ):
                # Also a free pool address we have no record of (e.g. after a restart).
                return self._ack_like(req, DhcpMessageType.ACK, ip, ciaddr=ip)
            if self.config.authoritative or ours:
                return self._nak(req, "lease not renewable")
            self.stats.ignored += 1
            return None

        self.stats.malformed += 1  # a REQUEST with neither server id, address nor ciaddr
        return None

    def _decline(self, req: DhcpMessage, now: float) -> DhcpReply | None:
        self.stats.declines += 1
        server_id = req.ip_option(DhcpOption.SERVER_ID)
        if server_id is not None and server_id != self._server_id:
            self.stats.ignored += 1
            return None
        ip = req.ip_option(DhcpOption.REQUESTED_IP)
        if ip is None:
            self.stats.malformed += 1
            return None
        if self.pool.decline(_client_key(req), _mac(req), ip, now, self._decline_hold):
            # RFC 2131 §4.3.3: mark the address unusable and tell the administrator.
            who, hold = _key_text(_client_key(req)), self._decline_hold
            log.info("DHCP client %s declined %s: quarantined for %s s", who, _text(_u32(ip)), hold)
        else:
            self.stats.ignored += 1
        return None  # no reply to a DECLINE

    def _release(self, req: DhcpMessage, now: float) -> DhcpReply | None:
        self.stats.releases += 1
        server_id = req.ip_option(DhcpOption.SERVER_ID)
        if server_id is not None and server_id != self._server_id:
            self.stats.ignored += 1
            return None
        if not self.pool.release(_client_key(req), req.ciaddr, now):
            self.stats.ignored += 1
        return None  # no reply to a RELEASE (§4.3.4)

    def _inform(self, req: DhcpMessage, now: float) -> DhcpReply | None:
        # RFC 2131 §4.3.5: options only; no lease, no yiaddr, no lookup of the pool.
        self.stats.informs += 1
        return self._ack_like(req, DhcpMessageType.ACK, ZERO4, ciaddr=req.ciaddr, lease=False)

    # -- replies -------------------------------------------------------------------------------
    def _ack_like(
        self,
        req: DhcpMessage,
        kind: DhcpMessageType,
        yiaddr: bytes,
        *,
        ciaddr: bytes = ZERO4,
        lease: bool = True,
    ) -> DhcpReply:
        """An OFFER or ACK: mandatory options, then those the client asked for (option 55).

        A client that sends no parameter request list gets everything configured
        (RFC 2131 §4.3.1 lets a server send options it was not asked for).
        """
        assert self._server_id is not None
        options: dict[int, bytes] = {
            DhcpOption.MESSAGE_TYPE: bytes([kind]),
            DhcpOption.SERVER_ID: self._server_id,
        }
        prl = req.options.get(DhcpOption.PARAMETER_REQUEST_LIST)
        wanted = set(prl) if prl is not None else None
        if lease:
            for code, value in self._lease_options.items():
                if code == DhcpOption.LEASE_TIME or wanted is None or code in wanted:
                    options[code] = value
        for code, value in self._config_options.items():
            if code == DhcpOption.SUBNET_MASK or wanted is None or code in wanted:
                options[code] = value
        self._echo_client_id(req, options)
        if kind == DhcpMessageType.ACK:
            self.stats.acks += 1
        reply = self._message(req, options, yiaddr=yiaddr, ciaddr=ciaddr, flags=req.flags)
        return DhcpReply(reply, self._destination(req, nak=False))

    def _nak(self, req: DhcpMessage, reason: str) -> DhcpReply:
        """A NAK carries only the message type, our id and a message (RFC 2131 table 3)."""
        assert self._server_id is not None
        self.stats.naks += 1
        options: dict[int, bytes] = {
            DhcpOption.MESSAGE_TYPE: bytes([DhcpMessageType.NAK]),
            DhcpOption.SERVER_ID: self._server_id,
            DhcpOption.MESSAGE: reason.encode("ascii"),
        }
        self._echo_client_id(req, options)
        # §4.3.2: through a relay, the NAK goes with the broadcast bit set.
        flags = req.flags | BROADCAST_FLAG if req.giaddr != ZERO4 else req.flags
        log.debug("DHCP NAK to %s: %s", _key_text(_client_key(req)), reason)
        reply = self._message(req, options, yiaddr=ZERO4, ciaddr=ZERO4, flags=flags)
        return DhcpReply(reply, self._destination(req, nak=True))

    @staticmethod
    def _echo_client_id(req: DhcpMessage, options: dict[int, bytes]) -> None:
        # RFC 6842 §3 (updating RFC 2131's table 3): echo the client identifier.
        client_id = req.options.get(DhcpOption.CLIENT_ID)
        if client_id is not None:
            options[DhcpOption.CLIENT_ID] = client_id

    @staticmethod
    def _message(
        req: DhcpMessage, options: dict[int, bytes], *, yiaddr: bytes, ciaddr: bytes, flags: int
    ) -> DhcpMessage:
        # RFC 2131 table 3: xid, flags, giaddr and chaddr from the request; siaddr 0.
        return DhcpMessage(
            op=DhcpOp.BOOTREPLY,
            xid=req.xid,
            chaddr=req.chaddr,
            htype=req.htype,
            hlen=req.hlen,
            flags=flags,
            ciaddr=ciaddr,
            yiaddr=yiaddr,
            giaddr=req.giaddr,
            options=options,
        )

    @staticmethod
    def _destination(req: DhcpMessage, *, nak: bool) -> SocketAddress:
        """RFC 2131 §4.1 (see the module docstring for why there is no unicast to yiaddr)."""
        if req.giaddr != ZERO4:
            return SocketAddress.from_packed(req.giaddr, SERVER_PORT)
        if not nak and req.ciaddr != ZERO4:
            return SocketAddress.from_packed(req.ciaddr, CLIENT_PORT)
        return SocketAddress.from_packed(LIMITED_BROADCAST, CLIENT_PORT)

    # -- helpers -------------------------------------------------------------------------------
    def _in_subnet(self, ip: bytes) -> bool:
        return len(ip) == 4 and _u32(ip) & self._mask == self._network

    def _set_server_id(self, ip: bytes) -> None:
        self._server_id = ip
        if self._in_subnet(ip):
            self.pool.exclude(ip)

    def _interface_address(self) -> bytes | None:
        text = getattr(self._target, "ip_address", None)
        if isinstance(text, str) and text:
            return parse_ipv4(text)
        return None


_Handler = Callable[[DhcpServer, DhcpMessage, float], "DhcpReply | None"]
_HANDLERS: dict[int, _Handler] = {
    DhcpMessageType.DISCOVER: DhcpServer._discover,
    DhcpMessageType.REQUEST: DhcpServer._request,
    DhcpMessageType.DECLINE: DhcpServer._decline,
    DhcpMessageType.RELEASE: DhcpServer._release,
    DhcpMessageType.INFORM: DhcpServer._inform,
}


def _seconds(value: float) -> bytes:
    if not math.isfinite(value):
        return INFINITE_LEASE.to_bytes(4, "big")
    return min(int(value), INFINITE_LEASE - 1).to_bytes(4, "big")


def _client_key(req: DhcpMessage) -> bytes:
    """Client identity: option 61 when present, else the hardware address (RFC 2131 §4.2)."""
    client_id = req.options.get(DhcpOption.CLIENT_ID)
    if client_id:
        return b"I" + bytes(client_id)
    return b"H" + bytes([req.htype & 0xFF]) + bytes(req.chaddr[: req.hlen])


def _key_text(key: bytes) -> str:
    return key[1:].hex(":")


def _mac(req: DhcpMessage) -> bytes | None:
    """The Ethernet address, for static leases and reports."""
    if req.htype == 1 and req.hlen == 6:
        return bytes(req.chaddr[:6])
    return None


def _hostname(req: DhcpMessage) -> str | None:
    name = req.text_option(DhcpOption.HOSTNAME)
    return name[:63] if name else None
