"""An authoritative DNS server (RFC 1034 §4.3.2, RFC 1035) for simulated networks.

It serves records given as a mapping, loaded from a zone file, or added while it runs::

    server = DnsServer(host, {"host.example.test": "10.0.0.5",
                              "v6.example.test": "fd00::5",
                              "alias.example.test": "CNAME host.example.test",
                              "multi.example.test": ["10.0.0.1", "10.0.0.2"]},
                       origin="example.test")
    server.start()

Record names are absolute (a trailing dot is optional; ``@`` is the origin). A value is an
IP address (A or AAAA) or ``"TYPE rdata"`` in zone-file syntax (``"CNAME host.example.test"``,
``"MX 10 mail.example.test"``, ``'TXT "hello"'``).

With an origin (or a zone file) the server is authoritative for that zone only: names
outside it are REFUSED, names inside it that do not exist get NXDOMAIN with the zone's SOA
(so resolvers can cache the negative answer, RFC 2308). Without an origin every name is
its own, and unknown names get NXDOMAIN without SOA.

Like the echo service it runs on readiness callbacks and non-blocking calls. dnspython
provides the message format; :meth:`DnsServer.handle_query` is the whole protocol (bytes in,
bytes or None out), usable without a network.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.wirebase
import dns.zone

from netstack.address import SocketAddress
from netstack.errors import NetworkError, ParameterError
from netstack.services.echo import UdpService
from netstack.socket.base import HasStack
from netstack.socket.udp import UDPSocket
from netstack.stacks.core.api import NetworkStack

log = logging.getLogger(__name__)

DNS_PORT = 53
EDNS_PAYLOAD = 1232  # what we advertise and the most we send over UDP (RFC 6891 §6.2.5)
CLASSIC_PAYLOAD = 512  # RFC 1035 §4.2.1: UDP messages without EDNS
MAX_CHAIN = 8  # CNAMEs followed inside our own data
HEADER_LENGTH = 12

RecordValue = str | Sequence[str]
RdType = dns.rdatatype.RdataType


@dataclass(slots=True)
class DnsServerStats:
    queries: int = 0  # datagrams received
    answered: int = 0  # NOERROR responses (with data or without)
    nxdomain: int = 0
    refused: int = 0  # outside our zones, or a class/type we do not serve over UDP
    notimp: int = 0  # other opcodes than QUERY (NOTIMP), EDNS versions but 0 (BADVERS)
    malformed: int = 0  # not a DNS query: FORMERR sent, or dropped when unanswerable
    truncated: int = 0  # responses sent with TC
    errors: int = 0  # socket errors


class DnsServer(UdpService):
    """Authoritative answers for A, AAAA, CNAME (and any type a zone file holds)."""

    def __init__(
        self,
        stack_or_iface: NetworkStack | HasStack,
        records: Mapping[str, RecordValue] | None = None,
        *,
        zone_file: str | os.PathLike[str] | None = None,
        origin: str | None = None,
        port: int = DNS_PORT,
        ttl: int = 300,
    ) -> None:
        super().__init__(stack_or_iface, port)
        self.ttl = ttl
        self.stats = DnsServerStats()
        self._data: dict[dns.name.Name, dict[RdType, dns.rrset.RRset]] = {}
        self._descendants: dict[dns.name.Name, int] = {}  # names with data below them
        self._origins: list[dns.name.Name] = []
        self._origin: dns.name.Name | None = None
        if zone_file is not None:
            self.load_zone(zone_file, origin)
        elif origin is not None:
            self.add_zone(origin)
        for name, value in (records or {}).items():
            self.add_record(name, value)

    # -- data ------------------------------------------------------------------------------
    @property
    def origins(self) -> list[dns.name.Name]:
        return list(self._origins)

    def add_zone(self, origin: str) -> None:
        """Become authoritative for ``origin``, with a SOA (RFC 1035 §3.3.13) if it has none."""
        name = _absolute(origin)
        if name not in self._origins:
            self._origins.append(name)
        if self._origin is None:
            self._origin = name
        if dns.rdatatype.SOA not in self._data.get(name, {}):
            soa = f"ns.{name} hostmaster.{name} 1 3600 600 86400 {self.ttl}"
            self._put(name, dns.rdatatype.SOA, _rdata(dns.rdatatype.SOA, soa), self.ttl)

    def load_zone(self, path: str | os.PathLike[str], origin: str | None = None) -> None:
        """Load a master file (RFC 1035 §5); its origin comes from ``$ORIGIN`` or ``origin``."""
        try:
            zone = dns.zone.from_file(
                os.fspath(path), origin=origin, relativize=False, check_origin=False
            )
        except dns.exception.DNSException as exc:
            raise ParameterError(f"zone file {os.fspath(path)!r}: {exc}") from exc
        for name, rdataset in zone.iterate_rdatasets():
            for rdata in rdataset:
                self._put(name, rdataset.rdtype, rdata, rdataset.ttl)
        assert zone.origin is not None
        self.add_zone(zone.origin.to_text())

    def add_record(self, name: str, value: RecordValue, ttl: int | None = None) -> None:
        """Add one value (or several) to ``name``; ParameterError if it cannot be served."""
        owner = self._owner(name)
        values = [value] if isinstance(value, str) else list(value)
        for text in values:
            rdtype, rdata = _parse_value(text)
            self._put(owner, rdtype, rdata, self.ttl if ttl is None else ttl)

    def remove(self, name: str) -> None:
        """Forget every record of ``name`` (nothing happens if it has none)."""
        owner = self._owner(name)
        if self._data.pop(owner, None) is not None:
            for parent in _ancestors(owner):
                left = self._descendants[parent] - 1
                if left:
                    self._descendants[parent] = left
                else:
                    del self._descendants[parent]

    def _owner(self, name: str) -> dns.name.Name:
        if name == "@":
            if self._origin is None:
                raise ParameterError("'@' needs an origin")
            return self._origin
        return _absolute(name)

    def _put(self, owner: dns.name.Name, rdtype: RdType, rdata: dns.rdata.Rdata, ttl: int) -> None:
        node = self._data.get(owner, {})
        # RFC 2181 §10.1: a CNAME is alone at its name, and single
        if rdtype == dns.rdatatype.CNAME and node:
            raise ParameterError(f"{owner}: a CNAME cannot share its name with other data")
        if rdtype != dns.rdatatype.CNAME and dns.rdatatype.CNAME in node:
            raise ParameterError(f"{owner} has a CNAME: it cannot hold other data")
        if owner not in self._data:
            self._data[owner] = node
            for parent in _ancestors(owner):
                self._descendants[parent] = self._descendants.get(parent, 0) + 1
        rrset = node.get(rdtype)
        if rrset is None:
            rrset = node[rdtype] = dns.rrset.RRset(owner, dns.rdataclass.IN, rdata.rdtype)
        rrset.add(rdata)
        rrset.ttl = ttl

    # -- service (UdpService) ----------------------------------------------------------------
    def on_datagram(self, sock: UDPSocket, data: bytes, peer: SocketAddress) -> None:
        reply = self.handle_query(data)
        if reply is not None:
            self.reply(sock, peer, reply)

    def on_error(self, exc: NetworkError) -> None:
        self.stats.errors += 1
        log.debug("dns server: %s", exc)

    # -- protocol --------------------------------------------------------------------------
    def handle_query(self, wire: bytes) -> bytes | None:
        """The response to one datagram, or None when it deserves none."""
        stats = self.stats
        stats.queries += 1
        try:
            query = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError) as exc:
            log.debug("malformed DNS query: %s", exc)
            stats.malformed += 1
            return _format_error(wire)
        if query.flags & dns.flags.QR:
            stats.malformed += 1  # a response sent to a server: never answer it
            return None
        try:
            response = self._respond(query)
            limit = CLASSIC_PAYLOAD
            if query.edns >= 0:  # RFC 6891 §6.2.5: the requestor's size, at least 512
                limit = max(CLASSIC_PAYLOAD, min(query.payload, EDNS_PAYLOAD))
            try:
                reply = response.to_wire(max_size=limit)
            except dns.exception.TooBig:
                stats.truncated += 1  # RFC 2181 §9: whole RRsets only, and TC
                reply = response.to_wire(max_size=limit, prefer_truncation=True)
        except (dns.exception.DNSException, ValueError) as exc:
            log.debug("cannot answer DNS query: %s", exc)
            stats.malformed += 1
            return _format_error(wire)
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            stats.answered += 1
        elif rcode == dns.rcode.NXDOMAIN:
            stats.nxdomain += 1
        elif rcode == dns.rcode.REFUSED:
            stats.refused += 1
        elif rcode == dns.rcode.FORMERR:
            stats.malformed += 1
        else:
            stats.notimp += 1
        return reply

    def _respond(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query, our_payload=EDNS_PAYLOAD)
        if query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)  # RFC 6891 §6.1.3
            return response
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        if (
            question.rdclass != dns.rdataclass.IN
            or (dns.rdatatype.is_metatype(qtype) and qtype != dns.rdatatype.ANY)
            or (self._origins and self._zone_of(qname) is None)
        ):
            response.set_rcode(dns.rcode.REFUSED)  # not ours, or AXFR/IXFR over UDP
            return response
        response.flags |= dns.flags.AA
        response.set_rcode(self._lookup(response, qname, qtype))
        return response

    def _lookup(
        self, response: dns.message.Message, qname: dns.name.Name, qtype: RdType
    ) -> dns.rcode.Rcode:
        """Fill the answer (following CNAMEs in our data); the rcode for the last name."""
        name = qname
        seen = {qname}
        for _ in range(MAX_CHAIN + 1):
            node = self._data.get(name)
            if node is None:
                if name in self._descendants:
                    break  # an empty non-terminal: the name exists, without data
                if self._origins and self._zone_of(name) is None:
                    return dns.rcode.NOERROR  # a CNAME pointing out of our zones
                self._add_soa(response, name)
                return dns.rcode.NXDOMAIN  # RFC 6604 §3: the rcode of the chain's end
            if qtype == dns.rdatatype.ANY:
                response.answer.append(next(iter(node.values())))  # RFC 8482 §4.1: a subset
                return dns.rcode.NOERROR
            rrset = node.get(qtype)
            if rrset is not None:
                response.answer.append(rrset)
                return dns.rcode.NOERROR
            cname = node.get(dns.rdatatype.CNAME)
            if cname is None:
                break
            response.answer.append(cname)  # RFC 1034 §4.3.2 step 3a
            name = cast(dns.rdtypes.ANY.CNAME.CNAME, cname[0]).target
            if name in seen:
                return dns.rcode.NOERROR
            seen.add(name)
        else:
            return dns.rcode.NOERROR  # chain longer than we follow: the resolver goes on
        self._add_soa(response, name)  # NODATA (RFC 2308 §2.2)
        return dns.rcode.NOERROR

    def _zone_of(self, name: dns.name.Name) -> dns.name.Name | None:
        best: dns.name.Name | None = None
        for origin in self._origins:
            if name.is_subdomain(origin) and (best is None or len(origin) > len(best)):
                best = origin
        return best

    def _add_soa(self, response: dns.message.Message, name: dns.name.Name) -> None:
        """RFC 2308 §3: the zone's SOA in the authority section, TTL = min(TTL, MINIMUM)."""
        zone = self._zone_of(name)
        soa = self._data.get(zone, {}).get(dns.rdatatype.SOA) if zone is not None else None
        if soa is None or len(soa) == 0:
            return
        first = soa[0]
        minimum = first.minimum if isinstance(first, dns.rdtypes.ANY.SOA.SOA) else soa.ttl
        negative = dns.rrset.RRset(soa.name, soa.rdclass, soa.rdtype)
        negative.add(first)
        negative.ttl = min(soa.ttl, minimum)
        response.authority.append(negative)


