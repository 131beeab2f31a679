"""asyncio streams on netstack against the Linux kernel, through a TAP in a namespace.

netstack (10.77.0.2, fd77::2) runs :mod:`netstack.socket.aio` on the test's real event
loop; the kernel's side (10.77.0.1, fd77::1) runs Python socket programs inside the
namespace as asyncio subprocesses, so the stack keeps serving while they run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from typing import TYPE_CHECKING

import pytest
from test_ipv4_kernel import OUR_IP, netstack_on, run_in_netns, stats_of
from test_tcp_kernel import KERNEL_ECHO_CLIENT

from netstack.runtime import World
from netstack.socket.aio import open_connection, start_server

if TYPE_CHECKING:
    from conftest import TapDevice

pytestmark = pytest.mark.interop

KERNEL_IP = "10.77.0.1"
FAMILIES = pytest.mark.parametrize(
    ("ours", "kernel"), [(OUR_IP, KERNEL_IP), ("fd77::2", "fd77::1")], ids=["ipv4", "ipv6"]
)

#: A slow kernel TCP sink: listen on argv[1]:argv[2] with a small receive buffer, print
#: "listening", accept one connection, read 16 KiB every 2 ms until EOF, then send back
#: {"got": bytes, "sha256": hex} and close.
KERNEL_SLOW_SINK = r"""
import hashlib, json, socket, sys, time
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
ls = socket.socket(family, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
ls.bind((sys.argv[1], int(sys.argv[2]))); ls.listen(1)
print("listening", flush=True)
ls.settimeout(30)
conn, _ = ls.accept()
conn.settimeout(30)
digest, got = hashlib.sha256(), 0
while chunk := conn.recv(16384):
    digest.update(chunk); got += len(chunk)
    time.sleep(0.002)
conn.sendall(json.dumps({"got": got, "sha256": digest.hexdigest()}).encode())
conn.close()
"""


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@FAMILIES
def test_kernel_client_to_a_netstack_stream_echo_server(
    tap: TapDevice, real_world: World, ours: str, kernel: str
) -> None:
    """The kernel writes 4 MB while reading the echo; our asyncio echo server's drain()
    paces it, and every byte comes back in order."""
    size = 4_000_000

    async def main() -> tuple[dict[str, object], dict[str, dict[str, int]]]:
        async with netstack_on(tap, real_world, ipv6="static:fd77::2/64") as iface:
            server = await start_server(echo, port=7, stack=iface)
            async with server:
                rc, out = await run_in_netns(
                    tap, [sys.executable, "-c", KERNEL_ECHO_CLIENT, ours, "7", str(size)], 60
                )
                assert rc == 0, out
            return json.loads(out), stats_of(iface)

    result, stats = real_world.run(main())
    assert result["got"] == result["sent"] == size
    assert result["got_sha"] == result["sent_sha"]
    assert stats["tcp"]["connections_accepted"] == 1


@FAMILIES
def test_netstack_client_to_a_slow_kernel_server_feels_back_pressure(
    tap: TapDevice, real_world: World, ours: str, kernel: str
) -> None:
    """8 MB to a kernel reader taking 16 KiB every 2 ms: drain() holds our writer back, the
    transport's buffer stays at the high-water mark plus one write, the bytes arrive exact."""
    chunk, count = 65536, 128
    block = hashlib.shake_128(b"aio-kernel").digest(chunk)

    async def main() -> tuple[dict[str, object], int, int]:
        async with netstack_on(tap, real_world, ipv6="static:fd77::2/64") as iface:
            sink = await asyncio.create_subprocess_exec(
                *tap.argv([sys.executable, "-c", KERNEL_SLOW_SINK, kernel, "9000"]),
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                assert sink.stdout is not None
                assert (await asyncio.wait_for(sink.stdout.readline(), 10)) == b"listening\n"
                reader, writer = await open_connection(kernel, 9000, stack=iface)
                assert writer.get_extra_info("sockname")[0] == ours
                paused, peak = 0, 0
                for _ in range(count):
                    writer.write(block)
                    size = writer.transport.get_write_buffer_size()
                    peak = max(peak, size)
                    paused += size > 65536  # above the high-water mark: drain() waits
                    await asyncio.wait_for(writer.drain(), 30)
                writer.write_eof()
                summary = json.loads(await asyncio.wait_for(reader.read(), 30))
                writer.close()
                await writer.wait_closed()
            finally:
                if sink.returncode is None:
                    sink.kill()
                await sink.wait()
            return summary, paused, peak

    summary, paused, peak = real_world.run(main())
    assert summary == {"got": chunk * count, "sha256": hashlib.sha256(block * count).hexdigest()}
    assert paused > count // 4  # the writer was held back most of the way
    assert peak <= 65536 + chunk
