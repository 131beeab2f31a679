"""The PPP Authenticate phase: PAP (RFC 1334 §2) and CHAP with MD5 (RFC 1994), both roles,
as sans-I/O machines.

When LCP reaches Opened and either side asked for an Authentication-Protocol option (RFC
1661 §6.2; PAP 0xC023 in RFC 1334 §2.1, CHAP 0xC223 with algorithm 5 in RFC 1994 §3), the
link enters the Authenticate phase (RFC 1661 §3.5). The side that asked for the option is
the *authenticator*; the other is the *peer*, who must prove its identity. Each direction is
separate: a link may run two machines (we authenticate them, they authenticate us), even
with different protocols, and the Network-Layer phase begins only when every machine of
the phase has reported :class:`AuthSucceeded`. Any :class:`AuthFailed` ends the link (RFC
1661 §3.5: when authentication fails the authenticator SHOULD proceed to the Link
Termination phase).

- :class:`PapPeer` sends Authenticate-Requests with its name and password in clear until an
  Ack or Nak arrives or ``max_requests`` went unanswered (RFC 1334 §2.2.1). Every request,
  retransmissions included, carries a new Identifier ("MUST be changed each time an
  Authenticate-Request packet is issued"); a reply to any identifier sent counts.
- :class:`PapAuthenticator` waits for a request, asks ``check(peer_id, password)`` and
  answers Ack or Nak (RFC 1334 §2.2.2). The first verdict sticks: later requests (the peer
  retransmitting because our Ack was lost) get the same code, with their own Identifier.
- :class:`ChapAuthenticator` sends a Challenge with a random value drawn from the ``rng``
  it is given and its own name, until a Response arrives or ``max_challenges`` went out
  (RFC 1994 §4.1). It looks the peer's Name up with ``secrets(name)``, compares the
  Response Value with MD5(Identifier || secret || Challenge) in constant time and answers
  Success or Failure (§4.2). It may rechallenge ``rechallenge`` seconds after a success,
  with a new Identifier and value (§2, §4.1: "at any time during the Network-Layer Protocol
  phase"); a rechallenge that fails or goes unanswered reports :class:`AuthFailed`.
- :class:`ChapPeer` answers every Challenge with Response(MD5(Identifier || secret ||
  Challenge), its name) (§4.1) and reports the Success or Failure that comes back.

All four share one vocabulary: :meth:`start` when the phase begins; :meth:`receive` for the
information field of every frame whose protocol is the machine's ``protocol``;
:meth:`packets_to_send` for information fields to send with that protocol;
:meth:`get_timer` / :meth:`handle_timer` for the one deadline; :meth:`next_event` for the
outcome; :meth:`stop` when the link leaves the phase for good (goes down or terminates).
Keep feeding packets after success: CHAP rechallenges and repeated Responses, and PAP
retransmissions whose Ack was lost, arrive during the Network-Layer phase.

Each machine's states change only through its ``TRANSITIONS`` table, keyed by (state,
input); a packet whose (state, input) is not in the table is counted in ``stats["ignored"]``
and dropped, as is a valid packet meant for the other role (a Challenge arriving at the
authenticator). Malformed packets are counted in ``stats["malformed"]`` and dropped.

Choices the RFCs leave open, and what these machines do:

- A retransmitted Challenge keeps its Identifier and value (as pppd does); RFC 1994 §4.1's
  "MUST be changed each time a Challenge is sent" is taken to mean each new challenge, so
  a peer's late Response to the first transmission still matches. A rechallenge is a new
  challenge and gets a new Identifier and value.
- The authenticator answers a repeated Response with the current Identifier with the same
  code as the first (RFC 1994 §4.1 implementation note: the Success may be lost), without
  checking it again; Responses with any other Identifier are discarded.
- A rechallenge answered under a different Name than the one authenticated fails.
- The CHAP authenticator's first Identifier is drawn from ``rng``; the PAP peer's first is 1.
- :class:`ChapPeer` gives the whole exchange ``timeout`` seconds from :meth:`start`; once
  authenticated it has no timer (the authenticator owns rechallenge timing). RFC 1994 gives
  the peer no retransmission of its own, so a lost Success is recovered only when the
  authenticator's retransmitted Challenge drew a second Response; otherwise the peer times
  out and the link restarts. A Failure
  after a success (a failed rechallenge) reports :class:`AuthFailed`; a Success after a
  success reports nothing new.
- :class:`PapAuthenticator` gives the peer ``timeout`` seconds from :meth:`start` to send a
  request that is accepted or rejected.
- Names and Peer-IDs from the wire are decoded as UTF-8 with ``surrogateescape`` (no two
  octet strings give the same ``str``); Messages are for humans and decoded with
  ``replace``. Our names, passwords and secrets given as ``str`` are sent as UTF-8.
- A machine serves one Authenticate phase: create a new one when the link comes up again.
"""

