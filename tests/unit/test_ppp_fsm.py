"""The RFC 1661 §4 option negotiation automaton, driven with explicit ``now``.

The expected state transition table below is transcribed from RFC 1661 §4.1 independently
of ``fsm.TRANSITIONS``; it is checked twice: against the table itself, cell by cell, and
against what the automaton does when each event is delivered through its public surface
(packets, ``up``/``down``/``open``/``close``, the restart timer)."""

from __future__ import annotations

import pytest

from netstack.stacks.ip.ppp.fsm import (
    TRANSITIONS,
    Action,
    Automaton,
    Event,
    FsmConfig,
    LayerDown,
    LayerFinished,
    LayerStarted,
    LayerUp,
    Options,
    State,
    Verdict,
)
from netstack.wire.ppp import ControlCode, build_options
from ppp_packets import Packet, events, packet, request, sent

# RFC 1661 §4.1 "State Transition Table", printed there in two parts (states 0-5, 6-9). "-" is
# an impossible event; a cell is "actions/next-state"; the suffixes r (restart option), p
# (passive option) and x (crossed connection) mark notes that do not change the cell.
RFC1661_TABLE_A = """
       Initial  Starting   Closed   Stopped        Closing  Stopping
Up     2        irc,scr/6  -        -              -        -
Down   -        -          0        tls/1          0        1
Open   tls/1    1          irc,scr/6 3r            5r       5r
Close  0        tlf/0      2        2              4        4
TO+    -        -          -        -              str/4    str/5
TO-    -        -          -        -              tlf/2    tlf/3
RCR+   -        -          sta/2    irc,scr,sca/8  4        5
RCR-   -        -          sta/2    irc,scr,scn/6  4        5
RCA    -        -          sta/2    sta/3          4        5
RCN    -        -          sta/2    sta/3          4        5
RTR    -        -          sta/2    sta/3          sta/4    sta/5
RTA    -        -          2        3              tlf/2    tlf/3
RUC    -        -          scj/2    scj/3          scj/4    scj/5
RXJ+   -        -          2        3              4        5
RXJ-   -        -          tlf/2    tlf/3          tlf/2    tlf/3
RXR    -        -          2        3              4        5
"""
RFC1661_TABLE_B = """
       Req-Sent   Ack-Rcvd   Ack-Sent   Opened
Up     -          -          -          -
Down   1          1          1          tld/1
Open   6          7          8          9r
Close  irc,str/4  irc,str/4  irc,str/4  tld,irc,str/4
TO+    scr/6      scr/6      scr/8      -
TO-    tlf/3p     tlf/3p     tlf/3p     -
RCR+   sca/8      sca,tlu/9  sca/8      tld,scr,sca/8
RCR-   scn/6      scn/7      scn/6      tld,scr,scn/6
RCA    irc/7      scr/6x     irc,tlu/9  tld,scr/6x
RCN    irc,scr/6  scr/6x     irc,scr/8  tld,scr/6x
RTR    sta/6      sta/6      sta/6      tld,zrc,sta/5
RTA    6          6          8          tld,scr/6
RUC    scj/6      scj/7      scj/8      scj/9
RXJ+   6          6          8          9
RXJ-   tlf/3      tlf/3      tlf/3      tld,irc,str/5
RXR    6          7          8          ser/9
"""

ACTION_NAMES = {
    "tlu": Action.TLU,
    "tld": Action.TLD,
    "tls": Action.TLS,
    "tlf": Action.TLF,
    "irc": Action.IRC,
    "zrc": Action.ZRC,
    "scr": Action.SCR,
    "sca": Action.SCA,
    "scn": Action.SCN,
    "str": Action.STR,
    "sta": Action.STA,
    "scj": Action.SCJ,
    "ser": Action.SER,
}
EVENT_NAMES = {event.value: event for event in Event}
COLUMNS = list(State)  # 0 Initial … 9 Opened, the RFC's order


def parse_rfc_table() -> dict[tuple[State, Event], tuple[tuple[Action, ...], State] | None]:
    table: dict[tuple[State, Event], tuple[tuple[Action, ...], State] | None] = {}
    for text, columns in ((RFC1661_TABLE_A, COLUMNS[:6]), (RFC1661_TABLE_B, COLUMNS[6:])):
        for line in text.strip().splitlines()[1:]:
            name, *cells = line.split()
            for state, cell in zip(columns, cells, strict=True):
                key = (state, EVENT_NAMES[name])
                if cell == "-":
                    table[key] = None
                    continue
                cell = cell.rstrip("rpx")
                actions, _, target = cell.rpartition("/")
                acts = tuple(ACTION_NAMES[a] for a in actions.split(",")) if actions else ()
                table[key] = (acts, State(int(target)))
    return table


