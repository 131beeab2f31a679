"""The classic libpcap capture file format (what tcpdump, Wireshark and tshark read).

A file is a 24-byte global header followed by records, each a 16-byte header and the
captured bytes::

    global:  magic u32, version 2.4 (u16, u16), thiszone i32, sigfigs u32, snaplen u32,
             linktype u32
    record:  ts_sec u32, ts_frac u32, incl_len u32, orig_len u32, data[incl_len]

The magic tells the byte order and the timestamp resolution: 0xA1B2C3D4 for microseconds,
0xA1B23C4D for nanoseconds. :class:`PcapWriter` always writes little-endian files;
:class:`PcapReader` reads both byte orders and both resolutions.

Timestamps come from the world's clock, split with ``round()`` into whole seconds and
micro- or nanoseconds, so two runs of one simulation give byte-identical files.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from netstack.wire import Buffer, DecodeError

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
VERSION_MAJOR = 2
VERSION_MINOR = 4
DEFAULT_SNAPLEN = 262144

_GLOBAL_LE = struct.Struct("<IHHiIII")
_GLOBAL_BE = struct.Struct(">IHHiIII")
_RECORD_LE = struct.Struct("<IIII")
_RECORD_BE = struct.Struct(">IIII")

#: Largest record a reader accepts, whatever the header's snaplen says (guards against
#: a corrupt length field asking for gigabytes).
_MAX_RECORD = 0x10000000


class LinkType(enum.IntEnum):
    """Link-layer header types (tcpdump.org LINKTYPE_* values)."""

    ETHERNET = 1
    PPP = 9
    PPP_HDLC = 50
    RAW = 101
    USER0 = 147
    IEEE802_15_4_WITHFCS = 195
    PPP_WITH_DIR = 204
    IEEE802_15_4_NOFCS = 230
    IEEE802_15_4_TAP = 283


PcapTarget = str | os.PathLike[str] | BinaryIO


class PcapWriter:
    """Writes a pcap file, one record per :meth:`write`.

    ``target`` is a path (opened here and closed by :meth:`close`) or a binary file object
    (left open). The global header is written at once, so even an empty capture is a valid
    file.
    """

    def __init__(
        self,
        target: PcapTarget,
        linktype: int,
        *,
        snaplen: int = DEFAULT_SNAPLEN,
        nanoseconds: bool = False,
    ) -> None:
        if not 0 < snaplen <= 0xFFFFFFFF:
            raise ValueError(f"snaplen out of range: {snaplen}")
        if not 0 <= linktype <= 0xFFFFFFFF:
            raise ValueError(f"linktype out of range: {linktype}")
        self.linktype = int(linktype)
        self.snaplen = snaplen
        self.nanoseconds = nanoseconds
        self.packets = 0
        self._scale = 1_000_000_000 if nanoseconds else 1_000_000
        self._owns_file = isinstance(target, str | os.PathLike)
        if isinstance(target, str | os.PathLike):
            self._file: BinaryIO = open(target, "wb")  # noqa: SIM115 - closed by close()
        else:
            self._file = target
        self._closed = False
        magic = MAGIC_NSEC if nanoseconds else MAGIC_USEC
        self._file.write(
            _GLOBAL_LE.pack(magic, VERSION_MAJOR, VERSION_MINOR, 0, 0, snaplen, self.linktype)
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, timestamp: float, data: Buffer) -> None:
        """Append one record captured at ``timestamp`` seconds (the world's clock).

        Data beyond ``snaplen`` is cut off; the record keeps the original length.
        """
        if self._closed:
            raise ValueError("write to a closed PcapWriter")
        if timestamp < 0:
            raise ValueError(f"negative timestamp: {timestamp}")
        seconds, fraction = divmod(round(timestamp * self._scale), self._scale)
        if seconds > 0xFFFFFFFF:
            raise ValueError(f"timestamp beyond the pcap range: {timestamp}")
        orig_len = len(data)
        incl_len = min(orig_len, self.snaplen)
        write = self._file.write
        write(_RECORD_LE.pack(seconds, fraction, incl_len, orig_len))
        write(data[:incl_len] if incl_len < orig_len else data)
        self.packets += 1

    def flush(self) -> None:
        if not self._closed:
            self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._file.flush()
        if self._owns_file:
            self._file.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PcapReader:
    """Reads a whole pcap file (path, binary file object or bytes) into memory.

    Meant for tests and tools: the global header is checked at construction, records are
    checked as they are iterated. Malformed input raises :class:`DecodeError`.
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO | Buffer) -> None:
        if isinstance(source, bytes | bytearray | memoryview):
            self._data = bytes(source)
        elif isinstance(source, str | os.PathLike):
            with open(source, "rb") as f:
                self._data = f.read()
        else:
            self._data = source.read()
        if len(self._data) < _GLOBAL_LE.size:
            raise DecodeError(f"pcap global header truncated: {len(self._data)} bytes")
        magic = _GLOBAL_LE.unpack_from(self._data)[0]
        if magic in (MAGIC_USEC, MAGIC_NSEC):
            header, self._record = _GLOBAL_LE, _RECORD_LE
        else:
            header, self._record = _GLOBAL_BE, _RECORD_BE
            magic = header.unpack_from(self._data)[0]
            if magic not in (MAGIC_USEC, MAGIC_NSEC):
                raise DecodeError(f"not a pcap file (magic {self._data[:4].hex()})")
        _, self.version_major, self.version_minor, _, _, self.snaplen, self.linktype = (
            header.unpack_from(self._data)
        )
        self.nanoseconds = magic == MAGIC_NSEC
        self.byteorder = "little" if header is _GLOBAL_LE else "big"
        self._scale = 1_000_000_000 if self.nanoseconds else 1_000_000

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        data = self._data
        record = self._record
        scale = self._scale
        offset = _GLOBAL_LE.size
        end = len(data)
        while offset < end:
            if end - offset < record.size:
                raise DecodeError(f"pcap record header truncated at offset {offset}")
            seconds, fraction, incl_len, _orig_len = record.unpack_from(data, offset)
            offset += record.size
            if incl_len > _MAX_RECORD:
                raise DecodeError(f"pcap record length {incl_len} is implausible")
            if end - offset < incl_len:
                raise DecodeError(
                    f"pcap record truncated: {incl_len} bytes announced, {end - offset} left"
                )
            yield seconds + fraction / scale, data[offset : offset + incl_len]
            offset += incl_len

    def records(self) -> list[tuple[float, bytes]]:
        return list(self)


def read_pcap(
    path: str | os.PathLike[str] | BinaryIO | Buffer,
) -> tuple[int, list[tuple[float, bytes]]]:
    """Return ``(linktype, [(timestamp, frame), ...])`` of a whole pcap file."""
    reader = PcapReader(path)
    return reader.linktype, list(reader)


__all__ = ["LinkType", "PcapReader", "PcapWriter", "read_pcap"]