from __future__ import annotations

import enum
import hmac
import logging
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from netstack.wire import Buffer, DecodeError
from netstack.wire.ppp import PppProtocol
from netstack.wire.ppp_auth import (
    ChapChallenge,
    ChapCode,
    ChapResponse,
    ChapResult,
    PapCode,
    PapReply,
    PapRequest,
    chap_md5_response,
    parse_chap,
    parse_pap,
)

__all__ = [
    "AuthEvent",
    "AuthFailed",
    "AuthInput",
    "AuthState",
    "AuthStateError",
    "AuthSucceeded",
    "ChapAuthenticator",
    "ChapPeer",
    "PapAuthenticator",
    "PapPeer",
]

log = logging.getLogger(__name__)

_PAP_ACK_MESSAGE = b"Login ok"
_PAP_NAK_MESSAGE = b"Login incorrect"
_CHAP_SUCCESS_MESSAGE = b"Access granted"
_CHAP_FAILURE_MESSAGE = b"Access denied"


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthSucceeded:
    """Authentication passed. For an authenticator, ``peer_name`` is the name the peer
    proved; for a peer, it is our own user name."""

    peer_name: str


@dataclass(frozen=True, slots=True)
class AuthFailed:
    """Authentication failed (or a rechallenge did): terminate the link. ``reason`` is for
    humans."""

    reason: str


AuthEvent = AuthSucceeded | AuthFailed


# -- states and inputs ------------------------------------------------------------------------


class AuthState(enum.Enum):
    """The states of all four machines; each uses the subset in its ``TRANSITIONS``."""

    INITIAL = "initial"  # not started
    REQUEST_SENT = "request sent"  # PAP peer: Authenticate-Request out, no reply yet
    LISTEN = "listen"  # PAP authenticator: no request yet; CHAP peer: no Challenge yet
    CHALLENGE_SENT = "challenge sent"  # CHAP authenticator: Challenge out, no Response yet
    RESPONSE_SENT = "response sent"  # CHAP peer: Response out, no Success/Failure yet
    OPEN = "open"  # authenticated
    RECHALLENGE_SENT = "rechallenge sent"  # CHAP authenticator, after a success
    FAILED = "failed"
    STOPPED = "stopped"


class AuthInput(enum.Enum):
    """What drives the machines: verbs, the timer and received packets."""

    START = "start"
    STOP = "stop"
    TIMER = "timer"
    REQUEST = "Authenticate-Request"
    ACK = "Authenticate-Ack"
    NAK = "Authenticate-Nak"
    CHALLENGE = "Challenge"
    RESPONSE = "Response"
    SUCCESS = "Success"
    FAILURE = "Failure"


class AuthStateError(RuntimeError):
    """A verb the machine cannot take in its current state (a bug in the caller)."""


_S = AuthState
_I = AuthInput
_Key = tuple[AuthState, AuthInput]
_M = TypeVar("_M")
_P = TypeVar("_P")
#: (state, input) → (handler returning the next state, the states it may return). A handler
#: takes the machine, ``now`` and the received record (None for verbs and the timer).
_Table = Mapping[_Key, tuple[Callable[[_M, float, _P], AuthState], frozenset[AuthState]]]


