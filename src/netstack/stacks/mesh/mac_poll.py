"""A sleepy device's side of indirect transmission (IEEE 802.15.4-2015 §6.7.3.3): after
the ack of its Data Request said a frame is pending, the device listens up to
macMaxFrameTotalWaitTime for it. :class:`PollWaits` keeps those waits and their one timer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from netstack.runtime.timer import DeadlineTimer
from netstack.runtime.world import World
from netstack.stacks.mesh.mac_api import Address, MacStatus

__all__ = ["PollDone", "PollWaits"]

PollDone = Callable[[MacStatus], None]


@dataclass(slots=True, eq=False)
class _Wait:
    coordinator: tuple[Address, ...]  # the coordinator's addresses (short and extended)
    done: PollDone | None
    deadline: float


class PollWaits:
    """Polls waiting for their frame. ``wait_time`` is macMaxFrameTotalWaitTime in seconds;
    ``stats`` the MAC's counters (``polls_data``, ``polls_no_data``); ``idle()`` is called
    whenever a wait ends, so a sleepy radio can go back to sleep. There is at most one wait
    per Data Request the MAC sent, so the transmit queue's limit bounds them."""

    def __init__(
        self, world: World, wait_time: float, stats: dict[str, int], idle: Callable[[], None]
    ) -> None:
        self.world = world
        self.wait_time = wait_time
        self._stats = stats
        self._idle = idle
        self._waits: deque[_Wait] = deque()
        self._timer = DeadlineTimer(world, self._timeout)

    def __bool__(self) -> bool:
        return bool(self._waits)

    def sent(
        self,
        coordinator: tuple[Address, ...],
        done: PollDone | None,
        status: MacStatus,
        pending: bool,
    ) -> None:
        """The Data Request to ``coordinator`` ended with ``status``; its ack had Frame
        Pending set if ``pending``: then wait for the frame, else report NO_DATA."""
        if status is MacStatus.SUCCESS and pending:
            deadline = self.world.now() + self.wait_time
            self._waits.append(_Wait(coordinator, done, deadline))
            self._timer.arm(self._waits[0].deadline)
            return
        if status is MacStatus.SUCCESS:
            self._stats["polls_no_data"] += 1
            status = MacStatus.NO_DATA
        if done is not None:
            done(status)

    def answered(self, src: Address, got_data: bool) -> None:
        """A data frame came from ``src``: with a payload it ends the oldest wait for that
        coordinator with SUCCESS, an empty one (nothing was there) with NO_DATA."""
        for wait in self._waits:
            if src in wait.coordinator:
                self._waits.remove(wait)
                break
        else:
            return
        self._stats["polls_data" if got_data else "polls_no_data"] += 1
        self._timer.arm(self._waits[0].deadline if self._waits else None)
        if wait.done is not None:
            wait.done(MacStatus.SUCCESS if got_data else MacStatus.NO_DATA)
        self._idle()

    def abort(self) -> list[PollDone]:
        """Drop every wait; their callbacks, for the caller to complete."""
        self._timer.cancel()
        dones = [wait.done for wait in self._waits if wait.done is not None]
        self._waits.clear()
        return dones

    def _timeout(self) -> None:
        now = self.world.now()
        waits = self._waits
        while waits and waits[0].deadline <= now:
            wait = waits.popleft()
            self._stats["polls_no_data"] += 1
            if wait.done is not None:
                wait.done(MacStatus.NO_DATA)
        self._timer.arm(waits[0].deadline if waits else None)
        self._idle()
