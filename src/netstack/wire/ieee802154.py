"""IEEE 802.15.4 MAC frames: the MAC header of frame versions 2003, 2006 and 2015, the
auxiliary security header, header and payload information elements and the FCS. The
payloads of beacons and MAC commands are :mod:`netstack.wire.ieee802154_mac` (its names are
re-exported here).

A frame on the air (IEEE 802.15.4-2015 §7.2, all fields little-endian)::

    frame control (2) | sequence number (0/1) | destination PAN (0/2) | destination (0/2/8)
    | source PAN (0/2) | source (0/2/8) | auxiliary security header (0, 5..14)
    | header IEs [HT1|HT2] | payload IEs [PT] | MAC payload | FCS (2, or 4 on SUN PHYs)

Addresses in the API: a short address is an ``int`` (:data:`BROADCAST` 0xFFFF;
:data:`NO_SHORT_ADDRESS` 0xFFFE, "associated but no short address"), an extended address
is 8 ``bytes`` in natural (big-endian) order, as printed on a label and by Wireshark
(``00:12:4b:00:01:02:03:04``); the frame carries it little-endian, and this module
reverses it on the way in and out. ``None`` means no address.

PAN identifiers are the fields *carried in the frame*: ``None`` when the field is absent.
Whether a PAN field is present follows from the addressing modes and the PAN ID
Compression bit: §7.2.1.1.5 of IEEE 802.15.4-2006 for versions 2003 and 2006 (with both
addresses present, the bit omits the source PAN, which then equals the destination PAN),
Table 7-2 of IEEE 802.15.4-2015 for version 2015. The record does not store the bit:
:attr:`Ieee802154Frame.pan_id_compression` computes it from the PAN fields present, and
``build`` raises ``ValueError`` for a combination no value of the bit can express. An
intra-PAN frame thus leaves ``src_pan`` ``None`` (``build`` never drops a PAN given to it);
:attr:`Ieee802154Frame.source_pan` gives the PAN the source is in.

Information elements (2015 only) are kept as raw ``(id, content)`` records; the
termination IEs are not listed: ``build`` writes HT1 before payload IEs, HT2 between
header IEs and a MAC payload, and PT between payload IEs and a MAC payload (§7.4.1), and
``parse`` consumes them.

Security processing (CCM*) is not done here but by the mesh stack
(``netstack.stacks.mesh.security``). The ``payload`` of a secured frame is the private
payload as carried, MIC included. :meth:`Ieee802154Frame.parse_with_layout` reports the
byte ranges the security layer needs (:class:`FrameLayout`). When a frame is
encrypted (security level 4..7) its payload IEs are encrypted too (2015 §9.3.5): ``parse``
then cannot list them, sets ``payload_ies_encrypted`` and leaves them at the start of
``payload``; after decryption :func:`parse_payload_ies` splits them off.

Both FCSs run in C: the 16-bit ITU-T CRC (§7.2.10, x^16+x^12+x^5+1, reflected, register
initialised to 0) is :func:`netstack.wire.checksum.crc16_reflected` (PPP's FCS-16 with
another initial register), the 32-bit FCS of SUN PHYs (§7.2.10.2) is zlib's CRC-32.
Both go out least significant octet first.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from netstack.wire import Buffer, ChecksumError, DecodeError
from netstack.wire.checksum import crc16_reflected
from netstack.wire.ieee802154_mac import (
    AssociationStatus,
    Beacon,
    Capability,
    CommandId,
    DisassociationReason,
    GtsDescriptor,
    MacCommand,
)

__all__ = [
    "BROADCAST",
    "KEY_SOURCE_LENGTH",
    "NO_SHORT_ADDRESS",
    "Address",
    "AddressMode",
    "AssociationStatus",
    "AuxSecurityHeader",
    "Beacon",
    "Capability",
    "CommandId",
    "DisassociationReason",
    "FrameLayout",
    "FrameType",
    "FrameVersion",
    "GtsDescriptor",
    "HeaderIE",
    "HeaderIEId",
    "Ieee802154Frame",
    "KeyIdMode",
    "MacCommand",
    "MlmeSubIE",
    "PayloadIE",
    "PayloadIEGroup",
    "SecurityLevel",
    "append_fcs",
    "build_mlme_sub_ies",
    "build_payload_ies",
    "fcs16",
    "fcs32",
    "parse_mlme_sub_ies",
    "parse_payload_ies",
]

BROADCAST = 0xFFFF  # broadcast short address and broadcast PAN identifier
NO_SHORT_ADDRESS = 0xFFFE

#: A short address (int), an extended address (8 bytes, natural order) or no address.
Address = int | bytes | None

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_unpack_u16 = _U16.unpack_from
_unpack_u32 = _U32.unpack_from
_pack_u16 = _U16.pack
_pack_u32 = _U32.pack
_NONCE_TAIL = struct.Struct(">IB")  # CCM* nonce: frame counter and security level, MSB first


class FrameType(IntEnum):
    """Frame Type subfield (IEEE 802.15.4-2015 Table 7-1)."""

    BEACON = 0
    DATA = 1
    ACK = 2
    MAC_COMMAND = 3
    MULTIPURPOSE = 5
    FRAGMENT = 6  # fragment or FRAK (LECIM)
    EXTENDED = 7


class AddressMode(IntEnum):
    """Addressing mode subfields (Table 7-3); 1 is reserved."""

    NONE = 0
    SHORT = 2
    EXTENDED = 3


class FrameVersion(IntEnum):
    """Frame Version subfield (Table 7-4)."""

    V2003 = 0
    V2006 = 1
    V2015 = 2


class SecurityLevel(IntEnum):
    """Security Level subfield (2015 Table 9-6): bit 2 is encryption, bits 0-1 the MIC."""

    NONE = 0
    MIC_32 = 1
    MIC_64 = 2
    MIC_128 = 3
    ENC = 4
    ENC_MIC_32 = 5
    ENC_MIC_64 = 6
    ENC_MIC_128 = 7

    @property
    def mic_length(self) -> int:
        return (0, 4, 8, 16)[self & 3]

    @property
    def encrypted(self) -> bool:
        return bool(self & 4)


class KeyIdMode(IntEnum):
    """Key Identifier Mode subfield (2015 Table 9-7)."""

    IMPLICIT = 0  # no key identifier field
    INDEX = 1  # key index
    SOURCE4_INDEX = 2  # 4-octet key source + key index
    SOURCE8_INDEX = 3  # 8-octet key source + key index


#: The key source length (octets) of each key identifier mode (2015 §9.4.4)
KEY_SOURCE_LENGTH = (0, 0, 4, 8)


class HeaderIEId(IntEnum):
    """Header IE element IDs (2015 Table 7-7, Wi-SUN FAN)."""

    VENDOR_SPECIFIC = 0x00
    CSL = 0x1A
    RIT = 0x1B
    DSME_PAN_DESCRIPTOR = 0x1C
    RENDEZVOUS_TIME = 0x1D
    TIME_CORRECTION = 0x1E
    EXTENDED_DSME_PAN_DESCRIPTOR = 0x21
    FSCD = 0x22
    SIMPLIFIED_SUPERFRAME_SPECIFICATION = 0x23
    SIMPLIFIED_GTS_SPECIFICATION = 0x24
    LECIM_CAPABILITIES = 0x25
    TRLE_DESCRIPTOR = 0x26
    RCC_CAPABILITIES = 0x27
    RCCN_DESCRIPTOR = 0x28
    GLOBAL_TIME = 0x29
    WISUN = 0x2A
    DA = 0x2B
    HT1 = 0x7E  # Header Termination 1: payload IEs follow
    HT2 = 0x7F  # Header Termination 2: the MAC payload follows


class PayloadIEGroup(IntEnum):
    """Payload IE group IDs (2015 Table 7-15, Wi-SUN FAN, RFC 8137)."""

    ESDU = 0x0
    MLME = 0x1  # nested sub-IEs
    VENDOR_SPECIFIC = 0x2
    MPX = 0x3  # IEEE 802.15.9
    WISUN = 0x4
    IETF = 0x5  # RFC 8137
    TERMINATION = 0xF


_HT1 = 0x7E
_HT2 = 0x7F
_PT = 0xF
_HT1_DESCRIPTOR = _pack_u16(_HT1 << 7)
_HT2_DESCRIPTOR = _pack_u16(_HT2 << 7)
_PT_DESCRIPTOR = _pack_u16(0x8000 | _PT << 11)

# --- FCS ------------------------------------------------------------------------------------


def fcs16(data: Buffer) -> int:
    """The 16-bit FCS of ``data`` (IEEE 802.15.4-2015 §7.2.10.1: ITU-T CRC-16, reflected,
    initial register 0, no final XOR); the frame carries it least significant octet first."""
    return crc16_reflected(data, 0)


def fcs32(data: Buffer) -> int:
    """The 32-bit FCS of SUN PHYs (§7.2.10.2, the CRC-32 of IEEE 802.3), sent LSB first."""
    return zlib.crc32(data)


def append_fcs(data: Buffer, *, fcs32: bool = False) -> bytes:
    """``data`` (a frame without FCS) followed by its 2-octet FCS, or 4 with ``fcs32``."""
    if fcs32:
        return bytes(data) + _pack_u32(zlib.crc32(data))
    return bytes(data) + _pack_u16(fcs16(data))


# --- PAN ID compression -------------------------------------------------------------------

_N, _S, _E = AddressMode.NONE, AddressMode.SHORT, AddressMode.EXTENDED

# IEEE 802.15.4-2015 Table 7-2: (dst mode, src mode, PAN ID Compression) ->
# (destination PAN present, source PAN present). Every combination is valid.
_PANS_2015: dict[tuple[int, int, bool], tuple[bool, bool]] = {
    (_N, _N, False): (False, False),
    (_N, _N, True): (True, False),
    (_S, _N, False): (True, False),
    (_E, _N, False): (True, False),
    (_S, _N, True): (False, False),
    (_E, _N, True): (False, False),
    (_N, _S, False): (False, True),
    (_N, _E, False): (False, True),
    (_N, _S, True): (False, False),
    (_N, _E, True): (False, False),
    (_E, _E, False): (True, False),
    (_E, _E, True): (False, False),
    (_S, _S, False): (True, True),
    (_S, _E, False): (True, True),
    (_E, _S, False): (True, True),
    (_S, _E, True): (True, False),
    (_E, _S, True): (True, False),
    (_S, _S, True): (True, False),
}


def _pans_present(
    version: int, dst_mode: int, src_mode: int, compression: bool
) -> tuple[bool, bool] | None:
    """Which PAN fields a frame carries, or None for a combination the version forbids."""
    if version == FrameVersion.V2015:
        return _PANS_2015[dst_mode, src_mode, compression]
    # IEEE 802.15.4-2006 §7.2.1.1.5: the bit only matters when both addresses are present.
    if dst_mode and src_mode:
        return (True, not compression)
    if compression:
        return None
    return (bool(dst_mode), bool(src_mode))


def _address_mode(addr: Address) -> int:
    if addr is None:
        return _N
    if isinstance(addr, int):
        if not 0 <= addr <= 0xFFFF:
            raise ValueError(f"short address out of range: {addr:#x}")
        return _S
    if len(addr) != 8:
        raise ValueError(f"an extended address has 8 bytes, not {len(addr)}")
    return _E


# --- records --------------------------------------------------------------------------------


@dataclass(slots=True)
class AuxSecurityHeader:
    """The auxiliary security header (2015 §9.4, 2006 §7.6.2).

    ``frame_counter`` is ``None`` when suppressed (2015 only). ``key_source`` is 0, 4 or 8
    octets as carried (Key Identifier Modes 0-1, 2, 3); ``key_index`` is ``None`` only in
    mode 0 (implicit key). ``asn_in_nonce`` (2015) says the TSCH ASN replaces the frame
    counter in the nonce.
    """

    level: int
    key_id_mode: int = KeyIdMode.IMPLICIT
    frame_counter: int | None = 0
    key_source: bytes = b""
    key_index: int | None = None
    asn_in_nonce: bool = False

    @property
    def mic_length(self) -> int:
        return (0, 4, 8, 16)[self.level & 3]

    @property
    def length(self) -> int:
        mode = self.key_id_mode
        return 1 + (self.frame_counter is not None) * 4 + KEY_SOURCE_LENGTH[mode] + (mode > 0)

    def nonce(self, source: bytes) -> bytes:
        """The 13-octet CCM* nonce of a frame from the device with extended address ``source``
        (natural order): source address, frame counter (most significant octet first) and
        security level (2006 §7.6.3.2, 2015 §9.3.2; the 2006 Annex C vectors agree).

        ValueError for a suppressed frame counter or ``asn_in_nonce``: the TSCH nonce
        (extended address and 5-octet ASN) is not supported.
        """
        counter = self.frame_counter
        if counter is None or self.asn_in_nonce:
            raise ValueError("the TSCH nonce (ASN in nonce) is not supported")
        if len(source) != 8:
            raise ValueError(f"the nonce needs an 8-octet extended address, not {len(source)}")
        if not 0 <= counter <= 0xFFFFFFFF or not 0 <= self.level <= 7:
            raise ValueError(f"frame counter {counter} or security level {self.level} invalid")
        return bytes(source) + _NONCE_TAIL.pack(counter, self.level)

    def build(self, version: int = FrameVersion.V2006) -> bytes:
        level = self.level
        mode = self.key_id_mode
        if not 0 <= level <= 7 or not 0 <= mode <= 3:
            raise ValueError(f"security level {level} or key identifier mode {mode} invalid")
        if version == FrameVersion.V2003:
            raise ValueError("802.15.4-2003 frames have no auxiliary security header")
        counter = self.frame_counter
        if version != FrameVersion.V2015 and (counter is None or self.asn_in_nonce):
            raise ValueError("frame counter suppression and ASN in nonce need version 2015")
        if len(self.key_source) != KEY_SOURCE_LENGTH[mode]:
            raise ValueError(
                f"key identifier mode {mode} needs a {KEY_SOURCE_LENGTH[mode]}-octet key source"
            )
        control = level | mode << 3 | (counter is None) << 5 | self.asn_in_nonce << 6
        out = bytes((control,))
        if counter is not None:
            if not 0 <= counter <= 0xFFFFFFFF:
                raise ValueError(f"frame counter out of range: {counter}")
            out += _pack_u32(counter)
        if mode:
            if self.key_index is None or not 0 <= self.key_index <= 0xFF:
                raise ValueError(f"key identifier mode {mode} needs a key index 0..255")
            out += self.key_source + bytes((self.key_index,))
        elif self.key_index is not None:
            raise ValueError("key identifier mode 0 (implicit) has no key index")
        return out

    @classmethod
    def _parse(cls, mv: memoryview, off: int, end: int, version: int) -> AuxSecurityHeader:
        if off >= end:
            raise DecodeError("auxiliary security header truncated")
        control = mv[off]
        reserved = 0x80 if version == FrameVersion.V2015 else 0xE0
        if control & reserved:
            raise DecodeError(f"reserved bits set in security control {control:#04x}")
        mode = control >> 3 & 3
        aux = cls(
            SecurityLevel(control & 7), KeyIdMode(mode), None, b"", None, bool(control & 0x40)
        )
        need = 1 + (0 if control & 0x20 else 4) + KEY_SOURCE_LENGTH[mode] + (mode > 0)
        if end - off < need:
            raise DecodeError(f"auxiliary security header truncated: {need} bytes needed")
        off += 1
        if not control & 0x20:
            aux.frame_counter = _unpack_u32(mv, off)[0]
            off += 4
        if mode:
            aux.key_source = bytes(mv[off : off + KEY_SOURCE_LENGTH[mode]])
            aux.key_index = mv[off + KEY_SOURCE_LENGTH[mode]]
        return aux


@dataclass(slots=True)
class HeaderIE:
    """A header information element (2015 §7.4.2): 8-bit element ID, up to 127 octets."""

    element_id: int
    content: bytes = b""


@dataclass(slots=True)
class PayloadIE:
    """A payload information element (2015 §7.4.3): 4-bit group ID, up to 2047 octets.
    The MLME group's content is a list of nested sub-IEs (:func:`parse_mlme_sub_ies`)."""

    group_id: int
    content: bytes = b""


