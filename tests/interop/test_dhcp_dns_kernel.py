"""DHCPv4 and DNS against real peers: dnsmasq, the kernel's DHCP clients, the CLI.

netstack runs on the test's event loop on a TAP whose kernel side (the ``tap`` fixture,
10.77.0.1/24) runs dnsmasq (the ``dnsmasq`` fixture) as its DHCP and DNS server. In the
other direction, netstack's :class:`DhcpServer` leases addresses to busybox ``udhcpc`` and
ISC ``dhclient`` on the kernel's side. dnsmasq's log and lease file, the kernel clients'
scripts and tshark on our captures are the referees.

Except where RFC 5227 probing is itself under test, hosts probe a leased address once
(``QUICK_ACD``) instead of the RFC's 3 probes and 2 s wait, to keep each test short.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_ipv4_kernel import (
    assert_clean_capture,
    kernel_side_running,
    netstack_command,
    ping_counts,
    run_in_netns,
    until,
)

from conftest import eventually
from netstack.address import IpVersion, SocketAddress
from netstack.drivers.emac.api import EMAC
from netstack.drivers.emac.tap import TapEMAC
from netstack.drivers.wrappers import PcapTap
from netstack.errors import DnsFailureError
from netstack.interfaces.base import ConnectionStatus
from netstack.interfaces.ethernet import EthernetInterface
from netstack.runtime import World
from netstack.services.dhcp_server import DhcpServer, DhcpServerConfig, LeaseState
from netstack.stacks.core.acd import AcdConfig
from netstack.stacks.ip.dhcp import DhcpAgent
from netstack.stacks.ip.dhcp_client import (
    DhcpConfig,
    DhcpStats,
    Lease,
    LeaseDeclined,
    LeaseRenewed,
    NakReceived,
)
from netstack.stacks.ip.stack import IpStack

if TYPE_CHECKING:
    from conftest import Dnsmasq, TapDevice

pytestmark = pytest.mark.interop

Tshark = Callable[..., list[list[str]]]
StartDnsmasq = Callable[..., "Dnsmasq"]

SERVER_IP = "10.77.0.1"  # the kernel's side of the TAP: dnsmasq
POOL_START, POOL_END = "10.77.0.100", "10.77.0.150"  # the dnsmasq fixture's pool
HOSTNAME = "netstack-test"
#: RFC 5227 probing cut to one probe and a short wait (the default takes about 5 s).
QUICK_ACD = AcdConfig(probe_num=1, probe_wait=0.0, announce_wait=0.2)
#: connect() gives up after this long (a lost OFFER is retransmitted after about 4 s).
DHCP_TIMEOUT = 12.0
#: The names dnsmasq answers for in the DNS tests.
DNS_RECORDS = (
    "--address=/example.test/10.77.0.53",  # example.test and every name under it, A only
    "--host-record=v6.example.test,fd77::53",
    "--host-record=dual.example.test,10.77.0.54,fd77::54",
    "--cname=alias.example.test,example.test",
    "--local-ttl=60",  # else its answers carry TTL 0, which a resolver must not cache
)


# -- helpers -------------------------------------------------------------------------------
def in_pool(ip: str | None) -> bool:
    return ip is not None and (
        ipaddress.IPv4Address(POOL_START)
        <= ipaddress.IPv4Address(ip)
        <= ipaddress.IPv4Address(POOL_END)
    )


def ip_text(packed: bytes) -> str:
    return str(ipaddress.IPv4Address(packed))


def kinds(events: list[object]) -> list[str]:
    return [type(event).__name__ for event in events]


@dataclass
class Host:
    """netstack on the TAP: the interface and every DHCP event it reported."""

    iface: EthernetInterface
    events: list[object]

    @property
    def mac(self) -> str:
        return self.iface.mac_address.lower()


@contextlib.asynccontextmanager
async def netstack_host(
    tap: TapDevice,
    world: World,
    *,
    pcap: Path | None = None,
    acd: AcdConfig | None = QUICK_ACD,
    static_ip: str | None = None,
) -> AsyncIterator[Host]:
    """netstack on the TAP (captured to ``pcap`` on our side if given), connected by DHCP
    as :data:`HOSTNAME` (or with ``static_ip``/24); disconnected (releasing its lease) and
    detached afterwards. ``acd=None`` probes as RFC 5227 says."""
    tap_emac = TapEMAC(tap.name, world, netns=tap.netns)
    emac: EMAC = tap_emac if pcap is None else PcapTap(tap_emac, pcap, world)
    try:
        iface = EthernetInterface(emac, world=world, acd=acd)
        iface.dhcp_timeout = DHCP_TIMEOUT
        if static_ip is None:
            iface.set_hostname(HOSTNAME)
        else:
            iface.set_network(static_ip, 24)
        host = Host(iface, [])
        iface.add_dhcp_listener(host.events.append)
        # The kernel drops what it sends (dnsmasq's OFFER) until it has seen the carrier.
        await kernel_side_running(tap)
        await iface.connect()
        try:
            yield host
        finally:
            if iface.status != ConnectionStatus.DISCONNECTED:
                await iface.disconnect()
    finally:
        if isinstance(emac, PcapTap):
            emac.close()
        tap_emac.close()


async def kernel_mac(tap: TapDevice) -> str:
    rc, out = await run_in_netns(tap, ["cat", f"/sys/class/net/{tap.name}/address"])
    assert rc == 0, out
    return out.strip()


async def kernel_ping(tap: TapDevice, target: str, count: int = 3) -> str:
    rc, out = await run_in_netns(
        tap, ["ping", "-n", "-c", str(count), "-i", "0.05", "-W", "1", "-w", "6", target]
    )
    assert rc == 0, out
    return out


def dhcp_types(pcap: Path, tshark: Tshark, src_mac: str) -> list[str]:
    """The DHCP message types (option 53) in the capture sent from ``src_mac``."""
    rows = tshark(pcap, ["dhcp.option.dhcp"], filter=f"dhcp && eth.src == {src_mac}")
    return [row[0] for row in rows]


def stats_link(iface: EthernetInterface) -> dict[str, int]:
    return iface.stack.stats()[f"link:{iface.get_interface_name()}"]


# -- 1. a lease from dnsmasq ------------------------------------------------------------------
def test_lease_from_dnsmasq_configures_the_interface_and_the_kernel_reaches_it(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq
) -> None:
    server = dnsmasq()

    async def main() -> dict[str, object]:
        # The default RFC 5227 probing (3 probes) this once, against a real neighbour.
        async with netstack_host(tap, real_world, acd=None) as host:
            iface = host.iface
            assert iface.ip_address is not None
            return {
                "status": iface.status,
                "ip": iface.ip_address,
                "netmask": iface.netmask,
                "gateway": iface.gateway,
                "lease": iface.lease,
                "dns": iface.resolver.all_servers(),
                "events": kinds(host.events),
                "probes": stats_link(iface)["acd_probes_sent"],
                "mac": host.mac,
                "leases": server.leases(),
                "ping": await kernel_ping(tap, iface.ip_address),
            }

    got = real_world.run(main())
    ip, mac, lease = got["ip"], got["mac"], got["lease"]
    assert got["status"] == ConnectionStatus.GLOBAL_UP
    assert isinstance(ip, str) and in_pool(ip), ip
    assert (got["netmask"], got["gateway"]) == ("255.255.255.0", SERVER_IP)
    assert isinstance(lease, Lease)
    assert ip_text(lease.address) == ip
    assert lease.prefix_len == 24
    assert ip_text(lease.server_id) == SERVER_IP
    assert [ip_text(r) for r in lease.routers] == [SERVER_IP]
    assert [ip_text(d) for d in lease.dns_servers] == [SERVER_IP]
    assert lease.lease_time == 300  # the range's 5m
    assert lease.t1 == 150 and 262 <= lease.t2 <= 262.5  # RFC 2131 §4.4.5 defaults
    assert got["dns"] == [SocketAddress(SERVER_IP, 53)]  # learned from the lease
    assert got["events"] == ["AddressCheckRequested", "LeaseAcquired"]
    assert got["probes"] == 3  # RFC 5227 §2.1.1 PROBE_NUM, before the address was used
    # dnsmasq's view: one exchange, and a lease with our MAC and host name.
    assert server.dhcp_log(mac)[:4] == [
        ("DISCOVER", ""),
        ("OFFER", ip),
        ("REQUEST", ip),
        ("ACK", ip),
    ]
    [entry] = [e for e in got["leases"] if e.mac == mac]
    assert (entry.ip, entry.hostname) == (ip, HOSTNAME)
    assert ping_counts(str(got["ping"])) == (3, 3)


# -- 2. renewal ------------------------------------------------------------------------------
def test_lease_is_renewed_by_unicast_request_at_t1(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq, tmp_path: Path, tshark: Tshark
) -> None:
    # dnsmasq's shortest lease is 2 minutes; options 58/59 bring T1/T2 down to 3 s and 5 s.
    server = dnsmasq(
        "--dhcp-option=option:T1,3",
        "--dhcp-option=option:T2,5",
        dhcp_range=f"{POOL_START},{POOL_END},255.255.255.0,2m",
    )
    pcap = tmp_path / "renew.pcap"

    async def main() -> tuple[Host, Lease, str]:
        async with netstack_host(tap, real_world, pcap=pcap) as host:
            first = host.iface.lease
            assert first is not None
            renewed = await until(
                lambda: any(isinstance(e, LeaseRenewed) for e in host.events), timeout=8.0
            )
            assert renewed, f"no renewal: {host.events}"
            return host, first, await kernel_mac(tap)

    host, first, server_mac = real_world.run(main())
    ip = ip_text(first.address)
    assert (first.lease_time, first.t1, first.t2) == (120, 3, 5)
    [renewal, *_] = [e for e in host.events if isinstance(e, LeaseRenewed)]
    assert renewal.lease.address == first.address
    assert renewal.lease.acquired_at >= first.renew_at  # not before T1
    assert renewal.lease.lease_time == 120
    log = server.dhcp_log(host.mac)
    assert log[:6] == [
        ("DISCOVER", ""),
        ("OFFER", ip),
        ("REQUEST", ip),
        ("ACK", ip),
        ("REQUEST", ip),  # the renewal
        ("ACK", ip),
    ], log
    # RFC 2131 §4.3.2 / §4.4.5: RENEWING is unicast from the leased address to the server,
    # ciaddr set, no requested address or server identifier, no broadcast flag.
    rows = tshark(
        pcap,
        [
            "eth.dst",
            "ip.src",
            "ip.dst",
            "dhcp.ip.client",
            "dhcp.flags.bc",
            "dhcp.option.requested_ip_address",
            "dhcp.option.dhcp_server_id",
        ],
        filter=f"dhcp.option.dhcp == 3 && ip.src == {ip}",
    )
    assert rows, "no renewal REQUEST captured"
    assert rows[0] == [server_mac, ip, SERVER_IP, ip, "0", "", ""], rows
    # What dnsmasq sent in its ACKs: T1 and T2 as configured, not clamped.
    acks = tshark(
        pcap,
        ["dhcp.option.renewal_time_value", "dhcp.option.rebinding_time_value"],
        filter="dhcp.option.dhcp == 5",
    )
    assert len(acks) >= 2 and all(row == ["3", "5"] for row in acks), acks
    assert_clean_capture(pcap, tshark)


# -- 3. release --------------------------------------------------------------------------------
def test_disconnect_releases_the_lease_at_dnsmasq(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq
) -> None:
    server = dnsmasq()

    async def main() -> tuple[Host, str, list[str], bool]:
        async with netstack_host(tap, real_world) as host:
            ip = host.iface.ip_address
            assert ip is not None
            held = [e.mac for e in server.leases() if e.ip == ip]
            await host.iface.disconnect()
            released = await until(
                lambda: (
                    ("RELEASE", ip) in server.dhcp_log(host.mac)
                    and all(e.mac != host.mac for e in server.leases())
                ),
                timeout=3.0,
            )
            return host, ip, held, released

    host, ip, held, released = real_world.run(main())
    assert held == [host.mac]
    assert released, (server.dhcp_log(host.mac), server.leases())
    assert server.dhcp_log(host.mac)[-1] == ("RELEASE", ip)
    assert kinds(host.events)[-1] == "LeaseReleased"
    iface = host.iface
    assert iface.status == ConnectionStatus.DISCONNECTED
    assert (iface.ip_address, iface.lease) == (None, None)
    assert iface.resolver.all_servers() == []  # the learned DNS server went with the lease


# -- 4. reconnect and reboot -----------------------------------------------------------------
def test_connect_after_a_release_starts_with_a_fresh_discover(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq, tmp_path: Path, tshark: Tshark
) -> None:
    """The interface remembers its lease only until it releases it: after disconnect(),
    connect() does not INIT-REBOOT but discovers again (RFC 2131 §3.1)."""
    server = dnsmasq()
    pcap = tmp_path / "reconnect.pcap"

    async def main() -> tuple[Host, list[str | None]]:
        async with netstack_host(tap, real_world, pcap=pcap) as host:
            first = host.iface.ip_address
            await host.iface.disconnect()
            await host.iface.connect()
            assert host.iface.status == ConnectionStatus.GLOBAL_UP
            return host, [first, host.iface.ip_address]

    host, addresses = real_world.run(main())
    assert all(in_pool(ip) for ip in addresses), addresses
    # Ours: DISCOVER, REQUEST, RELEASE, twice; no REQUEST without a DISCOVER before it.
    assert dhcp_types(pcap, tshark, host.mac) == ["1", "3", "7", "1", "3", "7"]
    assert [kind for kind, _ in server.dhcp_log(host.mac)] == [
        *("DISCOVER", "OFFER", "REQUEST", "ACK", "RELEASE") * 2
    ]
    assert kinds(host.events).count("LeaseAcquired") == 2


@dataclass
class Boot:
    """What one boot of :func:`boot_then_lose_power` saw."""

    lease: Lease
    events: list[object]
    stats: DhcpStats


async def boot_then_lose_power(
    tap: TapDevice,
    world: World,
    hwaddr: bytes,
    remembered: Lease | None = None,
    pcap: Path | None = None,
) -> Boot:
    """A host with MAC ``hwaddr`` boots, gets a lease (INIT-REBOOT with ``remembered``),
    and loses power: no RELEASE. EthernetInterface always releases on disconnect() and
    takes no remembered lease, so this drives the ip stack's DhcpAgent directly."""
    tap_emac = TapEMAC(tap.name, world, netns=tap.netns, hwaddr=hwaddr)
    emac: EMAC = tap_emac if pcap is None else PcapTap(tap_emac, pcap, world)
    try:
        stack = IpStack(world)
        netif = stack.add_ethernet(emac, acd=QUICK_ACD)
        stack.bring_up(netif)
        await kernel_side_running(tap)
        events: list[object] = []
        agent = DhcpAgent(stack, netif, DhcpConfig(hostname=HOSTNAME), events.append)
        agent.start(remembered=remembered)
        try:
            assert await until(lambda: agent.lease is not None, timeout=DHCP_TIMEOUT), events
            assert agent.lease is not None
            return Boot(agent.lease, events, dataclasses.replace(agent.client.stats))
        finally:
            agent.stop()  # the power goes: nothing more is sent
    finally:
        if isinstance(emac, PcapTap):
            emac.close()
        tap_emac.close()


