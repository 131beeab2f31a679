"""Congestion control: RFC 5681/3465 slow start and avoidance, RFC 6582 arithmetic, RFC 9438."""

import math

import pytest

from netstack.errors import ParameterError
from netstack.stacks.core.tcp.congestion import (
    CongestionControl,
    Cubic,
    NewReno,
    initial_window,
    make_congestion_control,
)

MSS = 1000


def one_rtt(cc: CongestionControl, start: float, rtt: float, per_ack: int = MSS) -> float:
    """ACK one window's worth of bytes spread evenly over one RTT; return the end time."""
    window = cc.cwnd
    acks = max(window // per_ack, 1)
    for n in range(acks):
        cc.on_ack(per_ack, start + (n + 1) * rtt / acks, rtt)
    return start + rtt


# -- common ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mss", "iw"), [(1460, 14600), (536, 5360), (1000, 10000), (4000, 14600), (9000, 18000)]
)
def test_initial_window_follows_rfc6928(mss, iw):
    assert initial_window(mss) == iw


def test_factory_builds_by_name_and_rejects_unknown():
    assert isinstance(make_congestion_control("newreno", MSS), NewReno)
    cubic = make_congestion_control("CUBIC", MSS)
    assert isinstance(cubic, Cubic) and cubic.name == "cubic"
    assert cubic.cwnd == initial_window(MSS) and cubic.ssthresh >= 2**30
    with pytest.raises(ParameterError):
        make_congestion_control("vegas", MSS)
    with pytest.raises(ParameterError):
        NewReno(0)


# -- NewReno --------------------------------------------------------------------------


def test_slow_start_doubles_per_rtt_with_per_segment_acks():
    cc = NewReno(MSS)
    now = 0.0
    for expected in (20_000, 40_000, 80_000):
        now = one_rtt(cc, now, 0.1)
        assert cc.cwnd == expected


def test_slow_start_doubles_per_rtt_with_delayed_acks():
    # ABC (RFC 3465 §2.2): an ACK of 2 segments grows cwnd by 2 segments, not 1
    cc = NewReno(MSS)
    one_rtt(cc, 0.0, 0.1, per_ack=2 * MSS)
    assert cc.cwnd == 20_000


def test_slow_start_increase_per_ack_is_capped_at_two_segments():
    cc = NewReno(MSS)
    cc.on_ack(10 * MSS, 0.1, None)  # one stretch ACK of 10 segments
    assert cc.cwnd == 10_000 + 2 * MSS


def test_slow_start_stops_at_ssthresh_and_carries_bytes_into_avoidance():
    cc = NewReno(MSS, initial_cwnd=9_500, initial_ssthresh=10_000)
    cc.on_ack(2 * MSS, 0.1, None)  # 500 bytes reach ssthresh, 1500 count for avoidance
    assert cc.cwnd == 10_000
    cc.on_ack(8_500, 0.2, None)  # 1500 + 8500 = one full cwnd
    assert cc.cwnd == 11_000


def test_congestion_avoidance_adds_one_segment_per_rtt():
    cc = NewReno(MSS, initial_cwnd=20_000, initial_ssthresh=20_000)
    now = 0.0
    for expected in (21_000, 22_000, 23_000, 24_000):
        now = one_rtt(cc, now, 0.1)
        assert cc.cwnd == expected


def test_congestion_avoidance_byte_counting_is_independent_of_ack_size():
    small = NewReno(MSS, initial_cwnd=20_000, initial_ssthresh=20_000)
    big = NewReno(MSS, initial_cwnd=20_000, initial_ssthresh=20_000)
    for _ in range(40):
        small.on_ack(500, 0.0, None)
    for _ in range(5):
        big.on_ack(4_000, 0.0, None)
    assert small.cwnd == big.cwnd == 21_000


def test_loss_halves_flight_size_and_cwnd_equals_ssthresh():
    cc = NewReno(MSS, initial_cwnd=40_000)
    cc.on_congestion(flight_size=30_000, now=1.0)
    assert cc.ssthresh == 15_000  # RFC 5681 eq. (4)
    assert cc.cwnd == 15_000
    cc.on_congestion(flight_size=1_500, now=2.0)
    assert cc.ssthresh == cc.cwnd == 2 * MSS  # floor of 2 SMSS


