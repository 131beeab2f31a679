"""A world: what shares one event loop, one clock and one seeded random generator."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from netstack.runtime.virtual import VirtualTimeLoop

T = TypeVar("T")


class World:
    """One loop, one clock, one ``random.Random``.

    A simulation (all its nodes) is one world on a :class:`VirtualTimeLoop`; a real process
    with its TAPs and serial ports is one world on the standard loop. Stack code takes time
    from :meth:`now` and randomness from :attr:`rng`, never from ``time`` or ``random``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, seed: int = 0) -> None:
        self.loop = loop
        self.seed = seed
        self.rng = random.Random(seed)
        self._hwaddrs: set[bytes] = set()
        self._next_hwaddr = 1

    @classmethod
    def simulated(cls, seed: int = 0, start: float = 0.0) -> World:
        """A world on a fresh virtual-time loop."""
        return cls(VirtualTimeLoop(start), seed=seed)

    @property
    def virtual(self) -> bool:
        return isinstance(self.loop, VirtualTimeLoop)

    def now(self) -> float:
        """Seconds on the world's clock."""
        return self.loop.time()

    def allocate_hwaddr(self) -> bytes:
        """The world's next free locally administered unicast MAC (02:00:00:00:00:01, …).

        Simulated NICs take their addresses from here, so a world's addresses depend only on
        the order its ports are created in.
        """
        while True:
            n = self._next_hwaddr
            self._next_hwaddr += 1
            mac = b"\x02\x00" + n.to_bytes(4, "big")
            if mac not in self._hwaddrs:
                self._hwaddrs.add(mac)
                return mac

    def reserve_hwaddr(self, mac: bytes) -> None:
        """Mark ``mac`` as taken so :meth:`allocate_hwaddr` never hands it out."""
        self._hwaddrs.add(bytes(mac))

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return self.loop.call_at(when, callback)

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return self.loop.call_later(delay, callback)

    def call_soon(self, callback: Callable[[], object]) -> asyncio.Handle:
        return self.loop.call_soon(callback)

    def run(self, main: Awaitable[T]) -> T:
        """Run ``main`` to completion on this world's loop (from outside the loop)."""
        return self.loop.run_until_complete(main)

    def run_for(self, seconds: float) -> None:
        """Let the world run for ``seconds`` of its own clock."""
        self.loop.run_until_complete(asyncio.sleep(seconds))

    def close(self) -> None:
        """Cancel what still runs on the loop (service tasks, pending waits), then close it."""
        loop = self.loop
        if loop.is_closed() or loop.is_running():
            return
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
