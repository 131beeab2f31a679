"""Clocks and event loops: the virtual-time loop, worlds, and the real-mode runtime bridge."""

from netstack.runtime.bridge import Runtime
from netstack.runtime.virtual import DeadlockError, VirtualTimeLoop
from netstack.runtime.world import World

__all__ = ["DeadlockError", "Runtime", "VirtualTimeLoop", "World"]
