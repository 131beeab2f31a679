"""The DHCPv4 client machine (RFC 2131), driven with an explicit clock and a fake server.

Every message the client emits goes through ``DhcpMessage.build`` and ``parse`` before a
test looks at it, so what is asserted is what would go on the wire.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from netstack.stacks.ip.dhcp_client import (
    TRANSITIONS,
    AddressCheckRequested,
    DhcpClient,
    DhcpConfig,
    DhcpInput,
    DhcpState,
    DhcpStateError,
    DhcpTransmit,
    DiscoveryFailed,
    Lease,
    LeaseAcquired,
    LeaseDeclined,
    LeaseLost,
    LeaseReleased,
    LeaseRenewed,
    NakReceived,
)
from netstack.wire.dhcpv4 import (
    BROADCAST_FLAG,
    DhcpMessage,
    DhcpMessageType,
    DhcpOp,
    DhcpOption,
)

MAC = bytes.fromhex("020000660002")
SERVER = bytes((10, 66, 0, 1))
OTHER_SERVER = bytes((10, 66, 0, 2))
ADDR = bytes((10, 66, 0, 146))
OTHER_ADDR = bytes((10, 66, 0, 147))
ZERO = bytes(4)
BCAST = b"\xff\xff\xff\xff"
T0 = 1000.0

DEFAULT_PRL = bytes((1, 3, 6, 15, 26, 28, 51, 58, 59))


# -- a tiny server and the pair helper ------------------------------------------------------


@dataclass
class FakeServer:
    """Answers DISCOVER with OFFER and REQUEST with ACK (or NAK), like dnsmasq."""

    server_id: bytes | None = SERVER
    address: bytes = ADDR
    lease_time: int | None = 3600
    t1: int | None = None
    t2: int | None = None
    mask: bytes | None = bytes((255, 255, 255, 192))
    nak: bool = False
    extra: dict[int, bytes] = field(default_factory=dict)
    seen: list[DhcpMessage] = field(default_factory=list)

    def reply(self, request: DhcpMessage, kind: int | None = None) -> DhcpMessage | None:
        self.seen.append(request)
        if kind is None:
            if request.message_type == DhcpMessageType.DISCOVER:
                kind = DhcpMessageType.OFFER
            elif request.message_type == DhcpMessageType.REQUEST:
                kind = DhcpMessageType.NAK if self.nak else DhcpMessageType.ACK
            else:
                return None
        options: dict[int, bytes] = {DhcpOption.MESSAGE_TYPE: bytes((kind,))}
        if self.server_id is not None:
            options[DhcpOption.SERVER_ID] = self.server_id
        yiaddr = ZERO
        if kind == DhcpMessageType.NAK:
            options[DhcpOption.MESSAGE] = b"wrong network"
        else:
            yiaddr = self.address
            if self.lease_time is not None:
                options[DhcpOption.LEASE_TIME] = self.lease_time.to_bytes(4)
            if self.t1 is not None:
                options[DhcpOption.RENEWAL_TIME] = self.t1.to_bytes(4)
            if self.t2 is not None:
                options[DhcpOption.REBINDING_TIME] = self.t2.to_bytes(4)
            if self.mask is not None:
                options[DhcpOption.SUBNET_MASK] = self.mask
            options[DhcpOption.ROUTER] = SERVER
            options[DhcpOption.DNS_SERVERS] = SERVER + bytes((8, 8, 8, 8))
            options[DhcpOption.DOMAIN_NAME] = b"example.test"
            options[DhcpOption.INTERFACE_MTU] = (1400).to_bytes(2)
            options[DhcpOption.BROADCAST_ADDRESS] = bytes((10, 66, 0, 191))
            options.update(self.extra)
        reply = DhcpMessage(
            op=DhcpOp.BOOTREPLY,
            xid=request.xid,
            chaddr=request.chaddr,
            hlen=request.hlen,
            flags=request.flags,
            ciaddr=request.ciaddr,
            yiaddr=yiaddr,
            siaddr=SERVER,
            options=options,
        )
        return DhcpMessage.parse(reply.build())

    def answer(self, request: DhcpMessage, kind: int | None = None) -> DhcpMessage:
        reply = self.reply(request, kind)
        assert reply is not None
        return reply


def sent(client: DhcpClient, now: float) -> list[DhcpTransmit]:
    """The client's output, each message through the wire format and back."""
    out = []
    for tx in client.packets_to_send(now):
        wire = DhcpMessage.parse(tx.message.build())
        assert wire == tx.message
        out.append(DhcpTransmit(wire, tx.src, tx.dst))
    return out


