"""Ping: ICMP echo requests through an ICMPSocket, with RTT statistics.

Time is the world's clock, so a simulated ping reports simulated round-trip times.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from netstack.address import SocketAddress
from netstack.errors import WouldBlockError
from netstack.socket.base import HasStack, resolve_stack
from netstack.socket.icmp import ICMPSocket
from netstack.stacks.core.api import NetworkStack
from netstack.wire import DecodeError
from netstack.wire.icmpv4 import Icmpv4Header, Icmpv4Type
from netstack.wire.icmpv6 import Icmpv6Header, Icmpv6Type

ANY6 = bytes(16)

_STAMP = struct.Struct("!d")


@dataclass(frozen=True, slots=True)
class PingReply:
    seq: int
    rtt: float  # seconds
    size: int  # ICMP payload bytes
    source: str


@dataclass(slots=True)
class PingResult:
    target: str
    sent: int = 0
    received: int = 0
    errors: int = 0
    rtts: list[float] = field(default_factory=list)

    @property
    def loss(self) -> float:
        """Fraction of requests without a reply (0.0 … 1.0)."""
        return 1.0 - self.received / self.sent if self.sent else 0.0

    @property
    def rtt_min(self) -> float:
        return min(self.rtts) if self.rtts else math.nan

    @property
    def rtt_max(self) -> float:
        return max(self.rtts) if self.rtts else math.nan

    @property
    def rtt_avg(self) -> float:
        return sum(self.rtts) / len(self.rtts) if self.rtts else math.nan

    @property
    def rtt_mdev(self) -> float:
        if not self.rtts:
            return math.nan
        avg = self.rtt_avg
        return math.sqrt(sum((r - avg) ** 2 for r in self.rtts) / len(self.rtts))

    def summary(self) -> str:
        text = (
            f"{self.sent} packets transmitted, {self.received} received, "
            f"{self.loss * 100:.0f}% packet loss"
        )
        if self.rtts:
            text += (
                f", rtt min/avg/max/mdev = {self.rtt_min * 1e3:.3f}/{self.rtt_avg * 1e3:.3f}/"
                f"{self.rtt_max * 1e3:.3f}/{self.rtt_mdev * 1e3:.3f} ms"
            )
        return text


async def ping(
    target: NetworkStack | HasStack,
    host: str | SocketAddress,
    *,
    count: int = 4,
    interval: float = 1.0,
    size: int = 56,
    timeout: float = 1.0,
    on_reply: Callable[[PingReply], None] | None = None,
) -> PingResult:
    """Send ``count`` echo requests of ``size`` payload bytes, ``interval`` apart; wait up to
    ``timeout`` after the last one. Returns the statistics."""
    if count < 1 or size < _STAMP.size or interval < 0 or timeout <= 0:
        raise ValueError("count >= 1, size >= 8, interval >= 0 and timeout > 0 required")
    stack = resolve_stack(target)
    address = host if isinstance(host, SocketAddress) else await stack.gethostbyname(host)
    loop = stack.world.loop
    result = PingResult(address.ip)
    outstanding: dict[int, float] = {}
    done: asyncio.Future[None] = loop.create_future()
    pattern = bytes(i & 0xFF for i in range(size - _STAMP.size))
    ipv6 = len(address.packed) == 16

    sock = ICMPSocket(stack)
    sock.set_blocking(False)

    def readable() -> None:
        while True:
            try:
                message, src = sock.recvfrom_nowait()
            except WouldBlockError:
                break
            hdr: Icmpv4Header | Icmpv6Header
            try:
                if ipv6:
                    hdr, body = Icmpv6Header.parse(message)
                else:
                    hdr, body = Icmpv4Header.parse(message, verify_checksum=False)
            except DecodeError:
                continue
            if hdr.type != (Icmpv6Type.ECHO_REPLY if ipv6 else Icmpv4Type.ECHO_REPLY):
                result.errors += 1
                continue
            sent_at = outstanding.pop(hdr.seq, None)
            if sent_at is None:
                continue  # duplicate or late
            rtt = loop.time() - sent_at
            result.received += 1
            result.rtts.append(rtt)
            if on_reply is not None:
                on_reply(PingReply(hdr.seq, rtt, len(body), src.ip))
        if result.sent == count and not outstanding and not done.done():
            done.set_result(None)

    sock.sigio(readable)
    try:
        for seq in range(count):
            now = loop.time()
            outstanding[seq] = now
            payload = _STAMP.pack(now) + pattern
            if ipv6:  # the socket fills in the checksum for the route's source address
                request = Icmpv6Header.echo(0, seq).build(payload, src=ANY6, dst=ANY6,
                                                          fill_checksum=False)  # fmt: skip
            else:
                request = Icmpv4Header.echo(0, seq).build(payload)
            result.sent += 1
            try:
                sock.sendto_nowait(address, request)
            except OSError:
                result.errors += 1
                outstanding.pop(seq, None)
            if seq != count - 1:
                await asyncio.sleep(interval)
        if outstanding:
            timer = loop.call_later(timeout, _finish, done)
            await done
            timer.cancel()
    finally:
        sock.close()
    return result


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
