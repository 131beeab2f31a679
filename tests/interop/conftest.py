"""Shared fixtures for interop tests: real peers in network namespaces the tests own.

- ``netns``: a fresh namespace ``ns_<random>`` with ``lo`` up and DAD off for new
  interfaces (``net.ipv6.conf.default.accept_dad=0``), deleted on teardown even if the test
  failed; processes the test left running inside it are killed first.
- ``tap``: a persistent TAP in that namespace, 10.77.0.1/24 and fd77::1/64 on the kernel's
  side, link up (carrier comes when a driver attaches). A :class:`TapDevice`.
- ``real_world``: a :class:`World` on a fresh standard asyncio loop (closed afterwards).
- ``tshark``: :func:`tshark_fields`, also importable from this module.
- ``dnsmasq``: starts dnsmasq (DHCPv4 and DNS) on the TAP's kernel side and stops it at
  teardown; a :class:`Dnsmasq` with its log and lease file.

Everything runs as root (CI does). Without root or ``/dev/net/tun`` the tests of this
directory carry a ``skipif`` marker with the reason (a developer machine); nothing is
skipped unconditionally. Every test under
``tests/interop`` gets the ``interop`` marker (modules also set ``pytestmark``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netstack.drivers.emac.tap import TapEMAC
from netstack.interfaces import ConnectionStatus, EthernetInterface
from netstack.runtime import Runtime, World
from netstack.socket.stdlib import Facade

HERE = Path(__file__).parent
CMD_TIMEOUT = 30


def _missing_requirement() -> str | None:
    """Why interop tests cannot run here, or None. CI runs as root with every peer."""
    if os.geteuid() != 0:
        return "interop: needs root (network namespaces, TAP devices); CI runs as root"
    if shutil.which("ip") is None:
        return "interop: iproute2 ('ip') is not installed (make test installs it)"
    if not os.path.exists("/dev/net/tun"):
        return "interop: /dev/net/tun is missing (kernel without CONFIG_TUN?)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from this directory ``interop``; on a developer machine
    without root they are skipped with the reason (never in CI, which runs as root)."""
    missing = _missing_requirement()
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.interop)
            item.add_marker(pytest.mark.skipif(missing is not None, reason=missing or ""))


def require_root(*, tun: bool = False) -> None:
    """Fail clearly if a fixture is used where interop tests cannot run."""
    missing = _missing_requirement()
    if missing is not None:
        raise RuntimeError(missing)


def run(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command; fail loudly with its output if it fails."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", CMD_TIMEOUT)
    check = kwargs.pop("check", True)
    result: subprocess.CompletedProcess[str] = subprocess.run(list(cmd), check=False, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"command failed ({result.returncode}): {' '.join(cmd)}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


def _netns_pids(name: str) -> list[int]:
    result = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in result.stdout.split() if p.isdigit()]


