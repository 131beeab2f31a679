"""The MLDv2 listener (RFC 3810 host side), with an explicit clock."""

import random

import pytest

from netstack.stacks.core.mld import (
    ALL_MLDV2_ROUTERS,
    MldConfig,
    MldListener,
    MldRecord,
    MldRecordType,
    MldReport,
)

T = MldRecordType
GROUP = bytes.fromhex("ff0e0000000000000000000000000123")  # global scope
SOLICITED = bytes.fromhex("ff0200000000000000000001ff123456")  # ff02::1:ff12:3456
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
IF_LOCAL = bytes.fromhex("ff010000000000000000000000000001")
SOURCE = bytes.fromhex("20010db8000000000000000000000001")
GENERAL = bytes(16)


def listener(seed: int = 1, **config: float) -> MldListener:
    return MldListener(random.Random(seed), MldConfig(**config))  # type: ignore[arg-type]


def run(mld: MldListener, until: float) -> list[tuple[float, MldReport]]:
    out: list[tuple[float, MldReport]] = []
    while (when := mld.get_timer()) is not None and when <= until:
        mld.handle_timer(when)
        out += [(when, r) for r in mld.reports_to_send()]
    return out


def change(record_type: MldRecordType, *groups: bytes) -> MldReport:
    return MldReport(tuple(MldRecord(record_type, g) for g in groups))


# -- state changes (§6.1) -----------------------------------------------------------------


def test_join_reports_at_once_and_once_more_within_the_interval():
    mld = listener()
    assert mld.join(GROUP, 10.0)
    assert mld.reports_to_send() == [change(T.CHANGE_TO_EXCLUDE_MODE, GROUP)]
    later = run(mld, 100.0)
    assert [r for _, r in later] == [change(T.CHANGE_TO_EXCLUDE_MODE, GROUP)]
    assert 10.0 <= later[0][0] <= 11.0  # Unsolicited Report Interval
    assert mld.get_timer() is None
    assert mld.stats.state_change_reports == 2  # Robustness Variable in all
    assert bytes.fromhex("ff020000000000000000000000000016") == ALL_MLDV2_ROUTERS


def test_leave_reports_change_to_include_then_forgets_group():
    mld = listener()
    mld.join(GROUP, 0.0)
    run(mld, 5.0)
    mld.reports_to_send()
    mld.leave(GROUP, 5.0)
    assert mld.reports_to_send() == [change(T.CHANGE_TO_INCLUDE_MODE, GROUP)]
    assert [r for _, r in run(mld, 10.0)] == [change(T.CHANGE_TO_INCLUDE_MODE, GROUP)]
    assert not mld.is_joined(GROUP) and mld.groups() == []
    mld.on_query(GROUP, 1.0, 11.0)
    assert run(mld, 20.0) == []


def test_leave_during_join_retransmission_replaces_the_join_record():
    mld = listener()
    mld.join(GROUP, 0.0)
    mld.reports_to_send()
    mld.leave(GROUP, 0.1)
    assert mld.reports_to_send() == [change(T.CHANGE_TO_INCLUDE_MODE, GROUP)]
    assert [r for _, r in run(mld, 10.0)] == [change(T.CHANGE_TO_INCLUDE_MODE, GROUP)]


def test_pending_changes_travel_together():
    mld = listener()
    mld.join(GROUP, 0.0)
    mld.join(SOLICITED, 0.0)
    assert mld.reports_to_send() == [
        change(T.CHANGE_TO_EXCLUDE_MODE, GROUP),
        change(T.CHANGE_TO_EXCLUDE_MODE, GROUP, SOLICITED),
    ]
    # the first group had one transmission left, the second two
    assert [r for _, r in run(mld, 10.0)] == [change(T.CHANGE_TO_EXCLUDE_MODE, SOLICITED)]


def test_robustness_from_query_sets_number_of_transmissions():
    mld = listener()
    mld.on_query(GENERAL, 0.0, 0.0, robustness=3)
    run(mld, 1.0)
    mld.join(GROUP, 1.0)
    reports = mld.reports_to_send() + [r for _, r in run(mld, 10.0)]
    assert reports == [change(T.CHANGE_TO_EXCLUDE_MODE, GROUP)] * 3


def test_joins_are_counted():
    mld = listener()
    mld.join(GROUP, 0.0)
    mld.join(GROUP, 0.0)
    assert len(mld.reports_to_send()) == 1
    run(mld, 5.0)
    mld.leave(GROUP, 5.0)
    assert mld.reports_to_send() == [] and mld.is_joined(GROUP)
    mld.leave(GROUP, 6.0)
    assert mld.reports_to_send() == [change(T.CHANGE_TO_INCLUDE_MODE, GROUP)]


@pytest.mark.parametrize("group", [ALL_NODES, IF_LOCAL])
def test_all_nodes_and_interface_local_groups_are_never_reported(group: bytes):
    mld = listener()
    mld.join(group, 0.0)
    assert mld.is_joined(group)
    mld.on_query(GENERAL, 1.0, 0.0)
    mld.on_query(group, 1.0, 0.0)
    mld.leave(group, 5.0)
    assert mld.reports_to_send() == [] and run(mld, 10.0) == []
    assert mld.groups() == []


