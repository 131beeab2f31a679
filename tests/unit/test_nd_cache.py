"""The IPv6 neighbour cache (RFC 4861 §7.3, Appendix C) and router/prefix lists, with an
explicit clock."""

import random

import pytest

from netstack.stacks.core.nd import (
    TRANSITIONS,
    NdConfig,
    NdInput,
    NeighborCache,
    NeighborState,
    PrefixList,
    RouterList,
    RouterPreference,
    SolicitRequest,
)

S = NeighborState
ADDR = bytes.fromhex("fe800000000000000000000000000002")  # fe80::2
OTHER = bytes.fromhex("fe800000000000000000000000000003")
MAC = bytes.fromhex("020000000002")
MAC2 = bytes.fromhex("020000000099")
UNSPECIFIED = bytes(16)


def make_cache(**kwargs: float) -> NeighborCache:
    return NeighborCache(NdConfig(**kwargs), random.Random(7))  # type: ignore[arg-type]


def run_timers(cache: NeighborCache, until: float) -> tuple[list[float], list[object]]:
    """Fire the cache's timers up to ``until``; returns when solicitations went out and
    what failed."""
    sent: list[float] = []
    failed: list[object] = []
    while (when := cache.get_timer()) is not None and when <= until:
        failed += cache.handle_timer(when)
        sent += [when] * len(cache.solicitations_to_send())
    return sent, failed


def in_state(state: NeighborState, now: float = 0.0) -> NeighborCache:
    """A cache holding ADDR → MAC in ``state`` at time ``now`` (ready at ``now``)."""
    cache = make_cache()
    if state is S.INCOMPLETE:
        cache.resolve(ADDR, b"queued", now)
    else:
        cache.on_solicitation(ADDR, MAC, now)  # STALE
        if state is S.REACHABLE:
            cache.confirm(ADDR, now)
        elif state in (S.DELAY, S.PROBE):
            cache.resolve(ADDR, b"x", now - 5.0 if state is S.PROBE else now)
            if state is S.PROBE:
                cache.handle_timer(now)
    cache.solicitations_to_send()
    info = cache.lookup(ADDR, now)
    assert info is not None and info.state is state
    return cache


# -- address resolution (§7.2.2) --------------------------------------------------------


def test_resolve_queues_and_sends_one_multicast_solicitation():
    cache = make_cache()
    assert cache.resolve(ADDR, b"p1", 0.0) is None
    assert cache.resolve(ADDR, b"p2", 0.1) is None
    out = cache.solicitations_to_send()
    assert out == [SolicitRequest(ADDR, None)]
    assert out[0].destination == bytes.fromhex("ff0200000000000000000001ff000002")
    assert cache.get_timer() == 1.0  # RetransTimer
    assert cache.on_advertisement(ADDR, MAC, False, True, True, 0.2) == [b"p1", b"p2"]
    info = cache.lookup(ADDR, 0.3)
    assert info is not None and info.state is S.REACHABLE and info.lladdr == MAC
    assert cache.resolve(ADDR, b"p3", 0.3) == MAC
    assert cache.get_timer() is None
    assert cache.queued_bytes == 0


def test_unsolicited_advertisement_resolves_to_stale():
    cache = in_state(S.INCOMPLETE)
    assert cache.on_advertisement(ADDR, MAC, False, False, False, 0.5) == [b"queued"]
    info = cache.lookup(ADDR, 0.5)
    assert info is not None and info.state is S.STALE


def test_advertisement_without_lladdr_does_not_resolve():
    cache = in_state(S.INCOMPLETE)
    assert cache.on_advertisement(ADDR, None, False, True, True, 0.5) == []
    info = cache.lookup(ADDR, 0.5)
    assert info is not None and info.state is S.INCOMPLETE
    assert cache.stats.advertisements_ignored == 1


def test_resolution_retransmits_three_times_then_fails_with_queued_packets():
    cache = make_cache()
    cache.resolve(ADDR, b"p1", 0.0)
    cache.resolve(ADDR, b"p2", 0.0)
    assert len(cache.solicitations_to_send()) == 1
    sent, failed = run_timers(cache, 10.0)
    assert [0.0, *sent] == [0.0, 1.0, 2.0]  # MAX_MULTICAST_SOLICIT = 3, RetransTimer apart
    assert failed == [(ADDR, [b"p1", b"p2"])]
    assert ADDR not in cache and cache.queued_bytes == 0
    assert cache.stats.failed == 1 and cache.stats.multicast_solicits == 3


