"""IEEE 802.15.4 frame security (CCM*): the IEEE 802.15.4-2006 Annex C vectors, round trips
for every security level and key identifier mode, tampering, wrong keys, the policy checks,
replay protection and the outgoing frame counter.

Wireshark's view of the same frames is checked in tests/wire/test_mesh_security_tshark.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.stacks.mesh.security import (
    MAX_FRAME_COUNTER,
    FrameCounter,
    FrameCounterExhausted,
    KeyLookup,
    ReplayProtection,
    SecurityError,
    SecurityFailure,
    secure_frame,
    unsecure_frame,
)
from netstack.wire import ChecksumError, DecodeError
from netstack.wire.ieee802154 import (
    AuxSecurityHeader,
    FrameType,
    FrameVersion,
    HeaderIE,
    HeaderIEId,
    Ieee802154Frame,
    KeyIdMode,
    MacCommand,
    PayloadIE,
    PayloadIEGroup,
    SecurityLevel,
    append_fcs,
)

V2003, V2006, V2015 = FrameVersion.V2003, FrameVersion.V2006, FrameVersion.V2015
KEY = bytes(range(16))
OTHER_KEY = bytes(range(1, 17))
NODE = bytes.fromhex("02aabbccddeeff01")  # the sender's extended address
PAN = 0x1A2B


def key_of(key: bytes | None) -> KeyLookup:
    def lookup(aux: AuxSecurityHeader, frame: Ieee802154Frame) -> bytes | None:
        return key

    return lookup


LOOKUP = key_of(KEY)

# --- IEEE 802.15.4-2006 Annex C.2 (the bytes of tests/wire/test_ieee802154.py) ---------------

ANNEX_KEY = bytes(range(0xC0, 0xD0))
ANNEX_SOURCE = bytes.fromhex("acde480000000001")
# C.2.1: beacon, level 2 (MIC-64), frame counter 5: the MIC covers the whole beacon.
ANNEX_BEACON = bytes.fromhex(
    "08d0 84 2143 010000000048deac 02 05000000 55cf 00 00 51525354 223bc1ec841ab553"
)
# C.2.2: data frame, level 4 (encryption without MIC), payload "abcd".
ANNEX_DATA = bytes.fromhex("69dc 84 2143 020000000048deac 010000000048deac 04 05000000 d43e022b")
# C.2.3: association request, level 6 (encryption + MIC-64), capability 0xCE; the command
# identifier stays in the clear.
ANNEX_COMMAND = bytes.fromhex(
    "2bdc 84 2143 020000000048deac ffff 010000000048deac 06 05000000 01 d8 4fde529061f9c6f1"
)
ANNEX = [
    (ANNEX_BEACON, bytes.fromhex("55cf0000") + b"QRST"),  # superframe, GTS, pending, payload
    (ANNEX_DATA, b"abcd"),
    (ANNEX_COMMAND, bytes.fromhex("01ce")),
]
ANNEX_IDS = ["C.2.1-beacon", "C.2.2-data", "C.2.3-command"]


@pytest.mark.parametrize(("vector", "plaintext"), ANNEX, ids=ANNEX_IDS)
def test_annex_c_vectors_unsecure_to_their_plaintext(vector: bytes, plaintext: bytes) -> None:
    frame, payload = unsecure_frame(vector, key_of(ANNEX_KEY), fcs=False)
    assert payload == frame.payload == plaintext
    assert frame.src_addr == ANNEX_SOURCE
    assert frame.security is not None and frame.security.frame_counter == 5
    # And securing the record again gives the standard's bytes exactly.
    assert secure_frame(frame, ANNEX_KEY, fcs=False) == vector
    assert secure_frame(frame, ANNEX_KEY) == append_fcs(vector)


def test_annex_c_command_plaintext_is_the_association_request() -> None:
    _, payload = unsecure_frame(ANNEX_COMMAND, key_of(ANNEX_KEY), fcs=False)
    assert MacCommand.parse(payload).capability == 0xCE


@pytest.mark.parametrize(("vector", "plaintext"), ANNEX, ids=ANNEX_IDS)
def test_annex_c_vectors_with_the_wrong_key(vector: bytes, plaintext: bytes) -> None:
    if vector is ANNEX_DATA:
        # Level 4 has no MIC: a wrong key decrypts to garbage, undetected.
        _, payload = unsecure_frame(vector, key_of(KEY), fcs=False)
        assert payload != plaintext
        with pytest.raises(SecurityError) as info:
            unsecure_frame(vector, key_of(KEY), fcs=False, min_level=SecurityLevel.ENC_MIC_32)
        assert info.value.reason is SecurityFailure.IMPROPER_SECURITY_LEVEL
        return
    with pytest.raises(SecurityError, match="MIC") as info:
        unsecure_frame(vector, key_of(KEY), fcs=False)
    assert info.value.reason is SecurityFailure.MIC_MISMATCH


# --- round trips --------------------------------------------------------------------------------

shorts = st.integers(0, 0xFFFF)
extendeds = st.binary(min_size=8, max_size=8)
addresses = st.one_of(st.none(), shorts, extendeds)


@st.composite
def secured_frames(draw: st.DrawFn, level: int, mode: int) -> Ieee802154Frame:
    """Secured 2006/2015 frames with every addressing mode; IEs in 2015 frames. PAN fields:
    one PAN identifier, carried once (valid in both versions' compression rules)."""
    version = draw(st.sampled_from([V2006, V2015]))
    frame_type = draw(st.sampled_from([FrameType.BEACON, FrameType.DATA, FrameType.MAC_COMMAND]))
    dst = draw(addresses)
    src = draw(addresses)
    dst_pan = None if dst is None else draw(shorts)
    src_pan = draw(shorts) if src is not None and dst is None else None
    key_source = draw(st.binary(min_size=(0, 0, 4, 8)[mode], max_size=(0, 0, 4, 8)[mode]))
    aux = AuxSecurityHeader(
        level,
        mode,
        draw(st.integers(0, MAX_FRAME_COUNTER)),
        key_source,
        draw(st.integers(0, 255)) if mode else None,
    )
    header_ies: list[HeaderIE] = []
    payload_ies: list[PayloadIE] = []
    if version == V2015:
        header_ies = draw(
            st.lists(st.builds(HeaderIE, st.integers(0, 0x7D), st.binary(max_size=8)), max_size=2)
        )
        payload_ies = draw(
            st.lists(st.builds(PayloadIE, st.integers(0, 14), st.binary(max_size=8)), max_size=2)
        )
    return Ieee802154Frame(
        frame_type,
        version,
        draw(st.integers(0, 255)),
        dst_pan,
        dst,
        src_pan,
        src,
        True,
        aux,
        frame_pending=draw(st.booleans()),
        ack_request=draw(st.booleans()),
        header_ies=header_ies,
        payload_ies=payload_ies,
        payload=draw(st.binary(max_size=40)),
    )


@pytest.mark.parametrize("mode", list(KeyIdMode))
@pytest.mark.parametrize("level", range(1, 8))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_round_trip_every_level_and_key_identifier_mode(
    level: int, mode: int, data: st.DataObject
) -> None:
    frame = data.draw(secured_frames(level, mode))
    source = None if isinstance(frame.src_addr, bytes) else NODE
    wire = secure_frame(frame, KEY, source=source)
    on_air = Ieee802154Frame.parse(wire)
    assert on_air.security == frame.security
    if not on_air.payload_ies_encrypted:
        assert len(on_air.payload) == len(frame.payload) + on_air.mic_length
    got, payload = unsecure_frame(wire, LOOKUP, source=source, min_level=level)
    assert got == frame and payload == frame.payload
    if level & 4 and frame.frame_type == FrameType.DATA and len(frame.payload) >= 8:
        assert frame.payload not in on_air.payload  # encrypted
    elif not level & 4:
        assert on_air.payload.startswith(frame.payload)  # authenticated only


def test_source_from_a_neighbour_table_lookup() -> None:
    aux = AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, 7, b"", 1)
    frame = Ieee802154Frame(FrameType.DATA, V2006, 1, PAN, 0x0001, None, 0x0042, True, aux)
    frame.payload = b"short source"
    wire = secure_frame(frame, KEY, source=NODE)
    table = {0x0042: NODE}

    def neighbour(f: Ieee802154Frame) -> bytes | None:
        return table.get(f.src_addr) if isinstance(f.src_addr, int) else None

    got, payload = unsecure_frame(wire, LOOKUP, source=neighbour)
    assert got == frame and payload == b"short source"
    with pytest.raises(SecurityError) as info:
        unsecure_frame(wire, LOOKUP)
    assert info.value.reason is SecurityFailure.MISSING_SOURCE
    with pytest.raises(SecurityError, match="MIC"):
        unsecure_frame(wire, LOOKUP, source=bytes(8))  # another sender's nonce


