"""Wire formats: one module per format, pure records with ``parse`` and ``build``.

Nothing here holds state or does I/O. Decoders raise :class:`DecodeError` on malformed
input and never ``IndexError`` or ``struct.error``.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """Malformed input for a wire format."""


class ChecksumError(DecodeError):
    """A checksum or FCS did not verify."""


Buffer = bytes | bytearray | memoryview

__all__ = ["Buffer", "ChecksumError", "DecodeError"]
