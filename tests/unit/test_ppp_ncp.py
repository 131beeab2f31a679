"""IPCP (RFC 1332, RFC 1877) and IPV6CP (RFC 5072): client against server, crafted
requests, and seeded interface identifiers — machines back to back with explicit ``now``."""

from __future__ import annotations

import random

import pytest

from netstack.stacks.ip.ppp.fsm import Automaton, LayerFinished, LayerUp, State
from netstack.stacks.ip.ppp.ncp import (
    Ipcp,
    IpcpConfig,
    IpcpOption,
    Ipv6cp,
    Ipv6cpConfig,
    Ipv6cpOption,
)
from netstack.wire.ppp import ControlCode, ControlPacket, PppProtocol
from ppp_packets import Packet, events, reply, request, sent

Options = list[tuple[int, bytes]]


def ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


ANY = ip("0.0.0.0")
SERVER = IpcpConfig(local=ip("10.0.0.1"), peer=ip("10.0.0.2"), dns=(ip("8.8.8.8"), ip("1.1.1.1")))


def start(machine: Automaton, now: float = 0.0) -> Packet:
    machine.open(now)
    machine.up(now)
    (req,) = sent(machine)
    events(machine)
    return req


def run(a: Automaton, b: Automaton, *, log: list[tuple[str, Packet]] | None = None) -> None:
    """Open both and deliver packets both ways until quiet (no loss: no timers needed)."""
    for m in (a, b):
        m.open(0.0)
        m.up(0.0)
    for _ in range(100):
        out_a, out_b = a.packets_to_send(), b.packets_to_send()
        if not out_a and not out_b:
            return
        for raw in out_a:
            if log is not None:
                header, data = ControlPacket.parse(raw)
                log.append(("a", Packet(header.code, header.identifier, bytes(data))))
            b.receive(raw, 0.0)
        for raw in out_b:
            if log is not None:
                header, data = ControlPacket.parse(raw)
                log.append(("b", Packet(header.code, header.identifier, bytes(data))))
            a.receive(raw, 0.0)
    raise AssertionError("never quiet")


# --- IPCP: client and server ---------------------------------------------------------------


def test_client_first_request_asks_for_address_and_dns() -> None:
    req = start(Ipcp(IpcpConfig()))
    assert req.options == [
        (IpcpOption.IP_ADDRESS, ANY),
        (IpcpOption.PRIMARY_DNS, ANY),
        (IpcpOption.SECONDARY_DNS, ANY),
    ]


def test_client_gets_address_and_dns_from_the_server_by_naks() -> None:
    client, server = Ipcp(IpcpConfig()), Ipcp(SERVER)
    log: list[tuple[str, Packet]] = []
    run(client, server, log=log)
    assert client.is_open and server.is_open
    assert client.local_address == ip("10.0.0.2")
    assert client.peer_address == ip("10.0.0.1")
    assert client.dns_servers == [ip("8.8.8.8"), ip("1.1.1.1")]
    assert server.local_address == ip("10.0.0.1")
    assert server.peer_address == ip("10.0.0.2")
    naks = [p for who, p in log if who == "b" and p.code == ControlCode.CONFIGURE_NAK]
    assert naks[0].options == [
        (IpcpOption.IP_ADDRESS, ip("10.0.0.2")),
        (IpcpOption.PRIMARY_DNS, ip("8.8.8.8")),
        (IpcpOption.SECONDARY_DNS, ip("1.1.1.1")),
    ]
    assert LayerUp(PppProtocol.IPCP) in events(client)


def test_server_does_not_ask_for_dns_itself() -> None:
    req = start(Ipcp(SERVER))
    assert req.options == [(IpcpOption.IP_ADDRESS, ip("10.0.0.1"))]