def test_timeout_collapses_to_one_segment():
    cc = NewReno(MSS, initial_cwnd=40_000)
    cc.on_timeout(flight_size=40_000, now=1.0)
    assert cc.cwnd == MSS and cc.ssthresh == 20_000
    # the same segment times out again: ssthresh held (RFC 5681 §3.1)
    cc.on_timeout(flight_size=MSS, now=3.0)
    assert cc.cwnd == MSS and cc.ssthresh == 20_000
    # slow start again after the retransmission is acknowledged
    cc.on_ack(MSS, 3.1, None)
    assert cc.cwnd == 2 * MSS
    cc.on_timeout(flight_size=4 * MSS, now=6.0)
    assert cc.ssthresh == 2 * MSS


def test_newreno_fast_recovery_inflation_and_partial_ack_deflation():
    cc = NewReno(MSS, initial_cwnd=20_000)
    cc.on_congestion(flight_size=20_000, now=1.0)
    cc.inflate(3 * MSS)  # RFC 5681 §3.2 step 4 (the three duplicate ACKs)
    assert cc.cwnd == 13_000
    cc.inflate(MSS)  # one more duplicate ACK
    assert cc.cwnd == 14_000
    # RFC 6582 §3.2 step 5: a partial ACK of 2500 bytes deflates by 2500, adds back 1 SMSS
    cc.partial_ack(2_500)
    assert cc.cwnd == 14_000 - 2_500 + MSS
    # a partial ACK of less than one SMSS only deflates
    cc.partial_ack(400)
    assert cc.cwnd == 12_500 - 400
    cc.partial_ack(1_000_000)
    assert cc.cwnd == MSS  # never below one segment


def test_recovery_exit_sets_cwnd_to_min_of_ssthresh_and_flight_plus_one_segment():
    cc = NewReno(MSS, initial_cwnd=20_000)
    cc.on_congestion(flight_size=20_000, now=1.0)
    cc.inflate(5 * MSS)
    cc.on_recovery_exit(flight_size=4_000, now=1.5)
    assert cc.cwnd == 5_000  # RFC 6582 §3.2 step 6 (1): FlightSize + SMSS
    cc.on_recovery_exit(flight_size=30_000, now=1.5)
    assert cc.cwnd == 10_000  # ... but never above ssthresh
    cc.on_recovery_exit(flight_size=0, now=1.5)
    assert cc.cwnd == 2 * MSS  # max(FlightSize, SMSS) + SMSS


def test_idle_restart_limits_cwnd_to_initial_window_after_an_rto():
    cc = NewReno(MSS, initial_cwnd=50_000)
    assert not cc.on_idle_restart(now=5.0, rto=1.0)  # never acknowledged: nothing to do
    cc.on_ack(MSS, 1.0, 0.05)
    assert not cc.on_idle_restart(now=1.9, rto=1.0)
    assert cc.cwnd > initial_window(MSS)
    assert cc.on_idle_restart(now=2.5, rto=1.0)
    assert cc.cwnd == initial_window(MSS)
    small = NewReno(MSS, initial_cwnd=3 * MSS)
    small.on_ack(MSS, 0.0, None)
    assert small.on_idle_restart(now=10.0, rto=1.0)
    assert small.cwnd == 4 * MSS  # min(IW, cwnd) never raises cwnd


# -- CUBIC ----------------------------------------------------------------------------

C, BETA = 0.4, 0.7


def w_cubic(t: float, k: float, w_max_segments: float) -> float:
    """RFC 9438 eq. (1), in segments."""
    return C * (t - k) ** 3 + w_max_segments


def cubic_after_loss(w_max_segments: int, **kwargs) -> Cubic:
    """A CUBIC flow that lost at W_max and finished recovery at beta * W_max."""
    cc = Cubic(MSS, initial_cwnd=w_max_segments * MSS, **kwargs)
    cc.on_congestion(flight_size=w_max_segments * MSS, now=0.0)
    cc.on_recovery_exit(flight_size=cc.cwnd, now=0.0)
    return cc


