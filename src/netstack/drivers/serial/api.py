"""The SerialPort contract: bytes in, bytes out, a receive callback, a hang-up callback.

A serial port moves an unstructured byte stream in both directions. It knows nothing about
what the bytes mean (PPP framing, AT commands): that belongs to the link adapter above it.

- :meth:`SerialPort.write` never blocks. It either queues *all* of the data (True) or
  *none* of it (False: the port is closed, or the data would overflow the port's transmit
  buffer of ``tx_buffer`` bytes). :attr:`SerialPort.write_pending` says how much accepted
  data has not reached the line yet, so a sender can pace itself.
- Received bytes go to the receive callback in chunks of any size, always from the world's
  event loop: never from another thread and never from inside :meth:`SerialPort.write`,
  so a callback may write (echo) without recursing into itself.
- The hang-up callback runs once when the far end goes away (a pty whose other side was
  closed, EOF or EIO on a device, a simulated line cut or closed at the other end). The
  port is closed by then: :attr:`SerialPort.is_open` is False and writes are refused.
- :meth:`SerialPort.close` is idempotent and never calls the hang-up callback of its own
  port.

Counters (:meth:`SerialPort.stats`, every port has at least these; see :data:`STAT_NAMES`):

``tx_bytes``
    bytes accepted by ``write()`` (including those still pending)
``tx_refused``
    ``write()`` calls refused (closed, or the transmit buffer would overflow)
``rx_bytes``
    bytes received from the line and handed to the receive callback
``rx_dropped``
    bytes received while no receive callback was set (discarded)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from netstack.wire import Buffer

#: Called with each chunk of received bytes.
ReceiveCallback = Callable[[bytes], None]
#: Called once when the far end goes away; the port is closed by then.
HangupCallback = Callable[[], None]

#: Counters every :class:`SerialPort` keeps (drivers may add their own).
STAT_NAMES = ("tx_bytes", "tx_refused", "rx_bytes", "rx_dropped")

#: Default size of a port's transmit buffer, in bytes.
DEFAULT_TX_BUFFER = 65536


@runtime_checkable
class SerialPort(Protocol):
    """A full-duplex byte stream to a peer; see the module docstring."""

    @property
    def baudrate(self) -> int | None:
        """Bits per second on the line; None when unknown or unlimited (a pty)."""
        ...

    @property
    def is_open(self) -> bool: ...

    @property
    def write_pending(self) -> int:
        """Bytes accepted by :meth:`write` but not yet on the line."""
        ...

    def write(self, data: Buffer) -> bool:
        """Queue all of ``data`` (True), or nothing (False: closed, or the transmit buffer
        would overflow). Never blocks."""
        ...

    def set_receive_cb(self, cb: ReceiveCallback | None) -> None: ...

    def set_hangup_cb(self, cb: HangupCallback | None) -> None: ...

    def close(self) -> None:
        """Stop using the port; idempotent."""
        ...

    def stats(self) -> dict[str, int]:
        """A copy of the port's counters (see :data:`STAT_NAMES`)."""
        ...


__all__ = [
    "DEFAULT_TX_BUFFER",
    "STAT_NAMES",
    "HangupCallback",
    "ReceiveCallback",
    "SerialPort",
]