def _transition(
    machine: _M, table: _Table[_M, _P], key: _Key, now: float, record: _P
) -> AuthState | None:
    """Run the handler for ``key``; None if the table has no entry."""
    entry = table.get(key)
    if entry is None:
        return None
    handler, targets = entry
    state = handler(machine, now, record)
    if state is not key[0] and state not in targets:
        raise AssertionError(f"{key[0].value} --{key[1].value}--> {state.value} not in the table")
    return state


def _finish(
    table: dict[_Key, tuple[Callable[[_M, float, _P], AuthState], frozenset[AuthState]]],
    stop: Callable[[_M, float, _P], AuthState],
) -> Mapping[_Key, frozenset[AuthState]]:
    """Add STOP from every state but STOPPED to ``table``; return the documented view."""
    for state in AuthState:
        if state is not _S.STOPPED:
            table[state, _I.STOP] = (stop, frozenset((_S.STOPPED,)))
    return {key: targets for key, (_handler, targets) in table.items()}


def _name(octets: bytes) -> str:
    """A name or Peer-ID from the wire, losslessly (see the module docs)."""
    return octets.decode("utf-8", "surrogateescape")


def _message(octets: bytes) -> str:
    return octets.decode("utf-8", "replace")


def _octets(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _seconds(value: float) -> str:
    return f"{value:g} s"


# -- the shared machinery ---------------------------------------------------------------------


class _AuthMachine(Generic[_P]):
    """Outbox, events, timer, stats and dispatch, shared by the four machines. ``_P`` is
    the record type the machine accepts."""

    protocol: ClassVar[int]
    #: (state, input) → the states the machine may be in afterwards; staying put is allowed.
    TRANSITIONS: ClassVar[Mapping[_Key, frozenset[AuthState]]]

    def __init__(self) -> None:
        self._state = AuthState.INITIAL
        self._deadline: float | None = None
        self._outbox: list[bytes] = []
        self._events: deque[AuthEvent] = deque()
        self._done = False
        self.stats: dict[str, int] = {
            "tx": 0,
            "rx": 0,
            "retransmits": 0,
            "malformed": 0,
            "ignored": 0,
            "duplicates": 0,
        }

    # -- read-only state ----------------------------------------------------------------------

    @property
    def state(self) -> AuthState:
        return self._state

    @property
    def done(self) -> bool:
        """A success or failure has been reported."""
        return self._done

    # -- verbs --------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Enter the Authenticate phase."""
        if self._state is not _S.INITIAL:
            raise AuthStateError(f"{type(self).__name__} already started ({self._state.value})")
        self._dispatch(_I.START, now, None)

    def receive(self, packet: Buffer, now: float) -> None:
        """The information field of one frame of ``self.protocol``."""
        self.stats["rx"] += 1
        try:
            parsed = self._parse(packet)
        except DecodeError as exc:
            self.stats["malformed"] += 1
            log.debug("%s: malformed packet dropped: %s", self, exc)
            return
        if parsed is None:
            self._ignore("a packet for the other role")
            return
        event, record = parsed
        self._dispatch(event, now, record)

    def stop(self) -> None:
        """The link left the phase or went down: no more timers or output. Events already
        reported stay queued."""
        self._dispatch(_I.STOP, 0.0, None)

    # -- outputs ------------------------------------------------------------------------------

    def packets_to_send(self) -> list[bytes]:
        """Information fields to send now with ``self.protocol`` (drains)."""
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        """The one deadline (absolute), None if none."""
        return self._deadline

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        self._dispatch(_I.TIMER, now, None)

    def next_event(self) -> AuthEvent | None:
        """The next outcome, one at a time (drains)."""
        return self._events.popleft() if self._events else None

    # -- for the machines ---------------------------------------------------------------------

    def _parse(self, data: Buffer) -> tuple[AuthInput, _P] | None:
        """Decode ``data`` (raising DecodeError); None if it is for the other role."""
        raise NotImplementedError

    def _step(self, key: _Key, now: float, record: _P | None) -> AuthState | None:
        """Run this machine's table for ``key``: ``_transition(self, TABLE, ...)``."""
        raise NotImplementedError

    def _dispatch(self, event: AuthInput, now: float, record: _P | None) -> None:
        state = self._step((self._state, event), now, record)
        if state is None:
            if record is not None:
                self._ignore(f"{event.value} in {self._state.value}")
            else:
                log.debug("%s: nothing to do on %s in %s", self, event.value, self._state.value)
            return
        if state is not self._state:
            log.debug("%s: %s --%s--> %s", self, self._state.value, event.value, state.value)
        self._state = state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state.value}>"

    def _ignore(self, reason: str) -> None:
        self.stats["ignored"] += 1
        log.debug("%s: packet ignored: %s", self, reason)

    def _send(self, packet: bytes, *, retransmit: bool = False) -> None:
        self._outbox.append(packet)
        self.stats["tx"] += 1
        if retransmit:
            self.stats["retransmits"] += 1

    def _succeed(self, name: str) -> None:
        self._done = True
        self._events.append(AuthSucceeded(name))

    def _fail(self, reason: str) -> AuthState:
        log.debug("%s: failed: %s", self, reason)
        self._done = True
        self._deadline = None
        self._events.append(AuthFailed(reason))
        return _S.FAILED

    def _on_stop(self, _now: float, _record: _P | None) -> AuthState:
        self._deadline = None
        self._outbox.clear()
        return _S.STOPPED


