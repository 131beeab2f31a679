"""The MLDv2 multicast listener (RFC 3810, host part) as a sans-I/O machine.

:class:`MldListener` keeps one interface's listening state for any-source multicast:
every joined group is in EXCLUDE mode with an empty source list. It takes joins, leaves,
parsed queries and the time, and produces :class:`MldReport` records (lists of
:class:`MldRecord`) and one timer deadline. It never reads a clock; the random response
and retransmission delays come from the ``random.Random`` it is given.

Glue duties: send each report as an MLDv2 Listener Report (ICMPv6 type 143) to ff02::16
(:data:`ALL_MLDV2_ROUTERS`) with hop limit 1 and a Router Alert option, from the
link-local address (or ``::`` while none is assigned, §5.2.13); hand every MLD query
received on the interface to :meth:`MldListener.on_query`.

Behaviour, with the RFC's rules:

- A join sends a State Change Report with CHANGE_TO_EXCLUDE_MODE {} at once, a leave one
  with CHANGE_TO_INCLUDE_MODE {}; each is sent [Robustness Variable] times in all, the
  retransmissions at random intervals in [0, Unsolicited Report Interval] (§6.1). All
  pending changes travel together in each report, so a leave during a join's
  retransmissions replaces the join's record (§6.1's merge).
- Joins are counted: the group is reported on the first join and left on the last leave.
- A General Query is answered after a random delay up to its Maximum Response Delay with
  one Current State Report holding MODE_IS_EXCLUDE for every joined group (split at
  ``mtu`` if needed); a Multicast Address Specific Query with MODE_IS_EXCLUDE for that
  group; a Multicast Address and Source Specific Query with MODE_IS_INCLUDE of the queried
  sources (§6.3, EXCLUDE {} row). Pending responses are merged by §6.2's five rules.
- ff02::1 (all-nodes) is never reported, nor are groups of scope 0 or 1 (§6); link-scope
  groups such as the solicited-node groups are reported, as Linux does.
- A query's QRV, when non-zero, becomes the Robustness Variable (§9.1).

Not supported: MLDv1 compatibility mode (§8) and source filtering (INCLUDE mode, ALLOW and
BLOCK records).
"""

from __future__ import annotations

import enum
import logging
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ALL_MLDV2_ROUTERS",
    "MldConfig",
    "MldListener",
    "MldRecord",
    "MldRecordType",
    "MldReport",
    "MldStats",
]

log = logging.getLogger(__name__)

_UNSPECIFIED = bytes(16)
_ALL_NODES = b"\xff\x02" + bytes(13) + b"\x01"
ALL_MLDV2_ROUTERS = b"\xff\x02" + bytes(13) + b"\x16"  # ff02::16, RFC 3810 §5.2.14
# IPv6 header, Hop-by-Hop with Router Alert, report header (RFC 3810 §5.2)
_REPORT_OVERHEAD = 40 + 8 + 8
_RECORD_SIZE = 20  # a Multicast Address Record without sources (§5.2.4)


class MldRecordType(enum.IntEnum):
    """RFC 3810 §5.2.12 Multicast Address Record types."""

    MODE_IS_INCLUDE = 1
    MODE_IS_EXCLUDE = 2
    CHANGE_TO_INCLUDE_MODE = 3
    CHANGE_TO_EXCLUDE_MODE = 4
    ALLOW_NEW_SOURCES = 5
    BLOCK_OLD_SOURCES = 6


@dataclass(frozen=True, slots=True)
class MldRecord:
    record_type: MldRecordType
    group: bytes
    sources: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class MldReport:
    """One MLDv2 Listener Report to send to :data:`ALL_MLDV2_ROUTERS`."""

    records: tuple[MldRecord, ...]


@dataclass(slots=True)
class MldConfig:
    robustness: int = 2  # RFC 3810 §9.1 Robustness Variable
    unsolicited_report_interval: float = 1.0  # RFC 3810 §9.11
    mtu: int = 1280  # reports are split to fit
    max_groups: int = 256  # joins beyond this are refused


@dataclass(slots=True)
class MldStats:
    state_change_reports: int = 0
    current_state_reports: int = 0
    queries: int = 0
    queries_ignored: int = 0  # for groups we do not listen to
    joins_refused: int = 0


@dataclass(slots=True)
class _Group:
    joins: int = 0
    change: MldRecordType | None = None  # pending State Change record
    change_left: int = 0  # transmissions of it still to go
    query_at: float | None = None  # pending answer to a group(-and-source) query
    query_sources: frozenset[bytes] = frozenset()  # empty: a group-specific query


def _reported(group: bytes) -> bool:
    """§6: never ff02::1, never scope 0 (reserved) or 1 (interface-local)."""
    return group != _ALL_NODES and group[1] & 0x0F > 1


