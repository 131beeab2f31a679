"""Drive PyTCP (PyPI ``pytcp``) as an external peer for ``bench_tap.py``; nothing of it is copied.

PyTCP 3.0.9 needs Python >= 3.14 (its source uses 3.14-only syntax), so this script runs
under the interpreter ``pytcp_runtime.py`` provisions, not the project's venv. It only uses
PyTCP's public surface, in its supported shape: a daemon that owns the TAP, and an
out-of-process application that opens its sockets through ``pytcp.client``. Two roles:

- ``daemon --tap NAME --ip ADDR/LEN --ipc-socket PATH``: ``pytcp.daemon.run_daemon`` on the
  TAP with a static IPv4 address, IPv6 off (no DHCPv4, SLAAC or DAD chatter) and PyTCP's
  per-packet console logging off (``pytcp.stack.LOG__CHANNEL``, by default every subsystem
  prints a line per packet; netstack logs nothing per packet either). Prints ``pytcp up``
  once the control socket listens, runs until SIGTERM.
- ``echo --ipc-socket PATH --port N``: a UDP echo service on the daemon — a
  ``pytcp.client`` UDP socket bound to ``0.0.0.0:N``, ``recvfrom`` / ``sendto`` in a loop,
  the same loop as ``udp_rr.py server`` on a kernel socket. PyTCP has no built-in echo
  service. Prints ``ready`` once bound.

The version check (``version``) prints PyTCP's version and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import sys


def run_daemon(tap: str, ip: str, mac: str, ipc_socket: str) -> None:
    from net_addr import Ip4IfAddr, MacAddress  # PyTCP's own address types
    from pytcp import stack
    from pytcp.daemon import run_daemon

    stack.LOG__CHANNEL = set()  # the stack reads it at every log() call
    run_daemon(
        socket_path=ipc_socket,
        interfaces=[tap],
        mac_address=MacAddress(mac),
        ip4_host=Ip4IfAddr(ip),
        ip6_support=False,
        on_ready=lambda path: print(f"pytcp up on {tap} {ip}, control socket {path}", flush=True),
    )


def run_echo(ipc_socket: str, port: int) -> None:
    from pytcp.client import connect, wait_for_daemon
    from pytcp.socket import AddressFamily, SocketType

    wait_for_daemon(socket_path=ipc_socket, timeout=20.0)
    with connect(socket_path=ipc_socket) as client:
        sock = client.socket(AddressFamily.INET4, SocketType.DGRAM)
        sock.bind(("0.0.0.0", port))
        recvfrom = sock.recvfrom
        sendto = sock.sendto
        print("ready", flush=True)
        while True:
            data, peer = recvfrom(65535)
            sendto(data, peer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)
    d = sub.add_parser("daemon")
    d.add_argument("--tap", required=True, help="TAP name (PyTCP wants it to start with 'tap')")
    d.add_argument("--ip", required=True, help="static IPv4 address/prefix length")
    d.add_argument("--mac", default="02:00:00:77:00:02")
    d.add_argument("--ipc-socket", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--ipc-socket", required=True)
    e.add_argument("--port", type=int, default=7)
    sub.add_parser("version")
    args = parser.parse_args()
    if args.role == "version":
        print(importlib.metadata.version("pytcp"), sys.version.split()[0])
        return
    with contextlib.suppress(KeyboardInterrupt):
        if args.role == "daemon":
            run_daemon(args.tap, args.ip, args.mac, args.ipc_socket)
        else:
            run_echo(args.ipc_socket, args.port)


if __name__ == "__main__":
    main()
