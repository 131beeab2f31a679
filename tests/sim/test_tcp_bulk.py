"""20 MB each way over one TCP connection across a hostile simulated link (virtual time).

The link loses 5 % of frames, reorders and duplicates some, and limits bandwidth; both ends
send at once, so every data segment also carries the ACKs of the other direction. The
data is hashed on arrival, not kept, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from netstack.sim import LinkParams, Network
from netstack.socket import SOL_SOCKET, SocketOption, TCPSocket

SIZE = 20_000_000
CHUNK = 65536


def stream(size: int, salt: bytes) -> bytes:
    return hashlib.shake_128(salt).digest(size)


async def send_and_hash(sock: TCPSocket, data: bytes) -> tuple[str, int]:
    """Send ``data`` (then half-close) while hashing what arrives until EOF."""

    async def writer() -> None:
        view = memoryview(data)
        for off in range(0, len(view), CHUNK):
            await sock.send(view[off : off + CHUNK])
        sock.shutdown()

    task = asyncio.ensure_future(writer())
    digest = hashlib.sha256()
    received = 0
    while chunk := await sock.recv(CHUNK):
        digest.update(chunk)
        received += len(chunk)
    await task
    return digest.hexdigest(), received


@pytest.mark.parametrize("congestion", ["newreno", "cubic"])
def test_20mb_each_way_byte_exact_over_loss_reordering_and_duplication(congestion: str) -> None:
    params = LinkParams(
        latency=1e-3, bandwidth=200e6, loss=0.05, reorder=0.02, duplicate=0.01, queue_limit=256
    )
    net = Network(seed=7)
    try:
        lan = net.segment("lan", params)
        a = net.host("a", lan, "10.0.0.1/24")
        b = net.host("b", lan, "10.0.0.2/24")
        a_data, b_data = stream(SIZE, b"a"), stream(SIZE, b"b")

        async def main() -> tuple[tuple[str, int], tuple[str, int], dict[str, object]]:
            await net.start()
            listener = TCPSocket(b)
            listener.bind(5001)
            listener.listen(1)
            client = TCPSocket(a)
            client.setsockopt(SOL_SOCKET, SocketOption.CONGESTION, congestion)
            await client.connect(("10.0.0.2", 5001))
            server, _ = await listener.accept()
            server.setsockopt(SOL_SOCKET, SocketOption.CONGESTION, congestion)
            at_a, at_b = await asyncio.gather(
                send_and_hash(client, a_data), send_and_hash(server, b_data)
            )
            conn = client._handle.conn  # type: ignore[union-attr]
            info = {
                "cc": conn.congestion_control.name,
                "retransmissions": conn.stats.retransmissions,
                "option": client.getsockopt(SOL_SOCKET, SocketOption.CONGESTION),
            }
            for sock in (client, server, listener):
                sock.close()
            return at_a, at_b, info

        at_a, at_b, info = net.run(main())
    finally:
        net.close()
    assert at_b == (hashlib.sha256(a_data).hexdigest(), SIZE)
    assert at_a == (hashlib.sha256(b_data).hexdigest(), SIZE)
    assert info["cc"] == info["option"] == congestion
    assert isinstance(info["retransmissions"], int) and info["retransmissions"] > 100