def test_reboot_with_a_remembered_lease_requests_it_again_without_discover(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq, tmp_path: Path, tshark: Tshark
) -> None:
    server = dnsmasq()
    mac = "02:00:00:77:00:42"
    pcap = tmp_path / "reboot.pcap"

    async def main() -> tuple[Boot, Boot]:
        first = await boot_then_lose_power(tap, real_world, bytes.fromhex(mac.replace(":", "")))
        again = await boot_then_lose_power(
            tap, real_world, bytes.fromhex(mac.replace(":", "")), first.lease, pcap
        )
        return first, again

    first, again = real_world.run(main())
    ip = ip_text(first.lease.address)
    assert in_pool(ip)
    assert again.lease.address == first.lease.address
    assert (again.stats.discovers, again.stats.requests, again.stats.acks) == (0, 1, 1)
    assert kinds(again.events) == ["AddressCheckRequested", "LeaseAcquired"]
    assert server.dhcp_log(mac) == [
        ("DISCOVER", ""),
        ("OFFER", ip),
        ("REQUEST", ip),
        ("ACK", ip),
        ("REQUEST", ip),  # INIT-REBOOT
        ("ACK", ip),
    ]
    # RFC 2131 §4.3.2 INIT-REBOOT: broadcast, requested address set, no server identifier,
    # ciaddr zero.
    rows = tshark(
        pcap,
        [
            "ip.src",
            "ip.dst",
            "dhcp.ip.client",
            "dhcp.flags.bc",
            "dhcp.option.requested_ip_address",
            "dhcp.option.dhcp_server_id",
        ],
        filter=f"dhcp.option.dhcp == 3 && eth.src == {mac}",
    )
    assert rows == [["0.0.0.0", "255.255.255.255", "0.0.0.0", "1", ip, ""]], rows


