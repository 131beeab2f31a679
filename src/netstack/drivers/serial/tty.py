"""Serial ports on real file descriptors: ttys, ptys and pyserial devices.

:class:`FdPort` drives one non-blocking descriptor from the world's event loop; both
drivers here are thin openers around it:

- :class:`TtyPort` opens a tty device path itself (``/dev/ttyUSB0``, ``/dev/pts/3``, the
  link socat's ``PTY,link=...`` makes) and puts it in raw mode, or with
  :meth:`TtyPort.open_pty` creates a new pty pair and serves its master side.
- :class:`PySerialPort` lets pyserial open and configure a device path or URL and then
  drives pyserial's descriptor the same way.

The model:

- **Reading**: the descriptor is registered with ``loop.add_reader``. One wake-up reads
  until the kernel has nothing more (``EAGAIN``), at most ``max_reads`` reads of
  ``READ_SIZE`` bytes, so timers and output keep running under a flood, and hands what it
  read to the receive callback in one call. No threads (the design allows threads only in
  the runtime's bridge).
- **Writing**: :meth:`FdPort.write` tries ``os.write`` at once; what the kernel does not
  take waits in the port's transmit buffer (at most ``tx_buffer`` bytes) and goes out from
  an ``add_writer`` callback. ``write_pending`` is that buffer plus, on a real serial line
  (not a pty), the kernel's own output queue (``TIOCOUTQ``).
- **Hang-up**: end of file or an error such as ``EIO`` on read (a pty whose other side was
  closed), or an error on write, closes the port and calls the hang-up callback once. It
  runs from the loop: a write that discovers the hang-up returns False and reports it
  on the next loop iteration, never from inside ``write()``.
- **Raw mode** (termios, as ``cfmakeraw(3)``): 8 data bits, no parity, no echo, no
  canonical line editing, no signals, no software flow control, no CR/LF translation,
  reads return as soon as one byte is there. It is applied with ``TCSANOW``, not the
  ``TCSAFLUSH`` of ``tty.setraw``, which would drop bytes the peer has already sent.
- ``close()`` discards what is still in the port's transmit buffer; bytes already handed
  to the kernel are the kernel's to send.

A pty pair (:meth:`TtyPort.open_pty`): the port keeps its own descriptor of the slave open
until :meth:`TtyPort.release_slave`, because on Linux reading a master whose slave nobody
holds open fails with ``EIO`` - which would be a hang-up before the peer program had even
opened :attr:`TtyPort.slave_path`. After ``release_slave()``, the peer closing its side (or
exiting) is a hang-up.
"""

from __future__ import annotations

import errno
import fcntl
import io
import logging
import os
import re
import stat
import struct
import termios
from typing import TYPE_CHECKING, cast

import serial  # type: ignore[import-untyped]

from netstack.drivers.serial.api import (
    DEFAULT_TX_BUFFER,
    STAT_NAMES,
    HangupCallback,
    ReceiveCallback,
)
from netstack.errors import DeviceError, ParameterError, UnsupportedError
from netstack.wire import Buffer

if TYPE_CHECKING:
    import asyncio

    from netstack.runtime import World

log = logging.getLogger(__name__)

#: Bytes asked for per ``os.read``.
READ_SIZE = 65536
#: Reads per wake-up of the reader callback, at most.
MAX_READS = 16

#: Device major numbers of Unix98 pty slaves (/dev/pts/N) on Linux (devices.txt).
_PTY_SLAVE_MAJORS = range(136, 144)
_PTMX = "/dev/ptmx"

_INT = struct.Struct("i")

#: termios speed constants (B9600, ...) -> bits per second, and back.
_SPEED_TO_BAUD: dict[int, int] = {
    getattr(termios, name): int(name[1:]) for name in dir(termios) if re.fullmatch(r"B\d+", name)
}
_BAUD_TO_SPEED = {baud: speed for speed, baud in _SPEED_TO_BAUD.items()}

# termios attribute list indices (termios.tcgetattr).
_IFLAG, _OFLAG, _CFLAG, _LFLAG, _ISPEED, _OSPEED, _CC = range(7)


