"""Propagation models: the O-QPSK error curve, log-distance path loss with shadowing, the
unit disk, LQI, and the shadowing the medium draws per pair."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

from netstack.drivers.rfphy import LogDistance, UnitDisk, VirtualRadioMedium
from netstack.drivers.rfphy.propagation import (
    frame_success_probability,
    lqi_from_snr,
    oqpsk_bit_error_rate,
)
from netstack.runtime import World


def test_oqpsk_ber_falls_from_one_half_to_nothing() -> None:
    # IEEE 802.15.4-2006 §E.4.1.8 eq. (7): BER -> 1/2 as the SINR -> 0 (the alternating
    # sum of C(16, k) for k = 2..16 is 15, and 8/15 * 15/16 = 1/2).
    assert oqpsk_bit_error_rate(-40.0) == pytest.approx(0.5, abs=1e-3)
    assert oqpsk_bit_error_rate(20.0) == 0.0
    values = [oqpsk_bit_error_rate(snr / 2) for snr in range(-20, 21)]
    assert all(a > b for a, b in itertools.pairwise(values) if a > 1e-300)
    # The k = 2 term dominates at high SNR: BER ~ 8/15 * 1/16 * 120 * exp(-10 SINR).
    sinr = 10**0.5
    assert oqpsk_bit_error_rate(5.0) == pytest.approx(4.0 * math.exp(-10 * sinr), rel=1e-3)


def test_the_grey_zone_lies_between_minus_three_and_plus_two_db() -> None:
    per = [1 - frame_success_probability(oqpsk_bit_error_rate(snr), 20) for snr in (-3, 0, 2)]
    assert per[0] > 0.9 and 0.01 < per[1] < 0.1 and per[2] < 1e-3


def test_longer_frames_are_lost_more_often() -> None:
    ber = oqpsk_bit_error_rate(-1.0)
    assert frame_success_probability(ber, 127) < frame_success_probability(ber, 20)
    assert frame_success_probability(0.0, 127) == 1.0
    assert frame_success_probability(0.5, 5) == 0.0


def test_lqi_is_linear_in_snr_from_0_to_30_db() -> None:
    assert [lqi_from_snr(s) for s in (-5, 0, 15, 30, 45)] == [0, 0, 128, 255, 255]


def test_log_distance_path_loss() -> None:
    model = LogDistance(exponent=3.0, reference_loss_db=40.0)
    assert model.path_loss(0.2) == model.path_loss(1.0) == 40.0
    assert model.path_loss(10.0) == pytest.approx(70.0)
    assert model.path_loss(100.0) == pytest.approx(100.0)
    budget = model.link(10.0, 5.0, 0.0)
    assert budget is not None
    assert budget.rssi_dbm == pytest.approx(-65.0) and budget.snr_db == pytest.approx(35.0)
    assert budget.audible and budget.lqi == 255 and budget.bit_error_rate == 0.0
    shadowed = model.link(10.0, 5.0, -3.0)
    assert shadowed is not None and shadowed.rssi_dbm == pytest.approx(-68.0)


@pytest.mark.parametrize(
    "model", [LogDistance(), LogDistance(exponent=2.0), UnitDisk(40.0)], ids=repr
)
def test_rssi_falls_monotonically_with_distance(model: LogDistance | UnitDisk) -> None:
    rssi = []
    for d in range(1, 40):
        budget = model.link(float(d), 0.0, 0.0)
        assert budget is not None
        rssi.append(budget.rssi_dbm)
    assert all(a > b for a, b in itertools.pairwise(rssi))


def test_log_distance_hears_down_to_the_sensitivity() -> None:
    model = LogDistance()
    edge = model.max_range(0.0, model.sensitivity_dbm)
    assert edge == pytest.approx(10 ** (55 / 30))  # 95 dB of budget: 40 + 30 log10(d)
    inside, outside = model.link(edge * 0.99, 0.0, 0.0), model.link(edge * 1.01, 0.0, 0.0)
    assert inside is not None and inside.audible
    assert outside is not None and not outside.audible
    assert model.frame_error_rate(edge * 1.01, 50) == 1.0
    assert model.frame_error_rate(edge * 0.5, 50) == 0.0
    # The range allows for shadowing up to 3 sigma.
    shadowed = LogDistance(shadowing_sigma_db=4.0)
    far = shadowed.max_range(0.0, -95.0)
    budget = shadowed.link(far, 0.0, 12.0)
    assert budget is not None and budget.rssi_dbm == pytest.approx(-95.0)


def test_unit_disk_hears_everything_in_range_and_nothing_beyond() -> None:
    model = UnitDisk(25.0)
    near, edge = model.link(0.0, 0.0, 0.0), model.link(25.0, 20.0, 0.0)
    assert near is not None and edge is not None
    assert (near.rssi_dbm, edge.rssi_dbm) == (-40.0, -70.0)  # transmit power is ignored
    assert edge.audible and edge.rssi_dbm > -75.0  # senses busy wherever it can receive
    assert edge.frame_success(127) == 1.0
    assert model.link(25.01, 0.0, 0.0) is None
    assert model.max_range(30.0, -120.0) == 25.0
    lossy = UnitDisk(25.0, loss=0.2).link(1.0, 0.0, 0.0)
    assert lossy is not None and lossy.frame_success(10) == pytest.approx(0.8)


@pytest.mark.parametrize(
    "kwargs",
    [{"exponent": 0.0}, {"shadowing_sigma_db": -1.0}, {"loss": 1.5}, {"reference_distance_m": 0}],
)
def test_log_distance_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LogDistance(**kwargs)


def test_unit_disk_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        UnitDisk(0.0)
    with pytest.raises(ValueError):
        UnitDisk(10.0, loss=-0.1)


def test_shadowing_is_per_pair_symmetric_stable_and_as_wide_as_sigma() -> None:
    sigma = 6.0
    world = World.simulated(seed=11)
    medium = VirtualRadioMedium(world, LogDistance(shadowing_sigma_db=sigma))
    hub = medium.add_radio((0, 0))
    others = [medium.add_radio((10.0, 0.0)) for _ in range(400)]
    base = 0 - (40 + 30)  # RSSI at 10 m without shadowing
    draws = []
    for other in others:
        there, back = medium.link(hub, other), medium.link(other, hub)
        assert there is not None and back is not None
        assert there.rssi_dbm == back.rssi_dbm
        draws.append(there.rssi_dbm - base)
    assert abs(statistics.fmean(draws)) < 4 * sigma / math.sqrt(len(draws))
    assert 0.85 * sigma < statistics.pstdev(draws) < 1.15 * sigma
    assert max(abs(d) for d in draws) <= 3 * sigma
    # Stable: moving away and back gives the same link; another seed gives another one.
    first = medium.link(hub, others[0])
    others[0].move(30, 30)
    others[0].move(10, 0)
    assert medium.link(hub, others[0]) == first
    other_world = World.simulated(seed=12)
    other_medium = VirtualRadioMedium(other_world, LogDistance(shadowing_sigma_db=sigma))
    a, b = other_medium.add_radio((0, 0)), other_medium.add_radio((10, 0))
    assert other_medium.link(a, b) != medium.link(hub, others[0])
