"""SLAAC with DAD (RFC 4862), RFC 7217 identifiers, router solicitation and RA processing,
with an explicit clock."""

import dataclasses
import math
import random

import pytest

from netstack.stacks.core.nd import (
    INFINITE_LIFETIME,
    DnsslInfo,
    NdConfig,
    NeighborCache,
    NeighborState,
    PrefixInfo,
    RaInfo,
    RdnssInfo,
)
from netstack.stacks.core.slaac import (
    AddressDeprecated,
    AddressManager,
    AddressPreferred,
    AddressRemoved,
    AddressState,
    AddressTentative,
    DadFailed,
    DadProbe,
    Ipv6Disabled,
    RouterDiscovery,
    RouterDiscoveryConfig,
    RouterSolicit,
    SlaacConfig,
    SlaacOutput,
)

MAC = bytes.fromhex("525400123456")
# RFC 4291 Appendix A: 52:54:00:12:34:56 → 5054:00ff:fe12:3456 (U/L bit flipped)
LINK_LOCAL = bytes.fromhex("fe80000000000000505400fffe123456")
PREFIX = bytes.fromhex("20010db8000100000000000000000000")
GLOBAL = PREFIX[:8] + LINK_LOCAL[8:]
ROUTER = bytes.fromhex("fe800000000000000000000000000001")
ROUTER_MAC = bytes.fromhex("020000000001")
UNSPECIFIED = bytes(16)
HOUR = 3600.0


def prefix_info(valid: int = 86400, preferred: int = 14400, **kwargs: object) -> PrefixInfo:
    fields: dict[str, object] = {
        "prefix": PREFIX,
        "length": 64,
        "on_link": True,
        "autonomous": True,
        "valid_lifetime": valid,
        "preferred_lifetime": preferred,
    }
    fields.update(kwargs)
    return PrefixInfo(**fields)  # type: ignore[arg-type]


def ra(*prefixes: PrefixInfo, lifetime: int = 1800, **kwargs: object) -> RaInfo:
    return RaInfo(ROUTER, lifetime, prefixes=prefixes, **kwargs)  # type: ignore[arg-type]


def run(mgr: AddressManager, until: float) -> list[tuple[float, SlaacOutput]]:
    """Fire timers up to ``until``; (time, output) for everything produced."""
    out: list[tuple[float, SlaacOutput]] = []
    while (when := mgr.get_timer()) is not None and when <= until:
        mgr.handle_timer(when)
        out += [(when, o) for o in mgr.outputs()]
    return out


def started(seed: int = 1, **config: object) -> AddressManager:
    mgr = AddressManager(MAC, random.Random(seed), SlaacConfig(**config))  # type: ignore[arg-type]
    mgr.start(0.0)
    return mgr


def ready(seed: int = 1, **config: object) -> AddressManager:
    """Started, link-local preferred, an RA with PREFIX processed and its DAD done."""
    mgr = started(seed, **config)
    run(mgr, 3.0)
    mgr.on_router_advertisement(ra(prefix_info()), 3.0)
    run(mgr, 6.0)
    mgr.outputs()
    return mgr


def probes(out: list[tuple[float, SlaacOutput]]) -> list[tuple[float, DadProbe]]:
    return [(t, o) for t, o in out if isinstance(o, DadProbe)]


# -- link-local and DAD (RFC 4862 §5.3, §5.4) ------------------------------------------------


def test_link_local_from_eui64_is_tentative_then_preferred_after_one_probe():
    mgr = started()
    assert mgr.outputs() == [AddressTentative(LINK_LOCAL, 64)]
    assert mgr.is_tentative(LINK_LOCAL)
    assert mgr.link_local(0.0) is None
    out = run(mgr, 3.0)
    sent = probes(out)
    assert len(sent) == 1
    when, probe = sent[0]
    assert 0.0 <= when <= 1.0  # the random delay before the first probe (§5.4.2)
    assert probe.target == LINK_LOCAL and len(probe.nonce) == 6
    assert probe.destination == bytes.fromhex("ff0200000000000000000001ff123456")
    assert (when + 1.0, AddressPreferred(LINK_LOCAL, 64)) in out  # RetransTimer later
    assert not mgr.is_tentative(LINK_LOCAL)
    assert mgr.link_local(3.0) == LINK_LOCAL


