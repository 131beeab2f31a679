"""Propagation models for the virtual radio medium: what one transmitter gives one receiver.

A model turns a distance and a transmit power into a :class:`LinkBudget`: the RSSI, the
SNR against the noise floor, the LQI the receiver reports, the bit error rate and so the
chance that a frame of a given length arrives intact. Interference is not the model's
business: the medium treats overlapping frames as a collision.

- :class:`LogDistance`: path loss ``PL(d) = PL(d0) + 10 n log10(d / d0)`` (d0 = 1 m, PL(d0)
  40 dB: free space at 2.4 GHz), plus log-normal shadowing of ``shadowing_sigma_db``: one
  value per pair of radios, drawn once by the medium and the same in both directions, so a
  link is stable for the whole run. Draws are truncated at +/-3 sigma so that a radio's range is
  bounded (the medium's spatial grid relies on it). A frame is heard when its RSSI reaches
  ``sensitivity_dbm``; its bits are then lost at the O-QPSK DSSS bit error rate of the SNR
  (:func:`oqpsk_bit_error_rate`), applied to every octet on the air.
- :class:`UnitDisk`: every radio within ``range_m`` hears every frame (no bit errors), none
  beyond. The RSSI it reports falls linearly from ``near_rssi_dbm`` at 0 m to
  ``edge_rssi_dbm`` at the edge — above the default CCA threshold (-75 dBm), so a radio
  senses the channel busy exactly when it could receive; transmit power is ignored.

Both take ``loss``: an extra probability that a frame is lost, independent of everything
else (interference from outside the model, a crude fading margin).

With the defaults (sensitivity -95 dBm, noise floor -100 dBm) a frame at the sensitivity
has 5 dB SNR, where the O-QPSK curve is already negligible (BER 7e-14): links are then
"in range or not", shaped by shadowing. The curve's grey zone lies between about -3 dB
(PER 97 % for a 20-octet PSDU) and +2 dB (PER 0.01 %); to model it, lower
``sensitivity_dbm`` below the noise floor + 2 dB.

LQI (IEEE 802.15.4-2015 §10.2.6 leaves the mapping to the implementation): linear in the
SNR, 0 at 0 dB and 255 from :data:`LQI_FULL_SCALE_SNR_DB` (30 dB) up (:func:`lqi_from_snr`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from netstack.drivers.rfphy.api import PHY_OVERHEAD_OCTETS

NOISE_FLOOR_DBM = -100.0
SENSITIVITY_DBM = -95.0
#: Shadowing draws are truncated at this many standard deviations.
SHADOWING_LIMIT = 3.0
#: The SNR at which the LQI reaches 255.
LQI_FULL_SCALE_SNR_DB = 30.0

# (-1)^k * C(16, k) for k = 2..16, with 20 (1/k - 1): the terms of IEEE 802.15.4-2006
# §E.4.1.8 equation (7).
_BER_TERMS = tuple(((-1) ** k * math.comb(16, k), 20.0 * (1.0 / k - 1.0)) for k in range(2, 17))


def oqpsk_bit_error_rate(snr_db: float) -> float:
    """Bit error rate of the 2450 MHz O-QPSK DSSS PHY in AWGN at ``snr_db`` (the SINR over
    the 2 MHz channel): IEEE 802.15.4-2006 Annex E, §E.4.1.8, equation (7),

        BER = 8/15 * 1/16 * sum_{k=2..16} (-1)^k C(16, k) exp(20 * SINR * (1/k - 1)).

    Clamped to [0, 0.5] (the alternating sum loses precision far out on either side).
    """
    if snr_db > 15.0:  # the k = 2 term is then below 1e-130
        return 0.0
    sinr = 10.0 ** (snr_db / 10.0)
    total = 0.0
    for coefficient, factor in _BER_TERMS:
        total += coefficient * math.exp(factor * sinr)
    ber = total * (8.0 / 15.0) / 16.0
    return min(max(ber, 0.0), 0.5)


def frame_success_probability(bit_error_rate: float, psdu_length: int) -> float:
    """The chance that every bit on the air — synchronisation header, PHR and PSDU — of a
    frame of ``psdu_length`` octets arrives intact."""
    if bit_error_rate <= 0.0:
        return 1.0
    if bit_error_rate >= 0.5:
        return 0.0
    bits = 8 * (PHY_OVERHEAD_OCTETS + psdu_length)
    return math.exp(bits * math.log1p(-bit_error_rate))


def lqi_from_snr(snr_db: float) -> int:
    """LQI 0-255, linear in the SNR: 0 at or below 0 dB, 255 from 30 dB."""
    lqi = round(255.0 * snr_db / LQI_FULL_SCALE_SNR_DB)
    return 0 if lqi < 0 else 255 if lqi > 255 else lqi


@dataclass(frozen=True, slots=True)
class LinkBudget:
    """What a transmitter gives one receiver."""

    rssi_dbm: float
    snr_db: float
    lqi: int
    bit_error_rate: float
    #: Probability of losing a frame besides bit errors (the model's ``loss``).
    frame_loss: float
    #: The receiver synchronises on the frame (RSSI at or above the sensitivity).
    audible: bool

    def frame_success(self, psdu_length: int) -> float:
        """Probability that a frame of ``psdu_length`` octets arrives intact."""
        ok = frame_success_probability(self.bit_error_rate, psdu_length)
        return ok * (1.0 - self.frame_loss)


class PropagationModel(Protocol):
    """What the medium asks of a propagation model."""

    @property
    def sensitivity_dbm(self) -> float: ...

    @property
    def noise_floor_dbm(self) -> float: ...

    @property
    def shadowing_sigma_db(self) -> float: ...

    def max_range(self, tx_power_dbm: float, floor_dbm: float) -> float:
        """A distance beyond which no link reaches ``floor_dbm``, whatever the shadowing."""
        ...

    def link(
        self, distance_m: float, tx_power_dbm: float, shadowing_db: float
    ) -> LinkBudget | None:
        """The budget of a link, or None if the receiver gets nothing at all."""
        ...


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class LogDistance:
    """Log-distance path loss with optional log-normal shadowing; see the module docstring."""

    exponent: float = 3.0
    reference_loss_db: float = 40.0
    reference_distance_m: float = 1.0
    shadowing_sigma_db: float = 0.0
    sensitivity_dbm: float = SENSITIVITY_DBM
    noise_floor_dbm: float = NOISE_FLOOR_DBM
    loss: float = 0.0

    def __post_init__(self) -> None:
        if not self.exponent > 0:
            raise ValueError(f"exponent must be > 0, got {self.exponent!r}")
        if not self.reference_distance_m > 0:
            raise ValueError(f"reference_distance_m must be > 0, got {self.reference_distance_m!r}")
        if not self.shadowing_sigma_db >= 0:
            raise ValueError(f"shadowing_sigma_db must be >= 0, got {self.shadowing_sigma_db!r}")
        _check_probability("loss", self.loss)

    def path_loss(self, distance_m: float) -> float:
        """Path loss in dB at ``distance_m`` (the reference loss up to the reference distance)."""
        d0 = self.reference_distance_m
        if distance_m <= d0:
            return self.reference_loss_db
        return self.reference_loss_db + 10.0 * self.exponent * math.log10(distance_m / d0)

    def max_range(self, tx_power_dbm: float, floor_dbm: float) -> float:
        margin = tx_power_dbm + SHADOWING_LIMIT * self.shadowing_sigma_db - floor_dbm
        excess = margin - self.reference_loss_db
        d0 = self.reference_distance_m
        return d0 * math.pow(10.0, max(excess, 0.0) / (10.0 * self.exponent))

    def link(
        self, distance_m: float, tx_power_dbm: float, shadowing_db: float
    ) -> LinkBudget | None:
        rssi = tx_power_dbm - self.path_loss(distance_m) + shadowing_db
        snr = rssi - self.noise_floor_dbm
        return LinkBudget(
            rssi_dbm=rssi,
            snr_db=snr,
            lqi=lqi_from_snr(snr),
            bit_error_rate=oqpsk_bit_error_rate(snr),
            frame_loss=self.loss,
            audible=rssi >= self.sensitivity_dbm,
        )

    def frame_error_rate(
        self, distance_m: float, psdu_length: int, tx_power_dbm: float = 0.0
    ) -> float:
        """The packet error rate of a frame at ``distance_m`` without shadowing (1.0 where
        it is below the sensitivity: nothing arrives)."""
        budget = self.link(distance_m, tx_power_dbm, 0.0)
        if budget is None or not budget.audible:
            return 1.0
        return 1.0 - budget.frame_success(psdu_length)


@dataclass(frozen=True, slots=True)
class UnitDisk:
    """Everyone within ``range_m`` hears everything; see the module docstring."""

    range_m: float
    loss: float = 0.0
    near_rssi_dbm: float = -40.0
    edge_rssi_dbm: float = -70.0
    sensitivity_dbm: float = SENSITIVITY_DBM
    noise_floor_dbm: float = NOISE_FLOOR_DBM

    def __post_init__(self) -> None:
        if not self.range_m > 0:
            raise ValueError(f"range_m must be > 0, got {self.range_m!r}")
        if not self.edge_rssi_dbm <= self.near_rssi_dbm:
            raise ValueError("edge_rssi_dbm must not exceed near_rssi_dbm")
        _check_probability("loss", self.loss)

    @property
    def shadowing_sigma_db(self) -> float:
        return 0.0

    def max_range(self, tx_power_dbm: float, floor_dbm: float) -> float:
        return self.range_m

    def link(
        self, distance_m: float, tx_power_dbm: float, shadowing_db: float
    ) -> LinkBudget | None:
        if distance_m > self.range_m:
            return None
        near = self.near_rssi_dbm
        rssi = near + (self.edge_rssi_dbm - near) * distance_m / self.range_m
        snr = rssi - self.noise_floor_dbm
        return LinkBudget(rssi, snr, lqi_from_snr(snr), 0.0, self.loss, True)


__all__ = [
    "LQI_FULL_SCALE_SNR_DB",
    "NOISE_FLOOR_DBM",
    "SENSITIVITY_DBM",
    "SHADOWING_LIMIT",
    "LinkBudget",
    "LogDistance",
    "PropagationModel",
    "UnitDisk",
    "frame_success_probability",
    "lqi_from_snr",
    "oqpsk_bit_error_rate",
]
