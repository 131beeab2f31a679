"""UDP request/response over kernel sockets: the load generator of ``bench_tap.py``.

Standard library only, so it runs anywhere ``bench_tap.py`` puts it (``ip netns exec NS
python udp_rr.py ...``). Two roles:

- ``client HOST PORT``: closed-loop round trips on one connected socket for ``--seconds``,
  keeping ``--inflight`` requests outstanding (1 = strict ping-pong; N = pipelined: every
  reply received sends one new request). A reply that does not come within ``--timeout``
  counts the outstanding requests as lost and refills the window. Prints one JSON line:
  round trips, lost, seconds, round trips per second and the client's own CPU seconds.
- ``server ADDR PORT``: a kernel-socket UDP echo loop (``recvfrom`` / ``sendto``) until
  killed — the reference server on the veth peer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import struct
import time

_SEQ = struct.Struct("!Q")


def client(
    host: str, port: int, *, seconds: float, inflight: int, size: int, timeout: float
) -> dict[str, float]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.connect((host, port))
    pad = bytes(max(0, size - _SEQ.size))

    # Warm-up: until one datagram comes back (ARP resolved, server running), max 5 s.
    sock.settimeout(0.2)
    deadline = time.monotonic() + 5.0
    while True:
        sock.send(_SEQ.pack(0) + pad)
        try:
            sock.recv(65535)
            break
        except TimeoutError:
            if time.monotonic() > deadline:
                raise SystemExit(f"no echo from {host}:{port}") from None
    for _ in range(100):
        sock.send(_SEQ.pack(0) + pad)
        sock.recv(65535)

    sock.settimeout(timeout)
    send = sock.send
    recv = sock.recv
    clock = time.perf_counter
    requests = [_SEQ.pack(i) + pad for i in range(256)]
    done = 0
    lost = 0
    cpu0 = os.times()
    start = clock()
    end = start + seconds
    for i in range(inflight):
        send(requests[i & 255])
    outstanding = inflight
    n = inflight
    now = start
    while now < end:
        try:
            recv(65535)
        except TimeoutError:
            lost += outstanding
            for _ in range(inflight):
                send(requests[n & 255])
                n += 1
            outstanding = inflight
            now = clock()
            continue
        done += 1
        send(requests[n & 255])
        n += 1
        now = clock()
    elapsed = now - start
    cpu1 = os.times()
    # Drain what is still in flight so a following run starts clean.
    sock.settimeout(0.05)
    for _ in range(outstanding):
        try:
            recv(65535)
        except TimeoutError:
            break
    sock.close()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "round_trips": done,
        "lost": lost,
        "seconds": elapsed,
        "rate": done / elapsed,
        "client_cpu_s": cpu,
    }


def server(addr: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((addr, port))
    recvfrom = sock.recvfrom
    sendto = sock.sendto
    print("ready", flush=True)
    while True:
        data, peer = recvfrom(65535)
        sendto(data, peer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)
    c = sub.add_parser("client")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--seconds", type=float, default=5.0)
    c.add_argument("--inflight", type=int, default=1)
    c.add_argument("--size", type=int, default=64)
    c.add_argument("--timeout", type=float, default=0.1)
    s = sub.add_parser("server")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    args = parser.parse_args()
    if args.role == "client":
        result = client(
            args.host,
            args.port,
            seconds=args.seconds,
            inflight=args.inflight,
            size=args.size,
            timeout=args.timeout,
        )
        print(json.dumps(result), flush=True)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            server(args.addr, args.port)


if __name__ == "__main__":
    main()
