"""PPP against a peer nobody here wrote: Debian's slirp in PPP mode, on a pty.

slirp runs inside a network namespace that holds only ``lo`` (see ../shared/PEERS.md §4):
whatever the PPP client sends, slirp can reach nothing but that namespace's 127.0.0.1. It
is 10.0.2.2 on the link, hands out 10.0.2.15 and forwards TCP/UDP to 10.0.2.2 onto the
namespace's loopback. ``slirp-fullbolt`` is the binary that works here, and slirp takes its
own address from the host name, hence the UTS namespace named 10.0.2.2.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_tcp_kernel import KERNEL_ECHO_SERVER

from conftest import run
from netstack.drivers.serial import SerialCapture, TtyPort
from netstack.interfaces.base import ConnectionStatus
from netstack.interfaces.ppp import PPPInterface
from netstack.runtime.world import World
from netstack.services.ping import ping
from netstack.socket import TCPSocket, UDPSocket
from netstack.wire.ppp import LcpOption

SLIRP = shutil.which("slirp-fullbolt")

#: slirp's options: DNS and "host" are the namespace's loopback, no shell, exit on hang-up
SLIRP_OPTIONS = ["dns 127.0.0.1", "host addr 127.0.0.1", "shell /bin/false", "nozeros",
                 "ppp_exit", "mtu 1500", "mru 1500"]  # fmt: skip
UDP_ECHO = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 7778))
print("listening", flush=True)
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(data, peer)
"""


def slirp_argv(netns: str, *options: str) -> list[str]:
    """slirp in ``netns``, in its own UTS namespace named 10.0.2.2."""
    if SLIRP is None:
        pytest.fail("slirp is not installed (make system-deps installs it)")
    return ["ip", "netns", "exec", netns, "unshare", "--uts", "sh", "-c",
            'hostname 10.0.2.2 && exec "$0" "$@"', SLIRP, "ppp",
            *SLIRP_OPTIONS, *options]  # fmt: skip


@pytest.fixture
def slirp_home(tmp_path: Path) -> Path:
    """A scratch HOME: slirp reads ~/.slirprc and its secrets files from there."""
    home = tmp_path / "home"
    home.mkdir()
    return home


