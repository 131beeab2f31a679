"""The security state of the IEEE 802.15.4 MAC: key table, outgoing frame counter, replay
table (the security attributes of the MAC PIB, IEEE 802.15.4-2015 §9.5), over the CCM*
functions of :mod:`netstack.stacks.mesh.security`. Sans-I/O: no clock, no radio.

The policy is :class:`~netstack.stacks.mesh.mac_api.MacSecurity`'s: outgoing frames at one
level under one key, named by key identifier mode 0 (implicit) or 1 (key index); incoming
frames under any key of the table (mode 1) or the implicit key (mode 0), at ``min_level``
or above. The nonce needs the sender's extended address; for a short source address it
comes from the neighbour table the MAC shares with this object. Replay protection keeps
the highest frame counter per (sender, key index) and is consulted only after the MIC
verified (:meth:`MacFrameSecurity.fresh`).
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
from netstack.wire.ieee802154 import AuxSecurityHeader, Ieee802154Frame, KeyIdMode

__all__ = ["MacFrameSecurity"]

_KEY_LENGTH = 16


class MacFrameSecurity:
    """Secures outgoing and unsecures incoming frames under a :class:`MacSecurity` policy.

    ValueError on construction for a policy that cannot work: no keys, a key that is not
    16 octets or an index outside 0..255, levels outside 1..7 (``min_level`` 0..7), key
    identifier modes other than 0 and 1, a ``tx_key_index`` missing from the table.
    """

    __slots__ = ("_counter", "_neighbours", "_replay", "config", "tx_key_index")

    def __init__(self, config: MacSecurity, neighbours: NeighbourAddresses) -> None:
        if not config.keys:
            raise ValueError("frame security needs at least one key")
        for index, key in config.keys.items():
            if not 0 <= index <= 0xFF or len(key) != _KEY_LENGTH:
                raise ValueError(f"key {index}: indexes are 0..255 and keys 16 octets")
        if not 1 <= config.level <= 7 or not 0 <= config.min_level <= 7:
            raise ValueError(f"security levels out of range: {config.level}, {config.min_level}")
        if config.key_id_mode not in (KeyIdMode.IMPLICIT, KeyIdMode.INDEX):
            raise ValueError("key identifier modes 0 and 1 are supported")
        index = max(config.keys) if config.tx_key_index is None else config.tx_key_index
        if index not in config.keys:
            raise ValueError(f"tx_key_index {index} is not in the key table")
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
    def replay_evictions(self) -> int:
        return self._replay.evictions

    def aux_header(self, counter: int) -> AuxSecurityHeader:
        """The auxiliary security header of an outgoing frame with ``counter``."""
        config = self.config
        mode = config.key_id_mode
        return AuxSecurityHeader(
            config.level, mode, counter, b"", self.tx_key_index if mode else None
        )

    def secure(self, frame: Ieee802154Frame, source: bytes) -> bytes:
        """``frame`` (payload in the clear) secured with the next frame counter: the PSDU.
        :class:`~netstack.stacks.mesh.security.FrameCounterExhausted` once the counter is
        spent. ``frame`` keeps the security header it was given."""
        frame.security = self.aux_header(self._counter.allocate())
        frame.security_enabled = True
        return secure_frame(frame, self.config.keys[self.tx_key_index], source=source)

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
        return self._replay.check_and_update(sender, aux.key_index, aux.frame_counter)

    def forget(self, sender: bytes) -> None:
        """Forget the frame counters of ``sender``."""
        self._replay.forget(sender)

    def _key(self, aux: AuxSecurityHeader, frame: Ieee802154Frame) -> bytes | None:
        keys = self.config.keys
        if aux.key_id_mode == KeyIdMode.IMPLICIT:
            return keys.get(self.tx_key_index)
        if aux.key_id_mode == KeyIdMode.INDEX and aux.key_index is not None:
            return keys.get(aux.key_index)
        return None

    def _sender(self, frame: Ieee802154Frame) -> bytes | None:
        src = frame.src_addr
        if isinstance(src, int):
            return self._neighbours.extended(src)
        return src
