"""TCP load over kernel sockets: the load generator and reference server of ``bench_tcp.py``.

Standard library only, so it runs anywhere ``bench_tcp.py`` puts it (``ip netns exec NS
python tcp_load.py ...``). Every client role prints one JSON line with what it measured and
its own CPU seconds.

- ``send HOST PORT``: bulk sender to a discard server. Connects, ``sendall`` of
  ``--chunk``-byte chunks (64 KiB) for ``--seconds``, then half-closes and reads until the
  server closes (a discard server closes once it has read everything). Goodput = bytes
  sent / (connect .. the server's FIN): every byte counted was delivered to the server's
  application.
- ``recv HOST PORT``: bulk receiver from a chargen server. Connects, ``recv_into`` a 64 KiB
  buffer for ``--seconds``; goodput = bytes read / that time. Then closes (with unread
  data: a reset, which chargen servers take as the end).
- ``cps HOST PORT``: connections per second. ``--concurrency`` independent slots on one
  ``selectors`` loop, each repeating: non-blocking connect, send a ``--size``-byte request,
  read the whole echo, close; for ``--seconds``. Failed connections count as errors.
- ``server ADDR``: the reference: a single-threaded ``selectors`` server on kernel sockets
  with TCP echo (7), discard (9) and chargen (19; 64 KiB blocks of the RFC 864 pattern), run
  until killed. Prints ``ready`` once listening.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import selectors
import socket
import time

CHUNK = 65536
_PRINTABLE = bytes(range(32, 127))


def chargen_pattern(size: int) -> bytes:
    """``size`` bytes of the RFC 864 pattern (72-character rotating lines and CRLF)."""
    out = bytearray()
    k = 0
    while len(out) < size:
        out += (_PRINTABLE[k:] + _PRINTABLE[:k])[:72] + b"\r\n"
        k = (k + 1) % len(_PRINTABLE)
    return bytes(out[:size])


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _connect(host: str, port: int, timeout: float = 10.0) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except (ConnectionRefusedError, TimeoutError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def send(host: str, port: int, *, seconds: float, chunk: int) -> dict[str, float]:
    data = chargen_pattern(chunk)
    sock = _connect(host, port)
    sock.settimeout(60.0)
    cpu0 = _cpu()
    start = time.perf_counter()
    end = start + seconds
    sent = 0
    sendall = sock.sendall
    clock = time.perf_counter
    while clock() < end:
        sendall(data)
        sent += chunk
    sent_at = clock()
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(65536):  # a discard server sends nothing: this waits for its FIN
        pass
    done = clock()
    cpu = _cpu() - cpu0
    sock.close()
    return {
        "bytes": sent,
        "seconds": done - start,
        "drain_seconds": done - sent_at,
        "rate": sent / (done - start),
        "client_cpu_s": cpu,
    }


def recv(host: str, port: int, *, seconds: float) -> dict[str, float]:
    sock = _connect(host, port)
    sock.settimeout(10.0)
    buf = bytearray(CHUNK)
    recv_into = sock.recv_into
    clock = time.perf_counter
    got = 0
    cpu0 = _cpu()
    start = clock()
    end = start + seconds
    while True:
        n = recv_into(buf)
        if not n:
            break
        got += n
        if clock() >= end:
            break
    done = clock()
    cpu = _cpu() - cpu0
    sock.close()
    return {"bytes": got, "seconds": done - start, "rate": got / (done - start),
            "client_cpu_s": cpu}  # fmt: skip


def cps(host: str, port: int, *, seconds: float, concurrency: int, size: int) -> dict[str, float]:
    """Closed-loop connect / request / reply / close with ``concurrency`` connections open."""
    request = chargen_pattern(size)
    sel = selectors.DefaultSelector()
    done = errors = 0
    latencies: list[float] = []
    clock = time.perf_counter

    def open_one() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = sock.connect_ex((host, port))
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, os.strerror(rc))
        # state: [phase, bytes read, start time]
        sel.register(sock, selectors.EVENT_WRITE, [0, 0, clock()])

    def finish(sock: socket.socket, ok: bool, started: float) -> None:
        nonlocal done, errors
        sel.unregister(sock)
        sock.close()
        if ok:
            done += 1
            latencies.append(clock() - started)
        else:
            errors += 1

    # Warm-up: one connection (ARP resolved, server up), max 10 s.
    _connect(host, port).close()
    cpu0 = _cpu()
    start = clock()
    end = start + seconds
    for _ in range(concurrency):
        open_one()
    while sel.get_map():
        for key, _ in sel.select(timeout=1.0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            state = key.data
            if state[0] == 0:  # connected (or failed)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    finish(sock, False, state[2])
                else:
                    sock.send(request)
                    state[0] = 1
                    sel.modify(sock, selectors.EVENT_READ, state)
                    continue
            else:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                if chunk:
                    state[1] += len(chunk)
                    if state[1] < size:
                        continue
                finish(sock, state[1] >= size, state[2])
            if clock() < end:
                open_one()
    elapsed = clock() - start
    cpu = _cpu() - cpu0
    latencies.sort()
    return {
        "connections": done,
        "errors": errors,
        "seconds": elapsed,
        "rate": done / elapsed,
        "median_ms": latencies[len(latencies) // 2] * 1e3 if latencies else float("nan"),
        "client_cpu_s": cpu,
    }


def server(addr: str) -> None:
    """Echo (7), discard (9) and chargen (19) on kernel sockets, one selectors loop."""
    sel = selectors.DefaultSelector()
    block = chargen_pattern(CHUNK)
    buf = bytearray(CHUNK)
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    for port in (7, 9, 19):
        ls = socket.socket(family)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(128)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, ("listen", port))
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            role, port = key.data
            if role == "listen":
                with contextlib.suppress(BlockingIOError):
                    conn, _ = sock.accept()
                    conn.setblocking(False)
                    if port == 19:
                        sel.register(conn, selectors.EVENT_WRITE, ("chargen", port))
                    else:
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        sel.register(conn, selectors.EVENT_READ, ("echo" if port == 7 else
                                                                  "discard", port))  # fmt: skip
                continue
            try:
                if role == "chargen":
                    sock.send(block)
                    continue
                n = sock.recv_into(buf)
                if n and role == "echo":
                    sock.setblocking(True)  # small replies: never more than the buffer
                    sock.sendall(memoryview(buf)[:n])
                    sock.setblocking(False)
                if n:
                    continue
            except BlockingIOError:
                continue
            except OSError:
                pass
            sel.unregister(sock)
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)
    for role in ("send", "recv", "cps"):
        p = sub.add_parser(role)
        p.add_argument("host")
        p.add_argument("port", type=int)
        p.add_argument("--seconds", type=float, default=3.0)
        if role == "send":
            p.add_argument("--chunk", type=int, default=CHUNK)
        if role == "cps":
            p.add_argument("--concurrency", type=int, default=1)
            p.add_argument("--size", type=int, default=32)
    s = sub.add_parser("server")
    s.add_argument("addr")
    args = parser.parse_args()
    if args.role == "server":
        with contextlib.suppress(KeyboardInterrupt):
            server(args.addr)
        return
    if args.role == "send":
        result = send(args.host, args.port, seconds=args.seconds, chunk=args.chunk)
    elif args.role == "recv":
        result = recv(args.host, args.port, seconds=args.seconds)
    else:
        result = cps(args.host, args.port, seconds=args.seconds, concurrency=args.concurrency,
                     size=args.size)  # fmt: skip
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