# -- PAP --------------------------------------------------------------------------------------


class PapPeer(_AuthMachine[PapReply]):
    """The PAP peer: proves ``user`` / ``password`` to the authenticator (RFC 1334 §2)."""

    protocol: ClassVar[int] = PppProtocol.PAP

    def __init__(
        self, user: str, password: str, *, restart: float = 3.0, max_requests: int = 10
    ) -> None:
        super().__init__()
        if restart <= 0 or max_requests < 1:
            raise ValueError("restart must be positive and max_requests at least 1")
        self.user = user
        self._request = PapRequest(0, _octets(user), _octets(password))
        self._request.build()  # fail now if the name or password is over 255 octets
        self._restart = restart
        self._max_requests = max_requests
        self._identifier = 0  # of the last request sent
        self._sent_ids: set[int] = set()  # every identifier sent: a reply to any counts
        self._requests = 0

    def _parse(self, data: Buffer) -> tuple[AuthInput, PapReply] | None:
        record = parse_pap(data)
        if isinstance(record, PapRequest):
            return None
        return (_I.ACK if record.ack else _I.NAK), record

    def _step(self, key: _Key, now: float, record: PapReply | None) -> AuthState | None:
        return _transition(self, _PAP_PEER_TABLE, key, now, record)

    def _send_request(self, now: float) -> None:
        # RFC 1334 §2.2.1: a new Identifier for every Authenticate-Request issued.
        self._identifier = (self._identifier + 1) & 0xFF
        self._sent_ids.add(self._identifier)
        self._request.identifier = self._identifier
        self._send(self._request.build(), retransmit=self._requests > 0)
        self._requests += 1
        self._deadline = now + self._restart

    def _on_start(self, now: float, _record: PapReply | None) -> AuthState:
        self._send_request(now)
        return _S.REQUEST_SENT

    def _on_timeout(self, now: float, _record: PapReply | None) -> AuthState:
        # RFC 1334 §2.2.1: repeat "until a valid reply packet is received, or an optional
        # retry counter expires".
        if self._requests >= self._max_requests:
            return self._fail(f"no answer after {self._requests} requests")
        self._send_request(now)
        return _S.REQUEST_SENT

    def _on_reply(self, _now: float, record: PapReply | None) -> AuthState:
        assert record is not None
        if record.identifier not in self._sent_ids:
            self._ignore(f"reply to identifier {record.identifier}, never sent")
            return self._state
        if not record.ack:
            return self._fail(f"PAP rejected: {_message(record.message)}")
        self._deadline = None
        self._succeed(self.user)
        return _S.OPEN

    def _on_late_reply(self, _now: float, record: PapReply | None) -> AuthState:
        self.stats["duplicates"] += 1
        return self._state


