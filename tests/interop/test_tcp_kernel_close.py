"""How TCP connections end, against the Linux kernel: FIN with data, half-close from
either side, RST from an unread close or SO_LINGER 0, data sent to a closed socket.

Each case runs one kernel-side script (``KERNEL_PEER``, a mode per case) inside the test's
namespace; it prints what its socket saw as JSON, so both ends are checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Awaitable, Callable

import pytest
from test_ipv4_kernel import netstack_on, run_in_netns

from conftest import TapDevice
from netstack.errors import ConnectionLostError
from netstack.interfaces.ethernet import EthernetInterface
from netstack.runtime import World
from netstack.socket import SOL_SOCKET, SocketOption, TCPSocket

pytestmark = pytest.mark.interop

KERNEL_IP = "10.77.0.1"
PORT = 9200
SIZE = 2_000_000

#: The kernel's side. ``server MODE`` listens on 10.77.0.1:9200 and prints "listening";
#: ``client MODE`` connects to 10.77.0.2:9200. Modes:
#:   fin-after-data   send SIZE bytes, close (FIN after the data)
#:   half-close       shutdown(SHUT_WR) at once, then read to EOF; print length and digest
#:   unread-close     wait for data to arrive, close without reading it (Linux: RST)
#:   linger-zero      SO_LINGER {on, 0}, close (RST)
#:   expect-reset     send 1000 bytes, then read until EOF or an error; print which
KERNEL_PEER = r"""
import hashlib, json, socket, struct, sys, time
role, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
if role == "server":
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("10.77.0.1", 9200)); ls.listen(1)
    print("listening", flush=True)
    s, _ = ls.accept()
else:
    s = socket.create_connection(("10.77.0.2", 9200), timeout=10)
s.settimeout(10)
out = {"mode": mode}
if mode == "fin-after-data":
    s.sendall(hashlib.shake_128(b"kernel").digest(size))
    s.close()
elif mode == "half-close":
    s.shutdown(socket.SHUT_WR)
    digest, n = hashlib.sha256(), 0
    while chunk := s.recv(1 << 16):
        digest.update(chunk); n += len(chunk)
    out.update(got=n, sha=digest.hexdigest())
    s.close()
elif mode == "unread-close":
    while not s.recv(1, socket.MSG_PEEK):
        pass
    time.sleep(0.2)  # let the rest arrive, unread
    s.close()
elif mode == "linger-zero":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
elif mode == "expect-reset":
    s.sendall(b"k" * 1000)
    n = 0
    try:
        while chunk := s.recv(1 << 16):
            n += len(chunk)
        out["end"] = "eof"
    except ConnectionResetError:
        out["end"] = "reset"
    out["got"] = n
print(json.dumps(out), flush=True)
"""

NetstackSide = Callable[[TCPSocket], Awaitable[object]]


async def read_all(sock: TCPSocket) -> bytes:
    got = bytearray()
    while chunk := await sock.recv(65536):
        got += chunk
    return bytes(got)


def kernel_server(
    tap: TapDevice, world: World, mode: str, side: NetstackSide
) -> tuple[object, dict[str, object]]:
    """netstack connects to the kernel's ``server MODE`` and runs ``side`` on the socket."""

    async def main() -> tuple[object, dict[str, object]]:
        async with netstack_on(tap, world) as iface:
            argv = [sys.executable, "-c", KERNEL_PEER, "server", mode, str(SIZE)]
            peer = await asyncio.create_subprocess_exec(
                *tap.argv(argv), stdout=asyncio.subprocess.PIPE
            )
            assert peer.stdout is not None
            assert (await peer.stdout.readline()).startswith(b"listening")
            sock = TCPSocket(iface)
            sock.set_timeout(10)
            await sock.connect((KERNEL_IP, PORT))
            ours = await side(sock)
            kernel = json.loads(await asyncio.wait_for(peer.stdout.read(), 15))
            await peer.wait()
            if sock.is_open:
                sock.close()
            return ours, kernel

    return world.run(main())


