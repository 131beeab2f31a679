"""DeadlineTimer: the one loop timer a protocol machine needs.

Every machine exposes a single deadline (``get_timer()``); its glue re-arms one loop
callback whenever that deadline changes, and does nothing when it did not — so a busy
connection does not cancel and reschedule a timer per packet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from netstack.runtime.world import World


class DeadlineTimer:
    """Calls ``callback`` once at the armed deadline (re-arm to move or clear it)."""

    __slots__ = ("_callback", "_handle", "_when", "_world")

    def __init__(self, world: World, callback: Callable[[], object]) -> None:
        self._world = world
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._when: float | None = None

    @property
    def when(self) -> float | None:
        return self._when

    def arm(self, when: float | None) -> None:
        """Fire at ``when`` (None: not at all); no work if the deadline is unchanged."""
        if when == self._when:
            return
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._when = when
        if when is not None:
            self._handle = self._world.call_at(when, self._fire)

    def cancel(self) -> None:
        self.arm(None)

    def _fire(self) -> None:
        self._handle = None
        self._when = None
        self._callback()
