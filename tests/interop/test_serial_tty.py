"""Serial drivers on real ptys: TtyPort and PySerialPort against real programs (an echo
process, socat), on a world driven by the standard asyncio loop."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netstack.drivers.serial import PySerialPort, SerialPort, TtyPort, open_serial
from netstack.errors import DeviceError, ParameterError, UnsupportedError
from netstack.runtime import World

pytestmark = pytest.mark.interop

#: Most any step may take on the wall clock before the test fails (never a timing claim).
TIMEOUT = 30.0
MEGABYTE = 1 << 20

#: The peer: opens the pty slave, makes it raw (TCSANOW), echoes ``count`` bytes, exits.
ECHO = r"""
import os, sys, termios
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
a = termios.tcgetattr(fd)
a[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
          | termios.IGNCR | termios.ICRNL | termios.IXON | termios.IXOFF | termios.IXANY)
a[1] &= ~termios.OPOST
a[2] = (a[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8 | termios.CREAD | termios.CLOCAL
a[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
a[6][termios.VMIN] = 1
a[6][termios.VTIME] = 0
termios.tcsetattr(fd, termios.TCSANOW, a)
left = int(sys.argv[2])
while left > 0:
    data = os.read(fd, 65536)
    if not data:
        break
    left -= len(data)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
os.close(fd)
"""


class Peer:
    """Collects what a port receives; futures for 'got n bytes' and 'hung up'."""

    def __init__(self, world: World, port: SerialPort, *, expect: int = 0) -> None:
        self.data = bytearray()
        self.expect = expect
        self.complete: asyncio.Future[None] = world.loop.create_future()
        self.hung_up: asyncio.Future[None] = world.loop.create_future()
        self.hangups = 0
        port.set_receive_cb(self.on_receive)
        port.set_hangup_cb(self.on_hangup)

    def on_receive(self, data: bytes) -> None:
        self.data += data
        if len(self.data) >= self.expect and not self.complete.done():
            self.complete.set_result(None)

    def on_hangup(self) -> None:
        self.hangups += 1
        if not self.hung_up.done():
            self.hung_up.set_result(None)


def wait(world: World, future: asyncio.Future[None]) -> None:
    world.run(asyncio.wait_for(future, TIMEOUT))


@pytest.fixture
def echo_pty(real_world: World) -> Iterator[tuple[TtyPort, subprocess.Popen[bytes]]]:
    """A pty master port with an echo process on the slave that echoes one megabyte."""
    port = TtyPort.open_pty(real_world, tx_buffer=2 * MEGABYTE)
    assert port.slave_path is not None
    proc = subprocess.Popen([sys.executable, "-c", ECHO, port.slave_path, str(MEGABYTE)])
    try:
        yield port, proc
    finally:
        port.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)


def test_a_megabyte_round_trips_through_an_echoing_process(
    real_world: World, echo_pty: tuple[TtyPort, subprocess.Popen[bytes]]
) -> None:
    port, proc = echo_pty
    assert isinstance(port, SerialPort)
    assert port.baudrate is None
    peer = Peer(real_world, port, expect=MEGABYTE)
    # Every byte value, control characters included: the pty must be fully raw.
    payload = random.Random(1).randbytes(MEGABYTE)
    assert port.write(payload)
    assert port.write_pending > 0  # more than the kernel takes at once
    wait(real_world, peer.complete)
    assert bytes(peer.data) == payload
    stats = port.stats()
    assert stats["tx_bytes"] == stats["rx_bytes"] == MEGABYTE
    assert port.write_pending == 0
    assert proc.wait(TIMEOUT) == 0


def test_the_peer_exiting_after_release_is_a_hangup(
    real_world: World, echo_pty: tuple[TtyPort, subprocess.Popen[bytes]]
) -> None:
    port, proc = echo_pty
    peer = Peer(real_world, port, expect=MEGABYTE)
    port.write(bytes(MEGABYTE))
    wait(real_world, peer.complete)  # the peer has the slave open: safe to let go of ours
    port.release_slave()
    assert proc.wait(TIMEOUT) == 0
    wait(real_world, peer.hung_up)
    assert peer.hangups == 1
    assert not port.is_open
    assert not port.write(b"x")
    assert port.stats()["hangups"] == 1
    port.close()  # idempotent after a hang-up


def test_holding_the_slave_open_means_no_hangup_before_the_peer_opens(
    real_world: World,
) -> None:
    port = TtyPort.open_pty(real_world)
    peer = Peer(real_world, port)
    try:
        assert port.write(b"waiting for a peer")
        real_world.run(asyncio.sleep(0))  # let the reader run once
        assert peer.hangups == 0
        assert port.is_open
        port.release_slave()  # nobody holds the slave now: reading the master fails
        wait(real_world, peer.hung_up)
        assert not port.is_open
    finally:
        port.close()


def test_pyserial_on_the_slave_talks_to_the_master(real_world: World) -> None:
    master = TtyPort.open_pty(real_world)
    assert master.slave_path is not None
    slave = PySerialPort(real_world, master.slave_path, baudrate=9600)
    try:
        master.release_slave()
        assert slave.baudrate is None  # a pty slave has no line rate
        to_slave = random.Random(2).randbytes(200_000)
        to_master = random.Random(3).randbytes(150_000)
        at_slave = Peer(real_world, slave, expect=len(to_slave))
        at_master = Peer(real_world, master, expect=len(to_master))
        # Both at once, in pieces no larger than the transmit buffers.
        for i in range(0, len(to_slave), 50_000):
            assert master.write(to_slave[i : i + 50_000])
            assert slave.write(to_master[i : i + 50_000])
            while master.write_pending or slave.write_pending:
                real_world.run(asyncio.sleep(0))
        wait(real_world, at_slave.complete)
        wait(real_world, at_master.complete)
        assert bytes(at_slave.data) == to_slave
        assert bytes(at_master.data) == to_master
        # Closing the master hangs up the pyserial side (end of file on the slave).
        master.close()
        wait(real_world, at_slave.hung_up)
        assert not slave.is_open
        assert at_master.hangups == 0
    finally:
        slave.close()
        master.close()


def test_a_write_after_the_far_end_closed_reports_a_hangup_from_the_loop(
    real_world: World,
) -> None:
    master = TtyPort.open_pty(real_world)
    assert master.slave_path is not None
    slave = TtyPort(real_world, master.slave_path)
    peer = Peer(real_world, slave)
    try:
        master.close()
        assert not slave.write(b"nobody there")  # EIO: refused, reported later
        assert peer.hangups == 0
        wait(real_world, peer.hung_up)
        real_world.run(asyncio.sleep(0))
        assert peer.hangups == 1
    finally:
        slave.close()


def test_refuses_writes_beyond_the_transmit_buffer(real_world: World) -> None:
    port = TtyPort.open_pty(real_world, tx_buffer=1000)
    try:
        assert not port.write(bytes(1001))
        # Fill the kernel's pty buffer (nobody reads the slave) until bytes stay with us.
        for _ in range(1000):
            assert port.write(bytes(500))
            if port.write_pending:
                break
        pending = port.write_pending
        assert 0 < pending <= 1000
        assert not port.write(bytes(1001 - pending))
        assert port.write(bytes(1000 - pending))
        assert port.write_pending == 1000
        assert port.stats()["tx_refused"] == 2
    finally:
        port.close()


@pytest.fixture
def socat_cable(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """socat joining two new ptys: a null-modem cable between two symlinked device paths."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is not installed (make system-deps installs it)")
    one, two = str(tmp_path / "ttyA"), str(tmp_path / "ttyB")
    proc = subprocess.Popen(
        [socat, "-d", "-d", f"PTY,link={one},rawer", f"PTY,link={two},rawer"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # ends if socat dies
            if "starting data transfer loop" in line:
                break
        else:
            pytest.fail(f"socat did not start (exit {proc.wait(TIMEOUT)})")
        yield one, two, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)


def test_tty_by_path_and_pyserial_through_socat(
    real_world: World, socat_cable: tuple[str, str, subprocess.Popen[str]]
) -> None:
    one, two, proc = socat_cable
    left = TtyPort(real_world, one, baudrate=115200)
    right = open_serial(real_world, two)
    try:
        assert isinstance(right, PySerialPort)
        assert left.baudrate is None  # a pty: the requested speed means nothing
        message = bytes(range(256)) * 64
        at_right = Peer(real_world, right, expect=len(message))
        at_left = Peer(real_world, left, expect=len(message))
        assert left.write(message)
        wait(real_world, at_right.complete)
        assert right.write(bytes(at_right.data))
        wait(real_world, at_left.complete)
        assert bytes(at_left.data) == message
        # socat holds both slaves open itself, so it never sees us close one; when socat
        # ends, its pty masters close: a hang-up on both our sides.
        proc.terminate()
        wait(real_world, at_right.hung_up)
        wait(real_world, at_left.hung_up)
        assert not left.is_open and not right.is_open
    finally:
        left.close()
        right.close()


def test_open_serial_pty_gives_a_pty_master(real_world: World) -> None:
    port = open_serial(real_world, "pty")
    try:
        assert isinstance(port, TtyPort)
        assert port.slave_path is not None and os.path.exists(port.slave_path)
    finally:
        port.close()


def test_missing_devices_are_device_errors(real_world: World, tmp_path: Path) -> None:
    missing = str(tmp_path / "ttyMISSING")
    with pytest.raises(DeviceError, match="ttyMISSING"):
        open_serial(real_world, missing)
    with pytest.raises(DeviceError, match="ttyMISSING"):
        TtyPort(real_world, missing)
    with pytest.raises(DeviceError, match="ttyMISSING"):
        PySerialPort(real_world, missing)
    regular = tmp_path / "file"
    regular.write_bytes(b"")
    with pytest.raises(DeviceError, match="not a character device"):
        open_serial(real_world, str(regular))
    with pytest.raises(DeviceError, match="not a tty"):
        TtyPort(real_world, "/dev/null")
    with pytest.raises(DeviceError, match="/dev/null"):
        open_serial(real_world, "/dev/null")


def test_urls_without_a_descriptor_are_refused_without_threads(real_world: World) -> None:
    threads = threading.active_count()
    with pytest.raises(UnsupportedError, match="loop://"):
        PySerialPort(real_world, "loop://")
    with pytest.raises(UnsupportedError, match="no selectable file descriptor"):
        open_serial(real_world, "rfc2217://127.0.0.1:9")
    assert threading.active_count() == threads
    with pytest.raises(ParameterError):
        open_serial(real_world, "bogus://x")
