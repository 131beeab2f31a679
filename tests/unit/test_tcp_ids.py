"""RFC 6528 ISNs, RFC 6056 ports and SYN cookies, with an explicit clock."""

import random

from netstack.stacks.core.tcp.ids import EPHEMERAL_LOW, TcpIdentifiers
from netstack.stacks.core.tcp.listener import SynCookies

A, B = b"\x0a\0\0\x01", b"\x0a\0\0\x02"


def test_isn_advances_with_the_clock_and_differs_per_connection():
    ids = TcpIdentifiers(random.Random(1))
    first = ids.isn(A, 40000, B, 80, 10.0)
    # the 4 µs clock: 1 s later the ISN is 250,000 higher (mod 2**32)
    assert ids.isn(A, 40000, B, 80, 11.0) == (first + 250_000) & 0xFFFFFFFF
    assert ids.isn(A, 40001, B, 80, 10.0) != first
    # another stack (another secret) gives another ISN for the same connection
    assert TcpIdentifiers(random.Random(2)).isn(A, 40000, B, 80, 10.0) != first


def test_ephemeral_ports_cover_the_range_and_move_between_calls():
    ids = TcpIdentifiers(random.Random(1))
    order = list(ids.ephemeral_ports(A, B, 80))
    assert sorted(order) == list(range(EPHEMERAL_LOW, 65536))
    assert next(ids.ephemeral_ports(A, B, 80)) == order[0] + 1 or order[0] == 65535


def test_syn_cookies_round_trip_and_expire():
    cookies = SynCookies(b"k" * 16)
    key = (B, 80, A, 40000)
    cookie, mss = cookies.make(key, 12345, 1460, now=100.0)
    assert mss == 1460
    assert cookies.check(key, 12345, cookie, now=150.0) == 1460  # same or next period
    assert cookies.check(key, 12346, cookie, now=150.0) is None  # another client ISN
    assert cookies.check((B, 80, A, 40001), 12345, cookie, now=150.0) is None
    assert cookies.check(key, 12345, cookie, now=400.0) is None  # too old
    _, small = cookies.make(key, 1, 1000, now=0.0)
    assert small == 536  # the largest table MSS not above the peer's