def make_raw(fd: int, baudrate: int | None = None) -> None:
    """Put the tty ``fd`` in raw mode (as ``cfmakeraw(3)``), 8N1, receiver on, modem
    control lines ignored; set ``baudrate`` if given. Applied with ``TCSANOW`` so nothing
    already received is flushed."""
    attrs = termios.tcgetattr(fd)
    attrs[_IFLAG] &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
        | termios.IXOFF
        | termios.IXANY
        | termios.INPCK
    )
    attrs[_OFLAG] &= ~termios.OPOST
    attrs[_CFLAG] &= ~(termios.CSIZE | termios.PARENB | termios.CSTOPB | termios.CRTSCTS)
    attrs[_CFLAG] |= termios.CS8 | termios.CREAD | termios.CLOCAL
    attrs[_LFLAG] &= ~(
        termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN
    )
    cc = attrs[_CC]
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    if baudrate is not None:
        speed = _BAUD_TO_SPEED.get(baudrate)
        if speed is None:
            raise ParameterError(f"baud rate {baudrate} has no termios constant")
        attrs[_ISPEED] = attrs[_OSPEED] = speed
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _wake_on_one_byte(fd: int) -> None:
    """VMIN 1, VTIME 0 on a tty: a read returns what is there, EAGAIN when nothing is, and
    0 bytes only at end of file (hang-up). With pyserial's VMIN 0 a non-blocking read of
    an idle tty returns 0 bytes too, which would look like a hang-up."""
    attrs = termios.tcgetattr(fd)
    cc = attrs[_CC]
    if cc[termios.VMIN] != 1 or cc[termios.VTIME] != 0:
        cc[termios.VMIN] = 1
        cc[termios.VTIME] = 0
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _is_pty_slave(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) in _PTY_SLAVE_MAJORS


def _is_serial_line(fd: int) -> bool:
    """A tty that is not a pty: a UART, a USB serial adapter."""
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and not _is_pty_slave(st) and os.isatty(fd)