def test_server_without_dns_rejects_dns_and_the_client_stops_asking() -> None:
    client = Ipcp(IpcpConfig())
    server = Ipcp(IpcpConfig(local=ip("10.0.0.1"), peer=ip("10.0.0.2")))
    log: list[tuple[str, Packet]] = []
    run(client, server, log=log)
    assert client.is_open and server.is_open
    assert client.local_address == ip("10.0.0.2")
    assert client.dns_servers == []
    rejects = [p for who, p in log if who == "b" and p.code == ControlCode.CONFIGURE_REJECT]
    assert [kind for kind, _ in rejects[0].options] == [
        IpcpOption.PRIMARY_DNS,
        IpcpOption.SECONDARY_DNS,
    ]
    requests = [p for who, p in log if who == "a" and p.code == ControlCode.CONFIGURE_REQUEST]
    assert [kind for kind, _ in requests[-1].options] == [IpcpOption.IP_ADDRESS]


def test_server_with_one_dns_rejects_the_secondary() -> None:
    server = Ipcp(IpcpConfig(local=ip("10.0.0.1"), peer=ip("10.0.0.2"), dns=(ip("9.9.9.9"),)))
    start(server)
    server.receive(
        request(1, [(IpcpOption.IP_ADDRESS, ip("10.0.0.2")), (129, ANY), (131, ANY)]), 1.0
    )
    (rej,) = sent(server)
    assert (rej.code, rej.options) == (ControlCode.CONFIGURE_REJECT, [(131, ANY)])
    client = Ipcp(IpcpConfig())
    server = Ipcp(IpcpConfig(local=ip("10.0.0.1"), peer=ip("10.0.0.2"), dns=(ip("9.9.9.9"),)))
    run(client, server)
    assert client.dns_servers == [ip("9.9.9.9")]


def test_server_naks_a_wrong_requested_address() -> None:
    server = Ipcp(SERVER)
    start(server)
    server.receive(request(2, [(IpcpOption.IP_ADDRESS, ip("10.0.0.99"))]), 1.0)
    (nak,) = sent(server)
    assert (nak.code, nak.identifier) == (ControlCode.CONFIGURE_NAK, 2)
    assert nak.options == [(IpcpOption.IP_ADDRESS, ip("10.0.0.2"))]


def test_server_acks_the_right_address() -> None:
    server = Ipcp(SERVER)
    start(server)
    server.receive(request(3, [(IpcpOption.IP_ADDRESS, ip("10.0.0.2"))]), 1.0)
    (ack,) = sent(server)
    assert ack.code == ControlCode.CONFIGURE_ACK
    assert server.peer_address == ip("10.0.0.2")


def test_server_naks_an_address_into_a_request_without_one() -> None:
    server = Ipcp(SERVER)
    start(server)
    server.receive(request(4, []), 1.0)
    (nak,) = sent(server)
    assert (nak.code, nak.options) == (
        ControlCode.CONFIGURE_NAK,
        [(IpcpOption.IP_ADDRESS, ip("10.0.0.2"))],
    )


def test_client_rejects_a_peer_address_of_0_0_0_0() -> None:
    client = Ipcp(IpcpConfig())
    start(client)
    client.receive(request(5, [(IpcpOption.IP_ADDRESS, ANY)]), 1.0)
    (rej,) = sent(client)
    assert (rej.code, rej.options) == (ControlCode.CONFIGURE_REJECT, [(IpcpOption.IP_ADDRESS, ANY)])


def test_client_acks_the_server_address() -> None:
    client = Ipcp(IpcpConfig())
    start(client)
    client.receive(request(6, [(IpcpOption.IP_ADDRESS, ip("10.0.0.1"))]), 1.0)
    (ack,) = sent(client)
    assert ack.code == ControlCode.CONFIGURE_ACK
    assert client.peer_address == ip("10.0.0.1")


@pytest.mark.parametrize(
    "option",
    [
        (IpcpOption.IP_COMPRESSION, bytes.fromhex("002d0f01")),  # Van Jacobson (RFC 1332 §4)
        (IpcpOption.IP_ADDRESSES, ip("10.0.0.1") + ip("10.0.0.2")),  # deprecated (§3.1)
        (IpcpOption.PRIMARY_NBNS, ANY),  # RFC 1877 §1.2
        (IpcpOption.PRIMARY_DNS, ANY),  # a client has no servers to give
    ],
    ids=["vj", "ip-addresses", "nbns", "dns-from-client"],
)
def test_client_rejects_options_it_does_not_do(option: tuple[int, bytes]) -> None:
    client = Ipcp(IpcpConfig())
    start(client)
    client.receive(request(7, [(IpcpOption.IP_ADDRESS, ip("10.0.0.1")), option]), 1.0)
    (rej,) = sent(client)
    assert (rej.code, rej.options) == (ControlCode.CONFIGURE_REJECT, [option])