EXPECTED = parse_rfc_table()
TIMED = {State.CLOSING, State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT}


def test_rfc_table_transcription_covers_every_cell() -> None:
    assert len(EXPECTED) == len(State) * len(Event) == 160


@pytest.mark.parametrize("key", sorted(EXPECTED, key=lambda k: (k[1].value, k[0])))
def test_transitions_table_matches_rfc1661_cell(key: tuple[State, Event]) -> None:
    assert TRANSITIONS.get(key) == EXPECTED[key]


# --- a minimal protocol: option 1 carries one octet --------------------------------------

PROTO = 0x8021
OPT = 1


class Toy(Automaton):
    """Asks for option 1 = ``want``; Acks a peer's option 1 when its value is in
    ``accept`` (all when None) and Naks it to ``suggest`` otherwise; Rejects the rest."""

    protocol = PROTO
    name = "TOY"

    def __init__(
        self,
        config: FsmConfig | None = None,
        *,
        want: bytes | None = b"\x01",
        accept: set[bytes] | None = None,
        suggest: bytes = b"\x01",
        require: bool = False,
        needed: Options | None = None,
    ) -> None:
        super().__init__(config)
        self.want = want
        self.accept = accept
        self.suggest = suggest
        self.require = require
        self.needed = needed or []
        self.acked: Options | None = None
        self.peer_options: Options | None = None

    def request_options(self) -> Options:
        return [] if self.want is None else [(OPT, self.want)]

    def check_option(self, kind: int, value: bytes) -> tuple[Verdict, bytes]:
        if kind != OPT:
            return Verdict.REJECT, value
        if self.accept is None or value in self.accept:
            return Verdict.ACK, value
        return Verdict.NAK, self.suggest

    def missing_options(self, present: set[int]) -> Options:
        return [o for o in self.needed if o[0] not in present]

    def apply_ack(self, options: Options) -> None:
        self.acked = options

    def apply_nak(self, options: Options) -> bool:
        for kind, value in options:
            if kind == OPT:
                self.want = value
        return True

    def apply_reject(self, options: Options) -> bool:
        if any(kind == OPT for kind, _ in options):
            self.want = None
            return not self.require
        return True

    def accept_request(self, options: Options) -> None:
        self.peer_options = options


def started(machine: Toy | None = None, now: float = 0.0) -> tuple[Toy, Packet]:
    """A machine in Req-Sent after open+up, and its first Configure-Request."""
    machine = machine or Toy()
    machine.open(now)
    machine.up(now)
    (req,) = sent(machine)
    events(machine)
    return machine, req


def opened(machine: Toy | None = None) -> Toy:
    toy = machine or Toy()
    _, req = started(toy)
    toy.receive(packet(ControlCode.CONFIGURE_ACK, req.identifier, req.data), 0.5)
    toy.receive(request(0x40, [(OPT, b"\x07")]), 0.5)
    assert toy.state is State.OPENED
    sent(toy)
    events(toy)
    return toy


def pump(a: Automaton, b: Automaton, now: float, limit: int = 200) -> int:
    """Deliver packets both ways until both are quiet; returns how many moved."""
    moved = 0
    for _ in range(limit):
        out_a, out_b = a.packets_to_send(), b.packets_to_send()
        if not out_a and not out_b:
            return moved
        for raw in out_a:
            b.receive(raw, now)
        for raw in out_b:
            a.receive(raw, now)
        moved += len(out_a) + len(out_b)
    raise AssertionError("the machines never went quiet")


# --- every cell, driven through the public surface ----------------------------------------

CODE_OF = {
    Action.SCR: ControlCode.CONFIGURE_REQUEST,
    Action.SCA: ControlCode.CONFIGURE_ACK,
    Action.SCN: ControlCode.CONFIGURE_NAK,  # RCR- below is a Nak-able request
    Action.STR: ControlCode.TERMINATE_REQUEST,
    Action.STA: ControlCode.TERMINATE_ACK,
    Action.SCJ: ControlCode.CODE_REJECT,
}
LAYER_EVENT_OF = {
    Action.TLU: LayerUp,
    Action.TLD: LayerDown,
    Action.TLS: LayerStarted,
    Action.TLF: LayerFinished,
}
DRIVEN = [e for e in Event if e not in (Event.TO_PLUS, Event.TO_MINUS)]
SENTINEL_COUNT = 7


