"""The DNS resolver and the DNS server on a simulated LAN, in virtual time."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from netstack.address import IpVersion, SocketAddress
from netstack.errors import BusyError, DnsFailureError, ParameterError
from netstack.services.dns_server import DnsServer
from netstack.sim import Network
from netstack.socket import UDPSocket
from netstack.socket.dns import Resolver, ResolverConfig

RECORDS = {
    "host.example.test": "10.0.0.5",
    "v6.example.test": "fd00::5",
    "dual.example.test": ["10.0.0.6", "fd00::6"],
    "alias.example.test": "CNAME alias2.example.test",
    "alias2.example.test": "CNAME host.example.test",
    "multi.example.test": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    "ext.example.test": "CNAME www.other.test",
}

Reply = list[tuple[float, bytes]]  # (delay, datagram) pairs


class ScriptedServer:
    """A 'DNS server' that answers each query with whatever ``script(query)`` returns."""

    def __init__(self, host, script: Callable[[dns.message.Message], Reply]) -> None:
        self.script = script
        self.world = host.stack.world
        self.queries: list[dns.message.Message] = []
        self.peers: list[SocketAddress] = []
        self.sock = UDPSocket(host)
        self.sock.bind(53)
        self.sock.set_blocking(False)
        self.sock.sigio(self._readable)

    def _readable(self) -> None:
        for data, peer in self.sock.drain():
            query = dns.message.from_wire(data)
            self.queries.append(query)
            self.peers.append(peer)
            for delay, wire in self.script(query):
                self.world.call_later(delay, lambda w=wire, p=peer: self.sock.sendto_nowait(p, w))


def answer(query: dns.message.Message, *records: str, rcode=dns.rcode.NOERROR, **kw):
    """A response to ``query`` holding ``records`` ("name ttl IN A 10.0.0.5")."""
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    for text in records:
        response.answer.append(dns.rrset.from_text(*text.split()))
    for flag in kw.get("flags", ()):
        response.flags |= flag
    if "id" in kw:
        response.id = kw["id"]
    if not kw.get("edns", True):
        response.use_edns(False)
    return response.to_wire()


@pytest.fixture
def lan():
    net = Network(seed=7)
    seg = net.segment("lan")
    hosts = {
        "client": net.host("client", seg, "10.0.0.1/24"),
        "dns1": net.host("dns1", seg, "10.0.0.53/24"),
        "dns2": net.host("dns2", seg, "10.0.0.54/24"),
        "silent": net.host("silent", seg, "10.0.0.99/24"),  # port 53 open, never answers
        "closed": net.host("closed", seg, "10.0.0.98/24"),  # port 53 closed: ICMP unreachable
    }
    net.run(net.start())
    yield net, hosts
    net.close()


@pytest.fixture
def dns1(lan):
    _, hosts = lan
    server = DnsServer(hosts["dns1"], RECORDS, origin="example.test")
    server.start()
    return server


def resolver_for(hosts, *servers, **config) -> Resolver:
    r = Resolver(hosts["client"], ResolverConfig(**config))
    r.set_servers(servers)
    return r


def timed(net, coro):
    """Run ``coro``; return (result or exception, virtual seconds taken)."""

    async def main():
        start = net.now()
        try:
            result = await coro
        except Exception as exc:
            result = exc
        return result, net.now() - start

    return net.run(main())


# -- resolution ----------------------------------------------------------------------------
def test_resolves_a_aaaa_and_every_address_of_a_name(lan, dns1):
    net, hosts = lan
    r = resolver_for(hosts, "10.0.0.53")

    async def main():
        return (
            await r.gethostbyname("host.example.test"),
            await r.gethostbyname("v6.example.test", IpVersion.IPV6),
            await r.getaddrinfo("multi.example.test", IpVersion.IPV4),
            await r.getaddrinfo("HOST.Example.Test."),  # case and the root dot do not matter
        )

    host, v6, multi, again = net.run(main())
    assert host == SocketAddress("10.0.0.5", 0)
    assert v6 == SocketAddress("fd00::5", 0)
    assert sorted(a.ip for a in multi) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert again == [SocketAddress("10.0.0.5", 0)]
    assert r.stats.queries_sent == r.stats.responses
    assert dns1.stats.answered == dns1.stats.queries


def test_unspec_returns_both_families_in_preferred_order(lan, dns1):
    net, hosts = lan
    v4_first = resolver_for(hosts, "10.0.0.53")
    v6_first = resolver_for(hosts, "10.0.0.53", prefer=IpVersion.IPV6)

    async def main():
        return (
            await v4_first.getaddrinfo("dual.example.test"),
            await v6_first.getaddrinfo("dual.example.test"),
            await v6_first.gethostbyname("host.example.test"),  # no AAAA: the A answers
        )

    v4, v6, only_v4 = net.run(main())
    assert [a.ip for a in v4] == ["10.0.0.6", "fd00::6"]
    assert [a.ip for a in v6] == ["fd00::6", "10.0.0.6"]
    assert only_v4.ip == "10.0.0.5"


def test_cname_chain_in_one_answer_is_followed(lan, dns1):
    net, hosts = lan
    r = resolver_for(hosts, "10.0.0.53")
    assert net.run(r.gethostbyname("alias.example.test", IpVersion.IPV4)).ip == "10.0.0.5"
    assert r.stats.queries_sent == 1  # the server sent the whole chain at once


def test_cname_leaving_the_answer_is_asked_for_again_elsewhere(lan, dns1):
    net, hosts = lan
    other = DnsServer(hosts["dns2"], {"www.other.test": "10.0.1.80"}, origin="other.test")
    other.start()
    r = resolver_for(hosts, "10.0.0.53", "10.0.0.54")
    got = net.run(r.gethostbyname("ext.example.test", IpVersion.IPV4))
    assert got.ip == "10.0.1.80"
    # dns1 gave the CNAME, refused www.other.test (not its zone), dns2 answered it
    assert dns1.stats.answered == 1 and dns1.stats.refused == 1
    assert r.stats.refused == 1 and r.stats.failovers == 1


def test_cname_target_already_cached_is_not_asked_again(lan, dns1):
    net, hosts = lan
    other = DnsServer(hosts["dns2"], {"www.other.test": "10.0.1.80"}, origin="other.test")
    other.start()
    r = resolver_for(hosts, "10.0.0.53", "10.0.0.54")
    assert net.run(r.gethostbyname("WWW.other.test", IpVersion.IPV4)).ip == "10.0.1.80"
    asked = other.stats.queries
    # ext.example.test is a CNAME to www.other.test, whose address is cached already
    assert net.run(r.gethostbyname("ext.example.test", IpVersion.IPV4)).ip == "10.0.1.80"
    assert other.stats.queries == asked


def test_failure_at_the_end_of_a_cname_names_the_alias(lan, dns1):
    net, hosts = lan
    r = resolver_for(hosts, "10.0.0.53")  # nobody serves other.test: dns1 refuses it
    with pytest.raises(DnsFailureError, match=r"ext\.example\.test: alias of www\.other\.test"):
        net.run(r.gethostbyname("ext.example.test", IpVersion.IPV4))


def test_cname_loops_and_overlong_chains_fail(lan):
    net, hosts = lan
    chain = {f"c{i}.test": f"CNAME c{i + 1}.test" for i in range(10)}
    chain["c10.test"] = "10.0.0.10"
    server = DnsServer(hosts["dns1"], {"a.test": "CNAME b.test", "b.test": "CNAME a.test", **chain})
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    loop, _ = timed(net, r.gethostbyname("a.test", IpVersion.IPV4))
    assert isinstance(loop, DnsFailureError) and "loop" in str(loop)
    long, _ = timed(net, r.gethostbyname("c0.test", IpVersion.IPV4))
    assert isinstance(long, DnsFailureError) and "CNAME chain longer than 8" in str(long)
    short = resolver_for(hosts, "10.0.0.53", max_cname_chain=10)
    assert net.run(short.gethostbyname("c0.test", IpVersion.IPV4)).ip == "10.0.0.10"


def test_nxdomain_raises_at_once_without_failover(lan, dns1):
    net, hosts = lan
    backup = DnsServer(hosts["dns2"], {"nope.example.test": "10.9.9.9"})
    backup.start()
    r = resolver_for(hosts, "10.0.0.53", "10.0.0.54")
    err, elapsed = timed(net, r.gethostbyname("nope.example.test"))
    assert isinstance(err, DnsFailureError) and "no such name" in str(err)
    assert backup.stats.queries == 0 and r.stats.failovers == 0
    assert r.stats.nxdomain == 2  # A and AAAA
    assert elapsed < 0.1


def test_name_without_records_of_the_family_raises(lan, dns1):
    net, hosts = lan
    r = resolver_for(hosts, "10.0.0.53")
    err, _ = timed(net, r.gethostbyname("v6.example.test", IpVersion.IPV4))
    assert isinstance(err, DnsFailureError) and "no A records" in str(err)
    err, _ = timed(net, r.gethostbyname("example.test", IpVersion.IPV4))  # SOA only
    assert isinstance(err, DnsFailureError)


# -- failover ------------------------------------------------------------------------------
def test_closed_port_fails_over_at_once(lan, dns1):
    net, hosts = lan
    r = resolver_for(hosts, "10.0.0.98", "10.0.0.53")
    got, elapsed = timed(net, r.gethostbyname("host.example.test", IpVersion.IPV4))
    assert got.ip == "10.0.0.5"
    assert r.stats.failovers == 1 and r.stats.timeouts == 0
    assert elapsed < 0.5  # ICMP port unreachable, not a timeout


@pytest.mark.parametrize(("timeout", "attempts"), [(2.0, 2), (1.5, 3)])
def test_silent_server_costs_timeout_times_attempts(lan, dns1, timeout, attempts):
    net, hosts = lan
    UDPSocket(hosts["silent"]).bind(53)  # a listening socket that never answers
    r = resolver_for(hosts, "10.0.0.99", "10.0.0.53", timeout=timeout, attempts=attempts)
    got, elapsed = timed(net, r.gethostbyname("host.example.test", IpVersion.IPV4))
    assert got.ip == "10.0.0.5"
    assert r.stats.timeouts == attempts and r.stats.failovers == 1
    assert r.stats.queries_sent == attempts + 1
    assert timeout * attempts <= elapsed < timeout * attempts + 0.1


def test_total_attempts_bound_the_whole_lookup(lan):
    net, hosts = lan
    for port in (53, 5353, 5354):
        UDPSocket(hosts["silent"]).bind(port)
    r = resolver_for(
        hosts, "10.0.0.99", ("10.0.0.99", 5353), ("10.0.0.99", 5354), timeout=1.0, total_attempts=3
    )
    err, elapsed = timed(net, r.gethostbyname("host.example.test", IpVersion.IPV4))
    assert isinstance(err, DnsFailureError) and "no answer" in str(err)
    assert r.stats.queries_sent == 3  # two to the first server, one to the second
    assert r.stats.failovers == 1
    assert 3.0 <= elapsed < 3.1


def test_servfail_fails_over(lan, dns1):
    net, hosts = lan
    broken = ScriptedServer(hosts["dns2"], lambda q: [(0, answer(q, rcode=dns.rcode.SERVFAIL))])
    r = resolver_for(hosts, "10.0.0.54", "10.0.0.53")
    got, elapsed = timed(net, r.gethostbyname("host.example.test", IpVersion.IPV4))
    assert got.ip == "10.0.0.5" and elapsed < 0.5
    assert len(broken.queries) == 1  # a SERVFAIL is not retried at the same server
    assert r.stats.servfail == 1 and r.stats.failovers == 1


def test_formerr_to_edns_is_retried_without_edns(lan):
    net, hosts = lan

    def old_server(q):
        if q.edns >= 0:  # a pre-EDNS server: FORMERR, without an OPT record
            return [(0, answer(q, rcode=dns.rcode.FORMERR, edns=False))]
        return [(0, answer(q, "old.test. 60 IN A 10.0.0.7"))]

    server = ScriptedServer(hosts["dns2"], old_server)
    r = resolver_for(hosts, "10.0.0.54")
    assert net.run(r.gethostbyname("old.test", IpVersion.IPV4)).ip == "10.0.0.7"
    assert [q.edns for q in server.queries] == [0, -1]
    assert server.queries[0].payload == 1232  # EDNS0 with our advertised size


def test_no_servers_and_literals(lan):
    net, hosts = lan
    r = Resolver(hosts["client"])

    async def main():
        assert await r.gethostbyname("10.1.2.3") == SocketAddress("10.1.2.3", 0)
        assert await r.gethostbyname("fd00::1", IpVersion.IPV6) == SocketAddress("fd00::1", 0)
        assert await r.getaddrinfo("10.1.2.3", IpVersion.IPV4) == [SocketAddress("10.1.2.3")]
        with pytest.raises(DnsFailureError):
            await r.gethostbyname("10.1.2.3", IpVersion.IPV6)  # the wrong family (Mbed)
        with pytest.raises(DnsFailureError, match="no DNS servers"):
            await r.gethostbyname("host.example.test")
        with pytest.raises(ParameterError):
            await r.gethostbyname("")
        with pytest.raises(ParameterError):
            await r.gethostbyname("bad name.test")

    net.run(main())
    assert r.stats.queries_sent == 0
    assert hosts["client"].stack.stats()["udp"]["tx_datagrams"] == 0


def test_server_list_semantics(lan):
    _, hosts = lan
    r = Resolver(hosts["client"])
    r.add_server("10.0.0.53")
    r.add_server(SocketAddress("10.0.0.54", 5353))
    r.add_server(("10.0.0.53", 53))  # already there: moves to the front
    assert r.servers == [SocketAddress("10.0.0.53", 53), SocketAddress("10.0.0.54", 5353)]
    assert r.get_server(1).port == 5353
    with pytest.raises(ParameterError):
        r.get_server(2)
    shared = r.servers
    r.set_servers(["10.0.0.99"])
    assert shared == [SocketAddress("10.0.0.99", 53)]  # replaced in place


# -- cache ---------------------------------------------------------------------------------
def test_cache_hit_sends_nothing_and_expires_after_the_ttl(lan):
    net, hosts = lan
    server = DnsServer(hosts["dns1"], {"host.example.test": "10.0.0.5"}, ttl=30)
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    lookup = r.gethostbyname
    assert net.run(lookup("host.example.test", IpVersion.IPV4)).ip == "10.0.0.5"
    assert server.stats.queries == 1
    net.run_for(29)
    assert net.run(lookup("host.example.test", IpVersion.IPV4)).ip == "10.0.0.5"
    assert server.stats.queries == 1 and r.stats.cache_hits == 1
    net.run_for(1.5)  # past the TTL
    assert net.run(lookup("host.example.test", IpVersion.IPV4)).ip == "10.0.0.5"
    assert server.stats.queries == 2 and r.stats.cache_misses == 2
    r.cache_clear()
    net.run(lookup("host.example.test", IpVersion.IPV4))
    assert server.stats.queries == 3


def test_ttl_zero_is_never_cached(lan):
    net, hosts = lan
    server = DnsServer(hosts["dns1"], {"host.example.test": "10.0.0.5"}, ttl=0)
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    for _ in range(3):
        net.run(r.gethostbyname("host.example.test", IpVersion.IPV4))
    assert server.stats.queries == 3 and r.stats.cache_hits == 0


def test_cache_uses_the_smallest_ttl_of_a_cname_chain(lan):
    net, hosts = lan
    server = DnsServer(hosts["dns1"], ttl=300)
    server.add_record("alias.test", "CNAME host.test", ttl=10)
    server.add_record("host.test", "10.0.0.5")
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    net.run(r.gethostbyname("alias.test", IpVersion.IPV4))
    net.run_for(9)
    net.run(r.gethostbyname("alias.test", IpVersion.IPV4))
    assert server.stats.queries == 1
    net.run_for(2)
    net.run(r.gethostbyname("alias.test", IpVersion.IPV4))
    assert server.stats.queries == 2


def test_negative_answers_are_cached_for_the_soa_minimum(lan):
    net, hosts = lan
    server = DnsServer(hosts["dns1"], {"host.example.test": "10.0.0.5"}, origin="example.test")
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    for _ in range(2):
        err, _ = timed(net, r.gethostbyname("nope.example.test", IpVersion.IPV4))
        assert isinstance(err, DnsFailureError) and "no such name" in str(err)
    assert server.stats.queries == 1 and r.stats.cache_hits == 1
    net.run_for(301)  # SOA minimum = the server's ttl (300)
    timed(net, r.gethostbyname("nope.example.test", IpVersion.IPV4))
    assert server.stats.queries == 2


def test_cache_is_bounded(lan, dns1):
    net, hosts = lan
    r = resolver_for(hosts, "10.0.0.53", cache_size=2)
    for name in ("host", "multi", "v6", "host"):
        version = IpVersion.IPV6 if name == "v6" else IpVersion.IPV4
        net.run(r.getaddrinfo(f"{name}.example.test", version))
    assert r.stats.cache_hits == 0  # host was evicted by multi and v6


# -- concurrency ---------------------------------------------------------------------------
def test_twenty_concurrent_lookups(lan):
    net, hosts = lan
    records = {f"h{i}.test": f"10.0.2.{i}" for i in range(20)}
    server = DnsServer(hosts["dns1"], records)
    server.start()
    r = resolver_for(hosts, "10.0.0.53", max_concurrent=20)

    async def main():
        names = [f"h{i}.test" for i in range(20)]
        return await asyncio.gather(*(r.gethostbyname(n, IpVersion.IPV4) for n in names))

    got, elapsed = timed(net, main())
    assert [a.ip for a in got] == [f"10.0.2.{i}" for i in range(20)]
    assert server.stats.queries == 20 and elapsed < 0.5
    assert r.in_flight == 0


def test_lookups_beyond_max_concurrent_are_busy(lan):
    net, hosts = lan
    UDPSocket(hosts["silent"]).bind(53)
    r = resolver_for(hosts, "10.0.0.99", timeout=1.0, attempts=1)

    async def main():
        tasks = [
            asyncio.ensure_future(r.gethostbyname(f"h{i}.test", IpVersion.IPV4)) for i in range(20)
        ]
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = net.run(main())
    assert sum(isinstance(x, BusyError) for x in results) == 4  # 16 in flight at once
    assert sum(isinstance(x, DnsFailureError) for x in results) == 16
    assert r.in_flight == 0


def test_concurrent_lookups_of_one_name_share_one_query(lan, dns1):
    net, hosts = lan
    r = resolver_for(hosts, "10.0.0.53")

    async def main():
        lookups = (r.gethostbyname("host.example.test", IpVersion.IPV4) for _ in range(20))
        return await asyncio.gather(*lookups)

    got = net.run(main())
    assert {a.ip for a in got} == {"10.0.0.5"}
    assert dns1.stats.queries == 1 and r.stats.queries_sent == 1


# -- spoofing ------------------------------------------------------------------------------
def test_answer_with_a_wrong_id_is_ignored_and_the_wait_goes_on(lan):
    net, hosts = lan

    def spoofing(q):
        return [
            (0.0, answer(q, f"{q.question[0].name} 60 IN A 6.6.6.6", id=(q.id + 1) % 65536)),
            (0.3, answer(q, f"{q.question[0].name} 60 IN A 10.0.0.5")),
        ]

    ScriptedServer(hosts["dns2"], spoofing)
    r = resolver_for(hosts, "10.0.0.54")
    got, elapsed = timed(net, r.gethostbyname("host.example.test", IpVersion.IPV4))
    assert got.ip == "10.0.0.5"
    assert r.stats.ignored == 1 and r.stats.responses == 1
    assert 0.3 <= elapsed < 0.4


def test_answer_to_another_question_or_garbage_is_ignored(lan):
    net, hosts = lan

    def confused(q):
        return [
            (
                0.0,
                answer(
                    dns.message.make_query("evil.test", "A", id=q.id), "evil.test. 60 IN A 6.6.6.6"
                ),
            ),
            (0.0, b"\x00\x01garbage"),
        ]

    ScriptedServer(hosts["dns2"], confused)
    r = resolver_for(hosts, "10.0.0.54", timeout=1.0, attempts=1)
    err, elapsed = timed(net, r.gethostbyname("host.example.test", IpVersion.IPV4))
    assert isinstance(err, DnsFailureError)
    assert r.stats.ignored == 1 and r.stats.malformed == 1 and r.stats.timeouts == 1
    assert 1.0 <= elapsed < 1.1


def test_queries_use_random_ids_and_source_ports(lan):
    net, hosts = lan
    server = ScriptedServer(
        hosts["dns2"], lambda q: [(0, answer(q, f"{q.question[0].name} 0 IN A 10.0.0.5"))]
    )
    r = resolver_for(hosts, "10.0.0.54")
    for _ in range(10):
        net.run(r.gethostbyname("host.example.test", IpVersion.IPV4))
    assert len({q.id for q in server.queries}) == 10
    assert len({peer.port for peer in server.peers}) == 10
    assert all(peer.port >= 49152 for peer in server.peers)


# -- truncation ----------------------------------------------------------------------------
def test_truncated_answer_without_records_and_without_tcp_fails(lan):
    net, hosts = lan
    many = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(100)]  # 100 A records > 1232 bytes
    server = DnsServer(hosts["dns1"], {"big.test": many})
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    err, _ = timed(net, r.gethostbyname("big.test", IpVersion.IPV4))
    assert isinstance(err, DnsFailureError) and "truncated and no TCP" in str(err)
    assert server.stats.truncated == 1 and r.stats.truncated == 1


def test_truncated_answer_with_records_is_used_but_not_cached(lan):
    net, hosts = lan

    def partial(q):
        name = q.question[0].name
        return [(0, answer(q, f"{name} 60 IN A 10.0.0.5", flags=[dns.flags.TC]))]

    server = ScriptedServer(hosts["dns2"], partial)
    r = resolver_for(hosts, "10.0.0.54")
    for _ in range(2):
        assert net.run(r.gethostbyname("host.test", IpVersion.IPV4)).ip == "10.0.0.5"
    assert r.stats.truncated == 2 and len(server.queries) == 2


def test_truncated_answer_is_asked_again_over_tcp_when_the_stack_has_it(lan):
    net, hosts = lan
    many = [f"10.0.3.{i}" for i in range(1, 101)]
    server = DnsServer(hosts["dns1"], {"big.test": many})
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    r._open_stream = lambda: FakeTcpStream(many)  # type: ignore[method-assign]
    got = net.run(r.getaddrinfo("big.test", IpVersion.IPV4))
    assert sorted(a.ip for a in got) == sorted(many)
    assert r.stats.truncated == 1
    net.run(r.getaddrinfo("big.test", IpVersion.IPV4))  # the full answer was cached
    assert server.stats.queries == 1


class FakeTcpStream:
    """Stands in for a TCPSocket: answers a length-prefixed query with every address."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.out = b""

    def set_timeout(self, seconds):
        pass

    async def connect(self, address):
        assert address == SocketAddress("10.0.0.53", 53)

    async def send(self, data: bytes) -> int:
        query = dns.message.from_wire(data[2:])
        assert int.from_bytes(data[:2], "big") == len(data) - 2
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text_list("big.test.", 60, "IN", "A", self.addresses))
        self.out = response.to_wire(max_size=65535, prepend_length=True)
        return len(data)

    async def recv(self, bufsize: int = 65535) -> bytes:
        n = min(7, bufsize)  # dribble it out in small segments
        chunk, self.out = self.out[:n], self.out[n:]
        return chunk

    def close(self):
        pass