def test_encrypted_payload_ies_round_trip_and_stay_hidden() -> None:
    aux = AuxSecurityHeader(SecurityLevel.ENC_MIC_64, KeyIdMode.INDEX, 3, b"", 2)
    vendor = PayloadIE(PayloadIEGroup.VENDOR_SPECIFIC, bytes.fromhex("c51b00") + b"secret-ie")
    frame = Ieee802154Frame(
        FrameType.DATA,
        V2015,
        5,
        PAN,
        0x0001,
        None,
        NODE,
        True,
        aux,
        header_ies=[HeaderIE(HeaderIEId.CSL, bytes(4))],
        payload_ies=[vendor],
        payload=b"data",
    )
    wire = secure_frame(frame, KEY)
    assert b"secret-ie" not in wire
    on_air = Ieee802154Frame.parse(wire)
    assert on_air.payload_ies_encrypted and on_air.header_ies == frame.header_ies
    assert unsecure_frame(wire, LOOKUP) == (frame, b"data")


# --- what is refused --------------------------------------------------------------------------


def _data_frame(level: int = SecurityLevel.ENC_MIC_32, counter: int | None = 9) -> Ieee802154Frame:
    aux = AuxSecurityHeader(level, KeyIdMode.INDEX, counter, b"", 1)
    return Ieee802154Frame(
        FrameType.DATA, V2006, 1, PAN, 0x0001, None, NODE, True, aux, payload=b"hello"
    )


