"""Link impairment: delay, jitter, rate, loss, duplication, reordering and corruption.

:class:`Impairment` is the engine: frames go in with :meth:`Impairment.submit` and come out
later through a delivery callback, shaped by :class:`LinkParams`. It draws every random
decision from the world's ``random.Random`` and schedules with the world's loop, so a
simulation with the same seed delivers the same frames at the same virtual instants.

The model of one direction of a link, in the order a frame meets it:

1. **Transmit queue and rate** (``bandwidth``, ``queue_limit``): frames are serialised one
   after another; a frame starts when the previous one has left, and takes
   ``8 * len / bandwidth`` seconds. A frame finding ``queue_limit`` frames still waiting or
   in serialisation is dropped (``queue_drops``). Without a bandwidth there is no queue.
2. **The wire** (``loss``, ``duplicate``, ``corrupt``): a lost frame still used its slot on
   the wire; a duplicated frame arrives twice; a corrupted copy has one random bit flipped.
3. **Propagation** (``latency``, ``jitter``): each copy arrives ``latency`` plus a uniform
   ``[0, jitter]`` after it left the transmitter. Jitter never reorders: a frame arrives no
   earlier than the frame sent before it (as on a real wire, or netem with a rate).
4. **Reordering** (``reorder``, ``reorder_delay``): a frame is held back by an extra
   ``reorder_delay`` (default ``latency + 1 ms``) so that later frames overtake it.

Nothing is ever delivered synchronously from :meth:`Impairment.submit`, even on an ideal
link: delivery happens from the loop (``call_soon``), so a sender is never re-entered by
its own frame.

:class:`LinkModel` wraps any EMAC with an impairment on its transmit path (and optionally
on its receive path).
"""

from __future__ import annotations

import collections
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netstack.drivers.emac.api import (
    LinkInputCallback,
    RxFlags,
    TxOffload,
)
from netstack.drivers.wrappers.base import EmacWrapper
from netstack.drivers.wrappers.capture import PartialChecksumFrame, finished
from netstack.wire import Buffer

if TYPE_CHECKING:
    import asyncio

    from netstack.drivers.emac.api import EMAC
    from netstack.runtime import World

log = logging.getLogger(__name__)

DeliverCallback = Callable[[bytes], None]

#: Counter names of :attr:`Impairment.stats`.
STAT_NAMES = (
    "submitted",
    "delivered",
    "lost",
    "duplicated",
    "corrupted",
    "reordered",
    "queue_drops",
)


def _probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class LinkParams:
    """How one direction of a link treats frames. The defaults are an ideal link.

    Times in seconds, ``bandwidth`` in bit/s (``None``: unlimited), probabilities in [0, 1].
    """

    latency: float = 0.0
    jitter: float = 0.0
    bandwidth: float | None = None
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    #: Extra hold-back of a reordered frame; ``None`` means ``latency + 1 ms``.
    reorder_delay: float | None = None
    corrupt: float = 0.0
    #: Frames waiting for (or in) serialisation beyond this are dropped. Needs a bandwidth.
    queue_limit: int = 1000

    def __post_init__(self) -> None:
        if not self.latency >= 0.0:
            raise ValueError(f"latency must be >= 0, got {self.latency!r}")
        if not self.jitter >= 0.0:
            raise ValueError(f"jitter must be >= 0, got {self.jitter!r}")
        if self.bandwidth is not None and not self.bandwidth > 0.0:
            raise ValueError(f"bandwidth must be > 0 bit/s or None, got {self.bandwidth!r}")
        if self.reorder_delay is not None and not self.reorder_delay >= 0.0:
            raise ValueError(f"reorder_delay must be >= 0, got {self.reorder_delay!r}")
        if self.queue_limit < 1:
            raise ValueError(f"queue_limit must be >= 1, got {self.queue_limit!r}")
        for name in ("loss", "duplicate", "reorder", "corrupt"):
            _probability(name, getattr(self, name))

    @property
    def effective_reorder_delay(self) -> float:
        if self.reorder_delay is not None:
            return self.reorder_delay
        return self.latency + 0.001

    @property
    def ideal(self) -> bool:
        """True if frames pass unchanged, in order, with no delay."""
        return (
            self.latency == 0.0
            and self.jitter == 0.0
            and self.bandwidth is None
            and self.loss == 0.0
            and self.duplicate == 0.0
            and self.reorder == 0.0
            and self.corrupt == 0.0
        )


