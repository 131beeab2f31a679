"""The option negotiation automaton of RFC 1661 §4, shared by LCP, IPCP and IPV6CP.

One :class:`Automaton` per control protocol. It is driven by the sixteen events of
RFC 1661 §4.1 — ``Up``/``Down`` from the layer below, ``Open``/``Close`` from
administration, ``TO+``/``TO-`` from its restart timer and the ten receive events — and
answers with the actions of §4.2 through the :data:`TRANSITIONS` table, which is the
state transition table of §4.1 written out row by row. An event with no entry is an
impossible event for that state (the table's ``-``): it is counted and ignored.

A subclass says what the options mean (:meth:`Automaton.request_options`,
:meth:`Automaton.check_option`, the Ack/Nak/Reject handlers) and may handle extra codes
(LCP's Protocol-Reject, Echo and Discard). The automaton never reads a clock: every input
carries ``now``; :meth:`Automaton.get_timer` is the restart timer's deadline.

Output is control packets (the PPP information field, code through data) drained by
:meth:`Automaton.packets_to_send`, and layer events (:class:`LayerUp`, :class:`LayerDown`,
:class:`LayerStarted`, :class:`LayerFinished`) drained by :meth:`Automaton.next_event` —
the ``tlu``/``tld``/``tls``/``tlf`` actions, which the connection turns into phase
changes.

Choices the RFC leaves open:

- A Configure-Request retransmitted on ``TO+`` keeps its identifier and options (§5.1
  allows it); every other request gets a new identifier.
- The restart option (``3r``, ``5r``, ``9r``: Open in Stopped, Stopping or Opened) is not
  implemented: the automaton stays where it is.
- After ``max_failure`` Configure-Naks in a row without an Ack, options we would Nak are
  Rejected instead (§4.6 Max-Failure).
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass

from netstack.wire import Buffer, DecodeError
from netstack.wire.ppp import ControlCode, ControlPacket, build_options, parse_options

log = logging.getLogger(__name__)


class State(enum.IntEnum):
    """RFC 1661 §4.2 states."""

    INITIAL = 0
    STARTING = 1
    CLOSED = 2
    STOPPED = 3
    CLOSING = 4
    STOPPING = 5
    REQ_SENT = 6
    ACK_RCVD = 7
    ACK_SENT = 8
    OPENED = 9


class Event(enum.Enum):
    """RFC 1661 §4.3 events."""

    UP = "Up"
    DOWN = "Down"
    OPEN = "Open"
    CLOSE = "Close"
    TO_PLUS = "TO+"
    TO_MINUS = "TO-"
    RCR_PLUS = "RCR+"
    RCR_MINUS = "RCR-"
    RCA = "RCA"
    RCN = "RCN"
    RTR = "RTR"
    RTA = "RTA"
    RUC = "RUC"
    RXJ_PLUS = "RXJ+"
    RXJ_MINUS = "RXJ-"
    RXR = "RXR"


class Action(enum.Enum):
    """RFC 1661 §4.4 actions."""

    TLU = "this-layer-up"
    TLD = "this-layer-down"
    TLS = "this-layer-started"
    TLF = "this-layer-finished"
    IRC = "initialize-restart-count"
    ZRC = "zero-restart-count"
    SCR = "send-configure-request"
    SCA = "send-configure-ack"
    SCN = "send-configure-nak/rej"
    STR = "send-terminate-request"
    STA = "send-terminate-ack"
    SCJ = "send-code-reject"
    SER = "send-echo-reply"


S = State
E = Event
TLU, TLD, TLS, TLF = Action.TLU, Action.TLD, Action.TLS, Action.TLF
IRC, ZRC, SCR, SCA, SCN = Action.IRC, Action.ZRC, Action.SCR, Action.SCA, Action.SCN
STR, STA, SCJ, SER = Action.STR, Action.STA, Action.SCJ, Action.SER

Transition = tuple[tuple[Action, ...], State]


def _t(*actions: Action | State) -> Transition:
    *acts, state = actions
    assert isinstance(state, State)
    return tuple(a for a in acts if isinstance(a, Action)), state


#: RFC 1661 §4.1, the state transition table: (state, event) -> (actions, next state).
TRANSITIONS: dict[tuple[State, Event], Transition] = {
    # Up
    (S.INITIAL, E.UP): _t(S.CLOSED),
    (S.STARTING, E.UP): _t(IRC, SCR, S.REQ_SENT),
    # Down
    (S.CLOSED, E.DOWN): _t(S.INITIAL),
    (S.STOPPED, E.DOWN): _t(TLS, S.STARTING),
    (S.CLOSING, E.DOWN): _t(S.INITIAL),
    (S.STOPPING, E.DOWN): _t(S.STARTING),
    (S.REQ_SENT, E.DOWN): _t(S.STARTING),
    (S.ACK_RCVD, E.DOWN): _t(S.STARTING),
    (S.ACK_SENT, E.DOWN): _t(S.STARTING),
    (S.OPENED, E.DOWN): _t(TLD, S.STARTING),
    # Open
    (S.INITIAL, E.OPEN): _t(TLS, S.STARTING),
    (S.STARTING, E.OPEN): _t(S.STARTING),
    (S.CLOSED, E.OPEN): _t(IRC, SCR, S.REQ_SENT),
    (S.STOPPED, E.OPEN): _t(S.STOPPED),
    (S.CLOSING, E.OPEN): _t(S.STOPPING),
    (S.STOPPING, E.OPEN): _t(S.STOPPING),
    (S.REQ_SENT, E.OPEN): _t(S.REQ_SENT),
    (S.ACK_RCVD, E.OPEN): _t(S.ACK_RCVD),
    (S.ACK_SENT, E.OPEN): _t(S.ACK_SENT),
    (S.OPENED, E.OPEN): _t(S.OPENED),
    # Close
    (S.INITIAL, E.CLOSE): _t(S.INITIAL),
    (S.STARTING, E.CLOSE): _t(TLF, S.INITIAL),
    (S.CLOSED, E.CLOSE): _t(S.CLOSED),
    (S.STOPPED, E.CLOSE): _t(S.CLOSED),
    (S.CLOSING, E.CLOSE): _t(S.CLOSING),
    (S.STOPPING, E.CLOSE): _t(S.CLOSING),
    (S.REQ_SENT, E.CLOSE): _t(IRC, STR, S.CLOSING),
    (S.ACK_RCVD, E.CLOSE): _t(IRC, STR, S.CLOSING),
    (S.ACK_SENT, E.CLOSE): _t(IRC, STR, S.CLOSING),
    (S.OPENED, E.CLOSE): _t(TLD, IRC, STR, S.CLOSING),
    # TO+
    (S.CLOSING, E.TO_PLUS): _t(STR, S.CLOSING),
    (S.STOPPING, E.TO_PLUS): _t(STR, S.STOPPING),
    (S.REQ_SENT, E.TO_PLUS): _t(SCR, S.REQ_SENT),
    (S.ACK_RCVD, E.TO_PLUS): _t(SCR, S.REQ_SENT),
    (S.ACK_SENT, E.TO_PLUS): _t(SCR, S.ACK_SENT),
    # TO-
    (S.CLOSING, E.TO_MINUS): _t(TLF, S.CLOSED),
    (S.STOPPING, E.TO_MINUS): _t(TLF, S.STOPPED),
    (S.REQ_SENT, E.TO_MINUS): _t(TLF, S.STOPPED),
    (S.ACK_RCVD, E.TO_MINUS): _t(TLF, S.STOPPED),
    (S.ACK_SENT, E.TO_MINUS): _t(TLF, S.STOPPED),
    # RCR+
    (S.CLOSED, E.RCR_PLUS): _t(STA, S.CLOSED),
    (S.STOPPED, E.RCR_PLUS): _t(IRC, SCR, SCA, S.ACK_SENT),
    (S.CLOSING, E.RCR_PLUS): _t(S.CLOSING),
    (S.STOPPING, E.RCR_PLUS): _t(S.STOPPING),
    (S.REQ_SENT, E.RCR_PLUS): _t(SCA, S.ACK_SENT),
    (S.ACK_RCVD, E.RCR_PLUS): _t(SCA, TLU, S.OPENED),
    (S.ACK_SENT, E.RCR_PLUS): _t(SCA, S.ACK_SENT),
    (S.OPENED, E.RCR_PLUS): _t(TLD, SCR, SCA, S.ACK_SENT),
    # RCR-
    (S.CLOSED, E.RCR_MINUS): _t(STA, S.CLOSED),
    (S.STOPPED, E.RCR_MINUS): _t(IRC, SCR, SCN, S.REQ_SENT),
    (S.CLOSING, E.RCR_MINUS): _t(S.CLOSING),
    (S.STOPPING, E.RCR_MINUS): _t(S.STOPPING),
    (S.REQ_SENT, E.RCR_MINUS): _t(SCN, S.REQ_SENT),
    (S.ACK_RCVD, E.RCR_MINUS): _t(SCN, S.ACK_RCVD),
    (S.ACK_SENT, E.RCR_MINUS): _t(SCN, S.REQ_SENT),
    (S.OPENED, E.RCR_MINUS): _t(TLD, SCR, SCN, S.REQ_SENT),
    # RCA
    (S.CLOSED, E.RCA): _t(STA, S.CLOSED),
    (S.STOPPED, E.RCA): _t(STA, S.STOPPED),
    (S.CLOSING, E.RCA): _t(S.CLOSING),
    (S.STOPPING, E.RCA): _t(S.STOPPING),
    (S.REQ_SENT, E.RCA): _t(IRC, S.ACK_RCVD),
    (S.ACK_RCVD, E.RCA): _t(SCR, S.REQ_SENT),  # crossed connection (x)
    (S.ACK_SENT, E.RCA): _t(IRC, TLU, S.OPENED),
    (S.OPENED, E.RCA): _t(TLD, SCR, S.REQ_SENT),  # x
    # RCN
    (S.CLOSED, E.RCN): _t(STA, S.CLOSED),
    (S.STOPPED, E.RCN): _t(STA, S.STOPPED),
    (S.CLOSING, E.RCN): _t(S.CLOSING),
    (S.STOPPING, E.RCN): _t(S.STOPPING),
    (S.REQ_SENT, E.RCN): _t(IRC, SCR, S.REQ_SENT),
    (S.ACK_RCVD, E.RCN): _t(SCR, S.REQ_SENT),  # x
    (S.ACK_SENT, E.RCN): _t(IRC, SCR, S.ACK_SENT),
    (S.OPENED, E.RCN): _t(TLD, SCR, S.REQ_SENT),  # x
    # RTR
    (S.CLOSED, E.RTR): _t(STA, S.CLOSED),
    (S.STOPPED, E.RTR): _t(STA, S.STOPPED),
    (S.CLOSING, E.RTR): _t(STA, S.CLOSING),
    (S.STOPPING, E.RTR): _t(STA, S.STOPPING),
    (S.REQ_SENT, E.RTR): _t(STA, S.REQ_SENT),
    (S.ACK_RCVD, E.RTR): _t(STA, S.REQ_SENT),
    (S.ACK_SENT, E.RTR): _t(STA, S.REQ_SENT),
    (S.OPENED, E.RTR): _t(TLD, ZRC, STA, S.STOPPING),
    # RTA
    (S.CLOSED, E.RTA): _t(S.CLOSED),
    (S.STOPPED, E.RTA): _t(S.STOPPED),
    (S.CLOSING, E.RTA): _t(TLF, S.CLOSED),
    (S.STOPPING, E.RTA): _t(TLF, S.STOPPED),
    (S.REQ_SENT, E.RTA): _t(S.REQ_SENT),
    (S.ACK_RCVD, E.RTA): _t(S.REQ_SENT),
    (S.ACK_SENT, E.RTA): _t(S.ACK_SENT),
    (S.OPENED, E.RTA): _t(TLD, SCR, S.REQ_SENT),
    # RUC
    (S.CLOSED, E.RUC): _t(SCJ, S.CLOSED),
    (S.STOPPED, E.RUC): _t(SCJ, S.STOPPED),
    (S.CLOSING, E.RUC): _t(SCJ, S.CLOSING),
    (S.STOPPING, E.RUC): _t(SCJ, S.STOPPING),
    (S.REQ_SENT, E.RUC): _t(SCJ, S.REQ_SENT),
    (S.ACK_RCVD, E.RUC): _t(SCJ, S.ACK_RCVD),
    (S.ACK_SENT, E.RUC): _t(SCJ, S.ACK_SENT),
    (S.OPENED, E.RUC): _t(SCJ, S.OPENED),
    # RXJ+
    (S.CLOSED, E.RXJ_PLUS): _t(S.CLOSED),
    (S.STOPPED, E.RXJ_PLUS): _t(S.STOPPED),
    (S.CLOSING, E.RXJ_PLUS): _t(S.CLOSING),
    (S.STOPPING, E.RXJ_PLUS): _t(S.STOPPING),
    (S.REQ_SENT, E.RXJ_PLUS): _t(S.REQ_SENT),
    (S.ACK_RCVD, E.RXJ_PLUS): _t(S.REQ_SENT),
    (S.ACK_SENT, E.RXJ_PLUS): _t(S.ACK_SENT),
    (S.OPENED, E.RXJ_PLUS): _t(S.OPENED),
    # RXJ-
    (S.CLOSED, E.RXJ_MINUS): _t(TLF, S.CLOSED),
    (S.STOPPED, E.RXJ_MINUS): _t(TLF, S.STOPPED),
    (S.CLOSING, E.RXJ_MINUS): _t(TLF, S.CLOSED),
    (S.STOPPING, E.RXJ_MINUS): _t(TLF, S.STOPPED),
    (S.REQ_SENT, E.RXJ_MINUS): _t(TLF, S.STOPPED),
    (S.ACK_RCVD, E.RXJ_MINUS): _t(TLF, S.STOPPED),
    (S.ACK_SENT, E.RXJ_MINUS): _t(TLF, S.STOPPED),
    (S.OPENED, E.RXJ_MINUS): _t(TLD, IRC, STR, S.STOPPING),
    # RXR
    (S.CLOSED, E.RXR): _t(S.CLOSED),
    (S.STOPPED, E.RXR): _t(S.STOPPED),
    (S.CLOSING, E.RXR): _t(S.CLOSING),
    (S.STOPPING, E.RXR): _t(S.STOPPING),
    (S.REQ_SENT, E.RXR): _t(S.REQ_SENT),
    (S.ACK_RCVD, E.RXR): _t(S.ACK_RCVD),
    (S.ACK_SENT, E.RXR): _t(S.ACK_SENT),
    (S.OPENED, E.RXR): _t(SER, S.OPENED),
}

#: States in which the restart timer runs (RFC 1661 §4.6).
_TIMED = frozenset({S.CLOSING, S.STOPPING, S.REQ_SENT, S.ACK_RCVD, S.ACK_SENT})
_NEGOTIATING = frozenset({S.REQ_SENT, S.ACK_RCVD, S.ACK_SENT})


class Verdict(enum.IntEnum):
    """How one option of the peer's Configure-Request is answered (RFC 1661 §5.2-5.4)."""

    ACK = ControlCode.CONFIGURE_ACK
    NAK = ControlCode.CONFIGURE_NAK
    REJECT = ControlCode.CONFIGURE_REJECT


