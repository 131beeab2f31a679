"""IEEE 802.15.4 frame security: CCM* over the frames of :mod:`netstack.wire.ieee802154`,
with the frame counters that go with it. Sans-I/O: no clock, no state but what the caller
holds (IEEE 802.15.4-2006 §7.5.8 and §7.6.3, IEEE 802.15.4-2015 §9.2-§9.3).

Sending: build the :class:`~netstack.wire.ieee802154.Ieee802154Frame` with its auxiliary
security header (level, key identifier, a frame counter from :class:`FrameCounter`) and its
payload in the clear; :func:`secure_frame` returns the frame as transmitted. Receiving:
:func:`unsecure_frame` parses it, asks the caller for the key, checks the MIC and decrypts;
then the caller asks :class:`ReplayProtection` whether the frame counter is new. Only a
verified MIC makes a frame counter trustworthy, so replay state is updated after the MIC
check, never before. Which level a frame needs is the caller's policy (2006 §7.5.8.2.8),
passed to :func:`unsecure_frame` as ``min_level``: without it a forged level 4 (encryption
without MIC) is accepted, since nothing authenticates it.

CCM* (2006 Annex B, 2015 Annex B) is CCM (RFC 3610) with a 2-octet length field (L = 2),
extended to a MIC length M of 0:

- the nonce is the sender's extended address, the frame counter and the security level
  (:meth:`~netstack.wire.ieee802154.AuxSecurityHeader.nonce`);
- the authenticated data *a* and private payload *m* are the byte ranges
  :class:`~netstack.wire.ieee802154.FrameLayout` reports: for the MIC-only levels 1-3 *a*
  is the whole frame before the MIC and *m* is empty (2006 §7.6.3.4; 2015 §9.3);
- levels 1-3 and 5-7 (M = 4, 8, 16) are AES-CCM, computed by ``cryptography``'s
  :class:`AESCCM`; level 4 (M = 0, encryption only, no integrity at all) is CTR mode from
  counter block A1 = flags (L - 1 = 1) || nonce || 0x0001, as CCM* encrypts ``m`` with
  counter blocks 1, 2, ... and spends block 0 only on the MIC.

Not supported: the 802.15.4-2003 security suites (a 2003 frame has no auxiliary security
header), and the TSCH nonce of 2015 (frame counter suppressed, ASN in the nonce).
"""

from __future__ import annotations

import dataclasses
import enum
from collections import OrderedDict
from collections.abc import Callable, Hashable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from netstack.wire import Buffer, DecodeError
from netstack.wire.ieee802154 import (
    AuxSecurityHeader,
    FrameVersion,
    Ieee802154Frame,
    append_fcs,
    parse_payload_ies,
)

__all__ = [
    "MAX_FRAME_COUNTER",
    "FrameCounter",
    "FrameCounterExhausted",
    "KeyLookup",
    "ReplayProtection",
    "SecurityError",
    "SecurityFailure",
    "SourceLookup",
    "secure_frame",
    "unsecure_frame",
]

#: The highest frame counter a frame may carry: 0xFFFFFFFF is never sent nor accepted
#: (2006 §7.5.8.2.1 and §7.5.8.2.3; 2015 §9.2).
MAX_FRAME_COUNTER = 0xFFFFFFFE
_KEY_LENGTH = 16  # AES-128 (2006 §7.6.3.3)
_FLAGS_L2 = b"\x01"  # CCM* flags octet of a counter block: L - 1 = 1, nothing else

#: ``key_lookup(aux, frame)``: the 16-octet key a received frame names, or None.
KeyLookup = Callable[[AuxSecurityHeader, Ieee802154Frame], bytes | None]
#: ``source(frame)``: the sender's extended address for a frame that does not carry it.
SourceLookup = Callable[[Ieee802154Frame], bytes | None]