class Impairment:
    """Shapes a stream of frames by :class:`LinkParams`; see the module docstring.

    Uses only ``world.rng`` and the world's loop. A probability of zero draws no random
    number, so an ideal link leaves the world's random sequence untouched.
    """

    def __init__(self, world: World, params: LinkParams, deliver: DeliverCallback) -> None:
        self._world = world
        self._loop = world.loop
        self._rng = world.rng
        self.params = params
        self._deliver = deliver
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        #: Departure times of frames still in (or waiting for) serialisation.
        self._tx_queue: collections.deque[float] = collections.deque()
        self._tx_free_at = 0.0
        #: In-order arrivals, non-decreasing in time: (arrival, frame, per-frame deliver).
        self._in_order: collections.deque[tuple[float, bytes, DeliverCallback]] = (
            collections.deque()
        )
        self._last_arrival = 0.0
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._timer_when = 0.0
        self._draining = False
        #: Timers of held-back (reordered) frames, so :meth:`cancel` can stop them.
        self._held: set[asyncio.TimerHandle] = set()

    @property
    def pending(self) -> int:
        """Frames accepted but not yet delivered."""
        return len(self._in_order) + len(self._held)

    def submit(self, frame: Buffer, *, deliver: DeliverCallback | None = None) -> bool:
        """Put a frame on the link. Returns False only if the transmit queue was full.

        ``deliver`` overrides the engine's delivery callback for this frame (a wrapper uses
        it to carry per-frame metadata such as a :class:`TxOffload`).
        """
        params = self.params
        rng = self._rng
        stats = self.stats
        stats["submitted"] += 1
        data = frame if type(frame) is PartialChecksumFrame else bytes(frame)
        callback = deliver or self._deliver
        now = self._loop.time()

        departure = now
        if params.bandwidth is not None:
            queue = self._tx_queue
            while queue and queue[0] <= now:
                queue.popleft()
            if len(queue) >= params.queue_limit:
                stats["queue_drops"] += 1
                return False
            start = self._tx_free_at if self._tx_free_at > now else now
            departure = start + len(data) * 8 / params.bandwidth
            self._tx_free_at = departure
            queue.append(departure)

        if params.loss and rng.random() < params.loss:
            stats["lost"] += 1
            return True
        copies = 1
        if params.duplicate and rng.random() < params.duplicate:
            stats["duplicated"] += 1
            copies = 2
        for _ in range(copies):
            copy = data
            if params.corrupt and data and rng.random() < params.corrupt:
                stats["corrupted"] += 1
                bit = rng.randrange(len(data) * 8)
                flipped = bytearray(finished(data))  # a wire flips bits of the real sum
                flipped[bit >> 3] ^= 0x80 >> (bit & 7)
                copy = bytes(flipped)
            arrival = departure + params.latency
            if params.jitter:
                arrival += rng.uniform(0.0, params.jitter)
            if params.reorder and rng.random() < params.reorder:
                stats["reordered"] += 1
                self._hold_back(arrival + params.effective_reorder_delay, copy, callback)
                continue
            if arrival < self._last_arrival:
                arrival = self._last_arrival
            self._last_arrival = arrival
            self._in_order.append((arrival, copy, callback))
            if self._timer is None and not self._draining:
                self._arm(arrival)
        return True

    def cancel(self) -> int:
        """Drop every frame still in flight (e.g. the device powered down); return how many."""
        dropped = self.pending
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for handle in self._held:
            handle.cancel()
        self._held.clear()
        self._in_order.clear()
        self._tx_queue.clear()
        self._tx_free_at = 0.0
        self._last_arrival = 0.0
        return dropped

    def _arm(self, when: float) -> None:
        self._timer_when = when
        if when <= self._loop.time():
            self._timer = self._loop.call_soon(self._drain)
        else:
            self._timer = self._loop.call_at(when, self._drain)

    def _drain(self) -> None:
        """Deliver every in-order frame that is due, then re-arm for the next one."""
        self._timer = None
        self._draining = True
        queue = self._in_order
        # The loop may fire a timer up to its clock resolution early: honour the deadline
        # the timer was armed for, not only the clock.
        due = max(self._loop.time(), self._timer_when)
        stats = self.stats
        # Frames submitted by the callbacks below wait for the next turn of the loop.
        budget = len(queue)
        try:
            while budget and queue and queue[0][0] <= due:
                budget -= 1
                _, frame, callback = queue.popleft()
                stats["delivered"] += 1
                callback(frame)
        finally:
            self._draining = False
            if queue and self._timer is None:
                self._arm(queue[0][0])

    def _hold_back(self, when: float, frame: bytes, callback: DeliverCallback) -> None:
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._held.discard(handle)
            self.stats["delivered"] += 1
            callback(frame)

        handle = self._loop.call_at(when, fire)
        self._held.add(handle)