def deliver(toy: Toy, event: Event, req: Packet, now: float) -> None:
    """Cause ``event`` the way the world would."""
    if event is Event.UP:
        toy.up(now)
    elif event is Event.DOWN:
        toy.down(now)
    elif event is Event.OPEN:
        toy.open(now)
    elif event is Event.CLOSE:
        toy.close(now, "test close")
    elif event is Event.RCR_PLUS:
        toy.receive(request(0x80, [(OPT, b"\x01")]), now)
    elif event is Event.RCR_MINUS:
        toy.receive(request(0x80, [(OPT, b"\x09")]), now)
    elif event is Event.RCA:
        toy.receive(packet(ControlCode.CONFIGURE_ACK, req.identifier, req.data), now)
    elif event is Event.RCN:
        nak = build_options([(OPT, b"\x02")])
        toy.receive(packet(ControlCode.CONFIGURE_NAK, req.identifier, nak), now)
    elif event is Event.RTR:
        toy.receive(packet(ControlCode.TERMINATE_REQUEST, 0x81), now)
    elif event is Event.RTA:
        toy.receive(packet(ControlCode.TERMINATE_ACK, 0x82), now)
    elif event is Event.RUC:
        toy.receive(packet(0x42, 0x83, b"??"), now)
    elif event is Event.RXJ_PLUS:
        toy.receive(packet(ControlCode.CODE_REJECT, 0x84, packet(0x42, 9, b"x")), now)
    elif event is Event.RXJ_MINUS:
        rejected = packet(ControlCode.TERMINATE_ACK, 9)
        toy.receive(packet(ControlCode.CODE_REJECT, 0x85, rejected), now)
    elif event is Event.RXR:
        toy.rx_echo(now)
    else:  # pragma: no cover
        raise AssertionError(event)


def check_outcome(
    toy: Toy,
    state: State,
    event: Event,
    now: float,
    impossible_before: int,
) -> None:
    cell = EXPECTED[(state, event)]
    out = sent(toy)
    layer = events(toy)
    if cell is None:
        assert toy.state is state
        assert toy.stats["impossible_events"] == impossible_before + 1
        assert out == [] and layer == []
        return
    actions, target = cell
    assert toy.state is target
    assert toy.stats["impossible_events"] == impossible_before
    assert [p.code for p in out] == [CODE_OF[a] for a in actions if a in CODE_OF]
    assert [type(e) for e in layer] == [LAYER_EVENT_OF[a] for a in actions if a in LAYER_EVENT_OF]
    assert all(e.protocol == PROTO for e in layer)
    # irc/zrc and the decrement of every scr and str (RFC 1661 §4.4, §4.6)
    count = SENTINEL_COUNT
    if Action.IRC in actions:
        count = 2 if target in (State.CLOSING, State.STOPPING) else 10
    if Action.ZRC in actions:
        count = 0
    count -= sum(1 for a in actions if a in (Action.SCR, Action.STR))
    assert toy.restart_count == count
    if target not in TIMED:
        assert toy.get_timer() is None
    elif {Action.SCR, Action.STR, Action.ZRC} & set(actions):
        assert toy.get_timer() == now + 3.0


@pytest.mark.parametrize("event", DRIVEN, ids=lambda e: e.value)
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
def test_each_event_in_each_state_does_what_rfc1661_says(state: State, event: Event) -> None:
    toy, req = started(Toy(accept={b"\x01"}))
    toy.state = state  # put the machine in the cell's column
    toy.restart_count = SENTINEL_COUNT
    before = toy.stats["impossible_events"]
    deliver(toy, event, req, 1.0)
    check_outcome(toy, state, event, 1.0, before)


@pytest.mark.parametrize("plus", [True, False], ids=["TO+", "TO-"])
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
def test_each_timeout_in_each_state_does_what_rfc1661_says(state: State, plus: bool) -> None:
    toy, _ = started(Toy())  # the restart timer runs: due at 3.0
    toy.state = state
    toy.restart_count = 1 if plus else 0
    before = toy.stats["impossible_events"]
    toy.handle_timer(3.0)
    event = Event.TO_PLUS if plus else Event.TO_MINUS
    cell = EXPECTED[(state, event)]
    out, layer = sent(toy), events(toy)
    if cell is None:
        assert toy.state is state and out == [] and layer == []
        assert toy.stats["impossible_events"] == before + 1
        return
    actions, target = cell
    assert toy.state is target
    assert [p.code for p in out] == [CODE_OF[a] for a in actions if a in CODE_OF]
    assert [type(e) for e in layer] == [LAYER_EVENT_OF[a] for a in actions if a in LAYER_EVENT_OF]
    if plus:
        assert toy.restart_count == 0
        assert toy.get_timer() == 6.0
    else:
        assert toy.get_timer() is None