def test_reboot_with_an_address_dnsmasq_refuses_is_naked_then_discovers(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq
) -> None:
    server = dnsmasq()
    mac = "02:00:00:77:00:43"
    # A lease from another network's past: 10.77.0.99 is outside dnsmasq's range.
    stale = Lease(
        address=bytes([10, 77, 0, 99]),
        prefix_len=24,
        server_id=bytes([10, 77, 0, 1]),
        lease_time=300,
        t1=150,
        t2=262.5,
        acquired_at=0.0,
    )

    async def main() -> Boot:
        return await boot_then_lose_power(
            tap, real_world, bytes.fromhex(mac.replace(":", "")), stale
        )

    boot = real_world.run(main())
    assert in_pool(ip_text(boot.lease.address))
    [nak] = [e for e in boot.events if isinstance(e, NakReceived)]
    assert nak.server is not None and ip_text(nak.server) == SERVER_IP
    # Option 56 carried dnsmasq's reason, as it logged it ("address not available").
    assert nak.message and f"DHCPNAK({tap.name}) 10.77.0.99 {mac} {nak.message}" in server.log()
    assert kinds(boot.events) == [
        "NakReceived",
        "AddressCheckRequested",
        "LeaseAcquired",
    ]
    log = server.dhcp_log(mac)
    assert log[:2] == [("REQUEST", "10.77.0.99"), ("NAK", "10.77.0.99")], log
    assert [kind for kind, _ in log[2:]] == ["DISCOVER", "OFFER", "REQUEST", "ACK"], log