def test_cubic_multiplicative_decrease_uses_beta_0_7():
    cc = Cubic(MSS, initial_cwnd=100 * MSS)
    cc.on_congestion(flight_size=100 * MSS, now=0.0)
    assert cc.ssthresh == cc.cwnd == 70 * MSS  # RFC 9438 §4.6
    assert cc.w_max == 100 * MSS and cc.cwnd_prior == 100 * MSS
    cc.on_congestion(flight_size=2 * MSS, now=1.0)
    assert cc.ssthresh == 2 * MSS


def test_cubic_k_is_the_time_to_return_to_w_max():
    cc = cubic_after_loss(100)
    cc.on_ack(MSS, 1.0, 0.1)  # the first ACK of congestion avoidance starts the epoch
    k = ((100 - 70) / C) ** (1 / 3)  # RFC 9438 eq. (2): cubic_root((W_max - cwnd_epoch) / C)
    assert k == pytest.approx(4.2172, abs=1e-4)
    assert cc.k == pytest.approx(k)
    assert cc.epoch_start == 1.0 and cc.cwnd_epoch == 70 * MSS
    assert cc.w_cubic(0.0) == pytest.approx(70 * MSS)
    assert cc.w_cubic(k) == pytest.approx(100 * MSS)


def test_cubic_per_ack_growth_matches_the_rfc_formulas():
    cc = cubic_after_loss(100)
    alpha = 3 * (1 - BETA) / (1 + BETA)
    k = ((100 - 70) / C) ** (1 / 3)
    # First ACK at t = 0: W_cubic(0) = 70 segments < W_est, so Reno-friendly: cwnd = W_est
    cc.on_ack(MSS, 10.0, 0.1)
    w_est = 70_000 + alpha * MSS * MSS / 70_000
    assert cc.cwnd == math.floor(w_est)
    # Second ACK at t = 0.5 s: W_cubic(0.5) > W_est, so grow towards W_cubic(t + RTT)
    cwnd = w_est
    w_est += alpha * MSS * MSS / cwnd
    assert w_cubic(0.5, k, 100) * MSS > w_est
    target = min(max(w_cubic(0.5 + 0.1, k, 100) * MSS, cwnd), 1.5 * cwnd)
    expected = cwnd + (target - cwnd) / cwnd * MSS
    cc.on_ack(MSS, 10.5, 0.1)
    assert cc.cwnd == math.floor(expected)
    assert cc.w_est == pytest.approx(w_est)


def test_cubic_window_follows_the_cubic_curve_after_a_loss():
    rtt = 0.1
    cc = cubic_after_loss(100)
    k = ((100 - 70) / C) ** (1 / 3)
    now = 0.0
    cc.on_ack(MSS, now, rtt)  # epoch starts at t = 0
    checked = 0
    while now < k + 1.5:
        now = one_rtt(cc, now, rtt)
        # after each round trip, cwnd has reached about W_cubic(t) (it aimed at t + RTT
        # one RTT ago), between the concave approach and the convex probe
        expected = w_cubic(now, k, 100) * MSS
        assert cc.cwnd == pytest.approx(expected, rel=0.002), now
        checked += 1
    assert checked >= 55
    # concave below W_max before K, at W_max around K, convex above after K
    assert cc.cwnd > 100 * MSS


def test_cubic_plateau_is_flat_around_w_max():
    rtt = 0.1
    cc = cubic_after_loss(100)
    k = ((100 - 70) / C) ** (1 / 3)
    now = 0.0
    cc.on_ack(MSS, now, rtt)
    window_at = {}
    while now < k + 0.35:
        now = one_rtt(cc, now, rtt)
        window_at[round(now, 1)] = cc.cwnd
    near_k = [w for t, w in window_at.items() if abs(t - k) < 0.35]
    assert max(near_k) - min(near_k) <= 2 * MSS  # growth stalls near W_max
    early = window_at[0.1], window_at[0.6]
    assert early[1] - early[0] > 5 * MSS  # but it was fast just after the loss