async def start_in_netns(netns: str, script: str, *args: str) -> asyncio.subprocess.Process:
    """A Python server in ``netns`` that prints "listening" once it is."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", netns, sys.executable, "-c", script, *args,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 10)
    assert line.startswith(b"listening"), line
    return proc


@dataclass
class SlirpLink:
    iface: PPPInterface
    slirp: subprocess.Popen[bytes]
    pcap: Path
    port: TtyPort
    capture: SerialCapture


@pytest.fixture
def slirp_link(
    netns: str, slirp_home: Path, real_world: World, tmp_path: Path
) -> Iterator[SlirpLink]:
    """netstack's PPP client on a pty whose other side is slirp (started with
    ``tty /dev/pts/N``); the capture of the PPP frames goes to ``ppp.pcap``."""
    port = TtyPort.open_pty(real_world)
    pcap = tmp_path / "ppp.pcap"
    capture = SerialCapture(port, real_world, pcap)
    slirp = subprocess.Popen(
        slirp_argv(netns, f"tty {port.slave_path}"),
        env={**os.environ, "HOME": str(slirp_home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    iface = PPPInterface(capture, world=real_world)
    iface.connect_timeout = 10
    try:
        yield SlirpLink(iface, slirp, pcap, port, capture)
    finally:
        if iface.status != ConnectionStatus.DISCONNECTED:
            real_world.run(iface.disconnect())
        capture.close()
        if slirp.poll() is None:
            slirp.kill()
        slirp.wait(timeout=5)
        assert slirp.stderr is not None
        slirp.stderr.close()


def test_slirp_negotiates_and_carries_tcp_byte_exact(
    slirp_link: SlirpLink, netns: str, real_world: World
) -> None:
    iface, slirp, pcap = slirp_link.iface, slirp_link.slirp, slirp_link.pcap
    data = hashlib.shake_128(b"through slirp").digest(2_000_000)

    async def main() -> tuple[bytes, str]:
        server = await start_in_netns(netns, KERNEL_ECHO_SERVER, "127.0.0.1", "7777")
        await iface.connect()
        # slirp has opened the pty: from now on its exit hangs the line up
        slirp_link.port.release_slave()
        assert iface.status == ConnectionStatus.GLOBAL_UP
        assert iface.ip_address == "10.0.2.15"
        assert iface.gateway == "10.0.2.2"
        assert [d.ip for d in iface.get_dns_servers()] == ["127.0.0.1"]
        lcp = iface.ppp.lcp
        assert lcp.peer.mru == 1500 and lcp.peer.magic != 0
        assert lcp.local.accm == 0  # slirp acked our ACCM: control characters go raw
        assert (await ping(iface, "10.0.2.2", count=3, interval=0.05)).received == 3
        # TCP to 10.0.2.2 reaches the namespace's loopback through slirp
        sock = TCPSocket(iface)
        sock.set_timeout(30)
        await sock.connect(("10.0.2.2", 7777))

        async def reader() -> bytes:
            got = bytearray()
            while chunk := await sock.recv(65536):
                got += chunk
            return bytes(got)

        task = asyncio.ensure_future(reader())
        await sock.send(data)
        sock.shutdown()
        echoed = await task
        sock.close()
        assert server.stdout is not None
        tail = (await server.stdout.read()).decode()
        await server.wait()
        # UDP too
        udp_server = await start_in_netns(netns, UDP_ECHO)
        udp = UDPSocket(iface)
        udp.set_timeout(5)
        await udp.sendto(("10.0.2.2", 7778), b"ppp datagram")
        assert (await udp.recvfrom())[0] == b"ppp datagram"
        udp.close()
        udp_server.kill()
        await udp_server.wait()
        await iface.disconnect()
        return echoed, tail

    echoed, tail = real_world.run(main())
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
    assert f"echoed {len(data)} 127.0.0.1" in tail  # slirp's own connection on loopback
    assert slirp.wait(timeout=5) == 0  # ppp_exit: our Terminate-Request ended it
    stats = iface.link.stats()
    assert stats["rx_bad_fcs"] == 0 and stats["rx_malformed"] == 0
    assert stats["rx_unknown_protocol"] >= 1  # slirp's CCP request, Protocol-Rejected

    # the capture decodes in tshark, every frame of it, with no warnings
    slirp_link.capture.writer.flush()
    fields = run(
        ["tshark", "-r", str(pcap), "-T", "fields", "-e", "frame.protocols",
         "-e", "lcp.opt.type", "-e", "ipcp.opt.ip_address"]
    ).stdout.splitlines()  # fmt: skip
    protocols = [line.split("\t")[0] for line in fields]
    assert any(p.endswith("ppp:lcp") for p in protocols)
    assert any(p.endswith("ppp:ipcp") for p in protocols)
    assert sum(":tcp" in p for p in protocols) > 1000
    lcp_options = {o for line in fields for o in line.split("\t")[1].split(",") if o}
    assert {str(int(LcpOption.MAGIC_NUMBER)), str(int(LcpOption.ACCM))} <= lcp_options
    assert any("10.0.2.15" in line for line in fields)
    # (TCP's own analysis warns of the full windows slirp advertises; the payload is
    # random, which heuristic dissectors such as Thrift's may take for theirs)
    verbose = run(
        ["tshark", "-r", str(pcap), "-V", "-o", "tcp.analyze_sequence_numbers:FALSE",
         "--disable-protocol", "thrift"]
    ).stdout  # fmt: skip
    problems = [line for line in verbose.splitlines()
                if "Malformed" in line or "Expert Info (Warning" in line
                or "Expert Info (Error" in line]  # fmt: skip
    assert not problems, problems[:5]


def test_slirp_exiting_hangs_the_line_up(slirp_link: SlirpLink, real_world: World) -> None:
    iface, slirp = slirp_link.iface, slirp_link.slirp

    async def main() -> None:
        await iface.connect()
        slirp_link.port.release_slave()
        slirp.terminate()  # our own child, by its pid
        await iface.wait_for_status({ConnectionStatus.DISCONNECTED}, timeout=10)

    real_world.run(main())
    assert "hung up" in str(iface.last_error)


def test_cli_dials_slirp_through_a_socat_pty_and_pings(
    netns: str, slirp_home: Path, tmp_path: Path
) -> None:
    """``netstack ppp --device`` on the pty socat makes, slirp on socat's other side."""
    script = tmp_path / "slirp_ppp.sh"
    script.write_text("#!/bin/sh\nexec " + " ".join(f"'{a}'" for a in slirp_argv(netns)[4:]) + "\n")
    script.chmod(0o755)
    tty = tmp_path / "ttyA"
    socat = subprocess.Popen(
        ["ip", "netns", "exec", netns, "unshare", "--uts", "sh", "-c",
         f'hostname 10.0.2.2 && exec socat PTY,link={tty},raw,echo=0 '
         f'EXEC:"{script}",pty,raw,echo=0'],
        env={**os.environ, "HOME": str(slirp_home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(500):
            if tty.exists():
                break
            assert socat.poll() is None, "socat exited"
            subprocess.run(["sleep", "0.01"], check=True)
        pcap = tmp_path / "cli.pcap"
        result = subprocess.run(
            [sys.executable, "-m", "netstack.cli", "ppp", "--device", str(tty),
             "--ping", "10.0.2.2", "--count", "3", "--interval", "0.1", "--pcap", str(pcap)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        socat.terminate()
        socat.wait(timeout=5)
    assert result.returncode == 0, result.stderr
    assert "ppp up on" in result.stdout
    assert "local 10.0.2.15 peer 10.0.2.2 dns 127.0.0.1 mtu 1500" in result.stdout
    assert "3 packets transmitted, 3 received" in result.stdout
    protocols = run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "frame.protocols"])
    assert "ppp:ip:icmp" in protocols.stdout


def test_cli_reports_a_missing_device() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "netstack.cli", "ppp", "--device", "/dev/no-such-tty"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "/dev/no-such-tty" in result.stderr and "does not exist" in result.stderr
