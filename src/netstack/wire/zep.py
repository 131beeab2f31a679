"""ZEP, the ZigBee Encapsulation Protocol: IEEE 802.15.4 frames in UDP datagrams to port
17754, as sniffers and simulators send them to Wireshark (whose ``zep`` dissector is the
reference: there is no published standard).

Version 2 (all fields big-endian)::

    data (type 1): "EX" | version 2 | type 1 | channel (1) | device ID (2)
                   | LQI/CRC mode (1) | LQI (1) | NTP timestamp (8) | sequence (4)
                   | reserved (10) | length (1) | 802.15.4 frame (length octets)
    ack (type 2):  "EX" | version 2 | type 2 | sequence (4)

Version 1 (data only): "EX" | version 1 | channel | device ID (2) | LQI/CRC mode | LQI
| reserved (7) | length | frame.

The LQI/CRC mode says what the frame's last two octets are. Wireshark reads any non-zero
mode as *CRC mode*: the frame ends with its real FCS and goes to the 802.15.4 dissector
(which checks it as its ``wpan.fcs_format`` preference says, ITU-T CRC-16 by default).
Mode 0 is *LQI mode*: the last two octets are TI CC24xx metadata in place of the FCS
(RSSI as a signed octet, then bit 7 "CRC OK" and a 7-bit correlation value), see
:func:`cc24xx_trailer`. This module writes mode 1 for CRC mode and 0 for LQI mode; the
frame bytes are carried as given, trailer included. The length field holds at most 127
(Wireshark masks it with 0x7F).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from netstack.wire import Buffer, DecodeError

__all__ = [
    "DATA_HEADER_LEN",
    "PREAMBLE",
    "ZEP_PORT",
    "ZepMessage",
    "ZepType",
    "cc24xx_trailer",
    "ntp_from_seconds",
    "ntp_to_seconds",
]

ZEP_PORT = 17754
PREAMBLE = b"EX"
DATA_HEADER_LEN = 32  # version 2 data
_V1_HEADER_LEN = 16
_ACK_LEN = 8
_MAX_FRAME = 0x7F

# preamble, version, type, channel, device ID, mode, LQI, NTP timestamp, sequence,
# reserved, length
_V2_DATA = struct.Struct("!2sBBBHBBQI10sB")
_V2_ACK = struct.Struct("!2sBBI")
# preamble, version, channel, device ID, mode, LQI, reserved, length
_V1_DATA = struct.Struct("!2sBBHBB7sB")
_NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


class ZepType(IntEnum):
    """The version 2 Type field."""

    DATA = 1
    ACK = 2


def ntp_from_seconds(seconds: float) -> int:
    """The 64-bit NTP timestamp (32.32 fixed point, seconds since 1900) of a Unix time."""
    return round((seconds + _NTP_UNIX_OFFSET) * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def ntp_to_seconds(timestamp: int) -> float:
    """The Unix time of a 64-bit NTP timestamp."""
    return timestamp / (1 << 32) - _NTP_UNIX_OFFSET


def cc24xx_trailer(rssi: int, lqi: int, *, crc_ok: bool = True) -> bytes:
    """The two octets that replace the FCS in LQI mode: RSSI (dBm, signed), then the
    CRC-OK bit and a 7-bit correlation/LQI value (TI CC24xx "append status")."""
    if not -128 <= rssi <= 127 or not 0 <= lqi <= 0x7F:
        raise ValueError(f"RSSI {rssi} or LQI {lqi} out of range")
    return bytes((rssi & 0xFF, crc_ok << 7 | lqi))


@dataclass(slots=True)
class ZepMessage:
    """One ZEP message. ``frame`` is the 802.15.4 frame with its last two octets (FCS in
    ``crc_mode``, else the CC24xx trailer). ``timestamp`` is the raw 64-bit NTP value
    (:func:`ntp_from_seconds`). An ack (version 2 only) carries just ``sequence``;
    version 1 has no type, timestamp or sequence (they read as DATA, 0, 0)."""

    type: int = ZepType.DATA
    channel: int = 11
    device_id: int = 0
    crc_mode: bool = True
    lqi: int = 0xFF
    timestamp: int = 0
    sequence: int = 0
    frame: bytes = b""
    version: int = 2

    @classmethod
    def parse(cls, data: Buffer) -> ZepMessage:
        """Decode a UDP payload. Reserved octets are ignored."""
        size = len(data)
        if size < 4 or bytes(data[:2]) != PREAMBLE:
            raise DecodeError("not a ZEP message (no 'EX' preamble)")
        version = data[2]
        if version == 1:
            if size < _V1_HEADER_LEN:
                raise DecodeError(f"ZEP v1 header truncated: {size} bytes")
            _, _, channel, device, mode, lqi, _, length = _V1_DATA.unpack_from(data)
            msg = cls(ZepType.DATA, channel, device, mode != 0, lqi, version=1)
            start = _V1_HEADER_LEN
        elif version == 2:
            kind = data[3]
            if kind == ZepType.ACK:
                if size != _ACK_LEN:
                    raise DecodeError(f"ZEP ack of {size} bytes, not {_ACK_LEN}")
                return cls(ZepType.ACK, sequence=_V2_ACK.unpack_from(data)[3])
            if kind != ZepType.DATA:
                raise DecodeError(f"unknown ZEP message type {kind}")
            if size < DATA_HEADER_LEN:
                raise DecodeError(f"ZEP data header truncated: {size} bytes")
            fields = _V2_DATA.unpack_from(data)
            _, _, _, channel, device, mode, lqi, timestamp, sequence, _, length = fields
            msg = cls(ZepType.DATA, channel, device, mode != 0, lqi, timestamp, sequence)
            start = DATA_HEADER_LEN
        else:
            raise DecodeError(f"unsupported ZEP version {version}")
        if length > _MAX_FRAME or start + length != size:
            raise DecodeError(f"ZEP length {length} does not match the {size - start} bytes")
        msg.frame = bytes(data[start:])
        return msg

    def build(self) -> bytes:
        """The UDP payload."""
        try:
            return self._build()
        except struct.error as exc:
            raise ValueError(f"ZEP field out of range: {exc}") from None

    def _build(self) -> bytes:
        if self.version == 2 and self.type == ZepType.ACK:
            return _V2_ACK.pack(PREAMBLE, 2, ZepType.ACK, self.sequence)
        if self.type != ZepType.DATA or self.version not in (1, 2):
            raise ValueError(f"cannot build ZEP v{self.version} type {self.type}")
        length = len(self.frame)
        if length > _MAX_FRAME:
            raise ValueError(f"ZEP carries frames up to 127 octets, not {length}")
        if self.version == 1:
            header = _V1_DATA.pack(
                PREAMBLE, 1, self.channel, self.device_id, self.crc_mode, self.lqi, bytes(7), length
            )
        else:
            header = _V2_DATA.pack(
                PREAMBLE,
                2,
                ZepType.DATA,
                self.channel,
                self.device_id,
                self.crc_mode,
                self.lqi,
                self.timestamp,
                self.sequence,
                bytes(10),
                length,
            )
        return header + self.frame