# -- address conflict detection ---------------------------------------------------------------
def test_offered_address_the_kernel_holds_is_declined_and_another_is_leased(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq
) -> None:
    """RFC 5227 against a real neighbour: the kernel answers our ARP probe for an address
    it holds, we DECLINE it (RFC 2131 §4.4.1), and dnsmasq leases us another."""
    taken = "10.77.0.100"
    mac = "02:00:00:77:00:44"
    tap.run(["ip", "addr", "add", f"{taken}/24", "dev", tap.name])
    server = dnsmasq(f"--dhcp-host={mac},{taken}")  # dnsmasq offers us the taken address

    async def main() -> tuple[list[object], str | None, int]:
        tap_emac = TapEMAC(
            tap.name, real_world, netns=tap.netns, hwaddr=bytes.fromhex("020000770044")
        )
        try:
            iface = EthernetInterface(tap_emac, world=real_world, acd=QUICK_ACD)
            iface.dhcp_timeout = DHCP_TIMEOUT
            iface.dhcp_config = DhcpConfig(decline_wait=1.0)  # RFC 2131 §4.4.1 says 10 s
            events: list[object] = []
            iface.add_dhcp_listener(events.append)
            await kernel_side_running(tap)
            await iface.connect()
            result = events[:], iface.ip_address, stats_link(iface)["acd_conflicts"]
            await iface.disconnect()
            return result
        finally:
            tap_emac.close()

    events, ip, conflicts = real_world.run(main())
    assert in_pool(ip) and ip != taken, ip
    assert kinds(events)[:4] == [
        "AddressCheckRequested",
        "LeaseDeclined",
        "AddressCheckRequested",
        "LeaseAcquired",
    ]
    assert isinstance(events[1], LeaseDeclined) and ip_text(events[1].address) == taken
    assert conflicts == 1
    log = server.dhcp_log(mac)
    assert log[:9] == [
        ("DISCOVER", ""),
        ("OFFER", taken),
        ("REQUEST", taken),
        ("ACK", taken),
        ("DECLINE", taken),
        ("DISCOVER", ""),
        ("OFFER", ip),
        ("REQUEST", ip),
        ("ACK", ip),
    ], log