def one(client: DhcpClient, now: float) -> DhcpTransmit:
    out = sent(client, now)
    assert len(out) == 1, out
    return out[0]


def events(client: DhcpClient) -> list[object]:
    out = []
    while (event := client.next_event()) is not None:
        out.append(event)
    return out


def exchange(client: DhcpClient, server: FakeServer, now: float) -> None:
    """Deliver the client's output to the server and the answers back, until quiet."""
    while out := sent(client, now):
        for tx in out:
            reply = server.reply(tx.message)
            if reply is not None:
                client.receive(reply, now)


def make_client(seed: int = 1, **config: Any) -> DhcpClient:
    return DhcpClient(MAC, random.Random(seed), DhcpConfig(**config))


def bound_client(server: FakeServer | None = None, **config: Any) -> DhcpClient:
    client = make_client(**config)
    client.start(T0)
    exchange(client, server or FakeServer(), T0)
    assert client.state is DhcpState.CHECKING
    client.address_checked(True, T0)
    assert client.state is DhcpState.BOUND
    events(client)
    return client


def fire(client: DhcpClient) -> float:
    """Run the client's timer at its deadline; returns that time."""
    when = client.get_timer()
    assert when is not None
    client.handle_timer(when)
    return when


def opts(message: DhcpMessage) -> set[int]:
    return set(message.options)


# -- getting a lease --------------------------------------------------------------------------


def test_discover_fields() -> None:
    client = make_client()
    client.start(T0)
    assert client.state is DhcpState.SELECTING
    tx = one(client, T0)
    msg = tx.message
    assert (tx.src, tx.dst) == (ZERO, BCAST)
    assert (msg.op, msg.htype, msg.hlen, msg.chaddr) == (DhcpOp.BOOTREQUEST, 1, 6, MAC)
    assert msg.xid == client.xid
    assert msg.flags == BROADCAST_FLAG  # we cannot receive unicast before BOUND
    assert msg.secs == 0
    assert msg.ciaddr == ZERO
    assert msg.message_type == DhcpMessageType.DISCOVER
    assert msg.options[DhcpOption.CLIENT_ID] == b"\x01" + MAC
    assert msg.u16_option(DhcpOption.MAX_MESSAGE_SIZE) == 1500
    assert msg.options[DhcpOption.PARAMETER_REQUEST_LIST] == DEFAULT_PRL
    assert msg.text_option(DhcpOption.VENDOR_CLASS_ID) == "netstack"
    assert DhcpOption.HOSTNAME not in msg.options
    assert DhcpOption.SERVER_ID not in msg.options  # RFC 2131 table 5: MUST NOT
    assert DhcpOption.REQUESTED_IP not in msg.options


def test_full_dora_then_check_ok_binds_with_the_lease() -> None:
    client = make_client()
    server = FakeServer(t1=1000, t2=2000)
    client.start(T0)
    discover = one(client, T0).message
    client.receive(server.answer(discover), T0 + 0.5)
    assert client.state is DhcpState.REQUESTING
    tx = one(client, T0 + 0.5)
    request = tx.message
    # RFC 2131 §4.3.2 SELECTING: server id + requested IP, ciaddr 0, the DISCOVER's xid.
    assert request.message_type == DhcpMessageType.REQUEST
    assert request.xid == discover.xid
    assert request.ip_option(DhcpOption.SERVER_ID) == SERVER
    assert request.ip_option(DhcpOption.REQUESTED_IP) == ADDR
    assert request.ciaddr == ZERO
    assert request.flags == BROADCAST_FLAG
    assert (tx.src, tx.dst) == (ZERO, BCAST)
    assert {DhcpOption.PARAMETER_REQUEST_LIST, DhcpOption.CLIENT_ID} <= opts(request)

    client.receive(server.answer(request), T0 + 0.6)
    assert client.state is DhcpState.CHECKING
    assert client.lease is None  # not usable before the check
    assert client.get_timer() is None
    (check,) = events(client)
    assert isinstance(check, AddressCheckRequested)

    client.address_checked(True, T0 + 2.0)
    assert client.state is DhcpState.BOUND
    (acquired,) = events(client)
    assert acquired == LeaseAcquired(check.lease)
    lease = client.lease
    assert lease == check.lease
    assert lease == Lease(
        address=ADDR,
        prefix_len=26,
        server_id=SERVER,
        lease_time=3600.0,
        t1=1000.0,
        t2=2000.0,
        acquired_at=T0 + 0.5,  # RFC 2131 §4.4.1: from when the REQUEST was sent
        routers=(SERVER,),
        dns_servers=(SERVER, bytes((8, 8, 8, 8))),
        domain="example.test",
        mtu=1400,
        broadcast=bytes((10, 66, 0, 191)),
    )
    assert lease.netmask == bytes((255, 255, 255, 192))
    assert (lease.renew_at, lease.rebind_at, lease.expires_at) == (
        T0 + 1000.5,
        T0 + 2000.5,
        T0 + 3600.5,
    )
    assert client.get_timer() == lease.renew_at
    assert (client.stats.discovers, client.stats.requests) == (1, 1)
    assert (client.stats.offers, client.stats.acks, client.stats.ignored) == (1, 1, 0)


