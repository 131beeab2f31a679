"""IPv6 against the Linux kernel through a TAP: SLAAC from radvd, ping, TCP, UDP, ND.

netstack runs on the test's event loop on a TAP whose kernel side is fd77::1/64 (the
``tap`` fixture, no DAD: the namespace's ``accept_dad=0`` also keeps the kernel's
link-local address usable at once); kernel tools (radvd, ping, ndisc6/rdisc6, Python
sockets) run inside the test's namespace as asyncio subprocesses, so the stack keeps
answering while they run. netstack is fd77::2 (static, ``netstack_on(ipv6=...)``) except
where SLAAC from radvd is under test; tshark is the referee for the captures.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_ipv4_kernel import (
    assert_clean_capture,
    kernel_side_running,
    netstack_on,
    run_in_netns,
    stats_of,
    until,
)
from test_tcp_kernel import KERNEL_ECHO_CLIENT, KERNEL_ECHO_SERVER

from netstack.address import SocketAddress
from netstack.drivers.emac.api import EMAC
from netstack.drivers.emac.tap import TapEMAC
from netstack.drivers.wrappers import PcapTap
from netstack.interfaces.base import ConnectionStatus
from netstack.interfaces.ethernet import EthernetInterface
from netstack.runtime import World
from netstack.services import TcpEchoServer
from netstack.services.echo import UdpEchoServer
from netstack.services.ping import ping
from netstack.socket import TCPSocket, UDPSocket
from netstack.stacks.core.ipv6_interface import AdvertisedPrefix, RouterConfig
from netstack.wire.ethernet import mac_from_str

if TYPE_CHECKING:
    from test_ipv4_kernel import Tshark

    from conftest import TapDevice

pytestmark = pytest.mark.interop

KERNEL_IP6 = "fd77::1"
OUR_IP6 = "fd77::2"
STATIC = f"static:{OUR_IP6}/64"
RDNSS = "fd77::53"
DNSSL = "netstack.test"
RA_MTU = 1400

#: radvd on the kernel's side: the TAP's prefix for SLAAC, a link MTU below the TAP's, a
#: DNS server and a search list.
RADVD_CONF = """\
interface {tap} {{
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    AdvLinkMTU {mtu};
    prefix fd77::/64 {{
        AdvOnLink on;
        AdvAutonomous on;
        AdvValidLifetime 600;
        AdvPreferredLifetime 300;
    }};
    RDNSS {rdnss} {{ }};
    DNSSL {dnssl} {{ }};
}};
"""


#: Kernel-side UDP over IPv6, run inside the namespace with ``python -c``. Modes:
#:   echo HOST PORT SIZES_JSON  one datagram of each size (random bytes) to HOST:PORT, wait
#:                              for each echo; print [[size, echoed length, byte-exact]]
#:   refused HOST PORT          connected socket: send, then recv; print the outcome
#:   sink HOST PORT             bind HOST:PORT, print "ready", receive one datagram, print its
#:                              length, SHA-256 and source, then send it back to the source
KERNEL_UDP6 = r"""
import hashlib, json, os, socket, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
address = socket.getaddrinfo(host, port, socket.AF_INET6, socket.SOCK_DGRAM)[0][4]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.settimeout(2.0)
if mode == "echo":
    s.connect(address)
    out = []
    for n in json.loads(sys.argv[4]):
        payload = os.urandom(n)
        s.send(payload)
        try:
            data = s.recv(65535)
        except TimeoutError:
            out.append([n, -1, False])
            continue
        out.append([n, len(data), data == payload])
    print(json.dumps(out))
elif mode == "refused":
    s.connect(address)
    s.send(b"anyone there?")
    try:
        s.recv(100)
        print("answered")
    except ConnectionRefusedError:
        print("refused")
    except TimeoutError:
        print("timeout")
elif mode == "sink":
    s.settimeout(5.0)
    s.bind(address)
    print("ready", flush=True)
    data, peer = s.recvfrom(65535)
    info = {"len": len(data), "sha256": hashlib.sha256(data).hexdigest(), "peer": list(peer[:2])}
    print(json.dumps(info), flush=True)
    s.sendto(data, peer)
