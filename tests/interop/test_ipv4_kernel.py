"""The "ip" stack's IPv4, ICMP, UDP and ARP against the Linux kernel, through a TAP.

netstack runs on the test's event loop as 10.77.0.2 on a TAP whose kernel side is
10.77.0.1 (the ``tap`` fixture); kernel tools (ping, a Python socket client, tcpdump,
arping) run inside the test's namespace as asyncio subprocesses, so the stack keeps
answering while they run. The ``netstack`` command is exercised the same way, as a
process, and tshark is the referee for every capture.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from netstack.drivers.emac.api import EMAC
from netstack.drivers.emac.tap import TapEMAC
from netstack.drivers.wrappers import PcapTap
from netstack.interfaces.base import ConnectionStatus
from netstack.interfaces.ethernet import EthernetInterface
from netstack.runtime import World
from netstack.services.echo import UdpDiscardServer, UdpEchoServer
from netstack.services.ping import PingResult, ping
from netstack.sim.scenarios import RADIO_KEY
from netstack.socket.udp import UDPSocket

if TYPE_CHECKING:
    from conftest import TapDevice

pytestmark = pytest.mark.interop

OUR_IP = "10.77.0.2"
Tshark = Callable[..., list[list[str]]]

#: A kernel-side UDP client/server, run inside the namespace with ``python -c``. Modes:
#:   echo PORT SIZES_JSON  send one datagram of each size (random bytes) to 10.77.0.2:PORT,
#:                         wait for each echo; print [[size, echoed length, byte-exact]]
#:                         (length -1: no echo within 2 s; -2: not sent, 3 were lost)
#:   silent PORT COUNT     send COUNT datagrams to 10.77.0.2:PORT; print what came back
#:   refused PORT          connected socket: send, then recv; print the outcome
#:   sink PORT             bind 10.77.0.1:PORT, print "ready", receive one datagram, print
#:                         its length, SHA-256 and source, then send it back to the source
KERNEL_UDP = r"""
import hashlib, json, os, socket, sys
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.settimeout(2.0)
if mode == "echo":
    s.connect(("10.77.0.2", port))
    out = []
    lost = 0
    for n in json.loads(sys.argv[3]):
        if lost >= 3:  # give up early rather than wait for every echo
            out.append([n, -2, False])
            continue
        payload = os.urandom(n)
        s.send(payload)
        try:
            data = s.recv(65535)
        except TimeoutError:
            lost += 1
            out.append([n, -1, False])
            continue
        out.append([n, len(data), data == payload])
    print(json.dumps(out))
elif mode == "silent":
    s.settimeout(0.5)
    s.connect(("10.77.0.2", port))
    for i in range(int(sys.argv[3])):
        s.send(b"discard me %d" % i)
    got = []
    try:
        while True:
            got.append(s.recv(65535).decode(errors="replace"))
    except TimeoutError:
        pass
    print(json.dumps(got))
elif mode == "refused":
    s.connect(("10.77.0.2", port))
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
    s.bind(("10.77.0.1", port))
    print("ready", flush=True)
    data, peer = s.recvfrom(65535)
    info = {"len": len(data), "sha256": hashlib.sha256(data).hexdigest(), "peer": list(peer)}
    print(json.dumps(info), flush=True)
    s.sendto(data, peer)
"""

#: arping with a raw packet socket (the kernel's ARP is not involved): ask for ``argv[2]``
#: on interface ``argv[1]`` as 10.77.0.1; print the sender MAC of the reply, or "none".
RAW_ARPING = r"""
import socket, struct, sys, time
ifname, target = sys.argv[1], socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((ifname, 0))
mac = s.getsockname()[4]
request = (b"\xff" * 6 + mac + b"\x08\x06"
           + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac,
                         socket.inet_aton("10.77.0.1"), b"\0" * 6, target))
s.send(request)
s.settimeout(0.1)
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    try:
        frame = s.recv(2048)
    except TimeoutError:
        continue
    op, sha, spa = struct.unpack_from("!6x H 6s 4s", frame, 14)
    if op == 2 and spa == target and frame[0:6] == mac:
        print(sha.hex(":"))
        break
else:
    print("none")