# --- behaviour: opening ------------------------------------------------------------------


def test_open_then_up_goes_initial_starting_req_sent() -> None:
    toy = Toy()
    assert toy.state is State.INITIAL
    toy.open(0.0)
    assert toy.state is State.STARTING
    assert events(toy) == [LayerStarted(PROTO)]
    assert sent(toy) == []
    assert toy.get_timer() is None
    toy.up(0.0)
    assert toy.state is State.REQ_SENT
    (req,) = sent(toy)
    assert req.code == ControlCode.CONFIGURE_REQUEST
    assert req.options == [(OPT, b"\x01")]
    assert toy.get_timer() == 3.0


def test_up_then_open_goes_initial_closed_req_sent() -> None:
    toy = Toy()
    toy.up(0.0)
    assert toy.state is State.CLOSED
    assert sent(toy) == [] and events(toy) == []
    toy.open(1.0)
    assert toy.state is State.REQ_SENT
    assert [p.code for p in sent(toy)] == [ControlCode.CONFIGURE_REQUEST]
    assert toy.get_timer() == 4.0


def test_two_machines_open_each_other() -> None:
    a, b = Toy(), Toy()
    for m in (a, b):
        m.open(0.0)
        m.up(0.0)
    pump(a, b, 0.0)
    assert a.state is b.state is State.OPENED
    assert a.acked == [(OPT, b"\x01")] and a.peer_options == [(OPT, b"\x01")]
    assert LayerUp(PROTO) in events(a) and LayerUp(PROTO) in events(b)
    assert a.get_timer() is None and b.get_timer() is None


# --- retransmission and give-up ----------------------------------------------------------


def test_configure_request_is_retransmitted_every_restart_with_the_same_identifier() -> None:
    toy, first = started(Toy())
    toy.handle_timer(2.999)  # not yet due
    assert sent(toy) == []
    times = []
    now = 0.0
    for _ in range(9):
        deadline = toy.get_timer()
        assert deadline == pytest.approx(now + 3.0)
        assert deadline is not None
        now = deadline
        toy.handle_timer(now)
        (again,) = sent(toy)
        assert again == first  # same identifier, same options (RFC 1661 §5.1)
        times.append(now)
    assert times == pytest.approx([3.0 * i for i in range(1, 10)])
    assert toy.stats["retransmits"] == 9
    assert toy.state is State.REQ_SENT


def test_gives_up_after_max_configure_requests_with_a_reason() -> None:
    toy, _ = started(Toy(FsmConfig(restart=2.0, max_configure=4)))
    requests = 1
    while (deadline := toy.get_timer()) is not None:
        toy.handle_timer(deadline)
        requests += len([p for p in sent(toy) if p.code == ControlCode.CONFIGURE_REQUEST])
        if toy.state is State.STOPPED:
            break
    assert requests == 4  # Max-Configure requests in all (RFC 1661 §4.6)
    assert deadline == 8.0
    assert toy.state is State.STOPPED  # TO- in Req-Sent: tlf/3
    (finished,) = events(toy)
    assert isinstance(finished, LayerFinished)
    assert finished.protocol == PROTO
    assert "no answer" in finished.reason
    assert toy.get_timer() is None


def test_a_new_request_after_a_nak_gets_a_new_identifier() -> None:
    toy, first = started(Toy())
    toy.handle_timer(3.0)
    sent(toy)
    assert toy.restart_count == 8
    nak = build_options([(OPT, b"\x05")])
    toy.receive(packet(ControlCode.CONFIGURE_NAK, first.identifier, nak), 4.0)
    (second,) = sent(toy)
    assert second.code == ControlCode.CONFIGURE_REQUEST
    assert second.identifier != first.identifier
    assert second.options == [(OPT, b"\x05")]
    assert toy.state is State.REQ_SENT
    assert toy.restart_count == 9  # RCN in Req-Sent: irc,scr
    assert toy.get_timer() == 7.0


# --- replies must match the request (RFC 1661 §5.2-5.4) ----------------------------------


