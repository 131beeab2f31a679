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


def test_asyncio_echo_example():
    out = run(str(EXAMPLES / "asyncio_echo.py"))
    for address in ("10.0.0.2", "2001:db8::2"):
        assert f"client: {address} echoed b'hello, asyncio\\n' in 10.0 ms (simulated)" in out
        assert f"client: {address} echoed b'on netstack\\n' in 10.0 ms (simulated)" in out
    assert "server: 10.0.0.1 closed" in out and "server: 2001:db8::1 closed" in out


def test_tls_client_example(tmp_path: Path):
    out = run(str(EXAMPLES / "tls_client.py"), str(tmp_path))
    assert "HTTP/1.0 200 OK: b'hello over TLS\\n'" in out
    assert "TLSv1.3 TLS_" in out
    assert "session resumed: True" in out
    assert (tmp_path / "ca.pem").exists()


def test_demo_command_succeeds_and_writes_captures(tmp_path: Path):
    out = run("-m", "netstack.cli", "demo", "--out", str(tmp_path))
    assert "simulated in" in out
    assert "0/3 replies" not in out
    assert sorted(p.name for p in tmp_path.glob("*.pcap")) == [
        "lab.pcap",
        "modem.pcap",
        "radio.pcap",
        "sw1.pcap",
        "sw2.pcap",
        "sw3.pcap",
    ]
    assert "modem       10.64.0.10 peer 10.64.0.1 dns 10.9.0.10" in out
    assert "modem -> echo.demo.test (10.9.0.10) 3/3 replies" in out
    assert "3/3 replies" in out.split("Radio (IEEE 802.15.4")[1]


def test_readme_example_matches_the_runnable_one():
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert "examples/udp_echo_sim.py" in readme
    for line in ("lan.add_port()", "UdpEchoServer(b).start()", "World.simulated(seed=1)"):
        assert line in readme


def test_http_client_example():
    out = run(str(EXAMPLES / "http_client.py"))
    assert "http.client: 200 OK netstack/" in out
    assert "hello from a netstack HTTP server\n" in out
    assert "urllib: 200 34 bytes" in out


def test_http_server_example(tmp_path: Path):
    out = run(str(EXAMPLES / "http_server.py"), str(tmp_path))
    assert "http.client: 200 OK SimpleHTTP/" in out
    assert "hello from http.server on netstack\n" in out
    assert "https: 200 TLSv1.3 listing has hello.txt: True" in out
    assert "urllib: 200 35 bytes over HTTPS" in out
    assert out.count('server: 10.0.0.1 "GET /hello.txt HTTP/1.1" 200') == 2
    assert (tmp_path / "ca.pem").exists()


def test_dialup_sim_example(tmp_path: Path):
    out = run(str(EXAMPLES / "dialup_sim.py"), str(tmp_path))
    assert "modem: 10.64.0.10 via 10.64.0.1, dns 10.1.0.53, authenticated as 'alice'" in out
    assert "ping web: 3 packets transmitted, 3 received" in out
    assert "echoed 50000 bytes intact: True" in out
    assert "hung up: isp pool has 0 addresses in use" in out
    assert (tmp_path / "modem.pcap").exists()


def test_mesh_sim_example(tmp_path: Path):
    out = run(str(EXAMPLES / "mesh_sim.py"), str(tmp_path))
    assert "a: 02:00:00:00:00:00:00:01 -> [fe80::1%1]:0 (LOCAL_UP)" in out
    assert "ping b: 3 packets transmitted, 3 received" in out
    assert "udp echo of 1024 bytes intact: True" in out
    assert (tmp_path / "air.pcap").exists()


def test_mesh_under_example(tmp_path: Path):
    out = run(str(EXAMPLES / "mesh_under.py"), str(tmp_path))
    assert "across 3 hops: 3 packets transmitted, 3 received" in out
    assert "udp echo of 1024 bytes intact: True" in out
    assert "ff02::1 flood heard by 3 of 3 radios" in out
    assert "radio 1: forwarded 0" not in out and "radio 2: forwarded 0" not in out
    assert (tmp_path / "air.pcap").exists()
