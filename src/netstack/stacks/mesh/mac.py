"""The IEEE 802.15.4 MAC of the mesh stack, over any :class:`~netstack.drivers.rfphy.RfPhy`.

:class:`Ieee802154Mac` is the MAC of a nonbeacon-enabled PAN (IEEE 802.15.4-2015; the 2006
edition says the same in §7.5): the MCPS-DATA service (:meth:`Ieee802154Mac.data_request`,
the data indication callback) and the MLME pieces a mesh node needs (scans, polling, the
indirect queue of a coordinator). The radio does one CCA and one transmission per ``tx()``,
the ack handshake and address filtering; the rest is here and in the modules beside it:
its records (:mod:`.mac_api`), the transmit path (:mod:`.mac_tx` over :mod:`.csma`), frame
security (:mod:`.mac_security`), scans (:mod:`.mac_scan`), a polling device's waits
(:mod:`.mac_poll`) and the bounded tables (:mod:`.mac_tables`).

- **Transmission**: one frame in flight at a time, from a FIFO of at most
  ``tx_queue_limit`` waiting frames, each through unslotted CSMA-CA and acknowledged
  retransmission (§6.2.5.1, §6.7.4.3). A frame gets its sequence number (macDSN: random
  start, +1 per new frame) and, if secured, its frame counter when it first goes out;
  retransmissions repeat it octet for octet.
- **Reception** (the radio filters, §6.7.2): parse; secured frames through CCM* with the
  key table and ``min_level``; duplicate detection for acknowledged frames (§6.7.5: same
  DSN and frame counter from the same source within :data:`DUPLICATE_LIFETIME`); replay
  protection per neighbour and key, after the MIC verified; then data to the indication
  callback, commands to the MLME. Whatever is dropped is counted (:meth:`~Ieee802154Mac.stats`).
- **Security** (§9.2): with :class:`MacSecurity`, data frames and commands go out secured
  and only secured frames of at least ``min_level`` are taken — except Beacon Requests and
  beacons, which scanning devices send and read before they have a key (this MAC sends
  them unsecured). The CCM* nonce needs the sender's extended address; a frame from a
  short address is taken only if the neighbour table knows it (:attr:`MacSecurity.neighbours`
  or :meth:`Ieee802154Mac.add_neighbour`, fed by the layer above from MLE or 6LoWPAN-ND:
  no frame carries both addresses, so the MAC cannot learn the pair itself).
- **Indirect transmission** (§6.7.3): frames for sleepy children wait up to
  macTransactionPersistenceTime for the child's Data Request; the answer jumps the transmit
  queue and is sent once (a failed delivery stays queued for the next poll, secured afresh
  then: new DSN, new frame counter). *Limitation*: the radio's Frame Pending bit is one
  flag for every ack it sends (no source address matching), so while anything is queued
  every ack says "pending"; a child that polls with nothing queued for it gets an empty
  data frame, which ends its wait at once.
- **Polling**: :meth:`Ieee802154Mac.poll` sends a Data Request; if its ack says pending,
  the MAC listens up to macMaxFrameTotalWaitTime for the frame. With
  ``MacConfig.rx_on_when_idle`` False the radio sleeps whenever the MAC has nothing to do.
- **Scans** (§6.3.1, §6.3.2): active and energy detection; the transmit queue waits
  meanwhile. A coordinator (``MacConfig.coordinator``) answers Beacon Requests with a
  beacon after CSMA-CA.

Every callback is called from the event loop, never from inside the call that caused it.
"""

from __future__ import annotations

import functools
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable

from netstack.drivers.rfphy.api import MAX_PSDU, RadioState, RfPhy, check_channel
from netstack.runtime.timer import DeadlineTimer
from netstack.runtime.world import World
from netstack.stacks.mesh.csma import CsmaParameters, max_frame_total_wait_time
from netstack.stacks.mesh.mac_api import (
    MAC_STAT_NAMES,
    MAX_BEACON_PAYLOAD,
    Address,
    MacConfig,
    MacDataIndication,
    MacSecurity,
    MacStatus,
    PanDescriptor,
    SuperframeSpec,
)
from netstack.stacks.mesh.mac_poll import PollWaits
from netstack.stacks.mesh.mac_scan import ChannelScan, beacon_payload
from netstack.stacks.mesh.mac_security import MacFrameSecurity
from netstack.stacks.mesh.mac_tables import DuplicateFilter, IndirectQueue, NeighbourAddresses
from netstack.stacks.mesh.mac_tx import JobDone, Transmitter, TxJob, TxKind
from netstack.stacks.mesh.security import FrameCounterExhausted, SecurityError, SecurityFailure
from netstack.wire import Buffer, DecodeError
from netstack.wire.ieee802154 import (
    BROADCAST,
    CommandId,
    FrameType,
    FrameVersion,
    Ieee802154Frame,
    MacCommand,
)

__all__ = [
    "MAC_STAT_NAMES",
    "Address",
    "Ieee802154Mac",
    "MacConfig",
    "MacDataIndication",
    "MacSecurity",
    "MacStatus",
    "PanDescriptor",
    "SuperframeSpec",
]

log = logging.getLogger(__name__)

#: How long a duplicate-table entry vouches for a sequence number: far longer than any
#: retransmission series takes, far shorter than a busy sender needs to wrap its DSN.
DUPLICATE_LIFETIME = 1.0
#: A radio that has nothing to do sleeps this long after the last event, so an ack it
#: owes (aTurnaroundTime + 352 us on the air) goes out first.
SLEEP_GUARD = 1e-3


def _valid_address(addr: object) -> bool:
    if isinstance(addr, bool):
        return False
    if isinstance(addr, int):
        return 0 <= addr <= 0xFFFF
    return isinstance(addr, bytes) and len(addr) == 8