@pytest.mark.parametrize("level", [1, 2, 3, 5, 6, 7])
def test_tampering_with_any_byte_is_detected(level: int) -> None:
    # A 2015 frame with header IEs, payload IEs and payload, as well as a 2006 frame.
    frame_2015 = Ieee802154Frame(
        FrameType.DATA,
        V2015,
        3,
        PAN,
        0x0001,
        None,
        NODE,
        True,
        AuxSecurityHeader(level, KeyIdMode.INDEX, 1000, b"", 1),
        header_ies=[HeaderIE(HeaderIEId.CSL, bytes.fromhex("10002000"))],
        payload_ies=[PayloadIE(PayloadIEGroup.IETF, b"\x01\x02")],
        payload=b"payload",
    )
    for frame in (_data_frame(level), frame_2015):
        wire = secure_frame(frame, KEY, fcs=False)
        _, layout = Ieee802154Frame.parse_with_layout(wire, fcs=False)
        for pos in range(len(wire)):
            for mask in (0x01, 0x04, 0x80, 0xFF):
                tampered = bytearray(wire)
                tampered[pos] ^= mask
                with pytest.raises(DecodeError) as info:
                    unsecure_frame(bytes(tampered), LOOKUP, fcs=False, min_level=level)
                if pos >= layout.mic_offset or (level & 4 and pos >= layout.private_offset):
                    assert isinstance(info.value, SecurityError)
                    assert info.value.reason is SecurityFailure.MIC_MISMATCH, pos


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([1, 2, 3, 5, 6, 7]).flatmap(
        lambda level: secured_frames(level, KeyIdMode.INDEX)
    ),
    st.integers(0, 200),
    st.integers(1, 255),
)
def test_tampering_random_frames_is_detected(frame: Ieee802154Frame, pos: int, mask: int) -> None:
    assert frame.security is not None
    source = None if isinstance(frame.src_addr, bytes) else NODE
    wire = bytearray(secure_frame(frame, KEY, source=source, fcs=False))
    wire[pos % len(wire)] ^= mask
    with pytest.raises(DecodeError):
        unsecure_frame(bytes(wire), LOOKUP, source=NODE, fcs=False, min_level=frame.security.level)