# -- 5. DNS through dnsmasq ----------------------------------------------------------------------
def test_resolver_uses_the_dns_server_from_dhcp_for_a_aaaa_and_cname(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq
) -> None:
    server = dnsmasq(*DNS_RECORDS)

    async def main() -> dict[str, object]:
        async with netstack_host(tap, real_world) as host:
            iface = host.iface
            got: dict[str, object] = {
                "ip": iface.ip_address,
                "servers": iface.resolver.all_servers(),  # no add_dns_server() call
                "a": await iface.gethostbyname("example.test", IpVersion.IPV4),
                "cached": await iface.gethostbyname("example.test", IpVersion.IPV4),
                "aaaa": await iface.gethostbyname("v6.example.test", IpVersion.IPV6),
                "cname": await iface.getaddrinfo("alias.example.test", IpVersion.IPV4),
                "dual": await iface.getaddrinfo("dual.example.test"),
                "dual6": await iface.getaddrinfo("dual.example.test", IpVersion.IPV6),
            }
            try:
                await iface.gethostbyname("nosuch.test")
            except DnsFailureError as exc:
                got["error"] = str(exc)
            got["stats"] = dataclasses.replace(iface.resolver.stats)
            return got

    got = real_world.run(main())
    assert got["servers"] == [SocketAddress(SERVER_IP, 53)]
    assert got["a"] == got["cached"] == SocketAddress("10.77.0.53", 0)
    assert got["aaaa"] == SocketAddress("fd77::53", 0)
    assert got["cname"] == [SocketAddress("10.77.0.53", 0)]
    # UNSPEC: both families, IPv4 first (ResolverConfig.prefer).
    assert got["dual"] == [SocketAddress("10.77.0.54", 0), SocketAddress("fd77::54", 0)]
    assert got["dual6"] == [SocketAddress("fd77::54", 0)]
    # dnsmasq has no upstream: it refuses names it has no record for.
    error = got.get("error")
    assert error == "nosuch.test: no answer (10.77.0.1:53: REFUSED)", error
    stats = got["stats"]
    assert stats.refused == 2 and stats.timeouts == stats.failovers == 0, stats
    # TTL 60: the second example.test, the CNAME target of alias.example.test
    # (example.test again) and dual.example.test's AAAA came from the cache.
    assert stats.cache_hits == 3, stats
    # dnsmasq saw the queries from our leased address and answered alias with its CNAME.
    log = server.log()
    ip = got["ip"]
    for query in (
        "query[A] example.test",
        "query[AAAA] v6.example.test",
        "query[A] alias.example.test",
        "query[AAAA] dual.example.test",
        "query[A] nosuch.test",
    ):
        assert f"{query} from {ip}" in log, query
    assert "alias.example.test is <CNAME>" in log
    # example.test's A: asked once; dnsmasq answers alias with the CNAME alone (the target
    # is an --address name) and the resolver takes the target from its cache; the repeat
    # lookup asked nobody either.
    assert log.count("query[A] example.test from") == 1
    assert log.count("query[AAAA] dual.example.test from") == 1