# -- the server ----------------------------------------------------------------------------
def query_wire(name: str, rdtype="A", *, edns=True, payload=1232, qid=1) -> bytes:
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else False, payload=payload, id=qid)
    return q.to_wire()


def test_server_answers_as_an_authority(lan, dns1):
    def ask(name, rdtype="A", **kw):
        return dns.message.from_wire(dns1.handle_query(query_wire(name, rdtype, **kw)))

    r = ask("alias.example.test")
    assert r.flags & dns.flags.AA and r.rcode() == dns.rcode.NOERROR
    assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.CNAME] * 2 + [dns.rdatatype.A]
    assert ask("nope.example.test").rcode() == dns.rcode.NXDOMAIN
    assert ask("nope.example.test").authority[0].rdtype == dns.rdatatype.SOA  # RFC 2308
    assert ask("www.elsewhere.test").rcode() == dns.rcode.REFUSED
    nodata = ask("v6.example.test", "A")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer and nodata.authority
    assert ask("example.test", "SOA").answer[0].rdtype == dns.rdatatype.SOA
    assert ask("host.example.test", "ANY").answer  # RFC 8482: a minimal answer
    assert ask("host.example.test", "AXFR").rcode() == dns.rcode.REFUSED
    assert ask("host.example.test", edns=False).edns == -1  # EDNS only if asked with EDNS
    assert ask("host.example.test").edns == 0


