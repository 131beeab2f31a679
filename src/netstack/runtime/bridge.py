"""Real mode: the standard event loop in a background thread, and the bridge to it.

Blocking callers in other threads (the embedded model, stdlib-style code) submit
coroutines or plain callables to the loop; their results come back through futures, and
timeouts are honoured on the caller's side. This is the only place netstack starts a thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from netstack.errors import NetworkTimeoutError
from netstack.runtime.world import World

T = TypeVar("T")


class Runtime:
    """Owns a real-mode :class:`World` whose loop runs in a daemon thread.

    >>> with Runtime() as rt:
    ...     rt.call(lambda: 1 + 1)
    2
    """

    def __init__(self, *, seed: int | None = None) -> None:
        loop = asyncio.new_event_loop()
        if seed is None:
            seed = int.from_bytes(__import__("os").urandom(8), "big")
        self.world = World(loop, seed=seed)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="netstack-runtime", daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        loop = self.world.loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.world.loop

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop and wait for its result (from another thread).

        Raises :class:`~netstack.errors.NetworkTimeoutError` if ``timeout`` expires; the
        coroutine is then cancelled on the loop.
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("Runtime.run() called from the loop thread would deadlock")
        future = asyncio.run_coroutine_threadsafe(coro, self.world.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            # the same class as builtins.TimeoutError: the coroutine's own (a socket timeout,
            # ConnectionTimeoutError) passes through; only the wait's expiry is ours
            if future.done() and not future.cancelled() and future.exception() is exc:
                raise
            future.cancel()
            raise NetworkTimeoutError(f"operation timed out after {timeout} s") from None

    def call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run a plain callable on the loop thread and return its result."""
        if self.in_loop_thread():
            return fn()

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)

    def close(self) -> None:
        loop = self.world.loop
        if self._thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