def test_server_rejects_vj_compression() -> None:
    server = Ipcp(SERVER)
    start(server)
    vj = (IpcpOption.IP_COMPRESSION, bytes.fromhex("002d0f01"))
    server.receive(request(8, [(IpcpOption.IP_ADDRESS, ip("10.0.0.2")), vj]), 1.0)
    (rej,) = sent(server)
    assert (rej.code, rej.options) == (ControlCode.CONFIGURE_REJECT, [vj])


def test_client_gives_up_when_the_peer_rejects_its_address_request() -> None:
    client = Ipcp(IpcpConfig())
    req = start(client)
    client.receive(reply(ControlCode.CONFIGURE_REJECT, req.identifier, req.options[:1]), 1.0)
    assert client.state is State.CLOSING
    client.receive(ControlPacket(ControlCode.TERMINATE_ACK, 0).build(), 1.1)
    (finished,) = events(client)
    assert isinstance(finished, LayerFinished)
    assert "address" in finished.reason


def test_configured_address_rejected_is_kept_without_negotiating_it() -> None:
    peer_side = Ipcp(IpcpConfig(local=ip("192.168.1.1")))
    req = start(peer_side)
    peer_side.receive(reply(ControlCode.CONFIGURE_REJECT, req.identifier, req.options), 1.0)
    (again,) = sent(peer_side)
    assert again.code == ControlCode.CONFIGURE_REQUEST and again.options == []
    assert peer_side.state is State.REQ_SENT
    peer_side.receive(reply(ControlCode.CONFIGURE_ACK, again.identifier, []), 1.1)
    peer_side.receive(request(4, [(IpcpOption.IP_ADDRESS, ip("192.168.1.2"))]), 1.2)
    assert peer_side.is_open
    assert peer_side.local_address == ip("192.168.1.1")  # RFC 1332 §3.3: still ours


def test_two_configured_peers_agree_on_their_addresses() -> None:
    a = Ipcp(IpcpConfig(local=ip("192.168.1.1"), request_dns=False))
    b = Ipcp(IpcpConfig(local=ip("192.168.1.2"), request_dns=False))
    run(a, b)
    assert a.is_open and b.is_open
    assert (a.local_address, a.peer_address) == (ip("192.168.1.1"), ip("192.168.1.2"))
    assert (b.local_address, b.peer_address) == (ip("192.168.1.2"), ip("192.168.1.1"))


# --- IPV6CP ----------------------------------------------------------------------------------


def test_ipv6cp_random_identifiers_differ_and_are_exchanged() -> None:
    a = Ipv6cp(Ipv6cpConfig(), random.Random(1))
    b = Ipv6cp(Ipv6cpConfig(), random.Random(2))
    run(a, b)
    assert a.is_open and b.is_open
    assert a.local_iid is not None and b.local_iid is not None
    assert a.local_iid != b.local_iid
    assert a.peer_iid == b.local_iid and b.peer_iid == a.local_iid
    for iid in (a.local_iid, b.local_iid):
        assert len(iid) == 8 and iid != bytes(8)
        assert iid[0] & 0x02 == 0  # "u" bit clear: not a universal identifier


def test_ipv6cp_is_deterministic_with_a_seeded_generator() -> None:
    def negotiate(seed_a: int, seed_b: int) -> tuple[bytes | None, bytes | None]:
        a = Ipv6cp(Ipv6cpConfig(), random.Random(seed_a))
        b = Ipv6cp(Ipv6cpConfig(), random.Random(seed_b))
        run(a, b)
        return a.local_iid, b.local_iid

    assert negotiate(11, 12) == negotiate(11, 12)
    assert negotiate(11, 12) != negotiate(13, 14)


