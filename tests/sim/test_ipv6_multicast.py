"""IPv6 multicast through the Socket API: joining a group makes the interface receive it
and announce it with MLDv2 (RFC 3810); leaving stops both."""

from __future__ import annotations

import asyncio
from pathlib import Path

from netstack.errors import ParameterError
from netstack.sim import Network
from netstack.socket import UDPSocket
from netstack.wire.ethernet import EthernetHeader
from netstack.wire.icmpv6 import Icmpv6Header
from netstack.wire.ipv6 import Ipv6Header, ip6_from_str, walk_extension_headers
from netstack.wire.mld import Mldv2Report, parse_mld
from netstack.wire.pcap import PcapReader

GROUP = "ff02::1:3"


def mld_reports(pcap: Path) -> list[tuple[bytes, list[tuple[int, bytes]]]]:
    """(source, [(record type, group)]) of every MLDv2 report in a capture."""
    out = []
    for _ts, frame in PcapReader(pcap):
        eth, payload = EthernetHeader.parse(frame)
        if eth.ethertype != 0x86DD:
            continue
        ip, body = Ipv6Header.parse(payload)
        chain = walk_extension_headers(ip.next_header, body)
        if chain.next_header != 58:
            continue
        icmp, rest = Icmpv6Header.parse(body[chain.payload_offset :], src=ip.src, dst=ip.dst)
        if icmp.type == 143:
            report = parse_mld(icmp, rest)
            assert isinstance(report, Mldv2Report)
            out.append((ip.src, [(r.type, r.address) for r in report.records]))
    return out


def test_join_receives_the_group_and_reports_it(tmp_path: Path) -> None:
    net = Network(seed=3, capture_dir=tmp_path)
    try:
        lan = net.segment("lan")
        a = net.host("a", lan, "10.0.0.1/24", ipv6="slaac")
        b = net.host("b", lan, "10.0.0.2/24", ipv6="slaac")
        c = net.host("c", lan, "10.0.0.3/24", ipv6="slaac")

        async def main() -> tuple[list[bytes], list[bytes], list[bytes]]:
            await net.start()
            for host in (a, b, c):
                await host.iface.wait_for_ipv6_address(global_address=False)
            member = UDPSocket(b)
            member.bind(5000)
            member.join_multicast_group(GROUP)
            await asyncio.sleep(2)  # the report and its retransmission (robustness 2)
            other = UDPSocket(c)  # same port, not a member: its NIC never sees the group
            other.bind(5000)
            sender = UDPSocket(a)
            await sender.sendto((GROUP, 5000), b"to the group")
            await asyncio.sleep(0.1)
            got = [d for d, _src in member.drain()]
            missed = [d for d, _src in other.drain()]
            member.close()  # leaves the group
            await asyncio.sleep(2)
            await sender.sendto((GROUP, 5000), b"again")
            await asyncio.sleep(0.1)
            return got, missed, [d for d, _src in other.drain()]

        got, missed, after = net.run(main())
        b_link_local = b.iface.get_ipv6_link_local_address()
        assert b_link_local is not None
    finally:
        net.close()
    assert got == [b"to the group"] and missed == [] and after == []
    group = ip6_from_str(GROUP)
    records = [
        recs for src, recs in mld_reports(tmp_path / "lan.pcap") if src == b_link_local.packed
    ]
    joins = [r for recs in records for r in recs if r == (4, group)]  # CHANGE_TO_EXCLUDE {}
    leaves = [r for recs in records for r in recs if r == (3, group)]  # CHANGE_TO_INCLUDE {}
    assert len(joins) == 2 and len(leaves) == 2  # robustness 2: each state change twice


def test_ipv4_groups_and_unicast_addresses_are_refused() -> None:
    net = Network(seed=4)
    try:
        lan = net.segment("lan")
        a = net.host("a", lan, "10.0.0.1/24", ipv6="slaac")

        async def main() -> list[str]:
            await net.start()
            sock = UDPSocket(a)
            errors = []
            for address in ("224.0.0.5", "2001:db8::1"):
                try:
                    sock.join_multicast_group(address)
                except ParameterError as exc:
                    errors.append(str(exc))
            sock.close()
            return errors

        errors = net.run(main())
    finally:
        net.close()
    assert len(errors) == 2 and all("multicast" in e for e in errors)
