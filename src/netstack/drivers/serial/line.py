"""An in-memory serial cable for simulations: two :class:`LineEnd` ports in one world.

:class:`SerialLine` is a full-duplex null-modem cable between ``line.a`` and ``line.b``,
each a :class:`~netstack.drivers.serial.api.SerialPort`. The model of one direction:

1. **The UART transmitter** sends 8N1 characters (start bit, 8 data bits, stop bit): one
   byte per 10 bit times, so a line of ``baudrate`` bit/s carries ``baudrate / 10`` bytes
   per second. Bytes are sent back to back in the order written; a write that finds the
   transmitter idle starts at once. The transmit buffer holds what has not been sent yet
   (``write_pending``); a write that would take it beyond ``tx_buffer`` bytes is refused
   whole (``tx_refused``). ``baudrate=None`` serialises instantly (for fast tests).
2. **The wire**: with ``bit_error_rate`` each data bit is flipped independently with that
   probability. Clean stretches cost nothing: the gap to the next bad bit is drawn from
   the geometric distribution, one random number per error. The generators (one per
   direction) are ``random.Random`` instances seeded from ``world.rng`` when the line is
   built, so the same seed corrupts the same bits; a line without errors draws nothing
   from ``world.rng``.
3. **Delivery**: a byte reaches the other end's receive callback when its stop bit has
   arrived, plus ``delay`` (propagation, modem latency). Bytes are delivered in chunks,
   not one loop callback per byte: a chunk ends at the end of each write, or after
   ``max_chunk`` bytes of a longer write, and is delivered at the instant its last byte
   arrives. Chunks due at the same instant are delivered together. Nothing is ever
   delivered from inside ``write()``, even with ``baudrate=None`` and no delay.

Ends and hang-ups:

- :meth:`LineEnd.close` closes one end: it stops receiving (what was in flight to it is
  lost) and refuses writes. What it had already written still goes out; once that has
  arrived, the other end gets its hang-up callback and is closed too.
- :meth:`SerialLine.cut` unplugs the cable: everything in flight is lost and both ends get
  a hang-up callback (from the loop) and are closed.

Counters of each end (``stats()``): ``tx_bytes``, ``tx_refused``, ``rx_bytes``,
``rx_dropped`` (received with no receive callback set), ``bit_errors`` (bits flipped in
bytes this end received) and ``hangups``.
"""

from __future__ import annotations

import collections
import logging
import math
import random
from typing import TYPE_CHECKING

from netstack.drivers.serial.api import (
    DEFAULT_TX_BUFFER,
    STAT_NAMES,
    HangupCallback,
    ReceiveCallback,
)
from netstack.wire import Buffer

if TYPE_CHECKING:
    import asyncio

    from netstack.runtime import World

log = logging.getLogger(__name__)

#: Bit times per byte on an 8N1 asynchronous line: start bit, 8 data bits, stop bit.
BITS_PER_BYTE = 10
#: Largest chunk of a long write delivered in one receive callback.
DEFAULT_MAX_CHUNK = 64

LINE_STAT_NAMES = (*STAT_NAMES, "bit_errors", "hangups")

# Slack when converting elapsed time to whole bytes sent: times are floats, and a byte due
# at exactly ``now`` must count as sent.
_EPSILON = 1e-6