def test_retrans_timer_update_spaces_solicitations():
    cache = make_cache()
    cache.set_retrans_timer(0.25)
    cache.resolve(ADDR, b"p", 0.0)
    cache.solicitations_to_send()
    sent, failed = run_timers(cache, 10.0)
    assert sent == [0.25, 0.5]
    assert failed and failed[0] == (ADDR, [b"p"])


def test_advertisement_for_unknown_neighbour_creates_nothing():
    cache = make_cache()
    assert cache.on_advertisement(ADDR, MAC, False, False, True, 0.0) == []
    assert len(cache) == 0
    assert cache.stats.advertisements_ignored == 1


# -- NUD (§7.3.3) --------------------------------------------------------------------------


def test_reachable_time_is_randomised_around_base():
    times = {NeighborCache(NdConfig(), random.Random(seed)).reachable_time for seed in range(20)}
    assert len(times) > 1
    assert all(15.0 <= t <= 45.0 for t in times)  # [0.5, 1.5] x 30 s


def test_base_reachable_time_change_redraws():
    cache = make_cache()
    cache.set_base_reachable_time(10.0)
    assert 5.0 <= cache.reachable_time <= 15.0


def test_reachable_becomes_stale_after_reachable_time():
    cache = in_state(S.REACHABLE)
    rt = cache.reachable_time
    assert cache.lookup(ADDR, rt - 0.01).state is S.REACHABLE  # type: ignore[union-attr]
    assert cache.lookup(ADDR, rt).state is S.STALE  # type: ignore[union-attr]
    assert cache.get_timer() is None  # no wakeup needed for that


def test_sending_to_stale_enters_delay_then_probes_by_unicast():
    cache = in_state(S.STALE)
    assert cache.resolve(ADDR, b"p", 10.0) == MAC  # still sent at once
    assert cache.lookup(ADDR, 10.0).state is S.DELAY  # type: ignore[union-attr]
    assert cache.solicitations_to_send() == []
    assert cache.get_timer() == 15.0  # DELAY_FIRST_PROBE_TIME
    cache.handle_timer(15.0)
    assert cache.lookup(ADDR, 15.0).state is S.PROBE  # type: ignore[union-attr]
    assert cache.solicitations_to_send() == [SolicitRequest(ADDR, MAC)]
    assert SolicitRequest(ADDR, MAC).destination == ADDR


def test_probe_gives_up_after_three_unicast_solicitations():
    cache = in_state(S.STALE)
    cache.resolve(ADDR, b"p", 0.0)
    sent, failed = run_timers(cache, 100.0)
    assert sent == [5.0, 6.0, 7.0]  # MAX_UNICAST_SOLICIT = 3
    assert failed == [(ADDR, [])]
    assert ADDR not in cache
    assert cache.stats.unicast_solicits == 3


def test_confirmation_in_delay_avoids_probing():
    cache = in_state(S.DELAY)
    cache.confirm(ADDR, 1.0)
    assert cache.lookup(ADDR, 1.0).state is S.REACHABLE  # type: ignore[union-attr]
    assert cache.get_timer() is None
    assert cache.handle_timer(10.0) == []
    assert cache.solicitations_to_send() == []


def test_solicited_advertisement_in_probe_makes_reachable():
    cache = in_state(S.PROBE)
    cache.on_advertisement(ADDR, MAC, False, True, False, 0.5)
    assert cache.lookup(ADDR, 0.5).state is S.REACHABLE  # type: ignore[union-attr]
    assert cache.get_timer() is None


def test_confirm_does_nothing_for_incomplete_or_unknown():
    cache = in_state(S.INCOMPLETE)
    cache.confirm(ADDR, 0.1)
    cache.confirm(OTHER, 0.1)
    assert cache.lookup(ADDR, 0.1).state is S.INCOMPLETE  # type: ignore[union-attr]
    assert OTHER not in cache


# -- learning from NS / RS / RA / Redirect (§7.2.3, §6.3.4, §8.3) --------------------------


def test_solicitation_creates_stale_entry():
    cache = make_cache()
    assert cache.on_solicitation(ADDR, MAC, 0.0) == []
    info = cache.lookup(ADDR, 0.0)
    assert info is not None and info.state is S.STALE and info.lladdr == MAC
    assert cache.get_timer() is None


def test_solicitation_from_unspecified_or_without_lladdr_is_not_learnt():
    cache = make_cache()
    cache.on_solicitation(UNSPECIFIED, MAC, 0.0)  # DAD
    cache.on_solicitation(ADDR, None, 0.0)
    assert len(cache) == 0