class FdPort:
    """A :class:`~netstack.drivers.serial.api.SerialPort` on a non-blocking descriptor,
    driven by the world's loop; see the module docstring. Subclasses open the descriptor.

    ``stats()`` has the common counters and ``hangups`` (0 or 1).
    """

    def __init__(
        self,
        world: World,
        fd: int,
        *,
        baudrate: int | None,
        tx_buffer: int = DEFAULT_TX_BUFFER,
        name: str = "",
        max_reads: int = MAX_READS,
    ) -> None:
        if tx_buffer < 1:
            raise ValueError(f"tx_buffer must be >= 1, got {tx_buffer}")
        if max_reads < 1:
            raise ValueError(f"max_reads must be >= 1, got {max_reads}")
        self.name = name or f"fd{fd}"
        self.tx_buffer = tx_buffer
        self.max_reads = max_reads
        self._world = world
        self._loop: asyncio.AbstractEventLoop = world.loop
        self._fd = fd
        self._baudrate = baudrate
        self._kernel_queue = _is_serial_line(fd)
        self._txbuf = bytearray()
        self._writing = False
        self._rx_cb: ReceiveCallback | None = None
        self._hangup_cb: HangupCallback | None = None
        self._stats: dict[str, int] = dict.fromkeys((*STAT_NAMES, "hangups"), 0)
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._on_readable)

    # --- SerialPort ----------------------------------------------------------------------

    @property
    def baudrate(self) -> int | None:
        return self._baudrate

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    @property
    def fileno(self) -> int:
        """The descriptor driven (-1 once closed)."""
        return self._fd

    @property
    def write_pending(self) -> int:
        pending = len(self._txbuf)
        if self._kernel_queue and self._fd >= 0:
            try:
                result = fcntl.ioctl(self._fd, termios.TIOCOUTQ, bytes(_INT.size))
                pending += int(_INT.unpack(result)[0])
            except OSError:
                pass
        return pending

    def write(self, data: Buffer) -> bool:
        stats = self._stats
        size = len(data)
        if self._fd < 0 or len(self._txbuf) + size > self.tx_buffer:
            stats["tx_refused"] += 1
            return False
        if not size:
            return True
        sent = 0
        if not self._txbuf:
            try:
                sent = os.write(self._fd, data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._fail("write", exc)
                stats["tx_refused"] += 1
                return False
        stats["tx_bytes"] += size
        if sent < size:
            self._txbuf += memoryview(data)[sent:]
            if not self._writing:
                self._loop.add_writer(self._fd, self._on_writable)
                self._writing = True
        return True

    def set_receive_cb(self, cb: ReceiveCallback | None) -> None:
        self._rx_cb = cb

    def set_hangup_cb(self, cb: HangupCallback | None) -> None:
        self._hangup_cb = cb

    def close(self) -> None:
        """Stop reading and writing and release the descriptor; idempotent. Bytes still in
        the transmit buffer are discarded."""
        if self._fd < 0:
            return
        self._shutdown()

    def stats(self) -> dict[str, int]:
        return dict(self._stats)

    # --- the loop's side -----------------------------------------------------------------

    def _on_readable(self) -> None:
        fd = self._fd
        chunks: list[bytes] = []
        hangup = False
        for _ in range(self.max_reads):
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                # EIO: a pty master whose slave is closed (or the reverse); ENXIO, ENODEV:
                # the device is gone (a USB adapter unplugged).
                if exc.errno != errno.EIO:
                    log.debug("%s: read failed: %s", self.name, exc)
                hangup = True
                break
            if not data:
                hangup = True  # end of file
                break
            chunks.append(data)
        if chunks:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            cb = self._rx_cb
            if cb is None:
                self._stats["rx_dropped"] += len(data)
            else:
                self._stats["rx_bytes"] += len(data)
                cb(data)
        if hangup and self._fd == fd:
            self._shutdown()
            self._report_hangup()

    def _on_writable(self) -> None:
        buf = self._txbuf
        try:
            sent = os.write(self._fd, buf)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail("write", exc)
            return
        del buf[:sent]
        if not buf:
            self._loop.remove_writer(self._fd)
            self._writing = False

    def _fail(self, what: str, exc: OSError) -> None:
        """An I/O error on the descriptor: the far end is gone. Close now, report the
        hang-up from the loop (we may be inside ``write()``)."""
        if exc.errno not in (errno.EIO, errno.EPIPE, errno.ECONNRESET):
            log.debug("%s: %s failed: %s", self.name, what, exc)
        self._shutdown()
        self._loop.call_soon(self._report_hangup)

    def _report_hangup(self) -> None:
        self._stats["hangups"] += 1
        log.debug("%s: hang-up", self.name)
        cb = self._hangup_cb
        if cb is not None:
            cb()

    def _shutdown(self) -> None:
        fd = self._fd
        self._fd = -1
        self._loop.remove_reader(fd)
        if self._writing:
            self._loop.remove_writer(fd)
            self._writing = False
        self._txbuf.clear()
        self._release_fd(fd)

    def _release_fd(self, fd: int) -> None:
        """Close the descriptor (subclasses that do not own it override this)."""
        os.close(fd)

    def __repr__(self) -> str:
        state = "open" if self._fd >= 0 else "closed"
        return f"<{type(self).__name__} {self.name} {state}>"


class TtyPort(FdPort):
    """A tty device opened by path, in raw mode; or the master side of a new pty pair
    (:meth:`open_pty`). See the module docstring.

    ``baudrate`` sets the line speed (a termios constant must exist for it); without it the
    device keeps its speed, which :attr:`baudrate` reports (None for a pty, which has no
    line rate). A missing or unopenable device raises
    :class:`~netstack.errors.DeviceError` naming the path.
    """

    path: str
    #: The slave's path of a pty pair made by :meth:`open_pty` (else None).
    slave_path: str | None
    _slave_fd: int

    def __init__(
        self,
        world: World,
        path: str | os.PathLike[str],
        *,
        baudrate: int | None = None,
        tx_buffer: int = DEFAULT_TX_BUFFER,
    ) -> None:
        path = os.fspath(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise DeviceError(f"serial device {path} does not exist") from None
        except OSError as exc:
            raise DeviceError(f"cannot open serial device {path}: {exc.strerror}") from exc
        try:
            if not os.isatty(fd):
                raise DeviceError(f"{path} is not a tty")
            try:
                make_raw(fd, baudrate)
                attrs = termios.tcgetattr(fd)
            except termios.error as exc:
                raise DeviceError(f"cannot configure serial device {path}: {exc}") from exc
            if _is_pty_slave(os.fstat(fd)):
                baudrate = None
            elif baudrate is None:
                baudrate = _SPEED_TO_BAUD.get(cast(int, attrs[_OSPEED]))
        except BaseException:
            os.close(fd)
            raise
        super().__init__(world, fd, baudrate=baudrate, tx_buffer=tx_buffer, name=path)
        self.path = path
        self.slave_path = None
        self._slave_fd = -1

    @classmethod
    def open_pty(cls, world: World, *, tx_buffer: int = DEFAULT_TX_BUFFER) -> TtyPort:
        """Make a new pty pair and serve its master side; give the peer
        :attr:`slave_path`. Both sides are raw. The port holds the slave open until
        :meth:`release_slave` (see the module docstring)."""
        master, slave = os.openpty()
        try:
            make_raw(slave)
            make_raw(master)
            slave_path = os.ttyname(slave)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        port = cls.__new__(cls)
        FdPort.__init__(
            port, world, master, baudrate=None, tx_buffer=tx_buffer, name=f"pty({slave_path})"
        )
        port.path = _PTMX
        port.slave_path = slave_path
        port._slave_fd = slave
        log.debug("opened pty pair, slave %s", slave_path)
        return port

    def release_slave(self) -> None:
        """Close this port's descriptor of the pty slave: from now on, the peer closing
        the slave is a hang-up. Idempotent; nothing to do for a port opened by path."""
        if self._slave_fd >= 0:
            os.close(self._slave_fd)
            self._slave_fd = -1

    def _release_fd(self, fd: int) -> None:
        self.release_slave()
        os.close(fd)


class PySerialPort(FdPort):
    """A serial port opened by pyserial: a device path or any pyserial URL
    (``socket://host:port``, ``spy://...``, ``hwgrep://...``) whose port object has a
    selectable descriptor.

    pyserial opens the device and sets it up (raw 8N1 at ``baudrate``); from then on this
    port reads and writes pyserial's descriptor itself, as :class:`FdPort`. Note that
    pyserial flushes the device's input queue when it opens it.

    URLs without a descriptor - ``loop://``, ``rfc2217://`` (whose pyserial class runs its
    own reader thread), ``cp2110://`` - are refused with
    :class:`~netstack.errors.UnsupportedError` before anything is opened: netstack drives
    devices from its event loop and starts no threads. A device that cannot be opened
    raises :class:`~netstack.errors.DeviceError`, an unknown URL scheme
    :class:`~netstack.errors.ParameterError`.

    :attr:`baudrate` is None for a pty slave or a socket, which have no line rate.
    """

    def __init__(
        self,
        world: World,
        url: str,
        *,
        baudrate: int = 115200,
        tx_buffer: int = DEFAULT_TX_BUFFER,
    ) -> None:
        self.url = url
        try:
            # Not opened yet: rfc2217's open() would already start a reader thread.
            port = serial.serial_for_url(url, baudrate=baudrate, timeout=0, do_not_open=True)
        except ValueError as exc:
            raise ParameterError(f"serial port {url}: {exc}") from exc
        if type(port).fileno is io.RawIOBase.fileno:
            raise UnsupportedError(
                f"serial port {url}: pyserial's {type(port).__module__} port has no selectable"
                " file descriptor, and netstack drives serial ports from its event loop"
                " without threads"
            )
        try:
            port.open()
            fd = int(port.fileno())
            if os.isatty(fd):
                _wake_on_one_byte(fd)
        except (OSError, termios.error) as exc:  # serial.SerialException is an OSError
            port.close()
            raise DeviceError(f"cannot open serial port {url}: {exc}") from exc
        self._serial = port
        try:
            st = os.fstat(fd)
            line = stat.S_ISCHR(st.st_mode) and not _is_pty_slave(st)
            super().__init__(
                world,
                fd,
                baudrate=baudrate if line else None,
                tx_buffer=tx_buffer,
                name=url,
            )
        except BaseException:
            port.close()
            raise

    def _release_fd(self, fd: int) -> None:
        self._serial.close()


__all__ = ["FdPort", "PySerialPort", "TtyPort", "make_raw"]
