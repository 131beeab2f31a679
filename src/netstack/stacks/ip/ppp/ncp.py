"""The network control protocols: IPCP (RFC 1332, RFC 1877) and IPV6CP (RFC 5072).

Both are :class:`~netstack.stacks.ip.ppp.fsm.Automaton` subclasses that run once LCP is
open (and authentication done). What they agree on is read from their attributes after
:class:`~netstack.stacks.ip.ppp.fsm.LayerUp`.

IPCP, as a client (``IpcpConfig()``): asks for IP-Address 0.0.0.0 and takes the address the
server Naks back; asks for the primary and secondary DNS servers the same way (RFC 1877
§1.1, §1.3) and stops asking for any the server Rejects; Rejects IP-Compression-Protocol
(no Van Jacobson compression), the deprecated IP-Addresses option and the NBNS options;
Rejects a peer's IP-Address of 0.0.0.0 when it has no address to give it (the peer then
goes without one: the link is point-to-point). As a server (``IpcpConfig(local=…,
peer=…, dns=…)``): Naks the peer to ``peer`` and the DNS servers to ``dns``.

IPV6CP negotiates the 64-bit Interface-Identifiers the two link-local addresses are
formed from (RFC 5072 §4.1, §5): ours is random (from the given generator) unless
configured; a peer proposing zero, or our own identifier, is Nak'ed with a fresh one.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

from netstack.stacks.ip.ppp.fsm import Automaton, FsmConfig, Options, Verdict
from netstack.wire.ppp import PppProtocol

_ANY = b"\0\0\0\0"
_ZERO_IID = b"\0" * 8


class IpcpOption(enum.IntEnum):
    IP_ADDRESSES = 1  # deprecated (RFC 1332 §3.1)
    IP_COMPRESSION = 2
    IP_ADDRESS = 3
    PRIMARY_DNS = 129  # RFC 1877
    PRIMARY_NBNS = 130
    SECONDARY_DNS = 131
    SECONDARY_NBNS = 132


class Ipv6cpOption(enum.IntEnum):
    INTERFACE_IDENTIFIER = 1
    IPV6_COMPRESSION = 2


_DNS_OPTIONS = (IpcpOption.PRIMARY_DNS, IpcpOption.SECONDARY_DNS)


@dataclass(slots=True)
class IpcpConfig:
    """``local``: our address (None: ask the peer for one); ``peer``: the address to give
    the peer (the server's pool address; None: take the peer's own); ``dns``: servers to
    hand out (server); ``request_dns``: ask the peer for servers (client)."""

    local: bytes | None = None
    peer: bytes | None = None
    dns: tuple[bytes, ...] = ()
    request_dns: bool = True
    fsm: FsmConfig = field(default_factory=FsmConfig)


class Ipcp(Automaton):
    """IPCP: addresses and DNS servers (see the module docstring)."""

    protocol = PppProtocol.IPCP
    name = "IPCP"

    def __init__(self, config: IpcpConfig) -> None:
        super().__init__(config.fsm)
        self.ipcp_config = config
        self.local_address: bytes | None = None
        self.peer_address: bytes | None = None
        self.dns_servers: list[bytes] = []
        #: the address we give the peer (a server's: from its configuration or pool)
        self.address_for_peer = config.peer
        self._reset_wishes()

    def _reset_wishes(self) -> None:
        cfg = self.ipcp_config
        self._want_address: bytes | None = cfg.local or _ANY
        self._want_dns: dict[int, bytes] = (
            {kind: _ANY for kind in _DNS_OPTIONS} if cfg.request_dns and not cfg.dns else {}
        )

    def this_layer_started(self) -> None:
        self._reset_wishes()

    # -- our request -------------------------------------------------------------------------
    def request_options(self) -> Options:
        options: Options = []
        if self._want_address is not None:
            options.append((IpcpOption.IP_ADDRESS, self._want_address))
        options.extend(self._want_dns.items())
        return options

    def apply_ack(self, options: Options) -> None:
        values = dict(options)
        # A rejected address of our own is still ours, just not negotiated (RFC 1332 §3.3).
        address = values.get(IpcpOption.IP_ADDRESS, self._want_address or self.ipcp_config.local)
        self.local_address = address if address and address != _ANY else None
        self.dns_servers = [values[k] for k in _DNS_OPTIONS if values.get(k, _ANY) != _ANY]

    def apply_nak(self, options: Options) -> bool:
        for kind, value in options:
            if len(value) != 4:
                continue
            if kind == IpcpOption.IP_ADDRESS and value != _ANY:
                self._want_address = value
            elif kind in self._want_dns:
                self._want_dns[kind] = value
        return True

    def apply_reject(self, options: Options) -> bool:
        for kind, _ in options:
            if kind == IpcpOption.IP_ADDRESS:
                if self._want_address in (None, _ANY):
                    self._finish_reason = "the peer will not assign us an IPv4 address"
                    return False
                self._want_address = None  # keep ours without negotiating it (RFC 1332 §3.3)
            else:
                self._want_dns.pop(kind, None)
        return True

    # -- the peer's request ------------------------------------------------------------------
    def check_option(self, kind: int, value: bytes) -> tuple[Verdict, bytes]:
        cfg = self.ipcp_config
        if kind == IpcpOption.IP_ADDRESS and len(value) == 4:
            given = self.address_for_peer
            if given is not None:
                return (Verdict.ACK, value) if value == given else (Verdict.NAK, given)
            if value == _ANY:
                return Verdict.REJECT, value  # we have no address to give the peer
            return Verdict.ACK, value
        if kind in _DNS_OPTIONS and len(value) == 4 and cfg.dns:
            index = 0 if kind == IpcpOption.PRIMARY_DNS else 1
            if index >= len(cfg.dns):
                return Verdict.REJECT, value
            wanted = cfg.dns[index]
            return (Verdict.ACK, value) if value == wanted else (Verdict.NAK, wanted)
        return Verdict.REJECT, value

    def missing_options(self, present: set[int]) -> Options:
        peer = self.address_for_peer
        if peer is not None and IpcpOption.IP_ADDRESS not in present:
            return [(IpcpOption.IP_ADDRESS, peer)]
        return []

    def accept_request(self, options: Options) -> None:
        values = dict(options)
        self.peer_address = values.get(IpcpOption.IP_ADDRESS, self.address_for_peer)


@dataclass(slots=True)
class Ipv6cpConfig:
    """``interface_id``: our 8-octet identifier (None: a random one)."""

    interface_id: bytes | None = None
    fsm: FsmConfig = field(default_factory=FsmConfig)


class Ipv6cp(Automaton):
    """IPV6CP: interface identifiers for the link-local addresses (RFC 5072)."""

    protocol = PppProtocol.IPV6CP
    name = "IPV6CP"

    def __init__(self, config: Ipv6cpConfig, rng: random.Random) -> None:
        super().__init__(config.fsm)
        self.ipv6cp_config = config
        self._rng = rng
        self.local_iid: bytes | None = None
        self.peer_iid: bytes | None = None
        self._want_iid = b""
        self._want_iid = config.interface_id or self._random_iid()
        self._ask_iid = True

    def _random_iid(self, avoid: bytes = _ZERO_IID) -> bytes:
        while True:
            # RFC 5072 §4.1: a random identifier; clear the "u" bit (RFC 4291 App. A).
            iid = bytearray(self._rng.getrandbits(64).to_bytes(8, "big"))
            iid[0] &= 0xFD
            value = bytes(iid)
            if value not in (_ZERO_IID, avoid, self._want_iid):
                return value

    def request_options(self) -> Options:
        if not self._ask_iid:
            return []
        return [(Ipv6cpOption.INTERFACE_IDENTIFIER, self._want_iid)]

    def apply_ack(self, options: Options) -> None:
        self.local_iid = dict(options).get(Ipv6cpOption.INTERFACE_IDENTIFIER, self._want_iid)

    def apply_nak(self, options: Options) -> bool:
        for kind, value in options:
            if kind == Ipv6cpOption.INTERFACE_IDENTIFIER and len(value) == 8:
                # RFC 5072 §4.1: take the suggestion unless it is unusable.
                ok = value != _ZERO_IID and value != self.peer_iid
                self._want_iid = value if ok else self._random_iid()
        return True

    def apply_reject(self, options: Options) -> bool:
        # We keep our identifier; the peer just does not negotiate it, so the next request
        # leaves it out (RFC 1661 §5.4).
        if any(kind == Ipv6cpOption.INTERFACE_IDENTIFIER for kind, _ in options):
            self._ask_iid = False
        return True

    def check_option(self, kind: int, value: bytes) -> tuple[Verdict, bytes]:
        if kind == Ipv6cpOption.INTERFACE_IDENTIFIER and len(value) == 8:
            if value == _ZERO_IID or value == self._want_iid:
                return Verdict.NAK, self._random_iid(avoid=value)
            return Verdict.ACK, value
        return Verdict.REJECT, value

    def accept_request(self, options: Options) -> None:
        self.peer_iid = dict(options).get(Ipv6cpOption.INTERFACE_IDENTIFIER)

    def this_layer_started(self) -> None:
        self._ask_iid = True

    def this_layer_up(self) -> None:
        if self.local_iid is None:
            self.local_iid = self._want_iid
