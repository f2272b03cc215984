"""The token bucket that paces a bulk send: segments per second, smooth, never faster on average."""

from __future__ import annotations

import itertools
import random

import pytest

from airflow_provider_signalwire.operators.bulk_pacing import TokenBucket, wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def send_all(bucket: TokenBucket, clock: FakeClock, costs: list[int]) -> list[float]:
    times = []
    for cost in costs:
        wait_for(bucket, cost, lambda: None, clock.sleep)
        times.append(clock.now)
    return times


def test_messages_leave_evenly_at_the_rate():
    clock = FakeClock()

    times = send_all(TokenBucket(4, clock=clock), clock, [1] * 9)

    assert [round(t - times[0], 6) for t in times] == [i * 0.25 for i in range(9)]


def test_a_long_text_takes_one_token_per_segment():
    clock = FakeClock()

    times = send_all(TokenBucket(4, clock=clock), clock, [3, 1, 1])

    assert round(times[1] - times[0], 6) == 0.75, "three segments are three messages of the rate"
    assert round(times[2] - times[1], 6) == 0.25


@pytest.mark.parametrize("rate", [1, 3, 10, 50])
def test_the_average_rate_is_the_rate_whatever_the_segments(rate):
    clock, costs = FakeClock(), [random.Random(7).choice([1, 1, 2, 3, 5]) for _ in range(500)]

    times = send_all(TokenBucket(rate, clock=clock), clock, costs)

    segments_after_the_first = sum(costs[1:])
    assert times[-1] - times[0] == pytest.approx((segments_after_the_first - (1 - costs[0])) / rate, rel=0.02)


def test_an_idle_spell_buys_no_burst():
    clock = FakeClock()
    bucket = TokenBucket(2, clock=clock)
    send_all(bucket, clock, [1])
    clock.sleep(60)

    times = send_all(bucket, clock, [1, 1, 1])

    assert [round(t - times[0], 6) for t in times] == [0, 0.5, 1.0]


def test_waiting_reports_at_least_once_a_second():
    clock, ticks = FakeClock(), []
    bucket = TokenBucket(0.1, clock=clock)  # one segment every 10 s
    wait_for(bucket, 1, lambda: None, clock.sleep)

    wait_for(bucket, 1, lambda: ticks.append(clock.now), clock.sleep)

    assert len(ticks) >= 10 and all(b - a <= 1.0 for a, b in itertools.pairwise(ticks))


def test_a_late_wake_up_is_caught_up_within_the_burst():
    # A busy machine wakes the sender 30 ms late each time: with a fifth of a second of catch-up the average holds.
    clock = FakeClock()
    bucket = TokenBucket(50, burst=10, clock=clock)

    def late_sleep(seconds: float) -> None:
        clock.sleep(seconds + 0.03)

    start = clock.now
    for _ in range(500):
        wait_for(bucket, 1, lambda: None, late_sleep)
        clock.sleep(0.002)  # the request

    assert 499 / (clock.now - start) == pytest.approx(50, rel=0.05)
    assert TokenBucket(50, clock=clock).burst == 1, "without catch-up it stays strictly even"