def kernel_client(
    tap: TapDevice, world: World, mode: str, side: NetstackSide
) -> tuple[object, dict[str, object]]:
    """The kernel's ``client MODE`` connects to netstack, which runs ``side`` on it."""

    async def main() -> tuple[object, dict[str, object]]:
        iface: EthernetInterface
        async with netstack_on(tap, world) as iface:
            listener = TCPSocket(iface)
            listener.bind(PORT)
            listener.listen(1)
            peer = asyncio.ensure_future(
                run_in_netns(
                    tap, [sys.executable, "-c", KERNEL_PEER, "client", mode, str(SIZE)], 20
                )
            )
            sock, _ = await asyncio.wait_for(listener.accept(), 10)
            sock.set_timeout(10)
            ours = await side(sock)
            rc, out = await peer
            assert rc == 0, out
            if sock.is_open:
                sock.close()
            listener.close()
            return ours, json.loads(out)

    return world.run(main())


def test_kernel_fin_after_data_gives_all_data_then_eof(tap: TapDevice, real_world: World) -> None:
    async def side(sock: TCPSocket) -> object:
        data = await read_all(sock)
        return len(data), hashlib.sha256(data).hexdigest(), await sock.recv(10)

    (n, sha, after), _kernel = kernel_server(tap, real_world, "fin-after-data", side)
    assert n == SIZE
    assert sha == hashlib.sha256(hashlib.shake_128(b"kernel").digest(SIZE)).hexdigest()
    assert after == b""  # end of stream stays end of stream


def test_sending_to_a_closed_kernel_socket_gets_reset(tap: TapDevice, real_world: World) -> None:
    """The kernel closed (FIN); what netstack sends then meets a RST (RFC 9293 §3.10.7.1)."""

    async def side(sock: TCPSocket) -> object:
        await read_all(sock)
        with pytest.raises(ConnectionLostError):
            for _ in range(200):
                await sock.send(b"x" * 1000)
                await asyncio.sleep(0.01)
        return True

    ours, _kernel = kernel_server(tap, real_world, "fin-after-data", side)
    assert ours is True


def test_kernel_half_close_then_netstack_keeps_sending(tap: TapDevice, real_world: World) -> None:
    data = hashlib.shake_128(b"after-eof").digest(SIZE)

    async def side(sock: TCPSocket) -> object:
        first = await sock.recv(10)  # the kernel's FIN: end of stream, connection still open
        await sock.send(data)  # CLOSE-WAIT: sending goes on
        sock.shutdown()
        return first

    first, kernel = kernel_server(tap, real_world, "half-close", side)
    assert first == b""
    assert kernel["got"] == SIZE and kernel["sha"] == hashlib.sha256(data).hexdigest()


def test_netstack_half_close_then_kernel_keeps_sending(tap: TapDevice, real_world: World) -> None:
    async def side(sock: TCPSocket) -> object:
        sock.shutdown()  # FIN-WAIT: receiving goes on
        data = await read_all(sock)
        return len(data), hashlib.sha256(data).hexdigest()

    (n, sha), _kernel = kernel_client(tap, real_world, "fin-after-data", side)
    assert n == SIZE
    assert sha == hashlib.sha256(hashlib.shake_128(b"kernel").digest(SIZE)).hexdigest()


@pytest.mark.parametrize("mode", ["unread-close", "linger-zero"])
def test_kernel_reset_is_reported_as_connection_lost(
    tap: TapDevice, real_world: World, mode: str
) -> None:
    async def side(sock: TCPSocket) -> object:
        if mode == "unread-close":
            await sock.send(b"unread " * 1000)
        with pytest.raises(ConnectionLostError):
            await read_all(sock)
        return sock._handle.conn.stats.resets_in  # type: ignore[union-attr]

    resets_in, _kernel = kernel_server(tap, real_world, mode, side)
    assert resets_in == 1


@pytest.mark.parametrize("how", ["unread-close", "linger-zero"])
def test_netstack_reset_reaches_the_kernel(tap: TapDevice, real_world: World, how: str) -> None:
    async def side(sock: TCPSocket) -> object:
        # Wait for the kernel's data in both cases: a RST that overtakes the kernel's
        # connect() fails the connect itself (the kernel client may not have run yet).
        while not sock.readable():
            await asyncio.sleep(0.01)
        if how == "linger-zero":
            got = 0
            while got < 1000:  # read everything, so only SO_LINGER 0 can cause the RST
                got += len(await sock.recv(1000 - got))
            sock.setsockopt(SOL_SOCKET, SocketOption.LINGER, 0)
        sock.close()
        return None

    _ours, kernel = kernel_client(tap, real_world, "expect-reset", side)
    assert kernel["end"] == "reset"