def test_eui64_from_an_ieee_802154_address():
    mgr = AddressManager(bytes.fromhex("00124b0001020304"), random.Random(1))
    mgr.start(0.0)
    assert mgr.outputs() == [
        AddressTentative(bytes.fromhex("fe8000000000000002124b0001020304"), 64)
    ]


def test_dup_addr_detect_transmits_spaces_probes_by_retrans_timer():
    mgr = started(dup_addr_detect_transmits=3, retrans_timer=2.0)
    out = run(mgr, 20.0)
    times = [t for t, _ in probes(out)]
    assert len(times) == 3
    assert times[1] - times[0] == pytest.approx(2.0)
    assert times[2] - times[1] == pytest.approx(2.0)
    assert len({p.nonce for _, p in probes(out)}) == 3
    done = [t for t, o in out if isinstance(o, AddressPreferred)]
    assert done == [pytest.approx(times[2] + 2.0)]


def test_dad_disabled_makes_address_preferred_at_once():
    mgr = started(dup_addr_detect_transmits=0)
    assert mgr.outputs() == [AddressTentative(LINK_LOCAL, 64), AddressPreferred(LINK_LOCAL, 64)]


def test_dad_fails_on_advertisement_and_disables_ipv6_for_hardware_link_local():
    mgr = started()
    mgr.outputs()
    assert mgr.on_neighbor_advertisement(LINK_LOCAL, 0.5) is True
    assert mgr.outputs() == [DadFailed(LINK_LOCAL, 64), Ipv6Disabled()]
    assert mgr.disabled
    assert [a.state for a in mgr.addresses(1.0)] == [AddressState.DUPLICATE]
    assert mgr.get_timer() is None  # no more DAD, no RS
    mgr.on_router_advertisement(ra(prefix_info()), 2.0)
    assert mgr.addresses(2.0)[0].address == LINK_LOCAL and len(mgr.addresses(2.0)) == 1


def test_dad_fails_on_solicitation_from_another_node():
    mgr = started()
    out = run(mgr, 1.0)
    own = probes(out)[0][1].nonce
    other = bytes(b ^ 0xFF for b in own)
    assert mgr.on_neighbor_solicitation(LINK_LOCAL, UNSPECIFIED, other, 1.2) is True
    assert DadFailed(LINK_LOCAL, 64) in mgr.outputs()


def test_dad_fails_on_solicitation_without_nonce():
    mgr = started()
    assert mgr.on_neighbor_solicitation(LINK_LOCAL, UNSPECIFIED, None, 0.1) is True
    assert DadFailed(LINK_LOCAL, 64) in mgr.outputs()


def test_own_looped_back_probe_is_recognised_by_nonce():
    mgr = started()
    out = run(mgr, 1.0)
    when, probe = probes(out)[0]
    assert mgr.on_neighbor_solicitation(LINK_LOCAL, UNSPECIFIED, probe.nonce, when) is True
    assert mgr.stats.looped_back_probes == 1
    out = run(mgr, 3.0)
    assert AddressPreferred(LINK_LOCAL, 64) in [o for _, o in out]
    assert mgr.stats.dad_failures == 0


def test_address_resolution_for_tentative_address_is_ignored_not_a_conflict():
    mgr = started()
    assert mgr.on_neighbor_solicitation(LINK_LOCAL, ROUTER, None, 0.1) is True  # do not answer
    run(mgr, 3.0)
    assert mgr.link_local(3.0) == LINK_LOCAL
    assert mgr.on_neighbor_solicitation(LINK_LOCAL, ROUTER, None, 3.0) is False  # answer it


def test_advertisement_for_assigned_address_is_counted_not_acted_on():
    mgr = ready()
    assert mgr.on_neighbor_advertisement(GLOBAL, 10.0) is False
    assert mgr.stats.conflicts_after_dad == 1
    assert mgr.preferred_global(10.0) == GLOBAL


# -- router solicitation (RFC 4861 §6.3.7) ---------------------------------------------------