def test_level_4_tampering_goes_unnoticed_unless_a_mic_is_required() -> None:
    wire = bytearray(secure_frame(_data_frame(SecurityLevel.ENC), KEY, fcs=False))
    wire[-1] ^= 1
    _, payload = unsecure_frame(bytes(wire), LOOKUP, fcs=False)
    assert payload == b"helln"  # CTR: the flipped bit comes through ("o" ^ 1)
    with pytest.raises(SecurityError) as info:
        unsecure_frame(bytes(wire), LOOKUP, fcs=False, min_level=SecurityLevel.MIC_32)
    assert info.value.reason is SecurityFailure.IMPROPER_SECURITY_LEVEL


@pytest.mark.parametrize(
    ("level", "minimum", "accepted"),
    [
        (5, 5, True),
        (7, 5, True),
        (6, 3, False),  # MIC-64 < MIC-128
        (3, 5, False),  # no encryption
        (4, 1, False),  # no MIC
        (5, 4, True),
        (1, 0, True),
    ],
)
def test_minimum_security_level(level: int, minimum: int, accepted: bool) -> None:
    wire = secure_frame(_data_frame(level), KEY)
    if accepted:
        assert unsecure_frame(wire, LOOKUP, min_level=minimum)[1] == b"hello"
    else:
        with pytest.raises(SecurityError, match="minimum"):
            unsecure_frame(wire, LOOKUP, min_level=minimum)


@pytest.mark.parametrize("level", range(1, 8))
def test_wrong_key_is_refused(level: int) -> None:
    wire = secure_frame(_data_frame(level), KEY)
    if level == SecurityLevel.ENC:
        assert unsecure_frame(wire, key_of(OTHER_KEY))[1] != b"hello"
        return
    with pytest.raises(SecurityError) as info:
        unsecure_frame(wire, key_of(OTHER_KEY))
    assert info.value.reason is SecurityFailure.MIC_MISMATCH


def test_refusals_name_their_reason() -> None:
    wire = secure_frame(_data_frame(), KEY)
    with pytest.raises(SecurityError, match="no key") as info:
        unsecure_frame(wire, key_of(None))
    assert info.value.reason is SecurityFailure.UNAVAILABLE_KEY
    plain = Ieee802154Frame(FrameType.DATA, V2006, 1, PAN, 1, None, NODE, payload=b"x").build()
    with pytest.raises(SecurityError) as info:
        unsecure_frame(plain, LOOKUP)
    assert info.value.reason is SecurityFailure.NOT_SECURED
    legacy = Ieee802154Frame(
        FrameType.DATA, V2003, 1, PAN, 1, None, NODE, security_enabled=True, payload=b"x"
    ).build()
    with pytest.raises(SecurityError) as info:
        unsecure_frame(legacy, LOOKUP)
    assert info.value.reason is SecurityFailure.UNSUPPORTED_LEGACY
    for aux in (
        AuxSecurityHeader(SecurityLevel.NONE, KeyIdMode.INDEX, 1, b"", 1),
        AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, None, b"", 1),
        AuxSecurityHeader(SecurityLevel.ENC_MIC_32, KeyIdMode.INDEX, 1, b"", 1, True),
    ):
        frame = Ieee802154Frame(FrameType.DATA, V2015, 1, PAN, 1, None, NODE, True, aux)
        frame.payload = bytes(8)
        with pytest.raises(SecurityError) as info:
            unsecure_frame(frame.build(), LOOKUP)
        assert info.value.reason is SecurityFailure.UNSUPPORTED_SECURITY
    spent = _data_frame(counter=0xFFFFFFFF)
    spent.payload += bytes(4)
    with pytest.raises(SecurityError) as info:
        unsecure_frame(spent.build(), LOOKUP)
    assert info.value.reason is SecurityFailure.COUNTER_ERROR
    # A bad FCS is a ChecksumError, before any security processing.
    with pytest.raises(ChecksumError):
        unsecure_frame(wire[:-1] + bytes([wire[-1] ^ 1]), LOOKUP)


