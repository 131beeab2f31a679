"""DNS stub resolver (RFC 1035, RFC 1123 §6.1.3) over the Socket API's UDPSocket.

A :class:`Resolver` turns a host name into addresses: A and/or AAAA queries sent to its
servers in order (Mbed's ``nsapi_dns`` semantics: ``add_server`` pushes to the front, a
number of attempts per server and in total), with EDNS0, CNAME chasing, an LRU cache
honouring TTLs, and failover on timeout, SERVFAIL or REFUSED. All waiting is a socket
timeout on the world's clock, so in a simulation a lookup against a silent server costs
virtual seconds and no wall time.

dnspython provides the message format only (building, parsing, comparing questions); the
transport is netstack's :class:`~netstack.socket.udp.UDPSocket` on the resolver's stack.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.wirebase

from netstack.address import IpVersion, SocketAddress, parse_literal
from netstack.errors import (
    BusyError,
    DnsFailureError,
    NetworkError,
    NetworkTimeoutError,
    ParameterError,
    UnsupportedError,
)
from netstack.socket.base import AddressLike, HasStack, resolve_stack, to_address
from netstack.socket.udp import UDPSocket
from netstack.stacks.core.api import NetworkStack

log = logging.getLogger(__name__)

DNS_PORT = 53
MAX_NAME_LENGTH = 253  # RFC 1035 §2.3.4: 255 octets on the wire = 253 characters of text
MAX_LABEL_LENGTH = 63  # RFC 1035 §2.3.4
MAX_CACHE_TTL = 7 * 86400  # RFC 8767 §4: cap cached TTLs at seven days
_TTL_SIGN_BIT = 0x80000000  # RFC 2181 §8: a TTL with the top bit set is treated as zero
_HOSTNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")

RdType = dns.rdatatype.RdataType
A = dns.rdatatype.A
AAAA = dns.rdatatype.AAAA
CacheKey = tuple[str, int]
V = TypeVar("V")


# -- names ---------------------------------------------------------------------------------
def validate_hostname(host: str) -> str:
    """Check a host name; return it without its trailing dot, or raise ParameterError.

    RFC 1035 §2.3.4 lengths (253 characters, labels of 1..63) and RFC 1123 §2.1 characters,
    as leniently as glibc's ``res_hnok``: letters, digits, ``-`` and ``_`` in any label, but
    the first label may not start with ``-`` (it would read as a command-line option).
    """
    if not isinstance(host, str) or not host:
        raise ParameterError("empty host name")
    name = host[:-1] if host.endswith(".") else host
    if not name:
        raise ParameterError("host name is only the root")
    if len(name) > MAX_NAME_LENGTH:
        raise ParameterError(f"host name longer than {MAX_NAME_LENGTH} characters")
    labels = name.split(".")
    for label in labels:
        if not label:
            raise ParameterError(f"empty label in host name {host!r}")
        if len(label) > MAX_LABEL_LENGTH:
            raise ParameterError(f"label longer than {MAX_LABEL_LENGTH} characters in {host!r}")
        if not _HOSTNAME_CHARS.issuperset(label):
            raise ParameterError(f"invalid character in host name {host!r}")
    if labels[0].startswith("-"):
        raise ParameterError(f"host name starts with '-': {host!r}")
    return name


# -- cache ---------------------------------------------------------------------------------
class DnsCache(Generic[V]):
    """A size-limited LRU of values that expire on an injected clock (``now`` in seconds).

    A TTL of zero (or less) is not stored (RFC 1035 §3.2.1: zero means "do not cache").
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[V, float]] = OrderedDict()

    def get(self, key: Hashable, now: float) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if now >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V, ttl: float, now: float) -> None:
        if ttl <= 0 or self.max_entries <= 0:
            return
        self._entries[key] = (value, now + min(ttl, MAX_CACHE_TTL))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


# -- configuration and counters --------------------------------------------------------------
@dataclass(slots=True)
class ResolverConfig:
    timeout: float = 2.0  # seconds per attempt, on the world's clock
    attempts: int = 2  # per server (Mbed's dns-retries 1 = two attempts)
    total_attempts: int = 10  # across all servers (Mbed's dns-total-attempts)
    cache_size: int = 64  # entries, LRU; TTL respected; TTL 0 not cached
    max_cname_chain: int = 8
    edns_payload: int = 1232  # EDNS0 (RFC 6891) UDP payload size advertised
    prefer: IpVersion = IpVersion.IPV4  # which family comes first when UNSPEC
    max_concurrent: int = 16  # queries in flight per resolver (beyond: BusyError)

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ParameterError("timeout must be positive")
        if self.attempts < 1 or self.total_attempts < 1:
            raise ParameterError("attempts must be at least 1")
        if self.cache_size < 0 or self.max_cname_chain < 0 or self.max_concurrent < 1:
            raise ParameterError("cache_size, max_cname_chain, max_concurrent out of range")
        if not 512 <= self.edns_payload <= 65535:
            raise ParameterError("edns_payload must be 512..65535")  # RFC 6891 §6.2.5
        if self.prefer not in (IpVersion.IPV4, IpVersion.IPV6):
            raise ParameterError("prefer must be IPV4 or IPV6")