def test_three_router_solicitations_four_seconds_apart():
    mgr = started()
    out = run(mgr, 60.0)
    rs = [(t, o) for t, o in out if isinstance(o, RouterSolicit)]
    times = [t for t, _ in rs]
    assert len(times) == 3
    assert 0.0 <= times[0] <= 1.0
    assert times[1] == pytest.approx(times[0] + 4.0) and times[2] == pytest.approx(times[0] + 8.0)
    assert rs[-1][1] == RouterSolicit(LINK_LOCAL)  # once the link-local address is assigned


def test_router_solicitation_before_dad_completes_is_from_unspecified():
    mgr = started(dup_addr_detect_transmits=3, max_dad_delay=0.0, max_rtr_solicitation_delay=0.5)
    out = run(mgr, 1.0)
    assert [o for _, o in out if isinstance(o, RouterSolicit)] == [RouterSolicit(UNSPECIFIED)]


def test_advertisement_with_router_lifetime_stops_solicitations():
    mgr = started(max_rtr_solicitation_delay=0.0)

    def solicits(until: float) -> list[float]:
        return [t for t, o in run(mgr, until) if isinstance(o, RouterSolicit)]

    assert solicits(2.0) == [0.0]
    mgr.on_router_advertisement(ra(lifetime=0), 2.0)  # not a default router: keep asking
    assert solicits(5.0) == [4.0]
    mgr.on_router_advertisement(ra(lifetime=1800), 5.0)
    assert solicits(60.0) == []  # the third, due at 8 s, is not sent


# -- global addresses and lifetimes (RFC 4862 §5.5.3, §5.5.4) ------------------------------


def test_prefix_with_autonomous_flag_forms_global_address():
    mgr = started()
    run(mgr, 3.0)
    mgr.on_router_advertisement(ra(prefix_info()), 3.0)
    assert mgr.outputs() == [AddressTentative(GLOBAL, 64)]
    assert mgr.preferred_global(3.0) is None
    out = run(mgr, 6.0)
    assert AddressPreferred(GLOBAL, 64) in [o for _, o in out]
    assert mgr.preferred_global(6.0) == GLOBAL


@pytest.mark.parametrize(
    "info",
    [
        prefix_info(autonomous=False),
        prefix_info(length=48),
        prefix_info(length=80),
        prefix_info(valid=100, preferred=200),  # preferred > valid
        prefix_info(prefix=bytes.fromhex("fe800000000000000000000000000000")),
        prefix_info(valid=0, preferred=0),
    ],
)
def test_prefixes_slaac_must_ignore(info: PrefixInfo):
    mgr = started()
    run(mgr, 3.0)
    mgr.on_router_advertisement(ra(info), 3.0)
    assert mgr.outputs() == []
    assert [a.address for a in mgr.addresses(3.0)] == [LINK_LOCAL]


def test_preferred_then_deprecated_then_removed():
    mgr = started()
    run(mgr, 3.0)
    mgr.on_router_advertisement(ra(prefix_info(valid=100, preferred=50)), 3.0)
    assert mgr.outputs() == [AddressTentative(GLOBAL, 64)]
    out = run(mgr, 1000.0)
    events = [(t, o) for t, o in out if getattr(o, "address", None) == GLOBAL]
    kinds = [type(o) for _, o in events]
    assert kinds == [AddressPreferred, AddressDeprecated, AddressRemoved]
    assert events[1][0] == 53.0 and events[2][0] == 103.0
    assert [a.address for a in mgr.addresses(103.0)] == [LINK_LOCAL]


def test_zero_preferred_lifetime_gives_deprecated_address_after_dad():
    mgr = started()
    run(mgr, 3.0)
    mgr.on_router_advertisement(ra(prefix_info(valid=600, preferred=0)), 3.0)
    out = run(mgr, 6.0)
    assert AddressDeprecated(GLOBAL, 64) in [o for _, o in out]
    assert mgr.preferred_global(6.0) is None
    assert mgr.addresses(6.0)[1].state is AddressState.DEPRECATED