_PAP_PEER_TABLE: dict[
    _Key, tuple[Callable[[PapPeer, float, PapReply | None], AuthState], frozenset[AuthState]]
] = {
    (_S.INITIAL, _I.START): (PapPeer._on_start, frozenset((_S.REQUEST_SENT,))),
    (_S.REQUEST_SENT, _I.TIMER): (PapPeer._on_timeout, frozenset((_S.REQUEST_SENT, _S.FAILED))),
    (_S.REQUEST_SENT, _I.ACK): (PapPeer._on_reply, frozenset((_S.OPEN,))),
    (_S.REQUEST_SENT, _I.NAK): (PapPeer._on_reply, frozenset((_S.FAILED,))),
    # Replies to our retransmissions, after the first reply settled it.
    (_S.OPEN, _I.ACK): (PapPeer._on_late_reply, frozenset()),
    (_S.FAILED, _I.NAK): (PapPeer._on_late_reply, frozenset()),
}
PapPeer.TRANSITIONS = _finish(_PAP_PEER_TABLE, PapPeer._on_stop)


class PapAuthenticator(_AuthMachine[PapRequest]):
    """The PAP authenticator: accepts the peer whose Peer-ID and password pass
    ``check(peer_id, password)`` (RFC 1334 §2)."""

    protocol: ClassVar[int] = PppProtocol.PAP

    def __init__(self, check: Callable[[str, bytes], bool], *, timeout: float = 30.0) -> None:
        super().__init__()
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._check = check
        self._timeout = timeout

    def _parse(self, data: Buffer) -> tuple[AuthInput, PapRequest] | None:
        record = parse_pap(data)
        if isinstance(record, PapReply):
            return None
        return _I.REQUEST, record

    def _step(self, key: _Key, now: float, record: PapRequest | None) -> AuthState | None:
        return _transition(self, _PAP_AUTHENTICATOR_TABLE, key, now, record)

    def _reply(self, record: PapRequest, ack: bool) -> None:
        # RFC 1334 §2.2.2: the Identifier is copied from the request.
        if ack:
            reply = PapReply(PapCode.AUTHENTICATE_ACK, record.identifier, _PAP_ACK_MESSAGE)
        else:
            reply = PapReply(PapCode.AUTHENTICATE_NAK, record.identifier, _PAP_NAK_MESSAGE)
        self._send(reply.build())

    def _on_start(self, now: float, _record: PapRequest | None) -> AuthState:
        self._deadline = now + self._timeout
        return _S.LISTEN

    def _on_timeout(self, _now: float, _record: PapRequest | None) -> AuthState:
        return self._fail(f"peer never authenticated within {_seconds(self._timeout)}")

    def _on_request(self, _now: float, record: PapRequest | None) -> AuthState:
        assert record is not None
        name = _name(record.peer_id)
        if self._check(name, record.password):
            self._reply(record, True)
            self._deadline = None
            self._succeed(name)
            return _S.OPEN
        # RFC 1334 §2.2.2: Nak, and "SHOULD take action to terminate the link".
        self._reply(record, False)
        return self._fail(f"peer {name!r} sent a wrong password")

    def _on_repeat(self, _now: float, record: PapRequest | None) -> AuthState:
        # The peer did not get our reply: the same verdict again, with its new Identifier.
        assert record is not None
        self.stats["duplicates"] += 1
        self._reply(record, self._state is _S.OPEN)
        return self._state


_PAP_AUTHENTICATOR_TABLE: dict[
    _Key,
    tuple[Callable[[PapAuthenticator, float, PapRequest | None], AuthState], frozenset[AuthState]],
] = {
    (_S.INITIAL, _I.START): (PapAuthenticator._on_start, frozenset((_S.LISTEN,))),
    (_S.LISTEN, _I.TIMER): (PapAuthenticator._on_timeout, frozenset((_S.FAILED,))),
    (_S.LISTEN, _I.REQUEST): (PapAuthenticator._on_request, frozenset((_S.OPEN, _S.FAILED))),
    (_S.OPEN, _I.REQUEST): (PapAuthenticator._on_repeat, frozenset()),
    (_S.FAILED, _I.REQUEST): (PapAuthenticator._on_repeat, frozenset()),
}
PapAuthenticator.TRANSITIONS = _finish(_PAP_AUTHENTICATOR_TABLE, PapAuthenticator._on_stop)


# -- CHAP -------------------------------------------------------------------------------------

