"""Capture: a SerialPort wrapper that writes the PPP frames crossing a port to pcap.

:class:`SerialCapture` forwards the whole SerialPort contract to the port it wraps and
watches the byte stream of each direction with its own HDLC-like deframer
(:class:`netstack.wire.ppp.Deframer`, RFC 1662 §4). Every complete frame with a good FCS is
written as one record of link type ``PPP_WITH_DIR`` (204): a direction octet (0x01 sent by
this side, 0x00 received) followed by the frame as it was before framing - address and
control (unless compressed away by ACFC), protocol, information - without flags, escapes or
FCS. Frames with a bad FCS are not written; they are counted in :attr:`bad_frames`. With
``linktype=LinkType.PPP`` (9) the records carry no direction octet, for tools that know
only plain PPP captures.

The deframers use an empty receive ACCM and the largest MRU (65535), so they reproduce
what the sender framed whatever LCP negotiated: a capture does not know the link's ACCM,
and with ACCM 0 negotiated a sender may leave control characters unescaped (RFC 1662 §7.1).
Sent bytes are captured when ``write()`` accepts them, received bytes when they reach the
port; timestamps come from the world's clock, so a simulation's capture is the same on
every run. The wrapper never looks inside the frames: it stays a driver, not a PPP stack.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from netstack.drivers.capture_file import PcapOutput
from netstack.drivers.serial.api import HangupCallback, ReceiveCallback, SerialPort
from netstack.wire import Buffer
from netstack.wire.pcap import LinkType, PcapTarget, PcapWriter
from netstack.wire.ppp import Deframer

if TYPE_CHECKING:
    from netstack.runtime import World

log = logging.getLogger(__name__)

#: The direction octet of LINKTYPE_PPP_WITH_DIR (tcpdump.org link-layer header types).
DIR_SENT = b"\x01"
DIR_RECEIVED = b"\x00"

#: Largest information field a capture accepts: the most LCP can negotiate (RFC 1661 §6.1).
CAPTURE_MRU = 65535


class SerialCapture(PcapOutput):
    """Wraps a SerialPort and captures the PPP frames in both directions; see the module
    docstring.

    ``target`` is a path, a binary file object, or an existing :class:`PcapWriter` of link
    type ``PPP_WITH_DIR`` (to share one capture between ports). :meth:`close` closes the
    port and a writer this wrapper created. ``fcs32`` selects the 32-bit FCS (RFC 1662 §C.3)
    if LCP negotiated it. ``stats()`` is the wrapped port's counters plus
    ``captured_frames`` and ``bad_frames``.
    """

    def __init__(
        self,
        port: SerialPort,
        world: World,
        target: PcapTarget | PcapWriter,
        *,
        fcs32: bool = False,
        linktype: LinkType = LinkType.PPP_WITH_DIR,
    ) -> None:
        if linktype not in (LinkType.PPP_WITH_DIR, LinkType.PPP):
            raise ValueError(f"a serial capture writes PPP_WITH_DIR or PPP, not {linktype!r}")
        self._open_capture(target, linktype)
        with_dir = linktype == LinkType.PPP_WITH_DIR
        self._sent = DIR_SENT if with_dir else b""
        self._received = DIR_RECEIVED if with_dir else b""
        self.inner = port
        self._world = world
        self._tx = Deframer(mru=CAPTURE_MRU, fcs32=fcs32, accm=0)
        self._rx = Deframer(mru=CAPTURE_MRU, fcs32=fcs32, accm=0)
        self._rx_cb: ReceiveCallback | None = None
        self._hangup_cb: HangupCallback | None = None
        port.set_receive_cb(self._on_receive)
        port.set_hangup_cb(self._on_hangup)

    @property
    def bad_frames(self) -> int:
        """Frames seen with a bad FCS (not captured), both directions."""
        return self._tx.bad_fcs + self._rx.bad_fcs

    @property
    def captured_frames(self) -> int:
        """Frames written to the capture, both directions."""
        return self._tx.frames + self._rx.frames

    # --- SerialPort ----------------------------------------------------------------------

    @property
    def baudrate(self) -> int | None:
        return self.inner.baudrate

    @property
    def is_open(self) -> bool:
        return self.inner.is_open

    @property
    def write_pending(self) -> int:
        return self.inner.write_pending

    def write(self, data: Buffer) -> bool:
        if not self.inner.write(data):
            return False
        self._capture(self._tx, self._sent, data)
        return True

    def set_receive_cb(self, cb: ReceiveCallback | None) -> None:
        self._rx_cb = cb

    def set_hangup_cb(self, cb: HangupCallback | None) -> None:
        self._hangup_cb = cb

    def close(self) -> None:
        """Close the port and stop capturing (closing the file if this wrapper opened it).
        Idempotent."""
        self.inner.close()
        super().close()

    def stats(self) -> dict[str, int]:
        stats = self.inner.stats()
        stats["captured_frames"] = self.captured_frames
        stats["bad_frames"] = self.bad_frames
        return stats

    # --- the wrapped port's side ---------------------------------------------------------

    def _capture(self, deframer: Deframer, direction: bytes, data: Buffer) -> None:
        writer = self.writer
        if writer.closed:
            return
        frames = deframer.feed(data)
        if frames:
            now = self._world.now()
            for frame in frames:
                writer.write(now, direction + frame)

    def _on_receive(self, data: bytes) -> None:
        self._capture(self._rx, self._received, data)
        cb = self._rx_cb
        if cb is not None:
            cb(data)

    def _on_hangup(self) -> None:
        self.writer.flush()
        cb = self._hangup_cb
        if cb is not None:
            cb()

    def __repr__(self) -> str:
        return f"<SerialCapture {self.inner!r}>"


__all__ = ["DIR_RECEIVED", "DIR_SENT", "SerialCapture"]
