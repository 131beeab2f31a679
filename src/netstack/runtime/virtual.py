"""A virtual-time asyncio event loop.

The loop's clock only moves when nothing is ready: it then jumps exactly to the next timer's
deadline (no sleeping, no drift), so a simulated minute passes in milliseconds and two runs
with the same inputs schedule callbacks in the same order. When nothing is scheduled and
nothing is ready while the loop is asked to wait, the loop raises :class:`DeadlockError`
instead of hanging forever.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import selectors
from collections.abc import Callable
from contextvars import Context
from typing import Any


class DeadlockError(RuntimeError):
    """The virtual-time loop has nothing ready and nothing scheduled, yet is waiting."""


class _VirtualSelector(selectors.DefaultSelector):
    """A selector whose waits advance the loop's virtual clock instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if events or (timeout is not None and timeout <= 0):
            return events
        loop = self.loop
        assert loop is not None
        loop._advance(timeout)
        return events


class _OrderedTimerHandle(asyncio.TimerHandle):
    """A timer that breaks deadline ties by scheduling order (FIFO).

    asyncio's heap compares deadlines only, so timers due at the same instant run in an
    order that depends on heap history; two frames sent back to back over a fixed-latency
    link could then arrive swapped. Ordering ties by a sequence number keeps causality.
    """

    __slots__ = ("_seq",)

    def __init__(
        self,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: Context | None,
        seq: int,
    ) -> None:
        super().__init__(when, callback, args, loop, context)
        self._seq = seq

    def __lt__(self, other: object) -> bool:
        if isinstance(other, _OrderedTimerHandle):
            return (self._when, self._seq) < (other._when, other._seq)  # type: ignore[attr-defined]
        return super().__lt__(other)  # type: ignore[operator]


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is virtual and jumps to the next deadline when idle.

    Real file descriptors may still be registered (they are polled without waiting), but a
    simulation normally has none besides the loop's own self-pipe.
    """

    def __init__(self, start: float = 0.0) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = float(start)
        self._seq = itertools.count()

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        self._check_closed()  # type: ignore[attr-defined]
        timer = _OrderedTimerHandle(when, callback, args, self, context, next(self._seq))
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def time(self) -> float:
        return self._now

    def _advance(self, timeout: float | None) -> None:
        scheduled: list[Any] = self._scheduled  # type: ignore[attr-defined]
        if not scheduled:
            if self._stopping:  # type: ignore[attr-defined]
                return
            raise DeadlockError("virtual-time loop idle: nothing ready and no timer scheduled")
        deadline: float = scheduled[0].when()
        if timeout is not None and self._now + timeout < deadline:
            # asyncio caps one wait at a day; honour that step exactly.
            self._now += timeout
        elif deadline > self._now:
            self._now = deadline
