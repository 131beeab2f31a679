"""TCP initial sequence numbers (RFC 6528) and ephemeral ports (RFC 6056), keyed per stack.

Both use a keyed hash of the connection identifiers with a secret drawn from the world's
seeded generator, so a simulation stays reproducible while an off-path attacker cannot
predict either value.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

EPHEMERAL_LOW = 49152
EPHEMERAL_HIGH = 65535


class TcpIdentifiers:
    """Per-stack secrets for ISNs, ephemeral ports and SYN cookies."""

    def __init__(self, rng: random.Random) -> None:
        self._isn_key = rng.randbytes(16)
        self._ts_key = rng.randbytes(16)
        self._port_key = rng.randbytes(16)
        self.cookie_key = rng.randbytes(16)
        self._port_counter = rng.randrange(1 << 16)

    @staticmethod
    def _hash(key: bytes, *parts: bytes) -> int:
        digest = hashlib.blake2s(b"".join(parts), key=key, digest_size=4).digest()
        return int.from_bytes(digest, "big")

    def isn(self, local: bytes, lport: int, remote: bytes, rport: int, now: float) -> int:
        """RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
        M a 4-microsecond timer."""
        clock = int(now * 250_000)
        f = self._hash(
            self._isn_key, local, lport.to_bytes(2, "big"), remote, rport.to_bytes(2, "big")
        )
        return (clock + f) & 0xFFFFFFFF

    def ts_offset(self, local: bytes, remote: bytes) -> int:
        """The RFC 7323 timestamp offset for a pair of hosts (as Linux keys it): random to
        an observer, but the same for every connection between the two, so TSvals keep
        increasing across incarnations and RFC 6191 can reopen a TIME-WAIT 4-tuple."""
        return self._hash(self._ts_key, local, remote)

    def ephemeral_ports(self, local: bytes, remote: bytes, rport: int) -> Iterator[int]:
        """RFC 6056 §3.3.3 (algorithm 3): a per-destination offset plus a global counter,
        so successive connections to one peer use different ports, unpredictably."""
        span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1
        offset = self._hash(self._port_key, local, remote, rport.to_bytes(2, "big"))
        start = (offset + self._port_counter) % span
        self._port_counter += 1
        return (EPHEMERAL_LOW + (start + i) % span for i in range(span))  # lazily: ~1 probe