@dataclass(slots=True)
class MlmeSubIE:
    """A sub-IE nested in an MLME payload IE (2015 §7.4.4): short format (7-bit sub-ID,
    up to 255 octets) or long format (4-bit sub-ID, up to 2047 octets)."""

    sub_id: int
    content: bytes = b""
    long_format: bool = False


@dataclass(slots=True, frozen=True)
class FrameLayout:
    """Byte offsets in a frame (FCS excluded) for CCM* (2015 §9.3.5, 2006 §7.5.8.2).

    ``frame[:private_offset]`` is the authenticated-only data *a*: the MAC header with the
    auxiliary security header, the header IEs with HT1/HT2, and for 2003/2006 beacons and
    MAC commands the open payload (superframe specification, GTS and pending-address
    fields; command identifier). ``frame[private_offset:mic_offset]`` is the private
    payload *m* (payload IEs included) and ``frame[mic_offset:length]`` the MIC.
    ``header_length`` ends the MAC header (after HT1/HT2). For 2003 frames the MIC length
    is not known here (it depends on the 2003 security suite) and taken as 0.
    """

    header_length: int
    private_offset: int
    mic_offset: int
    length: int


@dataclass(slots=True)
class Ieee802154Frame:
    """One MAC frame (IEEE 802.15.4-2015 §7.2). Build frames with keyword arguments.

    ``seq`` is ``None`` when the sequence number is suppressed (2015). ``security`` is the
    auxiliary security header of a secured 2006/2015 frame; a secured 2003 frame has
    ``security_enabled`` set and no such header (its security material is in ``payload``).
    ``payload`` is the MAC payload after the IEs (for MAC commands it starts with the
    command identifier, for 2003/2006 beacons with the superframe specification: see
    :class:`MacCommand`, :class:`Beacon`), followed by the MIC in secured frames.
    """

    frame_type: int
    version: int = FrameVersion.V2006
    seq: int | None = 0
    dst_pan: int | None = None
    dst_addr: Address = None
    src_pan: int | None = None
    src_addr: Address = None
    security_enabled: bool = False
    security: AuxSecurityHeader | None = None
    frame_pending: bool = False
    ack_request: bool = False
    header_ies: list[HeaderIE] = field(default_factory=list)
    payload_ies: list[PayloadIE] = field(default_factory=list)
    payload_ies_encrypted: bool = False
    payload: bytes = b""

    @property
    def dst_mode(self) -> int:
        return _address_mode(self.dst_addr)

    @property
    def src_mode(self) -> int:
        return _address_mode(self.src_addr)

    @property
    def pan_id_compression(self) -> bool:
        """The PAN ID Compression bit that carries exactly the PAN fields present."""
        dst_mode = self.dst_mode
        src_mode = self.src_mode
        present = (self.dst_pan is not None, self.src_pan is not None)
        for compression in (False, True):
            if _pans_present(self.version, dst_mode, src_mode, compression) == present:
                return compression
        raise ValueError(
            f"no PAN ID Compression value carries dst_pan={self.dst_pan} src_pan={self.src_pan}"
            f" with addressing modes {dst_mode}/{src_mode} in frame version {self.version}"
        )

    @property
    def source_pan(self) -> int | None:
        """The source's PAN: ``src_pan``, else ``dst_pan`` when it was compressed away."""
        if self.src_pan is not None:
            return self.src_pan
        return self.dst_pan if self.src_addr is not None else None

    @property
    def mic_length(self) -> int:
        return self.security.mic_length if self.security is not None else 0

    def build(self, *, fcs: bool = True, fcs32: bool = False) -> bytes:
        """The frame as transmitted; with ``fcs`` the 2-octet FCS (4 with ``fcs32``) ends it."""
        version = self.version
        frame_type = self.frame_type
        if not 0 <= frame_type <= 3:
            raise ValueError(f"frame type {frame_type} is not supported")
        if not 0 <= version <= 2:
            raise ValueError(f"frame version {version} is reserved")
        is_2015 = version == FrameVersion.V2015
        seq = self.seq
        if seq is None and not is_2015:
            raise ValueError("sequence number suppression needs frame version 2015")
        security = self.security
        if (security is not None) != (self.security_enabled and version != FrameVersion.V2003):
            raise ValueError("security_enabled and the auxiliary security header disagree")
        header_ies = self.header_ies
        payload_ies = self.payload_ies
        with_payload_ies = bool(payload_ies) or self.payload_ies_encrypted
        if (header_ies or with_payload_ies) and not is_2015:
            raise ValueError("information elements need frame version 2015")
        if self.payload_ies_encrypted and (payload_ies or security is None or security.level < 4):
            raise ValueError("encrypted payload IEs need an encrypting level and no listed IEs")
        if seq is not None and not 0 <= seq <= 0xFF:
            raise ValueError(f"sequence number out of range: {seq}")
        for pan in (self.dst_pan, self.src_pan):
            if pan is not None and not 0 <= pan <= 0xFFFF:
                raise ValueError(f"PAN identifier out of range: {pan}")
        compression = self.pan_id_compression
        fcf = (
            frame_type
            | self.security_enabled << 3
            | self.frame_pending << 4
            | self.ack_request << 5
            | compression << 6
            | (seq is None) << 8
            | bool(header_ies or with_payload_ies) << 9
            | self.dst_mode << 10
            | version << 12
            | self.src_mode << 14
        )
        out = bytearray(_pack_u16(fcf))
        if seq is not None:
            out.append(seq)
        for pan, addr in ((self.dst_pan, self.dst_addr), (self.src_pan, self.src_addr)):
            if pan is not None:
                out += _pack_u16(pan)
            if isinstance(addr, int):
                out += _pack_u16(addr)
            elif addr is not None:
                out += addr[::-1]
        if security is not None:
            out += security.build(version)
        payload = self.payload
        has_payload = len(payload) > self.mic_length
        for ie in header_ies:
            eid = ie.element_id
            if not 0 <= eid <= 0xFF or eid in (_HT1, _HT2) or len(ie.content) > 0x7F:
                raise ValueError(f"bad header IE {eid:#x} ({len(ie.content)} octets)")
            out += _pack_u16(len(ie.content) | eid << 7)
            out += ie.content
        if with_payload_ies:
            out += _HT1_DESCRIPTOR
            out += build_payload_ies(payload_ies, terminate=has_payload)
        elif header_ies and has_payload:
            out += _HT2_DESCRIPTOR
        out += payload
        if fcs:
            out += _pack_u32(zlib.crc32(out)) if fcs32 else _pack_u16(fcs16(out))
        return bytes(out)

    @classmethod
    def parse(cls, data: Buffer, *, fcs: bool = True, fcs32: bool = False) -> Ieee802154Frame:
        """Decode a frame; with ``fcs`` its trailing FCS is verified (ChecksumError if bad).

        DecodeError for truncation, frame types 4-7 (not supported), version 3, addressing
        mode 1, reserved bits, a PAN ID Compression bit the version forbids, and malformed
        IEs. Optional forms are accepted: HT2 or PT with nothing after them, HT1 without
        payload IEs; ``build`` writes the canonical form (terminations only where needed).
        """
        return cls.parse_with_layout(data, fcs=fcs, fcs32=fcs32)[0]

    @classmethod
    def parse_with_layout(
        cls, data: Buffer, *, fcs: bool = True, fcs32: bool = False
    ) -> tuple[Ieee802154Frame, FrameLayout]:
        """:meth:`parse`, also returning the offsets CCM* needs (:class:`FrameLayout`)."""
        mv = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
        n = len(mv)
        if fcs:
            size = 4 if fcs32 else 2
            if n < 2 + size:
                raise DecodeError(f"802.15.4 frame too short: {n} bytes")
            n -= size
            if fcs32:
                if zlib.crc32(mv[:n]) != _unpack_u32(mv, n)[0]:
                    raise ChecksumError("bad 802.15.4 FCS-32")
            elif fcs16(mv[:n]) != _unpack_u16(mv, n)[0]:
                raise ChecksumError("bad 802.15.4 FCS")
        if n < 2:
            raise DecodeError(f"802.15.4 frame too short: {n} bytes")
        fcf = _unpack_u16(mv)[0]
        frame_type = fcf & 7
        version = fcf >> 12 & 3
        dst_mode = fcf >> 10 & 3
        src_mode = fcf >> 14
        if frame_type > 3:
            raise DecodeError(f"802.15.4 frame type {frame_type} is not supported")
        if version == 3:
            raise DecodeError("802.15.4 frame version 3 is reserved")
        if fcf & 0x80 or (version != FrameVersion.V2015 and fcf & 0x300):
            raise DecodeError(f"reserved frame control bits set: {fcf:#06x}")
        if dst_mode == 1 or src_mode == 1:
            raise DecodeError("reserved 802.15.4 addressing mode")
        pans = _pans_present(version, dst_mode, src_mode, bool(fcf & 0x40))
        if pans is None:
            raise DecodeError("PAN ID Compression set without both addresses")
        off = 2 if fcf & 0x100 else 3
        need = off + 2 * pans[0] + 2 * pans[1] + (0, 0, 2, 8)[dst_mode] + (0, 0, 2, 8)[src_mode]
        if n < need:
            raise DecodeError(f"802.15.4 header truncated: {need} bytes needed, {n} present")
        frame = cls(FrameType(frame_type), FrameVersion(version), None if off == 2 else mv[2])
        frame.frame_pending = bool(fcf & 0x10)
        frame.ack_request = bool(fcf & 0x20)
        frame.security_enabled = bool(fcf & 8)
        if pans[0]:
            frame.dst_pan = _unpack_u16(mv, off)[0]
            off += 2
        if dst_mode == _S:
            frame.dst_addr = _unpack_u16(mv, off)[0]
            off += 2
        elif dst_mode == _E:
            frame.dst_addr = bytes(mv[off : off + 8])[::-1]
            off += 8
        if pans[1]:
            frame.src_pan = _unpack_u16(mv, off)[0]
            off += 2
        if src_mode == _S:
            frame.src_addr = _unpack_u16(mv, off)[0]
            off += 2
        elif src_mode == _E:
            frame.src_addr = bytes(mv[off : off + 8])[::-1]
            off += 8
        end = n
        if frame.security_enabled and version != FrameVersion.V2003:
            security = frame.security = AuxSecurityHeader._parse(mv, off, n, version)
            off += security.length
            end = n - security.mic_length
            if end < off:
                raise DecodeError("secured 802.15.4 frame too short for its MIC")
        if fcf & 0x200:
            terminator = None
            while off < end:
                if end - off < 2:
                    raise DecodeError("header IE truncated")
                descriptor = _unpack_u16(mv, off)[0]
                length = descriptor & 0x7F
                eid = descriptor >> 7 & 0xFF
                off += 2
                if descriptor & 0x8000:
                    raise DecodeError("payload IE among the header IEs")
                if eid in (_HT1, _HT2):
                    if length:
                        raise DecodeError("header termination IE with content")
                    terminator = eid
                    break
                if end - off < length:
                    raise DecodeError(f"header IE {eid:#x} truncated")
                frame.header_ies.append(HeaderIE(eid, bytes(mv[off : off + length])))
                off += length
            header_length = off
            if terminator == _HT1:
                if frame.security is not None and frame.security.level & 4:
                    frame.payload_ies_encrypted = True
                else:
                    frame.payload_ies, used = _parse_payload_ies(mv, off, end)
                    off += used
        else:
            header_length = off
        frame.payload = bytes(mv[off:n])
        private = header_length
        if version != FrameVersion.V2015:
            if frame_type == FrameType.MAC_COMMAND:
                private = min(header_length + 1, end)
            elif frame_type == FrameType.BEACON:
                private += Beacon.open_length(mv[header_length:end])
        mic = n if version == FrameVersion.V2003 else end
        return frame, FrameLayout(header_length, private, mic, n)