def test_deprecated_address_is_preferred_again_by_new_preferred_lifetime():
    mgr = ready()
    mgr.on_router_advertisement(ra(prefix_info(preferred=0)), 10.0)
    assert mgr.outputs() == [AddressDeprecated(GLOBAL, 64)]
    assert mgr.addresses(10.0)[1].state is AddressState.DEPRECATED
    mgr.on_router_advertisement(ra(prefix_info(preferred=600)), 20.0)
    assert mgr.outputs() == [AddressPreferred(GLOBAL, 64)]
    assert mgr.preferred_global(20.0) == GLOBAL


def valid_until(mgr: AddressManager, now: float) -> float:
    return next(a.valid_until for a in mgr.addresses(now) if a.address == GLOBAL)


def test_two_hour_rule_longer_or_above_two_hours_is_taken():
    mgr = ready()  # valid 24 h from t=3
    mgr.on_router_advertisement(ra(prefix_info(valid=int(3 * HOUR), preferred=60)), 10.0)
    assert valid_until(mgr, 10.0) == 10.0 + 3 * HOUR  # e) 1: above two hours


def test_two_hour_rule_short_lifetime_is_raised_to_two_hours():
    mgr = ready()
    mgr.on_router_advertisement(ra(prefix_info(valid=60, preferred=30)), 10.0)
    assert valid_until(mgr, 10.0) == 10.0 + 2 * HOUR  # e) 3


def test_two_hour_rule_ignores_short_lifetime_when_little_remains():
    mgr = ready()
    mgr.on_router_advertisement(ra(prefix_info(valid=int(1.5 * HOUR), preferred=60)), 10.0)
    assert valid_until(mgr, 10.0) == 10.0 + 2 * HOUR
    mgr.on_router_advertisement(ra(prefix_info(valid=600, preferred=60)), 20.0)
    assert valid_until(mgr, 20.0) == 10.0 + 2 * HOUR  # e) 2: unchanged
    mgr.on_router_advertisement(ra(prefix_info(valid=0, preferred=0)), 30.0)
    assert valid_until(mgr, 30.0) == 10.0 + 2 * HOUR  # not even zero removes it


def test_two_hour_rule_accepts_longer_than_remaining():
    mgr = ready()
    mgr.on_router_advertisement(ra(prefix_info(valid=int(1.5 * HOUR), preferred=60)), 10.0)
    assert valid_until(mgr, 10.0) == 7210.0  # two hours
    mgr.on_router_advertisement(ra(prefix_info(valid=7195, preferred=60)), 20.0)
    assert valid_until(mgr, 20.0) == 20.0 + 7195  # e) 1: more than the 7190 s remaining


def test_infinite_lifetimes():
    mgr = started()
    run(mgr, 3.0)
    info = prefix_info(valid=INFINITE_LIFETIME, preferred=INFINITE_LIFETIME)
    mgr.on_router_advertisement(ra(info), 3.0)
    run(mgr, 10.0)
    addr = mgr.addresses(1e9)[1]
    assert addr.valid_until == math.inf and addr.state is AddressState.PREFERRED
    assert mgr.get_timer() is None


def test_global_dad_failure_keeps_duplicate_and_ipv6_running():
    mgr = started()
    run(mgr, 3.0)
    mgr.on_router_advertisement(ra(prefix_info()), 3.0)
    mgr.outputs()
    assert mgr.on_neighbor_advertisement(GLOBAL, 3.1)
    assert mgr.outputs() == [DadFailed(GLOBAL, 64)]
    assert not mgr.disabled
    mgr.on_router_advertisement(ra(prefix_info()), 10.0)  # the prefix does not retry
    assert mgr.outputs() == []
    assert mgr.addresses(10.0)[1].state is AddressState.DUPLICATE
    assert mgr.preferred_global(10.0) is None


def test_preferred_global_picks_longest_preferred_lifetime():
    mgr = ready()
    other = bytes.fromhex("20010db8000200000000000000000000")
    mgr.on_router_advertisement(ra(prefix_info(prefix=other, preferred=86000)), 10.0)
    run(mgr, 15.0)
    assert mgr.preferred_global(15.0) == other[:8] + LINK_LOCAL[8:]


