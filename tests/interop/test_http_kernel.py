"""netstack's HTTP/1.0 file server and bulk sink against kernel clients (curl, socat,
hping3) inside the test's namespace."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import signal
from pathlib import Path

import pytest
from test_ipv4_kernel import OUR_IP, netstack_command, netstack_on, run_in_netns, until

from conftest import TapDevice
from netstack.runtime import World
from netstack.services import HttpFileServer

pytestmark = pytest.mark.interop

BIG = 5_000_000
#: curl never asks a proxy from the environment; the answer's status code goes last.
CURL = ["curl", "--silent", "--show-error", "--noproxy", "*", "--max-time", "90"]


def pattern(size: int, salt: bytes) -> bytes:
    return hashlib.shake_128(salt).digest(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def www(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    (root / "big.bin").write_bytes(pattern(BIG, b"big"))
    (root / "medium.bin").write_bytes(pattern(300_000, b"medium"))
    return root


async def curl(tap: TapDevice, *args: str, timeout: float = 100.0) -> tuple[int, str]:
    """curl in the namespace; (exit status, output)."""
    return await run_in_netns(tap, [*CURL, *args], timeout)


def test_curl_downloads_5mb_byte_exact_heads_and_gets_404(
    tap: TapDevice, real_world: World, www: Path, tmp_path: Path
) -> None:
    out = tmp_path / "big.out"

    async def main() -> tuple[list[tuple[int, str]], dict[int, int]]:
        async with netstack_on(tap, real_world) as iface:
            server = HttpFileServer(iface, www)
            server.start()
            results = [
                await curl(tap, "-o", str(out), "-w", "%{http_code}", f"http://{OUR_IP}/big.bin"),
                await curl(tap, "-I", f"http://{OUR_IP}/big.bin"),
                await curl(tap, "-o", "/dev/null", "-w", "%{http_code}", f"http://{OUR_IP}/nope"),
            ]
            server.stop()
            return results, server.stats.by_status

    (get, head, missing), by_status = real_world.run(main())
    assert get == (0, "200"), get
    assert sha(out.read_bytes()) == sha((www / "big.bin").read_bytes())
    assert head[0] == 0 and head[1].startswith("HTTP/1.0 200 OK\r\n"), head
    assert f"Content-Length: {BIG}\r\n" in head[1]
    assert "Content-Type: application/octet-stream\r\n" in head[1]
    assert missing == (0, "404"), missing
    assert by_status == {200: 2, 404: 1}


def test_cli_up_serves_http_and_the_bulk_sink(tap: TapDevice, www: Path, tmp_path: Path) -> None:
    out80, out8080 = tmp_path / "80.out", tmp_path / "8080.out"

    async def main() -> tuple[list[tuple[int, str]], str]:
        proc = await asyncio.create_subprocess_exec(
            *netstack_command(), "up", "--tap", tap.name, "--netns", tap.netns,
            "--ip", f"{OUR_IP}/24", "--serve", f"http={www},http={www}:8080,sink",
            "--duration", "120", "--stats-interval", "100",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
            assert "netstack up on" in line and "services http,http,sink" in line, line
            url = f"http://{OUR_IP}/medium.bin"
            results = [
                await curl(tap, "--retry", "3", "--retry-connrefused", "-o", str(out80), url),
                await curl(tap, "-o", str(out8080), f"http://{OUR_IP}:8080/big.bin"),
                await run_in_netns(
                    tap, ["sh", "-c", f"head -c 1000000 /dev/zero | socat -u - TCP:{OUR_IP}:5001"]
                ),
            ]
            proc.terminate()  # SIGTERM: the final counters, then exit 0
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, stderr
        return results, stdout.decode()

    results, stdout = asyncio.run(main())
    assert [rc for rc, _ in results] == [0, 0, 0], results
    assert sha(out80.read_bytes()) == sha((www / "medium.bin").read_bytes())
    assert sha(out8080.read_bytes()) == sha((www / "big.bin").read_bytes())
    assert "tcp-http=1 tcp-http=1 tcp-sink=1" in stdout, stdout


@pytest.mark.parametrize(
    ("rate", "outlasts_fresh"),
    [
        pytest.param(["--flood"], False, id="flood"),  # ~170k SYN/s: far more than we take
        pytest.param(["-i", "u25"], True, id="paced"),  # ~18k SYN/s: about what we take
    ],
)
def test_syn_flood_gets_cookies_while_downloads_go_on(
    tap: TapDevice, real_world: World, www: Path, tmp_path: Path, rate: list[str],
    outlasts_fresh: bool,
) -> None:  # fmt: skip
    """hping3 floods port 80 with SYNs from random sources for 2 s. The SYN queue (256)
    fills and netstack answers with SYN cookies; a download that was running finishes
    byte-exact and one started during the flood succeeds too.

    At hping3's full ``--flood`` rate most SYNs are dropped at the TAP's queue, before
    netstack sees them — and so are most of the clients' segments, which makes the new
    download finish only after the flood. At a rate netstack keeps up with, the flood goes on
    (up to 15 s) until the new download is done, and it must be done before the flood ends.
    """
    running_out, fresh_out = tmp_path / "running.out", tmp_path / "fresh.out"

    async def main() -> tuple[int, str, tuple[int, str], dict[str, int], str, list[bool], int]:
        async with netstack_on(tap, real_world) as iface:
            server = HttpFileServer(iface, www, backlog=16)
            server.start()
            # 5 MB at 1 MB/s: the transfer spans the whole flood.
            running = await asyncio.create_subprocess_exec(
                *tap.argv([*CURL, "--limit-rate", "1M", "-o", str(running_out), "-w",
                           "%{http_code}", f"http://{OUR_IP}/big.bin"]),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            assert await until(lambda: server.stats.bytes_out > 500_000, 20), "no download"
            flood = await asyncio.create_subprocess_exec(
                *tap.argv(["hping3", "-S", "-p", "80", *rate, "--rand-source", OUR_IP]),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )  # `ip netns exec` execs: flood.pid is hping3's
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                cookies = await until(lambda: iface.stack.stats()["tcp"]["syn_cookies_sent"] > 0)
                assert cookies, "the flood never filled the SYN queue"
                # the running download is in the middle of it (curl's rate limit is loose:
                # 5 MB can take little more than 2 s, so this is read now, not at the end)
                running_alive = running.returncode is None
                fresh = asyncio.ensure_future(
                    curl(tap, "-o", str(fresh_out), "-w", "%{http_code}",
                         f"http://{OUR_IP}/medium.bin")
                )  # fmt: skip
                await asyncio.sleep(max(0.0, started + 2.0 - loop.time()))
                if outlasts_fresh:
                    await until(fresh.done, started + 15.0 - loop.time())
                # (flood alive, fresh done) as the flood ends, and the running download was
                # going when the SYN queue filled
                at_end = [flood.returncode is None, fresh.done(), running_alive]
                tracked = len(iface.stack.tcp.connections)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    flood.send_signal(signal.SIGINT)  # by PID; hping3 prints its statistics
                try:
                    flood_out, _ = await asyncio.wait_for(flood.communicate(), 5)
                except TimeoutError:
                    flood.kill()
                    flood_out, _ = await flood.communicate()
            fresh_result = await fresh
            out, _ = await asyncio.wait_for(running.communicate(), 100)
            assert running.returncode is not None
            tcp = iface.stack.stats()["tcp"]
            server.stop()
            return (running.returncode, out.decode(), fresh_result, tcp,
                    flood_out.decode(errors="replace"), at_end, tracked)  # fmt: skip

    rc, code, fresh, tcp, flood_out, at_end, tracked = real_world.run(main())
    sent = re.search(r"(\d+) packets transmitted", flood_out)
    assert sent and int(sent[1]) > 10_000, flood_out  # it really flooded
    assert tcp["syn_cookies_sent"] > 0 and tcp["syn_cookies_accepted"] >= 1, tcp
    assert tracked <= 256 + 4  # the SYN queue stayed bounded
    flood_alive, fresh_done, running_alive = at_end
    assert flood_alive and running_alive  # both downloads overlapped the flood
    assert fresh_done or not outlasts_fresh
    assert (rc, code) == (0, "200"), code
    assert sha(running_out.read_bytes()) == sha((www / "big.bin").read_bytes())
    assert fresh == (0, "200"), fresh
    assert sha(fresh_out.read_bytes()) == sha((www / "medium.bin").read_bytes())