def test_ack_with_wrong_identifier_is_ignored() -> None:
    toy, req = started(Toy())
    wrong = (req.identifier + 1) & 0xFF
    toy.receive(packet(ControlCode.CONFIGURE_ACK, wrong, req.data), 1.0)
    assert toy.state is State.REQ_SENT
    assert toy.stats["stale_replies"] == 1
    assert sent(toy) == [] and toy.acked is None


def test_ack_with_altered_options_is_ignored() -> None:
    toy, req = started(Toy())
    altered = build_options([(OPT, b"\x02")])
    toy.receive(packet(ControlCode.CONFIGURE_ACK, req.identifier, altered), 1.0)
    assert toy.state is State.REQ_SENT
    assert toy.stats["stale_replies"] == 1
    toy.receive(packet(ControlCode.CONFIGURE_ACK, req.identifier, req.data), 1.0)
    assert toy.state is State.ACK_RCVD
    assert toy.acked == [(OPT, b"\x01")]


def test_ack_of_an_older_request_is_ignored_after_a_nak() -> None:
    toy, first = started(Toy())
    nak = build_options([(OPT, b"\x05")])
    toy.receive(packet(ControlCode.CONFIGURE_NAK, first.identifier, nak), 1.0)
    sent(toy)
    toy.receive(packet(ControlCode.CONFIGURE_ACK, first.identifier, first.data), 1.5)
    assert toy.state is State.REQ_SENT
    assert toy.stats["stale_replies"] == 1


def test_nak_with_wrong_identifier_is_ignored() -> None:
    toy, req = started(Toy())
    nak = build_options([(OPT, b"\x05")])
    toy.receive(packet(ControlCode.CONFIGURE_NAK, req.identifier ^ 0x55, nak), 1.0)
    assert sent(toy) == [] and toy.want == b"\x01"
    assert toy.stats["stale_replies"] == 1


def test_reject_drops_the_option_from_the_next_request() -> None:
    toy, req = started(Toy())
    toy.receive(packet(ControlCode.CONFIGURE_REJECT, req.identifier, req.data), 1.0)
    (again,) = sent(toy)
    assert again.code == ControlCode.CONFIGURE_REQUEST
    assert again.options == []
    assert again.identifier != req.identifier


def test_reject_of_an_option_we_did_not_request_is_ignored() -> None:
    toy, req = started(Toy())
    bogus = build_options([(OPT, b"\x09")])  # a Reject must list our options unchanged
    toy.receive(packet(ControlCode.CONFIGURE_REJECT, req.identifier, bogus), 1.0)
    assert sent(toy) == [] and toy.want == b"\x01"
    assert toy.state is State.REQ_SENT
    assert toy.stats["malformed"] == 1


def test_reject_of_a_required_option_closes_the_layer() -> None:
    toy, req = started(Toy(require=True))
    toy.receive(packet(ControlCode.CONFIGURE_REJECT, req.identifier, req.data), 1.0)
    assert toy.state is State.CLOSING
    assert [p.code for p in sent(toy)] == [ControlCode.TERMINATE_REQUEST]
    toy.receive(packet(ControlCode.TERMINATE_ACK, 0), 1.5)
    (finished,) = events(toy)
    assert isinstance(finished, LayerFinished)
    assert "refused" in finished.reason
    assert toy.state is State.CLOSED


# --- answering the peer's request ----------------------------------------------------------


def test_acceptable_request_is_acked_verbatim_with_its_identifier() -> None:
    toy, _ = started(Toy())
    toy.receive(request(0x33, [(OPT, b"\x04")]), 1.0)
    (ack,) = sent(toy)
    assert (ack.code, ack.identifier, ack.options) == (
        ControlCode.CONFIGURE_ACK,
        0x33,
        [(1, b"\x04")],
    )
    assert toy.state is State.ACK_SENT
    assert toy.peer_options == [(OPT, b"\x04")]


def test_unknown_option_is_rejected_and_rejects_win_over_naks() -> None:
    toy, _ = started(Toy(accept={b"\x01"}))
    toy.receive(request(0x34, [(OPT, b"\x09"), (9, b"ab")]), 1.0)
    (rej,) = sent(toy)
    assert (rej.code, rej.identifier, rej.options) == (
        ControlCode.CONFIGURE_REJECT,
        0x34,
        [(9, b"ab")],
    )
    assert toy.state is State.REQ_SENT
    assert toy.stats["rejects_sent"] == 1