class SecurityFailure(enum.Enum):
    """Why a frame could not be unsecured; the names follow the MLME status codes of the
    incoming frame security procedure (2006 §7.5.8.2.3) where there is one."""

    NOT_SECURED = "the frame is not secured"
    UNSUPPORTED_LEGACY = "802.15.4-2003 frame security is not supported"
    UNSUPPORTED_SECURITY = "unsupported security"
    IMPROPER_SECURITY_LEVEL = "security level below the required minimum"
    MISSING_SOURCE = "no extended address for the sender, needed for the nonce"
    UNAVAILABLE_KEY = "no key for the frame's key identifier"
    COUNTER_ERROR = "frame counter 0xffffffff"
    MIC_MISMATCH = "MIC does not verify"  # SECURITY_ERROR in the standard


class SecurityError(DecodeError):
    """A received frame failed security processing; ``reason`` says why."""

    def __init__(self, reason: SecurityFailure, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason


class FrameCounterExhausted(RuntimeError):
    """Every frame counter of a key has been used: the key must be replaced."""


# --- CCM* ------------------------------------------------------------------------------------


def _check_key(key: bytes) -> None:
    if len(key) != _KEY_LENGTH:
        raise ValueError(f"802.15.4 security uses AES-128 keys: 16 octets, not {len(key)}")


def _ctr(key: bytes, nonce: bytes, data: Buffer) -> bytes:
    """CCM* encryption with M = 0: the keystream of counter blocks 1, 2, ... (Annex B)."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(_FLAGS_L2 + nonce + b"\x00\x01")).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def _seal(key: bytes, level: int, nonce: bytes, a: bytes, m: bytes) -> bytes:
    """CCM* on (a, m): for encrypting levels, the ciphertext of m and the MIC; for MIC-only
    levels the MIC alone (the caller passes a || m as a and nothing as m)."""
    mic_length = (0, 4, 8, 16)[level & 3]
    if not mic_length:
        return _ctr(key, nonce, m)
    return AESCCM(key, tag_length=mic_length).encrypt(nonce, m, a)


def _open(key: bytes, level: int, nonce: bytes, a: bytes, sealed: bytes) -> bytes:
    """The inverse of :func:`_seal`; :class:`SecurityError` when the MIC does not verify."""
    mic_length = (0, 4, 8, 16)[level & 3]
    if not mic_length:
        return _ctr(key, nonce, sealed)
    try:
        return AESCCM(key, tag_length=mic_length).decrypt(nonce, sealed, a)
    except InvalidTag:
        raise SecurityError(SecurityFailure.MIC_MISMATCH) from None


def _meets(level: int, minimum: int) -> bool:
    """Whether security ``level`` is at least ``minimum``: encryption if the minimum has it,
    and a MIC at least as long (the MIC length grows with the two low bits)."""
    return (level & 4) >= (minimum & 4) and (level & 3) >= (minimum & 3)


# --- securing and unsecuring frames ------------------------------------------------------------


def secure_frame(
    frame: Ieee802154Frame,
    key: bytes,
    *,
    source: bytes | None = None,
    fcs: bool = True,
    fcs32: bool = False,
) -> bytes:
    """The frame as transmitted: ``frame`` secured with ``key`` (2006 §7.5.8.2.1; 2015 §9.2).

    ``frame.security`` says how (level 1-7, key identifier, frame counter); ``frame.payload``
    and ``frame.payload_ies`` are in the clear, without MIC. ``source`` is the sender's
    extended address (natural order) for the nonce; it may be left out when the frame's
    source address is extended, and must then equal it. With ``fcs`` the FCS (4 octets
    with ``fcs32``) ends the frame.

    ValueError for a frame that cannot be secured: no auxiliary security header, level 0,
    frame counter 0xFFFFFFFF or suppressed, ASN in nonce, a key that is not 16 octets.
    """
    aux = frame.security
    if aux is None or frame.version == FrameVersion.V2003:
        raise ValueError("only 2006/2015 frames with an auxiliary security header are secured")
    level = aux.level
    if not 1 <= level <= 7:
        raise ValueError(f"security level {level}: secured frames use levels 1-7")
    if aux.frame_counter is not None and aux.frame_counter > MAX_FRAME_COUNTER:
        raise ValueError("frame counter 0xffffffff is never sent (2006 §7.5.8.2.1)")
    if frame.payload_ies_encrypted:
        raise ValueError("list the payload IEs in payload_ies: secure_frame encrypts them")
    sender = frame.src_addr if isinstance(frame.src_addr, bytes) else None
    if sender is None:
        if source is None:
            raise ValueError("the nonce needs the sender's extended address: pass source")
        sender = source
    elif source is not None and source != sender:
        raise ValueError("source differs from the frame's extended source address")
    nonce = aux.nonce(sender)
    _check_key(key)
    # Build the frame with room for the MIC: the layout of what goes on the air.
    template = dataclasses.replace(
        frame, security_enabled=True, payload=frame.payload + bytes(aux.mic_length)
    )
    plain = template.build(fcs=False)
    _, layout = Ieee802154Frame.parse_with_layout(plain, fcs=False)
    if level & 4:
        a = plain[: layout.private_offset]
        sealed = a + _seal(key, level, nonce, a, plain[layout.private_offset : layout.mic_offset])
    else:
        a = plain[: layout.mic_offset]
        sealed = a + _seal(key, level, nonce, a, b"")
    return append_fcs(sealed, fcs32=fcs32) if fcs else sealed


def unsecure_frame(
    data: Buffer,
    key_lookup: KeyLookup,
    *,
    source: bytes | SourceLookup | None = None,
    min_level: int = 0,
    fcs: bool = True,
    fcs32: bool = False,
) -> tuple[Ieee802154Frame, bytes]:
    """Parse, authenticate and decrypt a received secured frame (2006 §7.5.8.2.3; 2015
    §9.2). Returns the frame as its sender gave it to :func:`secure_frame` (payload and
    payload IEs in the clear, no MIC; ``security`` kept, for the replay check) and its
    MAC payload.

    ``key_lookup(aux, frame)`` returns the key the frame names (by key identifier mode,
    key source and index, and for the implicit mode by its addresses), or None.
    ``source`` gives the sender's extended address when the frame carries a short or no
    source address: the address, or a function of the parsed frame (a neighbour table
    lookup) returning it or None. A frame's own extended source address always wins.
    ``min_level`` is the least security accepted: a level meets it when it encrypts if the
    minimum does and its MIC is at least as long (2006 §7.5.8.2.8).

    Raises :class:`SecurityError` (a DecodeError) with its ``reason``; DecodeError or
    ChecksumError for a malformed frame or a bad FCS; ValueError for a key that is not
    16 octets or a source that is not 8.
    """
    frame, layout = Ieee802154Frame.parse_with_layout(data, fcs=fcs, fcs32=fcs32)
    aux = frame.security
    if not frame.security_enabled:
        raise SecurityError(SecurityFailure.NOT_SECURED)
    if aux is None:
        raise SecurityError(SecurityFailure.UNSUPPORTED_LEGACY)
    level = aux.level
    if level == 0:
        # 2006 §7.5.8.2.3 f) would pass the frame on as unsecured; a MAC that requires
        # security wants to know, so it is refused here.
        raise SecurityError(SecurityFailure.UNSUPPORTED_SECURITY, "security level 0")
    if not _meets(level, min_level):
        raise SecurityError(
            SecurityFailure.IMPROPER_SECURITY_LEVEL, f"level {level}, minimum {min_level}"
        )
    counter = aux.frame_counter
    if counter is None or aux.asn_in_nonce:
        raise SecurityError(SecurityFailure.UNSUPPORTED_SECURITY, "TSCH nonce (ASN in nonce)")
    if counter > MAX_FRAME_COUNTER:
        raise SecurityError(SecurityFailure.COUNTER_ERROR)
    sender: bytes | None
    if isinstance(frame.src_addr, bytes):
        sender = frame.src_addr
    elif callable(source):
        sender = source(frame)
    else:
        sender = source
    if sender is None:
        raise SecurityError(SecurityFailure.MISSING_SOURCE)
    key = key_lookup(aux, frame)
    if key is None:
        raise SecurityError(
            SecurityFailure.UNAVAILABLE_KEY,
            f"key identifier mode {aux.key_id_mode}, index {aux.key_index}",
        )
    _check_key(key)
    nonce = aux.nonce(sender)
    mv = memoryview(data)
    payload_start = layout.length - len(frame.payload)
    private, mic = layout.private_offset, layout.mic_offset
    if level & 4:
        a = bytes(mv[:private])
        m = _open(key, level, nonce, a, bytes(mv[private : layout.length]))
        clear = bytes(mv[payload_start:private]) + m
    else:
        _open(key, level, nonce, bytes(mv[:mic]), bytes(mv[mic : layout.length]))
        clear = bytes(mv[payload_start:mic])
    if frame.payload_ies_encrypted:
        ies, rest = parse_payload_ies(clear)
        frame = dataclasses.replace(
            frame, payload_ies=ies, payload_ies_encrypted=False, payload=bytes(rest)
        )
    else:
        frame = dataclasses.replace(frame, payload=clear)
    return frame, frame.payload


# --- frame counters ----------------------------------------------------------------------------


class FrameCounter:
    """The outgoing frame counter of one key (2006 §7.5.8.2.1): each secured frame takes
    the next value; after 0xFFFFFFFE there is none (0xFFFFFFFF is never sent), and
    :meth:`allocate` raises :class:`FrameCounterExhausted` rather than wrap, since a
    repeated counter repeats a CCM* nonce. Persisting it across restarts is the owner's job.
    """

    __slots__ = ("_next",)

    def __init__(self, start: int = 0) -> None:
        if not 0 <= start <= MAX_FRAME_COUNTER + 1:
            raise ValueError(f"frame counter {start} out of range")
        self._next = start

    @property
    def value(self) -> int:
        """The counter the next frame gets (0xFFFFFFFF once exhausted)."""
        return self._next

    @property
    def exhausted(self) -> bool:
        return self._next > MAX_FRAME_COUNTER

    def allocate(self) -> int:
        """The counter for the next secured frame."""
        value = self._next
        if value > MAX_FRAME_COUNTER:
            raise FrameCounterExhausted("frame counter exhausted: replace the key")
        self._next = value + 1
        return value


class ReplayProtection:
    """The highest frame counter accepted per (sender, key): a frame is fresh when its
    counter is above it (2006 §7.5.8.2.3: a counter below the device's FrameCounter is a
    COUNTER_ERROR, and FrameCounter becomes the received counter + 1).

    ``source`` is the sender's extended address; ``key_id`` anything hashable that names
    the key (the key index, or ``(key_source, key_index)``). 0xFFFFFFFF is never fresh.
    Call :meth:`check_and_update` only after the MIC has verified; :meth:`is_fresh` may
    drop a replay before spending the decryption on it.

    The table holds at most ``max_entries`` (sender, key) pairs; when full, the least
    recently accepted pair is evicted and counted in ``evictions``. An evicted sender's
    old frames would be accepted again, so size the table to the neighbour table.
    """

    __slots__ = ("_highest", "evictions", "max_entries")

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("the replay table needs room for one entry")
        self.max_entries = max_entries
        self.evictions = 0
        self._highest: OrderedDict[tuple[bytes, Hashable], int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._highest)

    def highest(self, source: bytes, key_id: Hashable) -> int | None:
        """The highest counter accepted from ``source`` under ``key_id``, if any."""
        return self._highest.get((bytes(source), key_id))

    def is_fresh(self, source: bytes, key_id: Hashable, counter: int) -> bool:
        """Whether ``counter`` would be accepted; changes nothing."""
        if not 0 <= counter <= MAX_FRAME_COUNTER:
            return False
        highest = self._highest.get((bytes(source), key_id))
        return highest is None or counter > highest

    def check_and_update(self, source: bytes, key_id: Hashable, counter: int) -> bool:
        """Accept ``counter`` (True, and remember it) if it is fresh; else False."""
        entry = (bytes(source), key_id)
        table = self._highest
        highest = table.get(entry)
        if not 0 <= counter <= MAX_FRAME_COUNTER or (highest is not None and counter <= highest):
            return False
        if highest is None and len(table) >= self.max_entries:
            table.popitem(last=False)
            self.evictions += 1
        table[entry] = counter
        table.move_to_end(entry)
        return True

    def forget(self, source: bytes) -> None:
        """Drop every entry of ``source`` (a neighbour removed, or a new key in use)."""
        source = bytes(source)
        for entry in [e for e in self._highest if e[0] == source]:
            del self._highest[entry]
