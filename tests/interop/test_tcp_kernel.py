"""TCP against the Linux kernel: netstack on a TAP in a namespace, kernel peers inside it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

import pytest
from test_ipv4_kernel import (
    OUR_IP,
    Tshark,
    assert_clean_capture,
    count,
    kernel_side_running,
    netstack_command,
    netstack_on,
    run_in_netns,
    stats_of,
    until,
)

from conftest import TapDevice, listening
from netstack.errors import ConnectionRefused
from netstack.runtime import World
from netstack.services import TcpEchoServer
from netstack.socket import TCPSocket

pytestmark = pytest.mark.interop

KERNEL_IP = "10.77.0.1"

#: A kernel TCP client: connect, send argv[3] bytes of a seeded pattern while reading the
#: echo, half-close, read to EOF; print sizes and digests as JSON.
KERNEL_ECHO_CLIENT = r"""
import hashlib, json, socket, sys, threading
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = hashlib.shake_128(b"kernel").digest(size)
s = socket.create_connection((host, port), timeout=30)
def writer():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=writer); t.start()
got = bytearray()
while True:
    chunk = s.recv(1 << 16)
    if not chunk:
        break
    got += chunk
t.join(); s.close()
print(json.dumps({"sent": size, "got": len(got),
                  "sent_sha": hashlib.sha256(data).hexdigest(),
                  "got_sha": hashlib.sha256(bytes(got)).hexdigest()}))
"""

#: A kernel TCP server: bind HOST PORT (IPv4 or IPv6; a link-local HOST carries "%ifname"),
#: accept one connection, echo until EOF, half-close back; print the total and the peer.
KERNEL_ECHO_SERVER = r"""
import socket, sys
family, kind, _, _, address = socket.getaddrinfo(sys.argv[1], int(sys.argv[2]), 0,
                                                 socket.SOCK_STREAM)[0]
ls = socket.socket(family, kind)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(address); ls.listen(1)
print("listening", flush=True)
conn, peer = ls.accept()
total = 0
while True:
    chunk = conn.recv(1 << 16)
    if not chunk:
        break
    total += len(chunk)
    conn.sendall(chunk)