_ChapPeerRecord = ChapChallenge | ChapResult


class ChapPeer(_AuthMachine[_ChapPeerRecord]):
    """The CHAP peer: answers Challenges as ``user`` with ``secret`` (RFC 1994 §4.1)."""

    protocol: ClassVar[int] = PppProtocol.CHAP

    def __init__(self, user: str, secret: bytes | str, *, timeout: float = 30.0) -> None:
        super().__init__()
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.user = user
        self._user = _octets(user)
        self._secret = _octets(secret)
        self._timeout = timeout
        self.stats["rechallenges"] = 0
        self._answered: ChapChallenge | None = None  # the last Challenge we answered
        self._response = b""  # and our Response to it

    def _parse(self, data: Buffer) -> tuple[AuthInput, _ChapPeerRecord] | None:
        record = parse_chap(data)
        if isinstance(record, ChapResponse):
            return None
        if isinstance(record, ChapChallenge):
            return _I.CHALLENGE, record
        return (_I.SUCCESS if record.success else _I.FAILURE), record

    def _step(self, key: _Key, now: float, record: _ChapPeerRecord | None) -> AuthState | None:
        return _transition(self, _CHAP_PEER_TABLE, key, now, record)

    def _on_start(self, now: float, _record: _ChapPeerRecord | None) -> AuthState:
        self._deadline = now + self._timeout
        return _S.LISTEN

    def _on_timeout(self, _now: float, _record: _ChapPeerRecord | None) -> AuthState:
        if self._state is _S.LISTEN:
            return self._fail(f"no CHAP challenge within {_seconds(self._timeout)}")
        return self._fail(f"no CHAP Success or Failure within {_seconds(self._timeout)}")

    def _on_challenge(self, _now: float, record: _ChapPeerRecord | None) -> AuthState:
        assert isinstance(record, ChapChallenge)
        if record == self._answered:
            # The authenticator retransmitted (our Response was lost): the same answer.
            self.stats["duplicates"] += 1
        else:
            if self._state is _S.OPEN:
                self.stats["rechallenges"] += 1
            # RFC 1994 §4.1: Identifier copied from the Challenge; Value is the hash.
            value = chap_md5_response(record.identifier, self._secret, record.value)
            self._response = ChapResponse(record.identifier, value, self._user).build()
            self._answered = record
        self._send(self._response)
        return _S.OPEN if self._state is _S.OPEN else _S.RESPONSE_SENT

    def _matches(self, record: ChapResult) -> bool:
        # RFC 1994 §4.2: the Identifier is copied from the Response it answers.
        if self._answered is None or record.identifier != self._answered.identifier:
            self._ignore(f"result for identifier {record.identifier}, not our Response's")
            return False
        return True

    def _on_success(self, _now: float, record: _ChapPeerRecord | None) -> AuthState:
        assert isinstance(record, ChapResult)
        if not self._matches(record):
            return self._state
        if self._state is _S.OPEN:  # a rechallenge passed, or a repeated Success
            return _S.OPEN
        self._deadline = None
        self._succeed(self.user)
        return _S.OPEN

    def _on_failure(self, _now: float, record: _ChapPeerRecord | None) -> AuthState:
        assert isinstance(record, ChapResult)
        if not self._matches(record):
            return self._state
        return self._fail(f"CHAP failure: {_message(record.message)}")


_CHAP_PEER_TABLE: dict[
    _Key,
    tuple[Callable[[ChapPeer, float, _ChapPeerRecord | None], AuthState], frozenset[AuthState]],
] = {
    (_S.INITIAL, _I.START): (ChapPeer._on_start, frozenset((_S.LISTEN,))),
    (_S.LISTEN, _I.TIMER): (ChapPeer._on_timeout, frozenset((_S.FAILED,))),
    (_S.LISTEN, _I.CHALLENGE): (ChapPeer._on_challenge, frozenset((_S.RESPONSE_SENT,))),
    (_S.RESPONSE_SENT, _I.TIMER): (ChapPeer._on_timeout, frozenset((_S.FAILED,))),
    (_S.RESPONSE_SENT, _I.CHALLENGE): (ChapPeer._on_challenge, frozenset()),
    (_S.RESPONSE_SENT, _I.SUCCESS): (ChapPeer._on_success, frozenset((_S.OPEN,))),
    (_S.RESPONSE_SENT, _I.FAILURE): (ChapPeer._on_failure, frozenset((_S.FAILED,))),
    # RFC 1994 §4.1: Challenges may come "at any time during the Network-Layer phase".
    (_S.OPEN, _I.CHALLENGE): (ChapPeer._on_challenge, frozenset()),
    (_S.OPEN, _I.SUCCESS): (ChapPeer._on_success, frozenset()),
    (_S.OPEN, _I.FAILURE): (ChapPeer._on_failure, frozenset((_S.FAILED,))),
}
ChapPeer.TRANSITIONS = _finish(_CHAP_PEER_TABLE, ChapPeer._on_stop)


