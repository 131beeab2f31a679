"""The ARP cache machine, driven with an explicit clock."""

from netstack.stacks.core.arp import ArpCache, ArpConfig, ArpRequest

IP = b"\x0a\0\0\x02"
MAC = b"\x02\0\0\0\0\x02"


def test_resolve_queues_and_requests_once():
    cache: ArpCache = ArpCache()
    assert cache.resolve(IP, b"p1", 0.0) is None
    assert cache.resolve(IP, b"p2", 0.1) is None
    assert cache.requests_to_send() == [ArpRequest(IP)]
    assert cache.get_timer() == 1.0
    assert cache.learn(IP, MAC, 0.2, create=False) == [b"p1", b"p2"]
    assert cache.lookup(IP, 0.3) == MAC
    assert cache.get_timer() is None


def test_retransmits_every_interval_then_gives_up():
    cache: ArpCache = ArpCache(ArpConfig(request_interval=1.0, max_requests=3))
    cache.resolve(IP, b"p", 0.0)
    sent = [0.0]
    cache.requests_to_send()
    now = 0.0
    failed: list[tuple[bytes, list[str]]] = []
    while (when := cache.get_timer()) is not None:
        now = when
        failed = cache.handle_timer(now)
        if cache.requests_to_send():
            sent.append(now)
    assert sent == [0.0, 1.0, 2.0]
    assert failed == [(IP, [b"p"])]
    assert now == 3.0
    assert cache.stats.failed == 1
    assert len(cache) == 0


def test_queue_is_bounded_by_bytes_keeping_newest():
    cache: ArpCache = ArpCache(ArpConfig(max_queued_bytes=300))
    for i in range(10):
        cache.resolve(IP, bytes([i]) * 100, 0.0)
    assert cache.queued_bytes == 300
    assert cache.learn(IP, MAC, 0.1, create=False) == [bytes([i]) * 100 for i in (7, 8, 9)]
    assert cache.stats.queue_drops == 7
    assert cache.queued_bytes == 0


def test_total_queue_limit_across_addresses():
    cache: ArpCache = ArpCache(ArpConfig(max_total_queued_bytes=1000))
    for i in range(50):
        cache.resolve(bytes([10, 0, 1, i]), b"x" * 100, 0.0)
    assert cache.queued_bytes <= 1000
    assert cache.stats.queue_drops == 40


def test_entries_expire_and_refresh_before_expiry():
    cache: ArpCache = ArpCache(ArpConfig(reachable_time=100.0, refresh_time=10.0))
    cache.learn(IP, MAC, 0.0, create=True)
    assert cache.lookup(IP, 50.0) == MAC
    assert cache.requests_to_send() == []
    assert cache.lookup(IP, 95.0) == MAC  # inside the refresh window: unicast re-request
    assert cache.requests_to_send() == [ArpRequest(IP, MAC)]
    assert cache.lookup(IP, 96.0) == MAC
    assert cache.requests_to_send() == []  # only once
    assert cache.lookup(IP, 100.0) is None  # expired
    assert len(cache) == 0


def test_learn_without_create_does_not_add():
    cache: ArpCache = ArpCache()
    assert cache.learn(IP, MAC, 0.0, create=False) == []
    assert len(cache) == 0


def test_table_size_limit_evicts_oldest():
    cache: ArpCache = ArpCache(ArpConfig(max_entries=4))
    for i in range(6):
        cache.learn(bytes([10, 0, 0, i]), MAC, float(i), create=True)
    assert len(cache) == 4
    assert cache.lookup(bytes([10, 0, 0, 0]), 6.0) is None
    assert cache.lookup(bytes([10, 0, 0, 5]), 6.0) == MAC
    assert cache.stats.evictions == 2