conn.shutdown(socket.SHUT_WR); conn.close()
print("echoed", total, peer[0], flush=True)
"""


#: The issue's figure: 50 MB each way, byte-exact.
BULK = 50_000_000
OFFLOADS = pytest.mark.parametrize("offload", [False, True], ids=["plain", "tso"])


@OFFLOADS
def test_kernel_client_gets_50mb_echoed_byte_exact(
    tap: TapDevice, real_world: World, offload: bool
) -> None:
    async def main() -> tuple[dict[str, object], dict[str, dict[str, int]]]:
        async with netstack_on(tap, real_world, offload=offload) as iface:
            echo = TcpEchoServer(iface)
            echo.start()
            rc, out = await run_in_netns(
                tap, [sys.executable, "-c", KERNEL_ECHO_CLIENT, OUR_IP, "7", str(BULK)], 120
            )
            assert rc == 0, out
            echo.stop()
            return json.loads(out), stats_of(iface)

    result, stats = real_world.run(main())
    assert result["got"] == result["sent"] == BULK
    assert result["got_sha"] == result["sent_sha"]
    tcp = stats["tcp"]
    assert tcp["rx_bad_checksum"] == 0 and tcp["connections_accepted"] == 1
    # with offloads the kernel hands over coalesced segments and cuts our large ones, so
    # far fewer frames than 1448-byte segments cross the TAP each way
    frames = stats["link"]
    per_frame_in = BULK / frames["rx_frames"]
    per_frame_out = BULK / frames["tx_frames"]
    if offload:
        assert per_frame_in > 3000 and per_frame_out > 3000, frames
    else:
        assert per_frame_in < 1500 and per_frame_out < 1500, frames


@OFFLOADS
def test_netstack_client_to_a_kernel_echo_server_byte_exact(
    tap: TapDevice, real_world: World, offload: bool
) -> None:
    data = hashlib.shake_128(b"netstack").digest(BULK)

    async def main() -> tuple[bytes, str]:
        async with netstack_on(tap, real_world, offload=offload) as iface:
            server = await asyncio.create_subprocess_exec(
                *tap.argv([sys.executable, "-c", KERNEL_ECHO_SERVER, KERNEL_IP, "9000"]),
                stdout=asyncio.subprocess.PIPE,
            )
            assert server.stdout is not None
            assert (await server.stdout.readline()).startswith(b"listening")
            sock = TCPSocket(iface)
            sock.set_timeout(30)
            await sock.connect((KERNEL_IP, 9000))

            async def reader() -> bytes:
                got = bytearray()
                while chunk := await sock.recv(65536):
                    got += chunk
                return bytes(got)

            task = asyncio.ensure_future(reader())
            await sock.send(data)
            sock.shutdown()  # half-close: the kernel sees EOF, echoes the rest, closes
            echoed = await task
            sock.close()
            tail = (await server.stdout.read()).decode()
            await server.wait()
            return echoed, tail

    echoed, tail = real_world.run(main())
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
    assert f"echoed {len(data)}" in tail


def test_refusals_both_ways(tap: TapDevice, real_world: World) -> None:
    probe = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('{OUR_IP}', 4444), timeout=3)\n"
        "    print('connected')\n"
        "except ConnectionRefusedError:\n"
        "    print('refused')\n"
    )

    async def main() -> str:
        async with netstack_on(tap, real_world) as iface:
            sock = TCPSocket(iface)
            sock.set_timeout(5)
            with pytest.raises(ConnectionRefused):
                await sock.connect((KERNEL_IP, 4444))  # the kernel answers RST
            _rc, out = await run_in_netns(tap, [sys.executable, "-c", probe])
            return out.strip()

    assert real_world.run(main()) == "refused"  # netstack answered the kernel's SYN with RST


@OFFLOADS
def test_tcp_capture_decodes_cleanly(tap: TapDevice, real_world: World, tmp_path: Path,
                                     tshark: Tshark, offload: bool) -> None:  # fmt: skip
    pcap = tmp_path / "tcp.pcap"

    async def main() -> None:
        async with netstack_on(tap, real_world, pcap, offload=offload) as iface:
            TcpEchoServer(iface).start()
            rc, out = await run_in_netns(
                tap, [sys.executable, "-c", KERNEL_ECHO_CLIENT, OUR_IP, "7", "300000"], 30
            )
            assert rc == 0, out

    real_world.run(main())
    opts = ("-o", "tcp.check_checksum:TRUE")
    bad = tshark(pcap, ["frame.number"], filter="tcp.checksum.status == 0", opts=opts)
    assert bad == []
    assert_clean_capture(pcap, tshark)
    # (a pause of this process beyond the kernel's 200 ms RTO makes it send again)
    once = " && !tcp.analysis.retransmission"
    assert count(pcap, tshark, "tcp.flags.syn == 1 && tcp.flags.ack == 1" + once) == 1
    assert count(pcap, tshark, "tcp.flags.fin == 1" + once) == 2
    # with offloads, segments larger than the MTU go both ways (TSO out, GRO in)
    large = count(pcap, tshark, "frame.len > 1514")
    assert (large > 0) if offload else (large == 0)


def test_cli_up_serves_tcp_echo(tap: TapDevice, tmp_path: Path) -> None:
    async def main() -> tuple[str, str]:
        proc = await asyncio.create_subprocess_exec(
            *netstack_command(), "up", "--tap", tap.name, "--netns", tap.netns,
            "--ip", f"{OUR_IP}/24", "--serve", "echo,chargen", "--duration", "4",
            "--stats-interval", "100",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert "netstack up on" in line, line
        await kernel_side_running(tap)
        rc, echoed = await run_in_netns(
            tap, ["sh", "-c", f"echo over-tcp | socat -t 2 - TCP:{OUR_IP}:7"], 10
        )
        assert rc == 0
        rc, chargen = await run_in_netns(
            # head closes the pipe after 148 bytes: socat's "Broken pipe" is expected, and
            # must not land in the output before head's (run_in_netns merges stderr)
            tap,
            ["sh", "-c", f"socat -T 1 -u TCP:{OUR_IP}:19 - 2>/dev/null | head -c 148"],
            10,
        )
        _out, err = await proc.communicate()
        assert proc.returncode == 0, err
        return echoed, chargen

    echoed, chargen = asyncio.run(main())
    assert echoed == "over-tcp\n"
    assert chargen.split("\r\n")[0] == "".join(chr(c) for c in range(32, 104))


def test_successive_connections_use_unpredictable_ports(tap: TapDevice, real_world: World) -> None:
    """RFC 6056: two connections to one kernel server leave from different ephemeral ports,
    which the kernel sees (``ss`` in the namespace lists both peers)."""

    async def main() -> tuple[list[int], str]:
        async with netstack_on(tap, real_world) as iface:
            argv = ["socat", f"TCP-LISTEN:9100,bind={KERNEL_IP},fork,reuseaddr", "EXEC:cat"]
            server = await asyncio.create_subprocess_exec(*tap.argv(argv))
            assert await until(lambda: listening(server.pid, 9100), 10), "socat never listened"
            socks = []
            for _ in range(2):
                sock = TCPSocket(iface)
                await sock.connect((KERNEL_IP, 9100))
                socks.append(sock)
            ports = [s.getsockname().port for s in socks]
            _rc, listing = await run_in_netns(tap, ["ss", "-tn", "state", "established"])
            for sock in socks:
                sock.close()
            server.kill()
            await server.wait()
            return ports, listing

    ports, listing = real_world.run(main())
    assert ports[0] != ports[1] and all(49152 <= p <= 65535 for p in ports)
    for port in ports:
        assert f"{OUR_IP}:{port}" in listing
