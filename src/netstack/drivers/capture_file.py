"""PcapOutput: the pcap file of a capture wrapper (``PcapTap``, ``SerialCapture``,
``RadioCapture``), with the wrappers' shared rules for owning, sharing and closing it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from netstack.wire.pcap import LinkType, PcapTarget, PcapWriter


class PcapOutput:
    """Mixin: ``writer`` is the capture's :class:`PcapWriter`. A path or binary file as
    target opens a writer this wrapper owns and closes; an open :class:`PcapWriter` (of the
    wrapper's link type) is shared with other wrappers and only flushed. ``with`` closes."""

    writer: PcapWriter
    _owns_writer: bool

    def _open_capture(self, target: PcapTarget | PcapWriter, linktype: LinkType) -> None:
        if isinstance(target, PcapWriter):
            if target.linktype != linktype:
                raise ValueError(
                    f"this capture writes link type {linktype.name} ({int(linktype)}), the "
                    f"shared writer has {target.linktype}"
                )
            self.writer = target
            self._owns_writer = False
        else:
            self.writer = PcapWriter(target, linktype)
            self._owns_writer = True

    def close(self) -> None:
        """Stop capturing: close the file if this wrapper opened it, else flush it."""
        if self._owns_writer:
            self.writer.close()
        else:
            self.writer.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