class Ieee802154Mac:
    """The IEEE 802.15.4 MAC over ``phy``; see the module docstring."""

    def __init__(self, phy: RfPhy, world: World, config: MacConfig | None = None) -> None:
        config = config if config is not None else MacConfig()
        self.phy = phy
        self.world = world
        self.config = config
        params = CsmaParameters(
            config.min_be, config.max_be, config.max_csma_backoffs, config.max_frame_retries
        )
        check_channel(config.channel)
        if not 0 <= config.pan_id <= 0xFFFF:
            raise ValueError(f"PAN identifier out of range: {config.pan_id}")
        if config.short_address is not None and not 0 <= config.short_address <= 0xFFFD:
            raise ValueError(f"not a unicast short address: {config.short_address}")
        if config.tx_queue_limit < 1:
            raise ValueError("tx_queue_limit must be at least 1")
        if len(config.beacon_payload) > MAX_BEACON_PAYLOAD:
            raise ValueError(f"a beacon payload has at most {MAX_BEACON_PAYLOAD} octets")
        self._version = FrameVersion(config.frame_version)
        #: beacons and Beacon Requests are 2003/2006 frames (2015 uses version 2 only for
        #: enhanced beacons and their requests)
        self._beacon_version = min(self._version, FrameVersion.V2006)
        self._rng = random.Random(world.rng.getrandbits(64))
        self._dsn = self._rng.randrange(256)
        self._bsn = self._rng.randrange(256)
        self._pan_id = config.pan_id
        self._short = config.short_address
        self._channel = config.channel
        self._total_wait = max_frame_total_wait_time(params) * phy.capabilities.symbol_time
        self._stats: dict[str, int] = dict.fromkeys(MAC_STAT_NAMES, 0)
        self._indication_cb: Callable[[MacDataIndication], None] | None = None
        self._up = False
        # Transmission.
        self._queue: deque[TxJob] = deque()
        self._tx = Transmitter(
            phy, world, params, self._rng, self._stats, build=self._build, finished=self._pump
        )
        self._pump_handle: object | None = None
        self._beacon_queued = False
        # Reception.
        self._dups = DuplicateFilter(config.dup_table_size, DUPLICATE_LIFETIME)
        self._neighbours = NeighbourAddresses()
        # Indirect transmission and polling.
        self._indirect: IndirectQueue[TxJob] = IndirectQueue(
            config.indirect_limit, config.transaction_persistence
        )
        self._expiry_timer = DeadlineTimer(world, self._on_expiry)
        self._pending_flag = False
        self._polls = PollWaits(world, self._total_wait, self._stats, self._update_power)
        self._sleep_timer = DeadlineTimer(world, self._on_sleep_timer)
        self._scan: ChannelScan | None = None
        # Security.
        self._security: MacFrameSecurity | None = None
        if config.security is not None:
            if self._version == FrameVersion.V2003:
                raise ValueError("802.15.4-2003 frames have no auxiliary security header")
            self._security = MacFrameSecurity(config.security, self._neighbours)
        self._overhead: dict[tuple[bool, bool, bool], int] = {}

    # --- properties -------------------------------------------------------------------------

    @property
    def ext_address(self) -> bytes:
        return self.phy.eui64

    @property
    def short_address(self) -> int | None:
        return self._short

    @short_address.setter
    def short_address(self, short: int | None) -> None:
        if short is not None and not 0 <= short <= 0xFFFD:
            raise ValueError(f"not a unicast short address: {short}")
        self._short = short
        self._apply_filter()

    @property
    def pan_id(self) -> int:
        return self._pan_id

    @pan_id.setter
    def pan_id(self, pan_id: int) -> None:
        if not 0 <= pan_id <= 0xFFFF:
            raise ValueError(f"PAN identifier out of range: {pan_id}")
        self._pan_id = pan_id
        self._apply_filter()

    @property
    def channel(self) -> int:
        return self._channel

    @property
    def is_up(self) -> bool:
        return self._up

    @property
    def frame_counter(self) -> int | None:
        """The frame counter the next secured frame gets (None: no security)."""
        return self._security.frame_counter if self._security is not None else None

    @property
    def max_frame_total_wait_time(self) -> float:
        """macMaxFrameTotalWaitTime in seconds."""
        return self._total_wait

    def add_neighbour(self, short: int, extended: bytes) -> None:
        """Tell the MAC a neighbour's extended address: secured frames from ``short`` are
        then accepted (the nonce needs it), and polls match either address."""
        self._neighbours.learn(short, extended)

    def remove_neighbour(self, short: int) -> None:
        extended = self._neighbours.extended(short)
        self._neighbours.forget(short)
        if extended is not None and self._security is not None:
            self._security.forget(extended)

    def stats(self) -> dict[str, int]:
        out = dict(self._stats)
        out["dup_table_evictions"] = self._dups.evictions
        out["replay_table_evictions"] = (
            self._security.replay_evictions if self._security is not None else 0
        )
        out["tx_queue"] = len(self._queue)
        out["indirect_queue"] = len(self._indirect)
        return out

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Listen on the channel (or sleep, for a sleepy device) with the address filter."""
        if self._up:
            return
        self._up = True
        phy = self.phy
        phy.set_receive_cb(self._on_rx)
        phy.set_promiscuous(False)
        self._pending_flag = bool(self._indirect)
        phy.set_frame_pending(self._pending_flag)
        self._apply_filter()
        state = RadioState.RECEIVE if self.config.rx_on_when_idle else RadioState.SLEEP
        phy.set_state(state, self._channel)
        self._schedule_pump()

    def stop(self) -> None:
        """Cancel everything: pending requests complete (from the loop) with ABORTED, a
        scan with what it found so far; the radio goes OFF."""
        if not self._up:
            return
        self._up = False
        self._expiry_timer.cancel()
        self._sleep_timer.cancel()
        scan, self._scan = self._scan, None
        jobs = list(self._queue)
        self._queue.clear()
        current = self._tx.abort()
        if current is not None:
            jobs.insert(0, current)
        jobs += self._indirect.drain()
        self._beacon_queued = False
        call_soon = self.world.call_soon
        for job in jobs:
            if job.done is not None:
                call_soon(functools.partial(job.done, MacStatus.ABORTED, False))
        self._stats["tx_aborted"] += len(jobs)
        for poll_done in self._polls.abort():
            call_soon(functools.partial(poll_done, MacStatus.ABORTED))
        if scan is not None:
            scan.cancel()
            call_soon(scan.report)
        phy = self.phy
        phy.set_receive_cb(None)
        phy.set_frame_pending(False)
        self._pending_flag = False
        phy.set_state(RadioState.OFF, self._channel)

    def set_data_indication_cb(self, cb: Callable[[MacDataIndication], None] | None) -> None:
        self._indication_cb = cb

    # --- MCPS-DATA ----------------------------------------------------------------------------

    def data_request(
        self,
        dst: Address,
        payload: Buffer,
        *,
        ack: bool | None = None,
        secure: bool | None = None,
        indirect: bool = False,
        done: Callable[[MacStatus], None] | None = None,
    ) -> bool:
        """Send ``payload`` to ``dst`` in our PAN (short 0xFFFF: broadcast).

        ``ack`` defaults to True for unicast (broadcasts are never acknowledged); ``secure``
        to whether security is configured; ``indirect`` holds the frame until ``dst`` polls.
        False (``done`` not called) if the transmit queue is full or the MAC is stopped;
        otherwise ``done`` gets the status once, from the loop: SUCCESS, NO_ACK,
        CHANNEL_ACCESS_FAILURE, FRAME_TOO_LONG, INVALID_PARAMETER, UNAVAILABLE_KEY,
        TRANSACTION_OVERFLOW / TRANSACTION_EXPIRED (indirect), COUNTER_ERROR, ABORTED.
        """
        stats = self._stats
        if not self._up:
            stats["tx_not_up"] += 1
            return False
        status = self._check_request(dst, payload, secure, indirect)
        secure = self._security is not None if secure is None else secure
        if status is None and not indirect and len(self._queue) >= self.config.tx_queue_limit:
            stats["tx_queue_full"] += 1
            return False
        stats["tx_requests"] += 1
        if status is not None:
            self._finish_soon(done, status)
            return True
        broadcast = dst == BROADCAST
        ack = (not broadcast) if ack is None else (ack and not broadcast)
        frame = self._frame(FrameType.DATA, dst, bytes(payload), ack=ack)
        job = TxJob(TxKind.DATA, frame, secure, _user_done(done))
        if indirect:
            # 2015 §6.7.4.3: an indirect frame is sent once per Data Request.
            job = TxJob(TxKind.INDIRECT, frame, secure, None, max_retries=0, holder=dst)
            job.done = functools.partial(self._indirect_done, job, done)
            if not self._indirect.add(dst, job, self.world.now()):
                stats["indirect_overflow"] += 1
                self._finish_soon(done, MacStatus.TRANSACTION_OVERFLOW)
                return True
            stats["indirect_queued"] += 1
            self._indirect_changed()
            return True
        self._queue.append(job)
        self._schedule_pump()
        return True

    def _check_request(
        self, dst: object, payload: Buffer, secure: bool | None, indirect: bool
    ) -> MacStatus | None:
        stats = self._stats
        if not _valid_address(dst) or (indirect and dst == BROADCAST):
            stats["tx_invalid_parameter"] += 1
            return MacStatus.INVALID_PARAMETER
        if secure and self._security is None:
            stats["tx_unavailable_key"] += 1
            return MacStatus.UNAVAILABLE_KEY
        assert isinstance(dst, int | bytes)
        if len(payload) > self.max_payload(dst, secure=secure):
            stats["tx_frame_too_long"] += 1
            return MacStatus.FRAME_TOO_LONG
        return None

    def max_payload(self, dst: Address, *, secure: bool | None = None) -> int:
        """Octets of MAC payload a frame to ``dst`` can carry: aMaxPhyPacketSize less the
        MAC header, the auxiliary security header, the MIC and the FCS."""
        if not _valid_address(dst):
            raise ValueError(f"not an 802.15.4 address: {dst!r}")
        secure = self._security is not None if secure is None else secure
        sec = self._security
        if secure and sec is None:
            raise ValueError("no frame security configured")
        key = (isinstance(dst, int), secure, self._short is None)
        overhead = self._overhead.get(key)
        if overhead is None:
            aux = None
            mic = 0
            if secure and sec is not None:
                aux = sec.aux_header(0)
                mic = aux.mic_length
            frame = self._frame(FrameType.DATA, dst, bytes(mic))
            frame.security_enabled = aux is not None
            frame.security = aux
            overhead = self._overhead[key] = len(frame.build())
        return MAX_PSDU - overhead

    # --- MLME: poll, scans ------------------------------------------------------------------

    def poll(self, coordinator: Address, done: Callable[[MacStatus], None] | None = None) -> None:
        """Ask ``coordinator`` for a frame held for us (a Data Request command, 2015
        §6.7.3.3). ``done``: SUCCESS once a frame came (it is indicated as usual), NO_DATA
        if there was none, NO_ACK / CHANNEL_ACCESS_FAILURE if the request was not
        delivered, TRANSACTION_OVERFLOW if the transmit queue is full."""
        stats = self._stats
        if not self._up:
            self._finish_soon(done, MacStatus.ABORTED)
            return
        if not _valid_address(coordinator) or coordinator == BROADCAST:
            stats["tx_invalid_parameter"] += 1
            self._finish_soon(done, MacStatus.INVALID_PARAMETER)
            return
        if len(self._queue) >= self.config.tx_queue_limit:
            stats["tx_queue_full"] += 1
            self._finish_soon(done, MacStatus.TRANSACTION_OVERFLOW)
            return
        stats["polls"] += 1
        command = MacCommand(CommandId.DATA_REQUEST).build()
        frame = self._frame(FrameType.MAC_COMMAND, coordinator, command, ack=True)
        aliases = self._aliases(coordinator)

        def sent(status: MacStatus, pending: bool) -> None:
            self._polls.sent(aliases, done, status, pending)

        self._queue.append(TxJob(TxKind.DATA_REQUEST, frame, self._security is not None, sent))
        self._schedule_pump()

    def active_scan(
        self, channels: Iterable[int], duration: int, done: Callable[[list[PanDescriptor]], None]
    ) -> None:
        """Send a Beacon Request on each of ``channels`` and listen
        aBaseSuperframeDuration x (2^duration + 1) symbols for beacons (2015 §6.3.1.2);
        ``done`` gets a PAN descriptor per (channel, PAN, coordinator) heard. The MAC's own
        channel and PAN come back afterwards. ValueError for a bad channel or duration, or
        if a scan is already running."""
        if not 0 <= duration <= 14:
            raise ValueError(f"scan duration exponent must be 0..14, not {duration}")
        self._add_scan(True, channels, duration).done_active = done

    def ed_scan(
        self, channels: Iterable[int], duration: float, done: Callable[[dict[int, int]], None]
    ) -> None:
        """Measure the peak energy (dBm) on each of ``channels`` for ``duration`` seconds
        (2015 §6.3.2); ``done`` gets channel -> dBm."""
        if not duration >= 0:
            raise ValueError(f"scan duration must be >= 0 s, not {duration}")
        self._add_scan(False, channels, duration).done_ed = done

    def _add_scan(self, active: bool, channels: Iterable[int], duration: float) -> ChannelScan:
        if self._scan is not None:
            raise RuntimeError("a scan is already running")
        if not self._up:
            raise RuntimeError("the MAC is stopped")
        scan = ChannelScan(
            self.phy,
            self.world,
            active=active,
            channels=[check_channel(channel) for channel in channels],
            duration=duration,
            send_request=self._send_beacon_request,
            finished=self._scan_finished,
            stats=self._stats,
        )
        self._stats["active_scans" if active else "ed_scans"] += 1
        self._scan = scan
        self._schedule_pump()
        return scan

    # --- transmission -----------------------------------------------------------------------

    def _source_address(self) -> Address:
        return self._short if self._short is not None else self.ext_address

    def _frame(
        self, frame_type: FrameType, dst: Address, payload: bytes = b"", *, ack: bool = False
    ) -> Ieee802154Frame:
        """A data or command frame to ``dst`` in our PAN (PAN ID compressed)."""
        return Ieee802154Frame(
            frame_type,
            self._version,
            0,
            dst_pan=self._pan_id,
            dst_addr=dst,
            src_addr=self._source_address(),
            ack_request=ack,
            payload=payload,
        )

    def _apply_filter(self) -> None:
        if self._up and self._scan is None:
            self.phy.set_address_filter(
                self._pan_id, self._short, None, pan_coordinator=self.config.coordinator
            )

    def _finish_soon(self, done: Callable[[MacStatus], None] | None, status: MacStatus) -> None:
        if done is not None:
            self.world.call_soon(functools.partial(done, status))

    def _schedule_pump(self) -> None:
        if self._pump_handle is None:
            self._pump_handle = self.world.call_soon(self._pump)

    def _pump(self) -> None:
        """Start the next thing the radio should do, if it is free."""
        self._pump_handle = None
        tx = self._tx
        while self._up and tx.current is None:
            scan = self._scan
            if scan is not None:
                if not scan.running:
                    self._wake()
                    scan.begin()
                return
            if not self._queue:
                self._update_power()
                return
            self._wake()
            tx.send(self._queue.popleft())

    def _build(self, job: TxJob) -> MacStatus | None:
        """Give ``job`` its PSDU: sequence number, beacon contents, security."""
        frame = job.frame
        if job.kind is TxKind.BEACON:
            frame.seq = self._bsn
            self._bsn = (self._bsn + 1) & 0xFF
            frame.payload = beacon_payload(self.config, self._indirect.destinations())
            self._beacon_queued = False
        else:
            frame.seq = self._dsn
            self._dsn = (self._dsn + 1) & 0xFF
        sec = self._security
        if not job.secure:
            psdu = frame.build()
        elif sec is None or sec.tx_key is None:
            self._stats["tx_unavailable_key"] += 1
            return MacStatus.UNAVAILABLE_KEY
        else:
            try:
                psdu = sec.secure(frame, self.ext_address)
            except FrameCounterExhausted:
                self._stats["tx_counter_error"] += 1
                return MacStatus.COUNTER_ERROR
        if len(psdu) > MAX_PSDU:  # max_payload() was checked; a safety net
            self._stats["tx_frame_too_long"] += 1
            return MacStatus.FRAME_TOO_LONG
        job.psdu = psdu
        return None

    def _indirect_done(
        self, job: TxJob, done: Callable[[MacStatus], None] | None, status: MacStatus, _: bool
    ) -> None:
        """An indirect frame went to its child, or not."""
        stats = self._stats
        if status is MacStatus.SUCCESS:
            stats["indirect_sent"] += 1
        elif status in (MacStatus.NO_ACK, MacStatus.CHANNEL_ACCESS_FAILURE):
            if job.expires > self.world.now():
                # §6.7.4.3: it stays queued for the next Data Request (secured afresh then).
                stats["indirect_retained"] += 1
                job.psdu = None
                job.frame.security = None
                job.frame.security_enabled = False
                self._indirect.restore(job.holder, job, job.expires)
                self._indirect_changed()
                return
            stats["indirect_expired"] += 1
            status = MacStatus.TRANSACTION_EXPIRED
        if done is not None:
            done(status)

    # --- the radio's power (sleepy devices) ---------------------------------------------------

    def _wake(self) -> None:
        self._sleep_timer.cancel()
        if self.phy.state is not RadioState.RECEIVE:
            self.phy.set_state(RadioState.RECEIVE, self._channel)

    def _busy(self) -> bool:
        return bool(
            self._tx.current is not None or self._queue or self._scan is not None or self._polls
        )

    def _update_power(self) -> None:
        """A sleepy device's radio sleeps once the MAC has nothing to do."""
        if not self._up or self.config.rx_on_when_idle:
            return
        if self._busy():
            self._sleep_timer.cancel()
        elif self.phy.state is not RadioState.SLEEP and self._sleep_timer.when is None:
            self._sleep_timer.arm(self.world.now() + SLEEP_GUARD)

    def _on_sleep_timer(self) -> None:
        if self._up and not self._busy():
            self.phy.set_state(RadioState.SLEEP)

    # --- indirect transmission ----------------------------------------------------------------

    def _indirect_changed(self) -> None:
        """Keep the radio's Frame Pending bit and the expiry timer in step with the queue."""
        pending = bool(self._indirect)
        if pending != self._pending_flag and self._up:
            self._pending_flag = pending
            self.phy.set_frame_pending(pending)
        self._expiry_timer.arm(self._indirect.next_expiry())

    def _on_expiry(self) -> None:
        for job in self._indirect.expire(self.world.now()):
            self._stats["indirect_expired"] += 1
            if job.done is not None:
                job.done(MacStatus.TRANSACTION_EXPIRED, False)
        self._indirect_changed()

    def _aliases(self, addr: Address) -> tuple[Address, ...]:
        """``addr`` and the other address of the same neighbour, if known."""
        neighbours = self._neighbours
        other: Address | None = (
            neighbours.extended(addr) if isinstance(addr, int) else neighbours.short(addr)
        )
        return (addr,) if other is None else (addr, other)

    def _serve_data_request(self, child: Address) -> None:
        """A Data Request from ``child`` (2015 §6.7.3.3): send its oldest held frame."""
        aliases = self._aliases(child)
        had_pending = bool(self._indirect)  # what the radio's ack just told the child
        taken = self._indirect.pop(*aliases)
        if taken is None:
            if had_pending and len(self._queue) < self.config.tx_queue_limit:
                # The ack said "pending" (the bit is global): an empty frame ends its wait.
                self._stats["indirect_empty_replies"] += 1
                frame = self._frame(FrameType.DATA, child)
                job = TxJob(TxKind.DATA, frame, self._security is not None, None, max_retries=0)
                self._queue.appendleft(job)
                self._schedule_pump()
            return
        job, expires = taken
        job.expires = expires
        job.frame.frame_pending = self._indirect.count(*aliases) > 0
        self._queue.appendleft(job)  # the child listens only macMaxFrameTotalWaitTime
        self._indirect_changed()
        self._schedule_pump()

    # --- beacons and scans ------------------------------------------------------------------

    def _queue_beacon(self) -> None:
        if self._beacon_queued:
            return
        if len(self._queue) >= self.config.tx_queue_limit:
            self._stats["tx_queue_full"] += 1
            return
        frame = Ieee802154Frame(
            FrameType.BEACON,
            self._beacon_version,
            0,
            src_pan=self._pan_id,
            src_addr=self._source_address(),
        )
        self._beacon_queued = True
        self._queue.append(TxJob(TxKind.BEACON, frame, False, None))
        self._schedule_pump()

    def _send_beacon_request(self, sent: Callable[[bool], None]) -> None:
        frame = Ieee802154Frame(
            FrameType.MAC_COMMAND,
            self._beacon_version,
            0,
            dst_pan=BROADCAST,
            dst_addr=BROADCAST,
            payload=MacCommand(CommandId.BEACON_REQUEST).build(),
        )

        def job_done(status: MacStatus, pending: bool) -> None:
            sent(status is MacStatus.SUCCESS)

        self._tx.send(TxJob(TxKind.BEACON_REQUEST, frame, False, job_done))

    def _scan_finished(self, scan: ChannelScan) -> None:
        if self._scan is not scan:
            return
        self._scan = None
        self.phy.set_channel(self._channel)
        self._apply_filter()
        scan.report()
        self._pump()

    # --- reception ----------------------------------------------------------------------------

    def _on_rx(self, psdu: bytes, lqi: int, rssi: int) -> None:
        stats = self._stats
        stats["rx_frames"] += 1
        stats["rx_bytes"] += len(psdu)
        if not self._up:
            return
        try:
            frame = Ieee802154Frame.parse(psdu)
        except DecodeError as exc:
            stats["rx_malformed"] += 1
            log.debug("undecodable frame: %s", exc)
            return
        frame_type = frame.frame_type
        scan = self._scan
        if scan is not None and scan.running:
            # 2015 §6.3.1.2: during an active scan only beacons are processed.
            if frame_type == FrameType.BEACON:
                scan.beacon(frame, lqi, rssi)
            else:
                stats["rx_scan_dropped"] += 1
            return
        if frame_type != FrameType.DATA and frame_type != FrameType.MAC_COMMAND:
            stats["rx_ignored"] += 1
            return
        sender: bytes | None = None
        counter: int | None = None
        level = 0
        if frame.security_enabled:
            clear = self._unsecure(psdu)
            if clear is None:
                return
            frame, sender = clear
            assert frame.security is not None
            counter = frame.security.frame_counter
            level = frame.security.level
        elif self._security is not None and not _exempt(frame):
            stats["rx_unsecured_dropped"] += 1
            return
        src = frame.src_addr
        if src is None and frame_type == FrameType.DATA:
            stats["rx_no_source"] += 1
            return
        seq = frame.seq
        if not frame.ack_request or frame.dst_addr == BROADCAST or src is None:
            seq = None  # duplicate detection is for acknowledged frames
        source_key = (frame.source_pan, src)
        now = self.world.now()
        if seq is not None and self._dups.is_duplicate(source_key, seq, counter, now):
            # §6.7.5: a retransmission whose ack was lost; the radio acked it again.
            stats["rx_duplicates"] += 1
            return
        sec = self._security
        if sender is not None and sec is not None and not sec.fresh(sender, frame):
            stats["rx_replays"] += 1
            log.debug("replayed frame counter %s from %s", counter, sender)
            return
        if seq is not None:
            self._dups.record(source_key, seq, counter, now)
        if src is not None and frame_type == FrameType.DATA:
            self._receive_data(frame, src, lqi, rssi, level)
        else:
            self._receive_command(frame, src)

    def _unsecure(self, psdu: bytes) -> tuple[Ieee802154Frame, bytes] | None:
        """The frame with its payload in the clear, and the sender's extended address."""
        stats = self._stats
        sec = self._security
        try:
            if sec is None:
                raise SecurityError(SecurityFailure.UNSUPPORTED_SECURITY, "security is off")
            return sec.unsecure(psdu)
        except SecurityError as exc:
            stats["rx_security_failures"] += 1
            stats[f"rx_security_{exc.reason.name.lower()}"] += 1
            log.debug("secured frame dropped: %s", exc)
        except DecodeError as exc:
            stats["rx_malformed"] += 1
            log.debug("undecodable secured frame: %s", exc)
        return None

    def _receive_data(
        self, frame: Ieee802154Frame, src: Address, lqi: int, rssi: int, level: int
    ) -> None:
        stats = self._stats
        payload = frame.payload
        if not payload:
            stats["rx_empty"] += 1
        else:
            src_pan = frame.source_pan
            if src_pan is None:
                src_pan = self._pan_id
            dst = frame.dst_addr
            if dst is None:
                dst = self._source_address()
            dst_pan = frame.dst_pan if frame.dst_pan is not None else src_pan
            stats["rx_data"] += 1
            cb = self._indication_cb
            if cb is not None:
                cb(
                    MacDataIndication(
                        src,
                        dst,
                        src_pan,
                        dst_pan,
                        payload,
                        lqi,
                        rssi,
                        frame.seq,
                        level,
                        frame.frame_pending,
                    )
                )
        if self._polls and frame.dst_addr != BROADCAST:
            self._polls.answered(src, bool(payload))

    def _receive_command(self, frame: Ieee802154Frame, src: Address | None) -> None:
        stats = self._stats
        try:
            command = MacCommand.parse(frame.payload)
        except DecodeError:
            stats["rx_malformed"] += 1
            return
        if command.command_id == CommandId.DATA_REQUEST and src is not None:
            stats["rx_data_requests"] += 1
            self._serve_data_request(src)
        elif command.command_id == CommandId.BEACON_REQUEST:
            stats["rx_beacon_requests"] += 1
            if self.config.coordinator:
                self._queue_beacon()
        else:
            stats["rx_commands_ignored"] += 1


def _exempt(frame: Ieee802154Frame) -> bool:
    """Unsecured frames a secured MAC still takes: Beacon Requests (beacons are handled
    by scans alone). 2015 §9.2.4 leaves this policy to the security level table."""
    if frame.frame_type != FrameType.MAC_COMMAND:
        return False
    try:
        return MacCommand.parse(frame.payload).command_id == CommandId.BEACON_REQUEST
    except DecodeError:
        return False


def _user_done(done: Callable[[MacStatus], None] | None) -> JobDone | None:
    if done is None:
        return None

    def job_done(status: MacStatus, pending: bool) -> None:
        done(status)

    return job_done
