"""``netstack ppp`` as a user runs it: a separate process dialling a PPP server on a pty
(examples/ppp_isp.py), with the exit status and messages a script would check."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def isp() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """examples/ppp_isp.py requiring CHAP from alice/secret; yields it and its pty."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "ppp_isp.py"), "--auth", "chap"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("dial /dev/pts/"), line
    try:
        yield proc, line.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def netstack_ppp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netstack.cli", "ppp", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_wrong_password_exits_1_with_the_reason_then_the_right_one_pings(
    isp: tuple[subprocess.Popen[str], str],
) -> None:
    proc, tty = isp
    refused = netstack_ppp("--device", tty, "--user", "alice", "--password", "guess")
    assert refused.returncode == 1
    assert "PPP authentication failed" in refused.stderr
    assert "refused our credentials" in refused.stderr
    assert proc.stdout is not None
    assert "call failed" in proc.stdout.readline()

    ok = netstack_ppp("--device", tty, "--user", "alice", "--password", "secret",
                      "--ping", "10.64.0.1", "--count", "2", "--interval", "0.1")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "local 10.64.0.10 peer 10.64.0.1 dns 10.64.0.1 mtu 1500" in ok.stdout
    assert "2 packets transmitted, 2 received" in ok.stdout
    assert "caller alice got 10.64.0.10" in proc.stdout.readline()


def test_serve_until_the_duration_ends_then_hang_up(isp: tuple[subprocess.Popen[str], str]) -> None:
    proc, tty = isp
    result = netstack_ppp("--device", tty, "--user", "alice", "--password", "secret",
                          "--serve", "echo", "--duration", "0.5")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ppp stats: rx_frames" in result.stdout
    assert proc.stdout is not None
    assert "caller alice got" in proc.stdout.readline()
    assert "caller hung up" in proc.stdout.readline()


def test_no_peer_on_the_line_times_out_with_a_message(tmp_path: Path) -> None:
    """A pty nobody answers on: negotiation gives up within --timeout."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        result = netstack_ppp("--device", os.ttyname(slave), "--timeout", "2")
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 1
    assert "PPP negotiation did not finish in 2.0 s" in result.stderr