def test_unacceptable_value_is_naked_with_a_suggestion() -> None:
    toy, _ = started(Toy(accept={b"\x01"}, suggest=b"\x01"))
    toy.receive(request(0x35, [(OPT, b"\x09")]), 1.0)
    (nak,) = sent(toy)
    assert (nak.code, nak.identifier, nak.options) == (
        ControlCode.CONFIGURE_NAK,
        0x35,
        [(1, b"\x01")],
    )
    assert toy.stats["naks_sent"] == 1


def test_missing_option_may_be_naked_into_a_request() -> None:
    toy, _ = started(Toy(needed=[(OPT, b"\x03")]))
    toy.receive(request(0x36, []), 1.0)
    (nak,) = sent(toy)
    assert (nak.code, nak.options) == (ControlCode.CONFIGURE_NAK, [(OPT, b"\x03")])


def test_max_failure_turns_naks_into_rejects() -> None:
    toy, _ = started(Toy(FsmConfig(max_failure=3), accept={b"\x01"}))
    codes = []
    for ident in range(5):
        toy.receive(request(ident, [(OPT, b"\x09")]), 1.0)
        (reply,) = sent(toy)
        codes.append(reply.code)
    nak, rej = ControlCode.CONFIGURE_NAK, ControlCode.CONFIGURE_REJECT
    assert codes == [nak, nak, nak, rej, rej]
    assert reply.options == [(OPT, b"\x09")]  # the peer's option, unchanged (§5.4)


def test_max_failure_converges_when_both_sides_keep_naking() -> None:
    # A Nak-ing peer that is Nak-ed in turn: Max-Failure counts the Naks we send without
    # sending an Ack (RFC 1661 §4.6), whatever the peer answers to our own requests.
    config = FsmConfig(max_failure=3)
    # Each suggests a value it would not take itself: without Max-Failure, no end.
    a = Toy(config, want=b"\x0a", accept={b"\x0b"}, suggest=b"\x0e")
    b = Toy(config, want=b"\x0c", accept={b"\x0d"}, suggest=b"\x0f")
    for m in (a, b):
        m.open(0.0)
        m.up(0.0)
    pump(a, b, 0.0)
    assert a.state is b.state is State.OPENED
    assert a.stats["rejects_sent"] + b.stats["rejects_sent"] >= 1


def test_max_failure_acks_when_the_nak_was_for_a_missing_option() -> None:
    # Nothing of the peer's request can be Rejected: an empty Configure-Reject would never
    # converge, so the request is taken as it is.
    toy, _ = started(Toy(FsmConfig(max_failure=2), needed=[(OPT, b"\x03")]))
    codes = []
    for ident in range(3):
        toy.receive(request(ident, []), 1.0)
        codes.append([(p.code, p.options) for p in sent(toy)])
    nak = (ControlCode.CONFIGURE_NAK, [(OPT, b"\x03")])
    assert codes == [[nak], [nak], [(ControlCode.CONFIGURE_ACK, [])]]
    assert toy.state is State.ACK_SENT


def test_a_retransmitted_request_naked_again_is_not_a_new_failure() -> None:
    # The peer did not get our Nak and sent the same request again: nothing diverges.
    toy, _ = started(Toy(FsmConfig(max_failure=2), accept={b"\x01"}))
    for _ in range(6):
        toy.receive(request(0x21, [(OPT, b"\x09")]), 1.0)
        (reply,) = sent(toy)
        assert reply.code == ControlCode.CONFIGURE_NAK


def test_a_sent_ack_resets_the_failure_count() -> None:
    toy, _ = started(Toy(FsmConfig(max_failure=2), accept={b"\x01"}))
    for ident in range(2):
        toy.receive(request(ident, [(OPT, b"\x09")]), 1.0)
    toy.receive(request(5, [(OPT, b"\x01")]), 1.0)  # Acked
    sent(toy)
    toy.receive(request(6, [(OPT, b"\x09")]), 1.0)
    (reply,) = sent(toy)
    assert reply.code == ControlCode.CONFIGURE_NAK


# --- crossed connections --------------------------------------------------------------------


def test_request_in_ack_rcvd_opens_the_layer() -> None:
    toy, req = started(Toy())
    toy.receive(packet(ControlCode.CONFIGURE_ACK, req.identifier, req.data), 1.0)
    assert toy.state is State.ACK_RCVD
    assert toy.get_timer() == 3.0  # the timer keeps running (irc does not restart it)
    toy.receive(request(0x50, [(OPT, b"\x02")]), 1.2)
    assert [p.code for p in sent(toy)] == [ControlCode.CONFIGURE_ACK]
    assert toy.state is State.OPENED
    assert events(toy) == [LayerUp(PROTO)]
    assert toy.get_timer() is None