def test_request_repeats_the_discover_secs() -> None:
    # RFC 2131 §4.4.1: the REQUEST uses the same 'secs' as the DISCOVER.
    client = make_client()
    client.start(T0)
    sent(client, T0)
    now = fire(client)  # retransmission about 4 s later
    discover = one(client, now).message
    assert discover.secs == int(now - T0) >= 3
    client.receive(FakeServer().answer(discover), now + 1.5)
    request = one(client, now + 1.5).message
    assert request.secs == discover.secs


def test_discover_retransmissions_back_off_exponentially() -> None:
    # RFC 2131 §4.1: 4, 8, 16, 32, 64 s, each randomized by ±1 s, then 64 s ±1 s.
    client = make_client(seed=7)
    client.start(T0)
    xids = {one(client, T0).message.xid}
    times = [T0]
    for _ in range(8):
        now = fire(client)
        xids.add(one(client, now).message.xid)
        times.append(now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, base in zip(gaps, [4, 8, 16, 32, 64, 64, 64, 64], strict=True):
        assert base - 1 <= gap <= base + 1
    assert len(set(gaps)) == len(gaps)  # randomized, not fixed
    assert len(xids) == 1  # one exchange, one xid
    assert client.stats.discovers == 9
    assert client.stats.retransmissions == 8


def test_same_seed_same_schedule() -> None:
    def schedule(seed: int) -> list[tuple[float, int]]:
        client = make_client(seed=seed)
        client.start(T0)
        out = [(T0, one(client, T0).message.xid)]
        for _ in range(4):
            now = fire(client)
            out.append((now, one(client, now).message.xid))
        return out

    assert schedule(3) == schedule(3)
    assert schedule(3) != schedule(4)


def test_discovery_gives_up_after_max_attempts() -> None:
    client = make_client(max_discover_attempts=3)
    client.start(T0)
    for _ in range(2):
        sent(client, fire(client))
    assert client.stats.discovers == 3
    now = fire(client)
    assert sent(client, now) == []
    assert client.state is DhcpState.STOPPED
    assert client.get_timer() is None
    assert events(client) == [DiscoveryFailed(3)]


def test_unanswered_request_restarts_discovery() -> None:
    # RFC 2131 §3.1 step 5: four REQUESTs (about 60 s), then back to INIT.
    client = make_client()
    client.start(T0)
    discover = one(client, T0).message
    client.receive(FakeServer().answer(discover), T0)
    times = [T0]
    one(client, T0)
    for _ in range(3):
        now = fire(client)
        assert one(client, now).message.message_type == DhcpMessageType.REQUEST
        times.append(now)
    assert 4 + 8 + 16 - 3 <= times[-1] - T0 <= 4 + 8 + 16 + 3
    now = fire(client)
    restart = one(client, now).message
    assert restart.message_type == DhcpMessageType.DISCOVER
    assert restart.xid != discover.xid
    assert client.state is DhcpState.SELECTING


def test_initial_delay_defers_the_first_discover() -> None:
    client = make_client(initial_delay_max=10.0)
    client.start(T0)
    assert client.state is DhcpState.INIT
    assert sent(client, T0) == []
    when = client.get_timer()
    assert when is not None and T0 <= when <= T0 + 10
    client.handle_timer(when - 0.001)  # early: nothing
    assert client.state is DhcpState.INIT
    client.handle_timer(when)
    assert one(client, when).message.message_type == DhcpMessageType.DISCOVER
    assert client.state is DhcpState.SELECTING


# -- what the client accepts ----------------------------------------------------------------


def _offer_for(client: DhcpClient, **changes: object) -> DhcpMessage:
    client.start(T0)
    discover = one(client, T0).message
    offer = FakeServer().answer(discover)
    for name, value in changes.items():
        setattr(offer, name, value)
    return offer


@pytest.mark.parametrize(
    "changes",
    [
        {"xid": 12345},
        {"chaddr": bytes.fromhex("020000660003")},
        {"op": DhcpOp.BOOTREQUEST},
        {"options": {DhcpOption.MESSAGE_TYPE: b"\x02"}},  # no server id (RFC 2131 §4.3.1)
        {"options": {DhcpOption.MESSAGE_TYPE: b"\x02", DhcpOption.SERVER_ID: b"\x01"}},
        {"options": {DhcpOption.MESSAGE_TYPE: b"\x02\x02", DhcpOption.SERVER_ID: SERVER}},
        {"options": {DhcpOption.SERVER_ID: SERVER}},  # BOOTP reply: no message type
        {"yiaddr": ZERO},
        {"yiaddr": bytes((224, 0, 0, 1))},
        {"yiaddr": BCAST},
    ],
    ids=lambda c: ",".join(c),
)
def test_unusable_offers_are_ignored(changes: dict[str, object]) -> None:
    client = make_client()
    offer = _offer_for(client, **changes)
    client.receive(offer, T0 + 1)
    assert client.state is DhcpState.SELECTING
    assert sent(client, T0 + 1) == []
    assert client.stats.ignored == 1
    assert client.stats.offers == 0


def test_first_offer_wins_and_later_ones_are_ignored() -> None:
    client = make_client()
    client.start(T0)
    discover = one(client, T0).message
    client.receive(FakeServer().answer(discover), T0)
    other = FakeServer(server_id=OTHER_SERVER, address=OTHER_ADDR).answer(discover)
    client.receive(other, T0)
    request = one(client, T0).message
    assert request.ip_option(DhcpOption.SERVER_ID) == SERVER
    assert client.stats.ignored == 1


def test_ack_from_a_server_not_selected_is_ignored() -> None:
    client = make_client()
    client.start(T0)
    exchange_once = one(client, T0).message
    client.receive(FakeServer().answer(exchange_once), T0)
    request = one(client, T0).message
    foreign = FakeServer(server_id=OTHER_SERVER).answer(request, DhcpMessageType.ACK)
    client.receive(foreign, T0)
    assert client.state is DhcpState.REQUESTING
    client.receive(FakeServer().answer(request), T0)
    assert client.state is DhcpState.CHECKING


def test_ack_without_lease_time_is_ignored() -> None:
    # RFC 2131 table 3: an ACK to a REQUEST MUST carry the lease time.
    client = make_client()
    client.start(T0)
    exchange(client, FakeServer(lease_time=None), T0)
    assert client.state is DhcpState.REQUESTING
    assert client.stats.ignored == 1


def test_replies_in_the_wrong_state_are_ignored() -> None:
    client = bound_client()
    ack = FakeServer().answer(
        DhcpMessage(DhcpOp.BOOTREQUEST, client.xid, MAC, options={53: b"\x03"})
    )
    client.receive(ack, T0 + 5)
    assert client.state is DhcpState.BOUND
    assert client.stats.ignored == 1
    assert events(client) == []


def test_malformed_parameters_are_dropped_alone() -> None:
    server = FakeServer(extra={DhcpOption.INTERFACE_MTU: b"\x05", DhcpOption.ROUTER: bytes(5)})
    client = bound_client(server)
    lease = client.lease
    assert lease is not None
    assert (lease.mtu, lease.routers, lease.address) == (None, (), ADDR)


# -- lease parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t1", "t2", "expected"),
    [
        (None, None, (1800.0, 3150.0)),  # RFC 2131 §4.4.5 defaults
        (1000, 2000, (1000.0, 2000.0)),
        (100, None, (100.0, 3150.0)),
        (None, 3000, (1800.0, 3000.0)),
        (None, 1000, (1800.0, 3150.0)),  # default T1 would follow T2: defaults for both
        (2000, 1000, (1800.0, 3150.0)),  # T1 > T2
        (5000, 6000, (1800.0, 3150.0)),  # beyond the lease
        (0, 0, (1800.0, 3150.0)),
    ],
)
def test_t1_t2_from_options_only_when_sane(
    t1: int | None, t2: int | None, expected: tuple[float, float]
) -> None:
    lease = bound_client(FakeServer(t1=t1, t2=t2)).lease
    assert lease is not None
    assert (lease.t1, lease.t2) == expected