def test_solicited_node_groups_are_reported():
    mld = listener()
    mld.join(SOLICITED, 0.0)
    assert mld.reports_to_send() == [change(T.CHANGE_TO_EXCLUDE_MODE, SOLICITED)]


def test_join_rejects_non_multicast_and_respects_limit():
    mld = listener(max_groups=1)
    with pytest.raises(ValueError):
        mld.join(SOURCE, 0.0)
    assert mld.join(GROUP, 0.0)
    assert not mld.join(SOLICITED, 0.0)
    assert mld.stats.joins_refused == 1


# -- queries (§6.2, §6.3) --------------------------------------------------------------------


def joined(*groups: bytes) -> MldListener:
    mld = listener()
    for g in groups:
        mld.join(g, 0.0)
    run(mld, 5.0)
    mld.reports_to_send()
    return mld


def test_general_query_answered_with_one_current_state_report_after_random_delay():
    mld = joined(GROUP, SOLICITED, ALL_NODES)
    mld.on_query(GENERAL, 10.0, 100.0)
    out = run(mld, 200.0)
    assert len(out) == 1
    when, report = out[0]
    assert 100.0 <= when <= 110.0
    assert report == MldReport(
        (MldRecord(T.MODE_IS_EXCLUDE, GROUP), MldRecord(T.MODE_IS_EXCLUDE, SOLICITED))
    )
    assert mld.stats.current_state_reports == 1


def test_general_query_delays_are_random_within_max_response_delay():
    times = []
    for seed in range(10):
        mld = listener(seed)
        mld.join(GROUP, 0.0)
        run(mld, 5.0)
        mld.on_query(GENERAL, 10.0, 100.0)
        times.append(mld.get_timer())
    assert all(t is not None and 100.0 <= t <= 110.0 for t in times)
    assert len(set(times)) == 10


def test_later_general_query_does_not_postpone_pending_answer():
    mld = joined(GROUP)
    mld.on_query(GENERAL, 1.0, 100.0)
    first = mld.get_timer()
    assert first is not None and first <= 101.0
    mld.on_query(GENERAL, 10.0, 100.5)  # §6.2 rule 1
    assert mld.get_timer() == first
    assert len(run(mld, 200.0)) == 1


def test_group_query_is_answered_for_that_group_only():
    mld = joined(GROUP, SOLICITED)
    mld.on_query(SOLICITED, 2.0, 50.0)
    out = run(mld, 100.0)
    assert [r for _, r in out] == [MldReport((MldRecord(T.MODE_IS_EXCLUDE, SOLICITED),))]
    assert 50.0 <= out[0][0] <= 52.0


def test_query_for_group_not_joined_is_ignored():
    mld = joined(GROUP)
    mld.on_query(SOLICITED, 2.0, 50.0)
    assert mld.get_timer() is None
    assert mld.stats.queries_ignored == 1


def test_group_query_covered_by_sooner_general_answer():
    mld = joined(GROUP)
    mld.on_query(GENERAL, 0.0, 50.0)  # answer due at once
    mld.on_query(GROUP, 5.0, 50.0)
    assert [len(r.records) for _, r in run(mld, 100.0)] == [1]


def test_source_specific_query_gets_include_of_queried_sources():
    mld = joined(GROUP)
    mld.on_query(GROUP, 1.0, 50.0, sources=[SOURCE])
    out = run(mld, 100.0)
    assert [r for _, r in out] == [MldReport((MldRecord(T.MODE_IS_INCLUDE, GROUP, (SOURCE,)),))]


def test_source_specific_queries_merge_and_group_query_clears_sources():
    other = SOURCE[:15] + b"\x02"
    mld = joined(GROUP)
    mld.on_query(GROUP, 1.0, 50.0, sources=[other])
    mld.on_query(GROUP, 1.0, 50.0, sources=[SOURCE])  # rule 5
    assert run(mld, 100.0)[0][1].records[0].sources == (SOURCE, other)
    mld.on_query(GROUP, 1.0, 150.0, sources=[SOURCE])
    mld.on_query(GROUP, 1.0, 150.0)  # rule 4: the whole group
    assert [r for _, r in run(mld, 200.0)] == [MldReport((MldRecord(T.MODE_IS_EXCLUDE, GROUP),))]


def test_leave_cancels_pending_query_answer():
    mld = joined(GROUP)
    mld.on_query(GROUP, 10.0, 50.0)
    mld.leave(GROUP, 50.0)
    reports = mld.reports_to_send() + [r for _, r in run(mld, 100.0)]
    assert all(rec.record_type is T.CHANGE_TO_INCLUDE_MODE for r in reports for rec in r.records)


def test_large_answer_is_split_to_fit_the_mtu():
    groups = [GROUP[:14] + i.to_bytes(2) for i in range(100)]
    mld = joined(*groups)
    mld.on_query(GENERAL, 1.0, 100.0)
    reports = [r for _, r in run(mld, 200.0)]
    assert len(reports) == 2
    assert all(56 + 20 * len(r.records) <= 1280 for r in reports)
    assert [rec.group for r in reports for rec in r.records] == groups