def test_solicitation_resolves_incomplete_entry():
    cache = in_state(S.INCOMPLETE)
    assert cache.on_solicitation(ADDR, MAC, 0.5) == [b"queued"]
    assert cache.lookup(ADDR, 0.5).state is S.STALE  # type: ignore[union-attr]
    assert cache.get_timer() is None


@pytest.mark.parametrize("state", [S.REACHABLE, S.STALE, S.DELAY, S.PROBE])
def test_solicitation_with_new_lladdr_makes_stale(state: NeighborState):
    cache = in_state(state)
    cache.on_solicitation(ADDR, MAC2, 0.0)
    info = cache.lookup(ADDR, 0.0)
    assert info is not None and info.state is S.STALE and info.lladdr == MAC2


@pytest.mark.parametrize("state", [S.REACHABLE, S.STALE, S.DELAY, S.PROBE])
def test_solicitation_with_same_lladdr_changes_nothing(state: NeighborState):
    cache = in_state(state)
    cache.on_solicitation(ADDR, MAC, 0.0)
    assert cache.lookup(ADDR, 0.0).state is state  # type: ignore[union-attr]


def test_router_advertisement_marks_router_and_redirect_updates():
    cache = make_cache()
    cache.on_router_or_redirect(ADDR, MAC, 0.0, is_router=True)
    info = cache.lookup(ADDR, 0.0)
    assert info is not None and info.is_router and info.state is S.STALE
    cache.on_router_or_redirect(ADDR, MAC2, 1.0)  # a Redirect with a new lladdr
    info = cache.lookup(ADDR, 1.0)
    assert info is not None and info.lladdr == MAC2 and info.is_router


def test_router_advertisement_without_lladdr_sets_flag_only():
    cache = in_state(S.REACHABLE)
    cache.on_router_or_redirect(ADDR, None, 0.0, is_router=True)
    info = cache.lookup(ADDR, 0.0)
    assert info is not None and info.is_router and info.state is S.REACHABLE
    cache.on_router_or_redirect(OTHER, None, 0.0, is_router=True)
    assert OTHER not in cache


# -- §7.2.5 for entries other than INCOMPLETE ----------------------------------------------

SAME, DIFF, NONE = "same", "different", "none"
# (state, solicited, override, lladdr) → (state afterwards, lladdr afterwards)
NA_TABLE = [
    # I: override clear, different address
    (S.REACHABLE, False, False, DIFF, S.STALE, MAC),
    (S.REACHABLE, True, False, DIFF, S.STALE, MAC),
    (S.STALE, True, False, DIFF, S.STALE, MAC),
    (S.DELAY, False, False, DIFF, S.DELAY, MAC),
    (S.PROBE, True, False, DIFF, S.PROBE, MAC),
    # II: override set, same address or none
    (S.STALE, True, False, SAME, S.REACHABLE, MAC),
    (S.STALE, True, True, DIFF, S.REACHABLE, MAC2),
    (S.STALE, True, False, NONE, S.REACHABLE, MAC),
    (S.REACHABLE, False, True, DIFF, S.STALE, MAC2),
    (S.DELAY, False, True, DIFF, S.STALE, MAC2),
    (S.PROBE, False, True, DIFF, S.STALE, MAC2),
    (S.REACHABLE, False, True, SAME, S.REACHABLE, MAC),
    (S.STALE, False, True, SAME, S.STALE, MAC),
    (S.DELAY, False, False, SAME, S.DELAY, MAC),
    (S.PROBE, False, False, NONE, S.PROBE, MAC),
    (S.DELAY, True, True, SAME, S.REACHABLE, MAC),
    (S.PROBE, True, True, NONE, S.REACHABLE, MAC),
]


@pytest.mark.parametrize(("state", "solicited", "override", "ll", "after", "lladdr"), NA_TABLE)
def test_advertisement_table(
    state: NeighborState,
    solicited: bool,
    override: bool,
    ll: str,
    after: NeighborState,
    lladdr: bytes,
):
    cache = in_state(state)
    given = {SAME: MAC, DIFF: MAC2, NONE: None}[ll]
    assert cache.on_advertisement(ADDR, given, False, solicited, override, 0.0) == []
    info = cache.lookup(ADDR, 0.0)
    assert info is not None and (info.state, info.lladdr) == (after, lladdr)
    timed = after in (S.DELAY, S.PROBE)
    assert (cache.get_timer() is not None) == timed


def test_advertisement_ignored_in_b_case_keeps_router_flag():
    cache = in_state(S.STALE)
    cache.on_router_or_redirect(ADDR, MAC, 0.0, is_router=True)
    cache.on_advertisement(ADDR, MAC2, False, False, False, 0.0)  # §7.2.5 I.b
    assert cache.lookup(ADDR, 0.0).is_router  # type: ignore[union-attr]
    assert cache.take_demoted_routers() == []