def test_server_empty_non_terminal_is_nodata_not_nxdomain(lan):
    _, hosts = lan
    server = DnsServer(hosts["dns1"], {"a.b.c.test": "10.0.0.1"})
    r = dns.message.from_wire(server.handle_query(query_wire("b.c.test")))
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    r = dns.message.from_wire(server.handle_query(query_wire("x.c.test")))
    assert r.rcode() == dns.rcode.NXDOMAIN  # no origin: no SOA to add
    assert not r.authority


def test_server_truncates_to_512_without_edns_and_to_the_clients_size(lan):
    _, hosts = lan
    server = DnsServer(hosts["dns1"], {"big.test": [f"10.0.4.{i}" for i in range(1, 61)]})
    classic = server.handle_query(query_wire("big.test", edns=False))
    assert len(classic) <= 512
    assert dns.message.from_wire(classic).flags & dns.flags.TC
    big = server.handle_query(query_wire("big.test", payload=4096))
    assert 512 < len(big) <= 1232  # 60 records fit in our 1232, never more than that
    assert not dns.message.from_wire(big).flags & dns.flags.TC
    assert server.stats.truncated == 1


def test_server_rejects_what_it_does_not_serve(lan):
    _, hosts = lan
    server = DnsServer(hosts["dns1"], {"host.test": "10.0.0.5"})

    notify = dns.message.make_query("host.test", "SOA", id=9)
    notify.set_opcode(dns.opcode.NOTIFY)
    r = dns.message.from_wire(server.handle_query(notify.to_wire()))
    assert r.rcode() == dns.rcode.NOTIMP and r.id == 9

    edns1 = dns.message.make_query("host.test", "A", use_edns=1, id=10)
    r = dns.message.from_wire(server.handle_query(edns1.to_wire()))
    assert r.rcode() == dns.rcode.BADVERS

    chaos = dns.message.make_query("host.test", "A", rdclass="CH", id=11)
    assert dns.message.from_wire(server.handle_query(chaos.to_wire())).rcode() == dns.rcode.REFUSED

    response = dns.message.make_response(dns.message.make_query("host.test", "A"))
    assert server.handle_query(response.to_wire()) is None  # never answer a response

    formerr = dns.message.from_wire(server.handle_query(b"\x12\x34\x01\x00" + b"\xff" * 20))
    assert formerr.rcode() == dns.rcode.FORMERR and formerr.id == 0x1234
    assert server.handle_query(b"\x01") is None  # not even a header
    assert server.stats.malformed == 3


