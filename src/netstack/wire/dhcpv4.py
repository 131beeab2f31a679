"""DHCPv4 messages (RFC 2131 §2) with their options (RFC 2132, RFC 3396).

The record keeps the BOOTP header fields as they are on the wire and the options as a dict
from code to raw value, in the order they first appear. Decoding follows RFC 3396: every
instance of an option is concatenated, across the ``options`` field and, when the Option
Overload option (52) says so, the ``file`` and ``sname`` fields — in that order. The overload
option is framing, like PAD and END: it is consumed by :meth:`DhcpMessage.parse` and never
shows up in ``options``; a field that carried options reads as empty.

:meth:`DhcpMessage.build` never overloads: every option goes into the ``options`` field,
values longer than 255 bytes split into consecutive instances (RFC 3396 §5), then END, then
zero padding up to the 300-byte BOOTP minimum (RFC 1542 §3.1.1, the size of an RFC 951
message).

Typed views of single options (:meth:`DhcpMessage.ip_option`, :meth:`~DhcpMessage.u32_option`,
…) raise :class:`DecodeError` when a present option has the wrong length for its type, so
callers tell "absent" (None) from "malformed".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from netstack.wire import Buffer, DecodeError

__all__ = [
    "BROADCAST_FLAG",
    "CLIENT_PORT",
    "MAGIC_COOKIE",
    "SERVER_PORT",
    "DhcpMessage",
    "DhcpMessageType",
    "DhcpOp",
    "DhcpOption",
]


class DhcpOp(IntEnum):
    BOOTREQUEST = 1
    BOOTREPLY = 2


class DhcpMessageType(IntEnum):
    """Values of option 53 (RFC 2132 §9.6)."""

    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8


class DhcpOption(IntEnum):
    """Option codes used by netstack (RFC 2132 unless noted)."""

    PAD = 0
    SUBNET_MASK = 1
    ROUTER = 3
    DNS_SERVERS = 6
    HOSTNAME = 12
    DOMAIN_NAME = 15
    INTERFACE_MTU = 26
    BROADCAST_ADDRESS = 28
    REQUESTED_IP = 50
    LEASE_TIME = 51
    OVERLOAD = 52
    MESSAGE_TYPE = 53
    SERVER_ID = 54
    PARAMETER_REQUEST_LIST = 55
    MESSAGE = 56
    MAX_MESSAGE_SIZE = 57
    RENEWAL_TIME = 58
    REBINDING_TIME = 59
    VENDOR_CLASS_ID = 60
    CLIENT_ID = 61
    DOMAIN_SEARCH = 119  # RFC 3397
    END = 255


BROADCAST_FLAG = 0x8000  # RFC 2131 §2, figure 2: the leftmost bit of 'flags'
SERVER_PORT = 67
CLIENT_PORT = 68
MAGIC_COOKIE = b"\x63\x82\x53\x63"  # 99.130.83.99, RFC 2131 §3 / RFC 1497

# op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
# file, magic cookie: the fixed 240 bytes before the options (RFC 2131 §2, figure 1).
_FIXED = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s4s")
_unpack = _FIXED.unpack_from
_pack = _FIXED.pack
_FIXED_SIZE = _FIXED.size  # 240
_MIN_SIZE = 300  # RFC 1542 §3.1.1: BOOTP relays may drop anything shorter

_PAD = DhcpOption.PAD
_END = DhcpOption.END
_OVERLOAD = DhcpOption.OVERLOAD
_OVERLOAD_FILE = 1  # RFC 2132 §9.3
_OVERLOAD_SNAME = 2
_FRAMING = frozenset((_PAD, _END, _OVERLOAD))


def _scan(buf: Buffer, start: int, stop: int, where: str, out: dict[int, bytes]) -> None:
    """Add the options of ``buf[start:stop]`` to ``out``, concatenating repeats (RFC 3396).

    Stops at END; a missing END is tolerated (many BOOTP-era encoders omit it in ``sname``
    and ``file``). An option whose length byte or value runs past ``stop`` is an error.
    """
    i = start
    while i < stop:
        code = buf[i]
        if code == _PAD:
            i += 1
            continue
        if code == _END:
            return
        if i + 1 >= stop:
            raise DecodeError(f"DHCP option {code} in {where} has no length byte")
        length = buf[i + 1]
        end = i + 2 + length
        if end > stop:
            raise DecodeError(
                f"DHCP option {code} in {where} runs past the end ({length} bytes, "
                f"{stop - i - 2} left)"
            )
        value = bytes(buf[i + 2 : end])
        previous = out.get(code)
        out[code] = value if previous is None else previous + value
        i = end


@dataclass(slots=True)
class DhcpMessage:
    """A DHCP (or BOOTP) message.

    ``chaddr`` holds the first ``hlen`` bytes of the 16-byte hardware address field;
    ``sname`` and ``file`` are the NUL-padded fields without their trailing NULs (empty when
    they carried overloaded options). ``options`` maps code → raw value.
    """

    op: int
    xid: int
    chaddr: bytes
    htype: int = 1
    hlen: int = 6
    hops: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: bytes = b"\0\0\0\0"
    yiaddr: bytes = b"\0\0\0\0"
    siaddr: bytes = b"\0\0\0\0"
    giaddr: bytes = b"\0\0\0\0"
    sname: bytes = b""
    file: bytes = b""
    options: dict[int, bytes] = field(default_factory=dict)

    # -- typed views of options -------------------------------------------------------

    @property
    def message_type(self) -> int | None:
        """Option 53 (RFC 2132 §9.6), or None for a BOOTP message without it."""
        value = self.options.get(DhcpOption.MESSAGE_TYPE)
        if value is None:
            return None
        if len(value) != 1:
            raise DecodeError(f"DHCP message type option has {len(value)} bytes, not 1")
        return value[0]

    def _fixed(self, code: int, size: int) -> bytes | None:
        value = self.options.get(code)
        if value is not None and len(value) != size:
            raise DecodeError(f"DHCP option {code} has {len(value)} bytes, not {size}")
        return value

    def ip_option(self, code: int) -> bytes | None:
        """A single IPv4 address option (server id, subnet mask, requested address …)."""
        return self._fixed(code, 4)

    def ip_list_option(self, code: int) -> list[bytes]:
        """A list of IPv4 addresses (routers, DNS servers); empty if absent."""
        value = self.options.get(code)
        if value is None:
            return []
        if len(value) % 4:
            raise DecodeError(f"DHCP option {code} has {len(value)} bytes, not a multiple of 4")
        return [value[i : i + 4] for i in range(0, len(value), 4)]

    def u32_option(self, code: int) -> int | None:
        """A 32-bit unsigned option (lease time, T1, T2)."""
        value = self._fixed(code, 4)
        return None if value is None else int.from_bytes(value)

    def u16_option(self, code: int) -> int | None:
        """A 16-bit unsigned option (interface MTU, maximum message size)."""
        value = self._fixed(code, 2)
        return None if value is None else int.from_bytes(value)

    def text_option(self, code: int) -> str | None:
        """A text option as ASCII (invalid bytes replaced), trailing NULs dropped: RFC 2132
        says text is not NUL-terminated, but some senders add one."""
        value = self.options.get(code)
        if value is None:
            return None
        return value.rstrip(b"\0").decode("ascii", errors="replace")

    # -- codec ------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: Buffer) -> DhcpMessage:
        """Decode a DHCP message (a UDP payload).

        Raises :class:`DecodeError` for fewer than 240 bytes, a wrong magic cookie, ``hlen``
        above 16, an option running past the end of its field, or an Option Overload value
        other than 1, 2 or 3.
        """
        size = len(data)
        if size < _FIXED_SIZE:
            raise DecodeError(f"DHCP message too short: {size} bytes")
        (
            op,
            htype,
            hlen,
            hops,
            xid,
            secs,
            flags,
            ciaddr,
            yiaddr,
            siaddr,
            giaddr,
            chaddr,
            sname,
            file,
            cookie,
        ) = _unpack(data)
        if cookie != MAGIC_COOKIE:
            raise DecodeError(f"bad DHCP magic cookie {cookie.hex()}")
        if hlen > 16:
            raise DecodeError(f"DHCP hlen {hlen} exceeds the 16-byte chaddr field")
        options: dict[int, bytes] = {}
        _scan(data, _FIXED_SIZE, size, "options", options)
        overload = options.pop(_OVERLOAD, None)
        if overload is not None:
            # RFC 2132 §9.3 and RFC 3396 §7: the aggregate buffer is options, then file,
            # then sname.
            if len(overload) != 1 or overload[0] not in (1, 2, 3):
                raise DecodeError(f"bad DHCP option overload value {overload.hex()}")
            mode = overload[0]
            if mode & _OVERLOAD_FILE:
                _scan(file, 0, len(file), "file", options)
                file = b""
            if mode & _OVERLOAD_SNAME:
                _scan(sname, 0, len(sname), "sname", options)
                sname = b""
            options.pop(_OVERLOAD, None)  # only meaningful in the options field
        return cls(
            op,
            xid,
            chaddr[:hlen],
            htype,
            hlen,
            hops,
            secs,
            flags,
            ciaddr,
            yiaddr,
            siaddr,
            giaddr,
            sname.rstrip(b"\0"),
            file.rstrip(b"\0"),
            options,
        )

    def build(self) -> bytes:
        """Encode the message: fixed header, magic cookie, options, END, padding to 300.

        Raises ``ValueError`` for fields that do not fit, or for PAD, END or Option
        Overload in ``options`` (framing, written by the encoder itself).
        """
        if len(self.chaddr) > 16 or self.hlen > 16:
            raise ValueError("DHCP chaddr and hlen must be at most 16 bytes")
        if len(self.sname) > 64 or len(self.file) > 128:
            raise ValueError("DHCP sname is at most 64 bytes and file at most 128")
        if not len(self.ciaddr) == len(self.yiaddr) == len(self.siaddr) == len(self.giaddr) == 4:
            raise ValueError("DHCP ciaddr, yiaddr, siaddr and giaddr must be 4 bytes")
        parts = [
            _pack(
                self.op,
                self.htype,
                self.hlen,
                self.hops,
                self.xid,
                self.secs,
                self.flags,
                self.ciaddr,
                self.yiaddr,
                self.siaddr,
                self.giaddr,
                self.chaddr,
                self.sname,
                self.file,
                MAGIC_COOKIE,
            )
        ]
        append = parts.append
        for code, value in self.options.items():
            if code in _FRAMING or not 0 < code < 255:
                raise ValueError(f"DHCP option code {code} cannot be sent as an option")
            if not value:
                append(bytes((code, 0)))
                continue
            # RFC 3396 §5: split into consecutive instances of at most 255 bytes.
            for i in range(0, len(value), 255):
                chunk = value[i : i + 255]
                append(bytes((code, len(chunk))))
                append(chunk)
        append(b"\xff")
        message = b"".join(parts)
        if len(message) < _MIN_SIZE:
            message += bytes(_MIN_SIZE - len(message))
        return message
