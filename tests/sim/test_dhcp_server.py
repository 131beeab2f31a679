"""DhcpServer on a simulated LAN, with hand-driven clients on plain UDP sockets.

The clients are hosts with a static address on the segment that bind UDP port 68 and speak
DHCP through :mod:`netstack.wire.dhcpv4`; a client's identity is the ``chaddr`` it writes,
so one host can play many clients. Replies are broadcast (or unicast to ``ciaddr``), so
the host's socket sees them.
"""

from __future__ import annotations

import ipaddress
import random

import pytest

from netstack.interfaces.ethernet import EthernetInterface
from netstack.services.dhcp_server import DhcpServer, DhcpServerConfig, LeaseState
from netstack.sim import Network
from netstack.socket import SOL_SOCKET, SocketOption, UDPSocket
from netstack.wire import DecodeError
from netstack.wire.dhcpv4 import (
    BROADCAST_FLAG,
    DhcpMessage,
    DhcpMessageType,
    DhcpOp,
    DhcpOption,
)

T = DhcpMessageType
O = DhcpOption  # noqa: E741
ZERO = b"\0\0\0\0"
PRL_ALL = bytes([1, 3, 6, 15, 26, 28, 51, 58, 59])


def ip(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def text(packed: bytes) -> str:
    return str(ipaddress.IPv4Address(packed))


def mac(n: int) -> bytes:
    return bytes([0x02, 0xAA, 0, 0, n >> 8, n & 0xFF])


def message(kind: T, chaddr: bytes, xid: int, *, ciaddr: bytes = ZERO, giaddr: bytes = ZERO,
            flags: int = 0, **options: bytes) -> DhcpMessage:  # fmt: skip
    opts: dict[int, bytes] = {O.MESSAGE_TYPE: bytes([kind])}
    for name, value in options.items():
        opts[O[name.upper()]] = value
    return DhcpMessage(DhcpOp.BOOTREQUEST, xid, chaddr, flags=flags, ciaddr=ciaddr,
                       giaddr=giaddr, options=opts)  # fmt: skip


class ClientSide:
    """A host's UDP port 68 (or 67, playing a relay): sends DHCP messages, collects replies."""

    def __init__(self, net: Network, host: object, port: int = 68) -> None:
        self.net = net
        self.sock = UDPSocket(host)  # type: ignore[arg-type]
        self.sock.setsockopt(SOL_SOCKET, SocketOption.REUSEADDR, True)
        self.sock.set_broadcast(True)
        self.sock.bind(port)
        self.xid = 0x1000

    def send(self, msg: DhcpMessage, to: str = "255.255.255.255") -> None:
        self.sock.sendto_nowait((to, 67), msg.build())

    def collect(self, settle: float = 1.0) -> list[tuple[DhcpMessage, str]]:
        """Run the world for ``settle`` seconds; every reply received, with its source."""
        self.net.run_for(settle)
        return [(DhcpMessage.parse(data), peer.ip) for data, peer in self.sock.drain()]

    def exchange(self, msg: DhcpMessage, to: str = "255.255.255.255") -> DhcpMessage | None:
        """Send and return the one reply for this message's xid (None if there is none)."""
        self.send(msg, to)
        replies = [m for m, _ in self.collect() if m.xid == msg.xid]
        assert len(replies) <= 1, replies
        return replies[0] if replies else None

    def next_xid(self) -> int:
        self.xid += 1
        return self.xid

    def dora(self, chaddr: bytes, **options: bytes) -> tuple[DhcpMessage, DhcpMessage]:
        """DISCOVER, OFFER, REQUEST, ACK; returns (offer, ack)."""
        xid = self.next_xid()
        offer = self.exchange(message(T.DISCOVER, chaddr, xid, **options))
        assert offer is not None and offer.message_type == T.OFFER
        server_id = offer.options[O.SERVER_ID]
        options = {**options, "server_id": server_id, "requested_ip": offer.yiaddr}
        ack = self.exchange(message(T.REQUEST, chaddr, xid, **options))
        assert ack is not None and ack.message_type == T.ACK, ack
        return offer, ack


CONFIG = dict(
    pool_start="10.0.0.100",
    pool_end="10.0.0.199",
    router="10.0.0.1",
    dns_servers=("10.0.0.53", "10.0.0.54"),
    domain="lan.test",
    mtu=1400,
    lease_time=3600.0,
)


@pytest.fixture
def lan():
    net = Network(seed=5)
    seg = net.segment("lan")
    srv = net.host("srv", seg, "10.0.0.1/24")
    cl = net.host("cl", seg, "10.0.0.2/24")
    net.run(net.start())
    servers: list[DhcpServer] = []

    def serve(**overrides: object) -> DhcpServer:
        server = DhcpServer(srv.iface, DhcpServerConfig(**{**CONFIG, **overrides}))  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield net, seg, serve, ClientSide(net, cl)
    for server in servers:
        server.stop()
    net.close()


def test_dora_gives_the_lowest_free_address_with_all_requested_options(lan):
    net, _, serve, client = lan
    server = serve()
    offer, ack = client.dora(
        mac(1), parameter_request_list=PRL_ALL, hostname=b"alice", client_id=b"\x01" + mac(1)
    )
    for reply, kind in ((offer, T.OFFER), (ack, T.ACK)):
        assert reply.op == DhcpOp.BOOTREPLY and reply.message_type == kind
        assert reply.chaddr == mac(1) and reply.yiaddr == ip("10.0.0.100")
        assert reply.siaddr == ZERO and reply.giaddr == ZERO and reply.ciaddr == ZERO
        assert reply.options == {
            O.MESSAGE_TYPE: bytes([kind]),
            O.SERVER_ID: ip("10.0.0.1"),
            O.LEASE_TIME: (3600).to_bytes(4, "big"),
            O.RENEWAL_TIME: (1800).to_bytes(4, "big"),
            O.REBINDING_TIME: (3150).to_bytes(4, "big"),
            O.SUBNET_MASK: ip("255.255.255.0"),
            O.ROUTER: ip("10.0.0.1"),
            O.DNS_SERVERS: ip("10.0.0.53") + ip("10.0.0.54"),
            O.DOMAIN_NAME: b"lan.test",
            O.INTERFACE_MTU: (1400).to_bytes(2, "big"),
            O.BROADCAST_ADDRESS: ip("10.0.0.255"),
            O.CLIENT_ID: b"\x01" + mac(1),  # echoed, RFC 6842
        }
    [lease] = server.leases
    assert (lease.ip, lease.mac, lease.hostname, lease.state) == (
        "10.0.0.100", "02:aa:00:00:00:01", "alice", LeaseState.BOUND,
    )  # fmt: skip
    assert lease.expires_at == pytest.approx(net.now() + 3600, abs=2)
    s = server.stats
    assert (s.discovers, s.offers, s.requests, s.acks, s.naks) == (1, 1, 1, 1, 0)


def test_only_requested_options_beyond_the_mandatory_ones_are_sent(lan):
    _, _, serve, client = lan
    serve()
    offer, ack = client.dora(mac(1), parameter_request_list=bytes([6]))
    for reply in (offer, ack):
        assert set(reply.options) == {
            O.MESSAGE_TYPE, O.SERVER_ID, O.LEASE_TIME, O.SUBNET_MASK, O.DNS_SERVERS,
        }  # fmt: skip


def test_replies_keep_xid_and_flags_and_are_broadcast(lan):
    net, seg, serve, client = lan
    serve()
    bystander = ClientSide(net, net.host("by", seg, "10.0.0.3/24"))
    net.run(net.hosts["by"].start())
    client.send(message(T.DISCOVER, mac(1), 0xDEADBEEF, flags=BROADCAST_FLAG))
    [(offer, source)] = client.collect()
    assert (offer.xid, offer.flags, source) == (0xDEADBEEF, BROADCAST_FLAG, "10.0.0.1")
    assert [m.xid for m, _ in bystander.collect()] == [0xDEADBEEF]  # it was a broadcast


def test_static_lease_goes_to_its_mac(lan):
    _, _, serve, client = lan
    server = serve(
        static_leases={"02:AA:00:00:00:07": "10.0.0.150", "02:aa:00:00:00:08": "10.0.0.20"}
    )
    assert client.dora(mac(1))[1].yiaddr == ip("10.0.0.100")
    assert client.dora(mac(7))[1].yiaddr == ip("10.0.0.150")
    assert client.dora(mac(8))[1].yiaddr == ip("10.0.0.20")  # outside the pool is fine
    # another client asking for a static address gets a pool address
    assert client.dora(mac(2), requested_ip=ip("10.0.0.150"))[1].yiaddr == ip("10.0.0.101")
    assert {r.ip for r in server.leases} == {"10.0.0.100", "10.0.0.101", "10.0.0.150", "10.0.0.20"}


def test_requested_address_is_honoured_when_free_and_in_the_pool(lan):
    _, _, serve, client = lan
    serve()
    assert client.dora(mac(1), requested_ip=ip("10.0.0.142"))[1].yiaddr == ip("10.0.0.142")
    assert client.dora(mac(2), requested_ip=ip("10.0.0.142"))[1].yiaddr == ip("10.0.0.100")
    assert client.dora(mac(3), requested_ip=ip("10.0.0.250"))[1].yiaddr == ip("10.0.0.101")


def test_a_returning_client_gets_its_address_back(lan):
    _, _, serve, client = lan
    serve()
    client.dora(mac(1))
    client.dora(mac(2))
    assert client.dora(mac(1))[1].yiaddr == ip("10.0.0.100")


def test_fifty_clients_get_fifty_distinct_addresses(lan):
    _, _, serve, client = lan
    server = serve()
    for n in range(50):  # all discovers in one burst
        client.send(message(T.DISCOVER, mac(n), 5000 + n))
    offers = {m.chaddr: m for m, _ in client.collect() if m.message_type == T.OFFER}
    assert len(offers) == 50
    for n in range(50):
        offer = offers[mac(n)]
        client.send(message(T.REQUEST, mac(n), 5000 + n, server_id=ip("10.0.0.1"),
                            requested_ip=offer.yiaddr))  # fmt: skip
    acks = [m for m, _ in client.collect() if m.message_type == T.ACK]
    addresses = {m.yiaddr for m in acks}
    assert len(acks) == 50 and len(addresses) == 50
    assert addresses == {ip(f"10.0.0.{100 + n}") for n in range(50)}
    assert len(server.leases) == 50 and server.stats.naks == 0


def test_pool_exhaustion_leaves_the_extra_client_unanswered(lan):
    _, _, serve, client = lan
    server = serve(pool_start="10.0.0.100", pool_end="10.0.0.102")
    got = [client.dora(mac(n))[1].yiaddr for n in range(3)]
    assert got == [ip("10.0.0.100"), ip("10.0.0.101"), ip("10.0.0.102")]
    assert client.exchange(message(T.DISCOVER, mac(4), 77)) is None
    assert server.stats.pool_exhausted == 1 and server.stats.offers == 3


def test_server_and_router_addresses_are_not_in_the_pool(lan):
    _, _, serve, client = lan
    serve(pool_start="10.0.0.1", pool_end="10.0.0.4")  # server .1 = router; client host .2
    got = [client.dora(mac(n))[1].yiaddr for n in range(3)]
    # .2 is the test host's static address: the server cannot know, so it offers it
    assert got == [ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4")]


def test_renewal_is_unicast_and_extends_the_lease(lan):
    net, seg, serve, client = lan
    server = serve()
    renewer = net.host("rn", seg, "10.0.0.150/24")  # configured as its lease will say
    net.run(renewer.start())
    rn = ClientSide(net, renewer)
    chaddr = renewer.iface.emac.hwaddr
    assert rn.dora(chaddr, requested_ip=ip("10.0.0.150"))[1].yiaddr == ip("10.0.0.150")
    first_expiry = server.leases[0].expires_at
    net.run_for(1800)  # T1
    client.sock.drain()  # the DORA's broadcasts
    ack = rn.exchange(message(T.REQUEST, chaddr, rn.next_xid(), ciaddr=ip("10.0.0.150")),
                      to="10.0.0.1")  # fmt: skip
    assert ack is not None and ack.message_type == T.ACK
    assert ack.yiaddr == ip("10.0.0.150") and ack.ciaddr == ip("10.0.0.150")
    assert client.collect() == []  # unicast: the other host saw nothing
    [lease] = server.leases
    assert lease.expires_at == pytest.approx(first_expiry + 1800, abs=2)


def test_renewing_someone_elses_address_is_naked(lan):
    _, _, serve, client = lan
    server = serve()
    client.dora(mac(1))
    nak = client.exchange(message(T.REQUEST, mac(2), 9, ciaddr=ip("10.0.0.100")))
    assert nak is not None and nak.message_type == T.NAK
    assert server.leases[0].mac == "02:aa:00:00:00:01"


def test_request_for_another_servers_offer_frees_ours(lan):
    _, _, serve, client = lan
    server = serve()
    offer = client.exchange(message(T.DISCOVER, mac(1), 1))
    assert offer is not None and offer.yiaddr == ip("10.0.0.100")
    assert [r.state for r in server.leases] == [LeaseState.OFFERED]
    other = message(T.REQUEST, mac(1), 1, server_id=ip("10.0.0.254"), requested_ip=ip("10.0.0.7"))
    assert client.exchange(other) is None
    assert server.leases == []
    assert client.dora(mac(2))[1].yiaddr == ip("10.0.0.100")


def test_selecting_request_for_an_address_taken_by_another_is_naked(lan):
    _, _, serve, client = lan
    serve()
    client.dora(mac(1))
    nak = client.exchange(message(T.REQUEST, mac(2), 3, server_id=ip("10.0.0.1"),
                                  requested_ip=ip("10.0.0.100")))  # fmt: skip
    assert nak is not None and nak.message_type == T.NAK


def test_init_reboot_on_the_wrong_subnet_is_naked_with_only_the_nak_options(lan):
    net, seg, serve, client = lan
    serve()
    bystander = ClientSide(net, net.host("by", seg, "10.0.0.3/24"))
    net.run(net.hosts["by"].start())
    nak = client.exchange(
        message(T.REQUEST, mac(1), 4, requested_ip=ip("192.168.1.50"), client_id=b"\x01xyz")
    )
    assert nak is not None and nak.message_type == T.NAK
    assert nak.yiaddr == ZERO and nak.ciaddr == ZERO
    assert set(nak.options) == {O.MESSAGE_TYPE, O.SERVER_ID, O.MESSAGE, O.CLIENT_ID}
    assert nak.options[O.SERVER_ID] == ip("10.0.0.1")
    assert [m.message_type for m, _ in bystander.collect()] == [T.NAK]  # broadcast


def test_init_reboot_acks_own_or_free_address_and_naks_a_taken_one(lan):
    _, _, serve, client = lan
    server = serve()
    client.dora(mac(1))
    own = client.exchange(message(T.REQUEST, mac(1), 5, requested_ip=ip("10.0.0.100")))
    assert own is not None and own.message_type == T.ACK and own.yiaddr == ip("10.0.0.100")
    taken = client.exchange(message(T.REQUEST, mac(2), 6, requested_ip=ip("10.0.0.100")))
    assert taken is not None and taken.message_type == T.NAK
    free = client.exchange(message(T.REQUEST, mac(2), 7, requested_ip=ip("10.0.0.160")))
    assert free is not None and free.message_type == T.ACK
    outside = client.exchange(message(T.REQUEST, mac(3), 8, requested_ip=ip("10.0.0.30")))
    assert outside is not None and outside.message_type == T.NAK  # in subnet, not in pool
    assert server.stats.naks == 2


def test_non_authoritative_server_is_silent_about_unknown_clients(lan):
    _, _, serve, client = lan
    serve(authoritative=False)
    assert client.exchange(message(T.REQUEST, mac(1), 5, requested_ip=ip("192.168.1.5"))) is None
    assert client.exchange(message(T.REQUEST, mac(1), 6, ciaddr=ip("10.0.0.120"))) is None


def test_release_frees_the_address_for_the_next_client(lan):
    _, _, serve, client = lan
    server = serve()
    client.dora(mac(1))
    client.dora(mac(2))
    release = message(T.RELEASE, mac(1), 10, ciaddr=ip("10.0.0.100"), server_id=ip("10.0.0.1"))
    assert client.exchange(release, to="10.0.0.1") is None  # no reply to a RELEASE
    assert [r.ip for r in server.leases] == ["10.0.0.101"]
    assert client.dora(mac(3))[1].yiaddr == ip("10.0.0.100")
    assert server.stats.releases == 1


def test_decline_quarantines_the_address(lan):
    net, _, serve, client = lan
    server = serve(lease_time=600.0)
    client.dora(mac(1))
    decline = message(T.DECLINE, mac(1), 11, requested_ip=ip("10.0.0.100"),
                      server_id=ip("10.0.0.1"))  # fmt: skip
    assert client.exchange(decline) is None
    assert [(r.ip, r.state) for r in server.leases] == [("10.0.0.100", LeaseState.DECLINED)]
    assert client.dora(mac(1))[1].yiaddr == ip("10.0.0.101")  # the decliner moves on
    assert client.dora(mac(2))[1].yiaddr == ip("10.0.0.102")
    net.run_for(600)  # the quarantine (and the leases) run out
    assert client.dora(mac(3))[1].yiaddr == ip("10.0.0.100")
    assert server.stats.declines == 1


def test_expired_lease_makes_the_address_reusable(lan):
    net, _, serve, client = lan
    server = serve(lease_time=60.0, pool_start="10.0.0.100", pool_end="10.0.0.101")
    client.dora(mac(1))
    net.run_for(30)
    client.dora(mac(2))
    assert client.exchange(message(T.DISCOVER, mac(3), 12)) is None  # full
    net.run_for(31)  # the first lease has expired, the second has not
    assert client.dora(mac(3))[1].yiaddr == ip("10.0.0.100")
    assert [r.mac for r in server.leases] == ["02:aa:00:00:00:03", "02:aa:00:00:00:02"]
    net.run_for(60)
    assert server.leases == [] and server.purge() == 2


def test_inform_gets_options_but_no_lease(lan):
    net, seg, serve, client = lan
    server = serve()
    bystander = ClientSide(net, net.host("by", seg, "10.0.0.3/24"))
    net.run(net.hosts["by"].start())
    ack = client.exchange(message(T.INFORM, mac(1), 13, ciaddr=ip("10.0.0.2")), to="10.0.0.1")
    assert ack is not None and ack.message_type == T.ACK
    assert ack.yiaddr == ZERO and ack.ciaddr == ip("10.0.0.2")
    assert O.LEASE_TIME not in ack.options and O.RENEWAL_TIME not in ack.options
    assert ack.options[O.ROUTER] == ip("10.0.0.1") and ack.options[O.DOMAIN_NAME] == b"lan.test"
    assert bystander.collect() == []  # unicast to ciaddr
    assert server.leases == [] and server.stats.informs == 1


def test_relayed_requests_are_answered_to_the_relay(lan):
    net, _, serve, client = lan
    serve()
    relay = ClientSide(net, net.hosts["cl"], port=67)  # the client host plays the relay agent
    relay.send(message(T.DISCOVER, mac(1), 14, giaddr=ip("10.0.0.2")), to="10.0.0.1")
    [(offer, source)] = relay.collect()
    assert offer.message_type == T.OFFER and offer.giaddr == ip("10.0.0.2")
    assert source == "10.0.0.1" and client.collect() == []
    relay.send(message(T.REQUEST, mac(2), 15, giaddr=ip("10.0.0.2"),
                       requested_ip=ip("172.16.0.9")), to="10.0.0.1")  # fmt: skip
    [(nak, _)] = relay.collect()
    assert nak.message_type == T.NAK and nak.flags & BROADCAST_FLAG
    relay.send(message(T.DISCOVER, mac(3), 16, giaddr=ip("172.16.0.1")), to="10.0.0.1")
    assert relay.collect() == []  # a subnet this server does not serve


def test_garbage_does_not_kill_the_server(lan):
    net, _, serve, client = lan
    server = serve()
    rng = random.Random(1234)
    valid = message(T.DISCOVER, mac(1), 17).build()
    datagrams: list[bytes] = []
    for i in range(1000):
        kind = i % 5
        if kind == 0:
            data = rng.randbytes(rng.randrange(0, 700))
        elif kind == 1:
            data = valid[: rng.randrange(0, 240)]  # truncated header
        elif kind == 2:  # a valid header followed by random option bytes
            data = valid[:240] + rng.randbytes(rng.randrange(1, 300))
        elif kind == 3:  # an option whose value has the wrong length
            bad = rng.choice([(O.REQUESTED_IP, 3), (O.MESSAGE_TYPE, 2), (O.SERVER_ID, 5)])
            msg = message(T.REQUEST, mac(2), i)
            msg.options[bad[0]] = rng.randbytes(bad[1])
            data = msg.build()
        else:  # not a request at all
            data = DhcpMessage(DhcpOp.BOOTREPLY, i, mac(3), options={53: b"\x02"}).build()
        datagrams.append(data)
    for start in range(0, 1000, 100):
        for data in datagrams[start : start + 100]:
            client.sock.sendto_nowait(("10.0.0.1", 67), data)
        net.run_for(0.5)

    undecodable = 0
    for data in datagrams:
        try:
            DhcpMessage.parse(data)
        except DecodeError:
            undecodable += 1
    s = server.stats
    assert s.errors == 0 and undecodable >= 400
    assert s.malformed >= undecodable + 200  # plus the wrong-length options
    assert s.ignored >= 200  # BOOTREPLYs
    assert net.hosts["srv"].stack.stats()["udp"]["rx_queue_full"] == 0
    client.sock.drain()
    assert client.dora(mac(9))[1].message_type == T.ACK  # still serving


def test_stop_closes_the_port(lan):
    _, _, serve, client = lan
    server = serve()
    server.stop()
    assert client.exchange(message(T.DISCOVER, mac(1), 18)) is None
    server.start()
    assert client.exchange(message(T.DISCOVER, mac(1), 19)) is not None


def test_netstack_dhcp_clients_get_renew_and_release_leases(lan):
    """End to end with the stack's own DHCP client (EthernetInterface with DHCP on)."""
    net, seg, serve, _ = lan
    server = serve(lease_time=120.0)
    ifaces = [EthernetInterface(seg.add_port(), world=net.world, name=f"d{i}") for i in range(3)]

    async def connect_all() -> list[tuple[str | None, str | None, str | None]]:
        for iface in ifaces:
            await iface.connect()
        return [(i.ip_address, i.netmask, i.gateway) for i in ifaces]

    assert net.run(connect_all()) == [
        (f"10.0.0.{100 + n}", "255.255.255.0", "10.0.0.1") for n in range(3)
    ]
    net.run_for(300)  # several renewals at T1 = 60 s
    assert [r.state for r in server.leases] == [LeaseState.BOUND] * 3
    assert all(r.expires_at > net.now() for r in server.leases)
    assert server.stats.acks > 6 and server.stats.naks == 0
    net.run(ifaces[0].disconnect())  # sends a DHCPRELEASE
    net.run_for(1)
    assert [r.ip for r in server.leases] == ["10.0.0.101", "10.0.0.102"]