def test_router_flag_cleared_by_advertisement_is_reported():
    cache = make_cache()
    cache.on_router_or_redirect(ADDR, MAC, 0.0, is_router=True)
    cache.on_advertisement(ADDR, MAC, True, True, False, 1.0)
    assert cache.take_demoted_routers() == []
    cache.on_advertisement(ADDR, MAC, False, True, False, 2.0)
    assert not cache.lookup(ADDR, 2.0).is_router  # type: ignore[union-attr]
    assert cache.take_demoted_routers() == [ADDR]
    assert cache.take_demoted_routers() == []


def test_transition_table_covers_appendix_c_and_nothing_more():
    assert (S.INCOMPLETE, NdInput.CONFIRM) not in TRANSITIONS
    assert (S.REACHABLE, NdInput.SEND) not in TRANSITIONS  # sending to REACHABLE stays
    assert TRANSITIONS[(S.DELAY, NdInput.TIMEOUT)] == frozenset((S.PROBE,))
    assert all((s, NdInput.EVICT) in TRANSITIONS for s in NeighborState)


# -- bounds ------------------------------------------------------------------------------


def test_queue_is_bounded_by_bytes_dropping_oldest():
    cache = make_cache(max_queued_bytes=300)
    for i in range(10):
        cache.resolve(ADDR, bytes([i]) * 100, 0.0)
    assert cache.queued_bytes == 300
    released = cache.on_advertisement(ADDR, MAC, False, True, False, 0.1)
    assert released == [bytes([i]) * 100 for i in (7, 8, 9)]
    assert cache.stats.queue_drops == 7


def test_oversized_packet_is_refused_not_queued():
    cache = make_cache(max_queued_bytes=100)
    cache.resolve(ADDR, b"a" * 50, 0.0)
    cache.resolve(ADDR, b"b" * 150, 0.0)
    assert cache.queued_bytes == 0  # the old one made way, the new one did not fit either
    assert cache.stats.queue_drops == 2


def test_total_queue_limit_across_neighbours():
    cache = make_cache(max_total_queued_bytes=1000)
    for i in range(50):
        cache.resolve(ADDR[:15] + bytes([i]), b"x" * 100, 0.0)
    assert cache.queued_bytes == 1000
    assert cache.stats.queue_drops == 40


def test_full_cache_evicts_stale_before_reachable_and_incomplete():
    cache = make_cache(max_entries=3)
    a, b, c, d = (ADDR[:15] + bytes([i]) for i in range(1, 5))
    cache.resolve(a, b"queued", 0.0)  # INCOMPLETE (oldest)
    cache.on_solicitation(b, MAC, 1.0)
    cache.confirm(b, 1.0)  # REACHABLE
    cache.on_solicitation(c, MAC, 2.0)  # STALE (newest)
    cache.on_solicitation(d, MAC, 3.0)
    assert [x in cache for x in (a, b, c, d)] == [True, True, False, True]
    e = ADDR[:15] + bytes([5])
    cache.on_solicitation(e, MAC, 4.0)  # d is STALE now and goes first
    assert d not in cache and e in cache
    assert cache.stats.evictions == 2
    assert len(cache) == 3


def test_evicting_incomplete_entry_counts_its_packets():
    cache = make_cache(max_entries=1)
    cache.resolve(ADDR, b"p1", 0.0)
    cache.resolve(ADDR, b"p2", 0.0)
    cache.resolve(OTHER, b"q", 0.1)
    assert ADDR not in cache and OTHER in cache
    assert cache.stats.queue_drops == 2 and cache.queued_bytes == 1


def test_router_entries_are_evicted_last():
    cache = make_cache(max_entries=2)
    cache.on_router_or_redirect(ADDR, MAC, 0.0, is_router=True)  # STALE router, oldest
    cache.on_solicitation(OTHER, MAC, 1.0)
    cache.confirm(OTHER, 1.0)  # REACHABLE host
    third = ADDR[:15] + bytes([9])
    cache.on_solicitation(third, MAC, 2.0)
    assert ADDR in cache and OTHER not in cache


def test_remove_returns_queued_packets():
    cache = in_state(S.INCOMPLETE)
    assert cache.remove(ADDR) == [b"queued"]
    assert cache.get_timer() is None and cache.queued_bytes == 0


# -- router list (§6.3.6) -------------------------------------------------------------------