def test_infinite_lease_has_no_timers() -> None:
    client = bound_client(FakeServer(lease_time=0xFFFFFFFF, t1=0xFFFFFFFF))
    lease = client.lease
    assert lease is not None
    assert lease.lease_time == lease.t1 == lease.t2 == math.inf
    assert lease.expires_at == math.inf
    assert client.get_timer() is None


def test_absurdly_short_lease_is_clamped() -> None:
    lease = bound_client(FakeServer(lease_time=5)).lease
    assert lease is not None
    assert (lease.lease_time, lease.t1, lease.t2) == (60.0, 30.0, 52.5)
    lease = bound_client(FakeServer(lease_time=5), min_lease=0.0).lease
    assert lease is not None
    assert lease.lease_time == 5.0


@pytest.mark.parametrize(
    ("mask", "prefix"),
    [
        (None, 24),  # no subnet mask option: /24 (documented default)
        (bytes((255, 255, 0, 0)), 16),
        (bytes((255, 255, 255, 255)), 32),
        (bytes((0, 0, 0, 0)), 0),
        (bytes((255, 0, 255, 0)), 24),  # not contiguous: ignored
    ],
)
def test_prefix_length_from_the_subnet_mask(mask: bytes | None, prefix: int) -> None:
    lease = bound_client(FakeServer(mask=mask)).lease
    assert lease is not None
    assert lease.prefix_len == prefix