def test_address_table_is_bounded():
    mgr = started(max_addresses=2)
    run(mgr, 3.0)
    other = bytes.fromhex("20010db8000200000000000000000000")
    mgr.on_router_advertisement(ra(prefix_info(), prefix_info(prefix=other)), 3.0)
    assert len(mgr.addresses(3.0)) == 2
    assert mgr.stats.prefixes_ignored == 1


def test_stop_removes_everything_and_start_begins_again():
    mgr = ready()
    mgr.stop()
    assert mgr.outputs() == [AddressRemoved(LINK_LOCAL, 64), AddressRemoved(GLOBAL, 64)]
    assert mgr.addresses(10.0) == [] and mgr.get_timer() is None
    mgr.start(20.0)
    assert mgr.outputs() == [AddressTentative(LINK_LOCAL, 64)]


# -- RFC 7217 stable identifiers ------------------------------------------------------------

SECRET = bytes(range(32))


def stable(seed: int = 1, secret: bytes | None = SECRET, **config: object) -> AddressManager:
    return ready(seed, stable_privacy=True, interface_name="eth0", secret_key=secret, **config)


def test_stable_identifiers_survive_restart_with_same_secret():
    first = [a.address for a in stable(seed=1).addresses(10.0)]
    second = [a.address for a in stable(seed=99).addresses(10.0)]
    assert first == second
    assert first[0][:8] == LINK_LOCAL[:8] and first[1][:8] == PREFIX[:8]
    assert first[0][8:] != LINK_LOCAL[8:]  # not the EUI-64 identifier


def test_stable_identifiers_differ_per_prefix_secret_and_interface():
    ll, glob = (a.address for a in stable().addresses(10.0))
    assert ll[8:] != glob[8:]
    assert stable(secret=bytes(32)).addresses(10.0)[1].address != glob
    other_if = ready(1, stable_privacy=True, interface_name="eth1", secret_key=SECRET)
    assert other_if.addresses(10.0)[1].address != glob


def test_secret_comes_from_the_rng_when_not_given():
    a = AddressManager(MAC, random.Random(5), SlaacConfig(stable_privacy=True))
    b = AddressManager(MAC, random.Random(5), SlaacConfig(stable_privacy=True))
    c = AddressManager(MAC, random.Random(6), SlaacConfig(stable_privacy=True))
    assert len(a.secret_key) == 32 and a.secret_key == b.secret_key != c.secret_key


def test_stable_identifier_retries_with_new_counter_after_dad_failure():
    mgr = started(stable_privacy=True, interface_name="eth0", secret_key=SECRET)
    run(mgr, 3.0)
    mgr.on_router_advertisement(ra(prefix_info()), 3.0)
    first = mgr.outputs()[0]
    assert (
        isinstance(first, AddressTentative) and first.address == stable().addresses(10)[1].address
    )
    tried = [first.address]
    for i in range(3):  # IDGEN_RETRIES
        assert mgr.on_neighbor_advertisement(tried[-1], 3.0 + i / 10)
        out = mgr.outputs()
        assert out[0] == DadFailed(tried[-1], 64)
        assert isinstance(out[1], AddressTentative)
        tried.append(out[1].address)
    assert len(set(tried)) == 4 and all(t[:8] == PREFIX[:8] for t in tried)
    assert mgr.on_neighbor_advertisement(tried[-1], 20.0)
    assert mgr.outputs() == [DadFailed(tried[-1], 64)]  # no more retries
    assert mgr.addresses(20.0)[1].state is AddressState.DUPLICATE


def test_stable_link_local_duplicate_does_not_disable_ipv6():
    mgr = AddressManager(
        MAC,
        random.Random(1),
        SlaacConfig(stable_privacy=True, secret_key=SECRET, idgen_retries=0),
    )
    mgr.start(0.0)
    ll = mgr.outputs()[0]
    assert isinstance(ll, AddressTentative)
    mgr.on_neighbor_advertisement(ll.address, 0.5)
    assert mgr.outputs() == [DadFailed(ll.address, 64)]
    assert not mgr.disabled


# -- router discovery (RFC 4861 §6.3.4, RFC 8106) ------------------------------------------


def discovery(**config: int) -> RouterDiscovery:
    cache = NeighborCache(NdConfig(), random.Random(3))
    return RouterDiscovery(cache, RouterDiscoveryConfig(**config))