class _Direction:
    """One direction of the cable: ``src``'s UART transmitter and the wire to ``dst``."""

    __slots__ = (
        "_burst",
        "_epoch",
        "_fifo",
        "_log_keep",
        "_loop",
        "_next_error",
        "_rng",
        "_sent_bits",
        "_timer",
        "byte_time",
        "delay",
        "dst",
        "max_chunk",
        "src",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        src: LineEnd,
        dst: LineEnd,
        *,
        baudrate: int | None,
        delay: float,
        bit_error_rate: float,
        rng: random.Random | None,
        max_chunk: int,
    ) -> None:
        self._loop = loop
        self.src = src
        self.dst = dst
        self.byte_time = BITS_PER_BYTE / baudrate if baudrate else 0.0
        self.delay = delay
        self.max_chunk = max_chunk
        # The current burst: bytes sent back to back since the transmitter last went idle.
        # Byte k (from 0) of the burst has left the transmitter at epoch + (k+1) byte times.
        self._epoch = 0.0
        self._burst = 0
        #: In flight, in order: (arrival time, data or None for a hang-up, bits flipped).
        self._fifo: collections.deque[tuple[float, bytes | None, int]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        # Bit errors: data bits sent so far, and the position of the next flipped bit.
        self._rng = rng
        # log(1 - p), the log of the probability that a bit arrives intact.
        self._log_keep = math.log1p(-bit_error_rate) if bit_error_rate < 1.0 else -math.inf
        self._sent_bits = 0
        self._next_error = self._gap() if rng is not None else 0

    def pending(self, now: float) -> int:
        """Bytes accepted but not yet serialised at ``now``."""
        if not self._burst or not self.byte_time:
            return 0
        done = int((now - self._epoch) / self.byte_time + _EPSILON)
        return self._burst - done if done < self._burst else 0

    def send(self, data: bytes, now: float) -> None:
        """Serialise ``data`` after whatever is still pending (accepted by the caller)."""
        size = len(data)
        if not self.pending(now):
            self._epoch = now
            self._burst = 0
        first = self._burst
        self._burst = first + size
        flips: list[int] = []
        if self._rng is not None:
            data, flips = self._corrupt(data)
        base = self._epoch + first * self.byte_time + self.delay
        chunk = self.max_chunk if self.byte_time else size
        fifo = self._fifo
        flip_at = 0
        for start in range(0, size, chunk):
            end = min(start + chunk, size)
            errors = 0
            while flip_at < len(flips) and flips[flip_at] < end:
                errors += 1
                flip_at += 1
            piece = data if end - start == size else data[start:end]
            fifo.append((base + end * self.byte_time, piece, errors))
        if self._timer is None:
            self._arm()

    def send_hangup(self, now: float) -> None:
        """The source end closed: the destination hangs up after the last byte arrives."""
        when = now + self.delay
        if self._fifo and self._fifo[-1][0] > when:
            when = self._fifo[-1][0]
        self._fifo.append((when, None, 0))
        if self._timer is None:
            self._arm()

    def drop(self) -> None:
        """Lose everything in flight and stop the transmitter."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._fifo.clear()
        self._burst = 0

    # --- bit errors -------------------------------------------------------------------------

    def _gap(self) -> int:
        """Clean bits before the next flipped one: geometric with p = bit_error_rate."""
        assert self._rng is not None
        # 1 - random() is in (0, 1]; log_keep is -inf for p = 1 (every bit flips).
        return int(math.log(1.0 - self._rng.random()) / self._log_keep)

    def _corrupt(self, data: bytes) -> tuple[bytes, list[int]]:
        """Flip the bits of ``data`` the error process hits; return the data and the byte
        index of each flip (in order)."""
        start = self._sent_bits
        end = start + 8 * len(data)
        self._sent_bits = end
        if self._next_error >= end:
            return data, []
        buf = bytearray(data)
        flips: list[int] = []
        while self._next_error < end:
            bit = self._next_error - start
            buf[bit >> 3] ^= 1 << (bit & 7)  # a UART sends the least significant bit first
            flips.append(bit >> 3)
            self._next_error += 1 + self._gap()
        return bytes(buf), flips

    # --- delivery ---------------------------------------------------------------------------

    def _arm(self) -> None:
        self._timer = self._loop.call_at(self._fifo[0][0], self._deliver)

    def _deliver(self) -> None:
        self._timer = None
        fifo = self._fifo
        now = self._loop.time()
        parts: list[bytes] = []
        errors = 0
        hangup = False
        while fifo and fifo[0][0] <= now:
            _, data, flipped = fifo.popleft()
            if data is None:
                hangup = True  # nothing follows a hang-up
                fifo.clear()
                break
            parts.append(data)
            errors += flipped
        dst = self.dst
        if parts and dst.is_open:
            dst._receive(parts[0] if len(parts) == 1 else b"".join(parts), errors)
        if hangup:
            dst._hang_up()
        elif fifo and self._timer is None:
            self._arm()


class LineEnd:
    """One end of a :class:`SerialLine`; implements the SerialPort contract."""

    def __init__(self, line: SerialLine, name: str) -> None:
        self.line = line
        self.name = name
        self._open = True
        self._tx: _Direction | None = None
        self._rx: _Direction | None = None
        self._rx_cb: ReceiveCallback | None = None
        self._hangup_cb: HangupCallback | None = None
        self._stats: dict[str, int] = dict.fromkeys(LINE_STAT_NAMES, 0)

    @property
    def peer(self) -> LineEnd:
        """The other end of the cable."""
        return self.line.b if self is self.line.a else self.line.a

    # --- SerialPort ----------------------------------------------------------------------

    @property
    def baudrate(self) -> int | None:
        return self.line.baudrate

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def write_pending(self) -> int:
        if not self._open:
            return 0
        assert self._tx is not None
        return self._tx.pending(self.line.world.now())

    def write(self, data: Buffer) -> bool:
        tx = self._tx
        assert tx is not None
        stats = self._stats
        size = len(data)
        if not self._open:
            stats["tx_refused"] += 1
            return False
        now = self.line.world.now()
        if tx.pending(now) + size > self.line.tx_buffer:
            stats["tx_refused"] += 1
            return False
        if size:
            stats["tx_bytes"] += size
            tx.send(bytes(data), now)
        return True

    def set_receive_cb(self, cb: ReceiveCallback | None) -> None:
        self._rx_cb = cb

    def set_hangup_cb(self, cb: HangupCallback | None) -> None:
        self._hangup_cb = cb

    def close(self) -> None:
        """Close this end; the peer hangs up once what this end wrote has arrived.
        Idempotent."""
        if not self._open:
            return
        self._open = False
        assert self._tx is not None and self._rx is not None
        self._rx.drop()
        if self.peer._open:
            self._tx.send_hangup(self.line.world.now())
        else:
            self._tx.drop()

    def stats(self) -> dict[str, int]:
        return dict(self._stats)

    # --- the line's side -------------------------------------------------------------------

    def _receive(self, data: bytes, bit_errors: int) -> None:
        stats = self._stats
        cb = self._rx_cb
        if cb is None:
            stats["rx_dropped"] += len(data)
            return
        stats["rx_bytes"] += len(data)
        stats["bit_errors"] += bit_errors
        cb(data)

    def _hang_up(self) -> None:
        """The far end went away: close and tell the user."""
        if self._disconnect():
            self._report_hangup()

    def _disconnect(self) -> bool:
        """Close without telling the peer, losing what is in flight both ways; False if
        already closed."""
        if not self._open:
            return False
        self._open = False
        assert self._tx is not None and self._rx is not None
        self._tx.drop()
        self._rx.drop()
        return True

    def _report_hangup(self) -> None:
        self._stats["hangups"] += 1
        log.debug("%s: hang-up", self.name)
        cb = self._hangup_cb
        if cb is not None:
            cb()

    def __repr__(self) -> str:
        return f"<LineEnd {self.name} {'open' if self._open else 'closed'}>"


class SerialLine:
    """A simulated full-duplex serial cable with ends :attr:`a` and :attr:`b`; see the
    module docstring. ``baudrate`` in bit/s (None: instant), ``delay`` in seconds,
    ``bit_error_rate`` in [0, 1], ``tx_buffer`` in bytes (per end)."""

    def __init__(
        self,
        world: World,
        *,
        baudrate: int | None = 115200,
        bit_error_rate: float = 0.0,
        delay: float = 0.0,
        tx_buffer: int = DEFAULT_TX_BUFFER,
        name: str = "line",
        max_chunk: int = DEFAULT_MAX_CHUNK,
    ) -> None:
        if baudrate is not None and not baudrate > 0:
            raise ValueError(f"baudrate must be > 0 or None, got {baudrate!r}")
        if not 0.0 <= bit_error_rate <= 1.0:
            raise ValueError(f"bit_error_rate must be in [0, 1], got {bit_error_rate!r}")
        if not delay >= 0.0:
            raise ValueError(f"delay must be >= 0, got {delay!r}")
        if tx_buffer < 1:
            raise ValueError(f"tx_buffer must be >= 1, got {tx_buffer}")
        if max_chunk < 1:
            raise ValueError(f"max_chunk must be >= 1, got {max_chunk}")
        self.world = world
        self.name = name
        self.baudrate = baudrate
        self.bit_error_rate = bit_error_rate
        self.delay = delay
        self.tx_buffer = tx_buffer
        self.a = LineEnd(self, f"{name}.a")
        self.b = LineEnd(self, f"{name}.b")
        self._cut = False
        rng_ab = rng_ba = None
        if bit_error_rate > 0.0:
            rng_ab = random.Random(world.rng.getrandbits(64))
            rng_ba = random.Random(world.rng.getrandbits(64))
        ab = _Direction(
            world.loop,
            self.a,
            self.b,
            baudrate=baudrate,
            delay=delay,
            bit_error_rate=bit_error_rate,
            rng=rng_ab,
            max_chunk=max_chunk,
        )
        ba = _Direction(
            world.loop,
            self.b,
            self.a,
            baudrate=baudrate,
            delay=delay,
            bit_error_rate=bit_error_rate,
            rng=rng_ba,
            max_chunk=max_chunk,
        )
        self.a._tx = self.b._rx = ab
        self.b._tx = self.a._rx = ba

    @property
    def byte_time(self) -> float:
        """Seconds per byte on the line (10 bit times; 0 without a baud rate)."""
        return BITS_PER_BYTE / self.baudrate if self.baudrate else 0.0

    @property
    def is_cut(self) -> bool:
        return self._cut

    def cut(self) -> None:
        """Unplug the cable: what is in flight is lost, and both ends (those still open) get
        their hang-up callbacks from the loop and close."""
        if self._cut:
            return
        self._cut = True
        for end in (self.a, self.b):
            if end._disconnect():
                self.world.call_soon(end._report_hangup)

    def __repr__(self) -> str:
        return f"<SerialLine {self.name} {self.baudrate} bit/s>"


__all__ = ["BITS_PER_BYTE", "LineEnd", "SerialLine"]