def test_configured_identity_options() -> None:
    client = make_client(hostname="node-1", client_id=b"", vendor_class=None, request_params=())
    client.start(T0)
    msg = one(client, T0).message
    assert msg.text_option(DhcpOption.HOSTNAME) == "node-1"
    assert opts(msg) == {DhcpOption.MESSAGE_TYPE, DhcpOption.MAX_MESSAGE_SIZE, DhcpOption.HOSTNAME}
    custom = make_client(client_id=b"\xff\x00\x00\x00\x01\x00\x04xyz")  # RFC 4361 style
    custom.start(T0)
    assert one(custom, T0).message.options[DhcpOption.CLIENT_ID] == b"\xff\0\0\0\x01\0\x04xyz"


# -- the address check (RFC 2131 §4.4.1, RFC 5227) ---------------------------------------------


def test_conflict_declines_then_restarts_after_ten_seconds() -> None:
    client = make_client()
    client.start(T0)
    exchange(client, FakeServer(), T0)
    old_xid = client.xid
    (check,) = events(client)
    assert isinstance(check, AddressCheckRequested)
    client.address_checked(False, T0 + 3)
    tx = one(client, T0 + 3)
    decline = tx.message
    # RFC 2131 table 5 and §4.4.4: broadcast, requested IP and server id, ciaddr 0.
    assert decline.message_type == DhcpMessageType.DECLINE
    assert (tx.src, tx.dst) == (ZERO, BCAST)
    assert decline.ciaddr == ZERO
    assert (decline.secs, decline.flags) == (0, 0)
    assert decline.ip_option(DhcpOption.REQUESTED_IP) == ADDR
    assert decline.ip_option(DhcpOption.SERVER_ID) == SERVER
    assert opts(decline) == {
        DhcpOption.MESSAGE_TYPE,
        DhcpOption.CLIENT_ID,
        DhcpOption.REQUESTED_IP,
        DhcpOption.SERVER_ID,
    }
    assert events(client) == [LeaseDeclined(ADDR)]
    assert client.state is DhcpState.INIT
    assert client.lease is None
    assert client.get_timer() == T0 + 13  # RFC 2131 §4.4.1: wait at least 10 s
    client.handle_timer(T0 + 12.9)
    assert sent(client, T0 + 12.9) == []
    client.handle_timer(T0 + 13)
    discover = one(client, T0 + 13).message
    assert discover.message_type == DhcpMessageType.DISCOVER
    assert discover.xid != old_xid
    assert DhcpOption.REQUESTED_IP not in discover.options  # never ask for it again
    assert client.stats.declines == 1


