"""ZEP (ZigBee Encapsulation Protocol) v1/v2 messages: vectors, round trips and fuzzing.

tshark's decoding of the same messages inside UDP is checked in test_ieee802154_tshark.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import DecodeError
from netstack.wire.ieee802154 import FrameType, Ieee802154Frame
from netstack.wire.zep import (
    DATA_HEADER_LEN,
    ZEP_PORT,
    ZepMessage,
    ZepType,
    cc24xx_trailer,
    ntp_from_seconds,
    ntp_to_seconds,
)

# A 2006 broadcast data frame with FCS (see test_ieee802154.py).
WPAN = bytes.fromhex("4198 05 3412 ffff 0100 4160 56a2")

# Built by hand from the layout in Wireshark's packet-zep.c; tshark 4.0 decodes it as
# ZEPv2 data, channel 15, device 4660, CRC mode, 2023-11-14 22:13:20.25 UTC, seq 77.
# NTP timestamp: 1_700_000_000 + 2_208_988_800 = 0xe8fe6f80 seconds, 0.25 = 0x40000000.
DATA_V2 = (
    bytes.fromhex("4558 02 01 0f 1234 01 ff e8fe6f80 40000000 0000004d 00000000000000000000 0d")
    + WPAN
)
ACK_V2 = bytes.fromhex("4558 02 02 0000004f")  # ack for sequence 79
DATA_V1 = bytes.fromhex("4558 01 14 0007 01 ff 00000000000000 0d") + WPAN


def test_port() -> None:
    assert ZEP_PORT == 17754


def test_v2_data_vector() -> None:
    msg = ZepMessage.parse(DATA_V2)
    assert msg == ZepMessage(
        ZepType.DATA,
        channel=15,
        device_id=0x1234,
        crc_mode=True,
        lqi=0xFF,
        timestamp=ntp_from_seconds(1_700_000_000.25),
        sequence=77,
        frame=WPAN,
    )
    assert ntp_to_seconds(msg.timestamp) == 1_700_000_000.25
    assert msg.build() == DATA_V2
    assert len(DATA_V2) - len(WPAN) == DATA_HEADER_LEN
    assert Ieee802154Frame.parse(msg.frame).frame_type == FrameType.DATA


def test_v2_ack_vector() -> None:
    msg = ZepMessage.parse(ACK_V2)
    assert msg == ZepMessage(ZepType.ACK, sequence=79)
    assert msg.build() == ACK_V2


def test_v1_vector() -> None:
    msg = ZepMessage.parse(DATA_V1)
    assert (msg.version, msg.channel, msg.device_id, msg.crc_mode) == (1, 20, 7, True)
    assert msg.frame == WPAN and msg.build() == DATA_V1


def test_lqi_mode_carries_the_cc24xx_trailer() -> None:
    assert cc24xx_trailer(-40, 100) == bytes([0xD8, 0x80 | 100])
    assert cc24xx_trailer(10, 5, crc_ok=False) == bytes([10, 5])
    msg = ZepMessage(crc_mode=False, lqi=200, frame=WPAN[:-2] + cc24xx_trailer(-40, 100))
    wire = msg.build()
    assert wire[7] == 0 and wire[8] == 200
    assert ZepMessage.parse(wire) == msg
    with pytest.raises(ValueError):
        cc24xx_trailer(-129, 0)
    with pytest.raises(ValueError):
        cc24xx_trailer(0, 128)


def test_any_nonzero_mode_reads_as_crc_mode() -> None:
    # Wireshark treats every non-zero LQI/CRC mode octet as CRC mode.
    wire = bytearray(DATA_V2)
    wire[7] = 0x80
    assert ZepMessage.parse(wire).crc_mode


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"", "preamble"),
        (b"XX\x02\x01" + bytes(40), "preamble"),
        (DATA_V2[: DATA_HEADER_LEN - 1], "truncated"),
        (DATA_V2[:-1], "length"),
        (DATA_V2 + b"\x00", "length"),
        (ACK_V2 + b"\x00", "ack"),
        (b"EX\x02\x03" + bytes(40), "type"),
        (b"EX\x03\x01" + bytes(40), "version"),
        (DATA_V1[:15], "truncated"),
        (DATA_V2[:-14] + b"\x8d" + WPAN, "length"),  # length beyond 127
    ],
)
def test_malformed_messages(wire: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        ZepMessage.parse(wire)


@pytest.mark.parametrize(
    "msg",
    [
        ZepMessage(frame=bytes(128)),
        ZepMessage(channel=256),
        ZepMessage(device_id=-1),
        ZepMessage(sequence=1 << 32),
        ZepMessage(version=3),
        ZepMessage(ZepType.ACK, version=1),
    ],
)
def test_unbuildable_messages_raise_value_error(msg: ZepMessage) -> None:
    with pytest.raises(ValueError):
        msg.build()


messages = st.one_of(
    st.builds(
        ZepMessage,
        st.just(ZepType.DATA),
        st.integers(0, 255),
        st.integers(0, 0xFFFF),
        st.booleans(),
        st.integers(0, 255),
        st.integers(0, (1 << 64) - 1),
        st.integers(0, (1 << 32) - 1),
        st.binary(max_size=127),
    ),
    st.builds(ZepMessage, st.just(ZepType.ACK), sequence=st.integers(0, (1 << 32) - 1)),
    st.builds(
        ZepMessage,
        st.just(ZepType.DATA),
        st.integers(0, 255),
        st.integers(0, 0xFFFF),
        st.booleans(),
        st.integers(0, 255),
        frame=st.binary(max_size=127),
        version=st.just(1),
    ),
)


@settings(max_examples=300)
@given(messages)
def test_round_trip(msg: ZepMessage) -> None:
    wire = msg.build()
    assert ZepMessage.parse(wire) == msg
    assert ZepMessage.parse(memoryview(wire)).build() == wire


@settings(max_examples=500)
@given(st.binary(max_size=60), st.sampled_from([b"", b"EX\x01", b"EX\x02\x01", b"EX\x02\x02"]))
def test_random_bytes_raise_only_decode_error(data: bytes, prefix: bytes) -> None:
    try:
        msg = ZepMessage.parse(prefix + data)
    except DecodeError:
        return
    assert ZepMessage.parse(msg.build()) == msg


def test_ntp_conversion() -> None:
    assert ntp_from_seconds(0.0) == 2_208_988_800 << 32
    assert ntp_from_seconds(0.5) & 0xFFFFFFFF == 1 << 31
    assert ntp_to_seconds(ntp_from_seconds(1234.75)) == 1234.75