"""

#: A unicast Neighbor Solicitation, as the kernel's Neighbor Unreachability Detection sends
#: (RFC 4861 §7.3.3), through a raw ICMPv6 socket: ask TARGET directly on IFNAME; print the
#: answering NA's flags (R, S, O) and target link-layer address as JSON, or "none".
KERNEL_UNICAST_NS = r"""
import json, socket, sys, time
target, ifname = sys.argv[1], sys.argv[2]
packed = socket.inet_pton(socket.AF_INET6, target)
with open(f"/sys/class/net/{ifname}/address") as f:
    mac = bytes.fromhex(f.read().strip().replace(":", ""))
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
# type 135, code 0, checksum (the kernel fills it in), reserved; target; SLLA option
s.sendto(bytes([135, 0, 0, 0, 0, 0, 0, 0]) + packed + bytes([1, 1]) + mac, (target, 0))
s.settimeout(0.1)
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    try:
        data, source = s.recvfrom(2048)
    except TimeoutError:
        continue
    if data[0] == 136 and data[8:24] == packed and len(data) >= 32 and data[24] == 2:
        flags = [bool(data[4] & bit) for bit in (0x80, 0x40, 0x20)]
        print(json.dumps({"flags": flags, "tlla": data[26:32].hex(":"), "from": source[0]}))
        break
else:
    print("none")
"""


def eui64(prefix: str, mac: str) -> str:
    """RFC 4291 §2.5.1 / appendix A: the modified EUI-64 address in ``prefix`` for ``mac``."""
    raw = bytearray(mac_from_str(mac))
    iid = bytes([raw[0] ^ 0x02, *raw[1:3], 0xFF, 0xFE, *raw[3:6]])
    packed = ipaddress.IPv6Address(prefix).packed[:8] + iid
    return str(ipaddress.IPv6Address(packed))


@contextlib.asynccontextmanager
async def radvd(tap: TapDevice, directory: Path) -> AsyncIterator[Path]:
    """radvd advertising fd77::/64 (MTU, RDNSS, DNSSL) on the TAP; its log's path. Stopped
    by PID."""
    conf = directory / "radvd.conf"
    conf.write_text(RADVD_CONF.format(tap=tap.name, mtu=RA_MTU, rdnss=RDNSS, dnssl=DNSSL))
    log_path = directory / "radvd.log"
    with open(log_path, "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *tap.argv(["radvd", "--nodaemon", "-C", str(conf), "-p",
                       str(directory / "radvd.pid"), "-m", "stderr"]),
            stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        yield log_path
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


@contextlib.asynccontextmanager
async def ipv6_only_host(
    tap: TapDevice, world: World, pcap: Path | None = None
) -> AsyncIterator[EthernetInterface]:
    """netstack on the TAP with IPv6 (SLAAC) only: IPv4 off, so the status follows IPv6.
    Not connected yet: the caller connects."""
    tap_emac = TapEMAC(tap.name, world, netns=tap.netns)
    emac: EMAC = tap_emac if pcap is None else PcapTap(tap_emac, pcap, world)
    try:
        iface = EthernetInterface(emac, world=world)
        iface.set_dhcp(False)
        iface.set_ipv6("slaac")
        try:
            yield iface
        finally:
            if iface.status != ConnectionStatus.DISCONNECTED:
                await iface.disconnect()
    finally:
        if isinstance(emac, PcapTap):
            emac.close()
        tap_emac.close()


async def kernel_link_local(tap: TapDevice) -> str:
    """The kernel's link-local address on the TAP."""
    rc, out = await run_in_netns(tap, ["ip", "-j", "-6", "addr", "show", "dev", tap.name,
                                       "scope", "link"])  # fmt: skip
    assert rc == 0, out
    # (iproute2 prints the filtered-out addresses as empty objects)
    [info] = [a for entry in json.loads(out) for a in entry["addr_info"] if a]
    return str(info["local"])