def test_server_records_can_change_while_running(lan):
    net, hosts = lan
    server = DnsServer(hosts["dns1"], origin="example.test", ttl=0)
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    err, _ = timed(net, r.gethostbyname("new.example.test", IpVersion.IPV4))
    assert isinstance(err, DnsFailureError)
    server.add_record("new.example.test", "10.0.0.77")
    server.add_record("@", "10.0.0.78")  # the origin itself
    assert net.run(r.gethostbyname("new.example.test", IpVersion.IPV4)).ip == "10.0.0.77"
    assert net.run(r.gethostbyname("example.test", IpVersion.IPV4)).ip == "10.0.0.78"
    server.remove("new.example.test")
    err, _ = timed(net, r.gethostbyname("new.example.test", IpVersion.IPV4))
    assert isinstance(err, DnsFailureError) and "no such name" in str(err)
    with pytest.raises(ParameterError):
        server.add_record("example.test", "CNAME elsewhere.test")  # RFC 2181 §10.1
    with pytest.raises(ParameterError):
        server.add_record("x.example.test", "NOTATYPE 1")
    server.stop()
    server.stop()  # stopping twice is harmless


def test_zone_file_is_served(lan, tmp_path):
    net, hosts = lan
    zone = tmp_path / "zone.test.db"
    zone.write_text(
        "$ORIGIN zone.test.\n"
        "$TTL 120\n"
        "@     IN SOA ns hostmaster 2024010101 3600 600 86400 60\n"
        "@     IN NS  ns\n"
        "ns    IN A   10.0.0.53\n"
        "www   IN A   10.0.5.1\n"
        "www   IN AAAA fd00::5:1\n"
        "web   IN CNAME www\n"
        "@     IN MX  10 mail\n"
        "mail  IN A   10.0.5.25\n"
    )
    server = DnsServer(hosts["dns1"], zone_file=zone)
    server.start()
    r = resolver_for(hosts, "10.0.0.53")
    got = net.run(r.getaddrinfo("web.zone.test"))
    assert [a.ip for a in got] == ["10.0.5.1", "fd00::5:1"]
    mx = dns.message.from_wire(server.handle_query(query_wire("zone.test", "MX")))
    assert mx.answer[0].rdtype == dns.rdatatype.MX
    out = dns.message.from_wire(server.handle_query(query_wire("www.other.test")))
    assert out.rcode() == dns.rcode.REFUSED
    nx = dns.message.from_wire(server.handle_query(query_wire("nope.zone.test")))
    assert nx.authority[0].ttl == 60  # min(SOA TTL 120, MINIMUM 60)
    bad = tmp_path / "bad.db"
    bad.write_text("$ORIGIN bad.test.\n@ IN A not-an-address\n")
    with pytest.raises(ParameterError):
        DnsServer(hosts["dns2"], zone_file=bad)


