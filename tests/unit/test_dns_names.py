"""DNS resolver pieces with no network: host-name validation, the TTL/LRU cache, config."""

from __future__ import annotations

import pytest

from netstack.errors import ParameterError
from netstack.socket.dns import MAX_CACHE_TTL, DnsCache, ResolverConfig, validate_hostname


# -- names ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "normalised"),
    [
        ("example.test", "example.test"),
        ("example.test.", "example.test"),  # a trailing dot is allowed
        ("a", "a"),
        ("EXAMPLE.Test", "EXAMPLE.Test"),  # case is kept (the resolver lowercases)
        ("_sip._udp.example.test", "_sip._udp.example.test"),  # underscores, like glibc
        ("host-1.example-2.test", "host-1.example-2.test"),
        ("x.-lead.test", "x.-lead.test"),  # glibc rejects a leading '-' on the first label only
        ("trail-.test", "trail-.test"),
        ("1.2.3", "1.2.3"),  # all-digit labels are names when they are not an address
        ("a" * 63 + ".test", "a" * 63 + ".test"),
    ],
)
def test_valid_host_names_are_accepted(host, normalised):
    assert validate_hostname(host) == normalised


def test_longest_name_is_253_characters_with_or_without_the_root_dot():
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    assert validate_hostname(name) == name
    assert validate_hostname(name + ".") == name
    with pytest.raises(ParameterError):
        validate_hostname(name + "d")


@pytest.mark.parametrize(
    "host",
    [
        "",
        ".",
        "a..b",
        ".leading.dot",
        "a" * 64 + ".test",  # label over 63
        "-dash.test",
        "space here.test",
        "semi;colon.test",
        "back\\slash.test",
        "slash/.test",
        "star*.test",
        "héllo.test",  # non-ASCII: IDNA is the caller's business
        "trailing..",
    ],
)
def test_invalid_host_names_raise_parameter_error(host):
    with pytest.raises(ParameterError):
        validate_hostname(host)


def test_parameter_error_is_a_value_error():
    with pytest.raises(ValueError):
        validate_hostname("bad name")


# -- cache ---------------------------------------------------------------------------------
def test_cache_entry_expires_after_its_ttl():
    cache: DnsCache[str] = DnsCache(8)
    cache.put(("host", 1), "10.0.0.5", ttl=30, now=100.0)
    assert cache.get(("host", 1), now=100.0) == "10.0.0.5"
    assert cache.get(("host", 1), now=129.999) == "10.0.0.5"
    assert cache.get(("host", 1), now=130.0) is None
    assert len(cache) == 0  # the expired entry is gone, not just hidden


def test_cache_does_not_store_ttl_zero():
    cache: DnsCache[str] = DnsCache(8)
    cache.put("k", "v", ttl=0, now=0.0)
    cache.put("k2", "v", ttl=-1, now=0.0)
    assert len(cache) == 0
    assert cache.get("k", now=0.0) is None


def test_cache_evicts_the_least_recently_used_entry():
    cache: DnsCache[int] = DnsCache(3)
    for i in range(3):
        cache.put(i, i, ttl=60, now=0.0)
    assert cache.get(0, now=1.0) == 0  # 0 is now the most recently used
    cache.put(3, 3, ttl=60, now=2.0)
    assert 1 not in cache  # 1 was the least recently used
    assert [k for k in range(4) if k in cache] == [0, 2, 3]
    assert len(cache) == 3


def test_cache_replacing_a_key_refreshes_value_and_expiry():
    cache: DnsCache[str] = DnsCache(2)
    cache.put("k", "old", ttl=10, now=0.0)
    cache.put("k", "new", ttl=100, now=5.0)
    assert len(cache) == 1
    assert cache.get("k", now=50.0) == "new"


def test_cache_of_size_zero_stores_nothing():
    cache: DnsCache[str] = DnsCache(0)
    cache.put("k", "v", ttl=60, now=0.0)
    assert cache.get("k", now=0.0) is None


def test_cache_caps_huge_ttls():
    cache: DnsCache[str] = DnsCache(2)
    cache.put("k", "v", ttl=2**31 - 1, now=0.0)
    assert cache.get("k", now=MAX_CACHE_TTL - 1) == "v"
    assert cache.get("k", now=MAX_CACHE_TTL) is None


def test_cache_clear_forgets_everything():
    cache: DnsCache[str] = DnsCache(4)
    cache.put("a", "1", ttl=60, now=0.0)
    cache.put("b", "2", ttl=60, now=0.0)
    cache.clear()
    assert len(cache) == 0 and cache.get("a", now=0.0) is None


# -- configuration -------------------------------------------------------------------------
def test_config_defaults_follow_the_brief_and_mbed():
    cfg = ResolverConfig()
    assert (cfg.timeout, cfg.attempts, cfg.total_attempts) == (2.0, 2, 10)
    assert (cfg.cache_size, cfg.max_cname_chain, cfg.edns_payload) == (64, 8, 1232)
    assert cfg.max_concurrent == 16


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"attempts": 0},
        {"total_attempts": 0},
        {"cache_size": -1},
        {"max_concurrent": 0},
        {"edns_payload": 511},
        {"edns_payload": 65536},
    ],
)
def test_config_rejects_nonsense(kwargs):
    with pytest.raises(ParameterError):
        ResolverConfig(**kwargs)
