"""SocketAddress forms and the error family's mapping to OSError."""

import errno

import pytest

from netstack.address import IpVersion, SocketAddress, netmask_to_prefix, parse_ipv4_interface
from netstack.errors import (
    ConnectionRefused,
    NetworkError,
    NetworkTimeoutError,
    ParameterError,
    WouldBlockError,
)


def test_text_bytes_and_tuple_forms_are_equal():
    a = SocketAddress("10.0.0.1", 7)
    b = SocketAddress(b"\x0a\0\0\x01", 7)
    c = SocketAddress(("10.0.0.1", 7))
    assert a == b == c
    assert hash(a) == hash(c)
    assert a.version is IpVersion.IPV4
    assert str(a) == "10.0.0.1:7"
    assert tuple(a) == ("10.0.0.1", 7)


def test_ipv6_with_scope():
    a = SocketAddress("fe80::1%3", 5683)
    assert a.version is IpVersion.IPV6
    assert a.scope_id == 3
    assert a.ip == "fe80::1%3"
    assert str(a) == "[fe80::1%3]:5683"
    assert len(a.packed) == 16


def test_empty_and_unspecified_are_falsy():
    assert not SocketAddress()
    assert not SocketAddress("0.0.0.0", 80)
    assert SocketAddress("10.0.0.1")


def test_bad_input_raises_parameter_error():
    for bad in ("10.0.0.256", "host.example", "1.2.3"):
        with pytest.raises(ParameterError):
            SocketAddress(bad, 1)
    with pytest.raises(ParameterError):
        SocketAddress("10.0.0.1", 70000)
    with pytest.raises(ParameterError):
        SocketAddress(b"\x01\x02\x03")


def test_netmask_helpers():
    assert netmask_to_prefix("255.255.255.0") == 24
    assert parse_ipv4_interface("10.1.2.3/16") == (b"\x0a\x01\x02\x03", 16)
    with pytest.raises(ParameterError):
        netmask_to_prefix("255.0.255.0")


def test_errors_are_oserrors_with_errno():
    assert isinstance(WouldBlockError(), BlockingIOError)
    assert WouldBlockError().errno == errno.EAGAIN
    assert isinstance(NetworkTimeoutError(), TimeoutError)
    assert isinstance(ConnectionRefused(), ConnectionRefusedError)
    assert ConnectionRefused().errno == errno.ECONNREFUSED
    assert isinstance(ParameterError("x"), ValueError)
    assert ParameterError("bad port").nsapi_code == -3003
    err = NetworkTimeoutError("slow")
    assert isinstance(err, NetworkError) and str(err) == "slow"
