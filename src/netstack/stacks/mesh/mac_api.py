"""The vocabulary of the IEEE 802.15.4 MAC (:mod:`netstack.stacks.mesh.mac`): request
statuses, the data indication, PAN descriptors, the configuration records and the names
of its counters. Plain records; :mod:`netstack.stacks.mesh.mac` re-exports every name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from netstack.stacks.mesh.security import SecurityFailure
from netstack.wire.ieee802154 import FrameVersion

__all__ = [
    "MAC_STAT_NAMES",
    "MAX_BEACON_PAYLOAD",
    "Address",
    "MacConfig",
    "MacDataIndication",
    "MacSecurity",
    "MacStatus",
    "PanDescriptor",
    "SuperframeSpec",
]

#: A short address (int; 0xFFFF is broadcast) or an extended address (8 bytes, natural order).
Address = int | bytes

#: aMaxBeaconPayloadLength (2006 §7.4.1): aMaxPHYPacketSize - aMaxBeaconOverhead (75).
MAX_BEACON_PAYLOAD = 52


class MacStatus(enum.Enum):
    """How a request ended (the MCPS/MLME confirm status codes, 2015 Table 8-2 …)."""

    SUCCESS = "success"
    CHANNEL_ACCESS_FAILURE = "channel_access_failure"
    NO_ACK = "no_ack"
    TRANSACTION_EXPIRED = "transaction_expired"
    TRANSACTION_OVERFLOW = "transaction_overflow"
    FRAME_TOO_LONG = "frame_too_long"
    INVALID_PARAMETER = "invalid_parameter"
    UNAVAILABLE_KEY = "unavailable_key"
    #: poll(): the coordinator had nothing, or nothing came within macMaxFrameTotalWaitTime.
    NO_DATA = "no_data"
    #: The frame counter is exhausted: the key must be replaced.
    COUNTER_ERROR = "counter_error"
    #: The MAC was stopped before the request completed (not a standard status).
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class MacDataIndication:
    """A data frame for us (MCPS-DATA.indication). ``security_level`` 0: unsecured."""

    src: Address
    dst: Address
    src_pan: int
    dst_pan: int
    payload: bytes
    lqi: int
    rssi: int
    seq: int | None
    security_level: int
    frame_pending: bool


@dataclass(frozen=True, slots=True)
class SuperframeSpec:
    """The Superframe Specification of a beacon (2006 §7.2.2.1.2)."""

    beacon_order: int
    superframe_order: int
    final_cap_slot: int
    battery_life_extension: bool
    pan_coordinator: bool
    association_permit: bool


@dataclass(frozen=True, slots=True)
class PanDescriptor:
    """A beacon heard during an active scan (2015 §8.2.5.2, Table 8-38, in part)."""

    channel: int
    coord_address: Address
    pan_id: int
    lqi: int
    rssi: int
    superframe: SuperframeSpec
    beacon_payload: bytes
    permit_join: bool


@dataclass(slots=True)
class MacSecurity:
    """Frame security (2015 §9): the key table, what this MAC sends and what it accepts.

    ``keys`` maps a key index to its 16-octet AES key. Frames go out at ``level`` under key
    ``tx_key_index`` (None: the highest index in ``keys``), named by key identifier mode
    ``key_id_mode``: 1 (the key index in the frame) or 0 (implicit: both ends use their
    ``tx_key_index`` key). Modes 2 and 3 name a key by a 4- or 8-octet key source and an
    index: ``source_keys`` maps ``(key_source, key_index)`` to the key, and outgoing frames
    use ``tx_key_source`` (with ``tx_key_index``, None: the highest index under that
    source). Incoming frames are looked up by the mode they carry: the implicit key, an
    index in ``keys``, or a (source, index) pair in ``source_keys``; an unknown key drops
    the frame. Incoming frames below ``min_level`` are dropped and counted.
    ``replay_entries`` bounds the replay table: (neighbour, key) pairs. ``neighbours``
    gives the extended address of neighbours known by short address (for the nonce);
    ``frame_counter`` is the first outgoing frame counter (persist it across restarts with
    :attr:`Ieee802154Mac.frame_counter`).
    """

    keys: dict[int, bytes] = field(default_factory=dict)
    level: int = 5
    key_id_mode: int = 1
    min_level: int = 5
    replay_entries: int = 256
    tx_key_index: int | None = None
    source_keys: dict[tuple[bytes, int], bytes] = field(default_factory=dict)
    tx_key_source: bytes | None = None
    frame_counter: int = 0
    neighbours: dict[int, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class MacConfig:
    """The MAC's PIB (2015 Table 8-94) as far as this MAC uses it.

    ``short_address`` None: frames carry the extended address as source. The CSMA-CA and
    retry parameters have the standard's names and ranges (macMinBE, macMaxBE,
    macMaxCSMABackoffs, macMaxFrameRetries). ``tx_queue_limit`` bounds the frames waiting
    to be sent (the one in flight apart), ``dup_table_size`` the sources remembered for
    duplicate detection, ``indirect_limit`` the frames held for sleepy children, each for
    ``transaction_persistence`` seconds. ``coordinator``: answer Beacon Requests, with the
    PAN Coordinator bit set, ``association_permit`` and ``beacon_payload``, and take frames
    without destination address (the radio's PAN coordinator filter). ``rx_on_when_idle``
    False makes a sleepy device: the radio sleeps whenever the MAC has nothing to do.
    """

    pan_id: int = 0xABCD
    short_address: int | None = None
    channel: int = 11
    min_be: int = 3
    max_be: int = 5
    max_csma_backoffs: int = 4
    max_frame_retries: int = 3
    tx_queue_limit: int = 32
    dup_table_size: int = 64
    indirect_limit: int = 16
    transaction_persistence: float = 7.68
    coordinator: bool = False
    beacon_payload: bytes = b""
    association_permit: bool = False
    security: MacSecurity | None = None
    frame_version: FrameVersion = FrameVersion.V2006
    rx_on_when_idle: bool = True


#: The counters of :meth:`Ieee802154Mac.stats`.
MAC_STAT_NAMES = (
    "tx_requests",  # data_request() calls accepted
    "tx_queue_full",  # data_request() refused: the transmit queue was full
    "tx_not_up",  # data_request() refused: the MAC is stopped
    "tx_invalid_parameter",
    "tx_frame_too_long",
    "tx_unavailable_key",
    "tx_counter_error",
    "tx_frames",  # frames that went through CSMA-CA (each once, retransmissions apart)
    "tx_attempts",  # transmissions handed to the radio (CCA included)
    "tx_retries",  # retransmissions after a missing ack
    "tx_bytes",  # PSDU octets of tx_frames
    "tx_success",
    "tx_no_ack",  # frames that ended NO_ACK after every retry
    "tx_channel_access_failure",  # frames that ended CHANNEL_ACCESS_FAILURE
    "tx_aborted",
    "cca_failures",  # attempts that found the channel busy (or that the radio refused)
    "ack_timeouts",  # attempts that got no ack
    "tx_data",  # data frames sent directly
    "tx_indirect",  # data frames sent to a polling child
    "tx_beacons",
    "tx_beacon_requests",
    "tx_data_requests",
    "rx_frames",  # PSDUs from the radio
    "rx_bytes",
    "rx_data",  # data indications
    "rx_malformed",
    "rx_ignored",  # beacons outside scans, acks
    "rx_scan_dropped",  # frames other than beacons during a scan
    "rx_no_source",  # data without source address
    "rx_empty",  # data frames without payload (answers to polls) — not indicated
    "rx_duplicates",
    "rx_replays",
    "rx_unsecured_dropped",
    "rx_security_failures",  # all of the rx_security_<reason> below
    *(f"rx_security_{reason.name.lower()}" for reason in SecurityFailure),
    "rx_beacon_requests",
    "rx_data_requests",
    "rx_commands_ignored",
    "indirect_queued",
    "indirect_sent",
    "indirect_retained",  # a delivery failed: kept for the next poll
    "indirect_expired",
    "indirect_overflow",
    "indirect_empty_replies",
    "polls",
    "polls_data",
    "polls_no_data",
    "active_scans",
    "ed_scans",
    "beacons_found",
    "scan_results_dropped",
)