def test_cubic_fast_convergence_lowers_w_max_when_losing_below_it():
    cc = Cubic(MSS, initial_cwnd=100 * MSS)
    cc.on_congestion(flight_size=100 * MSS, now=0.0)
    assert cc.w_max == 100 * MSS
    cc.cwnd = 80 * MSS  # lost again before regaining W_max
    cc.on_congestion(flight_size=80 * MSS, now=5.0)
    assert cc.w_max == pytest.approx(80 * MSS * (1 + BETA) / 2)  # RFC 9438 §4.7
    assert cc.ssthresh == 56 * MSS

    plain = Cubic(MSS, initial_cwnd=100 * MSS, fast_convergence=False)
    plain.on_congestion(flight_size=100 * MSS, now=0.0)
    plain.cwnd = 80 * MSS
    plain.on_congestion(flight_size=80 * MSS, now=5.0)
    assert plain.w_max == 80 * MSS


def test_cubic_k_after_fast_convergence():
    cc = Cubic(MSS, initial_cwnd=100 * MSS)
    cc.on_congestion(flight_size=100 * MSS, now=0.0)
    cc.cwnd = 80 * MSS
    cc.on_congestion(flight_size=80 * MSS, now=5.0)
    cc.on_recovery_exit(flight_size=56 * MSS, now=5.1)
    cc.on_ack(MSS, 5.2, 0.05)
    assert cc.k == pytest.approx(((68 - 56) / C) ** (1 / 3))


def test_cubic_is_reno_friendly_at_short_rtt():
    rtt = 0.001
    cc = cubic_after_loss(20)  # W_max = 20 segments, cwnd 14 segments, K ~ 2.47 s
    k = ((20 - 14) / C) ** (1 / 3)
    alpha_cubic = 3 * (1 - BETA) / (1 + BETA)
    w_est = 14.0 * MSS  # RFC 9438 §4.3: W_est starts at cwnd_epoch
    now = 0.0
    rtts = 0
    per_rtt = []
    while now < 0.2:
        before = cc.cwnd
        acks = cc.cwnd // MSS
        for n in range(acks):
            t = now + (n + 1) * rtt / acks
            # eq. (4): W_est += alpha * segments_acked / cwnd, alpha = 1 once W_est >= cwnd_prior
            alpha = 1.0 if w_est >= 20 * MSS else alpha_cubic
            w_est += alpha * MSS * MSS / w_est
            cc.on_ack(MSS, t, rtt)
            assert w_cubic(t, k, 20) * MSS < w_est  # the Reno-friendly region throughout
            assert cc.cwnd == math.floor(w_est)
        now += rtt
        rtts += 1
        per_rtt.append((cc.cwnd - before) / MSS)
    # AIMD growth: ~0.53 segment per RTT until W_est reaches cwnd_prior, then ~1 like Reno
    assert per_rtt[0] == pytest.approx(alpha_cubic, abs=0.05)
    assert all(0.9 <= g <= 1.1 for g in per_rtt[20:])
    assert cc.cwnd > 150 * MSS


def test_cubic_after_timeout_starts_a_convex_curve_from_the_new_window():
    cc = Cubic(MSS, initial_cwnd=100 * MSS)
    cc.on_timeout(flight_size=100 * MSS, now=0.0)
    assert cc.cwnd == MSS and cc.ssthresh == 70 * MSS  # RFC 9438 §4.8
    now = 0.0
    while cc.cwnd < cc.ssthresh:
        now = one_rtt(cc, now, 0.1)  # slow start
    cc.on_ack(MSS, now, 0.1)  # congestion avoidance from here
    assert cc.k == 0.0 and cc.w_max == cc.cwnd_epoch == 70 * MSS
    assert cc.w_cubic(1.0) == pytest.approx(70 * MSS + C * MSS)


def test_cubic_first_avoidance_without_loss_uses_k_zero():
    cc = Cubic(MSS, initial_cwnd=10 * MSS, initial_ssthresh=10 * MSS)
    cc.on_ack(MSS, 0.0, 0.05)
    assert cc.k == 0.0 and cc.w_max == 10 * MSS


def test_cubic_slow_start_is_standard():
    cc = Cubic(MSS)
    one_rtt(cc, 0.0, 0.1)
    assert cc.cwnd == 20_000