# -- 6. failover -----------------------------------------------------------------------------------
def test_resolver_fails_over_past_a_closed_port_and_a_silent_server(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq
) -> None:
    dnsmasq(*DNS_RECORDS)
    # After dnsmasq bound its sockets: 10.77.0.5 is the kernel's, with nothing on port 53,
    # so it answers with ICMP port unreachable; nobody has 10.77.0.6, so ARP fails.
    tap.run(["ip", "addr", "add", "10.77.0.5/24", "dev", tap.name])

    async def main() -> dict[str, object]:
        async with netstack_host(tap, real_world, static_ip="10.77.0.2") as host:
            iface = host.iface
            resolver = iface.resolver
            # per attempt, 2 attempts per server: long while every server answers (the
            # counts are exact), shorter for the lookup where one never does
            resolver.config.timeout = 2.0
            iface.add_dns_server(SERVER_IP)
            iface.add_dns_server("10.77.0.5")  # asked first
            got: dict[str, object] = {"servers1": resolver.all_servers()}
            got["first"] = await iface.gethostbyname("one.example.test", IpVersion.IPV4)
            got["stats1"] = dataclasses.replace(resolver.stats)
            got["icmp_errors"] = iface.stack.stats()["icmp"]["rx_errors"]
            iface.add_dns_server("10.77.0.6")  # now asked first
            resolver.config.timeout = 1.0
            got["servers2"] = resolver.all_servers()
            got["second"] = await iface.gethostbyname("two.example.test", IpVersion.IPV4)
            got["stats2"] = dataclasses.replace(resolver.stats)
            return got

    got = real_world.run(main())
    answer = SocketAddress("10.77.0.53", 0)
    assert got["servers1"] == [SocketAddress(a, 53) for a in ("10.77.0.5", SERVER_IP)]
    assert got["first"] == answer
    s1 = got["stats1"]
    # One query to 10.77.0.5, refused by ICMP at once (no timeout), then dnsmasq.
    assert (s1.queries_sent, s1.responses, s1.failovers, s1.timeouts) == (2, 1, 1, 0), s1
    assert got["icmp_errors"] == 1
    assert got["servers2"] == [SocketAddress(a, 53) for a in ("10.77.0.6", "10.77.0.5", SERVER_IP)]
    assert got["second"] == answer
    s2 = got["stats2"]
    # 10.77.0.6: both attempts time out (ARP never resolves); 10.77.0.5: refused; dnsmasq.
    assert (
        s2.queries_sent - s1.queries_sent,
        s2.responses - s1.responses,
        s2.failovers - s1.failovers,
        s2.timeouts - s1.timeouts,
    ) == (4, 1, 2, 2), s2


# -- 7. the kernel's DHCP clients against netstack's server -----------------------------------
UDHCPC_SCRIPT = """#!/bin/sh
# busybox udhcpc: the event is $1, the lease is in the environment
case "$1" in
bound|renew)
  echo "lease: event=$1 ip=$ip subnet=$subnet router=$router dns=$dns lease=$lease \
serverid=$serverid"
  ip addr add "$ip/$mask" dev "$interface" ;;
esac
exit 0
"""

DHCLIENT_SCRIPT = """#!/bin/sh
# ISC dhclient: the event is $reason, the lease is in new_* variables
case "$reason" in
PREINIT) ip link set dev "$interface" up ;;
BOUND|RENEW|REBOOT)
  echo "lease: event=$reason ip=$new_ip_address subnet=$new_subnet_mask router=$new_routers \
dns=$new_domain_name_servers lease=$new_dhcp_lease_time serverid=$new_dhcp_server_identifier"
  ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
esac
exit 0
"""


def parse_lease_line(out: str) -> dict[str, str]:
    """The ``lease: k=v …`` line a client script printed."""
    lines = [line for line in out.splitlines() if line.startswith("lease: ")]
    assert len(lines) == 1, out
    return dict(item.split("=", 1) for item in lines[0].removeprefix("lease: ").split())


async def run_udhcpc(tap: TapDevice, directory: Path) -> str:
    script = directory / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    # -q: exit once bound; -n: exit if no lease; 5 DISCOVERs, 1 s apart.
    cmd = ["busybox", "udhcpc", "-i", tap.name, "-f", "-q", "-n", "-t", "5", "-T", "3"]
    cmd += ["-s", str(script), "-x", "hostname:kernel-client"]
    rc, out = await run_in_netns(tap, cmd, timeout=15.0)
    assert rc == 0, out
    return out