@pytest.mark.parametrize(
    ("frame", "key", "source", "message"),
    [
        (_data_frame(counter=0xFFFFFFFF), KEY, None, "0xffffffff"),
        (_data_frame(counter=None), KEY, None, "ASN"),
        (_data_frame(level=SecurityLevel.NONE), KEY, None, "levels 1-7"),
        (_data_frame(), bytes(15), None, "16 octets"),
        (_data_frame(), KEY, bytes(8), "differs"),
        (Ieee802154Frame(FrameType.DATA, V2006, 1, PAN, 1, None, NODE), KEY, None, "auxiliary"),
    ],
)
def test_frames_that_cannot_be_secured(
    frame: Ieee802154Frame, key: bytes, source: bytes | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        secure_frame(frame, key, source=source)


def test_secure_frame_needs_the_senders_extended_address() -> None:
    frame = _data_frame()
    frame.src_addr = 0x0042
    with pytest.raises(ValueError, match="extended address"):
        secure_frame(frame, KEY)
    with pytest.raises(ValueError, match="8-octet"):
        secure_frame(frame, KEY, source=bytes(2))


# --- replay protection --------------------------------------------------------------------------


def test_replayed_and_old_counters_are_rejected() -> None:
    replay = ReplayProtection()
    assert replay.check_and_update(NODE, 1, 5)
    assert not replay.check_and_update(NODE, 1, 5)  # the same frame again
    assert not replay.check_and_update(NODE, 1, 4)  # an older one
    assert replay.check_and_update(NODE, 1, 9)  # gaps are fine (lost frames)
    assert replay.highest(NODE, 1) == 9
    # Counters are per sender and per key.
    assert replay.check_and_update(NODE, 2, 0)
    assert replay.check_and_update(bytes(8), 1, 0)
    assert not replay.is_fresh(NODE, 1, 9) and replay.is_fresh(NODE, 1, 10)
    assert replay.highest(NODE, 1) == 9  # is_fresh changes nothing


def test_counter_0xffffffff_is_never_fresh() -> None:
    replay = ReplayProtection()
    assert not replay.is_fresh(NODE, 1, 0xFFFFFFFF)
    assert not replay.check_and_update(NODE, 1, 0xFFFFFFFF)
    assert replay.check_and_update(NODE, 1, MAX_FRAME_COUNTER)
    assert not replay.check_and_update(NODE, 1, -1)
    assert len(replay) == 1


def test_replay_table_is_bounded_and_evicts_the_least_recent() -> None:
    replay = ReplayProtection(max_entries=3)
    senders = [bytes([i]) * 8 for i in range(5)]
    for sender in senders[:3]:
        assert replay.check_and_update(sender, 0, 10)
    assert replay.check_and_update(senders[0], 0, 11)  # senders[0] is recent again
    assert replay.check_and_update(senders[3], 0, 10)  # evicts senders[1]
    assert len(replay) == 3 and replay.evictions == 1
    assert replay.highest(senders[1], 0) is None and replay.highest(senders[0], 0) == 11
    # The evicted sender starts over: what the bound costs (see the class docstring).
    assert replay.check_and_update(senders[1], 0, 1)
    assert replay.evictions == 2
    replay.forget(senders[1])
    assert replay.highest(senders[1], 0) is None and len(replay) == 2
    with pytest.raises(ValueError):
        ReplayProtection(max_entries=0)


def test_secured_link_drops_replayed_frames() -> None:
    counter = FrameCounter()
    replay = ReplayProtection()
    sent = []
    for text in (b"one", b"two", b"three"):
        frame = _data_frame(counter=counter.allocate())
        frame.payload = text
        sent.append(secure_frame(frame, KEY))
    delivered = []
    for wire in [sent[0], sent[1], sent[0], sent[2], sent[1]]:
        frame, payload = unsecure_frame(wire, LOOKUP)
        assert frame.security is not None and frame.security.frame_counter is not None
        if replay.check_and_update(NODE, frame.security.key_index, frame.security.frame_counter):
            delivered.append(payload)
    assert delivered == [b"one", b"two", b"three"]


# --- outgoing frame counter ---------------------------------------------------------------------


def test_frame_counter_counts_and_refuses_to_wrap() -> None:
    counter = FrameCounter()
    assert [counter.allocate() for _ in range(3)] == [0, 1, 2] and counter.value == 3
    counter = FrameCounter(MAX_FRAME_COUNTER)
    assert not counter.exhausted
    assert counter.allocate() == 0xFFFFFFFE
    assert counter.exhausted and counter.value == 0xFFFFFFFF
    with pytest.raises(FrameCounterExhausted):
        counter.allocate()
    with pytest.raises(FrameCounterExhausted):
        counter.allocate()  # still exhausted: no wrap to 0
    with pytest.raises(ValueError):
        FrameCounter(0x1_0000_0000)