def test_server_survives_2000_random_datagrams(lan, dns1):
    net, hosts = lan
    rng = random.Random(1234)
    valid = query_wire("host.example.test")
    fuzzer = UDPSocket(hosts["client"])
    fuzzer.bind(40000)
    r = resolver_for(hosts, "10.0.0.53", cache_size=0)

    async def main():
        assert (await r.gethostbyname("host.example.test", IpVersion.IPV4)).ip == "10.0.0.5"
        before = dns1.stats.queries
        for i in range(2000):
            if i % 2:  # pure noise
                data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))
            else:  # a valid query with a few bits flipped, or cut short
                buf = bytearray(valid)
                for _ in range(rng.randrange(1, 4)):
                    buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
                data = bytes(buf[: rng.randrange(1, len(buf) + 1)])
            fuzzer.sendto_nowait(("10.0.0.53", 53), data)
            if i % 50 == 49:
                await asyncio.sleep(0.01)
                fuzzer.drain()
        await asyncio.sleep(0.1)
        assert dns1.stats.queries - before == 2000
        return await r.gethostbyname("host.example.test", IpVersion.IPV4)

    assert net.run(main()).ip == "10.0.0.5"
    s = dns1.stats
    assert s.malformed >= 1000  # (nearly) every pure-noise datagram, and broken queries
    assert s.queries == s.answered + s.nxdomain + s.refused + s.notimp + s.malformed
    assert s.errors == 0
