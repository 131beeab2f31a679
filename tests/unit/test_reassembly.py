"""IPv4 reassembly: order, duplicates, overlaps, limits, timeouts."""

from netstack.stacks.core.reassembly import Ipv4Reassembler, ReassemblyConfig

KEY = (b"\x0a\0\0\x01", b"\x0a\0\0\x02", 17, 7)
HDR = b"\x45" + b"\0" * 19


def chunks(data: bytes, size: int) -> list[tuple[int, bool, bytes]]:
    out = []
    for off in range(0, len(data), size):
        piece = data[off : off + size]
        out.append((off, off + size < len(data), piece))
    return out


def test_in_order_and_reverse_order_reassemble():
    data = bytes(range(256)) * 40
    for order in (1, -1):
        r = Ipv4Reassembler()
        result = None
        for off, more, piece in chunks(data, 1480)[::order]:
            result = r.add(KEY, off, more, piece, HDR, 0.0) or result
        assert result == data
        assert r.in_flight == 0 and r.buffered_bytes == 0


def test_exact_duplicate_is_ignored():
    r = Ipv4Reassembler()
    assert r.add(KEY, 0, True, b"a" * 8, HDR, 0.0) is None
    assert r.add(KEY, 0, True, b"a" * 8, HDR, 0.0) is None
    assert r.add(KEY, 8, False, b"b" * 3, HDR, 0.0) == b"a" * 8 + b"b" * 3
    assert r.stats.overlaps == 0


def test_overlap_drops_whole_datagram():
    r = Ipv4Reassembler()
    r.add(KEY, 0, True, b"a" * 16, HDR, 0.0)
    assert r.add(KEY, 8, True, b"b" * 16, HDR, 0.0) is None
    assert r.stats.overlaps == 1
    assert r.in_flight == 0 and r.buffered_bytes == 0
    # a later fragment starts a fresh datagram which never completes from the old pieces
    assert r.add(KEY, 24, False, b"c", HDR, 0.0) is None


def test_data_beyond_declared_end_is_an_overlap():
    r = Ipv4Reassembler()
    r.add(KEY, 64, True, b"x" * 8, HDR, 0.0)
    assert r.add(KEY, 0, False, b"y" * 16, HDR, 0.0) is None
    assert r.stats.overlaps == 1


def test_non_final_fragment_must_be_multiple_of_8():
    r = Ipv4Reassembler()
    assert r.add(KEY, 0, True, b"a" * 10, HDR, 0.0) is None
    assert r.stats.invalid == 1 and r.in_flight == 0


def test_datagram_limit_evicts_the_oldest():
    r = Ipv4Reassembler(ReassemblyConfig(max_datagrams=4))
    for ident in range(10):
        r.add((KEY[0], KEY[1], 17, ident), 0, True, b"a" * 8, HDR, 0.0)
    assert r.in_flight == 4
    assert r.stats.limit_drops == 6
    # the newest survive: completing datagram 9 works, datagram 0 is gone
    assert r.add((KEY[0], KEY[1], 17, 9), 8, False, b"b", HDR, 0.0) == b"a" * 8 + b"b"
    assert r.add((KEY[0], KEY[1], 17, 0), 8, False, b"b", HDR, 0.0) is None


def test_byte_limit():
    r = Ipv4Reassembler(ReassemblyConfig(max_bytes=1000, max_datagrams=100))
    for ident in range(10):
        r.add((KEY[0], KEY[1], 17, ident), 0, True, b"a" * 400, HDR, 0.0)
    assert r.buffered_bytes <= 1000
    assert r.in_flight == 2  # the two newest
    assert r.stats.limit_drops == 8


def test_timeout_frees_and_reports_first_fragment():
    r = Ipv4Reassembler(ReassemblyConfig(timeout=30.0))
    r.add(KEY, 0, True, b"a" * 8, HDR, 5.0)
    r.add((KEY[0], KEY[1], 17, 99), 8, True, b"b" * 8, HDR, 6.0)  # no first fragment
    assert r.get_timer() == 35.0
    assert r.handle_timer(34.9) == []
    expired = r.handle_timer(36.0)
    assert expired == [(KEY, HDR, b"a" * 8)]  # only the one with offset 0 earns an ICMP
    assert r.in_flight == 0 and r.buffered_bytes == 0
    assert r.stats.timeouts == 2
    assert r.get_timer() is None


def test_oversized_datagram_rejected():
    r = Ipv4Reassembler()
    assert r.add(KEY, 65528, False, b"a" * 100, HDR, 0.0) is None
    assert r.stats.invalid == 1