@dataclass(frozen=True, slots=True)
class LayerUp:
    """``tlu``: the automaton reached Opened; its options are agreed."""

    protocol: int


@dataclass(frozen=True, slots=True)
class LayerDown:
    """``tld``: the automaton left Opened."""

    protocol: int


@dataclass(frozen=True, slots=True)
class LayerStarted:
    """``tls``: the automaton needs the lower layer up."""

    protocol: int


@dataclass(frozen=True, slots=True)
class LayerFinished:
    """``tlf``: the automaton no longer needs the lower layer; ``reason`` says why."""

    protocol: int
    reason: str


LayerEvent = LayerUp | LayerDown | LayerStarted | LayerFinished
Options = list[tuple[int, bytes]]


@dataclass(slots=True)
class FsmConfig:
    """Restart timer and counters (RFC 1661 §4.6 defaults)."""

    restart: float = 3.0
    max_terminate: int = 2
    max_configure: int = 10
    max_failure: int = 5


class Automaton:
    """The RFC 1661 automaton for one control protocol; subclass for the options."""

    #: PPP protocol number of this control protocol (LCP 0xC021, IPCP 0x8021, …).
    protocol: int = 0
    name: str = "CP"
    #: Codes this protocol knows beyond 1-7 (LCP: 8-11); others get a Code-Reject.
    extra_codes: frozenset[int] = frozenset()

    def __init__(self, config: FsmConfig | None = None) -> None:
        self.config = config or FsmConfig()
        self.state = State.INITIAL
        self.restart_count = 0
        self.stats: dict[str, int] = {
            "rx": 0,
            "tx": 0,
            "malformed": 0,
            "impossible_events": 0,
            "stale_replies": 0,
            "retransmits": 0,
            "naks_sent": 0,
            "rejects_sent": 0,
            "code_rejects_sent": 0,
        }
        self._deadline: float | None = None
        self._now = 0.0
        self._out: list[bytes] = []
        self._events: deque[LayerEvent] = deque()
        self._next_id = 0
        self._req_id = -1
        self._req_data = b""
        self._fresh_request = True
        self._failures = 0
        self._nak_id = -1
        # What the last received packet asks for, kept between event and action.
        self._rx_id = 0
        self._rx_packet = b""
        self._reply: tuple[Verdict, Options] = (Verdict.ACK, [])
        self._finish_reason = ""

    # -- the sans-I/O surface -------------------------------------------------------------
    def up(self, now: float) -> None:
        self._event(E.UP, now)

    def down(self, now: float) -> None:
        self._event(E.DOWN, now)

    def open(self, now: float) -> None:
        self._event(E.OPEN, now)

    def close(self, now: float, reason: str = "closed") -> None:
        self._finish_reason = reason
        self._event(E.CLOSE, now)

    def receive(self, packet: Buffer, now: float) -> None:
        """One received packet of this protocol (the frame's information field)."""
        self.stats["rx"] += 1
        try:
            header, data = ControlPacket.parse(packet)
        except DecodeError as exc:
            self.stats["malformed"] += 1
            log.debug("%s: malformed packet dropped: %s", self.name, exc)
            return
        code = header.code
        self._rx_id = header.identifier
        self._rx_packet = bytes(packet[: header.length])
        try:
            if code == ControlCode.CONFIGURE_REQUEST:
                self._on_configure_request(parse_options(data), now)
            elif code == ControlCode.CONFIGURE_ACK:
                self._on_configure_ack(header.identifier, bytes(data), now)
            elif code in (ControlCode.CONFIGURE_NAK, ControlCode.CONFIGURE_REJECT):
                self._on_nak_or_reject(code, header.identifier, parse_options(data), now)
            elif code == ControlCode.TERMINATE_REQUEST:
                text = bytes(data).decode("utf-8", "replace").strip()
                self._finish_reason = f"peer terminated {self.name}" + (f": {text}" if text else "")
                self._event(E.RTR, now)
            elif code == ControlCode.TERMINATE_ACK:
                self._event(E.RTA, now)
            elif code == ControlCode.CODE_REJECT:
                self._on_code_reject(bytes(data), now)
            elif code in self.extra_codes:
                self.receive_extra(code, header.identifier, data, now)
            else:
                self._event(E.RUC, now)
        except DecodeError as exc:
            self.stats["malformed"] += 1
            log.debug("%s: malformed %s dropped: %s", self.name, code, exc)

    def packets_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        if self.restart_count > 0:
            self.stats["retransmits"] += 1
            self._event(E.TO_PLUS, now)
        else:
            if not self._finish_reason:
                self._finish_reason = f"{self.name}: no answer from the peer"
            self._event(E.TO_MINUS, now)

    def next_event(self) -> LayerEvent | None:
        return self._events.popleft() if self._events else None

    @property
    def is_open(self) -> bool:
        return self.state == State.OPENED

    # -- the engine -------------------------------------------------------------------------
    def _event(self, event: Event, now: float) -> None:
        self._now = now
        entry = TRANSITIONS.get((self.state, event))
        if entry is None:
            self.stats["impossible_events"] += 1
            log.debug("%s: event %s impossible in %s", self.name, event.value, self.state.name)
            return
        actions, new_state = entry
        log.debug("%s: %s %s -> %s", self.name, self.state.name, event.value, new_state.name)
        if new_state in _NEGOTIATING and self.state not in _NEGOTIATING:
            self._failures = 0  # a new negotiation: no Naks sent yet (RFC 1661 §4.6)
        self.state = new_state
        for action in actions:
            self._run(action, new_state)
        if new_state not in _TIMED:
            self._deadline = None

    def _run(self, action: Action, state: State) -> None:
        if action is SCR:
            self._send_configure_request()
        elif action is SCA:
            # RFC 1661 §4.6: Max-Failure counts Naks sent without sending an Ack.
            self._failures = 0
            self.accept_request(self._reply[1])
            self._send(ControlCode.CONFIGURE_ACK, self._rx_id, build_options(self._reply[1]))
        elif action is SCN:
            verdict, options = self._reply
            self.stats["rejects_sent" if verdict is Verdict.REJECT else "naks_sent"] += 1
            self._send(verdict, self._rx_id, build_options(options))
        elif action is IRC:
            closing = state in (S.CLOSING, S.STOPPING)
            self.restart_count = self.config.max_terminate if closing else self.config.max_configure
            self._fresh_request = True
        elif action is ZRC:
            self.restart_count = 0
            self._deadline = self._now + self.config.restart
        elif action is STR:
            self.restart_count -= 1
            self._deadline = self._now + self.config.restart
            self._send(ControlCode.TERMINATE_REQUEST, self._new_id(), self._finish_reason.encode())
        elif action is STA:
            self._send(ControlCode.TERMINATE_ACK, self._rx_id, b"")
        elif action is SCJ:
            self.stats["code_rejects_sent"] += 1
            self._send(ControlCode.CODE_REJECT, self._new_id(), self._rx_packet[:1492])
        elif action is SER:
            self.send_echo_reply()
        elif action is TLU:
            self.this_layer_up()
            self._events.append(LayerUp(self.protocol))
        elif action is TLD:
            self.this_layer_down()
            self._events.append(LayerDown(self.protocol))
        elif action is TLS:
            self.this_layer_started()
            self._events.append(LayerStarted(self.protocol))
        elif action is TLF:
            reason = self._finish_reason or f"{self.name} finished"
            self._finish_reason = ""
            self._events.append(LayerFinished(self.protocol, reason))

    def _new_id(self) -> int:
        ident = self._next_id
        self._next_id = (ident + 1) & 0xFF
        return ident

    def _send(self, code: int, identifier: int, data: bytes) -> None:
        self.stats["tx"] += 1
        self._out.append(ControlPacket(code, identifier).build(data))

    def _send_configure_request(self) -> None:
        data = build_options(self.request_options())
        if self._fresh_request or data != self._req_data or self._req_id < 0:
            self._req_id = self._new_id()
        self._fresh_request = False
        self._req_data = data
        self.restart_count -= 1
        self._deadline = self._now + self.config.restart
        self._send(ControlCode.CONFIGURE_REQUEST, self._req_id, data)

    def _on_configure_request(self, options: Options, now: float) -> None:
        rejects: Options = []
        naks: Options = []
        for kind, value in options:
            verdict, answer = self.check_option(kind, value)
            if verdict is Verdict.REJECT:
                rejects.append((kind, value))
            elif verdict is Verdict.NAK:
                naks.append((kind, answer))
        if not rejects and not naks:
            naks.extend(self.missing_options({kind for kind, _ in options}))
        if rejects:
            self._reply = (Verdict.REJECT, rejects)
        elif naks and self._failures >= self.config.max_failure:
            # RFC 1661 §4.6: after Max-Failure Naks, Reject what we keep Nak-ing.
            nak_kinds = {kind for kind, _ in naks}
            refused = [o for o in options if o[0] in nak_kinds]
            # Options the peer left out cannot be rejected: take its request as it is.
            self._reply = (Verdict.REJECT, refused) if refused else (Verdict.ACK, options)
        elif naks:
            if self._rx_id != self._nak_id:  # a retransmission Nak'ed again is no new failure
                self._failures += 1
                self._nak_id = self._rx_id
            self._reply = (Verdict.NAK, naks)
        else:
            self._reply = (Verdict.ACK, options)
        self._event(E.RCR_PLUS if self._reply[0] is Verdict.ACK else E.RCR_MINUS, now)

    def _on_configure_ack(self, identifier: int, data: bytes, now: float) -> None:
        # RFC 1661 §5.2: an Ack must match the last request's identifier and options.
        if identifier != self._req_id or data != self._req_data:
            self.stats["stale_replies"] += 1
            return
        self._fresh_request = True
        self.apply_ack(parse_options(data))
        self._event(E.RCA, now)

    def _on_nak_or_reject(self, code: int, identifier: int, options: Options, now: float) -> None:
        if identifier != self._req_id:
            self.stats["stale_replies"] += 1
            return
        self._fresh_request = True
        if code == ControlCode.CONFIGURE_NAK:
            ok = self.apply_nak(options)
        else:
            # RFC 1661 §5.4: a Reject lists options of our request, unchanged.
            ours = parse_options(self._req_data)
            ok = all(opt in ours for opt in options)
            if ok:
                ok = self.apply_reject(options)
            else:
                self.stats["malformed"] += 1
                return
        if not ok:
            # The peer refuses something we cannot do without: give up on this layer.
            self.stats["fatal_naks"] = self.stats.get("fatal_naks", 0) + 1
            self.close(now, self._finish_reason or f"{self.name}: peer refused a required option")
            return
        self._event(E.RCN, now)

    def _on_code_reject(self, rejected: bytes, now: float) -> None:
        # RFC 1661 §5.6: rejecting a code we cannot do without (1-7) is catastrophic.
        code = rejected[0] if rejected else 0
        if 1 <= code <= 7:
            self._finish_reason = f"{self.name}: peer rejected code {code}"
            self._event(E.RXJ_MINUS, now)
        else:
            self._event(E.RXJ_PLUS, now)

    def rx_reject(self, catastrophic: bool, now: float, reason: str = "") -> None:
        """A Protocol-Reject (LCP) or Code-Reject event for this protocol."""
        if catastrophic:
            self._finish_reason = reason or f"{self.name} rejected by the peer"
            self._event(E.RXJ_MINUS, now)
        else:
            self._event(E.RXJ_PLUS, now)

    def rx_echo(self, now: float) -> None:
        """An Echo-Request, Echo-Reply or Discard-Request arrived (event RXR)."""
        self._event(E.RXR, now)

    # -- what a subclass defines -------------------------------------------------------------
    def request_options(self) -> Options:
        """The options of our next Configure-Request."""
        return []

    def check_option(self, kind: int, value: bytes) -> tuple[Verdict, bytes]:
        """Answer one option of the peer's request: (ACK, value), (NAK, suggestion) or
        (REJECT, value)."""
        return Verdict.REJECT, value

    def missing_options(self, present: set[int]) -> Options:
        """Options to Nak into an otherwise acceptable request (RFC 1661 §5.3 lets a Nak
        list options the peer did not include)."""
        return []

    def accept_request(self, options: Options) -> None:
        """We Ack the peer's request: these are now the peer's options."""

    def apply_ack(self, options: Options) -> None:
        """The peer acked our request: these are now our options."""

    def apply_nak(self, options: Options) -> bool:
        """Adjust our request to the peer's suggestions; False gives up (Close)."""
        return True

    def apply_reject(self, options: Options) -> bool:
        """Drop rejected options from our request; False gives up (Close)."""
        return True

    def receive_extra(self, code: int, identifier: int, data: memoryview, now: float) -> None:
        """A packet with one of :attr:`extra_codes`."""

    def send_echo_reply(self) -> None:
        """The ``ser`` action (LCP only)."""

    def this_layer_up(self) -> None:
        """Hook for ``tlu`` before the event is reported."""

    def this_layer_down(self) -> None:
        """Hook for ``tld`` before the event is reported."""

    def this_layer_started(self) -> None:
        """Hook for ``tls`` before the event is reported."""

    def send_packet(self, code: int, identifier: int, data: bytes) -> None:
        """Queue a packet of this protocol (for subclasses' extra codes)."""
        self._send(code, identifier, data)

    def new_identifier(self) -> int:
        return self._new_id()

    @property
    def last_received_id(self) -> int:
        return self._rx_id