async def kernel_mac(tap: TapDevice) -> str:
    rc, out = await run_in_netns(tap, ["cat", f"/sys/class/net/{tap.name}/address"])
    assert rc == 0, out
    return out.strip()


async def kernel_ping6(tap: TapDevice, target: str, *options: str) -> str:
    """The kernel's ``ping -6`` to ``target``; its output (it must exit 0: every reply came)."""
    rc, out = await run_in_netns(
        tap, ["ping", "-6", "-n", "-W", "1", "-w", "6", "-i", "0.02", *options, target]
    )
    assert rc == 0, out
    return out


def ping_summary(out: str) -> tuple[int, int, str]:
    """(transmitted, received, loss) from iputils ping's summary line."""
    match = re.search(
        r"(\d+) packets transmitted, (\d+) received, .*?(\d+(?:\.\d+)?)% packet loss", out
    )
    assert match, out
    return int(match[1]), int(match[2]), match[3]


def text6(address: SocketAddress | None) -> str:
    """An IPv6 address as text, without its scope."""
    assert address is not None
    return str(ipaddress.IPv6Address(address.packed))


# -- 1. SLAAC from radvd; the kernel pings us ----------------------------------------------------
def test_slaac_from_radvd_gives_an_eui64_address_and_the_kernel_pings_it(
    tap: TapDevice, real_world: World, tmp_path: Path, tshark: Tshark
) -> None:
    pcap = tmp_path / "slaac.pcap"

    async def main() -> tuple[EthernetInterface, list[str], dict[str, dict[str, int]]]:
        async with ipv6_only_host(tap, real_world, pcap) as iface:
            connecting = asyncio.ensure_future(iface.connect())
            await kernel_side_running(tap)
            # link-local only, before any router: LOCAL_UP, no global address yet
            assert await until(lambda: iface.status == ConnectionStatus.LOCAL_UP, 5.0)
            assert iface.get_ipv6_address() is None
            async with radvd(tap, tmp_path):
                await asyncio.wait_for(connecting, 15)
                assert iface.status == ConnectionStatus.GLOBAL_UP

                ip6 = iface.ipv6
                assert ip6 is not None
                mac = iface.mac_address
                link_local, address = iface.get_ipv6_link_local_address(), iface.get_ipv6_address()
                assert text6(address) == eui64("fd77::", mac)
                assert text6(link_local) == eui64("fe80::", mac)
                assert link_local is not None and link_local.scope_id == iface.netif.index
                assert sorted((str(ipaddress.IPv6Address(a)), n, s)
                              for a, n, s in ip6.addresses()) == [
                    (eui64("fd77::", mac), 64, "preferred"),
                    (eui64("fe80::", mac), 64, "preferred"),
                ]  # fmt: skip
                now = real_world.now()
                assert [text6(SocketAddress.from_packed(a))
                        for a in ip6.discovery.dns_servers(now)] == [RDNSS]  # fmt: skip
                assert ip6.discovery.search_domains(now) == [DNSSL]
                learned = iface.stack.learned_dns.get(f"ra:{iface.get_interface_name()}")
                assert learned == [SocketAddress(RDNSS, 53)]
                kernel_ll = ipaddress.IPv6Address(await kernel_link_local(tap)).packed
                assert ip6.default_router(now) == kernel_ll  # radvd's host
                assert ip6.mtu == RA_MTU

                before = stats_of(iface)
                pings = [
                    await kernel_ping6(tap, f"{text6(link_local)}%{tap.name}", "-c", "5"),
                    await kernel_ping6(tap, text6(address), "-c", "5"),
                    await kernel_ping6(tap, text6(address), "-c", "5", "-s", "4000"),
                ]
                after = stats_of(iface)
                return (
                    iface,
                    pings,
                    {
                        f"{layer}.{name}": after[layer][name] - before[layer][name]
                        for layer in ("ipv6", "icmpv6")
                        for name in after[layer]
                    },
                )

    iface, pings, rose = real_world.run(main())
    assert [ping_summary(out) for out in pings] == [(5, 5, "0")] * 3, pings
    assert rose["icmpv6.rx_echo_requests"] == rose["icmpv6.tx_echo_replies"] == 15
    # 4008 bytes of ICMPv6 in 3 fragments each way: the kernel's of up to 1448 bytes (its
    # MTU is 1500), ours of up to 1352 (the RA's MTU of 1400), the largest frames we sent
    assert rose["ipv6.rx_fragments"] == 5 * 3
    assert rose["ipv6.rx_reassembled"] == 5
    assert rose["ipv6.tx_fragments"] == 5 * 3
    assert rose["icmpv6.rx_bad_checksum"] == rose["ipv6.rx_malformed"] == 0
    assert_clean_capture(pcap, tshark)
    mac = iface.mac_address.lower()
    sizes = tshark(pcap, ["frame.len"], filter=f"eth.src == {mac} && ipv6")
    assert max(int(row[0]) for row in sizes) == 14 + RA_MTU