def _delete_netns(name: str) -> None:
    # Processes a test started inside its own namespace and left behind: end them by pid.
    for pid in _netns_pids(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh, uniquely named network namespace; deleted on teardown."""
    require_root()
    name = f"ns_{secrets.token_hex(4)}"
    run(["ip", "netns", "add", name])
    try:
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        run(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"])
        yield name
    finally:
        _delete_netns(name)


@dataclass(frozen=True)
class TapDevice:
    """A TAP interface in a test's namespace, seen from the kernel's side."""

    netns: str
    name: str
    host_ip: str = "10.77.0.1"
    prefix: int = 24
    host_ip6: str = "fd77::1"
    prefix6: int = 64

    def argv(self, cmd: Sequence[str]) -> list[str]:
        """``cmd`` wrapped to run inside the namespace (for asyncio subprocesses)."""
        return ["ip", "netns", "exec", self.netns, *cmd]

    def run(self, cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside the namespace; text output captured, raises if it fails
        (pass ``check=False`` to get the result anyway)."""
        return run(self.argv(cmd), **kwargs)

    def flags(self) -> str:
        """The kernel's view of the interface (``ip -br link`` line)."""
        return run(["ip", "-n", self.netns, "-br", "link", "show", self.name]).stdout.strip()


@pytest.fixture
def tap(netns: str) -> TapDevice:
    """A persistent TAP in ``netns`` with 10.77.0.1/24 and fd77::1/64, link up."""
    require_root(tun=True)
    device = TapDevice(netns=netns, name=f"tap{secrets.token_hex(3)}")
    ip = ["ip", "-n", netns]
    run([*ip, "tuntap", "add", "dev", device.name, "mode", "tap"])
    run([*ip, "addr", "add", f"{device.host_ip}/{device.prefix}", "dev", device.name])
    run([*ip, "addr", "add", f"{device.host_ip6}/{device.prefix6}", "dev", device.name, "nodad"])
    run([*ip, "link", "set", device.name, "up"])
    return device  # deleted with the namespace


@pytest.fixture
def real_world() -> Iterator[World]:
    """A world on a fresh standard event loop, for tests driving real file descriptors."""
    loop = asyncio.new_event_loop()
    world = World(loop, seed=1)
    try:
        yield world
    finally:
        world.close()


def tshark_fields(
    pcap: str | os.PathLike[str],
    fields: Sequence[str],
    filter: str | None = None,
    opts: Sequence[str] = (),
) -> list[list[str]]:
    """Decode ``pcap`` with tshark: one row per packet (matching the display ``filter``),
    one string per field (empty if absent; several occurrences are comma-separated)."""
    binary = shutil.which("tshark")
    if binary is None:
        pytest.fail("tshark is not installed (make system-deps installs it)")
    cmd = [
        binary,
        "-r",
        os.fspath(pcap),
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]
    for field in fields:
        cmd += ["-e", field]
    if filter:
        cmd += ["-Y", filter]
    cmd += list(opts)
    out = run(cmd, stderr=subprocess.DEVNULL, capture_output=False, stdout=subprocess.PIPE)
    return [line.split("\t") for line in out.stdout.splitlines()]


@pytest.fixture
def tshark() -> Callable[..., list[list[str]]]:
    """The :func:`tshark_fields` helper."""
    return tshark_fields


# -- dnsmasq: DHCPv4 and DNS on the kernel's side of the TAP ---------------------------------
#: What the ``dnsmasq`` fixture leases unless a test says otherwise (dnsmasq's own default
#: router and DNS server: its address on the TAP, 10.77.0.1).
DNSMASQ_DHCP_RANGE = "10.77.0.100,10.77.0.150,255.255.255.0,5m"
DNSMASQ_READY_TIMEOUT = 5.0
_DNSMASQ_DHCP_LINE = re.compile(
    r"DHCP([A-Z]+)\((?P<iface>[^)]*)\) (?:(?P<ip>\d+\.\d+\.\d+\.\d+) )?(?P<mac>[0-9a-f:]{17})"
)


@dataclass(frozen=True)
class DnsmasqLease:
    """One line of dnsmasq's lease file."""

    expires: int
    mac: str
    ip: str
    hostname: str  # "*" when the client sent none
    client_id: str


class Dnsmasq:
    """dnsmasq (DHCPv4 with ``--no-ping``, DNS on port 53, no upstream) on a TAP's kernel
    side, started by the :func:`dnsmasq` fixture. Its log (``--log-dhcp --log-queries``) and
    lease file live in the test's ``tmp_path``."""

    def __init__(
        self, tap: TapDevice, directory: Path, extra: Sequence[str], dhcp_range: str | None
    ) -> None:
        self.tap = tap
        self.log_path = directory / "dnsmasq.log"
        self.lease_path = directory / "dnsmasq.leases"
        self.stderr_path = directory / "dnsmasq.stderr"
        self.args = [
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--port=53",  # another port drops option 6 (DNS) from its offers
            f"--interface={tap.name}",
            "--bind-interfaces",
            "--user=root",
            f"--pid-file={directory / 'dnsmasq.pid'}",
            f"--dhcp-leasefile={self.lease_path}",
            "--log-dhcp",
            "--log-queries",
            f"--log-facility={self.log_path}",
            "--no-ping",  # the ping check delays every OFFER by 3 s
            "--dhcp-authoritative",
            *([f"--dhcp-range={dhcp_range}"] if dhcp_range else []),
            *extra,
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "dnsmasq not started"
        return self.process.pid

    def start(self) -> None:
        """Start it (``ip netns exec`` execs, so the PID is dnsmasq's) and wait until it
        listens on ports 67 and 53 in the namespace."""
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                self.tap.argv(self.args), stdout=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + DNSMASQ_READY_TIMEOUT
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    f"dnsmasq did not start (exit {self.process.returncode}): "
                    f"{self.stderr_path.read_text(errors='replace')}{self.log()}"
                )
            time.sleep(0.005)

    def _listening(self) -> bool:
        # /proc/PID/net/udp is the table of the process's namespace: once it is dnsmasq
        # (not yet the `ip` it replaces), the ports are bound inside the test's namespace.
        try:
            with open(f"/proc/{self.pid}/comm") as f:
                if f.read().strip() != "dnsmasq":
                    return False
            with open(f"/proc/{self.pid}/net/udp") as f:
                ports = {line.split()[1].rsplit(":", 1)[1] for line in f.readlines()[1:]}
        except (OSError, IndexError):
            return False
        return {"0035", "0043"} <= ports  # 53 and 67

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL after 5 s; returns once it has exited."""
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def log(self) -> str:
        """Everything it logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def dhcp_log(self, mac: str | None = None) -> list[tuple[str, str]]:
        """The DHCP messages it logged, in order, as (type, address): ``("DISCOVER", "")``,
        ``("OFFER", "10.77.0.108")``, …; only those for ``mac`` if given."""
        out = []
        for line in self.log().splitlines():
            match = _DNSMASQ_DHCP_LINE.search(line)
            if not match or match["iface"] != self.tap.name:
                continue
            if mac is None or match["mac"] == mac.lower():
                out.append((match[1], match["ip"] or ""))
        return out

    def leases(self) -> list[DnsmasqLease]:
        """Its lease file now (it rewrites the file on every change)."""
        try:
            lines = self.lease_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            fields = line.split()
            if len(fields) == 5:
                out.append(DnsmasqLease(int(fields[0]), *fields[1:]))
        return out


@pytest.fixture
def dnsmasq(tap: TapDevice, tmp_path: Path) -> Iterator[Callable[..., Dnsmasq]]:
    """Start dnsmasq on the TAP's kernel side (10.77.0.1): ``server = dnsmasq(*extra_args,
    dhcp_range=...)``; the pool is :data:`DNSMASQ_DHCP_RANGE` unless given (None: no DHCP).
    Every dnsmasq started is stopped by PID, and waited for, at teardown."""
    require_root()
    started: list[Dnsmasq] = []

    def start(*extra: str, dhcp_range: str | None = DNSMASQ_DHCP_RANGE) -> Dnsmasq:
        directory = tmp_path / f"dnsmasq{len(started)}"
        directory.mkdir()
        server = Dnsmasq(tap, directory, extra, dhcp_range)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


# -- a netstack node with the stdlib socket facade (tests of netstack.socket.stdlib) ------
def listening(pid: int, port: int) -> bool:
    """Whether ``pid`` (once ``ip netns exec`` has exec'd the server) listens on ``port``:
    /proc/PID/net/tcp and tcp6 are the tables of its namespace; state 0A is LISTEN."""
    rows = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                rows += [line.split() for line in f.readlines()[1:]]
        except OSError:
            return False
    return any(row[1].endswith(f":{port:04X}") and row[3] == "0A" for row in rows)


@pytest.fixture
def net(tap: TapDevice) -> Iterator[Facade]:
    """netstack as 10.77.0.2/24 and fd77::2/64 on the TAP, in a Runtime; a Facade on it."""
    with Runtime(seed=1) as runtime:

        def attach() -> tuple[TapEMAC, EthernetInterface]:
            emac = TapEMAC(tap.name, runtime.world, netns=tap.netns)
            iface = EthernetInterface(emac, world=runtime.world)
            iface.set_network("10.77.0.2", "255.255.255.0")
            iface.set_ipv6("static", "fd77::2/64")
            return emac, iface

        emac, iface = runtime.call(attach)
        try:
            runtime.run(iface.connect(), timeout=10)
            wait_operstate_up(tap)
            yield Facade(iface, runtime)
        finally:
            if iface.status != ConnectionStatus.DISCONNECTED:
                runtime.run(iface.disconnect(), timeout=10)
            runtime.call(emac.close)


def eventually(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``condition`` — another process's doing, such as a server's log line — until it
    holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_operstate_up(tap: TapDevice, timeout: float = 5.0) -> None:
    """The kernel drops what it sends on the TAP until it has seen the carrier (see
    ``kernel_side_running`` in test_ipv4_kernel)."""
    deadline = time.monotonic() + timeout
    path = f"/sys/class/net/{tap.name}/operstate"
    while tap.run(["cat", path]).stdout.strip() != "up":
        assert time.monotonic() < deadline, f"{tap.name} never came up"
        time.sleep(0.01)


@contextlib.contextmanager
def serving(
    tap: TapDevice, argv: list[str], port: int, what: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server ``argv`` in the TAP's namespace until it listens on ``port`` (TCP, any
    family); stopped by PID afterwards."""
    proc = subprocess.Popen(tap.argv(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not listening(proc.pid, port):
            assert proc.poll() is None, f"{what} exited with {proc.returncode}"
            assert time.monotonic() < deadline, f"{what} did not start listening"
            time.sleep(0.01)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
