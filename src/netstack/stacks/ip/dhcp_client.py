"""The DHCPv4 client (RFC 2131 §3, §4.4) as a sans-I/O machine.

:class:`DhcpClient` owns the client state machine of RFC 2131 figure 5 and nothing else: it
takes parsed :class:`~netstack.wire.dhcpv4.DhcpMessage` records and the time, and produces
messages to send (:class:`DhcpTransmit`), one timer deadline and events. It never reads a
clock, never does I/O and draws randomness (transaction ids, backoff jitter, the start-up
delay) only from the ``random.Random`` it is given.

The glue's duties, in the stack's usual idiom:

- hand every DHCP message received on UDP port 68 to :meth:`DhcpClient.receive` (the machine
  filters op, xid and chaddr itself);
- send each :class:`DhcpTransmit` from :meth:`DhcpClient.packets_to_send` as UDP 68 → 67
  from ``src`` to ``dst`` (255.255.255.255 means the link broadcast);
- on :class:`AddressCheckRequested`, probe ``lease.address`` (RFC 5227) and report with
  :meth:`DhcpClient.address_checked`; when a later conflict cannot be defended, call
  :meth:`DhcpClient.address_lost`;
- configure the interface on :class:`LeaseAcquired` / :class:`LeaseRenewed` and remove the
  configuration on :class:`LeaseLost` / :class:`LeaseReleased`.

Transitions live in one table, :data:`TRANSITIONS`, keyed by (state, input). A received
message whose (state, input) is not in the table is dropped and counted in
``stats.ignored``; so is a malformed or unacceptable one. Verbs outside the table are
no-ops, except :meth:`DhcpClient.start` on a running client, which is a programming error.

Choices the RFC leaves open, and what this machine does:

- The first DISCOVER goes out at once unless ``initial_delay_max`` asks for RFC 2131
  §4.4.1's random start-up delay (uniform in [0, initial_delay_max]).
- Without a subnet mask option the prefix is ``default_prefix_len`` (/24).
- A lease shorter than ``min_lease`` is treated as ``min_lease`` long; 0xFFFFFFFF is an
  infinite lease with no renewal timers (RFC 2132 §9.2).
- T1 and T2 come from options 58 and 59 when 0 < T1 < T2 < lease, else the defaults 0.5 and
  0.875 x lease (RFC 2131 §4.4.5).
- Each exchange (discovery, reboot, renewal, rebinding) gets a fresh random xid;
  retransmissions within it keep it.
- The lease runs from the first REQUEST of the exchange that got the ACK: the earliest
  possible start, so the client never outlives the server's view of the lease.
- A NAK restarts discovery at once; consecutive NAKs without an intervening BOUND back off
  like retransmissions, so a confused server cannot drive a broadcast storm.
- A conflict found after BOUND (:meth:`DhcpClient.address_lost`) DECLINEs the address too,
  so the server stops handing it out, then waits ``decline_wait`` like a failed check.
"""

from __future__ import annotations

import enum
import logging
import math
import random
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from netstack.stacks.ip.dhcp_lease import (
    AddressCheckRequested,
    DhcpConfig,
    DhcpStats,
    DhcpTransmit,
    DiscoveryFailed,
    Lease,
    LeaseAcquired,
    LeaseDeclined,
    LeaseLost,
    LeaseReleased,
    LeaseRenewed,
    NakReceived,
)
from netstack.wire import DecodeError
from netstack.wire.dhcpv4 import (
    BROADCAST_FLAG,
    DhcpMessage,
    DhcpMessageType,
    DhcpOp,
    DhcpOption,
)

__all__ = [
    "TRANSITIONS",
    "AddressCheckRequested",
    "DhcpClient",
    "DhcpConfig",
    "DhcpInput",
    "DhcpState",
    "DhcpStateError",
    "DhcpStats",
    "DhcpTransmit",
    "DiscoveryFailed",
    "Lease",
    "LeaseAcquired",
    "LeaseDeclined",
    "LeaseLost",
    "LeaseReleased",
    "LeaseRenewed",
    "NakReceived",
]

log = logging.getLogger(__name__)