# -- 2. TCP both ways ----------------------------------------------------------------------------
TCP_BULK = 4_000_000


async def netstack_echo_client(
    iface: EthernetInterface, tap: TapDevice, bind: str, data: bytes
) -> tuple[bytes, str]:
    """netstack connects to :data:`KERNEL_ECHO_SERVER` on ``bind`` (the kernel's view of
    its address), sends ``data``, half-closes and reads the echo; (echo, server's report)."""
    host = bind.partition("%")[0]
    server = await asyncio.create_subprocess_exec(
        *tap.argv([sys.executable, "-c", KERNEL_ECHO_SERVER, bind, "9000"]),
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdout is not None
    try:
        assert (await asyncio.wait_for(server.stdout.readline(), 5)).startswith(b"listening")
        sock = TCPSocket(iface)
        sock.set_timeout(30)
        target = SocketAddress(host, 9000, scope_id=iface.netif.index if "%" in bind else 0)
        await sock.connect(target)

        async def reader() -> bytes:
            got = bytearray()
            while chunk := await sock.recv(65536):
                got += chunk
            return bytes(got)

        task = asyncio.ensure_future(reader())
        await sock.send(data)
        sock.shutdown()
        echoed = await asyncio.wait_for(task, 30)
        sock.close()
        tail = (await asyncio.wait_for(server.stdout.read(), 5)).decode()
        await server.wait()
        return echoed, tail
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


async def kernel_echo_client(tap: TapDevice, host: str, size: int) -> dict[str, object]:
    """The kernel's :data:`KERNEL_ECHO_CLIENT` against our echo server at ``host``."""
    rc, out = await run_in_netns(
        tap, [sys.executable, "-c", KERNEL_ECHO_CLIENT, host, "7", str(size)], 60
    )
    assert rc == 0, out
    result: dict[str, object] = json.loads(out)
    return result


def test_tcp_both_ways_with_the_kernel_over_global_and_link_local_addresses(
    tap: TapDevice, real_world: World
) -> None:
    data = hashlib.shake_128(b"netstack6").digest(TCP_BULK)
    small = 100_000

    async def main() -> dict[str, dict[str, int]]:
        async with netstack_on(tap, real_world, ipv6=STATIC) as iface:
            link_local = text6(await iface.wait_for_ipv6_address(global_address=False, timeout=5))
            kernel_ll = await kernel_link_local(tap)
            echo = TcpEchoServer(iface)
            echo.start()
            # the kernel's client to our echo server: global, then link-local with a scope
            for host, size in ((OUR_IP6, TCP_BULK), (f"{link_local}%{tap.name}", small)):
                result = await kernel_echo_client(tap, host, size)
                assert result["got"] == result["sent"] == size, (host, result)
                assert result["got_sha"] == result["sent_sha"], (host, result)
            echo.stop()
            # our client to the kernel's echo server, which reports whom it served
            echoed, tail = await netstack_echo_client(iface, tap, KERNEL_IP6, data)
            assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
            assert tail.split() == ["echoed", str(TCP_BULK), OUR_IP6]
            echoed, tail = await netstack_echo_client(
                iface, tap, f"{kernel_ll}%{tap.name}", data[:small]
            )
            assert echoed == data[:small]
            assert tail.split() == ["echoed", str(small), link_local]
            return stats_of(iface)

    stats = real_world.run(main())
    assert stats["tcp"]["rx_bad_checksum"] == 0
    assert stats["tcp"]["connections_accepted"] == 2
    assert stats["ipv6"]["tx_fragments"] == stats["ipv6"]["rx_fragments"] == 0  # MSS fits


# -- 3. UDP both ways ----------------------------------------------------------------------------
async def kernel_udp6(tap: TapDevice, *args: str) -> str:
    """Run :data:`KERNEL_UDP6` in the namespace; its stdout (it must exit 0)."""
    rc, out = await run_in_netns(tap, [sys.executable, "-c", KERNEL_UDP6, *args])
    assert rc == 0, out
    return out


def test_udp_both_ways_with_the_kernel_and_a_closed_port_is_refused(
    tap: TapDevice, real_world: World
) -> None:
    # up to one MTU (1500 - 40 - 8 = 1452) whole, beyond it in fragments
    sizes = [0, 1, 100, 1232, 1452, 1453, 3000, 9000, 65000]
    payload = bytes((i * 31 + i // 256) & 0xFF for i in range(20000))

    async def main() -> dict[str, object]:
        async with netstack_on(tap, real_world, ipv6=STATIC) as iface:
            echo = UdpEchoServer(iface)
            echo.start()
            echoed = await kernel_udp6(tap, "echo", OUR_IP6, "7", json.dumps(sizes))
            echo.stop()
            refused = await kernel_udp6(tap, "refused", OUR_IP6, "4444")
            sink = await asyncio.create_subprocess_exec(
                *tap.argv([sys.executable, "-c", KERNEL_UDP6, "sink", KERNEL_IP6, "5555"]),
                stdout=asyncio.subprocess.PIPE,
            )
            assert sink.stdout is not None
            try:
                assert await asyncio.wait_for(sink.stdout.readline(), 5.0) == b"ready\n"
                before = stats_of(iface)
                with UDPSocket(iface) as sock:
                    sock.bind(40000)
                    sock.set_timeout(5.0)
                    await sock.sendto((KERNEL_IP6, 5555), payload)
                    info = json.loads(await asyncio.wait_for(sink.stdout.readline(), 5.0))
                    back, peer = await sock.recvfrom()
            finally:
                if sink.returncode is None:
                    sink.kill()
                await sink.wait()
            return {
                "echoed": json.loads(echoed),
                "replies": echo.stats.replies,
                "refused": refused.strip(),
                "info": info,
                "back": back,
                "peer": peer,
                "before": before,
                "after": stats_of(iface),
            }

    got = real_world.run(main())
    assert got["echoed"] == [[n, n, True] for n in sizes]
    assert got["replies"] == len(sizes)
    assert got["refused"] == "refused"  # the kernel got our ICMPv6 port unreachable
    assert got["info"] == {
        "len": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "peer": [OUR_IP6, 40000],
    }
    assert got["back"] == payload
    assert got["peer"] == SocketAddress(KERNEL_IP6, 5555)
    before, after = got["before"], got["after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    assert after["udp"]["rx_no_port"] == 1
    assert after["icmpv6"]["tx_errors"] == 1
    assert after["udp"]["rx_bad_checksum"] == 0
    # 20008 bytes of UDP in fragments of 1448 bytes: 14 out, the kernel's echo the same in
    assert after["ipv6"]["tx_fragments"] - before["ipv6"]["tx_fragments"] == 14
    assert after["ipv6"]["rx_fragments"] - before["ipv6"]["rx_fragments"] == 14
    assert after["ipv6"]["rx_reassembled"] - before["ipv6"]["rx_reassembled"] == 1


# -- 4. ndisc6 and rdisc6 ------------------------------------------------------------------------
async def ndisc6(tap: TapDevice, target: str, *options: str) -> tuple[int, str]:
    return await run_in_netns(tap, ["ndisc6", "-n", *options, target, tap.name])


def test_ndisc6_gets_our_mac_for_our_addresses_only(tap: TapDevice, real_world: World) -> None:
    async def main() -> dict[str, int]:
        async with netstack_on(tap, real_world, ipv6=STATIC) as iface:
            link_local = await iface.wait_for_ipv6_address(global_address=False, timeout=5)
            mac = iface.mac_address.upper()
            for target in (OUR_IP6, text6(link_local)):
                rc, out = await ndisc6(tap, target, "-1")
                assert rc == 0, out
                assert re.search(rf"Target link-layer address: {mac}\b", out), out
            # not our address: no answer
            rc, out = await ndisc6(tap, "fd77::3", "-1", "-r", "2", "-w", "300")
            assert rc != 0 and "No response" in out, out
            # a unicast probe is answered like a multicast one: solicited, override, our MAC
            # (the kernel knows our MAC already, so no NS of its own asks in between)
            neigh = [
                "neigh",
                "replace",
                OUR_IP6,
                "lladdr",
                mac,
                "dev",
                tap.name,
                "nud",
                "permanent",
            ]
            rc, out = await run_in_netns(tap, ["ip", "-6", *neigh])
            assert rc == 0, out
            rc, out = await run_in_netns(
                tap, [sys.executable, "-c", KERNEL_UNICAST_NS, OUR_IP6, tap.name]
            )
            assert rc == 0 and out.strip() != "none", f"no answer to a unicast NS: {out}"
            assert json.loads(out) == {
                "flags": [False, True, True],
                "tlla": mac.lower(),
                "from": OUR_IP6,
            }
            return iface.stack.stats()[f"ipv6:{iface.get_interface_name()}"]

    stats = real_world.run(main())
    assert stats["ns_in"] >= 3 and stats["na_out"] >= 3, stats
    assert stats["nd_invalid"] == 0, stats


def test_rdisc6_sees_our_router_advertisements(tap: TapDevice, real_world: World) -> None:
    prefix = "fd77:0:0:6::"

    async def main() -> dict[str, int]:
        async with netstack_on(tap, real_world, ipv6=STATIC) as iface:
            ip6 = iface.ipv6
            assert ip6 is not None
            iface.stack.forwarding = True
            ip6.advertise(RouterConfig(
                prefixes=[AdvertisedPrefix(ipaddress.IPv6Address(prefix).packed, 64)],
                dns_servers=[ipaddress.IPv6Address(RDNSS).packed],
                search_domains=[DNSSL],
            ))  # fmt: skip
            # One solicitation, sent (unless the kernel's carrier took long) while our
            # link-local address is still tentative, so nothing can answer it yet: the RA
            # must come once the address is usable.
            rc, out = await run_in_netns(tap, ["rdisc6", "-1", "-n", "-r", "1", "-w", "3000",
                                               tap.name])  # fmt: skip
            assert rc == 0, out
            link_local = text6(iface.get_ipv6_link_local_address())
            assert re.search(
                rf"Prefix\s+: {prefix}/64\n\s+On-link\s+:\s+Yes\n"
                rf"\s+Autonomous address conf.:\s+Yes\n",
                out,
            ), out
            assert re.search(rf"Recursive DNS server\s+: {RDNSS}\n", out), out
            assert re.search(rf"DNS search list\s+: {DNSSL} *\n", out), out
            assert re.search(rf"Source link-layer address: {iface.mac_address.upper()}\n", out)
            assert re.search(rf"from {link_local}\n", out), out

            # the kernel autoconfigures an address from our prefix, a default route via us
            formed = eui64(prefix, await kernel_mac(tap))

            async def kernel_took_it() -> bool:
                _, addresses = await run_in_netns(tap, ["ip", "-6", "addr", "show", tap.name])
                _, routes = await run_in_netns(tap, ["ip", "-6", "route", "show", "default"])
                return formed in addresses and f"default via {link_local} dev" in routes

            for _ in range(50):
                if await kernel_took_it():
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the kernel did not use our RA")
            return iface.stack.stats()[f"ipv6:{iface.get_interface_name()}"]

    stats = real_world.run(main())
    assert stats["rs_in"] >= 1 and stats["ra_out"] >= 1, stats


# -- 5. netstack pings the kernel ----------------------------------------------------------------
def test_we_ping_the_kernel_and_resolve_its_mac_with_neighbor_discovery(
    tap: TapDevice, real_world: World
) -> None:
    async def main() -> dict[str, dict[str, int]]:
        async with netstack_on(tap, real_world, ipv6=STATIC) as iface:
            ip6 = iface.ipv6
            assert ip6 is not None
            kernel_ll = await kernel_link_local(tap)
            link_local = await iface.wait_for_ipv6_address(global_address=False, timeout=5)
            scoped = SocketAddress(f"{kernel_ll}%{iface.netif.index}", 0)
            results = [
                await ping(iface, SocketAddress(KERNEL_IP6, 0), count=5, interval=0.01),
                await ping(iface, scoped, count=5, interval=0.01),
                await ping(iface, SocketAddress(KERNEL_IP6, 0), count=3, interval=0.01,
                           size=4000),
            ]  # fmt: skip
            assert [(r.sent, r.received, r.errors) for r in results] == [
                (5, 5, 0),
                (5, 5, 0),
                (3, 3, 0),
            ], results
            # Neighbor Discovery resolved both of the kernel's addresses to its MAC ...
            kernel = mac_from_str(await kernel_mac(tap))
            for address in (KERNEL_IP6, kernel_ll):
                assert ip6.neighbor_lladdr(ipaddress.IPv6Address(address).packed) == kernel
            # ... and the kernel learned ours for both of our addresses
            _, out = await run_in_netns(tap, ["ip", "-j", "-6", "neigh", "show", "dev", tap.name])
            neighbours = {n["dst"]: n.get("lladdr") for n in json.loads(out)}
            mac = iface.mac_address.lower()
            assert neighbours.get(OUR_IP6) == neighbours.get(text6(link_local)) == mac, out
            stats = stats_of(iface)
            stats["nd"] = stats[f"ipv6:{iface.get_interface_name()}"]
            return stats

    stats = real_world.run(main())
    nd = stats["nd"]
    # we asked (multicast NS to the solicited-node group) and the kernel's NAs answered
    assert nd["nd_multicast_solicits"] >= 2 and nd["nd_resolved"] >= 2, nd
    assert nd["na_in"] >= 2 and nd["nd_failed"] == 0, nd
    assert stats["icmpv6"]["rx_echo_replies"] == 13
    assert stats["ipv6"]["tx_fragments"] == 3 * 3  # 4008 bytes: 3 fragments per request
    assert stats["ipv6"]["rx_reassembled"] == 3  # and the kernel's replies come back in 3


# -- 6. our capture decodes cleanly ----------------------------------------------------------------
def test_capture_of_our_ipv6_exchanges_decodes_cleanly(
    tap: TapDevice, real_world: World, tmp_path: Path, tshark: Tshark
) -> None:
    pcap = tmp_path / "ipv6.pcap"

    async def main() -> dict[str, str]:
        async with netstack_on(tap, real_world, pcap, ipv6=STATIC) as iface:
            link_local = await iface.wait_for_ipv6_address(global_address=False, timeout=5)
            kernel_ll = await kernel_link_local(tap)
            TcpEchoServer(iface).start()
            UdpEchoServer(iface).start()
            await kernel_ping6(tap, f"{text6(link_local)}%{tap.name}", "-c", "2")
            await kernel_ping6(tap, OUR_IP6, "-c", "2", "-s", "4000")
            scoped = SocketAddress(f"{kernel_ll}%{iface.netif.index}", 0)
            for target, size in ((scoped, 56), (SocketAddress(KERNEL_IP6, 0), 3000)):
                result = await ping(iface, target, count=2, interval=0.01, size=size)
                assert result.received == 2, result
            assert json.loads(await kernel_udp6(tap, "echo", OUR_IP6, "7", "[100, 5000]")) == [
                [100, 100, True],
                [5000, 5000, True],
            ]
            assert (await kernel_udp6(tap, "refused", OUR_IP6, "4444")).strip() == "refused"
            result = await kernel_echo_client(tap, OUR_IP6, 200_000)
            assert result["got_sha"] == result["sent_sha"]
            return {"mac": iface.mac_address.lower(), "link_local": text6(link_local)}

    got = real_world.run(main())
    mac, link_local = got["mac"], got["link_local"]
    ours = f"eth.src == {mac}"
    assert_clean_capture(pcap, tshark)
    # every checksum of ours tshark could check is good (1; 0 is bad, 2 unverified)
    opts = ("-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE")
    checked = tshark(pcap, ["icmpv6.checksum.status", "udp.checksum.status", "tcp.checksum.status"],
                     filter=f"{ours} && (icmpv6 || udp || tcp)", opts=opts)  # fmt: skip
    statuses = [s for row in checked for field in row for s in field.split(",") if s]
    assert len(statuses) > 50 and set(statuses) == {"1"}, checked

    solicited = "ff02::1:ff" + ipaddress.IPv6Address(link_local).exploded[-7:]
    solicited = str(ipaddress.IPv6Address(solicited))
    # DAD for the link-local address (RFC 4862 §5.4.2): from ::, to its solicited-node group,
    # with a nonce (RFC 7527) and no source link-layer address
    dad = tshark(pcap, ["ipv6.dst", "ipv6.hlim", "icmpv6.nd.ns.target_address",
                        "icmpv6.opt.nonce", "icmpv6.opt.linkaddr"],
                 filter=f"{ours} && icmpv6.type == 135 && ipv6.src == ::")  # fmt: skip
    assert len(dad) == 1, dad
    [[dst, hlim, target, nonce, slla]] = dad
    assert (dst, hlim, target, slla) == (solicited, "255", link_local, "")
    assert len(nonce) == 12, dad
    # a Router Solicitation to all-routers (from :: without SLLA, or from the link-local with)
    rs = tshark(
        pcap,
        ["ipv6.src", "ipv6.dst", "ipv6.hlim", "icmpv6.opt.linkaddr"],
        filter=f"{ours} && icmpv6.type == 133",
    )
    assert rs, "no Router Solicitation"
    assert all(row in (["::", "ff02::2", "255", ""], [link_local, "ff02::2", "255", mac])
               for row in rs), rs  # fmt: skip
    # MLDv2 reports (RFC 3810 §5.2) to ff02::16, hop limit 1, Router Alert, joining both
    # solicited-node groups (of fd77::2 and of the link-local address), never ff02::1
    reports = tshark(pcap, ["ipv6.dst", "ipv6.hlim", "ipv6.opt.router_alert",
                            "icmpv6.mldr.mar.record_type", "icmpv6.mldr.mar.multicast_address"],
                     filter=f"{ours} && icmpv6.type == 143")  # fmt: skip
    assert reports, "no MLDv2 report"
    assert all(row[:3] == ["ff02::16", "1", "0"] for row in reports), reports
    groups = {g for row in reports for g in row[4].split(",")}
    assert groups == {"ff02::1:ff00:2", solicited}, reports
    assert all(t in ("3", "4") for row in reports for t in row[3].split(",")), reports

    def count(filter: str) -> int:
        return len(tshark(pcap, ["frame.number"], filter=f"{ours} && {filter}"))

    assert count("icmpv6.type == 129") == 4  # the kernel's 2 + 2 (4000 bytes) pings
    assert count("icmpv6.type == 128") == 4  # ours: 2 to its link-local, 2 of 3000 bytes
    assert count("icmpv6.type == 1 && icmpv6.code == 4") == 1  # port unreachable
    assert count("icmpv6.type == 136 && icmpv6.nd.na.flag.s == 1") >= 2  # NAs to the kernel
    # in 1448-byte pieces: 2 echo replies of 4008 bytes and 2 requests of 3008 (3 fragments
    # each), the UDP echo of 5008 (4): so many fragments after the first
    assert count("ipv6.fraghdr.offset > 0") == 2 * 2 + 2 * 2 + 3
    assert count("tcp.flags.syn == 1 && tcp.flags.ack == 1") == 1