def test_advertisement_installs_router_and_its_link_layer_address():
    rd = discovery()
    rd.on_router_advertisement(ra(source_lladdr=ROUTER_MAC), 0.0)
    assert rd.default_router(1.0) == ROUTER
    info = rd.cache.lookup(ROUTER, 1.0)
    assert info is not None and info.is_router and info.state is NeighborState.STALE
    assert rd.default_router(1800.0) is None  # router lifetime over
    rd.on_router_advertisement(ra(lifetime=1800), 2000.0)
    rd.on_router_advertisement(ra(lifetime=0), 2001.0)
    assert rd.default_router(2001.0) is None


def test_advertisement_releases_packets_waiting_for_the_router():
    rd = discovery()
    rd.cache.resolve(ROUTER, b"waiting", 0.0)
    assert rd.on_router_advertisement(ra(source_lladdr=ROUTER_MAC), 0.5) == [b"waiting"]


def test_advertisement_parameters_update_link_and_cache():
    rd = discovery(link_mtu=1500)
    rd.on_router_advertisement(
        ra(cur_hop_limit=32, reachable_time_ms=10000, retrans_timer_ms=500, mtu=1400), 0.0
    )
    assert rd.cur_hop_limit == 32 and rd.mtu == 1400
    assert rd.cache.base_reachable_time == 10.0 and 5.0 <= rd.cache.reachable_time <= 15.0
    assert rd.cache.retrans_timer == 0.5
    rd.on_router_advertisement(ra(mtu=9000), 1.0)  # above the link's MTU
    rd.on_router_advertisement(ra(mtu=1000), 1.0)  # below IPv6's minimum
    rd.on_router_advertisement(ra(), 1.0)  # zeros: unspecified
    assert rd.mtu == 1400 and rd.cur_hop_limit == 32 and rd.cache.retrans_timer == 0.5
    assert rd.stats.mtu_ignored == 2


def test_router_that_stops_being_one_is_dropped():
    rd = discovery()
    rd.on_router_advertisement(ra(source_lladdr=ROUTER_MAC), 0.0)
    rd.cache.on_advertisement(ROUTER, ROUTER_MAC, False, True, False, 1.0)  # R flag clear
    assert rd.default_router(1.0) is None


def test_on_link_prefixes_come_from_the_l_flag():
    rd = discovery()
    off = bytes.fromhex("20010db8000200000000000000000000")
    rd.on_router_advertisement(
        ra(prefix_info(valid=100), prefix_info(prefix=off, on_link=False)), 0
    )
    assert rd.is_on_link(GLOBAL, 50.0)
    assert not rd.is_on_link(off[:8] + GLOBAL[8:], 50.0)
    assert not rd.is_on_link(GLOBAL, 100.0)


def test_dns_servers_and_search_domains_with_lifetimes():
    rd = discovery(max_dns_servers=2)
    d1, d2, d3 = (bytes.fromhex(f"20010db80000000000000000000000{i:02x}") for i in (1, 2, 3))
    rd.on_router_advertisement(
        ra(
            rdnss=(RdnssInfo(600, (d1, d2)),),
            dnssl=(DnsslInfo(300, ("example.com", "example.org")),),
        ),
        0.0,
    )
    assert rd.dns_servers(1.0) == [d1, d2]
    assert rd.search_domains(299.0) == ["example.com", "example.org"]
    assert rd.search_domains(300.0) == []
    rd.on_router_advertisement(ra(rdnss=(RdnssInfo(0, (d1,)),)), 10.0)  # lifetime 0 removes
    assert rd.dns_servers(10.0) == [d2]
    rd.on_router_advertisement(ra(rdnss=(RdnssInfo(1200, (d1, d3)),)), 20.0)  # list of two
    assert sorted(rd.dns_servers(20.0)) == sorted([d1, d3])  # d2 expired first, made way
    assert rd.dns_servers(1220.0) == []


def test_router_advertisement_record_is_plain_values():
    info = ra(prefix_info())
    assert dataclasses.replace(info, router_lifetime=0).prefixes == info.prefixes