@dataclass(slots=True)
class ResolverStats:
    queries_sent: int = 0
    responses: int = 0  # datagrams accepted as the answer to a query we sent
    timeouts: int = 0  # attempts that saw no answer
    failovers: int = 0  # moves to the next server
    cache_hits: int = 0
    cache_misses: int = 0
    truncated: int = 0  # responses with TC set
    servfail: int = 0
    refused: int = 0
    nxdomain: int = 0
    malformed: int = 0  # datagrams that did not parse as DNS
    ignored: int = 0  # parsed, but not an answer to our question (id, question, source)


@dataclass(frozen=True, slots=True)
class _Answer:
    """What a lookup of one (name, type) gave: addresses, or the reason there are none."""

    addresses: tuple[bytes, ...]
    error: str | None = None


class _Budget:
    """Attempts left for one query across all servers (``total_attempts``)."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


class _StreamSocket(Protocol):
    """The part of a TCPSocket the resolver needs for DNS over TCP (RFC 7766)."""

    def set_timeout(self, seconds: float | None) -> None: ...

    async def connect(self, address: SocketAddress) -> object: ...

    async def send(self, data: bytes) -> int: ...

    async def recv(self, bufsize: int = ...) -> bytes: ...

    def close(self) -> None: ...


# -- the resolver ----------------------------------------------------------------------------
class Resolver:
    """A stub resolver on one stack: ``await resolver.gethostbyname("host.example")``.

    ``servers`` is a plain list of :class:`SocketAddress` (port 53 when given without one);
    it may be shared with a stack's own list of DNS servers.
    """

    def __init__(
        self,
        stack: NetworkStack | HasStack,
        config: ResolverConfig | None = None,
        *,
        server_source: Callable[[], list[SocketAddress]] | None = None,
    ) -> None:
        self._stack = resolve_stack(stack)
        self.config = config or ResolverConfig()
        self.servers: list[SocketAddress] = []
        #: more servers, asked after ``servers`` (the stack's: added and learned by DHCP)
        self.server_source = server_source
        self.stats = ResolverStats()
        self._cache: DnsCache[_Answer] = DnsCache(self.config.cache_size)
        self._inflight: dict[CacheKey, asyncio.Task[_Answer]] = {}

    # -- servers ---------------------------------------------------------------------------
    def add_server(self, address: AddressLike, port: int | None = None) -> None:
        """Put a server at the front of the list (Mbed ``add_dns_server``)."""
        server = _server_address(address, port)
        if server in self.servers:
            self.servers.remove(server)
        self.servers.insert(0, server)

    def set_servers(self, addresses: Iterable[AddressLike]) -> None:
        """Replace the server list (in place, so a shared list stays shared)."""
        self.servers[:] = [_server_address(a) for a in addresses]

    def get_server(self, index: int) -> SocketAddress:
        """The ``index``-th server (Mbed ``get_dns_server``); ParameterError past the end."""
        servers = self.all_servers()
        if not 0 <= index < len(servers):
            raise ParameterError(f"no DNS server at index {index}")
        return servers[index]

    def all_servers(self) -> list[SocketAddress]:
        """Every server in the order they are asked: ``servers``, then the source's."""
        if self.server_source is None:
            return list(self.servers)
        out = list(self.servers)
        out.extend(s for s in self.server_source() if s not in out)
        return out

    def cache_clear(self) -> None:
        """Forget every cached answer (Mbed ``nsapi_dns_reset``)."""
        self._cache.clear()

    @property
    def in_flight(self) -> int:
        """Queries on the network now."""
        return len(self._inflight)

    # -- lookups ---------------------------------------------------------------------------
    async def gethostbyname(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> SocketAddress:
        """The first address of ``host`` (port 0); with UNSPEC, of the preferred family."""
        return (await self.getaddrinfo(host, version))[0]

    async def getaddrinfo(
        self, host: str, version: IpVersion = IpVersion.UNSPEC
    ) -> list[SocketAddress]:
        """Every address of ``host`` (A and/or AAAA), preferred family first."""
        literal = parse_literal(host, version)
        if literal is not None:
            return [literal]
        name = validate_hostname(host).lower()
        if version == IpVersion.IPV4:
            types = [A]
        elif version == IpVersion.IPV6:
            types = [AAAA]
        elif self.config.prefer == IpVersion.IPV6:
            types = [AAAA, A]
        else:
            types = [A, AAAA]
        sources = self._start(name, types)
        addresses: list[bytes] = []
        first_error: str | None = None
        for source in sources:
            if isinstance(source, asyncio.Task):
                try:
                    answer = await asyncio.shield(source)
                except DnsFailureError as exc:
                    first_error = first_error or str(exc)
                    continue
            else:
                answer = source
            if answer.error is not None:
                first_error = first_error or answer.error
            addresses.extend(a for a in answer.addresses if a not in addresses)
        if not addresses:
            raise DnsFailureError(first_error or f"{name}: no addresses")
        return [SocketAddress.from_packed(a, 0) for a in addresses]

    def _start(self, name: str, types: list[RdType]) -> list[_Answer | asyncio.Task[_Answer]]:
        """Answer from the cache, join queries in flight, start the others (or BusyError)."""
        now = self._stack.world.now()
        plan: list[_Answer | CacheKey] = []
        new: list[CacheKey] = []
        for rdtype in types:
            key = (name.lower(), int(rdtype))  # names compare case-insensitively
            cached = self._cache.get(key, now)
            if cached is not None:
                self.stats.cache_hits += 1
                plan.append(cached)
                continue
            self.stats.cache_misses += 1
            plan.append(key)
            if key not in self._inflight:
                new.append(key)
        if new:
            if not self.all_servers():
                raise DnsFailureError("no DNS servers")
            if len(self._inflight) + len(new) > self.config.max_concurrent:
                raise BusyError(f"{self.config.max_concurrent} DNS queries already in flight")
            loop = self._stack.world.loop
            for key in new:
                task = loop.create_task(self._resolve(key))
                task.add_done_callback(functools.partial(self._finished, key))
                self._inflight[key] = task
        return [item if isinstance(item, _Answer) else self._inflight[item] for item in plan]

    def _finished(self, key: CacheKey, task: asyncio.Task[_Answer]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a caller that went away leaves no warning

    async def _resolve(self, key: CacheKey) -> _Answer:
        """One (name, type): query, follow CNAMEs (re-asking for a dangling target), cache."""
        name, rdtype_value = key
        rdtype = RdType(rdtype_value)
        qname = dns.name.from_text(name)
        current = qname
        seen = {qname}
        hops = 0
        ttl = MAX_CACHE_TTL
        while True:
            if current != qname:
                # the chain left the last answer: its end may be cached already
                target_key = (current.to_text(omit_final_dot=True).lower(), rdtype_value)
                cached = self._cache.get(target_key, self._stack.world.now())
                if cached is not None:
                    self.stats.cache_hits += 1
                    if cached.addresses:
                        answer = _Answer(cached.addresses)
                        self._cache.put(key, answer, ttl, self._stack.world.now())
                        return answer
                    raise DnsFailureError(f"{name}: alias of {current}: {cached.error}")
            try:
                response, truncated = await self._query(current, rdtype)
            except DnsFailureError as exc:
                if current == qname:
                    raise
                raise DnsFailureError(f"{name}: alias of {current}: {exc}") from None
            addresses, target, chain_ttl, hops = self._follow(response, current, rdtype, hops, seen)
            ttl = min(ttl, chain_ttl)
            now = self._stack.world.now()
            if addresses:
                answer = _Answer(addresses)
                if not truncated:  # RFC 2181 §9: do not cache from a truncated response
                    self._cache.put(key, answer, ttl, now)
                return answer
            if response.rcode() == dns.rcode.NXDOMAIN:
                self.stats.nxdomain += 1
                error = f"{name}: no such name"
            elif target != current:
                current = target  # the chain left this answer: ask for its end
                continue
            elif truncated:
                raise DnsFailureError(f"{name}: truncated and no TCP")
            else:
                error = f"{name}: no {dns.rdatatype.to_text(rdtype)} records"
            negative_ttl = _negative_ttl(response)
            if negative_ttl is not None and not truncated:  # RFC 2308 §5
                self._cache.put(key, _Answer((), error), min(ttl, negative_ttl), now)
            raise DnsFailureError(error)

    def _follow(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        rdtype: RdType,
        hops: int,
        seen: set[dns.name.Name],
    ) -> tuple[tuple[bytes, ...], dns.name.Name, int, int]:
        """Walk the answer from ``qname`` through CNAMEs (RFC 1034 §3.6.2).

        Returns (addresses, the name the walk ended at, the smallest TTL seen, hops so far).
        """
        current = qname
        ttl = MAX_CACHE_TTL
        while True:
            rrset = response.get_rrset(response.answer, current, dns.rdataclass.IN, rdtype)
            if rrset is not None and len(rrset) > 0:
                addresses = tuple(_packed(rdata.to_wire(), rdtype) for rdata in rrset)
                return addresses, current, min(ttl, _ttl(rrset.ttl)), hops
            cname = response.get_rrset(
                response.answer, current, dns.rdataclass.IN, dns.rdatatype.CNAME
            )
            if cname is None or len(cname) == 0:
                return (), current, ttl, hops
            hops += 1
            if hops > self.config.max_cname_chain:
                raise DnsFailureError(
                    f"{_text(qname)}: CNAME chain longer than {self.config.max_cname_chain}"
                )
            ttl = min(ttl, _ttl(cname.ttl))
            target = cast(dns.rdtypes.ANY.CNAME.CNAME, cname[0]).target
            if target in seen:
                raise DnsFailureError(f"{_text(qname)}: CNAME loop at {_text(target)}")
            seen.add(target)
            current = target

    # -- transactions ----------------------------------------------------------------------
    async def _query(
        self, qname: dns.name.Name, rdtype: RdType
    ) -> tuple[dns.message.Message, bool]:
        """Ask the servers in order; returns a NOERROR/NXDOMAIN response and its TC state."""
        budget = _Budget(self.config.total_attempts)
        causes: list[str] = []
        for index, server in enumerate(self.all_servers()):
            if budget.left <= 0:
                causes.append("no attempts left")
                break
            if index:
                self.stats.failovers += 1
            outcome = await self._ask(_server_address(server), qname, rdtype, budget)
            if isinstance(outcome, str):
                log.debug("DNS %s %s via %s: %s", qname, rdtype.name, server, outcome)
                causes.append(f"{server}: {outcome}")
                continue
            return outcome
        raise DnsFailureError(f"{_text(qname)}: no answer ({'; '.join(causes) or 'no servers'})")

    async def _ask(
        self, server: SocketAddress, qname: dns.name.Name, rdtype: RdType, budget: _Budget
    ) -> tuple[dns.message.Message, bool] | str:
        """Query one server, up to ``attempts`` times; a string says why to move on."""
        cfg = self.config
        try:
            sock = UDPSocket(self._stack)
        except NetworkError as exc:
            return f"no socket: {exc}"
        try:
            try:
                sock.bind(0)  # a random ephemeral source port (RFC 5452 §4.5)
                sock.connect(server)  # filters other sources; reports ICMP unreachable
            except NetworkError as exc:
                return f"cannot use server: {exc}"
            sent: dict[int, dns.message.Message] = {}
            edns = True
            tries = 0
            while tries < cfg.attempts and budget.left > 0:
                tries += 1
                budget.left -= 1
                query = self._make_query(qname, rdtype, edns)
                sent[query.id] = query
                try:
                    sock.sendto_nowait(None, query.to_wire())
                except NetworkError as exc:
                    return f"send failed: {exc}"
                self.stats.queries_sent += 1
                try:
                    response, truncated = await self._receive(sock, server, sent)
                except NetworkTimeoutError:
                    self.stats.timeouts += 1
                    continue
                except NetworkError as exc:  # ICMP port unreachable on the connected socket
                    return str(exc)
                rcode = response.rcode()
                if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    if truncated:
                        self.stats.truncated += 1
                        full = await self._ask_over_tcp(server, query)
                        if full is not None:
                            return full, False
                        if not response.answer:
                            raise DnsFailureError(f"{_text(qname)}: truncated and no TCP")
                    return response, truncated
                if rcode == dns.rcode.SERVFAIL:
                    self.stats.servfail += 1
                    return "SERVFAIL"
                if rcode == dns.rcode.REFUSED:
                    self.stats.refused += 1
                    return "REFUSED"
                if rcode == dns.rcode.FORMERR and edns and response.edns < 0:
                    edns = False  # RFC 6891 §7: a server without EDNS; ask again without it
                    tries -= 1
                    continue
                return dns.rcode.to_text(rcode)
            return f"no answer after {tries} attempt(s) of {cfg.timeout} s"
        finally:
            sock.close()

    def _make_query(self, qname: dns.name.Name, rdtype: RdType, edns: bool) -> dns.message.Message:
        qid = self._stack.world.rng.getrandbits(16)  # RFC 5452 §4.3: an unpredictable id
        if edns:
            return dns.message.make_query(
                qname, rdtype, use_edns=0, payload=self.config.edns_payload, id=qid
            )
        return dns.message.make_query(qname, rdtype, use_edns=False, id=qid)

    async def _receive(
        self, sock: UDPSocket, server: SocketAddress, sent: dict[int, dns.message.Message]
    ) -> tuple[dns.message.Message, bool]:
        """Wait until the attempt's deadline for an answer to one of ``sent``.

        Datagrams from elsewhere, with an unknown id or another question are counted and
        ignored (RFC 5452 §9.1), and the wait goes on: a spoofer cannot cut it short.
        """
        world = self._stack.world
        deadline = world.now() + self.config.timeout
        while True:
            remaining = deadline - world.now()
            if remaining <= 0:
                raise NetworkTimeoutError("no DNS response")
            sock.set_timeout(remaining)
            data, source = await sock.recvfrom()
            if source.packed != server.packed or source.port != server.port:
                self.stats.ignored += 1
                continue
            truncated = False
            try:
                response = dns.message.from_wire(data, raise_on_truncation=True)
            except dns.message.Truncated as exc:
                response = cast(dns.message.Message, exc.kwargs["message"])
                truncated = True
            except (dns.exception.DNSException, ValueError) as exc:
                self.stats.malformed += 1
                log.debug("malformed DNS response from %s: %s", source, exc)
                continue
            query = sent.get(response.id)
            if query is None or not query.is_response(response):
                self.stats.ignored += 1
                continue
            self.stats.responses += 1
            return response, truncated

    # -- DNS over TCP (RFC 7766), when the stack has TCP ----------------------------------
    def _open_stream(self) -> _StreamSocket | None:
        """A TCP socket on our stack, or None while the stack offers no TCP."""
        try:
            module = importlib.import_module("netstack.socket.tcp")
        except ImportError:
            return None
        factory = cast(Callable[[NetworkStack], _StreamSocket], module.TCPSocket)
        try:
            return factory(self._stack)
        except UnsupportedError:
            return None

    async def _ask_over_tcp(
        self, server: SocketAddress, query: dns.message.Message
    ) -> dns.message.Message | None:
        """Repeat ``query`` over TCP (after a TC answer); None if TCP is missing or fails."""
        stream = self._open_stream()
        if stream is None:
            return None
        try:
            stream.set_timeout(self.config.timeout)
            await stream.connect(server)
            await stream.send(query.to_wire(prepend_length=True))  # RFC 1035 §4.2.2
            length = dns.wirebase.Parser(await _read_exactly(stream, 2)).get_uint16()
            response = dns.message.from_wire(await _read_exactly(stream, length))
        except (NetworkError, dns.exception.DNSException, ValueError) as exc:
            log.debug("DNS over TCP to %s failed: %s", server, exc)
            return None
        finally:
            stream.close()
        if not query.is_response(response):
            self.stats.ignored += 1
            return None
        self.stats.responses += 1
        return response


async def _read_exactly(stream: _StreamSocket, size: int) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = await stream.recv(size - got)
        if not chunk:
            raise NetworkError("connection closed in the middle of a DNS message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# -- helpers -------------------------------------------------------------------------------
def _server_address(address: AddressLike, port: int | None = None) -> SocketAddress:
    server = to_address(address, port)
    if not server:
        raise ParameterError(f"not a DNS server address: {address!r}")
    return server if server.port else server.with_port(DNS_PORT)


def _packed(data: bytes, rdtype: RdType) -> bytes:
    """An A or AAAA rdata's address (4 or 16 bytes), checked for its length."""
    if len(data) != (4 if rdtype == A else 16):
        raise DnsFailureError(f"{dns.rdatatype.to_text(rdtype)} record of {len(data)} bytes")
    return bytes(data)


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


def _ttl(value: int) -> int:
    return 0 if value & _TTL_SIGN_BIT else value


def _negative_ttl(response: dns.message.Message) -> int | None:
    """RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM); None without SOA."""
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset) > 0:
            soa = cast(dns.rdtypes.ANY.SOA.SOA, rrset[0])
            return min(_ttl(rrset.ttl), _ttl(soa.minimum))
    return None
