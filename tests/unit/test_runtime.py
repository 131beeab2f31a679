"""The virtual-time loop, worlds and the real-mode runtime bridge."""

import asyncio
import threading
import time

import pytest

from netstack.errors import NetworkTimeoutError
from netstack.runtime import DeadlockError, Runtime, World


def test_virtual_minute_passes_without_waiting():
    world = World.simulated(seed=1)
    start = time.perf_counter()
    world.run_for(60.0)
    assert world.now() == 60.0
    assert time.perf_counter() - start < 1.0  # generous: the point is "not 60 s"


def test_clock_jumps_exactly_to_each_deadline():
    world = World.simulated()
    seen: list[float] = []
    for when in (0.1, 0.3, 2.5, 2.5, 7.0):
        world.call_at(when, lambda: seen.append(world.now()))
    world.run_for(10.0)
    assert seen == [0.1, 0.3, 2.5, 2.5, 7.0]


def test_callbacks_at_equal_times_run_in_scheduling_order():
    world = World.simulated()
    order: list[int] = []
    for i in range(20):
        world.call_at(1.0, lambda i=i: order.append(i))
    world.run_for(2.0)
    assert order == list(range(20))


def test_idle_loop_reports_deadlock_instead_of_hanging():
    world = World.simulated()

    async def wait_forever() -> None:
        await world.loop.create_future()

    with pytest.raises(DeadlockError):
        world.run(wait_forever())


def test_world_random_is_seeded():
    a = [World.simulated(seed=5).rng.random() for _ in range(3)]
    b = [World.simulated(seed=5).rng.random() for _ in range(3)]
    c = World.simulated(seed=6).rng.random()
    assert a == b
    assert c != a[0]


def test_sleep_uses_virtual_time():
    world = World.simulated()

    async def main() -> float:
        await asyncio.sleep(3600)
        return world.now()

    assert world.run(main()) == 3600.0


def test_runtime_runs_coroutines_from_another_thread():
    with Runtime(seed=1) as rt:

        async def add() -> int:
            await asyncio.sleep(0.001)
            return 42

        assert rt.run(add(), timeout=5) == 42
        assert rt.call(threading.current_thread) is rt._thread


def test_runtime_timeout_raises_and_cancels():
    with Runtime(seed=1) as rt:
        cancelled = threading.Event()

        async def slow() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        with pytest.raises(NetworkTimeoutError):
            rt.run(slow(), timeout=0.05)
        assert cancelled.wait(2)


def test_runtime_run_from_loop_thread_is_refused():
    with Runtime(seed=1) as rt:

        async def inner() -> int:
            return 1

        async def outer() -> str:
            coro = inner()
            try:
                rt.run(coro)
            except RuntimeError as exc:
                return str(exc)
            return "no error"

        assert "deadlock" in rt.run(outer(), timeout=5)


def test_deadline_timer_fires_once_and_only_rearms_on_change():
    from netstack.runtime.timer import DeadlineTimer

    world = World.simulated()
    fired: list[float] = []
    timer = DeadlineTimer(world, lambda: fired.append(world.now()))
    timer.arm(5.0)
    handle = timer._handle
    timer.arm(5.0)  # unchanged: the same loop callback stays
    assert timer._handle is handle
    timer.arm(3.0)  # moved earlier
    world.run_for(10.0)
    assert fired == [3.0]
    assert timer.when is None
    timer.arm(12.0)
    timer.cancel()
    world.run_for(10.0)
    assert fired == [3.0]