_ZERO = b"\0\0\0\0"
_BROADCAST = b"\xff\xff\xff\xff"
_INFINITE = 0xFFFFFFFF  # RFC 2132 §9.2: "infinity" lease time
_T = TypeVar("_T")


class DhcpState(enum.Enum):
    """RFC 2131 figure 5, plus CHECKING (the address check of §4.4.1 between the ACK and
    BOUND) and STOPPED (not running)."""

    INIT = "init"
    SELECTING = "selecting"
    REQUESTING = "requesting"
    CHECKING = "checking"
    BOUND = "bound"
    RENEWING = "renewing"
    REBINDING = "rebinding"
    INIT_REBOOT = "init-reboot"
    REBOOTING = "rebooting"
    STOPPED = "stopped"


class DhcpInput(enum.Enum):
    """What drives the machine: verbs, received messages and the timer."""

    START = "start"
    REBOOT = "start with a remembered lease"
    OFFER = "DHCPOFFER"
    ACK = "DHCPACK"
    NAK = "DHCPNAK"
    TIMER = "timer"
    CHECK_OK = "address check ok"
    CHECK_FAILED = "address check failed"
    ADDRESS_LOST = "address lost"
    RELEASE = "release"
    STOP = "stop"


class DhcpStateError(RuntimeError):
    """A verb the machine cannot take in its current state (a bug in the caller)."""


def _usable_unicast(address: bytes) -> bool:
    """A plausible host address for us: not 0/8, loopback, multicast/reserved or broadcast."""
    return len(address) == 4 and address[0] not in (0, 127) and address[0] < 224


def _prefix_from_mask(mask: bytes | None) -> int | None:
    if mask is None:
        return None
    host = ~int.from_bytes(mask) & 0xFFFFFFFF
    if host & (host + 1):  # not of the form 0…01…1: a non-contiguous mask
        return None
    return 32 - host.bit_length()


def _optional(getter: Callable[[], _T], default: _T) -> _T:
    """A parameter option that is malformed is dropped alone, not with the whole message."""
    try:
        return getter()
    except DecodeError:
        return default


# -- the machine ----------------------------------------------------------------------------

_Handler = Callable[["DhcpClient", float, DhcpMessage | None], None]


