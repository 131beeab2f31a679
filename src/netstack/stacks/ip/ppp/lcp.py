"""LCP: the Link Control Protocol (RFC 1661 §5-6, RFC 1662 §7, RFC 1994 §3).

:class:`Lcp` is the :class:`~netstack.stacks.ip.ppp.fsm.Automaton` for protocol 0xC021.
It negotiates, in each direction separately:

- Maximum-Receive-Unit: what each side may send the other (our transmit MTU is the
  peer's MRU, 1500 when it does not say);
- Async-Control-Character-Map: the control characters each side must escape towards the
  other (RFC 1662 §7.1; we ask for 0 — we can take every octet raw);
- Authentication-Protocol: PAP (0xC023) or CHAP with MD5 (0xC223, algorithm 5) — in our
  request when we require the peer to authenticate, in the peer's when it requires us to;
- Magic-Number, with loopback detection (§6.4): a request or an Echo-Request carrying our
  own magic number is our own packet coming back; after ``max_failure`` of those the
  link is closed as looped back;
- Protocol-Field-Compression and Address-and-Control-Field-Compression (§6.5, §6.6).

Beyond configuration it answers Echo-Requests (``ser``), sends its own as a keepalive
every ``echo_interval`` seconds while open and closes the link after ``echo_failures``
unanswered ones, and reports Protocol-Rejects for the connection to pass on to the
rejected network control protocol.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from dataclasses import dataclass, field

from netstack.stacks.ip.ppp.fsm import Automaton, FsmConfig, Options, State, Verdict
from netstack.wire import Buffer, DecodeError
from netstack.wire.ppp import ControlCode, LcpOption, PppProtocol

DEFAULT_MRU = 1500
#: Smallest MRU we accept from a peer (RFC 791's 68 is legal but useless; IPv4 needs 576
#: reassembled, and we fragment, so anything from 128 works).
MIN_MRU = 128
_CHAP_MD5 = 5


class AuthProtocol(enum.Enum):
    """How one side authenticates (the LCP Authentication-Protocol option's value)."""

    PAP = "pap"
    CHAP = "chap"

    @property
    def option(self) -> bytes:
        if self is AuthProtocol.PAP:
            return PppProtocol.PAP.to_bytes(2, "big")
        return PppProtocol.CHAP.to_bytes(2, "big") + bytes((_CHAP_MD5,))

    @classmethod
    def from_option(cls, value: bytes) -> AuthProtocol | None:
        """The protocol an option value names, or None if we do not implement it."""
        if value == cls.PAP.option:
            return cls.PAP
        if value == cls.CHAP.option:
            return cls.CHAP
        return None


@dataclass(slots=True)
class LcpConfig:
    """What we ask for and accept. ``require_auth`` makes us the authenticator;
    ``auth_methods`` are what we can answer with when the peer requires authentication
    (empty: we have no credentials and Reject the option)."""

    mru: int = DEFAULT_MRU
    accm: int = 0x00000000
    magic: bool = True
    pfc: bool = True
    acfc: bool = True
    require_auth: AuthProtocol | None = None
    auth_methods: tuple[AuthProtocol, ...] = (AuthProtocol.CHAP, AuthProtocol.PAP)
    echo_interval: float = 30.0
    echo_failures: int = 4
    fsm: FsmConfig = field(default_factory=FsmConfig)


@dataclass(slots=True)
class LinkOptions:
    """The options in force for one direction of the link."""

    mru: int = DEFAULT_MRU
    accm: int = 0xFFFFFFFF
    magic: int = 0
    pfc: bool = False
    acfc: bool = False
    auth: AuthProtocol | None = None

    @classmethod
    def from_options(cls, options: Options) -> LinkOptions:
        """The options of an acceptable Configure-Request (defaults for those absent)."""
        out = cls()
        for kind, value in options:
            if kind == LcpOption.MRU:
                out.mru = int.from_bytes(value, "big")
            elif kind == LcpOption.ACCM:
                out.accm = int.from_bytes(value, "big")
            elif kind == LcpOption.MAGIC_NUMBER:
                out.magic = int.from_bytes(value, "big")
            elif kind == LcpOption.PFC:
                out.pfc = True
            elif kind == LcpOption.ACFC:
                out.acfc = True
            elif kind == LcpOption.AUTH_PROTOCOL:
                out.auth = AuthProtocol.from_option(value)
        return out


@dataclass(frozen=True, slots=True)
class ProtocolRejected:
    """The peer sent an LCP Protocol-Reject for ``protocol``."""

    protocol: int


class Lcp(Automaton):
    """The LCP automaton with its options, echo keepalive and loopback detection.

    ``local`` holds what the peer acked of our request (what we receive: our MRU and
    ACCM, whether the peer may compress towards us, which protocol the peer must
    authenticate with); ``peer`` holds what we acked of the peer's (our transmit MTU and
    ACCM, whether we compress, which protocol we authenticate ourselves with).
    """

    protocol = PppProtocol.LCP
    name = "LCP"
    extra_codes = frozenset(
        {
            ControlCode.PROTOCOL_REJECT,
            ControlCode.ECHO_REQUEST,
            ControlCode.ECHO_REPLY,
            ControlCode.DISCARD_REQUEST,
        }
    )

    def __init__(self, config: LcpConfig, rng: random.Random) -> None:
        super().__init__(config.fsm)
        self.lcp_config = config
        self._rng = rng
        self.local = LinkOptions()
        self.peer = LinkOptions()
        self.rejects: deque[ProtocolRejected] = deque(maxlen=16)
        self.looped_back = False
        self._loop_hits = 0
        self._echo_deadline: float | None = None
        self._echo_outstanding = 0
        self._echo_data = b""
        self._reply_due = False
        self._reset_wishes()
        self.stats.update(echo_requests_sent=0, echo_replies_received=0, protocol_rejects_rx=0)

    def _reset_wishes(self) -> None:
        cfg = self.lcp_config
        self._want_mru = cfg.mru if cfg.mru != DEFAULT_MRU else None
        self._want_accm: int | None = cfg.accm if cfg.accm != 0xFFFFFFFF else None
        self._want_magic = self._new_magic() if cfg.magic else None
        self._want_pfc = cfg.pfc
        self._want_acfc = cfg.acfc
        self._want_auth = cfg.require_auth

    def _new_magic(self) -> int:
        return self._rng.randrange(1, 1 << 32)

    # -- our request -------------------------------------------------------------------------
    def request_options(self) -> Options:
        options: Options = []
        if self._want_mru is not None:
            options.append((LcpOption.MRU, self._want_mru.to_bytes(2, "big")))
        if self._want_accm is not None:
            options.append((LcpOption.ACCM, self._want_accm.to_bytes(4, "big")))
        if self._want_auth is not None:
            options.append((LcpOption.AUTH_PROTOCOL, self._want_auth.option))
        if self._want_magic is not None:
            options.append((LcpOption.MAGIC_NUMBER, self._want_magic.to_bytes(4, "big")))
        if self._want_pfc:
            options.append((LcpOption.PFC, b""))
        if self._want_acfc:
            options.append((LcpOption.ACFC, b""))
        return options

    def apply_ack(self, options: Options) -> None:
        self.local = LinkOptions.from_options(options)

    def apply_nak(self, options: Options) -> bool:
        for kind, value in options:
            if kind == LcpOption.MRU and len(value) == 2:
                mru = int.from_bytes(value, "big")
                if mru >= MIN_MRU:
                    self._want_mru = mru
            elif kind == LcpOption.ACCM and len(value) == 4:
                # RFC 1662 §7.1: escape what the peer needs escaped as well as ours.
                self._want_accm = (self._want_accm or 0) | int.from_bytes(value, "big")
            elif kind == LcpOption.MAGIC_NUMBER and self._want_magic is not None:
                # RFC 1661 §6.4: the peer saw our magic as its own; pick another.
                self._note_loop()
                self._want_magic = self._new_magic()
            elif kind == LcpOption.AUTH_PROTOCOL and self._want_auth is not None:
                suggested = AuthProtocol.from_option(value)
                if suggested is None or suggested is self._want_auth:
                    self._finish_reason = "peer will not authenticate in a way we accept"
                    return False
                self._want_auth = suggested
        return not self.looped_back

    def apply_reject(self, options: Options) -> bool:
        for kind, _ in options:
            if kind == LcpOption.MRU:
                self._want_mru = None
            elif kind == LcpOption.ACCM:
                self._want_accm = None
            elif kind == LcpOption.MAGIC_NUMBER:
                self._want_magic = None
            elif kind == LcpOption.PFC:
                self._want_pfc = False
            elif kind == LcpOption.ACFC:
                self._want_acfc = False
            elif kind == LcpOption.AUTH_PROTOCOL:
                self._finish_reason = "peer refused to authenticate"
                return False
        return True

    # -- the peer's request ------------------------------------------------------------------
    def check_option(self, kind: int, value: bytes) -> tuple[Verdict, bytes]:
        size = len(value)
        if kind == LcpOption.MRU and size == 2:
            if int.from_bytes(value, "big") < MIN_MRU:
                return Verdict.NAK, MIN_MRU.to_bytes(2, "big")
            return Verdict.ACK, value
        if kind == LcpOption.ACCM and size == 4:
            return Verdict.ACK, value
        if kind == LcpOption.AUTH_PROTOCOL and size >= 2:
            methods = self.lcp_config.auth_methods
            if not methods:
                return Verdict.REJECT, value
            asked = AuthProtocol.from_option(value)
            if asked in methods:
                return Verdict.ACK, value
            return Verdict.NAK, methods[0].option
        if kind == LcpOption.MAGIC_NUMBER and size == 4:
            magic = int.from_bytes(value, "big")
            if magic == 0:
                return Verdict.NAK, self._new_magic().to_bytes(4, "big")
            if self._want_magic is not None and magic == self._want_magic:
                # RFC 1661 §6.4: our own magic: looped back, or a clash of random numbers.
                self._note_loop()
                return Verdict.NAK, self._new_magic().to_bytes(4, "big")
            return Verdict.ACK, value
        if kind in (LcpOption.PFC, LcpOption.ACFC) and size == 0:
            return Verdict.ACK, value
        return Verdict.REJECT, value

    def accept_request(self, options: Options) -> None:
        self.peer = LinkOptions.from_options(options)
        self._loop_hits = 0

    def _note_loop(self) -> None:
        self._loop_hits += 1
        if self._loop_hits >= self.config.max_failure:
            self.looped_back = True
            self._finish_reason = "the link is looped back (our magic number came back)"

    # -- echo, discard and protocol reject ------------------------------------------------------
    def receive_extra(self, code: int, identifier: int, data: memoryview, now: float) -> None:
        if code == ControlCode.PROTOCOL_REJECT:
            if len(data) < 2:
                raise DecodeError("Protocol-Reject without a protocol")
            if self.state != State.OPENED:
                return  # RFC 1661 §5.7: only meaningful in Opened
            self.stats["protocol_rejects_rx"] += 1
            protocol = int.from_bytes(data[:2], "big")
            self.rejects.append(ProtocolRejected(protocol))
            self.rx_reject(protocol == PppProtocol.LCP, now, "peer rejected LCP")
            return
        if len(data) < 4:
            raise DecodeError(f"LCP code {code} without a magic number")
        magic = int.from_bytes(data[:4], "big")
        if code == ControlCode.ECHO_REQUEST and self.state == State.OPENED:
            if self.local.magic and magic == self.local.magic:
                self._note_loop()
                if self.looped_back:
                    self.close(now, self._finish_reason)
                return
            self._echo_data = bytes(data[4:])
            self._reply_due = True
        elif code == ControlCode.ECHO_REPLY:
            if self.local.magic and magic == self.local.magic:
                return  # our own request looped back
            self.stats["echo_replies_received"] += 1
            self._echo_outstanding = 0
        self.rx_echo(now)

    def send_echo_reply(self) -> None:
        # RXR stands for Echo-Request, Echo-Reply and Discard-Request alike (RFC 1661
        # §4.3); only a request is answered.
        if not self._reply_due:
            return
        self._reply_due = False
        data = self.local.magic.to_bytes(4, "big") + self._echo_data
        self.send_packet(ControlCode.ECHO_REPLY, self.last_received_id, data)

    def protocol_reject(self, protocol: int, packet: Buffer) -> None:
        """Send a Protocol-Reject for a frame of an unknown or unused protocol (RFC 1661
        §5.7; only in Opened), truncated to the peer's MRU."""
        if self.state != State.OPENED:
            return
        data = protocol.to_bytes(2, "big") + bytes(packet[: max(0, self.peer.mru - 6)])
        self.send_packet(ControlCode.PROTOCOL_REJECT, self.new_identifier(), data)

    # -- keepalive --------------------------------------------------------------------------------
    def this_layer_up(self) -> None:
        self._echo_outstanding = 0
        if self.lcp_config.echo_interval > 0:
            self._echo_deadline = self._now + self.lcp_config.echo_interval

    def this_layer_down(self) -> None:
        self._echo_deadline = None

    def this_layer_started(self) -> None:
        self._reset_wishes()
        self.looped_back = False
        self._loop_hits = 0

    def get_timer(self) -> float | None:
        restart = super().get_timer()
        echo = self._echo_deadline if self.state == State.OPENED else None
        if restart is None:
            return echo
        return restart if echo is None else min(restart, echo)

    def handle_timer(self, now: float) -> None:
        super().handle_timer(now)
        deadline = self._echo_deadline
        if deadline is None or now < deadline or self.state != State.OPENED:
            return
        cfg = self.lcp_config
        if self._echo_outstanding >= cfg.echo_failures:
            self._echo_deadline = None
            self.close(now, f"peer did not answer {cfg.echo_failures} LCP Echo-Requests")
            return
        self._echo_outstanding += 1
        self.stats["echo_requests_sent"] += 1
        self.send_packet(
            ControlCode.ECHO_REQUEST, self.new_identifier(), self.local.magic.to_bytes(4, "big")
        )
        self._echo_deadline = now + cfg.echo_interval