R1 = bytes.fromhex("fe800000000000000000000000000001")
R2 = bytes.fromhex("fe800000000000000000000000000011")
R3 = bytes.fromhex("fe800000000000000000000000000021")


def test_router_lifetime_adds_refreshes_and_zero_removes():
    routers = RouterList()
    routers.update(R1, 30, 0.0)
    assert routers.routers(29.9) == [R1]
    routers.update(R1, 30, 20.0)
    assert routers.routers(49.9) == [R1]
    assert routers.routers(50.0) == []
    routers.update(R2, 30, 60.0)
    routers.update(R2, 0, 61.0)
    assert routers.routers(61.0) == []


def test_router_list_is_bounded():
    routers = RouterList(max_routers=2)
    assert routers.update(R1, 30, 0.0) and routers.update(R2, 30, 0.0)
    assert not routers.update(R3, 30, 0.0)
    assert routers.routers(0.0) == [R1, R2]


def test_selection_prefers_probably_reachable_router_and_sticks_with_it():
    cache = make_cache()
    routers = RouterList()
    for r in (R1, R2, R3):
        routers.update(r, 600, 0.0)
    cache.on_router_or_redirect(R2, MAC, 0.0, is_router=True)  # STALE: probably reachable
    assert routers.select(1.0, cache) == R2
    cache.on_router_or_redirect(R3, MAC2, 1.0, is_router=True)
    assert routers.select(2.0, cache) == R2  # keeps the router in use
    cache.remove(R2)  # NUD failed
    assert routers.select(3.0, cache) == R3


def test_selection_round_robins_when_none_is_reachable():
    cache = make_cache()
    routers = RouterList()
    for r in (R1, R2, R3):
        routers.update(r, 600, 0.0)
    cache.resolve(R1, b"p", 0.0)  # INCOMPLETE does not count as reachable
    picks = [routers.select(float(t), cache) for t in range(6)]
    assert picks == [R1, R2, R3, R1, R2, R3]


def test_selection_prefers_high_preference_among_reachable():
    cache = make_cache()
    routers = RouterList()
    routers.update(R1, 600, 0.0, RouterPreference.LOW)
    routers.update(R2, 600, 0.0, RouterPreference.HIGH)
    routers.update(R3, 600, 0.0, RouterPreference.MEDIUM)
    for r in (R1, R2, R3):
        cache.on_router_or_redirect(r, MAC, 0.0, is_router=True)
    assert routers.select(1.0, cache) == R2
    routers.update(R2, 0, 2.0)
    assert routers.select(2.0, cache) == R3


# -- prefix list (§6.3.4) --------------------------------------------------------------------

P = bytes.fromhex("20010db8000100000000000000000000")


def test_on_link_prefix_lifetime():
    prefixes = PrefixList()
    assert prefixes.update(P, 64, 100, 0.0)
    inside = P[:8] + bytes.fromhex("0000000000000042")
    assert prefixes.is_on_link(inside, 99.0)
    assert not prefixes.is_on_link(bytes.fromhex("20010db8000200000000000000000001"), 1.0)
    assert not prefixes.is_on_link(inside, 100.0)
    assert prefixes.prefixes(100.0) == []


def test_prefix_refresh_zero_and_infinite_lifetimes():
    prefixes = PrefixList()
    prefixes.update(P, 64, 100, 0.0)
    prefixes.update(P, 64, 0, 10.0)  # "time-out the prefix immediately"
    assert not prefixes.is_on_link(P, 10.0)
    prefixes.update(P, 64, 0, 11.0)  # unknown prefix with zero lifetime: ignored
    assert prefixes.prefixes(11.0) == []
    prefixes.update(P, 48, 0xFFFFFFFF, 12.0)
    assert prefixes.is_on_link(bytes.fromhex("20010db80001ffff0000000000000001"), 1e12)


def test_link_local_prefix_is_ignored_but_always_on_link():
    prefixes = PrefixList()
    assert not prefixes.update(bytes.fromhex("fe800000000000000000000000000000"), 64, 100, 0.0)
    assert prefixes.is_on_link(ADDR, 0.0)
    assert prefixes.prefixes(0.0) == []


def test_prefix_list_is_bounded():
    prefixes = PrefixList(max_prefixes=2)
    assert prefixes.update(P, 64, 100, 0.0)
    assert prefixes.update(P[:5] + b"\x02" + P[6:], 64, 100, 0.0)
    assert not prefixes.update(P[:5] + b"\x03" + P[6:], 64, 100, 0.0)
    assert prefixes.update(P, 64, 200, 0.0)  # refreshing a known prefix still works