# --- payload IEs and nested MLME sub-IEs ------------------------------------------------------


def _parse_payload_ies(mv: memoryview, off: int, end: int) -> tuple[list[PayloadIE], int]:
    start = off
    ies = []
    while off < end:
        if end - off < 2:
            raise DecodeError("payload IE truncated")
        descriptor = _unpack_u16(mv, off)[0]
        length = descriptor & 0x7FF
        group = descriptor >> 11 & 0xF
        off += 2
        if not descriptor & 0x8000:
            raise DecodeError("header IE among the payload IEs")
        if group == _PT:
            if length:
                raise DecodeError("payload termination IE with content")
            break
        if end - off < length:
            raise DecodeError(f"payload IE group {group:#x} truncated")
        ies.append(PayloadIE(group, bytes(mv[off : off + length])))
        off += length
    return ies, off - start


def parse_payload_ies(data: Buffer) -> tuple[list[PayloadIE], memoryview]:
    """Split payload IEs (ended by PT or by the data) off a decrypted private payload;
    returns them and the MAC payload that follows."""
    mv = memoryview(data)
    ies, used = _parse_payload_ies(mv, 0, len(mv))
    return ies, mv[used:]


def build_payload_ies(ies: list[PayloadIE], *, terminate: bool = False) -> bytes:
    """Encode payload IEs, followed by PT when ``terminate`` (a MAC payload follows)."""
    out = bytearray()
    for ie in ies:
        group = ie.group_id
        if not 0 <= group < _PT or len(ie.content) > 0x7FF:
            raise ValueError(f"bad payload IE group {group:#x} ({len(ie.content)} octets)")
        out += _pack_u16(0x8000 | group << 11 | len(ie.content))
        out += ie.content
    if ies and terminate:
        out += _PT_DESCRIPTOR
    return bytes(out)


