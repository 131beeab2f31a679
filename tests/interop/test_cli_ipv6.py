"""``netstack up --ipv6``: an IPv6 node on a TAP, checked from the kernel's side."""

from __future__ import annotations

import asyncio
import re

import pytest
from test_ipv4_kernel import netstack_command, run_in_netns

from conftest import TapDevice

pytestmark = pytest.mark.interop


async def start_up(tap: TapDevice, *options: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        *netstack_command(), "up", "--tap", tap.name, "--netns", tap.netns, *options,
        "--serve", "echo", "--duration", "8", "--stats-interval", "100",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    while True:  # the status line, then one line per IPv6 address
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        assert line, "netstack up exited early"
        lines.append(line)
        if line.startswith("ipv6 fe80::"):
            break
    return proc, "".join(lines)


def test_ipv6_only_static_node_answers_pings_and_udp_echo(tap: TapDevice) -> None:
    async def main() -> tuple[str, str, str, str]:
        proc, banner = await start_up(tap, "--ipv6", "static:fd77::2/64")
        _rc, small = await run_in_netns(
            tap, ["ping", "-6", "-w", "6", "-c", "3", "-i", "0.2", "fd77::2"]
        )
        _rc, big = await run_in_netns(
            tap, ["ping", "-6", "-w", "6", "-c", "2", "-s", "4000", "fd77::2"]
        )
        _rc, echoed = await run_in_netns(
            tap, ["sh", "-c", "echo over-udp6 | socat -t 1 - UDP6:[fd77::2]:7"], 10
        )
        proc.terminate()
        await proc.wait()
        return banner, small, big, echoed

    banner, small, big, echoed = asyncio.run(main())
    assert "no-ipv4" in banner and "status GLOBAL_UP" in banner, banner
    assert "ipv6 fd77::2/64 static" in banner
    assert re.search(r"ipv6 fe80::[0-9a-f:]+/64 preferred", banner), banner
    assert " 0% packet loss" in small, small
    assert " 0% packet loss" in big, big  # 4000 bytes: fragmented and reassembled both ways
    assert echoed == "over-udp6\n"


def test_slaac_without_a_router_stays_link_local(tap: TapDevice) -> None:
    async def main() -> tuple[str, str]:
        proc, banner = await start_up(tap, "--ipv6", "slaac")
        link_local = re.search(r"ipv6 (fe80::[0-9a-f:]+)/64", banner)
        assert link_local, banner
        _rc, pinged = await run_in_netns(
            tap,
            ["ping", "-6", "-w", "6", "-c", "2", "-i", "0.2", f"{link_local.group(1)}%{tap.name}"],
        )
        proc.terminate()
        await proc.wait()
        return banner, pinged

    banner, pinged = asyncio.run(main())
    assert "status LOCAL_UP" in banner, banner
    assert " 0% packet loss" in pinged, pinged


def test_bad_ipv6_option_is_refused(tap: TapDevice) -> None:
    async def main() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            *netstack_command(), "up", "--tap", tap.name, "--netns", tap.netns,
            "--ipv6", "static", stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _out, err = await proc.communicate()
        return proc.returncode or 0, err.decode()

    rc, err = asyncio.run(main())
    assert rc == 2 and "slaac, static:ADDR/N or off" in err
