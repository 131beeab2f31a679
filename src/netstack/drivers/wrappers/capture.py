"""Capture: an EMAC wrapper that writes every frame, both directions, to a pcap file.

Timestamps come from the world's clock, so a simulation's capture is byte-identical from
run to run. A transmitted frame that asks for a checksum offload (:class:`TxOffload` with a
``csum_start``) carries only the pseudo-header sum in its checksum field; the capture
writes it with the checksum completed, as the wire would see it, so tshark validates it.
GSO frames are written as handed over: one large frame, not the segments.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from netstack.drivers.capture_file import PcapOutput
from netstack.drivers.emac.api import (
    LinkInputCallback,
    RxFlags,
    TxOffload,
)
from netstack.drivers.wrappers.base import EmacWrapper
from netstack.wire import Buffer
from netstack.wire.checksum import internet_checksum, pseudo_header_sum
from netstack.wire.pcap import LinkType, PcapTarget, PcapWriter

if TYPE_CHECKING:
    from netstack.drivers.emac.api import EMAC
    from netstack.runtime import World

log = logging.getLogger(__name__)


def complete_checksum(frame: Buffer, offload: TxOffload) -> bytes:
    """Return ``frame`` with the checksum an offload asks for filled in.

    The field at ``csum_start + csum_offset`` holds the pseudo-header sum (the seed); the
    result is the one's complement of the sum over ``frame[csum_start:]`` including that
    seed (RFC 1071). A result of zero is sent as 0xFFFF (RFC 768: zero means "no checksum"
    for UDP; both encode zero in one's complement, so TCP and ICMP accept it too). A frame
    too short for the field is returned unchanged.
    """
    start = offload.csum_start
    field = start + offload.csum_offset
    if start <= 0 or field + 2 > len(frame):
        return bytes(frame)
    buf = bytearray(frame)
    checksum = internet_checksum(memoryview(buf)[start:]) or 0xFFFF
    buf[field] = checksum >> 8
    buf[field + 1] = checksum & 0xFF
    return bytes(buf)


#: Where the checksum field sits in each transport header that offloads use.
_CSUM_FIELD = {6: 16, 17: 6, 58: 2}  # TCP, UDP, ICMPv6


def with_transport_checksum(frame: Buffer) -> bytes:
    """``frame`` with its TCP/UDP (or ICMPv6) checksum computed afresh: for captures of
    frames a driver flagged as needing no verification, whose checksum field may hold only
    the sender's partial sum (a kernel behind a TAP, an offloading virtual NIC). IPv4
    fragments, IPv6 extension headers and anything else come back unchanged."""
    data = bytes(frame)
    off = 14
    ethertype = int.from_bytes(data[12:14], "big")
    if ethertype == 0x8100 and len(data) >= 18:
        ethertype = int.from_bytes(data[16:18], "big")
        off = 18
    if ethertype == 0x0800 and len(data) >= off + 20:
        ihl = (data[off] & 0x0F) * 4
        if int.from_bytes(data[off + 6 : off + 8], "big") & 0x3FFF:
            return data  # a fragment: the checksum covers the whole datagram
        proto = data[off + 9]
        start = off + ihl
        end = off + int.from_bytes(data[off + 2 : off + 4], "big")
        pseudo = pseudo_header_sum(data[off + 12 : off + 16], data[off + 16 : off + 20], proto,
                                   end - start)  # fmt: skip
    elif ethertype == 0x86DD and len(data) >= off + 40:
        proto = data[off + 6]
        start = off + 40
        end = start + int.from_bytes(data[off + 4 : off + 6], "big")
        pseudo = pseudo_header_sum(data[off + 8 : off + 24], data[off + 24 : off + 40], proto,
                                   end - start)  # fmt: skip
    else:
        return data
    field = _CSUM_FIELD.get(proto)
    if field is None or end > len(data) or start + field + 2 > end:
        return data
    buf = bytearray(data)
    buf[start + field : start + field + 2] = b"\0\0"
    checksum = internet_checksum(memoryview(buf)[start:end], pseudo) or 0xFFFF
    buf[start + field : start + field + 2] = checksum.to_bytes(2, "big")
    return bytes(buf)


class PartialChecksumFrame(bytes):
    """A frame whose transport checksum is left for the receiver's hardware: what a
    virtual link with checksum offload carries (as a veth carries the kernel's partial
    checksums). ``offload`` says where the checksum goes; :func:`finished` completes it
    wherever the frame must look as on a wire (captures, corruption, a port without the
    offload)."""

    offload: TxOffload

    @classmethod
    def of(cls, frame: Buffer, offload: TxOffload) -> PartialChecksumFrame:
        partial = cls(frame)
        partial.offload = offload
        return partial


def finished(frame: bytes) -> bytes:
    """``frame`` as a wire carries it: a :class:`PartialChecksumFrame` gets its checksum."""
    if type(frame) is PartialChecksumFrame:
        return complete_checksum(frame, frame.offload)
    return frame


class PcapTap(PcapOutput, EmacWrapper):
    """Wraps an EMAC and captures its traffic (link type Ethernet).

    ``target`` is a path, a binary file object, or an existing :class:`PcapWriter` (to share
    one capture between several taps). :meth:`close` closes a writer this tap created.
    """

    def __init__(self, inner: EMAC, target: PcapTarget | PcapWriter, world: World) -> None:
        super().__init__(inner)
        self._world = world
        self._open_capture(target, LinkType.ETHERNET)
        self._input_cb: LinkInputCallback | None = None
        inner.set_link_input_cb(self._on_input)

    def link_out(self, frame: Buffer, offload: TxOffload | None = None) -> bool:
        writer = self.writer
        if not writer.closed:
            if offload is not None and offload.csum_start > 0:
                writer.write(self._world.now(), complete_checksum(frame, offload))
            else:
                writer.write(self._world.now(), frame)
        return self.inner.link_out(frame, offload)

    def _on_input(self, frame: memoryview, flags: RxFlags) -> None:
        writer = self.writer
        if not writer.closed:
            if flags and flags & RxFlags.CSUM_VALID:
                writer.write(self._world.now(), with_transport_checksum(frame))
            else:
                writer.write(self._world.now(), frame)
        cb = self._input_cb
        if cb is not None:
            cb(frame, flags)

    # --- what this wrapper changes of the forwarded contract (EmacWrapper) ---------
    def power_down(self) -> None:
        self.inner.power_down()
        self.writer.flush()

    def set_link_input_cb(self, cb: LinkInputCallback | None) -> None:
        self._input_cb = cb


__all__ = [
    "PartialChecksumFrame",
    "PcapTap",
    "complete_checksum",
    "finished",
    "with_transport_checksum",
]
