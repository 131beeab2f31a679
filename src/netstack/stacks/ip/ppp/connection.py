"""PppConnection: one PPP link as a sans-I/O machine over a byte stream (RFC 1661 §3).

The connection takes the bytes the serial line delivered (:meth:`PppConnection.receive_data`)
and returns the network-layer packets among them; it frames the packets the stack sends
(:meth:`PppConnection.frame_packet`) and produces its own control traffic as bytes
(:meth:`PppConnection.data_to_send`). It walks the link through the phases of RFC 1661 §3.2::

    Dead -> Establish (LCP) -> Authenticate (PAP/CHAP) -> Network (IPCP, IPV6CP) -> Terminate

- Establish: LCP negotiates; anything but LCP is discarded (§3.4).
- Authenticate: each side that the other required to authenticate runs its peer machine
  (PAP or CHAP), each side that required it runs its authenticator; only LCP and the
  authentication protocols pass (§3.5). A failure on either side closes LCP with the
  reason, reported as :class:`AuthenticationFailed`.
- Network: IPCP and/or IPV6CP open; each network protocol's packets flow once its control
  protocol is Opened and are discarded before (§3.6). A protocol the peer Protocol-Rejects
  is given up; when no network protocol is left the link is closed.
- Unknown protocols get an LCP Protocol-Reject while LCP is Opened (§5.7).

As the server (an "ISP"), set ``require_auth`` and ``secrets`` to authenticate the peer, and
give IPCP the addresses to hand out (``IpcpConfig(local=…, peer=…, dns=…)`` or an
:class:`Ipv4Pool` as ``pool`` to draw the peer's address from when the Network phase
begins).

The frames use the options in force: LCP always with the default ACCM and full address
and control fields (RFC 1662 §7.1, RFC 1661 §6.6), the rest with the ACCM, ACFC and PFC
the peer acked.
"""

from __future__ import annotations

import dataclasses
import enum
import hmac
import logging
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from netstack.stacks.ip.ppp.auth import (
    AuthFailed,
    AuthSucceeded,
    ChapAuthenticator,
    ChapPeer,
    PapAuthenticator,
    PapPeer,
)
from netstack.stacks.ip.ppp.fsm import (
    Automaton,
    LayerDown,
    LayerEvent,
    LayerFinished,
    LayerUp,
    State,
)
from netstack.stacks.ip.ppp.lcp import AuthProtocol, Lcp, LcpConfig
from netstack.stacks.ip.ppp.ncp import Ipcp, IpcpConfig, Ipv6cp, Ipv6cpConfig
from netstack.wire import Buffer, DecodeError
from netstack.wire.ppp import ControlPacket, Deframer, PppHeader, PppProtocol, encode_frame

log = logging.getLogger(__name__)

_DEFAULT_ACCM = 0xFFFFFFFF
AuthMachine = PapPeer | PapAuthenticator | ChapPeer | ChapAuthenticator
Secrets = Mapping[str, str] | Callable[[str], str | bytes | None]


class Phase(enum.Enum):
    """RFC 1661 §3.2 link phases."""

    DEAD = "dead"
    ESTABLISH = "establish"
    AUTHENTICATE = "authenticate"
    NETWORK = "network"
    TERMINATE = "terminate"


class Ipv4Pool:
    """Addresses a server hands its peers, lowest free first."""

    def __init__(self, first: bytes, count: int) -> None:
        start = int.from_bytes(first, "big")
        self._free = [(start + i).to_bytes(4, "big") for i in range(count)]
        self._used: set[bytes] = set()

    def allocate(self) -> bytes | None:
        if not self._free:
            return None
        address = self._free.pop(0)
        self._used.add(address)
        return address

    def release(self, address: bytes) -> None:
        if address in self._used:
            self._used.discard(address)
            self._free.append(address)
            self._free.sort()

    @property
    def in_use(self) -> int:
        return len(self._used)