def test_ack_in_ack_sent_opens_the_layer() -> None:
    toy, req = started(Toy())
    toy.receive(request(0x51, [(OPT, b"\x02")]), 1.0)
    assert toy.state is State.ACK_SENT
    sent(toy)
    toy.receive(packet(ControlCode.CONFIGURE_ACK, req.identifier, req.data), 1.2)
    assert toy.state is State.OPENED
    assert sent(toy) == []
    assert events(toy) == [LayerUp(PROTO)]


def test_second_ack_in_ack_rcvd_restarts_negotiation() -> None:
    toy, req = started(Toy())
    ack = packet(ControlCode.CONFIGURE_ACK, req.identifier, req.data)
    toy.receive(ack, 1.0)
    sent(toy)
    toy.receive(ack, 1.1)  # a duplicate: RCA in Ack-Rcvd is scr/6 ("x", RFC 1661 §4.1)
    assert toy.state is State.REQ_SENT
    (again,) = sent(toy)
    assert again.code == ControlCode.CONFIGURE_REQUEST
    assert again.identifier != req.identifier  # a valid reply was received (§5.1)
    toy.receive(ack, 1.2)  # the old Ack no longer matches
    assert toy.state is State.REQ_SENT
    assert toy.stats["stale_replies"] == 1


def test_timeout_in_ack_rcvd_goes_back_to_req_sent() -> None:
    toy, req = started(Toy())
    toy.receive(packet(ControlCode.CONFIGURE_ACK, req.identifier, req.data), 1.0)
    toy.handle_timer(3.0)
    (again,) = sent(toy)
    assert again.code == ControlCode.CONFIGURE_REQUEST
    assert toy.state is State.REQ_SENT


def test_request_in_opened_renegotiates() -> None:
    toy = opened()
    toy.receive(request(0x52, [(OPT, b"\x03")]), 2.0)
    assert toy.state is State.ACK_SENT
    assert [p.code for p in sent(toy)] == [ControlCode.CONFIGURE_REQUEST, ControlCode.CONFIGURE_ACK]
    assert events(toy) == [LayerDown(PROTO)]


# --- termination ---------------------------------------------------------------------------


def test_terminate_request_in_opened_acks_and_stops() -> None:
    toy = opened()
    toy.receive(packet(ControlCode.TERMINATE_REQUEST, 0x60, b"bye"), 10.0)
    (ack,) = sent(toy)
    assert (ack.code, ack.identifier) == (ControlCode.TERMINATE_ACK, 0x60)
    assert toy.state is State.STOPPING
    assert toy.restart_count == 0  # zrc
    assert events(toy) == [LayerDown(PROTO)]
    assert toy.get_timer() == 13.0  # one restart period for the peer to finish
    toy.handle_timer(13.0)
    assert sent(toy) == []  # TO-: no Terminate-Request of our own
    assert toy.state is State.STOPPED
    (finished,) = events(toy)
    assert isinstance(finished, LayerFinished)
    assert "peer terminated" in finished.reason and "bye" in finished.reason


def test_close_from_opened_retransmits_terminate_request_then_closes() -> None:
    toy = opened()
    toy.close(10.0, "maintenance")
    assert toy.state is State.CLOSING
    assert events(toy) == [LayerDown(PROTO)]
    (first,) = sent(toy)
    assert first.code == ControlCode.TERMINATE_REQUEST
    assert first.data == b"maintenance"
    assert toy.get_timer() == 13.0
    toy.handle_timer(13.0)
    assert [p.code for p in sent(toy)] == [ControlCode.TERMINATE_REQUEST]
    assert toy.get_timer() == 16.0
    toy.handle_timer(16.0)  # Max-Terminate (2) requests went unanswered
    assert sent(toy) == []
    assert toy.state is State.CLOSED
    assert events(toy) == [LayerFinished(PROTO, "maintenance")]
    assert toy.get_timer() is None


def test_terminate_ack_finishes_closing_at_once() -> None:
    toy = opened()
    toy.close(10.0, "done")
    (req,) = sent(toy)
    events(toy)
    toy.receive(packet(ControlCode.TERMINATE_ACK, req.identifier), 10.1)
    assert toy.state is State.CLOSED
    assert events(toy) == [LayerFinished(PROTO, "done")]
    assert toy.get_timer() is None


