"""TCP echo, discard and chargen on PyTCP (PyPI ``pytcp``) for ``bench_tcp.py``.

Runs under PyTCP's runtime (``pytcp_runtime.py``), beside a daemon that
``pytcp_peer.py daemon`` started. PyTCP has no built-in TCP services, so this is an
application on its public ``pytcp.client`` API, shaped like ``tcp_load.py server`` on
kernel sockets: one single-threaded ``selectors`` loop over the listeners' accept-readiness
descriptors and the connections' data channels (each a real socketpair end the daemon
relays to its TCP connection):

- echo (``--echo-port``, 7): sends back what it reads until the peer closes;
- discard (``--discard-port``, 9): reads and drops until the peer closes, then closes;
- chargen (``--chargen-port``, 19): writes 64 KiB blocks of the RFC 864 pattern while the
  data channel takes them, until the peer closes or resets.

``serve --ipc-socket PATH`` prints ``ready`` once all three listen and runs until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import selectors
from typing import Any

CHUNK = 65536
_PRINTABLE = bytes(range(32, 127))


def chargen_pattern(size: int) -> bytes:
    out = bytearray()
    k = 0
    while len(out) < size:
        out += (_PRINTABLE[k:] + _PRINTABLE[:k])[:72] + b"\r\n"
        k = (k + 1) % len(_PRINTABLE)
    return bytes(out[:size])


def serve(ipc_socket: str, ports: dict[str, int]) -> None:
    from pytcp.client import connect, wait_for_daemon
    from pytcp.socket import AddressFamily, SocketType

    wait_for_daemon(socket_path=ipc_socket, timeout=20.0)
    block = chargen_pattern(CHUNK)
    sel = selectors.DefaultSelector()
    with connect(socket_path=ipc_socket) as client:
        for role, port in ports.items():
            ls: Any = client.socket(AddressFamily.INET4, SocketType.STREAM)
            ls.bind(("0.0.0.0", port))
            ls.listen(backlog=128)
            sel.register(ls.fileno(), selectors.EVENT_READ, ("listen", role, ls))
        print("ready", flush=True)

        def close(conn: Any) -> None:
            sel.unregister(conn.fileno())
            with contextlib.suppress(Exception):
                conn.close()

        while True:
            for key, events in sel.select():
                kind, role, sock = key.data
                if kind == "listen":
                    try:
                        conn, _peer = sock.accept_nonblocking()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    mask = selectors.EVENT_READ
                    if role == "chargen":
                        mask |= selectors.EVENT_WRITE
                    sel.register(conn.fileno(), mask, ("conn", role, conn))
                    continue
                try:
                    if events & selectors.EVENT_READ:
                        data = sock.recv(CHUNK)
                        if not data:
                            close(sock)
                            continue
                        if role == "echo":
                            sock.setblocking(True)  # small replies: a short wait
                            view = memoryview(data)
                            while view:
                                view = view[sock.send(view) :]
                            sock.setblocking(False)
                    if role == "chargen" and events & selectors.EVENT_WRITE:
                        sock.send(block)
                except BlockingIOError:
                    continue
                except OSError:
                    close(sock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--ipc-socket", required=True)
    s.add_argument("--echo-port", type=int, default=7)
    s.add_argument("--discard-port", type=int, default=9)
    s.add_argument("--chargen-port", type=int, default=19)
    args = parser.parse_args()
    ports = {"echo": args.echo_port, "discard": args.discard_port, "chargen": args.chargen_port}
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.ipc_socket, ports)


if __name__ == "__main__":
    main()