def test_address_checked_outside_checking_does_nothing() -> None:
    client = bound_client()
    client.address_checked(False, T0 + 1)
    assert client.state is DhcpState.BOUND
    assert sent(client, T0 + 1) == []
    client.stop()
    client.address_checked(True, T0 + 2)
    assert client.state is DhcpState.STOPPED


def test_address_lost_after_bound_declines_and_restarts() -> None:
    client = bound_client()
    lease = client.lease
    client.address_lost(T0 + 100)
    decline = one(client, T0 + 100).message
    assert decline.message_type == DhcpMessageType.DECLINE
    assert decline.ip_option(DhcpOption.REQUESTED_IP) == ADDR
    assert events(client) == [LeaseLost("address conflict", lease)]
    assert client.state is DhcpState.INIT
    assert client.lease is None
    assert client.get_timer() == T0 + 110


# -- keeping the lease ------------------------------------------------------------------------


def test_renew_at_t1_is_unicast_with_ciaddr() -> None:
    client = bound_client()
    lease = client.lease
    assert lease is not None
    bound_xid = client.xid
    now = fire(client)
    assert now == lease.renew_at == T0 + 1800
    assert client.state is DhcpState.RENEWING
    tx = one(client, now)
    msg = tx.message
    # RFC 2131 §4.3.2 / §4.4.5 RENEWING: unicast, ciaddr set, no server id or requested IP.
    assert (tx.src, tx.dst) == (ADDR, SERVER)
    assert msg.message_type == DhcpMessageType.REQUEST
    assert msg.ciaddr == ADDR
    assert msg.flags == 0
    assert msg.secs == 0
    assert DhcpOption.SERVER_ID not in msg.options
    assert DhcpOption.REQUESTED_IP not in msg.options
    assert msg.xid != bound_xid  # a new exchange

    client.receive(FakeServer().answer(msg), now + 0.2)
    assert client.state is DhcpState.BOUND
    renewed = client.lease
    assert renewed is not None
    assert events(client) == [LeaseRenewed(renewed)]
    assert renewed.acquired_at == now  # from the REQUEST, not the ACK
    assert client.get_timer() == now + 1800


def test_renewing_retransmits_at_half_the_time_to_t2() -> None:
    # RFC 2131 §4.4.5: wait half the remaining time to T2, at least 60 s, never past T2.
    client = bound_client()
    t1, t2 = T0 + 1800, T0 + 3150
    times = []
    while client.state is not DhcpState.REBINDING:
        now = fire(client)
        times.append(now)
        assert one(client, now).dst in (SERVER, BCAST)
    assert times == [
        t1,
        t1 + 675,
        t1 + 675 + 337.5,
        t1 + 675 + 337.5 + 168.75,
        t1 + 675 + 337.5 + 168.75 + 84.375,
        t1 + 675 + 337.5 + 168.75 + 84.375 + 60,  # the 60 s floor
        t2,  # 60 s later would be past T2
    ]


def test_rebind_at_t2_is_broadcast_and_any_server_may_answer() -> None:
    client = bound_client()
    renew_xid = None
    while client.state is not DhcpState.REBINDING:
        now = fire(client)
        tx = one(client, now)
        renew_xid = renew_xid or tx.message.xid
    assert now == T0 + 3150
    # RFC 2131 §4.4.5 REBINDING: broadcast, ciaddr set, no server id, no BROADCAST flag.
    assert (tx.src, tx.dst) == (ADDR, BCAST)
    assert tx.message.ciaddr == ADDR
    assert tx.message.flags == 0
    assert DhcpOption.SERVER_ID not in tx.message.options
    assert tx.message.xid != renew_xid
    # retransmission: half the remaining lease, at least 60 s
    assert client.get_timer() == now + 225
    other = FakeServer(server_id=OTHER_SERVER).answer(tx.message)
    client.receive(other, now + 1)
    assert client.state is DhcpState.BOUND
    lease = client.lease
    assert lease is not None
    assert lease.server_id == OTHER_SERVER
    assert events(client) == [LeaseRenewed(lease)]