class LinkModel(EmacWrapper):
    """An EMAC wrapper that impairs the frames ``inner`` sends (and, with ``rx_params``,
    the frames it receives). Everything else is forwarded to ``inner`` unchanged;
    :class:`TxOffload` and :class:`RxFlags` travel with their frames.

    ``link_out`` returns False when ``inner``'s link is down or the transmit queue is full;
    a frame lost on the wire counts as sent, as on real hardware. Powering down drops
    frames still in flight.
    """

    def __init__(
        self,
        inner: EMAC,
        world: World,
        params: LinkParams,
        *,
        rx_params: LinkParams | None = None,
    ) -> None:
        super().__init__(inner)
        self._world = world
        self.tx = Impairment(world, params, self._send_inner)
        self.rx: Impairment | None = None
        self._input_cb: LinkInputCallback | None = None
        if rx_params is not None:
            self.rx = Impairment(world, rx_params, self._receive)
            inner.set_link_input_cb(self._on_inner_input)

    # --- data path -------------------------------------------------------------------

    def link_out(self, frame: Buffer, offload: TxOffload | None = None) -> bool:
        if not self.inner.link_up:
            return False
        if offload is None:
            return self.tx.submit(frame)
        return self.tx.submit(frame, deliver=functools.partial(self._send_inner, offload=offload))

    def _send_inner(self, frame: bytes, offload: TxOffload | None = None) -> None:
        if not self.inner.link_out(frame, offload):
            log.debug("LinkModel: inner driver dropped a %d-byte frame", len(frame))

    def _on_inner_input(self, frame: memoryview, flags: RxFlags) -> None:
        assert self.rx is not None
        if flags == RxFlags.NONE:
            self.rx.submit(frame)
        else:
            self.rx.submit(frame, deliver=functools.partial(self._receive, flags=flags))

    def _receive(self, frame: bytes, flags: RxFlags = RxFlags.NONE) -> None:
        cb = self._input_cb
        if cb is not None:
            cb(memoryview(frame), flags)

    # --- what this wrapper changes of the forwarded contract (EmacWrapper) ---------
    def power_down(self) -> None:
        self.tx.cancel()
        if self.rx is not None:
            self.rx.cancel()
        self.inner.power_down()

    def set_link_input_cb(self, cb: LinkInputCallback | None) -> None:
        self._input_cb = cb
        if self.rx is None:
            self.inner.set_link_input_cb(cb)


__all__ = ["STAT_NAMES", "Impairment", "LinkModel", "LinkParams"]