# -- helpers -------------------------------------------------------------------------------
def _absolute(name: str) -> dns.name.Name:
    try:
        return dns.name.from_text(name)  # relative text is taken from the root
    except dns.exception.DNSException as exc:
        raise ParameterError(f"bad DNS name {name!r}: {exc}") from exc


def _ancestors(name: dns.name.Name) -> list[dns.name.Name]:
    out = []
    while len(name) > 1:  # stop at the root
        name = name.parent()
        out.append(name)
    return out


def _rdata(rdtype: RdType, text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(
        dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False
    )


def _parse_value(text: str) -> tuple[RdType, dns.rdata.Rdata]:
    """``"10.0.0.5"`` → A, ``"fd00::5"`` → AAAA, ``"TYPE rdata"`` → that type."""
    text = text.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        kind, _, rest = text.partition(" ")
        try:
            rdtype = dns.rdatatype.from_text(kind)
            return rdtype, _rdata(rdtype, rest.strip())
        except dns.exception.DNSException as exc:
            raise ParameterError(f"bad record value {text!r}: {exc}") from exc
    rdtype = dns.rdatatype.A if address.version == 4 else dns.rdatatype.AAAA
    return rdtype, _rdata(rdtype, text)


def _format_error(wire: bytes) -> bytes | None:
    """RFC 1035 §4.1.1 FORMERR echoing the id, if the header is there and is a query."""
    if len(wire) < HEADER_LENGTH:
        return None
    try:
        qid, flags = dns.wirebase.Parser(wire).get_struct("!HH")
    except dns.exception.DNSException:
        return None
    if flags & dns.flags.QR:
        return None
    reply = dns.message.Message(id=qid)
    reply.flags = dns.flags.QR | (flags & dns.flags.RD)
    reply.set_opcode(dns.opcode.from_flags(flags))
    reply.set_rcode(dns.rcode.FORMERR)
    return reply.to_wire()