def test_expiry_loses_the_lease_and_restarts_discovery() -> None:
    client = bound_client()
    lease = client.lease
    assert lease is not None
    while client.state is not DhcpState.SELECTING:
        now = fire(client)
    assert now == lease.expires_at
    assert events(client) == [LeaseLost("lease expired", lease)]
    assert client.lease is None
    out = sent(client, now)
    discover = out[-1].message
    assert discover.message_type == DhcpMessageType.DISCOVER
    assert discover.ip_option(DhcpOption.REQUESTED_IP) == ADDR  # RFC 2131 §4.4.1 "MAY"
    assert discover.flags == BROADCAST_FLAG
    assert out[-1].src == ZERO


def test_nak_while_renewing_restarts_discovery() -> None:
    client = bound_client()
    lease = client.lease
    now = fire(client)
    request = one(client, now).message
    client.receive(FakeServer(nak=True).answer(request), now)
    assert events(client) == [NakReceived(SERVER, "wrong network"), LeaseLost("NAK", lease)]
    assert client.state is DhcpState.SELECTING
    assert client.lease is None
    discover = one(client, now).message
    assert discover.message_type == DhcpMessageType.DISCOVER
    assert DhcpOption.REQUESTED_IP not in discover.options
    assert client.stats.naks == 1


def test_repeated_naks_back_off() -> None:
    client = make_client()
    client.start(T0)
    exchange(client, FakeServer(nak=True), T0)  # DISCOVER, OFFER, REQUEST, NAK, DISCOVER …
    assert client.state is DhcpState.INIT  # the second NAK in a row waits
    when = client.get_timer()
    assert when is not None and T0 + 3 <= when <= T0 + 5
    assert client.stats.naks == 2
    client.handle_timer(when)
    assert one(client, when).message.message_type == DhcpMessageType.DISCOVER


def test_renewal_with_another_address_replaces_the_lease() -> None:
    client = bound_client()
    old = client.lease
    now = fire(client)
    request = one(client, now).message
    client.receive(FakeServer(address=OTHER_ADDR).answer(request), now)
    lost, check = events(client)
    assert lost == LeaseLost("server assigned another address", old)
    assert isinstance(check, AddressCheckRequested)
    assert check.lease.address == OTHER_ADDR
    assert client.state is DhcpState.CHECKING


# -- INIT-REBOOT (RFC 2131 §3.2) ----------------------------------------------------------------


def _remembered() -> Lease:
    lease = bound_client().lease
    assert lease is not None
    return lease


def test_init_reboot_requests_the_remembered_address() -> None:
    remembered = _remembered()
    client = make_client(seed=5)
    client.start(T0, remembered)
    assert client.state is DhcpState.REBOOTING
    tx = one(client, T0)
    msg = tx.message
    # RFC 2131 §4.3.2 INIT-REBOOT: requested IP, no server id, ciaddr 0, broadcast.
    assert msg.message_type == DhcpMessageType.REQUEST
    assert msg.ip_option(DhcpOption.REQUESTED_IP) == ADDR
    assert DhcpOption.SERVER_ID not in msg.options
    assert msg.ciaddr == ZERO
    assert msg.flags == BROADCAST_FLAG
    assert (tx.src, tx.dst) == (ZERO, BCAST)
    client.receive(FakeServer().answer(msg), T0 + 0.1)
    assert client.state is DhcpState.CHECKING
    client.address_checked(True, T0 + 2)
    lease = client.lease
    assert lease is not None
    assert (lease.address, lease.server_id, lease.acquired_at) == (ADDR, SERVER, T0)
    assert isinstance(events(client)[-1], LeaseAcquired)


def test_init_reboot_without_answer_falls_back_to_discovery() -> None:
    client = make_client()
    client.start(T0, _remembered())
    one(client, T0)
    now = fire(client)  # the second and last REQUEST
    assert one(client, now).message.message_type == DhcpMessageType.REQUEST
    assert 3 <= now - T0 <= 5
    now = fire(client)
    assert client.state is DhcpState.SELECTING
    discover = one(client, now).message
    assert discover.message_type == DhcpMessageType.DISCOVER
    assert discover.ip_option(DhcpOption.REQUESTED_IP) == ADDR  # still worth asking for


def test_init_reboot_nak_restarts_discovery() -> None:
    client = make_client()
    client.start(T0, _remembered())
    request = one(client, T0).message
    client.receive(FakeServer(nak=True).answer(request), T0)
    assert events(client) == [NakReceived(SERVER, "wrong network")]  # no lease to lose
    discover = one(client, T0).message
    assert discover.message_type == DhcpMessageType.DISCOVER
    assert DhcpOption.REQUESTED_IP not in discover.options