@dataclass(slots=True)
class PppConfig:
    """One link's configuration: credentials for when the peer requires authentication,
    ``require_auth``/``secrets`` to require it of the peer, which network protocols to
    run, and each protocol's own settings."""

    user: str = ""
    password: str = ""
    require_auth: AuthProtocol | None = None
    secrets: Secrets | None = None
    #: Our name in CHAP Challenges.
    name: str = "netstack"
    #: Seconds between CHAP re-challenges once authenticated (None: never).
    rechallenge: float | None = None
    ipv4: bool = True
    ipv6: bool = False
    lcp: LcpConfig = field(default_factory=LcpConfig)
    ipcp: IpcpConfig = field(default_factory=IpcpConfig)
    ipv6cp: Ipv6cpConfig = field(default_factory=Ipv6cpConfig)
    #: Server side: draw the peer's IPv4 address from here when the Network phase starts.
    pool: Ipv4Pool | None = None
    #: After Max-Configure unanswered requests keep waiting for the peer's instead of
    #: finishing the link (RFC 1661 §4.1 passive option, pppd's ``passive``): a server.
    passive: bool = False


# -- events ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LinkEstablished:
    """LCP is Opened: ``mtu`` is what the peer takes (its MRU)."""

    mtu: int


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Authentication finished successfully; ``peer_name`` is who the peer proved to be
    (empty when we did not require it)."""

    peer_name: str


@dataclass(frozen=True, slots=True)
class AuthenticationFailed:
    """``ours``: the peer refused our credentials (else the peer failed ours)."""

    reason: str
    ours: bool


@dataclass(frozen=True, slots=True)
class Ipv4Up:
    local: bytes | None
    peer: bytes | None
    dns: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Ipv4Down:
    pass


@dataclass(frozen=True, slots=True)
class Ipv6Up:
    local_iid: bytes
    peer_iid: bytes | None


@dataclass(frozen=True, slots=True)
class Ipv6Down:
    pass


@dataclass(frozen=True, slots=True)
class LinkTerminated:
    """The link is Dead; ``reason`` says why (ours or the peer's)."""

    reason: str


PppEvent = (
    LinkEstablished
    | Authenticated
    | AuthenticationFailed
    | Ipv4Up
    | Ipv4Down
    | Ipv6Up
    | Ipv6Down
    | LinkTerminated
)

_NETWORK_FOR: dict[int, int] = {
    PppProtocol.IPV4: PppProtocol.IPCP,
    PppProtocol.IPV6: PppProtocol.IPV6CP,
}


class PppConnection:
    """One PPP link (see the module docstring)."""

    def __init__(self, config: PppConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        lcp_config = config.lcp
        if config.require_auth is not None and lcp_config.require_auth is None:
            lcp_config = dataclasses.replace(lcp_config, require_auth=config.require_auth)
        self.lcp = Lcp(lcp_config, rng)
        self.ipcp = Ipcp(config.ipcp)
        self.ipv6cp = Ipv6cp(config.ipv6cp, rng)
        self._ncps: dict[int, Automaton] = {}
        if config.ipv4:
            self._ncps[PppProtocol.IPCP] = self.ipcp
        if config.ipv6:
            self._ncps[PppProtocol.IPV6CP] = self.ipv6cp
        self.phase = Phase.DEAD
        self._was_open = False
        self.deframer = Deframer(mru=max(lcp_config.mru, 1500))
        #: (protocol, ours): ours is True for the machine that authenticates us
        self._auth: dict[tuple[int, bool], AuthMachine] = {}
        self._auth_pending = 0
        self.peer_name = ""
        self._events: deque[PppEvent] = deque()
        self._out: list[bytes] = []
        self._open_network: set[int] = set()
        self._finished_ncps: set[int] = set()
        self._pool_address: bytes | None = None
        self._tx_accm = _DEFAULT_ACCM
        self._tx_headers: dict[int, bytes] = {}
        self._set_tx_options(acfc=False, pfc=False)
        self.stats: dict[str, int] = {
            "rx_frames": 0,
            "tx_frames": 0,
            "rx_malformed": 0,
            "rx_discarded": 0,
            "rx_unknown_protocol": 0,
            "tx_discarded": 0,
        }

    # -- commands ---------------------------------------------------------------------------
    def open(self, now: float) -> None:
        """Start the link: the serial line is up and we want PPP on it."""
        if self.phase in (Phase.DEAD, Phase.TERMINATE):
            self.phase = Phase.ESTABLISH
        self._was_open = False
        if self.lcp.state in (State.CLOSED, State.STOPPED):
            self.lcp.down(now)  # back to Initial/Starting: a new link on the same line
        self.lcp.open(now)
        self.lcp.up(now)
        self._process(now)

    def close(self, now: float, reason: str = "closed by the application") -> None:
        """Terminate the link gracefully (LCP Terminate-Request; the network protocols go
        down with LCP, RFC 1661 §3.7)."""
        self.lcp.close(now, reason)
        self._process(now)

    def lower_down(self, now: float, reason: str = "the serial line went down") -> None:
        """The serial line is gone (hang-up): no goodbyes."""
        # Down first (Opened -> Starting, tld), then Close (Starting -> Initial, tlf):
        # the link finishes with the reason (RFC 1661 §4.1).
        was_dead = self.phase is Phase.DEAD
        self.lcp.down(now)
        self.lcp.close(now, reason)
        if was_dead:
            while self.lcp.next_event() is not None:
                pass  # Stopped -> Starting -> Initial: the end was reported already
        self._process(now)
        if self.phase is not Phase.DEAD:
            # Down in Closing has no tlf (RFC 1661 §4.1), yet the link is dead all the same.
            self.phase = Phase.DEAD
            self._events.append(LinkTerminated(reason))

    # -- input --------------------------------------------------------------------------------
    def receive_data(self, data: Buffer, now: float) -> list[tuple[int, memoryview]]:
        """Bytes from the line; returns the (protocol, packet) network-layer packets
        (IPv4 0x0021, IPv6 0x0057) they completed."""
        packets: list[tuple[int, memoryview]] = []
        stats = self.stats
        # frame by frame: the LCP frame that opens the link changes the receive ACCM for
        # the frames behind it in the same read (RFC 1662 §7.1)
        for frame in self.deframer.iter_frames(data):
            stats["rx_frames"] += 1
            try:
                header, info = PppHeader.parse(frame)
            except DecodeError as exc:
                stats["rx_malformed"] += 1
                log.debug("PPP: malformed frame dropped: %s", exc)
                continue
            protocol = header.protocol
            ncp = _NETWORK_FOR.get(protocol)
            if ncp is not None:
                if ncp in self._open_network:
                    packets.append((protocol, info))
                elif self.lcp.is_open and ncp not in self._ncps:
                    self.lcp.protocol_reject(protocol, info)
                    self._process(now)
                else:
                    stats["rx_discarded"] += 1
                continue
            # Each control frame is fully processed before the next: its events may
            # change the phase the next frame is judged in.
            self._control_frame(protocol, info, now)
            self._process(now)
        return packets

    def _control_frame(self, protocol: int, info: memoryview, now: float) -> None:
        if protocol == PppProtocol.LCP:
            self.lcp.receive(info, now)
            return
        phase = self.phase
        if protocol in (PppProtocol.PAP, PppProtocol.CHAP):
            machine = self._auth_for(protocol, info)
            if machine is not None and phase in (Phase.AUTHENTICATE, Phase.NETWORK):
                machine.receive(info, now)
            elif self.lcp.is_open and not any(key[0] == protocol for key in self._auth):
                self.lcp.protocol_reject(protocol, info)
            else:
                self.stats["rx_discarded"] += 1
            return
        ncp = self._ncps.get(protocol)
        if ncp is not None:
            if phase == Phase.NETWORK:
                ncp.receive(info, now)
            else:
                self.stats["rx_discarded"] += 1  # RFC 1661 §3.5, §3.6
            return
        if self.lcp.is_open:
            self.stats["rx_unknown_protocol"] += 1
            self.lcp.protocol_reject(protocol, info)
        else:
            self.stats["rx_discarded"] += 1

    def _auth_for(self, protocol: int, info: memoryview) -> AuthMachine | None:
        """The machine a PAP/CHAP packet is for: both sides may authenticate each other
        with one protocol, and the code tells the roles apart (RFC 1334 §2.2, RFC 1994
        §4): requests and responses go to the authenticator, the rest to our peer side."""
        try:
            code = ControlPacket.parse(info)[0].code
        except DecodeError:
            code = 0
        to_authenticator = code == (1 if protocol == PppProtocol.PAP else 2)
        return self._auth.get((protocol, not to_authenticator))

    # -- output -------------------------------------------------------------------------------
    def frame_packet(self, protocol: int, packet: Buffer) -> bytes | None:
        """The bytes to write for an IPv4/IPv6 packet, or None when its network control
        protocol is not open (the packet is dropped and counted)."""
        header = self._tx_headers.get(protocol)
        if header is None or _NETWORK_FOR[protocol] not in self._open_network:
            self.stats["tx_discarded"] += 1
            return None
        self.stats["tx_frames"] += 1
        return encode_frame(header + bytes(packet), accm=self._tx_accm)

    def data_to_send(self) -> bytes:
        """Framed control packets waiting to go out."""
        out, self._out = self._out, []
        return b"".join(out)

    def _set_tx_options(self, *, acfc: bool, pfc: bool) -> None:
        self._tx_headers = {
            p: PppHeader.build(p, b"", acfc=acfc, pfc=pfc)
            for p in (PppProtocol.IPV4, PppProtocol.IPV6)
        }
        self._acfc = acfc
        self._pfc = pfc

    def _emit(self, protocol: int, packets: list[bytes]) -> None:
        for info in packets:
            self.stats["tx_frames"] += 1
            if protocol == PppProtocol.LCP:
                frame = encode_frame(PppHeader.build(protocol, info), accm=_DEFAULT_ACCM)
            else:
                payload = PppHeader.build(protocol, info, acfc=self._acfc, pfc=self._pfc)
                frame = encode_frame(payload, accm=self._tx_accm)
            self._out.append(frame)

    # -- timers and events --------------------------------------------------------------------
    def get_timer(self) -> float | None:
        deadlines = [self.lcp.get_timer()]
        deadlines += [m.get_timer() for m in self._auth.values()]
        deadlines += [n.get_timer() for n in self._ncps.values()]
        times = [d for d in deadlines if d is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        self.lcp.handle_timer(now)
        for machine in list(self._auth.values()):
            machine.handle_timer(now)
        for ncp in self._ncps.values():
            ncp.handle_timer(now)
        self._process(now)

    def next_event(self) -> PppEvent | None:
        return self._events.popleft() if self._events else None

    @property
    def mtu(self) -> int:
        """The largest packet the peer takes (its MRU)."""
        return self.lcp.peer.mru

    @property
    def is_up(self) -> bool:
        return bool(self._open_network)

    def _process(self, now: float) -> None:
        """Drain the machines' events into phase changes until nothing moves, then frame
        their output."""
        busy = True
        while busy:
            busy = False
            while (event := self.lcp.next_event()) is not None:
                busy = True
                self._lcp_event(event, now)
            for key, machine in list(self._auth.items()):
                while (auth_event := machine.next_event()) is not None:
                    busy = True
                    self._auth_event(key[1], auth_event, now)
            for ncp in self._ncps.values():
                while (ncp_event := ncp.next_event()) is not None:
                    busy = True
                    self._ncp_event(ncp, ncp_event, now)
            while self.lcp.rejects:
                busy = True
                rejected = self.lcp.rejects.popleft().protocol
                target = self._ncps.get(rejected)
                if target is not None:
                    target.rx_reject(True, now, f"peer does not speak {target.name}")
        # Authentication answers first: an authenticator's Nak or Failure goes out before
        # the Terminate-Request that follows it (RFC 1334 §2.2.2, RFC 1994 §4.2).
        for (protocol, _), machine in self._auth.items():
            self._emit(protocol, machine.packets_to_send())
        self._emit(PppProtocol.LCP, self.lcp.packets_to_send())
        for ncp in self._ncps.values():
            self._emit(ncp.protocol, ncp.packets_to_send())

    def _lcp_event(self, event: LayerEvent, now: float) -> None:
        if isinstance(event, LayerUp):
            self._was_open = True
            peer = self.lcp.peer
            self._tx_accm = peer.accm
            self._set_tx_options(acfc=peer.acfc, pfc=peer.pfc)
            self.deframer.accm = self.lcp.local.accm
            self._events.append(LinkEstablished(peer.mru))
            self._start_authentication(now)
        elif isinstance(event, LayerDown):
            self.phase = Phase.TERMINATE if self.lcp.state == State.CLOSING else Phase.ESTABLISH
            self._leave_network(now)
            self._tx_accm = _DEFAULT_ACCM
            self._set_tx_options(acfc=False, pfc=False)
            self.deframer.accm = _DEFAULT_ACCM
        elif isinstance(event, LayerFinished):
            if self.config.passive and not self._was_open and self.lcp.state == State.STOPPED:
                return  # nobody answered yet: Stopped still takes the peer's request
            self.phase = Phase.DEAD
            self._leave_network(now)
            self._events.append(LinkTerminated(event.reason))

    def _start_authentication(self, now: float) -> None:
        self.phase = Phase.AUTHENTICATE
        cfg = self.config
        self._auth.clear()
        ours = self.lcp.peer.auth  # how the peer wants us to authenticate
        theirs = self.lcp.local.auth  # how we want the peer to authenticate
        if ours is AuthProtocol.PAP:
            self._auth[PppProtocol.PAP, True] = PapPeer(cfg.user, cfg.password)
        elif ours is AuthProtocol.CHAP:
            self._auth[PppProtocol.CHAP, True] = ChapPeer(cfg.user, cfg.password)
        if theirs is AuthProtocol.PAP:
            self._auth[PppProtocol.PAP, False] = PapAuthenticator(self._check_password)
        elif theirs is AuthProtocol.CHAP:
            self._auth[PppProtocol.CHAP, False] = ChapAuthenticator(
                self._secret, self._rng, name=cfg.name, rechallenge=cfg.rechallenge
            )
        self._auth_pending = len(self._auth)
        for machine in self._auth.values():
            machine.start(now)
        if not self._auth:
            self._enter_network(now)

    def _secret(self, name: str) -> bytes | None:
        secrets = self.config.secrets
        if secrets is None:
            return None
        value = secrets.get(name) if isinstance(secrets, Mapping) else secrets(name)
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else value

    def _check_password(self, name: str, password: bytes) -> bool:
        secret = self._secret(name)
        return secret is not None and hmac.compare_digest(secret, bytes(password))

    def _auth_event(self, ours: bool, event: AuthSucceeded | AuthFailed, now: float) -> None:
        if isinstance(event, AuthFailed):
            self._events.append(AuthenticationFailed(event.reason, ours))
            self._stop_authentication()
            self.lcp.close(now, f"authentication failed: {event.reason}")
            return
        if not ours:
            self.peer_name = event.peer_name
        if self.phase != Phase.AUTHENTICATE:
            return  # a CHAP re-challenge answered
        self._auth_pending -= 1
        if self._auth_pending <= 0:
            self._events.append(Authenticated(self.peer_name))
            self._enter_network(now)

    def _enter_network(self, now: float) -> None:
        self.phase = Phase.NETWORK
        pool = self.config.pool
        if pool is not None and self.config.ipv4:
            self._pool_address = pool.allocate()
            self.ipcp.address_for_peer = self._pool_address
        self._finished_ncps.clear()
        if not self._ncps:
            self.lcp.close(now, "no network protocol configured")
            return
        for ncp in self._ncps.values():
            ncp.open(now)
            ncp.up(now)

    def _stop_authentication(self) -> None:
        for (protocol, _), machine in self._auth.items():
            self._emit(protocol, machine.packets_to_send())  # a last Nak or Failure
            machine.stop()

    def _leave_network(self, now: float) -> None:
        self._stop_authentication()
        self._auth.clear()
        for ncp in self._ncps.values():
            if ncp.state != State.INITIAL:
                ncp.down(now)
                ncp.close(now)
            while (event := ncp.next_event()) is not None:
                self._ncp_event(ncp, event, now)
        self._open_network.clear()
        if self._pool_address is not None and self.config.pool is not None:
            self.config.pool.release(self._pool_address)
            self._pool_address = None

    def _ncp_event(self, ncp: Automaton, event: LayerEvent, now: float) -> None:
        if isinstance(event, LayerUp):
            self._open_network.add(ncp.protocol)
            if ncp is self.ipcp:
                ipcp = self.ipcp
                self._events.append(
                    Ipv4Up(ipcp.local_address, ipcp.peer_address, tuple(ipcp.dns_servers))
                )
            else:
                v6 = self.ipv6cp
                assert v6.local_iid is not None
                self._events.append(Ipv6Up(v6.local_iid, v6.peer_iid))
        elif isinstance(event, LayerDown):
            self._open_network.discard(ncp.protocol)
            self._events.append(Ipv4Down() if ncp is self.ipcp else Ipv6Down())
        elif isinstance(event, LayerFinished) and self.phase == Phase.NETWORK:
            self._finished_ncps.add(ncp.protocol)
            log.debug("PPP: %s finished: %s", ncp.name, event.reason)
            if self._finished_ncps >= set(self._ncps):
                self.lcp.close(now, f"no network protocol left ({event.reason})")