def test_request_while_closed_gets_terminate_ack() -> None:
    toy = Toy()
    toy.up(0.0)
    toy.receive(request(0x70, [(OPT, b"\x01")]), 0.0)
    (ack,) = sent(toy)
    assert (ack.code, ack.identifier) == (ControlCode.TERMINATE_ACK, 0x70)
    assert toy.state is State.CLOSED


# --- Code-Reject ----------------------------------------------------------------------------


def test_unknown_code_gets_a_code_reject_with_the_packet() -> None:
    toy = opened()
    unknown = packet(0x2A, 0x71, b"what")
    toy.receive(unknown + b"\0\0", 1.0)  # padding beyond Length is not echoed
    (rej,) = sent(toy)
    assert rej.code == ControlCode.CODE_REJECT
    assert rej.data == unknown
    assert toy.state is State.OPENED
    assert toy.stats["code_rejects_sent"] == 1


def test_code_reject_of_an_optional_code_is_permitted() -> None:
    toy = opened()
    toy.receive(packet(ControlCode.CODE_REJECT, 1, packet(0x2A, 2)), 1.0)  # RXJ+
    assert toy.state is State.OPENED
    assert sent(toy) == [] and events(toy) == []


@pytest.mark.parametrize("code", range(1, 8))
def test_code_reject_of_codes_1_to_7_is_catastrophic(code: int) -> None:
    toy = opened()
    toy.receive(packet(ControlCode.CODE_REJECT, 1, packet(code, 2)), 1.0)  # RXJ-
    assert toy.state is State.STOPPING
    assert [p.code for p in sent(toy)] == [ControlCode.TERMINATE_REQUEST]
    assert events(toy) == [LayerDown(PROTO)]
    toy.handle_timer(4.0)
    toy.handle_timer(7.0)
    assert toy.state is State.STOPPED
    (finished,) = events(toy)
    assert isinstance(finished, LayerFinished)
    assert f"code {code}" in finished.reason


def test_catastrophic_code_reject_while_negotiating_stops() -> None:
    toy, _ = started(Toy())
    toy.receive(packet(ControlCode.CODE_REJECT, 1, packet(1, 0)), 1.0)
    assert toy.state is State.STOPPED
    assert [type(e) for e in events(toy)] == [LayerFinished]
    assert toy.get_timer() is None


# --- robustness -----------------------------------------------------------------------------


def test_impossible_events_are_counted_not_raised() -> None:
    toy = Toy()
    toy.down(0.0)  # Down in Initial
    toy.receive(request(1, [(OPT, b"\x01")]), 0.0)  # RCR in Initial
    toy.receive(packet(ControlCode.TERMINATE_REQUEST, 2), 0.0)  # RTR in Initial
    assert toy.state is State.INITIAL
    assert toy.stats["impossible_events"] == 3
    assert sent(toy) == [] and events(toy) == []
    opened(toy)
    toy.up(1.0)  # Up in Opened
    assert toy.state is State.OPENED
    assert toy.stats["impossible_events"] == 4


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x01\x01\x00",  # shorter than a header
        b"\x01\x01\x00\x03",  # Length below 4
        b"\x01\x01\x00\x09\x01\x03",  # Length beyond the packet
        b"\x01\x01\x00\x07\x01\x05\x00",  # option running past the end
        b"\x01\x01\x00\x06\x01\x01",  # option length 1
        b"\x03\x01\x00\x05\x01",  # Nak with a truncated option
    ],
    ids=["empty", "short", "length-3", "length-long", "option-long", "option-1", "nak-bad"],
)
def test_malformed_packets_are_counted_and_dropped(raw: bytes) -> None:
    toy, _ = started(Toy())
    toy.receive(raw, 1.0)
    assert toy.stats["malformed"] == 1
    assert toy.state is State.REQ_SENT
    assert sent(toy) == [] and events(toy) == []
    assert toy.get_timer() == 3.0


def test_down_in_opened_reports_layer_down_and_waits_in_starting() -> None:
    toy = opened()
    toy.down(5.0)
    assert toy.state is State.STARTING
    assert events(toy) == [LayerDown(PROTO)]
    assert toy.get_timer() is None
    toy.up(6.0)  # the lower layer is back: renegotiate
    assert toy.state is State.REQ_SENT
    assert [p.code for p in sent(toy)] == [ControlCode.CONFIGURE_REQUEST]
