"""Serial-port drivers: the SerialPort contract, ttys and ptys, pyserial devices, simulated
lines, and a PPP capture wrapper.

Drivers move bytes and report hang-ups; they know nothing of PPP or IP. Only
:class:`SerialCapture` cuts the stream into PPP frames, to write them to pcap.

:func:`open_serial` picks the driver for a device name as a user would type it.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from netstack.drivers.serial.api import (
    DEFAULT_TX_BUFFER,
    STAT_NAMES,
    HangupCallback,
    ReceiveCallback,
    SerialPort,
)
from netstack.drivers.serial.capture import SerialCapture
from netstack.drivers.serial.line import LineEnd, SerialLine
from netstack.drivers.serial.tty import FdPort, PySerialPort, TtyPort
from netstack.errors import DeviceError

if TYPE_CHECKING:
    from netstack.runtime import World

#: Baud rate :func:`open_serial` asks pyserial for when none is given.
DEFAULT_BAUDRATE = 115200


def open_serial(world: World, device: str, *, baudrate: int | None = None) -> SerialPort:
    """Open a serial port by name.

    - ``"pty"``: a new pty pair (:meth:`TtyPort.open_pty`); the peer opens the port's
      ``slave_path``. ``baudrate`` is ignored (a pty has no line rate).
    - a string with ``://``: a pyserial URL (:class:`PySerialPort`).
    - otherwise the path of a tty character device (a UART, a USB adapter, a pty slave such
      as socat's ``PTY,link=...``), opened with pyserial (:class:`PySerialPort`).

    ``baudrate`` defaults to 115200 for pyserial. A missing device, or a path that is not a
    character device, raises :class:`~netstack.errors.DeviceError` naming it.
    """
    if device == "pty":
        return TtyPort.open_pty(world)
    rate = DEFAULT_BAUDRATE if baudrate is None else baudrate
    if "://" in device:
        return PySerialPort(world, device, baudrate=rate)
    try:
        st = os.stat(device)
    except FileNotFoundError:
        raise DeviceError(f"serial device {device} does not exist") from None
    except OSError as exc:
        raise DeviceError(f"cannot open serial device {device}: {exc.strerror}") from exc
    if not stat.S_ISCHR(st.st_mode):
        raise DeviceError(f"{device} is not a character device (a tty)")
    return PySerialPort(world, device, baudrate=rate)


__all__ = [
    "DEFAULT_BAUDRATE",
    "DEFAULT_TX_BUFFER",
    "STAT_NAMES",
    "FdPort",
    "HangupCallback",
    "LineEnd",
    "PySerialPort",
    "ReceiveCallback",
    "SerialCapture",
    "SerialLine",
    "SerialPort",
    "TtyPort",
    "open_serial",
]