class ChapAuthenticator(_AuthMachine[ChapResponse]):
    """The CHAP authenticator with MD5 (RFC 1994 §4): challenges the peer and checks its
    Response against ``secrets(peer_name)`` (None: unknown name, a failure)."""

    protocol: ClassVar[int] = PppProtocol.CHAP

    def __init__(
        self,
        secrets: Callable[[str], bytes | None],
        rng: random.Random,
        *,
        name: str = "netstack",
        challenge_len: int = 16,
        restart: float = 3.0,
        max_challenges: int = 10,
        rechallenge: float | None = None,
    ) -> None:
        super().__init__()
        if not 1 <= challenge_len <= 255:
            raise ValueError("challenge_len must be 1 to 255 octets")
        if restart <= 0 or max_challenges < 1:
            raise ValueError("restart must be positive and max_challenges at least 1")
        if rechallenge is not None and rechallenge <= 0:
            raise ValueError("rechallenge must be positive or None")
        self.stats["rechallenges"] = 0
        self.name = name
        self._name = _octets(name)
        self._secrets = secrets
        self._rng = rng
        self._challenge_len = challenge_len
        self._restart = restart
        self._max_challenges = max_challenges
        self._rechallenge = rechallenge
        self._challenge = ChapChallenge(0, b"\0", self._name)  # the current one
        self._packet = b""  # its encoding, for retransmissions
        self._sent = 0  # transmissions of the current Challenge
        self._result = b""  # our Success/Failure for the current identifier
        self._peer_name: str | None = None  # the name that authenticated

    @property
    def peer_name(self) -> str | None:
        """The name the peer proved, once it did."""
        return self._peer_name

    def _parse(self, data: Buffer) -> tuple[AuthInput, ChapResponse] | None:
        record = parse_chap(data)
        if not isinstance(record, ChapResponse):
            return None
        return _I.RESPONSE, record

    def _step(self, key: _Key, now: float, record: ChapResponse | None) -> AuthState | None:
        return _transition(self, _CHAP_AUTHENTICATOR_TABLE, key, now, record)

    def _new_challenge(self, now: float, identifier: int) -> None:
        # RFC 1994 §2.3, §4.1: a new, unpredictable value for every new challenge.
        value = self._rng.randbytes(self._challenge_len)
        self._challenge = ChapChallenge(identifier, value, self._name)
        self._packet = self._challenge.build()
        self._result = b""
        self._sent = 0
        self._transmit(now)

    def _transmit(self, now: float) -> None:
        self._send(self._packet, retransmit=self._sent > 0)
        self._sent += 1
        self._deadline = now + self._restart

    def _on_start(self, now: float, _record: ChapResponse | None) -> AuthState:
        self._new_challenge(now, self._rng.randrange(256))
        return _S.CHALLENGE_SENT

    def _on_timeout(self, now: float, _record: ChapResponse | None) -> AuthState:
        # RFC 1994 §4.1: Challenges "MUST be sent until a valid Response packet is
        # received, or an optional retry counter expires".
        if self._sent >= self._max_challenges:
            # A Response arriving now still gets a Failure (RFC 1994 §4.1 implementation
            # note: the same reply code as the phase ended with).
            challenge = self._challenge
            failure = ChapResult(ChapCode.FAILURE, challenge.identifier, _CHAP_FAILURE_MESSAGE)
            self._result = failure.build()
            return self._fail(f"no answer after {self._sent} challenges")
        self._transmit(now)
        return self._state

    def _on_rechallenge_timer(self, now: float, _record: ChapResponse | None) -> AuthState:
        self.stats["rechallenges"] += 1
        self._new_challenge(now, (self._challenge.identifier + 1) & 0xFF)
        return _S.RECHALLENGE_SENT

    def _on_response(self, now: float, record: ChapResponse | None) -> AuthState:
        assert record is not None
        if record.identifier != self._challenge.identifier:
            self._ignore(f"Response to identifier {record.identifier}, not the current one")
            return self._state
        name = _name(record.name)
        reason = self._verify(name, record.value)
        result = ChapResult(
            ChapCode.FAILURE if reason else ChapCode.SUCCESS,
            record.identifier,  # RFC 1994 §4.2: copied from the Response
            _CHAP_FAILURE_MESSAGE if reason else _CHAP_SUCCESS_MESSAGE,
        )
        self._result = result.build()
        self._send(self._result)
        if reason:
            # RFC 1994 §4.2: Failure, and "SHOULD take action to terminate the link".
            return self._fail(reason)
        self._deadline = None if self._rechallenge is None else now + self._rechallenge
        if self._state is _S.CHALLENGE_SENT:
            self._peer_name = name
            self._succeed(name)
        return _S.OPEN

    def _verify(self, name: str, value: bytes) -> str:
        """Why the Response fails, or "" if it passes."""
        if self._peer_name is not None and name != self._peer_name:
            return f"peer {self._peer_name!r} answered a rechallenge as {name!r}"
        secret = self._secrets(name)
        if secret is None:
            return f"unknown peer name {name!r}"
        challenge = self._challenge
        expected = chap_md5_response(challenge.identifier, secret, challenge.value)
        if not hmac.compare_digest(expected, value):
            if self._peer_name is not None:
                return f"peer {name!r} failed a rechallenge: wrong response"
            return f"peer {name!r} sent a wrong CHAP response"
        return ""

    def _on_repeat(self, _now: float, record: ChapResponse | None) -> AuthState:
        # RFC 1994 §4.1 implementation note: the Success (or Failure) may be lost; a
        # Response with the current Identifier gets the same reply code again, unchecked.
        assert record is not None
        if record.identifier != self._challenge.identifier or not self._result:
            self._ignore(f"Response to identifier {record.identifier}, not the current one")
            return self._state
        self.stats["duplicates"] += 1
        self._send(self._result)
        return self._state