class DhcpClient:
    """A DHCPv4 client for one interface with hardware address ``chaddr``."""

    def __init__(self, chaddr: bytes, rng: random.Random, config: DhcpConfig | None = None) -> None:
        if not 0 < len(chaddr) <= 16:
            raise ValueError("chaddr must be 1 to 16 bytes")
        self.config = config or DhcpConfig()
        self.stats = DhcpStats()
        self._chaddr = bytes(chaddr)
        self._rng = rng
        client_id = self.config.client_id
        self._client_id = b"\x01" + self._chaddr if client_id is None else client_id
        self._state = DhcpState.STOPPED
        self._lease: Lease | None = None
        self._pending: Lease | None = None  # ACKed, being checked
        self._deadline: float | None = None
        self._xid = 0
        self._exchange_start = 0.0  # for 'secs'
        self._discover_secs = 0  # REQUESTING repeats the DISCOVER's 'secs' (§4.4.1)
        self._attempts = 0  # transmissions in the current exchange
        self._request_sent_at = 0.0  # first REQUEST of the exchange: the lease's start
        self._offer_server = _ZERO
        self._offer_address = _ZERO
        self._reboot_address = _ZERO
        self._hint: bytes | None = None  # requested-IP hint for DISCOVER
        self._nak_streak = 0
        self._outbox: list[DhcpTransmit] = []
        self._events: deque[object] = deque()

    # -- read-only state ---------------------------------------------------------------------

    @property
    def state(self) -> DhcpState:
        return self._state

    @property
    def lease(self) -> Lease | None:
        """The lease in use (BOUND, RENEWING, REBINDING), else None."""
        return self._lease

    @property
    def chaddr(self) -> bytes:
        return self._chaddr

    @property
    def xid(self) -> int:
        """The current exchange's transaction id."""
        return self._xid

    # -- verbs -------------------------------------------------------------------------------

    def start(self, now: float, remembered: Lease | None = None) -> None:
        """Start acquiring an address: DISCOVER (INIT), or with ``remembered`` a REQUEST for
        its address (INIT-REBOOT, RFC 2131 §3.2). Only the remembered address is used, so a
        lease saved under another clock is fine."""
        if remembered is None:
            self._dispatch(DhcpInput.START, now, None)
        else:
            self._reboot_address = remembered.address
            self._dispatch(DhcpInput.REBOOT, now, None)

    def receive(self, message: DhcpMessage, now: float) -> None:
        """A DHCP message from UDP port 67; anything not for this client is ignored."""
        if (
            message.op != DhcpOp.BOOTREPLY
            or message.xid != self._xid
            or message.chaddr != self._chaddr
        ):
            self._ignore("not ours")
            return
        try:
            kind = message.message_type
        except DecodeError:
            kind = None
        event = _REPLIES.get(kind) if kind is not None else None
        if event is None:
            self._ignore("not an OFFER, ACK or NAK")
            return
        self._dispatch(event, now, message)

    def address_checked(self, ok: bool, now: float) -> None:
        """The result of the check asked for by :class:`AddressCheckRequested`."""
        self._dispatch(DhcpInput.CHECK_OK if ok else DhcpInput.CHECK_FAILED, now, None)

    def address_lost(self, now: float) -> None:
        """Another host took the leased address and it could not be defended (RFC 5227
        §2.4): DECLINE it, report LeaseLost and start over after ``decline_wait``."""
        self._dispatch(DhcpInput.ADDRESS_LOST, now, None)

    def release(self, now: float) -> None:
        """Give the lease back (RFC 2131 §4.4.6) and stop; without a lease, just stop."""
        self._dispatch(DhcpInput.RELEASE, now, None)

    def stop(self) -> None:
        """Stop at once, without telling the server; messages not yet sent are dropped.
        Save ``lease`` first to restart later with INIT-REBOOT."""
        self._dispatch(DhcpInput.STOP, 0.0, None)

    # -- outputs -----------------------------------------------------------------------------

    def packets_to_send(self, now: float) -> list[DhcpTransmit]:
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        """The one deadline: retransmission, start-up delay, decline wait, T1, T2 or expiry."""
        return self._deadline

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        self._dispatch(DhcpInput.TIMER, now, None)

    def next_event(self) -> object | None:
        return self._events.popleft() if self._events else None

    # -- dispatch ----------------------------------------------------------------------------

    def _dispatch(self, event: DhcpInput, now: float, message: DhcpMessage | None) -> None:
        entry = _TABLE.get((self._state, event))
        if entry is None:
            if message is not None:
                self._ignore(f"{event.value} in {self._state.value}")
            elif event in (DhcpInput.START, DhcpInput.REBOOT):
                raise DhcpStateError(f"DHCP client already running ({self._state.value})")
            else:
                log.debug("DHCP %s in %s: nothing to do", event.value, self._state.value)
            return
        handler, targets = entry
        before = self._state
        handler(self, now, message)
        if self._state not in targets and self._state is not before:
            raise AssertionError(
                f"DHCP {before.value} --{event.value}--> {self._state.value} not in the table"
            )

    def _ignore(self, reason: str) -> None:
        self.stats.ignored += 1
        log.debug("DHCP reply ignored: %s", reason)

    # -- handlers: getting an address ----------------------------------------------------------

    def _on_start(self, now: float, _msg: DhcpMessage | None) -> None:
        self._nak_streak = 0
        self._hint = None
        delay = self._startup_delay()
        if delay > 0:
            self._state = DhcpState.INIT
            self._deadline = now + delay
        else:
            self._begin_discovery(now)

    def _on_reboot(self, now: float, _msg: DhcpMessage | None) -> None:
        self._nak_streak = 0
        self._hint = self._reboot_address
        delay = self._startup_delay()
        if delay > 0:
            self._state = DhcpState.INIT_REBOOT
            self._deadline = now + delay
        else:
            self._begin_reboot(now)

    def _on_selecting_timer(self, now: float, _msg: DhcpMessage | None) -> None:
        limit = self.config.max_discover_attempts
        if limit is not None and self._attempts >= limit:
            self._state = DhcpState.STOPPED
            self._events.append(DiscoveryFailed(self._attempts))
            return
        self._send_discover(now)

    def _on_offer(self, now: float, msg: DhcpMessage | None) -> None:
        assert msg is not None
        try:
            server = msg.ip_option(DhcpOption.SERVER_ID)
        except DecodeError:
            server = None
        # RFC 2131 §4.3.1: an OFFER MUST carry the server identifier; without it we could
        # not name the server we select.
        if server is None or not _usable_unicast(msg.yiaddr):
            self._ignore("OFFER without server identifier or usable address")
            return
        self.stats.offers += 1
        # The first acceptable OFFER wins (RFC 2131 §4.4.1 lets the client choose).
        self._offer_server = server
        self._offer_address = msg.yiaddr
        self._state = DhcpState.REQUESTING
        self._attempts = 0
        self._request_sent_at = now
        self._send_selecting_request(now)

    def _on_requesting_timer(self, now: float, _msg: DhcpMessage | None) -> None:
        if self._attempts >= self.config.max_request_attempts:
            # RFC 2131 §3.1 step 5: no ACK or NAK after retransmitting: back to INIT.
            log.debug("DHCP REQUEST unanswered; restarting discovery")
            self._begin_discovery(now)
            return
        self._send_selecting_request(now)

    def _on_rebooting_timer(self, now: float, _msg: DhcpMessage | None) -> None:
        if self._attempts >= self.config.max_reboot_attempts:
            # RFC 2131 §3.2 step 3: no answer to INIT-REBOOT: discover (hinting the address).
            self._begin_discovery(now)
            return
        self._send_reboot_request(now)

    def _on_new_ack(self, now: float, msg: DhcpMessage | None) -> None:
        """ACK in REQUESTING or REBOOTING: check the address before using it (§4.4.1)."""
        assert msg is not None
        selected = self._offer_server if self._state is DhcpState.REQUESTING else None
        lease = self._lease_from_ack(msg, selected, selected)
        if lease is None:
            return
        self.stats.acks += 1
        self._begin_check(lease)

    def _on_check_ok(self, now: float, _msg: DhcpMessage | None) -> None:
        lease = self._pending
        assert lease is not None
        self._pending = None
        self._lease = lease
        self._nak_streak = 0
        self._state = DhcpState.BOUND
        self._arm_bound(lease)
        self._events.append(LeaseAcquired(lease))

    def _on_check_failed(self, now: float, _msg: DhcpMessage | None) -> None:
        lease = self._pending
        assert lease is not None
        self._pending = None
        self._decline(now, lease)
        self._events.append(LeaseDeclined(lease.address))

    # -- handlers: keeping it ------------------------------------------------------------------

    def _on_lease_timer(self, now: float, _msg: DhcpMessage | None) -> None:
        """T1, T2, expiry and the RENEWING/REBINDING retransmissions (RFC 2131 §4.4.5)."""
        lease = self._lease
        assert lease is not None
        if now >= lease.expires_at:
            self._lease = None
            self._events.append(LeaseLost("lease expired", lease))
            # §4.4.5: back to INIT at once; ask for the same address again (§4.4.1 "MAY").
            self._hint = lease.address
            self._begin_discovery(now)
            return
        min_gap = self.config.min_renew_interval
        if now >= lease.rebind_at:
            if self._state is not DhcpState.REBINDING:
                self._state = DhcpState.REBINDING
                self._new_exchange(now)
            self._send_extend_request(now, lease, broadcast=True)
            # §4.4.5: half the remaining lease time, at least 60 s, never past expiry.
            retry = now + max(min_gap, (lease.expires_at - now) / 2)
            self._deadline = min(retry, lease.expires_at)
            return
        if self._state is DhcpState.BOUND:
            self._state = DhcpState.RENEWING
            self._new_exchange(now)
        self._send_extend_request(now, lease, broadcast=False)
        # §4.4.5: half the remaining time until T2, at least 60 s, never past T2.
        retry = now + max(min_gap, (lease.rebind_at - now) / 2)
        self._deadline = min(retry, lease.rebind_at)

    def _on_extend_ack(self, now: float, msg: DhcpMessage | None) -> None:
        """ACK in RENEWING or REBINDING: the lease is extended from the REQUEST's time."""
        assert msg is not None
        old = self._lease
        assert old is not None
        renewing = self._state is DhcpState.RENEWING
        lease = self._lease_from_ack(msg, old.server_id, old.server_id if renewing else None)
        if lease is None:
            return
        self.stats.acks += 1
        if lease.address != old.address:
            # The server moved us: stop using the old address, check the new one.
            self._lease = None
            self._events.append(LeaseLost("server assigned another address", old))
            self._begin_check(lease)
            return
        self._lease = lease
        self._state = DhcpState.BOUND
        self._arm_bound(lease)
        self._events.append(LeaseRenewed(lease))

    def _on_nak(self, now: float, msg: DhcpMessage | None) -> None:
        """RFC 2131 §3.1 step 5, §3.2 step 4, §4.4.5: a NAK sends the client back to INIT."""
        assert msg is not None
        self.stats.naks += 1
        server = _optional(lambda: msg.ip_option(DhcpOption.SERVER_ID), None)
        text = msg.text_option(DhcpOption.MESSAGE)
        self._events.append(NakReceived(server, text))
        if self._lease is not None:
            lost, self._lease = self._lease, None
            self._events.append(LeaseLost("NAK", lost))
        self._hint = None
        self._nak_streak += 1
        if self._nak_streak == 1:
            self._begin_discovery(now)
        else:
            self._state = DhcpState.INIT
            self._deadline = now + self._backoff(self._nak_streak - 1)

    def _on_address_lost(self, now: float, _msg: DhcpMessage | None) -> None:
        lease = self._lease
        assert lease is not None
        self._lease = None
        self._decline(now, lease)
        self._events.append(LeaseLost("address conflict", lease))

    def _on_release(self, now: float, _msg: DhcpMessage | None) -> None:
        lease = self._lease or self._pending
        assert lease is not None
        # RFC 2131 §4.4.6 and table 5: unicast to the server, ciaddr set, server id, a new xid.
        self._xid = self._rng.getrandbits(32)
        message = self._message(
            DhcpMessageType.RELEASE, secs=0, ciaddr=lease.address, server=lease.server_id
        )
        self._outbox.append(DhcpTransmit(message, lease.address, lease.server_id))
        self.stats.releases += 1
        self._reset()
        self._events.append(LeaseReleased(lease))

    def _on_stop(self, now: float, _msg: DhcpMessage | None) -> None:
        self._outbox.clear()
        self._reset()

    # -- exchanges -----------------------------------------------------------------------------

    def _new_exchange(self, now: float) -> None:
        self._xid = self._rng.getrandbits(32)
        self._exchange_start = now
        self._request_sent_at = now
        self._attempts = 0

    def _begin_discovery(self, now: float, _msg: DhcpMessage | None = None) -> None:
        self._state = DhcpState.SELECTING
        self._new_exchange(now)
        self._send_discover(now)

    def _begin_reboot(self, now: float, _msg: DhcpMessage | None = None) -> None:
        self._state = DhcpState.REBOOTING
        self._new_exchange(now)
        self._send_reboot_request(now)

    def _begin_check(self, lease: Lease) -> None:
        self._pending = lease
        self._state = DhcpState.CHECKING
        self._deadline = None  # the glue's check answers; nothing to time here
        self._events.append(AddressCheckRequested(lease))

    def _arm_bound(self, lease: Lease) -> None:
        self._deadline = lease.renew_at if math.isfinite(lease.renew_at) else None

    def _reset(self) -> None:
        self._state = DhcpState.STOPPED
        self._lease = None
        self._pending = None
        self._deadline = None

    # -- transmissions ---------------------------------------------------------------------------

    def _secs(self, now: float) -> int:
        """RFC 2131 §2 'secs': seconds since the exchange began."""
        return min(0xFFFF, max(0, int(now - self._exchange_start)))

    def _send_unbound(
        self,
        now: float,
        kind: DhcpMessageType,
        secs: int,
        requested: bytes | None,
        server: bytes | None = None,
    ) -> None:
        """DISCOVER and the REQUESTs of SELECTING and INIT-REBOOT (RFC 2131 §4.3.2, table 5):
        from 0.0.0.0 to broadcast with the BROADCAST flag, ciaddr 0, and retransmitted with
        backoff (§4.1)."""
        self._attempts += 1
        if self._attempts > 1:
            self.stats.retransmissions += 1
        if kind == DhcpMessageType.DISCOVER:
            self.stats.discovers += 1
        else:
            self.stats.requests += 1
        message = self._message(
            kind, secs=secs, requested=requested, server=server, broadcast=True, params=True
        )
        self._outbox.append(DhcpTransmit(message, _ZERO, _BROADCAST))
        self._deadline = now + self._backoff(self._attempts)

    def _send_discover(self, now: float) -> None:
        self._discover_secs = self._secs(now)
        self._send_unbound(now, DhcpMessageType.DISCOVER, self._discover_secs, self._hint)

    def _send_selecting_request(self, now: float) -> None:
        # Server id and requested IP; the DISCOVER's xid and 'secs' (§4.4.1).
        self._send_unbound(
            now,
            DhcpMessageType.REQUEST,
            self._discover_secs,
            self._offer_address,
            self._offer_server,
        )

    def _send_reboot_request(self, now: float) -> None:
        # INIT-REBOOT: requested IP, no server id (§3.2 step 1).
        self._send_unbound(now, DhcpMessageType.REQUEST, self._secs(now), self._reboot_address)

    def _send_extend_request(self, now: float, lease: Lease, *, broadcast: bool) -> None:
        """RFC 2131 §4.3.2 / §4.4.5, RENEWING (unicast to the server) and REBINDING
        (broadcast): ciaddr set, neither server id nor requested IP, no BROADCAST flag
        (we can receive unicast now)."""
        self._attempts += 1
        if self._attempts > 1:
            self.stats.retransmissions += 1
        self.stats.requests += 1
        message = self._message(
            DhcpMessageType.REQUEST, secs=self._secs(now), ciaddr=lease.address, params=True
        )
        dst = _BROADCAST if broadcast else lease.server_id
        self._outbox.append(DhcpTransmit(message, lease.address, dst))

    def _decline(self, now: float, lease: Lease) -> None:
        """RFC 2131 §4.4.1 / table 5: DECLINE, broadcast (§4.4.4), with requested IP and
        server id; restart after ``decline_wait``."""
        message = self._message(
            DhcpMessageType.DECLINE, secs=0, requested=lease.address, server=lease.server_id
        )
        self._outbox.append(DhcpTransmit(message, _ZERO, _BROADCAST))
        self.stats.declines += 1
        self._hint = None
        self._state = DhcpState.INIT
        self._deadline = now + self.config.decline_wait

    def _message(
        self,
        kind: DhcpMessageType,
        *,
        secs: int,
        ciaddr: bytes = _ZERO,
        requested: bytes | None = None,
        server: bytes | None = None,
        broadcast: bool = False,
        params: bool = False,
    ) -> DhcpMessage:
        """Options per RFC 2131 table 5: DISCOVER and REQUEST carry the parameter list,
        maximum size, host name and vendor class; DECLINE and RELEASE only identify."""
        cfg = self.config
        options: dict[int, bytes] = {DhcpOption.MESSAGE_TYPE: bytes((kind,))}
        if self._client_id:
            options[DhcpOption.CLIENT_ID] = self._client_id
        if requested is not None:
            options[DhcpOption.REQUESTED_IP] = requested
        if server is not None:
            options[DhcpOption.SERVER_ID] = server
        if params:
            options[DhcpOption.MAX_MESSAGE_SIZE] = cfg.max_message_size.to_bytes(2)
            if cfg.hostname:
                options[DhcpOption.HOSTNAME] = cfg.hostname.encode("ascii", "replace")
            if cfg.vendor_class:
                options[DhcpOption.VENDOR_CLASS_ID] = cfg.vendor_class.encode("ascii", "replace")
            if cfg.request_params:
                options[DhcpOption.PARAMETER_REQUEST_LIST] = bytes(cfg.request_params)
        return DhcpMessage(
            op=DhcpOp.BOOTREQUEST,
            xid=self._xid,
            chaddr=self._chaddr,
            hlen=len(self._chaddr),
            secs=secs,
            flags=BROADCAST_FLAG if broadcast else 0,
            ciaddr=ciaddr,
            options=options,
        )

    # -- timing ---------------------------------------------------------------------------------

    def _startup_delay(self) -> float:
        top = self.config.initial_delay_max
        return self._rng.uniform(0.0, top) if top > 0 else 0.0

    def _backoff(self, attempt: int) -> float:
        """RFC 2131 §4.1: 4 s before the first retransmission, doubling up to 64 s, each
        randomized by a uniform ±1 s (never below half the base, for tiny configured
        timeouts)."""
        cfg = self.config
        base = min(cfg.initial_timeout * 2.0 ** min(attempt - 1, 30), cfg.max_timeout)
        return max(base + self._rng.uniform(-1.0, 1.0), base / 2)

    # -- reading an ACK --------------------------------------------------------------------------

    def _lease_from_ack(
        self, msg: DhcpMessage, fallback_server: bytes | None, required_server: bytes | None
    ) -> Lease | None:
        """The lease an ACK grants, or None (counted as ignored) if it is unusable.

        ``required_server``: ACKs naming another server are not for our REQUEST.
        ``fallback_server``: the server id to assume when the ACK carries none.
        """
        try:
            server = msg.ip_option(DhcpOption.SERVER_ID)
            raw_lease = msg.u32_option(DhcpOption.LEASE_TIME)
            raw_t1 = msg.u32_option(DhcpOption.RENEWAL_TIME)
            raw_t2 = msg.u32_option(DhcpOption.REBINDING_TIME)
        except DecodeError as exc:
            self._ignore(f"malformed ACK: {exc}")
            return None
        if required_server is not None and server is not None and server != required_server:
            self._ignore("ACK from a server we did not select")
            return None
        server = server or fallback_server
        # RFC 2131 table 3: an ACK to a REQUEST MUST carry the lease time.
        if server is None or raw_lease is None or not _usable_unicast(msg.yiaddr):
            self._ignore("ACK without server id, lease time or usable address")
            return None
        cfg = self.config
        if raw_lease == _INFINITE:
            lease_time = t1 = t2 = math.inf
        else:
            lease_time = max(float(raw_lease), cfg.min_lease)
            # RFC 2131 §4.4.5 defaults, and options 58/59 only when T1 < T2 < lease.
            t1, t2 = 0.5 * lease_time, 0.875 * lease_time
            if raw_t2 is not None and 0 < raw_t2 < lease_time:
                t2 = float(raw_t2)
            if raw_t1 is not None and 0 < raw_t1 < t2:
                t1 = float(raw_t1)
            if t1 >= t2:
                t1, t2 = 0.5 * lease_time, 0.875 * lease_time
        mask = _optional(lambda: msg.ip_option(DhcpOption.SUBNET_MASK), None)
        prefix = _prefix_from_mask(mask)
        mtu = _optional(lambda: msg.u16_option(DhcpOption.INTERFACE_MTU), None)
        return Lease(
            address=msg.yiaddr,
            prefix_len=cfg.default_prefix_len if prefix is None else prefix,
            server_id=server,
            lease_time=lease_time,
            t1=t1,
            t2=t2,
            acquired_at=self._request_sent_at,
            routers=tuple(_optional(lambda: msg.ip_list_option(DhcpOption.ROUTER), [])),
            dns_servers=tuple(_optional(lambda: msg.ip_list_option(DhcpOption.DNS_SERVERS), [])),
            domain=msg.text_option(DhcpOption.DOMAIN_NAME) or None,
            mtu=mtu if mtu is not None and mtu >= 68 else None,  # RFC 2132 §5.1: at least 68
            broadcast=_optional(lambda: msg.ip_option(DhcpOption.BROADCAST_ADDRESS), None),
        )