"""

#: tshark's verdict on a capture: anything malformed, any expert warning or worse, any bad
#: IPv4/UDP/ICMP checksum. (tshark 4.0 always verifies ICMP checksums; it has no
#: ``icmp.check_checksum`` preference.)
BAD_PACKETS = (
    '_ws.malformed || (_ws.expert.severity >= "Warning" && !tcp.analysis)'
    " || ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0"
    " || tcp.checksum.status == 0"
)
#: tshark's TCP sequence analysis (``tcp.analysis``: "previous segment not captured",
#: "out-of-order") reports what a lossy link did, not a fault in a packet: excluded above.
CHECKSUM_OPTS = (
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
)


# -- helpers -------------------------------------------------------------------------------
async def run_in_netns(tap: TapDevice, cmd: Sequence[str], timeout: float = 8.0) -> tuple[int, str]:
    """Run ``cmd`` in the TAP's namespace without blocking the loop; kill it on timeout."""
    proc = await asyncio.create_subprocess_exec(
        *tap.argv(cmd), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def kernel_udp(tap: TapDevice, *args: str, timeout: float = 8.0) -> str:
    """Run the :data:`KERNEL_UDP` client in the namespace; its stdout (it must exit 0)."""
    rc, out = await run_in_netns(tap, [sys.executable, "-c", KERNEL_UDP, *args], timeout)
    assert rc == 0, out
    return out


async def kernel_ping(tap: TapDevice, *options: str, timeout: float = 8.0) -> str:
    """The kernel's ``ping`` from 10.77.0.1 to us; its output (it must exit 0). With a
    deadline (``-w``) iputils waits for every reply; without one it gives up on the last
    after two round-trip times, which a brief pause of this process exceeds."""
    rc, out = await run_in_netns(
        tap, ["ping", "-n", "-W", "1", "-w", "6", *options, OUR_IP], timeout
    )
    assert rc == 0, out
    return out


def ping_counts(out: str) -> tuple[int, int]:
    """(transmitted, received) from iputils ping's summary line."""
    match = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert match, out
    return int(match[1]), int(match[2])


async def until(condition: Callable[[], bool], timeout: float = 3.0, step: float = 0.01) -> bool:
    """Let the loop run until ``condition()`` holds (polling), or ``timeout`` passes."""
    for _ in range(int(timeout / step)):
        if condition():
            return True
        await asyncio.sleep(step)
    return condition()


async def kernel_side_running(tap: TapDevice, timeout: float = 5.0) -> None:
    """Wait until the kernel has processed the TAP's carrier (operstate UP).

    Carrier-on reaches the kernel's transmit path through its link-watch work, which can
    lag — for up to about a second while a previous test's namespace is being torn down.
    Until then the kernel drops what it sends on the TAP (its ARP replies, for one)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    path = f"/sys/class/net/{tap.name}/operstate"
    while True:
        _, state = await run_in_netns(tap, ["cat", path])
        if state.strip() == "up":
            return
        assert loop.time() < deadline, f"{tap.name} operstate still {state.strip()!r}"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def netstack_on(
    tap: TapDevice,
    world: World,
    pcap: Path | None = None,
    *,
    offload: bool = False,
    ipv6: str | None = None,
) -> AsyncIterator[EthernetInterface]:
    """netstack as 10.77.0.2/24 on the TAP (captured to ``pcap`` on our side if given;
    with the TAP's checksum/TSO offloads if ``offload``), connected; disconnected and
    detached afterwards. ``ipv6`` also turns IPv6 on: ``"slaac"`` or
    ``"static:fd77::2/64"`` (:meth:`EthernetInterface.set_ipv6`'s mode and address)."""
    tap_emac = TapEMAC(tap.name, world, netns=tap.netns, offload=offload)
    emac: EMAC = tap_emac if pcap is None else PcapTap(tap_emac, pcap, world)
    try:
        iface = EthernetInterface(emac, world=world)
        iface.set_network(OUR_IP, "255.255.255.0")
        if ipv6 is not None:
            mode, _, address = ipv6.partition(":")
            iface.set_ipv6(mode, address or None)
        await iface.connect()
        await kernel_side_running(tap)
        try:
            yield iface
        finally:
            if iface.status != ConnectionStatus.DISCONNECTED:
                await iface.disconnect()
    finally:
        if isinstance(emac, PcapTap):
            emac.close()
        tap_emac.close()


def stats_of(iface: EthernetInterface) -> dict[str, dict[str, int]]:
    """The stack's counters, with this interface's link counters also under ``"link"``."""
    stats = iface.stack.stats()
    stats["link"] = stats[f"link:{iface.get_interface_name()}"]
    return stats


def netstack_command() -> list[str]:
    """The ``netstack`` console script of this environment, else ``python -m netstack.cli``."""
    script = Path(sys.executable).with_name("netstack")
    return [str(script)] if script.exists() else [sys.executable, "-m", "netstack.cli"]


def assert_clean_capture(pcap: Path, tshark: Tshark) -> None:
    bad = tshark(pcap, ["frame.number", "_ws.col.Info"], filter=BAD_PACKETS, opts=CHECKSUM_OPTS)
    assert bad == [], f"{pcap}: tshark flags {bad}"


def count(pcap: Path, tshark: Tshark, filter: str) -> int:
    return len(tshark(pcap, ["frame.number"], filter=filter))


# -- 1. the kernel pings netstack ------------------------------------------------------------
def test_kernel_pings_us_200_times_without_loss(tap: TapDevice, real_world: World) -> None:
    async def main() -> tuple[str, dict[str, dict[str, int]]]:
        async with netstack_on(tap, real_world) as iface:
            out = await kernel_ping(tap, "-c", "200", "-i", "0.005", "-q")
            return out, stats_of(iface)

    out, stats = real_world.run(main())
    assert ping_counts(out) == (200, 200), out
    assert " 0% packet loss" in out
    assert stats["icmp"]["rx_echo_requests"] == 200
    assert stats["icmp"]["tx_echo_replies"] == 200
    assert stats["ipv4"]["rx_bad_checksum"] == stats["icmp"]["rx_bad_checksum"] == 0


def test_kernel_fragmented_pings_are_reassembled_and_answered_in_fragments(
    tap: TapDevice, real_world: World
) -> None:
    async def main() -> tuple[str, dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        async with netstack_on(tap, real_world) as iface:
            await kernel_ping(tap, "-c", "1")  # ARP settled before counting
            before = stats_of(iface)
            out = await kernel_ping(tap, "-c", "50", "-i", "0.01", "-s", "8000", "-q")
            return out, before, stats_of(iface)

    out, before, after = real_world.run(main())
    assert ping_counts(out) == (50, 50), out

    def rose(layer: str, name: str) -> int:
        return after[layer][name] - before[layer][name]

    # 8008 bytes of ICMP in 1480-byte pieces: 6 fragments each way per echo.
    assert rose("ipv4", "rx_fragments") == 50 * 6
    assert rose("ipv4", "rx_reassembled") == rose("reassembly", "reassembled") == 50
    assert rose("ipv4", "tx_fragments") == 50 * 6
    assert after["reassembly"]["in_flight"] == after["reassembly"]["buffered_bytes"] == 0
    assert after["reassembly"]["overlaps"] == after["reassembly"]["invalid"] == 0


def test_kernel_ping_of_exactly_one_mtu_is_not_fragmented(
    tap: TapDevice, real_world: World
) -> None:
    async def main() -> tuple[str, dict[str, dict[str, int]]]:
        async with netstack_on(tap, real_world) as iface:
            # -M do: the kernel sets DF, so 1472 + 28 must fit the 1500-byte MTU as one packet.
            out = await kernel_ping(tap, "-c", "5", "-i", "0.01", "-s", "1472", "-M", "do", "-q")
            return out, stats_of(iface)

    out, stats = real_world.run(main())
    assert ping_counts(out) == (5, 5), out
    assert stats["ipv4"]["rx_fragments"] == stats["ipv4"]["tx_fragments"] == 0
    assert stats["icmp"]["tx_echo_replies"] == 5


def test_kernel_ping_pattern_and_tos_come_back_unchanged(
    tap: TapDevice, real_world: World, tmp_path: Path, tshark: Tshark
) -> None:
    pcap = tmp_path / "pattern.pcap"

    async def main() -> str:
        async with netstack_on(tap, real_world, pcap) as _iface:
            return await kernel_ping(tap, "-c", "5", "-i", "0.01", "-p", "ff", "-Q", "0x10")

    out = real_world.run(main())
    assert ping_counts(out) == (5, 5), out
    assert "wrong data" not in out and "DUP" not in out, out  # ping checks the pattern
    replies = tshark(
        pcap, ["ip.dsfield", "data.data"], filter=f"icmp.type == 0 && ip.src == {OUR_IP}"
    )
    assert len(replies) == 5
    for dsfield, data in replies:
        assert int(dsfield, 16) == 0x10  # the request's TOS, reflected (RFC 1122 §3.2.2.6)
        assert data.endswith("ff" * 40), data  # 56 bytes: a 16-byte timestamp, then 0xff
    assert_clean_capture(pcap, tshark)


# -- 2. a kernel UDP client ----------------------------------------------------------------
ECHO_SIZES = [0, 1, 7, 8, 100, 512, 1000, 1471, 1472, 1473, 1480, 2952, 2953, 4000, 8972]


def test_kernel_udp_datagrams_are_echoed_byte_exact(tap: TapDevice, real_world: World) -> None:
    sizes = [*(ECHO_SIZES * 7)[:98], 65507, 0]  # 100 datagrams, up to the largest there is

    async def main() -> tuple[str, int, dict[str, dict[str, int]]]:
        async with netstack_on(tap, real_world) as iface:
            echo = UdpEchoServer(iface)
            echo.start()
            out = await kernel_udp(tap, "echo", "7", json.dumps(sizes))
            echo.stop()
            return out, echo.stats.replies, stats_of(iface)

    out, replies, stats = real_world.run(main())
    results = json.loads(out)
    assert [r[0] for r in results] == sizes
    wrong = [r for r in results if r[1] != r[0] or not r[2]]
    assert wrong == [], f"echoed wrongly (size, echoed length, intact): {wrong}"
    assert replies == 100
    assert stats["udp"]["rx_bad_checksum"] == 0
    big = sum(1 for n in sizes if n + 8 > 1480)
    assert stats["ipv4"]["rx_reassembled"] == big  # the kernel fragments what we reassemble
    assert stats["ipv4"]["tx_fragments"] > big  # and the echoes leave in fragments


def test_socat_udp_client_gets_every_datagram_echoed(tap: TapDevice, real_world: World) -> None:
    """socat, the kernel-socket client the issue names: one process per datagram."""
    lines = [f"datagram {i} " + "x" * (i * 157 % 1400) for i in range(10)]

    async def main() -> tuple[list[str], int]:
        async with netstack_on(tap, real_world) as iface:
            echo = UdpEchoServer(iface)
            echo.start()
            got = []
            for line in lines:
                proc = await asyncio.create_subprocess_exec(
                    *tap.argv(["socat", "-t", "0.3", "-T", "2", "-", f"UDP4:{OUR_IP}:7"]),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(line.encode())
                await proc.stdin.drain()
                # read the echo before closing stdin: socat ends -t 0.3 s after its input
                out = await asyncio.wait_for(proc.stdout.readexactly(len(line)), 10)
                proc.stdin.close()
                await asyncio.wait_for(proc.wait(), 10)
                got.append(out.decode())
            echo.stop()
            return got, echo.stats.replies

    got, replies = real_world.run(main())
    assert got == lines
    assert replies == len(lines)


def test_kernel_udp_to_discard_gets_nothing_back(tap: TapDevice, real_world: World) -> None:
    async def main() -> tuple[str, int, int]:
        async with netstack_on(tap, real_world) as iface:
            discard = UdpDiscardServer(iface)
            discard.start()
            out = await kernel_udp(tap, "silent", "9", "20")
            discard.stop()
            return out, discard.stats.datagrams, stats_of(iface)["icmp"]["tx_errors"]

    out, discarded, icmp_errors = real_world.run(main())
    assert json.loads(out) == []
    assert discarded == 20
    assert icmp_errors == 0


def test_kernel_udp_to_a_closed_port_is_refused(tap: TapDevice, real_world: World) -> None:
    async def main() -> tuple[str, dict[str, dict[str, int]]]:
        async with netstack_on(tap, real_world) as iface:
            out = await kernel_udp(tap, "refused", "4444")
            return out, stats_of(iface)

    out, stats = real_world.run(main())
    assert out.strip() == "refused"  # the kernel got our ICMP port unreachable
    assert stats["udp"]["rx_no_port"] == 1
    assert stats["icmp"]["tx_errors"] == 1


# -- 3. netstack talks to the kernel -------------------------------------------------------
def test_we_ping_the_kernel(tap: TapDevice, real_world: World) -> None:
    async def main() -> tuple[PingResult, dict[str, dict[str, int]]]:
        async with netstack_on(tap, real_world) as iface:
            result = await ping(iface, tap.host_ip, count=20, interval=0.01, timeout=1.0)
            return result, stats_of(iface)

    result, stats = real_world.run(main())
    assert (result.sent, result.received, result.errors) == (20, 20, 0), (result, stats)
    assert len(result.rtts) == 20
    assert all(0 < rtt < 2.0 for rtt in result.rtts), result  # sanity, not a timing test


def test_kernel_reassembles_our_20000_byte_datagram_and_we_reassemble_its_echo(
    tap: TapDevice, real_world: World
) -> None:
    payload = bytes((i * 31 + i // 256) & 0xFF for i in range(20000))

    async def main() -> tuple[dict[str, object], bytes, dict[str, dict[str, int]]]:
        sink = await asyncio.create_subprocess_exec(
            *tap.argv([sys.executable, "-c", KERNEL_UDP, "sink", "5555"]),
            stdout=asyncio.subprocess.PIPE,
        )
        assert sink.stdout is not None
        try:
            async with netstack_on(tap, real_world) as iface:
                ready = await asyncio.wait_for(sink.stdout.readline(), 5.0)
                assert ready == b"ready\n"
                with UDPSocket(iface) as sock:
                    sock.bind(40000)
                    sock.set_timeout(5.0)
                    # Sent before the kernel's MAC is known: 14 fragments wait for ARP.
                    await sock.sendto((tap.host_ip, 5555), payload)
                    info = json.loads(await asyncio.wait_for(sink.stdout.readline(), 5.0))
                    echoed, peer = await sock.recvfrom()
                    assert (peer.ip, peer.port) == (tap.host_ip, 5555)
                return info, echoed, stats_of(iface)
        finally:
            if sink.returncode is None:
                sink.kill()
            await sink.wait()

    info, echoed, stats = real_world.run(main())
    assert info == {
        "len": 20000,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "peer": [OUR_IP, 40000],
    }
    assert echoed == payload
    assert stats["ipv4"]["tx_fragments"] == 14  # 20008 bytes of UDP in 1480-byte pieces
    assert stats["ipv4"]["rx_reassembled"] == 1
    assert stats["link"]["arp_requests_sent"] >= 1  # the fragments waited for ARP ...
    assert stats["link"]["arp_queue_drops"] == 0  # ... all of them


# -- 4. ARP ----------------------------------------------------------------------------------
def test_kernel_neighbour_table_holds_our_mac(tap: TapDevice, real_world: World) -> None:
    async def main() -> tuple[str, list[dict[str, Any]]]:
        async with netstack_on(tap, real_world) as iface:
            await kernel_ping(tap, "-c", "1")
            rc, out = await run_in_netns(
                tap, ["ip", "-j", "neigh", "show", OUR_IP, "dev", tap.name]
            )
            assert rc == 0, out
            return iface.mac_address, json.loads(out)

    mac, neighbours = real_world.run(main())
    [entry] = neighbours
    assert entry["lladdr"] == mac.lower()
    assert set(entry["state"]) & {"REACHABLE", "STALE", "DELAY", "PROBE"}, entry


async def raw_arping(tap: TapDevice, target: str) -> str:
    rc, out = await run_in_netns(tap, [sys.executable, "-c", RAW_ARPING, tap.name, target])
    assert rc == 0, out
    return out.strip()


def test_we_answer_arp_for_our_address_only(tap: TapDevice, real_world: World) -> None:
    async def main() -> tuple[str, str, str]:
        async with netstack_on(tap, real_world) as iface:
            return (
                iface.mac_address,
                await raw_arping(tap, OUR_IP),
                await raw_arping(tap, "10.77.0.3"),
            )

    mac, ours, other = real_world.run(main())
    assert ours == mac.lower()
    assert other == "none"


def test_arping_gets_our_replies(tap: TapDevice, real_world: World) -> None:
    arping = shutil.which("arping")
    assert arping is not None, "arping is missing: `make test` installs iputils-arping"

    async def main() -> tuple[int, str, str]:
        async with netstack_on(tap, real_world) as iface:
            rc, out = await run_in_netns(
                tap, [arping, "-c", "3", "-w", "3", "-I", tap.name, OUR_IP]
            )
            return rc, out, iface.mac_address

    rc, out, mac = real_world.run(main())
    assert rc == 0, out
    assert mac.lower() in out.lower(), out


def test_connect_announces_our_address_with_gratuitous_arp(
    tap: TapDevice, real_world: World, tmp_path: Path, tshark: Tshark
) -> None:
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.fail("tcpdump is not installed (make system-deps installs it)")
    pcap = tmp_path / "arp.pcap"

    async def main() -> str:
        capture = await asyncio.create_subprocess_exec(
            *tap.argv(
                [tcpdump, "-i", tap.name, "--immediate-mode", "-U", "-n", "-w", str(pcap), "arp"]
            ),
            stderr=asyncio.subprocess.PIPE,
        )
        assert capture.stderr is not None
        try:
            line = await asyncio.wait_for(capture.stderr.readline(), 5.0)
            assert b"listening on" in line, line
            async with netstack_on(tap, real_world) as iface:
                assert await until(lambda: stats_of(iface)["link"]["arp_tx"] >= 1)
                # tcpdump wrote it: the file holds more than its 24-byte header.
                assert await until(lambda: pcap.exists() and pcap.stat().st_size > 24)
                mac = iface.mac_address
        finally:
            if capture.returncode is None:
                capture.terminate()
            await capture.wait()
        return mac

    mac = real_world.run(main())
    rows = tshark(
        pcap,
        ["eth.dst", "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.proto_ipv4"],
        filter="arp.isannouncement == 1",
    )
    assert ["ff:ff:ff:ff:ff:ff", "1", mac.lower(), OUR_IP, OUR_IP] in rows, rows


# -- 5. the demo's captures ------------------------------------------------------------------
def test_demo_captures_decode_cleanly_in_tshark(tmp_path: Path, tshark: Tshark) -> None:
    out_dir = tmp_path / "demo"
    result = subprocess.run(
        [*netstack_command(), "demo", "--out", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    captures = sorted(out_dir.glob("*.pcap"))
    names = ["lab.pcap", "modem.pcap", "radio.pcap", "sw1.pcap", "sw2.pcap", "sw3.pcap"]
    assert [p.name for p in captures] == names
    assert "Captures" in result.stdout
    for pcap in captures:
        assert str(pcap) in result.stdout
    # the dial-up line (PPP, link type 204) and the radio medium (802.15.4, secured with
    # the demo's key) decode cleanly too
    assert_clean_capture(out_dir / "modem.pcap", tshark)
    radio_opts = ("-o", f'uat:ieee802154_keys:"{RADIO_KEY.hex()}","1","No hash"')
    bad = tshark(out_dir / "radio.pcap", ["frame.number"], filter=BAD_PACKETS, opts=radio_opts)
    assert bad == []
    protocols = {r[0] for r in tshark(out_dir / "modem.pcap", ["frame.protocols"])}
    assert {"ppp:lcp", "ppp:chap", "ppp:ipcp"} <= protocols
    pings = tshark(out_dir / "radio.pcap", ["icmpv6.type"], filter="icmpv6.type == 129",
                   opts=radio_opts)  # fmt: skip
    assert len(pings) == 3  # the meters' echo replies, decrypted and decompressed
    pcaps = [p for p in captures if p.name not in ("modem.pcap", "radio.pcap")]

    totals = dict.fromkeys(["arp", "echo request", "echo reply", "to 7", "from 7", "fragments"], 0)
    for pcap in pcaps:
        assert_clean_capture(pcap, tshark)
        rows = tshark(
            pcap,
            [
                "arp.opcode",
                "icmp.type",
                "udp.dstport",
                "udp.srcport",
                "ip.flags.mf",
                "ip.frag_offset",
            ],
        )
        assert rows, pcap
        arp, icmp, dport, sport, more, offset = (
            [row[i].split(",") for row in rows] for i in range(6)
        )
        assert sum(a != [""] for a in arp) > 0, pcap  # every segment resolves addresses
        totals["arp"] += sum(a != [""] for a in arp)
        totals["echo request"] += sum("8" in t for t in icmp)
        totals["echo reply"] += sum("0" in t for t in icmp)
        totals["to 7"] += sum("7" in p for p in dport)
        totals["from 7"] += sum("7" in p for p in sport)
        totals["fragments"] += sum(
            "1" in m or any(o not in ("", "0") for o in f)
            for m, f in zip(more, offset, strict=True)
        )
    assert all(totals.values()), totals
    # The 8000-byte echo crosses the lab link in fragments that tshark reassembles.
    lengths = tshark(
        out_dir / "lab.pcap", ["udp.srcport", "udp.dstport"], filter="udp.length == 8008"
    )
    assert sum(r[1] == "7" for r in lengths) >= 5  # requests, one per LAN node
    assert sum(r[0] == "7" for r in lengths) >= 5  # and their echoes


# -- 6. the netstack command ------------------------------------------------------------------
@pytest.mark.parametrize("args", [[], ["up"], ["demo"]], ids=["netstack", "up", "demo"])
def test_help_exits_zero(args: list[str]) -> None:
    result = subprocess.run(
        [*netstack_command(), *args, "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: netstack {' '.join(args)}".rstrip())


def test_up_with_a_missing_netns_fails_with_a_clear_message(tap: TapDevice) -> None:
    missing = f"{tap.netns}_missing"
    result = subprocess.run(
        [*netstack_command(), "up", "--tap", tap.name, "--netns", missing, "--ip", "10.77.0.2/24"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("netstack up:"), result.stderr
    assert missing in result.stderr and tap.name in result.stderr


def test_up_serves_ping_and_udp_echo_then_exits_by_itself(
    tap: TapDevice, tmp_path: Path, tshark: Tshark
) -> None:
    pcap = tmp_path / "up.pcap"
    cmd = [
        *netstack_command(),
        "up",
        "--tap",
        tap.name,
        "--netns",
        tap.netns,
        "--ip",
        "10.77.0.2/24",
        "--serve",
        "echo,discard",
        "--stats-interval",
        "0.5",
        "--duration",
        "6",
        "--pcap",
        str(pcap),
    ]

    async def main() -> tuple[int, str, str, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stderr is not None
        try:
            first = (await asyncio.wait_for(proc.stdout.readline(), 10.0)).decode()
            assert first.startswith(f"netstack up on {tap.name}: 10.77.0.2/24"), first
            await kernel_side_running(tap)
            pinged = await kernel_ping(tap, "-c", "5", "-i", "0.05")
            echoed = await kernel_udp(tap, "echo", "7", "[300]")
            out, err = await asyncio.wait_for(proc.communicate(), 10.0)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode is not None
        return proc.returncode, first + out.decode(), err.decode(), pinged, echoed

    loop = asyncio.new_event_loop()
    try:
        rc, out, err, pinged, echoed = loop.run_until_complete(main())
    finally:
        loop.close()
    assert rc == 0, out + err
    assert "Traceback" not in err, err
    assert ping_counts(pinged) == (5, 5), pinged
    assert json.loads(echoed) == [[300, 300, True]]
    assert "status GLOBAL_UP" in out and "services echo,discard" in out
    counters = [line for line in out.splitlines() if line.startswith("rx ")]
    assert len(counters) >= 2, out  # one every 0.5 s, and the last one at exit
    last = counters[-1]
    assert re.search(r"\| icmp echo 5\+0 \|", last), last
    assert re.search(r"\| udp 1 \|", last), last
    assert "echo=1 discard=0" in last, last

    assert_clean_capture(pcap, tshark)
    replies = tshark(pcap, ["icmp.seq"], filter=f"icmp.type == 0 && ip.src == {OUR_IP}")
    assert [r[0] for r in replies] == ["1", "2", "3", "4", "5"]
    assert count(pcap, tshark, f"udp.srcport == 7 && ip.src == {OUR_IP}") == 1
