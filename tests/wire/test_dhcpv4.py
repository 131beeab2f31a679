"""DHCPv4 messages (RFC 2131 §2), options (RFC 2132) and long options (RFC 3396)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.wire import DecodeError
from netstack.wire.dhcpv4 import (
    BROADCAST_FLAG,
    MAGIC_COOKIE,
    DhcpMessage,
    DhcpMessageType,
    DhcpOp,
    DhcpOption,
)

MAC = bytes.fromhex("020000660002")
SERVER = bytes((10, 66, 0, 1))
LEASED = bytes((10, 66, 0, 146))


def _bootp(head: str, options: str, size: int) -> bytes:
    """A message from its first 44 bytes (op … chaddr) and its options (through END), in
    hex. Only runs of zeros are left out of the hex: sname and file (192 zero bytes here),
    and the padding after END up to the captured ``size``."""
    fixed = bytes.fromhex(head)
    assert len(fixed) == 44
    message = fixed + bytes(192) + MAGIC_COOKIE + bytes.fromhex(options)
    assert len(message) <= size
    return message + bytes(size - len(message))


_CHADDR = "020000660002 00000000000000000000"

# The exchange of busybox udhcpc 1.35.0 (`udhcpc -x hostname:netstack-vec`, then SIGUSR1 to
# renew and SIGUSR2 to release) with dnsmasq 2.89 (`--dhcp-option=option:domain-name,
# example.test --dhcp-option=option:mtu,1400 --dhcp-range=10.66.0.100,10.66.0.150,
# 255.255.255.0,1h`). Captured with tcpdump on a veth between two network namespaces.
UDHCPC_DISCOVER = _bootp(
    "01010600 6c92f40b 0000 0000 00000000 00000000 00000000 00000000" + _CHADDR,
    "350101 39020240 3707010306 0c0f1c2a 0c0c6e6574737461636b2d766563"
    " 3c0c756468637020312e33352e30 3d0701020000660002 ff",
    300,
)
DNSMASQ_OFFER = _bootp(
    "02010600 6c92f40b 0000 0000 00000000 0a420092 0a420001 00000000" + _CHADDR,
    "350102 36040a420001 330400000e10 3a0400000708 3b0400000c4e 0104ffffff00 1c040a4200ff"
    " 03040a420001 06040a420001 0f0c6578616d706c652e74657374 ff",
    306,
)
UDHCPC_REQUEST = _bootp(
    "01010600 6c92f40b 0000 0000 00000000 00000000 00000000 00000000" + _CHADDR,
    "350103 32040a420092 36040a420001 39020240 3707010306 0c0f1c2a"
    " 0c0c6e6574737461636b2d766563 3c0c756468637020312e33352e30 3d0701020000660002 ff",
    306,
)
DNSMASQ_ACK = _bootp(
    "02010600 6c92f40b 0000 0000 00000000 0a420092 0a420001 00000000" + _CHADDR,
    "350105 36040a420001 330400000e10 3a0400000708 3b0400000c4e 0104ffffff00 1c040a4200ff"
    " 03040a420001 06040a420001 0c0c6e6574737461636b2d766563"
    " 0f0c6578616d706c652e74657374 ff",
    320,
)
# RENEWING: unicast to the server with ciaddr set, no server id or requested IP.
UDHCPC_RENEW = _bootp(
    "01010600 6c92f40b 0000 0000 0a420092 00000000 00000000 00000000" + _CHADDR,
    "350103 39020240 3707010306 0c0f1c2a 0c0c6e6574737461636b2d766563"
    " 3c0c756468637020312e33352e30 3d0701020000660002 ff",
    300,
)
# The ACK to UDHCPC_RENEW: T1 and T2 shrunk by the 3 minutes the lease had run.
DNSMASQ_RENEW_ACK = _bootp(
    "02010600 6c92f40b 0000 0000 0a420092 0a420092 0a420001 00000000" + _CHADDR,
    "350105 36040a420001 330400000e10 3a0400000654 3b0400000b9a 0104ffffff00 1c040a4200ff"
    " 03040a420001 06040a420001 0c0c6e6574737461636b2d766563"
    " 0f0c6578616d706c652e74657374 ff",
    320,
)
UDHCPC_RELEASE = _bootp(
    "01010600 65e13e52 0002 0000 0a420092 00000000 00000000 00000000" + _CHADDR,
    "350107 36040a420001 3d0701020000660002 ff",
    300,
)

# ISC dhclient 4.4.3-P1 (`send host-name "netstack-dhc"`, MTU in its request list) against
# the same dnsmasq. Captured with tcpdump on a veth between two network namespaces.
DHCLIENT_DISCOVER = _bootp(
    "01010600 4008d54a 0000 0000 00000000 00000000 00000000 00000000" + _CHADDR,
    "350101 0c0c6e6574737461636b2d646863 370a011c02030f061a333a3b ff",
    300,
)
# dnsmasq's OFFER to DHCLIENT_DISCOVER, with the interface MTU (1400) it asked for.
DNSMASQ_OFFER_MTU = _bootp(
    "02010600 4008d54a 0000 0000 00000000 0a420092 0a420001 00000000" + _CHADDR,
    "350102 36040a420001 330400000e10 3a0400000708 3b0400000c4e 0104ffffff00 1c040a4200ff"
    " 03040a420001 06040a420001 1a020578 0f0c6578616d706c652e74657374 ff",
    310,
)
# INIT-REBOOT (RFC 2131 §3.2): requested IP, no server id, ciaddr 0 — dhclient restarted
# with a remembered lease.
DHCLIENT_REBOOT = _bootp(
    "01010600 55b54c70 0000 0000 00000000 00000000 00000000 00000000" + _CHADDR,
    "350103 32040a420092 0c0c6e6574737461636b2d646863 370a011c02030f061a333a3b ff",
    300,
)
# dnsmasq's NAK to DHCLIENT_REBOOT after it was restarted serving only 10.67.0.0/24
# (`--dhcp-authoritative`): broadcast flag set, option 56 explains.
DNSMASQ_NAK = _bootp(
    "02010600 55b54c70 0000 8000 00000000 00000000 00000000 00000000" + _CHADDR,
    "350106 36040a420001 380d77726f6e67206e6574776f726b ff",
    300,
)

VECTORS = {
    "udhcpc_discover": UDHCPC_DISCOVER,
    "dnsmasq_offer": DNSMASQ_OFFER,
    "udhcpc_request": UDHCPC_REQUEST,
    "dnsmasq_ack": DNSMASQ_ACK,
    "udhcpc_renew": UDHCPC_RENEW,
    "dnsmasq_renew_ack": DNSMASQ_RENEW_ACK,
    "udhcpc_release": UDHCPC_RELEASE,
    "dhclient_discover": DHCLIENT_DISCOVER,
    "dnsmasq_offer_mtu": DNSMASQ_OFFER_MTU,
    "dhclient_reboot": DHCLIENT_REBOOT,
    "dnsmasq_nak": DNSMASQ_NAK,
}


def _end_of_options(data: bytes) -> int:
    """The offset of END in a message whose options are well-formed."""
    i = 240
    while data[i] != DhcpOption.END:
        i += 2 + data[i + 1]
    return i


def _option_starts(data: bytes) -> list[int]:
    """The offsets where each option starts in the options field, then the offset of END."""
    starts, i = [], 240
    while data[i] != DhcpOption.END:
        starts.append(i)
        i += 2 + data[i + 1]
    return [*starts, i]


# -- captured vectors -----------------------------------------------------------------------


def test_parse_udhcpc_discover() -> None:
    msg = DhcpMessage.parse(UDHCPC_DISCOVER)
    assert (msg.op, msg.htype, msg.hlen, msg.hops) == (DhcpOp.BOOTREQUEST, 1, 6, 0)
    assert (msg.xid, msg.secs, msg.flags) == (0x6C92F40B, 0, 0)
    assert msg.chaddr == MAC
    assert msg.ciaddr == msg.yiaddr == msg.siaddr == msg.giaddr == bytes(4)
    assert (msg.sname, msg.file) == (b"", b"")
    assert msg.message_type == DhcpMessageType.DISCOVER
    assert list(msg.options) == [53, 57, 55, 12, 60, 61]  # the order on the wire
    assert msg.u16_option(DhcpOption.MAX_MESSAGE_SIZE) == 576
    assert msg.options[DhcpOption.PARAMETER_REQUEST_LIST] == bytes((1, 3, 6, 12, 15, 28, 42))
    assert msg.text_option(DhcpOption.HOSTNAME) == "netstack-vec"
    assert msg.text_option(DhcpOption.VENDOR_CLASS_ID) == "udhcp 1.35.0"
    assert msg.options[DhcpOption.CLIENT_ID] == b"\x01" + MAC
    assert msg.build() == UDHCPC_DISCOVER


def test_parse_dnsmasq_offer() -> None:
    msg = DhcpMessage.parse(DNSMASQ_OFFER)
    assert msg.op == DhcpOp.BOOTREPLY
    assert msg.message_type == DhcpMessageType.OFFER
    assert msg.xid == 0x6C92F40B
    assert (msg.yiaddr, msg.siaddr) == (LEASED, SERVER)
    assert msg.ip_option(DhcpOption.SERVER_ID) == SERVER
    assert msg.u32_option(DhcpOption.LEASE_TIME) == 3600
    assert msg.u32_option(DhcpOption.RENEWAL_TIME) == 1800
    assert msg.u32_option(DhcpOption.REBINDING_TIME) == 3150
    assert msg.ip_option(DhcpOption.SUBNET_MASK) == bytes((255, 255, 255, 0))
    assert msg.ip_option(DhcpOption.BROADCAST_ADDRESS) == bytes((10, 66, 0, 255))
    assert msg.ip_list_option(DhcpOption.ROUTER) == [SERVER]
    assert msg.ip_list_option(DhcpOption.DNS_SERVERS) == [SERVER]
    assert msg.text_option(DhcpOption.DOMAIN_NAME) == "example.test"
    assert msg.u16_option(DhcpOption.INTERFACE_MTU) is None  # udhcpc did not ask
    assert msg.build() == DNSMASQ_OFFER


def test_parse_udhcpc_selecting_request() -> None:
    msg = DhcpMessage.parse(UDHCPC_REQUEST)
    assert msg.message_type == DhcpMessageType.REQUEST
    assert msg.ciaddr == bytes(4)
    assert msg.ip_option(DhcpOption.REQUESTED_IP) == LEASED
    assert msg.ip_option(DhcpOption.SERVER_ID) == SERVER


def test_parse_renewal_and_its_ack() -> None:
    renew = DhcpMessage.parse(UDHCPC_RENEW)
    assert renew.message_type == DhcpMessageType.REQUEST
    assert renew.ciaddr == LEASED
    assert DhcpOption.SERVER_ID not in renew.options
    assert DhcpOption.REQUESTED_IP not in renew.options
    ack = DhcpMessage.parse(DNSMASQ_RENEW_ACK)
    assert (ack.ciaddr, ack.yiaddr) == (LEASED, LEASED)
    assert ack.u32_option(DhcpOption.RENEWAL_TIME) == 1620
    assert ack.u32_option(DhcpOption.REBINDING_TIME) == 2970
    assert ack.text_option(DhcpOption.HOSTNAME) == "netstack-vec"


def test_parse_release() -> None:
    msg = DhcpMessage.parse(UDHCPC_RELEASE)
    assert msg.message_type == DhcpMessageType.RELEASE
    assert (msg.secs, msg.ciaddr) == (2, LEASED)
    assert msg.options == {53: b"\x07", 54: SERVER, 61: b"\x01" + MAC}


def test_parse_dhclient_messages() -> None:
    discover = DhcpMessage.parse(DHCLIENT_DISCOVER)
    assert discover.message_type == DhcpMessageType.DISCOVER
    assert DhcpOption.CLIENT_ID not in discover.options  # dhclient identifies by chaddr
    assert discover.text_option(DhcpOption.HOSTNAME) == "netstack-dhc"
    offer = DhcpMessage.parse(DNSMASQ_OFFER_MTU)
    assert offer.u16_option(DhcpOption.INTERFACE_MTU) == 1400
    reboot = DhcpMessage.parse(DHCLIENT_REBOOT)
    assert reboot.message_type == DhcpMessageType.REQUEST
    assert reboot.ip_option(DhcpOption.REQUESTED_IP) == LEASED
    assert reboot.ip_option(DhcpOption.SERVER_ID) is None


def test_parse_nak() -> None:
    msg = DhcpMessage.parse(DNSMASQ_NAK)
    assert msg.message_type == DhcpMessageType.NAK
    assert msg.flags == BROADCAST_FLAG
    assert msg.yiaddr == bytes(4)
    assert msg.text_option(DhcpOption.MESSAGE) == "wrong network"
    assert msg.ip_option(DhcpOption.SERVER_ID) == SERVER


@pytest.mark.parametrize("name", VECTORS)
def test_captured_vectors_rebuild_byte_exact(name: str) -> None:
    data = VECTORS[name]
    assert DhcpMessage.parse(data).build() == data
    assert DhcpMessage.parse(memoryview(data)).build() == data
    assert DhcpMessage.parse(bytearray(data)).build() == data


@pytest.mark.parametrize("name", VECTORS)
def test_every_truncation_below_240_bytes_raises(name: str) -> None:
    data = VECTORS[name]
    for cut in range(240):
        with pytest.raises(DecodeError):
            DhcpMessage.parse(data[:cut])


@pytest.mark.parametrize("name", VECTORS)
def test_truncated_options_raise_unless_cut_between_options(name: str) -> None:
    # A missing END is tolerated, so a cut between two options parses to the options
    # before it; a cut inside an option runs past the end and raises.
    data = VECTORS[name]
    full = DhcpMessage.parse(data).options
    starts = _option_starts(data)
    for cut in range(240, starts[-1] + 1):
        if cut in starts:
            kept = DhcpMessage.parse(data[:cut]).options
            assert list(kept.items()) == list(full.items())[: starts.index(cut)]
        else:
            with pytest.raises(DecodeError):
                DhcpMessage.parse(data[:cut])


def test_bytes_after_end_are_ignored() -> None:
    data = DNSMASQ_ACK[: _end_of_options(DNSMASQ_ACK) + 1] + b"\x35\x01\x06garbage"
    assert DhcpMessage.parse(data).message_type == DhcpMessageType.ACK


# -- malformed input ------------------------------------------------------------------------


def test_bad_magic_cookie_raises() -> None:
    data = bytearray(DNSMASQ_OFFER)
    data[239] ^= 1
    with pytest.raises(DecodeError, match="cookie"):
        DhcpMessage.parse(data)


def test_bootp_without_cookie_raises() -> None:
    # An RFC 951 BOOTP message has 64 bytes of vendor area instead of cookie + options.
    with pytest.raises(DecodeError):
        DhcpMessage.parse(DNSMASQ_OFFER[:236] + bytes(64))


def test_hlen_above_16_raises() -> None:
    data = bytearray(UDHCPC_DISCOVER)
    data[2] = 17
    with pytest.raises(DecodeError, match="hlen"):
        DhcpMessage.parse(data)
    data[2] = 16
    assert DhcpMessage.parse(data).chaddr == bytes.fromhex(_CHADDR.replace(" ", ""))


def test_option_length_past_the_end_raises() -> None:
    data = UDHCPC_RELEASE[:240] + bytes.fromhex("350107 3d08 0102000066")
    with pytest.raises(DecodeError, match="past the end"):
        DhcpMessage.parse(data)


def test_option_without_length_byte_raises() -> None:
    with pytest.raises(DecodeError, match="length"):
        DhcpMessage.parse(UDHCPC_RELEASE[:240] + bytes.fromhex("350107 36"))


@pytest.mark.parametrize("value", ["00", "04", "ff", "0101", ""])
def test_bad_overload_value_raises(value: str) -> None:
    options = f"350105 34{len(value) // 2:02x}{value} ff"
    with pytest.raises(DecodeError, match="overload"):
        DhcpMessage.parse(DNSMASQ_ACK[:240] + bytes.fromhex(options))


def test_missing_end_is_tolerated() -> None:
    msg = DhcpMessage.parse(UDHCPC_RELEASE[:240] + bytes.fromhex("350107 36040a420001"))
    assert msg.options == {53: b"\x07", 54: SERVER}


def test_pad_options_are_skipped() -> None:
    msg = DhcpMessage.parse(UDHCPC_RELEASE[:240] + bytes.fromhex("00 00 350107 00 ff"))
    assert msg.options == {53: b"\x07"}


def test_typed_accessors_reject_wrong_lengths() -> None:
    msg = DhcpMessage(DhcpOp.BOOTREPLY, 1, MAC, options={1: b"\xff\xff\xff", 3: bytes(6)})
    with pytest.raises(DecodeError):
        msg.ip_option(1)
    with pytest.raises(DecodeError):
        msg.u32_option(1)
    with pytest.raises(DecodeError):
        msg.u16_option(1)
    with pytest.raises(DecodeError):
        msg.ip_list_option(3)
    msg.options[53] = b"\x01\x02"
    with pytest.raises(DecodeError):
        _ = msg.message_type
    assert msg.ip_option(54) is None
    assert msg.ip_list_option(6) == []
    assert msg.u32_option(51) is None
    assert msg.u16_option(26) is None
    assert msg.text_option(15) is None


def test_text_option_drops_trailing_nuls_and_replaces_non_ascii() -> None:
    msg = DhcpMessage(DhcpOp.BOOTREPLY, 1, MAC, options={12: b"host\0", 15: b"caf\xe9.test"})
    assert msg.text_option(12) == "host"
    assert msg.text_option(15) == "caf\ufffd.test"


def test_bootp_message_has_no_type() -> None:
    assert DhcpMessage(DhcpOp.BOOTREQUEST, 1, MAC).message_type is None


# -- overload and long options (RFC 2132 §9.3, RFC 3396) --------------------------------------


def _overloaded(options: bytes, file: bytes, sname: bytes) -> bytes:
    head = bytes.fromhex("02010600 00000001 0000 0000 00000000 0a420092 00000000 00000000")
    return (
        head
        + MAC.ljust(16, b"\0")
        + sname.ljust(64, b"\0")
        + file.ljust(128, b"\0")
        + MAGIC_COOKIE
        + options
    )


def test_overload_both_fields_concatenates_options_then_file_then_sname() -> None:
    # Constructed from RFC 3396 §5/§7: one option split over all three fields is the
    # concatenation of its parts in the order options field, file, sname.
    options = bytes.fromhex("350105 340103 0f04 6578616d ff")  # "exam"
    file = bytes.fromhex("0f03 706c65 330400000e10 ff")  # "ple", lease time
    sname = bytes.fromhex("0f05 2e74657374 0604 0a420001 ff")  # ".test", DNS
    msg = DhcpMessage.parse(_overloaded(options, file, sname))
    assert msg.text_option(DhcpOption.DOMAIN_NAME) == "example.test"
    assert msg.u32_option(DhcpOption.LEASE_TIME) == 3600
    assert msg.ip_list_option(DhcpOption.DNS_SERVERS) == [SERVER]
    assert list(msg.options) == [53, 15, 51, 6]
    assert DhcpOption.OVERLOAD not in msg.options  # framing, consumed by parse
    assert (msg.sname, msg.file) == (b"", b"")


def test_overload_file_only_keeps_sname() -> None:
    # RFC 2132 §9.3 value 1: 'file' holds options, 'sname' is still a server name.
    options = bytes.fromhex("350102 340101 ff")
    file = bytes.fromhex("36040a420001 ff")
    msg = DhcpMessage.parse(_overloaded(options, file, b"boot-server"))
    assert msg.ip_option(DhcpOption.SERVER_ID) == SERVER
    assert (msg.sname, msg.file) == (b"boot-server", b"")


def test_overload_sname_only_keeps_file() -> None:
    # RFC 2132 §9.3 value 2: 'sname' holds options, 'file' is still a boot file name.
    options = bytes.fromhex("350102 340102 ff")
    sname = bytes.fromhex("36040a420001")  # no END: tolerated, the field ends anyway
    msg = DhcpMessage.parse(_overloaded(options, b"/pxelinux.0", sname))
    assert msg.ip_option(DhcpOption.SERVER_ID) == SERVER
    assert (msg.sname, msg.file) == (b"", b"/pxelinux.0")


def test_without_overload_sname_and_file_are_not_scanned() -> None:
    options = bytes.fromhex("350102 ff")
    msg = DhcpMessage.parse(_overloaded(options, bytes.fromhex("36040a420001ff"), b""))
    assert DhcpOption.SERVER_ID not in msg.options
    assert msg.file == bytes.fromhex("36040a420001ff")


def test_option_running_past_the_file_field_raises() -> None:
    options = bytes.fromhex("350102 340101 ff")
    file = bytes(126) + bytes.fromhex("0f")  # code at offset 126, length at 127, value past
    with pytest.raises(DecodeError, match="file"):
        DhcpMessage.parse(_overloaded(options, file + b"\x05", b""))


def test_repeated_option_is_concatenated() -> None:
    # RFC 3396 §7: all instances of a code form one option, in order of appearance.
    data = UDHCPC_RELEASE[:240] + bytes.fromhex(
        "350105 0604 0a420001 0104ffffff00 0604 08080808 ff"
    )
    msg = DhcpMessage.parse(data)
    assert msg.ip_list_option(DhcpOption.DNS_SERVERS) == [SERVER, bytes((8, 8, 8, 8))]
    assert list(msg.options) == [53, 6, 1]


def test_long_option_is_split_into_255_byte_instances() -> None:
    # RFC 3396 §5: an option longer than 255 bytes goes out as consecutive instances.
    value = bytes(range(256)) * 2 + bytes(88)  # 600 bytes
    built = DhcpMessage(DhcpOp.BOOTREPLY, 7, MAC, options={53: b"\x05", 119: value}).build()
    opts = built[240:]
    assert opts[:3] == bytes.fromhex("350105")
    assert opts[3:5] == b"\x77\xff" and opts[5:260] == value[:255]
    assert opts[260:262] == b"\x77\xff" and opts[262:517] == value[255:510]
    assert opts[517:519] == b"\x77\x5a" and opts[519:609] == value[510:]
    assert opts[609:] == b"\xff"  # END, and no padding: longer than 300 bytes
    assert DhcpMessage.parse(built).options[119] == value


def test_empty_option_value_round_trips() -> None:
    msg = DhcpMessage(DhcpOp.BOOTREQUEST, 7, MAC, options={53: b"\x01", 80: b""})  # rapid commit
    built = msg.build()
    assert built[240:246] == bytes.fromhex("350101 5000 ff")
    assert DhcpMessage.parse(built) == msg


# -- building ------------------------------------------------------------------------------


def test_build_pads_to_the_bootp_minimum() -> None:
    # RFC 1542 §3.1.1: a 300-byte minimum; zeros after END.
    built = DhcpMessage(DhcpOp.BOOTREQUEST, 1, MAC, options={53: b"\x01"}).build()
    assert len(built) == 300
    assert built[240:244] == bytes.fromhex("350101ff")
    assert built[244:] == bytes(56)


def test_build_writes_every_header_field() -> None:
    msg = DhcpMessage(
        op=DhcpOp.BOOTREQUEST,
        xid=0x01020304,
        chaddr=bytes(range(1, 17)),
        htype=6,
        hlen=16,
        hops=3,
        secs=0x1234,
        flags=BROADCAST_FLAG,
        ciaddr=bytes((1, 1, 1, 1)),
        yiaddr=bytes((2, 2, 2, 2)),
        siaddr=bytes((3, 3, 3, 3)),
        giaddr=bytes((4, 4, 4, 4)),
        sname=b"srv",
        file=b"boot",
    )
    built = msg.build()
    assert built[:12] == bytes.fromhex("01061003 01020304 1234 8000")
    assert built[12:28] == bytes.fromhex("01010101 02020202 03030303 04040404")
    assert built[28:44] == bytes(range(1, 17))
    assert built[44:108] == b"srv".ljust(64, b"\0")
    assert built[108:236] == b"boot".ljust(128, b"\0")
    assert built[236:241] == MAGIC_COOKIE + b"\xff"
    assert DhcpMessage.parse(built) == msg


@pytest.mark.parametrize("code", [0, 52, 255, 256, -1])
def test_build_refuses_framing_option_codes(code: int) -> None:
    with pytest.raises(ValueError):
        DhcpMessage(DhcpOp.BOOTREQUEST, 1, MAC, options={code: b"\x01"}).build()


def test_build_refuses_fields_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        DhcpMessage(DhcpOp.BOOTREQUEST, 1, bytes(17)).build()
    with pytest.raises(ValueError):
        DhcpMessage(DhcpOp.BOOTREQUEST, 1, MAC, sname=bytes(65)).build()
    with pytest.raises(ValueError):
        DhcpMessage(DhcpOp.BOOTREQUEST, 1, MAC, file=bytes(129)).build()
    with pytest.raises(ValueError):
        DhcpMessage(DhcpOp.BOOTREQUEST, 1, MAC, ciaddr=bytes(3)).build()


# -- properties -----------------------------------------------------------------------------

_codes = st.integers(1, 254).filter(lambda c: c != DhcpOption.OVERLOAD)
_addresses = st.binary(min_size=4, max_size=4)
_names = st.binary(max_size=20).map(lambda b: b.rstrip(b"\0"))


@st.composite
def _messages(draw: st.DrawFn) -> DhcpMessage:
    hlen = draw(st.integers(0, 16))
    return DhcpMessage(
        op=draw(st.sampled_from([1, 2])),
        xid=draw(st.integers(0, 0xFFFFFFFF)),
        chaddr=draw(st.binary(min_size=hlen, max_size=hlen)),
        htype=draw(st.integers(0, 255)),
        hlen=hlen,
        hops=draw(st.integers(0, 255)),
        secs=draw(st.integers(0, 0xFFFF)),
        flags=draw(st.integers(0, 0xFFFF)),
        ciaddr=draw(_addresses),
        yiaddr=draw(_addresses),
        siaddr=draw(_addresses),
        giaddr=draw(_addresses),
        sname=draw(_names),
        file=draw(_names),
        options=draw(
            st.dictionaries(
                _codes, st.binary(max_size=40) | st.binary(min_size=250, max_size=700), max_size=8
            )
        ),
    )


@settings(max_examples=300)
@given(_messages())
def test_build_then_parse_round_trips(msg: DhcpMessage) -> None:
    built = msg.build()
    assert len(built) >= 300
    parsed = DhcpMessage.parse(built)
    assert parsed == msg
    assert list(parsed.options) == list(msg.options)
    assert parsed.build() == built


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    _check_only_decode_error(data)


@settings(max_examples=500)
@given(
    st.sampled_from(list(VECTORS.values())),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 400),
)
def test_corrupted_vectors_raise_only_decode_error(
    data: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    mutated = bytearray(data)
    for index, value in flips:
        if index < len(mutated):
            mutated[index] = value
    _check_only_decode_error(bytes(mutated))
    _check_only_decode_error(bytes(mutated[:cut]))
    # and with the cookie intact, so the options parser is reached
    mutated[236:240] = MAGIC_COOKIE
    _check_only_decode_error(bytes(mutated))


def _check_only_decode_error(data: bytes) -> None:
    try:
        msg = DhcpMessage.parse(data)
    except DecodeError:
        return
    assert len(data) >= 240
    for code in list(msg.options):  # every typed view fails only with DecodeError
        for view in (msg.ip_option, msg.ip_list_option, msg.u32_option, msg.u16_option):
            with contextlib.suppress(DecodeError):
                view(code)
        msg.text_option(code)
    with contextlib.suppress(DecodeError):
        _ = msg.message_type
    assert DhcpMessage.parse(msg.build()).options == msg.options