async def run_dhclient(tap: TapDevice, directory: Path) -> str:
    script = directory / "dhclient.sh"
    script.write_text(DHCLIENT_SCRIPT)
    script.chmod(0o755)
    conf = directory / "dhclient.conf"
    conf.write_text('send host-name "kernel-client";\n')
    cmd = ["dhclient", "-4", "-1", "-d", "-v", "-cf", str(conf), "-sf", str(script)]
    cmd += ["-pf", str(directory / "dhclient.pid"), "-lf", str(directory / "dhclient.leases")]
    proc = await asyncio.create_subprocess_exec(
        *tap.argv([*cmd, tap.name]), stdout=asyncio.subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    out = b""
    try:  # -d keeps it in the foreground once bound: read until it says so, then end it
        while b"bound to" not in out:
            line = await asyncio.wait_for(proc.stdout.readline(), 15.0)
            if not line:
                break
            out += line
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGTERM)  # ip netns exec execs: this is dhclient
        await proc.wait()
    return out.decode(errors="replace")


@pytest.mark.parametrize("client", ["udhcpc", "dhclient"])
def test_kernel_dhcp_client_gets_a_lease_from_netstack_server(
    client: str, tap: TapDevice, real_world: World, tmp_path: Path
) -> None:
    # The kernel gives up its static address: it has to get one from us.
    tap.run(["ip", "-4", "addr", "flush", "dev", tap.name])

    async def main() -> dict[str, object]:
        async with netstack_host(tap, real_world, static_ip="10.77.0.2") as host:
            server = DhcpServer(
                host.iface,
                DhcpServerConfig(
                    POOL_START,
                    POOL_END,
                    router="10.77.0.2",
                    dns_servers=("10.77.0.2",),
                    lease_time=600,
                ),
            )
            server.start()
            try:
                runner = run_udhcpc if client == "udhcpc" else run_dhclient
                out = await runner(tap, tmp_path)
                lease = parse_lease_line(out)
                # The client's script installed the address: the kernel reaches us from it.
                pinged = await kernel_ping(tap, "10.77.0.2", count=2)
                _, addresses = await run_in_netns(
                    tap, ["ip", "-4", "-br", "addr", "show", "dev", tap.name]
                )
                return {
                    "out": out,
                    "lease": lease,
                    "leases": server.leases,
                    "stats": dataclasses.replace(server.stats),
                    "mac": await kernel_mac(tap),
                    "ping": pinged,
                    "addresses": addresses,
                }
            finally:
                server.stop()

    got = real_world.run(main())
    lease = got["lease"]
    assert isinstance(lease, dict)
    assert in_pool(lease["ip"]), got["out"]
    assert lease["subnet"] == "255.255.255.0"
    assert (lease["router"], lease["dns"], lease["serverid"]) == ("10.77.0.2",) * 3
    assert lease["lease"] == "600"
    [record] = got["leases"]
    assert (record.mac, record.ip, record.state) == (got["mac"], lease["ip"], LeaseState.BOUND)
    assert record.hostname == "kernel-client"
    stats = got["stats"]
    assert (stats.discovers, stats.offers, stats.requests, stats.acks) == (1, 1, 1, 1), stats
    assert stats.naks == stats.malformed == stats.errors == 0, stats
    assert f"{lease['ip']}/24" in str(got["addresses"])
    assert ping_counts(str(got["ping"])) == (2, 2)


# -- 8. the netstack command ------------------------------------------------------------------
def run_netstack(*args: str, timeout: float = 40.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*netstack_command(), *args], capture_output=True, text=True, timeout=timeout
    )