_CHAP_AUTHENTICATOR_TABLE: dict[
    _Key,
    tuple[
        Callable[[ChapAuthenticator, float, ChapResponse | None], AuthState], frozenset[AuthState]
    ],
] = {
    (_S.INITIAL, _I.START): (ChapAuthenticator._on_start, frozenset((_S.CHALLENGE_SENT,))),
    (_S.CHALLENGE_SENT, _I.TIMER): (ChapAuthenticator._on_timeout, frozenset((_S.FAILED,))),
    (_S.CHALLENGE_SENT, _I.RESPONSE): (
        ChapAuthenticator._on_response,
        frozenset((_S.OPEN, _S.FAILED)),
    ),
    (_S.OPEN, _I.RESPONSE): (ChapAuthenticator._on_repeat, frozenset()),
    (_S.OPEN, _I.TIMER): (
        ChapAuthenticator._on_rechallenge_timer,
        frozenset((_S.RECHALLENGE_SENT,)),
    ),
    (_S.RECHALLENGE_SENT, _I.TIMER): (ChapAuthenticator._on_timeout, frozenset((_S.FAILED,))),
    (_S.RECHALLENGE_SENT, _I.RESPONSE): (
        ChapAuthenticator._on_response,
        frozenset((_S.OPEN, _S.FAILED)),
    ),
    (_S.FAILED, _I.RESPONSE): (ChapAuthenticator._on_repeat, frozenset()),
}
ChapAuthenticator.TRANSITIONS = _finish(_CHAP_AUTHENTICATOR_TABLE, ChapAuthenticator._on_stop)