_REPLIES: dict[int, DhcpInput] = {
    DhcpMessageType.OFFER: DhcpInput.OFFER,
    DhcpMessageType.ACK: DhcpInput.ACK,
    DhcpMessageType.NAK: DhcpInput.NAK,
}

S = DhcpState
I = DhcpInput  # noqa: E741
_LEASED = (S.BOUND, S.RENEWING, S.REBINDING)
_RUNNING = tuple(s for s in DhcpState if s is not S.STOPPED)
_AFTER_NAK = frozenset((S.SELECTING, S.INIT))
_AFTER_LEASE_TIMER = frozenset((S.RENEWING, S.REBINDING, S.SELECTING))

_TABLE: dict[tuple[DhcpState, DhcpInput], tuple[_Handler, frozenset[DhcpState]]] = {
    (S.STOPPED, I.START): (DhcpClient._on_start, frozenset((S.INIT, S.SELECTING))),
    (S.STOPPED, I.REBOOT): (DhcpClient._on_reboot, frozenset((S.INIT_REBOOT, S.REBOOTING))),
    (S.INIT, I.TIMER): (DhcpClient._begin_discovery, frozenset((S.SELECTING,))),
    (S.SELECTING, I.TIMER): (DhcpClient._on_selecting_timer, frozenset((S.STOPPED,))),
    (S.SELECTING, I.OFFER): (DhcpClient._on_offer, frozenset((S.REQUESTING,))),
    (S.REQUESTING, I.TIMER): (DhcpClient._on_requesting_timer, frozenset((S.SELECTING,))),
    (S.REQUESTING, I.ACK): (DhcpClient._on_new_ack, frozenset((S.CHECKING,))),
    (S.REQUESTING, I.NAK): (DhcpClient._on_nak, _AFTER_NAK),
    (S.INIT_REBOOT, I.TIMER): (DhcpClient._begin_reboot, frozenset((S.REBOOTING,))),
    (S.REBOOTING, I.TIMER): (DhcpClient._on_rebooting_timer, frozenset((S.SELECTING,))),
    (S.REBOOTING, I.ACK): (DhcpClient._on_new_ack, frozenset((S.CHECKING,))),
    (S.REBOOTING, I.NAK): (DhcpClient._on_nak, _AFTER_NAK),
    (S.CHECKING, I.CHECK_OK): (DhcpClient._on_check_ok, frozenset((S.BOUND,))),
    (S.CHECKING, I.CHECK_FAILED): (DhcpClient._on_check_failed, frozenset((S.INIT,))),
    (S.CHECKING, I.RELEASE): (DhcpClient._on_release, frozenset((S.STOPPED,))),
    (S.BOUND, I.TIMER): (DhcpClient._on_lease_timer, _AFTER_LEASE_TIMER),
    (S.RENEWING, I.TIMER): (DhcpClient._on_lease_timer, _AFTER_LEASE_TIMER),
    (S.REBINDING, I.TIMER): (DhcpClient._on_lease_timer, _AFTER_LEASE_TIMER),
    (S.RENEWING, I.ACK): (DhcpClient._on_extend_ack, frozenset((S.BOUND, S.CHECKING))),
    (S.REBINDING, I.ACK): (DhcpClient._on_extend_ack, frozenset((S.BOUND, S.CHECKING))),
    (S.RENEWING, I.NAK): (DhcpClient._on_nak, _AFTER_NAK),
    (S.REBINDING, I.NAK): (DhcpClient._on_nak, _AFTER_NAK),
    **{(s, I.ADDRESS_LOST): (DhcpClient._on_address_lost, frozenset((S.INIT,))) for s in _LEASED},
    **{(s, I.RELEASE): (DhcpClient._on_release, frozenset((S.STOPPED,))) for s in _LEASED},
    **{
        (s, I.RELEASE): (DhcpClient._on_stop, frozenset((S.STOPPED,)))
        for s in _RUNNING
        if s not in _LEASED and s is not S.CHECKING
    },
    **{(s, I.STOP): (DhcpClient._on_stop, frozenset((S.STOPPED,))) for s in _RUNNING},
}
del S, I

#: (state, input) → the states the machine may be in afterwards; staying put is always
#: allowed (a retransmission, an ignored reply). The source of the state diagram.
TRANSITIONS: dict[tuple[DhcpState, DhcpInput], frozenset[DhcpState]] = {
    key: targets for key, (_handler, targets) in _TABLE.items()
}
