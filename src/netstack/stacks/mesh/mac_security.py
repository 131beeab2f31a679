"""The security state of the IEEE 802.15.4 MAC: key table, outgoing frame counter, replay
table (the security attributes of the MAC PIB, IEEE 802.15.4-2015 §9.5), over the CCM*
functions of :mod:`netstack.stacks.mesh.security`. Sans-I/O: no clock, no radio.

The policy is :class:`~netstack.stacks.mesh.mac_api.MacSecurity`'s: outgoing frames at one
level under one key, named by key identifier mode 0 (implicit), 1 (key index), 2 or 3 (a 4-
or 8-octet key source and a key index); incoming frames under any key of the tables that
the mode they carry names, at ``min_level`` or above. The nonce needs the sender's extended
address; for a short source address it comes from the neighbour table the MAC shares with
this object. Replay protection keeps the highest frame counter per (sender, key) and is
consulted only after the MIC verified (:meth:`MacFrameSecurity.fresh`).
"""

from __future__ import annotations

from netstack.stacks.mesh.mac_api import MacSecurity
from netstack.stacks.mesh.mac_tables import NeighbourAddresses
from netstack.stacks.mesh.security import (
    FrameCounter,
    ReplayProtection,
    secure_frame,
    unsecure_frame,
)
from netstack.wire import Buffer
from netstack.wire.ieee802154 import (
    KEY_SOURCE_LENGTH,
    AuxSecurityHeader,
    Ieee802154Frame,
    KeyIdMode,
)

__all__ = ["MacFrameSecurity"]

_KEY_LENGTH = 16
_SOURCED = (KeyIdMode.SOURCE4_INDEX, KeyIdMode.SOURCE8_INDEX)  # modes naming a key source


class MacFrameSecurity:
    """Secures outgoing and unsecures incoming frames under a :class:`MacSecurity` policy.

    ValueError on construction for a policy that cannot work: no keys, a key that is not
    16 octets or an index outside 0..255, a key source that is not 4 or 8 octets, levels
    outside 1..7 (``min_level`` 0..7), a key identifier mode outside 0..3, a transmit key
    (``tx_key_index``, and in modes 2-3 ``tx_key_source``) missing from its table.
    """

    __slots__ = ("_counter", "_neighbours", "_replay", "config", "tx_key_index")

    def __init__(self, config: MacSecurity, neighbours: NeighbourAddresses) -> None:
        if not config.keys and not config.source_keys:
            raise ValueError("frame security needs at least one key")
        for index, key in config.keys.items():
            if not 0 <= index <= 0xFF or len(key) != _KEY_LENGTH:
                raise ValueError(f"key {index}: indexes are 0..255 and keys 16 octets")
        for (source, index), key in config.source_keys.items():
            sourced = len(source) in KEY_SOURCE_LENGTH[KeyIdMode.SOURCE4_INDEX :]
            if not sourced or not 0 <= index <= 0xFF or len(key) != _KEY_LENGTH:
                raise ValueError(
                    f"key {source.hex()}/{index}: sources are 4 or 8 octets, indexes 0..255 "
                    "and keys 16 octets"
                )
        if not 1 <= config.level <= 7 or not 0 <= config.min_level <= 7:
            raise ValueError(f"security levels out of range: {config.level}, {config.min_level}")
        mode = config.key_id_mode
        if mode not in (KeyIdMode.IMPLICIT, KeyIdMode.INDEX, *_SOURCED):
            raise ValueError(f"key identifier mode {mode} is not 0..3")
        table: dict[int, bytes] = config.keys
        if mode in _SOURCED:
            tx_source = config.tx_key_source
            length = KEY_SOURCE_LENGTH[mode]
            if tx_source is None or len(tx_source) != length:
                raise ValueError(f"key identifier mode {mode} needs a {length}-octet tx_key_source")
            table = {i: key for (s, i), key in config.source_keys.items() if s == tx_source}
        if config.tx_key_index is not None:
            index = config.tx_key_index
        elif table:
            index = max(table)
        else:
            raise ValueError("no transmit key: the key table for the key identifier mode is empty")
        if index not in table:
            raise ValueError(f"the transmit key (index {index}) is not in the key table")
        self.config = config
        self.tx_key_index = index
        self._counter = FrameCounter(config.frame_counter)
        self._replay = ReplayProtection(config.replay_entries)
        self._neighbours = neighbours
        for short, ext in config.neighbours.items():
            neighbours.learn(short, ext)

    @property
    def frame_counter(self) -> int:
        """The frame counter the next secured frame gets."""
        return self._counter.value

    @property
    def tx_key(self) -> bytes | None:
        """The key outgoing frames are secured with; None if it has left the table."""
        config = self.config
        if config.key_id_mode in _SOURCED:
            assert config.tx_key_source is not None
            return config.source_keys.get((config.tx_key_source, self.tx_key_index))
        return config.keys.get(self.tx_key_index)

    @property
    def replay_evictions(self) -> int:
        return self._replay.evictions

    def aux_header(self, counter: int) -> AuxSecurityHeader:
        """The auxiliary security header of an outgoing frame with ``counter``."""
        config = self.config
        mode = config.key_id_mode
        source = config.tx_key_source if mode in _SOURCED else None
        return AuxSecurityHeader(
            config.level, mode, counter, source or b"", self.tx_key_index if mode else None
        )

    def secure(self, frame: Ieee802154Frame, source: bytes) -> bytes:
        """``frame`` (payload in the clear) secured with the next frame counter: the PSDU.
        :class:`~netstack.stacks.mesh.security.FrameCounterExhausted` once the counter is
        spent. ``frame`` keeps the security header it was given."""
        frame.security = self.aux_header(self._counter.allocate())
        frame.security_enabled = True
        key = self.tx_key
        if key is None:
            raise ValueError("the transmit key is no longer in the key table")
        return secure_frame(frame, key, source=source)

    def unsecure(self, psdu: Buffer) -> tuple[Ieee802154Frame, bytes]:
        """Verify and decrypt a received frame: the frame in the clear and the sender's
        extended address. :class:`~netstack.stacks.mesh.security.SecurityError` with its
        reason, or DecodeError for a malformed frame."""
        frame, _ = unsecure_frame(
            psdu, self._key, source=self._sender, min_level=self.config.min_level
        )
        sender = self._sender(frame)
        assert sender is not None  # unsecure_frame needed it for the nonce
        return frame, sender

    def fresh(self, sender: bytes, frame: Ieee802154Frame) -> bool:
        """Whether the frame counter of a verified ``frame`` is new for its sender and key
        (and remember it): False for a replay."""
        aux = frame.security
        if aux is None or aux.frame_counter is None:
            return False
        key_id = (aux.key_source, aux.key_index) if aux.key_source else aux.key_index
        return self._replay.check_and_update(sender, key_id, aux.frame_counter)

    def forget(self, sender: bytes) -> None:
        """Forget the frame counters of ``sender``."""
        self._replay.forget(sender)

    def _key(self, aux: AuxSecurityHeader, frame: Ieee802154Frame) -> bytes | None:
        mode = aux.key_id_mode
        if mode == KeyIdMode.IMPLICIT:
            return self.tx_key
        if aux.key_index is None:
            return None
        if mode == KeyIdMode.INDEX:
            return self.config.keys.get(aux.key_index)
        return self.config.source_keys.get((bytes(aux.key_source), aux.key_index))

    def _sender(self, frame: Ieee802154Frame) -> bytes | None:
        src = frame.src_addr
        if isinstance(src, int):
            return self._neighbours.extended(src)
        return src