def test_cli_up_with_dhcp_reports_the_lease_and_releases_it(
    tap: TapDevice, dnsmasq: StartDnsmasq, tmp_path: Path, tshark: Tshark
) -> None:
    server = dnsmasq()
    pcap = tmp_path / "up.pcap"
    result = run_netstack(
        "up", "--tap", tap.name, "--netns", tap.netns, "--dhcp", "--hostname", "netstack-cli",
        "--dhcp-timeout", str(DHCP_TIMEOUT), "--duration", "3", "--stats-interval", "100",
        "--pcap", str(pcap),
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [acquired] = [line for line in out.splitlines() if line.startswith("dhcp LeaseAcquired: ")]
    ip = acquired.split()[2].split("/")[0]
    assert in_pool(ip), acquired
    assert acquired == (
        f"dhcp LeaseAcquired: {ip}/24 router {SERVER_IP} dns {SERVER_IP} domain - "
        f"lease 300 s server {SERVER_IP}"
    )
    [up] = [line for line in out.splitlines() if line.startswith("netstack up on ")]
    assert up.startswith(f"netstack up on {tap.name}: {ip}/24 mac "), up
    assert f"gateway {SERVER_IP} status GLOBAL_UP" in up, up
    assert any(line.startswith(f"dhcp LeaseReleased: {ip}/24") for line in out.splitlines())
    mac = up.split(" mac ")[1].split()[0].lower()
    # dnsmasq logs the RELEASE and rewrites its lease file in its own time
    assert eventually(
        lambda: (
            server.dhcp_log(mac)[-1:] == [("RELEASE", ip)]
            and all(e.mac != mac for e in server.leases())
        )
    ), (server.dhcp_log(mac), server.leases())
    assert f"DHCPACK({tap.name}) {ip} {mac} netstack-cli" in server.log()
    # --pcap: the exchange decodes cleanly; ours DISCOVER, REQUEST, RELEASE; theirs
    # OFFER, ACK.
    assert_clean_capture(pcap, tshark)
    types = [r[0] for r in tshark(pcap, ["dhcp.option.dhcp"], filter="dhcp")]
    # (The command sends its DISCOVER as soon as it attaches; should the kernel drop the
    # OFFER while it is still bringing the carrier up, the DISCOVER is retransmitted.)
    deduplicated = [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]
    assert deduplicated == ["1", "2", "3", "5", "7"], types


def test_cli_resolve_by_dhcp_and_a_refused_name_fails_in_one_line(
    tap: TapDevice, dnsmasq: StartDnsmasq
) -> None:
    server = dnsmasq(*DNS_RECORDS)
    common = ["--tap", tap.name, "--netns", tap.netns]
    found = run_netstack("resolve", "alias.example.test", *common, "--dhcp")
    assert found.returncode == 0, found.stdout + found.stderr
    assert found.stdout.split() == ["10.77.0.53"], found.stdout
    assert "Traceback" not in found.stderr, found.stderr
    assert "query[A] alias.example.test from 10.77.0." in server.log()
    # it gave the lease back (dnsmasq logs it in its own time)
    assert eventually(lambda: [kind for kind, _ in server.dhcp_log()][-1:] == ["RELEASE"])

    refused = run_netstack(
        "resolve", "nosuch.test", *common, "--ip", "10.77.0.9/24", "--dns", SERVER_IP
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "netstack resolve: nosuch.test: no answer (10.77.0.1:53: REFUSED)"
    ], refused.stderr


# -- 9. tshark on our side of the exchange -----------------------------------------------------
def test_dhcp_exchange_decodes_cleanly_in_tshark(
    tap: TapDevice, real_world: World, dnsmasq: StartDnsmasq, tmp_path: Path, tshark: Tshark
) -> None:
    dnsmasq()
    pcap = tmp_path / "dhcp.pcap"

    async def main() -> tuple[str, str, str]:
        async with netstack_host(tap, real_world, pcap=pcap) as host:
            ip = host.iface.ip_address
            assert ip is not None
            return host.mac, ip, await kernel_mac(tap)

    mac, ip, server_mac = real_world.run(main())
    assert_clean_capture(pcap, tshark)
    rows = tshark(
        pcap,
        [
            "dhcp.option.dhcp",
            "eth.src",
            "eth.dst",
            "ip.src",
            "ip.dst",
            "dhcp.ip.client",
            "dhcp.ip.your",
            "dhcp.hw.mac_addr",
            "dhcp.option.type",
        ],
        filter="dhcp",
    )
    assert [r[0] for r in rows] == ["1", "2", "3", "5", "7"], rows
    for row in rows:  # chaddr first; the client identifier (option 61) repeats the MAC
        row[7] = row[7].split(",")[0]
    discover, offer, request, ack, release = rows
    broadcast = ["ff:ff:ff:ff:ff:ff", "0.0.0.0", "255.255.255.255", "0.0.0.0", "0.0.0.0", mac]
    assert discover[1:8] == [mac, *broadcast], discover
    assert request[1:8] == [mac, *broadcast], request
    assert offer[1] == ack[1] == server_mac and offer[6] == ack[6] == ip
    # RFC 2131 table 5: DISCOVER/REQUEST carry client id, host name, vendor class, the
    # parameter list and the maximum size; the REQUEST adds requested address and server
    # id. RELEASE: unicast from the leased address, ciaddr set, only type/client/server.
    options = {name: set(row[8].split(",")) for name, row in (("d", discover), ("r", request))}
    assert {"53", "61", "12", "60", "55", "57"} <= options["d"], discover
    assert {"50", "54"} & options["d"] == set(), discover
    assert {"53", "61", "12", "60", "55", "57", "50", "54"} <= options["r"], request
    assert release[1:8] == [mac, server_mac, ip, SERVER_IP, ip, "0.0.0.0", mac], release
    assert set(release[8].split(",")) - {"0", "255"} == {"53", "61", "54"}, release  # pad, end
    hostnames = tshark(pcap, ["dhcp.option.hostname"], filter="dhcp.option.dhcp == 1")
    assert hostnames == [[HOSTNAME]]
    # The leased address was probed (RFC 5227 §2.1.1) and then announced (§2.3).
    probes = tshark(pcap, ["arp.dst.proto_ipv4"], filter=f"arp.isprobe && eth.src == {mac}")
    announcements = tshark(
        pcap, ["arp.src.proto_ipv4"], filter=f"arp.isannouncement && eth.src == {mac}"
    )
    assert probes == [[ip]]
    assert announcements and all(row == [ip] for row in announcements)
