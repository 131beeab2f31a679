"""Every example runs as written (the TAP example runs in tests/interop)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_udp_echo_sim_example():
    out = run(str(EXAMPLES / "udp_echo_sim.py"))
    assert "10.0.0.2:7 echoed b'hello, netstack'" in out


def test_router_sim_example(tmp_path: Path):
    out = run(str(EXAMPLES / "router_sim.py"), str(tmp_path))
    assert "5 packets transmitted, 5 received" in out
    assert "echoed 5000 bytes across the router" in out
    assert sorted(p.name for p in tmp_path.glob("*.pcap")) == ["lab.pcap", "office.pcap"]


def test_demo_command_succeeds_and_writes_captures(tmp_path: Path):
    out = run("-m", "netstack.cli", "demo", "--out", str(tmp_path))
    assert "simulated in" in out
    assert "0/3 replies" not in out
    assert sorted(p.name for p in tmp_path.glob("*.pcap")) == [
        "lab.pcap",
        "sw1.pcap",
        "sw2.pcap",
        "sw3.pcap",
    ]


def test_readme_example_matches_the_runnable_one():
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert "examples/udp_echo_sim.py" in readme
    for line in ("lan.add_port()", "UdpEchoServer(b).start()", "World.simulated(seed=1)"):
        assert line in readme