def test_ipv6cp_identifier_clash_is_resolved_by_nak() -> None:
    rng_b = random.Random(5)
    a = Ipv6cp(Ipv6cpConfig(), random.Random(5))
    b = Ipv6cp(Ipv6cpConfig(), rng_b)  # both drew the same identifier
    rng_b.seed(77)  # from here on their generators differ, as two real peers' would
    log: list[tuple[str, Packet]] = []
    run(a, b, log=log)
    assert a.is_open and b.is_open
    assert a.local_iid != b.local_iid
    assert any(p.code == ControlCode.CONFIGURE_NAK for _, p in log)


def test_ipv6cp_naks_a_zero_identifier() -> None:
    v6 = Ipv6cp(Ipv6cpConfig(), random.Random(3))
    start(v6)
    v6.receive(request(1, [(Ipv6cpOption.INTERFACE_IDENTIFIER, bytes(8))]), 1.0)
    (nak,) = sent(v6)
    assert nak.code == ControlCode.CONFIGURE_NAK
    ((kind, value),) = nak.options
    assert kind == Ipv6cpOption.INTERFACE_IDENTIFIER
    assert value != bytes(8) and len(value) == 8


def test_ipv6cp_naks_an_identifier_equal_to_ours() -> None:
    ours = bytes.fromhex("0211223344556677")
    v6 = Ipv6cp(Ipv6cpConfig(interface_id=ours), random.Random(3))
    req = start(v6)
    assert req.options == [(Ipv6cpOption.INTERFACE_IDENTIFIER, ours)]
    v6.receive(request(2, [(Ipv6cpOption.INTERFACE_IDENTIFIER, ours)]), 1.0)
    (nak,) = sent(v6)
    assert nak.code == ControlCode.CONFIGURE_NAK
    ((_, value),) = nak.options
    assert value not in (ours, bytes(8))


def test_ipv6cp_takes_the_peers_suggestion() -> None:
    v6 = Ipv6cp(Ipv6cpConfig(), random.Random(3))
    req = start(v6)
    suggestion = bytes.fromhex("00000000000000aa")
    option = [(Ipv6cpOption.INTERFACE_IDENTIFIER, suggestion)]
    v6.receive(reply(ControlCode.CONFIGURE_NAK, req.identifier, option), 1.0)
    (again,) = sent(v6)
    assert again.options == option


def test_ipv6cp_refuses_a_zero_suggestion() -> None:
    v6 = Ipv6cp(Ipv6cpConfig(), random.Random(3))
    req = start(v6)
    option = [(Ipv6cpOption.INTERFACE_IDENTIFIER, bytes(8))]
    v6.receive(reply(ControlCode.CONFIGURE_NAK, req.identifier, option), 1.0)
    (again,) = sent(v6)
    ((_, value),) = again.options
    assert value != bytes(8)


def test_ipv6cp_rejects_compression() -> None:
    v6 = Ipv6cp(Ipv6cpConfig(), random.Random(3))
    start(v6)
    compression = (Ipv6cpOption.IPV6_COMPRESSION, bytes.fromhex("004f"))
    v6.receive(request(3, [compression]), 1.0)
    (rej,) = sent(v6)
    assert (rej.code, rej.options) == (ControlCode.CONFIGURE_REJECT, [compression])


def test_ipv6cp_identifier_rejected_keeps_ours() -> None:
    a = Ipv6cp(Ipv6cpConfig(), random.Random(3))
    req = start(a)
    a.receive(reply(ControlCode.CONFIGURE_REJECT, req.identifier, req.options), 1.0)
    (again,) = sent(a)
    assert again.options == []  # RFC 1661 §5.4: rejected options are not asked again
    a.receive(reply(ControlCode.CONFIGURE_ACK, again.identifier, again.options), 1.1)
    a.receive(
        request(9, [(Ipv6cpOption.INTERFACE_IDENTIFIER, bytes.fromhex("0a0b0c0d0e0f1011"))]), 1.2
    )
    assert a.is_open
    assert a.local_iid == req.options[0][1]
