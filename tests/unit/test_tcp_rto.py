"""RFC 6298 retransmission timer estimation against hand-computed values."""

import pytest

from netstack.errors import ParameterError
from netstack.stacks.core.tcp.rto import RtoConfig, RttEstimator


def test_initial_rto_is_one_second_without_samples():
    est = RttEstimator()
    assert est.srtt is None and est.rttvar is None
    assert est.rto == 1.0 and est.current == 1.0 and est.backoffs == 0


def test_samples_follow_rfc6298_equations():
    est = RttEstimator()
    # §2.2, first sample R = 0.1: SRTT = 0.1, RTTVAR = 0.05, RTO = 0.1 + 4 * 0.05
    est.sample(0.1)
    assert est.srtt == pytest.approx(0.1)
    assert est.rttvar == pytest.approx(0.05)
    assert est.rto == pytest.approx(0.3)
    # §2.3, R' = 0.12: RTTVAR = 3/4 * 0.05 + 1/4 * |0.1 - 0.12| = 0.0425
    #                  SRTT = 7/8 * 0.1 + 1/8 * 0.12 = 0.1025; RTO = 0.1025 + 0.17
    est.sample(0.12)
    assert est.rttvar == pytest.approx(0.0425)
    assert est.srtt == pytest.approx(0.1025)
    assert est.rto == pytest.approx(0.2725)
    # R' = 0.3: RTTVAR = 3/4 * 0.0425 + 1/4 * |0.1025 - 0.3| = 0.08125
    #           SRTT = 7/8 * 0.1025 + 1/8 * 0.3 = 0.1271875; RTO = 0.1271875 + 0.325
    est.sample(0.3)
    assert est.rttvar == pytest.approx(0.08125)
    assert est.srtt == pytest.approx(0.1271875)
    assert est.rto == pytest.approx(0.4521875)


def test_rto_is_clamped_to_minimum_and_maximum():
    est = RttEstimator()
    est.sample(0.001)  # 0.001 + 4 * 0.0005 = 0.003 -> raised to the 0.2 s floor
    assert est.rto == pytest.approx(0.2)
    est = RttEstimator()
    est.sample(100.0)  # 100 + 4 * 50 = 300 -> capped at 120 s
    assert est.rto == 120.0


def test_rfc_minimum_of_one_second_is_configurable():
    est = RttEstimator(RtoConfig(minimum=1.0))
    est.sample(0.1)
    assert est.rto == 1.0


def test_granularity_bounds_the_variance_term():
    est = RttEstimator(RtoConfig(minimum=0.01, granularity=0.05))
    for _ in range(40):  # RTTVAR decays by 3/4 per identical sample: 0.5 * 0.75**39 ~ 7e-6
        est.sample(1.0)
    assert est.srtt == pytest.approx(1.0)
    assert est.rto == pytest.approx(1.0 + 0.05)


def test_backoff_doubles_up_to_the_maximum():
    est = RttEstimator()
    seen = []
    for _ in range(9):
        seen.append(est.current)
        est.backoff()
    assert seen == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 120.0, 120.0]
    assert est.rto == 1.0  # the base value is untouched
    for _ in range(1000):
        est.backoff()
    assert est.current == 120.0


def test_new_sample_resets_backoff():
    est = RttEstimator()
    est.sample(0.5)  # RTO = 0.5 + 1.0
    est.backoff()
    est.backoff()
    assert est.current == pytest.approx(6.0)
    est.sample(0.5)  # RTTVAR = 0.1875, SRTT = 0.5: RTO = 1.25
    assert est.backoffs == 0
    assert est.current == pytest.approx(1.25)


def test_reset_backoff_keeps_estimates():
    est = RttEstimator()
    est.sample(0.4)
    est.backoff()
    est.reset_backoff()
    assert est.current == pytest.approx(est.rto) == pytest.approx(1.2)


def test_invalid_input_is_rejected():
    with pytest.raises(ParameterError):
        RttEstimator(RtoConfig(minimum=5.0, maximum=1.0))
    with pytest.raises(ParameterError):
        RttEstimator().sample(-0.1)