def test_init_reboot_with_initial_delay() -> None:
    client = make_client(initial_delay_max=5.0)
    client.start(T0, _remembered())
    assert client.state is DhcpState.INIT_REBOOT
    assert sent(client, T0) == []
    now = fire(client)
    assert one(client, now).message.ip_option(DhcpOption.REQUESTED_IP) == ADDR
    assert client.state is DhcpState.REBOOTING


# -- release and stop -------------------------------------------------------------------------


def test_release_message_fields() -> None:
    client = bound_client()
    lease = client.lease
    bound_xid = client.xid
    client.release(T0 + 50)
    tx = one(client, T0 + 50)
    msg = tx.message
    # RFC 2131 §4.4.6 and table 5: unicast to the server, ciaddr, server id, client id.
    assert (tx.src, tx.dst) == (ADDR, SERVER)
    assert msg.message_type == DhcpMessageType.RELEASE
    assert msg.ciaddr == ADDR
    assert (msg.secs, msg.flags) == (0, 0)
    assert msg.xid != bound_xid
    assert msg.options == {
        DhcpOption.MESSAGE_TYPE: b"\x07",
        DhcpOption.CLIENT_ID: b"\x01" + MAC,
        DhcpOption.SERVER_ID: SERVER,
    }
    assert lease is not None
    assert events(client) == [LeaseReleased(lease)]
    assert client.state is DhcpState.STOPPED
    assert client.lease is None
    assert client.get_timer() is None
    assert client.stats.releases == 1


def test_release_without_a_lease_just_stops() -> None:
    client = make_client()
    client.start(T0)
    client.release(T0 + 1)
    assert sent(client, T0 + 1) == []
    assert client.state is DhcpState.STOPPED
    assert events(client) == []


def test_stop_drops_pending_output_and_the_timer() -> None:
    client = make_client()
    client.start(T0)
    client.stop()
    assert sent(client, T0) == []
    assert client.get_timer() is None
    assert client.state is DhcpState.STOPPED
    client.stop()  # idempotent


def test_start_twice_is_a_programming_error() -> None:
    client = make_client()
    client.start(T0)
    with pytest.raises(DhcpStateError):
        client.start(T0)
    client.stop()
    client.start(T0 + 1)  # fine again after stop
    assert client.state is DhcpState.SELECTING


def test_restart_with_the_saved_lease_after_stop() -> None:
    client = bound_client()
    saved = client.lease
    client.stop()
    client.start(T0 + 100, saved)
    assert client.state is DhcpState.REBOOTING
    assert one(client, T0 + 100).message.ip_option(DhcpOption.REQUESTED_IP) == ADDR


# -- the whole life against the fake server ------------------------------------------------------


def test_long_run_against_the_server_renews_every_t1() -> None:
    client = make_client(seed=11)
    server = FakeServer(lease_time=600)
    client.start(T0)
    now = T0
    renewals = []
    while now < T0 + 3000:
        exchange(client, server, now)
        for event in events(client):
            if isinstance(event, AddressCheckRequested):
                client.address_checked(True, now)
            elif isinstance(event, LeaseRenewed):
                renewals.append(now)
        if client.state is DhcpState.BOUND or client.get_timer() is not None:
            now = fire(client)
    assert renewals == [T0 + 300 * k for k in range(1, 10)]
    kinds = [m.message_type for m in server.seen]
    assert kinds[:2] == [DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST]
    assert kinds[2:] == [DhcpMessageType.REQUEST] * 9
    assert client.stats.retransmissions == 0


def test_transition_table_is_complete_for_verbs() -> None:
    running = [s for s in DhcpState if s is not DhcpState.STOPPED]
    for state in running:
        assert (state, DhcpInput.STOP) in TRANSITIONS
        assert (state, DhcpInput.RELEASE) in TRANSITIONS
    for (state, _input), targets in TRANSITIONS.items():
        assert targets and all(isinstance(t, DhcpState) for t in targets)
        assert state in DhcpState
    # every state with a timer has a TIMER transition
    for state in (DhcpState.INIT, DhcpState.SELECTING, DhcpState.REQUESTING, DhcpState.BOUND):
        assert (state, DhcpInput.TIMER) in TRANSITIONS