def parse_mlme_sub_ies(content: Buffer) -> list[MlmeSubIE]:
    """Decode the nested sub-IEs of an MLME payload IE (2015 §7.4.4, Figures 7-46/7-47)."""
    mv = memoryview(content)
    off = 0
    end = len(mv)
    ies = []
    while off < end:
        if end - off < 2:
            raise DecodeError("MLME sub-IE truncated")
        descriptor = _unpack_u16(mv, off)[0]
        off += 2
        long_format = bool(descriptor & 0x8000)
        if long_format:
            length, sub_id = descriptor & 0x7FF, descriptor >> 11 & 0xF
        else:
            length, sub_id = descriptor & 0xFF, descriptor >> 8 & 0x7F
        if end - off < length:
            raise DecodeError(f"MLME sub-IE {sub_id:#x} truncated")
        ies.append(MlmeSubIE(sub_id, bytes(mv[off : off + length]), long_format))
        off += length
    return ies


def build_mlme_sub_ies(ies: list[MlmeSubIE]) -> bytes:
    out = bytearray()
    for ie in ies:
        size = len(ie.content)
        if ie.long_format:
            if not 0 <= ie.sub_id <= 0xF or size > 0x7FF:
                raise ValueError(f"bad long MLME sub-IE {ie.sub_id:#x} ({size} octets)")
            out += _pack_u16(0x8000 | ie.sub_id << 11 | size)
        else:
            if not 0 <= ie.sub_id <= 0x7F or size > 0xFF:
                raise ValueError(f"bad short MLME sub-IE {ie.sub_id:#x} ({size} octets)")
            out += _pack_u16(ie.sub_id << 8 | size)
        out += ie.content
    return bytes(out)
