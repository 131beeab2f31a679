"""ReadinessFd: a real file descriptor that mirrors a netstack socket's readiness.

A netstack socket has no kernel descriptor, but ``select``, ``selectors`` and event loops
need one. A :class:`ReadinessFd` is one end (:attr:`ReadinessFd.outer`) of a
``socketpair``: the application polls it, and the loop thread sets its state with
:meth:`ReadinessFd.set` from the socket's sigio callback and after every operation —

- *readable* while one byte waits in it (written by the other end, drained when the socket
  stops being readable);
- *writable* unless its send buffer was filled on purpose (the smallest buffer the kernel
  allows, so a few KiB fill it; drained by the other end when the socket can send again).

Both transitions are level changes made by the loop thread only; the application never
reads or writes the descriptor itself.
"""

from __future__ import annotations

import socket

_FILL = bytes(4096)
_MAX_FILL_SENDS = 64  # the buffer takes one or two; the bound only guards the loop


class ReadinessFd:
    """The pollable half of a socketpair, set readable/writable on demand (loop thread)."""

    def __init__(self) -> None:
        self.outer, self._inner = socket.socketpair()
        self.outer.setblocking(False)
        self._inner.setblocking(False)
        self.outer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # the kernel's minimum
        self._readable = False
        self._writable = True

    def fileno(self) -> int:
        return self.outer.fileno()

    def set(self, readable: bool, writable: bool) -> None:
        """Make the descriptor poll as ``readable`` and ``writable``."""
        if readable != self._readable:
            if readable:
                self._inner.send(b"r")
            else:
                _drain(self.outer)
            self._readable = readable
        if writable != self._writable:
            if writable:
                _drain(self._inner)
            else:
                for _ in range(_MAX_FILL_SENDS):
                    try:
                        self.outer.send(_FILL)
                    except BlockingIOError:
                        break
            self._writable = writable

    def close(self) -> None:
        self.outer.close()
        self._inner.close()


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(65536):
            pass
    except BlockingIOError:
        pass
