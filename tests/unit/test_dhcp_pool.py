"""LeasePool: the DHCP server's address bookkeeping, driven with explicit ``now``."""

from __future__ import annotations

import ipaddress
import math
import random

import pytest

from netstack.errors import ParameterError
from netstack.services.dhcp_pool import LeasePool, LeaseState


def ip(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def text(packed: bytes | None) -> str | None:
    return None if packed is None else str(ipaddress.IPv4Address(packed))


def mac(n: int) -> bytes:
    return b"\x02\x00\x00\x00\x00" + bytes([n])


def client(n: int) -> bytes:
    return b"H\x01" + mac(n)


def pool(first: str = "10.0.0.10", last: str = "10.0.0.19", **kw: object) -> LeasePool:
    return LeasePool(ip(first), ip(last), **kw)  # type: ignore[arg-type]


def take(p: LeasePool, n: int, now: float = 0.0, lease: float = 100.0) -> str | None:
    """Select and bind an address for client ``n``."""
    addr = p.select(client(n), mac(n), None, now)
    if addr is None:
        return None
    assert p.bind(client(n), mac(n), addr, now, lease)
    return text(addr)


def test_addresses_are_handed_out_lowest_first():
    p = pool()
    assert [take(p, n) for n in range(3)] == ["10.0.0.10", "10.0.0.11", "10.0.0.12"]


def test_select_reserves_nothing_until_offer():
    p = pool()
    assert text(p.select(client(1), mac(1), None, 0)) == "10.0.0.10"
    assert text(p.select(client(2), mac(2), None, 0)) == "10.0.0.10"
    assert p.offer(client(1), mac(1), ip("10.0.0.10"), 0, hold=30)
    assert text(p.select(client(2), mac(2), None, 0)) == "10.0.0.11"
    assert not p.offer(client(2), mac(2), ip("10.0.0.10"), 0, hold=30)


def test_an_offer_lapses_after_its_hold_time():
    p = pool()
    p.offer(client(1), mac(1), ip("10.0.0.10"), 0, hold=30)
    assert text(p.select(client(2), mac(2), None, 29.9)) == "10.0.0.11"
    assert text(p.select(client(2), mac(2), None, 30.0)) == "10.0.0.10"


def test_a_client_gets_its_current_address_again():
    p = pool()
    take(p, 1)
    take(p, 2)
    assert text(p.select(client(2), mac(2), ip("10.0.0.15"), 1)) == "10.0.0.11"


def test_a_client_gets_its_previous_address_after_release_if_still_free():
    p = pool()
    take(p, 1)
    assert p.release(client(1), ip("10.0.0.10"), 5)
    assert p.state_of(client(1), 5) is None
    assert text(p.select(client(1), mac(1), None, 6)) == "10.0.0.10"


def test_a_released_address_goes_to_the_next_client_and_is_forgotten_by_the_old():
    p = pool()
    take(p, 1)
    p.release(client(1), ip("10.0.0.10"), 5)
    assert take(p, 2, now=6) == "10.0.0.10"
    assert p.address_of(client(1)) is None
    assert take(p, 1, now=7) == "10.0.0.11"


def test_requested_address_is_honoured_only_if_free_and_in_the_pool():
    p = pool()
    take(p, 1)
    assert text(p.select(client(2), mac(2), ip("10.0.0.15"), 0)) == "10.0.0.15"
    assert text(p.select(client(2), mac(2), ip("10.0.0.10"), 0)) == "10.0.0.11"  # taken
    assert text(p.select(client(2), mac(2), ip("10.0.0.99"), 0)) == "10.0.0.11"  # not ours
    assert text(p.select(client(2), mac(2), ip("10.0.0.15"), 0)) == "10.0.0.15"


def test_an_address_taken_out_of_order_is_skipped_by_the_cursor():
    p = pool("10.0.0.10", "10.0.0.12")
    assert p.bind(client(1), mac(1), ip("10.0.0.11"), 0, 100)
    assert [take(p, 2), take(p, 3), take(p, 4)] == ["10.0.0.10", "10.0.0.12", None]


def test_expired_leases_are_reusable_lowest_first():
    p = pool("10.0.0.10", "10.0.0.12")
    take(p, 1, lease=50)
    take(p, 2, lease=100)
    take(p, 3, lease=50)
    assert take(p, 4, now=10) is None
    assert take(p, 4, now=50) == "10.0.0.10"
    assert take(p, 5, now=50) == "10.0.0.12"
    assert take(p, 6, now=99) is None
    assert take(p, 6, now=100) == "10.0.0.11"


def test_a_renewed_lease_does_not_expire_at_its_old_time():
    p = pool("10.0.0.10", "10.0.0.10")
    take(p, 1, lease=100)
    assert p.bind(client(1), mac(1), ip("10.0.0.10"), 60, 100)  # renew: now until 160
    assert take(p, 2, now=120) is None
    assert take(p, 2, now=160) == "10.0.0.10"


def test_static_addresses_go_only_to_their_mac_and_never_to_the_pool():
    p = pool(static={mac(9): ip("10.0.0.10"), mac(8): ip("10.0.0.200")})
    assert take(p, 1) == "10.0.0.11"
    assert text(p.select(client(9), mac(9), None, 0)) == "10.0.0.10"
    assert text(p.select(client(8), mac(8), ip("10.0.0.15"), 0)) == "10.0.0.200"
    assert not p.available(client(2), mac(2), ip("10.0.0.10"), 0)
    assert text(p.select(client(2), mac(2), ip("10.0.0.10"), 0)) == "10.0.0.12"
    assert p.size == 9


def test_excluded_addresses_are_never_offered():
    p = pool("10.0.0.10", "10.0.0.12", exclude=[ip("10.0.0.10")])
    p.exclude(ip("10.0.0.12"))
    assert [take(p, 1), take(p, 2)] == ["10.0.0.11", None]
    assert ip("10.0.0.11") in p and ip("10.0.0.12") not in p


def test_moving_a_client_frees_its_old_address():
    p = pool()
    take(p, 1)
    assert p.bind(client(1), mac(1), ip("10.0.0.15"), 1, 100)
    assert p.address_of(client(1)) == ip("10.0.0.15")
    assert take(p, 2, now=2) == "10.0.0.10"


def test_cancelled_offer_frees_the_address_but_a_lease_is_not_cancelled():
    p = pool()
    p.offer(client(1), mac(1), ip("10.0.0.10"), 0, hold=30)
    assert p.cancel_offer(client(1), 1)
    assert take(p, 2, now=1) == "10.0.0.10"
    assert not p.cancel_offer(client(2), 1)  # bound, not offered


def test_reoffering_a_bound_lease_keeps_it_bound():
    p = pool()
    take(p, 1, lease=100)
    assert p.offer(client(1), mac(1), ip("10.0.0.10"), 10, hold=30)
    assert p.state_of(client(1), 50) is LeaseState.BOUND


def test_declined_address_is_quarantined_then_reusable():
    p = pool("10.0.0.10", "10.0.0.11")
    take(p, 1)
    assert p.decline(client(1), mac(1), ip("10.0.0.10"), 0, hold=600)
    assert p.address_of(client(1)) is None
    assert take(p, 1, now=1) == "10.0.0.11"
    assert take(p, 2, now=1) is None
    [quarantine] = [r for r in p.leases(1) if r.state is LeaseState.DECLINED]
    assert quarantine.ip == "10.0.0.10" and quarantine.expires_at == 600
    assert take(p, 2, now=600) == "10.0.0.10"


def test_a_declined_never_used_address_comes_back_after_the_quarantine():
    p = pool("10.0.0.10", "10.0.0.11")
    assert p.decline(client(1), mac(1), ip("10.0.0.11"), 0, hold=600)
    assert [take(p, 2, lease=1000), take(p, 3)] == ["10.0.0.10", None]
    assert take(p, 3, now=599) is None
    assert take(p, 3, now=600) == "10.0.0.11"


def test_a_client_cannot_decline_or_release_another_clients_lease():
    p = pool()
    take(p, 1)
    assert not p.decline(client(2), mac(2), ip("10.0.0.10"), 0, hold=600)
    assert not p.release(client(2), ip("10.0.0.10"), 0)
    assert not p.decline(client(2), mac(2), ip("192.168.1.1"), 0, hold=600)
    assert p.state_of(client(1), 0) is LeaseState.BOUND


def test_leases_report_active_records_only_and_purge_forgets_the_rest():
    p = pool()
    take(p, 1, lease=100)
    take(p, 2, lease=10)
    p.offer(client(3), mac(3), ip("10.0.0.12"), 0, hold=30)
    records = p.leases(5)
    assert [(r.ip, r.mac, r.state) for r in records] == [
        ("10.0.0.10", "02:00:00:00:00:01", LeaseState.BOUND),
        ("10.0.0.11", "02:00:00:00:00:02", LeaseState.BOUND),
        ("10.0.0.12", "02:00:00:00:00:03", LeaseState.OFFERED),
    ]
    assert [r.ip for r in p.leases(50)] == ["10.0.0.10"]
    assert p.purge(50) == 2
    assert p.address_of(client(2)) is None and p.purge(50) == 0


def test_infinite_lease_never_expires():
    p = pool("10.0.0.10", "10.0.0.10")
    take(p, 1, lease=math.inf)
    assert take(p, 2, now=1e12) is None


def test_bad_pool_bounds_and_duplicate_static_addresses_are_refused():
    with pytest.raises(ParameterError):
        pool("10.0.0.20", "10.0.0.10")
    with pytest.raises(ParameterError):
        pool(static={mac(1): ip("10.0.0.50"), mac(2): ip("10.0.0.50")})


def test_random_operations_never_give_one_address_to_two_clients():
    """A model check: at every step, no two clients hold the same address, and an
    allocation fails only when every pool address is held."""
    rng = random.Random(7)
    p = pool("10.0.0.10", "10.0.0.29")
    now = 0.0
    for _ in range(5000):
        now += rng.choice((0.0, 0.5, 3.0))
        n = rng.randrange(40)
        op = rng.random()
        if op < 0.5:
            addr = p.select(client(n), mac(n), rng.choice((None, ip("10.0.0.15"))), now)
            if addr is None:
                assert len(p.leases(now)) == 20
            elif rng.random() < 0.5:
                assert p.offer(client(n), mac(n), addr, now, hold=5)
            else:
                assert p.bind(client(n), mac(n), addr, now, rng.choice((2.0, 20.0)))
        elif op < 0.7:
            addr = p.address_of(client(n))
            if addr is not None:
                p.release(client(n), addr, now)
        elif op < 0.8:
            addr = p.address_of(client(n))
            if addr is not None:
                p.decline(client(n), mac(n), addr, now, hold=4)
        elif op < 0.85:
            p.purge(now)
        active = p.leases(now)
        assert len({r.ip for r in active}) == len(active)
        holders = [r.mac for r in active if r.state is not LeaseState.DECLINED]
        assert len(set(holders)) == len(holders)