class MldListener:
    """The MLDv2 host side for one interface (see the module docstring)."""

    def __init__(self, rng: random.Random, config: MldConfig | None = None) -> None:
        self.config = config or MldConfig()
        self.stats = MldStats()
        self._rng = rng
        self._robustness = self.config.robustness
        self._groups: dict[bytes, _Group] = {}  # in order of joining
        self._change_at: float | None = None  # the State Change retransmission timer
        self._general_at: float | None = None  # the Interface Timer (§6.2)
        self._outbox: list[MldReport] = []

    # -- verbs ------------------------------------------------------------------------------

    def join(self, group: bytes, now: float) -> bool:
        """Listen to ``group`` (counted). False when the group table is full."""
        if len(group) != 16 or group[0] != 0xFF:
            raise ValueError("not an IPv6 multicast address")
        state = self._groups.get(group)
        if state is None:
            if len(self._groups) >= self.config.max_groups:
                self.stats.joins_refused += 1
                return False
            state = self._groups[group] = _Group()
        state.joins += 1
        if state.joins == 1 and _reported(group):
            self._change(group, state, MldRecordType.CHANGE_TO_EXCLUDE_MODE, now)
        return True

    def leave(self, group: bytes, now: float) -> None:
        """Drop one join of ``group``; the last one leaves it."""
        state = self._groups.get(group)
        if state is None or state.joins == 0:
            return
        state.joins -= 1
        if state.joins:
            return
        state.query_at = None
        if _reported(group):
            self._change(group, state, MldRecordType.CHANGE_TO_INCLUDE_MODE, now)
        else:
            del self._groups[group]

    def on_query(
        self,
        group: bytes,
        max_response_delay: float,
        now: float,
        sources: Iterable[bytes] = (),
        robustness: int = 0,
    ) -> None:
        """An MLD query: ``group`` ``::`` for a General Query; ``max_response_delay`` in
        seconds (decoded from the Maximum Response Code); ``robustness`` the QRV field."""
        self.stats.queries += 1
        if robustness:
            self._robustness = robustness  # §9.1: the querier's QRV
        at = now + self._rng.uniform(0.0, max(0.0, max_response_delay))
        # §6.2 rule 1: a General Query answer due sooner covers this query too
        if self._general_at is not None and self._general_at <= at:
            return
        if group == _UNSPECIFIED:
            self._general_at = at  # rule 2
            return
        state = self._groups.get(group)
        if state is None or state.joins == 0 or not _reported(group):
            self.stats.queries_ignored += 1
            return
        queried = frozenset(bytes(s) for s in sources)
        if state.query_at is None:  # rule 3
            state.query_at = at
            state.query_sources = queried
            return
        if not queried or not state.query_sources:  # rule 4
            state.query_sources = frozenset()
        else:  # rule 5: add the new sources
            state.query_sources |= queried
        state.query_at = min(state.query_at, at)

    # -- queries ------------------------------------------------------------------------------

    def groups(self) -> list[bytes]:
        """Groups currently joined, in the order they were first joined."""
        return [g for g, state in self._groups.items() if state.joins]

    def is_joined(self, group: bytes) -> bool:
        state = self._groups.get(group)
        return state is not None and state.joins > 0

    @property
    def robustness(self) -> int:
        return self._robustness

    def reports_to_send(self) -> list[MldReport]:
        out, self._outbox = self._outbox, []
        return out

    # -- timers -------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        due = min(
            (
                t
                for t in (
                    self._change_at,
                    self._general_at,
                    *(s.query_at for s in self._groups.values()),
                )
                if t is not None
            ),
            default=math.inf,
        )
        return None if due == math.inf else due

    def handle_timer(self, now: float) -> None:
        if self._change_at is not None and self._change_at <= now:
            self._change_at = None
            self._send_changes(now)
        if self._general_at is not None and self._general_at <= now:
            # §6.3: the Interface Timer expired, report every group we listen to
            self._general_at = None
            records = [
                MldRecord(MldRecordType.MODE_IS_EXCLUDE, g)
                for g, s in self._groups.items()
                if s.joins and _reported(g)
            ]
            self._emit(records, state_change=False)
        answers = []
        for group, state in self._groups.items():
            if state.query_at is None or state.query_at > now:
                continue
            state.query_at = None
            if state.query_sources:  # §6.3: EXCLUDE {} asked about sources B → IS_IN (B)
                sources = tuple(sorted(state.query_sources))
                answers.append(MldRecord(MldRecordType.MODE_IS_INCLUDE, group, sources))
            else:
                answers.append(MldRecord(MldRecordType.MODE_IS_EXCLUDE, group))
            state.query_sources = frozenset()
        self._emit(answers, state_change=False)

    # -- internals ----------------------------------------------------------------------------

    def _change(self, group: bytes, state: _Group, record: MldRecordType, now: float) -> None:
        """§6.1: a change of interface state is reported at once and repeated."""
        state.change = record
        state.change_left = self._robustness
        self._send_changes(now)

    def _send_changes(self, now: float) -> None:
        records = []
        for group, state in list(self._groups.items()):
            if state.change is None or state.change_left <= 0:
                continue
            records.append(MldRecord(state.change, group))
            state.change_left -= 1
            if state.change_left == 0:
                state.change = None
                if state.joins == 0:
                    del self._groups[group]  # the leave has been reported enough
        self._emit(records, state_change=True)
        pending = any(s.change is not None for s in self._groups.values())
        if pending:
            interval = self.config.unsolicited_report_interval
            self._change_at = now + self._rng.uniform(0.0, interval)
        else:
            self._change_at = None

    def _emit(self, records: list[MldRecord], *, state_change: bool) -> None:
        """Pack records into reports that fit the MTU."""
        batch: list[MldRecord] = []
        size = _REPORT_OVERHEAD
        for record in records:
            record_size = _RECORD_SIZE + 16 * len(record.sources)
            if batch and size + record_size > self.config.mtu:
                self._report(batch, state_change)
                batch, size = [], _REPORT_OVERHEAD
            batch.append(record)
            size += record_size
        if batch:
            self._report(batch, state_change)

    def _report(self, records: list[MldRecord], state_change: bool) -> None:
        self._outbox.append(MldReport(tuple(records)))
        if state_change:
            self.stats.state_change_reports += 1
        else:
            self.stats.current_state_reports += 1
