"""PPP Authenticate-phase machines: PAP (RFC 1334 §2) and CHAP-MD5 (RFC 1994), both roles,
driven with explicit ``now`` and wired back to back."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable

import pytest

from netstack.stacks.ip.ppp.auth import (
    AuthEvent,
    AuthFailed,
    AuthInput,
    AuthState,
    AuthStateError,
    AuthSucceeded,
    ChapAuthenticator,
    ChapPeer,
    PapAuthenticator,
    PapPeer,
)
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
)

Machine = PapPeer | PapAuthenticator | ChapPeer | ChapAuthenticator
Drop = Callable[[Machine, bytes], bool]

USERS = {"bob": b"hunter2"}


def pap_check(peer_id: str, password: bytes) -> bool:
    return USERS.get(peer_id) == password


def events(machine: Machine) -> list[AuthEvent]:
    out = []
    while (event := machine.next_event()) is not None:
        out.append(event)
    return out


def never(_src: Machine, _packet: bytes) -> bool:
    return False


def drop_first(code: int, sender: type) -> Drop:
    """Lose the first packet with ``code`` sent by a ``sender`` machine."""
    dropped = False

    def drop(src: Machine, packet: bytes) -> bool:
        nonlocal dropped
        if not dropped and isinstance(src, sender) and packet[0] == code:
            dropped = True
            return True
        return False

    return drop


class Pair:
    """Two machines on one lossless (unless told) link, in virtual time."""

    def __init__(self, a: Machine, b: Machine, drop: Drop = never) -> None:
        self.a, self.b, self.drop = a, b, drop
        self.now = 0.0
        self.wire: list[tuple[str, bytes]] = []  # (sender class, packet) in order

    def start(self) -> None:
        self.a.start(self.now)
        self.b.start(self.now)
        self.flush()

    def flush(self) -> None:
        moved = True
        while moved:
            moved = False
            for src, dst in ((self.a, self.b), (self.b, self.a)):
                for packet in src.packets_to_send():
                    moved = True
                    self.wire.append((type(src).__name__, packet))
                    if not self.drop(src, packet):
                        dst.receive(packet, self.now)

    def run(self, until: float) -> None:
        """Fire timers in deadline order up to ``until``, moving packets after each."""
        self.flush()
        while True:
            deadlines = [t for m in (self.a, self.b) if (t := m.get_timer()) is not None]
            if not deadlines or min(deadlines) > until:
                break
            self.now = min(deadlines)
            for machine in (self.a, self.b):
                machine.handle_timer(self.now)
            self.flush()
        self.now = until


def drive_alone(machine: Machine, until: float) -> list[bytes]:
    """Run one machine with nobody listening; return everything it sent."""
    sent = machine.packets_to_send()
    while (deadline := machine.get_timer()) is not None and deadline <= until:
        machine.handle_timer(deadline)
        sent += machine.packets_to_send()
    return sent


# --- PAP ---


def test_pap_back_to_back_success() -> None:
    peer = PapPeer("bob", "hunter2")
    authenticator = PapAuthenticator(pap_check)
    pair = Pair(peer, authenticator)
    pair.start()
    assert events(peer) == [AuthSucceeded("bob")]
    assert events(authenticator) == [AuthSucceeded("bob")]
    assert peer.done and authenticator.done
    assert peer.state is authenticator.state is AuthState.OPEN
    assert peer.get_timer() is None and authenticator.get_timer() is None
    request = PapRequest.parse(pair.wire[0][1])
    assert request == PapRequest(1, b"bob", b"hunter2")
    assert PapReply.parse(pair.wire[1][1]) == PapReply(PapCode.AUTHENTICATE_ACK, 1, b"Login ok")
    assert peer.stats["tx"] == 1 and peer.stats["rx"] == 1
    assert PapPeer.protocol == PapAuthenticator.protocol == PppProtocol.PAP


def test_pap_wrong_password_fails_both_sides() -> None:
    peer = PapPeer("bob", "guess")
    authenticator = PapAuthenticator(pap_check)
    Pair(peer, authenticator).start()
    assert events(authenticator) == [AuthFailed("peer 'bob' sent a wrong password")]
    assert events(peer) == [AuthFailed("PAP rejected: Login incorrect")]
    assert peer.state is authenticator.state is AuthState.FAILED
    assert peer.done and authenticator.done
    assert peer.get_timer() is None and authenticator.get_timer() is None


def test_pap_check_gets_decoded_peer_id_and_raw_password() -> None:
    seen: list[tuple[str, bytes]] = []

    def check(peer_id: str, password: bytes) -> bool:
        seen.append((peer_id, password))
        return True

    Pair(PapPeer("jöns", "pässword"), PapAuthenticator(check)).start()
    assert seen == [("jöns", "pässword".encode())]


def test_pap_peer_retransmits_with_new_identifiers_then_gives_up() -> None:
    peer = PapPeer("bob", "hunter2", restart=3.0, max_requests=10)
    peer.start(100.0)
    assert peer.get_timer() == 103.0
    sent = drive_alone(peer, until=1000.0)
    requests = [PapRequest.parse(p) for p in sent]
    # RFC 1334 §2.2.1: a new Identifier each time a request is issued.
    assert [r.identifier for r in requests] == list(range(1, 11))
    assert {(r.peer_id, r.password) for r in requests} == {(b"bob", b"hunter2")}
    assert events(peer) == [AuthFailed("no answer after 10 requests")]
    assert peer.stats["retransmits"] == 9
    assert peer.get_timer() is None
    assert peer.state is AuthState.FAILED


def test_pap_peer_timer_is_a_no_op_before_its_deadline() -> None:
    peer = PapPeer("bob", "hunter2")
    peer.start(0.0)
    peer.packets_to_send()
    peer.handle_timer(2.9)
    assert peer.packets_to_send() == []
    assert peer.get_timer() == 3.0


def test_pap_lost_ack_is_answered_again_and_reported_once() -> None:
    peer = PapPeer("bob", "hunter2")
    authenticator = PapAuthenticator(pap_check)
    pair = Pair(peer, authenticator, drop_first(PapCode.AUTHENTICATE_ACK, PapAuthenticator))
    pair.start()
    assert events(authenticator) == [AuthSucceeded("bob")]
    assert events(peer) == []
    pair.run(until=60.0)
    # The retransmitted request (identifier 2) got an Ack with its own identifier.
    acks = [PapReply.parse(p) for who, p in pair.wire if who == "PapAuthenticator"]
    assert [(a.code, a.identifier) for a in acks] == [
        (PapCode.AUTHENTICATE_ACK, 1),
        (PapCode.AUTHENTICATE_ACK, 2),
    ]
    assert events(peer) == [AuthSucceeded("bob")]
    assert events(authenticator) == []
    assert authenticator.stats["duplicates"] == 1
    assert peer.stats["retransmits"] == 1


def test_pap_late_ack_to_an_earlier_request_counts() -> None:
    peer = PapPeer("bob", "hunter2")
    peer.start(0.0)
    peer.handle_timer(3.0)
    assert len(peer.packets_to_send()) == 2  # identifiers 1 and 2
    peer.receive(PapReply(PapCode.AUTHENTICATE_ACK, 1).build(), 3.5)
    assert events(peer) == [AuthSucceeded("bob")]
    # The Ack to the retransmission arrives too: nothing new.
    peer.receive(PapReply(PapCode.AUTHENTICATE_ACK, 2).build(), 3.6)
    assert events(peer) == []
    assert peer.stats["duplicates"] == 1


def test_pap_peer_ignores_reply_to_identifier_never_sent() -> None:
    peer = PapPeer("bob", "hunter2")
    peer.start(0.0)
    peer.receive(PapReply(PapCode.AUTHENTICATE_NAK, 77, b"no").build(), 0.1)
    assert events(peer) == []
    assert peer.stats["ignored"] == 1
    assert peer.state is AuthState.REQUEST_SENT


def test_pap_nak_sticks_for_later_requests() -> None:
    authenticator = PapAuthenticator(pap_check)
    authenticator.start(0.0)
    authenticator.receive(PapRequest(1, b"bob", b"wrong").build(), 1.0)
    # Even the right password gets a Nak now: the verdict was given.
    authenticator.receive(PapRequest(2, b"bob", b"hunter2").build(), 2.0)
    replies = [PapReply.parse(p) for p in authenticator.packets_to_send()]
    assert [(r.code, r.identifier) for r in replies] == [
        (PapCode.AUTHENTICATE_NAK, 1),
        (PapCode.AUTHENTICATE_NAK, 2),
    ]
    assert events(authenticator) == [AuthFailed("peer 'bob' sent a wrong password")]


def test_pap_duplicate_requests_after_ack_are_acked_again() -> None:
    authenticator = PapAuthenticator(pap_check)
    authenticator.start(0.0)
    for identifier in (5, 6, 6):
        authenticator.receive(PapRequest(identifier, b"bob", b"hunter2").build(), 1.0)
    replies = [PapReply.parse(p) for p in authenticator.packets_to_send()]
    assert [(r.ack, r.identifier) for r in replies] == [(True, 5), (True, 6), (True, 6)]
    assert events(authenticator) == [AuthSucceeded("bob")]
    assert authenticator.stats["duplicates"] == 2


def test_pap_authenticator_times_out_without_a_request() -> None:
    authenticator = PapAuthenticator(pap_check, timeout=30.0)
    authenticator.start(10.0)
    assert authenticator.get_timer() == 40.0
    authenticator.handle_timer(40.0)
    assert events(authenticator) == [AuthFailed("peer never authenticated within 30 s")]
    assert authenticator.get_timer() is None
    # A late request is refused.
    authenticator.receive(PapRequest(1, b"bob", b"hunter2").build(), 41.0)
    (reply,) = authenticator.packets_to_send()
    assert not PapReply.parse(reply).ack


def test_pap_request_before_start_is_ignored() -> None:
    authenticator = PapAuthenticator(pap_check)
    authenticator.receive(PapRequest(1, b"bob", b"hunter2").build(), 0.0)
    assert authenticator.packets_to_send() == []
    assert authenticator.stats["ignored"] == 1


def test_pap_machines_ignore_the_other_roles_packets() -> None:
    peer = PapPeer("bob", "hunter2")
    peer.start(0.0)
    peer.receive(PapRequest(1, b"x", b"y").build(), 0.0)
    authenticator = PapAuthenticator(pap_check)
    authenticator.start(0.0)
    authenticator.receive(PapReply(PapCode.AUTHENTICATE_ACK, 1).build(), 0.0)
    assert peer.stats["ignored"] == authenticator.stats["ignored"] == 1
    assert authenticator.packets_to_send() == []


def test_pap_peer_rejects_oversize_credentials() -> None:
    with pytest.raises(ValueError):
        PapPeer("x" * 256, "pw")
    with pytest.raises(ValueError):
        PapPeer("bob", "p" * 256)


# --- CHAP ---


def chap_pair(
    *,
    secret: bytes | str = b"S3cr3t",
    user: str = "bob",
    seed: int = 1,
    drop: Drop = never,
    rechallenge: float | None = None,
) -> tuple[ChapAuthenticator, ChapPeer, Pair, dict[str, bytes]]:
    secrets = {"bob": b"S3cr3t"}
    authenticator = ChapAuthenticator(secrets.get, random.Random(seed), rechallenge=rechallenge)
    peer = ChapPeer(user, secret)
    return authenticator, peer, Pair(authenticator, peer, drop), secrets


def test_chap_back_to_back_success() -> None:
    authenticator, peer, pair, _ = chap_pair()
    pair.start()
    assert events(authenticator) == [AuthSucceeded("bob")]
    assert events(peer) == [AuthSucceeded("bob")]
    assert authenticator.state is peer.state is AuthState.OPEN
    assert authenticator.done and peer.done
    assert authenticator.peer_name == "bob"
    assert authenticator.get_timer() is None and peer.get_timer() is None
    challenge = ChapChallenge.parse(pair.wire[0][1])
    response = ChapResponse.parse(pair.wire[1][1])
    result = ChapResult.parse(pair.wire[2][1])
    assert challenge.name == b"netstack" and len(challenge.value) == 16
    # RFC 1994 §4.1, computed here independently of the machines.
    expected = hashlib.md5(bytes([challenge.identifier]) + b"S3cr3t" + challenge.value).digest()
    assert response == ChapResponse(challenge.identifier, expected, b"bob")
    assert result == ChapResult(ChapCode.SUCCESS, challenge.identifier, b"Access granted")
    assert ChapPeer.protocol == ChapAuthenticator.protocol == PppProtocol.CHAP


def test_chap_secret_as_str_is_utf8() -> None:
    _, peer, pair, _ = chap_pair(secret="S3cr3t")
    pair.start()
    assert events(peer) == [AuthSucceeded("bob")]


def test_chap_challenge_is_deterministic_per_seed_and_never_uses_global_random(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*_args: object) -> None:
        raise AssertionError("the global random was used")

    for name in ("random", "randrange", "randint", "randbytes", "getrandbits", "choice"):
        monkeypatch.setattr(random, name, forbidden)

    def first_challenge(seed: int) -> bytes:
        authenticator = ChapAuthenticator(USERS.get, random.Random(seed))
        authenticator.start(0.0)
        (packet,) = authenticator.packets_to_send()
        return packet

    assert first_challenge(7) == first_challenge(7)
    assert first_challenge(7) != first_challenge(8)
    assert len(ChapChallenge.parse(first_challenge(7)).value) == 16


def test_chap_wrong_secret_fails_both_sides() -> None:
    authenticator, peer, pair, _ = chap_pair(secret=b"guess")
    pair.start()
    assert events(authenticator) == [AuthFailed("peer 'bob' sent a wrong CHAP response")]
    assert events(peer) == [AuthFailed("CHAP failure: Access denied")]
    assert authenticator.state is peer.state is AuthState.FAILED
    assert authenticator.get_timer() is None and peer.get_timer() is None


def test_chap_unknown_name_fails() -> None:
    authenticator, peer, pair, _ = chap_pair(user="mallory")
    pair.start()
    assert events(authenticator) == [AuthFailed("unknown peer name 'mallory'")]
    assert events(peer) == [AuthFailed("CHAP failure: Access denied")]


def test_chap_responses_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    chap_pair()[2].start()
    assert len(calls) == 1


def test_chap_authenticator_retransmits_same_challenge_then_gives_up() -> None:
    authenticator = ChapAuthenticator(USERS.get, random.Random(3), restart=2.0)
    authenticator.start(0.0)
    sent = drive_alone(authenticator, until=100.0)
    assert len(sent) == 10
    assert len(set(sent)) == 1  # same Identifier, same value (as pppd)
    assert events(authenticator) == [AuthFailed("no answer after 10 challenges")]
    assert authenticator.stats["retransmits"] == 9
    assert authenticator.get_timer() is None


def test_chap_lost_response_reanswered_with_the_same_response() -> None:
    authenticator, peer, pair, _ = chap_pair(drop=drop_first(ChapCode.RESPONSE, ChapPeer))
    pair.start()
    assert events(authenticator) == []
    pair.run(until=10.0)
    responses = [p for who, p in pair.wire if who == "ChapPeer"]
    assert len(responses) == 2 and responses[0] == responses[1]
    assert peer.stats["duplicates"] == 1
    assert events(authenticator) == [AuthSucceeded("bob")]
    assert events(peer) == [AuthSucceeded("bob")]


def test_chap_lost_success_recovered_by_the_duplicate_response() -> None:
    # The first Response is slow, so the Challenge is retransmitted and answered twice;
    # the first Success is lost and the duplicate Response brings the same Success again
    # (RFC 1994 §4.1 implementation note).
    authenticator = ChapAuthenticator(USERS.get, random.Random(5))
    peer = ChapPeer("bob", "hunter2")
    authenticator.start(0.0)
    peer.start(0.0)
    (challenge,) = authenticator.packets_to_send()
    peer.receive(challenge, 0.1)
    (slow_response,) = peer.packets_to_send()
    authenticator.handle_timer(3.0)
    (again,) = authenticator.packets_to_send()
    assert again == challenge
    peer.receive(again, 3.1)
    (duplicate,) = peer.packets_to_send()
    authenticator.receive(slow_response, 3.2)
    (lost_success,) = authenticator.packets_to_send()
    authenticator.receive(duplicate, 3.3)
    (success,) = authenticator.packets_to_send()
    assert success == lost_success and ChapResult.parse(success).success
    assert events(authenticator) == [AuthSucceeded("bob")]
    assert authenticator.stats["duplicates"] == 1
    peer.receive(success, 3.4)
    assert events(peer) == [AuthSucceeded("bob")]


def test_chap_repeated_response_gets_the_same_code_without_rechecking() -> None:
    authenticator, _, pair, _ = chap_pair()
    pair.start()
    challenge = ChapChallenge.parse(pair.wire[0][1])
    events(authenticator)
    # Same identifier, garbage value: still Success (the same reply code, RFC 1994 §4.1).
    authenticator.receive(ChapResponse(challenge.identifier, b"x" * 16, b"eve").build(), 1.0)
    (reply,) = authenticator.packets_to_send()
    assert ChapResult.parse(reply).success
    assert events(authenticator) == []


def test_chap_repeated_response_after_failure_gets_failure_again() -> None:
    authenticator, _, pair, _ = chap_pair(secret=b"guess")
    pair.start()
    challenge = ChapChallenge.parse(pair.wire[0][1])
    right = chap_md5_response(challenge.identifier, b"S3cr3t", challenge.value)
    authenticator.receive(ChapResponse(challenge.identifier, right, b"bob").build(), 1.0)
    (reply,) = authenticator.packets_to_send()
    assert ChapResult.parse(reply).code == ChapCode.FAILURE
    assert len(events(authenticator)) == 1


def test_chap_response_to_another_identifier_is_discarded() -> None:
    authenticator = ChapAuthenticator(USERS.get, random.Random(1))
    authenticator.start(0.0)
    challenge = ChapChallenge.parse(authenticator.packets_to_send()[0])
    other = (challenge.identifier + 1) & 0xFF
    value = chap_md5_response(other, b"hunter2", challenge.value)
    authenticator.receive(ChapResponse(other, value, b"bob").build(), 0.5)
    assert authenticator.packets_to_send() == []
    assert authenticator.stats["ignored"] == 1
    assert authenticator.state is AuthState.CHALLENGE_SENT


def test_chap_rechallenge_after_success() -> None:
    authenticator, peer, pair, _ = chap_pair(rechallenge=60.0)
    pair.start()
    assert authenticator.get_timer() == 60.0
    first = ChapChallenge.parse(pair.wire[0][1])
    events(authenticator), events(peer)
    pair.run(until=130.0)
    sent = [parse_chap(p) for who, p in pair.wire if who == "ChapAuthenticator"]
    challenges = [c for c in sent if isinstance(c, ChapChallenge)]
    assert [c.identifier for c in challenges] == [
        first.identifier,
        (first.identifier + 1) & 0xFF,
        (first.identifier + 2) & 0xFF,
    ]
    assert len({c.value for c in challenges}) == 3  # a new value every time
    assert authenticator.stats["rechallenges"] == peer.stats["rechallenges"] == 2
    assert events(authenticator) == [] and events(peer) == []  # nothing new to report
    assert authenticator.state is peer.state is AuthState.OPEN
    assert authenticator.get_timer() == 180.0


def test_chap_failed_rechallenge_reports_failure_on_both_sides() -> None:
    authenticator, peer, pair, secrets = chap_pair(rechallenge=60.0)
    pair.start()
    events(authenticator), events(peer)
    secrets["bob"] = b"changed"
    pair.run(until=61.0)
    assert events(authenticator) == [AuthFailed("peer 'bob' failed a rechallenge: wrong response")]
    assert events(peer) == [AuthFailed("CHAP failure: Access denied")]
    assert authenticator.state is peer.state is AuthState.FAILED
    assert authenticator.get_timer() is None


def test_chap_unanswered_rechallenge_fails() -> None:
    authenticator, peer, pair, _ = chap_pair(rechallenge=60.0)
    pair.start()
    events(authenticator)
    peer.stop()
    pair.run(until=200.0)
    assert events(authenticator) == [AuthFailed("no answer after 10 challenges")]
    assert authenticator.state is AuthState.FAILED


def test_chap_rechallenge_answered_under_another_name_fails() -> None:
    authenticator = ChapAuthenticator(
        {"bob": b"b", "eve": b"e"}.get, random.Random(2), rechallenge=10.0
    )
    authenticator.start(0.0)
    first = ChapChallenge.parse(authenticator.packets_to_send()[0])
    value = chap_md5_response(first.identifier, b"b", first.value)
    authenticator.receive(ChapResponse(first.identifier, value, b"bob").build(), 1.0)
    authenticator.handle_timer(11.0)
    second = ChapChallenge.parse(authenticator.packets_to_send()[-1])
    value = chap_md5_response(second.identifier, b"e", second.value)
    authenticator.receive(ChapResponse(second.identifier, value, b"eve").build(), 12.0)
    assert events(authenticator) == [
        AuthSucceeded("bob"),
        AuthFailed("peer 'bob' answered a rechallenge as 'eve'"),
    ]


def test_chap_peer_times_out_without_a_challenge() -> None:
    peer = ChapPeer("bob", b"S3cr3t", timeout=30.0)
    peer.start(5.0)
    assert peer.get_timer() == 35.0
    peer.handle_timer(35.0)
    assert events(peer) == [AuthFailed("no CHAP challenge within 30 s")]
    assert peer.state is AuthState.FAILED


def test_chap_peer_times_out_without_a_result() -> None:
    peer = ChapPeer("bob", b"S3cr3t", timeout=30.0)
    peer.start(0.0)
    peer.receive(ChapChallenge(9, b"abc", b"nas").build(), 1.0)
    assert len(peer.packets_to_send()) == 1
    peer.handle_timer(30.0)
    assert events(peer) == [AuthFailed("no CHAP Success or Failure within 30 s")]


def test_chap_peer_ignores_results_for_other_identifiers() -> None:
    peer = ChapPeer("bob", b"S3cr3t")
    peer.start(0.0)
    peer.receive(ChapResult(ChapCode.SUCCESS, 9).build(), 0.5)  # before any challenge
    peer.receive(ChapChallenge(9, b"abc").build(), 1.0)
    peer.receive(ChapResult(ChapCode.FAILURE, 10).build(), 1.5)
    assert events(peer) == []
    assert peer.stats["ignored"] == 2
    peer.receive(ChapResult(ChapCode.SUCCESS, 9).build(), 2.0)
    assert events(peer) == [AuthSucceeded("bob")]
    peer.receive(ChapResult(ChapCode.SUCCESS, 9).build(), 2.5)  # a repeated Success
    assert events(peer) == []


def test_chap_peer_answers_a_new_challenge_while_waiting() -> None:
    peer = ChapPeer("bob", b"S3cr3t")
    peer.start(0.0)
    peer.receive(ChapChallenge(1, b"one").build(), 0.1)
    peer.receive(ChapChallenge(2, b"two").build(), 0.2)
    first, second = (ChapResponse.parse(p) for p in peer.packets_to_send())
    assert first.value == chap_md5_response(1, b"S3cr3t", b"one")
    assert second.value == chap_md5_response(2, b"S3cr3t", b"two")
    peer.receive(ChapResult(ChapCode.SUCCESS, 1).build(), 0.3)  # the old one's: ignored
    assert events(peer) == []
    peer.receive(ChapResult(ChapCode.SUCCESS, 2).build(), 0.4)
    assert events(peer) == [AuthSucceeded("bob")]


def test_chap_machines_ignore_the_other_roles_packets() -> None:
    peer = ChapPeer("bob", b"S3cr3t")
    peer.start(0.0)
    peer.receive(ChapResponse(1, b"v", b"x").build(), 0.0)
    authenticator = ChapAuthenticator(USERS.get, random.Random(1))
    authenticator.start(0.0)
    authenticator.packets_to_send()
    authenticator.receive(ChapChallenge(1, b"v").build(), 0.0)
    authenticator.receive(ChapResult(ChapCode.SUCCESS, 1).build(), 0.0)
    assert peer.stats["ignored"] == 1 and authenticator.stats["ignored"] == 2
    assert peer.packets_to_send() == [] and authenticator.packets_to_send() == []


def test_chap_authenticator_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        ChapAuthenticator(USERS.get, random.Random(1), challenge_len=0)
    with pytest.raises(ValueError):
        ChapAuthenticator(USERS.get, random.Random(1), rechallenge=0.0)


# --- all four ---


def make_all() -> list[Machine]:
    return [
        PapPeer("bob", "hunter2"),
        PapAuthenticator(pap_check),
        ChapPeer("bob", b"S3cr3t"),
        ChapAuthenticator(USERS.get, random.Random(1)),
    ]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize(
    "junk",
    [b"", b"\x01", b"\x01\x01\x00\x03", b"\x09\x01\x00\x04", b"\x01\x01\x00\x09\x00"],
)
def test_malformed_packets_are_counted_and_ignored(index: int, junk: bytes) -> None:
    machine = make_all()[index]
    machine.start(0.0)
    before = machine.packets_to_send()
    machine.receive(junk, 0.5)
    assert machine.stats["malformed"] == 1 and machine.stats["rx"] == 1
    assert machine.packets_to_send() == [] and events(machine) == []
    assert machine.state is not AuthState.FAILED
    assert len(before) <= 1


@pytest.mark.parametrize("index", range(4))
def test_stop_ends_timers_and_output(index: int) -> None:
    machine = make_all()[index]
    machine.start(0.0)
    machine.stop()
    assert machine.state is AuthState.STOPPED
    assert machine.get_timer() is None
    assert machine.packets_to_send() == []
    machine.handle_timer(1000.0)
    for packet in (
        PapRequest(1, b"bob", b"hunter2").build(),
        PapReply(PapCode.AUTHENTICATE_ACK, 1).build(),
        ChapChallenge(1, b"v").build(),
        ChapResult(ChapCode.SUCCESS, 1).build(),
    ):
        machine.receive(packet, 1000.0)
    assert machine.packets_to_send() == [] and events(machine) == []
    assert not machine.done
    with pytest.raises(AuthStateError):
        machine.start(1000.0)


@pytest.mark.parametrize("index", range(4))
def test_start_twice_is_a_caller_bug(index: int) -> None:
    machine = make_all()[index]
    machine.start(0.0)
    with pytest.raises(AuthStateError):
        machine.start(1.0)


@pytest.mark.parametrize("cls", [PapPeer, PapAuthenticator, ChapPeer, ChapAuthenticator])
def test_transition_tables_stop_from_everywhere(
    cls: type[PapPeer] | type[PapAuthenticator] | type[ChapPeer] | type[ChapAuthenticator],
) -> None:
    table = cls.TRANSITIONS
    assert (AuthState.INITIAL, AuthInput.START) in table
    for state in AuthState:
        if state is not AuthState.STOPPED:
            assert table[state, AuthInput.STOP] == frozenset((AuthState.STOPPED,))
    assert not any(state is AuthState.STOPPED for state, _ in table)


def test_both_directions_on_one_link() -> None:
    """We authenticate them with CHAP while they authenticate us with PAP: four machines,
    two per end, as a PPP connection runs them in the Authenticate phase."""
    our_chap = ChapAuthenticator({"them": b"their secret"}.get, random.Random(9), name="us")
    our_pap = PapPeer("us", "our password")
    their_chap = ChapPeer("them", b"their secret")
    their_pap = PapAuthenticator(lambda name, pw: (name, pw) == ("us", b"our password"))
    chap = Pair(our_chap, their_chap)
    pap = Pair(our_pap, their_pap)
    chap.start()
    pap.start()
    assert [events(m) for m in (our_chap, our_pap, their_chap, their_pap)] == [
        [AuthSucceeded("them")],
        [AuthSucceeded("us")],
        [AuthSucceeded("them")],
        [AuthSucceeded("us")],
    ]
